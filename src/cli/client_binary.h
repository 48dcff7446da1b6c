/*
 * client_binary.h - the client side of the ledger's binary protocol
 * (docs/binary.md) for `quipu client --binary`: blocking TCP, one frame
 * out, one frame back.  Private to src/cli/.
 */
#ifndef QP_CLI_CLIENT_BINARY_H
#define QP_CLI_CLIENT_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/api.h"

/* A connection; reply holds the last reply's body. */
typedef struct qp_cli_bin {
  int fd;
  uint64_t next_id;  /* request ids */
  qp_bin_header_t h; /* the last reply's header */
  uint8_t *reply;    /* QP_BIN_BODY_MAX bytes */
} qp_cli_bin_t;

/* Connects to "host:port" (or "qpb://host:port") and authenticates with
 * key.  0, or 1 with a message on stderr. */
int qp_cli_bin_open(qp_cli_bin_t *b, const char *address, const char *key);
void qp_cli_bin_close(qp_cli_bin_t *b);

/* Sends one frame and reads its reply into b->h / b->reply.  0 when the
 * reply is op's (not an error frame); 1 otherwise (an error frame's text
 * is printed to stderr). */
int qp_cli_bin_call(qp_cli_bin_t *b, uint16_t op, const void *body, uint32_t len);

/* `quipu client --binary ADDR smoke`: two accounts, a transfer, lookups,
 * checked.  Returns the exit code. */
int qp_cli_bin_smoke(const char *address, const char *key);

#endif
