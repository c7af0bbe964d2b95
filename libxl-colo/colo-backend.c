/* colo-backend.c - the table of domain backends. */
#include <stdbool.h>
#include <string.h>

#include "colo-backend.h"
#include "colo-proto.h"

static const struct colo_backend *const backends[] = {
    &colo_backend_sim,
    &colo_backend_xen,
};

const struct colo_backend *colo_backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

bool colo_page_is_zero(const void *page)
{
    const unsigned char *p = page;

    /* Byte 0 is zero and every byte equals the next: all zero. */
    return p[0] == 0 && memcmp(p, p + 1, COLO_PAGE_SIZE - 1) == 0;
}
