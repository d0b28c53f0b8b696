/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The running daemon: one libev loop that owns the log follower, the rule
 * set, the tracker, the bans and the map writer, and handles signals.
 */

#include <stdbool.h>

typedef struct DaemonOptions {
        const char *config_path; /* NULL: the default file */
        const char *rules_override;
} DaemonOptions;

/* Run until SIGTERM; returns the process exit status. */
int daemon_run(const DaemonOptions *opts);
