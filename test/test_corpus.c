/*
 * test_corpus: run the matching corpus (test/match_corpus.tsv, format documented at its top)
 * against wl_match(). Usage: test_corpus FILE.
 *
 * Lists and entries go into one snapshot (default OCR classes); every case is normalised with
 * plate_normalise_cc() and made a query by match_query() as the daemon does, matched, and the
 * set of (entry, kind[, rank]) it hits compared with the expected set. A mismatch prints the file
 * line, the case and both sets.
 */
#include "check.h"
#include "corpus_esc.h"
#include "match.h"
#include "plate.h"
#include "proto.h"
#include "wl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define T0   1767225600000000LL /* 2026-01-01T00:00:00Z, the time of every case */
#define HOUR 3600000000LL

#define MAX_FIELDS 16
#define MAX_CANDS  (WL_READINGS_MAX - 1)
#define MAX_EXP    32
#define MAX_GOT    64

enum { K_EXACT, K_OCR, K_CANDIDATE, K_PATTERN, K_N };
static const char *const s_kind_name[K_N] = {"exact", "ocr", "candidate", "pattern"};
static const uint8_t s_kind_proto[K_N] = {PROTO_MATCH_EXACT, PROTO_MATCH_OCR, PROTO_MATCH_CANDIDATE,
                                          PROTO_MATCH_PATTERN};

struct hit {
    uint64_t id;
    int kind; /* K_*, or -1 for a kind wl_match should never give */
    int rank; /* candidate rank (1-based position in the case's field); 0 = primary/unspecified */
    bool used;
};

static const char *s_path;
static int s_line;
static char s_section[160] = "(before any section)";

/* Per-kind tallies for the summary lines. */
static int s_exp_kind[K_N], s_found_kind[K_N], s_extra_kind[K_N];
static int s_none_cases, s_none_ok, s_cases, s_cases_failed, s_unnormalised;

static _Noreturn void s_malformed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void s_malformed(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: malformed line: ", s_path, s_line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    printf("corpus: %d passed, %d failed (malformed corpus)\n", check_passed, check_failed + 1);
    exit(1);
}

/* Split line in place at TABs; returns the number of fields. */
static int s_split(char *line, char *f[MAX_FIELDS])
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '\t') {
            *p = '\0';
            if (n == MAX_FIELDS)
                s_malformed("more than %d fields", MAX_FIELDS);
            f[n++] = p + 1;
        }
    }
    return n;
}

static unsigned long long s_num(const char *s, unsigned long long max, const char *what)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        s_malformed("bad %s", what);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        s_malformed("bad %s", what);
    return v;
}

/* Decode the corpus's escapes in place; a bad one makes the corpus malformed. */
static void s_unescape(char *s)
{
    if (corpus_unescape(s) != 0)
        s_malformed("bad escape in \"%s\" (\\t, \\\\ or \\xHH)", s);
}

static const char *s_country(const char *f)
{
    if (strcmp(f, "-") == 0)
        return "";
    if (strlen(f) != 2 || f[0] < 'A' || f[0] > 'Z' || f[1] < 'A' || f[1] > 'Z')
        s_malformed("bad country \"%s\" (ISO alpha-2 or -)", f);
    return f;
}

static void s_list(wl_builder_t *b, char **f, int n)
{
    char err[256] = "";
    struct wl_list_opts o = {0};

    if (n != 10)
        s_malformed("list needs 10 fields: list id name category priority policy max_subst "
                    "indel min_confidence candidates");
    uint32_t id = (uint32_t)s_num(f[1], UINT32_MAX, "list id");
    uint8_t prio = (uint8_t)s_num(f[4], 255, "priority");
    if (strcmp(f[5], "exact") == 0)
        o.policy = WL_POLICY_EXACT;
    else if (strcmp(f[5], "ocr") == 0)
        o.policy = WL_POLICY_OCR;
    else
        s_malformed("bad policy \"%s\" (exact|ocr)", f[5]);
    o.max_subst = (uint8_t)s_num(f[6], 255, "max_subst");
    o.indel = s_num(f[7], 1, "indel (0|1)") != 0;
    o.min_confidence = (uint16_t)s_num(f[8], 1000, "min_confidence");
    o.candidates = s_num(f[9], 1, "candidates (0|1)") != 0;
    if (wl_builder_add_list(b, id, f[2], f[3], prio, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s:%d: wl_builder_add_list refused list %s: %s\n", s_path, s_line, f[1],
                err);
        exit(1);
    }
}

static void s_entry(wl_builder_t *b, char **f, int n)
{
    char err[256] = "", ref[64];
    struct wl_entry_in in = {0};

    if (n != 6)
        s_malformed("entry needs 6 fields: entry id list_id plate country valid");
    in.id = s_num(f[1], UINT64_MAX, "entry id");
    in.list_id = (uint32_t)s_num(f[2], UINT32_MAX, "list id");
    in.plate = f[3];
    in.country = s_country(f[4]);
    in.valid_from_us = WL_UNBOUNDED_FROM;
    in.valid_until_us = WL_UNBOUNDED_UNTIL;
    if (strcmp(f[5], "always") == 0) {
    } else if (strcmp(f[5], "expired") == 0) {
        in.valid_until_us = T0 - HOUR;
    } else if (strcmp(f[5], "future") == 0) {
        in.valid_from_us = T0 + HOUR;
    } else if (strcmp(f[5], "current") == 0) {
        in.valid_from_us = T0 - HOUR;
        in.valid_until_us = T0 + HOUR;
    } else if (strcmp(f[5], "ends-now") == 0) {
        in.valid_until_us = T0;
    } else if (strcmp(f[5], "starts-now") == 0) {
        in.valid_from_us = T0;
    } else {
        s_malformed("bad validity \"%s\" (always|expired|future|current|ends-now|starts-now)",
                    f[5]);
    }
    snprintf(ref, sizeof(ref), "corpus:%d", s_line);
    in.external_ref = ref;
    if (wl_builder_add(b, &in, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s:%d: wl_builder_add refused entry %s \"%s\": %s\n", s_path, s_line, f[1],
                f[3], err);
        exit(1);
    }
}

static int s_kind(const char *s)
{
    for (int k = 0; k < K_N; k++)
        if (strcmp(s, s_kind_name[k]) == 0)
            return k;
    return -1;
}

/* "-" or id:kind[@rank],... */
static size_t s_expected(char *f, struct hit *exp)
{
    size_t n = 0;
    if (strcmp(f, "-") == 0)
        return 0;
    for (char *save = NULL, *tok = strtok_r(f, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_EXP)
            s_malformed("more than 32 expected hits");
        char *colon = strchr(tok, ':');
        if (!colon)
            s_malformed("expected hit \"%s\" is not ENTRY_ID:KIND", tok);
        *colon = '\0';
        char *at = strchr(colon + 1, '@');
        if (at)
            *at = '\0';
        struct hit h = {.id = s_num(tok, UINT64_MAX, "expected entry id"),
                        .kind = s_kind(colon + 1)};
        if (h.kind < 0)
            s_malformed("bad kind \"%s\" (exact|ocr|candidate|pattern)", colon + 1);
        if (at) {
            if (h.kind != K_CANDIDATE)
                s_malformed("@rank only goes with candidate");
            h.rank = (int)s_num(at + 1, MAX_CANDS, "candidate rank");
            if (h.rank == 0)
                s_malformed("candidate rank starts at 1");
        }
        for (size_t i = 0; i < n; i++)
            if (exp[i].id == h.id)
                s_malformed("entry %s expected twice", tok);
        exp[n++] = h;
    }
    if (n == 0)
        s_malformed("empty expected field (use -)");
    return n;
}

static void s_print_hits(const char *label, const struct hit *h, size_t n)
{
    fprintf(stderr, "    %s:", label);
    if (n == 0)
        fprintf(stderr, " -");
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, " %llu:%s", (unsigned long long)h[i].id,
                h[i].kind >= 0 ? s_kind_name[h[i].kind] : "?");
        if (h[i].rank)
            fprintf(stderr, "@%d", h[i].rank);
    }
    fputc('\n', stderr);
}

static void s_case(const wl_t *w, char **f, int n)
{
    struct hit exp[MAX_EXP], got[MAX_GOT];
    char cand_raw[MAX_CANDS][256];
    int cand_conf[MAX_CANDS];
    size_t ncand = 0;
    char desc[1024];

    if (n != 6)
        s_malformed("case needs 6 fields: case read country confidence candidates expected");
    snprintf(desc, sizeof(desc), "read \"%s\" country %s confidence %s candidates %s", f[1], f[2],
             f[3], f[4]);
    const char *country = s_country(f[2]);
    uint16_t conf = (uint16_t)s_num(f[3], 1000, "confidence");
    if (strcmp(f[4], "-") != 0) {
        char *save = NULL;
        for (char *tok = strtok_r(f[4], ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (ncand == MAX_CANDS)
                s_malformed("more than 8 candidates");
            char *colon = strrchr(tok, ':');
            if (!colon)
                s_malformed("candidate \"%s\" is not PLATE:CONFIDENCE", tok);
            *colon = '\0';
            cand_conf[ncand] = (int)s_num(colon + 1, 1000, "candidate confidence");
            if (strlen(tok) >= sizeof(cand_raw[0]))
                s_malformed("candidate \"%s\" too long", tok);
            strcpy(cand_raw[ncand], tok);
            s_unescape(cand_raw[ncand]);
            ncand++;
        }
    }
    size_t nexp = s_expected(f[5], exp);
    s_unescape(f[1]);

    s_cases++;
    if (nexp == 0)
        s_none_cases++;
    for (size_t i = 0; i < nexp; i++)
        s_exp_kind[exp[i].kind]++;

    char prim[PLATE_MAX + 1];
    enum plate_status st = plate_normalise_cc(f[1], country, prim);
    if (st != PLATE_OK) {
        s_unnormalised++;
        if (nexp == 0) {
            s_none_ok++;
            check_passed++;
            return;
        }
        check_failed++;
        s_cases_failed++;
        fprintf(stderr,
                "%s:%d: [%s] %s\n    the read does not normalise (status %d), "
                "but hits are expected\n",
                s_path, s_line, s_section, desc, (int)st);
        s_print_hits("expected", exp, nexp);
        return;
    }

    /* The daemon's own query (match_query): candidates, their euroband readings, UK = GB. */
    struct proto_read r = {.seq = 1, .time_us = T0, .confidence = conf, .ncand = (uint8_t)ncand};
    snprintf(r.country, sizeof r.country, "%s", country);
    for (size_t i = 0; i < ncand; i++) {
        if (strlen(cand_raw[i]) > PROTO_PLATE_MAX)
            s_malformed("candidate longer than %d bytes", PROTO_PLATE_MAX);
        memcpy(r.cand[i].plate, cand_raw[i], strlen(cand_raw[i]) + 1);
        r.cand[i].confidence = (uint16_t)cand_conf[i];
    }
    struct match_readings rd;
    struct wl_query q;
    match_query(w, &r, prim, T0, &rd, &q);
    /* Reading i + 1 is candidate i (NULL where it did not normalise): its rank is i + 1. */
    int rank_of[WL_READINGS_MAX] = {0};
    for (size_t i = 1; i < q.nreadings; i++)
        rank_of[i] = (int)i;

    struct wl_match m[MAX_GOT];
    memset(m, 0, sizeof(m));
    size_t total = wl_match(w, &q, m, MAX_GOT);
    size_t ngot = total < MAX_GOT ? total : MAX_GOT;
    const char *problem = NULL;
    if (total > MAX_GOT)
        problem = "more hits than the runner can hold";

    for (size_t i = 0; i < ngot; i++) {
        got[i].id = m[i].entry ? m[i].entry->id : UINT64_MAX;
        got[i].kind = -1;
        for (int k = 0; k < K_N; k++)
            if (m[i].kind == s_kind_proto[k])
                got[i].kind = k;
        got[i].rank = m[i].reading < q.nreadings ? rank_of[m[i].reading] : -1;
        got[i].used = false;
        if (!m[i].entry)
            problem = "a match without an entry";
        else if (got[i].kind < 0)
            problem = "a kind that is not EXACT, OCR, CANDIDATE or PATTERN";
        else if (m[i].reading >= q.nreadings)
            problem = "a reading index past the query's readings";
        else if ((got[i].kind == K_CANDIDATE) != (m[i].reading > 0))
            problem = "kind candidate and reading disagree";
        else if (m[i].confidence != q.confidence[m[i].reading])
            problem = "a confidence that is not its reading's";
        else if (got[i].kind == K_EXACT && (m[i].nsubst || m[i].indel))
            problem = "kind exact with substitutions or an indel";
        else if (got[i].kind == K_OCR && !m[i].nsubst && !m[i].indel)
            problem = "kind ocr without a substitution or an indel";
        else if (i > 0 && m[i - 1].entry &&
                 m[i].entry->list->priority < m[i - 1].entry->list->priority)
            problem = "not most urgent list first";
        for (size_t j = 0; j < i; j++)
            if (m[j].entry && m[i].entry && m[j].entry == m[i].entry)
                problem = "the same entry twice";
    }

    /* Match expected against got: same id and kind, and the rank if the corpus gives one. */
    size_t missing = 0;
    for (size_t e = 0; e < nexp; e++) {
        exp[e].used = false;
        for (size_t g = 0; g < ngot; g++) {
            if (got[g].used || got[g].id != exp[e].id || got[g].kind != exp[e].kind)
                continue;
            if (exp[e].rank && got[g].rank != exp[e].rank)
                continue;
            got[g].used = exp[e].used = true;
            s_found_kind[exp[e].kind]++;
            break;
        }
        if (!exp[e].used)
            missing++;
    }
    size_t extra = 0;
    for (size_t g = 0; g < ngot; g++) {
        if (!got[g].used) {
            extra++;
            if (got[g].kind >= 0)
                s_extra_kind[got[g].kind]++;
        }
    }

    if (missing == 0 && extra == 0 && !problem) {
        check_passed++;
        if (nexp == 0)
            s_none_ok++;
        return;
    }
    check_failed++;
    s_cases_failed++;
    fprintf(stderr, "%s:%d: [%s] %s\n", s_path, s_line, s_section, desc);
    fprintf(stderr, "    normalised:");
    for (size_t i = 0; i < q.nreadings; i++)
        fprintf(stderr, " %s%s%s%s(%u)", i ? "cand" : "", q.plate[i] ? q.plate[i] : "-",
                q.alt[i] ? "/" : "", q.alt[i] ? q.alt[i] : "", (unsigned)q.confidence[i]);
    fputc('\n', stderr);
    if (problem)
        fprintf(stderr, "    wl_match broke its contract: %s\n", problem);
    s_print_hits("expected", exp, nexp);
    s_print_hits("got     ", got, ngot);
    for (size_t g = 0; g < ngot; g++) {
        if (!m[g].entry)
            continue;
        fprintf(stderr, "      %llu list %u \"%s\" kind %u reading %u nsubst %u indel %d: %s\n",
                (unsigned long long)m[g].entry->id, (unsigned)m[g].entry->list->id,
                m[g].entry->plate, (unsigned)m[g].kind, (unsigned)m[g].reading,
                (unsigned)m[g].nsubst, (int)m[g].indel, m[g].detail);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s match_corpus.tsv\n", argv[0]);
        return 2;
    }
    s_path = argv[1];
    FILE *fp = fopen(s_path, "r");
    if (!fp) {
        fprintf(stderr, "%s: %s\n", s_path, strerror(errno));
        return 1;
    }

    wl_builder_t *b = wl_builder_new();
    wl_t *w = NULL;
    if (!b) {
        fprintf(stderr, "wl_builder_new: out of memory\n");
        return 1;
    }

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        s_line++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if ((size_t)len != strlen(line))
            s_malformed("NUL byte in the line (use \\x escapes)");
        if (len == 0)
            continue;
        if (line[0] == '#') {
            if (strncmp(line, "# ==", 4) == 0)
                snprintf(s_section, sizeof(s_section), "%s", line + (line[4] == ' ' ? 5 : 4));
            continue;
        }
        char *f[MAX_FIELDS];
        int n = s_split(line, f);
        if (strcmp(f[0], "list") == 0 || strcmp(f[0], "entry") == 0) {
            if (w)
                s_malformed("lists and entries must come before the first case");
            if (f[0][0] == 'l')
                s_list(b, f, n);
            else
                s_entry(b, f, n);
        } else if (strcmp(f[0], "case") == 0) {
            if (!w) {
                w = wl_builder_build(&b);
                if (!w) {
                    fprintf(stderr, "%s:%d: wl_builder_build failed\n", s_path, s_line);
                    return 1;
                }
                printf("corpus: %zu lists, %zu entries (%zu patterns)\n", wl_list_count(w),
                       wl_entry_count(w), wl_pattern_count(w));
            }
            s_case(w, f, n);
        } else {
            s_malformed("unknown record \"%s\" (list, entry, case, or # comment)", f[0]);
        }
    }
    free(line);
    fclose(fp);
    wl_builder_destroy(&b);
    wl_destroy(&w);

    printf("corpus: %d cases, %d failed (%d reads did not normalise)\n", s_cases, s_cases_failed,
           s_unnormalised);
    for (int k = 0; k < K_N; k++)
        printf("corpus: kind %-9s: %4d expected, %4d found, %4d unexpected\n", s_kind_name[k],
               s_exp_kind[k], s_found_kind[k], s_extra_kind[k]);
    printf("corpus: no hit        : %4d expected, %4d right\n", s_none_cases, s_none_ok);
    return check_done("corpus");
}
