/*
 * pending.c - signups waiting for their passkey, in memory for
 * QP_WALLET_PENDING_TTL_S under the module's lock: a restart forgets
 * them, which only makes the user ask for new options.  The signup_id is
 * auth's registration ceremony id; the user is created only when the
 * passkey verifies (auth's signup door), so an abandoned signup takes no
 * handle.
 */
#include <string.h>

#include "base/err.h"
#include "wallet/wallet_int.h"

int qp__wallet_signup_add(qp__wallet_t *w, const qp__wallet_signup_t *s) {
  int64_t now = qp__wallet_now_s();
  int rc = QP_ELIMIT;
  pthread_mutex_lock(&w->lock);
  for (uint32_t i = 0; i < QP_WALLET_PENDING_MAX; i++) {
    qp__wallet_signup_t *slot = &w->signups[i];
    if (slot->live && slot->expires_s > now) continue;
    *slot = *s;
    slot->live = true;
    slot->expires_s = now + QP_WALLET_PENDING_TTL_S;
    rc = 0;
    break;
  }
  pthread_mutex_unlock(&w->lock);
  return rc;
}

int qp__wallet_signup_take(qp__wallet_t *w, const char *ceremony, qp__wallet_signup_t *out) {
  int64_t now = qp__wallet_now_s();
  int rc = QP_ENOTFOUND;
  pthread_mutex_lock(&w->lock);
  for (uint32_t i = 0; i < QP_WALLET_PENDING_MAX; i++) {
    qp__wallet_signup_t *slot = &w->signups[i];
    if (!slot->live || strcmp(slot->ceremony, ceremony) != 0) continue;
    slot->live = false;
    if (slot->expires_s > now) {
      *out = *slot;
      rc = 0;
    }
    break;
  }
  pthread_mutex_unlock(&w->lock);
  return rc;
}
