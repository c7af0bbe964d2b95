/*
 * test-rewrite.c - the SVM's sequence translation: offsets learned from
 * the handshake, acks translated towards the SVM, sequence numbers
 * translated from it after failover, checksums right, reset at checkpoint;
 * and pkt_fill_checksum (packet.h), which completes the checksums a sender
 * left to the hardware.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "packet.h"
#include "rewrite.h"

static uint8_t f[256];

/* This test's own full checksum, independent of the library's. */
static void fix_checksum(size_t ip_off, bool v6, size_t tcp_off, size_t tcp_len)
{
    uint64_t s = 0;
    const uint8_t *src = f + ip_off + (v6 ? 8 : 12);
    size_t alen = v6 ? 32 : 8;

    f[tcp_off + 16] = f[tcp_off + 17] = 0;
    for (size_t i = 0; i < alen; i += 2)
        s += (uint64_t)(src[i] << 8 | src[i + 1]);
    s += 6 + tcp_len;
    for (size_t i = 0; i < tcp_len; i += 2)
        s += (uint64_t)(f[tcp_off + i] << 8 | (i + 1 < tcp_len ? f[tcp_off + i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    s = ~s & 0xffff;
    f[tcp_off + 16] = (uint8_t)(s >> 8);
    f[tcp_off + 17] = (uint8_t)s;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A TCP frame; from_vm picks the direction (VM 10.0.0.2:80, client 10.0.0.9:50000). */
static size_t tcp(bool from_vm, uint32_t seq, uint32_t ack, uint8_t flags, const char *data, bool v6)
{
    size_t dl = data ? strlen(data) : 0, ipl = v6 ? 40 : 20, t = 14 + ipl;
    uint8_t *ip = f + 14, vm = 2, cl = 9;

    memset(f, 0, sizeof(f));
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    if (v6) {
        ip[0] = 0x60;
        ip[5] = (uint8_t)(20 + dl);
        ip[6] = 6;
        ip[8] = 0xfd, ip[23] = from_vm ? vm : cl;
        ip[24] = 0xfd, ip[39] = from_vm ? cl : vm;
    } else {
        ip[0] = 0x45;
        ip[3] = (uint8_t)(40 + dl);
        ip[9] = 6;
        ip[12] = 10, ip[15] = from_vm ? vm : cl;
        ip[16] = 10, ip[19] = from_vm ? cl : vm;
    }
    f[t + 0] = from_vm ? 0 : 0xc3, f[t + 1] = from_vm ? 80 : 0x50;
    f[t + 2] = from_vm ? 0xc3 : 0, f[t + 3] = from_vm ? 0x50 : 80;
    for (int i = 0; i < 4; i++) {
        f[t + 4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        f[t + 8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    f[t + 12] = 5 << 4;
    f[t + 13] = flags;
    f[t + 14] = 0xff;
    if (dl)
        memcpy(f + t + 20, data, dl);
    fix_checksum(14, v6, t, 20 + dl);
    return t + 20 + dl;
}

#define SYN 0x02
#define ACK 0x10
#define PSH 0x08

/* A TCP frame (IPv4) with a timestamp option after `nops` no-op bytes (an
 * odd count puts TSval and TSecr at odd offsets). */
static size_t tcp_ts(bool from_vm, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t tsval,
                     uint32_t tsecr, int nops)
{
    size_t t = 34, olen = ((size_t)nops + 10 + 3) & ~(size_t)3, n = tcp(from_vm, seq, ack, flags, NULL, false);
    uint8_t *o = f + t + 20;

    assert_int_equal(n, t + 20);
    memset(o, 0, olen);                 /* end-of-options padding */
    memset(o, 1, (size_t)nops);
    o[nops] = 8, o[nops + 1] = 10;
    for (int i = 0; i < 4; i++) {
        o[nops + 2 + i] = (uint8_t)(tsval >> (24 - 8 * i));
        o[nops + 6 + i] = (uint8_t)(tsecr >> (24 - 8 * i));
    }
    f[t + 12] = (uint8_t)((20 + olen) / 4 << 4);
    f[14 + 3] = (uint8_t)(40 + olen);
    fix_checksum(14, false, t, 20 + olen);
    return t + 20 + olen;
}

static void run(bool v6)
{
    struct rewriter *r = rw_new();
    const uint32_t PISN = 1000, SISN = 4000000000u, CISN = 77;
    size_t t = 14 + (v6 ? 40 : 20), n;

    /* The SVM answers the client's SYN with its own ISN. */
    n = tcp(true, SISN, CISN + 1, SYN | ACK, NULL, v6);
    assert_int_equal(rw_svm_out(r, f, n, false), 0);
    /* The client acknowledges the PVM's ISN: the SVM must see its own. */
    n = tcp(false, CISN + 1, PISN + 1, ACK, NULL, v6);
    assert_int_equal(rw_client_to_svm(r, f, n), 1);
    assert_int_equal(rd32(f + t + 8), SISN + 1);
    assert_true(rw_tcp_checksum_ok(f, n));
    assert_int_equal(rw_translated(r), 1);
    /* Client data acknowledging PVM bytes: translated, checksum right. */
    n = tcp(false, CISN + 1, PISN + 501, ACK | PSH, "GET / HTTP/1.0\r\n\r\n", v6);
    assert_int_equal(rw_client_to_svm(r, f, n), 1);
    assert_int_equal(rd32(f + t + 8), SISN + 501);
    assert_int_equal(rd32(f + t + 4), CISN + 1);          /* the client's own seq untouched */
    assert_true(rw_tcp_checksum_ok(f, n));
    /* SVM output, before failover: compared, not rewritten. */
    n = tcp(true, SISN + 501, CISN + 19, ACK, "HTTP/1.0 200 OK", v6);
    assert_int_equal(rw_svm_out(r, f, n, false), 0);
    assert_int_equal(rd32(f + t + 4), SISN + 501);
    /* After failover it goes to the client: in the PVM's numbers. */
    assert_int_equal(rw_svm_out(r, f, n, true), 1);
    assert_int_equal(rd32(f + t + 4), PISN + 501);
    assert_true(rw_tcp_checksum_ok(f, n));
    /* A checkpoint gives the SVM the PVM's state: no more translation. */
    rw_checkpoint_done(r);
    assert_int_equal(rw_translated(r), 0);
    n = tcp(false, CISN + 19, PISN + 600, ACK, NULL, v6);
    assert_int_equal(rw_client_to_svm(r, f, n), 0);
    assert_int_equal(rd32(f + t + 8), PISN + 600);
    n = tcp(true, PISN + 600, CISN + 19, ACK, "x", v6);
    assert_int_equal(rw_svm_out(r, f, n, true), 0);
    rw_free(r);
}

static void test_ipv4(void **state) { (void)state; run(false); }
static void test_ipv6(void **state) { (void)state; run(true); }

/* Timestamps: the SVM must see its own clock echoed (a Linux SVM drops a
 * handshake ACK echoing a value it never sent), clients the PVM's. */
static void ts_run(int nops)
{
    struct rewriter *r = rw_new();
    const uint32_t PISN = 1000, SISN = 2000000, CISN = 77, PTS = 500000, STS = 4294967000u;
    const size_t tsv = 34 + 20 + (size_t)nops + 2;     /* TSval; TSecr 4 bytes on */
    size_t n;

    n = tcp_ts(true, SISN, CISN + 1, SYN | ACK, STS, 9, nops);
    assert_int_equal(rw_svm_out(r, f, n, false), 0);
    /* The client's first ACK echoes the PVM's SYN-ACK clock. */
    n = tcp_ts(false, CISN + 1, PISN + 1, ACK, 10, PTS, nops);
    assert_int_equal(rw_client_to_svm(r, f, n), 1);
    assert_int_equal(rd32(f + tsv + 4), STS);
    assert_int_equal(rd32(f + tsv), 10);                /* the client's own clock untouched */
    assert_int_equal(rd32(f + 34 + 8), SISN + 1);
    assert_true(rw_tcp_checksum_ok(f, n));
    /* Later echoes move with the PVM's clock (and wrap around 2^32). */
    n = tcp_ts(false, CISN + 1, PISN + 1, ACK, 20, PTS + 700, nops);
    assert_int_equal(rw_client_to_svm(r, f, n), 1);
    assert_int_equal(rd32(f + tsv + 4), STS + 700);
    assert_true(rw_tcp_checksum_ok(f, n));
    /* After failover the SVM's clock goes out as the PVM's. */
    n = tcp_ts(true, SISN + 1, CISN + 1, ACK, STS + 900, 20, nops);
    assert_int_equal(rw_svm_out(r, f, n, true), 1);
    assert_int_equal(rd32(f + tsv), PTS + 900);
    assert_int_equal(rd32(f + tsv + 4), 20);
    assert_int_equal(rd32(f + 34 + 4), PISN + 1);
    assert_true(rw_tcp_checksum_ok(f, n));
    rw_free(r);
}

static void test_timestamps(void **state) { (void)state; ts_run(2); }
static void test_timestamps_odd_offset(void **state) { (void)state; ts_run(1); }

/* The same addresses and ports again, a new connection: the SVM's new ISN
 * and clock replace the old connection's offsets. */
static void test_new_connection_same_ports(void **state)
{
    struct rewriter *r = rw_new();
    size_t n;

    (void)state;
    n = tcp_ts(true, 5000, 78, SYN | ACK, 100, 1, 2);
    rw_svm_out(r, f, n, false);
    n = tcp_ts(false, 78, 1001, ACK, 2, 50, 2);
    rw_client_to_svm(r, f, n);
    n = tcp_ts(true, 9000, 91, SYN | ACK, 300, 1, 2);   /* the new connection's SYN-ACK */
    rw_svm_out(r, f, n, false);
    n = tcp_ts(false, 91, 3001, ACK, 3, 250, 2);         /* PVM ISN 3000, clock 250 */
    assert_int_equal(rw_client_to_svm(r, f, n), 1);
    assert_int_equal(rd32(f + 34 + 8), 9001);
    assert_int_equal(rd32(f + 34 + 20 + 2 + 2 + 4), 300);
    rw_free(r);
}

static void test_checksum_detects_damage(void **state)
{
    size_t n = tcp(true, 1, 2, ACK, "abc", false);

    (void)state;
    assert_true(rw_tcp_checksum_ok(f, n));
    f[n - 1] ^= 1;
    assert_false(rw_tcp_checksum_ok(f, n));
}

static void test_unknown_and_garbage(void **state)
{
    struct rewriter *r = rw_new();
    uint64_t x = 1234567;
    size_t n;

    (void)state;
    /* A connection the rewriter never saw a SYN for: left alone. */
    n = tcp(false, 5, 6, ACK, NULL, false);
    assert_int_equal(rw_client_to_svm(r, f, n), 0);
    assert_int_equal(rd32(f + 34 + 8), 6);
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        n = x % 120;
        for (size_t j = 0; j < n; j++)
            f[j] = (uint8_t)(x >> (j % 40));
        if (n > 14)
            f[12] = 0x08, f[13] = 0, f[14] = 0x45, f[23] = 6;
        if (x & 1)
            rw_client_to_svm(r, f, n);
        else
            rw_svm_out(r, f, n, x & 2);
    }
    rw_free(r);
}

/* pkt_fill_checksum gives a TCP frame whose checksum field holds anything
 * (the partial sum a sender with checksum offload leaves) the checksum this
 * test computes itself, ignoring Ethernet padding after the IP packet. */
static void test_fill_checksum_tcp(void **state)
{
    uint8_t want[sizeof(f)];

    (void)state;
    for (int v6 = 0; v6 <= 1; v6++) {
        size_t n = tcp(true, 7, 9, ACK | PSH, v6 ? "odd-length" : "hello", v6), off = 14 + (v6 ? 40 : 20);

        memcpy(want, f, n);
        f[off + 16] = 0x12, f[off + 17] = 0x34;             /* a partial sum */
        memset(f + n, 0xee, 60 > n ? 60 - n : 0);           /* padding to the minimum frame */
        assert_int_equal(pkt_fill_checksum(f, n < 60 ? 60 : n), 0);
        assert_memory_equal(f, want, n);
        assert_true(rw_tcp_checksum_ok(f, n));
    }
}

/* The ones' complement sum of a UDP/IPv6 packet's pseudo-header and
 * segment: 0xffff when its checksum is right. */
static unsigned udp6_sum(const uint8_t *ip, size_t ulen)
{
    uint64_t s = 17 + ulen;

    for (size_t i = 8; i < 40; i += 2)
        s += (unsigned)(ip[i] << 8 | ip[i + 1]);
    for (size_t i = 0; i < ulen; i += 2)
        s += (unsigned)(ip[40 + i] << 8 | (i + 1 < ulen ? ip[40 + i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (unsigned)s;
}

static void test_fill_checksum_udp_and_others(void **state)
{
    uint8_t *ip = f + 14, *u = ip + 40;
    size_t ulen = 8 + 7;
    uint64_t x = 88172645463325252ull;

    (void)state;
    memset(f, 0, sizeof(f));
    f[12] = 0x86, f[13] = 0xdd;
    ip[0] = 0x60, ip[5] = (uint8_t)ulen, ip[6] = 17;
    ip[8] = 0xfd, ip[23] = 2, ip[24] = 0xfd, ip[39] = 9;
    u[0] = 0x13, u[1] = 0x88, u[2] = 0xc3, u[3] = 0x50, u[5] = (uint8_t)ulen;
    memcpy(u + 8, "datagra", 7);
    u[6] = 0xab, u[7] = 0xcd;
    assert_int_equal(pkt_fill_checksum(f, 14 + 40 + ulen), 0);
    assert_int_equal(udp6_sum(ip, ulen), 0xffff);
    assert_true(u[6] || u[7]);                              /* never 0: "no checksum" */
    /* Not TCP or UDP, or cut short: left alone, said so. */
    memset(f, 0, 60);
    f[12] = 0x08, f[13] = 0x06;                             /* ARP */
    assert_int_equal(pkt_fill_checksum(f, 60), -1);
    tcp(true, 1, 2, ACK, "abc", false);
    assert_int_equal(pkt_fill_checksum(f, 14 + 20 + 10), -1);  /* TCP header cut */
    /* Garbage: never a read or write outside the frame (ASan watches). */
    for (int i = 0; i < 20000; i++) {
        uint8_t *g;
        size_t n;

        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        n = x % 100;
        g = malloc(n ? n : 1);
        assert_non_null(g);
        for (size_t j = 0; j < n; j++)
            g[j] = (uint8_t)(x >> (j % 50));
        if (n > 24)
            g[12] = 0x08, g[13] = 0, g[14] = 0x45, g[23] = (x & 4) ? 6 : 17;
        pkt_fill_checksum(g, n);
        free(g);
    }
}

/* pkt_tcp_next_segment cuts a 5000-byte segment (what a sender with
 * segmentation offload hands the switch) into MTU-sized ones, as its NIC
 * would have. */
static void test_segment_offloaded_frame(void **state)
{
    static uint8_t big[14 + 40 + 20 + 5000], seg[1600], joined[5000];

    (void)state;
    for (int v6 = 0; v6 <= 1; v6++) {
        size_t hdr = tcp(true, 1000, 7, ACK | PSH | 0x01 /* FIN */ | 0x80 /* CWR */, NULL, v6);
        size_t total = hdr + sizeof(joined), pos = 0, off = 0, mss = 1500 - (v6 ? 60 : 40);
        unsigned count = 0;
        long r;

        memcpy(big, f, hdr);
        for (size_t i = 0; i < sizeof(joined); i++)
            big[hdr + i] = (uint8_t)(i * 7 + i / 251);
        if (v6)
            big[14 + 4] = (uint8_t)((20 + 5000) >> 8), big[14 + 5] = (uint8_t)(20 + 5000);
        else
            big[14 + 2] = (uint8_t)((40 + 5000) >> 8), big[14 + 3] = (uint8_t)(40 + 5000),
            big[14 + 4] = 0x12, big[14 + 5] = 0xfe;     /* IP ID 0x12fe */
        assert_int_equal(pkt_fill_checksum(big, total), 0);
        memset(joined, 0, sizeof(joined));
        while ((r = pkt_tcp_next_segment(big, total, 1500, &pos, seg, sizeof(seg))) > 0) {
            struct pkt p;
            const char *why;
            bool last;

            assert_true((size_t)r <= 14 + 1500);
            assert_int_equal(pkt_parse(seg, (size_t)r, &p, &why), 0);
            assert_true(rw_tcp_checksum_ok(seg, (size_t)r));
            assert_int_equal(p.seq, 1000 + off);
            last = off + p.payload_len == sizeof(joined);
            assert_int_equal(p.flags & (0x01 | PSH), last ? (0x01 | PSH) : 0);
            assert_int_equal(p.flags & 0x80, count == 0 ? 0x80 : 0);
            assert_int_equal(p.flags & ACK, ACK);
            if (!v6) {
                unsigned sum = 0;

                for (int i = 0; i < 20; i += 2)
                    sum += (unsigned)(seg[14 + i] << 8 | seg[14 + i + 1]);
                while (sum >> 16)
                    sum = (sum & 0xffff) + (sum >> 16);
                assert_int_equal(sum, 0xffff);                  /* IP header checksum */
                assert_int_equal(seg[14 + 4] << 8 | seg[14 + 5], 0x12fe + count);
            }
            assert_true(off + p.payload_len <= sizeof(joined));
            memcpy(joined + off, p.payload, p.payload_len);
            off += p.payload_len;
            count++;
        }
        assert_int_equal(r, 0);
        assert_int_equal(count, (5000 + mss - 1) / mss);
        assert_memory_equal(joined, big + hdr, sizeof(joined));
        /* Cannot be cut: an MTU the headers fill, an output buffer too small. */
        pos = 0;
        assert_int_equal(pkt_tcp_next_segment(big, total, v6 ? 60 : 40, &pos, seg, sizeof(seg)), -1);
        pos = 0;
        assert_int_equal(pkt_tcp_next_segment(big, total, 1500, &pos, seg, 100), -1);
    }
    memset(f, 0, 60);
    f[12] = 0x08, f[13] = 0x06;                                 /* ARP: not TCP */
    {
        size_t pos = 0;

        assert_int_equal(pkt_tcp_next_segment(f, 60, 1500, &pos, big, sizeof(big)), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_timestamps_odd_offset),
        cmocka_unit_test(test_new_connection_same_ports),
        cmocka_unit_test(test_checksum_detects_damage),
        cmocka_unit_test(test_unknown_and_garbage),
        cmocka_unit_test(test_fill_checksum_tcp),
        cmocka_unit_test(test_fill_checksum_udp_and_others),
        cmocka_unit_test(test_segment_offloaded_frame),
    };

    return cmocka_run_group_tests_name("rewrite", tests, NULL, NULL);
}
