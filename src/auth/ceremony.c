/*
 * ceremony.c - challenges: 32 random bytes from libsodium's CSPRNG, bound
 * to one ceremony, one kind (registration or payment) and one user, with a
 * deadline (modules.auth.challenge_ttl_s).  A challenge is taken once:
 * the first verification marks it used whatever its outcome, so an
 * assertion cannot be replayed and a wrong guess cannot be retried.
 *
 * They live in memory only, in a table of QP_AUTH_CEREMONIES_MAX slots
 * under one mutex: a restart forgets every outstanding challenge, which
 * can only refuse a ceremony (the client asks for a new one), never accept
 * a replay.  Used slots stay until their deadline, or until the table needs
 * them, so that a replay is told apart ("challenge_used") from a challenge
 * never issued.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/clock.h"
#include "base/err.h"

/* A free slot: one never used, or one past its deadline, else the used
 * one that expires first (a used challenge is kept only to name a replay
 * "challenge_used"; once its slot is reused, a replay is still refused, as
 * a challenge unknown here).  So the table bounds the challenges
 * outstanding at once, not the ceremonies per lifetime.  Lock held. */
static qp__auth_ceremony_t *free_slot(qp__auth_t *a, uint64_t now) {
  qp__auth_ceremony_t *oldest_used = NULL;
  for (size_t i = 0; i < QP_AUTH_CEREMONIES_MAX; i++) {
    qp__auth_ceremony_t *c = &a->ceremonies[i];
    if (!c->live || c->expires_mono_ns <= now) return c;
    if (c->used && (oldest_used == NULL || c->expires_mono_ns < oldest_used->expires_mono_ns))
      oldest_used = c;
  }
  return oldest_used;
}

int qp__auth_ceremony_new(qp__auth_t *a, qp__auth_kind_t kind,
                          const uint8_t user_id[QP_AUTH_ID_SIZE], qp__auth_ceremony_t *out) {
  return qp__auth_ceremony_new_named(a, kind, user_id, "", out);
}

int qp__auth_ceremony_new_named(qp__auth_t *a, qp__auth_kind_t kind,
                                const uint8_t user_id[QP_AUTH_ID_SIZE], const char *name,
                                qp__auth_ceremony_t *out) {
  uint64_t now = qp_clock_mono_ns();
  memset(out, 0, sizeof *out);
  out->live = true;
  out->kind = kind;
  memcpy(out->user_id, user_id, QP_AUTH_ID_SIZE);
  snprintf(out->name, sizeof out->name, "%s", name);
  randombytes_buf(out->id, sizeof out->id);
  randombytes_buf(out->challenge, sizeof out->challenge);
  out->expires_mono_ns = now + (uint64_t)a->settings.challenge_ttl_s * 1000000000u;
  out->expires_wall_s = qp__auth_now_s() + a->settings.challenge_ttl_s;
  pthread_mutex_lock(&a->lock);
  qp__auth_ceremony_t *slot = free_slot(a, now);
  if (slot != NULL) *slot = *out;
  pthread_mutex_unlock(&a->lock);
  return slot != NULL ? 0 : QP_ELIMIT;
}

int qp__auth_ceremony_new_payment(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                                  const uint8_t intent_id[QP_AUTH_ID_SIZE],
                                  const uint8_t challenge[QP_AUTH_CHALLENGE_SIZE],
                                  int64_t expires_wall_s, qp__auth_ceremony_t *out) {
  uint64_t now = qp_clock_mono_ns();
  int64_t now_s = qp__auth_now_s(), ttl = a->settings.challenge_ttl_s;
  if (expires_wall_s - now_s < ttl) ttl = expires_wall_s > now_s ? expires_wall_s - now_s : 0;
  memset(out, 0, sizeof *out);
  out->live = true;
  out->kind = QP__AUTH_PAYMENT;
  memcpy(out->user_id, user_id, QP_AUTH_ID_SIZE);
  memcpy(out->intent_id, intent_id, QP_AUTH_ID_SIZE);
  memcpy(out->challenge, challenge, QP_AUTH_CHALLENGE_SIZE);
  randombytes_buf(out->id, sizeof out->id);
  out->expires_mono_ns = now + (uint64_t)ttl * 1000000000u;
  out->expires_wall_s = now_s + ttl;
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < QP_AUTH_CEREMONIES_MAX; i++) {
    qp__auth_ceremony_t *c = &a->ceremonies[i];
    if (c->live && c->kind == QP__AUTH_PAYMENT && !c->used &&
        memcmp(c->intent_id, intent_id, QP_AUTH_ID_SIZE) == 0)
      c->live = false; /* superseded */
  }
  qp__auth_ceremony_t *slot = free_slot(a, now);
  if (slot != NULL) *slot = *out;
  pthread_mutex_unlock(&a->lock);
  return slot != NULL ? 0 : QP_ELIMIT;
}

/* Takes the first live ceremony of kind whose field at offset equals key. */
static int take(qp__auth_t *a, qp__auth_kind_t kind, size_t offset, const uint8_t *key,
                qp__auth_ceremony_t *out) {
  uint64_t now = qp_clock_mono_ns();
  int rc = QP_ENOTFOUND;
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < QP_AUTH_CEREMONIES_MAX; i++) {
    qp__auth_ceremony_t *c = &a->ceremonies[i];
    const uint8_t *field = (const uint8_t *)c + offset;
    if (!c->live || c->kind != kind || sodium_memcmp(field, key, QP_AUTH_ID_SIZE) != 0) continue;
    if (c->used) rc = QP_EEXISTS;
    else if (c->expires_mono_ns <= now) rc = QP_ERANGE;
    else rc = 0;
    c->used = true;
    *out = *c;
    if (rc == 0 || kind != QP__AUTH_PAYMENT) break; /* an intent's fresh one may follow */
  }
  pthread_mutex_unlock(&a->lock);
  return rc;
}

int qp__auth_ceremony_take(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE],
                           qp__auth_kind_t kind, qp__auth_ceremony_t *out) {
  return take(a, kind, offsetof(qp__auth_ceremony_t, id), id, out);
}

int qp__auth_ceremony_take_intent(qp__auth_t *a, const uint8_t intent_id[QP_AUTH_ID_SIZE],
                                  qp__auth_ceremony_t *out) {
  return take(a, QP__AUTH_PAYMENT, offsetof(qp__auth_ceremony_t, intent_id), intent_id, out);
}
