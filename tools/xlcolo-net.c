/* xlcolo-net.c - see xlcolo-net.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "colo-channel.h"
#include "colo-log.h"
#include "xlcolo-cmds.h"
#include "xlcolo-net.h"
#include "xlcolo-run.h"

#ifndef COLO_XEN_SCRIPT_DIR
#define COLO_XEN_SCRIPT_DIR "/etc/xen/scripts"
#endif

#define SCRIPT_WAIT_MS 60000    /* ovs-vsctl's own timeouts are 10-20 s a call */
#define PROXY_START_MS 10000
#define PROXY_STOP_MS 5000
#define FAILOVER_ACK_MS 5000

const char *xlc_net_default_script(void)
{
    return COLO_XEN_SCRIPT_DIR "/colo-ovs-setup";
}

int xlc_net_init(struct xlc_net *n, const char *name, const char *role, const char *script,
                 const char *layout, const char *backend, long domid,
                 const struct xlc_cfg_info *info)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->name, sizeof(n->name), "%s", name);
    snprintf(n->role, sizeof(n->role), "%s", role);
    snprintf(n->script, sizeof(n->script), "%s", script ? script : "");
    snprintf(n->layout, sizeof(n->layout), "%s", layout ? layout : XLC_NET_LAYOUT_DEFAULT);
    n->backend = backend;
    n->domid = domid;
    for (int i = 0; i < info->vifs; i++)
        if (info->vif[i].forwarddev[0])
            n->vif[n->nvif++] = info->vif[i];
        else
            colo_warn("domain '%s': vif %d has no forwarddev= (-F): it is not wired, and "
                      "nothing holds its output", name, i);
    return n->nvif;
}

int xlc_net_check_script(const char *path)
{
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(((struct xlc_net *)0)->script) ||
        strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./+-") != len) {
        colo_err("the COLO proxy script path '%.200s' is not one xl-colo runs (at most 1023 "
                 "characters of A-Z a-z 0-9 _ . / + -)", path);
        return -1;
    }
    return 0;
}

/* --- the plan ---------------------------------------------------------- */

int xlc_net_plan_write(const struct xlc_net *n)
{
    char path[4096], tmp[4200];
    FILE *f;
    int fd, rc = 0;

    xlc_run_file(n->name, "net", path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        colo_log_errno("cannot write %s", tmp);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fprintf(f, "role %s\nscript %s\nlayout %s\n", n->role, n->script, n->layout);
    if (n->domid >= 0)
        fprintf(f, "domid %ld\n", n->domid);
    for (int i = 0; i < n->nvif; i++) {
        const struct xlc_vif *v = &n->vif[i];

        fprintf(f, "vif %d %s %s %s %s %s\n", v->index, v->bridge,
                v->forwarddev[0] ? v->forwarddev : "-", v->mac, v->vifname[0] ? v->vifname : "-",
                v->pv ? "pv" : "emu");
    }
    if (fflush(f) != 0 || ferror(f))
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    /* Whole or not at all: the engines' commands may read it any time. */
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -1;
    if (rc < 0) {
        colo_log_errno("cannot write %s", path);
        unlink(tmp);
    }
    return rc;
}

/* One "vif" line's fields; the plan is ours, but is checked as input. */
static int plan_vif(char *rest, struct xlc_vif *v)
{
    char *f[6], *save = NULL;
    int k = 0;

    for (char *t = strtok_r(rest, " ", &save); t && k < 6; t = strtok_r(NULL, " ", &save))
        f[k++] = t;
    if (k != 6 || strtok_r(NULL, " ", &save) || strlen(f[1]) >= sizeof(v->bridge) ||
        strlen(f[2]) >= sizeof(v->forwarddev) || strlen(f[3]) != 17 ||
        strlen(f[4]) >= sizeof(v->vifname) || (strcmp(f[5], "pv") && strcmp(f[5], "emu")))
        return -1;
    memset(v, 0, sizeof(*v));
    v->index = atoi(f[0]);
    strcpy(v->bridge, f[1]);
    if (strcmp(f[2], "-"))
        strcpy(v->forwarddev, f[2]);
    strcpy(v->mac, f[3]);
    if (strcmp(f[4], "-"))
        strcpy(v->vifname, f[4]);
    v->pv = !strcmp(f[5], "pv");
    return v->index >= 0 && v->index < 1000 ? 0 : -1;
}

int xlc_net_plan_read(const char *name, const char *role, const char *backend, struct xlc_net *n)
{
    char path[4096], line[1200];
    int lineno = 0, rc = 0;
    FILE *f;

    memset(n, 0, sizeof(*n));
    n->domid = -1;
    n->backend = backend;
    strcpy(n->layout, "flows");     /* a plan from before layouts */
    snprintf(n->name, sizeof(n->name), "%s", name);
    xlc_run_file(name, "net", path, sizeof(path));
    if (!(f = fopen(path, "re"))) {
        colo_log_errno("cannot read %s (what xl-colo wired for %s)", path, name);
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        char *nl = strchr(line, '\n');

        lineno++;
        if (!nl) {
            rc = -1;
            break;
        }
        *nl = '\0';
        if (!strncmp(line, "role ", 5) && strlen(line + 5) < sizeof(n->role))
            strcpy(n->role, line + 5);
        else if (!strncmp(line, "script ", 7) && strlen(line + 7) < sizeof(n->script))
            strcpy(n->script, line + 7);
        else if (!strcmp(line, "layout flows") || !strcmp(line, "layout inline"))
            strcpy(n->layout, line + 7);
        else if (!strncmp(line, "domid ", 6))
            n->domid = strtol(line + 6, NULL, 10);
        else if (!strncmp(line, "vif ", 4) && n->nvif < XLC_VIFS_MAX)
            rc = plan_vif(line + 4, &n->vif[n->nvif++]);
        else
            rc = -1;
    }
    fclose(f);
    if (rc == 0 && (strcmp(n->role, role) || !n->script[0]))
        rc = -1;
    if (rc < 0)
        colo_err("%s: line %d is not what xl-colo writes there (role %s expected)", path,
                 lineno, role);
    return rc;
}

void xlc_net_plan_remove(const char *name)
{
    char path[4096];

    xlc_run_file(name, "net", path, sizeof(path));
    if (unlink(path) < 0 && errno != ENOENT)
        colo_log_errno("cannot remove %s", path);
}

/* --- names --------------------------------------------------------------- */

int xlc_net_ifname(const struct xlc_net *n, int i, char *out, size_t cap)
{
    const struct xlc_vif *v = &n->vif[i];
    bool xen = !strcmp(n->backend, "xen");
    const char *emu = xen && !v->pv ? "-emu" : "";
    int len;

    if (v->vifname[0]) {
        len = snprintf(out, cap, "%s%s", v->vifname, emu);
    } else if (n->domid < 0) {
        colo_err("%s: the %s's id is not known, so its vif %d cannot be named%s", n->name,
                 strcmp(n->role, "primary") ? "SVM" : "PVM", v->index,
                 xen ? "" : " (sim: set XL_COLO_SIM_SVM_DOMID)");
        return -1;
    } else {
        len = snprintf(out, cap, "vif%ld.%d%s", n->domid, v->index, emu);
    }
    if (len < 0 || (size_t)len >= cap || len > 15) {
        colo_err("%s: vif %d's interface name is longer than 15 characters", n->name, v->index);
        return -1;
    }
    return 0;
}

static void proxy_file(const struct xlc_net *n, int i, const char *suffix, char *out, size_t cap)
{
    char base[XLC_NAME_MAX + 16];

    snprintf(base, sizeof(base), "%s.vif%d", n->name, n->vif[i].index);
    xlc_run_file(base, suffix, out, cap);
}

/* --- the script ------------------------------------------------------------ */

/*
 * SCRIPT ACTION with libxl's environment for vif i: vifname, forwarddev,
 * mode, index, bridge - and mac, which libxl's script would read from
 * xenstore.  XENBUS_PATH is not set: under Xen it would name the vif's PV
 * backend, whose vifname is not the emulated NIC's tap that carries an HVM
 * guest's traffic.
 */
static int run_script(const struct xlc_net *n, int i, const char *action, const char *ifname)
{
    const struct xlc_vif *v = &n->vif[i];
    char index[16], why[64], args[4200];
    bool setup = !strcmp(action, "setup");
    pid_t pid;
    int st;

    snprintf(index, sizeof(index), "%d", v->index);
    /* Setup writes the proxy's port arguments afresh (or not at all). */
    proxy_file(n, i, "args", args, sizeof(args));
    if (setup && unlink(args) < 0 && errno != ENOENT) {
        colo_log_errno("cannot remove %s", args);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        setpgid(0, 0);          /* a script that hangs is stopped with what it started */
        unsetenv("XENBUS_PATH");
        setenv("vifname", ifname, 1);
        setenv("forwarddev", v->forwarddev, 1);
        setenv("mode", n->role, 1);
        setenv("index", index, 1);
        setenv("bridge", v->bridge, 1);
        setenv("mac", v->mac, 1);
        setenv("layout", n->layout, 1);
        if (setup)
            setenv("COLO_PROXY_ARGS", args, 1);
        else
            unsetenv("COLO_PROXY_ARGS");
        xlc_child_signals();
        execl(n->script, n->script, action, (char *)NULL);
        fprintf(stderr, "xl-colo: cannot run %s: %s\n", n->script, strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        colo_log_errno("cannot run %s", n->script);
        return -1;
    }
    setpgid(pid, pid);
    if (!xlc_wait_pid(pid, SCRIPT_WAIT_MS, &st)) {
        colo_err("%s %s (vif %d, %s) did not finish within %d s", n->script, action, v->index,
                 ifname, SCRIPT_WAIT_MS / 1000);
        kill(-pid, SIGKILL);
        xlc_wait_pid(pid, -1, &st);
        return -1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    colo_err("%s %s (vif %d: %s on %s) %s", n->script, action, v->index, ifname, v->bridge,
             xlc_describe_status(st, why, sizeof(why)));
    return -1;
}

/* --- the proxies ----------------------------------------------------------- */

static int proxy_alive(const struct xlc_net *n, int i, pid_t *pid)
{
    char path[4200], ctl[4200], cmdline[8192];
    size_t len = 0;
    bool mine = false;
    FILE *f;
    long p = 0;

    proxy_file(n, i, "pid", path, sizeof(path));
    if (!(f = fopen(path, "re")))
        return 0;
    if (fscanf(f, "%ld", &p) != 1)
        p = 0;
    fclose(f);
    if (p <= 1)
        return 0;
    /* Ours - a proxy with this vif's control socket on its command line -
     * not a pid the kernel has given to someone else since. */
    proxy_file(n, i, "ctl", ctl, sizeof(ctl));
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", p);
    if ((f = fopen(path, "re"))) {
        len = fread(cmdline, 1, sizeof(cmdline) - 1, f);
        fclose(f);
    }
    for (size_t k = 0; k < len; k += strlen(cmdline + k) + 1) {
        cmdline[len] = '\0';
        mine |= strstr(cmdline + k, ctl) != NULL;
    }
    *pid = (pid_t)p;
    return mine;
}

static void stop_proxy(const struct xlc_net *n, int i);

/* --- the proxy's ports --------------------------------------------------- */

#define PROXY_ARGS_MAX 12       /* room for every port option, each once, and more */

struct proxy_args {
    int n;
    char word[PROXY_ARGS_MAX][40];
};

static void add_arg(struct proxy_args *a, const char *fmt, const char *s)
{
    snprintf(a->word[a->n++], sizeof(a->word[0]), fmt, s);
}

/* The project's names for the layout (hotplug/colo-ovs-*.sh). */
static void default_args(const struct xlc_net *n, int i, const char *ifname, struct proxy_args *a)
{
    bool primary = !strcmp(n->role, "primary"), inl = !strcmp(n->layout, "inline");
    const char *fwd = n->vif[i].forwarddev;

    a->n = 0;
    if (primary) {
        add_arg(a, "%s", "--client"), add_arg(a, "%s-xc", ifname);
        add_arg(a, "%s", "--pvm"), add_arg(a, inl ? "%s" : "%s-xp", ifname);
        add_arg(a, "%s", "--svm"), add_arg(a, inl ? "%s" : "%s-xs", inl ? fwd : ifname);
        if (inl)
            add_arg(a, "%s", "--no-rewrite");
    } else {
        add_arg(a, "%s", "--forward"), add_arg(a, inl ? "%s" : "%s-xf", inl ? fwd : ifname);
        add_arg(a, "%s", "--svm"), add_arg(a, inl ? "%s" : "%s-xv", ifname);
        if (inl)
            add_arg(a, "%s", "--uplink"), add_arg(a, "%s-xf", ifname);
    }
}

/* A word of an .args file: an option this role's proxy takes for a port
 * (1: an interface follows; 0: a flag), or -1. */
static int port_option(bool primary, const char *w)
{
    static const char *const pri[] = { "--client", "--pvm", "--svm" };
    static const char *const sec[] = { "--forward", "--svm", "--uplink" };

    for (int k = 0; k < 3; k++)
        if (!strcmp(w, primary ? pri[k] : sec[k]))
            return 1;
    return primary && !strcmp(w, "--no-rewrite") ? 0 : -1;
}

static bool ifname_ok(const char *w)
{
    size_t len = strlen(w);

    return len >= 1 && len <= 15 && w[0] != '-' && strcspn(w, "/: \t") == len;
}

/*
 * The ports the script wrote down for vif i (RUNDIR/NAME.vifI.args, one
 * word a line), or the layout's defaults if it wrote none.  Only port
 * options of this role and interface names: nothing in it can change what
 * else the proxy does.  0, or -1 logged with the file and line.
 */
static int proxy_args(const struct xlc_net *n, int i, const char *ifname, struct proxy_args *a)
{
    bool primary = !strcmp(n->role, "primary");
    char path[4200], line[64];
    int lineno = 0, want = -1;
    const char *why = NULL;
    FILE *f;

    proxy_file(n, i, "args", path, sizeof(path));
    if (!(f = fopen(path, "re"))) {
        if (errno != ENOENT) {
            colo_log_errno("cannot read %s", path);
            return -1;
        }
        default_args(n, i, ifname, a);
        return 0;
    }
    a->n = 0;
    /* want: 1 after an option that takes an interface, else an option next */
    while (!why && fgets(line, sizeof(line), f)) {
        char *nl = strchr(line, '\n');

        lineno++;
        if (!nl) {
            why = "a line longer than 62 characters, or no newline at the end";
            break;
        }
        *nl = '\0';
        if (a->n == PROXY_ARGS_MAX)
            why = "more than 12 words";
        else if (want == 1 && !ifname_ok(line))
            why = "not an interface name (1-15 characters, no / : or blank, not starting with -)";
        else if (want == 1)
            want = -1;
        else if ((want = port_option(primary, line)) < 0)
            why = primary ? "not --client, --pvm, --svm or --no-rewrite"
                          : "not --forward, --svm or --uplink";
        if (!why)
            snprintf(a->word[a->n++], sizeof(a->word[0]), "%s", line);
    }
    fclose(f);
    if (!why && want == 1)
        why = "an option without its interface at the end";
    if (!why && a->n == 0)
        why = "no word at all";
    if (why) {
        colo_err("%s, line %d (the proxy's ports, from the COLO proxy script %s): %s", path,
                 lineno, n->script, why);
        return -1;
    }
    return 0;
}

/*
 * The niceness a proxy runs at.  Every frame of the VM passes through it
 * and ovs-vswitchd in series, so it runs at the switch's priority: -10, what
 * ovs-ctl gives ovs-vswitchd (--ovs-vswitchd-priority) on Debian, XenServer
 * and XCP-ng.  At xl-colo's own (0) it waits behind the busy processes it
 * serves every time it wakes, and upload through it fell to 0.5-0.7 of the
 * path without COLO (performance.md, "Scheduling priority").
 * COLO_PROXY_NICE in the environment chooses another.
 */
const char *xlc_net_proxy_nice(int *out)
{
    static char why[160];
    const char *v = getenv("COLO_PROXY_NICE");
    char *end;
    long nv;

    *out = -10;
    if (!v)
        return NULL;
    errno = 0;
    nv = strtol(v, &end, 10);
    if (errno || end == v || *end || nv < -20 || nv > 19) {
        snprintf(why, sizeof(why), "COLO_PROXY_NICE=%.80s: not a niceness (an integer from -20 to 19)", v);
        return why;
    }
    *out = (int)nv;
    return NULL;
}

static int start_proxy(const struct xlc_net *n, int i)
{
    char ifname[32], ctl[4200], pidf[4200], log[4200], engine[XLC_SUN_PATH_MAX + 8];
    char logname[XLC_NAME_MAX + 32], ctlarg[4210], *argv[20 + PROXY_ARGS_MAX];
    struct proxy_args pa;
    bool primary = !strcmp(n->role, "primary");
    const char *path = xlc_proxy_path();
    int k = 0, logfd, up, niceness;
    const char *bad = xlc_net_proxy_nice(&niceness);
    long from;
    pid_t pid;
    FILE *f;

    if (bad) {          /* (prepare_net and plan_net refused it before protection began) */
        colo_err("%s", bad);
        return -1;
    }
    if (xlc_net_ifname(n, i, ifname, sizeof(ifname)) < 0 || xlc_ctl_path(n->name, true, engine, sizeof(engine)) < 0)
        return -1;
    /* One left by an earlier protection that was not torn down would pass
     * the PVM's output through, unchecked, beside ours. */
    if (proxy_alive(n, i, &pid)) {
        colo_warn("%s: vif %d: a proxy of an earlier protection still runs (pid %d): stopping it",
                  n->name, n->vif[i].index, (int)pid);
        stop_proxy(n, i);
    }
    proxy_file(n, i, "ctl", ctl, sizeof(ctl));
    proxy_file(n, i, "pid", pidf, sizeof(pidf));
    snprintf(logname, sizeof(logname), "%s-vif%d", n->role, n->vif[i].index);
    xlc_log_file(n->name, logname, log, sizeof(log));
    snprintf(ctlarg, sizeof(ctlarg), "unix:%s", ctl);
    if (proxy_args(n, i, ifname, &pa) < 0)
        return -1;
    argv[k++] = "colo-proxy";
    if (!primary)
        argv[k++] = "secondary";
    for (int w = 0; w < pa.n; w++)
        argv[k++] = pa.word[w];
    if (!strcmp(n->layout, "inline") && !getenv("COLO_PROXY_RING"))
        argv[k++] = "--ring", argv[k++] = "v2";
    if (!strcmp(n->layout, "inline") && !getenv("COLO_PROXY_TXBATCH"))
        argv[k++] = "--tx-batch";
    argv[k++] = "--engine", argv[k++] = engine;
    argv[k++] = "--control", argv[k++] = ctlarg;
    argv[k] = NULL;
    if ((logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0) {
        colo_log_errno("cannot open %s", log);
        return -1;
    }
    from = xlc_file_size(log);
    pid = fork();
    if (pid == 0) {
        /* A daemon of its own: it must outlive the engine's command that
         * started it, and keep releasing if xl-colo dies. */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        setsid();
        xlc_child_signals();    /* not xl-colo's blocked SIGTERM: it is how we stop it */
        if (null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        if (setpriority(PRIO_PROCESS, 0, niceness) < 0)     /* into its log: it still works */
            fprintf(stderr, "xl-colo: cannot give %s niceness %d (%s): it runs at xl-colo's\n",
                    path, niceness, strerror(errno));
        execvp(path, argv);
        fprintf(stderr, "xl-colo: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(logfd);
    if (pid < 0) {
        colo_log_errno("cannot start %s", path);
        return -1;
    }
    if (!(f = fopen(pidf, "we")) || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0) {
        /* Without it no teardown could find the proxy again. */
        colo_log_errno("cannot write %s", pidf);
        kill(pid, SIGKILL);
        xlc_wait_pid(pid, -1, &(int){ 0 });
        return -1;
    }
    if ((up = xlc_wait_listening(ctl, pid, PROXY_START_MS, &(int){ 0 })) > 0) {
        colo_info("%s: vif %d (%s): %s runs (pid %d, control %s, log %s)", n->name,
                  n->vif[i].index, ifname, primary ? "the comparator" : "the rewriter",
                  (int)pid, ctl, log);
        return 0;
    }
    colo_err("%s: vif %d (%s): %s did not start (log: %s)", n->name, n->vif[i].index, ifname,
             path, log);
    xlc_show_log_errors(log, from, 6);
    if (up == 0) {              /* still there, not listening; if it ended, it is reaped */
        kill(pid, SIGKILL);
        xlc_wait_pid(pid, 1000, &(int){ 0 });
    }
    unlink(pidf);
    return -1;
}

static void stop_proxy(const struct xlc_net *n, int i)
{
    char path[4200];
    pid_t pid = 0;

    if (proxy_alive(n, i, &pid)) {
        kill(pid, SIGTERM);
        for (int t = 0; t < PROXY_STOP_MS / 20 && kill(pid, 0) == 0; t++) {
            waitpid(pid, NULL, WNOHANG);    /* ours only if we started it in this process */
            nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
        }
        if (kill(pid, 0) == 0) {
            colo_warn("%s: the proxy of vif %d (pid %d) did not stop: killing it", n->name,
                      n->vif[i].index, (int)pid);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);      /* returns at once if it is not our child */
        }
    }
    proxy_file(n, i, "pid", path, sizeof(path));
    unlink(path);
    proxy_file(n, i, "ctl", path, sizeof(path));
    xlc_ctl_remove(path);
}

int xlc_net_start_proxies(const struct xlc_net *n)
{
    for (int i = 0; i < n->nvif; i++)
        if (start_proxy(n, i) < 0) {
            while (--i >= 0)
                stop_proxy(n, i);
            return -1;
        }
    return 0;
}

/* --- the actions ----------------------------------------------------------- */

int xlc_net_setup(const struct xlc_net *n, bool proxies)
{
    char ifname[32];
    int i;

    for (i = 0; i < n->nvif; i++) {
        if (xlc_net_ifname(n, i, ifname, sizeof(ifname)) < 0 || run_script(n, i, "setup", ifname) < 0)
            break;
        colo_info("%s: vif %d (%s on %s): COLO %s %s set up", n->name, n->vif[i].index, ifname,
                  n->vif[i].bridge, n->role, strcmp(n->layout, "inline") ? "flows" : "in-line wiring");
    }
    if (i == n->nvif && (!proxies || xlc_net_start_proxies(n) == 0))
        return 0;
    while (--i >= 0)
        if (xlc_net_ifname(n, i, ifname, sizeof(ifname)) == 0)
            run_script(n, i, "teardown", ifname);
    return -1;
}

/* Tell the proxy of vif i FAILOVER, and wait until it is in force: the
 * rewriter translates, the comparator has released what it held. */
static int proxy_failover(const struct xlc_net *n, int i)
{
    char ctl[4200], addr[4210];
    uint8_t buf[16];
    struct colo_chan c;
    struct colo_rec r;
    int fd, rc = -1;

    proxy_file(n, i, "ctl", ctl, sizeof(ctl));
    snprintf(addr, sizeof(addr), "unix:%s", ctl);
    if ((fd = colo_sock_connect(addr, FAILOVER_ACK_MS)) < 0 ||
        colo_chan_init_sized(&c, fd, "rewriter control", 1 << 20) < 0)
        return -1;
    if (colo_chan_send(&c, buf, colo_enc_failover(buf, sizeof(buf), COLO_FAILOVER_REQUEST)) == 0 &&
        colo_chan_expect(&c, COLO_REC_FAILOVER, &r, FAILOVER_ACK_MS) == 0)
        rc = 0;
    colo_chan_close(&c);
    return rc;
}

int xlc_net_failover(const struct xlc_net *n)
{
    char ifname[32];
    int rc = 0;

    for (int i = 0; i < n->nvif; i++) {
        if (xlc_net_ifname(n, i, ifname, sizeof(ifname)) < 0) {
            rc = -1;
            continue;
        }
        /* The SVM's output may reach clients only translated: the
         * rewriter first, then the flows (docs/networking.md, "Failover"). */
        if (strcmp(n->role, "primary") && proxy_failover(n, i) < 0) {
            colo_err("%s: vif %d: the rewriter did not confirm failover; its flows are left "
                     "as they are (the SVM's output would reach clients untranslated)",
                     n->name, n->vif[i].index);
            rc = -1;
            continue;
        }
        /* In-line the comparator owns the PVM's vif, which the script
         * puts back on the bridge: it releases what it holds, then goes.
         * The PVM must get its network back even if the comparator is
         * gone already. */
        if (!strcmp(n->role, "primary") && !strcmp(n->layout, "inline")) {
            if (proxy_failover(n, i) < 0)
                colo_warn("%s: vif %d: the comparator did not confirm failover (what it "
                          "held is lost; TCP sends it again)", n->name, n->vif[i].index);
            stop_proxy(n, i);
        }
        if (run_script(n, i, "failover", ifname) < 0)
            rc = -1;
        else
            colo_info("%s: vif %d (%s): failed over: the %s's traffic goes to and from the "
                      "network directly", n->name, n->vif[i].index, ifname,
                      strcmp(n->role, "primary") ? "SVM" : "PVM");
    }
    return rc;
}

void xlc_net_teardown(const struct xlc_net *n)
{
    bool inl = !strcmp(n->layout, "inline");
    char ifname[32], path[4200];

    /* The flows first: the VM's traffic goes back to the bridge's own
     * switching before the proxy it went through is gone.  In-line the
     * proxy owns the vif the script puts back: the proxy first. */
    for (int i = 0; inl && i < n->nvif; i++)
        stop_proxy(n, i);
    for (int i = 0; i < n->nvif; i++)
        if (xlc_net_ifname(n, i, ifname, sizeof(ifname)) == 0 &&
            run_script(n, i, "teardown", ifname) == 0)
            colo_info("%s: vif %d (%s): COLO %s removed", n->name, n->vif[i].index, ifname,
                      inl ? "in-line wiring" : "flows");
    for (int i = 0; i < n->nvif; i++) {
        if (!inl)
            stop_proxy(n, i);
        proxy_file(n, i, "args", path, sizeof(path));
        unlink(path);
    }
}

int xlc_net_lock(void)
{
    int fd = open(xlc_rundir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        colo_log_errno("cannot lock %s", xlc_rundir());
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void xlc_net_unlock(int fd)
{
    if (fd >= 0)
        close(fd);      /* the lock goes with it */
}

/* --- the engines' commands --------------------------------------------------- */

char *xlc_net_command(const char *action, const char *role, const char *name)
{
    char self[4096], quoted[8300], *out = NULL;
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    size_t q = 0;

    if (len <= 0)
        snprintf(self, sizeof(self), "xl-colo");
    else
        self[len] = '\0';
    /* One single-quoted word for sh -c, whatever the path holds. */
    quoted[q++] = '\'';
    for (const char *p = self; *p && q < sizeof(quoted) - 6; p++) {
        if (*p == '\'') {
            memcpy(quoted + q, "'\\''", 4);
            q += 4;
        } else {
            quoted[q++] = *p;
        }
    }
    quoted[q++] = '\'';
    quoted[q] = '\0';
    if (asprintf(&out, "%s colo-net %s %s %s", quoted, action, role, name) < 0)
        return NULL;
    return out;
}

/* One action of `xl-colo colo-net`, under the lock. */
static int net_action(const char *action, const char *role, const char *name, const char *backend)
{
    const char *event = getenv("COLO_EVENT"), *id = getenv("COLO_DOMID");
    struct xlc_net n;

    if (xlc_net_plan_read(name, role, backend, &n) < 0)
        return 1;
    /* The engine knows the domain's id best; the sim SVM has none. */
    if (id && id[0])
        n.domid = strtol(id, NULL, 10);
    else if (n.domid < 0 && !strcmp(backend, "sim") && getenv("XL_COLO_SIM_SVM_DOMID"))
        n.domid = strtol(getenv("XL_COLO_SIM_SVM_DOMID"), NULL, 10);
    if (!strcmp(action, "failover"))
        return xlc_net_failover(&n) < 0 ? 1 : 0;
    if (!strcmp(action, "teardown") || (event && !strcmp(event, "svm-destroyed"))) {
        xlc_net_teardown(&n);
        xlc_net_plan_remove(name);
        return 0;
    }
    if (!event || strcmp(event, "svm-created")) {
        colo_err("colo-net svm: COLO_EVENT is '%s', not svm-created or svm-destroyed",
                 event ? event : "");
        return 2;
    }
    if (xlc_net_plan_write(&n) < 0)         /* with the domid, for failover and teardown */
        return 1;
    return xlc_net_setup(&n, true) < 0 ? 1 : 0;
}

/* xl-colo colo-net svm|failover|teardown ROLE NAME: what the engines run. */
int xlc_cmd_net(int argc, char **argv)
{
    const char *backend = xlc_backend();
    char err[256];
    int lock, rc;

    if (argc != 4 || (strcmp(argv[1], "svm") && strcmp(argv[1], "failover") &&
                      strcmp(argv[1], "teardown")) ||
        (strcmp(argv[2], "primary") && strcmp(argv[2], "secondary"))) {
        fprintf(stderr, "usage: xl-colo colo-net svm|failover|teardown primary|secondary DOMAIN\n"
                "(run by the engines that xl-colo starts; see xl-colo(1))\n");
        return 2;
    }
    if (!backend)
        return 1;
    if (xlc_check_name(argv[3], err, sizeof(err)) < 0) {
        colo_err("%s", err);
        return 2;
    }
    lock = xlc_net_lock();
    rc = net_action(argv[1], argv[2], argv[3], backend);
    xlc_net_unlock(lock);
    return rc;
}
