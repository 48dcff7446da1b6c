/*
 * test_stream.c - server-sent event streams and extra reply headers, over
 * real HTTP on loopback (libcurl): a stream's frames arrive in order with
 * the right type and headers, next() ending the stream ends the response
 * and frees its context, a stream past http.max_streams is 503
 * too_many_streams (its context freed too), a stop ends an endless stream
 * at once, a handler that answers an error after a stream frees it, and
 * qp_http_sse_frame splits multi-line data and refuses CR/LF in names;
 * a reply carries extra headers (never one with CR/LF) and a handler reads
 * a cookie.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "http/http.h"

static atomic_int g_freed;   /* stream contexts freed */
static atomic_int g_endless; /* endless streams that sent their first frame */

typedef struct ticker {
  int left;     /* frames still to send; -1 = forever (one per wait) */
  int sent;     /* frames sent */
} ticker_t;

static int ticker_next(void *ctx, qp_buf_t *out, uint32_t wait_ms) {
  ticker_t *t = ctx;
  if (t->left == 0) return QP_EINVAL; /* the end */
  if (t->left < 0) { /* endless: one frame, then quiet waits */
    if (t->sent > 0) {
      struct timespec ts = {0, (long)wait_ms * 1000000L};
      nanosleep(&ts, NULL);
      return 0;
    }
    atomic_fetch_add(&g_endless, 1);
  } else {
    t->left--;
  }
  char id[16], data[64];
  snprintf(id, sizeof id, "%d", t->sent);
  snprintf(data, sizeof data, "tick %d\nline two", t->sent);
  t->sent++;
  return qp_http_sse_frame(out, "tick", id, data);
}

static void ticker_free(void *ctx) {
  qp_free(ctx);
  atomic_fetch_add(&g_freed, 1);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static const qp_http_stream_ops_t TICKER = {ticker_next, ticker_free};

static void stream_route(void *ctx, qp_http_request_t *req, qp_http_reply_t *r, int left) {
  (void)ctx;
  (void)req;
  ticker_t *t = qp_calloc(1, sizeof *t);
  assert_non_null(t);
  t->left = left;
  qp_http_reply_stream(r, &TICKER, t);
  assert_int_equal(qp_http_reply_header(r, "X-Extra", "yes"), 0);
}
static void three(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  stream_route(ctx, req, r, 3);
}
static void endless(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  stream_route(ctx, req, r, -1);
}
/* Starts a stream, then changes its mind: the stream must be freed. */
static void regret(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  stream_route(ctx, req, r, 3);
  qp_http_reply_fail(r, 409, "conflict", "", "changed my mind");
}
static void cookie(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  (void)ctx;
  const char *seen = qp_http_cookie(req, "sid");
  char *body = qp_malloc(64);
  assert_non_null(body);
  snprintf(body, 64, "[%s]", seen != NULL ? seen : "-");
  qp_http_reply_text(r, 200, body, NULL);
  assert_int_equal(qp_http_reply_header(r, "Set-Cookie", "s=1; HttpOnly"), 0);
  assert_int_equal(qp_http_reply_header(r, "X-Bad", "a\r\nInjected: 1"), QP_EINVAL);
}

static const qp_http_route_t ROUTES[] = {
    {"GET", "/v1/three", NULL, true, 0, three},
    {"GET", "/v1/endless", NULL, true, 0, endless},
    {"GET", "/v1/regret", NULL, true, 0, regret},
    {"GET", "/v1/cookie", NULL, true, 0, cookie},
};

typedef struct fixture {
  char dir[256];
  qp_http_server_t *server;
  qp_http_module_t module;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = qp_calloc(1, sizeof *f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  qp_http_options_t o;
  qp_http_options_default(&o);
  o.listen = "127.0.0.1:0";
  o.streams_max = 1;
  o.shutdown_grace_ms = 5000;
  char detail[256];
  assert_int_equal(qp_http_server_create(f->dir, &o, &f->server, detail, sizeof detail), 0);
  f->module = (qp_http_module_t){.name = "s", .routes = ROUTES, .routes_count = 4};
  assert_int_equal(qp_http_server_add(f->server, &f->module, detail, sizeof detail), 0);
  assert_int_equal(qp_http_server_start(f->server, detail, sizeof detail), 0);
  atomic_store(&g_freed, 0);
  atomic_store(&g_endless, 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_http_server_destroy(f->server);
  qp_test_rmdir(f->dir);
  qp_free(f);
  return 0;
}

typedef struct answer {
  long status;
  char body[8192];
  size_t len;
  char headers[2048];
  size_t headers_len;
} answer_t;

static size_t on_body(char *data, size_t size, size_t n, void *ctx) {
  answer_t *a = ctx;
  size_t take = size * n;
  if (take > sizeof a->body - 1 - a->len) take = sizeof a->body - 1 - a->len;
  memcpy(a->body + a->len, data, take);
  a->len += take;
  a->body[a->len] = '\0';
  return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx) {
  answer_t *a = ctx;
  size_t take = size * n;
  if (take > sizeof a->headers - 1 - a->headers_len) take = sizeof a->headers - 1 - a->headers_len;
  memcpy(a->headers + a->headers_len, data, take);
  a->headers_len += take;
  a->headers[a->headers_len] = '\0';
  return size * n;
}

static void get(const fixture_t *f, const char *path, answer_t *a, long timeout_ms) {
  memset(a, 0, sizeof *a);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", qp_http_server_port(f->server), path);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
  if (timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_COOKIE, "other=1; sid=abc");
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
  curl_easy_cleanup(c);
}

static void test_frames_in_order_then_end(void **state) {
  fixture_t *f = *state;
  answer_t a;
  get(f, "/v1/three", &a, 10000);
  assert_int_equal(a.status, 200);
  assert_non_null(strstr(a.headers, "Content-Type: text/event-stream"));
  assert_non_null(strstr(a.headers, "X-Extra: yes"));
  assert_non_null(strstr(a.headers, "Cache-Control: no-store"));
  assert_string_equal(a.body,
                      "retry: 2000\n\n"
                      "event: tick\nid: 0\ndata: tick 0\ndata: line two\n\n"
                      "event: tick\nid: 1\ndata: tick 1\ndata: line two\n\n"
                      "event: tick\nid: 2\ndata: tick 2\ndata: line two\n\n");
  for (int i = 0; i < 200 && atomic_load(&g_freed) < 1; i++) sleep_ms(5);
  assert_int_equal(atomic_load(&g_freed), 1);
}

static void *hold_endless(void *arg) {
  static answer_t a;
  get(arg, "/v1/endless", &a, 0);
  return &a;
}

static void test_cap_and_stop(void **state) {
  fixture_t *f = *state;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, hold_endless, f), 0);
  for (int i = 0; i < 2000 && atomic_load(&g_endless) == 0; i++) sleep_ms(5);
  assert_int_equal(atomic_load(&g_endless), 1); /* it holds the only slot */
  answer_t a;
  get(f, "/v1/three", &a, 10000);
  assert_int_equal(a.status, 503);
  assert_non_null(strstr(a.body, "too_many_streams"));
  int freed = atomic_load(&g_freed); /* the refused ones were freed too */
  uint64_t t0 = qp_clock_mono_ns();
  qp_http_server_stop(f->server);
  answer_t *held = NULL;
  pthread_join(t, (void **)&held);
  assert_true(qp_clock_mono_ns() - t0 < 3000000000ull); /* not the 5 s grace */
  assert_non_null(strstr(held->body, "data: tick 0"));
  assert_int_equal(atomic_load(&g_freed), freed + 1);
}

static void test_error_after_stream_frees_it(void **state) {
  fixture_t *f = *state;
  answer_t a;
  get(f, "/v1/regret", &a, 10000);
  assert_int_equal(a.status, 409);
  assert_int_equal(atomic_load(&g_freed), 1);
}

static void test_reply_header(void **state) {
  fixture_t *f = *state;
  answer_t a;
  get(f, "/v1/cookie", &a, 10000);
  assert_int_equal(a.status, 200);
  assert_non_null(strstr(a.headers, "Set-Cookie: s=1; HttpOnly"));
  assert_null(strstr(a.headers, "Injected"));
  assert_string_equal(a.body, "[abc]");
}

static void test_frame_format(void **state) {
  (void)state;
  qp_buf_t b = {.max = 1024};
  assert_int_equal(qp_http_sse_frame(&b, "bill", NULL, "a\r\nb\rc\n"), 0);
  assert_string_equal(b.data, "event: bill\ndata: a\ndata: b\ndata: c\ndata: \n\n");
  qp_buf_reset(&b);
  assert_int_equal(qp_http_sse_frame(&b, "x", NULL, ""), 0);
  assert_string_equal(b.data, "event: x\ndata: \n\n");
  assert_int_equal(qp_http_sse_frame(&b, "a\nb", NULL, "d"), QP_EINVAL);
  assert_int_equal(qp_http_sse_frame(&b, "a", "1\r", "d"), QP_EINVAL);
  assert_int_equal(qp_http_sse_frame(&b, "", NULL, "d"), QP_EINVAL);
  qp_buf_t small = {.max = 24};
  assert_int_equal(qp_http_sse_frame(&small, "bill", "7", "0123456789"), QP_ENOMEM);
  assert_int_equal(small.len, 0); /* no half frame */
  assert_false(small.failed);
  qp_buf_free(&b);
  qp_buf_free(&small);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_frames_in_order_then_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cap_and_stop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_error_after_stream_frees_it, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reply_header, setup, teardown),
      cmocka_unit_test(test_frame_format),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
