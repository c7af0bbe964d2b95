/*
 * colo-compat-drive - drive a colo-compare (QEMU's, or colo-proxy in its
 * compatibility mode) exactly the way QEMU and Xen drive it (tests only).
 *
 *   colo-compat-drive --primary-in ADDR --secondary-in ADDR --outdev ADDR
 *                     [--notify ADDR] [--vnet] [--same-isn] [--any-order]
 *                     [--first-conn N] [--label NAME] SCENARIO...
 *
 * It plays the primary's filter-redirector (the PVM's frames to primary_in),
 * the secondary's filter-redirector (the SVM's frames to secondary_in), the
 * filter-redirector that reads outdev, and Xen's libxl on notify_dev
 * (COLO_USERSPACE_PROXY_INIT, then DO_CHECKPOINT in, COLO_CHECKPOINT out).
 * ADDRs are as in stream-addr.h: the driver connects, or listens with
 * ",server".  Frames are real-looking Ethernet/IPv4/TCP (ethgen.h): the SVM's
 * have their own ISNs (unless --same-isn: what QEMU's filter-rewriter would
 * deliver), IP IDs and windows; with --vnet each carries a 12-byte
 * virtio-net header (the two sides' differ) and QEMU's vnet length field.
 * Released frames must come out in order within each connection; with
 * --any-order (for QEMU's colo-compare, which writes outdev last-in
 * first-out whenever its writes back up) in any order, and an INFO line
 * says whether they were reordered.
 *
 * Scenarios: xen-init identical diverge silent malformed.  Each prints
 * "PASS: LABEL: check" or "FAIL: LABEL: check (why)" lines.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "chardev-frame.h"
#include "ethgen.h"
#include "stream-addr.h"
#include "userspace-proxy.h"

#define VNET_LEN 12u
#define MAXF 4096

/* --- links to the compare under test ----------------------------------------- */

struct link {
    const char *what;
    struct stream_addr addr;
    int lfd, fd;
    bool eof;                       /* the far end closed it */
    uint8_t *q;                     /* bytes to write: [qh, ql) */
    size_t qh, ql, qcap;
    struct cf_decoder dec;
};

enum { PIN, SIN, OUT, NFY, NLINKS };
static struct link links[NLINKS] = {
    { .what = "primary_in" }, { .what = "secondary_in" }, { .what = "outdev" }, { .what = "notify" },
};
static bool vnet, same_isn;
static bool any_order, reordered;   /* accept output out of order (and say so) */
static const char *label = "compare";
static int failures;

/* What came back: outdev frames (as on the wire, vnet header included) and
 * notify messages. */
static struct { uint8_t *d; size_t len; uint32_t vlen; } got[MAXF];
static size_t ngot;
static unsigned n_do_checkpoint, n_init_reply, n_other_msg;

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;

    printf("%s: %s: ", ok ? "PASS" : "FAIL", label);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    failures += !ok;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned probes_out;

static void on_out(void *opaque, uint8_t *d, size_t len, uint32_t vlen)
{
    (void)opaque;
    if (len > vlen + 13 && d[vlen + 12] == 0x08 && d[vlen + 13] == 0x06) {
        probes_out++;                   /* ours: see sync_outdev() */
        return;
    }
    if (ngot == MAXF)
        return;
    got[ngot].d = malloc(len);
    memcpy(got[ngot].d, d, len);
    got[ngot].len = len;
    got[ngot].vlen = vlen;
    ngot++;
}

static void on_notify(void *opaque, uint8_t *d, size_t len, uint32_t vlen)
{
    (void)opaque, (void)vlen;
    if (len == strlen(UP_DO_CHECKPOINT) && !memcmp(d, UP_DO_CHECKPOINT, len))
        n_do_checkpoint++;
    else if (len == strlen(UP_INIT_REPLY) && !memcmp(d, UP_INIT_REPLY, len))
        n_init_reply++;
    else
        n_other_msg++;
}

static int link_open(struct link *l)
{
    l->eof = false;
    l->qh = l->ql = 0;
    cf_decoder_reset(&l->dec);
    if (l->addr.server) {
        struct pollfd p = { .fd = l->lfd, .events = POLLIN };

        if (poll(&p, 1, 5000) != 1 || (l->fd = accept(l->lfd, NULL, NULL)) < 0) {
            fprintf(stderr, "colo-compat-drive: nobody connected to our %s\n", l->what);
            return -1;
        }
        return 0;
    }
    for (int i = 0; i < 100; i++) {                 /* the compare may still be starting */
        l->fd = socket(l->addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(l->fd, (struct sockaddr *)&l->addr.sa, l->addr.salen) == 0)
            return 0;
        close(l->fd);
        l->fd = -1;
        usleep(50000);
    }
    fprintf(stderr, "colo-compat-drive: cannot connect to %s %s: %s\n", l->what, l->addr.text, strerror(errno));
    return -1;
}

static void link_close(struct link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

static void queue(struct link *l, const void *d, size_t n)
{
    if (l->ql + n > l->qcap) {
        l->qcap = (l->ql + n) * 2;
        l->q = realloc(l->q, l->qcap);
    }
    memcpy(l->q + l->ql, d, n);
    l->ql += n;
}

/* Move bytes both ways until cond() holds or ms pass; whether it held. */
static bool pump(int ms, bool (*cond)(void))
{
    uint64_t end = now_ms() + (uint64_t)ms;

    for (;;) {
        struct pollfd p[NLINKS];
        uint64_t t = now_ms();
        uint8_t buf[65536];

        if (cond && cond())
            return true;
        if (t >= end)
            return false;
        for (int i = 0; i < NLINKS; i++)
            p[i] = (struct pollfd){ .fd = links[i].eof ? -1 : links[i].fd,
                                    .events = (short)(POLLIN | (links[i].qh < links[i].ql ? POLLOUT : 0)) };
        poll(p, NLINKS, (int)(end - t < 20 ? end - t : 20));
        for (int i = 0; i < NLINKS; i++) {
            struct link *l = &links[i];
            ssize_t n;

            if (p[i].revents & POLLOUT) {
                n = send(l->fd, l->q + l->qh, l->ql - l->qh, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0)
                    l->qh += (size_t)n;
                if (l->qh == l->ql)
                    l->qh = l->ql = 0;
            }
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                l->eof = true;
            else if (n > 0 && (i == OUT || i == NFY))
                cf_decode(&l->dec, buf, (size_t)n, i == OUT ? on_out : on_notify, NULL);
        }
    }
}

/* --- frames ------------------------------------------------------------------ */

/* What the PVM sent, in the order sent: what must come out of outdev. */
static struct { uint8_t *d; size_t len; } sent[MAXF];
static size_t nsent;

/* One frame of a VM, framed as QEMU frames it, to primary_in or secondary_in. */
static void vm_frame(int side, struct tcp_flow *f, uint8_t flags, const char *payload, size_t plen)
{
    uint8_t rec[8 + VNET_LEN + 1600], *body;
    size_t hs = vnet ? 8 : 4, vl = vnet ? VNET_LEN : 0, n;

    body = rec + hs;
    memset(body, 0, vl);
    if (vnet) {                                     /* virtio_net_hdr_mrg_rxbuf: the sides' differ */
        body[3] = side == PIN ? ETHGEN_HDR : 0;     /* hdr_len */
        body[10] = side == PIN ? 1 : 2;             /* num_buffers */
    }
    n = ethgen_tcp(body + vl, f, flags, (const uint8_t *)payload, plen) + vl;
    cf_encode_header(rec, (uint32_t)n, vnet, (uint32_t)vl);
    queue(&links[side], rec, hs + n);
    if (side == PIN && nsent < MAXF) {
        sent[nsent].d = malloc(n);
        memcpy(sent[nsent].d, body, n);
        sent[nsent].len = n;
        nsent++;
    }
}

static void both(struct tcp_flow *p, struct tcp_flow *s, uint8_t flags, const char *payload, size_t plen)
{
    vm_frame(PIN, p, flags, payload, plen);
    vm_frame(SIN, s, flags, payload, plen);
}

static void payload(char *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (seed * 7 + i * 13) % 26);
}

/* The client port a frame (as on the wire) belongs to. */
static unsigned frame_conn(const uint8_t *d, size_t len)
{
    size_t o = (vnet ? VNET_LEN : 0) + 14 + 20 + 2;

    return len >= o + 2 ? (unsigned)(d[o] << 8 | d[o + 1]) : 0;
}

/* Did outdev give exactly sent[from, nsent) - every frame the PVM sent,
 * byte for byte, in order within each connection, and nothing else?
 * got[gfrom, ngot) is compared.  Returns a reason or NULL. */
static const char *outdev_matches(size_t from, size_t gfrom)
{
    static char why[160];
    size_t next[MAXF];              /* per got frame: which sent frame it was */

    reordered = false;
    if (ngot - gfrom != nsent - from && getenv("DRIVE_DEBUG")) {
        for (size_t k = from; k < nsent; k++) {
            unsigned c = frame_conn(sent[k].d, sent[k].len);
            bool out = false;

            for (size_t g = gfrom; g < ngot && !out; g++)
                out = got[g].len == sent[k].len && !memcmp(got[g].d, sent[k].d, sent[k].len);
            if (!out)
                fprintf(stderr, "not out: sent[%zu] conn %u len %zu\n", k, c, sent[k].len);
        }
    }
    if (ngot - gfrom != nsent - from) {
        snprintf(why, sizeof(why), "%ld frames out, %zu expected", (long)ngot - (long)gfrom, nsent - from);
        return why;
    }
    for (size_t g = gfrom; g < ngot; g++) {
        unsigned c = frame_conn(got[g].d, got[g].len);
        size_t s = from;

        /* the first not yet matched frame the PVM sent on that connection
         * (with any_order: the first such frame with the same bytes) */
        size_t first = nsent;

        for (; s < nsent; s++) {
            bool used = false;

            for (size_t k = gfrom; k < g && !used; k++)
                used = next[k] == s;
            if (used || frame_conn(sent[s].d, sent[s].len) != c)
                continue;
            if (first == nsent)
                first = s;
            if (!any_order || (got[g].len == sent[s].len && !memcmp(got[g].d, sent[s].d, sent[s].len)))
                break;
        }
        if (s != first)
            reordered = true;
        if (s == nsent || got[g].len != sent[s].len || memcmp(got[g].d, sent[s].d, sent[s].len)) {
            if (getenv("DRIVE_DEBUG"))
                for (size_t k = 0; k < 6 && g + k < ngot; k++)
                    fprintf(stderr, "got[%zu] conn %u len %zu; sent[%zu] conn %u len %zu\n", g + k,
                            frame_conn(got[g + k].d, got[g + k].len), got[g + k].len, s + k,
                            s + k < nsent ? frame_conn(sent[s + k].d, sent[s + k].len) : 0,
                            s + k < nsent ? sent[s + k].len : 0);
            snprintf(why, sizeof(why), "frame %zu out of outdev is not the PVM's next frame of its connection", g);
            return why;
        }
        if (vnet && got[g].vlen != VNET_LEN) {
            snprintf(why, sizeof(why), "frame %zu came with a vnet header length of %u", g, got[g].vlen);
            return why;
        }
        next[g] = s;
    }
    return NULL;
}

static size_t want_out;
static bool enough_out(void) { return ngot >= want_out; }
static unsigned want_ckpt;
static bool enough_ckpt(void) { return n_do_checkpoint >= want_ckpt; }
static bool got_init(void) { return n_init_reply > 0; }
static int eof_link;
static bool link_eof(void) { return links[eof_link].eof; }

static bool probe_seen(void) { return probes_out > 0; }

/* A compare may take a moment to accept its peers, and QEMU's drops what it
 * releases while outdev is not yet accepted: send the same ARP request as
 * both VMs until one comes out (ARP frames are kept out of got[]). */
static bool sync_outdev(void)
{
    uint8_t rec[8 + VNET_LEN + 60];
    size_t hs = vnet ? 8 : 4, vl = vnet ? VNET_LEN : 0;

    for (uint8_t i = 0; i < 50 && !probes_out; i++) {
        memset(rec + hs, 0, vl);
        ethgen_arp(rec + hs + vl, i);
        cf_encode_header(rec, (uint32_t)(vl + 60), vnet, (uint32_t)vl);
        queue(&links[PIN], rec, hs + vl + 60);
        queue(&links[SIN], rec, hs + vl + 60);
        pump(200, probe_seen);
    }
    pump(200, NULL);
    return probes_out > 0;
}

/* --- scenarios ----------------------------------------------------------------- */

static void xen_init(void)
{
    uint8_t h[8];
    uint64_t t0 = now_ms();

    cf_encode_header(h, (uint32_t)strlen(UP_INIT), false, 0);
    queue(&links[NFY], h, 4);
    queue(&links[NFY], UP_INIT, strlen(UP_INIT));
    n_init_reply = n_other_msg = 0;
    /* libxl gives up after 500 ms; allow for a loaded machine, report the time */
    pump(2000, got_init);
    check(n_init_reply == 1 && n_other_msg == 0,
          "libxl's " UP_INIT " is answered with " UP_INIT_REPLY " (%llu ms; libxl waits 500)",
          (unsigned long long)(now_ms() - t0));
}

static void notify_msg(const char *m)
{
    uint8_t h[8];

    cf_encode_header(h, (uint32_t)strlen(m), false, 0);
    queue(&links[NFY], h, 4);
    queue(&links[NFY], m, strlen(m));
}

/* Many connections, identical output on both sides: all of it out, nothing else. */
static void identical(unsigned first_conn)
{
    enum { CONNS = 20, SEGS = 24 };
    size_t from = nsent, gfrom = ngot;
    unsigned ckpt0 = n_do_checkpoint;
    char data[1400];
    const char *why;

    for (unsigned c = 0; c < CONNS; c++) {
        struct tcp_flow p, s;
        int pvm_first = c % 2 == 0;

        ethgen_pair(first_conn + c, same_isn, &p, &s);
        for (int side = 0; side < 2; side++) {     /* one side's whole answer, then the other's */
            struct tcp_flow *f = (side == 0) == pvm_first ? &p : &s;
            int which = f == &p ? PIN : SIN;

            vm_frame(which, f, 0x12, NULL, 0);      /* SYN-ACK */
            for (unsigned k = 0; k < SEGS; k++) {
                size_t len = 100 + (k * 389 + c * 97) % 1301;

                payload(data, len, c * 100 + k);
                vm_frame(which, f, 0x18, data, len);
            }
            vm_frame(which, f, 0x11, NULL, 0);      /* FIN */
        }
        pump(0, NULL);
    }
    want_out = gfrom + (nsent - from);
    pump(15000, enough_out);
    pump(300, NULL);                                /* anything more that would come */
    why = outdev_matches(from, gfrom);
    check(!why, "%zu frames over %d connections (different %s), all released byte for byte%s "
          "and nothing else%s%s", nsent - from, CONNS,
          same_isn ? "IP IDs and windows; same ISNs" : "ISNs, IP IDs and windows",
          any_order ? "" : " in order", why ? ": " : "", why ? why : "");
    if (any_order)
        printf("INFO: %s: released frames %s\n", label,
               reordered ? "were REORDERED within a connection" : "kept their order");
    if (links[NFY].fd >= 0)
        check(n_do_checkpoint == ckpt0, "no checkpoint asked for (%u DO_CHECKPOINT)", n_do_checkpoint - ckpt0);
}

/* The SVM answers differently: DO_CHECKPOINT, nothing divergent out until
 * COLO_CHECKPOINT, then the PVM's held output. */
static void diverge(unsigned conn)
{
    struct tcp_flow p, s;
    char data[600], other[600];
    size_t from = nsent, gfrom = ngot, held_from;
    const char *why;
    unsigned ckpt;

    ethgen_pair(conn, same_isn, &p, &s);
    both(&p, &s, 0x12, NULL, 0);
    for (unsigned k = 0; k < 5; k++) {
        payload(data, 500, k);
        both(&p, &s, 0x18, data, 500);
    }
    want_out = gfrom + 6;
    pump(10000, enough_out);
    why = outdev_matches(from, gfrom);
    check(!why, "identical segments before the divergence are released%s%s", why ? ": " : "", why ? why : "");
    held_from = nsent;
    payload(data, 500, 77);
    memcpy(other, data, 500);
    other[250] ^= 0x20;                             /* one byte differs */
    vm_frame(PIN, &p, 0x18, data, 500);
    vm_frame(SIN, &s, 0x18, other, 500);
    for (unsigned k = 0; k < 3; k++) {
        payload(data, 300, 100 + k);
        both(&p, &s, 0x18, data, 300);
    }
    want_ckpt = n_do_checkpoint + 1;
    check(pump(5000, enough_ckpt), "a divergent SVM segment: DO_CHECKPOINT on notify_dev");
    pump(500, NULL);
    check(ngot == gfrom + 6, "nothing from the divergence on is released before COLO_CHECKPOINT "
          "(%ld released in 0.5 s)", (long)ngot - (long)(gfrom + 6));
    notify_msg(UP_CHECKPOINT);
    want_out = gfrom + 6 + (nsent - held_from);
    pump(5000, enough_out);
    why = outdev_matches(held_from, gfrom + 6);
    check(!why, "after COLO_CHECKPOINT the PVM's held frames are released, byte for byte, and "
          "none of the SVM's%s%s", why ? ": " : "", why ? why : "");
    /* After the checkpoint the SVM has the PVM's state, sequence numbers
     * included: the comparison goes on from there. */
    pump(200, NULL);
    ckpt = n_do_checkpoint;
    s.seq = p.seq;
    from = nsent, gfrom = ngot;
    for (unsigned k = 0; k < 3; k++) {
        payload(data, 400, 200 + k);
        both(&p, &s, 0x18, data, 400);
    }
    both(&p, &s, 0x11, NULL, 0);
    want_out = gfrom + 4;
    pump(5000, enough_out);
    pump(300, NULL);
    why = outdev_matches(from, gfrom);
    check(!why && n_do_checkpoint == ckpt, "after the checkpoint identical output is released again, "
          "no new request%s%s", why ? ": " : "", why ? why : "");
}

/* The SVM stays silent: the SVM-lag timeout asks for a checkpoint. */
static void silent(unsigned conn)
{
    struct tcp_flow p, s;
    char data[200];
    size_t from = nsent, gfrom = ngot;
    uint64_t t0 = now_ms();
    const char *why;
    bool asked;

    ethgen_pair(conn, same_isn, &p, &s);
    vm_frame(PIN, &p, 0x12, NULL, 0);
    payload(data, 200, 5);
    vm_frame(PIN, &p, 0x18, data, 200);
    want_ckpt = n_do_checkpoint + 1;
    asked = pump(8000, enough_ckpt);
    check(asked, "a silent SVM: DO_CHECKPOINT after the timeout (%llu ms)", (unsigned long long)(now_ms() - t0));
    check(ngot == gfrom, "... and nothing released before COLO_CHECKPOINT");
    notify_msg(UP_CHECKPOINT);
    want_out = gfrom + 2;
    pump(5000, enough_out);
    why = outdev_matches(from, gfrom);
    check(!why, "after COLO_CHECKPOINT the silent connection's frames are released%s%s",
          why ? ": " : "", why ? why : "");
}

/* Send raw bytes on a fresh connection of a side and see it dropped. */
static void bad_stream(int side, const uint8_t *bytes, size_t n, bool close_after, const char *what)
{
    link_close(&links[side]);
    if (link_open(&links[side]) < 0) {
        check(false, "%s: reconnect to %s", what, links[side].what);
        return;
    }
    queue(&links[side], bytes, n);
    if (close_after) {
        pump(200, NULL);
        link_close(&links[side]);
    } else {
        eof_link = side;
        check(pump(3000, link_eof), "%s: the stream is dropped", what);
        link_close(&links[side]);
    }
    if (link_open(&links[side]) < 0)
        check(false, "%s: the %s peer can connect again", what, links[side].what);
}

/* Broken framing on every input: counted, dropped, never released, and the
 * peers reconnect and carry on.  Prints how many defects were sent, for the
 * caller to compare with the proxy's count. */
static void malformed(unsigned conn)
{
    uint8_t raw[256], *b;
    struct tcp_flow p, s;
    size_t hs = vnet ? 8 : 4, gfrom, from, n;
    unsigned defects = 0;
    const char *why;

    /* (1) a good PVM frame, then a zero length: the good one is kept */
    ethgen_pair(conn, same_isn, &p, &s);
    from = nsent, gfrom = ngot;
    link_close(&links[PIN]);
    if (link_open(&links[PIN]) < 0)
        return;
    vm_frame(PIN, &p, 0x12, NULL, 0);
    n = cf_encode_header(raw, 0, vnet, 0);
    queue(&links[PIN], raw, n);
    eof_link = PIN;
    check(pump(3000, link_eof), "a zero length on primary_in: the stream is dropped");
    defects++;
    link_close(&links[PIN]);
    check(link_open(&links[PIN]) == 0, "... and the primary's redirector can connect again");
    vm_frame(SIN, &s, 0x12, NULL, 0);
    want_out = gfrom + 1;
    pump(5000, enough_out);
    why = outdev_matches(from, gfrom);
    check(!why, "... the good frame before the defect is kept, and released once the SVM matched it%s%s",
          why ? ": " : "", why ? why : "");

    /* (2) an oversized length on secondary_in */
    n = cf_encode_header(raw, 0x7fffffffu, vnet, 0);
    bad_stream(SIN, raw, n, false, "a length of 2 GiB on secondary_in");
    defects++;

    /* (3) a frame cut short: its header promises 200 bytes, 60 come, then EOF */
    b = raw + cf_encode_header(raw, 200, vnet, vnet ? VNET_LEN : 0);
    memset(b, 0x55, 60);
    bad_stream(PIN, raw, hs + 60, true, "a frame cut short on primary_in");
    defects++;

    /* (4) with vnet: a vnet header length past any virtio-net header's */
    if (vnet) {
        n = cf_encode_header(raw, 100, true, 0xffff);
        memset(raw + n, 0, 100);
        bad_stream(PIN, raw, n + 100, false, "a vnet header length of 65535 on primary_in");
        defects++;
    }

    /* (5) Xen's side: an unknown message is ignored, an empty one drops the
     * channel; libxl reconnects and says INIT again */
    if (links[NFY].fd >= 0) {
        notify_msg("COLO_HELLO");
        pump(300, NULL);
        n = cf_encode_header(raw, 0, false, 0);
        bad_stream(NFY, raw, n, false, "an empty message on notify_dev");
        defects++;
        xen_init();
    }

    /* nothing of it came out, and everything works as before */
    check(ngot == gfrom + 1, "no frame came out of the broken streams (%ld)", (long)ngot - (long)(gfrom + 1));
    identical(conn + 1);
    printf("INFO: %s: framing defects sent: %u\n", label, defects);
}

/* --- main ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *addr[NLINKS] = { 0 };
    char err[160];
    int i;
    unsigned conn = 0;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];

        if (!strcmp(o, "--vnet"))
            vnet = true;
        else if (!strcmp(o, "--same-isn"))
            same_isn = true;
        else if (!strcmp(o, "--any-order"))
            any_order = true;
        else if (i + 1 < argc && !strcmp(o, "--first-conn"))
            conn = (unsigned)atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(o, "--label"))
            label = argv[++i];
        else if (i + 1 < argc && !strcmp(o, "--primary-in"))
            addr[PIN] = argv[++i];
        else if (i + 1 < argc && !strcmp(o, "--secondary-in"))
            addr[SIN] = argv[++i];
        else if (i + 1 < argc && !strcmp(o, "--outdev"))
            addr[OUT] = argv[++i];
        else if (i + 1 < argc && !strcmp(o, "--notify"))
            addr[NFY] = argv[++i];
        else
            break;
    }
    if (i == argc || !addr[PIN] || !addr[SIN] || !addr[OUT]) {
        fprintf(stderr, "usage: colo-compat-drive --primary-in ADDR --secondary-in ADDR --outdev ADDR "
                "[--notify ADDR] [--vnet] [--same-isn] [--any-order] [--first-conn N] [--label NAME]\n"
                "       SCENARIO...\n"
                "scenarios: xen-init identical diverge silent malformed\n");
        return 2;
    }
    for (int k = 0; k < NLINKS; k++) {
        struct link *l = &links[k];

        l->fd = l->lfd = -1;
        cf_decoder_init(&l->dec, k == OUT && vnet, k == NFY ? UP_MAX_MSG : CF_MAX_FRAME);
        if (!addr[k])
            continue;
        if (stream_addr_parse(addr[k], &l->addr, err, sizeof(err)) < 0) {
            fprintf(stderr, "colo-compat-drive: --%s %s: %s\n", l->what, addr[k], err);
            return 2;
        }
        if (l->addr.server) {
            l->lfd = socket(l->addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (l->addr.sa.ss_family == AF_UNIX)
                unlink(((struct sockaddr_un *)&l->addr.sa)->sun_path);
            if (bind(l->lfd, (struct sockaddr *)&l->addr.sa, l->addr.salen) < 0 || listen(l->lfd, 4) < 0) {
                fprintf(stderr, "colo-compat-drive: cannot listen on %s: %s\n", addr[k], strerror(errno));
                return 1;
            }
        }
    }
    for (int k = 0; k < NLINKS; k++)
        if (addr[k] && link_open(&links[k]) < 0)
            return 1;
    if (!sync_outdev()) {
        fprintf(stderr, "colo-compat-drive: nothing ever came out of outdev\n");
        return 1;
    }
    for (; i < argc; i++, conn += 100) {
        if (!strcmp(argv[i], "xen-init") && addr[NFY])
            xen_init();
        else if (!strcmp(argv[i], "identical"))
            identical(conn);
        else if (!strcmp(argv[i], "diverge") && addr[NFY])
            diverge(conn);
        else if (!strcmp(argv[i], "silent") && addr[NFY])
            silent(conn);
        else if (!strcmp(argv[i], "malformed"))
            malformed(conn);
        else {
            fprintf(stderr, "colo-compat-drive: unknown scenario '%s' (or it needs --notify)\n", argv[i]);
            return 2;
        }
    }
    pump(100, NULL);
    for (int k = 0; k < NLINKS; k++)
        link_close(&links[k]);
    return failures ? 1 : 0;
}
