/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * autoblacklistd: command line.  Runs the daemon, or one of the offline
 * modes: --check (validate config and rules) and --test (run the rules
 * over a log with no side effects, like fail2ban-regex).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>

#include "service/conf.h"
#include "service/daemon.h"
#include "core/exempt.h"
#include "source/journal.h"
#include "service/log.h"
#include "util/names.h"
#include "service/replay.h"
#include "match/rules.h"
#include "core/session.h"
#include "service/sources.h"
#include "util/util.h"

#ifndef VERSION
#define VERSION "0"
#endif

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: autoblacklistd [-c FILE] [-d]             run the daemon (in the foreground)\n"
                "       autoblacklistd [-c FILE] [--rules PATH] --test LOGFILE|-  [--verbose | --replay]\n"
                "       autoblacklistd [-c FILE] [--rules PATH] --test --journal [--since TIME] [--verbose]\n"
                "       autoblacklistd [-c FILE] [--rules PATH] --check\n"
                "\n"
                "Follows the Postfix mail log, matches abuse with rules, and bans abusive\n"
                "clients in a Postfix access(5) map.\n"
                "\n"
                "  -c, --config FILE   configuration file (default %s)\n"
                "  -d, --debug         log debug messages too, whatever log_level says\n"
                "      --rules PATH    rule file or folder of *.rules, instead of the config's\n"
                "      --test LOG      run the rules over LOG ('-' for stdin) and print\n"
                "                      LINENO<TAB>ADDRESS<TAB>RULE for each line that counts;\n"
                "                      no map, no state, no journal\n"
                "      --journal       with --test: the systemd journal's entries of Postfix and\n"
                "                      Dovecot instead of a file, with the same trust check as\n"
                "                      the daemon (forged entries are refused and counted)\n"
                "      --since TIME    with --journal: 'boot' (default), a duration back (2h, 7d)\n"
                "                      or a local time YYYY-MM-DD[ HH:MM[:SS]]\n"
                "  -v, --verbose       with --test, print each matched line after its verdict\n"
                "      --replay        with --test: the whole ban policy on the log's own clock\n"
                "                      (thresholds, repeat offenders, networks, the never-ban list\n"
                "                      of -c, logged-in sessions); prints\n"
                "                      BAN<TAB>TIME<TAB>ADDRESS<TAB>RULE<TAB>HITS for each ban it would\n"
                "                      make, then a summary (lines starting with '#')\n"
                "      --check         check the configuration and rules, then exit\n"
                "                      (0, or 78 with file:line: messages)\n"
                "      --version       print the version\n"
                "  -h, --help          print this help\n",
                DEFAULT_CONFIG_FILE);
}

typedef struct Options {
        const char *config;
        const char *rules;
        const char *test;
        bool journal; /* --test --journal */
        const char *since;
        bool check;
        bool verbose;
        bool replay; /* --test --replay */
} Options;

static int run_check(const Options *o)
{
        _cleanup_(config_freep) Config *cfg = NULL;
        Diags errors = {0}, warnings = {0};
        Names *names = names_new();
        RuleSet *rs = NULL;
        int r;

        r = config_load_or_default(o->config, &cfg, &errors);
        if (r == 0)
                r = config_load_rules(cfg, o->rules, names, &rs, &errors, &warnings);
        diags_print(stderr, &warnings, "warning: ");
        diags_print(stderr, &errors, "");
        if (r == 0)
                fprintf(stderr, "%s: %zu rules OK\n", o->rules ? o->rules : cfg->rules, ruleset_count(rs));
        diags_free(&errors);
        diags_free(&warnings);
        ruleset_free(rs);
        names_free(names);
        return r < 0 ? EX_CONFIG : 0;
}

typedef struct TestRun {
        RuleSet *rs;
        Replay *replay; /* --replay: the policy, not the lines */
        Sessions *sessions;
        Exempt exempt;
        AdminKeys *admin;
        FILE *out;
        bool verbose;
        uint64_t lineno;
        uint64_t matched, exempted, own, unparsed, logged_in;
        /*
         * The distinct addresses counted, each with its text, formatted
         * once (a match prints it, not formats it): one cache line each,
         * which is all a match reads of them.  Each rule's name is copied
         * into a block of COPY_PAD bytes (rulefile.c allows no longer name).
         * Both are copied by a fixed size, which the compiler does inline.
         */
        struct Seen *seen; /* open addressing, at most half full; seen_mask + 1 slots and COPY_PAD to spare */
        size_t seen_mask, n_addrs;
        char **name_pad; /* of each rule, by its index in the set: its name in COPY_PAD bytes */
        size_t *name_len;
        uint8_t key[16];
        /* the output of the matches, written in blocks (see test_out()) */
        char *obuf;
        size_t olen;
        bool tty; /* stdout is a terminal: each match is flushed */
} TestRun;

#define TEST_OBUF (1u << 16)
#define COPY_PAD  64u /* > ADDR_STRLEN, and the longest rule name (rulefile.c) */
/* room a match's line may take in the block past TEST_OBUF, its copies by COPY_PAD included */
#define OBUF_SLACK (24u + 2 * COPY_PAD + 8u)

/*
 * The distinct-address count of --test: a keyed multiply-xor mix, cheaper
 * than the daemon's SipHash, and still keyed at random so that a crafted
 * log cannot pile its addresses into one probe sequence.
 */
static uint64_t quick_hash(const TestRun *t, const Addr *a)
{
        uint64_t w0, w1, k0, k1, h;

        memcpy(&w0, a->b, 8);
        memcpy(&w1, a->b + 8, 8);
        memcpy(&k0, t->key, 8);
        memcpy(&k1, t->key + 8, 8);
        h = ((w0 ^ k0) * 0x9e3779b97f4a7c15ULL) ^ ((w1 ^ k1) * 0xc2b2ae3d27d4eb4fULL);
        return h ^ (h >> 31);
}

/* A distinct address: its words (the key) and its text. */
typedef struct Seen {
        uint64_t w0, w1;
        uint8_t len; /* of text; 0: the slot is free */
        char text[47];
} Seen;
_Static_assert(sizeof(Seen) == 64 && sizeof(((Seen *)0)->text) >= ADDR_STRLEN - 1, "a slot is a cache line");

static Seen *seen_table(size_t slots)
{
        /* COPY_PAD to spare: the last slot's text is copied by COPY_PAD bytes too */
        Seen *s = aligned_alloc(64, slots * sizeof(Seen) + COPY_PAD);

        if (!s)
                oom();
        memset(s, 0, slots * sizeof(Seen) + COPY_PAD);
        return s;
}

/* The slot of a among the distinct addresses, added (and its text formatted) if it is new. */
static const Seen *remember(TestRun *t, const Addr *a)
{
        uint64_t h = quick_hash(t, a), w0, w1;
        char text[ADDR_STRLEN];
        size_t k;

        memcpy(&w0, a->b, 8);
        memcpy(&w1, a->b + 8, 8);
        for (k = h & t->seen_mask; t->seen[k].len; k = (k + 1) & t->seen_mask)
                if (t->seen[k].w0 == w0 && t->seen[k].w1 == w1)
                        return &t->seen[k];
        addr_format(a, text);
        t->seen[k] = (Seen){.w0 = w0, .w1 = w1, .len = (uint8_t)strlen(text)};
        memcpy(t->seen[k].text, text, t->seen[k].len);
        if (++t->n_addrs * 2 > t->seen_mask) { /* grow: twice the slots, all placed again */
                size_t mask = t->seen_mask * 2 + 1;
                Seen *slots = seen_table(mask + 1), *at = NULL;
                for (size_t i = 0; i <= t->seen_mask; i++) {
                        Addr b;
                        size_t j;
                        if (!t->seen[i].len)
                                continue;
                        memcpy(b.b, &t->seen[i].w0, 8);
                        memcpy(b.b + 8, &t->seen[i].w1, 8);
                        for (j = quick_hash(t, &b) & mask; slots[j].len;)
                                j = (j + 1) & mask;
                        slots[j] = t->seen[i];
                        if (i == k)
                                at = &slots[j];
                }
                free(t->seen);
                t->seen = slots;
                t->seen_mask = mask;
                return at;
        }
        return &t->seen[k];
}

/* The matches' output: through a block buffer, a write per 64 KiB without stdio's per-call work. */
static void test_flush(TestRun *t)
{
        if (t->olen)
                fwrite_unlocked(t->obuf, 1, t->olen, t->out);
        t->olen = 0;
}

static inline void test_out(TestRun *t, const char *s, size_t n)
{
        if (TEST_OBUF - t->olen < n) {
                test_flush(t);
                if (n >= TEST_OBUF) {
                        fwrite_unlocked(s, 1, n, t->out);
                        return;
                }
        }
        memcpy(t->obuf + t->olen, s, n);
        t->olen += n;
}

/* One record (line, len: what --verbose prints for it). */
static void test_record(TestRun *t, const LogRecord *rec, const char *line, size_t len)
{
        RuleMatch m;
        Addr client;
        SessionAnswer session;
        const Seen *a;
        size_t rule;

        if (t->replay) {
                replay_record(t->replay, rec);
                return;
        }
        session = sessions_track(t->sessions, rec, &client);
        if (ruleset_match_record(t->rs, rec, &m) <= 0)
                return;
        if (m.own_reject) {
                t->own++;
                return;
        }
        if (session == SESSION_ASK)
                session = sessions_lookup(t->sessions, rec, &client) ? SESSION_IN : SESSION_OUT;
        if (session == SESSION_IN && addr_equal(&client, &m.addr)) {
                t->logged_in++; /* a logged-in session's reject: the daemon does not count it */
                return;
        }
        if (exempt_reason(&t->exempt, &m.addr) || adminkeys_exempts(t->admin, &m.addr, NULL)) {
                t->exempted++;
                return;
        }
        t->matched++;
        a = remember(t, &m.addr);
        rule = (size_t)(m.rule - ruleset_rule(t->rs, 0));
        {
                /* LINENO<TAB>ADDRESS<TAB>RULE, built in place: it runs for every match */
                size_t tl = a->len, nl = t->name_len[rule];
                uint64_t v = t->lineno;
                char *p, *q;
                int digits = 1;
                if (t->olen + 24 + tl + nl + 3 > TEST_OBUF)
                        test_flush(t);
                for (uint64_t x = v; x >= 10; x /= 10)
                        digits++;
                p = q = t->obuf + t->olen + digits;
                do
                        *--q = (char)('0' + v % 10);
                while (v /= 10);
                *p++ = '\t';
                memcpy(p, a->text, COPY_PAD); /* into the next slot, or the table's spare bytes */
                p += tl;
                *p++ = '\t';
                memcpy(p, t->name_pad[rule], COPY_PAD);
                p += nl;
                *p++ = '\n';
                t->olen = (size_t)(p - t->obuf);
                if (t->verbose) {
                        test_out(t, "\t", 1);
                        test_out(t, line, len);
                        test_out(t, "\n", 1);
                }
                if (t->tty)
                        test_flush(t);
        }
}

/* A record of the source; --verbose prints the line, or "TAG: MESSAGE" of a journal entry. */
static void test_record_tagged(TestRun *t, const LogRecord *rec)
{
        _cleanup_buf_ Buf b = {0};

        buf_append(&b, rec->tag, rec->tag_len);
        buf_puts(&b, ": ");
        buf_append(&b, rec->msg, rec->msg_len);
        test_record(t, rec, b.data, b.len);
}

static void test_source_record(void *ctx, const LogRecord *rec)
{
        TestRun *t = ctx;

        t->lineno++;
        if (t->verbose && !rec->line)
                test_record_tagged(t, rec);
        else
                test_record(t, rec, rec->line, rec->line_len);
}

static void test_unparsed(void *ctx, const char *line, size_t len)
{
        TestRun *t = ctx;

        (void)line;
        (void)len;
        t->lineno++;
        t->unparsed++;
}

/* What the source says (a refused journal entry): with --verbose. */
static void test_report(void *ctx, int prio, SourceEvent ev, const char *text)
{
        TestRun *t = ctx;

        (void)prio;
        (void)ev;
        if (t->verbose)
                fprintf(stderr, "%s\n", text);
}

/*
 * stdout of --test into a file or a pipe: 64 KiB buffers, not the pipe's
 * 4 KiB (a write(2) per 100 matches instead of per 1,500).  The matches
 * are gathered in TestRun's own 64 KiB block, which then goes to write(2)
 * with no copy into stdio's (--replay prints through stdio).  A terminal
 * keeps its line buffering, and sees each match as it is found.
 */
static void test_output_init(TestRun *t, FILE *out, bool replay)
{
        t->tty = isatty(fileno(out));
        if (!t->tty)
                setvbuf(out, NULL, replay ? _IOFBF : _IONBF, replay ? 1u << 16 : 0);
}

static const LogSourceOps test_source_ops = {test_source_record, test_unparsed, test_report, NULL};

/*
 * --since: "boot" (the default), a duration back from now ("2h", "7d"),
 * or a local time "YYYY-MM-DD[ HH:MM[:SS]]".  Realtime microseconds.
 */
static int parse_since(const char *s, uint64_t *out)
{
        uint64_t ms;
        struct tm tm = {0};
        const char *end;

        if (!s || streq(s, "boot")) {
                *out = journal_boot_start_us();
                return 0;
        }
        if (parse_duration(s, &ms) == 0) {
                int64_t now = now_ms();
                *out = (uint64_t)(now > (int64_t)ms ? now - (int64_t)ms : 0) * 1000;
                return 0;
        }
        end = strptime(s, "%Y-%m-%d", &tm);
        if (end && (*end == ' ' || *end == 'T'))
                end = strptime(end + 1, "%H:%M", &tm);
        if (end && *end == ':')
                end = strptime(end + 1, "%S", &tm);
        if (!end || *end)
                return -EINVAL;
        tm.tm_isdst = -1;
        *out = (uint64_t)mktime(&tm) * 1000000;
        return 0;
}

/* Read the admin's keys of the configured map, if it can be read. */
static AdminKeys *test_admin_keys(const Config *cfg)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        MapText mt;

        if (read_file(cfg->map_path, SIZE_MAX / 2, &text, &len) < 0 || mapfile_split(text, len, &mt) < 0)
                return NULL;
        return adminkeys_parse(&mt);
}

static int run_test(const Options *o)
{
        _cleanup_(config_freep) Config *cfg = NULL;
        Diags errors = {0}, warnings = {0};
        Names *names = names_new();
        TestRun t = {.out = stdout, .verbose = o->verbose};
        struct timespec t0, t1;
        const char *kind = o->journal ? "journal" : "file";
        LogSource *src = NULL;
        SourceConfig sc;
        Diags notes = {0};
        _cleanup_free_ char *why = NULL;
        _cleanup_buf_ Buf summary = {0};
        uint64_t cut;
        double secs;
        int r;

        test_output_init(&t, stdout, o->replay);
        r = config_load_or_default(o->config, &cfg, &errors);
        if (r == 0)
                r = config_load_rules(cfg, o->rules, names, &t.rs, &errors, &warnings);
        diags_print(stderr, &warnings, "warning: ");
        diags_print(stderr, &errors, "");
        diags_free(&errors);
        diags_free(&warnings);
        if (r < 0) {
                names_free(names);
                return EX_CONFIG;
        }
        for (size_t i = 0; i < cfg->n_ignore; i++)
                exempt_add(&t.exempt, &cfg->ignore[i], "ignore list");
        /* The daemon never bans private space unless told to; --replay follows the policy. */
        if (o->replay && !cfg->ban_private)
                exempt_add_private(&t.exempt);
        t.admin = test_admin_keys(cfg);
        if (o->replay)
                t.replay = replay_new(cfg, t.rs, names, &t.exempt, t.admin, stdout);
        t.sessions = sessions_new(SESSIONS_MAX_DEFAULT);
        t.obuf = xmalloc(TEST_OBUF + OBUF_SLACK);
        t.name_len = xcalloc(ruleset_count(t.rs) + 1, sizeof(size_t));
        t.name_pad = xcalloc(ruleset_count(t.rs) + 1, sizeof(char *));
        for (size_t i = 0; i < ruleset_count(t.rs); i++) {
                const char *name = ruleset_rule(t.rs, i)->name;
                t.name_len[i] = strlen(name);
                ASSERT(t.name_len[i] <= COPY_PAD);
                t.name_pad[i] = xcalloc(1, COPY_PAD);
                memcpy(t.name_pad[i], name, t.name_len[i]);
        }
        t.seen_mask = 1023;
        t.seen = seen_table(t.seen_mask + 1);
        if (getrandom(t.key, sizeof(t.key), 0) != sizeof(t.key))
                memcpy(t.key, "autoblacklist-ts", 16);

        /* The same source as the daemon's, without a loop: one read of all there is. */
        sources_config(cfg, kind, &sc, &notes);
        if (o->journal) {
                if (parse_since(o->since, &sc.set.since_us) < 0) {
                        fprintf(stderr, "--since %s: not 'boot', a duration (2h, 7d) or YYYY-MM-DD[ HH:MM[:SS]]\n",
                                o->since);
                        sources_config_clear(&sc);
                        diags_free(&notes);
                        r = EX_USAGE;
                        goto done;
                }
        } else
                sc.set.log_file = o->test;
        diags_print(stderr, &notes, "note: ");
        diags_free(&notes);
        r = source_new(&src, kind, NULL, &sc.set, &test_source_ops, &t);
        sources_config_clear(&sc);
        if (r == 0)
                r = source_start(src, NULL, true, &why);
        if (r < 0) {
                if (o->journal)
                        fprintf(stderr, "journal: cannot open the system journal: %s\n", strerror(-r));
                else
                        fprintf(stderr, "%s: %s\n", o->test, strerror(-r));
                source_free(src);
                r = EX_NOINPUT;
                goto done;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = source_read_all(src);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r < 0)
                fprintf(stderr, "%s: %s\n", source_label(src), strerror(-r));
        source_summary(src, &summary);
        cut = source_counts(src)->cut;
        src = source_free(src);
        secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        test_flush(&t);
        if (t.replay)
                replay_summary(t.replay, stdout);
        fflush(stdout);

        /* what the source read: "N lines (...)", "N journal entries (N of mail programs, N refused ...)" */
        fprintf(stderr, "\nRead: %s\n", summary.data);
        if (t.replay) {
                fprintf(stderr, "Lines: %llu read, %llu without a syslog header, %llu cut (too long)\n",
                        (unsigned long long)t.lineno, (unsigned long long)t.unparsed, (unsigned long long)cut);
                fprintf(stderr, "Time: %.3f s, %.0f lines/s\n", secs, secs > 0 ? (double)t.lineno / secs : 0.0);
                goto finish;
        }
        fprintf(stderr, "Lines: %llu read, %llu counted, %llu never banned (loopback, ignore list, OK in "
                        "the map), %llu of logged-in sessions, %llu own rejections, %llu without a syslog header, "
                        "%llu cut (too long)\n",
                (unsigned long long)t.lineno, (unsigned long long)t.matched, (unsigned long long)t.exempted,
                (unsigned long long)t.logged_in, (unsigned long long)t.own, (unsigned long long)t.unparsed,
                (unsigned long long)cut);
        fprintf(stderr, "Addresses: %zu distinct among the counted lines\n", t.n_addrs);
        fprintf(stderr, "Rules:\n   #) [lines matched] rule (where)\n");
        for (size_t i = 0; i < ruleset_count(t.rs); i++) {
                Rule *rule = ruleset_rule(t.rs, i);
                fprintf(stderr, "  %2zu) [%llu] %s (%s:%u)", i + 1, (unsigned long long)rule->matches, rule->name,
                        rule->file, rule->line);
                if (rule->own_rejects)
                        fprintf(stderr, ", and %llu own rejections", (unsigned long long)rule->own_rejects);
                fputc('\n', stderr);
        }
        fprintf(stderr, "Time: %.3f s, %.0f lines/s%s\n", secs, secs > 0 ? (double)t.lineno / secs : 0.0,
                ruleset_jit(t.rs) ? "" : " (no JIT)");
finish:
        r = 0;
done:
        for (size_t i = 0; t.name_pad && i < ruleset_count(t.rs); i++)
                free(t.name_pad[i]);
        free(t.name_pad);
        free(t.name_len);
        free(t.obuf);
        free(t.seen);
        replay_free(t.replay);
        ruleset_free(t.rs);
        sessions_free(t.sessions);
        names_free(names);
        exempt_clear(&t.exempt);
        adminkeys_free(t.admin);
        return r;
}

int main(int argc, char **argv)
{
        enum { OPT_RULES = 256, OPT_TEST, OPT_CHECK, OPT_VERSION, OPT_JOURNAL, OPT_SINCE, OPT_REPLAY };
        static const struct option longopts[] = {
                {"config", required_argument, NULL, 'c'}, {"rules", required_argument, NULL, OPT_RULES},
                {"test", required_argument, NULL, OPT_TEST}, {"check", no_argument, NULL, OPT_CHECK},
                {"verbose", no_argument, NULL, 'v'},        {"version", no_argument, NULL, OPT_VERSION},
                {"help", no_argument, NULL, 'h'},           {"journal", no_argument, NULL, OPT_JOURNAL},
                {"since", required_argument, NULL, OPT_SINCE}, {"replay", no_argument, NULL, OPT_REPLAY},
                {"debug", no_argument, NULL, 'd'},
                {0},
        };
        Options o = {0};
        int c;

        while ((c = getopt_long(argc, argv, "c:dvh", longopts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        o.config = optarg;
                        break;
                case 'd':
                        log_force_debug();
                        break;
                case OPT_RULES:
                        o.rules = optarg;
                        break;
                case OPT_TEST:
                        /* "--test --journal": getopt hands "--journal" over as the argument */
                        if (streq(optarg, "--journal"))
                                o.journal = true;
                        o.test = optarg;
                        break;
                case OPT_JOURNAL:
                        o.journal = true;
                        break;
                case OPT_SINCE:
                        o.since = optarg;
                        break;
                case OPT_REPLAY:
                        o.replay = true;
                        break;
                case OPT_CHECK:
                        o.check = true;
                        break;
                case 'v':
                        o.verbose = true;
                        break;
                case OPT_VERSION:
                        printf("autoblacklistd %s\n", VERSION);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return EX_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "autoblacklistd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return EX_USAGE;
        }
        if (o.journal && !o.test)
                o.test = "--journal"; /* "--journal --test" reads as "--test --journal" */
        if (o.replay && (!o.test || o.verbose)) {
                fprintf(stderr, "autoblacklistd: --replay goes with --test, not with --verbose\n");
                return EX_USAGE;
        }
        if (o.since && !o.journal) {
                fprintf(stderr, "autoblacklistd: --since goes with --test --journal\n");
                return EX_USAGE;
        }
        if (o.journal && !streq(o.test, "--journal")) {
                fprintf(stderr, "autoblacklistd: --test takes a log file or --journal, not both\n");
                return EX_USAGE;
        }
        if (o.test && o.check) {
                fprintf(stderr, "autoblacklistd: --test and --check do not go together\n");
                return EX_USAGE;
        }
        if (o.test)
                return run_test(&o);
        if (o.check)
                return run_check(&o);
        return daemon_run(&(DaemonOptions){.config_path = o.config, .rules_override = o.rules});
}
