# two: two HVM guests boot side by side, floating over both pCPUs as xl
# places them by default (not pinned: the guests of the other scenarios
# are).  xen-lab-notes saw 2 of 4 runs hang while a second HVM guest
# booted, a dom0 vCPU at 100 % in a user process; this scenario repeats
# that setup so boots under each FPU mode can be counted (docs/xen-lab.md).
W=/tmp/two; mkdir -p $W
for g in hvma hvmb; do
    sed -e '/^cpus/d' -e "s/pvm/$g/g" /lab/guests/pvm.cfg > /lab/guests/$g.cfg
done
xl dmesg | grep -E 'Support for PV VMs' | sed 's/^/LAB-INFO /'
if boot_guest hvma 240; then
    if boot_guest hvmb 240; then
        sleep 10
        for g in hvma hvmb; do
            t1=$(last_tick /var/log/xen/console/guest-$g.log); sleep 5
            t2=$(last_tick /var/log/xen/console/guest-$g.log)
            check "two: guest $g runs beside the other (tick ${t1:-none} -> ${t2:-none})" \
                test -n "$t1" -a -n "$t2" -a "${t2:-0}" -gt "${t1:-0}"
            check "two: guest $g's memory self-check holds" \
                test -z "$(grep CORRUPT /var/log/xen/console/guest-$g.log)"
        done
    fi
    infra_if_triple_fault
fi
xl destroy hvmb 2>/dev/null; xl destroy hvma 2>/dev/null
true
