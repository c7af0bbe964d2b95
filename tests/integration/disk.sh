# The replicated disk through real NBD clients (qemu-io, libnbd): the
# primary and secondary nbdkit-colo exports, driven the way the engines
# drive them (DISK_BARRIER / DISK_COMMIT / FAILOVER on their control
# sockets), checked rule by rule against docs/disk.md.
. "$(dirname "$0")/lib.sh"
PLUGIN=$COLO_BUILDDIR/blktap-colo/nbdkit-colo-plugin.so
REC=$COLO_BUILDDIR/tests/integration/colo-rec
CHECK="/usr/bin/python3 $COLO_SRCDIR/tests/integration/nbd-check.py"
PRELOAD=
if ldd "$PLUGIN" | grep -q libasan; then    # sanitizer build: nbdkit must load the runtime first
    PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1
fi
a=$WORK/a.img b=$WORK/b.img
head -c 8M /dev/urandom > "$a"; cp "$a" "$b"      # the secondary starts from a copy
cp "$a" "$WORK/orig.img"
free_port port
bg sec 120 env LD_PRELOAD="$PRELOAD" nbdkit -f -U "$WORK/svm.sock" "$PLUGIN" role=secondary image="$b" \
    listen=127.0.0.1:$port control=unix:$WORK/sd.ctl spill-dir="$WORK" mem-limit=64K
for _ in $(seq 50); do [ -S "$WORK/svm.sock" ] && [ -S "$WORK/sd.ctl" ] && break; sleep 0.1; done
bg pri 120 env LD_PRELOAD="$PRELOAD" nbdkit -f -U "$WORK/pvm.sock" "$PLUGIN" role=primary image="$a" \
    peer=127.0.0.1:$port control=unix:$WORK/pd.ctl
for _ in $(seq 50); do [ -S "$WORK/pvm.sock" ] && [ -S "$WORK/pd.ctl" ] && break; sleep 0.1; done
pio() { qemu-io -f raw "nbd+unix:///?socket=$WORK/pvm.sock" "$@" 2>&1; }
sio() { qemu-io -f raw "nbd+unix:///?socket=$WORK/svm.sock" "$@" 2>&1; }
sameas() { $CHECK equal "$WORK/$1.sock" "$2" "$3" "$4"; }    # export region == file region
filebyte() { od -An -tx1 -j "$2" -N 1 "$1" | tr -d ' '; }
# "Not written" means the 4 KiB still hold what they held before: a one-byte
# "!= pattern" test fails by chance when the random byte is the pattern.
untouched() { cmp -s -n 4096 -i "$3:$3" "$1" "$2"; }   # FILE ORIGINAL OFFSET

# Epoch 0: the PVM writes; the SVM must not see it before the checkpoint.
pio -c "write -P 0x11 0 64k" -c "write -P 0x12 1M 4k" > /dev/null
check "PVM writes reach the primary's image" test "$(filebyte "$a" 0)" = 11
check "the SVM does not see PVM writes of an open epoch" grep -q "verification failed" <<<"$(sio -c "read -P 0x11 0 64k")"
check "... nor does the secondary's base image" untouched "$b" "$WORK/orig.img" 0
check "the barrier counts the epoch's writes" test "$($REC unix:$WORK/pd.ctl DISK_BARRIER 0)" = "DISK_BARRIER 0 2"
check "commit of epoch 0 is acknowledged" test "$($REC unix:$WORK/sd.ctl DISK_COMMIT 0 2)" = "DISK_COMMIT 0 2"
check "after commit the SVM sees the PVM's writes" sameas svm "$a" 0 $((2 << 20))
check "after commit the secondary's image equals the primary's" cmp -s "$a" "$b"

# Epoch 1: the SVM's own writes live in the overlay until the next commit.
sio -c "write -P 0x22 1M 4k" > /dev/null
check "the SVM reads its own write" grep -q "read 4096/4096" <<<"$(sio -c "read -P 0x22 1M 4k")"
check "... which does not touch the base image" test "$(filebyte "$b" $((1 << 20)))" = 12
$REC unix:$WORK/pd.ctl DISK_BARRIER 1 > /dev/null
$REC unix:$WORK/sd.ctl DISK_COMMIT 1 0 > /dev/null
check "commit discards the SVM's overlay (SVM := PVM)" sameas svm "$a" $((1 << 20)) 4096

# Epoch 2: a commit that does not match what arrived is refused.
pio -c "write -P 0x13 2M 512" > /dev/null
check "the barrier of epoch 2 counts 1 write" test "$($REC unix:$WORK/pd.ctl DISK_BARRIER 2)" = "DISK_BARRIER 2 1"
check "a commit claiming writes that never arrived is refused" grep -q "^ERROR" <<<"$($REC unix:$WORK/sd.ctl DISK_COMMIT 2 5)"
check "the right commit then succeeds" test "$($REC unix:$WORK/sd.ctl DISK_COMMIT 2 1)" = "DISK_COMMIT 2 1"

# Epoch 3, then failover: uncommitted PVM writes are dropped, the SVM's kept.
pio -c "write -P 0x33 3M 4k" > /dev/null
sio -c "write -P 0x44 4M 4k" > /dev/null
check "failover is acknowledged" test "$($REC unix:$WORK/sd.ctl FAILOVER)" = FAILOVER
check "the PVM's uncommitted write never reaches the SVM" untouched "$b" "$WORK/orig.img" $((3 << 20))
check "the SVM's acknowledged write is in the base image" test "$(filebyte "$b" $((4 << 20)))" = 44
sio -c "write -P 0x55 5M 4k" > /dev/null
check "after failover SVM writes go straight to the base" test "$(filebyte "$b" $((5 << 20)))" = 55
check "the secondary reports itself active" grep -q '"state":"active"' <<<"$($REC unix:$WORK/sd.ctl STATUS)"

# Malformed requests: NBD errors, and both servers keep serving.
$CHECK bad "$WORK/pvm.sock" > "$WORK/bad-p.txt" 2>&1
check "primary export refuses malformed requests and keeps serving" test $? -eq 0
$CHECK bad "$WORK/svm.sock" > "$WORK/bad-s.txt" 2>&1
check "secondary export refuses malformed requests and keeps serving" test $? -eq 0
cat "$WORK"/bad-*.txt
check "no sanitizer or crash report from nbdkit" test -z "$(grep -l -E 'ERROR: (Address|Undefined)|runtime error|Segmentation' "$WORK"/*.err)"

# --- With the engines: checkpoints carry the disk, failover keeps it. ---
a2=$WORK/a2.img b2=$WORK/b2.img
head -c 8M /dev/urandom > "$a2"; cp "$a2" "$b2"; cp "$a2" "$WORK/orig2.img"
free_port dport; free_port eport
bg sec2 120 env LD_PRELOAD="$PRELOAD" nbdkit -f -U "$WORK/svm2.sock" "$PLUGIN" role=secondary image="$b2" \
    listen=127.0.0.1:$dport control=unix:$WORK/sd2.ctl
for _ in $(seq 50); do [ -S "$WORK/sd2.ctl" ] && break; sleep 0.1; done
bg pri2 120 env LD_PRELOAD="$PRELOAD" nbdkit -f -U "$WORK/pvm2.sock" "$PLUGIN" role=primary image="$a2" \
    peer=127.0.0.1:$dport control=unix:$WORK/pd2.ctl
for _ in $(seq 50); do [ -S "$WORK/pd2.ctl" ] && break; sleep 0.1; done
bg esec 120 "$ENGINE" secondary --backend sim --domain vm --listen 127.0.0.1:$eport \
    --disk-control unix:$WORK/sd2.ctl --run-after-failover 300
wait_for "$WORK/esec.err" "waiting for the primary" 10
bg epri 120 "$ENGINE" primary --backend sim --domain vm,mem=8M,rate=2000 --peer 127.0.0.1:$eport \
    --disk-control unix:$WORK/pd2.ctl --interval 0 --control unix:$WORK/epri.ctl
epri=${PIDS[${#PIDS[@]}-1]}
wait_for "$WORK/epri.err" "protected" 20
qemu-io -f raw "nbd+unix:///?socket=$WORK/pvm2.sock" -c "write -P 0x61 0 64k" > /dev/null 2>&1
"$CTL" -c unix:$WORK/epri.ctl checkpoint; sleep 0.5
check "engines: a checkpoint carries the PVM's disk writes to the SVM" sameas svm2 "$a2" 0 65536
check "engines: the disk epoch follows the checkpoints" grep -q '"epoch":2' <<<"$($REC unix:$WORK/sd2.ctl STATUS)"
qemu-io -f raw "nbd+unix:///?socket=$WORK/pvm2.sock" -c "write -P 0x62 1M 4k" > /dev/null 2>&1
pkill -9 -P "$epri"; kill -9 "$epri" 2>/dev/null   # the primary host dies with a write uncommitted
wait "$epri" 2>/dev/null
wait_for "$WORK/esec.err" "FAILOVER" 10
sleep 0.3
check "engines: the secondary engine failed over its disk too" grep -q '"state":"active"' <<<"$($REC unix:$WORK/sd2.ctl STATUS)"
check "engines: the uncommitted PVM write is not on the surviving disk" untouched "$b2" "$WORK/orig2.img" $((1 << 20))
check "engines: the committed one is" test "$(filebyte "$b2" 0)" = 61
