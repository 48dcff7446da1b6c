/*
 * cb_proof.c - proofs in the chain bench (issue 12, "Speed"): once the run
 * is checked, one node is asked for the proof of a committed transaction
 * (with its receipt), of the kv key it wrote and of a key nobody wrote;
 * their sizes are reported, and each is checked offline in-process
 * (qp_chain_proof_verify, what `quipu chain verify-proof` runs) many times
 * to give the time per check.  The bound beside it: the same number of
 * Ed25519 verifications at the rate measured at the start of the run.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "bench.h"
#include "chain/chain.h"
#include "chain_bench.h"

#define CHECKS 300u /* offline checks timed per proof */

/* GET path of node 0 and the "proof" member of its answer as text. */
static int fetch_proof(const qcb_net_t *net, void *e, const char *path, qp_buf_t *text,
                       json_t **answer) {
  char url[512];
  snprintf(url, sizeof url, "%s%s", net->url[0], path);
  qp_buf_t body = {.max = 16u << 20};
  long code = 0;
  int rc = 0;
  for (int tries = 0; tries < 50; tries++) { /* 503 while the head's certificate is not in */
    rc = qcb_http_get(e, url, &body, &code);
    if (rc != 0 || code != 503) break;
    struct timespec ts = {0, 20000000L};
    nanosleep(&ts, NULL);
  }
  if (rc == 0 && code != 200) rc = QP_EIO;
  *answer = rc == 0 ? json_loadb(body.data, body.len, 0, NULL) : NULL;
  json_t *proof = json_object_get(*answer, "proof");
  if (rc == 0 && proof == NULL) rc = QP_EPARSE;
  qp_buf_reset(text);
  size_t n = rc == 0 ? json_dumpb(proof, NULL, 0, JSON_COMPACT) : 0;
  char *dump = n > 0 ? qp_malloc(n) : NULL;
  if (rc == 0 && (dump == NULL || json_dumpb(proof, dump, n, JSON_COMPACT) != n ||
                  !qp_buf_append(text, dump, n)))
    rc = QP_ENOMEM;
  qp_free(dump);
  if (rc != 0) fprintf(stderr, "chain-bench: %s: HTTP %ld\n", url, code);
  qp_buf_free(&body);
  return rc;
}

/* Microseconds per offline check of text. */
static int time_checks(const qp_chain_genesis_t *g, const qp_buf_t *text, double *us) {
  char summary[1024], detail[512];
  uint64_t t0 = qp_clock_mono_ns();
  for (uint32_t i = 0; i < CHECKS; i++) {
    int rc = qp_chain_proof_verify(g, text->data, text->len, summary, sizeof summary, detail,
                                   sizeof detail);
    if (rc != 0) {
      fprintf(stderr, "chain-bench: a proof from the node does not verify: %s\n", detail);
      return rc;
    }
  }
  *us = (double)(qp_clock_mono_ns() - t0) / 1e3 / CHECKS;
  return 0;
}

static int one(const qcb_net_t *net, const qp_chain_genesis_t *g, void *e, const char *name,
               const char *path, json_t **answer, qb_report_t *rep, double verify_per_s) {
  qp_buf_t text = {.max = 16u << 20};
  double us = 0;
  int rc = fetch_proof(net, e, path, &text, answer);
  if (rc == 0) rc = time_checks(g, &text, &us);
  if (rc == 0) {
    char key[64];
    const char *prefix = g->suite == QP_SUITE_SM2 ? "sm2_" : ""; /* as the run's figures */
    snprintf(key, sizeof key, "%sproof_%s_bytes", prefix, name);
    qb_report_add(rep, key, (double)text.len, "bytes", 0);
    snprintf(key, sizeof key, "%sproof_%s_verify_us", prefix, name);
    qb_report_add(rep, key, us, "us", 1);
    /* The signatures a check verifies: 2 QCs of n - f, plus the tx's own. */
    double sigs = 2.0 * qp_chain_quorum(g->validators_count) + (strcmp(name, "tx") == 0);
    printf("   proof of %-11s %6zu bytes (JSON), checked offline in %7.1f us "
           "(%.0f signatures at the bound: %.1f us)\n", name, text.len, us, sigs,
           sigs * 1e6 / verify_per_s);
  }
  qp_buf_free(&text);
  return rc;
}

int qcb_proofs_run(const qcb_net_t *net, const qcb_txs_t *txs, double verify_per_s,
                   qb_report_t *rep) {
  qp_chain_genesis_t g;
  char home[600], detail[256], hex[2 * QP_HASH_SIZE + 1], path[300];
  snprintf(home, sizeof home, "%s/node0", net->dir);
  if (qp_chain_genesis_load(home, &g, detail, sizeof detail) != 0) {
    fprintf(stderr, "chain-bench: genesis: %s\n", detail);
    return QP_EIO;
  }
  CURL *e = curl_easy_init();
  if (e == NULL) return QP_ENOMEM;
  printf("-- proofs (GET …?proof=1 from node 0; quipu chain verify-proof's check, in-process)\n");
  qp_hex(hex, txs->txs[txs->count / 2].hash, QP_HASH_SIZE);
  snprintf(path, sizeof path, "/v1/chain/txs/%s?proof=1", hex);
  json_t *tx_answer = NULL, *kv_answer = NULL, *none = NULL;
  int rc = one(net, &g, e, "tx", path, &tx_answer, rep, verify_per_s);
  const char *key = json_string_value(
      json_object_get(json_object_get(json_object_get(tx_answer, "receipt"), "result"), "key"));
  /* A kv put's receipt names its key; a contract call's (--lua) has none:
   * then only the absent key's proof is shown. */
  if (rc == 0 && key == NULL)
    printf("   proof of kv          (the run's transactions are contract calls: no kv key)\n");
  if (rc == 0 && key != NULL) snprintf(path, sizeof path, "/v1/chain/kv/%s?proof=1", key);
  if (rc == 0 && key != NULL) rc = one(net, &g, e, "kv", path, &kv_answer, rep, verify_per_s);
  if (rc == 0)
    rc = one(net, &g, e, "kv_absent", "/v1/chain/kv/never-written?proof=1", &none, rep,
             verify_per_s);
  json_decref(tx_answer);
  json_decref(kv_answer);
  json_decref(none);
  curl_easy_cleanup(e);
  return rc;
}
