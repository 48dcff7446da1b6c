/*
 * stream.c - server-sent event streams (text/event-stream) and the extra
 * headers of a reply.
 *
 * The server runs one thread per connection, so a stream's reader may
 * block: libmicrohttpd calls reader() whenever it can send more, reader()
 * hands out what the module's next() produced, and when there is nothing
 * it asks next() again (which waits at most QP_HTTP_STREAM_WAIT_MS for
 * news), sending a ": ping" comment after QP_HTTP_STREAM_PING_MS of
 * silence so that proxies and clients see a live connection (and a client
 * gone away is noticed at the latest by the failed write of a ping).  A
 * stop (draining) ends every stream at its next wait, so a stop never waits
 * for a stream's client.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "http/http_int.h"

#define STREAM_BUF_MAX (1u << 20) /* pending bytes of one stream */
#define STREAM_BLOCK 4096u        /* what libmicrohttpd asks for at once */

struct qp__http_stream {
  qp_http_server_t *server;
  const qp_http_stream_ops_t *ops;
  void *ctx;
  qp_buf_t pending;  /* frames not yet handed to libmicrohttpd */
  size_t sent;       /* bytes of pending already handed out */
  uint64_t quiet_ns; /* monotonic time of the last bytes handed out */
};

int qp_http_reply_header(qp_http_reply_t *r, const char *name, const char *value) {
  if (strpbrk(value, "\r\n") != NULL) return QP_EINVAL;
  if (r->headers_count >= QP_HTTP_REPLY_HEADERS_MAX) return QP_ENOMEM;
  size_t n = strlen(value);
  char *copy = qp_malloc(n + 1);
  if (copy == NULL) return QP_ENOMEM;
  memcpy(copy, value, n + 1);
  r->headers[r->headers_count].name = name;
  r->headers[r->headers_count].value = copy;
  r->headers_count++;
  return 0;
}

void qp__http_reply_headers_free(qp_http_reply_t *r) {
  for (uint32_t i = 0; i < r->headers_count; i++) qp_free(r->headers[i].value);
  r->headers_count = 0;
}

void qp__http_reply_stream_drop(qp_http_reply_t *r) {
  if (r->stream != NULL && r->stream->release != NULL) r->stream->release(r->stream_ctx);
  r->stream = NULL;
  r->stream_ctx = NULL;
}

void qp_http_reply_stream(qp_http_reply_t *r, const qp_http_stream_ops_t *ops, void *ctx) {
  qp__http_reply_stream_drop(r);
  qp_free(r->body);
  r->body = NULL;
  r->body_len = 0;
  r->status = 200;
  r->content_type = "text/event-stream; charset=utf-8";
  r->stream = ops;
  r->stream_ctx = ctx;
}

static bool has_newline(const char *s) { return s != NULL && strpbrk(s, "\r\n") != NULL; }

static bool put(qp_buf_t *out, const char *a, const char *b, size_t b_len) {
  return qp_buf_append(out, a, strlen(a)) && qp_buf_append(out, b, b_len) &&
         qp_buf_append(out, "\n", 1);
}

int qp_http_sse_frame(qp_buf_t *out, const char *event, const char *id, const char *data) {
  if (event == NULL || event[0] == '\0' || has_newline(event) || has_newline(id))
    return QP_EINVAL;
  size_t mark = out->len;
  bool ok = put(out, "event: ", event, strlen(event));
  if (ok && id != NULL) ok = put(out, "id: ", id, strlen(id));
  const char *p = data != NULL ? data : "";
  while (ok) {
    size_t n = strcspn(p, "\r\n");
    ok = put(out, "data: ", p, n);
    p += n;
    if (*p == '\0') break;
    p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
  }
  ok = ok && qp_buf_append(out, "\n", 1);
  if (ok) return 0;
  out->len = mark; /* no half frame */
  if (out->data != NULL) out->data[mark] = '\0';
  out->failed = false;
  return QP_ENOMEM;
}

static bool stopping(const struct qp__http_stream *st) {
  return atomic_load(&st->server->draining);
}

/* Fills pending (emptied) with what comes next: frames, a ping, or nothing
 * yet.  false when the stream is over. */
static bool refill(struct qp__http_stream *st) {
  qp_buf_reset(&st->pending);
  st->sent = 0;
  int rc = st->ops->next(st->ctx, &st->pending, QP_HTTP_STREAM_WAIT_MS);
  if (rc < 0 || st->pending.failed) return false;
  uint64_t now = qp_clock_mono_ns();
  if (st->pending.len == 0 && now - st->quiet_ns >= QP_HTTP_STREAM_PING_MS * 1000000ull)
    if (!qp_buf_append(&st->pending, ": ping\n\n", 8)) return false;
  return true;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  struct qp__http_stream *st = cls;
  while (st->sent == st->pending.len) {
    if (stopping(st) || !refill(st)) return MHD_CONTENT_READER_END_OF_STREAM;
  }
  size_t n = st->pending.len - st->sent;
  if (n > max) n = max;
  memcpy(buf, st->pending.data + st->sent, n);
  st->sent += n;
  st->quiet_ns = qp_clock_mono_ns();
  return (ssize_t)n;
}

static void stream_free(void *cls) {
  struct qp__http_stream *st = cls;
  if (st->ops->release != NULL) st->ops->release(st->ctx);
  qp_buf_free(&st->pending);
  atomic_fetch_sub(&st->server->streams, 1);
  qp_free(st);
}

/* The response for a stream reply (consumes the reply's stream), or NULL
 * with *refused set when the server has too many open already. */
struct MHD_Response *qp__http_stream_response(qp_http_server_t *s, qp_http_reply_t *r,
                                              bool *refused) {
  *refused = false;
  if (atomic_fetch_add(&s->streams, 1) >= s->options.streams_max) {
    atomic_fetch_sub(&s->streams, 1);
    *refused = true;
    qp__http_reply_stream_drop(r);
    return NULL;
  }
  struct qp__http_stream *st = qp_calloc(1, sizeof *st);
  if (st == NULL) {
    atomic_fetch_sub(&s->streams, 1);
    qp__http_reply_stream_drop(r);
    return NULL;
  }
  *st = (struct qp__http_stream){s, r->stream, r->stream_ctx, {.max = STREAM_BUF_MAX}, 0,
                                 qp_clock_mono_ns()};
  r->stream = NULL;
  r->stream_ctx = NULL;
  static const char hello[] = "retry: 2000\n\n";
  qp_buf_append(&st->pending, hello, sizeof hello - 1);
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, reader, st, stream_free);
  if (resp == NULL) stream_free(st);
  return resp;
}
