#!/usr/bin/env bash
# lab-crashes.sh - the Xen lab's rule for dom0 process crashes
# (tests/xen-lab/dom0/lab-crashes), on kernel log lines of the shapes
# dom0's kernel writes: a crash of a process not of ours marks the boot
# as spoiled by the emulation; one of ours is never excused; other kernel
# lines are not crashes.  Runs under dash, as in dom0.
. "$(dirname "$0")/lib.sh"
F=$COLO_SRCDIR/tests/xen-lab/dom0/lab-crashes
run() { printf '%s\n' "$@" | dash "$F"; }

out=$(run '[  195.123456] sh[1234]: segfault at 0 ip 00007f0 sp 00007ff error 4 in libc.so.6[7f0+1000] likely on CPU 1 (core 1, socket 0)')
check "lab-crashes: a shell's segfault is reported" test "${out%%:*}" = sh
out=$(run '[   12.000001] traps: head[77] general protection fault ip:7f sp:7ff error:0 in libc.so.6[7f+1]')
check "lab-crashes: a general protection fault is reported" test "${out%%:*}" = head
out=$(run 'traps: awk[9] trap invalid opcode ip:1 sp:2 error:0 in mawk[5+6]')
check "lab-crashes: an invalid opcode is reported (no timestamp)" test "${out%%:*}" = awk
out=$(run '[ 1.0] colo-engine[55]: segfault at f ip 1 sp 2 error 4 in libc.so.6[1+2]' \
          '[ 2.0] traps: colo-ctl[56] general protection fault ip:1 sp:2 error:0' \
          '[ 2.5] xl-colo[57]: segfault at 0 ip 1 sp 2 error 6 in xl-colo[1+2]')
check "lab-crashes: our own programs' crashes are never excused" test -z "$out"
out=$(run '[ 3.0] xen-blkback: backend/vbd/1/51712: using 1 queues, protocol 1 (x86_64-abi)' \
          '[ 4.0] sh[1]: something that is not a crash' '[ 5.0] device vif1.0 entered promiscuous mode')
check "lab-crashes: other kernel lines are not crashes" test -z "$out"
out=$(run '[ 6.0] sh[1]: segfault at 0 ip 1 sp 2 error 4' '[ 7.0] colo-engine[2]: segfault at 0 ip 1 sp 2 error 4' \
          '[ 8.0] qemu-system-i38[3]: segfault at 8 ip 1 sp 2 error 4')
check "lab-crashes: one line per foreign crash, in order" test "$(echo "$out" | cut -d: -f1 | tr '\n' ,)" = "sh,qemu-system-i38,"
