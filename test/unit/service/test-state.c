/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The state file: round trip, and every kind of damage is recognised. */
#include <errno.h>

#include "check.h"
#include "service/state.h"
#include "source/file.h"

static State sample(void)
{
        State s = {0};
        StateBan *b;

        TailPos pos[2] = {
                {.dev = 2049, .ino = 131, .offset = 123456789, .head_len = 256, .head_hash = 0xdeadbeefcafef00dULL},
                /* inside an over-long line being dropped: its rest is skipped after a restart */
                {.dev = 2049, .ino = 99, .offset = 5, .head_len = 5, .head_hash = 1, .skip_line = true},
        };

        s.source = xstrdup("file");
        s.position = file_position_format("/var/log/mail.log", pos, 2);
        s.map = xstrdup("hash:/etc/postfix/access");
        b = state_add_ban(&s);
        addr_parse_str("203.0.113.7", &b->addr);
        b->plen = 32;
        strcpy(b->rule, "sasl-auth-failed");
        b->active = true;
        b->count = 3;
        b->hits = 5;
        b->first_hit_ms = 1700000000000;
        b->last_hit_ms = 1700000005000;
        b->banned_ms = 1700000005000;
        b->expires_ms = 1700003605000;
        b = state_add_ban(&s);
        addr_parse_str("2001:db8:1:2::", &b->addr);
        b->plen = 64;
        strcpy(b->rule, "manual");
        b->manual = true;
        b->expires_ms = 0;
        /* a ban imported from another host of the fleet */
        b = state_add_ban(&s);
        addr_parse_str("198.51.100.9", &b->addr);
        b->plen = 32;
        strcpy(b->rule, "sasl-auth-failed");
        b->active = true;
        b->count = 1;
        b->banned_ms = 1700000000000;
        b->expires_ms = 1700003600000;
        strcpy(b->origin, "mx-b.example");
        return s;
}

static int parse(const char *text, State *out, char **why) { return state_parse(text, strlen(text), out, why); }

/* The ban of s for addr/plen, or NULL. */
static const StateBan *find_ban(const State *s, const char *addr, uint8_t plen)
{
        Addr a;

        addr_parse_str(addr, &a);
        for (size_t i = 0; i < s->n_bans; i++)
                if (s->bans[i].plen == plen && memcmp(&s->bans[i].addr, &a, sizeof(a)) == 0)
                        return &s->bans[i];
        return NULL;
}

static void add(State *s, const char *addr, uint8_t plen, uint32_t count)
{
        StateBan *b = state_add_ban(s);

        addr_parse_str(addr, &b->addr);
        b->plen = plen;
        strcpy(b->rule, "r");
        b->active = true;
        b->count = count;
}

/*
 * The change log: batches over a snapshot, cut at every byte (a kill
 * during an append), damaged, or naming another snapshot.
 */
static void test_log(const State *snap_src)
{
        Buf snap = {0}, log = {0};
        State base = {0}, b1 = {0}, b2 = {0};
        size_t end1, head;
        char *why = NULL;
        Addr a;

        state_render(snap_src, &snap);
        CHECK_INT(parse(snap.data, &base, &why), 0, "snapshot parses");
        /* batch 1: a new ban, a changed one, the positions move */
        add(&b1, "198.51.100.1", 32, 1);
        add(&b1, "203.0.113.7", 32, 9);
        b1.source = xstrdup("file");
        b1.position = xstrdup("pos=1,2,3,4,0000000000000005 log=/var/log/mail.log");
        /* batch 2: the network record is dropped, another ban added */
        addr_parse_str("2001:db8:1:2::", &a);
        state_add_gone(&b2, &a, 64);
        add(&b2, "192.0.2.9", 32, 2);
        buf_printf(&log, "postfix-autoblacklist-log 1 %016llx\n", (unsigned long long)base.hash);
        head = log.len;
        state_render_batch(&b1, &log);
        end1 = log.len;
        state_render_batch(&b2, &log);
        CHECK(strstr(log.data, "\nforget 2001:db8:1:2::/64\n") != NULL, "forget record:\n%s", log.data);

        size_t base_n; /* the snapshot's bans; the first batch adds one */
        {
                State t0 = {0};
                CHECK_INT(parse(snap.data, &t0, &why), 0, "snapshot parses");
                base_n = t0.n_bans;
                state_clear(&t0);
        }
        static const struct {
                const char *name;
                const char *find, *replace; /* a change to the log's text */
                size_t batches;
                const char *skipped;
        } cases[] = {
                {"whole", NULL, NULL, 2, NULL},
                {"second commit's hash wrong", "commit 2 ", "commit 2 0", 1, NULL},
                {"second batch's record changed", "192.0.2.9/32", "192.0.2.8/32", 1, NULL},
                {"first batch's record changed", "198.51.100.1/32", "198.51.100.2/32", 0, NULL},
                {"not a log", "postfix-autoblacklist-log", "postfix-autoblacklist-xxx", 0, "not a change log"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Buf t = {0};
                State s = {0};
                StateLogInfo info;
                const char *p = cases[i].find ? strstr(log.data, cases[i].find) : NULL;
                if (cases[i].find && !p) {
                        CHECK(false, "%s: the log has '%s'", cases[i].name, cases[i].find);
                        continue;
                }
                if (p) {
                        buf_append(&t, log.data, (size_t)(p - log.data));
                        buf_puts(&t, cases[i].replace);
                        buf_puts(&t, p + strlen(cases[i].find));
                } else
                        buf_puts(&t, log.data);
                CHECK_INT(parse(snap.data, &s, &why), 0, "snapshot parses");
                state_apply_log(&s, t.data, t.len, &info);
                CHECK_INT(info.batches, cases[i].batches, cases[i].name);
                CHECK(cases[i].skipped ? info.skipped && strstr(info.skipped, cases[i].skipped) : !info.skipped,
                      "%s: skipped got '%s' want '%s'", cases[i].name, check_show(info.skipped),
                      check_show(cases[i].skipped));
                {
                        const StateBan *b = find_ban(&s, "203.0.113.7", 32);
                        uint32_t want = cases[i].batches >= 1 ? 9 : 3;
                        CHECK(b && b->count == want, "%s: 203.0.113.7's count got %d want %u", cases[i].name,
                              b ? (int)b->count : -1, want);
                        CHECK((find_ban(&s, "2001:db8:1:2::", 64) != NULL) == (cases[i].batches < 2),
                              "%s: the dropped network record", cases[i].name);
                        CHECK_INT(s.n_bans, cases[i].batches == 0 ? base_n : base_n + 1, cases[i].name);
                        CHECK(strstr(s.position, cases[i].batches >= 1 ? "pos=1,2,3," : "pos=2049,131,123456789,"),
                              "%s: the position got %s", cases[i].name, s.position);
                }
                state_clear(&s);
                buf_free(&t);
        }

        /* A log whose header names another snapshot (a kill after a new snapshot, before the old log went). */
        {
                State s = {0};
                StateLogInfo info;
                CHECK_INT(parse(snap.data, &s, &why), 0, "snapshot parses");
                s.hash ^= 1;
                state_apply_log(&s, log.data, log.len, &info);
                CHECK(info.batches == 0 && info.skipped && strstr(info.skipped, "another snapshot"),
                      "another snapshot: batches %zu, skipped '%s'", info.batches, check_show(info.skipped));
                CHECK_INT(s.n_bans, base_n, "another snapshot: its bans only");
                state_clear(&s);
        }

        /* A kill during an append: cut at every byte; whole batches count, the rest is ignored. */
        for (size_t cut = 0; cut <= log.len; cut++) {
                State s = {0};
                StateLogInfo info;
                size_t want = cut == log.len ? 2 : cut >= end1 ? 1 : 0;
                CHECK_INT(parse(snap.data, &s, &why), 0, "snapshot parses");
                state_apply_log(&s, log.data, cut, &info);
                CHECK(info.batches == want, "cut at %zu: batches got %zu want %zu", cut, info.batches, want);
                size_t ignored = cut < head ? cut : cut - (want == 2 ? cut : want == 1 ? end1 : head);
                CHECK(info.ignored == ignored, "cut at %zu: ignored got %zu want %zu", cut, info.ignored, ignored);
                CHECK_INT(s.n_bans, want == 0 ? base_n : base_n + 1, "bans after a cut");
                state_clear(&s);
        }
        state_clear(&base);
        state_clear(&b1);
        state_clear(&b2);
        buf_free(&snap);
        buf_free(&log);
}

/* A snapshot of these records, with its end line. */
static char *snapshot(const char *records)
{
        Buf b = {0};
        size_t n = 0;

        buf_puts(&b, "postfix-autoblacklist-state 1\n");
        buf_puts(&b, records);
        for (const char *p = records; *p; p++)
                n += *p == '\n';
        buf_printf(&b, "end %zu %016llx\n", n, (unsigned long long)fnv1a(b.data, b.len));
        return b.data;
}

/*
 * The records of older state files ("log", "position", "journal") keep
 * loading: they become the position of a "file" or "journal" source, the
 * same string the source itself makes.  In a snapshot, in a change log's
 * batch, and on disk.
 */
static void test_legacy(void)
{
        static const char cursor[] = "s=7a1f0e4e9d8b4c2f;i=2f1;b=3c9e;m=1a2b3c;t=5f0e1d2c3b4a5;x=9f8e7d6c";
        static const struct {
                const char *name, *records;
                const char *source, *position; /* NULL source: damaged, position is the reason */
        } cases[] = {
                {"file positions", "log /var/log/mail.log\nmap hash:/etc/postfix/access\n"
                                   "position 2049 131 123456789 256 deadbeefcafef00d\n"
                                   "position 2049 99 5 5 0000000000000001 skip\n",
                 "file", "pos=2049,131,123456789,256,deadbeefcafef00d pos=2049,99,5,5,0000000000000001,skip "
                         "log=/var/log/mail.log"},
                {"a short hash", "log /var/log/mail.log\nposition 1 2 3 4 5\n", "file",
                 "pos=1,2,3,4,0000000000000005 log=/var/log/mail.log"},
                {"the log, no position yet", "log /var/log/mail.log\n", "file", "log=/var/log/mail.log"},
                {"a journal cursor", "journal s=7a1f0e4e9d8b4c2f;i=2f1;b=3c9e;m=1a2b3c;t=5f0e1d2c3b4a5;x=9f8e7d6c\n",
                 "journal", cursor},
                {"none", "map hash:/etc/postfix/access\n", NULL, NULL},
                {"a new record beside old ones wins", "source file log=/var/log/new\nlog /var/log/old\n", "file",
                 "log=/var/log/new"},
                {"a bad position", "log /x\nposition 2049 x31 1 0 0\n", NULL, "bad position record"},
                {"a position with an unknown last word", "log /x\nposition 1 2 3 4 5 what\n", NULL,
                 "bad position record"},
                {"a head longer than 256", "log /x\nposition 1 2 3 257 5\n", NULL, "bad position record"},
                {"a cursor with a space", "journal a b\n", NULL, "bad journal record"},
                {"two cursors", "journal a\njournal b\n", NULL, "bad journal record"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = snapshot(cases[i].records);
                State s = {0};
                char *why = NULL;
                int r = parse(text, &s, &why);

                if (!cases[i].source && cases[i].position) {
                        CHECK(r == -EBADMSG && why && strstr(why, cases[i].position), "%s: got %d '%s' want '%s'",
                              cases[i].name, r, check_show(why), cases[i].position);
                } else {
                        CHECK_INT(r, 0, cases[i].name);
                        CHECK(cases[i].source ? s.source && streq(s.source, cases[i].source) : !s.source,
                              "%s: source got %s want %s", cases[i].name, check_show(s.source),
                              check_show(cases[i].source));
                        CHECK(cases[i].position ? s.position && streq(s.position, cases[i].position) : !s.position,
                              "%s: position got %s want %s", cases[i].name, check_show(s.position),
                              check_show(cases[i].position));
                }
                /* what is read back is saved in the new form, and reads back the same */
                if (r == 0 && s.source) {
                        Buf again = {0};
                        State back = {0};
                        state_render(&s, &again);
                        CHECK(strstr(again.data, "\nsource ") && !strstr(again.data, "\nposition ") &&
                                      !strstr(again.data, "\nlog ") && !strstr(again.data, "\njournal "),
                              "%s: saved as:\n%s", cases[i].name, again.data);
                        CHECK_INT(parse(again.data, &back, &why), 0, cases[i].name);
                        CHECK_STR(back.position, s.position, cases[i].name);
                        state_clear(&back);
                        buf_free(&again);
                }
                free(why);
                state_clear(&s);
        }

        /* An old change log's batch moves the position, over an old snapshot, from disk. */
        {
                const char *dir = check_mktemp();
                char path[512], lpath[600];
                _cleanup_free_ char *text = snapshot("log /var/log/mail.log\nposition 1 2 3 4 5\n");
                Buf log = {0};
                size_t start;
                State s = {0};
                StateLogInfo info;
                char *why = NULL;
                uint64_t hash;

                snprintf(path, sizeof(path), "%s/state", dir);
                snprintf(lpath, sizeof(lpath), "%s.log", path);
                check_write(path, text);
                hash = fnv1a(text, (size_t)(strstr(text, "\nend ") + 1 - text));
                buf_printf(&log, "postfix-autoblacklist-log 1 %016llx\n", (unsigned long long)hash);
                start = log.len;
                buf_puts(&log, "log /var/log/mail.log\nposition 1 2 99 4 5\nposition 1 7 8 4 5\n");
                buf_printf(&log, "commit 3 %016llx\n", (unsigned long long)fnv1a(log.data + start, log.len - start));
                check_write(lpath, log.data);
                CHECK_INT(state_load_info(path, &s, &why, &info), 0, check_show(why));
                CHECK_INT(info.batches, 1, "the old batch is applied");
                CHECK_STR(s.source, "file", "old batch: source");
                CHECK_STR(s.position, "pos=1,2,99,4,0000000000000005 pos=1,7,8,4,0000000000000005 log=/var/log/mail.log",
                          "old batch: position");
                state_clear(&s);
                buf_free(&log);
                free(why);
                unlink(lpath);
                unlink(path);
                rmdir(dir);
        }
}

int main(void)
{
        State s = sample(), back = {0};
        Buf text = {0}, again = {0};
        char *why = NULL;

        state_render(&s, &text);
        CHECK(startswith(text.data, "postfix-autoblacklist-state 1\nsource file pos=2049,131,123456789,256,deadbeefcafef00d "
                                    "pos=2049,99,5,5,0000000000000001,skip log=/var/log/mail.log\nmap hash:/etc/postfix/access\n"),
              "rendered text:\n%s", text.data);
        CHECK_INT(parse(text.data, &back, &why), 0, why ? why : "round trip parses");
        state_render(&back, &again);
        CHECK_STR(again.data, text.data, "round trip is exact");
        CHECK_STR(back.source, "file", "the source");
        CHECK_STR(back.position, s.position, "the position, as the source made it");
        CHECK_STR(back.map, "hash:/etc/postfix/access", "the map");
        CHECK_INT(back.n_bans, 3, "bans");
        CHECK(strstr(text.data, "\nban 198.51.100.9/32 sasl-auth-failed 1 0 1 0 0 0 1700000000000 1700003600000 "
                                "from=mx-b.example\n") != NULL, "a remote ban rendered:\n%s", text.data);
        CHECK_STR(back.bans[2].origin, "mx-b.example", "a remote ban's origin");
        CHECK_STR(back.bans[0].origin, "", "a local ban has none");
        CHECK_INT(back.bans[1].plen, 64, "network ban prefix");
        CHECK(back.bans[1].manual && !back.bans[1].active, "flags");
        state_clear(&back);
        buf_free(&again);
        free(why);

        /* Each damage is recognised, with a reason. */
        {
                static const struct {
                        const char *name;
                        int cut; /* >0: keep only this many bytes */
                        const char *find, *replace;
                        const char *reason;
                } damage[] = {
                        {"truncated before the end line", -1, "\nend ", "\n", "no end line"},
                        {"truncated in the middle of a record", -1, " 1 0 3 5 ", "", "bad ban record"},
                        {"a digit changed", 0, "123456789", "123456780", "does not match its hash"},
                        {"a record removed", 0, "map hash:/etc/postfix/access\n", "", "records, the end line says"},
                        {"garbage line", 0, "map ", "garbage\nmap ", "unknown record"},
                        {"wrong magic", 0, "postfix-autoblacklist-state", "something-else", "not a postfix-autoblacklist state file"},
                        {"newer version", 0, "state 1\n", "state 2\n", "version 2"},
                        {"a source kind in capitals", 0, "source file", "source FILE", "bad source record"},
                        {"a source without a position", 0, "source file ", "source file\n", "bad source record"},
                        {"two source records", 0, "map ", "source journal x\nmap ", "bad source record"},
                        {"bad ban", 0, "203.0.113.7/32", "203.0.113.7/33", "bad ban record"},
                        {"an empty origin", 0, "from=mx-b.example", "from=", "bad ban record"},
                        {"a word after the origin", 0, "from=mx-b.example", "from=mx-b x", "bad ban record"},
                        {"not an origin", 0, "from=mx-b.example", "to=mx-b", "bad ban record"},
                        {"text after the end", 0, NULL, NULL, "text after the end line"},
                };
                for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
                        Buf d = {0};
                        const char *p;
                        State out = {0};
                        int r;
                        if (damage[i].cut > 0)
                                buf_append(&d, text.data, (size_t)damage[i].cut);
                        else if (damage[i].find) {
                                p = strstr(text.data, damage[i].find);
                                CHECK(p != NULL, "%s: the sample has '%s'", damage[i].name, damage[i].find);
                                if (!p)
                                        continue;
                                buf_append(&d, text.data, (size_t)(p - text.data));
                                buf_puts(&d, damage[i].replace);
                                if (damage[i].cut == -1)
                                        ; /* drop the rest: the end line */
                                else
                                        buf_puts(&d, p + strlen(damage[i].find));
                        } else {
                                buf_puts(&d, text.data);
                                buf_puts(&d, "position 1 2 3 0 0\n");
                        }
                        r = parse(d.data, &out, &why);
                        CHECK(r == -EBADMSG, "%s: got %d want -EBADMSG", damage[i].name, r);
                        CHECK(why && strstr(why, damage[i].reason), "%s: reason got '%s' want '...%s...'", damage[i].name,
                              why ? why : "(none)", damage[i].reason);
                        free(why);
                        why = NULL;
                        buf_free(&d);
                }
                CHECK_INT(parse("", &back, &why), -EBADMSG, "empty");
                free(why);
                CHECK_INT(state_parse("postfix-autoblacklist-state 1\n\0end", 34, &back, &why), -EBADMSG, "NUL");
                free(why);
        }

        /* The journal source's cursor: a position like any other. */
        {
                State j = {0}, jb = {0};
                Buf jt = {0};
                static const char cursor[] = "s=7a1f0e4e9d8b4c2f;i=2f1;b=3c9e;m=1a2b3c;t=5f0e1d2c3b4a5;x=9f8e7d6c";
                j.source = xstrdup("journal");
                j.position = xstrdup(cursor);
                state_render(&j, &jt);
                CHECK(strstr(jt.data, "\nsource journal s=7a1f0e4e9d8b4c2f;") != NULL, "journal record:\n%s", jt.data);
                CHECK_INT(parse(jt.data, &jb, &why), 0, why ? why : "journal round trip parses");
                CHECK_STR(jb.source, "journal", "journal kind round trip");
                CHECK_STR(jb.position, cursor, "journal cursor round trip");
                state_clear(&jb);
                buf_free(&jt);
                state_clear(&j);
        }

        test_legacy();
        test_log(&s);

        /* Files: a snapshot, appends, and a new snapshot removes the old log. */
        {
                const char *dir = check_mktemp();
                char path[512], lpath[600];
                State l = {0}, b = {0};
                uint64_t hash = 0;
                size_t bytes = 0, lb = 0;
                StateLogInfo info;
                snprintf(path, sizeof(path), "%s/state", dir);
                snprintf(lpath, sizeof(lpath), "%s.log", path);
                CHECK_INT(state_save_snapshot(path, &s, &hash, &bytes), 0, "snapshot");
                CHECK(bytes > 0 && access(lpath, F_OK) < 0, "no log after a snapshot");
                add(&b, "198.51.100.1", 32, 1);
                CHECK_INT(state_append(path, hash, &b, &lb), 0, "append");
                CHECK_INT(state_append(path, hash, &b, &lb), 0, "append again");
                CHECK_INT(state_load_info(path, &l, &why, &info), 0, "load with its log");
                CHECK_INT(info.batches, 2, "batches loaded");
                CHECK_INT(l.n_bans, s.n_bans + 1, "the appended ban is back, once");
                state_clear(&l);
                CHECK_INT(state_save_snapshot(path, &s, &hash, &bytes), 0, "snapshot again");
                CHECK(access(lpath, F_OK) < 0, "the old log is removed");
                CHECK_INT(state_load(path, &l, &why), 0, "load");
                CHECK_INT(l.n_bans, s.n_bans, "the snapshot's bans");
                state_clear(&l);
                state_clear(&b);
        }

        /* Files: save, load, missing, set aside. */
        {
                const char *dir = check_mktemp();
                char path[512];
                State l = {0};
                snprintf(path, sizeof(path), "%s/state", dir);
                CHECK_INT(state_load(path, &l, &why), -ENOENT, "missing file");
                CHECK_INT(state_save_snapshot(path, &s, NULL, NULL), 0, "save");
                CHECK_INT(state_load(path, &l, &why), 0, "load");
                CHECK_INT(l.n_bans, 3, "loaded bans");
                state_clear(&l);
                check_write(path, "postfix-autoblacklist-state 1\nlog /x\n");
                CHECK_INT(state_load(path, &l, &why), -EBADMSG, "truncated file");
                free(why);
                char *aside = state_set_aside(path);
                CHECK(aside && strstr(aside, "/state.damaged-") && access(aside, F_OK) == 0 && access(path, F_OK) < 0,
                      "set aside: %s", aside ? aside : "(failed)");
                free(aside);
        }
        buf_free(&text);
        state_clear(&s);
        return check_done();
}
