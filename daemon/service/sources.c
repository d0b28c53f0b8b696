/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * sources: the log sources' settings from the config (see sources.h),
 * shared by the daemon and --test.  Running postconf for Postfix's
 * daemon_directory is done here too: a source only gets the folders.
 *
 * Security: the journal's trust settings decide which entries may speak
 * for Postfix and Dovecot; a user that does not exist is left out (and
 * said), never guessed.
 */
#include "service/sources.h"

#include <errno.h>
#include <pwd.h>
#include <unistd.h>

#include "service/conf.h"
#include "util/util.h"

const char *sources_choose(const Config *cfg, char **why)
{
        if (!streq(cfg->log_source, "auto")) {
                *why = xasprintf("log_source = %s", cfg->log_source);
                return cfg->log_source;
        }
        if (cfg->log_file_set) {
                *why = xasprintf("log_source = auto, and log_file is set");
                return "file";
        }
        if (access(cfg->log_file, F_OK) == 0) {
                *why = xasprintf("log_source = auto, and %s exists", cfg->log_file);
                return "file";
        }
        *why = xasprintf("log_source = auto, and there is no %s", cfg->log_file);
        return "journal";
}

/* Where Dovecot keeps its programs on Debian, Fedora and from source. */
static const char *const dovecot_dirs[] = {"/usr/lib/dovecot", "/usr/libexec/dovecot",
                                           "/usr/local/libexec/dovecot"};
/* Postfix's daemon_directory when postconf cannot say. */
static const char *const postfix_dirs[] = {"/usr/lib/postfix/sbin", "/usr/libexec/postfix"};

static void journal_trust_of(const Config *cfg, JournalTrust *out, Diags *notes)
{
        size_t n_users = strv_length(cfg->journal_users), n_dirs = 0;
        _cleanup_free_ char **argv = NULL;
        _cleanup_free_ char *dir = NULL;
        size_t n = strv_length(cfg->postconf);
        int r;

        *out = (JournalTrust){0};
        out->uids = xcalloc(n_users + 1, sizeof(uid_t));
        for (size_t i = 0; i < n_users; i++) {
                struct passwd *pw = getpwnam(cfg->journal_users[i]);
                if (!pw) {
                        diags_add(notes, "journal_users", 0, "there is no user '%s'", cfg->journal_users[i]);
                        continue;
                }
                out->uids[out->n_uids++] = pw->pw_uid;
        }

        out->exe_dirs = xcalloc(ELEMENTSOF(dovecot_dirs) + ELEMENTSOF(postfix_dirs) + 2, sizeof(char *));
        argv = xcalloc(n + 3, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                argv[i] = cfg->postconf[i];
        argv[n] = (char *)"-h";
        argv[n + 1] = (char *)"daemon_directory";
        r = run_capture(argv, 4096, 10000, &dir);
        if (r == 0 && strip(dir)[0] == '/')
                out->exe_dirs[n_dirs++] = xstrdup(strip(dir));
        else {
                diags_add(notes, "journal", 0,
                          "%s -h daemon_directory failed; trusting Postfix's programs in %s and %s",
                          cfg->postconf[0], postfix_dirs[0], postfix_dirs[1]);
                for (size_t i = 0; i < ELEMENTSOF(postfix_dirs); i++)
                        out->exe_dirs[n_dirs++] = xstrdup(postfix_dirs[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(dovecot_dirs); i++)
                out->exe_dirs[n_dirs++] = xstrdup(dovecot_dirs[i]);

        n = strv_length(cfg->journal_identifiers);
        out->identifiers = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                out->identifiers[i] = xstrdup(cfg->journal_identifiers[i]);
}

void sources_config(const Config *cfg, const char *kind, SourceConfig *out, Diags *notes)
{
        *out = (SourceConfig){0};
        out->set.log_file = cfg->log_file;
        if (streq(kind, "journal")) {
                journal_trust_of(cfg, &out->trust, notes);
                out->set.trust = &out->trust;
        }
}

void sources_config_clear(SourceConfig *sc)
{
        journal_trust_clear(&sc->trust);
        *sc = (SourceConfig){0};
}
