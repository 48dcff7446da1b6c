/*
 * apps_test.h - a small world for the apps' unit tests: a genesis naming a
 * registrar, deterministic participant keys, an in-memory state map behind
 * the apps' view (qp_chain_view_t), and calls that run a transaction
 * through an app's execute and apply its writes only when the receipt is
 * ok, exactly as chain/exec.c does.  Each call is a block of its own (the
 * height grows); the block time is w->time_s.
 */
#ifndef QP_TEST_APPS_TEST_H
#define QP_TEST_APPS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "base/alloc.h"
#include "base/err.h"
#include "chain/chain.h"
#include "test_util.h"

#define W_PARTIES 10 /* keys of seeds 1..10; 0 is the registrar */

typedef struct world {
  qp_chain_genesis_t g;                      /* registrar = party 0 */
  json_t *map;                               /* "app|key" -> string value */
  uint64_t height, time_s;                   /* of the next call */
  uint8_t pub[W_PARTIES][QP_SIGN_PUBLIC_MAX]; /* public keys */
  char hex[W_PARTIES][2 * QP_SIGN_PUBLIC_MAX + 1]; /* ... in hex */
  qp_chain_effects_t e;                      /* the last call's effects */
} world_t;

typedef struct world_view {
  world_t *w;      /* whose map */
  const char *app; /* whose keys */
} world_view_t;

static inline int w_get_app(void *ctx, const char *app, const uint8_t *key, size_t key_len,
                            const uint8_t **value, size_t *value_len) {
  world_view_t *wv = ctx;
  char k[512];
  snprintf(k, sizeof k, "%s|%.*s", app, (int)key_len, (const char *)key);
  json_t *s = json_object_get(wv->w->map, k);
  if (s == NULL) return QP_ENOTFOUND;
  *value = (const uint8_t *)json_string_value(s);
  *value_len = json_string_length(s);
  return 0;
}

static inline int w_get(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **value,
                        size_t *value_len) {
  world_view_t *wv = ctx;
  return w_get_app(ctx, wv->app, key, key_len, value, value_len);
}

static inline void w_view(world_t *w, const char *app, world_view_t *wv, qp_chain_view_t *v) {
  wv->w = w;
  wv->app = app;
  memset(v, 0, sizeof *v);
  v->get = w_get;
  v->get_app = w_get_app;
  v->ctx = wv;
  v->height = w->height;
  v->time_s = w->time_s;
  v->genesis = &w->g;
}

static inline void w_init(world_t *w) {
  memset(w, 0, sizeof *w);
  assert_int_equal(qp_crypto_init(), 0);
  w->g.suite = QP_SUITE_ED25519;
  for (int i = 0; i < W_PARTIES; i++) {
    uint8_t secret[QP_SIGN_SECRET_SIZE];
    memset(secret, i + 1, sizeof secret);
    qp_sign_key_t *k = NULL;
    assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, sizeof secret, &k), 0);
    size_t len = 0;
    qp_sign_public(k, w->pub[i], &len);
    qp_chain_hex(w->hex[i], w->pub[i], len);
    qp_sign_key_free(k);
  }
  memcpy(w->g.registrar, w->pub[0], 32);
  w->g.registrar_len = 32;
  w->map = json_object();
  w->height = 1;
  w->time_s = 1000;
  assert_int_equal(qp_chain_effects_init(&w->e), 0);
}

static inline void w_deinit(world_t *w) {
  json_decref(w->map);
  qp_chain_effects_deinit(&w->e);
}

/* The whole state as text (to see that a failed call changed nothing). */
static inline char *w_snapshot(world_t *w) {
  return json_dumps(w->map, JSON_SORT_KEYS | JSON_COMPACT);
}

static inline void w_apply(world_t *w, const char *app) {
  const uint8_t *data = (const uint8_t *)w->e.data.data;
  for (uint32_t i = 0; i < w->e.writes_count; i++) {
    const qp_chain_write_t *wr = &w->e.writes[i];
    char k[512];
    snprintf(k, sizeof k, "%s|%.*s", app, (int)wr->key_len, (const char *)data + wr->key_off);
    if (wr->del) json_object_del(w->map, k);
    else json_object_set_new(w->map, k, json_stringn((const char *)data + wr->value_off,
                                                     wr->value_len));
  }
}

/* Runs a transaction of party `who`; returns the receipt's code ("ok" or
 * the failure's), the receipt in w->e. */
static inline const char *w_call(world_t *w, int who, const char *app, const char *method,
                                 const char *args) {
  const qp_chain_app_t *a = qp_chain_app_find(app);
  assert_non_null(a);
  qp_chain_tx_t tx;
  memset(&tx, 0, sizeof tx);
  tx.suite = QP_SUITE_ED25519;
  memcpy(tx.sender, w->pub[who], 32);
  tx.sender_len = 32;
  snprintf(tx.app, sizeof tx.app, "%s", app);
  snprintf(tx.method, sizeof tx.method, "%s", method);
  json_error_t jerr;
  json_t *j = json_loads(args, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL) fail_msg("test args are not JSON: %s (%s)", args, jerr.text);
  assert_int_equal(qp_chain_effects_reset(&w->e), 0);
  world_view_t wv;
  qp_chain_view_t v;
  w_view(w, app, &wv, &v);
  assert_int_equal(a->execute(&v, &tx, j, &w->e), 0);
  json_decref(j);
  if (w->e.failed) assert_int_equal(w->e.writes_count, 0);
  else w_apply(w, app);
  w->height++;
  return w->e.code;
}

/* Like w_call, and the call must end with code; a failed one must leave
 * the state as it was. */
static inline void w_expect(world_t *w, int who, const char *app, const char *method,
                            const char *args, const char *code) {
  char *before = w_snapshot(w);
  const char *got = w_call(w, who, app, method, args);
  if (strcmp(got, code) != 0) {
    char *r = json_dumps(w->e.result, 0);
    fail_msg("%s %s %s: got %s (%s), want %s", app, method, args, got, r, code);
  }
  if (strcmp(code, "ok") != 0) {
    char *after = w_snapshot(w);
    assert_string_equal(before, after);
    free(after);
  }
  free(before);
}

/* A string field of the last receipt's result. */
static inline const char *w_result(world_t *w, const char *field) {
  const char *s = json_string_value(json_object_get(w->e.result, field));
  if (s == NULL) fail_msg("the result has no string %s", field);
  return s;
}

/* Answers a query: the result (the caller's) or NULL with code. */
static inline json_t *w_query(world_t *w, const char *app, const char *method,
                              const char *args, char code[QP_CHAIN_CODE_MAX + 1]) {
  const qp_chain_app_t *a = qp_chain_app_find(app);
  json_t *j = json_loads(args, 0, NULL);
  assert_non_null(j);
  world_view_t wv;
  qp_chain_view_t v;
  w_view(w, app, &wv, &v);
  w->height--; /* a query sees the committed height */
  v.height = w->height;
  w->height++;
  json_t *result = NULL;
  char detail[256] = "";
  int rc = a->query(&v, method, j, &result, code, detail, sizeof detail);
  json_decref(j);
  if (rc != 0) assert_null(result);
  return rc == 0 ? result : NULL;
}

/* The standard cast: registrar 0 registers core 1, suppliers 2 and 3,
 * funder 4, clearing 5, core 7, funder 8 (6 and 9 stay unregistered); the
 * funder 4 grants core 1 a line of `credit` on ledger 1 until time 1e9. */
static inline void w_cast(world_t *w, const char *credit) {
  static const struct {
    int who;
    const char *name, *role;
  } cast[] = {{1, "Core One", "core"},   {2, "Tier One", "supplier"},
              {3, "Tier Two", "supplier"}, {4, "Bank", "funder"},
              {5, "Clearing", "clearing"}, {7, "Core Two", "core"},
              {8, "Bank Two", "funder"}};
  for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++) {
    char args[512];
    snprintf(args, sizeof args, "{\"key\":\"%s\",\"name\":\"%s\",\"role\":\"%s\"}",
             w->hex[cast[i].who], cast[i].name, cast[i].role);
    w_expect(w, 0, "registry", "register", args, "ok");
  }
  char args[512];
  snprintf(args, sizeof args,
           "{\"core\":\"%s\",\"amount\":\"%s\",\"ledger\":1,\"expiry\":1000000000}", w->hex[1],
           credit);
  w_expect(w, 4, "registry", "grant_credit", args, "ok");
}

#endif
