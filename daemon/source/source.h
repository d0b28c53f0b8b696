/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "core/record.h"

typedef enum LogSourceKind {
        LOG_SOURCE_AUTO, /* the file if it exists or is configured, else the journal */
        LOG_SOURCE_FILE,
        LOG_SOURCE_JOURNAL,
} LogSourceKind;

struct Config;
struct JournalTrust;
struct Diags;

/*
 * The source that cfg asks for, with auto resolved: the file if log_file
 * is set in the config file or exists, else the journal.  *why says why
 * (static text or to free: always free it).
 */
LogSourceKind source_choose(const struct Config *cfg, char **why);
const char *source_name(LogSourceKind k);
/*
 * The journal's trust settings for cfg: the uids of journal_users (a user
 * that does not exist goes to notes), Postfix's daemon_directory (from
 * postconf, with the usual folders if that fails) and Dovecot's program
 * folders, and journal_identifiers.
 */
void source_journal_trust(const struct Config *cfg, struct JournalTrust *out, struct Diags *notes);
