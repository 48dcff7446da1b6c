/*
 * cluster_members.c - the admin routes that change who the replicas of a
 * replicated ledger are (docs/cluster.md, "Membership"):
 * POST /v1/cluster/replicas {"id","raft","http"} adds one, DELETE
 * /v1/cluster/replicas/{id} removes one.  Both run on the leader through
 * libraft's membership changes (raft_node.c); a follower answers 307 to
 * the leader like for a write.  Both need the admin scope.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <raft.h>

#include "base/err.h"
#include "ledger/api_int.h"

#define REPLICA_ID_MAX 1000000 /* as in node.json (cluster_config.c) */

/* The answer to a change: 200/202 with Raft's configuration, or why not. */
static void reply_change(qp__ledger_api_t *api, qp_http_request_t *req, qp_http_reply_t *r,
                         int rc, const char *detail, int ok_status, uint64_t id) {
  if (rc == 0) {
    qp__raft_status_t s;
    qp__raft_node_status(api->raft, &s);
    qp_http_reply_json(r, ok_status,
                       json_pack("{s:I,s:o}", "replica", (json_int_t)id, "replicas",
                                 qp__ledger_cluster_replicas_json(&s)));
  } else if (rc == QP_EAGAIN) {
    qp__ledger_cluster_redirect(api, req, r);
  } else if (rc == QP_EEXISTS) {
    qp_http_reply_fail(r, 409, "replica_exists", "", detail);
  } else if (rc == QP_ELIMIT) {
    qp_http_reply_fail(r, 409, "change_refused", "", detail);
  } else if (rc == QP_ENOTFOUND) {
    qp_http_reply_fail(r, 404, "replica_not_found", "id",
                       "no replica with this id is in the cluster's configuration");
  } else if (rc == QP_ESTOPPED) {
    r->retry_after_s = 1;
    qp_http_reply_fail(r, 503, "stopping", "", "this replica is stopping");
  } else {
    char message[320];
    snprintf(message, sizeof message, "the membership change failed: %s", detail);
    qp_http_reply_fail(r, 500, "internal", "", message);
  }
}

static bool standalone(qp__ledger_api_t *api, qp_http_reply_t *r) {
  if (api->raft != NULL) return false;
  qp_http_reply_fail(r, 409, "not_replicated", "",
                     "this ledger is not replicated (no modules.ledger.cluster in node.json)");
  return true;
}

/* "HOST:PORT" with a port 1..65535. */
static bool raft_address_ok(const char *s) {
  const char *colon = strrchr(s, ':');
  if (colon == NULL || colon == s || colon[1] == '\0') return false;
  for (const char *p = colon + 1; *p; p++)
    if (!isdigit((unsigned char)*p)) return false;
  long port = strtol(colon + 1, NULL, 10);
  return strlen(colon + 1) <= 5 && port >= 1 && port <= 65535;
}

/* An http:// or https:// URL without a trailing slash or spaces. */
static bool http_url_ok(const char *s) {
  size_t len = strlen(s);
  bool scheme = strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
  return scheme && len > 8 && s[len - 1] != '/' && strpbrk(s, " \t\r\n?#") == NULL;
}

/* The body as a replica, or false after a 400 naming the field. */
static bool replica_of(json_t *o, qp_ledger_replica_t *rep, qp_http_reply_t *r) {
  long long id;
  const char *raft = NULL, *http = NULL;
  if (!qp_http_member_int(o, "id", 1, REPLICA_ID_MAX, 0, &id, r) ||
      !qp_http_member_string(o, "raft", NULL, QP_LEDGER_ADDRESS_MAX - 1, true, &raft, r) ||
      !qp_http_member_string(o, "http", NULL, QP_LEDGER_ADDRESS_MAX - 1, true, &http, r))
    return false;
  if (!raft_address_ok(raft))
    return qp_http_fail_value(r, "raft", "raft must be HOST:PORT with a port from 1 to 65535");
  if (!http_url_ok(http))
    return qp_http_fail_value(r, "http",
                              "http must be an http:// or https:// URL without a trailing slash");
  rep->id = (uint64_t)id;
  memcpy(rep->raft, raft, strlen(raft) + 1);
  memcpy(rep->http, http, strlen(http) + 1);
  return true;
}

void qp__ledger_cluster_add(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__ledger_api_t *api = ctx;
  if (standalone(api, r)) return;
  static const char *const allowed[] = {"id", "raft", "http", NULL};
  json_t *o = qp_http_body_object(req, r, allowed, 0);
  if (o == NULL) return;
  qp_ledger_replica_t rep = {.id = 0};
  bool ok = replica_of(o, &rep, r);
  json_decref(o);
  if (!ok) return;
  char detail[256] = "";
  int rc = qp__raft_node_add(api->raft, &rep, detail, sizeof detail);
  reply_change(api, req, r, rc, detail, 202, rep.id);
}

void qp__ledger_cluster_remove(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__ledger_api_t *api = ctx;
  if (standalone(api, r)) return;
  const char *text = qp_http_param(req, "id");
  char *end = NULL;
  unsigned long long id = text != NULL && isdigit((unsigned char)text[0])
                              ? strtoull(text, &end, 10) : 0;
  if (end == NULL || *end != '\0' || id < 1 || id > REPLICA_ID_MAX) {
    qp_http_fail_value(r, "id", "the replica id must be an integer from 1 to %d",
                       REPLICA_ID_MAX);
    return;
  }
  char detail[256] = "";
  int rc = qp__raft_node_remove(api->raft, id, detail, sizeof detail);
  reply_change(api, req, r, rc, detail, 200, id);
}
