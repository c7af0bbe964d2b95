/* colo-log.c - see colo-log.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colo-log.h"

static const char *log_prog = "colo";
static enum colo_log_level log_max = COLO_LOG_INFO;
/* COLO_LOG_TIME set (not "0"): each line starts with CLOCK_MONOTONIC in
 * seconds, the same clock for every process on the host, so that the logs
 * of a primary and a secondary there can be read side by side (the Xen
 * lab does). */
static bool log_time;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void colo_log_init(const char *prog, enum colo_log_level max)
{
    const char *t = getenv("COLO_LOG_TIME");

    log_prog = prog;
    log_max = max;
    log_time = t && *t && strcmp(t, "0") != 0;
}

static void vlog(enum colo_log_level lvl, const char *suffix, const char *fmt, va_list ap)
{
    char line[1024];
    int n;

    if (lvl > log_max)
        return;
    if (log_time) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        n = snprintf(line, sizeof(line), "[%lld.%03ld] %s[%d]: %s: ", (long long)ts.tv_sec,
                     ts.tv_nsec / 1000000, log_prog, (int)getpid(), level_names[lvl]);
    } else {
        n = snprintf(line, sizeof(line), "%s[%d]: %s: ", log_prog, (int)getpid(), level_names[lvl]);
    }
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    /* One write per line so lines of concurrent processes do not interleave. */
    fprintf(stderr, "%s%s%s\n", line, suffix ? ": " : "", suffix ? suffix : "");
    fflush(stderr);
}

void colo_log(enum colo_log_level lvl, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(lvl, NULL, fmt, ap);
    va_end(ap);
}

void colo_log_errno(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(COLO_LOG_ERROR, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}
