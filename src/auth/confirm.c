/*
 * confirm.c - POST /v1/payment-intents/{id}/confirm: the assertion over the
 * payment's challenge is checked, and only then is the hold posted.
 *
 * Order: the body's shape; the intent's challenge, taken once (400
 * challenge_not_issued, challenge_used, challenge_expired); the intent
 * still confirmable (409); the credential, which must be the intent
 * user's (400 credential_unknown: never registered, deleted, another
 * user's, or a userHandle that is not the user's); then WebAuthn §7.2
 * (assert.c) with user verification required, and for type payment.get
 * SPC's "payment" member (payment.c); the new signature count is stored;
 * the pending transfer is posted.  One confirm or cancel of an intent runs
 * at a time.
 */
#include <string.h>

#include "auth/assert.h"
#include "auth/intents_int.h"
#include "base/alloc.h"
#include "base/err.h"

typedef qp__auth_assertion_in_t assertion_t;

static const char *const GET_TYPES[] = {"webauthn.get", "payment.get"};

bool qp__auth_read_assertion(const json_t *cred, assertion_t *as, qp_http_reply_t *r) {
  const json_t *resp = json_object_get(cred, "response");
  const char *type = json_string_value(json_object_get(cred, "type"));
  uint8_t id[QP_AUTH_CREDENTIAL_ID_MAX];
  size_t id_len = 0;
  if (!json_is_object(resp) || type == NULL || strcmp(type, "public-key") != 0) {
    qp_http_reply_fail(r, 400, "invalid_value", "credential", "credential must be an "
                       "AuthenticationResponseJSON: {id, rawId, type: \"public-key\", response}");
    return false;
  }
  const json_t *uh = json_object_get(resp, "userHandle");
  as->has_user_handle = json_is_string(uh) && json_string_length(uh) > 0;
  if (!qp__auth_b64_member(cred, "rawId", "credential.rawId", as->raw_id, sizeof as->raw_id,
                           &as->raw_id_len, r) ||
      !qp__auth_b64_member(cred, "id", "credential.id", id, sizeof id, &id_len, r) ||
      !qp__auth_b64_member(resp, "clientDataJSON", "credential.response.clientDataJSON",
                           as->client_data, sizeof as->client_data, &as->client_data_len, r) ||
      !qp__auth_b64_member(resp, "authenticatorData", "credential.response.authenticatorData",
                           as->auth_data, sizeof as->auth_data, &as->auth_data_len, r) ||
      !qp__auth_b64_member(resp, "signature", "credential.response.signature", as->sig,
                           sizeof as->sig, &as->sig_len, r) ||
      (as->has_user_handle &&
       !qp__auth_b64_member(resp, "userHandle", "credential.response.userHandle",
                            as->user_handle, sizeof as->user_handle, &as->user_handle_len, r)))
    return false;
  if (id_len == as->raw_id_len && memcmp(id, as->raw_id, id_len) == 0) return true;
  qp_http_reply_fail(r, 400, "credential_id_mismatch", "credential.id",
                     "credential.id and credential.rawId differ");
  return false;
}

static bool take_challenge(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE],
                           qp__auth_ceremony_t *c, qp_http_reply_t *r) {
  int rc = qp__auth_ceremony_take_intent(a, id, c);
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 400, "challenge_not_issued", "", "no challenge is outstanding for "
                       "this payment intent: POST /v1/payment-intents/{id}/challenge first");
  else if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 400, "challenge_used", "", "this payment's challenge was used already");
  else if (rc == QP_ERANGE)
    qp_http_reply_fail(r, 400, "challenge_expired", "", "this payment's challenge expired");
  return rc == 0;
}

static bool credential_unknown(qp_http_reply_t *r, const char *why) {
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 400, "credential_unknown", "credential.id", "%s", why);
  qp_http_reply_error(r, &err);
  return false;
}

bool qp__auth_find_credential(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                            const assertion_t *as, json_t **rec, qp_auth_cose_key_t *key,
                            qp_http_reply_t *r) {
  return qp__auth_find_credential_in(a, QP__AUTH_USERS, user_id, as, rec, key, r);
}

bool qp__auth_find_credential_in(qp__auth_t *a, qp__auth_realm_t realm,
                                 const uint8_t user_id[QP_AUTH_ID_SIZE], const assertion_t *as,
                                 json_t **rec, qp_auth_cose_key_t *key, qp_http_reply_t *r) {
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(user_id, hex);
  int rc = qp__auth_realm_cred_get(a, realm, as->raw_id, as->raw_id_len, rec);
  if (rc == QP_ENOTFOUND) return credential_unknown(r, "no such credential is registered");
  if (rc != 0) {
    qp__auth_reply_store(r, rc, "cannot read the credential");
    return false;
  }
  const char *owner = json_string_value(json_object_get(*rec, "user_id"));
  if (owner == NULL || strcmp(owner, hex) != 0)
    return credential_unknown(r, "the credential is not one of this payment's user");
  if (as->has_user_handle && (as->user_handle_len != QP_AUTH_ID_SIZE ||
                              memcmp(as->user_handle, user_id, QP_AUTH_ID_SIZE) != 0))
    return credential_unknown(r, "userHandle is not this payment's user");
  uint8_t cose[QP_AUTH_COSE_KEY_MAX];
  size_t len = 0, used = 0;
  const char *pk = json_string_value(json_object_get(*rec, "public_key"));
  if (pk == NULL || qp__auth_b64url_decode(pk, cose, sizeof cose, &len) != 0 ||
      qp_auth_cose_decode(cose, len, &used, key, NULL) != 0) {
    qp__auth_reply_store(r, QP_ECORRUPT, "the stored credential key does not decode");
    return false;
  }
  return true;
}

/* SPC: the "payment" member of a payment.get clientDataJSON must be this intent. */
static int check_spc(qp__auth_t *a, const json_t *intent, const qp_auth_clientdata_t *cd,
                     const qp_auth_origin_policy_t *policy, qp_auth_fail_t *fail) {
  const char *tops[2 * QP_AUTH_ORIGINS_MAX];
  size_t n = 0;
  for (size_t i = 0; i < policy->origins_count; i++) tops[n++] = policy->origins[i];
  for (size_t i = 0; i < policy->top_origins_count; i++) tops[n++] = policy->top_origins[i];
  qp_auth_payment_t p;
  char value[QP_AUTH_AMOUNT_TEXT_MAX];
  if (qp__auth_intent_payment(intent, &p) != 0 || qp_auth_amount_major(p.amount, p.currency,
                                                                       value) != 0)
    return qp__auth_fail(fail, QP_AUTH_INTERNAL, "the stored payment intent is damaged");
  const json_t *instr = json_object_get(intent, "instrument");
  qp_auth_spc_expect_t ex = {a->settings.rp_id, tops, n, p.payee_name,
                             json_string_value(json_object_get(intent, "payee_origin")),
                             p.currency, value,
                             json_string_value(json_object_get(instr, "display_name")),
                             json_string_value(json_object_get(instr, "icon"))};
  return qp_auth_spc_check(cd->json, &ex, fail);
}

/* §7.2 over the assertion, then SPC when the type is payment.get. */
static bool verify(qp__auth_t *a, const json_t *intent, const qp__auth_ceremony_t *c,
                   const assertion_t *as, const json_t *rec, const qp_auth_cose_key_t *key,
                   qp_auth_assertion_t *out, qp_http_reply_t *r) {
  char buf[2][QP_AUTH_ORIGIN_MAX];
  const char *origins[QP_AUTH_ORIGINS_MAX], *tops[QP_AUTH_ORIGINS_MAX];
  qp_auth_origin_policy_t policy;
  qp__auth_policy(a, buf, origins, tops, &policy);
  const json_t *flags = json_object_get(rec, "flags");
  qp_auth_assert_expect_t ex = {
      a->settings.rp_id, true, {GET_TYPES, 2, c->challenge, sizeof c->challenge, &policy},
      key->pkey, key->alg, (uint32_t)json_integer_value(json_object_get(rec, "sign_count")),
      json_is_true(json_object_get(flags, "be"))};
  qp_auth_fail_t fail = {0};
  qp_auth_clientdata_t cd = {0};
  int rc = qp_auth_assert_verify(&ex, as->client_data, as->client_data_len, as->auth_data,
                                 as->auth_data_len, as->sig, as->sig_len, out, &cd, &fail);
  if (rc == 0 && strcmp(cd.type, "payment.get") == 0)
    rc = check_spc(a, intent, &cd, &policy, &fail);
  if (cd.json != NULL) qp_auth_clientdata_deinit(&cd);
  if (rc != 0) qp__auth_reply_refusal(r, rc, &fail, "credential");
  return rc == 0;
}

json_t *qp__auth_flags_json(uint8_t f) {
  return json_pack("{s:b, s:b, s:b, s:b}", "up", (f & QP_AUTH_FLAG_UP) != 0, "uv",
                   (f & QP_AUTH_FLAG_UV) != 0, "be", (f & QP_AUTH_FLAG_BE) != 0, "bs",
                   (f & QP_AUTH_FLAG_BS) != 0);
}

/* Stores the new count and last use; then posts the hold. */
static void settle(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t *intent,
                   json_t *rec, const assertion_t *as, const qp_auth_assertion_t *out,
                   qp_http_reply_t *r) {
  int64_t now = qp__auth_now_s();
  json_object_set_new(rec, "sign_count", json_integer(out->sign_count));
  json_object_set_new(rec, "last_used", qp__auth_time_json(now));
  json_object_set_new(rec, "flags", qp__auth_flags_json(out->flags));
  int rc = qp__auth_cred_update(a, as->raw_id, as->raw_id_len, rec);
  if (rc != 0) {
    qp__auth_reply_store(r, rc, "cannot store the signature count; nothing was posted");
    return;
  }
  qp_transfer_t post;
  memset(&post, 0, sizeof post);
  post.flags = QP_TRANSFER_POST_PENDING_TRANSFER;
  uint32_t result = 0;
  rc = qp__auth_u128_member(intent, "transfer_id", &post.pending_id);
  post.id = qp__auth_settle_transfer_id(post.pending_id, 'P');
  if (rc == 0) rc = qp__auth_ledger_move(&post, &result);
  bool posted = rc == 0 && result == QP_CREATE_TRANSFER_OK;
  bool expired = rc == 0 && result == QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED;
  if (posted || expired) {
    json_object_set_new(intent, "status", json_string(posted ? "succeeded" : "expired"));
    if (posted) {
      json_object_set_new(intent, "confirmed_at", qp__auth_time_json(now));
      json_object_set(intent, "credential_id", json_object_get(rec, "id"));
      json_object_set_new(intent, "post_transfer_id", qp__auth_u128_json(post.id));
    }
    rc = qp__auth_intent_put(a, id, intent, false);
  }
  if (rc != 0) qp__auth_reply_store(r, rc, "cannot store the payment intent");
  else if (posted) qp_http_reply_json(r, 200, qp__auth_intent_public(intent));
  else if (expired) qp__auth_intent_confirmable(intent, r);
  else qp__auth_reply_ledger(r, rc, result);
}

void qp__auth_intent_confirm_run(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t *intent,
                                 const json_t *body, assertion_t *as, qp_http_reply_t *r) {
  uint8_t user_id[QP_AUTH_ID_SIZE];
  qp__auth_ceremony_t c;
  json_t *rec = NULL;
  qp_auth_cose_key_t key = {0, NULL};
  qp_auth_assertion_t out;
  if (!qp__auth_read_assertion(json_object_get(body, "credential"), as, r) ||
      !take_challenge(a, id, &c, r) || !qp__auth_intent_confirmable(intent, r))
    return;
  if (!qp__auth_id_parse(json_string_value(json_object_get(intent, "user_id")), user_id)) {
    qp__auth_reply_store(r, QP_ECORRUPT, "the stored payment intent is damaged");
    return;
  }
  if (qp__auth_find_credential(a, user_id, as, &rec, &key, r) &&
      verify(a, intent, &c, as, rec, &key, &out, r))
    settle(a, id, intent, rec, as, &out, r);
  qp_auth_cose_key_deinit(&key);
  json_decref(rec);
}

void qp__auth_intents_confirm(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"credential", NULL};
  qp__auth_t *a = ctx;
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL, *body = qp_http_body_object(req, r, allowed, 0);
  if (body == NULL) return;
  assertion_t *as = qp_calloc(1, sizeof *as);
  if (as == NULL) qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  pthread_mutex_t *lock = qp__auth_intent_lock(a, req);
  pthread_mutex_lock(lock);
  if (as != NULL && qp__auth_intent_load(a, req, r, id, &intent))
    qp__auth_intent_confirm_run(a, id, intent, body, as, r);
  pthread_mutex_unlock(lock);
  qp_free(as);
  json_decref(intent);
  json_decref(body);
}
