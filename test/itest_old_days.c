/*
 * Integration: a camera's backlog of reads spread over many days, some older than the
 * partitions the daemon makes ahead, arrives in one burst (so the reads share a batch): every
 * read is stored once, on its own day, and acknowledged.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "CAM-BACKLOG"

int main(void)
{
    static const int days_ago[] = {0, 1, 2, 3, 5, 8, 13, 21, 34, 300};
    enum { N = sizeof days_ago / sizeof days_ago[0] };
    const struct h_daemon_opts opts = {.ingest = "  max_age_days: 365\n"};
    struct h_db db;
    struct h_daemon d;
    struct proto_read reads[N];
    struct h_acks a;
    char sql[512];

    h_require_env();
    h_db_create(&db, "itest_old_days");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'backlog')");
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;

    /* One burst: all N frames are queued before the daemon's first flush can take them. */
    void *s = h_dealer(d.ingest_ep);
    int64_t now = util_now_us();
    for (int i = 0; i < N; i++) {
        char plate[32];
        snprintf(plate, sizeof plate, "1-OLD-%03d", days_ago[i]);
        reads[i] = h_read(CAM, (uint64_t)i + 1, plate, "BE");
        reads[i].time_us = now - (int64_t)days_ago[i] * 86400 * 1000000;
        CHECK_INT(h_send_read(s, &reads[i]), 0);
    }
    h_acks_init(&a, 1, N, 8);
    CHECK_INT(h_acks_wait(&a, s, CAM, 20000), N);
    CHECK_INT(a.nrejects, 0);
    for (size_t i = 0; i < a.nrejects; i++)
        fprintf(stderr, "REJECT seq %" PRIu64 ": %s\n", a.rejects[i].seq, a.rejects[i].text);
    h_acks_free(&a);

    /* N rows, one per day, each with the time it was sent with. */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), N);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(DISTINCT (read_time AT TIME ZONE 'UTC')::date) "
                                   "FROM anpr.plate_read"),
              N);
    for (int i = 0; i < N; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM anpr.plate_read WHERE seq = %d "
                 "AND (extract(epoch FROM read_time) * 1000000)::bigint = %" PRId64,
                 i + 1, reads[i].time_us);
        long long got = h_query_ll(db.admin, sql);
        if (got != 1)
            fprintf(stderr, "read of %d days ago: %lld rows\n", days_ago[i], got);
        CHECK_INT(got, 1);
    }
    h_close(s);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_old_days");
}
