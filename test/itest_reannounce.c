/*
 * Integration: an urgent HIT that no operator acknowledges is announced again (the same frame,
 * the same hit_id) every dispatch.reannounce_s, and no more once it is acknowledged; a HIT
 * below dispatch.reannounce_priority is announced once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "BE-N76-OPGLABBEEK"

/* HIT frames on sub for ms: how many of plate (the first one's id in *id, every later one
 * checked to have it too) and how many of other. */
static int s_count(void *sub, const char *plate, int ms, uint64_t *id, const char *other,
                   int *nother)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;
    int n = 0;

    for (;;) {
        uint8_t buf[PROTO_MAX_FRAME];
        struct proto_hit h;
        int64_t left = (deadline - util_mono_us()) / 1000;
        int len = left > 0 ? h_recv(sub, buf, sizeof buf, (int)left) : -1;
        if (len < 0)
            return n;
        if (proto_decode_hit(buf, (size_t)len, &h, NULL) != 0)
            continue;
        if (other && nother && strcmp(h.read.plate, other) == 0)
            (*nother)++;
        if (strcmp(h.read.plate, plate) != 0)
            continue;
        if (n++ == 0 && id)
            *id = h.hit_id;
        else if (id)
            CHECK_INT(h.hit_id, *id); /* announced again: the same id */
    }
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    uint64_t urgent = 0;
    int low = 0;
    char sql[200];

    h_require_env();
    h_db_create(&db, "itest_reannounce");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'N76');"
                     "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
                     "('Wanted persons', 'wanted', 1, 0), ('Uninsured', 'uninsured', 5, 0),"
                     "('Fence', 'surveillance', 9, 0);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'FENCE-1' "
                     "FROM anpr.watchlist WHERE name = 'Fence';"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '1-URG-001' "
                     "FROM anpr.watchlist WHERE name = 'Wanted persons';"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '5-LOW-005' "
                     "FROM anpr.watchlist WHERE name = 'Uninsured'");
    struct h_daemon_opts opts = {.dispatch = "  reannounce_s: 1\n  reannounce_priority: 2\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep), *sub = h_sub(d.dispatch_ep, "hit/");
    uint64_t seq = 1;
    CHECK(h_feed_live(dealer, sub, CAM, &seq, "FENCE-1"));
    struct proto_read r = h_read(CAM, seq++, "1-URG-001", "BE");
    h_send_read(dealer, &r);
    struct proto_read l = h_read(CAM, seq++, "5-LOW-005", "BE");
    h_send_read(dealer, &l);

    /* Over 3.5 s: the urgent HIT comes again (about every second), the other one once. */
    int n = s_count(sub, "1-URG-001", 3500, &urgent, "5-LOW-005", &low);
    fprintf(stderr, "urgent HIT seen %d times in 3.5 s\n", n);
    CHECK(n >= 3);
    CHECK(h_daemon_wait_log(&d, "reannounced=", 3000));

    /* Acknowledged: announced no more (allow one that was already on its way). */
    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.hit_ack (hit_id, decision) SELECT hit_id, 'accepted' "
             "FROM anpr.hits WHERE plate = '1URG001'");
    h_exec(db.admin, sql);
    s_count(sub, "1-URG-001", 1500, NULL, NULL, NULL);
    CHECK_INT(s_count(sub, "1-URG-001", 3000, NULL, "5-LOW-005", &low), 0);

    /* The low-priority HIT: once, never again. */
    CHECK_INT(low, 1);
    h_close(dealer);
    h_close(sub);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_reannounce");
}
