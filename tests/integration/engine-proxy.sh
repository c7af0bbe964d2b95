# The engines drive the proxies: sim-backend engines, colo-proxy primary
# (comparator) and colo-proxy secondary (rewriter) on veths in namespaces.
#   client C -- X: colo-proxy primary -- PVM P
#                  `-- forward link -- Y: colo-proxy secondary -- SVM S
# 1. a checkpoint reaches both proxies: the primary releases what it held,
#    the rewriter counts it (offsets reset) - the secondary engine's broadcast;
# 2. the secondary is killed: the primary engine tells its proxy FAILOVER,
#    which passes the PVM's output through, and a client is answered;
# 3. the primary is killed: the secondary engine fails over and tells the
#    rewriter, which says it has failed over.
. "$(dirname "$0")/lib.sh"
PROXY=$COLO_BUILDDIR/proxy/colo-proxy
# As proxy.sh: a proxy slowed down by the sanitizers loses frames in the
# kernel and these timing-bound checks get flaky; the engines' side runs
# under the sanitizers in failover.sh and control.sh.
skip_with_sanitizers "$PROXY" "see the comment"
VM="/usr/bin/python3 $COLO_SRCDIR/tests/integration/netvm.py"
id=$$
C=colo-ec$id P=colo-ep$id S=colo-es$id X=colo-ex$id Y=colo-ey$id
netns_setup $C $P $S $X $Y || exit 0
ip link add vc$id netns $C type veth peer name xc netns $X
ip link add vp$id netns $P type veth peer name xp netns $X
ip link add xs netns $X type veth peer name yf netns $Y      # the forward link
ip link add vs$id netns $S type veth peer name ys netns $Y
ip -n $C addr add 10.78.0.9/24 dev vc$id
for d in "$P vp$id" "$S vs$id"; do                            # one VM identity, twice
    set -- $d
    ip -n $1 link set $2 address 02:00:0a:4e:00:02
    ip -n $1 addr add 10.78.0.2/24 dev $2
done
for pair in "$C vc$id" "$P vp$id" "$S vs$id" "$X xc" "$X xp" "$X xs" "$Y yf" "$Y ys"; do
    set -- $pair
    ip netns exec $1 ethtool -K $2 tx off >/dev/null 2>&1
    ip -n $1 link set $2 up
done
# The SVM answers differently: every answer diverges, so nothing goes out
# unless a checkpoint (or passthrough) lets it.
ip netns exec $P timeout 120 $VM serve 8080 > /dev/null 2>&1 & PIDS+=($!)
ip netns exec $S timeout 120 $VM serve 8080 secret > /dev/null 2>&1 & PIDS+=($!)
for n in $P $S; do
    for _ in $(seq 100); do ip netns exec $n ss -ltnH "sport = :8080" | grep -q . && break; sleep 0.1; done
done

engines() {         # engines TAG [SECONDARY-OPTION...]: a protected pair, control sockets $WORK/TAG-{pri,sec}.ctl
    local port tag=$1
    shift
    free_port port
    bg $tag-sec 90 "$ENGINE" secondary --backend sim --domain vm --listen 127.0.0.1:$port \
        --peer-timeout 1000 --run-after-failover 20000 --control unix:$WORK/$tag-sec.ctl "$@"
    sec_timeout=${PIDS[-1]}
    wait_for "$WORK/$tag-sec.err" "waiting for the primary" 10
    bg $tag-pri 90 "$ENGINE" primary --backend sim --domain vm,mem=8M --peer 127.0.0.1:$port \
        --interval 0 --peer-timeout 1000 --control unix:$WORK/$tag-pri.ctl
    pri_timeout=${PIDS[-1]}
    wait_for "$WORK/$tag-pri.err" "protected" 20 || fail "engines $tag protect the domain"
}
rewriter() {        # rewriter LOG ENGINE-CTL: colo-proxy secondary in Y
    ip netns pids $Y | xargs -r kill -INT
    for _ in $(seq 50); do [ -z "$(ip netns pids $Y)" ] && break; sleep 0.1; done
    ip netns exec $Y timeout 90 "$PROXY" secondary --forward yf --svm ys --engine unix:$2 \
        --control unix:$WORK/$1.ctl > "$WORK/$1.out" 2> "$WORK/$1.err" &
    PIDS+=($!)
    wait_for "$WORK/$1.err" "rewriting between" 5
}
# The engine itself: the child of its `timeout` (its sim workload is the
# engine's child and has the same command line).
kill_engine() { kill -9 "$(pgrep -P "$1")" 2>/dev/null; }
status() { "$CTL" -c unix:$WORK/$1.ctl status --json 2>/dev/null; }
wait_status() {     # wait_status CTL PATTERN: up to 10 s
    for _ in $(seq 100); do grep -q "$2" <<<"$(status $1)" && return 0; sleep 0.1; done
    return 1
}

# 1. A checkpoint reaches both proxies.
engines a
ip netns exec $X timeout 90 "$PROXY" --client xc --pvm xp --svm xs --svm-lag 5000 \
    --engine unix:$WORK/a-pri.ctl --control unix:$WORK/pproxy.ctl > "$WORK/pproxy.out" 2> "$WORK/pproxy.err" &
PIDS+=($!)
wait_for "$WORK/pproxy.err" "comparing" 5
rewriter rw1 "$WORK/a-sec.ctl"
before=$(status rw1 | sed -n 's/.*"checkpoints":\([0-9]*\).*/\1/p')
ans=$(ip netns exec $C timeout 10 $VM ask 10.78.0.2 8080 "tell-secret" 5)
check "the divergence's checkpoint releases the PVM's answer: $ans" grep -q "^RESP 0 tell-secret" <<<"$ans"
wait_status rw1 '"checkpoints":[1-9]'
after=$(status rw1 | sed -n 's/.*"checkpoints":\([0-9]*\).*/\1/p')
check "the secondary engine's CHECKPOINT_DONE reached the rewriter (checkpoints $before -> $after)" \
    test "${before:-x}" = 0 -a "${after:-0}" -ge 1
check "... and the rewriter has not failed over" grep -q '"failed_over":false' <<<"$(status rw1)"
"$CTL" -c unix:$WORK/a-pri.ctl checkpoint
wait_status rw1 "\"checkpoints\":$((after + 1))"
check "a requested checkpoint is counted by the rewriter too: $(status rw1)" \
    grep -Eq "\"checkpoints\":$((after + 1))[,}]" <<<"$(status rw1)"
check "colo-ctl status still works on an engine that broadcasts" \
    grep -q '"role":"secondary"' <<<"$("$CTL" -c unix:$WORK/a-sec.ctl status --json)"
# The PVM resumed only after the proxy answered that it had released; a
# healthy proxy answers at once, and neither proxy was dropped for silence.
rel=$(status a-pri | sed -n 's/.*"release":\([0-9.]*\).*/\1/p')
check "the proxies answered CHECKPOINT_DONE before the VMs resumed (release phase ${rel:-?} ms)" \
    eval 'test -n "$rel" && [ "$(echo "$rel < 50" | bc)" = 1 ] &&
          ! grep -q "did not answer CHECKPOINT_DONE" "$WORK/a-pri.err" "$WORK/a-sec.err"'

# 2. The secondary is lost: the primary engine says FAILOVER to its proxy.
check "before: the primary proxy compares" grep -q '"state":"comparing"' <<<"$(status pproxy)"
kill_engine $sec_timeout
wait_status pproxy '"state":"passthrough"'
check "secondary killed: the primary proxy passes output through: $(status pproxy)" \
    grep -q '"state":"passthrough"' <<<"$(status pproxy)"
check "... told by its engine (FAILOVER), not because it lost the engine" \
    test -n "$(grep 'failover: releasing everything' "$WORK/pproxy.err")" -a \
         -z "$(grep 'lost the engine' "$WORK/pproxy.err")"
check "... and the primary engine runs on unprotected" \
    grep -q '"state":"unprotected"' <<<"$("$CTL" -c unix:$WORK/a-pri.ctl status --json)"
ans=$(ip netns exec $C timeout 10 $VM ask 10.78.0.2 8080 "tell-secret" 3)
check "a client request is then answered at once (it diverges, nothing is held): $ans" \
    grep -q "^RESP 0 tell-secret" <<<"$ans"

# 3. The primary is lost: the secondary engine fails over and tells the
#    rewriter; its --on-failover command (where the flows would switch)
#    first makes sure the rewriter translates, with colo-ctl failover.
engines b --on-failover "\"$CTL\" -c unix:$WORK/rw2.ctl failover && \"$CTL\" -c unix:$WORK/rw2.ctl status --json > $WORK/b-hook.json"
rewriter rw2 "$WORK/b-sec.ctl"
check "before: the rewriter has not failed over" grep -q '"failed_over":false' <<<"$(status rw2)"
kill_engine $pri_timeout
wait_status rw2 '"failed_over":true'
check "primary killed: the secondary engine failed over" grep -q "FAILOVER: the SVM of vm now runs" "$WORK/b-sec.err"
check "... and the rewriter says it has failed over: $(status rw2)" grep -q '"failed_over":true' <<<"$(status rw2)"
check "... told by the engine (its log says so)" grep -q "failover: the SVM's output now goes to clients" "$WORK/rw2.err"
wait_for "$WORK/b-sec.err" "the --on-failover command finished" 10
check "the engine's --on-failover command ran after the rewriter had switched: $(cat "$WORK/b-hook.json" 2>/dev/null)" \
    grep -q '"failed_over":true' "$WORK/b-hook.json"
