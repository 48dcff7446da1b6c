/*
 * gov.h - what the node and proofs read of the gov app (app_gov.c): the
 * validator set in force, and where each epoch's set is kept.
 */
#ifndef QP_CHAIN_GOV_H
#define QP_CHAIN_GOV_H

#include <stdint.h>

#include "chain/app.h"
#include "chain/valset.h"

#define QP_CHAIN_GOV_APP "gov"

/* The set in force as view (the gov app's view) sees it: the genesis's
 * until a change passed.  Returns 0, QP_ECORRUPT or an operating error. */
int qp_chain_gov_valset(const qp_chain_view_t *view, qp_chain_valset_t *out);

/* The gov app's key of epoch's set record: "set/" u32 BE epoch. */
void qp_chain_gov_set_key(uint32_t epoch, uint8_t out[8]);

/* Proposal id as stored (JSON, the caller's), or NULL with *rc
 * (QP_ENOTFOUND, QP_ECORRUPT or the view's error). */
json_t *qp_chain_gov_proposal(const qp_chain_view_t *view, uint64_t id, int *rc);

/* The gov app's key of proposal id: "p/" u64 BE id. */
void qp_chain_gov_proposal_key(uint64_t id, uint8_t out[10]);

/* The gov app's execute (app_gov.c), for its app table entry. */
int qp__chain_gov_execute(const qp_chain_view_t *view, const qp_chain_tx_t *tx,
                          const json_t *args, qp_chain_effects_t *e);

#endif
