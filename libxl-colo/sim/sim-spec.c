/* sim-spec.c - see sim-spec.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "colo-log.h"
#include "colo-proto.h"
#include "sim-spec.h"

#define SIM_MAX_MEM (64ull << 30)

static const char *const pattern_names[] = { "uniform", "hotset", "sequential" };

const char *sim_pattern_name(enum sim_pattern p)
{
    return (unsigned)p < 3 ? pattern_names[p] : "unknown";
}

/* A decimal number with an optional K/M/G suffix (powers of 1024). */
static int parse_size(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n;

    if (!*v || *v == '-')
        return -1;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || end == v)
        return -1;
    switch (*end) {
    case 'K': case 'k': n <<= 10; end++; break;
    case 'M': case 'm': n <<= 20; end++; break;
    case 'G': case 'g': n <<= 30; end++; break;
    default: break;
    }
    if (*end)
        return -1;
    *out = n;
    return 0;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long n;

    if (!*v || *v == '-')
        return -1;
    errno = 0;
    n = strtoull(v, &end, 0);
    if (errno || *end || n > max)
        return -1;
    *out = n;
    return 0;
}

static int set_option(struct sim_spec *s, const char *key, const char *val)
{
    uint64_t n;

    if (strcmp(key, "mem") == 0) {
        if (parse_size(val, &n) < 0 || n < 2 * COLO_PAGE_SIZE || n > SIM_MAX_MEM ||
            n % COLO_PAGE_SIZE) {
            colo_err("sim option mem=%s: want a size of 8K..64G, a multiple of 4K", val);
            return -1;
        }
        s->mem_bytes = n;
    } else if (strcmp(key, "rate") == 0) {
        if (parse_u64(val, 100000000, &n) < 0) {
            colo_err("sim option rate=%s: want page writes per second, 0..100000000", val);
            return -1;
        }
        s->rate = n;
    } else if (strcmp(key, "pattern") == 0) {
        for (int i = 0; i < 3; i++)
            if (strcmp(val, pattern_names[i]) == 0) {
                s->pattern = (enum sim_pattern)i;
                return 0;
            }
        colo_err("sim option pattern=%s: want uniform, hotset or sequential", val);
        return -1;
    } else if (strcmp(key, "hot") == 0) {
        if (parse_u64(val, 100, &n) < 0 || n == 0) {
            colo_err("sim option hot=%s: want a percentage, 1..100", val);
            return -1;
        }
        s->hot_pct = (uint32_t)n;
    } else if (strcmp(key, "seed") == 0) {
        if (parse_u64(val, UINT64_MAX, &n) < 0) {
            colo_err("sim option seed=%s: want a number", val);
            return -1;
        }
        s->seed = n;
    } else if (strcmp(key, "batch") == 0) {
        if (parse_u64(val, 4096, &n) < 0 || n == 0) {
            colo_err("sim option batch=%s: want 1..4096 pages per step", val);
            return -1;
        }
        s->batch = (uint32_t)n;
    } else if (strcmp(key, "tsc") == 0) {
        if (strcmp(val, "0") && strcmp(val, "1")) {
            colo_err("sim option tsc=%s: want 0 or 1", val);
            return -1;
        }
        s->tsc = val[0] == '1';
    } else {
        colo_err("sim option '%s' unknown (known: mem, rate, pattern, hot, seed, batch, tsc)", key);
        return -1;
    }
    return 0;
}

int sim_spec_parse(const char *options, struct sim_spec *out)
{
    char *copy, *tok, *save = NULL;
    int rc = 0;

    *out = (struct sim_spec){
        .mem_bytes = 64ull << 20, .rate = 0, .pattern = SIM_PATTERN_UNIFORM,
        .hot_pct = 10, .seed = 1, .batch = 64,
    };
    if (!options || !*options)
        return 0;
    copy = strdup(options);
    if (!copy)
        return -1;
    for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');

        if (!eq) {
            colo_err("sim option '%s' has no value (want key=value)", tok);
            rc = -1;
            break;
        }
        *eq = '\0';
        rc = set_option(out, tok, eq + 1);
    }
    free(copy);
    return rc;
}
