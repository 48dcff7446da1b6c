/*
 * chain_client.c - signed calls, queries and reads against one chain node
 * for programs that act on the answers (chain_client.h).  The transaction
 * is built and signed here with qp_chain_tx_make, as `quipu chain send`
 * does; the nonce is the node's next one for the sender (committed and
 * pending), asked again before every call, and a refusal that only says
 * the nonce moved meanwhile (another process signing with the same key)
 * is retried with a fresh one a few times.
 */
#include "cli/chain_client.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

#define CLIENT_REQUEST_MS 10000L /* one HTTP request */
#define CLIENT_POLL_MS 100L      /* between two looks for a receipt */
#define CLIENT_NONCE_RETRIES 5   /* when the nonce moved under us */

char *qp_cli_json_text(const json_t *v) {
  size_t n = v != NULL ? json_dumpb(v, NULL, 0, JSON_COMPACT) : 0;
  char *text = n > 0 ? qp_malloc(n + 1) : NULL;
  if (text == NULL) return NULL;
  json_dumpb(v, text, n, JSON_COMPACT);
  text[n] = '\0';
  return text;
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* c->error from the last HTTP exchange: the envelope's code and message, or
 * the transport's error. */
static void take_error(qp_cli_chain_client_t *c, const char *what) {
  qp_cli_chain_http_t *h = &c->http;
  if (h->status == 0) {
    snprintf(c->error, sizeof c->error, "%s: no answer: %.600s", what, h->error);
    return;
  }
  json_t *root = qp_cli_chain_http_json(h);
  json_t *e = json_object_get(root, "error");
  const char *code = json_string_value(json_object_get(e, "code"));
  const char *msg = json_string_value(json_object_get(e, "message"));
  snprintf(c->error, sizeof c->error, "%s: HTTP %ld %.64s: %.600s", what, h->status,
           code != NULL ? code : "", msg != NULL ? msg : (h->response.data ? h->response.data
                                                                          : ""));
  json_decref(root);
}

int qp_cli_chain_client_get(qp_cli_chain_client_t *c, const char *path, json_t **answer) {
  *answer = NULL;
  if (qp_cli_chain_http_request(&c->http, "GET", path, NULL, 0, CLIENT_REQUEST_MS) != 0 ||
      c->http.status != 200) {
    take_error(c, path);
    return c->http.status == 404 ? QP_ENOTFOUND : QP_EIO;
  }
  *answer = qp_cli_chain_http_json(&c->http);
  if (*answer == NULL) snprintf(c->error, sizeof c->error, "%s: the answer is not JSON", path);
  return *answer != NULL ? 0 : QP_EIO;
}

int qp_cli_chain_client_status(qp_cli_chain_client_t *c) {
  json_t *s = NULL;
  int rc = qp_cli_chain_client_get(c, "/v1/chain/status", &s);
  const char *suite = json_string_value(json_object_get(s, "suite"));
  const char *genesis = json_string_value(json_object_get(s, "genesis_hash"));
  json_int_t height = json_integer_value(json_object_get(s, "height"));
  json_int_t bytes_max = json_integer_value(json_object_get(s, "tx_bytes_max"));
  if (rc == 0 && (suite == NULL || genesis == NULL ||
                  qp_suite_parse(suite, strlen(suite), &c->suite) != 0 ||
                  qp_chain_unhex(genesis, strlen(genesis), c->genesis, QP_HASH_SIZE) != 0 ||
                  height < 0)) {
    snprintf(c->error, sizeof c->error, "the node's status lacks suite, genesis_hash, height");
    rc = QP_EIO;
  }
  if (rc == 0) {
    c->height = (uint64_t)height;
    c->tx_bytes_max = bytes_max >= QP_CHAIN_TX_BYTES_MIN && bytes_max <= QP_CHAIN_TX_BYTES_MAX
                          ? (size_t)bytes_max
                          : QP_CHAIN_TX_BYTES_MAX;
  }
  json_decref(s);
  return rc;
}

int qp_cli_chain_client_open(qp_cli_chain_client_t *c, const char *url, const char *key_path) {
  memset(c, 0, sizeof *c);
  if (qp_cli_chain_http_init(&c->http, url) != 0) {
    snprintf(c->error, sizeof c->error, "%.1000s", c->http.error);
    return QP_EINVAL;
  }
  int rc = qp_cli_chain_client_status(c);
  if (rc != 0 || key_path == NULL) return rc;
  if (qp_chain_keyfile_read(key_path, &c->key, c->error, sizeof c->error) != 0)
    return QP_EINVAL;
  if (qp_sign_key_suite(c->key) != c->suite) {
    snprintf(c->error, sizeof c->error, "%.512s is a %s key but the network's suite is %s",
             key_path, qp_suite_name(qp_sign_key_suite(c->key)), qp_suite_name(c->suite));
    return QP_EINVAL;
  }
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t pub_len = 0;
  qp_sign_public(c->key, pub, &pub_len);
  qp_chain_hex(c->sender, pub, pub_len);
  return 0;
}

void qp_cli_chain_client_deinit(qp_cli_chain_client_t *c) {
  qp_cli_chain_http_deinit(&c->http);
  qp_sign_key_free(c->key);
  c->key = NULL;
}

/* The sender's next nonce as the node sees it. */
static int next_nonce(qp_cli_chain_client_t *c, uint64_t *nonce) {
  char path[64 + 2 * QP_SIGN_PUBLIC_MAX];
  snprintf(path, sizeof path, "/v1/chain/nonce/%s", c->sender);
  json_t *a = NULL;
  int rc = qp_cli_chain_client_get(c, path, &a);
  json_int_t n = json_integer_value(json_object_get(a, "next_nonce"));
  if (rc == 0 && n < 1) {
    snprintf(c->error, sizeof c->error, "the node's nonce answer lacks next_nonce");
    rc = QP_EIO;
  }
  if (rc == 0) *nonce = (uint64_t)n;
  json_decref(a);
  return rc;
}

/* Signs and posts one transaction; hash_hex receives its hash. */
static int submit(qp_cli_chain_client_t *c, const qp_chain_tx_spec_t *spec,
                  char hash_hex[2 * QP_HASH_SIZE + 1]) {
  uint8_t *tx = NULL;
  size_t len = 0;
  char detail[512] = "";
  int rc = qp_chain_tx_make(c->key, spec, c->tx_bytes_max, &tx, &len, detail, sizeof detail);
  if (rc != 0) {
    snprintf(c->error, sizeof c->error, "cannot make the transaction: %s",
             detail[0] != '\0' ? detail : qp_strerror(rc));
    return QP_EINVAL;
  }
  qp_chain_tx_t decoded;
  char *body = qp_malloc(2 * len + 16);
  rc = body != NULL ? qp_chain_tx_decode(c->suite, tx, len, c->tx_bytes_max, &decoded, detail,
                                         sizeof detail)
                    : QP_ENOMEM;
  if (rc == 0) {
    qp_chain_hex(hash_hex, decoded.hash, QP_HASH_SIZE);
    memcpy(body, "{\"tx\":\"", 7);
    qp_chain_hex(body + 7, tx, len);
    memcpy(body + 7 + 2 * len, "\"}", 3);
    rc = qp_cli_chain_http_request(&c->http, "POST", "/v1/chain/txs", body, strlen(body),
                                   CLIENT_REQUEST_MS);
    if (rc != 0 || c->http.status != 202) {
      take_error(c, "submitting the transaction");
      rc = c->http.status != 0 ? QP_EINVAL : QP_EIO;
    }
  }
  qp_free(body);
  qp_free(tx);
  return rc;
}

/* Polls for the receipt of hash_hex until deadline. */
static int await(qp_cli_chain_client_t *c, const char *hash_hex, uint64_t deadline_ns,
                 json_t **receipt) {
  char path[64 + 2 * QP_HASH_SIZE];
  snprintf(path, sizeof path, "/v1/chain/txs/%s", hash_hex);
  for (;;) {
    json_t *a = NULL;
    int rc = qp_cli_chain_client_get(c, path, &a);
    json_t *r = json_object_get(a, "receipt");
    if (rc == 0 && json_is_object(r)) {
      *receipt = json_incref(r);
      json_decref(a);
      return 0;
    }
    json_decref(a);
    if (qp_clock_mono_ns() + (uint64_t)CLIENT_POLL_MS * QP_NS_PER_MS >= deadline_ns) {
      snprintf(c->error, sizeof c->error, "%s was not committed in time", hash_hex);
      return QP_EAGAIN;
    }
    sleep_ms(CLIENT_POLL_MS);
  }
}

/* Whether the last refusal only says the nonce moved meanwhile. */
static bool nonce_moved(const qp_cli_chain_client_t *c) {
  char code[64];
  qp_cli_chain_http_error_code(&c->http, code, sizeof code);
  return strcmp(code, "nonce_used") == 0 || strcmp(code, "nonce_pending") == 0 ||
         strcmp(code, "duplicate") == 0;
}

int qp_cli_chain_client_call(qp_cli_chain_client_t *c, const char *app, const char *method,
                             const json_t *args, long wait_ms, json_t **receipt) {
  *receipt = NULL;
  char *text = qp_cli_json_text(args);
  if (text == NULL) return QP_ENOMEM;
  uint64_t deadline = qp_clock_mono_ns() + (uint64_t)wait_ms * QP_NS_PER_MS;
  char hash[2 * QP_HASH_SIZE + 1];
  int rc = QP_EIO;
  for (int attempt = 0; attempt < CLIENT_NONCE_RETRIES; attempt++) {
    qp_chain_tx_spec_t spec = {.chain = c->genesis, .app = app, .method = method,
                               .args = text, .args_len = strlen(text)};
    rc = next_nonce(c, &spec.nonce);
    if (rc == 0) rc = submit(c, &spec, hash);
    if (rc != QP_EINVAL || !nonce_moved(c)) break;
    sleep_ms(CLIENT_POLL_MS);
  }
  qp_free(text);
  return rc == 0 ? await(c, hash, deadline, receipt) : rc;
}

int qp_cli_chain_client_query(qp_cli_chain_client_t *c, const char *app, const char *method,
                              const json_t *args, json_t **result) {
  *result = NULL;
  json_t *body = json_pack("{s:s, s:s, s:O}", "app", app, "method", method, "args", args);
  char *text = qp_cli_json_text(body);
  json_decref(body);
  if (text == NULL) return QP_ENOMEM;
  int rc = qp_cli_chain_http_request(&c->http, "POST", "/v1/chain/query", text, strlen(text),
                                     CLIENT_REQUEST_MS);
  qp_free(text);
  if (rc != 0 || c->http.status != 200) {
    take_error(c, method);
    return c->http.status == 404 ? QP_ENOTFOUND : c->http.status != 0 ? QP_EINVAL : QP_EIO;
  }
  json_t *a = qp_cli_chain_http_json(&c->http);
  json_t *r = json_object_get(a, "result");
  *result = r != NULL ? json_incref(r) : NULL;
  json_decref(a);
  if (*result == NULL) snprintf(c->error, sizeof c->error, "%s: the answer has no result", method);
  return *result != NULL ? 0 : QP_EIO;
}
