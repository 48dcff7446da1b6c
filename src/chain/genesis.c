/*
 * genesis.c - genesis.json (genesis.h, docs/chain.md "Genesis"): the strict
 * parser, the writer, and the genesis hash that names the network.
 *
 * Strict like node.json: every key is required, an unknown key, a wrong
 * type, a value out of range, bad hex, a key that is not a point of the
 * suite's curve, or a repeated validator name or key is refused with the
 * field's path and what is allowed.  Validators keep their file order: it
 * is part of the hash and the consensus layer's signer sets index it.
 *
 * The hash is the suite hash of (integers little-endian):
 *   "quipu-genesis-v1" || u8 len || chain_id || u8 suite || u32 n ||
 *   n * (u8 key_len || key) || u32 block_txs_max || u32 block_bytes_max ||
 *   u32 tx_bytes_max || u32 view_timeout_ms [|| u64 block_gas_max]
 *   [|| u8 1 || u8 len || registrar]
 * block_gas_max only when it is not QP_CHAIN_BLOCK_GAS_DEFAULT, the
 * registrar only when genesis names one (a genesis from before either
 * existed names the same network).  Validator names are labels for logs
 * and are not part of it.  params.block_gas_max is the one optional key.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/genesis.h"
#include "chain/json_text.h"
#include "chain/keyfile.h"
#include "chain/tx.h"
#include "store/store.h"

#define GENESIS_DOMAIN "quipu-genesis-v1"
#define GENESIS_DOMAIN_LEN 16u
#define GENESIS_FILE "genesis.json"
#define GENESIS_FILE_BYTES_MAX (1u << 20)
/* domain, chain id, suite, count, keys, params */
#define GENESIS_ENCODING_MAX                                                                   \
  (GENESIS_DOMAIN_LEN + 1 + QP_CHAIN_ID_MAX + 1 + 4 +                                          \
   QP_CHAIN_VALIDATORS_MAX * (1 + QP_SIGN_PUBLIC_MAX) + 16 + 8 + 2 + QP_SIGN_PUBLIC_MAX)

/* The ranges of params: {name, min, max}. */
static const struct {
  const char *name; /* key under params */
  uint32_t min;     /* allowed range */
  uint32_t max;     /* " */
} PARAMS[] = {
    {"block_txs_max", 1, 65536},
    {"block_bytes_max", 1024, 64u << 20},
    {"tx_bytes_max", QP_CHAIN_TX_BYTES_MIN, QP_CHAIN_TX_BYTES_MAX},
    {"view_timeout_ms", 10, 600000},
};
#define PARAMS_COUNT (sizeof PARAMS / sizeof PARAMS[0])

void qp_chain_params_default(qp_chain_params_t *p) {
  QP_ASSERT(p != NULL);
  p->block_txs_max = 4096;
  p->block_bytes_max = 4u << 20;
  p->tx_bytes_max = 65536;
  p->view_timeout_ms = 1000;
  p->block_gas_max = QP_CHAIN_BLOCK_GAS_DEFAULT;
}

static uint32_t *param_field(qp_chain_params_t *p, size_t which) {
  switch (which) {
    case 0: return &p->block_txs_max;
    case 1: return &p->block_bytes_max;
    case 2: return &p->tx_bytes_max;
    default: return &p->view_timeout_ms;
  }
}

/* [A-Za-z0-9._-]{1,max} */
bool qp_chain_name_ok(const char *s, size_t len, size_t max) {
  if (len == 0 || len > max || strlen(s) != len) return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

static int fail(char *detail, size_t detail_size, const char *msg) {
  if (detail != NULL && detail_size > 0) snprintf(detail, detail_size, "%s", msg);
  return QP_EPARSE;
}

/* Refuses keys of obj other than allowed[0, count), and a missing one of
 * allowed[0, required). */
static int keys_of(json_t *obj, const char *path, const char *const *allowed, size_t count,
                   size_t required, char *detail, size_t detail_size) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    size_t i = 0;
    while (i < count && strcmp(allowed[i], key) != 0) i++;
    if (i == count) {
      snprintf(detail, detail_size, "unknown key %s%.64s", path, key);
      return QP_EPARSE;
    }
  }
  for (size_t i = 0; i < required; i++) {
    if (json_object_get(obj, allowed[i]) == NULL) {
      snprintf(detail, detail_size, "%s%s is missing", path, allowed[i]);
      return QP_EPARSE;
    }
  }
  return 0;
}

/* Every key of allowed[0, count) required, no other. */
static int only_keys(json_t *obj, const char *path, const char *const *allowed, size_t count,
                     char *detail, size_t detail_size) {
  return keys_of(obj, path, allowed, count, count, detail, detail_size);
}

/* params.block_gas_max: optional, QP_CHAIN_BLOCK_GAS_DEFAULT when absent. */
static int parse_block_gas(json_t *obj, qp_chain_params_t *p, char *detail, size_t detail_size) {
  json_t *v = json_object_get(obj, "block_gas_max");
  p->block_gas_max = QP_CHAIN_BLOCK_GAS_DEFAULT;
  if (v == NULL) return 0;
  json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
  if (n < (json_int_t)QP_CHAIN_BLOCK_GAS_MIN || n > (json_int_t)QP_CHAIN_BLOCK_GAS_MAX) {
    snprintf(detail, detail_size, "params.block_gas_max must be an integer from %llu to %llu",
             QP_CHAIN_BLOCK_GAS_MIN, QP_CHAIN_BLOCK_GAS_MAX);
    return QP_EPARSE;
  }
  p->block_gas_max = (uint64_t)n;
  return 0;
}

static int parse_params(json_t *obj, qp_chain_params_t *p, char *detail, size_t detail_size) {
  static const char *const keys[] = {"block_txs_max", "block_bytes_max", "tx_bytes_max",
                                     "view_timeout_ms", "block_gas_max"};
  if (!json_is_object(obj)) return fail(detail, detail_size, "params must be an object");
  int rc = keys_of(obj, "params.", keys, 5, 4, detail, detail_size);
  if (rc == 0) rc = parse_block_gas(obj, p, detail, detail_size);
  if (rc != 0) return rc;
  for (size_t i = 0; i < PARAMS_COUNT; i++) {
    json_t *v = json_object_get(obj, PARAMS[i].name);
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
    if (n < (json_int_t)PARAMS[i].min || n > (json_int_t)PARAMS[i].max) {
      snprintf(detail, detail_size, "params.%s must be an integer from %u to %u",
               PARAMS[i].name, PARAMS[i].min, PARAMS[i].max);
      return QP_EPARSE;
    }
    *param_field(p, i) = (uint32_t)n;
  }
  if ((uint64_t)p->block_bytes_max < (uint64_t)p->tx_bytes_max + 8) {
    return fail(detail, detail_size,
                "params.block_bytes_max must hold one transaction of tx_bytes_max "
                "(at least tx_bytes_max + 8)");
  }
  return 0;
}

/* A public key of the suite that is a valid point: the verifier tells a
 * key it refuses (QP_EINVAL) from a signature it refuses. */
bool qp_chain_key_valid(qp_suite_t suite, const uint8_t *pub, size_t len) {
  static const uint8_t zero_sig[QP_SIGN_SIG_MAX];
  return qp_verify(suite, pub, len, "", 0, zero_sig, QP_ED25519_SIG_SIZE) != QP_EINVAL;
}

/* A public key of g's suite in hex (field `path`) into key; *len its bytes. */
static int parse_key(json_t *hexj, const char *path, const qp_chain_genesis_t *g, uint8_t *key,
                     uint32_t *len, char *detail, size_t detail_size) {
  size_t key_len = g->suite == QP_SUITE_ED25519 ? QP_ED25519_PUBLIC_SIZE : QP_SM2_PUBLIC_SIZE;
  const char *hex = json_string_value(hexj);
  if (hex == NULL || qp_chain_unhex(hex, json_string_length(hexj), key, key_len) != 0) {
    snprintf(detail, detail_size, "%s must be %zu hex digits (a %s public key)", path,
             2 * key_len, qp_suite_name(g->suite));
    return QP_EPARSE;
  }
  *len = (uint32_t)key_len;
  if (!qp_chain_key_valid(g->suite, key, key_len)) {
    snprintf(detail, detail_size, "%s is not a valid %s public key", path,
             qp_suite_name(g->suite));
    return QP_EPARSE;
  }
  return 0;
}

static int parse_validator(json_t *obj, uint32_t i, qp_chain_genesis_t *g, char *detail,
                           size_t detail_size) {
  static const char *const keys[] = {"name", "public_key"};
  char path[48];
  snprintf(path, sizeof path, "validators[%u].", i);
  if (!json_is_object(obj)) {
    snprintf(detail, detail_size, "validators[%u] must be an object {name, public_key}", i);
    return QP_EPARSE;
  }
  int rc = only_keys(obj, path, keys, 2, detail, detail_size);
  if (rc != 0) return rc;
  qp_chain_validator_t *v = &g->validators[i];
  json_t *name = json_object_get(obj, "name"), *key = json_object_get(obj, "public_key");
  if (!json_is_string(name) ||
      !qp_chain_name_ok(json_string_value(name), json_string_length(name), QP_CHAIN_NAME_MAX)) {
    snprintf(detail, detail_size, "%sname must be 1 to %u characters of [A-Za-z0-9._-]", path,
             QP_CHAIN_NAME_MAX);
    return QP_EPARSE;
  }
  memcpy(v->name, json_string_value(name), json_string_length(name) + 1);
  char key_path[64];
  snprintf(key_path, sizeof key_path, "%spublic_key", path);
  return parse_key(key, key_path, g, v->public_key, &v->public_key_len, detail, detail_size);
}

/* Refuses validator i when its name or key repeats an earlier one. */
static int unique_validator(const qp_chain_genesis_t *g, uint32_t i, char *detail,
                            size_t detail_size) {
  const qp_chain_validator_t *v = &g->validators[i];
  for (uint32_t j = 0; j < i; j++) {
    const qp_chain_validator_t *w = &g->validators[j];
    if (strcmp(v->name, w->name) == 0) {
      snprintf(detail, detail_size, "validators[%u].name repeats validators[%u].name", i, j);
      return QP_EPARSE;
    }
    if (memcmp(v->public_key, w->public_key, v->public_key_len) == 0) {
      snprintf(detail, detail_size, "validators[%u].public_key repeats validators[%u]'s", i, j);
      return QP_EPARSE;
    }
  }
  return 0;
}

static int parse_validators(json_t *arr, qp_chain_genesis_t *g, char *detail,
                            size_t detail_size) {
  if (!json_is_array(arr) || json_array_size(arr) < 1 ||
      json_array_size(arr) > QP_CHAIN_VALIDATORS_MAX) {
    snprintf(detail, detail_size, "validators must be an array of 1 to %u validators",
             QP_CHAIN_VALIDATORS_MAX);
    return QP_EPARSE;
  }
  g->validators_count = (uint32_t)json_array_size(arr);
  for (uint32_t i = 0; i < g->validators_count; i++) {
    int rc = parse_validator(json_array_get(arr, i), i, g, detail, detail_size);
    if (rc == 0) rc = unique_validator(g, i, detail, detail_size);
    if (rc != 0) return rc;
  }
  return 0;
}

/* The genesis hash (the file's header comment). */
static int genesis_hash(qp_chain_genesis_t *g) {
  uint8_t enc[GENESIS_ENCODING_MAX];
  size_t n = 0, id_len = strlen(g->chain_id);
  QP_ASSERT(id_len <= QP_CHAIN_ID_MAX && g->validators_count <= QP_CHAIN_VALIDATORS_MAX);
  memcpy(enc, GENESIS_DOMAIN, GENESIS_DOMAIN_LEN);
  n = GENESIS_DOMAIN_LEN;
  enc[n++] = (uint8_t)id_len;
  memcpy(enc + n, g->chain_id, id_len);
  n += id_len;
  enc[n++] = (uint8_t)g->suite;
  qp_store_u32(enc + n, g->validators_count);
  n += 4;
  for (uint32_t i = 0; i < g->validators_count; i++) {
    const qp_chain_validator_t *v = &g->validators[i];
    QP_ASSERT(v->public_key_len <= QP_SIGN_PUBLIC_MAX);
    enc[n++] = (uint8_t)v->public_key_len;
    memcpy(enc + n, v->public_key, v->public_key_len);
    n += v->public_key_len;
  }
  qp_chain_params_t p = g->params;
  for (size_t i = 0; i < PARAMS_COUNT; i++, n += 4) qp_store_u32(enc + n, *param_field(&p, i));
  if (p.block_gas_max != QP_CHAIN_BLOCK_GAS_DEFAULT) {
    qp_store_u64(enc + n, p.block_gas_max);
    n += 8;
  }
  if (g->registrar_len > 0) {
    QP_ASSERT(g->registrar_len <= QP_SIGN_PUBLIC_MAX);
    enc[n++] = 1;
    enc[n++] = (uint8_t)g->registrar_len;
    memcpy(enc + n, g->registrar, g->registrar_len);
    n += g->registrar_len;
  }
  QP_ASSERT(n <= sizeof enc);
  return qp_suite_hash(g->suite, g->hash, enc, n);
}

static int parse_root(json_t *root, qp_chain_genesis_t *g, char *detail, size_t detail_size) {
  static const char *const keys[] = {"chain_id", "suite", "validators", "params", "registrar"};
  if (!json_is_object(root)) return fail(detail, detail_size, "the top level must be an object");
  int rc = keys_of(root, "", keys, 5, 4, detail, detail_size);
  if (rc != 0) return rc;
  json_t *id = json_object_get(root, "chain_id"), *suite = json_object_get(root, "suite");
  if (!json_is_string(id) ||
      !qp_chain_name_ok(json_string_value(id), json_string_length(id), QP_CHAIN_ID_MAX)) {
    snprintf(detail, detail_size, "chain_id must be 1 to %u characters of [A-Za-z0-9._-]",
             QP_CHAIN_ID_MAX);
    return QP_EPARSE;
  }
  memcpy(g->chain_id, json_string_value(id), json_string_length(id) + 1);
  if (!json_is_string(suite) ||
      qp_suite_parse(json_string_value(suite), json_string_length(suite), &g->suite) != 0)
    return fail(detail, detail_size, "suite must be \"ed25519\" or \"sm2\"");
  rc = parse_validators(json_object_get(root, "validators"), g, detail, detail_size);
  if (rc == 0) rc = parse_params(json_object_get(root, "params"), &g->params, detail, detail_size);
  json_t *registrar = json_object_get(root, "registrar");
  if (rc == 0 && registrar != NULL)
    rc = parse_key(registrar, "registrar", g, g->registrar, &g->registrar_len, detail,
                   detail_size);
  return rc;
}

int qp_chain_genesis_parse(const char *text, size_t len, qp_chain_genesis_t *g, char *detail,
                           size_t detail_size) {
  QP_ASSERT(g != NULL && (text != NULL || len == 0));
  char scratch[8];
  if (detail == NULL || detail_size == 0) {
    detail = scratch;
    detail_size = sizeof scratch;
  }
  memset(g, 0, sizeof *g);
  json_error_t jerr;
  json_t *root = json_loadb(text != NULL ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    snprintf(detail, detail_size, "not valid JSON at line %d, column %d: %s", jerr.line,
             jerr.column, jerr.text);
    return QP_EPARSE;
  }
  int rc = parse_root(root, g, detail, detail_size);
  json_decref(root);
  if (rc == 0) rc = genesis_hash(g);
  if (rc != 0) {
    int keep = rc;
    memset(g, 0, sizeof *g);
    return keep == QP_ENOMEM ? QP_ENOMEM : QP_EPARSE;
  }
  return 0;
}

int qp_chain_genesis_load(const char *dir, qp_chain_genesis_t *g, char *detail,
                          size_t detail_size) {
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/%s", dir, GENESIS_FILE);
  if (n < 0 || (size_t)n >= sizeof path) return fail(detail, detail_size, "path too long");
  char *text = NULL;
  size_t len = 0;
  int rc = qp_file_read(path, GENESIS_FILE_BYTES_MAX, &text, &len, NULL, detail, detail_size);
  if (rc != 0) return rc == QP_ENOTFOUND || rc == QP_ENOMEM ? rc : QP_EIO;
  char inner[512] = "";
  rc = qp_chain_genesis_parse(text, len, g, inner, sizeof inner);
  qp_free(text);
  if (rc != 0 && detail != NULL && detail_size > 0)
    snprintf(detail, detail_size, "%s: %s", path, inner);
  return rc;
}

static json_t *format_validators(const qp_chain_genesis_t *g) {
  json_t *arr = json_array();
  for (uint32_t i = 0; arr != NULL && i < g->validators_count; i++) {
    const qp_chain_validator_t *v = &g->validators[i];
    char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
    qp_hex(hex, v->public_key, v->public_key_len);
    json_t *o = json_pack("{s:s, s:s}", "name", v->name, "public_key", hex);
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

int qp_chain_genesis_format(const qp_chain_genesis_t *g, char **out) {
  QP_ASSERT(g != NULL && out != NULL);
  *out = NULL;
  const char *suite = qp_suite_name(g->suite);
  if (suite == NULL || g->validators_count > QP_CHAIN_VALIDATORS_MAX) return QP_EINVAL;
  json_t *vals = format_validators(g);
  json_t *root = vals == NULL ? NULL
                              : json_pack("{s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I}}", "chain_id",
                                          g->chain_id, "suite", suite, "validators", vals,
                                          "params", "block_txs_max",
                                          (json_int_t)g->params.block_txs_max, "block_bytes_max",
                                          (json_int_t)g->params.block_bytes_max, "tx_bytes_max",
                                          (json_int_t)g->params.tx_bytes_max, "view_timeout_ms",
                                          (json_int_t)g->params.view_timeout_ms);
  json_t *params = json_object_get(root, "params"); /* block_gas_max: only when not the default */
  if (params != NULL && g->params.block_gas_max != QP_CHAIN_BLOCK_GAS_DEFAULT &&
      json_object_set_new(params, "block_gas_max",
                          json_integer((json_int_t)g->params.block_gas_max)) != 0) {
    json_decref(root);
    root = NULL;
  }
  if (root != NULL && g->registrar_len > 0) {
    char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
    qp_hex(hex, g->registrar, g->registrar_len);
    if (json_object_set_new(root, "registrar", json_string(hex)) != 0) {
      json_decref(root);
      root = NULL;
    }
  }
  if (root == NULL) return QP_ENOMEM;
  qp_buf_t text = {.max = GENESIS_FILE_BYTES_MAX};
  int rc = qp__chain_json_dump(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER, &text);
  json_decref(root);
  if (rc == 0 && !qp_buf_append(&text, "\n", 1)) rc = QP_ENOMEM;
  if (rc != 0) {
    qp_buf_free(&text);
    return rc;
  }
  *out = text.data;
  return 0;
}

int qp_chain_genesis_find(const qp_chain_genesis_t *g, const uint8_t *pub, size_t pub_len) {
  QP_ASSERT(g != NULL);
  if (pub == NULL) return -1;
  for (uint32_t i = 0; i < g->validators_count; i++) {
    const qp_chain_validator_t *v = &g->validators[i];
    if (v->public_key_len == pub_len && memcmp(v->public_key, pub, pub_len) == 0) return (int)i;
  }
  return -1;
}
