/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The config parser: values, defaults, and file:line diagnostics (golden). */
#include <errno.h>

#include "check.h"
#include "service/conf.h"

static Config *load(const char *dir, const char *text, Diags *errors, int *r)
{
        char path[512];
        Config *c = NULL;

        snprintf(path, sizeof(path), "%s/a.conf", dir);
        check_write(path, text);
        *r = config_load(path, &c, errors);
        return c;
}

int main(void)
{
        const char *dir = check_mktemp();
        Diags errors = {0};
        Config *c;
        int r;

        /* Defaults */
        c = config_new_default();
        CHECK_STR(c->log_file, "/var/log/maillog", "default log_file");
        CHECK_STR(c->map_type, "hash", "default map type");
        CHECK_STR(c->map_path, "/etc/postfix/access", "default map path");
        CHECK_STR(c->postmap[0], "postmap", "default postmap");
        CHECK_STR(c->auth_map_type, "hash", "default auth map type");
        CHECK_STR(c->auth_map_path, "/etc/postfix/autoblacklist-ehlo", "default auth map path");
        CHECK(c->debounce_ms > 0 && c->debounce_ms <= 500, "default debounce is a few hundred ms: %llu",
              (unsigned long long)c->debounce_ms);
        CHECK(strstr(c->reject_text, "postfix-autoblacklist") != NULL, "default reject text names us");
        CHECK_INT(c->start_at, START_AT_END, "default start_at");
        config_free(c);

        /* A good file, with a comment, a continuation line and every kind of value */
        c = load(dir,
                 "# comment\n"
                 "log_file = /var/log/mail.log\n"
                 "access_map = lmdb:/etc/postfix/blocked\n"
                 "auth_map = cdb:/etc/postfix/ehlo\n"
                 "postmap = postmap -c /tmp/pf\n"
                 "debounce = 100ms\n"
                 "ignore = 192.0.2.0/24,\n"
                 "    2001:db8::/32 203.0.113.7\n"
                 "\n"
                 "max_hits = 4\n"
                 "find_time = 2m\n"
                 "ban_time = 0\n"
                 "reject_text = Go away (postfix-autoblacklist)\n"
                 "start_at = beginning\n"
                 "log_target = stderr\n"
                 "ban_time_factor = 1.5\n"
                 "ban_time_max = 2d\n"
                 "ban_memory = 0\n"
                 "max_tracked = 5000\n"
                 "ipv6_net_prefix = 48\n"
                 "ipv6_net_hosts = 0\n"
                 "ignore_mynetworks = yes\n"
                 "postconf = postconf -c /tmp/pf\n",
                 &errors, &r);
        CHECK_INT(r, 0, "good file loads");
        diags_print(stderr, &errors, "  unexpected: ");
        if (c) {
                CHECK_STR(c->log_file, "/var/log/mail.log", "log_file");
                CHECK_STR(c->map_type, "lmdb", "map type");
                CHECK_STR(c->map_path, "/etc/postfix/blocked", "map path");
                CHECK_STR(c->auth_map_type, "cdb", "auth map type");
                CHECK_STR(c->auth_map_path, "/etc/postfix/ehlo", "auth map path");
                CHECK_INT(strv_length(c->postmap), 3, "postmap argv");
                CHECK_STR(c->postmap[2], "/tmp/pf", "postmap argv[2]");
                CHECK_INT(c->debounce_ms, 100, "debounce");
                CHECK_INT(c->n_ignore, 3, "ignore entries (continuation joined)");
                CHECK_INT(c->max_hits, 4, "max_hits");
                CHECK_INT(c->find_time_ms, 120000, "find_time");
                CHECK_INT(c->ban_time_ms, 0, "ban_time 0 is permanent");
                CHECK_STR(c->reject_text, "Go away (postfix-autoblacklist)", "reject_text");
                CHECK_INT(c->start_at, START_AT_BEGINNING, "start_at");
                CHECK_INT(c->log_target, LOG_TARGET_STDERR, "log_target");
                CHECK(c->ban_time_factor == 1.5, "ban_time_factor");
                CHECK_INT(c->ban_time_max_ms, 2 * 86400000, "ban_time_max");
                CHECK_INT(c->ban_memory_ms, 0, "ban_memory");
                CHECK_INT(c->max_tracked, 5000, "max_tracked");
                CHECK_INT(c->ipv6_net_prefix, 48, "ipv6_net_prefix");
                CHECK_INT(c->ipv6_net_hosts, 0, "ipv6_net_hosts");
                CHECK(c->ignore_mynetworks, "ignore_mynetworks");
                CHECK_STR(c->postconf[1], "-c", "postconf argv");
        }
        config_free(c);

        /* An empty auth_map turns the auth map off */
        c = load(dir, "auth_map =\n", &errors, &r);
        CHECK_INT(r, 0, "empty auth_map loads");
        diags_print(stderr, &errors, "  unexpected: ");
        CHECK(c && !c->auth_map_path && !c->auth_map_type, "empty auth_map: got %s, want none",
              c && c->auth_map_path ? c->auth_map_path : "none");
        config_free(c);

        /* The auth map cannot be the access map's file */
        {
                char want[600];
                Buf got = {0};
                c = load(dir, "access_map = hash:/etc/postfix/x\nauth_map = hash:/etc/postfix/x\n", &errors, &r);
                CHECK(r == -EINVAL && !c, "auth_map = access_map: got %d, want -EINVAL", r);
                snprintf(want, sizeof(want),
                         "%s/a.conf: auth_map: /etc/postfix/x is also the access_map; give it a file of its own\n",
                         dir);
                for (size_t i = 0; i < errors.n; i++)
                        buf_printf(&got, "%s\n", errors.items[i]);
                CHECK_STR(got.data ? got.data : "", want, "auth_map = access_map message");
                buf_free(&got);
                diags_free(&errors);
        }

        /* Every problem, with file:line, in file order (golden) */
        {
                char want[8192];
                const char *p;
                Buf got = {0};
                c = load(dir,
                         "log_file = relative/path\n"
                         "unknown_key = 1\n"
                         "max_hits = 0\n"
                         "find_time = 10x\n"
                         "ignore = 192.0.2.1/24, junk\n"
                         "access_map = foo:/x\n"
                         "debounce = 2m\n"
                         "no equals sign here\n"
                         "start_at = middle\n"
                         "max_hits = 3\n"
                         "  \n"
                         "log_target = syslog\n"
                         "ban_time_factor = 0.5\n"
                         "ipv6_net_prefix = 60\n"
                         "max_tracked = 50\n"
                         "ignore_mynetworks = maybe\n",
                         &errors, &r);
                CHECK(r < 0 && c == NULL, "bad file is rejected");
                for (size_t i = 0; i < errors.n; i++)
                        buf_printf(&got, "%s\n", errors.items[i]);
                p = dir;
                snprintf(want, sizeof(want),
                         "%s/a.conf:1: log_file: 'relative/path' is not an absolute path\n"
                         "%s/a.conf:2: unknown key 'unknown_key'\n"
                         "%s/a.conf:3: max_hits: '0' is not a number from 1 to 1000\n"
                         "%s/a.conf:4: find_time: '10x' is not a duration (a number with ms, s, m, h, d or w)\n"
                         "%s/a.conf:5: ignore: '192.0.2.1/24' has host bits set after the prefix length\n"
                         "%s/a.conf:6: access_map: map type 'foo' is not supported: use hash, btree, lmdb or cdb\n"
                         "%s/a.conf:7: debounce: '2m' is over one minute: bans would wait that long\n"
                         "%s/a.conf:8: expected 'name = value'\n"
                         "%s/a.conf:9: start_at: 'middle' is not 'end' or 'beginning'\n"
                         "%s/a.conf:10: max_hits: given twice\n"
                         "%s/a.conf:12: log_target: 'syslog' is not auto, journal or stderr\n"
                         "%s/a.conf:13: ban_time_factor: '0.5' is not a number from 1 to 100 (1: no escalation)\n"
                         "%s/a.conf:14: ipv6_net_prefix: '60' is not one of 16, 32, 48, 64, 80, 96 or 112: an "
                         "access(5) key holds whole 16-bit groups\n"
                         "%s/a.conf:15: max_tracked: '50' is not a number from 100 to 100000000\n"
                         "%s/a.conf:16: ignore_mynetworks: 'maybe' is not yes or no\n",
                         p, p, p, p, p, p, p, p, p, p, p, p, p, p, p);
                CHECK(got.data && streq(got.data, want), "diagnostics: got\n%s\nwant\n%s", got.data ? got.data : "",
                      want);
                buf_free(&got);
                diags_free(&errors);
        }

        /* log_level: a syslog priority by name, info by default */
        {
                static const struct {
                        const char *text;
                        int level;        /* -1: rejected */
                        const char *diag; /* after "DIR/a.conf:1: " */
                } cases[] = {
                        {"", LOG_INFO, NULL},
                        {"log_level = debug\n", LOG_DEBUG, NULL},
                        {"log_level = error\n", LOG_ERR, NULL},
                        {"log_level = warning\n", LOG_WARNING, NULL},
                        {"log_level = notice\n", LOG_NOTICE, NULL},
                        {"log_level = verbose\n", -1, "log_level: 'verbose' is not error, warning, notice, info or debug"},
                        {"log_level = DEBUG\n", -1, "log_level: 'DEBUG' is not error, warning, notice, info or debug"},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        char want[600];
                        c = load(dir, cases[i].text, &errors, &r);
                        if (cases[i].level >= 0) {
                                CHECK(r == 0 && c, "%s: loads (%d)", cases[i].text, r);
                                if (c)
                                        CHECK_INT(c->log_level, cases[i].level, cases[i].text);
                        } else {
                                snprintf(want, sizeof(want), "%s/a.conf:1: %s", dir, cases[i].diag);
                                CHECK(r == -EINVAL && !c, "%s: rejected (%d)", cases[i].text, r);
                                CHECK_STR(errors.n == 1 ? errors.items[0] : NULL, want, cases[i].text);
                        }
                        config_free(c);
                        diags_free(&errors);
                }
        }

        /* The policy keys: defaults, good values, and their diagnostics */
        c = config_new_default();
        CHECK_INT(c->ipv6_net_factor, 3, "default ipv6_net_factor");
        CHECK(c->network_map == NULL, "no network map by default");
        CHECK(!c->ban_private, "private space is not banned by default");
        config_free(c);
        c = load(dir, "ipv6_net_factor = 0\nnetwork_map = cidr:/etc/postfix/nets\nban_private = yes\n", &errors, &r);
        CHECK(r == 0 && c, "good policy keys");
        if (c) {
                CHECK_INT(c->ipv6_net_factor, 0, "ipv6_net_factor");
                CHECK_STR(c->network_map, "/etc/postfix/nets", "network_map");
                CHECK(c->ban_private, "ban_private");
        }
        config_free(c);
        diags_free(&errors);
        {
                char want[2048];
                Buf got = {0};
                c = load(dir,
                         "ipv6_net_factor = 65\n"
                         "network_map = hash:/etc/postfix/nets\n"
                         "ban_private = perhaps\n",
                         &errors, &r);
                CHECK(r < 0 && c == NULL, "bad policy keys are rejected");
                for (size_t i = 0; i < errors.n; i++)
                        buf_printf(&got, "%s\n", errors.items[i]);
                snprintf(want, sizeof(want),
                         "%s/a.conf:1: ipv6_net_factor: '65' is not a number from 0 to 64 (0: do not count hits "
                         "per network)\n"
                         "%s/a.conf:2: network_map: 'hash:/etc/postfix/nets' is not cidr:/path (network bans need a "
                         "cidr table)\n"
                         "%s/a.conf:3: ban_private: 'perhaps' is not yes or no\n",
                         dir, dir, dir);
                CHECK(got.data && streq(got.data, want), "diagnostics: got\n%s\nwant\n%s", got.data ? got.data : "",
                      want);
                buf_free(&got);
                diags_free(&errors);
                c = load(dir, "network_map = cidr:relative\n", &errors, &r);
                CHECK(r < 0 && errors.n == 1 && strstr(errors.items[0], "not an absolute path"), "relative cidr path");
                config_free(c);
                diags_free(&errors);
        }

        /* postmap_timeout: 10s by default, a duration of at least 100ms */
        {
                static const struct {
                        const char *text;
                        int want_r;
                        uint64_t want_ms;
                        const char *want_error;
                } cases[] = {
                        {"", 0, 10000, NULL},
                        {"postmap_timeout = 90s\n", 0, 90000, NULL},
                        {"postmap_timeout = 100ms\n", 0, 100, NULL},
                        {"postmap_timeout = 50ms\n", -1, 0,
                         "postmap_timeout: '50ms' is below the minimum of 100ms"},
                        {"postmap_timeout = soon\n", -1, 0, "postmap_timeout: 'soon' is not a duration"},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        c = load(dir, cases[i].text, &errors, &r);
                        CHECK((r < 0) == (cases[i].want_r < 0), "%s: got r %d want %d", cases[i].text, r,
                              cases[i].want_r);
                        if (c)
                                CHECK_INT(c->postmap_timeout_ms, cases[i].want_ms, cases[i].text);
                        if (cases[i].want_error)
                                CHECK(errors.n == 1 && strstr(errors.items[0], cases[i].want_error),
                                      "%s: got %s want %s", cases[i].text,
                                      errors.n ? errors.items[0] : "(none)", cases[i].want_error);
                        config_free(c);
                        diags_free(&errors);
                }
        }

        /* An empty reject text is refused (the daemon knows its own rejections by it) */
        c = load(dir, "reject_text =\n", &errors, &r);
        CHECK(r < 0 && !c && errors.n == 1 && strstr(errors.items[0], "a.conf:1: reject_text: the text must not be empty"),
              "empty reject_text: %s", errors.n ? errors.items[0] : "(accepted)");
        config_free(c);
        diags_free(&errors);

        /* A missing file */
        {
                Config *m = NULL;
                CHECK(config_load("/nonexistent/abl.conf", &m, &errors) < 0, "missing file fails");
                CHECK(errors.n == 1 && strstr(errors.items[0], "/nonexistent/abl.conf: cannot read"),
                      "missing file message: %s", errors.n ? errors.items[0] : "");
                diags_free(&errors);
        }

        /* An explicit path must exist: no quiet fallback to the defaults */
        {
                Config *m = NULL;
                CHECK(config_load_or_default("/nonexistent/abl.conf", &m, &errors) < 0 && !m,
                      "a missing -c file fails");
                CHECK_INT(errors.n, 1, "one message for the missing -c file");
                diags_free(&errors);
        }

        /* The config's defaults reach rules that do not set them; override wins over rules = */
        {
                char conf[512], rules[512], other[512];
                Config *m = NULL;
                RuleSet *rs = NULL;
                Names *names = names_new();
                Diags warnings = {0};

                snprintf(rules, sizeof(rules), "%s/a.rules", dir);
                snprintf(other, sizeof(other), "%s/b.rules", dir);
                check_write(rules, "[a]\nprogram = postfix/smtpd\npattern = ^x \\[<ADDR>\\]$\n");
                check_write(other, "[b1]\nprogram = postfix/smtpd\npattern = ^y \\[<ADDR>\\]$\nmax_hits = 2\n"
                                   "[b2]\nprogram = postfix/smtpd\npattern = ^z \\[<ADDR>\\]$\n");
                snprintf(conf, sizeof(conf), "%s/r.conf", dir);
                {
                        Buf b = {0};
                        buf_printf(&b, "rules = %s\nmax_hits = 7\nfind_time = 1h\nban_time = 2d\n", rules);
                        check_write(conf, b.data);
                        buf_free(&b);
                }
                CHECK_INT(config_load_or_default(conf, &m, &errors), 0, "load the -c file");
                CHECK_INT(config_load_rules(m, NULL, names, &rs, &errors, &warnings), 0, "the config's rules");
                if (rs) {
                        Rule *a = ruleset_rule(rs, 0);
                        CHECK_INT(ruleset_count(rs), 1, "rules = a.rules");
                        CHECK_STR(a->name, "a", "rule a");
                        CHECK_INT(a->max_hits, 7, "max_hits from the config");
                        CHECK_INT(a->find_time_ms, 3600000, "find_time from the config");
                        CHECK_INT(a->ban_time_ms, 2 * 86400000ULL, "ban_time from the config");
                        rs = ruleset_free(rs);
                }
                CHECK_INT(config_load_rules(m, other, names, &rs, &errors, &warnings), 0, "the override");
                if (rs) {
                        CHECK_INT(ruleset_count(rs), 2, "the override's rules only");
                        CHECK_INT(ruleset_rule(rs, 0)->max_hits, 2, "a rule's own max_hits wins");
                        CHECK_INT(ruleset_rule(rs, 1)->max_hits, 7, "else the config's");
                        ruleset_free(rs);
                }
                CHECK_INT(errors.n, 0, "no errors");
                diags_free(&errors);
                diags_free(&warnings);
                names_free(names);
                config_free(m);
        }

        /* config_dump writes a file that loads back to the same values */
        {
                Buf b = {0};
                Config *d = config_new_default(), *back;
                char path[512];
                config_dump(d, &b);
                snprintf(path, sizeof(path), "%s/dump.conf", dir);
                check_write(path, b.data);
                CHECK_INT(config_load(path, &back, &errors), 0, "dump loads back");
                if (back) {
                        Buf b2 = {0};
                        config_dump(back, &b2);
                        CHECK_STR(b2.data, b.data, "dump round trip");
                        buf_free(&b2);
                        config_free(back);
                }
                buf_free(&b);
                config_free(d);
                diags_free(&errors);
        }

        /* ... also for values whose display form is not config syntax (found by fuzz-conf) */
        {
                static const struct {
                        const char *text;
                } dump_cases[] = {
                        {"find_time = 90m\n"},          /* displayed 1h30m */
                        {"ban_time = 93784s\n"},        /* 1d2h3m4s */
                        {"ban_time_max = 3w61s\n"},     /* not a duration: an error, not a case */
                        {"ban_memory = 2000ms\n"},
                        {"debounce = 1500ms\n"},
                        {"ban_time_factor = 1.0000000001\n"}, /* %g writes 1 */
                        {"ban_time_factor = 2.5\n"},
                };
                for (size_t i = 0; i < sizeof(dump_cases) / sizeof(dump_cases[0]); i++) {
                        Buf b = {0};
                        Config *back = NULL;
                        char path[512];
                        Config *o = load(dir, dump_cases[i].text, &errors, &r);
                        diags_free(&errors);
                        if (r < 0)
                                continue; /* 3w61s */
                        config_dump(o, &b);
                        snprintf(path, sizeof(path), "%s/dump.conf", dir);
                        check_write(path, b.data);
                        CHECK_INT(config_load(path, &back, &errors), 0, dump_cases[i].text);
                        diags_print(stderr, &errors, "  ");
                        diags_free(&errors);
                        if (back) {
                                CHECK(back->find_time_ms == o->find_time_ms && back->ban_time_ms == o->ban_time_ms &&
                                              back->ban_memory_ms == o->ban_memory_ms &&
                                              back->debounce_ms == o->debounce_ms,
                                      "%s: the durations changed", dump_cases[i].text);
                                CHECK(back->ban_time_factor == o->ban_time_factor, "%s: got factor %.17g want %.17g",
                                      dump_cases[i].text, back->ban_time_factor, o->ban_time_factor);
                        }
                        config_free(back);
                        config_free(o);
                        buf_free(&b);
                }
        }
        /* log_source: "auto" or a kind in the sources' registry */
        {
                static const struct {
                        const char *value, *want, *error;
                } cases[] = {
                        {"auto", "auto", NULL},
                        {"file", "file", NULL},
                        {"journal", "journal", NULL},
                        {"syslog", NULL, "log_source: 'syslog' is not auto, file or journal"},
                        {"File", NULL, "log_source: 'File' is not auto, file or journal"},
                };
                c = config_new_default();
                CHECK_STR(c->log_source, "auto", "default log_source");
                config_free(c);
                for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                        char text[128];
                        snprintf(text, sizeof(text), "log_source = %s\n", cases[i].value);
                        c = load(dir, text, &errors, &r);
                        if (cases[i].want)
                                CHECK(r == 0 && c && streq(c->log_source, cases[i].want), "log_source = %s: got %s",
                                      cases[i].value, c ? c->log_source : "(rejected)");
                        else
                                CHECK(r < 0 && errors.n == 1 && strstr(errors.items[0], cases[i].error),
                                      "log_source = %s: got %s", cases[i].value,
                                      errors.n ? errors.items[0] : "(accepted)");
                        config_free(c);
                        diags_free(&errors);
                }
        }
        return check_done();
}
