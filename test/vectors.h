/*
 * vectors: what the wire-format tests share (test_proto for PROTOCOL.md, test_bb for
 * BACKBONE.md): test vectors written as hex, compared byte for byte with what an encoder gives,
 * and the document they are printed in, read whole. Header-only, as check.h, whose CHECK it
 * uses.
 */
#ifndef ANPR_VECTORS_H
#define ANPR_VECTORS_H

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Parse hex digits, ignoring whitespace; returns the byte count or 0 on a bad string. */
static size_t vec_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;

    for (const char *p = hex; *p; p++) {
        int v;

        if (isspace((unsigned char)*p))
            continue;
        if (!isxdigit((unsigned char)*p) || (hi < 0 && n == cap))
            return 0;
        v = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? n : 0;
}

/* Same layout as the vectors: upper case, 16 bytes per line. */
static void vec_print_hex(const char *name, const uint8_t *b, size_t n)
{
    fprintf(stderr, "%s (%zu bytes):\n", name, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%02X%s", b[i], (i % 16 == 15 || i + 1 == n) ? "\n" : " ");
}

/* Encoded bytes equal the documented hex (a frame of at most 4096 bytes). */
static void vec_check_hex(const char *name, const uint8_t *got, size_t n, const char *hex)
{
    uint8_t want[4096];
    size_t wn = vec_unhex(hex, want, sizeof want);
    bool same = n > 0 && wn == n && memcmp(got, want, n) == 0;

    CHECK(same);
    if (!same)
        vec_print_hex(name, got, n);
}

/* Collapse runs of whitespace into one space and trim, in place. */
static void vec_squeeze(char *s)
{
    char *out = s;

    for (const char *p = s; *p; p++) {
        if (isspace((unsigned char)*p)) {
            if (out > s && out[-1] != ' ')
                *out++ = ' ';
        } else {
            *out++ = *p;
        }
    }
    if (out > s && out[-1] == ' ')
        out--;
    *out = '\0';
}

/* The document at path as a C string (at most 1 MiB; the caller frees it), or NULL. */
static char *vec_read_doc(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *doc;
    size_t n;

    if (!f)
        return NULL;
    doc = malloc(1 << 20);
    if (!doc)
        abort();
    n = fread(doc, 1, (1 << 20) - 1, f);
    doc[n] = '\0';
    fclose(f);
    return doc;
}

#endif
