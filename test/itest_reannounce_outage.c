/*
 * Integration: urgent HITs are announced again while anprd cannot learn whether they were
 * acknowledged, the safe side for a dispatch room: while the sync thread's question hangs (a
 * lock on anpr.hit_ack holds it), and while the database refuses the daemon (its role locked
 * out, its sessions ended: the sync thread backs off between reconnects). Once the database
 * answers again, an acknowledgement stops them as before. A watchlist change notified while
 * the sync thread's question hung (libpq reads the notification with the question's answer,
 * so its socket never says so) is in the snapshot at once, not at the next resync.
 *
 * Nothing here sleeps: a silence is shown by another urgent HIT, never acknowledged, being
 * announced again meanwhile (see itest_reannounce.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM     "BE-E314-BOORSEM-1"
#define ACKED   "1-OUT-001" /* acknowledged once the database is back */
#define CONTROL "1-OUT-002" /* never acknowledged */

static struct h_tally s_tally[] = {{ACKED, false, 0, 0, 0, 0}, {CONTROL, false, 0, 0, 0, 0}};
#define S_NTALLY (sizeof s_tally / sizeof s_tally[0])

static void *s_sub;

static struct h_tally *s_find(const char *plate)
{
    return h_tally_find(s_tally, S_NTALLY, plate);
}

/* Receive from the feed until the tally of plate reaches n or ms pass; whether it did. */
static bool s_until(const char *plate, int n, int ms)
{
    return h_tally_until(s_tally, S_NTALLY, &s_sub, 1, plate, n, ms);
}

static int s_n(const char *plate)
{
    return s_find(plate)->n;
}

/* Poll until the daemon's log holds needle n times, taking the feed meanwhile. */
static bool s_wait_log_n(const struct h_daemon *d, const char *needle, int n, int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;

    while (h_daemon_log_count(d, needle) < n) {
        if (util_mono_us() >= deadline)
            return false;
        s_until("", 1, 20);
    }
    return true;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char sql[512];

    h_require_env();
    h_db_create(&db, "itest_reannounce_outage");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E314');"
                     "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
                     "('Wanted persons', 'wanted', 1, 0), ('Fence', 'surveillance', 9, 0);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'FENCE-1' "
                     "FROM anpr.watchlist WHERE name = 'Fence';"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p "
                     "FROM anpr.watchlist, (VALUES ('" ACKED "'), ('" CONTROL "')) v(p) "
                     "WHERE name = 'Wanted persons'");
    struct h_daemon_opts opts = {.dispatch = "  reannounce_s: 1\n  reannounce_priority: 2\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);
    s_sub = h_sub(d.dispatch_ep, "hit/");
    uint64_t seq = 1;
    CHECK(h_feed_live(dealer, s_sub, CAM, &seq, "FENCE-1"));
    struct proto_read a = h_read(CAM, seq++, ACKED, "BE"), b = h_read(CAM, seq++, CONTROL, "BE");
    h_send_read(dealer, &a);
    h_send_read(dealer, &b);
    CHECK(s_until(CONTROL, 2, 5000));
    CHECK(s_until(ACKED, 2, 3000));
    CHECK(!h_daemon_log_has(&d, "acknowledgements cannot be read"));

    /* 1. The question hangs: the sync thread waits for a lock on anpr.hit_ack. */
    PGconn *lock = PQconnectdb(db.admin_ci);
    CHECK(PQstatus(lock) == CONNECTION_OK);
    PQclear(PQexec(lock, "BEGIN; LOCK TABLE anpr.hit_ack IN ACCESS EXCLUSIVE MODE"));
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'anprd-sync' AND wait_event_type = 'Lock'",
                        1, 5000),
              1);
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'LISTED-1' "
                     "FROM anpr.watchlist WHERE name = 'Fence'");
    int c = s_n(CONTROL), n = s_n(ACKED);
    CHECK(s_until(CONTROL, c + 2, 6000));
    CHECK(s_until(ACKED, n + 2, 3000));
    CHECK(h_daemon_log_has(&d, "acknowledgements cannot be read"));
    fprintf(stderr, "while the question hung: %d more\n", s_n(CONTROL) - c);
    PQclear(PQexec(lock, "COMMIT"));
    PQfinish(lock);
    CHECK(s_wait_log_n(&d, "acknowledgements can be read again", 1, 5000));
    int64_t t0 = util_mono_us();
    CHECK(h_feed_live(dealer, s_sub, CAM, &seq, "LISTED-1"));
    fprintf(stderr, "entry listed during the hang matched after %.1f s\n",
            (double)(util_mono_us() - t0) / 1e6);

    /* 2. The database refuses the daemon: the sync thread is reconnecting with backoff. */
    CHECK(h_db_lock_out(&db));
    c = s_n(CONTROL);
    n = s_n(ACKED);
    CHECK(s_until(CONTROL, c + 2, 6000));
    CHECK(s_until(ACKED, n + 2, 3000));
    CHECK_INT(h_daemon_log_count(&d, "acknowledgements cannot be read"), 2);
    fprintf(stderr, "while locked out: %d more\n", s_n(CONTROL) - c);

    /* 3. Back: an acknowledgement counts again. */
    h_db_let_in(&db);
    CHECK(s_wait_log_n(&d, "acknowledgements can be read again", 2, 10000));
    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.hit_ack (hit_id, decision) VALUES (%" PRIu64 ", 'accepted')",
             s_find(ACKED)->id);
    h_exec(db.admin, sql);
    c = s_n(CONTROL);
    CHECK(s_until(CONTROL, c + 2, 6000));
    n = s_n(ACKED);
    CHECK(s_until(CONTROL, c + 3, 3000));
    CHECK_INT(s_n(ACKED), n);

    h_close(dealer);
    h_close(s_sub);
    /* Every announcement again came under the id it came with first. */
    for (size_t i = 0; i < S_NTALLY; i++)
        CHECK_INT(s_tally[i].wrong, 0);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_reannounce_outage");
}
