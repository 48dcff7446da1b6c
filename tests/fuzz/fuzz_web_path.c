/*
 * fuzz_web_path.c - libFuzzer target for the web module's file lookup
 * (src/web/files.c), which turns two or three segments of a request path
 * into a file to read.  The input is "app\nfile" or "app\ndir\nfile" (bytes
 * after a third newline are ignored).  A root is made once:
 * root/app/index.html, root/app/app.js, root/app/icons/a.png, a symlink
 * root/app/up -> root, and outside the app directory root/secret.txt.
 * Properties: no crash; a file is read only when every name passes
 * qp_web_name_ok() and the last carries a served extension, and what is
 * read is one of the app's files, never the secret.
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
  const char *rels[] = {"app/index.html", "app/app.js", "app/icons/a.png", "app/icons",
                        "app/up", "secret.txt", "app", ""};
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
  snprintf(path, sizeof path, "%s/app/icons", root);
  QP_ASSERT(mkdir(path, 0700) == 0);
  put("app/icons/a.png", "ICON");
  char up[400];
  snprintf(up, sizeof up, "%s/app/up", root);
  QP_ASSERT(symlink(root, up) == 0);
  atexit(remove_root);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 3 * QP_WEB_NAME_MAX + 8) return 0;
  char text[3 * QP_WEB_NAME_MAX + 9];
  memcpy(text, data, size);
  text[size] = '\0';
  const char *names[QP_WEB_NAMES_MAX] = {text};
  size_t count = 1;
  for (char *p = text; count <= QP_WEB_NAMES_MAX && (p = strchr(p, '\n')) != NULL;) {
    *p++ = '\0';
    if (count < QP_WEB_NAMES_MAX) names[count] = p;
    count++;
  }
  if (count < 2) return 0;
  if (count > QP_WEB_NAMES_MAX) count = QP_WEB_NAMES_MAX;
  qp_web_file_t f;
  char detail[256];
  int rc = qp_web_read(root, names, count, &f, detail, sizeof detail);
  QP_ASSERT(rc == 0 || rc == QP_ENOTFOUND || rc == QP_ELIMIT);
  if (rc != 0) {
    QP_ASSERT(f.body == NULL);
    return 0;
  }
  for (size_t i = 0; i < count; i++)
    QP_ASSERT(qp_web_name_ok(names[i]) && strchr(names[i], '/') == NULL);
  QP_ASSERT(f.type != NULL && strcmp(names[0], "app") == 0);
  QP_ASSERT(strcmp(f.body, "INDEX") == 0 || strcmp(f.body, "SCRIPT") == 0 ||
            strcmp(f.body, "ICON") == 0);
  qp_free(f.body);
  return 0;
}
