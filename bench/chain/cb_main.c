/*
 * cb_main.c - quipu-chain-bench: flags, the bound (the suite's signature
 * verifications per second on one core, measured first, on a quiet
 * machine), then one run: start the network, sign every transaction, submit
 * them while polling heights, check everything, and report the table and
 * the RESULT lines (docs/bench.md, "Chain benchmark").  --crypto both does
 * this for Ed25519, then for SM2 (a third of the transactions: SM2 is
 * slower), and prints the two side by side; SM2 figures are named "sm2_*".
 * Exit status 0 when every check held, 1 otherwise, 2 for bad flags; a
 * figure below the floor is reported, not a failure.
 */
#include <curl/curl.h>
#include <sodium.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "chain_bench.h"
#include "bench.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "chain/chain.h"

#define VERIFY_SIGS 256u          /* distinct signatures the verify loop cycles through */
#define VERIFY_NS 1000000000ull   /* how long it runs */

static const char USAGE[] =
    "usage: quipu-chain-bench --quipu PATH [--quick] [--txs N] [--senders N]\n"
    "                         [--connections N] [--batch N] [--rate TX_PER_S] [--poll-ms N]\n"
    "                         [--linger-ms N]\n"
    "                         [--validators N] [--tmp DIR] [--keep] [--timeline]\n"
    "                         [--crypto ed25519|sm2|both] [--propose-max N]\n"
    "                         [--propose-linger-ms N]\n"
    "  without --quick, --txs, --rate or --lua (make bench-chain), the Ed25519 run is the\n"
    "  floor's: 330000 txs offered at 5500 tx/s (60 s; chain_tps, p50, p99), then a flood\n"
    "  of 60000 as fast as admitted whose figures are named flood_* (the capacity)\n"
    "  --txs          signed kv puts to send (60000; --quick 6000)\n"
    "  --senders      client keys, made in memory (2000; --quick 500)\n"
    "  --connections  keep-alive connections to each node (8)\n"
    "  --batch        transactions per request at most (64; 1 = one {\"tx\"} per request)\n"
    "  --rate         offered load in tx/s (0 = as fast as admission allows; the default)\n"
    "  --poll-ms      status poll period per node, the resolution of commit times (10)\n"
    "  --linger-ms    with --rate: a connection sends once --batch txs are due or the oldest\n"
    "                 due one waited this long (10; 0 = whatever is due at each turn, ~1 ms);\n"
    "                 latency counts from each tx's scheduled time, so the wait is in it\n"
    "  --propose-max  transactions a node puts in a block it proposes (node.json\n"
    "                 propose_txs_max; default the node's, 2048)\n"
    "  --propose-linger-ms  how long a leader waits for a fuller block (node.json\n"
    "                 propose_linger_ms, 0..500; default the node's, 100)\n"
    "  --timeline     print every block: proposer, view, size, proposal and commit times\n"
    "  --crypto       the suite: ed25519 (default), sm2 (SM2 signatures, SM3 hashes), or both\n"
    "                 one after the other (sm2 with a third of --txs and --senders)\n"
    "  --lua-only     only the in-process figures (verify bound, Lua calls), no network\n"
    "  --lua          the run's txs call the counter contract (gas metered) instead of kv\n"
    "  --receivable   then a run of receivable issues (ed25519) by registered cores (3,000\n"
    "                 from 64 with --quick, else 20,000 from 200; registry setup before the\n"
    "                 clock); its figures are named receivable_*\n";

/* ------------------------------------------------------------- flags */

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out) {
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < min || v > max) return -1;
  *out = (uint32_t)v;
  return 0;
}

static void defaults(qcb_config_t *c, bool quick) {
  memset(c, 0, sizeof *c);
  c->quick = quick;
  c->nodes = 4;
  c->txs = quick ? 6000 : 60000;
  c->senders = quick ? 500 : 2000;
  c->lanes_per_node = 8;
  c->batch = 64;
  c->poll_ms = 10;
  c->linger_ms = 10;
  c->propose_linger = -1;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  c->cores = cpus > 0 ? (uint32_t)cpus : 1;
  c->tmp_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  c->keep = getenv("BENCH_KEEP") != NULL;
  c->suite = QP_SUITE_ED25519;
  c->headline = !quick;
  c->prefix = "";
}

/* --crypto: one suite, or both (*both set, suite ed25519 first). */
static int parse_crypto(const char *name, qcb_config_t *c, bool *both) {
  *both = strcmp(name, "both") == 0;
  if (*both) return 0;
  if (qp_suite_parse(name, strlen(name), &c->suite) == 0) return 0;
  fprintf(stderr, "chain-bench: --crypto must be ed25519, sm2 or both, not '%.64s'\n", name);
  return -1;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, qcb_config_t *c, bool *both) {
  bool quick = false;
  for (int i = 1; i < argc; i++) quick = quick || strcmp(argv[i], "--quick") == 0;
  defaults(c, quick);
  static const struct option opts[] = {
      {"quipu", required_argument, NULL, 'q'},   {"quick", no_argument, NULL, 'Q'},
      {"txs", required_argument, NULL, 'n'},     {"senders", required_argument, NULL, 's'},
      {"connections", required_argument, NULL, 'c'}, {"rate", required_argument, NULL, 'r'},
      {"batch", required_argument, NULL, 'b'},   {"linger-ms", required_argument, NULL, 'l'},
      {"poll-ms", required_argument, NULL, 'p'}, {"validators", required_argument, NULL, 'v'},
      {"tmp", required_argument, NULL, 't'},     {"keep", no_argument, NULL, 'k'},
      {"timeline", no_argument, NULL, 'T'},      {"help", no_argument, NULL, 'h'},
      {"crypto", required_argument, NULL, 'C'},
      {"lua-only", no_argument, NULL, 'L'},      {"lua", no_argument, NULL, 'U'},
      {"receivable", no_argument, NULL, 'R'},    {"propose-max", required_argument, NULL, 'P'},
      {"propose-linger-ms", required_argument, NULL, 'G'}, {NULL, 0, NULL, 0}};
  uint32_t linger = 0;
  int opt, bad = 0;
  while (!bad && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (opt) {
    case 'q': c->quipu = optarg; break;
    case 'Q': break;
    case 'n':
      bad = parse_u32(optarg, 1, QCB_TXS_MAX, &c->txs);
      c->headline = false;
      break;
    case 's': bad = parse_u32(optarg, 1, QCB_TXS_MAX, &c->senders); break;
    case 'c': bad = parse_u32(optarg, 1, QCB_LANES_PER_NODE_MAX, &c->lanes_per_node); break;
    case 'b': bad = parse_u32(optarg, 1, 8190, &c->batch); break;
    case 'r':
      bad = parse_u32(optarg, 0, 10000000, &c->rate);
      c->headline = false;
      break;
    case 'p': bad = parse_u32(optarg, 1, 1000, &c->poll_ms); break;
    case 'l': bad = parse_u32(optarg, 0, 1000, &c->linger_ms); break;
    case 'v': bad = parse_u32(optarg, 1, QCB_NODES_MAX, &c->nodes); break;
    case 't': c->tmp_dir = optarg; break;
    case 'k': c->keep = true; break;
    case 'T': c->timeline = true; break;
    case 'C': bad = parse_crypto(optarg, c, both); break;
    case 'L': c->lua_only = true; break;
    case 'U':
      c->lua = true;
      c->headline = false;
      break;
    case 'R': c->receivable = true; break;
    case 'P': bad = parse_u32(optarg, 1, 65536, &c->propose_max); break;
    case 'G':
      bad = parse_u32(optarg, 0, 500, &linger);
      c->propose_linger = (int32_t)linger;
      break;
    case 'h': fputs(USAGE, stdout); return 0;
    default: bad = 1;
    }
  }
  if (bad || optind < argc || (c->quipu == NULL && !c->lua_only) || c->senders > c->txs) {
    fputs(c->senders > c->txs ? "chain-bench: --senders must not exceed --txs\n" : "", stderr);
    fputs(USAGE, stderr);
    return 2;
  }
  return -1;
}

/* -------------------------------------------------------- the bound */

/* VERIFY_SIGS signatures of transaction-shaped messages (the domain and a
 * 32-byte hash), each by its own key of the suite. */
typedef struct sigs {
  qp_suite_t suite;
  uint8_t msg[VERIFY_SIGS][QP_CHAIN_TX_SIGNED_LEN];
  uint8_t sig[VERIFY_SIGS][QP_SIGN_SIG_MAX];
  uint8_t pub[VERIFY_SIGS][QP_SIGN_PUBLIC_MAX];
  size_t pub_len, sig_len; /* the suite's sizes */
} sigs_t;

static int sigs_make(sigs_t *s, qp_suite_t suite) {
  int rc = 0;
  s->suite = suite;
  for (uint32_t i = 0; rc == 0 && i < VERIFY_SIGS; i++) {
    qp_sign_key_t *key = NULL;
    rc = qp_sign_keygen(suite, &key);
    memcpy(s->msg[i], QP_CHAIN_TX_DOMAIN, QP_CHAIN_TX_DOMAIN_LEN);
    uint64_t seed = i * 0x9e3779b97f4a7c15ull;
    if (rc == 0) rc = qp_suite_hash(suite, s->msg[i] + QP_CHAIN_TX_DOMAIN_LEN, &seed, 8);
    if (rc == 0) rc = qp_sign(key, s->msg[i], QP_CHAIN_TX_SIGNED_LEN, s->sig[i], &s->sig_len);
    if (rc == 0) qp_sign_public(key, s->pub[i], &s->pub_len);
    qp_sign_key_free(key);
  }
  return rc;
}

/* Verifications per second on this thread, round and round the signatures
 * for about a second: libsodium's crypto_sign_verify_detached alone (raw,
 * Ed25519 only: the bound), or qp_verify, which the nodes call and
 * which also checks the public key (Ed25519: a point of the prime-order
 * subgroup; SM2: a point on the curve, then OpenSSL's SM2 verification). */
static int measure_verify(const sigs_t *s, bool raw, double *per_s) {
  QP_ASSERT(!raw || s->suite == QP_SUITE_ED25519);
  uint64_t count = 0, t0 = qp_clock_mono_ns(), elapsed = 0;
  int rc = 0;
  while (rc == 0 && elapsed < VERIFY_NS) {
    for (uint32_t i = 0; rc == 0 && i < VERIFY_SIGS; i++, count++)
      rc = raw ? crypto_sign_verify_detached(s->sig[i], s->msg[i], QP_CHAIN_TX_SIGNED_LEN,
                                             s->pub[i])
               : qp_verify(s->suite, s->pub[i], s->pub_len, s->msg[i], QP_CHAIN_TX_SIGNED_LEN,
                           s->sig[i], s->sig_len);
    elapsed = qp_clock_mono_ns() - t0;
  }
  *per_s = elapsed ? (double)count * 1e9 / (double)elapsed : 0;
  return rc == 0 ? 0 : QP_EBADSIG;
}

/* The suite's rates, reported; *bound_per_s is the raw libsodium one for
 * Ed25519 and qp_verify's for SM2 (OpenSSL's SM2 has no cheaper path). */
static int verify_rates(qp_suite_t suite, qb_report_t *rep, double *bound_per_s) {
  sigs_t *s = qp_malloc(sizeof *s);
  double qp_per_s = 0;
  bool ed = suite == QP_SUITE_ED25519;
  int rc = s ? sigs_make(s, suite) : QP_ENOMEM;
  if (rc == 0 && ed) rc = measure_verify(s, true, bound_per_s);
  if (rc == 0) rc = measure_verify(s, false, &qp_per_s);
  qp_free(s);
  if (rc != 0) return rc;
  if (!ed) {
    *bound_per_s = qp_per_s;
    qb_report_add(rep, "sm2_verify_per_s", qp_per_s, "verifications/s", 0);
    printf("   one core: qp_verify sm2 (OpenSSL SM2 with SM3, + point check of the key) "
           "%.0f/s\n", qp_per_s);
    return 0;
  }
  qb_report_add(rep, "ed25519_verify_per_s", *bound_per_s, "verifications/s", 0);
  qb_report_add(rep, "qp_verify_per_s", qp_per_s, "verifications/s", 0);
  printf("   one core: libsodium verify %.0f/s; qp_verify (+ subgroup check of the key) %.0f/s\n",
         *bound_per_s, qp_per_s);
  return 0;
}

/* Adds a figure of the run: ed25519 figures keep their names, sm2 ones are
 * "sm2_" + name, so one report holds both suites; then the run's own
 * prefix ("receivable_" for the receivable run, "flood_" for the headline's
 * capacity run), so those keep their own names. */
static const char *fig_prefix = "";

static void fig(qb_report_t *rep, qp_suite_t suite, const char *name, double value,
                const char *unit, int decimals) {
  char full[96];
  snprintf(full, sizeof full, "%s%s%s", suite == QP_SUITE_SM2 ? "sm2_" : "", fig_prefix, name);
  qb_report_add(rep, full, value, unit, decimals);
}

/* --------------------------------------------------------- figures */

/* CPU seconds used so far by each node and by this process. */
typedef struct cpu_snap {
  double node_s[QCB_NODES_MAX]; /* per node */
  double client_s;              /* this process: curl, polls */
  qcb_thread_t threads[QCB_NODES_MAX][QCB_THREADS_MAX]; /* per node, per thread */
  uint32_t threads_count[QCB_NODES_MAX];                 /* ... how many */
} cpu_snap_t;

static void cpu_snap(const qcb_net_t *net, cpu_snap_t *out) {
  for (uint32_t k = 0; k < net->count; k++) {
    out->node_s[k] = qcb_cpu_s(net->pids[k]);
    out->threads_count[k] = qcb_threads(net->pids[k], out->threads[k]);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  out->client_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef struct after_ctx {
  const qcb_net_t *net;
  cpu_snap_t *snap;
} after_ctx_t;

static void snap_after(void *ctx) {
  after_ctx_t *a = ctx;
  cpu_snap(a->net, a->snap);
}

/* Each committed transaction's latency (sorted) and the last commit time. */
static int latencies(const qcb_txs_t *txs, const qcb_load_t *load, uint64_t **lat_out,
                     uint64_t *last_commit_ns) {
  uint64_t *lat = qp_malloc((size_t)txs->count * sizeof *lat);
  if (lat == NULL) return QP_ENOMEM;
  *last_commit_ns = 0;
  for (uint32_t i = 0; i < txs->count; i++) {
    const qcb_tx_t *t = &txs->txs[i];
    QP_ASSERT(t->height > 0 && t->height < QCB_HEIGHTS_MAX); /* cb_check.c found them all */
    uint64_t at = load->commit_ns[(uint64_t)t->node * QCB_HEIGHTS_MAX + t->height];
    if (at == 0 || at < t->submit_ns) {
      fprintf(stderr, "chain-bench: CHECK FAILED: no commit time for block %llu on node%u\n",
              (unsigned long long)t->height, t->node);
      qp_free(lat);
      return QP_ECORRUPT;
    }
    lat[i] = at - t->submit_ns;
    if (at > *last_commit_ns) *last_commit_ns = at;
  }
  qb_sort_u64(lat, txs->count);
  *lat_out = lat;
  return 0;
}

/* A fixed-rate run's sustained committed rate: the transactions committed
 * (on the node they were sent to) from 2 s after the first submit, once
 * the pipeline filled, to the last submit, over that window; -1 when the
 * window is shorter than 2 s (a flood admits everything at once, and its
 * rate is chain_tps).  A chain that falls behind its offered load commits
 * less than the offer inside the window, so this is the rate it sustains. */
#define STEADY_WARMUP_NS 2000000000ull
static double steady_tps(const qcb_txs_t *txs, const qcb_load_t *load, double *window_out) {
  uint64_t from = load->start_ns + STEADY_WARMUP_NS, to = load->submitted_ns;
  *window_out = 0;
  if (to < from + STEADY_WARMUP_NS) return -1;
  uint64_t in = 0;
  for (uint32_t i = 0; i < txs->count; i++) {
    const qcb_tx_t *t = &txs->txs[i];
    uint64_t at = load->commit_ns[(uint64_t)t->node * QCB_HEIGHTS_MAX + t->height];
    in += at >= from && at < to;
  }
  *window_out = (double)(to - from) / 1e9;
  return (double)in / *window_out;
}

/* Node k's threads between the snapshots: the consensus driver, the
 * admission thread of forwarded transactions (src/chain names both), the
 * other threads that ran before the load (the peer transport, the HTTP
 * server's), and those that started during it (HTTP connection threads);
 * what threads that ended during the load used is in none of them. */
typedef struct thread_cpu {
  double driver_s, admit_s, top_s, new_s;
} thread_cpu_t;

static void thread_split(const cpu_snap_t *a, const cpu_snap_t *b, uint32_t k, thread_cpu_t *o) {
  memset(o, 0, sizeof *o);
  for (uint32_t i = 0; i < b->threads_count[k]; i++) {
    const qcb_thread_t *t = &b->threads[k][i];
    double before = -1;
    for (uint32_t j = 0; j < a->threads_count[k] && before < 0; j++)
      if (a->threads[k][j].tid == t->tid) before = a->threads[k][j].cpu_s;
    double used = t->cpu_s - (before < 0 ? 0 : before);
    if (strcmp(t->name, "chain-driver") == 0) o->driver_s += used;
    else if (strcmp(t->name, "chain-admit") == 0) o->admit_s += used;
    else if (before < 0) o->new_s += used;
    else o->top_s += used;
  }
}

/* Per node: CPU over the load window, mean proposal-to-commit time and
 * dropped peer messages (its /metrics); then the share of all cores used. */
static void report_nodes(const qcb_config_t *cfg, const qcb_net_t *net, const cpu_snap_t *a,
                         const cpu_snap_t *b, double window_s, uint32_t txs, qb_report_t *rep) {
  double total = b->client_s - a->client_s;
  printf("   %-6s %8s %6s %9s %16s %8s %8s %8s %8s %9s %10s %9s %10s %8s\n", "node", "cpu_s",
         "cpu_%", "cpu_us/tx", "proposal→commit", "dropped", "driver", "admit", "other",
         "http_conn", "verify/tx", "in_block", "vouched/tx", "timeouts");
  double verified_all = 0;
  for (uint32_t k = 0; k < net->count; k++) {
    double cpu = b->node_s[k] - a->node_s[k];
    double blocks = qcb_metric(net, k, "quipu_chain_blocks_committed_total");
    double sum = qcb_metric(net, k, "quipu_chain_commit_latency_ms_sum");
    double dropped = qcb_metric(net, k, "quipu_chain_dropped_messages_total");
    double verified = qcb_metric(net, k, "quipu_chain_signature_verifications_total");
    double in_block = qcb_metric(net, k, "quipu_chain_block_signature_verifications_total");
    double vouched = qcb_metric(net, k, "quipu_chain_vouched_txs_total");
    double timeouts = qcb_metric(net, k, "quipu_chain_vouch_timeouts_total");
    verified_all += verified;
    thread_cpu_t t;
    thread_split(a, b, k, &t);
    printf("   node%-2u %8.2f %5.0f%% %9.1f %13.1f ms %8.0f %6.2f s %6.2f s %6.2f s %7.2f s "
           "%10.3f %9.3f %10.3f %8.0f\n",
           k, cpu, 100 * cpu / window_s, 1e6 * cpu / txs, blocks > 0 ? sum / blocks : 0,
           dropped, t.driver_s, t.admit_s, t.top_s, t.new_s, verified / txs,
           in_block / txs, vouched / txs, timeouts);
    total += cpu;
  }
  printf("   client %8.2f %5.0f%%\n", b->client_s - a->client_s,
         100 * (b->client_s - a->client_s) / window_s);
  double nodes_s = total - (b->client_s - a->client_s);
  fig(rep, cfg->suite, "chain_verifications_per_tx", verified_all / txs,
      "signature_checks_per_tx_all_nodes", 2);
  fig(rep, cfg->suite, "chain_node_cpu_us_per_tx", 1e6 * nodes_s / net->count / txs,
      "us_per_tx_per_node", 0);
  fig(rep, cfg->suite, "chain_cpu_busy", 100 * total / (window_s * cfg->cores),
      "%_of_all_cores", 0);
}

/* The run's figures: throughput, latency, the ratio to the bound. */
static int report_run(const qcb_config_t *cfg, const qcb_txs_t *txs, const qcb_load_t *load,
                      const qcb_check_t *chk, double verify_per_s, qb_report_t *rep) {
  uint64_t *lat = NULL, last_commit = 0;
  int rc = latencies(txs, load, &lat, &last_commit);
  if (rc != 0) return rc;
  uint64_t n = txs->count;
  double window_s = (double)(last_commit - load->start_ns) / 1e9;
  double admit_s = (double)(load->submitted_ns - load->start_ns) / 1e9;
  double tps = (double)n / window_s, bound = verify_per_s * cfg->cores / cfg->nodes;
  printf("   %llu txs from %u senders over %u connections (%u per node), %u per request at "
         "most, offered %s%s;\n"
         "   all admitted in %.2f s (%.0f tx/s, %llu retries), last commit %.2f s after the "
         "first submit\n   %llu blocks, %llu with the run's txs (%.0f txs each); latency "
         "p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
         (unsigned long long)n, txs->senders, cfg->lanes_per_node * cfg->nodes,
         cfg->lanes_per_node, cfg->batch, cfg->rate ? "" : "as fast as admitted",
         cfg->rate ? "at a fixed rate" : "", admit_s, (double)n / admit_s,
         (unsigned long long)load->retries, window_s, (unsigned long long)chk->height,
         (unsigned long long)chk->blocks_with_txs, (double)n / (double)chk->blocks_with_txs,
         (double)qb_percentile(lat, n, 50) / 1e6, (double)qb_percentile(lat, n, 90) / 1e6,
         (double)qb_percentile(lat, n, 99) / 1e6, (double)lat[n - 1] / 1e6);
  qp_suite_t su = cfg->suite;
  double steady_window = 0, steady = cfg->rate ? steady_tps(txs, load, &steady_window) : -1;
  if (cfg->rate) printf("   offered rate %u tx/s", cfg->rate);
  if (steady >= 0)
    printf("; committed %.0f tx/s sustained (commits from 2 s after the first submit to the "
           "last submit, a %.1f s window)", steady, steady_window);
  if (cfg->rate) printf("\n");
  if (steady >= 0 && !cfg->lua && !cfg->receivable)
    fig(rep, su, "chain_tps_sustained", steady, "tx/s", 0);
  fig(rep, su, "chain_admit_per_s", (double)n / admit_s, "tx/s", 0);
  fig(rep, su, cfg->lua ? "lua_calls_per_s_consensus"
               : cfg->receivable ? "ops_per_s_consensus" : "chain_tps", tps,
      cfg->lua ? "calls/s" : cfg->receivable ? "ops/s" : "tx/s", 0);
  fig(rep, su, "chain_commit_p50_ms", (double)qb_percentile(lat, n, 50) / 1e6, "ms", 1);
  fig(rep, su, "chain_commit_p99_ms", (double)qb_percentile(lat, n, 99) / 1e6, "ms", 1);
  fig(rep, su, "chain_commit_max_ms", (double)lat[n - 1] / 1e6, "ms", 1);
  fig(rep, su, "chain_verify_bound_tps", bound, "tx/s", 0);
  fig(rep, su, "chain_tps_vs_verify_bound", tps / bound, "x", 3);
  printf("   bound: %.0f %s verifications/s per core x %u cores / %u validators (each "
         "verifies every tx once) = %.0f tx/s; floor 5,000 tx/s with p99 <= 2 s, aim 10,000 "
         "tx/s (Ed25519)\n", verify_per_s, qp_suite_name(su), cfg->cores, cfg->nodes, bound);
  qp_free(lat);
  return 0;
}

/* Every block: who proposed it in which view, what it carried, when it was
 * proposed (the proposer's wall clock) and when each node showed it, in ms
 * after the first submit.  wall_off_ns converts monotonic to wall time. */
static void print_timeline(const qcb_net_t *net, const qcb_load_t *load,
                           const qcb_check_t *chk, int64_t wall_off_ns) {
  double t0_ms = (double)((int64_t)load->start_ns + wall_off_ns) / 1e6;
  printf("   %6s %6s %4s %7s %7s %10s  commit at node 0..%u (ms after the first submit)\n",
         "height", "view", "prop", "entries", "fresh", "proposed", net->count - 1);
  for (uint64_t h = 1; h <= chk->height && h < QCB_HEIGHTS_MAX; h++) {
    const qcb_block_t *b = &chk->blocks[h];
    printf("   %6llu %6llu %4u %7u %7u %10.0f ", (unsigned long long)h,
           (unsigned long long)b->view, b->proposer, b->entries, b->fresh,
           (double)b->timestamp_ms - t0_ms);
    for (uint32_t k = 0; k < net->count; k++) {
      uint64_t at = load->commit_ns[(uint64_t)k * QCB_HEIGHTS_MAX + h];
      printf(" %7.0f", at ? (double)(at - load->start_ns) / 1e6 : -1.0);
    }
    printf("\n");
  }
}

/* Starts the network, signs, loads, checks and reports. */
static int run(const qcb_config_t *cfg, double verify_per_s, qb_report_t *rep) {
  qcb_net_t net;
  qcb_txs_t txs = {0};
  qcb_load_t load = {0};
  qcb_check_t chk = {0};
  static cpu_snap_t before, after; /* large: per-thread tables */
  fig_prefix = cfg->prefix;
  int rc = qcb_net_start(cfg, &net);
  if (rc == 0)
    printf("-- %u validators up, suite %s (HTTP on 127.0.0.1:%u, +2 each; homes under %s)\n",
           cfg->nodes, qp_suite_name(cfg->suite), net.base_port, net.dir);
  uint64_t t0 = qp_clock_mono_ns();
  int64_t wall_off = (int64_t)qp_clock_wall_ns() - (int64_t)qp_clock_mono_ns();
  qcb_rcv_t rcv = {0};
  if (rc == 0 && cfg->lua) rc = qcb_lua_deploy(cfg, &net);
  if (rc == 0 && cfg->receivable) rc = qcb_rcv_setup(cfg, &net, &rcv);
  if (rc == 0)
    rc = qcb_txs_make(cfg, net.genesis, qp_clock_wall_ns(), cfg->receivable ? &rcv : NULL, &txs);
  txs.setup_txs = rcv.setup_txs;
  if (rc == 0)
    printf("-- signed %u %s from %u in-memory keys in %.2f s (before the clock)\n", txs.count,
           cfg->lua ? "counter-contract calls" : cfg->receivable ? "receivable issues" : "kv puts",
           txs.senders, (double)(qp_clock_mono_ns() - t0) / 1e9);
  fflush(stdout);
  if (rc == 0) cpu_snap(&net, &before);
  after_ctx_t ac = {&net, &after};
  if (rc == 0) rc = qcb_load_run(cfg, &net, &txs, &load, snap_after, &ac);
  if (rc == 0)
    report_nodes(cfg, &net, &before, &after,
                 (double)(load.end_ns - load.start_ns) / 1e9, txs.count, rep);
  if (rc == 0) rc = qcb_check_run(cfg, &net, &txs, &chk);
  if (rc == 0 && cfg->timeline) print_timeline(&net, &load, &chk, wall_off);
  if (rc == 0 && cfg->prefix[0] == '\0') /* the suite's own run, not receivable_ or flood_ */
    rc = qcb_proofs_run(&net, &txs, verify_per_s, rep);
  if (rc == 0) rc = report_run(cfg, &txs, &load, &chk, verify_per_s, rep);
  if (rc != 0)
    for (uint32_t k = 0; k < net.count; k++) qcb_net_log_tail(&net, k);
  int stop = qcb_net_stop(&net, cfg->keep || rc != 0);
  qcb_load_free(&load);
  qcb_check_free(&chk);
  qcb_txs_free(&txs);
  qcb_rcv_free(&rcv);
  fig_prefix = "";
  return rc != 0 ? rc : stop;
}

/* The headline (make bench-chain, Ed25519): the floor's run, FLOOR_RUN_S
 * seconds offered at FLOOR_RATE tx/s - a tenth above the floor of
 * 5,000, so a chain that only just keeps up shows it - whose chain_tps and
 * p50/p99 are the figures to hold against the floor; then a flood of
 * cfg->txs as fast as admission allows, its figures named flood_* (the
 * capacity, and what latency a queue of a whole flood costs). */
#define FLOOR_RATE 5500u
#define FLOOR_RUN_S 60u

static int run_headline(const qcb_config_t *cfg, double verify_per_s, qb_report_t *rep) {
  qcb_config_t floor = *cfg, flood = *cfg;
  floor.rate = FLOOR_RATE;
  floor.txs = FLOOR_RATE * FLOOR_RUN_S;
  printf("-- the floor's run: %u txs offered at %u tx/s (%u s); then a flood of %u (flood_*)\n",
         floor.txs, floor.rate, FLOOR_RUN_S, flood.txs);
  int rc = run(&floor, verify_per_s, rep);
  flood.prefix = "flood_";
  if (rc == 0) rc = run(&flood, verify_per_s, rep);
  return rc;
}

/* The bound, then the run, for cfg's suite. */
static int run_suite(const qcb_config_t *cfg, qb_report_t *rep) {
  printf("== quipu-chain-bench%s: %u validators, %u txs, %u senders, %u cores, suite %s\n",
         cfg->quick ? " (quick)" : "", cfg->nodes, cfg->txs, cfg->senders, cfg->cores,
         qp_suite_name(cfg->suite));
  double verify_per_s = 0;
  int rc = verify_rates(cfg->suite, rep, &verify_per_s);
  if (rc == 0 && cfg->suite == QP_SUITE_ED25519) rc = qcb_lua_rates(rep, cfg->quick);
  if (rc == 0 && !cfg->lua_only)
    rc = cfg->headline && cfg->suite == QP_SUITE_ED25519 ? run_headline(cfg, verify_per_s, rep)
                                                         : run(cfg, verify_per_s, rep);
  return rc;
}

/* One row of the side-by-side table: the ed25519 figure and the sm2 one. */
static void side_row(const qb_report_t *rep, const char *label, const char *ed,
                     const char *sm2, int decimals) {
  double a = qb_report_get(rep, ed), b = qb_report_get(rep, sm2);
  printf("   %-34s %14.*f %14.*f %10.2f\n", label, decimals, a, decimals, b, a > 0 ? b / a : 0);
}

static void side_by_side(const qb_report_t *rep) {
  /* sm2's run is a flood: beside it the Ed25519 flood when the headline ran one */
  bool flood = qb_report_get(rep, "flood_chain_tps") > 0;
  const char *ed = flood ? "flood_" : "";
  char n[5][64];
  static const char *const names[5] = {"chain_tps", "chain_admit_per_s", "chain_commit_p50_ms",
                                       "chain_commit_p99_ms", "chain_tps_vs_verify_bound"};
  for (int i = 0; i < 5; i++) snprintf(n[i], sizeof n[i], "%s%s", ed, names[i]);
  printf("== side by side%s %*s %14s %14s %10s\n", flood ? " (floods)" : "", flood ? 10 : 19, "",
         "ed25519", "sm2", "sm2/ed");
  side_row(rep, "verifications/s, one core (bound)", "ed25519_verify_per_s",
           "sm2_verify_per_s", 0);
  side_row(rep, "qp_verify/s, one core", "qp_verify_per_s", "sm2_verify_per_s", 0);
  side_row(rep, "committed tx/s", n[0], "sm2_chain_tps", 0);
  side_row(rep, "admitted tx/s", n[1], "sm2_chain_admit_per_s", 0);
  side_row(rep, "commit latency p50 (ms)", n[2], "sm2_chain_commit_p50_ms", 1);
  side_row(rep, "commit latency p99 (ms)", n[3], "sm2_chain_commit_p99_ms", 1);
  side_row(rep, "verify bound (tx/s)", "chain_verify_bound_tps", "sm2_chain_verify_bound_tps", 0);
  side_row(rep, "tx/s / bound", n[4], "sm2_chain_tps_vs_verify_bound", 3);
}

/* --receivable: issues by registered cores through consensus, against the
 * ed25519 bound measured before. */
static int run_receivable(const qcb_config_t *cfg, qb_report_t *rep) {
  qcb_config_t r = *cfg;
  r.suite = QP_SUITE_ED25519;
  r.receivable = true;
  r.prefix = "receivable_";
  r.lua = false;
  r.txs = cfg->quick ? 3000 : 20000;
  r.senders = cfg->quick ? 64 : 200;
  printf("== receivable: %u issues from %u registered cores through consensus, %u validators\n",
         r.txs, r.senders, r.nodes);
  double verify_per_s = qb_report_get(rep, "ed25519_verify_per_s");
  int rc = verify_per_s > 0 ? 0 : verify_rates(QP_SUITE_ED25519, rep, &verify_per_s);
  return rc == 0 ? run(&r, verify_per_s, rep) : rc;
}

int main(int argc, char **argv) {
  qcb_config_t cfg;
  bool both = false;
  int code = parse_args(argc, argv, &cfg, &both);
  if (code >= 0) return code;
  bool with_receivable = cfg.receivable;
  cfg.receivable = false; /* the suites' runs are kv (or --lua) */
  if (qp_crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
  qb_report_t *rep = qp_calloc(1, sizeof *rep);
  if (rep == NULL) return 1;
  int rc = run_suite(&cfg, rep);
  if (rc == 0 && both && !cfg.lua_only) { /* SM2 verifies slower: a shorter run says as much */
    qcb_config_t sm2 = cfg;
    sm2.suite = QP_SUITE_SM2;
    sm2.txs = cfg.txs / 3 > 0 ? cfg.txs / 3 : 1;
    sm2.senders = cfg.senders / 3 > 0 ? cfg.senders / 3 : 1;
    if (sm2.senders > sm2.txs) sm2.senders = sm2.txs;
    rc = run_suite(&sm2, rep);
    if (rc == 0) side_by_side(rep);
  }
  if (rc == 0 && with_receivable && !cfg.lua_only) rc = run_receivable(&cfg, rep);
  if (rc != 0) fprintf(stderr, "chain-bench: FAILED: %s\n", qp_strerror(rc));
  else printf("== every check held\n");
  qp_free(rep);
  curl_global_cleanup();
  return rc == 0 ? 0 : 1;
}
