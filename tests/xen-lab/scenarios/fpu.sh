# fpu: a dom0 process keeps its vector registers while an HVM guest shares
# its CPU.  dom0 processes crashed in many boots (docs/xen-lab.md); a
# process whose registers change under it would crash just so.  Xen
# switches between dom0's vCPU 1 and the guests on pCPU 1, and this is
# the check that its switches, as the emulation runs them, lose nothing.
xl dmesg | grep -E 'Support for (PV|HVM) VMs' | sed 's/^/LAB-INFO /'
for m in avx sse; do
    fpu_check $m 10; echo "LAB-INFO dom0 alone: $_r"
done
if boot_guest pvm 240; then
    for m in avx sse; do
        fpu_check $m 45; ok=$?
        echo "LAB-INFO beside a guest: $_r"
        if [ $ok -eq 0 ]; then pass "fpu: dom0's $m registers survive vCPU switches beside a guest"
        else fail "fpu: dom0's $m registers survive vCPU switches beside a guest" "$_r"; fi
    done
    infra_if_triple_fault
    xl destroy pvm
fi
