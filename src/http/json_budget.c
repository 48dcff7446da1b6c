/*
 * json_budget.c - jansson's allocator, and the memory budget the HTTP core
 * puts on the JSON work of each request.
 *
 * A body of N bytes can become a jansson tree a hundred times larger
 * ("[{},{},…]": 3 bytes of text, ~200 bytes of tree per element), and
 * jansson builds the whole tree before any module can count its elements.
 * So jansson's allocator is ours (json_set_alloc_funcs, installed before
 * main and again, idempotently, by qp_http_server_create): every block goes
 * through qp_malloc with a 16-byte header recording its size and the budget
 * it was charged to.  While a thread has a budget active (the core opens
 * one around each handler call), an allocation that would take the live
 * bytes past the request's budget, or the server's bytes past the
 * server-wide budget, gets NULL: jansson's parse fails as out of memory, and
 * qp_http_json_refused() tells the module to answer 413 or 503 instead of
 * growing.  A block freed while its budget is active gives its bytes back;
 * blocks that outlive their budget are no longer counted (the budget's end
 * returns what it still held to the server-wide figure).
 *
 * Because of the header, memory jansson hands out (json_dumps' text) must
 * be released with qp_http_json_free, never with libc's free or qp_free.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "http/http_int.h"

/* Prepended to every block jansson gets; 16 bytes keep malloc's alignment. */
typedef struct block_header {
  uint64_t size;      /* bytes jansson asked for, plus this header */
  uint64_t budget_id; /* the budget charged, or 0 */
} block_header_t;

_Static_assert(sizeof(block_header_t) == 16, "the header keeps 16-byte alignment");

/* One thread's budget.  Invariant: bytes_used <= bytes_max while active. */
typedef struct json_budget {
  bool active;                  /* between begin and end */
  uint64_t id;                  /* unique per begin; 0 = none */
  uint64_t bytes_max;           /* this request's live bytes, at most */
  uint64_t bytes_used;          /* live bytes charged now */
  uint64_t bytes_peak;          /* most live bytes seen */
  _Atomic uint64_t *shared;     /* the server's charged bytes, or NULL */
  uint64_t shared_max;          /* the server-wide budget */
  int refused;                  /* 0, QP__HTTP_JSON_REFUSED_REQUEST or _SERVER */
  bool exempt;                  /* error envelopes: allocate without charging */
} json_budget_t;

static _Thread_local json_budget_t budget;
static _Thread_local uint64_t alloc_failures; /* NULLs handed to jansson on this thread */
static _Thread_local int last_refusal;        /* why the last one was: 0 = out of memory */
static _Atomic uint64_t budget_seq;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* Charges n bytes to the active budget; false (and refused set) past it. */
static bool charge(uint64_t n) {
  if (budget.bytes_used + n > budget.bytes_max) {
    budget.refused = QP__HTTP_JSON_REFUSED_REQUEST;
    return false;
  }
  if (budget.shared != NULL) {
    uint64_t now = atomic_fetch_add(budget.shared, n) + n;
    if (now > budget.shared_max) {
      atomic_fetch_sub(budget.shared, n);
      budget.refused = QP__HTTP_JSON_REFUSED_SERVER;
      return false;
    }
  }
  budget.bytes_used += n;
  if (budget.bytes_used > budget.bytes_peak) budget.bytes_peak = budget.bytes_used;
  return true;
}

static void *json_alloc(size_t size) {
  uint64_t total = (uint64_t)size + sizeof(block_header_t);
  if (total < size) return NULL;
  bool charged = budget.active && !budget.exempt;
  if (charged && !charge(total)) {
    alloc_failures++;
    last_refusal = budget.refused;
    return NULL;
  }
  block_header_t *h = qp_malloc((size_t)total);
  if (h == NULL) {
    alloc_failures++;
    last_refusal = 0;
    if (charged) {
      budget.bytes_used -= total;
      if (budget.shared != NULL) atomic_fetch_sub(budget.shared, total);
    }
    return NULL;
  }
  h->size = total;
  h->budget_id = charged ? budget.id : 0;
  return h + 1;
}

void qp_http_json_free(void *ptr) {
  if (ptr == NULL) return;
  block_header_t *h = (block_header_t *)ptr - 1;
  if (budget.active && h->budget_id == budget.id) {
    QP_ASSERT(budget.bytes_used >= h->size);
    budget.bytes_used -= h->size;
    if (budget.shared != NULL) atomic_fetch_sub(budget.shared, h->size);
  }
  qp_free(h);
}

static void install(void) { json_set_alloc_funcs(json_alloc, qp_http_json_free); }

void qp_http_json_alloc_install(void) { pthread_once(&install_once, install); }

/* Before main, so that no jansson block is ever allocated by malloc and
 * freed here (the header would not be there). */
__attribute__((constructor)) static void install_early(void) { qp_http_json_alloc_install(); }

bool qp__http_json_exempt(bool on) {
  bool was = budget.exempt;
  budget.exempt = on;
  return was;
}

void qp__http_json_budget_begin_shared(uint64_t bytes_max, _Atomic uint64_t *shared,
                                       uint64_t shared_max) {
  QP_ASSERT(!budget.active);
  qp_http_json_alloc_install();
  budget = (json_budget_t){.active = true,
                           .id = atomic_fetch_add(&budget_seq, 1) + 1,
                           .bytes_max = bytes_max,
                           .shared = shared,
                           .shared_max = shared_max};
}

void qp_http_json_budget_begin(uint64_t bytes_max) {
  qp__http_json_budget_begin_shared(bytes_max, NULL, 0);
}

uint64_t qp_http_json_budget_end(void) {
  QP_ASSERT(budget.active);
  if (budget.shared != NULL) atomic_fetch_sub(budget.shared, budget.bytes_used);
  uint64_t peak = budget.bytes_peak;
  budget = (json_budget_t){0};
  return peak;
}

uint64_t qp_http_json_budget_for(uint64_t body_bytes, uint64_t request_max) {
  uint64_t want = body_bytes * QP_HTTP_JSON_BODY_FACTOR + QP_HTTP_JSON_ALLOWANCE_BYTES;
  if (body_bytes > UINT64_MAX / QP_HTTP_JSON_BODY_FACTOR) want = UINT64_MAX;
  return want < request_max ? want : request_max;
}

uint64_t qp_http_json_alloc_failures(void) { return alloc_failures; }

bool qp_http_json_refused(qp_http_error_t *err) {
  if (last_refusal == QP__HTTP_JSON_REFUSED_SERVER)
    qp_http_error_set(err, 503, "overloaded", "",
                      "the server is parsing too many request bodies at once (%llu bytes of "
                      "JSON in all); retry shortly",
                      (unsigned long long)budget.shared_max);
  else if (last_refusal == QP__HTTP_JSON_REFUSED_REQUEST)
    qp_http_error_set(err, 413, "too_complex", "",
                      "parsing this body needs more than %llu bytes of memory, its budget "
                      "(%u x the body's bytes + %u MiB, at most the server's per-request "
                      "limit); send fewer or smaller JSON values",
                      (unsigned long long)budget.bytes_max, QP_HTTP_JSON_BODY_FACTOR,
                      QP_HTTP_JSON_ALLOWANCE_BYTES / (1024u * 1024u));
  else
    qp_http_error_set(err, 500, "internal", "", "out of memory while handling JSON");
  return last_refusal != 0;
}
