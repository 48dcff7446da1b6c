/*
 * fuzz_web_path.c - libFuzzer target for the web module's file lookup
 * (src/web/files.c), which turns two segments of a request path into a
 * file to read.  The input is "app\nfile" (bytes after a second newline are
 * ignored).  A root is made once: root/app/index.html, root/app/app.js,
 * and outside the app directory root/secret.txt.  Properties: no crash; a
 * file is read only when both names pass qp_web_name_ok() and carry a
 * served extension, and what is read is one of the app's files, never the
 * secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "web/web.h"

static char root[256];

static void put(const char *rel, const char *text) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  FILE *f = fopen(path, "w");
  QP_ASSERT(f != NULL);
  fputs(text, f);
  fclose(f);
}

static void remove_root(void) {
  const char *rels[] = {"app/index.html", "app/app.js", "secret.txt", "app", ""};
  char path[400];
  for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", root, rels[i]);
    remove(path);
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(root, sizeof root, "/tmp/fuzz_web_path.XXXXXX");
  QP_ASSERT(mkdtemp(root) != NULL);
  char path[400];
  snprintf(path, sizeof path, "%s/app", root);
  QP_ASSERT(mkdir(path, 0700) == 0);
  put("app/index.html", "INDEX");
  put("app/app.js", "SCRIPT");
  put("secret.txt", "SECRET");
  atexit(remove_root);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 2 * QP_WEB_NAME_MAX + 8) return 0;
  char text[2 * QP_WEB_NAME_MAX + 9];
  memcpy(text, data, size);
  text[size] = '\0';
  char *file = strchr(text, '\n');
  if (file == NULL) return 0;
  *file++ = '\0';
  char *end = strchr(file, '\n');
  if (end != NULL) *end = '\0';
  char *body = NULL;
  const char *type = NULL;
  char detail[256];
  int rc = qp_web_file_read(root, text, file, &body, &type, detail, sizeof detail);
  QP_ASSERT(rc == 0 || rc == QP_ENOTFOUND || rc == QP_ELIMIT);
  if (rc != 0) {
    QP_ASSERT(body == NULL);
    return 0;
  }
  QP_ASSERT(qp_web_name_ok(text) && qp_web_name_ok(file) && type != NULL);
  QP_ASSERT(strchr(text, '/') == NULL && strchr(file, '/') == NULL);
  QP_ASSERT(strcmp(body, "INDEX") == 0 || strcmp(body, "SCRIPT") == 0);
  qp_free(body);
  return 0;
}
