/* colo-backend.c - the table of domain backends. */
#include <string.h>

#include "colo-backend.h"

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
