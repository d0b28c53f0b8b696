/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * source: the registry of log sources and the calls that dispatch to a
 * source's class (see source.h).  A new source adds its class to
 * `classes` below; nothing else here knows one source from another.
 *
 * Security: nothing here reads input; the classes do, and say so.
 */
#include "source/source.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

/* The registry: one line a source (its class is defined in its own file). */
extern const LogSourceClass file_source_class, journal_source_class;
static const LogSourceClass *const classes[] = {
        &file_source_class,
        &journal_source_class,
};

const LogSourceClass *source_class(const char *kind)
{
        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                if (streq(classes[i]->kind, kind))
                        return classes[i];
        return NULL;
}

const char *const *source_kinds(void)
{
        static const char *kinds[ELEMENTSOF(classes) + 1];

        if (!kinds[0])
                for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                        kinds[i] = classes[i]->kind;
        return kinds;
}

int source_new(LogSource **out, const char *kind, struct ev_loop *loop, const SourceSettings *set,
               const LogSourceOps *ops, void *ctx)
{
        const LogSourceClass *cls = source_class(kind);
        int r;

        *out = NULL;
        if (!cls)
                return -EINVAL;
        r = cls->create(out, loop, set, ops, ctx);
        if (r < 0)
                return r;
        (*out)->cls = cls;
        (*out)->ops = ops;
        (*out)->ctx = ctx;
        return 0;
}

LogSource *source_free(LogSource *s)
{
        if (s)
                s->cls->free(s);
        return NULL;
}

int source_start(LogSource *s, const char *position, bool from_beginning, char **why)
{
        *why = NULL;
        return s->cls->start(s, position, from_beginning, why);
}

void source_poll(LogSource *s) { s->cls->poll(s); }
int source_read_all(LogSource *s) { return s->cls->read_all(s); }
char *source_position(LogSource *s) { return s->cls->position(s); }
const char *source_problem(const LogSource *s) { return s->cls->problem(s); }
void source_status(const LogSource *s, Buf *out) { s->cls->status(s, out); }
void source_summary(const LogSource *s, Buf *out) { s->cls->summary(s, out); }
const char *source_kind(const LogSource *s) { return s->cls->kind; }
const char *source_label(const LogSource *s) { return s->label; }
const char *source_what(const LogSource *s) { return s->what; }
const SourceCounts *source_counts(const LogSource *s) { return &s->counts; }

void source_configure(LogSource *s, const SourceSettings *set)
{
        if (s->cls->configure)
                s->cls->configure(s, set);
}

void source_report(LogSource *s, int prio, SourceEvent ev, const char *fmt, ...)
{
        char text[4096 + 256];
        va_list ap;

        if (!s->ops->report)
                return;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        s->ops->report(s->ctx, prio, ev, text);
}
