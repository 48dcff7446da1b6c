/*
 * registry.c - the `registry` app's transactions (docs/apps.md,
 * "registry"): the registrar genesis names registers participants with a
 * role, and a registered funder grants a registered core enterprise a
 * credit line on a ledger until an expiry (Unix seconds, compared with the
 * block's time).  Keys: registry_read.c.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps_int.h"
#include "base/err.h"
#include "chain/chain.h"

static const char *const ROLES[] = {"core", "supplier", "funder", "clearing"};
#define ROLES_COUNT (sizeof ROLES / sizeof ROLES[0])

static bool role_known(const char *r) {
  for (size_t i = 0; i < ROLES_COUNT; i++)
    if (strcmp(ROLES[i], r) == 0) return true;
  return false;
}

static bool is_registrar(const qp_chain_view_t *v, const qp_chain_tx_t *tx) {
  const qp_chain_genesis_t *g = v->genesis;
  return g->registrar_len > 0 && g->registrar_len == tx->sender_len &&
         memcmp(g->registrar, tx->sender, g->registrar_len) == 0;
}

/* Appends hex to the role's list (bounded). */
static int role_add(const qp_chain_view_t *v, const char *role, const char *hex,
                    qp_chain_effects_t *e) {
  char key[24];
  snprintf(key, sizeof key, "r/%s", role);
  int rc = 0;
  json_t *o = qp__apps_get(v, NULL, key, &rc);
  if (o == NULL && rc != QP_ENOTFOUND) return rc;
  if (o == NULL) o = json_pack("{s:[]}", "keys");
  json_t *keys = json_object_get(o, "keys");
  if (!json_is_array(keys)) rc = o == NULL ? QP_ENOMEM : QP_ECORRUPT;
  else if (json_array_size(keys) >= QP_APPS_ROLE_MEMBERS_MAX)
    rc = qp__apps_refuse(e, "registry_full", "the role %s has %u participants, the most it "
                         "may have", role, QP_APPS_ROLE_MEMBERS_MAX);
  else if (json_array_append_new(keys, json_string(hex)) != 0) rc = QP_ENOMEM;
  else rc = qp__apps_put(e, key, o);
  json_decref(o);
  return rc;
}

static int do_register(const qp_chain_view_t *v, const qp_chain_tx_t *tx, const json_t *args,
                       qp_chain_effects_t *e) {
  static const char *const allowed[] = {"key", "name", "role"};
  qp__apps_why_t w;
  char hex[QP__APPS_HEX_MAX + 1], role[16], key[3 + QP__APPS_HEX_MAX];
  const char *name = NULL, *r = NULL;
  if (!is_registrar(v, tx))
    return qp__apps_refuse(e, "not_registrar", "only the registrar genesis names registers "
                           "participants");
  if (qp__apps_args_only(args, allowed, 3, &w) || qp__apps_arg_key(args, "key", v->genesis->suite,
                                                                    hex, &w) ||
      qp__apps_arg_text(args, "name", 1, QP_APPS_TEXT_MAX, false, &name, &w) ||
      qp__apps_arg_text(args, "role", 1, 15, false, &r, &w))
    return qp__apps_fail(e, &w);
  if (!role_known(r))
    return qp__apps_refuse(e, "bad_args", "args.role must be core, supplier, funder or clearing");
  int rc = qp__apps_role(v, hex, role);
  if (rc == 0) return qp__apps_refuse(e, "already_registered", "this key is registered already "
                                      "(as %s)", role);
  if (rc != QP_ENOTFOUND) return rc;
  json_t *p = json_pack("{s:s, s:s, s:s, s:I}", "key", hex, "name", name, "role", r, "height",
                        (json_int_t)v->height);
  qp__apps_participant_key(hex, key);
  rc = p == NULL ? QP_ENOMEM : qp__apps_put(e, key, p);
  if (rc == 0) rc = role_add(v, r, hex, e);
  if (rc == 0 && json_object_update(e->result, p) != 0) rc = QP_ENOMEM;
  if (rc == 0) rc = qp_chain_effects_event(e, "participant_registered", json_incref(p));
  json_decref(p);
  return rc;
}

/* The decoded arguments of grant_credit. */
typedef struct grant {
  char core[QP__APPS_HEX_MAX + 1]; /* the core enterprise */
  qp_u128 amount;                  /* the line's amount */
  uint64_t ledger, expiry;         /* its ledger and end (Unix seconds) */
} grant_t;

static int grant_args(const qp_chain_view_t *v, const json_t *args, grant_t *g,
                      qp_chain_effects_t *e) {
  static const char *const allowed[] = {"core", "amount", "ledger", "expiry"};
  qp__apps_why_t w;
  if (qp__apps_args_only(args, allowed, 4, &w) ||
      qp__apps_arg_key(args, "core", v->genesis->suite, g->core, &w) ||
      qp__apps_arg_amount(args, "amount", &g->amount, &w) ||
      qp__apps_arg_uint(args, "ledger", 1, UINT32_MAX, &g->ledger, &w) ||
      qp__apps_arg_uint(args, "expiry", 0, (uint64_t)1 << 53, &g->expiry, &w))
    return qp__apps_fail(e, &w);
  return 0;
}

/* Checks the funder and the core; 0 or a refusal recorded. */
static int grant_parties(const qp_chain_view_t *v, const char *funder, const char *core,
                         qp_chain_effects_t *e) {
  char role[16];
  int rc = qp__apps_role(v, funder, role);
  if (rc == QP_ENOTFOUND) return qp__apps_refuse(e, "not_registered", "the sender is not a "
                                                 "registered participant");
  if (rc != 0) return rc;
  if (strcmp(role, "funder") != 0)
    return qp__apps_refuse(e, "not_funder", "only a registered funder grants credit lines");
  rc = qp__apps_role(v, core, role);
  if (rc == QP_ENOTFOUND) return qp__apps_refuse(e, "not_registered", "args.core is not a "
                                                 "registered participant");
  if (rc != 0) return rc;
  if (strcmp(role, "core") != 0)
    return qp__apps_refuse(e, "not_core", "args.core is registered as %s, not core", role);
  return 0;
}

static int do_grant(const qp_chain_view_t *v, const qp_chain_tx_t *tx, const json_t *args,
                    qp_chain_effects_t *e) {
  grant_t g;
  char funder[QP__APPS_HEX_MAX + 1], key[4 + QP__APPS_HEX_MAX], id[QP__APPS_ID_MAX + 1];
  qp__apps_sender_hex(tx, funder);
  int rc = grant_args(v, args, &g, e);
  if (rc == 0) rc = grant_parties(v, funder, g.core, e);
  uint64_t n = 0;
  if (rc == 0) rc = qp__apps_counter(v, "cn", &n);
  if (rc != 0) return rc;
  qp__apps_lines_key(g.core, key);
  json_t *o = qp__apps_get(v, NULL, key, &rc);
  if (o == NULL && rc != QP_ENOTFOUND) return rc;
  rc = 0;
  if (o == NULL) o = json_pack("{s:[]}", "lines");
  json_t *lines = json_object_get(o, "lines");
  snprintf(id, sizeof id, "c%llu", (unsigned long long)(n + 1));
  json_t *line = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "line", id, "funder", funder,
                           "core", g.core, "amount", qp__apps_u128_json(g.amount), "ledger",
                           (json_int_t)g.ledger, "expiry", (json_int_t)g.expiry, "height",
                           (json_int_t)v->height);
  if (!json_is_array(lines) || line == NULL) rc = line == NULL ? QP_ENOMEM : QP_ECORRUPT;
  else if (json_array_size(lines) >= QP_APPS_CORE_LINES_MAX)
    rc = qp__apps_refuse(e, "too_many_lines", "the core has %u credit lines, the most it may "
                         "have", QP_APPS_CORE_LINES_MAX);
  else if (json_array_append(lines, line) != 0) rc = QP_ENOMEM;
  if (rc == 0) rc = qp__apps_put(e, key, o);
  if (rc == 0) rc = qp__apps_put_counter(e, "cn", n + 1);
  if (rc == 0 && json_object_update(e->result, line) != 0) rc = QP_ENOMEM;
  if (rc == 0) rc = qp_chain_effects_event(e, "credit_granted", json_incref(line));
  json_decref(line);
  json_decref(o);
  return rc;
}

static int registry_execute(const qp_chain_view_t *v, const qp_chain_tx_t *tx,
                            const json_t *args, qp_chain_effects_t *e) {
  int rc;
  if (strcmp(tx->method, "register") == 0) rc = do_register(v, tx, args, e);
  else if (strcmp(tx->method, "grant_credit") == 0) rc = do_grant(v, tx, args, e);
  else if (strcmp(tx->method, "participant") == 0 || strcmp(tx->method, "participants") == 0)
    rc = qp__apps_refuse(e, "query_only", "%s is a query (POST /v1/chain/query)", tx->method);
  else
    rc = qp__apps_refuse(e, "unknown_method", "registry has register and grant_credit (and "
                         "the queries participant, participants)");
  return rc > 0 ? 0 : rc;
}

const qp_chain_app_t qp_apps_registry = {QP_APPS_REGISTRY, registry_execute,
                                         qp__apps_registry_query};
