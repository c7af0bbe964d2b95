# Crash consistency of the replicated disk: SIGKILL of the primary or the
# secondary disk daemon at random moments under a write load, 200 runs
# (COLO_CRASH_RUNS), checked by disk-crash.py against the semantics.
. "$(dirname "$0")/lib.sh"
PLUGIN=$COLO_BUILDDIR/blktap-colo/nbdkit-colo-plugin.so
if ldd "$PLUGIN" | grep -q libasan; then
    export NBDKIT_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1
fi
seed=${COLO_CRASH_SEED:-$RANDOM}
echo "seed $seed (COLO_CRASH_SEED=$seed reproduces this run)"
/usr/bin/python3 "$COLO_SRCDIR/tests/integration/disk-crash.py" "$PLUGIN" \
    "$COLO_BUILDDIR/tests/integration/colo-rec" "$WORK" "${COLO_CRASH_RUNS:-200}" "$seed"
