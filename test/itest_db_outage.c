/*
 * Integration: the database connection is lost while readers send. Reads are not acknowledged
 * while they cannot be stored; the writer reconnects with backoff; in the end every read is
 * stored exactly once and acknowledged.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define COUNT 6000

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char out_path[256], acked_path[256];

    h_require_env();
    h_db_create(&db, "itest_db_outage");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('CAM-OUT', 'outage reader')");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;

    snprintf(out_path, sizeof out_path, "%s/camera.out", d.dir);
    snprintf(acked_path, sizeof acked_path, "%s/acked.tsv", d.dir);
    char *argv[] = {getenv("ANPR_CAMERA"),
                    "--endpoint",
                    d.ingest_ep,
                    "--camera",
                    "CAM-OUT",
                    "--count",
                    "6000",
                    "--rate",
                    "1000",
                    "--resend-ms",
                    "1000",
                    "--wait",
                    "60",
                    "--dump-acked",
                    acked_path,
                    "--quiet",
                    NULL};
    pid_t cam = h_spawn(argv, out_path, NULL);

    /* Cut the daemon's database sessions five times while the reads flow (six seconds of
     * them): each time the writer has to notice, back off, reconnect and redo its batch. */
    int cuts = 0;
    int64_t deadline = util_mono_us() + 60000000;
    while (cuts < 5 && util_mono_us() < deadline) {
        long long before = h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read");
        long long cut =
            h_query_ll(db.admin, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS ok "
                                 "FROM pg_stat_activity WHERE application_name = 'anprd' "
                                 "AND datname = 'itest_db_outage') t WHERE ok");
        if (cut == 0) {
            usleep(10000); /* the writer is between sessions: try again */
            continue;
        }
        /* A cut counts once writing has resumed after it. */
        while (util_mono_us() < deadline &&
               h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read") <= before)
            usleep(10000);
        cuts++;
    }
    CHECK(cuts >= 5);

    CHECK_INT(h_wait(cam, 120000), 0);
    char *out = h_slurp(out_path);
    CHECK_CONTAINS(out, "acked=6000 ");
    free(out);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), COUNT);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(DISTINCT seq) FROM anpr.plate_read"), COUNT);

    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK(h_daemon_log_has(&d, "database writes resumed"));
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    h_db_close(&db);
    return check_done("itest_db_outage");
}
