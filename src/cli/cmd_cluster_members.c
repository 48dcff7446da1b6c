/*
 * cmd_cluster_members.c - `quipu cluster add|remove` (docs/cluster.md,
 * "Membership"): changes who the replicas of a running cluster are,
 * through the leader's admin routes (POST /v1/cluster/replicas, DELETE
 * /v1/cluster/replicas/{id}), with the admin key in $QUIPU_KEY.
 *
 * add writes the next home DIR/node<N> first (N one past the highest
 * existing, HTTP on P+2N and Raft on P+2N+1 like init's, the key file
 * copied, node.json with "join": true so it does not bootstrap a
 * configuration of its own and with the replicas the leader reports), then
 * asks the leader to add it; the operator starts it (`quipu node --home`
 * or `cluster up`), and it becomes a voter once it has caught up.  On a
 * refusal the home is removed again.  remove asks the leader to remove a
 * replica and says which home to stop and move away (a running process
 * keeps its home: renaming it under the process would break it).
 * Exit codes: 0 done, 1 refused or unreachable, 2 usage.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/err.h"
#include "cli/chain_http.h"
#include "cli/cli.h"
#include "http/http.h"
#include "ledger/api.h"
#include "store/store.h"

#define PROG "quipu cluster"
#define HOMES_MAX 1000u      /* node<K> indexes looked at */
#define REQUEST_MS 30000L    /* one admin request's deadline */
#define PATH_MAX_BYTES 4200u /* a home's path */

typedef struct args {
  const char *dir;    /* --dir */
  const char *leader; /* --leader, or NULL: ask the homes */
  long long id;       /* remove --id, 0 = none */
  long long replica;  /* remove --replica, -1 = none */
} args_t;

static int usage(const char *what) {
  fprintf(stderr, PROG ": %s\nusage: quipu cluster add --dir DIR [--leader URL]\n"
                  "       quipu cluster remove --dir DIR (--id N | --replica K) [--leader URL]\n",
          what);
  return 2;
}

static int parse(int argc, char **argv, bool remove, args_t *a) {
  static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                       {"leader", required_argument, NULL, 'l'},
                                       {"id", required_argument, NULL, 'i'},
                                       {"replica", required_argument, NULL, 'r'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'd') a->dir = optarg;
    else if (c == 'l') a->leader = optarg;
    else if (c == 'i' && remove) a->id = strtoll(optarg, NULL, 10);
    else if (c == 'r' && remove) a->replica = strtoll(optarg, NULL, 10);
    else return usage("unknown option");
  }
  if (optind < argc) return usage("unexpected argument");
  if (a->dir == NULL) return usage("--dir is required");
  if (remove && (a->id > 0) == (a->replica >= 0))
    return usage("give one of --id N (1..1000000) or --replica K");
  if (getenv("QUIPU_KEY") == NULL) return usage("$QUIPU_KEY must hold an admin API key");
  return -1;
}

/* DIR/node<k>/node.json parsed, or NULL. */
static json_t *home_config(const char *dir, uint32_t k) {
  char path[PATH_MAX_BYTES + 32];
  snprintf(path, sizeof path, "%s/node%u/node.json", dir, k);
  return json_load_file(path, 0, NULL);
}

/* The lowest home index with a node.json and one past the highest. */
static int homes(const char *dir, uint32_t *first, uint32_t *next) {
  *first = HOMES_MAX, *next = 0;
  for (uint32_t k = 0; k < HOMES_MAX; k++) {
    json_t *cfg = home_config(dir, k);
    if (cfg == NULL) continue;
    if (*first == HOMES_MAX) *first = k;
    *next = k + 1;
    json_decref(cfg);
  }
  if (*first == HOMES_MAX) {
    fprintf(stderr, PROG ": no DIR/node<K>/node.json in %s (run quipu cluster init)\n", dir);
    return QP_ENOTFOUND;
  }
  return 0;
}

/* Sends method path (body) to url, following one 307 to the leader. */
static int ask(qp_cli_chain_http_t *h, const char *url, const char *method, const char *path,
               const char *body) {
  for (int hop = 0; hop < 2; hop++) {
    qp_cli_chain_http_deinit(h);
    if (qp_cli_chain_http_init(h, url) != 0) return QP_EINVAL;
    int rc = qp_cli_chain_http_request(h, method, path, body, body ? strlen(body) : 0,
                                       REQUEST_MS);
    if (rc != 0 || h->status != 307) return rc;
    json_t *o = qp_cli_chain_http_json(h);
    const char *leader = json_string_value(json_object_get(json_object_get(o, "error"),
                                                           "leader"));
    static char next[QP_CLI_CHAIN_URL_MAX];
    snprintf(next, sizeof next, "%s", leader ? leader : "");
    json_decref(o);
    if (next[0] == '\0') return 0;
    url = next;
  }
  return 0;
}

/* The URL of home k ("http://" + its listen). */
static void home_url(json_t *cfg, char *out, size_t size) {
  snprintf(out, size, "http://%s", json_string_value(json_object_get(cfg, "listen")));
}

/* GET /v1/cluster/status from --leader or the first home that answers. */
static json_t *cluster_status(const args_t *a, uint32_t first, uint32_t next,
                              qp_cli_chain_http_t *h) {
  for (uint32_t k = first; k < next || (a->leader != NULL && k == first); k++) {
    char url[QP_CLI_CHAIN_URL_MAX];
    json_t *cfg = a->leader == NULL ? home_config(a->dir, k) : NULL;
    if (a->leader == NULL && cfg == NULL) continue;
    if (a->leader != NULL) snprintf(url, sizeof url, "%s", a->leader);
    else home_url(cfg, url, sizeof url);
    json_decref(cfg);
    if (ask(h, url, "GET", "/v1/cluster/status", NULL) == 0 && h->status == 200)
      return qp_cli_chain_http_json(h);
    if (a->leader != NULL) break;
  }
  qp_cli_chain_http_print_error(h, PROG, "asking the cluster's status");
  return NULL;
}

/* The leader's URL from a status (or the replica asked, when unknown). */
static const char *leader_of(json_t *status, const qp_cli_chain_http_t *h) {
  const char *leader = json_string_value(json_object_get(status, "leader"));
  return leader != NULL ? leader : h->base;
}

/* The id of replica `self` in a home's node.json, or 0. */
static uint64_t home_replica_id(json_t *cfg) {
  json_t *cl = json_object_get(json_object_get(json_object_get(cfg, "modules"), "ledger"),
                               "cluster");
  json_t *self = json_object_get(cl, "self");
  json_t *r = json_array_get(json_object_get(cl, "replicas"), (size_t)json_integer_value(self));
  return (uint64_t)json_integer_value(json_object_get(r, "id"));
}

/* Removes what write_home wrote (a refused add). */
static void unwrite_home(const char *home) {
  char path[PATH_MAX_BYTES + 300];
  if (qp_http_keys_path(home, path, sizeof path) == 0) {
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
  }
  snprintf(path, sizeof path, "%s/node.json", home);
  unlink(path);
  rmdir(home);
}

/* DIR/node<k>: the first home's node.json with its listen and cluster
 * replaced (HTTP on port, Raft on port + 1, replicas from the status plus
 * this one, "join": true), and its key file. */
static int write_home(const args_t *a, uint32_t first, uint32_t k, json_t *status,
                      json_t *me, const char *home) {
  json_t *cfg = home_config(a->dir, first), *list = json_array();
  json_t *servers = json_object_get(status, "replicas"), *v;
  size_t i;
  json_array_foreach(servers, i, v) {
    if (json_is_string(json_object_get(v, "http")))
      json_array_append_new(list, json_pack("{s:O,s:O,s:O}", "id", json_object_get(v, "id"),
                                            "raft", json_object_get(v, "raft"), "http",
                                            json_object_get(v, "http")));
  }
  size_t self = json_array_size(list);
  json_array_append(list, me);
  json_t *ledger = json_object_get(json_object_get(cfg, "modules"), "ledger");
  char listen[QP_LEDGER_ADDRESS_MAX];
  snprintf(listen, sizeof listen, "%s", json_string_value(json_object_get(me, "http")) + 7);
  int rc = cfg != NULL && ledger != NULL && list != NULL ? qp_mkdir_p(home) : QP_EINVAL;
  if (rc == 0) {
    json_object_set_new(cfg, "listen", json_string(listen));
    json_object_set_new(ledger, "cluster",
                        json_pack("{s:O,s:i,s:b,s:O}", "id", json_object_get(status, "cluster"),
                                  "self", (int)self, "join", 1, "replicas", list));
    char path[PATH_MAX_BYTES + 32], from[PATH_MAX_BYTES];
    snprintf(path, sizeof path, "%s/node.json", home);
    rc = json_dump_file(cfg, path, JSON_INDENT(2)) == 0 ? 0 : QP_EIO;
    snprintf(from, sizeof from, "%s/node%u", a->dir, first);
    if (rc == 0) rc = qp__cli_cluster_copy_keys(from, home, PROG " add");
  }
  if (rc != 0) fprintf(stderr, PROG " add: cannot write %s: %s\n", home, qp_strerror(rc));
  json_decref(cfg);
  json_decref(list);
  (void)k;
  return rc;
}

/* The new replica: {"id","raft","http"} on the first home's host, ports
 * following init's layout, id one past the highest in the status. */
static json_t *new_replica(const args_t *a, uint32_t first, uint32_t k, json_t *status) {
  json_t *cfg = home_config(a->dir, first), *v;
  const char *listen = json_string_value(json_object_get(cfg, "listen"));
  const char *colon = listen ? strrchr(listen, ':') : NULL;
  if (colon == NULL) {
    json_decref(cfg);
    return NULL;
  }
  long base = strtol(colon + 1, NULL, 10) - 2L * first;
  long port = base + 2L * k;
  if (colon - listen >= 64) {
    json_decref(cfg);
    return NULL;
  }
  char host[64], http[QP_LEDGER_ADDRESS_MAX], raft[QP_LEDGER_ADDRESS_MAX];
  snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
  json_decref(cfg);
  if (port + 1 > 65535) return NULL;
  snprintf(http, sizeof http, "http://%s:%ld", host, port);
  snprintf(raft, sizeof raft, "%s:%ld", host, port + 1);
  json_int_t id = 0;
  size_t i;
  json_array_foreach(json_object_get(status, "replicas"), i, v) {
    json_int_t x = json_integer_value(json_object_get(v, "id"));
    if (x > id) id = x;
  }
  return json_pack("{s:I,s:s,s:s}", "id", id + 1, "raft", raft, "http", http);
}

static int add_run(const args_t *a, qp_cli_chain_http_t *h) {
  uint32_t first, next;
  if (homes(a->dir, &first, &next) != 0) return 1;
  json_t *status = cluster_status(a, first, next, h);
  if (status == NULL) return 1;
  char leader[QP_CLI_CHAIN_URL_MAX], home[PATH_MAX_BYTES];
  snprintf(leader, sizeof leader, "%s", leader_of(status, h));
  snprintf(home, sizeof home, "%s/node%u", a->dir, next);
  json_t *me = new_replica(a, first, next, status);
  int rc = me != NULL ? write_home(a, first, next, status, me, home) : QP_ERANGE;
  char *body = rc == 0 ? json_dumps(me, JSON_COMPACT) : NULL;
  json_decref(status);
  if (rc == 0 && (body == NULL || ask(h, leader, "POST", "/v1/cluster/replicas", body) != 0 ||
                  (h->status != 202 && h->status != 200))) {
    qp_cli_chain_http_print_error(h, PROG " add", "adding the replica");
    unwrite_home(home);
    rc = QP_EAGAIN;
  }
  qp_http_json_free(body);
  if (rc == 0)
    printf("added replica %lld as %s (%s, raft %s); it is a spare until it has caught up.\n"
           "start it: quipu node --home %s   (quipu cluster up --dir %s starts it too)\n",
           (long long)json_integer_value(json_object_get(me, "id")), home,
           json_string_value(json_object_get(me, "http")),
           json_string_value(json_object_get(me, "raft")), home, a->dir);
  else if (me == NULL) fprintf(stderr, PROG " add: no port left after the others'\n");
  json_decref(me);
  return rc == 0 ? 0 : 1;
}

int qp__cli_cluster_add(int argc, char **argv) {
  args_t a = {.replica = -1};
  int code = parse(argc, argv, false, &a);
  if (code >= 0) return code;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
  qp_cli_chain_http_t h;
  memset(&h, 0, sizeof h);
  code = add_run(&a, &h);
  qp_cli_chain_http_deinit(&h);
  return code;
}

/* Tells what to do with the home whose replica has that id. */
static void retire_home(const args_t *a, uint32_t first, uint32_t next, uint64_t id) {
  for (uint32_t k = first; k < next; k++) {
    json_t *cfg = home_config(a->dir, k);
    bool his = cfg != NULL && home_replica_id(cfg) == id;
    json_decref(cfg);
    if (his)
      printf("stop its process and move %s/node%u away: `cluster up` would start it again (it\n"
             "is no longer in the configuration, so it gets no entries and cannot vote)\n",
             a->dir, k);
  }
}

static int remove_run(const args_t *a, qp_cli_chain_http_t *h) {
  uint32_t first, next;
  if (homes(a->dir, &first, &next) != 0) return 1;
  uint64_t id = (uint64_t)a->id;
  if (a->replica >= 0) {
    json_t *cfg = home_config(a->dir, (uint32_t)a->replica);
    id = cfg != NULL ? home_replica_id(cfg) : 0;
    json_decref(cfg);
    if (id == 0) {
      fprintf(stderr, PROG " remove: no replica in %s/node%lld\n", a->dir, a->replica);
      return 1;
    }
  }
  json_t *status = cluster_status(a, first, next, h);
  if (status == NULL) return 1;
  char leader[QP_CLI_CHAIN_URL_MAX], path[64];
  snprintf(leader, sizeof leader, "%s", leader_of(status, h));
  json_decref(status);
  snprintf(path, sizeof path, "/v1/cluster/replicas/%llu", (unsigned long long)id);
  if (ask(h, leader, "DELETE", path, NULL) != 0 || h->status != 200) {
    qp_cli_chain_http_print_error(h, PROG " remove", "removing the replica");
    return 1;
  }
  printf("removed replica %llu from the cluster\n", (unsigned long long)id);
  retire_home(a, first, next, id);
  return 0;
}

int qp__cli_cluster_remove(int argc, char **argv) {
  args_t a = {.replica = -1};
  int code = parse(argc, argv, true, &a);
  if (code >= 0) return code;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
  qp_cli_chain_http_t h;
  memset(&h, 0, sizeof h);
  code = remove_run(&a, &h);
  qp_cli_chain_http_deinit(&h);
  return code;
}
