/*
 * fuzz_wl: the watchlist compile (OCR classes, plates and patterns into a snapshot: wl.c) and
 * the matcher a read goes through (match.c), on lists of every policy. Properties: the live
 * matcher and the retro-match agree (every variant wl_entry_variants() gives for an entry hits
 * that entry, and every plate a reading hits an entry with is one of its variants, but for
 * the misreads retro.h says it does not search); a plate
 * made from a pattern by filling its wildcards hits the pattern.
 *
 * Each input is checked on a full snapshot, then on a patch of it (every other entry changed,
 * and the "+" entries added), as the sync thread makes them.
 *
 * Input, one item a line: the OCR classes; then entries ("Kplate": K picks one of four lists
 * by its value mod 4; "+Kplate": added by the patch) and reads (">plate,cand1,cand2...").
 */
#include "fuzz.h"
#include "idset.h"
#include "match.h"
#include "wl.h"

#include <stdbool.h>
#include <string.h>

#define MAX_LINES    48
#define MAX_VARIANTS 4096

static char s_var[MAX_VARIANTS][PLATE_MAX + 1];

static const struct wl_list_opts s_opts[4] = {
    {.policy = WL_POLICY_EXACT},
    {.policy = WL_POLICY_OCR, .max_subst = 1},
    {.policy = WL_POLICY_OCR, .max_subst = 2, .indel = true, .candidates = true},
    {.policy = WL_POLICY_OCR,
     .max_subst = WL_MAX_SUBST,
     .indel = true,
     .min_confidence = 500,
     .candidates = true},
};

/* Whether plate hits entry e among what wl_match finds for it read alone. */
static bool s_hits(const wl_t *wl, const char *plate, const struct wl_entry *e)
{
    struct wl_match m[MAX_LINES];
    struct wl_query q = {.country = "", .time_us = 1, .nreadings = 1};

    q.plate[0] = plate;
    q.confidence[0] = 1000;
    size_t n = wl_match(wl, &q, m, MAX_LINES);
    FUZZ_REQUIRE(n <= MAX_LINES);
    for (size_t i = 0; i < n; i++) {
        FUZZ_REQUIRE(m[i].entry != NULL && memchr(m[i].detail, '\0', sizeof m[i].detail));
        if (m[i].entry == e)
            return true;
    }
    return false;
}

/* A plate the pattern p takes: '?' as fill, '*' as nothing or as two of fill (out holds
 * 2 * PLATE_MAX + 1: every '*' may become two characters). */
static void s_fill(const char *p, char fill, bool star_two, char out[2 * PLATE_MAX + 1])
{
    size_t k = 0;

    for (; *p; p++) {
        if (*p == '?' || (*p == '*' && star_two)) {
            out[k++] = fill;
            if (*p == '*')
                out[k++] = fill;
        } else if (*p != '*') {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

static void s_check_entry(const wl_t *wl, const struct wl_entry *e, unsigned pick)
{
    if (e->pattern) {
        char p[2 * PLATE_MAX + 1], norm[PLATE_MAX + 1];
        for (int two = 0; two < 2; two++) {
            s_fill(e->plate, "X7"[pick % 2], two, p);
            if (plate_normalise(p, norm) == PLATE_OK)
                FUZZ_REQUIRE(s_hits(wl, norm, e));
        }
        return;
    }
    FUZZ_REQUIRE(s_hits(wl, e->plate, e));
    int n = wl_entry_variants(wl, e, s_var, MAX_VARIANTS);
    if (n < 0)
        return;
    /* At most 32 of them, spread over all, so that one input stays quick. */
    size_t step = (size_t)n / 32 + 1;
    for (size_t i = pick % step; i < (size_t)n; i += step) {
        bool hit = s_hits(wl, s_var[i], e);
        if (!hit)
            fprintf(stderr, "entry %s (list %u): variant %s does not hit it\n", e->plate,
                    (unsigned)e->list->id, s_var[i]);
        FUZZ_REQUIRE(hit);
    }
}

/* The read of line l: primary plate, candidates after commas. */
static void s_check_read(const wl_t *wl, char *l)
{
    struct proto_read r = {.seq = 1, .time_us = 1, .confidence = 900};
    struct match_readings rd;
    struct wl_match m[MAX_LINES];
    const char *readings[WL_READINGS_MAX];
    char norm[PLATE_MAX + 1];
    char *save = NULL, *tok = strtok_r(l, ",", &save);

    if (!tok || strlen(tok) > PROTO_PLATE_MAX)
        return;
    strcpy(r.plate, tok);
    while ((tok = strtok_r(NULL, ",", &save)) != NULL && r.ncand < PROTO_CAND_MAX) {
        if (strlen(tok) > PROTO_PLATE_MAX)
            continue;
        strcpy(r.cand[r.ncand].plate, tok);
        r.cand[r.ncand].confidence = (uint16_t)(500 + 100 * r.ncand);
        r.ncand++;
    }
    if (plate_normalise(r.plate, norm) != PLATE_OK)
        return;
    size_t n = match_read(wl, &r, norm, 1, &rd, m, MAX_LINES, readings);
    FUZZ_REQUIRE(n <= MAX_LINES && readings[0] == norm);
    for (size_t i = 0; i < n; i++) {
        const struct wl_entry *e = m[i].entry;
        struct proto_hit hit;
        char topic[128];

        FUZZ_REQUIRE(m[i].reading <= r.ncand && readings[m[i].reading] != NULL);
        match_hit(&r, &m[i], false, &hit);
        FUZZ_REQUIRE(match_topic(e, topic, sizeof topic) > 0);
        /* Not searched by the retro-match, as retro.h says: patterns (the database matches
         * them), one character more or missing together with a substitution, and a plate
         * matched with a euroband code left out. */
        if (e->pattern || (m[i].indel && m[i].nsubst > 0) || m[i].euroband)
            continue;
        int nv = wl_entry_variants(wl, e, s_var, MAX_VARIANTS);
        bool found = nv < 0;
        for (int v = 0; v < nv && !found; v++)
            found = strcmp(s_var[v], readings[m[i].reading]) == 0;
        if (!found)
            fprintf(stderr, "entry %s (list %u) hit by reading %u '%s' (%s)\n", e->plate,
                    (unsigned)e->list->id, (unsigned)m[i].reading, readings[m[i].reading],
                    m[i].detail);
        FUZZ_REQUIRE(found);
    }
}

/* An entry line i ("Kplate", or "+Kplate" for one the patch adds) into b. */
static void s_add_line(wl_builder_t *b, const char *l, size_t i)
{
    char err[256];
    if (*l == '+')
        l++;
    if (*l == '\0')
        return;
    struct wl_entry_in in = {.id = i,
                             .list_id = (uint32_t)((unsigned char)l[0] % 4 + 1),
                             .plate = l + 1,
                             .valid_from_us = WL_UNBOUNDED_FROM,
                             .valid_until_us = WL_UNBOUNDED_UNTIL};
    if (wl_builder_add(b, &in, err, sizeof err) != 0)
        FUZZ_REQUIRE(memchr(err, '\0', sizeof err) && err[0]);
}

static void s_check_all(const wl_t *wl, char **lines, size_t nlines, size_t size)
{
    for (size_t i = 0; i < wl_entry_slots(wl); i++) {
        const struct wl_entry *e = wl_entry_slot(wl, i);
        if (e)
            s_check_entry(wl, e, (unsigned)(i + size));
    }
    for (size_t i = 1; i < nlines; i++)
        if (lines[i][0] == '>')
            s_check_read(wl, lines[i] + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[2048], *lines[MAX_LINES], err[256];
    size_t nlines = 0;
    wl_builder_t *b = NULL;
    wl_t *wl = NULL, *patched = NULL;
    idset_t *changed = NULL;

    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *p = text; p && nlines < MAX_LINES; nlines++) {
        lines[nlines] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }

    /* The full snapshot: every entry line but those for the patch. */
    b = wl_builder_new();
    FUZZ_REQUIRE(b != NULL);
    (void)wl_builder_set_classes(b, lines[0], err, sizeof err);
    for (uint32_t k = 0; k < 4; k++)
        FUZZ_REQUIRE(wl_builder_add_list(b, k + 1, "list", "cat", (uint8_t)(k + 1), &s_opts[k], err,
                                         sizeof err) == 0);
    for (size_t i = 1; i < nlines; i++)
        if (lines[i][0] != '>' && lines[i][0] != '+')
            s_add_line(b, lines[i], i);
    wl = wl_builder_build(&b);
    FUZZ_REQUIRE(wl != NULL && b == NULL);
    s_check_all(wl, lines, nlines, size);

    /* A patch of it that changes every other entry (added again as it was) and adds the "+"
     * lines: the same properties hold across the two layers. */
    changed = idset_new();
    FUZZ_REQUIRE(changed != NULL);
    for (size_t i = 1; i < nlines; i++)
        if (lines[i][0] == '+' || (lines[i][0] != '>' && i % 2 == 1))
            FUZZ_REQUIRE(idset_add(changed, i) == 0);
    b = wl_builder_patch(wl, changed, err, sizeof err);
    FUZZ_REQUIRE(b != NULL);
    for (size_t i = 1; i < nlines; i++)
        if (idset_has(changed, i))
            s_add_line(b, lines[i], i);
    patched = wl_builder_build(&b);
    FUZZ_REQUIRE(patched != NULL);
    wl_destroy(&wl);
    s_check_all(patched, lines, nlines, size);
    wl_destroy(&patched);
    idset_destroy(&changed);
    return 0;
}
