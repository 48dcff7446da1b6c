/*
 * cmd_chain_up.c - `quipu chain up --dir DIR`: runs the local network that
 * `quipu chain init` wrote, one `quipu node --home DIR/nodeK` child per
 * nodeK directory holding a node.json, started from this very binary
 * (/proc/self/exe) so that the nodes run the code that started them.
 *
 * Each child gets its own process group, so a Ctrl-C in the terminal
 * reaches this supervisor only, which then stops the nodes in order with
 * SIGTERM (the node's clean stop) and waits for them; a second signal
 * kills the ones still running.  A child also gets PR_SET_PDEATHSIG, so
 * the nodes do not outlive a supervisor killed with SIGKILL.  Their logs go
 * to DIR/nodeK/node.log, not the terminal, where four interleaved logs
 * would hide the supervisor's own lines.
 *
 * If a node dies on its own the supervisor says which and how (exit status
 * or signal, and the tail of its log), stops the others and exits 1.  Exit
 * 0 when the nodes all stopped cleanly after SIGINT/SIGTERM, 1 otherwise,
 * 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "chain/chain.h"
#include "cli/chain_http.h"
#include "cli/cli.h"

#define UP_PROG "quipu chain up"
#define UP_NODES_MAX QP_CHAIN_VALIDATORS_MAX
#define UP_PATH_MAX 4096u
#define UP_TICK_MS 200L            /* between two rounds of health probes and reaping */
#define UP_PROBE_MS 500L           /* one /healthz probe's timeout */
#define UP_STOP_GRACE_S 60u        /* after SIGTERM, before SIGKILL */
#define UP_LOG_TAIL_BYTES 2048     /* of a dead node's log, shown */

static const char USAGE[] =
    "usage: quipu chain up --dir DIR\n"
    "\n"
    "Starts `quipu node --home DIR/nodeK` for every DIR/nodeK with a node.json (what\n"
    "`quipu chain init` writes), prints each node's URL and a line when it answers\n"
    "/healthz; logs go to DIR/nodeK/node.log.  Ctrl-C (SIGINT) or SIGTERM stops them\n"
    "all (SIGTERM each, then wait; a second signal kills them).  If a node dies on\n"
    "its own, says which and stops the others.\n"
    "Exit 0 when all stopped cleanly, 1 otherwise, 2 on a usage error.\n";

typedef struct up_node {
  uint32_t index;                /* K of nodeK */
  char home[UP_PATH_MAX];        /* DIR/nodeK */
  char log[UP_PATH_MAX];         /* DIR/nodeK/node.log */
  char cacert[UP_PATH_MAX];      /* http.tls_cert, to probe https; "" for http */
  char url[QP_CLI_CHAIN_URL_MAX]; /* scheme://host:port from node.json "listen" */
  bool port_known;               /* listen's port is not 0 (then it cannot be probed) */
  pid_t pid;                     /* the child; 0 once reaped */
  bool healthy;                  /* /healthz answered 200 at least once */
  int wait_status;               /* waitpid's status once reaped */
} up_node_t;

typedef struct up {
  const char *dir;        /* --dir */
  up_node_t *nodes;       /* by ascending index */
  uint32_t count;         /* nodes found */
  uint32_t running;       /* children not yet reaped */
  bool stopping;          /* SIGTERM sent to the children */
  bool unexpected;        /* a child died before we asked it to stop */
  sigset_t signals;       /* SIGINT, SIGTERM, SIGCHLD: blocked, taken by sigtimedwait */
  sigset_t old_mask;      /* restored in the children */
  char exe[UP_PATH_MAX];  /* this binary */
} up_t;

static int parse(int argc, char **argv, up_t *u) {
  static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
    if (c == 'd') u->dir = optarg;
    else if (c == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else {
      fprintf(stderr, UP_PROG ": unknown option\n%s", USAGE);
      return 2;
    }
  }
  if (u->dir == NULL || optind < argc) {
    fprintf(stderr, UP_PROG ": %s\n%s",
            u->dir == NULL ? "--dir DIR is required" : "unexpected argument", USAGE);
    return 2;
  }
  return -1;
}

/* Reads node.json's "listen" (and http.tls_cert) into the node's URL. */
static int read_config(up_node_t *n) {
  char path[UP_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/node.json", n->home);
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  const char *listen = json_string_value(json_object_get(root, "listen"));
  const char *cert =
      json_string_value(json_object_get(json_object_get(root, "http"), "tls_cert"));
  const char *colon = listen != NULL ? strrchr(listen, ':') : NULL;
  if (colon == NULL) {
    fprintf(stderr, UP_PROG ": %s: %s\n", path,
            root == NULL ? jerr.text : "no \"listen\": \"host:port\"");
    json_decref(root);
    return QP_EPARSE;
  }
  const char *host = listen;
  int host_len = (int)(colon - listen);
  if (strncmp(listen, "0.0.0.0:", 8) == 0 || strncmp(listen, "[::]:", 5) == 0) {
    host = listen[0] == '[' ? "[::1]" : "127.0.0.1"; /* a wildcard: probe loopback */
    host_len = (int)strlen(host);
  }
  int a = cert == NULL ? 0
          : cert[0] == '/' ? snprintf(n->cacert, sizeof n->cacert, "%s", cert)
                           : snprintf(n->cacert, sizeof n->cacert, "%s/%s", n->home, cert);
  int b = snprintf(n->url, sizeof n->url, "%s://%.*s%s", cert != NULL ? "https" : "http",
                   host_len, host, colon);
  if (a < 0 || b < 0 || (size_t)a >= sizeof n->cacert || (size_t)b >= sizeof n->url) {
    fprintf(stderr, UP_PROG ": %s: listen or http.tls_cert is too long\n", path);
    json_decref(root);
    return QP_ELIMIT;
  }
  n->port_known = strcmp(colon, ":0") != 0;
  json_decref(root);
  return 0;
}

/* Whether name is "node<K>" (K decimal, no leading zero), and K. */
static bool node_name(const char *name, uint32_t *index) {
  if (strncmp(name, "node", 4) != 0 || name[4] < '0' || name[4] > '9') return false;
  if (name[4] == '0' && name[5] != '\0') return false;
  char *end = NULL;
  unsigned long k = strtoul(name + 4, &end, 10);
  if (*end != '\0' || k >= 1000000) return false;
  *index = (uint32_t)k;
  return true;
}

static int by_index(const void *a, const void *b) {
  uint32_t x = ((const up_node_t *)a)->index, y = ((const up_node_t *)b)->index;
  return x < y ? -1 : x > y;
}

/* Finds DIR/nodeK directories with a node.json, in index order. */
static int scan(up_t *u) {
  DIR *d = opendir(u->dir);
  if (d == NULL) {
    fprintf(stderr, UP_PROG ": cannot open %s: %s\n", u->dir, strerror(errno));
    return QP_EIO;
  }
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL && rc == 0) {
    uint32_t index;
    struct stat st;
    char config[UP_PATH_MAX + 300];
    snprintf(config, sizeof config, "%s/%s/node.json", u->dir, e->d_name);
    if (!node_name(e->d_name, &index) || stat(config, &st) != 0) continue;
    if (u->count == UP_NODES_MAX) {
      fprintf(stderr, UP_PROG ": more than %u node directories in %s\n", UP_NODES_MAX, u->dir);
      rc = QP_ELIMIT;
      break;
    }
    up_node_t *n = &u->nodes[u->count++];
    n->index = index;
    int a = snprintf(n->home, sizeof n->home, "%s/%s", u->dir, e->d_name);
    int b = snprintf(n->log, sizeof n->log, "%s/node.log", n->home);
    if (a < 0 || b < 0 || (size_t)b >= sizeof n->log) {
      fprintf(stderr, UP_PROG ": %s: the path is too long\n", u->dir);
      rc = QP_ELIMIT;
    }
    if (rc == 0) rc = read_config(n);
  }
  closedir(d);
  if (rc == 0 && u->count == 0) {
    fprintf(stderr, UP_PROG ": no DIR/nodeK/node.json in %s (run `quipu chain init` first)\n",
            u->dir);
    rc = QP_ENOTFOUND;
  }
  qsort(u->nodes, u->count, sizeof *u->nodes, by_index);
  return rc;
}

/* In the child: its own process group, dies with the supervisor, output
 * to the log, the signal mask it would have had; then the node. */
static void exec_node(const up_t *u, const up_node_t *n, pid_t parent, int log_fd) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127); /* the supervisor died before prctl */
  if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0) _exit(127);
  close(log_fd);
  sigprocmask(SIG_SETMASK, &u->old_mask, NULL);
  char *argv[] = {"quipu", "node", "--home", (char *)n->home, NULL};
  execv(u->exe, argv);
  fprintf(stderr, UP_PROG ": cannot run %s: %s\n", u->exe, strerror(errno));
  _exit(127);
}

static int start_node(up_t *u, up_node_t *n) {
  int log_fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    fprintf(stderr, UP_PROG ": cannot open %s: %s\n", n->log, strerror(errno));
    return QP_EIO;
  }
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) exec_node(u, n, parent, log_fd);
  close(log_fd);
  if (pid < 0) {
    fprintf(stderr, UP_PROG ": cannot start node%u: %s\n", n->index, strerror(errno));
    return QP_EIO;
  }
  n->pid = pid;
  u->running++;
  printf("node%u  %s  pid %d  log %s\n", n->index, n->port_known ? n->url : "(port 0: see log)",
         (int)pid, n->log);
  fflush(stdout);
  return 0;
}

/* Prints the last lines of a dead node's log. */
static void print_log_tail(const up_node_t *n) {
  FILE *f = fopen(n->log, "r");
  if (f == NULL) return;
  char text[UP_LOG_TAIL_BYTES + 1];
  if (fseek(f, -UP_LOG_TAIL_BYTES, SEEK_END) != 0) rewind(f);
  size_t len = fread(text, 1, UP_LOG_TAIL_BYTES, f);
  fclose(f);
  text[len] = '\0';
  const char *start = text;
  for (int lines = 0, i = (int)len - 2; i >= 0; i--)
    if (text[i] == '\n' && ++lines == 5) {
      start = text + i + 1;
      break;
    }
  fprintf(stderr, "  last lines of %s:\n", n->log);
  for (const char *p = start; *p != '\0';) {
    const char *nl = strchr(p, '\n');
    int line_len = nl != NULL ? (int)(nl - p) : (int)strlen(p);
    fprintf(stderr, "    %.*s\n", line_len, p);
    p += line_len + (nl != NULL);
  }
}

/* How a child ended, for humans. */
static void describe_exit(const up_node_t *n, char *out, size_t size) {
  int s = n->wait_status;
  if (WIFEXITED(s)) snprintf(out, size, "exited with status %d", WEXITSTATUS(s));
  else if (WIFSIGNALED(s))
    snprintf(out, size, "was killed by signal %d (%s)", WTERMSIG(s), strsignal(WTERMSIG(s)));
  else snprintf(out, size, "ended with wait status %d", s);
}

/* Reaps every child that ended; one ending before the stop is reported. */
static void reap(up_t *u) {
  for (uint32_t i = 0; i < u->count; i++) {
    up_node_t *n = &u->nodes[i];
    if (n->pid == 0 || waitpid(n->pid, &n->wait_status, WNOHANG) != n->pid) continue;
    char how[128];
    describe_exit(n, how, sizeof how);
    if (!u->stopping) {
      fprintf(stderr, UP_PROG ": node%u (pid %d) %s unexpectedly; stopping the others\n",
              n->index, (int)n->pid, how);
      print_log_tail(n);
      u->unexpected = true;
    } else if (!WIFEXITED(n->wait_status) || WEXITSTATUS(n->wait_status) != 0) {
      fprintf(stderr, UP_PROG ": node%u %s while stopping (see %s)\n", n->index, how, n->log);
    } else {
      printf("node%u stopped\n", n->index);
    }
    n->pid = 0;
    u->running--;
  }
}

static void signal_all(up_t *u, int sig) {
  for (uint32_t i = 0; i < u->count; i++)
    if (u->nodes[i].pid != 0) kill(u->nodes[i].pid, sig);
}

/* Waits up to ms for one of the blocked signals; returns it, or 0. */
static int wait_signal(const up_t *u, long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  int sig = sigtimedwait(&u->signals, NULL, &ts);
  return sig > 0 ? sig : 0;
}

/* SIGTERM to every node, then waits for them (a second signal, or the
 * grace period passing, sends SIGKILL). */
static void stop_all(up_t *u) {
  u->stopping = true;
  printf("stopping %u node%s\n", u->running, u->running == 1 ? "" : "s");
  fflush(stdout);
  signal_all(u, SIGTERM);
  uint64_t deadline = qp_clock_mono_ns() + UP_STOP_GRACE_S * QP_NS_PER_S;
  bool killed = false;
  while (u->running > 0) {
    int sig = wait_signal(u, UP_TICK_MS);
    bool late = qp_clock_mono_ns() > deadline;
    if (!killed && (sig == SIGINT || sig == SIGTERM || late)) {
      fprintf(stderr, UP_PROG ": %s: killing the nodes still running\n",
              late ? "they did not stop in time" : "second signal");
      signal_all(u, SIGKILL);
      killed = true;
    }
    reap(u);
  }
}

/* One round of /healthz probes for the nodes not yet seen healthy. */
static void probe(up_t *u, qp_cli_chain_http_t *h) {
  for (uint32_t i = 0; i < u->count; i++) {
    up_node_t *n = &u->nodes[i];
    if (n->healthy || n->pid == 0 || !n->port_known) continue;
    if (qp_cli_chain_http_init(h, n->url) != 0) {
      qp_cli_chain_http_deinit(h);
      continue;
    }
    h->cacert = n->cacert[0] != '\0' ? n->cacert : NULL;
    if (qp_cli_chain_http_request(h, "GET", "/healthz", NULL, 0, UP_PROBE_MS) == 0 &&
        h->status == 200) {
      n->healthy = true;
      printf("node%u up: %s/healthz answered\n", n->index, n->url);
      fflush(stdout);
    }
    qp_cli_chain_http_deinit(h);
  }
}

/* Supervises until a signal or a death; then stops every node. */
static void supervise(up_t *u) {
  qp_cli_chain_http_t h;
  bool announced = false;
  while (!u->unexpected) {
    int sig = wait_signal(u, UP_TICK_MS);
    if (sig == SIGINT || sig == SIGTERM) break;
    reap(u);
    if (u->unexpected) break;
    probe(u, &h);
    uint32_t healthy = 0;
    for (uint32_t i = 0; i < u->count; i++) healthy += u->nodes[i].healthy;
    if (!announced && healthy == u->count) {
      printf("all %u nodes up; Ctrl-C stops them\n", u->count);
      fflush(stdout);
      announced = true;
    }
  }
  stop_all(u);
}

/* Whether every node ended with exit status 0 after being asked to. */
static bool all_clean(const up_t *u) {
  for (uint32_t i = 0; i < u->count; i++) {
    int s = u->nodes[i].wait_status;
    if (!WIFEXITED(s) || WEXITSTATUS(s) != 0) return false;
  }
  return !u->unexpected;
}

int qp_cmd_chain_up(int argc, char **argv) {
  static up_node_t nodes[UP_NODES_MAX]; /* 20 KB each: static, not on the stack */
  up_t u = {.nodes = nodes};
  int code = parse(argc, argv, &u);
  if (code >= 0) return code;
  ssize_t len = readlink("/proc/self/exe", u.exe, sizeof u.exe - 1);
  if (len <= 0) {
    fprintf(stderr, UP_PROG ": cannot find this binary (/proc/self/exe): %s\n", strerror(errno));
    return 1;
  }
  u.exe[len] = '\0';
  if (scan(&u) != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
  sigemptyset(&u.signals);
  sigaddset(&u.signals, SIGINT);
  sigaddset(&u.signals, SIGTERM);
  sigaddset(&u.signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &u.signals, &u.old_mask);
  int rc = 0;
  for (uint32_t i = 0; i < u.count && rc == 0; i++) rc = start_node(&u, &u.nodes[i]);
  if (rc == 0) supervise(&u);
  else stop_all(&u);
  sigprocmask(SIG_SETMASK, &u.old_mask, NULL);
  curl_global_cleanup();
  return rc == 0 && all_clean(&u) ? 0 : 1;
}
