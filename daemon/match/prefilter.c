/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prefilter: candidates for PCRE2 by tag and literal text (see
 * prefilter.h).
 *
 * This is the per-line hot path, so the work is staged from cheap to
 * dear:
 *   1. the tag selects the candidate patterns: the program globs are
 *      evaluated once per distinct tag and cached, with a plan per first
 *      byte of the message;
 *   2. each candidate's literal prefix (the text after '^') is compared,
 *      then the other literals it requires are searched for, each
 *      distinct literal at most once per record.
 * Most lines stop at step 1 or 2.
 *
 * Security: the message is attacker text and is only compared, never
 * interpreted; every search is bounded by its length.  The tag cache has
 * a fixed size and starts over when it fills, so a log of many tags costs
 * time, not memory.  A literal is trusted only where prefilter_literals()
 * can read the pattern for sure; otherwise the pattern keeps no literals
 * and always goes to PCRE2.
 */
#include "match/prefilter.h"

#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

#include "match/pattern.h"
#include "util/util.h"

#define TAG_CACHE_SIZE 128 /* slots; flushed when 3/4 full */
#define TAG_MAX 64
#define NONE UINT32_MAX

/* The bytes of a leading word (see word_literal()). */
static const bool word_byte[256] = {
        ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
        ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
        ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
        ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
        ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
        ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
        ['y'] = 1, ['z'] = 1,
};

typedef struct Pat {
        char *program;
        char *prefix; /* literal the message starts with, or NULL */
        size_t prefix_len;
        unsigned char first; /* prefix[0], compared before memcmp() */
        uint32_t after_word; /* id of the literal right after a leading word (see word_literal()); NONE */
        uint32_t lits[8];    /* ids in Prefilter.lits, in the order they are checked */
        uint32_t n_lits;     /* how many are checked (see order_literals()) */
} Pat;

/*
 * What to try for a line, by its tag and the first byte of its message.
 * A plan lists the candidate patterns in rule order: those without a
 * literal prefix, and those whose prefix starts with that byte.  Each step
 * knows where the run of steps that share its first literal ends, so one
 * failed (memoized) literal search skips the whole run: a line without
 * ": reject: " passes over every reject rule at once.
 */
typedef struct Step {
        uint32_t pat;
        uint32_t next;    /* the first later step (in its plan) with another gate */
        uint32_t past_aw; /* the first later step (in its plan) without a literal after the word */
} Step;

typedef struct TagEntry {
        uint64_t head, tail; /* tag_words() of the tag: they decide most compares */
        char tag[TAG_MAX];
        uint8_t len;
        bool used;
        uint8_t plan_of[256]; /* first byte of the message -> plan */
        uint32_t *plan_start; /* n_plans + 1 offsets into steps */
        uint32_t n_plans;
        Step *steps;
        uint32_t n_candidates;
} TagEntry;

struct Prefilter {
        Pat *pats;
        size_t n_pats, cap_pats;
        char **lits; /* distinct required literals */
        size_t *lit_len;
        size_t *lit_anchor; /* offset of each literal's rarest byte */
        uint32_t *lit_users; /* patterns that require each literal */
        size_t n_lits;
        uint32_t *memo_gen; /* per literal: record generation of memo_val */
        bool *memo_val;
        uint32_t byte_gen[256]; /* per anchor byte: record generation of byte_in */
        bool byte_in[256];      /* is the byte in the message at all? */
        uint32_t gen;
        bool aw_first[256]; /* the first bytes of the literals after a word */
        TagEntry cache[TAG_CACHE_SIZE];
        size_t cache_used;
        TagEntry uncached; /* the plans of a tag too long to cache */
        uint32_t *scratch; /* candidates, while plans are built */
};

static void tag_entry_clear(TagEntry *e)
{
        free(e->plan_start);
        free(e->steps);
        *e = (TagEntry){0};
}

/* --- literal extraction ------------------------------------------------- */

typedef struct LitScan {
        Buf run;
        bool run_is_prefix;
        char *prefix;
        char **lits;
        size_t n, cap;
} LitScan;

static void lit_flush(LitScan *s)
{
        if (s->run_is_prefix) {
                if (s->run.len > 0)
                        s->prefix = xstrndup(s->run.data, s->run.len);
                s->run_is_prefix = false;
        } else if (s->run.len >= 4) {
                GROW(s->lits, s->cap, s->n + 2);
                s->lits[s->n++] = xstrndup(s->run.data, s->run.len);
                s->lits[s->n] = NULL;
        }
        buf_clear(&s->run);
}

/* Is there a '|' outside any group or class (so that nothing is required)? */
static bool top_level_alternation(const char *p)
{
        size_t i = 0;

        while (p[i]) {
                if (p[i] == '\\' && p[i + 1])
                        i += 2;
                else if (p[i] == '[')
                        i = pattern_skip_class(p, i);
                else if (p[i] == '(')
                        i = pattern_skip_group(p, i);
                else if (p[i] == '|')
                        return true;
                else
                        i++;
        }
        return false;
}

bool prefilter_literals(const char *p, char **prefix_out, char ***lits_out)
{
        LitScan s = {0};
        size_t i = 0;
        bool ok = true;

        *prefix_out = NULL;
        *lits_out = NULL;
        /* Verbs such as (*UTF) at the start change how all of it reads. */
        if (startswith(p, "(*") || startswith(p, "^(*") || strstr(p, "\\Q") || top_level_alternation(p))
                return false;
        if (p[0] == '^') {
                s.run_is_prefix = true;
                i = 1;
        }
        while (p[i] && ok) {
                int lit = -1; /* the literal byte of this atom, if it is one */
                char c = p[i];

                if (c == '\\') {
                        char e = p[i + 1];
                        if (!e)
                                break;
                        if (isalnum((unsigned char)e)) {
                                if (strchr("xocNgkpPQE0123456789", e)) {
                                        ok = false; /* escapes with arguments, quoting */
                                        break;
                                }
                                i += 2; /* class or assertion */
                        } else {
                                lit = (unsigned char)e;
                                i += 2;
                        }
                } else if (c == '[') {
                        i = pattern_skip_class(p, i);
                } else if (c == '(') {
                        size_t j = i + 2;
                        if (startswith(p + i, "(?#")) {
                                const char *e = strchr(p + i, ')');
                                i = e ? (size_t)(e - p) + 1 : strlen(p);
                                continue;
                        }
                        /* "(?i)" and the like change how what follows reads: stop here. */
                        if (p[i + 1] == '?' || p[i + 1] == '*') {
                                while (p[j] && (isalpha((unsigned char)p[j]) || p[j] == '-' || p[j] == '^'))
                                        j++;
                                if (p[i + 1] == '*' || (j > i + 2 && p[j] == ')')) {
                                        ok = false;
                                        break;
                                }
                        }
                        i = pattern_skip_group(p, i);
                } else if (c == '|') {
                        /* top-level alternation: nothing is required */
                        buf_free(&s.run);
                        free(s.prefix);
                        strv_free(s.lits);
                        return false;
                } else if (c == '<' && startswith(p + i, ADDR_TOKEN)) {
                        i += strlen(ADDR_TOKEN);
                } else if (c == '.' || c == '^' || c == '$') {
                        i++;
                } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                        ok = false; /* a quantifier with nothing before it */
                        break;
                } else {
                        lit = (unsigned char)c;
                        i++;
                }

                /* The quantifier, if any, that applies to this atom. */
                {
                        unsigned long min = 1, max = 1;
                        bool unbounded = false, quantified = false;
                        size_t qlen;

                        if (p[i] == '*' || p[i] == '?') {
                                min = 0;
                                quantified = true;
                                i++;
                        } else if (p[i] == '+') {
                                quantified = true;
                                i++;
                        } else if (p[i] == '{' && (qlen = pattern_quantifier(p, i, &min, &max, &unbounded))) {
                                quantified = true;
                                i += qlen;
                        }
                        if (quantified && (p[i] == '+' || p[i] == '?'))
                                i++; /* possessive or lazy */
                        if (lit >= 0 && min >= 1) {
                                char ch = (char)lit;
                                buf_append(&s.run, &ch, 1);
                        }
                        if (lit < 0 || quantified)
                                lit_flush(&s);
                }
        }
        /* What was collected before a construct we cannot read is still required. */
        lit_flush(&s);
        buf_free(&s.run);
        *prefix_out = s.prefix;
        *lits_out = s.lits;
        return true;
}

static bool is_word(unsigned char c) { return word_byte[c]; }

/* Does the class p[i] == '[' up to p[end - 1] == ']' hold only ASCII letters and digits? */
static bool word_class(const char *p, size_t i, size_t end)
{
        i++;
        if (p[i] == '^' || p[i] == ']' || end < i + 2 || p[end - 1] != ']')
                return false;
        while (i < end - 1) {
                unsigned char lo = (unsigned char)p[i], hi;
                if (!is_word(lo))
                        return false;
                if (p[i + 1] != '-' || i + 2 >= end - 1) {
                        i++;
                        continue;
                }
                hi = (unsigned char)p[i + 2];
                /* a range within the digits, the capitals or the small letters */
                if (hi < lo || !is_word(hi) || (lo <= '9') != (hi <= '9') || (lo >= 'a') != (hi >= 'a'))
                        return false;
                i += 3;
        }
        return true;
}

/*
 * Postfix's queue-id field: "^(?:NOQUEUE|[0-9A-Za-z]+): reject: ...".  If
 * the pattern starts with a group each of whose alternatives matches only
 * a non-empty run of ASCII letters and digits (a word, or a class of them
 * with an optional '+'), and the group is followed by a literal whose
 * first byte is not one of them, then every match has that literal right
 * after the message's leading run of letters and digits, and nowhere
 * else: one memcmp() at a known place instead of a search of the whole
 * message.  Returns the literal (to free), or NULL if the pattern does not
 * have that form.
 */
static char *word_literal(const char *p)
{
        size_t end, i = 4;
        Buf lit = {0};

        if (!startswith(p, "^(?:"))
                return NULL;
        end = pattern_skip_group(p, 1); /* the index after the group's ')' */
        if (end < 6 || p[end - 1] != ')')
                return NULL;
        /* the alternatives, in p[4 .. end - 1) */
        while (i < end - 1) {
                size_t start = i;
                if (p[i] == '[') {
                        size_t ce = pattern_skip_class(p, i);
                        if (ce > end - 1 || !word_class(p, i, ce))
                                return NULL;
                        i = ce;
                        if (p[i] == '+')
                                i++;
                } else
                        while (i < end - 1 && is_word((unsigned char)p[i]))
                                i++;
                if (i == start || (p[i] != '|' && i != end - 1))
                        return NULL;
                if (p[i] == '|')
                        i++;
                if (i == end - 1 && p[i - 1] == '|')
                        return NULL; /* an empty last alternative */
        }
        /* the literal after the group: plain bytes and escaped punctuation */
        for (i = end; p[i];) {
                char c = p[i];
                size_t n = 1;
                if (c == '\\') {
                        if (!p[i + 1] || isalnum((unsigned char)p[i + 1]))
                                break;
                        c = p[i + 1];
                        n = 2;
                } else if (strchr(".^$|()[]{}*+?", c) || (c == '<' && startswith(p + i, ADDR_TOKEN)))
                        break; /* <ADDR> stands for the address, not for its own bytes */
                if (p[i + n] && strchr("*+?{", p[i + n]))
                        break; /* a quantified byte is not surely there; the run ends before it */
                buf_append(&lit, &c, 1);
                i += n;
        }
        if (lit.len < 2 || is_word((unsigned char)lit.data[0])) {
                buf_free(&lit);
                return NULL;
        }
        return lit.data;
}

/* --- literals ----------------------------------------------------------- */

/*
 * The bytes of Postfix log messages, commonest first, as measured on a
 * million generated lines (the byte counts of the project's generator and
 * of an independent one agree on the order).  A byte not listed is rarer
 * than all of these.  A literal is searched by memchr() for its rarest
 * byte, then compared whole: ": reject: " is looked for by its 'j', which
 * most lines do not hold at all.
 */
static const char common_bytes[] = " e.a1ot2nmr0:lcis5=dp346897fxuS][bh-g><A";

size_t prefilter_anchor(const char *lit, size_t len)
{
        size_t best = 0, best_rank = 0;

        for (size_t i = 0; i < len; i++) {
                const char *c = memchr(common_bytes, lit[i], sizeof(common_bytes) - 1);
                size_t rank = c ? (size_t)(c - common_bytes) : sizeof(common_bytes);
                if (rank > best_rank) {
                        best_rank = rank;
                        best = i;
                }
        }
        return best;
}

bool prefilter_find(const char *hay, size_t n, const char *lit, size_t m, size_t k)
{
        const char *p, *end;

        if (m == 0)
                return true; /* an empty literal is everywhere; lit[k] would be past its end */
        if (n < m)
                return false;
        p = hay + k;
        end = hay + (n - m) + k + 1; /* one past the last place lit[k] can be */
        while (p < end) {
                p = memchr(p, lit[k], (size_t)(end - p));
                if (!p)
                        return false;
                if (memcmp(p - k, lit, m) == 0)
                        return true;
                p++;
        }
        return false;
}

static uint32_t intern_literal(Prefilter *pf, const char *lit)
{
        for (size_t i = 0; i < pf->n_lits; i++)
                if (streq(pf->lits[i], lit))
                        return (uint32_t)i;
        pf->lits = xreallocarray(pf->lits, pf->n_lits + 1, sizeof(char *));
        pf->lit_len = xreallocarray(pf->lit_len, pf->n_lits + 1, sizeof(size_t));
        pf->lit_anchor = xreallocarray(pf->lit_anchor, pf->n_lits + 1, sizeof(size_t));
        pf->lits[pf->n_lits] = xstrdup(lit);
        pf->lit_len[pf->n_lits] = strlen(lit);
        pf->lit_anchor[pf->n_lits] = prefilter_anchor(lit, strlen(lit));
        return (uint32_t)pf->n_lits++;
}

static int cmp_len_desc(const void *a, const void *b)
{
        size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
        return la < lb ? 1 : la > lb ? -1 : 0;
}

/* --- building ----------------------------------------------------------- */

Prefilter *prefilter_new(void) { return xcalloc(1, sizeof(Prefilter)); }

Prefilter *prefilter_free(Prefilter *pf)
{
        if (!pf)
                return NULL;
        for (size_t i = 0; i < pf->n_pats; i++) {
                free(pf->pats[i].program);
                free(pf->pats[i].prefix);
        }
        free(pf->pats);
        for (size_t i = 0; i < pf->n_lits; i++)
                free(pf->lits[i]);
        free(pf->lits);
        free(pf->lit_len);
        free(pf->lit_anchor);
        free(pf->lit_users);
        free(pf->memo_gen);
        free(pf->memo_val);
        for (size_t i = 0; i < TAG_CACHE_SIZE; i++)
                tag_entry_clear(&pf->cache[i]);
        tag_entry_clear(&pf->uncached);
        free(pf->scratch);
        free(pf);
        return NULL;
}

void prefilter_add(Prefilter *pf, const char *program, const char *pattern)
{
        _cleanup_free_ char *prefix = NULL;
        _cleanup_strv_free_ char **lits = NULL;
        _cleanup_free_ char *after_word = NULL;
        Pat *m;

        GROW(pf->pats, pf->cap_pats, pf->n_pats + 1);
        m = &pf->pats[pf->n_pats++];
        *m = (Pat){.program = xstrdup(program), .after_word = NONE};
        if (prefilter_literals(pattern, &prefix, &lits)) {
                size_t n = strv_length(lits);
                if (prefix) {
                        m->prefix_len = strlen(prefix);
                        m->first = (unsigned char)prefix[0];
                        m->prefix = TAKE_PTR(prefix);
                }
                if (n > 1)
                        qsort(lits, n, sizeof(char *), cmp_len_desc);
                after_word = word_literal(pattern);
                if (after_word) {
                        m->after_word = intern_literal(pf, after_word);
                        pf->aw_first[(unsigned char)after_word[0]] = true;
                }
                for (size_t i = 0; i < n && m->n_lits < ELEMENTSOF(m->lits); i++)
                        if (!after_word || !streq(lits[i], after_word)) /* checked in place instead */
                                m->lits[m->n_lits++] = intern_literal(pf, lits[i]);
                /* the order and the number checked are set once all are known */
        }
}

/*
 * Decide which literals each pattern checks, and in what order.  The
 * result of a literal search is kept for the line, so a literal that many
 * patterns require is nearly free for all but the first: it goes first,
 * and a line without it (most lines lack ": reject: ") is turned away by
 * one search for a whole family of rules.  Rank by (patterns sharing it) x
 * (length), but only for literals of 8 bytes or more: a short one such as
 * " from " is shared by many patterns and present on most lines, so it
 * turns nothing away.  The first is checked, and after it only literals
 * of 8 bytes or more, up to four in all: on the lines that hold the first,
 * a short one (" from ", "to=<") is nearly always there too, and its
 * search cost more than the PCRE2 run it might have saved (callgrind on
 * three generated logs and the corpora: 1-3% fewer instructions).
 */
#define GATE_MIN_LEN 8

static size_t lit_rank(const Prefilter *pf, uint32_t id)
{
        return pf->lit_len[id] >= GATE_MIN_LEN ? pf->lit_users[id] * pf->lit_len[id] : pf->lit_len[id];
}

static int cmp_lit_rank(const void *a, const void *b, void *ctx)
{
        const Prefilter *pf = ctx;
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        size_t sx = lit_rank(pf, x), sy = lit_rank(pf, y);

        if (sx != sy)
                return sx < sy ? 1 : -1;
        return pf->lit_len[x] < pf->lit_len[y] ? 1 : pf->lit_len[x] > pf->lit_len[y] ? -1 : 0;
}

static void order_literals(Prefilter *pf)
{
        pf->lit_users = xcalloc(pf->n_lits ? pf->n_lits : 1, sizeof(uint32_t));
        for (size_t i = 0; i < pf->n_pats; i++)
                for (uint32_t l = 0; l < pf->pats[i].n_lits; l++)
                        pf->lit_users[pf->pats[i].lits[l]]++;
        for (size_t i = 0; i < pf->n_pats; i++) {
                Pat *m = &pf->pats[i];
                uint32_t n = MIN(m->n_lits, 1u);
                qsort_r(m->lits, m->n_lits, sizeof(uint32_t), cmp_lit_rank, pf);
                for (uint32_t l = 1; l < m->n_lits && n < 4; l++)
                        if (pf->lit_len[m->lits[l]] >= GATE_MIN_LEN)
                                m->lits[n++] = m->lits[l];
                m->n_lits = n;
        }
}

void prefilter_finish(Prefilter *pf)
{
        order_literals(pf);
        pf->memo_gen = xcalloc(pf->n_lits ? pf->n_lits : 1, sizeof(uint32_t));
        pf->memo_val = xcalloc(pf->n_lits ? pf->n_lits : 1, sizeof(bool));
        pf->scratch = xcalloc(pf->n_pats ? pf->n_pats : 1, sizeof(uint32_t));
}

/* --- the tag cache ------------------------------------------------------ */

/*
 * The first and the last 8 bytes of a tag (a shorter one packed into
 * head, tail 0): with the length, they are the whole of a tag of up to 16
 * bytes, which most are ("postfix/smtpd"), so that two 64-bit compares
 * find its cache entry.
 */
static inline void tag_words(const char *s, size_t n, uint64_t *head, uint64_t *tail)
{
        uint64_t a = 0, b = 0;

        if (n >= 8) {
                memcpy(&a, s, 8);
                memcpy(&b, s + n - 8, 8);
        } else
                for (size_t k = 0; k < n; k++)
                        a = a << 8 | (unsigned char)s[k];
        *head = a;
        *tail = b;
}

/*
 * A tag hash from the length and the first and last 8 bytes: it runs on
 * every record.  Tags are written by local programs, and a cache that
 * collides only probes further (it has a fixed size), so this need not be
 * keyed.
 */
static inline uint32_t tag_hash(uint64_t a, uint64_t b, size_t n)
{
        uint64_t h = (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xff51afd7ed558ccdULL) ^ n;

        h ^= h >> 29;
        return (uint32_t)h;
}

/* Patterns whose program glob matches tag, into idx; returns the count. */
static uint32_t tag_candidates(Prefilter *pf, const char *tag, size_t len, uint32_t *idx)
{
        char t[256];
        uint32_t n = 0;

        if (len >= sizeof(t))
                return 0;
        memcpy(t, tag, len);
        t[len] = '\0';
        for (size_t i = 0; i < pf->n_pats; i++)
                if (fnmatch(pf->pats[i].program, t, 0) == 0)
                        idx[n++] = (uint32_t)i;
        return n;
}

/* What turns a pattern away first: the literal after its leading word, or its first literal. */
static uint32_t gate(const Pat *m)
{
        if (m->after_word != NONE)
                return m->after_word | 0x80000000u; /* not the same as the literal searched anywhere */
        return m->n_lits ? m->lits[0] : NONE;
}

/* Fill e's plans for tag: the candidates by the message's first byte. */
static void tag_entry_build(Prefilter *pf, TagEntry *e, const char *tag, size_t len)
{
        uint32_t n = tag_candidates(pf, tag, len, pf->scratch);
        uint8_t bytes[256];
        uint32_t n_bytes = 0, k = 0;

        e->n_candidates = n;
        /* plan 0: no prefix starts with the byte; then one plan per prefix byte */
        memset(e->plan_of, 0, sizeof(e->plan_of));
        for (uint32_t i = 0; i < n; i++) {
                const Pat *m = &pf->pats[pf->scratch[i]];
                if (m->prefix_len && !e->plan_of[m->first]) {
                        bytes[n_bytes++] = m->first;
                        e->plan_of[m->first] = (uint8_t)n_bytes;
                }
        }
        e->n_plans = n_bytes + 1;
        e->plan_start = xcalloc(e->n_plans + 1, sizeof(uint32_t));
        e->steps = xcalloc((size_t)e->n_plans * (n ? n : 1), sizeof(Step));
        for (uint32_t p = 0; p < e->n_plans; p++) {
                uint32_t begin = k;
                e->plan_start[p] = k;
                for (uint32_t i = 0; i < n; i++) {
                        const Pat *m = &pf->pats[pf->scratch[i]];
                        if (!m->prefix_len || (p > 0 && m->first == bytes[p - 1]))
                                e->steps[k++].pat = pf->scratch[i];
                }
                /* runs of steps that share their gate: the literal after the word, or else the first literal */
                for (uint32_t i = k; i-- > begin;) {
                        const Pat *m = &pf->pats[e->steps[i].pat];
                        const Pat *nx = i + 1 < k ? &pf->pats[e->steps[i + 1].pat] : NULL;
                        uint32_t g = gate(m);
                        bool same = g != NONE && nx && gate(nx) == g;
                        e->steps[i].next = same ? e->steps[i + 1].next : i + 1 - begin;
                        e->steps[i].past_aw = nx && nx->after_word != NONE ? e->steps[i + 1].past_aw : i + 1 - begin;
                }
        }
        e->plan_start[e->n_plans] = k;
}

static const TagEntry *tag_insert(Prefilter *pf, const char *tag, size_t len, uint64_t a, uint64_t b);

static inline const TagEntry *tag_lookup(Prefilter *pf, const char *tag, size_t len)
{
        uint64_t a, b;
        uint32_t h;
        TagEntry *e;

        if (len >= TAG_MAX)
                return tag_insert(pf, tag, len, 0, 0);
        tag_words(tag, len, &a, &b);
        h = tag_hash(a, b, len);
        for (uint32_t k = 0; k < TAG_CACHE_SIZE; k++) {
                e = &pf->cache[(h + k) % TAG_CACHE_SIZE];
                if (!e->used)
                        break;
                /* up to 16 bytes, head and tail are the whole tag; the middle of a longer one is compared */
                if (e->head == a && e->tail == b && e->len == len &&
                    (len <= 16 || memcmp(e->tag + 8, tag + 8, len - 16) == 0))
                        return e;
        }
        return tag_insert(pf, tag, len, a, b);
}

/* A tag not in the cache: rare, kept out of the hot path (its registers cost every record). */
static __attribute__((noinline, cold)) const TagEntry *tag_insert(Prefilter *pf, const char *tag, size_t len,
                                                                  uint64_t a, uint64_t b)
{
        uint32_t h = tag_hash(a, b, len);
        TagEntry *e;

        if (len >= TAG_MAX) {
                tag_entry_clear(&pf->uncached);
                tag_entry_build(pf, &pf->uncached, tag, len);
                return &pf->uncached;
        }
        /* A log has a handful of tags; if it has many, start over. */
        if (pf->cache_used >= TAG_CACHE_SIZE * 3 / 4) {
                for (size_t i = 0; i < TAG_CACHE_SIZE; i++)
                        tag_entry_clear(&pf->cache[i]);
                pf->cache_used = 0;
        }
        for (uint32_t k = 0;; k++) {
                e = &pf->cache[(h + k) % TAG_CACHE_SIZE];
                if (!e->used)
                        break;
        }
        e->used = true;
        e->head = a;
        e->tail = b;
        e->len = (uint8_t)len;
        memcpy(e->tag, tag, len);
        tag_entry_build(pf, e, tag, len);
        pf->cache_used++;
        return e;
}

/* --- scanning ----------------------------------------------------------- */

/*
 * Is literal id in the message?  Kept for the record.  Literals that share
 * their (rare) anchor byte also share the answer "that byte is not in the
 * message at all": ": reject: " and ": milter-reject: " are both looked
 * for by their 'j', and most lines have none.
 */
static inline bool literal_present(Prefilter *pf, uint32_t id, const char *msg, size_t len)
{
        if (pf->memo_gen[id] != pf->gen) {
                unsigned char c = (unsigned char)pf->lits[id][pf->lit_anchor[id]];
                pf->memo_gen[id] = pf->gen;
                if (pf->byte_gen[c] != pf->gen) {
                        pf->byte_gen[c] = pf->gen;
                        pf->byte_in[c] = memchr(msg, c, len) != NULL;
                }
                pf->memo_val[id] = pf->byte_in[c] &&
                                   prefilter_find(msg, len, pf->lits[id], pf->lit_len[id], pf->lit_anchor[id]);
        }
        return pf->memo_val[id];
}

bool prefilter_start(Prefilter *pf, PrefilterScan *s, const char *tag, size_t tag_len, const char *msg, size_t len)
{
        const TagEntry *te = tag_lookup(pf, tag, tag_len);
        uint32_t plan;

        s->msg = msg;
        s->len = len;
        s->word = SIZE_MAX;
        s->k = s->n = 0;
        if (te->n_candidates == 0)
                return false;
        if (++pf->gen == 0) {
                memset(pf->memo_gen, 0, pf->n_lits * sizeof(uint32_t));
                memset(pf->byte_gen, 0, sizeof(pf->byte_gen));
                pf->gen = 1;
        }
        plan = len ? te->plan_of[(unsigned char)msg[0]] : 0;
        s->steps = te->steps + te->plan_start[plan];
        s->n = te->plan_start[plan + 1] - te->plan_start[plan];
        return s->n > 0;
}

/* a == b, n bytes: the first 8 in place (most compares fail there), the rest by memcmp(). */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
        uint64_t x, y;

        if (n < 8)
                return memcmp(a, b, n) == 0;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y && memcmp(a + 8, b + 8, n - 8) == 0;
}

int prefilter_next(Prefilter *pf, PrefilterScan *s)
{
        const Step *steps = s->steps;

        while (s->k < s->n) {
                const Step *st = &steps[s->k];
                const Pat *m = &pf->pats[st->pat];
                bool skip = false;

                /* first what costs a compare in place: the prefix (its first byte chose the plan) ... */
                if (m->prefix_len && (s->len < m->prefix_len || !same_bytes(s->msg, m->prefix, m->prefix_len))) {
                        s->k++;
                        continue;
                }
                /* ... then the gate shared by the run of steps up to st->next: the literal after the
                   leading word, compared in place, or else the first literal, searched */
                if (m->after_word != NONE) {
                        const char *lit = pf->lits[m->after_word];
                        size_t n = pf->lit_len[m->after_word];
                        if (s->word == SIZE_MAX)
                                s->word = alnum_span(s->msg, s->len);
                        /* no such literal starts with the byte after the word: skip them all at once */
                        if (s->word == 0 || s->word >= s->len || !pf->aw_first[(unsigned char)s->msg[s->word]]) {
                                s->k = st->past_aw;
                                continue;
                        }
                        if (s->word == 0 || s->len - s->word < n || !same_bytes(s->msg + s->word, lit, n)) {
                                s->k = st->next;
                                continue;
                        }
                        s->k++;
                        for (uint32_t l = 0; l < m->n_lits && !skip; l++)
                                skip = !literal_present(pf, m->lits[l], s->msg, s->len);
                        if (!skip)
                                return (int)st->pat;
                        continue;
                }
                if (m->n_lits && !literal_present(pf, m->lits[0], s->msg, s->len)) {
                        s->k = st->next;
                        continue;
                }
                s->k++;
                for (uint32_t l = 1; l < m->n_lits && !skip; l++)
                        skip = !literal_present(pf, m->lits[l], s->msg, s->len);
                if (!skip)
                        return (int)st->pat;
        }
        return -1;
}
