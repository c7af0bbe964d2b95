/*
 * colo-cutproxy - TCP relay between a primary and a secondary engine that
 * cuts the replication stream at an exact protocol point (tests only).
 *
 *   colo-cutproxy LISTEN_ADDR TARGET_ADDR [--dir p2s|s2p] [--arm REC:N] [--cut REC:N] [--after]
 *
 * e.g. --arm CHECKPOINT_NEW:5 --cut MEMORY_PAGES:3 breaks the stream in
 * the middle of the page transfer of the fifth checkpoint.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "colo-channel.h"
#include "colo-log.h"
#include "cutter.h"

int main(int argc, char **argv)
{
    struct cut_rule rule = { .dir = CUT_A_TO_B };
    struct cut_result res;
    int lfd, a, b;

    colo_log_init("colo-cutproxy", COLO_LOG_INFO);
    if (argc < 3) {
        fprintf(stderr, "usage: colo-cutproxy LISTEN TARGET [--dir p2s|s2p] [--arm REC:N] [--cut REC:N] [--after]\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--after")) {
            rule.after = true;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            rule.dir = !strcmp(argv[++i], "s2p") ? CUT_B_TO_A : CUT_A_TO_B;
        } else if (!strcmp(argv[i], "--arm") && i + 1 < argc) {
            if (cutter_parse_point(argv[++i], &rule.arm_type, &rule.arm_nth) < 0)
                goto bad;
        } else if (!strcmp(argv[i], "--cut") && i + 1 < argc) {
            if (cutter_parse_point(argv[++i], &rule.cut_type, &rule.cut_nth) < 0)
                goto bad;
        } else {
            goto bad;
        }
    }
    if ((lfd = colo_sock_listen(argv[1])) < 0 || (a = colo_sock_accept(lfd, 30000)) < 0 ||
        (b = colo_sock_connect(argv[2], 5000)) < 0)
        return 1;
    cutter_run(a, b, &rule, &res);
    colo_info("%s after %llu/%llu records", res.fired ? "cut" : "relay ended",
              (unsigned long long)res.records[0], (unsigned long long)res.records[1]);
    /* Hold the sockets a moment so both ends see a clean shutdown first. */
    usleep(100000);
    close(a);
    close(b);
    return res.fired ? 0 : 3;
bad:
    fprintf(stderr, "colo-cutproxy: bad argument near '%s' (points are NAME:N, e.g. MEMORY_PAGES:3)\n", argv[argc - 1]);
    return 2;
}
