/*
 * module.c - the chain module of the node (docs/chain.md, "The node"): its
 * settings in node.json, and opening and closing everything a validator
 * runs - genesis and key from the home, the block store and the safety
 * record under the data directory, the mempool, the consensus core, the
 * peer transport and the driver thread.
 *
 *   "chain": {"peer_listen": "127.0.0.1:7101",
 *             "peers": ["127.0.0.1:7101", "127.0.0.1:7103", …],   genesis order
 *             "validator_key": "keys/validator.key", "genesis": "genesis.json",
 *             "require_api_key": false, "propose_txs_max": 2048,
 *             "propose_linger_ms": 100, "mempool_txs_max": 65536}
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/keyfile.h"
#include "chain/node_int.h"
#include "node/module.h"
#include "store/store.h"

static int string_setting(json_t *v, const char *key, char *out, size_t size, char *detail,
                          size_t detail_size) {
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= size) {
    snprintf(detail, detail_size, "modules.chain.%s must be a non-empty string (< %zu bytes)", key,
             size);
    return QP_EINVAL;
  }
  memcpy(out, json_string_value(v), json_string_length(v) + 1);
  return 0;
}

static int peers_setting(json_t *v, qp__chain_settings_t *s, char *detail, size_t detail_size) {
  if (!json_is_array(v) || json_array_size(v) > QP_CHAIN_VALIDATORS_MAX) {
    snprintf(detail, detail_size,
             "modules.chain.peers must be an array of the validators' peer addresses");
    return QP_EINVAL;
  }
  s->peers_count = (uint32_t)json_array_size(v);
  for (uint32_t i = 0; i < s->peers_count; i++)
    if (string_setting(json_array_get(v, i), "peers[]", s->peers[i], sizeof s->peers[i], detail,
                       detail_size) != 0)
      return QP_EINVAL;
  return 0;
}

static int parse_settings(const json_t *obj, qp__chain_settings_t *s, char *detail,
                          size_t detail_size) {
  memset(s, 0, sizeof *s);
  snprintf(s->validator_key, sizeof s->validator_key, "keys/validator.key");
  snprintf(s->genesis, sizeof s->genesis, "genesis.json");
  s->propose_txs_max = QP__CHAIN_PROPOSE_TXS_DEFAULT;
  s->propose_linger_ms = QP__CHAIN_PROPOSE_LINGER_DEFAULT;
  s->mempool_txs_max = QP__CHAIN_MEMPOOL_TXS_DEFAULT;
  if (obj != NULL && !json_is_object(obj)) {
    snprintf(detail, detail_size, "modules.chain must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach((json_t *)obj, key, v) {
    if (strcmp(key, "peer_listen") == 0)
      rc = string_setting(v, key, s->peer_listen, sizeof s->peer_listen, detail, detail_size);
    else if (strcmp(key, "peers") == 0)
      rc = peers_setting(v, s, detail, detail_size);
    else if (strcmp(key, "validator_key") == 0)
      rc = string_setting(v, key, s->validator_key, sizeof s->validator_key, detail, detail_size);
    else if (strcmp(key, "genesis") == 0)
      rc = string_setting(v, key, s->genesis, sizeof s->genesis, detail, detail_size);
    else if (strcmp(key, "require_api_key") == 0 && json_is_boolean(v))
      s->require_api_key = json_is_true(v);
    else if (strcmp(key, "propose_txs_max") == 0 && json_is_integer(v) &&
             json_integer_value(v) >= 1 && json_integer_value(v) <= 65536)
      s->propose_txs_max = (uint32_t)json_integer_value(v);
    else if (strcmp(key, "propose_linger_ms") == 0 && json_is_integer(v) &&
             json_integer_value(v) >= 0 && json_integer_value(v) <= QP__CHAIN_PROPOSE_LINGER_MAX)
      s->propose_linger_ms = (uint32_t)json_integer_value(v);
    else if (strcmp(key, "mempool_txs_max") == 0 && json_is_integer(v) &&
             json_integer_value(v) >= 1 && json_integer_value(v) <= QP_CHAIN_MEMPOOL_TXS_MAX)
      s->mempool_txs_max = (uint32_t)json_integer_value(v);
    else {
      snprintf(detail, detail_size,
               "unknown key or bad value modules.chain.%s; allowed: peer_listen, peers, "
               "validator_key, genesis, require_api_key (boolean), propose_txs_max (1..65536), "
               "propose_linger_ms (0..%u), mempool_txs_max (1..%u)",
               key, QP__CHAIN_PROPOSE_LINGER_MAX, QP_CHAIN_MEMPOOL_TXS_MAX);
      rc = QP_EINVAL;
    }
    if (rc != 0) return rc;
  }
  return 0;
}

/* A path from the settings, relative to the home unless absolute. */
static void home_path(const qp__chain_node_t *n, const char *rel, char *out, size_t size) {
  if (rel[0] == '/')
    snprintf(out, size, "%s", rel);
  else
    snprintf(out, size, "%s/%s", n->home, rel);
}

/* Genesis, the validator key and its index. */
static int load_identity(qp__chain_node_t *n, char *detail, size_t detail_size) {
  char path[2200], why[512] = "";
  home_path(n, n->settings.genesis, path, sizeof path);
  char *text = NULL;
  size_t len = 0;
  int rc = qp_file_read(path, 1u << 20, &text, &len, NULL, why, sizeof why);
  if (rc == 0) rc = qp_chain_genesis_parse(text, len, &n->genesis, why, sizeof why);
  qp_free(text);
  if (rc != 0) {
    snprintf(detail, detail_size, "chain: genesis %s: %s", path, why);
    return rc;
  }
  home_path(n, n->settings.validator_key, path, sizeof path);
  rc = qp_chain_keyfile_read(path, &n->key, why, sizeof why);
  if (rc != 0) {
    snprintf(detail, detail_size, "chain: validator key: %s", why);
    return rc;
  }
  if (qp_sign_key_suite(n->key) != n->genesis.suite) {
    snprintf(detail, detail_size, "chain: the key %s is an %s key; this network uses %s", path,
             qp_suite_name(qp_sign_key_suite(n->key)), qp_suite_name(n->genesis.suite));
    return QP_EINVAL;
  }
  return 0; /* whether it is a validator: the chain's state says (epochs.c) */
}

/* The block store and, from it, the last committed block for the core. */
static int open_store(qp__chain_node_t *n, const char *data_dir, char *detail, size_t detail_size) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/%s", data_dir, QP_CHAIN_STORE_DIR);
  int rc = qp_mkdir_p(dir);
  if (rc == 0) rc = qp_chain_store_open(dir, &n->genesis, 0, &n->store, detail, detail_size);
  snprintf(n->chain_dir, sizeof n->chain_dir, "%s", dir);
  return rc;
}

void qp__chain_safety_path(qp__chain_node_t *n) {
  uint32_t e = n->cfg->epoch;
  if (e == 0)
    snprintf(n->safety_path, sizeof n->safety_path, "%s/safety.slots", n->chain_dir);
  else
    snprintf(n->safety_path, sizeof n->safety_path, "%s/safety.%u.slots", n->chain_dir, e);
}

/* Opens the epoch's safety record (store.h, "Records rewritten in place")
 * into bytes[0, *len).  A node that wrote its record as a whole file
 * before (the same name without ".slots") has it carried over once: copied
 * into the slot file, durably, before the old file is removed. */
static int open_safety(qp__chain_node_t *n, uint8_t *bytes, size_t *len, char *detail,
                       size_t detail_size) {
  qp_slot_file_close(n->safety);
  n->safety = NULL;
  qp__chain_safety_path(n);
  int rc = qp_slot_file_open(n->safety_path, QP_HS_SAFETY_BYTES_MAX, 0600, &n->safety, bytes, len,
                             detail, detail_size);
  char old[sizeof n->safety_path];
  snprintf(old, sizeof old, "%.*s", (int)(strlen(n->safety_path) - strlen(".slots")),
           n->safety_path);
  char *was = NULL;
  size_t was_len = 0;
  int read = rc == 0 && *len == 0 ? qp_file_read(old, QP_HS_SAFETY_BYTES_MAX, &was, &was_len, NULL,
                                                 detail, detail_size)
                                  : QP_ENOTFOUND;
  if (read != QP_ENOTFOUND)
    rc = read;
  else if (rc == 0 && detail != NULL && detail_size > 0)
    detail[0] = '\0';
  if (rc == 0 && was != NULL) {
    rc = qp_slot_file_write(n->safety, was, was_len, detail, detail_size);
    if (rc == 0) memcpy(bytes, was, was_len), *len = was_len;
  }
  if (rc == 0 && (was != NULL || *len > 0)) (void)unlink(old); /* carried over (or stale) */
  qp_free(was);
  if (rc != 0 && detail != NULL && detail_size > 0 && detail[0] == '\0')
    snprintf(detail, detail_size, "%s: %s", n->safety_path, qp_strerror(rc));
  return rc;
}

static int open_mempool(qp__chain_node_t *n) {
  qp_chain_mempool_config_t c;
  qp_chain_mempool_config_default(&c, n->genesis.params.tx_bytes_max);
  c.txs_max = n->settings.mempool_txs_max;
  c.verified_max = 2 * c.txs_max;
  c.suite = n->genesis.suite;
  memcpy(c.chain, n->genesis.hash, QP_HASH_SIZE);
  c.block_gas_max = n->genesis.params.block_gas_max;
  c.nonce_fn = qp_chain_state_nonce;
  c.nonce_ctx = qp_chain_store_state(n->store);
  return qp_chain_mempool_new(&c, &n->mempool);
}

/* The core, resumed from the safety record and the stored head. */
int qp__chain_open_core(qp__chain_node_t *n, char *detail, size_t detail_size) {
  uint8_t *safety = qp_malloc(QP_HS_SAFETY_BYTES_MAX);
  size_t safety_len = 0;
  char why[1500] = "";
  int rc = safety == NULL ? QP_ENOMEM : open_safety(n, safety, &safety_len, why, sizeof why);
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  qp_chain_block_t stored;
  memset(&stored, 0, sizeof stored);
  qp_hs_block_t last;
  bool have_last = false;
  qp_chain_genesis_t *at = qp_malloc(sizeof *at);
  if (rc == 0 && at == NULL) rc = QP_ENOMEM;
  if (rc == 0 && head.height > 0) {
    qp__chain_cfg_at(n, head.height, at);
    rc = qp_chain_store_block(n->store, head.height, &stored);
    if (rc == 0) rc = qp_hs_decode_block(at, stored.header, stored.header_len, &last);
    have_last = rc == 0;
  }
  qp_free(at);
  if (have_last) {
    memcpy(n->committed_hash, last.hash, QP_HASH_SIZE);
    qp__chain_state_set_time(qp_chain_store_state(n->store), last.header.timestamp_ms / 1000u);
  } else {
    qp_hs_block_t gb;
    qp_hs_genesis_block(&n->genesis, &gb);
    memcpy(n->committed_hash, gb.hash, QP_HASH_SIZE);
  }
  /* What the HTTP threads see until the driver's first commit. */
  n->pub.height = head.height;
  memcpy(n->pub.head_hash, n->committed_hash, QP_HASH_SIZE);
  memcpy(n->pub.state_root, head.state_root, QP_HASH_SIZE);
  qp_hs_config_t cfg = {.genesis = n->cfg,
                        .self = n->member,
                        .key = n->key,
                        .safety = safety_len > 0 ? safety : NULL,
                        .safety_len = safety_len,
                        .committed = have_last ? &last : NULL,
                        .block_valid = qp__chain_block_valid,
                        .ctx = n};
  if (rc == 0) rc = qp_hs_create(&cfg, qp_clock_wall_ns() / 1000000u, &n->core);
  if (rc != 0)
    snprintf(detail, detail_size, "chain: cannot resume consensus: %s%s%s", qp_strerror(rc),
             why[0] ? ": " : "", why);
  qp_chain_block_deinit(&stored);
  qp_free(safety);
  return rc;
}

int qp__chain_open_net(qp__chain_node_t *n, char *detail, size_t detail_size) {
  if (n->settings.peers_count != n->genesis.validators_count) {
    snprintf(detail, detail_size,
             "modules.chain.peers must list %u peer addresses, one per genesis validator "
             "(its own included), in genesis order",
             n->genesis.validators_count);
    return QP_EINVAL;
  }
  /* Every validator the chain ever had: genesis's at node.json's addresses,
   * the added ones at the addresses governance recorded. */
  const qp_chain_valset_t *all = &n->epochs.peers;
  qp_net_peer_config_t peers[QP_CHAIN_VALIDATORS_MAX];
  memset(peers, 0, sizeof peers);
  for (uint32_t i = 0; i < all->count; i++) {
    memcpy(peers[i].public_key, all->validators[i].public_key, all->validators[i].public_key_len);
    peers[i].public_key_len = all->validators[i].public_key_len;
    snprintf(peers[i].address, sizeof peers[i].address, "%s",
             i < n->genesis.validators_count ? n->settings.peers[i] : all->addresses[i]);
  }
  qp_net_config_t c = {.listen_address = n->settings.peer_listen,
                       .key = n->key,
                       .validators = peers,
                       .validators_count = all->count,
                       .on_message = qp__chain_on_message,
                       .on_peer = qp__chain_on_peer,
                       .ctx = n};
  memcpy(c.network_id, n->genesis.hash, QP_HASH_SIZE);
  c.frame_bytes_max = (uint32_t)qp_hs_msg_bytes_max(&n->genesis) + 1; /* n: 64 at most */
  int rc = qp_net_create(&c, &n->net, detail, detail_size);
  if (rc == 0) rc = qp_net_start(n->net);
  if (rc != 0 && detail[0] == '\0')
    snprintf(detail, detail_size, "chain: cannot listen for peers on %s", c.listen_address);
  return rc;
}

static void chain_close(void *state);

static int chain_open(const qp_node_env_t *env, const struct json_t *settings, void **state,
                      char *detail, size_t detail_size) {
  qp__chain_node_t *n = qp_calloc(1, sizeof *n);
  if (n == NULL) return QP_ENOMEM;
  pthread_mutex_init(&n->mutex, NULL);
  pthread_cond_init(&n->cond, NULL);
  pthread_mutex_init(&n->pub_mutex, NULL);
  pthread_mutex_init(&n->txs_mutex, NULL);
  pthread_mutex_init(&n->fwd_mutex, NULL);
  pthread_mutex_init(&n->admit_mutex, NULL);
  pthread_cond_init(&n->admit_cond, NULL);
  atomic_init(&n->tx_wake_wanted, true);
  snprintf(n->home, sizeof n->home, "%s", env->home);
  detail[0] = '\0';
  int rc = parse_settings(settings, &n->settings, detail, detail_size);
  if (rc == 0) rc = qp_crypto_init();
  if (rc == 0) rc = load_identity(n, detail, detail_size);
  if (rc == 0) rc = open_store(n, env->data_dir, detail, detail_size);
  if (rc == 0) rc = qp__chain_epochs_open(n, detail, detail_size);
  if (rc == 0) rc = open_mempool(n);
  if (rc == 0) rc = qp__chain_open_core(n, detail, detail_size);
  if (rc == 0) rc = qp__chain_admitter_start(n, detail, detail_size);
  if (rc == 0) rc = qp__chain_open_net(n, detail, detail_size);
  if (rc == 0) rc = qp__chain_driver_start(n, detail, detail_size);
  if (rc != 0) {
    chain_close(n);
    return rc;
  }
  uint32_t count = 0;
  const qp_http_route_t *routes = qp__chain_routes(n->settings.require_api_key, &count);
  n->http = (qp_http_module_t){.name = "chain",
                               .routes = routes,
                               .routes_count = count,
                               .ctx = n,
                               .openapi = qp__chain_openapi_json,
                               .metrics = qp__chain_metrics};
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  QP_LOG_INFO("chain",
              "validator %s (%d of %u in epoch %u) of chain %s at height %llu; peers "
              "on %s",
              n->epochs.peers.validators[n->self].name, n->member, n->cfg->validators_count,
              n->cfg->epoch, n->genesis.chain_id, (unsigned long long)head.height,
              n->settings.peer_listen);
  *state = n;
  return 0;
}

static const qp_http_module_t *chain_routes(void *state) {
  return &((qp__chain_node_t *)state)->http;
}

static void chain_close(void *state) {
  qp__chain_node_t *n = state;
  if (n == NULL) return;
  if (n->net != NULL)
    qp_net_stop(n->net); /* no more messages queued (none if open failed
                                               before the transport existed) */
  qp__chain_admitter_stop(n);
  qp__chain_driver_stop(n);
  for (qp__chain_event_t *e = n->head, *next; e != NULL; e = next) next = e->next, qp_free(e);
  qp_net_destroy(n->net);
  qp__chain_execs_clear(n);
  qp_hs_destroy(n->core);
  qp_slot_file_close(n->safety);
  qp_chain_mempool_free(n->mempool);
  qp_chain_store_close(n->store);
  if (n->epochs.cfgs != NULL) qp__chain_epochs_close(n);
  qp_free(n->epoch_proof);
  qp_sign_key_free(n->key);
  pthread_mutex_destroy(&n->mutex);
  pthread_cond_destroy(&n->cond);
  pthread_mutex_destroy(&n->pub_mutex);
  qp__chain_txs_free(n);
  pthread_mutex_destroy(&n->txs_mutex);
  pthread_mutex_destroy(&n->fwd_mutex);
  pthread_mutex_destroy(&n->admit_mutex);
  pthread_cond_destroy(&n->admit_cond);
  qp_buf_free(&n->fwd);
  qp_free(n);
}

static const qp_http_scope_t SCOPES[] = {
    {"chain:submit", "submit chain transactions (when modules.chain.require_api_key)"},
    {"chain:read", "read chain status, blocks, transactions and state (the same)"},
};

const qp_module_t qp_chain_module = {
    .name = "chain",
    .summary = "a consortium chain validator: BFT consensus, signed transactions, apps",
    .scopes = SCOPES,
    .scopes_count = 2,
    .open = chain_open,
    .routes = chain_routes,
    .close = chain_close,
};
