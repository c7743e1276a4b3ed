/*
 * Integration: anpr-web on anprd's feeds with CURVE, as in production. anpr-web's key is a
 * console's (anpr.console) cleared for one covert list only (anpr.console_covert): a dispatcher
 * cleared for two covert lists sees on the board the HITs of the one anpr-web's key is cleared
 * for, never the other's (anprd does not send them to anpr-web at all), and the general feed's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "webenv.h"

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char sql[2048], key_path[256], web_key[256], sections[1024], log[256];
    struct h_keypair server = h_keypair(), web = h_keypair(), cam = h_keypair();
    static struct webenv_stream st;

    h_require_env();
    if (!getenv("ANPR_WEB"))
        h_fatal("ANPR_WEB is not set");
    webenv_db(&db, "itest_web_curve");
    snprintf(sql, sizeof sql,
             "UPDATE anpr.camera SET curve_key = '%s' WHERE code = '" WEB_CAM "';"
             "INSERT INTO anpr.console (name, curve_key) VALUES ('anpr-web', '%s');"
             "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, covert) VALUES "
             "('Observation', 'surveillance', 3, 0, true), ('Kestrel', 'surveillance', 3, 0, true);"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'COV-777' "
             "FROM anpr.watchlist WHERE name = 'Observation';"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'KES-1' "
             "FROM anpr.watchlist WHERE name = 'Kestrel';"
             /* anpr-web's key: Observation only (anpr-consoles clear anpr-web LIST) */
             "INSERT INTO anpr.console_covert SELECT c.id, w.id FROM anpr.console c, "
             "anpr.watchlist w WHERE c.name = 'anpr-web' AND w.name = 'Observation';"
             /* the person: both */
             "SELECT anpr.grant_covert('" WEB_OP "', id) FROM anpr.watchlist WHERE covert",
             cam.pub, web.pub);
    h_exec(db.admin, sql);

    char dir[] = "/tmp/anpr-web-curve.XXXXXX";
    if (!mkdtemp(dir))
        h_fatal("mkdtemp");
    snprintf(key_path, sizeof key_path, "%s/anprd.key", dir);
    snprintf(web_key, sizeof web_key, "%s/anpr-web.key", dir);
    h_write_key(key_path, server.sec);
    h_write_key(web_key, web.sec);
    struct h_daemon_opts o = {.tcp = true, .log_level = "info", .curve_secret_file = key_path};
    if (h_daemon_start_opts(&d, &db, &o) != 0)
        h_fatal("anprd did not start");

    snprintf(sections, sizeof sections,
             "dispatch:\n  endpoint: %s\n  covert_endpoint: %s\n  key_file: %s\n"
             "  server_key: \"%s\"\n", /* quoted: a Z85 key may start with @, &, * ... */
             d.dispatch_ep, d.covert_ep, web_key, server.pub);
    int port = h_free_port();
    const char *conf = webenv_config_sections(&db, d.dir, port, sections);
    snprintf(log, sizeof log, "%s/anpr-web.log", d.dir);
    pid_t webp = webenv_start(port, conf, log);

    /* Sign in and open the board's stream: the general feed is up through CURVE. */
    struct webenv_login op;
    int signed_in = webenv_login(port, WEB_OP, WEB_OP_PW, &op, NULL, 0);
    CHECK(op.pre[0] != '\0');
    CHECK_INT(signed_in, 200);
    CHECK(op.session[0] != '\0');
    CHECK_INT(webenv_stream_open(&st, port, op.cookies, ""), 0);
    CHECK_INT(webenv_stream_until(&st, "event: live", 20000), 1);
    CHECK_INT(webenv_stream_until(&st, "\"feed_connected\":true", 20000), 1);

    /* A covert HIT of the list anpr-web's key is cleared for: on the board (reads go until
       anpr-web's request has reached anprd). */
    void *c = h_curve_client(ZMQ_DEALER, d.ingest_ep, &cam, server.pub, NULL);
    uint64_t seq = 1;
    int got = 0;
    for (int i = 0; i < 60 && got != 1; i++) {
        struct proto_read rd = h_read(WEB_CAM, seq++, "COV-777", "BE");
        h_send_read(c, &rd);
        got = webenv_stream_until(&st, "\"read_plate\":\"COV-777\"", 500);
    }
    CHECK_INT(got, 1);
    CHECK_INT(webenv_stream_until(&st, "\"covert\":true", 5000), 1);
    /* The other covert list's HIT never reaches anpr-web, though the person is cleared for it;
       a general HIT sent after it comes. */
    struct proto_read kes = h_read(WEB_CAM, seq++, "KES-1", "BE");
    h_send_read(c, &kes);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE covert AND plate = 'KES1'",
                        1, 20000),
              1);
    struct proto_read gen = h_read(WEB_CAM, seq++, WEB_PLATE, "BE");
    h_send_read(c, &gen);
    CHECK_INT(webenv_stream_until(&st, "\"read_plate\":\"" WEB_PLATE "\"", 20000), 1);
    CHECK(strstr(st.buf, "KES-1") == NULL);
    h_close(c);
    close(st.fd);

    CHECK_INT(webenv_stop(webp), 0);
    if (check_failed)
        webenv_print_log(log);
    int rc = h_daemon_finish(&d, check_failed);
    h_db_close(&db);
    if (!check_failed)
        h_rmtree(dir);
    return check_failed || rc ? 1 : check_done("itest_web_curve");
}
