# colo-engine --on-failover: the command an operator gives for the network
# half of failover runs when this side carries the VM on alone - on the
# secondary at failover, on the primary when its secondary is lost - with
# COLO_ROLE, COLO_EVENT, COLO_DOMAIN and COLO_CONTROL set; the engine does
# not wait for it, and a command that fails is reported, never fatal.
# colo-engine --on-svm: the secondary's command when the SVM has been
# created (waited for, before the SVM can run; failing refuses the SVM) and
# when it has been destroyed.
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

# 3. --on-svm on the secondary: at svm-created, beside the initial copy
#    and waited for before the SVM first runs; at svm-destroyed when the
#    secondary stands down.
"$ENGINE" primary --backend sim --domain vm --peer 127.0.0.1:1 --on-svm true > /dev/null 2> "$WORK/bad2.err"; rc=$?
check "--on-svm on the primary is refused (exit $rc)" \
    test "$rc" -eq 2 -a -n "$(grep -- "--on-svm is for the secondary" "$WORK/bad2.err")"
"$ENGINE" secondary --backend sim --domain vm --listen 127.0.0.1:0 --on-svm '' > /dev/null 2> "$WORK/bad3.err"; rc=$?
check "an empty --on-svm is refused (exit $rc)" \
    test "$rc" -eq 2 -a -n "$(grep -- "--on-svm needs a command" "$WORK/bad3.err")"
svmhook='echo "$COLO_EVENT role=$COLO_ROLE domain=$COLO_DOMAIN domid=$COLO_DOMID $(date +%s.%N)" >> '
svm_pair() {    # svm_pair TAG ON-SVM [SECONDARY OPTIONS]: start both, wait for the primary's end
    local port tag=$1 cmd=$2
    shift 2
    free_port port
    bg $tag-sec 60 "$ENGINE" secondary --backend sim --domain vm$tag --listen 127.0.0.1:$port \
        --on-svm "$cmd" "$@"
    wait_for "$WORK/$tag-sec.err" "waiting for the primary" 10
    bg $tag-pri 60 "$ENGINE" primary --backend sim --domain vm$tag,mem=8M,rate=2000 \
        --peer 127.0.0.1:$port --interval 100
    pri_timeout=${PIDS[-1]}
}
svm_pair c "sleep 1; $svmhook $WORK/c.hook"
wait_for "$WORK/c-pri.err" "protected" 20
check "svm-created ran with its environment: $(head -1 "$WORK/c.hook" 2>/dev/null)" \
    grep -q "^svm-created role=secondary domain=vmc domid= " "$WORK/c.hook"
fin=$(line_of "$WORK/c-sec.err" "the --on-svm command finished") run=$(line_of "$WORK/c-sec.err" "the SVM runs for the first time")
app=$(line_of "$WORK/c-sec.err" "applying the first checkpoint")
check "... and was waited for: the first checkpoint was applied, and the SVM first ran, after it ended (log lines $fin, $app, $run)" \
    test "${fin:-0}" -gt 0 -a "${app:-0}" -gt "${fin:-0}" -a "${run:-0}" -gt "${app:-0}"
sleep 0.3
kill -TERM "$(pgrep -P "$pri_timeout")"          # the operator stops the primary: stand down
wait_for "$WORK/c.hook" "^svm-destroyed" 10
check "svm-destroyed ran when the secondary stood down: $(tail -1 "$WORK/c.hook")" \
    grep -q "^svm-destroyed role=secondary domain=vmc" "$WORK/c.hook"
check "... after svm-created, once each" test "$(cut -d' ' -f1 "$WORK/c.hook" | tr '\n' ' ')" = "svm-created svm-destroyed "

svm_pair d "$svmhook $WORK/d.hook; echo refused-by-the-site >&2; exit 4"
wait_for "$WORK/d-sec.err" "stopping without taking over" 10
check "a failing svm-created refuses the replication: the secondary gives up" \
    grep -q "the --on-svm command failed at svm-created" "$WORK/d-sec.err"
check "... with the command's exit status and output in its log" \
    eval 'grep -q "the --on-svm command failed with exit status 4" "$WORK/d-sec.err" &&
          grep -q refused-by-the-site "$WORK/d-sec.err"'
wait_for "$WORK/d-pri.err" "peer reported error" 10
check "... the primary is told why, and does not protect" \
    eval 'grep -q "peer reported error" "$WORK/d-pri.err" && ! grep -q "protected" "$WORK/d-pri.err"'
wait_for "$WORK/d.hook" "^svm-destroyed" 10
check "... and the SVM it destroyed is reported to the command too" \
    test "$(cut -d' ' -f1 "$WORK/d.hook" | tr '\n' ' ')" = "svm-created svm-destroyed "

svm_pair e "sleep 30; :" --io-timeout 1000
wait_for "$WORK/e-sec.err" "stopping without taking over" 10
check "an svm-created command that outlives --io-timeout is stopped, and the SVM refused" \
    grep -q "the --on-svm command did not finish within 1000 ms; stopping it" "$WORK/e-sec.err"
wait_for "$WORK/e-sec.err" "failed at svm-destroyed" 10     # the same command, once more
check "... nothing of it is left running (its process group was killed)" test -z "$(pgrep -fx 'sleep 30')"

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
