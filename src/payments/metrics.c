/*
 * metrics.c - the payments module's lines of /metrics: state changes
 * committed by event type, idempotency outcomes, QR payloads refused, and
 * the length of the event journal.
 */
#include <string.h>

#include "payments/payments_int.h"

const char *const qp__pay_event_types[QP__PAY_EVENT_TYPES] = {
    "merchant.created", "merchant_key.created", "order.created", "order.canceled",
    "order.paid", "refund.succeeded", "payment_intent.succeeded", "payment_intent.canceled"};

void qp__pay_count_change(qp__pay_t *p, const char *event_type) {
  for (uint32_t i = 0; event_type != NULL && i < QP__PAY_EVENT_TYPES; i++)
    if (strcmp(event_type, qp__pay_event_types[i]) == 0) atomic_fetch_add(&p->changes[i], 1);
}

void qp__pay_metrics(void *ctx, qp_http_text_t *out) {
  static const char *const outcomes[4] = {"replay", "reused", "in_flight", "full"};
  qp__pay_t *p = ctx;
  qp_http_metric_header(out, "quipu_payments_changes_total", "counter",
                        "State changes committed, by the type of their event.");
  for (uint32_t i = 0; i < QP__PAY_EVENT_TYPES; i++)
    qp_http_text_put(out, "quipu_payments_changes_total{type=\"%s\"} %llu\n",
                     qp__pay_event_types[i], (unsigned long long)atomic_load(&p->changes[i]));
  qp_http_metric_header(out, "quipu_payments_idempotency_total", "counter",
                        "Requests with an Idempotency-Key that did not run, by why.");
  for (uint32_t i = 0; i < 4; i++)
    qp_http_text_put(out, "quipu_payments_idempotency_total{outcome=\"%s\"} %llu\n",
                     outcomes[i], (unsigned long long)atomic_load(&p->idem[i]));
  qp_http_metric_u64(out, "quipu_payments_qr_refused_total", "counter",
                     "Payloads POST /v1/qr/parse refused.", atomic_load(&p->qr_refused));
  qp_http_metric_header(out, "quipu_payments_webhook_deliveries_total", "counter",
                        "Webhook delivery attempts since the start, by outcome.");
  qp_http_text_put(out, "quipu_payments_webhook_deliveries_total{outcome=\"succeeded\"} %llu\n",
                   (unsigned long long)atomic_load(&p->deliveries_ok));
  qp_http_text_put(out, "quipu_payments_webhook_deliveries_total{outcome=\"failed\"} %llu\n",
                   (unsigned long long)atomic_load(&p->deliveries_failed));
  qp_http_metric_u64(out, "quipu_payments_events", "gauge",
                     "Events in the journal (the sequence number of the last one).",
                     qp__pay_store_events(p));
}
