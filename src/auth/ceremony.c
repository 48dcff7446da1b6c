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
 * a replay.  Used slots stay until their deadline so that a replay is told
 * apart ("challenge_used") from a challenge never issued.
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/clock.h"
#include "base/err.h"

/* A free slot: one never used, or one past its deadline.  Lock held. */
static qp__auth_ceremony_t *free_slot(qp__auth_t *a, uint64_t now) {
  for (size_t i = 0; i < QP_AUTH_CEREMONIES_MAX; i++) {
    qp__auth_ceremony_t *c = &a->ceremonies[i];
    if (!c->live || c->expires_mono_ns <= now) return c;
  }
  return NULL;
}

int qp__auth_ceremony_new(qp__auth_t *a, qp__auth_kind_t kind,
                          const uint8_t user_id[QP_AUTH_ID_SIZE], qp__auth_ceremony_t *out) {
  uint64_t now = qp_clock_mono_ns();
  memset(out, 0, sizeof *out);
  out->live = true;
  out->kind = kind;
  memcpy(out->user_id, user_id, QP_AUTH_ID_SIZE);
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

int qp__auth_ceremony_take(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE],
                           qp__auth_kind_t kind, qp__auth_ceremony_t *out) {
  uint64_t now = qp_clock_mono_ns();
  int rc = QP_ENOTFOUND;
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < QP_AUTH_CEREMONIES_MAX; i++) {
    qp__auth_ceremony_t *c = &a->ceremonies[i];
    if (!c->live || c->kind != kind || sodium_memcmp(c->id, id, QP_AUTH_ID_SIZE) != 0) continue;
    if (c->used) rc = QP_EEXISTS;
    else if (c->expires_mono_ns <= now) rc = QP_ERANGE;
    else rc = 0;
    c->used = true;
    *out = *c;
    break;
  }
  pthread_mutex_unlock(&a->lock);
  return rc;
}
