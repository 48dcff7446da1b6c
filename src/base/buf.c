/*
 * buf.c - see buf.h.  Growth doubles from 4 KiB and is clamped to max.
 */
#include "base/buf.h"

#include <string.h>

#include "base/alloc.h"

bool qp_buf_append(qp_buf_t *b, const void *data, size_t n) {
  if (b->failed) return false;
  size_t need = b->len + n + 1;
  if (need < b->len || need > b->max) {
    b->failed = true;
    return false;
  }
  if (need > b->cap) {
    size_t cap = b->cap ? b->cap : (b->max < 4096 ? b->max : 4096);
    while (cap < need) cap = cap > b->max / 2 ? b->max : cap * 2;
    char *grown = qp_realloc(b->data, cap);
    if (grown == NULL) {
      b->failed = true;
      return false;
    }
    b->data = grown;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
  return true;
}

void qp_buf_reset(qp_buf_t *b) {
  b->len = 0;
  b->failed = false;
  if (b->data) b->data[0] = '\0';
}

void qp_buf_free(qp_buf_t *b) {
  qp_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = false;
}
