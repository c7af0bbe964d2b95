# lib.sh - shared helpers for the integration scripts (sourced).
#
# Every script: runs its daemons under `timeout`, kills what it started on
# exit (success, failure or signal), and reports each check as one
# "PASS: name" / "FAIL: name (why)" line, which tests/run-tests counts.
set -u
: "${COLO_BUILDDIR:?run through tests/run-tests}"
ENGINE=$COLO_BUILDDIR/libxl-colo/colo-engine
CTL=$COLO_BUILDDIR/tools/colo-ctl
CUTPROXY=$COLO_BUILDDIR/tests/integration/colo-cutproxy
WORK=$(mktemp -d /tmp/colo-it.XXXXXX)
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ ($2)}"; }
check() {   # check NAME COMMAND...: PASS if the command succeeds
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# A TCP port on loopback that no socket uses, in any state.  Below the
# kernel's ephemeral range (32768+), so an outgoing connection of another
# test cannot be holding it when our daemon binds.
# (Never the same port twice in one script: two daemons may not have
# bound theirs yet when the second is chosen.)
# Usage: free_port VAR (sets VAR; no subshell, so the list is kept).
PORTS_GIVEN=" "
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 12000))
        case "$PORTS_GIVEN" in *" $p "*) continue ;; esac
        ss -tanH "sport = :$p" 2>/dev/null | grep -q . && continue
        PORTS_GIVEN="$PORTS_GIVEN$p "
        printf -v "$1" '%s' "$p"
        return
    done
    printf -v "$1" '%s' 29999
}

# Start in the background with a hard time limit; remember the pid.
bg() {      # bg LOGPREFIX SECONDS CMD...
    local log=$1 secs=$2; shift 2
    timeout "$secs" "$@" > "$WORK/$log.out" 2> "$WORK/$log.err" &
    PIDS+=($!)
}

# Wait (bounded) until a file contains a pattern.
wait_for() {    # wait_for FILE PATTERN SECONDS
    local i
    for i in $(seq 1 $(($3 * 10))); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Digest lines "N HEX" of one kind (pvm, svm, suspended, failover) from a log.
digests() { sed -n "s/.*verify: checkpoint \([0-9]*\) $2 digest \([0-9a-f]*\)$/\1 \2/p" "$1"; }

# A number out of the engine's final JSON status line.
json_num() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1" | tail -1; }

# Exit (a skip, not a failure) when PROGRAM was built with the sanitizers;
# the caller states why its checks cannot hold there.
skip_with_sanitizers() {    # skip_with_sanitizers PROGRAM WHY
    if ldd "$1" | grep -q libasan; then
        echo "$(basename "$0"): skipped in the sanitizer build ($2)"
        exit 0
    fi
}

# Network namespaces of this script (names must be unique: include $$):
# no IPv6 (no stray router solicitations to compare), lo up; they and
# everything running in them go on exit, failure or not.
NETNS=()
netns_cleanup() {
    for n in "${NETNS[@]}"; do
        ip netns pids $n 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del $n 2>/dev/null
    done
}
# The proxy tests' wiring: client C, PVM P and SVM S each joined by a veth
# pair to the proxy's namespace X (there named xc, xp, xs; in the others
# vcID, vpID, vsID), the client 10.77.0.9, PVM and SVM one VM identity
# (MAC 02:00:0a:4d:00:02, 10.77.0.2).  Links are left down.
proxy_veths() {             # proxy_veths C P S X ID
    local n d
    ip link add vc$5 netns $1 type veth peer name xc netns $4 &&
        ip link add vp$5 netns $2 type veth peer name xp netns $4 &&
        ip link add vs$5 netns $3 type veth peer name xs netns $4 || return 1
    ip -n $1 addr add 10.77.0.9/24 dev vc$5
    for n in $2 $3; do
        d=$([ $n = $2 ] && echo vp$5 || echo vs$5)
        ip -n $n link set $d address 02:00:0a:4d:00:02
        ip -n $n addr add 10.77.0.2/24 dev $d
    done
}
netns_setup() {             # netns_setup NS...; returns 1 (reported) if unavailable
    trap 'netns_cleanup; cleanup' EXIT
    for n in "$@"; do
        NETNS+=($n)
        ip netns add $n || { fail "network namespaces available" "ip netns add failed"; return 1; }
        ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip -n $n link set lo up
    done
}
