/* proxy-status.c - see proxy-status.h. */
#include <stddef.h>

#include "colo-json.h"
#include "proxy-status.h"

/* What went through each port, and the defects of the streams they read. */
static void ports_json(yajl_gen g, struct port *const *ports, int nports)
{
    uint64_t bad = 0;

    colo_json_str(g, "ports");
    yajl_gen_array_open(g);
    for (int i = 0; i < nports; i++) {
        const struct port_stats *ps;

        if (!ports[i])
            continue;
        ps = &ports[i]->st;
        bad += ps->malformed + ps->truncated;
        yajl_gen_map_open(g);
        colo_json_kstr(g, "name", ports[i]->name);
        colo_json_num(g, "frames_in", ps->frames_in);
        colo_json_num(g, "frames_out", ps->frames_out);
        colo_json_num(g, "bytes_in", ps->bytes_in);
        colo_json_num(g, "bytes_out", ps->bytes_out);
        colo_json_num(g, "connects", ps->connects);
        colo_json_num(g, "disconnects", ps->disconnects);
        colo_json_num(g, "malformed", ps->malformed);
        colo_json_num(g, "truncated", ps->truncated);
        colo_json_num(g, "drops", ps->drops);
        colo_json_num(g, "csum_filled", ps->csum_filled);
        colo_json_num(g, "segmented", ps->segmented);
        colo_json_num(g, "oversize", ps->oversize);
        colo_json_num(g, "reopened", ps->reopened);
        colo_json_num(g, "lost_gone", ps->lost_gone);
        colo_json_num(g, "tx_refused", ps->tx_refused);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    colo_json_num(g, "framing_errors", bad);
}

char *proxy_status_json(const struct cmp *c, bool have_engine, bool subscribed,
                        struct port *const *ports, int nports)
{
    const struct cmp_stats *st = cmp_stats(c);
    yajl_gen g = yajl_gen_alloc(NULL);
    char *out = NULL;

    if (!g)
        return NULL;
    yajl_gen_map_open(g);
    colo_json_kstr(g, "role", "proxy");
    colo_json_kstr(g, "state", cmp_state(c));
    colo_json_str(g, "engine");
    yajl_gen_bool(g, have_engine);
    colo_json_str(g, "subscribed");     /* the engine waits for our releases */
    yajl_gen_bool(g, subscribed);
    colo_json_num(g, "released", st->released);
    colo_json_num(g, "released_bytes", st->released_bytes);
    colo_json_num(g, "held", st->held_frames);
    colo_json_num(g, "held_bytes", st->held_bytes);
    colo_json_num(g, "svm_frames", st->svm_frames);
    colo_json_num(g, "svm_dropped", st->svm_dropped);
    colo_json_num(g, "connections", st->conns);
    colo_json_num(g, "divergences", st->divergences);
    colo_json_num(g, "checkpoints", st->checkpoints);
    colo_json_num(g, "malformed", st->malformed);
    colo_json_num(g, "svm_stalls", st->svm_stalls);
    colo_json_num(g, "window_clamped", st->window_clamped);
    colo_json_str(g, "requests");
    yajl_gen_map_open(g);
    for (int t = 0; t < COLO_TRIGGER__MAX; t++)
        if (t != COLO_TRIGGER_PERIODIC && t != COLO_TRIGGER_INITIAL && t != COLO_TRIGGER_REQUEST)
            colo_json_num(g, colo_trigger_name((enum colo_trigger)t), st->requests[t]);
    yajl_gen_map_close(g);
    ports_json(g, ports, nports);
    yajl_gen_map_close(g);
    colo_json_finish(g, &out, NULL);
    return out;
}
