/*
 * log.h - one-line log records on stderr: time, level, module, message.
 * Failures are logged once, where they happen (the nginx habit).
 */
#ifndef QP_BASE_LOG_H
#define QP_BASE_LOG_H

typedef enum {
  QP_LOG_DEBUG = 0,
  QP_LOG_INFO = 1,
  QP_LOG_WARN = 2,
  QP_LOG_ERROR = 3,
  QP_LOG_OFF = 4
} qp_log_level_t;

/* Sets the minimum level printed (default QP_LOG_INFO). Thread-safe. */
void qp_log_set_level(qp_log_level_t level);

/* Parses "debug", "info", "warn", "error", "off"; returns 0 or QP_EINVAL. */
int qp_log_level_parse(const char *text, qp_log_level_t *out);

/* Logs one line; printf-style.  Thread-safe (one write(2) per line). */
void qp_log(qp_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define QP_LOG_DEBUG(mod, ...) qp_log(QP_LOG_DEBUG, mod, __VA_ARGS__)
#define QP_LOG_INFO(mod, ...) qp_log(QP_LOG_INFO, mod, __VA_ARGS__)
#define QP_LOG_WARN(mod, ...) qp_log(QP_LOG_WARN, mod, __VA_ARGS__)
#define QP_LOG_ERROR(mod, ...) qp_log(QP_LOG_ERROR, mod, __VA_ARGS__)

#endif
