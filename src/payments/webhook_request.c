/*
 * webhook_request.c - the body of POST /v1/webhooks, decoded strictly:
 * {"url": "https://…", "events": ["order.paid", …]}.  The URL is parsed by
 * libcurl's URL API (no home-made parser): scheme https, a host, no user
 * or password, at most QP_PAY_WEBHOOK_URL_MAX bytes; http only to
 * 127.0.0.1 or localhost and only when the module's setting
 * webhooks_allow_loopback_http is true.  The URL kept is libcurl's
 * normalized form of it (scheme and host lower case).  A host that is an
 * IP literal or a localhost name must be an address the settings allow
 * (webhook_target.c; names are checked again at each delivery).  events:
 * 1..16 distinct names of qp__pay_webhook_events, or ["*"] for every type.  Pure: bytes in, a
 * request or an error naming the member out (tests/fuzz/fuzz_webhook_request.c).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

const char *const qp__pay_webhook_events[QP__PAY_WEBHOOK_EVENTS] = {
    "order.created", "order.canceled", "order.paid", "refund.succeeded", "merchant.created",
    "merchant_key.created", "payment_intent.succeeded", "payment_intent.canceled"};

#define EVENTS_ALLOWED "order.created, order.canceled, order.paid, refund.succeeded, " \
                       "merchant.created, merchant_key.created, payment_intent.succeeded, " \
                       "payment_intent.canceled, or \"*\" alone"

static int fail(qp_http_error_t *err, const char *code, const char *path, const char *what) {
  qp_http_error_set(err, 400, code, path, "%s", what);
  return QP_EINVAL;
}

static bool loopback(const char *host) {
  return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0;
}

/* Checks the URL with libcurl's parser; out gets its normalized form (what
 * deliveries will use). */
static int check_url(const char *url, uint32_t allow, char *out, qp_http_error_t *err) {
  bool allow_loopback_http = (allow & QP__PAY_ALLOW_LOOPBACK) != 0;
  char why[200];
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL, *full = NULL;
  int rc = u != NULL ? 0 : QP_ENOMEM;
  if (rc == 0 && (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
                  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
                  curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK))
    rc = fail(err, "invalid_value", "url", "url must be an absolute https:// URL with a host");
  if (rc == 0 && (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                  curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK))
    rc = fail(err, "invalid_value", "url", "url must not carry a user or password");
  if (rc == 0 && strcmp(scheme, "https") != 0) {
    bool http_ok = strcmp(scheme, "http") == 0 && allow_loopback_http && loopback(host);
    if (!http_ok)
      rc = fail(err, "invalid_value", "url", allow_loopback_http
                ? "url must be https (http only to 127.0.0.1 or localhost)"
                : "url must be https (http to loopback needs the setting "
                  "webhooks_allow_loopback_http)");
  }
  if (rc == 0 && qp__pay_webhook_host_check(host, allow, why, sizeof why) != 0)
    rc = fail(err, "invalid_value", "url", why);
  if (rc == 0 && (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
                  strlen(full) > QP_PAY_WEBHOOK_URL_MAX))
    rc = fail(err, "invalid_value", "url", "url must be a string of 1 to 2048 bytes");
  if (rc == 0) memcpy(out, full, strlen(full) + 1);
  curl_free(full);
  curl_free(scheme);
  curl_free(host);
  curl_free(user);
  curl_free(password);
  curl_url_cleanup(u);
  return rc;
}

static int known_event(const char *name) {
  for (int i = 0; i < (int)QP__PAY_WEBHOOK_EVENTS; i++)
    if (strcmp(name, qp__pay_webhook_events[i]) == 0) return i;
  return -1;
}

static int decode_events(const json_t *v, qp__pay_webhook_req_t *out, qp_http_error_t *err) {
  if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16)
    return fail(err, "invalid_value", "events", "events must be an array of 1 to 16 event "
                "types: " EVENTS_ALLOWED);
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    char path[32];
    snprintf(path, sizeof path, "events[%zu]", i);
    const char *name = json_string_value(e);
    int k = name != NULL ? known_event(name) : -1;
    if (name != NULL && strcmp(name, "*") == 0 && json_array_size(v) == 1) {
      out->all = true;
      return 0;
    }
    if (k < 0)
      return fail(err, "invalid_value", path, "unknown event type; allowed: " EVENTS_ALLOWED);
    if (out->wanted[k]) return fail(err, "invalid_value", path, "event type given twice");
    out->wanted[k] = true;
  }
  return 0;
}

int qp__pay_webhook_decode(const char *body, size_t len, uint32_t allow,
                           qp__pay_webhook_req_t *out, qp_http_error_t *err) {
  memset(out, 0, sizeof *out);
  static const char *const allowed[] = {"url", "events", NULL};
  json_t *obj = NULL;
  int rc = qp_http_body_decode(body, len, allowed, 0, &obj, err);
  if (rc != 0) return rc;
  const json_t *url = json_object_get(obj, "url");
  if (rc == 0 && url == NULL) rc = fail(err, "missing_field", "url", "url is required");
  else if (rc == 0 && (!json_is_string(url) || json_string_length(url) == 0 ||
                       json_string_length(url) > QP_PAY_WEBHOOK_URL_MAX ||
                       strlen(json_string_value(url)) != json_string_length(url)))
    rc = fail(err, "invalid_value", "url", "url must be a string of 1 to 2048 bytes");
  if (rc == 0) rc = check_url(json_string_value(url), allow, out->url, err);
  if (rc == 0 && json_object_get(obj, "events") == NULL)
    rc = fail(err, "missing_field", "events", "events is required");
  if (rc == 0) rc = decode_events(json_object_get(obj, "events"), out, err);
  json_decref(obj);
  return rc;
}
