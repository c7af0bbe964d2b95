/* colo-json.c - see colo-json.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-json.h"

void colo_json_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void colo_json_kstr(yajl_gen g, const char *key, const char *value)
{
    colo_json_str(g, key);
    colo_json_str(g, value);
}

void colo_json_num(yajl_gen g, const char *key, uint64_t v)
{
    colo_json_str(g, key);
    yajl_gen_integer(g, (long long)v);
}

void colo_json_ms(yajl_gen g, const char *key, uint64_t ns)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%" PRIu64 ".%03" PRIu64, ns / 1000000, ns / 1000 % 1000);

    /* Milliseconds to the microsecond, written as such: yajl's doubles
     * come out as 0.29599999999999998535. */
    colo_json_str(g, key);
    yajl_gen_number(g, num, (size_t)n);
}

int colo_json_finish(yajl_gen g, char **out, size_t *len)
{
    const unsigned char *buf;
    size_t blen;
    int rc = -1;

    if (yajl_gen_get_buf(g, &buf, &blen) == yajl_gen_status_ok && (*out = malloc(blen + 1))) {
        memcpy(*out, buf, blen);
        (*out)[blen] = '\0';
        if (len)
            *len = blen;
        rc = 0;
    }
    yajl_gen_free(g);
    return rc;
}
