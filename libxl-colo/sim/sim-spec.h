/* sim-spec.h - the sim backend's option string, parsed and checked. */
#ifndef SIM_SPEC_H
#define SIM_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "sim-guest.h"

struct sim_spec {
    uint64_t mem_bytes;
    uint64_t rate;          /* page writes per second */
    enum sim_pattern pattern;
    uint32_t hot_pct;
    uint64_t seed;
    uint32_t batch;
    bool tsc;
};

/* Parse "key=value,..."; NULL or "" gives the defaults.  On error logs the
 * offending key and value and returns -1. */
int sim_spec_parse(const char *options, struct sim_spec *out);
const char *sim_pattern_name(enum sim_pattern p);

#endif
