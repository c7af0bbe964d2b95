#!/usr/bin/python3
"""subscriber.py - a control client that subscribes to checkpoints the way
colo-proxy does (tests only).

  subscriber.py SOCKET DELAY_MS|never SECONDS

Connects to a daemon's control socket, sends CHECKPOINT_SUBSCRIBE and
prints "subscribed T", and "acknowledged T" when the daemon echoes it; for
every CHECKPOINT_DONE after that prints "done SEQ T", waits DELAY_MS (the
time a proxy would take to release) and answers with the same record - or
never answers, with "never".  A CHECKPOINT_DONE before the echo is printed
as "early SEQ T" and not answered, as colo-proxy does.  Prints "closed T" when the daemon
closes the connection, and exits after SECONDS in any case.  T is
CLOCK_MONOTONIC in seconds.  Records: type u32, body length u32 (both
little-endian), body (libxl-colo/colo-proto.h).
"""
import socket
import struct
import sys
import time

CHECKPOINT_DONE = 0x0051
CHECKPOINT_SUBSCRIBE = 0x0054


def main():
    path, delay, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    end = time.monotonic() + seconds
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(struct.pack("<II", CHECKPOINT_SUBSCRIBE, 0))
    print("subscribed %.6f" % time.monotonic(), flush=True)
    buf = b""
    acked = False
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            part = s.recv(4096)
        except socket.timeout:
            continue
        if not part:
            print("closed %.6f" % time.monotonic(), flush=True)
            return
        buf += part
        while len(buf) >= 8:
            rtype, length = struct.unpack("<II", buf[:8])
            if len(buf) < 8 + length:
                break
            body, buf = buf[8:8 + length], buf[8 + length:]
            if rtype == CHECKPOINT_SUBSCRIBE and length == 0:
                acked = True
                print("acknowledged %.6f" % time.monotonic(), flush=True)
            if rtype != CHECKPOINT_DONE or length != 8:
                continue
            seq = struct.unpack("<Q", body)[0]
            if not acked:
                print("early %d %.6f" % (seq, time.monotonic()), flush=True)
                continue
            print("done %d %.6f" % (seq, time.monotonic()), flush=True)
            if delay != "never":
                time.sleep(int(delay) / 1000.0)
                s.sendall(struct.pack("<IIQ", CHECKPOINT_DONE, 8, seq))


if __name__ == "__main__":
    main()
