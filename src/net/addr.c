/*
 * addr.c - peer addresses as text: "1.2.3.4:7100" or "[::1]:7100".
 *
 * Hosts are numeric on purpose: validator addresses come from operators'
 * configuration, and resolving names would put a DNS lookup (and its
 * failure modes) on the path of every redial.  The port is decimal,
 * 0..65535, with no sign, spaces or leading junk.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "base/assert.h"
#include "base/err.h"
#include "net/net_int.h"

static int fail(char *detail, size_t size, const char *text, const char *why) {
  if (detail != NULL && size > 0) snprintf(detail, size, "address \"%s\": %s", text, why);
  return QP_EINVAL;
}

/* Parses the decimal port at text (to its end). */
static int port_parse(const char *text, int *out) {
  size_t n = strlen(text);
  if (n == 0 || n > 5) return QP_EINVAL;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] < '0' || text[i] > '9') return QP_EINVAL;
    v = v * 10 + (text[i] - '0');
  }
  if (v > 65535) return QP_EINVAL;
  *out = v;
  return 0;
}

int qp__net_addr_parse(const char *text, struct sockaddr_storage *out, char *detail,
                       size_t detail_size) {
  QP_ASSERT(text != NULL && out != NULL);
  memset(out, 0, sizeof *out);
  size_t len = strnlen(text, QP_NET_ADDRESS_MAX + 1);
  if (len == 0 || len > QP_NET_ADDRESS_MAX)
    return fail(detail, detail_size, "", "empty or longer than 63 bytes");
  char host[QP_NET_ADDRESS_MAX + 1];
  const char *colon = strrchr(text, ':');
  bool v6 = text[0] == '[';
  if (colon == NULL) return fail(detail, detail_size, text, "expected host:port");
  const char *host_start = v6 ? text + 1 : text;
  const char *host_end = v6 ? colon - 1 : colon;
  if (v6 && (host_end < host_start || *host_end != ']'))
    return fail(detail, detail_size, text, "expected [v6 address]:port");
  size_t host_len = (size_t)(host_end - host_start);
  memcpy(host, host_start, host_len);
  host[host_len] = '\0';
  int port = 0;
  if (port_parse(colon + 1, &port) != 0)
    return fail(detail, detail_size, text, "the port must be a number 0..65535");
  int rc = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)out)
              : uv_ip4_addr(host, port, (struct sockaddr_in *)out);
  if (rc != 0) return fail(detail, detail_size, text, "the host must be a numeric IP address");
  return 0;
}

uint16_t qp__net_addr_port(const struct sockaddr *sa) {
  QP_ASSERT(sa != NULL);
  if (sa->sa_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  if (sa->sa_family == AF_INET) return ntohs(((const struct sockaddr_in *)sa)->sin_port);
  return 0;
}

void qp__net_addr_format(const struct sockaddr *sa, char *out, size_t size) {
  QP_ASSERT(sa != NULL && out != NULL && size > 0);
  char ip[48] = "?";
  if (uv_ip_name(sa, ip, sizeof ip) != 0) snprintf(ip, sizeof ip, "?");
  if (sa->sa_family == AF_INET6)
    snprintf(out, size, "[%s]:%u", ip, (unsigned)qp__net_addr_port(sa));
  else
    snprintf(out, size, "%s:%u", ip, (unsigned)qp__net_addr_port(sa));
}
