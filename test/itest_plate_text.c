/*
 * Integration (database and anpr-watchlist): one normalisation everywhere.
 *
 * 1. The database's key of a plate (anpr.entry_key, migration 019, used by the history
 *    searches and the retro-match) agrees with plate.c on every character of the tables,
 *    every ASCII character, a sample of the rest of Unicode and the hard cases (combining
 *    marks, full width, separators): where plate.c normalises, the key is the same; where it
 *    refuses a character, the key holds a '#' the searches refuse.
 * 2. The matching corpus (test/match_corpus.tsv) through `anpr-watchlist test --stdin`: the
 *    lists and entries stored in PostgreSQL as an admin stores them, loaded by the daemon's own
 *    loading code, every case matched as the dry run matches it; the hits must be those
 *    test_corpus finds with the daemon's matcher. Cases a stdin line cannot carry (';', ',',
 *    TAB or control characters in a plate) are counted and left to test_corpus.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "corpus_esc.h"
#include "harness.h"
#include "plate.h"

#define MAX_CASES 1024

static struct h_db s_db;
static char s_dir[64];

/* ---- 1. SQL and C agree -------------------------------------------------------------- */

struct text_buf {
    char *p;
    size_t len, cap;
};

static void s_put(struct text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            h_fatal("out of memory");
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

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

/* One COPY text-format line: n TAB s, with the format's escapes. */
static void s_copy_line(struct text_buf *b, size_t n, const char *s)
{
    char num[24];
    snprintf(num, sizeof num, "%zu\t", n);
    s_put(b, num, strlen(num));
    for (; *s; s++) {
        if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r') {
            char e[2] = {'\\', *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : '\\'};
            s_put(b, e, 2);
        } else {
            s_put(b, s, 1);
        }
    }
    s_put(b, "\n", 1);
}

static const char *const s_hard[] = {
    "MU\xcc\x88-AB 12", /* U + combining diaeresis */
    "M\xc3\x9c-AB 12",  /* Ü */
    "A\xcc\x88\xcc\x81"
    "B", /* two marks */
    "\xcc\x88"
    "AB",               /* a mark first */
    "1\xcc\x88",        /* a mark on a digit */
    "A-\xcc\x88",       /* a mark on a separator */
    "\xd0\x95\xcc\x88", /* Cyrillic Е + diaeresis */
    "\xd0\x98\xcc\x86", /* И + breve */
    "\xef\xbc\xab\xef\xbc\xad\xef\xbc\x8d\xef\xbc\x97\xef\xbc\x91\xef\xbc\x93", /* ＫＭ－７１３ */
    "\xef\xbd\x8b\xef\xbd\x8d 713",                                             /* ｋｍ 713 */
    "1\xe2\x80\x91"
    "ABC\xe2\x80\x94"
    "123", /* non-breaking hyphen, em dash */
    "1\xe2\x88\x92"
    "ABC\xe3\x80\x80"
    "123", /* minus, ideographic space */
    "\xe2\x80\x8b"
    "AB\xc2\xad"
    "12\xef\xbb\xbf",                        /* zero-width space, soft hyphen, BOM */
    "1-\xd0\x90\xd0\x92\xd0\xa1-123",        /* Cyrillic АВС */
    "\xce\x9a\xce\x9c-713-\xce\xa7\xce\xa4", /* Greek ΚΜ ΧΤ */
    "STRA\xc3\x9f"
    "E",          /* ß */
    "AB\xc2\xb3", /* superscript three */
    "\xef\xac\x81"
    "12",              /* ligature fi */
    "1A*-*B",          /* runs of '*' */
    "1AB\xef\xbc\x9f", /* full-width ? */
    "**",              /* wildcards only */
    "",
    " - ",
    "ABCDEFGHIJ1234567",         /* 17 */
    "ABCDEFGHIJ1234567\xd0\x94", /* too long and a bad character */
    "1ABC123",
    "b 1-abc-123",
};

/* Whether s is well-formed UTF-8 (PostgreSQL takes nothing else). */
static bool s_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xE0) == 0xC0 ? 2
                   : (*p & 0xF0) == 0xE0 ? 3
                   : (*p & 0xF8) == 0xF0 ? 4
                                         : 0;
        if (n == 0)
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static void s_test_sql_agrees(void)
{
    struct text_buf copy = {0};
    char **texts = NULL;
    size_t n = 0, cap = 0;

    /* Every ASCII character, every code point of the tables' blocks, a sample of the rest; each
     * between two letters, as a plate holds it. */
    for (uint32_t cp = 1; cp <= 0x10FFFF; cp++) {
        bool dense =
            cp < 0x3100 || (cp >= 0xFE00 && cp <= 0xFFFF) || (cp >= 0x10E80 && cp <= 0x10EFF);
        if ((cp >= 0xD800 && cp <= 0xDFFF) || (!dense && cp % 97 != 0))
            continue;
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 4096;
            texts = realloc(texts, cap * sizeof *texts);
            if (!texts)
                h_fatal("out of memory");
        }
        char t[16] = "x";
        s_enc(cp, t + 1);
        strcat(t, "1");
        texts[n++] = strdup(t);
    }
    for (size_t i = 0; i < sizeof s_hard / sizeof s_hard[0]; i++) {
        texts = realloc(texts, (n + 1) * sizeof *texts);
        texts[n++] = strdup(s_hard[i]);
    }
    for (size_t i = 0; i < n; i++)
        s_copy_line(&copy, i, texts[i]);
    h_exec(s_db.admin, "CREATE TABLE plate_text (n integer PRIMARY KEY, s text NOT NULL)");
    h_copy_in(s_db.admin, "COPY plate_text FROM STDIN", copy.p, copy.len);
    PGresult *res = PQexec(s_db.admin, "SELECT n, anpr.entry_key(s) FROM plate_text ORDER BY n");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || (size_t)PQntuples(res) != n)
        h_fatal("entry_key: %s", PQresultErrorMessage(res));

    size_t bad = 0, ok = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = PQgetvalue(res, (int)i, 1);
        char c[PLATE_MAX + 1];
        enum plate_status st = plate_normalise_pattern(texts[i], c);
        bool agree;
        if (st == PLATE_OK)
            agree = strcmp(key, c) == 0;
        else if (st == PLATE_EMPTY)
            agree = key[0] == '\0';
        else if (st == PLATE_LONG)
            agree = strlen(key) > PLATE_MAX && strchr(key, '#') == NULL;
        else /* a character refused, or wildcards alone */
            agree = strchr(key, '#') != NULL || (key[0] && strspn(key, "?*") == strlen(key));
        ok += agree && st == PLATE_OK;
        refused += agree && st != PLATE_OK;
        if (!agree && bad++ < 10) {
            fprintf(stderr, "  \"");
            for (const unsigned char *p = (const unsigned char *)texts[i]; *p; p++)
                fprintf(stderr, *p < 0x20 || *p >= 0x7F ? "\\x%02X" : "%c", *p);
            fprintf(stderr, "\": plate.c %d \"%s\", entry_key \"%s\"\n", (int)st,
                    st == PLATE_OK ? c : "", key);
        }
    }
    CHECK_INT(bad, 0);
    /* What the scan covers: the tables' characters pass, most others are refused. */
    CHECK(ok > 1000);
    CHECK(refused > 10000);
    printf("entry_key and plate.c agree on %zu texts (%zu normalised, %zu refused)\n", n, ok,
           refused);
    PQclear(res);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(copy.p);
    CHECK(s_utf8_ok("ok"));
}

/* ---- 2. the corpus through anpr-watchlist test --------------------------------------- */

struct corpus_case {
    int line;
    char stdin_line[600];
    char expected[400]; /* sorted "id:kind" list, "-" for none */
};

static int s_split(char *line, char *f[16])
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < 16; p++)
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

/* Whether a text can travel in a stdin line's field. */
static bool s_fits_line(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == ';' || *p == ',' || *p == 0x7F)
            return false;
    return true;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a:x,b:y" sorted, ranks (@N) dropped, into out. */
static void s_sorted(const char *list, char *out, size_t cap)
{
    char buf[400], *items[64];
    size_t n = 0;
    char *save = NULL;

    snprintf(buf, sizeof buf, "%s", list);
    if (strcmp(buf, "-") == 0 || !buf[0]) {
        snprintf(out, cap, "-");
        return;
    }
    for (char *t = strtok_r(buf, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save)) {
        char *at = strchr(t, '@');
        if (at)
            *at = '\0';
        items[n++] = t;
    }
    qsort(items, n, sizeof *items, s_cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, i ? "," : "", cap - strlen(out) - 1);
        strncat(out, items[i], cap - strlen(out) - 1);
    }
}

static void s_test_corpus_cli(void)
{
    const char *path = getenv("ANPR_CORPUS");
    FILE *f = fopen(path ? path : "", "r");
    static struct corpus_case cases[MAX_CASES];
    size_t ncases = 0, skipped = 0;
    char *line = NULL, sql[2048];
    size_t cap = 0;
    int lineno = 0;

    if (!f)
        h_fatal("ANPR_CORPUS %s: %s", path ? path : "(unset)", strerror(errno));
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *fl[16];
        int nf = s_split(line, fl);
        if (strcmp(fl[0], "list") == 0 && nf == 10) {
            const char *p[9] = {fl[1],
                                fl[2],
                                fl[3],
                                fl[4],
                                fl[5],
                                fl[6],
                                strcmp(fl[7], "1") == 0 ? "t" : "f",
                                fl[8],
                                strcmp(fl[9], "1") == 0 ? "t" : "f"};
            PGresult *res = PQexecParams(
                s_db.admin,
                "INSERT INTO anpr.watchlist (id, name, category, priority, match_policy, "
                "max_subst, indel, min_confidence, candidates) OVERRIDING SYSTEM VALUE "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                9, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                h_fatal("corpus line %d: list: %s", lineno, PQresultErrorMessage(res));
            PQclear(res);
        } else if (strcmp(fl[0], "entry") == 0 && nf == 6) {
            /* Validity relative to now, as the corpus's is to its case time. */
            static const char *const valid[][3] = {
                {"always", NULL, NULL},          {"expired", NULL, "-1 hour"},
                {"future", "1 hour", NULL},      {"current", "-1 hour", "1 hour"},
                {"ends-now", NULL, "-1 minute"}, {"starts-now", "-1 minute", NULL},
            };
            const char *from = NULL, *until = NULL;
            for (size_t k = 0; k < sizeof valid / sizeof valid[0]; k++)
                if (strcmp(fl[5], valid[k][0]) == 0) {
                    from = valid[k][1];
                    until = valid[k][2];
                }
            const char *p[5] = {fl[2], fl[3], strcmp(fl[4], "-") == 0 ? "" : fl[4], from, until};
            snprintf(sql, sizeof sql, "corpus:%s", fl[1]);
            const char *pp[6] = {p[0], p[1], p[2], p[3], p[4], sql};
            PGresult *res = PQexecParams(
                s_db.admin,
                "INSERT INTO anpr.watchlist_entry (list_id, plate, country, valid_from, "
                "valid_until, external_ref) VALUES ($1, $2, $3, now() + $4::interval, "
                "now() + $5::interval, $6)",
                6, NULL, pp, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                h_fatal("corpus line %d: entry: %s", lineno, PQresultErrorMessage(res));
            PQclear(res);
        } else if (strcmp(fl[0], "case") == 0 && nf == 6) {
            corpus_unescape(fl[1]);
            char cands[300] = "";
            if (strcmp(fl[4], "-") != 0) {
                /* PLATE:C,... as the corpus has it; each plate unescaped on its own */
                char buf[300], *save = NULL;
                snprintf(buf, sizeof buf, "%s", fl[4]);
                for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                    char *colon = strrchr(t, ':');
                    if (colon)
                        *colon = '\0';
                    corpus_unescape(t);
                    if (!s_fits_line(t))
                        cands[0] = '\x01';
                    size_t l = strlen(cands);
                    snprintf(cands + l, sizeof cands - l, "%s%s:%s", l ? "," : "", t,
                             colon ? colon + 1 : "500");
                }
            }
            if (!s_fits_line(fl[1]) || cands[0] == '\x01' || ncases == MAX_CASES) {
                skipped++;
                continue;
            }
            struct corpus_case *c = &cases[ncases++];
            c->line = lineno;
            snprintf(c->stdin_line, sizeof c->stdin_line, "%s;%s;%s;%s", fl[1],
                     strcmp(fl[2], "-") == 0 ? "" : fl[2], cands, fl[3]);
            s_sorted(fl[5], c->expected, sizeof c->expected);
        }
    }
    free(line);
    fclose(f);

    /* The entries' corpus ids, to read the tool's database ids back as corpus ids. */
    h_exec(s_db.admin, "CREATE TABLE corpus_id AS SELECT id, substr(external_ref, 8) AS cid "
                       "FROM anpr.watchlist_entry WHERE external_ref LIKE 'corpus:%'");

    char in_path[128], out_path[128], err_path[128];
    snprintf(in_path, sizeof in_path, "%s/in", s_dir);
    snprintf(out_path, sizeof out_path, "%s/out", s_dir);
    snprintf(err_path, sizeof err_path, "%s/err", s_dir);
    FILE *in = fopen(in_path, "w");
    if (!in)
        h_fatal("%s: %s", in_path, strerror(errno));
    for (size_t i = 0; i < ncases; i++)
        fprintf(in, "%s\n", cases[i].stdin_line);
    if (fclose(in) != 0)
        h_fatal("%s", in_path);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "exec \"$ANPR_WATCHLIST\" test --stdin --db \"$WL_DB\" < %s",
             in_path);
    setenv("WL_DB", s_db.admin_ci, 1);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    CHECK_INT(h_wait(h_spawn(argv, out_path, err_path), 240000), 0);
    char *out = h_slurp(out_path);

    /* One output line per case, in order: input, TAB, count or "invalid", TAB, hits. */
    size_t bad = 0, i = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l && i < ncases;
         l = strtok_r(NULL, "\n", &save), i++) {
        char *f3[16];
        int nf = s_split(l, f3);
        char got[400] = "-";
        if (nf == 3 && strcmp(f3[1], "invalid") != 0 && strcmp(f3[2], "-") != 0) {
            /* database ids to corpus ids */
            char ids[400] = "", buf[400], *s2 = NULL;
            snprintf(buf, sizeof buf, "%s", f3[2]);
            for (char *t = strtok_r(buf, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
                char *colon = strchr(t, ':');
                if (!colon)
                    continue;
                *colon = '\0';
                snprintf(sql, sizeof sql,
                         "SELECT coalesce((SELECT cid::bigint FROM corpus_id "
                         "WHERE id = %lld), -1)",
                         atoll(t));
                size_t l2 = strlen(ids);
                snprintf(ids + l2, sizeof ids - l2, "%s%lld:%s", l2 ? "," : "",
                         h_query_ll(s_db.admin, sql), colon + 1);
            }
            s_sorted(ids, got, sizeof got);
        }
        if (strcmp(got, cases[i].expected) != 0 && bad++ < 10)
            fprintf(stderr, "  corpus line %d \"%s\": anpr-watchlist test %s, corpus %s\n",
                    cases[i].line, cases[i].stdin_line, got, cases[i].expected);
    }
    CHECK_INT(i, ncases);
    CHECK_INT(bad, 0);
    CHECK(ncases > 500);
    printf("corpus through anpr-watchlist test: %zu cases, %zu left to test_corpus "
           "(not a stdin line)\n",
           ncases, skipped);
    if (bad) {
        char *err = h_slurp(err_path);
        fprintf(stderr, "%s", err);
        free(err);
    }
    free(out);
}

int main(void)
{
    h_require_env();
    h_db_create(&s_db, "itest_plate_text");
    snprintf(s_dir, sizeof s_dir, "/tmp/itest_plate.XXXXXX");
    if (!mkdtemp(s_dir))
        h_fatal("mkdtemp");

    s_test_sql_agrees();
    s_test_corpus_cli();

    h_db_close(&s_db);
    if (check_failed == 0)
        h_rmtree(s_dir);
    return check_done("itest_plate_text");
}
