/*
 * web.h - the node's static web pages (docs/web.md): files of a fixed
 * directory served read-only by the `web` module: the apps at their own
 * roots (GET /wallet/, /shop/, /console/ and their files, one nested
 * directory deep), GET /web/{app}/{file} as before, and the JS client at
 * GET /clients/js/{file} from a second directory.
 *
 * Safety by construction rather than by path cleaning: every name (app,
 * directory, file) is a single path segment of [A-Za-z0-9._-] that does
 * not start with a dot, so no name can climb out of the root ("..", "/",
 * "%2e" never get through); the file must have an extension of the table
 * in files.c (which also gives its Content-Type and whether it is text),
 * must be a regular file (symlinks are not followed, neither for the file
 * nor for the directories on the way), text files at most
 * QP_WEB_FILE_BYTES_MAX bytes with no NUL byte, binary ones (images,
 * fonts) at most QP_WEB_BINARY_BYTES_MAX.
 */
#ifndef QP_WEB_WEB_H
#define QP_WEB_WEB_H

#include <stddef.h>

#define QP_WEB_FILE_BYTES_MAX (1024u * 1024u)       /* largest text file served */
#define QP_WEB_BINARY_BYTES_MAX (4u * 1024u * 1024u) /* largest binary file served */
#define QP_WEB_NAME_MAX 64u                         /* bytes of an app, directory or file name */
#define QP_WEB_ROOT_MAX 512u                        /* bytes of the root directory's path */
#define QP_WEB_NAMES_MAX 3u                         /* app / dir / file */
#define QP_WEB_ETAG_MAX 64u                         /* bytes of an ETag, quotes and NUL included */

/* The module's OpenAPI fragment (src/web/openapi.json; its C copy
 * src/web/openapi.c is made by scripts/gen-openapi.sh). */
extern const char qp_web_openapi_json[];

/* The Content-Type for a file name by its extension (static string), or
 * NULL when the extension is not served. */
const char *qp_web_content_type(const char *file);

/* Whether a served file name is binary (an image, an icon, a font): no
 * NUL check, the larger size limit. */
int qp_web_binary(const char *file);

/* Is name one path segment the web module may serve: 1 to QP_WEB_NAME_MAX
 * bytes of [A-Za-z0-9._-], not starting with a dot? */
int qp_web_name_ok(const char *name);

/* One file read for an answer. */
typedef struct qp_web_file {
  char *body;                 /* qp_malloc'ed, NUL-terminated (binary files too) */
  size_t len;                 /* bytes of body */
  const char *type;           /* static Content-Type */
  char etag[QP_WEB_ETAG_MAX]; /* "\"<size>-<mtime>-<inode>\"" in hex */
} qp_web_file_t;

/* Reads root/names[0]/…/names[count-1] (count 1 to QP_WEB_NAMES_MAX; the
 * last is the file) into *out (out->body qp_free()d by the caller).
 * Returns 0; QP_ENOTFOUND for a name that is not allowed, an extension not
 * served, a missing file, a symlink on the way or anything but a regular
 * file (the caller answers 404 for all of them: which one is nobody's
 * business); QP_ELIMIT for a file over its size limit or a text file
 * holding a NUL byte; QP_EIO, QP_ENOMEM.  detail says which and why, for
 * the log.  On failure out->body is NULL. */
int qp_web_read(const char *root, const char *const *names, size_t count, qp_web_file_t *out,
                char *detail, size_t detail_size);

/* The two-name form of qp_web_read for GET /web/{app}/{file}: body and
 * type only. */
int qp_web_file_read(const char *root, const char *app, const char *file, char **body_out,
                     const char **type_out, char *detail, size_t detail_size);

#endif
