/*
 * module.c - the risk module of the node (docs/risk.md, "The risk
 * module"): settings, opening (journal replay, the first ruleset, the
 * feature snapshot of the last clean stop), routes, metrics and closing
 * (which saves the feature snapshot).
 *
 *   "risk": {"ruleset_file": "rules.txt", "frictionless_below": 5000}
 *
 * ruleset_file (relative to the node home) is installed, as "config", only
 * when the journal has no ruleset yet; afterwards PUT /v1/risk/ruleset
 * changes it.  Without either, the live ruleset is empty (every event is
 * allowed, and nothing is counted).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "node/module.h"
#include "risk/module_int.h"
#include "risk/service.h"

static _Atomic(qp__risk_mod_t *) current;

typedef struct settings {
  char ruleset_file[4096];
  int64_t frictionless_below;
} settings_t;

static int parse_settings(const json_t *o, const char *home, settings_t *s, char *detail,
                          size_t size) {
  memset(s, 0, sizeof *s);
  s->frictionless_below = -1;
  if (o != NULL && !json_is_object(o)) {
    snprintf(detail, size, "modules.risk must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)o, key, v) {
    if (strcmp(key, "ruleset_file") == 0 && json_is_string(v) && json_string_length(v) > 0 &&
        json_string_length(v) < 2048) {
      const char *p = json_string_value(v);
      snprintf(s->ruleset_file, sizeof s->ruleset_file, "%s%s%s", p[0] == '/' ? "" : home,
               p[0] == '/' ? "" : "/", p);
    } else if (strcmp(key, "frictionless_below") == 0 && json_is_integer(v) &&
               json_integer_value(v) >= 0) {
      s->frictionless_below = (int64_t)json_integer_value(v);
    } else {
      snprintf(detail, size, "modules.risk.%s: %s", key,
               strcmp(key, "ruleset_file") == 0 ? "must be a file path (a non-empty string)"
               : strcmp(key, "frictionless_below") == 0
                   ? "must be a non-negative integer amount in minor units"
                   : "unknown key; allowed: ruleset_file, frictionless_below");
      return QP_EINVAL;
    }
  }
  return 0;
}

/* The first ruleset: the file of the settings (journaled as "config"), or
 * the empty ruleset (not journaled). */
static int first_ruleset(qp__risk_mod_t *m, const settings_t *s, char *detail, size_t size) {
  char *text = NULL;
  size_t len = 0;
  if (s->ruleset_file[0] != '\0') {
    int rc = qp_file_read(s->ruleset_file, QP_RISK_SOURCE_BYTES_MAX, &text, &len, NULL, detail,
                          size);
    if (rc != 0) return rc;
  }
  qp_risk_errors_t *errs = qp_malloc(sizeof *errs);
  qp_risk_ruleset_t *rs = NULL;
  int rc = errs != NULL ? qp_risk_compile(text ? text : "", len, &rs, errs) : QP_ENOMEM;
  if (rc == QP_EPARSE)
    snprintf(detail, size, "%s:%u:%u: %s", s->ruleset_file, errs->items[0].line,
             errs->items[0].column, errs->items[0].message);
  qp_free(errs);
  json_t *rec = text != NULL ? json_pack("{s:s, s:s#, s:s}", "mode", "live", "text", text, len,
                                         "hash", rs ? qp_risk_ruleset_hash(rs) : "")
                             : NULL;
  if (rc == 0 && rec != NULL) rc = qp__risk_journal_append(m, QP__RISK_J_RULESET, rec, "config");
  if (rc == 0)
    rc = qp__risk_install(m, false, text ? text : "", len, rs, "config",
                          (int64_t)(qp_clock_wall_ns() / 1000000000u));
  if (rc != 0) qp_risk_ruleset_free(rs);
  json_decref(rec);
  qp_free(text);
  return rc;
}

static void snapshot_path(const qp__risk_mod_t *m, char *buf, size_t size) {
  snprintf(buf, size, "%s/features.snapshot", m->dir);
}

/* Loads the snapshot the last clean stop wrote, then removes it: it is
 * true only of that moment (after a crash the windows start empty). */
static void snapshot_load(qp__risk_mod_t *m) {
  char path[4200], detail[256];
  snapshot_path(m, path, sizeof path);
  char *data;
  size_t len;
  if (qp_file_read(path, (size_t)1 << 34, &data, &len, NULL, detail, sizeof detail) != 0) return;
  uint32_t loaded = 0;
  int rc = qp_risk_state_load(m->live.st, (const uint8_t *)data, len, &loaded);
  qp_free(data);
  if (rc != 0) {
    QP_LOG_WARN("risk", "%s: %s; the feature windows start empty", path, qp_strerror(rc));
    qp_risk_state_t *fresh;
    if (qp_risk_state_new(m->live.rs, m->lists, &fresh) == 0) {
      qp_risk_state_free(m->live.st);
      m->live.st = fresh;
    }
  } else {
    QP_LOG_INFO("risk", "feature windows of %u features restored from the last clean stop",
                loaded);
  }
  unlink(path);
}

static void snapshot_save(qp__risk_mod_t *m) {
  char path[4200], detail[256];
  snapshot_path(m, path, sizeof path);
  qp_buf_t b = {.max = (size_t)1 << 34};
  int rc = qp_risk_state_save(m->live.st, &b);
  if (rc == 0) rc = qp_file_replace(path, b.data, b.len, 0600, detail, sizeof detail);
  if (rc != 0) QP_LOG_WARN("risk", "feature snapshot not saved: %s", qp_strerror(rc));
  qp_buf_free(&b);
}

static const qp_http_route_t ROUTES[] = {
    {"POST", "/v1/risk/decide", "risk:decide", false, 64u << 20, qp__risk_route_decide},
    {"PUT", "/v1/risk/ruleset", "risk:admin", false, QP_RISK_SOURCE_BYTES_MAX,
     qp__risk_route_ruleset_put},
    {"GET", "/v1/risk/ruleset", "risk:admin", false, 0, qp__risk_route_ruleset_get},
    {"GET", "/v1/risk/shadow", "risk:admin", false, 0, qp__risk_route_shadow_get},
    {"DELETE", "/v1/risk/shadow", "risk:admin", false, 0, qp__risk_route_shadow_delete},
    {"GET", "/v1/risk/lists", "risk:admin", false, 0, qp__risk_route_lists_get},
    {"GET", "/v1/risk/lists/{name}", "risk:admin", false, 0, qp__risk_route_list_get},
    {"POST", "/v1/risk/lists/{name}", "risk:admin", false, 32u << 20, qp__risk_route_list_post},
    {"GET", "/v1/risk/rules", "risk:admin", false, 0, qp__risk_route_rules_get},
    {"POST", "/v1/risk/rules/{name}/snooze", "risk:admin", false, 4096,
     qp__risk_route_snooze_post},
    {"DELETE", "/v1/risk/rules/{name}/snooze", "risk:admin", false, 0,
     qp__risk_route_snooze_delete},
    {"GET", "/v1/risk/changes", "risk:admin", false, 0, qp__risk_route_changes_get},
    {"GET", "/v1/risk/decisions", "risk:admin", false, 0, qp__risk_route_decisions_get},
    {"GET", "/v1/risk/stats", "risk:admin", false, 0, qp__risk_route_stats_get},
};

static void mod_free(qp__risk_mod_t *m) {
  qp__risk_slot_free(&m->live);
  qp__risk_slot_free(&m->shadow);
  if (m->journal != NULL) qp_journal_close(m->journal);
  qp_risk_lists_free(m->lists);
  qp_free(m->snoozes);
  qp__risk_recent_free(m->recent);
  pthread_mutex_destroy(&m->lock);
  qp_free(m);
}

static int risk_open(const qp_node_env_t *env, const json_t *settings, void **state,
                     char *detail, size_t detail_size) {
  settings_t s;
  int rc = parse_settings(settings, env->home, &s, detail, detail_size);
  if (rc != 0) return rc;
  qp__risk_mod_t *m = qp_calloc(1, sizeof *m);
  if (m == NULL) return QP_ENOMEM;
  pthread_mutex_init(&m->lock, NULL);
  m->frictionless_below = s.frictionless_below;
  m->snoozes = qp_calloc(QP_RISK_SNOOZES_MAX, sizeof *m->snoozes);
  snprintf(m->dir, sizeof m->dir, "%s/risk", env->data_dir);
  rc = m->snoozes != NULL ? qp_risk_lists_new(&m->lists) : QP_ENOMEM;
  if (rc == 0) rc = qp__risk_recent_new(&m->recent);
  if (rc == 0 && qp_mkdir_p(m->dir) != 0) {
    snprintf(detail, detail_size, "%s: cannot create the directory", m->dir);
    rc = QP_EIO;
  }
  if (rc == 0) rc = qp__risk_journal_open(m, detail, detail_size);
  if (rc == 0 && m->live.rs == NULL) rc = first_ruleset(m, &s, detail, detail_size);
  if (rc != 0) {
    mod_free(m);
    return rc;
  }
  snapshot_load(m);
  qp__risk_shadow_reseed(m);
  m->http = (qp_http_module_t){.name = "risk", .routes = ROUTES,
                               .routes_count = sizeof ROUTES / sizeof ROUTES[0], .ctx = m,
                               .openapi = qp_risk_openapi_json, .metrics = qp__risk_metrics};
  atomic_store(&current, m);
  *state = m;
  return 0;
}

static const qp_http_module_t *risk_routes(void *state) {
  return &((qp__risk_mod_t *)state)->http;
}

static void risk_close(void *state) {
  qp__risk_mod_t *m = state;
  atomic_store(&current, NULL);
  pthread_mutex_lock(&m->lock);
  snapshot_save(m);
  pthread_mutex_unlock(&m->lock);
  mod_free(m);
}

bool qp_risk_service_enabled(void) { return atomic_load(&current) != NULL; }

int64_t qp_risk_service_frictionless_below(void) {
  qp__risk_mod_t *m = atomic_load(&current);
  return m != NULL ? m->frictionless_below : -1;
}

int qp_risk_service_decide(const json_t *event, qp_risk_outcome_t *outcome, json_t **decision,
                           char *err, size_t err_size) {
  qp__risk_mod_t *m = atomic_load(&current);
  if (m == NULL) return QP_ENOTFOUND;
  const char *field;
  int rc = qp_risk_event_check(event, &field, err, err_size);
  if (rc != 0) return rc;
  pthread_mutex_lock(&m->lock);
  qp__risk_snoozes_apply(m, (int64_t)(qp_clock_wall_ns() / 1000000000u));
  uint64_t t0 = qp_clock_mono_ns();
  rc = qp__risk_decide_one(m, event, decision);
  *outcome = m->live.d.decision;
  qp_http_histogram_observe(&m->latency, (qp_clock_mono_ns() - t0) / 1000u);
  pthread_mutex_unlock(&m->lock);
  return rc;
}

static const qp_http_scope_t SCOPES[] = {
    {"risk:decide", "ask the risk engine for decisions (POST /v1/risk/decide)"},
    {"risk:admin", "change and read rulesets, shadow rulesets, lists, snoozes and the journal "
                   "of risk changes"},
};

const qp_module_t qp_risk_module = {
    .name = "risk",
    .summary = "real-time risk engine: rulesets, decisions with reasons, shadow mode, lists "
               "(docs/risk.md)",
    .scopes = SCOPES,
    .scopes_count = 2,
    .open = risk_open,
    .routes = risk_routes,
    .close = risk_close,
};
