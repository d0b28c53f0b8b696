/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/str: lists, words, numbers, booleans, trimming. */
#include <errno.h>

#include "check.h"
#include "util/alloc.h"
#include "util/str.h"

int main(void)
{
        {
                char **v = split_list(" a, b ,c\td,,  e ");
                const char *want[] = {"a", "b", "c", "d", "e"};
                CHECK_INT(strv_length(v), 5, "split_list count");
                for (size_t i = 0; i < 5 && v[i]; i++)
                        CHECK_STR(v[i], want[i], "split_list item");
                strv_free(v);
                v = split_list("   ");
                CHECK_INT(strv_length(v), 0, "split_list of blanks");
                strv_free(v);
        }
        {
                uint64_t v;
                CHECK_INT(parse_uint("42", 100, &v), 0, "parse_uint 42");
                CHECK_INT(v, 42, "parse_uint value");
                CHECK_INT(parse_uint("101", 100, &v), -ERANGE, "parse_uint over max");
                CHECK_INT(parse_uint("4x", 100, &v), -EINVAL, "parse_uint junk");
                bool b;
                CHECK(parse_bool("yes", &b) == 0 && b, "yes");
                CHECK(parse_bool("Off", &b) == 0 && !b, "Off");
                CHECK_INT(parse_bool("maybe", &b), -EINVAL, "maybe");
        }
        {
                char line[] = "ban  192.0.2.1\t1h", over[] = "a b c d";
                char *w[3];
                CHECK_INT(split_words(line, " \t", w, 3), 3, "split_words");
                CHECK(streq(w[0], "ban") && streq(w[1], "192.0.2.1") && streq(w[2], "1h"), "the words");
                CHECK_INT(split_words(over, " ", w, 3), 4, "more words than room: max + 1");
        }
        {
                static const struct {
                        const char *in, *want;
                } cases[] = {{"  a b \t\n", "a b"}, {"", ""}, {" \t ", ""}, {"x", "x"}};
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        char buf[32];
                        snprintf(buf, sizeof(buf), "%s", cases[i].in);
                        CHECK_STR(strip(buf), cases[i].want, cases[i].in);
                }
                CHECK(endswith("map.db", ".db") && !endswith("db", ".db") && endswith("x", ""), "endswith");
                CHECK(startswith("postfix/smtpd", "postfix/") && !startswith("post", "postfix"),
                      "startswith");
        }
        {
                char *src[] = {"a", "bc", NULL};
                char **c = strv_copy(src);
                CHECK(strv_length(c) == 2 && c[0] != src[0] && streq(c[1], "bc"), "strv_copy is deep");
                strv_free(c);
                CHECK_INT(strv_length(NULL), 0, "strv_length(NULL)");
        }
        {
                /* alnum_span: the leading [0-9A-Za-z] run, each in a buffer of its size */
                static const struct {
                        const char *in;
                        size_t want;
                } cases[] = {
                        {"", 0},
                        {"4B2C1A0F3E: client=x", 10},
                        {"NOQUEUE: reject", 7},
                        {"warning", 7},
                        {"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 62},
                        {"abcdefghijklmnop", 16},
                        {"abcdefghijklmnopq:", 17},
                        {":x", 0},
                        {"@[`{/:", 0}, /* the bytes next to the ranges */
                        {"Z9z\xe1", 3},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        size_t n = strlen(cases[i].in);
                        char *b = xmemdup(cases[i].in, n ? n : 1);
                        CHECK(alnum_span(b, n) == cases[i].want, "alnum_span(\"%s\"): got %zu want %zu",
                              cases[i].in, alnum_span(b, n), cases[i].want);
                        free(b);
                }
                /* every byte value, at every place of a 40-byte run */
                for (unsigned c = 0; c < 256; c++) {
                        bool word =
                                (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
                        for (size_t at = 0; at < 40; at++) {
                                char b[40];
                                memset(b, 'q', sizeof(b));
                                b[at] = (char)c;
                                if (alnum_span(b, sizeof(b)) != (word ? sizeof(b) : at))
                                        CHECK(false, "alnum_span: byte %u at %zu: got %zu", c, at,
                                              alnum_span(b, sizeof(b)));
                        }
                }
        }
        return check_done();
}
