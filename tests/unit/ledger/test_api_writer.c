/*
 * test_api_writer.c - the group-commit writer (src/ledger/api_writer.c) against a real
 * durable ledger in a temp directory: many threads submit create batches at
 * once; every job completes exactly once with its results, requests share
 * commits (fewer qp_db_execute calls than requests), the balances add up,
 * and a writer that is stopping refuses new jobs without running them;
 * posted jobs (no thread waits) are called back once each, after commit.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "ledger/api_int.h"
#include "base/err.h"

#define THREADS 8
#define JOBS_PER_THREAD 50

typedef struct worker {
  qp__ledger_writer_t *writer; /* shared */
  int index;                /* which thread */
  int failures;             /* jobs that did not come back ok */
} worker_t;

static void *submit_many(void *arg) {
  worker_t *w = arg;
  for (int j = 0; j < JOBS_PER_THREAD; j++) {
    qp_transfer_t t;
    memset(&t, 0, sizeof t);
    t.id = (qp_u128)(1000 + w->index * JOBS_PER_THREAD + j);
    t.debit_account_id = 1;
    t.credit_account_id = 2;
    t.amount = 1;
    t.ledger = 1;
    t.code = 1;
    uint32_t result = 999;
    qp__ledger_job_t job = {.request = {.op = QP_OP_CREATE_TRANSFERS, .events = &t, .count = 1,
                                     .results = &result}};
    int rc = qp__ledger_writer_submit(w->writer, &job);
    if (rc != 0 || !job.done || job.request.status != 0 || job.execute_rc != 0 ||
        result != QP_CREATE_TRANSFER_OK)
      w->failures++;
  }
  return NULL;
}

static qp_db_t *open_two_accounts(const char *dir);

static void test_group_commit(void **state) {
  (void)state;
  char dir[256];
  qp_test_tmpdir(dir, sizeof dir);
  qp_db_t *db = open_two_accounts(dir);

  static qp__ledger_metrics_t metrics;
  static qp__ledger_writer_t writer;
  assert_int_equal(qp__ledger_writer_start(&writer, db, NULL, 16, &metrics), 0);
  pthread_t threads[THREADS];
  worker_t workers[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (worker_t){.writer = &writer, .index = i};
    assert_int_equal(pthread_create(&threads[i], NULL, submit_many, &workers[i]), 0);
  }
  int limited = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    limited += workers[i].failures;
  }
  /* With 8 submitters and a queue of 16 the queue never fills. */
  assert_int_equal(limited, 0);
  uint64_t commits = atomic_load(&metrics.commits);
  uint64_t requests = atomic_load(&metrics.commit_requests);
  assert_int_equal(requests, THREADS * JOBS_PER_THREAD);
  assert_true(commits >= 1 && commits <= requests);
  fprintf(stderr, "group commit: %llu requests in %llu commits\n", (unsigned long long)requests,
          (unsigned long long)commits);
  assert_int_equal(atomic_load(&metrics.transfer_results[QP_CREATE_TRANSFER_OK]),
                   THREADS * JOBS_PER_THREAD);
  qp__ledger_writer_stop(&writer);

  qp_u128 ids[2] = {1, 2};
  qp_account_t out[2];
  uint32_t found = 0;
  assert_int_equal(qp_db_lookup_accounts(db, ids, 2, out, &found), 0);
  assert_int_equal(found, 2);
  assert_true(out[0].debits_posted == THREADS * JOBS_PER_THREAD);
  assert_true(out[1].credits_posted == THREADS * JOBS_PER_THREAD);
  qp_db_close(db);
  qp_test_rmdir(dir);
}

static void test_stopping_writer_refuses(void **state) {
  (void)state;
  char dir[256];
  qp_test_tmpdir(dir, sizeof dir);
  qp_db_options_t opts;
  memset(&opts, 0, sizeof opts);
  qp_db_t *db = NULL;
  qp_db_recovery_t rec;
  char detail[256];
  assert_int_equal(qp_db_open(dir, &opts, &db, &rec, detail, sizeof detail), 0);
  static qp__ledger_metrics_t metrics;
  static qp__ledger_writer_t writer;
  assert_int_equal(qp__ledger_writer_start(&writer, db, NULL, 4, &metrics), 0);
  pthread_mutex_lock(&writer.mutex);
  writer.stopping = true; /* as qp__ledger_writer_stop sets it, before the join */
  pthread_mutex_unlock(&writer.mutex);
  qp_account_t a;
  memset(&a, 0, sizeof a);
  a.id = 5;
  a.ledger = 1;
  a.code = 1;
  uint32_t result = 999;
  qp__ledger_job_t job = {.request = {.op = QP_OP_CREATE_ACCOUNTS, .events = &a, .count = 1,
                                   .results = &result}};
  assert_int_equal(qp__ledger_writer_submit(&writer, &job), QP_ESTOPPED);
  assert_int_equal(result, 999);
  qp__ledger_writer_stop(&writer);
  uint32_t found = 1;
  qp_account_t out;
  assert_int_equal(qp_db_lookup_accounts(db, &a.id, 1, &out, &found), 0);
  assert_int_equal(found, 0);
  qp_db_close(db);
  qp_test_rmdir(dir);
}

/* Posted jobs (qp__ledger_writer_post, as the binary listener's creates):
 * each one's done_fn runs exactly once, on a writer thread, after its
 * batch is durable, with its results in; they share commits with waiting
 * submitters; stop runs the ones still queued; a stopping writer refuses a
 * post without ever calling done_fn. */
#define POSTED 300

typedef struct posted {
  qp__ledger_job_t job;
  qp_transfer_t t;
  uint32_t result;
  int calls; /* done_fn calls */
} posted_t;

static pthread_mutex_t posted_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t posted_cond = PTHREAD_COND_INITIALIZER;
static int posted_done;

static void on_posted(qp__ledger_job_t *job) {
  posted_t *p = job->done_ctx;
  pthread_mutex_lock(&posted_mu);
  p->calls++;
  posted_done++;
  pthread_cond_signal(&posted_cond);
  pthread_mutex_unlock(&posted_mu);
}

/* A db in dir with accounts 1 and 2. */
static qp_db_t *open_two_accounts(const char *dir) {
  qp_db_options_t opts;
  memset(&opts, 0, sizeof opts);
  qp_db_t *db = NULL;
  qp_db_recovery_t rec;
  char detail[256];
  assert_int_equal(qp_db_open(dir, &opts, &db, &rec, detail, sizeof detail), 0);
  qp_account_t acc[2];
  memset(acc, 0, sizeof acc);
  for (int i = 0; i < 2; i++) {
    acc[i].id = (qp_u128)(i + 1);
    acc[i].ledger = 1;
    acc[i].code = 1;
  }
  uint32_t results[2];
  assert_int_equal(qp_db_create_accounts(db, acc, 2, results), 0);
  return db;
}

/* Posts a transfer of 3 from account 2 to 1 with id; returns post's code. */
static int post_transfer(qp__ledger_writer_t *w, posted_t *p, uint64_t id) {
  memset(p, 0, sizeof *p);
  p->t = (qp_transfer_t){.id = (qp_u128)id, .debit_account_id = 2, .credit_account_id = 1,
                         .amount = 3, .ledger = 1, .code = 1};
  p->result = 999;
  p->job = (qp__ledger_job_t){.request = {.op = QP_OP_CREATE_TRANSFERS, .events = &p->t,
                                          .count = 1, .results = &p->result},
                              .done_fn = on_posted, .done_ctx = p};
  return qp__ledger_writer_post(w, &p->job);
}

static void test_posted_jobs(void **state) {
  (void)state;
  char dir[256];
  qp_test_tmpdir(dir, sizeof dir);
  qp_db_t *db = open_two_accounts(dir);
  static qp__ledger_metrics_t metrics;
  static qp__ledger_writer_t writer;
  assert_int_equal(qp__ledger_writer_start(&writer, db, NULL, POSTED + THREADS, &metrics), 0);
  pthread_t threads[THREADS];
  worker_t workers[THREADS];
  for (int i = 0; i < THREADS; i++) { /* waiting submitters beside the posts */
    workers[i] = (worker_t){.writer = &writer, .index = i};
    assert_int_equal(pthread_create(&threads[i], NULL, submit_many, &workers[i]), 0);
  }
  static posted_t jobs[POSTED];
  posted_done = 0;
  for (int i = 0; i < POSTED; i++)
    assert_int_equal(post_transfer(&writer, &jobs[i], 100000 + (uint64_t)i), 0);
  pthread_mutex_lock(&posted_mu);
  while (posted_done < POSTED) pthread_cond_wait(&posted_cond, &posted_mu);
  pthread_mutex_unlock(&posted_mu);
  int failures = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    failures += workers[i].failures;
  }
  assert_int_equal(failures, 0);
  for (int i = 0; i < POSTED; i++) {
    assert_int_equal(jobs[i].calls, 1);
    assert_true(jobs[i].job.done);
    assert_int_equal(jobs[i].job.request.status, 0);
    assert_int_equal(jobs[i].job.execute_rc, 0);
    assert_int_equal(jobs[i].result, QP_CREATE_TRANSFER_OK);
  }
  posted_t last; /* queued behind a stop: run before stop returns */
  assert_int_equal(post_transfer(&writer, &last, 999999), 0);
  qp__ledger_writer_stop(&writer);
  assert_int_equal(last.calls, 1);
  assert_int_equal(last.result, QP_CREATE_TRANSFER_OK);
  qp_u128 ids[2] = {1, 2};
  qp_account_t out[2];
  uint32_t found = 0;
  assert_int_equal(qp_db_lookup_accounts(db, ids, 2, out, &found), 0);
  assert_int_equal(found, 2);
  uint64_t posted_amount = 3ull * (POSTED + 1), submitted = THREADS * JOBS_PER_THREAD;
  assert_true(out[0].credits_posted == posted_amount && out[0].debits_posted == submitted);
  assert_true(out[1].debits_posted == posted_amount && out[1].credits_posted == submitted);
  /* A stopping writer refuses a post and never calls it back. */
  assert_int_equal(qp__ledger_writer_start(&writer, db, NULL, 4, &metrics), 0);
  pthread_mutex_lock(&writer.mutex);
  writer.stopping = true;
  pthread_mutex_unlock(&writer.mutex);
  posted_t refused;
  assert_int_equal(post_transfer(&writer, &refused, 777777), QP_ESTOPPED);
  qp__ledger_writer_stop(&writer);
  assert_int_equal(refused.calls, 0);
  assert_int_equal(refused.result, 999);
  qp_db_close(db);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_commit),
      cmocka_unit_test(test_stopping_writer_refuses),
      cmocka_unit_test(test_posted_jobs),
  };
  return cmocka_run_group_tests_name("api_writer", tests, NULL, NULL);
}
