/*
 * cutter.h - a record-aware relay that breaks a replication stream at an
 * exact point, for failure tests.
 *
 * It forwards whole records between two sockets and, when its rule fires,
 * shuts both down - what the secondary sees when the primary's host dies
 * at that point of the protocol (and vice versa).  The rule: once the
 * `arm_nth`-th record of type `arm_type` has passed in direction `dir`,
 * cut at the `cut_nth`-th record of type `cut_type` that follows in the
 * same direction, before forwarding it (or just after, with `after`).
 */
#ifndef CUTTER_H
#define CUTTER_H

#include <stdbool.h>
#include <stdint.h>

enum cut_dir { CUT_A_TO_B = 0, CUT_B_TO_A = 1 };

struct cut_rule {
    enum cut_dir dir;
    uint32_t arm_type;      /* 0: armed from the start */
    unsigned arm_nth;
    uint32_t cut_type;      /* 0: never cut (plain relay) */
    unsigned cut_nth;
    bool after;
};

struct cut_result {
    bool fired;
    uint64_t records[2];    /* records forwarded per direction */
};

/* Relay between a and b until one side closes or the rule fires.  Closes
 * neither fd; shuts both down when it stops. */
void cutter_run(int a, int b, const struct cut_rule *rule, struct cut_result *res);

/* "NAME:N" (NAME as colo_rec_name() prints it, N >= 1) -> type, nth. */
int cutter_parse_point(const char *s, uint32_t *type, unsigned *nth);

#endif
