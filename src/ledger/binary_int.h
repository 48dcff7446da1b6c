/*
 * binary_int.h - the binary listener's private parts, shared by
 * binary_server.c (the libuv loop) and binary_ops.c (what a frame does).
 */
#ifndef QP_LEDGER_BINARY_INT_H
#define QP_LEDGER_BINARY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "http/http.h"
#include "ledger/api_int.h"
#include "ledger/binary.h"

/* One client connection.  Owned by the loop; while busy, the frame is in
 * the thread pool (binary_ops.c) or its reply is being written, and the
 * loop neither reads nor decodes for it. */
typedef struct qp__bin_conn {
  uv_tcp_t tcp;                 /* data = this */
  struct qp__bin_server *server;
  qp__ledger_api_t *api;        /* borrowed */
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
  qp_http_key_t key;            /* the key it presented, when authed */
} qp__bin_conn_t;

/* Runs the frame c->h/c->body (a pool thread) and fills c->reply. */
void qp__bin_run(qp__bin_conn_t *c);

/* Fills c->reply with an error frame; a fatal status sets close_after. */
void qp__bin_error(qp__bin_conn_t *c, uint64_t request_id, uint32_t status, const char *message);

int qp__bin_server_start(qp__ledger_api_t *api, const char *listen, struct qp__bin_server **out,
                         char *detail, size_t detail_size);
/* Closes the listener and every connection (waiting for frames in the
 * pool), then joins the loop thread.  NULL: nothing. */
void qp__bin_server_stop(struct qp__bin_server *s);

#endif
