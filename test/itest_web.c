/*
 * Integration: anpr-web over real HTTP, with real PostgreSQL logins (SCRAM) and the real
 * anprd. A wrong password gets a clear answer and a log line without the password; a login the
 * database let in without a password is refused; a POST without the CSRF token gets 403; a
 * dispatcher calling the search API gets 403 (the database refuses it); an investigator's
 * search without a reason is refused with the rule's words, with one it is granted; logout
 * ends the session and closes its database connection; failed logins are throttled.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "httpc.h"
#include "util.h"
#include "webenv.h"

/* Whether the file at path has needle. */
static bool s_has(const char *path, const char *needle)
{
    char *text = h_slurp(path);
    bool has = strstr(text, needle) != NULL;

    free(text);
    return has;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct httpc_reply r;
    struct webenv_login op, inv;
    char msg[1024], cookies[256], log[256], sql[512];

    h_require_env();
    if (!getenv("ANPR_WEB"))
        h_fatal("ANPR_WEB is not set");
    /* P1 HITs announced again every second until acknowledged. */
    webenv_setup(&db, &d, "itest_web", "  reannounce_s: 1\n");
    int port = h_free_port();
    const char *conf = webenv_config(&db, &d, port);
    snprintf(log, sizeof log, "%s/anpr-web.log", d.dir);

    /* --check-config */
    {
        char out[256];
        snprintf(out, sizeof out, "%s/check.out", d.dir);
        char *argv[] = {getenv("ANPR_WEB"), "--check-config", "--config", (char *)conf, NULL};
        CHECK_INT(h_wait(h_spawn(argv, out, out), 10000), 0);
        CHECK(s_has(out, "configuration OK"));
    }
    pid_t web = webenv_start(port, conf, log);

    /* Every answer: a strict Content-Security-Policy, never in a frame, no sniffing. */
    CHECK_INT(webenv_req(port, "GET", "/login", NULL, NULL, NULL, &r), 200);
    CHECK(strstr(r.head, "Content-Security-Policy: default-src 'none'; script-src 'self'") != NULL);
    CHECK(strstr(r.head, "X-Frame-Options: DENY") != NULL);
    CHECK(strstr(r.head, "X-Content-Type-Options: nosniff") != NULL);
    CHECK(strstr(r.body, "<script>") == NULL);
    httpc_reply_free(&r);
    /* Not signed in: the board sends to the login, the API says 401. */
    CHECK_INT(webenv_req(port, "GET", "/board", NULL, NULL, NULL, &r), 303);
    httpc_reply_free(&r);
    CHECK_INT(webenv_req(port, "GET", "/api/me", NULL, NULL, NULL, &r), 401);
    httpc_reply_free(&r);
    CHECK_INT(webenv_req(port, "GET", "/static/../anpr-web.yaml", NULL, NULL, NULL, &r), 404);
    httpc_reply_free(&r);

    /* A wrong password: a clear message; the log names the user, never the password. */
    CHECK_INT(webenv_login_check(port, WEB_OP, "Wrong-Guess-99", &op, msg, sizeof msg, true), 401);
    CHECK(strstr(msg, "wrong user name or password") != NULL);
    {
        int64_t until = util_mono_us() + 10000000;
        while (util_mono_us() < until && !s_has(log, "login: user 'webt_op'"))
            usleep(50000);
        CHECK(s_has(log, "login: user 'webt_op' from 127.0.0.1: refused by the database"));
        CHECK(!s_has(log, "Wrong-Guess-99"));
    }
    /* The login form without its CSRF token: 403, PostgreSQL never asked. */
    CHECK_INT(webenv_req(port, "POST", "/api/login", NULL, NULL,
                         "user=" WEB_OP "&password=" WEB_OP_PW, &r),
              403);
    httpc_reply_free(&r);
    /* A login the server trusts without a password is no proof of who is there. */
    CHECK_INT(webenv_login_check(port, WEB_TRUSTED, "anything", &op, msg, sizeof msg, true), 403);
    CHECK(strstr(msg, "did not check a password") != NULL);

    /* The right password. */
    CHECK_INT(webenv_login_check(port, WEB_OP, WEB_OP_PW, &op, msg, sizeof msg, true), 200);
    CHECK(strstr(msg, "\"home\":\"/board\"") != NULL);
    CHECK(!s_has(log, WEB_OP_PW));
    snprintf(cookies, sizeof cookies, "anpr_session=%s", op.session);
    CHECK_INT(webenv_req(port, "GET", "/api/me", cookies, NULL, NULL, &r), 200);
    CHECK(strstr(r.body, "\"user\":\"webt_op\"") != NULL);
    httpc_reply_free(&r);
    CHECK_INT(webenv_req(port, "GET", "/board", cookies, NULL, NULL, &r), 200);
    httpc_reply_free(&r);
    /* The session is the person's own connection. */
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'webt_op' "
                        "AND application_name = 'anpr-web'",
                        1, 10000),
              1);

    /* POST without the CSRF token, or with a wrong one: 403. */
    CHECK_INT(
        webenv_req(port, "POST", "/api/ack", cookies, NULL, "hit_ids=1&decision=accepted", &r),
        403);
    CHECK(strstr(r.body, "CSRF") != NULL);
    httpc_reply_free(&r);
    CHECK_INT(webenv_req(port, "POST", "/api/ack", cookies,
                         "0123456789abcdef0123456789abcdef0123456789abcdef0"
                         "123456789abcdef",
                         "hit_ids=1&decision=accepted", &r),
              403);
    httpc_reply_free(&r);
    /* With it, the database answers (no such HIT). */
    CHECK_INT(
        webenv_req(port, "POST", "/api/ack", cookies, op.csrf, "hit_ids=1&decision=accepted", &r),
        422);
    CHECK(strstr(r.body, "does not exist or is not visible to dispatch") != NULL);
    httpc_reply_free(&r);

    /* A dispatcher at the search API: the database refuses, 403. */
    const char *search = "kind=reads&plate=1ABC123&match=exact&from=2026-01-01T00:00:00Z"
                         "&to=2030-01-01T00:00:00Z&reason=Theft+investigation+Hasselt"
                         "&case=PV-2026-0042";
    CHECK_INT(webenv_req(port, "POST", "/api/search", cookies, op.csrf, search, &r), 403);
    httpc_reply_free(&r);

    /* An investigator: without a reason refused with the rule's words; with one granted. */
    CHECK_INT(webenv_login_check(port, WEB_INV, WEB_INV_PW, &inv, msg, sizeof msg, true), 200);
    CHECK(strstr(msg, "\"home\":\"/desk\"") != NULL);
    char icookies[256];
    snprintf(icookies, sizeof icookies, "anpr_session=%s", inv.session);
    CHECK_INT(webenv_req(port, "POST", "/api/search", icookies, inv.csrf,
                         "kind=reads&plate=1ABC123&match=exact&from=2026-01-01T00:00:00Z"
                         "&to=2030-01-01T00:00:00Z&case=PV-2026-0042",
                         &r),
              422);
    CHECK(strstr(r.body, "\"refused\":true") != NULL);
    CHECK(strstr(r.body, "\"rule\":\"reason\"") != NULL);
    httpc_reply_free(&r);
    time_t now = time(NULL);
    char from[32], to[32], ok_search[512];
    strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now - 86400}));
    strftime(to, sizeof to, "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now + 60}));
    snprintf(ok_search, sizeof ok_search,
             "kind=reads&plate=1ABC123&match=exact&from=%s&to=%s"
             "&reason=Theft+investigation+Hasselt&case=PV-2026-0042",
             from, to);
    CHECK_INT(webenv_req(port, "POST", "/api/search", icookies, inv.csrf, ok_search, &r), 200);
    CHECK(strstr(r.body, "\"granted\":true") != NULL);
    char ticket[32] = "";
    CHECK(webenv_member(r.body, "ticket", ticket, sizeof ticket));
    httpc_reply_free(&r);
    /* audited under the person's own name */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.search_audit WHERE by_user = "
                                   "'webt_inv' AND granted AND reason = 'Theft investigation "
                                   "Hasselt'"),
              1);
    snprintf(sql, sizeof sql, "/api/search.csv?kind=reads&ticket=%s", ticket);
    CHECK_INT(webenv_req(port, "GET", sql, icookies, NULL, NULL, &r), 200);
    CHECK(strncmp(r.body, "ord,read_time,", 14) == 0);
    httpc_reply_free(&r);

    /* The investigator's database connection is ended under them: the session ends (no
       password is kept to connect again) and the page must sign in again. */
    h_exec(db.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE usename = 'webt_inv' AND application_name = 'anpr-web'");
    CHECK(webenv_req(port, "POST", "/api/search", icookies, inv.csrf, ok_search, &r) >= 500);
    httpc_reply_free(&r);
    CHECK_INT(webenv_req(port, "GET", "/api/me", icookies, NULL, NULL, &r), 401);
    httpc_reply_free(&r);
    CHECK(s_has(log, "user 'webt_inv': the database connection was lost; session ended"));
    CHECK_INT(webenv_login_check(port, WEB_INV, WEB_INV_PW, &inv, msg, sizeof msg, true), 200);
    snprintf(icookies, sizeof icookies, "anpr_session=%s", inv.session);

    /* The board's stream: live, then a HIT of a read sent now, as the board's JSON; the
       investigator may not open it. */
    static struct webenv_stream st, st2;
    webenv_stream_open(&st, port, cookies, "");
    CHECK_INT(webenv_stream_until(&st, "event: live", 20000), 1);
    CHECK(strstr(st.buf, "Content-Type: text/event-stream") != NULL);
    CHECK_INT(webenv_stream_until(&st, "\"feed_connected\":true", 20000), 1);
    void *cam = h_dealer(d.ingest_ep);
    struct proto_read rd = h_read(WEB_CAM, 1, "1-ABC-123", "BE");
    h_send_read(cam, &rd);
    CHECK_INT(webenv_stream_until(&st, "\"read_plate\":\"1-ABC-123\"", 20000), 1);
    CHECK(strstr(st.buf, "\"list\":\"Stolen vehicles\"") != NULL);
    CHECK(strstr(st.buf, "\"priority\":1") != NULL);
    CHECK(strstr(st.buf, "\"again\":false") != NULL);
    h_close(cam);
    char hit_id[32] = "";
    CHECK(webenv_member(st.buf, "hit_id", hit_id, sizeof hit_id));
    CHECK(strstr(st.buf, "id: ") != NULL);
    CHECK_INT(webenv_req(port, "GET", "/api/events", icookies, NULL, NULL, &r), 403);
    httpc_reply_free(&r);

    /* anprd announces the open P1 HIT again (every second here): marked on the stream. */
    CHECK_INT(webenv_stream_until(&st, "\"again\":true", 20000), 1);

    /* Follow the car: read again at Boorsem, the open HIT gets a sighting there. */
#define S_BOORSEM "\"camera\":\"BE-E314-BOORSEM-1\""
    st.mark = st.len;
    cam = h_dealer(d.ingest_ep);
    rd = h_read("BE-E314-BOORSEM-1", 1, "1-ABC-123", "BE");
    h_send_read(cam, &rd);
    CHECK_INT(webenv_stream_until(&st, "\"sighting\":true", 20000), 1);
    h_close(cam);
    const char *sg = strstr(st.buf + st.mark, "\"sighting\":true");
    const char *ev = sg;
    while (ev && ev > st.buf + st.mark && strncmp(ev, "data: ", 6) != 0)
        ev--;
    CHECK(ev && sg && memmem(ev, (size_t)(sg - ev), S_BOORSEM, strlen(S_BOORSEM)));
    char seen_id[32] = "";
    CHECK(ev && webenv_member(ev, "hit_id", seen_id, sizeof seen_id));
    CHECK_STR(seen_id, hit_id);
    /* anprd's heartbeat: the cameras reporting, on the health line. */
    st.mark = st.len;
    CHECK_INT(webenv_stream_until(&st, "\"cameras\":{\"cameras\":3,", 20000), 1);

    /* A colleague accepts it (in the database, as their own login): every board is told, and
       the database refuses this board's later acknowledgement, naming the colleague. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hits WHERE hit_id = %s", hit_id);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 10000), 1);
    PGconn *colleague = h_connect_as(&db, WEB_TRUSTED);
    snprintf(sql, sizeof sql, "SELECT anpr.acknowledge_hit(%s, 'accepted', NULL)", hit_id);
    CHECK_STR(h_sqlstate(colleague, sql), "");
    PQfinish(colleague);
    CHECK_INT(webenv_stream_until(&st, "\"operator\":\"webt_trusted\"", 20000), 1);
    CHECK(strstr(st.buf, "event: ack") != NULL);
    char ack[128];
    snprintf(ack, sizeof ack, "hit_ids=%s&decision=rejected&reason=misread", hit_id);
    CHECK_INT(webenv_req(port, "POST", "/api/ack", cookies, op.csrf, ack, &r), 422);
    CHECK(strstr(r.body, "already accepted by webt_trusted") != NULL);
    httpc_reply_free(&r);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack WHERE operator = 'webt_op'"),
              0);

    /* The feed lost (anprd stopped) and back: the health events say so. */
    st.mark = st.len;
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK_INT(webenv_stream_until(&st, "\"feed_connected\":false", 20000), 1);
    st.mark = st.len;
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK_INT(webenv_stream_until(&st, "\"feed_connected\":true", 20000), 1);

    /* A board reconnecting with Last-Event-ID gets what came after it from the database, with
       its acknowledgement. */
    char last[64];
    snprintf(last, sizeof last, "Last-Event-ID: %llu\r\n", strtoull(hit_id, NULL, 10) - 1);
    webenv_stream_open(&st2, port, cookies, last);
    CHECK_INT(webenv_stream_until(&st2, "event: live", 20000), 1);
    CHECK(strstr(st2.buf, "\"read_plate\":\"1-ABC-123\"") != NULL);
    CHECK(strstr(st2.buf, "\"caught_up\":true,\"ack\":{\"decision\":\"accepted\"") != NULL);

    /* A long catch-up comes a page at a time and misses nothing: 1200 HITs after id 999. */
    h_exec(db.admin, "INSERT INTO anpr.hits (camera_id, seq, read_time, plate, entry_id, list_id, "
                     "priority, category, match_kind, hit_id) "
                     "SELECT (SELECT id FROM anpr.camera WHERE code = '" WEB_CAM "'), 100000 + g, "
                     "now() - interval '1 minute', '1ABC124', "
                     "(SELECT min(id) FROM anpr.watchlist_entry), "
                     "(SELECT id FROM anpr.watchlist WHERE name = 'Stolen vehicles'), 1, "
                     "'stolen', 1, 1000 + g FROM generate_series(0, 1199) g");
    static struct webenv_stream st3;
    webenv_stream_open(&st3, port, cookies, "Last-Event-ID: 999\r\n");
    CHECK_INT(webenv_stream_until(&st3, "event: live", 60000), 1);
    /* each of them once, in order */
    long long next = 1000, other = 0;
    for (const char *p = st3.buf; (p = strstr(p, "\"hit_id\":\"")); p++) {
        long long v = strtoll(p + 10, NULL, 10);
        if (v == next)
            next++;
        else
            other += v < 1000 || v > 2199;
    }
    CHECK_INT(next, 2200);
    CHECK(other >= 1); /* and the HIT of the live read, with its higher id */
    close(st3.fd);

    /* A dozen acknowledgements at once (ids past 9: text would sort 10 before 9): every
       board gets each once. */
    st.mark = st.len;
    colleague = h_connect_as(&db, WEB_TRUSTED);
    CHECK_STR(h_sqlstate(colleague, "SELECT anpr.acknowledge_hit(g, 'accepted', NULL) "
                                    "FROM generate_series(1000, 1011) g"),
              "");
    PQfinish(colleague);
    CHECK_INT(webenv_stream_until(&st, "{\"hit_id\":\"1011\",\"decision\"", 20000), 1);
    size_t seen_at = st.len;
    st.mark = seen_at;
    CHECK_INT(webenv_stream_until(&st, "event: health", 20000), 1); /* one more poll */
    for (int i = 1000; i <= 1011; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "{\"hit_id\":\"%d\",\"decision\"", i);
        int n = 0;
        for (const char *p = st.buf; (p = strstr(p, needle)); p++)
            n++;
        CHECK_INT(n, 1);
    }

    /* Logout: the session is gone and its connection closed; the open stream is told and
       ends. */
    CHECK_INT(webenv_req(port, "POST", "/api/logout", cookies, op.csrf, "", &r), 200);
    httpc_reply_free(&r);
    CHECK_INT(webenv_req(port, "GET", "/api/me", cookies, NULL, NULL, &r), 401);
    httpc_reply_free(&r);
    CHECK_INT(webenv_stream_until(&st, "event: ended", 20000), 1);
    CHECK_INT(webenv_stream_until(&st, "never sent", 20000), 0); /* and the server closes it */
    close(st.fd);
    CHECK_INT(webenv_stream_until(&st2, "event: ended", 20000), 1);
    CHECK_INT(webenv_stream_until(&st2, "never sent", 20000), 0);
    close(st2.fd);
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'webt_op' "
                        "AND application_name = 'anpr-web'",
                        0, 10000),
              0);

    /* Failed logins throttled (3 a minute here): the fourth is refused before PostgreSQL. */
    for (int i = 0; i < 3; i++)
        CHECK_INT(webenv_login_check(port, WEB_INV, "nope", &inv, msg, sizeof msg, true), 401);
    CHECK_INT(webenv_login_check(port, WEB_INV, WEB_INV_PW, &inv, msg, sizeof msg, true), 429);
    CHECK(strstr(msg, "too many failed logins") != NULL);

    CHECK_INT(webenv_stop(web), 0);
    if (check_failed)
        webenv_print_log(log);
    int rc = h_daemon_finish(&d, check_failed);
    h_db_close(&db);
    return check_failed || rc ? 1 : check_done("itest_web");
}
