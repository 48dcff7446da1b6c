/*
 * cb_net.c - the benchmark's network: `quipu chain init` in a temp dir on
 * free loopback ports, one `quipu node --home` child per validator (each
 * dies with the bench: PR_SET_PDEATHSIG), readiness (every node healthy and
 * seeing all its peers), teardown, and the small HTTP reads the other
 * pieces share (status, /metrics) plus each node's CPU time from /proc.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "chain_bench.h"
#include "bench_int.h"
#include "base/clock.h"
#include "base/err.h"
#include "chain/chain.h"

#define READY_TIMEOUT_NS (60ull * 1000000000ull)
#define STOP_TIMEOUT_NS (10ull * 1000000000ull)
#define BODY_BYTES_MAX (16u << 20)

/* ------------------------------------------------------------ ports */

static bool port_free(uint32_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* A base port P with P .. P + 2n - 1 all free now (another process may
 * still take one before the nodes bind it: then a node fails to start and
 * says so in its log). */
static uint32_t pick_base_port(uint32_t nodes) {
  uint32_t seed = (uint32_t)(qp_clock_wall_ns() / 1000u) ^ (uint32_t)getpid();
  for (uint32_t attempt = 0; attempt < 200; attempt++) {
    seed = seed * 1103515245u + 12345u;
    uint32_t p = 20000u + (seed >> 8) % 40000u;
    bool all = true;
    for (uint32_t i = 0; i < 2 * nodes && all; i++) all = port_free(p + i);
    if (all) return p;
  }
  return 0;
}

/* -------------------------------------------------------- processes */

/* Runs argv to completion with stdout and stderr into log; 0 on exit 0. */
static int run_to_end(char *const argv[], const char *log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return QP_EIO;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : QP_EIO;
}

static pid_t spawn_node(const char *quipu, const char *home, const char *log) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
    execl(quipu, quipu, "node", "--home", home, "--log-level", "info", (char *)NULL);
    _exit(127);
  }
  return pid;
}

void qcb_net_log_tail(const qcb_net_t *net, uint32_t k) {
  char path[600], line[512];
  snprintf(path, sizeof path, "%s/node%u.log", net->dir, k);
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  fprintf(stderr, "chain-bench: last lines of %s:\n", path);
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
  fseek(f, size > 3000 ? size - 3000 : 0, SEEK_SET);
  while (fgets(line, sizeof line, f) != NULL) fprintf(stderr, "  %s", line);
  fclose(f);
}

/* ------------------------------------------------------------- http */

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
  return qp_buf_append(ctx, p, size * n) ? size * n : 0;
}

int qcb_http_get(void *e, const char *url, qp_buf_t *body, long *code) {
  qp_buf_reset(body);
  *code = 0;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  if (curl_easy_perform(e) != CURLE_OK) return QP_EIO;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
  return 0;
}

static void copy_hex(char out[65], json_t *v) {
  const char *s = json_string_value(v);
  snprintf(out, 65, "%s", s ? s : "");
}

int qcb_status_parse(const char *body, size_t len, qcb_status_t *out) {
  memset(out, 0, sizeof *out);
  json_t *root = json_loadb(body, len, 0, NULL);
  json_t *h = json_object_get(root, "height"), *peers = json_object_get(root, "peers");
  if (!json_is_integer(h) || !json_is_array(peers)) {
    json_decref(root);
    return QP_EPARSE;
  }
  out->height = (uint64_t)json_integer_value(h);
  out->view = (uint64_t)json_integer_value(json_object_get(root, "view"));
  json_t *mp = json_object_get(root, "mempool");
  out->mempool_txs = (uint64_t)json_integer_value(json_object_get(mp, "count"));
  for (size_t i = 0; i < json_array_size(peers); i++)
    if (json_is_true(json_object_get(json_array_get(peers, i), "up"))) out->peers_up++;
  copy_hex(out->head_hash, json_object_get(root, "head_hash"));
  copy_hex(out->state_root, json_object_get(root, "state_root"));
  copy_hex(out->genesis_hash, json_object_get(root, "genesis_hash"));
  json_decref(root);
  return 0;
}

/* GET base url + path with a one-off handle into body; *code as above. */
static int get_once(const qcb_net_t *net, uint32_t k, const char *path, qp_buf_t *body,
                    long *code) {
  char url[160];
  snprintf(url, sizeof url, "%s%s", net->url[k], path);
  CURL *e = curl_easy_init();
  if (e == NULL) return QP_ENOMEM;
  int rc = qcb_http_get(e, url, body, code);
  curl_easy_cleanup(e);
  return rc;
}

int qcb_status_get(const qcb_net_t *net, uint32_t k, qcb_status_t *out) {
  qp_buf_t body = {.max = BODY_BYTES_MAX};
  long code = 0;
  int rc = get_once(net, k, "/v1/chain/status", &body, &code);
  if (rc == 0 && code != 200) rc = QP_EIO;
  if (rc == 0) rc = qcb_status_parse(body.data, body.len, out);
  qp_buf_free(&body);
  return rc;
}

double qcb_metric(const qcb_net_t *net, uint32_t k, const char *name) {
  qp_buf_t body = {.max = BODY_BYTES_MAX};
  long code = 0;
  double v = -1;
  if (get_once(net, k, "/metrics", &body, &code) == 0 && code == 200 && body.data != NULL) {
    size_t n = strlen(name);
    for (const char *p = body.data; p != NULL; p = strchr(p, '\n')) {
      if (*p == '\n') p++;
      if (strncmp(p, name, n) == 0 && p[n] == ' ') {
        v = strtod(p + n + 1, NULL);
        break;
      }
    }
  }
  qp_buf_free(&body);
  return v;
}

double qcb_cpu_s(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  return qb_proc_stat_cpu_s(path);
}

uint32_t qcb_threads(pid_t pid, qcb_thread_t *out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  uint32_t n = 0;
  for (struct dirent *e; d != NULL && n < QCB_THREADS_MAX && (e = readdir(d)) != NULL;) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char stat[300];
    snprintf(stat, sizeof stat, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
    out[n].tid = (int)strtol(e->d_name, NULL, 10);
    out[n].cpu_s = qb_proc_stat_cpu_s(stat);
    snprintf(stat, sizeof stat, "/proc/%d/task/%s/comm", (int)pid, e->d_name);
    FILE *f = fopen(stat, "r");
    out[n].name[0] = '\0';
    if (f != NULL && fgets(out[n].name, sizeof out[n].name, f) != NULL)
      out[n].name[strcspn(out[n].name, "\n")] = '\0';
    if (f != NULL) fclose(f);
    if (out[n].cpu_s >= 0) n++;
  }
  if (d != NULL) closedir(d);
  return n;
}

/* ------------------------------------------------------ start, stop */

static int chain_init(const qcb_config_t *cfg, qcb_net_t *net) {
  char n[16], port[16], log[600];
  snprintf(n, sizeof n, "%u", cfg->nodes);
  snprintf(port, sizeof port, "%u", net->base_port);
  snprintf(log, sizeof log, "%s/init.log", net->base);
  char *argv[] = {(char *)cfg->quipu, "chain", "init", "--validators", n, "--dir", net->dir,
                  "--base-port", port, "--chain-id", "bench", "--crypto",
                  (char *)qp_suite_name(cfg->suite), NULL};
  int rc = run_to_end(argv, log);
  if (rc != 0) fprintf(stderr, "chain-bench: `quipu chain init` failed (see %s)\n", log);
  return rc;
}

/* Writes the proposer settings asked for (--propose-max,
 * --propose-linger-ms) into node k's node.json (modules.chain). */
static int set_proposer(const qcb_config_t *cfg, const char *home) {
  char path[600];
  snprintf(path, sizeof path, "%s/node.json", home);
  json_t *root = json_load_file(path, 0, NULL);
  json_t *chain = json_object_get(json_object_get(root, "modules"), "chain");
  int rc = chain != NULL ? 0 : QP_EIO;
  if (rc == 0 && cfg->propose_max > 0 &&
      json_object_set_new(chain, "propose_txs_max", json_integer(cfg->propose_max)) != 0)
    rc = QP_EIO;
  if (rc == 0 && cfg->propose_linger >= 0 &&
      json_object_set_new(chain, "propose_linger_ms", json_integer(cfg->propose_linger)) != 0)
    rc = QP_EIO;
  if (rc == 0 && json_dump_file(root, path, JSON_INDENT(2)) != 0) rc = QP_EIO;
  if (rc != 0) fprintf(stderr, "chain-bench: cannot set the proposer settings in %s\n", path);
  json_decref(root);
  return rc;
}

/* True when node k answers its status and sees every other validator. */
static bool node_ready(const qcb_net_t *net, uint32_t k) {
  qcb_status_t st;
  return qcb_status_get(net, k, &st) == 0 && st.peers_up + 1 == net->count;
}

static int wait_ready(qcb_net_t *net) {
  uint64_t t0 = qp_clock_mono_ns();
  for (uint32_t k = 0; k < net->count;) {
    int status;
    if (waitpid(net->pids[k], &status, WNOHANG) == net->pids[k]) {
      fprintf(stderr, "chain-bench: node%u exited during start (status %d)\n", k, status);
      net->pids[k] = 0;
      qcb_net_log_tail(net, k);
      return QP_EIO;
    }
    if (node_ready(net, k)) {
      k++;
      continue;
    }
    if (qp_clock_mono_ns() - t0 > READY_TIMEOUT_NS) {
      fprintf(stderr, "chain-bench: node%u not ready (healthy, all peers up) in 60 s\n", k);
      qcb_net_log_tail(net, k);
      return QP_EIO;
    }
    usleep(20000);
  }
  return 0;
}

int qcb_net_start(const qcb_config_t *cfg, qcb_net_t *net) {
  memset(net, 0, sizeof *net);
  net->count = cfg->nodes;
  int rc = qb_make_temp_dir(cfg->tmp_dir, "chain", net->base, sizeof net->base);
  if (rc != 0) return rc;
  snprintf(net->dir, sizeof net->dir, "%s/net", net->base);
  net->base_port = pick_base_port(cfg->nodes);
  if (net->base_port == 0) {
    fprintf(stderr, "chain-bench: no %u consecutive free loopback ports\n", 2 * cfg->nodes);
    return QP_EIO;
  }
  rc = chain_init(cfg, net);
  for (uint32_t k = 0; rc == 0 && k < net->count; k++) {
    char home[520], log[600];
    snprintf(home, sizeof home, "%s/node%u", net->dir, k);
    snprintf(log, sizeof log, "%s/node%u.log", net->dir, k);
    snprintf(net->url[k], sizeof net->url[k], "http://127.0.0.1:%u", net->base_port + 2 * k);
    if ((cfg->propose_max > 0 || cfg->propose_linger >= 0) && set_proposer(cfg, home) != 0) {
      rc = QP_EIO;
      break;
    }
    net->pids[k] = spawn_node(cfg->quipu, home, log);
    if (net->pids[k] < 0) net->pids[k] = 0, rc = QP_EIO;
  }
  if (rc == 0) rc = wait_ready(net);
  qcb_status_t st;
  if (rc == 0) rc = qcb_status_get(net, 0, &st);
  if (rc == 0 && qp_chain_unhex(st.genesis_hash, strlen(st.genesis_hash), net->genesis,
                              QP_HASH_SIZE) != 0)
    rc = QP_EPARSE;
  return rc;
}

/* Waits for pid until deadline; true once it was reaped (status set). */
static bool reap_until(pid_t pid, uint64_t deadline_ns, int *status) {
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return true;
    if (qp_clock_mono_ns() > deadline_ns) return false;
    usleep(10000);
  }
}

int qcb_net_stop(qcb_net_t *net, bool keep) {
  int rc = 0;
  for (uint32_t k = 0; k < net->count; k++)
    if (net->pids[k] > 0) kill(net->pids[k], SIGTERM);
  uint64_t deadline = qp_clock_mono_ns() + STOP_TIMEOUT_NS;
  for (uint32_t k = 0; k < net->count; k++) {
    if (net->pids[k] <= 0) continue;
    int status = 0;
    if (!reap_until(net->pids[k], deadline, &status)) {
      fprintf(stderr, "chain-bench: node%u ignored SIGTERM for 10 s: SIGKILL\n", k);
      kill(net->pids[k], SIGKILL);
      waitpid(net->pids[k], &status, 0);
      rc = QP_EIO;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "chain-bench: node%u exited with status %d\n", k, status);
      qcb_net_log_tail(net, k);
      rc = QP_EIO;
    }
    net->pids[k] = 0;
  }
  if (keep) fprintf(stderr, "chain-bench: kept %s (node logs in %s)\n", net->base, net->dir);
  else if (net->base[0] != '\0') qb_remove_tree(net->base);
  return rc;
}
