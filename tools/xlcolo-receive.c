/*
 * xlcolo-receive.c - `xl-colo migrate-receive --colo`: the receiving side,
 * started by the sending xl-colo over ssh (or its -s command), talking to
 * it on stdin/stdout (xlcolo-wire.h); messages go to stderr, which ssh
 * carries back to the operator.
 *
 *   1. banner; the domain's name and xl.cfg arrive and are checked (the
 *      structure, not the policy: that was the sender's call);
 *   2. the config is written to RUNDIR/NAME.cfg (until the SVM is built
 *      from it) and the secondary engine
 *      starts listening (--listen, default every address and a port the
 *      kernel picks); "ready ADDR:PORT" goes back;
 *   3. the sender's "protected" ends our part: by default we exit and the
 *      engine runs on as a daemon; with -e we stay until it ends.  "abort",
 *      an end of file or a signal before that: the engine is stopped, which
 *      destroys the SVM if it exists (a leftover SVM of an engine that had
 *      to be killed is destroyed here), and the files go.
 *
 * Copyright (C) 2026 the xen-colo authors.  GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-log.h"
#include "xen-xlcfg.h"
#include "xlcolo-cfg.h"
#include "xlcolo-cmds.h"
#include "xlcolo-domain.h"
#include "xlcolo-net.h"
#include "xlcolo-opts.h"
#include "xlcolo-run.h"
#include "xlcolo-wire.h"

#define CONFIG_WAIT_MS 60000
#define LISTEN_WAIT_MS 30000
#define ENGINE_STOP_MS 15000

struct receive {
    struct xlc_receive_opts o;
    const char *backend;
    char name[XLC_NAME_MAX];
    char svm[XLC_NAME_MAX + 16];
    char *cfg;
    size_t cfglen;
    char cfgfile[4096], log[4096];
    long log_from;              /* this run's part of the log */
    char ctl[XLC_SUN_PATH_MAX + 8];
    pid_t engine;
    int ready_fd, sigfd;
    bool wrote_cfg;
    struct xlc_cfg_info info;
    bool wire;                  /* the engine's --on-svm wires the SVM's vifs */
    char *on_svm, *on_failover; /* the engine's commands (xlcolo-net.h) */
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: xl-colo migrate-receive --colo [options]   (started by xl-colo remus -c)\n"
"  --colo                   COLO (without it the command goes to xl)\n"
"  -e, -F                   stay in the foreground until the secondary engine ends\n"
"  -d                       the engine logs every state transition\n"
"  --coloft-script SCRIPT   the COLO proxy script (checked to exist)\n"
"  --userspace-colo-proxy   userspace COLO proxy\n"
"  --listen ADDR:PORT       where the secondary engine listens (default %s)\n"
"  --io-timeout MS, --peer-timeout MS   the engine's timeouts\n"
"  --restore pages|libxenguest          how the SVM takes checkpoints: page by page\n"
"                           (default), or through libxenguest's own COLO loop\n"
"                           (xc_domain_restore)\n"
"  --net-layout flows|inline            where the rewriter sits (docs/networking.md)\n"
"see xl-colo(1)\n", XLC_DEFAULT_LISTEN);
}

/* To the sender, and to our stderr (which ssh shows the operator). */
static void refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void refuse(const char *fmt, ...)
{
    char msg[900], line[XLC_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    colo_err("%s", msg);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    snprintf(line, sizeof(line), "error %s\n", msg);
    xlc_write_all(STDOUT_FILENO, line, strlen(line));
}

static int read_config(struct receive *m)
{
    struct xlc_cfg_policy pol = { .policy = false, .userspace_proxy = m->o.userspace_proxy };
    struct xlc_cfg_info *info = &m->info;
    char line[XLC_LINE_MAX], err[1024];

    if (xlc_read_line(STDIN_FILENO, line, sizeof(line), CONFIG_WAIT_MS) < 0) {
        colo_log_errno("no 'config' line from the sending side");
        return -1;
    }
    if (xlc_parse_config_header(line, m->name, sizeof(m->name), &m->cfglen, err,
                                sizeof(err)) < 0) {
        refuse("bad request from the sending side: %s", err);
        return -1;
    }
    m->cfg = malloc(m->cfglen + 1);
    if (!m->cfg) {
        refuse("out of memory");
        return -1;
    }
    if (xlc_read_exact(STDIN_FILENO, m->cfg, m->cfglen, CONFIG_WAIT_MS) < 0) {
        colo_log_errno("the xl.cfg of %s did not arrive whole (%zu bytes announced)", m->name,
                       m->cfglen);
        return -1;
    }
    m->cfg[m->cfglen] = '\0';
    if (xlc_cfg_check(m->cfg, m->cfglen, "the xl.cfg received", m->name, &pol, info, err,
                      sizeof(err)) < 0) {
        refuse("%s", err);
        return -1;
    }
    return 0;
}

/* Nothing of ours may be in the way: an engine for this domain, an SVM. */
static int check_free(struct receive *m)
{
    snprintf(m->svm, sizeof(m->svm), "%s%s", m->name, COLO_XEN_SVM_SUFFIX);
    if (xlc_mkdir(xlc_rundir(), 0755) < 0 || xlc_mkdir(xlc_logdir(), 0755) < 0) {
        refuse("cannot create %s or %s on the receiving host", xlc_rundir(), xlc_logdir());
        return -1;
    }
    if (xlc_ctl_path(m->name, true, m->ctl, sizeof(m->ctl)) < 0) {
        refuse("the control socket path for %s is too long", m->name);
        return -1;
    }
    if (xlc_ctl_alive(m->ctl + 5)) {
        refuse("domain '%s' is already replicated to this host (an engine answers on %s)",
               m->name, m->ctl + 5);
        return -1;
    }
    switch (xlc_domain_exists(m->backend, m->svm)) {
    case 1:
        refuse("a domain named %s already exists on the receiving host (a leftover SVM? "
               "xl destroy it)", m->svm);
        return -1;
    case -1:
        refuse("cannot check for domain %s on the receiving host (no Xen there?)", m->svm);
        return -1;
    }
    if (m->o.script && xlc_net_check_script(m->o.script) < 0) {
        refuse("the COLO proxy script path '%.200s' is not one xl-colo runs (at most 1023 "
               "characters of A-Z a-z 0-9 _ . / + -)", m->o.script);
        return -1;
    }
    if (m->o.script && access(m->o.script, X_OK) < 0) {
        refuse("the COLO proxy script %s is not executable on the receiving host: %s",
               m->o.script, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_config(struct receive *m)
{
    int fd;

    xlc_run_file(m->name, "cfg", m->cfgfile, sizeof(m->cfgfile));
    fd = open(m->cfgfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || xlc_write_all(fd, m->cfg, m->cfglen) < 0 || close(fd) < 0) {
        refuse("cannot write %s: %s", m->cfgfile, strerror(errno));
        if (fd >= 0)
            unlink(m->cfgfile);
        return -1;
    }
    m->wrote_cfg = true;
    return 0;
}

/*
 * The SVM's vifs are wired by the engine's --on-svm command when the SVM
 * exists and before it first runs (xlcolo-net.h); what to wire is written
 * down for it now.  With a script from the sending side and vifs, and not
 * for the userspace proxy (-p), whose wiring is the operator's.
 */
static int plan_net(struct receive *m)
{
    struct xlc_net n;
    const char *bad;

    if (m->o.userspace_proxy ||
        !xlc_net_init(&n, m->name, "secondary", m->o.script, m->o.net_layout, m->backend, -1,
                      &m->info))
        return 0;
    if (!m->o.script) {
        /* The sending side always names it when it wires its own side. */
        refuse("%s has %d vif(s) and no --coloft-script came with it: the SVM's vifs would "
               "not be wired, and its output would reach the network", m->name, n.nvif);
        return -1;
    }
    /* The rewriter starts much later (--on-svm): a bad niceness is refused now. */
    if ((bad = xlc_net_proxy_nice(&(int){ 0 }))) {
        refuse("%s", bad);
        return -1;
    }
    if (!(m->on_svm = xlc_net_command("svm", "secondary", m->name)) ||
        !(m->on_failover = xlc_net_command("failover", "secondary", m->name))) {
        refuse("out of memory");
        return -1;
    }
    if (xlc_net_plan_write(&n) < 0) {
        refuse("cannot write down the network plan of %s on the receiving host", m->name);
        return -1;
    }
    m->wire = true;
    return 0;
}

static int start_engine(struct receive *m)
{
    char dom[XLC_NAME_MAX + 4200], line[256], tmo[2][16], *argv[24];
    int n = 0;

    if (!strcmp(m->backend, "xen"))
        snprintf(dom, sizeof(dom), "%s,config=%s%s%s", m->name, m->cfgfile,
                 m->o.restore ? ",restore=" : "", m->o.restore ? m->o.restore : "");
    else
        snprintf(dom, sizeof(dom), "%s", m->name);
    argv[n++] = "colo-engine";
    argv[n++] = "secondary";
    argv[n++] = "--backend";
    argv[n++] = (char *)m->backend;
    argv[n++] = "--domain";
    argv[n++] = dom;
    argv[n++] = "--listen";
    argv[n++] = (char *)m->o.listen;
    argv[n++] = "--control";
    argv[n++] = m->ctl;
    argv[n++] = "--ready-fd";
    argv[n++] = "3";
    if (m->o.debug)
        argv[n++] = "--debug";
    if (m->wire) {
        argv[n++] = "--on-svm";
        argv[n++] = m->on_svm;
        argv[n++] = "--on-failover";
        argv[n++] = m->on_failover;
    }
    n = xlc_timeout_args(argv, n, m->o.io_timeout_ms, m->o.peer_timeout_ms, tmo);
    argv[n] = NULL;
    xlc_log_file(m->name, "secondary", m->log, sizeof(m->log));
    colo_info("starting the secondary engine for %s on %s; log: %s", m->name, m->o.listen,
              m->log);
    m->log_from = xlc_file_size(m->log);
    m->engine = xlc_spawn_engine(argv, m->log, false, &m->ready_fd);
    if (m->engine < 0) {
        refuse("cannot start the secondary engine on the receiving host");
        return -1;
    }
    if (xlc_read_line(m->ready_fd, line, sizeof(line), LISTEN_WAIT_MS) < 0 ||
        strncmp(line, "listening ", 10) != 0) {
        xlc_show_log_errors(m->log, m->log_from, 6);
        refuse("the secondary engine for %s did not start listening on %s (its log on the "
               "receiving host: %s)", m->name, m->o.listen, m->log);
        return -1;
    }
    close(m->ready_fd);
    m->ready_fd = -1;
    snprintf(dom, sizeof(dom), "ready %s\n", line + 10);
    if (xlc_write_all(STDOUT_FILENO, dom, strlen(dom)) < 0) {
        colo_log_errno("cannot answer the sending side");
        return -1;
    }
    return 0;
}

/* Stop the engine; it destroys an SVM it made (give_up).  If it had to be
 * killed, the SVM may remain: destroy it here. */
static void stop_engine(struct receive *m)
{
    int status;

    if (m->engine <= 0)
        return;
    status = xlc_stop_pid(m->engine, ENGINE_STOP_MS);
    m->engine = 0;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        xlc_domain_destroy_name(m->backend, m->svm);
    xlc_ctl_remove(m->ctl + 5);
}

/* Until "protected" (1), or abort / end of file / a signal / the engine gone (0). */
static int wait_sender(struct receive *m)
{
    for (;;) {
        struct pollfd p[2] = {
            { .fd = STDIN_FILENO, .events = POLLIN },
            { .fd = m->sigfd, .events = POLLIN },
        };
        struct signalfd_siginfo si;
        char line[XLC_LINE_MAX];
        int st;

        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            return 0;
        if (p[0].revents) {
            if (xlc_read_line(STDIN_FILENO, line, sizeof(line), 5000) < 0) {
                colo_err("the sending side went away before %s was protected", m->name);
                return 0;
            }
            if (!strcmp(line, "protected"))
                return 1;
            colo_err("the sending side gave up: %.200s", strncmp(line, "abort ", 6) ? line
                                                                                     : line + 6);
            return 0;
        }
        while (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
            if (si.ssi_signo != SIGCHLD) {
                colo_err("stopped by signal %u before %s was protected", si.ssi_signo, m->name);
                return 0;
            }
        if (xlc_wait_pid(m->engine, 0, &st)) {
            m->engine = 0;
            colo_err("the secondary engine for %s ended before it was protected", m->name);
            xlc_show_log_errors(m->log, m->log_from, 6);
            return 0;
        }
    }
}

/* -e: stay with the engine until it ends; a signal stops it. */
static int foreground(struct receive *m)
{
    for (;;) {
        struct pollfd p = { .fd = m->sigfd, .events = POLLIN };
        struct signalfd_siginfo si;
        char why[64];
        int st;

        if (poll(&p, 1, 1000) > 0)
            while (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
                if (si.ssi_signo != SIGCHLD) {
                    colo_info("signal %u: stopping the secondary engine of %s", si.ssi_signo,
                              m->name);
                    stop_engine(m);
                    return 0;
                }
        if (xlc_wait_pid(m->engine, 0, &st)) {
            m->engine = 0;
            colo_info("the secondary engine of %s %s", m->name,
                      xlc_describe_status(st, why, sizeof(why)));
            xlc_ctl_remove(m->ctl + 5);
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
        }
    }
}

int xlc_cmd_receive(int argc, char **argv, const struct xlc_invocation *inv)
{
    static struct receive m;
    char err[512];
    int rc = 1;

    memset(&m, 0, sizeof(m));
    m.ready_fd = -1;
    rc = xlc_settle_parse(xlc_parse_receive(argc, argv, &m.o, err, sizeof(err)), "migrate-receive", err,
                          usage, inv);
    if (rc >= 0)
        return rc;
    rc = 1;
    if (!(m.backend = xlc_backend()))
        return 1;
    if (m.o.restore && strcmp(m.backend, "xen")) {
        colo_err("--restore chooses how the xen backend applies checkpoints; the %s backend "
                 "has no such choice", m.backend);
        return 1;
    }
    if ((m.sigfd = xlc_signals_init()) < 0) {
        colo_log_errno("signalfd");
        return 1;
    }
    if (xlc_write_all(STDOUT_FILENO, XLC_BANNER "\n", sizeof(XLC_BANNER)) < 0) {
        colo_log_errno("cannot write the banner to the sending side");
        return 1;
    }
    if (read_config(&m) < 0 || check_free(&m) < 0 || write_config(&m) < 0 ||
        plan_net(&m) < 0 || start_engine(&m) < 0)
        goto fail;
    if (!wait_sender(&m))
        goto fail;
    colo_info("%s is protected; its secondary engine (pid %d) runs on%s", m.name,
              (int)m.engine, m.o.no_daemon ? "" : " as a daemon");
    unlink(m.cfgfile);      /* the SVM is built: the engine reads it only at creation */
    free(m.cfg);
    free(m.on_svm);
    free(m.on_failover);
    if (!m.o.no_daemon)
        return 0;       /* the engine is a daemon of its own (own session, own log) */
    return foreground(&m);
fail:
    if (m.ready_fd >= 0)
        close(m.ready_fd);
    stop_engine(&m);            /* an SVM it made is unwired by its --on-svm command */
    if (m.wrote_cfg)
        unlink(m.cfgfile);
    if (m.wire) {
        struct xlc_net n;
        char plan[4096];
        int lock = xlc_net_lock();

        /* An engine that had to be killed ran no svm-destroyed: unwire
         * what the plan says was wired (teardown may be repeated). */
        xlc_run_file(m.name, "net", plan, sizeof(plan));
        if (access(plan, F_OK) == 0 && xlc_net_plan_read(m.name, "secondary", m.backend, &n) == 0 &&
            n.domid >= 0)
            xlc_net_teardown(&n);
        xlc_net_plan_remove(m.name);
        xlc_net_unlock(lock);
    }
    free(m.cfg);
    free(m.on_svm);
    free(m.on_failover);
    return rc;
}
