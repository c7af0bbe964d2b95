# xl-colo: the operator's front end, end to end with sim domains.
#
# Everything not COLO goes to xl unchanged (a fake xl records its argv);
# `remus --colo` starts the receiving side through a -s "" command exactly
# as it would through ssh, replicates to a few checkpoints, answers
# colo-status on both sides, and ends by failover (the primary engine is
# killed) or by a clean stop (SIGTERM to xl-colo: the secondary stands
# down).  Every bad use must fail with a clear message, a non-zero exit,
# and no engine process, control socket or received config left behind.
. "$(dirname "$0")/lib.sh"
X=$COLO_BUILDDIR/tools/xl-colo
export XL_COLO_BACKEND=sim XL_COLO_SIM_DOMAINS="vm1 pv1:pv pvh1:pvh other" \
    XL_COLO_LOGDIR=$WORK/log XL_COLO_ENGINE=$ENGINE XL_COLO_SIM_OPTS=rate=20000 \
    XL_COLO_RUNDIR=$WORK/pri
mkdir -p "$WORK/log"
RECV="XL_COLO_RUNDIR=$WORK/sec $X migrate-receive --colo --listen 127.0.0.1:0"

# Our engines are the colo-engine processes whose command line names $WORK.
engines() { pgrep -f "colo-engine .*$WORK/" | tr '\n' ' '; }
nothing_left() {    # nothing_left NAME: no engine, socket or received config remains
    local left
    left="$(engines)$(find "$WORK/pri" "$WORK/pri2" "$WORK/sec" -mindepth 1 2>/dev/null | tr '\n' ' ')"
    check "$1: nothing left behind${left:+ (left: $left)}" test -z "$left"
}
# refused NAME EXPECTED-EXIT MESSAGE -- COMMAND...: fails as told and says so
refused() {
    local name=$1 want=$2 msg=$3; shift 4
    "$@" > "$WORK/out" 2> "$WORK/err" < /dev/null; local rc=$?
    cat "$WORK/err" >> "$WORK/all-refused.err"      # for the sanitizer check at the end
    if [ "$rc" -eq "$want" ] && grep -qF -- "$msg" "$WORK/err"; then pass "$name"
    else fail "$name" "exit $rc, wanted $want and '$msg'; got: $(tail -c 300 "$WORK/err" | tr '\n' ' ')"; fi
}
wait_listen() {     # wait_listen PORT: until something listens on 127.0.0.1:PORT (10 s)
    for _ in $(seq 1 100); do
        ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
cfg() {     # cfg FILE NAME DISK VIF: an xl.cfg
    printf 'name = "%s"\ntype = "hvm"\nmemory = 24\nvcpus = 1\n' "$2" > "$1"
    [ -n "$3" ] && printf "disk = [ '%s' ]\n" "$3" >> "$1"
    [ -n "$4" ] && printf "vif = [ '%s' ]\n" "$4" >> "$1"
}
DISK="format=raw, vdev=hda, access=rw, colo, colo-host=127.0.0.1, colo-port=9000, colo-export=vm1d, active-disk=/var/lib/xen/vm1-active.qcow2, hidden-disk=/var/lib/xen/vm1-hidden.qcow2, target=/var/lib/xen/vm1.img"
VIF="mac=00:16:3e:00:00:01, bridge=xenbr0, model=e1000, forwarddev=eth1"
# The sim domains have no network: the vifs' wiring (xlcolo-net.c) has a
# test of its own on Open vSwitch, tests/integration/xl-colo-net.sh.
cfg "$WORK/vm1.cfg" vm1 "$DISK" ""

# --- 1. everything else goes to xl, argv exactly as given ---
cat > "$WORK/fake-xl" <<EOF
#!/bin/sh
for a in "\$@"; do printf '[%s]' "\$a"; done > "$WORK/xl-argv"
exit 7
EOF
chmod +x "$WORK/fake-xl"
passthrough() {     # passthrough NAME EXPECTED-ARGV ARGS...
    local name=$1 want=$2; shift 2
    rm -f "$WORK/xl-argv"
    XL=$WORK/fake-xl "$X" "$@" > /dev/null 2>&1; local rc=$?
    local got; got=$(cat "$WORK/xl-argv" 2>/dev/null)
    check "pass-through: $name (xl got $got, exit $rc)" test "$got" = "$want" -a "$rc" -eq 7
}
passthrough "a plain subcommand" "[list][-l][vm1]" list -l vm1
passthrough "arguments with spaces and quotes" "[create][/etc/xen/my vm.cfg][a='b c']" \
    create "/etc/xen/my vm.cfg" "a='b c'"
passthrough "xl's global options" "[-v][-t][destroy][vm1]" -v -t destroy vm1
passthrough "remus without -c is xl's Remus" "[remus][-i][100][-b][-F][vm1][host2]" \
    remus -i 100 -b -F vm1 host2
passthrough "migrate-receive without --colo" "[migrate-receive][-r][-e]" migrate-receive -r -e
passthrough "global options before remus without -c" "[-v][remus][vm1][h]" -v remus vm1 h
refused "pass-through: a missing xl is named" 127 "cannot run '$WORK/no-xl'" -- \
    env XL="$WORK/no-xl" "$X" list

# --- 2. remus --colo, end to end, then failover ---
timeout 90 "$X" remus --colo -i 100 --io-timeout 5000 --peer-timeout 3000 -C "$WORK/vm1.cfg" \
    -s '' vm1 "$RECV --io-timeout 5000 --peer-timeout 3000" > "$WORK/r1.out" 2> "$WORK/r1.err" &
r1=$!; PIDS+=($r1)
if wait_for "$WORK/r1.err" "is protected by COLO" 40; then pass "remus --colo: vm1 protected"
else fail "remus --colo: vm1 protected" "$(tail -5 "$WORK/r1.err" | tr '\n' ' ')"; fi
check "the receiving side handed its engine over as a daemon and ended" \
    wait_for "$WORK/r1.err" "runs on as a daemon" 5
check "the received xl.cfg is gone once the SVM is built" test ! -e "$WORK/sec/vm1.cfg"
check "the timeouts reach both engines" \
    test -n "$(pgrep -f "colo-engine primary .*--io-timeout 5000 --peer-timeout 3000")" \
         -a -n "$(pgrep -f "colo-engine secondary .*--io-timeout 5000 --peer-timeout 3000")"
for _ in $(seq 1 100); do
    "$X" colo-status --json vm1 > "$WORK/p.json" 2>/dev/null
    [ "$(json_num "$WORK/p.json" checkpoints)" -ge 6 ] 2>/dev/null && break
    sleep 0.2
done
check "colo-status --json (primary): running, 6+ checkpoints" \
    grep -q '"role":"primary","state":"running"' "$WORK/p.json"
n=$(json_num "$WORK/p.json" checkpoints)
check "colo-status --json (primary): checkpoints by cause add up ($n)" \
    test "${n:-0}" -ge 6 -a "$(json_num "$WORK/p.json" periodic)" -eq $((n - 1)) \
         -a "$(json_num "$WORK/p.json" initial)" -eq 1
"$X" colo-status vm1 > "$WORK/p.txt" 2>&1
check "colo-status (primary, human): state, checkpoints by cause, pause times" \
    grep -q "domain vm1: primary, running" "$WORK/p.txt"
check "colo-status (human) lists the triggers and pauses" \
    test -n "$(grep -E '^  checkpoints +[0-9]+ \(periodic [0-9]+, .*initial 1\)' "$WORK/p.txt")" \
         -a -n "$(grep -E '^  pause ms +last [0-9.]+  median [0-9.]+  max [0-9.]+' "$WORK/p.txt")"
XL_COLO_RUNDIR=$WORK/sec "$X" colo-status --json vm1 > "$WORK/s.json" 2>&1
check "colo-status --json (secondary): running" grep -q '"role":"secondary","state":"running"' "$WORK/s.json"
refused "a protected domain cannot be protected twice" 1 "domain 'vm1' is already protected" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 "$RECV"
refused "--save is for the xen backend" 1 "--save chooses how the xen backend reads the PVM; the sim backend" -- \
    env XL_COLO_RUNDIR="$WORK/pri2" "$X" remus -c --save libxenguest -C "$WORK/vm1.cfg" -s '' vm1 "$RECV"
refused "--restore is for the xen backend (sending side)" 1 \
    "--restore chooses how the xen backend applies checkpoints; the sim backend" -- \
    env XL_COLO_RUNDIR="$WORK/pri2" "$X" remus -c --restore libxenguest -C "$WORK/vm1.cfg" -s '' vm1 "$RECV"
refused "--restore is for the xen backend (receiving side)" 1 \
    "--restore chooses how the xen backend applies checkpoints; the sim backend" -- \
    env XL_COLO_RUNDIR="$WORK/pri2" "$X" migrate-receive --colo --restore libxenguest
refused "a receiving host refuses a second replication of the same domain" 1 \
    "domain 'vm1' is already replicated to this host" -- \
    env XL_COLO_RUNDIR="$WORK/pri2" "$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 "$RECV"
check "... and the protection goes on" grep -q '"state":"running"' \
    <<<"$("$X" colo-status --json vm1 2>&1)"
# The primary host dies: its engine is killed.
pe=$(pgrep -o -f "colo-engine primary .*$WORK/pri/vm1.ctl")
kill -9 "$pe"
for _ in $(seq 1 50); do
    XL_COLO_RUNDIR=$WORK/sec "$X" colo-status --json vm1 > "$WORK/s.json" 2>&1
    grep -q '"state":"active"' "$WORK/s.json" && break
    sleep 0.2
done
check "failover: the secondary runs the domain (state active)" grep -q '"state":"active"' "$WORK/s.json"
wait $r1; rc=$?
check "xl-colo remus reports the lost protection (exit $rc)" \
    test "$rc" -eq 1 -a -n "$(grep 'vm1 is no longer protected' "$WORK/r1.err")"
check "the dead primary's control socket is cleaned up" test ! -e "$WORK/pri/vm1.ctl"
se=$(pgrep -o -f "colo-engine secondary .*$WORK/sec/vm1.ctl")
kill "$se" 2>/dev/null
for _ in $(seq 1 50); do [ -z "$(engines)" ] && break; sleep 0.1; done
nothing_left "after failover and the secondary's stop"

# --- 3. a clean stop: SIGTERM to xl-colo; the receiver stays in the foreground (-e) ---
# (--foreground: the SIGTERM below must reach xl-colo alone, not timeout's
# whole process group, which holds the receiving side too.)
timeout --foreground 90 "$X" remus -c -e -i 100 -C "$WORK/vm1.cfg" -s '' vm1 "${RECV/--colo/--colo -e}" \
    > "$WORK/r2.out" 2> "$WORK/r2.err" &
r2=$!; PIDS+=($r2)
wait_for "$WORK/r2.err" "is protected by COLO" 40
check "remus -e: the receiving side stays in the foreground" \
    test -n "$(pgrep -f "xl-colo migrate-receive --colo -e")" -a -z "$(grep 'as a daemon' "$WORK/r2.err")"
sleep 0.5
kill -TERM $r2; wait $r2; rc=$?
check "stop: xl-colo exits 0 after SIGTERM" test "$rc" -eq 0
check "stop: the primary told the secondary to stand down" \
    grep -q "the primary reports error [0-9]*: the primary was stopped by the operator" \
    "$WORK/log/colo-vm1-secondary.log"
check "stop: the secondary did not take over" \
    test -n "$(grep 'stopping without taking over' "$WORK/log/colo-vm1-secondary.log")" \
         -a -z "$(sed -n '/stopped by the operator/,$p' "$WORK/log/colo-vm1-secondary.log" | grep FAILOVER)"
for _ in $(seq 1 50); do [ -z "$(engines)$(pgrep -f 'xl-colo migrate-receive --colo -e')" ] && break; sleep 0.1; done
check "stop: the foreground receiving side ended with its engine" \
    test -z "$(pgrep -f 'xl-colo migrate-receive --colo -e')"
nothing_left "after a clean stop"

# --- 4. bad use ---
refused "unknown domain" 1 "no domain 'nosuch'" -- "$X" remus -c -C "$WORK/vm1.cfg" -s '' nosuch "$RECV"
refused "a PV guest is refused" 1 "domain 'pv1' (id 2) is a PV guest: COLO needs an HVM guest" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' pv1 "$RECV"
refused "a PVH guest is refused" 1 "is a PVH guest: COLO needs an HVM guest" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' pvh1 "$RECV"
refused "the receiving command fails (host unreachable)" 1 "the receiving command exited with status 3" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 'echo "ssh: connect to host 10.255.0.1: No route to host" >&2; exit 3'
check "... and says it ended before its banner" grep -q "the receiving side ended before its banner" "$WORK/err"
if command -v ssh > /dev/null; then
    refused "ssh to a host that does not exist" 1 "exited with status 255" -- \
        "$X" remus -c -C "$WORK/vm1.cfg" -s 'ssh -o BatchMode=yes -o ConnectTimeout=3' vm1 nosuchhost.invalid
    check "... with ssh's own words" grep -q "nosuchhost.invalid" "$WORK/err"
else
    echo "xl-colo.sh: no ssh client here, the ssh case is not run"
fi
# A receiving side that answers, but whose engine the primary cannot reach.
free_port closed
cat > "$WORK/fake-recv" <<'EOF'
#!/bin/bash
# fake-recv LOG ADDR: the receiving side's part of the exchange; logs what it hears
echo "xl-colo-receiver 1"
read -r hdr; echo "$hdr" > "$1"
head -c "${hdr##* }" > /dev/null
echo "ready $2"
read -r next; echo "$next" >> "$1"
EOF
refused "the secondary's address is unreachable" 1 "vm1 is not protected: the primary engine failed" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 "bash $WORK/fake-recv $WORK/fake.log 127.0.0.1:$closed"
check "... the engine's own error is shown" grep -q "cannot connect to '127.0.0.1:$closed'" "$WORK/err"
check "... the receiving side heard the config, then an abort" \
    test "$(head -1 "$WORK/fake.log")" = "config vm1 $(wc -c < "$WORK/vm1.cfg")" \
         -a "$(sed -n 2p "$WORK/fake.log")" = "abort the primary engine failed"
# The secondary engine cannot listen where it is told (the port is taken).
free_port busy
timeout 30 python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$busy)); s.listen(); time.sleep(25)" &
holder=$!; PIDS+=($holder)
wait_listen $busy
refused "the secondary engine cannot listen" 1 "the receiving side refused: the secondary engine for vm1 did not start listening on 127.0.0.1:$busy" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 "XL_COLO_RUNDIR=$WORK/sec $X migrate-receive --colo --listen 127.0.0.1:$busy"
kill $holder 2>/dev/null
refused "a wildcard address with -s \"\" cannot be resolved" 1 "give the command --listen ADDR:PORT" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 "XL_COLO_RUNDIR=$WORK/sec $X migrate-receive --colo"
refused "xl-colo must be what answers on the other side" 1 "is xl-colo (not xl) installed there?" -- \
    "$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 "echo 'migration receiver ready'; cat > /dev/null"
# Interrupted while the primary waits for its secondary (which never speaks).
free_port silent
timeout 30 python3 -c "
import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1',$silent)); s.listen(); c,_=s.accept(); time.sleep(20)" &
holder=$!; PIDS+=($holder)
wait_listen $silent
"$X" remus -c -C "$WORK/vm1.cfg" -s '' vm1 "bash $WORK/fake-recv $WORK/fake2.log 127.0.0.1:$silent" \
    > "$WORK/int.out" 2> "$WORK/int.err" &
ri=$!
wait_for "$WORK/int.err" "starting the primary engine" 10; sleep 0.5
kill -INT $ri; wait $ri; rc=$?
check "interrupted before protection: exit 1, and says so" \
    test "$rc" -eq 1 -a -n "$(grep 'vm1 is not protected: interrupted by the operator' "$WORK/int.err")"
check "... the receiving side was told to abort" \
    test "$(sed -n 2p "$WORK/fake2.log")" = "abort interrupted by the operator"
kill $holder 2>/dev/null

# The domain's xl.cfg: missing, contradictory, about another domain.
refused "no xl.cfg for the domain" 1 "domain 'vm1': no xl.cfg found (tried /etc/xen/vm1.cfg and /etc/xen/vm1); name it with -C FILE" -- \
    "$X" remus -c -s '' vm1 "touch $WORK/started"
# bad_cfg NAME FILE MESSAGE: remus -c with this xl.cfg is refused, saying MESSAGE
bad_cfg() { refused "$1" 1 "$3" -- "$X" remus -c -C "$2" -s '' vm1 "touch $WORK/started"; }
cfg "$WORK/nokey.cfg" vm1 "${DISK/colo-export=vm1d, /}" "$VIF"
bad_cfg "a COLO disk without colo-export" "$WORK/nokey.cfg" \
    "domain 'vm1': disk 0 (hda) has 'colo' but no 'colo-export='"
cfg "$WORK/badport.cfg" vm1 "${DISK/colo-port=9000/colo-port=9x}" "$VIF"
bad_cfg "a malformed colo-port" "$WORK/badport.cfg" \
    "domain 'vm1': disk 0: 'colo-port=9x' is not a port number"
cfg "$WORK/contra.cfg" vm1 "format=raw, vdev=hda, colo-host=127.0.0.1, target=/var/lib/xen/vm1.img" "$VIF"
bad_cfg "COLO keys on a disk without 'colo'" "$WORK/contra.cfg" \
    "domain 'vm1': disk 0 (hda) sets 'colo-host=' but is not a COLO disk"
cfg "$WORK/nofwd.cfg" vm1 "$DISK" "mac=00:16:3e:00:00:01, bridge=xenbr0"
bad_cfg "a vif without forwarddev" "$WORK/nofwd.cfg" "domain 'vm1': vif 0 has no 'forwarddev='"
cfg "$WORK/vif.cfg" vm1 "$DISK" "$VIF"
refused "a vif, and a COLO proxy script (-N) that cannot run" 1 \
    "domain 'vm1' has 1 vif(s), and the COLO proxy script /nonexistent/colo-ovs-setup cannot be run (No such file or directory): name one with -N SCRIPT" -- \
    "$X" remus -c -N /nonexistent/colo-ovs-setup -C "$WORK/vif.cfg" -s '' vm1 "touch $WORK/started"
cfg "$WORK/other.cfg" other "$DISK" "$VIF"
bad_cfg "an xl.cfg of another domain" "$WORK/other.cfg" \
    "domain 'vm1': $WORK/other.cfg describes domain 'other' (key 'name')"
printf 'name = "vm1"\ntype = "pv"\nmemory = 24\n' > "$WORK/pv.cfg"
bad_cfg "an xl.cfg of a PV guest" "$WORK/pv.cfg" \
    "COLO needs an HVM guest, and $WORK/pv.cfg describes a pv guest (key 'type')"
check "a bad config never starts the receiving side" test ! -e "$WORK/started"
# The receiving side checks what arrives on its pipe for itself.
bad="name = \"vm1\"
type = \"hvm\"
memory = 24
disk = [ 'format=raw, vdev=hda, colo, colo-host=h, colo-port=1, target=/t' ]"
printf 'config vm1 %s\n%s' "${#bad}" "$bad" | XL_COLO_RUNDIR=$WORK/sec "$X" migrate-receive --colo \
    > "$WORK/recv.out" 2> "$WORK/recv.err"; rc=$?
check "migrate-receive refuses a config with a key missing, and tells the sender" \
    test "$rc" -eq 1 -a "$(sed -n 1p "$WORK/recv.out")" = "xl-colo-receiver 1" \
         -a -n "$(sed -n "2{/^error domain 'vm1': disk 0 (hda) has 'colo' but no 'colo-export='/p}" "$WORK/recv.out")"
printf 'config ../../etc/passwd 5\nxxxxx' | XL_COLO_RUNDIR=$WORK/sec "$X" migrate-receive --colo \
    > "$WORK/recv.out" 2> "$WORK/recv.err"; rc=$?
check "migrate-receive refuses a domain name that would escape its directory" \
    test "$rc" -eq 1 -a -n "$(grep "^error bad request from the sending side: domain name '../../etc/passwd' may not start with '.'" "$WORK/recv.out")"
printf 'config vm1 500\nshort' | XL_COLO_RUNDIR=$WORK/sec timeout 10 "$X" migrate-receive --colo \
    > "$WORK/recv.out" 2> "$WORK/recv.err"; rc=$?
check "migrate-receive gives up on a config cut short" \
    test "$rc" -eq 1 -a -n "$(grep "did not arrive whole (500 bytes announced)" "$WORK/recv.err")"

# Options that make no sense together, refused before anything starts (exit 2).
refused "-c with -b" 2 "-c conflicts with -b" -- "$X" remus -c -b vm1 host2
refused "-c with -n and -d" 2 "-c conflicts with -n, -d" -- "$X" remus -c -n -d vm1 host2
refused "-i that is not a number" 2 "-i 'often' is not a number of milliseconds" -- "$X" remus -c -i often vm1 host2
refused "a HOST missing" 2 "a DOMAIN and a HOST are needed" -- "$X" remus --colo vm1
refused "migrate-receive --colo with -r" 2 "--colo and -r (Remus)" -- "$X" migrate-receive --colo -r
refused "xl's dry run with COLO" 2 "-N (dry run) is not available for COLO" -- "$X" -N remus -c vm1 host2
refused "colo-status of an unprotected domain" 1 "domain 'vm1' is not protected by COLO on this host" -- \
    "$X" colo-status vm1
refused "colo-status of a name that is not one" 2 "domain name 'a/b'" -- "$X" colo-status a/b
# Without XL_COLO_BACKEND the xen backend is used, and this machine has no Xen.
if [ ! -e /proc/xen/privcmd ] && [ ! -e /dev/xen/privcmd ]; then
    refused "the xen backend without a hypervisor" 1 "cannot talk to Xen (no libxl context)" -- \
        env -u XL_COLO_BACKEND "$X" remus -c -C "$WORK/vm1.cfg" vm1 host2
fi
nothing_left "after every bad use"
# The manual formats without a warning.
if command -v groff > /dev/null; then
    groff -man -Tutf8 -ww -z "${COLO_SRCDIR:-$(dirname "$0")/../..}/docs/xl-colo.1" > "$WORK/groff.err" 2>&1; rc=$?
    check "docs/xl-colo.1 formats cleanly (groff -man -ww)" test "$rc" -eq 0 -a ! -s "$WORK/groff.err"
else
    echo "xl-colo.sh: no groff here, the man page is not checked"
fi
check "no crash or sanitizer report (leaks included) from xl-colo or an engine" \
    test -z "$(grep -l -E 'ERROR: [A-Za-z]*Sanitizer|runtime error|Segmentation' "$WORK"/*.err "$WORK"/log/*.log 2>/dev/null)"
