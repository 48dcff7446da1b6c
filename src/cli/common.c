/*
 * common.c - helpers shared by the subcommands: where the data directory
 * is, resolved the same way by every command (DESIGN.md section 3) so that
 * `quipu serve`, `quipu keys` and `quipu verify` agree without flags, and
 * printing a summary as one JSON line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
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

int qp_cli_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
  if (text == NULL || *text < '0' || *text > '9') return QP_EPARSE;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (*end != '\0') return QP_EPARSE;
  if (errno != 0 || v < min || v > max) return QP_ERANGE;
  *out = (uint64_t)v;
  return 0;
}

void qp_cli_print_json(json_t *o) {
  char text[8192];
  size_t n = o != NULL ? json_dumpb(o, text, sizeof text, JSON_COMPACT) : 0;
  if (n > 0 && n < sizeof text) printf("%.*s\n", (int)n, text);
  else printf("{\"error\": \"the summary does not fit\"}\n");
  json_decref(o);
}
