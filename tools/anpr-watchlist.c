/*
 * anpr-watchlist: watchlist administration. This version has the admins' dry run: which
 * entries of the current lists a plate would hit, and how, computed by the daemon's own matcher
 * on the lists as they are in the database.
 *
 *   anpr-watchlist test PLATE [--country CC] [--candidates P1[:C],P2...] [--confidence C]
 *   anpr-watchlist test --stdin       one "PLATE[;CC[;P1,P2...]]" per line, one result line each
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "plate.h"
#include "proto.h"
#include "util.h"
#include "wl.h"

#define PROG "anpr-watchlist"

enum { EXIT_HIT = 0, EXIT_NO_HIT = 1, EXIT_USAGE = 2, EXIT_DATABASE = 3 };

struct opts {
    const char *db;         /* conninfo; NULL = libpq's environment (PGHOST, ...) */
    const char *classes;    /* OCR classes */
    const char *country;    /* "" = unknown */
    const char *candidates; /* comma-separated, each PLATE or PLATE:CONFIDENCE */
    long long confidence;   /* of the plate, per mille */
    bool stdin_mode;
};

static void s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: " PROG " test PLATE [--country CC] [--candidates P1[:C],P2[:C]...]\n"
        "                     [--confidence C] [--db CONNINFO] [--classes LIST | --config FILE]\n"
        "       " PROG " test --stdin [--db CONNINFO] [--classes LIST | --config FILE]\n"
        "\n"
        "Dry run of the daemon's matcher on the watchlists as they are in the database: prints\n"
        "every entry a read of PLATE would hit, and how (exact, ocr, candidate, pattern).\n"
        "\n"
        "  --country CC        country the camera read (ISO alpha-2; default unknown)\n"
        "  --candidates LIST   the camera's alternative readings, best first, with their\n"
        "                      confidence per mille (default 500)\n"
        "  --confidence C      confidence of PLATE per mille (default 900)\n"
        "  --stdin             read one PLATE[;CC[;P1,P2...]] per line from standard input and\n"
        "                      print one line each: input, TAB, hit count, TAB, entry:kind,...\n"
        "  --db CONNINFO       libpq connection string (default: PGHOST, PGDATABASE, ...)\n"
        "  --classes LIST      OCR classes, e.g. \"0ODQ,1IL,8B\" (default %s)\n"
        "  --config FILE       take the OCR classes from anprd's configuration file\n"
        "\n"
        "Exit status: 0 a hit (or --stdin done), 1 no hit, 2 usage or input error,\n"
        "3 database error.\n",
        WL_DEFAULT_CLASSES);
}

/* "P1:640,P2" into the query's candidate readings; -1 (reported) on a bad one. */
static int s_candidates(const char *list, const char *country, struct wl_query *q,
                        char plates[][PLATE_MAX + 1], const char *ctx)
{
    char buf[512];
    char *save = NULL;

    if (!list || !*list)
        return 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        long long conf = 500;
        if (colon) {
            *colon = '\0';
            if (util_parse_long(colon + 1, 0, PROTO_CONFIDENCE_MAX, &conf) != 0) {
                fprintf(stderr, PROG ": %s: candidate '%s': confidence must be 0..1000\n", ctx,
                        tok);
                return -1;
            }
        }
        if (q->nreadings >= WL_READINGS_MAX) {
            fprintf(stderr, PROG ": %s: more than %d candidates\n", ctx, WL_READINGS_MAX - 1);
            return -1;
        }
        if (plate_normalise_cc(tok, country, plates[q->nreadings]) != PLATE_OK) {
            fprintf(stderr, PROG ": %s: candidate '%s' is not a plate\n", ctx, tok);
            return -1;
        }
        q->plate[q->nreadings] = plates[q->nreadings];
        q->confidence[q->nreadings++] = (uint16_t)conf;
    }
    return 0;
}

static const char *s_kind_name(uint8_t kind)
{
    const char *name = proto_match_name(kind);

    return name ? name : "?";
}

static const char *s_why(enum plate_status st)
{
    return st == PLATE_EMPTY  ? "no letter or digit"
           : st == PLATE_LONG ? "more than 16 letters and digits"
                              : "a character that is not a letter, digit or separator";
}

/* Match one read and print the result; returns the number of hits, or -1 on bad input. */
static int s_test(const wl_t *wl, const char *raw, const char *country, uint16_t confidence,
                  const char *cands, bool one_line, const char *ctx)
{
    char plates[WL_READINGS_MAX][PLATE_MAX + 1];
    struct wl_match m[32];
    struct wl_query q = {.country = country, .time_us = util_now_us(), .nreadings = 1};
    enum plate_status st = plate_normalise_cc(raw, country, plates[0]);
    size_t n;

    if (st != PLATE_OK) {
        if (one_line)
            printf("%s\tinvalid\t%s\n", ctx, s_why(st));
        else
            fprintf(stderr, PROG ": '%s' is not a plate: %s\n", raw, s_why(st));
        return -1;
    }
    if (*country && !proto_country_valid(country)) {
        if (one_line)
            printf("%s\tinvalid\tcountry is not an ISO alpha-2 code\n", ctx);
        else
            fprintf(stderr, PROG ": country '%s' is not an ISO alpha-2 code\n", country);
        return -1;
    }
    q.plate[0] = plates[0];
    q.confidence[0] = confidence;
    if (s_candidates(cands, country, &q, plates, ctx) != 0) {
        if (one_line)
            printf("%s\tinvalid\ta candidate is not a plate or has a bad confidence\n", ctx);
        return -1;
    }
    n = wl_match(wl, &q, m, 32);
    if (one_line) {
        printf("%s\t%zu", ctx, n);
        for (size_t i = 0; i < n && i < 32; i++)
            printf("%s%" PRIu64 ":%s", i ? "," : "\t", m[i].entry->id, s_kind_name(m[i].kind));
        printf(n ? "\n" : "\t-\n");
        return (int)n;
    }
    printf("read %s%s%s -> %s: %zu hit%s\n", raw, *country ? " " : "", country, plates[0], n,
           n == 1 ? "" : "s");
    for (size_t i = 0; i < n && i < 32; i++) {
        const struct wl_entry *e = m[i].entry;
        printf("  P%u %-14s entry %-8" PRIu64 " %-16s %-2s  %-9s %s%s%s\n", e->list->priority,
               e->list->category, e->id, e->plate, e->country, s_kind_name(m[i].kind), m[i].detail,
               *e->instruction ? "  -- " : "", e->instruction);
        printf("     list \"%s\"\n", e->list->name);
    }
    return (int)n;
}

/* One "PLATE[;CC[;P1,P2...]]" per line; a line that is not a read is reported in its place. */
static int s_run_stdin(const wl_t *wl)
{
    char line[1024];

    while (fgets(line, sizeof line, stdin)) {
        char *fields[3] = {line, "", ""};
        size_t nf = 1;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char ctx[sizeof line];
        snprintf(ctx, sizeof ctx, "%s", line);
        for (char *p = line; nf < 3 && (p = strchr(p, ';')) != NULL;) {
            *p++ = '\0';
            fields[nf++] = p;
        }
        s_test(wl, fields[0], fields[1], 900, fields[2], true, ctx);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"classes", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'f'},
        {"country", required_argument, NULL, 'c'},
        {"candidates", required_argument, NULL, 'a'},
        {"confidence", required_argument, NULL, 'n'},
        {"stdin", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.classes = WL_DEFAULT_CLASSES, .country = "", .confidence = 900};
    struct conf *conf = NULL;
    const char *config = NULL;
    wl_t *wl = NULL;
    PGconn *conn = NULL;
    struct db_error err;
    size_t skipped;
    int c, rc = EXIT_USAGE;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf(PROG " %s\n", ANPR_VERSION);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "test") != 0) {
        cli_usage_error(PROG, "expected a command: test");
        return EXIT_USAGE;
    }
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.db = optarg;
            break;
        case 'k':
            o.classes = optarg;
            break;
        case 'f':
            config = optarg;
            break;
        case 'c':
            o.country = optarg;
            break;
        case 'a':
            o.candidates = optarg;
            break;
        case 's':
            o.stdin_mode = true;
            break;
        case 'n':
            if (util_parse_long(optarg, 0, PROTO_CONFIDENCE_MAX, &o.confidence) != 0) {
                cli_bad_value(PROG, "--confidence", optarg, "0..1000");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        case 'V':
            printf(PROG " %s\n", ANPR_VERSION);
            return 0;
        default:
            cli_getopt_fail(PROG, c, argc, argv);
            return EXIT_USAGE;
        }
    }
    if (o.stdin_mode ? optind != argc : optind != argc - 1) {
        cli_usage_error(PROG, o.stdin_mode ? "no PLATE with --stdin" : "test takes one PLATE");
        return EXIT_USAGE;
    }
    if (config) {
        char *errors = NULL;
        conf = conf_load(config, &errors);
        if (!conf) {
            fprintf(stderr, "%s", errors ? errors : PROG ": out of memory\n");
            free(errors);
            return EXIT_USAGE;
        }
        o.classes = conf->matcher.ocr_classes;
    }

    /* Check what the user typed before asking the database anything. */
    wl_builder_t *check = wl_builder_new();
    char why[160];
    if (!check || wl_builder_set_classes(check, o.classes, why, sizeof why) != 0) {
        fprintf(stderr, PROG ": --classes: %s\n", check ? why : "out of memory");
        wl_builder_destroy(&check);
        conf_destroy(&conf);
        return EXIT_USAGE;
    }
    wl_builder_destroy(&check);

    /* The daemon's own loading code: the same lists, entries and skipped-entry warnings. */
    log_set_level(LOG_LEVEL_WARN);
    conn = db_connect(o.db ? o.db : "", PROG, &err);
    if (!conn || db_load_watchlist(conn, o.classes, &wl, &skipped, NULL, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        rc = EXIT_DATABASE;
        goto out;
    }
    if (o.stdin_mode) {
        rc = s_run_stdin(wl);
    } else {
        int n = s_test(wl, argv[optind], o.country, (uint16_t)o.confidence, o.candidates, false,
                       "argument");
        rc = n < 0 ? EXIT_USAGE : n > 0 ? EXIT_HIT : EXIT_NO_HIT;
    }
out:
    wl_destroy(&wl);
    PQfinish(conn);
    conf_destroy(&conf);
    return rc;
}
