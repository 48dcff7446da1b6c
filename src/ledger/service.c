/*
 * service.c - the ledger module's door for the other modules of its node
 * (api.h, "the door for other modules"): the module registers itself here
 * when it opens and unregisters when it closes; transfers submitted here
 * go through the module's group-commit writer, reads through its db.
 */
#include <stdatomic.h>
#include <string.h>

#include "base/err.h"
#include "ledger/api_int.h"

static _Atomic(qp__ledger_api_t *) current;

void qp__ledger_service_set(qp__ledger_api_t *api) { atomic_store(&current, api); }

qp_ledger_service_t *qp_ledger_service(void) {
  return (qp_ledger_service_t *)atomic_load(&current);
}

/* One create request through the group-commit writer, as HTTP's are. */
static int submit(qp_ledger_service_t *svc, qp_op_t op, const void *events, uint32_t count,
                  uint32_t *results) {
  qp__ledger_api_t *api = (qp__ledger_api_t *)svc;
  if (api == NULL || count == 0 || count > QP_BATCH_EVENTS_MAX) return QP_EINVAL;
  qp__ledger_job_t job;
  memset(&job, 0, sizeof job);
  job.request.op = op;
  job.request.events = events;
  job.request.count = count;
  job.request.results = results;
  int rc = qp__ledger_writer_submit(&api->writer, &job);
  if (rc != 0) return rc;
  if (job.request.status == QP_ESTOPPED && job.execute_rc == QP_ENOSPC) return QP_ENOSPC;
  return job.request.status;
}

int qp_ledger_service_transfers(qp_ledger_service_t *svc, const qp_transfer_t *transfers,
                                uint32_t count, uint32_t *results) {
  return submit(svc, QP_OP_CREATE_TRANSFERS, transfers, count, results);
}

int qp_ledger_service_accounts(qp_ledger_service_t *svc, const qp_account_t *accounts,
                               uint32_t count, uint32_t *results) {
  return submit(svc, QP_OP_CREATE_ACCOUNTS, accounts, count, results);
}

int qp_ledger_service_account_transfers(qp_ledger_service_t *svc, const qp_account_filter_t *f,
                                        qp_transfer_t *out, uint32_t *count) {
  qp__ledger_api_t *api = (qp__ledger_api_t *)svc;
  if (api == NULL) return QP_EINVAL;
  return qp_db_get_account_transfers(api->db, f, out, count);
}

int qp_ledger_service_transfer(qp_ledger_service_t *svc, qp_u128 id, qp_transfer_t *out,
                               qp_pending_state_t *state) {
  qp__ledger_api_t *api = (qp__ledger_api_t *)svc;
  uint32_t found = 0;
  if (api == NULL) return QP_EINVAL;
  int rc = qp_db_lookup_transfers(api->db, &id, 1, out, state, &found);
  if (rc != 0) return rc;
  return found == 1 ? 0 : QP_ENOTFOUND;
}

int qp_ledger_service_account(qp_ledger_service_t *svc, qp_u128 id, qp_account_t *out) {
  qp__ledger_api_t *api = (qp__ledger_api_t *)svc;
  uint32_t found = 0;
  if (api == NULL) return QP_EINVAL;
  int rc = qp_db_lookup_accounts(api->db, &id, 1, out, &found);
  if (rc != 0) return rc;
  return found == 1 ? 0 : QP_ENOTFOUND;
}
