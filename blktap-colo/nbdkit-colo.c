/*
 * nbdkit-colo.c - the replicated disk as an nbdkit plugin.
 *
 *   nbdkit nbdkit-colo-plugin.so role=primary   image=PVM.img peer=HOST:PORT control=unix:PATH
 *   nbdkit nbdkit-colo-plugin.so role=secondary image=SVM.img listen=HOST:PORT control=unix:PATH
 *
 * nbdkit speaks NBD (newstyle, with the options common clients use); this
 * plugin does the replication.  Primary: every write goes to the local image
 * and is forwarded, tagged with the open epoch, to the secondary
 * (DISK_WRITE), which acknowledges it (DISK_ACK); the engine's DISK_BARRIER
 * on the control socket waits until every write of the epoch is
 * acknowledged, then opens the next epoch.  Secondary: forwarded writes go
 * to the speculation buffer, the SVM's I/O through the overlay
 * (colo-disk.c); DISK_COMMIT and FAILOVER on the control socket commit a
 * checkpoint or fail over.  Both sides answer STATUS_REQUEST with JSON.
 *
 * Requests must be 512-byte aligned (advertised as the minimum block size);
 * misaligned or out-of-range requests get EINVAL, never a crash.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "colo-channel.h"
#include "colo-disk.h"
#include "colo-log.h"
#include "colo-proto.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#define BARRIER_TIMEOUT_MS 10000

static struct {
    bool primary;
    const char *image, *peer, *listen, *control, *spill_dir;
    int64_t mem_limit;
    bool volatile_commit;
} cfg = { .mem_limit = 256 << 20 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t acked_cond = PTHREAD_COND_INITIALIZER;

/* primary */
static int img_fd = -1;
static uint64_t img_size;
static struct colo_chan peer;           /* to / from the peer disk */
static bool peer_up;
/* The open epoch, and per epoch parity the writes sent and acknowledged:
 * the open epoch's and, while a barrier waits, the closed one's. */
static uint64_t epoch, sent[2], acked[2];

/* secondary: `lock` orders the SVM's I/O and the control requests;
 * pvm_lock (taken after `lock` when both are needed) the primary's
 * forwarded writes, so they keep arriving while a commit updates the base */
static struct colo_disk disk;
static pthread_mutex_t pvm_lock = PTHREAD_MUTEX_INITIALIZER;

static int colo_config(const char *key, const char *value)
{
    if (!strcmp(key, "role")) {
        if (strcmp(value, "primary") && strcmp(value, "secondary")) {
            nbdkit_error("colo: role=%s: want primary or secondary", value);
            return -1;
        }
        cfg.primary = !strcmp(value, "primary");
    } else if (!strcmp(key, "image")) {
        cfg.image = value;
    } else if (!strcmp(key, "peer")) {
        cfg.peer = value;
    } else if (!strcmp(key, "listen")) {
        cfg.listen = value;
    } else if (!strcmp(key, "control")) {
        cfg.control = value;
    } else if (!strcmp(key, "spill-dir")) {
        cfg.spill_dir = value;
    } else if (!strcmp(key, "commit")) {
        if (strcmp(value, "durable") && strcmp(value, "volatile")) {
            nbdkit_error("colo: commit=%s: want durable (fdatasync at each checkpoint) or volatile", value);
            return -1;
        }
        cfg.volatile_commit = !strcmp(value, "volatile");
    } else if (!strcmp(key, "mem-limit")) {
        if ((cfg.mem_limit = nbdkit_parse_size(value)) < 0)
            return -1;
    } else {
        nbdkit_error("colo: unknown parameter '%s' (known: role, image, peer, listen, control, "
                     "commit, mem-limit, spill-dir)", key);
        return -1;
    }
    return 0;
}

static int colo_config_complete(void)
{
    if (!cfg.image || !cfg.control) {
        nbdkit_error("colo: image= and control= are required");
        return -1;
    }
    if (cfg.primary ? !cfg.peer : !cfg.listen) {
        nbdkit_error("colo: role=%s needs %s=", cfg.primary ? "primary" : "secondary",
                     cfg.primary ? "peer" : "listen");
        return -1;
    }
    return 0;
}

/* --- the replication link ------------------------------------------------- */

/* Primary: DISK_ACKs from the secondary. */
static void *ack_thread(void *arg)
{
    struct colo_rec r;

    (void)arg;
    for (;;) {
        int rc = colo_chan_recv(&peer, &r, -1);

        pthread_mutex_lock(&lock);
        if (rc <= 0 || r.type != COLO_REC_DISK_ACK) {
            /* Secondary gone: stop forwarding, keep serving the PVM. */
            colo_err("disk primary: link to the secondary lost; the disk runs unprotected");
            peer_up = false;
            pthread_cond_broadcast(&acked_cond);
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        /* Acks count per epoch; only the open epoch and the one a barrier
         * may be closing are live (older ones cannot be, see barrier()). */
        if ((r.u.disk.epoch == epoch || r.u.disk.epoch + 1 == epoch) &&
            r.u.disk.writes > acked[r.u.disk.epoch % 2]) {
            acked[r.u.disk.epoch % 2] = r.u.disk.writes;
            pthread_cond_broadcast(&acked_cond);
        }
        pthread_mutex_unlock(&lock);
    }
}

/* Secondary: acknowledge `n` writes of `e` (a count, so one ack covers a batch). */
static int send_ack(uint64_t e, uint64_t n)
{
    uint8_t ack[32];

    return colo_chan_send(&peer, ack, colo_enc_disk(ack, sizeof(ack), COLO_REC_DISK_ACK, e, n));
}

/* Is more of the primary's stream already waiting to be read? */
static bool more_to_read(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/*
 * Secondary: the primary's forwarded writes.  Acknowledgements carry a
 * count per epoch, so while more writes are already queued on the socket
 * the ack waits and then covers them all; it is sent as soon as the stream
 * pauses, the epoch changes, or ACK_BATCH writes are pending.  A write is
 * acknowledged only once it is in the speculation buffer.
 */
#define ACK_BATCH 64

static void *write_thread(void *arg)
{
    int lfd = *(int *)arg, fd;
    struct colo_rec r;
    uint64_t pend_epoch = 0, pend_n = 0, pending = 0;

    while ((fd = colo_sock_accept(lfd, 1000)) < 0)
        ;
    if (colo_chan_init(&peer, fd, "disk replication") < 0)
        return NULL;
    colo_info("disk secondary: the primary's disk is connected");
    for (;;) {
        int rc = colo_chan_recv(&peer, &r, -1);
        uint64_t n;

        if (rc <= 0)
            break;
        if (r.type != COLO_REC_DISK_WRITE) {
            colo_err("disk secondary: %s on the write link", colo_rec_name(r.type));
            break;
        }
        pthread_mutex_lock(&pvm_lock);
        rc = colo_disk_pvm_write(&disk, r.u.dwrite.epoch, r.u.dwrite.offset, r.u.dwrite.len,
                                 r.u.dwrite.data);
        n = r.u.dwrite.epoch == disk.epoch ? disk.epoch_writes : disk.next_writes;
        pthread_mutex_unlock(&pvm_lock);
        if (rc < 0)
            break;      /* an unacknowledged write: the primary's barrier will not pass */
        if (pending && pend_epoch != r.u.dwrite.epoch && send_ack(pend_epoch, pend_n) < 0)
            break;
        if (pending && pend_epoch != r.u.dwrite.epoch)
            pending = 0;
        pend_epoch = r.u.dwrite.epoch;
        pend_n = n;
        if (++pending < ACK_BATCH && more_to_read(peer.fd))
            continue;
        if (send_ack(pend_epoch, pend_n) < 0)
            break;
        pending = 0;
    }
    colo_info("disk secondary: write link closed");
    return NULL;
}

/* --- the control socket ------------------------------------------------------ */

static char *status_json(void)
{
    char *s = NULL;

    pthread_mutex_lock(&lock);
    pthread_mutex_lock(&pvm_lock);
    if (cfg.primary)
        (void)!asprintf(&s, "{\"role\":\"primary\",\"image\":\"%s\",\"protected\":%s,\"epoch\":%" PRIu64
                        ",\"writes_sent\":%" PRIu64 ",\"writes_acked\":%" PRIu64 ",\"lag\":%" PRIu64 "}",
                        cfg.image, peer_up ? "true" : "false", epoch, sent[epoch % 2], acked[epoch % 2],
                        sent[0] - acked[0] + sent[1] - acked[1]);
    else
        (void)!asprintf(&s, "{\"role\":\"secondary\",\"image\":\"%s\",\"state\":\"%s\",\"epoch\":%" PRIu64
                        ",\"epoch_writes\":%" PRIu64 ",\"speculation_bytes\":%" PRIu64
                        ",\"overlay_bytes\":%" PRIu64 ",\"commits\":%" PRIu64 "}",
                        cfg.image, disk.mode == COLO_DISK_ACTIVE ? "active" : "replicating",
                        disk.epoch, disk.epoch_writes,
                        sector_map_bytes(&disk.spec) + sector_map_bytes(&disk.spec_odd),
                        sector_map_bytes(&disk.overlay), disk.commits);
    pthread_mutex_unlock(&pvm_lock);
    pthread_mutex_unlock(&lock);
    return s;
}

/*
 * Primary: close epoch `e` now - writes forwarded from here on belong to
 * e+1 - and wait until every write of `e` is acknowledged.  The engine
 * calls it with the PVM suspended, so no write of the checkpoint's state
 * is left out; closing at once (rather than waiting for a moment with
 * nothing in flight) keeps an epoch exactly as long as the checkpoint
 * interval even if a client keeps writing.  If the secondary does not
 * acknowledge in time, the link is given up: the primary serves on
 * unprotected, as when the link breaks.
 */
static int barrier(uint64_t e, uint64_t *writes)
{
    struct timespec until;
    uint64_t i = e % 2;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += BARRIER_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&lock);
    if (e != epoch) {
        colo_err("disk primary: barrier for epoch %" PRIu64 " while epoch %" PRIu64 " is open", e, epoch);
        pthread_mutex_unlock(&lock);
        return -1;
    }
    epoch++;
    sent[epoch % 2] = acked[epoch % 2] = 0;
    while (peer_up && acked[i] < sent[i])
        if (pthread_cond_timedwait(&acked_cond, &lock, &until) == ETIMEDOUT) {
            colo_err("disk primary: %" PRIu64 " writes of epoch %" PRIu64 " unacknowledged after %d ms;"
                     " giving up the secondary, the disk runs unprotected", sent[i] - acked[i], e,
                     BARRIER_TIMEOUT_MS);
            peer_up = false;
            shutdown(peer.fd, SHUT_RDWR);
        }
    if (!peer_up) {
        colo_err("disk primary: barrier without a secondary");
        rc = -1;
    }
    *writes = sent[i];
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Secondary: commit `e`.  The SVM's I/O waits for the whole commit (it must
 * never see the base half-updated); the primary's writes of the next epoch
 * wait only for the bookkeeping at either end. */
static int commit(uint64_t e, uint64_t writes)
{
    int rc;

    pthread_mutex_lock(&lock);
    pthread_mutex_lock(&pvm_lock);
    rc = colo_disk_commit_begin(&disk, e, writes);
    pthread_mutex_unlock(&pvm_lock);
    if (rc == 0) {
        rc = colo_disk_commit_write(&disk);
        pthread_mutex_lock(&pvm_lock);
        colo_disk_commit_end(&disk, rc == 0);
        pthread_mutex_unlock(&pvm_lock);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* One control request; -1 drops the client. */
static int control_request(struct colo_chan *c, const struct colo_rec *r)
{
    uint8_t buf[64];
    uint64_t w = 0;
    int rc;

    switch (r->type) {
    case COLO_REC_DISK_BARRIER:
        if (!cfg.primary || barrier(r->u.disk.epoch, &w) < 0) {
            colo_chan_send_error(c, EIO, "disk barrier failed");
            return 0;
        }
        return colo_chan_send(c, buf, colo_enc_disk(buf, sizeof(buf), COLO_REC_DISK_BARRIER,
                                                     r->u.disk.epoch, w));
    case COLO_REC_DISK_COMMIT:
        rc = cfg.primary ? -1 : commit(r->u.disk.epoch, r->u.disk.writes);
        if (rc < 0) {
            colo_chan_send_error(c, EIO, "disk commit failed");
            return 0;
        }
        return colo_chan_send(c, buf, colo_enc_disk(buf, sizeof(buf), COLO_REC_DISK_COMMIT,
                                                     r->u.disk.epoch, r->u.disk.writes));
    case COLO_REC_FAILOVER:
        pthread_mutex_lock(&lock);
        pthread_mutex_lock(&pvm_lock);
        rc = cfg.primary ? -1 : colo_disk_failover(&disk);
        pthread_mutex_unlock(&pvm_lock);
        pthread_mutex_unlock(&lock);
        if (rc < 0) {
            colo_chan_send_error(c, EIO, "disk failover failed");
            return 0;
        }
        return colo_chan_send(c, buf, colo_enc_failover(buf, sizeof(buf), r->u.failover.reason));
    case COLO_REC_STATUS_REQUEST: {
        char *json = status_json();
        size_t n = json ? strlen(json) : 0;
        struct iovec iov[2] = { { buf, colo_enc_hdr(buf, sizeof(buf), COLO_REC_STATUS, (uint32_t)n) },
                                { json, n } };

        rc = colo_chan_sendv(c, iov, 2);
        free(json);
        return rc;
    }
    default:
        colo_warn("disk control: %s is not a disk request", colo_rec_name(r->type));
        return -1;
    }
}

/* Control clients one at a time: the engine is the only regular client. */
static void *control_thread(void *arg)
{
    int lfd = *(int *)arg;

    for (;;) {
        struct colo_chan c;
        struct colo_rec r;
        int fd = colo_sock_accept(lfd, 1000);

        if (fd < 0 || colo_chan_init_sized(&c, fd, "disk control", 4096) < 0)
            continue;
        while (colo_chan_recv(&c, &r, -1) == 1 && control_request(&c, &r) == 0)
            ;
        colo_chan_close(&c);
    }
    return NULL;
}

/* --- start-up --------------------------------------------------------------- */

static int start_thread(void *(*fn)(void *), int *arg)
{
    pthread_t t;

    if (pthread_create(&t, NULL, fn, arg) != 0) {
        nbdkit_error("colo: cannot start a thread");
        return -1;
    }
    pthread_detach(t);
    return 0;
}

/* After nbdkit has forked (if it does): sockets, threads, the image. */
static int colo_after_fork(void)
{
    static int ctl_fd, peer_lfd;
    struct stat st;

    colo_log_init(cfg.primary ? "colo-disk-primary" : "colo-disk-secondary", COLO_LOG_INFO);
    if (cfg.primary) {
        img_fd = open(cfg.image, O_RDWR | O_CLOEXEC);
        if (img_fd < 0 || fstat(img_fd, &st) < 0) {
            nbdkit_error("colo: cannot open image %s: %m", cfg.image);
            return -1;
        }
        img_size = (uint64_t)st.st_size;
        if (img_size == 0 || img_size % COLO_DISK_SECTOR) {
            nbdkit_error("colo: image %s: size %" PRIu64 " is not a positive multiple of 512",
                         cfg.image, img_size);
            return -1;
        }
        /* The secondary's disk must be there before the PVM writes anything. */
        for (int i = 0; i < 50; i++) {
            int fd = colo_sock_connect(cfg.peer, 2000);

            if (fd >= 0 && colo_chan_init(&peer, fd, "disk replication") == 0) {
                peer_up = true;
                break;
            }
            usleep(200000);
        }
        if (!peer_up) {
            nbdkit_error("colo: cannot reach the secondary disk at %s", cfg.peer);
            return -1;
        }
        if (start_thread(ack_thread, NULL) < 0)
            return -1;
    } else {
        struct colo_disk_cfg dc = { .mem_limit = (uint64_t)cfg.mem_limit, .spill_dir = cfg.spill_dir,
                                    .volatile_commit = cfg.volatile_commit };

        if (colo_disk_open(&disk, cfg.image, &dc) < 0) {
            nbdkit_error("colo: cannot open image %s (see the message above)", cfg.image);
            return -1;
        }
        img_size = disk.size;
        if ((peer_lfd = colo_sock_listen(cfg.listen)) < 0 || start_thread(write_thread, &peer_lfd) < 0)
            return -1;
    }
    if ((ctl_fd = colo_sock_listen(cfg.control)) < 0 || start_thread(control_thread, &ctl_fd) < 0)
        return -1;
    return 0;
}

/* --- NBD requests ----------------------------------------------------------- */

static void *colo_open(int readonly)
{
    (void)readonly;
    return &cfg;    /* one disk: no per-connection state */
}

static int64_t colo_get_size(void *h)
{
    (void)h;
    return (int64_t)img_size;
}

static int colo_block_size(void *h, uint32_t *min, uint32_t *pref, uint32_t *max)
{
    (void)h;
    *min = COLO_DISK_SECTOR;
    *pref = 4096;
    *max = COLO_MAX_DISK_WRITE;
    return 0;
}

static int colo_can_fua(void *h)
{
    (void)h;
    return NBDKIT_FUA_NATIVE;
}

static int colo_can_multi_conn(void *h)
{
    (void)h;
    return 1;       /* one image, one lock: every connection sees every write */
}

static bool aligned(uint32_t count, uint64_t offset)
{
    if (count % COLO_DISK_SECTOR || offset % COLO_DISK_SECTOR || count > COLO_MAX_DISK_WRITE) {
        nbdkit_error("colo: request %" PRIu64 "+%" PRIu32 " is not 512-byte aligned or exceeds 4 MiB",
                     offset, count);
        nbdkit_set_error(EINVAL);
        return false;
    }
    return true;
}

static int colo_pread(void *h, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
    int rc = 0;

    (void)h;
    (void)flags;
    if (!aligned(count, offset))
        return -1;
    if (cfg.primary) {
        if (pread(img_fd, buf, count, (off_t)offset) != (ssize_t)count)
            rc = -1;
    } else {
        pthread_mutex_lock(&lock);
        rc = colo_disk_svm_read(&disk, offset, count, buf);
        pthread_mutex_unlock(&lock);
    }
    if (rc < 0)
        nbdkit_set_error(errno ? errno : EIO);
    return rc;
}

static int colo_pwrite(void *h, const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
    int rc = 0;

    (void)h;
    if (!aligned(count, offset))
        return -1;
    if (!cfg.primary) {
        pthread_mutex_lock(&lock);
        rc = colo_disk_svm_write(&disk, offset, count, buf);
        if (rc == 0 && (flags & NBDKIT_FLAG_FUA))
            rc = colo_disk_svm_flush(&disk);
        pthread_mutex_unlock(&lock);
        goto out;
    }
    /* The local write needs no lock: concurrent NBD writes may overlap
     * only if the client does not care about their order. */
    if (pwrite(img_fd, buf, count, (off_t)offset) != (ssize_t)count ||
        ((flags & NBDKIT_FLAG_FUA) && fdatasync(img_fd) < 0)) {
        rc = -1;
        goto out;
    }
    pthread_mutex_lock(&lock);
    if (peer_up) {
        /* Forwarded in order, under the lock that tags it with the epoch;
         * the guest does not wait for the secondary's acknowledgement. */
        uint8_t pre[40];
        struct iovec iov[2] = {
            { pre, colo_enc_disk_write_prefix(pre, sizeof(pre), epoch, offset, count,
                                              flags & NBDKIT_FLAG_FUA ? COLO_DISK_FUA : 0) },
            { (void *)buf, count },
        };

        if (colo_chan_sendv(&peer, iov, 2) == 0)
            sent[epoch % 2]++;
        else
            peer_up = false;
    }
    pthread_mutex_unlock(&lock);
out:
    if (rc < 0)
        nbdkit_set_error(errno ? errno : EIO);
    return rc;
}

static int colo_flush(void *h, uint32_t flags)
{
    int rc;

    (void)h;
    (void)flags;
    if (!cfg.primary) {
        pthread_mutex_lock(&lock);
        rc = colo_disk_svm_flush(&disk);
        pthread_mutex_unlock(&lock);
    } else {
        rc = fdatasync(img_fd);
    }
    if (rc < 0)
        nbdkit_set_error(errno ? errno : EIO);
    return rc;
}

static struct nbdkit_plugin plugin = {
    .name = "colo",
    .longname = "xen-colo replicated disk",
    .version = "0.1",
    .config = colo_config,
    .config_complete = colo_config_complete,
    .config_help = "role=primary|secondary image=PATH peer=ADDR|listen=ADDR control=unix:PATH "
                   "[commit=durable|volatile] [mem-limit=SIZE] [spill-dir=DIR]",
    .after_fork = colo_after_fork,
    .open = colo_open,
    .get_size = colo_get_size,
    .block_size = colo_block_size,
    .can_fua = colo_can_fua,
    .can_multi_conn = colo_can_multi_conn,
    .pread = colo_pread,
    .pwrite = colo_pwrite,
    .flush = colo_flush,
    .errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
