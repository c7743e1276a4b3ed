/*
 * Integration: dispatch delivery (docs/DISPATCH.md). HITs on the feed carry the hit_id they
 * are stored under; a console started later with --since catches up on exactly the HITs it
 * missed and then shows live ones once each; --since last resumes from its --state file. An
 * operator (a login in anpr_dispatch) acknowledges HITs through anpr.acknowledge_hit, by the
 * real anpr-console; rows keep the login and the time; what must be refused is: a rejection
 * without a reason, a retired or unknown reason, an unknown HIT, a covert HIT. Dispatch cannot
 * alter acknowledgements nor read plate history.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "consenv.h"
#include "harness.h"

#define CAM   "BE-N78-LANAKEN-1"
#define FENCE "FENCE-1"
#define OP    "op_dispatch1"

static void *dealer, *sub;
static uint64_t seq = 1;

/* Send reads of plates[0..n) and a fence; their HITs (not the fence's) into hits[]. */
static int s_send(const char *const *plates, int n, struct proto_hit *hits, int max)
{
    for (int i = 0; i < n; i++) {
        struct proto_read r = h_read(CAM, seq++, plates[i], "BE");
        r.lane = 2;
        h_send_read(dealer, &r);
    }
    struct proto_read fence = h_read(CAM, seq++, FENCE, "");
    h_send_read(dealer, &fence);
    return h_collect_hits(sub, CAM, fence.seq, FENCE, hits, max, 5000);
}

/* Wait until every HIT of hits[0..n) is stored under its id (spool mode: a few ms later). */
static bool s_stored(PGconn *admin, const struct proto_hit *hits, int n)
{
    char sql[2048];
    size_t len = 0;

    len += (size_t)snprintf(sql + len, sizeof sql - len,
                            "SELECT count(*) FROM anpr.hits h JOIN anpr.camera c "
                            "ON c.id = h.camera_id WHERE c.code = '" CAM "' AND (false");
    for (int i = 0; i < n && len < sizeof sql - 200; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len,
                                " OR (h.hit_id = %" PRIu64 " AND h.seq = %" PRIu64
                                " AND h.entry_id = %" PRIu64 ")",
                                hits[i].hit_id, hits[i].read.seq, hits[i].entry_id);
    snprintf(sql + len, sizeof sql - len, ")");
    return h_wait_ll(admin, sql, n, 5000) == n;
}

/* SQLSTATE of a statement ("" when it succeeded); the message into msg. */
static const char *s_state(PGconn *conn, const char *sql, char *msg, size_t cap)
{
    static char st[8];
    PGresult *res = PQexec(conn, sql);
    ExecStatusType t = PQresultStatus(res);
    const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    snprintf(st, sizeof st, "%s",
             (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) ? ""
             : s                                             ? s
                                                             : "?");
    if (msg)
        snprintf(msg, cap, "%s", m ? m : "");
    PQclear(res);
    return st;
}

/* One tsv line of anpr-console: the plate (column 4), the hit_id (17) and whether it was
 * announced again (18, the last). */
struct line {
    char plate[PROTO_PLATE_MAX + 1];
    uint64_t hit_id;
    int again;
};

static int s_parse(const char *out, struct line *lines, int max)
{
    int n = 0;

    for (const char *p = out; *p != '\0' && n < max;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char buf[4096];
        char *f[32], *save = NULL;
        int nf = 0;

        snprintf(buf, sizeof buf, "%.*s", (int)len, p);
        for (char *tok = strtok_r(buf, "\t", &save); tok && nf < 32;
             tok = strtok_r(NULL, "\t", &save))
            f[nf++] = tok;
        /* The detail column may be empty: strtok skips it, so count from the end. */
        if (nf >= 17) {
            snprintf(lines[n].plate, sizeof lines[n].plate, "%s", f[3]);
            lines[n].hit_id = strtoull(f[nf - 2], NULL, 10);
            lines[n].again = atoi(f[nf - 1]);
            n++;
        }
        p += len + (eol ? 1 : 0);
    }
    return n;
}

static int s_count_plate(const struct line *l, int n, const char *plate)
{
    int c = 0;

    for (int i = 0; i < n; i++)
        c += strcmp(l[i].plate, plate) == 0;
    return c;
}

/* anpr-console ack/reasons; exit status, stdout+stderr in out_path. */
static int s_console(const char *out_path, char *const *args)
{
    char *argv[16] = {getenv("ANPR_CONSOLE")};
    int n = 1;

    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    return h_wait(h_spawn(argv, out_path, out_path), 20000);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct proto_hit a[16], b[16], hits[16];
    char op_ci[600], sql[1024], msg[512], out_path[256], err_path[256], state_path[256];
    char id[32];
    static const char *const plates_a[] = {"1-AAA-001", "1-AAA-002", "1-AAA-003"};
    static const char *const plates_b[] = {"1-BBB-001", "1-BBB-002"};

    h_require_env();
    if (getenv("ANPR_CONSOLE") == NULL)
        h_fatal("ANPR_CONSOLE is not set");
    h_db_create(&db, "itest_dispatch");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'N78 Lanaken');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, covert) VALUES "
           "('Stolen vehicles', 'stolen', 1, 0, false), ('Fence', 'surveillance', 9, 0, false),"
           "('Operation Nightjar', 'surveillance', 2, 0, true);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country, instruction) "
           "SELECT id, p, 'BE', 'Stop and check' FROM anpr.watchlist, (VALUES ('1-AAA-001'), "
           "('1-AAA-002'), ('1-AAA-003'), ('1-BBB-001'), ('1-BBB-002'), ('1-XXX-001'), "
           "('1-DDD-001'), ('1-EEE-001')) v(p) WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, '" FENCE "' FROM anpr.watchlist WHERE name = 'Fence';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, '1-NJR-007' FROM anpr.watchlist WHERE name = 'Operation Nightjar';"
           "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" OP "') THEN "
           "CREATE ROLE " OP " LOGIN; END IF; END $$;"
           "GRANT anpr_dispatch TO " OP);
    snprintf(op_ci, sizeof op_ci, "host=%s port=%s dbname=%s user=" OP, getenv("ANPR_TEST_PGHOST"),
             getenv("ANPR_TEST_PGPORT"), db.name);
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;
    snprintf(out_path, sizeof out_path, "%s/console.out", d.dir);
    snprintf(err_path, sizeof err_path, "%s/console.err", d.dir);
    snprintf(state_path, sizeof state_path, "%s/console.state", d.dir);
    dealer = h_dealer(d.ingest_ep);
    sub = h_sub(d.dispatch_ep, "hit/");
    CHECK(h_feed_live(dealer, sub, CAM, &seq, FENCE));

    /* 1. Live HITs carry ids, increasing, each stored under that id with its read and entry. */
    int na = s_send(plates_a, 3, a, 16);
    CHECK_INT(na, 3);
    for (int i = 0; i < na && i < 16; i++) {
        CHECK(a[i].hit_id != 0);
        if (i > 0)
            CHECK(a[i].hit_id > a[i - 1].hit_id);
    }
    CHECK(na == 3 && s_stored(db.admin, a, na));

    /* 2. HITs while no console runs: B. The console will ask for those after `since`. */
    snprintf(sql, sizeof sql, "SELECT coalesce(max(hit_id), 0) FROM anpr.hits");
    uint64_t since = (uint64_t)h_query_ll(db.admin, sql);
    CHECK(na == 3 && since >= a[2].hit_id);
    int nb = s_send(plates_b, 2, b, 16);
    CHECK_INT(nb, 2);
    CHECK(nb == 2 && s_stored(db.admin, b, nb));
    CHECK(nb == 2 && b[0].hit_id > since && b[1].hit_id > b[0].hit_id);

    /* 3. A console catches up on B only (not A, not the fence's category), then goes live. */
    char since_s[32];
    snprintf(since_s, sizeof since_s, "%" PRIu64, since);
    char *cargv[] = {getenv("ANPR_CONSOLE"),
                     "--endpoint",
                     d.dispatch_ep,
                     "--db",
                     op_ci,
                     "--since",
                     since_s,
                     "--state",
                     state_path,
                     "--category",
                     "stolen",
                     "--format",
                     "tsv",
                     "--timeout",
                     "60",
                     NULL};
    pid_t con = h_spawn(cargv, out_path, err_path);
    CHECK(consenv_wait_out(out_path, 0, "1-BBB-002", 10000));
    /* Live from now on: probes until one is shown (the subscription takes a moment). */
    bool live = false;
    for (int i = 0; i < 50 && !live; i++) {
        static const char *const probe[] = {"1-XXX-001"};
        CHECK(s_send(probe, 1, hits, 16) == 1);
        live = consenv_wait_out(out_path, 0, "1-XXX-001", 200);
    }
    CHECK(live);
    static const char *const plate_d[] = {"1-DDD-001"};
    struct proto_hit dh[4];
    CHECK_INT(s_send(plate_d, 1, dh, 4), 1);
    CHECK(consenv_wait_out(out_path, 0, "1-DDD-001", 5000));
    CHECK(s_stored(db.admin, dh, 1));
    /* Past the second catch-up pass (1 s), which finds the probes again: still shown once. */
    usleep(1500000);
    kill(con, SIGTERM);
    CHECK_INT(h_wait(con, 5000), 0);

    char *out = h_slurp(out_path);
    struct line lines[256];
    int nl = s_parse(out, lines, 256);
    free(out);
    CHECK(nl >= 4);
    CHECK_INT(s_count_plate(lines, nl, "1-BBB-001"), 1);
    CHECK_INT(s_count_plate(lines, nl, "1-BBB-002"), 1);
    CHECK_INT(s_count_plate(lines, nl, "1-DDD-001"), 1);
    for (int i = 0; i < 3; i++)
        CHECK_INT(s_count_plate(lines, nl, plates_a[i]), 0);
    CHECK_INT(s_count_plate(lines, nl, FENCE), 0);
    /* B first, in id order, with their ids. */
    CHECK(nl >= 2 && lines[0].hit_id == b[0].hit_id && lines[1].hit_id == b[1].hit_id);
    /* Every id once, and the set is exactly the stolen HITs after `since` in the table. */
    uint64_t max_id = 0;
    for (int i = 0; i < nl; i++) {
        for (int j = 0; j < i; j++)
            if (lines[j].hit_id == lines[i].hit_id)
                fprintf(stderr, "hit %" PRIu64 " printed twice\n", lines[i].hit_id);
        CHECK(lines[i].hit_id > since);
        max_id = lines[i].hit_id > max_id ? lines[i].hit_id : max_id;
    }
    int dups = 0;
    for (int i = 0; i < nl; i++) {
        CHECK_INT(lines[i].again, 0); /* not announced again: reannounce_s is 120 */
        for (int j = 0; j < i; j++)
            dups += lines[j].hit_id == lines[i].hit_id;
    }
    CHECK_INT(dups, 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits WHERE category = 'stolen' AND hit_id > %" PRIu64,
             since);
    CHECK_INT(h_query_ll(db.admin, sql), nl);
    char *err = h_slurp(err_path);
    CHECK_CONTAINS(err, "caught_up=2 ");
    fprintf(stderr, "console: %s", err);
    free(err);
    /* The state file holds the highest id shown. */
    char *st = h_slurp(state_path);
    CHECK(strtoull(st, NULL, 10) == max_id && max_id != 0);
    free(st);

    /* 4. --since last: a HIT while the console was away, and only that one. */
    static const char *const plate_e[] = {"1-EEE-001"};
    struct proto_hit eh[4];
    CHECK_INT(s_send(plate_e, 1, eh, 4), 1);
    CHECK(s_stored(db.admin, eh, 1));
    char *cargv2[] = {getenv("ANPR_CONSOLE"),
                      "--endpoint",
                      d.dispatch_ep,
                      "--db",
                      op_ci,
                      "--since",
                      "last",
                      "--state",
                      state_path,
                      "--category",
                      "stolen",
                      "--format",
                      "tsv",
                      "--timeout",
                      "2",
                      NULL};
    CHECK_INT(h_wait(h_spawn(cargv2, out_path, err_path), 20000), 0);
    out = h_slurp(out_path);
    nl = s_parse(out, lines, 256);
    free(out);
    CHECK_INT(nl, 1);
    CHECK(nl == 1 && strcmp(lines[0].plate, "1-EEE-001") == 0 && lines[0].hit_id == eh[0].hit_id);

    /* 5. Acknowledgements by the operator's own login, through anpr-console. */
    snprintf(id, sizeof id, "%" PRIu64, b[0].hit_id);
    CHECK_INT(s_console(out_path, (char *[]){"ack", id, "accepted", "--db", op_ci, NULL}), 0);
    snprintf(id, sizeof id, "%" PRIu64, b[1].hit_id);
    CHECK_INT(s_console(out_path, (char *[]){"ack", id, "rejected", "--reason", "misread", "--db",
                                             op_ci, NULL}),
              0);
    out = h_slurp(out_path);
    CHECK_CONTAINS(out, "rejected (misread) by " OP);
    free(out);
    snprintf(id, sizeof id, "%" PRIu64, dh[0].hit_id);
    CHECK_INT(s_console(out_path, (char *[]){"ack", id, "not-enforced", "--db", op_ci, NULL}), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hit_ack WHERE operator = '" OP "' "
             "AND acked_at > now() - interval '1 minute' AND ("
             "(hit_id = %" PRIu64 " AND decision = 'accepted' AND reason IS NULL) OR "
             "(hit_id = %" PRIu64 " AND decision = 'rejected' AND reason = 'misread') OR "
             "(hit_id = %" PRIu64 " AND decision = 'not_enforced'))",
             b[0].hit_id, b[1].hit_id, dh[0].hit_id);
    CHECK_INT(h_query_ll(db.admin, sql), 3);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack"), 3);

    /* The dispatch view shows the latest acknowledgement and the read as the feed did. */
    PGconn *op = PQconnectdb(op_ci);
    CHECK(PQstatus(op) == CONNECTION_OK);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.dispatch_hits WHERE hit_id = %" PRIu64
             " AND ack_decision = 'rejected' AND ack_reason = 'misread' AND ack_operator = '" OP
             "' AND acked_at IS NOT NULL AND camera = '" CAM "' AND read_plate = '1-BBB-002' "
             "AND lane = 2 AND list_name = 'Stolen vehicles' AND entry_plate = '1BBB002' "
             "AND NOT post_match",
             b[1].hit_id);
    CHECK_INT(h_query_ll(op, sql), 1);

    /* 6. Refused. A rejection without a reason (the function; the console stops it first). */
    snprintf(sql, sizeof sql, "SELECT anpr.acknowledge_hit(%" PRIu64 ", 'rejected', NULL)",
             b[0].hit_id);
    CHECK_STR(s_state(op, sql, msg, sizeof msg), "22023");
    CHECK_CONTAINS(msg, "needs a reason");
    snprintf(id, sizeof id, "%" PRIu64, b[0].hit_id);
    CHECK_INT(s_console(out_path, (char *[]){"ack", id, "rejected", "--db", op_ci, NULL}), 2);
    /* A retired reason, and one never defined. */
    CHECK_INT(s_console(out_path, (char *[]){"reasons", "--db", op_ci, NULL}), 0);
    out = h_slurp(out_path);
    CHECK_CONTAINS(out, "duplicate\n");
    CHECK_CONTAINS(out, "misread\n");
    free(out);
    h_exec(db.admin, "UPDATE anpr.ack_reason SET active = false WHERE reason = 'duplicate'");
    CHECK_INT(s_console(out_path, (char *[]){"reasons", "--db", op_ci, NULL}), 0);
    out = h_slurp(out_path);
    CHECK(strstr(out, "duplicate") == NULL);
    free(out);
    CHECK_INT(s_console(out_path, (char *[]){"ack", id, "rejected", "--reason", "duplicate", "--db",
                                             op_ci, NULL}),
              1);
    out = h_slurp(out_path);
    CHECK_CONTAINS(out, "reason 'duplicate' is unknown or no longer in use");
    free(out);
    snprintf(sql, sizeof sql,
             "SELECT anpr.acknowledge_hit(%" PRIu64 ", 'rejected', 'no_such_reason')", b[0].hit_id);
    CHECK_STR(s_state(op, sql, msg, sizeof msg), "22023");
    /* An unknown HIT. */
    CHECK_INT(s_console(out_path, (char *[]){"ack", "4242", "accepted", "--db", op_ci, NULL}), 1);
    out = h_slurp(out_path);
    CHECK_CONTAINS(out, "HIT 4242 does not exist or is not visible to dispatch");
    free(out);
    CHECK_STR(s_state(op, "SELECT anpr.acknowledge_hit(4242, 'accepted', NULL)", NULL, 0), "P0002");
    /* A covert HIT: stored, but dispatch neither sees nor acknowledges it. */
    struct proto_read cr = h_read(CAM, seq++, "1-NJR-007", "BE");
    h_send_read(dealer, &cr);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE covert", 1, 5000), 1);
    long long covert_id =
        h_query_ll(db.admin, "SELECT coalesce(max(hit_id), 0) FROM anpr.hits WHERE covert");
    CHECK(covert_id > 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.dispatch_hits WHERE hit_id = %lld",
             covert_id);
    CHECK_INT(h_query_ll(op, sql), 0);
    snprintf(id, sizeof id, "%lld", covert_id);
    CHECK_INT(s_console(out_path, (char *[]){"ack", id, "accepted", "--db", op_ci, NULL}), 1);
    out = h_slurp(out_path);
    CHECK_CONTAINS(out, "does not exist or is not visible to dispatch");
    free(out);
    snprintf(sql, sizeof sql, "SELECT anpr.acknowledge_hit(%lld, 'not_enforced', NULL)", covert_id);
    CHECK_STR(s_state(op, sql, NULL, 0), "P0002");
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack"), 3);
    /* An alias of a covert HIT (its read announced again): refused the same way, and the
     * message names the id as given, never the covert HIT's own (migration 014). */
    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.hit_alias (hit_id, stored_hit_id) VALUES (%lld, %lld)",
             covert_id + 1000000, covert_id);
    h_exec(db.admin, sql);
    snprintf(sql, sizeof sql, "SELECT anpr.acknowledge_hit(%lld, 'accepted', NULL)",
             covert_id + 1000000);
    CHECK_STR(s_state(op, sql, msg, sizeof msg), "P0002");
    char want[128];
    snprintf(want, sizeof want, "HIT %lld does not exist or is not visible to dispatch",
             covert_id + 1000000);
    CHECK_STR(msg, want); /* the whole message: the covert HIT's id is not in it */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack"), 3);

    /* 7. A read resent after it was stored (its ACK lost) is acknowledged again and not
     * announced again (PROTOCOL.md 8.1 rule 6); the same identity with other content (another
     * lane) is refused as a conflict. Either way nothing new reaches dispatch or the tables. */
    struct proto_hit first[4], again[4];
    static const char *const plates_x[] = {"1-XXX-001"};
    CHECK_INT(s_send(plates_x, 1, first, 4), 1);
    CHECK(s_stored(db.admin, first, 1));
    struct proto_read resent = h_read(CAM, first[0].read.seq, "1-XXX-001", "BE");
    resent.time_us = first[0].read.time_us;
    h_send_read(dealer, &resent);
    resent.lane = 2;
    h_send_read(dealer, &resent);
    struct proto_read fence2 = h_read(CAM, seq++, FENCE, "");
    h_send_read(dealer, &fence2);
    CHECK_INT(h_collect_hits(sub, CAM, fence2.seq, FENCE, again, 4, 5000), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hit_alias WHERE stored_hit_id = %" PRIu64,
             first[0].hit_id);
    CHECK_INT(h_query_ll(db.admin, sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits WHERE seq = %" PRIu64 " AND entry_id = %" PRIu64,
             first[0].read.seq, first[0].entry_id);
    CHECK_INT(h_query_ll(db.admin, sql), 1);
    snprintf(id, sizeof id, "%" PRIu64, first[0].hit_id);
    CHECK_INT(s_console(out_path, (char *[]){"ack", id, "accepted", "--db", op_ci, NULL}), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hit_ack WHERE hit_id = %" PRIu64,
             first[0].hit_id);
    CHECK_INT(h_query_ll(db.admin, sql), 1);

    /* A list made covert after its HITs: they stay on the dispatch view, without the list's
     * name, listed plate, instruction or reference. */
    h_exec(db.admin, "UPDATE anpr.watchlist SET covert = true WHERE name = 'Stolen vehicles'");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.dispatch_hits WHERE hit_id = %" PRIu64
             " AND list_name IS NULL AND entry_plate IS NULL AND instruction IS NULL "
             "AND detail IS NULL",
             first[0].hit_id);
    CHECK_INT(h_query_ll(op, sql), 1);
    h_exec(db.admin, "UPDATE anpr.watchlist SET covert = false WHERE name = 'Stolen vehicles'");

    /* 8. Dispatch cannot alter acknowledgements, write them directly, nor read history; even
     * the owner cannot change them. */
    CHECK_STR(s_state(op, "UPDATE anpr.hit_ack SET decision = 'accepted'", NULL, 0), "42501");
    CHECK_STR(s_state(op, "DELETE FROM anpr.hit_ack", NULL, 0), "42501");
    CHECK_STR(
        s_state(op, "INSERT INTO anpr.hit_ack (hit_id, decision) VALUES (1, 'accepted')", NULL, 0),
        "42501");
    CHECK_STR(s_state(op, "SELECT count(*) FROM anpr.plate_read", NULL, 0), "42501");
    CHECK_STR(s_state(op, "SELECT count(*) FROM anpr.hits", NULL, 0), "42501");
    /* Aliases may be of covert HITs: only the daemon reads them. */
    CHECK_STR(s_state(op, "SELECT count(*) FROM anpr.hit_alias", NULL, 0), "42501");
    CHECK_STR(s_state(db.admin, "UPDATE anpr.hit_ack SET reason = NULL", msg, sizeof msg), "42501");
    CHECK_CONTAINS(msg, "append-only");
    CHECK_STR(s_state(db.admin, "DELETE FROM anpr.hit_ack", NULL, 0), "42501");
    CHECK_STR(s_state(db.admin, "TRUNCATE anpr.hit_ack", NULL, 0), "42501");
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack"), 4);
    /* Only dispatch may acknowledge: the daemon's role may not. */
    PGconn *dm = PQconnectdb(db.daemon_ci);
    CHECK_STR(s_state(dm, "SELECT anpr.acknowledge_hit(4242, 'accepted', NULL)", NULL, 0), "42501");
    PQfinish(dm);
    PQfinish(op);

    h_close(dealer);
    h_close(sub);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_dispatch");
}
