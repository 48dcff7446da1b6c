/*
 * test_sign.c - the signing interface over both suites: RFC 8032 section 7.1
 * known answers for Ed25519, the SM2 signature example of GM/T 0003.5-2012 /
 * GB/T 32918.5-2017 Annex A (with its Z_A and e), an SM2 signature made
 * independently by the `openssl` command-line tool, round trips, secret
 * keys, and the negative space a peer can reach: flipped bits, wrong
 * lengths, points off the curve, out-of-range scalars and garbage, all
 * refused with a status, never a crash.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <sodium.h>

#include "hex.h"
#include "test_util.h"
#include "base/err.h"
#include "base/rng.h"
#include "crypto/crypto.h"

/* RFC 8032 section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc). */
static const struct {
  const char *name, *secret, *public_key, *message, *signature;
} rfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
};

/* An SM2 key and signature made with OpenSSL 3.0's command-line tool:
 *   openssl genpkey -algorithm SM2 -out k.pem
 *   printf 'quipu sm2 fixed vector' > msg
 *   openssl pkeyutl -sign -rawin -digest sm3 -inkey k.pem -in msg -out sig.der \
 *     -pkeyopt distid:1234567812345678
 * SM2_SIG_NO_ID is the same message signed without -pkeyopt distid, which
 * OpenSSL 3.0 hashes with an empty ID: it must not verify under ours. */
#define SM2_SECRET "35f23b4de0fdeb858c02a4082dac4af81621a7238c9fe5911ba8a5785d46c1ae"
#define SM2_PUBLIC                                                                         \
  "040504397cddbd001b5506ee0070354b26de3eaaf028c529d2e3ca1f9b843c9809"                     \
  "6d6ed7a743e41a27341c055e8be4bccfdf290acb27b2eff0c24d010f9241bc5e"
#define SM2_MESSAGE "quipu sm2 fixed vector"
#define SM2_SIG_DER                                                                        \
  "3045022014ecf4d2e4d4bea170c40d584f8e8ea89fca6fc6630282c98918371514ba1981"               \
  "0221009c1a8934a339a40590af01a0508e948bc1d4389766ccf27d696a1ec16d233d80"
#define SM2_SIG_NO_ID                                                                      \
  "3045022100fcd4df1112c2eb46ca424a2358964b141ca027eb837528a5ec1d5c41b3723b0c"             \
  "0220076dee640c464f580c5b4896c63a08970686fa2f3d45cf3ad1a6439d282882f2"
/* The signature example on the recommended curve of GM/T 0003.5-2012 and
 * GB/T 32918.5-2017 (Annex A), with the standard's intermediate values; the
 * same vector is in OpenSSL's test/sm2_internal_test.c (sm2_sig_test).  Its
 * ID is "1234567812345678" (ENTL 0x0080), which is QP_SM2_ID, so our API
 * verifies it as published.  The signature used k = 59276E27...BC21. */
#define GMT_D "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
#define GMT_PUBLIC                                                                         \
  "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"                     \
  "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
#define GMT_MESSAGE "message digest"
#define GMT_ZA "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"
#define GMT_E "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
#define GMT_R "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
#define GMT_S "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"
/* The recommended curve's a, b, G (GM/T 0003.5-2012 / GB/T 32918.5-2017). */
#define SM2_A "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc"
#define SM2_B "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93"
#define SM2_GX "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
#define SM2_GY "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"
/* The order n of the SM2 curve (GB/T 32918.5). */
#define SM2_ORDER "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123"

/* Converts a DER signature from the command-line tool to quipu's r || s with
 * OpenSSL's own DER parser, so the test does not trust the code under test. */
static void der_to_rs(const char *der_hex, uint8_t rs[QP_SM2_SIG_SIZE]) {
  uint8_t der[80];
  size_t der_len = hex_decode(der_hex, der, sizeof der);
  const unsigned char *p = der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  assert_non_null(sig);
  const BIGNUM *r = NULL, *s = NULL;
  ECDSA_SIG_get0(sig, &r, &s);
  assert_int_equal(BN_bn2binpad(r, rs, 32), 32);
  assert_int_equal(BN_bn2binpad(s, rs + 32, 32), 32);
  ECDSA_SIG_free(sig);
}

/* Every single-bit flip of msg, sig and pub must stop verification. */
static void assert_bit_flips_fail(qp_suite_t suite, const uint8_t *pub, size_t pub_len,
                                  const uint8_t *msg, size_t len, const uint8_t *sig,
                                  size_t sig_len) {
  uint8_t p[QP_SIGN_PUBLIC_MAX], m[128], s[QP_SIGN_SIG_MAX];
  assert_true(len <= sizeof m);
  memcpy(p, pub, pub_len);
  memcpy(m, msg, len);
  memcpy(s, sig, sig_len);
  assert_int_equal(qp_verify(suite, p, pub_len, m, len, s, sig_len), 0);
  for (size_t bit = 0; bit < len * 8; bit += 3) {
    m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(qp_verify(suite, p, pub_len, m, len, s, sig_len), QP_EBADSIG);
    m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  for (size_t bit = 0; bit < sig_len * 8; bit++) {
    s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(qp_verify(suite, p, pub_len, m, len, s, sig_len), QP_EBADSIG);
    s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  for (size_t bit = 0; bit < pub_len * 8; bit++) {
    p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int rc = qp_verify(suite, p, pub_len, m, len, s, sig_len);
    /* A flipped key is usually no point at all (QP_EINVAL), else the wrong one. */
    assert_true(rc == QP_EINVAL || rc == QP_EBADSIG);
    p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  assert_int_equal(qp_verify(suite, p, pub_len, m, len, s, sig_len), 0);
}

static void test_ed25519_rfc8032_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof rfc8032 / sizeof rfc8032[0]; i++) {
    uint8_t secret[32], msg[65], pub[QP_SIGN_PUBLIC_MAX], sig[QP_SIGN_SIG_MAX];
    size_t pub_len = 0, sig_len = 0;
    hex_decode(rfc8032[i].secret, secret, sizeof secret);
    size_t len = hex_decode(rfc8032[i].message, msg, sizeof msg);
    qp_sign_key_t *key = NULL;
    assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, 32, &key), 0);
    assert_int_equal(qp_sign_key_suite(key), QP_SUITE_ED25519);
    qp_sign_public(key, pub, &pub_len);
    assert_hex_equal(pub, pub_len, rfc8032[i].public_key);
    assert_int_equal(qp_sign(key, msg, len, sig, &sig_len), 0);
    assert_hex_equal(sig, sig_len, rfc8032[i].signature); /* Ed25519 is deterministic */
    assert_int_equal(qp_verify(QP_SUITE_ED25519, pub, pub_len, msg, len, sig, sig_len), 0);
    assert_bit_flips_fail(QP_SUITE_ED25519, pub, pub_len, msg, len, sig, sig_len);
    /* An appended byte is another message. */
    msg[len] = 0;
    assert_int_equal(qp_verify(QP_SUITE_ED25519, pub, pub_len, msg, len + 1, sig, sig_len),
                     QP_EBADSIG);
    qp_sign_key_free(key);
  }
}

static void test_ed25519_rejects_malformed_input(void **state) {
  (void)state;
  uint8_t pub[32], sig[64], big[80] = {0};
  hex_decode(rfc8032[0].public_key, pub, sizeof pub);
  hex_decode(rfc8032[0].signature, sig, sizeof sig);
  const qp_suite_t ed = QP_SUITE_ED25519;
  assert_int_equal(qp_verify(ed, pub, 32, "", 0, sig, 64), 0);
  assert_int_equal(qp_verify(ed, NULL, 0, "", 0, sig, 64), QP_EINVAL);
  assert_int_equal(qp_verify(ed, pub, 32, "", 0, NULL, 0), QP_EINVAL);
  assert_int_equal(qp_verify(ed, pub, 31, "", 0, sig, 64), QP_EINVAL);
  assert_int_equal(qp_verify(ed, pub, 33, "", 0, sig, 64), QP_EINVAL);
  assert_int_equal(qp_verify(ed, pub, 32, "", 0, sig, 63), QP_EINVAL);
  assert_int_equal(qp_verify(ed, pub, 32, "", 0, big, 65), QP_EINVAL);
  assert_int_equal(qp_verify(ed, pub, 32, NULL, 5, sig, 64), QP_EINVAL);
  /* Identity and other small-order or non-canonical encodings of A. */
  uint8_t bad_pub[32] = {0};
  assert_int_equal(qp_verify(ed, bad_pub, 32, "", 0, sig, 64), QP_EINVAL);
  bad_pub[0] = 1; /* the identity */
  assert_int_equal(qp_verify(ed, bad_pub, 32, "", 0, sig, 64), QP_EINVAL);
  memset(bad_pub, 0xff, sizeof bad_pub);
  assert_int_equal(qp_verify(ed, bad_pub, 32, "", 0, sig, 64), QP_EINVAL);
  /* S >= L is non-canonical: refused, not reduced. */
  uint8_t high_s[64];
  memcpy(high_s, sig, 64);
  high_s[63] |= 0xf0;
  assert_int_equal(qp_verify(ed, pub, 32, "", 0, high_s, 64), QP_EBADSIG);
  memset(high_s, 0, sizeof high_s);
  assert_int_equal(qp_verify(ed, pub, 32, "", 0, high_s, 64), QP_EBADSIG);
  /* A suite that does not exist, and the other suite's sizes. */
  assert_int_equal(qp_verify((qp_suite_t)0, pub, 32, "", 0, sig, 64), QP_EINVAL);
  assert_int_equal(qp_verify((qp_suite_t)3, pub, 32, "", 0, sig, 64), QP_EINVAL);
  assert_int_equal(qp_verify(QP_SUITE_SM2, pub, 32, "", 0, sig, 64), QP_EINVAL);
}

/* The command-line tool's key gives the same public key here, and its
 * signature verifies once converted from DER to r || s. */
static void test_sm2_openssl_cli_vector(void **state) {
  (void)state;
  uint8_t secret[32], pub[QP_SIGN_PUBLIC_MAX], want_pub[65], rs[64], rs_no_id[64];
  size_t pub_len = 0;
  hex_decode(SM2_SECRET, secret, sizeof secret);
  hex_decode(SM2_PUBLIC, want_pub, sizeof want_pub);
  qp_sign_key_t *key = NULL;
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, secret, 32, &key), 0);
  qp_sign_public(key, pub, &pub_len);
  assert_int_equal(pub_len, QP_SM2_PUBLIC_SIZE);
  assert_memory_equal(pub, want_pub, 65);
  qp_sign_key_free(key);

  der_to_rs(SM2_SIG_DER, rs);
  const uint8_t *msg = (const uint8_t *)SM2_MESSAGE;
  size_t len = strlen(SM2_MESSAGE);
  assert_int_equal(qp_verify(QP_SUITE_SM2, want_pub, 65, msg, len, rs, 64), 0);
  assert_bit_flips_fail(QP_SUITE_SM2, want_pub, 65, msg, len, rs, 64);
  /* Same key, same message, signed under another ID: Z differs. */
  der_to_rs(SM2_SIG_NO_ID, rs_no_id);
  assert_int_equal(qp_verify(QP_SUITE_SM2, want_pub, 65, msg, len, rs_no_id, 64), QP_EBADSIG);
  /* The DER form itself is not a quipu signature. */
  uint8_t der[80];
  size_t der_len = hex_decode(SM2_SIG_DER, der, sizeof der);
  assert_int_equal(qp_verify(QP_SUITE_SM2, want_pub, 65, msg, len, der, der_len), QP_EINVAL);
}

/* Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) with our ID gives
 * the standard's Z_A, and e = SM3(Z_A || M) its e: the vector's Z convention
 * is ours, checked with qp_sm3 itself. */
static void assert_gmt_za_and_e(const uint8_t pub[65]) {
  uint8_t z_in[2 + 16 + 6 * 32], *p = z_in, za[QP_HASH_SIZE], e[QP_HASH_SIZE];
  *p++ = 0x00;
  *p++ = 0x80; /* ENTL: the ID's length in bits */
  memcpy(p, QP_SM2_ID, 16);
  p += 16;
  const char *const params[] = {SM2_A, SM2_B, SM2_GX, SM2_GY};
  for (size_t i = 0; i < 4; i++) p += hex_decode(params[i], p, 32);
  memcpy(p, pub + 1, 64);
  assert_int_equal(qp_sm3(za, z_in, sizeof z_in), 0);
  assert_hex_equal(za, sizeof za, GMT_ZA);
  uint8_t e_in[QP_HASH_SIZE + sizeof GMT_MESSAGE - 1];
  memcpy(e_in, za, QP_HASH_SIZE);
  memcpy(e_in + QP_HASH_SIZE, GMT_MESSAGE, sizeof GMT_MESSAGE - 1);
  assert_int_equal(qp_sm3(e, e_in, sizeof e_in), 0);
  assert_hex_equal(e, sizeof e, GMT_E);
}

/* The standard's key derives the standard's public key; its signature
 * verifies; a flipped bit anywhere in the message, r, s or the key does not;
 * and a signature of ours under that key verifies too. */
static void test_sm2_gmt_0003_5_vector(void **state) {
  (void)state;
  uint8_t d[32], want_pub[65], pub[QP_SIGN_PUBLIC_MAX], rs[64], sig[QP_SIGN_SIG_MAX];
  size_t pub_len = 0, sig_len = 0;
  hex_decode(GMT_D, d, sizeof d);
  hex_decode(GMT_PUBLIC, want_pub, sizeof want_pub);
  hex_decode(GMT_R, rs, 32);
  hex_decode(GMT_S, rs + 32, 32);
  assert_gmt_za_and_e(want_pub);
  qp_sign_key_t *key = NULL;
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, d, 32, &key), 0);
  qp_sign_public(key, pub, &pub_len);
  assert_int_equal(pub_len, 65);
  assert_memory_equal(pub, want_pub, 65);
  const uint8_t *msg = (const uint8_t *)GMT_MESSAGE;
  size_t len = strlen(GMT_MESSAGE);
  assert_int_equal(qp_verify(QP_SUITE_SM2, want_pub, 65, msg, len, rs, 64), 0);
  assert_int_equal(qp_verify_key_checked(QP_SUITE_SM2, want_pub, 65, msg, len, rs, 64), 0);
  assert_bit_flips_fail(QP_SUITE_SM2, want_pub, 65, msg, len, rs, 64);
  /* r and s swapped, and the message one byte shorter, are refused. */
  uint8_t sr[64];
  memcpy(sr, rs + 32, 32);
  memcpy(sr + 32, rs, 32);
  assert_int_equal(qp_verify(QP_SUITE_SM2, want_pub, 65, msg, len, sr, 64), QP_EBADSIG);
  assert_int_equal(qp_verify(QP_SUITE_SM2, want_pub, 65, msg, len - 1, rs, 64), QP_EBADSIG);
  /* SM2 signing is randomised: ours differs from the standard's (other k)
   * but verifies under the same key. */
  assert_int_equal(qp_sign(key, msg, len, sig, &sig_len), 0);
  assert_memory_not_equal(sig, rs, 64);
  assert_int_equal(qp_verify(QP_SUITE_SM2, want_pub, 65, msg, len, sig, sig_len), 0);
  qp_sign_key_free(key);
}

static void test_sign_verify_round_trips(void **state) {
  (void)state;
  static const qp_suite_t suites[] = {QP_SUITE_ED25519, QP_SUITE_SM2};
  for (size_t i = 0; i < 2; i++) {
    qp_sign_key_t *key = NULL, *other = NULL;
    assert_int_equal(qp_sign_keygen(suites[i], &key), 0);
    assert_int_equal(qp_sign_keygen(suites[i], &other), 0);
    uint8_t pub[QP_SIGN_PUBLIC_MAX], other_pub[QP_SIGN_PUBLIC_MAX];
    uint8_t sig[QP_SIGN_SIG_MAX], sig2[QP_SIGN_SIG_MAX];
    size_t pub_len = 0, other_len = 0, sig_len = 0, sig2_len = 0;
    qp_sign_public(key, pub, &pub_len);
    qp_sign_public(other, other_pub, &other_len);
    assert_memory_not_equal(pub, other_pub, pub_len);
    static const uint8_t msg[] = "transfer 100 from a to b, nonce 7";
    for (size_t len = 0; len < sizeof msg; len += 11) {
      assert_int_equal(qp_sign(key, msg, len, sig, &sig_len), 0);
      assert_int_equal(sig_len, 64);
      assert_int_equal(qp_verify(suites[i], pub, pub_len, msg, len, sig, sig_len), 0);
      assert_int_equal(qp_verify(suites[i], other_pub, other_len, msg, len, sig, sig_len),
                       QP_EBADSIG);
      assert_bit_flips_fail(suites[i], pub, pub_len, msg, len, sig, sig_len);
    }
    assert_int_equal(qp_sign(key, NULL, 0, sig, &sig_len), 0);
    assert_int_equal(qp_verify(suites[i], pub, pub_len, NULL, 0, sig, sig_len), 0);
    /* SM2 signatures are randomised, Ed25519's are not; both verify. */
    assert_int_equal(qp_sign(key, msg, 5, sig, &sig_len), 0);
    assert_int_equal(qp_sign(key, msg, 5, sig2, &sig2_len), 0);
    assert_int_equal(memcmp(sig, sig2, 64) == 0, suites[i] == QP_SUITE_ED25519);
    assert_int_equal(qp_verify(suites[i], pub, pub_len, msg, 5, sig2, sig2_len), 0);
    qp_sign_key_free(key);
    qp_sign_key_free(other);
  }
}

/* SM2 inputs a peer controls: every malformed shape is refused cleanly. */
static void test_sm2_rejects_malformed_input(void **state) {
  (void)state;
  uint8_t pub[65], rs[64], bad[80];
  hex_decode(SM2_PUBLIC, pub, sizeof pub);
  der_to_rs(SM2_SIG_DER, rs);
  const char *msg = SM2_MESSAGE;
  size_t len = strlen(msg);
  const qp_suite_t sm2 = QP_SUITE_SM2;
  assert_int_equal(qp_verify(sm2, pub, 65, msg, len, rs, 64), 0);
  /* Wrong lengths. */
  assert_int_equal(qp_verify(sm2, pub, 64, msg, len, rs, 64), QP_EINVAL);
  assert_int_equal(qp_verify(sm2, pub, 33, msg, len, rs, 64), QP_EINVAL);
  assert_int_equal(qp_verify(sm2, pub, 65, msg, len, rs, 63), QP_EINVAL);
  assert_int_equal(qp_verify(sm2, pub, 65, msg, len, rs, 0), QP_EINVAL);
  memset(bad, 0, sizeof bad);
  assert_int_equal(qp_verify(sm2, pub, 65, msg, len, bad, 72), QP_EINVAL);
  /* Public keys that are not points: other prefixes, off the curve, zero. */
  memcpy(bad, pub, 65);
  bad[0] = 0x02;
  assert_int_equal(qp_verify(sm2, bad, 65, msg, len, rs, 64), QP_EINVAL);
  bad[0] = 0x06; /* hybrid encoding */
  assert_int_equal(qp_verify(sm2, bad, 65, msg, len, rs, 64), QP_EINVAL);
  memcpy(bad, pub, 65);
  bad[64] ^= 1;
  assert_int_equal(qp_verify(sm2, bad, 65, msg, len, rs, 64), QP_EINVAL);
  memset(bad, 0, 65);
  assert_int_equal(qp_verify(sm2, bad, 65, msg, len, rs, 64), QP_EINVAL);
  bad[0] = 0x04;
  assert_int_equal(qp_verify(sm2, bad, 65, msg, len, rs, 64), QP_EINVAL);
  memset(bad, 0xff, 65);
  bad[0] = 0x04;
  assert_int_equal(qp_verify(sm2, bad, 65, msg, len, rs, 64), QP_EINVAL);
  /* r or s zero, equal to n, all ones: outside [1, n-1]. */
  uint8_t n[32], sig[64];
  hex_decode(SM2_ORDER, n, sizeof n);
  for (int which = 0; which < 2; which++) {
    memcpy(sig, rs, 64);
    memset(sig + 32 * which, 0, 32);
    assert_int_equal(qp_verify(sm2, pub, 65, msg, len, sig, 64), QP_EBADSIG);
    memcpy(sig + 32 * which, n, 32);
    assert_int_equal(qp_verify(sm2, pub, 65, msg, len, sig, 64), QP_EBADSIG);
    memset(sig + 32 * which, 0xff, 32);
    assert_int_equal(qp_verify(sm2, pub, 65, msg, len, sig, 64), QP_EBADSIG);
  }
  memset(sig, 0, 64);
  assert_int_equal(qp_verify(sm2, pub, 65, msg, len, sig, 64), QP_EBADSIG);
  /* Random garbage signatures and keys, seeded. */
  qp_rng_t rng;
  qp_rng_seed(&rng, 0x5eed);
  for (int i = 0; i < 200; i++) {
    for (size_t j = 0; j < sizeof bad; j++) bad[j] = (uint8_t)qp_rng_next(&rng);
    assert_int_equal(qp_verify(sm2, pub, 65, msg, len, bad, 64), QP_EBADSIG);
    bad[0] = 0x04;
    assert_int_equal(qp_verify(sm2, bad, 65, msg, len, rs, 64), QP_EINVAL);
  }
}

static void test_keys_from_secret_round_trip(void **state) {
  (void)state;
  qp_sign_key_free(NULL); /* allowed, does nothing */
  static const qp_suite_t suites[] = {QP_SUITE_ED25519, QP_SUITE_SM2};
  for (size_t i = 0; i < 2; i++) {
    qp_sign_key_t *key = NULL, *back = NULL;
    assert_int_equal(qp_sign_keygen(suites[i], &key), 0);
    assert_non_null(key);
    uint8_t secret[QP_SIGN_SECRET_SIZE], again[QP_SIGN_SECRET_SIZE];
    qp_sign_key_secret(key, secret);
    assert_int_equal(qp_sign_key_from_secret(suites[i], secret, sizeof secret, &back), 0);
    qp_sign_key_secret(back, again);
    assert_memory_equal(secret, again, sizeof secret);
    uint8_t pub[QP_SIGN_PUBLIC_MAX], pub2[QP_SIGN_PUBLIC_MAX], sig[QP_SIGN_SIG_MAX];
    size_t pub_len = 0, pub2_len = 0, sig_len = 0;
    qp_sign_public(key, pub, &pub_len);
    qp_sign_public(back, pub2, &pub2_len);
    assert_int_equal(pub_len, suites[i] == QP_SUITE_ED25519 ? 32 : 65);
    assert_int_equal(pub_len, pub2_len);
    assert_memory_equal(pub, pub2, pub_len);
    /* The rebuilt key signs for the original public key. */
    assert_int_equal(qp_sign(back, "x", 1, sig, &sig_len), 0);
    assert_int_equal(qp_verify(suites[i], pub, pub_len, "x", 1, sig, sig_len), 0);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(again, sizeof again);
    qp_sign_key_free(key);
    qp_sign_key_free(back);
  }
}

static void test_keys_reject_bad_secrets(void **state) {
  (void)state;
  uint8_t secret[40] = {0};
  qp_sign_key_t *key = (qp_sign_key_t *)secret; /* must be reset to NULL */
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, 31, &key), QP_EINVAL);
  assert_null(key);
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, 33, &key), QP_EINVAL);
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, NULL, 32, &key), QP_EINVAL);
  assert_int_equal(qp_sign_key_from_secret((qp_suite_t)9, secret, 32, &key), QP_EINVAL);
  assert_int_equal(qp_sign_keygen((qp_suite_t)0, &key), QP_EINVAL);
  assert_null(key);
  /* Any 32 bytes are an Ed25519 seed, zero included. */
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, 32, &key), 0);
  qp_sign_key_free(key);
  /* SM2 needs 1 <= d <= n-2. */
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, secret, 32, &key), QP_EINVAL);
  assert_null(key);
  uint8_t d[32];
  hex_decode(SM2_ORDER, d, sizeof d);
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, d, 32, &key), QP_EINVAL);
  d[31] -= 1; /* n-1 */
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, d, 32, &key), QP_EINVAL);
  d[31] -= 1; /* n-2, the largest valid scalar */
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, d, 32, &key), 0);
  qp_sign_key_free(key);
  memset(d, 0xff, sizeof d);
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, d, 32, &key), QP_EINVAL);
  memset(d, 0, sizeof d);
  d[31] = 1; /* d = 1: public key is the generator */
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_SM2, d, 32, &key), 0);
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t pub_len = 0;
  qp_sign_public(key, pub, &pub_len);
  assert_hex_equal(pub, pub_len,
                   "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
                   "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");
  qp_sign_key_free(key);
}

/* The key-checked form verifies exactly what qp_verify does for a key
 * qp_verify accepted: good signatures pass, altered ones do not. */
static void test_verify_key_checked(void **state) {
  (void)state;
  qp_sign_key_t *key = NULL;
  assert_int_equal(qp_sign_keygen(QP_SUITE_ED25519, &key), 0);
  uint8_t pub[QP_SIGN_PUBLIC_MAX], sig[QP_SIGN_SIG_MAX];
  size_t pub_len = 0, sig_len = 0;
  qp_sign_public(key, pub, &pub_len);
  assert_int_equal(qp_sign(key, "abc", 3, sig, &sig_len), 0);
  assert_int_equal(qp_verify(QP_SUITE_ED25519, pub, pub_len, "abc", 3, sig, sig_len), 0);
  assert_int_equal(qp_verify_key_checked(QP_SUITE_ED25519, pub, pub_len, "abc", 3, sig, sig_len),
                   0);
  assert_int_equal(qp_verify_key_checked(QP_SUITE_ED25519, pub, pub_len, "abd", 3, sig, sig_len),
                   QP_EBADSIG);
  sig[5] ^= 1;
  assert_int_equal(qp_verify_key_checked(QP_SUITE_ED25519, pub, pub_len, "abc", 3, sig, sig_len),
                   QP_EBADSIG);
  assert_int_equal(qp_verify_key_checked(QP_SUITE_ED25519, pub, 31, "abc", 3, sig, sig_len),
                   QP_EINVAL);
  qp_sign_key_free(key);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_verify_key_checked),
      cmocka_unit_test(test_ed25519_rfc8032_vectors),
      cmocka_unit_test(test_ed25519_rejects_malformed_input),
      cmocka_unit_test(test_sm2_openssl_cli_vector),
      cmocka_unit_test(test_sm2_gmt_0003_5_vector),
      cmocka_unit_test(test_sign_verify_round_trips),
      cmocka_unit_test(test_sm2_rejects_malformed_input),
      cmocka_unit_test(test_keys_from_secret_round_trip),
      cmocka_unit_test(test_keys_reject_bad_secrets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
