/*
 * cluster_config.c - reads "modules.ledger.cluster" from node.json: the
 * cluster's id, which replica this node is, and every replica's Raft
 * address and HTTP URL (docs/cluster.md).  Strict like the rest of
 * node.json: an unknown key or a bad value names the key.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "ledger/api.h"

/* A string no longer than size - 1 bytes into out; false with detail. */
static bool text_field(json_t *v, const char *where, const char *key, char *out, size_t size,
                       char *detail, size_t detail_size) {
  const char *s = json_string_value(v);
  if (s == NULL || s[0] == '\0' || strlen(s) >= size) {
    snprintf(detail, detail_size, "%s.%s must be a non-empty string of at most %zu bytes", where,
             key, size - 1);
    return false;
  }
  memcpy(out, s, strlen(s) + 1);
  return true;
}

static int replica_parse(json_t *o, const char *where, qp_ledger_replica_t *r, char *detail,
                         size_t detail_size) {
  json_int_t id = json_integer_value(json_object_get(o, "id"));
  json_t *bind = json_object_get(o, "raft_bind");
  if (!json_is_object(o) || json_object_size(o) != (bind != NULL ? 4u : 3u) ||
      !json_is_integer(json_object_get(o, "id")) || id < 1 || id > 1000000) {
    snprintf(detail, detail_size,
             "%s must be {\"id\": 1..1000000, \"raft\": \"HOST:PORT\", \"http\": \"URL\"} "
             "(and optionally \"raft_bind\": \"HOST:PORT\")", where);
    return QP_EINVAL;
  }
  if (bind != NULL && !text_field(bind, where, "raft_bind", r->raft_bind, sizeof r->raft_bind,
                                  detail, detail_size))
    return QP_EINVAL;
  r->id = (uint64_t)id;
  if (!text_field(json_object_get(o, "raft"), where, "raft", r->raft, sizeof r->raft, detail,
                  detail_size) ||
      !text_field(json_object_get(o, "http"), where, "http", r->http, sizeof r->http, detail,
                  detail_size))
    return QP_EINVAL;
  return 0;
}

static int replicas_parse(json_t *arr, const char *where, qp_ledger_cluster_t *out, char *detail,
                          size_t detail_size) {
  size_t n = json_array_size(arr);
  if (!json_is_array(arr) || n == 0 || n > QP_LEDGER_REPLICAS_MAX) {
    snprintf(detail, detail_size, "%s.replicas must be an array of 1 to %u replicas", where,
             QP_LEDGER_REPLICAS_MAX);
    return QP_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    char at[160];
    snprintf(at, sizeof at, "%s.replicas[%zu]", where, i);
    int rc = replica_parse(json_array_get(arr, i), at, &out->replicas[i], detail, detail_size);
    if (rc != 0) return rc;
    for (size_t j = 0; j < i; j++)
      if (out->replicas[j].id == out->replicas[i].id) {
        snprintf(detail, detail_size, "%s.id repeats replica %zu's id", at, j);
        return QP_EINVAL;
      }
  }
  out->count = (uint32_t)n;
  return 0;
}

/* "snapshot_threshold" (entries between two snapshots, 2..2^31) and
 * "snapshot_trailing" (entries kept after one, 0..2^31), both optional. */
static bool snapshot_fields(json_t *o, const char *where, qp_ledger_cluster_t *out,
                            char *detail, size_t detail_size) {
  out->snapshot_threshold = QP_LEDGER_SNAPSHOT_THRESHOLD;
  out->snapshot_trailing = QP_LEDGER_SNAPSHOT_TRAILING;
  out->snapshot_sized = json_object_get(o, "snapshot_threshold") == NULL;
  static const char *const keys[2] = {"snapshot_threshold", "snapshot_trailing"};
  uint32_t *fields[2] = {&out->snapshot_threshold, &out->snapshot_trailing};
  for (int k = 0; k < 2; k++) {
    json_t *v = json_object_get(o, keys[k]);
    if (v == NULL) continue;
    json_int_t x = json_integer_value(v);
    if (!json_is_integer(v) || x < (k == 0 ? 2 : 0) || x > 2147483647) {
      snprintf(detail, detail_size, "%s.%s must be an integer from %d to 2147483647", where,
               keys[k], k == 0 ? 2 : 0);
      return false;
    }
    *fields[k] = (uint32_t)x;
  }
  return true;
}

int qp_ledger_cluster_parse(const struct json_t *object, const char *where,
                            qp_ledger_cluster_t *out, char *detail, size_t detail_size) {
  memset(out, 0, sizeof *out);
  json_t *o = (json_t *)object;
  const char *key;
  json_t *v;
  if (!json_is_object(o)) {
    snprintf(detail, detail_size, "%s must be an object {\"id\", \"self\", \"replicas\"}", where);
    return QP_EINVAL;
  }
  json_object_foreach(o, key, v) {
    if (strcmp(key, "id") != 0 && strcmp(key, "self") != 0 && strcmp(key, "replicas") != 0 &&
        strcmp(key, "join") != 0 && strcmp(key, "snapshot_threshold") != 0 &&
        strcmp(key, "snapshot_trailing") != 0) {
      snprintf(detail, detail_size, "unknown key %s.%s; allowed: id, self, replicas, join, "
               "snapshot_threshold, snapshot_trailing", where, key);
      return QP_EINVAL;
    }
  }
  if (!snapshot_fields(o, where, out, detail, detail_size)) return QP_EINVAL;
  if (!text_field(json_object_get(o, "id"), where, "id", out->id, sizeof out->id, detail,
                  detail_size))
    return QP_EINVAL;
  int rc = replicas_parse(json_object_get(o, "replicas"), where, out, detail, detail_size);
  if (rc != 0) return rc;
  json_t *self = json_object_get(o, "self");
  if (!json_is_integer(self) || json_integer_value(self) < 0 ||
      json_integer_value(self) >= (json_int_t)out->count) {
    snprintf(detail, detail_size, "%s.self must be this replica's index in replicas, 0 to %u",
             where, out->count - 1);
    return QP_EINVAL;
  }
  out->self = (uint32_t)json_integer_value(self);
  json_t *join = json_object_get(o, "join");
  if (join != NULL && !json_is_boolean(join)) {
    snprintf(detail, detail_size, "%s.join must be true or false", where);
    return QP_EINVAL;
  }
  out->join = json_is_true(join);
  out->enabled = true;
  return 0;
}
