/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * util: the small helpers shared by every module, one file per job, and
 * this header that includes them all (a module may include just the one
 * it needs).
 *
 * Error convention (used everywhere in daemon/): functions return int, 0 on
 * success and -errno on failure.  Running out of memory is not an error a
 * mail filter can handle sensibly, so the x*() allocators abort instead of
 * returning NULL, and no caller has a half-handled NULL path.  A broken
 * invariant is a bug: it panics (util/panic.h).  Library modules never log:
 * they return -errno and a reason (a Diags, or a message the caller asked
 * for), and the service layer logs.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/child.h"
#include "util/diag.h"
#include "util/duration.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/macro.h"
#include "util/panic.h"
#include "util/pfsyntax.h"
#include "util/str.h"
