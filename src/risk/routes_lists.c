/*
 * routes_lists.c - lists and rules: GET /v1/risk/lists, GET and POST
 * /v1/risk/lists/{name} (add and remove items; every item is checked
 * before any changes, and the change is journaled first), GET
 * /v1/risk/rules (each live rule with its fire count and snooze), POST and
 * DELETE /v1/risk/rules/{name}/snooze.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "risk/module_int.h"

static const char *kind_name(qp_risk_list_kind_t k) {
  return k == QP_RISK_LIST_SET ? "set" : "cidr";
}

void qp__risk_route_lists_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  (void)req;
  json_t *a = json_array();
  pthread_mutex_lock(&m->lock);
  const char *name;
  for (size_t i = 0; (name = qp_risk_lists_name(m->lists, i)) != NULL; i++) {
    qp_risk_list_kind_t kind;
    uint64_t size;
    qp_risk_list_info(m->lists, name, &kind, &size);
    json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "name", name, "kind", kind_name(kind),
                                       "size", (json_int_t)size));
  }
  pthread_mutex_unlock(&m->lock);
  qp_http_reply_json(r, 200, json_pack("{s:o}", "lists", a));
}

static void unknown_list(qp_http_reply_t *r, const char *name) {
  qp_http_error_t e = {0};
  qp_http_error_set(&e, 404, "unknown_list", "name", "no list named \"%.64s\"; a list exists "
                    "once a ruleset declares it", name);
  qp_http_reply_error(r, &e);
}

void qp__risk_route_list_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  const char *name = qp_http_param(req, "name");
  qp_risk_list_kind_t kind;
  uint64_t size;
  char item[QP_RISK_STRING_BYTES_MAX + 64];
  pthread_mutex_lock(&m->lock);
  json_t *o = NULL, *items = json_array();
  if (qp_risk_list_info(m->lists, name, &kind, &size) == 0) {
    for (uint64_t i = 0; i < size && i < 10000; i++)
      if (qp_risk_list_item(m->lists, name, i, item, sizeof item) == 0)
        json_array_append_new(items, json_string(item));
    o = json_pack("{s:s, s:s, s:I, s:O, s:b}", "name", name, "kind", kind_name(kind), "size",
                  (json_int_t)size, "items", items, "truncated", size > 10000);
  }
  pthread_mutex_unlock(&m->lock);
  json_decref(items);
  if (o == NULL) unknown_list(r, name);
  else qp_http_reply_json(r, 200, o);
}

/* add/remove: arrays of strings, at most QP_RISK_LIST_UPDATE_MAX items in all,
 * each acceptable to the list; 0 or a 400 reply naming the item. */
static int check_items(qp__risk_mod_t *m, const char *name, json_t *body, qp_http_reply_t *r) {
  static const char *const keys[] = {"add", "remove"};
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    if (strcmp(key, "add") != 0 && strcmp(key, "remove") != 0) {
      qp_http_reply_fail(r, 400, "unknown_field", key, "a list update has \"add\" and "
                         "\"remove\" (arrays of strings) only");
      return QP_EINVAL;
    }
  }
  size_t total = 0;
  for (int k = 0; k < 2; k++) {
    json_t *a = json_object_get(body, keys[k]);
    if (a != NULL && !json_is_array(a)) {
      qp_http_reply_fail(r, 400, "invalid_type", keys[k], "must be an array of strings");
      return QP_EINVAL;
    }
    total += json_array_size(a);
    size_t i;
    json_array_foreach(a, i, v) {
      char msg[200], path[48];
      snprintf(path, sizeof path, "%s[%zu]", keys[k], i);
      if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        qp_http_reply_fail(r, 400, "invalid_type", path, "must be a string without NUL bytes");
        return QP_EINVAL;
      }
      if (qp_risk_list_check(m->lists, name, json_string_value(v), msg, sizeof msg) != 0) {
        qp_http_reply_fail(r, 400, "invalid_value", path, msg);
        return QP_EINVAL;
      }
    }
  }
  if (total == 0 || total > QP_RISK_LIST_UPDATE_MAX) {
    qp_http_reply_fail(r, 400, "invalid_value", "", "a list update adds or removes 1 to "
                       "100000 items");
    return QP_EINVAL;
  }
  return 0;
}

static json_t *list_update(qp__risk_mod_t *m, const char *name, json_t *body, const char *who,
                           qp_http_reply_t *r) {
  if (check_items(m, name, body, r) != 0) return NULL;
  json_t *add = json_object_get(body, "add"), *remove = json_object_get(body, "remove");
  json_t *rec = json_object();
  json_object_set_new(rec, "list", json_string(name));
  json_object_set_new(rec, "add", add != NULL ? json_incref(add) : json_array());
  json_object_set_new(rec, "remove", remove != NULL ? json_incref(remove) : json_array());
  int rc = rec != NULL ? qp__risk_journal_append(m, QP__RISK_J_LIST, rec, who) : QP_ENOMEM;
  if (rc == 0) rc = qp__risk_list_apply(m, name, json_object_get(rec, "add"),
                                        json_object_get(rec, "remove"));
  json_t *out = NULL;
  qp_risk_list_kind_t kind;
  uint64_t size;
  if (rc == 0 && qp_risk_list_info(m->lists, name, &kind, &size) == 0)
    out = json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", name, "kind", kind_name(kind), "size",
                    (json_int_t)size, "added", (json_int_t)json_array_size(add), "removed",
                    (json_int_t)json_array_size(remove));
  json_decref(rec);
  if (out == NULL)
    qp_http_reply_fail(r, 503, "not_changed", "", "the change could not be made durable");
  return out;
}

void qp__risk_route_list_post(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  const char *name = qp_http_param(req, "name");
  json_t *body = qp_http_body_object(req, r, NULL, 0); /* members: check_items */
  if (body == NULL) return;
  char who[QP_RISK_WHO_MAX + 1];
  qp__risk_who(req, who);
  qp_risk_list_kind_t kind;
  uint64_t size;
  pthread_mutex_lock(&m->lock);
  bool known = qp_risk_list_info(m->lists, name, &kind, &size) == 0;
  json_t *out = known ? list_update(m, name, body, who, r) : NULL;
  pthread_mutex_unlock(&m->lock);
  json_decref(body);
  if (!known) unknown_list(r, name);
  else if (out != NULL) qp_http_reply_json(r, 200, out);
}
