/*
 * Integration: one identity for a read, (camera, epoch, seq) (PROTOCOL.md 8), through the real
 * daemon, without and with its write-ahead spool:
 *   1. a resend with the same content is acknowledged again, stored once, alerted once;
 *   2. the same identity with its time one second on, or another plate, is refused with
 *      14 conflict, counted, and never stored;
 *   3. a camera whose counter starts over under a new epoch (version 2) loses no read;
 *   4. a conflict inside one burst: the first is stored, the other refused;
 *   5. an identity the daemon does not remember (put in the database behind its back) is
 *      judged by the writer: refused (no spool) or counted after its ACK (spool);
 *   6. after a restart (no spool: a clean stop; spool: kill -9 while the database is away, so
 *      the reads are only in the spool and come back by its replay), resends and conflicts
 *      follow the same rules.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define FENCE_CAM "ID-FENCE"
#define FENCE     "FENCE-1"

static struct h_db db;
static struct h_daemon d;
static void *dealer, *sub;
static uint64_t fence_seq = 1;

/*
 * Send r and wait for the answer that names it: 0 for an ACK, the reason of a REJECT, -1 when
 * none comes within 20 s. Answers about other reads are skipped.
 */
static int s_answer_of(const struct proto_read *r)
{
    int64_t deadline = util_mono_us() + 20000000;

    for (;;) {
        uint8_t buf[PROTO_MAX_FRAME];
        struct proto_ack_range ranges[PROTO_ACK_MAX_RANGES];
        struct proto_reject rej;
        size_t nr;
        uint8_t type;
        int64_t left = (deadline - util_mono_us()) / 1000;
        int len = left > 0 ? h_recv(dealer, buf, sizeof buf, (int)left) : -1;

        if (len < 0)
            return -1;
        if (proto_peek(buf, (size_t)len, &type, NULL) != 0)
            return -1;
        if (type == PROTO_ACK &&
            proto_decode_ack(buf, (size_t)len, ranges, PROTO_ACK_MAX_RANGES, &nr, NULL) == 0) {
            for (size_t i = 0; i < nr; i++)
                if (strcmp(ranges[i].camera, r->camera) == 0 && ranges[i].epoch == r->epoch &&
                    r->seq >= ranges[i].first_seq && r->seq - ranges[i].first_seq < ranges[i].count)
                    return 0;
        } else if (type == PROTO_REJECT && proto_decode_reject(buf, (size_t)len, &rej, NULL) == 0 &&
                   strcmp(rej.camera, r->camera) == 0 && rej.epoch == r->epoch &&
                   rej.seq == r->seq) {
            if (rej.reason == PROTO_E_CONFLICT)
                CHECK_STR(rej.text, "read (camera, epoch, seq) already stored with other content");
            return rej.reason;
        }
    }
}

static int s_send(const struct proto_read *r)
{
    h_send_read(dealer, r);
    return s_answer_of(r);
}

/* HITs published since the last fence: send a fence read and count those before its HIT. */
static int s_hits_since(void)
{
    struct proto_hit hits[16];
    struct proto_read fence = h_read(FENCE_CAM, fence_seq++, FENCE, "");

    h_send_read(dealer, &fence);
    return h_collect_hits(sub, FENCE_CAM, fence.seq, FENCE, hits, 16, 10000);
}

/* Rows of plate_read for (camera, epoch, seq), waiting up to 10 s for `want`. */
static long long s_rows(const char *cam, uint32_t epoch, uint64_t seq, long long want)
{
    char sql[512];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id "
             "WHERE c.code = '%s' AND r.epoch = %" PRIu32 " AND r.seq = %" PRIu64,
             cam, epoch, seq);
    return h_wait_ll(db.admin, sql, want, 10000);
}

/* Rows of anpr.hits for a camera's reads of a (normalised) plate, waiting up to 10 s. */
static long long s_hit_rows(const char *cam, const char *plate, long long want)
{
    char sql[512];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits h JOIN anpr.camera c ON c.id = h.camera_id "
             "WHERE c.code = '%s' AND h.plate = '%s'",
             cam, plate);
    return h_wait_ll(db.admin, sql, want, 10000);
}

static void s_start(bool spool, const char *spool_dir)
{
    char extra[512];
    struct h_daemon_opts opts = {0};

    if (spool) {
        snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/reads\"\n  max_mb: 64\n", spool_dir);
        opts.extra = extra;
    }
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        h_fatal("anprd did not start");
    dealer = h_dealer(d.ingest_ep);
    sub = h_sub(d.dispatch_ep, "hit/");
    CHECK(h_feed_live(dealer, sub, FENCE_CAM, &fence_seq, FENCE));
}

static void s_reconnect(void)
{
    h_close(dealer);
    h_close(sub);
    dealer = h_dealer(d.ingest_ep);
    sub = h_sub(d.dispatch_ep, "hit/");
    CHECK(h_feed_live(dealer, sub, FENCE_CAM, &fence_seq, FENCE));
}

static void s_run(bool spool)
{
    const char *cam = spool ? "ID-SP" : "ID-DB";
    char spool_dir[64] = "";

    if (spool) {
        snprintf(spool_dir, sizeof spool_dir, "/tmp/anprd-ident.XXXXXX");
        if (!mkdtemp(spool_dir))
            h_fatal("mkdtemp");
    }
    s_start(spool, spool_dir);

    /* 1. A listed plate, then the same read again: one ACK each, one row, one HIT. */
    struct proto_read r1 = h_read(cam, 1, "1-IDN-001", "BE");
    CHECK_INT(s_send(&r1), 0);
    CHECK_INT(s_hits_since(), 1);
    CHECK_INT(s_send(&r1), 0);
    CHECK_INT(s_hits_since(), 0);

    /* 2. Its time one second on, or another plate: refused, not stored, not alerted. */
    struct proto_read later = r1;
    later.time_us += 1000000;
    CHECK_INT(s_send(&later), PROTO_E_CONFLICT);
    struct proto_read other = r1;
    snprintf(other.plate, sizeof other.plate, "1-IDN-002");
    CHECK_INT(s_send(&other), PROTO_E_CONFLICT);
    CHECK_INT(s_hits_since(), 0);
    CHECK_INT(s_rows(cam, 0, 1, 1), 1);
    CHECK_INT(s_hit_rows(cam, "1IDN001", 1), 1);
    CHECK_INT(s_hit_rows(cam, "1IDN002", 0), 0);

    /* 3. Version 2: epoch 1000, seq 1..3; the counter starts over under epoch 2000. All six
     * are stored (and (camera, 0, 1) is yet another read). */
    for (uint32_t epoch = 1000; epoch <= 2000; epoch += 1000)
        for (uint64_t s = 1; s <= 3; s++) {
            char plate[16];
            snprintf(plate, sizeof plate, "1-EP%c-00%" PRIu64, epoch == 1000 ? 'A' : 'B', s);
            struct proto_read r = h_read(cam, s, plate, "BE");
            r.epoch = epoch;
            CHECK_INT(s_send(&r), 0);
        }
    for (uint64_t s = 1; s <= 3; s++) {
        CHECK_INT(s_rows(cam, 1000, s, 1), 1);
        CHECK_INT(s_rows(cam, 2000, s, 1), 1);
    }
    CHECK_INT(s_rows(cam, 0, 1, 1), 1);
    /* ... and the other rules hold in version 2 too. */
    struct proto_read v2 = h_read(cam, 2, "1-EPB-002", "BE");
    v2.epoch = 2000;
    v2.time_us = h_read(cam, 2, "x", "").time_us; /* a time other than the stored one */
    CHECK_INT(s_send(&v2), PROTO_E_CONFLICT);

    /* 4. One burst: seq 10 with two plates. The first is stored, the second refused; one
     * row. Then the first again: acknowledged. */
    struct proto_read b1 = h_read(cam, 10, "1-BRS-001", "BE");
    struct proto_read b2 = b1;
    snprintf(b2.plate, sizeof b2.plate, "1-BRS-002");
    h_send_read(dealer, &b1);
    h_send_read(dealer, &b2);
    int acks = 0, conflicts = 0;
    for (int i = 0; i < 2; i++) {
        int a = s_answer_of(&b1);
        acks += a == 0;
        conflicts += a == PROTO_E_CONFLICT;
    }
    CHECK_INT(acks, 1);
    CHECK_INT(conflicts, 1);
    CHECK_INT(s_send(&b1), 0);
    CHECK_INT(s_rows(cam, 0, 10, 1), 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE plate = '1BRS002'"),
              0); /* no camera stores it: the spool run refuses it too */

    /* 5. An identity stored behind the daemon's back (it does not remember it): the writer
     * judges it against anpr.read_identity. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.read_identity (camera_id, epoch, seq, read_us, digest) "
             "SELECT id, 0, 500, 1764288000000000, 12345 FROM anpr.camera WHERE code = '%s'",
             cam);
    h_exec(db.admin, sql);
    struct proto_read r500 = h_read(cam, 500, "1-IDN-005", "BE");
    if (!spool) {
        CHECK_INT(s_send(&r500), PROTO_E_CONFLICT);
    } else {
        /* Acknowledged from the spool: the writer finds the conflict later, counts it, says
         * it, and stores nothing. */
        CHECK_INT(s_send(&r500), 0);
        CHECK(h_daemon_wait_log(&d, "its identity is stored with other content", 10000));
    }
    CHECK_INT(s_rows(cam, 0, 500, 0), 0);
    CHECK_INT(s_hit_rows(cam, "1IDN005", 0), 0);
    /* A listed plate's HIT may have gone out with the spool's ACK; none without it. */
    if (!spool)
        CHECK_INT(s_hits_since(), 0);

    /* 6. A restart. Spool: the next reads reach only the spool (the database is away), then
     * kill -9; the restarted daemon knows them from the spool before it stores them. */
    struct proto_read r30 = h_read(cam, 30, "1-IDN-030", "BE");
    if (spool) {
        CHECK(h_db_lock_out(&db));
        CHECK_INT(s_send(&r30), 0);
        CHECK_INT(h_daemon_stop(&d, SIGKILL, 10000), 128 + SIGKILL);
        h_db_let_in(&db);
    } else {
        CHECK_INT(s_send(&r30), 0);
        CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    }
    CHECK_INT(h_daemon_restart(&d), 0);
    s_reconnect();
    CHECK_INT(s_send(&r30), 0); /* a resend: acknowledged again */
    CHECK_INT(s_send(&r1), 0);
    CHECK_INT(s_hits_since(), 0); /* ... and not alerted again */
    struct proto_read r30b = r30;
    r30b.time_us += 1000000;
    CHECK_INT(s_send(&r30b), PROTO_E_CONFLICT);
    CHECK_INT(s_send(&later), PROTO_E_CONFLICT);
    CHECK_INT(s_rows(cam, 0, 30, 1), 1);
    CHECK_INT(s_hit_rows(cam, "1IDN030", 1), 1);
    CHECK_INT(s_hit_rows(cam, "1IDN001", 1), 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_alias"), 0);

    /* Conflicts are counted: 2 after the restart (reject counters start at 0). */
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK_INT(h_daemon_stat(&d, " conflict="), 2);
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    h_close(dealer);
    h_close(sub);
    if (spool)
        h_rmtree(spool_dir);
}

int main(void)
{
    h_require_env();
    h_db_create(&db, "itest_identity");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('ID-DB', 'identity, no spool'), "
           "('ID-SP', 'identity, spool'), ('" FENCE_CAM "', 'fence');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
           "('Identity', 'stolen', 1, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p FROM anpr.watchlist,"
           " (VALUES ('1-IDN-001'), ('1-IDN-002'), ('1-IDN-005'), ('1-IDN-030'), ('" FENCE
           "')) v(p) WHERE name = 'Identity'");
    s_run(false);
    s_run(true);
    /* Every identity the daemon wrote, by the fast COPY and by the de-duplicating path, names
     * its read's plate (the plate index of history); the one planted by hand above has none. */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.read_identity WHERE plate IS NULL"),
              2);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.read_identity i "
                                   "JOIN anpr.plate_read r ON r.camera_id = i.camera_id "
                                   "AND r.epoch = i.epoch AND r.seq = i.seq "
                                   "AND r.read_time = anpr.time_of(i.read_us) "
                                   "WHERE i.plate = r.plate"),
              h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"));
    h_db_close(&db);
    return check_done("itest_identity");
}
