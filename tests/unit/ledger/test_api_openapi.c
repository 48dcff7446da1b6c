/*
 * test_api_openapi.c - the OpenAPI document a node serves and its routes
 * agree: a real HTTP server with the ledger's route set (no ledger behind
 * it: no handler runs) assembles the document from the core's base and the
 * ledger's fragment; every served route is an operation of the document
 * and every operation a served route; every $ref resolves; and the
 * embedded copies (src/http/openapi_base.c, src/ledger/openapi.c) are byte
 * for byte their JSON sources (run scripts/gen-openapi.sh after editing).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "test_util.h"
#include "base/err.h"
#include "http/http.h"
#include "ledger/api_int.h"

typedef struct served {
  char methods[64][8];   /* lower-case */
  char patterns[64][64]; /* as served */
  uint32_t count;        /* rows */
} served_t;

static void collect(void *ctx, const char *method, const char *pattern) {
  served_t *s = ctx;
  assert_true(s->count < 64);
  size_t i = 0;
  for (; method[i] && i < 7; i++) s->methods[s->count][i] = (char)tolower((unsigned char)method[i]);
  s->methods[s->count][i] = '\0';
  snprintf(s->patterns[s->count], sizeof s->patterns[0], "%s", pattern);
  s->count++;
}

static qp_http_server_t *start_server(char *dir, size_t size) {
  qp_test_tmpdir(dir, size);
  qp_http_options_t o;
  qp_http_options_default(&o);
  o.listen = "127.0.0.1:0";
  qp_http_server_t *s = NULL;
  char detail[256];
  assert_int_equal(qp_http_server_create(dir, &o, &s, detail, sizeof detail), 0);
  static qp_http_module_t ledger;
  uint32_t count = 0;
  ledger = (qp_http_module_t){.name = "ledger", .openapi = qp_ledger_openapi_json};
  ledger.routes = qp__ledger_routes(&count);
  ledger.routes_count = count;
  assert_int_equal(qp_http_server_add(s, &ledger, detail, sizeof detail), 0);
  int rc = qp_http_server_start(s, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "start: %s\n", detail);
  assert_int_equal(rc, 0);
  return s;
}

static bool is_served(const served_t *sv, const char *method, const char *path) {
  for (uint32_t i = 0; i < sv->count; i++)
    if (strcmp(sv->methods[i], method) == 0 && strcmp(sv->patterns[i], path) == 0) return true;
  return false;
}

/* Every "$ref": "#/components/<kind>/<name>" in v resolves in doc. */
static void check_refs(json_t *doc, json_t *v) {
  if (json_is_object(v)) {
    const char *key;
    json_t *child;
    json_object_foreach(v, key, child) {
      if (strcmp(key, "$ref") == 0 && json_is_string(child)) {
        char kind[64], name[64];
        assert_int_equal(sscanf(json_string_value(child), "#/components/%63[^/]/%63s", kind, name),
                         2);
        json_t *target = json_object_get(json_object_get(json_object_get(doc, "components"),
                                                         kind), name);
        if (target == NULL) fprintf(stderr, "unresolved $ref %s\n", json_string_value(child));
        assert_non_null(target);
      } else {
        check_refs(doc, child);
      }
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *child;
    json_array_foreach(v, i, child) check_refs(doc, child);
  }
}

static void test_routes_match_spec(void **state) {
  (void)state;
  char dir[256];
  qp_http_server_t *s = start_server(dir, sizeof dir);
  json_error_t jerr;
  json_t *spec = json_loads(qp_http_server_openapi(s), JSON_REJECT_DUPLICATES, &jerr);
  assert_non_null(spec);
  assert_string_equal(json_string_value(json_object_get(spec, "openapi")), "3.1.0");
  served_t sv = {0};
  qp_http_server_each_route(s, collect, &sv);
  assert_true(sv.count >= 12);
  json_t *paths = json_object_get(spec, "paths");
  for (uint32_t i = 0; i < sv.count; i++) {
    json_t *item = json_object_get(paths, sv.patterns[i]);
    if (item == NULL || json_object_get(item, sv.methods[i]) == NULL)
      fprintf(stderr, "served but not in the spec: %s %s\n", sv.methods[i], sv.patterns[i]);
    assert_non_null(item);
    assert_non_null(json_object_get(item, sv.methods[i]));
  }
  const char *path, *m;
  json_t *item, *op;
  size_t operations = 0;
  json_object_foreach(paths, path, item) {
    json_object_foreach(item, m, op) {
      operations++;
      if (!is_served(&sv, m, path)) fprintf(stderr, "in the spec but not served: %s %s\n", m, path);
      assert_true(is_served(&sv, m, path));
    }
  }
  assert_int_equal(operations, sv.count);
  check_refs(spec, spec);
  json_decref(spec);
  qp_http_server_destroy(s);
  qp_test_rmdir(dir);
}

static void check_copy(const char *path, const char *embedded) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) skip(); /* not run from the repository root */
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  if (strcmp(text, embedded) != 0)
    fprintf(stderr, "the C copy of %s is stale: run scripts/gen-openapi.sh\n", path);
  assert_string_equal(text, embedded);
}

extern const char qp__http_openapi_base[];

/* Is name in the JSON array of strings? */
static bool in_enum(json_t *values, const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(values, i, v) if (strcmp(json_string_value(v), name) == 0) return true;
  return false;
}

/* The result field's enum is every account and every transfer result code,
 * and nothing else. */
static void test_result_enum_is_every_code(void **state) {
  (void)state;
  json_error_t jerr;
  json_t *frag = json_loads(qp_ledger_openapi_json, 0, &jerr);
  assert_non_null(frag);
  json_t *values = json_object_get(
      json_object_get(json_object_get(json_object_get(json_object_get(
          json_object_get(json_object_get(json_object_get(frag, "components"), "schemas"),
                          "CreateResults"), "properties"), "results"), "items"), "properties"),
      "result");
  values = json_object_get(values, "enum");
  assert_non_null(values);
  size_t distinct = 0;
  for (uint32_t i = 0; i < QP_CREATE_ACCOUNT_RESULT_COUNT; i++) {
    assert_true(in_enum(values, qp_create_account_result_name(i)));
    distinct++;
  }
  for (uint32_t i = 0; i < QP_CREATE_TRANSFER_RESULT_COUNT; i++) {
    const char *name = qp_create_transfer_result_name(i);
    assert_true(in_enum(values, name));
    bool shared = false;
    for (uint32_t k = 0; k < QP_CREATE_ACCOUNT_RESULT_COUNT; k++)
      shared = shared || strcmp(qp_create_account_result_name(k), name) == 0;
    distinct += !shared;
  }
  assert_int_equal(json_array_size(values), distinct);
  json_decref(frag);
}

static void test_embedded_copies_are_current(void **state) {
  (void)state;
  check_copy("src/ledger/openapi.json", qp_ledger_openapi_json);
  check_copy("src/http/openapi.json", qp__http_openapi_base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routes_match_spec),
      cmocka_unit_test(test_embedded_copies_are_current),
      cmocka_unit_test(test_result_enum_is_every_code),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
