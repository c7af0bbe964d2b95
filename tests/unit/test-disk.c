/*
 * test-disk.c - the secondary's replicated disk, rule by rule
 * (blktap-colo/colo-disk.h, shared/colo-semantics.md "disk" column).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "colo-disk.h"
#include "colo-log.h"

#define SIZE (1u << 20)      /* 1 MiB image */

static char path[128], dir[64];

static int setup(void **state)
{
    int fd;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/colo-disk-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/base.img", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, SIZE), 0);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    char j[160];

    (void)state;
    for (int k = 0; k < 2; k++) {
        snprintf(j, sizeof(j), "%s.colo-journal.%d", path, k);
        unlink(j);
    }
    unlink(path);
    rmdir(dir);
    return 0;
}

/* What the base image file itself holds (bypassing the disk layers). */
static uint8_t base_byte(uint64_t off)
{
    uint8_t b = 0;
    int fd = open(path, O_RDONLY);

    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    close(fd);
    return b;
}

static uint8_t svm_byte(struct colo_disk *d, uint64_t off)
{
    uint8_t buf[512];

    assert_int_equal(colo_disk_svm_read(d, off & ~511ull, 512, buf), 0);
    return buf[off & 511];
}

static void fill(uint8_t *b, size_t n, uint8_t v) { memset(b, v, n); }

static void test_sector_map_spill(void **state)
{
    struct sector_map m;
    uint8_t in[COLO_SECTOR], out[COLO_SECTOR];
    uint64_t *sorted;

    (void)state;
    /* 4 sectors in memory, the rest spills to a file. */
    assert_int_equal(sector_map_init(&m, 4 * COLO_SECTOR, dir), 0);
    for (uint64_t s = 0; s < 3000; s++) {
        fill(in, sizeof(in), (uint8_t)(s * 7));
        assert_int_equal(sector_map_put(&m, s * 3, 1, in), 0);
    }
    assert_int_equal(m.count, 3000);
    assert_true(m.spill_fd >= 0);
    for (uint64_t s = 0; s < 3000; s += 37) {
        assert_int_equal(sector_map_get(&m, s * 3, out), 1);
        assert_int_equal(out[100], (uint8_t)(s * 7));
    }
    assert_int_equal(sector_map_get(&m, 1, out), 0);
    /* overwrite keeps one version */
    fill(in, sizeof(in), 0xab);
    assert_int_equal(sector_map_put(&m, 2997 * 3, 1, in), 0);
    assert_int_equal(m.count, 3000);
    assert_int_equal(sector_map_get(&m, 2997 * 3, out), 1);
    assert_int_equal(out[0], 0xab);
    sorted = sector_map_sorted(&m);
    for (size_t i = 1; i < m.count; i++)
        assert_true(sorted[i] > sorted[i - 1]);
    free(sorted);
    sector_map_clear(&m);
    assert_int_equal(m.count, 0);
    assert_int_equal(sector_map_get(&m, 3, out), 0);
    sector_map_free(&m);
}

static void test_layers_and_commit(void **state)
{
    struct colo_disk d;
    struct colo_disk_cfg cfg = { .mem_limit = 1 << 20, .spill_dir = dir };
    uint8_t buf[4096];

    (void)state;
    assert_int_equal(colo_disk_open(&d, path, &cfg), 0);
    assert_int_equal(d.size, SIZE);
    /* SVM writes land in the overlay: the SVM sees them, the base does not. */
    fill(buf, sizeof(buf), 0x11);
    assert_int_equal(colo_disk_svm_write(&d, 8192, 4096, buf), 0);
    assert_int_equal(svm_byte(&d, 8192 + 5), 0x11);
    assert_int_equal(base_byte(8192 + 5), 0);
    /* PVM writes of the open epoch are invisible to the SVM and the base. */
    fill(buf, sizeof(buf), 0x22);
    assert_int_equal(colo_disk_pvm_write(&d, 0, 0, 4096, buf), 0);
    fill(buf, sizeof(buf), 0x23);
    assert_int_equal(colo_disk_pvm_write(&d, 0, 2048, 512, buf), 0);  /* overwrites part */
    assert_int_equal(svm_byte(&d, 0), 0);
    assert_int_equal(base_byte(0), 0);
    /* A write of the next epoch may arrive before this one commits. */
    fill(buf, sizeof(buf), 0x33);
    assert_int_equal(colo_disk_pvm_write(&d, 1, 65536, 512, buf), 0);
    /* Commit of epoch 0: its writes reach the base, the overlay is gone,
     * the early write of epoch 1 is still held back. */
    assert_int_equal(colo_disk_commit(&d, 0, 2), 0);
    assert_int_equal(base_byte(0), 0x22);
    assert_int_equal(base_byte(2048), 0x23);
    assert_int_equal(base_byte(2560), 0x22);
    assert_int_equal(svm_byte(&d, 8192 + 5), 0);        /* SVM := PVM */
    assert_int_equal(svm_byte(&d, 0), 0x22);
    assert_int_equal(base_byte(65536), 0);
    assert_int_equal(d.epoch, 1);
    assert_int_equal(colo_disk_commit(&d, 1, 1), 0);
    assert_int_equal(base_byte(65536), 0x33);
    colo_disk_close(&d);
}

static void test_refusals(void **state)
{
    struct colo_disk d;
    uint8_t buf[1024] = { 0 };

    (void)state;
    assert_int_equal(colo_disk_open(&d, path, NULL), 0);
    assert_int_equal(colo_disk_svm_write(&d, 100, 512, buf), -1);          /* misaligned */
    assert_int_equal(colo_disk_svm_read(&d, 0, 100, buf), -1);             /* odd length */
    assert_int_equal(colo_disk_svm_read(&d, SIZE - 512, 1024, buf), -1);   /* past the end */
    assert_int_equal(colo_disk_pvm_write(&d, 0, UINT64_MAX - 511, 512, buf), -1);
    assert_int_equal(colo_disk_pvm_write(&d, 5, 0, 512, buf), -1);         /* epoch from the future */
    assert_int_equal(colo_disk_pvm_write(&d, 0, 0, 512, buf), 0);
    assert_int_equal(colo_disk_commit(&d, 0, 2), -1);                      /* a write was lost */
    assert_int_equal(colo_disk_commit(&d, 3, 1), -1);                      /* wrong epoch */
    assert_int_equal(colo_disk_commit(&d, 0, 1), 0);
    colo_disk_close(&d);
    assert_int_equal(colo_disk_open(&d, "/nonexistent/disk.img", NULL), -1);
    assert_int_equal(colo_disk_open(&d, "/dev/null", NULL), -1);           /* not a file/bdev */
}

static void test_failover(void **state)
{
    struct colo_disk d;
    uint8_t buf[512];

    (void)state;
    assert_int_equal(colo_disk_open(&d, path, NULL), 0);
    fill(buf, sizeof(buf), 0x44);
    assert_int_equal(colo_disk_pvm_write(&d, 0, 4096, 512, buf), 0);       /* uncommitted */
    fill(buf, sizeof(buf), 0x55);
    assert_int_equal(colo_disk_svm_write(&d, 8192, 512, buf), 0);          /* acknowledged to the SVM */
    assert_int_equal(colo_disk_failover(&d), 0);
    /* The PVM's uncommitted write is gone; the SVM's acknowledged one stays. */
    assert_int_equal(base_byte(4096), 0);
    assert_int_equal(base_byte(8192), 0x55);
    assert_int_equal(svm_byte(&d, 8192), 0x55);
    /* From now on the SVM writes straight to the base; no more PVM writes. */
    fill(buf, sizeof(buf), 0x66);
    assert_int_equal(colo_disk_svm_write(&d, 12288, 512, buf), 0);
    assert_int_equal(colo_disk_svm_flush(&d), 0);
    assert_int_equal(base_byte(12288), 0x66);
    assert_int_equal(colo_disk_pvm_write(&d, 0, 0, 512, buf), -1);
    assert_int_equal(colo_disk_commit(&d, 0, 0), -1);
    assert_int_equal(colo_disk_failover(&d), 0);                           /* idempotent */
    colo_disk_close(&d);
}

static void test_crash_in_commit(void **state)
{
    struct colo_disk d;
    struct colo_disk_cfg cfg = { .mem_limit = 2048, .spill_dir = dir };   /* spills too */
    uint8_t buf[8192];
    char j[160];

    (void)state;
    snprintf(j, sizeof(j), "%s.colo-journal.0", path);     /* epoch 0's */
    /* A commit that dies after its journal is durable: replayed at open. */
    assert_int_equal(colo_disk_open(&d, path, &cfg), 0);
    fill(buf, sizeof(buf), 0x77);
    assert_int_equal(colo_disk_pvm_write(&d, 0, 16384, sizeof(buf), buf), 0);
    assert_int_equal(colo_disk_journal_epoch(&d, 0), 0);
    colo_disk_close(&d);                                   /* "crash" */
    assert_int_equal(base_byte(16384), 0);
    assert_int_equal(colo_disk_open(&d, path, &cfg), 0);
    assert_int_equal(d.replayed, 1);
    assert_int_equal(base_byte(16384), 0x77);
    assert_int_equal(base_byte(16384 + 8191), 0x77);
    /* A journal torn in the middle is ignored: the base stays as it was. */
    fill(buf, sizeof(buf), 0x88);
    assert_int_equal(colo_disk_pvm_write(&d, 0, 32768, sizeof(buf), buf), 0);
    assert_int_equal(colo_disk_journal_epoch(&d, 0), 0);
    colo_disk_close(&d);
    {
        /* 2 slots of data, then the index: torn 40 bytes into it */
        int fd = open(j, O_RDWR);

        assert_int_equal(ftruncate(fd, 4096 + 2 * 4096 + 40), 0);
        close(fd);
    }
    assert_int_equal(colo_disk_open(&d, path, &cfg), 0);
    assert_int_equal(d.replayed, 0);
    assert_int_equal(base_byte(32768), 0);
    /* A journal with one flipped byte is ignored too. */
    assert_int_equal(colo_disk_pvm_write(&d, 0, 32768, sizeof(buf), buf), 0);
    assert_int_equal(colo_disk_journal_epoch(&d, 0), 0);
    colo_disk_close(&d);
    {
        int fd = open(j, O_RDWR);
        uint8_t b;

        /* a byte of the second slot's data (its block checksum) */
        assert_int_equal(pread(fd, &b, 1, 4096 + 4096 + 77), 1);
        b ^= 0xff;
        assert_int_equal(pwrite(fd, &b, 1, 4096 + 4096 + 77), 1);
        close(fd);
    }
    assert_int_equal(colo_disk_open(&d, path, &cfg), 0);
    assert_int_equal(d.replayed, 0);
    assert_int_equal(base_byte(32768), 0);
    /* The journal is overwritten in place, not truncated: a complete short
     * journal followed by the rest of a longer old one is still replayed. */
    fill(buf, sizeof(buf), 0x99);
    assert_int_equal(colo_disk_pvm_write(&d, 0, 49152, 512, buf), 0);
    assert_int_equal(colo_disk_journal_epoch(&d, 0), 0);
    colo_disk_close(&d);
    {
        struct stat st;

        assert_int_equal(stat(j, &st), 0);
        assert_true(st.st_size > 4096 + 4096 + 32 + 16);
    }
    assert_int_equal(colo_disk_open(&d, path, &cfg), 0);
    assert_int_equal(d.replayed, 1);
    assert_int_equal(base_byte(49152), 0x99);
    assert_int_equal(base_byte(49152 + 512), 0);
    colo_disk_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sector_map_spill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layers_and_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_in_commit, setup, teardown),
    };

    colo_log_init("test-disk", getenv("COLO_TEST_DEBUG") ? COLO_LOG_DEBUG : COLO_LOG_ERROR);
    return cmocka_run_group_tests_name("disk", tests, NULL, NULL);
}
