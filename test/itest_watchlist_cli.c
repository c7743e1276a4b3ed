/*
 * Integration (database only): anpr-watchlist's admin commands. Lists are added and changed,
 * entries added, shown, expired and removed; duplicates and entries on a disabled list are
 * refused; an export imports back into another list equal; an import with bad rows changes
 * nothing and names every bad line, --skip-bad imports the good ones, --dry-run writes nothing;
 * BOM, CRLF and quoted fields parse; and a 100 000-row file imports in one go. Migration 008:
 * a list's covert flag, colour and HIT retention round-trip through list-add, list-set, lists
 * and show; update changes only the fields given, checked as add checks them, and is audited;
 * who asked for an entry survives export and import; import --map reads other header names and
 * a bad mapping changes nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "harness.h"

static struct h_db s_db;
static char s_dir[64];
static char *s_out, *s_err; /* the last run's output, until the next run */
static char *s_ci;          /* the tool's --db: the superuser's, or an admin's login */

/* Run the tool: argv after the command name, NULL-terminated; --db is added. Exit status. */
static int s_run(const char *cmd, ...)
{
    char *argv[32];
    char out[128], err[128];
    int n = 0;
    va_list ap;

    argv[n++] = getenv("ANPR_WATCHLIST");
    argv[n++] = (char *)cmd;
    va_start(ap, cmd);
    for (char *a; n < 28 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "--db";
    argv[n++] = s_ci;
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

static void s_write(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(data, f) < 0 || fclose(f) != 0)
        h_fatal("write %s", path);
}

static char *s_path(const char *name)
{
    static char buf[8][192];
    static int i;
    char *p = buf[i++ % 8];
    snprintf(p, 192, "%s/%s", s_dir, name);
    return p;
}

static long long s_entries(const char *list)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_entry e JOIN anpr.watchlist w "
             "ON w.id = e.list_id WHERE w.name = '%s'",
             list);
    return h_query_ll(s_db.admin, sql);
}

/* Whether a statement fails (a CHECK constraint refusing a value). */
static bool s_sql_fails(const char *sql)
{
    PGresult *res = PQexec(s_db.admin, sql);
    bool failed = PQresultStatus(res) != PGRES_COMMAND_OK;
    PQclear(res);
    return failed;
}

static long long s_entry_id(const char *plate)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(id), 0) FROM anpr.watchlist_entry WHERE plate = '%s'", plate);
    return h_query_ll(s_db.admin, sql);
}

/*
 * Issue 14, as an admin's own login: dates without a time are the whole day in the zone and
 * shown back; UK is stored as GB; an entry typed with its euroband is cut; settings with no
 * effect are refused; a broad pattern is refused unless forced, and forced says how many of
 * the last day's reads it would have hit (a count only, audited); test prints every hit.
 */
static void s_test_issue14(void)
{
    char sql[512];

    CHECK_INT(s_run("list-add", "Typed", "--category", "stolen", NULL), 0);

    /* "--until 2026-12-06": through that day in Brussels (CET, UTC+1), not 00:00 UTC. */
    CHECK_INT(s_run("add", "Typed", "TY-1", "--from", "2026-12-01", "--until", "2026-12-06", "--tz",
                    "Europe/Brussels", NULL),
              0);
    CHECK_INT(h_query_ll(s_db.admin,
                         "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = 'TY-1' AND "
                         "valid_from = '2026-11-30T23:00:00Z' AND "
                         "valid_until = '2026-12-06T23:00:00Z'"),
              1);
    CHECK_CONTAINS(s_out, "valid from 2026-12-01 00:00:00 CET (2026-11-30T23:00:00.000000Z) "
                          "until 2026-12-07 00:00:00 CET (2026-12-06T23:00:00.000000Z), that is "
                          "through 2026-12-06, time zone Europe/Brussels");
    /* In summer (CEST, UTC+2), through ANPR_TZ; a time without an offset is the zone's too. */
    setenv("ANPR_TZ", "Europe/Brussels", 1);
    CHECK_INT(
        s_run("add", "Typed", "TY-2", "--from", "2026-07-01T08:00", "--until", "2026-07-02", NULL),
        0);
    setenv("ANPR_TZ", "UTC", 1);
    CHECK_INT(h_query_ll(s_db.admin,
                         "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = 'TY-2' AND "
                         "valid_from = '2026-07-01T06:00:00Z' AND "
                         "valid_until = '2026-07-02T22:00:00Z'"),
              1);
    CHECK_CONTAINS(s_out, "that is through 2026-07-02, time zone Europe/Brussels");
    /* update and import read dates the same way */
    snprintf(sql, sizeof sql, "%lld", s_entry_id("TY-1"));
    CHECK_INT(s_run("update", sql, "--until", "2026-12-24", "--tz", "Europe/Brussels", NULL), 0);
    CHECK_CONTAINS(s_out, "that is through 2026-12-24");
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = "
                                     "'TY-1' AND valid_until = '2026-12-24T23:00:00Z'"),
              1);
    s_write(s_path("dates.csv"), "plate,country,valid_from,valid_until\n"
                                 "TY-3,UK,2026-12-01,2026-12-06\n"
                                 "TY-5,nl,,\n"
                                 "TY-6,uk,,\n");
    CHECK_INT(s_run("import", "Typed", s_path("dates.csv"), "--tz", "Europe/Brussels", NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin,
                         "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = 'TY-3' AND "
                         "country = 'GB' AND valid_from = '2026-11-30T23:00:00Z' AND "
                         "valid_until = '2026-12-06T23:00:00Z'"),
              1);
    /* a country in lower case, as other systems write it: stored in upper case */
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE (plate, "
                                     "country) IN (('TY-5', 'NL'), ('TY-6', 'GB'))"),
              2);
    CHECK_INT(s_run("add", "Typed", "TY-7", "--country", "de", NULL), 0);
    CHECK_CONTAINS(s_out, "(TY7 DE)");
    /* a zone the system does not know is an error, never UTC */
    CHECK_INT(s_run("add", "Typed", "TY-4", "--until", "2026-12-06", "--tz", "Mars/Olympus", NULL),
              2);
    CHECK_CONTAINS(s_err, "no such time zone");
    CHECK_INT(s_entry_id("TY-4"), 0);

    /* UK is GB: stored as GB, and a duplicate of a GB entry */
    CHECK_INT(s_run("add", "Typed", "AB12 CDE", "--country", "UK", NULL), 0);
    CHECK_CONTAINS(s_out, "(AB12CDE GB)");
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = "
                                     "'AB12 CDE' AND country = 'GB'"),
              1);
    CHECK_INT(s_run("add", "Typed", "AB12CDE", "--country", "GB", NULL), 2);
    CHECK_CONTAINS(s_err, "duplicates entry");

    /* typed with its euroband: cut where it fits only without it; shown both ways where not */
    CHECK_INT(s_run("add", "Typed", "B 2-QRS-456", "--country", "BE", NULL), 0);
    CHECK_CONTAINS(s_out, "(2QRS456 BE)");
    CHECK_INT(s_run("add", "Typed", "2-QRS-456", "--country", "BE", NULL), 2);
    CHECK_INT(s_run("add", "Typed", "D D-AB 123", "--country", "DE", NULL), 0);
    CHECK_CONTAINS(s_out, "also matched as DAB123");
    /* Unicode as pasted: combining marks, full width, no-break space */
    CHECK_INT(s_run("add", "Typed",
                    "MU\xcc\x88-XY\xc2\xa0"
                    "77",
                    "--country", "DE", NULL),
              0);
    CHECK_CONTAINS(s_out, "(MUXY77 DE)");
    CHECK_INT(s_run("add", "Typed", "\xef\xbc\xad\xc3\x9c-XY 77", "--country", "DE", NULL), 2);
    CHECK_CONTAINS(s_err, "duplicates entry");

    /* the dry run finds them as anprd would */
    CHECK_INT(s_run("test", "DDAB123", "--country", "DE", NULL), 0);
    CHECK_INT(s_run("test", "DAB123", "--country", "DE", NULL), 0);
    CHECK_CONTAINS(s_out, "euroband D, exact");
    CHECK_INT(s_run("test", "AB12CDE", "--country", "UK", NULL), 0);
    CHECK_INT(s_run("test", "\xef\xbc\x92QRS456", "--country", "BE", NULL), 0);

    /* no effect, refused */
    CHECK_INT(s_run("list-add", "Exact", "--category", "stolen", "--indel", NULL), 2);
    CHECK_CONTAINS(s_err, "--indel has no effect on an exact list");
    CHECK_INT(s_run("list-add", "Exact", "--category", "stolen", "--max-subst", "2", NULL), 2);
    CHECK_INT(s_run("list-set", "Typed", "--indel", NULL), 2);
    CHECK_CONTAINS(s_err, "--indel has no effect on an exact list");
    CHECK_INT(
        s_run("list-add", "Fuzzy", "--category", "stolen", "--policy", "ocr", "--indel", NULL), 0);
    CHECK_INT(s_run("list-set", "Fuzzy", "--policy", "exact", NULL), 2);
    CHECK_CONTAINS(s_err, "or --no-indel");
    CHECK_INT(s_run("list-set", "Fuzzy", "--policy", "exact", "--no-indel", NULL), 0);

    /* broad patterns: refused; forced, counted over the last day's reads (two of three) */
    h_exec(s_db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('cnt-1', 'Count');"
           "INSERT INTO anpr.read_identity (camera_id, epoch, seq, read_us, plate) "
           "SELECT c.id, 1, s.seq, anpr.us_of(now() - s.ago), s.plate FROM anpr.camera c, "
           "(VALUES (1, interval '1 hour', '1XYZ001'), (2, interval '2 hours', '1ZZZ002'), "
           "(3, interval '2 days', '1AAA003'), (4, interval '1 hour', '2XYZ004')) "
           "AS s(seq, ago, plate) WHERE c.code = 'cnt-1'");
    CHECK_INT(s_run("add", "Typed", "1*", NULL), 2);
    CHECK_CONTAINS(s_err, "pattern 1* has fewer than 3 letters or digits");
    CHECK_INT(s_entry_id("1*"), 0);
    CHECK_INT(s_run("add", "Typed", "1*", "--force", NULL), 0);
    CHECK_CONTAINS(s_out, "pattern 1* would have hit 2 of the last day's reads");
    CHECK(s_entry_id("1*") > 0);
    CHECK_INT(s_run("add", "Typed", "1XY*", NULL), 0); /* three literals: no question */
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.search_audit WHERE kind = "
                                     "'pattern_count' AND by_user = 'wl_carol' AND "
                                     "params->>'key' = '1*' AND rows_more = 2"),
              1);
    /* the count is for broad patterns only: no plate-presence test for admins */
    CHECK_STR(h_sqlstate_as(&s_db, "wl_carol", "SELECT anpr.pattern_reads_last_day('1XYZ00?')"),
              "22023");
    CHECK_STR(h_sqlstate_as(&s_db, "wl_carol", "SELECT count(*) FROM anpr.read_identity"), "42501");
    s_write(s_path("broad.csv"), "plate\n?X*\nGOOD-9\n");
    CHECK_INT(s_run("import", "Typed", s_path("broad.csv"), NULL), 2);
    CHECK_CONTAINS(s_err, "broad.csv:2: plate: pattern '?X*' has fewer than 3 letters or digits");
    CHECK_INT(s_run("import", "Typed", s_path("broad.csv"), "--force", NULL), 0);
    CHECK_CONTAINS(s_out, "pattern ?X* would have hit 2 of the last day's reads");

    /* test prints every hit: 40 patterns of one plate */
    FILE *f = fopen(s_path("many.csv"), "w");
    if (!f)
        h_fatal("many.csv");
    fputs("plate\n", f);
    for (int i = 0, n = 0; n < 40; i++) {
        char pat[8] = "5KLM678";
        for (int k = 0; k < 7; k++)
            if (i >> k & 1)
                pat[k] = '?';
        if (7 - __builtin_popcount((unsigned)i & 127) < 3)
            continue;
        fprintf(f, "%s\n", pat);
        n++;
    }
    if (fclose(f) != 0)
        h_fatal("many.csv");
    CHECK_INT(s_run("list-add", "Many", "--category", "partial", NULL), 0);
    CHECK_INT(s_run("import", "Many", s_path("many.csv"), NULL), 0);
    CHECK_INT(s_run("test", "5-KLM-678", NULL), 0);
    CHECK_CONTAINS(s_out, "5-KLM-678 -> 5KLM678: 40 hits");
    int lines = 0;
    for (const char *c = s_out; (c = strstr(c, "list \"Many\"")) != NULL; c++)
        lines++;
    CHECK_INT(lines, 40);
}

/* Migration 008: a list's covert flag, colour and HIT retention. */
static void s_test_list_options(void)
{
    CHECK_INT(s_run("list-add", "Cov", "--category", "surveillance", "--covert", "--colour",
                    "#FFaa00", "--hits-retention", "90", NULL),
              0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Cov' "
                                     "AND covert AND colour = '#ffaa00' "
                                     "AND hit_retention_days = 90"),
              1);
    CHECK_INT(s_run("lists", NULL), 0);
    /* A covert list's HITs stay in the zone unless its backbone setting says otherwise. */
    CHECK_CONTAINS(s_out,
                   "\tCov\tsurveillance\t5\tenabled\texact\t0\tcovert\t#ffaa00\t90\tlocal\n");
    CHECK_INT(s_run("show", "Cov", NULL), 0);
    CHECK_CONTAINS(s_out, "# list ");
    CHECK_CONTAINS(s_out, " Cov: category=surveillance priority=5 enabled=true ");
    CHECK_CONTAINS(s_out, " covert=true colour=#ffaa00 hit_retention_days=90 backbone=-\n");

    CHECK_INT(s_run("list-set", "Cov", "--no-covert", "--colour", "Purple", "--hits-retention",
                    "365", NULL),
              0);
    CHECK_INT(s_run("lists", NULL), 0);
    CHECK_CONTAINS(s_out,
                   "\tCov\tsurveillance\t5\tenabled\texact\t0\tovert\tpurple\t365\tbackbone\n");
    CHECK_INT(s_run("show", "Cov", NULL), 0);
    CHECK_CONTAINS(s_out, " covert=false colour=purple hit_retention_days=365 backbone=-\n");

    /* migration 014: the backbone setting, on, off, or back to the default (NULL). */
    CHECK_INT(s_run("list-set", "Cov", "--backbone", "off", NULL), 0);
    CHECK_INT(s_run("lists", NULL), 0);
    CHECK_CONTAINS(s_out, "\tCov\tsurveillance\t5\tenabled\texact\t0\tovert\tpurple\t365\tlocal\n");
    CHECK_INT(s_run("show", "Cov", NULL), 0);
    CHECK_CONTAINS(s_out, " backbone=false\n");
    CHECK_INT(s_run("list-set", "Cov", "--covert", "--backbone", "on", NULL), 0);
    CHECK_INT(s_run("lists", NULL), 0);
    CHECK_CONTAINS(s_out, "\tcovert\tpurple\t365\tbackbone\n");
    CHECK_INT(s_run("list-set", "Cov", "--no-covert", "--backbone", "default", NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Cov' "
                                     "AND backbone IS NULL AND NOT covert"),
              1);
    CHECK_INT(s_run("list-set", "Cov", "--backbone", "maybe", NULL), 2);
    CHECK_CONTAINS(s_err, "--backbone: expected on, off or default, got 'maybe'");
    CHECK_INT(s_run("list-add", "Local", "--category", "stolen", "--backbone", "off", NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Local' "
                                     "AND backbone = false"),
              1);
    /* "default" gives the choice back to the console and the general retention (NULL). */
    CHECK_INT(s_run("list-set", "Cov", "--colour", "default", "--hits-retention", "default", NULL),
              0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Cov' "
                                     "AND NOT covert AND colour IS NULL "
                                     "AND hit_retention_days IS NULL"),
              1);
    CHECK_INT(s_run("lists", NULL), 0);
    CHECK_CONTAINS(s_out, "\tCov\tsurveillance\t5\tenabled\texact\t0\tovert\t-\t-\tbackbone\n");

    /* Bad values are refused before the database is asked, naming the option. */
    CHECK_INT(s_run("list-set", "Cov", "--colour", "pink", NULL), 2);
    CHECK_CONTAINS(s_err, "--colour: expected");
    CHECK_INT(s_run("list-set", "Cov", "--colour", "#12345g", NULL), 2);
    CHECK_INT(s_run("list-set", "Cov", "--hits-retention", "0", NULL), 2);
    CHECK_CONTAINS(s_err, "--hits-retention: expected 1..365 ");
    CHECK_INT(s_run("list-set", "Cov", "--hits-retention", "366", NULL), 2);
    CHECK_INT(s_run("list-add", "Cov2", "--category", "wanted", "--colour", "red;", NULL), 2);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Cov2' "
                                     "OR (name = 'Cov' AND (colour IS NOT NULL "
                                     "OR hit_retention_days IS NOT NULL))"),
              0);
    /* And by the table, whoever writes it. */
    CHECK(s_sql_fails("UPDATE anpr.watchlist SET colour = 'Red' WHERE name = 'Cov'"));
    CHECK(s_sql_fails("UPDATE anpr.watchlist SET colour = '#FFAA00' WHERE name = 'Cov'"));
    CHECK(s_sql_fails("UPDATE anpr.watchlist SET hit_retention_days = 0 WHERE name = 'Cov'"));
    CHECK(s_sql_fails("UPDATE anpr.watchlist SET hit_retention_days = 366 WHERE name = 'Cov'"));
    CHECK(!s_sql_fails("UPDATE anpr.watchlist SET colour = 'grey' WHERE name = 'Cov'"));
    CHECK(s_sql_fails("UPDATE anpr.watchlist_entry SET requested_by = repeat('x', 65)"));
}

/* update ID: only the fields given, checked as add checks them, audited. */
static void s_test_update(void)
{
    char id[24], id2[24], want[256], sql[512];

    CHECK_INT(s_run("list-add", "Upd", "--category", "wanted", NULL), 0);
    CHECK_INT(s_run("add", "Upd", "UP-1", "--country", "BE", "--instruction", "Old", "--ref", "R0",
                    "--requested-by", "Insp. A", NULL),
              0);
    CHECK_INT(s_run("add", "Upd", "UP-2", "--country", "BE", NULL), 0);
    long long u1 = s_entry_id("UP-1"), u2 = s_entry_id("UP-2");
    CHECK(u1 > 0 && u2 > 0);
    snprintf(id, sizeof id, "%lld", u1);
    snprintf(id2, sizeof id2, "%lld", u2);

    CHECK_INT(s_run("update", id, "--instruction", "New", NULL), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_entry WHERE id = %lld AND plate = 'UP-1' AND "
             "country = 'BE' AND instruction = 'New' AND external_ref = 'R0' AND requested_by = "
             "'Insp. A' AND valid_from IS NULL AND valid_until IS NULL",
             u1);
    CHECK_INT(h_query_ll(s_db.admin, sql), 1);
    CHECK_INT(s_run("update", id, "--until", "2030-01-01T00:00", "--requested-by", "Insp. B", NULL),
              0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_entry WHERE id = %lld AND plate = 'UP-1' AND "
             "instruction = 'New' AND requested_by = 'Insp. B' AND valid_from IS NULL AND "
             "valid_until = '2030-01-01T00:00:00Z'",
             u1);
    CHECK_INT(h_query_ll(s_db.admin, sql), 1);
    CHECK_INT(s_run("show", "Upd", NULL), 0);
    snprintf(want, sizeof want,
             "%lld\tUP-1\tBE\t-\t2030-01-01T00:00:00.000000Z\tR0\tNew\tInsp. B\n", u1);
    CHECK_CONTAINS(s_out, want);

    /* Refused, and nothing changes: a bad plate, a bad country, a validity that would end
     * before it begins (with the entry's own until, or both given), a duplicate, an unknown
     * id, nothing to change. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_entry WHERE id = %lld AND plate = 'UP-1' AND "
             "country = 'BE' AND valid_from IS NULL AND valid_until = '2030-01-01T00:00:00Z' AND "
             "external_ref = 'R0'",
             u1);
    CHECK_INT(s_run("update", id, "--plate", "UP#1", NULL), 2);
    CHECK_CONTAINS(s_err, "--plate 'UP#1':");
    CHECK_INT(s_run("update", id, "--country", "b3", NULL), 2);
    CHECK_CONTAINS(s_err, "--country 'b3'");
    CHECK_INT(s_run("update", id, "--from", "2031-01-01", NULL), 2);
    CHECK_CONTAINS(s_err, "valid_from 2031-01-01 (--from) would not be before valid_until "
                          "2030-01-01T00:00:00.000000Z");
    CHECK_INT(s_run("update", id, "--from", "2027-01-01", "--until", "2026-01-01", NULL), 2);
    CHECK_INT(s_run("update", id, "--until", "soon", NULL), 2);
    CHECK_CONTAINS(s_err, "--until 'soon'");
    CHECK_INT(s_run("update", id, "--plate", "up 2", "--ref", "R9", NULL), 2);
    snprintf(want, sizeof want, "would duplicate entry %lld", u2);
    CHECK_CONTAINS(s_err, want);
    CHECK_INT(h_query_ll(s_db.admin, sql), 1);
    CHECK_INT(s_run("update", "999999999", "--ref", "x", NULL), 1);
    CHECK_CONTAINS(s_err, "no entry 999999999");
    CHECK_INT(s_run("update", "x1", "--ref", "x", NULL), 2);
    CHECK_INT(s_run("update", id, NULL), 2);
    CHECK_CONTAINS(s_err, "nothing to change");
    CHECK_INT(s_run("update", id, "--category", "x", NULL), 2);
    CHECK_CONTAINS(s_err, "update does not take --category");
    /* An entry of a disabled list is not changed. */
    CHECK_INT(s_run("list-set", "Upd", "--disable", NULL), 0);
    CHECK_INT(s_run("update", id, "--ref", "R5", NULL), 2);
    CHECK_CONTAINS(s_err, "on list 'Upd', which is disabled");
    CHECK_INT(s_run("list-set", "Upd", "--enable", NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin, sql), 1);

    /* The same plate with a validity that does not overlap UP-2's is no duplicate; "-" opens
     * an end again. */
    CHECK_INT(s_run("update", id2, "--from", "2030-01-01", NULL), 0);
    CHECK_INT(s_run("update", id, "--plate", "UP 2", NULL), 0);
    CHECK_CONTAINS(s_out, "updated entry");
    CHECK_INT(s_run("update", id, "--until", "-", NULL), 2); /* would overlap UP-2 now */
    CHECK_INT(s_run("update", id2, "--from", "-", "--country", "NL", NULL), 0);
    CHECK_INT(s_run("update", id, "--until", "-", NULL), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_entry WHERE (id = %lld AND plate = 'UP 2' AND "
             "valid_until IS NULL AND instruction = 'New') OR (id = %lld AND country = 'NL' AND "
             "valid_from IS NULL)",
             u1, u2);
    CHECK_INT(h_query_ll(s_db.admin, sql), 2);

    /* Audited by the triggers: one UPDATE row per change made, none for a refused one. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_audit WHERE relation = 'watchlist_entry' AND "
             "operation = 'UPDATE' AND row_id = %lld AND changed_by = session_user",
             u1);
    CHECK_INT(h_query_ll(s_db.admin, sql), 4);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_audit WHERE relation = 'watchlist_entry' AND "
             "operation = 'UPDATE' AND row_id = %lld AND old_row->>'requested_by' = 'Insp. A' "
             "AND new_row->>'requested_by' = 'Insp. B' AND new_row->>'instruction' = 'New'",
             u1);
    CHECK_INT(h_query_ll(s_db.admin, sql), 1);
}

/* import --map: other header names; a bad mapping changes nothing. */
static void s_test_map(void)
{
    CHECK_INT(s_run("list-add", "Map", "--category", "uninsured", NULL), 0);
    s_write(s_path("nl.csv"), "kenteken,land,geldig_tot,opmerking,Aanvrager\n"
                              "MP-1,NL,2030-01-01T00:00:00Z,notitie,\"Insp. C, PZ Lanaken\"\n"
                              "MP-2,,,,\n");
    CHECK_INT(s_run("import", "Map", s_path("nl.csv"), NULL), 2);
    CHECK_CONTAINS(s_err, "nl.csv:1: header: unknown column 'kenteken'");
    CHECK_INT(s_run("import", "Map", s_path("nl.csv"), "--map", "kenteken=plate", "--map",
                    "land=plate", NULL),
              2);
    CHECK_CONTAINS(s_err, "--map kenteken=plate and --map land=plate: two names mapped to "
                          "column 'plate'");
    CHECK_INT(s_run("import", "Map", s_path("nl.csv"), "--map", "kenteken=kenteken", NULL), 2);
    CHECK_CONTAINS(s_err, "--map kenteken=kenteken: unknown column 'kenteken'");
    CHECK_INT(s_run("import", "Map", s_path("nl.csv"), "--map", "kenteken", NULL), 2);
    CHECK_CONTAINS(s_err, "--map: expected CSVNAME=COLUMN");
    CHECK_INT(s_run("import", "Map", s_path("nl.csv"), "--map", "kenteken=plate", "--map",
                    "land=country", "--map", "geldig_tot=valid_until", "--map", "opmerking=-",
                    "--map", "aanvrager=requested_by", "--map", "extra=instruction", NULL),
              2);
    CHECK_CONTAINS(s_err, "nl.csv:1: --map extra=instruction: no column 'extra' in the header");
    /* Mapped, but not every header name is known. */
    CHECK_INT(s_run("import", "Map", s_path("nl.csv"), "--map", "kenteken=plate", "--map",
                    "land=country", NULL),
              2);
    CHECK_CONTAINS(s_err, "unknown column 'geldig_tot'");
    s_write(s_path("both.csv"), "plate,kenteken\nAB-1,AB-2\n");
    CHECK_INT(s_run("import", "Map", s_path("both.csv"), "--map", "kenteken=plate", NULL), 2);
    CHECK_CONTAINS(s_err, "'plate' and 'kenteken' (--map kenteken=plate) are both column 'plate'");
    CHECK_INT(s_run("add", "Map", "AB-1", "--map", "x=plate", NULL), 2);
    CHECK_CONTAINS(s_err, "add does not take --map");
    CHECK_INT(s_entries("Map"), 0);

    CHECK_INT(s_run("import", "Map", s_path("nl.csv"), "--map", "kenteken=plate", "--map",
                    "land=country", "--map", "geldig_tot=valid_until", "--map", "opmerking=-",
                    "--map", "aanvrager=requested_by", NULL),
              0);
    CHECK_CONTAINS(s_out, "imported 2 entries into Map (0 bad rows skipped)");
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = "
                                     "'MP-1' AND country = 'NL' AND valid_until = "
                                     "'2030-01-01T00:00:00Z' AND instruction = '' AND "
                                     "requested_by = 'Insp. C, PZ Lanaken'"),
              1);

    /* Who asked survives export and import. */
    CHECK_INT(s_run("export", "Map", "--output", s_path("map.csv"), NULL), 0);
    char *csv = h_slurp(s_path("map.csv"));
    CHECK_CONTAINS(csv, "MP-1,NL,,2030-01-01T00:00:00.000000Z,,,\"Insp. C, PZ Lanaken\"\r\n");
    free(csv);
    CHECK_INT(s_run("list-add", "Map2", "--category", "uninsured", NULL), 0);
    CHECK_INT(s_run("import", "Map2", s_path("map.csv"), NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry e JOIN "
                                     "anpr.watchlist w ON w.id = e.list_id WHERE w.name = 'Map2' "
                                     "AND e.plate = 'MP-1' AND e.requested_by = "
                                     "'Insp. C, PZ Lanaken'"),
              1);
    s_write(s_path("longreq.csv"),
            "plate,requested_by\n"
            "LR-1,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    CHECK_INT(s_run("import", "Map2", s_path("longreq.csv"), NULL), 2);
    CHECK_CONTAINS(s_err, "longreq.csv:2: requested_by: at most 64 bytes");
    CHECK_INT(s_entries("Map2"), 2);

    /* ';'-separated, as Belgian and Dutch spreadsheets save CSV: read as the header shows it,
       a ',' in a field is text; a bad row names its line and column and nothing is imported. */
    s_write(s_path("semi.csv"), "plate;country;instruction\n"
                                "SC-1;NL;Stop, check papers\n"
                                "SC-2;n1;x\n");
    CHECK_INT(s_run("import", "Map2", s_path("semi.csv"), NULL), 2);
    CHECK_CONTAINS(s_err, "semi.csv:3: country: 'n1': empty or two letters A-Z (either case)");
    CHECK_CONTAINS(s_err, "1 bad row; nothing imported into 'Map2'");
    CHECK_INT(s_entries("Map2"), 2);
    s_write(s_path("semi.csv"), "plate;country;instruction\n"
                                "SC-1;NL;Stop, check papers\n"
                                "SC-2;nl;x\n");
    CHECK_INT(s_run("import", "Map2", s_path("semi.csv"), NULL), 0);
    CHECK_CONTAINS(s_out, "imported 2 entries into Map2");
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = "
                                     "'SC-1' AND instruction = 'Stop, check papers'"),
              1);
    /* --separator overrides the guess: this file read with ',' has no column 'plate' */
    CHECK_INT(s_run("import", "Map2", s_path("semi.csv"), "--separator", ",", NULL), 2);
    CHECK_CONTAINS(s_err, "header: unknown column 'plate;country;instruction'");
    CHECK_INT(s_run("import", "Map2", s_path("semi.csv"), "--separator", "|", NULL), 2);
    CHECK_CONTAINS(s_err, "--separator: expected ',' or ';'");
    CHECK_INT(s_entries("Map2"), 4);
}

/* migration 014 and the tools' one cleaner: control characters (C0, DEL, C1) and bidi controls
 * are refused in names and texts, by the tool and by the table; texts stored before that are
 * printed made visible, never raw; export guards cells a spreadsheet would run as formulas and
 * creates its file 0600; import reads the guard back. */
static void s_test_text(void)
{
    static const char *const bad[] = {"Esc\x1b]0;owned\x07",
                                      "Nel\xc2\x85",
                                      "Csi\xc2\x9b"
                                      "2J",
                                      "Rlo\xe2\x80\xae",
                                      "Lri\xe2\x81\xa6",
                                      "Tab\there",
                                      "Bad\xff"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(s_run("list-add", bad[i], "--category", "stolen", NULL), 2);
        CHECK_CONTAINS(s_err, "no control characters");
        CHECK(!strpbrk(s_err, "\x1b\x07\t") && !strstr(s_err, "\xc2\x85") &&
              !strstr(s_err, "\xe2\x80\xae"));
        CHECK_INT(s_run("add", "Stolen", "TX-1", "--ref", bad[i], NULL), 2);
        CHECK_INT(s_run("add", "Stolen", "TX-1", "--instruction", bad[i], NULL), 2);
        CHECK_INT(s_run("add", "Stolen", "TX-1", "--requested-by", bad[i], NULL), 2);
        CHECK_INT(s_run("list-set", "Stolen", "--rename", bad[i], NULL), 2);
    }
    CHECK_INT(s_run("add", "Stolen", "TX-1", "--instruction", "two\nlines", NULL), 2);
    CHECK_INT(s_entry_id("TX-1"), 0);
    /* The tables refuse them too, whoever writes. */
    CHECK(
        s_sql_fails("INSERT INTO anpr.watchlist (name, category) VALUES (E'x\\u0085', 'stolen')"));
    CHECK(
        s_sql_fails("INSERT INTO anpr.watchlist (name, category) VALUES (E'x\\u202e', 'stolen')"));
    CHECK(s_sql_fails("INSERT INTO anpr.watchlist_entry (list_id, plate, external_ref) SELECT id, "
                      "'TX-2', E'r\\u001b' FROM anpr.watchlist WHERE name = 'Stolen'"));
    CHECK(s_sql_fails("INSERT INTO anpr.watchlist_entry (list_id, plate, requested_by) SELECT id, "
                      "'TX-2', E'\\u2066x' FROM anpr.watchlist WHERE name = 'Stolen'"));
    CHECK(s_sql_fails("INSERT INTO anpr.camera (code, name) VALUES ('TX-CAM', E'cam\\u009b')"));
    CHECK(!s_sql_fails("INSERT INTO anpr.camera (code, name) VALUES ('TX-CAM', 'Maasmechelen "
                       "\xe2\x86\x92 E314, caf\xc3\xa9')"));

    /* A list and an entry stored before the constraints (put back NOT VALID, as the migration
     * leaves them then): every command prints them made visible. */
    h_exec(s_db.admin,
           "ALTER TABLE anpr.watchlist DROP CONSTRAINT watchlist_name_plain;"
           "ALTER TABLE anpr.watchlist_entry DROP CONSTRAINT watchlist_entry_text_plain;"
           "INSERT INTO anpr.watchlist (name, category) VALUES (E'Old\\u001b]0;x\\u0007\\u202e', "
           "'stolen');"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction, external_ref) "
           "SELECT id, 'OLD-1', E'Stop\\u001b[2J', E'R\\u0085' FROM anpr.watchlist "
           "WHERE name LIKE 'Old%';"
           "ALTER TABLE anpr.watchlist ADD CONSTRAINT watchlist_name_plain "
           "CHECK (anpr.text_plain(name)) NOT VALID;"
           "ALTER TABLE anpr.watchlist_entry ADD CONSTRAINT watchlist_entry_text_plain "
           "CHECK (anpr.text_plain(plate) AND anpr.text_plain(instruction) AND "
           "anpr.text_plain(external_ref) AND anpr.text_plain(requested_by)) NOT VALID");
    const char *old = "Old\x1b]0;x\x07\xe2\x80\xae";
    CHECK_INT(s_run("lists", NULL), 0);
    CHECK_CONTAINS(s_out, "\tOld\\u{1b}]0;x\\u{7}\\u{202e}\tstolen\t");
    CHECK(!strpbrk(s_out, "\x1b\x07") && !strstr(s_out, "\xe2\x80\xae"));
    CHECK_INT(s_run("show", old, NULL), 0);
    CHECK_CONTAINS(s_out, " Old\\u{1b}]0;x\\u{7}\\u{202e}:");
    CHECK_CONTAINS(s_out, "\tR\\u{85}\tStop\\u{1b}[2J\t");
    CHECK(!strpbrk(s_out, "\x1b\x07") && !strstr(s_out, "\xc2\x85"));
    CHECK_INT(s_run("add", old, "OLD-1", NULL), 2); /* a duplicate: the message names the list */
    CHECK_CONTAINS(s_err, "of list 'Old\\u{1b}]0;x\\u{7}\\u{202e}'");
    CHECK(!strpbrk(s_err, "\x1b\x07"));
    char *argv[] = {getenv("ANPR_WATCHLIST"), "test", "OLD-1", "--db", s_ci, NULL};
    CHECK_INT(h_wait(h_spawn(argv, s_path("test.out"), s_path("test.err")), 60000), 0); /* a HIT */
    char *t = h_slurp(s_path("test.out"));
    CHECK_CONTAINS(t, "Stop\\u{1b}[2J");
    CHECK_CONTAINS(t, "list \"Old\\u{1b}]0;x\\u{7}\\u{202e}\"");
    CHECK(t && !strpbrk(t, "\x1b\x07"));
    free(t);
    /* An admin renames it; the entry must be mended before anything else of it changes. */
    CHECK_INT(s_run("list-set", old, "--rename", "Old, mended", NULL), 0);
    CHECK(!strpbrk(s_out, "\x1b\x07"));
    h_exec(s_db.admin, "DELETE FROM anpr.watchlist_entry WHERE plate = 'OLD-1'");

    /* CSV: cells a spreadsheet would run get a leading "'", and import takes it back off. */
    CHECK_INT(s_run("list-add", "Csv", "--category", "stolen", NULL), 0);
    CHECK_INT(s_run("add", "Csv", "CSV-1", "--ref", "=cmd|' /C calc'!A0", "--instruction",
                    "+32 478 00 00 00", "--requested-by", "@SUM(1+1)", NULL),
              0);
    CHECK_INT(s_run("add", "Csv", "CSV-2", "--ref", "-2", "--instruction", "'quoted' on purpose",
                    "--requested-by", "'=kept as it is", NULL),
              0);
    umask(022);
    CHECK_INT(s_run("export", "Csv", "--output", s_path("csv.csv"), NULL), 0);
    struct stat st;
    CHECK(stat(s_path("csv.csv"), &st) == 0 && (st.st_mode & 0777) == 0600);
    char *csv = h_slurp(s_path("csv.csv"));
    CHECK_CONTAINS(csv, ",'+32 478 00 00 00,'=cmd|' /C calc'!A0,'@SUM(1+1)\r\n");
    CHECK_CONTAINS(csv, ",'quoted' on purpose,'-2,''=kept as it is\r\n");
    CHECK(csv && !strstr(csv, ",=") && !strstr(csv, ",@") && !strstr(csv, ",-2") &&
          !strstr(csv, ",+"));
    free(csv);
    CHECK_INT(s_run("list-add", "Csv copy", "--category", "stolen", NULL), 0);
    CHECK_INT(s_run("import", "Csv copy", s_path("csv.csv"), NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin,
                         "SELECT count(*) FROM anpr.watchlist_entry e JOIN anpr.watchlist w ON "
                         "w.id = e.list_id WHERE w.name = 'Csv copy' AND ((plate = 'CSV-1' AND "
                         "external_ref = '=cmd|'' /C calc''!A0' AND instruction = "
                         "'+32 478 00 00 00' AND requested_by = '@SUM(1+1)') OR (plate = 'CSV-2' "
                         "AND external_ref = '-2' AND instruction = '''quoted'' on purpose' AND "
                         "requested_by = '''=kept as it is'))"),
              2);
    /* An existing file is written over, never made wider than its owner set it. */
    CHECK(chmod(s_path("csv.csv"), 0640) == 0);
    CHECK_INT(s_run("export", "Csv", "--output", s_path("csv.csv"), NULL), 0);
    CHECK(stat(s_path("csv.csv"), &st) == 0 && (st.st_mode & 0777) == 0640);
}

int main(void)
{
    char sql[1024], want[256];

    h_require_env();
    /* Times without an offset are the zone's (test_dates tries Europe/Brussels): UTC here, so
     * the stored times below read as given. */
    setenv("ANPR_TZ", "UTC", 1);
    h_db_create(&s_db, "itest_watchlist_cli");
    snprintf(s_dir, sizeof s_dir, "/tmp/itest_wlcli.XXXXXX");
    if (!mkdtemp(s_dir))
        h_fatal("mkdtemp");
    s_ci = s_db.admin_ci;

    /* Lists. */
    CHECK_INT(s_run("list-add", "Stolen", "--category", "stolen", "--priority", "2", "--policy",
                    "ocr", "--indel", "--suppress", "60", NULL),
              0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Stolen' "
                                     "AND priority = 2 AND match_policy = 'ocr' AND indel "
                                     "AND suppress_s = 60 AND enabled"),
              1);
    CHECK_INT(s_run("list-add", "Stolen", "--category", "stolen", NULL), 2);
    CHECK_CONTAINS(s_err, "'Stolen' exists already");
    CHECK_INT(s_run("list-add", "Bad", "--category", "Not-ok", NULL), 2);
    CHECK_INT(s_run("list-add", "Bad", NULL), 2);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Bad'"), 0);
    CHECK_INT(s_run("list-add", "Closed", "--category", "wanted", NULL), 0);
    CHECK_INT(s_run("list-set", "Closed", "--disable", "--priority", "7", NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist WHERE name = 'Closed' "
                                     "AND NOT enabled AND priority = 7"),
              1);
    CHECK_INT(s_run("list-set", "Nonesuch", "--enable", NULL), 1);
    CHECK_CONTAINS(s_err, "no list 'Nonesuch'");
    CHECK_INT(s_run("list-set", "Closed", NULL), 2);

    /* Entries. */
    CHECK_INT(s_run("add", "Stolen", "1-abc-123", "--country", "BE", "--instruction", "Stop",
                    "--ref", "R1", NULL),
              0);
    long long e1 = h_query_ll(s_db.admin, "SELECT coalesce(max(id), 0) FROM anpr.watchlist_entry "
                                          "WHERE plate = '1-abc-123' AND country = 'BE' "
                                          "AND instruction = 'Stop' AND external_ref = 'R1'");
    CHECK(e1 > 0);
    CHECK_INT(s_run("add", "Stolen", "1ABC123", "--country", "BE", NULL), 2);
    snprintf(want, sizeof want, "duplicates entry %lld", e1);
    CHECK_CONTAINS(s_err, want);
    CHECK_INT(s_run("add", "Stolen", "1ABC123", "--country", "NL", NULL), 0); /* other country */
    CHECK_INT(s_run("add", "Closed", "XY-99", NULL), 2);
    CHECK_CONTAINS(s_err, "'Closed' is disabled");
    CHECK_INT(s_entries("Closed"), 0);
    CHECK_INT(s_run("add", "Stolen", "1#C", NULL), 2);
    CHECK_INT(s_run("add", "Stolen", "AB1", "--from", "2027-01-01", "--until", "2026-01-01", NULL),
              2);
    CHECK_INT(s_run("add", "Stolen", "AB1", "--until", "tomorrow", NULL), 2);
    CHECK_INT(s_run("add", "Nonesuch", "AB1", NULL), 1);
    CHECK_INT(s_entries("Stolen"), 2);
    CHECK_INT(s_run("show", "Stolen", NULL), 0);
    snprintf(want, sizeof want, "%lld\t1-abc-123\tBE\t-\t-\tR1\tStop\t\n", e1);
    CHECK_CONTAINS(s_out, want);
    CHECK_INT(s_run("lists", NULL), 0);
    CHECK_CONTAINS(s_out, "\tStolen\tstolen\t2\tenabled\tocr\t2\tovert\t-\t-\tbackbone\n");
    CHECK_CONTAINS(s_out, "\tClosed\twanted\t7\tdisabled\texact\t0\tovert\t-\t-\tbackbone\n");

    char id[24];
    snprintf(id, sizeof id, "%lld", e1);
    CHECK_INT(s_run("expire", id, NULL), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_entry WHERE id = %lld AND valid_until <= now()",
             e1);
    CHECK_INT(h_query_ll(s_db.admin, sql), 1);
    CHECK_INT(s_run("expire", id, NULL), 1);
    /* Once expired, the plate may be listed again. */
    CHECK_INT(s_run("add", "Stolen", "1ABC123", "--country", "BE", NULL), 0);
    CHECK_INT(s_run("remove", id, NULL), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.watchlist_entry WHERE id = %lld", e1);
    CHECK_INT(h_query_ll(s_db.admin, sql), 0);
    CHECK_INT(s_run("remove", id, NULL), 1);
    CHECK_CONTAINS(s_err, "no entry");
    CHECK_INT(s_run("remove", "x1", NULL), 2);
    CHECK(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_audit "
                                 "WHERE relation = 'watchlist_entry' AND operation = 'DELETE' "
                                 "AND changed_by = session_user") == 1);

    /* Export, then import into another list: equal. */
    CHECK_INT(s_run("add", "Stolen", "GH-512-*", "--from", "2026-01-01T08:00:00+01:00", "--until",
                    "2030-06-01 12:00:00.25Z", "--instruction", "Stop, then \"call\" 101 at once",
                    "--ref", "a,b", "--requested-by", "PZ Lanaken, \"CP\"", NULL),
              0);
    CHECK_INT(s_run("export", "Stolen", "--output", s_path("stolen.csv"), NULL), 0);
    char *csv = h_slurp(s_path("stolen.csv"));
    CHECK_CONTAINS(csv, "plate,country,valid_from,valid_until,instruction,external_ref,"
                        "requested_by\r\n");
    CHECK_CONTAINS(csv, "\"Stop, then \"\"call\"\" 101 at once\",\"a,b\",\"PZ Lanaken, "
                        "\"\"CP\"\"\"\r\n");
    free(csv);
    CHECK_INT(s_run("list-add", "Copy", "--category", "stolen", NULL), 0);
    CHECK_INT(s_run("import", "Copy", s_path("stolen.csv"), NULL), 0);
    CHECK_CONTAINS(s_out, "imported 3 entries into Copy (0 bad rows skipped)");
    const char *cols =
        "plate, country, valid_from, valid_until, instruction, external_ref, requested_by";
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ((SELECT %s FROM anpr.watchlist_entry WHERE list_id = "
             "(SELECT id FROM anpr.watchlist WHERE name = 'Stolen') EXCEPT SELECT %s FROM "
             "anpr.watchlist_entry WHERE list_id = (SELECT id FROM anpr.watchlist WHERE name = "
             "'Copy')) UNION ALL (SELECT %s FROM anpr.watchlist_entry WHERE list_id = (SELECT id "
             "FROM anpr.watchlist WHERE name = 'Copy') EXCEPT SELECT %s FROM anpr.watchlist_entry "
             "WHERE list_id = (SELECT id FROM anpr.watchlist WHERE name = 'Stolen'))) d",
             cols, cols, cols, cols);
    CHECK_INT(h_query_ll(s_db.admin, sql), 0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE "
                                     "requested_by = 'PZ Lanaken, \"CP\"'"),
              2);
    CHECK_INT(s_entries("Copy"), 3);
    /* The same file again: every row a duplicate of an entry. */
    CHECK_INT(s_run("import", "Copy", s_path("stolen.csv"), NULL), 2);
    CHECK_CONTAINS(s_err, "stolen.csv:2: plate:");
    CHECK_CONTAINS(s_err, "duplicates entry");
    CHECK_INT(s_entries("Copy"), 3);

    /* An import with bad rows changes nothing and names every one. */
    CHECK_INT(s_run("list-add", "Imp", "--category", "wanted", NULL), 0);
    CHECK_INT(s_run("add", "Imp", "EX-1", NULL), 0);
    s_write(s_path("bad.csv"), "plate,country,valid_from,valid_until,instruction,external_ref\n"
                               "GOOD-1,BE,2026-01-01,2027-01-01,ok,r\n" /* 2 */
                               "BAD#1,,,,,\n"                           /* 3: plate */
                               "GOOD-2,XX1,,,,\n"                       /* 4: country */
                               "GOOD-3,,2026-02-30,,,\n"                /* 5: date */
                               "GOOD-4,,2027-01-01,2026-01-01,,\n"      /* 6: from >= until */
                               "GOOD-5,BE,,\n"                          /* 7: columns */
                               "good 1,BE,,,,\n"                        /* 8: dup of line 2 */
                               "ex1,,,,,\n"                             /* 9: dup of an entry */
                               "GOOD-6,,,,\"quoted, fine\",\n");        /* 10 */
    CHECK_INT(s_run("import", "Imp", s_path("bad.csv"), NULL), 2);
    CHECK_INT(s_entries("Imp"), 1);
    CHECK_CONTAINS(s_err, "bad.csv:3: plate:");
    CHECK_CONTAINS(s_err, "bad.csv:4: country:");
    CHECK_CONTAINS(s_err, "bad.csv:5: valid_from:");
    CHECK_CONTAINS(s_err, "bad.csv:6: valid_until:");
    CHECK_CONTAINS(s_err, "bad.csv:7: row:");
    CHECK_CONTAINS(s_err, "bad.csv:8: plate: 'good 1' duplicates line 2");
    CHECK_CONTAINS(s_err, "bad.csv:9: plate: 'ex1' duplicates entry");
    CHECK(!strstr(s_err, "bad.csv:2:") && !strstr(s_err, "bad.csv:10:"));
    CHECK_INT(s_run("import", "Imp", s_path("bad.csv"), "--dry-run", "--skip-bad", NULL), 0);
    CHECK_CONTAINS(s_out, "would import 2 entries into Imp (7 bad rows skipped)");
    CHECK_INT(s_entries("Imp"), 1);
    CHECK_INT(s_run("import", "Imp", s_path("bad.csv"), "--skip-bad", NULL), 0);
    CHECK_CONTAINS(s_out, "imported 2 entries into Imp (7 bad rows skipped)");
    CHECK_INT(s_entries("Imp"), 3);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE "
                                     "plate IN ('GOOD-1', 'GOOD-6')"),
              2);
    s_write(s_path("unknown.csv"), "plate,colour\nAB1,red\n");
    CHECK_INT(s_run("import", "Imp", s_path("unknown.csv"), NULL), 2);
    CHECK_CONTAINS(s_err, "unknown.csv:1: header: unknown column 'colour'");
    CHECK_INT(s_run("import", "Closed", s_path("stolen.csv"), NULL), 2);
    CHECK_INT(s_entries("Closed"), 0);

    /* BOM, CRLF, columns in another order, quoted commas, doubled quotes, quoted line breaks
     * (parsed, and counted as lines; a line break in an instruction is refused, migration 014). */
    s_write(s_path("lines.csv"), "instruction,plate\r\n"
                                 "\"two\r\nlines\",ZZ 1\r\n" /* 2-3 */
                                 "ok,ZZ#2\r\n");             /* 4 */
    CHECK_INT(s_run("import", "Imp", s_path("lines.csv"), NULL), 2);
    CHECK_CONTAINS(s_err, "lines.csv:2: instruction: at most 1000 bytes of UTF-8, no control "
                          "characters");
    CHECK_CONTAINS(s_err, "lines.csv:4: plate:");
    s_write(s_path("bom.csv"), "\xEF\xBB\xBFinstruction,plate,country\r\n"
                               "\"Stop, then \"\"call\"\" 101\",XY-99,NL\r\n"
                               "\"two, one line\",ZZ 1,\r\n"
                               "\r\n"
                               "plain,QQ-7,DE\r\n");
    CHECK_INT(s_run("import", "Imp", s_path("bom.csv"), "--dry-run", NULL), 0);
    CHECK_INT(s_entries("Imp"), 3);
    CHECK_INT(s_run("import", "Imp", s_path("bom.csv"), NULL), 0);
    CHECK_INT(s_entries("Imp"), 6);
    CHECK_INT(h_query_ll(s_db.admin,
                         "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = 'XY-99' AND "
                         "country = 'NL' AND instruction = 'Stop, then \"call\" 101'"),
              1);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE "
                                     "plate = 'ZZ 1' AND country = '' AND instruction = "
                                     "'two, one line'"),
              1);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE "
                                     "plate = 'QQ-7' AND country = 'DE' AND instruction = 'plain'"),
              1);

    s_test_list_options();
    s_test_text();
    s_test_update();
    s_test_map();

    /* An admin's own login (subject to the tables' privileges and row-level security): her
     * changes are audited under her name. */
    char admin_ci[600];
    h_exec(s_db.admin, "DO $$ BEGIN "
                       "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wl_carol') THEN "
                       "CREATE ROLE wl_carol LOGIN; END IF; END $$;"
                       "GRANT anpr_admin TO wl_carol");
    snprintf(admin_ci, sizeof admin_ci, "host=%s port=%s dbname=%s user=wl_carol",
             getenv("ANPR_TEST_PGHOST"), getenv("ANPR_TEST_PGPORT"), s_db.name);
    s_ci = admin_ci;
    CHECK_INT(s_run("list-add", "Carol", "--category", "wanted", NULL), 0);
    CHECK_INT(s_run("import", "Carol", s_path("stolen.csv"), NULL), 0);
    CHECK_INT(s_run("add", "Carol", "CA-1", NULL), 0);
    CHECK_INT(s_entries("Carol"), 4);
    snprintf(id, sizeof id, "%lld", s_entry_id("CA-1"));
    CHECK_INT(s_run("update", id, "--requested-by", "Carol", "--until", "2031-01-01", NULL), 0);
    CHECK_INT(s_run("list-set", "Carol", "--covert", "--colour", "orange", NULL), 0);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_audit WHERE "
                                     "changed_by = 'wl_carol' AND operation = 'UPDATE' AND "
                                     "(new_row->>'requested_by' = 'Carol' OR "
                                     "new_row->>'colour' = 'orange')"),
              2);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_audit WHERE "
                                     "changed_by = 'wl_carol' AND relation = 'watchlist_entry' "
                                     "AND operation = 'INSERT'"),
              4);
    s_test_issue14();
    s_ci = s_db.admin_ci;

    /* 100 000 rows. */
    FILE *f = fopen(s_path("big.csv"), "w");
    if (!f)
        h_fatal("big.csv");
    fputs("plate,country,valid_until,instruction,external_ref\n", f);
    for (int i = 0; i < 100000; i++)
        fprintf(f, "B%06d,%s,2031-01-01T00:00:00Z,\"Stop, row %d\",ref-%d\n", i, i % 3 ? "BE" : "",
                i, i);
    if (fclose(f) != 0)
        h_fatal("big.csv");
    CHECK_INT(s_run("list-add", "Big", "--category", "stolen", NULL), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(s_run("import", "Big", s_path("big.csv"), NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_CONTAINS(s_out, "imported 100000 entries into Big (0 bad rows skipped)");
    CHECK_INT(s_entries("Big"), 100000);
    printf("import of 100000 rows: %.2f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

    h_db_close(&s_db);
    free(s_out);
    free(s_err);
    if (check_failed == 0)
        h_rmtree(s_dir);
    return check_done("itest_watchlist_cli");
}
