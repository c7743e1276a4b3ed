/*
 * Integration: an urgent covert HIT is announced again, on the covert feed only, until a person
 * cleared for its list acknowledges it. CURVE on every socket (keys in the database), the real
 * anprd on its least-privileged login, real PostgreSQL logins for the people.
 *
 * - A covert recipient cleared for the list (a DEALER with its console key) receives the HIT
 *   again, under the same hit_id, every dispatch.reannounce_s; a recipient cleared only for
 *   another list asks for everything and gets none of it, first time or again; the general
 *   feed, subscribed to everything, never carries it.
 * - A person not cleared for the list cannot acknowledge it (anpr.acknowledge_hit: P0002), and
 *   it goes on; once the person cleared for it has, on their own login, it comes no more for
 *   two periods, while another urgent covert HIT of the list, never acknowledged, goes on.
 *
 * Nothing here sleeps: a silence is shown by the control HIT being announced again meanwhile
 * (questions about acknowledgements are asked one at a time, so two announcements of it after
 * the acknowledgement mean the daemon has asked since).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM     "BE-E40-AALTER"
#define TARGET  "1-CVT-101" /* urgent, covert: acknowledged by the person cleared */
#define CONTROL "1-CVT-102" /* urgent, covert: never acknowledged */
#define CFENCE  "CFENCE-2"  /* a covert list that is not urgent: to know a recipient is live */
#define GFENCE  "GFENCE-2"  /* the same on the general feed */
#define CLEARED "op_cvt_cleared"
#define OTHER   "op_cvt_other"

/* What the cleared recipient received, per plate; every one again under its first id. */
static struct h_tally s_tally[] = {{TARGET, false, 0, 0, 0, 0}, {CONTROL, false, 0, 0, 0, 0}};
#define S_NTALLY (sizeof s_tally / sizeof s_tally[0])

static void *s_cov;

static bool s_until(const char *plate, int n, int ms)
{
    return h_tally_until(s_tally, S_NTALLY, &s_cov, 1, plate, n, ms);
}

static int s_n(const char *plate)
{
    return h_tally_find(s_tally, S_NTALLY, plate)->n;
}

/* Send a fence read of plate and count the HITs sub received before the fence's (its earlier
 * fences aside), each named on stderr; -1 when the fence's HIT does not come. A feed keeps
 * order, so what was sent to sub before the fence has come by then. */
static int s_before_fence(void *dealer, void *sub, uint64_t *seq, const char *plate)
{
    struct proto_hit hits[16];
    struct proto_read r = h_read(CAM, (*seq)++, plate, "BE");

    h_send_read(dealer, &r);
    int n = h_collect_hits(sub, CAM, r.seq, plate, hits, 16, 20000);
    for (int i = 0; i < n && i < 16; i++)
        fprintf(stderr, "before the fence: HIT %" PRIu64 " of %s\n", hits[i].hit_id,
                hits[i].read.plate);
    return n;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char sql[2048], key_path[256], dir[] = "/tmp/anprd-reann-covert.XXXXXX";
    struct h_keypair server = h_keypair(), cam = h_keypair(), desk = h_keypair(), obs = h_keypair(),
                     obs2 = h_keypair();

    h_require_env();
    h_db_create(&db, "itest_reannounce_covert");
    if (!mkdtemp(dir))
        h_fatal("mkdtemp");
    snprintf(key_path, sizeof key_path, "%s/anprd.key", dir);
    h_write_key(key_path, server.sec);
    /* Nightjar: urgent and covert. Covert fence: covert, not urgent (never announced again).
     * obs is cleared for both, obs2 for the fence only; desk receives the general feed. */
    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.camera (code, name, curve_key) VALUES ('" CAM "', 'E40', '%s');"
             "INSERT INTO anpr.console (name, curve_key) VALUES ('desk', '%s');"
             "INSERT INTO anpr.console (name, curve_key, dispatch) VALUES ('obs', '%s', false),"
             " ('obs2', '%s', false);"
             "INSERT INTO anpr.watchlist (name, category, priority, covert, suppress_s) VALUES "
             "('Nightjar', 'surveillance', 1, true, 0), ('Covert fence', 'surveillance', 9, "
             "true, 0), ('Fence', 'stolen', 9, false, 0);"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p FROM "
             "anpr.watchlist, unnest(ARRAY['" TARGET "', '" CONTROL "']) p "
             "WHERE name = 'Nightjar';"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" CFENCE "' "
             "FROM anpr.watchlist WHERE name = 'Covert fence';"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" GFENCE "' "
             "FROM anpr.watchlist WHERE name = 'Fence';"
             "INSERT INTO anpr.console_covert SELECT c.id, w.id FROM anpr.console c, "
             "anpr.watchlist w WHERE (c.name, w.name) IN (('obs', 'Nightjar'), "
             "('obs', 'Covert fence'), ('obs2', 'Covert fence'));"
             "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" CLEARED "') "
             "THEN CREATE ROLE " CLEARED " LOGIN; END IF; "
             "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" OTHER "') THEN "
             "CREATE ROLE " OTHER " LOGIN; END IF; END $$;"
             "GRANT anpr_dispatch TO " CLEARED ", " OTHER ";"
             "SELECT anpr.grant_covert('" CLEARED "', id) FROM anpr.watchlist "
             "WHERE name = 'Nightjar';"
             "SELECT anpr.grant_covert('" OTHER "', id) FROM anpr.watchlist "
             "WHERE name = 'Covert fence'",
             cam.pub, desk.pub, obs.pub, obs2.pub);
    h_exec(db.admin, sql);
    /* No heartbeat: the general feed, subscribed to everything, then carries HITs only. */
    struct h_daemon_opts opts = {
        .curve_secret_file = key_path,
        .dispatch = "  reannounce_s: 2\n  reannounce_priority: 2\n  heartbeat_s: 0\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;

    void *dealer = h_curve_client(ZMQ_DEALER, d.ingest_ep, &cam, server.pub, NULL);
    void *gen = h_curve_client(ZMQ_SUB, d.dispatch_ep, &desk, server.pub, "");
    s_cov = h_curve_client(ZMQ_DEALER, d.covert_ep, &obs, server.pub, NULL);
    void *cov2 = h_curve_client(ZMQ_DEALER, d.covert_ep, &obs2, server.pub, NULL);
    /* Both ask for every list they may have: obs2 for Nightjar too, were it let. */
    CHECK_INT(zmq_send(s_cov, "covert/", 7, 0), 7);
    CHECK_INT(zmq_send(cov2, "covert/", 7, 0), 7);
    uint64_t seq = 1;
    CHECK(h_feed_live(dealer, gen, CAM, &seq, GFENCE));
    CHECK(h_feed_live(dealer, s_cov, CAM, &seq, CFENCE));
    CHECK(h_feed_live(dealer, cov2, CAM, &seq, CFENCE));

    /* 1. Both urgent covert HITs come again to the cleared recipient, under their first ids. */
    struct proto_read r = h_read(CAM, seq++, TARGET, "BE");
    h_send_read(dealer, &r);
    r = h_read(CAM, seq++, CONTROL, "BE");
    h_send_read(dealer, &r);
    CHECK(s_until(TARGET, 3, 20000));
    CHECK(s_until(CONTROL, 3, 20000));
    uint64_t target_id = h_tally_find(s_tally, S_NTALLY, TARGET)->id;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hits WHERE covert AND hit_id = %" PRIu64,
             target_id);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 10000), 1);

    /* 2. A person not cleared for Nightjar cannot acknowledge it: it goes on. */
    snprintf(sql, sizeof sql, "SELECT anpr.acknowledge_hit(%" PRIu64 ", 'accepted', NULL)",
             target_id);
    CHECK_STR(h_sqlstate_as(&db, OTHER, sql), "P0002");
    int t = s_n(TARGET);
    CHECK(s_until(TARGET, t + 1, 20000));

    /* 3. The person cleared acknowledges it on their own login. What was sent before is taken
     * first; then the control's next announcement answers a question put after the commit at
     * the earliest, the one after it a question put after the commit for sure (one question at
     * a time): from then on, not once more for two periods (two more of the control). */
    CHECK_STR(h_sqlstate_as(&db, CLEARED, sql), "");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hit_ack WHERE hit_id = %" PRIu64 " AND operator = '" CLEARED
             "'",
             target_id);
    CHECK_INT(h_query_ll(db.admin, sql), 1);
    s_until("", 1, 100);
    int c = s_n(CONTROL);
    CHECK(s_until(CONTROL, c + 2, 20000));
    t = s_n(TARGET);
    CHECK(s_until(CONTROL, c + 4, 20000));
    CHECK_INT(s_n(TARGET), t);
    fprintf(stderr, "target announced %d times, control %d\n", t, s_n(CONTROL));

    /* 4. Nothing of Nightjar reached the recipient not cleared for it, nor the general feed:
     * what each had before a fence of its own. */
    CHECK_INT(s_before_fence(dealer, cov2, &seq, CFENCE), 0);
    CHECK_INT(s_before_fence(dealer, gen, &seq, GFENCE), 0);

    /* The stats line counts the re-announcements (not as HITs). */
    CHECK(h_daemon_wait_log(&d, " reannounced=", 10000));
    int64_t deadline = util_mono_us() + 10000000;
    while (h_daemon_stat(&d, " reannounced=") < 4 && util_mono_us() < deadline)
        s_until("", 1, 100);
    CHECK(h_daemon_stat(&d, " reannounced=") >= 4);

    for (size_t i = 0; i < S_NTALLY; i++)
        CHECK_INT(s_tally[i].wrong, 0);
    h_close(dealer);
    h_close(gen);
    h_close(s_cov);
    h_close(cov2);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    if (!check_failed)
        h_rmtree(dir);
    h_db_close(&db);
    return check_done("itest_reannounce_covert");
}
