/*
 * demo_env.h - the processes a demo runs on loopback (`quipu demo
 * supply-chain`): a local chain network (`quipu chain init` + `chain up`)
 * and a ledger (`quipu serve --insecure-no-auth`), on free ports, in a
 * directory of their own; children of this very binary that die with it.
 */
#ifndef QP_CLI_DEMO_ENV_H
#define QP_CLI_DEMO_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define QP_DEMO_PATH_MAX 1024u

/* The caller allocates (zeroed); start/stop pair. */
typedef struct qp_demo_env {
  char dir[QP_DEMO_PATH_MAX];      /* everything the demo writes */
  bool temp;                       /* dir was made here: removed by stop */
  uint32_t base_port;              /* node i: HTTP base+2i, peers base+2i+1 */
  char chain_url[64];              /* node0's HTTP URL */
  char ledger_url[64];             /* the ledger's */
  char exe[QP_DEMO_PATH_MAX];      /* this binary (/proc/self/exe) */
  pid_t chain_pid;                 /* `quipu chain up`, 0 when not running */
  pid_t ledger_pid;                /* `quipu serve`, 0 when not running */
} qp_demo_env_t;

/* Makes the directory (dir_flag, or a new temp dir), initialises a
 * network of `validators` and starts it and a ledger, and waits until
 * every node and the ledger answer /healthz.  Returns 0, or QP_EIO with
 * the reason on stderr (what started is stopped by qp_demo_env_stop). */
int qp_demo_env_start(qp_demo_env_t *e, const char *dir_flag, uint32_t validators);

/* Stops what started (SIGTERM, then waits; SIGKILL after 30 s) and removes
 * a temp dir when keep is false.  Returns 0 when everything stopped
 * cleanly. */
int qp_demo_env_stop(qp_demo_env_t *e, bool keep);

/* Runs this binary with argv (argv[0] is "quipu") to completion, stdout
 * and stderr to log_path (NULL: the demo's own); returns its exit code, or
 * -1 when it could not run or died of a signal. */
int qp_demo_env_run(const qp_demo_env_t *e, char *const argv[], const char *log_path);

#endif
