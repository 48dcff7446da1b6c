/*
 * cbor_strict.c - the strict CBOR subset quipu accepts from authenticators
 * (see cbor_strict.h).  A first pass runs libcbor's streaming decoder over
 * the bytes, one event at a time, and keeps a stack of how many entries each
 * open container still owes: this finds where the item ends and refuses the
 * forbidden constructs before anything is allocated.  Then cbor_load builds
 * the item and a walk over it refuses duplicate map keys.
 */
#include "auth/cbor_strict.h"

#include <string.h>

#include "base/err.h"

typedef enum { EV_SCALAR, EV_CONTAINER, EV_FORBIDDEN } event_kind_t;

typedef struct {
  event_kind_t kind;   /* what the last decoded event was */
  uint64_t entries;    /* for EV_CONTAINER: items it holds (maps: keys + values) */
  const char *refused; /* for EV_FORBIDDEN: what it was */
} scan_t;

static void on_scalar(void *ctx) { ((scan_t *)ctx)->kind = EV_SCALAR; }
static void on_u8(void *ctx, uint8_t v) { (void)v, on_scalar(ctx); }
static void on_u16(void *ctx, uint16_t v) { (void)v, on_scalar(ctx); }
static void on_u32(void *ctx, uint32_t v) { (void)v, on_scalar(ctx); }
static void on_u64(void *ctx, uint64_t v) { (void)v, on_scalar(ctx); }
static void on_bytes(void *ctx, cbor_data d, size_t n) { (void)d, (void)n, on_scalar(ctx); }
static void on_bool(void *ctx, bool v) { (void)v, on_scalar(ctx); }

static void forbid(void *ctx, const char *what) {
  scan_t *s = ctx;
  s->kind = EV_FORBIDDEN;
  s->refused = what;
}
static void on_indef(void *ctx) { forbid(ctx, "an indefinite-length item"); }
static void on_break(void *ctx) { forbid(ctx, "a break code"); }
static void on_tag(void *ctx, uint64_t v) { (void)v, forbid(ctx, "a tag"); }
static void on_f(void *ctx, float v) { (void)v, forbid(ctx, "a floating-point number"); }
static void on_d(void *ctx, double v) { (void)v, forbid(ctx, "a floating-point number"); }
static void on_undef(void *ctx) { forbid(ctx, "undefined"); }

static void on_array(void *ctx, size_t n) {
  scan_t *s = ctx;
  s->kind = EV_CONTAINER;
  s->entries = n;
}
static void on_map(void *ctx, size_t n) {
  scan_t *s = ctx;
  s->kind = EV_CONTAINER;
  s->entries = (uint64_t)n * 2; /* n < 2^64 / 2 is checked against the bytes left below */
  if (n > SIZE_MAX / 2) s->entries = UINT64_MAX;
}

static const struct cbor_callbacks SCAN_CALLBACKS = {
    .uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
    .negint8 = on_u8, .negint16 = on_u16, .negint32 = on_u32, .negint64 = on_u64,
    .byte_string_start = on_indef, .byte_string = on_bytes,
    .string = on_bytes, .string_start = on_indef,
    .indef_array_start = on_indef, .array_start = on_array,
    .indef_map_start = on_indef, .map_start = on_map,
    .tag = on_tag, .float2 = on_f, .float4 = on_f, .float8 = on_d,
    .undefined = on_undef, .null = on_scalar, .boolean = on_bool, .indef_break = on_break,
};

/* Finds the end of the first item of buf, refusing the forbidden constructs. */
static int scan_extent(const uint8_t *buf, size_t len, const char *what, size_t *extent,
                       qp_auth_fail_t *fail) {
  uint64_t owed[QP_AUTH_CBOR_DEPTH_MAX + 1] = {1}; /* entries each open level still owes */
  size_t depth = 1, pos = 0;
  while (depth > 0) {
    scan_t s = {EV_SCALAR, 0, NULL};
    struct cbor_decoder_result r = cbor_stream_decode(buf + pos, len - pos, &SCAN_CALLBACKS, &s);
    if (r.status == CBOR_DECODER_NEDATA)
      return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID, "%s: truncated CBOR at byte %zu", what, pos);
    if (r.status != CBOR_DECODER_FINISHED)
      return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID, "%s: malformed CBOR at byte %zu", what, pos);
    if (s.kind == EV_FORBIDDEN)
      return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID,
                           "%s: %s at byte %zu (only definite-length, untagged CBOR without "
                           "floats is accepted)", what, s.refused, pos);
    pos += r.read;
    owed[depth - 1]--;
    if (s.kind == EV_CONTAINER && s.entries > 0) {
      if (s.entries > len - pos)
        return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID,
                             "%s: a container at byte %zu announces %llu entries but only %zu "
                             "bytes follow", what, pos - r.read, (unsigned long long)s.entries,
                             len - pos);
      if (depth == QP_AUTH_CBOR_DEPTH_MAX + 1)
        return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID, "%s: nested deeper than %d levels",
                             what, QP_AUTH_CBOR_DEPTH_MAX);
      owed[depth++] = s.entries;
    }
    while (depth > 0 && owed[depth - 1] == 0) depth--;
  }
  *extent = pos;
  return 0;
}

static bool same_key(const cbor_item_t *a, const cbor_item_t *b) {
  if (cbor_typeof(a) != cbor_typeof(b)) return false;
  switch (cbor_typeof(a)) {
    case CBOR_TYPE_UINT:
    case CBOR_TYPE_NEGINT:
      return cbor_get_int(a) == cbor_get_int(b);
    case CBOR_TYPE_BYTESTRING:
      return cbor_bytestring_length(a) == cbor_bytestring_length(b) &&
             memcmp(cbor_bytestring_handle(a), cbor_bytestring_handle(b),
                    cbor_bytestring_length(a)) == 0;
    case CBOR_TYPE_STRING:
      return cbor_string_length(a) == cbor_string_length(b) &&
             memcmp(cbor_string_handle(a), cbor_string_handle(b), cbor_string_length(a)) == 0;
    default:
      return false; /* container and simple keys never occur in WebAuthn; never equal here */
  }
}

/* Refuses duplicate keys in every map of item.  Recursion is bounded: the
 * scan above refused anything nested deeper than QP_AUTH_CBOR_DEPTH_MAX. */
static int check_maps(const cbor_item_t *item, const char *what, qp_auth_fail_t *fail) {
  if (cbor_isa_array(item)) {
    for (size_t i = 0; i < cbor_array_size(item); i++) {
      int rc = check_maps(cbor_array_handle(item)[i], what, fail);
      if (rc != 0) return rc;
    }
  } else if (cbor_isa_map(item)) {
    size_t n = cbor_map_size(item);
    struct cbor_pair *pairs = cbor_map_handle(item);
    if (n > QP_AUTH_CBOR_MAP_ENTRIES_MAX)
      return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID, "%s: a map has %zu entries (at most %d)",
                           what, n, QP_AUTH_CBOR_MAP_ENTRIES_MAX);
    for (size_t i = 0; i < n; i++) {
      for (size_t j = 0; j < i; j++)
        if (same_key(pairs[i].key, pairs[j].key))
          return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID, "%s: a map has the same key twice",
                               what);
      int rc = check_maps(pairs[i].value, what, fail);
      if (rc != 0) return rc;
    }
  }
  return 0;
}

int qp__auth_cbor_load(const uint8_t *buf, size_t len, const char *what, cbor_item_t **out,
                       size_t *used, qp_auth_fail_t *fail) {
  *out = NULL;
  if (len == 0) return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID, "%s: empty", what);
  size_t extent = 0;
  int rc = scan_extent(buf, len, what, &extent, fail);
  if (rc != 0) return rc;
  struct cbor_load_result res;
  cbor_item_t *item = cbor_load(buf, extent, &res);
  if (item == NULL && res.error.code == CBOR_ERR_MEMERROR) return qp__auth_nomem(fail);
  if (item == NULL || res.read != extent) {
    if (item != NULL) cbor_decref(&item);
    return qp__auth_fail(fail, QP_AUTH_CBOR_INVALID, "%s: malformed CBOR", what);
  }
  rc = check_maps(item, what, fail);
  if (rc != 0) {
    cbor_decref(&item);
    return rc;
  }
  *out = item;
  *used = extent;
  return 0;
}

int qp__auth_cbor_int(const cbor_item_t *item, int64_t *out) {
  if (cbor_isa_uint(item)) {
    uint64_t v = cbor_get_int(item);
    if (v > INT64_MAX) return QP_EINVAL;
    *out = (int64_t)v;
    return 0;
  }
  if (cbor_isa_negint(item)) {
    uint64_t v = cbor_get_int(item); /* the value is -1 - v */
    if (v > INT64_MAX) return QP_EINVAL;
    *out = -1 - (int64_t)v;
    return 0;
  }
  return QP_EINVAL;
}

cbor_item_t *qp__auth_cbor_map_int(const cbor_item_t *map, int64_t key) {
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); i++) {
    int64_t k;
    if (qp__auth_cbor_int(pairs[i].key, &k) == 0 && k == key) return pairs[i].value;
  }
  return NULL;
}

cbor_item_t *qp__auth_cbor_map_text(const cbor_item_t *map, const char *key) {
  struct cbor_pair *pairs = cbor_map_handle(map);
  size_t key_len = strlen(key);
  for (size_t i = 0; i < cbor_map_size(map); i++) {
    const cbor_item_t *k = pairs[i].key;
    if (cbor_isa_string(k) && cbor_string_length(k) == key_len &&
        memcmp(cbor_string_handle(k), key, key_len) == 0)
      return pairs[i].value;
  }
  return NULL;
}
