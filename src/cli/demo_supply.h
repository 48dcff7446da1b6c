/*
 * demo_supply.h - what the pieces of `quipu demo supply-chain` share: the
 * cast (five participants with their keys and ledger accounts), the
 * processes, one chain client per signer and the ledger client.  The
 * story is told in demo_supply.c; demo_supply_show.c prints the voucher
 * tree, the balances, the audit and the proof.
 */
#ifndef QP_CLI_DEMO_SUPPLY_H
#define QP_CLI_DEMO_SUPPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/u128.h"
#include "cli/chain_client.h"
#include "cli/demo_env.h"

#define DEMO_PARTIES 5u
#define DEMO_LEDGER 1u             /* the ledger the story's money is on */
#define DEMO_CASH_ACCOUNT 1000u    /* where the funding comes from */

enum { DEMO_CORE, DEMO_TIER1, DEMO_TIER2, DEMO_BANK, DEMO_CLEARING };

typedef struct demo_party {
  const char *label;                    /* file names and logs: "core" */
  const char *name;                     /* registered name: "Core Motors" */
  const char *role;                     /* registry role */
  qp_u128 account;                      /* its ledger account on DEMO_LEDGER */
  char key_path[QP_DEMO_PATH_MAX + 64]; /* its client key */
  qp_cli_chain_client_t chain;          /* signs as the party */
  bool open;                            /* chain is open */
  qp_u128 credits_before, debits_before; /* balances before the settlements */
} demo_party_t;

typedef struct demo_story {
  qp_demo_env_t env;                  /* processes and directory */
  demo_party_t party[DEMO_PARTIES];   /* the cast */
  qp_cli_chain_client_t registrar;    /* signs with DIR/chain/registrar.key */
  qp_cli_chain_http_t ledger;         /* the ledger */
  char map_path[QP_DEMO_PATH_MAX + 32]; /* the agent's MAP.json */
  char root[32];                      /* the issued voucher's id */
  char settlement[80];                /* the maturity settlement's id */
} demo_story_t;

/* The party whose public key is hex, or NULL. */
const demo_party_t *qp_demo_party_by_key(const demo_story_t *s, const char *hex);

/* Prints the voucher tree of s->root, as the chain holds it. */
int qp_demo_show_tree(demo_story_t *s);

/* Reads every party's balance; with before, keeps it; prints a table
 * (before, after and the change when !before).  Returns 0 or QP_EIO. */
int qp_demo_show_balances(demo_story_t *s, bool before);

/* Checks each party's change against expected[] (signed minor units). */
int qp_demo_check_changes(demo_story_t *s, const long long expected[DEMO_PARTIES]);

/* GET /v1/audit: prints it; 0 when invariant_ok. */
int qp_demo_show_audit(demo_story_t *s);

/* Finds the transaction that confirmed s->settlement, asks a node for its
 * proof and checks it offline against the genesis file; prints the
 * verdict.  0 when valid. */
int qp_demo_show_proof(demo_story_t *s);

#endif
