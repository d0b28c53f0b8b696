/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Questions to Postfix's postconf(1), answered on the loop: a reload
 * must not wait for postconf (up to its 10 s timeout) with the log, the
 * control socket and the map writes stopped.  The questions run one at a
 * time, in order, through util/child's runner; each answer goes to its
 * callback when it arrives.
 */

#include <stddef.h>

struct ev_loop;
typedef struct Postconf Postconf;

/*
 * r: 0 with postconf's output in out; -EIO if it failed (out: what it
 * said); -ETIMEDOUT; -errno if it could not run; -ECANCELED if the
 * question was dropped (postconf_cancel, postconf_free): then only free
 * what ctx holds.
 */
typedef void (*PostconfFn)(void *ctx, int r, const char *out);

Postconf *postconf_new(struct ev_loop *loop);
/* Every question not answered yet gets -ECANCELED. */
Postconf *postconf_free(Postconf *p);
/* Ask "postconf_argv... a1 [a2]" (a2 may be NULL). */
void postconf_ask(Postconf *p, char *const *postconf_argv, const char *a1, const char *a2, PostconfFn fn,
                  void *ctx);
/* Drop every question not answered yet (a newer reload asks again). */
void postconf_cancel(Postconf *p);
