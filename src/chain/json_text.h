/*
 * json_text.h - JSON text for the chain module without touching jansson's
 * allocator: the node installs the HTTP core's (budgeted, headered) one, so
 * text from json_dumps could only be freed by the HTTP core.  Dumping
 * through a callback into a bounded qp_buf_t avoids that dependency.
 */
#ifndef QP_CHAIN_JSON_TEXT_H
#define QP_CHAIN_JSON_TEXT_H

#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"

/* Appends json's text (jansson flags: JSON_COMPACT, ...) to out, which
 * stays NUL-terminated.  Returns 0, QP_ELIMIT (out's max) or QP_ENOMEM. */
int qp__chain_json_dump(const json_t *json, size_t flags, qp_buf_t *out);

#endif
