/*
 * stubs_server.c - placeholders for the server-side commands until the
 * server lands (issue "The ledger server").  Each says so and fails.
 */
#include <stdio.h>

#include "cli/cli.h"

static int not_yet(const char *name) {
  fprintf(stderr, "quipu %s: not available in this build yet\n", name);
  return 1;
}

int qp_cmd_serve(int argc, char **argv) { (void)argc; (void)argv; return not_yet("serve"); }
int qp_cmd_keys(int argc, char **argv) { (void)argc; (void)argv; return not_yet("keys"); }
int qp_cmd_client(int argc, char **argv) { (void)argc; (void)argv; return not_yet("client"); }
