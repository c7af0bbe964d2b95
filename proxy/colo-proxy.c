/*
 * colo-proxy - the output comparator as a daemon.
 *
 *   colo-proxy --client IF --pvm IF --svm IF [OPTIONS]
 *   colo-proxy --primary-in ADDR --secondary-in ADDR --outdev ADDR
 *              [--vnet-hdr] [--notify-dev ADDR] [OPTIONS]
 *   OPTIONS: [--engine unix:PATH] [--control unix:PATH] [--svm-lag MS] [--svm-stall MS]
 *            [--max-held BYTES] [--no-rewrite] [--no-window-clamp]
 *   colo-proxy secondary ...      the secondary host's rewriter (secondary.h)
 *
 * On three interfaces, a userspace bridge with COLO in the middle: frames from the client side
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
 * With --no-rewrite the client's frames go to the SVM's side as they came:
 * when that side is the forward link to the secondary host, whose rewriter
 * (colo-proxy secondary) translates them, and must see them untranslated to
 * learn each connection's offset for failover.  On interfaces the window the
 * PVM offers the client is lowered to the SVM's (compare.c, clamp_window);
 * --no-window-clamp leaves it as the PVM sent it.
 *
 * With --primary-in, a stand-in for QEMU's colo-compare: the PVM's frames
 * come on primary_in and the SVM's on secondary_in, in QEMU's chardev
 * framing, from filter-mirror / filter-redirector (ADDR as in stream-addr.h),
 * and released frames go out on outdev.  The comparator is the same; there
 * is no rewriter (in QEMU's layout the secondary's filter-rewriter has
 * translated the SVM's numbers already, and the comparator does not need
 * it).  With --notify-dev, checkpoint requests and their completion follow
 * Xen libxl's userspace-proxy exchange (userspace-proxy.h); with --engine,
 * the engine's control socket, as on interfaces.
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
#include "chardev-frame.h"
#include "compare.h"
#include "port.h"
#include "proxy-status.h"
#include "rewrite.h"
#include "secondary.h"
#include "userspace-proxy.h"

/* In the compatibility mode the client side is outdev, and Xen's notify
 * channel is one more port. */
enum { SIDE_CLIENT, SIDE_PVM, SIDE_SVM, NSIDES, SIDE_NOTIFY = NSIDES, NPORTS };

#define OUT_HIGH (8u << 20)     /* outdev bytes unwritten: stop taking input until they are */

static const char *const side_names[NPORTS] = { "client", "pvm", "svm", "notify-dev" };
static const char *const compat_names[NPORTS] = { "outdev", "primary-in", "secondary-in", "notify-dev" };
static struct port *ports[NPORTS];
static bool compat;
static bool notify_pending;             /* a request waits for libxl to say INIT */
static uint64_t notify_greeted, notify_done;    /* the connection that said INIT; checkpoints */
static struct colo_chan engine;
static struct colo_ctl_server ctl;      /* --control: our own socket */
static struct cmp *cmp;
static struct rewriter *rw;
static bool have_engine, have_ctl, engine_lost;
static bool subscribed;         /* the engine echoed CHECKPOINT_SUBSCRIBE: it waits for us */
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

static void notify_send(const char *msg)
{
    port_send(ports[SIDE_NOTIFY], (const uint8_t *)msg, strlen(msg));
}

/* libxl reads one answer to its INIT first: a request made before it has
 * said INIT on this connection waits until it has. */
static void notify_request(void)
{
    const struct port_stats *st = &ports[SIDE_NOTIFY]->st;

    if (st->connects == notify_greeted && st->connects > st->disconnects)
        notify_send(UP_DO_CHECKPOINT);
    else
        notify_pending = true;
}

static void request(void *opaque, enum colo_trigger why)
{
    uint8_t buf[16];

    size_t len = colo_enc_ckpt_request(buf, sizeof(buf), why);

    (void)opaque;
    colo_info("asking for a checkpoint: %s", colo_trigger_name(why));
    if (ports[SIDE_NOTIFY])
        notify_request();
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
    if (rw)
        rw_checkpoint_done(rw);
    notify_pending = false;
}

/* A message from Xen's libxl on --notify-dev. */
static void notify_message(const uint8_t *msg, size_t len)
{
    switch (up_classify(msg, len)) {
    case UP_MSG_INIT:
        notify_send(UP_INIT_REPLY);
        notify_greeted = ports[SIDE_NOTIFY]->st.connects;
        if (notify_pending)
            notify_send(UP_DO_CHECKPOINT);
        notify_pending = false;
        break;
    case UP_MSG_CHECKPOINT:
        checkpoint_done(NULL, ++notify_done);
        break;
    default:
        colo_warn("%s: unsupported message '%.*s' (ignored)", ports[SIDE_NOTIFY]->name,
                  (int)(len < 64 ? len : 64), (const char *)msg);
    }
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
    return proxy_status_json(cmp, have_engine, subscribed, ports, NPORTS);
}

static int drain(struct cmp *c, int side);

/* Read what the VMs' ports hold right now, without waiting (bounded: a
 * port that never runs dry is read 64 batches' worth). */
static int take_in_pending(void)
{
    static const int sides[] = { SIDE_PVM, SIDE_SVM };

    for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
        struct port *pt = ports[sides[i]];

        for (int k = 0; k < 64 && pt && pt->fd >= 0; k++) {
            struct pollfd p = { .fd = pt->fd, .events = POLLIN };

            if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
                break;
            if (drain(cmp, sides[i]) < 0)
                return -1;
        }
    }
    return 0;
}

/* What the engine's control socket says: CHECKPOINT_DONE and FAILOVER (the
 * secondary is lost) are ours; the STATUS answers and anything else meant
 * for other clients are not. */
static void engine_record(void)
{
    uint8_t ack[32];
    struct colo_rec r;
    int got = colo_chan_recv(&engine, &r, 0);

    if (got == 1 && r.type == COLO_REC_CHECKPOINT_SUBSCRIBE) {
        subscribed = true;
    } else if (got == 1 && r.type == COLO_REC_CHECKPOINT_DONE && !subscribed) {
        /* Sent before the engine took our subscription: it did not wait
         * for us, the PVM may be running already.  What we hold waits for
         * the next checkpoint, which will. */
        colo_info("checkpoint %" PRIu64 " committed before our subscription took: "
                  "holding on to the next", r.u.seq.seq);
    } else if (got == 1 && r.type == COLO_REC_CHECKPOINT_DONE) {
        /* Both VMs are paused now.  Take in first what they sent before
         * (it belongs to the checkpoint: PVM frames go out with it, SVM
         * frames are dropped with it), release, and answer: the engine
         * resumes the PVM only then, so a frame it sends afterwards is
         * compared, never released with this checkpoint. */
        if (take_in_pending() < 0)
            colo_warn("checkpoint %" PRIu64 ": could not read the ports before releasing",
                      r.u.seq.seq);
        checkpoint_done(NULL, r.u.seq.seq);
        for (int s = 0; s < NPORTS; s++)
            if (ports[s] && port_flush(ports[s]) < 0)
                colo_warn("%s: could not send everything released", ports[s]->name);
        if (colo_chan_send(&engine, ack, colo_enc_seq(ack, sizeof(ack), COLO_REC_CHECKPOINT_DONE,
                                                      r.u.seq.seq)) < 0)
            engine_lost = true;
    } else if (got == 1 && r.type == COLO_REC_FAILOVER)
        failover(NULL);
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

/* One frame from a side: the client's go to both VMs, the VMs' to the
 * comparator (whatever leads a frame - QEMU's vnet header - is carried with
 * the PVM's, and not compared). */
static void on_frame(void *opaque, uint8_t *frame, size_t len)
{
    struct side_ctx *sc = opaque;
    size_t lead = port_lead(ports[sc->side], frame, len);
    int rc;

    if (sc->side == SIDE_NOTIFY) {
        notify_message(frame, len);
        return;
    }
    if (sc->side == SIDE_CLIENT) {
        if (compat)
            return;                             /* nothing is expected back on outdev */
        send_to(SIDE_PVM, frame, len);
        if (rw)
            rw_client_to_svm(rw, frame, len);   /* in place: the PVM's copy is gone */
        send_to(SIDE_SVM, frame, len);
        return;
    }
    if (sc->side == SIDE_SVM && rw)
        rw_svm_out(rw, frame, len, false);      /* learn the SVM's ISNs */
    if (sc->side == SIDE_PVM)
        rc = cmp_pvm_frame_lead(sc->cmp, frame, len, lead, colo_now_ns());
    else
        rc = cmp_svm_frame(sc->cmp, frame + lead, len - lead, colo_now_ns());
    if (rc < 0) {
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

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: colo-proxy --client IF --pvm IF --svm IF [OPTIONS]\n"
            "       colo-proxy --primary-in ADDR --secondary-in ADDR --outdev ADDR [--vnet-hdr]\n"
            "                  [--notify-dev ADDR] [OPTIONS]\n"
            "OPTIONS: [--engine unix:PATH] [--control unix:PATH] [--svm-lag MS] [--svm-stall MS]\n"
            "         [--max-held BYTES] [--no-rewrite] [--no-window-clamp] [--ring none|v2|v3] [--tx-batch]\n"
            "ADDR: unix:PATH or tcp:HOST:PORT, or QEMU's socket,path=...|host=...,port=...;\n"
            "      then ,server[=on|off] ,wait=on|off ,reconnect=SECONDS\n");
    return rc;
}

/* The ports of either mode: three interfaces (read as ring says, sends
 * batched or not), or QEMU's chardevs. */
static int open_ports(const char *const addrs[NPORTS], bool vnet, enum port_ring ring, bool txbatch)
{
    for (int s = 0; s < NPORTS; s++) {
        if (s == SIDE_NOTIFY && !addrs[s])
            continue;
        if (compat)
            ports[s] = s == SIDE_NOTIFY ? port_open_stream(addrs[s], compat_names[s], false, UP_MAX_MSG)
                                        : port_open_stream(addrs[s], compat_names[s], vnet, CF_MAX_FRAME);
        else
            ports[s] = port_open_packet(addrs[s], side_names[s], ring, txbatch);
        if (!ports[s])
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "client", 1, 0, 'c' }, { "pvm", 1, 0, 'p' }, { "svm", 1, 0, 's' },
        { "primary-in", 1, 0, 'P' }, { "secondary-in", 1, 0, 'S' }, { "outdev", 1, 0, 'o' },
        { "notify-dev", 1, 0, 'n' }, { "vnet-hdr", 0, 0, 'v' },
        { "engine", 1, 0, 'e' }, { "control", 1, 0, 'C' }, { "svm-lag", 1, 0, 'l' },
        { "max-held", 1, 0, 'm' }, { "svm-stall", 1, 0, 't' }, { "no-rewrite", 0, 0, 'r' },
        { "ring", 1, 0, 'R' }, { "tx-batch", 0, 0, 'b' }, { "no-window-clamp", 0, 0, 'W' },
        { "help", 0, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *ifs[NPORTS] = { 0 }, *chardevs[NPORTS] = { 0 }, *engine_addr = NULL, *control = NULL;
    const char *const *addrs;
    struct cmp_cfg cfg = { .svm_lag_ns = 300 * 1000000ull, .max_held_bytes = 64 << 20,
                           .max_svm_ahead = 16 << 20, .max_conns = 65536 };
    struct cmp_ops ops = { .release = release, .request = request };
    bool vnet = false, no_rewrite = false, txbatch = false, no_clamp = false;
    const char *ring_opt = NULL;
    enum port_ring ring;
    char *json;
    uint64_t last_tick = 0;
    uint64_t stall_ms = UINT64_MAX;     /* default: a third of --svm-lag */
    int o, rc = 0;

    if (argc > 1 && !strcmp(argv[1], "secondary"))
        return secondary_main(argc - 1, argv + 1);
    colo_log_init("colo-proxy", COLO_LOG_INFO);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c': ifs[SIDE_CLIENT] = optarg; break;
        case 'p': ifs[SIDE_PVM] = optarg; break;
        case 's': ifs[SIDE_SVM] = optarg; break;
        case 'P': chardevs[SIDE_PVM] = optarg; break;
        case 'S': chardevs[SIDE_SVM] = optarg; break;
        case 'o': chardevs[SIDE_CLIENT] = optarg; break;
        case 'n': chardevs[SIDE_NOTIFY] = optarg; break;
        case 'v': vnet = true; break;
        case 'e': engine_addr = optarg; break;
        case 'C': control = optarg; break;
        case 'l': cfg.svm_lag_ns = parse_num("svm-lag", optarg) * 1000000ull; break;
        case 'm': cfg.max_held_bytes = parse_num("max-held", optarg); break;
        case 't': stall_ms = parse_num("svm-stall", optarg); break;
        case 'r': no_rewrite = true; break;
        case 'R': ring_opt = optarg; break;
        case 'b': txbatch = true; break;
        case 'W': no_clamp = true; break;
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, 2);
        }
    }
    cfg.svm_stall_ns = stall_ms == UINT64_MAX ? cfg.svm_lag_ns / 3 : stall_ms * 1000000ull;
    compat = chardevs[SIDE_PVM] || chardevs[SIDE_SVM] || chardevs[SIDE_CLIENT] || chardevs[SIDE_NOTIFY] || vnet;
    if (compat && (ifs[SIDE_CLIENT] || ifs[SIDE_PVM] || ifs[SIDE_SVM])) {
        colo_err("--client/--pvm/--svm (interfaces) and --primary-in/--secondary-in/--outdev "
                 "(QEMU's chardevs) are two modes: give one set");
        return 2;
    }
    if (compat && no_rewrite) {
        colo_err("--no-rewrite is for interfaces: with QEMU's chardevs nothing is rewritten");
        return 2;
    }
    if (compat && no_clamp) {
        colo_err("--no-window-clamp is for interfaces: with QEMU's chardevs windows are never changed");
        return 2;
    }
    /* QEMU's frames may carry partial checksums (a vnet header's
     * NEEDS_CSUM), which a changed window would make wrong. */
    cfg.clamp_window = !compat && !no_clamp;
    if (compat && (ring_opt || txbatch)) {
        colo_err("--ring and --tx-batch are for interfaces: QEMU's chardevs are streams");
        return 2;
    }
    /* The command line wins over the environment (the benchmark's way). */
    if (ring_opt ? port_ring_parse(ring_opt, &ring) < 0 : port_ring_env(&ring) < 0) {
        if (ring_opt)
            colo_err("--ring '%s' is not none, v2 or v3", ring_opt);
        return 2;
    }
    txbatch = txbatch || port_txbatch_env();
    addrs = compat ? chardevs : ifs;
    for (int s = 0; s < NSIDES; s++)
        if (!addrs[s]) {
            colo_err("--%s %s is required", (compat ? compat_names : side_names)[s], compat ? "ADDR" : "IF");
            return 2;
        }
    if (open_ports(addrs, vnet, ring, txbatch) < 0)
        return 1;
    if (engine_addr) {
        int fd = colo_sock_connect(engine_addr, 2000);

        if (fd < 0 || colo_chan_init_sized(&engine, fd, "engine control", 1 << 20) < 0 ||
            colo_ctl_subscribe(&engine) < 0)
            return 1;
        have_engine = true;
    }
    if (!(cmp = cmp_new(&cfg, &ops)) || (!compat && !no_rewrite && !(rw = rw_new())))
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
    colo_info("comparing %s with %s for %s; SVM-lag timeout %" PRIu64 " ms, SVM-stall %" PRIu64 " ms%s%s",
              ports[SIDE_PVM]->name, ports[SIDE_SVM]->name, ports[SIDE_CLIENT]->name,
              cfg.svm_lag_ns / 1000000, cfg.svm_stall_ns / 1000000, compat ? "" : "; ports: ",
              compat ? "" : port_io_name(ring, txbatch));

    /* The main loop: frames from the ports (input paused while outdev's
     * peer is not reading), the engine, our control socket, a 10 ms tick
     * for the SVM-lag timeout.  The timeout check walks every connection,
     * so it runs at most once a millisecond, not after every wake-up (at
     * 100,000 frames a second it was 11% of the proxy's time). */
    while (!quit && rc == 0) {
        struct pollfd p[NPORTS + 1 + 1 + COLO_CTL_MAX_CLIENTS];
        uint64_t now = colo_now_ns();
        bool full = port_backlog(ports[SIDE_CLIENT]) > OUT_HIGH;
        int nctl;

        for (int s = 0; s < NPORTS; s++) {
            short ev = ports[s] ? port_events(ports[s], now) : 0;

            /* What this round queued goes out before we sleep. */
            if (port_flush(ports[s]) < 0)
                rc = -1;

            p[s] = (struct pollfd){ .fd = ports[s] ? ports[s]->fd : -1,
                                    .events = full && (s == SIDE_PVM || s == SIDE_SVM) ? ev & ~POLLIN : ev };
        }
        p[NPORTS] = (struct pollfd){ .fd = have_engine ? engine.fd : -1, .events = POLLIN };
        nctl = have_ctl ? colo_ctl_pollfds(&ctl, p + NPORTS + 1, 1 + COLO_CTL_MAX_CLIENTS) : 0;
        if (poll(p, (nfds_t)(NPORTS + 1 + nctl), 10) < 0 && errno != EINTR)
            break;
        for (int s = 0; s < NPORTS && rc == 0; s++)
            if (p[s].revents)
                rc = drain(cmp, s);
        if (have_engine && p[NPORTS].revents)
            engine_record();
        if (nctl)
            colo_ctl_handle(&ctl, p + NPORTS + 1, nctl);
        if (engine_lost) {
            colo_err("lost the engine: passing output through unprotected");
            have_engine = engine_lost = subscribed = false;
            colo_chan_close(&engine);
            cmp_passthrough(cmp);
        }
        if ((now = colo_now_ns()) - last_tick >= 1000000) {
            cmp_tick(cmp, now);
            last_tick = now;
        }
    }
    for (int i = 0; i < 100 && port_backlog(ports[SIDE_CLIENT]) && ports[SIDE_CLIENT]->fd >= 0; i++)
        poll(&(struct pollfd){ .fd = ports[SIDE_CLIENT]->fd, .events = port_events(ports[SIDE_CLIENT], 0) }, 1, 10);
    if ((json = proxy_status_json(cmp, have_engine, subscribed, ports, NPORTS)))
        printf("%s\n", json);      /* the final statistics */
    free(json);
    if (have_ctl)
        colo_ctl_close(&ctl);
    cmp_free(cmp);
    rw_free(rw);
    for (int s = 0; s < NPORTS; s++)
        port_close(ports[s]);
    return rc < 0 ? 1 : 0;
}
