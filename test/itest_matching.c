/*
 * Integration: matching that survives OCR errors, through the real daemon and the real admin
 * tool. Lists with the exact and ocr policies, a candidate-only hit, a pattern, a look-alike
 * letter from another script, plates as people type and paste them (a combining mark, a no-break
 * space, full-width digits), a euroband code read with the plate, UK = GB, and repeat-hit
 * suppression: each HIT arrives on the feed with how
 * it matched, the hits table records the suppressed repeats, and anpr-watchlist's dry run says
 * the same as the daemon.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

#define CAM  "BE-N78-VELDWEZELT"
#define CAM2 "BE-SMEERMAAS-N2"

/* 1-KMH-321 with Cyrillic К, М and Н. */
#define CYRILLIC_PLATE "1-\xD0\x9A\xD0\x9C\xD0\x9D-321"

static const struct proto_hit *s_find(const struct proto_hit *hits, int n, const char *plate,
                                      const char *list)
{
    for (int i = 0; i < n; i++)
        if (strcmp(hits[i].read.plate, plate) == 0 && strcmp(hits[i].list, list) == 0)
            return &hits[i];
    return NULL;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct proto_hit hits[64];
    uint64_t seq = 1;

    h_require_env();
    h_db_create(&db, "itest_matching");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'N78'), ('" CAM2 "', 'N2');"
           "INSERT INTO anpr.watchlist (name, category, priority, match_policy, max_subst, "
           "  candidates, min_confidence, suppress_s) VALUES "
           "('Stolen vehicles', 'stolen', 1, 'ocr', 1, true, 300, 600),"
           "('Uninsured', 'uninsured', 4, 'exact', 0, false, 0, 0),"
           "('Fence', 'surveillance', 9, 'exact', 0, false, 0, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country, instruction) "
           "SELECT id, p, 'BE', 'Stop and check' FROM anpr.watchlist, "
           "(VALUES ('1-ABC-123'), ('1-KMH-321'), ('1-EPT-555')) v(p) "
           "WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, 'GH-512-*' FROM anpr.watchlist WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, p FROM anpr.watchlist, (VALUES ('1-XBO-088'), ('2-KMP-417')) v(p) "
           "WHERE name = 'Uninsured';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, 'FENCE-1' FROM anpr.watchlist WHERE name = 'Fence';"
           /* A covert list: its HITs only on the covert feed. */
           "INSERT INTO anpr.watchlist (name, category, priority, covert, suppress_s) VALUES "
           "('Operation Nightjar', 'surveillance', 2, true, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, '1-NJR-007' FROM anpr.watchlist WHERE name = 'Operation Nightjar';"
           /* Issue 14: plates as typed and pasted, a country alias, a German plate read with its
            * euroband code. */
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
           "('Typed', 'stolen', 3, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country) "
           "SELECT id, p, c FROM anpr.watchlist, (VALUES ('K-AB 123', 'DE'), "
           "('M\xC3\x9C-XY 77', 'DE'), ('AB12 CDE', 'UK')) v(p, c) WHERE name = 'Typed';"
           /* Entries the matcher cannot use: reported and skipped, the rest still loads. */
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, p FROM anpr.watchlist, (VALUES ('1#ABC'), ('**'), ('ABCDEFGHIJKLMNOPQ')) "
           "v(p) WHERE name = 'Uninsured'");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;
    CHECK(h_daemon_log_has(&d, "(3 skipped)"));
    CHECK(h_daemon_log_has(&d, "invalid character"));
    /* Each skipped entry is named by its id, never its plate (personal data). */
    CHECK(!h_daemon_log_has(&d, "1#ABC") && !h_daemon_log_has(&d, "ABCDEFGHIJKLMNOPQ"));
    void *dealer = h_dealer(d.ingest_ep);
    void *sub = h_sub(d.dispatch_ep, "hit/");

    CHECK(h_feed_live(dealer, sub, CAM, &seq, "FENCE-1"));

    /* 1. An OCR misread (O for 0... here 8 for B) hits the ocr list, not the exact one. */
    struct proto_read r = h_read(CAM, seq++, "1-A8C-123", "BE");
    h_send_read(dealer, &r);
    /* 2. The same misread of an exact-list plate does not hit. */
    r = h_read(CAM, seq++, "1-X8O-088", "BE");
    h_send_read(dealer, &r);
    /* 3. Cyrillic К, М and Н in the read (look-alikes) still hit exactly. */
    r = h_read(CAM, seq++, CYRILLIC_PLATE, "BE");
    h_send_read(dealer, &r);
    /* 4. Only the second candidate is the listed plate: a candidate hit on the ocr list (the
     * plate as read has two substitutions, one more than the list allows). */
    r = h_read(CAM, seq++, "1-EPT-SS5", "BE");
    r.ncand = 3;
    snprintf(r.cand[0].plate, sizeof r.cand[0].plate, "1-EPT-565");
    r.cand[0].confidence = 500;
    /* A candidate that is no plate: skipped, but the numbering stays the camera's. */
    snprintf(r.cand[1].plate, sizeof r.cand[1].plate, "--");
    r.cand[1].confidence = 480;
    snprintf(r.cand[2].plate, sizeof r.cand[2].plate, "1-EPT-555");
    r.cand[2].confidence = 450;
    uint64_t cand_seq = r.seq;
    h_send_read(dealer, &r);
    /* 5. A candidate below the list's min_confidence (300) does not hit. */
    r = h_read(CAM, seq++, "9-ZZZ-999", "BE");
    r.ncand = 1;
    snprintf(r.cand[0].plate, sizeof r.cand[0].plate, "1-ABC-123");
    r.cand[0].confidence = 200;
    h_send_read(dealer, &r);
    /* 6. A pattern for a partly known Dutch plate. */
    r = h_read(CAM, seq++, "GH-512-V", "NL");
    h_send_read(dealer, &r);
    /* 7. The exact-list plate on a camera that cannot tell the country. */
    r = h_read(CAM, seq++, "2-KMP-417", "");
    h_send_read(dealer, &r);

    struct proto_read fence = h_read(CAM, seq++, "FENCE-1", "");
    h_send_read(dealer, &fence);
    int n = h_collect_hits(sub, CAM, fence.seq, "FENCE-1", hits, 64, 5000);
    CHECK_INT(n, 5);
    const struct proto_hit *h = s_find(hits, n, "1-A8C-123", "Stolen vehicles");
    CHECK(h && h->match == PROTO_MATCH_OCR && h->nsubst == 1 && h->reading == 0);
    CHECK(h && strstr(h->detail, "8") != NULL);
    CHECK(s_find(hits, n, "1-X8O-088", "Uninsured") == NULL);
    h = s_find(hits, n, CYRILLIC_PLATE, "Stolen vehicles");
    CHECK(h && h->match == PROTO_MATCH_EXACT);
    h = s_find(hits, n, "1-EPT-SS5", "Stolen vehicles");
    CHECK(h && h->match == PROTO_MATCH_CANDIDATE && h->reading == 3 && h->read.seq == cand_seq);
    CHECK(h && strstr(h->detail, "candidate 3") != NULL);
    CHECK(s_find(hits, n, "9-ZZZ-999", "Stolen vehicles") == NULL);
    h = s_find(hits, n, "GH-512-V", "Stolen vehicles");
    CHECK(h && h->match == PROTO_MATCH_PATTERN && strcmp(h->entry_plate, "GH512*") == 0);
    h = s_find(hits, n, "2-KMP-417", "Uninsured");
    CHECK(h && h->match == PROTO_MATCH_EXACT && h->priority == 4);

    /* Suppression: the stolen car of case 1 again, read right this time and at another
     * camera, within 600 s: stored, not alerted (the vehicle is the listed plate, however it
     * was read). On the uninsured list (window 0) every sighting alerts. */
    r = h_read(CAM2, 1, "1-ABC-123", "BE");
    h_send_read(dealer, &r);
    r = h_read(CAM, seq++, "2-KMP-417", "");
    h_send_read(dealer, &r);
    fence = h_read(CAM, seq++, "FENCE-1", "");
    h_send_read(dealer, &fence);
    n = h_collect_hits(sub, CAM, fence.seq, "FENCE-1", hits, 64, 5000);
    CHECK_INT(n, 1);
    CHECK(n >= 1 && strcmp(hits[0].list, "Uninsured") == 0);

    /* Issue 14, through the daemon's own ingest: K-AB 123 read with its D (a German plate
     * either way: matched both ways), MÜ-XY 77 read as M, U + combining diaeresis, a no-break
     * space and full-width digits, and an entry for UK hit by a read from GB. */
    r = h_read(CAM, seq++, "DKAB123", "DE");
    h_send_read(dealer, &r);
    r = h_read(CAM, seq++, "MU\xCC\x88-XY\xC2\xA0\xEF\xBC\x97\xEF\xBC\x97", "DE");
    h_send_read(dealer, &r);
    r = h_read(CAM, seq++, "AB12 CDE", "GB");
    h_send_read(dealer, &r);
    r = h_read(CAM, seq++, "DKAB124", "DE"); /* another plate */
    h_send_read(dealer, &r);
    fence = h_read(CAM, seq++, "FENCE-1", "");
    h_send_read(dealer, &fence);
    n = h_collect_hits(sub, CAM, fence.seq, "FENCE-1", hits, 64, 5000);
    CHECK_INT(n, 3);
    h = s_find(hits, n, "DKAB123", "Typed");
    CHECK(h && h->match == PROTO_MATCH_EXACT && strcmp(h->entry_plate, "KAB123") == 0 &&
          strcmp(h->detail, "euroband D, exact") == 0);
    h = s_find(hits, n, "MU\xCC\x88-XY\xC2\xA0\xEF\xBC\x97\xEF\xBC\x97", "Typed");
    CHECK(h && h->match == PROTO_MATCH_EXACT && strcmp(h->entry_plate, "MUXY77") == 0);
    h = s_find(hits, n, "AB12 CDE", "Typed");
    CHECK(h && h->match == PROTO_MATCH_EXACT && strcmp(h->entry_country, "GB") == 0);

    /* A covert list's HIT: on the covert feed, never on the general one. */
    void *covert = h_covert(d.covert_ep, "covert/");
    int covert_live = 0;
    struct proto_hit ch;
    for (int i = 0; i < 100 && !covert_live; i++) {
        r = h_read(CAM, seq++, "1-NJR-007", "BE");
        h_send_read(dealer, &r);
        uint8_t buf[PROTO_MAX_FRAME];
        struct proto_error perr;
        int len = h_recv(covert, buf, sizeof buf, 100);
        covert_live = len > 0 && proto_decode_hit(buf, (size_t)len, &ch, &perr) == 0;
    }
    CHECK(covert_live);
    CHECK(covert_live && strcmp(ch.list, "Operation Nightjar") == 0);
    fence = h_read(CAM, seq++, "FENCE-1", "");
    h_send_read(dealer, &fence);
    n = h_collect_hits(sub, CAM, fence.seq, "FENCE-1", hits, 64, 5000);
    CHECK_INT(n, 0); /* none of the covert HITs reached the general feed */
    h_close(covert);

    /* Everything is acknowledged and in the hits table, suppressed repeat included. */
    struct h_acks a;
    h_acks_init(&a, 1, (size_t)(seq - 1), 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), seq - 1);
    h_acks_free(&a);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE suppressed", 1, 5000), 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits h JOIN anpr.camera c "
                                   "ON c.id = h.camera_id WHERE c.code = '" CAM2 "' "
                                   "AND h.suppressed AND h.match_kind = 1"),
              1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE match_kind = 3 "
                                   "AND reading = 3 AND detail LIKE 'candidate 3%'"),
              1);

    /* The covert HITs are stored, marked; the dispatch role sees neither them nor the list. */
    CHECK(h_wait_ll(db.admin, "SELECT (count(*) > 0)::int FROM anpr.hits WHERE covert", 1, 5000) ==
          1);
    h_exec(db.admin, "DO $$ BEGIN "
                     "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'console1') THEN "
                     "CREATE ROLE console1 LOGIN; END IF; END $$;"
                     "GRANT anpr_dispatch TO console1");
    char ci[600];
    snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=console1", getenv("ANPR_TEST_PGHOST"),
             getenv("ANPR_TEST_PGPORT"), db.name);
    PGconn *disp = PQconnectdb(ci);
    CHECK(PQstatus(disp) == CONNECTION_OK);
    PGresult *res = PQexec(disp, "SELECT count(*) FROM anpr.hits");
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR); /* the table itself: not for dispatch */
    PQclear(res);
    CHECK(h_query_ll(disp, "SELECT count(*) FROM anpr.dispatch_hits") > 0);
    CHECK_INT(h_query_ll(disp, "SELECT count(*) FROM anpr.dispatch_hits WHERE list_id IN "
                               "(SELECT id FROM anpr.watchlist) IS NOT TRUE"),
              0);
    CHECK_INT(h_query_ll(disp, "SELECT count(*) FROM anpr.watchlist WHERE covert"), 0);
    CHECK_INT(h_query_ll(disp, "SELECT count(*) FROM anpr.watchlist_entry "
                               "WHERE plate = '1-NJR-007'"),
              0);
    CHECK(h_query_ll(disp, "SELECT count(*) FROM anpr.watchlist_entry") > 0);
    PQfinish(disp);

    /* The admin's dry run agrees with the daemon. */
    char out_path[128], in_path[128];
    snprintf(out_path, sizeof out_path, "%s/wl.out", d.dir);
    snprintf(in_path, sizeof in_path, "%s/wl.in", d.dir);
    char *tool = getenv("ANPR_WATCHLIST");
    char *argv1[] = {tool, "test", "1-A8C-123", "--country", "BE", "--db", db.admin_ci, NULL};
    CHECK_INT(h_wait(h_spawn(argv1, out_path, NULL), 20000), 0);
    char *out = h_slurp(out_path);
    CHECK_CONTAINS(out, "1 hit");
    CHECK_CONTAINS(out, "ocr");
    free(out);
    char *argv2[] = {tool, "test", "9-NOT-999", "--db", db.admin_ci, NULL};
    CHECK_INT(h_wait(h_spawn(argv2, out_path, NULL), 20000), 1);
    FILE *f = fopen(in_path, "w");
    fputs("1-ABC-123;BE\n2-KMP-417\n9-NOT-999;NL\n1-A6C-I23;BE;1-ABG-123:500,1-ABC-123:450\n"
          "1#23\n",
          f);
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s test --stdin --db '%s' < %s > %s", tool, db.admin_ci, in_path,
             out_path);
    CHECK_INT(system(cmd), 0);
    out = h_slurp(out_path);
    CHECK_CONTAINS(out, "1-ABC-123;BE\t1\t");
    CHECK_CONTAINS(out, ":exact\n");
    CHECK_CONTAINS(out, "2-KMP-417\t1\t");
    CHECK_CONTAINS(out, "9-NOT-999;NL\t0\t-\n");
    CHECK_CONTAINS(out, ":candidate\n");
    CHECK_CONTAINS(out, "1#23\tinvalid\t");
    free(out);

    h_close(dealer);
    h_close(sub);
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK(h_daemon_log_has(&d, " suppressed=1 "));
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    h_db_close(&db);
    return check_done("itest_matching");
}
