/*
 * demo_env.c - the demo's own network and ledger (demo_env.h).  Ports: a
 * random base in [20000, 60000) whose 2N+1 ports all bind right now on
 * 127.0.0.1 (the N nodes' HTTP and peer ports, then the ledger's); a race
 * with another program remains possible, so a failure says which port.
 * Every child gets PR_SET_PDEATHSIG, so a demo killed with SIGKILL does
 * not leave a network behind.
 */
#include "cli/demo_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/rng.h"
#include "cli/chain_http.h"

#define ENV_PORT_TRIES 64
#define ENV_HEALTH_MS 60000L /* for every process to answer /healthz */
#define ENV_STOP_S 30        /* after SIGTERM, before SIGKILL */

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Whether 127.0.0.1:port can be bound now. */
static bool port_free(uint32_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static int pick_ports(qp_demo_env_t *e, uint32_t count) {
  qp_rng_t rng;
  qp_rng_seed(&rng, qp_clock_wall_ns() ^ (uint64_t)getpid());
  for (int t = 0; t < ENV_PORT_TRIES; t++) {
    uint32_t base = 20000u + (uint32_t)(qp_rng_next(&rng) % 40000u);
    uint32_t k = 0;
    while (k < count && port_free(base + k)) k++;
    if (k == count) {
      e->base_port = base;
      return 0;
    }
  }
  fprintf(stderr, "quipu demo: no %u free consecutive ports on 127.0.0.1\n", count);
  return QP_EIO;
}

/* Forks this binary with argv; output to log_path (appended) or ours. */
static pid_t spawn(const qp_demo_env_t *e, char *const argv[], const char *log_path) {
  int fd = log_path != NULL ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                            : -1;
  if (log_path != NULL && fd < 0) {
    fprintf(stderr, "quipu demo: cannot open %s: %s\n", log_path, strerror(errno));
    return -1;
  }
  fflush(NULL);
  pid_t parent = getpid(), pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    if (fd >= 0 && (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)) _exit(127);
    execv(e->exe, argv);
    fprintf(stderr, "quipu demo: cannot run %s: %s\n", e->exe, strerror(errno));
    _exit(127);
  }
  if (fd >= 0) close(fd);
  if (pid < 0) fprintf(stderr, "quipu demo: fork: %s\n", strerror(errno));
  return pid;
}

int qp_demo_env_run(const qp_demo_env_t *e, char *const argv[], const char *log_path) {
  pid_t pid = spawn(e, argv, log_path);
  int status = 0;
  if (pid < 0) return -1;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Polls url/healthz until 200 or the deadline; false if pid died. */
static bool healthy(const char *url, pid_t pid, uint64_t deadline_ns) {
  qp_cli_chain_http_t h;
  bool ok = false;
  if (qp_cli_chain_http_init(&h, url) != 0) return false;
  while (!ok && qp_clock_mono_ns() < deadline_ns && waitpid(pid, NULL, WNOHANG) == 0) {
    ok = qp_cli_chain_http_request(&h, "GET", "/healthz", NULL, 0, 1000) == 0 &&
         h.status == 200;
    if (!ok) sleep_ms(100);
  }
  qp_cli_chain_http_deinit(&h);
  return ok;
}

/* Makes the directory: the one given (created if missing) or a temp one. */
static int make_dir(qp_demo_env_t *e, const char *dir_flag) {
  if (dir_flag != NULL) {
    snprintf(e->dir, sizeof e->dir, "%s", dir_flag);
    if (mkdir(e->dir, 0700) != 0 && errno != EEXIST) {
      fprintf(stderr, "quipu demo: cannot create %s: %s\n", e->dir, strerror(errno));
      return QP_EIO;
    }
    return 0;
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(e->dir, sizeof e->dir, "%s/quipu-demo-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
  if (mkdtemp(e->dir) == NULL) {
    fprintf(stderr, "quipu demo: cannot create a temp dir: %s\n", strerror(errno));
    return QP_EIO;
  }
  e->temp = true;
  return 0;
}

/* chain init + chain up. */
static int start_chain(qp_demo_env_t *e, uint32_t validators) {
  char chain_dir[QP_DEMO_PATH_MAX + 16], count[16], base[16], log[QP_DEMO_PATH_MAX + 32];
  snprintf(chain_dir, sizeof chain_dir, "%s/chain", e->dir);
  snprintf(count, sizeof count, "%u", validators);
  snprintf(base, sizeof base, "%u", e->base_port);
  snprintf(log, sizeof log, "%s/chain-init.log", e->dir);
  char *init[] = {"quipu", "chain", "init", "--validators", count, "--dir", chain_dir,
                  "--base-port", base, "--chain-id", "supply-demo", NULL};
  if (qp_demo_env_run(e, init, log) != 0) {
    fprintf(stderr, "quipu demo: quipu chain init failed (see %s)\n", log);
    return QP_EIO;
  }
  snprintf(log, sizeof log, "%s/chain-up.log", e->dir);
  char *up[] = {"quipu", "chain", "up", "--dir", chain_dir, NULL};
  e->chain_pid = spawn(e, up, log);
  snprintf(e->chain_url, sizeof e->chain_url, "http://127.0.0.1:%u", e->base_port);
  return e->chain_pid > 0 ? 0 : QP_EIO;
}

static int start_ledger(qp_demo_env_t *e, uint32_t port) {
  char data[QP_DEMO_PATH_MAX + 16], listen[32], log[QP_DEMO_PATH_MAX + 32];
  snprintf(data, sizeof data, "%s/ledger", e->dir);
  snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
  snprintf(log, sizeof log, "%s/ledger.log", e->dir);
  char *serve[] = {"quipu", "serve", "--data", data, "--listen", listen, "--insecure-no-auth",
                   NULL};
  e->ledger_pid = spawn(e, serve, log);
  snprintf(e->ledger_url, sizeof e->ledger_url, "http://127.0.0.1:%u", port);
  return e->ledger_pid > 0 ? 0 : QP_EIO;
}

int qp_demo_env_start(qp_demo_env_t *e, const char *dir_flag, uint32_t validators) {
  ssize_t n = readlink("/proc/self/exe", e->exe, sizeof e->exe - 1);
  if (n <= 0) {
    fprintf(stderr, "quipu demo: cannot find this binary (/proc/self/exe)\n");
    return QP_EIO;
  }
  e->exe[n] = '\0';
  int rc = make_dir(e, dir_flag);
  if (rc == 0) rc = pick_ports(e, 2 * validators + 1);
  if (rc == 0) rc = start_chain(e, validators);
  if (rc == 0) rc = start_ledger(e, e->base_port + 2 * validators);
  uint64_t deadline = qp_clock_mono_ns() + (uint64_t)ENV_HEALTH_MS * QP_NS_PER_MS;
  for (uint32_t i = 0; rc == 0 && i < validators; i++) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", e->base_port + 2 * i);
    if (!healthy(url, e->chain_pid, deadline)) {
      fprintf(stderr, "quipu demo: node%u did not come up (see %s/chain-up.log and "
                      "%s/chain/node%u/node.log)\n", i, e->dir, e->dir, i);
      rc = QP_EIO;
    }
  }
  if (rc == 0 && !healthy(e->ledger_url, e->ledger_pid, deadline)) {
    fprintf(stderr, "quipu demo: the ledger did not come up (see %s/ledger.log)\n", e->dir);
    rc = QP_EIO;
  }
  return rc;
}

/* SIGTERM, then wait (SIGKILL after ENV_STOP_S); true when it exited 0. */
static bool stop_one(pid_t *pid) {
  if (*pid <= 0) return true;
  kill(*pid, SIGTERM);
  int status = 0;
  uint64_t deadline = qp_clock_mono_ns() + (uint64_t)ENV_STOP_S * QP_NS_PER_S;
  pid_t got;
  while ((got = waitpid(*pid, &status, WNOHANG)) == 0 && qp_clock_mono_ns() < deadline)
    sleep_ms(50);
  if (got == 0) {
    kill(*pid, SIGKILL);
    waitpid(*pid, &status, 0);
  }
  *pid = 0;
  return got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int qp_demo_env_stop(qp_demo_env_t *e, bool keep) {
  bool ledger_ok = stop_one(&e->ledger_pid);
  bool chain_ok = stop_one(&e->chain_pid);
  if (e->temp && !keep) nftw(e->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return ledger_ok && chain_ok ? 0 : QP_EIO;
}
