/*
 * plate: plate normalisation, the key under which reads and watchlist entries meet.
 *
 * A plate is normalised to upper-case ASCII letters and digits only: lower case is folded,
 * separators (space, tab, '-', '.', '_', '/', '·', en dash) are dropped, Latin letters with
 * diacritics (U+00C0..U+017F) become their base letter (Ö -> O, Ł -> L; not Æ Œ ß Þ), and
 * Cyrillic and Greek letters that look Latin become the Latin letter they look like: Cyrillic
 * А В Е К М Н О Р С Т Х У Ѕ І Ј, Greek Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ, and their lower case
 * where that looks Latin too (all the Cyrillic ones; Greek α ι κ ο ρ τ χ only). The tables
 * are in plate.c. Anything else, and UTF-8 that is not well-formed, makes the plate invalid,
 * so a read of garbage never matches by accident.
 */
#ifndef ANPR_PLATE_H
#define ANPR_PLATE_H

#include <stdbool.h>
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

/*
 * The same, knowing the country the camera read ("" or NULL = unknown; ISO alpha-2). Also
 * removes that country's euroband code when the camera read it as part of the plate (BE "B",
 * NL "NL", DE "D", FR "F", LU "L", GB "GB" or "UK" before the plate), but only when the plate
 * does not fit the country's formats with it and does without it: BE "B1ABC123" -> "1ABC123",
 * while "B12345" stays. Where a code is also a valid start (DE "DHSAB123" is a plate of
 * district DHS) nothing is removed.
 */
enum plate_status plate_normalise_cc(const char *raw, const char *country, char out[PLATE_MAX + 1]);

/*
 * A watchlist pattern for a partly known plate: normalised like a plate, keeping '?' (exactly
 * one character) and '*' (any run, also empty); runs of '*' fold into one, also across
 * separators ("A*-*B" -> "A*B"). It must hold at least one letter or digit (wildcards alone:
 * PLATE_INVALID) and at most PLATE_MAX characters in all, counted after folding.
 */
enum plate_status plate_normalise_pattern(const char *raw, char out[PLATE_MAX + 1]);

/* Whether a normalised plate has '?' or '*'. */
bool plate_is_pattern(const char *plate);

/*
 * Whether a normalised plate fits one of the registration formats on the road in `country`
 * (BE, NL, DE, FR, LU, GB, any case; documented in plate.c). Unknown and other countries
 * (also "" and NULL): always true. A pattern never fits a known country; a NULL plate never
 * fits.
 */
bool plate_fits(const char *country, const char *plate);

/* 64-bit hash of a normalised plate (FNV-1a folded with a mixer); stable across runs. */
unsigned long long plate_hash(const char *plate, size_t len);

#endif
