/*
 * buf.h - a growable byte buffer that always has a maximum (the curl
 * habit): appends past `max` fail and mark the buffer failed instead of
 * growing without bound.  The content is kept NUL-terminated so that text
 * (JSON answers, files) can be handed to string functions directly.
 */
#ifndef QP_BASE_BUF_H
#define QP_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct qp_buf {
  char *data;  /* qp_malloc'ed; NUL-terminated once anything was appended */
  size_t len;  /* bytes used, NUL not counted */
  size_t cap;  /* bytes allocated */
  size_t max;  /* the content plus its NUL never exceeds this; set by the caller */
  bool failed; /* an append failed (out of memory or past max); sticky until reset */
} qp_buf_t;

/* Appends n bytes; returns false (and sets failed) when out of memory or
 * when the content would exceed max.  Nothing is appended on failure. */
bool qp_buf_append(qp_buf_t *b, const void *data, size_t n);

/* Empties the buffer (keeps its memory) and clears failed. */
void qp_buf_reset(qp_buf_t *b);

/* Releases the memory; the buffer is empty afterwards (max is kept). */
void qp_buf_free(qp_buf_t *b);

#endif
