/*
 * colo-ctl - talk to a colo-engine over its control socket.
 *
 *   colo-ctl -c unix:PATH status [--json]     one status report
 *   colo-ctl -c unix:PATH watch [-n COUNT] [-i MS]  a status line every MS
 *   colo-ctl -c unix:PATH checkpoint [CAUSE]  ask for a checkpoint now
 *   colo-ctl -c unix:PATH checkpoint-done [SEQ]  tell colo-proxy a checkpoint committed
 *   colo-ctl -c unix:PATH failover            tell colo-proxy to fail over; waits for its answer
 *
 * -t MS bounds the wait for an answer (default 2000).  The engine answers
 * between checkpoints, not during one, so a checkpoint that takes longer
 * than that (a slow secondary, a large dirty set, or a slow emulated lab)
 * needs a longer wait.
 *
 * The same commands serve the engine's control socket and colo-proxy's.
 * The status arrives as JSON; the human form picks the fields an operator
 * watches (state, checkpoints, pause times, bytes; for the proxy: frames
 * released and held, divergences, requests) with yajl's tree parser.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "colo-channel.h"
#include "colo-control.h"
#include "colo-log.h"
#include "colo-proto.h"

static double jnum(yajl_val root, const char *a, const char *b)
{
    const char *path[3] = { a, b, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_number);

    return v ? YAJL_GET_DOUBLE(v) : 0;
}

static const char *jstr(yajl_val root, const char *a)
{
    const char *path[2] = { a, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);

    return v ? YAJL_GET_STRING(v) : "?";
}

static void print_human(const char *json)
{
    char err[256];
    yajl_val root = yajl_tree_parse(json, err, sizeof(err));

    if (!root) {
        fprintf(stderr, "colo-ctl: the engine sent malformed status: %s\n", err);
        return;
    }
    if (!strcmp(jstr(root, "role"), "proxy")) {
        printf("proxy     %-20s released %-9.0f held %-6.0f (%.0f bytes)  divergences %-5.0f "
               "checkpoints %-5.0f  asked: divergence %.0f svm-lag %.0f queue-full %.0f\n",
               jstr(root, "state"), jnum(root, "released", NULL), jnum(root, "held", NULL),
               jnum(root, "held_bytes", NULL), jnum(root, "divergences", NULL),
               jnum(root, "checkpoints", NULL), jnum(root, "requests", "divergence"),
               jnum(root, "requests", "svm-lag"), jnum(root, "requests", "queue-full"));
    } else {
        const char *gp[] = { "guest_progress", NULL };
        yajl_val progress = yajl_tree_get(root, gp, yajl_t_number);

        /* Only a backend that can see inside its guest (sim) reports progress. */
        printf("%-9s %-14s ckpts %-5.0f pause ms last %7.2f median %7.2f max %7.2f  "
               "pages %-7.0f sent %8.1f MiB",
               jstr(root, "role"), jstr(root, "state"), jnum(root, "checkpoints", NULL),
               jnum(root, "pause_ms", "last"), jnum(root, "pause_ms", "median"),
               jnum(root, "pause_ms", "max"), jnum(root, "pages_last", NULL),
               jnum(root, "bytes_sent", NULL) / 1048576.0);
        if (progress)
            printf("  progress %.0f", YAJL_GET_DOUBLE(progress));
        printf("\n");
    }
    fflush(stdout);
    yajl_tree_free(root);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: colo-ctl -c unix:PATH [-t MS] status [--json] | watch [-n COUNT] [-i MS]\n"
               "                                | checkpoint [CAUSE] | checkpoint-done [SEQ] | failover\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "control", 1, 0, 'c' }, { "json", 0, 0, 'j' }, { "count", 1, 0, 'n' },
        { "interval", 1, 0, 'i' }, { "timeout", 1, 0, 't' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *control = NULL, *cmd;
    bool json = false;
    long count = -1, interval = 1000, wait_ms = 2000;
    char *tend;
    struct colo_chan c;
    char *status = NULL;
    int o, fd, rc = 1;

    colo_log_init("colo-ctl", COLO_LOG_WARN);
    while ((o = getopt_long(argc, argv, "c:jn:i:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': control = optarg; break;
        case 'j': json = true; break;
        case 'n': count = strtol(optarg, NULL, 10); break;
        case 'i': interval = strtol(optarg, NULL, 10); break;
        case 't':
            wait_ms = strtol(optarg, &tend, 10);
            if (*optarg == '\0' || *tend != '\0' || wait_ms <= 0 || wait_ms > 3600000) {
                fprintf(stderr, "colo-ctl: -t wants a wait in milliseconds, 1 to 3600000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!control || optind >= argc || interval <= 0) {
        usage(stderr);
        return 2;
    }
    cmd = argv[optind];
    if ((fd = colo_sock_connect(control, (int)wait_ms)) < 0 || colo_chan_init_sized(&c, fd, "control", COLO_MAX_TEXT) < 0)
        return 1;
    if (!strcmp(cmd, "status")) {
        if (colo_ctl_request_status(&c, &status, (int)wait_ms) == 0) {
            if (json)
                printf("%s\n", status);
            else
                print_human(status);
            rc = 0;
        }
    } else if (!strcmp(cmd, "watch")) {
        for (long i = 0; count < 0 || i < count; i++) {
            if (colo_ctl_request_status(&c, &status, (int)wait_ms) < 0)
                break;
            print_human(status);
            free(status);
            status = NULL;
            usleep((useconds_t)interval * 1000);
            rc = 0;
        }
    } else if (!strcmp(cmd, "checkpoint")) {
        uint8_t buf[16];
        int cause = optind + 1 < argc ? colo_trigger_from_name(argv[optind + 1]) : COLO_TRIGGER_REQUEST;

        if (cause < 0 || cause == COLO_TRIGGER_INITIAL) {
            fprintf(stderr, "colo-ctl: unknown checkpoint cause '%s' (periodic, divergence, svm-lag, "
                    "queue-full, request)\n", argv[optind + 1]);
        } else if (colo_chan_send(&c, buf, colo_enc_ckpt_request(buf, sizeof(buf), (uint32_t)cause)) == 0) {
            rc = 0;
        }
    } else if (!strcmp(cmd, "checkpoint-done") || !strcmp(cmd, "failover")) {
        uint8_t buf[24];
        const char *arg = optind + 1 < argc && cmd[0] == 'c' ? argv[optind + 1] : "0";
        char *end;
        unsigned long long seq = strtoull(arg, &end, 10);

        if (!*arg || *end || arg[0] == '-')
            fprintf(stderr, "colo-ctl: checkpoint-done: '%s' is not a checkpoint number\n", arg);
        else if (colo_chan_send(&c, buf, cmd[0] == 'f'
                                ? colo_enc_failover(buf, sizeof(buf), COLO_FAILOVER_REQUEST)
                                : colo_enc_seq(buf, sizeof(buf), COLO_REC_CHECKPOINT_DONE, seq)) == 0) {
            struct colo_rec r;

            /* A proxy answers FAILOVER once it is in force: wait for that,
             * so that a script can switch the flows right after us. */
            if (cmd[0] != 'f' || colo_chan_expect(&c, COLO_REC_FAILOVER, &r, (int)wait_ms) == 0)
                rc = 0;
            else
                fprintf(stderr, "colo-ctl: %s did not acknowledge FAILOVER within %ld ms "
                        "(only colo-proxy takes it)\n", control, wait_ms);
        }
    } else {
        fprintf(stderr, "colo-ctl: unknown command '%s'\n", cmd);
        usage(stderr);
        rc = 2;
    }
    free(status);
    colo_chan_close(&c);
    return rc;
}
