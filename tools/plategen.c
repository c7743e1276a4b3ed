/*
 * plategen: realistic plates from a seeded generator. See plategen.h.
 */
#include "plategen.h"

#include <stdio.h>
#include <string.h>

#define S_LETTERS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
/* Dutch side codes use no vowels and none of C, M, Q, W, Y (confusable or offensive combos). */
#define S_NL_LETTERS "BDFGHJKLNPRSTVXZ"
/* French SIV plates leave out I, O and U. */
#define S_FR_LETTERS "ABCDEFGHJKLMNPQRSTVWXYZ"
/* British plates leave I and Q out of the random letters. */
#define S_GB_LETTERS "ABCDEFGHJKLMNOPRSTUVWXYZ"

/* German district codes (Unterscheidungszeichen), big cities and the Belgian/Dutch border. */
static const char *const s_de_districts[] = {
    "B",  "M",   "K",   "HH", "HB",  "F",   "S",   "D",   "DO",  "E",  "DU", "BO",
    "GE", "MS",  "BN",  "AC", "DN",  "EU",  "HS",  "VIE", "KLE", "MG", "NE", "BM",
    "GL", "SU",  "LEV", "KR", "WES", "BOR", "COE", "OB",  "MH",  "HA", "MK", "HSK",
    "TR", "BIT", "DAU", "SB", "KA",  "HD",  "MA",  "N",   "R",   "A",  "WW", "SI",
    "OE", "ST",  "H",   "HN", "EMS", "MYK", "AW",  "EUS", "RE",  "GT", "PB", "BI",
};
#define S_DE_DISTRICTS (sizeof(s_de_districts) / sizeof(s_de_districts[0]))

void plategen_seed(struct plategen *g, uint64_t seed)
{
    g->state = seed;
}

uint64_t plategen_next(struct plategen *g)
{
    uint64_t z = (g->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint32_t plategen_below(struct plategen *g, uint32_t n)
{
    /* Multiply-shift (Lemire): no division, bias below 2^-32. */
    return (uint32_t)(((plategen_next(g) >> 32) * (uint64_t)n) >> 32);
}

static char s_pick(struct plategen *g, const char *set)
{
    return set[plategen_below(g, (uint32_t)strlen(set))];
}

static void s_letters(struct plategen *g, const char *set, int n, char *out)
{
    for (int i = 0; i < n; i++)
        out[i] = s_pick(g, set);
    out[n] = '\0';
}

/* n digits, first one not zero. */
static void s_number(struct plategen *g, int n, char *out)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)('0' + (i == 0 ? 1 + plategen_below(g, 9) : plategen_below(g, 10)));
    out[n] = '\0';
}

/* n digits, leading zeros allowed but not all zero (e.g. Belgian 001..999). */
static void s_digits_nz(struct plategen *g, int n, char *out)
{
    do {
        for (int i = 0; i < n; i++)
            out[i] = (char)('0' + plategen_below(g, 10));
        out[n] = '\0';
    } while (strspn(out, "0") == (size_t)n);
}

static void s_be(struct plategen *g, char plate[17])
{
    char l[4], d[4];

    s_letters(g, S_LETTERS, 3, l);
    s_digits_nz(g, 3, d);
    /* Current series started at 1 in 2010 and reached 2 in 2021; a few 1973-2010 plates remain. */
    uint32_t r = plategen_below(g, 100);
    if (r < 5)
        snprintf(plate, 17, "%s-%s", l, d);
    else
        snprintf(plate, 17, "%c-%s-%s", r < 70 ? '1' : '2', l, d);
}

static void s_nl(struct plategen *g, char plate[17])
{
    char a[4], b[4], c[4];
    /* Side codes 4..14, weighted towards the current ones (7..11). */
    static const int codes[] = {4, 5, 6, 7, 7, 7, 8, 8, 8, 9, 9, 10, 10, 11, 11, 12, 13, 14};
    int code = codes[plategen_below(g, sizeof(codes) / sizeof(codes[0]))];

    switch (code) {
    case 4: /* XX-99-XX */
        s_letters(g, S_NL_LETTERS, 2, a);
        snprintf(b, sizeof(b), "%02u", plategen_below(g, 100));
        s_letters(g, S_NL_LETTERS, 2, c);
        break;
    case 5: /* XX-XX-99 */
        s_letters(g, S_NL_LETTERS, 2, a);
        s_letters(g, S_NL_LETTERS, 2, b);
        snprintf(c, sizeof(c), "%02u", plategen_below(g, 100));
        break;
    case 6: /* 99-XX-XX */
        snprintf(a, sizeof(a), "%02u", plategen_below(g, 100));
        s_letters(g, S_NL_LETTERS, 2, b);
        s_letters(g, S_NL_LETTERS, 2, c);
        break;
    case 7: /* 99-XXX-9 */
        snprintf(a, sizeof(a), "%02u", plategen_below(g, 100));
        s_letters(g, S_NL_LETTERS, 3, b);
        snprintf(c, sizeof(c), "%u", plategen_below(g, 10));
        break;
    case 8: /* 9-XXX-99 */
        snprintf(a, sizeof(a), "%u", plategen_below(g, 10));
        s_letters(g, S_NL_LETTERS, 3, b);
        snprintf(c, sizeof(c), "%02u", plategen_below(g, 100));
        break;
    case 9: /* XX-999-X */
        s_letters(g, S_NL_LETTERS, 2, a);
        snprintf(b, sizeof(b), "%03u", plategen_below(g, 1000));
        s_letters(g, S_NL_LETTERS, 1, c);
        break;
    case 10: /* X-999-XX */
        s_letters(g, S_NL_LETTERS, 1, a);
        snprintf(b, sizeof(b), "%03u", plategen_below(g, 1000));
        s_letters(g, S_NL_LETTERS, 2, c);
        break;
    case 11: /* XXX-99-X */
        s_letters(g, S_NL_LETTERS, 3, a);
        snprintf(b, sizeof(b), "%02u", plategen_below(g, 100));
        s_letters(g, S_NL_LETTERS, 1, c);
        break;
    case 12: /* X-99-XXX */
        s_letters(g, S_NL_LETTERS, 1, a);
        snprintf(b, sizeof(b), "%02u", plategen_below(g, 100));
        s_letters(g, S_NL_LETTERS, 3, c);
        break;
    case 13: /* 9-XX-999 */
        snprintf(a, sizeof(a), "%u", plategen_below(g, 10));
        s_letters(g, S_NL_LETTERS, 2, b);
        snprintf(c, sizeof(c), "%03u", plategen_below(g, 1000));
        break;
    default: /* 14: 999-XX-9 */
        snprintf(a, sizeof(a), "%03u", plategen_below(g, 1000));
        s_letters(g, S_NL_LETTERS, 2, b);
        snprintf(c, sizeof(c), "%u", plategen_below(g, 10));
        break;
    }
    snprintf(plate, 17, "%s-%s-%s", a, b, c);
}

static void s_de(struct plategen *g, char plate[17])
{
    const char *district = s_de_districts[plategen_below(g, S_DE_DISTRICTS)];
    int room = 8 - (int)strlen(district); /* at most 8 characters in all */
    int nletters = 1 + (int)plategen_below(g, 2);
    int max_digits = room - nletters < 4 ? room - nletters : 4;
    int ndigits = 1 + (int)plategen_below(g, (uint32_t)max_digits);
    char l[3], d[5];

    s_letters(g, S_LETTERS, nletters, l);
    s_number(g, ndigits, d);
    /* About 2% carry the E suffix of electric cars. */
    snprintf(plate, 17, "%s %s %s%s", district, l, d, plategen_below(g, 50) == 0 ? "E" : "");
}

static void s_fr(struct plategen *g, char plate[17])
{
    char a[3], d[4], b[3];

    s_letters(g, S_FR_LETTERS, 2, a);
    s_digits_nz(g, 3, d);
    s_letters(g, S_FR_LETTERS, 2, b);
    snprintf(plate, 17, "%s-%s-%s", a, d, b);
}

static void s_lu(struct plategen *g, char plate[17])
{
    char a[3], d[7];

    if (plategen_below(g, 10) < 7) {
        s_letters(g, S_LETTERS, 2, a);
        s_number(g, 4, d);
        snprintf(plate, 17, "%s %s", a, d);
    } else {
        s_number(g, 4 + (int)plategen_below(g, 3), d);
        snprintf(plate, 17, "%s", d);
    }
}

static void s_gb(struct plategen *g, char plate[17])
{
    char area[3], rnd[4];
    /* Age identifier: March registrations 02..25, September ones 51..74. */
    unsigned age = 2 + plategen_below(g, 24);

    if (plategen_below(g, 2))
        age += 49;
    s_letters(g, S_GB_LETTERS, 2, area);
    s_letters(g, S_GB_LETTERS, 3, rnd);
    snprintf(plate, 17, "%s%02u %s", area, age, rnd);
}

void plategen_plate_for(struct plategen *g, const char *country, char plate[17])
{
    if (!country)
        country = "BE";
    if (strcmp(country, "NL") == 0)
        s_nl(g, plate);
    else if (strcmp(country, "DE") == 0)
        s_de(g, plate);
    else if (strcmp(country, "FR") == 0)
        s_fr(g, plate);
    else if (strcmp(country, "LU") == 0)
        s_lu(g, plate);
    else if (strcmp(country, "GB") == 0)
        s_gb(g, plate);
    else
        s_be(g, plate);
}

void plategen_plate(struct plategen *g, char plate[17], char country[3])
{
    /* Cumulative per cent: BE 60, NL 25, DE 8, FR 4, LU 2, GB 1. */
    static const struct {
        unsigned upto;
        const char *code;
    } mix[] = {{60, "BE"}, {85, "NL"}, {93, "DE"}, {97, "FR"}, {99, "LU"}, {100, "GB"}};
    uint32_t r = plategen_below(g, 100);
    size_t i = 0;

    while (r >= mix[i].upto)
        i++;
    memcpy(country, mix[i].code, 3);
    plategen_plate_for(g, country, plate);
}

void plategen_misread(struct plategen *g, const char *plate, unsigned p_permille, char out[17])
{
    static const char from[] = "0O1I8B5S2Z6G";
    static const char to[] = "O0I1B8S5Z2G6";
    size_t i = 0;

    for (; plate[i] && i < 16; i++) {
        char c = plate[i];
        /* One draw per character whatever it is, so a seed replays the same misreadings. */
        if (plategen_below(g, 1000) < p_permille) {
            const char *hit = strchr(from, c);
            if (hit && c)
                c = to[hit - from];
        }
        out[i] = c;
    }
    out[i] = '\0';
}
