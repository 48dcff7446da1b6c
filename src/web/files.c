/*
 * files.c - reading one file of the web root (web.h says what is allowed
 * and why that is enough to stay inside the root).  The path is walked
 * with openat: each directory on the way is opened with O_NOFOLLOW |
 * O_DIRECTORY and the file with O_NOFOLLOW, then checked with fstat on the
 * opened descriptor, so what is read is what was checked and no symbolic
 * link is ever followed below the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/err.h"
#include "web/web.h"

static const struct {
  const char *ext;
  const char *type;
  int binary;
} TYPES[] = {
    {".html", "text/html; charset=utf-8", 0},
    {".js", "text/javascript; charset=utf-8", 0},
    {".mjs", "text/javascript; charset=utf-8", 0},
    {".css", "text/css; charset=utf-8", 0},
    {".json", "application/json", 0},
    {".webmanifest", "application/manifest+json", 0},
    {".svg", "image/svg+xml", 0},
    {".txt", "text/plain; charset=utf-8", 0},
    {".png", "image/png", 1},
    {".ico", "image/x-icon", 1},
    {".webp", "image/webp", 1},
    {".woff2", "font/woff2", 1},
};

static int type_index(const char *file) {
  size_t n = strlen(file);
  for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
    size_t e = strlen(TYPES[i].ext);
    if (n > e && strcmp(file + n - e, TYPES[i].ext) == 0) return (int)i;
  }
  return -1;
}

const char *qp_web_content_type(const char *file) {
  int i = type_index(file);
  return i < 0 ? NULL : TYPES[i].type;
}

int qp_web_binary(const char *file) {
  int i = type_index(file);
  return i >= 0 && TYPES[i].binary;
}

int qp_web_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > QP_WEB_NAME_MAX || name[0] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    if (!ok) return 0;
  }
  return 1;
}

/* Reads the whole regular file behind fd (size bytes by fstat) into
 * out->body, NUL-terminated; a text file must hold no NUL byte. */
static int read_all(int fd, size_t size, int binary, qp_web_file_t *out, char *detail,
                    size_t detail_size) {
  char *body = qp_malloc(size + 1);
  if (body == NULL) return QP_ENOMEM;
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, body + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(detail, detail_size, "read: %s", r < 0 ? strerror(errno) : "file shrank");
      qp_free(body);
      return QP_EIO;
    }
    got += (size_t)r;
  }
  body[size] = '\0';
  if (!binary && memchr(body, '\0', size) != NULL) {
    snprintf(detail, detail_size, "the file holds a NUL byte: only text files are served");
    qp_free(body);
    return QP_ELIMIT;
  }
  out->body = body;
  out->len = size;
  return 0;
}

static int open_errno(const char *name, char *detail, size_t detail_size) {
  int e = errno;
  snprintf(detail, detail_size, "%s: %s", name, strerror(e));
  return e == ENOENT || e == ELOOP || e == ENOTDIR ? QP_ENOTFOUND : QP_EIO;
}

/* Opens names[0..count-1] below root without following a link; returns
 * the file's descriptor or a negative QP_E*. */
static int open_walk(const char *root, const char *const *names, size_t count, char *detail,
                     size_t detail_size) {
  int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return open_errno(root, detail, detail_size);
  for (size_t i = 0; i + 1 < count; i++) {
    int next = openat(dir, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = next < 0 ? open_errno(names[i], detail, detail_size) : 0;
    close(dir);
    if (rc != 0) return rc;
    dir = next;
  }
  int fd = openat(dir, names[count - 1], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  int rc = fd < 0 ? open_errno(names[count - 1], detail, detail_size) : fd;
  close(dir);
  return rc;
}

static int check_open(int fd, const char *file, struct stat *st, char *detail,
                      size_t detail_size) {
  size_t max = qp_web_binary(file) ? QP_WEB_BINARY_BYTES_MAX : QP_WEB_FILE_BYTES_MAX;
  if (fstat(fd, st) != 0) {
    snprintf(detail, detail_size, "%s: %s", file, strerror(errno));
    return QP_EIO;
  }
  if (!S_ISREG(st->st_mode)) {
    snprintf(detail, detail_size, "%s is not a regular file", file);
    return QP_ENOTFOUND;
  }
  if ((unsigned long long)st->st_size > max) {
    snprintf(detail, detail_size, "%s is over %zu bytes", file, max);
    return QP_ELIMIT;
  }
  return 0;
}

int qp_web_read(const char *root, const char *const *names, size_t count, qp_web_file_t *out,
                char *detail, size_t detail_size) {
  memset(out, 0, sizeof *out);
  if (count == 0 || count > QP_WEB_NAMES_MAX) return QP_ENOTFOUND;
  const char *file = names[count - 1];
  for (size_t i = 0; i < count; i++) {
    if (!qp_web_name_ok(names[i]) || qp_web_content_type(file) == NULL) {
      snprintf(detail, detail_size, "not a servable name (segments of [A-Za-z0-9._-], no "
               "leading dot, a served extension)");
      return QP_ENOTFOUND;
    }
  }
  int fd = open_walk(root, names, count, detail, detail_size);
  if (fd < 0) return fd;
  struct stat st;
  int rc = check_open(fd, file, &st, detail, detail_size);
  if (rc == 0) rc = read_all(fd, (size_t)st.st_size, qp_web_binary(file), out, detail,
                             detail_size);
  close(fd);
  if (rc != 0) return rc;
  out->type = qp_web_content_type(file);
  snprintf(out->etag, sizeof out->etag, "\"%llx-%llx.%lx-%llx\"",
           (unsigned long long)st.st_size, (unsigned long long)st.st_mtim.tv_sec,
           (unsigned long)st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
  return 0;
}

int qp_web_file_read(const char *root, const char *app, const char *file, char **body_out,
                     const char **type_out, char *detail, size_t detail_size) {
  const char *names[] = {app, file};
  qp_web_file_t f;
  int rc = qp_web_read(root, names, 2, &f, detail, detail_size);
  *body_out = f.body;
  if (rc == 0) *type_out = f.type;
  return rc;
}
