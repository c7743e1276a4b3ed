/*
 * test_plate: plate normalisation and hashing, and that every generated plate normalises.
 */
#include "check.h"
#include "plate.h"
#include "plategen.h"

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
    NORM_ERR("M\xC3\x96"
             "1",
             PLATE_INVALID);             /* Ö */
    NORM_ERR("\xC3\xB6", PLATE_INVALID); /* ö */
    NORM_ERR("AB\n1", PLATE_INVALID);
    NORM_ERR("AB\r1", PLATE_INVALID);
    NORM_ERR("\x01"
             "AB",
             PLATE_INVALID);
    NORM_ERR("AB\x7f", PLATE_INVALID);
    NORM_ERR("AB\xC2", PLATE_INVALID);         /* truncated middle dot */
    NORM_ERR("AB\xC2\xB8", PLATE_INVALID);     /* cedilla, not a middle dot */
    NORM_ERR("AB\xE2\x80", PLATE_INVALID);     /* truncated en dash */
    NORM_ERR("AB\xE2\x80\x94", PLATE_INVALID); /* em dash */
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

    /* Per-country formats, and a seed replays the same sequence. */
    for (unsigned c = 0; c < 6; c++) {
        for (int i = 0; i < 2000; i++) {
            plategen_plate_for(&g, codes[c], plate);
            if (plate_normalise(plate, norm) != PLATE_OK)
                bad++;
        }
    }
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
    test_hash();
    test_plategen();
    return check_done("plate");
}
