/*
 * app_gov_query.c - the gov app's queries (docs/chain.md, "Governance"):
 *   validators {}            {"epoch","since","validators":[{index,name,public_key,address}]}
 *   proposal {"id"}          the proposal as stored
 *   proposals {}             every proposal, newest first (at most 1,000)
 *   may_deploy {"key"}       {"key","allowed"}
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/app.h"
#include "chain/gov.h"
#include "chain/keyfile.h"

#define PROPOSALS_LISTED_MAX 1000u

static int refuse(char code[QP_CHAIN_CODE_MAX + 1], const char *c, char *detail, size_t size,
                  const char *msg, int rc) {
  snprintf(code, QP_CHAIN_CODE_MAX + 1, "%s", c);
  snprintf(detail, size, "%s", msg);
  return rc;
}

static json_t *validators_json(const qp_chain_valset_t *s) {
  json_t *list = json_array();
  for (uint32_t i = 0; i < s->count; i++) {
    char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
    qp_chain_hex(hex, s->validators[i].public_key, s->validators[i].public_key_len);
    json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s}", "index", (json_int_t)i, "name",
                                          s->validators[i].name, "public_key", hex, "address",
                                          s->addresses[i]));
  }
  return json_pack("{s:I, s:I, s:o}", "epoch", (json_int_t)s->epoch, "since",
                   (json_int_t)s->since, "validators", list);
}

static int list_proposals(const qp_chain_view_t *v, json_t **result) {
  const uint8_t *p = NULL;
  size_t n = 0;
  uint64_t next = 1;
  int rc = v->get(v->ctx, (const uint8_t *)"next", 4, &p, &n);
  if (rc == 0 && n == 8) next = qp_load_u64(p);
  else if (rc != QP_ENOTFOUND) return rc == 0 ? QP_ECORRUPT : rc;
  json_t *list = json_array();
  for (uint64_t id = next - 1; id >= 1 && json_array_size(list) < PROPOSALS_LISTED_MAX; id--) {
    json_t *o = qp_chain_gov_proposal(v, id, &rc);
    if (rc != 0) break;
    json_array_append_new(list, o);
  }
  if (rc != 0) {
    json_decref(list);
    return rc;
  }
  *result = json_pack("{s:o}", "proposals", list);
  return *result != NULL ? 0 : QP_ENOMEM;
}

static int gov_query(const qp_chain_view_t *v, const char *method, const json_t *args,
                     json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
                     size_t size) {
  int rc = 0;
  if (strcmp(method, "validators") == 0) {
    qp_chain_valset_t *set = qp_malloc(sizeof *set); /* ~9 KiB: queries run on any thread */
    rc = set == NULL ? QP_ENOMEM : qp_chain_gov_valset(v, set);
    if (rc == 0) *result = validators_json(set);
    qp_free(set);
  } else if (strcmp(method, "proposal") == 0) {
    json_t *id = json_object_get(args, "id");
    if (!json_is_integer(id) || json_integer_value(id) < 1 || json_object_size(args) != 1)
      return refuse(code, "bad_args", detail, size, "args must be {\"id\": a proposal id}",
                    QP_EINVAL);
    *result = qp_chain_gov_proposal(v, (uint64_t)json_integer_value(id), &rc);
    if (rc == QP_ENOTFOUND)
      return refuse(code, "not_found", detail, size, "no proposal has this id", QP_ENOTFOUND);
  } else if (strcmp(method, "proposals") == 0) {
    rc = list_proposals(v, result);
  } else if (strcmp(method, "may_deploy") == 0) {
    const char *h = json_string_value(json_object_get(args, "key"));
    uint8_t key[QP_SIGN_PUBLIC_MAX];
    size_t n = h != NULL ? strlen(h) / 2 : 0;
    bool allowed = false;
    if (h == NULL || strlen(h) % 2 != 0 || n == 0 || n > sizeof key ||
        qp_chain_unhex(h, strlen(h), key, n) != 0 || json_object_size(args) != 1)
      return refuse(code, "bad_args", detail, size, "args must be {\"key\": a public key in hex}",
                    QP_EINVAL);
    rc = qp_chain_gov_may_deploy(v, key, n, &allowed);
    if (rc == 0) *result = json_pack("{s:s, s:b}", "key", h, "allowed", allowed);
  } else {
    return refuse(code, "unknown_method", detail, size,
                  "gov answers validators, proposal, proposals and may_deploy", QP_EINVAL);
  }
  if (rc == 0 && *result == NULL) rc = QP_ENOMEM;
  if (rc == 0) snprintf(code, QP_CHAIN_CODE_MAX + 1, "ok");
  return rc;
}

const qp_chain_app_t qp_chain_app_gov = {"gov", qp__chain_gov_execute, gov_query};
