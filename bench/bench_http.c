/*
 * bench_http.c - quipu over HTTP: the real `quipu serve` binary, started in
 * a fresh data directory on a free loopback port with a real API key, and a
 * C client on libcurl's multi interface (one thread, several keep-alive
 * connections, each carrying one request at a time).
 *
 * The stream is split into one lane per connection by qb_shard_of, so
 * events that must stay ordered share a connection and the outcome is the
 * model's whatever the interleaving (workload.h).  Request bodies are
 * encoded before the clock starts (the client's JSON building is not the
 * server's cost), integers by snprintf, u128 as decimal strings.  Each
 * response's result codes are checked one by one against the workload's
 * expectations; at the end every balance is read back over
 * POST /v1/accounts/lookup and compared with the model.
 *
 * Client and server share the machine's cores: the figures include the
 * client's own CPU (curl, scanning responses) competing with the server.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_int.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"

#define LANES_MAX 256u
#define READY_TIMEOUT_NS (300ull * 1000000000ull) /* a 10M-account restart is slow */
#define RESPONSE_BYTES_MAX (64u << 20)
#define CHUNK_EVENTS_MAX 2000000u                 /* events encoded at a time */
#define EVENT_JSON_MAX 320u                       /* one transfer or account, encoded */

/* ------------------------------------------------------------- server */

typedef struct server {
  pid_t pid;              /* the `quipu serve` process; 0 = not running */
  uint16_t port;          /* loopback port the server chose (0 = not known yet) */
  char dir[512];          /* data directory */
  char log[560];          /* its stderr */
  char url[64];           /* http://127.0.0.1:PORT */
  char auth[160];         /* "Authorization: Bearer <key>" */
} server_t;

/* Runs `quipu keys create` and keeps the key it prints. */
static int make_key(const char *quipu, server_t *s) {
  int fds[2];
  if (pipe(fds) != 0) return QP_EIO;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(quipu, quipu, "keys", "create", "--data", s->dir, "--name", "bench", "--scope",
          "ledger:read,ledger:write", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char key[128] = "";
  ssize_t n = pid > 0 ? read(fds[0], key, sizeof key - 1) : -1;
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "bench: `quipu keys create` failed\n");
    return QP_EIO;
  }
  key[n] = '\0';
  key[strcspn(key, "\r\n")] = '\0';
  snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", key);
  return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p;
  (void)ctx;
  return size * n;
}

/* True once GET /healthz answers 200. */
static bool healthy(const server_t *s) {
  CURL *e = curl_easy_init();
  char url[96];
  snprintf(url, sizeof url, "%s/healthz", s->url);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  long code = 0;
  if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(e);
  return code == 200;
}

static void print_log_tail(const server_t *s) {
  FILE *f = fopen(s->log, "r");
  if (f == NULL) return;
  char line[512];
  fprintf(stderr, "bench: last lines of %s:\n", s->log);
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
  if (size > 4096) fseek(f, size - 4096, SEEK_SET);
  else fseek(f, 0, SEEK_SET);
  while (fgets(line, sizeof line, f) != NULL) fprintf(stderr, "  %s", line);
  fclose(f);
}

/* The port from the newest "listening on http://127.0.0.1:PORT" line of the
 * server's log past `from` (0 = not there yet).  Port 0 makes the server
 * pick a free port itself, so the bench never races another process for
 * one, and never mistakes another server on a recycled port for its own. */
static uint16_t logged_port(const server_t *s, long from) {
  FILE *f = fopen(s->log, "r");
  if (f == NULL) return 0;
  char line[1024];
  uint16_t port = 0;
  if (fseek(f, from, SEEK_SET) == 0) {
    while (fgets(line, sizeof line, f) != NULL) {
      const char *p = strstr(line, "listening on http://127.0.0.1:");
      if (p == NULL) continue;
      unsigned long v = strtoul(p + strlen("listening on http://127.0.0.1:"), NULL, 10);
      if (v > 0 && v < 65536) port = (uint16_t)v;
    }
  }
  fclose(f);
  return port;
}

static long file_size(const char *path) {
  FILE *f = fopen(path, "r");
  long size = 0;
  if (f != NULL && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (f != NULL) fclose(f);
  return size > 0 ? size : 0;
}

/* Starts (or restarts) the server on a port of its choosing; *ready_ns =
 * exec to the first healthy answer. */
static int server_start(const char *quipu, server_t *s, uint64_t *ready_ns) {
  long log_from = file_size(s->log);
  s->port = 0;
  uint64_t t0 = qp_clock_mono_ns();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, STDERR_FILENO);
    execl(quipu, quipu, "serve", "--data", s->dir, "--listen", "127.0.0.1:0", "--log-level", "info",
          (char *)NULL);
    _exit(127);
  }
  if (pid < 0) return QP_EIO;
  s->pid = pid;
  for (;;) {
    if (s->port == 0 && (s->port = logged_port(s, log_from)) != 0)
      snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", s->port);
    if (s->port != 0 && healthy(s)) break;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid || qp_clock_mono_ns() - t0 > READY_TIMEOUT_NS) {
      fprintf(stderr, "bench: `quipu serve` did not become healthy (port %u)\n", s->port);
      print_log_tail(s);
      if (s->pid != 0 && waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
      s->pid = 0;
      return QP_EIO;
    }
    usleep(2000);
  }
  *ready_ns = qp_clock_mono_ns() - t0;
  return 0;
}

/* SIGTERM and wait: the server drains and closes the ledger cleanly. */
static int server_stop(server_t *s) {
  if (s->pid == 0) return 0;
  kill(s->pid, SIGTERM);
  int status = 0;
  pid_t r;
  while ((r = waitpid(s->pid, &status, 0)) < 0 && errno == EINTR) {
  }
  s->pid = 0;
  if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "bench: `quipu serve` did not stop cleanly (status %d)\n", status);
    return QP_EIO;
  }
  return 0;
}

/* ------------------------------------------------------------ encoding */

static size_t put_u128(char *p, const char *key, qp_u128 v) {
  char num[QP_U128_BUF_SIZE];
  qp_u128_format(v, num);
  return (size_t)snprintf(p, EVENT_JSON_MAX, ",\"%s\":\"%s\"", key, num);
}

/* One transfer as a JSON object (only the fields that are not zero, which
 * the API defaults to zero); returns bytes written (< EVENT_JSON_MAX). */
static size_t encode_transfer(char *p, const qp_transfer_t *t) {
  char id[QP_U128_BUF_SIZE];
  qp_u128_format(t->id, id);
  size_t n = (size_t)snprintf(p, EVENT_JSON_MAX, "{\"id\":\"%s\"", id);
  if (t->debit_account_id) n += put_u128(p + n, "debit_account_id", t->debit_account_id);
  if (t->credit_account_id) n += put_u128(p + n, "credit_account_id", t->credit_account_id);
  if (t->amount) n += put_u128(p + n, "amount", t->amount);
  if (t->pending_id) n += put_u128(p + n, "pending_id", t->pending_id);
  if (t->ledger) n += (size_t)snprintf(p + n, EVENT_JSON_MAX - n, ",\"ledger\":%u", t->ledger);
  if (t->code) n += (size_t)snprintf(p + n, EVENT_JSON_MAX - n, ",\"code\":%u", t->code);
  const char *flag = (t->flags & QP_TRANSFER_PENDING) ? "pending"
                     : (t->flags & QP_TRANSFER_POST_PENDING_TRANSFER) ? "post_pending_transfer"
                     : (t->flags & QP_TRANSFER_VOID_PENDING_TRANSFER) ? "void_pending_transfer"
                                                                       : NULL;
  if (flag) n += (size_t)snprintf(p + n, EVENT_JSON_MAX - n, ",\"flags\":[\"%s\"]", flag);
  n += (size_t)snprintf(p + n, EVENT_JSON_MAX - n, "}");
  return n;
}

static size_t encode_account(char *p, const qp_account_t *a) {
  char id[QP_U128_BUF_SIZE];
  qp_u128_format(a->id, id);
  /* user_data_32 = id % 10000 + 1: what the query bench selects by. */
  unsigned ud32 = (unsigned)(a->id % 10000u) + 1u;
  return (size_t)snprintf(p, EVENT_JSON_MAX,
                          "{\"id\":\"%s\",\"ledger\":%u,\"code\":%u,\"user_data_32\":%u%s}", id,
                          a->ledger, a->code, ud32,
                          (a->flags & QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS)
                              ? ",\"flags\":[\"debits_must_not_exceed_credits\"]"
                              : "");
}

/* ------------------------------------------------------------- client */

/* One request: a body and the events (indexes into the chunk) it carries. */
typedef struct job {
  size_t body_off;     /* into the chunk's text */
  size_t body_len;     /* bytes */
  const uint32_t *idx; /* the events, in body order */
  uint32_t count;      /* events in this request */
} job_t;

typedef struct lane {
  CURL *easy;          /* its connection (kept alive by the multi handle's cache) */
  job_t *jobs;         /* this lane's requests, in order */
  uint32_t jobs_count; /* how many */
  uint32_t next;       /* next to send */
  uint64_t sent_ns;    /* when the current request started */
  qp_buf_t resp;       /* response body, at most RESPONSE_BYTES_MAX */
} lane_t;

/* A chunk of events: encoded, split into lanes and jobs. */
typedef struct chunk {
  bool accounts;          /* events are accounts (else transfers) */
  uint32_t count;         /* events */
  const uint32_t *expect; /* expected result per event */
  char *text;             /* all bodies, back to back */
  uint32_t *idx;          /* events grouped by lane */
  job_t *jobs;            /* all jobs, grouped by lane */
  uint32_t jobs_count;    /* how many */
} chunk_t;

typedef struct client {
  CURLM *multi;                 /* the engine */
  struct curl_slist *headers;   /* content type, auth, no Expect */
  char url_transfers[96];       /* POST targets */
  char url_accounts[96];
  lane_t lanes[LANES_MAX];      /* one per connection */
  uint32_t lanes_count;         /* used */
  uint64_t *lat_ns;             /* request latencies (NULL = not kept) */
  uint64_t lat_count;           /* used */
  uint64_t lat_cap;             /* allocated */
  qb_result_counts_t counts;    /* results against expectations */
  int rc;                       /* first failure */
} client_t;

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
  lane_t *l = ctx;
  return qp_buf_append(&l->resp, p, size * n) ? size * n : 0;
}

static uint32_t code_of(bool accounts, const char *name, size_t len) {
  uint32_t n = accounts ? QP_CREATE_ACCOUNT_RESULT_COUNT : QP_CREATE_TRANSFER_RESULT_COUNT;
  for (uint32_t c = 0; c < n; c++) {
    const char *s = accounts ? qp_create_account_result_name(c) : qp_create_transfer_result_name(c);
    if (s != NULL && strlen(s) == len && memcmp(s, name, len) == 0) return c;
  }
  return UINT32_MAX;
}

/* Scans {"results":[{"index":i,"id":"…","result":"…"},…]} in order. */
static int check_response(client_t *c, const chunk_t *ch, const job_t *job, const char *body) {
  const char *p = body;
  for (uint32_t i = 0; i < job->count; i++) {
    p = strstr(p, "\"result\"");
    if (p == NULL) return QP_ECORRUPT;
    p += 8;
    while (*p == ' ' || *p == ':') p++;
    if (*p++ != '"') return QP_ECORRUPT;
    const char *end = strchr(p, '"');
    if (end == NULL) return QP_ECORRUPT;
    uint32_t got = code_of(ch->accounts, p, (size_t)(end - p));
    qb_count_result(&c->counts, got, ch->expect[job->idx[i]]);
    p = end + 1;
  }
  return strstr(p, "\"result\"") == NULL ? 0 : QP_ECORRUPT;
}

static int lane_send(client_t *c, const chunk_t *ch, lane_t *l) {
  const job_t *job = &l->jobs[l->next];
  curl_easy_setopt(l->easy, CURLOPT_URL, ch->accounts ? c->url_accounts : c->url_transfers);
  curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, ch->text + job->body_off);
  curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->body_len);
  qp_buf_reset(&l->resp);
  l->sent_ns = qp_clock_mono_ns();
  return curl_multi_add_handle(c->multi, l->easy) == CURLM_OK ? 0 : QP_EIO;
}

static void lane_done(client_t *c, const chunk_t *ch, lane_t *l, CURLcode result) {
  uint64_t dt = qp_clock_mono_ns() - l->sent_ns;
  const job_t *job = &l->jobs[l->next++];
  long code = 0;
  curl_easy_getinfo(l->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(c->multi, l->easy);
  if (c->lat_ns != NULL && c->lat_count < c->lat_cap) c->lat_ns[c->lat_count++] = dt;
  if (result != CURLE_OK || code != 200 || l->resp.data == NULL) {
    fprintf(stderr, "bench: HTTP request failed: %s, status %ld: %.300s\n",
            curl_easy_strerror(result), code, l->resp.data ? l->resp.data : "");
    c->rc = QP_EIO;
    return;
  }
  if (check_response(c, ch, job, l->resp.data) != 0) {
    fprintf(stderr, "bench: malformed results in a response: %.300s\n", l->resp.data);
    c->rc = QP_ECORRUPT;
  }
}

/* Sends every job of the chunk, each lane in order; returns the wall time. */
static int client_run(client_t *c, const chunk_t *ch, uint64_t *wall_ns) {
  uint32_t active = 0;
  uint64_t t0 = qp_clock_mono_ns();
  for (uint32_t i = 0; i < c->lanes_count && c->rc == 0; i++)
    if (c->lanes[i].next < c->lanes[i].jobs_count) {
      c->rc = lane_send(c, ch, &c->lanes[i]);
      active++;
    }
  while (active > 0 && c->rc == 0) {
    int running = 0, queued = 0;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &queued)) != NULL) {
      if (m->msg != CURLMSG_DONE) continue;
      lane_t *l = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&l);
      CURLcode result = m->data.result;
      lane_done(c, ch, l, result);
      if (c->rc == 0 && l->next < l->jobs_count) c->rc = lane_send(c, ch, l);
      else active--;
    }
    if (active > 0) curl_multi_poll(c->multi, NULL, 0, 100, NULL);
  }
  *wall_ns = qp_clock_mono_ns() - t0;
  return c->rc;
}

static int client_init(client_t *c, const server_t *s, uint32_t lanes) {
  memset(c, 0, sizeof *c);
  c->multi = curl_multi_init();
  c->headers = curl_slist_append(NULL, "Content-Type: application/json");
  c->headers = curl_slist_append(c->headers, s->auth);
  c->headers = curl_slist_append(c->headers, "Expect:");
  snprintf(c->url_transfers, sizeof c->url_transfers, "%s/v1/transfers", s->url);
  snprintf(c->url_accounts, sizeof c->url_accounts, "%s/v1/accounts", s->url);
  c->lanes_count = lanes < LANES_MAX ? lanes : LANES_MAX;
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->lanes_count);
  for (uint32_t i = 0; i < c->lanes_count; i++) {
    lane_t *l = &c->lanes[i];
    l->resp.max = RESPONSE_BYTES_MAX;
    l->easy = curl_easy_init();
    curl_easy_setopt(l->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(l->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(l->easy, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(l->easy, CURLOPT_PRIVATE, (char *)l);
    curl_easy_setopt(l->easy, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(l->easy, CURLOPT_TCP_NODELAY, 1L);
  }
  return c->multi && c->headers ? 0 : QP_ENOMEM;
}

static void client_deinit(client_t *c) {
  for (uint32_t i = 0; i < c->lanes_count; i++) {
    curl_easy_cleanup(c->lanes[i].easy);
    qp_buf_free(&c->lanes[i].resp);
  }
  curl_slist_free_all(c->headers);
  curl_multi_cleanup(c->multi);
  qp_free(c->lat_ns);
}

/* Groups a chunk's events by lane (shard), cuts each lane into requests of
 * `batch` events and encodes them.  events are qp_account_t or
 * qp_transfer_t; accounts commute, so they go round-robin. */
static int chunk_build(client_t *c, chunk_t *ch, const void *events, uint32_t count,
                       uint32_t batch) {
  uint32_t lanes = c->lanes_count;
  ch->count = count;
  ch->idx = qp_malloc(count * sizeof *ch->idx);
  ch->jobs = qp_malloc(((uint64_t)count / batch + lanes + 1) * sizeof *ch->jobs);
  ch->text = qp_malloc((size_t)count * EVENT_JSON_MAX + 2 * ((size_t)count / batch + lanes + 1));
  uint32_t *lane_of = qp_malloc(count * sizeof *lane_of);
  if (!ch->idx || !ch->jobs || !ch->text || !lane_of) {
    qp_free(lane_of);
    return QP_ENOMEM;
  }
  const qp_transfer_t *tr = events;
  const qp_account_t *ac = events;
  for (uint32_t i = 0; i < count; i++)
    lane_of[i] = ch->accounts ? i % lanes : qb_shard_of(&tr[i], lanes);
  uint32_t used = 0;
  size_t text = 0;
  ch->jobs_count = 0;
  for (uint32_t l = 0; l < lanes; l++) {
    lane_t *lane = &c->lanes[l];
    uint32_t first = used;
    for (uint32_t i = 0; i < count; i++)
      if (lane_of[i] == l) ch->idx[used++] = i;
    lane->jobs = &ch->jobs[ch->jobs_count];
    lane->jobs_count = 0;
    lane->next = 0;
    for (uint32_t off = first; off < used; off += batch) {
      job_t *job = &ch->jobs[ch->jobs_count++];
      job->idx = &ch->idx[off];
      job->count = used - off < batch ? used - off : batch;
      job->body_off = text;
      ch->text[text++] = '[';
      for (uint32_t k = 0; k < job->count; k++) {
        if (k > 0) ch->text[text++] = ',';
        text += ch->accounts ? encode_account(ch->text + text, &ac[job->idx[k]])
                             : encode_transfer(ch->text + text, &tr[job->idx[k]]);
      }
      ch->text[text++] = ']';
      job->body_len = text - job->body_off;
      lane->jobs_count++;
    }
  }
  qp_free(lane_of);
  return 0;
}

static void chunk_free(chunk_t *ch) {
  qp_free(ch->idx);
  qp_free(ch->jobs);
  qp_free(ch->text);
  memset(ch, 0, sizeof *ch);
}

/* ------------------------------------------------------------- phases */

/* Sends `count` workload items (accounts, setup transfers or stream events)
 * in requests of `batch` events, CHUNK_EVENTS_MAX at a time; *busy_ns
 * accumulates the time spent sending (encoding excluded). */
typedef enum { ITEMS_ACCOUNTS, ITEMS_SETUP, ITEMS_STREAM } items_t;

static int send_items(client_t *c, qb_workload_t *w, items_t kind, uint64_t count, uint32_t batch,
                      uint64_t *busy_ns) {
  uint32_t cap = count < CHUNK_EVENTS_MAX ? (uint32_t)count : CHUNK_EVENTS_MAX;
  size_t size = kind == ITEMS_ACCOUNTS ? sizeof(qp_account_t) : sizeof(qp_transfer_t);
  void *ev = qp_malloc((size_t)cap * size);
  uint32_t *expect = qp_calloc(cap, sizeof *expect);
  int rc = ev && expect ? 0 : QP_ENOMEM;
  for (uint64_t done = 0; rc == 0 && done < count;) {
    uint32_t n = count - done < cap ? (uint32_t)(count - done) : cap;
    for (uint32_t i = 0; i < n; i++) {
      if (kind == ITEMS_ACCOUNTS) qb_workload_account(w, done + i + 1, (qp_account_t *)ev + i);
      else if (kind == ITEMS_SETUP)
        qb_workload_setup_transfer(w, done + i, true, (qp_transfer_t *)ev + i);
      else qb_workload_next(w, (qp_transfer_t *)ev + i, &expect[i]);
    }
    chunk_t ch = {.accounts = kind == ITEMS_ACCOUNTS, .expect = expect};
    uint64_t wall = 0;
    rc = chunk_build(c, &ch, ev, n, batch);
    if (rc == 0) rc = client_run(c, &ch, &wall);
    *busy_ns += wall;
    chunk_free(&ch);
    done += n;
  }
  qp_free(ev);
  qp_free(expect);
  return rc;
}

/* Accounts and setup transfers, with their results checked (not timed). */
static int http_setup(client_t *c, qb_workload_t *w) {
  uint64_t busy = 0;
  int rc = send_items(c, w, ITEMS_ACCOUNTS, w->config.accounts, QP_BATCH_EVENTS_MAX, &busy);
  if (rc == 0)
    rc = send_items(c, w, ITEMS_SETUP, qb_workload_setup_count(w), QP_BATCH_EVENTS_MAX, &busy);
  if (rc == 0 && (c->counts.unexpected != 0 || c->counts.failed != 0)) rc = QP_ECORRUPT;
  printf("   setup: %llu accounts and %llu funding transfers in %.2f s over HTTP\n",
         (unsigned long long)w->config.accounts, (unsigned long long)qb_workload_setup_count(w),
         (double)busy / 1e9);
  memset(&c->counts, 0, sizeof c->counts);
  return rc;
}

/* Issue 18: an HTTP figure counts the server's index work too.  Polls
 * GET /v1/audit (every 2 ms, up to 10 min) until index_lag_events is 0;
 * *lag_end gets the first lag seen, *wait_ns the time it took. */
static int http_index_wait(const server_t *s, uint64_t *lag_end, uint64_t *wait_ns) {
  CURL *e = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, s->auth);
  char url[96];
  snprintf(url, sizeof url, "%s/v1/audit", s->url);
  lane_t l = {.resp = {.max = RESPONSE_BYTES_MAX}};
  int rc = e && h ? QP_EAGAIN : QP_ENOMEM;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &l);
  uint64_t t0 = qp_clock_mono_ns();
  for (bool first = true; rc == QP_EAGAIN; first = false) {
    qp_buf_reset(&l.resp);
    long code = 0;
    if (curl_easy_perform(e) != CURLE_OK) rc = QP_EIO;
    else curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    json_t *root = rc == QP_EAGAIN && code == 200 ? json_loadb(l.resp.data, l.resp.len, 0, NULL)
                                                   : NULL;
    const char *v = json_string_value(json_object_get(root, "index_lag_events"));
    qp_u128 lag = 0;
    if (rc == QP_EAGAIN && (v == NULL || qp_u128_parse(v, strlen(v), &lag) != 0)) rc = QP_ECORRUPT;
    json_decref(root);
    if (rc != QP_EAGAIN) break;
    if (first) *lag_end = (uint64_t)lag;
    if (lag == 0) rc = 0;
    else if (qp_clock_mono_ns() - t0 > 600000000000ull) rc = QP_ELIMIT;
    else nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
  }
  *wait_ns = qp_clock_mono_ns() - t0;
  qp_buf_free(&l.resp);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  return rc;
}

/* Reads every account back with POST /v1/accounts/lookup. */
static int http_check(const server_t *s, const qb_workload_t *w, const char *system,
                      qb_report_t *rep) {
  qb_checker_t chk = {.workload = w};
  CURL *e = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, s->auth);
  h = curl_slist_append(h, "Expect:");
  char url[96];
  snprintf(url, sizeof url, "%s/v1/accounts/lookup", s->url);
  lane_t l = {.resp = {.max = RESPONSE_BYTES_MAX}};
  char *body = qp_malloc((size_t)QP_BATCH_EVENTS_MAX * 48 + 32);
  int rc = e && h && body ? 0 : QP_ENOMEM;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &l);
  for (uint64_t next = 1; rc == 0 && next <= w->config.accounts;) {
    size_t n = (size_t)snprintf(body, 32, "{\"ids\":[");
    for (uint32_t k = 0; k < QP_BATCH_EVENTS_MAX && next <= w->config.accounts; k++, next++)
      n += (size_t)snprintf(body + n, 48, "%s\"%llu\"", k ? "," : "", (unsigned long long)next);
    n += (size_t)snprintf(body + n, 8, "]}");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    qp_buf_reset(&l.resp);
    long code = 0;
    if (curl_easy_perform(e) != CURLE_OK) rc = QP_EIO;
    else curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    json_t *root = rc == 0 && code == 200 ? json_loadb(l.resp.data, l.resp.len, 0, NULL) : NULL;
    json_t *arr = json_object_get(root, "accounts");
    if (rc == 0 && !json_is_array(arr)) rc = QP_ECORRUPT;
    for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++) {
      json_t *o = json_array_get(arr, i);
      qp_account_t a;
      memset(&a, 0, sizeof a);
      const char *keys[5] = {"id", "debits_pending", "debits_posted", "credits_pending",
                             "credits_posted"};
      qp_u128 *dst[5] = {&a.id, &a.debits_pending, &a.debits_posted, &a.credits_pending,
                         &a.credits_posted};
      for (int f = 0; rc == 0 && f < 5; f++) {
        const char *v = json_string_value(json_object_get(o, keys[f]));
        if (v == NULL || qp_u128_parse(v, strlen(v), dst[f]) != 0) rc = QP_ECORRUPT;
      }
      if (rc == 0) qb_check_account(&chk, system, &a);
    }
    json_decref(root);
  }
  qp_free(body);
  qp_buf_free(&l.resp);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  return qb_finish_check(rep, system, &chk, rc);
}

static int server_fresh(const qb_config_t *cfg, const char *tag, server_t *s) {
  memset(s, 0, sizeof *s);
  char base[400];
  int rc = qb_make_temp_dir(cfg->tmp_dir, tag, base, sizeof base);
  if (rc != 0) return rc;
  snprintf(s->dir, sizeof s->dir, "%s/data", base);
  snprintf(s->log, sizeof s->log, "%s/serve.log", base);
  uint64_t ready;
  rc = make_key(cfg->quipu, s);
  if (rc == 0) rc = server_start(cfg->quipu, s, &ready);
  return rc;
}

static void server_dispose(server_t *s) {
  server_stop(s);
  char base[512];
  snprintf(base, sizeof base, "%s", s->dir);
  char *slash = strrchr(base, '/');
  if (slash != NULL) {
    *slash = '\0';
    qb_remove_tree(base);
  }
}

static void report_latency(qb_report_t *rep, const char *prefix, client_t *c) {
  char name[96];
  qb_sort_u64(c->lat_ns, c->lat_count);
  snprintf(name, sizeof name, "%s_p50", prefix);
  qb_report_add(rep, name, (double)qb_percentile(c->lat_ns, c->lat_count, 50) / 1e6, "ms", 3);
  snprintf(name, sizeof name, "%s_p99", prefix);
  qb_report_add(rep, name, (double)qb_percentile(c->lat_ns, c->lat_count, 99) / 1e6, "ms", 3);
  c->lat_count = 0;
}

static int keep_latencies(client_t *c, uint64_t n) {
  qp_free(c->lat_ns);
  c->lat_ns = qp_malloc((n + 1) * sizeof *c->lat_ns);
  c->lat_cap = n + 1;
  c->lat_count = 0;
  return c->lat_ns ? 0 : QP_ENOMEM;
}

int qb_run_http(const qb_config_t *cfg, qb_report_t *rep) {
  printf("-- http: quipu serve + libcurl, %llu accounts, zipf; %llu transfers in batches of %u "
         "over %u connections, then %llu single-transfer requests over %u connections\n",
         (unsigned long long)cfg->accounts, (unsigned long long)cfg->http_transfers,
         QP_BATCH_EVENTS_MAX, cfg->http_connections, (unsigned long long)cfg->http1_transfers,
         cfg->http1_connections);
  fflush(stdout);
  qb_workload_config_t wc;
  qb_workload_config_default(&wc);
  wc.accounts = cfg->accounts;
  wc.seed = cfg->seed;
  qb_workload_t w;
  int rc = qb_workload_init(&w, &wc);
  if (rc != 0) return rc;
  server_t s;
  client_t c, c1;
  qb_result_counts_t total = {0};
  rc = server_fresh(cfg, "http", &s);
  if (rc == 0) rc = client_init(&c, &s, cfg->http_connections);
  if (rc == 0) rc = http_setup(&c, &w);
  uint64_t busy = 0;
  if (rc == 0) rc = keep_latencies(&c, cfg->http_transfers / QP_BATCH_EVENTS_MAX + c.lanes_count);
  if (rc == 0)
    rc = send_items(&c, &w, ITEMS_STREAM, cfg->http_transfers, QP_BATCH_EVENTS_MAX, &busy);
  uint64_t lag = 0, wait = 0;
  if (rc == 0) rc = http_index_wait(&s, &lag, &wait);
  busy += wait;
  if (rc == 0) {
    qb_report_add(rep, "http_batch8190_index_lag_end_events", (double)lag, "events", 0);
    qb_report_add(rep, "http_batch8190_index_lag_end_ms", (double)wait / 1e6, "ms", 1);
    qb_report_add(rep, "http_batch8190_transfers_per_s",
                  (double)cfg->http_transfers * 1e9 / (double)busy, "transfers/s", 0);
    report_latency(rep, "http_batch8190_request", &c);
  }
  total = c.counts;
  client_deinit(&c);
  if (rc == 0) rc = client_init(&c1, &s, cfg->http1_connections);
  if (rc == 0) rc = keep_latencies(&c1, cfg->http1_transfers);
  busy = 0;
  if (rc == 0) rc = send_items(&c1, &w, ITEMS_STREAM, cfg->http1_transfers, 1, &busy);
  if (rc == 0) rc = http_index_wait(&s, &lag, &wait);
  busy += wait;
  if (rc == 0) {
    qb_report_add(rep, "http_batch1_index_lag_end_events", (double)lag, "events", 0);
    qb_report_add(rep, "http_batch1_requests_per_s",
                  (double)cfg->http1_transfers * 1e9 / (double)busy, "req/s", 0);
    report_latency(rep, "http_batch1", &c1);
    total.ok += c1.counts.ok;
    total.exists += c1.counts.exists;
    total.failed += c1.counts.failed;
    total.unexpected += c1.counts.unexpected;
  }
  client_deinit(&c1);
  if (rc == 0) rc = qb_check_counts(rep, "http", &total, &w);
  if (rc == 0) rc = http_check(&s, &w, "http", rep);
  if (rc == 0) rc = qb_query_latency(s.url, s.auth, cfg->accounts, "http", rep);
  server_dispose(&s);
  qb_workload_deinit(&w);
  return rc;
}

/* ------------------------------------------------------------ big run */

int qb_run_big(const qb_config_t *cfg, qb_report_t *rep) {
  printf("-- big: quipu serve with %llu accounts and %llu transfers (batches of %u over %u "
         "connections), peak RSS, restart to serving\n",
         (unsigned long long)cfg->big_accounts, (unsigned long long)cfg->big_transfers,
         QP_BATCH_EVENTS_MAX, cfg->http_connections);
  fflush(stdout);
  qb_workload_config_t wc;
  qb_workload_config_default(&wc);
  wc.accounts = cfg->big_accounts;
  wc.seed = cfg->seed;
  qb_workload_t w;
  int rc = qb_workload_init(&w, &wc);
  if (rc != 0) return rc;
  server_t s;
  client_t c;
  uint64_t busy = 0, ready = 0;
  qb_rss_t m;
  rc = server_fresh(cfg, "big", &s);
  if (rc == 0) rc = client_init(&c, &s, cfg->http_connections);
  if (rc == 0) rc = http_setup(&c, &w);
  if (rc == 0 && qb_read_rss_kib(s.pid, &m) == 0) {
    qb_report_add(rep, "big_rss_after_accounts", (double)m.rss_kib / 1024.0, "MiB", 0);
    qb_report_add(rep, "big_rss_anon_after_accounts", (double)m.anon_kib / 1024.0, "MiB", 0);
  }
  if (rc == 0)
    rc = send_items(&c, &w, ITEMS_STREAM, cfg->big_transfers, QP_BATCH_EVENTS_MAX, &busy);
  if (rc == 0) {
    qb_report_add(rep, "big_http_transfers_per_s", (double)cfg->big_transfers * 1e9 / (double)busy,
                  "transfers/s", 0);
    rc = qb_check_counts(rep, "big", &c.counts, &w);
  }
  client_deinit(&c);
  if (rc == 0 && qb_read_rss_kib(s.pid, &m) == 0) {
    qb_report_add(rep, "big_rss_peak", (double)m.hwm_kib / 1024.0, "MiB", 0);
    qb_report_add(rep, "big_rss_anon_end", (double)m.anon_kib / 1024.0, "MiB", 0);
    qb_report_add(rep, "big_rss_file_end", (double)m.file_kib / 1024.0, "MiB", 0);
  }
  if (rc == 0) rc = server_stop(&s);
  if (rc == 0) rc = server_start(cfg->quipu, &s, &ready);
  if (rc == 0) {
    qb_report_add(rep, "big_restart_to_serving", (double)ready / 1e6, "ms", 0);
    if (qb_read_rss_kib(s.pid, &m) == 0) {
      qb_report_add(rep, "big_rss_after_restart", (double)m.hwm_kib / 1024.0, "MiB", 0);
      qb_report_add(rep, "big_rss_anon_after_restart", (double)m.anon_kib / 1024.0, "MiB", 0);
    }
    rc = http_check(&s, &w, "big", rep);
  }
  if (rc == 0) rc = qb_query_latency(s.url, s.auth, cfg->big_accounts, "big", rep);
  server_dispose(&s);
  qb_workload_deinit(&w);
  return rc;
}
