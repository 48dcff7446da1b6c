/*
 * modules.c - the one table of the modules this build has.  Adding a
 * module is a folder under src/ with its qp_module_t, plus one line here.
 * The order is the order of opening (and the reverse of closing): a module
 * comes after the modules it uses.
 */
#include <pthread.h>
#include <string.h>

#include "base/assert.h"
#include "node/module.h"

extern const qp_module_t qp_ledger_module;
extern const qp_module_t qp_chain_module;
extern const qp_module_t qp_risk_module;
extern const qp_module_t qp_auth_module;
extern const qp_module_t qp_payments_module;
extern const qp_module_t qp_web_module;
extern const qp_module_t qp_wallet_module;

static const qp_module_t *const MODULES[] = {
    &qp_ledger_module,
    &qp_chain_module,
    &qp_risk_module,
    &qp_auth_module,
    &qp_payments_module,
    &qp_wallet_module,
    &qp_web_module,
};
#define MODULES_COUNT ((uint32_t)(sizeof MODULES / sizeof MODULES[0]))
#define SCOPES_MAX 256u /* scopes of all modules together */

const qp_module_t *const *qp_node_modules(uint32_t *count_out) {
  *count_out = MODULES_COUNT;
  return MODULES;
}

const qp_module_t *qp_node_module_find(const char *name) {
  for (uint32_t i = 0; i < MODULES_COUNT; i++)
    if (strcmp(MODULES[i]->name, name) == 0) return MODULES[i];
  return NULL;
}

static qp_http_scope_t scopes[SCOPES_MAX];
static uint32_t scopes_count;
static pthread_once_t scopes_once = PTHREAD_ONCE_INIT;

static void collect_scopes(void) {
  for (uint32_t m = 0; m < MODULES_COUNT; m++)
    for (uint32_t i = 0; i < MODULES[m]->scopes_count; i++) {
      QP_ASSERT(scopes_count < SCOPES_MAX);
      scopes[scopes_count++] = MODULES[m]->scopes[i];
    }
}

const qp_http_scope_t *qp_node_scopes(uint32_t *count_out) {
  pthread_once(&scopes_once, collect_scopes);
  *count_out = scopes_count;
  return scopes;
}
