/*
 * err.h - quipu's single error namespace.
 *
 * Every function that can fail returns an int: 0 on success or a negative
 * QP_E* constant.  The constants, their names and their messages are all
 * generated from one X-macro so that the three can never drift apart (the
 * libuv habit).  Human-readable detail about *which* input was wrong goes
 * into a caller-supplied buffer, never into the code itself.
 */
#ifndef QP_BASE_ERR_H
#define QP_BASE_ERR_H

#define QP_ERR_MAP(XX)                                                        \
  XX(INVAL, "invalid argument")                                               \
  XX(NOMEM, "out of memory")                                                  \
  XX(IO, "input/output error")                                                \
  XX(NOSPC, "no space left on device")                                        \
  XX(CORRUPT, "data is corrupt")                                              \
  XX(TORN, "torn record at the end of the journal")                           \
  XX(LOCKED, "data directory is locked by another process")                   \
  XX(NOTFOUND, "not found")                                                   \
  XX(EXISTS, "already exists")                                                \
  XX(RANGE, "value out of range")                                             \
  XX(LIMIT, "limit exceeded")                                                 \
  XX(STOPPED, "stopped after a fatal error (fail-stop)")                      \
  XX(NOTSUP, "operation not supported")                                       \
  XX(DB, "index database error")                                              \
  XX(PARSE, "cannot parse input")                                             \
  XX(BADSIG, "signature does not verify")                                     \
  XX(BADPROOF, "Merkle proof does not match the root")                        \
  XX(AGAIN, "not ready yet; retry shortly")

enum {
  QP_OK = 0,
  QP_ERR__FIRST = -1000,
#define QP__ERR_ENUM(name, msg) QP_E##name,
  QP_ERR_MAP(QP__ERR_ENUM)
#undef QP__ERR_ENUM
  QP_ERR__LAST
};

/* Returns the constant's name ("QP_ECORRUPT"); static storage, never NULL. */
const char *qp_err_name(int err);

/* Returns a one-line English message for err; static storage, never NULL. */
const char *qp_strerror(int err);

#endif
