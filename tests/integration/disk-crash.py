#!/usr/bin/python3
"""disk-crash.py - crash consistency of the replicated disk.

  disk-crash.py PLUGIN COLO_REC WORKDIR RUNS SEED

Each run starts a secondary and a primary nbdkit-colo export on a small
image pair, runs a write load - PVM writes through the primary, SVM writes
through the secondary, and checkpoints (DISK_BARRIER then DISK_COMMIT, as
the engines send them) - and at a random moment kills one of the two disk
daemons with SIGKILL.  Then, as shared/colo-semantics.md says:

  primary killed:   the secondary fails over; its disk must equal the PVM's
                    disk at the last committed checkpoint plus exactly the
                    SVM's acknowledged writes since.
  secondary killed: the primary's disk must hold every acknowledged PVM
                    write; and the secondary's image, reopened (journal
                    replay), must equal the PVM's disk at a committed
                    checkpoint - the last one, or the one being committed
                    when it died - never a mixture.

Every write fills its sectors with a pattern unique to (write, sector), so
a torn or stale sector is told apart from a wrong one.  Prints one line per
run and a final "N passed, N failed".
"""
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import nbd

SECTOR = 512
NSECT = 2048                    # a 1 MiB image
IMAGE = NSECT * SECTOR


def wait_socket(path, proc, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                s.close()
                return True
            except OSError:
                pass
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def stop(proc, *handles):
    """Close our NBD connections (nbdkit waits for its clients), then stop."""
    for h in handles:
        try:
            h.shutdown()
        except nbd.Error:
            pass
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Run:
    def __init__(self, plugin, rec, work, rng, n):
        self.plugin, self.rec_bin, self.work, self.rng, self.n = plugin, rec, work, rng, n
        self.a = os.path.join(work, "a.img")
        self.b = os.path.join(work, "b.img")
        self.log = open(os.path.join(work, "run-%d.log" % n), "w")
        init = rng.randbytes(IMAGE)
        for p in (self.a, self.b):
            with open(p, "wb") as f:
                f.write(init)
        for j in (self.b + ".colo-journal.0", self.b + ".colo-journal.1"):
            if os.path.exists(j):
                os.unlink(j)
        self.initial = init
        self.serial = 0

    def spawn(self, role, extra):
        sock = os.path.join(self.work, role + ".sock")
        ctl = os.path.join(self.work, role + ".ctl")
        for p in (sock, ctl):
            if os.path.exists(p):
                os.unlink(p)
        image = self.a if role == "primary" else self.b
        proc = subprocess.Popen(
            ["nbdkit", "-f", "-U", sock, self.plugin, "role=" + role, "image=" + image,
             "control=unix:" + ctl] + extra,
            stdout=self.log, stderr=self.log,
            env=dict(os.environ, LD_PRELOAD=os.environ.get("NBDKIT_PRELOAD", "")))
        if not wait_socket(ctl, proc) or not wait_socket(sock, proc):
            raise RuntimeError(role + " export did not start")
        return proc, sock, ctl

    def rec(self, ctl, *args):
        r = subprocess.run([self.rec_bin, "unix:" + ctl] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=20)
        return r.returncode, r.stdout.strip()

    def pattern(self, sector):
        """Unique contents for (this write, this sector)."""
        self.serial += 1
        head = b"%08d:%08d:" % (self.serial, sector)
        return head + bytes([self.serial % 251]) * (SECTOR - len(head))

    def write(self, h, first, count):
        data = b"".join(self.pattern(first + i) for i in range(count))
        h.pwrite(data, first * SECTOR)
        return data


def apply(img, writes):
    for first, data in writes:
        img[first * SECTOR:first * SECTOR + len(data)] = data


def sectors_differ(got, want):
    return [s for s in range(NSECT) if got[s * SECTOR:(s + 1) * SECTOR] != want[s * SECTOR:(s + 1) * SECTOR]]


def one_run(plugin, rec, work, rng, n):
    r = Run(plugin, rec, work, rng, n)
    port = free_port()
    sec, ssock, sctl = r.spawn("secondary", ["listen=127.0.0.1:%d" % port, "spill-dir=" + work,
                                            "mem-limit=16K"])
    pri, psock, pctl = r.spawn("primary", ["peer=127.0.0.1:%d" % port])
    victim = rng.choice(["primary", "secondary"])
    delay = rng.uniform(0.02, 0.4)
    killer = threading.Timer(delay, lambda: (pri if victim == "primary" else sec).send_signal(signal.SIGKILL))

    pvm = nbd.NBD(); pvm.connect_unix(psock)
    svm = nbd.NBD(); svm.connect_unix(ssock)
    epoch_writes = {0: []}        # acknowledged PVM writes, by epoch
    committed = -1                # last committed epoch
    committing = None             # epoch whose commit was in flight at the crash
    svm_since = []                # acknowledged SVM writes since the last commit
    epoch = 0
    killer.start()
    try:
        while True:
            op = rng.random()
            if op < 0.6:
                first = rng.randrange(NSECT - 8)
                data = r.write(pvm, first, rng.randint(1, 8))
                epoch_writes[epoch].append((first, data))
            elif op < 0.95:
                first = rng.randrange(NSECT - 8)
                data = r.write(svm, first, rng.randint(1, 8))
                svm_since.append((first, data))
            else:
                rc, out = r.rec(pctl, "DISK_BARRIER", epoch)
                if rc != 0:
                    raise RuntimeError("barrier: " + out)
                writes = int(out.split()[2])
                if writes != len(epoch_writes[epoch]):
                    r.log.write("barrier counted %d writes, %d acknowledged\n" % (writes, len(epoch_writes[epoch])))
                    return False, victim + " to be killed: barrier miscounted the epoch's writes"
                committing = epoch
                rc, out = r.rec(sctl, "DISK_COMMIT", epoch, writes)
                if rc != 0:
                    raise RuntimeError("commit: " + out)
                committed, committing = epoch, None
                svm_since = []
                epoch += 1
                epoch_writes[epoch] = []
    except (nbd.Error, RuntimeError, subprocess.TimeoutExpired) as e:
        r.log.write("load stopped: %s\n" % e)
    killer.join()
    (pri if victim == "primary" else sec).wait()

    if victim == "primary":
        # The secondary fails over.
        rc, out = r.rec(sctl, "FAILOVER")
        if rc != 0:
            return False, "primary killed: failover refused: " + out
        want = bytearray(r.initial)
        for e in range(committed + 1):
            apply(want, epoch_writes[e])
        apply(want, svm_since)
        got = svm.pread(IMAGE, 0)
        bad = sectors_differ(got, want)
        stop(sec, svm)
        if bad:
            return False, "primary killed: after failover %d sectors differ (first %d), committed epoch %d" % (
                len(bad), bad[0], committed)
        return True, "primary killed after %.0f ms, epoch %d committed, %d SVM writes kept" % (
            delay * 1000, committed, len(svm_since))

    # The secondary died: the primary holds every acknowledged write ...
    want = bytearray(r.initial)
    for e in sorted(epoch_writes):
        apply(want, epoch_writes[e])
    got = pvm.pread(IMAGE, 0)
    stop(pri, pvm)
    bad = sectors_differ(got, want)
    if bad:
        return False, "secondary killed: the primary lost %d acknowledged sectors" % len(bad)
    # ... and the secondary's image, reopened, is the PVM's disk at a committed checkpoint.
    sec2, _, _ = r.spawn("secondary", ["listen=127.0.0.1:%d" % free_port()])
    stop(sec2)
    with open(r.b, "rb") as f:
        base = f.read()
    candidates = [committed] + ([committing] if committing is not None else [])
    for c in candidates:
        w = bytearray(r.initial)
        for e in range(c + 1):
            apply(w, epoch_writes[e])
        if base == bytes(w):
            return True, "secondary killed after %.0f ms, its image is the checkpoint of epoch %d" % (delay * 1000, c)
    w = bytearray(r.initial)
    for e in range(committed + 1):
        apply(w, epoch_writes[e])
    bad = sectors_differ(base, w)
    return False, "secondary killed: its image matches no committed checkpoint (%d sectors off epoch %d)" % (
        len(bad), committed)


def main():
    plugin, rec, work, runs, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    rng = random.Random(seed)
    passed = failed = 0
    kinds = {"primary": 0, "secondary": 0}
    for n in range(runs):
        try:
            ok, msg = one_run(plugin, rec, work, rng, n)
        except Exception as e:          # infrastructure trouble counts as a failure, said plainly
            ok, msg = False, "aborted: %r" % (e,)
        kinds["primary" if msg.startswith("primary") else "secondary"] += 1
        print("%s: crash run %d (seed %d): %s" % ("PASS" if ok else "FAIL", n, seed, msg), flush=True)
        passed += ok
        failed += not ok
    print("crash runs: %d primary kills, %d secondary kills" % (kinds["primary"], kinds["secondary"]))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
