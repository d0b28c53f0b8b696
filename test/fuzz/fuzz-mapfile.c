/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the access-map text parser and renderer (mapfile.c).
 *
 * Round trip: a text that splits renders, with a block of our entries,
 * to a text that splits again into the same admin parts around a block
 * of exactly those entries, and the admin's keys answer every lookup as
 * before.  Network keys: for every line whose first word is an address,
 * each key mapfile_key() gives for a network of it must be among the keys
 * smtpd looks up for any address of that network (smtpd_access_keys).
 */
#include <errno.h>

#include "fuzz.h"
#include "../unit/smtpd-keys.h"
#include "backend/mapfile.h"

static void check_keys(const Addr *a, const AdminKeys *k1, const AdminKeys *k2)
{
        bool v4 = addr_is_v4(a);
        unsigned max = v4 ? 32 : 128, step = v4 ? 8 : 16;

        for (unsigned plen = step; plen <= max; plen += step) {
                char key[CIDR_STRLEN];
                Addr net = *a, hosts[3];

                addr_mask(&net, plen);
                if (mapfile_key(&net, plen, key, sizeof(key)) < 0) {
                        FUZZ_CHECK(plen != max, "no key for a host");
                        continue;
                }
                FUZZ_CHECK(adminkeys_lookup(k1, key) == adminkeys_lookup(k2, key), "lookup of %s", key);
                /* the network's first and last address and the one in the line */
                hosts[0] = net;
                hosts[1] = net;
                for (unsigned bit = (v4 ? 96 : 0) + plen; bit < 128; bit++)
                        hosts[1].b[bit / 8] |= (uint8_t)(0x80 >> bit % 8);
                hosts[2] = *a;
                for (size_t h = 0; h < ELEMENTSOF(hosts); h++) {
                        char keys[SMTPD_MAX_ACCESS_KEYS][ADDR_STRLEN], text[ADDR_STRLEN];
                        size_t n = smtpd_access_keys(&hosts[h], keys, SMTPD_MAX_ACCESS_KEYS);
                        bool found = false;
                        for (size_t i = 0; i < n && !found; i++)
                                found = streq(keys[i], key);
                        FUZZ_CHECK(found, "key %s of /%u is not looked up for %s", key, plen,
                                   addr_format(&hosts[h], text));
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char entries[] = "192.0.2.1 REJECT Blocked by postfix-autoblacklist\n"
                                      "2001:db8::1 REJECT Blocked by postfix-autoblacklist\n"
                                      "198.51.100 REJECT Blocked by postfix-autoblacklist\n";
        const char *text = (const char *)data;
        _cleanup_buf_ Buf out = {0};
        MapText mt, mt2;
        AdminKeys *k1, *k2;
        int r;

        r = mapfile_split(text, size, &mt);
        FUZZ_CHECK(r == 0 || r == -EBADMSG, "r=%d", r);
        if (r < 0)
                return 0;
        FUZZ_CHECK(mt.before_len + mt.after_len <= size, "the admin parts are longer than the text");
        FUZZ_CHECK(!mt.after_len || (mt.after >= text && mt.after + mt.after_len == text + size), "after");
        FUZZ_CHECK(!mt.before_len || mt.before == text, "before");

        mapfile_render(&out, &mt, entries, 3);
        r = mapfile_split(out.data, out.len, &mt2);
        FUZZ_CHECK(r == 0, "the rendered map does not split: %d", r);
        FUZZ_CHECK(mt2.has_block && mt2.block_entries == 3, "block %d with %zu entries", mt2.has_block,
                   mt2.block_entries);
        FUZZ_CHECK(mt2.before_len == mt.before_len && (!mt.before_len || !memcmp(mt2.before, mt.before, mt.before_len)),
                   "the text before the block changed");
        FUZZ_CHECK(mt2.after_len == mt.after_len && (!mt.after_len || !memcmp(mt2.after, mt.after, mt.after_len)),
                   "the text after the block changed");

        /*
         * An empty part of a map without a block has no pointer; postfix_lines(NULL, 0) is
         * undefined (pointer arithmetic on NULL), which helper h-core fixes in util.c.
         * Until then, hand it an empty string.
         */
        if (!mt.before)
                mt.before = "";
        if (!mt.after)
                mt.after = "";
        k1 = adminkeys_parse(&mt);
        k2 = adminkeys_parse(&mt2);
        for (const char *p = text, *end = text + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end, *w = p;
                Addr a;

                while (w < eol && *w != ' ' && *w != '\t')
                        w++;
                if (addr_parse(p, (size_t)(w - p), &a) == 0)
                        check_keys(&a, k1, k2);
                p = nl ? nl + 1 : end;
        }
        adminkeys_free(k1);
        adminkeys_free(k2);
        return 0;
}
