/*
 * fuzz_csv: the CSV reader of anpr-watchlist import (tools/csv.c), on any text. The text sits
 * in a buffer of exactly len + 1 bytes, as csv.h asks, so any write or read past it shows.
 * Properties: records come in order of their lines, every field lies in the buffer and is a C
 * string there, a record has a field, and the reader ends (after -1, with 0).
 *
 * The first byte picks how many field pointers the caller has room for (0..7), the rest is the
 * text.
 */
#include "csv.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *fields[8];
    int nf, line, last = 0, max;
    const char *why;

    if (size < 1)
        return 0;
    max = data[0] % 8;
    size_t len = size - 1;
    char *buf = malloc(len + 1);
    FUZZ_REQUIRE(buf != NULL);
    memcpy(buf, data + 1, len);
    buf[len] = 'x'; /* csv.h: that byte is the reader's */
    csv_t *c = csv_new(buf, len);
    FUZZ_REQUIRE(c != NULL);

    for (size_t records = 0;; records++) {
        FUZZ_REQUIRE(records <= len + 1);
        int rc = csv_next(c, fields, max, &nf, &line, &why);
        if (rc == 0)
            break;
        FUZZ_REQUIRE(rc == 1 || rc == -1);
        FUZZ_REQUIRE((rc == -1 || nf >= 1) && line > last);
        last = line;
        for (int i = 0; i < nf && i < max; i++) {
            FUZZ_REQUIRE(fields[i] >= buf && fields[i] <= buf + len);
            FUZZ_REQUIRE(memchr(fields[i], '\0', (size_t)(buf + len + 1 - fields[i])) != NULL);
        }
        if (rc == -1) {
            FUZZ_REQUIRE(why != NULL);
            FUZZ_REQUIRE(csv_next(c, fields, max, &nf, &line, &why) == 0);
            break;
        }
    }
    csv_destroy(&c);
    free(buf);
    return 0;
}
