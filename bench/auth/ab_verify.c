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
#define MSG_LEN (QB_AUTH_DATA_LEN + QP_HASH_SIZE) /* what the authenticator signs */
#define SLICE_MS 50u /* each loop's turn */
#define FNS_MAX 3u   /* loops measured side by side: module, its signature step, raw */

/* Pre-made assertions of one credential. */
typedef struct assertions {
  qp_auth_cose_key_t key;                       /* decoded from the credential's COSE key */
  uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES];    /* EdDSA: the raw key, for libsodium */
  uint8_t challenge[ASSERTIONS][32];            /* the server's challenge of each */
  char client_data[ASSERTIONS][QB_CLIENT_DATA_MAX]; /* clientDataJSON of each */
  size_t client_data_len[ASSERTIONS];           /* its bytes */
  uint8_t auth_data[ASSERTIONS][QB_AUTH_DATA_LEN]; /* authenticatorData of each */
  uint8_t msg[ASSERTIONS][MSG_LEN];             /* authData || SHA-256(clientDataJSON) */
  uint8_t sig[ASSERTIONS][QB_SIG_MAX];         /* the signature over msg */
  size_t sig_len[ASSERTIONS];                   /* its bytes (DER for ES256) */
} assertions_t;

static const char *const TYPES[] = {"webauthn.get", "payment.get"};
static const char *const ORIGINS[] = {ORIGIN};

/* One assertion i of authenticator a into s. */
static int make_one(qb_authn_t *a, assertions_t *s, uint32_t i) {
  char challenge[64];
  randombytes_buf(s->challenge[i], sizeof s->challenge[i]);
  int rc = qb_b64u(s->challenge[i], sizeof s->challenge[i], challenge, sizeof challenge);
  size_t n = rc == 0 ? qb_client_data(s->client_data[i], sizeof s->client_data[i],
                                       "webauthn.get", challenge, ORIGIN) : 0;
  if (n == 0) return QP_ERANGE;
  s->client_data_len[i] = n;
  rc = qb_authn_assert(a, RP_ID, (const uint8_t *)s->client_data[i], n, s->auth_data[i],
                        s->sig[i], &s->sig_len[i]);
  memcpy(s->msg[i], s->auth_data[i], QB_AUTH_DATA_LEN);
  qp_sha256(s->msg[i] + QB_AUTH_DATA_LEN, s->client_data[i], n);
  return rc;
}

static int make_assertions(int64_t alg, assertions_t *s) {
  qb_authn_t a;
  uint8_t *cose = NULL;
  size_t cose_len = 0, used = 0;
  int rc = qb_authn_init(&a, alg);
  if (rc == 0) rc = qb_authn_cose_key(&a, &cose, &cose_len);
  if (rc == 0 && (qp_auth_cose_decode(cose, cose_len, &used, &s->key, NULL) != 0 ||
                  used != cose_len))
    rc = QP_ECORRUPT;
  memcpy(s->ed_pk, a.ed_pk, sizeof s->ed_pk);
  for (uint32_t i = 0; rc == 0 && i < ASSERTIONS; i++) rc = make_one(&a, s, i);
  free(cose); /* libcbor's allocation */
  qb_authn_deinit(&a);
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
                               s->auth_data[i], QB_AUTH_DATA_LEN, sig, s->sig_len[i], &out,
                               NULL, &fail);
}

/* The module's signature step alone (qp_auth_verify: OpenSSL EVP for both
 * algorithms), to split the module's time between the crypto and the rest
 * (clientDataJSON parsing, hashing, authData checks). */
static int module_signature(const assertions_t *s, uint32_t i, const uint8_t *sig) {
  return qp_auth_verify(s->key.pkey, s->key.alg, s->auth_data[i], QB_AUTH_DATA_LEN,
                        s->msg[i] + QB_AUTH_DATA_LEN, QP_HASH_SIZE, sig, s->sig_len[i]);
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
    uint8_t bad[QB_SIG_MAX];
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

/* Verifications per second of fns[0..n) on this thread.  They take turns
 * in SLICE_MS slices (round and round the assertions) until each ran for
 * ms in all: the machine's load moves, and this way every figure sees the
 * same mix of it. */
static int rates(const assertions_t *s, const verify_fn *fns, size_t n, uint64_t ms,
                 double *per_s) {
  uint64_t count[FNS_MAX] = {0}, spent[FNS_MAX] = {0};
  int rc = 0;
  for (uint64_t done = 0; rc == 0 && done < ms * 1000000u; done += SLICE_MS * 1000000u) {
    for (size_t k = 0; rc == 0 && k < n; k++) {
      uint64_t t0 = qp_clock_mono_ns(), elapsed = 0;
      while (rc == 0 && elapsed < SLICE_MS * 1000000u) {
        for (uint32_t i = 0; rc == 0 && i < ASSERTIONS; i++, count[k]++)
          rc = fns[k](s, i, s->sig[i]);
        elapsed = qp_clock_mono_ns() - t0;
      }
      spent[k] += elapsed;
    }
  }
  for (size_t k = 0; k < n; k++)
    per_s[k] = spent[k] ? (double)count[k] * 1e9 / (double)spent[k] : 0;
  return rc == 0 ? 0 : QP_ECORRUPT;
}

/* The module's rate, its signature step's and the raw one for one
 * algorithm; the ratio of the first to the last. */
static int measure(const qab_config_t *cfg, int64_t alg, qb_report_t *rep) {
  bool es = alg == -7;
  const char *mod = es ? "auth_assert_es256" : "auth_assert_eddsa";
  const char *raw = es ? "p256_verify" : "ed25519_verify";
  const verify_fn fns[FNS_MAX] = {module_verify, module_signature,
                                  es ? p256_verify : ed25519_verify};
  double per_s[FNS_MAX] = {0};
  assertions_t *s = qp_calloc(1, sizeof *s);
  int rc = s != NULL ? make_assertions(alg, s) : QP_ENOMEM;
  if (rc == 0) rc = self_check(s, fns[0], mod);
  if (rc == 0) rc = self_check(s, fns[1], "qp_auth_verify");
  if (rc == 0) rc = self_check(s, fns[2], raw);
  if (rc == 0) rc = rates(s, fns, FNS_MAX, cfg->verify_ms, per_s);
  if (s != NULL) qp_auth_cose_key_deinit(&s->key);
  qp_free(s);
  if (rc != 0) return rc;
  char name[64];
  snprintf(name, sizeof name, "%s_per_s", mod);
  qb_report_add(rep, name, per_s[0], "verifications/s", 0);
  snprintf(name, sizeof name, "auth_signature_%s_per_s", es ? "es256" : "eddsa");
  qb_report_add(rep, name, per_s[1], "verifications/s", 0);
  snprintf(name, sizeof name, "%s_per_s", raw);
  qb_report_add(rep, name, per_s[2], "verifications/s", 0);
  snprintf(name, sizeof name, "%s_vs_%s", mod, es ? "p256" : "ed25519");
  qb_report_add(rep, name, per_s[2] > 0 ? per_s[0] / per_s[2] : 0, "x", 3);
  return 0;
}

int qab_verify_run(const qab_config_t *cfg, qb_report_t *rep) {
  printf("== in-process, one core: qp_auth_assert_verify, its signature step and the raw "
         "primitive, taking turns (%llu ms each)\n",
         (unsigned long long)cfg->verify_ms);
  int rc = measure(cfg, -7, rep);
  if (rc == 0) rc = measure(cfg, -8, rep);
  if (rc != 0) rep->failed = true;
  return rc;
}
