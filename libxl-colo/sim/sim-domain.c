/*
 * sim-domain.c - the `sim` domain backend.
 *
 * The engine's process holds guest RAM as a memfd mapping; a forked
 * workload process (sim-workload.c) runs the guest on the same memfd.
 * Dirty logging uses the kernel: the workload's mapping is registered with
 * userfaultfd in asynchronous write-protect mode, and this file reads and
 * re-arms the "written" bits of that mapping from outside with the
 * PAGEMAP_SCAN ioctl on /proc/PID/pagemap (Linux 6.7+).  Writes the engine
 * makes through its own mapping (applying a checkpoint) are not seen, as
 * Xen's log-dirty does not see toolstack writes through foreign mappings.
 *
 * Options: mem=SIZE[K|M|G] (default 64M), rate=PAGES_PER_SEC (default 0),
 * pattern=uniform|hotset|sequential, hot=PERCENT (hot set size, default 10),
 * seed=N, batch=N (pages per step, default 64), tsc=0|1 (mix the host clock
 * into the guest's choices, so that PVM and SVM diverge as real guests do).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-backend.h"
#include "colo-log.h"
#include "colo-proto.h"
#include "sim-guest.h"
#include "sim-spec.h"
#include "sim.h"

/* PAGEMAP_SCAN (Linux 6.7), defined here as Debian 12's headers predate it. */
struct sim_page_region {
    uint64_t start, end, categories;
};
struct sim_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define SIM_PAGEMAP_SCAN        _IOWR('f', 16, struct sim_pm_scan_arg)
#define SIM_PM_SCAN_WP_MATCHING (1u << 0)
#define SIM_PM_SCAN_CHECK_WPASYNC (1u << 1)
#define SIM_PAGE_IS_WRITTEN     (1u << 1)

#define SIM_DEVSTATE_MAGIC 0x3156454444204d53ull  /* "SM DDEV1" */
#define SIM_PAUSE_TIMEOUT_NS (2ll * 1000000000)

struct sim_devstate {       /* the sim's "device model" state */
    uint64_t magic;
    uint64_t nr_pages;
    uint64_t batches;
};

struct colo_domain {
    char name[64];
    uint64_t nr_pages;
    int memfd;
    uint8_t *mem;           /* this process's mapping of guest RAM */
    struct sim_ctl *ctl;
    pid_t pid;              /* workload process */
    int pagemap;            /* /proc/PID/pagemap, for PAGEMAP_SCAN */
    int logdirty;
    int paused;
};

static void sim_destroy(struct colo_domain *d);

static int workload_alive(struct colo_domain *d)
{
    uint32_t st = atomic_load(&d->ctl->state);

    if (st == SIM_STATE_FAILED || st == SIM_STATE_CRASHED) {
        colo_err("sim domain %s: workload stopped: %s", d->name, d->ctl->error);
        return 0;
    }
    if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
        colo_err("sim domain %s: workload process %d exited", d->name, (int)d->pid);
        d->pid = -1;
        return 0;
    }
    return 1;
}

/* Wait (bounded) until the workload reports a state other than 'from'. */
static int wait_state_change(struct colo_domain *d, uint32_t from)
{
    uint64_t waited = 0;

    while (atomic_load(&d->ctl->state) == from) {
        if (waited >= (uint64_t)SIM_PAUSE_TIMEOUT_NS) {
            colo_err("sim domain %s: workload did not respond within 2 s", d->name);
            return -1;
        }
        sim_futex_wait(&d->ctl->state, from, 10 * 1000000ll);
        waited += 10 * 1000000ull;
        if (d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == d->pid) {
            d->pid = -1;
            break;
        }
    }
    return 0;
}

/* Create memory, control page and a workload process that starts paused. */
static int sim_create(const struct sim_spec *spec, const char *name, uint64_t nr_pages,
                      int init_guest, struct colo_domain **out)
{
    struct colo_domain *d = calloc(1, sizeof(*d));
    char path[64];
    uint64_t len = nr_pages * COLO_PAGE_SIZE;

    if (!d)
        return -1;
    d->pid = -1;
    d->pagemap = -1;
    d->paused = 1;
    d->nr_pages = nr_pages;
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->memfd = memfd_create("colo-sim-ram", MFD_CLOEXEC);
    if (d->memfd < 0 || ftruncate(d->memfd, (off_t)len) < 0) {
        colo_log_errno("sim domain %s: cannot create %" PRIu64 " MiB of guest memory",
                       name, len >> 20);
        goto fail;
    }
    d->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd, 0);
    d->ctl = mmap(NULL, sizeof(*d->ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (d->mem == MAP_FAILED || d->ctl == MAP_FAILED) {
        colo_log_errno("sim domain %s: mmap", name);
        if (d->mem == MAP_FAILED)
            d->mem = NULL;
        if (d->ctl == MAP_FAILED)
            d->ctl = NULL;
        goto fail;
    }
    if (init_guest)
        sim_vcpu_init((struct sim_vcpu *)d->mem, nr_pages, spec->rate, spec->pattern,
                      spec->hot_pct, spec->seed, spec->tsc);
    atomic_store(&d->ctl->req, SIM_REQ_PAUSE);

    d->pid = fork();
    if (d->pid < 0) {
        colo_log_errno("sim domain %s: fork", name);
        goto fail;
    }
    if (d->pid == 0)
        sim_workload_main(d->ctl, d->mem, nr_pages, spec->batch);

    if (wait_state_change(d, SIM_STATE_STARTING) < 0 || !workload_alive(d))
        goto fail;
    snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)d->pid);
    d->pagemap = open(path, O_RDONLY | O_CLOEXEC);
    if (d->pagemap < 0) {
        colo_log_errno("sim domain %s: open %s", name, path);
        goto fail;
    }
    *out = d;
    return 0;
fail:
    sim_destroy(d);
    return -1;
}

static int sim_open_primary(const struct colo_domain_spec *ds, struct colo_domain **out)
{
    struct sim_spec spec;
    struct colo_domain *d;

    if (sim_spec_parse(ds->options, &spec) < 0)
        return -1;
    if (sim_create(&spec, ds->name, spec.mem_bytes / COLO_PAGE_SIZE, 1, &d) < 0)
        return -1;
    /* The PVM is a running guest when the engine takes hold of it. */
    atomic_store(&d->ctl->req, SIM_REQ_RUN);
    sim_futex_wake(&d->ctl->req);
    d->paused = 0;
    colo_info("sim domain %s: %" PRIu64 " MiB, %" PRIu64 " page writes/s, pattern %s",
              d->name, spec.mem_bytes >> 20, spec.rate, sim_pattern_name(spec.pattern));
    *out = d;
    return 0;
}

static int sim_create_secondary(const struct colo_domain_spec *ds,
                                const struct colo_domain_info *info, struct colo_domain **out)
{
    struct sim_spec spec;

    if (sim_spec_parse(ds->options, &spec) < 0)
        return -1;
    if (info->nr_pages < 2) {
        colo_err("sim domain %s: a guest needs at least 2 pages", ds->name);
        return -1;
    }
    /* Guest state arrives from the primary: the SVM starts blank and paused. */
    return sim_create(&spec, ds->name, info->nr_pages, 0, out);
}

static void sim_get_info(struct colo_domain *d, struct colo_domain_info *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", d->name);
    out->domid = -1;
    out->nr_pages = d->nr_pages;
    out->page_size = COLO_PAGE_SIZE;
}

static int sim_suspend(struct colo_domain *d)
{
    bool woken = false;

    if (d->paused)
        return 0;
    atomic_store(&d->ctl->req, SIM_REQ_PAUSE);
    for (;;) {
        uint32_t st = atomic_load(&d->ctl->state);

        if (st == SIM_STATE_PAUSED)
            break;
        /* A halted guest is paused where it sleeps: no wake-up, no answer
         * to wait for (sim-guest.h).  If it woke meanwhile, read again. */
        if (st == SIM_STATE_HALTED) {
            if (atomic_compare_exchange_strong(&d->ctl->state, &st, SIM_STATE_HALTED_PAUSED))
                break;
            continue;
        }
        if (!woken) {
            sim_futex_wake(&d->ctl->req);
            woken = true;
        }
        if (!workload_alive(d) || wait_state_change(d, st) < 0)
            return -1;
    }
    d->paused = 1;
    return 0;
}

static int sim_resume(struct colo_domain *d)
{
    uint32_t st = SIM_STATE_HALTED_PAUSED;

    if (!workload_alive(d))
        return -1;
    atomic_store(&d->ctl->req, SIM_REQ_RUN);
    d->paused = 0;
    /* Paused while halted: it sleeps on and runs at its next timer or
     * request, as a blocked vCPU does, reading its state page then (a
     * checkpoint may have replaced it).  Only a guest that never received
     * a state page can crash on it, and such a guest (a fresh SVM) was
     * paused by its own answer, so it takes the path below. */
    if (atomic_compare_exchange_strong(&d->ctl->state, &st, SIM_STATE_HALTED))
        return 0;
    sim_futex_wake(&d->ctl->req);
    if (st != SIM_STATE_PAUSED)
        return workload_alive(d) ? 0 : -1;  /* it woke and left the pause itself */
    /* A guest whose state page is bad "crashes" at once: report it here,
     * where the engine can still act, rather than at the next suspend. */
    if (wait_state_change(d, SIM_STATE_PAUSED) < 0 || !workload_alive(d))
        return -1;
    return 0;
}

static int scan_dirty(struct colo_domain *d, struct colo_bitmap *into)
{
    struct sim_page_region vec[512];
    uint64_t base = (uint64_t)(uintptr_t)d->mem;
    uint64_t end = base + d->nr_pages * COLO_PAGE_SIZE;
    uint64_t start = base;

    /* The workload inherited the engine's mapping at the same address. */
    while (start < end) {
        struct sim_pm_scan_arg a = {
            .size = sizeof(a),
            .flags = SIM_PM_SCAN_WP_MATCHING | SIM_PM_SCAN_CHECK_WPASYNC,
            .start = start, .end = end,
            .vec = (uint64_t)(uintptr_t)vec, .vec_len = 512,
            .category_mask = SIM_PAGE_IS_WRITTEN,
            .return_mask = SIM_PAGE_IS_WRITTEN,
        };
        long n = ioctl(d->pagemap, SIM_PAGEMAP_SCAN, &a);

        if (n < 0) {
            colo_log_errno("sim domain %s: PAGEMAP_SCAN (Linux 6.7+ needed)", d->name);
            return -1;
        }
        if (into)
            for (long i = 0; i < n; i++)
                colo_bitmap_set_range(into, (vec[i].start - base) / COLO_PAGE_SIZE,
                                      (vec[i].end - base) / COLO_PAGE_SIZE);
        if (a.walk_end <= start)
            break;
        start = a.walk_end;
    }
    return 0;
}

static int sim_logdirty_enable(struct colo_domain *d)
{
    /* Start a fresh log: forget what was written before. */
    if (scan_dirty(d, NULL) < 0)
        return -1;
    d->logdirty = 1;
    return 0;
}

static int sim_logdirty_disable(struct colo_domain *d)
{
    d->logdirty = 0;
    return 0;
}

static int sim_dirty_read_clear(struct colo_domain *d, struct colo_bitmap *into)
{
    if (!d->logdirty) {
        colo_err("sim domain %s: dirty log read while log-dirty is off", d->name);
        return -1;
    }
    if (into->nbits != d->nr_pages) {
        colo_err("sim domain %s: dirty bitmap has %" PRIu64 " bits for %" PRIu64 " pages",
                 d->name, into->nbits, d->nr_pages);
        return -1;
    }
    return scan_dirty(d, into);
}

static int check_pfns(struct colo_domain *d, const uint64_t *pfns, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (pfns[i] >= d->nr_pages) {
            colo_err("sim domain %s: pfn %" PRIu64 " beyond the guest's %" PRIu64 " pages",
                     d->name, pfns[i], d->nr_pages);
            return -1;
        }
    return 0;
}

static int sim_read_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n, void *buf)
{
    if (check_pfns(d, pfns, n) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        memcpy((uint8_t *)buf + (size_t)i * COLO_PAGE_SIZE,
               d->mem + pfns[i] * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
    return 0;
}

static void *sim_page_ptr(struct colo_domain *d, uint64_t pfn)
{
    return pfn < d->nr_pages ? d->mem + pfn * COLO_PAGE_SIZE : NULL;
}

static int sim_write_pages(struct colo_domain *d, const uint64_t *pfns, uint32_t n,
                           const void *buf)
{
    if (!d->paused) {
        /* Writing under a running guest would tear its state. */
        colo_err("sim domain %s: page write while the guest runs", d->name);
        return -1;
    }
    if (check_pfns(d, pfns, n) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        memcpy(d->mem + pfns[i] * COLO_PAGE_SIZE,
               (const uint8_t *)buf + (size_t)i * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
    return 0;
}

static int sim_save_device(struct colo_domain *d, void **blob, size_t *len)
{
    struct sim_devstate *s = malloc(sizeof(*s));

    if (!s)
        return -1;
    s->magic = SIM_DEVSTATE_MAGIC;
    s->nr_pages = d->nr_pages;
    s->batches = atomic_load(&d->ctl->batches);
    *blob = s;
    *len = sizeof(*s);
    return 0;
}

static int sim_load_device(struct colo_domain *d, const void *blob, size_t len)
{
    struct sim_devstate s;

    if (len != sizeof(s)) {
        colo_err("sim domain %s: device state is %zu bytes, expected %zu", d->name, len, sizeof(s));
        return -1;
    }
    memcpy(&s, blob, sizeof(s));
    if (s.magic != SIM_DEVSTATE_MAGIC || s.nr_pages != d->nr_pages) {
        colo_err("sim domain %s: device state is not for this guest", d->name);
        return -1;
    }
    atomic_store(&d->ctl->batches, s.batches);
    return 0;
}

static uint64_t sim_guest_progress(struct colo_domain *d)
{
    struct sim_vcpu *v = (struct sim_vcpu *)d->mem;

    /* The workload process writes this concurrently: read it atomically. */
    return __atomic_load_n(&v->magic, __ATOMIC_RELAXED) == SIM_GUEST_MAGIC
        ? __atomic_load_n(&v->counter, __ATOMIC_RELAXED) : 0;
}

int sim_domain_touch(struct colo_domain *d, uint64_t npages)
{
    uint64_t waited = 0;

    if (d->paused) {
        colo_err("sim domain %s: cannot run a job in a paused guest", d->name);
        return -1;
    }
    d->ctl->touch_pages = npages;
    atomic_store(&d->ctl->touch, 1);
    sim_futex_wake(&d->ctl->req);       /* an idle guest sleeps on req */
    while (atomic_load(&d->ctl->touch)) {
        if (!workload_alive(d) || waited > 10000) {
            colo_err("sim domain %s: the guest did not run its job", d->name);
            return -1;
        }
        sim_futex_wait(&d->ctl->touch, 1, 1000000ll);
        waited++;
    }
    return 0;
}

void sim_domain_peek(struct colo_domain *d, uint32_t *state, uint32_t *wakeups)
{
    *state = atomic_load(&d->ctl->state);
    *wakeups = atomic_load(&d->ctl->wakeups);
}

void sim_domain_set_stall(struct colo_domain *d, uint32_t us)
{
    atomic_store(&d->ctl->stall_us, us);
}

static void sim_destroy(struct colo_domain *d)
{
    if (!d)
        return;
    if (d->pid > 0) {
        int waited = 0;

        atomic_store(&d->ctl->req, SIM_REQ_EXIT);
        sim_futex_wake(&d->ctl->req);
        while (waitpid(d->pid, NULL, WNOHANG) == 0) {
            if (++waited > 100) {       /* 1 s: it is stuck, stop it */
                kill(d->pid, SIGKILL);
                waitpid(d->pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
    }
    if (d->pagemap >= 0)
        close(d->pagemap);
    if (d->mem)
        munmap(d->mem, d->nr_pages * COLO_PAGE_SIZE);
    if (d->ctl)
        munmap(d->ctl, sizeof(*d->ctl));
    if (d->memfd >= 0)
        close(d->memfd);
    free(d);
}

const struct colo_backend colo_backend_sim = {
    .name = "sim",
    .open_primary = sim_open_primary,
    .create_secondary = sim_create_secondary,
    .get_info = sim_get_info,
    .suspend = sim_suspend,
    .resume = sim_resume,
    .logdirty_enable = sim_logdirty_enable,
    .logdirty_disable = sim_logdirty_disable,
    .dirty_read_clear = sim_dirty_read_clear,
    .read_pages = sim_read_pages,
    .write_pages = sim_write_pages,
    .page_ptr = sim_page_ptr,
    .save_device = sim_save_device,
    .load_device = sim_load_device,
    .guest_progress = sim_guest_progress,
    .destroy = sim_destroy,
    /* The sim guest lives inside the engine process: there is nothing to
     * leave running when the engine lets go, so close is destroy. */
    .close = sim_destroy,
};
