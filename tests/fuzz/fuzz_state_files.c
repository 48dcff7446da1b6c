/*
 * fuzz_state_files.c - libFuzzer target for the two files of our own format
 * that open reads back from <data>/ledger/state/ besides LMDB: the transfer
 * id filter (idfilter.c) and the accounts checkpoint (accounts.c).  The
 * first input byte picks the file; the rest is its content.  Properties: no
 * crash, no allocation beyond what the file's size allows; a filter that
 * loads answers queries and passes its own invariant check; an accounts file
 * that opens yields exactly the rows its header promises.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/err.h"
#include "ledger/db.h"
#include "../../src/ledger/accounts.h"
#include "../../src/ledger/idfilter.h"

static char dir[64];

static void write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  QP_ASSERT(f != NULL);
  QP_ASSERT(size == 0 || fwrite(data, 1, size, f) == size);
  fclose(f);
}

static int count_rows(void *ctx, uint64_t first, qp_account_t *rows, uint32_t n) {
  (void)rows;
  uint64_t *seen = ctx;
  QP_ASSERT(first == *seen && n > 0);
  *seen += n;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (dir[0] == '\0') {
    snprintf(dir, sizeof dir, "/tmp/quipu-fuzz-state-%d", (int)getpid());
    QP_ASSERT(qp_mkdir_p(dir) == 0);
    QP_ASSERT(qp_crypto_init() == 0);
  }
  if (size == 0) return 0;
  char path[128];
  char detail[256];
  if (data[0] & 1) {
    snprintf(path, sizeof path, "%s/idfilter", dir);
    write_file(path, data + 1, size - 1);
    qp__idfilter_t f;
    uint64_t cover = 0;
    if (qp__idfilter_load(path, &f, &cover, detail, sizeof detail) == 0) {
      QP_ASSERT(qp__idfilter_check(&f));
      for (qp_u128 id = 1; id < 64; id++) (void)qp__idfilter_may_contain(&f, id);
      qp__idfilter_deinit(&f);
    }
  } else {
    snprintf(path, sizeof path, "%s/accounts", dir);
    write_file(path, data + 1, size - 1);
    qp__accounts_file_t af;
    bool created = false;
    int rc = qp__accounts_open(&af, dir, true, &created, detail, sizeof detail);
    if (rc == 0) {
      uint64_t n = 0;
      QP_ASSERT(qp__accounts_read(&af, count_rows, &n) == 0);
      QP_ASSERT(n == af.rows);
    }
    qp__accounts_close(&af);
  }
  return 0;
}
