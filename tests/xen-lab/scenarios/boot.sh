# boot: the lab itself works - an HVM guest boots on Xen and its dirtier
# runs and checks its memory.
if boot_guest pvm 240; then
    pass "an HVM guest boots and its dirtier runs"
    sleep 5
    check "the dirtier's self-check holds" test -z "$(grep CORRUPT /var/log/xen/console/guest-pvm.log)"
    check "the guest is HVM" sh -c "xl list -l pvm | grep -q '\"type\": \"hvm\"'"
fi
