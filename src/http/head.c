/*
 * head.c - the checks on a request's head that run before anything else
 * looks at it: the HTTP version, the size of the request target and of the
 * head, and the shapes that let a proxy in front and this server read one
 * byte stream as different requests (request smuggling): Content-Length
 * given twice, Content-Length together with Transfer-Encoding, a transfer
 * coding other than chunked, whitespace inside a header name, and NUL bytes
 * anywhere in the target or a header value.
 *
 * libmicrohttpd 0.9.75 hands values over as C strings, so a NUL byte would
 * silently cut a value short.  The target is seen raw by the URI log
 * callback (request.c), which records its length and whether it holds
 * "%00"; the raw length is compared here with the span between the target
 * and the version, which libmicrohttpd leaves in place in the request line.
 * Header values also stay in place in libmicrohttpd's read buffer, in
 * order, with each line's CR and LF overwritten by NULs, and their length
 * is strlen(): a value is whole when only its line's terminator lies
 * between its end and the next header's name (or the end of the head).
 * Anything more is the rest of a line cut by a NUL, or a folded line
 * (obs-fold), which RFC 9112 section 5.2 also lets a server refuse.  The one
 * shape this cannot see is a single NUL right before a bare LF, where
 * nothing after the NUL is lost.
 * RFC 9112 sections 2.2, 5.1 and 6.3 and RFC 9110 section 5.5 say to refuse
 * all of these; every refusal is a 400 (501 for an unknown transfer coding,
 * 414, 431, 505) with the error envelope, and the connection is closed.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

#define LINE_END_MAX 2u /* CRLF after a header */
#define HEAD_END_MAX 4u /* CRLF CRLF after the last header */

/* What one pass over the headers found. */
typedef struct head_walk {
  uint32_t content_lengths;    /* Content-Length headers */
  uint32_t transfer_encodings; /* Transfer-Encoding headers */
  const char *transfer_coding; /* the first Transfer-Encoding's value */
  const char *bad_name;        /* first header whose value a NUL cut, or name has blanks */
  bool bad_is_nul;             /* bad_name is about a NUL (else about a blank) */
  const char *prev_name;       /* the previous header, checked once the next is known */
  const char *prev_value;      /* its value (NULL before the first header) */
  size_t prev_value_size;      /* its length (strlen) */
} head_walk_t;

/* Was the value [value, value + size) cut short by a NUL byte, or folded
 * over lines?  next is where the following line starts: the next header's
 * name, or the end of the head after the last header.  Between the two
 * there may only be the line's own terminator, CRLF or LF, which
 * libmicrohttpd has overwritten with NULs (and after the last header the
 * blank line, too): at most gap_max bytes, all NUL.  Reads nothing past
 * next. */
static bool value_cut(const char *value, size_t size, const char *next, uintptr_t gap_max) {
  if (value == NULL || next == NULL) return false;
  uintptr_t end = (uintptr_t)value + size;
  uintptr_t gap = (uintptr_t)next - end; /* huge when next is elsewhere: refused */
  if (gap == 0 || gap > gap_max) return true;
  for (uintptr_t i = 0; i < gap; i++)
    if (value[size + i] != '\0') return true;
  return false;
}

static void note_bad(head_walk_t *w, const char *name, bool nul) {
  if (w->bad_name != NULL) return;
  w->bad_name = name;
  w->bad_is_nul = nul;
}

static enum MHD_Result head_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size) {
  (void)kind;
  head_walk_t *w = cls;
  if (w->prev_name != NULL && value_cut(w->prev_value, w->prev_value_size, key, LINE_END_MAX))
    note_bad(w, w->prev_name, true);
  if (memchr(key, ' ', key_size) != NULL || memchr(key, '\t', key_size) != NULL)
    note_bad(w, key, false);
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) w->content_lengths++;
  if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
    if (w->transfer_encodings++ == 0) w->transfer_coding = value;
  }
  w->prev_name = key;
  w->prev_value = value;
  w->prev_value_size = value_size;
  return MHD_YES;
}

/* The version, the target and the head's size: 505, 400, 414, 431. */
static bool check_line(const char *url, const char *version, const qp__http_target_t *target,
                       size_t head_size, qp_http_error_t *err) {
  if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
    qp_http_error_set(err, 505, "http_version_not_supported", "",
                      "only HTTP/1.1 and HTTP/1.0 are served");
    return false;
  }
  /* The target ends at the space before the version, in the same line. */
  uintptr_t span = (uintptr_t)version - (uintptr_t)url - 1u;
  if (target->nul || span != target->raw_len) {
    qp_http_error_set(err, 400, "bad_request", "",
                      "the request target holds a NUL byte (%%00 or raw) in its path or query");
    return false;
  }
  if (target->raw_len > QP__HTTP_TARGET_BYTES_MAX) {
    qp_http_error_set(err, 414, "uri_too_long", "",
                      "the request target has %zu bytes; at most %u are allowed",
                      target->raw_len, QP__HTTP_TARGET_BYTES_MAX);
    return false;
  }
  if (head_size > QP__HTTP_HEAD_BYTES_MAX) {
    qp_http_error_set(err, 431, "headers_too_large", "",
                      "the request line and headers have %zu bytes; at most %u are allowed",
                      head_size, QP__HTTP_HEAD_BYTES_MAX);
    return false;
  }
  return true;
}

/* The headers: NULs, blanks in names, Content-Length and Transfer-Encoding. */
static bool check_headers(struct MHD_Connection *conn, const char *head_end,
                          qp_http_error_t *err) {
  head_walk_t w = {0};
  MHD_get_connection_values_n(conn, MHD_HEADER_KIND, head_header, &w);
  if (w.prev_name != NULL && value_cut(w.prev_value, w.prev_value_size, head_end, HEAD_END_MAX))
    note_bad(&w, w.prev_name, true);
  if (w.bad_name != NULL) {
    qp_http_error_set(err, 400, "bad_request", "", w.bad_is_nul
                          ? "the value of header %.64s holds a NUL byte or is folded over lines"
                          : "the header name '%.64s' holds a space or tab",
                      w.bad_name);
    return false;
  }
  if (w.content_lengths > 1 || w.transfer_encodings > 1) {
    qp_http_error_set(err, 400, "bad_request", "", "the header %s is given more than once",
                      w.content_lengths > 1 ? "Content-Length" : "Transfer-Encoding");
    return false;
  }
  if (w.content_lengths > 0 && w.transfer_encodings > 0) {
    qp_http_error_set(err, 400, "bad_request", "",
                      "Content-Length and Transfer-Encoding are both given; send one");
    return false;
  }
  if (w.transfer_encodings > 0 && strcasecmp(w.transfer_coding, "chunked") != 0) {
    qp_http_error_set(err, 501, "not_implemented", "",
                      "Transfer-Encoding '%.32s' is not supported; only chunked is",
                      w.transfer_coding);
    return false;
  }
  return true;
}

bool qp__http_head_check(struct MHD_Connection *conn, const char *method, const char *url,
                         const char *version, const qp__http_target_t *target,
                         qp_http_error_t *err) {
  /* The head starts with the method and ends after the blank line. */
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  size_t head_size = info != NULL ? info->header_size : 0;
  const char *head_end = info != NULL ? method + head_size : NULL;
  return check_line(url, version, target, head_size, err) &&
         check_headers(conn, head_end, err);
}
