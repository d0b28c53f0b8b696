/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The state file: round trip, and every kind of damage is recognised. */
#include <errno.h>

#include "check.h"
#include "state.h"

static State sample(void)
{
        State s = {0};
        StateBan *b;

        s.log_file = xstrdup("/var/log/mail.log");
        s.map = xstrdup("hash:/etc/postfix/access");
        s.pos[0] = (TailPos){.dev = 2049, .ino = 131, .offset = 123456789, .head_len = 256, .head_hash = 0xdeadbeefcafef00dULL};
        /* inside an over-long line being dropped: its rest is skipped after a restart */
        s.pos[1] = (TailPos){.dev = 2049, .ino = 99, .offset = 5, .head_len = 5, .head_hash = 1, .skip_line = true};
        s.n_pos = 2;
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

int main(void)
{
        State s = sample(), back = {0};
        Buf text = {0}, again = {0};
        char *why = NULL;

        state_render(&s, &text);
        CHECK(startswith(text.data, "postfix-autoblacklist-state 1\nlog /var/log/mail.log\nmap hash:/etc/postfix/access\nposition 2049 131 123456789 256 deadbeefcafef00d\n"),
              "rendered text:\n%s", text.data);
        CHECK_INT(parse(text.data, &back, &why), 0, why ? why : "round trip parses");
        state_render(&back, &again);
        CHECK_STR(again.data, text.data, "round trip is exact");
        CHECK_INT(back.n_pos, 2, "positions");
        CHECK(strstr(text.data, "\nposition 2049 99 5 5 0000000000000001 skip\n") != NULL, "skip rendered:\n%s",
              text.data);
        CHECK(!back.pos[0].skip_line && back.pos[1].skip_line, "skip_line got %d %d want 0 1", back.pos[0].skip_line,
              back.pos[1].skip_line);
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
                        {"truncated in the middle of a record", 89, NULL, NULL, "bad position record"},
                        {"a digit changed", 0, "123456789", "123456780", "does not match its hash"},
                        {"a record removed", 0, "position 2049 99 5 5 0000000000000001 skip\n", "", "records, the end line says"},
                        {"garbage line", 0, "log ", "garbage\nlog ", "unknown record"},
                        {"wrong magic", 0, "postfix-autoblacklist-state", "something-else", "not a postfix-autoblacklist state file"},
                        {"newer version", 0, "state 1\n", "state 2\n", "version 2"},
                        {"bad position", 0, "position 2049 131", "position 2049 x31", "bad position record"},
                        {"a position with an unknown last word", 0, "deadbeefcafef00d\n", "deadbeefcafef00d what\n",
                         "bad position record"},
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

        /* The journal source's cursor instead of file positions. */
        {
                State j = {0}, jb = {0};
                Buf jt = {0};
                static const char cursor[] = "s=7a1f0e4e9d8b4c2f;i=2f1;b=3c9e;m=1a2b3c;t=5f0e1d2c3b4a5;x=9f8e7d6c";
                j.journal_cursor = xstrdup(cursor);
                state_render(&j, &jt);
                CHECK(strstr(jt.data, "\njournal s=7a1f0e4e9d8b4c2f;") != NULL, "journal record:\n%s", jt.data);
                CHECK_INT(parse(jt.data, &jb, &why), 0, why ? why : "journal round trip parses");
                CHECK_STR(jb.journal_cursor, cursor, "journal cursor round trip");
                state_clear(&jb);
                /* a cursor with a space, or two journal records, is damage */
                buf_clear(&jt);
                buf_puts(&jt, "postfix-autoblacklist-state 1\njournal a b\n");
                buf_printf(&jt, "end 1 %016llx\n", (unsigned long long)fnv1a(jt.data, jt.len));
                CHECK_INT(parse(jt.data, &jb, &why), -EBADMSG, "journal cursor with a space");
                CHECK(why && strstr(why, "bad journal record"), "reason: %s", check_show(why));
                free(why);
                why = NULL;
                buf_free(&jt);
                state_clear(&j);
        }

        /* Files: save, load, missing, set aside. */
        {
                const char *dir = check_mktemp();
                char path[512];
                State l = {0};
                snprintf(path, sizeof(path), "%s/state", dir);
                CHECK_INT(state_load(path, &l, &why), -ENOENT, "missing file");
                CHECK_INT(state_save(path, &s), 0, "save");
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
