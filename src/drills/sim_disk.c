/*
 * sim_disk.c - a disk that lies, in memory, driven by a seeded PRNG.
 *
 * One file, kept as two images: what reads see now (the page cache, here
 * "volatile") and what would survive a power loss ("durable").  A write
 * changes the volatile image; a sync copies it into the durable one; a
 * power loss throws the volatile image away, except that a torn write may
 * leave a prefix of the last unsynced write behind.  Each image has a twin,
 * the image the writer *intended*: a misdirected write lands at the wrong
 * offset in the real image but at the right one in the twin, so the driver
 * can tell damage (real != intended) from data, and knows exactly which
 * bytes a fault touched.
 *
 * Faults are drawn from the disk's own PRNG stream at each call, so the
 * same seed and the same sequence of calls give the same faults.  No wall
 * clock, no threads, no file system.
 *
 * Only the bytes from `dirty_lo` up can differ between the volatile and
 * durable images, so sync and power loss copy only that range: appends
 * cost what they write, not the size of the file.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/rng.h"
#include "drills/drills.h"

#define BYTES_MAX_DEFAULT (64ull << 20)
#define SECTOR_SIZE 512u
#define MISDIRECT_SECTORS_MAX 16u /* a misdirected write lands within this many sectors */
#define FLIP_TAIL_BYTES 4096u     /* half the bit flips aim at the end of what was read */
#define CLEAN UINT64_MAX          /* dirty_lo when the images agree */

const char *qp_sim_fault_name(qp_sim_fault_t kind) {
  static const char *const names[] = {
#define QP__SIM_FAULT_NAME(NAME, name, what) #name,
      QP_SIM_FAULTS_MAP(QP__SIM_FAULT_NAME)
#undef QP__SIM_FAULT_NAME
  };
  if ((unsigned)kind >= QP_SIM_FAULT_COUNT) return NULL;
  return names[kind];
}

/* --------------------------------------------------------------- images */

/* A growable byte array; bytes at and past `size` are meaningless. */
typedef struct image {
  uint8_t *bytes;    /* cap bytes */
  uint64_t size;     /* file size */
  uint64_t cap;      /* allocated */
} image_t;

static int image_reserve(image_t *im, uint64_t need, uint64_t bytes_max) {
  if (need <= im->cap) return 0;
  if (need > bytes_max) return QP_ENOSPC;
  uint64_t cap = im->cap ? im->cap : 4096;
  while (cap < need) cap *= 2;
  if (cap > bytes_max) cap = bytes_max;
  uint8_t *p = qp_realloc(im->bytes, (size_t)cap);
  if (p == NULL) return QP_ENOMEM;
  im->bytes = p;
  im->cap = cap;
  return 0;
}

/* Grows the file to `size` with zeros (a no-op if it is longer). */
static void image_extend(image_t *im, uint64_t size) {
  if (size <= im->size) return;
  QP_ASSERT(size <= im->cap);
  memset(im->bytes + im->size, 0, (size_t)(size - im->size));
  im->size = size;
}

/* Writes len bytes at offset; the gap past the old end reads as zeros. */
static void image_write(image_t *im, uint64_t offset, const uint8_t *data, uint64_t len) {
  QP_ASSERT(offset + len <= im->cap);
  image_extend(im, offset);
  memcpy(im->bytes + offset, data, (size_t)len);
  if (offset + len > im->size) im->size = offset + len;
}

/* Makes dst equal src from `lo` up (they already agree below it). */
static void image_copy_from(image_t *dst, const image_t *src, uint64_t lo) {
  QP_ASSERT(src->size <= dst->cap);
  if (lo < src->size) memcpy(dst->bytes + lo, src->bytes + lo, (size_t)(src->size - lo));
  dst->size = src->size;
}

/* ----------------------------------------------------------------- disk */

struct qp_sim_disk {
  qp_sim_disk_config_t config;  /* fault probabilities, sizes */
  uint64_t rng;                 /* the fault stream: SplitMix64 state (base/rng.h) */
  bool faults_on;               /* inject at all */
  bool dead;                    /* a crash point fired */
  bool open;                    /* a handle is open */
  image_t vol, dur;             /* real bytes: page cache, platters */
  image_t vol_int, dur_int;     /* intended bytes, same two views */
  uint64_t dirty_lo;            /* vol* may differ from dur* from here up; CLEAN if not */
  uint64_t reserved;            /* space reserved (fallocate) */
  uint64_t capacity;            /* device size */
  /* The last unsynced write, kept for a torn write at power loss. */
  bool last_valid;              /* there is one */
  uint64_t last_offset;         /* where it was meant to go */
  uint64_t last_landing;        /* where it went */
  uint64_t last_len;            /* its length */
  uint8_t *last_data;           /* its bytes */
  uint64_t last_cap;            /* allocated for last_data */
  uint64_t misdirects_unsynced; /* misdirected writes not yet synced */
  uint64_t misdirects_durable;  /* misdirected writes that reached the platters */
  uint64_t flips_durable;       /* bit flips on bytes below the durable size */
  uint64_t unreserved_writes;   /* writes that grew the file past the reserved space */
  uint64_t faults[QP_SIM_FAULT_COUNT]; /* injected, by kind */
};

int qp_sim_disk_create(const qp_sim_disk_config_t *config, uint64_t seed, qp_sim_disk_t **out) {
  qp_sim_disk_t *d = qp_calloc(1, sizeof *d);
  if (d == NULL) return QP_ENOMEM;
  if (config) d->config = *config;
  if (d->config.bytes_max == 0) d->config.bytes_max = BYTES_MAX_DEFAULT;
  d->capacity = d->config.capacity_bytes ? d->config.capacity_bytes : d->config.bytes_max;
  if (d->capacity > d->config.bytes_max) d->capacity = d->config.bytes_max;
  d->rng = seed;
  d->faults_on = true;
  d->dirty_lo = CLEAN;
  *out = d;
  return 0;
}

void qp_sim_disk_destroy(qp_sim_disk_t *d) {
  if (d == NULL) return;
  qp_free(d->vol.bytes);
  qp_free(d->dur.bytes);
  qp_free(d->vol_int.bytes);
  qp_free(d->dur_int.bytes);
  qp_free(d->last_data);
  qp_free(d);
}

void qp_sim_disk_set_faults(qp_sim_disk_t *d, bool enabled) { d->faults_on = enabled; }
bool qp_sim_disk_dead(const qp_sim_disk_t *d) { return d->dead; }
void qp_sim_disk_kill(qp_sim_disk_t *d) { d->dead = true; }

static bool chance(qp_sim_disk_t *d, uint32_t ppm) {
  return d->faults_on && qp_splitmix64_chance_ppm(&d->rng, ppm);
}

static void count(qp_sim_disk_t *d, qp_sim_fault_t kind) { d->faults[kind]++; }

/* Rolls for a crash at this call; true if the process just died. */
static bool crash_point(qp_sim_disk_t *d) {
  if (!chance(d, d->config.crash_ppm)) return false;
  count(d, QP_SIM_FAULT_CRASH);
  return true;
}

static void mark_dirty(qp_sim_disk_t *d, uint64_t lo) {
  if (lo < d->dirty_lo) d->dirty_lo = lo;
}

/* Copies the page cache to the platters. */
static void persist(qp_sim_disk_t *d) {
  if (d->dirty_lo != CLEAN) {
    image_copy_from(&d->dur, &d->vol, d->dirty_lo);
    image_copy_from(&d->dur_int, &d->vol_int, d->dirty_lo);
  }
  d->dirty_lo = CLEAN;
  d->last_valid = false;
  d->misdirects_durable += d->misdirects_unsynced;
  d->misdirects_unsynced = 0;
}

/* ------------------------------------------------------------ the seam */

static int sim_read(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  qp_sim_disk_t *d = ctx;
  *got = 0;
  if (d->dead) return QP_EIO;
  if (crash_point(d)) {
    d->dead = true;
    return QP_EIO;
  }
  uint64_t n = offset < d->vol.size ? d->vol.size - offset : 0;
  if (n > len) n = len;
  if (n > 0) memcpy(buf, d->vol.bytes + offset, (size_t)n);
  *got = (size_t)n;
  if (n > 0 && chance(d, d->config.bitflip_ppm)) {
    uint64_t tail = n < FLIP_TAIL_BYTES ? n : FLIP_TAIL_BYTES;
    uint64_t pos = qp_splitmix64_below(&d->rng, 2) ? n - tail + qp_splitmix64_below(&d->rng, tail)
                                                : qp_splitmix64_below(&d->rng, n);
    ((uint8_t *)buf)[pos] ^= (uint8_t)(1u << qp_splitmix64_below(&d->rng, 8));
    count(d, QP_SIM_FAULT_BITFLIP);
    if (offset + pos < d->dur.size) d->flips_durable++;
  }
  return 0;
}

/* Where a misdirected write of len bytes meant for `offset` lands: a few
 * sectors away, inside the device; returns false if nowhere fits. */
static bool misdirect_target(qp_sim_disk_t *d, uint64_t offset, uint64_t len, uint64_t *out) {
  uint64_t delta = SECTOR_SIZE * (1 + qp_splitmix64_below(&d->rng, MISDIRECT_SECTORS_MAX));
  bool back = qp_splitmix64_below(&d->rng, 2) == 0;
  if (back && offset < delta) back = false;
  uint64_t target = back ? offset - delta : offset + delta;
  if (target + len > d->capacity) {
    if (offset < delta) return false;
    target = offset - delta;
  }
  *out = target;
  return true;
}

/* Saves a copy of the write for a torn write at the next power loss. */
static int remember_write(qp_sim_disk_t *d, const void *buf, uint64_t len, uint64_t offset,
                          uint64_t landing) {
  if (len > d->last_cap) {
    uint8_t *p = qp_realloc(d->last_data, (size_t)len);
    if (p == NULL) return QP_ENOMEM;
    d->last_data = p;
    d->last_cap = len;
  }
  memcpy(d->last_data, buf, (size_t)len);
  d->last_valid = true;
  d->last_offset = offset;
  d->last_landing = landing;
  d->last_len = len;
  return 0;
}

/* Applies a write: the intended image gets it at `offset`; the real image
 * at `landing` (== offset unless misdirected), and its size grows to cover
 * `offset` too, as the file system believes it wrote there. */
static int apply_write(qp_sim_disk_t *d, const void *buf, uint64_t len, uint64_t offset,
                       uint64_t landing) {
  uint64_t end = offset + len > landing + len ? offset + len : landing + len;
  int rc = image_reserve(&d->vol, end, d->config.bytes_max);
  if (rc == 0) rc = image_reserve(&d->dur, end, d->config.bytes_max);
  if (rc == 0) rc = image_reserve(&d->vol_int, end, d->config.bytes_max);
  if (rc == 0) rc = image_reserve(&d->dur_int, end, d->config.bytes_max);
  if (rc == 0) rc = remember_write(d, buf, len, offset, landing);
  if (rc != 0) return rc;
  uint64_t lo = offset < landing ? offset : landing;
  mark_dirty(d, lo < d->vol.size ? lo : d->vol.size);
  mark_dirty(d, lo < d->vol_int.size ? lo : d->vol_int.size);
  image_extend(&d->vol, offset + len);
  image_write(&d->vol, landing, buf, len);
  image_write(&d->vol_int, offset, buf, len);
  return 0;
}

static int sim_write(void *ctx, const void *buf, size_t len, uint64_t offset) {
  qp_sim_disk_t *d = ctx;
  if (d->dead) return QP_EIO;
  if (crash_point(d)) {
    /* Half the time the process dies after the data reached the page cache. */
    if (qp_splitmix64_below(&d->rng, 2) && offset + len <= d->capacity) {
      int rc = apply_write(d, buf, len, offset, offset);
      if (rc != 0) return rc;
    }
    d->dead = true;
    return QP_EIO;
  }
  if (chance(d, d->config.write_eio_ppm)) {
    count(d, QP_SIM_FAULT_WRITE_EIO);
    return QP_EIO;
  }
  if (offset + len > d->reserved && offset + len > d->vol.size)
    d->unreserved_writes++; /* growing the file into space nobody reserved */
  if (offset + len > d->capacity) return QP_ENOSPC; /* the device is full: a fact, not a fault */
  if (chance(d, d->config.write_enospc_ppm)) {
    count(d, QP_SIM_FAULT_WRITE_ENOSPC);
    return QP_ENOSPC;
  }
  uint64_t landing = offset;
  if (len > 0 && chance(d, d->config.misdirect_ppm) && misdirect_target(d, offset, len, &landing)) {
    count(d, QP_SIM_FAULT_MISDIRECTED);
    d->misdirects_unsynced++;
  }
  return apply_write(d, buf, len, offset, landing);
}

static int sim_sync(void *ctx) {
  qp_sim_disk_t *d = ctx;
  if (d->dead) return QP_EIO;
  if (crash_point(d)) {
    /* Half the time the sync completed and only its return was lost. */
    if (qp_splitmix64_below(&d->rng, 2)) persist(d);
    d->dead = true;
    return QP_EIO;
  }
  if (chance(d, d->config.sync_eio_ppm)) {
    count(d, QP_SIM_FAULT_SYNC_EIO);
    return QP_EIO; /* nothing was made durable; the data stays dirty */
  }
  persist(d);
  return 0;
}

static int sim_truncate(void *ctx, uint64_t size) {
  qp_sim_disk_t *d = ctx;
  if (d->dead) return QP_EIO;
  if (crash_point(d)) {
    d->dead = true;
    return QP_EIO;
  }
  int rc = image_reserve(&d->vol, size, d->config.bytes_max);
  if (rc == 0) rc = image_reserve(&d->dur, size, d->config.bytes_max);
  if (rc == 0) rc = image_reserve(&d->vol_int, size, d->config.bytes_max);
  if (rc == 0) rc = image_reserve(&d->dur_int, size, d->config.bytes_max);
  if (rc != 0) return rc;
  mark_dirty(d, size < d->vol.size ? size : d->vol.size);
  mark_dirty(d, size < d->vol_int.size ? size : d->vol_int.size);
  if (size < d->vol.size) d->vol.size = size;
  else image_extend(&d->vol, size);
  if (size < d->vol_int.size) d->vol_int.size = size;
  else image_extend(&d->vol_int, size);
  d->last_valid = false; /* a later op: a power loss cannot tear the write before it */
  return 0;
}

static int sim_size(void *ctx, uint64_t *out) {
  qp_sim_disk_t *d = ctx;
  if (d->dead) return QP_EIO;
  if (crash_point(d)) {
    d->dead = true;
    return QP_EIO;
  }
  *out = d->vol.size;
  return 0;
}

static int sim_reserve(void *ctx, uint64_t size) {
  qp_sim_disk_t *d = ctx;
  if (d->dead) return QP_EIO;
  if (crash_point(d)) {
    d->dead = true;
    return QP_EIO;
  }
  if (chance(d, d->config.reserve_enospc_ppm)) {
    count(d, QP_SIM_FAULT_RESERVE_ENOSPC);
    return QP_ENOSPC;
  }
  if (size > d->capacity) return QP_ENOSPC; /* the device is full: not a fault, a fact */
  if (size > d->reserved) d->reserved = size;
  return 0;
}

static void sim_close(void *ctx) {
  qp_sim_disk_t *d = ctx;
  d->open = false;
}

int qp_sim_disk_open(void *ctx, qp_io_t *io) {
  qp_sim_disk_t *d = ctx;
  if (d->open) return QP_EINVAL;
  if (d->dead) return QP_EIO;
  if (crash_point(d)) {
    d->dead = true;
    return QP_EIO;
  }
  d->open = true;
  *io = (qp_io_t){.ctx = d,
                  .read_at = sim_read,
                  .write_at = sim_write,
                  .sync = sim_sync,
                  .truncate = sim_truncate,
                  .size = sim_size,
                  .reserve = sim_reserve,
                  .close = sim_close};
  return 0;
}

/* ------------------------------------------------------------ restarts */

/* At a power loss: how much of the last unsynced write made it. */
static void tear_last_write(qp_sim_disk_t *d) {
  uint64_t len = d->last_len, keep;
  /* Disks persist whole sectors; only where the file ends at the tear (the
   * size was updated with the data) can the cut fall at any byte.  With the
   * size updated ahead of the data, the cut is at a sector boundary (of the
   * file: the journal's records start at 0 and are multiples of 128 bytes,
   * so a sector never splits a record header). */
  bool zeros = qp_splitmix64_below(&d->rng, 4) == 0; /* size updated, data not */
  if (!zeros && qp_splitmix64_below(&d->rng, 2)) {
    keep = qp_splitmix64_below(&d->rng, len + 1);
  } else {
    uint64_t first = (SECTOR_SIZE - d->last_offset % SECTOR_SIZE) % SECTOR_SIZE;
    keep = first + SECTOR_SIZE * qp_splitmix64_below(&d->rng, len / SECTOR_SIZE + 2);
  }
  if (keep > len) keep = len;
  if (keep == len && !zeros) return;               /* the whole write made it */
  count(d, QP_SIM_FAULT_TORN);
  mark_dirty(d, d->last_offset < d->last_landing ? d->last_offset : d->last_landing);
  mark_dirty(d, d->vol.size);
  if (zeros) {
    image_extend(&d->vol, d->last_offset + len);
    image_extend(&d->vol_int, d->last_offset + len);
  }
  image_write(&d->vol, d->last_landing, d->last_data, keep);
  image_write(&d->vol_int, d->last_offset, d->last_data, keep);
}

void qp_sim_disk_restart(qp_sim_disk_t *d, bool power_loss) {
  QP_ASSERT(!d->open);
  d->dead = false;
  if (!power_loss) return;
  count(d, QP_SIM_FAULT_POWER_LOSS);
  bool tear = d->last_valid && chance(d, d->config.torn_ppm);
  /* Throw the page cache away... */
  if (d->dirty_lo != CLEAN) {
    image_copy_from(&d->vol, &d->dur, d->dirty_lo);
    image_copy_from(&d->vol_int, &d->dur_int, d->dirty_lo);
  }
  d->dirty_lo = CLEAN;
  d->misdirects_unsynced = 0;
  /* ...except what a torn write left on the platters, which is now durable. */
  if (tear) {
    uint64_t misdirected_before = d->last_landing != d->last_offset;
    tear_last_write(d);
    d->misdirects_unsynced = misdirected_before;
    persist(d);
  }
  d->last_valid = false;
}

/* -------------------------------------------------------------- queries */

const uint8_t *qp_sim_disk_volatile(const qp_sim_disk_t *d, uint64_t *size_out) {
  *size_out = d->vol.size;
  return d->vol.bytes;
}

const uint8_t *qp_sim_disk_durable(const qp_sim_disk_t *d, uint64_t *size_out) {
  *size_out = d->dur.size;
  return d->dur.bytes;
}

static int durable_read(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  const qp_sim_disk_t *d = ctx;
  uint64_t n = offset < d->dur.size ? d->dur.size - offset : 0;
  if (n > len) n = len;
  if (n > 0) memcpy(buf, d->dur.bytes + offset, (size_t)n);
  *got = (size_t)n;
  return 0;
}

static int durable_size(void *ctx, uint64_t *out) {
  *out = ((const qp_sim_disk_t *)ctx)->dur.size;
  return 0;
}

static int refuse_write(void *ctx, const void *buf, size_t len, uint64_t offset) {
  (void)ctx;
  (void)buf;
  (void)len;
  (void)offset;
  return QP_EINVAL;
}
static int refuse_sync(void *ctx) {
  (void)ctx;
  return QP_EINVAL;
}
static int refuse_truncate(void *ctx, uint64_t size) {
  (void)ctx;
  (void)size;
  return QP_EINVAL;
}
static void no_close(void *ctx) { (void)ctx; }

void qp_sim_disk_durable_io(qp_sim_disk_t *d, qp_io_t *io) {
  *io = (qp_io_t){.ctx = d,
                  .read_at = durable_read,
                  .write_at = refuse_write,
                  .sync = refuse_sync,
                  .truncate = refuse_truncate,
                  .size = durable_size,
                  .reserve = NULL,
                  .close = no_close};
}

bool qp_sim_disk_damaged(const qp_sim_disk_t *d) {
  if (d->vol.size != d->vol_int.size) return true;
  return d->vol.size > 0 && memcmp(d->vol.bytes, d->vol_int.bytes, (size_t)d->vol.size) != 0;
}

bool qp_sim_disk_intact_below(const qp_sim_disk_t *d, uint64_t limit) {
  uint64_t a = d->vol.size < limit ? d->vol.size : limit;
  uint64_t b = d->vol_int.size < limit ? d->vol_int.size : limit;
  if (a != b) return false;
  return a == 0 || memcmp(d->vol.bytes, d->vol_int.bytes, (size_t)a) == 0;
}

uint64_t qp_sim_disk_faults(const qp_sim_disk_t *d, qp_sim_fault_t kind) {
  return (unsigned)kind < QP_SIM_FAULT_COUNT ? d->faults[kind] : 0;
}
uint64_t qp_sim_disk_flips_in_durable(const qp_sim_disk_t *d) { return d->flips_durable; }
uint64_t qp_sim_disk_misdirects_durable(const qp_sim_disk_t *d) { return d->misdirects_durable; }
uint64_t qp_sim_disk_unreserved_writes(const qp_sim_disk_t *d) { return d->unreserved_writes; }
void qp_sim_disk_grow(qp_sim_disk_t *d, uint64_t bytes) {
  d->capacity += bytes;
  if (d->capacity > d->config.bytes_max) d->capacity = d->config.bytes_max;
}
uint64_t qp_sim_disk_capacity(const qp_sim_disk_t *d) { return d->capacity; }
