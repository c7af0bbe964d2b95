/* secondary.c - see secondary.h. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-channel.h"
#include "colo-control.h"
#include "colo-log.h"
#include "port.h"
#include "resend.h"
#include "rewrite.h"
#include "secondary.h"

/* The uplink is optional (NULL without --uplink): the in-line layout's
 * port on the secondary's bridge, unused until failover. */
enum { S_FORWARD, S_SVM, S_UPLINK, S_NPORTS };

struct secondary {
    struct port *ports[S_NPORTS];
    struct rewriter *rw;
    struct resend *rs;          /* NULL: --repair-buffer 0 */
    struct colo_chan engine;
    struct colo_ctl_server ctl;
    bool have_engine, have_ctl, failed_over, failed;
    bool subscribed;            /* the engine echoed CHECKPOINT_SUBSCRIBE */
    uint64_t to_svm, from_svm, checkpoints;
    uint64_t ignored_forward, ignored_uplink;   /* frames from the side not in use */
    const char *io;             /* how the ports read and send (port_io_name) */
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

/* The port that faces clients: the forward link, or after failover the
 * uplink when there is one (the primary, at the forward link's other end,
 * is gone - or, split from us, must not be heard). */
static struct port *client_side(const struct secondary *s)
{
    return s->failed_over && s->ports[S_UPLINK] ? s->ports[S_UPLINK] : s->ports[S_FORWARD];
}

static void client_to_svm(struct secondary *s, uint8_t *frame, size_t len)
{
    rw_client_to_svm(s->rw, frame, len);
    s->to_svm++;
    /* A failure is logged and counted; a lost segment is the repair's
     * (resend.h) - the client never hears of it.  After failover the
     * client talks to the SVM and repairs its own losses. */
    port_send(s->ports[S_SVM], frame, len);
    if (s->rs && !s->failed_over)
        rs_client(s->rs, frame, len, colo_now_ns());
}

/* A held client segment sent to the SVM again. */
static void resend_to_svm(void *opaque, const uint8_t *frame, size_t len)
{
    struct secondary *s = opaque;

    port_send(s->ports[S_SVM], frame, len);
}

/* A client frame from the forward link: into the SVM's sequence space. */
static void from_forward(void *opaque, uint8_t *frame, size_t len)
{
    struct secondary *s = opaque;

    if (client_side(s) != s->ports[S_FORWARD]) {
        s->ignored_forward++;
        return;
    }
    client_to_svm(s, frame, len);
}

/* A frame from the bridge: the bridge's traffic is the SVM's only once it
 * is the VM; before, clients talk to the PVM and what the bridge floods
 * here is not for the SVM. */
static void from_uplink(void *opaque, uint8_t *frame, size_t len)
{
    struct secondary *s = opaque;

    if (client_side(s) != s->ports[S_UPLINK]) {
        s->ignored_uplink++;
        return;
    }
    client_to_svm(s, frame, len);
}

/* An SVM frame: learnt from always, translated once it goes to clients. */
static void from_svm(void *opaque, uint8_t *frame, size_t len)
{
    struct secondary *s = opaque;

    if (s->rs && !s->failed_over)
        rs_svm(s->rs, frame, len, colo_now_ns(), resend_to_svm, s);
    rw_svm_out(s->rw, frame, len, s->failed_over);
    s->from_svm++;
    port_send(client_side(s), frame, len);
}

static void on_failover(void *opaque)
{
    struct secondary *s = opaque;

    if (!s->failed_over)
        colo_warn("failover: the SVM's output now goes to clients%s%s, its sequence numbers "
                  "translated for %zu connections", s->ports[S_UPLINK] ? " through " : "",
                  s->ports[S_UPLINK] ? s->ports[S_UPLINK]->name : "", rw_translated(s->rw));
    s->failed_over = true;
    if (s->rs)
        rs_clear(s->rs);
}

/* A checkpoint committed (the engine's broadcast, or CHECKPOINT_DONE on our
 * control socket): the SVM now has the PVM's TCP state. */
static void checkpoint_done(struct secondary *s)
{
    rw_checkpoint_done(s->rw);
    /* The SVM has the PVM's TCP state now, the held bytes included. */
    if (s->rs)
        rs_clear(s->rs);
    s->checkpoints++;
}

static void on_checkpoint_done(void *opaque, uint64_t seq)
{
    (void)seq;
    checkpoint_done(opaque);
}

static char *on_status(void *opaque)
{
    struct secondary *s = opaque;
    char *json = NULL;

    uint64_t drops = 0, truncated = 0, csum = 0, segmented = 0, oversize = 0, reopened = 0, lost = 0, refused = 0;
    struct rs_stats rs = { 0 };

    if (s->rs)
        rs_stats(s->rs, &rs);

    /* Frames lost on the way in: the kernel's drops and frames too long for
     * the ring (port.h). */
    for (int i = 0; i < S_NPORTS; i++) {
        if (!s->ports[i])
            continue;
        drops += s->ports[i]->st.drops;
        truncated += s->ports[i]->st.truncated;
        csum += s->ports[i]->st.csum_filled;
        segmented += s->ports[i]->st.segmented;
        oversize += s->ports[i]->st.oversize;
        reopened += s->ports[i]->st.reopened;
        lost += s->ports[i]->st.lost_gone;
        refused += s->ports[i]->st.tx_refused;
    }
    if (asprintf(&json, "{\"role\":\"proxy-secondary\",\"subscribed\":%s,\"failed_over\":%s,\"to_svm\":%" PRIu64
                 ",\"from_svm\":%" PRIu64 ",\"translated\":%zu,\"checkpoints\":%" PRIu64
                 ",\"drops\":%" PRIu64 ",\"truncated\":%" PRIu64 ",\"csum_filled\":%" PRIu64
                 ",\"segmented\":%" PRIu64 ",\"oversize\":%" PRIu64 ",\"uplink\":%s"
                 ",\"ignored_forward\":%" PRIu64 ",\"ignored_uplink\":%" PRIu64
                 ",\"reopened\":%" PRIu64 ",\"lost_gone\":%" PRIu64 ",\"tx_refused\":%" PRIu64
                 ",\"repair\":%s,\"repair_held_frames\":%" PRIu64 ",\"repair_held_bytes\":%" PRIu64
                 ",\"repair_resent\":%" PRIu64 ",\"repair_resent_window\":%" PRIu64
                 ",\"repair_resent_dupack\":%" PRIu64 ",\"repair_resent_timer\":%" PRIu64
                 ",\"repair_overflow\":%" PRIu64 ",\"repair_spare_bytes\":%" PRIu64 "}",
                 s->subscribed ? "true" : "false", s->failed_over ? "true" : "false", s->to_svm, s->from_svm,
                 rw_translated(s->rw), s->checkpoints, drops, truncated, csum, segmented, oversize,
                 s->ports[S_UPLINK] ? "true" : "false", s->ignored_forward, s->ignored_uplink,
                 reopened, lost, refused, s->rs ? "true" : "false", rs.held_frames, rs.held_bytes,
                 rs.resent, rs.resent_window, rs.resent_dupack, rs.resent_timer, rs.overflow, rs.spare_bytes) < 0)
        return NULL;
    return json;
}

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: colo-proxy secondary --forward IF --svm IF [--uplink IF] "
            "[--engine unix:PATH] [--control unix:PATH]\n"
            "                           [--ring none|v2|v3] [--tx-batch] [--repair-buffer BYTES]\n");
    return rc;
}

/* --repair-buffer: bytes, 0 (no repair) up to 1 GiB. */
static int parse_repair_buffer(const char *v, size_t *out)
{
    char *end;
    unsigned long long n;

    errno = 0;
    n = strtoull(v, &end, 10);
    if (!*v || *end || v[0] == '-' || errno || n > (1ull << 30)) {
        colo_err("--repair-buffer '%s': a number of bytes from 0 (no repair) to 1073741824", v);
        return -1;
    }
    *out = (size_t)n;
    return 0;
}

static int open_all(struct secondary *s, const char *ifs[S_NPORTS], const char *engine, const char *control,
                    const char *ring_opt, bool txbatch, size_t repair)
{
    static const char *const roles[S_NPORTS] = { "forward", "svm", "uplink" };
    enum port_ring ring;

    /* The command line wins over the environment (the benchmark's way). */
    if (ring_opt ? port_ring_parse(ring_opt, &ring) < 0 : port_ring_env(&ring) < 0) {
        if (ring_opt)
            colo_err("--ring '%s' is not none, v2 or v3", ring_opt);
        return 2;
    }
    txbatch = txbatch || port_txbatch_env();
    s->io = port_io_name(ring, txbatch);

    for (int i = 0; i < S_NPORTS; i++) {
        for (int j = 0; j < i; j++)
            if (ifs[i] && ifs[j] && !strcmp(ifs[i], ifs[j])) {
                colo_err("--%s and --%s are both '%s': give each its own interface",
                         roles[j], roles[i], ifs[i]);
                return 2;
            }
        if (i == S_UPLINK && !ifs[i])
            continue;
        if (!ifs[i]) {
            colo_err("--%s IF is required", roles[i]);
            return 2;
        }
        if (!(s->ports[i] = port_open_packet(ifs[i], roles[i], ring, txbatch)))
            return 1;
    }
    if (engine) {
        int fd = colo_sock_connect(engine, 2000);

        if (fd < 0 || colo_chan_init_sized(&s->engine, fd, "engine control", 1 << 20) < 0 ||
            colo_ctl_subscribe(&s->engine) < 0)
            return 1;
        s->have_engine = true;
    }
    if (control) {
        if (colo_ctl_open(&s->ctl, control) < 0)
            return 1;
        s->ctl.opaque = s;
        s->ctl.on_failover = on_failover;
        s->ctl.on_checkpoint_done = on_checkpoint_done;
        s->ctl.on_status = on_status;
        s->have_ctl = true;
    }
    if (repair && !(s->rs = rs_new(repair)))
        return 1;
    return (s->rw = rw_new()) ? 0 : 1;
}

/* The engine's records: CHECKPOINT_DONE resets the offsets, FAILOVER (the
 * primary is lost, the SVM is the VM) switches to translating. */
static void lose_engine(struct secondary *s)
{
    colo_warn("lost the engine: offsets will not be reset at checkpoints any more");
    colo_chan_close(&s->engine);
    s->have_engine = s->subscribed = false;
}

static void engine_input(struct secondary *s)
{
    struct colo_rec r;
    int got = colo_chan_recv(&s->engine, &r, 0);

    if (got == 1 && r.type == COLO_REC_CHECKPOINT_SUBSCRIBE) {
        s->subscribed = true;
    } else if (got == 1 && r.type == COLO_REC_CHECKPOINT_DONE) {
        uint8_t ack[32];

        /* The SVM is paused with the PVM's state: reset, then answer, so
         * that the engine resumes the SVM only once its frames are taken
         * as the PVM's.  (Before the engine took our subscription it waits
         * for no answer - and would not take one - but the reset is right
         * all the same.) */
        checkpoint_done(s);
        if (s->subscribed &&
            colo_chan_send(&s->engine, ack, colo_enc_seq(ack, sizeof(ack), COLO_REC_CHECKPOINT_DONE,
                                                         r.u.seq.seq)) < 0)
            lose_engine(s);
    } else if (got == 1 && r.type == COLO_REC_FAILOVER) {
        on_failover(s);
    } else if (got < 0) {
        lose_engine(s);
    }
}

static void run(struct secondary *s)
{
    static port_frame_fn *const handlers[S_NPORTS] = { from_forward, from_svm, from_uplink };

    while (!quit && !s->failed) {
        struct pollfd p[S_NPORTS + 2 + COLO_CTL_MAX_CLIENTS];
        int n = S_NPORTS + 1, nctl = 0, wait_ms = 1000, due;
        uint64_t now = colo_now_ns();

        /* The repair's timer: copies for an SVM that stayed silent. */
        if (s->rs && (due = rs_tick(s->rs, now, resend_to_svm, s)) >= 0 && due < wait_ms)
            wait_ms = due;

        for (int i = 0; i < S_NPORTS; i++) {
            short ev = s->ports[i] ? port_events(s->ports[i], now) : 0;

            /* What this round queued goes out before we sleep. */
            if (s->ports[i] && port_flush(s->ports[i]) < 0)
                s->failed = true;
            p[i] = (struct pollfd){ .fd = s->ports[i] ? s->ports[i]->fd : -1, .events = ev };
            /* A port looking for its device (port-packet.c) looks often. */
            if (s->ports[i] && s->ports[i]->fd < 0 && wait_ms > 5)
                wait_ms = 5;
        }
        p[S_NPORTS] = (struct pollfd){ .fd = s->have_engine ? s->engine.fd : -1, .events = POLLIN };
        if (s->have_ctl)
            n += nctl = colo_ctl_pollfds(&s->ctl, p + n, (int)(sizeof(p) / sizeof(p[0])) - n);
        if (poll(p, (nfds_t)n, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            colo_log_errno("poll");
            s->failed = true;
            break;
        }
        for (int i = 0; i < S_NPORTS; i++)
            if (s->ports[i] && p[i].revents && port_recv(s->ports[i], handlers[i], s) < 0)
                s->failed = true;
        if (s->have_engine && p[S_NPORTS].revents)
            engine_input(s);
        if (nctl)
            colo_ctl_handle(&s->ctl, p + S_NPORTS + 1, nctl);
    }
}

int secondary_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "forward", 1, 0, 'f' }, { "svm", 1, 0, 's' }, { "uplink", 1, 0, 'u' }, { "engine", 1, 0, 'e' },
        { "control", 1, 0, 'c' }, { "ring", 1, 0, 'R' }, { "tx-batch", 0, 0, 'b' },
        { "repair-buffer", 1, 0, 'B' },
        { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *ifs[S_NPORTS] = { 0 }, *engine = NULL, *control = NULL, *ring_opt = NULL;
    bool txbatch = false;
    size_t repair = RS_DEFAULT_MAX_BYTES;
    static struct secondary s;
    char *json;
    int o, rc;

    colo_log_init("colo-proxy", COLO_LOG_INFO);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'f': ifs[S_FORWARD] = optarg; break;
        case 's': ifs[S_SVM] = optarg; break;
        case 'u': ifs[S_UPLINK] = optarg; break;
        case 'e': engine = optarg; break;
        case 'c': control = optarg; break;
        case 'R': ring_opt = optarg; break;
        case 'b': txbatch = true; break;
        case 'B':
            if (parse_repair_buffer(optarg, &repair) < 0)
                return 2;
            break;
        case 'h': return usage(stdout, 0);
        default:  return usage(stderr, 2);
        }
    }
    if (optind < argc) {
        colo_err("unexpected argument '%s'", argv[optind]);
        return usage(stderr, 2);
    }
    if ((rc = open_all(&s, ifs, engine, control, ring_opt, txbatch, repair)) != 0)
        return rc;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    colo_info("secondary: rewriting between %s (forward link) and %s (SVM)%s%s%s", ifs[S_FORWARD],
              ifs[S_SVM], ifs[S_UPLINK] ? "; after failover between " : "",
              ifs[S_UPLINK] ? ifs[S_UPLINK] : "", ifs[S_UPLINK] ? " (uplink) and the SVM" : "");
    colo_info("secondary: ports: %s; repair of the SVM's lost input: %s", s.io,
              s.rs ? "on" : "off (--repair-buffer 0)");
    run(&s);
    if ((json = on_status(&s))) {
        printf("%s\n", json);
        free(json);
    }
    if (s.have_ctl)
        colo_ctl_close(&s.ctl);
    if (s.have_engine)
        colo_chan_close(&s.engine);
    for (int i = 0; i < S_NPORTS; i++)
        if (s.ports[i])
            port_close(s.ports[i]);
    rw_free(s.rw);
    rs_free(s.rs);
    return s.failed ? 1 : 0;
}
