/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * state: render, parse, load and save the state file.
 *
 * Security and robustness: the file is ours, but it may be truncated by a
 * crash of the machine or damaged by hand.  The parser trusts nothing: each
 * line is checked in full, the record count and the hash on the "end"
 * line must agree, and any problem rejects the whole file, with a reason.
 * The daemon then keeps the file aside and starts fresh; it never acts on
 * half a state.
 */
#include "state.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <time.h>

#define MAGIC "postfix-autoblacklist-state"

void state_clear(State *s)
{
        free(s->log_file);
        free(s->journal_cursor);
        free(s->map);
        free(s->bans);
        *s = (State){0};
}

StateBan *state_add_ban(State *s)
{
        GROW(s->bans, s->cap_bans, s->n_bans + 1);
        s->bans[s->n_bans] = (StateBan){0};
        return &s->bans[s->n_bans++];
}

void state_render(const State *s, Buf *out)
{
        size_t start = out->len, records = 0;

        buf_printf(out, "%s %d\n", MAGIC, STATE_VERSION);
        if (s->log_file) {
                buf_printf(out, "log %s\n", s->log_file);
                records++;
        }
        if (s->journal_cursor) {
                buf_printf(out, "journal %s\n", s->journal_cursor);
                records++;
        }
        if (s->map) {
                buf_printf(out, "map %s\n", s->map);
                records++;
        }
        for (size_t i = 0; i < s->n_pos; i++) {
                const TailPos *p = &s->pos[i];
                /* "skip": the offset is inside an over-long line, whose rest is not a line */
                buf_printf(out, "position %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32 " %016" PRIx64 "%s\n",
                           p->dev, p->ino, p->offset, p->head_len, p->head_hash, p->skip_line ? " skip" : "");
                records++;
        }
        for (size_t i = 0; i < s->n_bans; i++) {
                const StateBan *b = &s->bans[i];
                char a[ADDR_STRLEN];
                buf_printf(out, "ban %s/%u %s %d %d %" PRIu32 " %" PRIu32 " %" PRId64 " %" PRId64 " %" PRId64
                                " %" PRId64,
                           addr_format(&b->addr, a), b->plen, b->rule, b->active, b->manual, b->count, b->hits,
                           b->first_hit_ms, b->last_hit_ms, b->banned_ms, b->expires_ms);
                if (b->origin[0])
                        buf_printf(out, " from=%s", b->origin);
                buf_puts(out, "\n");
                records++;
        }
        buf_printf(out, "end %zu %016" PRIx64 "\n", records, fnv1a(out->data + start, out->len - start));
}

static bool num_u64(const char *s, uint64_t *out) { return parse_uint(s, UINT64_MAX, out) == 0; }

static bool num_i64(const char *s, int64_t *out)
{
        uint64_t v;
        bool neg = *s == '-';

        if (!num_u64(neg ? s + 1 : s, &v) || v > INT64_MAX)
                return false;
        *out = neg ? -(int64_t)v : (int64_t)v;
        return true;
}

static bool num_hex(const char *s, uint64_t *out)
{
        char *end;

        if (!isxdigit((unsigned char)*s) || strlen(s) > 16)
                return false;
        errno = 0;
        *out = strtoull(s, &end, 16);
        return errno == 0 && *end == '\0';
}

static bool flag(const char *s, bool *out)
{
        if (streq(s, "0") || streq(s, "1")) {
                *out = s[0] == '1';
                return true;
        }
        return false;
}

static int parse_ban(char **w, size_t n, State *s)
{
        StateBan *b;
        char *slash;
        uint64_t v;

        if (n != 11 && !(n == 12 && startswith(w[11], "from=") && w[11][5] && strlen(w[11] + 5) <= STATE_RULE_MAX))
                return -1;
        b = state_add_ban(s);
        slash = strchr(w[1], '/');
        if (!slash)
                return -1;
        *slash = '\0';
        if (addr_parse_str(w[1], &b->addr) < 0 || parse_uint(slash + 1, addr_host_plen(&b->addr), &v) < 0)
                return -1;
        b->plen = (uint8_t)v;
        if (strlen(w[2]) > STATE_RULE_MAX)
                return -1;
        strcpy(b->rule, w[2]);
        if (!flag(w[3], &b->active) || !flag(w[4], &b->manual))
                return -1;
        if (!num_u64(w[5], &v) || v > UINT32_MAX)
                return -1;
        b->count = (uint32_t)v;
        if (!num_u64(w[6], &v) || v > UINT32_MAX)
                return -1;
        b->hits = (uint32_t)v;
        if (!num_i64(w[7], &b->first_hit_ms) || !num_i64(w[8], &b->last_hit_ms) ||
            !num_i64(w[9], &b->banned_ms) || !num_i64(w[10], &b->expires_ms))
                return -1;
        if (n == 12)
                strcpy(b->origin, w[11] + 5);
        return 0;
}

int state_parse(const char *text, size_t len, State *out, char **why)
{
        _cleanup_free_ char *copy = xstrndup(text, len);
        char *save = copy, *line;
        unsigned lineno = 0;
        size_t records = 0;
        bool ended = false;
        State s = {0};
        const char *end_line = NULL;

        *why = NULL;
        if (memchr(text, '\0', len)) {
                *why = xstrdup("the file holds NUL bytes");
                return -EBADMSG;
        }
        while ((line = strsep(&save, "\n"))) {
                char *w[13];
                size_t n;

                if (!save && !*line)
                        break; /* after the last newline */
                lineno++;
                if (ended) {
                        *why = xasprintf("line %u: text after the end line", lineno);
                        goto bad;
                }
                if (lineno == 1) {
                        char magic[64];
                        int version;
                        if (sscanf(line, "%63s %d", magic, &version) != 2 || !streq(magic, MAGIC)) {
                                *why = xstrdup("line 1: not a postfix-autoblacklist state file");
                                goto bad;
                        }
                        if (version != STATE_VERSION) {
                                *why = xasprintf("line 1: version %d, this daemon reads version %d", version,
                                                 STATE_VERSION);
                                goto bad;
                        }
                        continue;
                }
                if (startswith(line, "log ")) {
                        free(s.log_file);
                        s.log_file = xstrdup(line + 4);
                        records++;
                        continue;
                }
                if (startswith(line, "journal ")) {
                        /* a cursor is printable ASCII without spaces */
                        const char *c = line + 8;
                        if (!*c || c[strcspn(c, " \t")] || s.journal_cursor) {
                                *why = xasprintf("line %u: bad journal record", lineno);
                                goto bad;
                        }
                        s.journal_cursor = xstrdup(c);
                        records++;
                        continue;
                }
                if (startswith(line, "map ")) {
                        free(s.map);
                        s.map = xstrdup(line + 4);
                        records++;
                        continue;
                }
                if (startswith(line, "end ")) {
                        end_line = text + (line - copy);
                        n = split_words(line, " ", w, 3);
                        uint64_t count, hash;
                        if (n != 3 || !num_u64(w[1], &count) || !num_hex(w[2], &hash)) {
                                *why = xasprintf("line %u: bad end line", lineno);
                                goto bad;
                        }
                        if (count != records) {
                                *why = xasprintf("line %u: %zu records, the end line says %" PRIu64, lineno,
                                                 records, count);
                                goto bad;
                        }
                        if (hash != fnv1a(text, (size_t)(end_line - text))) {
                                *why = xasprintf("line %u: the content does not match its hash", lineno);
                                goto bad;
                        }
                        ended = true;
                        continue;
                }
                n = split_words(line, " ", w, 12);
                if (n >= 1 && streq(w[0], "position")) {
                        TailPos *p;
                        uint64_t hl;
                        if (s.n_pos == TAIL_MAX_POS) {
                                *why = xasprintf("line %u: too many positions", lineno);
                                goto bad;
                        }
                        p = &s.pos[s.n_pos];
                        if ((n != 6 && (n != 7 || !streq(w[6], "skip"))) || !num_u64(w[1], &p->dev) ||
                            !num_u64(w[2], &p->ino) || !num_u64(w[3], &p->offset) || !num_u64(w[4], &hl) ||
                            hl > TAIL_HEAD_LEN || !num_hex(w[5], &p->head_hash)) {
                                *why = xasprintf("line %u: bad position record", lineno);
                                goto bad;
                        }
                        p->head_len = (uint32_t)hl;
                        p->skip_line = n == 7;
                        s.n_pos++;
                        records++;
                } else if (n >= 1 && streq(w[0], "ban")) {
                        if (parse_ban(w, n, &s) < 0) {
                                *why = xasprintf("line %u: bad ban record", lineno);
                                goto bad;
                        }
                        records++;
                } else {
                        *why = xasprintf("line %u: unknown record", lineno);
                        goto bad;
                }
        }
        if (lineno == 0) {
                *why = xstrdup("the file is empty");
                goto bad;
        }
        if (!ended) {
                *why = xstrdup("no end line: the file is truncated");
                goto bad;
        }
        *out = s;
        return 0;
bad:
        state_clear(&s);
        return -EBADMSG;
}

int state_load(const char *path, State *out, char **why)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        *why = NULL;
        r = read_file(path, 1u << 30, &text, &len);
        if (r < 0) {
                if (r != -ENOENT)
                        *why = xasprintf("cannot read: %s", strerror(-r));
                return r;
        }
        return state_parse(text, len, out, why);
}

int state_save(const char *path, const State *s)
{
        Buf b = {0};
        int r;

        state_render(s, &b);
        r = write_file_atomic(path, b.data, b.len, 0600);
        buf_free(&b);
        return r;
}

char *state_set_aside(const char *path)
{
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        char *aside;

        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        aside = xasprintf("%s.damaged-%s", path, stamp);
        if (rename(path, aside) < 0) {
                free(aside);
                return NULL;
        }
        return aside;
}
