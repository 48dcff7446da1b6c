/*
 * bytes.h - fixed little-endian loads and stores for on-disk and hashed
 * formats.  Everything we write is encoded field by field through these,
 * never by copying a struct, so the format does not depend on the compiler.
 */
#ifndef QP_BASE_BYTES_H
#define QP_BASE_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Little-endian host: the fixed order is the native one, a copy suffices. */
static inline void qp_store_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void qp_store_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void qp_store_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t qp_load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t qp_load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t qp_load_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
#else
static inline void qp_store_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void qp_store_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void qp_store_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t qp_load_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t qp_load_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static inline uint64_t qp_load_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
#endif
/* Big-endian u64, for index keys that must sort numerically. */
static inline void qp_store_u64_be(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[7 - i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t qp_load_u64_be(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

#endif
