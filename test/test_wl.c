/*
 * test_wl: watchlist snapshot building, exact lookup rules, builder errors, OCR classes, the
 * matcher (OCR substitutions, one character more or missing, patterns, candidates, confidence,
 * ordering and one match per entry), and a 1M-entry table.
 */
#include "check.h"
#include "plate.h"
#include "proto.h"
#include "wl.h"
#include "idset.h"

#include <stdlib.h>
#include <time.h>

#define T0 1700000000000000LL /* some UTC µs */

static const struct wl_list_opts s_exact = {.policy = WL_POLICY_EXACT, .max_subst = 1};

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
    CHECK_INT(wl_builder_add_list(b, 1, "Stolen vehicles", "stolen", 1, NULL, err, sizeof(err)), 0);
    CHECK_INT(wl_builder_add_list(b, 2, "Wanted persons", "wanted", 3, &s_exact, err, sizeof(err)),
              0);
    CHECK_INT(wl_builder_add_list(b, 7, "Uninsured", "uninsured", 9, &s_exact, err, sizeof(err)),
              0);
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
    CHECK_INT(wl_builder_add_list(b, id, name, cat, prio, &s_exact, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, want);
}

static void test_errors(void)
{
    wl_builder_t *b = s_builder_with_lists();
    struct wl_entry_in in;
    char long_name[80];

    in = s_in(100, 1, "AB#1");
    s_add_fails(b, &in, "entry 100: plate: invalid character", "100");
    {
        /* The message goes to the daemon's log: it names the entry, never the plate. */
        char err[256] = "";
        CHECK_INT(wl_builder_add(b, &in, err, sizeof(err)), -1);
        CHECK(strstr(err, "AB#1") == NULL);
    }
    in = s_in(101, 1,
              "M\xE2\x82\xAC"
              "1"); /* a euro sign */
    s_add_fails(b, &in, "invalid character", NULL);
    in = s_in(102, 1, " - ");
    s_add_fails(b, &in, "plate", "no letters or digits");
    in = s_in(103, 1, "ABCDEFGHIJ1234567");
    s_add_fails(b, &in, "plate", "more than 16");
    in = s_in(104, 1, "A\nB");
    s_add_fails(b, &in, "entry 104: plate: ", NULL); /* the plate never reaches the message */
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
    CHECK_INT(wl_builder_add_list(b, 8, long_name, "c", 9, &s_exact, err, sizeof(err)), 0);
    long_name[32] = '\0';
    CHECK_INT(wl_builder_add_list(b, 0, "x", long_name, 1, NULL, err, sizeof(err)), 0);
    CHECK_INT(wl_builder_add_list(b, UINT32_MAX, "y", "z", 5, NULL, NULL, 0), 0);
    CHECK_INT(wl_builder_add_list(b, UINT32_MAX, "y", "z", 5, NULL, NULL, 0), -1); /* no err */

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

/* ---- matcher ---- */

/* A query of one reading, or of a primary reading and candidates ("" ends the list). */
static struct wl_query s_query(const char *country, const char *p0, uint16_t c0)
{
    struct wl_query q = {.country = country, .time_us = T0, .nreadings = 1};
    q.plate[0] = p0;
    q.confidence[0] = c0;
    return q;
}

static void s_cand(struct wl_query *q, const char *plate, uint16_t conf)
{
    q->plate[q->nreadings] = plate;
    q->confidence[q->nreadings++] = conf;
}

static size_t s_match1(const wl_t *w, const char *plate, struct wl_match *m)
{
    struct wl_query q = s_query("", plate, 900);
    return wl_match(w, &q, m, 1);
}

static void s_list(wl_builder_t *b, uint32_t id, uint8_t prio, struct wl_list_opts o)
{
    char err[256] = "";
    char name[16];
    snprintf(name, sizeof(name), "list%u", id);
    int rc = wl_builder_add_list(b, id, name, "cat", prio, &o, err, sizeof(err));
    CHECK_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  list %u: %s\n", id, err);
}

/* One match expected from `plate` on w: its kind, entry id, nsubst and detail. */
static void s_expect(const wl_t *w, const char *plate, uint8_t kind, uint64_t id, uint8_t nsubst,
                     const char *detail, int line)
{
    struct wl_match m[4];
    memset(m, 0, sizeof(m));
    size_t n = s_match1(w, plate, m);
    if (n != 1 || m[0].kind != kind || m[0].entry->id != id || m[0].nsubst != nsubst ||
        strcmp(m[0].detail, detail) != 0) {
        check_failed++;
        fprintf(stderr,
                "%s:%d: match \"%s\": n=%zu kind=%u id=%llu nsubst=%u detail=\"%s\"; want n=1 "
                "kind=%u id=%llu nsubst=%u detail=\"%s\"\n",
                __FILE__, line, plate, n, n ? m[0].kind : 0,
                n ? (unsigned long long)m[0].entry->id : 0ULL, n ? m[0].nsubst : 0,
                n ? m[0].detail : "", kind, (unsigned long long)id, nsubst, detail);
        return;
    }
    check_passed++;
}

#define EXPECT(w, plate, kind, id, nsubst, detail)                                                 \
    s_expect(w, plate, kind, id, nsubst, detail, __LINE__)
#define EXPECT_NONE(w, plate) CHECK_INT(s_match1(w, plate, NULL), 0)

static void test_list_opts(void)
{
    wl_builder_t *b = wl_builder_new();
    char err[256] = "";
    struct wl_list_opts o = {.policy = 2};

    CHECK_INT(wl_builder_add_list(b, 1, "a", "b", 1, &o, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "policy");
    o = (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = WL_MAX_SUBST + 1};
    CHECK_INT(wl_builder_add_list(b, 1, "a", "b", 1, &o, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "max_subst 5");
    o = (struct wl_list_opts){.policy = WL_POLICY_OCR, .min_confidence = 1001};
    CHECK_INT(wl_builder_add_list(b, 1, "a", "b", 1, &o, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "min_confidence 1001");
    /* The limits themselves are fine; an exact list may carry the schema's default max_subst. */
    o = (struct wl_list_opts){.policy = WL_POLICY_OCR,
                              .max_subst = WL_MAX_SUBST,
                              .min_confidence = 1000,
                              .indel = true,
                              .candidates = true,
                              .suppress_s = 300,
                              .realert_camera = true,
                              .covert = true,
                              .backbone_off = true};
    CHECK_INT(wl_builder_add_list(b, 1, "a", "b", 1, &o, err, sizeof(err)), 0);
    CHECK_INT(wl_builder_add_list(b, 2, "a", "b", 1, &s_exact, err, sizeof(err)), 0);
    struct wl_entry_in in = s_in(1, 1, "AB1");
    s_add(b, &in);
    in = s_in(2, 2, "AB2");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);
    const struct wl_entry *e[1];
    CHECK_INT(wl_lookup(w, "AB1", "", T0, e, 1), 1);
    /* Options are kept with the list, including those only the daemon reads. */
    CHECK_INT(e[0]->list->opts.policy, WL_POLICY_OCR);
    CHECK_INT(e[0]->list->opts.max_subst, WL_MAX_SUBST);
    CHECK_INT(e[0]->list->opts.min_confidence, 1000);
    CHECK_INT(e[0]->list->opts.suppress_s, 300);
    CHECK(e[0]->list->opts.indel && e[0]->list->opts.candidates && e[0]->list->opts.realert_camera);
    /* The backbone setting the forwarder reads: off for list 1, on (zero) for list 2. */
    CHECK(e[0]->list->opts.covert && e[0]->list->opts.backbone_off);
    CHECK_INT(wl_lookup(w, "AB2", "", T0, e, 1), 1);
    CHECK(!e[0]->list->opts.backbone_off);
    wl_destroy(&w);
}

static void s_classes_fail(const char *classes, const char *want, const char *want2)
{
    wl_builder_t *b = wl_builder_new();
    char err[256] = "";
    CHECK_INT(wl_builder_set_classes(b, classes, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, want);
    if (want2)
        CHECK_CONTAINS(err, want2);
    wl_builder_destroy(&b);
}

static void test_classes(void)
{
    s_classes_fail("0ODQ,1I#", "\"1I#\"", "'#'");
    s_classes_fail("0ODQ,8", "\"8\"", "at least two");
    s_classes_fail("0ODQ,1IL1", "\"1IL1\"", "'1' appears twice");
    s_classes_fail("0ODQ,8B,O5", "'O' is in \"0ODQ\" and in \"O5\"", NULL);
    s_classes_fail("0O,,8B", "empty group", NULL);
    s_classes_fail("0O,", "empty group", NULL);
    s_classes_fail("0O-", "'-'", NULL);
    s_classes_fail("0O,\xC3\x96"
                   "0",
                   "0xC3", NULL);
    CHECK_INT(wl_builder_set_classes(NULL, "0O", NULL, 0), -1);

    /* Custom classes: 8/B no longer equivalent, A/4 now are; blanks and lower case are fine.
     * A failed call keeps the classes set before it. */
    wl_builder_t *b = wl_builder_new();
    char err[256];
    CHECK_INT(wl_builder_set_classes(b, " 0o , a4", err, sizeof(err)), 0);
    CHECK_INT(wl_builder_set_classes(b, "8B,B3", err, sizeof(err)), -1);
    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 2});
    struct wl_entry_in in = s_in(1, 1, "BA0");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);
    EXPECT(w, "B4O", PROTO_MATCH_OCR, 1, 2, "A/4 at 2, 0/O at 3");
    EXPECT_NONE(w, "8A0");
    wl_destroy(&w);

    /* No classes at all: OCR lists then match exactly. */
    b = wl_builder_new();
    CHECK_INT(wl_builder_set_classes(b, "", err, sizeof(err)), 0);
    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 2});
    in = s_in(1, 1, "BA0");
    s_add(b, &in);
    w = wl_builder_build(&b);
    EXPECT(w, "BA0", PROTO_MATCH_EXACT, 1, 0, "exact");
    EXPECT_NONE(w, "BAO");
    wl_destroy(&w);
}

static void test_ocr(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;

    s_list(b, 1, 2, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1});
    s_list(b, 2, 2, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 4});
    s_list(b, 3, 2, s_exact);
    s_list(b, 4, 2, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 0});
    in = s_in(1, 1, "1ABC123");
    s_add(b, &in);
    in = s_in(2, 2, "GOLD55");
    s_add(b, &in);
    in = s_in(3, 3, "XY8Z");
    s_add(b, &in);
    in = s_in(4, 4, "MNO1");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    EXPECT(w, "1ABC123", PROTO_MATCH_EXACT, 1, 0, "exact");
    EXPECT(w, "1A8C123", PROTO_MATCH_OCR, 1, 1, "B read as 8 at 3");
    EXPECT(w, "IABC123", PROTO_MATCH_OCR, 1, 1, "1 read as I at 1");
    EXPECT_NONE(w, "1ABC12Z"); /* 3 is in no class */
    EXPECT_NONE(w, "1A8C1Z3"); /* two substitutions, one allowed */
    EXPECT_NONE(w, "1AXC123"); /* X is not in B's class */
    EXPECT_NONE(w, "1ABC12");
    EXPECT(w, "G0LD55", PROTO_MATCH_OCR, 2, 1, "O read as 0 at 2");
    EXPECT(w, "60LD55", PROTO_MATCH_OCR, 2, 2, "G/6 at 1, O/0 at 2");
    EXPECT_NONE(w, "6QDLS5"); /* L and D are in different classes */
    EXPECT(w, "6QIDS5", PROTO_MATCH_OCR, 2, 4, "G/6 at 1, O/Q at 2, L/I at 3, 5/S at 5");
    EXPECT_NONE(w, "60I0S5"); /* five */
    /* Exact lists and max_subst 0 take the plate as listed only. */
    EXPECT(w, "XY8Z", PROTO_MATCH_EXACT, 3, 0, "exact");
    EXPECT_NONE(w, "XYB2");
    EXPECT_NONE(w, "XYBZ");
    EXPECT(w, "MNO1", PROTO_MATCH_EXACT, 4, 0, "exact");
    EXPECT_NONE(w, "MN01");
    /* wl_lookup is exact whatever the list's policy. */
    CHECK_INT(s_look(w, "1ABC123", "", T0), 1);
    CHECK_INT(s_look(w, "1A8C123", "", T0), 0);
    /* Readings that are not normalised never match. */
    EXPECT_NONE(w, "1abc123");
    EXPECT_NONE(w, "1-ABC-123");
    EXPECT_NONE(w, "");
    EXPECT_NONE(w, "1ABC1231ABC1231AB");
    CHECK_INT(wl_match(w, NULL, NULL, 0), 0);
    struct wl_query q = s_query("", NULL, 900);
    CHECK_INT(wl_match(w, &q, NULL, 0), 0);
    q = s_query("", "1ABC123", 900);
    CHECK_INT(wl_match(NULL, &q, NULL, 0), 0);
    CHECK_INT(wl_match(w, &q, NULL, 0), 1);
    wl_destroy(&w);
}

static void test_indel(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;

    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1, .indel = true});
    s_list(b, 2, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1});
    s_list(b, 3, 1, (struct wl_list_opts){.policy = WL_POLICY_EXACT, .indel = true});
    s_list(b, 4, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .indel = true});
    in = s_in(1, 1, "1ABC123");
    s_add(b, &in);
    in = s_in(2, 2, "2XYZ999");
    s_add(b, &in);
    in = s_in(3, 3, "3KLM444");
    s_add(b, &in);
    in = s_in(4, 4, "AAB77");
    s_add(b, &in);
    in = s_in(5, 1, "QR");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    struct wl_match m[2];
    CHECK_INT(s_match1(w, "1ABC12", m), 1);
    CHECK(m[0].indel);
    CHECK_INT(m[0].kind, PROTO_MATCH_OCR);
    CHECK_INT(m[0].nsubst, 0);
    EXPECT(w, "1ABC12", PROTO_MATCH_OCR, 1, 0, "one character missing at 7");
    EXPECT(w, "ABC123", PROTO_MATCH_OCR, 1, 0, "one character missing at 1");
    EXPECT(w, "1AC123", PROTO_MATCH_OCR, 1, 0, "one character missing at 3");
    EXPECT(w, "1ABCC123", PROTO_MATCH_OCR, 1, 0, "one character extra at 4");
    EXPECT(w, "1ABCX123", PROTO_MATCH_OCR, 1, 0, "one character extra at 5");
    EXPECT(w, "X1ABC123", PROTO_MATCH_OCR, 1, 0, "one character extra at 1");
    EXPECT(w, "1ABC1234", PROTO_MATCH_OCR, 1, 0, "one character extra at 8");
    /* With a substitution besides (positions in the listed plate). */
    EXPECT(w, "1A8C12", PROTO_MATCH_OCR, 1, 1, "one character missing at 7, B/8 at 3");
    EXPECT(w, "1ABCI2", PROTO_MATCH_OCR, 1, 1, "one character missing at 7, 1/I at 5");
    EXPECT(w, "1A8CX123", PROTO_MATCH_OCR, 1, 1, "one character extra at 5, B/8 at 3");
    EXPECT(w, "1ABCX1Z3", PROTO_MATCH_OCR, 1, 1, "one character extra at 5, 2/Z at 6");
    EXPECT_NONE(w, "1A8C1Z"); /* two substitutions, one allowed */
    EXPECT_NONE(w, "1ABC1");  /* two missing */
    EXPECT_NONE(w, "1ABXX123");
    /* Only lists with indel (and OCR) take it. */
    EXPECT_NONE(w, "2XYZ99");
    EXPECT_NONE(w, "2XYZ9999");
    EXPECT_NONE(w, "3KLM44");
    EXPECT_NONE(w, "3KLM4444");
    /* A repeated character: the first place is named; max_subst 0 still allows the indel. */
    EXPECT(w, "AB77", PROTO_MATCH_OCR, 4, 0, "one character missing at 1");
    EXPECT(w, "AAB777", PROTO_MATCH_OCR, 4, 0, "one character extra at 4");
    EXPECT_NONE(w, "A8B77");
    EXPECT(w, "Q", PROTO_MATCH_OCR, 5, 0, "one character missing at 2");
    EXPECT(w, "QR2", PROTO_MATCH_OCR, 5, 0, "one character extra at 3");
    /* An OCR match without indel beats nothing else here, but is never marked indel. */
    CHECK_INT(s_match1(w, "1A8C123", m), 1);
    CHECK(!m[0].indel);
    wl_destroy(&w);
}

/* A snapshot whose only indel entry has one character has no deletion keys at all: a reading
 * with one more still hits it, as wl_entry_variants() (and so the retro-match) says. Found by
 * fuzzing (test/fuzz/corpus/wl/regress-indel-one-char). */
static void test_indel_one_char(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;
    static char var[256][PLATE_MAX + 1];

    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1, .indel = true});
    in = s_in(1, 1, "1");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    EXPECT(w, "1", PROTO_MATCH_EXACT, 1, 0, "exact");
    EXPECT(w, "01", PROTO_MATCH_OCR, 1, 0, "one character extra at 1");
    EXPECT(w, "1A", PROTO_MATCH_OCR, 1, 0, "one character extra at 2");
    EXPECT(w, "I", PROTO_MATCH_OCR, 1, 1, "1 read as I at 1");
    EXPECT_NONE(w, "A");
    EXPECT_NONE(w, "A12");
    const struct wl_entry *e = wl_entry_slot(w, 0);
    int n = wl_entry_variants(w, e, var, 256);
    CHECK(n > 2);
    for (int i = 0; i < n; i++) {
        struct wl_match m[1];
        CHECK_INT(s_match1(w, var[i], m), 1);
    }
    wl_destroy(&w);
}

static void test_patterns(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;

    s_list(b, 1, 1, s_exact);
    s_list(b, 2, 2, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1});
    in = s_in(1, 1, "1-ab?-12*");
    s_add(b, &in);
    in = s_in(2, 1, "A?1**"); /* no literal trigram: unanchored */
    s_add(b, &in);
    in = s_in(3, 2, "*OBC*");
    s_add(b, &in);
    in = s_in(4, 2, "HH-?\?-77");
    s_add(b, &in);
    in = s_in(5, 1, "7ZZZ"); /* a plain entry beside them */
    s_add(b, &in);
    in = s_in(6, 2, "*8B8*");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);
    CHECK_INT(wl_entry_count(w), 6);
    CHECK_INT(wl_pattern_count(w), 5);

    const struct wl_entry *e[2];
    CHECK_INT(wl_lookup(w, "7ZZZ", "", T0, e, 2), 1);
    CHECK(!e[0]->pattern);
    CHECK_INT(s_look(w, "1AB?12*", "", T0), 0); /* patterns are not plates */

    EXPECT(w, "1ABC123", PROTO_MATCH_PATTERN, 1, 0, "pattern 1AB?12*");
    EXPECT(w, "1ABX12", PROTO_MATCH_PATTERN, 1, 0, "pattern 1AB?12*");
    EXPECT_NONE(w, "1AB12");   /* '?' is exactly one character */
    EXPECT_NONE(w, "1A8C123"); /* exact list: literals as listed */
    EXPECT_NONE(w, "X1ABC123");
    EXPECT(w, "AX1", PROTO_MATCH_PATTERN, 2, 0, "pattern A?1*");
    EXPECT(w, "AB1ZZZZ", PROTO_MATCH_PATTERN, 2, 0, "pattern A?1*");
    EXPECT_NONE(w, "A1");
    EXPECT_NONE(w, "BA1");
    /* OCR patterns: found through the canonical trigram, literals within their class. */
    EXPECT(w, "OBC", PROTO_MATCH_PATTERN, 3, 0, "pattern *OBC*");
    EXPECT(w, "XX0BCYY", PROTO_MATCH_PATTERN, 3, 1, "pattern *OBC*, 1 substituted");
    EXPECT_NONE(w, "XX08CYY");
    EXPECT(w, "HHAB77", PROTO_MATCH_PATTERN, 4, 0, "pattern HH??77");
    EXPECT_NONE(w, "HHAB7Z"); /* 7 is in no class */
    EXPECT_NONE(w, "HHA77");
    /* The fewest substitutions over the ways '*' can split the reading. */
    EXPECT(w, "BB88B8", PROTO_MATCH_PATTERN, 6, 0, "pattern *8B8*");
    EXPECT(w, "BB88BB", PROTO_MATCH_PATTERN, 6, 1, "pattern *8B8*, 1 substituted");
    wl_destroy(&w);

    /* Bad patterns say why. */
    b = wl_builder_new();
    s_list(b, 1, 1, s_exact);
    in = s_in(10, 1, "*?");
    s_add_fails(b, &in, "entry 10: pattern: ", "no letters or digits");
    in = s_in(11, 1, "*");
    s_add_fails(b, &in, "no letters or digits", NULL);
    in = s_in(12, 1, "AB#?");
    s_add_fails(b, &in, "entry 12: pattern: ", "invalid character");
    in = s_in(13, 1, "ABCDEFGHIJ123456*");
    s_add_fails(b, &in, "pattern", "more than 16");
    in = s_in(14, 1, "AB-**-*1");
    s_add(b, &in); /* runs of '*' fold, also across separators */
    w = wl_builder_build(&b);
    EXPECT(w, "ABXYZ1", PROTO_MATCH_PATTERN, 14, 0, "pattern AB*1");
    EXPECT(w, "AB1", PROTO_MATCH_PATTERN, 14, 0, "pattern AB*1");
    wl_destroy(&w);
}

/*
 * wl_prefetch keeps the keys it works out in the query for wl_match. They must hold only for a
 * snapshot with the same OCR classes and the same take on candidates: ingest may swap in a new
 * snapshot between the two calls.
 */
static void test_prefetch(void)
{
    char err[256];
    struct wl_match m[4];
    wl_builder_t *b = wl_builder_new();
    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1});
    struct wl_entry_in in = s_in(1, 1, "1ABC123");
    s_add(b, &in);
    wl_t *dflt = wl_builder_build(&b); /* default classes: 8/B alike */

    b = wl_builder_new();
    CHECK_INT(wl_builder_set_classes(b, "0O", err, sizeof(err)), 0);
    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1});
    s_add(b, &in);
    wl_t *own = wl_builder_build(&b); /* 8/B not alike */

    b = wl_builder_new();
    s_list(b, 1, 1,
           (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1, .candidates = true});
    s_add(b, &in);
    wl_t *cand = wl_builder_build(&b); /* default classes, takes candidates */

    /* Prefetched and matched on one snapshot: the OCR hit. */
    struct wl_query q = s_query("", "1A8C123", 900);
    wl_prefetch(dflt, &q);
    CHECK_INT(wl_match(dflt, &q, m, 4), 1);
    CHECK_INT(m[0].kind, PROTO_MATCH_OCR);
    /* Matched on a snapshot with other classes: its own keys, so no hit. */
    CHECK_INT(wl_match(own, &q, m, 4), 0);
    q = s_query("", "1A8C123", 900);
    wl_prefetch(own, &q);
    CHECK_INT(wl_match(own, &q, m, 4), 0);
    CHECK_INT(wl_match(dflt, &q, m, 4), 1);

    /* Prefetched where no list takes candidates (the candidate left out), matched where one
     * does: the candidate is matched. */
    q = s_query("", "9ZZZ999", 900);
    s_cand(&q, "1ABC123", 600);
    wl_prefetch(dflt, &q);
    CHECK_INT(wl_match(dflt, &q, m, 4), 0);
    CHECK_INT(wl_match(cand, &q, m, 4), 1);
    CHECK_INT(m[0].kind, PROTO_MATCH_CANDIDATE);
    wl_prefetch(cand, &q);
    CHECK_INT(wl_match(cand, &q, m, 4), 1);
    CHECK_INT(wl_match(dflt, &q, m, 4), 0);

    wl_destroy(&dflt);
    wl_destroy(&own);
    wl_destroy(&cand);
}

static void test_candidates(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;
    struct wl_match m[4];

    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_EXACT, .candidates = true});
    s_list(b, 2, 1, s_exact);
    s_list(b, 3, 2,
           (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1, .candidates = true});
    in = s_in(1, 1, "1ABC123");
    s_add(b, &in);
    in = s_in(2, 2, "1ABC123");
    s_add(b, &in);
    in = s_in(3, 3, "2DEF456");
    s_add(b, &in);
    in = s_in(4, 1, "9XY*");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    /* The primary reading misses; candidate 2 hits the list that takes candidates only. */
    struct wl_query q = s_query("BE", "1XBC123", 910);
    s_cand(&q, "7ABC123", 700);
    s_cand(&q, "1ABC123", 640);
    memset(m, 0, sizeof(m));
    CHECK_INT(wl_match(w, &q, m, 4), 1);
    CHECK_INT(m[0].entry->id, 1);
    CHECK_INT(m[0].kind, PROTO_MATCH_CANDIDATE);
    CHECK_INT(m[0].reading, 2);
    CHECK_INT(m[0].confidence, 640);
    CHECK_STR(m[0].detail, "candidate 2 (640), exact");

    /* A candidate matching by OCR or by pattern says so in detail. */
    q = s_query("BE", "QQQQ", 910);
    s_cand(&q, "2DEF4S6", 500);
    s_cand(&q, "9XYZ", 450);
    memset(m, 0, sizeof(m));
    CHECK_INT(wl_match(w, &q, m, 4), 2);
    CHECK_INT(m[0].entry->id, 4); /* priority 1 before 2 */
    CHECK_INT(m[0].kind, PROTO_MATCH_CANDIDATE);
    CHECK_INT(m[0].reading, 2);
    CHECK_STR(m[0].detail, "candidate 2 (450), pattern 9XY*");
    CHECK_INT(m[1].entry->id, 3);
    CHECK_INT(m[1].kind, PROTO_MATCH_CANDIDATE);
    CHECK_INT(m[1].nsubst, 1);
    CHECK_INT(m[1].reading, 1);
    CHECK_INT(m[1].confidence, 500);
    CHECK_STR(m[1].detail, "candidate 1 (500), 5 read as S at 6");

    /* The primary reading wins over a candidate for the same entry, whatever their kinds. */
    q = s_query("", "2DEF4S6", 910);
    s_cand(&q, "2DEF456", 800);
    memset(m, 0, sizeof(m));
    CHECK_INT(wl_match(w, &q, m, 4), 1);
    CHECK_INT(m[0].kind, PROTO_MATCH_OCR);
    CHECK_INT(m[0].reading, 0);
    CHECK_INT(m[0].confidence, 910);
    CHECK_STR(m[0].detail, "5 read as S at 6");

    /* Candidates that repeat the primary reading, or are not normalised, change nothing. */
    q = s_query("", "1ABC123", 910);
    s_cand(&q, "1ABC123", 800);
    s_cand(&q, NULL, 800);
    s_cand(&q, "1-abc-123", 800);
    CHECK_INT(wl_match(w, &q, m, 4), 2);
    CHECK_INT(m[0].reading, 0);
    CHECK_INT(m[1].reading, 0);
    /* More readings than WL_READINGS_MAX: the rest are ignored. */
    q = s_query("", "QQQQ", 910);
    for (int i = 1; i < WL_READINGS_MAX; i++)
        s_cand(&q, "QQQQ", 800);
    q.nreadings = WL_READINGS_MAX + 5;
    CHECK_INT(wl_match(w, &q, m, 4), 0);
    wl_destroy(&w);

    /* No list takes candidates: they are not even looked at. */
    b = wl_builder_new();
    s_list(b, 1, 1, s_exact);
    in = s_in(1, 1, "1ABC123");
    s_add(b, &in);
    w = wl_builder_build(&b);
    q = s_query("", "QQQQ", 910);
    s_cand(&q, "1ABC123", 800);
    CHECK_INT(wl_match(w, &q, m, 4), 0);
    wl_destroy(&w);
}

/* The match of entry id among m[0..n), or NULL. */
static const struct wl_match *s_find(const struct wl_match *m, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].entry->id == id)
            return &m[i];
    return NULL;
}

/*
 * Readings with the same canonical key (look-alike misreadings of each other) are looked up
 * together, but each is still judged on its own: an exact list is hit only by the reading that
 * is exact, a pattern by the reading that fits it.
 */
static void test_shared_key(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;
    struct wl_match m[8];
    const struct wl_match *h;

    s_list(b, 1, 1, (struct wl_list_opts){.policy = WL_POLICY_EXACT, .candidates = true});
    in = s_in(1, 1, "1ABC123");
    s_add(b, &in);
    in = s_in(2, 1, "1AB?12*"); /* anchored on a trigram */
    s_add(b, &in);
    in = s_in(3, 1, "*C1?3"); /* no three literal characters in a row */
    s_add(b, &in);
    in = s_in(4, 1, "*X1?3"); /* fits no reading of the key */
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    /* "IA8C123" and "1ABC123" share the key 1A8C123. */
    struct wl_query q = s_query("", "IA8C123", 900);
    s_cand(&q, "1ABC123", 700);
    memset(m, 0, sizeof(m));
    size_t n = wl_match(w, &q, m, 8);
    CHECK_INT(n, 3);
    h = s_find(m, n, 1);
    CHECK(h && h->kind == PROTO_MATCH_CANDIDATE && h->reading == 1);
    CHECK(h && strcmp(h->detail, "candidate 1 (700), exact") == 0);
    h = s_find(m, n, 2);
    CHECK(h && h->kind == PROTO_MATCH_CANDIDATE && h->reading == 1);
    h = s_find(m, n, 3);
    CHECK(h && h->kind == PROTO_MATCH_PATTERN && h->reading == 0);
    CHECK(s_find(m, n, 4) == NULL);

    /* The same readings the other way round: the primary is now the exact one. */
    q = s_query("", "1ABC123", 900);
    s_cand(&q, "IA8C123", 700);
    memset(m, 0, sizeof(m));
    n = wl_match(w, &q, m, 8);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(m[i].reading, 0);
    wl_destroy(&w);
}

static void test_confidence(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;
    struct wl_match m[4];

    s_list(b, 1, 1, (struct wl_list_opts){.min_confidence = 800, .candidates = true});
    s_list(b, 2, 1, (struct wl_list_opts){.min_confidence = 600, .candidates = true});
    in = s_in(1, 1, "CONF1");
    s_add(b, &in);
    in = s_in(2, 2, "CONF1");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    struct wl_query q = s_query("", "CONF1", 799);
    CHECK_INT(wl_match(w, &q, m, 4), 1);
    CHECK_INT(m[0].entry->id, 2);
    q.confidence[0] = 800; /* at the minimum is enough */
    CHECK_INT(wl_match(w, &q, m, 4), 2);
    q.confidence[0] = 599;
    CHECK_INT(wl_match(w, &q, m, 4), 0);
    /* A weak primary reading does not hit; a candidate above the list's minimum does. */
    q = s_query("", "CONF1", 500);
    s_cand(&q, "CONF1X", 900);
    s_cand(&q, "C0NF1", 700);
    CHECK_INT(wl_match(w, &q, m, 4), 0); /* C0NF1 is not CONF1 on exact lists */
    q = s_query("", "CONF1", 500);
    s_cand(&q, "CONF1", 700);
    memset(m, 0, sizeof(m));
    CHECK_INT(wl_match(w, &q, m, 4), 1);
    CHECK_INT(m[0].entry->id, 2);
    CHECK_INT(m[0].kind, PROTO_MATCH_CANDIDATE);
    CHECK_INT(m[0].reading, 1);
    CHECK_STR(m[0].detail, "candidate 1 (700), exact");
    wl_destroy(&w);
}

static void test_order(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_entry_in in;
    struct wl_match m[8];

    s_list(b, 9, 9, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 2});
    s_list(b, 5, 5, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 2});
    s_list(b, 1, 1,
           (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 2, .candidates = true});
    in = s_in(1, 9, "ORD3R");
    s_add(b, &in);
    in = s_in(2, 5, "0RD3R"); /* differs by one from the reading below */
    s_add(b, &in);
    in = s_in(3, 5, "ORD3R");
    s_add(b, &in);
    in = s_in(4, 1, "0RQ3R");
    s_add(b, &in);
    in = s_in(5, 1, "ORD*");
    s_add(b, &in);
    in = s_in(6, 1, "ORD3R");
    in.country = "NL";
    s_add(b, &in);
    in = s_in(7, 1, "ORD3R");
    in.valid_from_us = T0 + 1;
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);

    struct wl_query q = s_query("BE", "ORD3R", 900);
    s_cand(&q, "0RQ3R", 600);
    memset(m, 0, sizeof(m));
    CHECK_INT(wl_match(w, &q, m, 8), 5);
    /* Priority 1: entry 4 as OCR (primary reading) rather than exact through the candidate,
     * then the pattern; priority 5: exact before OCR; priority 9 last. */
    CHECK_INT(m[0].entry->id, 4);
    CHECK_INT(m[0].kind, PROTO_MATCH_OCR);
    CHECK_INT(m[0].nsubst, 2);
    CHECK_STR(m[0].detail, "0/O at 1, Q/D at 3");
    CHECK_INT(m[1].entry->id, 5);
    CHECK_INT(m[1].kind, PROTO_MATCH_PATTERN);
    CHECK_INT(m[2].entry->id, 3);
    CHECK_INT(m[2].kind, PROTO_MATCH_EXACT);
    CHECK_INT(m[3].entry->id, 2);
    CHECK_INT(m[3].kind, PROTO_MATCH_OCR);
    CHECK_INT(m[4].entry->id, 1);
    /* Fewer slots than matches: the most urgent, and the total. */
    memset(m, 0, sizeof(m));
    CHECK_INT(wl_match(w, &q, m, 2), 5);
    CHECK_INT(m[0].entry->id, 4);
    CHECK_INT(m[1].entry->id, 5);
    CHECK(m[2].entry == NULL);
    CHECK_INT(wl_match(w, &q, NULL, 0), 5);
    /* Country and time filter as in wl_lookup. */
    q.country = "NL";
    CHECK_INT(wl_match(w, &q, NULL, 0), 6);
    q.time_us = T0 + 1;
    CHECK_INT(wl_match(w, &q, NULL, 0), 7);
    wl_destroy(&w);
}

/* The longest details are shortened to fit, substitutions counted instead of listed. */
static void test_long_detail(void)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_match m[2];

    s_list(b, 1, 1,
           (struct wl_list_opts){
               .policy = WL_POLICY_OCR, .max_subst = 4, .indel = true, .candidates = true});
    struct wl_entry_in in = s_in(1, 1, "ABCDEFGH0I2S6B1Z");
    s_add(b, &in);
    wl_t *w = wl_builder_build(&b);
    struct wl_query q = s_query("", "QQQQ", 1000);
    for (int i = 1; i < 8; i++)
        s_cand(&q, "QQQQ", 1000);
    s_cand(&q, "BCDEFGHO1Z56B1Z", 1000);
    memset(m, 0, sizeof(m));
    CHECK_INT(wl_match(w, &q, m, 2), 1);
    CHECK_INT(m[0].reading, 8);
    CHECK_INT(m[0].nsubst, 4);
    CHECK(m[0].indel);
    CHECK_STR(m[0].detail, "candidate 8 (1000), one character missing at 1, 4 substitutions");
    /* As the primary reading it is still too long; four substitutions alone fit. */
    q = s_query("", "BCDEFGHO1Z56B1Z", 1000);
    CHECK_INT(wl_match(w, &q, m, 2), 1);
    CHECK_STR(m[0].detail, "one character missing at 1, 4 substitutions");
    q = s_query("", "ABCDEFGHO1Z56B1Z", 1000);
    CHECK_INT(wl_match(w, &q, m, 2), 1);
    CHECK_STR(m[0].detail, "0/O at 9, I/1 at 10, 2/Z at 11, S/5 at 12");
    wl_destroy(&w);
}

/* Reference glob for test_glob_random: fewest substitutions, by plain recursion; -1 if none. */
static int s_ref_glob(const char *p, const char *r, bool ocr)
{
    static const char *const classes[] = {"0ODQ", "1IL", "2Z", "5S", "6G", "8B"};
    if (!*p)
        return *r ? -1 : 0;
    if (*p == '*') {
        int best = -1;
        for (size_t k = 0; k <= strlen(r); k++) {
            int v = s_ref_glob(p + 1, r + k, ocr);
            if (v >= 0 && (best < 0 || v < best))
                best = v;
        }
        return best;
    }
    if (!*r)
        return -1;
    int cost = -1;
    if (*p == '?' || *p == *r)
        cost = 0;
    for (size_t i = 0; ocr && cost < 0 && i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strchr(classes[i], *p) && strchr(classes[i], *r))
            cost = 1;
    if (cost < 0)
        return -1;
    int rest = s_ref_glob(p + 1, r + 1, ocr);
    return rest < 0 ? -1 : rest + cost;
}

/* A small LCG: the test must not depend on libc's rand(). Values in [0, n). */
static uint32_t s_rand(uint64_t *x, uint32_t n)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((*x >> 33) % n);
}

/* Random patterns and readings over a few confusable characters, against the reference. */
static void test_glob_random(void)
{
    enum { NPAT = 400, NREAD = 3000 };
    static const char alpha[] = "0OB81X?*";
    static char pats[NPAT][PLATE_MAX + 1];
    uint64_t x = 12345;
    wl_builder_t *b = wl_builder_new();
    size_t bad = 0, total = 0;

    s_list(b, 1, 1, s_exact);
    s_list(b, 2, 2, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 2});
    for (uint32_t i = 0; i < NPAT; i++) {
        char raw[8];
        size_t len;
        do {
            len = 1 + s_rand(&x, 7);
            for (size_t k = 0; k < len; k++)
                raw[k] = alpha[s_rand(&x, 8)];
            raw[len] = '\0';
        } while (!strpbrk(raw, "?*") || plate_normalise_pattern(raw, pats[i]) != PLATE_OK);
        struct wl_entry_in in = s_in(i, 1 + i % 2, raw);
        s_add(b, &in);
    }
    wl_t *w = wl_builder_build(&b);
    CHECK_INT(wl_pattern_count(w), NPAT);
    static struct wl_match m[NPAT];
    for (int t = 0; t < NREAD; t++) {
        char read[8];
        size_t len = 1 + s_rand(&x, 7);
        for (size_t k = 0; k < len; k++)
            read[k] = alpha[s_rand(&x, 6)];
        read[len] = '\0';
        struct wl_query q = s_query("", read, 900);
        size_t n = wl_match(w, &q, m, NPAT);
        size_t want = 0;
        for (uint32_t i = 0; i < NPAT; i++) {
            int v = s_ref_glob(pats[i], read, i % 2 == 1);
            bool hit = v >= 0 && v <= 2;
            want += hit;
            size_t k = 0;
            while (k < n && k < NPAT && m[k].entry->id != i)
                k++;
            bool got = k < n;
            if (got != hit || (got && m[k].nsubst != v)) {
                if (bad++ < 5)
                    fprintf(stderr, "  glob \"%s\" on \"%s\": got %d (%u), want %d (%d)\n", pats[i],
                            read, got, got ? m[k].nsubst : 0, hit, v);
            }
        }
        CHECK_INT(n, want);
        total += want;
    }
    CHECK_INT(bad, 0);
    CHECK(total > NREAD / 2); /* the test exercises hits, not only misses */
    wl_destroy(&w);
}

/* Reference for test_plain_random: substitutions between equal-length strings, -1 if a pair
 * is not in one class. */
static int s_ref_subst(const char *p, const char *r, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        int c = s_ref_glob((char[]){p[i], '\0'}, (char[]){r[i], '\0'}, true);
        if (c < 0)
            return -1;
        v += c;
    }
    return v;
}

/* Fewest substitutions with the reading one character short (missing) of the plate: -1 if
 * none. `lp` is the longer string. */
static int s_ref_indel(const char *lp, const char *sp)
{
    size_t n = strlen(lp);
    int best = -1;
    for (size_t j = 0; j < n; j++) {
        char del[PLATE_MAX + 1];
        memcpy(del, lp, j);
        memcpy(del + j, lp + j + 1, n - j);
        int v = s_ref_subst(del, sp, n - 1);
        if (v >= 0 && (best < 0 || v < best))
            best = v;
    }
    return best;
}

/* Random plates and readings over a few confusable characters, on lists of every policy,
 * against a brute-force reference: nothing missed, nothing extra. */
static void test_plain_random(void)
{
    enum { NENT = 600, NREAD = 4000 };
    static const char alpha[] = "0OB81X";
    static const struct wl_list_opts lists[] = {
        {.policy = WL_POLICY_EXACT, .max_subst = 2, .indel = true},
        {.policy = WL_POLICY_OCR, .max_subst = 1},
        {.policy = WL_POLICY_OCR, .max_subst = 2, .indel = true},
        {.policy = WL_POLICY_OCR, .max_subst = 0, .indel = true},
    };
    static char plates[NENT][PLATE_MAX + 1];
    static struct wl_match m[NENT];
    uint64_t x = 777;
    wl_builder_t *b = wl_builder_new();
    size_t bad = 0, total = 0, indels = 0;

    for (uint32_t l = 0; l < 4; l++)
        s_list(b, l, 1, lists[l]);
    for (uint32_t i = 0; i < NENT; i++) {
        size_t len = 1 + s_rand(&x, 6);
        for (size_t k = 0; k < len; k++)
            plates[i][k] = alpha[s_rand(&x, 6)];
        plates[i][len] = '\0';
        struct wl_entry_in in = s_in(i, i % 4, plates[i]);
        in.country = "XX"; /* no formats known: no euroband reading (B...) beside the plate */
        s_add(b, &in);
    }
    wl_t *w = wl_builder_build(&b);
    for (int t = 0; t < NREAD; t++) {
        char read[PLATE_MAX + 1];
        size_t len = 1 + s_rand(&x, 7);
        for (size_t k = 0; k < len; k++)
            read[k] = alpha[s_rand(&x, 6)];
        read[len] = '\0';
        struct wl_query q = s_query("", read, 900);
        size_t n = wl_match(w, &q, m, NENT);
        size_t want = 0;
        for (uint32_t i = 0; i < NENT; i++) {
            const struct wl_list_opts *o = &lists[i % 4];
            size_t plen = strlen(plates[i]);
            int v = -1;
            bool indel = false;
            if (o->policy == WL_POLICY_EXACT)
                v = strcmp(plates[i], read) == 0 ? 0 : -1;
            else if (plen == len)
                v = s_ref_subst(plates[i], read, len);
            else if (o->indel && (plen == len + 1 || len == plen + 1)) {
                v = plen > len ? s_ref_indel(plates[i], read) : s_ref_indel(read, plates[i]);
                indel = true;
            }
            bool hit = v >= 0 && v <= o->max_subst;
            want += hit;
            size_t k = 0;
            while (k < n && k < NENT && m[k].entry->id != i)
                k++;
            bool got = k < n;
            if (got != hit || (got && (m[k].nsubst != v || m[k].indel != indel))) {
                if (bad++ < 5)
                    fprintf(stderr, "  \"%s\" (list %u) on \"%s\": got %d (%u), want %d (%d)\n",
                            plates[i], i % 4, read, got, got ? m[k].nsubst : 0, hit, v);
            }
            indels += hit && indel;
        }
        CHECK_INT(n, want);
        total += want;
    }
    CHECK_INT(bad, 0);
    CHECK(total > NREAD);
    CHECK(indels > NREAD / 4);
    wl_destroy(&w);
}

/*
 * Patching: a patched snapshot matches exactly as a full build of the same entries does. Three
 * rounds of random changes (plates changed, entries removed, entries and patterns added), each
 * patched over the previous patch; after each, 3 000 random reads with a candidate are matched
 * against the patch and against a full build, and must find the same entries the same way.
 */
enum { PATCH_NENT = 400, PATCH_MAXID = 700 };

static void s_patch_plate(uint64_t *x, char out[PLATE_MAX + 1])
{
    static const char alpha[] = "0OB81X";
    size_t len = 2 + s_rand(x, 5);

    for (size_t k = 0; k < len; k++)
        out[k] = alpha[s_rand(x, 6)];
    out[len] = '\0';
    if (s_rand(x, 8) == 0)
        out[s_rand(x, len)] = s_rand(x, 2) ? '?' : '*';
}

static void s_patch_lists(wl_builder_t *b)
{
    s_list(b, 0, 1, (struct wl_list_opts){.policy = WL_POLICY_EXACT, .candidates = true});
    s_list(b, 1, 2,
           (struct wl_list_opts){
               .policy = WL_POLICY_OCR, .max_subst = 1, .indel = true, .candidates = true});
}

/* (entry id, kind, nsubst, reading) of every match, sorted by id: comparable across builds. */
static size_t s_patch_result(const wl_t *w, const char *p0, const char *p1, uint64_t out[64])
{
    struct wl_match m[64];
    struct wl_query q = s_query("", p0, 900);
    s_cand(&q, p1, 800);
    size_t n = wl_match(w, &q, m, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        out[i] = m[i].entry->id << 24 | (uint64_t)m[i].kind << 16 | (uint64_t)m[i].nsubst << 8 |
                 m[i].reading;
    for (size_t i = 1; i < n && i < 64; i++) /* insertion sort: a handful of hits */
        for (size_t k = i; k > 0 && out[k - 1] > out[k]; k--) {
            uint64_t t = out[k];
            out[k] = out[k - 1];
            out[k - 1] = t;
        }
    return n;
}

static void test_patch(void)
{
    static char plates[PATCH_MAXID][PLATE_MAX + 1]; /* "" = no such entry */
    uint64_t x = 4242;
    char err[256] = "";
    wl_builder_t *b = wl_builder_new();

    s_patch_lists(b);
    for (uint64_t id = 0; id < PATCH_NENT; id++) {
        s_patch_plate(&x, plates[id]);
        struct wl_entry_in in = s_in(id, (uint32_t)(id % 2), plates[id]);
        s_add(b, &in);
    }
    wl_t *base = wl_builder_build(&b);
    wl_t *cur = wl_ref(base);
    wl_destroy(&base); /* cur's hold keeps it alive, and every patch holds it too */
    size_t mismatches = 0, hits = 0;

    for (int round = 0; round < 3; round++) {
        idset_t *changed = idset_new();
        for (int k = 0; k < 60; k++) {
            uint64_t id = s_rand(&x, PATCH_MAXID);
            idset_add(changed, id);
            if (s_rand(&x, 3) == 0)
                plates[id][0] = '\0'; /* removed (or never there) */
            else
                s_patch_plate(&x, plates[id]);
        }
        b = wl_builder_patch(cur, changed, err, sizeof(err));
        CHECK(b != NULL);
        if (!b) {
            fprintf(stderr, "  patch: %s\n", err);
            break;
        }
        /* The changed entries as they are now; the removed ones are not added again. */
        size_t pos = 0;
        uint64_t id;
        while (idset_next(changed, &pos, &id)) {
            if (!plates[id][0])
                continue;
            struct wl_entry_in in = s_in(id, (uint32_t)(id % 2), plates[id]);
            s_add(b, &in);
        }
        wl_t *next = wl_builder_build(&b);
        wl_destroy(&cur); /* the previous patch goes; the base stays with the new one */
        cur = next;
        CHECK(wl_patch_count(cur) > 0 && wl_hidden_count(cur) >= idset_count(changed));
        idset_destroy(&changed);

        b = wl_builder_new();
        s_patch_lists(b);
        for (id = 0; id < PATCH_MAXID; id++) {
            if (!plates[id][0])
                continue;
            struct wl_entry_in in = s_in(id, (uint32_t)(id % 2), plates[id]);
            s_add(b, &in);
        }
        wl_t *full = wl_builder_build(&b);
        CHECK_INT(wl_list_count(cur), wl_list_count(full));
        for (int t = 0; t < 3000; t++) {
            char p0[PLATE_MAX + 1], p1[PLATE_MAX + 1];
            uint64_t a[64], f[64];
            do
                s_patch_plate(&x, p0);
            while (strpbrk(p0, "?*"));
            do
                s_patch_plate(&x, p1);
            while (strpbrk(p1, "?*"));
            size_t na = s_patch_result(cur, p0, p1, a), nf = s_patch_result(full, p0, p1, f);
            hits += nf;
            if (na != nf || memcmp(a, f, (na < 64 ? na : 64) * sizeof(a[0])) != 0) {
                if (mismatches++ < 5)
                    fprintf(stderr, "  round %d: \"%s\"/\"%s\": patch %zu hits, full %zu\n", round,
                            p0, p1, na, nf);
            }
            /* Exact lookups agree too. */
            const struct wl_entry *la[8], *lf[8];
            if (wl_lookup(cur, p0, "", T0, la, 8) != wl_lookup(full, p0, "", T0, lf, 8))
                mismatches++;
        }
        wl_destroy(&full);
    }
    CHECK_INT(mismatches, 0);
    CHECK(hits > 3000);
    wl_destroy(&cur);

    /* What cannot be patched is refused with a reason. */
    CHECK(wl_builder_patch(NULL, NULL, err, sizeof(err)) == NULL);
    CHECK_CONTAINS(err, "no snapshot");
}

/* Many entries under one key: more hits than the matcher keeps on its stack. */
static void test_many_hits(void)
{
    enum { N = 1000 };
    wl_builder_t *b = wl_builder_new();
    struct wl_match m[4];

    s_list(b, 1, 3,
           (struct wl_list_opts){
               .policy = WL_POLICY_OCR, .max_subst = 1, .indel = true, .candidates = true});
    s_list(b, 2, 2, s_exact);
    for (uint32_t i = 0; i < N; i++) {
        struct wl_entry_in in = s_in(i, 1 + (i % 2), i % 3 ? "MANY1" : "MANY*");
        s_add(b, &in);
    }
    wl_t *w = wl_builder_build(&b);
    struct wl_query q = s_query("", "MANY1", 900);
    s_cand(&q, "MANYI", 800);
    s_cand(&q, "MANY", 800);
    CHECK_INT(wl_match(w, &q, m, 4), N);
    CHECK_INT(m[0].entry->list->priority, 2);
    wl_destroy(&w);
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

/* Whether entry id is among the first matches. */
static bool s_has(const struct wl_match *m, size_t n, size_t max, uint64_t id)
{
    for (size_t k = 0; k < n && k < max; k++)
        if (m[k].entry->id == id)
            return true;
    return false;
}

/* Swap the first character that has an OCR look-alike for one; false if there is none. */
static bool s_misread(char *plate)
{
    static const char from[] = "0O1I2Z5S6G8BDQL";
    static const char to[] = "O0I1Z2S5G6B800I";
    for (size_t i = 1; plate[i]; i++) {
        const char *hit = strchr(from, plate[i]);
        if (hit) {
            plate[i] = to[hit - from];
            return true;
        }
    }
    return false;
}

static void test_big(void)
{
    enum { N = 1000000, MAXM = 8 };
    wl_builder_t *b = wl_builder_new();
    char plate[PLATE_MAX + 1], ref[24];
    size_t bad = 0;

    /* Odd entries on an OCR list with indel, even ones on an exact list. */
    s_list(b, 1, 1, s_exact);
    s_list(b, 2, 2, (struct wl_list_opts){.policy = WL_POLICY_OCR, .max_subst = 1, .indel = true});
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
    size_t misses = 0, match_misses = 0;
    struct wl_match m[MAXM];
    for (uint32_t i = 0; i < N; i++) {
        s_big_plate('Q', i, plate);
        misses += wl_lookup(w, plate, "BE", T0, out, 2) == 0;
    }
    double t4 = s_now();
    for (uint32_t i = 0; i < N; i++) {
        s_big_plate('Q', i, plate);
        struct wl_query q = s_query("BE", plate, 900);
        match_misses += wl_match(w, &q, m, MAXM) == 0;
    }
    double t5 = s_now();
    CHECK_INT(hits, N);
    CHECK_INT(right, N);
    CHECK_INT(misses, N);
    CHECK_INT(match_misses, N);

    /* Misread by one look-alike: found on the OCR list, not on the exact one. One character
     * missing: the same. */
    size_t tried = 0, ocr_ok = 0, exact_ok = 0, indel_ok = 0, wrong = 0;
    double t6 = s_now();
    for (uint32_t i = 0; i < N; i++) {
        s_big_plate('P', i, plate);
        if (!s_misread(plate))
            continue;
        tried++;
        struct wl_query q = s_query("BE", plate, 900);
        size_t n = wl_match(w, &q, m, MAXM);
        bool found = s_has(m, n, MAXM, i);
        if (i % 2 == 0)
            exact_ok += !found;
        else if (found)
            ocr_ok++;
        for (size_t k = 0; k < n && k < MAXM; k++)
            wrong += m[k].kind != PROTO_MATCH_OCR && m[k].kind != PROTO_MATCH_EXACT;
    }
    double t7 = s_now();
    for (uint32_t i = 0; i < N; i++) {
        s_big_plate('P', i, plate);
        plate[strlen(plate) - 1] = '\0';
        struct wl_query q = s_query("BE", plate, 900);
        size_t n = wl_match(w, &q, m, MAXM);
        bool found = s_has(m, n, MAXM, i);
        indel_ok += i % 2 ? found : !found;
    }
    double t8 = s_now();
    CHECK(tried > N / 2);
    CHECK_INT(ocr_ok + exact_ok, tried);
    CHECK_INT(indel_ok, N);
    CHECK_INT(wrong, 0);
    /* For information only; sanitizer builds are several times slower. */
    printf("wl: 1M entries (500k with indel) built in %.0f ms, %.1f MB; lookup %.0f ns/hit, "
           "%.0f ns/miss; match %.0f ns/miss, %.0f ns/misread, %.0f ns/short read\n",
           (t1 - t0) * 1e3, (double)wl_memory_bytes(w) / 1e6, (t3 - t2) * 1e9 / N,
           (t4 - t3) * 1e9 / N, (t5 - t4) * 1e9 / N, (t7 - t6) * 1e9 / (double)tried,
           (t8 - t7) * 1e9 / N);
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
    test_list_opts();
    test_classes();
    test_ocr();
    test_indel();
    test_indel_one_char();
    test_patterns();
    test_candidates();
    test_prefetch();
    test_shared_key();
    test_patch();
    test_confidence();
    test_order();
    test_long_detail();
    test_glob_random();
    test_plain_random();
    test_many_hits();
    test_big();
    return check_done("wl");
}
