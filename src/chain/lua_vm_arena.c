/*
 * lua_vm_arena.c - where a contract's Lua state lives: one arena per
 * thread whose base is aligned to 4 GiB, with an allocator that is a pure
 * function of the calls made to it (docs/chain.md, "Deterministic layouts").
 *
 * Lua hashes a table, a function, a userdata or a thread used as a table
 * key by its address, keeping the low 32 bits (point2uint in llimits.h).
 * With the process's malloc those bits follow ASLR and the heap's history,
 * so the layout of a table with such keys - when it is resized, hence
 * where its integer keys live and what `#t` of a table with holes answers -
 * differed between validators.  Here an address's low 32 bits are its
 * offset in the arena, and the offsets depend only on the sequence of
 * allocations and frees the state made: the same on every node.
 *
 * The allocator: 16-byte size classes up to 256 bytes, powers of two
 * above; a LIFO free list per class; a bump pointer for new blocks; no
 * headers (Lua passes a block's size back when it frees or resizes it).
 * The arena is ARENA_BYTES, 8 times the memory cap, so that fragmentation
 * is not what stops a call; if it ever is, it stops it on every node alike
 * (the allocator is deterministic), as out of memory.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/lua_vm_int.h"

#define ALIGN_BYTES ((size_t)1 << 32)          /* what Lua's pointer hash keeps */
#define ARENA_BYTES ((size_t)8 * QP_LUA_MEMORY_MAX) /* usable bytes */
#define RETAIN_BYTES ((size_t)4 << 20)         /* touched pages kept between calls */
#define SMALL_STEP 16u                         /* small classes: multiples of this */
#define SMALL_MAX 256u                         /* largest small class */
#define SMALL_CLASSES (SMALL_MAX / SMALL_STEP) /* 16 .. 256 */
#define LARGE_MIN_SHIFT 9u                     /* 512: the first power-of-two class */
#define LARGE_MAX_SHIFT 27u                    /* 128 MiB > ARENA_BYTES */
#define CLASSES (SMALL_CLASSES + LARGE_MAX_SHIFT - LARGE_MIN_SHIFT + 1u)

struct qp__lua_arena {
  unsigned char *base;  /* ALIGN_BYTES-aligned; ARENA_BYTES readable and writable */
  size_t top;           /* bytes handed out by the bump pointer */
  size_t touched;       /* highest top since the pages were last given back */
  void *free[CLASSES];  /* per class: the last block freed (its first word links on) */
  bool busy;            /* a state lives here */
};

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static _Thread_local qp__lua_arena_t *t_arena;

static void arena_destroy(void *p) {
  qp__lua_arena_t *a = p;
  munmap(a->base, ARENA_BYTES);
  qp_free(a);
}

static void key_make(void) { (void)pthread_key_create(&g_key, arena_destroy); }

/* Maps ARENA_BYTES at an address that is a multiple of ALIGN_BYTES: reserve
 * ALIGN_BYTES more than needed (address space only), keep the aligned part. */
static unsigned char *map_aligned(void) {
  size_t reserve = ALIGN_BYTES + ARENA_BYTES;
  unsigned char *p = mmap(NULL, reserve, PROT_NONE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t at = ((uintptr_t)p + ALIGN_BYTES - 1) & ~(uintptr_t)(ALIGN_BYTES - 1);
  unsigned char *base = (unsigned char *)at;
  if (base > p) munmap(p, (size_t)(base - p));
  size_t tail = (size_t)(p + reserve - (base + ARENA_BYTES));
  if (tail > 0) munmap(base + ARENA_BYTES, tail);
  if (mprotect(base, ARENA_BYTES, PROT_READ | PROT_WRITE) != 0) {
    munmap(base, ARENA_BYTES);
    return NULL;
  }
  return base;
}

int qp__lua_arena_open(qp__lua_arena_t **out) {
  qp__lua_arena_t *a = t_arena;
  if (a == NULL) {
    pthread_once(&g_key_once, key_make);
    a = qp_calloc(1, sizeof *a);
    if (a == NULL) return QP_ENOMEM;
    a->base = map_aligned();
    if (a->base == NULL) {
      qp_free(a);
      return QP_ENOMEM;
    }
    t_arena = a;
    (void)pthread_setspecific(g_key, a);
  }
  QP_ASSERT(!a->busy); /* one state per thread at a time: calls do not nest */
  a->busy = true;
  a->top = 0;
  memset(a->free, 0, sizeof a->free);
  *out = a;
  return 0;
}

void qp__lua_arena_close(qp__lua_arena_t *a) {
  if (a->touched > RETAIN_BYTES) {
    (void)madvise(a->base + RETAIN_BYTES, a->touched - RETAIN_BYTES, MADV_DONTNEED);
    a->touched = RETAIN_BYTES;
  }
  a->busy = false;
}

/* The class of a block of size bytes, and the class's block size. */
static unsigned size_class(size_t size, size_t *block) {
  if (size <= SMALL_MAX) {
    unsigned c = (unsigned)((size + SMALL_STEP - 1) / SMALL_STEP);
    c = c == 0 ? 1 : c;
    *block = (size_t)c * SMALL_STEP;
    return c - 1;
  }
  unsigned shift = LARGE_MIN_SHIFT;
  while (((size_t)1 << shift) < size) shift++;
  *block = (size_t)1 << shift;
  return SMALL_CLASSES + shift - LARGE_MIN_SHIFT;
}

static void *block_take(qp__lua_arena_t *a, size_t size) {
  size_t block = 0;
  unsigned c = size_class(size, &block);
  void *p = a->free[c];
  if (p != NULL) {
    memcpy(&a->free[c], p, sizeof(void *));
    return p;
  }
  if (block > ARENA_BYTES - a->top) return NULL;
  p = a->base + a->top;
  a->top += block;
  if (a->top > a->touched) a->touched = a->top;
  return p;
}

static void block_give(qp__lua_arena_t *a, void *p, size_t size) {
  size_t block = 0;
  unsigned c = size_class(size, &block);
  memcpy(p, &a->free[c], sizeof(void *));
  a->free[c] = p;
}

void *qp__lua_arena_realloc(qp__lua_arena_t *a, void *ptr, size_t osize, size_t nsize) {
  if (nsize == 0) {
    if (ptr != NULL) block_give(a, ptr, osize);
    return NULL;
  }
  if (ptr == NULL) return block_take(a, nsize);
  size_t oblock = 0, nblock = 0;
  if (size_class(osize, &oblock) == size_class(nsize, &nblock)) return ptr;
  void *p = block_take(a, nsize);
  if (p == NULL) return nsize < osize ? ptr : NULL; /* shrinking never fails: keep it */
  memcpy(p, ptr, nsize < osize ? nsize : osize);
  block_give(a, ptr, osize);
  return p;
}
