/*
 * chain_http.c - the node client shared by `quipu chain send`, `query` and
 * `up` (chain_http.h).  Requests go through one easy handle so that a
 * burst of submissions (send --count) reuses one keep-alive connection;
 * answers are capped at QP_CLI_CHAIN_RESPONSE_BYTES_MAX, as every buffer is.
 */
#include "cli/chain_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  return qp_buf_append(userdata, ptr, size * nmemb) ? size * nmemb : 0;
}

int qp_cli_chain_http_init(qp_cli_chain_http_t *h, const char *url) {
  memset(h, 0, sizeof *h);
  h->response.max = QP_CLI_CHAIN_RESPONSE_BYTES_MAX;
  size_t len = strlen(url);
  while (len > 0 && url[len - 1] == '/') len--;
  if (len >= sizeof h->base ||
      (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
    snprintf(h->error, sizeof h->error, "--node must be an http:// or https:// URL");
    return QP_EINVAL;
  }
  memcpy(h->base, url, len);
  h->base[len] = '\0';
  /* A node with modules.chain.require_api_key wants a key, given as
   * `quipu client` takes one: in $QUIPU_KEY. */
  const char *key = getenv("QUIPU_KEY");
  if (key != NULL && key[0] != '\0') {
    if (strlen(key) > 256 || strpbrk(key, "\r\n ") != NULL) {
      snprintf(h->error, sizeof h->error, "$QUIPU_KEY is not an API key (qpk_…)");
      return QP_EINVAL;
    }
    snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", key);
  }
  h->curl = curl_easy_init();
  return h->curl != NULL ? 0 : QP_ENOMEM;
}

void qp_cli_chain_http_deinit(qp_cli_chain_http_t *h) {
  if (h->curl != NULL) curl_easy_cleanup(h->curl);
  h->curl = NULL;
  qp_buf_free(&h->response);
}

int qp_cli_chain_http_request(qp_cli_chain_http_t *h, const char *method, const char *path,
                              const char *body, size_t body_len, long timeout_ms) {
  QP_ASSERT(h->curl != NULL && path[0] == '/');
  char url[QP_CLI_CHAIN_URL_MAX + 512], curl_error[CURL_ERROR_SIZE] = "";
  snprintf(url, sizeof url, "%s%s", h->base, path);
  qp_buf_reset(&h->response);
  h->status = 0;
  CURL *c = h->curl;
  curl_easy_reset(c);
  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
  if (body != NULL) headers = curl_slist_append(headers, "Content-Type: application/json");
  if (h->auth[0] != '\0') headers = curl_slist_append(headers, h->auth);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->response);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
  if (h->cacert != NULL) curl_easy_setopt(c, CURLOPT_CAINFO, h->cacert);
  if (body != NULL) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
  } else {
    snprintf(h->error, sizeof h->error, "%.8s %s: %s", method, url,
             curl_error[0] != '\0' ? curl_error : curl_easy_strerror(rc));
  }
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
  curl_slist_free_all(headers);
  return rc == CURLE_OK && h->status != 0 ? 0 : QP_EIO;
}

json_t *qp_cli_chain_http_json(const qp_cli_chain_http_t *h) {
  if (h->response.data == NULL || h->response.failed) return NULL;
  json_error_t jerr;
  return json_loadb(h->response.data, h->response.len, 0, &jerr);
}

/* The envelope's error.<field> string, or NULL. */
static const char *envelope_field(json_t *root, const char *field) {
  return json_string_value(json_object_get(json_object_get(root, "error"), field));
}

void qp_cli_chain_http_error_code(const qp_cli_chain_http_t *h, char *code, size_t code_size) {
  json_t *root = qp_cli_chain_http_json(h);
  const char *c = envelope_field(root, "code");
  snprintf(code, code_size, "%s", c != NULL ? c : "");
  json_decref(root);
}

void qp_cli_chain_http_print_error(const qp_cli_chain_http_t *h, const char *prog,
                                   const char *what) {
  if (h->status == 0) {
    fprintf(stderr, "%s: no answer from the node: %s\n", prog, h->error);
    return;
  }
  json_t *root = qp_cli_chain_http_json(h);
  const char *code = envelope_field(root, "code"), *message = envelope_field(root, "message");
  if (code != NULL) {
    fprintf(stderr, "%s: %s: HTTP %ld %s: %s\n", prog, what, h->status, code,
            message != NULL ? message : "");
  } else {
    const char *text = h->response.data != NULL ? h->response.data : "";
    fprintf(stderr, "%s: %s: HTTP %ld: %.300s\n", prog, what, h->status, text);
  }
  json_decref(root);
}
