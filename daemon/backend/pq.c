/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * pq: libpq by dlopen() (see pq.h for why).  The library is opened once,
 * RTLD_NOW so that a missing symbol shows at the start of the fleet and
 * not at its first query, and never closed: the fleet's connection lives
 * as long as the process.  The name is libpq's soname, as the package
 * libpq5 installs it; the build checks the prototypes against
 * libpq-fe.h, so a libpq with another ABI would have another soname.
 */
#include "backend/pq.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>

#define PQ_SONAME "libpq.so.5"

static PqLib lib;
const PqLib *pq_lib;
static const char *load_error;

int pq_load(const char **why)
{
        void *h;

        if (pq_lib)
                return 0;
        if (load_error)
                goto fail;
        h = dlopen(PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                load_error = dlerror();
                goto fail;
        }
#define PQ_LOAD(f)                                                                                            \
        if (!(*(void **)&lib.f = dlsym(h, #f))) {                                                             \
                load_error = PQ_SONAME " has no " #f;                                                         \
                goto fail;                                                                                    \
        }
        PQ_FUNCTIONS(PQ_LOAD)
#undef PQ_LOAD
        pq_lib = &lib;
        return 0;
fail:
        if (why)
                *why = load_error ? load_error : "cannot load " PQ_SONAME;
        return -ENOENT;
}

bool pq_loaded(void) { return pq_lib != NULL; }
