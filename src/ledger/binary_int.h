/*
 * binary_int.h - the binary listener's private parts, shared by
 * binary_server.c (the libuv loop) and binary_ops.c (what a frame does).
 */
#ifndef QP_LEDGER_BINARY_INT_H
#define QP_LEDGER_BINARY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "http/http.h"
#include "ledger/api_int.h"
#include "ledger/binary.h"

#define QP__BIN_CONNECTIONS_MAX 1024u /* open connections; more are closed at once */

/* The listener's counters (read by a /metrics scrape on another thread). */
typedef struct qp__bin_metrics {
  _Atomic uint64_t connections;        /* open now */
  _Atomic uint64_t accepted;           /* since start */
  _Atomic uint64_t refused;            /* closed at once: QP__BIN_CONNECTIONS_MAX reached */
  _Atomic uint64_t frames[6];          /* frames run, by op 1..5 */
  _Atomic uint64_t errors[256];        /* error frames sent, by status (<= 255) */
} qp__bin_metrics_t;

/* One client connection.  Owned by the loop; while busy, the frame is in
 * the thread pool (binary_ops.c) or its reply is being written, and the
 * loop neither reads nor decodes for it. */
typedef struct qp__bin_conn {
  uv_tcp_t tcp;                 /* data = this */
  uv_timer_t timer;             /* a begun frame's deadline; data = this */
  int handles_open;             /* tcp and timer until their close callbacks ran */
  struct qp__bin_server *server;
  qp__ledger_api_t *api;        /* borrowed */
  qp__bin_metrics_t *metrics;   /* the server's */
  qp_bin_decoder_t decoder;     /* request frames */
  uint8_t *in;                  /* the last read */
  size_t in_len, in_off;        /* bytes read, bytes fed to the decoder */
  qp_bin_header_t h;            /* the frame being run */
  const uint8_t *body;          /* its body, inside the decoder */
  uv_work_t work;               /* runs the frame in the pool */
  uv_write_t write;             /* writes the reply */
  uint8_t *reply;               /* header + body of the reply */
  uint32_t reply_len;           /* bytes at reply */
  bool busy;                    /* a frame is out (pool or write) */
  bool reading;                 /* uv_read_start is on */
  bool close_after;             /* close once the reply is written */
  bool authed;                  /* an auth frame was accepted */
  bool counted;                 /* in metrics->connections */
  qp_http_key_t key;            /* the key it presented, when authed */
  qp__ledger_job_t job;         /* a posted create, while with the writer */
  void *events;                 /* ... its decoded records */
  uint32_t *results;            /* ... and their results */
  struct qp__bin_conn *done_next; /* the server's list of connections the writer is done with */
} qp__bin_conn_t;

/* What the loop does with a decoded frame (qp__bin_start, on the loop):
 * a create is checked, decoded and posted to the writer (the writer's
 * thread calls qp__bin_server_done when its group is fsynced, then the loop
 * calls qp__bin_finish_create); a refused frame has its error reply ready;
 * auth and lookups go to libuv's pool (qp__bin_run). */
typedef enum { QP__BIN_RUN_IN_POOL, QP__BIN_POSTED, QP__BIN_REPLY_READY } qp__bin_start_t;
qp__bin_start_t qp__bin_start(qp__bin_conn_t *c);
void qp__bin_finish_create(qp__bin_conn_t *c);
/* binary_server.c: from the writer thread, c's create is done. */
void qp__bin_server_done(qp__bin_conn_t *c);

/* Runs an auth or lookup frame c->h/c->body (a pool thread) and fills
 * c->reply. */
void qp__bin_run(qp__bin_conn_t *c);

/* Fills c->reply with an error frame; a fatal status sets close_after. */
void qp__bin_error(qp__bin_conn_t *c, uint64_t request_id, uint32_t status, const char *message);

int qp__bin_server_start(qp__ledger_api_t *api, const char *listen, struct qp__bin_server **out,
                         char *detail, size_t detail_size);
/* Appends the listener's Prometheus text. */
void qp__bin_metrics_render(const struct qp__bin_server *s, qp_http_text_t *out);

/* Closes the listener and every connection (waiting for frames in the
 * pool), then joins the loop thread.  NULL: nothing. */
void qp__bin_server_stop(struct qp__bin_server *s);

#endif
