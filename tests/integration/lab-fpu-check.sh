#!/usr/bin/env bash
# lab-fpu-check.sh - the Xen lab's register check (tests/xen-lab/dom0/
# lab-fpu-check.c) on this machine: vector registers survive on a sound
# CPU, a register overwritten mid-round is seen every time, bad use is
# refused.  In the lab it runs in dom0 beside a guest (scenarios/fpu.sh).
. "$(dirname "$0")/lib.sh"
F=$WORK/lab-fpu-check
if ! ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$F" \
        "$COLO_SRCDIR/tests/xen-lab/dom0/lab-fpu-check.c" 2> "$WORK/cc.err"; then
    fail "lab-fpu-check: builds" "$(head -3 "$WORK/cc.err")"; exit 0
fi
modes=sse; grep -qw avx /proc/cpuinfo && modes="avx sse"
for m in $modes; do
    out=$("$F" $m 1 0); rc=$?
    case $out in
    "FPU-CHECK mode=$m cpu=0 seconds=1 rounds="*" bad=0") check "lab-fpu-check: $m registers hold on this CPU" test $rc -eq 0 ;;
    *) fail "lab-fpu-check: $m registers hold on this CPU" "exit $rc: $out" ;;
    esac
done
for bad_use in "x 1 0" "avx 0 0" "avx 1 -1" "avx 1x 0" "avx 1" ; do
    "$F" $bad_use > /dev/null 2> "$WORK/err"; rc=$?
    check "lab-fpu-check: '$bad_use' is refused with a message" test $rc -eq 2 -a -s "$WORK/err"
done
grep -qw avx /proc/cpuinfo || { echo "lab-fpu-check: no AVX here: the avx and selftest checks are left out"; exit 0; }
out=$("$F" selftest 1 0); rc=$?
rounds=$(echo "$out" | sed -n 's/.* rounds=\([0-9]*\) .*/\1/p')
bad=$(echo "$out" | sed -n 's/.* bad=\([0-9]*\).*/\1/p')
check "lab-fpu-check: an overwritten register is seen in every round ($out)" \
    test $rc -eq 1 -a -n "$rounds" -a "$rounds" -gt 0 -a "$bad" = "$rounds" -a "${out##* }" = first=0/ymm7
