/*
 * Integration: a read the database refuses for its data never blocks the others. A CHECK
 * constraint added to plate_read (a real database rule, standing in for any value PostgreSQL
 * will not take) makes one read of a batch unstorable: the batch is stored read by read, the
 * good reads are stored and acknowledged, the bad one gets a REJECT naming the SQLSTATE, and
 * the daemon goes on. The HIT of a good read is published; the refused read's HIT, never
 * stored, is not. With the read spool (a HIT goes out once its read is in the spool) the
 * refused read's urgent HIT is let go from re-announcement.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

#define CAM "CAM-REFUSED"
#define N   40

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct proto_reject rej;
    struct h_acks a;

    h_require_env();
    h_db_create(&db, "itest_refused");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'refused'), "
                     "('CAM-WARM', 'warm-up')");
    h_exec(db.admin, "ALTER TABLE anpr.plate_read ADD CONSTRAINT no_poison "
                     "CHECK (plate <> 'POISON1')");
    h_exec(db.admin, "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
                     "('Stolen', 'stolen', 1, 0);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p FROM "
                     "anpr.watchlist, (VALUES ('POISON1'), ('1GUD005'), ('1GUD999')) v(p)");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;
    void *s = h_dealer(d.ingest_ep);
    void *sub = h_sub(d.dispatch_ep, "hit/");
    uint64_t warm = 1;
    CHECK(h_feed_live(s, sub, "CAM-WARM", &warm, "1-GUD-999"));

    /* One burst, so the poisoned read shares its batch with good ones. */
    for (int i = 1; i <= N; i++) {
        char plate[32];
        snprintf(plate, sizeof plate, "1-GUD-%03d", i);
        if (i == 17)
            snprintf(plate, sizeof plate, "POISON-1");
        struct proto_read r = h_read(CAM, (uint64_t)i, plate, "BE");
        h_send_read(s, &r);
    }
    h_acks_init(&a, 1, N, 4);
    CHECK_INT(h_wait_reject(&a, s, CAM, &rej, 20000), 0);
    CHECK_INT(rej.reason, PROTO_E_FIELD);
    CHECK_INT(rej.seq, 17);
    CHECK_CONTAINS(rej.text, "SQLSTATE 23514");
    a.acked[16] = true; /* the refused one is answered by its REJECT */
    CHECK_INT(h_acks_wait(&a, s, CAM, 20000), N);
    h_acks_free(&a);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c "
                                   "ON c.id = r.camera_id WHERE c.code = '" CAM "'"),
              N - 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE seq = 17"), 0);

    /* It goes on: the next batch takes the fast path again. */
    struct proto_read r = h_read(CAM, N + 1, "1-GUD-999", "BE");
    h_send_read(s, &r);
    h_acks_init(&a, N + 1, 1, 4);
    CHECK_INT(h_acks_wait(&a, s, CAM, 10000), 1);
    h_acks_free(&a);
    /* HITs up to that read: the good read's, not the refused one's. */
    struct proto_hit hits[8];
    int nh = h_collect_hits(sub, CAM, N + 1, "1-GUD-999", hits, 8, 5000);
    CHECK_INT(nh, 1);
    CHECK(nh == 1 && hits[0].read.seq == 5);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE seq = 17"), 0);
    h_close(sub);

    h_close(s);
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    /* The log names the read, not its contents. */
    CHECK(h_daemon_log_has(&d, "read " CAM " seq 17 refused by the database"));
    CHECK(!h_daemon_log_has(&d, "POISON"));
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);

    /* With the read spool a HIT is published once its read is durable in the spool, before
     * the database refuses the read. Nobody can acknowledge a HIT never stored, so the urgent
     * one is announced again only until anprd learns it is not in the database. */
    struct h_daemon d2;
    char spool[64] = "/tmp/anprd-refused.XXXXXX", extra[256];
    if (!mkdtemp(spool))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/reads\"\n", spool);
    struct h_daemon_opts opts = {.dispatch = "  reannounce_s: 1\n", .extra = extra};
    if (h_daemon_start_opts(&d2, &db, &opts) != 0)
        return 1;
    void *s2 = h_dealer(d2.ingest_ep);
    struct proto_read poison = h_read(CAM, N + 2, "POISON-1", "BE");
    h_send_read(s2, &poison);
    CHECK(h_daemon_wait_log(&d2, "was not stored (its read was refused)", 20000));
    CHECK(h_daemon_log_has(&d2, "read " CAM " seq 42 refused by the database"));
    h_close(s2);
    CHECK_INT(h_daemon_finish(&d2, check_failed), 0);
    h_rmtree(spool);
    h_db_close(&db);
    return check_done("itest_refused");
}
