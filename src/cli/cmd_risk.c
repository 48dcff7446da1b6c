/*
 * cmd_risk.c - `quipu risk check FILE` and `quipu risk replay`: the risk
 * engine offline (docs/risk.md).  check compiles a ruleset and prints every
 * error as FILE:LINE:COLUMN: message (exit 1 on any).  replay decides a
 * JSON-lines file of events in order on a fresh feature state, exactly as
 * the engine does, writes one decision per line to --out, and prints the
 * counts per decision and per rule: the same inputs give byte-identical
 * output every time (nothing reads a clock; keys and arrays keep order).
 */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "cli/cli.h"
#include "risk/risk.h"

#define RISK_EVENT_LINE_MAX (1u << 20)

static const char USAGE[] =
    "usage: quipu risk check FILE\n"
    "       quipu risk replay --ruleset FILE --events FILE.jsonl [--out FILE.jsonl]\n"
    "                         [--list NAME=FILE]...\n"
    "\n"
    "check compiles the ruleset FILE and prints each error as FILE:LINE:COLUMN: what\n"
    "was expected (exit 1 on any); on success it prints the ruleset's hash and sizes.\n"
    "replay decides the events of FILE.jsonl (one JSON object per line, with \"id\" and\n"
    "\"time\") in order on a fresh feature state, writes one decision per line to\n"
    "--out, and prints the counts per decision and per rule.  --list loads a list the\n"
    "ruleset declares with the items of FILE, one per line.  Lines that are not a valid\n"
    "event are counted as refused (their error goes to --out).  The output is\n"
    "byte-identical for the same inputs.  Exit 0, 1 when the ruleset does not compile\n"
    "or an input cannot be read, 2 on a usage error.  The language: docs/risk.md.\n";

static int usage_error(const char *what) {
  fprintf(stderr, "quipu risk: %s\n%s", what, USAGE);
  return 2;
}

/* Reads a whole file (at most QP_RISK_SOURCE_BYTES_MAX bytes) into *out
 * (qp_malloc'ed, NUL-terminated). */
static int read_file(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "quipu risk: cannot open %s: %m\n", path);
    return 1;
  }
  char *buf = qp_malloc(QP_RISK_SOURCE_BYTES_MAX + 2);
  *len = buf != NULL ? fread(buf, 1, QP_RISK_SOURCE_BYTES_MAX + 1, f) : 0;
  bool error = buf == NULL || ferror(f) != 0;
  fclose(f);
  if (error || *len > QP_RISK_SOURCE_BYTES_MAX) {
    fprintf(stderr, "quipu risk: %s %s\n", path,
            error ? "cannot be read" : "is larger than 4 MiB");
    qp_free(buf);
    return 1;
  }
  buf[*len] = '\0';
  *out = buf;
  return 0;
}

/* Compiles path; prints its errors.  0, or the exit code. */
static int compile_file(const char *path, qp_risk_ruleset_t **rs) {
  char *text;
  size_t len;
  if (read_file(path, &text, &len) != 0) return 1;
  qp_risk_errors_t *errs = qp_malloc(sizeof *errs);
  int rc = errs != NULL ? qp_risk_compile(text, len, rs, errs) : QP_ENOMEM;
  qp_free(text);
  if (rc == QP_EPARSE) {
    for (uint32_t i = 0; i < errs->count; i++)
      fprintf(stderr, "%s:%u:%u: %s\n", path, errs->items[i].line, errs->items[i].column,
              errs->items[i].message);
    if (errs->more > 0) fprintf(stderr, "%s: %u more errors\n", path, errs->more);
  } else if (rc != 0) {
    fprintf(stderr, "quipu risk: %s: %s\n", path, qp_strerror(rc));
  }
  qp_free(errs);
  return rc == 0 ? 0 : 1;
}

static int cmd_check(int argc, char **argv) {
  if (argc != 2) return usage_error("check takes one FILE");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, stdout);
    return 0;
  }
  qp_risk_ruleset_t *rs;
  if (compile_file(argv[1], &rs) != 0) return 1;
  printf("%s: ok, %u rules, %u features, ruleset %s\n", argv[1], qp_risk_ruleset_rules(rs),
         qp_risk_ruleset_features(rs), qp_risk_ruleset_hash(rs));
  qp_risk_ruleset_free(rs);
  return 0;
}

typedef struct replay_args {
  const char *ruleset;  /* --ruleset */
  const char *events;   /* --events */
  const char *out;      /* --out, or NULL */
  char *lists[64];      /* --list NAME=FILE */
  int list_count;       /* entries used */
} replay_args_t;

static int parse_replay(int argc, char **argv, replay_args_t *a) {
  static const struct option opts[] = {
      {"ruleset", required_argument, NULL, 'r'}, {"events", required_argument, NULL, 'e'},
      {"out", required_argument, NULL, 'o'},     {"list", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "r:e:o:l:h", opts, NULL)) != -1) {
    if (c == 'r') a->ruleset = optarg;
    else if (c == 'e') a->events = optarg;
    else if (c == 'o') a->out = optarg;
    else if (c == 'l' && (a->list_count >= 64 || strchr(optarg, '=') == NULL))
      return usage_error("--list takes NAME=FILE, at most 64 times");
    else if (c == 'l') a->lists[a->list_count++] = optarg;
    else if (c == 'h') return fputs(USAGE, stdout), 0;
    else return usage_error("unknown option");
  }
  if (optind < argc) return usage_error("unexpected argument");
  if (a->ruleset == NULL || a->events == NULL)
    return usage_error("replay needs --ruleset FILE and --events FILE.jsonl");
  return -1;
}

/* Loads NAME=FILE into the lists (one item a line). */
static int load_list(qp_risk_lists_t *lists, char *spec) {
  char *eq = strchr(spec, '=');
  *eq = '\0';
  FILE *f = fopen(eq + 1, "r");
  if (f == NULL) return fprintf(stderr, "quipu risk: cannot open %s: %m\n", eq + 1), 1;
  char line[QP_RISK_STRING_BYTES_MAX + 2], err[200];
  int rc = 0;
  for (unsigned no = 1; rc == 0 && fgets(line, sizeof line, f) != NULL; no++) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0') continue;
    if (qp_risk_list_update(lists, spec, line, true, err, sizeof err) != 0)
      rc = (fprintf(stderr, "quipu risk: %s:%u: %s\n", eq + 1, no, err), 1);
  }
  fclose(f);
  *eq = '=';
  return rc;
}

typedef struct replay_counts {
  uint64_t decided;      /* events decided */
  uint64_t refused;      /* lines that were not a valid event */
  uint64_t outcome[4];   /* per decision */
  uint64_t eval_errors;  /* rule evaluation errors */
  uint64_t *fired;       /* per rule */
} replay_counts_t;

/* Decides one line; writes its decision (or error) to out when set. */
static int replay_line(const qp_risk_ruleset_t *rs, qp_risk_state_t *st, qp_risk_decision_t *d,
                       const char *line, size_t len, unsigned long no, FILE *out,
                       replay_counts_t *c) {
  json_error_t jerr;
  char err[256];
  json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *o;
  int rc = ev == NULL ? QP_EINVAL : qp_risk_decide(rs, st, ev, d, err, sizeof err);
  if (ev == NULL) snprintf(err, sizeof err, "not JSON: %s", jerr.text);
  if (rc == QP_ENOMEM) {
    json_decref(ev);
    return fprintf(stderr, "quipu risk: out of memory at line %lu\n", no), 1;
  }
  if (rc != 0) {
    c->refused++;
    o = json_pack("{s:I, s:s}", "line", (json_int_t)no, "error", err);
  } else {
    c->decided++;
    c->outcome[d->decision]++;
    c->eval_errors += d->eval_errors;
    for (uint32_t i = 0; i < d->fired_count; i++) c->fired[d->fired[i].rule]++;
    o = qp_risk_decision_json(rs, d, ev);
  }
  json_decref(ev);
  if (out != NULL && o != NULL && json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0)
    fputc('\n', out);
  json_decref(o);
  return 0;
}

static void print_counts(const qp_risk_ruleset_t *rs, const replay_counts_t *c) {
  printf("ruleset: %s\n", qp_risk_ruleset_hash(rs));
  printf("events: %llu decided, %llu refused\n", (unsigned long long)c->decided,
         (unsigned long long)c->refused);
  for (int o = 0; o < 4; o++)
    printf("decision %s: %llu\n", qp_risk_outcome_name((qp_risk_outcome_t)o),
           (unsigned long long)c->outcome[o]);
  for (uint32_t i = 0; i < qp_risk_ruleset_rules(rs); i++)
    printf("rule %s: %llu fired\n", qp_risk_ruleset_rule_name(rs, i),
           (unsigned long long)c->fired[i]);
  printf("evaluation errors: %llu\n", (unsigned long long)c->eval_errors);
}

static int replay_events(const qp_risk_ruleset_t *rs, qp_risk_state_t *st, FILE *in, FILE *out,
                         replay_counts_t *c) {
  qp_risk_decision_t d;
  if (qp_risk_decision_init(&d, rs) != 0) return 1;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = 0;
  for (unsigned long no = 1; rc == 0 && (n = getline(&line, &cap, in)) >= 0; no++) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (n == 0) continue;
    if ((size_t)n > RISK_EVENT_LINE_MAX) {
      c->refused++;
      if (out != NULL) fprintf(out, "{\"line\":%lu,\"error\":\"line longer than 1 MiB\"}\n", no);
      continue;
    }
    rc = replay_line(rs, st, &d, line, (size_t)n, no, out, c);
  }
  free(line); /* lint-ok: getline allocates with malloc */
  qp_risk_decision_deinit(&d);
  return rc;
}

static int replay_open(const replay_args_t *a, FILE **in, FILE **out) {
  *in = fopen(a->events, "r");
  if (*in == NULL) return fprintf(stderr, "quipu risk: cannot open %s: %m\n", a->events), 1;
  *out = NULL;
  if (a->out == NULL) return 0;
  *out = fopen(a->out, "w");
  if (*out != NULL) return 0;
  fprintf(stderr, "quipu risk: cannot create %s: %m\n", a->out);
  return 1;
}

static int cmd_replay(int argc, char **argv) {
  replay_args_t a = {0};
  int rc = parse_replay(argc, argv, &a);
  if (rc >= 0) return rc;
  qp_risk_ruleset_t *rs = NULL;
  qp_risk_lists_t *lists = NULL;
  qp_risk_state_t *st = NULL;
  replay_counts_t c = {0};
  FILE *in = NULL, *out = NULL;
  rc = compile_file(a.ruleset, &rs);
  if (rc == 0 && (qp_risk_lists_new(&lists) != 0 || qp_risk_state_new(rs, lists, &st) != 0 ||
                  (c.fired = qp_calloc(qp_risk_ruleset_rules(rs) + 1, sizeof *c.fired)) == NULL))
    rc = (fprintf(stderr, "quipu risk: out of memory\n"), 1);
  for (int i = 0; rc == 0 && i < a.list_count; i++) rc = load_list(lists, a.lists[i]);
  if (rc == 0) rc = replay_open(&a, &in, &out); /* on failure, in may be open: closed below */
  if (rc == 0) rc = replay_events(rs, st, in, out, &c);
  if (in != NULL) fclose(in);
  if (out != NULL && fclose(out) != 0)
    rc = (fprintf(stderr, "quipu risk: cannot write %s: %m\n", a.out), 1);
  if (rc == 0) print_counts(rs, &c);
  qp_free(c.fired);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(rs);
  return rc;
}

int qp_cmd_risk(int argc, char **argv) {
  if (argc < 2) return usage_error("a subcommand is required (check, replay)");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0)
    return fputs(USAGE, stdout), 0;
  if (strcmp(argv[1], "check") == 0) return cmd_check(argc - 1, argv + 1);
  if (strcmp(argv[1], "replay") == 0) return cmd_replay(argc - 1, argv + 1);
  return usage_error("unknown subcommand (check, replay)");
}
