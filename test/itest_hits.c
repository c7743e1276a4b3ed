/*
 * Integration: reads of listed plates produce HITs on the dispatch PUB socket, with the list,
 * the entry and the read, and rows in the hit table; reads that must not hit do not.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "BE-E314-BOORSEM-1"

struct expect {
    const char *plate;   /* as the camera reads it */
    const char *country; /* read's country */
    const char *list;    /* list it must hit, or NULL for no hit */
};

/* Read of a listed plate that hits, used to know the subscription is live and as a fence. */
static const char *const fence_plate = "FENCE-1";

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    static const struct expect cases[] = {
        {"1-ABC-123", "BE", "Stolen vehicles"}, /* as listed */
        {"1abc123", "BE", "Stolen vehicles"},   /* case and separators do not matter */
        {"1 ABC 123", "", "Stolen vehicles"},   /* unknown country matches a BE entry */
        {"1-ABC-123", "NL", NULL},              /* a BE entry does not hit a Dutch plate */
        {"XY-123-Z", "NL", "Surveillance"},     /* an entry without country hits any */
        {"XY123Z", "DE", "Surveillance"},
        {"1-ABC-12", "BE", NULL},               /* a substring is not the plate */
        {"1-ABC-1234", "BE", NULL},             /* nor a superstring */
        {"2-OLD-999", "BE", NULL},              /* expired entry */
        {"3-NEW-111", "BE", NULL},              /* entry valid from tomorrow */
        {"4-OFF-444", "BE", NULL},              /* entry on a disabled list */
        {"5-TWO-555", "BE", "Stolen vehicles"}, /* on two lists: two HITs */
        {"5-TWO-555", "BE", "Surveillance"},
        {"6-INF-666", "BE", "Stolen vehicles"}, /* valid from -infinity to infinity */
        {"7-WIN-777", "BE", "Stolen vehicles"}, /* in its validity window */
        {"9-NOT-999", "BE", NULL},              /* not listed at all */
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    struct proto_hit hits[64];
    void *dealer, *sub;
    uint64_t seq = 1;

    h_require_env();
    h_db_create(&db, "itest_hits");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E314 Boorsem lane 1');"
           "INSERT INTO anpr.watchlist (name, category, priority) VALUES "
           "('Stolen vehicles', 'stolen', 1), ('Surveillance', 'surveillance', 3);"
           "INSERT INTO anpr.watchlist (name, category, priority, enabled) VALUES "
           "('Old list', 'stolen', 2, false);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country, instruction, external_ref)"
           " SELECT id, '1-ABC-123', 'BE', 'Stop and check; call 101', 'PV-2026-1234'"
           " FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p FROM anpr.watchlist,"
           " (VALUES ('XY-123-Z'), ('5-TWO-555'), ('FENCE-1')) v(p) WHERE name = 'Surveillance';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country) SELECT id, '5-TWO-555', 'BE'"
           " FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, valid_from, valid_until)"
           " SELECT id, '2-OLD-999', now() - interval '2 days', now() - interval '1 day'"
           " FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, valid_from)"
           " SELECT id, '3-NEW-111', now() + interval '1 day'"
           " FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, valid_from, valid_until)"
           " SELECT id, '6-INF-666', '-infinity', 'infinity'"
           " FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, valid_from, valid_until)"
           " SELECT id, '7-WIN-777', now() - interval '1 day', now() + interval '1 day'"
           " FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '4-OFF-444'"
           " FROM anpr.watchlist WHERE name = 'Old list'");
    /* Every sighting alerts: these tests count HITs (the default suppresses repeats). */
    h_exec(db.admin, "UPDATE anpr.watchlist SET suppress_s = 0");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;
    dealer = h_dealer(d.ingest_ep);
    sub = h_sub(d.dispatch_ep, "hit/");

    CHECK(h_feed_live(dealer, sub, CAM, &seq, fence_plate));

    /* Every case, then the fence: PUB keeps order, so the fence HIT closes the set. */
    uint64_t first = seq;
    for (int i = 0; i < ncases; i++) {
        if (i > 0 && strcmp(cases[i].plate, cases[i - 1].plate) == 0 &&
            strcmp(cases[i].country, cases[i - 1].country) == 0)
            continue; /* the second list of one read */
        struct proto_read r = h_read(CAM, seq++, cases[i].plate, cases[i].country);
        r.lane = 2;
        h_send_read(dealer, &r);
    }
    struct proto_read fence = h_read(CAM, seq++, fence_plate, "");
    h_send_read(dealer, &fence);
    int n = h_collect_hits(sub, CAM, fence.seq, fence_plate, hits, 64, 5000);

    int want = 0;
    for (int i = 0; i < ncases; i++)
        want += cases[i].list != NULL;
    CHECK_INT(n, want);
    for (int i = 0; i < ncases; i++) {
        if (!cases[i].list)
            continue;
        int found = 0;
        for (int j = 0; j < n && j < 64; j++)
            found += strcmp(hits[j].read.plate, cases[i].plate) == 0 &&
                     strcmp(hits[j].read.country, cases[i].country) == 0 &&
                     strcmp(hits[j].list, cases[i].list) == 0;
        if (found != 1)
            fprintf(stderr, "case %d (%s %s -> %s): %d HITs\n", i, cases[i].plate, cases[i].country,
                    cases[i].list, found);
        CHECK_INT(found, 1);
    }
    /* Every HIT has its own id, and is stored before it is published: the row with that id is
     * in the database the moment the HIT arrives (no waiting here). */
    uint64_t prev_id = 0;
    for (int j = 0; j < n && j < 64; j++) {
        char q[160];
        CHECK(hits[j].hit_id != 0 && hits[j].hit_id != prev_id);
        prev_id = hits[j].hit_id;
        snprintf(q, sizeof q, "SELECT count(*) FROM anpr.hits WHERE hit_id = %llu",
                 (unsigned long long)hits[j].hit_id);
        CHECK_INT(h_query_ll(db.admin, q), 1);
    }
    /* A HIT carries what the operator needs. */
    for (int j = 0; j < n && j < 64; j++) {
        if (strcmp(hits[j].read.plate, "1-ABC-123") != 0)
            continue;
        CHECK_STR(hits[j].category, "stolen");
        CHECK_INT(hits[j].priority, 1);
        CHECK_STR(hits[j].entry_plate, "1ABC123");
        CHECK_STR(hits[j].entry_country, "BE");
        CHECK_STR(hits[j].instruction, "Stop and check; call 101");
        CHECK_STR(hits[j].external_ref, "PV-2026-1234");
        CHECK_STR(hits[j].read.camera, CAM);
        CHECK_INT(hits[j].read.lane, 2);
        CHECK_INT(hits[j].match, PROTO_MATCH_EXACT);
        CHECK(hits[j].read.seq >= first);
    }

    /* Every read is acknowledged, and every HIT is in the hit table. */
    struct h_acks a;
    h_acks_init(&a, 1, (size_t)(seq - 1), 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), seq - 1);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hits WHERE seq >= %" PRIu64, first);
    CHECK_INT(h_wait_ll(db.admin, sql, want + 1, 5000), want + 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE plate = '1ABC123' "
                                   "AND category = 'stolen' AND priority = 1 AND match_kind = 1"),
              3);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits h JOIN anpr.plate_read r "
                                   "USING (camera_id, seq, read_time)"),
              h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits"));

    h_close(dealer);
    h_close(sub);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_hits");
}
