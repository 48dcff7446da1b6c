/*
 * cmd_keys.c - `quipu keys create|list|revoke`: manages the API keys of a
 * data directory.  Works whether or not a server is running on it: the
 * store is edited atomically under its own lock, and a running server
 * picks the change up within a second.
 *
 * `create` also takes the key's limits (src/http/key_limits.c): an expiry
 * (--expires-in DURATION or --expires-at TIME), the ledgers it may touch
 * (--ledgers) and a rate limit (--rate, --burst).  Every value is parsed
 * strictly; a bad one exits 2 saying what is allowed.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http/http.h"
#include "node/module.h"
#include "base/alloc.h"
#include "base/err.h"
#include "cli/cli.h"

#define DURATION_S_MAX (36500ll * 86400ll) /* --expires-in: at most 100 years */

static const char USAGE[] =
    "usage: quipu keys create [--data DIR] --name NAME --scope SCOPE[,SCOPE...]\n"
    "                         [--expires-in DURATION | --expires-at TIME]\n"
    "                         [--ledgers L[,L...]] [--rate N [--burst N]]\n"
    "       quipu keys list   [--data DIR]\n"
    "       quipu keys revoke [--data DIR] NAME_OR_ID\n"
    "\n"
    "`create` prints the new key once, on stdout; only its hash is stored, in\n"
    "DIR/keys/api_keys.  Limits (none by default):\n"
    "  --expires-in DURATION  the key stops working after N s, m, h or d (30d, 12h,\n"
    "                         90m, 3600s; 1s to 36500d); requests then get 401\n"
    "                         key_expired\n"
    "  --expires-at TIME      ... at TIME, UTC, as 2030-01-31T00:00:00Z (future only)\n"
    "  --ledgers L,...        the key may only create and read in these ledgers\n"
    "                         (1 to 4294967295, at most 64); others get 403\n"
    "                         ledger_not_allowed, or look unknown\n"
    "  --rate N               at most N requests a second (1 to 1000000); past it 429\n"
    "                         rate_limited with Retry-After\n"
    "  --burst N              up to N requests at once (1 to 1000000; default N of --rate)\n"
    "\n"
    "Scopes are owned by the modules of this build:\n";

/* The usage text with every known scope. */
static void usage(FILE *out) {
  fputs(USAGE, out);
  fprintf(out, "  %-16s %s\n", QP_HTTP_SCOPE_ADMIN, "everything");
  uint32_t count = 0;
  const qp_http_scope_t *scopes = qp_node_scopes(&count);
  for (uint32_t i = 0; i < count; i++)
    fprintf(out, "  %-16s %s\n", scopes[i].name, scopes[i].description);
}

typedef struct keys_args {
  const char *data;       /* --data */
  const char *name;       /* --name */
  const char *scope;      /* --scope */
  const char *expires_in; /* --expires-in */
  const char *expires_at; /* --expires-at */
  const char *ledgers;    /* --ledgers */
  const char *rate;       /* --rate */
  const char *burst;      /* --burst */
  const char *arg;        /* positional (revoke) */
} keys_args_t;

static int parse(int argc, char **argv, keys_args_t *a) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"name", required_argument, NULL, 'n'},
                                       {"scope", required_argument, NULL, 's'},
                                       {"expires-in", required_argument, NULL, 'E'},
                                       {"expires-at", required_argument, NULL, 'A'},
                                       {"ledgers", required_argument, NULL, 'L'},
                                       {"rate", required_argument, NULL, 'R'},
                                       {"burst", required_argument, NULL, 'B'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  const char **slot[128] = {0};
  slot['d'] = &a->data;
  slot['n'] = &a->name;
  slot['s'] = &a->scope;
  slot['E'] = &a->expires_in;
  slot['A'] = &a->expires_at;
  slot['L'] = &a->ledgers;
  slot['R'] = &a->rate;
  slot['B'] = &a->burst;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:n:s:h", opts, NULL)) != -1) {
    if (c > 0 && c < 128 && slot[c] != NULL) {
      *slot[c] = optarg;
    } else if (c == 'h') {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) a->arg = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "quipu keys: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return -1;
}

/* ------------------------------------------------------------- limits */

/* A decimal number 1..max without sign or leading zeros; false otherwise. */
static bool parse_count(const char *text, long long max, long long *out) {
  size_t n = strlen(text);
  if (n == 0 || n > 12 || text[0] == '0') return false;
  long long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

/* "30d", "12h", "90m", "3600s" into seconds, 1..DURATION_S_MAX. */
static bool parse_duration(const char *text, long long *seconds) {
  size_t n = strlen(text);
  if (n < 2 || n > 16) return false;
  char unit = text[n - 1];
  long long scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400
                                                                                         : 0;
  char digits[16];
  memcpy(digits, text, n - 1);
  digits[n - 1] = '\0';
  long long v = 0;
  if (scale == 0 || !parse_count(digits, DURATION_S_MAX, &v) || v > DURATION_S_MAX / scale)
    return false;
  *seconds = v * scale;
  return true;
}

/* "2030-01-31T00:00:00Z" (exactly this shape, UTC) into unix seconds. */
static bool parse_utc(const char *text, int64_t *out) {
  if (strlen(text) != 20) return false;
  static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
  for (size_t i = 0; i < 20; i++)
    if (shape[i] == 'd' ? (text[i] < '0' || text[i] > '9') : text[i] != shape[i]) return false;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL) return false;
  struct tm asked = tm;
  time_t t = timegm(&tm);
  /* timegm normalises 02-30 into 03-02: a date that moved did not exist. */
  if (t == (time_t)-1 || tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon ||
      tm.tm_hour != asked.tm_hour || tm.tm_min != asked.tm_min || tm.tm_sec != asked.tm_sec)
    return false;
  *out = (int64_t)t;
  return true;
}

static int bad(const char *flag, const char *value, const char *allowed) {
  fprintf(stderr, "quipu keys: bad %s '%s': %s\n", flag, value, allowed);
  return 2;
}

/* The expiry flags into l->expires_s; 0 or 2 (message printed). */
static int expiry_limit(const keys_args_t *a, int64_t now_s, qp_http_key_limits_t *l) {
  if (a->expires_in != NULL && a->expires_at != NULL) {
    fprintf(stderr, "quipu keys: give --expires-in or --expires-at, not both\n");
    return 2;
  }
  long long seconds = 0;
  if (a->expires_in != NULL) {
    if (!parse_duration(a->expires_in, &seconds))
      return bad("--expires-in", a->expires_in,
                 "a whole number followed by s, m, h or d (3600s, 90m, 12h, 30d), from 1s to "
                 "36500d");
    l->expires_s = now_s + seconds;
  }
  if (a->expires_at != NULL) {
    int64_t at = 0;
    if (!parse_utc(a->expires_at, &at) || at > QP_HTTP_KEY_EXPIRES_MAX_S)
      return bad("--expires-at", a->expires_at,
                 "a UTC time written YYYY-MM-DDTHH:MM:SSZ, e.g. 2030-01-31T00:00:00Z");
    if (at <= now_s)
      return bad("--expires-at", a->expires_at,
                 "that time has passed: a key must expire in the future");
    l->expires_s = at;
  }
  return 0;
}

/* Every limit flag into *l; 0, or 2 with a message saying what is allowed. */
static int limits_from_args(const keys_args_t *a, qp_http_key_limits_t *l) {
  memset(l, 0, sizeof *l);
  int rc = expiry_limit(a, (int64_t)time(NULL), l);
  if (rc != 0) return rc;
  char detail[256] = "";
  if (a->ledgers != NULL &&
      qp_http_ledgers_parse(a->ledgers, l->ledgers, &l->ledgers_count, detail, sizeof detail) != 0)
    return bad("--ledgers", a->ledgers, detail);
  long long v = 0;
  if (a->rate != NULL) {
    if (!parse_count(a->rate, QP_HTTP_KEY_RATE_MAX, &v))
      return bad("--rate", a->rate, "requests per second, a whole number from 1 to 1000000");
    l->rate_per_s = (uint32_t)v;
  }
  if (a->burst != NULL) {
    if (a->rate == NULL) {
      fprintf(stderr, "quipu keys: --burst needs --rate (a burst alone limits nothing)\n");
      return 2;
    }
    if (!parse_count(a->burst, QP_HTTP_KEY_RATE_MAX, &v))
      return bad("--burst", a->burst, "requests at once, a whole number from 1 to 1000000");
    l->burst = (uint32_t)v;
  }
  return 0;
}

/* ----------------------------------------------------------- commands */

/* "never" or the expiry in UTC, with " (expired)" once it passed. */
static void expiry_text(const qp_http_key_t *k, int64_t now_s, char *buf, size_t size) {
  if (k->limits.expires_s == 0) {
    snprintf(buf, size, "never");
    return;
  }
  char when[32];
  qp_http_utc_format(k->limits.expires_s, when, sizeof when);
  snprintf(buf, size, "%s%s", when, qp_http_key_expired(k, now_s) ? " (expired)" : "");
}

/* The limits as one phrase for `create`'s confirmation and `list`. */
static void limits_text(const qp_http_key_t *k, char *buf, size_t size) {
  const qp_http_key_limits_t *l = &k->limits;
  char ledgers[128] = "all";
  if (l->ledgers_count != 0)
    qp_http_ledgers_format(l->ledgers, l->ledgers_count, ",", ledgers, sizeof ledgers);
  char rate[48] = "unlimited";
  if (l->rate_per_s != 0) snprintf(rate, sizeof rate, "%u/s burst %u", l->rate_per_s, l->burst);
  snprintf(buf, size, "ledgers %s, rate %s", ledgers, rate);
}

static int keys_create(const keys_args_t *a, const char *dir) {
  if (a->name == NULL || a->scope == NULL || a->arg != NULL) {
    usage(stderr);
    return 2;
  }
  uint32_t known_count = 0;
  const qp_http_scope_t *known = qp_node_scopes(&known_count);
  char detail[1024] = "";
  if (qp_http_scopes_check(a->scope, known, known_count, detail, sizeof detail) != 0) {
    fprintf(stderr, "quipu keys: bad --scope '%s': %s\n", a->scope, detail);
    return 2;
  }
  qp_http_key_limits_t limits;
  int code = limits_from_args(a, &limits);
  if (code != 0) return code;
  char key[QP_HTTP_KEY_TEXT_SIZE];
  qp_http_key_t created;
  int rc = qp_http_keys_create_limited(dir, a->name, a->scope, &limits, key, &created, detail,
                                       sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu keys: cannot create the key: %s\n",
            detail[0] ? detail : qp_strerror(rc));
    return 1;
  }
  printf("%s\n", key);
  fflush(stdout);
  sodium_memzero(key, sizeof key);
  char expires[64], rest[200];
  expiry_text(&created, (int64_t)time(NULL), expires, sizeof expires);
  limits_text(&created, rest, sizeof rest);
  fprintf(stderr,
          "created key '%s' (id %s, scopes %s; expires %s, %s) in %s; it is shown only this "
          "once\n",
          created.name, created.id, created.scopes, expires, rest, dir);
  return 0;
}

static int keys_list(const char *dir) {
  qp_http_key_t *keys = NULL;
  uint32_t count = 0;
  char detail[512] = "";
  int rc = qp_http_keys_load(dir, &keys, &count, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu keys: %s\n", detail[0] ? detail : qp_strerror(rc));
    return 1;
  }
  int64_t now_s = (int64_t)time(NULL);
  printf("%-16s  %-24s  %-32s  %-20s  %-8s  %-30s  %-12s  %s\n", "ID", "NAME", "SCOPES",
         "CREATED (UTC)", "STATE", "EXPIRES (UTC)", "LEDGERS", "RATE");
  for (uint32_t i = 0; i < count; i++) {
    const qp_http_key_t *k = &keys[i];
    char when[32], expires[64], ledgers[128] = "all", rate[48] = "unlimited";
    qp_http_utc_format(k->created_s, when, sizeof when);
    expiry_text(k, now_s, expires, sizeof expires);
    if (k->limits.ledgers_count != 0)
      qp_http_ledgers_format(k->limits.ledgers, k->limits.ledgers_count, ",", ledgers,
                             sizeof ledgers);
    if (k->limits.rate_per_s != 0)
      snprintf(rate, sizeof rate, "%u/s burst %u", k->limits.rate_per_s, k->limits.burst);
    const char *state = k->revoked ? "revoked" : qp_http_key_expired(k, now_s) ? "expired"
                                                                               : "active";
    printf("%-16s  %-24s  %-32s  %-20s  %-8s  %-30s  %-12s  %s\n", k->id, k->name, k->scopes,
           when, state, expires, ledgers, rate);
  }
  qp_free(keys);
  return 0;
}

static int keys_revoke(const keys_args_t *a, const char *dir) {
  if (a->arg == NULL) {
    usage(stderr);
    return 2;
  }
  uint32_t revoked = 0;
  char detail[512] = "";
  int rc = qp_http_keys_revoke(dir, a->arg, &revoked, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu keys: %s\n", detail[0] ? detail : qp_strerror(rc));
    return 1;
  }
  printf("revoked %u key%s matching '%s'\n", revoked, revoked == 1 ? "" : "s", a->arg);
  return 0;
}

int qp_cmd_keys(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  keys_args_t a;
  int code = parse(argc - 1, argv + 1, &a);
  if (code >= 0) return code;
  const char *dir = qp_cli_data_dir(a.data);
  bool limits = a.expires_in || a.expires_at || a.ledgers || a.rate || a.burst;
  if (limits && strcmp(sub, "create") != 0) {
    fprintf(stderr, "quipu keys: --expires-in, --expires-at, --ledgers, --rate and --burst "
                    "are for `create`\n");
    return 2;
  }
  if (strcmp(sub, "create") == 0) return keys_create(&a, dir);
  if (strcmp(sub, "list") == 0) return keys_list(dir);
  if (strcmp(sub, "revoke") == 0) return keys_revoke(&a, dir);
  fprintf(stderr, "quipu keys: unknown subcommand '%s'\n\n", sub);
  usage(stderr);
  return 2;
}
