/*
 * fuzz: what the fuzz targets share. Each fuzz_NAME.c defines LLVMFuzzerTestOneInput(), the
 * entry point of libFuzzer, which replay.c also calls for every file of a corpus. A target
 * checks properties of the module (a frame that decodes encodes back to the same bytes, a
 * normalised plate is [A-Z0-9]+, ...) with FUZZ_REQUIRE, which aborts: to libFuzzer and to the
 * replay test, a broken property is a crash like any other.
 */
#ifndef ANPR_FUZZ_H
#define ANPR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Whether a fixed char buffer holds a NUL, i.e. a decoder left it a C string. */
#define FUZZ_CSTR(buf) (memchr((buf), '\0', sizeof(buf)) != NULL)

#endif
