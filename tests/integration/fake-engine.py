#!/usr/bin/python3
"""fake-engine.py - the primary engine's control socket, as colo-proxy sees it
(tests only).

  fake-engine.py SOCKET DELAY_MS [early]

Listens on the unix socket SOCKET; for every CHECKPOINT_REQUEST a client
sends, prints "request CAUSE T", waits DELAY_MS - the checkpoint in
progress, during which the proxy must keep holding what it holds - then
prints "done T" and sends CHECKPOINT_DONE.  A client that subscribed
(CHECKPOINT_SUBSCRIBE: it answers each CHECKPOINT_DONE once it has released
what the checkpoint covers) is echoed, as the engine does, and printed as
"subscribed T"; each answer as
"answer SEQ T".  T is CLOCK_MONOTONIC in seconds, so the test can order
these against the client's own times.  With "early" a CHECKPOINT_DONE 0
goes out between a subscription and its echo: one the engine sent before
the subscription took, which the proxy must neither act on nor answer.
Records are the project's framing (libxl-colo/colo-proto.h): type u32 and
body length u32, little-endian, then the body.
"""
import os
import socket
import struct
import sys
import time

CHECKPOINT_REQUEST = 0x0050
CHECKPOINT_DONE = 0x0051
CHECKPOINT_SUBSCRIBE = 0x0054
CAUSES = ["periodic", "divergence", "svm-lag", "queue-full", "request", "initial"]


def read_exact(c, n):
    b = b""
    while len(b) < n:
        part = c.recv(n - len(b))
        if not part:
            return None
        b += part
    return b


def main():
    path, delay = sys.argv[1], int(sys.argv[2]) / 1000.0
    early = len(sys.argv) > 3 and sys.argv[3] == "early"
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    seq = 0
    while True:
        c, _ = s.accept()
        while True:
            hdr = read_exact(c, 8)
            if hdr is None:
                break
            rtype, length = struct.unpack("<II", hdr)
            body = read_exact(c, length)
            if body is None:
                break
            if rtype == CHECKPOINT_SUBSCRIBE and length == 0:
                print("subscribed %.6f" % time.monotonic(), flush=True)
                if early:
                    c.sendall(struct.pack("<IIQ", CHECKPOINT_DONE, 8, 0))
                c.sendall(struct.pack("<II", CHECKPOINT_SUBSCRIBE, 0))  # the echo: taken
                continue
            if rtype == CHECKPOINT_DONE and length == 8:
                print("answer %d %.6f" % (struct.unpack("<Q", body)[0], time.monotonic()),
                      flush=True)
                continue
            if rtype != CHECKPOINT_REQUEST or length != 4:
                print("unexpected record 0x%04x" % rtype, flush=True)
                continue
            cause = struct.unpack("<I", body)[0]
            name = CAUSES[cause] if cause < len(CAUSES) else str(cause)
            print("request %s %.6f" % (name, time.monotonic()), flush=True)
            time.sleep(delay)
            seq += 1
            print("done %.6f" % time.monotonic(), flush=True)
            c.sendall(struct.pack("<IIQ", CHECKPOINT_DONE, 8, seq))
        c.close()


if __name__ == "__main__":
    main()
