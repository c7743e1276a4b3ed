/*
 * Integration (database only): anpr-history, run as a process under an investigator's own
 * login against migration 016's audited search functions. Reads are planted as superuser; the
 * tool finds a plate typed loosely (exact), its OCR look-alike, a pattern; CSV is formula-safe
 * and JSON parses; the "N more rows" line; every refusal (reason, case, range, pattern, camera,
 * decision) exits 2 with its rule and leaves exactly one audit row, a usage error exits 1 and
 * leaves none; past 30 days only with a decision reference; the sightings SVG parses as XML and
 * holds one marker per sighting; co-travel finds a planted convoy in random traffic and no
 * random plate; HITs of covert lists never show; the auditor lists the audit and the
 * investigator may not. The investigator, dispatch and admin roles cannot read reads or HITs
 * directly, a fetch before the search committed fails, and a rolled-back search shows nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

static struct h_db s_db;
static char s_dir[64];
static char *s_out, *s_err; /* the last run's output, until the next run */
static time_t s_now;        /* the time the reads are planted around */

/* A connection string for a login of the test database. */
/* Run anpr-history as `user`: argv after the command name, NULL-terminated; --db is added. */
static int s_run(const char *user, const char *cmd, ...)
{
    char *argv[48];
    char out[128], err[128];
    int n = 0;
    va_list ap;

    argv[n++] = getenv("ANPR_HISTORY");
    argv[n++] = (char *)cmd;
    va_start(ap, cmd);
    for (char *a; n < 44 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "--db";
    argv[n++] = (char *)h_conninfo_as(&s_db, user);
    argv[n] = NULL;
    snprintf(out, sizeof out, "%s/out", s_dir);
    snprintf(err, sizeof err, "%s/err", s_dir);
    int rc = h_wait(h_spawn(argv, out, err), 240000);
    free(s_out);
    free(s_err);
    s_out = h_slurp(out);
    s_err = h_slurp(err);
    if (getenv("ANPR_TEST_VERBOSE"))
        fprintf(stderr, "$ %s: rc %d\n%s%s", cmd, rc, s_out, s_err);
    return rc;
}

/* now + off seconds, as ISO 8601 UTC (rotating buffers: several in one call). */
static const char *s_at(long off)
{
    static char buf[8][32];
    static int i;
    char *b = buf[i++ % 8];
    time_t t = s_now + off;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(b, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

/* One read, planted as superuser: camera code, seconds from s_now, plate, as read, image. */
static void s_read(const char *camera, long off, const char *plate, const char *raw,
                   const char *image, const char *candidates)
{
    char sql[1024];

    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.plate_read (read_time, camera_id, seq, plate, plate_raw, country, "
             "confidence, lane, direction, image_ref, candidates, cand_conf, received_at) "
             "SELECT to_timestamp(%lld), id, nextval('public.hist_seq'), '%s', %s, 'BE', 900, 1, "
             "0, %s, %s, '{}', now() FROM anpr.camera WHERE code = '%s'",
             (long long)(s_now + off), plate, raw, image, candidates ? candidates : "'{}'", camera);
    h_exec(s_db.admin, sql);
}

static long long s_audit_rows(void)
{
    return h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.search_audit");
}

static const char *s_last_rule(void)
{
    static char rule[64];
    PGresult *res = PQexec(s_db.admin, "SELECT coalesce(rule, 'granted') FROM anpr.search_audit "
                                       "ORDER BY id DESC LIMIT 1");
    snprintf(rule, sizeof rule, "%s",
             PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) ? PQgetvalue(res, 0, 0)
                                                                      : "?");
    PQclear(res);
    return rule;
}

/* Occurrences of needle in hay. */
static int s_count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* --- a small JSON checker: the whole text one value, RFC 8259 ----------------------------- */

static const char *s_json_value(const char *p, int depth);

static const char *s_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *s_json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return p + 1;
}

static const char *s_json_value(const char *p, int depth)
{
    p = s_ws(p);
    if (depth > 32)
        return NULL;
    if (*p == '"')
        return s_json_string(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = s_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if (!(p = s_json_string(s_ws(p))) || *(p = s_ws(p)) != ':')
                    return NULL;
                p++;
            }
            if (!(p = s_json_value(p, depth + 1)))
                return NULL;
            p = s_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    const char *s = p;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return NULL;
    p += strspn(p, "0123456789");
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return NULL;
        p += 1 + strspn(p + 1, "0123456789");
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return NULL;
        p += strspn(p, "0123456789");
    }
    return p > s ? p : NULL;
}

static bool s_json_ok(const char *text)
{
    const char *p = s_json_value(text, 0);
    return p && *s_ws(p) == '\0';
}

/* A program on PATH, or NULL. */
static const char *s_which(const char *name)
{
    static char path[8][512];
    static int i;
    const char *env = getenv("PATH");
    char *b = path[i++ % 8];

    for (const char *p = env ? env : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(b, 512, "%.*s/%s", (int)n, p, name);
        if (access(b, X_OK) == 0)
            return b;
        p += n + (p[n] == ':');
    }
    return NULL;
}

/* Run a checker program on file; whether it exited 0. */
static bool s_check_with(char *const argv[])
{
    char err[128];

    snprintf(err, sizeof err, "%s/check.err", s_dir);
    int rc = h_wait(h_spawn(argv, err, err), 60000);
    if (rc != 0)
        fprintf(stderr, "%s: %s", argv[0], h_slurp(err));
    return rc == 0;
}

/* --- the planted data ------------------------------------------------------------------- */

#define TARGET "1TGT001"
#define TRIP   7200 /* the target's trip starts 2 h before now */

static void s_plant(void)
{
    h_exec(s_db.admin, "CREATE SEQUENCE public.hist_seq;"
                       "INSERT INTO anpr.camera (code, name, latitude, longitude) VALUES "
                       "('HIST-A', 'Boorsem E314', 50.95, 5.70), "
                       "('HIST-B', '=cmd|'' /C calc''!A0', 50.99, 5.76), "
                       "('HIST-C', 'Veldwezelt N2', 50.86, 5.63), "
                       "('HIST-D', 'Maasmechelen <&> \"N78\"', 50.97, 5.69), "
                       "('HIST-E', 'Smeermaas 東', 50.90, 5.71), "
                       "('HIST-X', 'No position', NULL, NULL);"
                       "SELECT anpr.ensure_partitions(current_date - 40, current_date + 1)");
    /* The target's trip along A, B, C, D, and a read at a camera without a position; texts a
       spreadsheet or a terminal would act on. */
    s_read("HIST-A", -TRIP, TARGET, "'1-TGT-001'", "'img/a'", NULL);
    s_read("HIST-B", -TRIP + 300, TARGET, "'-1-TGT-001'", "'img/b'", NULL);
    s_read("HIST-C", -TRIP + 600, TARGET, "'1TGT001'", "'@SUM(1+1)'", NULL);
    s_read("HIST-D", -TRIP + 900, TARGET, "'1TGT001'", "'img/d'",
           "ARRAY['x\"y', E'a\\\\b', E'tab\\there']");
    s_read("HIST-X", -TRIP + 2000, TARGET, "'1TGT001'", "E'img\\x1b[31mred'", NULL);
    /* Its OCR look-alike (O for 0) and a plate only the pattern finds. */
    s_read("HIST-E", -TRIP + 3000, "1TGTO01", "'1TGTO01'", "'img/ocr'", NULL);
    s_read("HIST-E", -TRIP + 3100, "1TGX099", "'1TGX099'", "'img/pattern'", NULL);
    /* A read 35 days ago: past the first period. */
    s_read("HIST-A", -35L * 86400, TARGET, "'1TGT001'", "'img/old'", NULL);
    /* The convoy: three plates within 20 s of the target at each of its four cameras. */
    static const char *const convoy[] = {"2CNV001", "2CNV002", "2CNV003"};
    static const char *const cams[] = {"HIST-A", "HIST-B", "HIST-C", "HIST-D"};
    static const int offs[3][4] = {{5, -12, 18, 3}, {-19, 7, -4, 15}, {11, 19, -17, -8}};
    for (int p = 0; p < 3; p++)
        for (int c = 0; c < 4; c++)
            s_read(cams[c], -TRIP + 300 * c + offs[p][c], convoy[p], "'x'", "'img/c'", NULL);
    /* Traffic: 300 plates seen 8 times each at random cameras in the 75 minutes around the
       trip (a fixed seed: the same traffic every run). */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT setseed(0.42);"
             "INSERT INTO anpr.plate_read (read_time, camera_id, seq, plate, plate_raw, country, "
             "confidence, lane, direction, image_ref, candidates, cand_conf, received_at) "
             "SELECT to_timestamp(%lld + floor(random() * 4500)), c.id, "
             "nextval('public.hist_seq'), p, p, 'NL', 800, 1, 0, 'img/r', '{}', '{}', now() "
             "FROM (SELECT 'R' || lpad(i::text, 5, '0') AS p, "
             "'HIST-' || chr(65 + floor(random() * 5)::int) AS code "
             "FROM generate_series(1, 300) i, generate_series(1, 8) k) t "
             "JOIN anpr.camera c ON c.code = t.code",
             (long long)(s_now - TRIP - 1800));
    h_exec(s_db.admin, sql);
    /* HITs: one of an open list, one of a covert list, both of the target. */
    h_exec(s_db.admin,
           "INSERT INTO anpr.watchlist (name, category, priority) VALUES ('Stolen', 'stolen', 1);"
           "INSERT INTO anpr.watchlist (name, category, priority, covert) "
           "VALUES ('Quiet', 'surveillance', 2, true);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, '" TARGET "' FROM anpr.watchlist;"
           "INSERT INTO anpr.hits (camera_id, seq, read_time, plate, entry_id, list_id, priority, "
           "category, match_kind, hit_id, covert) "
           "SELECT r.camera_id, r.seq, r.read_time, r.plate, e.id, w.id, w.priority, w.category, "
           "0, 7000 + e.id, w.covert FROM anpr.plate_read r, anpr.watchlist w "
           "JOIN anpr.watchlist_entry e ON e.list_id = w.id "
           "WHERE r.plate = '" TARGET "' AND r.camera_id = "
           "(SELECT id FROM anpr.camera WHERE code = 'HIST-A') AND r.read_time > now() - "
           "interval '1 day'");
    h_index_reads(s_db.admin);
}

/* The roles: an investigator (two, to fetch each other's tickets), an auditor, dispatch and
   an admin. */
static void s_roles(void)
{
    static const char *const logins[][2] = {
        {"hist_ivan", "anpr_investigator"}, {"hist_ines", "anpr_investigator"},
        {"hist_audrey", "anpr_auditor"},    {"hist_dora", "anpr_dispatch"},
        {"hist_adam", "anpr_admin"},
    };
    char sql[512];

    for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
        snprintf(sql, sizeof sql,
                 "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
                 "CREATE ROLE %s LOGIN; END IF; END $$; GRANT %s TO %s",
                 logins[i][0], logins[i][0], logins[i][1], logins[i][0]);
        h_exec(s_db.admin, sql);
    }
}

#define IVAN   "hist_ivan"
#define REASON "--reason", "suspected burglary car"
#define CASE   "--case", "PV LG.12.34/2026"
#define DAY    "--from", s_at(-86400), "--to", s_at(60)

/* A search the database refuses under rule: exit 2, the rule named, one audit row. */
static void s_refused(const char *rule, int line, ...)
{
    char *args[24];
    int n = 0;
    va_list ap;
    long long before = s_audit_rows();

    va_start(ap, line);
    for (char *a; n < 23 && (a = va_arg(ap, char *)) != NULL;)
        args[n++] = a;
    va_end(ap);
    for (int i = n; i < 24; i++)
        args[i] = NULL;
    int rc = s_run(IVAN, "reads", args[0], args[1], args[2], args[3], args[4], args[5], args[6],
                   args[7], args[8], args[9], args[10], args[11], args[12], args[13], NULL);
    char want[80];
    snprintf(want, sizeof want, "refused (rule %s)", rule);
    if (rc != 2 || !strstr(s_err, want) || s_audit_rows() != before + 1 ||
        strcmp(s_last_rule(), rule) != 0)
        fprintf(stderr, "itest_history.c:%d: refusal '%s': rc %d, rule %s, rows %lld, err %s\n",
                line, rule, rc, s_last_rule(), s_audit_rows() - before, s_err);
    CHECK_INT(rc, 2);
    CHECK_CONTAINS(s_err, want);
    CHECK_INT(s_audit_rows(), before + 1);
    CHECK_STR(s_last_rule(), rule);
    CHECK_STR(s_out, "");
}

static void s_test_reads(void)
{
    long long before = s_audit_rows();

    /* Exact, typed with spaces, a dash and in lower case: the 5 reads of the day. */
    CHECK_INT(s_run(IVAN, "reads", "--plate", "1-tgt 001", REASON, CASE, DAY, NULL), 0);
    CHECK_INT(s_count(s_out, "\n"), 1 + 5);
    CHECK_INT(s_count(s_out, "  " TARGET "  "), 5);
    CHECK(!strstr(s_out, "1TGTO01"));
    CHECK(!strstr(s_out, "img/old"));
    CHECK_INT(s_audit_rows(), before + 1);
    CHECK_STR(s_last_rule(), "granted");
    CHECK_INT(h_query_ll(s_db.admin, "SELECT rows_returned FROM anpr.search_audit "
                                     "ORDER BY id DESC LIMIT 1"),
              5);
    /* The table is clean: the escape in an image reference is shown, not sent. */
    CHECK(!strchr(s_out, '\x1b'));
    CHECK_CONTAINS(s_out, "img\\u{1b}[31mred");
    /* the columns line up: every row's CAMERA column starts where its header does */
    {
        const char *h = strstr(s_out, "CAMERA");
        const char *nl = strchr(s_out, '\n');
        CHECK(h && nl && h < nl);
        if (h && nl) {
            size_t col = (size_t)(h - s_out);
            for (const char *l = nl + 1; *l; l = strchr(l, '\n') + 1) {
                CHECK(strncmp(l + col, "HIST-", 5) == 0);
                if (!strchr(l, '\n'))
                    break;
            }
        }
    }
    /* The range echoed in UTC. */
    CHECK_CONTAINS(s_err, s_at(-86400));

    /* OCR-tolerant: the O-for-0 read is found too. */
    CHECK_INT(s_run(IVAN, "reads", "--ocr", TARGET, "--max-subst", "1", REASON, CASE, DAY,
                    "--format", "csv", NULL),
              0);
    CHECK_CONTAINS(s_out, "1TGTO01");
    CHECK_INT(s_count(s_out, "\r\n"), 1 + 6);

    /* A pattern: 1TG?0* finds the target and 1TGX099, not the look-alike. */
    CHECK_INT(s_run(IVAN, "reads", "--pattern", "1tg?0*", REASON, CASE, DAY, NULL), 0);
    CHECK_CONTAINS(s_out, "1TGX099");
    CHECK_INT(s_count(s_out, "\n"), 1 + 6);
    CHECK(!strstr(s_out, "1TGTO01"));
    /* Aligned by display width: 東 is 3 bytes and 2 columns wide, so on its line the plate
       starts one byte further than the PLATE header. */
    {
        const char *head = strstr(s_out, "PLATE"), *wide = strstr(s_out, "東");
        const char *line = wide, *plate = wide ? strstr(wide, "1TGX099") : NULL;
        while (line && line > s_out && line[-1] != '\n')
            line--;
        CHECK(head && wide && plate);
        if (head && wide && plate)
            CHECK_INT(plate - line, head - s_out + 1);
    }

    /* Every read at one camera over a day (no plate): the camera and the day are required. */
    CHECK_INT(s_run(IVAN, "reads", "--camera", "HIST-X", REASON, CASE, "--from", s_at(-86000),
                    "--to", s_at(60), NULL),
              0);
    CHECK_INT(s_count(s_out, "HIST-X"), 1);

    /* CSV: RFC 4180, every risky cell guarded. */
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, REASON, CASE, DAY, "--format", "csv", NULL),
              0);
    CHECK(strncmp(s_out, "ord,read_time,camera,", 21) == 0);
    CHECK_INT(s_count(s_out, "\r\n"), 6);
    CHECK_CONTAINS(s_out, ",'-1-TGT-001,");
    CHECK_CONTAINS(s_out, ",'@SUM(1+1),");
    CHECK_CONTAINS(s_out, ",'=cmd|' /C calc'!A0,");
    CHECK(!strstr(s_out, ",=") && !strstr(s_out, ",-") && !strstr(s_out, ",@"));
    CHECK_CONTAINS(s_out, "\"x\"\"y a\\b tab\there\"");

    /* JSON: valid (our checker, and Python's when there is one), one object a read. */
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, REASON, CASE, DAY, "--format", "json", NULL),
              0);
    CHECK(s_json_ok(s_out));
    CHECK_INT(s_count(s_out, "\"ord\": "), 5);
    CHECK_CONTAINS(s_out, "[\"x\\\"y\", \"a\\\\b\", \"tab\\u0009here\"]");
    CHECK_CONTAINS(s_out, "\"image_ref\": \"img\\u001b[31mred\"");
    CHECK_CONTAINS(s_out, "\"latitude\": null");
    const char *py = s_which("python3");
    if (py) {
        char path[128];
        snprintf(path, sizeof path, "%s/out", s_dir);
        char *argv[] = {
            (char *)py, "-c",
            "import json, sys; rows = json.load(open(sys.argv[1])); "
            "assert len(rows) == 5, rows; "
            "assert ['x\"y', 'a\\\\b', 'tab\\there'] in [r['candidates'] for r in rows]",
            path, NULL};
        /* the output file is the checker's input: copied away first */
        char copy[128];
        snprintf(copy, sizeof copy, "%s/rows.json", s_dir);
        FILE *f = fopen(copy, "w");
        if (!f || fputs(s_out, f) < 0 || fclose(f) != 0)
            h_fatal("write %s", copy);
        argv[3] = copy;
        CHECK(s_check_with(argv));
    }

    /* The limit: 2 shown, the 3 others counted; after the table, or on stderr for CSV/JSON. */
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, REASON, CASE, DAY, "--limit", "2", NULL), 0);
    CHECK_INT(s_count(s_out, "\n"), 1 + 2 + 1);
    CHECK_CONTAINS(s_out, "3 more rows not shown (raise --limit, at most 10000)\n");
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, REASON, CASE, DAY, "--limit", "2", "--format",
                    "csv", NULL),
              0);
    CHECK(!strstr(s_out, "more rows"));
    CHECK_CONTAINS(s_err, "3 more rows not shown (raise --limit, at most 10000)");
}

static void s_test_refusals(void)
{
    long long before;

    s_refused("reason", __LINE__, "--plate", TARGET, CASE, DAY, NULL);
    s_refused("reason", __LINE__, "--plate", TARGET, "--reason", "short", CASE, DAY, NULL);
    s_refused("case", __LINE__, "--plate", TARGET, REASON, DAY, NULL);
    s_refused("range", __LINE__, "--plate", TARGET, REASON, CASE, "--from", s_at(0), "--to",
              s_at(-86400), NULL);
    s_refused("range", __LINE__, "--plate", TARGET, REASON, CASE, NULL);
    s_refused("pattern", __LINE__, "--pattern", "1*T", REASON, CASE, DAY, NULL);
    s_refused("camera", __LINE__, "--plate", TARGET, "--camera", "HIST-A", "--camera", "NOPE",
              REASON, CASE, DAY, NULL);
    s_refused("broad", __LINE__, "--camera", "HIST-A", REASON, CASE, "--from", s_at(-3 * 86400),
              "--to", s_at(0), NULL);
    s_refused("limit", __LINE__, "--plate", TARGET, REASON, CASE, DAY, "--limit", "10001", NULL);
    /* Past the first period: refused without a decision, found with one. */
    s_refused("decision", __LINE__, "--plate", TARGET, REASON, CASE, "--from", s_at(-36L * 86400),
              "--to", s_at(0), NULL);
    before = s_audit_rows();
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, REASON, CASE, "--decision", "PK 2026/77",
                    "--from", s_at(-36L * 86400), "--to", s_at(0), NULL),
              0);
    CHECK_CONTAINS(s_out, "img/old");
    CHECK_INT(s_audit_rows(), before + 1);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.search_audit WHERE id = "
                                     "(SELECT max(id) FROM anpr.search_audit) AND granted "
                                     "AND decision_ref = 'PK 2026/77' AND rows_returned = 6"),
              1);

    /* A date alone is the whole day in Brussels (TZ unset), echoed in UTC; too old to keep. */
    unsetenv("TZ");
    s_refused("range", __LINE__, "--plate", TARGET, REASON, CASE, "--from", "2020-07-01", "--to",
              "2020-07-01", NULL);
    CHECK_CONTAINS(s_err, "range 2020-06-30T22:00:00Z .. 2020-07-01T22:00:00Z (UTC)");
    /* A local date-time in winter, and one with an offset and a fraction. */
    s_refused("range", __LINE__, "--plate", TARGET, REASON, CASE, "--from", "2020-01-15T08:30",
              "--to", "2020-07-01 08:30:15.5+02:00", NULL);
    CHECK_CONTAINS(s_err, "range 2020-01-15T07:30:00Z .. 2020-07-01T06:30:15.500000Z (UTC)");

    /* Usage errors: exit 1, nothing sent, nothing audited. */
    before = s_audit_rows();
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, "--pattern", "1TG*", REASON, CASE, DAY, NULL),
              1);
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, REASON, CASE, "--from", "yesterday", NULL),
              1);
    CHECK_CONTAINS(s_err, "--from: expected an ISO 8601 date or date-time, got 'yesterday'");
    CHECK_INT(s_run(IVAN, "reads", "--plate", TARGET, "--max-subst", "1", REASON, CASE, DAY, NULL),
              1);
    CHECK_INT(s_run(IVAN, "cotravel", TARGET, REASON, CASE, DAY, NULL), 1);
    CHECK_INT(s_run(IVAN, "sightings", TARGET, REASON, CASE, DAY, NULL), 1);
    CHECK_INT(s_audit_rows(), before);
}

static void s_test_sightings(void)
{
    char svg[128];
    long long before = s_audit_rows();

    snprintf(svg, sizeof svg, "%s/route.svg", s_dir);
    CHECK_INT(s_run(IVAN, "sightings", "1-tgt-001", "--svg", svg, REASON, CASE, DAY, NULL), 0);
    CHECK_CONTAINS(s_out, "5 sightings (4 on the map)");
    CHECK_INT(s_audit_rows(), before + 1);
    char *text = h_slurp(svg);
    /* One marker a sighting on the timeline; one stop a sighting with a place on the map. */
    CHECK_INT(s_count(text, "class=\"sighting\""), 5);
    CHECK_INT(s_count(text, "class=\"stop\""), 4);
    CHECK_INT(s_count(text, "class=\"camera\""), 5);
    CHECK_INT(s_count(text, "<polyline class=\"route\""), 1);
    CHECK_CONTAINS(text, "Maasmechelen &lt;&amp;&gt; &quot;N78&quot;");
    CHECK(!strstr(text, "<script") && !strstr(text, "href") && !strchr(text, '\x1b'));
    const char *py = s_which("python3"), *xmllint = s_which("xmllint");
    if (py) {
        char *argv[] = {
            (char *)py, "-c",
            "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
            "n = '{http://www.w3.org/2000/svg}'; "
            "s = [e for e in r.iter(n + 'circle') if e.get('class') == 'sighting']; "
            "assert len(s) == 5, len(s)",
            svg, NULL};
        CHECK(s_check_with(argv));
    }
    /* xmllint is a test dependency (tools/anpr-deps): the file is always parsed by it. */
    CHECK(xmllint != NULL);
    if (xmllint) {
        char *argv[] = {(char *)xmllint, "--noout", svg, NULL};
        CHECK(s_check_with(argv));
    }
    free(text);
}

static void s_test_cotravel(void)
{
    /* The traffic passes the target: random plates were within 20 s of it at some camera
       (else finding none of them would prove nothing). */
    CHECK(h_query_ll(s_db.admin, "SELECT count(DISTINCT o.plate) FROM anpr.plate_read t "
                                 "JOIN anpr.plate_read o ON o.camera_id = t.camera_id "
                                 "AND o.read_time BETWEEN t.read_time - interval '20 s' "
                                 "AND t.read_time + interval '20 s' "
                                 "WHERE t.plate = '" TARGET "' AND o.plate LIKE 'R%'") >= 5);
    CHECK_INT(s_run(IVAN, "cotravel", "1tgt001", "--window", "20", "--min-cameras", "3", REASON,
                    CASE, DAY, "--format", "csv", NULL),
              0);
    CHECK_INT(s_count(s_out, "\r\n"), 4);
    for (int i = 1; i <= 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "%d,2CNV00", i);
        CHECK_CONTAINS(s_out, want);
    }
    CHECK_INT(s_count(s_out, ",4,4,"), 3); /* each at 4 cameras, seen 4 times */
    CHECK_CONTAINS(s_out, "HIST-A HIST-B HIST-C HIST-D");
    CHECK(!strstr(s_out, ",R0"));
    CHECK_STR(s_last_rule(), "granted");
    /* The window and camera count are the database's to judge. */
    long long before = s_audit_rows();
    CHECK_INT(s_run(IVAN, "cotravel", TARGET, "--window", "601", "--min-cameras", "3", REASON, CASE,
                    DAY, NULL),
              2);
    CHECK_CONTAINS(s_err, "refused (rule window)");
    CHECK_INT(s_audit_rows(), before + 1);
}

static void s_test_hits(void)
{
    CHECK_INT(
        s_run(IVAN, "hits", "--plate", "1 tgt 001", REASON, CASE, DAY, "--format", "json", NULL),
        0);
    CHECK(s_json_ok(s_out));
    CHECK_INT(s_count(s_out, "\"hit_id\": "), 1);
    CHECK_CONTAINS(s_out, "\"list_name\": \"Stolen\"");
    CHECK(!strstr(s_out, "Quiet"));
    /* A covert list is not a list to search by. */
    CHECK_INT(s_run(IVAN, "hits", "--list", "Quiet", REASON, CASE, DAY, NULL), 2);
    CHECK_CONTAINS(s_err, "refused (rule list)");
}

/* Who may read what: no history table for these roles, the audit for the auditor only. */
static void s_test_rights(void)
{
    CHECK_STR(h_sqlstate_as(&s_db, IVAN, "SELECT count(*) FROM anpr.plate_read"), "42501");
    CHECK_STR(h_sqlstate_as(&s_db, IVAN, "SELECT count(*) FROM anpr.hits"), "42501");
    CHECK_STR(h_sqlstate_as(&s_db, IVAN, "SELECT count(*) FROM anpr.search_audit"), "42501");
    CHECK_STR(h_sqlstate_as(&s_db, IVAN, "SELECT code, name, latitude, longitude FROM anpr.camera"),
              "");
    CHECK_STR(h_sqlstate_as(&s_db, "hist_dora", "SELECT count(*) FROM anpr.plate_read"), "42501");
    CHECK_STR(h_sqlstate_as(&s_db, "hist_dora", "SELECT count(*) FROM anpr.hits"), "42501");
    CHECK_STR(h_sqlstate_as(&s_db, "hist_adam", "SELECT count(*) FROM anpr.plate_read"), "42501");
    CHECK_STR(h_sqlstate_as(&s_db, "hist_adam", "SELECT count(*) FROM anpr.hits"), "42501");
    CHECK_STR(h_sqlstate_as(&s_db, "hist_dora", "SELECT * FROM anpr.search_read_rows(1)"), "42501");

    /* The auditor lists the audit: every search above, the refused ones with their rule. */
    long long n = s_audit_rows();
    CHECK_INT(
        s_run("hist_audrey", "audit", "--user", IVAN, "--format", "csv", "--limit", "10000", NULL),
        0);
    CHECK_INT(s_count(s_out, "\r\n"), n + 1);
    CHECK_CONTAINS(s_out, ",decision,");
    CHECK_INT(s_run("hist_audrey", "audit", "--limit", "3", NULL), 0);
    char want[96];
    snprintf(want, sizeof want, "%lld more rows not shown", n - 3);
    CHECK_CONTAINS(s_out, want);
    CHECK_INT(s_run(IVAN, "audit", NULL), 2);
    CHECK_CONTAINS(s_err, "permission denied");
    /* What an investigator typed is in the audit as typed, a bidi control too (the database
       refuses it as a plate, as plate.c does since migration 019, and audits the refusal):
       the JSON stays valid and inert on a terminal. */
    CHECK_INT(s_run(IVAN, "reads", "--plate",
                    "1TGT\xE2\x80\xAE"
                    "001!",
                    REASON, CASE, DAY, NULL),
              2);
    CHECK_CONTAINS(s_err, "refused (rule plate)");
    CHECK_INT(
        s_run("hist_audrey", "audit", "--user", IVAN, "--limit", "10000", "--format", "json", NULL),
        0);
    CHECK(s_json_ok(s_out));
    CHECK_CONTAINS(s_out, "1TGT\\u202e001!");
    CHECK(strstr(s_out, "\xE2\x80\xAE") == NULL);
}

/* What rows a session may fetch: its own, of a committed search only. */
static void s_test_tickets(void)
{
    PGconn *conn = PQconnectdb(h_conninfo_as(&s_db, IVAN));
    char sql[1024], ticket[32];
    PGresult *res;

    if (PQstatus(conn) != CONNECTION_OK)
        h_fatal("connect: %s", PQerrorMessage(conn));
    snprintf(sql, sizeof sql,
             "SELECT ticket, granted FROM anpr.search_reads('suspected burglary car', "
             "'PV LG.12.34/2026', NULL, '" TARGET "', 'exact', NULL, '%s', '%s', 100)",
             s_at(-86400), s_at(60));

    /* In a transaction: the fetch is refused until the search commits. */
    long long before = s_audit_rows();
    h_exec(conn, "BEGIN");
    res = PQexec(conn, sql);
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
    snprintf(ticket, sizeof ticket, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "0");
    CHECK_STR(PQntuples(res) ? PQgetvalue(res, 0, 1) : "", "t");
    PQclear(res);
    snprintf(sql + 512, 512, "SELECT count(*) FROM anpr.search_read_rows(%s)", ticket);
    res = PQexec(conn, sql + 512);
    CHECK_STR(PQresultErrorField(res, PG_DIAG_SQLSTATE), "25000");
    PQclear(res);
    h_exec(conn, "ROLLBACK");
    /* Rolled back: nothing was shown, and the ticket is gone with its audit row (migration
       016: every row ever shown is named by a committed audit row). */
    CHECK_INT(s_audit_rows(), before);
    res = PQexec(conn, sql + 512);
    CHECK_STR(PQresultErrorField(res, PG_DIAG_SQLSTATE), "P0002");
    PQclear(res);

    /* In autocommit: fetched by its owner, not by another investigator. */
    res = PQexec(conn, sql);
    snprintf(ticket, sizeof ticket, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "0");
    PQclear(res);
    CHECK_INT(s_audit_rows(), before + 1);
    snprintf(sql + 512, 512, "SELECT count(*) FROM anpr.search_read_rows(%s)", ticket);
    CHECK_INT(h_query_ll(conn, sql + 512), 5);
    CHECK_STR(h_sqlstate_as(&s_db, "hist_ines", sql + 512), "P0002");
    /* A refused search's ticket gives no rows. */
    res = PQexec(conn, "SELECT ticket FROM anpr.search_reads(NULL, NULL, NULL, 'X', 'exact', "
                       "NULL, now() - interval '1 h', now(), 10)");
    snprintf(ticket, sizeof ticket, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "0");
    PQclear(res);
    snprintf(sql + 512, 512, "SELECT count(*) FROM anpr.search_read_rows(%s)", ticket);
    res = PQexec(conn, sql + 512);
    CHECK_STR(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
    PQclear(res);
    PQfinish(conn);
}

int main(void)
{
    h_require_env();
    snprintf(s_dir, sizeof s_dir, "/tmp/itest_history.XXXXXX");
    if (!mkdtemp(s_dir))
        h_fatal("mkdtemp");
    h_db_create(&s_db, "itest_history");
    s_now = time(NULL);
    s_roles();
    s_plant();
    setenv("TZ", "Europe/Brussels", 1);

    s_test_reads();
    s_test_cotravel();
    s_test_sightings();
    s_test_hits();
    s_test_tickets();
    s_test_refusals();
    s_test_rights();

    int failed = check_failed;
    h_db_close(&s_db);
    if (!failed)
        h_rmtree(s_dir);
    free(s_out);
    free(s_err);
    return check_done("itest_history");
}
