/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the config parser (config_load) with arbitrary files.  A file that
 * loads must dump (config_dump) to a file that loads again to the same
 * configuration: the dump is in config-file syntax, and an admin may copy
 * it into the config file.
 */
#include <errno.h>

#include "service/conf.h"
#include "fuzz.h"

static void same_config(const Config *a, const Config *b)
{
        FUZZ_CHECK(streq(a->log_file, b->log_file), "log_file");
        FUZZ_CHECK(streq(a->rules, b->rules), "rules");
        FUZZ_CHECK(streq(a->map_type, b->map_type) && streq(a->map_path, b->map_path), "access_map");
        FUZZ_CHECK(strv_length(a->postmap) == strv_length(b->postmap), "postmap");
        for (size_t i = 0; a->postmap[i]; i++)
                FUZZ_CHECK(streq(a->postmap[i], b->postmap[i]), "postmap word %zu", i);
        FUZZ_CHECK(a->debounce_ms == b->debounce_ms, "debounce");
        FUZZ_CHECK(streq(a->state_file, b->state_file), "state_file");
        FUZZ_CHECK(streq(a->control_socket, b->control_socket), "control_socket");
        FUZZ_CHECK(a->n_ignore == b->n_ignore, "ignore: %zu, then %zu", a->n_ignore, b->n_ignore);
        for (size_t i = 0; i < a->n_ignore; i++)
                FUZZ_CHECK(addr_equal(&a->ignore[i].net, &b->ignore[i].net) && a->ignore[i].plen == b->ignore[i].plen &&
                                   a->ignore[i].v4 == b->ignore[i].v4,
                           "ignore %zu", i);
        FUZZ_CHECK(a->max_hits == b->max_hits, "max_hits");
        FUZZ_CHECK(a->find_time_ms == b->find_time_ms, "find_time: %llu, then %llu",
                   (unsigned long long)a->find_time_ms, (unsigned long long)b->find_time_ms);
        FUZZ_CHECK(a->ban_time_ms == b->ban_time_ms, "ban_time");
        FUZZ_CHECK(a->ban_time_factor == b->ban_time_factor, "ban_time_factor: %.17g, then %.17g", a->ban_time_factor,
                   b->ban_time_factor);
        FUZZ_CHECK(a->ban_time_max_ms == b->ban_time_max_ms, "ban_time_max");
        FUZZ_CHECK(a->ban_memory_ms == b->ban_memory_ms, "ban_memory");
        FUZZ_CHECK(a->max_tracked == b->max_tracked, "max_tracked");
        FUZZ_CHECK(a->ipv6_net_prefix == b->ipv6_net_prefix, "ipv6_net_prefix");
        FUZZ_CHECK(a->ipv6_net_hosts == b->ipv6_net_hosts, "ipv6_net_hosts");
        FUZZ_CHECK(a->ignore_mynetworks == b->ignore_mynetworks, "ignore_mynetworks");
        FUZZ_CHECK(strv_length(a->postconf) == strv_length(b->postconf), "postconf");
        for (size_t i = 0; a->postconf[i]; i++)
                FUZZ_CHECK(streq(a->postconf[i], b->postconf[i]), "postconf word %zu", i);
        FUZZ_CHECK(streq(a->reject_text, b->reject_text), "reject_text");
        FUZZ_CHECK(a->start_at == b->start_at, "start_at");
        FUZZ_CHECK(a->log_target == b->log_target, "log_target");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(config_freep) Config *c = NULL, *again = NULL;
        _cleanup_buf_ Buf dump = {0};
        Diags errors = {0};
        int r;

        r = config_load(fuzz_file(data, size), &c, &errors);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "r=%d", r);
        FUZZ_CHECK((r == 0) == (errors.n == 0), "r=%d with %zu errors", r, errors.n);
        for (size_t i = 0; i < errors.n; i++)
                FUZZ_CHECK(strncmp(errors.items[i], "/proc/self/fd/", 14) == 0, "an error without the file: %s",
                           errors.items[i]);
        if (r == 0) {
                config_dump(c, &dump);
                r = config_load(fuzz_file(dump.data, dump.len), &again, &errors);
                if (r < 0)
                        diags_print(stderr, &errors, "the dump: ");
                FUZZ_CHECK(r == 0, "the dump does not load:\n%s", dump.data);
                same_config(c, again);
        }
        diags_free(&errors);
        return 0;
}
