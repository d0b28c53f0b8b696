/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The config's side of the log sources: which source log_source asks for
 * (auto resolved), and the plain settings a source is given, made from
 * the config here, in the service layer, so that no source reads it.
 */

#include "source/source.h"
#include "source/journal.h"

struct Config;

/*
 * The kind of source that cfg asks for, with auto resolved: the file if
 * log_file is set in the config file or exists, else the journal.  *why
 * says why (to free).
 */
const char *sources_choose(const struct Config *cfg, char **why);

/* The settings of a source of kind for cfg, and what they own. */
typedef struct SourceConfig {
        SourceSettings set;
        JournalTrust trust;
} SourceConfig;

/*
 * The settings for kind: the log file's path; for the journal, its trust
 * settings: the uids of journal_users (a user that does not exist goes to
 * notes), Postfix's daemon_directory (from postconf, with the usual
 * folders if that fails) and Dovecot's program folders, and
 * journal_identifiers.
 */
void sources_config(const struct Config *cfg, const char *kind, SourceConfig *out, Diags *notes);
void sources_config_clear(SourceConfig *sc);
