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

    for (size_t i = 0; i < n; i++) {
        char plate[16];
        snprintf(plate, sizeof plate, "2-ND-%04zu", (size_t)(next_seq % 10000));
        struct proto_read r = h_read(CAM, next_seq++, plate, "BE");
        h_send_read(dealer, &r);
    }
    h_acks_init(&acks, first, n, 0);
    size_t got = h_acks_wait(&acks, dealer, CAM, 30000);
    h_acks_free(&acks);
    return got;
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

    /* 1. With the database: the copy is written, for anprd's user only. */
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/watchlist.snap", reads);
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
    h_db_close(&db);
    if (!check_failed)
        h_rmtree(spool);
    return check_done("itest_nodb");
}
