/*
 * tls.c - HTTPS for the listener (docs/http.md, "TLS"): the certificate
 * and private key are read from PEM files when the server starts and
 * handed to libmicrohttpd, which serves TLS with GnuTLS, as text in memory.
 *
 * The key is the node's most sensitive file after the API key store, so it
 * lives in sodium_malloc'd memory (guard pages, never swapped) and only
 * while libmicrohttpd starts: MHD_OPTION_HTTPS_MEM_KEY stores our pointer
 * without copying, but 0.9.75 reads it only inside MHD_start_daemon (GnuTLS
 * parses it into its own credentials there), so the server wipes and frees
 * it right after.  The parsed key then lives in GnuTLS for the daemon's
 * life, which nothing here can avoid.  The pair is checked with GnuTLS
 * before libmicrohttpd sees it, so a refusal says which file and why
 * instead of a bare "cannot listen".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <sodium.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "http/http_int.h"

/* Reads path whole, NUL-terminated, into memory from alloc (at most
 * bytes_max bytes).  The caller frees with the matching free. */
static int read_pem(const char *what, const char *path, size_t bytes_max, bool secret,
                    char **out, size_t *len_out, char *detail, size_t detail_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(detail, detail_size, "TLS %s %s: cannot open it: %s", what, path, strerror(errno));
    return QP_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
      (uint64_t)st.st_size > bytes_max) {
    snprintf(detail, detail_size, "TLS %s %s: not a regular file of 1 to %zu bytes", what, path,
             bytes_max);
    close(fd);
    return QP_EINVAL;
  }
  if (secret && (st.st_mode & 077) != 0) {
    snprintf(detail, detail_size,
             "TLS %s %s: other users may read it (mode %03o); run `chmod 600 %s`", what, path,
             (unsigned)(st.st_mode & 0777), path);
    close(fd);
    return QP_EINVAL;
  }
  size_t size = (size_t)st.st_size;
  char *buf = secret ? sodium_malloc(size + 1) : qp_malloc(size + 1);
  size_t got = 0;
  while (buf != NULL && got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n <= 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (buf == NULL || got != size) {
    snprintf(detail, detail_size, "TLS %s %s: cannot read it", what, path);
    if (buf != NULL && secret) sodium_free(buf);
    else qp_free(buf);
    return buf == NULL ? QP_ENOMEM : QP_EIO;
  }
  buf[size] = '\0';
  *out = buf;
  *len_out = size;
  return 0;
}

/* Is text PEM of the wanted kind?  NULL when it is, else why not. */
static const char *pem_problem(const char *text, size_t len, bool key) {
  if (strlen(text) != len) return "it contains a NUL byte, so it is not PEM text";
  if (strstr(text, "-----END ") == NULL) return "no -----END line: it is not PEM";
  if (!key && strstr(text, "-----BEGIN CERTIFICATE-----") == NULL)
    return "no -----BEGIN CERTIFICATE----- line: it is not a PEM certificate";
  if (key && strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL)
    return "the key is encrypted with a passphrase; give it decrypted (mode 0600)";
  if (key && (strstr(text, "-----BEGIN ") == NULL || strstr(text, "PRIVATE KEY-----") == NULL))
    return "no -----BEGIN ... PRIVATE KEY----- line: it is not a PEM private key";
  return NULL;
}

/* Does GnuTLS take the pair (parsable, and the key matches the certificate)? */
static int check_pair(const qp__http_tls_t *t, const char *cert_path, const char *key_path,
                      char *detail, size_t detail_size) {
  gnutls_certificate_credentials_t cred;
  if (gnutls_certificate_allocate_credentials(&cred) < 0) return QP_ENOMEM;
  gnutls_datum_t cert = {(unsigned char *)t->cert_pem, (unsigned int)t->cert_len};
  gnutls_datum_t key = {(unsigned char *)t->key_pem, (unsigned int)t->key_len};
  int g = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
  gnutls_certificate_free_credentials(cred);
  if (g < 0) {
    snprintf(detail, detail_size, "TLS certificate %s with key %s: refused by GnuTLS: %s",
             cert_path, key_path, gnutls_strerror(g));
    return QP_EINVAL;
  }
  return 0;
}

int qp__http_tls_load(qp__http_tls_t *t, const char *cert_path, const char *key_path,
                      char *detail, size_t detail_size) {
  QP_ASSERT(t->cert_pem == NULL && t->key_pem == NULL);
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    snprintf(detail, detail_size, "this libmicrohttpd was built without TLS; cannot serve %s",
             cert_path);
    return QP_ENOTSUP;
  }
  int rc = read_pem("certificate", cert_path, QP__HTTP_TLS_CERT_BYTES_MAX, false, &t->cert_pem,
                    &t->cert_len, detail, detail_size);
  if (rc == 0)
    rc = read_pem("key", key_path, QP__HTTP_TLS_KEY_BYTES_MAX, true, &t->key_pem, &t->key_len,
                  detail, detail_size);
  const char *why = NULL, *path = NULL;
  if (rc == 0 && (why = pem_problem(t->cert_pem, t->cert_len, false)) != NULL) path = cert_path;
  if (rc == 0 && why == NULL && (why = pem_problem(t->key_pem, t->key_len, true)) != NULL)
    path = key_path;
  if (why != NULL) {
    snprintf(detail, detail_size, "TLS %s %s: %s", path == cert_path ? "certificate" : "key",
             path, why);
    rc = QP_EINVAL;
  }
  if (rc == 0) rc = check_pair(t, cert_path, key_path, detail, detail_size);
  if (rc != 0) qp__http_tls_deinit(t);
  return rc;
}

void qp__http_tls_deinit(qp__http_tls_t *t) {
  if (t->key_pem != NULL) sodium_free(t->key_pem); /* wipes it */
  qp_free(t->cert_pem);
  *t = (qp__http_tls_t){0};
}
