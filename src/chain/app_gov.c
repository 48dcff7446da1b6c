/*
 * app_gov.c - the built-in `gov` app (docs/chain.md, "Governance"): the
 * validators decide, by proposals that pass with votes of 2f+1 of the
 * validators in force, to add or remove a validator and to allow or forbid
 * contract deployment by a key.
 *
 *   propose {"action": A, ...}   by a validator; its own vote counts
 *       add_validator    {"public_key", "name", "address"}
 *       remove_validator {"public_key"}
 *       allow_deploy     {"key"}          forbid_deploy {"key"}
 *       deploy_default   {"allow": bool}  (when a key has no rule; allowed at first)
 *   vote {"proposal": id}        by a validator, once per proposal
 * A proposal passes in the block where its votes from validators in force
 * reach the quorum; a deployment rule applies from the next transaction, a
 * validator change from the next block (a new epoch, valset.h).  One that
 * cannot apply when it passes (the key became a validator meanwhile) is
 * "rejected" with the reason.  Keys in the app's space:
 *   "epoch" u32 LE (absent: 0)   "set/" u32 BE e -> valset record
 *   "next"  u64 LE next id       "p/" u64 BE id  -> proposal (JSON)
 *   "deploy/" key -> u8 1/0      "deploy_default" -> u8 1/0
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/app.h"
#include "chain/gov.h"
#include "chain/json_text.h"
#include "chain/keyfile.h"
#include "chain/valset.h"

/* ---- reading the app's state ----------------------------------------------- */

int qp_chain_gov_valset(const qp_chain_view_t *v, qp_chain_valset_t *out) {
  const uint8_t *p = NULL;
  size_t n = 0;
  int rc = v->get(v->ctx, (const uint8_t *)"epoch", 5, &p, &n);
  if (rc == QP_ENOTFOUND) {
    qp_chain_valset_genesis(v->genesis, out);
    return 0;
  }
  if (rc != 0) return rc;
  if (n != 4) return QP_ECORRUPT;
  uint8_t key[8];
  qp_chain_gov_set_key(qp_load_u32(p), key);
  rc = v->get(v->ctx, key, sizeof key, &p, &n);
  if (rc != 0) return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
  return qp_chain_valset_decode(v->genesis->suite, p, n, out) == 0 ? 0 : QP_ECORRUPT;
}

void qp_chain_gov_set_key(uint32_t epoch, uint8_t out[8]) {
  memcpy(out, "set/", 4);
  for (int i = 0; i < 4; i++) out[4 + i] = (uint8_t)(epoch >> (24 - 8 * i));
}

void qp_chain_gov_proposal_key(uint64_t id, uint8_t out[10]) {
  memcpy(out, "p/", 2);
  qp_store_u64_be(out + 2, id);
}

json_t *qp_chain_gov_proposal(const qp_chain_view_t *v, uint64_t id, int *rc) {
  uint8_t key[10];
  qp_chain_gov_proposal_key(id, key);
  const uint8_t *p = NULL;
  size_t n = 0;
  *rc = v->get(v->ctx, key, sizeof key, &p, &n);
  if (*rc != 0) return NULL;
  json_t *o = json_loadb((const char *)p, n, 0, NULL);
  if (json_is_object(o)) return o;
  json_decref(o);
  *rc = QP_ECORRUPT;
  return NULL;
}

static int proposal_put(qp_chain_effects_t *e, uint64_t id, const json_t *o) {
  qp_buf_t text = {.max = QP_CHAIN_APP_VALUE_MAX};
  int rc = qp__chain_json_dump(o, JSON_COMPACT | JSON_SORT_KEYS, &text);
  uint8_t key[10];
  qp_chain_gov_proposal_key(id, key);
  if (rc == 0) rc = qp_chain_effects_put(e, key, sizeof key, (const uint8_t *)text.data, text.len);
  qp_buf_free(&text);
  return rc;
}

int qp_chain_gov_may_deploy(const qp_chain_view_t *view, const uint8_t *key, size_t len,
                            bool *allowed) {
  uint8_t k[7 + QP_SIGN_PUBLIC_MAX];
  if (len > QP_SIGN_PUBLIC_MAX) return QP_EINVAL;
  memcpy(k, "deploy/", 7);
  memcpy(k + 7, key, len);
  const uint8_t *p = NULL;
  size_t n = 0;
  int rc = view->get_app(view->ctx, "gov", k, 7 + len, &p, &n);
  if (rc == QP_ENOTFOUND) rc = view->get_app(view->ctx, "gov", (const uint8_t *)"deploy_default",
                                             14, &p, &n);
  if (rc == QP_ENOTFOUND) {
    *allowed = true;
    return 0;
  }
  if (rc != 0) return rc;
  *allowed = n == 1 && p[0] == 1;
  return 0;
}

/* ---- arguments --------------------------------------------------------------- */

/* A hex public key of the network's suite in field name of o. */
static bool key_arg(const qp_chain_view_t *v, const json_t *o, const char *name, uint8_t *out,
                    size_t *len) {
  const char *h = json_string_value(json_object_get(o, name));
  size_t n = h != NULL ? strlen(h) : 0;
  if (h == NULL || n % 2 != 0 || n / 2 > QP_SIGN_PUBLIC_MAX ||
      qp_chain_unhex(h, n, out, n / 2) != 0)
    return false;
  *len = n / 2;
  return qp_chain_key_valid(v->genesis->suite, out, *len);
}

static bool only(const json_t *o, size_t count) { return json_object_size(o) == count; }

/* Checks a proposal's arguments; NULL when good, else what is wrong. */
static const char *proposal_args_bad(const qp_chain_view_t *v, const json_t *a) {
  const char *action = json_string_value(json_object_get(a, "action"));
  uint8_t key[QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  if (action == NULL) return "args.action must name the action";
  if (strcmp(action, "add_validator") == 0) {
    const char *name = json_string_value(json_object_get(a, "name"));
    const char *addr = json_string_value(json_object_get(a, "address"));
    if (!only(a, 4) || !key_arg(v, a, "public_key", key, &len) || name == NULL ||
        !qp_chain_name_ok(name, strlen(name), QP_CHAIN_NAME_MAX) || addr == NULL ||
        strlen(addr) == 0 || strlen(addr) > QP_CHAIN_ADDRESS_MAX || strchr(addr, ' ') != NULL)
      return "add_validator takes {public_key: the suite's key in hex, name: 1-64 of "
             "[A-Za-z0-9._-], address: its peer address host:port}";
  } else if (strcmp(action, "remove_validator") == 0) {
    if (!only(a, 2) || !key_arg(v, a, "public_key", key, &len))
      return "remove_validator takes {public_key: the suite's key in hex}";
  } else if (strcmp(action, "allow_deploy") == 0 || strcmp(action, "forbid_deploy") == 0) {
    if (!only(a, 2) || !key_arg(v, a, "key", key, &len))
      return "allow_deploy and forbid_deploy take {key: the suite's public key in hex}";
  } else if (strcmp(action, "deploy_default") == 0) {
    if (!only(a, 2) || !json_is_boolean(json_object_get(a, "allow")))
      return "deploy_default takes {allow: true or false}";
  } else {
    return "args.action must be add_validator, remove_validator, allow_deploy, "
           "forbid_deploy or deploy_default";
  }
  return NULL;
}

/* ---- applying a decision ------------------------------------------------------- */

/* The new validator set a passed change makes; NULL reason when it applies. */
static const char *set_change(const qp_chain_view_t *v, const json_t *a,
                              const qp_chain_valset_t *cur, qp_chain_valset_t *next) {
  uint8_t key[QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  key_arg(v, a, "public_key", key, &len);
  int32_t at = qp_chain_valset_find(cur, key, len);
  *next = *cur;
  next->epoch = cur->epoch + 1;
  next->since = v->height + 1;
  if (cur->since == v->height + 1) return "the validator set changed in this block already";
  if (strcmp(json_string_value(json_object_get(a, "action")), "add_validator") == 0) {
    if (at >= 0) return "the key is a validator already";
    if (cur->count == QP_CHAIN_VALIDATORS_MAX) return "the validator set is full";
    qp_chain_validator_t *nv = &next->validators[next->count];
    memset(nv, 0, sizeof *nv);
    memcpy(nv->public_key, key, len);
    nv->public_key_len = (uint32_t)len;
    snprintf(nv->name, sizeof nv->name, "%s", json_string_value(json_object_get(a, "name")));
    snprintf(next->addresses[next->count], sizeof next->addresses[0], "%s",
             json_string_value(json_object_get(a, "address")));
    next->count++;
    return NULL;
  }
  if (at < 0) return "the key is not a validator";
  if (cur->count == 1) return "the last validator cannot be removed";
  for (uint32_t i = (uint32_t)at; i + 1 < cur->count; i++) {
    next->validators[i] = cur->validators[i + 1];
    memcpy(next->addresses[i], cur->addresses[i + 1], sizeof next->addresses[i]);
  }
  next->count--;
  memset(&next->validators[next->count], 0, sizeof next->validators[0]);
  memset(next->addresses[next->count], 0, sizeof next->addresses[0]);
  return NULL;
}

static int apply_set(const qp_chain_view_t *v, const qp_chain_valset_t *next,
                     qp_chain_effects_t *e) {
  uint8_t *rec = qp_malloc(QP_CHAIN_VALSET_BYTES_MAX), key[8], epoch[4];
  if (rec == NULL) return QP_ENOMEM;
  size_t n = qp_chain_valset_encode(next, rec);
  qp_chain_gov_set_key(next->epoch, key);
  qp_store_u32(epoch, next->epoch);
  int rc = qp_chain_effects_put(e, key, sizeof key, rec, n);
  if (rc == 0) rc = qp_chain_effects_put(e, (const uint8_t *)"epoch", 5, epoch, sizeof epoch);
  /* The record travels in the receipt too: a proof shows the change by it. */
  char *hex = rc == 0 ? qp_malloc(2 * n + 1) : NULL;
  if (hex != NULL) qp_hex(hex, rec, n);
  qp_free(rec);
  json_t *f = hex == NULL ? NULL
                          : json_pack("{s:I, s:I, s:I, s:s}", "epoch", (json_int_t)next->epoch,
                                      "since", (json_int_t)next->since, "validators",
                                      (json_int_t)next->count, "set", hex);
  qp_free(hex);
  (void)v;
  if (rc == 0) rc = f == NULL ? QP_ENOMEM : qp_chain_effects_event(e, "gov.validators", f);
  else json_decref(f);
  return rc;
}

static int apply_deploy(const qp_chain_view_t *v, const json_t *a, qp_chain_effects_t *e) {
  const char *action = json_string_value(json_object_get(a, "action"));
  uint8_t value = 0;
  if (strcmp(action, "deploy_default") == 0) {
    value = json_is_true(json_object_get(a, "allow")) ? 1 : 0;
    return qp_chain_effects_put(e, (const uint8_t *)"deploy_default", 14, &value, 1);
  }
  uint8_t k[7 + QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  key_arg(v, a, "key", k + 7, &len);
  memcpy(k, "deploy/", 7);
  value = strcmp(action, "allow_deploy") == 0 ? 1 : 0;
  return qp_chain_effects_put(e, k, 7 + len, &value, 1);
}

/* Applies the passed proposal p: its status becomes passed or rejected. */
static int decide(const qp_chain_view_t *v, json_t *p, const qp_chain_valset_t *cur,
                  qp_chain_effects_t *e) {
  const json_t *a = json_object_get(p, "args");
  const char *action = json_string_value(json_object_get(a, "action"));
  const char *why = NULL;
  int rc = 0;
  if (strstr(action, "validator") != NULL) {
    qp_chain_valset_t *next = qp_malloc(sizeof *next);
    if (next == NULL) return QP_ENOMEM;
    why = set_change(v, a, cur, next);
    if (why == NULL) rc = apply_set(v, next, e);
    qp_free(next);
  } else {
    rc = apply_deploy(v, a, e);
  }
  json_object_set_new(p, "status", json_string(why == NULL ? "passed" : "rejected"));
  json_object_set_new(p, "decided", json_integer((json_int_t)v->height));
  if (why != NULL) json_object_set_new(p, "reason", json_string(why));
  return rc;
}

/* ---- transactions ----------------------------------------------------------- */

static uint32_t tally(const json_t *p, const qp_chain_valset_t *cur) {
  uint32_t count = 0;
  const json_t *votes = json_object_get(p, "votes");
  for (size_t i = 0; i < json_array_size(votes); i++) {
    const char *h = json_string_value(json_array_get(votes, i));
    uint8_t key[QP_SIGN_PUBLIC_MAX];
    size_t n = h != NULL ? strlen(h) / 2 : 0;
    if (h != NULL && n <= sizeof key && qp_chain_unhex(h, 2 * n, key, n) == 0 &&
        qp_chain_valset_find(cur, key, n) >= 0)
      count++;
  }
  return count;
}

/* Counts p's votes; decides it at the quorum; stores it; the receipt. */
static int conclude(const qp_chain_view_t *v, uint64_t id, json_t *p,
                    const qp_chain_valset_t *cur, qp_chain_effects_t *e) {
  uint32_t votes = tally(p, cur), needed = qp_chain_quorum(cur->count);
  int rc = votes >= needed ? decide(v, p, cur, e) : 0;
  if (rc == 0) rc = proposal_put(e, id, p);
  if (rc != 0) return rc;
  json_object_set_new(e->result, "proposal", json_integer((json_int_t)id));
  json_object_set(e->result, "status", json_object_get(p, "status"));
  json_object_set_new(e->result, "votes", json_integer(votes));
  json_object_set_new(e->result, "needed", json_integer(needed));
  if (json_object_get(p, "reason") != NULL)
    json_object_set(e->result, "reason", json_object_get(p, "reason"));
  json_t *f = json_pack("{s:I, s:O}", "proposal", (json_int_t)id, "status",
                        json_object_get(p, "status"));
  return f == NULL ? QP_ENOMEM : qp_chain_effects_event(e, "gov.vote", f);
}

/* The sender as a validator in force: its hex into hex, or a failed
 * receipt (1). */
static int validator_sender(const qp_chain_view_t *v, const qp_chain_tx_t *tx,
                            qp_chain_valset_t *cur, char hex[2 * QP_SIGN_PUBLIC_MAX + 1],
                            qp_chain_effects_t *e) {
  int rc = qp_chain_gov_valset(v, cur);
  if (rc != 0) return rc;
  if (qp_chain_valset_find(cur, tx->sender, tx->sender_len) < 0) {
    rc = qp_chain_effects_fail(e, "not_validator",
                               "only a validator in force proposes and votes");
    return rc != 0 ? rc : 1;
  }
  qp_chain_hex(hex, tx->sender, tx->sender_len);
  return 0;
}

static int propose_as(const qp_chain_view_t *v, const qp_chain_tx_t *tx, const json_t *args,
                      qp_chain_valset_t *cur, qp_chain_effects_t *e) {
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
  int rc = validator_sender(v, tx, cur, hex, e);
  if (rc != 0) return rc > 0 ? 0 : rc;
  const char *bad = proposal_args_bad(v, args);
  if (bad != NULL) return qp_chain_effects_fail(e, "bad_args", bad);
  const uint8_t *p = NULL;
  size_t n = 0;
  uint64_t id = 1;
  rc = v->get(v->ctx, (const uint8_t *)"next", 4, &p, &n);
  if (rc == 0 && n == 8) id = qp_load_u64(p);
  else if (rc == 0) rc = QP_ECORRUPT;
  if (rc == QP_ENOTFOUND) rc = 0;
  uint8_t next[8];
  qp_store_u64(next, id + 1);
  if (rc == 0) rc = qp_chain_effects_put(e, (const uint8_t *)"next", 4, next, sizeof next);
  json_t *prop = rc == 0 ? json_pack("{s:I, s:O, s:s, s:[s], s:s, s:I, s:I}", "id",
                                     (json_int_t)id, "args", args, "proposer", hex, "votes",
                                     hex, "status", "open", "created", (json_int_t)v->height,
                                     "epoch", (json_int_t)cur->epoch)
                         : NULL;
  if (rc == 0 && prop == NULL) rc = QP_ENOMEM;
  if (rc == 0) rc = conclude(v, id, prop, cur, e);
  json_decref(prop);
  return rc;
}

static int vote_as(const qp_chain_view_t *v, const qp_chain_tx_t *tx, const json_t *args,
                   qp_chain_valset_t *cur, qp_chain_effects_t *e) {
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
  int rc = validator_sender(v, tx, cur, hex, e);
  if (rc != 0) return rc > 0 ? 0 : rc;
  json_t *idj = json_object_get(args, "proposal");
  if (!json_is_integer(idj) || json_integer_value(idj) < 1 || json_object_size(args) != 1)
    return qp_chain_effects_fail(e, "bad_args", "vote takes {proposal: its id}");
  uint64_t id = (uint64_t)json_integer_value(idj);
  json_t *p = qp_chain_gov_proposal(v, id, &rc);
  if (rc == QP_ENOTFOUND)
    return qp_chain_effects_fail(e, "unknown_proposal", "no proposal has this id");
  if (rc != 0) return rc;
  json_t *votes = json_object_get(p, "votes");
  bool voted = false;
  for (size_t i = 0; i < json_array_size(votes); i++)
    voted |= strcmp(json_string_value(json_array_get(votes, i)), hex) == 0;
  if (strcmp(json_string_value(json_object_get(p, "status")), "open") != 0)
    rc = qp_chain_effects_fail(e, "decided", "the proposal is decided already");
  else if (voted)
    rc = qp_chain_effects_fail(e, "already_voted", "this validator voted for it already");
  else if (json_array_append_new(votes, json_string(hex)) != 0)
    rc = QP_ENOMEM;
  else
    rc = conclude(v, id, p, cur, e);
  json_decref(p);
  return rc;
}

int qp__chain_gov_execute(const qp_chain_view_t *view, const qp_chain_tx_t *tx,
                          const json_t *args, qp_chain_effects_t *e) {
  bool propose = strcmp(tx->method, "propose") == 0;
  if (!propose && strcmp(tx->method, "vote") != 0)
    return qp_chain_effects_fail(e, "unknown_method",
                                 "gov has propose and vote (and the queries validators, "
                                 "proposal, proposals, may_deploy)");
  qp_chain_valset_t *cur = qp_malloc(sizeof *cur); /* ~9 KiB: not on the driver's stack */
  if (cur == NULL) return QP_ENOMEM;
  int rc = propose ? propose_as(view, tx, args, cur, e) : vote_as(view, tx, args, cur, e);
  qp_free(cur);
  return rc;
}
