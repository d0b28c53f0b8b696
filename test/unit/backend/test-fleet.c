/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>

#include "check.h"
#include "backend/fleet.h"
#include "util/util.h"

/* A row as autoblacklist_payload() renders it, back to the fields. */
static const struct {
        const char *in;
        int want; /* 0 or -EBADMSG */
        const char *want_text; /* gen origin net active rule forever remaining count age */
} payloads[] = {
        {"12\tmx-a\t203.0.113.7/32\tt\tsasl-auth-failed\t3599000\t1\t1000", 0,
         "12 mx-a 203.0.113.7/32 1 sasl-auth-failed 0 3599000 1 1000"},
        {"3\tmx-b.example\t2001:db8::/64\tt\tipv6-network\t\t2\t5", 0,
         "3 mx-b.example 2001:db8::/64 1 ipv6-network 1 0 2 5"},
        {"4\tmx-b\t198.51.100.1/32\tf\tmanual\t-5\t1\t0", 0, "4 mx-b 198.51.100.1/32 0 manual 0 -5 1 0"},
        /* what a hostile or broken row may hold */
        {"4\tmx b\t198.51.100.1/32\tf\tmanual\t5\t1\t0", -EBADMSG, NULL},             /* space in a name */
        {"4\tmx-b\t198.51.100.1/32\tf\tman\nual\t5\t1\t0", -EBADMSG, NULL},           /* newline in a rule */
        {"4\tmx-b\t198.51.100.1/24\tt\tmanual\t5\t1\t0", -EBADMSG, NULL},             /* host bits */
        {"4\tmx-b\t198.51.100.1\tt\tx\t5\t1\t0\textra", -EBADMSG, NULL},              /* 9 fields */
        {"4\tmx-b\t198.51.100.1\tt\tx\t5\t1", -EBADMSG, NULL},                        /* 7 fields */
        {"4\tmx-b\tnot-an-address\tt\tx\t5\t1\t0", -EBADMSG, NULL},
        {"4\tmx-b\t198.51.100.1/32\tyes\tx\t5\t1\t0", -EBADMSG, NULL},
        {"-4\tmx-b\t198.51.100.1/32\tt\tx\t5\t1\t0", -EBADMSG, NULL},
        {"4\tmx-b\t198.51.100.1/32\tt\tx\t5\t4294967296\t0", -EBADMSG, NULL},         /* count > 2^32-1 */
        {"4\tmx-b\t198.51.100.1/32\tt\tx\t5x\t1\t0", -EBADMSG, NULL},
        {"4\t\t198.51.100.1/32\tt\tx\t5\t1\t0", -EBADMSG, NULL},                      /* no origin */
        {"", -EBADMSG, NULL},
};

/* Strings without a password stay as they are; with one, they are written
   again without it (want: a part of the result). */
static const struct {
        const char *in, *want;
} redactions[] = {
        {"host=/run/postgresql dbname=mail", "host=/run/postgresql dbname=mail"},
        {"postgresql:///mail?host=/run/postgresql", "postgresql:///mail?host=/run/postgresql"},
        {"passfile=/etc/pgpass host=db", "passfile=/etc/pgpass host=db"},
        {"host=db password=secret user=x", "password='***'"},
        {"host=db password = 'se cr\\'et' user=x", "user='x'"},
        {"application_name='password=secret' password=secret", "application_name='password=secret'"},
        {"postgresql://abl:secret@db.example/mail?sslmode=require", "sslmode='require'"},
        {"postgres://abl@db/mail?password=secret&sslmode=verify-full", "dbname='mail'"},
        {"postgresql://a:s%65cret@h/d", "user='a'"},
        /* not parseable: the text is masked */
        {"host=db password=secret bogus=1", "host=db password=*** bogus=1"},
        {"postgresql://abl:secret@db/mail?bogus=1", "postgresql://abl:***@db/mail?bogus=1"},
};

int main(void)
{
        for (size_t i = 0; i < ELEMENTSOF(payloads); i++) {
                FleetBan b;
                int r = fleet_parse_payload(payloads[i].in, &b);
                char got[512], net[CIDR_STRLEN];

                CHECK_INT(r, payloads[i].want, payloads[i].in);
                if (r < 0 || !payloads[i].want_text)
                        continue;
                snprintf(got, sizeof(got), "%llu %s %s %d %s %d %lld %u %lld", (unsigned long long)b.gen, b.origin,
                         cidr_format(&b.net, net), b.active, b.rule, b.forever, (long long)b.remaining_ms, b.count,
                         (long long)b.age_ms);
                CHECK_STR(got, payloads[i].want_text, payloads[i].in);
        }
        for (size_t i = 0; i < ELEMENTSOF(redactions); i++) {
                _cleanup_free_ char *got = fleet_redact(redactions[i].in);
                char *why = NULL;
                bool parses = fleet_check_conninfo(redactions[i].in, &why) == 0;

                free(why);
                CHECK(strstr(got, redactions[i].want) != NULL, "%s: got %s want a part %s", redactions[i].in, got,
                      redactions[i].want);
                CHECK(!strstr(got, "secret") || strstr(redactions[i].in, "'password=secret'"),
                      "%s: got %s, with the password", redactions[i].in, got);
                if (parses) {
                        /* a valid string stays valid: a config dump loads again */
                        CHECK_INT(fleet_check_conninfo(got, &why), 0, got);
                        free(why);
                        why = NULL;
                }
        }
        {
                char *why = NULL;
                CHECK_INT(fleet_check_conninfo("host=/tmp dbname=x", &why), 0, "a good string");
                CHECK_INT(fleet_check_conninfo("host=/tmp password=hunter2 bogus=1", &why), -EINVAL, "bad key");
                CHECK(why && !strstr(why, "hunter2"), "the password is not in the message: %s", check_show(why));
                free(why);
                why = NULL;
                CHECK_INT(fleet_check_conninfo("bogus=1", &why), -EINVAL, "bad key");
                CHECK(why && strstr(why, "bogus"), "libpq's reason, without a password: %s", check_show(why));
                free(why);
        }
        CHECK(fleet_name_valid("mx-1.example.org"), "a host name");
        CHECK(!fleet_name_valid(""), "empty");
        CHECK(!fleet_name_valid("mx 1"), "space");
        CHECK(!fleet_name_valid("mx\t1"), "tab");
        {
                /* the schema that the daemon creates is the documented file */
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int r = read_file(SOURCE_ROOT "/conf/fleet-schema.sql", 1 << 20, &text, &len);
                CHECK_INT(r, 0, "read conf/fleet-schema.sql");
                if (r == 0)
                        CHECK_STR(fleet_schema_sql(), text, "conf/fleet-schema.sql");
        }
        return check_done();
}
