/*
 * Integration: a watchlist change committed by an admin reaches the running daemon without a
 * restart: an added entry hits within a second, a corrected, removed or expired one stops
 * hitting within a second, entry changes patch the snapshot (no full load) while a list change
 * loads it in full, and a change made while the daemon's sync session is cut is caught up after
 * it reconnects.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "BE-N78-MAASMECHELEN"

static void *dealer, *sub;
static uint64_t seq = 1;

/* Send a read of plate, then a fence; how many HITs the plate's read got (-1: no fence). */
static int s_probe(const char *plate)
{
    struct proto_hit hits[8];
    struct proto_read r = h_read(CAM, seq++, plate, "BE");
    struct proto_read fence = h_read(CAM, seq++, "FENCE-1", "");

    h_send_read(dealer, &r);
    h_send_read(dealer, &fence);
    return h_collect_hits(sub, CAM, fence.seq, "FENCE-1", hits, 8, 2000);
}

/* Probe every 50 ms until the read hits (want_hit) or does not, or timeout_ms passes. Returns
 * the milliseconds it took, or -1. */
static long s_until(const char *plate, bool want_hit, int timeout_ms)
{
    int64_t t0 = util_mono_us();

    while (util_mono_us() - t0 < (int64_t)timeout_ms * 1000) {
        int n = s_probe(plate);
        if (n >= 0 && (n > 0) == want_hit)
            return (long)((util_mono_us() - t0) / 1000);
        usleep(50000);
    }
    return -1;
}

/* How many times the daemon's log holds needle. */
static int s_count(const struct h_daemon *d, const char *needle)
{
    char *log = h_slurp(d->log_path);
    int n = 0;

    for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(log);
    return n;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;

    h_require_env();
    h_db_create(&db, "itest_sync");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'N78');"
                     "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
                     "('Stolen vehicles', 'stolen', 1, 0), ('Fence', 'surveillance', 9, 0);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) "
                     "SELECT id, 'FENCE-1' FROM anpr.watchlist WHERE name = 'Fence'");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;
    dealer = h_dealer(d.ingest_ep);
    sub = h_sub(d.dispatch_ep, "hit/");

    CHECK(h_feed_live(dealer, sub, CAM, &seq, "FENCE-1"));
    CHECK_INT(s_probe("1-NEW-001"), 0);

    /* Added: hits within a second of the commit. */
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction) "
                     "SELECT id, '1-NEW-001', 'Reported stolen ten minutes ago' "
                     "FROM anpr.watchlist WHERE name = 'Stolen vehicles'");
    long ms = s_until("1-NEW-001", true, 1000);
    fprintf(stderr, "added entry hit after %ld ms\n", ms);
    CHECK(ms >= 0);

    /* Entry changes patch the snapshot: no full load. */
    int full = s_count(&d, "loaded in full");

    /* Corrected: the old plate stops hitting, the new one hits. */
    h_exec(db.admin, "UPDATE anpr.watchlist_entry SET plate = '1-UPD-009' "
                     "WHERE plate = '1-NEW-001'");
    CHECK(s_until("1-UPD-009", true, 1000) >= 0);
    CHECK(s_until("1-NEW-001", false, 1000) >= 0);

    /* Removed: stops hitting within a second. */
    h_exec(db.admin, "DELETE FROM anpr.watchlist_entry WHERE plate = '1-UPD-009'");
    ms = s_until("1-UPD-009", false, 1000);
    fprintf(stderr, "removed entry stopped after %ld ms\n", ms);
    CHECK(ms >= 0);

    /* Several changes in one transaction, a pattern among them, come in together. */
    h_exec(db.admin, "BEGIN;"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '4-PAT-4?"
                     "?' "
                     "FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '5-TWO-005' "
                     "FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
                     "COMMIT");
    CHECK(s_until("4-PAT-412", true, 1000) >= 0);
    CHECK(s_until("5-TWO-005", true, 1000) >= 0);

    /* Expired by an update of its validity: stops hitting. */
    h_exec(db.admin, "UPDATE anpr.watchlist_entry SET valid_until = now() - interval '1 s' "
                     "WHERE plate = '5-TWO-005'");
    CHECK(s_until("5-TWO-005", false, 1000) >= 0);
    CHECK_INT(s_count(&d, "loaded in full"), full);
    CHECK(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_change "
                               "WHERE relation = 'watchlist_entry' AND entry_ids IS NULL") == 0);

    /* A list switched off stops hitting too: a list change is a full load. */
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) "
                     "SELECT id, '3-OFF-003' FROM anpr.watchlist WHERE name = 'Stolen vehicles'");
    CHECK(s_until("3-OFF-003", true, 1000) >= 0);
    h_exec(db.admin, "UPDATE anpr.watchlist SET enabled = false WHERE name = 'Stolen vehicles'");
    CHECK(s_until("3-OFF-003", false, 1000) >= 0);
    CHECK(s_count(&d, "loaded in full") > full);
    h_exec(db.admin, "UPDATE anpr.watchlist SET enabled = true WHERE name = 'Stolen vehicles'");

    /* The sync session is cut and cannot come back (the role may not log in) while an entry is
     * added: its notification goes to nobody. Once the role may log in again, the sync thread
     * reconnects, looks, and catches up. */
    h_exec(db.admin, "ALTER ROLE anprd NOLOGIN");
    CHECK(h_wait_ll(db.admin,
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS ok "
                    "FROM pg_stat_activity WHERE application_name = 'anprd-sync' "
                    "AND datname = 'itest_sync') t WHERE ok",
                    1, 5000) == 1);
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) "
                     "SELECT id, '2-NEW-002' FROM anpr.watchlist WHERE name = 'Stolen vehicles'");
    CHECK(h_daemon_wait_log(&d, "database connection lost", 5000));
    CHECK_INT(s_probe("2-NEW-002"), 0); /* not yet: the daemon has not seen the change */
    h_exec(db.admin, "ALTER ROLE anprd LOGIN");
    ms = s_until("2-NEW-002", true, 10000);
    fprintf(stderr, "entry added during the cut hit %ld ms after the role came back\n", ms);
    CHECK(ms >= 0);

    /* SIGHUP: the watchlist is rebuilt by the sync thread (a new version line), while the
     * daemon goes on taking reads. */
    int before = s_count(&d, "sync: watchlist version");
    kill(d.pid, SIGHUP);
    CHECK(h_daemon_wait_log(&d, "the watchlist is being rebuilt", 5000));
    int64_t deadline = util_mono_us() + 5000000;
    while (s_count(&d, "sync: watchlist version") <= before && util_mono_us() < deadline)
        usleep(20000);
    CHECK(s_count(&d, "sync: watchlist version") > before);
    CHECK(s_until("2-NEW-002", true, 1000) >= 0);

    /* Every change is in the change log, with who made it. */
    CHECK(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_change "
                               "WHERE changed_by = current_user") >= 5);
    h_close(dealer);
    h_close(sub);
    CHECK(h_daemon_log_has(&d, "watchlist version"));
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_sync");
}
