/*
 * emv_parse.c - the strict parser of EMV(R) QR Code Merchant-Presented
 * Mode payloads (emv.h): data objects and their lengths in characters,
 * UTF-8, one level of templates, the formats of the objects whose format
 * EMV fixes, the mandatory objects and the CRC.  It stops at the first bad
 * data object and names it ("63", "26.01"), so a shop's developer sees at
 * once which tag their generator gets wrong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "payments/emv.h"

#define LEVEL_IDS 100u /* ids 00..99 at one level */

typedef struct {
  const char *text;      /* the whole payload */
  size_t len;            /* its bytes */
  qp_emv_payload_t *out; /* what was found */
  qp_emv_error_t *err;   /* why not */
} parser_t;

/* One data object as read: its id and where its value is. */
typedef struct {
  unsigned id;         /* 0..99 */
  char path[QP_EMV_PATH_MAX];
  size_t value_at;     /* offset of the value in the payload */
  size_t value_bytes;  /* bytes of the value */
  uint32_t value_chars; /* characters (the length field) */
} object_t;

static int fail(qp_emv_error_t *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(qp_emv_error_t *err, const char *path, const char *fmt, ...) {
  snprintf(err->path, sizeof err->path, "%s", path);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return QP_EPARSE;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Bytes of the UTF-8 character at s[0, n) that is not a control character,
 * or 0 when there is none (bad or overlong encoding, surrogate, control). */
static size_t utf8_char(const uint8_t *s, size_t n) {
  if (n == 0) return 0;
  if (s[0] < 0x80) return s[0] >= 0x20 && s[0] != 0x7F ? 1 : 0;
  size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
  if (len == 0 || s[0] > 0xF4 || len > n) return 0;
  uint32_t cp = s[0] & (0x7Fu >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  if (cp >= 0x80 && cp <= 0x9F) return 0; /* C1 controls */
  return len;
}

/* Reads the data object at pos (< end) into *o; prefix is "" or "26.". */
static int read_object(parser_t *p, size_t pos, size_t end, const char *prefix, object_t *o) {
  const char *s = p->text;
  if (end - pos < 2 || !is_digit(s[pos]) || !is_digit(s[pos + 1])) {
    char at[QP_EMV_PATH_MAX];
    snprintf(at, sizeof at, "@%zu", pos);
    return fail(p->err, at, "at character offset %zu: expected a 2-digit id", pos);
  }
  o->id = (unsigned)(s[pos] - '0') * 10u + (unsigned)(s[pos + 1] - '0');
  snprintf(o->path, sizeof o->path, "%s%c%c", prefix, s[pos], s[pos + 1]);
  if (end - pos < 4 || !is_digit(s[pos + 2]) || !is_digit(s[pos + 3]))
    return fail(p->err, o->path, "%s: the length must be 2 digits", o->path);
  o->value_chars = (uint32_t)(s[pos + 2] - '0') * 10u + (uint32_t)(s[pos + 3] - '0');
  if (o->value_chars == 0) return fail(p->err, o->path, "%s: the length is 00", o->path);
  o->value_at = pos + 4;
  size_t at = o->value_at;
  for (uint32_t c = 0; c < o->value_chars; c++) {
    if (at >= end)
      return fail(p->err, o->path, "%s: the length %02u runs past the end of the %s", o->path,
                  o->value_chars, prefix[0] ? "template" : "payload");
    size_t k = utf8_char((const uint8_t *)s + at, end - at);
    if (k == 0)
      return fail(p->err, o->path, "%s: the value is not UTF-8 text without control "
                  "characters (at offset %zu)", o->path, at);
    at += k;
  }
  o->value_bytes = at - o->value_at;
  return 0;
}

static int append(parser_t *p, const object_t *o, bool is_template) {
  if (p->out->count >= QP_EMV_OBJECTS_MAX)
    return fail(p->err, o->path, "%s: more than %u data objects", o->path, QP_EMV_OBJECTS_MAX);
  qp_emv_object_t *x = &p->out->objects[p->out->count++];
  memset(x, 0, sizeof *x);
  memcpy(x->path, o->path, sizeof x->path);
  x->value = p->text + o->value_at;
  x->value_bytes = o->value_bytes;
  x->value_chars = o->value_chars;
  x->is_template = is_template;
  return 0;
}

static bool is_template(unsigned id) {
  return (id >= 26 && id <= 51) || id == 62 || id == 64 || id >= 80;
}

/* The children of the template o (just appended at index at). */
static int parse_children(parser_t *p, const object_t *o, uint32_t at) {
  bool seen[LEVEL_IDS] = {false};
  char prefix[4] = {o->path[0], o->path[1], '.', '\0'}; /* templates are top-level */
  size_t pos = o->value_at, end = o->value_at + o->value_bytes;
  while (pos < end) {
    object_t c;
    int rc = read_object(p, pos, end, prefix, &c);
    if (rc != 0) return rc;
    if (seen[c.id]) return fail(p->err, c.path, "%s: the id appears twice", c.path);
    seen[c.id] = true;
    if ((rc = append(p, &c, false)) != 0) return rc;
    p->out->objects[at].children++;
    pos = c.value_at + c.value_bytes;
  }
  bool account = o->id >= 26 && o->id <= 51;
  if ((account || o->id == 64) && !seen[0]) {
    char path[QP_EMV_PATH_MAX];
    snprintf(path, sizeof path, "%.3s00", prefix);
    return fail(p->err, path, "%s: %s is required", path,
                account ? "the globally unique identifier" : "the language preference");
  }
  return 0;
}

static bool all_digits(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_digit(v[i])) return false;
  return true;
}

/* 54: digits with at most one '.', which has digits on both sides. */
static bool amount_ok(const char *v, size_t n) {
  const char *dot = memchr(v, '.', n);
  if (dot == NULL) return all_digits(v, n);
  size_t whole = (size_t)(dot - v);
  return whole > 0 && whole + 1 < n && all_digits(v, whole) &&
         all_digits(dot + 1, n - whole - 1);
}

static bool hex_upper(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_digit(v[i]) && !(v[i] >= 'A' && v[i] <= 'F')) return false;
  return true;
}

/* The format EMV fixes for a top-level primitive object, if any. */
static int check_format(parser_t *p, const object_t *o) {
  const char *v = p->text + o->value_at;
  size_t n = o->value_bytes, c = o->value_chars;
  const char *path = o->path;
  switch (o->id) {
    case 0:
      return n == 2 && memcmp(v, "01", 2) == 0 ? 0 : fail(p->err, path, "00: must be \"01\"");
    case 1:
      return n == 2 && (memcmp(v, "11", 2) == 0 || memcmp(v, "12", 2) == 0)
                 ? 0 : fail(p->err, path, "01: must be \"11\" (static) or \"12\" (dynamic)");
    case 52:
      return n == 4 && all_digits(v, n) ? 0 : fail(p->err, path, "52: must be 4 digits (MCC)");
    case 53:
      return n == 3 && all_digits(v, n)
                 ? 0 : fail(p->err, path, "53: must be 3 digits (ISO 4217 numeric)");
    case 54:
      return n <= 13 && amount_ok(v, n)
                 ? 0 : fail(p->err, path, "54: must be an amount like \"12.34\" "
                            "(digits, at most one '.', at most 13 characters)");
    case 55:
      return n == 2 && v[0] == '0' && v[1] >= '1' && v[1] <= '3'
                 ? 0 : fail(p->err, path, "55: must be \"01\", \"02\" or \"03\"");
    case 58:
      return c == 2 && n == 2 ? 0 : fail(p->err, path, "58: must be 2 characters (ISO 3166-1)");
    case 59:
      return c <= 25 ? 0 : fail(p->err, path, "59: at most 25 characters");
    case 60:
      return c <= 15 ? 0 : fail(p->err, path, "60: at most 15 characters");
    case 63:
      return n == 4 && hex_upper(v, n)
                 ? 0 : fail(p->err, path, "63: must be 4 upper-case hex digits");
    default:
      return 0;
  }
}

/* 63 is the last object, and its value the CRC of everything before it. */
static int check_crc(parser_t *p, const object_t *o) {
  if (o->value_at + o->value_bytes != p->len)
    return fail(p->err, "63", "63: the CRC must be the last data object");
  int rc = check_format(p, o);
  if (rc != 0) return rc;
  uint16_t want = qp_emv_crc16((const uint8_t *)p->text, o->value_at);
  char hex[5];
  snprintf(hex, sizeof hex, "%04X", (unsigned)want);
  if (memcmp(hex, p->text + o->value_at, 4) != 0)
    return fail(p->err, "63", "63: the CRC is %.4s but the payload's CRC-16/CCITT-FALSE is %s",
                p->text + o->value_at, hex);
  p->out->crc = want;
  return 0;
}

static int check_mandatory(parser_t *p, const bool seen[LEVEL_IDS]) {
  static const unsigned required[] = {52, 53, 58, 59, 60, 63};
  bool account = false;
  for (unsigned id = 2; id <= 51; id++) account = account || seen[id];
  if (!account)
    return fail(p->err, "26", "02..51: a merchant account information object is required");
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    if (seen[required[i]]) continue;
    char path[QP_EMV_PATH_MAX];
    snprintf(path, sizeof path, "%02u", required[i]);
    return fail(p->err, path, "%s: this data object is required", path);
  }
  return 0;
}

static int parse_top(parser_t *p) {
  bool seen[LEVEL_IDS] = {false};
  size_t pos = 0;
  while (pos < p->len) {
    object_t o;
    int rc = read_object(p, pos, p->len, "", &o);
    if (rc != 0) return rc;
    if (pos == 0 && o.id != 0)
      return fail(p->err, o.path, "%s: the first data object must be 00 (payload format "
                  "indicator)", o.path);
    if (seen[o.id]) return fail(p->err, o.path, "%s: the id appears twice", o.path);
    seen[o.id] = true;
    uint32_t at = p->out->count;
    bool nested = is_template(o.id);
    if ((rc = append(p, &o, nested)) != 0) return rc;
    if (nested) rc = parse_children(p, &o, at);
    else rc = o.id == 63 ? check_crc(p, &o) : check_format(p, &o);
    if (rc != 0) return rc;
    pos = o.value_at + o.value_bytes;
  }
  return check_mandatory(p, seen);
}

int qp_emv_parse(const char *text, size_t len, qp_emv_payload_t *out, qp_emv_error_t *err) {
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  parser_t p = {text, len, out, err};
  if (len == 0) return fail(err, "00", "the payload is empty");
  if (len > QP_EMV_PAYLOAD_BYTES_MAX)
    return fail(err, "@0", "the payload is longer than %u bytes", QP_EMV_PAYLOAD_BYTES_MAX);
  size_t chars = 0;
  for (size_t i = 0; i < len; i++) chars += ((uint8_t)text[i] & 0xC0) != 0x80;
  if (chars > QP_EMV_PAYLOAD_CHARS_MAX)
    return fail(err, "@0", "the payload is longer than %u characters", QP_EMV_PAYLOAD_CHARS_MAX);
  int rc = parse_top(&p);
  if (rc != 0) memset(out, 0, sizeof *out);
  return rc;
}

const qp_emv_object_t *qp_emv_find(const qp_emv_payload_t *p, const char *path) {
  for (uint32_t i = 0; i < p->count; i++)
    if (strcmp(p->objects[i].path, path) == 0) return &p->objects[i];
  return NULL;
}
