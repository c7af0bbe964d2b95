/* proxy-status.c - see proxy-status.h. */
#include <stddef.h>

#include "colo-json.h"
#include "proxy-status.h"

char *proxy_status_json(const struct cmp *c, bool have_engine)
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
    colo_json_str(g, "requests");
    yajl_gen_map_open(g);
    for (int t = 0; t < COLO_TRIGGER__MAX; t++)
        if (t != COLO_TRIGGER_PERIODIC && t != COLO_TRIGGER_INITIAL && t != COLO_TRIGGER_REQUEST)
            colo_json_num(g, colo_trigger_name((enum colo_trigger)t), st->requests[t]);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    colo_json_finish(g, &out, NULL);
    return out;
}
