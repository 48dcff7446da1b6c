/*
 * web.h - the node's static web pages (docs/web.md): files of a fixed
 * directory served read-only by the `web` module at GET /web/{app}/{file}.
 * It is the seed of the web module of issue 17; today it serves the
 * passkey demo page of the auth module (web/auth-demo/).
 *
 * Safety by construction rather than by path cleaning: an app and a file
 * name are single path segments of [A-Za-z0-9._-] that do not start with a
 * dot, so no name can climb out of the root ("..", "/", "%2e" never get
 * through); the file must have an extension of the table below (which also
 * gives its Content-Type), must be a regular file (symlinks are not
 * followed) and at most QP_WEB_FILE_BYTES_MAX bytes of text (no NUL byte).
 */
#ifndef QP_WEB_WEB_H
#define QP_WEB_WEB_H

#include <stddef.h>

#define QP_WEB_FILE_BYTES_MAX (1024u * 1024u) /* largest file served */
#define QP_WEB_NAME_MAX 64u                   /* bytes of an app or a file name */
#define QP_WEB_ROOT_MAX 512u                  /* bytes of the root directory's path */

/* The module's OpenAPI fragment (src/web/openapi.json; its C copy
 * src/web/openapi.c is made by scripts/gen-openapi.sh). */
extern const char qp_web_openapi_json[];

/* The Content-Type for a file name by its extension (static string), or
 * NULL when the extension is not served. */
const char *qp_web_content_type(const char *file);

/* Is name one path segment the web module may serve: 1 to QP_WEB_NAME_MAX
 * bytes of [A-Za-z0-9._-], not starting with a dot? */
int qp_web_name_ok(const char *name);

/* Reads root/app/file into *body_out (qp_malloc'ed, NUL-terminated; the
 * caller qp_free()s it) and sets *type_out to its Content-Type.  Returns
 * 0; QP_ENOTFOUND for a name that is not allowed, an extension not served,
 * a missing file or anything but a regular file (the caller answers 404
 * for all of them: which one is nobody's business); QP_ELIMIT for a file
 * over QP_WEB_FILE_BYTES_MAX or holding a NUL byte; QP_EIO, QP_ENOMEM.
 * detail says which and why, for the log. */
int qp_web_file_read(const char *root, const char *app, const char *file, char **body_out,
                     const char **type_out, char *detail, size_t detail_size);

#endif
