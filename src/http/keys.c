/*
 * keys.c - the API key store: <data>/keys/api_keys.
 *
 * A key is "qpk_<id>_<secret>": a public 16-hex-digit id, so the server can
 * find the key's record without trying every hash, and 32 random bytes in
 * hex.  Only BLAKE2b-256 of the whole text is stored.  The secret is 256
 * random bits, so a fast hash is enough: there is nothing to brute-force
 * that a slow password hash would protect.
 *
 * The file is one line per key, "id name scopes created_s revoked hash",
 * then the key's limits, only those it has, as name=value tokens:
 * "expires=<unix s>", "ledgers=1,2,840", "rate=<per s> burst=<n>".  Lines
 * of six fields (every key of earlier versions) have no limits; a line
 * with limits is refused by an earlier version rather than read without
 * them.  '#' lines are comments.  Every change takes an exclusive flock on
 * api_keys.lock (two `quipu keys` at once must not lose an update), writes
 * the whole file to a temp file, fsyncs it and renames it over the old one,
 * so a reader (the server) sees the old file or the new one, never half.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "http/http_int.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"

#define KEYS_FILE_BYTES_MAX (2u * 1024u * 1024u) /* refuse larger key files */
#define KEY_PREFIX "qpk_"
#define PATH_MAX_BYTES 4096u

static void set_detail(char *detail, size_t size, const char *fmt, const char *a, const char *b) {
  if (detail != NULL && size > 0) snprintf(detail, size, fmt, a, b);
}

int qp_http_keys_path(const char *data_dir, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s/keys/api_keys", data_dir);
  return (n < 0 || (size_t)n >= size) ? QP_ERANGE : 0;
}

static bool valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > QP_HTTP_KEY_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

static bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

/* --------------------------------------------------------------- parse */

#define FIELDS_BASE 6u  /* id name scopes created_s revoked hash: every version */
#define FIELDS_MAX 10u  /* plus expires= ledgers= rate= burst=, each at most once */

/* A decimal number without sign or leading zeros, at most max; false if
 * text is anything else. */
static bool parse_decimal(const char *text, uint64_t max, uint64_t *out) {
  size_t n = strlen(text);
  if (n == 0 || n > 19 || (n > 1 && text[0] == '0')) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10u + (uint64_t)(text[i] - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

/* One "name=value" token after the six base fields into k->limits; *field
 * names what was wrong.  Each name at most once (seen: a bit per name). */
static int parse_extension(char *token, qp_http_key_t *k, uint32_t *seen, const char **field) {
  static const char *const NAMES[] = {"expires", "ledgers", "rate", "burst"};
  char *eq = strchr(token, '=');
  uint32_t which = 0;
  while (eq != NULL && which < 4 &&
         (strlen(NAMES[which]) != (size_t)(eq - token) ||
          memcmp(token, NAMES[which], (size_t)(eq - token)) != 0))
    which++;
  *field = "an unknown field (expected expires=, ledgers=, rate=, burst=)";
  if (eq == NULL || which == 4) return QP_ECORRUPT;
  *field = NAMES[which];
  if (*seen & (1u << which)) return QP_ECORRUPT; /* given twice */
  *seen |= 1u << which;
  const char *value = eq + 1;
  uint64_t v = 0;
  qp_http_key_limits_t *l = &k->limits;
  if (which == 1)
    return qp_http_ledgers_parse(value, l->ledgers, &l->ledgers_count, NULL, 0) == 0
               ? 0
               : QP_ECORRUPT;
  uint64_t max = which == 0 ? (uint64_t)QP_HTTP_KEY_EXPIRES_MAX_S : QP_HTTP_KEY_RATE_MAX;
  if (!parse_decimal(value, max, &v)) return QP_ECORRUPT;
  if (which == 0) l->expires_s = (int64_t)v;
  if (which == 2) l->rate_per_s = (uint32_t)v;
  if (which == 3) l->burst = (uint32_t)v;
  return 0;
}

/* The six fields every version writes; *field names a bad one. */
static int parse_base(char *const fields[FIELDS_BASE], qp_http_key_t *k, const char **field) {
  *field = "id";
  if (strlen(fields[0]) != QP_HTTP_KEY_ID_HEX || !is_hex(fields[0], QP_HTTP_KEY_ID_HEX))
    return QP_ECORRUPT;
  memcpy(k->id, fields[0], QP_HTTP_KEY_ID_HEX + 1);
  *field = "name";
  if (!valid_name(fields[1])) return QP_ECORRUPT;
  memcpy(k->name, fields[1], strlen(fields[1]) + 1);
  *field = "scopes";
  if (!qp__http_scopes_wellformed(fields[2])) return QP_ECORRUPT;
  memcpy(k->scopes, fields[2], strlen(fields[2]) + 1);
  *field = "created_s";
  uint64_t created = 0;
  if (!parse_decimal(fields[3], INT64_MAX, &created)) return QP_ECORRUPT;
  k->created_s = (int64_t)created;
  *field = "revoked";
  if (strcmp(fields[4], "0") != 0 && strcmp(fields[4], "1") != 0) return QP_ECORRUPT;
  k->revoked = fields[4][0] == '1';
  *field = "hash";
  if (strlen(fields[5]) != 2 * QP_HASH_SIZE || !is_hex(fields[5], 2 * QP_HASH_SIZE))
    return QP_ECORRUPT;
  size_t bin_len = 0;
  if (sodium_hex2bin(k->hash, QP_HASH_SIZE, fields[5], 2 * QP_HASH_SIZE, NULL, &bin_len, NULL) !=
          0 ||
      bin_len != QP_HASH_SIZE)
    return QP_ECORRUPT;
  return 0;
}

/* Parses one line "id name scopes created revoked hash [name=value...]"
 * into *k; on QP_ECORRUPT *field names the field that is wrong.  Lines of
 * earlier versions have the six base fields only: no limits. */
static int parse_line(char *line, qp_http_key_t *k, const char **field) {
  char *fields[FIELDS_MAX];
  uint32_t n = 0;
  char *save = NULL;
  *field = "the number of fields (6 to 10 separated by spaces)";
  for (char *tok = strtok_r(line, " \t", &save); tok != NULL;
       tok = strtok_r(NULL, " \t", &save)) {
    if (n == FIELDS_MAX) return QP_ECORRUPT;
    fields[n++] = tok;
  }
  if (n < FIELDS_BASE) return QP_ECORRUPT;
  memset(k, 0, sizeof *k);
  int rc = parse_base(fields, k, field);
  uint32_t seen = 0;
  for (uint32_t i = FIELDS_BASE; rc == 0 && i < n; i++)
    rc = parse_extension(fields[i], k, &seen, field);
  if (rc != 0) return rc;
  /* "burst" alone, or a value outside the limits' invariant: name it. */
  char why[160];
  if (qp_http_key_limits_check(&k->limits, why, sizeof why) != 0) {
    *field = (k->limits.burst != 0 && k->limits.rate_per_s == 0) ? "burst (without rate)"
                                                                 : "limits";
    return QP_ECORRUPT;
  }
  return 0;
}

/* Reads the whole file into a NUL-terminated buffer; *out NULL if absent. */
static int read_file(const char *path, char **out, char *detail, size_t detail_size) {
  size_t len = 0;
  unsigned mode = 0;
  int rc = qp_file_read(path, KEYS_FILE_BYTES_MAX, out, &len, &mode, detail, detail_size);
  if (rc == QP_ENOTFOUND) return 0;
  if (rc != 0) return rc == QP_ENOMEM ? rc : QP_EIO;
  if ((mode & (S_IRWXG | S_IRWXO)) != 0) {
    /* Whoever can read the key hashes can tell which keys exist and when
     * they were made, and whoever can write them can let themselves in. */
    set_detail(detail, detail_size,
               "%s is open to other users; refusing to use it: run `chmod 600 %s`", path, path);
    qp_free(*out);
    *out = NULL;
    return QP_EIO;
  }
  return 0;
}

/* Parses every line of text into keys; on QP_ECORRUPT detail names the
 * line and the field. */
static int parse_text(char *text, const char *path, qp_http_key_t *keys, uint32_t *count_out,
                      char *detail, size_t detail_size) {
  uint32_t count = 0, line_no = 0;
  int rc = 0;
  const char *field = "";
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL && rc == 0;
       line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    if (line[0] == '#' || line[0] == '\0') continue;
    if (count == QP_HTTP_KEYS_MAX) {
      rc = QP_ELIMIT;
      field = "the number of keys (at most 4096)";
    } else {
      rc = parse_line(line, &keys[count], &field);
    }
    if (rc == 0) count++;
  }
  *count_out = count;
  if (rc != 0 && detail != NULL && detail_size > 0)
    snprintf(detail, detail_size, "%s: bad key record on line %u: bad %s", path, line_no, field);
  return rc == 0 ? 0 : QP_ECORRUPT;
}

int qp_http_keys_load(const char *data_dir, qp_http_key_t **out, uint32_t *count_out, char *detail,
                     size_t detail_size) {
  *out = NULL;
  *count_out = 0;
  char path[PATH_MAX_BYTES];
  if (qp_http_keys_path(data_dir, path, sizeof path) != 0) return QP_ERANGE;
  char *text;
  int rc = read_file(path, &text, detail, detail_size);
  if (rc != 0 || text == NULL) return rc;
  qp_http_key_t *keys = qp_calloc(QP_HTTP_KEYS_MAX, sizeof *keys);
  if (keys == NULL) {
    qp_free(text);
    return QP_ENOMEM;
  }
  uint32_t count = 0;
  rc = parse_text(text, path, keys, &count, detail, detail_size);
  qp_free(text);
  if (rc != 0) {
    qp_free(keys);
    return rc;
  }
  *out = keys;
  *count_out = count;
  return 0;
}

/* --------------------------------------------------------------- write */

/* mkdir -p for <data> and <data>/keys, each 0700 when created. */
static int ensure_dirs(const char *data_dir, char *detail, size_t detail_size) {
  char keys_dir[PATH_MAX_BYTES];
  int n = snprintf(keys_dir, sizeof keys_dir, "%s/keys", data_dir);
  if (n < 0 || (size_t)n >= sizeof keys_dir) return QP_ERANGE;
  int rc = qp_mkdir_p(keys_dir);
  if (rc != 0) {
    set_detail(detail, detail_size, "cannot create %s: %s", keys_dir, qp_strerror(rc));
    return QP_EIO;
  }
  return 0;
}

/* Takes the store's writer lock; returns the fd to close, or -1. */
static int lock_store(const char *data_dir, char *detail, size_t detail_size) {
  char path[PATH_MAX_BYTES];
  int n = snprintf(path, sizeof path, "%s/keys/api_keys.lock", data_dir);
  if (n < 0 || (size_t)n >= sizeof path) return -1;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) {
    set_detail(detail, detail_size, "cannot lock %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

#define LINE_BYTES_MAX 2048u /* one record: 6 fields (~440 bytes) and limits (~760) */

/* Formats one key record (without the newline) into line: the six base
 * fields, then only the limits a key has, so a key without limits is a
 * line every version reads, and a line with limits is one an earlier
 * version refuses (too many fields) instead of ignoring its limits. */
static void format_line(const qp_http_key_t *k, char *line, size_t size) {
  char hash[2 * QP_HASH_SIZE + 1];
  sodium_bin2hex(hash, sizeof hash, k->hash, QP_HASH_SIZE);
  const qp_http_key_limits_t *l = &k->limits;
  int n = snprintf(line, size, "%s %s %s %lld %d %s", k->id, k->name, k->scopes,
                   (long long)k->created_s, k->revoked ? 1 : 0, hash);
  QP_ASSERT(n > 0 && (size_t)n < size);
  size_t used = (size_t)n;
  if (l->expires_s != 0)
    used += (size_t)snprintf(line + used, size - used, " expires=%lld", (long long)l->expires_s);
  if (l->ledgers_count != 0) {
    char list[QP_HTTP_KEY_LEDGERS_MAX * 11 + 4];
    qp_http_ledgers_format(l->ledgers, l->ledgers_count, ",", list, sizeof list);
    QP_ASSERT(strstr(list, "...") == NULL); /* sized for 64 ten-digit ledgers */
    used += (size_t)snprintf(line + used, size - used, " ledgers=%s", list);
  }
  if (l->rate_per_s != 0)
    used += (size_t)snprintf(line + used, size - used, " rate=%u burst=%u", l->rate_per_s,
                             l->burst != 0 ? l->burst : l->rate_per_s);
  QP_ASSERT(used < size);
}

/* Replaces the key file with keys[0, count), atomically (qp_file_replace:
 * temp file, fsync, rename, fsync of the directory). */
static int store_keys(const char *data_dir, const qp_http_key_t *keys, uint32_t count,
                      char *detail, size_t detail_size) {
  char path[PATH_MAX_BYTES];
  if (qp_http_keys_path(data_dir, path, sizeof path) != 0) return QP_ERANGE;
  static const char header[] =
      "# quipu API keys: id name scopes created_s revoked blake2b256(key) [expires=S] "
      "[ledgers=L,...] [rate=N burst=N]. Edit with `quipu keys`.\n";
  qp_buf_t text = {.max = KEYS_FILE_BYTES_MAX};
  qp_buf_append(&text, header, sizeof header - 1);
  for (uint32_t i = 0; i < count; i++) {
    char line[LINE_BYTES_MAX];
    format_line(&keys[i], line, sizeof line);
    size_t n = strlen(line);
    line[n++] = '\n';
    qp_buf_append(&text, line, n);
  }
  int rc = text.failed ? QP_ENOMEM
                       : qp_file_replace(path, text.data, text.len, 0600, detail, detail_size);
  qp_buf_free(&text);
  return rc;
}

/* Runs edit(keys, &count, ctx) between load and store, under the lock. */
typedef int (*edit_fn)(qp_http_key_t *keys, uint32_t *count, void *ctx, char *detail,
                       size_t detail_size);

static int edit_store(const char *data_dir, edit_fn edit, void *ctx, char *detail,
                      size_t detail_size) {
  int rc = ensure_dirs(data_dir, detail, detail_size);
  if (rc != 0) return rc;
  int lock_fd = lock_store(data_dir, detail, detail_size);
  if (lock_fd < 0) return QP_EIO;
  qp_http_key_t *loaded = NULL;
  uint32_t count = 0;
  rc = qp_http_keys_load(data_dir, &loaded, &count, detail, detail_size);
  qp_http_key_t *keys = qp_calloc(QP_HTTP_KEYS_MAX, sizeof *keys);
  if (rc == 0 && keys == NULL) rc = QP_ENOMEM;
  if (rc == 0) {
    if (count > 0) memcpy(keys, loaded, count * sizeof *keys);
    rc = edit(keys, &count, ctx, detail, detail_size);
  }
  if (rc == 0) rc = store_keys(data_dir, keys, count, detail, detail_size);
  qp_free(loaded);
  qp_free(keys);
  flock(lock_fd, LOCK_UN);
  close(lock_fd);
  return rc;
}

/* -------------------------------------------------------------- create */

typedef struct create_ctx {
  const char *name;     /* requested name */
  const char *scopes;   /* requested scopes, comma-separated */
  qp_http_key_limits_t limits; /* requested limits */
  char *key_text;       /* out: the key, QP_HTTP_KEY_TEXT_SIZE bytes */
  qp_http_key_t created; /* out: the stored record */
} create_ctx_t;

static int create_edit(qp_http_key_t *keys, uint32_t *count, void *vctx, char *detail,
                       size_t detail_size) {
  create_ctx_t *c = vctx;
  for (uint32_t i = 0; i < *count; i++) {
    if (!keys[i].revoked && strcmp(keys[i].name, c->name) == 0) {
      set_detail(detail, detail_size, "a live key named '%s' exists already%s", c->name,
                 " (revoke it first, or pick another name)");
      return QP_EEXISTS;
    }
  }
  if (*count >= QP_HTTP_KEYS_MAX) {
    set_detail(detail, detail_size, "%s%s", "the key file is full", "");
    return QP_ELIMIT;
  }
  qp_http_key_t *k = &keys[*count];
  memset(k, 0, sizeof *k);
  uint8_t id_bytes[QP_HTTP_KEY_ID_HEX / 2];
  bool unique;
  do { /* 64-bit ids: a clash is astronomically unlikely, but cheap to rule out */
    randombytes_buf(id_bytes, sizeof id_bytes);
    sodium_bin2hex(k->id, sizeof k->id, id_bytes, sizeof id_bytes);
    unique = true;
    for (uint32_t i = 0; i < *count; i++) unique = unique && strcmp(keys[i].id, k->id) != 0;
  } while (!unique);
  uint8_t *secret = sodium_malloc(QP_HTTP_KEY_SECRET_BYTES);
  if (secret == NULL) return QP_ENOMEM;
  randombytes_buf(secret, QP_HTTP_KEY_SECRET_BYTES);
  char secret_hex[2 * QP_HTTP_KEY_SECRET_BYTES + 1];
  sodium_bin2hex(secret_hex, sizeof secret_hex, secret, QP_HTTP_KEY_SECRET_BYTES);
  sodium_free(secret);
  snprintf(c->key_text, QP_HTTP_KEY_TEXT_SIZE, KEY_PREFIX "%s_%s", k->id, secret_hex);
  sodium_memzero(secret_hex, sizeof secret_hex);
  memcpy(k->name, c->name, strlen(c->name) + 1);
  memcpy(k->scopes, c->scopes, strlen(c->scopes) + 1);
  k->limits = c->limits;
  k->created_s = (int64_t)time(NULL);
  qp_hash256(k->hash, c->key_text, strlen(c->key_text));
  c->created = *k;
  (*count)++;
  return 0;
}

int qp_http_keys_create(const char *data_dir, const char *name, const char *scopes,
                       char key_text[QP_HTTP_KEY_TEXT_SIZE], qp_http_key_t *created, char *detail,
                       size_t detail_size) {
  return qp_http_keys_create_limited(data_dir, name, scopes, NULL, key_text, created, detail,
                                     detail_size);
}

int qp_http_keys_create_limited(const char *data_dir, const char *name, const char *scopes,
                                const qp_http_key_limits_t *limits,
                                char key_text[QP_HTTP_KEY_TEXT_SIZE], qp_http_key_t *created,
                                char *detail, size_t detail_size) {
  if (!valid_name(name)) {
    set_detail(detail, detail_size, "bad key name '%s': use 1-64 of A-Z a-z 0-9 . _ -%s", name, "");
    return QP_EINVAL;
  }
  if (scopes == NULL || !qp__http_scopes_wellformed(scopes)) {
    set_detail(detail, detail_size, "%s%s", "a key needs at least one scope: ",
               "comma-separated names of [a-z0-9_:] (see `quipu keys --help`)");
    return QP_EINVAL;
  }
  create_ctx_t ctx = {.name = name, .scopes = scopes, .key_text = key_text};
  if (limits != NULL) {
    if (qp_http_key_limits_check(limits, detail, detail_size) != 0) return QP_EINVAL;
    ctx.limits = *limits;
    if (ctx.limits.rate_per_s != 0 && ctx.limits.burst == 0)
      ctx.limits.burst = ctx.limits.rate_per_s; /* stored explicitly: one second's worth */
  }
  if (qp_crypto_init() != 0) return QP_EIO;
  key_text[0] = '\0';
  int rc = edit_store(data_dir, create_edit, &ctx, detail, detail_size);
  if (rc != 0) sodium_memzero(key_text, QP_HTTP_KEY_TEXT_SIZE);
  if (rc == 0 && created != NULL) *created = ctx.created;
  return rc;
}

/* -------------------------------------------------------------- revoke */

typedef struct revoke_ctx {
  const char *name_or_id; /* what to revoke */
  uint32_t revoked;       /* out: how many */
} revoke_ctx_t;

static int revoke_edit(qp_http_key_t *keys, uint32_t *count, void *vctx, char *detail,
                       size_t detail_size) {
  revoke_ctx_t *c = vctx;
  for (uint32_t i = 0; i < *count; i++) {
    if (keys[i].revoked) continue;
    if (strcmp(keys[i].name, c->name_or_id) == 0 || strcmp(keys[i].id, c->name_or_id) == 0) {
      keys[i].revoked = true;
      c->revoked++;
    }
  }
  if (c->revoked == 0) {
    set_detail(detail, detail_size, "no live key has the name or id '%s'%s", c->name_or_id, "");
    return QP_ENOTFOUND;
  }
  return 0;
}

int qp_http_keys_revoke(const char *data_dir, const char *name_or_id, uint32_t *revoked_out,
                       char *detail, size_t detail_size) {
  revoke_ctx_t ctx = {.name_or_id = name_or_id};
  *revoked_out = 0;
  int rc = edit_store(data_dir, revoke_edit, &ctx, detail, detail_size);
  if (rc == 0) *revoked_out = ctx.revoked;
  return rc;
}

/* --------------------------------------------------------------- sweep */

typedef struct sweep_ctx {
  qp_http_key_action_t (*pick)(void *ctx, const qp_http_key_t *key); /* the caller's choice */
  void *ctx;                                                          /* pick's */
  uint32_t revoked, removed;                                          /* out: how many */
} sweep_ctx_t;

static int sweep_edit(qp_http_key_t *keys, uint32_t *count, void *vctx, char *detail,
                      size_t detail_size) {
  (void)detail;
  (void)detail_size;
  sweep_ctx_t *c = vctx;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < *count; i++) {
    qp_http_key_action_t what = c->pick(c->ctx, &keys[i]);
    if (what == QP_HTTP_KEY_REMOVE) {
      c->removed++;
      continue;
    }
    if (what == QP_HTTP_KEY_REVOKE && !keys[i].revoked) {
      keys[i].revoked = true;
      c->revoked++;
    }
    if (kept != i) keys[kept] = keys[i];
    kept++;
  }
  QP_ASSERT(kept + c->removed == *count);
  *count = kept;
  return 0;
}

int qp_http_keys_sweep(const char *data_dir,
                       qp_http_key_action_t (*pick)(void *ctx, const qp_http_key_t *key),
                       void *ctx, uint32_t *revoked, uint32_t *removed, char *detail,
                       size_t detail_size) {
  sweep_ctx_t c = {pick, ctx, 0, 0};
  int rc = edit_store(data_dir, sweep_edit, &c, detail, detail_size);
  if (revoked != NULL) *revoked = rc == 0 ? c.revoked : 0;
  if (removed != NULL) *removed = rc == 0 ? c.removed : 0;
  return rc;
}

/* --------------------------------------------------------------- match */

int qp_http_keys_match(const qp_http_key_t *keys, uint32_t count, const char *key_text,
                      size_t key_len) {
  const size_t prefix = sizeof KEY_PREFIX - 1;
  if (key_len != prefix + QP_HTTP_KEY_ID_HEX + 1 + 2 * QP_HTTP_KEY_SECRET_BYTES) return -1;
  if (memcmp(key_text, KEY_PREFIX, prefix) != 0 || key_text[prefix + QP_HTTP_KEY_ID_HEX] != '_')
    return -1;
  uint8_t hash[QP_HASH_SIZE];
  qp_hash256(hash, key_text, key_len);
  for (uint32_t i = 0; i < count; i++) {
    if (keys[i].revoked || memcmp(keys[i].id, key_text + prefix, QP_HTTP_KEY_ID_HEX) != 0) continue;
    if (sodium_memcmp(keys[i].hash, hash, QP_HASH_SIZE) == 0) return (int)i;
  }
  return -1;
}
