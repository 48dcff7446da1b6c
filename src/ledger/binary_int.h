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
} qp__bin_conn_t;

/* Runs the frame c->h/c->body (a pool thread) and fills c->reply. */
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
