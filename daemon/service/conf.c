/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * conf: parse autoblacklist.conf.
 *
 * Each key has one parser, listed in a table with its default, so that the
 * defaults, the parsing, the dump and the man page's list stay in step.
 * The file is trusted (root writes it), but it is still checked strictly:
 * an unknown key or a bad value is an error naming file and line, never a
 * silent default.
 */
#include "service/conf.h"

#include <ctype.h>
#include <errno.h>

#include "backend/backend.h"
#include "backend/fleet.h"
#include "backend/mapfile.h"
#include "source/source.h"
#include "util/panic.h"

typedef int (*KeyParser)(Config *c, const char *value, char **why);

static int set_string(char **dst, const char *value)
{
        free(*dst);
        *dst = xstrdup(value);
        return 0;
}

static int need_absolute(const char *value, char **why)
{
        if (value[0] != '/') {
                *why = xasprintf("'%s' is not an absolute path", value);
                return -EINVAL;
        }
        return 0;
}

static int p_log_file(Config *c, const char *v, char **why)
{
        return need_absolute(v, why) ?: set_string(&c->log_file, v);
}

static int p_rules(Config *c, const char *v, char **why)
{
        return need_absolute(v, why) ?: set_string(&c->rules, v);
}

static int p_state_file(Config *c, const char *v, char **why)
{
        return need_absolute(v, why) ?: set_string(&c->state_file, v);
}

static int p_control_socket(Config *c, const char *v, char **why)
{
        if (need_absolute(v, why) < 0)
                return -EINVAL;
        if (strlen(v) >= 108) { /* sizeof(sun_path) */
                *why = xasprintf("'%s' is too long for a unix socket path", v);
                return -EINVAL;
        }
        return set_string(&c->control_socket, v);
}

/* type:path of a map that postmap builds, into *type and *path. */
static int map_spec(const char *v, char **type_out, char **path_out, char **why)
{
        const char *colon = strchr(v, ':');
        _cleanup_free_ char *type = NULL;

        if (!colon) {
                *why = xasprintf("'%s' is not type:path (e.g. hash:/etc/postfix/access)", v);
                return -EINVAL;
        }
        type = xstrndup(v, (size_t)(colon - v));
        if (!mapfile_suffix(type)) {
                *why = xasprintf("map type '%s' is not supported: use hash, btree, lmdb or cdb", type);
                return -EINVAL;
        }
        if (need_absolute(colon + 1, why) < 0)
                return -EINVAL;
        set_string(type_out, type);
        return set_string(path_out, colon + 1);
}

static int p_access_map(Config *c, const char *v, char **why)
{
        return map_spec(v, &c->map_type, &c->map_path, why);
}

/* The EHLO-keyword map that closes AUTH to banned clients; empty: none. */
static int p_auth_map(Config *c, const char *v, char **why)
{
        if (!*v) {
                c->auth_map_type = mfree(c->auth_map_type);
                c->auth_map_path = mfree(c->auth_map_path);
                return 0;
        }
        return map_spec(v, &c->auth_map_type, &c->auth_map_path, why);
}

static int command(char ***dst, const char *v, char **why)
{
        char **argv = split_list(v);

        /* split_list() also splits at commas; a command has none. */
        if (strchr(v, ',') || !argv[0]) {
                strv_free(argv);
                *why = xasprintf("'%s' is not a command line", v);
                return -EINVAL;
        }
        strv_free(*dst);
        *dst = argv;
        return 0;
}

static int p_postmap(Config *c, const char *v, char **why) { return command(&c->postmap, v, why); }
static int p_postconf(Config *c, const char *v, char **why) { return command(&c->postconf, v, why); }

static int duration(const char *v, uint64_t *dst, uint64_t min_ms, char **why)
{
        uint64_t ms;

        if (parse_duration(v, &ms) < 0) {
                *why = xasprintf("'%s' is not a duration (a number with ms, s, m, h, d or w)", v);
                return -EINVAL;
        }
        if (ms < min_ms) {
                char b[32];
                *why = xasprintf("'%s' is below the minimum of %s", v, format_duration(min_ms, b, sizeof(b)));
                return -EINVAL;
        }
        *dst = ms;
        return 0;
}

static int p_postmap_timeout(Config *c, const char *v, char **why)
{
        return duration(v, &c->postmap_timeout_ms, 100, why);
}

static int p_debounce(Config *c, const char *v, char **why)
{
        int r = duration(v, &c->debounce_ms, 0, why);
        if (r == 0 && c->debounce_ms > 60000) {
                *why = xasprintf("'%s' is over one minute: bans would wait that long", v);
                return -EINVAL;
        }
        return r;
}

static int p_control_timeout(Config *c, const char *v, char **why)
{
        return duration(v, &c->control_timeout_ms, 100, why);
}

static int p_find_time(Config *c, const char *v, char **why) { return duration(v, &c->find_time_ms, 1000, why); }
static int p_ban_time(Config *c, const char *v, char **why) { return duration(v, &c->ban_time_ms, 0, why); }

static int p_max_hits(Config *c, const char *v, char **why)
{
        uint64_t n;

        if (parse_uint(v, RULES_MAX_HITS, &n) < 0 || n == 0) {
                *why = xasprintf("'%s' is not a number from 1 to %d", v, RULES_MAX_HITS);
                return -EINVAL;
        }
        c->max_hits = (unsigned)n;
        return 0;
}

static int p_ban_time_factor(Config *c, const char *v, char **why)
{
        char *end;
        double f;

        errno = 0;
        f = strtod(v, &end);
        if (errno || *end || !(f >= 1.0 && f <= 100.0)) {
                *why = xasprintf("'%s' is not a number from 1 to 100 (1: no escalation)", v);
                return -EINVAL;
        }
        c->ban_time_factor = f;
        return 0;
}

static int p_ban_time_max(Config *c, const char *v, char **why) { return duration(v, &c->ban_time_max_ms, 0, why); }
static int p_ban_memory(Config *c, const char *v, char **why) { return duration(v, &c->ban_memory_ms, 0, why); }

static int p_max_tracked(Config *c, const char *v, char **why)
{
        uint64_t n;

        if (parse_uint(v, 100000000, &n) < 0 || n < 100) {
                *why = xasprintf("'%s' is not a number from 100 to 100000000", v);
                return -EINVAL;
        }
        c->max_tracked = (size_t)n;
        return 0;
}

static int p_ipv6_net_prefix(Config *c, const char *v, char **why)
{
        uint64_t n;

        /* an access(5) key holds whole 16-bit groups */
        if (parse_uint(v, 112, &n) < 0 || n < 16 || n % 16) {
                *why = xasprintf("'%s' is not one of 16, 32, 48, 64, 80, 96 or 112: an access(5) key "
                                 "holds whole 16-bit groups", v);
                return -EINVAL;
        }
        c->ipv6_net_prefix = (unsigned)n;
        return 0;
}

static int p_ipv6_net_hosts(Config *c, const char *v, char **why)
{
        uint64_t n;

        if (parse_uint(v, 1000000, &n) < 0) {
                *why = xasprintf("'%s' is not a number (0: never ban a whole network)", v);
                return -EINVAL;
        }
        c->ipv6_net_hosts = (unsigned)n;
        return 0;
}

static int p_ipv6_net_factor(Config *c, const char *v, char **why)
{
        uint64_t n;

        /* max_hits is at most 1000: the tracker keeps 64000 hits at most */
        if (parse_uint(v, 64, &n) < 0) {
                *why = xasprintf("'%s' is not a number from 0 to 64 (0: do not count hits per network)", v);
                return -EINVAL;
        }
        c->ipv6_net_factor = (unsigned)n;
        return 0;
}

static int p_network_map(Config *c, const char *v, char **why)
{
        if (!*v) {
                free(c->network_map);
                c->network_map = NULL;
                return 0;
        }
        if (strncmp(v, "cidr:", 5) != 0) {
                *why = xasprintf("'%s' is not cidr:/path (network bans need a cidr table)", v);
                return -EINVAL;
        }
        return need_absolute(v + 5, why) ?: set_string(&c->network_map, v + 5);
}

/* Fleet mode: a libpq connection string or URI (it may hold a password: never echoed). */
static int p_fleet(Config *c, const char *v, char **why)
{
        free(c->fleet);
        c->fleet = NULL;
        if (!*v)
                return 0;
        return fleet_check_conninfo(v, why) ?: set_string(&c->fleet, v);
}

static int p_fleet_name(Config *c, const char *v, char **why)
{
        free(c->fleet_name);
        c->fleet_name = NULL;
        if (!*v)
                return 0; /* the host name */
        if (!fleet_name_valid(v)) {
                *why = xasprintf("'%s' is not 1 to %d of A-Z a-z 0-9 - . _", v, FLEET_NAME_MAX);
                return -EINVAL;
        }
        return set_string(&c->fleet_name, v);
}

static int p_ban_private(Config *c, const char *v, char **why)
{
        if (parse_bool(v, &c->ban_private) < 0) {
                *why = xasprintf("'%s' is not yes or no", v);
                return -EINVAL;
        }
        return 0;
}

static int p_ignore_mynetworks(Config *c, const char *v, char **why)
{
        if (parse_bool(v, &c->ignore_mynetworks) < 0) {
                *why = xasprintf("'%s' is not yes or no", v);
                return -EINVAL;
        }
        return 0;
}

static int p_ignore(Config *c, const char *v, char **why)
{
        _cleanup_strv_free_ char **items = split_list(v);
        size_t n = strv_length(items);
        Cidr *list = xcalloc(n ? n : 1, sizeof(Cidr));

        for (size_t i = 0; i < n; i++) {
                int r = cidr_parse(items[i], &list[i]);
                if (r == -EDOM) {
                        *why = xasprintf("'%s' has host bits set after the prefix length", items[i]);
                        free(list);
                        return -EINVAL;
                }
                if (r < 0) {
                        *why = xasprintf("'%s' is not an address or CIDR network", items[i]);
                        free(list);
                        return -EINVAL;
                }
        }
        free(c->ignore);
        c->ignore = list;
        c->n_ignore = n;
        return 0;
}

static int p_reject_text(Config *c, const char *v, char **why)
{
        if (!*v) {
                /* The daemon knows its own rejections in the log by this text;
                   empty, every client rejection would look like ours. */
                *why = xstrdup("the text must not be empty: the daemon recognises its own rejections by it");
                return -EINVAL;
        }
        for (const char *p = v; *p; p++)
                if (!isprint((unsigned char)*p)) {
                        *why = xstrdup("the text must be printable ASCII");
                        return -EINVAL;
                }
        return set_string(&c->reject_text, v);
}

static int p_start_at(Config *c, const char *v, char **why)
{
        if (streq(v, "end"))
                c->start_at = START_AT_END;
        else if (streq(v, "beginning"))
                c->start_at = START_AT_BEGINNING;
        else {
                *why = xasprintf("'%s' is not 'end' or 'beginning'", v);
                return -EINVAL;
        }
        return 0;
}

static int p_log_source(Config *c, const char *v, char **why)
{
        const LogSourceClass *cls = source_class(v);
        const char *const *k = source_kinds();
        Buf b = {0};

        if (streq(v, "auto") || cls) {
                c->log_source = cls ? cls->kind : "auto";
                return 0;
        }
        buf_printf(&b, "'%s' is not auto", v);
        for (size_t i = 0; k[i]; i++)
                buf_printf(&b, "%s%s", k[i + 1] ? ", " : " or ", k[i]);
        *why = b.data;
        return -EINVAL;
}

/* A list of names made of [-._A-Za-z0-9]. */
static int name_list(char ***dst, const char *v, const char *what, char **why)
{
        _cleanup_strv_free_ char **items = split_list(v);

        for (char **p = items; *p; p++)
                if (!**p || (*p)[strspn(*p, "-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")]) {
                        *why = xasprintf("'%s' is not %s", *p, what);
                        return -EINVAL;
                }
        strv_free(*dst);
        *dst = TAKE_PTR(items);
        return 0;
}

static int p_journal_users(Config *c, const char *v, char **why)
{
        return name_list(&c->journal_users, v, "a user name", why);
}

static int p_journal_identifiers(Config *c, const char *v, char **why)
{
        return name_list(&c->journal_identifiers, v, "a syslog identifier prefix", why);
}

static int p_log_target(Config *c, const char *v, char **why)
{
        if (log_target_from_string(v, &c->log_target) < 0) {
                *why = xasprintf("'%s' is not auto, journal or stderr", v);
                return -EINVAL;
        }
        return 0;
}

static int p_log_level(Config *c, const char *v, char **why)
{
        if (log_level_from_string(v, &c->log_level) < 0) {
                *why = xasprintf("'%s' is not error, warning, notice, info or debug", v);
                return -EINVAL;
        }
        return 0;
}

static const struct {
        const char *name;
        KeyParser parse;
        const char *def; /* the built-in default, parsed by config_new_default() */
} keys[] = {
        {"log_source", p_log_source, "auto"},
        {"log_file", p_log_file, "/var/log/maillog"},
        {"journal_users", p_journal_users, "postfix dovecot dovenull"},
        {"journal_identifiers", p_journal_identifiers, "postfix dovecot"},
        {"rules", p_rules, DEFAULT_RULES},
        {"access_map", p_access_map, "hash:/etc/postfix/access"},
        {"auth_map", p_auth_map, "hash:/etc/postfix/autoblacklist-ehlo"},
        {"postmap", p_postmap, "postmap"},
        {"postmap_timeout", p_postmap_timeout, "10s"},
        {"debounce", p_debounce, "250ms"},
        {"state_file", p_state_file, "/var/lib/postfix-autoblacklist/state"},
        {"control_socket", p_control_socket, "/run/postfix-autoblacklist/control"},
        {"control_timeout", p_control_timeout, "5m"},
        {"ignore", p_ignore, ""},
        {"max_hits", p_max_hits, "5"},
        {"find_time", p_find_time, "10m"},
        {"ban_time", p_ban_time, "1h"},
        {"ban_time_factor", p_ban_time_factor, "2"},
        {"ban_time_max", p_ban_time_max, "1w"},
        {"ban_memory", p_ban_memory, "1w"},
        {"max_tracked", p_max_tracked, "200000"},
        {"ipv6_net_prefix", p_ipv6_net_prefix, "64"},
        {"ipv6_net_hosts", p_ipv6_net_hosts, "3"},
        {"ipv6_net_factor", p_ipv6_net_factor, "3"},
        {"network_map", p_network_map, ""},
        {"fleet", p_fleet, ""},
        {"fleet_name", p_fleet_name, ""},
        {"ignore_mynetworks", p_ignore_mynetworks, "no"},
        {"ban_private", p_ban_private, "no"},
        {"postconf", p_postconf, "postconf"},
        {"reject_text", p_reject_text, "Blocked by postfix-autoblacklist"},
        {"start_at", p_start_at, "end"},
        {"log_target", p_log_target, "auto"},
        {"log_level", p_log_level, "info"},
};

Config *config_new_default(void)
{
        Config *c = xcalloc(1, sizeof(Config));

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char *why = NULL;
                if (keys[i].parse(c, keys[i].def, &why) < 0)
                        panic("built-in default of %s: %s", keys[i].name, why);
        }
        return c;
}

Config *config_free(Config *c)
{
        if (!c)
                return NULL;
        free(c->path);
        free(c->log_file);
        free(c->rules);
        free(c->map_type);
        free(c->map_path);
        free(c->auth_map_type);
        free(c->auth_map_path);
        strv_free(c->postmap);
        strv_free(c->postconf);
        strv_free(c->journal_users);
        strv_free(c->journal_identifiers);
        free(c->state_file);
        free(c->control_socket);
        free(c->ignore);
        free(c->reject_text);
        free(c->network_map);
        free(c->fleet);
        free(c->fleet_name);
        free(c);
        return NULL;
}

static void apply(Config *c, const char *file, unsigned line, char *text, Diags *errors, bool *seen)
{
        char *eq = strchr(text, '='), *name, *value, *why = NULL;

        if (!eq) {
                diags_add(errors, file, line, "expected 'name = value'");
                return;
        }
        *eq = '\0';
        name = strip(text);
        value = strip(eq + 1);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (!streq(keys[i].name, name))
                        continue;
                if (seen[i])
                        diags_add(errors, file, line, "%s: given twice", name);
                seen[i] = true;
                if (keys[i].parse(c, value, &why) < 0) {
                        diags_add(errors, file, line, "%s: %s", name, why);
                        free(why);
                }
                return;
        }
        diags_add(errors, file, line, "unknown key '%s'", name);
}

typedef struct Loading {
        Config *c;
        const char *path;
        Diags *errors;
        bool seen[ELEMENTSOF(keys)];
} Loading;

static void apply_line(void *ctx, char *line, size_t len, unsigned lineno)
{
        Loading *l = ctx;

        (void)len;
        apply(l->c, l->path, lineno, line, l->errors, l->seen);
}

static void orphan_line(void *ctx, char *line, size_t len, unsigned lineno)
{
        Loading *l = ctx;

        (void)line;
        (void)len;
        diags_add(l->errors, l->path, lineno, "continuation line with nothing to continue");
}

int config_load(const char *path, Config **out, Diags *errors)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        size_t n_errors = errors->n, len = 0;
        int r;

        r = read_file(path, 1 << 20, &text, &len);
        if (r < 0) {
                diags_add(errors, path, 0, "cannot read: %s", strerror(-r));
                return r;
        }
        c = config_new_default();
        c->path = xstrdup(path);
        Loading l = {.c = c, .path = path, .errors = errors};
        postfix_lines(text, len, apply_line, orphan_line, &l);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (l.seen[i] && streq(keys[i].name, "log_file"))
                        c->log_file_set = true;
        /* Two writers owning one block of one file would undo each other. */
        if (c->auth_map_path && streq(c->auth_map_path, c->map_path))
                diags_add(errors, path, 0, "auth_map: %s is also the access_map; give it a file of its own",
                          c->auth_map_path);
        if (errors->n > n_errors)
                return -EINVAL;
        *out = TAKE_PTR(c);
        return 0;
}

int config_load_or_default(const char *path, Config **out, Diags *errors)
{
        if (!path && access(DEFAULT_CONFIG_FILE, F_OK) < 0) {
                *out = config_new_default();
                return 0;
        }
        return config_load(path ? path : DEFAULT_CONFIG_FILE, out, errors);
}

int config_load_rules(const Config *cfg, const char *override, Names *names, RuleSet **out, Diags *errors,
                      Diags *warnings)
{
        /* How the MTA logs a rejection of ours is the backends' to say; the rules only match it. */
        BackendConf bc = {.reject_text = cfg->reject_text};
        _cleanup_free_ char *own = cfg->reject_text && cfg->reject_text[0] ? backends_own_reject(&bc) : NULL;
        RuleDefaults defs = {
                .max_hits = cfg->max_hits,
                .find_time_ms = cfg->find_time_ms,
                .ban_time_ms = cfg->ban_time_ms,
                .reject_text = cfg->reject_text,
                .own_reject = own,
        };

        return ruleset_load(out, override ? override : cfg->rules, &defs, names, errors, warnings);
}

/*
 * The backends' settings: one line a backend type, its spec from its own
 * setting (see backend.h: the registry names the types).
 */
void config_backends(const Config *cfg, const char *host, BackendConf *bc, char **specs)
{
        *bc = (BackendConf){
                .postmap = cfg->postmap,
                .postmap_timeout_ms = cfg->postmap_timeout_ms,
                .debounce_ms = cfg->debounce_ms,
                .reject_text = cfg->reject_text,
                .host_name = host,
        };
        specs[0] = xasprintf("%s:%s", cfg->map_type, cfg->map_path);
        specs[1] = cfg->auth_map_path ? xasprintf("%s:%s", cfg->auth_map_type, cfg->auth_map_path) : NULL;
        backend_conf_add(bc, "access", specs[0]);
        backend_conf_add(bc, "auth", specs[1]);
        backend_conf_add(bc, "cidr", cfg->network_map);
        backend_conf_add(bc, "fleet", cfg->fleet);
}

/*
 * A duration as the config file writes it: one number and one unit.
 * format_duration() writes "1h30m" for people, which parse_duration()
 * does not read.
 */
static const char *dump_duration(uint64_t ms, char *buf, size_t size)
{
        static const struct {
                const char *unit;
                uint64_t ms;
        } units[] = {{"w", 604800000ULL}, {"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL}};

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (ms && ms % units[i].ms == 0) {
                        snprintf(buf, size, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
                        return buf;
                }
        if (ms)
                snprintf(buf, size, "%llums", (unsigned long long)ms);
        else
                snprintf(buf, size, "0s");
        return buf;
}

/* The shortest text that reads back as f: %g, or all 17 digits if %g rounds. */
static void dump_double(Buf *out, double f)
{
        char t[32];

        snprintf(t, sizeof(t), "%g", f);
        if (strtod(t, NULL) != f)
                snprintf(t, sizeof(t), "%.17g", f);
        buf_puts(out, t);
}

void config_dump(const Config *c, Buf *out)
{
        char d[32];

        buf_printf(out, "log_source = %s\n", c->log_source);
        buf_printf(out, "log_file = %s\n", c->log_file);
        buf_puts(out, "journal_users =");
        for (size_t i = 0; c->journal_users[i]; i++)
                buf_printf(out, " %s", c->journal_users[i]);
        buf_puts(out, "\njournal_identifiers =");
        for (size_t i = 0; c->journal_identifiers[i]; i++)
                buf_printf(out, " %s", c->journal_identifiers[i]);
        buf_puts(out, "\n");
        buf_printf(out, "rules = %s\n", c->rules);
        buf_printf(out, "access_map = %s:%s\n", c->map_type, c->map_path);
        if (c->auth_map_path)
                buf_printf(out, "auth_map = %s:%s\n", c->auth_map_type, c->auth_map_path);
        else
                buf_puts(out, "auth_map =\n");
        buf_puts(out, "postmap =");
        for (size_t i = 0; c->postmap[i]; i++)
                buf_printf(out, " %s", c->postmap[i]);
        buf_puts(out, "\n");
        buf_printf(out, "postmap_timeout = %s\n", dump_duration(c->postmap_timeout_ms, d, sizeof(d)));
        buf_printf(out, "debounce = %s\n", dump_duration(c->debounce_ms, d, sizeof(d)));
        buf_printf(out, "state_file = %s\n", c->state_file);
        buf_printf(out, "control_socket = %s\n", c->control_socket);
        buf_printf(out, "control_timeout = %s\n", dump_duration(c->control_timeout_ms, d, sizeof(d)));
        buf_puts(out, "ignore =");
        for (size_t i = 0; i < c->n_ignore; i++) {
                char b[CIDR_STRLEN];
                buf_printf(out, " %s", cidr_format(&c->ignore[i], b));
        }
        buf_puts(out, "\n");
        buf_printf(out, "max_hits = %u\n", c->max_hits);
        buf_printf(out, "find_time = %s\n", dump_duration(c->find_time_ms, d, sizeof(d)));
        buf_printf(out, "ban_time = %s\n", dump_duration(c->ban_time_ms, d, sizeof(d)));
        buf_puts(out, "ban_time_factor = ");
        dump_double(out, c->ban_time_factor);
        buf_puts(out, "\n");
        buf_printf(out, "ban_time_max = %s\n", dump_duration(c->ban_time_max_ms, d, sizeof(d)));
        buf_printf(out, "ban_memory = %s\n", dump_duration(c->ban_memory_ms, d, sizeof(d)));
        buf_printf(out, "max_tracked = %zu\n", c->max_tracked);
        buf_printf(out, "ipv6_net_prefix = %u\n", c->ipv6_net_prefix);
        buf_printf(out, "ipv6_net_hosts = %u\n", c->ipv6_net_hosts);
        buf_printf(out, "ipv6_net_factor = %u\n", c->ipv6_net_factor);
        buf_printf(out, "network_map = %s%s\n", c->network_map ? "cidr:" : "", c->network_map ? c->network_map : "");
        {
                _cleanup_free_ char *shown = c->fleet ? fleet_redact(c->fleet) : NULL;
                buf_printf(out, "fleet = %s\n", shown ? shown : "");
                buf_printf(out, "fleet_name = %s\n", c->fleet_name ? c->fleet_name : "");
        }
        buf_printf(out, "ignore_mynetworks = %s\n", c->ignore_mynetworks ? "yes" : "no");
        buf_printf(out, "ban_private = %s\n", c->ban_private ? "yes" : "no");
        buf_puts(out, "postconf =");
        for (size_t i = 0; c->postconf[i]; i++)
                buf_printf(out, " %s", c->postconf[i]);
        buf_puts(out, "\n");
        buf_printf(out, "reject_text = %s\n", c->reject_text);
        buf_printf(out, "start_at = %s\n", c->start_at == START_AT_END ? "end" : "beginning");
        buf_printf(out, "log_target = %s\n", log_target_to_string(c->log_target));
        buf_printf(out, "log_level = %s\n", log_level_to_string(c->log_level));
}

void config_policy_settings(const Config *cfg, uint64_t window_ms, PolicySettings *s)
{
        *s = (PolicySettings){
                .ban_time_ms = cfg->ban_time_ms,
                .ban_time_factor = cfg->ban_time_factor,
                .ban_time_max_ms = cfg->ban_time_max_ms,
                .ban_memory_ms = cfg->ban_memory_ms,
                .max_tracked = cfg->max_tracked,
                .window_ms = window_ms,
                .ipv6_net_prefix = cfg->ipv6_net_prefix,
                .ipv6_net_hosts = cfg->ipv6_net_hosts,
                .ipv6_net_factor = cfg->ipv6_net_factor,
                .network_map = cfg->network_map != NULL,
        };
}
