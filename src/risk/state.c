/*
 * state.c - the feature state of a ruleset: made for one ruleset, carried
 * over to the next one for the features whose definition did not change
 * (a ruleset swap keeps their windows), and saved as bytes at a clean stop
 * (loaded back at start) or to give a shadow ruleset the live history.
 *
 * Snapshot bytes: "QPRISKS1", the engine time, the feature count, then per
 * feature its definition text and its map (feature_snap.c), and last the
 * BLAKE2b-256 of everything before it.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "risk/risk_int.h"

#define SNAP_MAGIC "QPRISKS1"
#define SIG_MAX 400u

void qp_risk_state_free(qp_risk_state_t *st) {
  if (st == NULL) return;
  for (size_t i = 0; st->features != NULL && i < st->rs->features.count; i++)
    qp__risk_fstate_free(st->features[i]);
  qp_free(st->features);
  qp_free(st->lists);
  qp_free(st->fields);
  qp_free(st->in_cache);
  qp_free(st->keys);
  qp_free(st);
}

int qp_risk_state_new(const qp_risk_ruleset_t *rs, qp_risk_lists_t *lists,
                      qp_risk_state_t **out) {
  *out = NULL;
  qp_risk_state_t *st = qp_calloc(1, sizeof *st);
  if (st == NULL) return QP_ENOMEM;
  st->rs = rs;
  st->engine_time = -1;
  st->lists = qp_calloc(rs->lists.count + 1, sizeof *st->lists);
  st->features = qp_calloc(rs->features.count + 1, sizeof *st->features);
  st->fields = qp_calloc(rs->fields.count + 1, sizeof *st->fields);
  st->in_cache = qp_calloc(rs->lists.count + 1, sizeof *st->in_cache);
  st->keys = qp_calloc(rs->fields.count + 1, sizeof *st->keys);
  int rc = st->lists && st->features && st->fields && st->in_cache && st->keys ? 0 : QP_ENOMEM;
  for (size_t i = 0; rc == 0 && i < rs->lists.count; i++) {
    const qp__risk_list_decl_t *d = qp_array_at(&rs->lists, i);
    char err[160];
    rc = qp_risk_lists_declare(lists, d->name, d->kind, err, sizeof err);
    st->lists[i] = qp__risk_lists_find(lists, d->name);
  }
  for (size_t i = 0; rc == 0 && i < rs->features.count; i++)
    rc = qp__risk_fstate_new(qp_array_at(&rs->features, i), &st->features[i]);
  if (rc != 0) {
    qp_risk_state_free(st);
    return rc;
  }
  *out = st;
  return 0;
}

uint64_t qp_risk_state_keys(const qp_risk_state_t *st) {
  uint64_t n = 0;
  for (size_t i = 0; i < st->rs->features.count; i++) n += qp__risk_fstate_keys(st->features[i]);
  return n;
}

void qp__risk_feature_sig(const qp_risk_ruleset_t *rs, uint32_t i, char *buf, size_t size) {
  static const char *const kinds[] = {"", "count", "sum", "distinct"};
  const qp__risk_feature_t *f = qp_array_at(&rs->features, i);
  const char *key = *(char **)qp_array_at(&rs->fields, f->key);
  const char *field = f->kind == QP__RISK_COUNT ? "" : *(char **)qp_array_at(&rs->fields, f->field);
  snprintf(buf, size, "%s(%s) by %s over %lld", kinds[f->kind], field, key,
           (long long)f->window_s);
}

/* The first feature of st whose definition is sig and that is not taken
 * yet (marking it taken), or -1.  Two features of one ruleset may share a
 * definition: each gets its own counterpart, in order. */
static int64_t feature_by_sig(const qp_risk_state_t *st, const char *sig, uint8_t *taken) {
  char mine[SIG_MAX];
  for (uint32_t i = 0; i < st->rs->features.count; i++) {
    if (taken[i]) continue;
    qp__risk_feature_sig(st->rs, i, mine, sizeof mine);
    if (strcmp(mine, sig) == 0) return taken[i] = 1, i;
  }
  return -1;
}

uint32_t qp_risk_state_carry(qp_risk_state_t *to, qp_risk_state_t *from) {
  uint32_t kept = 0;
  char sig[SIG_MAX];
  uint8_t taken[QP_RISK_FEATURES_MAX] = {0};
  for (uint32_t i = 0; i < from->rs->features.count; i++) {
    qp__risk_feature_sig(from->rs, i, sig, sizeof sig);
    int64_t k = feature_by_sig(to, sig, taken);
    if (k < 0 || qp__risk_fstate_keys(to->features[k]) != 0) continue;
    qp__risk_fstate_t *swap = to->features[k];
    to->features[k] = from->features[i];
    from->features[i] = swap;
    kept++;
  }
  if (from->engine_time > to->engine_time) to->engine_time = from->engine_time;
  return kept;
}

int qp_risk_state_save(const qp_risk_state_t *st, qp_buf_t *out) {
  qp__risk_put(out, SNAP_MAGIC, 8);
  qp__risk_put_u64(out, (uint64_t)st->engine_time);
  qp__risk_put_u64(out, st->rs->features.count);
  char sig[SIG_MAX];
  for (uint32_t i = 0; i < st->rs->features.count; i++) {
    qp__risk_feature_sig(st->rs, i, sig, sizeof sig);
    qp__risk_put_u64(out, strlen(sig));
    qp__risk_put(out, sig, strlen(sig));
    qp__risk_fstate_save(st->features[i], out);
  }
  uint8_t h[QP_HASH_SIZE];
  qp_hash256(h, out->data, out->failed ? 0 : out->len);
  qp__risk_put(out, h, sizeof h);
  return out->failed ? QP_ENOMEM : 0;
}

static qp__risk_fkind_t sig_kind(const char *sig) {
  if (strncmp(sig, "count(", 6) == 0) return QP__RISK_COUNT;
  if (strncmp(sig, "sum(", 4) == 0) return QP__RISK_SUM;
  if (strncmp(sig, "distinct(", 9) == 0) return QP__RISK_DISTINCT;
  return 0;
}

static int load_feature(qp_risk_state_t *st, qp__risk_reader_t *r, uint8_t *taken,
                        uint32_t *loaded) {
  uint64_t len = qp__risk_get_u64(r);
  char sig[SIG_MAX];
  if (r->bad || len >= SIG_MAX || !qp__risk_get(r, sig, len)) return QP_ECORRUPT;
  sig[len] = '\0';
  int64_t k = feature_by_sig(st, sig, taken);
  if (k >= 0 && qp__risk_fstate_keys(st->features[k]) == 0) {
    (*loaded)++;
    return qp__risk_fstate_load(st->features[k], r);
  }
  /* A feature the ruleset no longer has: read it into a scratch map. */
  qp__risk_feature_t f = {.kind = sig_kind(sig), .bucket_s = 60};
  if (f.kind == 0) return QP_ECORRUPT;
  qp__risk_fstate_t *scratch;
  int rc = qp__risk_fstate_new(&f, &scratch);
  if (rc == 0) rc = qp__risk_fstate_load(scratch, r);
  qp__risk_fstate_free(scratch);
  return rc;
}

int qp_risk_state_load(qp_risk_state_t *st, const uint8_t *data, size_t len, uint32_t *loaded) {
  *loaded = 0;
  uint8_t h[QP_HASH_SIZE];
  if (len < 8 + 16 + QP_HASH_SIZE || memcmp(data, SNAP_MAGIC, 8) != 0) return QP_ECORRUPT;
  qp_hash256(h, data, len - QP_HASH_SIZE);
  if (memcmp(h, data + len - QP_HASH_SIZE, QP_HASH_SIZE) != 0) return QP_ECORRUPT;
  qp__risk_reader_t r = {.p = data + 8, .left = len - 8 - QP_HASH_SIZE};
  int64_t t = (int64_t)qp__risk_get_u64(&r);
  uint64_t n = qp__risk_get_u64(&r);
  if (t < -1 || t > QP_RISK_TIME_MAX || n > QP_RISK_FEATURES_MAX) return QP_ECORRUPT;
  uint8_t taken[QP_RISK_FEATURES_MAX] = {0};
  for (uint64_t i = 0; i < n; i++) {
    int rc = load_feature(st, &r, taken, loaded);
    if (rc != 0) return rc;
  }
  if (r.bad || r.left != 0) return QP_ECORRUPT;
  if (t > st->engine_time) st->engine_time = t;
  return 0;
}

int qp_risk_lists_compatible(const qp_risk_lists_t *lists, const qp_risk_ruleset_t *rs,
                             char *err, size_t err_size) {
  for (size_t i = 0; i < rs->lists.count; i++) {
    const qp__risk_list_decl_t *d = qp_array_at(&rs->lists, i);
    qp_risk_list_kind_t kind;
    uint64_t size;
    if (qp_risk_list_info(lists, d->name, &kind, &size) == 0 && kind != d->kind) {
      snprintf(err, err_size, "list '%s' exists as a %s list (%llu items); a ruleset cannot "
               "declare it as a %s list", d->name, kind == QP_RISK_LIST_SET ? "set" : "cidr",
               (unsigned long long)size, d->kind == QP_RISK_LIST_SET ? "set" : "cidr");
      return QP_EEXISTS;
    }
  }
  return 0;
}
