#!/usr/bin/python3
"""nbd-check.py - NBD-level checks for the replicated disk tests (libnbd).

  nbd-check.py equal SOCKET IMAGE OFFSET LENGTH   export bytes == file bytes?
  nbd-check.py bad SOCKET                         malformed requests get errors

Run with Debian's /usr/bin/python3 (python3-libnbd).
"""
import sys
import nbd


def connect(sock):
    h = nbd.NBD()
    h.connect_unix(sock)
    return h


def equal(sock, image, off, length):
    h = connect(sock)
    got = h.pread(length, off)
    with open(image, "rb") as f:
        f.seek(off)
        want = f.read(length)
    if got != want:
        first = next(i for i in range(length) if got[i] != want[i])
        print(f"differ at {off + first}: export {got[first]:#x}, file {want[first]:#x}")
        return 1
    return 0


def bad(sock):
    h = connect(sock)
    h.set_strict_mode(0)          # let libnbd send what a broken client would
    size = h.get_size()
    cases = [
        ("misaligned write", lambda: h.pwrite(b"x" * 511, 1)),
        ("misaligned read", lambda: h.pread(512, 100)),
        ("read past the end", lambda: h.pread(4096, size)),
        ("write past the end", lambda: h.pwrite(b"x" * 4096, size - 512)),
        ("oversized read", lambda: h.pread(64 << 20, 0)),
    ]
    failures = 0
    for name, f in cases:
        try:
            f()
            print(f"FAIL: {name} was accepted")
            failures += 1
        except nbd.Error as e:
            print(f"ok: {name} -> {nbd.Error.__name__} errno={e.errno}")
    # and the server still serves
    h.pread(512, 0)
    return failures


if __name__ == "__main__":
    if sys.argv[1] == "equal":
        sys.exit(equal(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
    sys.exit(bad(sys.argv[2]))
