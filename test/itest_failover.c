/*
 * Integration: PostgreSQL fails over under load. Two throw-away clusters on this machine, a
 * primary and a streaming replication standby it commits to synchronously (tools/anpr-pg start
 * and standby); anprd connects with the two-host conninfo of docs/OPERATIONS.md
 * (target_session_attrs=read-write). A camera sends reads; the primary is killed outright
 * (SIGKILL of all its processes) and the standby promoted. Every read the camera had
 * acknowledged is then in the new primary exactly once, by (camera, epoch, seq).
 *
 * Twice: with the write-ahead spool (the shipped setting: reads are acknowledged on through
 * the outage) and in database mode (a read is acknowledged once committed, so the outage holds
 * acknowledgements back and the camera resends). Between the two, the dead primary's place
 * gets a new standby of the promoted one, and the second run fails over back to it.
 *
 * Skipped only when the PostgreSQL server programs are not installed.
 */
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define S_READS 12000 /* per run */
#define S_EPOCH "7"   /* the camera's boot epoch: version 2 reads */

/* The two clusters' folders (the base folder holds both) and ports. */
static char s_base[64], s_dir[2][96];
static const char *const s_port[2] = {"54321", "54322"};

/* Run tools/anpr-pg with up to four more arguments; its exit status (output to err_path). */
static int s_pg(const char *cmd, const char *dir, const char *a, const char *b, const char *c,
                const char *d)
{
    char log[128];
    char *argv[] = {getenv("ANPR_PG"), (char *)cmd, (char *)dir, (char *)a,
                    (char *)b,         (char *)c,   (char *)d,   NULL};

    snprintf(log, sizeof log, "%s/anpr-pg.log", s_base);
    int st = h_wait(h_spawn(argv, "/dev/null", log), 180000);
    if (st != 0) {
        char *t = h_slurp(log);
        fprintf(stderr, "anpr-pg %s %s: status %d\n%s", cmd, dir, st, t);
        free(t);
    }
    return st;
}

/* Whatever happened, no server is left running (h_fatal exits through here too). */
static void s_stop_servers(void)
{
    for (int i = 0; i < 2; i++)
        if (s_dir[i][0])
            s_pg("stop", s_dir[i], NULL, NULL, NULL, NULL);
    if (s_base[0]) {
        char log[128];
        snprintf(log, sizeof log, "%s/anpr-pg.log", s_base);
        unlink(log);
        rmdir(s_base);
    }
}

/* The server programs anpr-pg would use: ANPR_PGBIN, or any /usr/lib/postgresql/N/bin. */
static bool s_have_server(void)
{
    const char *bin = getenv("ANPR_PGBIN");
    char path[512];
    glob_t g;

    if (bin && *bin) {
        snprintf(path, sizeof path, "%s/pg_basebackup", bin);
        return access(path, X_OK) == 0;
    }
    if (glob("/usr/lib/postgresql/*/bin/pg_basebackup", 0, NULL, &g) != 0)
        return false;
    globfree(&g);
    return true;
}

/* The two-host conninfo of db for `user`, in a static buffer. */
static const char *s_ci(const struct h_db *db, const char *user)
{
    static char ci[512];

    snprintf(ci, sizeof ci,
             "host=%s/sock,%s/sock port=%s,%s user=%s dbname=%s target_session_attrs=read-write",
             s_dir[0], s_dir[1], s_port[0], s_port[1], user, db->name);
    return ci;
}

/* A connection to whichever server is the primary now, as superuser. */
static PGconn *s_admin(const struct h_db *db)
{
    PGconn *conn = PQconnectdb(s_ci(db, "postgres"));
    if (PQstatus(conn) != CONNECTION_OK)
        h_fatal("connect to the primary: %s", PQerrorMessage(conn));
    return conn;
}

/* The newest "spooled=N" of the daemon's stats lines, or -1. */
static long long s_spooled(const struct h_daemon *d)
{
    char *log = h_slurp(d->log_path);
    long long n = -1;

    for (const char *p = log; p && (p = strstr(p, "spooled=")) != NULL; p++)
        n = strtoll(p + 8, NULL, 10);
    free(log);
    return n;
}

/*
 * One run: anprd (spool or database mode) on the two-host conninfo, camera `cam` sending
 * S_READS reads; the primary (index `from`) is killed once some are stored, the standby (the
 * other) promoted. Checks that every acknowledged read is in the new primary once.
 */
static void s_run(struct h_db *db, const char *cam, bool spool, int from)
{
    struct h_daemon d;
    char extra[256], acked[160], sql[512];
    int to = 1 - from;

    fprintf(stderr, "--- %s mode: %s fails over to %s\n", spool ? "spool" : "database", s_dir[from],
            s_dir[to]);
    snprintf(acked, sizeof acked, "%s/acked-%s", s_base, cam);
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/spool-%s\"\n", s_base, cam);
    struct h_daemon_opts opts = {.extra = spool ? extra : NULL};
    if (h_daemon_start_opts(&d, db, &opts) != 0)
        h_fatal("anprd did not start");

    char *argv[] = {getenv("ANPR_CAMERA"),
                    "--endpoint",
                    d.ingest_ep,
                    "--camera",
                    (char *)cam,
                    "--epoch",
                    S_EPOCH,
                    "--count",
                    "12000",
                    "--rate",
                    "2000",
                    "--resend-ms",
                    "2000",
                    "--wait",
                    "90",
                    "--dump-acked",
                    acked,
                    "--quiet",
                    NULL};
    pid_t camera = h_spawn(argv, "/dev/null", "/dev/null");

    /* Under load: some reads stored, then the primary dies. */
    snprintf(sql, sizeof sql,
             "SELECT (count(*) >= 3000)::int FROM anpr.plate_read r JOIN anpr.camera c ON "
             "c.id = r.camera_id WHERE c.code = '%s'",
             cam);
    CHECK_INT(h_wait_ll(db->admin, sql, 1, 30000), 1);
    int64_t until = util_mono_us() + 5000000;
    while (spool && s_spooled(&d) < 0 && util_mono_us() < until)
        usleep(50000); /* a first stats line, to count from */
    long long before = s_spooled(&d);
    PQfinish(db->admin);
    db->admin = NULL;
    CHECK_INT(s_pg("kill", s_dir[from], NULL, NULL, NULL, NULL), 0);

    /* anprd finds the primary gone; with the spool it goes on acknowledging meanwhile. */
    until = util_mono_us() + 30000000;
    while (!h_daemon_log_has(&d, "not stored, will retry") &&
           !h_daemon_log_has(&d, "writer: database: ") && util_mono_us() < until)
        usleep(50000);
    CHECK(util_mono_us() < until);
    if (spool) {
        while (s_spooled(&d) < before + 1000 && util_mono_us() < until)
            usleep(50000);
        fprintf(stderr, "spooled with no primary: %lld -> %lld\n", before, s_spooled(&d));
        CHECK(s_spooled(&d) >= before + 1000);
    }
    CHECK_INT(s_pg("promote", s_dir[to], NULL, NULL, NULL, NULL), 0);
    db->admin = s_admin(db);
    /* The tools take the same conninfo and find the new primary. */
    char *migrate[] = {getenv("ANPR_MIGRATE"),
                       "--db",
                       (char *)s_ci(db, "postgres"),
                       "--dir",
                       getenv("ANPR_SQLDIR"),
                       "--status",
                       NULL};
    CHECK_INT(h_wait(h_spawn(migrate, "/dev/null", NULL), 60000), 0);

    /* Every read acknowledged, and stored once in the new primary. */
    CHECK_INT(h_wait(camera, 150000), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id "
             "WHERE c.code = '%s'",
             cam);
    CHECK_INT(h_wait_ll(db->admin, sql, S_READS, 60000), S_READS);

    char *text = h_slurp(acked);
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, S_READS);
    h_exec(db->admin, "CREATE TEMP TABLE acked (camera text, seq bigint)");
    h_copy_in(db->admin, "COPY acked FROM STDIN", text, strlen(text));
    free(text);
    /* Acknowledged but not in the new primary: lost in the failover. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT FROM anpr.plate_read r JOIN "
             "anpr.camera c ON c.id = r.camera_id WHERE c.code = a.camera AND r.epoch = %s AND "
             "r.seq = a.seq)",
             S_EPOCH);
    CHECK_INT(h_query_ll(db->admin, sql), 0);
    /* Stored more than once: a batch whose commit the dead primary never confirmed, stored
     * again on the new one. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT r.camera_id, r.epoch, r.seq FROM anpr.plate_read r "
             "JOIN anpr.camera c ON c.id = r.camera_id WHERE c.code = '%s' GROUP BY 1, 2, 3 "
             "HAVING count(*) > 1) t",
             cam);
    CHECK_INT(h_query_ll(db->admin, sql), 0);
    h_exec(db->admin, "DROP TABLE acked");

    /* The daemon stays up and healthy on the new primary. */
    CHECK(kill(d.pid, 0) == 0);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    if (!check_failed) {
        unlink(acked);
        snprintf(extra, sizeof extra, "%s/spool-%s", s_base, cam);
        if (spool)
            h_rmtree(extra);
    }
}

int main(void)
{
    struct h_db db;

    if (!s_have_server()) {
        printf("skipped: no PostgreSQL server programs (/usr/lib/postgresql/*/bin)\n");
        return H_SKIP;
    }
    if (!getenv("ANPR_PG"))
        h_fatal("ANPR_PG (tools/anpr-pg) is not set");
    /* Short: a unix socket path is at most 107 bytes. */
    snprintf(s_base, sizeof s_base, "/tmp/anpr-fo.XXXXXX");
    if (!mkdtemp(s_base))
        h_fatal("mkdtemp");
    chmod(s_base, 0755); /* the postgres user must reach the servers' folders */
    atexit(s_stop_servers);
    for (int i = 0; i < 2; i++)
        snprintf(s_dir[i], sizeof s_dir[i], "%s/pg%d", s_base, i);

    /* The primary, the schema through the harness (pointed at it), then its standby. */
    if (s_pg("start", s_dir[0], "--port", s_port[0], NULL, NULL) != 0)
        h_fatal("the primary did not start");
    char host[128];
    snprintf(host, sizeof host, "%s/sock", s_dir[0]);
    setenv("ANPR_TEST_PGHOST", host, 1);
    setenv("ANPR_TEST_PGPORT", s_port[0], 1);
    setenv("ANPR_TEST_PGUSER", "postgres", 1);
    h_db_create(&db, "itest_failover");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('FO-S', 'spool mode'), "
                     "('FO-D', 'database mode')");
    if (s_pg("standby", s_dir[1], "--primary", s_dir[0], "--port", s_port[1]) != 0)
        h_fatal("the standby did not start");

    /* anprd knows both servers; libpq takes the one that accepts writes. */
    snprintf(db.daemon_ci, sizeof db.daemon_ci, "%s", s_ci(&db, "anprd"));

    s_run(&db, "FO-S", true, 0);

    /* The dead primary's place gets a standby of the new one; then the way back. */
    if (!check_failed) {
        CHECK_INT(s_pg("stop", s_dir[0], NULL, NULL, NULL, NULL), 0);
        if (s_pg("standby", s_dir[0], "--primary", s_dir[1], "--port", s_port[0]) != 0)
            h_fatal("the new standby did not start");
        s_run(&db, "FO-D", false, 1);
    }

    h_db_close(&db);
    return check_done("itest_failover");
}
