/*
 * bench_node.c - a real `quipu node` for the benches that measure over
 * HTTP (auth, risk): a temp dir that is its home, a free loopback port, an
 * API key made by the real `quipu keys create`, the `quipu node --home`
 * child (it dies with the bench: PR_SET_PDEATHSIG), readiness by /healthz,
 * a clean stop, its CPU time, and plain JSON calls over a keep-alive
 * libcurl easy handle.  The caller writes node.json (and any
 * other file) between qb_node_prepare and qb_node_launch.
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

#include "bench_int.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"

#define READY_TIMEOUT_NS (30ull * 1000000000ull)
#define STOP_TIMEOUT_NS (20ull * 1000000000ull)

static bool port_free(uint32_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* A port free now (another process may still take it first: the node
 * then fails to start and says so in its log). */
static uint32_t pick_port(void) {
  uint32_t seed = (uint32_t)(qp_clock_wall_ns() / 1000u) ^ (uint32_t)getpid();
  for (uint32_t attempt = 0; attempt < 200; attempt++) {
    seed = seed * 1103515245u + 12345u;
    uint32_t p = 20000u + (seed >> 8) % 40000u;
    if (port_free(p)) return p;
  }
  return 0;
}

int qb_node_prepare(const char *tmp_dir, const char *tag, const char *who, qb_node_t *n) {
  memset(n, 0, sizeof *n);
  n->who = who;
  int rc = qb_make_temp_dir(tmp_dir, tag, n->dir, sizeof n->dir);
  n->port = rc == 0 ? pick_port() : 0;
  if (rc == 0 && n->port == 0) rc = QP_EIO;
  snprintf(n->url, sizeof n->url, "http://127.0.0.1:%u", n->port);
  snprintf(n->origin, sizeof n->origin, "http://localhost:%u", n->port);
  return rc;
}

int qb_node_write(const qb_node_t *n, const char *name, const char *data, size_t len) {
  char path[480];
  snprintf(path, sizeof path, "%s/%s", n->dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL) return QP_EIO;
  bool ok = fwrite(data, 1, len, f) == len;
  return fclose(f) == 0 && ok ? 0 : QP_EIO;
}

/* Runs `quipu keys create` in the node's home and keeps the key it prints. */
static int make_key(const char *quipu, const char *scopes, qb_node_t *n) {
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
    execl(quipu, quipu, "keys", "create", "--data", n->dir, "--name", "bench", "--scope",
          scopes, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char key[128] = "";
  ssize_t got = pid > 0 ? read(fds[0], key, sizeof key - 1) : -1;
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "%s: `quipu keys create` failed\n", n->who);
    return QP_EIO;
  }
  key[got] = '\0';
  key[strcspn(key, "\r\n")] = '\0';
  snprintf(n->auth, sizeof n->auth, "Authorization: Bearer %s", key);
  return 0;
}

static pid_t spawn_node(const char *quipu, const qb_node_t *n) {
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

static void log_tail(const qb_node_t *n) {
  char path[460], line[512];
  snprintf(path, sizeof path, "%s/node.log", n->dir);
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  fprintf(stderr, "%s: last lines of %s:\n", n->who, path);
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
  fseek(f, size > 3000 ? size - 3000 : 0, SEEK_SET);
  while (fgets(line, sizeof line, f) != NULL) fprintf(stderr, "  %s", line);
  fclose(f);
}

static size_t discard(char *p, size_t size, size_t count, void *ctx) {
  (void)p, (void)ctx;
  return size * count;
}

/* Polls /healthz until 200, the node exits, or the timeout. */
static int wait_ready(qb_node_t *n) {
  CURL *e = curl_easy_init();
  char url[96];
  snprintf(url, sizeof url, "%s/healthz", n->url);
  uint64_t t0 = qp_clock_mono_ns();
  int rc = e != NULL ? QP_EIO : QP_ENOMEM;
  if (e != NULL) {
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
  }
  while (e != NULL && qp_clock_mono_ns() - t0 < READY_TIMEOUT_NS) {
    long code = 0;
    if (curl_easy_perform(e) == CURLE_OK &&
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
      rc = 0;
    int status = 0;
    if (rc == 0 || waitpid(n->pid, &status, WNOHANG) == n->pid) break;
    usleep(20000);
  }
  curl_easy_cleanup(e);
  return rc;
}

int qb_node_launch(const char *quipu, const char *scopes, qb_node_t *n) {
  int rc = make_key(quipu, scopes, n);
  if (rc == 0) {
    n->pid = spawn_node(quipu, n);
    rc = n->pid > 0 ? wait_ready(n) : QP_EIO;
  }
  if (rc != 0) {
    fprintf(stderr, "%s: the node did not come up (%s)\n", n->who, n->dir);
    log_tail(n);
  }
  return rc;
}

int qb_node_stop(qb_node_t *n, bool keep) {
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
  if (keep) fprintf(stderr, "%s: kept %s\n", n->who, n->dir);
  else if (n->dir[0] != '\0') qb_remove_tree(n->dir);
  return rc;
}

double qb_node_cpu_s(const qb_node_t *n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)n->pid);
  return qb_proc_stat_cpu_s(path);
}

static size_t on_body(char *p, size_t size, size_t count, void *ctx) {
  return qp_buf_append(ctx, p, size * count) ? size * count : 0;
}

int qb_node_request(void *e, const qb_node_t *n, const char *method, const char *path,
                    const char *content_type, const char *body, size_t len, size_t max,
                    long timeout_ms, char **out, long *code) {
  char url[256], type[96];
  qp_buf_t got = {.max = max};
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
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  int rc = curl_easy_perform(e) == CURLE_OK ? 0 : QP_EIO;
  if (rc == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
  if (rc == 0 && got.failed) rc = QP_ENOMEM; /* out of memory or past max */
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

int qb_node_call(void *e, const qb_node_t *n, const char *method, const char *path,
                 json_t *body, json_t **out, long *code) {
  char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL, *raw = NULL;
  int rc = qb_node_request(e, n, method, path, "application/json", text,
                           text != NULL ? strlen(text) : 0, QB_NODE_BODY_MAX, 30000L, &raw, code);
  *out = rc == 0 && raw[0] != '\0' ? json_loads(raw, 0, NULL) : NULL;
  free(text); /* jansson's allocation */
  qp_free(raw);
  return rc;
}

/* POST path with body (stolen); every entry of "results" must be "ok". */
int qb_node_post_events(void *e, const qb_node_t *n, const char *path, json_t *body) {
  json_t *out = NULL;
  long code = 0;
  size_t want = json_array_size(body);
  int rc = qb_node_call(e, n, "POST", path, body, &out, &code);
  json_t *results = json_object_get(out, "results");
  size_t i = 0;
  while (rc == 0 && code == 200 && i < json_array_size(results)) {
    const char *r = json_string_value(json_object_get(json_array_get(results, i), "result"));
    if (r == NULL || strcmp(r, "ok") != 0) break;
    i++;
  }
  if (rc == 0 && (code != 200 || i != want || json_array_size(results) != want)) {
    char *text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
    fprintf(stderr, "%s: POST %s: HTTP %ld, event %zu: %.300s\n", n->who, path, code, i,
            text != NULL ? text : "");
    free(text); /* jansson's allocation */
    rc = QP_EIO;
  }
  json_decref(out);
  json_decref(body);
  return rc;
}
