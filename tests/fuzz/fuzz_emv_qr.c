/*
 * fuzz_emv_qr.c - libFuzzer target for the EMV(R) QR Code MPM parser
 * (src/payments/emv_parse.c), the parser behind POST /v1/qr/parse.  Seeds:
 * EMVCo's example payload, a QRIS payload, quipu's own order payloads and
 * broken ones (tests/fuzz/corpus/emv_qr).  Properties: no crash or
 * sanitizer report; a refusal names a path and says why; an acceptance has
 * every value inside the input, lengths of at most 99 characters, 00 first,
 * 63 last and a CRC that matches the bytes before it.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "payments/emv.h"

static qp_emv_payload_t payload;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  qp_emv_error_t err;
  int rc = qp_emv_parse(text, size, &payload, &err);
  if (rc != 0) {
    QP_ASSERT(rc == QP_EPARSE && err.path[0] != '\0' && err.message[0] != '\0');
    QP_ASSERT(payload.count == 0);
    return 0;
  }
  QP_ASSERT(payload.count >= 2 && payload.count <= QP_EMV_OBJECTS_MAX);
  QP_ASSERT(strcmp(payload.objects[0].path, "00") == 0);
  QP_ASSERT(strcmp(payload.objects[payload.count - 1].path, "63") == 0);
  for (uint32_t i = 0; i < payload.count; i++) {
    const qp_emv_object_t *o = &payload.objects[i];
    QP_ASSERT(o->value >= text && o->value + o->value_bytes <= text + size);
    QP_ASSERT(o->value_chars >= 1 && o->value_chars <= 99 && o->value_bytes >= o->value_chars);
  }
  QP_ASSERT(size >= 4 && qp_emv_crc16(data, size - 4) == payload.crc);
  return 0;
}
