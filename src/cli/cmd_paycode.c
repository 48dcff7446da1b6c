/*
 * cmd_paycode.c - `quipu paycode --secret HEX --device N [--time T]`: the
 * payment code a wallet device shows at unix time T (now by default), the
 * reference implementation of docs/payments.md's layout (src/payments/
 * paycode.c), for tests, demos and wallet authors.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "cli/cli.h"
#include "payments/payments.h"

static const char USAGE[] =
    "usage: quipu paycode --secret HEX --device N [--time T]\n"
    "Prints the 18-digit payment code of device N (0..999999) whose secret is HEX (the\n"
    "secret POST /v1/devices showed once: 64 hex digits) at unix time T (default: now).\n"
    "Exit 0, or 2 on a usage error.  The layout: docs/payments.md.\n";

static int bad(const char *what) {
  fprintf(stderr, "quipu paycode: %s\n%s", what, USAGE);
  return 2;
}

int qp_cmd_paycode(int argc, char **argv) {
  static const struct option opts[] = {{"secret", required_argument, NULL, 's'},
                                       {"device", required_argument, NULL, 'd'},
                                       {"time", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *hex = NULL, *device = NULL, *when = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "s:d:t:h", opts, NULL)) != -1) {
    if (c == 's') hex = optarg;
    else if (c == 'd') device = optarg;
    else if (c == 't') when = optarg;
    else if (c == 'h') return fputs(USAGE, stdout), 0;
    else return bad("unknown option");
  }
  if (optind != argc) return bad("unexpected argument");
  uint8_t secret[QP_PAYCODE_SECRET_SIZE];
  size_t len = 0;
  uint64_t number = 0, t = (uint64_t)time(NULL);
  if (hex == NULL || strlen(hex) != 2 * sizeof secret ||
      sodium_hex2bin(secret, sizeof secret, hex, strlen(hex), NULL, &len, NULL) != 0 ||
      len != sizeof secret)
    return bad("--secret must be 64 hex digits");
  if (device == NULL || qp_cli_parse_u64(device, 0, QP_PAYCODE_DEVICE_MAX, &number) != 0)
    return bad("--device must be a number from 0 to 999999");
  if (when != NULL && qp_cli_parse_u64(when, 0, (uint64_t)INT64_MAX, &t) != 0)
    return bad("--time must be unix seconds (0 or more)");
  char code[QP_PAYCODE_DIGITS + 1];
  int rc = qp_paycode_make(secret, sizeof secret, (uint32_t)number, (int64_t)t, code);
  sodium_memzero(secret, sizeof secret);
  if (rc != 0) return bad("cannot make a code for these values");
  printf("%s\n", code);
  return 0;
}
