/*
 * test_wl: watchlist snapshot building, lookup rules, builder errors, and a 1M-entry table.
 */
#include "check.h"
#include "wl.h"

#include <stdlib.h>
#include <time.h>

#define T0 1700000000000000LL /* some UTC µs */

static struct wl_entry_in s_in(uint64_t id, uint32_t list_id, const char *plate)
{
    struct wl_entry_in in = {
        .id = id,
        .list_id = list_id,
        .plate = plate,
        .country = "",
        .valid_from_us = WL_UNBOUNDED_FROM,
        .valid_until_us = WL_UNBOUNDED_UNTIL,
    };
    return in;
}

/* Add an entry that must be accepted. */
static void s_add(wl_builder_t *b, const struct wl_entry_in *in)
{
    char err[256] = "";
    int rc = wl_builder_add(b, in, err, sizeof(err));
    CHECK_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  add %llu: %s\n", (unsigned long long)in->id, err);
}

static wl_builder_t *s_builder_with_lists(void)
{
    char err[256] = "";
    wl_builder_t *b = wl_builder_new();
    CHECK(b != NULL);
    if (!b)
        exit(1);
    CHECK_INT(wl_builder_add_list(b, 1, "Stolen vehicles", "stolen", 1, err, sizeof(err)), 0);
    CHECK_INT(wl_builder_add_list(b, 2, "Wanted persons", "wanted", 3, err, sizeof(err)), 0);
    CHECK_INT(wl_builder_add_list(b, 7, "Uninsured", "uninsured", 9, err, sizeof(err)), 0);
    return b;
}

static size_t s_look(const wl_t *w, const char *plate, const char *country, int64_t t)
{
    const struct wl_entry *out[8];
    return wl_lookup(w, plate, country, t, out, 8);
}

static void test_basic(void)
{
    wl_builder_t *b = s_builder_with_lists();
    char plate[32] = "1-abc-123", instr[64] = "Stop and check papers", ref[32] = "PV-2026-001";

    struct wl_entry_in in = s_in(10, 1, plate);
    in.instruction = instr;
    in.external_ref = ref;
    s_add(b, &in);
    /* The builder copies strings: scribbling over the caller's buffers changes nothing. */
    memset(plate, 'x', sizeof(plate) - 1);
    memset(instr, 'x', sizeof(instr) - 1);
    memset(ref, 'x', sizeof(ref) - 1);

    in = s_in(11, 2, "AB 12 CD");
    s_add(b, &in);
    in = s_in(12, 7, "HS-AB-123");
    s_add(b, &in);

    wl_t *w = wl_builder_build(&b);
    CHECK(w != NULL);
    CHECK(b == NULL);
    CHECK_INT(wl_entry_count(w), 3);
    CHECK_INT(wl_list_count(w), 3);
    CHECK(wl_memory_bytes(w) > 3 * sizeof(struct wl_entry));

    const struct wl_entry *out[4] = {NULL};
    CHECK_INT(wl_lookup(w, "1ABC123", "BE", T0, out, 4), 1);
    const struct wl_entry *e = out[0];
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(e->id, 10);
        CHECK_STR(e->plate, "1ABC123");
        CHECK_STR(e->country, "");
        CHECK_STR(e->instruction, "Stop and check papers");
        CHECK_STR(e->external_ref, "PV-2026-001");
        CHECK_INT(e->list->id, 1);
        CHECK_INT(e->list->priority, 1);
        CHECK_STR(e->list->name, "Stolen vehicles");
        CHECK_STR(e->list->category, "stolen");
    }
    CHECK_INT(wl_lookup(w, "AB12CD", "", T0, out, 4), 1);
    if (out[0]) {
        CHECK_INT(out[0]->id, 11);
        /* NULL strings read back as "", never NULL. */
        CHECK_STR(out[0]->instruction, "");
        CHECK_STR(out[0]->external_ref, "");
        CHECK_INT(out[0]->list->priority, 3);
    }
    CHECK_INT(wl_lookup(w, "HSAB123", NULL, T0, out, 4), 1);
    if (out[0])
        CHECK_INT(out[0]->list->id, 7);

    /* Whole plates only: no substring, superstring or unnormalised match. */
    CHECK_INT(s_look(w, "1ABC12", "", T0), 0);
    CHECK_INT(s_look(w, "ABC123", "", T0), 0);
    CHECK_INT(s_look(w, "1ABC1234", "", T0), 0);
    CHECK_INT(s_look(w, "X1ABC123", "", T0), 0);
    CHECK_INT(s_look(w, "1-ABC-123", "", T0), 0);
    CHECK_INT(s_look(w, "1abc123", "", T0), 0);
    CHECK_INT(s_look(w, "", "", T0), 0);
    CHECK_INT(s_look(w, "ABCDEFGHIJ12345678", "", T0), 0);
    CHECK_INT(s_look(w, NULL, "", T0), 0);
    CHECK_INT(s_look(NULL, "1ABC123", "", T0), 0);

    wl_destroy(&w);
    CHECK(w == NULL);
}

static void test_same_plate(void)
{
    wl_builder_t *b = s_builder_with_lists();
    struct wl_entry_in in;

    /* The same plate on three lists, spelled differently, with unrelated plates in between. */
    in = s_in(1, 1, "1-XYZ-999");
    s_add(b, &in);
    in = s_in(2, 1, "2-XYZ-999");
    s_add(b, &in);
    in = s_in(3, 2, "1 XYZ 999");
    s_add(b, &in);
    in = s_in(4, 7, "1xyz999");
    in.instruction = "Do not intercept";
    s_add(b, &in);
    in = s_in(5, 2, "1XYZ99");
    s_add(b, &in);
    in = s_in(6, 2, "1XYZ999");
    in.instruction = "Do not intercept";
    s_add(b, &in);

    wl_t *w = wl_builder_build(&b);
    CHECK(w != NULL);
    const struct wl_entry *out[8] = {NULL};
    size_t n = wl_lookup(w, "1XYZ999", "BE", T0, out, 8);
    CHECK_INT(n, 4);
    /* All of them, in the order they were added. */
    if (n == 4) {
        CHECK_INT(out[0]->id, 1);
        CHECK_INT(out[1]->id, 3);
        CHECK_INT(out[2]->id, 4);
        CHECK_INT(out[3]->id, 6);
        CHECK_INT(out[1]->list->id, 2);
        CHECK_INT(out[2]->list->id, 7);
        CHECK_STR(out[2]->instruction, "Do not intercept");
        CHECK_STR(out[3]->instruction, "Do not intercept");
    }
    CHECK_INT(s_look(w, "2XYZ999", "", T0), 1);
    CHECK_INT(s_look(w, "1XYZ99", "", T0), 1);

    /* max smaller than the matches: fills max, returns the total. */
    const struct wl_entry *two[3] = {NULL, NULL, NULL};
    CHECK_INT(wl_lookup(w, "1XYZ999", "", T0, two, 2), 4);
    CHECK(two[0] != NULL && two[1] != NULL && two[2] == NULL);
    if (two[0] && two[1]) {
        CHECK_INT(two[0]->id, 1);
        CHECK_INT(two[1]->id, 3);
    }
    CHECK_INT(wl_lookup(w, "1XYZ999", "", T0, NULL, 0), 4);
    wl_destroy(&w);
}

static void test_country(void)
{
    wl_builder_t *b = s_builder_with_lists();
    struct wl_entry_in in;

    in = s_in(1, 1, "ANY1");
    s_add(b, &in);
    in = s_in(2, 1, "BE1");
    in.country = "BE";
    s_add(b, &in);
    in = s_in(3, 1, "NULL1");
    in.country = NULL;
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    CHECK_INT(s_look(w, "ANY1", "NL", T0), 1);
    CHECK_INT(s_look(w, "ANY1", "", T0), 1);
    CHECK_INT(s_look(w, "NULL1", "DE", T0), 1);
    CHECK_INT(s_look(w, "BE1", "BE", T0), 1);
    CHECK_INT(s_look(w, "BE1", "NL", T0), 0);
    CHECK_INT(s_look(w, "BE1", "", T0), 1);
    CHECK_INT(s_look(w, "BE1", NULL, T0), 1);
    CHECK_INT(s_look(w, "BE1", "B", T0), 0);
    CHECK_INT(s_look(w, "BE1", "BEL", T0), 0);

    /* Same plate, one entry per country: a read of one country sees only its own. */
    wl_destroy(&w);
    b = s_builder_with_lists();
    in = s_in(1, 1, "SAME1");
    in.country = "BE";
    s_add(b, &in);
    in = s_in(2, 1, "SAME1");
    in.country = "NL";
    s_add(b, &in);
    in = s_in(3, 2, "SAME1");
    s_add(b, &in);
    w = wl_builder_build(&b);
    const struct wl_entry *out[4];
    CHECK_INT(wl_lookup(w, "SAME1", "NL", T0, out, 4), 2);
    CHECK_INT(out[0]->id, 2);
    CHECK_INT(out[1]->id, 3);
    CHECK_INT(s_look(w, "SAME1", "FR", T0), 1);
    CHECK_INT(s_look(w, "SAME1", "", T0), 3);
    wl_destroy(&w);
}

static void test_validity(void)
{
    wl_builder_t *b = s_builder_with_lists();
    struct wl_entry_in in;

    in = s_in(1, 1, "WIN1");
    in.valid_from_us = T0;
    in.valid_until_us = T0 + 1000;
    s_add(b, &in);
    in = s_in(2, 1, "FROM1");
    in.valid_from_us = T0;
    s_add(b, &in);
    in = s_in(3, 1, "UNTIL1");
    in.valid_until_us = T0;
    s_add(b, &in);
    in = s_in(4, 1, "TINY1");
    in.valid_from_us = T0;
    in.valid_until_us = T0 + 1;
    s_add(b, &in);
    /* Two windows on one plate. */
    in = s_in(5, 1, "TWO1");
    in.valid_from_us = T0;
    in.valid_until_us = T0 + 10;
    s_add(b, &in);
    in = s_in(6, 2, "TWO1");
    in.valid_from_us = T0 + 5;
    in.valid_until_us = T0 + 20;
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    CHECK_INT(s_look(w, "WIN1", "", T0 - 1), 0);
    CHECK_INT(s_look(w, "WIN1", "", T0), 1); /* from is inclusive */
    CHECK_INT(s_look(w, "WIN1", "", T0 + 999), 1);
    CHECK_INT(s_look(w, "WIN1", "", T0 + 1000), 0); /* until is exclusive */
    CHECK_INT(s_look(w, "FROM1", "", T0 - 1), 0);
    CHECK_INT(s_look(w, "FROM1", "", T0), 1);
    CHECK_INT(s_look(w, "FROM1", "", INT64_MAX - 1), 1);
    CHECK_INT(s_look(w, "UNTIL1", "", INT64_MIN), 1);
    CHECK_INT(s_look(w, "UNTIL1", "", T0 - 1), 1);
    CHECK_INT(s_look(w, "UNTIL1", "", T0), 0);
    CHECK_INT(s_look(w, "TINY1", "", T0), 1);
    CHECK_INT(s_look(w, "TINY1", "", T0 + 1), 0);
    CHECK_INT(s_look(w, "TWO1", "", T0 + 4), 1);
    CHECK_INT(s_look(w, "TWO1", "", T0 + 5), 2);
    CHECK_INT(s_look(w, "TWO1", "", T0 + 10), 1);
    CHECK_INT(s_look(w, "TWO1", "", T0 + 20), 0);
    wl_destroy(&w);
}

/* wl_builder_add must fail with a message containing want. */
static void s_add_fails(wl_builder_t *b, const struct wl_entry_in *in, const char *want,
                        const char *want2)
{
    char err[256] = "";
    CHECK_INT(wl_builder_add(b, in, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, want);
    if (want2)
        CHECK_CONTAINS(err, want2);
}

static void s_list_fails(wl_builder_t *b, uint32_t id, const char *name, const char *cat,
                         uint8_t prio, const char *want)
{
    char err[256] = "";
    CHECK_INT(wl_builder_add_list(b, id, name, cat, prio, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, want);
}

static void test_errors(void)
{
    wl_builder_t *b = s_builder_with_lists();
    struct wl_entry_in in;
    char long_name[80];

    in = s_in(100, 1, "AB#1");
    s_add_fails(b, &in, "plate \"AB#1\": invalid character", "100");
    in = s_in(101, 1,
              "M\xC3\x96"
              "1");
    s_add_fails(b, &in, "invalid character", NULL);
    in = s_in(102, 1, " - ");
    s_add_fails(b, &in, "plate", "no letters or digits");
    in = s_in(103, 1, "ABCDEFGHIJ1234567");
    s_add_fails(b, &in, "plate", "more than 16");
    in = s_in(104, 1, "A\nB");
    s_add_fails(b, &in, "A?B", NULL); /* control characters never reach the message */
    in = s_in(105, 1, "ABC#DEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF");
    s_add_fails(b, &in, "...", NULL); /* quoted plates are bounded */
    in = s_in(106, 1, NULL);
    s_add_fails(b, &in, "plate", NULL);

    in = s_in(110, 4, "AB1");
    s_add_fails(b, &in, "unknown list 4", "110");

    static const char *const bad_countries[] = {"nl", "B", "BEL", "B1", "1B", "Ö", " B"};
    for (size_t i = 0; i < sizeof(bad_countries) / sizeof(bad_countries[0]); i++) {
        in = s_in(120, 1, "AB1");
        in.country = bad_countries[i];
        s_add_fails(b, &in, "country", NULL);
    }

    in = s_in(130, 1, "AB1");
    in.valid_from_us = T0;
    in.valid_until_us = T0;
    s_add_fails(b, &in, "valid_from", NULL);
    in.valid_until_us = T0 - 1;
    s_add_fails(b, &in, "valid_from", NULL);

    s_list_fails(b, 1, "Again", "stolen", 2, "duplicate");
    s_list_fails(b, 7, "Again", "stolen", 2, "duplicate");
    s_list_fails(b, 8, "Prio", "stolen", 0, "priority");
    s_list_fails(b, 8, "Prio", "stolen", 10, "priority");
    s_list_fails(b, 8, "", "stolen", 5, "name");
    s_list_fails(b, 8, NULL, "stolen", 5, "name");
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    s_list_fails(b, 8, long_name, "stolen", 5, "name");
    s_list_fails(b, 8, "Cat", "", 5, "category");
    s_list_fails(b, 8, "Cat", NULL, 5, "category");
    long_name[33] = '\0';
    s_list_fails(b, 8, "Cat", long_name, 5, "category");

    /* Limits that are allowed. */
    char err[256];
    long_name[64] = '\0';
    memset(long_name, 'n', 64);
    CHECK_INT(wl_builder_add_list(b, 8, long_name, "c", 9, err, sizeof(err)), 0);
    long_name[32] = '\0';
    CHECK_INT(wl_builder_add_list(b, 0, "x", long_name, 1, err, sizeof(err)), 0);
    CHECK_INT(wl_builder_add_list(b, UINT32_MAX, "y", "z", 5, NULL, 0), 0);
    CHECK_INT(wl_builder_add_list(b, UINT32_MAX, "y", "z", 5, NULL, 0), -1); /* no err buffer */

    /* Failed adds leave nothing behind; later adds still work. */
    in = s_in(140, 8, "OK1");
    in.country = "GB";
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);
    CHECK_INT(wl_entry_count(w), 1);
    CHECK_INT(wl_list_count(w), 6);
    CHECK_INT(s_look(w, "AB1", "", T0), 0);
    CHECK_INT(s_look(w, "OK1", "GB", T0), 1);
    wl_destroy(&w);
}

static void test_lifecycle(void)
{
    wl_t *w = NULL;
    wl_destroy(&w);
    wl_destroy(&w);
    wl_destroy(NULL);

    wl_builder_t *b = NULL;
    wl_builder_destroy(&b);
    wl_builder_destroy(NULL);
    CHECK(wl_builder_build(&b) == NULL);

    /* A builder dropped without build frees everything it holds (ASan checks). */
    b = s_builder_with_lists();
    for (int i = 0; i < 3000; i++) {
        char plate[16], ref[16];
        snprintf(plate, sizeof(plate), "LEAK%d", i);
        snprintf(ref, sizeof(ref), "R%d", i);
        struct wl_entry_in in = s_in((uint64_t)i, 2, plate);
        in.external_ref = ref;
        s_add(b, &in);
    }
    wl_builder_destroy(&b);
    CHECK(b == NULL);
    wl_builder_destroy(&b);

    /* An empty snapshot is valid. */
    b = wl_builder_new();
    w = wl_builder_build(&b);
    CHECK(w != NULL);
    CHECK_INT(wl_entry_count(w), 0);
    CHECK_INT(wl_list_count(w), 0);
    CHECK_INT(s_look(w, "AB1", "", T0), 0);
    wl_destroy(&w);
    wl_destroy(&w);
    CHECK_INT(wl_entry_count(NULL), 0);
    CHECK_INT(wl_memory_bytes(NULL), 0);
}

/* Distinct plates from i: a prefix letter and i scrambled (bijectively) into base 36. */
static void s_big_plate(char prefix, uint32_t i, char out[PLATE_MAX + 1])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint32_t x = i * 2654435761u;
    size_t n = 0;

    out[n++] = prefix;
    do {
        out[n++] = digits[x % 36];
        x /= 36;
    } while (x);
    out[n] = '\0';
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_big(void)
{
    enum { N = 1000000 };
    wl_builder_t *b = s_builder_with_lists();
    char plate[PLATE_MAX + 1], ref[24];
    size_t bad = 0;

    double t0 = s_now();
    for (uint32_t i = 0; i < N; i++) {
        s_big_plate('P', i, plate);
        snprintf(ref, sizeof(ref), "REF%u", i);
        struct wl_entry_in in = s_in(i, 1 + (i % 2), plate);
        in.external_ref = ref;
        in.instruction = i % 10 == 0 ? "Stop the vehicle" : NULL;
        char err[128];
        if (wl_builder_add(b, &in, err, sizeof(err)) != 0 && bad++ < 3)
            fprintf(stderr, "  big add %u: %s\n", i, err);
    }
    CHECK_INT(bad, 0);
    wl_t *w = wl_builder_build(&b);
    double t1 = s_now();
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK_INT(wl_entry_count(w), N);

    size_t hits = 0, right = 0;
    const struct wl_entry *out[2];
    double t2 = s_now();
    for (uint32_t i = 0; i < N; i++) {
        s_big_plate('P', i, plate);
        if (wl_lookup(w, plate, "BE", T0, out, 2) == 1) {
            hits++;
            snprintf(ref, sizeof(ref), "REF%u", i);
            right += out[0]->id == i && strcmp(out[0]->external_ref, ref) == 0;
        }
    }
    double t3 = s_now();
    size_t misses = 0;
    for (uint32_t i = 0; i < N; i++) {
        s_big_plate('Q', i, plate);
        misses += wl_lookup(w, plate, "BE", T0, out, 2) == 0;
    }
    double t4 = s_now();
    CHECK_INT(hits, N);
    CHECK_INT(right, N);
    CHECK_INT(misses, N);
    /* For information only; sanitizer builds are several times slower. */
    printf("wl: 1M entries built in %.0f ms, %.1f MB; %.0f ns/hit, %.0f ns/miss\n", (t1 - t0) * 1e3,
           (double)wl_memory_bytes(w) / 1e6, (t3 - t2) * 1e9 / N, (t4 - t3) * 1e9 / N);
    wl_destroy(&w);
}

int main(void)
{
    test_basic();
    test_same_plate();
    test_country();
    test_validity();
    test_errors();
    test_lifecycle();
    test_big();
    return check_done("wl");
}
