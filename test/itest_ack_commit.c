/*
 * Integration: a read is acknowledged only once it is committed. While another session holds
 * plate_read locked, the daemon's writer cannot store anything, so no ACK may arrive; after
 * the lock goes, every read is acknowledged and stored once. A read resent while it is still
 * pending is stored once and produces one HIT, not one per copy.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM    "CAM-ACK"
#define NREADS 50
#define LISTED 20 /* index of the read of a listed plate among the NREADS */

static const char *const fence_plate = "FENCE-1";
static const char *const listed_plate = "7-LST-777";

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct h_acks a;
    struct proto_hit hits[16];
    uint64_t seq = 1;
    char sql[512];

    h_require_env();
    h_db_create(&db, "itest_ack_commit");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'ack reader');"
                     "INSERT INTO anpr.watchlist (name, category, priority) VALUES "
                     "('Wanted', 'wanted', 2);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p "
                     "FROM anpr.watchlist, (VALUES ('FENCE-1'), ('7-LST-777')) v(p) "
                     "WHERE name = 'Wanted'");
    /* Every sighting alerts: these tests count HITs (the default suppresses repeats). */
    h_exec(db.admin, "UPDATE anpr.watchlist SET suppress_s = 0");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);
    void *sub = h_sub(d.dispatch_ep, "hit/");

    CHECK(h_feed_live(dealer, sub, CAM, &seq, fence_plate));
    uint64_t probes = seq - 1;
    /* Every probe acknowledged before the lock, so any ACK later is one of the reads below. */
    h_acks_init(&a, 1, (size_t)probes, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), probes);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);

    /* Another session takes plate_read: the writer cannot store a row until it commits. */
    PGconn *lock = PQconnectdb(db.admin_ci);
    if (PQstatus(lock) != CONNECTION_OK)
        h_fatal("second admin connection: %s", PQerrorMessage(lock));
    h_exec(lock, "BEGIN");
    h_exec(lock, "LOCK TABLE anpr.plate_read IN ACCESS EXCLUSIVE MODE");

    /* NREADS reads; the listed one three times as the same frame (resent while pending). */
    uint64_t first = seq;
    uint8_t listed_frame[PROTO_MAX_FRAME];
    size_t listed_len = 0;
    for (int i = 0; i < NREADS; i++) {
        char plate[32];
        uint8_t frame[PROTO_MAX_FRAME];
        snprintf(plate, sizeof plate, "1-ACK-%03d", i);
        struct proto_read r = h_read(CAM, seq++, i == LISTED ? listed_plate : plate, "BE");
        size_t len = proto_encode_read(&r, frame, sizeof frame);
        if (len == 0)
            h_fatal("read %d does not encode", i);
        if (i == LISTED) {
            memcpy(listed_frame, frame, len);
            listed_len = len;
        }
        CHECK_INT(h_send_raw(dealer, frame, len), 0);
    }
    for (int i = 0; i < 2; i++)
        CHECK_INT(h_send_raw(dealer, listed_frame, listed_len), 0);
    uint64_t listed_seq = first + LISTED;

    /* The writer has the reads and waits for the lock... */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'anprd' "
             "AND datname = '%s' AND wait_event_type = 'Lock'",
             db.name);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 10000), 1);
    /* ...and nothing is acknowledged meanwhile (a bounded wait for an absence). */
    h_acks_init(&a, first, NREADS, 8);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 1500), 0);
    CHECK_INT(a.nrejects, 0);

    h_exec(lock, "COMMIT");
    PQfinish(lock);

    /* Once committed, all are acknowledged and each is stored once. */
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), NREADS);
    CHECK_INT(a.nrejects, 0);
    for (size_t i = 0; i < a.nrejects; i++)
        fprintf(stderr, "REJECT seq %" PRIu64 ": %s\n", a.rejects[i].seq, a.rejects[i].text);
    h_acks_free(&a);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id "
             "WHERE c.code = '" CAM "' AND r.seq BETWEEN %" PRIu64 " AND %" PRIu64,
             first, first + NREADS - 1);
    CHECK_INT(h_query_ll(db.admin, sql), NREADS);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT r.seq) FROM anpr.plate_read r JOIN anpr.camera c "
             "ON c.id = r.camera_id WHERE c.code = '" CAM "' AND r.seq BETWEEN %" PRIu64
             " AND %" PRIu64,
             first, first + NREADS - 1);
    CHECK_INT(h_query_ll(db.admin, sql), NREADS);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), probes + NREADS);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE plate = '7LST777'"),
              1);

    /* One HIT for the listed read, however often it came: a fence read closes the set. */
    struct proto_read fence = h_read(CAM, seq++, fence_plate, "");
    h_send_read(dealer, &fence);
    int n = h_collect_hits(sub, CAM, fence.seq, fence_plate, hits, 16, 5000);
    CHECK_INT(n, 1);
    int listed_hits = 0;
    for (int j = 0; j < n && j < 16; j++) {
        if (strcmp(hits[j].read.plate, listed_plate) != 0)
            continue;
        listed_hits++;
        CHECK_INT(hits[j].read.seq, listed_seq);
        CHECK_STR(hits[j].list, "Wanted");
    }
    CHECK_INT(listed_hits, 1);
    h_acks_init(&a, fence.seq, 1, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), 1);
    h_acks_free(&a);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE plate = '7LST777'"), 1);

    h_close(dealer);
    h_close(sub);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_ack_commit");
}
