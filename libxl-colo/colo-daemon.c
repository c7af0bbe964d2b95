/*
 * colo-daemon.c - `colo-engine`, the COLO replication daemon.
 *
 *   colo-engine primary   --backend B --domain NAME[,OPTS] --peer ADDR [options]
 *   colo-engine secondary --backend B --domain NAME[,OPTS] --listen ADDR [options]
 *
 * One process per protected domain and side.  The primary's main loop waits
 * for a reason to checkpoint (interval, control request) and runs one; the
 * secondary's loop is the engine's own (colo_secondary_run) with this file
 * serving the control socket between checkpoints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-control.h"
#include "colo-engine.h"
#include "colo-hook.h"
#include "colo-log.h"

struct daemon {
    struct colo_engine e;
    struct colo_ctl_server ctl;
    bool have_ctl;
    const char *role;
    int sigfd;
    bool quit;
    bool signalled;                 /* quit because of SIGINT/SIGTERM: an operator's stop */
    int ready_fd;                   /* --ready-fd: one line when ready, then closed */
    bool pending;                   /* a checkpoint is wanted */
    enum colo_trigger pending_cause;
    uint64_t interval_ns, min_interval_ns, hb_interval_ns, last_hb_ns;
    uint64_t max_checkpoints;       /* 0: run until stopped */
    uint64_t run_after_failover_ms; /* secondary, tests: then exit */
    const char *disk_control;       /* the replicated disk's control socket */
    const char *domain;             /* the protected domain's name */
    const char *control;            /* --control ADDR, for the hook's environment */
    const char *on_failover;        /* --on-failover CMD */
    pid_t hook_pid;                 /* that command, while it runs */
    const char *on_svm;             /* --on-svm CMD (secondary) */
    int64_t domid;                  /* for the commands: the VM's id, -1 if none */
    pid_t svm_pid;                  /* the --on-svm command at svm-created, until waited for */
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: colo-engine primary   --backend sim|xen --domain NAME[,OPTS] --peer ADDR [options]\n"
"       colo-engine secondary --backend sim|xen --domain NAME[,OPTS] --listen ADDR [options]\n"
"options:\n"
"  --control unix:PATH     control socket (status, checkpoint requests)\n"
"  --interval MS           periodic checkpoint interval (primary; default 2000, 0 = off)\n"
"  --min-interval MS       least time between checkpoints (primary; default 10)\n"
"  --checkpoints N         exit after N checkpoints after the first, or when\n"
"                          protection is lost (primary; tests and benchmarks)\n"
"  --io-timeout MS         a started record must complete within this (default 3000)\n"
"  --peer-timeout MS       secondary: primary silent this long = dead (default 2000)\n"
"  --run-after-failover MS secondary: after failover run this long, then exit (tests)\n"
"  --disk-control unix:PATH the replicated disk's control socket (blktap-colo)\n"
"  --on-failover CMD       run CMD (/bin/sh -c) when this side carries the VM on\n"
"                          alone: the secondary at failover (COLO_EVENT=failover),\n"
"                          the primary when its secondary is lost\n"
"                          (COLO_EVENT=secondary-lost); also COLO_ROLE,\n"
"                          COLO_DOMAIN, COLO_CONTROL, COLO_DOMID.  Not waited for.\n"
"  --on-svm CMD            secondary: run CMD (/bin/sh -c) when the SVM has been\n"
"                          created (COLO_EVENT=svm-created; beside the initial\n"
"                          copy, finished before the SVM first runs, failing\n"
"                          refuses the replication) and when it has been\n"
"                          destroyed (COLO_EVENT=svm-destroyed; waited for)\n"
"  --ready-fd N            write one line to fd N when ready, then close it:\n"
"                          secondary 'listening ADDR' (the port the kernel chose\n"
"                          if PORT was 0), primary 'protected' (xl-colo uses this)\n"
"  --verify                log a SHA-256 of guest RAM at every checkpoint\n"
"  --debug                 log every state transition\n"
"ADDR is HOST:PORT, [V6ADDR]:PORT or unix:PATH; OPTS are backend options,\n"
"e.g. sim: mem=64M,rate=20000,pattern=hotset (see colo-engine(8)).\n");
}

static void on_ckpt_request(void *opaque, uint32_t cause)
{
    struct daemon *d = opaque;

    if (!d->pending) {
        d->pending = true;
        d->pending_cause = (enum colo_trigger)cause;
    }
}

static char *on_status(void *opaque)
{
    struct daemon *d = opaque;
    char *json = NULL;
    size_t len;

    colo_status_json(&d->e, d->role, &json, &len);
    return json;
}

/*
 * The checkpoint is committed and the VM is still paused: tell the control
 * clients, and wait for the proxies (subscribed clients) to have released
 * (primary) or reset their offsets (secondary) before the VM runs again.
 * A healthy proxy answers within a millisecond; one that has not answered
 * within PROXY_ANSWER_MS is dropped, and the primary then goes unprotected
 * (colo-primary.c says why).  The bound stays well below the
 * secondary's --peer-timeout (2000 ms by default): the primary sends no
 * heartbeat while it waits here.
 */
#define PROXY_ANSWER_MS 500

static int on_ckpt_done(void *opaque, uint64_t seq)
{
    struct daemon *d = opaque;
    int quarter = d->e.cfg.peer_timeout_ms / 4, wait_ms = PROXY_ANSWER_MS;

    /* Below a quarter of the peer timeout too (the heartbeat interval), if
     * the operator made that short; at least 1 ms. */
    if (d->e.cfg.peer_timeout_ms > 0 && quarter < wait_ms)
        wait_ms = quarter > 0 ? quarter : 1;
    return !d->have_ctl || colo_ctl_checkpoint_done(&d->ctl, seq, wait_ms) >= 0 ? 0 : -1;
}

/*
 * The replicated disk (blktap-colo) as the engine's device hooks: one
 * request on its control socket per hook, answered before the checkpoint
 * goes on.  A disk that does not answer fails the checkpoint.
 */
static int disk_request(struct daemon *d, const uint8_t *req, size_t len, uint32_t want,
                        struct colo_rec *r)
{
    struct colo_chan c;
    int fd = colo_sock_connect(d->disk_control, 2000), rc = -1;

    if (fd < 0 || colo_chan_init_sized(&c, fd, "disk control", 4096) < 0)
        return -1;
    if (colo_chan_send(&c, req, len) == 0 && colo_chan_expect(&c, want, r, 15000) == 0)
        rc = 0;
    colo_chan_close(&c);
    return rc;
}

static int disk_barrier(void *opaque, uint64_t epoch, uint64_t *writes)
{
    struct daemon *d = opaque;
    uint8_t buf[32];
    struct colo_rec r;

    if (!d->disk_control)
        return 0;
    if (disk_request(d, buf, colo_enc_disk(buf, sizeof(buf), COLO_REC_DISK_BARRIER, epoch, 0),
                     COLO_REC_DISK_BARRIER, &r) < 0 || r.u.disk.epoch != epoch) {
        colo_err("primary: the disk barrier of epoch %" PRIu64 " failed", epoch);
        return -1;
    }
    *writes = r.u.disk.writes;
    return 0;
}

static int disk_commit(void *opaque, uint64_t epoch, uint64_t writes)
{
    struct daemon *d = opaque;
    uint8_t buf[32];
    struct colo_rec r;

    if (!d->disk_control)
        return 0;
    if (disk_request(d, buf, colo_enc_disk(buf, sizeof(buf), COLO_REC_DISK_COMMIT, epoch, writes),
                     COLO_REC_DISK_COMMIT, &r) < 0) {
        colo_err("secondary: the disk commit of epoch %" PRIu64 " failed", epoch);
        return -1;
    }
    return 0;
}

/*
 * --on-failover: the network half of failover - switching the vif's flows
 * (hotplug/colo-ovs-setup failover), announcing the MAC - belongs to
 * whoever runs the host's switch, so the engine runs the operator's command
 * once this side carries the VM on alone, after the proxies were told.  It
 * runs beside the engine and is never waited for: the VM does not wait on
 * a script (colo-hook.h).
 */
static void hook_env(struct daemon *d, struct colo_hook_env *env)
{
    *env = (struct colo_hook_env){ .role = d->role, .domain = d->domain, .control = d->control,
                                   .domid = d->domid };
}

static void run_on_failover(struct daemon *d, const char *event)
{
    struct colo_hook_env env;
    pid_t pid;

    if (!d->on_failover || d->hook_pid > 0)
        return;
    hook_env(d, &env);
    if ((pid = colo_hook_start("--on-failover", d->on_failover, &env, event)) > 0)
        d->hook_pid = pid;
}

/* Report how the --on-failover command ended, once it has. */
static void reap_on_failover(struct daemon *d, bool last)
{
    if (d->hook_pid > 0 && colo_hook_reap("--on-failover", d->hook_pid, last) != 0)
        d->hook_pid = 0;
}

/*
 * --on-svm: the SVM exists, paused, and has never run - the moment to wire
 * its network ports (its output must never reach the LAN unchecked), and
 * the moment it is gone, to unwire them.  svm-created runs beside the
 * initial copy and must have finished before the first checkpoint is
 * applied to the SVM (waited for then, at most the I/O timeout: the
 * primary waits for SVM_RESUMED); svm-destroyed is waited for at once.
 */
static int svm_created(void *opaque)
{
    struct daemon *d = opaque;
    struct colo_hook_env env;

    if (!d->on_svm)
        return 0;
    d->domid = d->e.info.domid;     /* kept: svm-destroyed still needs it */
    hook_env(d, &env);
    if ((d->svm_pid = colo_hook_start("--on-svm", d->on_svm, &env, "svm-created")) < 0) {
        d->svm_pid = 0;
        return -1;
    }
    return 0;
}

static int svm_first_run(void *opaque)
{
    struct daemon *d = opaque;
    pid_t pid = d->svm_pid;

    if (pid <= 0)
        return 0;
    d->svm_pid = 0;
    if (colo_hook_wait("--on-svm", pid, d->e.cfg.io_timeout_ms) < 0) {
        colo_err("secondary: the --on-svm command failed at svm-created");
        return -1;
    }
    return 0;
}

static void svm_destroyed(void *opaque)
{
    struct daemon *d = opaque;
    struct colo_hook_env env;
    pid_t pid;

    if (!d->on_svm)
        return;
    if (d->svm_pid > 0) {           /* svm-created still running: it is too late for it */
        colo_hook_wait("--on-svm", d->svm_pid, 0);
        d->svm_pid = 0;
    }
    hook_env(d, &env);
    if ((pid = colo_hook_start("--on-svm", d->on_svm, &env, "svm-destroyed")) < 0 ||
        colo_hook_wait("--on-svm", pid, d->e.cfg.io_timeout_ms) < 0)
        colo_err("secondary: the --on-svm command failed at svm-destroyed");
}

/* Tell every control client (the proxy, the rewriter) that the peer is
 * gone: FAILOVER(PEER_LOST).  Fire and forget: a client that is not
 * reading is dropped by the broadcast. */
static void broadcast_failover(struct daemon *d)
{
    uint8_t buf[32];

    if (d->have_ctl)
        colo_ctl_broadcast(&d->ctl, buf, colo_enc_failover(buf, sizeof(buf), COLO_FAILOVER_PEER_LOST));
}

/*
 * Secondary failover: the disk first (the SVM's writes must land in its
 * own image now, and the disk answers before we go on), then the control
 * clients, so that the rewriter translates the SVM's output.  Until the
 * flows switch (hotplug/colo-ovs-setup failover, after this) the SVM's
 * output only reaches the dead primary's forward link, so no untranslated
 * frame reaches a client whichever way the rewriter's switch races the
 * SVM's first frames; see docs/architecture.md.
 */
static void secondary_failover(void *opaque)
{
    struct daemon *d = opaque;
    uint8_t buf[32];
    struct colo_rec r;

    if (d->disk_control &&
        disk_request(d, buf, colo_enc_failover(buf, sizeof(buf), COLO_FAILOVER_PEER_LOST),
                     COLO_REC_FAILOVER, &r) < 0)
        colo_err("secondary: the disk did not fail over: the SVM's disk is in an unknown state");
    broadcast_failover(d);
    run_on_failover(d, "failover");
}

/* Primary: the secondary is lost, the PVM runs on unprotected; the proxy
 * must stop holding its output (nothing will ever release it) and pass it
 * through. */
static void secondary_lost(void *opaque)
{
    broadcast_failover(opaque);
    run_on_failover(opaque, "secondary-lost");
}

static void read_signals(struct daemon *d)
{
    struct signalfd_siginfo si;

    while (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
        d->quit = d->signalled = true;
}

/* --ready-fd: tell whoever started us that we got this far, once. */
static void say_ready(struct daemon *d, const char *line)
{
    if (d->ready_fd < 0)
        return;
    if (write(d->ready_fd, line, strlen(line)) < 0)
        colo_log_errno("cannot write to --ready-fd %d", d->ready_fd);
    close(d->ready_fd);
    d->ready_fd = -1;
}

/* The address a listening socket is bound to, as --listen would take it. */
static void sock_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN];

    snprintf(out, cap, "?");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, cap, "%s:%u", host, ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(out, cap, "unix:%s", ((struct sockaddr_un *)&ss)->sun_path);
    }
}

/* Poll signals, control socket and (primary) the replication channel. */
static int poll_once(struct daemon *d, int timeout_ms, bool with_chan)
{
    struct pollfd pfds[2 + 1 + COLO_CTL_MAX_CLIENTS];
    int n = 0, nctl, r;

    pfds[n++] = (struct pollfd){ .fd = d->sigfd, .events = POLLIN };
    if (with_chan)
        pfds[n++] = (struct pollfd){ .fd = d->e.chan.fd, .events = POLLIN };
    nctl = d->have_ctl ? colo_ctl_pollfds(&d->ctl, pfds + n, COLO_CTL_MAX_CLIENTS + 1) : 0;
    reap_on_failover(d, false);
    r = poll(pfds, (nfds_t)(n + nctl), timeout_ms);
    if (r <= 0)
        return r;
    if (pfds[0].revents)
        read_signals(d);
    if (with_chan && pfds[1].revents)
        colo_primary_handle_input(&d->e);
    if (nctl)
        colo_ctl_handle(&d->ctl, pfds + n, nctl);
    return r;
}

static int send_heartbeat(struct daemon *d, uint64_t now)
{
    uint8_t buf[32];

    d->last_hb_ns = now;
    if (colo_chan_send(&d->e.chan, buf, colo_enc_heartbeat(buf, sizeof(buf), now, now)) < 0)
        return colo_primary_handle_input(&d->e);   /* reads the EOF, goes unprotected */
    return 0;
}

/* Primary main loop: one screen, as promised. */
static int primary_loop(struct daemon *d)
{
    struct colo_engine *e = &d->e;

    while (!d->quit && e->state != COLO_FAILED &&
           !(d->max_checkpoints && e->state == COLO_P_UNPROTECTED)) {
        uint64_t now = colo_now_ns(), next_ok = e->last_end_ns + d->min_interval_ns;
        bool running = e->state == COLO_P_RUNNING;
        int64_t wait_ns = (int64_t)d->hb_interval_ns;

        if (running && d->interval_ns && now >= e->last_end_ns + d->interval_ns)
            on_ckpt_request(d, COLO_TRIGGER_PERIODIC);
        if (running && d->pending && now >= next_ok) {
            d->pending = false;
            if (colo_primary_checkpoint(e, d->pending_cause) == 0 && d->max_checkpoints &&
                e->stats.checkpoints > d->max_checkpoints)
                d->quit = true;
            continue;
        }
        if (running && now - d->last_hb_ns >= d->hb_interval_ns)
            send_heartbeat(d, now);
        if (running && d->pending)
            wait_ns = (int64_t)(next_ok - now);
        else if (running && d->interval_ns && e->last_end_ns + d->interval_ns - now < (uint64_t)wait_ns)
            wait_ns = (int64_t)(e->last_end_ns + d->interval_ns - now);
        poll_once(d, (int)(wait_ns / 1000000) + 1, e->have_chan);
    }
    return e->state == COLO_FAILED ? -1 : 0;
}

static int secondary_idle(void *opaque)
{
    struct daemon *d = opaque;

    poll_once(d, 0, false);
    return d->quit ? -1 : 0;
}

static int secondary_main(struct daemon *d, const struct colo_domain_spec *spec)
{
    struct colo_engine *e = &d->e;
    uint64_t until;

    if (colo_secondary_run(e, spec) < 0)
        return -1;
    /* Failed over: the SVM is the VM.  Keep serving status until told to stop. */
    if (e->be->guest_progress)  /* the xen backend cannot know it */
        colo_info("secondary: guest progress at failover: %" PRIu64, e->be->guest_progress(e->dom));
    until = d->run_after_failover_ms ? colo_now_ns() + d->run_after_failover_ms * 1000000ull : 0;
    while (!d->quit && (!until || colo_now_ns() < until))
        poll_once(d, 50, false);
    return 0;
}

static int parse_ms(const char *opt, const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n;

    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n > 86400000ull) {
        colo_err("option --%s: '%s' is not a number of milliseconds (0..86400000)", opt, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* A hook's command: anything but blanks (NULL, said, if blank). */
static const char *command(const char *opt, const char *v)
{
    if (v[strspn(v, " \t")])
        return v;
    fprintf(stderr, "colo-engine: --%s needs a command\n", opt);
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "backend", 1, 0, 'b' }, { "domain", 1, 0, 'd' }, { "peer", 1, 0, 'p' },
        { "listen", 1, 0, 'l' }, { "control", 1, 0, 'c' }, { "interval", 1, 0, 'i' },
        { "min-interval", 1, 0, 'm' }, { "checkpoints", 1, 0, 'n' }, { "io-timeout", 1, 0, 't' },
        { "peer-timeout", 1, 0, 'T' }, { "run-after-failover", 1, 0, 'F' }, { "verify", 0, 0, 'v' },
        { "debug", 0, 0, 'D' }, { "help", 0, 0, 'h' }, { "disk-control", 1, 0, 'k' },
        { "ready-fd", 1, 0, 'r' }, { "on-failover", 1, 0, 'o' }, { "on-svm", 1, 0, 's' },
        { 0, 0, 0, 0 },
    };
    static struct daemon d;
    const char *backend = NULL, *domain = NULL, *peer = NULL, *listen_addr = NULL, *control = NULL;
    struct colo_engine_cfg cfg = { .io_timeout_ms = 3000, .peer_timeout_ms = 2000 };
    uint64_t interval = 2000, min_interval = 10, v;
    enum colo_log_level lvl = COLO_LOG_INFO;
    const struct colo_backend *be;
    struct colo_domain_spec spec;
    char name[64], *comma;
    sigset_t sigs;
    int c, rc, fd;

    if (argc < 2 || (strcmp(argv[1], "primary") && strcmp(argv[1], "secondary"))) {
        usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    d.role = argv[1];
    d.ready_fd = -1;
    d.domid = -1;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': backend = optarg; break;
        case 'd': domain = optarg; break;
        case 'p': peer = optarg; break;
        case 'l': listen_addr = optarg; break;
        case 'c': control = optarg; break;
        case 'k': d.disk_control = optarg; break;
        case 'o': if (!(d.on_failover = command("on-failover", optarg))) return 2; break;
        case 's': if (!(d.on_svm = command("on-svm", optarg))) return 2; break;
        case 'v': cfg.verify = true; break;
        case 'D': lvl = COLO_LOG_DEBUG; break;
        case 'h': usage(stdout); return 0;
        case 'i': if (parse_ms("interval", optarg, &interval) < 0) return 2; break;
        case 'm': if (parse_ms("min-interval", optarg, &min_interval) < 0) return 2; break;
        case 'n': if (parse_ms("checkpoints", optarg, &d.max_checkpoints) < 0) return 2; break;
        case 't': if (parse_ms("io-timeout", optarg, &v) < 0) return 2; cfg.io_timeout_ms = (int)v; break;
        case 'T': if (parse_ms("peer-timeout", optarg, &v) < 0) return 2; cfg.peer_timeout_ms = (int)v; break;
        case 'F': if (parse_ms("run-after-failover", optarg, &d.run_after_failover_ms) < 0) return 2; break;
        case 'r':
            if (parse_ms("ready-fd", optarg, &v) < 0)
                return 2;
            if (v < 3 || v > 65535 || fcntl((int)v, F_GETFD) < 0) {
                fprintf(stderr, "colo-engine: --ready-fd %s is not an open file descriptor above 2\n", optarg);
                return 2;
            }
            d.ready_fd = (int)v;
            fcntl(d.ready_fd, F_SETFD, FD_CLOEXEC);   /* not for the sim workload or qemu */
            break;
        default: usage(stderr); return 2;
        }
    }
    colo_log_init(strcmp(d.role, "primary") ? "colo-secondary" : "colo-primary", lvl);
    if (optind < argc) {
        colo_err("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (d.on_svm && !strcmp(d.role, "primary")) {
        colo_err("--on-svm is for the secondary: the primary creates no SVM");
        return 2;
    }
    if (!backend || !domain || (strcmp(d.role, "primary") ? !listen_addr : !peer)) {
        colo_err("%s needs --backend, --domain and %s", d.role,
                 strcmp(d.role, "primary") ? "--listen" : "--peer");
        return 2;
    }
    if (!(be = colo_backend_find(backend))) {
        colo_err("unknown backend '%s' (known: sim, xen)", backend);
        return 2;
    }
    snprintf(name, sizeof(name), "%s", domain);
    comma = strchr(name, ',');
    if (comma)
        *comma = '\0';
    spec.name = name;
    d.domain = name;
    d.control = control;
    spec.options = strchr(domain, ',') ? strchr(domain, ',') + 1 : "";
    if (!name[0] || cfg.io_timeout_ms <= 0) {
        colo_err(!name[0] ? "--domain needs a name before its options" : "--io-timeout must be positive");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    d.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    d.interval_ns = interval * 1000000ull;
    d.min_interval_ns = min_interval * 1000000ull;
    d.hb_interval_ns = (uint64_t)cfg.peer_timeout_ms * 1000000ull / 4;
    if (!d.hb_interval_ns)
        d.hb_interval_ns = 500000000ull;
    if (control) {
        if (colo_ctl_open(&d.ctl, control) < 0)
            return 1;
        d.have_ctl = true;
        d.ctl.opaque = &d;
        d.ctl.on_checkpoint_request = on_ckpt_request;
        d.ctl.on_status = on_status;
    }
    d.e.hooks.opaque = &d;

    if (!strcmp(d.role, "primary")) {
        struct colo_domain *dom;
        struct colo_hooks hooks = d.e.hooks;

        if (be->open_primary(&spec, &dom) < 0)
            return 1;
        if ((fd = colo_sock_connect(peer, cfg.io_timeout_ms)) < 0 ||
            colo_primary_init(&d.e, be, dom, fd, &cfg) < 0) {
            be->close(dom);
            return 1;
        }
        d.e.hooks = hooks;
        d.domid = d.e.info.domid;
        d.e.hooks.checkpoint_done = on_ckpt_done;
        d.e.hooks.disk_barrier = disk_barrier;
        d.e.hooks.secondary_lost = secondary_lost;
        rc = colo_primary_start(&d.e);
        if (rc == 0) {
            colo_info("primary: %s protected: initial copy of %" PRIu64 " pages done, SVM running",
                      name, d.e.stats.initial_total);
            say_ready(&d, "protected\n");
        }
        rc = d.e.state == COLO_FAILED ? -1 : primary_loop(&d);
        /*
         * Stopped by a signal (the operator, xl-colo): the PVM runs on, so
         * the secondary must not take over - tell it we are alive and
         * giving up (ERROR), which makes it destroy the SVM.  Exiting after
         * --checkpoints, or dying, sends nothing: that is a lost primary.
         */
        if (d.signalled && d.e.have_chan && d.e.state != COLO_P_UNPROTECTED &&
            d.e.state != COLO_FAILED) {
            colo_info("primary: stopped by the operator: the secondary stands down, %s runs on "
                      "unprotected", name);
            colo_chan_send_error(&d.e.chan, ECANCELED, "the primary was stopped by the operator");
        }
    } else {
        int lfd = colo_sock_listen(listen_addr);
        char bound[160], line[176];

        if (lfd < 0)
            return 1;
        sock_name(lfd, bound, sizeof(bound));
        colo_info("secondary: waiting for the primary on %s", bound);
        snprintf(line, sizeof(line), "listening %s\n", bound);
        say_ready(&d, line);
        while ((fd = colo_sock_accept(lfd, 200)) < 0 && !d.quit)
            poll_once(&d, 0, false);
        close(lfd);
        if (fd < 0)
            return 1;
        if (colo_secondary_init(&d.e, be, &spec, fd, &cfg) < 0)
            return 1;
        d.e.hooks.opaque = &d;
        d.e.hooks.idle = secondary_idle;
        d.e.hooks.disk_commit = disk_commit;
        d.e.hooks.failover = secondary_failover;
        d.e.hooks.checkpoint_done = on_ckpt_done;
        d.e.hooks.svm_created = svm_created;
        d.e.hooks.svm_first_run = svm_first_run;
        d.e.hooks.svm_destroyed = svm_destroyed;
        rc = secondary_main(&d, &spec);
    }
    {
        char *json = on_status(&d);

        if (json)
            printf("%s\n", json);
        free(json);
    }
    reap_on_failover(&d, true);
    if (d.e.dom)
        be->close(d.e.dom);
    colo_engine_fini(&d.e);
    if (d.have_ctl)
        colo_ctl_close(&d.ctl);
    return rc < 0 ? 1 : 0;
}
