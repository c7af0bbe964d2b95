/*
 * colo-status.c - engine status as JSON, for colo-ctl, xl-colo colo-status
 * and monitoring.  Times are in milliseconds with microsecond precision.
 */
#include "colo-engine.h"
#include "colo-json.h"

int colo_status_json(const struct colo_engine *e, const char *role, char **out, size_t *len)
{
    yajl_gen g = yajl_gen_alloc(NULL);

    if (!g)
        return -1;
    yajl_gen_map_open(g);
    colo_json_kstr(g, "role", role);
    colo_json_kstr(g, "state", colo_state_name(e->state));
    colo_json_kstr(g, "domain", e->info.name);
    colo_json_kstr(g, "peer_domain", e->peer_domain);
    colo_json_num(g, "nr_pages", e->info.nr_pages);
    colo_json_num(g, "checkpoints", e->stats.checkpoints);
    colo_json_str(g, "pause_ms");
    yajl_gen_map_open(g);
    colo_json_ms(g, "last", e->stats.pause_last_ns);
    colo_json_ms(g, "median", colo_stats_median_pause(&e->stats));
    colo_json_ms(g, "max", e->stats.pause_max_ns);
    yajl_gen_map_close(g);
    /* Where the last pause went (primary; all zero on the secondary). */
    colo_json_str(g, "last_pause_phases_ms");
    yajl_gen_map_open(g);
    for (int p = 0; p < COLO_PHASE__MAX; p++)
        colo_json_ms(g, colo_phase_name((enum colo_phase)p), e->stats.phase_last_ns[p]);
    yajl_gen_map_close(g);
    colo_json_num(g, "pages_last", e->stats.pages_last);
    colo_json_num(g, "pages_total", e->stats.pages_total);
    colo_json_num(g, "svm_dirty_last", e->stats.svm_dirty_last);
    /* Before the pause: the secondary suspending while the PVM ran on. */
    colo_json_ms(g, "last_svm_suspend_ms", e->stats.svm_suspend_last_ns);
    /* Cumulative: the counters outlive the channel (colo_chan_close keeps them). */
    colo_json_num(g, "bytes_sent", e->chan.bytes_sent);
    colo_json_num(g, "bytes_received", e->chan.bytes_recv);
    colo_json_str(g, "initial_copy");
    yajl_gen_map_open(g);
    colo_json_num(g, "pages_done", e->stats.initial_done);
    colo_json_num(g, "pages_total", e->stats.initial_total);
    yajl_gen_map_close(g);
    colo_json_str(g, "triggers");
    yajl_gen_map_open(g);
    for (int t = 0; t < COLO_TRIGGER__MAX; t++)
        colo_json_num(g, colo_trigger_name((enum colo_trigger)t), e->stats.triggers[t]);
    yajl_gen_map_close(g);
    colo_json_num(g, "failovers", e->stats.failovers);
    if (e->dom && e->be->guest_progress)
        colo_json_num(g, "guest_progress", e->be->guest_progress(e->dom));
    yajl_gen_map_close(g);
    return colo_json_finish(g, out, len);
}
