/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * autoblacklistctl: talk to the running autoblacklistd over its control
 * socket.  It sends one command line and prints the answer; the exit
 * status is 0 if the daemon said OK, 1 if it answered with an error,
 * EX_USAGE for a bad command line, EX_CONFIG if the configuration that
 * names the socket cannot be read, and EX_UNAVAILABLE if the daemon could
 * not be reached or gave no answer (<sysexits.h>).
 *
 * The daemon may refuse a connection (too many clients, a user it does
 * not serve) by answering at once and closing, before it reads a byte:
 * our write then meets a closed socket.  So the write never raises
 * SIGPIPE (MSG_NOSIGNAL), and whatever the write says, the answer that is
 * there is read and reported; a reset after the answer ends it like EOF.
 */
#include <errno.h>
#include <getopt.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>

#include "service/conf.h"
#include "service/control.h"
#include "util/util.h"

#ifndef VERSION
#define VERSION "0"
#endif

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: autoblacklistctl [-s SOCKET | -c CONFIG] COMMAND\n"
                "\n"
                "Commands:\n"
                "  status                         what the daemon has done since it started\n"
                "  list [--json]                  the bans, with rule, hits, ban count and expiry\n"
                "  ban ADDRESS[/LENGTH] [TIME]    ban now (default: the config's ban_time; 'forever')\n"
                "  unban ADDRESS[/LENGTH]         lift a ban and forget the address's hits\n"
                "  reload                         reload the configuration and rules, as SIGHUP\n"
                "  flush --yes [--fleet]          lift every ban and take the daemon's block out of the\n"
                "                                 map (before an uninstall); --fleet: lift the bans on\n"
                "                                 every host of the fleet too\n"
                "\n"
                "  -s, --socket PATH   the control socket (default: the config's control_socket)\n"
                "  -c, --config FILE   the daemon's configuration (default %s)\n"
                "      --version       print the version\n"
                "  -h, --help          print this help\n",
                DEFAULT_CONFIG_FILE);
}

/* flush needs --yes, and may have --fleet. */
static bool flush_args(int n, char **v)
{
        bool yes = false, fleet = false;

        for (int i = 0; i < n; i++) {
                if (streq(v[i], "--yes") && !yes)
                        yes = true;
                else if (streq(v[i], "--fleet") && !fleet)
                        fleet = true;
                else
                        return false;
        }
        return yes;
}

/* The socket path: -s, else control_socket of -c or the default config. */
static char *socket_path(const char *sock, const char *config)
{
        Config *c = NULL;
        Diags errors = {0};
        char *path;

        if (sock)
                return xstrdup(sock);
        if (config_load_or_default(config, &c, &errors) < 0) {
                diags_print(stderr, &errors, "");
                diags_free(&errors);
                return NULL;
        }
        path = xstrdup(c->control_socket);
        config_free(c);
        return path;
}

/* write_all() for a socket whose peer may have closed: no SIGPIPE. */
static int send_all(int fd, const char *p, size_t len)
{
        while (len) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                {"socket", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
                {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *sock = NULL, *config = NULL;
        _cleanup_free_ char *path = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct timeval tv = {.tv_sec = 330};
        _cleanup_buf_ Buf cmd = {0}, reply = {0};
        char *nl;
        int fd, c, r;

        /* "+": stop at the first word, so that "list --json" keeps its option */
        while ((c = getopt_long(argc, argv, "+s:c:h", longopts, NULL)) != -1) {
                switch (c) {
                case 's':
                        sock = optarg;
                        break;
                case 'c':
                        config = optarg;
                        break;
                case 'V':
                        printf("autoblacklistctl %s\n", VERSION);
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return EX_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EX_USAGE;
        }
        if (streq(argv[optind], "flush") && !flush_args(argc - optind - 1, argv + optind + 1)) {
                fprintf(stderr, "autoblacklistctl: flush lifts every ban and removes the daemon's block from "
                                "the map; run 'autoblacklistctl flush --yes' to do it (add --fleet to lift "
                                "them on every host of the fleet)\n");
                return EX_USAGE;
        }
        for (int i = optind; i < argc; i++) {
                if (strpbrk(argv[i], " \t\n")) {
                        fprintf(stderr, "autoblacklistctl: '%s': arguments hold no spaces\n", argv[i]);
                        return EX_USAGE;
                }
                buf_printf(&cmd, "%s%s", i > optind ? " " : "", argv[i]);
        }
        buf_puts(&cmd, "\n");
        if (cmd.len > CONTROL_LINE_MAX) {
                fprintf(stderr, "autoblacklistctl: the command is too long\n");
                return EX_USAGE;
        }

        path = socket_path(sock, config);
        if (!path)
                return EX_CONFIG;
        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "autoblacklistctl: %s: path too long\n", path);
                return EX_USAGE;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "autoblacklistctl: %s: %s (is autoblacklistd running?)\n", path, strerror(errno));
                return EX_UNAVAILABLE;
        }
        /* flush waits for a map write: allow for a large map */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        r = send_all(fd, cmd.data, cmd.len);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, "autoblacklistctl: %s: %s\n", path, strerror(-r));
                return EX_UNAVAILABLE;
        }
        for (;;) {
                char chunk[65536];
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == ECONNRESET && reply.len)
                        break; /* the daemon closed after its answer, without reading ours */
                if (n < 0) {
                        fprintf(stderr, "autoblacklistctl: %s: %s\n", path, strerror(errno));
                        return EX_UNAVAILABLE;
                }
                if (n == 0)
                        break;
                buf_append(&reply, chunk, (size_t)n);
        }
        close(fd);
        if (!reply.data || !(nl = memchr(reply.data, '\n', reply.len))) {
                fprintf(stderr, "autoblacklistctl: %s: no answer\n", path);
                return EX_UNAVAILABLE;
        }
        if (startswith(reply.data, "OK\n")) {
                fwrite(nl + 1, 1, reply.len - (size_t)(nl + 1 - reply.data), stdout);
                return 0;
        }
        {
                const char *msg = startswith(reply.data, "ERROR: ") ? reply.data + 7 : reply.data;
                fprintf(stderr, "autoblacklistctl: %.*s\n", (int)(nl - msg), msg);
        }
        return EXIT_FAILURE; /* the daemon answered: no */
}
