/*
 * rk_node.c - the node the HTTP part of quipu-risk-bench talks to: a temp
 * dir that is its home, node.json with only the risk module on a free
 * loopback port and the generated ruleset as its ruleset_file, an API key
 * made by the real `quipu keys create`, the `quipu node --home` child (it
 * dies with the bench: PR_SET_PDEATHSIG), and one request over a keep-alive
 * libcurl easy handle.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "bench_int.h"
#include "risk_bench.h"

#define READY_TIMEOUT_NS (30ull * 1000000000ull)
#define STOP_TIMEOUT_NS (20ull * 1000000000ull)
#define BODY_MAX (256u << 20)

static bool port_free(uint32_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* A port free now (another process may take it first: the node then fails
 * to start and says so in its log). */
static uint32_t pick_port(void) {
  uint32_t seed = (uint32_t)(qp_clock_wall_ns() / 1000u) ^ (uint32_t)getpid();
  for (uint32_t attempt = 0; attempt < 200; attempt++) {
    seed = seed * 1103515245u + 12345u;
    uint32_t p = 20000u + (seed >> 8) % 40000u;
    if (port_free(p)) return p;
  }
  return 0;
}

static int write_file(const rk_node_t *n, const char *name, const char *data, size_t len) {
  char path[480];
  snprintf(path, sizeof path, "%s/%s", n->dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL) return QP_EIO;
  bool ok = fwrite(data, 1, len, f) == len;
  return fclose(f) == 0 && ok ? 0 : QP_EIO;
}

static int write_config(const rk_node_t *n, const char *ruleset, size_t len) {
  char config[200];
  int k = snprintf(config, sizeof config, "{\"listen\": \"127.0.0.1:%u\", \"modules\": "
                   "{\"risk\": {\"ruleset_file\": \"rules.txt\"}}}\n", n->port);
  int rc = write_file(n, "rules.txt", ruleset, len);
  return rc == 0 ? write_file(n, "node.json", config, (size_t)k) : rc;
}

/* Runs `quipu keys create` in the node's home and keeps the key it prints. */
static int make_key(const char *quipu, rk_node_t *n) {
  int fds[2];
  if (pipe(fds) != 0) return QP_EIO;
  pid_t pid = fork();
  if (pid == 0) {
    char log[460];
    snprintf(log, sizeof log, "%s/keys.log", n->dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644); /* its notice, not the key */
    if (fd >= 0) dup2(fd, STDERR_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(quipu, quipu, "keys", "create", "--data", n->dir, "--name", "risk-bench", "--scope",
          "risk:admin,risk:decide", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char key[128] = "";
  ssize_t got = pid > 0 ? read(fds[0], key, sizeof key - 1) : -1;
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "risk-bench: `quipu keys create` failed\n");
    return QP_EIO;
  }
  key[got] = '\0';
  key[strcspn(key, "\r\n")] = '\0';
  snprintf(n->auth, sizeof n->auth, "Authorization: Bearer %s", key);
  return 0;
}

static pid_t spawn_node(const char *quipu, const rk_node_t *n) {
  char log[460];
  snprintf(log, sizeof log, "%s/node.log", n->dir);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
    execl(quipu, quipu, "node", "--home", n->dir, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static void log_tail(const rk_node_t *n) {
  char path[460], line[512];
  snprintf(path, sizeof path, "%s/node.log", n->dir);
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  fprintf(stderr, "risk-bench: last lines of %s:\n", path);
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
  fseek(f, size > 3000 ? size - 3000 : 0, SEEK_SET);
  while (fgets(line, sizeof line, f) != NULL) fprintf(stderr, "  %s", line);
  fclose(f);
}

/* Polls /healthz until 200, the node exits, or the timeout. */
static int wait_ready(rk_node_t *n) {
  CURL *e = curl_easy_init();
  uint64_t t0 = qp_clock_mono_ns();
  int rc = e != NULL ? QP_EIO : QP_ENOMEM;
  while (e != NULL && qp_clock_mono_ns() - t0 < READY_TIMEOUT_NS) {
    char *out = NULL;
    long code = 0;
    if (rk_call(e, n, "GET", "/healthz", NULL, NULL, 0, &out, &code) == 0 && code == 200)
      rc = 0;
    qp_free(out);
    int status = 0;
    if (rc == 0 || waitpid(n->pid, &status, WNOHANG) == n->pid) break;
    usleep(20000);
  }
  curl_easy_cleanup(e);
  return rc;
}

int rk_node_start(const rk_http_config_t *cfg, const char *ruleset, size_t len, rk_node_t *n) {
  memset(n, 0, sizeof *n);
  int rc = qb_make_temp_dir(cfg->tmp_dir, "risk", n->dir, sizeof n->dir);
  n->port = rc == 0 ? pick_port() : 0;
  if (rc == 0 && n->port == 0) rc = QP_EIO;
  if (rc != 0) return rc;
  snprintf(n->url, sizeof n->url, "http://127.0.0.1:%u", n->port);
  rc = write_config(n, ruleset, len);
  if (rc == 0) rc = make_key(cfg->quipu, n);
  if (rc == 0) {
    n->pid = spawn_node(cfg->quipu, n);
    rc = n->pid > 0 ? wait_ready(n) : QP_EIO;
  }
  if (rc != 0) {
    fprintf(stderr, "risk-bench: the node did not come up (%s)\n", n->dir);
    log_tail(n);
  }
  return rc;
}

int rk_node_stop(rk_node_t *n, bool keep) {
  int status = 0, rc = 0;
  if (n->pid > 0) {
    kill(n->pid, SIGTERM);
    uint64_t t0 = qp_clock_mono_ns();
    pid_t got = 0;
    while ((got = waitpid(n->pid, &status, WNOHANG)) == 0 &&
           qp_clock_mono_ns() - t0 < STOP_TIMEOUT_NS)
      usleep(10000);
    if (got == 0) {
      kill(n->pid, SIGKILL);
      waitpid(n->pid, &status, 0);
    }
    rc = got == n->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : QP_EIO;
    if (rc != 0) log_tail(n);
    n->pid = 0;
  }
  if (keep) fprintf(stderr, "risk-bench: kept %s\n", n->dir);
  else qb_remove_tree(n->dir);
  return rc;
}

static size_t on_body(char *p, size_t size, size_t count, void *ctx) {
  return qp_buf_append(ctx, p, size * count) ? size * count : 0;
}

int rk_call(void *e, const rk_node_t *n, const char *method, const char *path,
            const char *content_type, const char *body, size_t len, char **out, long *code) {
  char url[256], type[96];
  qp_buf_t got = {.max = BODY_MAX};
  *out = NULL;
  *code = 0;
  snprintf(url, sizeof url, "%s%s", n->url, path);
  snprintf(type, sizeof type, "Content-Type: %s", content_type ? content_type : "text/plain");
  struct curl_slist *h = curl_slist_append(NULL, n->auth);
  h = curl_slist_append(h, type);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? len : 0));
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_HTTPGET, body == NULL ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &got);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 120000L);
  int rc = curl_easy_perform(e) == CURLE_OK ? 0 : QP_EIO;
  if (rc == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
  if (rc == 0 && got.failed) rc = QP_ENOMEM; /* out of memory or past BODY_MAX */
  if (rc == 0) {
    *out = got.data != NULL ? got.data : qp_calloc(1, 1); /* the buffer's NUL-terminated bytes */
    got.data = NULL;
    if (*out == NULL) rc = QP_ENOMEM;
  }
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(h);
  qp_buf_free(&got);
  return rc;
}
