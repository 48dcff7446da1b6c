/*
 * test_files.c - the web module's static files (src/web/): which names may
 * be served (one segment, no leading dot, a served extension), what is read
 * (the file as it is, typed by its extension) and what is refused (missing
 * files, directories, symlinks, files over the limit or holding a NUL
 * byte, a symlinked directory on the way); binary files (images, fonts:
 * NUL bytes allowed, a larger limit); files one directory down; and the
 * module's settings (root relative to the home, must be a directory,
 * clients, no unknown key) and its routes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "node/module.h"
#include "web/web.h"

static char root[512];

static void put(const char *rel, const char *text, size_t len) {
  char path[700];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  qp_test_tmpdir(root, sizeof root);
  char path[600];
  snprintf(path, sizeof path, "%s/app", root);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/app/sub.html", root);
  assert_int_equal(mkdir(path, 0700), 0);
  put("app/index.html", "<p>hi</p>", 9);
  put("app/app.js", "export {};", 10);
  put("app/nul.txt", "a\0b", 3);
  put("secret.txt", "outside", 7);
  snprintf(path, sizeof path, "%s/app/icons", root);
  assert_int_equal(mkdir(path, 0700), 0);
  put("app/icons/a.png", "\x89PNG\0\1", 6);
  put("app/icons/site.webmanifest", "{}", 2);
  snprintf(path, sizeof path, "%s/clients", root);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/clients/js", root);
  assert_int_equal(mkdir(path, 0700), 0);
  char target[600];
  snprintf(target, sizeof target, "%s", root); /* app/up -> the root: a symlinked directory */
  snprintf(path, sizeof path, "%s/app/up", root);
  assert_int_equal(symlink(target, path), 0);
  snprintf(target, sizeof target, "%s/secret.txt", root);
  snprintf(path, sizeof path, "%s/app/link.txt", root);
  assert_int_equal(symlink(target, path), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  qp_test_rmdir(root);
  return 0;
}

static void test_names(void **state) {
  (void)state;
  assert_true(qp_web_name_ok("index.html"));
  assert_true(qp_web_name_ok("auth-demo"));
  assert_true(qp_web_name_ok("a_b.C9.js"));
  const char *bad[] = {"", ".", "..", ".hidden.js", "a/b.js", "a\\b.js", "%2e%2e", "a b.js",
                       "é.js", "a\n.js"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(qp_web_name_ok(bad[i]));
  char long_name[QP_WEB_NAME_MAX + 2];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  assert_false(qp_web_name_ok(long_name));
  long_name[QP_WEB_NAME_MAX] = '\0';
  assert_true(qp_web_name_ok(long_name));
}

static void test_types(void **state) {
  (void)state;
  assert_string_equal(qp_web_content_type("index.html"), "text/html; charset=utf-8");
  assert_string_equal(qp_web_content_type("app.js"), "text/javascript; charset=utf-8");
  assert_string_equal(qp_web_content_type("x.css"), "text/css; charset=utf-8");
  assert_string_equal(qp_web_content_type("x.json"), "application/json");
  assert_null(qp_web_content_type(".js"));
  assert_null(qp_web_content_type("app.js.bak"));
  assert_null(qp_web_content_type("index"));
  assert_null(qp_web_content_type("x.gif"));
  assert_string_equal(qp_web_content_type("x.png"), "image/png");
  assert_string_equal(qp_web_content_type("x.ico"), "image/x-icon");
  assert_string_equal(qp_web_content_type("x.webp"), "image/webp");
  assert_string_equal(qp_web_content_type("x.woff2"), "font/woff2");
  assert_string_equal(qp_web_content_type("m.webmanifest"), "application/manifest+json");
  assert_true(qp_web_binary("x.png") && qp_web_binary("f.woff2"));
  assert_false(qp_web_binary("x.svg") || qp_web_binary("x.webmanifest") || qp_web_binary("x"));
}

static int read3(const char *a, const char *b, const char *c, qp_web_file_t *f) {
  const char *names[] = {a, b, c};
  char detail[256] = "";
  return qp_web_read(root, names, 3, f, detail, sizeof detail);
}

static void test_nested_and_binary(void **state) {
  (void)state;
  qp_web_file_t f, g;
  assert_int_equal(read3("app", "icons", "a.png", &f), 0);
  assert_int_equal(f.len, 6);
  assert_memory_equal(f.body, "\x89PNG\0\1", 6);
  assert_string_equal(f.type, "image/png");
  assert_true(f.etag[0] == '"' && f.etag[strlen(f.etag) - 1] == '"' && strlen(f.etag) > 6);
  assert_int_equal(read3("app", "icons", "a.png", &g), 0);
  assert_string_equal(f.etag, g.etag); /* unchanged file, same ETag */
  qp_free(f.body);
  qp_free(g.body);
  assert_int_equal(read3("app", "icons", "site.webmanifest", &f), 0);
  assert_string_equal(f.type, "application/manifest+json");
  qp_free(f.body);
  assert_int_equal(read3("app", "up", "secret.txt", &f), QP_ENOTFOUND); /* symlinked dir */
  assert_null(f.body);
  assert_int_equal(read3("app", "..", "secret.txt", &f), QP_ENOTFOUND);
  assert_int_equal(read3("app", "icons", "missing.png", &f), QP_ENOTFOUND);
  assert_int_equal(read3("app", "index.html", "a.png", &f), QP_ENOTFOUND); /* not a dir */
  const char *one[] = {"secret.txt"};
  char detail[256];
  assert_int_equal(qp_web_read(root, one, 1, &f, detail, sizeof detail), 0);
  qp_free(f.body);
  assert_int_equal(qp_web_read(root, one, 0, &f, detail, sizeof detail), QP_ENOTFOUND);
  char path[600];
  snprintf(path, sizeof path, "%s/app/icons/big.png", root);
  int fd = open(path, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, QP_WEB_FILE_BYTES_MAX + 1), 0); /* a binary may be larger */
  close(fd);
  assert_int_equal(read3("app", "icons", "big.png", &f), 0);
  assert_int_equal(f.len, QP_WEB_FILE_BYTES_MAX + 1);
  qp_free(f.body);
  assert_int_equal(truncate(path, QP_WEB_BINARY_BYTES_MAX + 1), 0);
  assert_int_equal(read3("app", "icons", "big.png", &f), QP_ELIMIT);
  assert_null(f.body);
}

static int read_one(const char *app, const char *file, char **body, const char **type) {
  char detail[256] = "";
  *body = NULL;
  *type = NULL;
  return qp_web_file_read(root, app, file, body, type, detail, sizeof detail);
}

static void test_reads_what_is_allowed(void **state) {
  (void)state;
  char *body;
  const char *type;
  assert_int_equal(read_one("app", "index.html", &body, &type), 0);
  assert_string_equal(body, "<p>hi</p>");
  assert_string_equal(type, "text/html; charset=utf-8");
  qp_free(body);
  assert_int_equal(read_one("app", "app.js", &body, &type), 0);
  assert_string_equal(body, "export {};");
  qp_free(body);
}

static void test_refuses_the_rest(void **state) {
  (void)state;
  char *body;
  const char *type;
  assert_int_equal(read_one("app", "missing.html", &body, &type), QP_ENOTFOUND);
  assert_int_equal(read_one("..", "secret.txt", &body, &type), QP_ENOTFOUND);
  assert_int_equal(read_one("app", "../secret.txt", &body, &type), QP_ENOTFOUND);
  assert_int_equal(read_one("app", "link.txt", &body, &type), QP_ENOTFOUND); /* symlink */
  assert_int_equal(read_one("app", "sub.html", &body, &type), QP_ENOTFOUND); /* directory */
  assert_int_equal(read_one("app", "nul.txt", &body, &type), QP_ELIMIT);
  assert_int_equal(read_one("nope", "index.html", &body, &type), QP_ENOTFOUND);
  assert_null(body);
  assert_null(type);
  char path[600];
  snprintf(path, sizeof path, "%s/app/big.txt", root);
  int fd = open(path, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, QP_WEB_FILE_BYTES_MAX + 1), 0);
  close(fd);
  assert_int_equal(read_one("app", "big.txt", &body, &type), QP_ELIMIT);
  assert_null(body);
}

static int open_web(const char *settings_text, void **st, char *detail, size_t size) {
  const qp_module_t *m = qp_node_module_find("web");
  assert_non_null(m);
  qp_http_options_t http;
  qp_http_options_default(&http);
  qp_node_env_t env = {.home = root, .data_dir = root, .http = &http, .server = NULL};
  json_t *settings = settings_text != NULL ? json_loads(settings_text, 0, NULL) : NULL;
  detail[0] = '\0';
  int rc = m->open(&env, settings, st, detail, size);
  json_decref(settings);
  return rc;
}

static void test_module_settings(void **state) {
  (void)state;
  const qp_module_t *m = qp_node_module_find("web");
  void *st = NULL;
  char detail[512];
  assert_int_equal(open_web("{\"root\": \"app\"}", &st, detail, sizeof detail), 0);
  const qp_http_module_t *http = m->routes(st);
  assert_int_equal(http->routes_count, 18);
  assert_string_equal(http->routes[0].pattern, "/web/{app}/{file}");
  assert_string_equal(http->routes[1].pattern, "/clients/js/{file}");
  const char *want[] = {"/wallet/", "/shop/{file}", "/console/{dir}/{file}", "/common"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    size_t hits = 0;
    for (size_t r = 0; r < http->routes_count; r++)
      hits += strcmp(http->routes[r].pattern, want[i]) == 0;
    assert_int_equal(hits, 1);
  }
  for (size_t r = 0; r < http->routes_count; r++) {
    assert_string_equal(http->routes[r].method, "GET");
    assert_true(http->routes[r].public_route);
  }
  m->close(st);
  assert_int_equal(open_web("{\"root\": \"app\", \"clients\": \"clients/js\"}", &st, detail,
                            sizeof detail), 0);
  m->close(st);
  assert_int_equal(open_web("{\"root\": \"app\", \"clients\": \"nope\"}", &st, detail,
                            sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "modules.web.clients"));
  assert_int_equal(open_web(NULL, &st, detail, sizeof detail), QP_EINVAL); /* <home>/web */
  assert_non_null(strstr(detail, "modules.web.root"));
  assert_int_equal(open_web("{\"root\": \"app/index.html\"}", &st, detail, sizeof detail),
                   QP_EINVAL);
  assert_non_null(strstr(detail, "is not a directory"));
  assert_int_equal(open_web("{\"root\": 7}", &st, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "modules.web.root must be"));
  assert_int_equal(open_web("{\"dir\": \"app\"}", &st, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "unknown key modules.web.dir; allowed: root, clients"));
}

/* The served fragment is the JSON source's copy (scripts/gen-openapi.sh). */
static void test_openapi_copy(void **state) {
  (void)state;
  json_error_t jerr;
  json_t *src = json_load_file("src/web/openapi.json", 0, &jerr);
  json_t *copy = json_loads(qp_web_openapi_json, 0, &jerr);
  assert_non_null(src);
  assert_non_null(copy);
  assert_true(json_equal(src, copy));
  assert_non_null(json_object_get(json_object_get(copy, "paths"), "/web/{app}/{file}"));
  assert_non_null(json_object_get(json_object_get(copy, "paths"), "/{app}/{dir}/{file}"));
  assert_non_null(json_object_get(json_object_get(copy, "paths"), "/clients/js/{file}"));
  json_decref(src);
  json_decref(copy);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_reads_what_is_allowed),
      cmocka_unit_test(test_refuses_the_rest),
      cmocka_unit_test(test_nested_and_binary),
      cmocka_unit_test(test_module_settings),
      cmocka_unit_test(test_openapi_copy),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
