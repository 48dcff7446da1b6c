/*
 * genesis.h - a chain's genesis: what every node of one network agrees on
 * before the first block (docs/chain.md).  `genesis.json` in each node's
 * home holds it; `quipu chain init` writes it.
 *
 *   {"chain_id":"quipu-demo","suite":"ed25519",
 *    "validators":[{"name":"node0","public_key":"<hex>"},…],
 *    "params":{"block_txs_max":4096,"block_bytes_max":4194304,
 *              "view_timeout_ms":1000,"tx_bytes_max":65536},
 *    "registrar":"<hex>"}            (optional: the registry app's registrar)
 *
 * Its hash (the suite's hash of the canonical encoding below) names the
 * network: peers and signed messages carry it, so nodes of different
 * genesis never talk or accept each other's signatures.
 */
#ifndef QP_CHAIN_GENESIS_H
#define QP_CHAIN_GENESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

#define QP_CHAIN_ID_MAX 64u          /* bytes of a chain id: [A-Za-z0-9._-]+ */
#define QP_CHAIN_VALIDATORS_MAX 64u  /* validators in one network (a QC signer set is a u64) */
#define QP_CHAIN_NAME_MAX 64u        /* bytes of a validator's name */
#define QP_CHAIN_BLOCK_GAS_DEFAULT 50000000ull /* params.block_gas_max when genesis omits it */
#define QP_CHAIN_BLOCK_GAS_MIN 1000ull
#define QP_CHAIN_BLOCK_GAS_MAX 1000000000000ull

typedef struct qp_chain_validator {
  char name[QP_CHAIN_NAME_MAX + 1];          /* for logs and status */
  uint8_t public_key[QP_SIGN_PUBLIC_MAX];    /* the suite's encoding */
  uint32_t public_key_len;                   /* bytes used */
} qp_chain_validator_t;

typedef struct qp_chain_params {
  uint32_t block_txs_max;   /* transactions in one block */
  uint32_t block_bytes_max; /* encoded transactions in one block */
  uint32_t tx_bytes_max;    /* one encoded transaction */
  uint32_t view_timeout_ms; /* the pacemaker's base timeout */
  uint64_t block_gas_max;   /* the sum of the stated gas of a block's Lua calls (optional) */
} qp_chain_params_t;

typedef struct qp_chain_genesis {
  char chain_id[QP_CHAIN_ID_MAX + 1];
  qp_suite_t suite;                                      /* signatures and hashes */
  qp_chain_validator_t validators[QP_CHAIN_VALIDATORS_MAX];
  uint32_t validators_count;                             /* n = 3f + 1 (or more) */
  qp_chain_params_t params;
  uint8_t registrar[QP_SIGN_PUBLIC_MAX];   /* the registry app's registrar (optional) */
  uint32_t registrar_len;                  /* its bytes; 0: none (nobody registers) */
  uint8_t hash[QP_HASH_SIZE];                            /* filled by parse */
  /* An epoch's consensus configuration (valset.h) sets these; the
   * network's genesis has them all zero.  hash is then the epoch's domain. */
  uint32_t epoch;                    /* 0: the genesis's validators */
  uint64_t base_view, base_height;   /* the block the epoch starts on */
  uint8_t base_hash[QP_HASH_SIZE];   /* ... and its hash */
} qp_chain_genesis_t;

/* The defaults of params (used by `chain init`). */
void qp_chain_params_default(qp_chain_params_t *p);

/* f, the faults tolerated: (n - 1) / 3; the quorum is n - f. */
static inline uint32_t qp_chain_faults(uint32_t n) { return n == 0 ? 0 : (n - 1) / 3; }
static inline uint32_t qp_chain_quorum(uint32_t n) { return n - qp_chain_faults(n); }

/* Parses genesis.json text strictly (unknown keys, bad hex, a key of the
 * wrong length for the suite, duplicate keys or names, fewer than 1 or
 * more than QP_CHAIN_VALIDATORS_MAX validators are errors; detail names
 * the field) and computes g->hash.  Returns 0, QP_EPARSE or QP_ENOMEM. */
int qp_chain_genesis_parse(const char *text, size_t len, qp_chain_genesis_t *g, char *detail,
                           size_t detail_size);

/* Reads DIR/genesis.json.  Returns like parse, plus QP_EIO/QP_ENOTFOUND. */
int qp_chain_genesis_load(const char *dir, qp_chain_genesis_t *g, char *detail,
                          size_t detail_size);

/* Writes g as JSON (qp_malloc'ed, NUL-terminated) into *out. */
int qp_chain_genesis_format(const qp_chain_genesis_t *g, char **out);

/* Whether name is 1..max bytes of [A-Za-z0-9._-] (validator names, chain ids). */
bool qp_chain_name_ok(const char *s, size_t len, size_t max);

/* Whether pub (len bytes) is a public key of suite and a valid point. */
bool qp_chain_key_valid(qp_suite_t suite, const uint8_t *pub, size_t len);

/* The index of the validator whose public key is `pub`, or -1. */
int qp_chain_genesis_find(const qp_chain_genesis_t *g, const uint8_t *pub, size_t pub_len);

#endif
