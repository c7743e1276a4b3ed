/*
 * Integration: anprd starts while PostgreSQL is down.
 *   1. A run with the database leaves a local copy of the watchlists and cameras next to the
 *      spool, mode 0600, and copies a watchlist change it syncs.
 *   2. With the database locked out and that copy, anprd gets READY, acknowledges reads and a
 *      plate listed while it ran before HITs; once the database lets it in, every acknowledged read
 * is stored.
 *   3. With the database locked out and the copy damaged (one flipped bit), the copy is refused
 *      by name, anprd waits without READY, and serves (reads acknowledged and stored) once the
 *      database comes.
 *   4. Without a spool and the database down: anprd waits (a SIGTERM meanwhile stops it with
 *      0), and serves once the database comes.
 *   5. With CURVE on, the keys are copied too: started with the database locked out, anprd lets
 *      in the camera whose key it had, not a key it never knew; its reads are stored later.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#include <zmq.h>

#define CAM    "BE-E314-NODB"
#define FENCE  "1-NDB-001"
#define FENCE2 "1-NDB-002"

static struct h_db db;
static uint64_t next_seq = 1;

/* Send n unlisted reads, seqs from next_seq, and wait for all their acks. How many came. */
static size_t s_send_acked(void *dealer, size_t n)
{
    struct h_acks acks;
    uint64_t first = next_seq;

    h_send_reads(dealer, CAM, &next_seq, n, "2-ND-");
    h_acks_init(&acks, first, n, 0);
    size_t got = h_acks_wait(&acks, dealer, CAM, 30000);
    h_acks_free(&acks);
    return got;
}

/* A DEALER that is a CURVE client with key pub/sec towards server, connected. */
static void *s_curve_dealer(const char *endpoint, const char *server, const char *pub,
                            const char *sec)
{
    void *s = zmq_socket(h_zmq_ctx(), ZMQ_DEALER);
    int zero = 0, ivl = 100;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 41);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 41);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 41);
    if (zmq_connect(s, endpoint) != 0)
        h_fatal("connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

/* Every read sent so far is stored, once. */
static bool s_all_stored(void)
{
    char sql[200];

    snprintf(sql, sizeof sql, "SELECT count(DISTINCT seq) FROM anpr.plate_read WHERE seq < %llu",
             (unsigned long long)next_seq);
    return h_wait_ll(db.admin, sql, (long long)(next_seq - 1), 60000) ==
               (long long)(next_seq - 1) &&
           h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read") ==
               (long long)(next_seq - 1);
}

int main(void)
{
    struct h_daemon d;
    char extra[512], spool[256], reads[300], path[400];
    struct stat st;

    h_require_env();
    h_db_create(&db, "itest_nodb");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E314 nodb');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
           "('Stolen vehicles', 'stolen', 1, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction) SELECT id, '" FENCE
           "', 'Stop and check' FROM anpr.watchlist WHERE name = 'Stolen vehicles'");

    snprintf(spool, sizeof spool, "/tmp/anprd-nodb.XXXXXX");
    if (!mkdtemp(spool))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(reads, sizeof reads, "%s/reads", spool);
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s\"\n  max_mb: 64\n", reads);
    struct h_daemon_opts opts = {.extra = extra};

    /* 1. With the database: the copy is written, for anprd's user only (the watchlist's by
     * the sync thread, once serving). */
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/watchlist.snap", reads);
    for (int64_t until = util_mono_us() + 30000000; stat(path, &st) != 0 && util_mono_us() < until;)
        usleep(20000);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(path, sizeof path, "%s/site.snap", reads);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* A change synced while running is copied too (a new file, renamed over the old). */
    snprintf(path, sizeof path, "%s/watchlist.snap", reads);
    ino_t before = stat(path, &st) == 0 ? st.st_ino : 0;
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" FENCE2
                     "' FROM anpr.watchlist WHERE name = 'Stolen vehicles'");
    bool copied = false;
    for (int64_t until = util_mono_us() + 30000000; !copied && util_mono_us() < until;) {
        copied = stat(path, &st) == 0 && st.st_ino != before;
        if (!copied)
            usleep(50000);
    }
    CHECK(copied);
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);

    /* 2. The database locked out: READY from the copy, reads acknowledged, the listed plate
     * HITs; then the database comes and every acknowledged read is stored. */
    CHECK(h_db_lock_out(&db));
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK(h_daemon_log_has(&d, "starting from the local copy"));
    void *dealer = h_dealer(d.ingest_ep);
    void *sub = h_sub(d.dispatch_ep, "");
    CHECK(h_feed_live(dealer, sub, CAM, &next_seq, FENCE2)); /* the entry added last */
    CHECK_INT(s_send_acked(dealer, 500), 500);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), 0);
    h_db_let_in(&db);
    CHECK(s_all_stored());
    /* The HIT of the fence read is stored too, once the database is back. */
    CHECK(h_wait_ll(db.admin, "SELECT least(count(*), 1) FROM anpr.hits", 1, 30000) == 1);
    h_close(sub);
    h_close(dealer);
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);

    /* 3. The copy damaged and the database locked out: refused by name, no READY, waits; then
     * serves once the database comes. */
    snprintf(path, sizeof path, "%s/watchlist.snap", reads);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        CHECK(fseek(f, 30, SEEK_SET) == 0);
        int c = fgetc(f);
        CHECK(c != EOF && fseek(f, 30, SEEK_SET) == 0);
        fputc(c ^ 0x10, f);
        fclose(f);
    }
    CHECK(h_db_lock_out(&db));
    h_daemon_launch(&d);
    CHECK(h_daemon_wait_log(&d, "checksum mismatch", 30000));
    CHECK(h_daemon_wait_log(&d, "waiting for it before taking reads", 30000));
    CHECK(h_daemon_wait_ready(&d, 0) != 0);
    h_db_let_in(&db);
    CHECK_INT(h_daemon_wait_ready(&d, 60000), 0);
    CHECK(h_daemon_log_has(&d, "database reachable after"));
    dealer = h_dealer(d.ingest_ep);
    CHECK_INT(s_send_acked(dealer, 200), 200);
    CHECK(s_all_stored());
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);

    /* 4. Without a spool, the database down: no copy is used; anprd waits, a SIGTERM meanwhile
     * stops it (exit 0), and started again it serves once the database comes. */
    struct h_daemon n;
    if (h_daemon_start(&n, &db, NULL) != 0)
        return 1;
    CHECK_INT(h_daemon_stop(&n, SIGTERM, 20000), 0);
    CHECK(h_db_lock_out(&db));
    h_daemon_launch(&n);
    CHECK(h_daemon_wait_log(&n, "no spool: a read is acknowledged once stored", 30000));
    CHECK(!h_daemon_log_has(&n, "local copy"));
    CHECK_INT(h_daemon_stop(&n, SIGTERM, 20000), 0);
    h_daemon_launch(&n);
    CHECK(h_daemon_wait_log(&n, "waiting for it before taking reads", 30000));
    CHECK(h_daemon_wait_ready(&n, 0) != 0);
    h_db_let_in(&db);
    CHECK_INT(h_daemon_wait_ready(&n, 60000), 0);
    dealer = h_dealer(n.ingest_ep);
    CHECK_INT(s_send_acked(dealer, 100), 100);
    CHECK(s_all_stored());
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&n, check_failed), 0);

    /* 5. CURVE on: the keys are copied too, and a start with the database locked out lets
     * the camera whose key was copied in, and no other. */
    char server_pub[41], server_sec[41], cam_pub[41], cam_sec[41], rogue_pub[41], rogue_sec[41];
    char key_path[300], sql[300], spool2[256], extra2[512];
    CHECK(zmq_curve_keypair(server_pub, server_sec) == 0 &&
          zmq_curve_keypair(cam_pub, cam_sec) == 0 && zmq_curve_keypair(rogue_pub, rogue_sec) == 0);
    snprintf(spool2, sizeof spool2, "/tmp/anprd-nodb.XXXXXX");
    if (!mkdtemp(spool2))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(key_path, sizeof key_path, "%s/anprd.key", spool2);
    FILE *kf = fopen(key_path, "w");
    if (!kf || fprintf(kf, "%s\n", server_sec) < 0 || fclose(kf) != 0)
        h_fatal("%s: cannot write", key_path);
    snprintf(sql, sizeof sql, "UPDATE anpr.camera SET curve_key = '%s' WHERE code = '" CAM "'",
             cam_pub);
    h_exec(db.admin, sql);
    snprintf(extra2, sizeof extra2, "spool:\n  dir: \"%s/reads\"\n  max_mb: 64\n", spool2);
    struct h_daemon c;
    struct h_daemon_opts copts = {.extra = extra2, .curve_secret_file = key_path};
    if (h_daemon_start_opts(&c, &db, &copts) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/reads/keys.snap", spool2);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_INT(h_daemon_stop(&c, SIGTERM, 20000), 0);
    CHECK(h_db_lock_out(&db));
    CHECK_INT(h_daemon_restart(&c), 0);
    CHECK(h_daemon_log_has(&c, "CURVE keys from the local copy"));
    void *rogue = s_curve_dealer(c.ingest_ep, server_pub, rogue_pub, rogue_sec);
    struct proto_read rr = h_read(CAM, next_seq, "3-RGE-001", "BE");
    h_send_read(rogue, &rr);
    dealer = s_curve_dealer(c.ingest_ep, server_pub, cam_pub, cam_sec);
    CHECK_INT(s_send_acked(dealer, 100), 100);
    uint8_t buf[512];
    CHECK(h_recv(rogue, buf, sizeof buf, 500) < 0); /* the rogue key got nothing back */
    h_db_let_in(&db);
    CHECK(s_all_stored());
    h_close(rogue);
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&c, check_failed), 0);
    if (!check_failed)
        h_rmtree(spool2);
    h_db_close(&db);
    if (!check_failed)
        h_rmtree(spool);
    return check_done("itest_nodb");
}
