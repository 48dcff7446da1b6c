/*
 * compile.c - qp_risk_compile: splits a ruleset into lines, has parse.c
 * turn each into declarations and programs, and either returns the whole
 * compiled ruleset or, on any error, nothing (a ruleset that does not
 * compile is refused whole).  Also the ruleset's accessors and the small
 * value helpers shared by the evaluator and the feature state.
 */
#include <sodium.h>
#include <string.h>

#include "base/alloc.h"
#include "crypto/crypto.h"
#include "risk/parse.h"

const char *qp_risk_outcome_name(qp_risk_outcome_t o) {
  static const char *const names[] = {"allow", "challenge", "review", "block"};
  return (unsigned)o < 4 ? names[o] : "allow";
}

static void ruleset_init(qp_risk_ruleset_t *rs) {
  qp_array_init(&rs->fields, sizeof(char *), 1024);
  qp_array_init(&rs->features, sizeof(qp__risk_feature_t), QP_RISK_FEATURES_MAX);
  qp_array_init(&rs->rules, sizeof(qp__risk_rule_t), QP_RISK_RULES_MAX);
  qp_array_init(&rs->thresholds, sizeof(qp__risk_threshold_t), QP_RISK_THRESHOLDS_MAX);
  qp_array_init(&rs->lists, sizeof(qp__risk_list_decl_t), QP_RISK_LISTS_MAX);
  qp_array_init(&rs->strings, sizeof(qp__risk_string_t), 1u << 20);
  qp_array_init(&rs->code, sizeof(qp__risk_insn_t), (size_t)QP_RISK_RULES_MAX * 64);
  qp_array_init(&rs->nodes, sizeof(qp__risk_node_t), (size_t)QP_RISK_RULES_MAX * 64);
  qp_array_init(&rs->leaves, sizeof(qp__risk_leaf_t), (size_t)QP_RISK_RULES_MAX * 64);
  qp_array_init(&rs->iops, sizeof(qp__risk_iop_t), (size_t)QP_RISK_RULES_MAX * 64);
}

void qp_risk_ruleset_free(qp_risk_ruleset_t *rs) {
  if (rs == NULL) return;
  qp__risk_render_free(rs);
  for (size_t i = 0; i < rs->fields.count; i++) qp_free(*(char **)qp_array_at(&rs->fields, i));
  for (size_t i = 0; i < rs->features.count; i++)
    qp_free(((qp__risk_feature_t *)qp_array_at(&rs->features, i))->name);
  for (size_t i = 0; i < rs->rules.count; i++) {
    qp__risk_rule_t *r = qp_array_at(&rs->rules, i);
    qp_free(r->name);
    qp_free(r->reason);
  }
  for (size_t i = 0; i < rs->lists.count; i++)
    qp_free(((qp__risk_list_decl_t *)qp_array_at(&rs->lists, i))->name);
  for (size_t i = 0; i < rs->strings.count; i++)
    qp_free(((qp__risk_string_t *)qp_array_at(&rs->strings, i))->bytes);
  qp_array_t *arrays[] = {&rs->iops,   &rs->leaves,     &rs->nodes, &rs->fields,
                          &rs->features, &rs->rules,     &rs->thresholds,
                          &rs->lists,  &rs->strings,    &rs->code};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) qp_array_deinit(arrays[i]);
  qp_free(rs);
}

/* Offset of the first byte of s[0, n) that is not well-formed UTF-8
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), or n. */
static size_t utf8_bad_at(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n || (len == 2 && c < 0xc2)) return i;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xc0) != 0x80) return i;
    unsigned c1 = len > 1 ? s[i + 1] : 0;
    if ((len == 3 && c == 0xe0 && c1 < 0xa0) || (len == 3 && c == 0xed && c1 >= 0xa0) ||
        (len == 4 && c == 0xf0 && c1 < 0x90) ||
        (len == 4 && (c > 0xf4 || (c == 0xf4 && c1 >= 0x90))))
      return i;
    i += len;
  }
  return n;
}

static void parse_lines(qp_risk_ruleset_t *rs, const char *text, size_t len,
                        qp_risk_errors_t *errs, int *oom) {
  size_t at = 0;
  for (uint32_t line_no = 1; at < len || line_no == 1; line_no++) {
    const char *nl = memchr(text + at, '\n', len - at);
    size_t end = nl != NULL ? (size_t)(nl - text) : len;
    qp__risk_parser_t ps = {.line = text + at, .line_len = (uint32_t)(end - at),
                            .line_no = line_no, .rs = rs, .errs = errs};
    size_t bad = end - at <= QP_RISK_LINE_BYTES_MAX
                     ? utf8_bad_at((const unsigned char *)text + at, end - at)
                     : end - at;
    if (end - at > QP_RISK_LINE_BYTES_MAX) {
      ps.line_len = 0;
      qp__risk_fail_at(&ps, 1, "line longer than %u bytes", QP_RISK_LINE_BYTES_MAX);
    } else if (bad < end - at) {
      ps.line_len = 0;
      qp__risk_fail_at(&ps, (uint32_t)bad + 1, "invalid UTF-8 (a ruleset is UTF-8 text)");
    } else {
      qp__risk_parse_line(&ps);
    }
    if (ps.oom != 0) *oom = ps.oom;
    at = end + 1;
    if (nl == NULL) break;
  }
}

int qp_risk_compile(const char *text, size_t len, qp_risk_ruleset_t **out,
                    qp_risk_errors_t *errs) {
  *out = NULL;
  errs->count = 0;
  errs->more = 0;
  if (len > QP_RISK_SOURCE_BYTES_MAX) {
    errs->items[0] = (qp_risk_error_t){.line = 1, .column = 1};
    snprintf(errs->items[0].message, sizeof errs->items[0].message,
             "ruleset larger than %u bytes", QP_RISK_SOURCE_BYTES_MAX);
    errs->count = 1;
    return QP_EPARSE;
  }
  qp_risk_ruleset_t *rs = qp_calloc(1, sizeof *rs);
  if (rs == NULL) return QP_ENOMEM;
  ruleset_init(rs);
  int oom = 0;
  parse_lines(rs, text, len, errs, &oom);
  if (oom == 0 && errs->count == 0 && errs->more == 0) oom = qp__risk_render_prepare(rs);
  if (oom != 0 || errs->count > 0 || errs->more > 0) {
    qp_risk_ruleset_free(rs);
    return oom != 0 ? oom : QP_EPARSE;
  }
  uint8_t digest[QP_HASH_SIZE];
  qp_sha256(digest, text, len);
  qp_hex(rs->hash, digest, QP_HASH_SIZE);
  *out = rs;
  return 0;
}

const char *qp_risk_ruleset_hash(const qp_risk_ruleset_t *rs) { return rs->hash; }
uint32_t qp_risk_ruleset_rules(const qp_risk_ruleset_t *rs) { return (uint32_t)rs->rules.count; }
uint32_t qp_risk_ruleset_features(const qp_risk_ruleset_t *rs) {
  return (uint32_t)rs->features.count;
}
const char *qp_risk_ruleset_rule_name(const qp_risk_ruleset_t *rs, uint32_t i) {
  return ((const qp__risk_rule_t *)qp_array_at(&rs->rules, i))->name;
}

void qp_risk_ruleset_rule(const qp_risk_ruleset_t *rs, uint32_t i, qp_risk_outcome_t *outcome,
                          int32_t *score, const char **reason) {
  const qp__risk_rule_t *r = qp_array_at(&rs->rules, i);
  *outcome = r->outcome;
  *score = r->score;
  *reason = r->reason;
}

uint8_t qp__risk_parse_decimal(const char *s, size_t len, int64_t *out) {
  if (len == 0 || (len > 1 && s[0] == '0')) return QP__RISK_NUM_NOT;
  uint64_t v = 0;
  bool big = false;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return QP__RISK_NUM_NOT;
    if (v > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10) big = true;
    else v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (big) return QP__RISK_NUM_RANGE;
  *out = (int64_t)v;
  return QP__RISK_NUM_OK;
}

bool qp__risk_key_text(const qp__risk_value_t *v, char *buf, const char **text, uint32_t *len) {
  if (v->tag == QP__RISK_STR) {
    *text = v->s;
    *len = v->len;
    return true;
  }
  if (v->tag != QP__RISK_INT) return false;
  int n = snprintf(buf, 24, "%lld", (long long)v->i);
  *text = buf;
  *len = (uint32_t)n;
  return true;
}

uint64_t qp__risk_hash(const void *data, size_t len) {
  static const uint8_t key[crypto_shorthash_KEYBYTES] = "quipu-risk-keys";
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, data, len, key);
  uint64_t v;
  memcpy(&v, h, sizeof v);
  return v;
}
