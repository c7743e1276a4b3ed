/*
 * Integration: anpr-web following two anprd instances (two daemons on one database, dispatch
 * instance 0 and 1) on their general and covert feeds, with real PostgreSQL logins (SCRAM).
 *
 * - Covert HITs for cleared people: a dispatcher cleared for a covert list (anpr.grant_covert,
 *   by an admin) gets its HIT on the board's stream, marked covert; one not cleared does not,
 *   live or on catch-up; a clearance withdrawn stops the next covert HIT (after the 2 s the
 *   board may hold an answer); the catch-up of a cleared person is audited, and in SQL its
 *   HITs are read only once the request's audit row has committed (BEGIN ... ROLLBACK reads
 *   nothing and leaves no row; migration 021).
 * - Several instances: HITs from both arrive; a read sent to both instances (a camera that
 *   moved to the other one and resent it) is shown once; the health events carry each
 *   instance. anpr-console with both endpoints likewise, and says when one is lost. A third
 *   endpoint relays instance 0's feed as it is (its real frames, a second path to it): every
 *   HIT of instance 0 then comes twice under its hit_id, and is shown once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "httpc.h"
#include "util.h"
#include "webenv.h"

#define OP2    "webt_op2" /* a second dispatcher: cleared, then not */
#define OP2_PW "op2-Pass-1234"
#define OP3    "webt_op3" /* a dispatcher never cleared */
#define OP3_PW "op3-Pass-5678"
#define ADMIN  "webt_admin" /* an admin (trusted by the test server: SQL only) */
#define COVERT "COV-777"    /* on the covert list "Observation" */
#define CAM2   "BE-E314-BOORSEM-1"

/* A statement's single value as text ("" for NULL), its SQLSTATE in state ("" when it ran). */
static void s_value(PGconn *conn, const char *sql, char *out, size_t n, char state[6])
{
    PGresult *res = PQexec(conn, sql);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    snprintf(state, 6, "%s", st ? st : "");
    snprintf(out, n, "%s",
             PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 1
                 ? PQgetvalue(res, 0, 0)
                 : "");
    PQclear(res);
}

/* The covert catch-up in SQL, as a cleared person's own login may call it: nothing comes back
   before the request's audit row has committed, and a rollback leaves no unaudited read. */
static void s_ticket_sql(const struct h_db *db, const char *cov_id)
{
    char ci[700], ticket[32], v[64], state[6], sql[256];
    const char *audits = "SELECT count(*) FROM anpr.covert_read_audit";

    snprintf(ci, sizeof ci, "%s password=%s", h_conninfo_as(db, WEB_OP), WEB_OP_PW);
    PGconn *c = PQconnectdb(ci);
    CHECK(PQstatus(c) == CONNECTION_OK);
    long long n0 = h_query_ll(db->admin, audits);

    /* Inside BEGIN: a ticket, but its HITs are refused until it commits; rolled back, there is
       no audit row and no HIT was read. */
    h_exec(c, "BEGIN");
    s_value(c, "SELECT anpr.covert_request(0, 24, 100)", ticket, sizeof ticket, state);
    CHECK_STR(state, "");
    CHECK(ticket[0] != '\0');
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.covert_rows(%s)", ticket);
    s_value(c, sql, v, sizeof v, state);
    CHECK_STR(state, "25000");
    h_exec(c, "ROLLBACK");
    CHECK_INT(h_query_ll(db->admin, audits), n0);
    /* the rolled-back ticket names nothing afterwards either */
    s_value(c, sql, v, sizeof v, state);
    CHECK_STR(state, "P0002");
    /* A ticket asked and read in one transaction: refused there (the refusal under a
       savepoint, so that the transaction may still commit); once committed, read again: the
       covert HIT, named by that committed audit row. */
    h_exec(c, "BEGIN");
    s_value(c, "SELECT anpr.covert_request(0, 24, 100)", ticket, sizeof ticket, state);
    CHECK_STR(state, "");
    CHECK(ticket[0] != '\0');
    h_exec(c, "SAVEPOINT early");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.covert_rows(%s) WHERE hit_id = %s", ticket,
             cov_id);
    s_value(c, sql, v, sizeof v, state);
    CHECK_STR(state, "25000");
    h_exec(c, "ROLLBACK TO SAVEPOINT early");
    h_exec(c, "COMMIT");
    CHECK_INT(h_query_ll(db->admin, audits), n0 + 1);
    s_value(c, sql, v, sizeof v, state);
    CHECK_STR(state, "");
    CHECK_STR(v, "1");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.covert_read_audit WHERE id = %s AND by_user = '" WEB_OP
             "' AND %s = ANY (hit_ids) AND pg_xact_status(xact) = 'committed'",
             ticket, cov_id);
    CHECK_INT(h_query_ll(db->admin, sql), 1);
    n0++;

    /* The one-call function of migration 020 refuses. */
    s_value(c, "SELECT count(*) FROM anpr.covert_hits(0, 24, 100)", v, sizeof v, state);
    CHECK_STR(state, "0A000");
    CHECK_INT(h_query_ll(db->admin, audits), n0);

    /* Asked on its own (committed), then read: the covert HIT, named by the audit row. */
    s_value(c, "SELECT anpr.covert_request(0, 24, 100)", ticket, sizeof ticket, state);
    CHECK_STR(state, "");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.covert_rows(%s) WHERE hit_id = %s", ticket,
             cov_id);
    s_value(c, sql, v, sizeof v, state);
    CHECK_STR(state, "");
    CHECK_STR(v, "1");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.covert_read_audit WHERE id = %s AND by_user = '" WEB_OP
             "' AND %s = ANY (hit_ids)",
             ticket, cov_id);
    CHECK_INT(h_query_ll(db->admin, sql), 1);
    CHECK_INT(h_query_ll(db->admin, audits), n0 + 1);

    /* Committed is not durable with synchronous_commit off: the request's transaction commits
       synchronously all the same, even when turned off after the request (the WAL is on disk
       past where it stood before COMMIT as soon as COMMIT returns); the HIT comes, and its
       audit row is there. */
    h_exec(c, "SET synchronous_commit = off");
    h_exec(c, "BEGIN");
    s_value(c, "SELECT anpr.covert_request(0, 24, 100)", ticket, sizeof ticket, state);
    CHECK_STR(state, "");
    h_exec(c, "SET LOCAL synchronous_commit = off");
    char lsn[32];
    s_value(c, "SELECT pg_current_wal_insert_lsn()", lsn, sizeof lsn, state);
    CHECK_STR(state, "");
    h_exec(c, "COMMIT");
    snprintf(sql, sizeof sql, "SELECT pg_current_wal_flush_lsn() >= '%s'", lsn);
    s_value(c, sql, v, sizeof v, state);
    CHECK_STR(v, "t");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.covert_rows(%s) WHERE hit_id = %s", ticket,
             cov_id);
    s_value(c, sql, v, sizeof v, state);
    CHECK_STR(state, "");
    CHECK_STR(v, "1");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.covert_read_audit WHERE id = %s AND %s = ANY (hit_ids) "
             "AND pg_xact_status(xact) = 'committed'",
             ticket, cov_id);
    CHECK_INT(h_query_ll(db->admin, sql), 1);
    h_exec(c, "RESET synchronous_commit");
    n0++;
    PQfinish(c);

    /* Another person's ticket is not theirs to read; one cleared for nothing gets none. */
    PGconn *o = h_connect_as(db, WEB_TRUSTED);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.covert_rows(%s)", ticket);
    s_value(o, sql, v, sizeof v, state);
    CHECK_STR(state, "P0002");
    s_value(o, "SELECT anpr.covert_request(0, 24, 100) IS NULL", v, sizeof v, state);
    CHECK_STR(v, "t");
    PQfinish(o);
    CHECK_INT(h_query_ll(db->admin, audits), n0 + 1);
}

/* Sign in on port (dies if that fails). */
static void s_login(int port, const char *user, const char *pw, struct webenv_login *l)
{
    char msg[1024];

    if (webenv_login(port, user, pw, l, msg, sizeof msg) != 200 || !l->session[0] || !l->csrf[0])
        h_fatal("%s cannot sign in: %s", user, msg);
}

/* Read what is there for up to ms (nothing in particular is awaited). */
static void s_drain(struct webenv_stream *st, int ms)
{
    webenv_stream_until(st, "\x01never\x01", ms);
}

/* How many times needle is in the stream from the mark on. */
static int s_count(const struct webenv_stream *st, const char *needle)
{
    int n = 0;
    for (const char *p = st->buf + st->mark; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The stream's "health" events from now on: the second one was asked after every earlier
   change (each comes from a poll every 2 s). */
static void s_two_polls(struct webenv_stream *st)
{
    st->mark = st->len;
    CHECK_INT(webenv_stream_until(st, "event: health", 20000), 1);
    st->mark = st->len;
    CHECK_INT(webenv_stream_until(st, "event: health", 20000), 1);
}

/* How many times needle is in the file at path. */
static int s_file_count(const char *path, const char *needle)
{
    char *text = h_slurp(path);
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

/* Wait until the file at path has needle n times (true) or ms pass. */
static bool s_file_wait(const char *path, const char *needle, int n, int ms)
{
    int64_t until = util_mono_us() + (int64_t)ms * 1000;
    while (s_file_count(path, needle) < n) {
        if (util_mono_us() > until)
            return false;
        usleep(50000);
    }
    return true;
}

/* The relay: instance 0's feed, every message as it came, published again on another
   endpoint. */
static atomic_bool s_relay_stop;
static char s_relay_from[192], s_relay_to[192];

static void *s_relay(void *arg)
{
    void *sub = zmq_socket(h_zmq_ctx(), ZMQ_SUB), *pub = zmq_socket(h_zmq_ctx(), ZMQ_PUB);
    int zero = 0;

    (void)arg;
    if (!sub || !pub || zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        zmq_connect(sub, s_relay_from) != 0 || zmq_bind(pub, s_relay_to) != 0)
        h_fatal("relay: %s", zmq_strerror(zmq_errno()));
    while (!atomic_load(&s_relay_stop)) {
        zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        for (bool more = true; more;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sub, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            zmq_msg_send(&m, pub, more ? ZMQ_SNDMORE : 0);
        }
    }
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(sub);
    zmq_close(pub);
    return NULL;
}

/* The cameras' sockets, one on each instance (kept open: a read sent must not be dropped with
   its socket). */
static void *s_cam[2];

static void s_read(int instance, const char *camera, uint64_t seq, const char *plate)
{
    struct proto_read rd = h_read(camera, seq, plate, "BE");
    h_send_read(s_cam[instance], &rd);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d0, d1;
    char log[256], sql[512];
    struct webenv_login op, op2, op3;
    static struct webenv_stream s_op, s_op2, s_op3;

    h_require_env();
    if (!getenv("ANPR_WEB"))
        h_fatal("ANPR_WEB is not set");
    webenv_db(&db, "itest_web_covert");
    h_exec(db.admin,
           "DO $$ BEGIN "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" OP2 "') THEN "
           "CREATE ROLE " OP2 " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" OP3 "') THEN "
           "CREATE ROLE " OP3 " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" ADMIN "') THEN "
           "CREATE ROLE " ADMIN " LOGIN; END IF; END $$;"
           "SET password_encryption = 'scram-sha-256';"
           "ALTER ROLE " OP2 " PASSWORD '" OP2_PW "';"
           "ALTER ROLE " OP3 " PASSWORD '" OP3_PW "';"
           "GRANT anpr_dispatch, anpr_password TO " OP2 ", " OP3 ";"
           "GRANT anpr_admin TO " ADMIN ";"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, covert) VALUES "
           "('Observation', 'surveillance', 1, 0, true), ('Many', 'stolen', 5, 0, false);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction) "
           "SELECT id, '" COVERT "', 'Observe only, report to PZ Lanaken' "
           "FROM anpr.watchlist WHERE name = 'Observation';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, p FROM anpr.watchlist, (VALUES ('ONE-0'), ('ONE-1'), ('DUP-1'), "
           "('GEN-1'), ('GEN-2')) v(p) WHERE name = 'Many'");
    long long covert_list =
        h_query_ll(db.admin, "SELECT id FROM anpr.watchlist WHERE name = 'Observation'");

    /* Clearances are an admin's: a dispatcher may not give one; a login outside dispatch or a
       list that is not covert is refused. */
    snprintf(sql, sizeof sql, "SELECT anpr.grant_covert('" WEB_OP "', %lld)", covert_list);
    CHECK_STR(h_sqlstate_as(&db, WEB_TRUSTED, sql), "42501");
    CHECK_STR(h_sqlstate_as(&db, ADMIN, sql), "");
    snprintf(sql, sizeof sql, "SELECT anpr.grant_covert('" OP2 "', %lld)", covert_list);
    CHECK_STR(h_sqlstate_as(&db, ADMIN, sql), "");
    snprintf(sql, sizeof sql, "SELECT anpr.grant_covert('" WEB_INV "', %lld)", covert_list);
    CHECK_STR(h_sqlstate_as(&db, ADMIN, sql), "22023");
    CHECK_STR(h_sqlstate_as(&db, ADMIN,
                            "SELECT anpr.grant_covert('" OP3 "', (SELECT id FROM anpr.watchlist "
                            "WHERE name = 'Many'))"),
              "22023");
    CHECK_INT(h_query_ll(db.admin,
                         "SELECT count(*) FROM anpr.person_covert_log WHERE by_user = '" ADMIN
                         "' AND action = 'granted'"),
              2);

    /* Two anprd instances on the one database. */
    struct h_daemon_opts o = {.tcp = true, .log_level = "info", .dispatch = "  instance: 0\n"};
    if (h_daemon_start_opts(&d0, &db, &o) != 0)
        h_fatal("anprd 0 did not start");
    o.dispatch = "  instance: 1\n";
    if (h_daemon_start_opts(&d1, &db, &o) != 0)
        h_fatal("anprd 1 did not start");

    s_cam[0] = h_dealer(d0.ingest_ep);
    s_cam[1] = h_dealer(d1.ingest_ep);

    /* The relay of instance 0's feed. */
    pthread_t relay;
    snprintf(s_relay_from, sizeof s_relay_from, "%s", d0.dispatch_ep);
    snprintf(s_relay_to, sizeof s_relay_to, "ipc://%s/relay", d0.dir);
    pthread_create(&relay, NULL, s_relay, NULL);

    /* anpr-web on both (and the relay), general and covert feeds. */
    char sections[1024];
    snprintf(sections, sizeof sections,
             "dispatch:\n  endpoint:\n    - %s\n    - %s\n    - %s\n"
             "  covert_endpoint: [%s, %s]\n",
             d0.dispatch_ep, d1.dispatch_ep, s_relay_to, d0.covert_ep, d1.covert_ep);
    int port = h_free_port();
    const char *conf = webenv_config_sections(&db, d0.dir, port, sections);
    snprintf(log, sizeof log, "%s/anpr-web.log", d0.dir);
    pid_t web = webenv_start(port, conf, log);
    s_login(port, WEB_OP, WEB_OP_PW, &op);
    s_login(port, OP2, OP2_PW, &op2);
    s_login(port, OP3, OP3_PW, &op3);
    webenv_stream_open(&s_op, port, op.cookies, "");
    webenv_stream_open(&s_op2, port, op2.cookies, "");
    webenv_stream_open(&s_op3, port, op3.cookies, "");
    CHECK_INT(webenv_stream_until(&s_op, "event: live", 20000), 1);
    CHECK_INT(webenv_stream_until(&s_op2, "event: live", 20000), 1);
    CHECK_INT(webenv_stream_until(&s_op3, "event: live", 20000), 1);

    /* Both instances' heartbeats, each named. */
    CHECK_INT(webenv_stream_until(&s_op, "\"instance\":0,", 20000), 1);
    CHECK_INT(webenv_stream_until(&s_op, "\"instance\":1,", 20000), 1);

    /* A covert HIT reaches the cleared people's boards, marked covert. anpr-web asks for the
       covert feed every 2 s: reads go until the first HIT comes (a HIT sent before its request
       reached anprd is lost, as on any feed). */
    uint64_t seq0 = 1, seq1 = 1;
    int got = 0;
    for (int i = 0; i < 60 && got != 1; i++) {
        s_read(0, WEB_CAM, seq0++, COVERT);
        got = webenv_stream_until(&s_op, "\"read_plate\":\"" COVERT "\"", 500);
    }
    CHECK_INT(got, 1);
    CHECK_INT(webenv_stream_until(&s_op, "\"covert\":true", 5000), 1);
    CHECK(strstr(s_op.buf, "Observe only, report to PZ Lanaken") != NULL);
    CHECK_INT(webenv_stream_until(&s_op2, "\"read_plate\":\"" COVERT "\"", 20000), 1);
    /* ... and not the one who is not cleared: a HIT sent after it comes first. */
    s_read(0, WEB_CAM, seq0++, "GEN-1");
    CHECK_INT(webenv_stream_until(&s_op3, "\"read_plate\":\"GEN-1\"", 20000), 1);
    CHECK_INT(s_count(&s_op3, COVERT), 0);
    CHECK_INT(s_count(&s_op3, "\"covert\":true"), 0);

    /* A covert HIT is acknowledged by a person cleared for its list; to anyone else it does
       not exist, and its acknowledgement is not theirs to see. */
    char cov_id[32] = "";
    {
        const char *p = strstr(s_op.buf, "\"read_plate\":\"" COVERT "\"");
        while (p && p > s_op.buf && strncmp(p, "data: ", 6) != 0)
            p--;
        CHECK(p && webenv_member(p, "hit_id", cov_id, sizeof cov_id));
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hits WHERE hit_id = %s", cov_id);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 20000), 1);
    {
        struct httpc_reply r;
        char ack[128];
        snprintf(ack, sizeof ack, "hit_ids=%s&decision=accepted&note=observed", cov_id);
        CHECK_INT(webenv_req(port, "POST", "/api/ack", op3.cookies, op3.csrf, ack, &r), 422);
        CHECK(strstr(r.body, "does not exist or is not visible to dispatch") != NULL);
        httpc_reply_free(&r);
        s_op3.mark = s_op3.len;
        CHECK_INT(webenv_req(port, "POST", "/api/ack", op.cookies, op.csrf, ack, &r), 200);
        httpc_reply_free(&r);
    }
    char acked[96];
    snprintf(acked, sizeof acked, "{\"hit_id\":\"%s\",\"decision\":\"accepted\"", cov_id);
    CHECK_INT(webenv_stream_until(&s_op, acked, 20000), 1);
    CHECK_INT(webenv_stream_until(&s_op2, acked, 20000), 1);
    s_two_polls(&s_op3);
    CHECK(strstr(s_op3.buf, acked) == NULL);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hit_ack WHERE hit_id = %s", cov_id);
    PGconn *uncleared = h_connect_as(&db, WEB_TRUSTED);
    CHECK_INT(h_query_ll(uncleared, sql), 0);
    PQfinish(uncleared);
    CHECK_INT(h_query_ll(db.admin, sql), 1);

    /* The catch-up: the covert HITs for a cleared person (audited), none for the other. */
    snprintf(sql, sizeof sql, "SELECT least(count(*), 1) FROM anpr.hits WHERE covert");
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 20000), 1);
    CHECK_INT(
        h_wait_ll(db.admin,
                  "SELECT count(*) FROM anpr.hits h JOIN anpr.watchlist w ON w.id = h.list_id "
                  "WHERE w.name = 'Many' LIMIT 1",
                  1, 20000),
        1);
    {
        static struct webenv_stream cu_op, cu_op3;
        webenv_stream_open(&cu_op, port, op.cookies, "");
        webenv_stream_open(&cu_op3, port, op3.cookies, "");
        CHECK_INT(webenv_stream_until(&cu_op, "event: live", 20000), 1);
        CHECK_INT(webenv_stream_until(&cu_op3, "event: live", 20000), 1);
        CHECK(strstr(cu_op.buf, "\"read_plate\":\"" COVERT "\"") != NULL);
        CHECK(strstr(cu_op.buf, "\"caught_up\":true,\"covert\":true") != NULL);
        CHECK(strstr(cu_op3.buf, "\"read_plate\":\"GEN-1\"") != NULL);
        CHECK(strstr(cu_op3.buf, COVERT) == NULL);
        close(cu_op.fd);
        close(cu_op3.fd);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM anpr.covert_read_audit a WHERE by_user = '" WEB_OP
                 "' AND rows_returned > 0 AND %s = ANY (hit_ids) AND pg_xact_status(xact) = "
                 "'committed'",
                 cov_id);
        CHECK(h_query_ll(db.admin, sql) >= 1);
        CHECK_INT(h_query_ll(db.admin,
                             "SELECT count(*) FROM anpr.covert_read_audit WHERE by_user = '" OP3
                             "'"),
                  0);
    }

    s_ticket_sql(&db, cov_id);

    /* The clearance withdrawn: the next covert HIT (once the board's answer is older than 2 s)
       goes to the one still cleared, not to OP2. */
    snprintf(sql, sizeof sql, "SELECT anpr.revoke_covert('" OP2 "', %lld)", covert_list);
    CHECK_STR(h_sqlstate_as(&db, ADMIN, sql), "");
    s_two_polls(&s_op2);
    s_op.mark = s_op.len;
    s_op2.mark = s_op2.len;
    s_read(1, CAM2, seq1++, COVERT);
    CHECK_INT(webenv_stream_until(&s_op, "\"read_plate\":\"" COVERT "\"", 20000), 1);
    s_read(1, CAM2, seq1++, "GEN-2");
    CHECK_INT(webenv_stream_until(&s_op2, "\"read_plate\":\"GEN-2\"", 20000), 1);
    CHECK_INT(s_count(&s_op2, COVERT), 0);
    {
        static struct webenv_stream cu_op2;
        webenv_stream_open(&cu_op2, port, op2.cookies, "");
        CHECK_INT(webenv_stream_until(&cu_op2, "event: live", 20000), 1);
        CHECK(strstr(cu_op2.buf, COVERT) == NULL);
        close(cu_op2.fd);
    }

    /* anpr-console on both instances: live once both heartbeats came. */
    char con_out[256], con_err[256];
    snprintf(con_out, sizeof con_out, "%s/console.out", d0.dir);
    snprintf(con_err, sizeof con_err, "%s/console.err", d0.dir);
    char *cargv[] = {
        getenv("ANPR_CONSOLE"), "--endpoint", d0.dispatch_ep, "--endpoint", d1.dispatch_ep,
        "--endpoint",           s_relay_to,   "--format",     "tsv",        NULL};
    pid_t con = h_spawn(cargv, con_out, con_err);
    CHECK(s_file_wait(con_err, "3 of 3 instances", 1, 20000));

    /* Both instances: a HIT from each, and a read sent to both (its camera moved to the other
       instance and resent it) shown once; each instance's fence after it closes the set. */
    s_op.mark = s_op.len;
    s_read(0, WEB_CAM, seq0++, "ONE-0");
    s_read(1, CAM2, seq1++, "ONE-1");
    {
        void *c0 = h_dealer(d0.ingest_ep), *c1 = h_dealer(d1.ingest_ep);
        struct proto_read rd = h_read("BE-N78-VELDWEZELT", 7, "DUP-1", "BE");
        h_send_read(c0, &rd);
        h_send_read(c1, &rd);
        /* both HITs out before the sockets go */
        s_read(0, WEB_CAM, seq0++, "FENCE-1");
        s_read(1, CAM2, seq1++, "FENCE-1");
        int64_t until = util_mono_us() + 20000000;
        while (s_count(&s_op, "\"read_plate\":\"FENCE-1\"") < 2 && util_mono_us() < until)
            s_drain(&s_op, 200);
        h_close(c0);
        h_close(c1);
    }
    CHECK_INT(s_count(&s_op, "\"read_plate\":\"FENCE-1\""), 2);
    CHECK_INT(s_count(&s_op, "\"read_plate\":\"ONE-0\""), 1);
    CHECK_INT(s_count(&s_op, "\"read_plate\":\"ONE-1\""), 1);
    CHECK_INT(s_count(&s_op, "\"read_plate\":\"DUP-1\""), 1);
    /* the console: the same, each once */
    CHECK(s_file_wait(con_out, "\tFENCE-1\t", 2, 20000));
    CHECK_INT(s_file_count(con_out, "\tONE-0\t"), 1);
    CHECK_INT(s_file_count(con_out, "\tONE-1\t"), 1);
    CHECK_INT(s_file_count(con_out, "\tDUP-1\t"), 1);

    /* One instance stops: the health events say it is no longer connected, the other is. */
    s_op.mark = s_op.len;
    CHECK_INT(h_daemon_stop(&d1, SIGTERM, 20000), 0);
    CHECK_INT(webenv_stream_until(&s_op, "\"connected\":false,\"last_message_us\"", 20000), 1);
    CHECK_INT(webenv_stream_until(&s_op, "\"feed_connected\":true", 20000), 1);
    CHECK(s_file_wait(con_err, "2 of 3 instances", 1, 20000));
    CHECK(s_file_wait(con_err, "FEED LOST", 1, 20000));
    kill(con, SIGTERM);
    CHECK_INT(h_wait(con, 20000), 0);
    /* instance 0's HITs came twice (ONE-0, its FENCE-1, and DUP-1 if it alerted it) */
    CHECK(s_file_wait(con_err, "hits=5 ", 1, 1000));
    CHECK(s_file_count(con_err, "twice=0") == 0 && s_file_count(con_err, "twice=1\n") == 0);
    CHECK_INT(h_daemon_restart(&d1), 0);

    h_close(s_cam[0]);
    h_close(s_cam[1]);
    atomic_store(&s_relay_stop, true);
    pthread_join(relay, NULL);
    close(s_op.fd);
    close(s_op2.fd);
    close(s_op3.fd);
    CHECK_INT(webenv_stop(web), 0);
    if (check_failed)
        webenv_print_log(log);
    int rc1 = h_daemon_finish(&d1, check_failed);
    int rc0 = h_daemon_finish(&d0, check_failed);
    h_db_close(&db);
    return check_failed || rc0 || rc1 ? 1 : check_done("itest_web_covert");
}
