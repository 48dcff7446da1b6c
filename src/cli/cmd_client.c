/* cmd_client.c - placeholder until the client lands. */
#include <stdio.h>

#include "cli/cli.h"

int qp_cmd_client(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "quipu client: not available in this build yet\n");
  return 1;
}
