/*
 * cb_receivable.c - the receivable run of quipu-chain-bench (--receivable,
 * docs/bench.md, "Chain benchmark"): receivable `issue` calls through
 * consensus instead of kv puts.  Before the clock starts, the registrar
 * (DIR/registrar.key of `quipu chain init`) registers a funder, a supplier
 * and every sender as a core enterprise, and the funder grants each core
 * a credit line; those setup transactions are submitted in chunks of the
 * mempool's nonce window, waited for, and each receipt must read ok.  The
 * run's transactions are then issues by the cores to the supplier (amount
 * 1, far maturity), each one a credit check, a voucher, a tree and an
 * outstanding total written: the app's busiest common path.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "chain/chain.h"
#include "chain_bench.h"

#define RCV_CHUNK 64u             /* a sender's transactions in flight: the nonce window */
#define RCV_TX_BYTES_MAX 65536u   /* genesis params.tx_bytes_max of `chain init` */
#define RCV_WAIT_MS 30000L        /* for a chunk to commit */
#define RCV_MATURITY 4102444800LL /* 2100-01-01: never due during a run */
#define RCV_LEDGER 1

/* One setup sender and what it signed. */
typedef struct signer {
  qp_sign_key_t *key;                          /* owned */
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1];        /* its public key */
  uint64_t nonce;                              /* the last used */
} signer_t;

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void public_hex(const qp_sign_key_t *key, char out[2 * QP_SIGN_PUBLIC_MAX + 1]) {
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  qp_sign_public(key, pub, &len);
  qp_chain_hex(out, pub, len);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
  return qp_buf_append(ctx, p, size * n) ? size * n : 0;
}

/* POST body to url; *code the status, out the answer. */
static int http_post(CURL *e, const char *url, const char *body, qp_buf_t *out, long *code) {
  qp_buf_reset(out);
  *code = 0;
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  CURLcode rc = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
  curl_slist_free_all(h);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  return rc == CURLE_OK ? 0 : QP_EIO;
}

/* Signs s's next transaction; appends "<hex>" to the batch array and its
 * hash to hashes. */
static int sign_into(signer_t *s, const uint8_t genesis[QP_HASH_SIZE], const char *app,
                     const char *method, json_t *args, json_t *batch, json_t *hashes) {
  char text[1024], detail[256], hash_hex[2 * QP_HASH_SIZE + 1];
  size_t n = json_dumpb(args, text, sizeof text - 1, JSON_COMPACT);
  json_decref(args);
  if (n == 0 || n >= sizeof text - 1) return QP_ENOMEM;
  qp_chain_tx_spec_t spec = {.chain = genesis, .nonce = ++s->nonce, .app = app,
                             .method = method, .args = text, .args_len = n};
  uint8_t *tx = NULL, hash[QP_HASH_SIZE];
  size_t len = 0;
  int rc = qp_chain_tx_make(s->key, &spec, RCV_TX_BYTES_MAX, &tx, &len, detail, sizeof detail);
  char *hex = rc == 0 ? qp_malloc(2 * len + 1) : NULL;
  if (rc == 0 && hex == NULL) rc = QP_ENOMEM;
  if (rc == 0) rc = qp_suite_hash(qp_sign_key_suite(s->key), hash, tx, len);
  if (rc == 0) {
    qp_chain_hex(hex, tx, len);
    qp_chain_hex(hash_hex, hash, QP_HASH_SIZE);
    json_array_append_new(batch, json_string(hex));
    json_array_append_new(hashes, json_string(hash_hex));
  }
  if (rc != 0) fprintf(stderr, "chain-bench: receivable setup: %s %s\n", qp_strerror(rc), detail);
  qp_free(hex);
  qp_free(tx);
  return rc;
}

/* POSTs {"txs": batch} to url; *retry gets the elements refused for a
 * reason that passes (nonce_too_far: the node's mempool has not yet read
 * the sender's nonce that the previous chunk committed; mempool_full), any
 * other refusal fails.  0, or QP_EIO with the answer printed. */
static int post_batch(CURL *e, const char *url, json_t *batch, json_t **retry, qp_buf_t *out) {
  *retry = json_array();
  char *body = NULL;
  json_t *wrap = json_pack("{s:O}", "txs", batch);
  size_t n = wrap != NULL ? json_dumpb(wrap, NULL, 0, JSON_COMPACT) : 0;
  if (n > 0 && (body = qp_malloc(n + 1)) != NULL) {
    json_dumpb(wrap, body, n, JSON_COMPACT);
    body[n] = '\0';
  }
  json_decref(wrap);
  long code = 0;
  int rc = body != NULL && *retry != NULL ? http_post(e, url, body, out, &code) : QP_ENOMEM;
  qp_free(body);
  json_t *a = rc == 0 && code == 200 ? json_loadb(out->data, out->len, 0, NULL) : NULL;
  json_t *results = json_object_get(a, "results");
  bool ok = json_array_size(results) == json_array_size(batch);
  for (size_t i = 0; ok && i < json_array_size(results); i++) {
    const char *r = json_string_value(json_object_get(json_array_get(results, i), "result"));
    bool again = r != NULL && (strcmp(r, "nonce_too_far") == 0 || strcmp(r, "mempool_full") == 0);
    if (again) json_array_append(*retry, json_array_get(batch, i));
    else ok = r != NULL && json_object_get(json_array_get(results, i), "message") == NULL;
  }
  json_decref(a);
  if (rc == 0 && !ok) {
    fprintf(stderr, "chain-bench: receivable setup refused: HTTP %ld %.300s\n", code,
            out->data ? out->data : "");
    rc = QP_EIO;
  }
  return rc;
}

/* Submits the batch to node 0 (every element must be admitted; those
 * refused nonce_too_far or mempool_full are sent again 20 ms later, as the
 * load does) and waits until s's committed nonce reaches its last. */
static int submit_wait(const qcb_net_t *net, CURL *e, const signer_t *s, json_t *batch) {
  qp_buf_t out = {.max = 16u << 20};
  char url[300];
  long code = 0;
  snprintf(url, sizeof url, "%s/v1/chain/txs", net->url[0]);
  uint64_t deadline = qp_clock_mono_ns() + (uint64_t)RCV_WAIT_MS * QP_NS_PER_MS;
  json_t *left = json_incref(batch), *retry = NULL;
  int rc = 0;
  while (rc == 0 && json_array_size(left) > 0) {
    rc = post_batch(e, url, left, &retry, &out);
    json_decref(left);
    left = retry;
    if (rc == 0 && json_array_size(left) > 0 && qp_clock_mono_ns() > deadline) rc = QP_EIO;
    if (rc == 0 && json_array_size(left) > 0) {
      printf("   receivable setup: %zu refused nonce_too_far or mempool_full, sent again\n",
             json_array_size(left));
      sleep_ms(20);
    }
  }
  json_decref(left);
  snprintf(url, sizeof url, "%s/v1/chain/nonce/%s", net->url[0], s->hex);
  deadline = qp_clock_mono_ns() + (uint64_t)RCV_WAIT_MS * QP_NS_PER_MS;
  for (bool done = false; rc == 0 && !done;) {
    json_t *a = qcb_http_get(e, url, &out, &code) == 0 && code == 200
                    ? json_loadb(out.data, out.len, 0, NULL)
                    : NULL;
    done = (uint64_t)json_integer_value(json_object_get(a, "committed_nonce")) >= s->nonce;
    json_decref(a);
    if (!done && qp_clock_mono_ns() > deadline) rc = QP_EIO;
    if (!done) sleep_ms(20);
  }
  if (rc != 0) fprintf(stderr, "chain-bench: receivable setup: not committed in time\n");
  qp_buf_free(&out);
  return rc;
}

/* Every setup receipt (hashes) reads ok. */
static int receipts_ok(const qcb_net_t *net, CURL *e, const json_t *hashes) {
  qp_buf_t out = {.max = 1u << 20};
  size_t i;
  json_t *h;
  int rc = 0;
  json_array_foreach((json_t *)hashes, i, h) {
    char url[300];
    long code = 0;
    snprintf(url, sizeof url, "%s/v1/chain/txs/%s", net->url[0], json_string_value(h));
    json_t *a = rc == 0 && qcb_http_get(e, url, &out, &code) == 0 && code == 200
                    ? json_loadb(out.data, out.len, 0, NULL)
                    : NULL;
    const char *status = json_string_value(json_object_get(json_object_get(a, "receipt"),
                                                           "status"));
    if (rc == 0 && (status == NULL || strcmp(status, "ok") != 0)) {
      fprintf(stderr, "chain-bench: receivable setup receipt: %.300s\n", out.data ? out.data : "");
      rc = QP_EIO;
    }
    json_decref(a);
  }
  qp_buf_free(&out);
  return rc;
}

/* Signs count calls of s (one per call of make(i)), submits them in
 * chunks of the nonce window, waits for each, checks every receipt. */
static int send_all(const qcb_net_t *net, CURL *e, signer_t *s, const char *app,
                    const char *method, uint32_t count,
                    json_t *(*make)(const qcb_rcv_t *r, uint32_t i), const qcb_rcv_t *r) {
  json_t *hashes = json_array();
  int rc = hashes != NULL ? 0 : QP_ENOMEM;
  for (uint32_t first = 0; rc == 0 && first < count; first += RCV_CHUNK) {
    json_t *batch = json_array();
    for (uint32_t i = first; rc == 0 && i < count && i < first + RCV_CHUNK; i++)
      rc = sign_into(s, net->genesis, app, method, make(r, i), batch, hashes);
    if (rc == 0) rc = submit_wait(net, e, s, batch);
    json_decref(batch);
  }
  if (rc == 0) rc = receipts_ok(net, e, hashes);
  json_decref(hashes);
  return rc;
}

/* The registrar's call i: the funder, the supplier, then each core. */
static json_t *register_call(const qcb_rcv_t *r, uint32_t i) {
  const char *key = i == 0 ? r->funder : i == 1 ? r->supplier : r->cores[i - 2];
  const char *role = i == 0 ? "funder" : i == 1 ? "supplier" : "core";
  char name[32];
  if (i < 2) snprintf(name, sizeof name, "%s", role);
  else snprintf(name, sizeof name, "core-%u", i - 2);
  return json_pack("{s:s, s:s, s:s}", "key", key, "name", name, "role", role);
}

/* The funder's call i: a credit line for core i. */
static json_t *credit_call(const qcb_rcv_t *r, uint32_t i) {
  return json_pack("{s:s, s:s, s:i, s:I}", "core", r->cores[i], "amount", "1000000000000",
                   "ledger", RCV_LEDGER, "expiry", (json_int_t)RCV_MATURITY);
}

void qcb_rcv_free(qcb_rcv_t *r) {
  for (uint32_t i = 0; r->keys != NULL && i < r->count; i++) qp_sign_key_free(r->keys[i]);
  qp_free(r->keys);
  qp_free(r->cores);
  memset(r, 0, sizeof *r);
}

/* The cores' keys, in memory, and their public keys. */
static int make_cores(const qcb_config_t *cfg, qcb_rcv_t *r) {
  r->count = cfg->senders;
  r->keys = qp_calloc(r->count, sizeof *r->keys);
  r->cores = qp_calloc(r->count, sizeof *r->cores);
  int rc = r->keys != NULL && r->cores != NULL ? 0 : QP_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < r->count; i++) {
    rc = qp_sign_keygen(cfg->suite, &r->keys[i]);
    if (rc == 0) public_hex(r->keys[i], r->cores[i]);
  }
  return rc;
}

int qcb_rcv_setup(const qcb_config_t *cfg, const qcb_net_t *net, qcb_rcv_t *r) {
  memset(r, 0, sizeof *r);
  char path[600], detail[512];
  signer_t registrar = {0}, funder = {0};
  qp_sign_key_t *supplier = NULL;
  uint64_t t0 = qp_clock_mono_ns();
  snprintf(path, sizeof path, "%s/registrar.key", net->dir);
  int rc = qp_chain_keyfile_read(path, &registrar.key, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "chain-bench: %s\n", detail);
  if (rc == 0) rc = qp_sign_keygen(cfg->suite, &funder.key);
  if (rc == 0) rc = qp_sign_keygen(cfg->suite, &supplier);
  if (rc == 0) rc = make_cores(cfg, r);
  if (rc == 0) {
    public_hex(registrar.key, registrar.hex);
    public_hex(funder.key, funder.hex);
    public_hex(supplier, r->supplier);
    memcpy(r->funder, funder.hex, sizeof r->funder);
  }
  CURL *e = rc == 0 ? curl_easy_init() : NULL;
  if (rc == 0 && e == NULL) rc = QP_ENOMEM;
  if (rc == 0)
    rc = send_all(net, e, &registrar, "registry", "register", r->count + 2, register_call, r);
  if (rc == 0)
    rc = send_all(net, e, &funder, "registry", "grant_credit", r->count, credit_call, r);
  if (rc == 0) {
    r->setup_txs = (uint32_t)(registrar.nonce + funder.nonce);
    printf("-- receivable setup: %u cores, a funder and a supplier registered, %u credit "
           "lines granted (%u transactions, every receipt ok) in %.2f s\n", r->count, r->count,
           r->setup_txs, (double)(qp_clock_mono_ns() - t0) / 1e9);
  }
  if (e != NULL) curl_easy_cleanup(e);
  qp_sign_key_free(registrar.key);
  qp_sign_key_free(funder.key);
  qp_sign_key_free(supplier);
  if (rc != 0) qcb_rcv_free(r);
  return rc;
}

int qcb_rcv_issue_args(const qcb_rcv_t *r, uint64_t run, uint32_t s, uint64_t nonce, char *out,
                       size_t size) {
  int n = snprintf(out, size, "{\"to\":\"%s\",\"amount\":\"1\",\"ledger\":%d,"
                   "\"maturity\":%lld,\"reference\":\"b%llx-%u-%llu\"}", r->supplier,
                   RCV_LEDGER, RCV_MATURITY, (unsigned long long)run, s,
                   (unsigned long long)nonce);
  return n > 0 && (size_t)n < size ? n : -1;
}
