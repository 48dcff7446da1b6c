/*
 * cmd_chain.c - `quipu chain …`: run and use a consortium chain network
 * (docs/chain.md).  This file dispatches and holds keygen, which needs
 * no network; the others live beside it (cmd_chain_init.c, _up.c, _send.c,
 * _query.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "chain/chain.h"
#include "cli/cli.h"

static const char USAGE[] =
    "usage: quipu chain init --validators N --dir DIR [--base-port P] [options]\n"
    "       quipu chain up --dir DIR\n"
    "       quipu chain keygen --out FILE [--crypto ed25519|sm2] [--force]\n"
    "       quipu chain send --node URL --key FILE --app APP --method M [--args JSON]\n"
    "                        [--nonce N] [--wait] [--timeout S]\n"
    "       quipu chain send --node URL --key FILE --contract ADDR --method NAME\n"
    "                        [--args JSON] [--gas N] [--wait]\n"
    "       quipu chain deploy --node URL --key FILE --code FILE [--wait]\n"
    "       quipu chain query --node URL --app APP --method M [--args JSON]\n"
    "       quipu chain verify-proof --genesis GENESIS PROOF.json\n"
    "\n"
    "  init     a local network: DIR/node0..node<N-1>, keys, genesis.json, node.json\n"
    "           (--crypto sm2: the GM/T suite, SM2 signatures and SM3 hashes)\n"
    "  up       runs every node of DIR (quipu node --home DIR/nodeK) until Ctrl-C\n"
    "  keygen   a client signing key (0600) for `chain send`; prints its public key\n"
    "           (--crypto: the network's suite, ed25519 by default; --suite is a synonym)\n"
    "  send     signs a transaction with a client key, submits it, prints its hash\n"
    "           (--wait: waits for its block and prints the receipt); with --contract\n"
    "           it calls a function of a Lua contract\n"
    "  deploy   stores a Lua contract (compiled first) and prints its address\n"
    "  query    runs an app's read-only method on a node's committed state\n"
    "  verify-proof  checks a state or transaction proof offline against the genesis\n"
    "\n"
    "`quipu chain SUBCOMMAND --help` says more.\n";

static int keygen(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                       {"crypto", required_argument, NULL, 's'},
                                       {"suite", required_argument, NULL, 's'},
                                       {"force", no_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL, *suite_name = "ed25519";
  bool force = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:s:fh", opts, NULL)) != -1) {
    if (c == 'o') out = optarg;
    else if (c == 's') suite_name = optarg;
    else if (c == 'f') force = true;
    else {
      fputs(USAGE, c == 'h' ? stdout : stderr);
      return c == 'h' ? 0 : 2;
    }
  }
  qp_suite_t suite;
  if (qp_suite_parse(suite_name, strlen(suite_name), &suite) != 0) {
    fprintf(stderr, "quipu chain keygen: --crypto must be ed25519 or sm2, not '%.64s'\n%s",
            suite_name, USAGE);
    return 2;
  }
  if (out == NULL || optind < argc) {
    fprintf(stderr, "quipu chain keygen: %s\n%s",
            out == NULL ? "--out FILE is required" : "unexpected argument", USAGE);
    return 2;
  }
  qp_sign_key_t *key = NULL;
  char detail[512];
  int rc = qp_crypto_init() == 0 ? qp_sign_keygen(suite, &key) : QP_EIO;
  if (rc == 0) rc = qp_chain_keyfile_write(out, key, force, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu chain keygen: %s\n", rc == QP_EIO && key == NULL
                                                     ? "cannot generate a key"
                                                     : detail);
    qp_sign_key_free(key);
    return 1;
  }
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t pub_len = 0;
  qp_sign_public(key, pub, &pub_len);
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
  qp_chain_hex(hex, pub, pub_len);
  printf("%s\n", hex);
  fprintf(stderr, "wrote %s (%s key, mode 0600)\n", out, qp_suite_name(suite));
  qp_sign_key_free(key);
  return 0;
}

int qp_cmd_chain(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "keygen") == 0) return keygen(argc - 1, argv + 1);
  if (strcmp(argv[1], "init") == 0) return qp_cmd_chain_init(argc - 1, argv + 1);
  if (strcmp(argv[1], "up") == 0) return qp_cmd_chain_up(argc - 1, argv + 1);
  if (strcmp(argv[1], "send") == 0) return qp_cmd_chain_send(argc - 1, argv + 1);
  if (strcmp(argv[1], "deploy") == 0) return qp_cmd_chain_deploy(argc - 1, argv + 1);
  if (strcmp(argv[1], "query") == 0) return qp_cmd_chain_query(argc - 1, argv + 1);
  if (strcmp(argv[1], "verify-proof") == 0) return qp_cmd_chain_verify_proof(argc - 1, argv + 1);
  fprintf(stderr, "quipu chain: unknown subcommand '%s'\n%s", argv[1], USAGE);
  return 2;
}
