/*
 * Integration: a resend storm leaves no pile of HIT aliases. With the read spool on and the
 * backbone's outbound spool full (its server unreachable, backbone.max_mb 1, filled with
 * the HITs of a listed plate), a read of a listed plate is refused ("resend later") although its
 * spool record is kept and stored, with its HIT. Its camera resends it again and again, and every
 * copy is refused and stored the same way. Each copy used to be matched under a new HIT id, and
 * every new id became a row of anpr.hit_alias: hundreds of thousands in a real storm. Now a read
 * matched again keeps its HITs' ids: one HIT is stored and no alias at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "testcert.h"
#include "util.h"

#define CAM     "CAM-ALIAS"
#define LISTED  "1-ALS-001"
#define BURST   200
#define NRESEND 100

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct h_acks a;
    struct proto_reject rej;
    char dir[] = "/tmp/itest-alias.XXXXXX", extra[2048], err[256], ca[256], cert[256], key[256];
    uint64_t seq = 1;
    bool full = false;

    h_require_env();
    if (!mkdtemp(dir) || testcert_make(dir, err, sizeof err) != 0)
        h_fatal("certificates: %s", err);
    h_db_create(&db, "itest_alias_storm");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'storm reader');"
                     "INSERT INTO anpr.watchlist (name, category, priority) VALUES "
                     "('Stolen', 'stolen', 1);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" LISTED
                     "' FROM anpr.watchlist");
    /* Nothing listens on the backbone's port: every HIT and read stays in its spool. */
    snprintf(extra, sizeof extra,
             "spool:\n  dir: \"%s/reads\"\n"
             "backbone:\n  host: \"127.0.0.1\"\n  port: %d\n  ca_file: \"%s\"\n"
             "  cert_file: \"%s\"\n  key_file: \"%s\"\n  instance: \"zone-test\"\n"
             "  spool_dir: \"%s/outbound\"\n  max_mb: 1\n",
             dir, h_free_port(), testcert_path(dir, "ca.pem", ca, sizeof ca),
             testcert_path(dir, "client.pem", cert, sizeof cert),
             testcert_path(dir, "client.key", key, sizeof key), dir);
    struct h_daemon_opts opts = {.extra = extra,
                                 .ingest = "  peer_rate_per_s: 1000000\n  peer_burst: 10000000\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);

    /* Reads of the listed plate until the outbound spool refuses one (1 MiB of HITs: some
     * thousands). */
    for (int b = 0; b < 100 && !full; b++) {
        uint64_t first = seq;
        for (int i = 0; i < BURST; i++) {
            struct proto_read r = h_read(CAM, seq++, LISTED, "BE");
            CHECK_INT(h_send_read(dealer, &r), 0);
        }
        h_acks_init(&a, first, BURST, BURST);
        /* Until every read of the burst is answered (ACK or REJECT), 20 s at most: a busy
         * machine may be slow, and a REJECT is never followed by an ACK. */
        size_t acked = 0;
        int64_t until = util_mono_us() + 20000000;
        while ((acked = h_acks_wait(&a, dealer, CAM, 200)) + a.nrejects < BURST &&
               util_mono_us() < until)
            ;
        full = a.nrejects > 0;
        if (!full)
            CHECK_INT(acked, BURST);
        h_acks_free(&a);
    }
    CHECK(full);

    /* The listed read, refused, and resent again and again: refused each time. */
    struct proto_read listed = h_read(CAM, seq++, LISTED, "BE");
    uint8_t frame[PROTO_MAX_FRAME];
    size_t len = proto_encode_read(&listed, frame, sizeof frame);
    if (len == 0)
        h_fatal("the listed read does not encode");
    int refused = 0;
    h_acks_init(&a, listed.seq, 1, 1);
    for (int i = 0; i <= NRESEND; i++) {
        CHECK_INT(h_send_raw(dealer, frame, len), 0);
        while (h_wait_reject(&a, dealer, CAM, &rej, 10000) == 0)
            if (rej.seq == listed.seq) {
                refused++;
                CHECK(strstr(rej.text, "backbone") != NULL);
                break;
            }
    }
    h_acks_free(&a);
    CHECK_INT(refused, NRESEND + 1);

    /* The refused copies' records are written with the next group that has a read taken. */
    struct proto_read other = h_read(CAM, seq++, "1-OTH-001", "BE");
    CHECK_INT(h_send_read(dealer, &other), 0);
    h_acks_init(&a, other.seq, 1, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), 1);
    h_acks_free(&a);

    /* Every copy's record is stored: the first as the read, the others as duplicates. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.plate_read WHERE seq = %" PRIu64,
             listed.seq);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 20000), 1);
    int64_t deadline = util_mono_us() + 30000000;
    while (h_daemon_stat(&d, " duplicate=") < NRESEND && util_mono_us() < deadline)
        h_daemon_wait_log(&d, " duplicate=", 200);
    CHECK(h_daemon_stat(&d, " duplicate=") >= NRESEND);

    /* One HIT, under one id, and not one alias. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hits WHERE seq = %" PRIu64, listed.seq);
    CHECK_INT(h_query_ll(db.admin, sql), 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_alias"), 0);

    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_rmtree(dir);
    h_db_close(&db);
    return check_done("itest_alias_storm");
}
