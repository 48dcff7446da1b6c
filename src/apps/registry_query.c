/*
 * registry_query.c - the `registry` app's queries (docs/apps.md):
 *   participant {key}      {"key","name","role","height","credit_lines":[...]}
 *                          (a core's lines, each with "live": expiry > the
 *                          committed head's time)
 *   participants {role?}   {"participants":[...]} by role, in registration order
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps_int.h"
#include "base/err.h"

static const char *const ROLES[] = {"core", "supplier", "funder", "clearing"};

/* A core's credit lines, each marked live or not at v's time. */
static int lines_of(const qp_chain_view_t *v, const char *hex, json_t **out) {
  char key[4 + QP__APPS_HEX_MAX];
  qp__apps_lines_key(hex, key);
  int rc = 0;
  json_t *o = qp__apps_get(v, NULL, key, &rc);
  if (o == NULL && rc != QP_ENOTFOUND) return rc;
  json_t *lines = o != NULL ? json_incref(json_object_get(o, "lines")) : json_array();
  json_decref(o);
  if (!json_is_array(lines)) {
    json_decref(lines);
    return lines == NULL ? QP_ENOMEM : QP_ECORRUPT;
  }
  for (size_t i = 0; i < json_array_size(lines); i++) {
    json_t *l = json_array_get(lines, i);
    json_object_set_new(l, "live", json_boolean(qp__apps_uint(l, "expiry") > v->time_s));
  }
  *out = lines;
  return 0;
}

static int participant(const qp_chain_view_t *v, const char *hex, json_t **result) {
  char key[3 + QP__APPS_HEX_MAX];
  qp__apps_participant_key(hex, key);
  int rc = 0;
  json_t *p = qp__apps_get(v, NULL, key, &rc);
  if (p == NULL) return rc;
  json_t *lines = NULL;
  rc = lines_of(v, hex, &lines);
  if (rc == 0 && json_object_set_new(p, "credit_lines", lines) != 0) rc = QP_ENOMEM;
  if (rc != 0) {
    json_decref(p);
    return rc;
  }
  *result = p;
  return 0;
}

/* Appends the participants of role to list. */
static int role_members(const qp_chain_view_t *v, const char *role, json_t *list) {
  char key[24];
  snprintf(key, sizeof key, "r/%s", role);
  int rc = 0;
  json_t *o = qp__apps_get(v, NULL, key, &rc);
  if (o == NULL) return rc == QP_ENOTFOUND ? 0 : rc;
  const json_t *keys = json_object_get(o, "keys");
  for (size_t i = 0; rc == 0 && i < json_array_size(keys); i++) {
    json_t *p = NULL;
    rc = participant(v, json_string_value(json_array_get(keys, i)), &p);
    if (rc == QP_ENOTFOUND) rc = QP_ECORRUPT;
    if (rc == 0) rc = json_array_append_new(list, p) == 0 ? 0 : QP_ENOMEM;
  }
  json_decref(o);
  return rc;
}

static int participants(const qp_chain_view_t *v, const json_t *args, json_t **result,
                        qp__apps_why_t *w) {
  static const char *const allowed[] = {"role"};
  const char *role = NULL;
  if (qp__apps_args_only(args, allowed, 1, w) ||
      qp__apps_arg_text(args, "role", 1, 15, true, &role, w))
    return QP__APPS_REFUSED;
  bool known = role == NULL;
  for (size_t i = 0; i < 4; i++) known |= role != NULL && strcmp(role, ROLES[i]) == 0;
  if (!known) return qp__apps_why(w, "bad_args", "args.role must be core, supplier, funder or "
                                  "clearing");
  json_t *list = json_array();
  int rc = list == NULL ? QP_ENOMEM : 0;
  for (size_t i = 0; rc == 0 && i < 4; i++)
    if (role == NULL || strcmp(role, ROLES[i]) == 0) rc = role_members(v, ROLES[i], list);
  *result = rc == 0 ? json_pack("{s:o}", "participants", list) : NULL;
  if (rc != 0) json_decref(list);
  return rc == 0 && *result == NULL ? QP_ENOMEM : rc;
}

int qp__apps_registry_query(const qp_chain_view_t *v, const char *method, const json_t *args,
                            json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
                            size_t detail_size) {
  qp__apps_why_t w;
  int rc;
  if (strcmp(method, "participants") == 0) {
    rc = participants(v, args, result, &w);
  } else if (strcmp(method, "participant") == 0) {
    static const char *const allowed[] = {"key"};
    char hex[QP__APPS_HEX_MAX + 1];
    rc = qp__apps_args_only(args, allowed, 1, &w);
    if (rc == 0) rc = qp__apps_arg_key(args, "key", v->genesis->suite, hex, &w);
    if (rc == 0) rc = participant(v, hex, result);
    if (rc == QP_ENOTFOUND) {
      qp__apps_why(&w, "not_found", "no participant has this key");
      return qp__apps_query_refuse(&w, code, detail, detail_size, QP_ENOTFOUND);
    }
  } else {
    qp__apps_why(&w, "unknown_method", "registry answers the queries participant and "
                 "participants");
    rc = QP__APPS_REFUSED;
  }
  if (rc == QP__APPS_REFUSED) return qp__apps_query_refuse(&w, code, detail, detail_size,
                                                           QP_EINVAL);
  if (rc == 0) snprintf(code, QP_CHAIN_CODE_MAX + 1, "ok");
  return rc;
}
