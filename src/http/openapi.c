/*
 * openapi.c - the OpenAPI 3.1 document of GET /v1/openapi.json, assembled
 * at start: the core's base document (info, security, the shared error
 * responses and the service routes), then each module's fragment merged
 * in ("tags" appended; "paths" and every "components" map added key by
 * key).  A path or component two modules both define is refused unless
 * the two definitions are identical, so one module cannot silently
 * redefine another's schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "http/http_int.h"

/* Adds every key of src to dst; a key present in both must be equal. */
static int merge_map(json_t *dst, json_t *src, const char *where, const char *module,
                     char *detail, size_t detail_size) {
  const char *key;
  json_t *value;
  json_object_foreach(src, key, value) {
    json_t *have = json_object_get(dst, key);
    if (have != NULL && !json_equal(have, value)) {
      snprintf(detail, detail_size, "module %s: OpenAPI %s '%s' is defined differently already",
               module, where, key);
      return QP_EINVAL;
    }
    if (have == NULL && json_object_set(dst, key, value) != 0) return QP_ENOMEM;
  }
  return 0;
}

/* The object under doc[key] (created empty if missing). */
static json_t *child(json_t *doc, const char *key) {
  json_t *c = json_object_get(doc, key);
  if (c == NULL) {
    c = json_object();
    if (c == NULL || json_object_set_new(doc, key, c) != 0) return NULL;
  }
  return json_is_object(c) ? c : NULL;
}

static int merge_fragment(json_t *doc, json_t *frag, const char *module, char *detail,
                          size_t detail_size) {
  json_t *tags = json_object_get(frag, "tags"), *doc_tags = json_object_get(doc, "tags");
  if (json_is_array(tags) && json_is_array(doc_tags) && json_array_extend(doc_tags, tags) != 0)
    return QP_ENOMEM;
  json_t *paths = json_object_get(frag, "paths"), *doc_paths = child(doc, "paths");
  if (doc_paths == NULL) return QP_ENOMEM;
  int rc = json_is_object(paths) ? merge_map(doc_paths, paths, "path", module, detail, detail_size)
                                 : 0;
  json_t *comps = json_object_get(frag, "components"), *doc_comps = child(doc, "components");
  if (rc != 0 || !json_is_object(comps)) return rc;
  if (doc_comps == NULL) return QP_ENOMEM;
  const char *kind;
  json_t *map;
  json_object_foreach(comps, kind, map) {
    json_t *dst = child(doc_comps, kind);
    if (dst == NULL || !json_is_object(map)) return QP_EINVAL;
    rc = merge_map(dst, map, kind, module, detail, detail_size);
    if (rc != 0) return rc;
  }
  return 0;
}

static json_t *load(const char *text, const char *module, char *detail, size_t detail_size) {
  json_error_t jerr;
  json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL || !json_is_object(doc)) {
    snprintf(detail, detail_size, "module %s: its OpenAPI fragment is not a JSON object: %s",
             module, doc == NULL ? jerr.text : "wrong type");
    json_decref(doc);
  }
  return json_is_object(doc) ? doc : NULL;
}

int qp__http_openapi_assemble(qp_http_server_t *s, char *detail, size_t detail_size) {
  json_t *doc = load(qp__http_openapi_base, "http", detail, detail_size);
  if (doc == NULL) return QP_EINVAL;
  int rc = 0;
  for (uint32_t m = 0; rc == 0 && m < s->modules_count; m++) {
    const qp_http_module_t *mod = s->modules[m];
    if (mod == &s->core || mod->openapi == NULL) continue;
    json_t *frag = load(mod->openapi, mod->name, detail, detail_size);
    rc = frag == NULL ? QP_EINVAL : merge_fragment(doc, frag, mod->name, detail, detail_size);
    json_decref(frag);
  }
  char *text = rc == 0 ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(doc);
  if (rc != 0) return rc;
  if (text == NULL) return QP_ENOMEM;
  size_t n = strlen(text);
  s->openapi = qp_malloc(n + 1);
  if (s->openapi != NULL) memcpy(s->openapi, text, n + 1);
  qp_http_json_free(text); /* jansson's allocation */
  return s->openapi != NULL ? 0 : QP_ENOMEM;
}
