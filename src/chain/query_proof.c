/*
 * query_proof.c - which state key a query's answer rests on, for the
 * queries of POST /v1/chain/query that offer `"proof": true`: kv get (the
 * key), registry participant (the participant's record), receivable
 * voucher and settlement (the voucher's or the settlement's record).  The
 * proof is the state proof of that key (docs/chain.md, "State proofs"),
 * so `quipu chain verify-proof` checks it offline like any other.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "chain/node_int.h"

static const char *arg(const json_t *args, const char *name) {
  const json_t *v = json_object_get(args, name);
  return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

int qp__chain_query_proof_key(const char *app, const char *method, const json_t *args,
                              char *key, size_t size) {
  const char *prefix = NULL, *value = NULL;
  if (strcmp(app, "kv") == 0 && strcmp(method, "get") == 0) prefix = "", value = arg(args, "key");
  else if (strcmp(app, "registry") == 0 && strcmp(method, "participant") == 0)
    prefix = "p/", value = arg(args, "key");
  else if (strcmp(app, "receivable") == 0 && strcmp(method, "voucher") == 0)
    prefix = "v/", value = arg(args, "id");
  else if (strcmp(app, "receivable") == 0 && strcmp(method, "settlement") == 0)
    prefix = "s/", value = arg(args, "id");
  if (value == NULL) return QP_ENOTSUP;
  int n = snprintf(key, size, "%s%s", prefix, value);
  if (n < 0 || (size_t)n >= size) return QP_ENOTSUP;
  if (prefix[0] == 'p')
    for (char *c = key + 2; *c != '\0'; c++) *c = (char)tolower((unsigned char)*c);
  return 0;
}
