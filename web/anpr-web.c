/*
 * anpr-web: the dispatch board and the investigator desk in the browser (docs/WEB.md).
 *
 * One process: libmicrohttpd serves the pages of the static folder and a small JSON API, one
 * thread per connection (a board's Server-Sent Events stream waits in its own thread); the main
 * thread holds the one subscription to anprd's dispatch feed (feed.h) and fans its HITs out to
 * the boards (hub.h), and ends idle sessions.
 *
 * A person signs in with their own PostgreSQL login: anpr-web connects with that name and
 * password (the server checks them; a login the server let in without asking for the password
 * is refused) and keeps the connection as the session (sess.h), so the database's roles,
 * row-level security and audit apply to that person as they are. The password is wiped once
 * the connection is made and never logged.
 */
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "admin.h"
#include "board.h"
#include "cli.h"
#include "conf.h"
#include "config.h"
#include "desk.h"
#include "feed.h"
#include "http.h"
#include "log.h"
#include "login.h"
#include "util.h"
#include "web.h"
#include "wladm.h"

#define S_BODY_MAX (64 * 1024) /* a POST body larger than this is refused (413) */
#define S_CONNS    512         /* HTTP connections at most (each a thread) */
/* s: an idle HTTP connection is closed (a stream is never idle: it sends every 2 s) */
#define S_CONN_TIMEOUT 120
#define S_THR_KEYS     4096 /* user names and addresses the login throttle remembers */

/* A query on the session's connection, its rows as a JSON table. */
static enum MHD_Result s_query_json(struct MHD_Connection *c, sess_t *s, const char *sql)
{
    PGconn *conn = sess_lock_conn(s);
    PGresult *res = PQexec(conn, sql);
    enum MHD_Result rc;
    struct wj b = {0};

    sess_unlock_conn(s);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        rc = http_error(
            c, st && strcmp(st, "42501") == 0 ? MHD_HTTP_FORBIDDEN : MHD_HTTP_INTERNAL_SERVER_ERROR,
            m ? m : "database error");
        PQclear(res);
        return rc;
    }
    wj_raw(&b, "{");
    wj_pg_table(&b, res);
    wj_raw(&b, "}");
    PQclear(res);
    rc = wj_failed(&b) ? MHD_NO : http_json(c, MHD_HTTP_OK, b.s);
    wj_free(&b);
    return rc;
}

/* --- routing ------------------------------------------------------------------------------ */

static enum MHD_Result s_page(struct web *a, struct MHD_Connection *c, const char *url)
{
    sess_t *s;
    enum MHD_Result rc;

    if (strcmp(url, "/login") == 0)
        return http_static(a->conf->static_dir, c, "login.html");
    s = login_session(a, c);
    if (!s)
        return http_redirect(c, "/login");
    if (strcmp(url, "/") == 0)
        rc = http_redirect(c, sess_roles(s) & SESS_DISPATCH ? "/board"
                              : !(sess_roles(s) & SESS_INVESTIGATOR) && sess_roles(s) & SESS_ADMIN
                                  ? "/admin"
                                  : "/desk");
    else if (strcmp(url, "/board") == 0)
        rc = http_static(a->conf->static_dir, c, "board.html");
    else if (strcmp(url, "/admin") == 0)
        rc = http_static(a->conf->static_dir, c, "admin.html");
    else
        rc = http_static(a->conf->static_dir, c, "desk.html");
    sess_put(a->sessions, &s);
    return rc;
}

static enum MHD_Result s_api_get(struct web *a, struct MHD_Connection *c, const char *url,
                                 sess_t *s)
{
    if (strcmp(url, "/api/me") == 0)
        return login_me(c, s);
    if (strcmp(url, "/api/events") == 0)
        return board_events(a, c, s);
    if (strcmp(url, "/api/cameras") == 0)
        return s_query_json(c, s,
                            "SELECT code, name, latitude, longitude, place, road, heading "
                            "FROM anpr.camera WHERE enabled ORDER BY code");
    if (strcmp(url, "/api/lists") == 0)
        return s_query_json(c, s,
                            "SELECT id, name, category, priority, colour FROM anpr.watchlist "
                            "ORDER BY priority, name");
    if (strcmp(url, "/api/reasons") == 0)
        return s_query_json(c, s,
                            "SELECT reason FROM anpr.ack_reason WHERE active ORDER BY reason");
    if (strcmp(url, "/api/search.csv") == 0)
        return desk_csv(c, s);
    if (strncmp(url, "/api/admin/", 11) == 0)
        return admin_get(c, s, url);
    return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    struct web *a = cls;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

    (void)version;
    if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return http_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET, HEAD and POST");
    if (post) {
        struct web_req *rq = *con_cls;
        if (!rq) {
            if (!(rq = calloc(1, sizeof *rq)))
                return MHD_NO;
            *con_cls = rq;
            return MHD_YES;
        }
        if (*upload_size) {
            /* A CSV import may be larger than the rest of the API's requests. */
            size_t max = strcmp(url, "/api/admin/import") == 0 ? ADMIN_IMPORT_MAX : S_BODY_MAX;
            if (rq->body.len + *upload_size > max)
                rq->too_big = true;
            else
                wj_rawn(&rq->body, upload, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
        if (rq->too_big)
            return http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request too large");
        if (!rq->body.s)
            wj_raw(&rq->body, "");
        if (wj_failed(&rq->body))
            return MHD_NO;
        if (strcmp(url, "/api/login") == 0)
            return login_post(a, c, rq);
        sess_t *s = login_session(a, c);
        if (!s)
            return http_error(c, MHD_HTTP_UNAUTHORIZED, "not signed in (or the session ended)");
        enum MHD_Result rc;
        const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        char ftok[SESS_TOKEN_LEN + 1];
        if (!tok && http_form(rq->body.s, "csrf", ftok, sizeof ftok))
            tok = ftok;
        if (!sess_csrf_ok(s, tok))
            rc = http_error(c, MHD_HTTP_FORBIDDEN, "missing or wrong CSRF token");
        else if (strcmp(url, "/api/logout") == 0)
            rc = login_logout(a, c, s);
        else if (strcmp(url, "/api/ack") == 0)
            rc = board_ack(c, s, rq);
        else if (strcmp(url, "/api/search") == 0)
            rc = desk_search(c, s, rq);
        else if (strncmp(url, "/api/admin/", 11) == 0)
            rc = admin_post(c, s, url, rq);
        else
            rc = http_error(c, MHD_HTTP_NOT_FOUND, "not found");
        login_check_conn(a, s);
        sess_put(a->sessions, &s);
        return rc;
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/login") == 0 || strcmp(url, "/board") == 0 ||
        strcmp(url, "/desk") == 0 || strcmp(url, "/admin") == 0)
        return s_page(a, c, url);
    if (strncmp(url, "/static/", 8) == 0)
        return http_static(a->conf->static_dir, c, url + 8);
    if (strcmp(url, "/api/login-token") == 0)
        return login_token(a, c);
    if (strncmp(url, "/api/", 5) == 0) {
        sess_t *s = login_session(a, c);
        if (!s)
            return http_error(c, MHD_HTTP_UNAUTHORIZED, "not signed in (or the session ended)");
        enum MHD_Result rc = s_api_get(a, c, url, s);
        login_check_conn(a, s);
        sess_put(a->sessions, &s);
        return rc;
    }
    return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static void s_done(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode toe)
{
    struct web_req *rq = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (!rq)
        return;
    if (rq->body.s)
        OPENSSL_cleanse(rq->body.s, rq->body.cap);
    wj_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

/* --- start and main loop ------------------------------------------------------------------ */

/* The HTTP server on web.listen: *mhd and the *port it got. 0, or -1 with err. */
static int s_start_http(struct web *a, struct MHD_Daemon **mhd, int *port, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    bool loopback;
    const char *problem = conf_listen_parse(a->conf->listen, &addr, &alen, &loopback);
    int fd, one = 1;

    if (problem) {
        snprintf(err, errlen, "web.listen: %s", problem);
        return -1;
    }
    if (!loopback && !a->conf->proxy)
        log_warn(WEB_SUB,
                 "web.listen %s is not loopback and web.proxy is false: passwords would "
                 "cross the network in clear; put anpr-web behind a TLS proxy",
                 a->conf->listen);
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (bind(fd, (const struct sockaddr *)&addr, alen) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        snprintf(err, errlen, "web.listen %s: cannot bind: %s", a->conf->listen, strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    /* A thread per connection: a board's stream waits for the feed in its own thread. */
    *mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                            (uint16_t)*port, NULL, NULL, s_handle, a, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, s_done, a, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)S_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)S_CONN_TIMEOUT, MHD_OPTION_END);
    if (!*mhd) {
        snprintf(err, errlen, "the HTTP server (libmicrohttpd) did not start");
        close(fd);
        return -1;
    }
    return 0;
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: " WEB_PROG " [--config FILE] [--check-config] [--version] [--help]\n"
               "\n"
               "The dispatch board, the investigator desk and the watchlist admin page in the\n"
               "browser: serves the pages of web.static_dir and a small JSON API, signs people in\n"
               "with their own PostgreSQL login, and shows anprd's dispatch feed live on every\n"
               "dispatcher's board.\n"
               "\n"
               "  -c, --config FILE   configuration (default " ANPR_SYSCONFDIR "/anpr-web.yaml)\n"
               "  -n, --check-config  check the configuration, print 'configuration OK', exit\n"
               "      --version       print the version\n"
               "  -h, --help          this help\n"
               "\n"
               "Exit status: 0 stopped by SIGTERM or SIGINT (or the configuration is OK), 1 a\n"
               "usage or configuration error, 2 it could not start (the port, the feed).\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'n'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = ANPR_SYSCONFDIR "/anpr-web.yaml";
    bool check = false;
    char *errors = NULL, err[512];
    struct web a = {0};
    struct MHD_Daemon *mhd = NULL;
    int port = 0;
    void *zctx = NULL;
    feed_t *feed = NULL;
    int c, rc = 2;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'V':
            printf(WEB_PROG " %s\n", ANPR_VERSION);
            return 0;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            cli_getopt_fail(WEB_PROG, c, argc, argv);
            return 1;
        }
    }
    if (cli_no_operands(WEB_PROG, argc, argv) != 0)
        return 1;
    a.conf = webconf_load(path, &errors);
    if (!a.conf) {
        fputs(errors ? errors : "out of memory\n", stderr);
        free(errors);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK\n", path);
        webconf_destroy(&a.conf);
        return 0;
    }
    log_set_level(a.conf->log_level);
    cli_catch_signals();
    /* The admin page's times without an offset: ANPR_TZ or Europe/Brussels, looked up (and TZ
     * set) here, before the HTTP threads start. */
    wladm_zone_choose(NULL);
    const char *zone_why = wladm_zone();
    if (zone_why)
        log_warn(WEB_SUB, "time zone %s: %s; the admin page takes only times with an offset",
                 wladm_zone_name(), zone_why);
    a.hub = hub_new();
    a.sessions =
        sess_table_new(a.conf->idle_timeout_s, (size_t)a.conf->max_sessions, login_close_conn);
    a.throttle = thr_new(a.conf->max_failures, a.conf->window_s, S_THR_KEYS);
    zctx = zmq_ctx_new();
    if (!a.hub || !a.sessions || !a.throttle || !zctx) {
        log_error(WEB_SUB, "out of memory");
        goto out;
    }
    feed = feed_new(zctx, a.conf, a.hub, err, sizeof err);
    if (!feed) {
        log_error(WEB_SUB, "%s", err);
        goto out;
    }
    if (s_start_http(&a, &mhd, &port, err, sizeof err) != 0) {
        log_error(WEB_SUB, "%s", err);
        goto out;
    }
    log_info(WEB_SUB,
             "listening on %s (port %d), pages from %s, dispatch feed %s%s (%zu anprd "
             "instance%s), covert feed%s",
             a.conf->listen, port, a.conf->static_dir, a.conf->endpoint,
             *a.conf->key_file ? " (CURVE)" : " (plain text)", a.conf->nendpoints,
             a.conf->nendpoints == 1 ? "" : "s", a.conf->ncovert ? " on" : " off");
    rc = 0;
    int64_t next_sweep = util_mono_us() + 1000000;
    while (!cli_signal_take()) {
        zmq_pollitem_t items[FEED_POLL_MAX];
        size_t nitems = feed_poll_items(feed, items);
        if (zmq_poll(items, (int)nitems, 500) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            log_error(WEB_SUB, "poll: %s", zmq_strerror(zmq_errno()));
            rc = 2;
            break;
        }
        feed_handle(feed, items, nitems);
        int64_t now = util_mono_us();
        if (now >= next_sweep) {
            size_t n = sess_expire(a.sessions, now / 1000000);
            if (n)
                log_info(WEB_SUB, "%zu idle session%s ended, connection%s closed", n,
                         n == 1 ? "" : "s", n == 1 ? "" : "s");
            next_sweep = now + 1000000;
        }
    }
    log_info(WEB_SUB, "stopping");
out:
    atomic_store(&a.stopping, true);
    if (a.hub)
        hub_close(a.hub);
    if (mhd)
        MHD_stop_daemon(mhd);
    feed_destroy(&feed);
    if (zctx)
        zmq_ctx_term(zctx);
    sess_table_destroy(&a.sessions);
    thr_destroy(&a.throttle);
    hub_destroy(&a.hub);
    webconf_destroy(&a.conf);
    return rc;
}
