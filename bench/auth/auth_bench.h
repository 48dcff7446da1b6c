/*
 * auth_bench.h - quipu-auth-bench (issue 14, "Speed"): how fast the auth
 * module checks a WebAuthn assertion, and how fast a real node confirms
 * payments over HTTP.
 *
 * Two parts.  In-process, on one core: qp_auth_assert_verify (what
 * POST /v1/payment-intents/{id}/confirm calls on the assertion) over
 * assertions of a stored ES256 and a stored EdDSA credential, beside the raw
 * primitives it stands on, measured in the same run as the bound: OpenSSL's
 * EVP P-256 ECDSA verify and libsodium's crypto_sign_verify_detached over
 * the same signed bytes.  Over HTTP: a real `quipu node` with the ledger and
 * auth modules in a temp dir, one registered credential per simulated user
 * (a software authenticator in C: keys from OpenSSL and libsodium, the
 * attestation object built with libcbor), then payments - intent, challenge,
 * an assertion signed over the returned challenge, confirm - over
 * concurrent keep-alive connections (libcurl multi), and a check that every
 * confirmed payment's hold is posted in the ledger.
 *
 * The pieces: ../bench_authn.c (the software authenticator, shared with the
 * payments bench), ab_verify.c (the
 * in-process part), ab_node.c (the node's process and plain HTTP calls),
 * ab_setup.c (accounts, funding, users, registrations), ab_load.c (the
 * payments over libcurl multi), ab_check.c (the refused payment, the ledger
 * read back), ab_http.c (the HTTP part's order and figures), ab_main.c
 * (flags, the report).  docs/bench.md, "Auth benchmark".
 */
#ifndef QAB_AUTH_BENCH_H
#define QAB_AUTH_BENCH_H

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench.h"
#include "bench_authn.h"
#include "bench_int.h"

#define QAB_USERS_MAX 65536u     /* simulated users of one run */
#define QAB_PAYMENTS_MAX 1000000u /* payments of one phase */
#define QAB_LANES_MAX 256u       /* concurrent connections */
#define QAB_CHALLENGE_TEXT_MAX 200u /* a base64url challenge as the node sends it */
#define QAB_BODY_MAX QB_NODE_BODY_MAX /* bytes of one answer the bench reads */
/* The node holds at most 4096 challenges not yet used (QP_AUTH_CEREMONIES_MAX,
 * docs/auth.md; a used one's slot is reused when needed): past that it
 * answers 429 too_many_ceremonies.  The confirm phase prepares every
 * payment's challenge before confirming any, so the registrations, those
 * and the refused payment's must fit at once. */
#define QAB_CHALLENGES_MAX 4096u

/* The run's configuration, from flags. */
typedef struct qab_config {
  const char *quipu;       /* path of the quipu binary; NULL = in-process part only */
  const char *tmp_dir;     /* where the node's home goes */
  uint32_t users;          /* simulated users, each with one credential (a multiple of lanes) */
  uint32_t payments;       /* payments of the confirm phase, and again of the flow phase */
  uint32_t lanes;          /* concurrent keep-alive connections */
  uint64_t verify_ms;      /* how long each in-process loop runs */
  bool quick;              /* --quick: the small run */
  bool keep;               /* keep the node's directory (BENCH_KEEP) */
} qab_config_t;

/* ------------------------------------------------------- in-process */

/* The in-process figures (RESULT auth_assert_*, p256_verify_per_s,
 * ed25519_verify_per_s and the ratios) on this thread.  Returns 0,
 * QP_ECORRUPT (a good assertion was refused or a bad one accepted: the run
 * fails) or QP_ENOMEM. */
int qab_verify_run(const qab_config_t *cfg, qb_report_t *rep);

/* ------------------------------------------------------------- HTTP */

/* The HTTP part (ab_http.c): node, setup, the three phases, the ledger
 * check, the RESULT lines.  Returns 0, QP_ECORRUPT (a check failed),
 * QP_EIO or QP_ENOMEM; rep->failed is set on any failure. */
int qab_http_run(const qab_config_t *cfg, qb_report_t *rep);

/* ------------------------------------------------------------- node */

/* A running `quipu node` (ledger + auth) on 127.0.0.1:port. */
typedef qb_node_t qab_node_t;

/* Writes node.json, makes an API key (`quipu keys create`), starts the node
 * and waits for /healthz.  Returns 0 or QP_EIO (its log tail is printed). */
int qab_node_start(const qab_config_t *cfg, qab_node_t *n);

/* SIGTERM, wait (SIGKILL after 20 s), remove the dir unless keep.  Returns
 * 0, or QP_EIO when the node did not exit with 0. */
int qab_node_stop(qab_node_t *n, bool keep);

/* CPU seconds (user + system) the node used so far, from /proc; -1 when
 * unknown. */
double qab_node_cpu_s(const qab_node_t *n);

/* One request on the keep-alive easy handle e: method and path on the node,
 * body (may be NULL) sent as JSON.  *out gets the parsed answer (NULL when
 * it is not JSON; the caller json_decref()s it), *code the HTTP status.
 * Returns 0 or QP_EIO (transport). */
int qab_call(void *e, const qab_node_t *n, const char *method, const char *path,
             json_t *body, json_t **out, long *code);

/* ---------------------------------------------------------- payments */

/* A simulated user: the ledger account that pays, and the credential. */
typedef struct qab_user {
  char id[40];           /* the auth module's user id (hex) */
  uint64_t account;      /* its payer account (ledger 840) */
  qb_authn_t authn;     /* its one credential */
  uint64_t paid;         /* sum of the amounts confirmed (checked against the ledger) */
} qab_user_t;

/* One payment and its timings. */
typedef struct qab_pay {
  uint32_t user;              /* index of the payer */
  uint64_t amount;            /* minor units, 1..10000 */
  char intent[40];            /* the intent id (hex) */
  char transfer_id[48];       /* the hold (pending transfer), decimal */
  char *confirm_body;         /* the signed confirm request (qp_malloc'ed) */
  uint64_t start_ns;          /* the intent request was handed to curl */
  uint64_t confirm_start_ns;  /* the confirm request was handed to curl */
  uint64_t confirm_ns;        /* confirm latency */
  uint64_t flow_ns;           /* intent request to confirm answer */
  bool confirmed;             /* the node answered 200 "succeeded" */
} qab_pay_t;

#define QAB_MERCHANT_ACCOUNT 2u /* the payee of every payment */
#define QAB_FUNDING_ACCOUNT 1u  /* funds every payer */
#define QAB_LEDGER 840u
#define QAB_FUNDING 1000000000ull /* minor units given to each payer */

/* Creates the accounts, funds every payer, creates the users and
 * registers one credential each (alternately ES256 and EdDSA).  Returns 0,
 * QP_EIO (a refusal: printed) or QP_ENOMEM. */
int qab_setup(const qab_config_t *cfg, const qab_node_t *n, qab_user_t *users);

/* What a phase runs: the steps each payment goes through. */
typedef enum qab_phase {
  QAB_PHASE_PREPARE, /* intent + challenge; the assertion is signed and kept */
  QAB_PHASE_CONFIRM, /* the kept confirm requests only */
  QAB_PHASE_FLOW     /* intent, challenge, sign, confirm: the whole flow */
} qab_phase_t;

/* Runs pays[0..count) over cfg->lanes connections: payment i on lane
 * i % lanes, each lane's in order (a user's payments share a lane, so its
 * signCount rises in the order the node sees).  *elapsed_ns is first
 * request to last answer.  Returns 0, or QP_EIO (a transport failure or an
 * unexpected answer: printed) or QP_ENOMEM. */
int qab_load_run(const qab_config_t *cfg, const qab_node_t *n, qab_user_t *users,
                 qab_pay_t *pays, uint32_t count, qab_phase_t phase, uint64_t *elapsed_ns);

/* Reads the ledger back: every confirmed payment's hold is posted
 * (pending_state "posted"), every payer's debits_posted is what it paid and
 * nothing is pending, the merchant was credited the sum.  Prints each
 * difference.  Returns 0, QP_ECORRUPT (a difference) or QP_EIO. */
int qab_check_ledger(const qab_config_t *cfg, const qab_node_t *n, const qab_user_t *users,
                     const qab_pay_t *pays, uint32_t count);

/* One payment of user u (from its payer account, set up already) with a
 * signature bit flipped: the node must refuse the confirm with
 * signature_invalid and leave the hold pending; the intent is then
 * cancelled (the hold voided, so the balances checked later are
 * unchanged).  Returns 0, QP_ECORRUPT (printed) or QP_EIO. */
int qab_check_refusal(const qab_node_t *n, qab_user_t *u);

#endif
