/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the state-file parser (state_parse), with a round trip: a state
 * that parses renders to a text that parses to the same state and renders
 * to the same text again.
 *
 * A random text almost never ends with the right record count and hash,
 * so an input whose first byte is '+' is a body: the harness appends the
 * end line that makes it whole (its count is the number of lines after
 * the first), and the parser's record checks are reached.
 */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "service/state.h"

static void same_state(const State *a, const State *b)
{
        FUZZ_CHECK((!a->source && !b->source) || (a->source && b->source && streq(a->source, b->source)), "source");
        FUZZ_CHECK((!a->position && !b->position) ||
                           (a->position && b->position && streq(a->position, b->position)),
                   "position");
        FUZZ_CHECK(a->n_bans == b->n_bans, "n_bans");
        for (size_t i = 0; i < a->n_bans; i++) {
                const StateBan *x = &a->bans[i], *y = &b->bans[i];
                FUZZ_CHECK(addr_equal(&x->addr, &y->addr) && x->plen == y->plen && streq(x->rule, y->rule) &&
                                   x->active == y->active && x->manual == y->manual && x->count == y->count &&
                                   x->hits == y->hits && x->first_hit_ms == y->first_hit_ms &&
                                   x->last_hit_ms == y->last_hit_ms && x->banned_ms == y->banned_ms &&
                                   x->expires_ms == y->expires_ms,
                           "ban %zu", i);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_buf_ Buf in = {0}, out = {0}, out2 = {0};
        _cleanup_free_ char *why = NULL, *why2 = NULL;
        State s = {0}, s2 = {0};
        int r;

        if (size && data[0] == '+') {
                size_t lines = 0;
                buf_append(&in, data + 1, size - 1);
                if (in.len && in.data[in.len - 1] != '\n')
                        buf_append(&in, "\n", 1);
                for (size_t i = 0; i < in.len; i++)
                        lines += in.data[i] == '\n';
                buf_printf(&in, "end %zu %016" PRIx64 "\n", lines ? lines - 1 : 0, fnv1a(in.data, in.len));
        } else
                buf_append(&in, data, size);

        r = state_parse(in.data, in.len, &s, &why);
        FUZZ_CHECK(r == 0 || r == -EBADMSG, "r=%d", r);
        FUZZ_CHECK((r == 0) == !why, "r=%d, why=%s", r, why ? why : "none");
        if (r < 0)
                return 0;
        FUZZ_CHECK(!s.source == !s.position, "a source without a position, or the reverse");
        for (size_t i = 0; i < s.n_bans; i++)
                FUZZ_CHECK(s.bans[i].plen <= addr_host_plen(&s.bans[i].addr), "ban %zu: /%u", i, s.bans[i].plen);

        state_render(&s, &out);
        r = state_parse(out.data, out.len, &s2, &why2);
        FUZZ_CHECK(r == 0, "the rendered state does not parse: %s\n%s", why2, out.data);
        same_state(&s, &s2);
        state_render(&s2, &out2);
        FUZZ_CHECK(out.len == out2.len && !memcmp(out.data, out2.data, out.len), "rendered twice, two texts");
        state_clear(&s);
        state_clear(&s2);
        return 0;
}
