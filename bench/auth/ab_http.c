/*
 * ab_http.c - the HTTP part: the node, the setup, then three phases of
 * payments and the ledger read back.  PREPARE makes P intents and their
 * challenges and signs each assertion (kept, not sent); CONFIRM sends only
 * those P confirms, so auth_confirm_per_s and its p50/p99 are the confirm
 * route alone under concurrency; FLOW runs P more payments through the
 * whole flow (intent, challenge, signing, confirm), auth_flow_per_s.  The
 * client shares the machine's cores with the node; the node's CPU time per
 * confirm (from /proc, 10 ms ticks) says how much of the wall time is
 * computation, and the disk's flush rate measured just before says what
 * the rest waits for.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth_bench.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

/* p50 and p99 of the phase's confirm (or whole flow) latencies, in ms. */
static int latencies(const qab_pay_t *pays, uint32_t count, bool flow, const char *prefix,
                     qb_report_t *rep) {
  uint64_t *v = qp_calloc(count, sizeof *v);
  if (v == NULL) return QP_ENOMEM;
  for (uint32_t i = 0; i < count; i++) v[i] = flow ? pays[i].flow_ns : pays[i].confirm_ns;
  qb_sort_u64(v, count);
  char name[64];
  snprintf(name, sizeof name, "%s_p50_ms", prefix);
  qb_report_add(rep, name, (double)qb_percentile(v, count, 50) / 1e6, "ms", 2);
  snprintf(name, sizeof name, "%s_p99_ms", prefix);
  qb_report_add(rep, name, (double)qb_percentile(v, count, 99) / 1e6, "ms", 2);
  qp_free(v);
  return 0;
}

static double per_s(uint32_t count, uint64_t ns) {
  return ns > 0 ? (double)count * 1e9 / (double)ns : 0;
}

/* 4 KiB pwrite + fdatasync rounds per second in the node's directory for
 * about ms: the disk's flush rate at this moment, beside which the HTTP
 * figures are read (every confirm waits for several flushes). */
static int flush_rate(const qab_node_t *n, uint64_t ms, qb_report_t *rep) {
  char path[460];
  uint8_t page[4096];
  memset(page, 0x5a, sizeof page);
  snprintf(path, sizeof path, "%s/flush-probe", n->dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return QP_EIO;
  uint64_t count = 0, t0 = qp_clock_mono_ns(), elapsed = 0;
  int rc = 0;
  while (rc == 0 && elapsed < ms * 1000000u) {
    if (pwrite(fd, page, sizeof page, (off_t)(count % 256) * 4096) != (ssize_t)sizeof page ||
        fdatasync(fd) != 0)
      rc = QP_EIO;
    count++;
    elapsed = qp_clock_mono_ns() - t0;
  }
  close(fd);
  unlink(path);
  if (rc == 0) qb_report_add(rep, "disk_fdatasync_per_s", per_s((uint32_t)count, elapsed),
                             "flushes/s", 0);
  return rc;
}

/* The three phases over pays[0, 2P): the first P prepared then confirmed,
 * the second P through the whole flow. */
static int phases(const qab_config_t *cfg, const qab_node_t *n, qab_user_t *users,
                  qab_pay_t *pays, qb_report_t *rep) {
  uint32_t p = cfg->payments;
  uint64_t ns = 0;
  int rc = flush_rate(n, cfg->quick ? 300 : 1000, rep);
  if (rc != 0) return rc;
  printf("== %u payments prepared (intent + challenge, assertion signed) over %u "
         "connections\n", p, cfg->lanes);
  rc = qab_load_run(cfg, n, users, pays, p, QAB_PHASE_PREPARE, &ns);
  if (rc == 0) qb_report_add(rep, "auth_prepare_per_s", per_s(p, ns), "intents/s", 0);
  if (rc == 0) printf("== the %u confirms alone\n", p);
  double cpu0 = qab_node_cpu_s(n);
  if (rc == 0) rc = qab_load_run(cfg, n, users, pays, p, QAB_PHASE_CONFIRM, &ns);
  double cpu = qab_node_cpu_s(n) - cpu0;
  if (rc == 0) qb_report_add(rep, "auth_confirm_per_s", per_s(p, ns), "confirms/s", 0);
  if (rc == 0 && cpu0 >= 0)
    qb_report_add(rep, "auth_confirm_node_cpu_us", cpu * 1e6 / p, "us/confirm", 0);
  if (rc == 0) rc = latencies(pays, p, false, "auth_confirm", rep);
  if (rc == 0) printf("== %u payments through the whole flow\n", p);
  if (rc == 0) rc = qab_load_run(cfg, n, users, pays + p, p, QAB_PHASE_FLOW, &ns);
  if (rc == 0) qb_report_add(rep, "auth_flow_per_s", per_s(p, ns), "payments/s", 0);
  if (rc == 0) rc = latencies(pays + p, p, true, "auth_flow", rep);
  if (rc == 0) rc = latencies(pays + p, p, false, "auth_flow_confirm", rep);
  return rc;
}

/* Payments of both halves: user k % users, amounts 1..10000. */
static qab_pay_t *make_pays(const qab_config_t *cfg) {
  uint32_t count = 2 * cfg->payments;
  qab_pay_t *pays = qp_calloc(count, sizeof *pays);
  for (uint32_t i = 0; pays != NULL && i < count; i++) {
    uint32_t k = i % cfg->payments;
    pays[i].user = k % cfg->users;
    pays[i].amount = 1 + (uint64_t)i * 7919u % 10000u;
  }
  return pays;
}

int qab_http_run(const qab_config_t *cfg, qb_report_t *rep) {
  qab_node_t n;
  qab_user_t *users = qp_calloc(cfg->users, sizeof *users);
  qab_pay_t *pays = make_pays(cfg);
  int rc = users != NULL && pays != NULL ? qab_node_start(cfg, &n) : QP_ENOMEM;
  bool started = rc == 0;
  if (rc == 0) {
    printf("== node %s (ledger + auth), %u users registering one credential each "
           "(ES256 / EdDSA alternately)\n", n.url, cfg->users);
    rc = qab_setup(cfg, &n, users);
  }
  if (rc == 0) rc = qab_check_refusal(&n, &users[0]);
  if (rc == 0) printf("== a flipped signature bit: refused (signature_invalid), no money "
                      "moved\n");
  if (rc == 0) rc = phases(cfg, &n, users, pays, rep);
  if (rc == 0) {
    rc = qab_check_ledger(cfg, &n, users, pays, 2 * cfg->payments);
    if (rc == 0) printf("== ledger check: all %u holds posted, every balance as paid\n",
                        2 * cfg->payments);
  }
  int stop = started ? qab_node_stop(&n, cfg->keep || rc != 0) : 0;
  if (rc == 0) rc = stop;
  for (uint32_t i = 0; users != NULL && i < cfg->users; i++) qb_authn_deinit(&users[i].authn);
  for (uint32_t i = 0; pays != NULL && i < 2 * cfg->payments; i++) qp_free(pays[i].confirm_body);
  qp_free(users);
  qp_free(pays);
  if (rc != 0) rep->failed = true;
  return rc;
}
