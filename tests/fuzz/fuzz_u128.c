/*
 * fuzz_u128.c - libFuzzer target for the u128 decimal parser, which reads
 * every amount and id that arrives as text.  Properties: no crash; it
 * accepts exactly the non-empty all-digit strings whose value fits in 128
 * bits; an accepted value formats back to the same number (modulo leading
 * zeros) and re-parses to the same value.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/u128.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qp_u128 v = 0;
  int rc = qp_u128_parse((const char *)data, size, &v);
  bool digits = size > 0;
  for (size_t i = 0; i < size; i++) digits = digits && data[i] >= '0' && data[i] <= '9';
  if (!digits) {
    QP_ASSERT(rc == QP_EPARSE);
    return 0;
  }
  size_t first = 0;
  while (first + 1 < size && data[first] == '0') first++;
  if (size - first > QP_U128_DEC_MAX) {
    QP_ASSERT(rc == QP_ERANGE);
    return 0;
  }
  QP_ASSERT(rc == 0 || rc == QP_ERANGE);
  if (rc != 0) return 0;
  char buf[QP_U128_BUF_SIZE];
  size_t n = qp_u128_format(v, buf);
  QP_ASSERT(n == size - first && memcmp(buf, data + first, n) == 0);
  qp_u128 back;
  QP_ASSERT(qp_u128_parse(buf, n, &back) == 0 && back == v);
  return 0;
}
