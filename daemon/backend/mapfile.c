/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mapfile: split, read and render the access(5) map text.
 *
 * The admin's part is parsed the way postmap(1) reads a table: a logical
 * line starts with non-white text, a line that starts with white space
 * continues it, and lines whose first non-white character is '#' are
 * comments.  The first word is the key (folded to lowercase, as postmap
 * does by default) and the first word of the value is the action.  Only
 * the action class matters here: an action that may accept the client
 * (OK, RELAY, all-numerical, permit or a permit_* restriction: see
 * verdict_of) means the admin trusts that client, anything else means the
 * admin has their own entry for the key.  When a key appears twice, the
 * first one counts, as in postmap.
 *
 * Network keys.  smtpd looks up the client address, then cuts the last
 * ".octet" or ":octetpair" off the text and looks up again, and so on
 * (check_addr_access()).  For IPv6 the text is the compressed form, so a
 * network prefix only works as a key if no address of the network ever
 * prints with "::" inside the prefix: the prefix must end with a non-zero
 * pair and hold no two zero pairs in a row (a single zero pair is never
 * compressed).  mapfile_key() refuses other prefixes with -EDOM.
 *
 * Families.  A key of one IPv6 group in decimal digits ("127", for
 * 127::/16) is also what an IPv4 lookup of 127.0.0.1 cuts down to, so it
 * would ban 127.0.0.0/8 as well: mapfile_key() refuses it.  The IPv4 /8
 * keys ("10") have the same problem the other way round (10::/16 is
 * reserved IPv6 space, never a client); mapfile_key_family() says which
 * families a key can match, so that the never-ban check looks at both.
 */
#include "backend/mapfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <strings.h>

typedef struct AdminKey {
        char *key;
        AdminVerdict verdict;
        size_t order; /* line order, to keep the first of duplicates */
} AdminKey;

struct AdminKeys {
        AdminKey *v;
        size_t n, cap;
};

/* Is the line at p (up to end) one that starts with marker? */
static bool line_is(const char *p, const char *end, const char *marker)
{
        size_t m = strlen(marker);
        return (size_t)(end - p) >= m && memcmp(p, marker, m) == 0;
}

int mapfile_split(const char *text, size_t len, MapText *out)
{
        const char *p = text, *end = len ? text + len : text; /* NULL + 0 is undefined */
        const char *begin = NULL, *block_end = NULL;
        size_t entries = 0;

        *out = (MapText){0};
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *next = nl ? nl + 1 : end;

                if (line_is(p, next, MAP_BEGIN)) {
                        if (begin)
                                return -EBADMSG; /* two BEGIN markers */
                        begin = p;
                } else if (line_is(p, next, MAP_END)) {
                        if (!begin || block_end)
                                return -EBADMSG; /* END without BEGIN, or two */
                        block_end = next;
                } else if (begin && !block_end && p < next && *p != '#' && *p != '\n' &&
                           !isspace((unsigned char)*p))
                        entries++;
                p = next;
        }
        if (begin && !block_end)
                return -EBADMSG;
        if (!begin) {
                out->after = text;
                out->after_len = len;
                return 0;
        }
        out->before = text;
        out->before_len = (size_t)(begin - text);
        out->after = block_end;
        out->after_len = (size_t)(end - block_end);
        out->has_block = true;
        out->block_entries = entries;
        return 0;
}

/* The access(5) actions that decide by themselves (smtpd_check.c,
   check_table_result()): none of them accepts the client. */
static const char *const own_actions[] = {
        "DUNNO", "REJECT", "DEFER", "HANGUP", "INFO", "WARN", "FILTER", "HOLD", "DELAY", "DISCARD",
        "REDIRECT", "BCC", "DEFER_IF_PERMIT", "DEFER_IF_REJECT", "PREPEND",
};

static bool word_is(const char *w, size_t n, const char *name)
{
        return strlen(name) == n && strncasecmp(w, name, n) == 0;
}

/*
 * What smtpd does with an access(5) value, as far as a ban goes: OK,
 * RELAY, an all-numerical value, or a restriction list that holds
 * "permit" or any permit_* restriction (permit_mynetworks,
 * permit_sasl_authenticated, ...; case does not matter) may accept the
 * client, so it is never banned.  A permit_* restriction is conditional,
 * but the admin named this client for it: we do not overrule that.
 * DUNNO, REJECT, 4xx/5xx text and the other actions do not accept.
 */
static AdminVerdict verdict_of(const char *value)
{
        size_t n = strcspn(value, " \t"), i;
        bool digits = value[0] != '\0';

        for (i = 0; value[i]; i++)
                if (!isdigit((unsigned char)value[i]))
                        digits = false;
        if (digits)
                return ADMIN_PERMIT; /* alldig() of the whole value */
        if (word_is(value, n, "OK") || word_is(value, n, "RELAY"))
                return ADMIN_PERMIT;
        for (i = 0; i < sizeof(own_actions) / sizeof(own_actions[0]); i++)
                if (word_is(value, n, own_actions[i]))
                        return ADMIN_OTHER;
        if (n == 3 && (value[0] == '4' || value[0] == '5') && isdigit((unsigned char)value[1]) &&
            isdigit((unsigned char)value[2]))
                return ADMIN_OTHER; /* "550 text" */
        /* a restriction list, split as smtpd does (commas and white space) */
        for (const char *p = value; *p;) {
                size_t len;
                p += strspn(p, ", \t\r\n");
                len = strcspn(p, ", \t\r\n");
                if (word_is(p, len, "permit") || (len > 7 && strncasecmp(p, "permit_", 7) == 0))
                        return ADMIN_PERMIT;
                p += len;
        }
        return ADMIN_OTHER;
}

static void add_logical_line(void *ctx, char *line, size_t len, unsigned lineno)
{
        AdminKeys *k = ctx;
        char *key = line, *value;

        (void)len;
        (void)lineno;
        value = key;
        while (*value && !isspace((unsigned char)*value))
                value++;
        if (*value)
                *value++ = '\0';
        while (isspace((unsigned char)*value))
                value++;
        for (char *c = key; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        GROW(k->v, k->cap, k->n + 1);
        k->v[k->n] = (AdminKey){xstrdup(key), verdict_of(value), k->n};
        k->n++;
}

static int cmp_key(const void *a, const void *b)
{
        const AdminKey *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        if (c)
                return c;
        return x->order < y->order ? -1 : x->order > y->order;
}

AdminKeys *adminkeys_parse(const MapText *mt)
{
        AdminKeys *k = xcalloc(1, sizeof(AdminKeys));
        size_t w = 0;

        postfix_lines(mt->before, mt->before_len, add_logical_line, NULL, k);
        postfix_lines(mt->after, mt->after_len, add_logical_line, NULL, k);
        if (k->n > 1)
                qsort(k->v, k->n, sizeof(AdminKey), cmp_key);
        /* keep the first of each key */
        for (size_t i = 0; i < k->n; i++) {
                if (w > 0 && streq(k->v[w - 1].key, k->v[i].key)) {
                        free(k->v[i].key);
                        continue;
                }
                k->v[w++] = k->v[i];
        }
        k->n = w;
        return k;
}

AdminKeys *adminkeys_free(AdminKeys *k)
{
        if (!k)
                return NULL;
        for (size_t i = 0; i < k->n; i++)
                free(k->v[i].key);
        free(k->v);
        free(k);
        return NULL;
}

static const AdminKey *find(const AdminKeys *k, const char *key)
{
        size_t lo = 0, hi = k ? k->n : 0;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(k->v[mid].key, key);
                if (c == 0)
                        return &k->v[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

bool adminkeys_has(const AdminKeys *k, const char *key) { return find(k, key) != NULL; }

AdminVerdict adminkeys_lookup(const AdminKeys *k, const char *key)
{
        char cur[CIDR_STRLEN];
        char delim = strchr(key, ':') ? ':' : '.';

        snprintf(cur, sizeof(cur), "%s", key);
        for (;;) {
                const AdminKey *a = cur[0] ? find(k, cur) : NULL;
                char *p;
                if (a)
                        return a->verdict;
                p = strrchr(cur, delim);
                if (!p)
                        return ADMIN_NONE;
                *p = '\0';
        }
}

/* snprintf(buf, size, "%s", s) without printf: a host key is rendered for every ban of every write. */
static void copy_key(char *buf, size_t size, const char *s)
{
        size_t n = strlen(s);

        if (!size)
                return;
        if (n >= size)
                n = size - 1;
        memcpy(buf, s, n);
        buf[n] = '\0';
}

int mapfile_key(const Addr *a, unsigned plen, char *buf, size_t size)
{
        char full[ADDR_STRLEN];

        if (addr_is_v4(a)) {
                unsigned octets = plen / 8;
                size_t used = 0;
                if (plen == 32) {
                        copy_key(buf, size, addr_format(a, full));
                        return 0;
                }
                if (plen % 8 || plen == 0)
                        return -EDOM;
                buf[0] = '\0';
                for (unsigned i = 0; i < octets; i++)
                        used += (size_t)snprintf(buf + used, size > used ? size - used : 0, "%s%u",
                                                 i ? "." : "", a->b[12 + i]);
                return 0;
        }
        if (plen == 128) {
                copy_key(buf, size, addr_format(a, full));
                return 0;
        }
        if (plen % 16 || plen == 0)
                return -EDOM;
        {
                unsigned pairs = plen / 16;
                uint16_t h[8];
                size_t used = 0;

                for (unsigned i = 0; i < 8; i++)
                        h[i] = (uint16_t)(a->b[2 * i] << 8 | a->b[2 * i + 1]);
                if (h[pairs - 1] == 0)
                        return -EDOM;
                for (unsigned i = 0; i + 1 < pairs; i++)
                        if (h[i] == 0 && h[i + 1] == 0)
                                return -EDOM;
                buf[0] = '\0';
                for (unsigned i = 0; i < pairs; i++)
                        used += (size_t)snprintf(buf + used, size > used ? size - used : 0, "%s%x",
                                                 i ? ":" : "", h[i]);
                /* "127" (127::/16) is also the key of 127.0.0.0/8 */
                if (mapfile_key_family(buf) != MAPKEY_V6)
                        return -EDOM;
        }
        return 0;
}

MapKeyFamily mapfile_key_family(const char *key)
{
        size_t n = strlen(key);

        if (strchr(key, ':'))
                return MAPKEY_V6;
        if (strchr(key, '.'))
                return MAPKEY_V4;
        /* one group: an IPv4 octet can only be a number up to 255 */
        if (n >= 1 && n <= 3 && strspn(key, "0123456789") == n && atoi(key) <= 255)
                return MAPKEY_BOTH;
        return MAPKEY_V6;
}

size_t mapfile_key_reach(const Addr *net, const char *key, Cidr *out)
{
        unsigned long v4, v6;
        Cidr o = {0};

        if (mapfile_key_family(key) != MAPKEY_BOTH)
                return 0;
        v4 = strtoul(key, NULL, 10);
        v6 = strtoul(key, NULL, 16);
        if (addr_is_v4(net)) {
                o.net.b[0] = (uint8_t)(v6 >> 8);
                o.net.b[1] = (uint8_t)v6;
                o.plen = 16;
        } else {
                addr_parse_str("::ffff:0.0.0.0", &o.net);
                o.net.b[12] = (uint8_t)v4;
                o.plen = 8;
                o.v4 = true;
        }
        *out = o;
        return 1;
}

const char *adminkeys_exempts(const AdminKeys *k, const Addr *net, const char *key)
{
        char text[ADDR_STRLEN];

        if (k && adminkeys_lookup(k, key ? key : addr_format(net, text)) == ADMIN_PERMIT)
                return "accepted by the access map";
        return NULL;
}

void mapfile_render(Buf *out, const MapText *mt, const char *entries, size_t n_entries)
{
        buf_append(out, mt->before, mt->before_len);
        buf_puts(out, MAP_BEGIN ": managed by autoblacklistd, do not edit between these markers\n");
        buf_printf(out, "# %zu %s. Your own entries go below the END line; they are kept as they are.\n",
                   n_entries, n_entries == 1 ? "entry" : "entries");
        buf_puts(out, entries);
        buf_puts(out, MAP_END "\n");
        buf_append(out, mt->after, mt->after_len);
}

static const struct {
        const char *type;
        const char *suffix;
} map_types[] = {
        {"hash", ".db"},
        {"btree", ".db"},
        {"lmdb", ".lmdb"},
        {"cdb", ".cdb"},
};

const char *mapfile_suffix(const char *type)
{
        for (size_t i = 0; i < ELEMENTSOF(map_types); i++)
                if (streq(map_types[i].type, type))
                        return map_types[i].suffix;
        return NULL;
}
