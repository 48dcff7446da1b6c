/*
 * file.c - the POSIX implementation of qp_io_t, directory helpers and the
 * data directory lock.  Failures are mapped to QP_E* codes here, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/err.h"
#include "store/store.h"

typedef struct posix_file {
  int fd; /* open descriptor */
} posix_file_t;

static int map_errno(int e) {
  switch (e) {
  case ENOSPC:
  case EDQUOT: return QP_ENOSPC;
  case ENOENT: return QP_ENOTFOUND;
  case ENOMEM: return QP_ENOMEM;
  default: return QP_EIO;
  }
}

static int px_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  posix_file_t *f = ctx;
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return map_errno(errno);
    if (n == 0) break;
    done += (size_t)n;
  }
  *got = done;
  return 0;
}

static int px_write_at(void *ctx, const void *buf, size_t len, uint64_t offset) {
  posix_file_t *f = ctx;
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done, (off_t)(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return map_errno(errno);
    if (n == 0) return QP_EIO;
    done += (size_t)n;
  }
  return 0;
}

static int px_sync(void *ctx) {
  posix_file_t *f = ctx;
  return fdatasync(f->fd) == 0 ? 0 : map_errno(errno);
}

static int px_truncate(void *ctx, uint64_t size) {
  posix_file_t *f = ctx;
  return ftruncate(f->fd, (off_t)size) == 0 ? 0 : map_errno(errno);
}

static int px_size(void *ctx, uint64_t *out) {
  posix_file_t *f = ctx;
  struct stat st;
  if (fstat(f->fd, &st) != 0) return map_errno(errno);
  *out = (uint64_t)st.st_size;
  return 0;
}

static int px_reserve(void *ctx, uint64_t size) {
  posix_file_t *f = ctx;
  if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size) == 0) return 0;
  /* File systems without fallocate still work, just without the guarantee. */
  if (errno == EOPNOTSUPP || errno == ENOSYS) return 0;
  return map_errno(errno);
}

static void px_close(void *ctx) {
  posix_file_t *f = ctx;
  close(f->fd);
  qp_free(f);
}

int qp_io_open_file(const char *path, bool create, bool read_only, qp_io_t *io) {
  int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (create && !read_only ? O_CREAT : 0);
  int fd = open(path, flags, 0600);
  if (fd < 0) return map_errno(errno);
  posix_file_t *f = qp_malloc(sizeof *f);
  if (f == NULL) {
    close(fd);
    return QP_ENOMEM;
  }
  f->fd = fd;
  *io = (qp_io_t){.ctx = f,
                  .read_at = px_read_at,
                  .write_at = px_write_at,
                  .sync = px_sync,
                  .truncate = px_truncate,
                  .size = px_size,
                  .reserve = px_reserve,
                  .close = px_close};
  return 0;
}

int qp_fsync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return map_errno(errno);
  int rc = fsync(fd) == 0 ? 0 : map_errno(errno);
  close(fd);
  return rc;
}

int qp_mkdir_p(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf) return QP_EINVAL;
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return map_errno(errno);
    buf[i] = saved;
  }
  return 0;
}

int qp_lock_acquire(const char *dir, int *fd_out, char *detail, size_t detail_size) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/quipu.lock", dir) >= (int)sizeof path) return QP_EINVAL;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", path, strerror(errno));
    return map_errno(errno);
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = "unknown";
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    if (n > 0) {
      pid[n] = '\0';
      pid[strcspn(pid, "\n")] = '\0';
    }
    if (detail)
      snprintf(detail, detail_size,
               "data directory %s is in use by another quipu process (pid %s); "
               "stop it or use another --data directory",
               dir, pid);
    close(fd);
    return QP_ELOCKED;
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) == 0 && n > 0) {
    ssize_t w = pwrite(fd, pid, (size_t)n, 0);
    (void)w;
  }
  *fd_out = fd;
  return 0;
}

void qp_lock_release(int fd) {
  if (fd >= 0) {
    flock(fd, LOCK_UN);
    close(fd);
  }
}
