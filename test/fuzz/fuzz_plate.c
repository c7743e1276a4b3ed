/*
 * fuzz_plate: plate and pattern normalisation (plate.c), the first thing done to every plate
 * text a camera sends, and the compile of a watchlist pattern. Properties: a normalised plate
 * is 1..PLATE_MAX of [A-Z0-9] and normalises to itself; removing a euroband code only ever
 * takes a prefix, once (normalising again removes nothing more), and the other reading
 * (plate_euroband) is a plate that is a shorter suffix; a pattern is [A-Z0-9?*] with a letter or digit, no "**", and agrees with
 * the plate rules when it has no wildcard; the country checks take any of them.
 *
 * Input: the first byte picks the country, the rest is the plate text (cut at a NUL, as the
 * decoders hand it on).
 */
#include "fuzz.h"
#include "plate.h"

#include <stdbool.h>
#include <string.h>

static const char *const s_countries[] = {"", "BE", "NL", "DE", "FR", "LU", "GB", "UK", "PL", "be"};
#define NCOUNTRIES (sizeof s_countries / sizeof s_countries[0])

/* 1..PLATE_MAX characters, each of [A-Z0-9] (or also '?' and '*' when wild). */
static bool s_shape(const char *p, bool wild)
{
    size_t n = strlen(p);

    if (n < 1 || n > PLATE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool alnum = (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9');
        if (!alnum && !(wild && (p[i] == '?' || p[i] == '*')))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char raw[256], norm[PLATE_MAX + 1], again[PLATE_MAX + 1], cc[PLATE_MAX + 1];
    char pat[PLATE_MAX + 1];

    if (size < 1)
        return 0;
    const char *country = s_countries[data[0] % NCOUNTRIES];
    size_t n = size - 1 < sizeof raw - 1 ? size - 1 : sizeof raw - 1;
    memcpy(raw, data + 1, n);
    raw[n] = '\0';

    enum plate_status st = plate_normalise(raw, norm);
    FUZZ_REQUIRE(st <= PLATE_INVALID);
    if (st == PLATE_OK) {
        FUZZ_REQUIRE(s_shape(norm, false));
        FUZZ_REQUIRE(plate_normalise(norm, again) == PLATE_OK && strcmp(norm, again) == 0);
        FUZZ_REQUIRE(!plate_is_pattern(norm));
        (void)plate_fits(country, norm);
        (void)plate_hash(norm, strlen(norm));
    }

    enum plate_status stc = plate_normalise_cc(raw, country, cc);
    FUZZ_REQUIRE((stc == PLATE_OK) == (st == PLATE_OK));
    if (stc == PLATE_OK) {
        size_t a = strlen(norm), b = strlen(cc);
        FUZZ_REQUIRE(s_shape(cc, false) && b <= a && strcmp(norm + (a - b), cc) == 0);
        /* The other reading is a plate, a proper suffix, at most two characters shorter. */
        char alt[PLATE_MAX + 1];
        if (plate_euroband(country, cc, alt)) {
            size_t c = strlen(alt);
            FUZZ_REQUIRE(s_shape(alt, false) && c < b && c + 2 >= b &&
                         strcmp(cc + (b - c), alt) == 0);
        }
        /* Normalising a normalised plate again changes nothing. */
        char again_cc[PLATE_MAX + 1];
        FUZZ_REQUIRE(plate_normalise_cc(cc, country, again_cc) == PLATE_OK &&
                     strcmp(again_cc, cc) == 0);
    }

    enum plate_status sp = plate_normalise_pattern(raw, pat);
    FUZZ_REQUIRE(sp <= PLATE_INVALID);
    if (sp == PLATE_OK) {
        FUZZ_REQUIRE(s_shape(pat, true) && strstr(pat, "**") == NULL);
        FUZZ_REQUIRE(strspn(pat, "?*") < strlen(pat) || strpbrk(pat, "?*") == NULL);
        FUZZ_REQUIRE(plate_normalise_pattern(pat, again) == PLATE_OK && strcmp(pat, again) == 0);
        if (!plate_is_pattern(pat))
            FUZZ_REQUIRE(st == PLATE_OK && strcmp(pat, norm) == 0);
        else
            FUZZ_REQUIRE(!plate_fits("BE", pat));
    } else if (st == PLATE_OK) {
        /* A plain plate is also a pattern without wildcards. */
        FUZZ_REQUIRE(strpbrk(raw, "?*") != NULL);
    }
    return 0;
}
