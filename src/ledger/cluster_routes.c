/*
 * cluster_routes.c - what the HTTP side of a replicated ledger adds
 * (docs/cluster.md): GET /v1/cluster/status, and the gate in front of
 * every ledger route that sends writes (and reads, unless the client asks
 * for ?consistency=stale) to the leader with a 307.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <raft.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api_int.h"

#define LOCATION_MAX 2048u /* bytes of a redirect's Location */

typedef struct query_text {
  char text[LOCATION_MAX]; /* "?a=b&c=d" so far */
  size_t len;              /* bytes used */
  bool stale;              /* consistency=stale was asked */
} query_text_t;

static bool add_arg(void *ctx, const char *key, const char *value) {
  query_text_t *q = ctx;
  if (strcmp(key, "consistency") == 0 && value != NULL && strcmp(value, "stale") == 0)
    q->stale = true;
  int n = snprintf(q->text + q->len, sizeof q->text - q->len, "%c%s%s%s", q->len ? '&' : '?',
                   key, value ? "=" : "", value ? value : "");
  if (n > 0 && (size_t)n < sizeof q->text - q->len) q->len += (size_t)n;
  return true;
}

static const char *role_name(int role) {
  return role == RAFT_LEADER      ? "leader"
         : role == RAFT_FOLLOWER  ? "follower"
         : role == RAFT_CANDIDATE ? "candidate"
                                  : "unavailable";
}

/* 307 to leader (its URL), or 503 when leader is "" (unknown or us). */
static void redirect(qp_http_request_t *req, qp_http_reply_t *r, const query_text_t *q,
                     const char *leader) {
  if (leader[0] == '\0') {
    r->retry_after_s = 1;
    qp_http_reply_fail(r, 503, "no_leader", "",
                       "the cluster has no leader right now (an election is under way); retry "
                       "shortly with the same ids");
    return;
  }
  char location[LOCATION_MAX + QP_LEDGER_ADDRESS_MAX];
  snprintf(location, sizeof location, "%s%s%s", leader, qp_http_path(req), q->text);
  json_t *o = json_pack("{s:{s:s,s:s,s:s,s:s}}", "error", "code", "not_leader", "message",
                        "this replica is a follower: send the request to the leader", "path", "",
                        "leader", leader);
  qp_http_reply_json(r, 307, o);
  qp_http_reply_header(r, "Location", location);
}

void qp__ledger_cluster_redirect(qp__ledger_api_t *api, qp_http_request_t *req,
                                 qp_http_reply_t *r) {
  query_text_t q = {.len = 0};
  qp_http_query_each(req, add_arg, &q);
  qp__raft_status_t s;
  qp__raft_node_status(api->raft, &s);
  redirect(req, r, &q, s.role == RAFT_LEADER ? "" : s.leader_http);
}

bool qp__ledger_cluster_serves(qp__ledger_api_t *api, qp_http_request_t *req,
                               qp_http_reply_t *r, bool write) {
  if (api->raft == NULL) return true;
  query_text_t q = {.len = 0};
  qp_http_query_each(req, add_arg, &q);
  qp__raft_status_t s;
  qp__raft_node_status(api->raft, &s);
  if (s.role == RAFT_LEADER && !write && !q.stale) {
    /* A default read on the leader waits for a barrier: leadership confirmed by a
     * majority after the read came, and every entry committed before it applied. */
    int rc = qp__raft_node_read_barrier(api->raft);
    qp__raft_node_status(api->raft, &s);
    if (rc != 0) { /* deposed (or no majority): answer like a follower */
      redirect(req, r, &q, s.role == RAFT_LEADER ? "" : s.leader_http);
      return false;
    }
  }
  if (s.role == RAFT_LEADER || (!write && q.stale)) {
    if (!write) {
      char applied[24];
      snprintf(applied, sizeof applied, "%llu", (unsigned long long)s.applied_index);
      qp_http_reply_header(r, "X-Quipu-Applied-Index", applied);
    }
    return true;
  }
  redirect(req, r, &q, s.leader_http);
  return false;
}

static const char *server_role_name(int role) {
  return role == RAFT_VOTER ? "voter" : role == RAFT_STANDBY ? "standby" : "spare";
}

json_t *qp__ledger_cluster_replicas_json(const qp__raft_status_t *s) {
  json_t *arr = json_array();
  for (uint32_t i = 0; arr != NULL && i < s->server_count; i++) {
    const qp__raft_server_status_t *v = &s->servers[i];
    json_array_append_new(arr, json_pack("{s:I,s:s,s:o,s:s}", "id", (json_int_t)v->id, "raft",
                                         v->raft, "http",
                                         v->http[0] ? json_string(v->http) : json_null(), "role",
                                         server_role_name(v->role)));
  }
  return arr;
}

void qp__ledger_cluster_status(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  (void)req;
  qp__ledger_api_t *api = ctx;
  const qp_ledger_cluster_t *c = &api->settings.cluster;
  if (api->raft == NULL) { /* a single node: it serves everything itself */
    qp_http_reply_json(r, 200, json_pack("{s:n, s:s, s:n, s:i, s:i, s:i, s:[]}", "id", "role",
                                         "standalone", "leader", "term", 0, "commit_index", 0,
                                         "applied_index", 0, "replicas"));
    return;
  }
  qp__raft_status_t s;
  qp__raft_node_status(api->raft, &s);
  json_t *o = json_pack("{s:I,s:s,s:s,s:o,s:I,s:I,s:I,s:o}", "id",
                        (json_int_t)c->replicas[c->self].id, "cluster", c->id, "role",
                        role_name(s.role), "leader",
                        s.leader_http[0] ? json_string(s.leader_http) : json_null(),
                        "term", (json_int_t)s.term, "commit_index", (json_int_t)s.commit_index,
                        "applied_index", (json_int_t)s.applied_index, "replicas",
                        qp__ledger_cluster_replicas_json(&s));
  qp_http_reply_json(r, 200, o);
}
