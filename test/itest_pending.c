/*
 * Integration: without a spool, ingest.max_pending counts distinct reads. While another
 * session holds plate_read locked (the writer cannot store anything), a camera sends 60 reads,
 * resends each of them 10 times, then sends 30 more: with max_pending 100, all 90 distinct reads
 * are taken (every frame is read off the socket, 90 pending), where the copies used to fill
 * the 100 slots and keep the last reads waiting. After the lock goes, every read is
 * acknowledged and stored once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM     "CAM-PEND"
#define NFIRST  60
#define NRESEND 10
#define NLATER  30

/* Until the newest stats line says key=want (a line a second), or timeout_ms; the last value. */
static long long s_wait_stat(const struct h_daemon *d, const char *key, long long want,
                             int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    long long v;

    while ((v = h_daemon_stat(d, key)) != want && util_mono_us() < deadline)
        nanosleep(&(struct timespec){0, 100000000L}, NULL); /* a pause between looks */
    return v;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct h_acks a;
    uint64_t seq = 1;
    char sql[512];
    uint8_t frames[NFIRST][PROTO_MAX_FRAME];
    size_t lens[NFIRST];

    h_require_env();
    h_db_create(&db, "itest_pending");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'pending reader')");
    struct h_daemon_opts opts = {.ingest = "  max_pending: 100\n  peer_rate_per_s: 1000000\n"
                                           "  peer_burst: 10000000\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);

    /* A first read stored and acknowledged: the path is up. */
    struct proto_read probe = h_read(CAM, seq++, "1-PRB-001", "BE");
    CHECK_INT(h_send_read(dealer, &probe), 0);
    h_acks_init(&a, probe.seq, 1, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), 1);
    h_acks_free(&a);

    PGconn *lock = PQconnectdb(db.admin_ci);
    if (PQstatus(lock) != CONNECTION_OK)
        h_fatal("second admin connection: %s", PQerrorMessage(lock));
    h_exec(lock, "BEGIN");
    h_exec(lock, "LOCK TABLE anpr.plate_read IN ACCESS EXCLUSIVE MODE");

    uint64_t first = seq;
    for (int i = 0; i < NFIRST; i++) {
        char plate[32];
        snprintf(plate, sizeof plate, "1-PND-%03d", i);
        struct proto_read r = h_read(CAM, seq++, plate, "BE");
        lens[i] = proto_encode_read(&r, frames[i], sizeof frames[i]);
        if (lens[i] == 0)
            h_fatal("read %d does not encode", i);
        CHECK_INT(h_send_raw(dealer, frames[i], lens[i]), 0);
    }
    /* The camera resends what it has not seen acknowledged, again and again. */
    for (int k = 0; k < NRESEND; k++)
        for (int i = 0; i < NFIRST; i++)
            CHECK_INT(h_send_raw(dealer, frames[i], lens[i]), 0);
    for (int i = 0; i < NLATER; i++) {
        char plate[32];
        snprintf(plate, sizeof plate, "1-PNL-%03d", i);
        struct proto_read r = h_read(CAM, seq++, plate, "BE");
        CHECK_INT(h_send_read(dealer, &r), 0);
    }
    long long nframes = 1 + NFIRST + NRESEND * NFIRST + NLATER;

    /* Every frame is taken off the socket while the writer waits for the lock, and the distinct
     * reads alone are pending (a slot each). */
    CHECK_INT(s_wait_stat(&d, " frames=", nframes, 20000), nframes);
    CHECK_INT(s_wait_stat(&d, " pending=", NFIRST + NLATER, 10000), NFIRST + NLATER);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'anprd' "
             "AND datname = '%s' AND wait_event_type = 'Lock'",
             db.name);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 10000), 1);

    h_exec(lock, "COMMIT");
    PQfinish(lock);

    /* Once stored, every read is acknowledged, and stored once. */
    h_acks_init(&a, first, NFIRST + NLATER, 8);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 20000), NFIRST + NLATER);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), 1 + NFIRST + NLATER);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(DISTINCT seq) FROM anpr.plate_read"),
              1 + NFIRST + NLATER);
    CHECK_INT(s_wait_stat(&d, " pending=", 0, 10000), 0);

    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_pending");
}
