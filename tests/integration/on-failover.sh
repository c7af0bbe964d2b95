# colo-engine --on-failover: the command an operator gives for the network
# half of failover runs when this side carries the VM on alone - on the
# secondary at failover, on the primary when its secondary is lost - with
# COLO_ROLE, COLO_EVENT, COLO_DOMAIN and COLO_CONTROL set; the engine does
# not wait for it, and a command that fails is reported, never fatal.
. "$(dirname "$0")/lib.sh"

# A bad option is refused before anything starts.
"$ENGINE" secondary --backend sim --domain vm --listen 127.0.0.1:0 --on-failover '  ' \
    > /dev/null 2> "$WORK/bad.err"; rc=$?
check "an empty --on-failover is refused, naming the option (exit $rc)" \
    test "$rc" -eq 2 -a -n "$(grep -- "--on-failover needs a command" "$WORK/bad.err")"

hook='echo "hook role=$COLO_ROLE event=$COLO_EVENT domain=$COLO_DOMAIN control=$COLO_CONTROL" > '
kill_engine() { kill -9 "$(pgrep -P "$1")" 2>/dev/null; }
ran() {         # ran WHAT HOOKFILE EXPECTED-LINE: the command ran, with that environment
    wait_for "$2" "hook" 10
    check "$1: $(cat "$2" 2>/dev/null)" test "$(cat "$2" 2>/dev/null)" = "$3"
}
line_of() { grep -n -- "$2" "$1" | head -1 | cut -d: -f1; }
pair() {        # pair TAG SEC-HOOK PRI-HOOK: a protected pair
    local port
    free_port port
    bg $1-sec 60 "$ENGINE" secondary --backend sim --domain vm$1 --listen 127.0.0.1:$port \
        --peer-timeout 1000 --run-after-failover 3000 --control unix:$WORK/$1-sec.ctl \
        --on-failover "$2"
    sec_timeout=${PIDS[-1]}
    wait_for "$WORK/$1-sec.err" "waiting for the primary" 10
    bg $1-pri 60 "$ENGINE" primary --backend sim --domain vm$1,mem=8M,rate=2000 \
        --peer 127.0.0.1:$port --interval 100 --peer-timeout 1000 --control unix:$WORK/$1-pri.ctl \
        --on-failover "$3"
    pri_timeout=${PIDS[-1]}
    wait_for "$WORK/$1-pri.err" "protected" 20 || fail "engines $1 protect the domain"
}

# 1. The primary dies: the secondary fails over and runs its command.
pair a "$hook $WORK/a-sec.hook" "$hook $WORK/a-pri.hook"
sleep 0.5
check "nothing runs while both sides are up" test ! -e "$WORK/a-sec.hook" -a ! -e "$WORK/a-pri.hook"
kill_engine $pri_timeout
ran "the secondary ran it at failover" "$WORK/a-sec.hook" \
    "hook role=secondary event=failover domain=vma control=unix:$WORK/a-sec.ctl"
wait_for "$WORK/a-sec.err" "the --on-failover command finished" 5
fo=$(line_of "$WORK/a-sec.err" "FAILOVER: the SVM") run=$(line_of "$WORK/a-sec.err" "running the --on-failover")
check "... after failing over (log lines $fo, $run), and logged how it ended" \
    test "${fo:-0}" -gt 0 -a "${run:-0}" -gt "${fo:-0}" -a \
         -n "$(grep "the --on-failover command finished" "$WORK/a-sec.err")"
check "... while the failed-over engine answers status" \
    grep -q '"state":"active"' <<<"$("$CTL" -c unix:$WORK/a-sec.ctl status --json 2>/dev/null)"
wait "$sec_timeout"
check "... and its output went to the log, not into the status on stdout" \
    test "$(grep -c . "$WORK/a-sec.out")" -eq 1

# 2. The secondary dies: the primary runs on unprotected and runs its
#    command; a command that fails is reported and the PVM runs on.
pair b "$hook $WORK/b-sec.hook" "$hook $WORK/b-pri.hook; echo from-the-hook >&2; exit 3"
kill_engine $sec_timeout
ran "the primary ran it when its secondary was lost" "$WORK/b-pri.hook" \
    "hook role=primary event=secondary-lost domain=vmb control=unix:$WORK/b-pri.ctl"
wait_for "$WORK/b-pri.err" "failed with exit status 3" 5
check "... its failure is reported with the exit status" \
    grep -q "the --on-failover command failed with exit status 3" "$WORK/b-pri.err"
check "... its stderr is in the engine's log" grep -q "from-the-hook" "$WORK/b-pri.err"
"$CTL" -c unix:$WORK/b-pri.ctl -t 2000 failover 2> "$WORK/ctl-fo.err"; frc=$?
check "colo-ctl failover to an engine (only a proxy takes it) fails and says so (exit $frc)" \
    test "$frc" -ne 0 -a -n "$(grep "did not acknowledge FAILOVER" "$WORK/ctl-fo.err")"
check "... and the primary runs on, unprotected" \
    grep -q '"state":"unprotected"' <<<"$("$CTL" -c unix:$WORK/b-pri.ctl status --json 2>/dev/null)"
check "the dead secondary's command never ran" test ! -e "$WORK/b-sec.hook"

# The manual: it formats without a warning and documents every option the
# engine's --help lists.
man=${COLO_SRCDIR:-$(dirname "$0")/../..}/docs/colo-engine.8
if command -v groff > /dev/null; then
    groff -man -Tutf8 -ww -z "$man" > "$WORK/groff.err" 2>&1; rc=$?
    check "docs/colo-engine.8 formats cleanly (groff -man -ww)" test "$rc" -eq 0 -a ! -s "$WORK/groff.err"
fi
missing=
for o in $("$ENGINE" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "$(sed 's/-/\\\\-/g' <<<"$o")" "$man" || missing="$missing $o"
done
check "docs/colo-engine.8 documents every option of colo-engine --help${missing:+ (missing:$missing)}" \
    test -z "$missing" -a -n "$("$ENGINE" --help | grep -o -- '--on-failover')"
