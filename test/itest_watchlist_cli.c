/*
 * Integration (database only): anpr-watchlist's admin commands. Lists are added and changed,
 * entries added, shown, expired and removed; duplicates and entries on a disabled list are
 * refused; an export imports back into another list equal; an import with bad rows changes
 * nothing and names every bad line, --skip-bad imports the good ones, --dry-run writes nothing;
 * BOM, CRLF and quoted fields parse; and a 100 000-row file imports in one go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    char sql[1024], want[256];

    h_require_env();
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
    snprintf(want, sizeof want, "%lld\t1-abc-123\tBE\t-\t-\tR1\tStop\n", e1);
    CHECK_CONTAINS(s_out, want);
    CHECK_INT(s_run("lists", NULL), 0);
    CHECK_CONTAINS(s_out, "\tStolen\tstolen\t2\tenabled\tocr\t2\n");
    CHECK_CONTAINS(s_out, "\tClosed\twanted\t7\tdisabled\texact\t0\n");

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
                    "2030-06-01 12:00:00.25Z", "--instruction", "Stop, then \"call\" 101\nat once",
                    "--ref", "a,b", NULL),
              0);
    CHECK_INT(s_run("export", "Stolen", "--output", s_path("stolen.csv"), NULL), 0);
    char *csv = h_slurp(s_path("stolen.csv"));
    CHECK_CONTAINS(csv, "plate,country,valid_from,valid_until,instruction,external_ref\r\n");
    CHECK_CONTAINS(csv, "\"Stop, then \"\"call\"\" 101\nat once\",\"a,b\"");
    free(csv);
    CHECK_INT(s_run("list-add", "Copy", "--category", "stolen", NULL), 0);
    CHECK_INT(s_run("import", "Copy", s_path("stolen.csv"), NULL), 0);
    CHECK_CONTAINS(s_out, "imported 3 entries into Copy (0 bad rows skipped)");
    const char *cols = "plate, country, valid_from, valid_until, instruction, external_ref";
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ((SELECT %s FROM anpr.watchlist_entry WHERE list_id = "
             "(SELECT id FROM anpr.watchlist WHERE name = 'Stolen') EXCEPT SELECT %s FROM "
             "anpr.watchlist_entry WHERE list_id = (SELECT id FROM anpr.watchlist WHERE name = "
             "'Copy')) UNION ALL (SELECT %s FROM anpr.watchlist_entry WHERE list_id = (SELECT id "
             "FROM anpr.watchlist WHERE name = 'Copy') EXCEPT SELECT %s FROM anpr.watchlist_entry "
             "WHERE list_id = (SELECT id FROM anpr.watchlist WHERE name = 'Stolen'))) d",
             cols, cols, cols, cols);
    CHECK_INT(h_query_ll(s_db.admin, sql), 0);
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

    /* BOM, CRLF, columns in another order, quoted commas, doubled quotes, quoted line breaks. */
    s_write(s_path("bom.csv"), "\xEF\xBB\xBFinstruction,plate,country\r\n"
                               "\"Stop, then \"\"call\"\" 101\",XY-99,NL\r\n"
                               "\"two\r\nlines\",ZZ 1,\r\n"
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
                                     "E'two\\r\\nlines'"),
              1);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE "
                                     "plate = 'QQ-7' AND country = 'DE' AND instruction = 'plain'"),
              1);

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
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.watchlist_audit WHERE "
                                     "changed_by = 'wl_carol' AND relation = 'watchlist_entry' "
                                     "AND operation = 'INSERT'"),
              4);
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
