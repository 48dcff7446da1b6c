/*
 * file.c - the POSIX implementation of qp_io_t, directory helpers, atomic
 * whole-file replacement and the data directory lock.  Failures are mapped
 * to QP_E* codes here, once.
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

/* ------------------------------------------------- atomic file replace */

enum { REPLACE_PATH_MAX = 4096 };

struct qp_file_replace {
  char path[REPLACE_PATH_MAX];     /* the file replaced */
  char tmp[REPLACE_PATH_MAX + 8];  /* path.tmp */
  qp_io_t io;                      /* the temp file */
  uint64_t appended;               /* end of qp_file_replace_write's data */
  int error;                       /* first failed qp_file_replace_write */
};

static void replace_detail(char *detail, size_t detail_size, const char *what, const char *path,
                           int rc) {
  if (detail != NULL && detail_size > 0)
    snprintf(detail, detail_size, "cannot %s %s: %s", what, path, qp_strerror(rc));
}

/* The directory holding path ("." for a bare name). */
static void dir_of(const char *path, char *dir, size_t size) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) snprintf(dir, size, ".");
  else if (slash == path) snprintf(dir, size, "/");
  else snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

int qp_file_replace_begin(const char *path, unsigned mode, qp_file_replace_t **out, char *detail,
                          size_t detail_size) {
  *out = NULL;
  if (strlen(path) >= REPLACE_PATH_MAX) return QP_EINVAL;
  qp_file_replace_t *r = qp_calloc(1, sizeof *r);
  if (r == NULL) return QP_ENOMEM;
  snprintf(r->path, sizeof r->path, "%s", path);
  snprintf(r->tmp, sizeof r->tmp, "%s.tmp", path);
  /* O_TRUNC: a temp file a crashed replace left behind may hold anything. */
  int fd = open(r->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
  int rc = fd < 0 ? map_errno(errno) : 0;
  if (rc == 0 && fchmod(fd, (mode_t)mode) != 0) rc = map_errno(errno); /* umask, or an old file */
  posix_file_t *f = rc == 0 ? qp_malloc(sizeof *f) : NULL;
  if (rc == 0 && f == NULL) rc = QP_ENOMEM;
  if (rc != 0) {
    replace_detail(detail, detail_size, "create", r->tmp, rc);
    if (fd >= 0) {
      close(fd);
      (void)unlink(r->tmp);
    }
    qp_free(r);
    return rc;
  }
  f->fd = fd;
  r->io = (qp_io_t){.ctx = f, .read_at = px_read_at, .write_at = px_write_at, .sync = px_sync,
                    .truncate = px_truncate, .size = px_size, .reserve = px_reserve,
                    .close = px_close};
  *out = r;
  return 0;
}

int qp_file_replace_write(qp_file_replace_t *r, const void *data, size_t len) {
  if (r->error != 0) return r->error;
  int rc = len > 0 ? r->io.write_at(r->io.ctx, data, len, r->appended) : 0;
  if (rc != 0) r->error = rc;
  else r->appended += len;
  return rc;
}

const qp_io_t *qp_file_replace_io(qp_file_replace_t *r) { return &r->io; }

void qp_file_replace_abort(qp_file_replace_t *r) {
  if (r == NULL) return;
  r->io.close(r->io.ctx);
  (void)unlink(r->tmp);
  qp_free(r);
}

int qp_file_replace_commit(qp_file_replace_t *r, char *detail, size_t detail_size) {
  int rc = r->error;
  posix_file_t *f = r->io.ctx;
  if (rc == 0 && fsync(f->fd) != 0) rc = map_errno(errno);
  if (rc != 0) {
    replace_detail(detail, detail_size, "write", r->tmp, rc);
    qp_file_replace_abort(r);
    return rc;
  }
  r->io.close(r->io.ctx);
  if (rename(r->tmp, r->path) != 0) {
    rc = map_errno(errno);
    replace_detail(detail, detail_size, "rename the new file over", r->path, rc);
    (void)unlink(r->tmp);
    qp_free(r);
    return rc;
  }
  char dir[REPLACE_PATH_MAX];
  dir_of(r->path, dir, sizeof dir);
  rc = qp_fsync_dir(dir);
  if (rc != 0) replace_detail(detail, detail_size, "fsync the directory of", r->path, rc);
  qp_free(r);
  return rc;
}

int qp_file_replace(const char *path, const void *data, size_t len, unsigned mode, char *detail,
                    size_t detail_size) {
  qp_file_replace_t *r;
  int rc = qp_file_replace_begin(path, mode, &r, detail, detail_size);
  if (rc != 0) return rc;
  rc = qp_file_replace_write(r, data, len);
  if (rc != 0) {
    replace_detail(detail, detail_size, "write", r->tmp, rc);
    qp_file_replace_abort(r);
    return rc;
  }
  return qp_file_replace_commit(r, detail, detail_size);
}

/* Reads exactly size bytes of fd into buf (retrying short reads). */
static bool read_exactly(int fd, char *buf, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += (size_t)r;
  }
  return true;
}

int qp_file_read(const char *path, size_t bytes_max, char **out, size_t *len_out,
                 unsigned *mode_out, char *detail, size_t detail_size) {
  *out = NULL;
  *len_out = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", path, strerror(e));
    return e == ENOENT ? QP_ENOTFOUND : QP_EIO;
  }
  struct stat st;
  int rc = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ? QP_EIO
           : (uint64_t)st.st_size > bytes_max          ? QP_ELIMIT
                                                       : 0;
  char *buf = rc == 0 ? qp_malloc((size_t)st.st_size + 1) : NULL;
  if (rc == 0 && buf == NULL) rc = QP_ENOMEM;
  if (rc == 0 && !read_exactly(fd, buf, (size_t)st.st_size)) rc = QP_EIO;
  close(fd);
  if (rc != 0) {
    qp_free(buf);
    if (detail)
      snprintf(detail, detail_size, "%s: %s", path,
               rc == QP_ELIMIT ? "it is larger than allowed" : "cannot read it as a regular file");
    return rc;
  }
  buf[st.st_size] = '\0';
  *out = buf;
  *len_out = (size_t)st.st_size;
  if (mode_out != NULL) *mode_out = (unsigned)(st.st_mode & 07777);
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

/* The pid a lock holder wrote into the lock file, or "unknown". */
static void read_holder_pid(int fd, char *pid, size_t size) {
  snprintf(pid, size, "unknown");
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return;
  buf[n] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  if (buf[0] != '\0') snprintf(pid, size, "%s", buf);
}

/* Writes our pid into the lock file we hold, for the next one refused. */
static void write_own_pid(int fd) {
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) == 0 && n > 0) {
    ssize_t w = pwrite(fd, pid, (size_t)n, 0);
    (void)w;
  }
}

/* dir's lock file path into path; QP_EINVAL when it does not fit. */
static int lock_path(const char *dir, char *path, size_t size) {
  int n = snprintf(path, size, "%s/quipu.lock", dir);
  return n < 0 || (size_t)n >= size ? QP_EINVAL : 0;
}

/* Takes the exclusive lock on fd without waiting.  On failure closes fd,
 * puts the holder's pid into pid and returns false. */
static bool take_lock(int fd, char *pid, size_t pid_size) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
  read_holder_pid(fd, pid, pid_size);
  close(fd);
  return false;
}

int qp_lock_acquire(const char *dir, int *fd_out, char *detail, size_t detail_size) {
  char path[4096], pid[32];
  if (lock_path(dir, path, sizeof path) != 0) return QP_EINVAL;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", path, strerror(errno));
    return map_errno(errno);
  }
  if (!take_lock(fd, pid, sizeof pid)) {
    if (detail)
      snprintf(detail, detail_size,
               "data directory %s is in use by another quipu process (pid %s); "
               "stop it or use another --data directory",
               dir, pid);
    return QP_ELOCKED;
  }
  write_own_pid(fd);
  *fd_out = fd;
  return 0;
}

int qp_lock_try(const char *dir, int *fd_out, char *detail, size_t detail_size) {
  *fd_out = -1;
  char path[4096], pid[32];
  if (lock_path(dir, path, sizeof path) != 0) return QP_EINVAL;
  bool writable = true;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM || errno == ENOENT)) {
    writable = false; /* a read-only copy, or no such directory */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0; /* no lock file, and none can be made */
  }
  if (fd < 0) {
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", path, strerror(errno));
    return map_errno(errno);
  }
  if (!take_lock(fd, pid, sizeof pid)) {
    if (detail) snprintf(detail, detail_size, "a quipu process (pid %s) holds %s", pid, dir);
    return QP_ELOCKED;
  }
  if (writable) write_own_pid(fd);
  *fd_out = fd;
  return 0;
}

void qp_lock_release(int fd) {
  if (fd >= 0) {
    flock(fd, LOCK_UN);
    close(fd);
  }
}
