/*
 * plate: plate normalisation, registration formats and hashing. See plate.h.
 */
#include "plate.h"

#include <stdint.h>
#include <string.h>

/* s_fold() results besides a letter or digit. */
#define S_BAD  0 /* not allowed in a plate */
#define S_SEP  1 /* a separator: dropped */
#define S_WILD 2 /* '?' or '*': kept in a pattern, S_BAD in a plate */

/*
 * U+00C0..U+017F (Latin-1 Supplement letters and Latin Extended-A) to the base letter, '.' where
 * the character is not a letter with a diacritic. Strokes count as diacritics (Ø, Đ, Ł, Ħ, Ŧ):
 * a camera that reads one saw the plain letter. Left out on purpose, as letters in their own
 * right that no plate carries and that do not look like one Latin letter: Æ Œ Ĳ (ligatures),
 * Þ þ ð ĸ Ŋ ŋ ŉ ſ, and ß, which a German plate never has (umlauts and ß are not issued), so a
 * read with ß is a misread rather than "SS". Ð is kept: it is the same glyph as Đ. × and ÷
 * are symbols.
 */
static const char s_latin[] = "AAAAAA.CEEEEIIII" /* U+00C0 À Á Â Ã Ä Å Æ Ç È É Ê Ë Ì Í Î Ï */
                              "DNOOOOO.OUUUUY.." /* U+00D0 Ð Ñ Ò Ó Ô Õ Ö × Ø Ù Ú Û Ü Ý Þ ß */
                              "AAAAAA.CEEEEIIII" /* U+00E0 à á â ã ä å æ ç è é ê ë ì í î ï */
                              ".NOOOOO.OUUUUY.Y" /* U+00F0 ð ñ ò ó ô õ ö ÷ ø ù ú û ü ý þ ÿ */
                              "AAAAAACCCCCCCCDD" /* U+0100 Ā ā Ă ă Ą ą Ć ć Ĉ ĉ Ċ ċ Č č Ď ď */
                              "DDEEEEEEEEEEGGGG" /* U+0110 Đ đ Ē ē Ĕ ĕ Ė ė Ę ę Ě ě Ĝ ĝ Ğ ğ */
                              "GGGGHHHHIIIIIIII" /* U+0120 Ġ ġ Ģ ģ Ĥ ĥ Ħ ħ Ĩ ĩ Ī ī Ĭ ĭ Į į */
                              "II..JJKK.LLLLLLL" /* U+0130 İ ı Ĳ ĳ Ĵ ĵ Ķ ķ ĸ Ĺ ĺ Ļ ļ Ľ ľ Ŀ */
                              "LLLNNNNNN...OOOO" /* U+0140 ŀ Ł ł Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ Ō ō Ŏ ŏ */
                              "OO..RRRRRRSSSSSS" /* U+0150 Ő ő Œ œ Ŕ ŕ Ŗ ŗ Ř ř Ś ś Ŝ ŝ Ş ş */
                              "SSTTTTTTUUUUUUUU" /* U+0160 Š š Ţ ţ Ť ť Ŧ ŧ Ũ ũ Ū ū Ŭ ŭ Ů ů */
                              "UUUUWWYYYZZZZZZ."; /* U+0170 Ű ű Ų ų Ŵ ŵ Ŷ ŷ Ÿ Ź ź Ż ż Ž ž ſ */

/*
 * Cyrillic and Greek letters that a reader (or a person typing a watchlist entry on a Cyrillic
 * or Greek keyboard) gives for the Latin letter they look like. Only letters whose glyph is
 * the Latin letter's, in upper case or as its small capital (Cyrillic в к м н т, Greek κ τ):
 * Greek lower-case η μ ν υ look like n u v u, not like H M N Y, and β ε like ß and an open e,
 * so they stay invalid, as do Cyrillic letters with no Latin twin (Д, Л, Я, ...).
 */
static const struct {
    uint16_t cp;
    char to;
} s_glyphs[] = {
    /* Greek capitals Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ */
    {0x0391, 'A'}, /* Α */
    {0x0392, 'B'}, /* Β */
    {0x0395, 'E'}, /* Ε */
    {0x0396, 'Z'}, /* Ζ */
    {0x0397, 'H'}, /* Η */
    {0x0399, 'I'}, /* Ι */
    {0x039A, 'K'}, /* Κ */
    {0x039C, 'M'}, /* Μ */
    {0x039D, 'N'}, /* Ν */
    {0x039F, 'O'}, /* Ο */
    {0x03A1, 'P'}, /* Ρ */
    {0x03A4, 'T'}, /* Τ */
    {0x03A5, 'Y'}, /* Υ */
    {0x03A7, 'X'}, /* Χ */
    /* Greek small α ι κ ο ρ τ χ */
    {0x03B1, 'A'}, /* α */
    {0x03B9, 'I'}, /* ι */
    {0x03BA, 'K'}, /* κ */
    {0x03BF, 'O'}, /* ο */
    {0x03C1, 'P'}, /* ρ */
    {0x03C4, 'T'}, /* τ */
    {0x03C7, 'X'}, /* χ */
    /* Cyrillic capitals Ѕ І Ј, А В Е К М Н О Р С Т У Х */
    {0x0405, 'S'}, /* Ѕ */
    {0x0406, 'I'}, /* І */
    {0x0408, 'J'}, /* Ј */
    {0x0410, 'A'}, /* А */
    {0x0412, 'B'}, /* В */
    {0x0415, 'E'}, /* Е */
    {0x041A, 'K'}, /* К */
    {0x041C, 'M'}, /* М */
    {0x041D, 'H'}, /* Н */
    {0x041E, 'O'}, /* О */
    {0x0420, 'P'}, /* Р */
    {0x0421, 'C'}, /* С */
    {0x0422, 'T'}, /* Т */
    {0x0423, 'Y'}, /* У */
    {0x0425, 'X'}, /* Х */
    /* Cyrillic small а в е к м н о р с т у х, ѕ і ј */
    {0x0430, 'A'}, /* а */
    {0x0432, 'B'}, /* в */
    {0x0435, 'E'}, /* е */
    {0x043A, 'K'}, /* к */
    {0x043C, 'M'}, /* м */
    {0x043D, 'H'}, /* н */
    {0x043E, 'O'}, /* о */
    {0x0440, 'P'}, /* р */
    {0x0441, 'C'}, /* с */
    {0x0442, 'T'}, /* т */
    {0x0443, 'Y'}, /* у */
    {0x0445, 'X'}, /* х */
    {0x0455, 'S'}, /* ѕ */
    {0x0456, 'I'}, /* і */
    {0x0458, 'J'}, /* ј */
};

/*
 * Decode one UTF-8 sequence at p into *cp; returns its length, or 0 when it is not well-formed
 * (truncated, overlong, a surrogate or beyond U+10FFFF). An overlong form must not slip a
 * separator or a letter past the check, so only the shortest form is accepted. Never reads
 * past a NUL: NUL is not a continuation byte.
 */
static size_t s_utf8(const unsigned char *p, uint32_t *cp)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC0 && c < 0xE0) {
        len = 2;
        c &= 0x1F;
    } else if (c >= 0xE0 && c < 0xF0) {
        len = 3;
        c &= 0x0F;
    } else if (c >= 0xF0 && c < 0xF8) {
        len = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* What each ASCII character becomes in a plate (see s_fold): by table, as nearly every byte
 * of a read is ASCII. */
#define S_LETTER(u) [u] = u, [(u) - 'A' + 'a'] = u
/* clang-format off */
static const char s_ascii[0x80] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
    ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
    S_LETTER('A'), S_LETTER('B'), S_LETTER('C'), S_LETTER('D'), S_LETTER('E'), S_LETTER('F'),
    S_LETTER('G'), S_LETTER('H'), S_LETTER('I'), S_LETTER('J'), S_LETTER('K'), S_LETTER('L'),
    S_LETTER('M'), S_LETTER('N'), S_LETTER('O'), S_LETTER('P'), S_LETTER('Q'), S_LETTER('R'),
    S_LETTER('S'), S_LETTER('T'), S_LETTER('U'), S_LETTER('V'), S_LETTER('W'), S_LETTER('X'),
    S_LETTER('Y'), S_LETTER('Z'),
    [' '] = S_SEP, ['\t'] = S_SEP, ['-'] = S_SEP, ['.'] = S_SEP, ['_'] = S_SEP, ['/'] = S_SEP,
    ['?'] = S_WILD, ['*'] = S_WILD,
};
/* clang-format on */
#undef S_LETTER

/* What code point cp becomes in a plate: an upper-case letter or a digit, or S_BAD/S_SEP/S_WILD. */
static char s_fold(uint32_t cp)
{
    if (cp < 0x80)
        return s_ascii[cp];
    if (cp == 0x00B7 || cp == 0x2013) /* middle dot, en dash */
        return S_SEP;
    if (cp >= 0xC0 && cp <= 0x17F)
        return s_latin[cp - 0xC0] == '.' ? S_BAD : s_latin[cp - 0xC0];
    for (size_t i = 0; i < sizeof(s_glyphs) / sizeof(s_glyphs[0]); i++)
        if (s_glyphs[i].cp == cp)
            return s_glyphs[i].to;
    return S_BAD;
}

/*
 * The common case, a plate of ASCII letters, digits and separators that fits: true with out
 * set. Anything else (another character, too long, nothing left) is left to the full loop of
 * s_normalise, which then gives the same result as if this had not been tried.
 */
static bool s_normalise_ascii(const unsigned char *p, char out[PLATE_MAX + 1])
{
    size_t n = 0;

    for (;; p++) {
        unsigned b = *p;
        char c = b < 0x80 ? s_ascii[b] : S_BAD;
        if (c > S_WILD) {
            if (n == PLATE_MAX)
                return false;
            out[n++] = c;
        } else if (c != S_SEP) {
            if (b != 0 || n == 0)
                return false;
            out[n] = '\0';
            return true;
        }
    }
}

/* plate_normalise and plate_normalise_pattern, which differ only in keeping '?' and '*'. */
static enum plate_status s_normalise(const char *raw, bool pattern, char out[PLATE_MAX + 1])
{
    const unsigned char *p = (const unsigned char *)raw;
    size_t n = 0;
    bool alnum = false;
    char last = '\0';

    if (raw && !pattern && s_normalise_ascii(p, out))
        return PLATE_OK;
    out[0] = '\0';
    if (!raw)
        return PLATE_EMPTY;
    while (*p) {
        uint32_t cp = *p;
        size_t len = 1;
        char c;

        if (cp < 0x80) {
            c = s_ascii[cp]; /* no decoding for ASCII, nearly every byte of a read */
        } else {
            len = s_utf8(p, &cp);
            c = len ? s_fold(cp) : S_BAD;
        }

        if (c == S_BAD || (c == S_WILD && !pattern)) {
            out[0] = '\0';
            return PLATE_INVALID;
        }
        p += len;
        if (c == S_SEP)
            continue;
        if (c == S_WILD)
            c = (char)cp;
        else
            alnum = true;
        /* "A*-*B" is "A**B" once the separator is gone, so fold across separators too. */
        if (c == '*' && last == '*')
            continue;
        /* Keep scanning past the limit: an invalid character wins over "too long". */
        if (n < PLATE_MAX)
            out[n] = c;
        n++;
        last = c;
    }
    if (n == 0)
        return PLATE_EMPTY;
    /* Wildcards alone match plates by their length only: never a sensible watchlist entry. */
    if (!alnum) {
        out[0] = '\0';
        return PLATE_INVALID;
    }
    if (n > PLATE_MAX) {
        out[0] = '\0';
        return PLATE_LONG;
    }
    out[n] = '\0';
    return PLATE_OK;
}

enum plate_status plate_normalise(const char *raw, char out[PLATE_MAX + 1])
{
    return s_normalise(raw, false, out);
}

enum plate_status plate_normalise_pattern(const char *raw, char out[PLATE_MAX + 1])
{
    return s_normalise(raw, true, out);
}

bool plate_is_pattern(const char *plate)
{
    return plate && strpbrk(plate, "?*") != NULL;
}

/*
 * Registration formats, as shapes of the normalised plate (no separators). A shape is a
 * sequence of atoms, each optionally followed by {m} or {m,n} (that many of it):
 *   a  a letter A-Z      d  a digit 0-9      n  a digit 1-9 (numbers without leading zeros)
 *   [..]  one of the characters listed       any other character  itself
 * max is the most characters the whole plate may have (0: the shape alone decides).
 *
 * Only the general series and the special series one meets on the road are here; trade,
 * diplomatic, military and personalised plates mostly are not, so plate_fits() says whether
 * a plate looks like an ordinary one, not whether it exists.
 *
 * BE  naaaddd          1-ABC-123, since 2010 (1-7 ordinary, 8 international, 9 personalised)
 *     [GMOQSTW]aaaddd  the same with a category letter: G tractor, M/W motorcycle, O oldtimer,
 *                      Q trailer, S moped, T taxi
 *     aaaddd  dddaaa   ABC-123 (1973-2008), 123-ABC (2008-2010), still driven
 *     a{1,3}d{1,4}     X.1111 and XX.111 (1953-1973, codes 1 and 6) and short special series
 *                      (A-14 government, P-114 parliament, CD diplomats)
 *     daddd ddadd dddad dddda  daadd ddaad dddaa addda
 *                      the other 1953-1973 codes (2-5, 7-10): 1.X.111 ... 111.XX, X.111.X
 * NL  the side codes, letters (a) and digits (d) in groups; 6 characters in all
 *      1 aa-dd-dd   2 dd-dd-aa   3 dd-aa-dd   4 aa-dd-aa   5 aa-aa-dd   6 dd-aa-aa
 *      7 dd-aaa-d   8 d-aaa-dd   9 aa-ddd-a  10 a-ddd-aa  11 aaa-dd-a  12 a-dd-aaa
 *     13 d-aa-ddd  14 ddd-aa-d
 * DE  a{2,5}nd{0,3}    district (1-3 letters) + 1-2 letters + number 1-9999, at most 8 in all;
 *                      where district and letters meet cannot be told without the district
 *                      list, so 2-5 letters
 *     a{2,5}nd{0,3}[EH]  the same with E (electric) or H (historic) after it; a one-line
 *                      plate then holds at most 7 + E, a two-line plate 8 + E, so 9 in all
 * FR  aadddaa          AB-123-CD (SIV, since 2009)
 *     nd{0,3}a{1,3}dd  1234 AB 75 (FNI, 1950-2009, still driven): number, letters, department
 *     nd{0,3}a{1,3}2[AB]  the same in Corsica (2A, 2B)
 *     nd{0,3}a{1,3}97d    the same overseas (971-976)
 * LU  a{1,2}dddd       AB 1234
 *     nd{3,5}          1234 to 999999
 * GB  aaddaaa          AB12 CDE (since 2001)
 *     and{0,2}aaa      A123 BCD (1983-2001, still driven)
 *     a{0,1}Iand{0,3}  a{0,1}a[IZ]nd{0,3}
 *                      Northern Ireland: ABZ 1234, county code with I or Z, number 1-9999
 * The GB suffix (ABC 123D, 1963-1983) and dateless series are not here.
 */
static const struct {
    char country[3];
    unsigned char max;
    const char *shape;
} s_formats[] = {
    {"BE", 0, "naaaddd"},
    {"BE", 0, "[GMOQSTW]aaaddd"},
    {"BE", 0, "aaaddd"},
    {"BE", 0, "dddaaa"},
    {"BE", 0, "a{1,3}d{1,4}"},
    {"BE", 0, "daddd"},
    {"BE", 0, "ddadd"},
    {"BE", 0, "dddad"},
    {"BE", 0, "dddda"},
    {"BE", 0, "daadd"},
    {"BE", 0, "ddaad"},
    {"BE", 0, "dddaa"},
    {"BE", 0, "addda"},
    {"NL", 0, "aadddd"},
    {"NL", 0, "ddddaa"},
    {"NL", 0, "ddaadd"},
    {"NL", 0, "aaddaa"},
    {"NL", 0, "aaaadd"},
    {"NL", 0, "ddaaaa"},
    {"NL", 0, "ddaaad"},
    {"NL", 0, "daaadd"},
    {"NL", 0, "aaddda"},
    {"NL", 0, "adddaa"},
    {"NL", 0, "aaadda"},
    {"NL", 0, "addaaa"},
    {"NL", 0, "daaddd"},
    {"NL", 0, "dddaad"},
    {"DE", 8, "a{2,5}nd{0,3}"},
    {"DE", 9, "a{2,5}nd{0,3}[EH]"},
    {"FR", 0, "aadddaa"},
    {"FR", 0, "nd{0,3}a{1,3}dd"},
    {"FR", 0, "nd{0,3}a{1,3}2[AB]"},
    {"FR", 0, "nd{0,3}a{1,3}97d"},
    {"LU", 0, "a{1,2}dddd"},
    {"LU", 0, "nd{3,5}"},
    {"GB", 0, "aaddaaa"},
    {"GB", 0, "and{0,2}aaa"},
    {"GB", 0, "a{0,1}Iand{0,3}"},
    {"GB", 0, "a{0,1}a[IZ]nd{0,3}"},
};

/*
 * The euroband codes a camera may read in front of the plate. GB plates carried GB until
 * September 2021 and UK since, so both are on the road.
 */
static const struct {
    char country[3];
    char code[3];
} s_eurobands[] = {
    {"BE", "B"}, {"NL", "NL"}, {"DE", "D"}, {"FR", "F"}, {"LU", "L"}, {"GB", "GB"}, {"GB", "UK"},
};

/* Whether c is one the atom at shape (ending at end) stands for. */
static bool s_atom(const char *shape, const char *end, char c)
{
    switch (*shape) {
    case 'a':
        return c >= 'A' && c <= 'Z';
    case 'd':
        return c >= '0' && c <= '9';
    case 'n':
        return c >= '1' && c <= '9';
    case '[':
        return c != '\0' && memchr(shape + 1, c, (size_t)(end - shape - 2)) != NULL;
    default:
        return c == *shape;
    }
}

/* Whether all of s matches shape (see the table above); backtracks over the counts. */
static bool s_match(const char *shape, const char *s)
{
    const char *end = shape + 1;
    unsigned lo = 1, hi = 1;

    if (*shape == '\0')
        return *s == '\0';
    if (*shape == '[')
        end = strchr(shape, ']') + 1;
    const char *next = end;
    if (*next == '{') {
        lo = 0;
        for (next++; *next >= '0' && *next <= '9'; next++)
            lo = lo * 10 + (unsigned)(*next - '0');
        hi = lo;
        if (*next == ',')
            for (hi = 0, next++; *next >= '0' && *next <= '9'; next++)
                hi = hi * 10 + (unsigned)(*next - '0');
        next++; /* '}' */
    }
    /* Take as many as allowed and fit, then give back one at a time. */
    unsigned k = 0;
    while (k < hi && s_atom(shape, end, s[k]))
        k++;
    for (;; k--) {
        if (k < lo)
            return false;
        if (s_match(next, s + k))
            return true;
        if (k == 0)
            return false;
    }
}

/* Country codes compare without case: "be" is as clear as "BE". */
static bool s_same_country(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 'a' + 'A') : *a;
        if (x != *b)
            return false;
    }
    return *a == *b;
}

/* Whether we know formats for country. */
static bool s_known(const char *country)
{
    if (!country)
        return false;
    for (size_t i = 0; i < sizeof(s_formats) / sizeof(s_formats[0]); i++)
        if (s_same_country(country, s_formats[i].country))
            return true;
    return false;
}

bool plate_fits(const char *country, const char *plate)
{
    if (!plate)
        return false;
    if (!s_known(country))
        return true;
    size_t len = strlen(plate);
    for (size_t i = 0; i < sizeof(s_formats) / sizeof(s_formats[0]); i++) {
        if (!s_same_country(country, s_formats[i].country))
            continue;
        if (s_formats[i].max && len > s_formats[i].max)
            continue;
        if (s_match(s_formats[i].shape, plate))
            return true;
    }
    return false;
}

enum plate_status plate_normalise_cc(const char *raw, const char *country, char out[PLATE_MAX + 1])
{
    enum plate_status st = plate_normalise(raw, out);

    /* No s_known() here: the loop below acts only on the countries it lists, all known. */
    if (st != PLATE_OK || !country || !country[0] || !country[1] || country[2])
        return st;
    /* Upper case once, not per table row: this runs for every reading of every read. */
    char cc[3] = {country[0], country[1], '\0'};
    for (int k = 0; k < 2; k++)
        if (cc[k] >= 'a' && cc[k] <= 'z')
            cc[k] = (char)(cc[k] - 'a' + 'A');
    /*
     * Only the code of the camera's own country, and only when the plate does not fit with it
     * and what is left does: a plate that fits neither way is kept as read, so a read is never
     * shortened on a guess. The prefix is looked at first: most plates do not start with the
     * code, and the format checks are the costly part of a read's normalisation.
     */
    for (size_t i = 0; i < sizeof(s_eurobands) / sizeof(s_eurobands[0]); i++) {
        if (cc[0] != s_eurobands[i].country[0] || cc[1] != s_eurobands[i].country[1])
            continue;
        size_t n = strlen(s_eurobands[i].code);
        if (strncmp(out, s_eurobands[i].code, n) != 0 || plate_fits(country, out) ||
            !plate_fits(country, out + n))
            continue;
        memmove(out, out + n, strlen(out + n) + 1);
        break;
    }
    return st;
}

/* Little-endian load of up to 8 bytes, so the hash is the same on every host. */
static uint64_t s_load(const unsigned char *p, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

unsigned long long plate_hash(const char *plate, size_t len)
{
    const unsigned char *p = (const unsigned char *)plate;
    /* FNV-1a over 64-bit words instead of bytes: plates are short, so 1-3 rounds in all. */
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)len;

    while (len >= 8) {
        h = (h ^ s_load(p, 8)) * 0x100000001b3ULL;
        h ^= h >> 32; /* the multiply only carries upwards; fold high bits back down */
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        h = (h ^ s_load(p, len)) * 0x100000001b3ULL;
        h ^= h >> 32;
    }
    /* murmur3 fmix64: full avalanche, so any bit range of the result may index a table. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
