/* wladm: watchlist administration shared by anpr-watchlist and anpr-web (wladm.h). */
#include "wladm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "csv.h"
#include "util.h"

#define EPOCH_US_SQL(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define TIME_SQL(col)     "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

const char *const wladm_columns[WLADM_NCOLS] = {
    "plate", "country", "valid_from", "valid_until", "instruction", "external_ref", "requested_by"};

static void s_err(struct wladm_err *err, const char *field, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_err(struct wladm_err *err, const char *field, const char *value, const char *fmt, ...)
{
    va_list ap;

    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    snprintf(err->value, sizeof err->value, "%s", value ? value : "");
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* --- times ------------------------------------------------------------------------------- */

static int64_t s_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int s_digits(const char **p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/*
 * The time zone of dates and times given without an offset: --tz, else ANPR_TZ, else
 * Europe/Brussels (the zone's). Looked up in the system's time zone database (glibc's, package
 * tzdata) the first time a time needs it; a zone that is not there is an error, never UTC
 * silently (what glibc would make of it).
 */
#define ZONE_DEFAULT "Europe/Brussels"
static const char *s_zone_name = ZONE_DEFAULT;
static int s_zone_state; /* 0 not yet looked up, 1 set, -1 not found */

void wladm_zone_choose(const char *opt)
{
    const char *env = getenv("ANPR_TZ");
    s_zone_name = opt ? opt : env && *env ? env : ZONE_DEFAULT;
    s_zone_state = 0;
}

const char *wladm_zone(void)
{
    if (s_zone_state == 0) {
        const char *dir = getenv("TZDIR");
        char path[4096];
        struct stat st;
        s_zone_state = -1;
        if (!dir || !*dir)
            dir = "/usr/share/zoneinfo";
        /* A name of the database (Europe/Brussels, UTC), not a path or a POSIX TZ rule. */
        if (*s_zone_name && s_zone_name[0] != '/' && !strstr(s_zone_name, "..") &&
            strspn(s_zone_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "/_+-") == strlen(s_zone_name) &&
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, s_zone_name) < sizeof path &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode) && setenv("TZ", s_zone_name, 1) == 0) {
            tzset();
            s_zone_state = 1;
        }
    }
    return s_zone_state == 1 ? NULL
                             : "no such time zone in the system's time zone database "
                               "(--tz or ANPR_TZ, e.g. Europe/Brussels; Debian package tzdata)";
}

/* Microseconds of a local time of the zone (wladm_zone() set); mktime takes a day past the month's
 * last as the next month's first. A time that falls in a DST gap is taken as after it. */
static int64_t s_local_us(int y, int mo, int d, int h, int mi, int sec)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec,
                    .tm_isdst = -1};
    return (int64_t)mktime(&tm) * 1000000;
}

/*
 * A strict ISO 8601 time: YYYY-MM-DD, optionally followed by T or space, HH:MM[:SS[.ffffff]]
 * and optionally Z or +-HH[[:]MM]. Without an offset it is a time of the zone (s_zone); a date
 * alone is the whole day there: its start, or for an `until` its end (the next day's start).
 * Microseconds since the epoch into *us; NULL or why not.
 */
const char *wladm_parse_time(const char *s, bool until, int64_t *us)
{
    const char *p = s;
    int y = s_digits(&p, 4), mo, d, h = 0, mi = 0, sec = 0, off = 0;
    int64_t frac = 0;
    bool date_only = true, offset = false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (y < 1 || *p++ != '-' || (mo = s_digits(&p, 2)) < 1 || mo > 12 || *p++ != '-' ||
        (d = s_digits(&p, 2)) < 1)
        return "not an ISO 8601 date (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM])";
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return "no such day";
    if (*p == 'T' || *p == ' ') {
        p++;
        date_only = false;
        if ((h = s_digits(&p, 2)) < 0 || h > 23 || *p++ != ':' || (mi = s_digits(&p, 2)) < 0 ||
            mi > 59)
            return "not an ISO 8601 time of day (HH:MM[:SS[.ffffff]])";
        if (*p == ':') {
            p++;
            if ((sec = s_digits(&p, 2)) < 0 || sec > 59)
                return "not an ISO 8601 time of day (HH:MM[:SS[.ffffff]])";
            if (*p == '.') {
                int n = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, n++)
                    frac = frac * 10 + (*p - '0');
                if (n < 1 || n > 6)
                    return "fraction of a second: 1 to 6 digits";
                for (; n < 6; n++)
                    frac *= 10;
            }
        }
        if (*p == 'Z') {
            p++;
            offset = true;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if ((oh = s_digits(&p, 2)) < 0 || oh > 15)
                return "bad UTC offset (Z or +-HH[:MM])";
            if (*p == ':')
                p++;
            if (*p && ((om = s_digits(&p, 2)) < 0 || om > 59))
                return "bad UTC offset (Z or +-HH[:MM])";
            off = sign * (oh * 3600 + om * 60);
            offset = true;
        }
    }
    if (*p)
        return "not an ISO 8601 date (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM])";
    if (offset) {
        int64_t secs = s_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                       mi * 60 + sec - off;
        *us = secs * 1000000 + frac;
        return NULL;
    }
    const char *why = wladm_zone();
    if (why)
        return why;
    *us = s_local_us(y, mo, d + (date_only && until), h, mi, sec) + frac;
    return NULL;
}

/* A time as PostgreSQL reads it whatever the session's zone: UTC, ISO 8601, microseconds. */
void wladm_utc_text(int64_t us, char out[40])
{
    /* Floor division: no negation, so the open ends (INT64_MIN, INT64_MAX) cannot overflow. */
    int64_t q = us / 1000000, r = us % 1000000;
    if (r < 0) {
        q -= 1;
        r += 1000000;
    }
    time_t t = (time_t)q;
    unsigned frac = (unsigned)r;
    struct tm tm;
    char day[24];

    if (!gmtime_r(&t, &tm)) { /* past what struct tm holds: an open end */
        snprintf(out, 40, "%s", us < 0 ? "-infinity" : "infinity");
        return;
    }
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.20s.%06uZ", day, frac);
}

/* "2026-12-07 00:00:00 CET (2026-12-06T23:00:00.000000Z)": a stored time as the tool shows it
 * back, in the zone and in UTC. */
void wladm_show_time(int64_t us, char out[96])
{
    char utc[40];
    time_t t = (time_t)(us / 1000000);
    struct tm tm;

    wladm_utc_text(us, utc);
    if (wladm_zone() != NULL) {
        snprintf(out, 96, "%s", utc);
        return;
    }
    char local[48];
    localtime_r(&t, &tm);
    strftime(local, sizeof local, "%Y-%m-%d %H:%M:%S %Z", &tm);
    snprintf(out, 96, "%.40s (%.32s)", local, utc);
}

/* The validity an add or update stored, shown back: "  valid from ... until ..." */

const char *wladm_zone_name(void)
{
    return s_zone_name;
}

/* --- checks ------------------------------------------------------------------------------ */

static bool s_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool wladm_country_ok(const char *s)
{
    return !*s || (s_letter(s[0]) && s_letter(s[1]) && !s[2]);
}

/* Lists from other systems often write the code in lower case (nl): stored as NL. */
const char *wladm_country(const char *s, char out[3])
{
    size_t i = 0;

    for (; i < 2 && s[i]; i++)
        out[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];
    out[i] = '\0';
    const char *alias = plate_country(out); /* UK is stored as GB */
    if (alias != out)
        memcpy(out, alias, 3);
    return out;
}

bool wladm_text_ok(const char *s, size_t max)
{
    return strlen(s) <= max && cli_plain(s);
}

const char *wladm_entry_plate(const char *raw, const char *country, char out[PLATE_MAX + 1])
{
    bool pattern = strpbrk(raw, "?*") != NULL;
    enum plate_status st =
        pattern ? plate_normalise_pattern(raw, out) : plate_normalise_cc(raw, country, out);

    if (strlen(raw) > 32)
        return "longer than 32 bytes";
    switch (st) {
    case PLATE_OK:
        return NULL;
    case PLATE_EMPTY:
        return "no letter or digit";
    case PLATE_LONG:
        return "more than 16 letters and digits";
    default:
        return pattern ? "not a pattern (a character that is not a letter, digit, separator, ? "
                         "or *; or wildcards only)"
                       : "a character that is not a letter, digit or separator";
    }
}

bool wladm_broad_pattern(const char *norm)
{
    size_t literals = 0;

    for (const char *c = norm; *c; c++)
        literals += *c != '?' && *c != '*';
    return plate_is_pattern(norm) && literals < WLADM_PATTERN_MIN_LITERALS;
}

int wladm_pattern_count(PGconn *conn, const char *norm, long long *count, struct wladm_err *err)
{
    int rc = WLADM_OK;
    const char *p[1] = {norm};
    /* A function that gives admins a count and nothing else, audited (migration 019). */
    PGresult *res = wladm_q(conn, "SELECT anpr.pattern_reads_last_day($1)", 1, p,
                            "count the last day's reads", &rc, err);

    if (!res)
        return -1;
    *count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* "-": an open end of the validity (update only). */
static bool s_open_time(const char *s, bool open_ok)
{
    return open_ok && strcmp(s, "-") == 0;
}

int wladm_check_entry(const struct wladm_entry *e, bool open_ok, int64_t *from, int64_t *until,
                      struct wladm_err *err)
{
    const char *why;

    if (e->country && !wladm_country_ok(e->country)) {
        s_err(err, "country", e->country, "empty or two letters A-Z (either case)");
        return WLADM_INPUT;
    }
    if (e->from && !s_open_time(e->from, open_ok) &&
        (why = wladm_parse_time(e->from, false, from)) != NULL) {
        s_err(err, "valid_from", e->from, "%s", why);
        return WLADM_INPUT;
    }
    if (e->until && !s_open_time(e->until, open_ok) &&
        (why = wladm_parse_time(e->until, true, until)) != NULL) {
        s_err(err, "valid_until", e->until, "%s", why);
        return WLADM_INPUT;
    }
    if (e->instruction && !wladm_text_ok(e->instruction, 1000)) {
        s_err(err, "instruction", NULL, "at most 1000 bytes of UTF-8, no control characters");
        return WLADM_INPUT;
    }
    if (e->ref && !wladm_text_ok(e->ref, 64)) {
        s_err(err, "external_ref", NULL, "at most 64 bytes of UTF-8, no control characters");
        return WLADM_INPUT;
    }
    if (e->requested_by && !wladm_text_ok(e->requested_by, 64)) {
        s_err(err, "requested_by", NULL, "at most 64 bytes of UTF-8, no control characters");
        return WLADM_INPUT;
    }
    return WLADM_OK;
}

/* --- database ---------------------------------------------------------------------------- */

PGresult *wladm_q(PGconn *conn, const char *sql, int n, const char *const *params, const char *ctx,
                  int *rc, struct wladm_err *err)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    int len = (int)strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    s_err(err, "", NULL, "%s: %.*s", ctx, len, msg);
    *rc = state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) ? WLADM_INPUT
                                                                                  : WLADM_DB;
    PQclear(res);
    return NULL;
}

static int s_exec(PGconn *conn, const char *sql, const char *ctx, struct wladm_err *err)
{
    int rc = WLADM_OK;
    PGresult *res = wladm_q(conn, sql, 0, NULL, ctx, &rc, err);

    PQclear(res);
    return res ? WLADM_OK : rc;
}

static void s_rollback(PGconn *conn)
{
    PQclear(PQexec(conn, "ROLLBACK"));
}

static bool s_overlap(int64_t f1, int64_t u1, int64_t f2, int64_t u2)
{
    return f1 < u2 && f2 < u1;
}

static int64_t s_ll_or(const PGresult *res, int row, int col, int64_t dflt)
{
    return PQgetisnull(res, row, col) ? dflt : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

PGresult *wladm_lists(PGconn *conn, int *rc, struct wladm_err *err)
{
    return wladm_q(conn,
                   "SELECT w.id, w.name, w.category, w.priority, "
                   "CASE WHEN w.enabled THEN 'enabled' ELSE 'disabled' END AS state, "
                   "w.match_policy AS policy, "
                   "(SELECT count(*) FROM anpr.watchlist_entry e WHERE e.list_id = w.id) "
                   "AS entries, "
                   "CASE WHEN w.covert THEN 'covert' ELSE 'overt' END AS covert, "
                   "coalesce(w.colour, '-') AS colour, "
                   "coalesce(w.hit_retention_days::text, '-') AS retention, "
                   "CASE WHEN coalesce(w.backbone, NOT w.covert) THEN 'backbone' "
                   "ELSE 'local' END AS backbone "
                   "FROM anpr.watchlist w ORDER BY w.priority, w.name",
                   0, NULL, "lists", rc, err);
}

int wladm_find_list(PGconn *conn, const char *name, bool lock, char id[24], bool *enabled,
                    struct wladm_err *err)
{
    int rc = WLADM_OK;
    const char *p[1] = {name};
    PGresult *res =
        wladm_q(conn,
                lock ? "SELECT id, enabled FROM anpr.watchlist WHERE name = $1 FOR UPDATE"
                     : "SELECT id, enabled FROM anpr.watchlist WHERE name = $1",
                1, p, "find list", &rc, err);

    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        s_err(err, "list", name, "no list '%s'", name);
        PQclear(res);
        return WLADM_NOTHING;
    }
    snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
    if (enabled)
        *enabled = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    return WLADM_OK;
}

/* In a transaction: the list found, its row locked (no other admin adds a duplicate meanwhile),
 * a disabled one refused. */
static int s_lock_enabled_list(PGconn *conn, const char *list, char id[24], struct wladm_err *err)
{
    bool enabled = false;
    int rc = wladm_find_list(conn, list, true, id, &enabled, err);

    if (rc != WLADM_OK)
        return rc;
    if (!enabled) {
        s_err(err, "list", list, "list '%s' is disabled; enable it first (list-set --enable)",
              list);
        return WLADM_INPUT;
    }
    return WLADM_OK;
}

/* wladm.h */
PGresult *wladm_existing(PGconn *conn, const char *list_id, const char *country, int *rc,
                         struct wladm_err *err)
{
    const char *p[2] = {list_id, country};

    return wladm_q(conn,
                   country
                       ? "SELECT id, plate, country, " EPOCH_US_SQL("valid_from") ", " EPOCH_US_SQL(
                             "valid_until") " FROM anpr.watchlist_entry WHERE list_id = $1 AND "
                                            "country = $2 AND (valid_until IS NULL OR "
                                            "valid_until > now())"
                       : "SELECT id, plate, country, " EPOCH_US_SQL("valid_from") ", " EPOCH_US_SQL(
                             "valid_until") " FROM anpr.watchlist_entry WHERE list_id = $1 AND "
                                            "(valid_until IS NULL OR valid_until > now())",
                   country ? 2 : 1, p, "read the list's entries", rc, err);
}

/* The filter of the page: in the plate as stored or normalised, the reference, the
 * instruction. */
#define S_ENTRY_FILTER                                                                             \
    " WHERE list_id = $1 AND ($2::text IS NULL OR strpos(upper(plate), upper($2)) > 0 OR "         \
    "strpos(upper(regexp_replace(plate, '[^[:alnum:]?*]', '', 'g')), upper($3)) > 0 OR "           \
    "strpos(upper(external_ref), upper($2)) > 0 OR strpos(upper(instruction), upper($2)) > 0)"

/* The filter normalised as plates are (letters and digits, upper case) for the second test. */
static void s_filter_norm(const char *filter, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *c = filter; c && *c && n + 1 < cap; c++)
        if ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
            *c == '?' || *c == '*')
            out[n++] = *c;
    out[n] = '\0';
}

PGresult *wladm_entries(PGconn *conn, const char *list_id, const char *filter, long long offset,
                        long long limit, int *rc, struct wladm_err *err)
{
    char off[24], lim[24], norm[128];
    const char *p[5] = {list_id, filter && *filter ? filter : NULL, norm, off, NULL};

    s_filter_norm(filter, norm, sizeof norm);
    if (!*norm)
        snprintf(norm, sizeof norm, "%s", "\x01"); /* nothing normalised: never matches */
    snprintf(off, sizeof off, "%lld", offset < 0 ? 0 : offset);
    snprintf(lim, sizeof lim, "%lld", limit);
    p[4] = limit < 0 ? NULL : lim;
    /* clang-format off */
    return wladm_q(conn,
                   "SELECT id, plate, country, " TIME_SQL("valid_from") " AS valid_from, "
                   TIME_SQL("valid_until") " AS valid_until, instruction, external_ref, "
                   "requested_by, valid_until IS NOT NULL AND valid_until <= now() AS expired "
                   "FROM anpr.watchlist_entry" S_ENTRY_FILTER
                   " ORDER BY id OFFSET $4::bigint LIMIT $5::bigint",
                   5, p, "read entries", rc, err);
    /* clang-format on */
}

int wladm_count_entries(PGconn *conn, const char *list_id, const char *filter, long long *n,
                        struct wladm_err *err)
{
    char norm[128];
    const char *p[3] = {list_id, filter && *filter ? filter : NULL, norm};
    int rc = WLADM_OK;

    s_filter_norm(filter, norm, sizeof norm);
    if (!*norm)
        snprintf(norm, sizeof norm, "%s", "\x01");
    PGresult *res = wladm_q(conn, "SELECT count(*) FROM anpr.watchlist_entry" S_ENTRY_FILTER, 3, p,
                            "count entries", &rc, err);
    if (!res)
        return rc;
    *n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return WLADM_OK;
}

int wladm_add(PGconn *conn, const char *list, const struct wladm_entry *e, bool force,
              struct wladm_added *out, struct wladm_err *err)
{
    const char *country = out->country, *why = "missing";
    char id[24];
    int rc;

    memset(out, 0, sizeof *out);
    out->from = WLADM_NO_FROM;
    out->until = WLADM_NO_UNTIL;
    out->would_hit = -1;
    if ((rc = wladm_check_entry(e, false, &out->from, &out->until, err)) != WLADM_OK)
        return rc;
    wladm_country(e->country ? e->country : "", out->country);
    if (!e->plate || (why = wladm_entry_plate(e->plate, country, out->norm)) != NULL) {
        s_err(err, "plate", e->plate ? e->plate : "", "%s", why);
        return WLADM_INPUT;
    }
    if (out->from >= out->until) {
        char a[96], b[96];
        wladm_show_time(out->from, a);
        wladm_show_time(out->until, b);
        s_err(err, "valid_until", NULL, "valid_from (%s) must be before valid_until (%s)", a, b);
        return WLADM_INPUT;
    }
    if (wladm_broad_pattern(out->norm)) {
        out->broad = true;
        if (!force) {
            s_err(err, "plate", NULL,
                  "pattern %s has fewer than %d letters or digits and would hit far too many "
                  "plates",
                  out->norm, WLADM_PATTERN_MIN_LITERALS);
            return WLADM_INPUT;
        }
        if (wladm_pattern_count(conn, out->norm, &out->would_hit, &out->count_err) != 0)
            out->would_hit = -1;
    }
    if ((rc = s_exec(conn, "BEGIN", "begin", err)) != WLADM_OK)
        return rc;
    if ((rc = s_lock_enabled_list(conn, list, id, err)) != WLADM_OK)
        goto fail;
    PGresult *res = wladm_existing(conn, id, country, &rc, err);
    if (!res)
        goto fail;
    for (int i = 0; i < PQntuples(res); i++) {
        char other[PLATE_MAX + 1];
        if (wladm_entry_plate(PQgetvalue(res, i, 1), country, other) != NULL ||
            strcmp(other, out->norm) != 0)
            continue;
        if (s_overlap(out->from, out->until, s_ll_or(res, i, 3, WLADM_NO_FROM),
                      s_ll_or(res, i, 4, WLADM_NO_UNTIL))) {
            s_err(err, "plate", NULL,
                  "plate '%s'%s%s duplicates entry %s ('%s') of list '%s' (validity overlaps)",
                  e->plate, *country ? " " : "", country, PQgetvalue(res, i, 0),
                  PQgetvalue(res, i, 1), list);
            PQclear(res);
            rc = WLADM_INPUT;
            goto fail;
        }
    }
    PQclear(res);
    char from_text[40], until_text[40];
    wladm_utc_text(out->from, from_text);
    wladm_utc_text(out->until, until_text);
    const char *p[8] = {id,
                        e->plate,
                        country,
                        e->from ? from_text : NULL,
                        e->until ? until_text : NULL,
                        e->instruction ? e->instruction : "",
                        e->ref ? e->ref : "",
                        e->requested_by ? e->requested_by : ""};
    res = wladm_q(conn,
                  "INSERT INTO anpr.watchlist_entry (list_id, plate, country, valid_from, "
                  "valid_until, instruction, external_ref, requested_by) VALUES ($1, $2, $3, "
                  "$4::timestamptz, $5::timestamptz, $6, $7, $8) RETURNING id",
                  8, p, "add entry", &rc, err);
    if (!res)
        goto fail;
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if ((rc = s_exec(conn, "COMMIT", "commit", err)) != WLADM_OK)
        return rc;
    if (!plate_is_pattern(out->norm) && !plate_euroband(country, out->norm, out->alt))
        out->alt[0] = '\0';
    return WLADM_OK;
fail:
    s_rollback(conn);
    return rc;
}

static bool s_id_ok(const char *s)
{
    long long v;

    return s && util_parse_long(s, 1, INT64_MAX, &v) == 0;
}

int wladm_expire(PGconn *conn, const char *id, struct wladm_err *err)
{
    const char *p[1] = {id};
    int rc = WLADM_OK;

    if (!s_id_ok(id)) {
        s_err(err, "id", id ? id : "", "entry id '%s': expected a positive number", id ? id : "");
        return WLADM_INPUT;
    }
    /* An entry whose validity has not begun yet ends now too: it never becomes valid. */
    PGresult *res =
        wladm_q(conn,
                "WITH e AS (SELECT id, valid_until IS NOT NULL AND valid_until <= now() AS expired "
                "FROM anpr.watchlist_entry WHERE id = $1), "
                "u AS (UPDATE anpr.watchlist_entry w SET valid_until = now(), "
                "valid_from = CASE WHEN w.valid_from >= now() "
                "THEN now() - interval '1 microsecond' ELSE w.valid_from END "
                "FROM e WHERE w.id = e.id AND NOT e.expired RETURNING w.id) "
                "SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM u)",
                1, p, "expire entry", &rc, err);
    if (!res)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
        s_err(err, "id", id, "no entry %s", id);
        rc = WLADM_NOTHING;
    } else if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        s_err(err, "id", id, "entry %s has expired already", id);
        rc = WLADM_NOTHING;
    }
    PQclear(res);
    return rc;
}

int wladm_remove(PGconn *conn, const char *id, char plate[64], struct wladm_err *err)
{
    const char *p[1] = {id};
    int rc = WLADM_OK;

    if (!s_id_ok(id)) {
        s_err(err, "id", id ? id : "", "entry id '%s': expected a positive number", id ? id : "");
        return WLADM_INPUT;
    }
    PGresult *res = wladm_q(conn, "DELETE FROM anpr.watchlist_entry WHERE id = $1 RETURNING plate",
                            1, p, "remove entry", &rc, err);
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        s_err(err, "id", id, "no entry %s", id);
        rc = WLADM_NOTHING;
    } else {
        snprintf(plate, 64, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

/* --- import ------------------------------------------------------------------------------- */

struct row {
    int line;
    const char *f[WLADM_NCOLS];
    char country[3]; /* the country as stored (f[WLADM_COUNTRY] once rows no longer moves) */
    char norm[PLATE_MAX + 1];
    int64_t from, until;
    char from_text[40], until_text[40]; /* the times as stored (UTC), for the INSERT */
    bool bad;
};

/* Entries of the list and rows of the file, for duplicate checks. */
struct known {
    char norm[PLATE_MAX + 1];
    char country[3];
    int64_t from, until;
    long long id; /* existing entry, or 0 */
    size_t row;   /* import row index */
};

/* An import in progress: the result being filled and where each column is in the file. */
struct imp {
    struct wladm_import *res;
    size_t cap;             /* of res->errs */
    int first[WLADM_NCOLS]; /* the header index giving each column, -1 none */
    size_t seq;             /* defects so far, to keep their order when sorted by row */
    bool oom;
};

/* The cell as export had it: a "'" export put before a risky cell is taken off; a "'" before
 * anything else is the cell's own text and stays. */
static const char *s_csv_unguard(const char *s)
{
    return s[0] == '\'' && csv_risky(s + 1) ? s + 1 : s;
}

static void s_defect(struct imp *im, int line, int column, bool header, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* One defect (remembered out of memory: the import then fails). */
static void s_defect(struct imp *im, int line, int column, bool header, const char *field,
                     const char *fmt, ...)
{
    struct wladm_import *res = im->res;
    char msg[700];
    va_list ap;

    if (im->oom)
        return;
    if (res->nerrs == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 16;
        struct wladm_rowerr *n = realloc(res->errs, cap * sizeof *n);
        if (!n) {
            im->oom = true;
            return;
        }
        res->errs = n;
        im->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct wladm_rowerr *e = &res->errs[res->nerrs];
    memset(e, 0, sizeof *e);
    if (!(e->msg = strdup(msg))) {
        im->oom = true;
        return;
    }
    e->line = line;
    e->column = column;
    e->header = header;
    snprintf(e->field, sizeof e->field, "%s", field);
    e->seq = im->seq++;
    res->nerrs++;
}

/* A defect of row r (index i) in its column k (-1: the whole row). */
#define S_ROW_ERR(im, rows, i, k, ...)                                                             \
    do {                                                                                           \
        (rows)[i].bad = true;                                                                      \
        s_defect(im, (rows)[i].line, (k) >= 0 ? (im)->first[k] + 1 : 0, false,                     \
                 (k) >= 0 ? wladm_columns[k] : "row", __VA_ARGS__);                                \
    } while (0)

static int s_err_cmp(const void *a, const void *b)
{
    const struct wladm_rowerr *x = a, *y = b;

    if (x->header != y->header)
        return x->header ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq; /* a row's in the order found */
}

static int s_known_cmp(const void *a, const void *b)
{
    const struct known *x = a, *y = b;
    int c = strcmp(x->norm, y->norm);

    if (c)
        return c;
    if ((c = strcmp(x->country, y->country)) != 0)
        return c;
    if ((x->id != 0) != (y->id != 0))
        return x->id ? -1 : 1; /* existing entries first */
    return x->row < y->row ? -1 : x->row > y->row;
}

/* A text[] literal element: quoted, backslash and quote escaped; NULL when empty and
 * null_if_empty. */
static void s_array_elem(char **w, const char *s, bool null_if_empty, bool first)
{
    if (!first)
        *(*w)++ = ',';
    if (null_if_empty && !*s) {
        memcpy(*w, "NULL", 4);
        *w += 4;
        return;
    }
    *(*w)++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *(*w)++ = '\\';
        *(*w)++ = *s;
    }
    *(*w)++ = '"';
}

/*
 * Insert the good rows, in batches of parameterised INSERT ... SELECT FROM unnest(text[]...)
 * inside the caller's transaction. (COPY FROM is refused on tables with row-level security, and
 * admins may not create temporary tables.)
 */
#define IMPORT_BATCH 5000
static int s_insert_rows(PGconn *conn, const char *list_id, struct row *rows, size_t nrows,
                         struct wladm_err *err)
{
    static const bool null_if_empty[WLADM_NCOLS] = {false, false, true, true, false, false, false};
    char *arr[WLADM_NCOLS] = {NULL};
    size_t i = 0;
    int rc = WLADM_OK;

    while (rc == WLADM_OK && i < nrows) {
        size_t need[WLADM_NCOLS] = {0}, end = i, n = 0;
        for (; end < nrows && n < IMPORT_BATCH; end++) {
            if (rows[end].bad)
                continue;
            for (int k = 0; k < WLADM_NCOLS; k++)
                need[k] += 2 * strlen(rows[end].f[k]) + 8;
            n++;
        }
        if (n == 0)
            break;
        char *w[WLADM_NCOLS];
        for (int k = 0; k < WLADM_NCOLS; k++) {
            free(arr[k]);
            arr[k] = malloc(need[k] + 3);
            if (!arr[k]) {
                s_err(err, "", NULL, "out of memory");
                rc = WLADM_DB;
                goto out;
            }
            w[k] = arr[k];
            *w[k]++ = '{';
        }
        bool first = true;
        for (size_t j = i; j < end; j++) {
            if (rows[j].bad)
                continue;
            for (int k = 0; k < WLADM_NCOLS; k++)
                s_array_elem(&w[k], rows[j].f[k], null_if_empty[k], first);
            first = false;
        }
        for (int k = 0; k < WLADM_NCOLS; k++) {
            *w[k]++ = '}';
            *w[k] = '\0';
        }
        const char *p[1 + WLADM_NCOLS] = {list_id, arr[0], arr[1], arr[2],
                                          arr[3],  arr[4], arr[5], arr[6]};
        PGresult *res =
            wladm_q(conn,
                    "INSERT INTO anpr.watchlist_entry (list_id, plate, country, valid_from, "
                    "valid_until, instruction, external_ref, requested_by) "
                    "SELECT $1::integer, p, c, f::timestamptz, u::timestamptz, i, r, q "
                    "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
                    "$7::text[], $8::text[]) WITH ORDINALITY AS t(p, c, f, u, i, r, q, n) "
                    "ORDER BY n",
                    1 + WLADM_NCOLS, p, "import", &rc, err);
        PQclear(res);
        i = end;
    }
out:
    for (int k = 0; k < WLADM_NCOLS; k++)
        free(arr[k]);
    return rc;
}

/* A header name for a message: "'NAME'", with the map that gave it its column. */
static const char *s_header_name(char *buf, size_t cap, const char *name, const struct wladm_map *m)
{
    if (m)
        snprintf(buf, cap, "'%s' (--map %s)", name, m->arg);
    else
        snprintf(buf, cap, "'%s'", name);
    return buf;
}

/* The header: each file column's entry column into col[] (-1 ignored); false when bad. */
static bool s_header(struct imp *im, const struct wladm_import_opts *o, char **fields, int nf,
                     int line, int *col)
{
    bool bad = false, map_used[64] = {false};
    int via[64];

    for (int k = 0; k < WLADM_NCOLS; k++)
        im->first[k] = -1;
    for (int i = 0; i < nf; i++) {
        col[i] = -2;
        via[i] = -1;
        for (int j = 0; j < o->nmap && j < 64 && col[i] == -2; j++) {
            if (strcasecmp(fields[i], o->map[j].csv) == 0) {
                col[i] = o->map[j].field;
                via[i] = j;
                map_used[j] = true;
            }
        }
        for (int k = 0; k < WLADM_NCOLS && col[i] == -2; k++)
            if (strcasecmp(fields[i], wladm_columns[k]) == 0)
                col[i] = k;
        if (col[i] == -2) {
            s_defect(im, line, i + 1, true, "header",
                     "unknown column '%s' (expected plate, country, valid_from, valid_until, "
                     "instruction, external_ref, requested_by; or --map %s=COLUMN, or --map "
                     "%s=- to ignore it)",
                     fields[i], fields[i], fields[i]);
            bad = true;
        } else if (col[i] == -1) {
            continue; /* --map NAME=- */
        } else if (im->first[col[i]] >= 0) {
            int a = im->first[col[i]];
            char na[300], ni[300];
            s_defect(im, line, i + 1, true, "header", "%s and %s are both column '%s'",
                     s_header_name(na, sizeof na, fields[a], via[a] >= 0 ? &o->map[via[a]] : NULL),
                     s_header_name(ni, sizeof ni, fields[i], via[i] >= 0 ? &o->map[via[i]] : NULL),
                     wladm_columns[col[i]]);
            bad = true;
        } else {
            im->first[col[i]] = i;
        }
    }
    for (int j = 0; j < o->nmap && j < 64; j++) {
        if (!map_used[j]) {
            char what[160];
            snprintf(what, sizeof what, "--map %s", o->map[j].arg);
            s_defect(im, line, 0, true, what, "no column '%s' in the header", o->map[j].csv);
            bad = true;
        }
    }
    if (im->first[WLADM_PLATE] < 0) {
        s_defect(im, line, 0, true, "header", "no column 'plate'%s",
                 o->nmap ? " (none named so, none mapped to it)" : "");
        bad = true;
    }
    return !bad;
}

/* One row's cells checked as an entry's fields are. */
static void s_check_row(struct imp *im, const struct wladm_import_opts *o, struct row *rows,
                        size_t i)
{
    struct row *r = &rows[i];
    const char *e;

    if (!wladm_country_ok(r->f[WLADM_COUNTRY]))
        S_ROW_ERR(im, rows, i, WLADM_COUNTRY, "'%s': empty or two letters A-Z (either case)",
                  r->f[WLADM_COUNTRY]);
    else
        wladm_country(r->f[WLADM_COUNTRY], r->country);
    if ((e = wladm_entry_plate(r->f[WLADM_PLATE], r->country, r->norm)) != NULL)
        S_ROW_ERR(im, rows, i, WLADM_PLATE, "'%s': %s", r->f[WLADM_PLATE], e);
    else if (wladm_broad_pattern(r->norm) && !o->force)
        S_ROW_ERR(im, rows, i, WLADM_PLATE,
                  "pattern '%s' has fewer than %d letters or digits and would hit far too "
                  "many plates (--force imports it all the same)",
                  r->f[WLADM_PLATE], WLADM_PATTERN_MIN_LITERALS);
    bool times_ok = true;
    if (*r->f[WLADM_FROM] && (e = wladm_parse_time(r->f[WLADM_FROM], false, &r->from)) != NULL) {
        S_ROW_ERR(im, rows, i, WLADM_FROM, "'%s': %s", r->f[WLADM_FROM], e);
        times_ok = false;
    }
    if (*r->f[WLADM_UNTIL] && (e = wladm_parse_time(r->f[WLADM_UNTIL], true, &r->until)) != NULL) {
        S_ROW_ERR(im, rows, i, WLADM_UNTIL, "'%s': %s", r->f[WLADM_UNTIL], e);
        times_ok = false;
    }
    if (times_ok && r->from >= r->until)
        S_ROW_ERR(im, rows, i, WLADM_UNTIL, "'%s' is not after valid_from '%s'", r->f[WLADM_UNTIL],
                  r->f[WLADM_FROM]);
    if (!wladm_text_ok(r->f[WLADM_INSTR], 1000))
        S_ROW_ERR(im, rows, i, WLADM_INSTR, "at most 1000 bytes of UTF-8, no control characters");
    if (!wladm_text_ok(r->f[WLADM_REF], 64))
        S_ROW_ERR(im, rows, i, WLADM_REF, "at most 64 bytes of UTF-8, no control characters");
    if (!wladm_text_ok(r->f[WLADM_REQ], 64))
        S_ROW_ERR(im, rows, i, WLADM_REQ, "at most 64 bytes of UTF-8, no control characters");
}

/* Same normalised plate and country, overlapping validity, within the file or with an entry of
 * the list not yet expired: the first row of the file stays good. */
static int s_duplicates(PGconn *conn, struct imp *im, const char *list, const char *id,
                        struct row *rows, size_t nrows, struct wladm_err *err)
{
    int rc = WLADM_OK;
    PGresult *res = wladm_existing(conn, id, NULL, &rc, err);

    if (!res)
        return rc;
    size_t nex = (size_t)PQntuples(res), nkeys = 0;
    struct known *keys = calloc(nex + nrows + 1, sizeof *keys);
    if (!keys) {
        PQclear(res);
        s_err(err, "", NULL, "out of memory");
        return WLADM_DB;
    }
    for (size_t i = 0; i < nex; i++) {
        struct known *k = &keys[nkeys];
        if (wladm_entry_plate(PQgetvalue(res, (int)i, 1), PQgetvalue(res, (int)i, 2), k->norm) !=
            NULL)
            continue;
        snprintf(k->country, sizeof k->country, "%s", PQgetvalue(res, (int)i, 2));
        k->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
        k->from = s_ll_or(res, (int)i, 3, WLADM_NO_FROM);
        k->until = s_ll_or(res, (int)i, 4, WLADM_NO_UNTIL);
        nkeys++;
    }
    PQclear(res);
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].bad)
            continue;
        struct known *k = &keys[nkeys++];
        memcpy(k->norm, rows[i].norm, sizeof k->norm);
        memcpy(k->country, rows[i].country, sizeof k->country);
        k->from = rows[i].from;
        k->until = rows[i].until;
        k->row = i;
    }
    qsort(keys, nkeys, sizeof *keys, s_known_cmp);
    for (size_t g = 0; g < nkeys;) {
        size_t end = g + 1;
        while (end < nkeys && strcmp(keys[end].norm, keys[g].norm) == 0 &&
               strcmp(keys[end].country, keys[g].country) == 0)
            end++;
        for (size_t i = g; i < end; i++) {
            if (keys[i].id)
                continue;
            size_t ri = keys[i].row;
            for (size_t j = g; j < i; j++) {
                if ((!keys[j].id && rows[keys[j].row].bad) ||
                    !s_overlap(keys[i].from, keys[i].until, keys[j].from, keys[j].until))
                    continue;
                if (keys[j].id)
                    S_ROW_ERR(im, rows, ri, WLADM_PLATE, "'%s' duplicates entry %lld of list '%s'",
                              rows[ri].f[WLADM_PLATE], keys[j].id, list);
                else
                    S_ROW_ERR(im, rows, ri, WLADM_PLATE, "'%s' duplicates line %d",
                              rows[ri].f[WLADM_PLATE], rows[keys[j].row].line);
                break;
            }
        }
        g = end;
    }
    free(keys);
    return WLADM_OK;
}

int wladm_import(PGconn *conn, const char *list, char *buf, size_t len,
                 const struct wladm_import_opts *o, struct wladm_import *res, struct wladm_err *err)
{
    struct imp im = {.res = res};
    char *fields[64], id[24];
    struct row *rows = NULL;
    size_t nrows = 0, caprows = 0;
    int col[64], nf, line, rc = WLADM_INPUT;
    const char *why;
    bool in_tx = false;
    csv_t *c = NULL;

    memset(res, 0, sizeof *res);
    err->msg[0] = '\0';
    if (memchr(buf, '\0', len)) {
        s_err(err, "file", NULL, "contains a NUL byte; not a CSV text file");
        return WLADM_INPUT;
    }
    res->sep = o->sep ? o->sep : csv_guess_sep(buf, len);
    if (!(c = csv_new(buf, len))) {
        s_err(err, "", NULL, "out of memory");
        return WLADM_DB;
    }
    csv_set_sep(c, res->sep);

    /* The header names the columns, in any order, by their own names or through a map; plate
     * is required. */
    int hr = csv_next(c, fields, 64, &nf, &line, &why);
    if (hr != 1) {
        s_defect(&im, 1, 0, true, "header", "%s", hr == 0 ? "missing (empty file)" : why);
        goto out;
    }
    if (nf > 64) {
        s_defect(&im, line, 0, true, "header", "more than 64 columns");
        goto out;
    }
    if (!s_header(&im, o, fields, nf, line, col))
        goto out;
    int ncols = nf;

    /* Every row, every defect reported. */
    for (;;) {
        int fr = csv_next(c, fields, 64, &nf, &line, &why);
        if (fr == 0)
            break;
        if (nrows == caprows) {
            caprows = caprows ? caprows * 2 : 1024;
            struct row *nr = realloc(rows, caprows * sizeof *rows);
            if (!nr) {
                s_err(err, "", NULL, "out of memory");
                rc = WLADM_DB;
                goto out;
            }
            rows = nr;
        }
        size_t i = nrows++;
        struct row *r = &rows[i];
        memset(r, 0, sizeof *r);
        r->line = line;
        r->from = WLADM_NO_FROM;
        r->until = WLADM_NO_UNTIL;
        for (int k = 0; k < WLADM_NCOLS; k++)
            r->f[k] = "";
        if (why) {
            S_ROW_ERR(&im, rows, i, -1, "%s", why);
            if (fr < 0)
                break;
            continue;
        }
        if (nf != ncols) {
            S_ROW_ERR(&im, rows, i, -1, "%d fields, the header has %d", nf, ncols);
            continue;
        }
        for (int f = 0; f < nf; f++)
            if (col[f] >= 0)
                r->f[col[f]] = s_csv_unguard(fields[f]);
        s_check_row(&im, o, rows, i);
    }

    /* The country and times as stored; each row's own buffers, now that rows no longer moves.
     * Forced broad patterns are counted before the transaction (the count is audited on its
     * own). */
    for (size_t i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        if (r->bad)
            continue;
        wladm_utc_text(r->from, r->from_text);
        wladm_utc_text(r->until, r->until_text);
        r->f[WLADM_COUNTRY] = r->country;
        if (*r->f[WLADM_FROM])
            r->f[WLADM_FROM] = r->from_text;
        if (*r->f[WLADM_UNTIL])
            r->f[WLADM_UNTIL] = r->until_text;
        if (!o->dry_run && wladm_broad_pattern(r->norm)) {
            struct wladm_forced *nf2 = realloc(res->forced, (res->nforced + 1) * sizeof *nf2);
            if (!nf2) {
                s_err(err, "", NULL, "out of memory");
                rc = WLADM_DB;
                goto out;
            }
            res->forced = nf2;
            struct wladm_forced *fo = &res->forced[res->nforced++];
            struct wladm_err cerr;
            snprintf(fo->norm, sizeof fo->norm, "%s", r->norm);
            fo->err[0] = '\0';
            if (wladm_pattern_count(conn, r->norm, &fo->count, &cerr) != 0) {
                fo->count = -1;
                snprintf(fo->err, sizeof fo->err, "%.255s", cerr.msg);
            }
        }
    }

    /* The list, locked so that no other admin adds a duplicate meanwhile. */
    if ((rc = s_exec(conn, "BEGIN", "begin", err)) != WLADM_OK)
        goto out;
    in_tx = true;
    if ((rc = s_lock_enabled_list(conn, list, id, err)) != WLADM_OK)
        goto out;
    if ((rc = s_duplicates(conn, &im, list, id, rows, nrows, err)) != WLADM_OK)
        goto out;

    res->rows = nrows;
    for (size_t i = 0; i < nrows; i++)
        res->bad += rows[i].bad;
    res->good = nrows - res->bad;
    if (im.oom) {
        s_err(err, "", NULL, "out of memory");
        rc = WLADM_DB;
        goto out;
    }
    if ((res->bad && !o->skip_bad) || o->dry_run) {
        rc = res->bad && !o->skip_bad ? WLADM_INPUT : WLADM_OK;
        goto out;
    }
    if (res->good && (rc = s_insert_rows(conn, id, rows, nrows, err)) != WLADM_OK)
        goto out;
    in_tx = false;
    if ((rc = s_exec(conn, "COMMIT", "commit", err)) != WLADM_OK)
        goto out;
    res->imported = true;
    rc = res->good ? WLADM_OK : WLADM_NOTHING;
out:
    if (in_tx)
        s_rollback(conn);
    if (im.oom && rc == WLADM_OK) {
        s_err(err, "", NULL, "out of memory");
        rc = WLADM_DB;
    }
    if (res->nerrs > 1)
        qsort(res->errs, res->nerrs, sizeof *res->errs, s_err_cmp);
    if (rc == WLADM_INPUT && !err->msg[0] && res->nerrs && res->errs[0].header)
        s_err(err, "header", NULL, "the file's header is not usable");
    free(rows);
    csv_destroy(&c);
    return rc;
}

void wladm_import_free(struct wladm_import *res)
{
    for (size_t i = 0; i < res->nerrs; i++)
        free(res->errs[i].msg);
    free(res->errs);
    free(res->forced);
    memset(res, 0, sizeof *res);
}
