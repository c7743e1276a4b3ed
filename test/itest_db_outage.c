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

#define COUNT 4000

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
    char *argv[] = {getenv("ANPR_CAMERA"), "--endpoint", d.ingest_ep, "--camera", "CAM-OUT",
                    "--count", "4000", "--rate", "2000", "--resend-ms", "1000", "--wait", "60",
                    "--dump-acked", acked_path, "--quiet", NULL};
    pid_t cam = h_spawn(argv, out_path, NULL);

    /* Cut the daemon's database sessions five times while the reads flow: each time the
     * writer has to notice, back off, reconnect and redo the batch it held. */
    int cuts = 0;
    for (int i = 0; i < 5; i++) {
        long long before = h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read");
        h_wait_ll(db.admin, "SELECT (count(*) > 0)::int FROM pg_stat_activity "
                            "WHERE application_name = 'anprd' AND datname = 'itest_db_outage'",
                  1, 5000);
        cuts += (int)h_query_ll(db.admin,
                                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) "
                                "FROM pg_stat_activity WHERE application_name = 'anprd' "
                                "AND datname = 'itest_db_outage') t");
        /* Wait until writing has resumed before the next cut. */
        int64_t deadline = util_mono_us() + 10000000;
        while (util_mono_us() < deadline &&
               h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read") <= before)
            usleep(20000);
    }
    CHECK(cuts >= 5);

    CHECK_INT(h_wait(cam, 120000), 0);
    char *out = h_slurp(out_path);
    CHECK_CONTAINS(out, "acked=4000 ");
    free(out);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), COUNT);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(DISTINCT seq) FROM anpr.plate_read"), COUNT);

    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK(h_daemon_log_has(&d, "database writes resumed"));
    if (check_failed)
        h_daemon_dump_log(&d);
    h_db_close(&db);
    return check_done("itest_db_outage");
}
