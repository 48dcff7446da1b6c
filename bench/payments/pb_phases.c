/*
 * pb_phases.c - the order of the run and its figures: the node and the
 * setup, the orders paid end to end (payments_orders_paid_per_s, the p50
 * and p99 of one order's whole flow, the node's CPU per order), then on the
 * same node and lanes the raw ledger rate (simple transfers, one a
 * request: payments_ledger_transfers_per_s) and the ratio of the two, then
 * the ledger read back.  The client shares the machine's cores with the
 * node; the node's CPU time (from /proc, 10 ms ticks) says how much of the
 * wall time is the node's computation.
 */
#include <stdio.h>

#include "pay_bench.h"
#include "base/alloc.h"
#include "base/err.h"

static double per_s(uint32_t count, uint64_t ns) {
  return ns > 0 ? (double)count * 1e9 / (double)ns : 0;
}

/* p50 and p99 of the orders' whole flows, in ms, and the reads per order. */
static int latencies(const pb_order_t *orders, uint32_t count, qb_report_t *rep) {
  uint64_t *v = qp_calloc(count, sizeof *v);
  if (v == NULL) return QP_ENOMEM;
  uint64_t polls = 0;
  for (uint32_t i = 0; i < count; i++) {
    v[i] = orders[i].flow_ns;
    polls += orders[i].polls;
  }
  qb_sort_u64(v, count);
  qb_report_add(rep, "payments_order_flow_p50_ms", (double)qb_percentile(v, count, 50) / 1e6,
                "ms", 2);
  qb_report_add(rep, "payments_order_flow_p99_ms", (double)qb_percentile(v, count, 99) / 1e6,
                "ms", 2);
  qb_report_add(rep, "payments_order_reads_until_paid", (double)polls / count, "GETs/order", 2);
  qp_free(v);
  return 0;
}

/* The two measured phases on the running node. */
static int phases(const pb_config_t *cfg, const qb_node_t *n, pb_user_t *users,
                  const char *merchant_id, pb_order_t *orders, qb_report_t *rep) {
  uint64_t ns = 0;
  printf("== %u orders paid end to end over %u connections (order, intent, challenge, "
         "passkey assertion, confirm, read until paid)\n", cfg->orders, cfg->lanes);
  double cpu0 = qb_node_cpu_s(n);
  int rc = pb_run(cfg, n, users, merchant_id, orders, cfg->orders, PB_PHASE_PAY, &ns);
  double cpu = qb_node_cpu_s(n) - cpu0;
  double orders_per_s = per_s(cfg->orders, ns);
  if (rc == 0) qb_report_add(rep, "payments_orders_paid_per_s", orders_per_s, "orders/s", 1);
  if (rc == 0 && cpu0 >= 0)
    qb_report_add(rep, "payments_order_node_cpu_us", cpu * 1e6 / cfg->orders, "us/order", 0);
  if (rc == 0) rc = latencies(orders, cfg->orders, rep);
  /* Collect by payment code: a PB_PHASE_COLLECT run goes here once the
   * payment codes have landed (pay_bench.h). */
  if (rc != 0) return rc;
  printf("== the same node's raw ledger rate: %u simple transfers, one per request, over %u "
         "connections\n", cfg->transfers, cfg->lanes);
  cpu0 = qb_node_cpu_s(n);
  rc = pb_run(cfg, n, users, merchant_id, NULL, cfg->transfers, PB_PHASE_TRANSFER, &ns);
  cpu = qb_node_cpu_s(n) - cpu0;
  double transfers_per_s = per_s(cfg->transfers, ns);
  if (rc == 0) {
    qb_report_add(rep, "payments_ledger_transfers_per_s", transfers_per_s, "transfers/s", 0);
    if (cpu0 >= 0)
      qb_report_add(rep, "payments_ledger_node_cpu_us", cpu * 1e6 / cfg->transfers,
                    "us/transfer", 0);
    qb_report_add(rep, "payments_orders_vs_transfers",
                  transfers_per_s > 0 ? orders_per_s / transfers_per_s : 0, "x", 3);
  }
  return rc;
}

/* Orders: user i % users, amounts 1..10000. */
static pb_order_t *make_orders(const pb_config_t *cfg) {
  pb_order_t *orders = qp_calloc(cfg->orders, sizeof *orders);
  for (uint32_t i = 0; orders != NULL && i < cfg->orders; i++) {
    orders[i].user = i % cfg->users;
    orders[i].amount = 1 + (uint64_t)i * 7919u % 10000u;
  }
  return orders;
}

int pb_bench(const pb_config_t *cfg, qb_report_t *rep) {
  qb_node_t n = {0};
  char merchant_id[48] = "";
  pb_user_t *users = qp_calloc(cfg->users, sizeof *users);
  pb_order_t *orders = make_orders(cfg);
  int rc = users != NULL && orders != NULL ? 0 : QP_ENOMEM;
  if (rc == 0) {
    printf("== node (ledger + auth + payments), %u payers registering one passkey each "
           "(ES256 / EdDSA alternately), one merchant\n", cfg->users);
    rc = pb_setup(cfg, &n, users, merchant_id, sizeof merchant_id);
  }
  if (rc == 0) rc = phases(cfg, &n, users, merchant_id, orders, rep);
  for (uint32_t i = 0; rc == 0 && i < cfg->orders; i++)
    users[orders[i].user].paid += orders[i].amount;
  if (rc == 0) rc = pb_check(cfg, &n, users, orders, cfg->transfers);
  if (rc == 0)
    printf("== ledger check: %u orders paid, each moved its amount exactly once; %u transfers; "
           "audit invariant ok\n", cfg->orders, cfg->transfers);
  int stop = n.pid > 0 ? qb_node_stop(&n, cfg->keep || rc != 0) : 0;
  if (rc == 0) rc = stop;
  for (uint32_t i = 0; users != NULL && i < cfg->users; i++) qb_authn_deinit(&users[i].authn);
  qp_free(users);
  qp_free(orders);
  if (rc != 0) rep->failed = true;
  return rc;
}
