/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "check.h"
#include "core/health.h"

#define H (3600 * 1000LL)

/* Feed n lines of one kind; returns the changes seen, as a bit set of HealthChange. */
static unsigned feed(Health *h, unsigned n, int kind, int64_t *t, int64_t step)
{
        unsigned seen = 0;

        for (unsigned i = 0; i < n; i++) {
                HealthChange c;
                *t += step;
                if (kind == 'u')
                        c = health_unparsed(h);
                else
                        c = health_record(h, kind != 'o', kind == 'm', *t);
                seen |= 1u << c;
        }
        return seen & ~1u;
}

int main(void)
{
        static const struct {
                const char *what;
                struct {
                        unsigned n;
                        int kind; /* u: no header, p: smtpd line, m: a match, o: another program's line */
                        int64_t step;
                        unsigned want; /* changes seen over these lines */
                } steps[4];
        } cases[] = {
                {"a changed timestamp format: said once, and once when it is back",
                 {{1000, 'p', 1000, 0}, {1000, 'u', 1000, 1u << HEALTH_UNPARSED_START}, {2000, 'u', 1000, 0},
                  {400, 'p', 1000, 1u << HEALTH_UNPARSED_END}}},
                {"a few bad lines among good ones are no episode",
                 {{1000, 'p', 1000, 0}, {50, 'u', 1000, 0}, {150, 'p', 1000, 0}, {90, 'u', 1000, 0}}},
                {"half and half: hysteresis, neither start nor end",
                 {{100, 'u', 1000, 0}, {100, 'p', 1000, 0}, {100, 'u', 1000, 0}, {100, 'p', 1000, 0}}},
                {"smtpd lines for 7 h without a match: silent once; a match ends it",
                 {{3000, 'p', 9000, 1u << HEALTH_SILENT_START}, {3000, 'p', 9000, 0},
                  {1, 'm', 1000, 1u << HEALTH_SILENT_END}, {10, 'p', 1000, 0}}},
                {"many lines, but in less than 6 h: not silent",
                 {{100000, 'p', 100, 0}, {0, 'p', 0, 0}, {0, 'p', 0, 0}, {0, 'p', 0, 0}}},
                {"7 h of few lines: not silent",
                 {{1000, 'p', 30000, 0}, {0, 'p', 0, 0}, {0, 'p', 0, 0}, {0, 'p', 0, 0}}},
                {"another program's lines (an outbound-only server) are not silence",
                 {{5000, 'o', 9000, 0}, {0, 'p', 0, 0}, {0, 'p', 0, 0}, {0, 'p', 0, 0}}},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Health h = {0};
                int64_t t = 1796119200000LL;
                for (size_t s = 0; s < 4; s++) {
                        unsigned got = feed(&h, cases[i].steps[s].n, cases[i].steps[s].kind, &t,
                                            cases[i].steps[s].step);
                        CHECK(got == cases[i].steps[s].want, "%s, step %zu: got changes %#x want %#x", cases[i].what,
                              s, got, cases[i].steps[s].want);
                }
        }
        {
                Health h = {0};
                int64_t t = 0;
                char buf[256];
                CHECK(health_problem(&h, buf, sizeof(buf)) == NULL, "no problem at first");
                feed(&h, 200, 'u', &t, 1000);
                CHECK(health_problem(&h, buf, sizeof(buf)) && strstr(buf, "100% of the last 200"),
                      "the problem names the share: got '%s'", buf);
        }
        return check_done();
}
