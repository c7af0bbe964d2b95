# fpu: a dom0 process keeps its vector registers while an HVM guest shares
# its CPU.  dom0 processes crashed in many boots (docs/xen-lab.md); a
# process whose registers change under it would crash just so.  Xen
# switches between dom0's vCPU 1 and the guests on pCPU 1, and this is
# the check that its switches, as the emulation runs them, lose nothing.
xl dmesg | grep -E 'Support for (PV|HVM) VMs' | sed 's/^/LAB-INFO /'
for m in avx sse; do
    echo "LAB-INFO dom0 alone: $(lab-fpu-check $m 10 1 2>&1)"
done
if boot_guest pvm 240; then
    for m in avx sse; do
        r=$(lab-fpu-check $m 45 1 2>&1)
        echo "LAB-INFO beside a guest: $r"
        case $r in
        *" bad=0"*) pass "fpu: dom0's $m registers survive vCPU switches beside a guest" ;;
        *) fail "fpu: dom0's $m registers survive vCPU switches beside a guest" "$r" ;;
        esac
    done
    infra_if_triple_fault
    xl destroy pvm
fi
