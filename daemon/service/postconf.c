/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * postconf: a queue of postconf(1) questions on the loop (see
 * postconf.h).  Security: the command comes from the config (trusted)
 * and runs without a shell; its output is only read, up to 1 MB.
 */
#include "service/postconf.h"

#include <errno.h>
#include <sys/wait.h>

#include "util/child.h"
#include "util/util.h"

#define TIMEOUT_MS 10000
#define OUTPUT_MAX (1 << 20)

typedef struct Question {
        char **argv;
        PostconfFn fn;
        void *ctx;
} Question;

struct Postconf {
        ChildRun *run;
        Question *q; /* q[0] runs when the runner is busy */
        size_t n, cap;
};

static void next(Postconf *p);

static void drop_first(Postconf *p)
{
        strv_free(p->q[0].argv);
        memmove(p->q, p->q + 1, (p->n - 1) * sizeof(Question));
        p->n--;
}

static void answered(void *ctx, const ChildResult *res)
{
        Postconf *p = ctx;
        Question q = p->q[0];
        int r = res->timed_out                                            ? -ETIMEDOUT
                : WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0 ? 0
                                                                          : -EIO;

        q.argv = NULL;
        drop_first(p);
        q.fn(q.ctx, r, res->out);
        next(p);
}

/* Start the first question; one that cannot start is answered at once. */
static void next(Postconf *p)
{
        while (p->n && !child_run_busy(p->run)) {
                int r = child_run_exec(p->run, p->q[0].argv, TIMEOUT_MS, OUTPUT_MAX);
                if (r == 0)
                        return;
                Question q = p->q[0];
                drop_first(p);
                q.fn(q.ctx, r, "");
        }
}

Postconf *postconf_new(struct ev_loop *loop)
{
        Postconf *p = xcalloc(1, sizeof(Postconf));

        p->run = child_run_new(loop, answered, p);
        return p;
}

void postconf_cancel(Postconf *p)
{
        child_run_stop(p->run);
        while (p->n) {
                Question q = p->q[0];
                drop_first(p);
                q.fn(q.ctx, -ECANCELED, "");
        }
}

Postconf *postconf_free(Postconf *p)
{
        if (!p)
                return NULL;
        postconf_cancel(p);
        child_run_free(p->run);
        free(p->q);
        free(p);
        return NULL;
}

void postconf_ask(Postconf *p, char *const *postconf_argv, const char *a1, const char *a2, PostconfFn fn,
                  void *ctx)
{
        size_t n = strv_length((char **)postconf_argv);
        char **argv = xcalloc(n + 3, sizeof(char *));

        for (size_t i = 0; i < n; i++)
                argv[i] = xstrdup(postconf_argv[i]);
        argv[n] = xstrdup(a1);
        if (a2)
                argv[n + 1] = xstrdup(a2);
        GROW(p->q, p->cap, p->n + 1);
        p->q[p->n++] = (Question){argv, fn, ctx};
        next(p);
}
