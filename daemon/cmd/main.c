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
#include "util/htab.h"
#include "source/journal.h"
#include "util/linebuf.h"
#include "service/log.h"
#include "source/logline.h"
#include "util/names.h"
#include "service/replay.h"
#include "match/rules.h"
#include "core/session.h"
#include "source/source.h"
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

#define LINES_PER_CLOCK 4096

typedef struct TestRun {
        RuleSet *rs;
        Replay *replay; /* --replay: the policy, not the lines */
        Sessions *sessions;
        Exempt exempt;
        AdminKeys *admin;
        FILE *out;
        bool verbose;
        uint64_t lineno;
        int64_t now_ms; /* the clock for yearless stamps, read once per LINES_PER_CLOCK lines */
        uint64_t matched, exempted, own, unparsed, logged_in;
        Addr *addrs; /* distinct addresses counted */
        size_t n_addrs, cap_addrs;
        HTab seen;
        uint8_t key[16];
        Buf line; /* the output line being formatted */
} TestRun;

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

static uint64_t seen_hash(const void *ctx, uint32_t i)
{
        const TestRun *t = ctx;
        return quick_hash(t, &t->addrs[i]);
}

static bool seen_equal(const void *ctx, uint32_t i, const void *key)
{
        return addr_equal(&((const TestRun *)ctx)->addrs[i], key);
}

static const HTabOps seen_ops = {seen_hash, seen_equal};

static void remember(TestRun *t, const Addr *a)
{
        uint64_t h = quick_hash(t, a);

        if (htab_find(&t->seen, a, h) != HTAB_NONE)
                return;
        GROW(t->addrs, t->cap_addrs, t->n_addrs + 1);
        t->addrs[t->n_addrs] = *a;
        htab_insert(&t->seen, (uint32_t)t->n_addrs++, h);
}

/* One record (line, len: what --verbose prints for it). */
static void test_record(TestRun *t, const LogRecord *rec, const char *line, size_t len)
{
        RuleMatch m;
        char text[ADDR_STRLEN];
        Addr client;
        bool in_session;

        if (t->replay) {
                replay_record(t->replay, rec);
                return;
        }
        in_session = sessions_note(t->sessions, rec, &client);
        if (ruleset_match_record(t->rs, rec, &m) <= 0)
                return;
        if (m.own_reject) {
                t->own++;
                return;
        }
        if (in_session && addr_equal(&client, &m.addr)) {
                t->logged_in++; /* a logged-in session's reject: the daemon does not count it */
                return;
        }
        if (exempt_reason(&t->exempt, t->admin, &m.addr)) {
                t->exempted++;
                return;
        }
        t->matched++;
        remember(t, &m.addr);
        {
                /* LINENO<TAB>ADDRESS<TAB>RULE, without printf: it runs for every match */
                char num[24], *p = num + sizeof(num);
                uint64_t v = t->lineno;
                do
                        *--p = (char)('0' + v % 10);
                while (v /= 10);
                buf_clear(&t->line);
                buf_append(&t->line, p, (size_t)(num + sizeof(num) - p));
                buf_append(&t->line, "\t", 1);
                buf_puts(&t->line, addr_format(&m.addr, text));
                buf_append(&t->line, "\t", 1);
                buf_puts(&t->line, m.rule->name);
                buf_append(&t->line, "\n", 1);
                if (t->verbose) {
                        buf_append(&t->line, "\t", 1);
                        buf_append(&t->line, line, len);
                        buf_append(&t->line, "\n", 1);
                }
                fwrite(t->line.data, 1, t->line.len, t->out);
        }
}

static void test_line(void *ctx, const char *line, size_t len)
{
        TestRun *t = ctx;
        LogLine ll;

        /* One clock read per line was a tenth of --test's time (perf); the
           clock only places a yearless stamp in its year. */
        if (t->lineno++ % LINES_PER_CLOCK == 0)
                t->now_ms = now_ms();
        if (logline_parse_at(line, len, t->now_ms, &ll) < 0) {
                t->unparsed++;
                return;
        }
        test_record(t,
                    &(LogRecord){.time_ms = ll.time_ms, .tag = ll.tag, .tag_len = ll.tag_len, .msg = ll.msg,
                                 .msg_len = ll.msg_len, .pid = ll.pid},
                    line, len);
}

/* --test --journal: an entry is a record; --verbose prints "TAG: MESSAGE". */
static void test_journal_record(void *ctx, const LogRecord *rec)
{
        TestRun *t = ctx;
        _cleanup_buf_ Buf b = {0};

        t->lineno++;
        if (!t->verbose) {
                test_record(t, rec, NULL, 0);
                return;
        }
        buf_append(&b, rec->tag, rec->tag_len);
        buf_puts(&b, ": ");
        buf_append(&b, rec->msg, rec->msg_len);
        test_record(t, rec, b.data, b.len);
}

static void test_journal_spoofed(void *ctx, const JournalFields *f, const char *why)
{
        TestRun *t = ctx;

        if (t->verbose)
                fprintf(stderr, "refused: %s (_UID=%s _COMM=%s _PID=%s): %s\n", f->identifier, f->uid ? f->uid : "?",
                        f->comm ? f->comm : "?", f->pid ? f->pid : "?", why);
}

static const JournalOps test_journal_ops = {test_journal_record, test_journal_spoofed, NULL};

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
        LineBuf lb;
        struct timespec t0, t1;
        static char buf[1 << 20]; /* big reads: fewer system calls on a large log */
        JournalStats js = {0};
        _cleanup_close_ int fd = -1;
        double secs;
        int r;

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
        htab_init(&t.seen, &seen_ops, &t);
        if (getrandom(t.key, sizeof(t.key), 0) != sizeof(t.key))
                memcpy(t.key, "autoblacklist-ts", 16);

        if (o->journal) {
                JournalTrust trust;
                Diags notes = {0};
                Journal *j = NULL;
                uint64_t since;

                if (parse_since(o->since, &since) < 0) {
                        fprintf(stderr, "--since %s: not 'boot', a duration (2h, 7d) or YYYY-MM-DD[ HH:MM[:SS]]\n",
                                o->since);
                        r = EX_USAGE;
                        goto done;
                }
                source_journal_trust(cfg, &trust, &notes);
                diags_print(stderr, &notes, "note: ");
                diags_free(&notes);
                r = journal_new(&j, NULL, &trust, &test_journal_ops, &t);
                journal_trust_clear(&trust);
                if (r < 0) {
                        fprintf(stderr, "journal: cannot open the system journal: %s\n", strerror(-r));
                        r = EX_NOINPUT;
                        goto done;
                }
                clock_gettime(CLOCK_MONOTONIC, &t0);
                r = journal_start(j, NULL, since);
                if (r == 0)
                        r = journal_read_all(j);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                if (r < 0)
                        fprintf(stderr, "journal: %s\n", strerror(-r));
                js = *journal_stats(j);
                journal_free(j);
                linebuf_init(&lb, 16);
                goto report;
        }
        if (streq(o->test, "-"))
                fd = dup(STDIN_FILENO);
        else
                fd = open(o->test, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "%s: %s\n", o->test, strerror(errno));
                replay_free(t.replay);
                ruleset_free(t.rs);
                sessions_free(t.sessions);
                names_free(names);
                exempt_clear(&t.exempt);
                adminkeys_free(t.admin);
                return EX_NOINPUT;
        }
        linebuf_init(&lb, 65536);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                linebuf_feed(&lb, buf, (size_t)n, test_line, &t);
        }
        if (lb.len > 0) /* a last line without its newline */
                test_line(&t, lb.buf, lb.len);
        clock_gettime(CLOCK_MONOTONIC, &t1);
report:
        secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (t.replay)
                replay_summary(t.replay, stdout);
        fflush(stdout);

        if (o->journal)
                fprintf(stderr, "\nJournal: %llu entries read, %llu of mail programs, %llu refused (their "
                                "sender is not Postfix or Dovecot)\n",
                        (unsigned long long)js.entries, (unsigned long long)js.records,
                        (unsigned long long)js.spoofed);
        if (t.replay) {
                fprintf(stderr, "Lines: %llu read, %llu without a syslog header, %llu cut (too long)\n",
                        (unsigned long long)t.lineno, (unsigned long long)t.unparsed, (unsigned long long)lb.cut);
                fprintf(stderr, "Time: %.3f s, %.0f lines/s\n", secs, secs > 0 ? (double)t.lineno / secs : 0.0);
                goto finish;
        }
        fprintf(stderr, "%sLines: %llu read, %llu counted, %llu never banned (loopback, ignore list, OK in "
                        "the map), %llu of logged-in sessions, %llu own rejections, %llu without a syslog header, "
                        "%llu cut (too long)\n",
                o->journal ? "" : "\n", (unsigned long long)t.lineno, (unsigned long long)t.matched,
                (unsigned long long)t.exempted, (unsigned long long)t.logged_in, (unsigned long long)t.own,
                (unsigned long long)t.unparsed, (unsigned long long)lb.cut);
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
        linebuf_free(&lb);
        r = 0;
done:
        free(t.addrs);
        htab_free(&t.seen);
        buf_free(&t.line);
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
