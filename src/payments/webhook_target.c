/*
 * webhook_target.c - where a webhook may be delivered (SSRF guard).  A
 * webhook URL is chosen by whoever holds a payments key, and the node POSTs
 * to it from inside the bank's network: without a guard it could be aimed
 * at the node's own admin ports, a database on the private network or a
 * cloud metadata service (169.254.169.254).  So every address the node
 * would connect to is classified (public, loopback, or private: RFC 1918,
 * link-local, CGNAT, ULA, multicast, reserved, and IPv4 inside IPv6) and
 * only public ones are allowed, loopback when webhooks_allow_loopback_http
 * is set, private ones when webhooks_allow_private_networks is.
 *
 * The check runs twice.  At registration a host that is an IP literal, or
 * localhost (RFC 6761), is checked at once (400 on url).  At delivery the
 * host is resolved, every address checked, and curl is pinned to those
 * addresses (CURLOPT_RESOLVE), so a name that resolves differently a
 * moment later (DNS rebinding) cannot slip through; curl's socket
 * callback (webhook_worker.c) checks the address once more right before
 * connecting.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/assert.h"
#include "base/err.h"
#include "payments/payments_int.h"

static qp__pay_addr_class_t class_v4(const uint8_t a[4]) {
  if (a[0] == 127) return QP__PAY_ADDR_LOOPBACK;
  bool private = a[0] == 0 || a[0] == 10 || a[0] >= 224 ||             /* this, 10/8, mc, 240/4 */
                 (a[0] == 100 && (a[1] & 0xc0) == 64) ||                /* 100.64/10 CGNAT */
                 (a[0] == 169 && a[1] == 254) ||                        /* link-local, metadata */
                 (a[0] == 172 && (a[1] & 0xf0) == 16) ||                /* 172.16/12 */
                 (a[0] == 192 && a[1] == 168) ||                        /* 192.168/16 */
                 (a[0] == 192 && a[1] == 0 && a[2] == 0) ||             /* 192.0.0/24 */
                 (a[0] == 198 && (a[1] & 0xfe) == 18);                  /* 198.18/15 bench */
  return private ? QP__PAY_ADDR_PRIVATE : QP__PAY_ADDR_PUBLIC;
}

qp__pay_addr_class_t qp__pay_addr_class(int family, const void *addr) {
  QP_ASSERT(addr != NULL);
  if (family == AF_INET) return class_v4(addr);
  QP_ASSERT(family == AF_INET6);
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t zero[16] = {0};
  const uint8_t *a = addr;
  if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) return class_v4(a + 12);
  if (a[0] == 0x20 && a[1] == 0x02) return class_v4(a + 2); /* 6to4 */
  if (memcmp(a, zero, 15) == 0) return a[15] == 1 ? QP__PAY_ADDR_LOOPBACK : QP__PAY_ADDR_PRIVATE;
  bool private = (a[0] & 0xfe) == 0xfc ||                /* fc00::/7 unique local */
                 (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* fe80::/10 link-local */
                 (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) || /* fec0::/10 site-local */
                 a[0] == 0xff ||                         /* multicast */
                 memcmp(a, zero, 12) == 0;               /* ::a.b.c.d, deprecated */
  return private ? QP__PAY_ADDR_PRIVATE : QP__PAY_ADDR_PUBLIC;
}

bool qp__pay_addr_allowed(qp__pay_addr_class_t c, uint32_t allow) {
  return c == QP__PAY_ADDR_PUBLIC ||
         (c == QP__PAY_ADDR_LOOPBACK && (allow & QP__PAY_ALLOW_LOOPBACK) != 0) ||
         (c == QP__PAY_ADDR_PRIVATE && (allow & QP__PAY_ALLOW_PRIVATE) != 0);
}

static const char *class_name(qp__pay_addr_class_t c) {
  return c == QP__PAY_ADDR_LOOPBACK ? "a loopback address (webhooks_allow_loopback_http)"
                                    : "a private, link-local or reserved address "
                                      "(webhooks_allow_private_networks)";
}

static bool localhost_name(const char *host) {
  size_t n = strlen(host);
  if (n > 0 && host[n - 1] == '.') n--; /* "localhost." */
  return (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
         (n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0);
}

int qp__pay_webhook_host_check(const char *host, uint32_t allow, char *why, size_t why_size) {
  char bare[256];
  uint8_t a[16];
  size_t n = strlen(host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof bare) {
    memcpy(bare, host + 1, n - 2); /* "[::1]": curl keeps the brackets */
    bare[n - 2] = 0;
  } else snprintf(bare, sizeof bare, "%s", host);
  qp__pay_addr_class_t c = QP__PAY_ADDR_PUBLIC;
  if (inet_pton(AF_INET, bare, a) == 1) c = qp__pay_addr_class(AF_INET, a);
  else if (inet_pton(AF_INET6, bare, a) == 1) c = qp__pay_addr_class(AF_INET6, a);
  else if (localhost_name(bare)) c = QP__PAY_ADDR_LOOPBACK;
  if (qp__pay_addr_allowed(c, allow)) return 0;
  snprintf(why, why_size, "%.80s is %s", bare, class_name(c));
  return QP_EINVAL;
}

/* Appends "addr" (IPv6 in brackets) to pin after a comma when not first. */
static int pin_add(char *pin, size_t pin_size, const struct addrinfo *ai, bool first) {
  char text[INET6_ADDRSTRLEN];
  const void *a = ai->ai_family == AF_INET
                      ? (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr
                      : (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
  if (inet_ntop(ai->ai_family, a, text, sizeof text) == NULL) return QP_EINVAL;
  size_t used = strlen(pin);
  int n = snprintf(pin + used, pin_size - used, ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
                   first ? "" : ",", text);
  return n < 0 || (size_t)n >= pin_size - used ? QP_ERANGE : 0;
}

int qp__pay_webhook_resolve(const char *host, long port, uint32_t allow, char *pin,
                            size_t pin_size, char *why, size_t why_size) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = snprintf(pin, pin_size, "%s:%ld:", host, port) < (int)pin_size ? 0 : QP_ERANGE;
  int gai = rc == 0 ? getaddrinfo(host, NULL, &hints, &res) : 0;
  if (gai != 0) {
    snprintf(why, why_size, "cannot resolve %.80s: %s", host, gai_strerror(gai));
    return QP_ENOTFOUND;
  }
  bool first = true;
  for (const struct addrinfo *ai = res; rc == 0 && ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    const void *a = ai->ai_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    qp__pay_addr_class_t c = qp__pay_addr_class(ai->ai_family, a);
    char text[INET6_ADDRSTRLEN] = "?";
    if (!qp__pay_addr_allowed(c, allow)) { /* one bad address refuses the name */
      inet_ntop(ai->ai_family, a, text, sizeof text);
      snprintf(why, why_size, "refused: %.80s resolves to %s, %s", host, text, class_name(c));
      rc = QP_EINVAL;
    } else rc = pin_add(pin, pin_size, ai, first);
    first = false;
  }
  freeaddrinfo(res);
  if (rc == 0 && first) {
    snprintf(why, why_size, "cannot resolve %.80s: no IPv4 or IPv6 address", host);
    rc = QP_ENOTFOUND;
  }
  return rc;
}

int qp__pay_webhook_pin(const char *url, uint32_t allow, struct curl_slist **out, char *why,
                        size_t why_size) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, pin[600];
  *out = NULL;
  int rc = u != NULL ? 0 : QP_ENOMEM;
  if (rc == 0 && (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
                  curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
                  curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)) {
    snprintf(why, why_size, "the stored url does not parse");
    rc = QP_EINVAL;
  }
  if (rc == 0) rc = qp__pay_webhook_host_check(host, allow, why, why_size);
  uint8_t v4[4];
  bool literal = rc == 0 && (host[0] == '[' || inet_pton(AF_INET, host, v4) == 1);
  if (rc == 0 && !literal) /* a literal needs no lookup: curl connects to it as checked */
    rc = qp__pay_webhook_resolve(host, strtol(port, NULL, 10), allow, pin, sizeof pin, why,
                                 why_size);
  if (rc == 0 && !literal && (*out = curl_slist_append(NULL, pin)) == NULL) rc = QP_ENOMEM;
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}
