/*
 * module.c - the ledger as a module of the node (src/node/module.h): its
 * settings in node.json, opening the durable ledger under the node's data
 * directory, the route set the HTTP core serves, the periodic expiry sweep
 * and the orderly close (commit what is queued, then close the db).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/api_int.h"
#include "ledger/binary_int.h"
#include "node/module.h"

/* ------------------------------------------------------------ settings */

void qp_ledger_settings_default(qp_ledger_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->events_max = QP_LEDGER_API_EVENTS_MAX_DEFAULT;
  s->queue_max = QP_LEDGER_API_QUEUE_MAX_DEFAULT;
  s->binary_frame_timeout_ms = 30000;
}

/* One integer setting in [min, max]; false with detail set. */
static bool setting_u64(const char *where, const char *key, json_t *v, uint64_t min,
                        uint64_t max, uint64_t *out, char *detail, size_t detail_size) {
  json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
  if (!json_is_integer(v) || n < 0 || (uint64_t)n < min || (uint64_t)n > max) {
    snprintf(detail, detail_size, "%s.%s must be an integer from %llu to %llu", where, key,
             (unsigned long long)min, (unsigned long long)max);
    return false;
  }
  *out = (uint64_t)n;
  return true;
}

/* binary_listen and binary_frame_timeout_ms (docs/binary.md). */
static bool binary_setting(const char *where, const char *key, json_t *v,
                           qp_ledger_settings_t *out, char *detail, size_t detail_size) {
  uint64_t n = 0;
  if (strcmp(key, "binary_frame_timeout_ms") == 0) {
    bool ok = setting_u64(where, key, v, 10, 600000, &n, detail, detail_size);
    out->binary_frame_timeout_ms = (uint32_t)n;
    return ok;
  }
  const char *text = json_is_string(v) ? json_string_value(v) : NULL;
  bool ok = strcmp(key, "binary_listen") == 0 && text != NULL && text[0] != '\0' &&
            strlen(text) < sizeof out->binary_listen;
  if (ok) memcpy(out->binary_listen, text, strlen(text) + 1);
  else if (strcmp(key, "binary_listen") == 0)
    snprintf(detail, detail_size, "%s.%s must be \"host:port\"", where, key);
  else
    snprintf(detail, detail_size, "unknown key %s.%s; allowed: max_batch_events, queue_max, "
             "evict_after, index_lag_max, cluster, binary_listen, binary_frame_timeout_ms",
             where, key);
  return ok;
}

int qp_ledger_settings_parse(const struct json_t *object, const char *where,
                             qp_ledger_settings_t *out, char *detail, size_t detail_size) {
  qp_ledger_settings_default(out);
  if (object == NULL) return 0;
  if (!json_is_object(object)) {
    snprintf(detail, detail_size, "%s must be an object", where);
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)object, key, v) {
    uint64_t n = 0;
    bool ok;
    if (strcmp(key, "max_batch_events") == 0) {
      ok = setting_u64(where, key, v, 1, QP_BATCH_EVENTS_MAX, &n, detail, detail_size);
      out->events_max = (uint32_t)n;
    } else if (strcmp(key, "queue_max") == 0) {
      ok = setting_u64(where, key, v, 1, 1u << 20, &n, detail, detail_size);
      out->queue_max = (uint32_t)n;
    } else if (strcmp(key, "evict_after") == 0) {
      ok = setting_u64(where, key, v, 1, 1ull << 32, &n, detail, detail_size);
      out->evict_after = n;
    } else if (strcmp(key, "index_lag_max") == 0) {
      ok = setting_u64(where, key, v, 1, 1ull << 32, &n, detail, detail_size);
      out->index_lag_max = n;
    } else if (strcmp(key, "cluster") == 0) {
      char at[128];
      snprintf(at, sizeof at, "%s.cluster", where);
      ok = qp_ledger_cluster_parse(v, at, &out->cluster, detail, detail_size) == 0;
    } else if (strncmp(key, "binary_", 7) == 0) {
      ok = binary_setting(where, key, v, out, detail, detail_size);
    } else {
      snprintf(detail, detail_size,
               "unknown key %s.%s; allowed: max_batch_events, queue_max, evict_after, "
               "index_lag_max, cluster, binary_listen, binary_frame_timeout_ms",
               where, key);
      return QP_EINVAL;
    }
    if (!ok) return QP_EINVAL;
  }
  if (out->cluster.enabled && out->binary_listen[0] != '\0') {
    snprintf(detail, detail_size, "%s.binary_listen is not available in cluster mode yet "
             "(docs/binary.md)", where);
    return QP_EINVAL;
  }
  return 0;
}

/* ------------------------------------------------------------- open */

/* Cluster mode: the state machine's clock is the time the leader stamped
 * on the entry being applied, so every replica assigns the same timestamps. */
static uint64_t entry_clock(void *ctx) { return *(const uint64_t *)ctx; }

static int open_db(qp__ledger_api_t *api, char *detail, size_t detail_size) {
  qp_db_options_t opts;
  memset(&opts, 0, sizeof opts);
  if (api->settings.cluster.enabled) {
    opts.clock_ns = entry_clock;
    opts.clock_ctx = &api->entry_now_ns;
    opts.replicated = true;
  }
  opts.evict_min_rows = api->settings.evict_after;
  opts.index_lag_max = api->settings.index_lag_max;
  opts.lock_held = true;
  qp_db_recovery_t rec;
  memset(&rec, 0, sizeof rec);
  int rc = qp_db_open(api->data_dir, &opts, &api->db, &rec, detail, detail_size);
  if (rc != 0) return rc;
  if (rec.torn_bytes > 0)
    QP_LOG_WARN("ledger",
                "recovered from a crash: truncated a torn tail of %llu bytes at offset %llu",
                (unsigned long long)rec.torn_bytes, (unsigned long long)rec.torn_offset);
  QP_LOG_INFO("ledger",
              "ledger open: %s (%llu batches, %llu journal bytes, %llu replayed into the index)",
              api->data_dir, (unsigned long long)rec.batches,
              (unsigned long long)rec.journal_bytes, (unsigned long long)rec.replayed_batches);
  return 0;
}

static int ledger_open(const qp_node_env_t *env, const struct json_t *settings, void **state,
                       char *detail, size_t detail_size) {
  qp__ledger_api_t *api = qp_calloc(1, sizeof *api);
  if (api == NULL) return QP_ENOMEM;
  int rc = qp_ledger_settings_parse(settings, "modules.ledger", &api->settings, detail,
                                    detail_size);
  if (rc == 0 && strlen(env->data_dir) >= sizeof api->data_dir) rc = QP_ERANGE;
  if (rc == 0) {
    memcpy(api->data_dir, env->data_dir, strlen(env->data_dir) + 1);
    rc = open_db(api, detail, detail_size);
  }
  if (rc == 0 && api->settings.cluster.enabled)
    rc = qp__raft_node_start(&api->settings.cluster, api->db, &api->entry_now_ns, api->data_dir,
                             &api->raft, detail, detail_size);
  if (rc == 0) rc = qp__ledger_writer_start(&api->writer, api->db, api->raft,
                                            api->settings.queue_max, &api->metrics);
  if (rc == 0 && api->settings.binary_listen[0] != '\0') {
    rc = qp__bin_server_start(api, api->settings.binary_listen, &api->binary, detail,
                              detail_size);
    if (rc != 0) qp__ledger_writer_stop(&api->writer);
  }
  if (rc != 0) {
    qp__raft_node_stop(api->raft);
    qp_db_close(api->db);
    qp_free(api);
    return rc;
  }
  uint32_t count = 0;
  const qp_http_route_t *routes = qp__ledger_routes(&count);
  api->http = (qp_http_module_t){.name = "ledger",
                                 .routes = routes,
                                 .routes_count = count,
                                 .ctx = api,
                                 .openapi = qp_ledger_openapi_json,
                                 .metrics = qp__ledger_api_metrics,
                                 .health = qp__ledger_api_health};
  *state = api;
  qp__ledger_service_set(api);
  return 0;
}

/* --------------------------------------------------- the node's calls */

static const qp_http_module_t *ledger_routes(void *state) {
  return &((qp__ledger_api_t *)state)->http;
}

static void ledger_tick(void *state, uint64_t now_ns) {
  (void)now_ns;
  qp__ledger_api_t *api = state;
  qp__ledger_writer_sweep(&api->writer);
}

static void ledger_close(void *state) {
  qp__ledger_api_t *api = state;
  if (api == NULL) return;
  qp__ledger_service_set(NULL);
  qp__bin_server_stop(api->binary); /* its frames in flight still reach the writer */
  qp__ledger_writer_stop(&api->writer);
  qp__raft_node_stop(api->raft);
  qp_db_close(api->db);
  qp_free(api);
}

void qp__ledger_api_metrics(void *ctx, qp_http_text_t *out) {
  qp__ledger_api_t *api = ctx;
  char path[1200];
  struct stat st;
  snprintf(path, sizeof path, "%s/ledger/journal", api->data_dir);
  uint64_t bytes = stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
  qp__ledger_metrics_render(&api->metrics, out, bytes, qp__ledger_writer_depth(&api->writer));
  qp_db_health_t health;
  qp_db_health(api->db, &health);
  qp__ledger_health_render(&health, out);
  if (api->binary != NULL) qp__bin_metrics_render(api->binary, out);
}

int qp__ledger_api_health(void *ctx, char *code, size_t code_size, char *message,
                          size_t message_size) {
  qp__ledger_api_t *api = ctx;
  bool checked = false;
  /* The re-hash of the journal after a restart (docs/journal.md) found damage. */
  if (qp_db_verify_status(api->db, &checked, message, message_size) != 0) {
    snprintf(code, code_size, "journal_damaged");
    return QP_ECORRUPT;
  }
  if (qp_db_stopped(api->db)) {
    snprintf(code, code_size, "stopped");
    snprintf(message, message_size, "the ledger refuses writes");
    return QP_ESTOPPED;
  }
  return 0;
}

static const qp_http_scope_t LEDGER_SCOPES[] = {
    {QP_LEDGER_SCOPE_READ, "look up accounts and transfers, history, audit"},
    {QP_LEDGER_SCOPE_WRITE, "create accounts and transfers"},
};

const qp_module_t qp_ledger_module = {
    .name = "ledger",
    .summary = "double-entry accounts and transfers, two-phase transfers, audit",
    .scopes = LEDGER_SCOPES,
    .scopes_count = sizeof LEDGER_SCOPES / sizeof LEDGER_SCOPES[0],
    .open = ledger_open,
    .routes = ledger_routes,
    .tick_ms = QP_LEDGER_SWEEP_MS,
    .tick = ledger_tick,
    .close = ledger_close,
};
