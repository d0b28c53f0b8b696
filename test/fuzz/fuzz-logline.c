/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the syslog header parser (logline_parse) with arbitrary bytes.
 *
 * Beyond memory safety: the tag and the message lie inside the line, the
 * message runs to its end, the tag holds no byte that ends a tag and is
 * ended by one (checked byte by byte against the word-at-a-time scan),
 * and the parse does not depend on bytes past len.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "source/logline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *line = (const char *)data, *end = line + size;
        LogLine ll, again;
        char *padded;
        int r, r2;

        r = logline_parse(line, size, &ll);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "r=%d", r);

        /* the same bytes followed by more: only len counts */
        padded = malloc(size + 8);
        memcpy(padded, data, size);
        memcpy(padded + size, ":[ 12]: ", 8);
        r2 = logline_parse(padded, size, &again);
        FUZZ_CHECK(r2 == r, "r=%d with bytes past len, %d without", r2, r);
        if (r == 0)
                FUZZ_CHECK(again.tag - padded == ll.tag - line && again.tag_len == ll.tag_len &&
                                   again.msg - padded == ll.msg - line && again.msg_len == ll.msg_len,
                           "another parse with bytes past len");
        free(padded);
        if (r < 0)
                return 0;

        FUZZ_CHECK(ll.tag > line && ll.tag_len > 0 && ll.tag + ll.tag_len < end, "tag at %td len %zu of %zu",
                   ll.tag - line, ll.tag_len, size);
        if (line[0] == '<' && ll.tag[ll.tag_len] == ' ') {
                /* RFC 5424: the APP-NAME field, a space after it; the message ends the line */
                for (size_t i = 0; i < ll.tag_len; i++)
                        FUZZ_CHECK(ll.tag[i] != ' ', "RFC 5424 tag byte %zu is a space", i);
                FUZZ_CHECK(ll.tag[-1] == ' ', "the tag does not follow the host's space");
                FUZZ_CHECK(ll.msg > ll.tag + ll.tag_len && ll.msg + ll.msg_len == end,
                           "message at %td len %zu of %zu", ll.msg - line, ll.msg_len, size);
                return 0;
        }
        for (size_t i = 0; i < ll.tag_len; i++)
                FUZZ_CHECK(ll.tag[i] != '[' && ll.tag[i] != ':' && ll.tag[i] != ' ', "tag byte %zu is '%c'", i,
                           ll.tag[i]);
        FUZZ_CHECK(ll.tag[ll.tag_len] == '[' || ll.tag[ll.tag_len] == ':', "tag ended by 0x%02x",
                   (unsigned char)ll.tag[ll.tag_len]);
        FUZZ_CHECK(ll.tag[-1] == ' ', "the tag does not follow the host's space");
        FUZZ_CHECK(ll.msg > ll.tag + ll.tag_len && ll.msg + ll.msg_len == end, "message at %td len %zu of %zu",
                   ll.msg - line, ll.msg_len, size);
        FUZZ_CHECK(ll.msg[-1] == ':' || (ll.msg[-1] == ' ' && ll.msg[-2] == ':'), "message after 0x%02x",
                   (unsigned char)ll.msg[-1]);
        return 0;
}
