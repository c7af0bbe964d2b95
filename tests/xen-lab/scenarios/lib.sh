# lib.sh - helpers for the lab scenarios (sourced inside dom0).
# Each check prints one "PASS: name" / "FAIL: name (why)" line.
pass() { echo "PASS: xen-lab/$1"; }
fail() { echo "FAIL: xen-lab/$1${2:+ ($2)}"; }
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; return 1; fi; }
# Infrastructure trouble (not the code under test): the host retries the run.
infra() { echo "LAB-INFRA: $*"; }
# Engine log lines carry the monotonic clock, shared by both engines here.
export COLO_LOG_TIME=1
now() { awk '{print int($1)}' /proc/uptime; }

# wait_log FILE PATTERN SECONDS: bounded wait for a line in a file.
wait_log() {
    _i=0
    while [ $_i -lt $(($3 * 5)) ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.2; _i=$((_i + 1))
    done
    return 1
}

# The last tick a dirtier printed in a guest's serial log.
last_tick() { sed -n 's/^DIRTIER tick=\([0-9]*\) .*/\1/p' "$1" | tail -1; }
# The guest frame of the dirtier's status page, from its console's start line.
status_pfn() { sed -n 's/^DIRTIER start .*status-pfn=\(0x[0-9a-f]*\).*/\1/p' "$1" | head -1; }
# The dirtier's figures read from a domain's memory (lab-peek): peek DOMAIN PFN FIELD
peek() { lab-peek "$(xl domid "$1" 2>/dev/null)" "$2" 2>/dev/null | sed -n "s/.*$3=\([0-9]*\).*/\1/p"; }

# The SVM's domain name (the engine names it after svm.cfg's, "--colo-svm" added).
svm_domain() { xl list | awk '$1 ~ /svm/ { print $1; exit }'; }
# wait_protected PATTERN SECONDS: until the primary's log (pri.err) has
# PATTERN, or until it cannot come - an engine gone ($pripid, $secpid), or
# a guest that triple-faulted (then the run is retried).  Sets $why, empty
# if PATTERN came.  (The triple fault is looked for every 10 s: each
# process started while log-dirty makes Xen flush TLBs is one more that the
# emulation may crash.)
wait_protected() {
    _i=0 why=""
    while ! grep -q "$1" $W/pri.err; do
        _i=$((_i + 1))
        if [ $_i -gt "$2" ]; then why="not within $2 s"; break; fi
        if ! kill -0 $pripid 2>/dev/null; then why="the primary engine exited"; break; fi
        if ! kill -0 $secpid 2>/dev/null; then why="the secondary engine exited"; break; fi
        if [ $((_i % 10)) = 0 ] && triple_faulted; then why="a guest triple-faulted"; break; fi
        sleep 1
    done
}
# Under TCG a guest sometimes triple-faults, even one nothing of ours
# touched (docs/xen-lab.md); a run with one proves nothing either way.
triple_faulted() { xl dmesg | grep -q 'Triple fault'; }
infra_if_triple_fault() {
    _tf=$(xl dmesg | grep 'Triple fault' | head -3 | tr '\n' ' ')
    [ -n "$_tf" ] && infra "a guest triple-faulted: $_tf"
}

# Show the end of a log on the console (for a failed check).
show() { echo "---- $1 (last ${2:-20} lines)"; tail -n "${2:-20}" "$1" 2>/dev/null | sed 's/^/    /'; }

# refused NAME MESSAGE CMD...: a check that CMD exits non-zero and says
# MESSAGE on stderr (its output in $W).  Named after the scenario being
# run ($s, set by run-in-dom0).
refused() {
    _n=$1; _m=$2; shift 2
    "$@" > $W/out 2> $W/err < /dev/null; _rc=$?
    if [ $_rc -ne 0 ] && grep -qF -- "$_m" $W/err; then pass "$s: $_n"
    else fail "$s: $_n" "exit $_rc"; show $W/err 10; fi
}

# Boot an HVM guest from /lab/guests/NAME.cfg and wait for its dirtier.
# A guest that never gets there is an infrastructure failure.
boot_guest() {      # boot_guest NAME SECONDS [CONFIG]
    _log=/var/log/xen/console/guest-$1.log
    rm -f "$_log"
    _t0=$(now)
    if ! xl create "${3:-/lab/guests/$1.cfg}" > "/tmp/xl-create-$1.log" 2>&1; then
        infra "xl create $1 failed"; show "/tmp/xl-create-$1.log"; return 1
    fi
    if ! wait_log "$_log" "DIRTIER tick=" "$2"; then
        infra "guest $1 did not boot within $2 s"; show "$_log"; xl list; return 1
    fi
    echo "LAB-GUEST-UP $1 in $(($(now) - _t0)) s"
}

# registers_hold SECONDS: a dom0 process on CPU 1 keeps its SSE registers
# while the PVM (pinned to pCPU 1 too) runs beside it (lab-fpu-check).
# Under Xen's lazy FPU switching the emulated host loses them now and then
# (docs/xen-lab.md), and a boot in which that happens proves nothing
# either way: infrastructure, not a failure of the code under test.
registers_hold() {
    if fpu_check sse "$1"; then pass "dom0's registers survive Xen's vCPU switches beside the PVM (${_r#FPU-CHECK })"
    else infra "the emulated host lost a dom0 process's registers: $_r"; fi
}

# fpu_check MODE SECONDS: lab-fpu-check on dom0's CPU 1; its line in $_r,
# success when no round lost a register.
fpu_check() {
    _r=$(lab-fpu-check "$1" "$2" 1 2>&1)
    case $_r in *" bad=0") return 0 ;; *) return 1 ;; esac
}

# The guests' web service on 10.9.0.2 (guest/init, lab_ip): get [SECONDS]
# makes one HTTP request through bash's /dev/tcp, bounded by SECONDS (5);
# answers SECONDS [PER-TRY] says whether the page comes back within
# SECONDS.  (Not busybox wget: the static busybox's wget segfaulted in dom0.)
get() {
    timeout "${1:-5}" bash -c 'exec 3<>/dev/tcp/10.9.0.2/80 && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' 2>/dev/null
}
answers() {
    _end=$(($(now) + $1))
    while [ "$(now)" -lt $_end ]; do
        get "${2:-5}" | grep -q COLO-LAB-SERVICE && return 0
        sleep 1
    done
    return 1
}

# compare_dumps LAST: the per-page hashes --verify dumped into $W/dump at
# checkpoints 0..LAST, PVM's against SVM's.  The only page allowed to
# differ is pfn 0xfdfff, where hvmloader mapped the PVM's shared_info - a
# page Xen owns and rewrites (time), never in the dirty log, and not guest
# RAM; the backend does not yet know Xen-owned pfns (docs/xen-backend.md).
# One pass of awk per checkpoint: pfns whose hash differs or that only one
# side hashed.  Sets ncmp (checkpoints compared) and nother (checkpoints
# where other pages differ, printed).
compare_dumps() {
    ncmp=0 nother=0
    for _k in $(seq 0 "$1"); do
        [ -s $W/dump/pvm-$_k.txt ] && [ -s $W/dump/svm-$_k.txt ] || continue
        ncmp=$((ncmp + 1))
        _o=$(awk 'NR == FNR { h[$1] = $2; next }
                  { if (!($1 in h) || h[$1] != $2) print $1; delete h[$1] }
                  END { for (p in h) print p }' $W/dump/pvm-$_k.txt $W/dump/svm-$_k.txt |
            grep -v -x 1040383 | sort -n | head -5 | tr '\n' ' ')
        [ -n "$_o" ] && { nother=$((nother + 1)); echo "LAB-INFO checkpoint $_k: pfns differ: $_o"; }
    done
}

# compare_vcpus LAST: the vCPU digests --verify logged at checkpoints
# 0..LAST (Xen's CPU save records of each domain, read back with both
# suspended, the TSC aside), PVM's ($W/pri.err) against SVM's
# ($W/sec.err).  Sets nv (compared) and vbad (checkpoints that differ).
compare_vcpus() {
    nv=0 vbad=""
    for _k in $(seq 0 "$1"); do
        _pv=$(sed -n "s/.*verify: checkpoint $_k pvm vcpu digest //p" $W/pri.err | head -1)
        _sv=$(sed -n "s/.*verify: checkpoint $_k svm vcpu digest //p" $W/sec.err | head -1)
        [ -n "$_pv" ] && [ -n "$_sv" ] || continue
        nv=$((nv + 1))
        [ "$_pv" = "$_sv" ] || vbad="$vbad $_k"
    done
}
