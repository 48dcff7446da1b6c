/*
 * demo_supply.c - `quipu demo supply-chain`: the story of issue 13, run
 * against real processes (docs/apps.md, "The story").  A car maker (core)
 * owes its seat supplier (tier 1) 100,000 and says so on the chain as a
 * receivable voucher; tier 1 pays its foam supplier (tier 2) 40,000 of it
 * by splitting the voucher; tier 2 sells 25,000 of its part to a bank at
 * 2 % discount and is paid 24,500 at once; at maturity the core pays every
 * current holder, and the settlement agent (`quipu settle`, a clearing
 * house's) carries both money movements out on the ledger.  Each step is
 * a signed transaction whose receipt is printed; the end shows the tree,
 * the balances before and after (checked), the ledger's audit and a proof
 * of the confirming transaction checked offline against genesis.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "cli/cli.h"
#include "cli/demo_supply.h"
#include "store/store.h"

#define DEMO_VALIDATORS 4u
#define DEMO_MATURITY_S 12          /* the voucher matures this long after the start */
#define DEMO_SETTLE_TRIES 30        /* settle calls while the chain's clock lags */
#define DEMO_FUNDING_CORE 150000u   /* the core's cash at the start */
#define DEMO_FUNDING_BANK 100000u   /* the bank's */

static const char USAGE[] =
    "usage: quipu demo supply-chain [--dir DIR]\n"
    "\n"
    "Runs the supply-chain finance story on real processes: a 4-validator chain and a\n"
    "ledger on loopback (in a temp dir, removed at the end, unless --dir), a core\n"
    "enterprise, two tiers of suppliers, a bank and a clearing house.  Issue -> split\n"
    "to tier 2 -> tier 2 finances part at the bank -> maturity -> settlement by the\n"
    "agent (quipu settle).  Prints the voucher tree, the balances before and after,\n"
    "the ledger audit and an offline-checked proof; stops everything.  Exit 0 when the\n"
    "story ran and every check held, 1 otherwise, 2 usage.\n";

static const demo_party_t CAST[DEMO_PARTIES] = {
    {.label = "core", .name = "Core Motors", .role = "core", .account = 1001},
    {.label = "tier1", .name = "Tier-1 Seats", .role = "supplier", .account = 1002},
    {.label = "tier2", .name = "Tier-2 Foam", .role = "supplier", .account = 1003},
    {.label = "bank", .name = "Harbor Bank", .role = "funder", .account = 1004},
    {.label = "clearing", .name = "Clearing House", .role = "clearing", .account = 1005},
};

const demo_party_t *qp_demo_party_by_key(const demo_story_t *s, const char *hex) {
  for (uint32_t i = 0; hex != NULL && i < DEMO_PARTIES; i++)
    if (strcmp(s->party[i].chain.sender, hex) == 0) return &s->party[i];
  return NULL;
}

static void step(const char *title) {
  printf("\n== %s\n", title);
  fflush(stdout);
}

/* The cast, for naming keys in what is printed (set by story()). */
static const demo_story_t *cast;

/* Prints text with every participant's key replaced by @label: a line says
 * who, not 64 hex digits. */
static void print_named(const char *text) {
  for (const char *p = text; p != NULL && *p != '\0';) {
    size_t len = 0;
    const demo_party_t *hit = NULL;
    for (uint32_t i = 0; cast != NULL && i < DEMO_PARTIES && hit == NULL; i++) {
      len = strlen(cast->party[i].chain.sender);
      if (len > 0 && strncmp(p, cast->party[i].chain.sender, len) == 0) hit = &cast->party[i];
    }
    if (hit != NULL) printf("@%s", hit->label);
    else putchar(*p);
    p += hit != NULL ? len : 1;
  }
}

/* One signed call by signer; prints it and its receipt.  *result (may be
 * NULL) gets the receipt's result on ok.  0 when the receipt is ok. */
static int call(qp_cli_chain_client_t *signer, const char *who, const char *app,
                const char *method, json_t *args, json_t **result) {
  json_t *receipt = NULL;
  int rc = args != NULL ? qp_cli_chain_client_call(signer, app, method, args,
                                                   QP_CLI_CHAIN_WAIT_MS_DEFAULT, &receipt)
                        : QP_ENOMEM;
  char *args_text = args != NULL ? qp_cli_json_text(args) : NULL;
  json_decref(args);
  printf("  %-9s %s.%s ", who, app, method);
  print_named(args_text);
  putchar('\n');
  qp_free(args_text);
  if (rc != 0) {
    printf("            not committed: %s\n", signer->error);
    return QP_EIO;
  }
  const char *status = json_string_value(json_object_get(receipt, "status"));
  char *shown = qp_cli_json_text(json_object_get(receipt, "result"));
  printf("            -> %s%s%s at height %lld: ", status != NULL ? status : "?",
         status != NULL && strcmp(status, "ok") == 0 ? "" : " ",
         status != NULL && strcmp(status, "ok") == 0
             ? ""
             : json_string_value(json_object_get(receipt, "code")),
         (long long)json_integer_value(json_object_get(receipt, "height")));
  print_named(shown);
  putchar('\n');
  qp_free(shown);
  fflush(stdout);
  rc = status != NULL && strcmp(status, "ok") == 0 ? 0 : QP_EINVAL;
  if (rc == 0 && result != NULL) *result = json_incref(json_object_get(receipt, "result"));
  json_decref(receipt);
  return rc;
}

/* A string member of a call's result into out (0, or QP_EIO: says so). */
static int result_id(json_t *result, const char *field, char *out, size_t size) {
  const char *v = json_string_value(json_object_get(result, field));
  if (v == NULL) printf("  the result has no \"%s\"\n", field);
  else snprintf(out, size, "%s", v);
  json_decref(result);
  return v != NULL ? 0 : QP_EIO;
}

/* Keys for the cast, a client per signer (the registrar's from chain init). */
static int open_signers(demo_story_t *s) {
  char path[QP_DEMO_PATH_MAX + 64], detail[512];
  snprintf(path, sizeof path, "%s/keys", s->env.dir);
  if (qp_mkdir_p(path) != 0) return QP_EIO;
  for (uint32_t i = 0; i < DEMO_PARTIES; i++) {
    demo_party_t *p = &s->party[i];
    qp_sign_key_t *key = NULL;
    snprintf(p->key_path, sizeof p->key_path, "%s/keys/%s.key", s->env.dir, p->label);
    int rc = qp_sign_keygen(s->registrar.suite, &key);
    if (rc == 0) rc = qp_chain_keyfile_write(p->key_path, key, true, detail, sizeof detail);
    qp_sign_key_free(key);
    if (rc == 0) rc = qp_cli_chain_client_open(&p->chain, s->env.chain_url, p->key_path);
    p->open = true;
    if (rc != 0) {
      fprintf(stderr, "quipu demo: %s's key: %s\n", p->label,
              p->chain.error[0] != '\0' ? p->chain.error : detail);
      return QP_EIO;
    }
    printf("  %-8s %-15s %-9s %s\n", p->label, p->name, p->role, p->chain.sender);
  }
  printf("  (below, @core, @tier1, ... stand for these public keys)\n");
  return 0;
}

/* POSTs a JSON body to the ledger; 0 when every event's result is ok. */
static int ledger_create(demo_story_t *s, const char *path, json_t *body) {
  char *text = qp_cli_json_text(body);
  json_decref(body);
  if (text == NULL) return QP_ENOMEM;
  int rc = qp_cli_chain_http_request(&s->ledger, "POST", path, text, strlen(text), 30000);
  qp_free(text);
  json_t *a = rc == 0 && s->ledger.status == 200 ? qp_cli_chain_http_json(&s->ledger) : NULL;
  size_t i;
  json_t *r;
  bool ok = a != NULL;
  json_array_foreach(json_object_get(a, "results"), i, r)
  {
    const char *result = json_string_value(json_object_get(r, "result"));
    ok = ok && result != NULL && strcmp(result, "ok") == 0;
  }
  json_decref(a);
  if (!ok) qp_cli_chain_http_print_error(&s->ledger, "quipu demo", path);
  return ok ? 0 : QP_EIO;
}

/* The ledger accounts (each party's may not go below zero), the funding,
 * and MAP.json for the agent. */
static int setup_ledger(demo_story_t *s) {
  json_t *accounts = json_pack("[{s:s, s:i, s:i}]", "id", "1000", "ledger", DEMO_LEDGER,
                               "code", 1);
  json_t *map = json_object();
  for (uint32_t i = 0; i < DEMO_PARTIES; i++) {
    char id[QP_U128_BUF_SIZE], ledger[16];
    qp_u128_format(s->party[i].account, id);
    snprintf(ledger, sizeof ledger, "%u", DEMO_LEDGER);
    json_array_append_new(accounts, json_pack("{s:s, s:i, s:i, s:[s]}", "id", id, "ledger",
                                              DEMO_LEDGER, "code", 1, "flags",
                                              "debits_must_not_exceed_credits"));
    json_object_set_new(map, s->party[i].chain.sender, json_pack("{s:s}", ledger, id));
  }
  int rc = ledger_create(s, "/v1/accounts", accounts);
  json_t *funding = json_pack("[{s:s,s:s,s:s,s:I,s:i,s:i},{s:s,s:s,s:s,s:I,s:i,s:i}]",
                              "id", "1", "debit_account_id", "1000", "credit_account_id",
                              "1001", "amount", (json_int_t)DEMO_FUNDING_CORE, "ledger",
                              DEMO_LEDGER, "code", 1, "id", "2", "debit_account_id", "1000",
                              "credit_account_id", "1004", "amount",
                              (json_int_t)DEMO_FUNDING_BANK, "ledger", DEMO_LEDGER, "code", 1);
  if (rc == 0) rc = ledger_create(s, "/v1/transfers", funding);
  else json_decref(funding);
  snprintf(s->map_path, sizeof s->map_path, "%s/accounts.json", s->env.dir);
  if (rc == 0 && json_dump_file(map, s->map_path, JSON_INDENT(2)) != 0) rc = QP_EIO;
  json_decref(map);
  if (rc == 0)
    printf("  accounts 1001..1005 on ledger %u (no overdraft), funded from 1000: core %u, "
           "bank %u\n  map for the agent: %s\n", DEMO_LEDGER, DEMO_FUNDING_CORE,
           DEMO_FUNDING_BANK, s->map_path);
  return rc;
}

/* registry.register for the cast, by the registrar. */
static int register_cast(demo_story_t *s) {
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < DEMO_PARTIES; i++) {
    const demo_party_t *p = &s->party[i];
    rc = call(&s->registrar, "registrar", "registry", "register",
              json_pack("{s:s, s:s, s:s}", "key", p->chain.sender, "name", p->name, "role",
                        p->role),
              NULL);
  }
  return rc;
}

/* Credit line, issue, split to tier 2, finance at the bank. */
static int trade(demo_story_t *s, int64_t maturity) {
  demo_party_t *core = &s->party[DEMO_CORE], *t1 = &s->party[DEMO_TIER1];
  demo_party_t *t2 = &s->party[DEMO_TIER2], *bank = &s->party[DEMO_BANK];
  int64_t now = (int64_t)(qp_clock_wall_ns() / QP_NS_PER_S);
  step("3. The bank grants the core enterprise a credit line");
  int rc = call(&bank->chain, "bank", "registry", "grant_credit",
                json_pack("{s:s, s:s, s:i, s:I}", "core", core->chain.sender, "amount",
                          "500000", "ledger", DEMO_LEDGER, "expiry", (json_int_t)(now + 3600)),
                NULL);
  json_t *result = NULL;
  char part[32] = "", offer[32] = "";
  if (rc == 0) step("4. The core enterprise confirms what it owes tier 1: a voucher");
  if (rc == 0)
    rc = call(&core->chain, "core", "receivable", "issue",
              json_pack("{s:s, s:s, s:i, s:I, s:s}", "to", t1->chain.sender, "amount", "100000",
                        "ledger", DEMO_LEDGER, "maturity", (json_int_t)maturity, "reference",
                        "PO-4711 seats"),
              &result);
  if (rc == 0) rc = result_id(result, "voucher", s->root, sizeof s->root);
  if (rc == 0) step("5. Tier 1 pays its foam supplier (tier 2) 40,000 with part of it");
  if (rc == 0)
    rc = call(&t1->chain, "tier1", "receivable", "transfer",
              json_pack("{s:s, s:s, s:s}", "voucher", s->root, "to", t2->chain.sender,
                        "amount", "40000"),
              &result);
  if (rc == 0) rc = result_id(result, "to_voucher", part, sizeof part);
  if (rc == 0) step("6. Tier 2 sells 25,000 of its part to the bank at 2 % (200 bps)");
  if (rc == 0)
    rc = call(&t2->chain, "tier2", "receivable", "finance",
              json_pack("{s:s, s:s, s:s, s:i}", "voucher", part, "funder", bank->chain.sender,
                        "amount", "25000", "discount_bps", 200),
              &result);
  if (rc == 0) rc = result_id(result, "voucher", offer, sizeof offer);
  if (rc == 0)
    rc = call(&bank->chain, "bank", "receivable", "accept_finance",
              json_pack("{s:s}", "voucher", offer), NULL);
  return rc;
}

/* `quipu settle --once` as the clearing house; its lines are shown. */
static int run_agent(demo_story_t *s) {
  char state[QP_DEMO_PATH_MAX + 32];
  snprintf(state, sizeof state, "%s/settle.state", s->env.dir);
  char *argv[] = {"quipu", "settle", "--chain", s->env.chain_url, "--ledger",
                  s->env.ledger_url, "--key", s->party[DEMO_CLEARING].key_path, "--accounts",
                  s->map_path, "--state", state, "--once", NULL};
  printf("  $ quipu settle --chain %s --ledger %s --key keys/clearing.key \\\n"
         "      --accounts accounts.json --state settle.state --once\n",
         s->env.chain_url, s->env.ledger_url);
  fflush(stdout);
  int code = qp_demo_env_run(&s->env, argv, NULL);
  if (code != 0) printf("  the agent exited %d\n", code);
  return code == 0 ? 0 : QP_EIO;
}

/* Waits out the maturity, then settle (again while the chain's block time
 * is not there yet: not_mature). */
static int mature_and_settle(demo_story_t *s, int64_t maturity) {
  while ((int64_t)(qp_clock_wall_ns() / QP_NS_PER_S) <= maturity) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000000L};
    nanosleep(&ts, NULL);
  }
  json_t *result = NULL;
  int rc = QP_EIO;
  for (int i = 0; i < DEMO_SETTLE_TRIES && rc != 0; i++) {
    rc = call(&s->party[DEMO_CORE].chain, "core", "receivable", "settle",
              json_pack("{s:s}", "voucher", s->root), &result);
    if (rc != QP_EINVAL) break;
    struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
    nanosleep(&ts, NULL);
  }
  if (rc == 0) rc = result_id(result, "settlement", s->settlement, sizeof s->settlement);
  return rc;
}

/* The story from a running network to the checks. */
static int story(demo_story_t *s) {
  /* core pays 100,000; tier 1 gets 60,000; tier 2 24,500 (the bank) +
   * 15,000 (maturity); the bank pays 24,500 and gets 25,000. */
  static const long long expected[DEMO_PARTIES] = {-100000, 60000, 39500, 500, 0};
  int64_t maturity = (int64_t)(qp_clock_wall_ns() / QP_NS_PER_S) + DEMO_MATURITY_S;
  cast = s;
  step("1. The participants, registered by the registrar (DIR/chain/registrar.key)");
  int rc = open_signers(s);
  if (rc == 0) rc = register_cast(s);
  if (rc == 0) step("2. Ledger accounts, funded");
  if (rc == 0) rc = setup_ledger(s);
  if (rc == 0) rc = trade(s, maturity);
  if (rc == 0) step("Balances before settlement");
  if (rc == 0) rc = qp_demo_show_balances(s, true);
  if (rc == 0) step("7. The settlement agent pays the bank's purchase on the ledger");
  if (rc == 0) rc = run_agent(s);
  if (rc == 0) step("8. Maturity: anyone may settle the whole tree");
  if (rc == 0) rc = mature_and_settle(s, maturity);
  if (rc == 0) step("9. The agent pays every holder, all or nothing, and confirms");
  if (rc == 0) rc = run_agent(s);
  if (rc == 0) step("The voucher tree");
  if (rc == 0) rc = qp_demo_show_tree(s);
  if (rc == 0) step("Balances after settlement");
  if (rc == 0) rc = qp_demo_show_balances(s, false);
  if (rc == 0) rc = qp_demo_check_changes(s, expected);
  if (rc == 0) step("Ledger audit");
  if (rc == 0) rc = qp_demo_show_audit(s);
  if (rc == 0) step("Proof of the confirmation, checked offline against genesis");
  if (rc == 0) rc = qp_demo_show_proof(s);
  return rc;
}

static int supply_chain(const char *dir_flag) {
  demo_story_t *s = qp_calloc(1, sizeof *s);
  if (s == NULL || qp_crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    qp_free(s);
    fprintf(stderr, "quipu demo: cannot initialise\n");
    return 1;
  }
  memcpy(s->party, CAST, sizeof CAST);
  printf("quipu demo supply-chain: starting %u validators and a ledger...\n", DEMO_VALIDATORS);
  fflush(stdout);
  int rc = qp_demo_env_start(&s->env, dir_flag, DEMO_VALIDATORS);
  char registrar[QP_DEMO_PATH_MAX + 64];
  snprintf(registrar, sizeof registrar, "%s/chain/registrar.key", s->env.dir);
  if (rc == 0) {
    printf("  directory %s\n  chain     %s (node0 of %u)\n  ledger    %s\n", s->env.dir,
           s->env.chain_url, DEMO_VALIDATORS, s->env.ledger_url);
    rc = qp_cli_chain_http_init(&s->ledger, s->env.ledger_url);
    if (rc == 0 && qp_cli_chain_client_open(&s->registrar, s->env.chain_url, registrar) != 0) {
      fprintf(stderr, "quipu demo: %s\n", s->registrar.error);
      rc = QP_EIO;
    }
  }
  if (rc == 0) rc = story(s);
  for (uint32_t i = 0; i < DEMO_PARTIES; i++)
    if (s->party[i].open) qp_cli_chain_client_deinit(&s->party[i].chain);
  qp_cli_chain_client_deinit(&s->registrar);
  qp_cli_chain_http_deinit(&s->ledger);
  step(rc == 0 ? "Done: stopping the network and the ledger" : "FAILED: stopping everything");
  bool keep = rc != 0; /* a failed run keeps its logs */
  int stopped = qp_demo_env_stop(&s->env, keep);
  if (keep && s->env.dir[0] != '\0') printf("  logs kept in %s\n", s->env.dir);
  printf("  %s\n", stopped == 0 ? "all stopped cleanly" : "some process did not stop cleanly");
  qp_free(s);
  curl_global_cleanup();
  return rc == 0 && stopped == 0 ? 0 : 1;
}

int qp_cmd_demo(int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  if (argc < 2 || strcmp(argv[1], "supply-chain") != 0) {
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (!help && argc < 2) fprintf(stderr, "quipu demo: which demo? supply-chain is the one\n");
    else if (!help) fprintf(stderr, "quipu demo: unknown demo '%.64s'\n", argv[1]);
    fputs(USAGE, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  const char *dir = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
    if (c == 'd') dir = optarg;
    else {
      fputs(USAGE, c == 'h' ? stdout : stderr);
      return c == 'h' ? 0 : 2;
    }
  }
  if (optind < argc - 1) {
    fprintf(stderr, "quipu demo: unexpected argument '%s'\n%s", argv[optind + 1], USAGE);
    return 2;
  }
  return supply_chain(dir);
}
