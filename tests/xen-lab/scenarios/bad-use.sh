# bad-use: xl-colo refuses bad use on a real Xen 4.17 - a domain that does
# not exist, a PV guest, a host that cannot be reached, missing or
# contradictory xl.cfg keys, contradictory options - each with a clear
# error naming what was wrong, and nothing left behind: no engine, no
# socket, no SVM, the refused domains as they were.  The guests are
# created paused (xl create -p): xl-colo looks them up through libxl and
# reads their xl.cfg with libxlutil before anything starts, so they need
# not boot.  (The xl-colo scenario does the same refusals and a good run
# around a booted guest; this one is quick enough for every CI run.)
W=/tmp/bad; rm -rf $W; mkdir -p $W/log
export XL_COLO_RUNDIR=$W/pri XL_COLO_LOGDIR=$W/log
RECV="XL_COLO_RUNDIR=$W/sec xl-colo migrate-receive --colo --listen 127.0.0.1:0"

# An xl.cfg: the lab guest's, plus one line.
cfg() { cp /lab/guests/pvm.cfg $W/$1.cfg; echo "$2" >> $W/$1.cfg; }
# A COLO disk with every key but colo-export (dash: no ${var/...}).
NOKEY="format=raw, vdev=hda, access=rw, colo, colo-host=127.0.0.1, colo-port=9000, active-disk=/var/lib/xen/pvm-active.img, hidden-disk=/var/lib/xen/pvm-hidden.img, target=/var/lib/xen/pvm.img"
VIF="mac=00:16:3e:00:00:01, bridge=xenbr0, forwarddev=eth1"

if xl create -p /lab/guests/pvm.cfg > $W/create.log 2>&1 && xl create -p /lab/guests/pvg.cfg >> $W/create.log 2>&1; then
    before=$(xl list | awk 'NR > 1 { print $1, $2, $5 }' | sort | tr '\n' ' ')
    refused "a domain that does not exist" "no domain named 'nosuch'" \
        xl-colo remus -c -C /lab/guests/pvm.cfg -s '' nosuch "$RECV"
    refused "a PV guest" "is a PV guest: COLO needs an HVM guest" \
        xl-colo remus -c -C /lab/guests/pvg.cfg -s '' pvg "$RECV"
    # TEST-NET-1: dom0 has no route there, so the connection fails at once.
    refused "a host that cannot be reached" "the receiving side" \
        xl-colo remus -c -C /lab/guests/pvm.cfg -s 'ssh -o BatchMode=yes -o ConnectTimeout=10' pvm 192.0.2.1
    cfg nokey "disk = [ '$NOKEY' ]"
    refused "a COLO disk without colo-export" "domain 'pvm': disk 0 (hda) has 'colo' but no 'colo-export='" \
        xl-colo remus -c -C $W/nokey.cfg -s '' pvm "$RECV"
    cfg contra "disk = [ 'format=raw, vdev=hda, colo-host=127.0.0.1, target=/var/lib/xen/pvm.img' ]"
    refused "COLO keys on a disk without 'colo'" "domain 'pvm': disk 0 (hda) sets 'colo-host=' but is not a COLO disk" \
        xl-colo remus -c -C $W/contra.cfg -s '' pvm "$RECV"
    cfg nofwd "vif = [ 'mac=00:16:3e:00:00:01, bridge=xenbr0' ]"
    refused "a vif without forwarddev" "domain 'pvm': vif 0 has no 'forwarddev='" \
        xl-colo remus -c -C $W/nofwd.cfg -s '' pvm "$RECV"
    cfg good "vif = [ '$VIF' ]"
    refused "contradictory options (-c with -b)" "-c conflicts with -b" \
        xl-colo remus -c -b -C $W/good.cfg -s '' pvm "$RECV"
    sed 's/^name = .*/name = "other"/' $W/good.cfg > $W/other.cfg
    refused "an xl.cfg of another domain" "domain 'pvm': $W/other.cfg describes domain 'other' (key 'name')" \
        xl-colo remus -c -C $W/other.cfg -s '' pvm "$RECV"
    left=$( (pgrep -f "colo-engine" ; find $W/pri $W/sec -mindepth 1 2>/dev/null
             xl list | awk '/--colo-svm/ { print $1 }') | tr '\n' ' ')
    check "bad-use: no engine, socket or SVM left${left:+ ($left)}" test -z "$left"
    after=$(xl list | awk 'NR > 1 { print $1, $2, $5 }' | sort | tr '\n' ' ')
    check "bad-use: the refused domains are as they were ($after)" test "$before" = "$after"
else
    infra "xl create -p of the lab's guests failed"; show $W/create.log
fi
