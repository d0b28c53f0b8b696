/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The tracker with a fake clock: thresholds, windows, eviction. */
#include "check.h"
#include "core/tracker.h"

static const uint8_t key[16] = {9, 8, 7};
#define T0 1700000000000LL /* ms */
#define S(n) ((int64_t)(n) * 1000)

static Addr A(const char *s)
{
        Addr a;
        addr_parse_str(s, &a);
        return a;
}

/* A sequence of hits: at time t (s after T0), rule, expected count. */
typedef struct Step {
        int t;
        uint16_t rule;
        unsigned want;
} Step;

static const struct {
        const char *name;
        unsigned max_hits;
        int find_s;
        Step steps[8];
} cases[] = {
        {"three in a row", 3, 600, {{0, 1, 1}, {10, 1, 2}, {20, 1, 3}}},
        {"spread past the window", 3, 600, {{0, 1, 1}, {400, 1, 2}, {700, 1, 2}, {800, 1, 3}}},
        {"exactly at the window edge is out", 2, 600, {{0, 1, 1}, {600, 1, 1}, {601, 1, 2}}},
        {"rules count apart", 2, 600, {{0, 1, 1}, {1, 2, 1}, {2, 1, 2}}},
        {"max_hits 1 bans at once", 1, 600, {{0, 1, 1}}},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Tracker *t = tracker_new(100, key);
                Addr a = A("203.0.113.7");
                tracker_set_window(t, S(cases[i].find_s));
                for (size_t k = 0; k < 8 && cases[i].steps[k].want; k++) {
                        const Step *s = &cases[i].steps[k];
                        unsigned got = tracker_hit(t, &a, s->rule, S(cases[i].find_s), cases[i].max_hits,
                                                   T0 + S(s->t), NULL);
                        CHECK(got == s->want, "%s, step %zu: got %u want %u", cases[i].name, k, got, s->want);
                }
                tracker_free(t);
        }

        /* A rule with a short find_time under a long tracker window: old hits
           of that rule are dropped as new ones come (at most max_hits - 1 kept). */
        {
                Tracker *t = tracker_new(100, key);
                Addr a = A("203.0.113.9");
                tracker_set_window(t, S(600));
                CHECK_INT(tracker_hit(t, &a, 1, S(100), 3, T0 + S(0), NULL), 1, "t=0");
                CHECK_INT(tracker_hit(t, &a, 1, S(100), 3, T0 + S(200), NULL), 1, "t=200, t=0 is out");
                CHECK_INT(tracker_hit(t, &a, 1, S(100), 3, T0 + S(250), NULL), 2, "t=250");
                CHECK_INT(tracker_hit(t, &a, 1, S(100), 3, T0 + S(290), NULL), 3, "t=290 bans");
                for (int k = 0; k < 50; k++)
                        tracker_hit(t, &a, 2, S(100), 3, T0 + S(300 + k), NULL);
                CHECK_INT(tracker_count_hits(t, &a, 2, S(600), T0 + S(400)), 2, "rule 2 keeps max_hits - 1");
                tracker_free(t);
        }

        /* first hit time, and forgetting */
        {
                Tracker *t = tracker_new(100, key);
                Addr a = A("2001:db8::7");
                int64_t first = 0;
                tracker_set_window(t, S(600));
                tracker_hit(t, &a, 1, S(600), 5, T0 + S(5), &first);
                tracker_hit(t, &a, 1, S(600), 5, T0 + S(9), &first);
                CHECK_INT(first, T0 + S(5), "first hit");
                CHECK_INT(tracker_count(t), 1, "tracked");
                CHECK(tracker_forget(t, &a), "forget a tracked address");
                CHECK_INT(tracker_count(t), 0, "tracked after forget");
                CHECK_INT(tracker_hit(t, &a, 1, S(600), 5, T0 + S(10), NULL), 1, "count starts over");
                tracker_free(t);
        }

        /* expiry of stale addresses, and the cap with eviction of the oldest */
        {
                Tracker *t = tracker_new(3, key);
                Addr a1 = A("192.0.2.1"), a2 = A("192.0.2.2"), a3 = A("192.0.2.3"), a4 = A("192.0.2.4");
                tracker_set_window(t, S(60));
                tracker_hit(t, &a1, 1, S(60), 5, T0 + S(0), NULL);
                tracker_hit(t, &a2, 1, S(60), 5, T0 + S(1), NULL);
                tracker_hit(t, &a3, 1, S(60), 5, T0 + S(2), NULL);
                tracker_hit(t, &a1, 1, S(60), 5, T0 + S(3), NULL); /* a1 is now the newest */
                tracker_hit(t, &a4, 1, S(60), 5, T0 + S(4), NULL); /* evicts a2, the oldest */
                CHECK_INT(tracker_count(t), 3, "at the cap");
                CHECK_INT(tracker_evictions(t), 1, "one eviction");
                CHECK_INT(tracker_count_hits(t, &a2, 1, S(60), T0 + S(4)), 0, "a2 was evicted");
                CHECK_INT(tracker_count_hits(t, &a1, 1, S(60), T0 + S(4)), 2, "a1 kept its hits");
                tracker_expire(t, T0 + S(62)); /* a3 (last hit at 2 s) is out of the window */
                CHECK_INT(tracker_count(t), 2, "expired one");
                tracker_expire(t, T0 + S(1000));
                CHECK_INT(tracker_count(t), 0, "expired all");
                tracker_free(t);
        }

        /* Each hit also forgets a few stale addresses (at most 4), without a timer. */
        {
                Tracker *t = tracker_new(100, key);
                Addr a = A("192.0.2.0"), b = A("198.51.100.1");
                tracker_set_window(t, S(60));
                for (uint8_t i = 1; i <= 6; i++) {
                        a.b[15] = i;
                        tracker_hit(t, &a, 1, S(60), 5, T0, NULL);
                }
                CHECK_INT(tracker_count(t), 6, "six tracked");
                tracker_hit(t, &b, 1, S(60), 5, T0 + S(61), NULL);
                CHECK_INT(tracker_count(t), 3, "a hit later forgets four stale ones, and adds its own");
                tracker_hit(t, &b, 1, S(60), 5, T0 + S(62), NULL);
                CHECK_INT(tracker_count(t), 1, "the next hit forgets the rest");
                tracker_free(t);
        }

        /* A network's count (daemon: max_hits x ipv6_net_factor, up to 1000 x 64; a hit costs
           O(hits kept), so the large case stays moderate under the sanitizers):
           the threshold is reached exactly, and at most need - 1 times are kept. */
        {
                static const unsigned needs[] = {9, 45, 6400};
                for (size_t k = 0; k < sizeof(needs) / sizeof(needs[0]); k++) {
                        Tracker *t = tracker_new(10, key);
                        Addr net = A("2001:db8:5:6::");
                        unsigned need = needs[k], got = 0, at = 0;
                        size_t base = tracker_memory(t);
                        tracker_set_window(t, S(600));
                        for (unsigned i = 1; i <= need + 5 && !at; i++) {
                                got = tracker_hit(t, &net, 3, S(600), need, T0, NULL);
                                if (got >= need)
                                        at = i;
                        }
                        CHECK(at == need, "need %u: reached at hit %u, want %u", need, at, need);
                        CHECK(tracker_memory(t) - base <= 2 * need * 8 + 4096 * 64 + 1024,
                              "need %u: memory grew by %zu", need, tracker_memory(t) - base);
                        tracker_free(t);
                }
        }

        /* Many addresses: memory stays near 64 bytes of entry plus the index. */
        {
                Tracker *t = tracker_new(1000000, key);
                Addr a = A("10.0.0.0");
                tracker_set_window(t, S(600));
                for (uint32_t i = 0; i < 100000; i++) {
                        a.b[13] = (uint8_t)(i >> 16);
                        a.b[14] = (uint8_t)(i >> 8);
                        a.b[15] = (uint8_t)i;
                        tracker_hit(t, &a, 1, S(600), 5, T0, NULL);
                }
                CHECK_INT(tracker_count(t), 100000, "100k tracked");
                CHECK(tracker_memory(t) / 100000 <= 128, "bytes per address: got %zu want <= 128",
                      tracker_memory(t) / 100000);
                tracker_free(t);
        }
        return check_done();
}
