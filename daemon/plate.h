/*
 * plate: plate normalisation, the key under which reads and watchlist entries meet.
 *
 * A plate is normalised to upper-case ASCII letters and digits only: lower case is folded,
 * separators (space, '-', '.', '_', '/', '·') are dropped. Anything else makes the plate
 * invalid, so a read of garbage never matches by accident.
 */
#ifndef ANPR_PLATE_H
#define ANPR_PLATE_H

#include <stddef.h>

#define PLATE_MAX 16 /* characters in a normalised plate */

enum plate_status {
    PLATE_OK = 0,
    PLATE_EMPTY = 1,   /* nothing left after removing separators */
    PLATE_LONG = 2,    /* more than PLATE_MAX characters left */
    PLATE_INVALID = 3, /* a character that is neither a letter, a digit nor a separator */
};

/* Normalise `raw` (UTF-8, NUL-terminated) into out; returns PLATE_OK or why not. */
enum plate_status plate_normalise(const char *raw, char out[PLATE_MAX + 1]);

/* 64-bit hash of a normalised plate (FNV-1a folded with a mixer); stable across runs. */
unsigned long long plate_hash(const char *plate, size_t len);

#endif
