/*
 * Integration: anpr-web on anprd's feeds with CURVE, as in production. anpr-web's key is a
 * console's (anpr.console) cleared for one covert list only (anpr.console_covert): a dispatcher
 * cleared for two covert lists sees on the board the HITs of the one anpr-web's key is cleared
 * for, never the other's (anprd does not send them to anpr-web at all), and the general feed's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "httpc.h"
#include "util.h"
#include "webenv.h"

static int s_port;

struct keypair {
    char pub[41], sec[41];
};

static struct keypair s_keypair(void)
{
    struct keypair k;

    if (zmq_curve_keypair(k.pub, k.sec) != 0)
        h_fatal("zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
    return k;
}

static void s_write_key(const char *path, const char *z85)
{
    FILE *f = fopen(path, "w");

    if (!f || fprintf(f, "%s\n", z85) < 0 || fclose(f) != 0)
        h_fatal("%s: cannot write", path);
}

/* A camera's DEALER with its CURVE key, connected to anprd's ingest. */
static void *s_camera(const char *endpoint, const struct keypair *k, const char *server_pub)
{
    void *s = zmq_socket(h_zmq_ctx(), ZMQ_DEALER);

    if (!s || zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 40) != 0 || zmq_connect(s, endpoint) != 0)
        h_fatal("camera socket: %s", zmq_strerror(zmq_errno()));
    return s;
}

static bool s_cookie(const struct httpc_reply *r, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "Set-Cookie: %s=", name);
    const char *p = strstr(r->head, key);
    if (!p)
        return false;
    p += strlen(key);
    snprintf(out, cap, "%.*s", (int)strcspn(p, ";\r\n"), p);
    return true;
}

static int s_req(const char *method, const char *path, const char *cookies, const char *csrf,
                 const char *body, struct httpc_reply *r)
{
    char req[4096];
    snprintf(req, sizeof req,
             "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s%s%s%s"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, cookies ? "Cookie: " : "", cookies ? cookies : "", cookies ? "\r\n" : "",
             csrf ? "X-CSRF-Token: " : "", csrf ? csrf : "", csrf ? "\r\n" : "",
             body ? strlen(body) : 0, body ? body : "");
    memset(r, 0, sizeof *r);
    if (httpc_raw("127.0.0.1", s_port, req, 20000, r) != 0)
        h_fatal("%s %s: no answer", method, path);
    return r->status;
}

struct stream {
    int fd;
    char buf[1 << 20];
    size_t len;
};

/* Read until needle has arrived (1), the server closes (0) or ms pass (-1). */
static int s_until(struct stream *st, const char *needle, int ms)
{
    int64_t until = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        st->buf[st->len] = '\0';
        if (strstr(st->buf, needle))
            return 1;
        int64_t left = (until - util_mono_us()) / 1000;
        struct pollfd p = {.fd = st->fd, .events = POLLIN};
        if (left <= 0 || st->len + 1 >= sizeof st->buf || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t n = read(st->fd, st->buf + st->len, sizeof st->buf - 1 - st->len);
        if (n <= 0)
            return 0;
        st->len += (size_t)n;
    }
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct httpc_reply r;
    char sql[2048], key_path[256], web_key[256], conf[256], log[256];
    struct keypair server = s_keypair(), web = s_keypair(), cam = s_keypair();
    static struct stream st;

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
    s_write_key(key_path, server.sec);
    s_write_key(web_key, web.sec);
    struct h_daemon_opts o = {.tcp = true, .log_level = "info", .curve_secret_file = key_path};
    if (h_daemon_start_opts(&d, &db, &o) != 0)
        h_fatal("anprd did not start");

    s_port = h_free_port();
    snprintf(conf, sizeof conf, "%s/anpr-web.yaml", d.dir);
    snprintf(log, sizeof log, "%s/anpr-web.log", d.dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        h_fatal("%s: cannot write", conf);
    fprintf(f,
            "web:\n  listen: 127.0.0.1:%d\n  static_dir: %s\n  proxy: false\n"
            "database:\n  conninfo: \"host=%s port=%s dbname=%s\"\n"
            "dispatch:\n  endpoint: %s\n  covert_endpoint: %s\n  key_file: %s\n"
            "  server_key: %s\n"
            "log:\n  level: info\n",
            s_port, getenv("ANPR_WEB_STATIC"), getenv("ANPR_TEST_PGHOST"),
            getenv("ANPR_TEST_PGPORT"), db.name, d.dispatch_ep, d.covert_ep, web_key, server.pub);
    fclose(f);
    char *argv[] = {getenv("ANPR_WEB"), "--config", conf, NULL};
    pid_t webp = h_spawn(argv, log, log);
    int64_t until = util_mono_us() + 20000000;
    while (
        util_mono_us() < until &&
        !(httpc_request("127.0.0.1", s_port, "GET", "/login", 1000, &r) == 0 && r.status == 200)) {
        httpc_reply_free(&r);
        usleep(100000);
    }
    httpc_reply_free(&r);

    /* Sign in and open the board's stream: the general feed is up through CURVE. */
    char pre[80], cookies[128], body[128], sid[80];
    s_req("GET", "/api/login-token", NULL, NULL, NULL, &r);
    CHECK(s_cookie(&r, "anpr_pre", pre, sizeof pre));
    httpc_reply_free(&r);
    snprintf(cookies, sizeof cookies, "anpr_pre=%s", pre);
    snprintf(body, sizeof body, "user=" WEB_OP "&password=" WEB_OP_PW);
    CHECK_INT(s_req("POST", "/api/login", cookies, pre, body, &r), 200);
    CHECK(s_cookie(&r, "anpr_session", sid, sizeof sid));
    httpc_reply_free(&r);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    st.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (st.fd < 0 || connect(st.fd, (struct sockaddr *)&a, sizeof a) != 0)
        h_fatal("connect to anpr-web: %s", strerror(errno));
    int n = snprintf(body, sizeof body,
                     "GET /api/events HTTP/1.1\r\nCookie: anpr_session=%s\r\n\r\n", sid);
    CHECK(write(st.fd, body, (size_t)n) == n);
    CHECK_INT(s_until(&st, "event: live", 20000), 1);
    CHECK_INT(s_until(&st, "\"feed_connected\":true", 20000), 1);

    /* A covert HIT of the list anpr-web's key is cleared for: on the board (reads go until
       anpr-web's request has reached anprd). */
    void *c = s_camera(d.ingest_ep, &cam, server.pub);
    uint64_t seq = 1;
    int got = 0;
    for (int i = 0; i < 60 && got != 1; i++) {
        struct proto_read rd = h_read(WEB_CAM, seq++, "COV-777", "BE");
        h_send_read(c, &rd);
        got = s_until(&st, "\"read_plate\":\"COV-777\"", 500);
    }
    CHECK_INT(got, 1);
    CHECK_INT(s_until(&st, "\"covert\":true", 5000), 1);
    /* The other covert list's HIT never reaches anpr-web, though the person is cleared for it;
       a general HIT sent after it comes. */
    struct proto_read kes = h_read(WEB_CAM, seq++, "KES-1", "BE");
    h_send_read(c, &kes);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.hits WHERE covert AND plate = 'KES1'",
                        1, 20000),
              1);
    struct proto_read gen = h_read(WEB_CAM, seq++, WEB_PLATE, "BE");
    h_send_read(c, &gen);
    CHECK_INT(s_until(&st, "\"read_plate\":\"" WEB_PLATE "\"", 20000), 1);
    CHECK(strstr(st.buf, "KES-1") == NULL);
    h_close(c);
    close(st.fd);

    kill(webp, SIGTERM);
    CHECK_INT(h_wait(webp, 20000), 0);
    if (check_failed) {
        char *text = h_slurp(log);
        fprintf(stderr, "anpr-web log:\n%s", text);
        free(text);
    }
    int rc = h_daemon_finish(&d, check_failed);
    h_db_close(&db);
    if (!check_failed)
        h_rmtree(dir);
    return check_failed || rc ? 1 : check_done("itest_web_curve");
}
