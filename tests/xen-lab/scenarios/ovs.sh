# ovs: xl-colo wires a protected HVM guest's network on Open vSwitch with
# its kernel datapath, on a real Xen 4.17 - the setup docs/networking.md
# describes, run end to end.
#
# One Open vSwitch in dom0 holds both "hosts" (the layout of
# tests/integration/ovs-lib.bash, the uplinks patch ports): brn the LAN, with
# dom0 itself as the client (lan0, 10.9.0.1); brp the primary's bridge;
# brs the secondary's; patch ports for each host's uplink and for the
# forward link.  The forward link is a veth pair (p-fwd, s-fwd), each
# host's dedicated NIC, in no bridge until colo-ovs-setup adds it with
# no-flood: in the bridges from the start it would close a loop
# brn-brp-brs-brn, and broadcasts would circle it (the first run here
# had it so, and dom0 could not reach the unprotected PVM).  The guest's e1000 is on brp (scenarios/ovs-vif puts the
# SVM's on brs).  xl-colo remus -c runs the project's colo-ovs-setup
# through scenarios/ovs-site and starts the comparator and the rewriter.
# Checks: both bridges wired; the SVM's tap, made anew by every qemu-xen
# restart, stays a port of brs under the same OpenFlow number and its
# frames keep reaching the comparator; the client is answered through the
# comparator; after the primary host "dies" the SVM answers the client.
# With OVS_VLAN=N (scenarios/ovs-vlan.sh) the guest's vif is bridge=brp.N,
# an access port of VLAN N, the client lan0 in that VLAN, and an outsider
# in VLAN N+10 must not reach the guest while it is protected.
# With OVS_LAYOUT=inline (scenarios/ovs-inline.sh) xl-colo builds the
# in-line layout (--net-layout inline): the proxies own the guests' taps and
# the forward link, a stand-in port on each bridge; the SVM's tap, made
# anew by every qemu-xen restart, is found again by the rewriter.
# Not in scenarios.list: tests/xen-lab/run-lab BUILDDIR ovs [ovs-vlan]
S=${OVS_SCENARIO:-ovs} VLAN=${OVS_VLAN:-} LAYOUT=${OVS_LAYOUT:-flows}
LOPT="--net-layout $LAYOUT"     # (inline is xl-colo's default; named all the same)
OUT_VLAN=$((${VLAN:-0} + 10))     # the outsider's VLAN while the guest is protected
W=/tmp/$S; rm -rf $W; mkdir -p $W/log $W/pri $W/sec
CFG=/lab/guests/opvm.cfg
if [ -n "$VLAN" ]; then
    sed "s/bridge=brp,/bridge=brp.$VLAN,/" $CFG > $W/opvm.cfg; CFG=$W/opvm.cfg
fi
export XL_COLO_RUNDIR=$W/pri XL_COLO_LOGDIR=$W/log
TMO="--io-timeout 30000 --peer-timeout 15000"
SITE=/lab/scenarios/ovs-site
RECV="XL_COLO_RUNDIR=$W/sec xl-colo migrate-receive --colo -d --coloft-script $SITE --listen 127.0.0.1:0 $TMO${OVS_RESTORE:+ --restore $OVS_RESTORE}${LOPT:+ $LOPT}"
PLOG=/var/log/xen/console/guest-opvm.log
OVSLOG=/var/log/xen/ovs

cookie_flows() { ovs-ofctl dump-flows "$1" 2>/dev/null | grep -c "cookie=0xc010"; }
pstatus() { colo-ctl -c "unix:$W/$1/opvm.vif0.ctl" status --json 2>/dev/null; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -1; }
# The port's number once it is settled (at most 30 s): not -1 (the tap is
# being replaced) nor 65000/65001 (the number xen-tap.c passes the port
# through to make Open vSwitch reopen it).
stable_ofport() {
    _end=$(($(now) + 30))
    while _o=$(ovs-vsctl --timeout=10 get Interface $1 ofport 2>/dev/null) &&
          { [ "${_o:--1}" -le 0 ] || [ "$_o" = 65000 ] || [ "$_o" = 65001 ]; } &&
          [ "$(now)" -lt $_end ]; do sleep 0.5; done
    echo "$_o"
}
subscribed() {      # both proxies say so (at most 20 s: each answers between frames)
    _end=$(($(now) + 20))
    while ! subscribed_now; do [ "$(now)" -lt $_end ] || return 1; sleep 1; done
}
subscribed_now() { pstatus pri | grep -q '"subscribed":true' && pstatus sec | grep -q '"subscribed":true'; }
# In the kernel datapath (at most 30 s: during a qemu restart the tap is
# briefly gone from it).
in_datapath() {
    _end=$(($(now) + 30))
    until ovs-appctl dpctl/show 2>/dev/null | grep -qE "port [0-9]+: $1( |\$)"; do
        [ "$(now)" -lt $_end ] || return 1; sleep 1
    done
}
show_ovs() {
    echo "---- Open vSwitch"
    { ovs-vsctl --timeout=10 show; ovs-appctl --timeout=10 dpctl/show
      for b in brn brp brs; do ovs-ofctl --timeout=10 dump-flows $b; ovs-appctl --timeout=10 fdb/show $b; done
    } 2>&1 | head -80 | sed 's/^/    /'
    show $OVSLOG/ovs-vswitchd.log 15
}
# A vif in VLAN $VLAN: the primary's patch pair is in it, and an outsider
# in another VLAN on the LAN cannot resolve the guest's address (a UDP
# datagram makes its kernel ask by ARP) - until it joins the VLAN, which
# shows the probe works.
resolves() {        # resolves SECONDS: the outsider learns the guest's MAC
    ip -n out neigh flush all
    _end=$(($(now) + $1))
    while [ "$(now)" -lt $_end ]; do
        ip netns exec out bash -c 'echo probe > /dev/udp/10.9.0.2/9' 2>/dev/null
        sleep 1
        ip -n out neigh show 10.9.0.2 | grep -q lladdr && return 0
    done
    return 1
}
# Before protection: an outsider (a netns on brn) in the guest's VLAN
# resolves its address - the probe works - and is then moved to VLAN+10.
outsider() {
    if ! { ip netns add out && ovs-vsctl --timeout=10 add-port brn out -- set Interface out type=internal \
               -- set Port out tag=$VLAN && ip link set out netns out &&
           ip -n out addr add 10.9.0.20/24 dev out && ip -n out link set out up; } > $W/out.log 2>&1; then
        fail "$S: an outsider on the LAN" "$(head -3 $W/out.log)"
        return
    fi
    check "$S: a host in VLAN $VLAN resolves the unprotected guest's address (the probe works)" resolves 30
    ovs-vsctl --timeout=10 set Port out tag=$OUT_VLAN
}
vlan_checks() {
    xa=$(ovs-vsctl --timeout=10 list-ports brp | grep -- '-xa$')
    check "$S: the primary's patch pair ${xa:-?} is in VLAN $VLAN" \
        test -n "$xa" -a "$(ovs-vsctl --timeout=10 get Port "$xa" tag 2>/dev/null)" = "$VLAN"
    check "$S: an outsider in VLAN $OUT_VLAN cannot resolve the protected guest's address" eval '! resolves 12'
    # A host that joins the VLAN while the guest is protected: measured,
    # not checked - one run resolved in 3 s, one not within 120 s
    # (docs/xen-lab.md; under TCG an ARP exchange may wait for checkpoints).
    ovs-vsctl --timeout=10 set Port out tag=$VLAN
    _t=$(now)
    if resolves 60; then _r="in $(($(now) - _t)) s"; else _r="NOT within 60 s"; fi
    echo "LAB-INFO $S: a host that joined VLAN $VLAN during protection resolved the guest's address $_r"
    case $_r in NOT*)
        _m=$(ip -n out -br link show out | awk '{print $3}')
        echo "LAB-INFO $S: comparator status $(pstatus pri)"
        echo "LAB-INFO $S: rewriter status $(pstatus sec)"
        ovs-appctl ofproto/trace brn "in_port=$(ovs-vsctl get Interface out ofport),dl_src=$_m,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_spa=10.9.0.20,arp_tpa=10.9.0.2,arp_op=1" 2>&1 |
            grep -E "^ *[0-9]+\.|->|Datapath|drop|bridge" | head -30 | sed 's/^/    /'
        show_ovs ;;
    esac
    ovs-vsctl --timeout=10 --if-exists del-port brn out; ip netns del out
}
ovs_stop() {
    ip link del p-fwd 2>/dev/null
    for p in ovs-vswitchd ovsdb-server; do
        [ -f /var/run/openvswitch/$p.pid ] && kill "$(cat /var/run/openvswitch/$p.pid)" 2>/dev/null
    done
    # The kernel datapath and its internal ports outlive ovs-vswitchd: the
    # next scenario of this boot starts from nothing.
    sleep 1; ovs-dpctl del-dp ovs-system 2>/dev/null
}

modprobe tun
rm -f /var/log/xen/ovs-site.log /var/log/xen/ovs-vif.log     # another run's in this boot
# Open vSwitch, its kernel datapath, default paths (ovs-vsctl and the
# hotplug scripts find it without settings, as on an operator's dom0).
if ! modprobe openvswitch 2>$W/modprobe.err; then
    infra "dom0 cannot load the openvswitch module: $(cat $W/modprobe.err)"
    return 0 2>/dev/null || exit 0
fi
mkdir -p /var/run/openvswitch /etc/openvswitch $OVSLOG
rm -f /etc/openvswitch/conf.db
if ! { ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema &&
       ovsdb-server /etc/openvswitch/conf.db --remote=punix:/var/run/openvswitch/db.sock \
           --pidfile --detach --log-file=$OVSLOG/ovsdb-server.log &&
       ovs-vsctl --timeout=20 --no-wait init &&
       ovs-vswitchd --pidfile --detach --log-file=$OVSLOG/ovs-vswitchd.log; } > $W/ovs-start.log 2>&1; then
    infra "Open vSwitch did not start in dom0"; show $W/ovs-start.log
    ovs_stop; return 0 2>/dev/null || exit 0
fi
ovs-vsctl --timeout=20 add-br brn -- add-br brp -- add-br brs \
    -- add-port brn lan0 -- set Interface lan0 type=internal \
    -- add-port brn n-p -- set Interface n-p type=patch options:peer=p-up \
    -- add-port brp p-up -- set Interface p-up type=patch options:peer=n-p \
    -- add-port brn n-s -- set Interface n-s type=patch options:peer=s-up \
    -- add-port brs s-up -- set Interface s-up type=patch options:peer=n-s \
    ${VLAN:+-- set Port lan0 tag=$VLAN} > $W/layout.log 2>&1 &&
    ip link add p-fwd type veth peer name s-fwd && ip link set p-fwd up && ip link set s-fwd up &&
    ip addr add 10.9.0.1/24 dev lan0 && ip link set lan0 up
check "$S: Open vSwitch (kernel datapath) runs in dom0 with the LAN, primary and secondary bridges" \
    sh -c "ovs-appctl dpctl/show 2>/dev/null | grep -q 'system@ovs-system' && ip -br addr show lan0 | grep -q 10.9.0.1" ||
    { show $W/layout.log; show_ovs; }

if boot_guest opvm 240 $CFG; then
    check "$S: the PVM's NIC is up on brp (its console says so)" grep -q "GUEST-NET-UP 10.9.0.2" $PLOG
    check "$S: the PVM answers the client before protection" answers 60 || show_ovs
    [ -z "$VLAN" ] || outsider
    t0=$(now)
    # shellcheck disable=SC2086
    xl-colo remus -c -i 3000 $TMO ${OVS_SAVE:+--save $OVS_SAVE} $LOPT -N $SITE -C $CFG -s '' opvm "$RECV" \
        > $W/remus.out 2> $W/remus.err &
    rpid=$!
    slog=$W/log/colo-opvm-secondary.log
    if wait_log $W/remus.err "is protected by COLO" 300; then
        pass "$S: opvm protected, its vif wired, in $(($(now) - t0)) s"
        [ -z "${OVS_SAVE:-}" ] ||
            check "$S: xl-colo --save $OVS_SAVE reached the primary (libxenguest's COLO save runs)" \
                grep -q "libxenguest's COLO save runs" $W/log/colo-opvm-primary.log
        [ -z "${OVS_RESTORE:-}" ] ||
            check "$S: migrate-receive --restore $OVS_RESTORE reached the secondary (libxenguest applied the first checkpoint)" \
                grep -q "libxenguest applied the first checkpoint" $slog
        svmid=$(xl domid opvm--colo-svm 2>/dev/null)
        tap=vif$svmid.0-emu ptap=vif$(xl domid opvm 2>/dev/null).0-emu
        if [ "$LAYOUT" = inline ]; then
            check "$S: in-line: $ptap-xc on brp and $tap-xf on brs, the taps and the forward link off the bridges, no flow" \
                eval '[ "$(ovs-vsctl --timeout=10 port-to-br $ptap-xc 2>/dev/null)" = brp ] &&
                      [ "$(ovs-vsctl --timeout=10 port-to-br $tap-xf 2>/dev/null)" = brs ] &&
                      ! ovs-vsctl --timeout=10 port-to-br $ptap > /dev/null 2>&1 &&
                      ! ovs-vsctl --timeout=10 port-to-br $tap > /dev/null 2>&1 &&
                      ! ovs-vsctl --timeout=10 port-to-br p-fwd > /dev/null 2>&1 &&
                      [ "$(cookie_flows brp)$(cookie_flows brs)" = 00 ]' || show_ovs
        else
            check "$S: COLO flows on both bridges (brp $(cookie_flows brp), brs $(cookie_flows brs))" \
                test "$(cookie_flows brp)" -ge 5 -a "$(cookie_flows brs)" -ge 4
            # Read between two of the SVM's checkpoints: during one its qemu,
            # and with it the tap, is being replaced (ofport -1 meanwhile).
            of0=$(stable_ofport $tap)
            check "$S: the SVM's tap $tap is port ${of0:-?} of brs" \
                test "$(ovs-vsctl --timeout=10 port-to-br $tap 2>/dev/null)" = brs -a "${of0:-0}" -gt 0
        fi
        check "$S: the comparator and the rewriter run, subscribed to their engines" subscribed
        [ -z "$VLAN" ] || vlan_checks
        # Three checkpoints later, three qemu-xen restarts of the SVM, each
        # with a new tap.
        n0=$(grep -c "qemu-xen restarted" $slog)
        _i=0
        while [ $_i -lt 180 ] && [ "$(grep -c "qemu-xen restarted" $slog)" -lt $((n0 + 3)) ]; do
            kill -0 $rpid 2>/dev/null || break
            sleep 1; _i=$((_i + 1))
        done
        nrs=$(grep -c "qemu-xen restarted" $slog)
        if [ "$LAYOUT" = inline ]; then
            ro=$(pstatus sec | field reopened)
            check "$S: after $nrs qemu-xen restarts the rewriter found the SVM's new tap each time (reopened ${ro:-?})" \
                test "$nrs" -ge $((n0 + 3)) -a "${ro:-0}" -ge 3
        else
            of1=$(stable_ofport $tap)
            check "$S: after $nrs qemu-xen restarts the SVM's tap is still port ${of1:-?} of brs" \
                test "$nrs" -ge $((n0 + 3)) -a "${of1:-x}" = "${of0:-y}" -a \
                     "$(ovs-vsctl --timeout=10 port-to-br $tap 2>/dev/null)" = brs
            check "$S: ... and in the kernel datapath" in_datapath $tap || show_ovs
        fi
        sv0=$(pstatus pri | field svm_frames)
        # Each round trip of the exchange may wait for a checkpoint: under
        # TCG the SVM, its qemu restarted at each one, answers too late to
        # be matched (svm-lag), and a checkpoint takes seconds here.
        check "$S: the client is answered through the comparator" answers 150 60
        sv1=$(pstatus pri | field svm_frames)
        echo "LAB-INFO ovs: comparator status $(pstatus pri)"
        check "$S: the SVM's frames reach the comparator through its newest tap (svm_frames ${sv0:-?} -> ${sv1:-?})" \
            test "${sv1:-0}" -gt "${sv0:-0}"
        # The primary host dies: xl-colo, its engine, its comparator, the PVM.
        kill -9 $rpid $(pgrep -f "colo-engine primary") $(cat $W/pri/opvm.vif0.pid 2>/dev/null) 2>/dev/null
        xl destroy opvm
        wait $rpid 2>/dev/null
        check "$S: the secondary fails over" wait_log $slog "FAILOVER" 60
        wait_log /var/log/xen/ovs-site.log "^failover mode=secondary" 30
        check "$S: its --on-failover switched the SVM's flows" grep -q "^failover mode=secondary" /var/log/xen/ovs-site.log
        if ! check "$S: the SVM answers the client after failover" answers 90; then
            show_ovs
            echo "LAB-INFO ovs: rewriter status $(pstatus sec)"
            ip neigh show dev lan0
            xl list
            grep -a "GUEST-NET" $PLOG | tail -12
        fi
    else
        fail "$S: opvm protected" "not within 300 s"
        kill -TERM $rpid 2>/dev/null; wait $rpid
        show_ovs
    fi
    show $W/remus.err 15
    tail -12 $W/log/colo-opvm-primary.log 2>/dev/null; tail -12 $slog 2>/dev/null
    show /var/log/xen/ovs-site.log 10
    show /var/log/xen/ovs-vif.log 10
    infra_if_triple_fault
fi
pkill -f "colo-engine .*$W/" 2>/dev/null; pkill -f "colo-proxy" 2>/dev/null
for d in opvm--colo-svm opvm; do xl destroy $d 2>/dev/null; done
ovs_stop
