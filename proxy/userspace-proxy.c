/* userspace-proxy.c - see userspace-proxy.h. */
#include <string.h>

#include "userspace-proxy.h"

static int is(const uint8_t *msg, size_t len, const char *s)
{
    return len == strlen(s) && !memcmp(msg, s, len);
}

enum up_msg up_classify(const uint8_t *msg, size_t len)
{
    if (is(msg, len, UP_INIT))
        return UP_MSG_INIT;
    if (is(msg, len, UP_CHECKPOINT))
        return UP_MSG_CHECKPOINT;
    return UP_MSG_UNKNOWN;
}
