/*
 * bench_pg.c - the PostgreSQL side of the comparison, over libpq on
 * loopback TCP, against the schema and PL/pgSQL functions of
 * bench/pg_ledger.sql (the same rules as quipu, per transfer).
 *
 *  (a) one transfer per transaction: the stream is split into
 *      pg_connections shards by qb_shard_of (events that must stay ordered
 *      share a shard), and one thread per shard calls create_transfer() in
 *      autocommit mode, i.e. one commit and one WAL flush (shared by
 *      PostgreSQL's own group commit) per transfer;
 *  (b) batched: create_transfers() over arrays of 8190 transfers, one
 *      transaction per batch, from one connection, every rule still applied
 *      per transfer in order.  (Concurrent batch transactions would
 *      deadlock: a batch locks accounts in transfer order, not id order.)
 *
 * The run continues one workload stream: setup, then (a)'s events, then
 * (b)'s, and at the end every balance is read back and compared with the
 * workload's model, and every result code with the expected one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bench.h"
#include "bench_int.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

#define PG_SHARDS_MAX 64u
#define NUM_TEXT 24u /* room for a u64 in decimal, a sign and a NUL */

/* Maps a result name from SQL back to quipu's code (UINT32_MAX if unknown). */
static uint32_t result_code(const char *name, size_t len) {
  for (uint32_t c = 0; c < QP_CREATE_TRANSFER_RESULT_COUNT; c++) {
    const char *n = qp_create_transfer_result_name(c);
    if (n != NULL && strlen(n) == len && memcmp(n, name, len) == 0) return c;
  }
  return UINT32_MAX;
}

static int pg_exec_ok(PGconn *conn, const char *sql) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(res);
  int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : QP_EIO;
  if (rc != 0) fprintf(stderr, "bench: postgres: %s\n", PQerrorMessage(conn));
  PQclear(res);
  return rc;
}

static PGconn *pg_connect(const char *conninfo) {
  PGconn *conn = PQconnectdb(conninfo);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "bench: cannot connect to postgres (%s): %s\n", conninfo, PQerrorMessage(conn));
    PQfinish(conn);
    return NULL;
  }
  PGresult *res = PQexec(conn, "SET client_min_messages = warning");
  PQclear(res);
  return conn;
}

/* Reads a whole file into a NUL-terminated qp_malloc'ed buffer. */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char *buf = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size > 0 && size < (1L << 24) && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = qp_malloc((size_t)size + 1)) != NULL) {
      if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        qp_free(buf);
        buf = NULL;
      } else {
        buf[size] = '\0';
      }
    }
  }
  fclose(f);
  return buf;
}

static int pg_schema(PGconn *conn, const char *schema_path, const qb_workload_t *w) {
  char *sql = read_file(schema_path);
  if (sql == NULL) {
    fprintf(stderr, "bench: cannot read %s\n", schema_path);
    return QP_EIO;
  }
  int rc = pg_exec_ok(conn, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;");
  if (rc == 0) rc = pg_exec_ok(conn, sql);
  qp_free(sql);
  char insert[512];
  snprintf(insert, sizeof insert,
           "INSERT INTO accounts SELECT g, %u, %u, CASE WHEN g > %llu THEN %u ELSE 0 END, "
           "0, 0, 0, 0, nextval('event_ts') FROM generate_series(1, %llu) g",
           QB_LEDGER, QB_CODE, (unsigned long long)w->ordinary,
           (unsigned)QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS,
           (unsigned long long)w->config.accounts);
  if (rc == 0) rc = pg_exec_ok(conn, insert);
  return rc;
}

/* ---------------------------------------------------------------- batches */

/* Growable text for one array literal "{1,2,3}", with a hard maximum. */
typedef struct text_buf {
  char *data;   /* NUL-terminated */
  size_t len;   /* bytes used */
  size_t cap;   /* bytes allocated */
} text_buf_t;

#define TEXT_BUF_MAX (64u << 20)

static int buf_put_u64(text_buf_t *b, uint64_t v, bool first) {
  if (b->len + NUM_TEXT + 2 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 65536;
    if (cap > TEXT_BUF_MAX) return QP_ELIMIT;
    char *d = qp_realloc(b->data, cap);
    if (d == NULL) return QP_ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  int n = snprintf(b->data + b->len, b->cap - b->len, "%s%llu", first ? "{" : ",",
                   (unsigned long long)v);
  b->len += (size_t)n;
  return 0;
}

static void buf_close(text_buf_t *b) {
  b->data[b->len++] = '}';
  b->data[b->len] = '\0';
}

enum { COL_ID, COL_DEBIT, COL_CREDIT, COL_AMOUNT, COL_PENDING, COL_LEDGER, COL_CODE, COL_FLAGS,
       COL_COUNT };

/* Runs one batch through create_transfers(); results[i] gets each code. */
static int pg_batch(PGconn *conn, const qp_transfer_t *ev, uint32_t n, text_buf_t cols[COL_COUNT],
                    uint32_t *results, uint64_t *call_ns) {
  int rc = 0;
  for (uint32_t c = 0; c < COL_COUNT; c++) cols[c].len = 0;
  for (uint32_t i = 0; rc == 0 && i < n; i++) {
    const qp_transfer_t *t = &ev[i];
    uint64_t v[COL_COUNT] = {(uint64_t)t->id, (uint64_t)t->debit_account_id,
                             (uint64_t)t->credit_account_id, (uint64_t)t->amount,
                             (uint64_t)t->pending_id, t->ledger, t->code, t->flags};
    for (uint32_t c = 0; rc == 0 && c < COL_COUNT; c++) rc = buf_put_u64(&cols[c], v[c], i == 0);
  }
  if (rc != 0) return rc;
  const char *params[COL_COUNT];
  for (uint32_t c = 0; c < COL_COUNT; c++) {
    buf_close(&cols[c]);
    params[c] = cols[c].data;
  }
  uint64_t t0 = qp_clock_mono_ns();
  PGresult *res = PQexecParams(conn,
                               "SELECT create_transfers($1::bigint[], $2::bigint[], $3::bigint[], "
                               "$4::bigint[], $5::bigint[], $6::integer[], $7::integer[], "
                               "$8::integer[])",
                               COL_COUNT, NULL, params, NULL, NULL, 0);
  *call_ns = qp_clock_mono_ns() - t0;
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    fprintf(stderr, "bench: postgres batch failed: %s\n", PQerrorMessage(conn));
    PQclear(res);
    return QP_EIO;
  }
  const char *s = PQgetvalue(res, 0, 0); /* "{ok,ok,exceeds_credits,...}" */
  uint32_t i = 0;
  for (const char *p = s + 1; rc == 0 && *p != '\0' && *p != '}';) {
    const char *end = p;
    while (*end != ',' && *end != '}' && *end != '\0') end++;
    if (i >= n) rc = QP_ECORRUPT;
    else results[i++] = result_code(p, (size_t)(end - p));
    p = *end == ',' ? end + 1 : end;
  }
  if (rc == 0 && i != n) rc = QP_ECORRUPT;
  PQclear(res);
  return rc;
}

/* Runs setup transfers through the batched function (not timed). */
static int pg_setup(PGconn *conn, qb_workload_t *w, text_buf_t cols[COL_COUNT]) {
  qp_transfer_t *ev = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *ev);
  uint32_t *res = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *res);
  int rc = ev && res ? 0 : QP_ENOMEM;
  uint64_t setup = qb_workload_setup_count(w), ns;
  for (uint64_t j = 0; rc == 0 && j < setup;) {
    uint32_t k = 0;
    for (; k < QP_BATCH_EVENTS_MAX && j < setup; k++)
      qb_workload_setup_transfer(w, j++, true, &ev[k]);
    rc = pg_batch(conn, ev, k, cols, res, &ns);
    for (uint32_t i = 0; rc == 0 && i < k; i++)
      if (res[i] != QP_CREATE_TRANSFER_OK) rc = QP_ECORRUPT;
  }
  if (rc == 0) rc = pg_exec_ok(conn, "ANALYZE; CHECKPOINT");
  qp_free(ev);
  qp_free(res);
  return rc;
}

/* ------------------------------------------------- (a) one per transaction */

typedef struct shard {
  const char *conninfo;       /* where to connect */
  const qp_transfer_t *ev;    /* every event of the phase */
  uint32_t *idx;              /* indexes of this shard's events, in order */
  uint64_t count;             /* how many */
  uint32_t *results;          /* per event of the phase (shared; disjoint slots) */
  uint64_t *lat_ns;           /* per event of the phase (shared; disjoint slots) */
  pthread_barrier_t *start;   /* all connections ready */
  int rc;                     /* outcome */
} shard_t;

static void *shard_main(void *arg) {
  shard_t *s = arg;
  PGconn *conn = pg_connect(s->conninfo);
  s->rc = conn ? 0 : QP_EIO;
  if (s->rc == 0) {
    PGresult *res = PQprepare(conn, "tr",
                              "SELECT create_transfer($1::bigint, $2::bigint, $3::bigint, "
                              "$4::bigint, $5::bigint, $6::integer, $7::integer, $8::integer)",
                              8, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) s->rc = QP_EIO;
    PQclear(res);
  }
  pthread_barrier_wait(s->start);
  char text[COL_COUNT][NUM_TEXT];
  const char *params[COL_COUNT];
  for (uint32_t c = 0; c < COL_COUNT; c++) params[c] = text[c];
  for (uint64_t k = 0; s->rc == 0 && k < s->count; k++) {
    uint32_t i = s->idx[k];
    const qp_transfer_t *t = &s->ev[i];
    uint64_t v[COL_COUNT] = {(uint64_t)t->id, (uint64_t)t->debit_account_id,
                             (uint64_t)t->credit_account_id, (uint64_t)t->amount,
                             (uint64_t)t->pending_id, t->ledger, t->code, t->flags};
    for (uint32_t c = 0; c < COL_COUNT; c++)
      snprintf(text[c], NUM_TEXT, "%llu", (unsigned long long)v[c]);
    uint64_t t0 = qp_clock_mono_ns();
    PGresult *res = PQexecPrepared(conn, "tr", COL_COUNT, params, NULL, NULL, 0);
    s->lat_ns[i] = qp_clock_mono_ns() - t0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
      fprintf(stderr, "bench: postgres transfer failed: %s\n", PQerrorMessage(conn));
      s->rc = QP_EIO;
    } else {
      s->results[i] = result_code(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    }
    PQclear(res);
  }
  PQfinish(conn);
  return NULL;
}

static int run_per_tx(const qb_config_t *cfg, qb_workload_t *w, qb_report_t *rep,
                      const char *prefix, qb_result_counts_t *counts) {
  uint64_t n = cfg->pg_tx_transfers;
  uint32_t shards = cfg->pg_connections < PG_SHARDS_MAX ? cfg->pg_connections : PG_SHARDS_MAX;
  qp_transfer_t *ev = qp_malloc(n * sizeof *ev);
  uint32_t *expect = qp_malloc(n * sizeof *expect);
  uint32_t *results = qp_malloc(n * sizeof *results);
  uint32_t *idx = qp_malloc(n * sizeof *idx);
  uint64_t *lat = qp_malloc(n * sizeof *lat);
  if (!ev || !expect || !results || !idx || !lat) return QP_ENOMEM;
  for (uint64_t i = 0; i < n; i++) qb_workload_next(w, &ev[i], &expect[i]);
  shard_t sh[PG_SHARDS_MAX];
  pthread_t th[PG_SHARDS_MAX];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, shards + 1);
  uint64_t off = 0;
  for (uint32_t s = 0; s < shards; s++) {
    sh[s] = (shard_t){.conninfo = cfg->pg_conninfo, .ev = ev, .idx = idx + off, .results = results,
                      .lat_ns = lat, .start = &start};
    for (uint64_t i = 0; i < n; i++)
      if (qb_shard_of(&ev[i], shards) == s) sh[s].idx[sh[s].count++] = (uint32_t)i;
    off += sh[s].count;
  }
  for (uint32_t s = 0; s < shards; s++) pthread_create(&th[s], NULL, shard_main, &sh[s]);
  pthread_barrier_wait(&start);
  uint64_t t0 = qp_clock_mono_ns();
  int rc = 0;
  for (uint32_t s = 0; s < shards; s++) {
    pthread_join(th[s], NULL);
    if (sh[s].rc != 0) rc = sh[s].rc;
  }
  uint64_t wall = qp_clock_mono_ns() - t0;
  pthread_barrier_destroy(&start);
  if (rc == 0) {
    char name[96];
    for (uint64_t i = 0; i < n; i++) qb_count_result(counts, results[i], expect[i]);
    qb_sort_u64(lat, n);
    snprintf(name, sizeof name, "%s_transfers_per_s", prefix);
    qb_report_add(rep, name, (double)n * 1e9 / (double)wall, "transfers/s", 0);
    snprintf(name, sizeof name, "%s_p50", prefix);
    qb_report_add(rep, name, (double)qb_percentile(lat, n, 50) / 1e6, "ms", 3);
    snprintf(name, sizeof name, "%s_p99", prefix);
    qb_report_add(rep, name, (double)qb_percentile(lat, n, 99) / 1e6, "ms", 3);
  }
  qp_free(ev);
  qp_free(expect);
  qp_free(results);
  qp_free(idx);
  qp_free(lat);
  return rc;
}

/* -------------------------------------------------------------- (b) batched */

static int run_batched(const qb_config_t *cfg, PGconn *conn, qb_workload_t *w, qb_report_t *rep,
                       qb_result_counts_t *counts, text_buf_t cols[COL_COUNT]) {
  uint64_t n = cfg->pg_batch_transfers, calls = 0, busy = 0;
  qp_transfer_t *ev = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *ev);
  uint32_t *expect = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *expect);
  uint32_t *res = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *res);
  uint64_t *lat = qp_malloc((n / QP_BATCH_EVENTS_MAX + 2) * sizeof *lat);
  int rc = ev && expect && res && lat ? 0 : QP_ENOMEM;
  for (uint64_t done = 0; rc == 0 && done < n;) {
    uint32_t k = n - done < QP_BATCH_EVENTS_MAX ? (uint32_t)(n - done) : QP_BATCH_EVENTS_MAX;
    for (uint32_t i = 0; i < k; i++) qb_workload_next(w, &ev[i], &expect[i]);
    rc = pg_batch(conn, ev, k, cols, res, &lat[calls]);
    busy += lat[calls++];
    for (uint32_t i = 0; rc == 0 && i < k; i++) qb_count_result(counts, res[i], expect[i]);
    done += k;
  }
  if (rc == 0) {
    qb_sort_u64(lat, calls);
    qb_report_add(rep, "pg_batched_transfers_per_s", (double)n * 1e9 / (double)busy, "transfers/s",
                  0);
    qb_report_add(rep, "pg_batched_commit_p50", (double)qb_percentile(lat, calls, 50) / 1e6, "ms",
                  3);
    qb_report_add(rep, "pg_batched_commit_p99", (double)qb_percentile(lat, calls, 99) / 1e6, "ms",
                  3);
  }
  qp_free(ev);
  qp_free(expect);
  qp_free(res);
  qp_free(lat);
  return rc;
}

static int pg_check(PGconn *conn, const qb_workload_t *w, const char *system, qb_report_t *rep) {
  qb_checker_t c = {.workload = w};
  PGresult *res = PQexec(conn, "SELECT id, debits_pending, debits_posted, credits_pending, "
                               "credits_posted FROM accounts ORDER BY id");
  int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : QP_EIO;
  for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
    qp_account_t a;
    memset(&a, 0, sizeof a);
    qp_u128 *f[5] = {&a.id, &a.debits_pending, &a.debits_posted, &a.credits_pending,
                     &a.credits_posted};
    for (int col = 0; rc == 0 && col < 5; col++) {
      const char *v = PQgetvalue(res, r, col);
      if (qp_u128_parse(v, strlen(v), f[col]) != 0) rc = QP_ECORRUPT; /* a negative balance */
    }
    if (rc == 0) qb_check_account(&c, system, &a);
  }
  PQclear(res);
  return qb_finish_check(rep, system, &c, rc);
}

int qb_run_pg(const qb_config_t *cfg, qb_report_t *rep, qb_mix_t mix, bool batched) {
  const char *mix_name = mix == QB_MIX_ZIPF ? "zipf" : "uniform";
  printf("-- postgres: %llu accounts, %s; (a) %llu transfers, one per transaction, %u "
         "connections",
         (unsigned long long)cfg->accounts, mix_name, (unsigned long long)cfg->pg_tx_transfers,
         cfg->pg_connections);
  if (batched)
    printf("; (b) %llu transfers in PL/pgSQL batches of %u",
           (unsigned long long)cfg->pg_batch_transfers, QP_BATCH_EVENTS_MAX);
  printf("\n");
  fflush(stdout);
  qb_workload_config_t wc;
  qb_workload_config_default(&wc);
  wc.accounts = cfg->accounts;
  wc.seed = cfg->seed;
  wc.mix = mix;
  qb_workload_t w;
  int rc = qb_workload_init(&w, &wc);
  if (rc != 0) return rc;
  PGconn *conn = pg_connect(cfg->pg_conninfo);
  text_buf_t cols[COL_COUNT];
  memset(cols, 0, sizeof cols);
  qb_result_counts_t counts = {0};
  char system[32];
  snprintf(system, sizeof system, "postgres_%s", mix_name);
  rc = conn ? 0 : QP_EIO;
  if (rc == 0) rc = pg_schema(conn, cfg->pg_schema, &w);
  if (rc == 0) rc = pg_setup(conn, &w, cols);
  if (rc == 0)
    rc = run_per_tx(cfg, &w, rep, mix == QB_MIX_ZIPF ? "pg_per_tx" : "pg_uniform_per_tx", &counts);
  if (rc == 0 && batched) rc = run_batched(cfg, conn, &w, rep, &counts, cols);
  if (rc == 0) rc = qb_check_counts(rep, system, &counts, &w);
  if (rc == 0) rc = pg_check(conn, &w, system, rep);
  for (uint32_t c = 0; c < COL_COUNT; c++) qp_free(cols[c].data);
  PQfinish(conn);
  qb_workload_deinit(&w);
  return rc;
}
