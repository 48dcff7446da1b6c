/*
 * risk_int.h - the risk engine's internals shared by its files: the compiled
 * form of a ruleset (rules as short postfix programs over a value stack),
 * runtime values, the per-feature key maps and the lists.
 */
#ifndef QP_RISK_RISK_INT_H
#define QP_RISK_RISK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/array.h"
#include "base/buf.h"
#include "base/err.h"
#include "risk/risk.h"

#define QP_RISK_STACK_MAX 64u    /* values on an evaluation stack */
#define QP_RISK_DEPTH_MAX 48u    /* nesting of parentheses, not and minus */
#define QP_RISK_PROGRAM_MAX 1024u /* instructions per rule */

/* Instructions of a rule's program. */
enum {
  QP__RISK_OP_INT,     /* push imm */
  QP__RISK_OP_STR,     /* push string arg */
  QP__RISK_OP_FIELD,   /* push the event's field arg */
  QP__RISK_OP_FEATURE, /* push feature arg's value */
  QP__RISK_OP_NEG,     /* pop a, push -a */
  QP__RISK_OP_ADD,     /* pop b, a; push a + b */
  QP__RISK_OP_SUB,     /* pop b, a; push a - b */
  QP__RISK_OP_MUL,     /* pop b, a; push a * b */
  QP__RISK_OP_CMP,     /* pop b, a; push a <cmp> b */
  QP__RISK_OP_IN,      /* pop a; push a in list arg */
  QP__RISK_OP_NOT,     /* pop a boolean, push its negation */
  QP__RISK_OP_AND,     /* top false: jump to arg keeping it; else pop */
  QP__RISK_OP_OR,      /* top true: jump to arg keeping it; else pop */
  QP__RISK_OP_CMP2,    /* push (operand sub arg) <cmp> (operand op2: imm, or string imm) */
};

/* Comparisons (also for thresholds). */
enum { QP__RISK_EQ, QP__RISK_NE, QP__RISK_LT, QP__RISK_LE, QP__RISK_GT, QP__RISK_GE };

typedef struct qp__risk_insn {
  uint8_t op;   /* QP__RISK_OP_* */
  uint8_t cmp;  /* QP__RISK_EQ.. for OP_CMP and OP_CMP2 */
  uint8_t sub;  /* OP_CMP2: its first operand's op (OP_FIELD or OP_FEATURE; index arg) */
  uint8_t op2;  /* OP_CMP2: its second operand's op (OP_INT: imm; OP_STR: string imm) */
  uint32_t arg; /* field, feature, string or list index; jump target */
  int64_t imm;  /* OP_INT's value */
} qp__risk_insn_t;

/* Fuses, in the rule program rs->code[start..], each comparison of a field
 * or feature with a literal (three instructions) into one OP_CMP2, and
 * shortens the program (jump targets follow).  Same results, fewer steps. */
void qp__risk_fuse(qp_risk_ruleset_t *rs, uint32_t start);

typedef enum { QP__RISK_COUNT = 1, QP__RISK_SUM = 2, QP__RISK_DISTINCT = 3 } qp__risk_fkind_t;

typedef struct qp__risk_feature {
  char *name;              /* qp_malloc'ed */
  qp__risk_fkind_t kind;   /* count, sum or distinct */
  uint32_t field;          /* field summed or counted distinct (not for count) */
  uint32_t key;            /* the `by` field */
  int64_t window_s;        /* D */
  int64_t bucket_s;        /* D / 60 */
} qp__risk_feature_t;

typedef struct qp__risk_rule {
  char *name;                /* qp_malloc'ed */
  char *reason;              /* qp_malloc'ed; "" when none */
  qp_risk_outcome_t outcome; /* challenge, review or block */
  int32_t score;             /* 0..QP_RISK_SCORE_MAX */
  uint32_t code;             /* first instruction in rs->code */
  uint32_t code_len;         /* instructions */
  uint32_t node;             /* its tree's root in rs->nodes (tree.c), or UINT32_MAX */
  uint32_t leaf;             /* its first leaf in rs->leaves (tree.c), or UINT32_MAX */
} qp__risk_rule_t;

/* A rule as a chain of leaves (tree.c): each leaf is a test whose outcome
 * names the next leaf, or the rule's answer (QP__RISK_LEAF_TRUE/FALSE);
 * and, or and not are in the links, so a rule runs as a loop. */
#define QP__RISK_LEAF_TRUE UINT32_MAX
#define QP__RISK_LEAF_FALSE (UINT32_MAX - 1)
typedef struct qp__risk_leaf {
  uint8_t kind;   /* QP__RISK_T_FEAT_INT, _FIELD_INT, _CMP2, _IN_FIELD, _CMP_INT (`a` the
                     first of its `b` iops), or any other boolean kind: then `a` is the
                     tree node to evaluate */
  uint8_t cmp;    /* as the node's */
  uint32_t a;     /* as the node's */
  uint32_t b;     /* " */
  uint32_t next[2]; /* the leaf after a false (0) or true (1) outcome */
  int64_t imm;    /* as the node's */
} qp__risk_leaf_t;

/* An integer comparison as a flat program (tree.c): its operations in
 * postfix order, the comparison after the last. */
typedef struct qp__risk_iop {
  uint8_t kind; /* QP__RISK_T_LIT, _STR_LIT, _FIELD_V, _FEAT_V, _NEG or _ARITH */
  uint8_t op;   /* _ARITH: QP__RISK_OP_ADD, _SUB or _MUL */
  uint32_t a;   /* the string, field or feature */
  int64_t imm;  /* _LIT's integer */
} qp__risk_iop_t;

/* A node of a rule's tree (tree.c). */
enum {
  QP__RISK_T_AND,       /* a and b (node indices) */
  QP__RISK_T_OR,        /* a or b */
  QP__RISK_T_NOT,       /* not a */
  QP__RISK_T_FEAT_INT,  /* feature a <cmp> imm */
  QP__RISK_T_FIELD_INT, /* field a <cmp> imm */
  QP__RISK_T_CMP2,      /* the OP_CMP2 instruction a */
  QP__RISK_T_IN_FIELD,  /* field a in list b */
  QP__RISK_T_CMP,       /* value a <cmp> value b */
  QP__RISK_T_IN,        /* value a in list b */
  QP__RISK_T_CMP_INT,   /* value a <cmp> value b, one of them an integer by its kind */
  QP__RISK_T_LIT,       /* a value: the integer imm (b: its instruction) */
  QP__RISK_T_STR_LIT,   /* a value: string literal a (b: its instruction) */
  QP__RISK_T_FIELD_V,   /* a value: field a (b: its instruction) */
  QP__RISK_T_FEAT_V,    /* a value: feature a (b: its instruction) */
  QP__RISK_T_NEG,       /* a value: -a */
  QP__RISK_T_ARITH,     /* a value: a <op> b, the op (OP_ADD, OP_SUB, OP_MUL) in cmp */
};
typedef struct qp__risk_node {
  uint8_t kind; /* QP__RISK_T_* */
  uint8_t cmp;  /* QP__RISK_EQ.. for the comparisons */
  uint32_t a;   /* see the kinds */
  uint32_t b;   /* " */
  int64_t imm;  /* the integer literal */
} qp__risk_node_t;

typedef struct qp__risk_threshold {
  uint8_t cmp;               /* QP__RISK_* */
  int64_t value;             /* score <cmp> value */
  qp_risk_outcome_t outcome; /* met: at least this */
} qp__risk_threshold_t;

typedef struct qp__risk_list_decl {
  char *name;               /* qp_malloc'ed */
  qp_risk_list_kind_t kind; /* set or cidr */
} qp__risk_list_decl_t;

typedef struct qp__risk_string {
  char *bytes;  /* qp_malloc'ed, NUL-terminated */
  uint32_t len; /* bytes, NUL not counted */
  uint8_t num;  /* the literal as a decimal: QP__RISK_NUM_* (value in i when OK) */
  int64_t i;    /* its value when num is QP__RISK_NUM_OK */
} qp__risk_string_t;

/* A compiled ruleset: immutable after qp_risk_compile returns. */
struct qp_risk_ruleset {
  qp_array_t fields;     /* char * names of the event fields used */
  qp_array_t features;   /* qp__risk_feature_t */
  qp_array_t rules;      /* qp__risk_rule_t */
  qp_array_t thresholds; /* qp__risk_threshold_t */
  qp_array_t lists;      /* qp__risk_list_decl_t */
  qp_array_t strings;    /* qp__risk_string_t, string literals */
  qp_array_t code;       /* qp__risk_insn_t of every rule */
  qp_array_t nodes;      /* qp__risk_node_t of every rule's tree */
  qp_array_t leaves;     /* qp__risk_leaf_t of every rule's chain */
  qp_array_t iops;       /* qp__risk_iop_t of the integer comparisons' programs */
  char hash[65];         /* hex SHA-256 of the text */
  char **fired_text;     /* per rule: its "fired" entry as JSON text (render.c) */
  char **rule_text;      /* per rule: its name as a JSON string */
  char **feature_text;   /* per feature: its name as a JSON string */
};

/* render.c: the pre-rendered pieces of decisions; prepare returns 0 or
 * QP_ENOMEM (free releases what was made either way). */
int qp__risk_render_prepare(qp_risk_ruleset_t *rs);
void qp__risk_render_free(qp_risk_ruleset_t *rs);

/* A decoded event field. */
enum { QP__RISK_ABSENT, QP__RISK_INT, QP__RISK_STR, QP__RISK_BAD };
/* A string's value as an integer. */
enum { QP__RISK_NUM_OK, QP__RISK_NUM_NOT, QP__RISK_NUM_RANGE };

typedef struct qp__risk_value {
  uint8_t tag;     /* QP__RISK_ABSENT.. (QP__RISK_BAD: real, bool, array, object) */
  uint8_t num;     /* for a string: QP__RISK_NUM_* (i set when OK) */
  uint32_t len;    /* string bytes */
  int64_t i;       /* the integer */
  const char *s;   /* the string (borrowed from the event) */
} qp__risk_value_t;

/* Whether a[0, n) equals b[0, n): inline, 8 bytes a step, for the short
 * keys and strings of events (libc's memcmp is a call through the PLT and
 * a dispatch on the CPU, longer than comparing 10 bytes). */
static inline bool qp__risk_bytes_eq(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  while (n >= 8) {
    uint64_t u, v;
    __builtin_memcpy(&u, x, 8);
    __builtin_memcpy(&v, y, 8);
    if (u != v) return false;
    x += 8, y += 8, n -= 8;
  }
  while (n > 0) {
    if (*x++ != *y++) return false;
    n--;
  }
  return true;
}

/* Decimal string rules of the issue: "0" or digits without a leading zero. */
uint8_t qp__risk_parse_decimal(const char *s, size_t len, int64_t *out);

/* Key text of a value for `by` and `distinct`: a string's bytes or an
 * integer's decimal digits (in buf, 24 bytes).  False when absent or bad. */
bool qp__risk_key_text(const qp__risk_value_t *v, char *buf, const char **text, uint32_t *len);

/* Lists (list.c): one list, by name. */
typedef struct qp__risk_list qp__risk_list_t;
qp__risk_list_t *qp__risk_lists_find(const qp_risk_lists_t *lists, const char *name);
bool qp__risk_list_has(const qp__risk_list_t *l, const char *item, uint32_t len);

/* A window of 60 counters: v[b % 60] belongs to bucket b, for the buckets
 * (last - 59 .. last]; total is their sum. */
void qp__risk_ring_advance(int64_t *v, int64_t *total, int64_t last, int64_t b);

/* distinct(FIELD) for one key (distinct.c): exact up to
 * QP_RISK_DISTINCT_EXACT_MAX values in the window, then a HyperLogLog of
 * 128 registers per bucket for as long as the key lives. */
typedef struct qp__risk_hll qp__risk_hll_t;
typedef struct qp__risk_distinct {
  int64_t total;                /* live values (exact mode) */
  int64_t v[QP_RISK_BUCKETS];   /* values whose last sighting is in bucket b */
  uint64_t *hashes;             /* exact table: value hashes (0 = empty slot) */
  int64_t *lastb;               /* the bucket each value was last seen in (in hashes' block) */
  uint32_t cap;                 /* slots, a power of two (0 before the first) */
  uint32_t used;                /* slots taken, live or expired */
  qp__risk_hll_t *hll;          /* estimating: set, and the table is gone */
} qp__risk_distinct_t;
/* Counts value hash hv at bucket b (the ring advanced to b already). */
int qp__risk_distinct_add(qp__risk_distinct_t *d, uint64_t hv, int64_t b);
int64_t qp__risk_distinct_value(const qp__risk_distinct_t *d, int64_t b);
void qp__risk_distinct_free(qp__risk_distinct_t *d);

/* The feature state of one feature (feature.c). */
typedef struct qp__risk_fstate qp__risk_fstate_t;
int qp__risk_fstate_new(const qp__risk_feature_t *f, qp__risk_fstate_t **out);
void qp__risk_fstate_free(qp__risk_fstate_t *fs);
/* Counts the event (key, whose qp__risk_hash is hash; field value) at
 * engine time t and gives the feature's value for that key. */
int qp__risk_fstate_add(qp__risk_fstate_t *fs, const char *key, uint32_t key_len, uint64_t hash,
                        const qp__risk_value_t *field, int64_t t, qp_risk_feature_value_t *out);
/* Asks the CPU to load the key's slot (entry false) or, once the slot is
 * loaded, its entry, so that the misses of all features overlap. */
void qp__risk_fstate_prefetch(const qp__risk_fstate_t *fs, uint64_t hash, bool entry);
uint64_t qp__risk_fstate_keys(const qp__risk_fstate_t *fs);

/* The last `x in LIST` answer per list within one event: many rules test
 * the same field against the same list, and a CIDR test parses the address. */
typedef struct qp__risk_in_cache {
  uint64_t event;  /* the decision it belongs to (0 = none) */
  const char *s;   /* the string tested (its bytes live as long as the event) */
  int64_t i;       /* or the integer */
  uint8_t tag;     /* QP__RISK_STR or QP__RISK_INT */
  bool result;     /* the answer */
} qp__risk_in_cache_t;

/* What a rule's program reads besides the ruleset. */
typedef struct qp__risk_env {
  const qp__risk_value_t *fields;           /* the event's fields */
  const qp_risk_feature_value_t *features;  /* the feature values */
  qp__risk_list_t *const *lists;            /* per list declaration */
  qp__risk_in_cache_t *in_cache;            /* per list declaration */
  uint64_t event;                           /* a number unique to this decision, > 0 */
} qp__risk_env_t;

/* Runs rule r's program; returns 1 fired, 0 not, -1 evaluation error. */
int qp__risk_eval_rule(const qp_risk_ruleset_t *rs, const qp__risk_rule_t *r,
                       const qp__risk_env_t *env);
/* The program's instructions [lo, hi), one boolean expression: 1, 0 or -1. */
int qp__risk_eval_code(const qp_risk_ruleset_t *rs, uint32_t lo, uint32_t hi,
                       const qp__risk_env_t *env);

/* tree.c: the tree of the rule program at code (its root in rs->nodes), or
 * UINT32_MAX when the program keeps no tree.  eval.c evaluates it (1
 * fired, 0 not, -1 an evaluation error), equal to the program. */
uint32_t qp__risk_tree_build(qp_risk_ruleset_t *rs, uint32_t code, uint32_t code_len);
/* The chain of leaves of the tree at node (its first leaf in rs->leaves),
 * or UINT32_MAX (out of memory: the tree runs as it is). */
uint32_t qp__risk_leaves_build(qp_risk_ruleset_t *rs, uint32_t node);

/* 64-bit hash of bytes (SipHash with a fixed key: deterministic). */
uint64_t qp__risk_hash(const void *data, size_t len);

/* A field's key text and hash, computed once per decision. */
typedef struct key_text {
  uint64_t decision; /* the decision it was computed for (0 = never) */
  uint64_t hash;     /* qp__risk_hash of the text */
  const char *p;     /* the text: the event's string or buf */
  uint32_t len;      /* bytes */
  bool ok;           /* the field can be a key (a string or an integer, <= 1,024 bytes) */
  char buf[24];      /* an integer's digits */
} qp__risk_keytext_t;

struct qp_risk_state {
  const qp_risk_ruleset_t *rs;   /* the ruleset the state was made for */
  qp__risk_list_t **lists;       /* per list declaration, from the registry */
  qp__risk_fstate_t **features;  /* per feature */
  qp__risk_value_t *fields;      /* per field: the current event's values */
  qp__risk_in_cache_t *in_cache; /* per list declaration */
  qp__risk_keytext_t *keys;              /* per field */
  uint64_t decisions;            /* decided so far (numbers the in_cache entries) */
  int64_t engine_time;           /* the largest time seen; -1 before any */
};

/* Snapshots of feature state (feature_snap.c): a writer appends to a
 * buffer, a reader walks bytes and turns sticky-bad on any overrun. */
typedef struct qp__risk_reader {
  const uint8_t *p; /* next byte */
  size_t left;      /* bytes after p */
  bool bad;         /* an overrun or a value out of range happened */
} qp__risk_reader_t;
void qp__risk_put(qp_buf_t *b, const void *data, size_t n);
void qp__risk_put_u64(qp_buf_t *b, uint64_t v);
bool qp__risk_get(qp__risk_reader_t *r, void *out, size_t n);
uint64_t qp__risk_get_u64(qp__risk_reader_t *r);
/* One distinct() state as bytes, and back into a zeroed d (QP_ECORRUPT on
 * bytes that do not describe a valid state; d is then freed and zeroed). */
void qp__risk_distinct_save(const qp__risk_distinct_t *d, qp_buf_t *b);
int qp__risk_distinct_load(qp__risk_distinct_t *d, qp__risk_reader_t *r);
/* One feature's whole map as bytes, and back into an empty map. */
void qp__risk_fstate_save(const qp__risk_fstate_t *fs, qp_buf_t *b);
int qp__risk_fstate_load(qp__risk_fstate_t *fs, qp__risk_reader_t *r);

/* A feature's definition as text ("sum(amount) by payer over 86400"):
 * two rulesets' features with equal texts share their state. */
void qp__risk_feature_sig(const qp_risk_ruleset_t *rs, uint32_t i, char *buf, size_t size);

#endif
