/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bans with a fake clock: expiry and forget order, covering networks,
   per-network host counts, listing, and the escalation formula. */
#include "core/banset.h"
#include "check.h"
#include "util/util.h"

static const uint8_t key[16] = {1, 2, 3};

static Addr A(const char *s)
{
        Addr a;
        addr_parse_str(s, &a);
        return a;
}

static Ban *add(Banset *b, const char *addr, uint8_t plen, int64_t expires)
{
        Addr a = A(addr);
        Ban *ban = banset_upsert(b, &a, plen);
        ban->count++;
        banset_activate(b, ban, expires);
        return ban;
}

#define H (3600 * 1000ULL)

static const struct {
        uint64_t base;
        uint32_t count;
        double factor;
        uint64_t max;
        uint64_t want;
} escalate[] = {
        {1 * H, 1, 2, 168 * H, 1 * H},      /* the first ban: the rule's time */
        {1 * H, 2, 2, 168 * H, 2 * H},      /* then doubled */
        {1 * H, 3, 2, 168 * H, 4 * H},
        {1 * H, 8, 2, 168 * H, 128 * H},
        {1 * H, 9, 2, 168 * H, 168 * H},    /* capped at the maximum */
        {1 * H, 1000, 2, 168 * H, 168 * H}, /* however many */
        {1 * H, 3, 1.5, 168 * H, 2250 * 3600ULL},
        {1 * H, 5, 1, 168 * H, 1 * H},      /* factor 1: no escalation */
        {200 * H, 3, 2, 168 * H, 200 * H},  /* a base above the cap stays */
        {0, 5, 2, 168 * H, 0},              /* forever stays forever */
        {1 * H, 4, 2, 0, 8 * H},            /* no cap */
        {1 * H, 1000, 2, 0, 1000000000000000ULL}, /* ... but no overflow */
};

int main(void)
{
        Banset *b = banset_new(key);
        Ban *ban;
        char text[ADDR_STRLEN];
        static const struct {
                const char *addr;
                int64_t expires;
        } bans[] = {
                {"192.0.2.5", 500}, {"192.0.2.1", 100}, {"2001:db8::1", 300}, {"192.0.2.9", 0 /* never */},
                {"192.0.2.3", 200}, {"2001:db8::2", 100},
        };
        const char *expiry_order[] = {"192.0.2.1", "2001:db8::2", "192.0.2.3", "2001:db8::1", "192.0.2.5"};

        for (size_t i = 0; i < sizeof(escalate) / sizeof(escalate[0]); i++) {
                uint64_t got = banset_escalate(escalate[i].base, escalate[i].count, escalate[i].factor, escalate[i].max);
                CHECK(got == escalate[i].want, "escalate(%llu, %u, %g, %llu): got %llu want %llu",
                      (unsigned long long)escalate[i].base, escalate[i].count, escalate[i].factor,
                      (unsigned long long)escalate[i].max, (unsigned long long)got, (unsigned long long)escalate[i].want);
        }

        for (size_t i = 0; i < sizeof(bans) / sizeof(bans[0]); i++)
                add(b, bans[i].addr, strchr(bans[i].addr, ':') ? 128 : 32, bans[i].expires);
        CHECK_INT(banset_active(b), 6, "active");
        CHECK_INT(banset_next_due(b), 100, "next due");

        /* Listing is sorted: IPv4 numerically, then IPv6. */
        {
                Ban **v;
                size_t n = banset_list(b, true, &v);
                const char *want[] = {"192.0.2.1", "192.0.2.3", "192.0.2.5", "192.0.2.9", "2001:db8::1", "2001:db8::2"};
                CHECK_INT(n, 6, "listed");
                for (size_t i = 0; i < n && i < 6; i++)
                        CHECK_STR(addr_format(&v[i]->addr, text), want[i], "list order");
                free(v);
        }

        /* Nothing is due before its time; then in order of expiry.  Expired
           records are kept (inactive) until their forget time. */
        CHECK(banset_pop_due(b, 99) == NULL, "nothing due at 99");
        for (size_t i = 0; i < 5; i++) {
                ban = banset_pop_due(b, 1000);
                CHECK(ban != NULL && ban->active, "expiry %zu", i);
                if (!ban)
                        break;
                CHECK_STR(addr_format(&ban->addr, text), expiry_order[i], "expiry order");
                banset_deactivate(b, ban, 10000 + (int64_t)i); /* remember until then */
        }
        CHECK_INT(banset_active(b), 1, "only the permanent ban is active");
        CHECK_INT(banset_records(b), 6, "expired records are remembered");
        CHECK_INT(banset_next_due(b), 10000, "next: the first forget time");

        /* Re-activating an inactive record moves it in the heap. */
        {
                Addr a = A("192.0.2.1");
                ban = banset_get(b, &a, 32);
                CHECK(ban && !ban->active && ban->count == 1, "a remembered record");
                banset_activate(b, ban, 5000);
                CHECK_INT(banset_next_due(b), 5000, "re-activated");
                banset_activate(b, ban, 4000);
                CHECK_INT(banset_next_due(b), 4000, "rescheduled earlier");
        }

        /* Forget times come due after the expiry, and the caller removes. */
        {
                size_t forgotten = 0;
                ban = banset_pop_due(b, 4500);
                CHECK(ban && ban->active, "192.0.2.1 expires again at 4000");
                if (ban)
                        banset_deactivate(b, ban, 20000);
                while ((ban = banset_pop_due(b, 15000))) {
                        CHECK(!ban->active, "only inactive records are due now");
                        banset_remove(b, ban);
                        forgotten++;
                }
                CHECK_INT(forgotten, 4, "the four other expired records are forgotten");
                CHECK_INT(banset_records(b), 2, "left: the permanent ban and 192.0.2.1");
                CHECK_INT(banset_next_due(b), 20000, "192.0.2.1's forget time");
        }

        /* A network ban covers its addresses, not others; a host ban covers only itself. */
        {
                Addr in = A("2001:db8:1:2::77"), out = A("2001:db8:1:3::1"), host = A("192.0.2.9");
                add(b, "2001:db8:1:2::", 64, 0);
                ban = banset_covering(b, &in);
                CHECK(ban && ban->plen == 64, "the /64 covers an address in it");
                CHECK(banset_covering(b, &out) == NULL, "the /64 does not cover the next /64");
                CHECK(banset_covering(b, &host) != NULL, "host ban covers the host");
                in = A("192.0.2.10");
                CHECK(banset_covering(b, &in) == NULL, "host ban covers nothing else");
        }
        banset_free(b);

        /* Active IPv6 hosts per /64, kept as bans start and end. */
        {
                Banset *n = banset_new(key);
                Addr probe = A("2001:db8:aa:bb::1");
                Ban *h1, *h3;
                banset_set_net_prefix(n, 64);
                h1 = add(n, "2001:db8:aa:bb::1", 128, 100);
                add(n, "2001:db8:aa:bb::2", 128, 100);
                h3 = add(n, "2001:db8:aa:bb:1:2:3:4", 128, 0);
                add(n, "2001:db8:aa:cc::1", 128, 0);
                add(n, "192.0.2.1", 32, 0);
                CHECK_INT(banset_net_hosts(n, &probe), 3, "three hosts of the /64");
                banset_deactivate(n, h1, 500);
                CHECK_INT(banset_net_hosts(n, &probe), 2, "one lifted");
                banset_remove(n, h3);
                CHECK_INT(banset_net_hosts(n, &probe), 1, "one removed");
                banset_activate(n, h1, 0);
                CHECK_INT(banset_net_hosts(n, &probe), 2, "banned again");
                banset_set_net_prefix(n, 48); /* recounted for another prefix */
                CHECK_INT(banset_net_hosts(n, &probe), 3, "the /48 holds both /64s");
                banset_set_net_prefix(n, 0);
                CHECK_INT(banset_net_hosts(n, &probe), 0, "off");
                banset_free(n);
        }

        /* Heap order under many random times. */
        {
                Banset *h = banset_new(key);
                uint64_t x = 7;
                int64_t last = 0;
                Addr a = A("10.0.0.0");
                for (int i = 0; i < 3000; i++) {
                        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                        a.b[14] = (uint8_t)(i >> 8);
                        a.b[15] = (uint8_t)i;
                        Ban *bb = banset_upsert(h, &a, 32);
                        if (i % 3)
                                banset_activate(h, bb, (int64_t)(x >> 40) + 1);
                        else
                                banset_deactivate(h, bb, (int64_t)(x >> 40) + 1);
                }
                while ((ban = banset_pop_due(h, INT64_MAX))) {
                        CHECK(ban->due_ms == 0 && (ban->active ? ban->expires_ms : 1) >= 0, "popped");
                        CHECK(last <= (ban->active ? ban->expires_ms : last), "heap order");
                        if (ban->active)
                                last = ban->expires_ms;
                        banset_remove(h, ban);
                }
                CHECK_INT(banset_records(h), 0, "all gone");
                banset_free(h);
        }
        return check_done();
}
