/*
 * plate: plate normalisation, the key under which reads, watchlist entries and history
 * searches meet; every program normalises through it (the rules, for people: docs/PLATES.md).
 *
 * A plate is normalised to upper-case ASCII letters and digits only:
 * - lower case is folded; the full-width forms of letters and digits (U+FF21.., from Asian
 *   input methods and some OCR engines) are the ASCII ones, as Unicode's NFKC has them;
 * - separators are dropped: space, tab, '-', '.', '_', '/', and every Unicode dash and space
 *   (no-break space, en and em dash, non-breaking hyphen, ideographic space ...), the minus
 *   sign, soft hyphen, zero-width space and joiners, middle dots;
 * - Latin letters with diacritics become their base letter (Ö -> O, Ł -> L, Ș -> S; not Æ Œ
 *   ß Þ), whether typed precomposed or as the letter followed by combining marks (U + U+0308
 *   is Ü is U), as NFC composes them;
 * - Cyrillic and Greek letters that look Latin become the Latin letter they look like:
 *   Cyrillic А В Е К М Н О Р С Т Х У Ѕ І Ј, Greek Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ, and their lower
 *   case where that looks Latin too (all the Cyrillic ones; Greek α ι κ ο ρ τ χ only), also
 *   with diacritics (Ё -> E).
 * The tables are in plate.c. Anything else (a combining mark after anything but a letter,
 * superscripts, ligatures, other scripts) and UTF-8 that is not well-formed makes the plate
 * invalid, so a read of garbage never matches by accident.
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
 * The same, knowing the country the camera read ("" or NULL = unknown; ISO alpha-2, any case,
 * UK read as GB). Also removes that country's euroband code when the camera read it as part
 * of the plate (BE "B", NL "NL", DE "D", FR "F", LU "L", GB "GB" or "UK" before the plate),
 * but only when the plate does not fit the country's formats with it and does without it:
 * BE "B1ABC123" -> "1ABC123", while "B12345" stays. Where that is not clear (DE "DKAB123" is
 * district DK, or K-AB 123 with its code) nothing is removed: plate_euroband() gives the
 * other reading, and both are matched. An unknown country removes nothing.
 */
enum plate_status plate_normalise_cc(const char *raw, const char *country, char out[PLATE_MAX + 1]);

/*
 * The other reading of a normalised plate (the result of plate_normalise_cc with the same
 * country) that may carry a euroband code: into alt, true, when the plate starts with the
 * code of the country (of any country listed above when the country is unknown) and what
 * follows the code fits that country's formats, also with one letter read for a digit or the
 * reverse (an OCR error elsewhere must not hide the code; not for a plate that fits its known
 * country as read): DE "DDAB123" -> "DAB123" (D-AB 123,
 * Düsseldorf), DE "DHSAB123" -> "HSAB123", BE "B1A8C123" -> "1A8C123", unknown "NL97ZTL4" ->
 * "97ZTL4". Else false (also for a country whose formats are not known). Reads and watchlist
 * entries are matched under both readings, so neither plate is missed on a guess.
 */
bool plate_euroband(const char *country, const char *plate, char alt[PLATE_MAX + 1]);

/* The country code that stands for `country`: "GB" for "UK" (any case), else country itself. */
const char *plate_country(const char *country);

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
 * (BE, NL, DE, FR, LU, GB or UK, any case; documented in plate.c and docs/PLATES.md). Unknown and
 * other countries (also "" and NULL): always true. A pattern never fits a known country; a NULL
 * plate never fits.
 */
bool plate_fits(const char *country, const char *plate);

/* 64-bit hash of a normalised plate (FNV-1a folded with a mixer); stable across runs. */
unsigned long long plate_hash(const char *plate, size_t len);

#endif
