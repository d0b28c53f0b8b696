/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The literal prefilter against plain PCRE2, over the shipped rules and
 * real-looking lines: every line of the corpus (test/corpus, its .txt
 * files) and the lines of
 * genlog.py given as arguments.  A prefilter bug would not fail a test
 * that looks at bans; it would silently miss them.  So for every record:
 *   - every pattern that PCRE2 (no JIT, no prefilter) matches, its tag
 *     glob matching, must be among the prefilter's candidates;
 *   - the rule set (prefilter, first-byte plans, tag cache, JIT) must
 *     pick the same rule and address as the reference matcher of
 *     test/fuzz/refmatch.h, which tries every pattern in file order;
 * and, for the corpus lines, the same for every truncation of the
 * message (the literals' edges).  Each shipped rule must match at least
 * once, so the check cannot pass by matching nothing.
 *
 *   test-prefilter-diff RULES_DIR CORPUS_DIR [LOG...]
 */
#include <dirent.h>
#include <errno.h>

#include "check.h"
#include "match/prefilter.h"
#include "match/rules.h"
#include "refmatch.h"

typedef struct Diff {
        RuleSet *rs;
        RefSet ref;
        Prefilter *pf; /* over the reference's patterns, numbered as they are */
        bool *candidate;
        uint64_t records, pcre_matches, hits, failures;
        uint64_t *rule_hits; /* by rule of the rule set */
} Diff;

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The *.rules or *.txt files of dir, in name order (NULL-terminated). */
static char **files_of(const char *dir, const char *suffix)
{
        char **v = NULL;
        size_t n = 0, cap = 0;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                exit(2);
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !endswith(de->d_name, suffix))
                        continue;
                GROW(v, cap, n + 2);
                v[n++] = xasprintf("%s/%s", dir, de->d_name);
        }
        closedir(d);
        GROW(v, cap, n + 1);
        v[n] = NULL;
        qsort(v, n, sizeof(char *), cmp_name);
        return v;
}

static void check_record(Diff *d, const LogRecord *rec, const char *where)
{
        char tag[256];
        PrefilterScan s;
        RuleMatch m;
        const char *want_rule = NULL;
        Addr want_addr;
        int p, got, want;

        d->records++;
        memset(d->candidate, 0, d->ref.n * sizeof(bool));
        prefilter_start(d->pf, &s, rec->tag, rec->tag_len, rec->msg, rec->msg_len);
        while ((p = prefilter_next(d->pf, &s)) >= 0) {
                CHECK(p < (int)d->ref.n && !d->candidate[p], "%s: candidate %d out of range or twice", where, p);
                if (p < (int)d->ref.n)
                        d->candidate[p] = true;
        }
        if (rec->tag_len < sizeof(tag)) {
                memcpy(tag, rec->tag, rec->tag_len);
                tag[rec->tag_len] = '\0';
                for (size_t i = 0; i < d->ref.n; i++) {
                        RefPattern *rp = &d->ref.v[i];
                        int rc;
                        if (!rp->code || fnmatch(rp->program, tag, 0) != 0)
                                continue;
                        pcre2_set_callout(d->ref.mctx, ref_echo, rp);
                        rc = pcre2_match(rp->code, (PCRE2_SPTR)rec->msg, rec->msg_len, 0, 0, rp->md, d->ref.mctx);
                        if (rc == PCRE2_ERROR_NOMATCH)
                                continue;
                        d->pcre_matches++;
                        if (!d->candidate[i] && d->failures++ < 20)
                                CHECK(false, "%s: the prefilter drops pattern %zu of rule %s, which PCRE2 matches: %.*s: %.*s",
                                      where, i, rp->rule, (int)rec->tag_len, rec->tag, (int)rec->msg_len, rec->msg);
                }
        }
        got = ruleset_match_record(d->rs, rec, &m);
        want = ref_match(&d->ref, rec, &want_rule, &want_addr);
        if (want < 0)
                return; /* the match limit: JIT and interpreter count differently */
        if (got == 1) {
                d->hits++;
                for (size_t i = 0; i < ruleset_count(d->rs); i++)
                        if (ruleset_rule(d->rs, i) == m.rule)
                                d->rule_hits[i]++;
        }
        if ((got == 1) != (want == 1) || (got == 1 && (!streq(m.rule->name, want_rule) ||
                                                      !addr_equal(&m.addr, &want_addr)))) {
                char a[ADDR_STRLEN], b[ADDR_STRLEN];
                if (d->failures++ < 20)
                        CHECK(false, "%s: the rule set says %s %s, the reference %s %s: %.*s: %.*s", where,
                              got == 1 ? m.rule->name : "-", got == 1 ? addr_format(&m.addr, a) : "",
                              want == 1 ? want_rule : "-", want == 1 ? addr_format(&want_addr, b) : "",
                              (int)rec->tag_len, rec->tag, (int)rec->msg_len, rec->msg);
        }
}

/* One log line; with truncations, every prefix of its message too. */
static void check_line(Diff *d, const char *line, size_t len, bool truncations, const char *where)
{
        LogRecord rec;
        /* in a buffer of its own size, so ASan sees any read past the message */
        char *copy = xmemdup(line, len ? len : 1);

        if (ref_line_record(copy, len, &rec)) {
                check_record(d, &rec, where);
                for (size_t n = 0; truncations && n < rec.msg_len; n++) {
                        LogRecord t = rec;
                        char *msg = xmemdup(rec.msg, n ? n : 1);
                        t.msg = msg;
                        t.msg_len = n;
                        check_record(d, &t, where);
                        free(msg);
                }
        }
        free(copy);
}

static void check_file(Diff *d, const char *path, bool corpus)
{
        _cleanup_free_ char *text = NULL;
        char where[1100];
        size_t len, lineno = 0;
        const char *p, *end;

        CHECK(read_file(path, (size_t)1 << 30, &text, &len) == 0, "read %s", path);
        if (!text)
                return;
        for (p = text, end = text + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
                lineno++;
                snprintf(where, sizeof(where), "%s:%zu", path, lineno);
                if (!corpus)
                        check_line(d, p, (size_t)(e - p), false, where);
                else if (p < e && *p != '#') {
                        /* "VERDICT<TAB>LINE" */
                        const char *tab = memchr(p, '\t', (size_t)(e - p));
                        if (tab)
                                check_line(d, tab + 1, (size_t)(e - tab - 1), true, where);
                }
                p = e + 1;
        }
}

int main(int argc, char **argv)
{
        static const RuleDefaults defs = {5, 600000, 3600000, "Blocked by postfix-autoblacklist"};
        Names *names = names_new();
        Diags errors = {0}, warnings = {0};
        Diff d = {0};
        char **rules, **corpus;
        uint64_t lines_before;

        if (argc < 3) {
                fprintf(stderr, "usage: %s RULES_DIR CORPUS_DIR [LOG...]\n", argv[0]);
                return 2;
        }
        if (ruleset_load(&d.rs, argv[1], &defs, names, &errors, &warnings) < 0) {
                diags_print(stderr, &errors, "shipped rules: ");
                return 1;
        }
        rules = files_of(argv[1], ".rules");
        for (size_t i = 0; rules[i]; i++) {
                _cleanup_free_ char *text = NULL;
                CHECK(read_file(rules[i], 1 << 20, &text, NULL) == 0, "read %s", rules[i]);
                if (text)
                        ref_add_text(&d.ref, text);
        }
        ref_finish(&d.ref);
        d.pf = prefilter_new();
        for (size_t i = 0; i < d.ref.n; i++)
                prefilter_add(d.pf, d.ref.v[i].program, d.ref.v[i].text);
        prefilter_finish(d.pf);
        d.candidate = xcalloc(d.ref.n ? d.ref.n : 1, sizeof(bool));
        d.rule_hits = xcalloc(ruleset_count(d.rs), sizeof(uint64_t));

        corpus = files_of(argv[2], ".txt");
        CHECK(corpus[0] != NULL, "no *.txt in %s", argv[2]);
        for (size_t i = 0; corpus[i]; i++)
                check_file(&d, corpus[i], true);
        printf("corpus: %llu records (with every truncation), %llu PCRE2 matches, %llu hits\n",
               (unsigned long long)d.records, (unsigned long long)d.pcre_matches, (unsigned long long)d.hits);
        for (int i = 3; i < argc; i++) {
                lines_before = d.records;
                check_file(&d, argv[i], false);
                printf("%s: %llu records\n", argv[i], (unsigned long long)(d.records - lines_before));
        }
        printf("in all: %llu records, %llu PCRE2 matches, %llu hits, %llu disagreements\n",
               (unsigned long long)d.records, (unsigned long long)d.pcre_matches, (unsigned long long)d.hits,
               (unsigned long long)d.failures);
        CHECK_INT(d.failures, 0, "disagreements with plain PCRE2");
        for (size_t i = 0; i < ruleset_count(d.rs); i++)
                CHECK(d.rule_hits[i] > 0, "rule %s never matched: the check proves nothing for it",
                      ruleset_rule(d.rs, i)->name);

        strv_free(rules);
        strv_free(corpus);
        free(d.candidate);
        free(d.rule_hits);
        prefilter_free(d.pf);
        ref_free(&d.ref);
        ruleset_free(d.rs);
        names_free(names);
        diags_free(&errors);
        diags_free(&warnings);
        return check_done();
}
