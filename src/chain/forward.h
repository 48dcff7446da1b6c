/*
 * forward.h - the frame in which validators forward the transactions they
 * admitted from clients to each other (docs/chain.md, "The node"):
 *
 *     u8 channel (3) | u32 count (LE) | count x (u32 length (LE) | tx bytes)
 *
 * Writing appends to a qp_buf_t; reading walks a frame from a peer without
 * trusting it: every length is checked against the bytes that remain, and
 * the walk stops at the first element that does not fit.  Pure functions,
 * no I/O (the node's outbox and its flushing are in forward.c).
 */
#ifndef QP_CHAIN_FORWARD_H
#define QP_CHAIN_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define QP_CHAIN_FWD_CHANNEL 3u /* the frame's first byte */
#define QP_CHAIN_FWD_HEADER 5u  /* channel + count */

/* Appends one transaction to a frame being built in buf (the header is
 * written first when buf is empty); returns false when buf refused the
 * bytes (out of memory or past buf->max), with buf as it was. */
bool qp_chain_fwd_append(qp_buf_t *buf, uint32_t *count, const uint8_t *tx, size_t len);

/* Writes count into the header of a built frame (buf->len >= HEADER). */
void qp_chain_fwd_seal(qp_buf_t *buf, uint32_t count);

/* A walk over a received frame. */
typedef struct qp_chain_fwd_reader {
  const uint8_t *bytes;
  size_t len;
  size_t at;       /* the next element's offset */
  uint32_t left;   /* elements the header still promises */
} qp_chain_fwd_reader_t;

/* Starts a walk; false when the frame is not a forwarded-transactions
 * frame (too short, another channel). */
bool qp_chain_fwd_open(qp_chain_fwd_reader_t *r, const uint8_t *bytes, size_t len);

/* The next transaction's bytes (borrowed from the frame); false at the end
 * or at the first element whose length is 0 or passes the frame's end. */
bool qp_chain_fwd_next(qp_chain_fwd_reader_t *r, const uint8_t **tx, size_t *tx_len);

/* True when the walk consumed the frame exactly: every promised element
 * read and no byte left over (false for a malformed frame). */
bool qp_chain_fwd_done(const qp_chain_fwd_reader_t *r);

#endif
