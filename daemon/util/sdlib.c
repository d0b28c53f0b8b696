/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * sdlib: libsystemd by dlopen() (see sdlib.h for why).  The library is
 * opened once, RTLD_NOW so that a missing symbol shows at the first use and
 * not in the middle of reading, and never closed: a journal handle or the
 * journal log target lives as long as the process.  The name is
 * libsystemd's soname (package libsystemd0); the build checks the
 * prototypes against sd-journal.h, and a libsystemd with another ABI would
 * have another soname.
 *
 * Security: the soname is a constant; the dynamic loader's own search
 * path (root's) decides where it comes from, as it would for a linked
 * library.
 */
#include "util/sdlib.h"

#include <dlfcn.h>
#include <errno.h>

#define SD_SONAME "libsystemd.so.0"

static SdLib lib;
const SdLib *sd_lib;
static const char *load_error;

int sdlib_load(const char **why)
{
        void *h;

        if (sd_lib)
                return 0;
        if (load_error)
                goto fail;
        h = dlopen(SD_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                load_error = dlerror();
                goto fail;
        }
#define SD_LOAD(f)                                                                                           \
        if (!(*(void **)&lib.f = dlsym(h, #f))) {                                                            \
                load_error = SD_SONAME " has no " #f;                                                        \
                goto fail;                                                                                   \
        }
        SD_FUNCTIONS(SD_LOAD)
#undef SD_LOAD
        sd_lib = &lib;
        return 0;
fail:
        if (why)
                *why = load_error ? load_error : "cannot load " SD_SONAME;
        return -ENOENT;
}

bool sdlib_loaded(void)
{
        return sd_lib != NULL;
}
