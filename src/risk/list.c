/*
 * list.c - the lists rules test with `x in LIST`: sets of strings (kept
 * sorted, binary search) and CIDR lists of IPv4/IPv6 prefixes (parsed by
 * inet_pton, host bits cleared, scanned in order).  Lists belong to their
 * name, not to a ruleset, so their contents survive a ruleset swap.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "risk/risk_int.h"

#define LIST_ITEMS_MAX (1u << 20)

typedef struct prefix {
  uint8_t family; /* 4 or 6 */
  uint8_t bits;   /* prefix length */
  uint8_t addr[16]; /* host bits zero */
} prefix_t;

struct qp__risk_list {
  char *name;               /* qp_malloc'ed */
  qp_risk_list_kind_t kind; /* set or cidr */
  qp_array_t items;         /* set: char * sorted by strcmp; cidr: prefix_t */
};

struct qp_risk_lists {
  qp_array_t lists; /* qp__risk_list_t * */
};

int qp_risk_lists_new(qp_risk_lists_t **out) {
  *out = qp_calloc(1, sizeof **out);
  if (*out == NULL) return QP_ENOMEM;
  qp_array_init(&(*out)->lists, sizeof(qp__risk_list_t *), QP_RISK_LISTS_MAX * 4);
  return 0;
}

void qp_risk_lists_free(qp_risk_lists_t *lists) {
  if (lists == NULL) return;
  for (size_t i = 0; i < lists->lists.count; i++) {
    qp__risk_list_t *l = *(qp__risk_list_t **)qp_array_at(&lists->lists, i);
    if (l->kind == QP_RISK_LIST_SET)
      for (size_t k = 0; k < l->items.count; k++) qp_free(*(char **)qp_array_at(&l->items, k));
    qp_array_deinit(&l->items);
    qp_free(l->name);
    qp_free(l);
  }
  qp_array_deinit(&lists->lists);
  qp_free(lists);
}

qp__risk_list_t *qp__risk_lists_find(const qp_risk_lists_t *lists, const char *name) {
  for (size_t i = 0; i < lists->lists.count; i++) {
    qp__risk_list_t *l = *(qp__risk_list_t **)qp_array_at(&lists->lists, i);
    if (strcmp(l->name, name) == 0) return l;
  }
  return NULL;
}

int qp_risk_lists_declare(qp_risk_lists_t *lists, const char *name, qp_risk_list_kind_t kind,
                          char *err, size_t err_size) {
  qp__risk_list_t *l = qp__risk_lists_find(lists, name);
  if (l != NULL) {
    if (l->kind == kind) return 0;
    snprintf(err, err_size, "list '%s' exists as a %s list", name,
             l->kind == QP_RISK_LIST_SET ? "set" : "cidr");
    return QP_EEXISTS;
  }
  l = qp_calloc(1, sizeof *l);
  char *copy = qp_malloc(strlen(name) + 1);
  qp__risk_list_t **slot = l != NULL && copy != NULL ? qp_array_push(&lists->lists) : NULL;
  if (slot == NULL) {
    qp_free(l);
    qp_free(copy);
    snprintf(err, err_size, "out of memory or too many lists");
    return QP_ENOMEM;
  }
  memcpy(copy, name, strlen(name) + 1);
  l->name = copy;
  l->kind = kind;
  qp_array_init(&l->items, kind == QP_RISK_LIST_SET ? sizeof(char *) : sizeof(prefix_t),
                LIST_ITEMS_MAX);
  *slot = l;
  return 0;
}

/* An address (bits = full length) or a prefix "addr/len". */
static bool parse_prefix(const char *item, prefix_t *p, bool allow_len) {
  char buf[64];
  size_t n = strlen(item);
  if (n == 0 || n >= sizeof buf) return false;
  memcpy(buf, item, n + 1);
  char *slash = strchr(buf, '/');
  if (slash != NULL && !allow_len) return false;
  if (slash != NULL) *slash = '\0';
  memset(p, 0, sizeof *p);
  if (inet_pton(AF_INET, buf, p->addr) == 1) p->family = 4, p->bits = 32;
  else if (inet_pton(AF_INET6, buf, p->addr) == 1) p->family = 6, p->bits = 128;
  else return false;
  if (slash == NULL) return true;
  const char *len = slash + 1;
  size_t ln = strlen(len);
  if (ln == 0 || ln > 3 || (ln > 1 && len[0] == '0') || strspn(len, "0123456789") != ln)
    return false;
  unsigned v = (unsigned)strtoul(len, NULL, 10);
  if (v > p->bits) return false;
  p->bits = (uint8_t)v;
  for (unsigned b = v; b < 128; b++) p->addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
  return true;
}

static bool prefix_has(const prefix_t *p, const prefix_t *a) {
  if (p->family != a->family) return false;
  unsigned whole = p->bits / 8u, rest = p->bits % 8u;
  if (memcmp(p->addr, a->addr, whole) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = (uint8_t)(0xffu << (8 - rest));
  return (a->addr[whole] & mask) == p->addr[whole];
}

/* Position of item in a sorted set, or where it would go (*found false). */
static size_t set_find(const qp__risk_list_t *l, const char *item, bool *found) {
  size_t lo = 0, hi = l->items.count;
  *found = false;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(*(char **)qp_array_at(&l->items, mid), item);
    if (c == 0) return *found = true, mid;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int set_update(qp__risk_list_t *l, const char *item, bool add) {
  bool found;
  size_t at = set_find(l, item, &found);
  char **base;
  if (!add) {
    if (!found) return 0;
    base = qp_array_at(&l->items, 0);
    qp_free(base[at]);
    memmove(base + at, base + at + 1, (l->items.count - at - 1) * sizeof *base);
    l->items.count--;
    return 0;
  }
  if (found) return 0;
  size_t n = strlen(item);
  char *copy = qp_malloc(n + 1);
  if (copy == NULL || qp_array_push(&l->items) == NULL) {
    qp_free(copy);
    return QP_ENOMEM;
  }
  memcpy(copy, item, n + 1);
  base = qp_array_at(&l->items, 0);
  memmove(base + at + 1, base + at, (l->items.count - at - 1) * sizeof *base);
  base[at] = copy;
  return 0;
}

static int cidr_update(qp__risk_list_t *l, const prefix_t *p, bool add) {
  for (size_t i = 0; i < l->items.count; i++) {
    prefix_t *q = qp_array_at(&l->items, i);
    if (q->family != p->family || q->bits != p->bits || memcmp(q->addr, p->addr, 16) != 0)
      continue;
    if (add) return 0;
    *q = *(prefix_t *)qp_array_at(&l->items, l->items.count - 1);
    l->items.count--;
    return 0;
  }
  if (!add) return 0;
  prefix_t *slot = qp_array_push(&l->items);
  if (slot == NULL) return QP_ENOMEM;
  *slot = *p;
  return 0;
}

int qp_risk_list_update(qp_risk_lists_t *lists, const char *name, const char *item, bool add,
                        char *err, size_t err_size) {
  qp__risk_list_t *l = qp__risk_lists_find(lists, name);
  if (l == NULL) {
    snprintf(err, err_size, "no list named '%s'", name);
    return QP_ENOTFOUND;
  }
  if (strlen(item) > QP_RISK_STRING_BYTES_MAX) {
    snprintf(err, err_size, "list item longer than %u bytes", QP_RISK_STRING_BYTES_MAX);
    return QP_EINVAL;
  }
  int rc;
  if (l->kind == QP_RISK_LIST_SET) {
    rc = set_update(l, item, add);
  } else {
    prefix_t p;
    if (!parse_prefix(item, &p, true)) {
      snprintf(err, err_size, "'%.64s' is not an IPv4/IPv6 address or prefix (ADDR or ADDR/LEN)",
               item);
      return QP_EINVAL;
    }
    rc = cidr_update(l, &p, add);
  }
  if (rc != 0) snprintf(err, err_size, "out of memory or list '%s' full", name);
  return rc;
}

bool qp__risk_list_has(const qp__risk_list_t *l, const char *item, uint32_t len) {
  if (l == NULL || strlen(item) != len) return false;
  bool found;
  if (l->kind == QP_RISK_LIST_SET) return set_find(l, item, &found), found;
  prefix_t a;
  if (!parse_prefix(item, &a, false)) return false;
  for (size_t i = 0; i < l->items.count; i++)
    if (prefix_has(qp_array_at(&l->items, i), &a)) return true;
  return false;
}

bool qp_risk_list_contains(const qp_risk_lists_t *lists, const char *name, const char *item) {
  return qp__risk_list_has(qp__risk_lists_find(lists, name), item, (uint32_t)strlen(item));
}

int qp_risk_list_check(const qp_risk_lists_t *lists, const char *name, const char *item,
                       char *err, size_t err_size) {
  const qp__risk_list_t *l = qp__risk_lists_find(lists, name);
  prefix_t p;
  if (l == NULL) {
    snprintf(err, err_size, "no list named '%s'", name);
    return QP_ENOTFOUND;
  }
  if (strlen(item) > QP_RISK_STRING_BYTES_MAX) {
    snprintf(err, err_size, "list item longer than %u bytes", QP_RISK_STRING_BYTES_MAX);
    return QP_EINVAL;
  }
  if (l->kind == QP_RISK_LIST_CIDR && !parse_prefix(item, &p, true)) {
    snprintf(err, err_size, "'%.64s' is not an IPv4/IPv6 address or prefix (ADDR or ADDR/LEN)",
             item);
    return QP_EINVAL;
  }
  return 0;
}

int qp_risk_list_info(const qp_risk_lists_t *lists, const char *name, qp_risk_list_kind_t *kind,
                      uint64_t *size) {
  const qp__risk_list_t *l = qp__risk_lists_find(lists, name);
  if (l == NULL) return QP_ENOTFOUND;
  *kind = l->kind;
  *size = l->items.count;
  return 0;
}

int qp_risk_list_item(const qp_risk_lists_t *lists, const char *name, uint64_t i, char *buf,
                      size_t size) {
  const qp__risk_list_t *l = qp__risk_lists_find(lists, name);
  if (l == NULL || i >= l->items.count) return QP_ENOTFOUND;
  if (l->kind == QP_RISK_LIST_SET) {
    snprintf(buf, size, "%s", *(char **)qp_array_at(&l->items, i));
    return 0;
  }
  const prefix_t *p = qp_array_at(&l->items, i);
  char addr[INET6_ADDRSTRLEN];
  inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, addr, sizeof addr);
  snprintf(buf, size, "%s/%u", addr, p->bits);
  return 0;
}

const char *qp_risk_lists_name(const qp_risk_lists_t *lists, size_t i) {
  if (i >= lists->lists.count) return NULL;
  return (*(qp__risk_list_t **)qp_array_at(&lists->lists, i))->name;
}
