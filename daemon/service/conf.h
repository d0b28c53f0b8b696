/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The configuration file, in Postfix's main.cf style (see
 * autoblacklist.conf(5)): "name = value" lines, '#' comment lines, and
 * lines that start with white space continue the previous line.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/policy.h"
#include "util/addr.h"
#include "service/log.h"
#include "util/names.h"
#include "match/rules.h"
#include "util/util.h"

typedef enum StartAt {
        START_AT_END,
        START_AT_BEGINNING,
} StartAt;

typedef struct Config {
        char *path; /* the file read, or NULL for built-in defaults */
        const char *log_source; /* "auto", or a source's kind ("file", "journal"): static text */
        char *log_file;
        bool log_file_set; /* given in the file, not the default */
        char **journal_users;       /* besides root, whose journal entries count */
        char **journal_identifiers; /* SYSLOG_IDENTIFIER prefixes read from the journal */
        char *rules;
        char *map_type; /* "hash", ... */
        char *map_path;
        char *auth_map_type; /* smtpd_discard_ehlo_keyword_address_maps: ... */
        char *auth_map_path; /* ... NULL when AUTH is not closed to banned clients */
        char **postmap; /* argv, without the map argument */
        uint64_t postmap_timeout_ms; /* per 100,000 entries, and at least this */
        uint64_t debounce_ms;
        char *state_file;
        char *control_socket;
        uint64_t control_timeout_ms; /* how long a control client waits for a map write */
        Cidr *ignore;
        size_t n_ignore;
        unsigned max_hits;
        uint64_t find_time_ms;
        uint64_t ban_time_ms;
        double ban_time_factor;  /* repeat offenders: each ban this much longer */
        uint64_t ban_time_max_ms; /* ... up to this (0: no cap) */
        uint64_t ban_memory_ms;   /* how long a past ban counts as a previous one */
        size_t max_tracked;       /* addresses with hits, not banned yet */
        unsigned ipv6_net_prefix; /* ban this IPv6 network ... */
        unsigned ipv6_net_hosts;  /* ... once this many of its hosts are banned (0: never) */
        unsigned ipv6_net_factor; /* ban it when its hits reach a rule's max_hits x this (0: never) */
        char *network_map;        /* cidr: file for network bans; NULL: keys in the access map */
        char *fleet;              /* fleet mode: libpq conninfo; NULL: off */
        char *fleet_name;         /* this host in the fleet; NULL: the host name */
        bool ignore_mynetworks;
        bool ban_private;         /* private and shared address space may be banned */
        char **postconf;          /* argv, for reading mynetworks */
        char *reject_text;
        StartAt start_at;
        LogTarget log_target;
        int log_level; /* the lowest syslog priority logged: LOG_ERR .. LOG_DEBUG */
} Config;

/* The built-in default of every key. */
Config *config_new_default(void);
/*
 * Read path over the defaults.  Every problem is added to errors as
 * "file:line: message"; returns -EINVAL if there was any, -errno if the
 * file cannot be read.
 */
int config_load(const char *path, Config **out, Diags *errors);
/*
 * The configuration every program uses: path if given (it must exist);
 * else the default file if it exists; else the built-in defaults.
 */
int config_load_or_default(const char *path, Config **out, Diags *errors);
Config *config_free(Config *c);
static inline void config_freep(Config **c) { config_free(*c); }

/*
 * Load the rules that cfg names (or override, a file or folder, if set),
 * with cfg's defaults for what a rule does not say.  See ruleset_load().
 */
struct BackendConf;
/*
 * The backends' settings from cfg (host: this host's name in a fleet, or
 * NULL), into bc; specs[0..1] are the strings bc points to, the caller's
 * to free.
 */
void config_backends(const Config *cfg, const char *host, struct BackendConf *bc, char **specs);
int config_load_rules(const Config *cfg, const char *override, Names *names, RuleSet **out, Diags *errors,
                      Diags *warnings);

/* Write every key and its value, in config-file syntax. */
void config_dump(const Config *c, Buf *out);

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG_FILE SYSCONFDIR "/postfix-autoblacklist/autoblacklist.conf"
#define DEFAULT_RULES SYSCONFDIR "/postfix-autoblacklist/rules"

/*
 * The policy's settings that the configuration gives (window_ms: the
 * rules' longest find_time).  The caller adds what it knows itself: the
 * names it interned, whether an auth map counts hosts under a network ban.
 */
void config_policy_settings(const Config *cfg, uint64_t window_ms, PolicySettings *s);
