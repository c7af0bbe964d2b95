/*
 * proxy-status.h - colo-proxy's status as JSON, answered on its control
 * socket (colo-ctl status) and printed when the daemon ends.
 */
#ifndef COLO_PROXY_STATUS_H
#define COLO_PROXY_STATUS_H

#include <stdbool.h>

#include "compare.h"
#include "port.h"

/* A malloc'd JSON object, or NULL if out of memory.  ports[0..nports) may
 * hold NULLs (a port not in use). */
char *proxy_status_json(const struct cmp *c, bool have_engine, bool subscribed,
                        struct port *const *ports, int nports);

#endif
