/* webenv: what the anpr-web tests share (webenv.h). */
#include "webenv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

void webenv_db(struct h_db *db, const char *dbname)
{
    h_db_create(db, dbname);
    /* Roles are the cluster's: made once, their passwords set every time. */
    h_exec(db->admin,
           "DO $$ BEGIN "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_password') THEN "
           "CREATE ROLE anpr_password NOLOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_OP "') THEN "
           "CREATE ROLE " WEB_OP " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_INV "') THEN "
           "CREATE ROLE " WEB_INV " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_ADM "') THEN "
           "CREATE ROLE " WEB_ADM " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_TRUSTED "') THEN "
           "CREATE ROLE " WEB_TRUSTED " LOGIN; END IF; END $$;"
           "SET password_encryption = 'scram-sha-256';"
           "ALTER ROLE " WEB_OP " PASSWORD '" WEB_OP_PW "';"
           "ALTER ROLE " WEB_INV " PASSWORD '" WEB_INV_PW "';"
           "ALTER ROLE " WEB_ADM " PASSWORD '" WEB_ADM_PW "';"
           "GRANT anpr_dispatch, anpr_password TO " WEB_OP ";"
           "GRANT anpr_investigator, anpr_password TO " WEB_INV ";"
           "GRANT anpr_admin, anpr_password TO " WEB_ADM ";"
           "GRANT anpr_dispatch TO " WEB_TRUSTED ";"
           "INSERT INTO anpr.camera (code, name, latitude, longitude, road) VALUES "
           "('" WEB_CAM "', 'Smeermaas N2', 50.9512, 5.7128, 'N2'),"
           "('BE-E314-BOORSEM-1', 'Boorsem E314', 50.9842, 5.6891, 'E314'),"
           "('BE-N78-VELDWEZELT', 'Veldwezelt N78', 50.8668, 5.6337, 'N78');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, colour) VALUES "
           "('Stolen vehicles', 'stolen', 1, 300, 'red'), ('Fence', 'surveillance', 9, 0, NULL);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country, instruction, external_ref) "
           "SELECT id, p, 'BE', 'Stop and check the driver', 'PV-2026-0042' "
           "FROM anpr.watchlist, (VALUES ('" WEB_PLATE "'), ('1-ABC-124'), ('1-ABC-125')) v(p) "
           "WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, 'FENCE-1' FROM anpr.watchlist WHERE name = 'Fence'");
}

void webenv_setup(struct h_db *db, struct h_daemon *d, const char *dbname, const char *dispatch)
{
    webenv_db(db, dbname);
    struct h_daemon_opts o = {.tcp = true, .log_level = "info", .dispatch = dispatch};
    if (h_daemon_start_opts(d, db, &o) != 0)
        h_fatal("anprd did not start");
}

const char *webenv_config(const struct h_db *db, const struct h_daemon *d, int port)
{
    char sections[1024];

    snprintf(sections, sizeof sections,
             "dispatch:\n  endpoint: %s\n  covert_endpoint: %s\n"
             "login:\n  max_failures: 3\n  window_s: 60\n",
             d->dispatch_ep, d->covert_ep);
    return webenv_config_sections(db, d->dir, port, sections);
}

const char *webenv_config_sections(const struct h_db *db, const char *dir, int port,
                                   const char *sections)
{
    static char path[256];
    const char *static_dir = getenv("ANPR_WEB_STATIC");
    FILE *f;

    if (!static_dir)
        h_fatal("ANPR_WEB_STATIC is not set");
    snprintf(path, sizeof path, "%s/anpr-web.yaml", dir);
    if (!(f = fopen(path, "w")))
        h_fatal("%s: cannot write", path);
    fprintf(f,
            "web:\n  listen: 127.0.0.1:%d\n  static_dir: %s\n  proxy: false\n"
            "database:\n  conninfo: \"host=%s port=%s dbname=%s\"\n"
            "%s"
            "log:\n  level: info\n",
            port, static_dir, getenv("ANPR_TEST_PGHOST"), getenv("ANPR_TEST_PGPORT"), db->name,
            sections);
    if (fclose(f) != 0)
        h_fatal("%s: cannot write", path);
    return path;
}

pid_t webenv_start(int port, const char *conf, const char *log)
{
    char *argv[] = {getenv("ANPR_WEB"), "--config", (char *)conf, NULL};
    int64_t until = util_mono_us() + 20000000;

    if (!argv[0])
        h_fatal("ANPR_WEB is not set");
    pid_t pid = h_spawn(argv, log, log);
    while (util_mono_us() < until) {
        struct httpc_reply r = {0};
        if (httpc_request("127.0.0.1", port, "GET", "/login", 1000, &r) == 0 && r.status == 200) {
            httpc_reply_free(&r);
            return pid;
        }
        httpc_reply_free(&r);
        usleep(100000);
    }
    h_fatal("anpr-web did not answer within 20 s:\n%s", h_slurp(log));
}

int webenv_stop(pid_t web)
{
    kill(web, SIGTERM);
    return h_wait(web, 20000);
}

void webenv_print_log(const char *log)
{
    char *text = h_slurp(log);

    fprintf(stderr, "anpr-web log:\n%s", text);
    free(text);
}

int webenv_req(int port, const char *method, const char *path, const char *cookies,
               const char *csrf, const char *body, struct httpc_reply *r)
{
    /* Sized to fit: an import's form body is tens of kilobytes. 256 covers the fixed text. */
    size_t cap = strlen(method) + strlen(path) + (cookies ? strlen(cookies) : 0) +
                 (csrf ? strlen(csrf) : 0) + (body ? strlen(body) : 0) + 256;
    char *req = malloc(cap);

    if (!req)
        h_fatal("%s %s: out of memory", method, path);
    snprintf(req, cap,
             "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s%s%s%s"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, cookies ? "Cookie: " : "", cookies ? cookies : "", cookies ? "\r\n" : "",
             csrf ? "X-CSRF-Token: " : "", csrf ? csrf : "", csrf ? "\r\n" : "",
             body ? strlen(body) : 0, body ? body : "");
    memset(r, 0, sizeof *r);
    int rc = httpc_raw("127.0.0.1", port, req, 20000, r);
    free(req);
    if (rc != 0)
        h_fatal("%s %s: no answer", method, path);
    return r->status;
}

bool webenv_cookie(const struct httpc_reply *r, const char *name, char *out, size_t cap)
{
    char key[64];
    const char *p;

    snprintf(key, sizeof key, "Set-Cookie: %s=", name);
    if (!r->head || !(p = strstr(r->head, key)))
        return false;
    p += strlen(key);
    snprintf(out, cap, "%.*s", (int)strcspn(p, ";\r\n"), p);
    return true;
}

bool webenv_member(const char *json, const char *name, char *out, size_t cap)
{
    char key[64];
    const char *p;

    snprintf(key, sizeof key, "\"%s\":", name);
    if (!(p = strstr(json, key)))
        return false;
    p += strlen(key);
    if (*p == '"')
        p++;
    snprintf(out, cap, "%.*s", (int)strcspn(p, "\",}"), p);
    return true;
}

int webenv_login(int port, const char *user, const char *pw, struct webenv_login *l, char *msg,
                 size_t cap)
{
    struct httpc_reply r;
    char cookies[128], body[256];

    memset(l, 0, sizeof *l);
    if (msg)
        msg[0] = '\0';
    webenv_req(port, "GET", "/api/login-token", NULL, NULL, NULL, &r);
    bool pre = webenv_cookie(&r, "anpr_pre", l->pre, sizeof l->pre);
    httpc_reply_free(&r);
    if (!pre) {
        if (msg)
            snprintf(msg, cap, "no pre-login cookie");
        return -1;
    }
    snprintf(cookies, sizeof cookies, "anpr_pre=%s", l->pre);
    snprintf(body, sizeof body, "user=%s&password=%s", user, pw);
    int st = webenv_req(port, "POST", "/api/login", cookies, l->pre, body, &r);
    if (msg)
        snprintf(msg, cap, "%s", r.body ? r.body : "");
    if (webenv_cookie(&r, "anpr_session", l->session, sizeof l->session))
        snprintf(l->cookies, sizeof l->cookies, "anpr_session=%s", l->session);
    if (r.body)
        webenv_member(r.body, "csrf", l->csrf, sizeof l->csrf);
    l->http_only = r.head && strstr(r.head, "HttpOnly") != NULL;
    l->same_site = r.head && strstr(r.head, "SameSite=Strict") != NULL;
    httpc_reply_free(&r);
    return st;
}

int webenv_stream_open(struct webenv_stream *st, int port, const char *cookies, const char *extra)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char req[512];

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    st->len = st->mark = 0;
    st->buf[0] = '\0';
    st->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (st->fd < 0 || connect(st->fd, (struct sockaddr *)&a, sizeof a) != 0)
        h_fatal("connect to anpr-web: %s", strerror(errno));
    int n = snprintf(req, sizeof req,
                     "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: %s\r\n%s\r\n", cookies,
                     extra);
    if (n < 0 || (size_t)n >= sizeof req)
        h_fatal("/api/events: request too long");
    return write(st->fd, req, (size_t)n) == n ? 0 : -1;
}

int webenv_stream_until(struct webenv_stream *st, const char *needle, int ms)
{
    int64_t until = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        st->buf[st->len] = '\0';
        if (strstr(st->buf + st->mark, needle))
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
