/*
 * Integration: retention that really deletes (migration 017, tools/anpr-retention). With the
 * law's retention at 10 days, day partitions of plate_read from 15 days ago to tomorrow (the
 * old ones made by hand, as a database kept under a longer retention would have them), HITs on
 * lists with their own retention, audit rows and two spool directories, anpr-retention is run
 * as a process, as the timer runs it:
 *   - --dry-run removes nothing and says what it would;
 *   - a run drops exactly the partitions of the days past the retention and none newer, the
 *     read identities of those days, the HITs past their list's retention (capped at the
 *     law's) with their aliases and acknowledgements, the audit rows past the audit's
 *     retention (the covert logs' too, migration 021), and the spool segments last written before
 * the retention (not the newest of a spool anprd holds);
 *   - each run leaves one anpr.retention_log row;
 *   - a login without anpr_retention gets permission denied;
 *   - ensure_partitions refuses a day past the retention;
 *   - anprd refuses a read older than the law's retention, and takes the law's new retention
 *     on SIGHUP.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "CAM-RET"
/* Today as the partitions count days: UTC. */
#define TODAY "(now() AT TIME ZONE 'UTC')::date"

static struct h_db s_db;
static char s_dir[64];
static char *s_out, *s_err;

static const char *s_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", s_dir, name);
    return p;
}

/* anpr-retention as login `user` with the given arguments (NULL-terminated). Exit status. */
static int s_run(const char *user, ...)
{
    char ci[512], *argv[16];
    int n = 0;
    va_list ap;

    snprintf(ci, sizeof ci, "host=%s port=%s user=%s dbname=%s", getenv("ANPR_TEST_PGHOST"),
             getenv("ANPR_TEST_PGPORT"), user, s_db.name);
    argv[n++] = getenv("ANPR_RETENTION");
    argv[n++] = "--db";
    argv[n++] = ci;
    va_start(ap, user);
    for (char *a; n < 15 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    int rc = h_wait(h_spawn(argv, s_path("out"), s_path("err")), 120000);
    free(s_out);
    free(s_err);
    s_out = h_slurp(s_path("out"));
    s_err = h_slurp(s_path("err"));
    if (getenv("ANPR_TEST_VERBOSE"))
        fprintf(stderr, "$ anpr-retention as %s: rc %d\n%s%s", user, rc, s_out, s_err);
    return rc;
}

/* The number on the report line `label` after the line `section` ("removed" or "would
 * remove"), or -1. */
static long long s_reported(const char *section, const char *label)
{
    char want[64];
    const char *p = strstr(s_out, section);

    if (!p)
        return -1;
    snprintf(want, sizeof want, "\n  %s ", label);
    p = strstr(p, want);
    return p ? strtoll(p + strlen(want), NULL, 10) : -1;
}

/* First column of the first row as text (static buffer), "" on no row; dies on error. */
static const char *s_text(const char *sql)
{
    static char buf[1024];
    PGresult *res = PQexec(s_db.admin, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        h_fatal("%s: %s", sql, PQresultErrorMessage(res));
    snprintf(buf, sizeof buf, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return buf;
}

/* The days (from today) that have a plate_read partition, "-15,...,1". */
static const char *s_days(void)
{
    return s_text("SELECT string_agg(k::text, ',' ORDER BY k) FROM generate_series(-20, 5) k "
                  "WHERE to_regclass('anpr.plate_read_' || to_char(" TODAY " + k, 'YYYYMMDD')) "
                  "IS NOT NULL");
}

/* A file in dir with its last write days_ago days back. */
static void s_segment(const char *dir, const char *name, double days_ago)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fputs("segment", f) < 0 || fclose(f) != 0)
        h_fatal("write %s", p);
    struct timespec t[2] = {{.tv_sec = time(NULL) - (time_t)(days_ago * 86400)}, {0}};
    t[1] = t[0];
    if (utimensat(AT_FDCWD, p, t, 0) != 0)
        h_fatal("utimensat %s", p);
}

static bool s_exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

#define SEG_A "00000000000000000000.seg"
#define SEG_B "00000000000000004096.seg"
#define SEG_C "00000000000000008192.seg"
#define SEG_D "00000000000000012288.seg"

static void s_setup(void)
{
    h_exec(s_db.admin, "UPDATE anpr.law SET first_period_days = 5, retention_days = 10");
    h_exec(s_db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'retention')");
    /* Days -15..+1, made as ensure_partitions makes them (it refuses the old ones now). */
    h_exec(s_db.admin,
           "DO $$ DECLARE d date; p text; BEGIN "
           "FOR d IN SELECT " TODAY " + k FROM generate_series(-15, 1) k LOOP "
           "p := 'plate_read_' || to_char(d, 'YYYYMMDD'); "
           "IF to_regclass('anpr.' || p) IS NULL THEN "
           "EXECUTE format('CREATE TABLE anpr.%I (LIKE anpr.plate_read INCLUDING DEFAULTS "
           "INCLUDING CONSTRAINTS)', p); "
           "EXECUTE format('ALTER TABLE anpr.plate_read ATTACH PARTITION anpr.%I FOR VALUES "
           "FROM (%L) TO (%L)', p, d::timestamp AT TIME ZONE 'UTC', "
           "(d + 1)::timestamp AT TIME ZONE 'UTC'); END IF; END LOOP; END $$");
    /* One read a day, at noon, with its identity. */
    h_exec(s_db.admin,
           "INSERT INTO anpr.plate_read (read_time, camera_id, seq, plate, plate_raw, country, "
           "confidence, lane, direction, image_ref, candidates, cand_conf, received_at) "
           "SELECT (" TODAY " + k + time '12:00') AT TIME ZONE 'UTC', c.id, 100 + k, "
           "'RET' || (100 + k), 'RET' || (100 + k), 'BE', 900, 1, 0, '', '{}', '{}', now() "
           "FROM generate_series(-15, 1) k, anpr.camera c WHERE c.code = '" CAM "'");
    h_exec(s_db.admin, "INSERT INTO anpr.read_identity (camera_id, epoch, seq, read_us) "
                       "SELECT camera_id, epoch, seq, "
                       "(extract(epoch FROM read_time) * 1000000)::bigint FROM anpr.plate_read");

    /* HITs on a list keeping 3 days, one keeping the law's, one asking for more (capped). */
    h_exec(s_db.admin, "INSERT INTO anpr.watchlist (name, category, hit_retention_days) VALUES "
                       "('Short', 'surveillance', 3), ('Law', 'stolen', NULL), "
                       "('Long', 'wanted', 300)");
    h_exec(s_db.admin,
           "INSERT INTO anpr.hits (camera_id, seq, read_time, plate, entry_id, list_id, "
           "priority, category, match_kind, hit_id) "
           "SELECT 1, h.hit_id, now() - make_interval(days => h.age), 'P' || h.hit_id, 1, w.id, "
           "1, w.category, 0, h.hit_id FROM (VALUES ('Short', 2, 11), ('Short', 4, 12), "
           "('Law', 9, 21), ('Law', 11, 22), ('Long', 9, 31), ('Long', 11, 32)) "
           "AS h(list, age, hit_id) JOIN anpr.watchlist w ON w.name = h.list");
    h_exec(s_db.admin, "INSERT INTO anpr.hit_alias (hit_id, stored_hit_id) "
                       "SELECT 100 + hit_id, hit_id FROM anpr.hits");
    h_exec(s_db.admin, "INSERT INTO anpr.hit_ack (hit_id, decision, acked_at) "
                       "SELECT hit_id, 'accepted', read_time + interval '1 minute' FROM anpr.hits");

    /* Audit rows past the audit's retention (1825 days), and newer ones. */
    h_exec(s_db.admin,
           "INSERT INTO anpr.watchlist_audit (changed_at, relation, operation, row_id, new_row) "
           "VALUES (now() - interval '1830 days', 'watchlist', 'INSERT', 99, '{}')");
    h_exec(s_db.admin, "INSERT INTO anpr.retro_match_log (searched_at, entry_ids, since, plates, "
                       "rows_found) VALUES (now() - interval '1830 days', '{1}', now(), 1, 0), "
                       "(now() - interval '20 days', '{1}', now(), 1, 0)");
    h_exec(s_db.admin, "INSERT INTO anpr.search_audit (at, kind, params, granted, rule, message) "
                       "VALUES (now() - interval '1830 days', 'reads', '{}', true, NULL, 'ok'), "
                       "(now() - interval '20 days', 'reads', '{}', true, NULL, 'ok'), "
                       "(now(), 'hits', '{}', true, NULL, 'ok')");
    /* The covert logs (migration 020) are audits too (021): a clearance's grant and
     * withdrawal, and a person's catch-up of covert HITs. */
    h_exec(s_db.admin, "INSERT INTO anpr.person_covert_log (at, action, login, list_id) VALUES "
                       "(now() - interval '1830 days', 'granted', 'jdoe', 7), "
                       "(now() - interval '20 days', 'revoked', 'jdoe', 7)");
    h_exec(s_db.admin, "INSERT INTO anpr.covert_read_audit (at, since_hit, hours, rows_returned, "
                       "hit_ids) VALUES (now() - interval '1830 days', 0, 12, 1, '{21}'), "
                       "(now() - interval '20 days', 21, 12, 0, '{}')");
    /* A result not fetched within its 15 minutes is a copy of history: it goes; one of a
     * search just made stays. */
    h_exec(s_db.admin, "INSERT INTO anpr.search_hit_result (ticket, ord, hit) "
                       "SELECT id, 1, 21 FROM anpr.search_audit");
    /* The reads a retro-match returned go with their day. */
    h_exec(s_db.admin,
           "INSERT INTO anpr.retro_match_read (log_id, camera_id, read_time, epoch, seq) "
           "SELECT g.id, r.camera_id, r.read_time, r.epoch, r.seq FROM anpr.retro_match_log g, "
           "anpr.plate_read r WHERE g.searched_at > now() - interval '30 days' "
           "AND r.seq IN (100 - 12, 100 - 5)");
    /* The change feed keeps the law's retention. */
    h_exec(s_db.admin, "INSERT INTO anpr.watchlist_change (changed_at, relation, operation) "
                       "VALUES (now() - interval '11 days', 'watchlist', 'UPDATE')");

    /* Logins: one in anpr_retention, and the daemon's, which is not. */
    h_exec(s_db.admin, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                       "'ret_login') THEN CREATE ROLE ret_login LOGIN; END IF; END $$");
    h_exec(s_db.admin, "GRANT anpr_retention TO ret_login");
}

/* What nothing may have touched yet (after the dry run too). */
static void s_check_untouched(void)
{
    CHECK_STR(s_days(), "-15,-14,-13,-12,-11,-10,-9,-8,-7,-6,-5,-4,-3,-2,-1,0,1");
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.plate_read"), 17);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.read_identity"), 17);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.hits"), 6);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.hit_alias"), 6);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.hit_ack"), 6);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.search_audit"), 3);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.search_hit_result"), 3);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.retro_match_read"), 2);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.person_covert_log"), 2);
    CHECK_INT(h_query_ll(s_db.admin, "SELECT count(*) FROM anpr.covert_read_audit"), 2);
}

int main(void)
{
    struct h_db *db = &s_db;
    char sp1[128], sp2[128];

    h_require_env();
    if (!getenv("ANPR_RETENTION"))
        h_fatal("ANPR_RETENTION is not set");
    snprintf(s_dir, sizeof s_dir, "/tmp/itest_retention.XXXXXX");
    if (!mkdtemp(s_dir))
        h_fatal("mkdtemp");
    h_db_create(db, "itest_retention");
    s_setup();

    /* Two spools: one no anprd has open, one whose lock is held as a running anprd holds it. */
    snprintf(sp1, sizeof sp1, "%s/spool", s_dir);
    snprintf(sp2, sizeof sp2, "%s/backbone", s_dir);
    if (mkdir(sp1, 0700) != 0 || mkdir(sp2, 0700) != 0)
        h_fatal("mkdir");
    s_segment(sp1, SEG_A, 11);
    s_segment(sp1, SEG_B, 10.5);
    s_segment(sp1, SEG_C, 9);
    s_segment(sp1, SEG_D, 0);
    s_segment(sp1, "checkpoint", 30);     /* not a segment: never touched */
    s_segment(sp1, "watchlist.snap", 30); /* nor the watchlist copy */
    s_segment(sp1, "quarantine-00000000000000000000-128.bin", 11); /* damaged reads set aside */
    s_segment(sp1, "quarantine-00000000000000004096-64.bin", 9);
    s_segment(sp2, SEG_A, 12);
    s_segment(sp2, SEG_B, 11); /* the newest, and anprd holds the spool */
    s_segment(sp2, "lock", 0);
    char lockp[192];
    snprintf(lockp, sizeof lockp, "%s/lock", sp2);
    int lock = open(lockp, O_RDONLY);
    if (lock < 0 || flock(lock, LOCK_EX) != 0)
        h_fatal("lock %s", lockp);

    /* A dry run: nothing goes, the report says what would, the run is logged. */
    CHECK_INT(s_run("ret_login", "--dry-run", "--spool", sp1, "--spool", sp2, NULL), 0);
    CHECK_CONTAINS(s_out, "dry run: nothing removed");
    CHECK_INT(s_reported("would remove", "plate_read partitions"), 5);
    CHECK_INT(s_reported("would remove", "read identities"), 5);
    CHECK_INT(s_reported("would remove", "HITs"), 3);
    CHECK_INT(s_reported("would remove", "HIT aliases"), 3);
    CHECK_INT(s_reported("would remove", "HIT acknowledgements"), 3);
    CHECK_INT(s_reported("would remove", "watchlist changes"), 1);
    CHECK_INT(s_reported("would remove", "retro-match reads"), 1);
    CHECK_INT(s_reported("would remove", "search results"), 2);
    CHECK_INT(s_reported("would remove", "search audit rows"), 1);
    CHECK_INT(s_reported("would remove", "retro-match log rows"), 1);
    CHECK_INT(s_reported("would remove", "watchlist audit rows"), 1);
    CHECK_INT(s_reported("would remove", "covert clearance log rows"), 1);
    CHECK_INT(s_reported("would remove", "covert catch-up audit rows"), 1);
    CHECK_CONTAINS(s_out, "would delete ");
    CHECK_CONTAINS(s_out, "/spool/" SEG_A);
    CHECK_CONTAINS(s_out, "/backbone/" SEG_A);
    CHECK(!strstr(s_out, "/spool/" SEG_C));
    s_check_untouched();
    CHECK(s_exists(sp1, SEG_A) && s_exists(sp1, SEG_B) && s_exists(sp2, SEG_A));
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.retention_log WHERE dry_run "
                                    "AND ran_by = 'ret_login' AND hits_deleted = 3 "
                                    "AND cardinality(partitions_dropped) = 5"),
              1);

    /* Only anpr_retention may run it. */
    CHECK_INT(s_run("anprd", NULL), 2);
    CHECK_CONTAINS(s_err, "permission denied");
    s_check_untouched();

    /* The run. */
    CHECK_INT(s_run("ret_login", "--spool", sp1, "--spool", sp2, NULL), 0);
    CHECK_INT(s_reported("removed", "plate_read partitions"), 5);
    CHECK_INT(s_reported("removed", "HITs"), 3);
    CHECK_STR(s_days(), "-10,-9,-8,-7,-6,-5,-4,-3,-2,-1,0,1");
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.plate_read"), 12);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.plate_read "
                                    "WHERE read_time < (" TODAY " - 10)::timestamp "
                                    "AT TIME ZONE 'UTC'"),
              0);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.read_identity"), 12);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.read_identity r WHERE NOT EXISTS "
                                    "(SELECT FROM anpr.plate_read p WHERE p.seq = r.seq)"),
              0);
    /* Detached before dropped: no table of the old days is left, attached or not. */
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND "
                                    "relname ~ '^plate_read_[0-9]{8}$'"),
              12);
    CHECK_STR(s_text("SELECT string_agg(hit_id::text, ',' ORDER BY hit_id) FROM anpr.hits"),
              "11,21,31");
    CHECK_STR(s_text("SELECT string_agg(stored_hit_id::text, ',' ORDER BY 1) "
                     "FROM anpr.hit_alias"),
              "11,21,31");
    CHECK_STR(s_text("SELECT string_agg(hit_id::text, ',' ORDER BY 1) FROM anpr.hit_ack"),
              "11,21,31");
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.search_audit"), 2);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.search_hit_result h "
                                    "JOIN anpr.search_audit a ON a.id = h.ticket "
                                    "WHERE a.at > now() - interval '1 minute'"),
              1);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.search_hit_result"), 1);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.retro_match_read "
                                    "WHERE seq = 100 - 5"),
              1);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.retro_match_read"), 1);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.retro_match_log"), 1);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.watchlist_audit "
                                    "WHERE changed_at < now() - interval '1825 days'"),
              0);
    CHECK(h_query_ll(db->admin, "SELECT count(*) FROM anpr.watchlist_audit") > 0);
    CHECK_STR(s_text("SELECT string_agg(action, ',') FROM anpr.person_covert_log"), "revoked");
    CHECK_STR(s_text("SELECT string_agg(since_hit::text, ',') FROM anpr.covert_read_audit"), "21");
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.watchlist_change "
                                    "WHERE changed_at < now() - interval '10 days'"),
              0);
    /* The spools: segments last written before the retention are gone, newer ones kept, and
     * the newest of the spool anprd holds is kept whatever its age. */
    CHECK(!s_exists(sp1, SEG_A) && !s_exists(sp1, SEG_B));
    CHECK(s_exists(sp1, SEG_C) && s_exists(sp1, SEG_D) && s_exists(sp1, "checkpoint"));
    CHECK(!s_exists(sp1, "quarantine-00000000000000000000-128.bin"));
    CHECK(s_exists(sp1, "quarantine-00000000000000004096-64.bin"));
    CHECK(s_exists(sp1, "watchlist.snap"));
    CHECK(!s_exists(sp2, SEG_A) && s_exists(sp2, SEG_B));
    CHECK_CONTAINS(s_out, "deleted ");
    CHECK_CONTAINS(s_out, "kept ");
    CHECK_CONTAINS(s_out, "/backbone/" SEG_B);
    flock(lock, LOCK_UN);
    close(lock);
    CHECK_INT(h_query_ll(db->admin,
                         "SELECT count(*) FROM anpr.retention_log WHERE NOT dry_run AND "
                         "ran_by = 'ret_login' AND partitions_dropped[1] = 'plate_read_' || "
                         "to_char(" TODAY " - 15, 'YYYYMMDD') AND cardinality(partitions_dropped) "
                         "= 5 AND read_identities_deleted = 5 AND hits_deleted = 3 AND "
                         "hit_aliases_deleted = 3 AND hit_acks_deleted = 3 AND "
                         "search_audit_deleted = 1 AND retro_match_log_deleted = 1 AND "
                         "retro_match_reads_deleted = 1 AND search_results_deleted = 2 AND "
                         "watchlist_audit_deleted = 1 AND watchlist_changes_deleted = 1 AND "
                         "person_covert_log_deleted = 1 AND covert_read_audit_deleted = 1"),
              1);

    /* Again, with the spool no longer held: its old newest segment goes; nothing else is left
     * to remove, and the run is logged all the same. */
    CHECK_INT(s_run("ret_login", "--spool", sp2, NULL), 0);
    CHECK_INT(s_reported("removed", "plate_read partitions"), 0);
    CHECK_INT(s_reported("removed", "HITs"), 0);
    CHECK(!s_exists(sp2, SEG_B));
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.retention_log"), 3);
    /* The log is append-only, also to its owner outside a retention run. */
    PGresult *res = PQexec(db->admin, "DELETE FROM anpr.retention_log");
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
    PQclear(res);
    /* So are the covert logs, their rows within the audit's retention to everyone. */
    res = PQexec(db->admin, "DELETE FROM anpr.covert_read_audit");
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
    PQclear(res);
    res = PQexec(db->admin, "SET anpr.retention = 'on'; DELETE FROM anpr.person_covert_log");
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
    PQclear(res);
    h_exec(db->admin, "RESET anpr.retention");

    /* A spool that is not there holds nothing; one that cannot be read: exit 3, after the
     * database's work. */
    CHECK_INT(s_run("ret_login", "--spool", s_path("missing"), NULL), 0);
    CHECK_CONTAINS(s_out, "missing: no such directory, nothing to delete");
    CHECK_INT(s_run("ret_login", "--spool", s_path("out"), NULL), 3);
    CHECK_CONTAINS(s_err, "Not a directory");
    CHECK_INT(s_run("ret_login", "--spool", NULL), 1);

    /* No partition for a day the law no longer keeps, not even for the daemon. */
    PGconn *dc = PQconnectdb(db->daemon_ci);
    CHECK(PQstatus(dc) == CONNECTION_OK);
    res = PQexec(dc, "SELECT anpr.ensure_partitions(" TODAY " - 11, " TODAY " - 11)");
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
    CHECK_CONTAINS(PQresultErrorMessage(res), "past the retention");
    PQclear(res);
    res = PQexec(dc, "SELECT anpr.ensure_partitions(" TODAY " - 10, " TODAY " + 2)");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);
    PQfinish(dc);

    /* anprd refuses a read older than the law's retention (its max_age_days is 365)... */
    struct h_daemon d;
    struct h_acks a;
    struct proto_reject rej;
    if (h_daemon_start(&d, db, NULL) != 0)
        return 1;
    void *s = h_dealer(d.ingest_ep);
    struct proto_read r = h_read(CAM, 1, "1-OLD-012", "BE");
    r.time_us = util_now_us() - 12LL * 86400 * 1000000;
    CHECK_INT(h_send_read(s, &r), 0);
    h_acks_init(&a, 1, 1, 4);
    CHECK_INT(h_wait_reject(&a, s, CAM, &rej, 20000), 0);
    CHECK_INT(rej.reason, PROTO_E_TIME);
    CHECK_CONTAINS(rej.text, "-10 days");
    h_acks_free(&a);
    r = h_read(CAM, 2, "1-OLD-009", "BE");
    r.time_us = util_now_us() - 9LL * 86400 * 1000000;
    CHECK_INT(h_send_read(s, &r), 0);
    h_acks_init(&a, 2, 1, 4);
    CHECK_INT(h_acks_wait(&a, s, CAM, 20000), 1);
    h_acks_free(&a);
    /* ...and takes the law's new retention on SIGHUP. */
    h_exec(db->admin, "UPDATE anpr.law SET retention_days = 20");
    kill(d.pid, SIGHUP);
    CHECK(h_daemon_wait_log(&d, "reload: loaded", 30000));
    r = h_read(CAM, 3, "1-OLD-012", "BE");
    r.time_us = util_now_us() - 12LL * 86400 * 1000000;
    CHECK_INT(h_send_read(s, &r), 0);
    h_acks_init(&a, 3, 1, 4);
    CHECK_INT(h_acks_wait(&a, s, CAM, 20000), 1);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);
    CHECK_INT(h_wait_ll(db->admin, "SELECT count(*) FROM anpr.plate_read WHERE plate = '1OLD012'",
                        1, 20000),
              1);
    h_close(s);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);

    free(s_out);
    free(s_err);
    if (!check_failed)
        h_rmtree(s_dir);
    h_db_close(db);
    return check_done("itest_retention");
}
