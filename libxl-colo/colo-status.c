/*
 * colo-status.c - engine status as JSON, for colo-ctl, xl-colo colo-status
 * and monitoring.  Times are in milliseconds with microsecond precision.
 */
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "colo-engine.h"

static void str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void num(yajl_gen g, const char *key, uint64_t v)
{
    str(g, key);
    yajl_gen_integer(g, (long long)v);
}

static void ms(yajl_gen g, const char *key, uint64_t ns)
{
    str(g, key);
    yajl_gen_double(g, (double)(ns / 1000) / 1000.0);
}

int colo_status_json(const struct colo_engine *e, const char *role, char **out, size_t *len)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t blen;
    int rc = -1;

    if (!g)
        return -1;
    yajl_gen_map_open(g);
    str(g, "role"); str(g, role);
    str(g, "state"); str(g, colo_state_name(e->state));
    str(g, "domain"); str(g, e->info.name);
    str(g, "peer_domain"); str(g, e->peer_domain);
    num(g, "nr_pages", e->info.nr_pages);
    num(g, "checkpoints", e->stats.checkpoints);
    str(g, "pause_ms");
    yajl_gen_map_open(g);
    ms(g, "last", e->stats.pause_last_ns);
    ms(g, "median", colo_stats_median_pause(&e->stats));
    ms(g, "max", e->stats.pause_max_ns);
    yajl_gen_map_close(g);
    num(g, "pages_last", e->stats.pages_last);
    num(g, "pages_total", e->stats.pages_total);
    num(g, "svm_dirty_last", e->stats.svm_dirty_last);
    /* Cumulative: the counters outlive the channel (colo_chan_close keeps them). */
    num(g, "bytes_sent", e->chan.bytes_sent);
    num(g, "bytes_received", e->chan.bytes_recv);
    str(g, "initial_copy");
    yajl_gen_map_open(g);
    num(g, "pages_done", e->stats.initial_done);
    num(g, "pages_total", e->stats.initial_total);
    yajl_gen_map_close(g);
    str(g, "triggers");
    yajl_gen_map_open(g);
    for (int t = 0; t < COLO_TRIGGER__MAX; t++)
        num(g, colo_trigger_name((enum colo_trigger)t), e->stats.triggers[t]);
    yajl_gen_map_close(g);
    num(g, "failovers", e->stats.failovers);
    if (e->dom && e->be->guest_progress)
        num(g, "guest_progress", e->be->guest_progress(e->dom));
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &buf, &blen) == yajl_gen_status_ok && (*out = malloc(blen + 1))) {
        memcpy(*out, buf, blen);
        (*out)[blen] = '\0';
        *len = blen;
        rc = 0;
    }
    yajl_gen_free(g);
    return rc;
}
