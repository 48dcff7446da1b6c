/*
 * module_int.h - the risk module of the node (docs/risk.md, "The risk
 * module"): one engine per node behind one lock, its journal of changes,
 * its routes and metrics.
 *
 * Concurrency: every decision, swap, list update and snooze takes `lock`,
 * so a decision (or a whole batch) runs on one ruleset from start to end
 * and a swap happens between requests, never inside one.  The engine is
 * single-threaded by design (microseconds per decision); the HTTP threads
 * queue on the lock.
 */
#ifndef QP_RISK_MODULE_INT_H
#define QP_RISK_MODULE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "risk/risk.h"
#include "store/store.h"

#define QP_RISK_BATCH_MAX 8190u          /* events in one POST /v1/risk/decide */
#define QP_RISK_SNOOZES_MAX 1024u        /* rules snoozed at once */
#define QP_RISK_REASON_MAX 256u          /* bytes of a snooze's reason */
#define QP_RISK_SNOOZE_S_MAX (366 * 86400) /* a snooze lasts at most a year */
#define QP_RISK_LIST_UPDATE_MAX 100000u  /* items in one list update */
#define QP_RISK_WHO_MAX 64u              /* bytes of "who" (an API key id, or config) */
#define QP_RISK_RECENT_MAX 1000u         /* latest decisions kept (GET /v1/risk/decisions) */
#define QP_RISK_STATS_SECONDS 7200u      /* seconds of counts per outcome (GET /v1/risk/stats) */

/* Journal record types (their bodies are JSON objects, see journal.c). */
enum {
  QP__RISK_J_RULESET = 1,  /* {"mode":"live"|"shadow","text","hash"} */
  QP__RISK_J_SHADOW_STOP,  /* {} */
  QP__RISK_J_LIST,         /* {"list","add":[…],"remove":[…]} */
  QP__RISK_J_SNOOZE,       /* {"rule","reason","until"} */
  QP__RISK_J_UNSNOOZE,     /* {"rule"} */
};

typedef struct qp__risk_snooze {
  char rule[QP_RISK_STRING_BYTES_MAX + 1]; /* the rule's name */
  char reason[QP_RISK_REASON_MAX + 1];     /* why */
  char by[QP_RISK_WHO_MAX + 1];            /* who */
  int64_t at_s, until_s;                   /* when made, when it ends (Unix seconds) */
} qp__risk_snooze_t;

/* One installed ruleset with its feature state. */
typedef struct qp__risk_slot {
  qp_risk_ruleset_t *rs;  /* NULL: none */
  qp_risk_state_t *st;    /* made for rs */
  char *text;             /* its source (qp_malloc'ed, NUL-terminated) */
  size_t text_len;        /* bytes */
  qp_risk_decision_t d;   /* reused for every decision */
  uint8_t *skip;          /* per rule: snoozed now */
  char by[QP_RISK_WHO_MAX + 1]; /* who installed it */
  int64_t at_s;           /* when */
  _Atomic uint64_t *fired; /* per rule: times fired (metrics; shadow: report) */
  _Atomic uint64_t *disagreed; /* shadow only: fired in an event the decisions differ */
} qp__risk_slot_t;

/* recent.c: one remembered decision. */
typedef struct qp__risk_recent_entry {
  char *text;      /* {"seq","at","decision"} (qp_malloc'ed, NUL-terminated) */
  size_t len, cap; /* bytes used, allocated */
  uint64_t seq;    /* 1, 2, …; 0 = empty */
  uint8_t outcome; /* the decision's */
} qp__risk_recent_entry_t;

typedef struct qp__risk_recent {
  qp__risk_recent_entry_t ring[QP_RISK_RECENT_MAX]; /* decision seq s at (s - 1) % MAX */
  uint64_t seq;                                     /* decisions remembered so far */
  int64_t sec_at[QP_RISK_STATS_SECONDS];            /* the second a slot counts */
  uint32_t sec_counts[QP_RISK_STATS_SECONDS][4];    /* per outcome */
} qp__risk_recent_t;

typedef struct qp__risk_mod {
  pthread_mutex_t lock;       /* see above */
  qp_risk_lists_t *lists;     /* by name; outlive rulesets */
  qp__risk_slot_t live;       /* decides */
  qp__risk_slot_t shadow;     /* evaluated beside it, decides nothing (rs NULL: none) */
  uint64_t shadow_events, shadow_agree;     /* compared, and equal decisions */
  uint64_t shadow_matrix[4][4];             /* [live][shadow] decisions */
  qp__risk_snooze_t *snoozes; /* active and expired until swept */
  uint32_t snoozes_count;
  qp_journal_t *journal;      /* the changes */
  char dir[4096];             /* data_dir/risk */
  int64_t frictionless_below; /* intents below this amount skip the passkey on allow; -1 never */
  _Atomic uint64_t decisions[4];  /* by outcome */
  _Atomic uint64_t eval_errors;   /* rules that hit an evaluation error */
  _Atomic uint64_t refused;       /* events refused (bad id/time) */
  qp_http_histogram_t latency;    /* per decision, microseconds */
  qp__risk_recent_t *recent;      /* the latest decisions and counts per second */
  qp_http_module_t http;
} qp__risk_mod_t;

/* recent.c: under m->lock. */
int qp__risk_recent_new(qp__risk_recent_t **out);
void qp__risk_recent_free(qp__risk_recent_t *r);
/* Remembers one decision (its JSON text, len bytes) made at now_s. */
void qp__risk_recent_add(qp__risk_recent_t *r, int64_t now_s, qp_risk_outcome_t outcome,
                         const char *decision, size_t len);
/* {"decisions":[…newest first, at most limit, outcome -1 = any],"total"} appended to out. */
int qp__risk_recent_list(const qp__risk_recent_t *r, uint32_t limit, int outcome,
                         qp_buf_t *out);
/* Decisions per outcome made in seconds [from_s, to_s) (within the kept seconds). */
void qp__risk_recent_counts(const qp__risk_recent_t *r, int64_t from_s, int64_t to_s,
                            uint64_t counts[4]);

/* journal.c */
int qp__risk_journal_open(qp__risk_mod_t *m, char *detail, size_t detail_size);
/* Appends one change (body: its JSON object; "by" and "at" are added) and
 * makes it durable.  0 or an I/O error (the change must then not happen). */
int qp__risk_journal_append(qp__risk_mod_t *m, uint32_t op, json_t *body, const char *by);
/* The changes after seq `after`, at most limit, as JSON objects. */
int qp__risk_journal_list(qp__risk_mod_t *m, uint64_t after, uint32_t limit, json_t *out);

/* engine.c: under m->lock. */
int qp__risk_install(qp__risk_mod_t *m, bool shadow, const char *text, size_t len,
                     qp_risk_ruleset_t *rs, const char *by, int64_t at_s);
void qp__risk_shadow_stop(qp__risk_mod_t *m);
/* The shadow's windows again as a copy of the live ones (after a restart). */
void qp__risk_shadow_reseed(qp__risk_mod_t *m);
void qp__risk_slot_free(qp__risk_slot_t *s);
/* Decides one event (checked already): its decision as a JSON object, or
 * appended to out as text (the routes: no objects per decision). */
int qp__risk_decide_one(qp__risk_mod_t *m, const json_t *event, json_t **out);
int qp__risk_decide_text(qp__risk_mod_t *m, const json_t *event, qp_buf_t *out);
void qp__risk_snoozes_apply(qp__risk_mod_t *m, int64_t now_s);
int qp__risk_list_apply(qp__risk_mod_t *m, const char *name, const json_t *add,
                        const json_t *remove);
int qp__risk_snooze_set(qp__risk_mod_t *m, const char *rule, const char *reason, int64_t until,
                        const char *by, int64_t at_s);
bool qp__risk_snooze_clear(qp__risk_mod_t *m, const char *rule);
json_t *qp__risk_shadow_report(qp__risk_mod_t *m);

/* routes*.c */
void qp__risk_route_decide(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_ruleset_put(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_ruleset_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_shadow_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_shadow_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_lists_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_list_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_list_post(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_rules_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_snooze_post(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_snooze_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_changes_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_decisions_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_route_stats_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__risk_metrics(void *ctx, qp_http_text_t *out);

/* The caller's name for the journal: its API key id, or "anonymous". */
void qp__risk_who(qp_http_request_t *req, char out[QP_RISK_WHO_MAX + 1]);

extern const char qp_risk_openapi_json[];

#endif
