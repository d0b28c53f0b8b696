/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bans with a fake clock: expiry order, covering networks, listing. */
#include "banset.h"
#include "check.h"
#include "util.h"

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

        for (size_t i = 0; i < sizeof(bans) / sizeof(bans[0]); i++)
                add(b, bans[i].addr, strchr(bans[i].addr, ':') ? 128 : 32, bans[i].expires);
        CHECK_INT(banset_active(b), 6, "active");
        CHECK_INT(banset_next_expiry(b), 100, "next expiry");

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

        /* Nothing is due before its time; then in order of expiry. */
        CHECK(banset_pop_expired(b, 99) == NULL, "nothing due at 99");
        for (size_t i = 0; i < 5; i++) {
                ban = banset_pop_expired(b, 1000);
                CHECK(ban != NULL, "expiry %zu", i);
                if (!ban)
                        break;
                CHECK_STR(addr_format(&ban->addr, text), expiry_order[i], "expiry order");
                CHECK(!ban->active, "expired ban is inactive");
        }
        CHECK(banset_pop_expired(b, 1000000) == NULL, "a permanent ban never expires");
        CHECK_INT(banset_active(b), 1, "only the permanent ban is left");
        CHECK_INT(banset_records(b), 6, "expired records are remembered");

        /* Re-activating moves the ban in the heap. */
        {
                Addr a = A("192.0.2.1");
                ban = banset_get(b, &a, 32);
                CHECK(ban && ban->count == 1, "remembered record");
                banset_activate(b, ban, 5000);
                CHECK_INT(banset_next_expiry(b), 5000, "re-activated");
                banset_activate(b, ban, 4000);
                CHECK_INT(banset_next_expiry(b), 4000, "rescheduled earlier");
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

        /* Forget old inactive records; removal keeps the rest findable. */
        {
                size_t before = banset_records(b);
                size_t n = banset_forget_before(b, 10000);
                CHECK_INT(n, 4, "forgot the expired records");
                CHECK_INT(banset_records(b), before - 4, "records left");
                Addr a = A("192.0.2.1");
                CHECK(banset_get(b, &a, 32) != NULL, "the re-activated record is kept");
                ban = banset_get(b, &a, 32);
                banset_remove(b, ban);
                CHECK(banset_get(b, &a, 32) == NULL, "removed");
                CHECK_INT(banset_next_expiry(b), 0, "no more expiring bans");
        }
        banset_free(b);

        /* Heap order under many random expiries. */
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
                        banset_activate(h, bb, (int64_t)(x >> 40) + 1);
                }
                while ((ban = banset_pop_expired(h, INT64_MAX))) {
                        CHECK(ban->expires_ms >= last, "heap order: %lld after %lld", (long long)ban->expires_ms,
                              (long long)last);
                        last = ban->expires_ms;
                }
                CHECK_INT(banset_active(h), 0, "all expired");
                banset_free(h);
        }
        return check_done();
}
