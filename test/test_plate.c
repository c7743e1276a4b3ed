/*
 * test_plate: plate normalisation (scripts, diacritics, patterns, euroband codes), the
 * per-country formats, hashing, and that every generated plate normalises and fits its country.
 */
#include "check.h"
#include "plate.h"
#include "plategen.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Normalise raw, check the status and (when OK) the result. */
static void s_norm(const char *raw, enum plate_status want, const char *want_plate, int line)
{
    char out[PLATE_MAX + 1];
    enum plate_status st = plate_normalise(raw, out);
    if (st != want || (want == PLATE_OK && strcmp(out, want_plate) != 0)) {
        check_failed++;
        fprintf(stderr, "%s:%d: plate_normalise(\"%s\") = %d \"%s\", want %d \"%s\"\n", __FILE__,
                line, raw, (int)st, out, (int)want, want_plate ? want_plate : "");
        return;
    }
    check_passed++;
}

#define NORM_OK(raw, want) s_norm(raw, PLATE_OK, want, __LINE__)
#define NORM_ERR(raw, st)  s_norm(raw, st, NULL, __LINE__)

/* UTF-8 for one code point (no checks: the callers pass scalar values). */
static void s_enc(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *o = '\0';
}

/*
 * Every non-ASCII character a plate may hold, written out here from the specification rather
 * than taken from plate.c, so a slip in either table shows. '-' marks a separator.
 */
static const struct {
    uint32_t lo, hi;
    char to;
} s_allowed[] = {
    /* separators: Unicode dashes (Pd) and spaces (Zs), and the invisible or look-alike ones
     * that pasted text carries */
    {0x00A0, 0x00A0, '-'},   /* no-break space */
    {0x00AD, 0x00AD, '-'},   /* soft hyphen */
    {0x00B7, 0x00B7, '-'},   /* middle dot */
    {0x058A, 0x058A, '-'},   /* Armenian hyphen */
    {0x05BE, 0x05BE, '-'},   /* Hebrew maqaf */
    {0x1400, 0x1400, '-'},   /* Canadian syllabics hyphen */
    {0x1680, 0x1680, '-'},   /* Ogham space mark */
    {0x1806, 0x1806, '-'},   /* Mongolian todo soft hyphen */
    {0x2000, 0x200D, '-'},   /* en quad .. hair space, zero-width space, ZWNJ, ZWJ */
    {0x2010, 0x2015, '-'},   /* hyphen, non-breaking hyphen, figure dash, en/em dash, bar */
    {0x2027, 0x2027, '-'},   /* hyphenation point */
    {0x202F, 0x202F, '-'},   /* narrow no-break space */
    {0x205F, 0x2060, '-'},   /* medium mathematical space, word joiner */
    {0x2212, 0x2212, '-'},   /* minus sign */
    {0x2E17, 0x2E17, '-'},   /* double oblique hyphen */
    {0x2E1A, 0x2E1A, '-'},   /* hyphen with diaeresis */
    {0x2E3A, 0x2E3B, '-'},   /* two- and three-em dash */
    {0x2E40, 0x2E40, '-'},   /* double hyphen */
    {0x2E5D, 0x2E5D, '-'},   /* oblique hyphen */
    {0x3000, 0x3000, '-'},   /* ideographic space */
    {0x301C, 0x301C, '-'},   /* wave dash */
    {0x3030, 0x3030, '-'},   /* wavy dash */
    {0x30A0, 0x30A0, '-'},   /* katakana-hiragana double hyphen */
    {0xFE31, 0xFE32, '-'},   /* vertical em and en dash */
    {0xFE58, 0xFE58, '-'},   /* small em dash */
    {0xFE63, 0xFE63, '-'},   /* small hyphen-minus */
    {0xFEFF, 0xFEFF, '-'},   /* byte order mark */
    {0xFF0D, 0xFF0F, '-'},   /* full-width hyphen-minus, full stop, solidus */
    {0xFF3F, 0xFF3F, '-'},   /* full-width low line */
    {0x10EAD, 0x10EAD, '-'}, /* Yezidi hyphenation mark */
    /* combining marks, here after the letter x: its diacritics, dropped */
    {0x0300, 0x036F, '-'},
    {0x1AB0, 0x1AFF, '-'},
    {0x1DC0, 0x1DFF, '-'},
    {0xFE20, 0xFE2F, '-'},
    /* full-width digits and letters */
    {0xFF10, 0xFF19, '#'},
    {0xFF21, 0xFF3A, 'A' | 0x80},
    {0xFF41, 0xFF5A, 'a' | 0x80},
    /* Latin-1: À-Å Ç È-Ë Ì-Ï Ð Ñ Ò-Ö Ø Ù-Ü Ý, the same in lower case but ð, and ÿ */
    {0x00C0, 0x00C5, 'A'},
    {0x00C7, 0x00C7, 'C'},
    {0x00C8, 0x00CB, 'E'},
    {0x00CC, 0x00CF, 'I'},
    {0x00D0, 0x00D0, 'D'},
    {0x00D1, 0x00D1, 'N'},
    {0x00D2, 0x00D6, 'O'},
    {0x00D8, 0x00D8, 'O'},
    {0x00D9, 0x00DC, 'U'},
    {0x00DD, 0x00DD, 'Y'},
    {0x00E0, 0x00E5, 'A'},
    {0x00E7, 0x00E7, 'C'},
    {0x00E8, 0x00EB, 'E'},
    {0x00EC, 0x00EF, 'I'},
    {0x00F1, 0x00F1, 'N'},
    {0x00F2, 0x00F6, 'O'},
    {0x00F8, 0x00F8, 'O'},
    {0x00F9, 0x00FC, 'U'},
    {0x00FD, 0x00FD, 'Y'},
    {0x00FF, 0x00FF, 'Y'},
    /* Latin Extended-A, all but Ĳ ĳ ĸ ŉ Ŋ ŋ Œ œ ſ */
    {0x0100, 0x0105, 'A'},
    {0x0106, 0x010D, 'C'},
    {0x010E, 0x0111, 'D'},
    {0x0112, 0x011B, 'E'},
    {0x011C, 0x0123, 'G'},
    {0x0124, 0x0127, 'H'},
    {0x0128, 0x0131, 'I'},
    {0x0134, 0x0135, 'J'},
    {0x0136, 0x0137, 'K'},
    {0x0139, 0x0142, 'L'},
    {0x0143, 0x0148, 'N'},
    {0x014C, 0x0151, 'O'},
    {0x0154, 0x0159, 'R'},
    {0x015A, 0x0161, 'S'},
    {0x0162, 0x0167, 'T'},
    {0x0168, 0x0173, 'U'},
    {0x0174, 0x0175, 'W'},
    {0x0176, 0x0178, 'Y'},
    {0x0179, 0x017E, 'Z'},
    /* Greek capitals */
    {0x0391, 0x0391, 'A'}, /* Α */
    {0x0392, 0x0392, 'B'}, /* Β */
    {0x0395, 0x0395, 'E'}, /* Ε */
    {0x0396, 0x0396, 'Z'}, /* Ζ */
    {0x0397, 0x0397, 'H'}, /* Η */
    {0x0399, 0x0399, 'I'}, /* Ι */
    {0x039A, 0x039A, 'K'}, /* Κ */
    {0x039C, 0x039C, 'M'}, /* Μ */
    {0x039D, 0x039D, 'N'}, /* Ν */
    {0x039F, 0x039F, 'O'}, /* Ο */
    {0x03A1, 0x03A1, 'P'}, /* Ρ */
    {0x03A4, 0x03A4, 'T'}, /* Τ */
    {0x03A5, 0x03A5, 'Y'}, /* Υ */
    {0x03A7, 0x03A7, 'X'}, /* Χ */
    /* Greek small letters that look Latin */
    {0x03B1, 0x03B1, 'A'}, /* α */
    {0x03B9, 0x03B9, 'I'}, /* ι */
    {0x03BA, 0x03BA, 'K'}, /* κ */
    {0x03BF, 0x03BF, 'O'}, /* ο */
    {0x03C1, 0x03C1, 'P'}, /* ρ */
    {0x03C4, 0x03C4, 'T'}, /* τ */
    {0x03C7, 0x03C7, 'X'}, /* χ */
    /* Cyrillic capitals */
    {0x0405, 0x0405, 'S'}, /* Ѕ */
    {0x0406, 0x0406, 'I'}, /* І */
    {0x0408, 0x0408, 'J'}, /* Ј */
    {0x0410, 0x0410, 'A'}, /* А */
    {0x0412, 0x0412, 'B'}, /* В */
    {0x0415, 0x0415, 'E'}, /* Е */
    {0x041A, 0x041A, 'K'}, /* К */
    {0x041C, 0x041C, 'M'}, /* М */
    {0x041D, 0x041D, 'H'}, /* Н */
    {0x041E, 0x041E, 'O'}, /* О */
    {0x0420, 0x0420, 'P'}, /* Р */
    {0x0421, 0x0421, 'C'}, /* С */
    {0x0422, 0x0422, 'T'}, /* Т */
    {0x0423, 0x0423, 'Y'}, /* У */
    {0x0425, 0x0425, 'X'}, /* Х */
    /* Cyrillic small */
    {0x0430, 0x0430, 'A'}, /* а */
    {0x0432, 0x0432, 'B'}, /* в */
    {0x0435, 0x0435, 'E'}, /* е */
    {0x043A, 0x043A, 'K'}, /* к */
    {0x043C, 0x043C, 'M'}, /* м */
    {0x043D, 0x043D, 'H'}, /* н */
    {0x043E, 0x043E, 'O'}, /* о */
    {0x0440, 0x0440, 'P'}, /* р */
    {0x0441, 0x0441, 'C'}, /* с */
    {0x0442, 0x0442, 'T'}, /* т */
    {0x0443, 0x0443, 'Y'}, /* у */
    {0x0445, 0x0445, 'X'}, /* х */
    {0x0455, 0x0455, 'S'}, /* ѕ */
    {0x0456, 0x0456, 'I'}, /* і */
    {0x0458, 0x0458, 'J'}, /* ј */
};

/*
 * Letters with diacritics beyond Latin Extended-A, and Greek and Cyrillic letters with
 * diacritics: folded by their canonical decomposition (tools/plate-unicode writes that table
 * from Unicode's data; test_plate checks samples of it, and that precomposed and decomposed
 * agree, below). The scan skips them.
 */
static bool s_decomposed_range(uint32_t cp)
{
    return (cp >= 0x0180 && cp <= 0x024F) || (cp >= 0x0370 && cp <= 0x04FF) ||
           (cp >= 0x1E00 && cp <= 0x1FFF);
}

/* What cp should become: a letter or digit, '-' for a separator or a mark after a letter, 0
 * for invalid, 1 for "not written out here" (s_decomposed_range). */
static char s_expect(uint32_t cp)
{
    for (size_t i = 0; i < sizeof(s_allowed) / sizeof(s_allowed[0]); i++) {
        if (cp < s_allowed[i].lo || cp > s_allowed[i].hi)
            continue;
        char to = s_allowed[i].to;
        if (to == '#')
            return (char)('0' + (cp - s_allowed[i].lo)); /* full-width digit */
        if ((unsigned char)to & 0x80)
            return (char)('A' + (cp - s_allowed[i].lo)); /* full-width letter */
        return to;
    }
    return s_decomposed_range(cp) ? 1 : 0;
}

/* How many code points s_allowed maps. */
static unsigned s_allowed_count(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < sizeof(s_allowed) / sizeof(s_allowed[0]); i++)
        n += s_allowed[i].hi - s_allowed[i].lo + 1;
    return n;
}

/* Every code point from U+0080 to U+10FFFF, between two ASCII characters. */
static void test_scripts(void)
{
    unsigned wrong = 0, mapped = 0;

    for (uint32_t cp = 0x80; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char raw[8], out[PLATE_MAX + 1], want[4];
        raw[0] = 'x';
        s_enc(cp, raw + 1);
        strcat(raw, "1");
        char to = s_expect(cp);
        if (to == 1)
            continue;
        enum plate_status st = plate_normalise(raw, out);
        snprintf(want, sizeof(want), to == '-' ? "X1" : "X%c1", to);
        bool ok = to ? st == PLATE_OK && strcmp(out, want) == 0 : st == PLATE_INVALID;
        mapped += to != 0;
        if (!ok && wrong++ < 10)
            fprintf(stderr, "%s:%d: U+%04X gives %d \"%s\", want %s\n", __FILE__, __LINE__,
                    (unsigned)cp, (int)st, out, to ? want : "invalid");
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(mapped, s_allowed_count());

    /* The same through a pattern. */
    char out[PLATE_MAX + 1];
    CHECK_INT(plate_normalise_pattern("\xD0\x90\xCE\x92*\xC3\x96?", out), PLATE_OK);
    CHECK_STR(out, "AB*O?");

    /* Mixed scripts on one plate: Cyrillic, Greek, Latin with diacritics and plain ASCII. */
    NORM_OK("1-\xD0\x90\xD0\x92\xD0\xA1-123", "1ABC123");         /* 1-АВС-123 */
    NORM_OK("\xD1\x80\xD0\xBE 12 \xD1\x85\xD0\xB5", "PO12XE");    /* ро 12 хе */
    NORM_OK("\xCE\x91\xCE\x92\xCE\x95-1234", "ABE1234");          /* ΑΒΕ-1234 */
    NORM_OK("\xCE\xB1\xCE\xBA\xCF\x81 1", "AKP1");                /* ακρ 1 */
    NORM_OK("M\xC3\x9C\x4E\x43H\xC3\x89N", "MUNCHEN");            /* MÜNCHÉN */
    NORM_OK("\xC5\x81\xC3\x93\xC4\x90\xC5\xBB 99", "LODZ99");     /* ŁÓĐŻ 99 */
    NORM_OK("T\xC3\x9C \xD0\x90\xCE\x92 12", "TUAB12");           /* TÜ АΒ 12, three scripts */
    NORM_OK("\xC3\xA5\xC3\xA7\xC3\xAB\xC3\xAF\xC3\xB1", "ACEIN"); /* åçëïñ */
    NORM_OK("\xC4\xB0\xC4\xB1", "II");                            /* İ ı */

    /* Look-alikes left out on purpose, and letters of other scripts. */
    NORM_ERR("AB\xCE\xB7", PLATE_INVALID); /* Greek η looks like n */
    NORM_ERR("AB\xCE\xBD", PLATE_INVALID); /* Greek ν looks like v */
    NORM_ERR("AB\xCF\x85", PLATE_INVALID); /* Greek υ looks like u */
    NORM_ERR("AB\xCE\xBC", PLATE_INVALID); /* Greek μ */
    NORM_ERR("AB\xCE\xB2", PLATE_INVALID); /* Greek β */
    NORM_ERR("AB\xCE\xB5", PLATE_INVALID); /* Greek ε */
    NORM_ERR("AB\xD0\x94", PLATE_INVALID); /* Cyrillic Д */
    NORM_ERR("AB\xD0\xAF", PLATE_INVALID); /* Cyrillic Я */
    NORM_OK("AB\xD0\x81", "ABE");          /* Cyrillic Ё: Е with a diaeresis */
    NORM_ERR("AB\xD0\x99", PLATE_INVALID); /* Cyrillic Й: И, no Latin twin, with a breve */
    NORM_ERR("STRA\xC3\x9F"
             "E",
             PLATE_INVALID); /* ß */
    NORM_ERR("\xC3\x86"
             "B1",
             PLATE_INVALID); /* Æ */
    NORM_ERR("\xC5\x92"
             "1",
             PLATE_INVALID); /* Œ */
    NORM_ERR("\xC3\x9E"
             "1",
             PLATE_INVALID); /* Þ */
    NORM_ERR("\xC3\xB0"
             "1",
             PLATE_INVALID); /* ð */
    NORM_ERR("1\xC3\x97"
             "2",
             PLATE_INVALID); /* × */
    NORM_ERR("\xC5\xBF"
             "1",
             PLATE_INVALID);                        /* ſ */
    NORM_ERR("\xD8\xA8\xD8\xAA 12", PLATE_INVALID); /* Arabic */
    NORM_ERR("12 \xD9\xA1\xD9\xA2", PLATE_INVALID); /* Arabic-Indic digits */
    NORM_ERR("\xD7\x90"
             "12",
             PLATE_INVALID); /* Hebrew */
    NORM_ERR("\xE4\xBA\xAC"
             "A12345",
             PLATE_INVALID); /* CJK 京 */
    NORM_ERR("\xEA\xB0\x80"
             "12",
             PLATE_INVALID); /* Hangul */
    NORM_ERR("AB\xF0\x9F\x9A\x97"
             "12",
             PLATE_INVALID);                   /* emoji */
    NORM_ERR("AB\xC2\xB3", PLATE_INVALID);     /* superscript three: NFKC 3, not on a plate */
    NORM_ERR("AB\xE2\x91\xA0", PLATE_INVALID); /* circled digit one */
    NORM_ERR("\xEF\xAC\x81"
             "12",
             PLATE_INVALID); /* ligature fi */

    /* Full-width letters and digits are the ASCII ones (NFKC); full-width wildcards too. */
    NORM_OK("\xEF\xBC\xA1\xEF\xBC\xA2", "AB"); /* ＡＢ */
    NORM_OK("\xEF\xBD\x8B\xEF\xBD\x8D\xEF\xBC\x8D\xEF\xBC\x97\xEF\xBC\x91\xEF\xBC\x93",
            "KM713");                          /* ｋｍ－７１３ */
    NORM_ERR("AB\xEF\xBC\x9F", PLATE_INVALID); /* full-width ? in a plate */

    /* Unicode separators from word processors and spreadsheets. */
    NORM_OK("AB\xC2\xA0"
            "12",
            "AB12"); /* no-break space */
    NORM_OK("1\xE2\x80\x91"
            "ABC\xE2\x80\x94"
            "123",
            "1ABC123"); /* non-breaking hyphen, em dash */
    NORM_OK("1\xE2\x88\x92"
            "ABC\xE3\x80\x80"
            "123",
            "1ABC123"); /* minus sign, ideographic space */
    NORM_OK("\xE2\x80\x8B"
            "AB\xC2\xAD"
            "12\xEF\xBB\xBF",
            "AB12"); /* zero-width space, soft hyphen, byte order mark */

    /* A combining mark is its letter's diacritic: U + U+0308 is Ü is U. */
    NORM_OK("MU\xCC\x88-AB 12", "MUAB12");
    NORM_OK("A\xCC\x88\xCC\x81"
            "B",
            "AB");                    /* two marks on one letter */
    NORM_OK("\xD0\x95\xCC\x88", "E"); /* Cyrillic Е + diaeresis, as Ё */
    NORM_OK("S\xCC\xA6", "S");        /* S + comma below, as Ș (U+0218) */
    NORM_OK("\xC8\x98", "S");         /* Ș */
    NORM_OK("A\xCC\xA3", "A");        /* A + dot below, as Ạ (U+1EA0) */
    NORM_OK("\xE1\xBA\xA0", "A");     /* Ạ */
    NORM_OK("\xCE\x86", "A");         /* Greek Ά */
    NORM_OK("\xCE\x91\xCC\x81", "A"); /* Greek Α + acute */
    NORM_ERR("\xCC\x88"
             "AB",
             PLATE_INVALID);                     /* a mark with no letter before it */
    NORM_ERR("1\xCC\x88", PLATE_INVALID);        /* a mark on a digit */
    NORM_ERR("A-\xCC\x88", PLATE_INVALID);       /* a mark on a separator */
    NORM_ERR("\xD0\x98\xCC\x86", PLATE_INVALID); /* И + breve, as Й */

    /* Malformed UTF-8 never reaches the tables. */
    NORM_ERR("\xC1\x81", PLATE_INVALID); /* overlong 'A' */
    NORM_ERR("AB\xC0\xAF"
             "1",
             PLATE_INVALID);                     /* overlong '/' */
    NORM_ERR("\xE0\x90\x90", PLATE_INVALID);     /* overlong Cyrillic А */
    NORM_ERR("\xF0\x80\x83\x83", PLATE_INVALID); /* overlong Ã */
    NORM_ERR("\xED\xA0\x80", PLATE_INVALID);     /* surrogate */
    NORM_ERR("\xF4\x90\x80\x80", PLATE_INVALID); /* beyond U+10FFFF */
    NORM_ERR("AB\xD0", PLATE_INVALID);           /* truncated */
    NORM_ERR("\xD0"
             "AB",
             PLATE_INVALID); /* lead byte without continuation */
    NORM_ERR("\x90"
             "AB",
             PLATE_INVALID);                 /* lone continuation */
    NORM_ERR("\xD0\x90\x90", PLATE_INVALID); /* А and a stray continuation */
    NORM_ERR("\xF8\x88\x80\x80\x80", PLATE_INVALID);
}

static void test_pattern(void)
{
    char out[PLATE_MAX + 1];
    static const struct {
        const char *raw;
        enum plate_status st;
        const char *want;
    } cases[] = {
        {"1-ABC-12?", PLATE_OK, "1ABC12?"},
        {"1-ab?-*", PLATE_OK, "1AB?*"},
        {"*123", PLATE_OK, "*123"},
        {"**A**", PLATE_OK, "*A*"},
        {"*-*A* * *", PLATE_OK, "*A*"}, /* separators between stars fold too */
        {"A???B", PLATE_OK, "A???B"},   /* '?' never folds: each is one character */
        {"?*?A", PLATE_OK, "?*?A"},
        {"A*?*B", PLATE_OK, "A*?*B"},
        {"1ABC123", PLATE_OK, "1ABC123"},
        {"ABCDEFGHIJ12345?", PLATE_OK, "ABCDEFGHIJ12345?"},
        {"A********************B", PLATE_OK, "A*B"}, /* folded before the length counts */
        {"*ABCDEFGHIJ1234*", PLATE_OK, "*ABCDEFGHIJ1234*"},
        {"ABCDEFGHIJ123456?", PLATE_LONG, NULL},
        {"*ABCDEFGHIJ12345*", PLATE_LONG, NULL},
        {"?ABCDEFGHIJ123456", PLATE_LONG, NULL},
        {"*", PLATE_INVALID, NULL},
        {"?", PLATE_INVALID, NULL},
        {"* ? *", PLATE_INVALID, NULL},
        {"?????????????????????", PLATE_INVALID, NULL},
        {"AB#*", PLATE_INVALID, NULL},
        {"AB*#", PLATE_INVALID, NULL},
        {"AB\xE4\xBA\xAC*", PLATE_INVALID, NULL},
        {"AB%", PLATE_INVALID, NULL},
        {"", PLATE_EMPTY, NULL},
        {" -./_", PLATE_EMPTY, NULL},
        {NULL, PLATE_EMPTY, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strcpy(out, "junk");
        enum plate_status st = plate_normalise_pattern(cases[i].raw, out);
        if (st != cases[i].st || strcmp(out, cases[i].want ? cases[i].want : "") != 0) {
            check_failed++;
            fprintf(stderr, "%s:%d: plate_normalise_pattern(\"%s\") = %d \"%s\", want %d \"%s\"\n",
                    __FILE__, __LINE__, cases[i].raw ? cases[i].raw : "(null)", (int)st, out,
                    (int)cases[i].st, cases[i].want ? cases[i].want : "");
        } else {
            check_passed++;
        }
    }

    CHECK(plate_is_pattern("1ABC12?"));
    CHECK(plate_is_pattern("*A"));
    CHECK(plate_is_pattern("?*"));
    CHECK(!plate_is_pattern("1ABC123"));
    CHECK(!plate_is_pattern(""));
    CHECK(!plate_is_pattern(NULL));
}

static void test_fits(void)
{
    static const struct {
        const char *country, *plate;
        bool fits;
    } cases[] = {
        {"BE", "1ABC123", true}, /* since 2010 */
        {"BE", "2XYZ001", true},
        {"BE", "9AAA000", true},  /* personalised index 9 */
        {"BE", "QABC123", true},  /* trailer */
        {"BE", "MABC123", true},  /* motorcycle */
        {"BE", "ABC123", true},   /* 1973-2008 */
        {"BE", "123ABC", true},   /* 2008-2010 */
        {"BE", "A1234", true},    /* 1953-1962 code 1 */
        {"BE", "12A34", true},    /* code 3 */
        {"BE", "AB123", true},    /* code 6 */
        {"BE", "X123Y", true},    /* code 10 */
        {"BE", "P114", true},     /* parliament */
        {"BE", "0ABC123", false}, /* no index 0 */
        {"BE", "1AB123", false},
        {"BE", "1ABC1234", false},
        {"BE", "1ABC12A", false},
        {"BE", "BABC123", false}, /* B is no category letter: a euroband on an old plate */
        {"BE", "B1ABC123", false},
        {"BE", "B12345", false},
        {"BE", "12345", false},
        {"BE", "ABCD123", false},
        {"BE", "1ABC12?", false},
        {"NL", "AB1234", true}, /* side code 1 */
        {"NL", "1234AB", true},
        {"NL", "12AB34", true},
        {"NL", "XX99XX", true}, /* 4 */
        {"NL", "ABCD12", true},
        {"NL", "12ABCD", true},
        {"NL", "12ABC3", true}, /* 7 */
        {"NL", "1ABC23", true},
        {"NL", "AB123C", true},
        {"NL", "A123BC", true},
        {"NL", "ABC12D", true},
        {"NL", "A12BCD", true},
        {"NL", "1AB234", true},
        {"NL", "123AB4", true}, /* 14 */
        {"NL", "ABC123", false},
        {"NL", "123ABC", false},
        {"NL", "A1B2C3", false},
        {"NL", "AB12345", false},
        {"NL", "AB123", false},
        {"NL", "NL12ABC3", false},
        {"NL", "123456", false},
        {"DE", "BAB123", true},
        {"DE", "HSAB123", true},
        {"DE", "MX1", true},
        {"DE", "ACX1234", true},
        {"DE", "KLEA1234", true}, /* 8 */
        {"DE", "KLEAB123", true},
        {"DE", "BAB123E", true},    /* electric */
        {"DE", "HHAB12H", true},    /* historic */
        {"DE", "KLEAB123E", true},  /* 8 + E: two-line plates */
        {"DE", "KLEAB1234", false}, /* 9 */
        {"DE", "KLEAB1234E", false},
        {"DE", "A123", false}, /* one letter: no district and letters */
        {"DE", "ABCDEF1", false},
        {"DE", "AB0123", false}, /* numbers have no leading zero */
        {"DE", "AB12345", false},
        {"DE", "ABC", false},
        {"DE", "AB12X", false},
        {"DE", "1AB23", false},
        {"FR", "AB123CD", true}, /* SIV */
        {"FR", "ZZ001ZZ", true},
        {"FR", "123AB75", true}, /* FNI */
        {"FR", "1A01", true},
        {"FR", "9999ZZ92", true},
        {"FR", "12AB2A", true}, /* Corsica */
        {"FR", "123ABC2B", true},
        {"FR", "456AB974", true}, /* Réunion */
        {"FR", "AB12CD", false},
        {"FR", "AB1234CD", false},
        {"FR", "A123BCD", false},
        {"FR", "0123AB75", false},
        {"FR", "123AB2C", false},
        {"FR", "123AB7", false},
        {"FR", "12345AB75", false},
        {"FR", "FAB123CD", false},
        {"LU", "AB1234", true},
        {"LU", "A1234", true},
        {"LU", "1234", true},
        {"LU", "12345", true},
        {"LU", "123456", true},
        {"LU", "ABC1234", false},
        {"LU", "AB123", false},
        {"LU", "123", false},
        {"LU", "1234567", false},
        {"LU", "0123", false},
        {"LU", "AB12345", false},
        {"LU", "LAB1234", false},
        {"GB", "AB12CDE", true}, /* since 2001 */
        {"GB", "AB51XYZ", true},
        {"GB", "A123BCD", true}, /* 1983-2001 */
        {"GB", "A1BCD", true},
        {"GB", "ABZ1234", true}, /* Northern Ireland */
        {"GB", "IA123", true},
        {"GB", "LIA1", true},
        {"GB", "OI9", true},
        {"GB", "AB12CD", false},
        {"GB", "ABC12DE", false},
        {"GB", "A1234BCD", false},
        {"GB", "A012BCD", false},
        {"GB", "ABC1234", false}, /* neither I nor Z: not Northern Irish */
        {"GB", "GBAB12CDE", false},
        {"GB", "UKAB12CDE", false},
        {"GB", "12ABCDE", false},
        /* Country codes without case; other and unknown countries take anything. */
        {"be", "1ABC123", true},
        {"be", "B12345", false},
        {"Gb", "AB12CDE", true},
        {"XX", "B12345", true},
        {"IT", "AB123CD", true},
        {"BEL", "B12345", true},
        {"", "?", true},
        {NULL, "B12345", true},
        {"B", "B12345", true},
        /* Plates that are no plates. */
        {"BE", "", false},
        {"NL", "", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (plate_fits(cases[i].country, cases[i].plate) == cases[i].fits) {
            check_passed++;
            continue;
        }
        check_failed++;
        fprintf(stderr, "%s:%d: plate_fits(\"%s\", \"%s\") is %s\n", __FILE__, __LINE__,
                cases[i].country ? cases[i].country : "(null)", cases[i].plate,
                cases[i].fits ? "false" : "true");
    }
    CHECK(!plate_fits("BE", NULL));
    CHECK(!plate_fits(NULL, NULL));
}

static void test_euroband(void)
{
    static const struct {
        const char *raw, *country;
        enum plate_status st;
        const char *want;
    } cases[] = {
        {"B1ABC123", "BE", PLATE_OK, "1ABC123"},
        {"B 1-ABC-123", "BE", PLATE_OK, "1ABC123"},
        {"b1abc123", "be", PLATE_OK, "1ABC123"},
        {"B ABC-123", "BE", PLATE_OK, "ABC123"},
        {"\xD0\x92 1-ABC-123", "BE", PLATE_OK, "1ABC123"}, /* Cyrillic В */
        {"B12345", "BE", PLATE_OK, "B12345"},              /* fits neither way: kept */
        {"B123", "BE", PLATE_OK, "B123"},                  /* fits as it is */
        {"1ABC123", "BE", PLATE_OK, "1ABC123"},
        {"NL1ABC123", "BE", PLATE_OK, "NL1ABC123"}, /* another country's code */
        {"GB1ABC123", "BE", PLATE_OK, "GB1ABC123"},
        {"B", "BE", PLATE_OK, "B"},
        {"NL12ABC3", "NL", PLATE_OK, "12ABC3"},
        {"NL-XX-99-XX", "NL", PLATE_OK, "XX99XX"},
        {"NL 12-ABC-3", "NL", PLATE_OK, "12ABC3"},
        {"N12ABC3", "NL", PLATE_OK, "N12ABC3"},   /* half a code */
        {"NL123ABC", "NL", PLATE_OK, "NL123ABC"}, /* 123ABC is not Dutch */
        {"B12ABC3", "NL", PLATE_OK, "B12ABC3"},
        {"NL", "NL", PLATE_OK, "NL"},
        {"D HSK AB 123", "DE", PLATE_OK, "HSKAB123"},   /* 9 with the D */
        {"D KLE AB 123E", "DE", PLATE_OK, "KLEAB123E"}, /* 10 with the D */
        {"D HS AB 123", "DE", PLATE_OK, "DHSAB123"},    /* DHS could be a district */
        {"D B AB 1", "DE", PLATE_OK, "DBAB1"},
        {"F AB-123-CD", "FR", PLATE_OK, "AB123CD"},
        {"F 1234 AB 75", "FR", PLATE_OK, "1234AB75"},
        {"F", "FR", PLATE_OK, "F"},
        {"FF123CD", "FR", PLATE_OK, "FF123CD"}, /* fits: FF is a series */
        {"L AB 1234", "LU", PLATE_OK, "AB1234"},
        {"L 123456", "LU", PLATE_OK, "123456"},
        {"L 1234", "LU", PLATE_OK, "L1234"}, /* L1234 fits as it is */
        {"GB AB12 CDE", "GB", PLATE_OK, "AB12CDE"},
        {"UK AB12 CDE", "GB", PLATE_OK, "AB12CDE"},
        {"GB A123 BCD", "GB", PLATE_OK, "A123BCD"},
        {"UK", "GB", PLATE_OK, "UK"},
        {"GBUKAB12CDE", "GB", PLATE_OK, "GBUKAB12CDE"}, /* only one code */
        {"UK AB12 CDE", "UA", PLATE_OK, "UKAB12CDE"},   /* not a country we know */
        {"UK AB12 CDE", "UK", PLATE_OK, "AB12CDE"},     /* UK is GB */
        {"GB ABC 123D", "gb", PLATE_OK, "ABC123D"},     /* the suffix format */
        {"B 1-A8C-123", "BE", PLATE_OK, "B1A8C123"},    /* an OCR error: plate_euroband */
        {"B1ABC123", "", PLATE_OK, "B1ABC123"},
        {"B1ABC123", NULL, PLATE_OK, "B1ABC123"},
        {"B1ABC123", "XX", PLATE_OK, "B1ABC123"},
        {"B1ABC12#", "BE", PLATE_INVALID, ""},
        {"B-", "BE", PLATE_OK, "B"},
        {" - ", "BE", PLATE_EMPTY, ""},
        {NULL, "BE", PLATE_EMPTY, ""},
        {"B1ABC123ABCDEFGHIJ", "BE", PLATE_LONG, ""},
        {"B1ABC12?", "BE", PLATE_INVALID, ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[PLATE_MAX + 1] = "junk";
        enum plate_status st = plate_normalise_cc(cases[i].raw, cases[i].country, out);
        if (st == cases[i].st && strcmp(out, cases[i].want) == 0) {
            check_passed++;
            continue;
        }
        check_failed++;
        fprintf(stderr, "%s:%d: plate_normalise_cc(\"%s\", \"%s\") = %d \"%s\", want %d \"%s\"\n",
                __FILE__, __LINE__, cases[i].raw ? cases[i].raw : "(null)",
                cases[i].country ? cases[i].country : "(null)", (int)st, out, (int)cases[i].st,
                cases[i].want);
    }
}

/* The other reading of a plate that may carry its euroband code (plate_euroband). */
static void test_euroband_alt(void)
{
    static const struct {
        const char *country, *plate;
        const char *alt; /* NULL: none */
    } cases[] = {
        {"DE", "DKAB123", "KAB123"}, /* district DK, or K-AB 123 with its code */
        {"DE", "DDAB123", "DAB123"}, /* Düsseldorf D-AB 123 with its code */
        {"DE", "DHSAB123", "HSAB123"},
        {"DE", "DAB123", "AB123"},     /* D-AB 123, or A-B 123 with its code */
        {"DE", "KAB123", NULL},        /* no code */
        {"DE", "D1234", NULL},         /* 1234 is no German plate */
        {"BE", "B1A8C123", "1A8C123"}, /* one OCR error (8 for B) */
        {"BE", "B1A88123", NULL},      /* two */
        {"BE", "B12345", "12345"},     /* 1.Z.345 with one look-alike: matched too */
        {"BE", "1ABC123", NULL},
        {"NL", "NL97ZTL4", "97ZTL4"},
        {"NL", "NL123ABC", "123ABC"}, /* I23ABC with one look-alike (side code 12) */
        {"GB", "UKAB12CDE", "AB12CDE"},
        {"UK", "GBAB12CDE", "AB12CDE"},
        {"GB", "ABC123D", NULL},
        {"FR", "FFG482KL", "FG482KL"},
        {"PL", "B1ABC123", NULL},    /* formats of PL unknown */
        {"", "B1ABC123", "1ABC123"}, /* unknown country: the code's own formats */
        {NULL, "NL97ZTL4", "97ZTL4"},
        {"", "DKAB123", "KAB123"},
        {"", "GBLR69XKT", "LR69XKT"},
        {"", "UKLR69XKT", "LR69XKT"},
        {"", "LCR4837", "CR4837"},
        {"", "FFG482KL", "FG482KL"},
        {"", "1ABC123", NULL},
        {"", "B", NULL},
        {"", "XYZ", NULL},
        {"DE", NULL, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char alt[PLATE_MAX + 1] = "";
        bool got = plate_euroband(cases[i].country, cases[i].plate, alt);
        if (got == (cases[i].alt != NULL) && (!got || strcmp(alt, cases[i].alt) == 0)) {
            check_passed++;
            continue;
        }
        check_failed++;
        fprintf(stderr, "%s:%d: plate_euroband(\"%s\", \"%s\") = %s \"%s\", want %s\n", __FILE__,
                __LINE__, cases[i].country ? cases[i].country : "(null)",
                cases[i].plate ? cases[i].plate : "(null)", got ? "true" : "false", alt,
                cases[i].alt ? cases[i].alt : "none");
    }
    CHECK_STR(plate_country("UK"), "GB");
    CHECK_STR(plate_country("uk"), "GB");
    CHECK_STR(plate_country("GB"), "GB");
    CHECK_STR(plate_country("BE"), "BE");
    CHECK(plate_country(NULL) == NULL);
    CHECK(plate_fits("UK", "AB12CDE"));
    CHECK(plate_fits("GB", "ABC123D"));
    CHECK(plate_fits("GB", "ABC1D"));
    CHECK(!plate_fits("GB", "ABCD123E"));
}

static unsigned long long s_hash(const char *p)
{
    return plate_hash(p, strlen(p));
}

static void test_normalise(void)
{
    NORM_OK("1-ABC-123", "1ABC123");
    NORM_OK("abc123", "ABC123");
    NORM_OK("aBz09", "ABZ09");
    NORM_OK("AB 12", "AB12");
    NORM_OK("AB\t12", "AB12");
    NORM_OK("AB-12", "AB12");
    NORM_OK("AB.12", "AB12");
    NORM_OK("AB_12", "AB12");
    NORM_OK("AB/12", "AB12");
    NORM_OK("AB\xC2\xB7"
            "12",
            "AB12"); /* middle dot */
    NORM_OK("AB\xE2\x80\x93"
            "12",
            "AB12"); /* en dash */
    NORM_OK("\xC2\xB7 -AB\xE2\x80\x93\xE2\x80\x93"
            "12._/ \t",
            "AB12");
    NORM_OK("HS AB 123", "HSAB123");
    NORM_OK("x", "X");

    NORM_ERR("AB#1", PLATE_INVALID);
    NORM_ERR("AB+1", PLATE_INVALID);
    NORM_ERR("AB,1", PLATE_INVALID);
    NORM_OK("M\xC3\x96"
            "1",
            "MO1");           /* Ö folds to its base letter */
    NORM_OK("\xC3\xB6", "O"); /* ö */
    NORM_ERR("AB\n1", PLATE_INVALID);
    NORM_ERR("AB\r1", PLATE_INVALID);
    NORM_ERR("\x01"
             "AB",
             PLATE_INVALID);
    NORM_ERR("AB\x7f", PLATE_INVALID);
    NORM_ERR("AB\xC2", PLATE_INVALID);     /* truncated middle dot */
    NORM_ERR("AB\xC2\xB8", PLATE_INVALID); /* cedilla, not a middle dot */
    NORM_ERR("AB?1", PLATE_INVALID);       /* wildcards only in patterns */
    NORM_ERR("AB*1", PLATE_INVALID);
    NORM_ERR("AB\xE2\x80", PLATE_INVALID); /* truncated en dash */
    NORM_OK("AB\xE2\x80\x94", "AB");       /* em dash: a separator */
    NORM_ERR("AB\xFF", PLATE_INVALID);

    NORM_ERR("", PLATE_EMPTY);
    NORM_ERR(" - . _ / \t", PLATE_EMPTY);
    NORM_ERR("\xC2\xB7\xE2\x80\x93", PLATE_EMPTY);
    NORM_ERR(NULL, PLATE_EMPTY);

    NORM_OK("ABCDEFGHIJ123456", "ABCDEFGHIJ123456");
    NORM_OK("abcd-efgh-ij12-3456", "ABCDEFGHIJ123456");
    NORM_ERR("ABCDEFGHIJ1234567", PLATE_LONG);
    NORM_ERR("ABCDEFGHIJ123456789012345678901234567890", PLATE_LONG);
    /* An invalid character anywhere wins over length. */
    NORM_ERR("ABCDEFGHIJ1234567#", PLATE_INVALID);

    /* Every ASCII byte between two letters: kept (upper-cased), dropped, or refused. */
    for (int b = 1; b < 0x80; b++) {
        char in[4] = {'A', (char)b, 'B', '\0'}, got[PLATE_MAX + 1], want[4] = "A?B";
        bool alnum = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
        bool sep = strchr(" \t-._/", b) != NULL;
        want[1] = (char)(b >= 'a' && b <= 'z' ? b - 'a' + 'A' : b);
        enum plate_status st = plate_normalise(in, got);
        if (alnum) {
            CHECK_INT(st, PLATE_OK);
            CHECK_STR(got, want);
        } else if (sep) {
            CHECK_INT(st, PLATE_OK);
            CHECK_STR(got, "AB");
        } else {
            CHECK_INT(st, PLATE_INVALID);
        }
        /* In a pattern '?' and '*' are kept as well. */
        st = plate_normalise_pattern(in, got);
        CHECK_INT(st, alnum || sep || b == '?' || b == '*' ? PLATE_OK : PLATE_INVALID);
    }

    /* A failed normalisation leaves out as an empty string. */
    char out[PLATE_MAX + 1] = "junk";
    CHECK_INT(plate_normalise("A#", out), PLATE_INVALID);
    CHECK_STR(out, "");
}

static void test_hash(void)
{
    /* Fixed values: the hash must not change between runs or builds. */
    CHECK(s_hash("1ABC123") == 0x2952b97771720c87ULL);
    CHECK(s_hash("ABCDEFGHIJ123456") == 0xe34321c1d6c78f09ULL);
    CHECK(s_hash("1ABC123") == s_hash("1ABC123"));
    CHECK(plate_hash("1ABC123XYZ", 7) == s_hash("1ABC123"));

    CHECK(s_hash("1ABC123") != s_hash("1ABC124"));
    CHECK(s_hash("1ABC123") != s_hash("1ABC12"));
    CHECK(s_hash("A") != s_hash("B"));
    CHECK(s_hash("ABCDEFGH") != s_hash("ABCDEFGH1"));
    CHECK(s_hash("ABCDEFGHIJ123456") != s_hash("ABCDEFGHIJ123457"));

    /* Sequential plates spread evenly over the low bits (the table index). */
    enum { N = 1 << 20, BUCKETS = 1 << 12 };
    unsigned *count = calloc(BUCKETS, sizeof(*count));
    CHECK(count != NULL);
    if (!count)
        return;
    for (unsigned i = 0; i < N; i++) {
        char p[16];
        snprintf(p, sizeof(p), "1ABC%06u", i);
        count[s_hash(p) & (BUCKETS - 1)]++;
    }
    unsigned lo = N, hi = 0;
    for (unsigned i = 0; i < BUCKETS; i++) {
        lo = count[i] < lo ? count[i] : lo;
        hi = count[i] > hi ? count[i] : hi;
    }
    /* Mean 256, sd 16: 6 sd either way. */
    CHECK(lo > 160);
    CHECK(hi < 352);
    free(count);
}

static int s_cmp_u64(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return x < y ? -1 : x > y;
}

static void test_plategen(void)
{
    enum { N = 100000 };
    struct plategen g;
    char plate[17], country[3], norm[PLATE_MAX + 1], misread[17];
    unsigned bad = 0, per[6] = {0};
    static const char *const codes[] = {"BE", "NL", "DE", "FR", "LU", "GB"};
    unsigned long long *hashes = malloc(N * sizeof(*hashes));
    size_t nh = 0;

    CHECK(hashes != NULL);
    if (!hashes)
        return;
    plategen_seed(&g, 42);
    for (unsigned i = 0; i < N; i++) {
        plategen_plate(&g, plate, country);
        if (strlen(plate) > 16 || plate_normalise(plate, norm) != PLATE_OK) {
            if (bad++ < 5)
                fprintf(stderr, "plategen: \"%s\" (%s) does not normalise\n", plate, country);
            continue;
        }
        hashes[nh++] = s_hash(norm);
        /* Every plate fits its country, and a real plate is never shortened as a euroband. */
        char cc[PLATE_MAX + 1];
        if (!plate_fits(country, norm) && bad++ < 5)
            fprintf(stderr, "plategen: \"%s\" does not fit %s\n", norm, country);
        if ((plate_normalise_cc(plate, country, cc) != PLATE_OK || strcmp(cc, norm) != 0) &&
            bad++ < 5)
            fprintf(stderr, "plategen: \"%s\" (%s) becomes \"%s\"\n", plate, country, cc);
        for (unsigned c = 0; c < 6; c++)
            per[c] += strcmp(country, codes[c]) == 0;
        plategen_misread(&g, plate, 200, misread);
        if (plate_normalise(misread, norm) != PLATE_OK && bad++ < 5)
            fprintf(stderr, "plategen: misread \"%s\" does not normalise\n", misread);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(per[0] + per[1] + per[2] + per[3] + per[4] + per[5], N);
    /* The country mix, within a generous margin. */
    CHECK(per[0] > N * 57 / 100 && per[0] < N * 63 / 100);
    CHECK(per[1] > N * 23 / 100 && per[1] < N * 27 / 100);
    CHECK(per[2] > N * 7 / 100 && per[2] < N * 9 / 100);
    CHECK(per[5] > 0);

    /* Distinct plates give distinct 64-bit hashes; duplicates come only from equal plates. */
    qsort(hashes, nh, sizeof(*hashes), s_cmp_u64);
    size_t dup = 0;
    for (size_t i = 1; i < nh; i++)
        dup += hashes[i] == hashes[i - 1];
    CHECK(dup < N / 100);
    free(hashes);

    /*
     * Per-country formats, and the euroband code read as part of the plate. The code goes
     * whenever the plate with it does not fit; for BE, NL, FR and GB that is always, for LU
     * all but a code before 4 digits (L1234 is a plate), for DE only before the longest plates
     * (D + HS AB 123 is district DHS).
     */
    static const char *const bands[] = {"B", "NL", "D", "F", "L", "GB", "UK"};
    unsigned stripped[7] = {0};
    for (unsigned c = 0; c < 7; c++) {
        const char *band_cc = codes[c < 6 ? c : 5];
        for (int i = 0; i < 2000; i++) {
            char raw[32], cc[PLATE_MAX + 1];
            plategen_plate_for(&g, band_cc, plate);
            if (plate_normalise(plate, norm) != PLATE_OK || !plate_fits(band_cc, norm)) {
                if (bad++ < 5)
                    fprintf(stderr, "plategen: \"%s\" (%s) does not fit\n", plate, band_cc);
                continue;
            }
            snprintf(raw, sizeof(raw), "%s %s", bands[c], plate);
            if (plate_normalise_cc(raw, band_cc, cc) != PLATE_OK) {
                bad++;
                continue;
            }
            char with[32];
            snprintf(with, sizeof(with), "%s%s", bands[c], norm);
            if (strcmp(cc, norm) == 0)
                stripped[c]++;
            else if (strcmp(cc, with) != 0 || !plate_fits(band_cc, with))
                bad++; /* kept the code although it did not fit with it */
        }
    }
    CHECK_INT(stripped[0], 2000);
    CHECK_INT(stripped[1], 2000);
    CHECK_INT(stripped[3], 2000);
    CHECK_INT(stripped[5], 2000);
    CHECK_INT(stripped[6], 2000);
    CHECK(stripped[4] > 2000 * 70 / 100 && stripped[4] < 2000);
    CHECK(stripped[2] < 2000 / 2);
    plategen_plate_for(&g, "XX", plate);
    CHECK(plate_normalise(plate, norm) == PLATE_OK);
    CHECK_INT(bad, 0);

    char a[17], b[17];
    plategen_seed(&g, 7);
    plategen_plate(&g, a, country);
    plategen_seed(&g, 7);
    plategen_plate(&g, b, country);
    CHECK_STR(a, b);

    plategen_misread(&g, "1-ABC-123", 0, misread);
    CHECK_STR(misread, "1-ABC-123");
    plategen_misread(&g, "0O1I8B5S2Z6G-X", 1000, misread);
    CHECK_STR(misread, "O0I1B8S5Z2G6-X");

    for (int i = 0; i < 1000; i++)
        CHECK(plategen_below(&g, 7) < 7);
}

int main(void)
{
    test_normalise();
    test_scripts();
    test_pattern();
    test_fits();
    test_euroband();
    test_euroband_alt();
    test_hash();
    test_plategen();
    return check_done("plate");
}
