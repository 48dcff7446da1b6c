/*
 * idfilter.h - (private to ledger/) a growable blocked Bloom filter over
 * 128-bit ids, in front of the LMDB idempotency lookup.
 *
 * Nearly every transfer id the ledger sees is new, and asking LMDB "does
 * this id exist?" costs about a microsecond.  This filter answers "definitely
 * not present" for most new ids after touching one cache line, and "maybe
 * present" otherwise (the caller then asks LMDB).  It never answers "not
 * present" for an id that was added: no false negatives, ever.
 *
 * Design.  A generation is an array of 64-byte, cache-line-aligned blocks of
 * eight 64-bit words.  An id's 128 bits are mixed into two 64-bit hashes: the
 * first picks one block (multiply-shift, so the block count need not be a
 * power of two), the second picks one bit in each of the block's 8 words
 * (k = 8, a "split block" Bloom filter).  A generation designed for C ids has
 * ceil(C / 44) blocks: 11.6 bits per id, which gives a false-positive rate of
 * about 0.5 % at C ids (the Poisson-averaged split-block formula; the test
 * measures it).  When the newest generation holds C ids, add() appends a
 * generation for 2C ids; may_contain() tests the newest generation first,
 * then the older ones.  Every full generation adds its ~0.5 % to the rate,
 * so a filter that has grown g times answers "maybe" for roughly
 * 0.5 * (g + 1) % of absent ids: size capacity_hint so that growth is rare.
 *
 * Memory is exactly sum(blocks) * 64 bytes (plus 64 for alignment per
 * generation), from qp_calloc: large blocks come as zero pages that are
 * resident only once written.  But ids hash uniformly, so a generation's
 * pages are all resident once it holds a few ids per 4 KiB page (about
 * 100 000 ids for a 64M-id generation): a large first generation is cheap
 * only while nearly empty.  20M ids in one generation cost 29.1 MB.
 *
 * Concurrency contract.  One writer thread at a time calls init, load, add
 * and deinit (add may grow the filter).  Any number of other threads may
 * call may_contain, count, bytes, generations, check and save at any time,
 * concurrently with each other and with add -- including an add that grows
 * -- without a lock: generations are only ever appended (their count is
 * published with a release store and read with an acquire load) and are
 * neither moved nor freed before deinit, and every bit word and counter is
 * read and written with relaxed atomics.  Deinit must not overlap any other
 * call.  What a reader sees:
 *   - once add(id) has returned and that return happens-before a reader's
 *     call (the caller's lock, a release/acquire hand-off, a thread join),
 *     may_contain(id) is true, and a save started after it writes id;
 *   - an add that overlaps a may_contain or a save may be seen wholly,
 *     partly or not at all; a partly saved id reads as absent after load.
 *     So the `cover` a caller stores with save must name a point that all
 *     adds included in the file had completed before save() was called.
 * At most one save() per path at a time (they would share path.tmp).
 *
 * File format (little-endian, field by field; qp__idfilter_save):
 *   offset size  field
 *        0    8  magic "QPIDFLT1"
 *        8    4  version (1)
 *       12    4  generations, 1..QP__IDFILTER_GENERATIONS_MAX
 *       16    4  block bytes (64)
 *       20    4  ids per block (44)
 *       24    4  page bytes (4096)
 *       28    4  reserved, zero
 *       32    8  cover, the caller's value, verbatim
 *       40    8  file bytes, checksum included
 *       48   16  reserved, zero
 *       64 32*g  per generation: capacity, blocks, count, body offset (u64s)
 *   then zeros to 4096; each generation's body (blocks * 64 bytes of u64
 *   words) starts on a 4096-byte boundary, bodies padded with zeros; the
 *   file ends with 32 bytes of BLAKE2b-256 over everything before them.
 *   All-zero 4 KiB pages are not written (the file is sparse).
 */
#ifndef QP_LEDGER_IDFILTER_H
#define QP_LEDGER_IDFILTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/u128.h"

#define QP__IDFILTER_IDS_PER_BLOCK 44u        /* design load: 512/44 = 11.6 bits per id */
#define QP__IDFILTER_CAPACITY_MIN 4096u       /* smaller hints are raised to this */
#define QP__IDFILTER_CAPACITY_DEFAULT (1u << 20) /* for capacity_hint 0: 1.45 MB */
#define QP__IDFILTER_CAPACITY_MAX ((uint64_t)1 << 40) /* ids in one generation */
#define QP__IDFILTER_GENERATIONS_MAX 32u      /* 4096 << 31 > CAPACITY_MAX */

/* One generation.  Fields other than count are written once, before the
 * generation is published, and never change until deinit. */
typedef struct qp__idfilter_gen {
  _Atomic uint64_t *words;  /* blocks * 8 words, 64-byte aligned; bit words */
  void *raw;                /* the allocation behind words, for qp_free */
  uint64_t blocks;          /* 64-byte blocks */
  uint64_t capacity;        /* design load in ids: ceil(capacity / 44) = blocks */
  _Atomic uint64_t count;   /* adds that set at least one new bit here */
} qp__idfilter_gen_t;

/* Invariants (qp__idfilter_check): 1 <= generations <= GENERATIONS_MAX;
 * gens[0].capacity in [CAPACITY_MIN, CAPACITY_MAX]; each later generation
 * has twice the capacity of the one before; count <= blocks * 512. The
 * fields are private to idfilter.c: use the functions. */
typedef struct qp__idfilter {
  qp__idfilter_gen_t gens[QP__IDFILTER_GENERATIONS_MAX]; /* [0, generations) in use */
  _Atomic uint32_t generations;                          /* published with release */
} qp__idfilter_t;

/* Initialises *f with one generation designed for capacity_hint ids (0 =
 * QP__IDFILTER_CAPACITY_DEFAULT; hints below CAPACITY_MIN are raised to
 * it).  Returns 0, QP_EINVAL (hint above CAPACITY_MAX) or QP_ENOMEM; on
 * failure *f holds nothing to deinit.  Release with qp__idfilter_deinit. */
int qp__idfilter_init(qp__idfilter_t *f, uint64_t capacity_hint);

/* Frees every generation; *f may be initialised again.  Safe on a zeroed or
 * already deinitialised filter. */
void qp__idfilter_deinit(qp__idfilter_t *f);

/* Records id in the newest generation, first appending a generation of
 * twice the capacity if the newest is full.  Returns 0; or QP_ENOMEM when
 * that growth could not allocate, or QP_ELIMIT when GENERATIONS_MAX or
 * CAPACITY_MAX is reached: even then id IS recorded (in the over-full newest
 * generation, at a higher false-positive rate), and the next add tries to
 * grow again.  Writer thread only. */
int qp__idfilter_add(qp__idfilter_t *f, qp_u128 id);

/* False: id was certainly never added.  True: it may have been. */
bool qp__idfilter_may_contain(const qp__idfilter_t *f, qp_u128 id);

/* Adds that set at least one new bit: distinct ids added, less the few (the
 * false-positive rate of the newest generation) whose bits were all set
 * already; repeated adds of one id count once. */
uint64_t qp__idfilter_count(const qp__idfilter_t *f);

/* Bytes of memory allocated for bit arrays (resident once touched). */
size_t qp__idfilter_bytes(const qp__idfilter_t *f);

/* Generations in use, 1..QP__IDFILTER_GENERATIONS_MAX. */
uint32_t qp__idfilter_generations(const qp__idfilter_t *f);

/* True when the invariants above hold; for QP_ASSERT and tests. */
bool qp__idfilter_check(const qp__idfilter_t *f);

/* Writes f to path atomically: path.tmp is written, fsynced, renamed over
 * path, and path's directory is fsynced.  cover is stored verbatim for the
 * caller (see the contract above).  May run concurrently with add.
 * Returns 0, QP_EINVAL (path too long), QP_EIO, QP_ENOSPC, QP_ENOTFOUND (no
 * such directory); on failure path is unchanged and path.tmp removed. */
int qp__idfilter_save(const qp__idfilter_t *f, const char *path, uint64_t cover);

/* Reads a file written by qp__idfilter_save into *f (not initialised: load
 * initialises it) and the stored cover into *cover.  Returns 0; QP_ENOTFOUND
 * when path does not exist; QP_ECORRUPT when anything about it is wrong
 * (size, magic, version, layout, checksum), with what and where in detail;
 * QP_EIO or QP_ENOMEM.  On any failure *f holds nothing to deinit and
 * *cover is unchanged: never a half-loaded filter.  detail may be NULL. */
int qp__idfilter_load(const char *path, qp__idfilter_t *f, uint64_t *cover, char *detail,
                      size_t detail_size);

#endif
