/*
 * client_load.h - `quipu client load`: a load generator for a running
 * server (see client_load.c).  Private to src/cli/.
 */
#ifndef QP_CLI_CLIENT_LOAD_H
#define QP_CLI_CLIENT_LOAD_H

#include <stdint.h>

typedef struct qp_cli_load_options {
  const char *url;      /* base URL */
  const char *binary;   /* "host:port" of the binary protocol, or NULL (HTTP/JSON) */
  const char *key;      /* API key (ledger:read,ledger:write) or NULL */
  const char *cacert;   /* PEM CAs to trust for https, or NULL (the system's) */
  uint32_t batch;       /* transfers per request, 1..8190 */
  uint32_t connections; /* concurrent keep-alive connections */
  uint32_t duration_s;  /* how long to send (after warm-up) */
  uint32_t accounts;    /* accounts the transfers pick from */
  uint32_t rate;        /* offered requests/s over all connections (open loop: each request
                           has a scheduled time, its latency counts from it); 0: closed loop,
                           each connection sends its next request when the last is answered */
} qp_cli_load_options_t;

/* Creates the accounts, then sends transfer batches from `connections`
 * threads for `duration_s` seconds and prints throughput and latency
 * percentiles.  Returns the exit code: 0, or 1 if any request failed. */
int qp_cli_client_load(const qp_cli_load_options_t *o);

#endif
