/*
 * client_binary.c - `quipu client --binary`: blocking frames over TCP to
 * the ledger's binary listener (docs/binary.md), and a smoke test.
 */
#include "cli/client_binary.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/bytes.h"

static int connect_to(const char *address) {
  if (strncmp(address, "qpb://", 6) == 0) address += 6;
  char host[128];
  const char *colon = strrchr(address, ':');
  size_t n = colon ? (size_t)(colon - address) : 0;
  if (colon == NULL || n == 0 || n >= sizeof host) return -1;
  memcpy(host, address, n);
  host[n] = '\0';
  if (host[0] == '[' && host[n - 1] == ']') {
    memmove(host, host + 1, n - 2);
    host[n - 2] = '\0';
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  if (getaddrinfo(host, colon + 1, &hints, &res) != 0) return -1;
  int fd = -1;
  for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int send_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
    if (w <= 0) return 1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static int recv_all(int fd, void *data, size_t len) {
  uint8_t *p = data;
  while (len > 0) {
    ssize_t r = recv(fd, p, len, 0);
    if (r <= 0) return 1;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

int qp_cli_bin_call(qp_cli_bin_t *b, uint16_t op, const void *body, uint32_t len) {
  uint8_t head[QP_BIN_HEADER_SIZE];
  uint64_t id = ++b->next_id;
  qp_bin_header_encode(head, op, id, 0, body, len);
  if (send_all(b->fd, head, sizeof head) != 0 || send_all(b->fd, body, len) != 0 ||
      recv_all(b->fd, head, sizeof head) != 0) {
    fprintf(stderr, "quipu client: the binary connection broke\n");
    return 1;
  }
  qp_bin_header_decode(head, &b->h);
  if (memcmp(head, QP_BIN_MAGIC, 4) != 0 || b->h.body_len > QP_BIN_BODY_MAX ||
      recv_all(b->fd, b->reply, b->h.body_len) != 0 ||
      !qp_bin_checksum_ok(head, &b->h, b->reply)) {
    fprintf(stderr, "quipu client: a bad reply frame\n");
    return 1;
  }
  if (b->h.op == QP_BIN_OP_ERROR) {
    const char *name = qp_bin_error_name(b->h.status);
    fprintf(stderr, "quipu client: refused: %s: %.*s\n", name ? name : "?", (int)b->h.body_len,
            (const char *)b->reply);
    return 1;
  }
  return b->h.op == op && b->h.request_id == id ? 0 : 1;
}

int qp_cli_bin_open(qp_cli_bin_t *b, const char *address, const char *key) {
  memset(b, 0, sizeof *b);
  b->fd = -1;
  b->reply = qp_malloc(QP_BIN_BODY_MAX);
  if (b->reply == NULL) return 1;
  b->fd = connect_to(address);
  if (b->fd < 0) {
    fprintf(stderr, "quipu client: cannot connect to %s\n", address);
    return 1;
  }
  if (key == NULL || strlen(key) > QP_BIN_AUTH_BYTES_MAX) {
    fprintf(stderr, "quipu client: --binary needs an API key (--key or QUIPU_KEY)\n");
    return 1;
  }
  return qp_cli_bin_call(b, QP_BIN_OP_AUTH, key, (uint32_t)strlen(key));
}

void qp_cli_bin_close(qp_cli_bin_t *b) {
  if (b->fd >= 0) close(b->fd);
  b->fd = -1;
  qp_free(b->reply);
  b->reply = NULL;
}

/* Creates two accounts and one transfer of 5 between them, reads them
 * back and checks the balances. */
static int smoke(qp_cli_bin_t *b, uint64_t base) {
  uint8_t recs[2 * QP_BIN_RECORD_SIZE], ids[2 * QP_BIN_ID_SIZE];
  for (int i = 0; i < 2; i++) {
    qp_account_t a = {.id = (qp_u128)(base + (uint64_t)i), .ledger = 1, .code = 1};
    qp_account_encode(recs + i * QP_BIN_RECORD_SIZE, &a);
    qp_u128_store_le(ids + i * QP_BIN_ID_SIZE, a.id);
  }
  if (qp_cli_bin_call(b, QP_BIN_OP_CREATE_ACCOUNTS, recs, sizeof recs) != 0) return 1;
  if (b->h.body_len != 0) return fprintf(stderr, "smoke: an account was refused\n"), 1;
  qp_transfer_t t = {.id = (qp_u128)(base + 2), .debit_account_id = (qp_u128)(base),
                     .credit_account_id = (qp_u128)(base + 1),
                     .amount = (qp_u128)(5), .ledger = 1, .code = 1};
  qp_transfer_encode(recs, &t);
  if (qp_cli_bin_call(b, QP_BIN_OP_CREATE_TRANSFERS, recs, QP_BIN_RECORD_SIZE) != 0) return 1;
  if (b->h.body_len != 0) return fprintf(stderr, "smoke: the transfer was refused\n"), 1;
  if (qp_cli_bin_call(b, QP_BIN_OP_LOOKUP_ACCOUNTS, ids, sizeof ids) != 0) return 1;
  if (b->h.body_len != 2 * QP_BIN_RECORD_SIZE) return fprintf(stderr, "smoke: lookup\n"), 1;
  qp_account_t d, c;
  qp_account_decode(b->reply, &d);
  qp_account_decode(b->reply + QP_BIN_RECORD_SIZE, &c);
  if ((uint64_t)(d.debits_posted) != 5 || (uint64_t)(c.credits_posted) != 5)
    return fprintf(stderr, "smoke: balances do not show the transfer\n"), 1;
  qp_u128_store_le(ids, t.id);
  if (qp_cli_bin_call(b, QP_BIN_OP_LOOKUP_TRANSFERS, ids, QP_BIN_ID_SIZE) != 0) return 1;
  if (b->h.body_len != QP_BIN_RECORD_SIZE) return fprintf(stderr, "smoke: transfer lookup\n"), 1;
  printf("binary smoke: ok (accounts %llu, %llu; transfer %llu of 5)\n", (unsigned long long)base,
         (unsigned long long)base + 1, (unsigned long long)base + 2);
  return 0;
}

int qp_cli_bin_smoke(const char *address, const char *key) {
  if (sodium_init() < 0) return 1;
  qp_cli_bin_t b;
  int rc = qp_cli_bin_open(&b, address, key);
  uint64_t base = 0;
  randombytes_buf(&base, sizeof base);
  if (rc == 0) rc = smoke(&b, (base >> 2) | 1);
  qp_cli_bin_close(&b);
  return rc;
}
