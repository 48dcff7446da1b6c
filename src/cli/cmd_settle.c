/*
 * cmd_settle.c - `quipu settle`: the settlement agent (docs/apps.md,
 * "Settlement").  It carries the receivable app's settlement records out
 * on a ledger and tells the chain: for each pending record, one linked
 * batch of ledger transfers (all or nothing) whose ids are derived from
 * the record (src/apps/settle_plan.c), then `confirm_settlement` with
 * those ids, or `report_shortfall` when the payer's account lacks the
 * funds.
 *
 * Finding the records: it follows committed blocks (each transaction's
 * receipt, for `settlement_requested` events) and, at start and after
 * any error, asks the app for every pending record, so nothing is missed
 * whatever happened while it was down.  An event only says where to look:
 * the record's current status is read again before paying, so an old
 * event of a record since confirmed or reported short moves no money.
 *
 * Why a crash loses and duplicates nothing: the ids are the same every
 * time the record is seen.  Paid but not confirmed (killed between the
 * two): the ledger answers `exists`, a lookup shows the planned transfers
 * and the agent confirms.  Confirmed by someone else meanwhile: the
 * confirm fails `settlement_not_pending`, which means done.  --state only
 * saves re-reading blocks after a restart; correctness never depends on it.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/settle_plan.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "cli/chain_client.h"
#include "cli/cli.h"
#include "store/store.h"

#define SETTLE_OK 0
#define SETTLE_FAIL 1
#define SETTLE_USAGE 2
#define SETTLE_MAP_BYTES_MAX (16u << 20) /* MAP.json */
#define SETTLE_POLL_MS 300L              /* between two looks at the head */
#define SETTLE_RETRY_MS 3000L            /* after an error, before the next sweep */
#define SETTLE_LEDGER_MS 30000L          /* one ledger request */
#define SETTLE_BLOCKS_PER_ROUND 256u     /* blocks read before the head is asked again */

static const char USAGE[] =
    "usage: quipu settle --chain URL --ledger URL --key FILE --accounts MAP.json\n"
    "                    [--state FILE] [--once] [--ledger-key KEY]\n"
    "\n"
    "Carries out the receivable app's settlements on the ledger: each pending record\n"
    "becomes one linked batch of ledger transfers (ids derived from the record, so a\n"
    "retry or a second agent never pays twice), then confirm_settlement on the chain,\n"
    "signed with FILE (a participant registered as clearing); a payer short of funds\n"
    "gets report_shortfall instead.  Follows committed blocks until SIGINT/SIGTERM.\n"
    "  --accounts  {\"<participant public key hex>\": {\"<ledger>\": \"<account id>\"}}\n"
    "  --state     keeps the last block height processed, so a restart resumes there\n"
    "  --once      settles what is pending now and exits\n"
    "The ledger's API key comes from $QUIPU_KEY (or --ledger-key, which `ps` shows);\n"
    "a chain node that requires a key reads $QUIPU_KEY too.\n"
    "Exit 0 done (or stopped by a signal), 1 a runtime failure (with --once: a\n"
    "settlement left pending), 2 usage.\n";

typedef struct settle_cfg {
  const char *chain_url;  /* --chain */
  const char *ledger_url; /* --ledger */
  const char *key_path;   /* --key */
  const char *map_path;   /* --accounts */
  const char *state_path; /* --state, or NULL */
  const char *ledger_key; /* --ledger-key, or NULL ($QUIPU_KEY) */
  bool once;              /* --once */
} settle_cfg_t;

typedef struct agent {
  settle_cfg_t cfg;             /* what the command line said */
  qp_cli_chain_client_t chain;  /* the node, with the clearing key */
  qp_cli_chain_http_t ledger;   /* the ledger */
  json_t *map;                  /* the checked account map */
  uint64_t height;              /* last block whose events were handled */
  uint32_t left;                /* settlements of this round left pending by an error */
  uint32_t done;                /* settlements of this round carried out */
  bool truncated;               /* the pending list was cut short: sweep again */
} agent_t;

static volatile sig_atomic_t stop_requested; /* SIGINT or SIGTERM */

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* One action per line on stdout (flushed: a test or an operator follows it). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("settle: ", stdout);
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
  fflush(stdout);
}

/* An error line on stderr. */
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("quipu settle: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static int usage_error(const char *what) {
  fprintf(stderr, "quipu settle: %s\n%s", what, USAGE);
  return SETTLE_USAGE;
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, settle_cfg_t *cfg) {
  static const struct option opts[] = {
      {"chain", required_argument, NULL, 'c'},   {"ledger", required_argument, NULL, 'l'},
      {"key", required_argument, NULL, 'k'},     {"accounts", required_argument, NULL, 'a'},
      {"state", required_argument, NULL, 's'},   {"once", no_argument, NULL, 'o'},
      {"ledger-key", required_argument, NULL, 'K'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'c') cfg->chain_url = optarg;
    else if (c == 'l') cfg->ledger_url = optarg;
    else if (c == 'k') cfg->key_path = optarg;
    else if (c == 'a') cfg->map_path = optarg;
    else if (c == 's') cfg->state_path = optarg;
    else if (c == 'o') cfg->once = true;
    else if (c == 'K') cfg->ledger_key = optarg;
    else if (c == 'h') {
      fputs(USAGE, stdout);
      return SETTLE_OK;
    } else return usage_error("unknown option");
  }
  if (optind < argc) return usage_error("unexpected argument");
  if (cfg->chain_url == NULL || cfg->ledger_url == NULL || cfg->key_path == NULL ||
      cfg->map_path == NULL)
    return usage_error("--chain, --ledger, --key and --accounts are required");
  return -1;
}

/* Reads and checks MAP.json. */
static int load_map(agent_t *a) {
  json_error_t jerr;
  a->map = json_load_file(a->cfg.map_path, JSON_REJECT_DUPLICATES, &jerr);
  if (a->map == NULL) {
    warn("%s: %s (line %d, column %d)", a->cfg.map_path, jerr.text, jerr.line, jerr.column);
    return SETTLE_USAGE;
  }
  char detail[512];
  if (qp_settle_map_check(a->map, detail, sizeof detail) != 0) {
    warn("%s: %s", a->cfg.map_path, detail);
    return SETTLE_USAGE;
  }
  return 0;
}

/* --state: the last height processed, or none (0: start at the head). */
static uint64_t state_read(const char *path) {
  char *text = NULL, detail[256];
  size_t len = 0;
  uint64_t h = 0;
  int rc = qp_file_read(path, 64, &text, &len, NULL, detail, sizeof detail);
  while (rc == 0 && len > 0 && text[len - 1] == '\n') text[--len] = '\0';
  if (rc == 0 && qp_cli_parse_u64(text, 1, UINT64_MAX, &h) != 0) {
    warn("%s does not hold a block height; starting at the head (pending records are "
         "found anyway)", path);
    h = 0;
  } else if (rc != 0 && rc != QP_ENOTFOUND) {
    warn("%s; starting at the head", detail);
  }
  qp_free(text);
  return h;
}

static void state_write(const agent_t *a) {
  if (a->cfg.state_path == NULL) return;
  char text[32], detail[512];
  int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)a->height);
  if (qp_file_replace(a->cfg.state_path, text, (size_t)n, 0600, detail, sizeof detail) != 0)
    warn("cannot save the state: %s", detail);
}

/* POSTs body to the ledger; *answer is the JSON of a 200. */
static int ledger_post(agent_t *a, const char *path, json_t *body, json_t **answer) {
  *answer = NULL;
  char *text = qp_cli_json_text(body);
  json_decref(body);
  if (text == NULL) return QP_ENOMEM;
  int rc = qp_cli_chain_http_request(&a->ledger, "POST", path, text, strlen(text),
                                     SETTLE_LEDGER_MS);
  qp_free(text);
  if (rc != 0 || a->ledger.status != 200) {
    qp_cli_chain_http_print_error(&a->ledger, "quipu settle", path);
    return QP_EIO;
  }
  *answer = qp_cli_chain_http_json(&a->ledger);
  return *answer != NULL ? 0 : QP_EIO;
}

/* The ledger side of a plan: the batch, and when the ledger says some of it
 * exists, a lookup of the ids (*found: paid before, by an agent that did not
 * live to confirm, or by another).  Returns the outcome (REFUSED on any
 * error, detail saying why). */
static qp_settle_outcome_t pay(agent_t *a, const qp_settle_plan_t *plan, bool *found,
                               char *detail, size_t detail_size) {
  json_t *answer = NULL;
  snprintf(detail, detail_size, "the ledger gave no usable answer");
  if (ledger_post(a, "/v1/transfers", qp_settle_plan_transfers(plan), &answer) != 0)
    return QP_SETTLE_REFUSED;
  qp_settle_outcome_t out = qp_settle_plan_results(plan, answer, detail, detail_size);
  json_decref(answer);
  if (out != QP_SETTLE_RETRY) return out;
  if (ledger_post(a, "/v1/transfers/lookup", qp_settle_plan_lookup(plan), &answer) != 0)
    return QP_SETTLE_REFUSED;
  out = qp_settle_plan_found(plan, answer, detail, detail_size);
  json_decref(answer);
  *found = out == QP_SETTLE_PAID;
  if (out == QP_SETTLE_RETRY) {
    snprintf(detail, detail_size, "the ledger said exists but none of the ids is there");
    out = QP_SETTLE_REFUSED;
  }
  return out;
}

/* Sends method (confirm_settlement or report_shortfall) for the plan and
 * reads its receipt: 0 done (now or before), -1 not done. */
static int tell_chain(agent_t *a, const qp_settle_plan_t *plan, const char *method,
                      json_t *args) {
  json_t *receipt = NULL;
  int rc = args != NULL ? qp_cli_chain_client_call(&a->chain, "receivable", method, args,
                                                   QP_CLI_CHAIN_WAIT_MS_DEFAULT, &receipt)
                        : QP_ENOMEM;
  json_decref(args);
  if (rc != 0) {
    warn("%s %s: %s", method, plan->settlement, a->chain.error);
    return -1;
  }
  const char *status = json_string_value(json_object_get(receipt, "status"));
  const char *code = json_string_value(json_object_get(receipt, "code"));
  json_int_t height = json_integer_value(json_object_get(receipt, "height"));
  int done = -1;
  if (status != NULL && strcmp(status, "ok") == 0) {
    say("%s %s: committed at height %lld", method, plan->settlement, (long long)height);
    done = 0;
  } else if (code != NULL && strcmp(code, "settlement_not_pending") == 0) {
    say("%s %s: already done by another (settlement_not_pending at height %lld)", method,
        plan->settlement, (long long)height);
    done = 0;
  } else {
    warn("%s %s: failed receipt %s", method, plan->settlement, code != NULL ? code : "?");
  }
  json_decref(receipt);
  return done;
}

/* Carries out one record: 0 done or nothing to do, -1 left pending. */
static int settle_record(agent_t *a, const json_t *record) {
  qp_settle_plan_t plan;
  char detail[1024];
  int rc = qp_settle_plan_make(record, a->map, a->chain.genesis, &plan, detail, sizeof detail);
  const char *id = json_string_value(json_object_get(record, "settlement"));
  if (rc != 0) {
    warn("settlement %.64s: %s", id != NULL ? id : "(no id)", detail);
    return -1;
  }
  if (strcmp(plan.status, "pending") != 0) {
    qp_settle_plan_free(&plan);
    return 0;
  }
  bool found = false;
  qp_settle_outcome_t out = pay(a, &plan, &found, detail, sizeof detail);
  int done = -1;
  if (out == QP_SETTLE_PAID) {
    say(found ? "%s: already paid: its %u transfer%s found on ledger %u as planned"
              : "%s: paid %u transfer%s on ledger %u",
        plan.settlement, plan.count, plan.count == 1 ? "" : "s", plan.ledger);
    done = tell_chain(a, &plan, "confirm_settlement", qp_settle_plan_confirm_args(&plan));
  } else if (out == QP_SETTLE_SHORT) {
    say("%s: the payer is short of funds on ledger %u; nothing paid", plan.settlement,
        plan.ledger);
    json_t *args = json_pack("{s:s, s:s}", "settlement", plan.settlement, "reason",
                             "exceeds_credits: the payer's account lacks the funds");
    done = tell_chain(a, &plan, "report_shortfall", args);
  } else {
    warn("%s: %s", plan.settlement, detail);
  }
  qp_settle_plan_free(&plan);
  return done;
}

/* The record with this id as the app holds it now, then settle it. */
static int settle_id(agent_t *a, const char *id) {
  json_t *args = json_pack("{s:s}", "id", id), *record = NULL;
  int rc = args != NULL ? qp_cli_chain_client_query(&a->chain, "receivable", "settlement", args,
                                                    &record)
                        : QP_ENOMEM;
  json_decref(args);
  if (rc != 0) {
    warn("settlement %s: %s", id, a->chain.error);
    return -1;
  }
  rc = settle_record(a, record);
  json_decref(record);
  return rc;
}

/* Every pending record, oldest first. */
static int sweep(agent_t *a) {
  json_t *args = json_pack("{s:s}", "status", "pending"), *list = NULL;
  int rc = args != NULL ? qp_cli_chain_client_query(&a->chain, "receivable", "settlements", args,
                                                    &list)
                        : QP_ENOMEM;
  json_decref(args);
  if (rc != 0) {
    warn("cannot list the pending settlements: %s", a->chain.error);
    return -1;
  }
  json_t *records = json_is_array(list) ? list : json_object_get(list, "settlements");
  size_t i;
  json_t *record;
  a->left = a->done = 0;
  /* The app answers at most 1,000 records at once (truncated): the rest
   * are the next sweep's, once these are no longer pending. */
  a->truncated = json_is_true(json_object_get(list, "truncated"));
  json_array_foreach(records, i, record) {
    if (stop_requested) break;
    if (settle_record(a, record) != 0) a->left++;
    else a->done++;
  }
  json_decref(list);
  return a->left == 0 && !a->truncated ? 0 : -1;
}

/* The settlement_requested events of one transaction's receipt. */
static int follow_tx(agent_t *a, const char *hash) {
  char path[128];
  snprintf(path, sizeof path, "/v1/chain/txs/%.64s", hash);
  json_t *answer = NULL;
  if (qp_cli_chain_client_get(&a->chain, path, &answer) != 0) {
    warn("%s", a->chain.error);
    return -1;
  }
  json_t *events = json_object_get(json_object_get(answer, "receipt"), "events");
  size_t i;
  json_t *ev;
  int rc = 0;
  json_array_foreach(events, i, ev) {
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *id = json_string_value(json_object_get(ev, "settlement"));
    if (type == NULL || strcmp(type, "settlement_requested") != 0 || id == NULL) continue;
    say("%s requested at height %lld", id,
        (long long)json_integer_value(json_object_get(answer, "height")));
    if (settle_id(a, id) != 0) rc = -1;
  }
  json_decref(answer);
  return rc;
}

/* Every transaction of block height. */
static int follow_block(agent_t *a, uint64_t height) {
  char path[64];
  snprintf(path, sizeof path, "/v1/chain/blocks/%llu", (unsigned long long)height);
  json_t *block = NULL;
  if (qp_cli_chain_client_get(&a->chain, path, &block) != 0) {
    warn("%s", a->chain.error);
    return -1;
  }
  size_t i;
  json_t *tx;
  int rc = 0;
  json_array_foreach(json_object_get(block, "txs"), i, tx) {
    const char *hash = json_string_value(tx);
    if (hash != NULL && follow_tx(a, hash) != 0) rc = -1;
  }
  json_decref(block);
  return rc;
}

/* Follows the chain until a signal: new blocks' events, and a sweep of
 * the pending records after any error (not more often than
 * SETTLE_RETRY_MS). */
static int follow(agent_t *a, bool need_sweep) {
  uint64_t sweep_due_ns = 0;
  while (!stop_requested) {
    if (need_sweep && qp_clock_mono_ns() >= sweep_due_ns) {
      need_sweep = sweep(a) != 0;
      sweep_due_ns = qp_clock_mono_ns() + (uint64_t)SETTLE_RETRY_MS * QP_NS_PER_MS;
    }
    if (qp_cli_chain_client_status(&a->chain) != 0) {
      warn("%s", a->chain.error);
      need_sweep = true;
      sleep_ms(SETTLE_POLL_MS);
      continue;
    }
    uint32_t n = 0;
    while (!stop_requested && a->height < a->chain.height && n++ < SETTLE_BLOCKS_PER_ROUND) {
      if (follow_block(a, a->height + 1) != 0) need_sweep = true;
      a->height++; /* a record left behind is the sweep's */
      state_write(a);
    }
    if (a->height >= a->chain.height) sleep_ms(SETTLE_POLL_MS);
  }
  say("stopping at height %llu", (unsigned long long)a->height);
  return SETTLE_OK;
}

/* Connects to both ends, then one sweep (--once) or following. */
static int run(agent_t *a) {
  int code = load_map(a);
  if (code != 0) return code;
  if (qp_cli_chain_client_open(&a->chain, a->cfg.chain_url, a->cfg.key_path) != 0) {
    warn("%s", a->chain.error);
    return SETTLE_FAIL;
  }
  if (qp_cli_chain_http_init(&a->ledger, a->cfg.ledger_url) != 0) {
    warn("--ledger: %s", a->ledger.error);
    return SETTLE_USAGE;
  }
  if (a->cfg.ledger_key != NULL)
    snprintf(a->ledger.auth, sizeof a->ledger.auth, "Authorization: Bearer %.400s",
             a->cfg.ledger_key);
  uint64_t saved = a->cfg.state_path != NULL ? state_read(a->cfg.state_path) : 0;
  a->height = saved != 0 && saved <= a->chain.height ? saved : a->chain.height;
  say("clearing key %.16s…, chain at height %llu, following from %llu", a->chain.sender,
      (unsigned long long)a->chain.height, (unsigned long long)a->height);
  if (a->cfg.once) {
    int rc;
    do rc = sweep(a);
    while (rc != 0 && a->truncated && a->done > 0 && !stop_requested);
    state_write(a);
    say("%s: %u settlement%s left pending", rc == 0 ? "done" : "not done", a->left,
        a->left == 1 ? "" : "s");
    return rc == 0 ? SETTLE_OK : SETTLE_FAIL;
  }
  return follow(a, true);
}

int qp_cmd_settle(int argc, char **argv) {
  agent_t a;
  memset(&a, 0, sizeof a);
  int code = parse(argc, argv, &a.cfg);
  if (code >= 0) return code;
  if (qp_crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    warn("cannot initialise the crypto or HTTP library");
    return SETTLE_FAIL;
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  code = run(&a);
  qp_cli_chain_client_deinit(&a.chain);
  qp_cli_chain_http_deinit(&a.ledger);
  json_decref(a.map);
  curl_global_cleanup();
  return code;
}
