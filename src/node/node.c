/*
 * node.c - running a node: lock, open, serve, tick, drain, close.
 *
 * Signals are blocked in every thread (the mask is set before any thread
 * starts, and threads inherit it) and taken synchronously with sigwait()
 * in the main thread, so shutdown runs as ordinary code, not in a handler.
 * The order of shutdown matters: the HTTP server drains first (no new
 * requests; in-flight ones finish, and their modules are still open to
 * finish them), then the timer thread stops, then the modules close in the
 * reverse order of opening, then the lock is released.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "node/node.h"
#include "store/store.h"

#define TICK_GRANULARITY_MS 50u /* the timer thread wakes at least this often */
#define QP_NODE_UV_THREADS "128" /* libuv thread pool: see qp_node_run */

/* A running node. */
typedef struct node {
  const qp_node_config_t *config;          /* borrowed */
  qp_http_options_t http;                  /* copy, listen pointing into config */
  void *states[QP_NODE_MODULES_MAX];       /* each open module's state */
  uint32_t opened;                         /* modules open, in config order */
  uint64_t next_tick_ns[QP_NODE_MODULES_MAX]; /* when each module ticks next */
  qp_http_server_t *server;                /* the one listener */
  int lock_fd;                             /* quipu.lock, or -1 */
  pthread_t ticker;                        /* the timer thread */
  bool ticker_started;                     /* ticker is running */
  pthread_mutex_t mutex;                   /* guards stopping */
  pthread_cond_t cond;                     /* wakes the ticker to stop */
  bool stopping;                           /* the ticker should exit */
} node_t;

/* ------------------------------------------------------------- ticking */

static void tick_due(node_t *n, uint64_t now_ns) {
  for (uint32_t i = 0; i < n->opened; i++) {
    const qp_module_t *m = n->config->modules[i].module;
    if (m->tick == NULL || m->tick_ms == 0 || now_ns < n->next_tick_ns[i]) continue;
    m->tick(n->states[i], now_ns);
    n->next_tick_ns[i] = now_ns + (uint64_t)m->tick_ms * 1000000u;
  }
}

static void *ticker_main(void *arg) {
  node_t *n = arg;
  pthread_mutex_lock(&n->mutex);
  while (!n->stopping) {
    pthread_mutex_unlock(&n->mutex);
    tick_due(n, qp_clock_mono_ns());
    pthread_mutex_lock(&n->mutex);
    struct timespec until;
    qp_clock_deadline_ts(TICK_GRANULARITY_MS, &until);
    if (!n->stopping) pthread_cond_timedwait(&n->cond, &n->mutex, &until);
  }
  pthread_mutex_unlock(&n->mutex);
  return NULL;
}

static int ticker_start(node_t *n) {
  uint64_t now = qp_clock_mono_ns();
  for (uint32_t i = 0; i < n->opened; i++) {
    const qp_module_t *m = n->config->modules[i].module;
    n->next_tick_ns[i] = now + (uint64_t)m->tick_ms * 1000000u;
  }
  if (pthread_create(&n->ticker, NULL, ticker_main, n) != 0) return QP_ENOMEM;
  n->ticker_started = true;
  return 0;
}

static void ticker_stop(node_t *n) {
  if (!n->ticker_started) return;
  pthread_mutex_lock(&n->mutex);
  n->stopping = true;
  pthread_cond_signal(&n->cond);
  pthread_mutex_unlock(&n->mutex);
  pthread_join(n->ticker, NULL);
  n->ticker_started = false;
}

/* ---------------------------------------------------------- open, close */

static void close_modules(node_t *n) {
  while (n->opened > 0) {
    n->opened--;
    const qp_module_t *m = n->config->modules[n->opened].module;
    m->close(n->states[n->opened]);
    QP_LOG_INFO("node", "module %s closed", m->name);
  }
}

static int open_modules(node_t *n) {
  qp_node_env_t env = {.home = n->config->home, .data_dir = n->config->data_dir,
                       .http = &n->http, .server = n->server};
  char detail[768];
  for (uint32_t i = 0; i < n->config->modules_count; i++) {
    const qp_node_module_config_t *mc = &n->config->modules[i];
    detail[0] = '\0';
    int rc = mc->module->open(&env, mc->settings, &n->states[i], detail, sizeof detail);
    if (rc != 0) {
      QP_LOG_ERROR("node", "cannot open module %s: %s%s%s", mc->module->name, qp_strerror(rc),
                   detail[0] ? ": " : "", detail);
      return rc;
    }
    n->opened = i + 1;
    rc = qp_http_server_add(n->server, mc->module->routes(n->states[i]), detail, sizeof detail);
    if (rc != 0) {
      QP_LOG_ERROR("node", "cannot serve module %s: %s", mc->module->name, detail);
      return rc;
    }
  }
  return 0;
}

/* Takes the lock and starts everything; on failure undoes what it did. */
static int node_start(node_t *n) {
  char detail[768] = "";
  int rc = qp_mkdir_p(n->config->data_dir);
  if (rc == 0) rc = qp_lock_acquire(n->config->data_dir, &n->lock_fd, detail, sizeof detail);
  if (rc == 0) rc = qp_http_server_create(n->config->data_dir, &n->http, &n->server, detail,
                                          sizeof detail);
  if (rc != 0) {
    QP_LOG_ERROR("node", "cannot start in %s: %s%s%s", n->config->data_dir, qp_strerror(rc),
                 detail[0] ? ": " : "", detail);
    return rc;
  }
  rc = open_modules(n);
  if (rc == 0) {
    rc = qp_http_server_start(n->server, detail, sizeof detail);
    if (rc != 0) QP_LOG_ERROR("node", "cannot start the HTTP server: %s", detail);
  }
  if (rc == 0) rc = ticker_start(n);
  return rc;
}

static void node_stop(node_t *n) {
  qp_http_server_stop(n->server);
  ticker_stop(n);
  close_modules(n);
  qp_http_server_destroy(n->server);
  n->server = NULL;
  qp_lock_release(n->lock_fd);
  n->lock_fd = -1;
}

static void log_listening(const node_t *n) {
  const char *listen = n->config->listen;
  const char *colon = strrchr(listen, ':');
  char names[256] = "";
  size_t used = 0;
  for (uint32_t i = 0; i < n->opened && used < sizeof names; i++)
    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                             n->config->modules[i].module->name);
  QP_LOG_INFO("node", "listening on %s://%.*s:%u (data %s; modules: %s)",
              qp_http_server_tls(n->server) ? "https" : "http", (int)(colon - listen), listen,
              qp_http_server_port(n->server), n->config->data_dir, names);
}

int qp_node_run(const qp_node_config_t *c) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);
  qp_alloc_tune_process();
  /* libuv's thread pool runs the binary listener's creates, each blocking
   * until its group commit is fsynced (binary_server.c): with libuv's
   * default of 4 threads, at most 4 requests of batch 1 share a commit
   * (2,500 requests/s from 32 connections, against 9,800 with 256 threads;
   * docs/binary.md).  Read once, when the pool first starts; an operator's
   * own setting wins. */
  setenv("UV_THREADPOOL_SIZE", QP_NODE_UV_THREADS, 0);
  qp_log_set_level(c->log_level);
  node_t n = {.config = c, .http = c->http, .lock_fd = -1};
  n.http.listen = c->listen;
  n.http.tls_cert = c->tls_cert[0] != '\0' ? c->tls_cert : NULL;
  n.http.tls_key = c->tls_key[0] != '\0' ? c->tls_key : NULL;
  pthread_mutex_init(&n.mutex, NULL);
  pthread_cond_init(&n.cond, NULL);
  int rc = node_start(&n);
  if (rc == 0) {
    log_listening(&n);
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    QP_LOG_INFO("node", "%s received: draining (no new requests; finishing what is in flight)",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  node_stop(&n);
  pthread_mutex_destroy(&n.mutex);
  pthread_cond_destroy(&n.cond);
  if (rc == 0) QP_LOG_INFO("node", "stopped cleanly");
  return rc == 0 ? 0 : 1;
}
