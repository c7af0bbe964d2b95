/* colo-json.c - see colo-json.h. */
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
    colo_json_str(g, key);
    yajl_gen_double(g, (double)(ns / 1000) / 1000.0);
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
