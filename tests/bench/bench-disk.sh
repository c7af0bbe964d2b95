#!/usr/bin/env bash
# bench-disk.sh BUILDDIR [SECONDS] - write throughput through the replicated
# disk (nbdkit-colo primary -> secondary on loopback, with a checkpoint's
# barrier + commit every 200 ms) against qemu-nbd exporting the same file
# unreplicated, in the same run, with fio's nbd engine:
# sequential 1 MiB writes and random 4 KiB writes, queue depth 8.
# Prints MiB/s for both and the ratio (goals: >= 0.80 sequential,
# >= 0.60 random), and how many cores each server process kept busy.
# COMMIT=volatile runs the secondary without fdatasync at
# each commit (qemu-nbd, the peer, never syncs unless the client flushes).
# Not a test: it asserts nothing.
set -u
build=$(cd "${1:?usage: bench-disk.sh BUILDDIR [SECONDS]}" && pwd)
secs=${2:-10}
plugin=$build/blktap-colo/nbdkit-colo-plugin.so
rec=$build/tests/integration/colo-rec
work=$(mktemp -d /tmp/colo-bench-disk.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; sleep 0.3; kill -9 "${pids[@]}" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
size=1G
truncate -s $size "$work/a.img"; truncate -s $size "$work/b.img"

# fio JOBNAME SOCKET RW BS -> MiB/s
run_fio() {
    fio --name="$1" --ioengine=nbd --uri="nbd+unix:///?socket=$2" --rw="$3" --bs="$4" \
        --iodepth=8 --size=$size --time_based --runtime="$secs" --ramp_time=1 \
        --output-format=terse --terse-version=3 2>/dev/null |
        awk -F';' '{ v = $48 } END { printf "%.1f\n", v / 1024 }'   # write KiB/s -> MiB/s (last line: after ramp)
}

# cpu PID... -> CPU seconds (user + system) the processes have used so far
cpu() { local t=0 p; for p; do t=$((t + $(awk '{ print $14 + $15 }' /proc/$p/stat))); done
        echo "$t / $(getconf CLK_TCK)" | bc -l; }
# timed_fio JOBNAME SOCKET RW BS PID... -> "MiB/s cores": throughput, and the
# CPU the given server processes used per second of the job (ramp included)
timed_fio() {
    local c0 t0 r; c0=$(cpu "${@:5}"); t0=$(date +%s.%N)
    r=$(run_fio "$1" "$2" "$3" "$4")
    echo "$r $(echo "($(cpu "${@:5}") - $c0) / ($(date +%s.%N) - $t0)" | bc -l)"
}

# Replicated: secondary, primary, and a checkpoint loop.
nbdkit -f -U "$work/svm.sock" "$plugin" role=secondary image="$work/b.img" listen=127.0.0.1:19931 \
    control=unix:$work/sd.ctl mem-limit=256M spill-dir="$work" commit=${COMMIT:-durable} \
    2> "$work/sec.log" & pids+=($!); spid=$!
for _ in $(seq 50); do [ -S "$work/sd.ctl" ] && break; sleep 0.1; done
nbdkit -f -U "$work/pvm.sock" "$plugin" role=primary image="$work/a.img" peer=127.0.0.1:19931 \
    control=unix:$work/pd.ctl 2> "$work/pri.log" & pids+=($!); ppid=$!
for _ in $(seq 50); do [ -S "$work/pd.ctl" ] && [ -S "$work/pvm.sock" ] && break; sleep 0.1; done
[ -n "${NO_CHECKPOINTS:-}" ] || (
    e=0
    while sleep 0.2; do
        w=$("$rec" unix:$work/pd.ctl DISK_BARRIER $e | awk '{print $3}') || break
        "$rec" unix:$work/sd.ctl DISK_COMMIT $e "$w" > /dev/null || break
        e=$((e + 1))
    done
) & pids+=($!)
s0=$(cpu $spid); st0=$(date +%s.%N)
read -r colo_seq pcpu_seq <<< "$(timed_fio seq "$work/pvm.sock" write 1M $ppid)"
read -r colo_rand pcpu_rand <<< "$(timed_fio rand "$work/pvm.sock" randwrite 4k $ppid)"
scpu=$(echo "($(cpu $spid) - $s0) / ($(date +%s.%N) - $st0)" | bc -l)
commits=$("$rec" unix:$work/sd.ctl STATUS | sed -n 's/.*"commits":\([0-9]*\).*/\1/p')
kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; pids=()

# Unreplicated: qemu-nbd on the same file.
qemu-nbd -f raw -k "$work/plain.sock" -t "$work/a.img" 2> "$work/qemu-nbd.log" & pids+=($!); qpid=$!
for _ in $(seq 50); do [ -S "$work/plain.sock" ] && break; sleep 0.1; done
read -r plain_seq qcpu_seq <<< "$(timed_fio seq "$work/plain.sock" write 1M $qpid)"
read -r plain_rand qcpu_rand <<< "$(timed_fio rand "$work/plain.sock" randwrite 4k $qpid)"

printf '%-24s %12s %12s %8s\n' "fio, ${secs}s, qd 8" "colo MiB/s" "qemu-nbd" "ratio"
printf '%-24s %12s %12s %8.2f\n' "sequential 1 MiB writes" "$colo_seq" "$plain_seq" "$(echo "$colo_seq / $plain_seq" | bc -l)"
printf '%-24s %12s %12s %8.2f\n' "random 4 KiB writes" "$colo_rand" "$plain_rand" "$(echo "$colo_rand / $plain_rand" | bc -l)"
echo "(checkpoint barrier+commit every 200 ms: $commits commits during the colo runs; commit=${COMMIT:-durable})"
printf 'server CPU, cores busy: primary %.2f / %.2f, secondary %.2f over both jobs, qemu-nbd %.2f / %.2f (seq / rand)\n' \
    "$pcpu_seq" "$pcpu_rand" "$scpu" "$qcpu_seq" "$qcpu_rand"
