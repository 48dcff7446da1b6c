/*
 * cmd_chain_proof.c - `quipu chain verify-proof --genesis GENESIS PROOF.json`:
 * checks a state or transaction proof (GET /v1/chain/kv/{key}?proof=1,
 * GET /v1/chain/txs/{hash}?proof=1, or the "proof" member of their answer)
 * offline, with nothing but the network's genesis file (docs/chain.md,
 * "State proofs").  Exit 0 and one line saying what is proven; exit 1 and
 * the failing step when the proof is altered or malformed; 2 for usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/chain.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: quipu chain verify-proof --genesis GENESIS PROOF.json\n"
    "\n"
    "Checks a proof offline: the Merkle path to the block's state (or tx and receipts) root,\n"
    "the block headers up to the commit certificate, and 2f+1 validator signatures on it.\n"
    "GENESIS is the network's genesis.json (or a node's home holding it). PROOF.json is what\n"
    "GET /v1/chain/kv/{key}?proof=1 or /v1/chain/txs/{hash}?proof=1 answered (or its \"proof\").\n"
    "Exit 0 when valid, 1 when not (the failing step is printed), 2 for usage errors.\n";

/* The genesis at path (a file, or a directory holding genesis.json). */
static int load_genesis(const char *path, qp_chain_genesis_t *g) {
  char detail[512] = "";
  struct stat st;
  int rc = 0;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    rc = qp_chain_genesis_load(path, g, detail, sizeof detail);
  } else {
    char *text = NULL;
    size_t len = 0;
    rc = qp_file_read(path, 1u << 20, &text, &len, NULL, detail, sizeof detail);
    if (rc == 0) rc = qp_chain_genesis_parse(text, len, g, detail, sizeof detail);
    qp_free(text);
  }
  if (rc != 0) fprintf(stderr, "quipu chain verify-proof: genesis: %s\n", detail);
  return rc;
}

/* The proof's text: the file, or the "proof" member of a saved answer. */
static int load_proof(const char *path, char **text, size_t *len) {
  char detail[512] = "";
  int rc = qp_file_read(path, QP_CHAIN_PROOF_BYTES_MAX, text, len, NULL, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu chain verify-proof: %s\n", detail);
    return rc;
  }
  json_t *root = json_loadb(*text, *len, JSON_REJECT_DUPLICATES, NULL);
  json_t *inner = json_object_get(root, "proof");
  if (json_is_object(inner) && json_object_get(root, "format") == NULL) {
    size_t n = json_dumpb(inner, NULL, 0, JSON_COMPACT);
    char *copy = n > 0 ? qp_malloc(n) : NULL;
    if (copy != NULL && json_dumpb(inner, copy, n, JSON_COMPACT) == n) {
      qp_free(*text);
      *text = copy;
      *len = n;
    } else {
      qp_free(copy);
    }
  }
  json_decref(root);
  return 0;
}

int qp_cmd_chain_verify_proof(int argc, char **argv) {
  static const struct option opts[] = {{"genesis", required_argument, NULL, 'g'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *genesis_path = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "g:h", opts, NULL)) != -1) {
    if (c == 'g') genesis_path = optarg;
    else {
      fputs(USAGE, c == 'h' ? stdout : stderr);
      return c == 'h' ? 0 : 2;
    }
  }
  if (genesis_path == NULL || optind != argc - 1) {
    fprintf(stderr, "quipu chain verify-proof: %s\n%s",
            genesis_path == NULL ? "--genesis GENESIS is required" : "one PROOF.json is required",
            USAGE);
    return 2;
  }
  qp_chain_genesis_t g;
  char *text = NULL;
  size_t len = 0;
  if (qp_crypto_init() != 0 || load_genesis(genesis_path, &g) != 0) return 2;
  if (load_proof(argv[optind], &text, &len) != 0) return 1;
  char summary[1024], detail[512];
  int rc = qp_chain_proof_verify(&g, text, len, summary, sizeof summary, detail, sizeof detail);
  qp_free(text);
  if (rc == 0) {
    printf("valid: %s\n", summary);
    return 0;
  }
  printf("invalid: %s\n", rc == QP_ENOMEM ? "out of memory" : detail);
  return 1;
}
