/*
 * idfilter.c - the growable blocked Bloom filter over transfer ids and its
 * file.  See idfilter.h for the design, the concurrency contract and the
 * file format.
 *
 * Why relaxed load + store in add() rather than fetch_or: there is exactly
 * one writer, so no update can be lost, and a relaxed store is a plain mov
 * where a fetch_or is a locked instruction; both are atomic accesses, so a
 * save() or may_contain() reading the same word on another thread is not a
 * data race.
 */
#include "ledger/idfilter.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define BLOCK_BYTES 64u
#define BLOCK_WORDS 8u
#define BLOCK_BITS 512u
#define PAGE_BYTES 4096u
#define HEADER_BYTES 64u
#define GEN_ENTRY_BYTES 32u
#define FILE_VERSION 1u
#define PATH_BYTES_MAX 4096u
static const uint8_t file_magic[8] = {'Q', 'P', 'I', 'D', 'F', 'L', 'T', '1'};

_Static_assert(HEADER_BYTES + GEN_ENTRY_BYTES * QP__IDFILTER_GENERATIONS_MAX <= PAGE_BYTES,
               "the header and generation table must fit in the first page");
_Static_assert(PAGE_BYTES % BLOCK_BYTES == 0, "a page holds whole blocks");

/* ------------------------------------------------------------- hashing */

/* MurmurHash3's 64-bit finaliser: a bijection whose every output bit
 * depends on every input bit. */
static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDull;
  k ^= k >> 33;
  k *= 0xC4CEB9FE1A85EC53ull;
  k ^= k >> 33;
  return k;
}

typedef struct id_hash {
  uint64_t block; /* picks the block: multiplied by the block count, high half */
  uint64_t bits;  /* 8 fields of 6 bits: one bit per word of the block */
} id_hash_t;

/* For a fixed hi, lo -> block is a bijection and so is hi -> block for a
 * fixed lo, so sequential ids in either half never collide; `bits` is a
 * second bijective mix so that it is independent of the block choice. */
static inline id_hash_t hash_id(qp_u128 id) {
  uint64_t lo = (uint64_t)id, hi = (uint64_t)(id >> 64);
  id_hash_t h;
  h.block = fmix64(lo ^ fmix64(hi + 0x9E3779B97F4A7C15ull));
  h.bits = fmix64(h.block ^ 0xC2B2AE3D27D4EB4Full);
  return h;
}

static inline uint64_t block_index(uint64_t hash, uint64_t blocks) {
  return (uint64_t)(((unsigned __int128)hash * blocks) >> 64);
}

static inline uint64_t word_mask(uint64_t bits, unsigned word) {
  return (uint64_t)1 << ((bits >> (6 * word)) & 63);
}

/* Sets id's bits in g; true if any of them was clear.  Writer only. */
static bool gen_set(qp__idfilter_gen_t *g, id_hash_t h) {
  _Atomic uint64_t *w = g->words + block_index(h.block, g->blocks) * BLOCK_WORDS;
  uint64_t fresh = 0;
  for (unsigned i = 0; i < BLOCK_WORDS; i++) {
    uint64_t mask = word_mask(h.bits, i);
    uint64_t old = atomic_load_explicit(&w[i], memory_order_relaxed);
    if ((old & mask) == 0) atomic_store_explicit(&w[i], old | mask, memory_order_relaxed);
    fresh |= mask & ~old;
  }
  return fresh != 0;
}

static bool gen_test(const qp__idfilter_gen_t *g, id_hash_t h) {
  _Atomic uint64_t *w = g->words + block_index(h.block, g->blocks) * BLOCK_WORDS;
  uint64_t missing = 0;
  for (unsigned i = 0; i < BLOCK_WORDS; i++) {
    uint64_t mask = word_mask(h.bits, i);
    missing |= mask & ~atomic_load_explicit(&w[i], memory_order_relaxed);
  }
  return missing == 0;
}

/* ---------------------------------------------------------- generations */

static uint64_t blocks_for(uint64_t capacity) {
  return (capacity + QP__IDFILTER_IDS_PER_BLOCK - 1) / QP__IDFILTER_IDS_PER_BLOCK;
}

/* Allocates generation index `at` (not yet published) for capacity ids. */
static int gen_alloc(qp__idfilter_t *f, uint32_t at, uint64_t capacity) {
  QP_ASSERT(at < QP__IDFILTER_GENERATIONS_MAX);
  QP_ASSERT(capacity >= QP__IDFILTER_CAPACITY_MIN && capacity <= QP__IDFILTER_CAPACITY_MAX);
  qp__idfilter_gen_t *g = &f->gens[at];
  uint64_t blocks = blocks_for(capacity);
  /* One spare block so the words can start on a cache-line boundary. */
  void *raw = qp_calloc((size_t)blocks + 1, BLOCK_BYTES);
  if (raw == NULL) return QP_ENOMEM;
  uintptr_t aligned = ((uintptr_t)raw + BLOCK_BYTES - 1) & ~(uintptr_t)(BLOCK_BYTES - 1);
  g->raw = raw;
  g->words = (_Atomic uint64_t *)aligned;
  g->blocks = blocks;
  g->capacity = capacity;
  atomic_store_explicit(&g->count, 0, memory_order_relaxed);
  return 0;
}

int qp__idfilter_init(qp__idfilter_t *f, uint64_t capacity_hint) {
  memset(f, 0, sizeof *f);
  uint64_t capacity = capacity_hint == 0 ? QP__IDFILTER_CAPACITY_DEFAULT : capacity_hint;
  if (capacity > QP__IDFILTER_CAPACITY_MAX) return QP_EINVAL;
  if (capacity < QP__IDFILTER_CAPACITY_MIN) capacity = QP__IDFILTER_CAPACITY_MIN;
  int rc = gen_alloc(f, 0, capacity);
  if (rc != 0) return rc;
  atomic_store_explicit(&f->generations, 1, memory_order_release);
  QP_ASSERT(qp__idfilter_check(f));
  return 0;
}

void qp__idfilter_deinit(qp__idfilter_t *f) {
  for (uint32_t i = 0; i < QP__IDFILTER_GENERATIONS_MAX; i++) qp_free(f->gens[i].raw);
  memset(f, 0, sizeof *f);
}

/* Appends a generation of twice the newest one's capacity.  Writer only. */
static int grow(qp__idfilter_t *f, uint32_t n) {
  uint64_t capacity = f->gens[n - 1].capacity * 2;
  if (n == QP__IDFILTER_GENERATIONS_MAX || capacity > QP__IDFILTER_CAPACITY_MAX) return QP_ELIMIT;
  int rc = gen_alloc(f, n, capacity);
  if (rc != 0) return rc;
  /* Release: a reader that sees n + 1 generations sees gens[n] filled in. */
  atomic_store_explicit(&f->generations, n + 1, memory_order_release);
  return 0;
}

int qp__idfilter_add(qp__idfilter_t *f, qp_u128 id) {
  uint32_t n = atomic_load_explicit(&f->generations, memory_order_relaxed);
  QP_ASSERT(n >= 1 && n <= QP__IDFILTER_GENERATIONS_MAX);
  int rc = 0;
  const qp__idfilter_gen_t *newest = &f->gens[n - 1];
  if (atomic_load_explicit(&newest->count, memory_order_relaxed) >= newest->capacity) {
    rc = grow(f, n);
    if (rc == 0) n++;
  }
  /* Even when growth failed the id goes in: an over-full generation only
   * raises the false-positive rate, a missing id would break idempotency. */
  qp__idfilter_gen_t *g = &f->gens[n - 1];
  if (gen_set(g, hash_id(id))) {
    uint64_t count = atomic_load_explicit(&g->count, memory_order_relaxed);
    atomic_store_explicit(&g->count, count + 1, memory_order_relaxed);
  }
  return rc;
}

bool qp__idfilter_may_contain(const qp__idfilter_t *f, qp_u128 id) {
  uint32_t n = atomic_load_explicit(&f->generations, memory_order_acquire);
  QP_ASSERT(n >= 1 && n <= QP__IDFILTER_GENERATIONS_MAX);
  id_hash_t h = hash_id(id);
  /* Newest first: it is where recent ids, the likeliest repeats, live. */
  for (uint32_t i = n; i-- > 0;) {
    if (gen_test(&f->gens[i], h)) return true;
  }
  return false;
}

uint64_t qp__idfilter_count(const qp__idfilter_t *f) {
  uint32_t n = atomic_load_explicit(&f->generations, memory_order_acquire);
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++)
    total += atomic_load_explicit(&f->gens[i].count, memory_order_relaxed);
  return total;
}

size_t qp__idfilter_bytes(const qp__idfilter_t *f) {
  uint32_t n = atomic_load_explicit(&f->generations, memory_order_acquire);
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) total += ((size_t)f->gens[i].blocks + 1) * BLOCK_BYTES;
  return total;
}

uint32_t qp__idfilter_generations(const qp__idfilter_t *f) {
  return atomic_load_explicit(&f->generations, memory_order_acquire);
}

bool qp__idfilter_check(const qp__idfilter_t *f) {
  uint32_t n = atomic_load_explicit(&f->generations, memory_order_acquire);
  if (n < 1 || n > QP__IDFILTER_GENERATIONS_MAX) return false;
  if (f->gens[0].capacity < QP__IDFILTER_CAPACITY_MIN) return false;
  for (uint32_t i = 0; i < n; i++) {
    const qp__idfilter_gen_t *g = &f->gens[i];
    uint64_t count = atomic_load_explicit(&g->count, memory_order_relaxed);
    if (g->capacity > QP__IDFILTER_CAPACITY_MAX) return false;
    if (i > 0 && g->capacity != f->gens[i - 1].capacity * 2) return false;
    if (g->blocks != blocks_for(g->capacity) || count > g->blocks * BLOCK_BITS) return false;
    if (g->words == NULL || (uintptr_t)g->words % BLOCK_BYTES != 0) return false;
  }
  return true;
}

/* ---------------------------------------------------------------- file */

static uint64_t page_align(uint64_t x) {
  return (x + PAGE_BYTES - 1) & ~(uint64_t)(PAGE_BYTES - 1);
}

/* The file's layout for a given shape: where each body starts, and the
 * total size including the checksum. */
typedef struct layout {
  uint32_t generations;                            /* bodies */
  uint64_t offset[QP__IDFILTER_GENERATIONS_MAX];   /* body start, page-aligned */
  uint64_t blocks[QP__IDFILTER_GENERATIONS_MAX];   /* body length / 64 */
  uint64_t file_bytes;                             /* through the checksum */
} layout_t;

static void layout_compute(layout_t *l) {
  uint64_t at = PAGE_BYTES;
  for (uint32_t i = 0; i < l->generations; i++) {
    l->offset[i] = at;
    at = page_align(at + l->blocks[i] * BLOCK_BYTES);
  }
  uint32_t last = l->generations - 1;
  l->file_bytes = l->offset[last] + l->blocks[last] * BLOCK_BYTES + QP_HASH_SIZE;
}

/* Encodes the header page: header, generation table, zeros. */
static void header_encode(uint8_t page[PAGE_BYTES], const layout_t *l, const uint64_t *capacity,
                          const uint64_t *count, uint64_t cover) {
  memset(page, 0, PAGE_BYTES);
  memcpy(page, file_magic, sizeof file_magic);
  qp_store_u32(page + 8, FILE_VERSION);
  qp_store_u32(page + 12, l->generations);
  qp_store_u32(page + 16, BLOCK_BYTES);
  qp_store_u32(page + 20, QP__IDFILTER_IDS_PER_BLOCK);
  qp_store_u32(page + 24, PAGE_BYTES);
  qp_store_u64(page + 32, cover);
  qp_store_u64(page + 40, l->file_bytes);
  for (uint32_t i = 0; i < l->generations; i++) {
    uint8_t *e = page + HEADER_BYTES + GEN_ENTRY_BYTES * i;
    qp_store_u64(e, capacity[i]);
    qp_store_u64(e + 8, l->blocks[i]);
    qp_store_u64(e + 16, count[i]);
    qp_store_u64(e + 24, l->offset[i]);
  }
}

static bool all_zero(const uint8_t *p, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}

/* Hashes and writes one generation's body and the zero padding after it
 * (hashed, not written: the file is sparse). */
static int body_write(const qp_io_t *io, qp_hash_ctx_t *hash, const qp__idfilter_gen_t *g,
                      uint64_t offset, uint64_t end) {
  uint8_t page[PAGE_BYTES];
  uint64_t words = g->blocks * BLOCK_WORDS;
  for (uint64_t w = 0; w < words; w += PAGE_BYTES / 8) {
    uint64_t take = words - w < PAGE_BYTES / 8 ? words - w : PAGE_BYTES / 8;
    for (uint64_t i = 0; i < take; i++)
      qp_store_u64(page + 8 * i, atomic_load_explicit(&g->words[w + i], memory_order_relaxed));
    size_t len = (size_t)take * 8;
    qp_hash256_update(hash, page, len);
    if (!all_zero(page, len)) {
      int rc = io->write_at(io->ctx, page, len, offset + w * 8);
      if (rc != 0) return rc;
    }
  }
  memset(page, 0, sizeof page);
  uint64_t pad = end - (offset + words * 8);
  QP_ASSERT(pad < PAGE_BYTES);
  qp_hash256_update(hash, page, (size_t)pad);
  return 0;
}

/* Writes the whole file through io. */
static int file_write(const qp_io_t *io, const qp__idfilter_t *f, uint64_t cover) {
  /* One snapshot of the shape; words are read later and may be newer. */
  layout_t l = {.generations = atomic_load_explicit(&f->generations, memory_order_acquire)};
  QP_ASSERT(l.generations >= 1 && l.generations <= QP__IDFILTER_GENERATIONS_MAX);
  uint64_t capacity[QP__IDFILTER_GENERATIONS_MAX], count[QP__IDFILTER_GENERATIONS_MAX];
  for (uint32_t i = 0; i < l.generations; i++) {
    l.blocks[i] = f->gens[i].blocks;
    capacity[i] = f->gens[i].capacity;
    count[i] = atomic_load_explicit(&f->gens[i].count, memory_order_relaxed);
  }
  layout_compute(&l);
  uint8_t page[PAGE_BYTES];
  header_encode(page, &l, capacity, count, cover);
  qp_hash_ctx_t hash;
  qp_hash256_init(&hash);
  qp_hash256_update(&hash, page, PAGE_BYTES);
  int rc = io->write_at(io->ctx, page, PAGE_BYTES, 0);
  for (uint32_t i = 0; rc == 0 && i < l.generations; i++) {
    uint64_t end = i + 1 < l.generations ? l.offset[i + 1] : l.file_bytes - QP_HASH_SIZE;
    rc = body_write(io, &hash, &f->gens[i], l.offset[i], end);
  }
  if (rc != 0) return rc;
  uint8_t sum[QP_HASH_SIZE];
  qp_hash256_final(&hash, sum);
  return io->write_at(io->ctx, sum, sizeof sum, l.file_bytes - QP_HASH_SIZE);
}

/* Written through store's atomic replace: the new file appears whole
 * under `path` or not at all.  Its io takes positional writes, so zero
 * pages are skipped and the file stays sparse. */
int qp__idfilter_save(const qp__idfilter_t *f, const char *path, uint64_t cover) {
  if (strlen(path) >= PATH_BYTES_MAX) return QP_EINVAL;
  if (qp_crypto_init() != 0) return QP_EIO;
  char detail[PATH_BYTES_MAX + 128] = "";
  qp_file_replace_t *r;
  int rc = qp_file_replace_begin(path, 0600, &r, detail, sizeof detail);
  if (rc == 0) {
    rc = file_write(qp_file_replace_io(r), f, cover);
    if (rc != 0) {
      snprintf(detail, sizeof detail, "cannot write %s.tmp: %s", path, qp_strerror(rc));
      qp_file_replace_abort(r);
    } else {
      rc = qp_file_replace_commit(r, detail, sizeof detail);
    }
  }
  if (rc != 0) QP_LOG_ERROR("idfilter", "cannot save %s: %s", path, detail);
  return rc;
}

/* Where a load reports to: the file and the caller's detail buffer. */
typedef struct reader {
  const qp_io_t *io;  /* the open file */
  const char *path;   /* for messages */
  char *detail;       /* caller's buffer, may be NULL */
  size_t detail_size; /* its size */
} reader_t;

static int corrupt(const reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "path: <message>" into the detail buffer; returns QP_ECORRUPT. */
static int corrupt(const reader_t *r, const char *fmt, ...) {
  if (r->detail == NULL || r->detail_size == 0) return QP_ECORRUPT;
  int n = snprintf(r->detail, r->detail_size, "%s: ", r->path);
  if (n >= 0 && (size_t)n < r->detail_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail + n, r->detail_size - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return QP_ECORRUPT;
}

/* Reads exactly len bytes at offset; a short read is corruption (the size
 * was checked, so the file changed under us). */
static int read_exact(const reader_t *r, void *buf, size_t len, uint64_t offset) {
  size_t got = 0;
  int rc = r->io->read_at(r->io->ctx, buf, len, offset, &got);
  if (rc != 0) {
    if (r->detail != NULL && r->detail_size > 0)
      snprintf(r->detail, r->detail_size, "%s: read: %s", r->path, qp_strerror(rc));
    return rc;
  }
  if (got != len) return corrupt(r, "short read at offset %llu", (unsigned long long)offset);
  return 0;
}

/* Checks the fixed header fields against this build and the file's size;
 * fills l->generations. */
static int header_check(const reader_t *r, const uint8_t *page, uint64_t size, layout_t *l) {
  if (memcmp(page, file_magic, sizeof file_magic) != 0)
    return corrupt(r, "bad magic at offset 0: not an id filter file");
  uint32_t version = qp_load_u32(page + 8);
  if (version != FILE_VERSION)
    return corrupt(r, "version is %u, this build reads %u", version, FILE_VERSION);
  l->generations = qp_load_u32(page + 12);
  if (l->generations < 1 || l->generations > QP__IDFILTER_GENERATIONS_MAX)
    return corrupt(r, "generations is %u, allowed 1..%u", l->generations,
                   QP__IDFILTER_GENERATIONS_MAX);
  uint32_t block = qp_load_u32(page + 16), ids = qp_load_u32(page + 20);
  uint32_t page_bytes = qp_load_u32(page + 24);
  if (block != BLOCK_BYTES || ids != QP__IDFILTER_IDS_PER_BLOCK || page_bytes != PAGE_BYTES)
    return corrupt(r, "block bytes/ids per block/page bytes are %u/%u/%u, this build uses %u/%u/%u",
                   block, ids, page_bytes, BLOCK_BYTES, QP__IDFILTER_IDS_PER_BLOCK, PAGE_BYTES);
  if (!all_zero(page + 28, 4) || !all_zero(page + 48, 16))
    return corrupt(r, "reserved header bytes (28..31, 48..63) are not zero");
  uint64_t file_bytes = qp_load_u64(page + 40);
  if (file_bytes != size)
    return corrupt(r, "file is %llu bytes, header says %llu (truncated or extended)",
                   (unsigned long long)size, (unsigned long long)file_bytes);
  return 0;
}

/* Checks the generation table against the rules init and grow follow and
 * against the file's size; fills capacity, count and the layout. */
static int table_check(const reader_t *r, const uint8_t *page, uint64_t size, layout_t *l,
                       uint64_t *capacity, uint64_t *count) {
  for (uint32_t i = 0; i < l->generations; i++) {
    const uint8_t *e = page + HEADER_BYTES + GEN_ENTRY_BYTES * i;
    capacity[i] = qp_load_u64(e);
    l->blocks[i] = qp_load_u64(e + 8);
    count[i] = qp_load_u64(e + 16);
    uint64_t want = i == 0 ? capacity[0] : capacity[i - 1] * 2;
    if (capacity[i] < QP__IDFILTER_CAPACITY_MIN || capacity[i] > QP__IDFILTER_CAPACITY_MAX ||
        capacity[i] != want)
      return corrupt(r, "generation %u: capacity %llu, allowed %u..%llu and twice the previous", i,
                     (unsigned long long)capacity[i], QP__IDFILTER_CAPACITY_MIN,
                     (unsigned long long)QP__IDFILTER_CAPACITY_MAX);
    if (l->blocks[i] != blocks_for(capacity[i]) || count[i] > l->blocks[i] * BLOCK_BITS)
      return corrupt(r, "generation %u: blocks %llu or count %llu do not fit capacity %llu", i,
                     (unsigned long long)l->blocks[i], (unsigned long long)count[i],
                     (unsigned long long)capacity[i]);
  }
  layout_compute(l);
  for (uint32_t i = 0; i < l->generations; i++) {
    uint64_t offset = qp_load_u64(page + HEADER_BYTES + GEN_ENTRY_BYTES * i + 24);
    if (offset != l->offset[i])
      return corrupt(r, "generation %u: body offset %llu, expected %llu", i,
                     (unsigned long long)offset, (unsigned long long)l->offset[i]);
  }
  if (l->file_bytes != size)
    return corrupt(r, "file is %llu bytes, the generation table needs %llu",
                   (unsigned long long)size, (unsigned long long)l->file_bytes);
  return 0;
}

/* Reads one body (and hashes the padding after it, up to end) into g. */
static int body_read(const reader_t *r, qp_hash_ctx_t *hash, qp__idfilter_gen_t *g,
                     uint64_t offset, uint64_t end) {
  uint8_t page[PAGE_BYTES];
  uint64_t words = g->blocks * BLOCK_WORDS;
  for (uint64_t w = 0; w < words; w += PAGE_BYTES / 8) {
    uint64_t take = words - w < PAGE_BYTES / 8 ? words - w : PAGE_BYTES / 8;
    int rc = read_exact(r, page, (size_t)take * 8, offset + w * 8);
    if (rc != 0) return rc;
    qp_hash256_update(hash, page, (size_t)take * 8);
    /* The words start zeroed: storing only the set ones leaves the pages of
     * a mostly empty generation untouched, so they cost no memory. */
    for (uint64_t i = 0; i < take; i++) {
      uint64_t v = qp_load_u64(page + 8 * i);
      if (v != 0) atomic_store_explicit(&g->words[w + i], v, memory_order_relaxed);
    }
  }
  uint64_t pad_at = offset + words * 8;
  QP_ASSERT(end - pad_at < PAGE_BYTES);
  int rc = read_exact(r, page, (size_t)(end - pad_at), pad_at);
  if (rc == 0) qp_hash256_update(hash, page, (size_t)(end - pad_at));
  return rc;
}

/* Reads and verifies the whole file into f (zeroed on entry; the caller
 * deinitialises it on failure). */
static int file_read(const reader_t *r, qp__idfilter_t *f, uint64_t *cover) {
  uint64_t size = 0;
  int rc = r->io->size(r->io->ctx, &size);
  if (rc != 0) return rc;
  if (size < PAGE_BYTES + QP_HASH_SIZE)
    return corrupt(r, "file is %llu bytes, shorter than the smallest filter file (%u)",
                   (unsigned long long)size, PAGE_BYTES + QP_HASH_SIZE);
  uint8_t page[PAGE_BYTES];
  layout_t l;
  uint64_t capacity[QP__IDFILTER_GENERATIONS_MAX], count[QP__IDFILTER_GENERATIONS_MAX];
  rc = read_exact(r, page, PAGE_BYTES, 0);
  if (rc == 0) rc = header_check(r, page, size, &l);
  if (rc == 0) rc = table_check(r, page, size, &l, capacity, count);
  if (rc != 0) return rc;
  qp_hash_ctx_t hash;
  qp_hash256_init(&hash);
  qp_hash256_update(&hash, page, PAGE_BYTES);
  for (uint32_t i = 0; i < l.generations; i++) {
    /* The sizes were checked against the file's size: a forged header
     * cannot make us allocate more than the file holds. */
    rc = gen_alloc(f, i, capacity[i]);
    if (rc != 0) return rc;
    atomic_store_explicit(&f->gens[i].count, count[i], memory_order_relaxed);
    uint64_t end = i + 1 < l.generations ? l.offset[i + 1] : l.file_bytes - QP_HASH_SIZE;
    rc = body_read(r, &hash, &f->gens[i], l.offset[i], end);
    if (rc != 0) return rc;
  }
  uint8_t want[QP_HASH_SIZE], got[QP_HASH_SIZE];
  qp_hash256_final(&hash, want);
  rc = read_exact(r, got, sizeof got, l.file_bytes - QP_HASH_SIZE);
  if (rc != 0) return rc;
  if (memcmp(want, got, sizeof want) != 0)
    return corrupt(r, "checksum mismatch (BLAKE2b-256 at offset %llu)",
                   (unsigned long long)(l.file_bytes - QP_HASH_SIZE));
  atomic_store_explicit(&f->generations, l.generations, memory_order_release);
  *cover = qp_load_u64(page + 32);
  return 0;
}

int qp__idfilter_load(const char *path, qp__idfilter_t *f, uint64_t *cover, char *detail,
                      size_t detail_size) {
  memset(f, 0, sizeof *f);
  if (detail != NULL && detail_size > 0) detail[0] = '\0';
  if (qp_crypto_init() != 0) return QP_EIO;
  qp_io_t io;
  int rc = qp_io_open_file(path, false, true, &io);
  if (rc != 0) {
    if (detail != NULL && detail_size > 0)
      snprintf(detail, detail_size, "%s: open: %s", path, qp_strerror(rc));
    return rc;
  }
  reader_t r = {.io = &io, .path = path, .detail = detail, .detail_size = detail_size};
  rc = file_read(&r, f, cover);
  io.close(io.ctx);
  if (rc != 0) {
    qp__idfilter_deinit(f);
    return rc;
  }
  QP_ASSERT(qp__idfilter_check(f));
  return 0;
}
