/*
 * test_server.c - the HTTP core as a module sees it, over real HTTP on
 * loopback (libcurl): a test module registers routes with named segments,
 * a scope and a per-route body limit; the core routes by specificity,
 * answers 404/405 with Allow, 401 without a key, 403 without the scope,
 * 413 past the route's limit, 415 without JSON, hands the handler its
 * parameters, query and body, counts every answer per route in /metrics,
 * refuses a route two modules both claim, and has no cap on routes.  A
 * key's limits: an expired key gets 401 key_expired, a rate-limited one 429
 * rate_limited with Retry-After, and a handler sees the caller's key id
 * and ledgers through the accessors.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "http/http.h"

#define ROUTES_MANY 100u /* more than the old server's cap of 16 */

/* Echoes what the core handed over: "<tag> <param> <header> <body>". */
static void echo(void *ctx, qp_http_request_t *req, qp_http_reply_t *r, const char *tag) {
  (void)ctx;
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  const char *name = qp_http_param(req, "name");
  const char *header = qp_http_header(req, "X-Test");
  char *text = qp_malloc(512);
  assert_non_null(text);
  snprintf(text, 512, "%s %s %s %.*s", tag, name ? name : "-", header ? header : "-", (int)len,
           body ? body : "");
  qp_http_reply_text(r, 200, text, "text/plain");
}

static void get_thing(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  echo(ctx, req, r, "thing");
}
static void get_special(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  echo(ctx, req, r, "special");
}
static void post_thing(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  echo(ctx, req, r, "posted");
}
static void numbered(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  echo(ctx, req, r, "numbered");
}

/* "<key id> <restricted> <7 allowed> <8 allowed>", from the accessors. */
static void whoami(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  (void)ctx;
  char *text = qp_malloc(128);
  assert_non_null(text);
  snprintf(text, 128, "[%s] %d %d %d", qp_http_caller_key_id(req),
           qp_http_caller_ledgers_restricted(req), qp_http_caller_ledger_allowed(req, 7),
           qp_http_caller_ledger_allowed(req, 8));
  qp_http_reply_text(r, 200, text, "text/plain");
}

/* A pattern with a trailing slash, and extra reply headers. */
static void slash(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  echo(ctx, req, r, "slash");
  assert_int_equal(qp_http_reply_header(r, "X-Extra", "one two"), 0);
  assert_int_equal(qp_http_reply_header(r, "X-Bad", "a\r\nX-Injected: 1"), QP_EINVAL);
  for (uint32_t i = 1; i < QP_HTTP_REPLY_HEADERS_MAX; i++)
    assert_int_equal(qp_http_reply_header(r, "X-More", "m"), 0);
  assert_int_equal(qp_http_reply_header(r, "X-Past", "p"), QP_ENOMEM); /* past the max */
}

static const qp_http_route_t ROUTES[] = {
    {"GET", "/v1/things/", "things:read", false, 0, slash},
    {"GET", "/v1/things/{name}", "things:read", false, 0, get_thing},
    {"GET", "/v1/things/special", "things:read", false, 0, get_special},
    {"POST", "/v1/things/{name}", "things:write", false, 16, post_thing},
    {"GET", "/v1/whoami", NULL, false, 0, whoami},
};
#define ROUTES_COUNT ((uint32_t)(sizeof ROUTES / sizeof ROUTES[0]))

typedef struct fixture {
  char dir[256];             /* data dir with the keys */
  qp_http_server_t *server;  /* listening on a free port */
  char reader[QP_HTTP_KEY_TEXT_SIZE]; /* things:read */
  char writer[QP_HTTP_KEY_TEXT_SIZE]; /* things:write */
  char limited[QP_HTTP_KEY_TEXT_SIZE]; /* ledgers 7 and 9, 1 request/s, burst 2 */
  char expired[QP_HTTP_KEY_TEXT_SIZE]; /* expired in 1970 */
  qp_http_module_t module;   /* the test module */
  qp_http_route_t many[ROUTES_MANY]; /* /v1/n/0 … */
  char patterns[ROUTES_MANY][32]; /* their storage */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = qp_calloc(1, sizeof *f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  char detail[256];
  assert_int_equal(qp_http_keys_create(f->dir, "r", "things:read", f->reader, NULL, detail,
                                       sizeof detail), 0);
  assert_int_equal(qp_http_keys_create(f->dir, "w", "things:write", f->writer, NULL, detail,
                                       sizeof detail), 0);
  qp_http_key_limits_t l = {.ledgers = {7, 9}, .ledgers_count = 2, .rate_per_s = 1, .burst = 2};
  assert_int_equal(qp_http_keys_create_limited(f->dir, "l", "things:read", &l, f->limited, NULL,
                                               detail, sizeof detail),
                   0);
  l = (qp_http_key_limits_t){.expires_s = 1000};
  assert_int_equal(qp_http_keys_create_limited(f->dir, "e", "things:read", &l, f->expired, NULL,
                                               detail, sizeof detail),
                   0);
  qp_http_options_t o;
  qp_http_options_default(&o);
  o.listen = "127.0.0.1:0";
  assert_int_equal(qp_http_server_create(f->dir, &o, &f->server, detail, sizeof detail), 0);
  f->module = (qp_http_module_t){.name = "things", .routes = ROUTES, .routes_count = ROUTES_COUNT};
  assert_int_equal(qp_http_server_add(f->server, &f->module, detail, sizeof detail), 0);
  static qp_http_module_t many;
  for (uint32_t i = 0; i < ROUTES_MANY; i++) {
    snprintf(f->patterns[i], sizeof f->patterns[i], "/v1/n/%u", i);
    f->many[i] = (qp_http_route_t){"GET", f->patterns[i], NULL, false, 0, numbered};
  }
  many = (qp_http_module_t){.name = "many", .routes = f->many, .routes_count = ROUTES_MANY};
  assert_int_equal(qp_http_server_add(f->server, &many, detail, sizeof detail), 0);
  assert_int_equal(qp_http_server_start(f->server, detail, sizeof detail), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_http_server_destroy(f->server);
  qp_test_rmdir(f->dir);
  qp_free(f);
  return 0;
}

typedef struct answer {
  long status;      /* HTTP status */
  char body[65536]; /* first bytes of the body */
  size_t len;       /* bytes in body */
  char allow[64];   /* Allow header */
  char retry_after[16]; /* Retry-After header */
  char extra[64];       /* X-Extra header */
  int injected;         /* an X-Injected header came */
} answer_t;

static size_t on_body(char *data, size_t size, size_t n, void *ctx) {
  answer_t *a = ctx;
  size_t take = size * n;
  if (take > sizeof a->body - 1 - a->len) take = sizeof a->body - 1 - a->len;
  memcpy(a->body + a->len, data, take);
  a->len += take;
  a->body[a->len] = '\0';
  return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx) {
  answer_t *a = ctx;
  if (size * n > 7 && strncmp(data, "Allow: ", 7) == 0)
    snprintf(a->allow, sizeof a->allow, "%.*s", (int)(size * n - 9), data + 7);
  if (size * n > 13 && strncmp(data, "Retry-After: ", 13) == 0)
    snprintf(a->retry_after, sizeof a->retry_after, "%.*s", (int)(size * n - 15), data + 13);
  if (size * n > 9 && strncmp(data, "X-Extra: ", 9) == 0)
    snprintf(a->extra, sizeof a->extra, "%.*s", (int)(size * n - 11), data + 9);
  if (size * n > 12 && strncmp(data, "X-Injected: ", 12) == 0) a->injected = 1;
  return size * n;
}

/* method, path, key (NULL = none), body (NULL = none), content type. */
static answer_t call(fixture_t *f, const char *method, const char *path, const char *key,
                     const char *body, const char *type) {
  static answer_t a;
  memset(&a, 0, sizeof a);
  CURL *c = curl_easy_init();
  char url[256], auth[160], ct[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", qp_http_server_port(f->server), path);
  struct curl_slist *h = curl_slist_append(NULL, "X-Test: yes");
  if (key != NULL) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    h = curl_slist_append(h, auth);
  }
  if (type != NULL) {
    snprintf(ct, sizeof ct, "Content-Type: %s", type);
    h = curl_slist_append(h, ct);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body != NULL) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return a;
}

static void test_routing_and_params(void **state) {
  fixture_t *f = *state;
  answer_t a = call(f, "GET", "/v1/things/apple", f->reader, NULL, NULL);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.body, "thing apple yes ");
  a = call(f, "GET", "/v1/things/special", f->reader, NULL, NULL);
  assert_string_equal(a.body, "special - yes "); /* the literal pattern wins */
  a = call(f, "GET", "/v1/n/99", f->reader, NULL, NULL);
  assert_int_equal(a.status, 200);
  a = call(f, "GET", "/v1/things", f->reader, NULL, NULL);
  assert_int_equal(a.status, 404);
  assert_non_null(strstr(a.body, "\"not_found\""));
  a = call(f, "DELETE", "/v1/things/apple", f->reader, NULL, NULL);
  assert_int_equal(a.status, 405);
  assert_string_equal(a.allow, "GET, POST");
  a = call(f, "GET", "/v1/things//", f->reader, NULL, NULL);
  assert_int_equal(a.status, 404); /* an empty segment is not a name */
  a = call(f, "GET", "/v1/things/", f->reader, NULL, NULL);
  assert_int_equal(a.status, 200); /* a pattern may end with "/" */
  assert_string_equal(a.body, "slash - yes ");
  assert_string_equal(a.extra, "one two");
  assert_false(a.injected);
}

static void test_keys_scopes_and_limits(void **state) {
  fixture_t *f = *state;
  answer_t a = call(f, "GET", "/v1/things/apple", NULL, NULL, NULL);
  assert_int_equal(a.status, 401);
  a = call(f, "GET", "/v1/things/apple", "qpk_0000000000000000_00", NULL, NULL);
  assert_int_equal(a.status, 401);
  a = call(f, "GET", "/v1/things/apple", f->writer, NULL, NULL);
  assert_int_equal(a.status, 403);
  assert_non_null(strstr(a.body, "things:read"));
  a = call(f, "POST", "/v1/things/pear", f->writer, "{\"a\":1}", "application/json");
  assert_int_equal(a.status, 200);
  assert_string_equal(a.body, "posted pear yes {\"a\":1}");
  a = call(f, "POST", "/v1/things/pear", f->writer, "{\"a\":\"0123456789\"}", "application/json");
  assert_int_equal(a.status, 413); /* the route's 16-byte limit */
  a = call(f, "POST", "/v1/things/pear", f->writer, "{}", "text/plain");
  assert_int_equal(a.status, 415);
}

static void test_key_limits(void **state) {
  fixture_t *f = *state;
  char want[64];
  answer_t a = call(f, "GET", "/v1/whoami", f->reader, NULL, NULL);
  snprintf(want, sizeof want, "[%.16s] 0 1 1", f->reader + 4);
  assert_string_equal(a.body, want);
  a = call(f, "GET", "/healthz", f->limited, NULL, NULL); /* public: not counted */
  a = call(f, "GET", "/v1/whoami", f->limited, NULL, NULL);
  snprintf(want, sizeof want, "[%.16s] 1 1 0", f->limited + 4);
  assert_string_equal(a.body, want);
  a = call(f, "GET", "/v1/things/fig", f->limited, NULL, NULL); /* the burst's second */
  assert_int_equal(a.status, 200);
  a = call(f, "GET", "/v1/whoami", f->limited, NULL, NULL);
  assert_int_equal(a.status, 429);
  assert_non_null(strstr(a.body, "\"code\":\"rate_limited\""));
  assert_string_equal(a.retry_after, "1");
  a = call(f, "GET", "/v1/whoami", f->expired, NULL, NULL);
  assert_int_equal(a.status, 401);
  assert_non_null(strstr(a.body, "\"code\":\"key_expired\""));
  assert_non_null(strstr(a.body, "1970-01-01T00:16:40Z"));
  a = call(f, "GET", "/metrics", NULL, NULL, NULL);
  snprintf(want, sizeof want, "quipu_http_rate_limited_total{key=\"%.16s\"} 1\n",
           f->limited + 4);
  assert_non_null(strstr(a.body, want));
}

static void test_metrics_per_route(void **state) {
  fixture_t *f = *state;
  call(f, "GET", "/v1/things/kiwi", f->reader, NULL, NULL);
  call(f, "GET", "/v1/things/kiwi", NULL, NULL, NULL);
  static answer_t a;
  a = call(f, "GET", "/metrics", NULL, NULL, NULL);
  assert_int_equal(a.status, 200);
  assert_true(a.len < sizeof a.body - 1);
  const char *ok = "quipu_http_requests_total{method=\"GET\",route=\"/v1/things/{name}\","
                   "status=\"200\"}";
  const char *denied = "quipu_http_requests_total{method=\"GET\",route=\"/v1/things/{name}\","
                       "status=\"401\"}";
  assert_non_null(strstr(a.body, ok));
  assert_non_null(strstr(a.body, denied));
  assert_non_null(strstr(a.body, "quipu_http_request_duration_seconds_count{method=\"GET\","
                                 "route=\"/v1/things/{name}\"}"));
  assert_non_null(strstr(a.body, "quipu_connections_open "));
}

static void test_duplicate_route_is_refused(void **state) {
  fixture_t *f = *state;
  (void)f;
  char dir[256], detail[256];
  qp_test_tmpdir(dir, sizeof dir);
  qp_http_options_t o;
  qp_http_options_default(&o);
  qp_http_server_t *s = NULL;
  assert_int_equal(qp_http_server_create(dir, &o, &s, detail, sizeof detail), 0);
  qp_http_module_t a = {.name = "a", .routes = ROUTES, .routes_count = 1};
  qp_http_module_t b = {.name = "b", .routes = ROUTES, .routes_count = 1};
  assert_int_equal(qp_http_server_add(s, &a, detail, sizeof detail), 0);
  assert_int_equal(qp_http_server_add(s, &b, detail, sizeof detail), QP_EEXISTS);
  assert_non_null(strstr(detail, "module a"));
  static const qp_http_route_t bad[] = {{"GET", "/v1/x/{", NULL, false, 0, get_thing}};
  qp_http_module_t c = {.name = "c", .routes = bad, .routes_count = 1};
  assert_int_equal(qp_http_server_add(s, &c, detail, sizeof detail), QP_EINVAL);
  qp_http_server_destroy(s);
  qp_test_rmdir(dir);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routing_and_params),
      cmocka_unit_test(test_keys_scopes_and_limits),
      cmocka_unit_test(test_key_limits),
      cmocka_unit_test(test_metrics_per_route),
      cmocka_unit_test(test_duplicate_route_is_refused),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  curl_global_cleanup();
  return rc;
}
