/*
 * colo-proxy - the output comparator as a daemon, on three interfaces.
 *
 *   colo-proxy --client IF --pvm IF --svm IF [--engine unix:PATH]
 *              [--svm-lag MS] [--max-held BYTES]
 *   colo-proxy secondary ...      the secondary host's rewriter (secondary.h)
 *
 * A userspace bridge with COLO in the middle: frames from the client side
 * go to both VMs (the SVM must see the same input), those to the SVM with
 * their acknowledgement numbers translated into the SVM's sequence space
 * (rewrite.h: its TCP chose its own initial sequence numbers); frames from
 * the PVM are held by the comparator and go to the client side once the SVM
 * produced the same (compare.h); frames from the SVM are only compared.  When the
 * comparator wants a checkpoint it asks the primary engine over its
 * control socket (CHECKPOINT_REQUEST); the engine's CHECKPOINT_DONE, sent
 * to every control client, releases what was held.
 *
 * Frames are read and written through ports (port.h): AF_PACKET sockets on
 * interfaces; in a Xen host the interfaces are Open vSwitch ports set up by
 * the hotplug scripts; the tests use veth pairs in network namespaces.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo-channel.h"
#include "colo-control.h"
#include "colo-log.h"
#include "compare.h"
#include "port.h"
#include "proxy-status.h"
#include "rewrite.h"
#include "secondary.h"

enum { SIDE_CLIENT, SIDE_PVM, SIDE_SVM, NSIDES };

static const char *const side_names[NSIDES] = { "client", "pvm", "svm" };
static struct port *ports[NSIDES];
static struct colo_chan engine;
static struct colo_ctl_server ctl;      /* --control: our own socket */
static struct cmp *cmp;
static struct rewriter *rw;
static bool have_engine, have_ctl, engine_lost;
static volatile sig_atomic_t quit;

struct side_ctx {
    struct cmp *cmp;
    int side;
    bool failed;
};

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

static void send_to(int side, const uint8_t *frame, size_t len)
{
    port_send(ports[side], frame, len);     /* a failure is logged; TCP repairs a loss */
}

static void release(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    send_to(SIDE_CLIENT, frame, len);
}

static void request(void *opaque, enum colo_trigger why)
{
    uint8_t buf[16];

    size_t len = colo_enc_ckpt_request(buf, sizeof(buf), why);

    (void)opaque;
    colo_info("asking for a checkpoint: %s", colo_trigger_name(why));
    if (have_ctl)
        colo_ctl_broadcast(&ctl, buf, len);
    if (have_engine && colo_chan_send(&engine, buf, len) < 0)
        engine_lost = true;     /* not from here: we are inside the comparator */
}

/* A checkpoint committed (the engine's broadcast, or a control client's
 * CHECKPOINT_DONE): the SVM now has the PVM's state. */
static void checkpoint_done(void *opaque, uint64_t seq)
{
    (void)opaque;
    colo_debug("checkpoint %" PRIu64 " done: releasing what was held", seq);
    cmp_checkpoint_done(cmp);
    rw_checkpoint_done(rw);
}

/* Failover, or the secondary taken out of service: nothing to compare with
 * any more, so the PVM's output goes out as it comes, unprotected. */
static void failover(void *opaque)
{
    (void)opaque;
    colo_warn("failover: releasing everything held and passing output through, unprotected");
    cmp_passthrough(cmp);
}

static char *status(void *opaque)
{
    (void)opaque;
    return proxy_status_json(cmp, have_engine);
}

/* What the engine's control socket says: CHECKPOINT_DONE is ours; the
 * STATUS answers and anything else meant for other clients are not. */
static void engine_record(void)
{
    struct colo_rec r;
    int got = colo_chan_recv(&engine, &r, 0);

    if (got == 1 && r.type == COLO_REC_CHECKPOINT_DONE)
        checkpoint_done(NULL, r.u.seq.seq);
    else if (got < 0)
        engine_lost = true;
}

static uint64_t parse_num(const char *opt, const char *v)
{
    char *end;
    unsigned long long n = strtoull(v, &end, 10);

    if (!*v || *end || v[0] == '-') {
        colo_err("option --%s: '%s' is not a number", opt, v);
        exit(2);
    }
    return n;
}

/* One frame from a side: the client's go to both VMs, the VMs' to the comparator. */
static void on_frame(void *opaque, uint8_t *frame, size_t len)
{
    struct side_ctx *sc = opaque;

    if (sc->side == SIDE_CLIENT) {
        send_to(SIDE_PVM, frame, len);
        rw_client_to_svm(rw, frame, len);       /* in place: the PVM's copy is gone */
        send_to(SIDE_SVM, frame, len);
        return;
    }
    if (sc->side == SIDE_SVM)
        rw_svm_out(rw, frame, len, false);      /* learn the SVM's ISNs */
    if ((sc->side == SIDE_PVM ? cmp_pvm_frame : cmp_svm_frame)(sc->cmp, frame, len, colo_now_ns()) < 0) {
        colo_err("out of memory holding frames");
        sc->failed = true;
    }
}

/* Frames from one side; returns -1 if its port failed. */
static int drain(struct cmp *c, int side)
{
    struct side_ctx sc = { .cmp = c, .side = side };

    if (port_recv(ports[side], on_frame, &sc) < 0 || sc.failed)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "client", 1, 0, 'c' }, { "pvm", 1, 0, 'p' }, { "svm", 1, 0, 's' },
        { "engine", 1, 0, 'e' }, { "control", 1, 0, 'C' }, { "svm-lag", 1, 0, 'l' },
        { "max-held", 1, 0, 'm' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *ifs[NSIDES] = { 0 }, *engine_addr = NULL, *control = NULL;
    struct cmp_cfg cfg = { .svm_lag_ns = 300 * 1000000ull, .max_held_bytes = 64 << 20,
                           .max_svm_ahead = 16 << 20, .max_conns = 65536 };
    struct cmp_ops ops = { .release = release, .request = request };
    char *json;
    uint64_t last_tick = 0;
    int o, rc = 0;

    if (argc > 1 && !strcmp(argv[1], "secondary"))
        return secondary_main(argc - 1, argv + 1);
    colo_log_init("colo-proxy", COLO_LOG_INFO);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c': ifs[SIDE_CLIENT] = optarg; break;
        case 'p': ifs[SIDE_PVM] = optarg; break;
        case 's': ifs[SIDE_SVM] = optarg; break;
        case 'e': engine_addr = optarg; break;
        case 'C': control = optarg; break;
        case 'l': cfg.svm_lag_ns = parse_num("svm-lag", optarg) * 1000000ull; break;
        case 'm': cfg.max_held_bytes = parse_num("max-held", optarg); break;
        case 'h':
        default:
            fprintf(o == 'h' ? stdout : stderr, "usage: colo-proxy --client IF --pvm IF --svm IF "
                    "[--engine unix:PATH] [--control unix:PATH] [--svm-lag MS] [--max-held BYTES]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    for (int s = 0; s < NSIDES; s++)
        if (!ifs[s]) {
            colo_err("--%s IF is required", side_names[s]);
            return 2;
        }
    for (int s = 0; s < NSIDES; s++)
        if (!(ports[s] = port_open_packet(ifs[s], side_names[s])))
            return 1;
    if (engine_addr) {
        int fd = colo_sock_connect(engine_addr, 2000);

        if (fd < 0 || colo_chan_init_sized(&engine, fd, "engine control", 1 << 20) < 0)
            return 1;
        have_engine = true;
    }
    if (!(cmp = cmp_new(&cfg, &ops)) || !(rw = rw_new()))
        return 1;
    if (control) {
        if (colo_ctl_open(&ctl, control) < 0)
            return 1;
        ctl.on_checkpoint_done = checkpoint_done;
        ctl.on_failover = failover;
        ctl.on_status = status;
        have_ctl = true;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    colo_info("comparing %s (PVM) with %s (SVM) for %s; SVM-lag timeout %" PRIu64 " ms",
              ifs[SIDE_PVM], ifs[SIDE_SVM], ifs[SIDE_CLIENT], cfg.svm_lag_ns / 1000000);

    /* The main loop: frames from three sides, the engine, our control
     * socket, a 10 ms tick for the SVM-lag timeout.  The timeout check
     * walks every connection, so it runs at most once a millisecond, not
     * after every wake-up (at 100,000 frames a second it was 11% of the
     * proxy's time). */
    while (!quit && rc == 0) {
        struct pollfd p[NSIDES + 1 + 1 + COLO_CTL_MAX_CLIENTS];
        uint64_t now;
        int nctl;

        for (int s = 0; s < NSIDES; s++)
            p[s] = (struct pollfd){ .fd = ports[s]->fd, .events = POLLIN };
        p[NSIDES] = (struct pollfd){ .fd = have_engine ? engine.fd : -1, .events = POLLIN };
        nctl = have_ctl ? colo_ctl_pollfds(&ctl, p + NSIDES + 1, 1 + COLO_CTL_MAX_CLIENTS) : 0;
        if (poll(p, (nfds_t)(NSIDES + 1 + nctl), 10) < 0 && errno != EINTR)
            break;
        for (int s = 0; s < NSIDES && rc == 0; s++)
            if (p[s].revents)
                rc = drain(cmp, s);
        if (have_engine && p[NSIDES].revents)
            engine_record();
        if (nctl)
            colo_ctl_handle(&ctl, p + NSIDES + 1, nctl);
        if (engine_lost) {
            colo_err("lost the engine: passing output through unprotected");
            have_engine = engine_lost = false;
            colo_chan_close(&engine);
            cmp_passthrough(cmp);
        }
        if ((now = colo_now_ns()) - last_tick >= 1000000) {
            cmp_tick(cmp, now);
            last_tick = now;
        }
    }
    if ((json = proxy_status_json(cmp, have_engine)))
        printf("%s\n", json);      /* the final statistics */
    free(json);
    if (have_ctl)
        colo_ctl_close(&ctl);
    cmp_free(cmp);
    rw_free(rw);
    for (int s = 0; s < NSIDES; s++)
        port_close(ports[s]);
    return rc < 0 ? 1 : 0;
}
