/*
 * lua_vm_seed.c - one string-hash seed for every contract state in every
 * process (docs/chain.md, "Deterministic layouts").
 *
 * Lua 5.4's lua_newstate (lstate.c, luai_makeseed) seeds the state's
 * string hash from time(NULL) and three addresses: the state's, a local
 * variable's and lua_newstate's own; Debian's liblua cannot be built with
 * another luai_makeseed.  Table layouts follow the hashes, so they differed
 * between processes.  But lua_newstate stores the seed in its first block
 * and then allocates the state's stack before it makes any string: the
 * sandbox's allocator overwrites the seed with the call's at that second
 * allocation (qp__lua_seed_pin), so every string is hashed with it.
 *
 * Where the seed lies in the first block is learnt once per process, not
 * assumed from one build of Lua: lua_newstate runs on one static block from
 * different stack depths and is stopped at its second allocation.  The
 * depth changes the seed, and a pointer to lua_newstate's error handler
 * (a stack address, recognised as one); the other bytes that differ must
 * lie in one aligned unsigned int, else no contract runs (QP_ENOTSUP).
 */
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lua.h>

#include "base/err.h"
#include "base/log.h"
#include "chain/lua_vm_int.h"

#define BLOCK_MAX 16384u /* bytes of lua_newstate's first block that can be studied */
#define PROBES 4         /* stack depths compared */
#define PAD 256u         /* bytes of stack per depth */
#define NEAR 65536u      /* a word this close to the allocator's frame is a stack address */

/* One probe: lua_newstate's first block, and what it held at the second
 * allocation. */
typedef struct probe {
  alignas(max_align_t) unsigned char block[BLOCK_MAX];
  unsigned char snap[PROBES][BLOCK_MAX];
  uintptr_t sp[PROBES]; /* an address in the allocator's frame at each snapshot */
  size_t size;    /* the first block's bytes (0: none given) */
  unsigned calls; /* allocations asked for in this run */
  unsigned run;   /* which snapshot */
} probe_t;

static probe_t g_probe;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_rc = QP_ENOTSUP;
static size_t g_offset;

/* Gives the static block first, then records it and refuses (lua_newstate
 * then fails and frees what it made). */
static void *probe_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  probe_t *p = ud;
  (void)osize;
  if (nsize == 0 || ptr != NULL) return NULL;
  if (p->calls++ == 0) {
    if (nsize > BLOCK_MAX) return NULL;
    memset(p->block, 0, nsize);
    p->size = nsize;
    return p->block;
  }
  if (p->calls == 2) {
    p->sp[p->run] = (uintptr_t)__builtin_frame_address(0); /* the real stack, even under ASan */
    memcpy(p->snap[p->run], p->block, p->size);
  }
  return NULL;
}

/* lua_newstate on the static block; false when it did not stop as
 * expected. */
static bool probe_once(void) {
  g_probe.calls = 0;
  lua_State *L = lua_newstate(probe_alloc, &g_probe);
  if (L != NULL) {
    lua_close(L);
    return false;
  }
  return g_probe.calls >= 2 && g_probe.size > 0;
}

/* probe_once from depth frames deeper (the pad is read after the call, so
 * the frames are not merged). */
__attribute__((noinline)) static bool probe_from(unsigned depth) {
  volatile unsigned char pad[PAD];
  pad[depth % PAD] = 1;
  bool ok = depth == 0 ? probe_once() : probe_from(depth - 1);
  return ok && pad[depth % PAD] == 1;
}

/* Whether the aligned word at i is a stack address in every snapshot. */
static bool stack_word(size_t i) {
  if (i % alignof(uintptr_t) != 0 || i + sizeof(uintptr_t) > g_probe.size) return false;
  for (unsigned r = 0; r < PROBES; r++) {
    uintptr_t v;
    memcpy(&v, g_probe.snap[r] + i, sizeof v);
    uintptr_t sp = g_probe.sp[r];
    if ((v > sp ? v - sp : sp - v) >= NEAR) return false;
  }
  return true;
}

/* Snapshots from PROBES depths; the bytes in which they differ, stack
 * addresses aside, must lie in one aligned unsigned int: its offset into
 * *offset. */
static bool find_seed(size_t *offset) {
  size_t size = 0;
  for (unsigned r = 0; r < PROBES; r++) {
    g_probe.run = r;
    g_probe.size = 0;
    if (!probe_from(r) || (r > 0 && g_probe.size != size)) return false;
    size = g_probe.size;
  }
  size_t first = SIZE_MAX, last = 0;
  for (size_t i = 0; i < size; i++) {
    if (stack_word(i)) {
      i += sizeof(uintptr_t) - 1;
      continue;
    }
    for (unsigned r = 1; r < PROBES; r++)
      if (g_probe.snap[r][i] != g_probe.snap[0][i]) {
        if (first == SIZE_MAX) first = i;
        last = i;
      }
  }
  if (first == SIZE_MAX) return false;
  size_t word = first - first % alignof(unsigned int);
  if (last >= word + sizeof(unsigned int)) return false;
  *offset = word;
  return true;
}

static void calibrate(void) {
  if (find_seed(&g_offset)) {
    g_rc = 0;
    return;
  }
  QP_LOG_ERROR("chain", "lua: cannot find the string-hash seed in lua_newstate's state "
                        "(an unexpected liblua5.4): contracts will not run");
}

int qp__lua_seed_offset(size_t *offset) {
  pthread_once(&g_once, calibrate);
  *offset = g_offset;
  return g_rc;
}

void qp__lua_seed_pin(void *block, size_t offset, uint32_t seed) {
  unsigned int value = seed;
  memcpy((unsigned char *)block + offset, &value, sizeof value);
}
