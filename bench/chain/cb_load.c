/*
 * cb_load.c - the load: every pre-signed transaction POSTed to
 * /v1/chain/txs over keep-alive connections spread evenly over the nodes
 * (libcurl multi, one thread, one request in flight per connection), in
 * batches of up to --batch ({"txs":[…]}; --batch 1 sends {"tx":…}), while
 * the same loop polls every node's /v1/chain/status every poll_ms and
 * records, per node, the monotonic time each height first showed: that is
 * the commit time of the block at that height as a client of that node
 * sees it.  A transaction's latency is the commit time, on the node it was
 * submitted to, of the block that carries it, minus the time its first
 * request was handed to curl (cb_check.c finds the block).
 *
 * Pacing: with a rate, transaction i is due at start + i/rate (an
 * open-loop schedule: a slow answer does not slow the offered load unless
 * every connection is busy), and an idle connection sends fresh ones once
 * a whole batch is due or the oldest due one waited --linger-ms, as a
 * batching client does; its latency counts from that scheduled time, so
 * the wait is in it.  Without a rate, every idle connection sends at once,
 * each request carrying whatever is due, up to the batch.
 * 503 / mempool_full and nonce_too_far are sent again 20 ms later; any
 * other refusal fails the run.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "chain_bench.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "chain/chain.h"

#define RETRY_DELAY_NS (20ull * 1000000ull)
#define STALL_NS (60ull * 1000000000ull)
#define RESPONSE_MAX (4u << 20)
#define STATUS_BYTES_MAX (1u << 20)
#define IDLE UINT32_MAX

typedef struct lane {
  CURL *easy;
  uint32_t node;            /* the node this connection goes to */
  uint32_t tx;              /* the first transaction in flight, or IDLE */
  uint32_t *batch;          /* the transactions in flight (batch_max) */
  uint32_t batch_len;       /* ... how many */
  qp_buf_t body;            /* the request body of a batch */
  qp_buf_t resp;            /* the answer */
} lane_t;

typedef struct poller {
  CURL *easy;
  bool busy;                /* a status request is in flight */
  uint64_t sent_ns;         /* when it (or the last one) left */
  uint64_t height;          /* the highest height seen */
  bool drained;             /* the last answer, sent after the last 202: empty mempool */
  qp_buf_t body;            /* the answer */
} poller_t;

typedef struct loader {
  const qcb_config_t *cfg;
  const qcb_net_t *net;
  qcb_txs_t *txs;
  qcb_load_t *load;
  CURLM *multi;
  struct curl_slist *headers;
  lane_t *lanes;
  uint32_t lanes_count;
  poller_t pollers[QCB_NODES_MAX];
  char url_txs[QCB_NODES_MAX][80];
  char url_status[QCB_NODES_MAX][80];
  uint32_t next;            /* the next transaction never sent */
  uint32_t lane_next;       /* the lane to offer work to first */
  uint32_t admitted;        /* 202s */
  uint32_t *retry;          /* FIFO ring of transactions to send again */
  uint64_t *retry_due;      /* ... and when */
  uint32_t retry_head, retry_count;
  uint64_t progress_ns;     /* the last admission or new height */
  int rc;
} loader_t;

/* Appends an answer to the qp_buf_t given (a lane's or a poller's). */
static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
  return qp_buf_append(ctx, p, size * n) ? size * n : 0;
}

/* ------------------------------------------------------------ lanes */

/* {"txs":["<hex>",…]} of the lane's batch, from each one's {"tx":"<hex>"}. */
static bool batch_body(loader_t *ld, lane_t *l) {
  qp_buf_reset(&l->body);
  bool ok = qp_buf_append(&l->body, "{\"txs\":[", 8);
  for (uint32_t i = 0; ok && i < l->batch_len; i++) {
    const qcb_tx_t *t = &ld->txs->txs[l->batch[i]];
    const char *one = ld->txs->bodies + t->body_off; /* {"tx":"<hex>"} */
    ok = (i == 0 || qp_buf_append(&l->body, ",", 1)) &&
         qp_buf_append(&l->body, one + 6, t->body_len - 7);
  }
  return ok && qp_buf_append(&l->body, "]}", 2);
}

/* When transaction i is due under a rate (start set). */
static uint64_t scheduled_ns(const loader_t *ld, uint32_t i) {
  return ld->load->start_ns + (uint64_t)i * 1000000000ull / ld->cfg->rate;
}

static void lane_send(loader_t *ld, lane_t *l, uint64_t now) {
  l->tx = l->batch[0];
  qp_buf_reset(&l->resp);
  if (ld->load->start_ns == 0) ld->load->start_ns = now;
  for (uint32_t i = 0; i < l->batch_len; i++) {
    qcb_tx_t *t = &ld->txs->txs[l->batch[i]];
    uint64_t due = ld->cfg->rate ? scheduled_ns(ld, l->batch[i]) : now;
    if (t->submit_ns == 0) t->submit_ns = due < now ? due : now;
    t->node = l->node;
  }
  curl_easy_setopt(l->easy, CURLOPT_URL, ld->url_txs[l->node]);
  if (ld->cfg->batch > 1) {
    QP_ASSERT(batch_body(ld, l));
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, l->body.data);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)l->body.len);
  } else {
    const qcb_tx_t *t = &ld->txs->txs[l->tx];
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, ld->txs->bodies + t->body_off);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
  }
  curl_multi_add_handle(ld->multi, l->easy);
}

/* With a rate and a linger: true when fresh transactions may leave now (a
 * whole batch is due, or the oldest due one waited the linger). */
static bool fresh_ready(const loader_t *ld, uint64_t now) {
  uint32_t rate = ld->cfg->rate;
  if (rate == 0 || ld->cfg->linger_ms == 0 || ld->load->start_ns == 0 ||
      ld->next >= ld->txs->count)
    return true;
  uint64_t first = scheduled_ns(ld, ld->next);
  if (now < first) return true; /* nothing due yet: next_due says so */
  uint64_t due = (now - ld->load->start_ns) * rate / 1000000000ull + 1 - ld->next;
  return due >= ld->cfg->batch || first + (uint64_t)ld->cfg->linger_ms * 1000000ull <= now;
}

/* The next transaction due now, or IDLE: a retry whose delay passed, else
 * the next fresh one when the schedule (and the linger) allows it. */
static uint32_t next_due(loader_t *ld, uint64_t now, bool fresh_ok) {
  if (ld->retry_count > 0 && ld->retry_due[ld->retry_head] <= now) {
    uint32_t tx = ld->retry[ld->retry_head];
    ld->retry_head = (ld->retry_head + 1) % ld->txs->count;
    ld->retry_count--;
    return tx;
  }
  if (ld->next >= ld->txs->count || !fresh_ok) return IDLE;
  uint32_t rate = ld->cfg->rate;
  uint64_t start = ld->load->start_ns ? ld->load->start_ns : now;
  if (rate != 0 && now < start + (uint64_t)ld->next * 1000000000ull / rate) return IDLE;
  return ld->next++;
}

static void retry_later(loader_t *ld, uint32_t tx, uint64_t now) {
  QP_ASSERT(ld->retry_count < ld->txs->count);
  uint32_t at = (ld->retry_head + ld->retry_count) % ld->txs->count;
  ld->retry[at] = tx;
  ld->retry_due[at] = now + RETRY_DELAY_NS;
  ld->retry_count++;
  ld->load->retries++;
}

static void refuse(loader_t *ld, const lane_t *l, uint32_t tx, long code, CURLcode result,
                   const char *what) {
  ld->load->refused++;
  if (ld->load->first_error[0] == '\0')
    snprintf(ld->load->first_error, sizeof ld->load->first_error,
             "node%u answered %ld (%s) to transaction %u: %.400s", l->node, code,
             result == CURLE_OK ? "ok" : curl_easy_strerror(result), tx, what);
  ld->rc = QP_EIO;
}

static void admitted(loader_t *ld, uint32_t tx, uint64_t now) {
  ld->txs->txs[tx].admitted_ns = now;
  ld->admitted++;
  ld->progress_ns = now;
  if (ld->admitted == ld->txs->count) ld->load->submitted_ns = now;
}

/* One answer of a batch: {"index","hash","result"[,"message"]}. */
static void batch_item_done(loader_t *ld, lane_t *l, uint32_t i, const json_t *item,
                            uint64_t now) {
  uint32_t tx = l->batch[i];
  char hex[2 * QP_HASH_SIZE + 1];
  qp_chain_hex(hex, ld->txs->txs[tx].hash, QP_HASH_SIZE);
  const char *result = json_string_value(json_object_get(item, "result"));
  const char *hash = json_string_value(json_object_get(item, "hash"));
  if (result != NULL && strcmp(result, "ok") == 0 && hash != NULL && strcmp(hash, hex) == 0)
    admitted(ld, tx, now);
  else if (result != NULL &&
           (strcmp(result, "mempool_full") == 0 || strcmp(result, "nonce_too_far") == 0))
    retry_later(ld, tx, now);
  else
    refuse(ld, l, tx, 200, CURLE_OK, result ? result : "(no result)");
}

static void batch_done(loader_t *ld, lane_t *l, uint64_t now) {
  json_t *root = json_loadb(l->resp.data, l->resp.len, 0, NULL);
  json_t *results = json_object_get(root, "results");
  if (json_array_size(results) != l->batch_len) {
    refuse(ld, l, l->tx, 200, CURLE_OK, l->resp.data ? l->resp.data : "");
  } else {
    for (uint32_t i = 0; i < l->batch_len; i++)
      batch_item_done(ld, l, i, json_array_get(results, i), now);
  }
  json_decref(root);
}

static void lane_done(loader_t *ld, lane_t *l, CURLcode result, uint64_t now) {
  long code = 0;
  curl_easy_getinfo(l->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(ld->multi, l->easy);
  const char *resp = l->resp.data ? l->resp.data : "";
  char hex[2 * QP_HASH_SIZE + 1];
  qp_chain_hex(hex, ld->txs->txs[l->tx].hash, QP_HASH_SIZE);
  if (result == CURLE_OK && code == 200 && ld->cfg->batch > 1) {
    batch_done(ld, l, now);
  } else if (result == CURLE_OK && code == 202 && strstr(resp, hex) != NULL) {
    admitted(ld, l->tx, now);
  } else if (result == CURLE_OK && ld->cfg->batch == 1 &&
             (code == 503 || strstr(resp, "\"nonce_too_far\"") != NULL)) {
    retry_later(ld, l->tx, now);
  } else {
    refuse(ld, l, l->tx, code, result, resp);
  }
  l->tx = IDLE;
  l->batch_len = 0;
}

/* ---------------------------------------------------------- pollers */

static void poll_start(loader_t *ld, uint32_t k, uint64_t now) {
  poller_t *p = &ld->pollers[k];
  qp_buf_reset(&p->body);
  p->busy = true;
  p->sent_ns = now;
  curl_multi_add_handle(ld->multi, p->easy);
}

/* Records the heights node k shows for the first time. */
static void poll_done(loader_t *ld, uint32_t k, CURLcode result, uint64_t now) {
  poller_t *p = &ld->pollers[k];
  long code = 0;
  curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(ld->multi, p->easy);
  p->busy = false;
  qcb_status_t st;
  if (result != CURLE_OK || code != 200 ||
      qcb_status_parse(p->body.data, p->body.len, &st) != 0) {
    fprintf(stderr, "chain-bench: node%u's status failed (%s, HTTP %ld)\n", k,
            curl_easy_strerror(result), code);
    ld->rc = QP_EIO;
    return;
  }
  ld->load->polls++;
  if (st.height >= QCB_HEIGHTS_MAX) {
    fprintf(stderr, "chain-bench: more than %u blocks; raise QCB_HEIGHTS_MAX\n",
            QCB_HEIGHTS_MAX);
    ld->rc = QP_ELIMIT;
    return;
  }
  for (uint64_t h = p->height + 1; h <= st.height; h++)
    ld->load->commit_ns[(uint64_t)k * QCB_HEIGHTS_MAX + h] = now;
  if (st.height > p->height) ld->progress_ns = now;
  if (st.height > ld->load->heights_seen) ld->load->heights_seen = st.height;
  if (st.height > p->height) p->height = st.height;
  p->drained = ld->admitted == ld->txs->count && p->sent_ns > ld->load->submitted_ns &&
               st.mempool_txs == 0;
}

/* True once every node, asked after the last 202, shows an empty mempool
 * at the same height. */
static bool all_drained(const loader_t *ld) {
  for (uint32_t k = 0; k < ld->net->count; k++)
    if (!ld->pollers[k].drained || ld->pollers[k].height != ld->pollers[0].height) return false;
  return true;
}

/* --------------------------------------------------------- the loop */

/* Idle lanes take what is due, starting after the lane that sent last, so
 * that a light load still goes round robin over the nodes. */
static void start_idle(loader_t *ld, uint64_t now) {
  for (uint32_t k = 0; k < ld->lanes_count; k++) {
    uint32_t i = (ld->lane_next + k) % ld->lanes_count;
    lane_t *l = &ld->lanes[i];
    if (l->tx != IDLE) continue;
    uint32_t tx = IDLE;
    bool ready = fresh_ready(ld, now);
    while (l->batch_len < ld->cfg->batch && (tx = next_due(ld, now, ready)) != IDLE)
      l->batch[l->batch_len++] = tx;
    if (l->batch_len > 0) {
      lane_send(ld, l, now);
      ld->lane_next = (i + 1) % ld->lanes_count;
    }
    if (tx == IDLE) break;
  }
  uint64_t period = (uint64_t)ld->cfg->poll_ms * 1000000ull;
  for (uint32_t k = 0; k < ld->net->count; k++)
    if (!ld->pollers[k].busy && now - ld->pollers[k].sent_ns >= period) poll_start(ld, k, now);
}

static void take_done(loader_t *ld) {
  int queued = 0;
  CURLMsg *m;
  while ((m = curl_multi_info_read(ld->multi, &queued)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    uint64_t now = qp_clock_mono_ns();
    char *priv = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    CURLcode result = m->data.result;
    if (priv >= (char *)ld->pollers && priv < (char *)(ld->pollers + QCB_NODES_MAX))
      poll_done(ld, (uint32_t)((poller_t *)(void *)priv - ld->pollers), result, now);
    else lane_done(ld, (lane_t *)(void *)priv, result, now);
  }
}

static int loop(loader_t *ld) {
  ld->progress_ns = qp_clock_mono_ns();
  while (ld->rc == 0) {
    uint64_t now = qp_clock_mono_ns();
    start_idle(ld, now);
    int running = 0;
    curl_multi_perform(ld->multi, &running);
    take_done(ld);
    now = qp_clock_mono_ns();
    if (all_drained(ld)) {
      ld->load->end_ns = now;
      break;
    }
    if (now - ld->progress_ns > STALL_NS) {
      fprintf(stderr, "chain-bench: no admission and no new block for 60 s (%u of %u "
              "admitted, %u retries waiting)\n", ld->admitted, ld->txs->count,
              ld->retry_count);
      ld->rc = QP_EIO;
    }
    curl_multi_poll(ld->multi, NULL, 0, 1, NULL);
  }
  return ld->rc;
}

/* ------------------------------------------------------- set-up, end */

static CURL *easy_new(loader_t *ld, void *priv) {
  CURL *e = curl_easy_init();
  if (e == NULL) return NULL;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, ld->headers);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)priv);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  return e;
}

static int loader_init(loader_t *ld) {
  uint32_t nodes = ld->net->count, per = ld->cfg->lanes_per_node;
  ld->multi = curl_multi_init();
  ld->headers = curl_slist_append(NULL, "Content-Type: application/json");
  ld->headers = curl_slist_append(ld->headers, "Expect:");
  ld->lanes_count = nodes * per;
  ld->lanes = qp_calloc(ld->lanes_count, sizeof *ld->lanes);
  ld->retry = qp_malloc((size_t)ld->txs->count * sizeof *ld->retry);
  ld->retry_due = qp_malloc((size_t)ld->txs->count * sizeof *ld->retry_due);
  ld->load->commit_ns = qp_calloc((size_t)nodes * QCB_HEIGHTS_MAX, sizeof(uint64_t));
  if (!ld->multi || !ld->headers || !ld->lanes || !ld->retry || !ld->retry_due ||
      !ld->load->commit_ns)
    return QP_ENOMEM;
  curl_multi_setopt(ld->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)per + 1);
  /* Every lane's and poller's connection stays open between requests.  The
   * multi handle's connection cache otherwise holds 4 x the handles added
   * at the time, and an idle lane's handle is removed until it sends again:
   * at a fixed rate most are idle, so the cache shrank below the lanes and
   * closed connections it was about to need (a new TCP connection and a new
   * server thread for most requests, ~10-20 % of a node's CPU). */
  curl_multi_setopt(ld->multi, CURLMOPT_MAXCONNECTS, (long)(nodes * (per + 1)));
  for (uint32_t k = 0; k < nodes; k++) {
    snprintf(ld->url_txs[k], sizeof ld->url_txs[k], "%s/v1/chain/txs", ld->net->url[k]);
    snprintf(ld->url_status[k], sizeof ld->url_status[k], "%s/v1/chain/status",
             ld->net->url[k]);
    poller_t *p = &ld->pollers[k];
    p->body.max = STATUS_BYTES_MAX;
    if ((p->easy = easy_new(ld, p)) == NULL) return QP_ENOMEM;
    curl_easy_setopt(p->easy, CURLOPT_URL, ld->url_status[k]);
    curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, &p->body);
  }
  for (uint32_t i = 0; i < ld->lanes_count; i++) {
    lane_t *l = &ld->lanes[i];
    l->node = i % nodes; /* round robin: consecutive transactions go to different nodes */
    l->tx = IDLE;
    l->batch = qp_malloc((size_t)ld->cfg->batch * sizeof *l->batch);
    l->body.max = (size_t)ld->cfg->batch * 1024u + 64u;
    l->resp.max = RESPONSE_MAX;
    if (l->batch == NULL || (l->easy = easy_new(ld, l)) == NULL) return QP_ENOMEM;
    curl_easy_setopt(l->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(l->easy, CURLOPT_WRITEDATA, &l->resp);
  }
  return 0;
}

static void loader_deinit(loader_t *ld) {
  for (uint32_t i = 0; ld->lanes != NULL && i < ld->lanes_count; i++) {
    lane_t *l = &ld->lanes[i];
    if (l->tx != IDLE) curl_multi_remove_handle(ld->multi, l->easy);
    if (l->easy != NULL) curl_easy_cleanup(l->easy);
    qp_free(l->batch);
    qp_buf_free(&l->body);
    qp_buf_free(&l->resp);
  }
  for (uint32_t k = 0; k < QCB_NODES_MAX; k++) {
    poller_t *p = &ld->pollers[k];
    if (p->busy) curl_multi_remove_handle(ld->multi, p->easy);
    if (p->easy != NULL) curl_easy_cleanup(p->easy);
    qp_buf_free(&p->body);
  }
  qp_free(ld->lanes);
  qp_free(ld->retry);
  qp_free(ld->retry_due);
  curl_slist_free_all(ld->headers);
  if (ld->multi != NULL) curl_multi_cleanup(ld->multi);
}

int qcb_load_run(const qcb_config_t *cfg, const qcb_net_t *net, qcb_txs_t *txs,
                 qcb_load_t *load, void (*at_end)(void *ctx), void *ctx) {
  memset(load, 0, sizeof *load);
  loader_t *ld = qp_calloc(1, sizeof *ld);
  if (ld == NULL) return QP_ENOMEM;
  *ld = (loader_t){.cfg = cfg, .net = net, .txs = txs, .load = load};
  int rc = loader_init(ld);
  if (rc == 0) rc = loop(ld);
  if (rc == 0) at_end(ctx);
  if (load->refused != 0) fprintf(stderr, "chain-bench: %s\n", load->first_error);
  loader_deinit(ld);
  qp_free(ld);
  return rc;
}

void qcb_load_free(qcb_load_t *load) {
  qp_free(load->commit_ns);
  load->commit_ns = NULL;
}
