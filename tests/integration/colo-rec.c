/*
 * colo-rec - send one control record to a xen-colo socket and print the
 * reply (tests only; it plays the engine towards the disk daemons).
 *
 *   colo-rec unix:PATH DISK_BARRIER EPOCH
 *   colo-rec unix:PATH DISK_COMMIT EPOCH WRITES
 *   colo-rec unix:PATH FAILOVER
 *   colo-rec unix:PATH STATUS
 *
 * Prints "NAME A B" for disk replies, the JSON for STATUS, "ERROR text" for
 * an error; exits 0 only for a non-error reply.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-channel.h"
#include "colo-log.h"

int main(int argc, char **argv)
{
    uint8_t buf[64];
    size_t n = 0;
    struct colo_chan c;
    struct colo_rec r;
    int fd, rc = 0;

    colo_log_init("colo-rec", COLO_LOG_WARN);
    if (argc < 3)
        goto usage;
    if (!strcmp(argv[2], "DISK_BARRIER") && argc == 4)
        n = colo_enc_disk(buf, sizeof(buf), COLO_REC_DISK_BARRIER, strtoull(argv[3], NULL, 10), 0);
    else if (!strcmp(argv[2], "DISK_COMMIT") && argc == 5)
        n = colo_enc_disk(buf, sizeof(buf), COLO_REC_DISK_COMMIT, strtoull(argv[3], NULL, 10),
                          strtoull(argv[4], NULL, 10));
    else if (!strcmp(argv[2], "FAILOVER") && argc == 3)
        n = colo_enc_failover(buf, sizeof(buf), COLO_FAILOVER_REQUEST);
    else if (!strcmp(argv[2], "STATUS") && argc == 3)
        n = colo_enc_empty(buf, sizeof(buf), COLO_REC_STATUS_REQUEST);
    else
        goto usage;
    if ((fd = colo_sock_connect(argv[1], 5000)) < 0 || colo_chan_init_sized(&c, fd, "control", 1 << 20) < 0 ||
        colo_chan_send(&c, buf, n) < 0 || colo_chan_recv(&c, &r, 15000) != 1)
        return 1;
    switch (r.type) {
    case COLO_REC_ERROR:
        printf("ERROR %.*s\n", (int)r.u.error.text.len, (const char *)r.u.error.text.data);
        rc = 1;
        break;
    case COLO_REC_STATUS:
        printf("%.*s\n", (int)r.u.blob.len, (const char *)r.u.blob.data);
        break;
    case COLO_REC_FAILOVER:
        printf("FAILOVER\n");
        break;
    default:
        printf("%s %" PRIu64 " %" PRIu64 "\n", colo_rec_name(r.type), r.u.disk.epoch, r.u.disk.writes);
        break;
    }
    /* The reply points into the channel's buffer: print first, then free
     * it (a leak report under the sanitizers would lose stdout). */
    colo_chan_close(&c);
    return rc;
usage:
    fprintf(stderr, "usage: colo-rec unix:PATH DISK_BARRIER EPOCH | DISK_COMMIT EPOCH WRITES | FAILOVER | STATUS\n");
    return 2;
}
