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
#include "service/state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "source/file.h"
#include "util/htab.h"

#define MAGIC "postfix-autoblacklist-state"

/*
 * The records of older files, kept while a file or batch is read and
 * then turned into the source and position they stand for: "log" and
 * "position" the file source's (file.h's position string), "journal"
 * the journal source's cursor.
 */
typedef struct Legacy {
        char *log;
        char *cursor;
        TailPos pos[TAIL_MAX_POS];
        size_t n_pos;
} Legacy;

static void legacy_finish(Legacy *lg, State *s)
{
        if (!s->source && lg->cursor) {
                s->source = xstrdup("journal");
                s->position = lg->cursor;
                lg->cursor = NULL;
        } else if (!s->source && (lg->log || lg->n_pos)) {
                s->source = xstrdup("file");
                /* positions without a log line: the log is unknown, so they fit no log */
                s->position = file_position_format(lg->log ? lg->log : "/unknown", lg->pos, lg->n_pos);
        }
        free(lg->log);
        free(lg->cursor);
        *lg = (Legacy){0};
}

void state_clear(State *s)
{
        free(s->source);
        free(s->position);
        free(s->map);
        free(s->bans);
        free(s->gone);
        *s = (State){0};
}

void state_add_gone(State *s, const Addr *a, uint8_t plen)
{
        GROW(s->gone, s->cap_gone, s->n_gone + 1);
        s->gone[s->n_gone++] = (struct StateKey){*a, plen};
}

StateBan *state_add_ban(State *s)
{
        GROW(s->bans, s->cap_bans, s->n_bans + 1);
        s->bans[s->n_bans] = (StateBan){0};
        return &s->bans[s->n_bans++];
}

/* The records of s (no header, no end line); returns their count. */
static size_t render_records(const State *s, Buf *out)
{
        size_t records = 0;

        if (s->source && s->position) {
                buf_printf(out, "source %s %s\n", s->source, s->position);
                records++;
        }
        if (s->map) {
                buf_printf(out, "map %s\n", s->map);
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
        for (size_t i = 0; i < s->n_gone; i++) {
                char a[ADDR_STRLEN];
                buf_printf(out, "forget %s/%u\n", addr_format(&s->gone[i].addr, a), s->gone[i].plen);
                records++;
        }
        return records;
}

void state_render(const State *s, Buf *out)
{
        size_t start = out->len, records;

        buf_printf(out, "%s %d\n", MAGIC, STATE_VERSION);
        records = render_records(s, out);
        buf_printf(out, "end %zu %016" PRIx64 "\n", records, fnv1a(out->data + start, out->len - start));
}

void state_render_batch(const State *batch, Buf *out)
{
        size_t start = out->len, records = render_records(batch, out);

        buf_printf(out, "commit %zu %016" PRIx64 "\n", records, fnv1a(out->data + start, out->len - start));
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

/* "ADDR/PLEN" */
static int parse_key(char *word, Addr *a, uint8_t *plen)
{
        char *slash = strchr(word, '/');
        uint64_t v;

        if (!slash)
                return -1;
        *slash = '\0';
        if (addr_parse_str(word, a) < 0 || parse_uint(slash + 1, addr_host_plen(a), &v) < 0)
                return -1;
        *plen = (uint8_t)v;
        return 0;
}

static int parse_ban(char **w, size_t n, State *s)
{
        StateBan *b;
        uint64_t v;

        if (n != 11 && !(n == 12 && startswith(w[11], "from=") && w[11][5] && strlen(w[11] + 5) <= STATE_RULE_MAX))
                return -1;
        b = state_add_ban(s);
        if (parse_key(w[1], &b->addr, &b->plen) < 0)
                return -1;
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

/*
 * One record line (not the header, not the end line) into s.  in_log: a
 * change log's batch, where "forget" is allowed.  -1 with *why on error.
 */
static int parse_record(char *line, unsigned lineno, State *s, Legacy *lg, bool in_log, char **why)
{
        char *w[13];
        size_t n;

        if (startswith(line, "source ")) {
                /* KIND, then the position: the rest of the line, the source's own text */
                const char *k = line + 7, *sp = strchr(k, ' ');
                size_t kl = sp ? (size_t)(sp - k) : 0;
                if (!sp || kl == 0 || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_-") != kl || !sp[1] ||
                    s->source) {
                        *why = xasprintf("line %u: bad source record", lineno);
                        return -1;
                }
                s->source = xstrndup(k, kl);
                s->position = xstrdup(sp + 1);
                return 0;
        }
        if (startswith(line, "log ")) {
                free(lg->log);
                lg->log = xstrdup(line + 4);
                return 0;
        }
        if (startswith(line, "journal ")) {
                /* a cursor is printable ASCII without spaces */
                const char *c = line + 8;
                if (!*c || c[strcspn(c, " \t")] || lg->cursor) {
                        *why = xasprintf("line %u: bad journal record", lineno);
                        return -1;
                }
                lg->cursor = xstrdup(c);
                return 0;
        }
        if (startswith(line, "map ")) {
                free(s->map);
                s->map = xstrdup(line + 4);
                return 0;
        }
        n = split_words(line, " ", w, 12);
        if (n >= 1 && streq(w[0], "position")) {
                TailPos *p;
                uint64_t hl;
                if (lg->n_pos == TAIL_MAX_POS) {
                        *why = xasprintf("line %u: too many positions", lineno);
                        return -1;
                }
                p = &lg->pos[lg->n_pos];
                if ((n != 6 && (n != 7 || !streq(w[6], "skip"))) || !num_u64(w[1], &p->dev) ||
                    !num_u64(w[2], &p->ino) || !num_u64(w[3], &p->offset) || !num_u64(w[4], &hl) ||
                    hl > TAIL_HEAD_LEN || !num_hex(w[5], &p->head_hash)) {
                        *why = xasprintf("line %u: bad position record", lineno);
                        return -1;
                }
                p->head_len = (uint32_t)hl;
                p->skip_line = n == 7;
                lg->n_pos++;
                return 0;
        }
        if (n >= 1 && streq(w[0], "ban")) {
                if (parse_ban(w, n, s) < 0) {
                        *why = xasprintf("line %u: bad ban record", lineno);
                        return -1;
                }
                return 0;
        }
        if (in_log && n == 2 && streq(w[0], "forget")) {
                Addr a;
                uint8_t plen;
                if (parse_key(w[1], &a, &plen) < 0) {
                        *why = xasprintf("line %u: bad forget record", lineno);
                        return -1;
                }
                state_add_gone(s, &a, plen);
                return 0;
        }
        *why = xasprintf("line %u: unknown record", lineno);
        return -1;
}

int state_parse(const char *text, size_t len, State *out, char **why)
{
        _cleanup_free_ char *copy = xstrndup(text, len);
        char *save = copy, *line;
        unsigned lineno = 0;
        size_t records = 0;
        bool ended = false;
        State s = {0};
        Legacy lg = {0};
        const char *end_line = NULL;

        *why = NULL;
        if (memchr(text, '\0', len)) {
                *why = xstrdup("the file holds NUL bytes");
                return -EBADMSG;
        }
        while ((line = strsep(&save, "\n"))) {
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
                if (startswith(line, "end ")) {
                        char *w[4];
                        size_t n;
                        uint64_t count, hash;
                        end_line = text + (line - copy);
                        n = split_words(line, " ", w, 3);
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
                        s.hash = hash;
                        ended = true;
                        continue;
                }
                if (parse_record(line, lineno, &s, &lg, false, why) < 0)
                        goto bad;
                records++;
        }
        if (lineno == 0) {
                *why = xstrdup("the file is empty");
                goto bad;
        }
        if (!ended) {
                *why = xstrdup("no end line: the file is truncated");
                goto bad;
        }
        legacy_finish(&lg, &s);
        *out = s;
        return 0;
bad:
        legacy_finish(&lg, &s);
        state_clear(&s);
        return -EBADMSG;
}

/* --- the change log ------------------------------------------------------ */

#define LOG_MAGIC "postfix-autoblacklist-log"

typedef struct KeyIndex {
        HTab t;
        const State *s;
} KeyIndex;

static uint64_t key_hash(const Addr *a, uint8_t plen)
{
        uint8_t k[17];

        memcpy(k, a->b, 16);
        k[16] = plen;
        return fnv1a(k, sizeof(k));
}

static uint64_t idx_hash(const State *s, uint32_t i)
{
        return key_hash(&s->bans[i].addr, s->bans[i].plen);
}

static bool idx_equal(const void *ctx, uint32_t i, const void *key)
{
        const State *s = ctx;
        const struct StateKey *k = key;
        return s->bans[i].plen == k->plen && memcmp(&s->bans[i].addr, &k->addr, sizeof(Addr)) == 0;
}

static const HTabOps idx_ops = {idx_equal};

/* Drop s->bans[i], keeping the index right (the last record moves to i). */
static void drop_ban(State *s, HTab *t, uint32_t i)
{
        uint32_t last = (uint32_t)s->n_bans - 1;

        htab_remove(t, i, idx_hash(s, i));
        if (i != last) {
                uint64_t h = idx_hash(s, last);
                htab_remove(t, last, h);
                s->bans[i] = s->bans[last];
                htab_insert(t, i, h);
        }
        s->n_bans--;
}

/* Fold one parsed batch into s. */
static void apply_batch(State *s, HTab *t, State *b)
{
        if (b->source) {
                free(s->source);
                free(s->position);
                s->source = b->source;
                s->position = b->position;
                b->source = b->position = NULL;
        }
        if (b->map) {
                free(s->map);
                s->map = b->map;
                b->map = NULL;
        }
        for (size_t i = 0; i < b->n_bans; i++) {
                struct StateKey k = {b->bans[i].addr, b->bans[i].plen};
                uint32_t e = htab_find(t, &k, key_hash(&k.addr, k.plen));
                if (e != HTAB_NONE)
                        s->bans[e] = b->bans[i];
                else {
                        *state_add_ban(s) = b->bans[i];
                        htab_insert(t, (uint32_t)(s->n_bans - 1), key_hash(&k.addr, k.plen));
                }
        }
        for (size_t i = 0; i < b->n_gone; i++) {
                uint32_t e = htab_find(t, &b->gone[i], key_hash(&b->gone[i].addr, b->gone[i].plen));
                if (e != HTAB_NONE)
                        drop_ban(s, t, e);
        }
}

void state_apply_log(State *s, const char *text, size_t len, StateLogInfo *info)
{
        const char *p = text, *end = text + len, *batch_start;
        State b = {0};
        Legacy lg = {0};
        HTab t;
        size_t records = 0;
        unsigned lineno = 1;
        char head[96];
        int version;
        uint64_t base;
        const char *nl = memchr(text, '\n', len);

        *info = (StateLogInfo){0};
        if (!nl || (size_t)(nl - text) >= sizeof(head) || memchr(text, '\0', len)) {
                info->skipped = "no header line";
                info->ignored = len;
                return;
        }
        memcpy(head, text, (size_t)(nl - text));
        head[nl - text] = '\0';
        {
                char magic[40], hash[24];
                if (sscanf(head, "%39s %d %23s", magic, &version, hash) != 3 || !streq(magic, LOG_MAGIC) ||
                    version != STATE_LOG_VERSION || !num_hex(hash, &base)) {
                        info->skipped = "not a change log of this version";
                        info->ignored = len;
                        return;
                }
        }
        if (base != s->hash) {
                info->skipped = "it belongs to another snapshot (one written since)";
                info->ignored = len;
                return;
        }
        htab_init(&t, &idx_ops, s);
        for (uint32_t i = 0; i < s->n_bans; i++)
                htab_insert(&t, i, idx_hash(s, i));
        p = batch_start = nl + 1;
        while (p < end) {
                const char *e = memchr(p, '\n', (size_t)(end - p));
                _cleanup_free_ char *line = NULL;
                char *why = NULL;

                if (!e)
                        break; /* torn */
                line = xstrndup(p, (size_t)(e - p));
                lineno++;
                if (startswith(line, "commit ")) {
                        char *w[4];
                        uint64_t count, hash;
                        if (split_words(line, " ", w, 3) != 3 || !num_u64(w[1], &count) || !num_hex(w[2], &hash) ||
                            count != records || hash != fnv1a(batch_start, (size_t)(p - batch_start)))
                                break; /* a damaged batch: nothing after it is trusted */
                        legacy_finish(&lg, &b);
                        apply_batch(s, &t, &b);
                        state_clear(&b);
                        records = 0;
                        info->batches++;
                        p = batch_start = e + 1;
                        continue;
                }
                if (parse_record(line, lineno, &b, &lg, true, &why) < 0) {
                        free(why);
                        break;
                }
                records++;
                p = e + 1;
        }
        info->ignored = (size_t)(end - batch_start);
        legacy_finish(&lg, &b);
        state_clear(&b);
        htab_free(&t);
}

static char *log_path(const char *path) { return xasprintf("%s.log", path); }

int state_load_info(const char *path, State *out, char **why, StateLogInfo *info)
{
        _cleanup_free_ char *text = NULL, *lpath = log_path(path);
        StateLogInfo none;
        size_t len = 0;
        int r;

        *why = NULL;
        if (!info)
                info = &none;
        *info = (StateLogInfo){0};
        r = read_file(path, 1u << 30, &text, &len);
        if (r < 0) {
                if (r != -ENOENT)
                        *why = xasprintf("cannot read: %s", strerror(-r));
                return r;
        }
        r = state_parse(text, len, out, why);
        if (r < 0)
                return r;
        free(text);
        text = NULL;
        r = read_file(lpath, 1u << 30, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                info->skipped = "it cannot be read";
                return 0;
        }
        state_apply_log(out, text, len, info);
        return 0;
}

int state_load(const char *path, State *out, char **why) { return state_load_info(path, out, why, NULL); }

int state_save_snapshot(const char *path, const State *s, uint64_t *hash, size_t *bytes)
{
        _cleanup_free_ char *lpath = log_path(path);
        Buf b = {0};
        int r;

        state_render(s, &b);
        r = write_file_atomic(path, b.data, b.len, 0600);
        if (r == 0) {
                const char *e = b.data + b.len - 17; /* "HASH\n" of the end line */
                if (hash)
                        *hash = strtoull(e, NULL, 16);
                if (bytes)
                        *bytes = b.len;
                /* Its log is older: even if a kill keeps it, it names the old snapshot. */
                if (unlink(lpath) < 0 && errno != ENOENT)
                        r = -errno;
        }
        buf_free(&b);
        return r;
}


int state_append(const char *path, uint64_t snap_hash, const State *batch, size_t *log_bytes)
{
        _cleanup_free_ char *lpath = log_path(path);
        struct stat st;
        Buf b = {0};
        int fd, r = 0;

        fd = open(lpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (st.st_size == 0)
                buf_printf(&b, "%s %d %016" PRIx64 "\n", LOG_MAGIC, STATE_LOG_VERSION, snap_hash);
        state_render_batch(batch, &b);
        r = write_all(fd, b.data, b.len);
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        if (r < 0)
                (void)ftruncate(fd, st.st_size); /* best effort: the caller writes a snapshot next */
        else
                *log_bytes = (size_t)st.st_size + b.len;
out:
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && st.st_size == 0)
                (void)fsync_parent(lpath); /* the new log's name, too */
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
