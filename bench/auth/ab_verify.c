/*
 * ab_verify.c - the in-process part: assertion verifications per second on
 * one core through qp_auth_assert_verify, the function the confirm route
 * runs on an assertion (clientDataJSON: type, challenge, origin; authData:
 * rpIdHash, flags, signCount; the signature over authData || SHA-256 of
 * clientDataJSON), for a stored ES256 and a stored EdDSA credential.  The
 * key is decoded from its COSE form by the module's decoder, as the route
 * does from the stored record.  Beside each, in the same run, the raw
 * primitive over the same signed bytes - OpenSSL's EVP P-256 ECDSA verify
 * with SHA-256 and libsodium's crypto_sign_verify_detached - which is the
 * bound the module's rate is compared with.
 *
 * Before the clock: ASSERTIONS assertions, each over its own random
 * challenge, signed by the software authenticator with real keys.  Each is
 * checked once to verify and once, with one signature bit flipped, to be
 * refused with signature_invalid, so that neither loop can be measuring a
 * check that does nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_bench.h"
#include "auth/assert.h"
#include "auth/cose.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "crypto/crypto.h"

#define ASSERTIONS 256u
#define RP_ID "bench.example"
#define ORIGIN "https://bench.example"
#define MSG_LEN (QAB_AUTH_DATA_LEN + QP_HASH_SIZE) /* what the authenticator signs */

/* Pre-made assertions of one credential. */
typedef struct assertions {
  qp_auth_cose_key_t key;                       /* decoded from the credential's COSE key */
  uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES];    /* EdDSA: the raw key, for libsodium */
  uint8_t challenge[ASSERTIONS][32];            /* the server's challenge of each */
  char client_data[ASSERTIONS][QAB_CLIENT_DATA_MAX];
  size_t client_data_len[ASSERTIONS];
  uint8_t auth_data[ASSERTIONS][QAB_AUTH_DATA_LEN];
  uint8_t msg[ASSERTIONS][MSG_LEN];             /* authData || SHA-256(clientDataJSON) */
  uint8_t sig[ASSERTIONS][QAB_SIG_MAX];
  size_t sig_len[ASSERTIONS];
} assertions_t;

static const char *const TYPES[] = {"webauthn.get", "payment.get"};
static const char *const ORIGINS[] = {ORIGIN};

/* One assertion i of authenticator a into s. */
static int make_one(qab_authn_t *a, assertions_t *s, uint32_t i) {
  char challenge[64];
  randombytes_buf(s->challenge[i], sizeof s->challenge[i]);
  int rc = qab_b64u(s->challenge[i], sizeof s->challenge[i], challenge, sizeof challenge);
  size_t n = rc == 0 ? qab_client_data(s->client_data[i], sizeof s->client_data[i],
                                       "webauthn.get", challenge, ORIGIN) : 0;
  if (n == 0) return QP_ERANGE;
  s->client_data_len[i] = n;
  rc = qab_authn_assert(a, RP_ID, (const uint8_t *)s->client_data[i], n, s->auth_data[i],
                        s->sig[i], &s->sig_len[i]);
  memcpy(s->msg[i], s->auth_data[i], QAB_AUTH_DATA_LEN);
  qp_sha256(s->msg[i] + QAB_AUTH_DATA_LEN, s->client_data[i], n);
  return rc;
}

static int make_assertions(int64_t alg, assertions_t *s) {
  qab_authn_t a;
  uint8_t *cose = NULL;
  size_t cose_len = 0, used = 0;
  int rc = qab_authn_init(&a, alg);
  if (rc == 0) rc = qab_authn_cose_key(&a, &cose, &cose_len);
  if (rc == 0 && (qp_auth_cose_decode(cose, cose_len, &used, &s->key, NULL) != 0 ||
                  used != cose_len))
    rc = QP_ECORRUPT;
  memcpy(s->ed_pk, a.ed_pk, sizeof s->ed_pk);
  for (uint32_t i = 0; rc == 0 && i < ASSERTIONS; i++) rc = make_one(&a, s, i);
  free(cose); /* libcbor's allocation */
  qab_authn_deinit(&a);
  return rc;
}

/* qp_auth_assert_verify on assertion i, as the confirm route calls it for
 * a credential whose stored count is 0 (every pre-made count is above). */
static int module_verify(const assertions_t *s, uint32_t i, const uint8_t *sig) {
  qp_auth_origin_policy_t policy = {ORIGINS, 1, false, NULL, 0};
  qp_auth_assert_expect_t ex = {RP_ID, true, {TYPES, 2, s->challenge[i], 32, &policy},
                                s->key.pkey, s->key.alg, 0, false};
  qp_auth_assertion_t out;
  qp_auth_fail_t fail = {0};
  return qp_auth_assert_verify(&ex, (const uint8_t *)s->client_data[i], s->client_data_len[i],
                               s->auth_data[i], QAB_AUTH_DATA_LEN, sig, s->sig_len[i], &out,
                               NULL, &fail);
}

/* OpenSSL's own P-256 ECDSA verification with SHA-256, nothing around it. */
static int p256_verify(const assertions_t *s, uint32_t i, const uint8_t *sig) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = md != NULL ? EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, s->key.pkey) : 0;
  if (ok == 1) ok = EVP_DigestVerify(md, sig, s->sig_len[i], s->msg[i], MSG_LEN);
  EVP_MD_CTX_free(md);
  return ok == 1 ? 0 : QP_EBADSIG;
}

/* libsodium's Ed25519 verification, nothing around it. */
static int ed25519_verify(const assertions_t *s, uint32_t i, const uint8_t *sig) {
  return crypto_sign_verify_detached(sig, s->msg[i], MSG_LEN, s->ed_pk) == 0 ? 0 : QP_EBADSIG;
}

typedef int (*verify_fn)(const assertions_t *s, uint32_t i, const uint8_t *sig);

/* Every assertion verifies, and with one bit of its signature flipped does
 * not: 0, or QP_ECORRUPT naming the first that behaved otherwise. */
static int self_check(const assertions_t *s, verify_fn fn, const char *name) {
  for (uint32_t i = 0; i < ASSERTIONS; i++) {
    uint8_t bad[QAB_SIG_MAX];
    memcpy(bad, s->sig[i], s->sig_len[i]);
    bad[s->sig_len[i] - 5] ^= 0x01;
    if (fn(s, i, s->sig[i]) != 0 || fn(s, i, bad) == 0) {
      fprintf(stderr, "auth-bench: %s: assertion %u: good one refused or bad one accepted\n",
              name, i);
      return QP_ECORRUPT;
    }
  }
  return 0;
}

/* Verifications per second on this thread, round and round for ms. */
static int rate(const assertions_t *s, verify_fn fn, uint64_t ms, double *per_s) {
  uint64_t count = 0, t0 = qp_clock_mono_ns(), elapsed = 0;
  int rc = 0;
  while (rc == 0 && elapsed < ms * 1000000u) {
    for (uint32_t i = 0; rc == 0 && i < ASSERTIONS; i++, count++) rc = fn(s, i, s->sig[i]);
    elapsed = qp_clock_mono_ns() - t0;
  }
  *per_s = elapsed ? (double)count * 1e9 / (double)elapsed : 0;
  return rc == 0 ? 0 : QP_ECORRUPT;
}

/* The module's rate and the raw one for one algorithm; the ratio. */
static int measure(const qab_config_t *cfg, int64_t alg, qb_report_t *rep) {
  bool es = alg == -7;
  const char *mod = es ? "auth_assert_es256" : "auth_assert_eddsa";
  const char *raw = es ? "p256_verify" : "ed25519_verify";
  verify_fn raw_fn = es ? p256_verify : ed25519_verify;
  assertions_t *s = qp_calloc(1, sizeof *s);
  int rc = s != NULL ? make_assertions(alg, s) : QP_ENOMEM;
  if (rc == 0) rc = self_check(s, module_verify, mod);
  if (rc == 0) rc = self_check(s, raw_fn, raw);
  double mod_per_s = 0, raw_per_s = 0;
  /* The raw loop first and again after, averaged: the machine's load moves. */
  double raw_a = 0, raw_b = 0;
  if (rc == 0) rc = rate(s, raw_fn, cfg->verify_ms / 2, &raw_a);
  if (rc == 0) rc = rate(s, module_verify, cfg->verify_ms, &mod_per_s);
  if (rc == 0) rc = rate(s, raw_fn, cfg->verify_ms / 2, &raw_b);
  if (s != NULL) qp_auth_cose_key_deinit(&s->key);
  qp_free(s);
  if (rc != 0) return rc;
  raw_per_s = (raw_a + raw_b) / 2;
  char name[64];
  snprintf(name, sizeof name, "%s_per_s", mod);
  qb_report_add(rep, name, mod_per_s, "verifications/s", 0);
  snprintf(name, sizeof name, "%s_per_s", raw);
  qb_report_add(rep, name, raw_per_s, "verifications/s", 0);
  snprintf(name, sizeof name, "%s_vs_%s", mod, es ? "p256" : "ed25519");
  qb_report_add(rep, name, raw_per_s > 0 ? mod_per_s / raw_per_s : 0, "x", 3);
  return 0;
}

int qab_verify_run(const qab_config_t *cfg, qb_report_t *rep) {
  printf("== in-process, one core: qp_auth_assert_verify vs the raw primitive (%llu ms each)\n",
         (unsigned long long)cfg->verify_ms);
  int rc = measure(cfg, -7, rep);
  if (rc == 0) rc = measure(cfg, -8, rep);
  if (rc != 0) rep->failed = true;
  return rc;
}
