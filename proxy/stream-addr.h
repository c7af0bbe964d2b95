/*
 * stream-addr.h - where a stream port listens or connects, written the way
 * QEMU writes its socket chardevs, so a colo-compare command line carries
 * over:
 *
 *   unix:PATH[,OPTIONS]
 *   tcp:HOST:PORT[,OPTIONS]          HOST: a name, an IPv4 address, [IPV6],
 *                                    or empty to listen on every address
 *   socket,path=PATH[,OPTIONS]       QEMU's -chardev form (id=... is ignored)
 *   socket,host=HOST,port=PORT[,OPTIONS]
 *
 * OPTIONS, comma-separated:
 *   server[=on|off]     listen for one peer at a time (default: connect)
 *   wait=on|off         accepted for QEMU's sake; colo-proxy never blocks
 *                       waiting for a peer at startup
 *   reconnect=SECONDS   a client's retry interval after a failed or lost
 *                       connection (default 1; 0 means the default: the
 *                       proxy cannot work without its streams, so it always
 *                       retries)
 *   nodelay[=on|off]    accepted; TCP streams are always sent without delay
 */
#ifndef COLO_STREAM_ADDR_H
#define COLO_STREAM_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct stream_addr {
    struct sockaddr_storage sa;
    socklen_t salen;
    bool server;
    unsigned reconnect_ms;
    char text[128];         /* for messages: "unix:/run/x.sock" or "10.0.0.1:9003" */
};

/* 0, or -1 with err naming what is wrong with spec. */
int stream_addr_parse(const char *spec, struct stream_addr *a, char *err, size_t errlen);

#endif
