/*
 * anpr-watchlist: watchlist administration. Lists and entries are added, changed, shown,
 * exported and imported (CSV) through the admin's own login, so the triggers audit every change
 * under it and tell running daemons; and the admins' dry run: which entries of the current lists
 * a plate would hit, and how, computed by the daemon's own matcher on the lists as they are in
 * the database. The rules of entries, the pattern guard and import are wladm's (wladm.h),
 * which anpr-web's admin page calls too; this file is the command line and its messages.
 *
 *   anpr-watchlist list-add | list-set | lists | add | update | remove | expire | show | export
 *                  | import
 *                                   (see s_admin_usage)
 *   anpr-watchlist test PLATE [--country CC] [--candidates P1[:C],P2...] [--confidence C]
 *   anpr-watchlist test --stdin       one "PLATE[;CC[;P1[:C],P2...[;C]]]" per line, one result
 *                                     line each
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "csv.h"
#include "config.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "match.h"
#include "plate.h"
#include "proto.h"
#include "util.h"
#include "wl.h"
#include "wladm.h"

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
        "every entry a read of PLATE would hit, and how (exact, ocr, candidate, pattern), with\n"
        "the plate normalised as anprd normalises it (docs/PLATES.md): also matched without a\n"
        "euroband code where the plate may carry one.\n"
        "\n"
        "  --country CC        country the camera read (ISO alpha-2, UK = GB; default\n"
        "                      unknown)\n"
        "  --candidates LIST   the camera's alternative readings, best first, with their\n"
        "                      confidence per mille (default 500)\n"
        "  --confidence C      confidence of PLATE per mille (default 900)\n"
        "  --stdin             read one PLATE[;CC[;P1[:C],P2...[;C]]] per line from standard\n"
        "                      input (the last field: the confidence of PLATE, default 900)\n"
        "                      and print one line each: input, TAB, hit count, TAB,\n"
        "                      entry:kind,... (every hit)\n"
        "  --db CONNINFO       libpq connection string (default: PGHOST, PGDATABASE, ...)\n"
        "  --classes LIST      OCR classes, e.g. \"0ODQ,1IL,8B\" (default %s)\n"
        "  --config FILE       take the OCR classes from anprd's configuration file\n"
        "\n"
        "Exit status: 0 a hit (or --stdin done), 1 no hit, 2 usage or input error,\n"
        "3 database error.\n",
        WL_DEFAULT_CLASSES);
}

/* "P1:640,P2" into the read's candidates; -1 (reported) on a bad one. */
static int s_candidates(const char *list, const char *country, struct proto_read *r,
                        const char *ctx)
{
    char buf[512], norm[PLATE_MAX + 1];
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
                fprintf(stderr, PROG ": %s: candidate '%s': confidence must be 0..1000\n",
                        cli_text(ctx), cli_text(tok));
                return -1;
            }
        }
        if (r->ncand >= WL_READINGS_MAX - 1) {
            fprintf(stderr, PROG ": %s: more than %d candidates\n", cli_text(ctx),
                    WL_READINGS_MAX - 1);
            return -1;
        }
        if (strlen(tok) > PROTO_PLATE_MAX) {
            fprintf(stderr, PROG ": %s: candidate '%s' is longer than %d bytes\n", cli_text(ctx),
                    cli_text(tok), PROTO_PLATE_MAX);
            return -1;
        }
        /* Kept in its place, so the ranks stay the read's own; matched as anprd does: not. */
        if (plate_normalise_cc(tok, country, norm) != PLATE_OK)
            fprintf(stderr,
                    PROG ": %s: candidate %u '%s' is not a plate: skipped, as anprd skips it\n",
                    cli_text(ctx), (unsigned)r->ncand + 1, cli_text(tok));
        snprintf(r->cand[r->ncand].plate, sizeof r->cand[r->ncand].plate, "%s", tok);
        r->cand[r->ncand++].confidence = (uint16_t)conf;
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

/* Every hit of query q into *m (grown as needed, freed by the caller); how many, or -1 on out
 * of memory (reported). */
static long s_match_all(const wl_t *wl, const struct wl_query *q, struct wl_match **m, size_t *cap)
{
    for (;;) {
        size_t n = wl_match(wl, q, *m, *cap);
        if (n <= *cap)
            return (long)n;
        struct wl_match *more = realloc(*m, n * sizeof **m);
        if (!more) {
            fprintf(stderr, PROG ": out of memory\n");
            return -1;
        }
        *m = more;
        *cap = n;
    }
}

/* Match one read and print every hit; returns the number of hits, or -1 on bad input. */
static int s_test(const wl_t *wl, const char *raw, const char *country, uint16_t confidence,
                  const char *cands, bool one_line, const char *ctx)
{
    struct proto_read r = {.seq = 1, .time_us = util_now_us(), .confidence = confidence};
    struct match_readings rd;
    struct wl_query q;
    struct wl_match *m = NULL;
    size_t cap = 0;
    enum plate_status st = plate_normalise_cc(raw, country, rd.plate);

    if (st != PLATE_OK) {
        if (one_line)
            printf("%s\tinvalid\t%s\n", cli_text(ctx), s_why(st));
        else
            fprintf(stderr, PROG ": '%s' is not a plate: %s\n", cli_text(raw), s_why(st));
        return -1;
    }
    if (*country && !proto_country_valid(country)) {
        if (one_line)
            printf("%s\tinvalid\tcountry is not an ISO alpha-2 code\n", cli_text(ctx));
        else
            fprintf(stderr, PROG ": country '%s' is not an ISO alpha-2 code\n", cli_text(country));
        return -1;
    }
    snprintf(r.country, sizeof r.country, "%s", country);
    snprintf(r.plate, sizeof r.plate, "%s", raw);
    if (s_candidates(cands, country, &r, ctx) != 0) {
        if (one_line)
            printf("%s\tinvalid\ta candidate is too long or has a bad confidence\n", cli_text(ctx));
        return -1;
    }
    /* The daemon's own query: candidates, their readings without a euroband code, UK = GB. */
    match_query(wl, &r, rd.plate, r.time_us, &rd, &q);
    long n = s_match_all(wl, &q, &m, &cap);
    if (n < 0)
        return -1;
    if (one_line) {
        printf("%s\t%ld", cli_text(ctx), n);
        for (long i = 0; i < n; i++)
            printf("%s%" PRIu64 ":%s", i ? "," : "\t", m[i].entry->id, s_kind_name(m[i].kind));
        printf(n ? "\n" : "\t-\n");
        free(m);
        return (int)n;
    }
    printf("read %s%s%s -> %s%s%s%s: %ld hit%s\n", cli_text(raw), *country ? " " : "",
           cli_text(country), rd.plate, q.alt[0] ? " (and " : "", q.alt[0] ? q.alt[0] : "",
           q.alt[0] ? " without a euroband code)" : "", n, n == 1 ? "" : "s");
    for (long i = 0; i < n; i++) {
        const struct wl_entry *e = m[i].entry;
        printf("  P%u %-14s entry %-8" PRIu64 " %-16s %-2s  %-9s %s%s%s\n", e->list->priority,
               cli_text(e->list->category), e->id, e->plate, e->country, s_kind_name(m[i].kind),
               cli_text(m[i].detail), *e->instruction ? "  -- " : "", cli_text(e->instruction));
        printf("     list \"%s\"\n", cli_text(e->list->name));
    }
    free(m);
    return (int)n;
}

/* One "PLATE[;CC[;P1[:C],P2...[;C]]]" per line; a line that is not a read is reported in its
 * place. */
static int s_run_stdin(const wl_t *wl)
{
    char line[1024];

    while (fgets(line, sizeof line, stdin)) {
        char *fields[4] = {line, "", "", ""};
        size_t nf = 1;
        long long conf = 900;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char ctx[sizeof line];
        snprintf(ctx, sizeof ctx, "%s", line);
        for (char *p = line; nf < 4 && (p = strchr(p, ';')) != NULL;) {
            *p++ = '\0';
            fields[nf++] = p;
        }
        if (*fields[3] && util_parse_long(fields[3], 0, PROTO_CONFIDENCE_MAX, &conf) != 0) {
            printf("%s\tinvalid\tconfidence must be 0..1000\n", cli_text(ctx));
            continue;
        }
        s_test(wl, fields[0], fields[1], (uint16_t)conf, fields[2], true, ctx);
    }
    return 0;
}

static int s_cmd_test(int argc, char **argv)
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
            fprintf(stderr, "%s", errors ? cli_text_nl(errors) : PROG ": out of memory\n");
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
        fprintf(stderr, PROG ": %s\n", cli_text(err.msg));
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

/* ---------------------------------------------------------------------------------------------
 * Administration: lists and entries. Every change is one transaction; the triggers of migrations
 * 003 and 004 audit it under the admin's login and tell running daemons.
 */

enum { EXIT_OK = 0, EXIT_NOTHING = 1 };

#define NO_TIME_FROM      WLADM_NO_FROM
#define NO_TIME_UNTIL     WLADM_NO_UNTIL
#define TIME_SQL(col)     "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define EPOCH_US_SQL(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* The columns of an entry, in CSV files and for update. */
#define F_COUNT       WLADM_NCOLS
#define s_field_names wladm_columns

#define MAPS_MAX 32

struct aopts {
    const char *db;
    const char *category, *policy, *rename, *country, *from, *until, *instruction, *ref, *output;
    const char *plate, *requested_by;
    const char *tz; /* --tz: the zone of dates and times without an offset; NULL: ANPR_TZ */
    long long priority, max_subst, min_conf, suppress, retro;
    long long hit_retention; /* days; 0 = the general retention (NULL), -1 not given */
    int indel, candidates, realert, enabled, covert; /* -1 not given */
    int backbone;       /* 1 on, 0 off, 2 default (NULL: on unless covert), -1 not given */
    const char *colour; /* normalised; "" = the console's default (NULL); NULL not given */
    char colour_buf[8];
    struct wladm_map map[MAPS_MAX];
    int nmap;
    bool dry_run, skip_bad;
    char sep;   /* --separator: ',' or ';'; 0: the header's */
    bool force; /* --force: a pattern with fewer than three letters or digits */
};

static const struct option s_admin_longopts[] = {
    {"db", required_argument, NULL, 'd'},
    {"category", required_argument, NULL, 'C'},
    {"priority", required_argument, NULL, 'P'},
    {"policy", required_argument, NULL, 'p'},
    {"max-subst", required_argument, NULL, 'm'},
    {"indel", no_argument, NULL, 'i'},
    {"no-indel", no_argument, NULL, '1'},
    {"min-confidence", required_argument, NULL, 'M'},
    {"no-candidates", no_argument, NULL, 'N'},
    {"candidates", no_argument, NULL, '2'},
    {"suppress", required_argument, NULL, 's'},
    {"retro", required_argument, NULL, 'B'},
    {"realert-camera", no_argument, NULL, 'r'},
    {"no-realert-camera", no_argument, NULL, '3'},
    {"covert", no_argument, NULL, 'v'},
    {"no-covert", no_argument, NULL, '4'},
    {"colour", required_argument, NULL, 'L'},
    {"backbone", required_argument, NULL, 'K'},
    {"hits-retention", required_argument, NULL, 'H'},
    {"rename", required_argument, NULL, 'R'},
    {"enable", no_argument, NULL, 'e'},
    {"disable", no_argument, NULL, 'x'},
    {"country", required_argument, NULL, 'c'},
    {"from", required_argument, NULL, 'F'},
    {"until", required_argument, NULL, 'U'},
    {"instruction", required_argument, NULL, 'I'},
    {"ref", required_argument, NULL, 'f'},
    {"plate", required_argument, NULL, 'T'},
    {"requested-by", required_argument, NULL, 'Q'},
    {"map", required_argument, NULL, 'A'},
    {"output", required_argument, NULL, 'o'},
    {"dry-run", no_argument, NULL, 'n'},
    {"skip-bad", no_argument, NULL, 'k'},
    {"separator", required_argument, NULL, 'S'},
    {"tz", required_argument, NULL, 'z'},
    {"force", no_argument, NULL, 'O'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct admin_cmd {
    const char *name;
    const char *allowed; /* option codes */
    int min_ops, max_ops;
    int (*run)(PGconn *conn, const struct aopts *o, char **ops);
};

static void s_admin_usage(FILE *f)
{
    fprintf(f, "usage: " PROG " list-add NAME --category C [LIST OPTIONS] [--db CONNINFO]\n"
               "       " PROG " list-set NAME [LIST OPTIONS] [--rename NEW] [--enable|--disable]\n"
               "       " PROG " lists\n"
               "       " PROG " add LIST PLATE [ENTRY OPTIONS] [--force]\n"
               "       " PROG " update ID [--plate PLATE] [ENTRY OPTIONS] [--force]\n"
               "       " PROG " remove ID | expire ID\n"
               "       " PROG " show LIST\n"
               "       " PROG " export LIST [--output FILE]\n"
               "       " PROG " import LIST FILE.csv [--map CSVNAME=COLUMN]... [--dry-run]\n"
               "                    [--skip-bad] [--force] [--tz ZONE] [--separator ,|;]\n"
               "       " PROG " test ...   (see '" PROG " test --help')\n"
               "\n"
               "LIST OPTIONS: --category C ([a-z_]{1,32}), --priority 1..9, --policy exact|ocr,\n"
               "  --max-subst 0..4, --indel | --no-indel (both only for an ocr list: refused\n"
               "  on an exact one), --min-confidence 0..1000,\n"
               "  --no-candidates | --candidates, --suppress 0..86400 (seconds),\n"
               "  --realert-camera | --no-realert-camera,\n"
               "  --retro DURATION (search new entries in the reads of this long before they\n"
               "  were added: 0 = never, up to 31d; e.g. 600, 30m, 24h, 7d),\n"
               "  --covert | --no-covert (HITs only on the covert feed),\n"
               "  --backbone on|off|default (HITs to the national backbone; default: on,\n"
               "  off for a covert list),\n"
               "  --colour COLOUR (for the console: red, orange, yellow, green, blue, purple,\n"
               "  grey, #RRGGBB, or default: by priority),\n"
               "  --hits-retention DAYS (keep this list's HITs 1..365 days, or default: the\n"
               "  law's retention, which also caps it)\n"
               "ENTRY OPTIONS: --country CC (either case: nl is stored as NL, UK as GB),\n"
               "  --from TIME, --until TIME (update: - = open), --tz ZONE,\n"
               "  --instruction TEXT (to the operator, <= 1000 bytes), --ref TEXT (external\n"
               "  reference, <= 64 bytes), --requested-by TEXT (who asked, <= 64 bytes);\n"
               "  update changes only the fields given\n"
               "PLATE: as typed or pasted, normalised as anprd does (docs/PLATES.md), with the\n"
               "  entry's country (a euroband code typed with the plate is cut where it fits\n"
               "  only without it); a pattern with ? and * needs three letters or digits, or\n"
               "  --force, and then says how many of the last day's reads it would have hit\n"
               "--separator: the file's field separator, ',' or ';' (what spreadsheets write in\n"
               "  Belgium and the Netherlands); default: the one its header line uses\n"
               "--map CSVNAME=COLUMN: the file's column CSVNAME holds COLUMN (plate, country,\n"
               "  valid_from, valid_until, instruction, external_ref, requested_by, or - to\n"
               "  ignore it); repeatable; other header names are read as themselves\n"
               "TIME: ISO 8601, e.g. 2026-12-01, 2026-12-01T08:00, 2026-12-01T08:00:00Z,\n"
               "      2026-12-01 08:00+01:00. Without an offset, in the time zone ZONE (--tz,\n"
               "      else the environment's ANPR_TZ, else Europe/Brussels); a date alone is\n"
               "      the whole day there: --from at its start, --until at its end (the next\n"
               "      day's 00:00). The tool's confirmation shows the times it stored.\n"
               "  --db CONNINFO       libpq connection string (default: PGHOST, PGDATABASE, ...)\n"
               "\n"
               "Exit status: 0 done, 1 not found or nothing done, 2 usage or input error,\n"
               "3 database error.\n");
}

static const char *s_optname(int c)
{
    for (const struct option *o = s_admin_longopts; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

/* A failed query: "PROG: ctx: message"; exit code 2 for data errors (classes 22, 23), else 3. */
static int s_dberr(PGconn *conn, PGresult *res, const char *ctx)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t n = strlen(msg);

    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    char text[CLI_TEXT_MAX];
    cli_clean(text, sizeof text, msg, n, CLI_NEWLINE);
    fprintf(stderr, PROG ": %s: %s\n", cli_text(ctx), text);
    return st && (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0) ? EXIT_USAGE
                                                                          : EXIT_DATABASE;
}

/* Run a parameterised statement; NULL (reported, *rc set) on failure. */
static PGresult *s_q(PGconn *conn, const char *sql, int n, const char *const *params,
                     const char *ctx, int *rc)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    *rc = s_dberr(conn, res, ctx);
    PQclear(res);
    return NULL;
}

static int s_exec(PGconn *conn, const char *sql, const char *ctx)
{
    int rc = EXIT_OK;
    PGresult *res = s_q(conn, sql, 0, NULL, ctx, &rc);

    PQclear(res);
    return res ? EXIT_OK : rc;
}

static void s_rollback(PGconn *conn)
{
    PQclear(PQexec(conn, "ROLLBACK"));
}

static bool s_category_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 32)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return false;
    return true;
}

/* A wladm_err as the tool prints it: the option or column it is about, the value, why. */
static void s_print_err(const char *what, const struct wladm_err *err)
{
    char text[CLI_TEXT_MAX];

    cli_clean(text, sizeof text, err->msg, strlen(err->msg), CLI_NEWLINE);
    if (what && *err->value)
        fprintf(stderr, PROG ": %s '%s': %s\n", what, cli_text(err->value), text);
    else if (what)
        fprintf(stderr, PROG ": %s: %s\n", what, text);
    else
        fprintf(stderr, PROG ": %s\n", text);
}

/* The option of an entry column, for messages. */
static const char *s_opt_of(const char *field)
{
    static const char *const names[][2] = {{"plate", "--plate"},
                                           {"country", "--country"},
                                           {"valid_from", "--from"},
                                           {"valid_until", "--until"},
                                           {"instruction", "--instruction"},
                                           {"external_ref", "--ref"},
                                           {"requested_by", "--requested-by"}};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(field, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

/*
 * A pattern so broad it is refused unless --force (reported): EXIT_USAGE. Forced, the admin is
 * told how many of the last day's reads it would have hit (wladm_pattern_count); EXIT_OK.
 * `what` names it in messages.
 */
static int s_pattern_guard(PGconn *conn, const struct aopts *o, const char *what, const char *norm)
{
    struct wladm_err err;
    long long n;

    if (!wladm_broad_pattern(norm))
        return EXIT_OK;
    if (!o->force) {
        fprintf(stderr,
                PROG ": %s: pattern %s has fewer than %d letters or digits and would hit far too "
                     "many plates; --force adds it all the same\n",
                what, norm, WLADM_PATTERN_MIN_LITERALS);
        return EXIT_USAGE;
    }
    if (wladm_pattern_count(conn, norm, &n, &err) == 0)
        printf("pattern %s would have hit %lld of the last day's reads (forced)\n", norm, n);
    else
        fprintf(stderr,
                PROG ": %s: pattern %s forced; how many reads it would have hit is not "
                     "known: %s\n",
                what, norm, cli_text(err.msg));
    return EXIT_OK;
}

/* The validity an add or update stored, shown back: "  valid from ... until ..." */
static void s_print_validity(int64_t from, int64_t until)
{
    char a[96], b[96];

    if (from == INT64_MIN && until == INT64_MAX)
        return;
    if (from != INT64_MIN)
        wladm_show_time(from, a);
    if (until != INT64_MAX)
        wladm_show_time(until, b);
    /* An end at midnight is the end of the day before: say which day, as an officer says it. */
    char through[48] = "";
    time_t t = (time_t)(until / 1000000) - 1;
    struct tm tm;
    if (until != INT64_MAX && wladm_zone() == NULL && until % 1000000 == 0 &&
        localtime_r(&t, &tm) && tm.tm_hour == 23 && tm.tm_min == 59 && tm.tm_sec == 59)
        strftime(through, sizeof through, ", that is through %Y-%m-%d", &tm);
    printf("  valid from %s until %s%s%s%s\n", from == INT64_MIN ? "(open)" : a,
           until == INT64_MAX ? "(open)" : b, through, wladm_zone() ? "" : ", time zone ",
           wladm_zone() ? "" : wladm_zone_name());
}

static bool s_overlap(int64_t f1, int64_t u1, int64_t f2, int64_t u2)
{
    return f1 < u2 && f2 < u1;
}

static int64_t s_ll_or(const PGresult *res, int row, int col, int64_t dflt)
{
    return PQgetisnull(res, row, col) ? dflt : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* The list's id into id (and whether it is enabled). EXIT_OK, EXIT_NOTHING (reported) or a
 * database error. */
static int s_find_list(PGconn *conn, const char *name, bool lock, char id[24], bool *enabled)
{
    struct wladm_err err;
    int rc = wladm_find_list(conn, name, lock, id, enabled, &err);

    if (rc != EXIT_OK)
        s_print_err(NULL, &err);
    return rc;
}

/* Columns of anpr.watchlist that list-add and list-set take from options. */
struct colval {
    const char *col;
    char val[80];
    bool null; /* set the column to NULL (its default meaning) */
};

static size_t s_list_cols(const struct aopts *o, struct colval *cv)
{
    size_t n = 0;

#define COL_STR(c, v)                                                                              \
    (cv[n].col = (c), cv[n].null = false, snprintf(cv[n].val, sizeof cv[n].val, "%s", (v)), n++)
#define COL_LL(c, v)                                                                               \
    (cv[n].col = (c), cv[n].null = false, snprintf(cv[n].val, sizeof cv[n].val, "%lld", (v)), n++)
#define COL_B(c, v)                                                                                \
    (cv[n].col = (c), cv[n].null = false,                                                          \
     snprintf(cv[n].val, sizeof cv[n].val, "%s", (v) ? "t" : "f"), n++)
#define COL_NULL(c) (cv[n].col = (c), cv[n].null = true, cv[n].val[0] = '\0', n++)
    if (o->category)
        COL_STR("category", o->category);
    if (o->priority >= 0)
        COL_LL("priority", o->priority);
    if (o->policy)
        COL_STR("match_policy", o->policy);
    if (o->max_subst >= 0)
        COL_LL("max_subst", o->max_subst);
    if (o->indel >= 0)
        COL_B("indel", o->indel);
    if (o->min_conf >= 0)
        COL_LL("min_confidence", o->min_conf);
    if (o->candidates >= 0)
        COL_B("candidates", o->candidates);
    if (o->suppress >= 0)
        COL_LL("suppress_s", o->suppress);
    if (o->retro >= 0)
        COL_LL("retro_s", o->retro);
    if (o->realert >= 0)
        COL_B("realert_camera", o->realert);
    if (o->enabled >= 0)
        COL_B("enabled", o->enabled);
    if (o->rename)
        COL_STR("name", o->rename);
    if (o->covert >= 0)
        COL_B("covert", o->covert);
    if (o->backbone == 0 || o->backbone == 1)
        COL_B("backbone", o->backbone);
    else if (o->backbone == 2)
        COL_NULL("backbone");
    if (o->colour && *o->colour)
        COL_STR("colour", o->colour);
    else if (o->colour)
        COL_NULL("colour");
    if (o->hit_retention > 0)
        COL_LL("hit_retention_days", o->hit_retention);
    else if (o->hit_retention == 0)
        COL_NULL("hit_retention_days");
#undef COL_STR
#undef COL_LL
#undef COL_B
#undef COL_NULL
    return n;
}

/*
 * Settings that do nothing are refused rather than stored: --indel and --max-subst only change
 * how an ocr list matches. `policy` is the list's policy as it will be, `indel` whether it will
 * have indel; EXIT_OK or EXIT_USAGE (reported).
 */
static int s_policy_check(const struct aopts *o, const char *policy, bool indel)
{
    if (strcmp(policy, "exact") != 0)
        return EXIT_OK;
    if (o->indel == 1 || (indel && o->indel != 0)) {
        fprintf(stderr,
                PROG ": --indel has no effect on an exact list (it matches the plate as "
                     "listed): use --policy ocr%s\n",
                o->indel == 1 ? "" : ", or --no-indel");
        return EXIT_USAGE;
    }
    if (o->max_subst > 0) {
        fprintf(stderr, PROG ": --max-subst has no effect on an exact list: use --policy ocr\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static bool s_name_ok(const char *name)
{
    size_t n = strlen(name);

    return n >= 1 && n <= 64 && cli_plain(name);
}

static int s_cmd_list_add(PGconn *conn, const struct aopts *o, char **ops)
{
    struct colval cv[20];
    const char *params[21];
    char sql[1024];
    size_t len = 0;
    size_t n;
    int rc = EXIT_OK;

    if (!s_name_ok(ops[0])) {
        fprintf(stderr, PROG ": list name '%s': 1 to 64 bytes of UTF-8, no control characters\n",
                cli_text(ops[0]));
        return EXIT_USAGE;
    }
    if (!o->category) {
        cli_usage_error(PROG, "list-add needs --category");
        return EXIT_USAGE;
    }
    if (s_policy_check(o, o->policy ? o->policy : "exact", false) != EXIT_OK)
        return EXIT_USAGE;
    n = s_list_cols(o, cv);
    cli_cat(sql, sizeof sql, &len, "INSERT INTO anpr.watchlist (name");
    for (size_t i = 0; i < n; i++)
        cli_cat(sql, sizeof sql, &len, ", %s", cv[i].col);
    cli_cat(sql, sizeof sql, &len, ") VALUES ($1");
    params[0] = ops[0];
    for (size_t i = 0; i < n; i++) {
        cli_cat(sql, sizeof sql, &len, ", $%zu", i + 2);
        params[i + 1] = cv[i].null ? NULL : cv[i].val;
    }
    cli_cat(sql, sizeof sql, &len, ") RETURNING id");
    PGresult *res = PQexecParams(conn, sql, (int)n + 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (st && strcmp(st, "23505") == 0) {
            fprintf(stderr, PROG ": list '%s' exists already\n", cli_text(ops[0]));
            rc = EXIT_USAGE;
        } else {
            rc = s_dberr(conn, res, ops[0]);
        }
        PQclear(res);
        return rc;
    }
    printf("added list '%s' (id %s)\n", cli_text(ops[0]), PQgetvalue(res, 0, 0));
    PQclear(res);
    return EXIT_OK;
}

static int s_cmd_list_set(PGconn *conn, const struct aopts *o, char **ops)
{
    struct colval cv[20];
    const char *params[21];
    char sql[1024];
    size_t len = 0;
    size_t n = s_list_cols(o, cv);
    int rc = EXIT_OK;

    if (n == 0) {
        cli_usage_error(PROG, "list-set: nothing to change");
        return EXIT_USAGE;
    }
    if (o->rename && !s_name_ok(o->rename)) {
        fprintf(stderr, PROG ": --rename '%s': 1 to 64 bytes of UTF-8, no control characters\n",
                cli_text(o->rename));
        return EXIT_USAGE;
    }
    if (o->policy || o->indel == 1 || o->max_subst > 0) {
        /* The policy and indel the list will have: what is given, else what it has. */
        const char *p1[1] = {ops[0]};
        PGresult *cur = s_q(conn, "SELECT match_policy, indel FROM anpr.watchlist WHERE name = $1",
                            1, p1, "find list", &rc);
        if (!cur)
            return rc;
        if (PQntuples(cur) == 0) {
            fprintf(stderr, PROG ": no list '%s'\n", cli_text(ops[0]));
            PQclear(cur);
            return EXIT_NOTHING;
        }
        rc = s_policy_check(o, o->policy ? o->policy : PQgetvalue(cur, 0, 0),
                            strcmp(PQgetvalue(cur, 0, 1), "t") == 0);
        PQclear(cur);
        if (rc != EXIT_OK)
            return rc;
    }
    cli_cat(sql, sizeof sql, &len, "UPDATE anpr.watchlist SET ");
    params[0] = ops[0];
    for (size_t i = 0; i < n; i++) {
        cli_cat(sql, sizeof sql, &len, "%s%s = $%zu", i ? ", " : "", cv[i].col, i + 2);
        params[i + 1] = cv[i].null ? NULL : cv[i].val;
    }
    cli_cat(sql, sizeof sql, &len, " WHERE name = $1 RETURNING id");
    PGresult *res = PQexecParams(conn, sql, (int)n + 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (st && strcmp(st, "23505") == 0) {
            fprintf(stderr, PROG ": list '%s' exists already\n", cli_text(o->rename));
            rc = EXIT_USAGE;
        } else {
            rc = s_dberr(conn, res, ops[0]);
        }
        PQclear(res);
        return rc;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, PROG ": no list '%s'\n", cli_text(ops[0]));
        PQclear(res);
        return EXIT_NOTHING;
    }
    printf("changed list '%s' (id %s)\n", cli_text(o->rename ? o->rename : ops[0]),
           PQgetvalue(res, 0, 0));
    PQclear(res);
    return EXIT_OK;
}

static int s_cmd_lists(PGconn *conn, const struct aopts *o, char **ops)
{
    struct wladm_err err;
    int rc = EXIT_OK;
    PGresult *res = wladm_lists(conn, &rc, &err);

    (void)o;
    (void)ops;
    if (!res) {
        s_print_err(NULL, &err);
        return rc;
    }
    /* New fields go at the end of the line: scripts that cut fields by number keep working. */
    for (int i = 0; i < PQntuples(res); i++)
        for (int k = 0; k < PQnfields(res); k++)
            printf("%s%c", cli_text(PQgetvalue(res, i, k)), k + 1 < PQnfields(res) ? '\t' : '\n');
    PQclear(res);
    return EXIT_OK;
}

static PGresult *s_existing(PGconn *conn, const char *list_id, const char *country, int *rc)
{
    struct wladm_err err;
    PGresult *res = wladm_existing(conn, list_id, country, rc, &err);

    if (!res)
        s_print_err(NULL, &err);
    return res;
}

/* The entry options given (add, update), checked by wladm_check_entry; EXIT_OK or EXIT_USAGE
 * (reported). */
static int s_check_entry_opts(const struct aopts *o, bool open_ok, int64_t *from, int64_t *until)
{
    struct wladm_entry e = {.country = o->country,
                            .from = o->from,
                            .until = o->until,
                            .instruction = o->instruction,
                            .ref = o->ref,
                            .requested_by = o->requested_by};
    struct wladm_err err;

    if (wladm_check_entry(&e, open_ok, from, until, &err) == WLADM_OK)
        return EXIT_OK;
    s_print_err(s_opt_of(err.field), &err);
    return EXIT_USAGE;
}

static int s_cmd_add(PGconn *conn, const struct aopts *o, char **ops)
{
    const char *list = ops[0];
    struct wladm_entry e = {.plate = ops[1],
                            .country = o->country,
                            .from = o->from,
                            .until = o->until,
                            .instruction = o->instruction,
                            .ref = o->ref,
                            .requested_by = o->requested_by};
    struct wladm_added a;
    struct wladm_err err;
    int rc = wladm_add(conn, list, &e, o->force, &a, &err);

    if (a.broad && rc == WLADM_INPUT && strcmp(err.field, "plate") == 0 && !o->force) {
        fprintf(stderr, PROG ": add: %s; --force adds it all the same\n", err.msg);
        return EXIT_USAGE;
    }
    if (a.broad && o->force && rc != WLADM_INPUT) {
        if (a.would_hit >= 0)
            printf("pattern %s would have hit %lld of the last day's reads (forced)\n", a.norm,
                   a.would_hit);
        else
            fprintf(stderr,
                    PROG ": add: pattern %s forced; how many reads it would have hit is not "
                         "known: %s\n",
                    a.norm, cli_text(a.count_err.msg));
    }
    if (rc != WLADM_OK) {
        /* "--from (...) must be before --until (...)" as the options name them */
        if (strstr(err.msg, "must be before valid_until")) {
            char a1[96], b1[96];
            wladm_show_time(a.from, a1);
            wladm_show_time(a.until, b1);
            fprintf(stderr, PROG ": --from (%s) must be before --until (%s)\n", a1, b1);
        } else {
            bool plate = strcmp(err.field, "plate") == 0;
            s_print_err(plate ? (*err.value ? "plate" : NULL) : s_opt_of(err.field), &err);
        }
        return rc;
    }
    printf("added entry %s (%s%s%s) to list '%s'\n", a.id, a.norm, *a.country ? " " : "", a.country,
           cli_text(list));
    if (*a.alt)
        printf("  also matched as %s: %s may start with a euroband code\n", a.alt, a.norm);
    s_print_validity(a.from, a.until);
    return EXIT_OK;
}

static int s_cmd_remove(PGconn *conn, const struct aopts *o, char **ops)
{
    struct wladm_err err;
    char plate[64];
    int rc = wladm_remove(conn, ops[0], plate, &err);

    (void)o;
    if (rc != WLADM_OK) {
        s_print_err(NULL, &err);
        return rc;
    }
    printf("removed entry %s (%s)\n", ops[0], cli_text(plate));
    return EXIT_OK;
}

static int s_cmd_expire(PGconn *conn, const struct aopts *o, char **ops)
{
    struct wladm_err err;
    int rc = wladm_expire(conn, ops[0], &err);

    (void)o;
    if (rc != WLADM_OK) {
        s_print_err(NULL, &err);
        return rc;
    }
    printf("expired entry %s\n", ops[0]);
    return EXIT_OK;
}

/* A time as given, or as the database has it (NULL: open), for a message. */
static const char *s_time_text(const char *given, const PGresult *res, int col)
{
    if (given)
        return given;
    return PQgetisnull(res, 0, col) ? "-" : PQgetvalue(res, 0, col);
}

/*
 * Change the given fields of one entry, checked as add checks them: the plate, the country,
 * the validity as it will be (given times with the entry's others), duplicates in its list.
 * The triggers audit the UPDATE and tell running daemons.
 */
static int s_cmd_update(PGconn *conn, const struct aopts *o, char **ops)
{
    const char *eid = ops[0], *why;
    char norm[PLATE_MAX + 1] = "", list_id[24], list[80], plate[40], country[3];
    int64_t from = NO_TIME_FROM, until = NO_TIME_UNTIL;
    long long self;
    PGresult *res = NULL;
    int rc;

    if (util_parse_long(eid, 1, INT64_MAX, &self) != 0) {
        fprintf(stderr, PROG ": entry id '%s': expected a positive number\n", cli_text(eid));
        return EXIT_USAGE;
    }
    if (!o->plate && !o->country && !o->from && !o->until && !o->instruction && !o->ref &&
        !o->requested_by) {
        cli_usage_error(PROG, "update: nothing to change");
        return EXIT_USAGE;
    }
    if (s_check_entry_opts(o, true, &from, &until) != EXIT_OK)
        return EXIT_USAGE;
    /* The country given, as stored (nl as NL, UK as GB); NULL: unchanged. */
    char given[3];
    const char *cc = o->country ? wladm_country(o->country, given) : NULL;
    /* Checked here with the country given (or none); again below with the entry's. */
    if (o->plate && (why = wladm_entry_plate(o->plate, cc ? cc : "", norm)) != NULL) {
        fprintf(stderr, PROG ": --plate '%s': %s\n", cli_text(o->plate), why);
        return EXIT_USAGE;
    }
    if (o->plate && (rc = s_pattern_guard(conn, o, "update", norm)) != EXIT_OK)
        return rc;

    if ((rc = s_exec(conn, "BEGIN", "begin")) != EXIT_OK)
        return rc;
    /* The list row is locked too, as add and import lock it: no duplicate slips in meanwhile. */
    /* clang-format cannot lay out strings joined with macros. */
    /* clang-format off */
    static const char find_sql[] =
        "SELECT w.id, w.name, w.enabled, e.plate, e.country, "
        EPOCH_US_SQL("e.valid_from") ", " EPOCH_US_SQL("e.valid_until") ", "
        TIME_SQL("e.valid_from") ", " TIME_SQL("e.valid_until")
        " FROM anpr.watchlist_entry e JOIN anpr.watchlist w ON w.id = e.list_id "
        "WHERE e.id = $1 FOR UPDATE OF w, e";
    /* clang-format on */
    const char *p1[1] = {eid};
    res = s_q(conn, find_sql, 1, p1, "find entry", &rc);
    if (!res)
        goto fail;
    if (PQntuples(res) == 0) {
        fprintf(stderr, PROG ": no entry %s\n", eid);
        rc = EXIT_NOTHING;
        goto fail;
    }
    snprintf(list_id, sizeof list_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(list, sizeof list, "%s", PQgetvalue(res, 0, 1));
    if (strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
        fprintf(stderr,
                PROG ": entry %s is on list '%s', which is disabled; enable it first "
                     "(list-set --enable)\n",
                eid, cli_text(list));
        rc = EXIT_USAGE;
        goto fail;
    }

    /* The entry as it will be: what was given, else what it has. */
    snprintf(plate, sizeof plate, "%s", o->plate ? o->plate : PQgetvalue(res, 0, 3));
    snprintf(country, sizeof country, "%s", cc ? cc : PQgetvalue(res, 0, 4));
    if (!o->from)
        from = s_ll_or(res, 0, 5, NO_TIME_FROM);
    if (!o->until)
        until = s_ll_or(res, 0, 6, NO_TIME_UNTIL);
    if (from >= until) {
        fprintf(stderr,
                PROG ": entry %s: valid_from %s%s would not be before valid_until %s%s; "
                     "nothing changed\n",
                eid, s_time_text(o->from, res, 7), o->from ? " (--from)" : "",
                s_time_text(o->until, res, 8), o->until ? " (--until)" : "");
        rc = EXIT_USAGE;
        goto fail;
    }
    PQclear(res);
    res = NULL;

    /* Duplicates, when what identifies the entry changes (an old plate that does not normalise
     * is skipped by the daemon and has none). */
    if ((o->plate || o->country || o->from || o->until) &&
        wladm_entry_plate(plate, country, norm) == NULL) {
        if (!(res = s_existing(conn, list_id, country, &rc)))
            goto fail;
        for (int i = 0; i < PQntuples(res); i++) {
            char other[PLATE_MAX + 1];
            if (strtoll(PQgetvalue(res, i, 0), NULL, 10) == self ||
                wladm_entry_plate(PQgetvalue(res, i, 1), country, other) != NULL ||
                strcmp(other, norm) != 0 ||
                !s_overlap(from, until, s_ll_or(res, i, 3, NO_TIME_FROM),
                           s_ll_or(res, i, 4, NO_TIME_UNTIL)))
                continue;
            fprintf(stderr,
                    PROG ": entry %s: plate '%s'%s%s would duplicate entry %s ('%s') of list "
                         "'%s' (validity overlaps); nothing changed\n",
                    eid, cli_text(plate), *country ? " " : "", country, PQgetvalue(res, i, 0),
                    cli_text(PQgetvalue(res, i, 1)), cli_text(list));
            rc = EXIT_USAGE;
            goto fail;
        }
        PQclear(res);
        res = NULL;
    }

    /* Only the columns given; "-" opens a validity end (NULL). */
    static const char *const cols[] = {"plate",       "country",      "valid_from",  "valid_until",
                                       "instruction", "external_ref", "requested_by"};
    char from_text[40], until_text[40];
    wladm_utc_text(from, from_text);
    wladm_utc_text(until, until_text);
    const char *vals[] = {o->plate,
                          cc,
                          o->from && strcmp(o->from, "-") != 0 ? from_text : o->from,
                          o->until && strcmp(o->until, "-") != 0 ? until_text : o->until,
                          o->instruction,
                          o->ref,
                          o->requested_by};
    const char *params[8] = {eid};
    char sql[512];
    size_t len = 0;
    int n = 1;
    cli_cat(sql, sizeof sql, &len, "UPDATE anpr.watchlist_entry SET ");
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        if (!vals[k])
            continue;
        bool time = k == 2 || k == 3;
        params[n] = time && strcmp(vals[k], "-") == 0 ? NULL : vals[k];
        cli_cat(sql, sizeof sql, &len, "%s%s = $%d%s", n > 1 ? ", " : "", cols[k], n + 1,
                time ? "::timestamptz" : "");
        n++;
    }
    cli_cat(sql, sizeof sql, &len, " WHERE id = $1");
    if (!(res = s_q(conn, sql, n, params, "update entry", &rc)))
        goto fail;
    PQclear(res);
    res = NULL;
    if ((rc = s_exec(conn, "COMMIT", "commit")) != EXIT_OK)
        return rc;
    printf("updated entry %s (%s) of list '%s'\n", eid, cli_text(*norm ? norm : plate),
           cli_text(list));
    if (o->from || o->until)
        s_print_validity(o->from && strcmp(o->from, "-") == 0 ? INT64_MIN : from,
                         o->until && strcmp(o->until, "-") == 0 ? INT64_MAX : until);
    return EXIT_OK;
fail:
    PQclear(res);
    s_rollback(conn);
    return rc;
}

static PGresult *s_entries(PGconn *conn, const char *list_id, int *rc)
{
    struct wladm_err err;
    PGresult *res = wladm_entries(conn, list_id, NULL, 0, -1, rc, &err);

    if (!res)
        s_print_err(NULL, &err);
    return res;
}

/*
 * The list's settings as one comment line, "# list ID NAME: column=value ..." (the columns of
 * SCHEMA.md; "-" for NULL), so that scripts reading the entry lines can skip it. Its id into id.
 */
static int s_show_list(PGconn *conn, const char *name, char id[24])
{
    int rc = EXIT_OK;
    const char *p[1] = {name};
    PGresult *res = s_q(conn,
                        "SELECT id, category, priority, enabled::text, match_policy, max_subst, "
                        "indel::text, min_confidence, candidates::text, suppress_s, "
                        "realert_camera::text, retro_s, covert::text, "
                        "coalesce(colour, '-') AS colour, "
                        "coalesce(hit_retention_days::text, '-') AS hit_retention_days, "
                        "coalesce(backbone::text, '-') AS backbone "
                        "FROM anpr.watchlist WHERE name = $1",
                        1, p, "find list", &rc);

    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        fprintf(stderr, PROG ": no list '%s'\n", cli_text(name));
        PQclear(res);
        return EXIT_NOTHING;
    }
    snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
    printf("# list %s %s:", id, cli_text(name));
    for (int k = 1; k < PQnfields(res); k++)
        printf(" %s=%s", PQfname(res, k), cli_text(PQgetvalue(res, 0, k)));
    printf("\n");
    PQclear(res);
    return EXIT_OK;
}

static int s_cmd_show(PGconn *conn, const struct aopts *o, char **ops)
{
    char id[24];
    int rc = s_show_list(conn, ops[0], id);

    (void)o;
    if (rc != EXIT_OK)
        return rc;
    PGresult *res = s_entries(conn, id, &rc);
    if (!res)
        return rc;
    /* requested_by after the instruction: the fields before it keep their places. */
    for (int i = 0; i < PQntuples(res); i++)
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", PQgetvalue(res, i, 0),
               cli_text(PQgetvalue(res, i, 1)), PQgetvalue(res, i, 2),
               PQgetisnull(res, i, 3) ? "-" : PQgetvalue(res, i, 3),
               PQgetisnull(res, i, 4) ? "-" : PQgetvalue(res, i, 4),
               cli_text(PQgetvalue(res, i, 6)), cli_text(PQgetvalue(res, i, 5)),
               cli_text(PQgetvalue(res, i, 7)));
    PQclear(res);
    return EXIT_OK;
}

/* One CSV cell: a risky one gets a leading "'"; quoted as RFC 4180 needs. On a terminal
 * (tty), cleaned like every other text the tool prints. */
static void s_csv_field(FILE *f, const char *s, bool last, bool tty)
{
    const char *guard = csv_risky(s) ? "'" : "";

    if (tty)
        s = cli_text(s);
    if (strpbrk(s, ",\"\r\n\t")) {
        fprintf(f, "\"%s", guard);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fprintf(f, "%s%s", guard, s);
    }
    fputs(last ? "\r\n" : ",", f);
}

static int s_cmd_export(PGconn *conn, const struct aopts *o, char **ops)
{
    char id[24];
    int rc = s_find_list(conn, ops[0], false, id, NULL);
    FILE *f = stdout;

    if (rc != EXIT_OK)
        return rc;
    PGresult *res = s_entries(conn, id, &rc);
    if (!res)
        return rc;
    if (o->output && !(f = cli_open_private(o->output))) {
        fprintf(stderr, PROG ": %s: %s\n", cli_text(o->output), strerror(errno));
        PQclear(res);
        return EXIT_USAGE;
    }
    bool tty = isatty(fileno(f)) == 1;
    /* The header is import's own column names, so an export imports back as it is. */
    for (int k = 0; k < F_COUNT; k++)
        s_csv_field(f, s_field_names[k], k == F_COUNT - 1, tty);
    for (int i = 0; i < PQntuples(res); i++)
        for (int k = 0; k < F_COUNT; k++)
            s_csv_field(f, PQgetvalue(res, i, k + 1), k == F_COUNT - 1, tty);
    int n = PQntuples(res);
    PQclear(res);
    if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0)) {
        fprintf(stderr, PROG ": %s: %s\n", o->output ? cli_text(o->output) : "standard output",
                strerror(errno));
        return EXIT_USAGE;
    }
    if (o->output)
        fprintf(stderr, PROG ": exported %d entries of list '%s' to %s\n", n, cli_text(ops[0]),
                cli_text(o->output));
    return EXIT_OK;
}

/* --- import ------------------------------------------------------------------------------- */

static char *s_slurp_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The checks and the transaction are wladm_import's; here the file and the messages. */
static int s_cmd_import(PGconn *conn, const struct aopts *o, char **ops)
{
    const char *list = ops[0], *file = ops[1];
    size_t len = 0;
    char *buf = s_slurp_file(file, &len);
    char shown[1024]; /* the file's name as messages show it */
    struct wladm_import_opts io = {.map = o->map,
                                   .nmap = o->nmap,
                                   .sep = o->sep,
                                   .dry_run = o->dry_run,
                                   .skip_bad = o->skip_bad,
                                   .force = o->force};
    struct wladm_import res;
    struct wladm_err err;

    cli_clean(shown, sizeof shown, file, strlen(file), 0);
    if (!buf) {
        fprintf(stderr, PROG ": %s: %s\n", shown, strerror(errno));
        return EXIT_USAGE;
    }
    int rc = wladm_import(conn, list, buf, len, &io, &res, &err);
    for (size_t i = 0; i < res.nforced; i++) {
        if (res.forced[i].count >= 0)
            printf("pattern %s would have hit %lld of the last day's reads (forced)\n",
                   res.forced[i].norm, res.forced[i].count);
        else
            fprintf(stderr,
                    PROG ": %s: pattern %s forced; how many reads it would have hit is not "
                         "known: %s\n",
                    shown, res.forced[i].norm, cli_text(res.forced[i].err));
    }
    /* the messages quote the file's cells: made safe for the terminal here */
    for (size_t i = 0; i < res.nerrs; i++) {
        const struct wladm_rowerr *e = &res.errs[i];
        char clean[CLI_TEXT_MAX];
        cli_clean(clean, sizeof clean, e->msg, strlen(e->msg), 0);
        fprintf(stderr, "%s%s:%d: %s: %s\n", e->header ? PROG ": " : "", shown, e->line,
                cli_text(e->field), clean);
    }
    if (rc == WLADM_INPUT && res.bad && !res.imported && !(res.nerrs && res.errs[0].header)) {
        fprintf(stderr,
                PROG ": %s: %zu bad row%s; nothing imported into '%s' (--skip-bad imports the "
                     "%zu good rows)\n",
                shown, res.bad, res.bad == 1 ? "" : "s", cli_text(list), res.good);
    } else if (rc != WLADM_OK && rc != WLADM_NOTHING && !(res.nerrs && res.errs[0].header)) {
        if (strcmp(err.field, "file") == 0)
            fprintf(stderr, PROG ": %s: %s\n", shown, cli_text(err.msg));
        else
            s_print_err(NULL, &err);
    } else if (rc == WLADM_NOTHING && !res.imported) {
        s_print_err(NULL, &err);
    } else if (o->dry_run) {
        printf("dry run: would import %zu entries into %s (%zu bad rows skipped)\n", res.good,
               cli_text(list), res.bad);
    } else if (res.imported) {
        printf("imported %zu entries into %s (%zu bad rows skipped)\n", res.good, cli_text(list),
               res.bad);
    }
    wladm_import_free(&res);
    free(buf);
    return rc;
}

static const struct admin_cmd s_admin_cmds[] = {
    {"list-add", "dCPpmi1MN2sr3Bv4LHK", 1, 1, s_cmd_list_add},
    {"list-set", "dCPpmi1MN2sr3Bv4LHKRex", 1, 1, s_cmd_list_set},
    {"lists", "d", 0, 0, s_cmd_lists},
    {"add", "dcFUIfQzO", 2, 2, s_cmd_add},
    {"update", "dTcFUIfQzO", 1, 1, s_cmd_update},
    {"remove", "d", 1, 1, s_cmd_remove},
    {"expire", "d", 1, 1, s_cmd_expire},
    {"show", "d", 1, 1, s_cmd_show},
    {"export", "do", 1, 1, s_cmd_export},
    {"import", "dnkAzOS", 2, 2, s_cmd_import},
};

static int s_num(const char *opt, const char *val, long long lo, long long hi, long long *out,
                 const char *expect)
{
    if (util_parse_long(val, lo, hi, out) != 0) {
        cli_bad_value(PROG, opt, val, expect);
        return -1;
    }
    return 0;
}

/* A duration: seconds, or a number with s, m, h or d; lo..hi seconds. */
static int s_duration(const char *opt, const char *val, long long lo, long long hi, long long *out,
                      const char *expect)
{
    char num[24];
    size_t n = strlen(val);
    long long unit = 1;
    const char *given = val;

    if (n > 0 && n < sizeof num && strchr("smhd", val[n - 1])) {
        unit = val[n - 1] == 's' ? 1 : val[n - 1] == 'm' ? 60 : val[n - 1] == 'h' ? 3600 : 86400;
        memcpy(num, val, n - 1);
        num[n - 1] = '\0';
        val = num;
    }
    if (util_parse_long(val, 0, hi, out) != 0 || *out > hi / unit || *out * unit < lo) {
        cli_bad_value(PROG, opt, given, expect);
        return -1;
    }
    *out *= unit;
    return 0;
}

static const char *const s_colours[] = {"red",  "orange", "yellow", "green",
                                        "blue", "purple", "grey"};

/* A console colour, normalised to lower case into out: a name of s_colours or #rrggbb; "" for
 * "default" (the console's choice by priority). */
static bool s_colour(const char *s, char out[8])
{
    if (strcasecmp(s, "default") == 0) {
        out[0] = '\0';
        return true;
    }
    for (size_t i = 0; i < sizeof s_colours / sizeof s_colours[0]; i++) {
        if (strcasecmp(s, s_colours[i]) == 0) {
            snprintf(out, 8, "%s", s_colours[i]);
            return true;
        }
    }
    if (s[0] != '#' || strlen(s) != 7)
        return false;
    out[0] = '#';
    for (int i = 1; i < 7; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[7] = '\0';
    return true;
}

/* One --map CSVNAME=COLUMN; refuses an unknown column and a name or a column mapped twice. */
static int s_map_add(struct aopts *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    struct wladm_map *m;

    if (o->nmap >= MAPS_MAX) {
        cli_usage_error(PROG, "--map: at most %d", MAPS_MAX);
        return -1;
    }
    m = &o->map[o->nmap];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof m->csv || !eq[1]) {
        cli_bad_value(PROG, "--map", arg, "CSVNAME=COLUMN");
        return -1;
    }
    memcpy(m->csv, arg, (size_t)(eq - arg));
    m->csv[eq - arg] = '\0';
    m->arg = arg;
    m->field = strcmp(eq + 1, "-") == 0 ? -1 : -2;
    for (int k = 0; k < F_COUNT; k++)
        if (strcmp(eq + 1, s_field_names[k]) == 0)
            m->field = k;
    if (m->field == -2) {
        cli_usage_error(PROG,
                        "--map %s: unknown column '%s' (expected plate, country, valid_from, "
                        "valid_until, instruction, external_ref, requested_by, or - to ignore)",
                        arg, eq + 1);
        return -1;
    }
    for (int j = 0; j < o->nmap; j++) {
        if (strcasecmp(o->map[j].csv, m->csv) == 0) {
            cli_usage_error(PROG, "--map %s: '%s' is mapped already (--map %s)", arg, m->csv,
                            o->map[j].arg);
            return -1;
        }
        if (m->field >= 0 && o->map[j].field == m->field) {
            cli_usage_error(PROG, "--map %s and --map %s: two names mapped to column '%s'",
                            o->map[j].arg, arg, s_field_names[m->field]);
            return -1;
        }
    }
    o->nmap++;
    return 0;
}

static int s_admin(const struct admin_cmd *cmd, int argc, char **argv)
{
    struct aopts o = {.priority = -1,
                      .max_subst = -1,
                      .min_conf = -1,
                      .suppress = -1,
                      .retro = -1,
                      .indel = -1,
                      .candidates = -1,
                      .realert = -1,
                      .enabled = -1,
                      .covert = -1,
                      .backbone = -1,
                      .hit_retention = -1};
    char *ops[4];
    int nops = 0, c;
    struct db_error err;

    optind = 2;
    opterr = 0;
    /* "-" first: operands come back in order as 1, so options may follow them. */
    while ((c = getopt_long(argc, argv, "-:h", s_admin_longopts, NULL)) != -1) {
        if (c == 1) {
            if (nops >= cmd->max_ops) {
                cli_usage_error(PROG, "%s: unexpected '%s'", cmd->name, optarg);
                return EXIT_USAGE;
            }
            ops[nops++] = optarg;
            continue;
        }
        if (c == 'h') {
            s_admin_usage(stdout);
            exit(0);
        }
        if (c == '?' || c == ':') {
            cli_getopt_fail(PROG, c, argc, argv);
            return EXIT_USAGE;
        }
        if (!strchr(cmd->allowed, c)) {
            cli_usage_error(PROG, "%s does not take --%s", cmd->name, s_optname(c));
            return EXIT_USAGE;
        }
        switch (c) {
        case 'd':
            o.db = optarg;
            break;
        case 'C':
            if (!s_category_ok(optarg)) {
                cli_bad_value(PROG, "--category", optarg, "1 to 32 of a-z and _");
                return EXIT_USAGE;
            }
            o.category = optarg;
            break;
        case 'P':
            if (s_num("--priority", optarg, 1, 9, &o.priority, "1..9"))
                return EXIT_USAGE;
            break;
        case 'p':
            if (strcmp(optarg, "exact") != 0 && strcmp(optarg, "ocr") != 0) {
                cli_bad_value(PROG, "--policy", optarg, "exact or ocr");
                return EXIT_USAGE;
            }
            o.policy = optarg;
            break;
        case 'm':
            if (s_num("--max-subst", optarg, 0, 4, &o.max_subst, "0..4"))
                return EXIT_USAGE;
            break;
        case 'M':
            if (s_num("--min-confidence", optarg, 0, 1000, &o.min_conf, "0..1000"))
                return EXIT_USAGE;
            break;
        case 's':
            if (s_num("--suppress", optarg, 0, 86400, &o.suppress, "0..86400 seconds"))
                return EXIT_USAGE;
            break;
        case 'B':
            if (s_duration("--retro", optarg, 0, 31 * 86400, &o.retro,
                           "0..31d, as seconds or with s, m, h or d"))
                return EXIT_USAGE;
            break;
        case 'i':
        case '1':
            o.indel = c == 'i';
            break;
        case 'N':
        case '2':
            o.candidates = c == '2';
            break;
        case 'r':
        case '3':
            o.realert = c == 'r';
            break;
        case 'e':
        case 'x':
            o.enabled = c == 'e';
            break;
        case 'v':
        case '4':
            o.covert = c == 'v';
            break;
        case 'K':
            if (strcasecmp(optarg, "on") == 0)
                o.backbone = 1;
            else if (strcasecmp(optarg, "off") == 0)
                o.backbone = 0;
            else if (strcasecmp(optarg, "default") == 0)
                o.backbone = 2;
            else {
                cli_bad_value(PROG, "--backbone", optarg, "on, off or default");
                return EXIT_USAGE;
            }
            break;
        case 'L':
            if (!s_colour(optarg, o.colour_buf)) {
                cli_bad_value(PROG, "--colour", optarg,
                              "red, orange, yellow, green, blue, purple, grey, #RRGGBB or default");
                return EXIT_USAGE;
            }
            o.colour = o.colour_buf;
            break;
        case 'H':
            if (strcasecmp(optarg, "default") == 0)
                o.hit_retention = 0;
            else if (s_num("--hits-retention", optarg, 1, 365, &o.hit_retention,
                           "1..365 days or default"))
                return EXIT_USAGE;
            break;
        case 'T':
            o.plate = optarg;
            break;
        case 'Q':
            o.requested_by = optarg;
            break;
        case 'A':
            if (s_map_add(&o, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'R':
            o.rename = optarg;
            break;
        case 'c':
            o.country = plate_country(optarg); /* UK is stored as GB */
            break;
        case 'z':
            o.tz = optarg;
            break;
        case 'O':
            o.force = true;
            break;
        case 'F':
            o.from = optarg;
            break;
        case 'U':
            o.until = optarg;
            break;
        case 'I':
            o.instruction = optarg;
            break;
        case 'f':
            o.ref = optarg;
            break;
        case 'o':
            o.output = optarg;
            break;
        case 'n':
            o.dry_run = true;
            break;
        case 'k':
            o.skip_bad = true;
            break;
        case 'S':
            if (strcmp(optarg, ",") != 0 && strcmp(optarg, ";") != 0) {
                cli_bad_value(PROG, "--separator", optarg, "',' or ';'");
                return EXIT_USAGE;
            }
            o.sep = optarg[0];
            break;
        default:
            break;
        }
    }
    for (; optind < argc; optind++) { /* after "--" */
        if (nops >= cmd->max_ops) {
            cli_usage_error(PROG, "%s: unexpected '%s'", cmd->name, argv[optind]);
            return EXIT_USAGE;
        }
        ops[nops++] = argv[optind];
    }
    if (nops < cmd->min_ops) {
        cli_usage_error(PROG, "%s: expected %d operand%s", cmd->name, cmd->min_ops,
                        cmd->min_ops == 1 ? "" : "s");
        return EXIT_USAGE;
    }
    wladm_zone_choose(o.tz);
    log_set_level(LOG_LEVEL_WARN);
    PGconn *conn = db_connect(o.db ? o.db : "", PROG, &err);
    if (!conn) {
        fprintf(stderr, PROG ": %s\n", cli_text(err.msg));
        return EXIT_DATABASE;
    }
    int rc = cmd->run(conn, &o, ops);
    PQfinish(conn);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_admin_usage(stdout);
        printf("\n");
        s_usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf(PROG " %s\n", ANPR_VERSION);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "test") == 0)
        return s_cmd_test(argc, argv);
    for (size_t i = 0; argc >= 2 && i < sizeof s_admin_cmds / sizeof s_admin_cmds[0]; i++)
        if (strcmp(argv[1], s_admin_cmds[i].name) == 0)
            return s_admin(&s_admin_cmds[i], argc, argv);
    cli_usage_error(PROG, "expected a command: list-add, list-set, lists, add, update, remove, "
                          "expire, show, export, import, test");
    return EXIT_USAGE;
}
