/*
 * qmp.h - a small synchronous QMP client for qemu-xen.
 *
 * libxl starts qemu-xen with a QMP monitor on /var/run/xen/qmp-libxl-<domid>.
 * A QEMU monitor serves one client at a time, and libxl itself connects to
 * that socket for its own operations, so the backend holds a connection only
 * for the span of one operation (connect, greeting, qmp_capabilities, the
 * commands, close) - see docs/xen-backend.md.
 *
 * The protocol: QEMU sends one JSON object per line ("\r\n" terminated).  The
 * first is the greeting {"QMP": {...}}; the client answers
 * {"execute":"qmp_capabilities"}; then each {"execute":..., "id":...} gets one
 * {"return":...} or {"error":{"class":...,"desc":...}} carrying the same id.
 * Asynchronous {"event":...} objects may come in between and are skipped.
 *
 * Every wait is bounded by the timeout given at connect; malformed input
 * (bad JSON, wrong shapes, over-long lines) fails the operation with errno
 * EPROTO and a logged reason, never more.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#ifndef COLO_XEN_QMP_H
#define COLO_XEN_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#define COLO_QMP_MAX_LINE   (1u << 20)   /* longest reply line accepted */
#define COLO_QMP_MAX_DEPTH  64u          /* deepest nesting accepted */

struct colo_qmp;
struct colo_qmp_reply;

/* One command argument: a string, a boolean or an integer. */
enum colo_qmp_arg_type { COLO_QMP_STR, COLO_QMP_BOOL, COLO_QMP_INT };
struct colo_qmp_arg {
    const char *key;
    enum colo_qmp_arg_type type;
    const char *s;
    bool b;
    long long i;
};

/*
 * Connect to the QMP socket at path, read the greeting and negotiate
 * capabilities.  Returns 0 and *out, or -1 (errno: ETIMEDOUT, EPROTO, or
 * the connect error).
 */
int colo_qmp_connect(const char *path, unsigned timeout_ms, struct colo_qmp **out);

/* The same over an already connected stream socket (takes ownership of fd). */
int colo_qmp_open_fd(int fd, const char *label, unsigned timeout_ms, struct colo_qmp **out);

/*
 * Execute one command.  On success returns 0 and, if reply is not NULL,
 * the "return" member of the reply in *reply (free it with
 * colo_qmp_reply_free; it may be any JSON value).  A QMP error reply gives
 * -1 with errno EIO and its class and description logged and kept in
 * colo_qmp_last_error(); transport or protocol trouble gives -1 with errno
 * ETIMEDOUT, EPIPE/ECONNRESET or EPROTO.  After a transport or protocol
 * failure the connection is unusable (later calls fail at once).
 */
int colo_qmp_execute(struct colo_qmp *q, const char *cmd,
                     const struct colo_qmp_arg *args, size_t nargs,
                     struct colo_qmp_reply **reply);

/* The "return" value of a reply, or NULL. */
yajl_val colo_qmp_reply_value(const struct colo_qmp_reply *r);
void colo_qmp_reply_free(struct colo_qmp_reply *r);

/* "Class: description" of the last QMP error reply, or "" if none. */
const char *colo_qmp_last_error(const struct colo_qmp *q);

void colo_qmp_close(struct colo_qmp *q);

/*
 * Convenience: connect, run one command without arguments or with args,
 * close.  For the backend's one-shot uses ("stop", "cont", ...).
 */
int colo_qmp_oneshot(const char *path, unsigned timeout_ms, const char *cmd,
                     const struct colo_qmp_arg *args, size_t nargs);

#endif
