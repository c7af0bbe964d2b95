/*
 * xlcolo-remus.c - `xl-colo remus -c DOMAIN HOST`: the sending side.
 *
 *   1. options, the domain (an HVM guest), its xl.cfg: all checked before
 *      anything starts;
 *   2. the receiving side is started as xl starts it (ssh HOST xl-colo
 *      migrate-receive --colo, or the -s command, or HOST itself with -s ""),
 *      answers with its banner, gets the xl.cfg on its stdin and answers
 *      "ready ADDR:PORT" once its secondary engine listens there;
 *   3. the primary engine starts, connects, copies the domain and takes the
 *      first checkpoint ("protected" on its --ready-fd); the receiving side
 *      is told, and is done with its part;
 *   4. xl-colo stays, as xl remus does, for as long as the domain is
 *      protected: Ctrl-C or SIGTERM stops the protection (the engine tells
 *      the secondary to stand down and destroy the SVM; the domain runs on),
 *      and losing the secondary ends it too.
 *
 * A failure at any step undoes what was started: the engine is stopped,
 * the receiving side is told to abort (or sees its pipe close), and it
 * destroys whatever it created.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-channel.h"
#include "colo-log.h"
#include "xlcolo-cfg.h"
#include "xlcolo-cmds.h"
#include "xlcolo-domain.h"
#include "xlcolo-net.h"
#include "xlcolo-opts.h"
#include "xlcolo-run.h"
#include "xlcolo-wire.h"

#define BANNER_WAIT_MS  60000   /* ssh may take a while to connect */
#define READY_WAIT_MS  120000   /* the receiver checks the config and starts its engine */
#define ABORT_WAIT_MS   30000   /* the receiver stops its engine, which destroys the SVM */
#define ENGINE_STOP_MS  15000

struct receiver {
    char *rune;
    pid_t pid;
    int to, from;
    bool handed_over;       /* told "protected": how it ends is its own business */
};

struct remus {
    struct xlc_remus_opts o;
    const char *backend;
    struct xlc_domain dom;
    struct xlc_cfg_info info;
    char cfgpath[4096];
    char *cfg;
    size_t cfglen;
    char ctl[XLC_SUN_PATH_MAX + 8];     /* unix:PATH */
    char log[4096];
    long log_from;              /* this run's part of the log */
    struct receiver r;
    pid_t engine;
    int ready_fd, sigfd;
    bool wire;                  /* xl-colo wires the vifs (xlcolo-net.h) */
    bool wired;                 /* ... and has: undo at the end */
    struct xlc_net net;
    char *on_failover;          /* the engine's --on-failover command */
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: xl-colo remus -c [options] DOMAIN HOST\n"
"  -c, --colo       COLO (without it the command goes to xl: Remus)\n"
"  -i MS            checkpoint at least every MS milliseconds (default %u; 0: only\n"
"                   when a device or the operator asks)\n"
"  -u               no memory compression (COLO never compresses: implied)\n"
"  -s SSH           use SSH instead of ssh to start the receiving side; if empty,\n"
"                   HOST is the command that runs `xl-colo migrate-receive --colo`\n"
"  -e               the receiving side stays in the foreground (no daemon)\n"
"  -N SCRIPT        the COLO proxy script, passed on as --coloft-script\n"
"  -F               unsafe: writable disks without COLO keys and vifs without\n"
"                   forwarddev are warnings, not errors\n"
"  -p               userspace COLO proxy (vifs need no forwarddev)\n"
"  -C XLCFG         the domain's xl.cfg (default /etc/xen/DOMAIN.cfg, /etc/xen/DOMAIN)\n"
"  --io-timeout MS, --peer-timeout MS\n"
"                   the engines' timeouts (slow or distant hosts), on both sides\n"
"  --save pages|libxenguest\n"
"                   how the primary reads the PVM: page by page (default), or\n"
"                   through libxenguest's own COLO loop (xc_domain_save)\n"
"  --restore pages|libxenguest\n"
"                   how the secondary applies checkpoints: page by page\n"
"                   (default), or through libxenguest's own COLO loop\n"
"                   (xc_domain_restore; needs the SVM's qemu-xen restarted)\n"
"  --net-layout flows|inline\n"
"                   where the proxies sit, on both hosts: between the bridge\n"
"                   and the VM (inline, the default), or beside the bridge,\n"
"                   OpenFlow rules steering the VM's frames (flows)\n"
"  -b, -n, -d       refused with -c, as by xl\n"
"see xl-colo(1)\n", XLC_DEFAULT_INTERVAL_MS);
}

/* --- the receiving side --- */

static void receiver_reap(struct receiver *r, int wait_ms)
{
    int status;
    char why[64];

    if (r->pid <= 0)
        return;
    if (xlc_wait_pid(r->pid, wait_ms, &status)) {
        if (status && !r->handed_over)
            colo_err("the receiving command %s (it was: %s)",
                     xlc_describe_status(status, why, sizeof(why)), r->rune);
        else if (status)
            colo_info("the receiving side (in the foreground, -e) %s",
                      xlc_describe_status(status, why, sizeof(why)));
        r->pid = 0;
    }
}

static void receiver_close(struct receiver *r)
{
    if (r->to >= 0)
        close(r->to);
    if (r->from >= 0)
        close(r->from);
    r->to = r->from = -1;
}

/* Tell the receiving side to give up, and wait (bounded) until it has. */
static void receiver_abort(struct receiver *r, const char *why)
{
    char line[XLC_LINE_MAX];

    if (r->to >= 0) {
        snprintf(line, sizeof(line), "abort %.900s\n", why);
        xlc_write_all(r->to, line, strlen(line));      /* it may be gone already */
    }
    receiver_close(r);
    receiver_reap(r, ABORT_WAIT_MS);
    if (r->pid > 0) {
        colo_err("the receiving side did not finish within %d s: stopping it (its host may "
                 "keep an SVM: check with xl list there)", ABORT_WAIT_MS / 1000);
        xlc_stop_pid(r->pid, 2000);
        r->pid = 0;
    }
}

/* A line from the receiving side, or a clear error (and the side reaped). */
static int receiver_line(struct receiver *r, char *buf, size_t cap, int wait_ms, const char *what)
{
    if (xlc_read_line(r->from, buf, cap, wait_ms) >= 0)
        return 0;
    if (errno == EPIPE) {
        colo_err("the receiving side ended before its %s (command run was: %s)", what, r->rune);
        receiver_close(r);
        receiver_reap(r, 5000);
    } else if (errno == ETIMEDOUT) {
        colo_err("no %s from the receiving side within %d s (command run was: %s)", what,
                 wait_ms / 1000, r->rune);
    } else {
        colo_log_errno("reading the receiving side's %s", what);
    }
    return -1;
}

static int start_receiver(struct remus *m, char *peer, size_t peercap, char *why, size_t whycap)
{
    struct receiver *r = &m->r;
    char line[XLC_LINE_MAX];
    const char *arg;

    r->rune = xlc_receiver_command(&m->o);
    if (!r->rune) {
        colo_err("out of memory");
        return -1;
    }
    colo_info("starting the receiving side: %s", r->rune);
    r->pid = xlc_spawn_shell(r->rune, &r->to, &r->from);
    if (r->pid < 0) {
        r->pid = 0;
        return -1;
    }
    if (receiver_line(r, line, sizeof(line), BANNER_WAIT_MS, "banner") < 0)
        return -1;
    if (strcmp(line, XLC_BANNER) != 0) {
        colo_err("the receiving side said '%.80s' instead of '%s': is xl-colo (not xl) "
                 "installed there? (command run was: %s)", line, XLC_BANNER, r->rune);
        return -1;
    }
    snprintf(line, sizeof(line), "config %s %zu\n", m->dom.name, m->cfglen);
    if (xlc_write_all(r->to, line, strlen(line)) < 0 ||
        xlc_write_all(r->to, m->cfg, m->cfglen) < 0) {
        colo_log_errno("sending the xl.cfg to the receiving side");
        return -1;
    }
    if (receiver_line(r, line, sizeof(line), READY_WAIT_MS, "answer to the config") < 0)
        return -1;
    switch (xlc_parse_reply(line, &arg)) {
    case XLC_REPLY_READY:
        if (xlc_peer_address(arg, &m->o, peer, peercap, why, whycap) < 0) {
            colo_err("%s", why);
            return -1;
        }
        return 0;
    case XLC_REPLY_ERROR:
        colo_err("the receiving side refused: %s", arg);
        receiver_close(r);
        receiver_reap(r, 5000);
        return -1;
    default:
        colo_err("the receiving side answered '%.80s', which is neither 'ready' nor 'error'",
                 line);
        return -1;
    }
}

/* --- the primary engine --- */

static int start_engine(struct remus *m, const char *peer)
{
    char dom[256], interval[16], tmo[2][16], *argv[24];
    const char *simopts = getenv("XL_COLO_SIM_OPTS");
    int n = 0;

    if (!strcmp(m->backend, "xen"))
        snprintf(dom, sizeof(dom), "%s,domid=%u%s%s", m->dom.name, m->dom.domid,
                 m->o.save ? ",save=" : "", m->o.save ? m->o.save : "");
    else
        snprintf(dom, sizeof(dom), "%s,mem=%ldM%s%s", m->dom.name, m->info.memory_mib,
                 simopts && simopts[0] ? "," : "", simopts ? simopts : "");
    snprintf(interval, sizeof(interval), "%u", m->o.interval_ms);
    if (xlc_ctl_alive(m->ctl + 5)) {
        colo_err("%s is taken by another engine (the receiving side's, on this same host? "
                 "give one side another XL_COLO_RUNDIR)", m->ctl + 5);
        return -1;
    }
    argv[n++] = "colo-engine";
    argv[n++] = "primary";
    argv[n++] = "--backend";
    argv[n++] = (char *)m->backend;
    argv[n++] = "--domain";
    argv[n++] = dom;
    argv[n++] = "--peer";
    argv[n++] = (char *)peer;
    argv[n++] = "--control";
    argv[n++] = m->ctl;
    argv[n++] = "--interval";
    argv[n++] = interval;
    argv[n++] = "--ready-fd";
    argv[n++] = "3";
    if (m->on_failover) {
        argv[n++] = "--on-failover";
        argv[n++] = m->on_failover;
    }
    n = xlc_timeout_args(argv, n, m->o.io_timeout_ms, m->o.peer_timeout_ms, tmo);
    argv[n] = NULL;
    colo_info("starting the primary engine for %s (id %u), replicating to %s; log: %s",
              m->dom.name, m->dom.domid, peer, m->log);
    m->log_from = xlc_file_size(m->log);
    m->engine = xlc_spawn_engine(argv, m->log, true, &m->ready_fd);
    return m->engine < 0 ? -1 : 0;
}

static void stop_engine(struct remus *m)
{
    char why[64];
    int status;

    if (m->engine <= 0)
        return;
    status = xlc_stop_pid(m->engine, ENGINE_STOP_MS);
    m->engine = 0;
    if (status && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        colo_warn("the primary engine %s", xlc_describe_status(status, why, sizeof(why)));
    xlc_ctl_remove(m->ctl + 5);     /* if it left its socket behind */
}

/* --- the network (xlcolo-net.h) --- */

/*
 * Before the engine starts: from the moment the flows are set, the PVM's
 * output goes to the comparator, which releases it only when the SVM
 * matched it or a checkpoint it was told of covers it; everything the PVM
 * sent before goes out with the first checkpoint's state behind it.
 */
static int wire_ports(struct remus *m)
{
    if (!m->wire)
        return 0;
    if (xlc_net_plan_write(&m->net) < 0 || xlc_net_setup(&m->net, false) < 0) {
        xlc_net_plan_remove(m->dom.name);
        return -1;
    }
    m->wired = true;
    return 0;
}

/* The comparators, once the engine's control socket is there to connect to. */
static int start_proxies(struct remus *m)
{
    int st;

    if (!m->wire)
        return 0;
    if (xlc_wait_listening(m->ctl + 5, m->engine, 10000, &st) < 0) {
        m->engine = 0;
        colo_err("the primary engine of %s ended before its control socket appeared",
                 m->dom.name);
        xlc_show_log_errors(m->log, m->log_from, 8);
        return -1;
    }
    return xlc_net_start_proxies(&m->net);
}

static void unwire(struct remus *m)
{
    int lock;

    if (!m->wired)
        return;
    lock = xlc_net_lock();      /* a failover command of the engine may still run */
    xlc_net_teardown(&m->net);
    xlc_net_plan_remove(m->dom.name);
    xlc_net_unlock(lock);
    m->wired = false;
}

enum { WAIT_PROTECTED, WAIT_ENGINE_GONE, WAIT_RECEIVER_GONE, WAIT_SIGNAL };

/* Until the engine says "protected", or something ends the attempt. */
static int wait_protected(struct remus *m)
{
    for (;;) {
        struct pollfd p[3] = {
            { .fd = m->ready_fd, .events = POLLIN },
            { .fd = m->r.from, .events = POLLIN },
            { .fd = m->sigfd, .events = POLLIN },
        };
        struct signalfd_siginfo si;
        char line[64];

        if (poll(p, 3, -1) < 0 && errno != EINTR)
            return WAIT_ENGINE_GONE;
        if (p[0].revents) {
            if (xlc_read_line(m->ready_fd, line, sizeof(line), 5000) >= 0 &&
                !strcmp(line, "protected"))
                return WAIT_PROTECTED;
            return WAIT_ENGINE_GONE;
        }
        if (p[1].revents)
            return WAIT_RECEIVER_GONE;      /* nothing more is expected from it now */
        while (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
            if (si.ssi_signo != SIGCHLD)
                return WAIT_SIGNAL;
    }
}

/*
 * One second of being protected: -1 while it lasts, else the exit status:
 * 0 if the operator stopped it, 1 if it ended otherwise.  The engine's
 * status comes over one control connection kept open (a connection a
 * second would be a line a second in the engine's log).
 */
static int supervise_once(struct remus *m, struct colo_chan *ctl, bool *have_ctl)
{
    struct pollfd p = { .fd = m->sigfd, .events = POLLIN };
    struct signalfd_siginfo si;
    char state[32], why[64], *status;
    int st;

    if (poll(&p, 1, 1000) > 0) {
        while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
            if (si.ssi_signo == SIGCHLD)
                continue;
            colo_info("stopping the protection of %s (signal %u): the secondary stands "
                      "down and destroys the SVM; %s runs on unprotected", m->dom.name,
                      si.ssi_signo, m->dom.name);
            stop_engine(m);
            return 0;
        }
    }
    receiver_reap(&m->r, 0);
    if (xlc_wait_pid(m->engine, 0, &st)) {
        m->engine = 0;
        colo_err("the primary engine of %s %s: %s is no longer protected", m->dom.name,
                 xlc_describe_status(st, why, sizeof(why)), m->dom.name);
        xlc_show_log_errors(m->log, m->log_from, 8);
        xlc_ctl_remove(m->ctl + 5);
        return 1;
    }
    if (!*have_ctl)
        *have_ctl = xlc_status_open(m->dom.name, ctl, true) == 0;
    status = *have_ctl ? xlc_status_ask(ctl) : NULL;
    if (!status) {
        if (*have_ctl)
            colo_chan_close(ctl);
        *have_ctl = false;
        return -1;      /* exiting, or busy: seen next round */
    }
    xlc_status_field(status, "state", state, sizeof(state));
    free(status);
    if (!strcmp(state, "unprotected") || !strcmp(state, "failed")) {
        colo_err("COLO protection of %s ended (engine state %s): the secondary was lost; "
                 "%s runs on unprotected", m->dom.name, state, m->dom.name);
        xlc_show_log_errors(m->log, m->log_from, 8);
        stop_engine(m);
        return 1;
    }
    return -1;
}

/* Protected: stay while it lasts.  Returns the exit status. */
static int supervise(struct remus *m)
{
    struct colo_chan ctl;
    bool have_ctl = false;
    int rc;

    while ((rc = supervise_once(m, &ctl, &have_ctl)) < 0)
        ;
    if (have_ctl)
        colo_chan_close(&ctl);
    return rc;
}

static int find_config(struct remus *m)
{
    if (m->o.config) {
        snprintf(m->cfgpath, sizeof(m->cfgpath), "%s", m->o.config);
        return 0;
    }
    snprintf(m->cfgpath, sizeof(m->cfgpath), "/etc/xen/%s.cfg", m->dom.name);
    if (access(m->cfgpath, R_OK) == 0)
        return 0;
    snprintf(m->cfgpath, sizeof(m->cfgpath), "/etc/xen/%s", m->dom.name);
    if (access(m->cfgpath, R_OK) == 0)
        return 0;
    colo_err("domain '%s': no xl.cfg found (tried /etc/xen/%s.cfg and /etc/xen/%s); name it "
             "with -C FILE", m->dom.name, m->dom.name, m->dom.name);
    return -1;
}

/*
 * Which vifs xl-colo wires, with which script: all of them, with -N SCRIPT
 * or the installed colo-ovs-setup; none with -p (the userspace proxy's
 * wiring is the operator's).  The receiving side gets the same script.
 */
static int prepare_net(struct remus *m)
{
    const char *bad;

    if (!m->info.vifs)
        return 0;
    if (m->o.userspace_proxy && m->o.net_layout) {
        colo_err("--net-layout chooses how xl-colo wires the vifs; with -p it wires none");
        return -1;
    }
    if (m->o.userspace_proxy) {
        colo_warn("domain '%s': -p: xl-colo does not wire its %d vif(s); until a userspace "
                  "proxy holds their output, COLO does not protect what the domain sends",
                  m->dom.name, m->info.vifs);
        return 0;
    }
    if (!m->o.netbufscript)
        m->o.netbufscript = xlc_net_default_script();
    if (xlc_net_check_script(m->o.netbufscript) < 0)
        return -1;
    if (access(m->o.netbufscript, X_OK) < 0) {
        colo_err("domain '%s' has %d vif(s), and the COLO proxy script %s cannot be run (%s): "
                 "name one with -N SCRIPT", m->dom.name, m->info.vifs, m->o.netbufscript,
                 strerror(errno));
        return -1;
    }
    if (!xlc_net_init(&m->net, m->dom.name, "primary", m->o.netbufscript, m->o.net_layout,
                      m->backend, m->dom.domid, &m->info))
        return 0;
    if ((bad = xlc_net_proxy_nice(&(int){ 0 }))) {
        colo_err("%s", bad);
        return -1;
    }
    for (int i = 0; i < m->net.nvif; i++) {
        char ifname[32];

        if (xlc_net_ifname(&m->net, i, ifname, sizeof(ifname)) < 0)
            return -1;
    }
    if (!(m->on_failover = xlc_net_command("failover", "primary", m->dom.name))) {
        colo_err("out of memory");
        return -1;
    }
    m->wire = true;
    return 0;
}

/* Everything that can be checked before anything starts. */
static int prepare(struct remus *m)
{
    struct xlc_cfg_policy pol = { .policy = true, .unsafe = m->o.unsafe,
                                  .userspace_proxy = m->o.userspace_proxy };
    char err[1024];

    if (!(m->backend = xlc_backend()))
        return -1;
    if (m->o.save && strcmp(m->backend, "xen")) {
        colo_err("--save chooses how the xen backend reads the PVM; the %s backend has no "
                 "such choice", m->backend);
        return -1;
    }
    if (m->o.restore && strcmp(m->backend, "xen")) {
        colo_err("--restore chooses how the xen backend applies checkpoints; the %s backend "
                 "has no such choice", m->backend);
        return -1;
    }
    if (xlc_domain_find(m->backend, m->o.domain, &m->dom) < 0)
        return -1;
    if (m->dom.type != XLC_GUEST_HVM) {
        colo_err("domain '%s' (id %u) is a %s guest: COLO needs an HVM guest (a PV guest's "
                 "rings and grant state live in its memory and differ between PVM and SVM)",
                 m->dom.name, m->dom.domid, xlc_guest_name(m->dom.type));
        return -1;
    }
    if (xlc_check_name(m->dom.name, err, sizeof(err)) < 0) {
        colo_err("%s", err);
        return -1;
    }
    if (find_config(m) < 0)
        return -1;
    if (xlc_cfg_read(m->cfgpath, &m->cfg, &m->cfglen, err, sizeof(err)) < 0) {
        colo_err("domain '%s': %s", m->dom.name, err);
        return -1;
    }
    if (xlc_cfg_check(m->cfg, m->cfglen, m->cfgpath, m->dom.name, &pol, &m->info, err,
                      sizeof(err)) < 0) {
        colo_err("%s", err);
        return -1;
    }
    if (xlc_mkdir(xlc_rundir(), 0755) < 0 || xlc_mkdir(xlc_logdir(), 0755) < 0 ||
        xlc_ctl_path(m->dom.name, true, m->ctl, sizeof(m->ctl)) < 0)
        return -1;
    if (xlc_ctl_alive(m->ctl + 5)) {
        colo_err("domain '%s' is already protected: its engine answers on %s "
                 "(xl-colo colo-status %s)", m->dom.name, m->ctl + 5, m->dom.name);
        return -1;
    }
    xlc_log_file(m->dom.name, "primary", m->log, sizeof(m->log));
    return prepare_net(m);
}

int xlc_cmd_remus(int argc, char **argv, const struct xlc_invocation *inv)
{
    static struct remus m;
    char err[512], peer[300], why[512] = "the sending side gave up (see its messages)";
    int rc = 1, w;

    memset(&m, 0, sizeof(m));
    m.r.to = m.r.from = m.ready_fd = -1;
    rc = xlc_settle_parse(xlc_parse_remus(argc, argv, &m.o, err, sizeof(err)), "remus", err,
                          usage, inv);
    if (rc >= 0)
        return rc;
    rc = 1;
    if (prepare(&m) < 0)
        goto out;
    if ((m.sigfd = xlc_signals_init()) < 0) {
        colo_log_errno("signalfd");
        goto out;
    }
    if (start_receiver(&m, peer, sizeof(peer), why, sizeof(why)) < 0) {
        receiver_abort(&m.r, why);
        goto out;
    }
    if (wire_ports(&m) < 0) {
        receiver_abort(&m.r, "the primary's network could not be set up for COLO");
        goto out;
    }
    if (start_engine(&m, peer) < 0) {
        receiver_abort(&m.r, "the primary engine did not start");
        goto out;
    }
    if (start_proxies(&m) < 0) {
        colo_err("%s is not protected: its vifs' comparators did not start", m.dom.name);
        stop_engine(&m);
        receiver_abort(&m.r, "the primary's comparators did not start");
        goto out;
    }
    w = wait_protected(&m);
    if (w != WAIT_PROTECTED) {
        snprintf(why, sizeof(why), "%s", w == WAIT_SIGNAL ? "interrupted by the operator"
                 : w == WAIT_RECEIVER_GONE ? "the receiving side went away"
                 : "the primary engine failed");
        colo_err("%s is not protected: %s", m.dom.name, why);
        if (w == WAIT_ENGINE_GONE)
            xlc_show_log_errors(m.log, m.log_from, 8);
        stop_engine(&m);
        receiver_abort(&m.r, why);
        goto out;
    }
    close(m.ready_fd);
    m.ready_fd = -1;
    if (xlc_write_all(m.r.to, "protected\n", 10) < 0)
        colo_warn("could not tell the receiving side that %s is protected: it went away "
                  "(the engines are connected; the status below will tell)", m.dom.name);
    receiver_close(&m.r);
    m.r.handed_over = true;
    colo_info("%s (id %u) is protected by COLO; secondary at %s.  Status: xl-colo "
              "colo-status %s.  Stop: Ctrl-C or SIGTERM to xl-colo (pid %d).",
              m.dom.name, m.dom.domid, peer, m.dom.name, (int)getpid());
    rc = supervise(&m);
out:
    if (m.ready_fd >= 0)
        close(m.ready_fd);
    stop_engine(&m);
    unwire(&m);
    receiver_close(&m.r);
    receiver_reap(&m.r, 0);
    free(m.r.rune);
    free(m.cfg);
    free(m.on_failover);
    return rc;
}
