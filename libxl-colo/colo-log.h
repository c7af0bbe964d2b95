/*
 * colo-log.h - logging for every xen-colo process.
 *
 * Lines go to stderr as "<prog>[pid]: level: message", after "[seconds] "
 * with COLO_LOG_TIME set (colo-log.c says why).  Errors always name
 * what was wrong (the key, the record, the domain) so an operator can act.
 */
#ifndef COLO_LOG_H
#define COLO_LOG_H

enum colo_log_level { COLO_LOG_ERROR = 0, COLO_LOG_WARN, COLO_LOG_INFO, COLO_LOG_DEBUG };

void colo_log_init(const char *prog, enum colo_log_level max);
void colo_log(enum colo_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Like colo_log(ERROR) with ": strerror(errno)" appended. */
void colo_log_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define colo_err(...)   colo_log(COLO_LOG_ERROR, __VA_ARGS__)
#define colo_warn(...)  colo_log(COLO_LOG_WARN, __VA_ARGS__)
#define colo_info(...)  colo_log(COLO_LOG_INFO, __VA_ARGS__)
#define colo_debug(...) colo_log(COLO_LOG_DEBUG, __VA_ARGS__)

#endif
