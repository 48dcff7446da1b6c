/*
 * fuzz_webauthn_clientdata.c - libFuzzer target for clientDataJSON handling
 * (src/auth/clientdata.c): JSON parsing, type, challenge, origin,
 * crossOrigin and topOrigin.  Seeds: the clientDataJSON of the WebAuthn L3
 * test vectors (tests/fuzz/corpus/webauthn_clientdata).  The expected
 * challenge is the one of the "none-es256" authentication vector, so the
 * seeds reach every check.  Properties: no crash or sanitizer report; a
 * refusal is QP_EINVAL with a code and message; an acceptance has a type
 * among those expected, an origin from the list, and the SHA-256 of the
 * input as its hash.
 */
#include <stdint.h>
#include <string.h>

#include "auth/clientdata.h"
#include "base/assert.h"
#include "base/err.h"
#include "crypto/crypto.h"

static const uint8_t CHALLENGE[32] = {
    0x39, 0xc0, 0xe7, 0x52, 0x14, 0x17, 0xba, 0x54, 0xd4, 0x3e, 0x8d, 0xc9, 0x51, 0x74, 0xf4, 0x23,
    0xde, 0xe9, 0xbf, 0x3c, 0xd8, 0x04, 0xff, 0x6d, 0x65, 0xc8, 0x57, 0xc9, 0xab, 0xf4, 0xd4, 0x08};
static const char *const ORIGINS[] = {"https://example.org", "android:apk-key-hash:abc"};
static const char *const TOPS[] = {"https://example.com"};
static const char *const TYPES[] = {"webauthn.get", "webauthn.create", "payment.get"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int cross = 0; cross < 2; cross++) {
    qp_auth_origin_policy_t policy = {ORIGINS, 2, cross == 1, TOPS, 1};
    qp_auth_clientdata_expect_t expect = {TYPES, 3, CHALLENGE, sizeof CHALLENGE, &policy};
    qp_auth_clientdata_t cd;
    qp_auth_fail_t fail = {0};
    int rc = qp_auth_clientdata_check(data, size, &expect, &cd, &fail);
    if (rc != 0) {
      QP_ASSERT(rc == QP_EINVAL || rc == QP_ENOMEM);
      QP_ASSERT(fail.code != NULL && cd.json == NULL);
      continue;
    }
    uint8_t hash[32];
    qp_sha256(hash, data, size);
    QP_ASSERT(memcmp(hash, cd.hash, sizeof hash) == 0);
    QP_ASSERT(cd.json != NULL && cd.type != NULL);
    const char *origin = json_string_value(json_object_get(cd.json, "origin"));
    QP_ASSERT(origin != NULL &&
              (strcmp(origin, ORIGINS[0]) == 0 || strcmp(origin, ORIGINS[1]) == 0));
    qp_auth_clientdata_deinit(&cd);
  }
  return 0;
}
