/*
 * Integration: an urgent HIT that no operator acknowledges is announced again (the same frame,
 * the same hit_id) every dispatch.reannounce_s, and no more once it is acknowledged; a HIT
 * below dispatch.reannounce_priority is announced once. An urgent covert one is announced again
 * on the covert feed, until acknowledged (with CURVE and the people cleared for its list:
 * itest_reannounce_covert). A read resent after it was stored is announced under a new id, an alias
 * of the stored HIT: acknowledging either stops both. An urgent post-match HIT (the retro-match of
 * an entry added after its car passed) is announced again like a live one. The stats line
 * counts re-announcements
 * apart from HITs; anpr-console shows a
 * re-announcement again, marked (AGAIN, the tsv column again), also after catching up. A SIGHUP
 * with reannounce_s 0 stops every re-announcement at once; a changed dispatch.instance is
 * refused until a restart, with a warning.
 *
 * Nothing here sleeps: a silence is shown by another urgent HIT, never acknowledged, being
 * announced again meanwhile (questions about acknowledgements are asked one at a time, so two
 * announcements of it after the acknowledgement mean the daemon has asked since), or by the
 * daemon's stats lines going by.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM     "BE-N76-OPGLABBEEK"
#define ACKED   "1-URG-001" /* urgent, acknowledged half way */
#define CONTROL "1-URG-002" /* urgent, never acknowledged */
#define LOW     "5-LOW-005" /* not urgent enough */
#define COVERT  "1-CVT-001" /* urgent, on a covert list: acknowledged half way */
#define LATER   "1-NEW-003" /* urgent, read after re-announcement was turned off */
#define RESENT  "1-RSN-004" /* urgent, its read resent after it was stored: one id */
#define POSTM   "1-PST-006" /* read first, listed (urgent) after: a post-match */
#define OP      "op_reannounce"

/* What the feed and the covert feed brought, per plate (RESENT under one id: a resend is not
 * announced again). */
static struct h_tally s_tally[] = {{ACKED, false, 0, 0, 0, 0}, {CONTROL, false, 0, 0, 0, 0},
                                   {LOW, false, 0, 0, 0, 0},   {COVERT, false, 0, 0, 0, 0},
                                   {LATER, false, 0, 0, 0, 0}, {RESENT, false, 0, 0, 0, 0},
                                   {POSTM, false, 0, 0, 0, 0}};
#define S_NTALLY (sizeof s_tally / sizeof s_tally[0])

static void *s_sub, *s_csub;

static struct h_tally *s_find(const char *plate)
{
    return h_tally_find(s_tally, S_NTALLY, plate);
}

/* Receive from both feeds until the tally of plate reaches n or ms pass; whether it did (a
 * plate not in the tally: receive for ms). */
static bool s_until(const char *plate, int n, int ms)
{
    void *subs[2] = {s_sub, s_csub};
    return h_tally_until(s_tally, S_NTALLY, subs, 2, plate, n, ms);
}

static int s_n(const char *plate)
{
    return s_find(plate)->n;
}

/* Take what is on the feeds now (for a moment), then the tally of plate. */
static int s_drain(const char *plate)
{
    s_until("", 1, 50);
    return s_n(plate);
}

/* Poll a text console's output until a line has both a and b, or ms pass; whether one has. */
static bool s_wait_line(const char *path, const char *a, const char *b, int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        char *out = h_slurp(path);
        bool found = false;
        for (char *line = strtok(out, "\n"); line && !found; line = strtok(NULL, "\n"))
            found = strstr(line, a) && strstr(line, b);
        free(out);
        if (found)
            return true;
        if (util_mono_us() >= deadline)
            return false;
        s_until("", 1, 20); /* a short wait that keeps taking the test's feeds */
    }
}

/* Lines of a tsv console output with plate in column 4 and `again` (the last column). */
static int s_tsv_count(const char *path, const char *plate, int again)
{
    char *out = h_slurp(path);
    int n = 0;

    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[32], *save = NULL;
        int nf = 0;
        for (char *tok = strtok_r(line, "\t", &save); tok && nf < 32;
             tok = strtok_r(NULL, "\t", &save))
            f[nf++] = tok;
        n += nf >= 17 && strcmp(f[3], plate) == 0 && atoi(f[nf - 1]) == again;
    }
    free(out);
    return n;
}

/* Poll until a tsv console's output has at least n such lines, or ms pass; whether it has. */
static bool s_wait_tsv(const char *path, const char *plate, int again, int n, int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;

    while (s_tsv_count(path, plate, again) < n) {
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
    char sql[512], op_ci[600], tsv_path[256], text_path[256], err_path[256];

    h_require_env();
    h_db_create(&db, "itest_reannounce");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'N76');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, covert) VALUES "
           "('Wanted persons', 'wanted', 1, 0, false), ('Uninsured', 'uninsured', 5, 0, false),"
           "('Fence', 'surveillance', 9, 0, false), ('Operation Nightjar', 'wanted', 1, 0, true),"
           "('Covert fence', 'surveillance', 9, 0, true);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'FENCE-1' "
           "FROM anpr.watchlist WHERE name = 'Fence';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'CFENCE-1' "
           "FROM anpr.watchlist WHERE name = 'Covert fence';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p "
           "FROM anpr.watchlist, (VALUES ('" ACKED "'), ('" CONTROL "'), ('" LATER "'), "
           "('" RESENT "')) v(p) "
           "WHERE name = 'Wanted persons';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" LOW "' "
           "FROM anpr.watchlist WHERE name = 'Uninsured';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" COVERT "' "
           "FROM anpr.watchlist WHERE name = 'Operation Nightjar';"
           "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" OP "') THEN "
           "CREATE ROLE " OP " LOGIN; END IF; END $$;"
           "GRANT anpr_dispatch TO " OP);
    snprintf(op_ci, sizeof op_ci, "host=%s port=%s dbname=%s user=" OP, getenv("ANPR_TEST_PGHOST"),
             getenv("ANPR_TEST_PGPORT"), db.name);
    struct h_daemon_opts opts = {
        .dispatch = "  reannounce_s: 1\n  reannounce_priority: 2\n  instance: 3\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;

    /* Two consoles: one catching up first (tsv), one live only (text). */
    snprintf(tsv_path, sizeof tsv_path, "%s/console.tsv", d.dir);
    snprintf(text_path, sizeof text_path, "%s/console.txt", d.dir);
    snprintf(err_path, sizeof err_path, "%s/console.err", d.dir);
    char *tsv_argv[] = {getenv("ANPR_CONSOLE"),
                        "--endpoint",
                        d.dispatch_ep,
                        "--db",
                        op_ci,
                        "--since",
                        "0",
                        "--format",
                        "tsv",
                        "--timeout",
                        "60",
                        NULL};
    char *text_argv[] = {getenv("ANPR_CONSOLE"),
                         "--endpoint",
                         d.dispatch_ep,
                         "--format",
                         "text",
                         "--timeout",
                         "60",
                         NULL};
    pid_t tsv_con = h_spawn(tsv_argv, tsv_path, err_path);
    pid_t text_con = h_spawn(text_argv, text_path, "/dev/null");

    void *dealer = h_dealer(d.ingest_ep);
    s_sub = h_sub(d.dispatch_ep, "hit/");
    s_csub = h_covert(d.covert_ep, "covert/");
    uint64_t seq = 1;
    CHECK(h_feed_live(dealer, s_sub, CAM, &seq, "FENCE-1"));
    CHECK(h_feed_live(dealer, s_csub, CAM, &seq, "CFENCE-1"));
    const char *plates[] = {ACKED, CONTROL, LOW, COVERT};
    for (int i = 0; i < 4; i++) {
        struct proto_read r = h_read(CAM, seq++, plates[i], "BE");
        h_send_read(dealer, &r);
    }
    struct proto_read resent = h_read(CAM, seq++, RESENT, "BE");
    h_send_read(dealer, &resent);

    /* 1. The urgent HITs come again, the covert one on the covert feed (s_sub takes hit/
     * only); meanwhile the low one came once. */
    CHECK(s_until(CONTROL, 3, 10000));
    CHECK(s_until(ACKED, 3, 3000));
    CHECK(s_until(COVERT, 3, 3000));
    fprintf(stderr, "control HIT seen %d times\n", s_n(CONTROL));
    CHECK_INT(s_n(LOW), 1);

    /* 2. Stats: hits= counts HITs produced (each stored once), reannounced= the repeats. */
    long long produced = h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits");
    snprintf(sql, sizeof sql, " hits=%lld ", produced);
    CHECK(h_daemon_wait_log(&d, sql, 5000));
    int64_t deadline = util_mono_us() + 5000000;
    while (h_daemon_stat(&d, " reannounced=") < 4 && util_mono_us() < deadline)
        s_until("", 1, 50);
    CHECK(h_daemon_stat(&d, " reannounced=") >= 4);
    CHECK_INT(h_daemon_stat(&d, " hits="), produced);

    /* The read of RESENT again, as a camera that lost its ACK sends it: acknowledged again and
     * stored once, not announced again (PROTOCOL.md 8.1 rule 6): no alias is made. */
    CHECK_INT(
        h_wait_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE plate = '1RSN004'", 1, 5000), 1);
    int resent_before = s_n(RESENT);
    h_send_read(dealer, &resent);
    int64_t deadline2 = util_mono_us() + 5000000;
    while (h_daemon_stat(&d, " duplicate=") < 1 && util_mono_us() < deadline2)
        s_until("", 1, 50);
    CHECK(h_daemon_stat(&d, " duplicate=") >= 1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_alias"), 0);
    CHECK_INT(s_find(RESENT)->alias, 0);
    CHECK(s_n(RESENT) >= resent_before);

    /* A post-match: the car passed before it was listed on an urgent list with a retro-match
     * window; its HIT is announced again like a live one. */
    h_exec(db.admin, "UPDATE anpr.watchlist SET retro_s = 3600 WHERE name = 'Wanted persons'");
    struct proto_read early = h_read(CAM, seq++, POSTM, "BE");
    h_send_read(dealer, &early);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE plate = '1PST006'", 1,
                        5000),
              1);
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" POSTM
                     "' FROM anpr.watchlist WHERE name = 'Wanted persons'");
    CHECK(s_until(POSTM, 3, 10000));
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE post_match"), 1);

    /* 3. Acknowledged: once the daemon has asked since (two more of the control), never again.
     * RESENT by the console, as an operator would. */
    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.hit_ack (hit_id, decision) VALUES (%" PRIu64 ", 'accepted'), "
             "(%" PRIu64 ", 'accepted')",
             s_find(ACKED)->id, s_find(COVERT)->id);
    h_exec(db.admin, sql);
    char resent_id[32];
    snprintf(resent_id, sizeof resent_id, "%" PRIu64, s_find(RESENT)->id);
    char *ack_argv[] = {getenv("ANPR_CONSOLE"), "ack", resent_id, "accepted", "--db", op_ci, NULL};
    CHECK_INT(h_wait(h_spawn(ack_argv, "/dev/null", "/dev/null"), 20000), 0);
    int c = s_n(CONTROL);
    CHECK(s_until(CONTROL, c + 2, 6000));
    int acked = s_n(ACKED), resent_n = s_n(RESENT), covert_n = s_n(COVERT);
    CHECK(s_until(CONTROL, c + 3, 6000));
    CHECK_INT(s_n(ACKED), acked);
    CHECK_INT(s_n(RESENT), resent_n);
    CHECK_INT(s_n(COVERT), covert_n);
    CHECK_INT(s_n(LOW), 1);

    /* 4. The consoles show the control again, marked; the catching-up one still shows the
     * control's first announcement once. */
    CHECK(s_wait_line(text_path, "AGAIN WANTED", CONTROL, 5000));
    CHECK(s_wait_tsv(tsv_path, CONTROL, 1, 1, 5000));
    CHECK_INT(s_tsv_count(tsv_path, CONTROL, 0), 1);
    CHECK_INT(s_tsv_count(tsv_path, LOW, 0), 1);
    CHECK_INT(s_tsv_count(tsv_path, LOW, 1), 0);
    kill(tsv_con, SIGTERM);
    kill(text_con, SIGTERM);
    CHECK_INT(h_wait(tsv_con, 5000), 0);
    CHECK_INT(h_wait(text_con, 5000), 0);
    char *err = h_slurp(err_path);
    CHECK_CONTAINS(err, " again=");
    CHECK(strstr(err, " again=0") == NULL);
    free(err);

    /* 5. SIGHUP with reannounce_s 0 (and another instance, which needs a restart): the two left
     * unacknowledged (the control and the post-match) let go; not one
     * more, while the daemon's stats lines show two seconds go by (the control was due every
     * second). */
    char *conf = h_slurp(d.conf_path);
    char *at = strstr(conf, "reannounce_s: 1");
    char *inst = strstr(conf, "instance: 3");
    CHECK(at && inst);
    if (at && inst) {
        at[strlen("reannounce_s: ")] = '0';
        inst[strlen("instance: ")] = '4';
        FILE *f = fopen(d.conf_path, "w");
        CHECK(f && fputs(conf, f) >= 0 && fclose(f) == 0);
    }
    free(conf);
    kill(d.pid, SIGHUP);
    CHECK(h_daemon_wait_log(&d, "re-announcement off: 2 unacknowledged urgent HITs", 5000));
    CHECK(h_daemon_wait_log(&d, "reload: configuration applied", 5000));
    CHECK(h_daemon_log_has(&d, "dispatch.instance 4 takes effect at restart"));
    /* The first stats line after the reload, then two more. */
    int lines = h_daemon_log_count(&d, "stats: frames=");
    deadline = util_mono_us() + 10000000;
    while (h_daemon_log_count(&d, "stats: frames=") < lines + 1 && util_mono_us() < deadline)
        s_until("", 1, 100);
    long long again = h_daemon_stat(&d, " reannounced=");
    c = s_drain(CONTROL);
    while (h_daemon_log_count(&d, "stats: frames=") < lines + 3 && util_mono_us() < deadline)
        s_until("", 1, 100);
    CHECK(h_daemon_log_count(&d, "stats: frames=") >= lines + 3);
    CHECK_INT(s_drain(CONTROL), c);
    CHECK_INT(h_daemon_stat(&d, " reannounced="), again);

    /* A HIT after the reload still carries the instance it started with (3). */
    struct proto_read r = h_read(CAM, seq++, LATER, "BE");
    h_send_read(dealer, &r);
    CHECK(s_until(LATER, 1, 5000));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits WHERE seq = %" PRIu64 " AND (hit_id >> 12) & 1023 = 3",
             r.seq);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 5000), 1);

    h_close(dealer);
    h_close(s_sub);
    h_close(s_csub);
    /* Every announcement again came under the id it came with first. */
    for (size_t i = 0; i < S_NTALLY; i++)
        CHECK_INT(s_tally[i].wrong, 0);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_reannounce");
}
