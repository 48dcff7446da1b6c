/*
 * keyfile.c - signing keys on disk (see keyfile.h).
 */
#include "chain/keyfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "base/alloc.h"
#include "base/err.h"
#include "store/store.h"

#define KEYFILE_BYTES_MAX 4096u

void qp_chain_hex(char *out, const uint8_t *data, size_t len) { qp_hex(out, data, len); }

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int qp_chain_unhex(const char *hex, size_t hex_len, uint8_t *out, size_t len) {
  if (hex_len != 2 * len) return QP_EPARSE;
  for (size_t i = 0; i < len; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return QP_EPARSE;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static void say(char *detail, size_t size, const char *fmt, const char *a, const char *b) {
  if (detail != NULL && size > 0) snprintf(detail, size, fmt, a, b);
}

int qp_chain_keyfile_write(const char *path, const qp_sign_key_t *key, bool force, char *detail,
                           size_t detail_size) {
  struct stat st;
  if (!force && stat(path, &st) == 0) {
    say(detail, detail_size, "%s exists; refusing to overwrite a key%s", path, "");
    return QP_EEXISTS;
  }
  uint8_t pub[QP_SIGN_PUBLIC_MAX], secret[QP_SIGN_SECRET_SIZE];
  size_t pub_len = 0;
  qp_sign_public(key, pub, &pub_len);
  qp_sign_key_secret(key, secret);
  char pub_hex[2 * QP_SIGN_PUBLIC_MAX + 1], secret_hex[2 * QP_SIGN_SECRET_SIZE + 1];
  qp_chain_hex(pub_hex, pub, pub_len);
  qp_chain_hex(secret_hex, secret, sizeof secret);
  char text[512];
  int n = snprintf(text, sizeof text,
                   "{\"suite\":\"%s\",\"public_key\":\"%s\",\"secret_key\":\"%s\"}\n",
                   qp_suite_name(qp_sign_key_suite(key)), pub_hex, secret_hex);
  int rc = n > 0 && (size_t)n < sizeof text
               ? qp_file_replace(path, text, (size_t)n, 0600, detail, detail_size)
               : QP_EIO;
  sodium_memzero(secret, sizeof secret);
  sodium_memzero(secret_hex, sizeof secret_hex);
  sodium_memzero(text, sizeof text);
  return rc;
}

/* The hex string field `name` of obj into out (exactly len bytes). */
static int hex_field(const json_t *obj, const char *name, uint8_t *out, size_t len,
                     char *detail, size_t detail_size) {
  const json_t *v = json_object_get(obj, name);
  if (!json_is_string(v) ||
      qp_chain_unhex(json_string_value(v), json_string_length(v), out, len) != 0) {
    say(detail, detail_size, "field \"%s\" must be %s hex digits", name,
        len == QP_SIGN_SECRET_SIZE ? "64" : "the suite's public key in");
    return QP_EPARSE;
  }
  return 0;
}

/* Builds the key from a parsed file and checks its public key. */
static int key_from_json(const json_t *root, qp_sign_key_t **out, char *detail,
                         size_t detail_size) {
  qp_suite_t suite;
  const json_t *s = json_object_get(root, "suite");
  if (!json_is_string(s) ||
      qp_suite_parse(json_string_value(s), json_string_length(s), &suite) != 0) {
    say(detail, detail_size, "field \"suite\" must be a known suite (ed25519, sm2)%s%s", "", "");
    return QP_EPARSE;
  }
  if (json_object_size(root) != 3) {
    say(detail, detail_size, "a key file has exactly suite, public_key and secret_key%s%s", "",
        "");
    return QP_EPARSE;
  }
  uint8_t secret[QP_SIGN_SECRET_SIZE], want[QP_SIGN_PUBLIC_MAX], got[QP_SIGN_PUBLIC_MAX];
  size_t want_len = suite == QP_SUITE_SM2 ? QP_SM2_PUBLIC_SIZE : QP_ED25519_PUBLIC_SIZE, got_len;
  int rc = hex_field(root, "secret_key", secret, sizeof secret, detail, detail_size);
  if (rc == 0) rc = hex_field(root, "public_key", want, want_len, detail, detail_size);
  if (rc == 0 && qp_sign_key_from_secret(suite, secret, sizeof secret, out) != 0) {
    say(detail, detail_size, "field \"secret_key\" is not a valid %s secret%s",
        qp_suite_name(suite), "");
    rc = QP_EPARSE;
  }
  sodium_memzero(secret, sizeof secret);
  if (rc != 0) return rc;
  qp_sign_public(*out, got, &got_len);
  if (got_len != want_len || memcmp(got, want, want_len) != 0) {
    say(detail, detail_size, "public_key does not belong to secret_key%s%s", "", "");
    qp_sign_key_free(*out);
    *out = NULL;
    return QP_EPARSE;
  }
  return 0;
}

int qp_chain_keyfile_read(const char *path, qp_sign_key_t **out, char *detail,
                          size_t detail_size) {
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  unsigned mode = 0;
  int rc = qp_file_read(path, KEYFILE_BYTES_MAX, &text, &len, &mode, detail, detail_size);
  if (rc != 0) return rc == QP_ELIMIT ? QP_EPARSE : rc;
  if (mode & 077) {
    say(detail, detail_size, "%s may be read by other users; run `chmod 600 %s`", path, path);
    sodium_memzero(text, len);
    qp_free(text);
    return QP_EIO;
  }
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  sodium_memzero(text, len);
  qp_free(text);
  if (!json_is_object(root)) {
    say(detail, detail_size, "%s is not a key file (a JSON object)%s", path, "");
    json_decref(root);
    return QP_EPARSE;
  }
  char why[256] = "";
  rc = key_from_json(root, out, why, sizeof why);
  json_decref(root); /* jansson keeps the secret's hex in freed memory: a known limit */
  if (rc != 0) say(detail, detail_size, "%s: %s", path, why);
  return rc;
}
