/*
 * chain_send.h - signing and submitting one chain transaction, shared by
 * `quipu chain send` (cmd_chain_send.c) and `quipu chain deploy`
 * (cmd_chain_deploy.c): the node's network and the sender's nonce are
 * asked of the node, the transaction is signed locally, submitted, and
 * with wait its receipt is awaited and printed.
 */
#ifndef QP_CLI_CHAIN_SEND_H
#define QP_CLI_CHAIN_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QP_CLI_LUA_GAS_DEFAULT 1000000u /* --gas of a contract call when not given */

/* What to send.  Strings are borrowed for the call. */
typedef struct qp_cli_chain_send {
  const char *node;     /* --node URL */
  const char *key_path; /* --key FILE */
  const char *app;      /* --app */
  const char *method;   /* --method */
  const char *args;     /* --args: JSON object text (a template with --count) */
  uint64_t nonce;       /* --nonce; 0 = ask the node */
  bool wait;            /* --wait */
  uint32_t timeout_s;   /* --timeout */
  uint32_t count;       /* --count; 0 = one transaction, args as given */
  bool dry_run;         /* --dry-run: print the signed transaction, do not submit */
  const char *contract; /* --contract ADDR: a Lua contract call (method is its function) */
  uint64_t gas;         /* --gas for a contract call */
  const char *code;     /* deploy: the code, whose address is printed first */
  size_t code_len;      /* its bytes */
} qp_cli_chain_send_t;

/* Sends as a says; prog names the command in messages and usage is printed
 * after a usage error.  Returns the exit code: 0 committed ok (without
 * wait: accepted), 1 committed with a failed receipt, 2 refused, not
 * committed in time, unreachable or usage. */
int qp_cli_chain_send_run(const qp_cli_chain_send_t *a, const char *prog_name,
                          const char *usage);

#endif
