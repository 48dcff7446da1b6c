/*
 * files.c - reading one file of the web root for GET /web/{app}/{file}
 * (web.h says what is allowed and why that is enough to stay inside the
 * root).  The file is opened with O_NOFOLLOW and checked with fstat on the
 * opened descriptor, so what is read is what was checked.
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
} TYPES[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *qp_web_content_type(const char *file) {
  size_t n = strlen(file);
  for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
    size_t e = strlen(TYPES[i].ext);
    if (n > e && strcmp(file + n - e, TYPES[i].ext) == 0) return TYPES[i].type;
  }
  return NULL;
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

/* Reads the whole regular file behind fd (size bytes by fstat) into a new
 * NUL-terminated buffer. */
static int read_all(int fd, size_t size, char **body_out, char *detail, size_t detail_size) {
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
  if (memchr(body, '\0', size) != NULL) {
    snprintf(detail, detail_size, "the file holds a NUL byte: only text files are served");
    qp_free(body);
    return QP_ELIMIT;
  }
  *body_out = body;
  return 0;
}

static int open_checked(const char *path, size_t *size_out, char *detail, size_t detail_size) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    snprintf(detail, detail_size, "%s: %s", path, strerror(errno));
    return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? QP_ENOTFOUND : QP_EIO;
  }
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) {
    snprintf(detail, detail_size, "%s: %s", path, strerror(errno));
    rc = QP_EIO;
  } else if (!S_ISREG(st.st_mode)) {
    snprintf(detail, detail_size, "%s is not a regular file", path);
    rc = QP_ENOTFOUND;
  } else if ((unsigned long long)st.st_size > QP_WEB_FILE_BYTES_MAX) {
    snprintf(detail, detail_size, "%s is over %u bytes", path, QP_WEB_FILE_BYTES_MAX);
    rc = QP_ELIMIT;
  }
  if (rc != 0) {
    close(fd);
    return rc;
  }
  *size_out = (size_t)st.st_size;
  return fd;
}

int qp_web_file_read(const char *root, const char *app, const char *file, char **body_out,
                     const char **type_out, char *detail, size_t detail_size) {
  *body_out = NULL;
  const char *type = qp_web_content_type(file);
  if (!qp_web_name_ok(app) || !qp_web_name_ok(file) || type == NULL) {
    snprintf(detail, detail_size, "not a servable name (one segment of [A-Za-z0-9._-], "
             "no leading dot, extension .html .js .mjs .css .json .svg .txt)");
    return QP_ENOTFOUND;
  }
  char path[QP_WEB_ROOT_MAX + 2 * QP_WEB_NAME_MAX + 3];
  int n = snprintf(path, sizeof path, "%s/%s/%s", root, app, file);
  if (n < 0 || (size_t)n >= sizeof path) return QP_ENOTFOUND;
  size_t size = 0;
  int fd = open_checked(path, &size, detail, detail_size);
  if (fd < 0) return fd;
  int rc = read_all(fd, size, body_out, detail, detail_size);
  close(fd);
  if (rc == 0) *type_out = type;
  return rc;
}
