/*
 * common.c - helpers shared by the subcommands.  For now: where the data
 * directory is, resolved the same way by every command (DESIGN.md section 3)
 * so that `quipu serve`, `quipu keys` and `quipu verify` agree without flags.
 */
#include <stdlib.h>

#include "cli/cli.h"

#define QP_CLI_DATA_DIR_DEFAULT "./quipu-data"

/* The flag wins, then $QUIPU_DATA, then the default.  Empty strings count as
 * unset.  The returned string is the flag itself, the environment's storage
 * or a literal: never freed by the caller. */
const char *qp_cli_data_dir(const char *flag_value) {
  if (flag_value != NULL && flag_value[0] != '\0') return flag_value;
  const char *env = getenv("QUIPU_DATA");
  if (env != NULL && env[0] != '\0') return env;
  return QP_CLI_DATA_DIR_DEFAULT;
}
