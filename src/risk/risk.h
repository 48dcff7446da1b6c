/*
 * risk.h - the real-time risk engine's pure core (issue 15, docs/risk.md).
 *
 * Three separate things, so that a server can swap one without the others:
 *   - a compiled ruleset (qp_risk_ruleset_t): immutable once compiled, so a
 *     server swaps a pointer to it atomically and in-flight decisions finish
 *     on the old one;
 *   - the lists (qp_risk_lists_t): contents belong to a list's name, not to a
 *     ruleset, so they survive a swap;
 *   - the feature state (qp_risk_state_t): the per-key windows, built for one
 *     ruleset's features.
 * No I/O, no clock, no floating point: time comes in as each event's `time`,
 * and the same events give the same decisions.  Not thread-safe: the caller
 * serialises qp_risk_decide on one state.
 */
#ifndef QP_RISK_RISK_H
#define QP_RISK_RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"

#define QP_RISK_SOURCE_BYTES_MAX (4u << 20) /* a ruleset file */
#define QP_RISK_LINE_BYTES_MAX 4096u        /* one declaration */
#define QP_RISK_RULES_MAX 10000u
#define QP_RISK_FEATURES_MAX 256u
#define QP_RISK_LISTS_MAX 256u
#define QP_RISK_THRESHOLDS_MAX 64u
#define QP_RISK_STRING_BYTES_MAX 1024u  /* a string literal, reason, key or list item */
#define QP_RISK_SCORE_MAX 1000000       /* a rule's score is 0..this */
#define QP_RISK_ERRORS_MAX 100u         /* compile errors reported */
#define QP_RISK_WINDOW_S_MAX (30 * 86400)
#define QP_RISK_BUCKETS 60              /* a window is 60 buckets of D/60 */
#define QP_RISK_DISTINCT_EXACT_MAX 1024 /* exact distinct values per key and window */
#define QP_RISK_TIME_MAX (1ll << 40)    /* event times are 0..this (Unix seconds) */

/* The outcome lattice: allow < challenge < review < block. */
typedef enum qp_risk_outcome {
  QP_RISK_ALLOW = 0,
  QP_RISK_CHALLENGE = 1,
  QP_RISK_REVIEW = 2,
  QP_RISK_BLOCK = 3,
} qp_risk_outcome_t;

/* Returns "allow", "challenge", "review" or "block"; static storage. */
const char *qp_risk_outcome_name(qp_risk_outcome_t o);

/* One compile error: where and what was expected. */
typedef struct qp_risk_error {
  uint32_t line;    /* 1-based */
  uint32_t column;  /* 1-based, in bytes */
  char message[200]; /* "expected ..., found ..." */
} qp_risk_error_t;

/* What a compile found wrong: up to QP_RISK_ERRORS_MAX errors, one per line. */
typedef struct qp_risk_errors {
  qp_risk_error_t items[QP_RISK_ERRORS_MAX]; /* in line order */
  uint32_t count;                            /* items used */
  uint32_t more;                             /* errors found past the maximum */
} qp_risk_errors_t;

typedef struct qp_risk_ruleset qp_risk_ruleset_t;
typedef struct qp_risk_state qp_risk_state_t;
typedef struct qp_risk_lists qp_risk_lists_t;

/* Compiles ruleset text (len bytes, need not be NUL-terminated).  Returns 0
 * and a new ruleset in *out (owned by the caller; qp_risk_ruleset_free), or
 * QP_EPARSE with the errors in *errs and *out NULL, or QP_ENOMEM/QP_ELIMIT. */
int qp_risk_compile(const char *text, size_t len, qp_risk_ruleset_t **out,
                    qp_risk_errors_t *errs);
void qp_risk_ruleset_free(qp_risk_ruleset_t *rs);

/* The ruleset's hash: lowercase hex SHA-256 of its text; valid while rs is. */
const char *qp_risk_ruleset_hash(const qp_risk_ruleset_t *rs);
uint32_t qp_risk_ruleset_rules(const qp_risk_ruleset_t *rs);
uint32_t qp_risk_ruleset_features(const qp_risk_ruleset_t *rs);
const char *qp_risk_ruleset_rule_name(const qp_risk_ruleset_t *rs, uint32_t i);
/* Rule i's outcome, score and reason ("" when none). */
void qp_risk_ruleset_rule(const qp_risk_ruleset_t *rs, uint32_t i, qp_risk_outcome_t *outcome,
                          int32_t *score, const char **reason);

/* Lists, by name.  A list is created by its first declaration in a ruleset
 * (qp_risk_lists_declare, which qp_risk_state_new calls for every list of
 * the ruleset) or its first update; kind is fixed once created. */
typedef enum qp_risk_list_kind { QP_RISK_LIST_SET = 1, QP_RISK_LIST_CIDR = 2 } qp_risk_list_kind_t;
int qp_risk_lists_new(qp_risk_lists_t **out);
void qp_risk_lists_free(qp_risk_lists_t *lists);
/* Whether every list rs declares is new or exists with the same kind:
 * 0, or QP_EEXISTS with err naming the list (the ruleset cannot be used
 * with these lists: qp_risk_state_new would fail). */
int qp_risk_lists_compatible(const qp_risk_lists_t *lists, const qp_risk_ruleset_t *rs,
                             char *err, size_t err_size);
/* The name of the i-th list (in creation order), or NULL past the end. */
const char *qp_risk_lists_name(const qp_risk_lists_t *lists, size_t i);
/* Creates the list if it does not exist; QP_EEXISTS if it does with another
 * kind (err names it). */
int qp_risk_lists_declare(qp_risk_lists_t *lists, const char *name, qp_risk_list_kind_t kind,
                          char *err, size_t err_size);
/* Adds (add = true) or removes one item ("1.2.3.0/24", "2001:db8::/32", a
 * bare address = a full-length prefix; any string for a set).  QP_ENOTFOUND
 * for an unknown list, QP_EINVAL for a bad prefix or a string too long
 * (err says which and what is allowed); nothing changes on error. */
int qp_risk_list_update(qp_risk_lists_t *lists, const char *name, const char *item, bool add,
                        char *err, size_t err_size);
/* Whether item could be added to / removed from the list (as update would
 * judge it), changing nothing: 0, QP_ENOTFOUND or QP_EINVAL with err. */
int qp_risk_list_check(const qp_risk_lists_t *lists, const char *name, const char *item,
                       char *err, size_t err_size);
/* A list's kind and item count; QP_ENOTFOUND for an unknown list. */
int qp_risk_list_info(const qp_risk_lists_t *lists, const char *name, qp_risk_list_kind_t *kind,
                      uint64_t *size);
/* The i-th item as text (a set: sorted; a cidr: "ADDR/LEN" in insertion
 * order, a removal moves the last one into its place); QP_ENOTFOUND past
 * the end. */
int qp_risk_list_item(const qp_risk_lists_t *lists, const char *name, uint64_t i, char *buf,
                      size_t size);
/* Whether the list holds item (a set: equal; a cidr: an address inside a
 * prefix).  False for an unknown list or an item that is not an address. */
bool qp_risk_list_contains(const qp_risk_lists_t *lists, const char *name, const char *item);

/* Feature state for one ruleset's features, reading lists from `lists`
 * (borrowed: it must outlive the state).  Owned by the caller. */
int qp_risk_state_new(const qp_risk_ruleset_t *rs, qp_risk_lists_t *lists,
                      qp_risk_state_t **out);
void qp_risk_state_free(qp_risk_state_t *st);
/* Keys held over all features (for tests and metrics). */
uint64_t qp_risk_state_keys(const qp_risk_state_t *st);

/* Moves to `to` (fresh, made for another ruleset) the windows of every
 * feature of `from` whose definition is the same (kind, fields, window);
 * `from` keeps empty maps in their place.  The engine time carries too.
 * Returns how many features were carried. */
uint32_t qp_risk_state_carry(qp_risk_state_t *to, qp_risk_state_t *from);
/* The state as bytes (appended to out, whose max must allow them); 0 or
 * QP_ENOMEM.  Loading into a fresh state fills the features whose
 * definition the bytes have (*loaded counts them) and skips the others;
 * QP_ECORRUPT (the state must then be freed) for bytes that were not
 * saved by qp_risk_state_save or were altered. */
int qp_risk_state_save(const qp_risk_state_t *st, qp_buf_t *out);
int qp_risk_state_load(qp_risk_state_t *st, const uint8_t *data, size_t len, uint32_t *loaded);

/* One fired rule. */
typedef struct qp_risk_fired {
  uint32_t rule;             /* index in the ruleset */
  qp_risk_outcome_t outcome; /* the rule's outcome */
  int32_t score;             /* the rule's score */
} qp_risk_fired_t;

/* A feature's value for the event: absent when the event has no key. */
typedef struct qp_risk_feature_value {
  int64_t value; /* valid when present and not error */
  bool present;  /* the event had the feature's key field */
  bool error;    /* the sum overflowed 64 bits */
} qp_risk_feature_value_t;

/* A decision; caller-allocated, filled by qp_risk_decide (arrays sized for
 * the ruleset by qp_risk_decision_init). */
typedef struct qp_risk_decision {
  qp_risk_outcome_t decision;        /* the highest outcome met */
  int64_t score;                     /* sum of the fired rules' scores */
  qp_risk_fired_t *fired;            /* in rule order */
  uint32_t fired_count;              /* entries used */
  qp_risk_feature_value_t *features; /* one per feature, in declaration order */
  uint32_t feature_count;            /* the ruleset's features */
  uint32_t eval_errors;              /* rules that hit an evaluation error */
  int64_t engine_time;               /* the engine time the event was counted at */
  const uint8_t *skip;               /* the caller's, may be NULL: per rule, non-zero =
                                        snoozed (evaluated, but it never fires) */
  qp_risk_fired_t *snoozed;          /* snoozed rules that would have fired */
  uint32_t snoozed_count;            /* entries used */
} qp_risk_decision_t;

int qp_risk_decision_init(qp_risk_decision_t *d, const qp_risk_ruleset_t *rs);
void qp_risk_decision_deinit(qp_risk_decision_t *d);

/* Checks an event's `id` and `time` as qp_risk_decide does: 0, or
 * QP_EINVAL with *field ("" for the whole event, "id" or "time") and err. */
int qp_risk_event_check(const json_t *event, const char **field, char *err, size_t err_size);

/* Decides one event (a JSON object with `id`, `time` and other fields) on
 * rs, counting it in st's features first.  st must have been made for rs.
 * QP_EINVAL when the event is not an object or its `id`/`time` is missing or
 * bad (err names the field and what is allowed; nothing is counted). */
int qp_risk_decide(const qp_risk_ruleset_t *rs, qp_risk_state_t *st, const json_t *event,
                   qp_risk_decision_t *d, char *err, size_t err_size);

/* The decision as the API's JSON object: {"decision","score","fired",
 * "features","ruleset"} (plus "id" when event is given, "eval_errors" and
 * "snoozed" (the snoozed rules that would have fired) when any).
 * New reference; NULL when out of memory. */
json_t *qp_risk_decision_json(const qp_risk_ruleset_t *rs, const qp_risk_decision_t *d,
                              const json_t *event);

/* The same decision as JSON text, appended to out: exactly the bytes of
 * json_dumps(qp_risk_decision_json(rs, d, event), JSON_COMPACT), without
 * building a JSON object.  0, or QP_ENOMEM (out failed). */
int qp_risk_decision_text(const qp_risk_ruleset_t *rs, const qp_risk_decision_t *d,
                          const json_t *event, qp_buf_t *out);

#endif
