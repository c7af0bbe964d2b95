/*
 * test-userspace-proxy.c - Xen libxl's notify messages are recognised by
 * their exact bytes, as colo-compare does: no prefix, no trailing NUL, no
 * other case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "userspace-proxy.h"

static enum up_msg cls(const char *s, size_t len)
{
    return up_classify((const uint8_t *)s, len);
}

static void test_exact_messages(void **state)
{
    (void)state;
    assert_int_equal(cls("COLO_USERSPACE_PROXY_INIT", 25), UP_MSG_INIT);
    assert_int_equal(cls("COLO_CHECKPOINT", 15), UP_MSG_CHECKPOINT);
}

static void test_near_misses(void **state)
{
    (void)state;
    assert_int_equal(cls("COLO_CHECKPOINT", 16), UP_MSG_UNKNOWN);        /* with its NUL */
    assert_int_equal(cls("COLO_CHECKPOIN", 14), UP_MSG_UNKNOWN);         /* cut short */
    assert_int_equal(cls("COLO_CHECKPOINTS", 16), UP_MSG_UNKNOWN);
    assert_int_equal(cls("colo_checkpoint", 15), UP_MSG_UNKNOWN);
    assert_int_equal(cls("DO_CHECKPOINT", 13), UP_MSG_UNKNOWN);          /* ours, not libxl's */
    assert_int_equal(cls("COLO_COMPARE_GET_XEN_INIT", 25), UP_MSG_UNKNOWN);
    assert_int_equal(cls("", 0), UP_MSG_UNKNOWN);
    assert_int_equal(strlen(UP_INIT_REPLY), 25);
    assert_int_equal(strlen(UP_DO_CHECKPOINT), 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_messages),
        cmocka_unit_test(test_near_misses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
