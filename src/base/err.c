/*
 * err.c - names and messages for the QP_E* error constants, generated from
 * the same QP_ERR_MAP as the enum itself.
 */
#include "base/err.h"

const char *qp_err_name(int err) {
  switch (err) {
  case QP_OK:
    return "QP_OK";
#define QP__ERR_NAME(name, msg)                                               \
  case QP_E##name:                                                            \
    return "QP_E" #name;
    QP_ERR_MAP(QP__ERR_NAME)
#undef QP__ERR_NAME
  default:
    return "QP_E_UNKNOWN";
  }
}

const char *qp_strerror(int err) {
  switch (err) {
  case QP_OK:
    return "success";
#define QP__ERR_MSG(name, msg)                                                \
  case QP_E##name:                                                            \
    return msg;
    QP_ERR_MAP(QP__ERR_MSG)
#undef QP__ERR_MSG
  default:
    return "unknown error";
  }
}
