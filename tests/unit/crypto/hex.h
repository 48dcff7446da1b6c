/*
 * hex.h - hex decoding for the crypto known-answer tests, which carry their
 * vectors as the hex text printed in the standards.
 */
#ifndef QP_TEST_CRYPTO_HEX_H
#define QP_TEST_CRYPTO_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "test_util.h"

static inline int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes hex text into out (out_size bytes); fails the test on bad text or
 * when it does not fit.  Returns the number of bytes written. */
static inline size_t hex_decode(const char *hex, uint8_t *out, size_t out_size) {
  size_t len = strlen(hex);
  assert_int_equal(len % 2, 0);
  assert_true(len / 2 <= out_size);
  for (size_t i = 0; i < len / 2; i++) {
    int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
    assert_true(hi >= 0 && lo >= 0);
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return len / 2;
}

/* Asserts that data (len bytes) equals the hex text exactly. */
static inline void assert_hex_equal(const uint8_t *data, size_t len, const char *hex) {
  uint8_t want[256];
  size_t want_len = hex_decode(hex, want, sizeof want);
  assert_int_equal(len, want_len);
  assert_memory_equal(data, want, len);
}

#endif
