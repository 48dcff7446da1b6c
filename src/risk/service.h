/*
 * service.h - the risk module as the other modules of its node see it:
 * payment intents (src/auth) ask for a decision before they hold money.
 */
#ifndef QP_RISK_SERVICE_H
#define QP_RISK_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "risk/risk.h"

/* Whether this process runs the risk module (open, not yet closed). */
bool qp_risk_service_enabled(void);

/* Decides event (a JSON object with "id", "time" and the payment's fields)
 * on the live ruleset, exactly as POST /v1/risk/decide would (it counts in
 * the features and the metrics).  0 with *outcome and *decision (the
 * decision's JSON, a new reference), QP_ENOTFOUND when the module is not
 * running, QP_EINVAL for a bad event (err says why), QP_ENOMEM. */
int qp_risk_service_decide(const json_t *event, qp_risk_outcome_t *outcome, json_t **decision,
                           char *err, size_t err_size);

/* The node's setting modules.risk.frictionless_below: an intent whose
 * amount is below it and whose decision is allow needs no passkey; -1 when
 * not set (every intent needs one). */
int64_t qp_risk_service_frictionless_below(void);

#endif
