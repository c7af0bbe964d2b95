/* cutter.c - see cutter.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo-proto.h"
#include "cutter.h"

static int read_full(int fd, uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = read(fd, p, len);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n == 0 || errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

static int write_full(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

void cutter_run(int a, int b, const struct cut_rule *rule, struct cut_result *res)
{
    uint8_t *buf = malloc(COLO_REC_HDR_SIZE + COLO_REC_MAX_BODY);
    unsigned armed_count = 0, cut_count = 0;
    bool armed = rule->arm_type == 0;
    int fds[2] = { a, b };

    memset(res, 0, sizeof(*res));
    while (buf) {
        struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
        int from = -1;

        if (poll(p, 2, 30000) <= 0)
            break;                  /* 30 s of silence: a test bug, stop */
        from = p[0].revents ? 0 : 1;
        {
            uint8_t *h = buf;
            uint32_t type = 0, len = 0;
            const char *why;
            bool cut_here = false;

            if (read_full(fds[from], h, COLO_REC_HDR_SIZE) < 0 ||
                colo_rec_parse_hdr(h, &type, &len, &why) < 0 ||
                read_full(fds[from], h + COLO_REC_HDR_SIZE, len) < 0)
                break;
            if ((int)rule->dir == from && rule->cut_type) {
                if (armed && type == rule->cut_type && ++cut_count == rule->cut_nth)
                    cut_here = true;
                if (!armed && type == rule->arm_type && ++armed_count == rule->arm_nth)
                    armed = true;
            }
            if (cut_here && !rule->after) {
                res->fired = true;
                break;
            }
            if (write_full(fds[1 - from], h, COLO_REC_HDR_SIZE + (size_t)len) < 0)
                break;
            res->records[from]++;
            if (cut_here) {
                res->fired = true;
                break;
            }
        }
    }
    free(buf);
    shutdown(a, SHUT_RDWR);
    shutdown(b, SHUT_RDWR);
}

int cutter_parse_point(const char *s, uint32_t *type, unsigned *nth)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long n;

    if (!colon)
        return -1;
    n = strtol(colon + 1, &end, 10);
    if (*end || n < 1)
        return -1;
    for (uint32_t t = 1; t < 0x100; t++)
        if (strncmp(colo_rec_name(t), s, (size_t)(colon - s)) == 0 &&
            colo_rec_name(t)[colon - s] == '\0') {
            *type = t;
            *nth = (unsigned)n;
            return 0;
        }
    return -1;
}
