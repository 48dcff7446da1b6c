/*
 * pb_phases.c - the order of the run and its figures: the node and the
 * setup, the orders paid end to end (payments_orders_paid_per_s, the p50
 * and p99 of one order's whole flow, the node's CPU per order), the devices
 * enrolled and the orders collected by payment code (payments_collects_per_s,
 * p50/p99 of the collect request and of order + collect), then on the
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

/* p50 and p99 of the items' times (flow_ns, or call_ns when call), in ms
 * under name_p50_ms / name_p99_ms. */
static int percentiles(const pb_order_t *items, uint32_t count, bool call, const char *name,
                       qb_report_t *rep) {
  uint64_t *v = qp_calloc(count, sizeof *v);
  if (v == NULL) return QP_ENOMEM;
  for (uint32_t i = 0; i < count; i++) v[i] = call ? items[i].call_ns : items[i].flow_ns;
  qb_sort_u64(v, count);
  char key[80];
  snprintf(key, sizeof key, "%s_p50_ms", name);
  qb_report_add(rep, key, (double)qb_percentile(v, count, 50) / 1e6, "ms", 2);
  snprintf(key, sizeof key, "%s_p99_ms", name);
  qb_report_add(rep, key, (double)qb_percentile(v, count, 99) / 1e6, "ms", 2);
  qp_free(v);
  return 0;
}

/* What the phases measured, for the ratios to the raw ledger rate. */
typedef struct {
  double orders_per_s;   /* orders paid end to end */
  double collects_per_s; /* orders collected by payment code */
} rates_t;

static int pay_phase(const pb_config_t *cfg, const qb_node_t *n, pb_user_t *users,
                     const char *merchant_id, pb_order_t *orders, qb_report_t *rep,
                     rates_t *rates) {
  uint64_t ns = 0, polls = 0;
  printf("== %u orders paid end to end over %u connections (order, intent, challenge, "
         "passkey assertion, confirm, read until paid)\n", cfg->orders, cfg->lanes);
  double cpu0 = qb_node_cpu_s(n);
  int rc = pb_run(cfg, n, users, merchant_id, orders, cfg->orders, PB_PHASE_PAY, &ns);
  double cpu = qb_node_cpu_s(n) - cpu0;
  rates->orders_per_s = per_s(cfg->orders, ns);
  if (rc != 0) return rc;
  qb_report_add(rep, "payments_orders_paid_per_s", rates->orders_per_s, "orders/s", 1);
  if (cpu0 >= 0)
    qb_report_add(rep, "payments_order_node_cpu_us", cpu * 1e6 / cfg->orders, "us/order", 0);
  for (uint32_t i = 0; i < cfg->orders; i++) polls += orders[i].polls;
  rc = percentiles(orders, cfg->orders, false, "payments_order_flow", rep);
  qb_report_add(rep, "payments_order_reads_until_paid", (double)polls / cfg->orders,
                "GETs/order", 2);
  return rc;
}

/* Devices enrolled (one per collect), then the collects themselves. */
static int collect_phase(const pb_config_t *cfg, const qb_node_t *n, pb_user_t *users,
                         const char *merchant_id, pb_order_t *collects, qb_report_t *rep,
                         rates_t *rates) {
  uint64_t ns = 0;
  printf("== %u wallet devices enrolled (POST /v1/devices), one per collect\n", cfg->collects);
  int rc = pb_run(cfg, n, users, merchant_id, collects, cfg->collects, PB_PHASE_ENROLL, &ns);
  if (rc != 0) return rc;
  qb_report_add(rep, "payments_devices_enrolled", cfg->collects, "devices", 0);
  qb_report_add(rep, "payments_devices_enrolled_per_s", per_s(cfg->collects, ns), "devices/s",
                1);
  printf("== %u orders collected by payment code over %u connections (order, the device's "
         "code, POST /v1/orders/{id}/collect answering paid)\n", cfg->collects, cfg->lanes);
  double cpu0 = qb_node_cpu_s(n);
  rc = pb_run(cfg, n, users, merchant_id, collects, cfg->collects, PB_PHASE_COLLECT, &ns);
  double cpu = qb_node_cpu_s(n) - cpu0;
  rates->collects_per_s = per_s(cfg->collects, ns);
  if (rc != 0) return rc;
  qb_report_add(rep, "payments_collects_per_s", rates->collects_per_s, "collects/s", 1);
  if (cpu0 >= 0)
    qb_report_add(rep, "payments_collect_node_cpu_us", cpu * 1e6 / cfg->collects,
                  "us/collect", 0);
  rc = percentiles(collects, cfg->collects, true, "payments_collect", rep);
  if (rc == 0) rc = percentiles(collects, cfg->collects, false, "payments_collect_flow", rep);
  return rc;
}

/* The measured phases on the running node, the raw ledger rate last. */
static int phases(const pb_config_t *cfg, const qb_node_t *n, pb_user_t *users,
                  const char *merchant_id, pb_order_t *orders, pb_order_t *collects,
                  qb_report_t *rep) {
  uint64_t ns = 0;
  rates_t rates = {0, 0};
  int rc = pay_phase(cfg, n, users, merchant_id, orders, rep, &rates);
  if (rc == 0) rc = collect_phase(cfg, n, users, merchant_id, collects, rep, &rates);
  if (rc != 0) return rc;
  printf("== the same node's raw ledger rate: %u simple transfers, one per request, over %u "
         "connections\n", cfg->transfers, cfg->lanes);
  double cpu0 = qb_node_cpu_s(n);
  rc = pb_run(cfg, n, users, merchant_id, NULL, cfg->transfers, PB_PHASE_TRANSFER, &ns);
  double cpu = qb_node_cpu_s(n) - cpu0;
  double transfers_per_s = per_s(cfg->transfers, ns);
  if (rc == 0) {
    qb_report_add(rep, "payments_ledger_transfers_per_s", transfers_per_s, "transfers/s", 0);
    if (cpu0 >= 0)
      qb_report_add(rep, "payments_ledger_node_cpu_us", cpu * 1e6 / cfg->transfers,
                    "us/transfer", 0);
    qb_report_add(rep, "payments_orders_vs_transfers",
                  transfers_per_s > 0 ? rates.orders_per_s / transfers_per_s : 0, "x", 3);
    qb_report_add(rep, "payments_collects_vs_transfers",
                  transfers_per_s > 0 ? rates.collects_per_s / transfers_per_s : 0, "x", 3);
  }
  return rc;
}

/* count orders: user i % users, amounts 1..10000 (salt varies them). */
static pb_order_t *make_orders(const pb_config_t *cfg, uint32_t count, uint32_t salt) {
  pb_order_t *orders = qp_calloc(count > 0 ? count : 1, sizeof *orders);
  for (uint32_t i = 0; orders != NULL && i < count; i++) {
    orders[i].user = i % cfg->users;
    orders[i].amount = 1 + ((uint64_t)i * 7919u + salt) % 10000u;
  }
  return orders;
}

int pb_bench(const pb_config_t *cfg, qb_report_t *rep) {
  qb_node_t n = {0};
  char merchant_id[48] = "";
  pb_user_t *users = qp_calloc(cfg->users, sizeof *users);
  pb_order_t *orders = make_orders(cfg, cfg->orders, 0);
  pb_order_t *collects = make_orders(cfg, cfg->collects, 4242);
  int rc = users != NULL && orders != NULL && collects != NULL ? 0 : QP_ENOMEM;
  if (rc == 0) {
    printf("== node (ledger + auth + payments), %u payers registering one passkey each "
           "(ES256 / EdDSA alternately), one merchant\n", cfg->users);
    rc = pb_setup(cfg, &n, users, merchant_id, sizeof merchant_id);
  }
  if (rc == 0) rc = phases(cfg, &n, users, merchant_id, orders, collects, rep);
  for (uint32_t i = 0; rc == 0 && i < cfg->orders; i++)
    users[orders[i].user].paid += orders[i].amount;
  for (uint32_t i = 0; rc == 0 && i < cfg->collects; i++)
    users[collects[i].user].paid += collects[i].amount;
  if (rc == 0) rc = pb_check(cfg, &n, users, orders, collects, cfg->transfers);
  if (rc == 0)
    printf("== ledger check: %u orders paid and %u collected, each moved its amount exactly "
           "once; %u transfers; audit invariant ok\n", cfg->orders, cfg->collects,
           cfg->transfers);
  int stop = n.pid > 0 ? qb_node_stop(&n, cfg->keep || rc != 0) : 0;
  if (rc == 0) rc = stop;
  for (uint32_t i = 0; users != NULL && i < cfg->users; i++) qb_authn_deinit(&users[i].authn);
  qp_free(users);
  qp_free(orders);
  qp_free(collects);
  if (rc != 0) rep->failed = true;
  return rc;
}
