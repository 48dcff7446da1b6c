/*
 * demo_supply_show.c - what `quipu demo supply-chain` shows at the end
 * (demo_supply.h): the voucher tree as the chain holds it, every party's
 * ledger balance before and after (and whether each change is the one the
 * story implies), the ledger's audit, and the proof of the transaction
 * that confirmed the maturity settlement, checked offline against the
 * genesis file with the code of `quipu chain verify-proof`.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/chain.h"
#include "cli/demo_supply.h"
#include "store/store.h"

#define SHOW_TREE_NODES_MAX 256u  /* vouchers printed */
#define SHOW_PROOF_TRIES 50       /* 503 proof_not_ready: the head's certificate */
#define SHOW_BLOCKS_BACK 64u      /* blocks searched for the confirmation */

/* A party's name for a key, or the key's first digits. */
static const char *who(const demo_story_t *s, const char *hex, char *buf, size_t size) {
  const demo_party_t *p = qp_demo_party_by_key(s, hex);
  if (p != NULL) return p->name;
  snprintf(buf, size, "%.12s…", hex != NULL ? hex : "?");
  return buf;
}

/* A node's id: "voucher" or "id". */
static const char *node_id(const json_t *node) {
  const char *id = json_string_value(json_object_get(node, "voucher"));
  return id != NULL ? id : json_string_value(json_object_get(node, "id"));
}

/* One line of the tree. */
static void print_node(const demo_story_t *s, const json_t *node, uint32_t depth) {
  char buf[32];
  const char *status = json_string_value(json_object_get(node, "status"));
  if (status == NULL) status = json_string_value(json_object_get(node, "state"));
  printf("  %*s%-5s %10s  %-9s held by %s\n", (int)(2 * depth), "", node_id(node),
         json_string_value(json_object_get(node, "amount")), status != NULL ? status : "?",
         who(s, json_string_value(json_object_get(node, "holder")), buf, sizeof buf));
}

int qp_demo_show_tree(demo_story_t *s) {
  json_t *args = json_pack("{s:s}", "id", s->root), *result = NULL;
  qp_cli_chain_client_t *c = &s->party[DEMO_CLEARING].chain;
  int rc = qp_cli_chain_client_query(c, "receivable", "voucher", args, &result);
  json_decref(args);
  if (rc != 0) {
    printf("  voucher %s: %s\n", s->root, c->error);
    return QP_EIO;
  }
  const json_t *root = json_object_get(result, "tree");
  if (!json_is_object(root)) root = result;
  /* Depth first with an explicit stack (bounded), children in order. */
  const json_t *stack[SHOW_TREE_NODES_MAX];
  uint32_t depth[SHOW_TREE_NODES_MAX], top = 0, shown = 0;
  stack[top] = root;
  depth[top++] = 0;
  while (top > 0 && shown++ < SHOW_TREE_NODES_MAX) {
    const json_t *node = stack[--top];
    uint32_t d = depth[top];
    print_node(s, node, d);
    const json_t *children = json_object_get(node, "children");
    for (size_t i = json_array_size(children); i > 0 && top < SHOW_TREE_NODES_MAX; i--) {
      stack[top] = json_array_get(children, i - 1);
      depth[top++] = d + 1;
    }
  }
  json_decref(result);
  return 0;
}

/* credits - debits as a signed decimal. */
static void signed_text(qp_u128 credits, qp_u128 debits, char out[QP_U128_BUF_SIZE + 1]) {
  out[0] = credits >= debits ? ' ' : '-';
  qp_u128_format(credits >= debits ? credits - debits : debits - credits, out + 1);
}

/* Reads the parties' accounts; *after_c/_d get credits and debits posted. */
static int lookup(demo_story_t *s, qp_u128 credits[DEMO_PARTIES], qp_u128 debits[DEMO_PARTIES]) {
  json_t *ids = json_array();
  for (uint32_t i = 0; i < DEMO_PARTIES; i++) {
    char id[QP_U128_BUF_SIZE];
    qp_u128_format(s->party[i].account, id);
    json_array_append_new(ids, json_string(id));
  }
  json_t *body = json_pack("{s:o}", "ids", ids);
  char *text = qp_cli_json_text(body);
  json_decref(body);
  int rc = text != NULL ? qp_cli_chain_http_request(&s->ledger, "POST", "/v1/accounts/lookup",
                                                    text, strlen(text), 30000)
                        : QP_ENOMEM;
  qp_free(text);
  json_t *a = rc == 0 && s->ledger.status == 200 ? qp_cli_chain_http_json(&s->ledger) : NULL;
  json_t *list = json_object_get(a, "accounts");
  rc = json_array_size(list) == DEMO_PARTIES ? 0 : QP_EIO;
  for (uint32_t i = 0; rc == 0 && i < DEMO_PARTIES; i++) {
    const char *c = json_string_value(json_object_get(json_array_get(list, i), "credits_posted"));
    const char *d = json_string_value(json_object_get(json_array_get(list, i), "debits_posted"));
    if (c == NULL || d == NULL || qp_u128_parse(c, strlen(c), &credits[i]) != 0 ||
        qp_u128_parse(d, strlen(d), &debits[i]) != 0)
      rc = QP_EIO;
  }
  json_decref(a);
  if (rc != 0) qp_cli_chain_http_print_error(&s->ledger, "quipu demo", "account lookup");
  return rc;
}

int qp_demo_show_balances(demo_story_t *s, bool before) {
  qp_u128 credits[DEMO_PARTIES], debits[DEMO_PARTIES];
  if (lookup(s, credits, debits) != 0) return QP_EIO;
  printf(before ? "  %-15s %8s %12s\n" : "  %-15s %8s %12s %12s %12s\n", "party", "account",
         before ? "balance" : "before", "after", "change");
  for (uint32_t i = 0; i < DEMO_PARTIES; i++) {
    demo_party_t *p = &s->party[i];
    char id[QP_U128_BUF_SIZE], was[QP_U128_BUF_SIZE + 1], now[QP_U128_BUF_SIZE + 1];
    char change[QP_U128_BUF_SIZE + 1];
    qp_u128_format(p->account, id);
    if (before) {
      p->credits_before = credits[i];
      p->debits_before = debits[i];
    }
    signed_text(p->credits_before, p->debits_before, was);
    signed_text(credits[i], debits[i], now);
    signed_text(credits[i] + p->debits_before, debits[i] + p->credits_before, change);
    if (before) printf("  %-15s %8s %12s\n", p->name, id, was);
    else printf("  %-15s %8s %12s %12s %12s\n", p->name, id, was, now, change);
  }
  return 0;
}

int qp_demo_check_changes(demo_story_t *s, const long long expected[DEMO_PARTIES]) {
  qp_u128 credits[DEMO_PARTIES], debits[DEMO_PARTIES];
  if (lookup(s, credits, debits) != 0) return QP_EIO;
  int rc = 0;
  for (uint32_t i = 0; i < DEMO_PARTIES; i++) {
    const demo_party_t *p = &s->party[i];
    qp_u128 plus = credits[i] + p->debits_before, minus = debits[i] + p->credits_before;
    qp_u128 want = (qp_u128)(expected[i] < 0 ? -expected[i] : expected[i]);
    bool ok = expected[i] < 0 ? minus >= plus && minus - plus == want
                              : plus >= minus && plus - minus == want;
    if (!ok) {
      printf("  CHECK FAILED: %s should have changed by %lld\n", p->name, expected[i]);
      rc = QP_EIO;
    }
  }
  if (rc == 0)
    printf("  every change is as the story says: each holder paid exactly once\n");
  return rc;
}

int qp_demo_show_audit(demo_story_t *s) {
  int rc = qp_cli_chain_http_request(&s->ledger, "GET", "/v1/audit", NULL, 0, 30000);
  json_t *a = rc == 0 && s->ledger.status == 200 ? qp_cli_chain_http_json(&s->ledger) : NULL;
  bool ok = json_is_true(json_object_get(a, "invariant_ok"));
  const json_t *l = json_array_get(json_object_get(a, "ledgers"), 0);
  printf("  transfers %s, journal head %.16s…, ledger %lld: debits %s = credits %s\n"
         "  invariant_ok: %s\n",
         json_string_value(json_object_get(a, "transfers")),
         json_string_value(json_object_get(a, "head_hash")),
         (long long)json_integer_value(json_object_get(l, "ledger")),
         json_string_value(json_object_get(l, "debits_posted")),
         json_string_value(json_object_get(l, "credits_posted")), ok ? "true" : "FALSE");
  json_decref(a);
  return ok ? 0 : QP_EIO;
}

/* Whether the receipt of tx hash carries settlement_confirmed for id. */
static bool confirms(qp_cli_chain_client_t *c, const char *hash, const char *id) {
  char path[128];
  snprintf(path, sizeof path, "/v1/chain/txs/%.64s", hash);
  json_t *a = NULL;
  if (qp_cli_chain_client_get(c, path, &a) != 0) return false;
  size_t i;
  json_t *ev;
  bool found = false;
  json_array_foreach(json_object_get(json_object_get(a, "receipt"), "events"), i, ev) {
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *sid = json_string_value(json_object_get(ev, "settlement"));
    found = found || (type != NULL && sid != NULL && strcmp(type, "settlement_confirmed") == 0 &&
                      strcmp(sid, id) == 0);
  }
  json_decref(a);
  return found;
}

/* The hash of the transaction that confirmed id, searching back from the
 * head. */
static int find_confirmation(qp_cli_chain_client_t *c, const char *id, char hash[65]) {
  if (qp_cli_chain_client_status(c) != 0) return QP_EIO;
  for (uint64_t h = c->height, n = 0; h >= 1 && n < SHOW_BLOCKS_BACK; h--, n++) {
    char path[64];
    snprintf(path, sizeof path, "/v1/chain/blocks/%llu", (unsigned long long)h);
    json_t *b = NULL;
    if (qp_cli_chain_client_get(c, path, &b) != 0) return QP_EIO;
    size_t i;
    json_t *tx;
    bool found = false;
    json_array_foreach(json_object_get(b, "txs"), i, tx) {
      const char *t = json_string_value(tx);
      if (!found && t != NULL && confirms(c, t, id)) {
        snprintf(hash, 65, "%s", t);
        found = true;
      }
    }
    json_decref(b);
    if (found) return 0;
  }
  return QP_ENOTFOUND;
}

/* GET the proof of tx hash (retrying while the node says proof_not_ready),
 * saved to DIR/proof.json; *text is the proof's JSON (qp_free). */
static int fetch_proof(demo_story_t *s, qp_cli_chain_client_t *c, const char *hash,
                       char **text) {
  char path[128];
  snprintf(path, sizeof path, "/v1/chain/txs/%.64s?proof=1", hash);
  json_t *a = NULL;
  for (int i = 0; i < SHOW_PROOF_TRIES; i++) {
    if (qp_cli_chain_client_get(c, path, &a) == 0) break;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000000L};
    nanosleep(&ts, NULL);
  }
  json_t *proof = json_object_get(a, "proof");
  *text = proof != NULL ? qp_cli_json_text(proof) : NULL;
  char file[QP_DEMO_PATH_MAX + 32];
  snprintf(file, sizeof file, "%s/proof.json", s->env.dir);
  if (*text != NULL) qp_file_replace(file, *text, strlen(*text), 0600, NULL, 0);
  json_decref(a);
  if (*text == NULL) printf("  no proof from the node: %s\n", c->error);
  return *text != NULL ? 0 : QP_EIO;
}

int qp_demo_show_proof(demo_story_t *s) {
  qp_cli_chain_client_t *c = &s->party[DEMO_CLEARING].chain;
  char hash[65], detail[512], summary[1024], dir[QP_DEMO_PATH_MAX + 32];
  if (find_confirmation(c, s->settlement, hash) != 0) {
    printf("  no transaction confirming %s found\n", s->settlement);
    return QP_EIO;
  }
  char *text = NULL;
  qp_chain_genesis_t *g = qp_malloc(sizeof *g);
  snprintf(dir, sizeof dir, "%s/chain/node0", s->env.dir);
  int rc = g != NULL ? fetch_proof(s, c, hash, &text) : QP_ENOMEM;
  if (rc == 0 && qp_chain_genesis_load(dir, g, detail, sizeof detail) != 0) {
    printf("  genesis: %s\n", detail);
    rc = QP_EIO;
  }
  if (rc == 0) {
    rc = qp_chain_proof_verify(g, text, strlen(text), summary, sizeof summary, detail,
                               sizeof detail);
    printf("  confirm_settlement %s: transaction %.16s…\n"
           "  $ quipu chain verify-proof --genesis chain/node0/genesis.json proof.json\n"
           "  %s: %s\n", s->settlement, hash, rc == 0 ? "valid" : "invalid",
           rc == 0 ? summary : detail);
  }
  qp_free(text);
  qp_free(g);
  return rc == 0 ? 0 : QP_EIO;
}
