/*
 * anpr-history: the investigator's tool. Plate history, HITs and co-travel, searched only
 * through the database's audited functions (migration 016): the tool never reads plate_read
 * or hits itself (an investigator's login may not), it calls anpr.search_* with the reason,
 * case and decision references as given, which audits the search and keeps its result under a
 * ticket, then fetches the rows of that ticket. Every statement runs in autocommit: a fetch
 * needs its search committed, and a refused search is audited by the call that refuses it.
 *
 *   anpr-history reads     --reason T --case R [--decision R] [--plate P | --ocr P | --pattern P]
 *                          [--camera CODE]... --from TIME --to TIME
 *   anpr-history hits      --reason T --case R [--decision R] [--plate P] [--list NAME] ...
 *   anpr-history cotravel  PLATE --window S --min-cameras K --reason T --case R ...
 *   anpr-history sightings PLATE --svg FILE --reason T --case R ...
 *   anpr-history audit     [--from TIME] [--to TIME] [--user U]
 *
 * What the database must judge (reason, case, decision, range, plate, pattern, camera, window,
 * limit) is sent as given, never checked here first: a search it refuses is audited too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <libpq-fe.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "plate.h"
#include "csv.h"
#include "hist.h"

#define PROG "anpr-history"

/* Exit codes (anpr-history(1)). */
enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_REFUSED = 2, EXIT_DATABASE = 3 };

#define MAX_CAMERAS   64
#define LIMIT_MAX     10000 /* the functions' own cap on --limit (rule "limit") */
#define LIMIT_DEFAULT 1000  /* rows fetched when --limit is not given */
#define ZONE_DEFAULT  "Europe/Brussels"

enum cmd { C_READS, C_HITS, C_COTRAVEL, C_SIGHTINGS, C_AUDIT };
enum fmt { F_TABLE, F_CSV, F_JSON };
enum match { M_NONE, M_EXACT, M_OCR, M_PATTERN };

/* A moment given on the command line: UTC seconds and microseconds. */
struct when {
    bool set;
    int64_t sec;
    int usec;
};

struct opts {
    enum cmd cmd;
    const char *db; /* --db; NULL: libpq's environment (PGHOST, ...) */
    const char *reason, *case_ref, *decision;
    enum match match;                 /* which of --plate, --ocr, --pattern */
    const char *plate;                /* its value, as typed */
    const char *max_subst;            /* --max-subst as typed (checked to be an integer) */
    const char *cameras[MAX_CAMERAS]; /* --camera, as typed */
    int ncameras;
    const char *list;              /* hits --list */
    const char *from_arg, *to_arg; /* as typed, for messages */
    struct when from, to;
    long limit; /* --limit, or LIMIT_DEFAULT */
    enum fmt fmt;
    const char *window, *min_cameras; /* cotravel, as typed (checked to be integers) */
    const char *svg;                  /* sightings --svg FILE */
    const char *user;                 /* audit --user */
};

static const char s_help[] =
    "usage: " PROG " reads --reason TEXT --case REF [--decision REF]\n"
    "                    [--plate P | --ocr P [--max-subst N] | --pattern P]\n"
    "                    [--camera CODE]... --from TIME --to TIME [--limit N] [--format F]\n"
    "       " PROG " hits --reason TEXT --case REF [--decision REF] [--plate P]\n"
    "                    [--list NAME] --from TIME --to TIME [--limit N] [--format F]\n"
    "       " PROG " cotravel PLATE --window S --min-cameras K --reason TEXT --case REF\n"
    "                    [--decision REF] --from TIME --to TIME [--limit N] [--format F]\n"
    "       " PROG " sightings PLATE --svg FILE --reason TEXT --case REF [--decision REF]\n"
    "                    --from TIME --to TIME [--limit N]\n"
    "       " PROG " audit [--from TIME] [--to TIME] [--user U] [--limit N] [--format F]\n"
    "Every command also takes --db CONNINFO (default: PGHOST, PGDATABASE, ...).\n"
    "\n"
    "Plate history for investigators, through the database's audited search functions:\n"
    "every search, also a refused one, is recorded with the reason, the case and the\n"
    "prosecutor's decision reference (needed for any part of the range older than the\n"
    "first period, 30 days by default).\n"
    "\n"
    "  --reason TEXT     why this search is made (at least 8 characters)\n"
    "  --case REF        the case reference\n"
    "  --decision REF    the prosecutor's decision reference\n"
    "  --plate P         one plate, exactly (spaces, dashes and case do not matter)\n"
    "  --ocr P           the plate and its OCR look-alikes (0/O/D/Q, 1/I/L, 2/Z, ...)\n"
    "  --max-subst N     with --ocr: how many characters may differ, 0..2 (default 1)\n"
    "  --pattern P       '?' one character, '*' any run; at least 3 letters or digits\n"
    "  --camera CODE     only these cameras (repeat it); reads without a plate need one\n"
    "  --list NAME       hits: only this watchlist's HITs\n"
    "  --window S        cotravel: seconds before or after the plate (1..600)\n"
    "  --min-cameras K   cotravel: at how many distinct cameras at least (2..50)\n"
    "  --svg FILE        sightings: the picture to write (a standalone SVG)\n"
    "  --user U          audit: one login's searches only\n"
    "  --from, --to TIME ISO 8601: 2026-03-01, 2026-03-01T08:30, 2026-03-01T08:30:00Z;\n"
    "                    without an offset the zone's time (TZ; Europe/Brussels); a date\n"
    "                    alone is the whole day (from 00:00, to 24:00)\n"
    "  --limit N         rows to show (default 1000, at most 10000)\n"
    "  --format F        table (default), csv or json\n"
    "\n"
    "Exit status: 0 done, 1 usage error, 2 refused by the database (the rule is named),\n"
    "3 database error.\n";

/* --- command line ------------------------------------------------------------------------ */

/* An integer option value: all of it a decimal number within [lo, hi]. */
static bool s_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int s_days_in(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* n decimal digits at s into *v; false when they are not all digits. */
static bool s_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/*
 * An ISO 8601 date or date-time into w. Without an offset it is the zone's local time; a date
 * alone is the start of that day, or with end the start of the next (24:00). false when it
 * does not parse.
 */
static bool s_parse_time(const char *s, bool end, struct when *w)
{
    int y, mo, d, h = 0, mi = 0, se = 0, usec = 0, off = 0;
    bool date_only, zoned = false;
    const char *p = s;

    if (strlen(s) < 10 || !s_digits(p, 4, &y) || p[4] != '-' || !s_digits(p + 5, 2, &mo) ||
        p[7] != '-' || !s_digits(p + 8, 2, &d))
        return false;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > s_days_in(y, mo))
        return false;
    p += 10;
    date_only = *p == '\0';
    if (!date_only) {
        if ((*p != 'T' && *p != 't' && *p != ' ') || !s_digits(p + 1, 2, &h) || p[3] != ':' ||
            !s_digits(p + 4, 2, &mi))
            return false;
        p += 6;
        if (*p == ':') {
            if (!s_digits(p + 1, 2, &se))
                return false;
            p += 3;
            if (*p == '.' || *p == ',') {
                int n = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, n++)
                    if (n < 6)
                        usec = usec * 10 + (*p - '0');
                if (n == 0)
                    return false;
                for (; n < 6; n++)
                    usec *= 10;
            }
        }
        if (h > 23 || mi > 59 || se > 59)
            return false;
        if (*p == 'Z' || *p == 'z') {
            zoned = true;
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om = 0;
            int sign = *p == '-' ? -1 : 1;
            if (!s_digits(p + 1, 2, &oh))
                return false;
            p += 3;
            if (*p == ':')
                p++;
            if (*p && !s_digits(p, 2, &om))
                return false;
            if (*p)
                p += 2;
            if (oh > 14 || om > 59)
                return false;
            off = sign * (oh * 3600 + om * 60);
            zoned = true;
        }
        if (*p)
            return false;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d + (date_only && end ? 1 : 0),
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se,
                    .tm_isdst = -1};
    time_t t = zoned ? timegm(&tm) - off : mktime(&tm);
    if (t == (time_t)-1 && !zoned)
        return false;
    w->set = true;
    w->sec = (int64_t)t;
    w->usec = usec;
    return true;
}

/* w as ISO 8601 in UTC ("2026-03-01T07:30:00Z"; microseconds when there are some). */
static const char *s_utc(const struct when *w, char *buf, size_t cap)
{
    time_t t = (time_t)w->sec;
    struct tm tm;
    size_t n;

    gmtime_r(&t, &tm);
    n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (w->usec)
        snprintf(buf + n, cap - n, ".%06dZ", w->usec);
    else
        snprintf(buf + n, cap - n, "Z");
    return buf;
}

enum {
    O_DB = 256,
    O_REASON,
    O_CASE,
    O_DECISION,
    O_PLATE,
    O_OCR,
    O_MAXSUBST,
    O_PATTERN,
    O_CAMERA,
    O_LIST,
    O_FROM,
    O_TO,
    O_LIMIT,
    O_FORMAT,
    O_WINDOW,
    O_MINCAM,
    O_SVG,
    O_USER,
};

static const struct option s_longopts[] = {
    {"db", required_argument, NULL, O_DB},
    {"reason", required_argument, NULL, O_REASON},
    {"case", required_argument, NULL, O_CASE},
    {"decision", required_argument, NULL, O_DECISION},
    {"plate", required_argument, NULL, O_PLATE},
    {"ocr", required_argument, NULL, O_OCR},
    {"max-subst", required_argument, NULL, O_MAXSUBST},
    {"pattern", required_argument, NULL, O_PATTERN},
    {"camera", required_argument, NULL, O_CAMERA},
    {"list", required_argument, NULL, O_LIST},
    {"from", required_argument, NULL, O_FROM},
    {"to", required_argument, NULL, O_TO},
    {"limit", required_argument, NULL, O_LIMIT},
    {"format", required_argument, NULL, O_FORMAT},
    {"window", required_argument, NULL, O_WINDOW},
    {"min-cameras", required_argument, NULL, O_MINCAM},
    {"svg", required_argument, NULL, O_SVG},
    {"user", required_argument, NULL, O_USER},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *const s_cmd_names[] = {"reads", "hits", "cotravel", "sightings", "audit"};

/* Which options each command takes (the search ones share most). */
static bool s_takes(enum cmd cmd, int opt)
{
    bool search = cmd != C_AUDIT;

    switch (opt) {
    case O_DB:
    case O_FROM:
    case O_TO:
    case O_LIMIT:
        return true;
    case O_FORMAT:
        return cmd != C_SIGHTINGS;
    case O_REASON:
    case O_CASE:
    case O_DECISION:
        return search;
    case O_PLATE:
        return cmd == C_READS || cmd == C_HITS;
    case O_OCR:
    case O_MAXSUBST:
    case O_PATTERN:
    case O_CAMERA:
        return cmd == C_READS;
    case O_LIST:
        return cmd == C_HITS;
    case O_WINDOW:
    case O_MINCAM:
        return cmd == C_COTRAVEL;
    case O_SVG:
        return cmd == C_SIGHTINGS;
    case O_USER:
        return cmd == C_AUDIT;
    default:
        return false;
    }
}

static int s_set_match(struct opts *o, enum match m, const char *arg)
{
    if (o->match != M_NONE)
        return cli_usage_error(PROG, "reads: one of --plate, --ocr, --pattern");
    o->match = m;
    o->plate = arg;
    return 0;
}

/* One option into o; 0, or -1 (reported). */
static int s_option(struct opts *o, int c, const char *arg, const char *name)
{
    long v;

    if (!s_takes(o->cmd, c))
        return cli_usage_error(PROG, "%s does not take %s", s_cmd_names[o->cmd], name);
    switch (c) {
    case O_DB:
        o->db = arg;
        break;
    case O_REASON:
        o->reason = arg;
        break;
    case O_CASE:
        o->case_ref = arg;
        break;
    case O_DECISION:
        o->decision = arg;
        break;
    case O_PLATE:
        if (o->cmd == C_HITS) {
            o->plate = arg;
            break;
        }
        return s_set_match(o, M_EXACT, arg);
    case O_OCR:
        return s_set_match(o, M_OCR, arg);
    case O_PATTERN:
        return s_set_match(o, M_PATTERN, arg);
    case O_MAXSUBST:
        if (!s_int(arg, INT_MIN, INT_MAX, &v))
            return cli_bad_value(PROG, "--max-subst", arg, "an integer");
        o->max_subst = arg;
        break;
    case O_CAMERA:
        if (o->ncameras == MAX_CAMERAS)
            return cli_usage_error(PROG, "at most %d --camera", MAX_CAMERAS);
        o->cameras[o->ncameras++] = arg;
        break;
    case O_LIST:
        o->list = arg;
        break;
    case O_FROM:
    case O_TO:
        if (!s_parse_time(arg, c == O_TO, c == O_FROM ? &o->from : &o->to))
            return cli_bad_value(PROG, c == O_FROM ? "--from" : "--to", cli_text(arg),
                                 "an ISO 8601 date or date-time");
        *(c == O_FROM ? &o->from_arg : &o->to_arg) = arg;
        break;
    case O_LIMIT:
        /* Any integer: the range (1..10000) is the search function's to judge and audit. */
        if (!s_int(arg, INT_MIN, INT_MAX, &o->limit))
            return cli_bad_value(PROG, "--limit", arg, "an integer");
        if (o->cmd == C_AUDIT && (o->limit < 1 || o->limit > LIMIT_MAX))
            return cli_bad_value(PROG, "--limit", arg, "1..10000");
        break;
    case O_FORMAT:
        if (strcmp(arg, "table") == 0)
            o->fmt = F_TABLE;
        else if (strcmp(arg, "csv") == 0)
            o->fmt = F_CSV;
        else if (strcmp(arg, "json") == 0)
            o->fmt = F_JSON;
        else
            return cli_bad_value(PROG, "--format", cli_text(arg), "table, csv or json");
        break;
    case O_WINDOW:
        if (!s_int(arg, INT_MIN, INT_MAX, &v))
            return cli_bad_value(PROG, "--window", arg, "seconds, an integer");
        o->window = arg;
        break;
    case O_MINCAM:
        if (!s_int(arg, INT_MIN, INT_MAX, &v))
            return cli_bad_value(PROG, "--min-cameras", arg, "an integer");
        o->min_cameras = arg;
        break;
    case O_SVG:
        o->svg = arg;
        break;
    case O_USER:
        o->user = arg;
        break;
    default:
        break;
    }
    return 0;
}

/* The command line into o: 0 to go on, else the exit status (after --help: -1 for 0). */
static int s_parse(struct opts *o, int argc, char **argv, int *rc)
{
    size_t ci;
    int c, idx;

    *rc = EXIT_OK;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(s_help, stdout);
        return -1;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", PROG, ANPR_VERSION);
        return -1;
    }
    *rc = EXIT_USAGE;
    for (ci = 0; argc >= 2 && ci < sizeof s_cmd_names / sizeof s_cmd_names[0]; ci++)
        if (strcmp(argv[1], s_cmd_names[ci]) == 0)
            break;
    if (argc < 2 || ci == sizeof s_cmd_names / sizeof s_cmd_names[0])
        return cli_usage_error(PROG, "expected a command: reads, hits, cotravel, sightings, audit");
    o->cmd = (enum cmd)ci;
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", s_longopts, &idx)) != -1) {
        if (c == 'h') {
            fputs(s_help, stdout);
            *rc = EXIT_OK;
            return -1;
        }
        if (c == ':' || c == '?')
            return cli_getopt_fail(PROG, c, argc, argv);
        char name[40];
        snprintf(name, sizeof name, "--%s", s_longopts[idx].name);
        if (s_option(o, c, optarg, name) != 0)
            return -1;
    }
    if (o->cmd == C_COTRAVEL || o->cmd == C_SIGHTINGS) {
        if (optind >= argc)
            return cli_usage_error(PROG, "%s: expected a PLATE", s_cmd_names[o->cmd]);
        o->plate = argv[optind++];
        o->match = M_EXACT;
    }
    if (cli_no_operands(PROG, argc, argv) != 0)
        return -1;
    if (o->max_subst && o->match != M_OCR)
        return cli_usage_error(PROG, "--max-subst goes with --ocr");
    if (o->cmd == C_COTRAVEL && (!o->window || !o->min_cameras))
        return cli_usage_error(PROG, "cotravel: --window and --min-cameras are required");
    if (o->cmd == C_SIGHTINGS && !o->svg)
        return cli_usage_error(PROG, "sightings: --svg FILE is required");
    *rc = EXIT_OK;
    return 0;
}

/* --- values as the formats show them ------------------------------------------------------ */

/* PostgreSQL type oids (pg_type.dat): fixed since the beginning. */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_JSON = 114,
    OID_FLOAT8 = 701,
    OID_TEXTARR = 1009,
    OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

/* A timestamptz as the session prints it (ISO, UTC: "2026-03-01 07:30:00.123+00") into w. */
static bool s_pg_time(const char *s, struct when *w)
{
    int y, mo, d, h, mi, se, usec = 0, n = 0, off = 0;
    const char *p;

    if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n == 0)
        return false;
    p = s + n;
    if (*p == '.') {
        int k = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, k++)
            if (k < 6)
                usec = usec * 10 + (*p - '0');
        for (; k < 6; k++)
            usec *= 10;
    }
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;
        p++;
        if (!s_digits(p, 2, &oh))
            return false;
        p += 2;
        if (*p == ':' && s_digits(p + 1, 2, &om))
            p += 3;
        off = sign * (oh * 3600 + om * 60);
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    w->set = true;
    w->sec = (int64_t)timegm(&tm) - off;
    w->usec = usec;
    return true;
}

/* A moment in the zone's time, to the second, with the zone's abbreviation. */
static const char *s_local(const struct when *w, char *buf, size_t cap)
{
    time_t t = (time_t)w->sec;
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S %Z", &tm);
    return buf;
}

/* The elements of a text[] as PostgreSQL prints it ({a,"b c",NULL}), one at a time: 1 with the
 * element in out (NULL elements as ""), 0 at the end. */
static int s_array_next(const char **pp, char *out, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;

    if (*p == '{')
        p++;
    if (*p == '}' || *p == '\0')
        return 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (n + 1 < cap)
                out[n++] = *p;
        }
        if (*p == '"')
            p++;
    } else {
        const char *s = p;
        while (*p && *p != ',' && *p != '}')
            p++;
        n = (size_t)(p - s) < cap ? (size_t)(p - s) : cap - 1;
        memcpy(out, s, n);
        if (n == 4 && memcmp(out, "NULL", 4) == 0)
            n = 0;
    }
    out[n] = '\0';
    if (*p == ',')
        p++;
    *pp = p;
    return 1;
}

/* A growable string. */
struct buf {
    char *s;
    size_t len, cap;
};

static void s_put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *m = realloc(b->s, cap);
        if (!m) {
            fprintf(stderr, PROG ": out of memory\n");
            exit(EXIT_DATABASE);
        }
        b->s = m;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void s_puts(struct buf *b, const char *s)
{
    s_put(b, s, strlen(s));
}

/* One cell as table or CSV text (not yet cleaned or quoted) into b. */
static void s_cell_text(const PGresult *res, int i, int k, bool table, struct buf *b)
{
    const char *v = PQgetvalue(res, i, k);
    char tmp[128];
    struct when w;

    b->len = 0;
    s_puts(b, "");
    if (PQgetisnull(res, i, k)) {
        s_puts(b, table ? "-" : "");
        return;
    }
    switch (PQftype(res, k)) {
    case OID_TIMESTAMPTZ:
        if (s_pg_time(v, &w))
            v = table ? s_local(&w, tmp, sizeof tmp) : s_utc(&w, tmp, sizeof tmp);
        s_puts(b, v);
        break;
    case OID_BOOL:
        s_puts(b, *v == 't' ? (table ? "yes" : "true") : (table ? "no" : "false"));
        break;
    case OID_FLOAT8:
        if (table) {
            snprintf(tmp, sizeof tmp, "%.5f", strtod(v, NULL));
            v = tmp;
        }
        s_puts(b, v);
        break;
    case OID_TEXTARR: {
        char el[512];
        bool first = true;
        for (const char *p = v; s_array_next(&p, el, sizeof el); first = false) {
            if (!first)
                s_puts(b, " ");
            s_puts(b, el);
        }
        break;
    }
    default:
        s_puts(b, v);
        break;
    }
}

/* Columns of the table, by the name the function gives them; a column the result lacks is left
   out (so an added column never breaks the tool). */
struct col {
    const char *name, *head;
};

static const struct col s_read_cols[] = {
    {"ord", "#"},           {"read_time", "TIME"}, {"camera", "CAMERA"}, {"camera_name", "NAME"},
    {"plate", "PLATE"},     {"plate_raw", "READ"}, {"country", "CC"},    {"confidence", "CONF"},
    {"lane", "LANE"},       {"direction", "DIR"},  {"latitude", "LAT"},  {"longitude", "LON"},
    {"image_ref", "IMAGE"}, {NULL, NULL},
};

static const struct col s_hit_cols[] = {
    {"ord", "#"},           {"hit_id", "HIT"},        {"read_time", "TIME"},
    {"camera", "CAMERA"},   {"plate", "PLATE"},       {"read_plate", "READ"},
    {"country", "CC"},      {"list_name", "LIST"},    {"category", "CATEGORY"},
    {"priority", "PRIO"},   {"entry_plate", "ENTRY"}, {"detail", "MATCH"},
    {"post_match", "POST"}, {"suppressed", "REPEAT"}, {"ack_decision", "ACK"},
    {"ack_operator", "BY"}, {"acked_at", "ACKED"},    {NULL, NULL},
};

static const struct col s_cotravel_cols[] = {
    {"ord", "#"},           {"plate", "PLATE"},         {"country", "CC"},
    {"cameras", "CAMERAS"}, {"sightings", "SIGHTINGS"}, {"first_seen", "FIRST"},
    {"last_seen", "LAST"},  {"camera_codes", "AT"},     {NULL, NULL},
};

static const struct col s_audit_cols[] = {
    {"id", "ID"},
    {"at", "AT"},
    {"by_user", "USER"},
    {"kind", "KIND"},
    {"granted", "GRANTED"},
    {"rule", "RULE"},
    {"reason", "REASON"},
    {"case_ref", "CASE"},
    {"decision_ref", "DECISION"},
    {"rows_returned", "ROWS"},
    {"rows_more", "MORE"},
    {"params", "PARAMS"},
    {NULL, NULL},
};

/* Terminal columns of cleaned UTF-8 text: wide characters take two, combining ones none. */
static size_t s_width(const char *s)
{
    mbstate_t st;
    size_t n = strlen(s), w = 0;

    memset(&st, 0, sizeof st);
    while (n > 0) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, n, &st);
        if (k == 0 || k == (size_t)-1 || k == (size_t)-2) {
            /* not a UTF-8 locale: one column a character */
            memset(&st, 0, sizeof st);
            k = 1;
            while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
                k++;
            w++;
        } else {
            int cw = wcwidth(wc);
            w += cw < 0 ? 1 : (size_t)cw;
        }
        s += k;
        n -= k;
    }
    return w;
}

static void s_print_table(const PGresult *res, const struct col *cols)
{
    int rows = PQntuples(res), idx[32], n = 0;
    const char *heads[32];
    size_t width[32];
    char **cells;
    struct buf b = {0};

    for (int c = 0; cols[c].name && n < 32; c++) {
        int k = PQfnumber(res, cols[c].name);
        if (k >= 0) {
            idx[n] = k;
            heads[n] = cols[c].head;
            width[n] = s_width(cols[c].head);
            n++;
        }
    }
    cells = calloc((size_t)rows * (size_t)n + 1, sizeof *cells);
    if (!cells) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(EXIT_DATABASE);
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < n; j++) {
            s_cell_text(res, i, idx[j], true, &b);
            char *c = strdup(cli_text(b.s));
            if (!c) {
                fprintf(stderr, PROG ": out of memory\n");
                exit(EXIT_DATABASE);
            }
            cells[(size_t)i * (size_t)n + (size_t)j] = c;
            size_t w = s_width(c);
            if (w > width[j])
                width[j] = w;
        }
    for (int i = -1; i < rows; i++) {
        for (int j = 0; j < n; j++) {
            const char *v = i < 0 ? heads[j] : cells[(size_t)i * (size_t)n + (size_t)j];

            /* The last column is not padded: no trailing blanks. */
            if (j + 1 < n)
                printf("%s%*s  ", v, (int)(width[j] - s_width(v)), "");
            else
                printf("%s\n", v);
        }
    }
    for (size_t i = 0; i < (size_t)rows * (size_t)n; i++)
        free(cells[i]);
    free(cells);
    free(b.s);
}

static void s_csv_field(const char *s, bool last, bool tty)
{
    const char *guard = csv_risky(s) ? "'" : "";

    if (tty)
        s = cli_text(s);
    if (strpbrk(s, ",\"\r\n\t")) {
        printf("\"%s", guard);
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        printf("%s%s", guard, s);
    }
    fputs(last ? "\r\n" : ",", stdout);
}

/* Every column of the result, the function's own names as the header. */
static void s_print_csv(const PGresult *res)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    bool tty = isatty(STDOUT_FILENO) == 1;
    struct buf b = {0};

    for (int k = 0; k < cols; k++)
        s_csv_field(PQfname(res, k), k == cols - 1, tty);
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < cols; k++) {
            s_cell_text(res, i, k, false, &b);
            s_csv_field(b.s, k == cols - 1, tty);
        }
    free(b.s);
}

/* Whether a terminal would act on code point cp (or XML forbids it): controls, DEL, C1, bidi
   controls, the line and paragraph separators. */
static bool s_acting(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
           cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * A JSON string: quotes, backslashes and everything a terminal would act on (controls, DEL, C1,
 * bidi controls, the line and paragraph separators) escaped as \uXXXX, so the output is valid
 * JSON and safe on a terminal; bytes that are not UTF-8 become U+FFFD.
 */
static void s_json_str(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    putchar('"');
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = cli_utf8(p + i, n - i, &cp);

        if (k == 0) {
            fputs("\\ufffd", stdout);
            i++;
            continue;
        }
        if (cp == '"' || cp == '\\')
            printf("\\%c", (char)cp);
        else if (s_acting(cp))
            printf("\\u%04" PRIx32, cp);
        else
            fwrite(p + i, 1, k, stdout);
        i += k;
    }
    putchar('"');
}

/*
 * JSON the database wrote (a json or jsonb value), whole: the code points a terminal would act
 * on can only be inside its strings there, where \uXXXX is their valid form; bytes that are not
 * UTF-8 become U+FFFD.
 */
static void s_json_raw(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = cli_utf8(p + i, n - i, &cp);

        if (k == 0) {
            fputs("\\ufffd", stdout);
            i++;
            continue;
        }
        if (s_acting(cp) && cp > 0x20)
            printf("\\u%04" PRIx32, cp);
        else
            fwrite(p + i, 1, k, stdout);
        i += k;
    }
}

/* A number as PostgreSQL prints it is JSON too, but for NaN and the infinities. */
static bool s_json_number(const char *v)
{
    return strspn(v, "0123456789+-.eE") == strlen(v) && *v;
}

static void s_print_json(const PGresult *res)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    struct buf b = {0};

    fputs("[", stdout);
    for (int i = 0; i < rows; i++) {
        fputs(i ? ",\n {" : "\n {", stdout);
        for (int k = 0; k < cols; k++) {
            const char *v = PQgetvalue(res, i, k);
            if (k)
                fputs(", ", stdout);
            s_json_str(PQfname(res, k));
            fputs(": ", stdout);
            if (PQgetisnull(res, i, k)) {
                fputs("null", stdout);
                continue;
            }
            switch (PQftype(res, k)) {
            case OID_INT2:
            case OID_INT4:
            case OID_INT8:
            case OID_FLOAT8:
            case OID_NUMERIC:
                fputs(s_json_number(v) ? v : "null", stdout);
                break;
            case OID_BOOL:
                fputs(*v == 't' ? "true" : "false", stdout);
                break;
            case OID_JSON:
            case OID_JSONB:
                s_json_raw(v);
                break;
            case OID_TEXTARR: {
                char el[512];
                bool first = true;
                putchar('[');
                for (const char *p = v; s_array_next(&p, el, sizeof el); first = false) {
                    if (!first)
                        fputs(", ", stdout);
                    s_json_str(el);
                }
                putchar(']');
                break;
            }
            default:
                s_cell_text(res, i, k, false, &b);
                s_json_str(b.s);
                break;
            }
        }
        putchar('}');
    }
    fputs(rows ? "\n]\n" : "]\n", stdout);
    free(b.s);
}

static void s_print(const PGresult *res, const struct col *cols, enum fmt fmt)
{
    if (fmt == F_TABLE)
        s_print_table(res, cols);
    else if (fmt == F_CSV)
        s_print_csv(res);
    else
        s_print_json(res);
}

/* "N more rows not shown": after the table on stdout; for CSV and JSON on stderr, so the data
   stays one document. */
static void s_more(long long more, enum fmt fmt)
{
    if (more <= 0)
        return;
    fprintf(fmt == F_TABLE ? stdout : stderr,
            "%lld more rows not shown (raise --limit, at most %d)\n", more, LIMIT_MAX);
}

/* --- the database ------------------------------------------------------------------------- */

/* A statement's failure: the database's message on stderr; the exit status it means. */
static int s_db_fail(PGconn *conn, PGresult *res, const char *ctx)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *text = cli_text_nl(msg ? msg : PQerrorMessage(conn));
    size_t len = strlen(text);

    while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    /* The database refusing the login this (no right to the table or function) is a refusal. */
    int rc = state && strcmp(state, "42501") == 0 ? EXIT_REFUSED : EXIT_DATABASE;

    fprintf(stderr, PROG ": %s: %.*s\n", ctx, (int)len, text);
    PQclear(res);
    return rc;
}

static PGresult *s_q(PGconn *conn, const char *sql, int n, const char *const *params,
                     const char *ctx, int *rc)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    *rc = s_db_fail(conn, res, ctx);
    return NULL;
}

/* What a search's outcome means for the tool: its messages on stderr (the database's words) and
   the exit status. */
static int s_report(const struct hist_outcome *h)
{
    switch (h->status) {
    case HIST_OK:
        /* a granted search may still say something: that its range was clipped, say */
        if (*h->message)
            fprintf(stderr, PROG ": %s\n", cli_text(h->message));
        return EXIT_OK;
    case HIST_REFUSED:
        /* The message names the rule; the rule's own name is added for scripts. */
        fprintf(stderr, PROG ": refused (rule %s): %s\n", cli_text(h->rule), cli_text(h->message));
        return EXIT_REFUSED;
    default:
        fprintf(stderr, PROG ": %s: %s\n", h->context, cli_text_nl(h->message));
        return h->status == HIST_DENIED ? EXIT_REFUSED : EXIT_DATABASE;
    }
}

/* The range asked for, in UTC, on stderr: what the audit will say was asked. */
static void s_echo_range(const struct opts *o)
{
    char a[48], b[48];

    fprintf(stderr, PROG ": range %s .. %s (UTC)\n",
            o->from.set ? s_utc(&o->from, a, sizeof a) : "-",
            o->to.set ? s_utc(&o->to, b, sizeof b) : "-");
}

/*
 * Search and fetch (hist.h): one call of the search function (audited, committed on return),
 * then the rows of its ticket. *out the rows (the caller clears them) and *more those past the
 * limit; the exit status.
 */
static int s_search(PGconn *conn, const struct opts *o, PGresult **out, long long *more)
{
    char from[48], to[48], limit[24];
    struct hist_outcome h;
    struct hist_query q = {
        .kind = o->cmd == C_HITS       ? HIST_HITS
                : o->cmd == C_COTRAVEL ? HIST_COTRAVEL
                                       : HIST_READS,
        .reason = o->reason,
        .case_ref = o->case_ref,
        .decision = o->decision,
        .plate = o->plate,
        .match = o->match == M_OCR       ? "ocr"
                 : o->match == M_PATTERN ? "pattern"
                                         : "exact",
        .cameras = o->cameras,
        .ncameras = o->ncameras,
        .list = o->list,
        .from = o->from.set ? s_utc(&o->from, from, sizeof from) : NULL,
        .to = o->to.set ? s_utc(&o->to, to, sizeof to) : NULL,
        .limit = limit,
        .max_subst = o->max_subst,
        .window = o->window,
        .min_cameras = o->min_cameras,
    };

    snprintf(limit, sizeof limit, "%ld", o->limit);
    s_echo_range(o);
    hist_search(conn, &q, out, &h);
    *more = h.more;
    return s_report(&h);
}

/* --- sightings: the SVG ------------------------------------------------------------------- */

/* Text for XML: what a terminal would act on made visible first (XML 1.0 forbids most
   controls even as references), then the five markup characters escaped. */
static void s_xml(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)cli_text(s);
    size_t n = strlen((const char *)p);

    for (size_t i = 0; i < n;) {
        uint32_t cp = 0xFFFD;
        size_t k = cli_utf8(p + i, n - i, &cp);

        if (k == 0) { /* cli_text leaves none; but never emit a broken byte */
            k = 1;
            cp = 0xFFFD;
        }
        /* XML 1.0 has no noncharacters (U+FFFE, U+FFFF, U+FDD0..U+FDEF), not even as
           references: the replacement character stands for them. */
        if (cp == 0xFFFE || cp == 0xFFFF || (cp >= 0xFDD0 && cp <= 0xFDEF))
            cp = 0xFFFD;
        if (cp == 0xFFFD)
            fputs("\xEF\xBF\xBD", f);
        else if (cp == '&')
            fputs("&amp;", f);
        else if (cp == '<')
            fputs("&lt;", f);
        else if (cp == '>')
            fputs("&gt;", f);
        else if (cp == '"')
            fputs("&quot;", f);
        else if (cp == '\'')
            fputs("&apos;", f);
        else
            fwrite(p + i, 1, k, f);
        i += k;
    }
}

/* A point on the map. */
struct spot {
    bool has;
    double lat, lon;
    double x, y;
};

/* One sighting, in time order. */
struct sight {
    struct when at;
    const char *camera, *name; /* borrowed from the result */
    struct spot pos;
};

/* A camera with a position, from anpr.camera. */
struct cam {
    const char *code, *name; /* borrowed from the result */
    struct spot pos;
};

#define SVG_W      960
#define MAP_H      560
#define MAP_MARGIN 70
#define TL_Y       640 /* the timeline's axis */
#define SVG_H      720

/* Equirectangular projection of every spot onto the map: east to the right, north up, the
   longitude scaled by the cosine of the middle latitude, the whole fitted and centred. */
static void s_project(struct spot **spots, size_t n)
{
    double minx = 1e9, maxx = -1e9, miny = 1e9, maxy = -1e9, k, s, w, h;
    double lat0 = 0;
    size_t m = 0;

    for (size_t i = 0; i < n; i++)
        if (spots[i]->has) {
            lat0 += spots[i]->lat;
            m++;
        }
    if (!m)
        return;
    k = cos(lat0 / (double)m * M_PI / 180.0);
    for (size_t i = 0; i < n; i++) {
        if (!spots[i]->has)
            continue;
        double x = spots[i]->lon * k, y = -spots[i]->lat;
        minx = fmin(minx, x);
        maxx = fmax(maxx, x);
        miny = fmin(miny, y);
        maxy = fmax(maxy, y);
    }
    w = maxx - minx;
    h = maxy - miny;
    s = fmin(w > 1e-9 ? (SVG_W - 2 * MAP_MARGIN) / w : 1e9,
             h > 1e-9 ? (MAP_H - 2 * MAP_MARGIN - 40) / h : 1e9);
    if (s >= 1e9)
        s = 0; /* one place: everything in the middle */
    for (size_t i = 0; i < n; i++) {
        if (!spots[i]->has)
            continue;
        spots[i]->x = SVG_W / 2.0 + (spots[i]->lon * k - (minx + maxx) / 2) * s;
        spots[i]->y = 40 + MAP_H / 2.0 + (-spots[i]->lat - (miny + maxy) / 2) * s;
    }
}

static const char s_svg_style[] =
    "<style>\n"
    "text{font-family:sans-serif;font-size:11px;fill:#222}\n"
    ".head{font-size:15px;font-weight:bold}\n"
    ".camera{fill:#fff;stroke:#777;stroke-width:1.5}\n"
    ".cname{fill:#555}\n"
    ".route{fill:none;stroke:#c0392b;stroke-width:2;stroke-opacity:.7}\n"
    ".stop{fill:#c0392b;stroke:#fff;stroke-width:1}\n"
    ".axis{stroke:#333;stroke-width:1}\n"
    ".sighting{fill:#c0392b;stroke:#fff;stroke-width:1}\n"
    "</style>\n";

static int s_write_svg(FILE *f, const struct opts *o, struct sight *sg, size_t ns, struct cam *cams,
                       size_t nc)
{
    char a[48], b[48], norm[PLATE_MAX + 1];
    const char *plate = hist_norm_plate(o->plate, false, norm);
    struct spot **spots = calloc(ns + nc + 1, sizeof *spots);
    size_t n = 0, onmap = 0;

    if (!spots)
        return -1;
    for (size_t i = 0; i < nc; i++)
        spots[n++] = &cams[i].pos;
    for (size_t i = 0; i < ns; i++)
        spots[n++] = &sg[i].pos;
    s_project(spots, n);
    free(spots);

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\">\n<title>Sightings of ",
            SVG_W, SVG_H, SVG_W, SVG_H);
    s_xml(f, plate);
    fputs("</title>\n", f);
    fputs(s_svg_style, f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", SVG_W, SVG_H);
    fputs("<text class=\"head\" x=\"20\" y=\"28\">Sightings of ", f);
    s_xml(f, plate);
    fprintf(f, ": %zu sightings</text>\n<text x=\"20\" y=\"46\">%s .. %s (UTC), case ", ns,
            o->from.set ? s_utc(&o->from, a, sizeof a) : "-",
            o->to.set ? s_utc(&o->to, b, sizeof b) : "-");
    s_xml(f, o->case_ref ? o->case_ref : "");
    fputs("</text>\n", f);

    /* The cameras, and their names. */
    fputs("<g id=\"cameras\">\n", f);
    for (size_t i = 0; i < nc; i++) {
        fprintf(f, "<circle class=\"camera\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>", cams[i].pos.x,
                cams[i].pos.y);
        fprintf(f, "<text class=\"cname\" x=\"%.1f\" y=\"%.1f\">", cams[i].pos.x + 8,
                cams[i].pos.y + 16);
        s_xml(f, cams[i].name);
        fputs(" (", f);
        s_xml(f, cams[i].code);
        fputs(")</text>\n", f);
    }
    fputs("</g>\n", f);

    /* The route, in time order, through the sightings that have a place. */
    for (size_t i = 0; i < ns; i++)
        onmap += sg[i].pos.has;
    if (onmap > 1) {
        fputs("<polyline class=\"route\" points=\"", f);
        for (size_t i = 0, k = 0; i < ns; i++)
            if (sg[i].pos.has)
                fprintf(f, "%s%.1f,%.1f", k++ ? " " : "", sg[i].pos.x, sg[i].pos.y);
        fputs("\"/>\n", f);
    }
    fputs("<g id=\"route\">\n", f);
    for (size_t i = 0; i < ns; i++) {
        size_t before = 0;
        if (!sg[i].pos.has)
            continue;
        /* labels of repeated visits to one place stack downwards */
        for (size_t j = 0; j < i; j++)
            before += sg[j].pos.has && sg[j].pos.x == sg[i].pos.x && sg[j].pos.y == sg[i].pos.y;
        fprintf(f, "<circle class=\"stop\" id=\"stop%zu\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"/>", i + 1,
                sg[i].pos.x, sg[i].pos.y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%zu  %s</text>\n", sg[i].pos.x + 8,
                sg[i].pos.y - 6 - 13.0 * (double)before, i + 1, s_local(&sg[i].at, a, sizeof a));
    }
    fputs("</g>\n", f);

    /* The timeline: every sighting, also one at a camera without a place. */
    int64_t t0 = ns ? sg[0].at.sec : 0, t1 = ns ? sg[ns - 1].at.sec : 0;
    double x0 = MAP_MARGIN, x1 = SVG_W - MAP_MARGIN;
    fprintf(
        f,
        "<g id=\"timeline\">\n<line class=\"axis\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
        x0, TL_Y, x1, TL_Y);
    if (ns) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", x0, TL_Y + 40,
                s_local(&sg[0].at, a, sizeof a));
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\">%s</text>\n", x1, TL_Y + 40,
                s_local(&sg[ns - 1].at, a, sizeof a));
    }
    for (size_t i = 0; i < ns; i++) {
        double x = t1 > t0 ? x0 + (x1 - x0) * (double)(sg[i].at.sec - t0) / (double)(t1 - t0)
                           : (x0 + x1) / 2;
        fprintf(f,
                "<circle class=\"sighting\" id=\"s%zu\" cx=\"%.1f\" cy=\"%d\" r=\"5\"%s>"
                "<title>",
                i + 1, x, TL_Y, sg[i].pos.has ? "" : " fill=\"#888\"");
        fprintf(f, "%zu  %s  ", i + 1, s_local(&sg[i].at, a, sizeof a));
        s_xml(f, sg[i].camera);
        fputs(" ", f);
        s_xml(f, sg[i].name);
        fputs(sg[i].pos.has ? "" : " (no position)", f);
        fputs("</title></circle>", f);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%zu</text>\n", x,
                TL_Y - 10 - 12.0 * (double)(i % 3), i + 1);
    }
    fputs("</g>\n</svg>\n", f);
    return 0;
}

static int s_sightings(PGconn *conn, const struct opts *o)
{
    PGresult *rows = NULL, *cres = NULL;
    struct sight *sg = NULL;
    struct cam *cams = NULL;
    long long more = 0;
    size_t ns, nc;
    FILE *f = NULL;
    int rc = s_search(conn, o, &rows, &more);

    if (rc != EXIT_OK)
        return rc;
    struct hist_outcome ho;
    cres = hist_cameras(conn, &ho);
    if (!cres) {
        rc = s_report(&ho);
        goto out;
    }
    nc = (size_t)PQntuples(cres);
    ns = (size_t)PQntuples(rows);
    cams = calloc(nc + 1, sizeof *cams);
    sg = calloc(ns + 1, sizeof *sg);
    if (!cams || !sg) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = EXIT_DATABASE;
        goto out;
    }
    for (size_t i = 0; i < nc; i++) {
        cams[i].code = PQgetvalue(cres, (int)i, 0);
        cams[i].name = PQgetvalue(cres, (int)i, 1);
        cams[i].pos.has = true;
        cams[i].pos.lat = strtod(PQgetvalue(cres, (int)i, 2), NULL);
        cams[i].pos.lon = strtod(PQgetvalue(cres, (int)i, 3), NULL);
    }
    int kt = PQfnumber(rows, "read_time"), kc = PQfnumber(rows, "camera"),
        kn = PQfnumber(rows, "camera_name"), ky = PQfnumber(rows, "latitude"),
        kx = PQfnumber(rows, "longitude");
    if (kt < 0 || kc < 0 || kn < 0 || ky < 0 || kx < 0) {
        fprintf(stderr, PROG ": the rows lack read_time, camera, camera_name or a position\n");
        rc = EXIT_DATABASE;
        goto out;
    }
    /* Newest first from the database: the picture goes in time order. */
    for (size_t i = 0; i < ns; i++) {
        int r = (int)(ns - 1 - i);
        struct sight *s = &sg[i];
        s_pg_time(PQgetvalue(rows, r, kt), &s->at);
        s->camera = PQgetvalue(rows, r, kc);
        s->name = PQgetvalue(rows, r, kn);
        if (!PQgetisnull(rows, r, ky) && !PQgetisnull(rows, r, kx)) {
            /* a mobile camera's read carries its own place */
            s->pos.has = true;
            s->pos.lat = strtod(PQgetvalue(rows, r, ky), NULL);
            s->pos.lon = strtod(PQgetvalue(rows, r, kx), NULL);
        } else {
            for (size_t j = 0; j < nc; j++)
                if (strcmp(cams[j].code, s->camera) == 0) {
                    s->pos = cams[j].pos;
                    break;
                }
        }
    }
    if (!(f = cli_open_private(o->svg)) || s_write_svg(f, o, sg, ns, cams, nc) != 0 ||
        fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, PROG ": %s: %s\n", cli_text(o->svg), strerror(errno));
        rc = EXIT_USAGE;
        goto out;
    }
    size_t onmap = 0;
    for (size_t i = 0; i < ns; i++)
        onmap += sg[i].pos.has;
    printf("%zu sightings (%zu on the map) written to %s\n", ns, onmap, cli_text(o->svg));
    s_more(more, F_TABLE);

out:
    if (f && fclose(f) != 0 && rc == EXIT_OK) {
        fprintf(stderr, PROG ": %s: %s\n", cli_text(o->svg), strerror(errno));
        rc = EXIT_USAGE;
    }
    free(sg);
    free(cams);
    PQclear(cres);
    PQclear(rows);
    return rc;
}

/* --- audit -------------------------------------------------------------------------------- */

static int s_audit(PGconn *conn, const struct opts *o)
{
    char from[48], to[48], limit[24];
    const char *params[4] = {o->from.set ? s_utc(&o->from, from, sizeof from) : NULL,
                             o->to.set ? s_utc(&o->to, to, sizeof to) : NULL, o->user, limit};
    int rc = EXIT_OK;
    PGresult *res;

    snprintf(limit, sizeof limit, "%ld", o->limit);
    if (o->from.set || o->to.set)
        s_echo_range(o);
    res = s_q(conn,
              "SELECT id, at, by_user, kind, reason, case_ref, decision_ref, params, granted, "
              "rule, message, rows_returned, rows_more, count(*) OVER () AS total "
              "FROM anpr.search_audit "
              "WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz) "
              "AND ($2::timestamptz IS NULL OR at < $2::timestamptz) "
              "AND ($3::text IS NULL OR by_user = $3::text) "
              "ORDER BY at, id LIMIT $4::integer",
              4, params, "audit", &rc);
    if (!res)
        return rc;
    long long total = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 13), NULL, 10) : 0;
    s_print(res, s_audit_cols, o->fmt);
    s_more(total - PQntuples(res), o->fmt);
    PQclear(res);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct opts o = {.limit = LIMIT_DEFAULT};
    struct db_error err;
    PGconn *conn = NULL;
    int rc;

    /* Times without an offset are the zone's: Brussels unless TZ says otherwise. */
    if (!getenv("TZ"))
        setenv("TZ", ZONE_DEFAULT, 1);
    tzset();
    /* Only for the width of characters in the table; everything else is byte-exact. */
    if (!setlocale(LC_CTYPE, "C.UTF-8"))
        setlocale(LC_CTYPE, "");
    if (s_parse(&o, argc, argv, &rc) != 0)
        return rc;
    log_set_level(LOG_LEVEL_WARN);
    conn = db_connect(o.db ? o.db : "", PROG, &err);
    if (!conn) {
        fprintf(stderr, PROG ": %s\n", cli_text(err.msg));
        return EXIT_DATABASE;
    }
    /* The times are read back as ISO text (s_pg_time), whatever the server's default. */
    PGresult *ds = PQexec(conn, "SET datestyle = ISO");
    if (PQresultStatus(ds) != PGRES_COMMAND_OK) {
        rc = s_db_fail(conn, ds, "connect");
        PQfinish(conn);
        return rc;
    }
    PQclear(ds);
    if (o.cmd == C_AUDIT) {
        rc = s_audit(conn, &o);
    } else if (o.cmd == C_SIGHTINGS) {
        rc = s_sightings(conn, &o);
    } else {
        PGresult *res = NULL;
        long long more = 0;
        rc = s_search(conn, &o, &res, &more);
        if (rc == EXIT_OK) {
            s_print(res,
                    o.cmd == C_READS  ? s_read_cols
                    : o.cmd == C_HITS ? s_hit_cols
                                      : s_cotravel_cols,
                    o.fmt);
            s_more(more, o.fmt);
            PQclear(res);
        }
    }
    if (fflush(stdout) != 0 && rc == EXIT_OK) {
        fprintf(stderr, PROG ": standard output: %s\n", strerror(errno));
        rc = EXIT_DATABASE;
    }
    PQfinish(conn);
    return rc;
}
