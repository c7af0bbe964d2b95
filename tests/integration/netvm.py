#!/usr/bin/python3
"""netvm.py - the "VM" services and the client for the proxy tests.

  netvm.py serve PORT [diverge-word]   a request/response server: each line
                                       "REQ n text" gets "RESP n <text*8>";
                                       with a word, requests containing it
                                       get a different answer (a divergent SVM)
  netvm.py client HOST PORT CONNS REQS [TIMEOUT]
                                       CONNS connections, REQS requests each;
                                       prints "ok N" or the first failure
  netvm.py ask HOST PORT TEXT TIMEOUT  one request; prints the answer or "timeout"
"""
import socket
import sys
import threading


def serve(port, word):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(128)

    def handle(c):
        f = c.makefile("rwb")
        for line in f:
            parts = line.decode().rstrip("\n").split(" ", 2)
            if len(parts) < 3:
                break
            text = parts[2]
            body = (text + " ") * 8
            if word and word in text:
                body = "DIVERGED " + body
            f.write(("RESP %s %s\n" % (parts[1], body)).encode())
            f.flush()
        c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def client(host, port, conns, reqs, timeout):
    done = 0
    for ci in range(conns):
        c = socket.create_connection((host, port), timeout=timeout)
        f = c.makefile("rwb")
        for ri in range(reqs):
            text = "conn%d-req%d-%s" % (ci, ri, "x" * (ri * 37 % 900))
            f.write(("REQ %d %s\n" % (ri, text)).encode())
            f.flush()
            got = f.readline().decode().rstrip("\n")
            want = "RESP %d %s" % (ri, (text + " ") * 8)
            if got != want:
                print("bad answer on conn %d request %d: %r" % (ci, ri, got[:80]))
                return 1
            done += 1
        c.close()
    print("ok %d" % done)
    return 0


def ask(host, port, text, timeout):
    c = socket.create_connection((host, port), timeout=timeout)
    c.sendall(("REQ 0 %s\n" % text).encode())
    try:
        print(c.makefile("rb").readline().decode().rstrip("\n")[:60] or "closed")
    except socket.timeout:
        print("timeout")
    return 0


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "serve":
        serve(int(a[2]), a[3] if len(a) > 3 else None)
    elif a[1] == "client":
        sys.exit(client(a[2], int(a[3]), int(a[4]), int(a[5]), float(a[6]) if len(a) > 6 else 10))
    else:
        sys.exit(ask(a[2], int(a[3]), a[4], float(a[5])))
