/*
 * app.c - what every app shares (app.h): the effects of one transaction
 * (writes, receipt status and code, result, events), the table of built-in
 * apps, and answering a query on the committed state.
 */
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "apps/apps.h"
#include "chain/app.h"
#include "chain/json_text.h"
#include "chain/state.h"

/* Keys and values of one transaction's writes, at most. */
#define EFFECTS_DATA_MAX \
  ((size_t)QP_CHAIN_TX_WRITES_MAX * (QP_CHAIN_APP_KEY_MAX + QP_CHAIN_APP_VALUE_MAX) + 1)

static const qp_chain_app_t *const APPS[] = {&qp_chain_app_kv, &qp_chain_app_gov,
                                              &qp_chain_app_lua, &qp_apps_registry,
                                              &qp_apps_receivable};

const qp_chain_app_t *qp_chain_app_find(const char *name) {
  for (size_t i = 0; i < sizeof APPS / sizeof APPS[0]; i++)
    if (strcmp(APPS[i]->name, name) == 0) return APPS[i];
  return NULL;
}

int qp_chain_effects_init(qp_chain_effects_t *e) {
  memset(e, 0, sizeof *e);
  e->data.max = EFFECTS_DATA_MAX;
  return qp_chain_effects_reset(e);
}

int qp_chain_effects_reset(qp_chain_effects_t *e) {
  json_decref(e->result);
  json_decref(e->events);
  e->result = json_object();
  e->events = json_array();
  e->failed = false;
  snprintf(e->code, sizeof e->code, "ok");
  e->writes_count = 0;
  qp_buf_reset(&e->data);
  return e->result != NULL && e->events != NULL ? 0 : QP_ENOMEM;
}

void qp_chain_effects_deinit(qp_chain_effects_t *e) {
  json_decref(e->result);
  json_decref(e->events);
  qp_buf_free(&e->data);
  memset(e, 0, sizeof *e);
}

static int effects_write(qp_chain_effects_t *e, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len, bool del) {
  QP_ASSERT(!e->failed);
  if (e->writes_count == QP_CHAIN_TX_WRITES_MAX || key_len == 0 ||
      key_len > QP_CHAIN_APP_KEY_MAX || value_len > QP_CHAIN_APP_VALUE_MAX)
    return QP_ELIMIT;
  size_t before = e->data.len;
  if (!qp_buf_append(&e->data, key, key_len) ||
      (value_len > 0 && !qp_buf_append(&e->data, value, value_len))) {
    e->data.len = before;
    e->data.failed = false;
    return QP_ENOMEM;
  }
  e->writes[e->writes_count++] = (qp_chain_write_t){
      .key_off = (uint32_t)before, .key_len = (uint32_t)key_len,
      .value_off = del ? 0 : (uint32_t)(before + key_len), .value_len = (uint32_t)value_len,
      .del = del};
  return 0;
}

int qp_chain_effects_put(qp_chain_effects_t *e, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len) {
  return effects_write(e, key, key_len, value, value_len, false);
}

int qp_chain_effects_put_json(qp_chain_effects_t *e, const uint8_t *key, size_t key_len,
                              const json_t *value) {
  qp_buf_t text = {.max = QP_CHAIN_APP_VALUE_MAX + 1};
  int rc = qp__chain_json_dump(value, JSON_COMPACT | JSON_SORT_KEYS, &text);
  if (rc == 0 && text.len > QP_CHAIN_APP_VALUE_MAX) rc = QP_ELIMIT;
  if (rc == 0) rc = qp_chain_effects_put(e, key, key_len, (const uint8_t *)text.data, text.len);
  qp_buf_free(&text);
  return rc;
}

int qp_chain_effects_delete(qp_chain_effects_t *e, const uint8_t *key, size_t key_len) {
  return effects_write(e, key, key_len, NULL, 0, true);
}

int qp_chain_effects_fail(qp_chain_effects_t *e, const char *code, const char *message) {
  QP_ASSERT(strlen(code) <= QP_CHAIN_CODE_MAX);
  int rc = qp_chain_effects_reset(e);
  if (rc != 0) return rc;
  e->failed = true;
  snprintf(e->code, sizeof e->code, "%s", code);
  return json_object_set_new(e->result, "message", json_string(message)) == 0 ? 0 : QP_ENOMEM;
}

int qp_chain_effects_event(qp_chain_effects_t *e, const char *type, json_t *fields) {
  if (json_array_size(e->events) == QP_CHAIN_TX_EVENTS_MAX) {
    json_decref(fields);
    return QP_ELIMIT;
  }
  json_t *ev = json_pack("{s:s}", "type", type);
  if (ev != NULL && fields != NULL && json_object_update(ev, fields) != 0) {
    json_decref(ev);
    ev = NULL;
  }
  json_decref(fields);
  return ev != NULL && json_array_append_new(e->events, ev) == 0 ? 0 : QP_ENOMEM;
}

int qp_chain_app_query(const qp_chain_app_t *app, qp_chain_state_t *st, const char *method,
                       const char *args, size_t args_len, json_t **result,
                       char code[QP_CHAIN_CODE_MAX + 1], char *detail, size_t detail_size) {
  QP_ASSERT(app != NULL && st != NULL && result != NULL && code != NULL);
  *result = NULL;
  code[0] = '\0';
  json_error_t jerr;
  json_t *a = json_loadb(args != NULL ? args : "", args_len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(a)) {
    bool oom = a == NULL && json_error_code(&jerr) == json_error_out_of_memory;
    json_decref(a);
    if (oom) return QP_ENOMEM;
    snprintf(code, QP_CHAIN_CODE_MAX + 1, "bad_args");
    snprintf(detail, detail_size, "args must be a JSON object");
    return QP_EINVAL;
  }
  qp_chain_reader_t r;
  int rc = qp_chain_reader_begin(st, NULL, 0, &r);
  if (rc == 0) {
    qp_chain_app_view_ctx_t ctx;
    qp_chain_view_t view;
    qp_chain_reader_app_view(&r, app->name, &ctx, &view);
    uint8_t root[QP_HASH_SIZE];
    qp_chain_state_head(st, &view.height, root);
    view.time_s = qp_chain_state_time(st);
    rc = app->query(&view, method, a, result, code, detail, detail_size);
    qp_chain_reader_end(&r);
  }
  json_decref(a);
  return rc;
}
