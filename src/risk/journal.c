/*
 * journal.c - the risk module's journal of changes (data_dir/risk/
 * changes.journal, the generic hash-chained journal of store.h with opaque
 * bodies): every ruleset installed (live or shadow), shadow stopped, list
 * updated and rule snoozed or unsnoozed is one record whose body is a JSON
 * object saying what changed, with "by" (the API key id) and "at" (Unix
 * seconds).  A change is durable before it takes effect, and replaying the
 * journal at start rebuilds the rulesets, lists and snoozes.  A torn tail
 * (a crash mid-append: that change was never acknowledged) is cut off.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "risk/module_int.h"

#define BODY_MAX (QP_RISK_SOURCE_BYTES_MAX + (1u << 20))
static const qp_journal_format_t FORMAT = {BODY_MAX, 0};

static int replay_ruleset(qp__risk_mod_t *m, const json_t *b, const char *by, int64_t at) {
  const char *text = json_string_value(json_object_get(b, "text"));
  const char *mode = json_string_value(json_object_get(b, "mode"));
  if (text == NULL || mode == NULL) return QP_ECORRUPT;
  size_t len = json_string_length(json_object_get(b, "text"));
  qp_risk_ruleset_t *rs;
  qp_risk_errors_t *errs = qp_malloc(sizeof *errs);
  int rc = errs != NULL ? qp_risk_compile(text, len, &rs, errs) : QP_ENOMEM;
  qp_free(errs);
  if (rc == QP_EPARSE) return QP_ECORRUPT;
  char conflict[300];
  if (rc == 0 && qp_risk_lists_compatible(m->lists, rs, conflict, sizeof conflict) != 0) {
    /* Journaled by a version that checked this only after journaling. */
    QP_LOG_WARN("risk", "changes.journal: a ruleset by %s skipped: %s", by, conflict);
    qp_risk_ruleset_free(rs);
    return 0;
  }
  if (rc == 0) rc = qp__risk_install(m, strcmp(mode, "shadow") == 0, text, len, rs, by, at);
  if (rc != 0 && rc != QP_ECORRUPT) qp_risk_ruleset_free(rs);
  return rc;
}

static int replay_one(void *ctx, const qp_journal_record_t *rec) {
  qp__risk_mod_t *m = ctx;
  json_t *b = json_loadb((const char *)rec->body, rec->body_size, 0, NULL);
  if (!json_is_object(b)) {
    json_decref(b);
    return QP_ECORRUPT;
  }
  const char *by = json_string_value(json_object_get(b, "by"));
  int64_t at = (int64_t)json_integer_value(json_object_get(b, "at"));
  const char *rule = json_string_value(json_object_get(b, "rule"));
  int rc = 0;
  if (by == NULL) by = "";
  if (rec->op == QP__RISK_J_RULESET) {
    rc = replay_ruleset(m, b, by, at);
  } else if (rec->op == QP__RISK_J_SHADOW_STOP) {
    qp__risk_shadow_stop(m);
  } else if (rec->op == QP__RISK_J_LIST) {
    const char *name = json_string_value(json_object_get(b, "list"));
    rc = name == NULL ? QP_ECORRUPT
                      : qp__risk_list_apply(m, name, json_object_get(b, "add"),
                                            json_object_get(b, "remove"));
  } else if (rec->op == QP__RISK_J_SNOOZE && rule != NULL) {
    const char *reason = json_string_value(json_object_get(b, "reason"));
    rc = qp__risk_snooze_set(m, rule, reason != NULL ? reason : "",
                             (int64_t)json_integer_value(json_object_get(b, "until")), by, at);
  } else if (rec->op == QP__RISK_J_UNSNOOZE && rule != NULL) {
    qp__risk_snooze_clear(m, rule);
  } else {
    rc = QP_ECORRUPT;
  }
  json_decref(b);
  return rc;
}

static int journal_scan(qp__risk_mod_t *m, qp_io_t *io, qp_journal_scan_t *scan, char *detail,
                        size_t detail_size) {
  int rc = qp_journal_scan_fmt(io, &FORMAT, replay_one, m, scan);
  if (rc != 0 || scan->problem == QP_ECORRUPT) {
    snprintf(detail, detail_size, "%s/changes.journal: %s", m->dir,
             rc != 0 ? (rc == QP_ECORRUPT ? "a record does not replay" : qp_strerror(rc))
                     : scan->detail);
    return rc != 0 ? rc : QP_ECORRUPT;
  }
  if (scan->problem == QP_ETORN) {
    QP_LOG_WARN("risk", "changes.journal: cutting a torn tail at %llu (%s)",
                (unsigned long long)scan->valid_bytes, scan->detail);
    rc = io->truncate(io->ctx, scan->valid_bytes);
  }
  return rc;
}

int qp__risk_journal_open(qp__risk_mod_t *m, char *detail, size_t detail_size) {
  char path[4200];
  snprintf(path, sizeof path, "%s/changes.journal", m->dir);
  qp_io_t io;
  int rc = qp_io_open_file(path, true, false, &io);
  if (rc != 0) {
    snprintf(detail, detail_size, "%s: cannot open: %s", path, qp_strerror(rc));
    return rc;
  }
  qp_journal_scan_t scan;
  rc = journal_scan(m, &io, &scan, detail, detail_size);
  if (rc == 0)
    rc = qp_journal_open_fmt(&io, &FORMAT, scan.valid_bytes, scan.last_seq, scan.last_hash,
                             BODY_MAX + QP_JOURNAL_HEADER_SIZE, &m->journal);
  if (rc != 0) {
    io.close(io.ctx);
    if (detail[0] == '\0') snprintf(detail, detail_size, "%s: %s", path, qp_strerror(rc));
  }
  return rc;
}

int qp__risk_journal_append(qp__risk_mod_t *m, uint32_t op, json_t *body, const char *by) {
  int64_t at = (int64_t)(qp_clock_wall_ns() / 1000000000u);
  json_object_set_new(body, "by", json_string(by));
  json_object_set_new(body, "at", json_integer(at));
  char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL) return QP_ENOMEM;
  size_t len = strlen(text);
  int rc = len > BODY_MAX ? QP_ELIMIT : 0;
  uint8_t *dst = rc == 0 ? qp_journal_stage(m->journal, op, 1, qp_clock_wall_ns(),
                                            (uint32_t)len)
                         : NULL;
  if (rc == 0 && dst == NULL) rc = QP_ESTOPPED;
  if (rc == 0) {
    memcpy(dst, text, len);
    rc = qp_journal_commit(m->journal);
  }
  qp_http_json_free(text);
  return rc;
}

static const char *const OP_NAMES[] = {"", "ruleset", "shadow_stop", "list", "snooze",
                                       "unsnooze"};

typedef struct list_ctx {
  uint64_t after;
  uint32_t limit;
  json_t *out;
} list_ctx_t;

static int list_one(void *ctx, const qp_journal_record_t *rec) {
  list_ctx_t *c = ctx;
  if (rec->seq <= c->after) return 0;
  if (json_array_size(c->out) >= c->limit) return 1;
  json_t *b = json_loadb((const char *)rec->body, rec->body_size, 0, NULL);
  if (b == NULL) return QP_ECORRUPT;
  json_t *text = json_object_get(b, "text");
  if (text != NULL) { /* a ruleset: its hash and size, not its whole text */
    json_object_set_new(b, "bytes", json_integer((json_int_t)json_string_length(text)));
    json_object_del(b, "text");
  }
  json_object_set_new(b, "seq", json_integer((json_int_t)rec->seq));
  json_object_set_new(b, "change", json_string(rec->op < 6 ? OP_NAMES[rec->op] : "unknown"));
  json_array_append_new(c->out, b);
  return 0;
}

int qp__risk_journal_list(qp__risk_mod_t *m, uint64_t after, uint32_t limit, json_t *out) {
  char path[4200];
  snprintf(path, sizeof path, "%s/changes.journal", m->dir);
  qp_io_t io;
  int rc = qp_io_open_file(path, false, true, &io);
  if (rc != 0) return rc;
  list_ctx_t c = {after, limit, out};
  qp_journal_scan_t scan;
  rc = qp_journal_scan_fmt(&io, &FORMAT, list_one, &c, &scan);
  io.close(io.ctx);
  return rc == 1 ? 0 : rc;
}
