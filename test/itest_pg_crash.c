/*
 * Integration: PostgreSQL itself stops (immediate shutdown, as a crash) and starts again while
 * two cameras send 40 000 reads through anprd with its write-ahead spool. While the server is
 * down, reads keep being acknowledged from the spool (the daemon's counter of spooled reads
 * goes on growing); once it is back, every read is stored exactly once and every camera has
 * all its reads acknowledged.
 *
 * Needs the test server's folder and tools/anpr-pg (ANPR_TEST_PGDIR, ANPR_PG: tools/anpr-test
 * sets them); without them it is skipped.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

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

/* Run anpr-pg CMD on the test server's folder; its exit status. */
static int s_pg(const char *cmd)
{
    char *argv[] = {getenv("ANPR_PG"), (char *)cmd, getenv("ANPR_TEST_PGDIR"), NULL};

    return h_wait(h_spawn(argv, "/dev/null", "/dev/null"), 120000);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char extra[256], spool[64], acked[2][128];
    pid_t cams[2];

    h_require_env();
    if (!getenv("ANPR_TEST_PGDIR") || !getenv("ANPR_PG")) {
        fprintf(stderr, "itest_pg_crash: ANPR_TEST_PGDIR and ANPR_PG not set: skipped\n");
        return 77;
    }
    h_db_create(&db, "itest_pg_crash");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('PG-0', 'a'), ('PG-1', 'b')");
    snprintf(spool, sizeof spool, "/tmp/anprd-pgcrash.XXXXXX");
    if (!mkdtemp(spool))
        h_fatal("mkdtemp");
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/reads\"\n", spool);
    struct h_daemon_opts opts = {.extra = extra};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;

    for (int i = 0; i < 2; i++) {
        char cam[8], seed[8];
        snprintf(cam, sizeof cam, "PG-%d", i);
        snprintf(seed, sizeof seed, "%d", 3 + i);
        snprintf(acked[i], sizeof acked[i], "%s/acked-%d", spool, i);
        char *argv[] = {getenv("ANPR_CAMERA"),
                        "--endpoint",
                        d.ingest_ep,
                        "--camera",
                        cam,
                        "--count",
                        "20000",
                        "--rate",
                        "2500",
                        "--seed",
                        seed,
                        "--resend-ms",
                        "2000",
                        "--wait",
                        "90",
                        "--dump-acked",
                        acked[i],
                        "--quiet",
                        NULL};
        cams[i] = h_spawn(argv, "/dev/null", "/dev/null");
    }
    /* Some reads stored, then the server crashes. */
    CHECK(h_wait_ll(db.admin, "SELECT (count(*) >= 2000)::int FROM anpr.plate_read", 1, 20000) ==
          1);
    int64_t until = util_mono_us() + 5000000;
    while (s_spooled(&d) < 0 && util_mono_us() < until)
        usleep(50000); /* a first stats line, to count from */
    CHECK_INT(s_pg("crash"), 0);
    PQfinish(db.admin);
    db.admin = NULL;

    /* Down for a while: the daemon goes on acknowledging from its spool. */
    long long before = s_spooled(&d);
    CHECK(before >= 0);
    int64_t deadline = util_mono_us() + 15000000;
    while (s_spooled(&d) < before + 2000 && util_mono_us() < deadline)
        usleep(100000);
    long long during = s_spooled(&d);
    fprintf(stderr, "spooled while the server was down: %lld -> %lld\n", before, during);
    CHECK(during >= before + 2000);

    /* Back: everything stored, once; every read acknowledged. */
    CHECK_INT(s_pg("resume"), 0);
    db.admin = PQconnectdb(db.admin_ci);
    CHECK(PQstatus(db.admin) == CONNECTION_OK);
    for (int i = 0; i < 2; i++)
        CHECK_INT(h_wait(cams[i], 120000), 0);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 40000, 60000) == 40000);
    CHECK_INT(
        h_query_ll(db.admin,
                   "SELECT count(*) FROM (SELECT DISTINCT camera_id, seq FROM anpr.plate_read) t"),
        40000);
    long long lines = 0;
    for (int i = 0; i < 2; i++) {
        char *t = h_slurp(acked[i]);
        for (char *p = t; p && *p; p++)
            lines += *p == '\n';
        free(t);
    }
    CHECK_INT(lines, 40000);

    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    if (!check_failed)
        h_rmtree(spool);
    h_db_close(&db);
    return check_done("itest_pg_crash");
}
