/*
 * fuzz_settle_plan.c - libFuzzer target for the settlement agent's readers
 * of outside input (src/apps/settle_plan.c): a settlement record (from a
 * chain node), an account map (MAP.json) and the ledger's answers.  The
 * first byte picks which; the rest is JSON.  Properties: no crash, no
 * leak; a refused record leaves no plan; an accepted one has 1..8190
 * payments with valid ids and accounts from the map, and its batch has
 * one transfer per payment, linked except the last.
 */
#include <stdint.h>
#include <string.h>

#include "apps/settle_plan.h"
#include "base/assert.h"
#include "base/err.h"

static const uint8_t GENESIS[QP_SETTLE_GENESIS_SIZE] = {7};
static const char MAP[] = "{\"aa01\":{\"7\":\"100\"},\"bb02\":{\"7\":\"201\"},"
                          "\"cc03\":{\"7\":\"300\",\"9\":\"301\"}}";
static const char RECORD[] = "{\"settlement\":\"mat-v1-1\",\"kind\":\"maturity\",\"ledger\":7,"
                             "\"status\":\"pending\",\"payments\":[{\"index\":0,\"from\":"
                             "\"aa01\",\"to\":\"bb02\",\"amount\":\"5\"},{\"index\":1,"
                             "\"from\":\"aa01\",\"to\":\"cc03\",\"amount\":\"7\"}]}";

static void check_plan(const json_t *record, const json_t *map) {
  qp_settle_plan_t plan;
  char detail[512];
  int rc = qp_settle_plan_make(record, map, GENESIS, &plan, detail, sizeof detail);
  if (rc != 0) {
    QP_ASSERT(rc == QP_EINVAL || rc == QP_ENOTFOUND || rc == QP_ENOMEM);
    QP_ASSERT(plan.payments == NULL && plan.count == 0);
    return;
  }
  QP_ASSERT(plan.count >= 1 && plan.count <= QP_SETTLE_PAYMENTS_MAX);
  json_t *batch = qp_settle_plan_transfers(&plan);
  QP_ASSERT(batch == NULL || json_array_size(batch) == plan.count);
  for (uint32_t i = 0; i < plan.count; i++) {
    const qp_settle_payment_t *p = &plan.payments[i];
    QP_ASSERT(p->transfer_id != 0 && p->amount != 0 && p->debit_account != 0);
    bool linked = json_object_get(json_array_get(batch, i), "flags") != NULL;
    QP_ASSERT(batch == NULL || linked == (i + 1 < plan.count));
  }
  json_decref(batch);
  qp_settle_plan_free(&plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  json_error_t jerr;
  json_t *input = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
  if (input == NULL) return 0;
  json_t *map = json_loads(MAP, 0, &jerr), *record = json_loads(RECORD, 0, &jerr);
  QP_ASSERT(map != NULL && record != NULL);
  char detail[512];
  qp_settle_plan_t plan;
  switch (data[0] % 4) {
  case 0: check_plan(input, map); break;
  case 1:
    if (qp_settle_map_check(input, detail, sizeof detail) == 0) check_plan(record, input);
    break;
  case 2:
  case 3:
    QP_ASSERT(qp_settle_plan_make(record, map, GENESIS, &plan, detail, sizeof detail) == 0);
    if (data[0] % 4 == 2) (void)qp_settle_plan_results(&plan, input, detail, sizeof detail);
    else (void)qp_settle_plan_found(&plan, input, detail, sizeof detail);
    qp_settle_plan_free(&plan);
    break;
  }
  json_decref(input);
  json_decref(map);
  json_decref(record);
  return 0;
}
