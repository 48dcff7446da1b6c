/*
 * fuzz_key_file.c - libFuzzer target for the API key file
 * (<data>/keys/api_keys, src/http/keys.c), which operators may edit by
 * hand and earlier versions wrote.  Properties: no crash, no leak; a
 * refused file names the line and the field; an accepted file's keys all
 * hold the limits' invariant, and the store writes them back (a revoke
 * rewrites the file) into a file that loads to the same keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "http/http.h"

static char dir[64];

static void write_keys(const uint8_t *data, size_t size) {
  char path[128];
  QP_ASSERT(qp_http_keys_path(dir, path, sizeof path) == 0);
  FILE *f = fopen(path, "wb");
  QP_ASSERT(f != NULL);
  QP_ASSERT(size == 0 || fwrite(data, 1, size, f) == size);
  fclose(f);
  QP_ASSERT(chmod(path, 0600) == 0);
}

/* Revokes the first live key by id and checks the rewritten file. */
static void round_trip(const qp_http_key_t *keys, uint32_t count) {
  uint32_t live = 0;
  while (live < count && keys[live].revoked) live++;
  if (live == count) return;
  uint32_t revoked = 0;
  char detail[512] = "";
  QP_ASSERT(qp_http_keys_revoke(dir, keys[live].id, &revoked, detail, sizeof detail) == 0);
  qp_http_key_t *again = NULL;
  uint32_t n = 0;
  QP_ASSERT(qp_http_keys_load(dir, &again, &n, detail, sizeof detail) == 0);
  QP_ASSERT(n == count);
  for (uint32_t i = 0; i < n; i++) {
    QP_ASSERT(strcmp(again[i].id, keys[i].id) == 0 && strcmp(again[i].name, keys[i].name) == 0);
    QP_ASSERT(strcmp(again[i].scopes, keys[i].scopes) == 0);
    QP_ASSERT(again[i].created_s == keys[i].created_s);
    QP_ASSERT(memcmp(again[i].hash, keys[i].hash, sizeof keys[i].hash) == 0);
    /* A key without a burst is written with burst = rate; all else is kept. */
    qp_http_key_limits_t want = keys[i].limits;
    if (want.rate_per_s != 0 && want.burst == 0) want.burst = want.rate_per_s;
    QP_ASSERT(memcmp(&again[i].limits, &want, sizeof want) == 0);
    QP_ASSERT(again[i].revoked == (keys[i].revoked || strcmp(keys[i].id, keys[live].id) == 0));
  }
  qp_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (dir[0] == '\0') {
    snprintf(dir, sizeof dir, "/tmp/quipu-fuzz-keys-%d", (int)getpid());
    char keys_dir[96];
    snprintf(keys_dir, sizeof keys_dir, "%s/keys", dir);
    mkdir(dir, 0700);
    mkdir(keys_dir, 0700);
  }
  write_keys(data, size);
  qp_http_key_t *keys = NULL;
  uint32_t count = 0;
  char detail[512] = "";
  int rc = qp_http_keys_load(dir, &keys, &count, detail, sizeof detail);
  if (rc != 0) {
    QP_ASSERT(rc == QP_ECORRUPT && keys == NULL);
    QP_ASSERT(strstr(detail, "on line ") != NULL && strstr(detail, ": bad ") != NULL);
    return 0;
  }
  for (uint32_t i = 0; i < count; i++)
    QP_ASSERT(qp_http_key_limits_check(&keys[i].limits, NULL, 0) == 0);
  if (count > 0) round_trip(keys, count);
  qp_free(keys);
  return 0;
}
