/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The log module: targets, the event table, priorities, and the flood limiter on a fake clock. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "service/log.h"
#include "util/panic.h"

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

static char capture_path[512];
static int saved_stderr = -1;

/* From now on stderr goes to a file (check.h still reports on the real one after take()). */
static void capture(void)
{
        int fd;

        fflush(stderr);
        saved_stderr = dup(STDERR_FILENO);
        fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
                perror(capture_path);
                exit(2);
        }
        close(fd);
}

/* What log_event() wrote since capture(); stderr is the real one again. */
static char *take(void)
{
        char *text = NULL;
        size_t len;

        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        if (read_file(capture_path, 1 << 24, &text, &len) < 0)
                return xstrdup("");
        return text;
}

static size_t count_lines(const char *s, const char *needle)
{
        size_t n = 0;

        for (const char *p = s; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

int main(void)
{
        const char *dir = check_mktemp();
        char *out;
        LogTarget t;

        /* Targets */
        CHECK(log_target_from_string("journal", &t) == 0 && t == LOG_TARGET_JOURNAL, "journal");
        CHECK(log_target_from_string("auto", &t) == 0 && t == LOG_TARGET_AUTO, "auto");
        CHECK(log_target_from_string("syslog", &t) < 0, "syslog is not a target");
        CHECK_STR(log_target_to_string(LOG_TARGET_STDERR), "stderr", "to string");
        /* auto without JOURNAL_STREAM (or with one that is not our stderr) is stderr */
        unsetenv("JOURNAL_STREAM");
        log_setup(LOG_TARGET_AUTO, LOG_INFO);
        CHECK(log_get_target() == LOG_TARGET_STDERR, "auto without a journal stream");
        setenv("JOURNAL_STREAM", "1:1", 1);
        log_setup(LOG_TARGET_AUTO, LOG_INFO);
        CHECK(log_get_target() == LOG_TARGET_STDERR, "auto with another stream");
        unsetenv("JOURNAL_STREAM");

        /* Every event kind but NONE has a name and a distinct 128-bit MESSAGE_ID */
        for (int i = 1; i < _LOG_EVENT_MAX; i++) {
                const char *id = log_event_message_id((LogEvent)i);
                bool hex = id && strlen(id) == 32;
                for (size_t k = 0; hex && k < 32; k++)
                        hex = isxdigit((unsigned char)id[k]) && !isupper((unsigned char)id[k]);
                CHECK(hex, "event %s: MESSAGE_ID '%s'", log_event_name((LogEvent)i), check_show(id));
                for (int j = 1; j < i; j++) {
                        CHECK(!streq(log_event_message_id((LogEvent)j), id ? id : ""), "ids %d and %d differ", i,
                              j);
                        CHECK(!streq(log_event_name((LogEvent)j), log_event_name((LogEvent)i)), "names %d and %d differ",
                              i, j);
                }
        }
        CHECK(log_event_message_id(LOG_EVENT_NONE) == NULL, "plain messages have no MESSAGE_ID");

        snprintf(capture_path, sizeof(capture_path), "%s/stderr", dir);
        log_setup(LOG_TARGET_STDERR, LOG_INFO);
        log_ratelimit_reset(fake_clock);
        fake_now = 1000000;

        /* Priorities: prefixes, and the cut-off */
        capture();
        log_err("e %d", 1);
        log_warn("w");
        log_info("i");
        log_debug("d");
        out = take();
        CHECK_STR(out, "autoblacklistd: error: e 1\nautoblacklistd: warning: w\nautoblacklistd: i\n",
                  "prefixes; no debug by default");
        free(out);
        capture();
        log_set_max_priority(LOG_DEBUG);
        log_debug("d");
        log_set_max_priority(LOG_INFO);
        out = take();
        CHECK_STR(out, "autoblacklistd: debug: d\n", "debug when asked for");
        free(out);

        /* A message that is not emitted does no work: its arguments are not even evaluated */
        {
                int evaluated = 0;
                capture();
                log_debug("d %d", ++evaluated);
                log_event(LOG_EVENT_HIT, LOG_DEBUG, &(LogFields){.address = "192.0.2.9", .rule = "r"}, "%d",
                          ++evaluated);
                log_info("i %d", ++evaluated);
                out = take();
                CHECK_INT(evaluated, 1, "only the info message's arguments were evaluated");
                CHECK_STR(out, "autoblacklistd: i 1\n", "only info at log_level info");
                free(out);
        }
        /* log_level names, and the cut-off that log_setup() sets */
        {
                static const struct {
                        const char *name;
                        int prio;
                        const char *want; /* what err, warn, notice, info and debug give */
                } cases[] = {
                        {"error", LOG_ERR, "E"},     {"warning", LOG_WARNING, "EW"}, {"notice", LOG_NOTICE, "EWN"},
                        {"info", LOG_INFO, "EWNI"}, {"debug", LOG_DEBUG, "EWNID"},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        int prio = -1;
                        Buf got = {0};
                        CHECK(log_level_from_string(cases[i].name, &prio) == 0 && prio == cases[i].prio, "%s",
                              cases[i].name);
                        CHECK_STR(log_level_to_string(cases[i].prio), cases[i].name, "log_level_to_string");
                        log_setup(LOG_TARGET_STDERR, cases[i].prio);
                        capture();
                        log_err("E");
                        log_warn("W");
                        log_notice("N");
                        log_info("I");
                        log_debug("D");
                        out = take();
                        for (const char *p = out; (p = strstr(p, "autoblacklistd: ")); p++) {
                                const char *m = strchr(p, '\n');
                                buf_append(&got, m - 1, 1); /* the message's one letter */
                        }
                        CHECK_STR(got.data ? got.data : "", cases[i].want, cases[i].name);
                        buf_free(&got);
                        free(out);
                }
                CHECK(log_level_from_string("verbose", &(int){0}) == -EINVAL, "verbose is no level");
                CHECK_STR(log_level_to_string(LOG_CRIT), "?", "no name for LOG_CRIT");
        }
        /* -d: debug whatever log_setup() is told, also at a reload */
        log_force_debug();
        log_setup(LOG_TARGET_STDERR, LOG_WARNING);
        capture();
        log_debug("forced");
        out = take();
        CHECK_STR(out, "autoblacklistd: debug: forced\n", "-d beats log_level");
        free(out);
        /* (the forcing stays for the process, as -d does; the flood tests below do not log debug) */
        log_set_max_priority(LOG_INFO);
        CHECK(log_enabled(LOG_DEBUG), "still forced after log_set_max_priority");

        /* Flood: a burst of 200 hits goes through, the rest is dropped and counted */
        capture();
        for (int i = 0; i < 300; i++)
                log_event(LOG_EVENT_HIT, LOG_INFO, &(LogFields){.address = "192.0.2.1"}, "hit %d", i);
        out = take();
        CHECK_INT(count_lines(out, ": hit "), 200, "the burst");
        CHECK_INT(log_dropped(), 100, "dropped and counted");
        free(out);
        /* bans have their own bucket: a hit flood does not silence them */
        capture();
        log_event(LOG_EVENT_BAN, LOG_NOTICE, NULL, "ban x");
        out = take();
        CHECK_STR(out, "autoblacklistd: ban x\n", "a ban during a hit flood");
        free(out);
        /* errors of our own are never dropped */
        capture();
        for (int i = 0; i < 1000; i++)
                log_err("map not written");
        out = take();
        CHECK_INT(count_lines(out, "map not written"), 1000, "errors are never dropped");
        free(out);
        /* one second later: 50 more tokens, and the first message says what was lost */
        fake_now += 1000;
        capture();
        for (int i = 0; i < 60; i++)
                log_event(LOG_EVENT_HIT, LOG_INFO, NULL, "hit again %d", i);
        out = take();
        CHECK(strstr(out, "autoblacklistd: warning: 100 hit messages suppressed by the flood limiter\n"
                          "autoblacklistd: hit again 0\n") == out,
              "the count of suppressed messages comes first: %.120s", out);
        CHECK_INT(count_lines(out, ": hit again "), 50, "refilled at 50 a second");
        CHECK_INT(log_dropped(), 110, "the total");
        free(out);

        log_ratelimit_reset(NULL);
        CHECK_INT(log_dropped(), 0, "reset");

        /* A panic goes out through the log, at LOG_CRIT, and aborts */
        {
                int status = 0;
                pid_t pid;
                fflush(stderr);
                pid = fork();
                if (pid == 0) {
                        struct rlimit none = {0, 0};
                        (void)setrlimit(RLIMIT_CORE, &none);
                        log_setup(LOG_TARGET_STDERR, LOG_ERR);
                        capture();
                        panic("index %d lost", 7);
                }
                waitpid(pid, &status, 0);
                CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the panic aborted: %#x", status);
                out = NULL;
                if (read_file(capture_path, 1 << 20, &out, NULL) == 0)
                        CHECK_STR(out, "autoblacklistd: panic: index 7 lost\n", "the panic's line");
                else
                        CHECK(0, "no capture file");
                free(out);
        }
        return check_done();
}
