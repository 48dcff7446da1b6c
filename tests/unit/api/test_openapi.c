/*
 * test_openapi.c - the OpenAPI document and the server agree: every route
 * in the route table is an operation of the spec and every operation of
 * the spec is a served route, and the embedded copy (src/api/openapi.c) is
 * byte for byte src/api/openapi.json (run scripts/gen-openapi.sh after
 * editing the JSON).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "api/api.h"

static void lower(char *dst, const char *src, size_t size) {
  size_t i = 0;
  for (; src[i] && i < size - 1; i++) dst[i] = (char)tolower((unsigned char)src[i]);
  dst[i] = '\0';
}

static void test_routes_match_spec(void **state) {
  (void)state;
  json_error_t jerr;
  json_t *spec = json_loads(qp_api_openapi_json, JSON_REJECT_DUPLICATES, &jerr);
  if (spec == NULL) fprintf(stderr, "openapi: line %d: %s\n", jerr.line, jerr.text);
  assert_non_null(spec);
  assert_string_equal(json_string_value(json_object_get(spec, "openapi")), "3.1.0");
  json_t *paths = json_object_get(spec, "paths");
  uint32_t count = 0;
  const qp_api_route_info_t *routes = qp_api_routes(&count);
  assert_true(count >= 12);
  for (uint32_t i = 0; i < count; i++) {
    char method[16];
    lower(method, routes[i].method, sizeof method);
    json_t *item = json_object_get(paths, routes[i].pattern);
    if (item == NULL || json_object_get(item, method) == NULL)
      fprintf(stderr, "served but not in the spec: %s %s\n", routes[i].method, routes[i].pattern);
    assert_non_null(item);
    assert_non_null(json_object_get(item, method));
  }
  const char *path;
  json_t *item;
  size_t operations = 0;
  json_object_foreach(paths, path, item) {
    const char *m;
    json_t *op;
    json_object_foreach(item, m, op) {
      operations++;
      bool served = false;
      for (uint32_t i = 0; i < count; i++) {
        char method[16];
        lower(method, routes[i].method, sizeof method);
        served = served || (strcmp(routes[i].pattern, path) == 0 && strcmp(method, m) == 0);
      }
      if (!served) fprintf(stderr, "in the spec but not served: %s %s\n", m, path);
      assert_true(served);
    }
  }
  assert_int_equal(operations, count);
  json_decref(spec);
}

static void test_embedded_copy_is_current(void **state) {
  (void)state;
  FILE *f = fopen("src/api/openapi.json", "rb");
  if (f == NULL) {
    skip(); /* not run from the repository root */
  }
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  if (strcmp(text, qp_api_openapi_json) != 0)
    fprintf(stderr, "src/api/openapi.c is stale: run scripts/gen-openapi.sh\n");
  assert_string_equal(text, qp_api_openapi_json);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routes_match_spec),
      cmocka_unit_test(test_embedded_copy_is_current),
  };
  return cmocka_run_group_tests_name("api_openapi", tests, NULL, NULL);
}
