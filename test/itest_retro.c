/*
 * Integration: retro-match. Reads are stored first; then an admin adds entries, and every past
 * sighting within the list's retro-match window is stored and published as a post-match HIT
 * (OCR look-alikes by the list's rules), and only those: not a pattern (never retro-matched),
 * not a read older than the window, not for a list without a window, not twice when the entry
 * changes again. A covert list's post-matches go to its own feed only. Every search is logged in
 * the database.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "BE-E314-LANAKEN"

static void *dealer, *sub, *covert;
static uint64_t seq = 1;

/* Store a read of plate taken ago_s seconds ago. */
static void s_read(const char *plate, int64_t ago_s)
{
    struct proto_read r = h_read(CAM, seq++, plate, "BE");

    r.time_us -= ago_s * 1000000;
    h_send_read(dealer, &r);
}

/* Post-match HITs from sock until n came or timeout_ms passed; how many came (their plates as
 * read, in order, into plates). Live HITs are counted apart in *live. */
static int s_posts(void *sock, int n, int timeout_ms, char plates[][PROTO_PLATE_MAX + 1], int *live)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    int got = 0;

    while (got < n) {
        uint8_t buf[PROTO_MAX_FRAME];
        struct proto_hit h;
        int64_t left = (deadline - util_mono_us()) / 1000;
        int len = left > 0 ? h_recv(sock, buf, sizeof buf, (int)left) : -1;
        if (len < 0 || proto_decode_hit(buf, (size_t)len, &h, NULL) != 0)
            break;
        if (!h.post_match) {
            if (live)
                (*live)++;
            continue;
        }
        snprintf(plates[got++], PROTO_PLATE_MAX + 1, "%s", h.read.plate);
    }
    return got;
}

/* Wait for the n-th retro-match log line of the daemon. */
static bool s_retro_done(const struct h_daemon *d, int n)
{
    int64_t deadline = util_mono_us() + 5000000;

    while (util_mono_us() < deadline) {
        char *log = h_slurp(d->log_path);
        int k = 0;
        for (const char *p = log; (p = strstr(p, "retro-match of ")) != NULL; p++)
            k++;
        free(log);
        if (k >= n)
            return true;
        usleep(20000);
    }
    return false;
}

/* anpr-watchlist list-set LIST --retro VALUE as the admin; its exit status. */
static int s_set_retro(const struct h_db *db, const char *list, const char *value)
{
    char *argv[] = {
        getenv("ANPR_WATCHLIST"), "list-set", (char *)list, "--retro", (char *)value, "--db",
        (char *)db->admin_ci,     NULL};

    return h_wait(h_spawn(argv, "/dev/null", "/dev/null"), 30000);
}

static long long s_post_rows(PGconn *conn, const char *plate)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits h JOIN anpr.watchlist_entry e ON e.id = h.entry_id "
             "WHERE h.post_match AND e.plate = '%s'",
             plate);
    return h_query_ll(conn, sql);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char plates[8][PROTO_PLATE_MAX + 1];
    int live = 0;

    h_require_env();
    h_db_create(&db, "itest_retro");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E314 Lanaken');"
           "INSERT INTO anpr.watchlist (name, category, priority, match_policy, max_subst, "
           "suppress_s, retro_s, covert) VALUES "
           "('Stolen vehicles', 'stolen', 1, 'ocr', 1, 0, 0, false),"
           "('Uninsured', 'uninsured', 5, 'exact', 0, 0, 0, false),"
           "('Operation Nightjar', 'surveillance', 2, 'exact', 0, 0, 3600, true)");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;
    dealer = h_dealer(d.ingest_ep);
    sub = h_sub(d.dispatch_ep, "hit/");
    covert = h_covert(d.covert_ep, "covert/");

    /* The past: reads stored before any entry exists. */
    s_read("1-ABC-123", 600);  /* ten minutes before it is reported stolen */
    s_read("1-A8C-123", 300);  /* the same car, B read as 8 */
    s_read("1-ABC-123", 7200); /* two hours ago: outside the one-hour window */
    s_read("7-XYZ-747", 120);  /* fits the pattern added below */
    s_read("2-NOR-002", 60);   /* for the list without a window */
    s_read("3-COV-003", 60);   /* for the covert list */
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 6, 5000) == 6);

    /* The admin gives the list a window of one hour (a list change: a full load). */
    CHECK_INT(s_set_retro(&db, "Stolen vehicles", "40d"), 2); /* usage: more than 31 days */
    CHECK_INT(s_set_retro(&db, "Stolen vehicles", "1h"), 0);
    CHECK_INT(h_query_ll(db.admin, "SELECT retro_s FROM anpr.watchlist "
                                   "WHERE name = 'Stolen vehicles'"),
              3600);
    CHECK(h_daemon_wait_log(&d, "loaded in full", 5000));

    /* Reported stolen: both sightings in the window come as post-matches, the old one not. */
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction) "
                     "SELECT id, '1-ABC-123', 'Stolen in Maasmechelen' FROM anpr.watchlist "
                     "WHERE name = 'Stolen vehicles'");
    CHECK_INT(s_posts(sub, 2, 3000, plates, &live), 2);
    CHECK_STR(plates[0], "1-A8C-123"); /* the newest sighting first */
    CHECK_STR(plates[1], "1-ABC-123");
    CHECK(s_retro_done(&d, 1));
    CHECK_INT(s_post_rows(db.admin, "1-ABC-123"), 2);
    CHECK_INT(live, 0);

    /* A pattern never retro-matches: it would search history wholesale (an investigator's
     * search, audited with its reason), not an admin's. */
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '7XYZ7*' "
                     "FROM anpr.watchlist WHERE name = 'Stolen vehicles'");
    CHECK(h_daemon_wait_log(&d, "1 pattern entries not searched", 5000));
    CHECK_INT(s_post_rows(db.admin, "7XYZ7*"), 0);

    /* The entry changes again: searched again, nothing published twice. */
    h_exec(db.admin, "UPDATE anpr.watchlist_entry SET instruction = 'Stop and check' "
                     "WHERE plate = '1-ABC-123'");
    CHECK(s_retro_done(&d, 2));
    CHECK_INT(s_post_rows(db.admin, "1-ABC-123"), 2);

    /* A list without a window: no search. */
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '2NOR002' "
                     "FROM anpr.watchlist WHERE name = 'Uninsured'");
    /* A covert list: its post-match on its own feed only. */
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '3COV003' "
                     "FROM anpr.watchlist WHERE name = 'Operation Nightjar'");
    CHECK_INT(s_posts(covert, 1, 3000, plates, NULL), 1);
    CHECK_STR(plates[0], "3-COV-003");
    CHECK(s_retro_done(&d, 3));
    CHECK_INT(s_post_rows(db.admin, "2NOR002"), 0);
    CHECK_INT(s_posts(sub, 1, 200, plates, &live), 0); /* nothing more on the general feed */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE post_match AND covert"),
              1);

    /* Every search is logged, with what it found. */
    CHECK(h_query_ll(db.admin, "SELECT count(*) FROM anpr.retro_match_log") >= 3);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.retro_match_log "
                                   "WHERE searched_by = 'anprd' AND rows_found > 0"),
              3);
    /* ... with the plates searched and the reads returned, by identity. */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.retro_match_log "
                                   "WHERE '1ABC123' = ANY (terms) AND rows_found = 2"),
              2);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.retro_match_read m "
                                   "JOIN anpr.retro_match_log l ON l.id = m.log_id "
                                   "WHERE '1ABC123' = ANY (l.terms)"),
              4);
    /* The function checks what it is asked: a plate not near the entry is not searched, an
     * entry not recently added is refused. */
    PGconn *daemon_conn = PQconnectdb(db.daemon_ci);
    PGresult *r2 = PQexec(daemon_conn,
                          "SELECT count(*) FROM anpr.retro_rows(anpr.retro_search(ARRAY(SELECT id "
                          "FROM anpr.watchlist_entry WHERE plate = '1-ABC-123'), '{2NOR002}', "
                          "ARRAY(SELECT id FROM anpr.watchlist_entry WHERE plate = '1-ABC-123'), "
                          "now() - interval '1 hour', 100))");
    /* ... and returns reads only from a committed search: here, in one statement, it is not. */
    CHECK(PQresultStatus(r2) == PGRES_FATAL_ERROR);
    CHECK_CONTAINS(PQresultErrorMessage(r2), "not committed");
    PQclear(r2);
    long long logs = h_query_ll(db.admin, "SELECT count(*) FROM anpr.retro_match_log");
    r2 =
        PQexec(daemon_conn, "SELECT anpr.retro_search(ARRAY(SELECT id FROM "
                            "anpr.watchlist_entry WHERE plate = '1-ABC-123'), '{2NOR002}', "
                            "ARRAY(SELECT id FROM anpr.watchlist_entry WHERE plate = '1-ABC-123'), "
                            "now() - interval '1 hour', 100)");
    CHECK(PQresultStatus(r2) == PGRES_TUPLES_OK);
    char q[128];
    snprintf(q, sizeof q, "SELECT count(*) FROM anpr.retro_rows(%s)",
             PQresultStatus(r2) == PGRES_TUPLES_OK ? PQgetvalue(r2, 0, 0) : "0");
    PQclear(r2);
    CHECK_INT(h_query_ll(daemon_conn, q), 0); /* 2NOR002 is not near 1ABC123: not searched */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.retro_match_log"), logs + 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.retro_match_log WHERE terms = '{}'"),
              1);
    r2 = PQexec(daemon_conn, "SELECT anpr.retro_search('{999999}', '{}', '{}', "
                             "now() - interval '1 hour', 100)");
    CHECK(PQresultStatus(r2) == PGRES_FATAL_ERROR);
    CHECK_CONTAINS(PQresultErrorMessage(r2), "not recently added");
    PQclear(r2);
    /* Inside the caller's own transaction no read comes back: the search's log row is not
     * committed yet, and a rollback would take it back with nothing shown. */
    PQclear(PQexec(daemon_conn, "BEGIN"));
    r2 =
        PQexec(daemon_conn, "SELECT anpr.retro_search(ARRAY(SELECT id FROM "
                            "anpr.watchlist_entry WHERE plate = '1-ABC-123'), '{1ABC123}', "
                            "ARRAY(SELECT id FROM anpr.watchlist_entry WHERE plate = '1-ABC-123'), "
                            "now() - interval '1 hour', 100)");
    CHECK(PQresultStatus(r2) == PGRES_TUPLES_OK);
    snprintf(q, sizeof q, "SELECT count(*) FROM anpr.retro_rows(%s)",
             PQresultStatus(r2) == PGRES_TUPLES_OK ? PQgetvalue(r2, 0, 0) : "0");
    PQclear(r2);
    r2 = PQexec(daemon_conn, q);
    CHECK(PQresultStatus(r2) == PGRES_FATAL_ERROR);
    PQclear(r2);
    PQclear(PQexec(daemon_conn, "ROLLBACK"));
    PQfinish(daemon_conn);

    /* The daemon's role searches only through the function, never the history itself. */
    PGconn *as_daemon = PQconnectdb(db.daemon_ci);
    PGresult *res = PQexec(as_daemon, "SELECT count(*) FROM anpr.plate_read");
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
    PQclear(res);
    PQfinish(as_daemon);

    /* Live reads keep being matched as before. */
    s_read("1-ABC-123", 0);
    CHECK_INT(s_posts(sub, 1, 300, plates, &live), 0);
    CHECK_INT(live, 1);

    /* A restart looks at the last hour's changes again: the sightings it finds are stored
     * already (3 post-matches and the live HIT just above); the post-matches go to the
     * backbone again (were one lost in a crash), the live HIT does not, nothing to dispatch. */
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK(h_daemon_wait_log(&d, "recently changed entries", 5000));
    CHECK(h_daemon_log_has(&d, "0 post-match HITs (4 found before, 3 of them post-matches to "
                               "forward again)"));
    CHECK_INT(s_posts(sub, 1, 1000, plates, NULL), 0);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE post_match"), 3);

    /* A list given a window and an entry added to it in one go (one change for the daemon to
     * load: a full load, for the list): the entry is retro-matched all the same. */
    s_read("4-ONE-004", 60);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE plate = '4ONE004'", 1,
                    30000) == 1);
    h_exec(db.admin, "BEGIN;"
                     "UPDATE anpr.watchlist SET retro_s = 3600 WHERE name = 'Uninsured';"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '4-ONE-004' "
                     "FROM anpr.watchlist WHERE name = 'Uninsured';"
                     "COMMIT");
    CHECK_INT(s_posts(sub, 1, 30000, plates, NULL), 1);
    CHECK_STR(plates[0], "4-ONE-004");
    CHECK_INT(s_post_rows(db.admin, "4-ONE-004"), 1);

    h_close(dealer);
    h_close(sub);
    h_close(covert);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_retro");
}
