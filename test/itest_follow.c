/*
 * Integration: the dispatch feed's heartbeat and following the car (PROTOCOL.md 5.7, 5.8).
 *
 * - A subscriber of "feed/heartbeat" gets a HEARTBEAT every dispatch.heartbeat_s, with anprd's
 *   clock, its instance and the cameras; a subscriber of "hit/" only never sees one.
 * - A stolen car alerted at camera A and then read at A again (no news) and at camera B within
 *   the list's suppression window: one sighting on "seen/stolen", under the alert's hit_id,
 *   with B's read; the repeats are stored (suppressed), the stats line counts the sighting;
 *   the alert's re-announcement carries B, its latest sighting, not A.
 * - Once anprd is stopped, no heartbeat comes.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM_A "BE-E314-BOORSEM-1"
#define CAM_B "BE-SMEERMAAS-N2"
#define CAM_C "BE-N78-VELDWEZELT"
#define CAR   "1-FOL-001"

/* The next HIT frame from sub within ms whose plate is `plate`; false when none came. */
static bool s_next_hit(void *sub, const char *plate, struct proto_hit *h, int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;
    uint8_t buf[PROTO_MAX_FRAME];

    while (util_mono_us() < deadline) {
        int left = (int)((deadline - util_mono_us()) / 1000) + 1;
        int n = h_recv(sub, buf, sizeof buf, left);
        if (n > 0 && proto_decode_hit(buf, (size_t)n, h, NULL) == 0 &&
            strcmp(h->read.plate, plate) == 0)
            return true;
    }
    return false;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    uint8_t buf[PROTO_MAX_FRAME];
    struct proto_heartbeat hb;
    struct proto_error perr;

    h_require_env();
    h_db_create(&db, "itest_follow");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM_A "', 'E314 Boorsem'),"
                     "('" CAM_B "', 'N2 Smeermaas'), ('" CAM_C "', 'N78 Veldwezelt');"
                     "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
                     "('Stolen vehicles', 'stolen', 1, 600), ('Fence', 'surveillance', 9, 0);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" CAR "' "
                     "FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'FENCE-1' "
                     "FROM anpr.watchlist WHERE name = 'Fence';");
    struct h_daemon_opts opts = {.dispatch =
                                     "  instance: 5\n  reannounce_s: 1\n  heartbeat_s: 1\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        h_fatal("anprd did not start");

    void *beats = h_sub(d.dispatch_ep, PROTO_TOPIC_HEARTBEAT);
    void *hits = h_sub(d.dispatch_ep, "hit/");
    void *seen = h_sub(d.dispatch_ep, PROTO_TOPIC_SEEN);
    void *dealer = h_dealer(d.ingest_ep);
    uint64_t seq = 1;

    /* 1. The heartbeat: within a few intervals, decoded, anprd's instance, its 3 cameras. */
    int n = h_recv(beats, buf, sizeof buf, 20000);
    CHECK(n > 0);
    CHECK_INT(n > 0 ? proto_decode_heartbeat(buf, (size_t)n, &hb, &perr) : -1, 0);
    CHECK_INT(hb.instance, 5);
    CHECK_INT(hb.interval_ms, 1000);
    CHECK_INT(hb.silent_after_s, 600);
    CHECK_INT(hb.cameras, 3);
    CHECK_INT(hb.reporting, 3); /* none silent yet: they count from anprd's start */
    CHECK(llabs(hb.time_us - util_now_us()) < 60LL * 1000000);
    /* And again: it keeps coming. */
    CHECK(h_recv(beats, buf, sizeof buf, 20000) > 0);

    /* 2. Alert at A; A again (no news); B: a sighting of the alert, with B's read. */
    CHECK(h_feed_live(dealer, hits, CAM_C, &seq, "FENCE-1"));
    struct proto_read r = h_read(CAM_A, seq++, CAR, "BE");
    h_send_read(dealer, &r);
    struct proto_hit alert, sight, again;
    CHECK(s_next_hit(hits, CAR, &alert, 20000));
    CHECK_STR(alert.read.camera, CAM_A);
    CHECK(alert.hit_id != 0);
    r = h_read(CAM_A, seq++, CAR, "BE");
    h_send_read(dealer, &r);
    r = h_read(CAM_B, seq++, CAR, "BE");
    r.direction = PROTO_DIR_AWAY;
    h_send_read(dealer, &r);
    CHECK(s_next_hit(seen, CAR, &sight, 20000));
    CHECK_INT(sight.hit_id, alert.hit_id);
    CHECK_STR(sight.read.camera, CAM_B);
    CHECK_INT(sight.read.seq, r.seq);
    CHECK_INT(sight.read.direction, PROTO_DIR_AWAY);
    CHECK_STR(sight.list, "Stolen vehicles");
    /* The repeat at A gave none: the first sighting was B's, and no other follows soon. */
    CHECK(!s_next_hit(seen, CAR, &again, 500));

    /* 3. The re-announcement carries the latest sighting, B. The first one after the
     * sighting may have been on its way already: the one after it is certain. */
    bool carried = false;
    for (int i = 0; i < 3 && !carried; i++)
        carried = s_next_hit(hits, CAR, &again, 20000) && again.hit_id == alert.hit_id &&
                  strcmp(again.read.camera, CAM_B) == 0;
    CHECK(carried);

    /* 4. Stored: the alert, and both repeats held back. The stats line counts the sighting. */
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT count(*) FROM anpr.hits h JOIN anpr.camera c ON c.id = "
                        "h.camera_id WHERE h.plate = '1FOL001' AND h.suppressed",
                        2, 20000),
              2);
    CHECK(h_daemon_wait_log(&d, " seen=1 ", 20000) || h_daemon_stat(&d, " seen=") >= 1);

    /* 5. A subscriber of "hit/" got no heartbeat: every frame it had was a HIT. */
    int others = 0;
    while ((n = h_recv(hits, buf, sizeof buf, 200)) > 0)
        others += proto_decode_hit(buf, (size_t)n, &again, NULL) != 0;
    CHECK_INT(others, 0);

    /* 6. anprd stopped: the heartbeat stops. */
    while (h_recv(beats, buf, sizeof buf, 0) > 0)
        ;
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK(h_recv(beats, buf, sizeof buf, 3000) < 0);

    h_close(beats);
    h_close(hits);
    h_close(seen);
    h_close(dealer);
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    h_db_close(&db);
    return check_done("itest_follow");
}
