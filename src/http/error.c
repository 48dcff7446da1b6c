/*
 * error.c - the error envelope {"error":{"code","message","path"}} that
 * every refused request receives (DESIGN.md section 5).  Kept apart from the
 * server so the pure decoders and their fuzz targets can use it alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "http/http_int.h"
#include "base/err.h"

static void copy_bounded(char *dst, size_t size, const char *src) {
  size_t n = src != NULL ? strlen(src) : 0;
  if (n >= size) n = size - 1;
  if (n > 0) memcpy(dst, src, n);
  dst[n] = '\0';
}

int qp_http_error_set(qp_http_error_t *err, unsigned status, const char *code, const char *path,
                     const char *fmt, ...) {
  memset(err, 0, sizeof *err);
  err->status = status;
  copy_bounded(err->code, sizeof err->code, code);
  copy_bounded(err->path, sizeof err->path, path);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  if (n < 0) err->message[0] = '\0';
  return QP_EPARSE;
}

/* A JSON string of text even when truncation cut a UTF-8 sequence short:
 * then every byte outside printable ASCII becomes '?'. */
static json_t *lossy_string(const char *text) {
  json_t *s = json_string(text);
  if (s != NULL) return s;
  char clean[sizeof(((qp_http_error_t *)0)->message)];
  size_t n = 0;
  for (; text[n] != '\0' && n < sizeof clean - 1; n++)
    clean[n] = (text[n] >= 0x20 && text[n] < 0x7f) ? text[n] : '?';
  clean[n] = '\0';
  return json_string(clean);
}

json_t *qp_http_error_json(const qp_http_error_t *err) {
  json_t *inner = json_object();
  if (inner == NULL) return NULL;
  json_object_set_new(inner, "code", json_string(err->code[0] ? err->code : "internal"));
  json_object_set_new(inner, "message", lossy_string(err->message));
  json_object_set_new(inner, "path", lossy_string(err->path));
  if (err->line > 0) {
    json_object_set_new(inner, "line", json_integer(err->line));
    json_object_set_new(inner, "column", json_integer(err->column));
  }
  json_t *outer = json_object();
  if (outer == NULL) {
    json_decref(inner);
    return NULL;
  }
  json_object_set_new(outer, "error", inner);
  return outer;
}

/* json as compact text in a qp_malloc'ed buffer (what a reply body is:
 * libmicrohttpd frees it with qp_free); consumes the reference.  NULL when
 * json is NULL or memory ran out. */
static char *dumps_consume(json_t *json) {
  char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
  json_decref(json);
  if (text == NULL) return NULL;
  size_t n = strlen(text);
  char *copy = qp_malloc(n + 1);
  if (copy != NULL) memcpy(copy, text, n + 1);
  qp_http_json_free(text); /* jansson's allocation */
  return copy;
}

char *qp_http_error_text(const qp_http_error_t *err) {
  bool was = qp__http_json_exempt(true); /* small, and must not fail for the budget */
  char *text = dumps_consume(qp_http_error_json(err));
  qp__http_json_exempt(was);
  return text;
}

void qp_http_reply_json(qp_http_reply_t *r, unsigned status, struct json_t *json) {
  qp_http_reply_text(r, status, dumps_consume(json), NULL);
}
