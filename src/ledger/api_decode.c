/*
 * decode.c - request bodies to ledger events, strictly.
 *
 * The decoder is a pure function of the bytes it is given: it either
 * returns every event of the batch or one error naming the first field that
 * is wrong ("[3].amount").  A batch is all or nothing at this layer: a
 * request that cannot be understood is refused whole, so no event of it is
 * ever applied (DESIGN.md section 5).  Values that are well-formed but break
 * a ledger rule (an id of 0, a non-zero timestamp) are not decoding errors:
 * they go through, and the ledger gives them their own result code.
 *
 * Fields are described by tables (name, width, offset) rather than by code
 * per field, so accounts and transfers share one loop and adding a field is
 * one line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ledger/api.h"
#include "ledger/api_int.h"
#include "base/alloc.h"
#include "base/err.h"

typedef enum { K_U128, K_U64, K_U32, K_U16, K_FLAGS } field_kind_t;

typedef struct field_spec {
  const char *name;  /* JSON name, as in the ledger contract */
  field_kind_t kind; /* width and encoding */
  size_t offset;     /* into qp_account_t / qp_transfer_t */
} field_spec_t;

#define ACC(f) offsetof(qp_account_t, f)
#define TRF(f) offsetof(qp_transfer_t, f)

static const field_spec_t ACCOUNT_FIELDS[] = {
    {"id", K_U128, ACC(id)},
    {"debits_pending", K_U128, ACC(debits_pending)},
    {"debits_posted", K_U128, ACC(debits_posted)},
    {"credits_pending", K_U128, ACC(credits_pending)},
    {"credits_posted", K_U128, ACC(credits_posted)},
    {"user_data_128", K_U128, ACC(user_data_128)},
    {"user_data_64", K_U64, ACC(user_data_64)},
    {"user_data_32", K_U32, ACC(user_data_32)},
    {"reserved", K_U32, ACC(reserved)},
    {"ledger", K_U32, ACC(ledger)},
    {"code", K_U16, ACC(code)},
    {"flags", K_FLAGS, ACC(flags)},
    {"timestamp", K_U64, ACC(timestamp)},
};

static const field_spec_t TRANSFER_FIELDS[] = {
    {"id", K_U128, TRF(id)},
    {"debit_account_id", K_U128, TRF(debit_account_id)},
    {"credit_account_id", K_U128, TRF(credit_account_id)},
    {"amount", K_U128, TRF(amount)},
    {"pending_id", K_U128, TRF(pending_id)},
    {"user_data_128", K_U128, TRF(user_data_128)},
    {"user_data_64", K_U64, TRF(user_data_64)},
    {"user_data_32", K_U32, TRF(user_data_32)},
    {"timeout", K_U32, TRF(timeout)},
    {"ledger", K_U32, TRF(ledger)},
    {"code", K_U16, TRF(code)},
    {"flags", K_FLAGS, TRF(flags)},
    {"timestamp", K_U64, TRF(timestamp)},
};

#define FIELD_COUNT(t) ((uint32_t)(sizeof(t) / sizeof((t)[0])))
#define BIT(i) (1u << (i))

/* Indexes into the tables above, for the required-field masks. */
enum { A_ID = 0, A_LEDGER = 9, A_CODE = 10 };
enum {
  T_ID = 0,
  T_DEBIT = 1,
  T_CREDIT = 2,
  T_AMOUNT = 3,
  T_PENDING_ID = 4,
  T_LEDGER = 9,
  T_CODE = 10
};

typedef struct flag_name {
  const char *name; /* wire name */
  uint16_t bit;     /* QP_ACCOUNT_* or QP_TRANSFER_* */
} flag_name_t;

static const flag_name_t ACCOUNT_FLAGS[] = {
#define QP__AFN(NAME, name, bit) {#name, (uint16_t)(bit)},
    QP_ACCOUNT_FLAGS_MAP(QP__AFN)
#undef QP__AFN
};

static const flag_name_t TRANSFER_FLAGS[] = {
#define QP__TFN(NAME, name, bit) {#name, (uint16_t)(bit)},
    QP_TRANSFER_FLAGS_MAP(QP__TFN)
#undef QP__TFN
};

/* What distinguishes accounts from transfers for the shared loop. */
typedef struct record_kind {
  const char *noun;           /* "account" / "transfer", for messages */
  const field_spec_t *fields; /* accepted fields */
  uint32_t fields_count;      /* rows in fields */
  const flag_name_t *flags;   /* accepted flag names */
  uint32_t flags_count;       /* rows in flags */
  size_t record_size;         /* sizeof the event struct */
} record_kind_t;

static const record_kind_t ACCOUNT_KIND = {"account",
                                           ACCOUNT_FIELDS,
                                           FIELD_COUNT(ACCOUNT_FIELDS),
                                           ACCOUNT_FLAGS,
                                           FIELD_COUNT(ACCOUNT_FLAGS),
                                           sizeof(qp_account_t)};
static const record_kind_t TRANSFER_KIND = {"transfer",
                                            TRANSFER_FIELDS,
                                            FIELD_COUNT(TRANSFER_FIELDS),
                                            TRANSFER_FLAGS,
                                            FIELD_COUNT(TRANSFER_FLAGS),
                                            sizeof(qp_transfer_t)};

/* ------------------------------------------------------------- helpers */

/* snprintf for paths: a path too long for the envelope is cut, which is
 * fine (it still starts with the batch index). */
static void path_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_fmt(char *out, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, size, fmt, ap);
  va_end(ap);
  if (n < 0) out[0] = '\0';
}

/* Copies a client-supplied name into a path safely: at most 40 bytes, and
 * anything outside printable ASCII becomes '?' so the envelope stays valid
 * JSON whatever the client sent. */
static void safe_name(char *out, size_t size, const char *name) {
  size_t n = 0;
  for (; name[n] != '\0' && n < 40 && n < size - 1; n++)
    out[n] = (name[n] >= 0x20 && name[n] < 0x7f && name[n] != '"') ? name[n] : '?';
  out[n] = '\0';
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "unknown";
}

static uint64_t width_max(field_kind_t kind) {
  switch (kind) {
    case K_U64: return UINT64_MAX;
    case K_U32: return UINT32_MAX;
    case K_U16: return UINT16_MAX;
    default: return 0;
  }
}

static const char *width_text(field_kind_t kind) {
  switch (kind) {
    case K_U128: return "2^128-1";
    case K_U64: return "2^64-1";
    case K_U32: return "4294967295";
    case K_U16: return "65535";
    default: return "?";
  }
}

/* A non-negative integer from a decimal string or a JSON integer, for the
 * 128- and 64-bit fields (which exceed what a JSON number carries exactly). */
static int decode_big(const json_t *v, field_kind_t kind, const char *path, qp_u128 *out,
                      qp_http_error_t *err) {
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i < 0)
      return qp_http_error_set(err, 400, "out_of_range", path, "must be >= 0, got %lld",
                              (long long)i);
    *out = (qp_u128)(uint64_t)i;
    return 0;
  }
  if (!json_is_string(v))
    return qp_http_error_set(err, 400, "invalid_type", path,
                            "must be a decimal string (or a JSON integer), not %s", type_name(v));
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n == 2 && s[0] == '-' && s[1] == '0')
    return qp_http_error_set(err, 400, "invalid_value", path,
                             "negative zero is not allowed; send \"0\"");
  if (n > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9')
    return qp_http_error_set(err, 400, "invalid_value", path,
                             "leading zeros are not allowed (\"0\" itself is fine)");
  int rc = qp_u128_parse(s, n, out);
  if (rc == QP_ERANGE || (rc == 0 && kind == K_U64 && *out > UINT64_MAX))
    return qp_http_error_set(err, 400, "out_of_range", path, "must be at most %s",
                             width_text(kind));
  if (rc != 0 && n > 1 && s[0] == '-' && qp_u128_parse(s + 1, n - 1, out) != QP_EPARSE)
    return qp_http_error_set(err, 400, "out_of_range", path, "must be >= 0");
  if (rc != 0)
    return qp_http_error_set(err, 400, "invalid_value", path,
                            "must be a non-empty string of decimal digits (0-9)");
  return 0;
}

/* A JSON integer within the width of a 32- or 16-bit field. */
static int decode_small(const json_t *v, field_kind_t kind, const char *path, uint64_t *out,
                        qp_http_error_t *err) {
  if (!json_is_integer(v))
    return qp_http_error_set(err, 400, "invalid_type", path, "must be a JSON integer, not %s",
                            type_name(v));
  json_int_t i = json_integer_value(v);
  if (i < 0)
    return qp_http_error_set(err, 400, "out_of_range", path, "must be >= 0, got %lld",
                             (long long)i);
  if ((uint64_t)i > width_max(kind))
    return qp_http_error_set(err, 400, "out_of_range", path, "must be at most %s",
                             width_text(kind));
  *out = (uint64_t)i;
  return 0;
}

/* An array of flag names, OR-ed together. */
static int decode_flags(const json_t *v, const record_kind_t *kind, const char *path, uint16_t *out,
                        qp_http_error_t *err) {
  if (!json_is_array(v))
    return qp_http_error_set(err, 400, "invalid_type", path,
                            "must be an array of flag names, not %s", type_name(v));
  uint16_t flags = 0;
  size_t n = json_array_size(v);
  for (size_t i = 0; i < n; i++) {
    char sub[sizeof err->path];
    path_fmt(sub, sizeof sub, "%s[%zu]", path, i);
    const json_t *f = json_array_get(v, i);
    if (!json_is_string(f))
      return qp_http_error_set(err, 400, "invalid_type", sub, "must be a flag name string, not %s",
                              type_name(f));
    uint32_t k = 0;
    while (k < kind->flags_count && strcmp(kind->flags[k].name, json_string_value(f)) != 0) k++;
    if (k == kind->flags_count) {
      char shown[48];
      safe_name(shown, sizeof shown, json_string_value(f));
      return qp_http_error_set(err, 400, "invalid_value", sub, "unknown %s flag \"%s\"", kind->noun,
                              shown);
    }
    if (flags & kind->flags[k].bit)
      return qp_http_error_set(err, 400, "invalid_value", sub,
                               "flag \"%s\" is named twice; name each flag at most once",
                               kind->flags[k].name);
    flags = (uint16_t)(flags | kind->flags[k].bit);
  }
  *out = flags;
  return 0;
}

/* Decodes one field's value into the record. */
static int decode_field(const json_t *v, const field_spec_t *spec, const record_kind_t *kind,
                        const char *path, uint8_t *record, qp_http_error_t *err) {
  uint8_t *dst = record + spec->offset;
  if (spec->kind == K_FLAGS) {
    uint16_t flags = 0;
    if (decode_flags(v, kind, path, &flags, err) != 0) return QP_EPARSE;
    memcpy(dst, &flags, sizeof flags);
    return 0;
  }
  if (spec->kind == K_U128 || spec->kind == K_U64) {
    qp_u128 big;
    if (decode_big(v, spec->kind, path, &big, err) != 0) return QP_EPARSE;
    if (spec->kind == K_U128) {
      memcpy(dst, &big, sizeof big);
    } else {
      uint64_t u64 = (uint64_t)big;
      memcpy(dst, &u64, sizeof u64);
    }
    return 0;
  }
  uint64_t small = 0;
  if (decode_small(v, spec->kind, path, &small, err) != 0) return QP_EPARSE;
  if (spec->kind == K_U32) {
    uint32_t u32 = (uint32_t)small;
    memcpy(dst, &u32, sizeof u32);
  } else {
    uint16_t u16 = (uint16_t)small;
    memcpy(dst, &u16, sizeof u16);
  }
  return 0;
}

/* The fields an event must carry: accounts need id, ledger and code; a
 * transfer needs its id, and then either pending_id (post/void) or both
 * accounts, the amount, ledger and code. */
static uint32_t required_fields(const record_kind_t *kind, const uint8_t *record) {
  if (kind == &ACCOUNT_KIND) return BIT(A_ID) | BIT(A_LEDGER) | BIT(A_CODE);
  const qp_transfer_t *t = (const qp_transfer_t *)(const void *)record;
  if (t->flags & (QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER))
    return BIT(T_ID) | BIT(T_PENDING_ID);
  return BIT(T_ID) | BIT(T_DEBIT) | BIT(T_CREDIT) | BIT(T_AMOUNT) | BIT(T_LEDGER) | BIT(T_CODE);
}

/* Decodes the object at batch index `index` into record. */
static int decode_record(const json_t *obj, size_t index, const record_kind_t *kind,
                         uint8_t *record, qp_http_error_t *err) {
  char path[sizeof err->path];
  path_fmt(path, sizeof path, "[%zu]", index);
  if (!json_is_object(obj))
    return qp_http_error_set(err, 400, "invalid_type", path, "must be %s %s object, not %s",
                            kind == &ACCOUNT_KIND ? "an" : "a", kind->noun, type_name(obj));
  uint32_t seen = 0;
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    uint32_t f = 0;
    while (f < kind->fields_count && strcmp(kind->fields[f].name, key) != 0) f++;
    char shown[48];
    safe_name(shown, sizeof shown, key);
    char field_path[sizeof err->path];
    path_fmt(field_path, sizeof field_path, "%s.%s", path, shown);
    if (f == kind->fields_count)
      return qp_http_error_set(err, 400, "unknown_field", field_path, "unknown %s field \"%s\"",
                              kind->noun, shown);
    if (decode_field(value, &kind->fields[f], kind, field_path, record, err) != 0) return QP_EPARSE;
    seen |= BIT(f);
  }
  uint32_t missing = required_fields(kind, record) & ~seen;
  if (missing != 0) {
    uint32_t f = (uint32_t)__builtin_ctz(missing);
    char field_path[sizeof err->path];
    path_fmt(field_path, sizeof field_path, "%s.%s", path, kind->fields[f].name);
    return qp_http_error_set(err, 400, "missing_field", field_path, "%s field \"%s\" is required",
                            kind->noun, kind->fields[f].name);
  }
  return 0;
}

/* jansson reads the integer -0 as 0, so the tree cannot show it: the text
 * is searched (only when it contains "-0") and the number's path named. */
static json_t *refuse_negative_zero(json_t *root, const char *body, size_t len,
                                    qp_http_error_t *err) {
  if (memmem(body, len, "-0", 2) == NULL) return root;
  char path[sizeof err->path];
  if (qp__ledger_number_path(body, len, len, path, sizeof path) != QP__LEDGER_NEGATIVE_ZERO)
    return root;
  json_decref(root);
  qp_http_error_set(err, 400, "invalid_value", path, "negative zero (-0) is not allowed; send 0");
  return NULL;
}

/* Parses the body as JSON; on failure fills err with line and column. */
static json_t *parse_json(const char *body, size_t len, qp_http_error_t *err) {
  if (len == 0) {
    qp_http_error_set(err, 400, "invalid_json", "", "the request body is empty");
    return NULL;
  }
  json_error_t jerr;
  uint64_t failures = qp_http_json_alloc_failures();
  json_t *root = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (root != NULL) return refuse_negative_zero(root, body, len, err);
  if (qp_http_json_alloc_failures() != failures) { /* memory: the core's budget or a real OOM */
    qp_http_json_refused(err);
    return NULL;
  }
  enum json_error_code code = json_error_code(&jerr);
  if (code == json_error_numeric_overflow) {
    char path[sizeof err->path];
    size_t stop = jerr.position > 0 ? (size_t)jerr.position : 0;
    qp__ledger_number_path(body, len, stop, path, sizeof path);
    qp_http_error_set(err, 400, "out_of_range", path,
                      "a JSON number is too large (line %d, column %d): amounts and ids are "
                      "integers; beyond 2^63-1 send them as decimal strings",
                      jerr.line, jerr.column);
  }
  else if (code == json_error_duplicate_key)
    qp_http_error_set(err, 400, "invalid_json", "", "duplicate field (line %d, column %d): %s",
                     jerr.line, jerr.column, jerr.text);
  else
    qp_http_error_set(err, 400, "invalid_json", "", "malformed JSON at line %d, column %d: %s",
                     jerr.line, jerr.column, jerr.text);
  err->line = jerr.line > 0 ? jerr.line : 1;
  err->column = jerr.column > 0 ? jerr.column : 1;
  return NULL;
}

/* Checks that root is an array of 1..max elements named `what`. */
static int check_batch(const json_t *root, uint32_t max, const char *path, const char *what,
                       qp_http_error_t *err) {
  if (!json_is_array(root))
    return qp_http_error_set(err, 400, "invalid_type", path, "must be a JSON array of %s, not %s",
                            what, type_name(root));
  size_t n = json_array_size(root);
  if (n == 0)
    return qp_http_error_set(err, 400, "empty_batch", path, "the batch is empty: send 1 to %u %s",
                            max, what);
  if (n > max)
    return qp_http_error_set(err, 413, "batch_too_large", path,
                            "the batch has %zu %s; at most %u are allowed per request", n, what,
                            max);
  return 0;
}

static int decode_records(const char *body, size_t len, uint32_t events_max,
                          const record_kind_t *kind, void **out, uint32_t *count_out,
                          qp_http_error_t *err) {
  *out = NULL;
  *count_out = 0;
  memset(err, 0, sizeof *err);
  if (events_max == 0 || events_max > QP_BATCH_EVENTS_MAX) events_max = QP_BATCH_EVENTS_MAX;
  json_t *root = parse_json(body, len, err);
  if (root == NULL) return err->status == 500 ? QP_ENOMEM : QP_EPARSE;
  const char *what = kind == &ACCOUNT_KIND ? "account objects" : "transfer objects";
  int rc = check_batch(root, events_max, "", what, err);
  size_t n = rc == 0 ? json_array_size(root) : 0;
  uint8_t *records = NULL;
  if (rc == 0) {
    records = qp_calloc(n, kind->record_size);
    if (records == NULL) rc = QP_ENOMEM;
  }
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = decode_record(json_array_get(root, i), i, kind, records + i * kind->record_size, err);
  json_decref(root);
  if (rc != 0) {
    if (rc == QP_ENOMEM) qp_http_error_set(err, 500, "internal", "", "out of memory");
    qp_free(records);
    return rc;
  }
  *out = records;
  *count_out = (uint32_t)n;
  return 0;
}

int qp_ledger_decode_accounts(const char *body, size_t len, uint32_t events_max, qp_account_t **out,
                           uint32_t *count_out, qp_http_error_t *err) {
  void *records;
  int rc = decode_records(body, len, events_max, &ACCOUNT_KIND, &records, count_out, err);
  *out = records;
  return rc;
}

int qp_ledger_decode_transfers(const char *body, size_t len, uint32_t events_max,
                               qp_transfer_t **out, uint32_t *count_out, qp_http_error_t *err) {
  void *records;
  int rc = decode_records(body, len, events_max, &TRANSFER_KIND, &records, count_out, err);
  *out = records;
  return rc;
}

/* Decodes the "ids" array of a lookup body into a new array. */
static int decode_id_array(const json_t *ids, uint32_t ids_max, qp_u128 **out, uint32_t *count_out,
                           qp_http_error_t *err) {
  if (check_batch(ids, ids_max, "ids", "ids", err) != 0) return QP_EPARSE;
  size_t n = json_array_size(ids);
  qp_u128 *rows = qp_calloc(n, sizeof *rows);
  if (rows == NULL) {
    qp_http_error_set(err, 500, "internal", "", "out of memory");
    return QP_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    char path[32];
    path_fmt(path, sizeof path, "ids[%zu]", i);
    if (decode_big(json_array_get(ids, i), K_U128, path, &rows[i], err) != 0) {
      qp_free(rows);
      return QP_EPARSE;
    }
  }
  *out = rows;
  *count_out = (uint32_t)n;
  return 0;
}

int qp_ledger_decode_ids(const char *body, size_t len, uint32_t ids_max, qp_u128 **out,
                      uint32_t *count_out, qp_http_error_t *err) {
  *out = NULL;
  *count_out = 0;
  memset(err, 0, sizeof *err);
  if (ids_max == 0 || ids_max > QP_LEDGER_API_LOOKUP_IDS_MAX)
    ids_max = QP_LEDGER_API_LOOKUP_IDS_MAX;
  json_t *root = parse_json(body, len, err);
  if (root == NULL) return err->status == 500 ? QP_ENOMEM : QP_EPARSE;
  int rc = 0;
  const char *key;
  json_t *value;
  if (!json_is_object(root))
    rc = qp_http_error_set(err, 400, "invalid_type", "", "must be an object {\"ids\":[…]}, not %s",
                          type_name(root));
  json_object_foreach(json_is_object(root) ? root : NULL, key, value) {
    if (rc != 0) break;
    if (strcmp(key, "ids") == 0) continue;
    char shown[48];
    safe_name(shown, sizeof shown, key);
    rc = qp_http_error_set(err, 400, "unknown_field", shown, "unknown field \"%s\"; only \"ids\"",
                          shown);
  }
  const json_t *ids = rc == 0 ? json_object_get(root, "ids") : NULL;
  if (rc == 0 && ids == NULL)
    rc = qp_http_error_set(err, 400, "missing_field", "ids", "field \"ids\" is required");
  if (rc == 0) rc = decode_id_array(ids, ids_max, out, count_out, err);
  json_decref(root);
  return rc;
}

/* ---------------------------------------------------------------- query */

#define QRY(f) offsetof(qp_query_filter_t, f)

static const field_spec_t QUERY_FIELDS[] = {
    {"user_data_128", K_U128, QRY(user_data_128)},
    {"user_data_64", K_U64, QRY(user_data_64)},
    {"user_data_32", K_U32, QRY(user_data_32)},
    {"ledger", K_U32, QRY(ledger)},
    {"code", K_U16, QRY(code)},
    {"timestamp_min", K_U64, QRY(timestamp_min)},
    {"timestamp_max", K_U64, QRY(timestamp_max)},
    {"limit", K_U32, QRY(limit)},
    {"flags", K_FLAGS, QRY(flags)},
};

static const flag_name_t QUERY_FLAGS[] = {{"reversed", QP_QUERY_REVERSED}};

static const record_kind_t QUERY_KIND = {"query",
                                         QUERY_FIELDS,
                                         FIELD_COUNT(QUERY_FIELDS),
                                         QUERY_FLAGS,
                                         FIELD_COUNT(QUERY_FLAGS),
                                         sizeof(qp_query_filter_t)};

/* The filter's own rules, once every field decoded. */
static int check_query_filter(qp_query_filter_t *f, const json_t *obj, qp_http_error_t *err) {
  if (json_object_get(obj, "limit") == NULL) f->limit = QP_LEDGER_API_QUERY_LIMIT_DEFAULT;
  if (f->limit == 0 || f->limit > QP_QUERY_LIMIT_MAX)
    return qp_http_error_set(err, 400, "out_of_range", "limit", "must be from 1 to %u",
                             QP_QUERY_LIMIT_MAX);
  if (f->timestamp_max != 0 && f->timestamp_min > f->timestamp_max)
    return qp_http_error_set(err, 400, "invalid_value", "timestamp_min",
                             "must not be after timestamp_max");
  return 0;
}

int qp_ledger_decode_query(const char *body, size_t len, qp_query_filter_t *out,
                           qp_http_error_t *err) {
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  json_t *root = parse_json(body, len, err);
  if (root == NULL) return err->status == 500 ? QP_ENOMEM : QP_EPARSE;
  int rc = 0;
  if (!json_is_object(root))
    rc = qp_http_error_set(err, 400, "invalid_type", "", "must be a filter object, not %s",
                           type_name(root));
  const char *key;
  json_t *value;
  json_object_foreach(json_is_object(root) ? root : NULL, key, value) {
    if (rc != 0) break;
    uint32_t k = 0;
    while (k < QUERY_KIND.fields_count && strcmp(QUERY_FIELDS[k].name, key) != 0) k++;
    if (k == QUERY_KIND.fields_count) {
      char shown[48];
      safe_name(shown, sizeof shown, key);
      rc = qp_http_error_set(err, 400, "unknown_field", shown,
                             "unknown field \"%s\"; allowed: user_data_128, user_data_64, "
                             "user_data_32, ledger, code, timestamp_min, timestamp_max, limit, "
                             "flags",
                             shown);
      break;
    }
    if (QUERY_FIELDS[k].kind == K_FLAGS) {
      uint16_t flags = 0;
      rc = decode_flags(value, &QUERY_KIND, key, &flags, err) != 0 ? QP_EPARSE : 0;
      out->flags = flags;
    } else {
      rc = decode_field(value, &QUERY_FIELDS[k], &QUERY_KIND, key, (uint8_t *)out, err);
    }
  }
  if (rc == 0 && check_query_filter(out, root, err) != 0) rc = QP_EPARSE;
  json_decref(root);
  return rc == 0 ? 0 : QP_EPARSE;
}

int qp_ledger_parse_id(const char *text, qp_u128 *out) {
  if (text == NULL) return QP_EPARSE;
  return qp_u128_parse(text, strlen(text), out);
}

int qp_ledger_check_batch(const char *kind, const char *body, size_t len, qp_http_error_t *err) {
  uint32_t count = 0;
  int rc;
  if (strcmp(kind, "accounts") == 0) {
    qp_account_t *events = NULL;
    rc = qp_ledger_decode_accounts(body, len, QP_BATCH_EVENTS_MAX, &events, &count, err);
    qp_free(events);
  } else if (strcmp(kind, "transfers") == 0) {
    qp_transfer_t *events = NULL;
    rc = qp_ledger_decode_transfers(body, len, QP_BATCH_EVENTS_MAX, &events, &count, err);
    qp_free(events);
  } else {
    rc = QP_EINVAL;
  }
  return rc;
}
