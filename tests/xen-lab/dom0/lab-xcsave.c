/*
 * lab-xcsave DOMID CHECKPOINTS INTERVAL_MS - libxenguest's own COLO save,
 * xc_domain_save(XCFLAGS_LIVE, XC_STREAM_COLO), on a real guest, its
 * stream read back by xen-colo's reader (libxl-colo/xen/xc-stream.c).
 *
 * This is the first step of the route docs/xen-backend.md describes: the
 * primary runs libxenguest's loop, the secondary reads the stream itself.
 * What it proves, at every checkpoint, with the guest suspended:
 *   - the callbacks as we drive them (suspend by SHUTDOWN_suspend, resume,
 *     QEMU's log-dirty over QMP) are what libxenguest 4.17 needs;
 *   - the reader understands all of the stream, and the memory it rebuilt
 *     from it (first pass applied at once, later checkpoints buffered and
 *     applied at their CHECKPOINT record) equals the guest's, page for
 *     page, and its HVM context equals Xen's;
 *   - the dirty-pfn list we answer with, in our encoding, is accepted and
 *     merged: the pfns we name are sent again in the next checkpoint.
 * Lines for the scenario start with "XCSAVE ".  Exit 0 only if all held.
 *
 * The domain is paused across libxenguest's log-dirty enable: in the lab a
 * guest running through that change can triple-fault (docs/xen-lab.md),
 * and the first precopy_policy call comes right after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xen-sys.h"            /* Xen's headers under -std=c11 */
#include "xc-stream.h"
#include "colo-le.h"

#define PAGE 4096u
#define LISTED 3

static xc_interface *xch;
static xenforeignmemory_handle *fmem;
static uint32_t domid;
static unsigned want, interval_ms, ckpt;
static bool paused_for_enable;

/* What the reader rebuilt.  mem is sparse: only pages sent are touched. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t p2m_size;
    uint8_t *mem, *have, *sent;     /* image; bitmaps: data held, sent this epoch */
    uint64_t *pent;                 /* pending entries of the current epoch */
    uint8_t *pdata;                 /* ... and their pages */
    size_t pn, pcap, pnd, pdcap;
    uint8_t *ctx, *pctx;            /* HVM context: applied, pending */
    uint32_t ctx_len, pctx_len;
    unsigned epoch;                 /* CHECKPOINT records applied */
    uint64_t epoch_pages;           /* entries in the last one */
    bool ended;                     /* end of stream, or an error (why) */
    const char *why;
    uint64_t records[0x13];
} img = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static uint64_t listed[LISTED];
static unsigned nlisted;
static unsigned long total_mismatch, ctx_differs, listed_missing, checked;

static bool bit(const uint8_t *b, uint64_t i) { return b[i / 8] >> (i % 8) & 1; }
static void set_bit(uint8_t *b, uint64_t i, bool v)
{
    if (v)
        b[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        b[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static void put_page(uint64_t e, const uint8_t *data)
{
    uint64_t pfn = colo_xcs_entry_pfn(e);

    if (data)
        memcpy(img.mem + pfn * PAGE, data, PAGE);
    set_bit(img.have, pfn, data != NULL);
    set_bit(img.sent, pfn, true);
}

static void *grow(void *p, size_t *cap, size_t need, size_t unit)
{
    if (need <= *cap)
        return p;
    *cap = need * 2;
    if (!(p = realloc(p, *cap * unit))) {
        fprintf(stderr, "lab-xcsave: out of memory\n");
        exit(1);
    }
    return p;
}

/* Before the first CHECKPOINT pages go straight in (the guest is not yet
 * protected, as in libxenguest's restore); after it, a checkpoint is
 * buffered and applied whole at its CHECKPOINT record. */
static void stage(uint64_t e, const uint8_t *data)
{
    if (img.epoch == 0) {
        put_page(e, data);
        return;
    }
    img.pent = grow(img.pent, &img.pcap, img.pn + 1, sizeof(*img.pent));
    img.pent[img.pn++] = e | (data ? 0 : 1ull << 59);   /* bit 59: no data (reserved on the wire) */
    if (data) {
        img.pdata = grow(img.pdata, &img.pdcap, img.pnd + 1, PAGE);
        memcpy(img.pdata + img.pnd++ * PAGE, data, PAGE);
    }
}

static void apply_checkpoint(void)
{
    size_t d = 0;

    pthread_mutex_lock(&img.lock);
    /* "sent": the pages of this checkpoint (none for the first: the live
     * passes sent every page, and were applied as they came). */
    memset(img.sent, 0, (img.p2m_size + 7) / 8);
    for (size_t i = 0; i < img.pn; i++)
        put_page(img.pent[i] & ~(1ull << 59), img.pent[i] >> 59 & 1 ? NULL : img.pdata + d++ * PAGE);
    img.epoch_pages = img.epoch > 0 ? img.pn : 0;
    img.pn = img.pnd = 0;
    if (img.pctx) {
        free(img.ctx);
        img.ctx = img.pctx, img.ctx_len = img.pctx_len;
        img.pctx = NULL;
    }
    img.epoch++;
    pthread_cond_broadcast(&img.cond);
    pthread_mutex_unlock(&img.lock);
}

static void end_stream(const char *why)
{
    pthread_mutex_lock(&img.lock);
    img.ended = true;
    img.why = why;
    pthread_cond_broadcast(&img.cond);
    pthread_mutex_unlock(&img.lock);
}

static void *reader(void *arg)
{
    struct colo_xcs_reader r;
    const char *why = NULL;
    const uint8_t *body;
    uint32_t type, len;
    int fd = *(int *)arg, rc;

    colo_xcs_reader_init(&r, fd);
    if (colo_xcs_read_headers(&r, &why) < 0 ||
        (r.dom.type != COLO_XCS_DOMAIN_HVM && (why = "not an HVM guest's stream"))) {
        end_stream(why);
        shutdown(fd, SHUT_RDWR);        /* libxenguest's next write fails */
        return NULL;
    }
    printf("XCSAVE stream: version %u, HVM, Xen %u.%u\n", r.dom.version, r.dom.xen_major, r.dom.xen_minor);
    while ((rc = colo_xcs_read_record(&r, &type, &body, &len, &why)) == 1) {
        struct colo_xcs_pages p;

        if (type < 0x13)
            img.records[type]++;
        if (type == COLO_XCS_PAGE_DATA) {
            if (colo_xcs_page_data(body, len, img.p2m_size, &p, &why) < 0)
                break;
            for (uint32_t i = 0, d = 0; i < p.count; i++) {
                uint64_t e = colo_xcs_entry(&p, i);
                bool data = colo_xcs_type_has_data(colo_xcs_entry_type(e)) == 1;

                stage(e, data ? p.data + (size_t)d++ * PAGE : NULL);
            }
        } else if (type == COLO_XCS_HVM_CONTEXT) {
            free(img.pctx);
            if (!(img.pctx = malloc(len))) {
                why = "no memory for the HVM context";
                break;
            }
            memcpy(img.pctx, body, len);
            img.pctx_len = len;
        } else if (type == COLO_XCS_CHECKPOINT) {
            apply_checkpoint();
        } else if (type == COLO_XCS_END) {
            why = "an END record in a COLO stream";
            break;
        }
    }
    end_stream(rc == 0 ? NULL : why ? why : "read error");
    if (rc != 0)
        shutdown(fd, SHUT_RDWR);
    colo_xcs_reader_free(&r);
    return NULL;
}

/* ---- libxenguest's callbacks ---- */

static int qmp_logdirty(uint32_t dom, unsigned enable, void *data)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 10 };
    char cmd[128], buf[4096];
    size_t got = 0;
    int fd, steps = 0, ok = -1;

    (void)data;
    snprintf(a.sun_path, sizeof(a.sun_path), "/var/run/xen/qmp-libxl-%" PRIu32, dom);
    if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(fd, (void *)&a, sizeof(a)) < 0) {
        fprintf(stderr, "lab-xcsave: QMP %s: %s\n", a.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    snprintf(cmd, sizeof(cmd), "{\"execute\":\"qmp_capabilities\"}\n"
             "{\"execute\":\"xen-set-global-dirty-log\",\"arguments\":{\"enable\":%s}}\n",
             enable ? "true" : "false");
    if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
        goto out;
    /* The greeting, then two replies (events may come between). */
    while (got < sizeof(buf) - 1 && steps < 2) {
        ssize_t k = read(fd, buf + got, sizeof(buf) - 1 - got);

        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = 0;
        steps = 0;
        for (char *s = buf; (s = strstr(s, "\"return\"")); s++)
            steps++;
        if (strstr(buf, "\"error\""))
            break;
    }
    ok = steps == 2 ? 0 : -1;
    printf("XCSAVE qemu log-dirty %s: %s\n", enable ? "on" : "off", ok == 0 ? "ok" : buf);
out:
    close(fd);
    return ok;
}

static int policy(struct precopy_stats s, void *data)
{
    (void)data;
    if (paused_for_enable) {    /* log-dirty is on now: let the guest run */
        xc_domain_unpause(xch, domid);
        paused_for_enable = false;
    }
    printf("XCSAVE precopy: iteration %u, dirty %ld, written %lu\n", s.iteration, s.dirty_count,
           s.total_written);
    fflush(stdout);
    return (s.dirty_count >= 0 && s.dirty_count < 50) || s.iteration >= 4 ? XGS_POLICY_STOP_AND_COPY
                                                                            : XGS_POLICY_CONTINUE_PRECOPY;
}

static int suspend(void *data)
{
    xc_dominfo_t info;

    (void)data;
    if (xc_domain_shutdown(xch, domid, SHUTDOWN_suspend) < 0) {
        perror("lab-xcsave: SHUTDOWN_suspend");
        return 0;
    }
    for (int i = 0; i < 60000; i++) {
        if (xc_domain_getinfo(xch, domid, 1, &info) == 1 && info.domid == domid && info.shutdown)
            return info.shutdown_reason == SHUTDOWN_suspend;
        usleep(1000);
    }
    fprintf(stderr, "lab-xcsave: domain %u did not suspend in 60 s\n", domid);
    return 0;
}

static int resume(void *data)
{
    (void)data;
    if (xc_domain_resume(xch, domid, 0) < 0) {
        perror("lab-xcsave: resume");
        return -1;
    }
    return 1;
}

/* Compare the rebuilt image with the suspended guest, 256 pages a map. */
static unsigned long compare_memory(unsigned long *compared)
{
    xen_pfn_t batch[256];
    int err[256];
    unsigned long bad = 0;
    uint64_t pfn = 0;

    *compared = 0;
    while (pfn < img.p2m_size) {
        unsigned n = 0;
        uint8_t *m;

        for (; pfn < img.p2m_size && n < 256; pfn++)
            if (bit(img.have, pfn))
                batch[n++] = pfn;
        if (!n)
            break;
        if (!(m = xenforeignmemory_map(fmem, domid, PROT_READ, n, batch, err))) {
            perror("lab-xcsave: map");
            return bad + n;
        }
        for (unsigned i = 0; i < n; i++) {
            if (err[i] || memcmp(m + (size_t)i * PAGE, img.mem + batch[i] * PAGE, PAGE)) {
                if (bad++ < 5)
                    printf("XCSAVE   pfn %#" PRIx64 " differs%s\n", (uint64_t)batch[i], err[i] ? " (cannot map)" : "");
            }
            (*compared)++;
        }
        xenforeignmemory_unmap(fmem, m, n);
    }
    return bad;
}

/*
 * Whether the HVM context from the stream is the one Xen holds now, with
 * the domain still suspended.  Some fields are clocks Xen computes when
 * asked - the vCPU's TSC, the HPET main counter and its timers' next
 * expiries, the PM timer - so they move between two reads of a suspended
 * domain too (seen in the lab); all else must be equal.  What differs beyond them goes into out as
 * " TYPE#INSTANCE+OFFSET", or " layout".
 */
static bool ctx_match(const uint8_t *a, const uint8_t *b, uint32_t len, char *out, size_t cap)
{
    static const struct { uint16_t type; size_t off, len; } clocks[] = {
        { 2, offsetof(struct hvm_hw_cpu, tsc), 8 },
        { 12, offsetof(struct hvm_hw_hpet, mc64), 8 },
        { 12, offsetof(struct hvm_hw_hpet, timers[0].cmp), 8 },     /* a periodic timer's */
        { 12, offsetof(struct hvm_hw_hpet, timers[1].cmp), 8 },     /* next expiry moves */
        { 12, offsetof(struct hvm_hw_hpet, timers[2].cmp), 8 },     /* with the counter */
        { 13, offsetof(struct hvm_hw_pmtimer, tmr_val), 4 },
    };
    size_t o = 0, w = 0;

    out[0] = 0;
    while (o + 8 <= len) {
        uint16_t type = colo_get16(a + o), inst = colo_get16(a + o + 2);
        uint32_t rl = colo_get32(a + o + 4);

        if (memcmp(a + o, b + o, 8) || rl > len - o - 8) {
            snprintf(out, cap, " layout");
            return false;
        }
        for (uint32_t i = 0; i < rl; i++) {
            bool clock = false;

            for (size_t c = 0; c < sizeof(clocks) / sizeof(clocks[0]); c++)
                clock |= type == clocks[c].type && i >= clocks[c].off && i < clocks[c].off + clocks[c].len;
            if (a[o + 8 + i] != b[o + 8 + i] && !clock) {
                int n = snprintf(out + w, cap - w, " %u#%u+%u", type, inst, i);

                if (n > 0 && (size_t)n < cap - w)
                    w += (size_t)n;
                break;
            }
        }
        o += 8 + rl;
    }
    return o == len && w == 0;
}

static int checkpoint(void *data)
{
    struct timespec t;
    unsigned long compared, bad;
    int size;
    uint8_t *ctx = NULL;
    char diff[512] = " not read";
    bool ctx_same = false, reached;
    unsigned missing = 0;

    (void)data;
    ckpt++;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 300;
    pthread_mutex_lock(&img.lock);
    while (img.epoch < ckpt && !img.ended)
        if (pthread_cond_timedwait(&img.cond, &img.lock, &t))
            break;
    reached = img.epoch >= ckpt;
    pthread_mutex_unlock(&img.lock);
    if (!reached) {
        printf("XCSAVE checkpoint %u: the reader never got there (%s)\n", ckpt, img.why ? img.why : "timeout");
        return 0;
    }
    /* First the context, the closest to when libxenguest read it. */
    if ((size = xc_domain_hvm_getcontext(xch, domid, NULL, 0)) > 0 && (ctx = malloc((size_t)size)) &&
        (size = xc_domain_hvm_getcontext(xch, domid, ctx, (uint32_t)size)) > 0) {
        if ((uint32_t)size != img.ctx_len)
            snprintf(diff, sizeof(diff), " length %d", size);
        else
            ctx_same = ctx_match(img.ctx, ctx, img.ctx_len, diff, sizeof(diff));
    }
    free(ctx);
    if (ckpt == 1) {
        /* The comparison can fail: one byte altered in the image on purpose. */
        uint64_t pfn = 0;

        while (pfn < img.p2m_size && !bit(img.have, pfn))
            pfn++;
        if (pfn < img.p2m_size) {
            img.mem[pfn * PAGE + 123] ^= 0x5a;
            bad = compare_memory(&compared);
            img.mem[pfn * PAGE + 123] ^= 0x5a;
            printf("XCSAVE self-test: pfn 0x%" PRIx64 " altered in the image, compare finds %lu page%s\n",
                   pfn, bad, bad == 1 ? "" : "s");
        }
    }
    bad = compare_memory(&compared);
    for (unsigned i = 0; i < nlisted; i++)
        missing += !bit(img.sent, listed[i]);
    printf("XCSAVE checkpoint %u: %" PRIu64 " pages in it, %lu RAM pages compared, %lu differ; "
           "HVM context (%u bytes) %s%s; listed pfns sent again: %u of %u\n", ckpt, img.epoch_pages,
           compared, bad, img.ctx_len, ctx_same ? "same but for the clocks" : "differs:",
           ctx_same ? "" : diff, nlisted - missing, nlisted);
    fflush(stdout);
    total_mismatch += bad;
    ctx_differs += !ctx_same;
    listed_missing += missing;
    checked += compared > 0;
    return 1;
}

/* The secondary's answer for this checkpoint: a few RAM pfns it "wrote",
 * chosen among pages this checkpoint did not carry (at a quarter, a half
 * and three quarters of them), so that seeing them in the next one says
 * the list was merged. */
static int wait_checkpoint(void *data)
{
    uint8_t rec[8 + 8 * LISTED];
    int *back = data;
    uint64_t clean = 0, k = 0;

    if (ckpt >= want)
        return 0;
    for (uint64_t pfn = 0; pfn < img.p2m_size; pfn++)
        clean += bit(img.have, pfn) && !bit(img.sent, pfn);
    nlisted = 0;
    for (uint64_t pfn = 0; pfn < img.p2m_size && nlisted < LISTED; pfn++)
        if (bit(img.have, pfn) && !bit(img.sent, pfn) && k++ == clean * (nlisted + 1) / (LISTED + 1))
            listed[nlisted++] = pfn;
    if (colo_xcs_enc_dirty_list(rec, sizeof(rec), listed, nlisted) == 0 ||
        write(*back, rec, colo_xcs_dirty_list_size(nlisted)) != (ssize_t)colo_xcs_dirty_list_size(nlisted)) {
        perror("lab-xcsave: dirty list");
        return -1;
    }
    usleep(interval_ms * 1000u);
    return 1;
}

int main(int argc, char **argv)
{
    int io[2], back[2], rc;
    pthread_t thr;
    xen_pfn_t gpfns;
    xc_dominfo_t info;
    struct save_callbacks cb = {
        .suspend = suspend, .precopy_policy = policy, .postcopy = resume,
        .checkpoint = checkpoint, .wait_checkpoint = wait_checkpoint,
        .switch_qemu_logdirty = qmp_logdirty,
    };

    if (argc != 4 || !(domid = (uint32_t)atoi(argv[1])) || !(want = (unsigned)atoi(argv[2]))) {
        fprintf(stderr, "usage: lab-xcsave DOMID CHECKPOINTS INTERVAL_MS\n");
        return 2;
    }
    interval_ms = (unsigned)atoi(argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (!(xch = xc_interface_open(NULL, NULL, 0)) || !(fmem = xenforeignmemory_open(NULL, 0))) {
        perror("lab-xcsave: cannot open Xen");
        return 1;
    }
    if (xc_domain_nr_gpfns(xch, domid, &gpfns) < 0) {
        perror("lab-xcsave: nr_gpfns");
        return 1;
    }
    img.p2m_size = gpfns;
    img.mem = mmap(NULL, img.p2m_size * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    img.have = calloc(1, (img.p2m_size + 7) / 8);
    img.sent = calloc(1, (img.p2m_size + 7) / 8);
    if (img.mem == MAP_FAILED || !img.have || !img.sent ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, io) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, back) < 0) {
        perror("lab-xcsave: setup");
        return 1;
    }
    printf("XCSAVE domain %u: p2m size %#" PRIx64 "\n", domid, img.p2m_size);
    pthread_create(&thr, NULL, reader, &io[1]);
    cb.data = &back[1];
    paused_for_enable = xc_domain_pause(xch, domid) == 0;
    rc = xc_domain_save(xch, io[0], domid, XCFLAGS_LIVE, &cb, XC_STREAM_COLO, back[0]);
    if (paused_for_enable)
        xc_domain_unpause(xch, domid);
    shutdown(io[0], SHUT_WR);           /* a COLO stream ends by closing */
    pthread_join(thr, NULL);
    rc |= !(xc_domain_getinfo(xch, domid, 1, &info) == 1 && info.domid == domid && !info.shutdown &&
            !info.paused);
    printf("XCSAVE done: xc_domain_save %d, %u checkpoints (%lu compared), %lu pages differ, "
           "%lu HVM contexts differ, %lu listed pfns not sent again; stream %s "
           "(PAGE_DATA %" PRIu64 ", CHECKPOINT %" PRIu64 ", HVM_PARAMS %" PRIu64 ", TSC_INFO %" PRIu64 "); "
           "guest %s\n", rc, ckpt, checked, total_mismatch, ctx_differs, listed_missing,
           img.why ? img.why : "ended cleanly", img.records[COLO_XCS_PAGE_DATA],
           img.records[COLO_XCS_CHECKPOINT], img.records[COLO_XCS_HVM_PARAMS],
           img.records[COLO_XCS_X86_TSC_INFO], info.shutdown || info.paused ? "stopped" : "running");
    return rc == 0 && ckpt == want && checked == want && !total_mismatch && !ctx_differs &&
           !listed_missing && !img.why ? 0 : 1;
}
