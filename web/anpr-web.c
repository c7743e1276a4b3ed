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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "conf.h"
#include "config.h"
#include "feed.h"
#include "hist.h"
#include "hub.h"
#include "log.h"
#include "sess.h"
#include "thr.h"
#include "util.h"
#include "webconf.h"
#include "wj.h"

#define PROG "anpr-web"
#define SUB  "web"

#define S_BODY_MAX (64 * 1024) /* a POST body larger than this is refused (413) */
#define S_CONNS    512         /* HTTP connections at most (each a thread) */
#define S_CONN_TIMEOUT                                                                             \
    120                          /* s: an idle HTTP connection is closed (a stream is never        \
                                    idle: it sends the feed's health every 2 s) */
#define S_POLL_US        2000000 /* a stream's health and acknowledgement poll */
#define S_CATCH_UP_MAX   2000    /* HITs a catch-up sends at most */
#define S_THR_KEYS       4096    /* user names and addresses the login throttle remembers */
#define S_SESSION_COOKIE "anpr_session"
#define S_PRE_COOKIE     "anpr_pre"

/* Every page and answer: no inline script or style, nothing from elsewhere, never in a frame. */
#define S_CSP                                                                                      \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; media-src 'self'; form-action 'self'; frame-ancestors 'none'; "           \
    "base-uri 'none'"

struct app {
    struct webconf *conf;
    sess_table_t *sessions;
    thr_t *throttle;
    hub_t *hub;
    struct MHD_Daemon *mhd;
    int port;
    atomic_bool stopping;
};

/* A request's state between the calls libmicrohttpd makes for it. */
struct req {
    struct wj body; /* a POST's body (wiped when freed: it may hold a password) */
    bool too_big;
};

/* --- responses ---------------------------------------------------------------------------- */

static void s_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Content-Security-Policy", S_CSP);
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static enum MHD_Result s_send(struct MHD_Connection *c, unsigned status, const char *type,
                              const char *body, size_t len, const char *cookie)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    s_headers(r, type);
    if (cookie)
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result s_json(struct MHD_Connection *c, unsigned status, const char *json)
{
    return s_send(c, status, "application/json; charset=utf-8", json, strlen(json), NULL);
}

/* {"error": msg} with status. */
static enum MHD_Result s_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct wj b = {0};
    enum MHD_Result rc;

    wj_raw(&b, "{\"error\":");
    wj_str(&b, msg);
    wj_raw(&b, "}");
    rc = wj_failed(&b) ? MHD_NO : s_json(c, status, b.s);
    wj_free(&b);
    return rc;
}

static enum MHD_Result s_redirect(struct MHD_Connection *c, const char *to)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    s_headers(r, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, to);
    rc = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
    MHD_destroy_response(r);
    return rc;
}

/* A cookie as anpr-web sets them: HttpOnly, SameSite=Strict, Secure behind the TLS proxy. */
static void s_cookie(const struct app *a, char *out, size_t cap, const char *name,
                     const char *value, bool clear)
{
    snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value,
             a->conf->proxy ? "; Secure" : "", clear ? "; Max-Age=0" : "");
}

/* --- static pages ------------------------------------------------------------------------- */

static const char *s_type_of(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (!dot)
        return NULL;
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (strcmp(dot, ".png") == 0)
        return "image/png";
    return NULL;
}

/* A file of the static folder by its plain name ([a-z0-9-]+.ext: no path, no dot files). */
static enum MHD_Result s_static(struct app *a, struct MHD_Connection *c, const char *name)
{
    const char *type = s_type_of(name);
    char path[4096];
    struct stat st;
    int fd;

    if (!type || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(name) ||
        name[0] == '.' || strstr(name, ".."))
        return s_error(c, MHD_HTTP_NOT_FOUND, "not found");
    snprintf(path, sizeof path, "%s/%s", a->conf->static_dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return s_error(c, MHD_HTTP_NOT_FOUND, "not found");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    s_headers(r, type);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* --- requests ----------------------------------------------------------------------------- */

/* The value of key in an application/x-www-form-urlencoded body, decoded, into out; false
   when absent (or longer than cap). */
static bool s_form(const char *body, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);

    for (const char *p = body ? body : ""; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vn = n - klen - 1;
            if (vn >= cap)
                return false;
            memcpy(out, p + klen + 1, vn);
            out[vn] = '\0';
            for (char *q = out; *q; q++)
                if (*q == '+')
                    *q = ' ';
            out[MHD_http_unescape(out)] = '\0';
            return true;
        }
        p += n + (amp ? 1 : 0);
    }
    return false;
}

/* The client's address: the peer's, or behind the proxy the X-Real-IP a loopback peer sends. */
static void s_client(const struct app *a, struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    bool loopback = false;

    snprintf(out, cap, "?");
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *in = (const void *)sa;
            inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap);
            loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const void *)sa;
            inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap);
            loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        }
    }
    const char *real = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Real-IP");
    unsigned char tmp[16];
    if (a->conf->proxy && loopback && real &&
        (inet_pton(AF_INET, real, tmp) == 1 || inet_pton(AF_INET6, real, tmp) == 1))
        snprintf(out, cap, "%s", real);
}

/* The session of the request's cookie, referenced (sess_put it), or NULL. */
static sess_t *s_session(struct app *a, struct MHD_Connection *c)
{
    const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, S_SESSION_COOKIE);

    return id ? sess_get(a->sessions, id, util_mono_us() / 1000000) : NULL;
}

static void s_roles_json(struct wj *b, unsigned roles)
{
    wj_raw(b, "[");
    bool first = true;
    if (roles & SESS_DISPATCH) {
        wj_raw(b, "\"dispatch\"");
        first = false;
    }
    if (roles & SESS_INVESTIGATOR) {
        wj_raw(b, first ? "\"investigator\"" : ",\"investigator\"");
        first = false;
    }
    if (roles & SESS_ADMIN)
        wj_raw(b, first ? "\"admin\"" : ",\"admin\"");
    wj_raw(b, "]");
}

/* --- login and logout --------------------------------------------------------------------- */

static void s_close_conn(void *conn)
{
    PQfinish(conn);
}

/* A new pre-login token: the login form's CSRF token, double-submitted (cookie and header). */
static enum MHD_Result s_login_token(struct app *a, struct MHD_Connection *c)
{
    char tok[SESS_TOKEN_LEN + 1], cookie[256], json[128];

    if (sess_random_hex(tok, 32) != 0)
        return s_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no randomness");
    s_cookie(a, cookie, sizeof cookie, S_PRE_COOKIE, tok, false);
    snprintf(json, sizeof json, "{\"token\":\"%s\"}", tok);
    return s_send(c, MHD_HTTP_OK, "application/json; charset=utf-8", json, strlen(json), cookie);
}

/* PostgreSQL's reason for a refused connection, as one clean line. */
static void s_pg_reason(PGconn *conn, char *out, size_t cap)
{
    const char *m = conn ? PQerrorMessage(conn) : "out of memory";
    const char *fatal = strstr(m, "FATAL:");

    snprintf(out, cap, "%s", cli_text(fatal ? fatal + 6 : m));
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = ' ';
    size_t n = strlen(out);
    while (n && out[n - 1] == ' ')
        out[--n] = '\0';
    char *s = out;
    while (*s == ' ')
        s++;
    memmove(out, s, strlen(s) + 1);
}

static enum MHD_Result s_login(struct app *a, struct MHD_Connection *c, struct req *rq)
{
    char user[SESS_USER_MAX + 1], password[1024], addr[64], akey[80], ukey[96];
    char id[SESS_TOKEN_LEN + 1], csrf[SESS_TOKEN_LEN + 1], why[512], cookie[256];
    const char *pre = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, S_PRE_COOKIE);
    const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    int64_t now = util_mono_us() / 1000000;
    int retry = 0;
    PGconn *conn = NULL;
    enum MHD_Result rc;

    if (!pre || !tok || strlen(pre) != SESS_TOKEN_LEN || !sess_token_eq(pre, tok))
        return s_error(c, MHD_HTTP_FORBIDDEN, "missing or wrong CSRF token: reload the page");
    s_client(a, c, addr, sizeof addr);
    if (!s_form(rq->body.s, "user", user, sizeof user) || !*user)
        return s_error(c, MHD_HTTP_BAD_REQUEST, "enter your database user name");
    if (!s_form(rq->body.s, "password", password, sizeof password))
        password[0] = '\0';
    snprintf(akey, sizeof akey, "a:%s", addr);
    snprintf(ukey, sizeof ukey, "u:%s", user);
    if (!thr_allowed(a->throttle, akey, now, &retry) ||
        !thr_allowed(a->throttle, ukey, now, &retry)) {
        OPENSSL_cleanse(password, sizeof password);
        log_warn(SUB, "login: user '%s' from %s: refused: too many failed logins, %d s to wait",
                 cli_text(user), addr, retry);
        snprintf(why, sizeof why, "too many failed logins: try again in %d s", retry);
        return s_error(c, MHD_HTTP_TOO_MANY_REQUESTS, why);
    }

    const char *keys[] = {"dbname",          "user", "password", "application_name",
                          "connect_timeout", NULL};
    const char *vals[] = {a->conf->conninfo, user, password, PROG, "10", NULL};
    /* dbname is expanded: the configured conninfo gives host, port, database, sslmode. */
    conn = PQconnectdbParams(keys, vals, 1);
    OPENSSL_cleanse(password, sizeof password);
    OPENSSL_cleanse(rq->body.s, rq->body.len);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        s_pg_reason(conn, why, sizeof why);
        PQfinish(conn);
        thr_fail(a->throttle, akey, now);
        thr_fail(a->throttle, ukey, now);
        log_warn(SUB, "login: user '%s' from %s: refused by the database: %s", cli_text(user), addr,
                 why);
        if (strstr(why, "password authentication failed") || strstr(why, "does not exist") ||
            strstr(why, "no password supplied"))
            return s_error(c, MHD_HTTP_UNAUTHORIZED, "wrong user name or password");
        char answer[600];
        snprintf(answer, sizeof answer, "the database refused the login: %.500s", why);
        return s_error(c, MHD_HTTP_UNAUTHORIZED, answer);
    }
    /* Trust or peer authentication would let anyone be anyone through this page. */
    if (!PQconnectionUsedPassword(conn)) {
        PQfinish(conn);
        log_error(SUB,
                  "login: user '%s' from %s: refused: the database let this login in without "
                  "checking a password (pg_hba.conf trust or peer); anpr-web needs scram-sha-256",
                  cli_text(user), addr);
        return s_error(c, MHD_HTTP_FORBIDDEN,
                       "the database did not check a password for this login; ask an "
                       "administrator (pg_hba.conf must use scram-sha-256)");
    }
    PGresult *res = PQexec(conn, "SET datestyle = ISO");
    PQclear(res);
    res = PQexec(conn, "SELECT pg_has_role(session_user, 'anpr_dispatch', 'MEMBER'), "
                       "pg_has_role(session_user, 'anpr_investigator', 'MEMBER'), "
                       "pg_has_role(session_user, 'anpr_admin', 'MEMBER')");
    unsigned roles = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        roles |= *PQgetvalue(res, 0, 0) == 't' ? SESS_DISPATCH : 0;
        roles |= *PQgetvalue(res, 0, 1) == 't' ? SESS_INVESTIGATOR : 0;
        roles |= *PQgetvalue(res, 0, 2) == 't' ? SESS_ADMIN : 0;
    }
    PQclear(res);
    if (!roles) {
        PQfinish(conn);
        log_warn(SUB,
                 "login: user '%s' from %s: refused: in none of anpr_dispatch, "
                 "anpr_investigator, anpr_admin",
                 cli_text(user), addr);
        return s_error(c, MHD_HTTP_FORBIDDEN,
                       "this login is not a dispatcher, an investigator or an admin");
    }
    bool full;
    sess_t *s = sess_create(a->sessions, user, roles, conn, now, id, csrf, &full);
    if (!s) {
        log_warn(SUB, "login: user '%s' from %s: refused: %s", cli_text(user), addr,
                 full ? "too many sessions" : "out of memory");
        return s_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                       full ? "too many people are signed in" : "out of memory");
    }
    thr_clear(a->throttle, ukey);
    thr_clear(a->throttle, akey);
    log_info(SUB, "login: user '%s' from %s: signed in (%s%s%s)", cli_text(user), addr,
             roles & SESS_DISPATCH ? "dispatch " : "",
             roles & SESS_INVESTIGATOR ? "investigator " : "", roles & SESS_ADMIN ? "admin" : "");
    struct wj b = {0};
    wj_raw(&b, "{\"user\":");
    wj_str(&b, user);
    wj_raw(&b, ",\"roles\":");
    s_roles_json(&b, roles);
    wj_fmt(&b, ",\"csrf\":\"%s\",\"home\":\"%s\"}", csrf,
           roles & SESS_DISPATCH ? "/board" : "/desk");
    s_cookie(a, cookie, sizeof cookie, S_SESSION_COOKIE, id, false);
    rc = wj_failed(&b)
             ? MHD_NO
             : s_send(c, MHD_HTTP_OK, "application/json; charset=utf-8", b.s, b.len, cookie);
    wj_free(&b);
    OPENSSL_cleanse(id, sizeof id);
    sess_put(a->sessions, &s);
    return rc;
}

static enum MHD_Result s_logout(struct app *a, struct MHD_Connection *c, sess_t *s)
{
    const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, S_SESSION_COOKIE);
    char cookie[256];

    log_info(SUB, "logout: user '%s': signed out, connection closed", cli_text(sess_user(s)));
    sess_end(a->sessions, id);
    s_cookie(a, cookie, sizeof cookie, S_SESSION_COOKIE, "", true);
    return s_send(c, MHD_HTTP_OK, "application/json; charset=utf-8", "{\"ok\":true}", 11, cookie);
}

static enum MHD_Result s_me(struct MHD_Connection *c, sess_t *s)
{
    struct wj b = {0};
    enum MHD_Result rc;

    wj_raw(&b, "{\"user\":");
    wj_str(&b, sess_user(s));
    wj_raw(&b, ",\"roles\":");
    s_roles_json(&b, sess_roles(s));
    wj_fmt(&b, ",\"csrf\":\"%s\"}", sess_csrf(s));
    rc = wj_failed(&b) ? MHD_NO : s_json(c, MHD_HTTP_OK, b.s);
    wj_free(&b);
    return rc;
}

/* --- results as JSON ---------------------------------------------------------------------- */

/* PostgreSQL type oids (pg_type.dat): fixed since the beginning. */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT8 = 701 };

/* One value of a result as JSON: numbers and booleans as such, NULL as null, the rest a
   string (bigint ids too: JavaScript numbers lose their last digits). */
static void s_value(struct wj *b, const PGresult *res, int i, int k)
{
    const char *v = PQgetvalue(res, i, k);

    if (PQgetisnull(res, i, k)) {
        wj_raw(b, "null");
        return;
    }
    switch (PQftype(res, k)) {
    case OID_BOOL:
        wj_raw(b, *v == 't' ? "true" : "false");
        return;
    case OID_INT2:
    case OID_INT4:
        wj_raw(b, v);
        return;
    case OID_FLOAT8:
        if (strspn(v, "0123456789+-.eE") == strlen(v) && *v) {
            wj_raw(b, v);
            return;
        }
        break;
    default:
        break;
    }
    wj_str(b, v);
}

/* {"columns": [...], "rows": [[...], ...]} members of a result (without the braces). */
static void s_table(struct wj *b, const PGresult *res)
{
    int rows = PQntuples(res), cols = PQnfields(res);

    wj_raw(b, "\"columns\":[");
    for (int k = 0; k < cols; k++) {
        if (k)
            wj_raw(b, ",");
        wj_str(b, PQfname(res, k));
    }
    wj_raw(b, "],\"rows\":[");
    for (int i = 0; i < rows; i++) {
        wj_raw(b, i ? ",[" : "[");
        for (int k = 0; k < cols; k++) {
            if (k)
                wj_raw(b, ",");
            s_value(b, res, i, k);
        }
        wj_raw(b, "]");
    }
    wj_raw(b, "]");
}

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
        rc = s_error(
            c, st && strcmp(st, "42501") == 0 ? MHD_HTTP_FORBIDDEN : MHD_HTTP_INTERNAL_SERVER_ERROR,
            m ? m : "database error");
        PQclear(res);
        return rc;
    }
    wj_raw(&b, "{");
    s_table(&b, res);
    wj_raw(&b, "}");
    PQclear(res);
    rc = wj_failed(&b) ? MHD_NO : s_json(c, MHD_HTTP_OK, b.s);
    wj_free(&b);
    return rc;
}

/* --- the board's stream ------------------------------------------------------------------- */

/* The catch-up: what anpr-console --since asks anpr.dispatch_hits, with the acknowledgement. */
static const char s_catch_up_sql[] =
    "SELECT hit_id::text, (extract(epoch FROM read_time) * 1000000)::bigint::text, camera, "
    "coalesce(read_plate, plate), plate, read_country, confidence, lane, direction, "
    "entry_id::text, list_id, coalesce(list_name, '?'), category, priority, match_kind, "
    "coalesce(entry_plate, '?'), entry_country, instruction, external_ref, detail, reading, "
    "nsubst, post_match, ack_decision, ack_reason, ack_operator, "
    "(extract(epoch FROM acked_at) * 1000000)::bigint::text "
    "FROM anpr.dispatch_hits WHERE NOT suppressed AND "
    "CASE WHEN $1::bigint > 0 THEN hit_id > $1::bigint "
    "ELSE read_time > now() - make_interval(hours => $2::integer) END "
    "ORDER BY hit_id LIMIT 2000";

struct stream {
    struct app *a;
    sess_t *s;
    char sid[SESS_TOKEN_LEN + 1];
    uint64_t seq;       /* the hub's event last sent */
    uint64_t since;     /* Last-Event-ID: catch up after this hit_id */
    uint64_t max_id;    /* the highest hit_id sent: each event's id */
    char ack_after[24]; /* the last anpr.hit_ack id sent */
    bool started;
    int64_t next_poll_us;
    struct wj out; /* text not yet sent */
    size_t off;
};

static void s_stream_free(void *cls)
{
    struct stream *st = cls;

    sess_put(st->a->sessions, &st->s);
    wj_free(&st->out);
    free(st);
}

static void s_event(struct stream *st, const char *type, uint64_t hit_id, const char *json)
{
    if (hit_id > st->max_id)
        st->max_id = hit_id;
    wj_fmt(&st->out, "event: %s\n", type);
    if (st->max_id)
        wj_fmt(&st->out, "id: %" PRIu64 "\n", st->max_id);
    wj_raw(&st->out, "data: ");
    wj_raw(&st->out, json);
    wj_raw(&st->out, "\n\n");
}

static const char *const s_match_names[] = {"?", "exact", "ocr", "candidate", "pattern"};

/* The catch-up rows as "hit" events, each marked caught_up, with its acknowledgement. */
static void s_catch_up(struct stream *st, PGconn *conn)
{
    char since[24], hours[16];
    const char *params[2] = {since, hours};
    static const char *const names[] = {
        "hit_id",       "time_us",  "camera",    "read_plate",  "matched_plate", "country",
        "confidence",   "lane",     "direction", "entry_id",    "list_id",       "list",
        "category",     "priority", "match",     "entry_plate", "entry_country", "instruction",
        "external_ref", "detail",   "reading",   "nsubst",      "post_match"};

    snprintf(since, sizeof since, "%" PRIu64, st->since);
    snprintf(hours, sizeof hours, "%d", st->a->conf->catch_up_hours);
    PGresult *res = PQexecParams(conn, s_catch_up_sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        struct wj e = {0};
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        wj_raw(&e, "{\"error\":");
        wj_str(&e, m ? m : "database error");
        wj_raw(&e, "}");
        if (!wj_failed(&e))
            s_event(st, "problem", 0, e.s);
        wj_free(&e);
        PQclear(res);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        struct wj b = {0};
        wj_raw(&b, "{");
        for (int k = 0; k < 23; k++) {
            wj_key(&b, names[k], k == 0);
            if (k == 14) {
                long m = strtol(PQgetvalue(res, i, k), NULL, 10);
                wj_str(&b, m >= 1 && m <= 4 ? s_match_names[m] : "unknown");
            } else if (k == 0 || k == 9) {
                wj_str(&b, PQgetvalue(res, i, k));
            } else if (k == 1) {
                wj_raw(&b, PQgetvalue(res, i, k));
            } else {
                s_value(&b, res, i, k);
            }
        }
        wj_raw(&b, ",\"again\":false,\"caught_up\":true");
        if (!PQgetisnull(res, i, 23)) {
            wj_raw(&b, ",\"ack\":{\"decision\":");
            s_value(&b, res, i, 23);
            wj_raw(&b, ",\"reason\":");
            s_value(&b, res, i, 24);
            wj_raw(&b, ",\"operator\":");
            s_value(&b, res, i, 25);
            wj_raw(&b, ",\"at_us\":");
            wj_raw(&b, PQgetisnull(res, i, 26) ? "null" : PQgetvalue(res, i, 26));
            wj_raw(&b, "}");
        }
        wj_raw(&b, "}");
        if (!wj_failed(&b))
            s_event(st, "hit", strtoull(PQgetvalue(res, i, 0), NULL, 10), b.s);
        wj_free(&b);
    }
    PQclear(res);
}

/* Acknowledgements made since the last poll, by anyone, as "ack" events. */
static void s_poll_acks(struct stream *st, PGconn *conn)
{
    const char *params[1] = {st->ack_after};
    PGresult *res = PQexecParams(conn,
                                 "SELECT id::text, hit_id::text, decision, reason, operator, "
                                 "(extract(epoch FROM acked_at) * 1000000)::bigint::text "
                                 "FROM anpr.hit_ack WHERE id > $1::bigint ORDER BY id LIMIT 500",
                                 1, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(res); i++) {
            struct wj b = {0};
            wj_raw(&b, "{\"hit_id\":");
            wj_str(&b, PQgetvalue(res, i, 1));
            wj_raw(&b, ",\"decision\":");
            s_value(&b, res, i, 2);
            wj_raw(&b, ",\"reason\":");
            s_value(&b, res, i, 3);
            wj_raw(&b, ",\"operator\":");
            s_value(&b, res, i, 4);
            wj_raw(&b, ",\"at_us\":");
            wj_raw(&b, PQgetvalue(res, i, 5));
            wj_raw(&b, "}");
            if (!wj_failed(&b))
                s_event(st, "ack", 0, b.s);
            wj_free(&b);
            snprintf(st->ack_after, sizeof st->ack_after, "%s", PQgetvalue(res, i, 0));
        }
    }
    PQclear(res);
}

static void s_health(struct stream *st)
{
    bool connected;
    int64_t last;
    uint64_t n;
    char json[256];

    hub_health(st->a->hub, &connected, &last, &n);
    snprintf(json, sizeof json,
             "{\"feed_connected\":%s,\"last_message_us\":%" PRId64 ",\"messages\":%" PRIu64
             ",\"now_us\":%" PRId64 "}",
             connected ? "true" : "false", last, n, util_now_us());
    s_event(st, "health", 0, json);
}

/* libmicrohttpd asks for more of the stream: waits (in this connection's thread) for events. */
static ssize_t s_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;

    (void)pos;
    for (;;) {
        if (st->out.len > st->off) {
            size_t n = st->out.len - st->off;
            if (n > max)
                n = max;
            memcpy(buf, st->out.s + st->off, n);
            st->off += n;
            if (st->off == st->out.len)
                st->off = st->out.len = 0;
            return (ssize_t)n;
        }
        if (wj_failed(&st->out) || atomic_load(&st->a->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->next_poll_us == INT64_MAX) /* "ended" is sent: the stream is over */
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (sess_ended(st->a->sessions, st->s)) {
            /* signed out (here or in another tab) or timed out: the page goes to sign-in */
            s_event(st, "ended", 0, "{}");
            st->next_poll_us = INT64_MAX;
            continue;
        }
        int64_t now = util_mono_us();
        if (!st->started) {
            PGconn *conn = sess_lock_conn(st->s);
            PGresult *res = PQexec(conn, "SELECT coalesce(max(id), 0)::text FROM anpr.hit_ack");
            snprintf(st->ack_after, sizeof st->ack_after, "%s",
                     PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                         ? PQgetvalue(res, 0, 0)
                         : "0");
            PQclear(res);
            /* the hub's position first: a HIT published during the catch-up is sent after it */
            st->seq = hub_head(st->a->hub);
            wj_raw(&st->out, "retry: 2000\n\n");
            s_catch_up(st, conn);
            sess_unlock_conn(st->s);
            s_event(st, "live", 0, "{}");
            s_health(st);
            st->started = true;
            st->next_poll_us = now + S_POLL_US;
            continue;
        }
        if (now >= st->next_poll_us) {
            /* the stream keeps its session alive: an open board is in use */
            sess_t *again = sess_get(st->a->sessions, st->sid, now / 1000000);
            sess_put(st->a->sessions, &again);
            PGconn *conn = sess_lock_conn(st->s);
            s_poll_acks(st, conn);
            sess_unlock_conn(st->s);
            s_health(st);
            st->next_poll_us = now + S_POLL_US;
            continue;
        }
        char *json = NULL;
        uint64_t hit_id = 0;
        int wait_ms = (int)((st->next_poll_us - now) / 1000) + 1;
        int r = hub_next(st->a->hub, st->seq, wait_ms, &json, &hit_id);
        if (r == 1) {
            st->seq++;
            s_event(st, "hit", hit_id, json);
            free(json);
        } else if (r < 0) {
            /* behind the ring, or shutting down: the browser reconnects and catches up */
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
    }
}

static enum MHD_Result s_events(struct app *a, struct MHD_Connection *c, sess_t *s)
{
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, S_SESSION_COOKIE);
    long long v = 0;
    struct stream *st;

    if (!(sess_roles(s) & SESS_DISPATCH))
        return s_error(c, MHD_HTTP_FORBIDDEN, "the board is for dispatch (anpr_dispatch)");
    if (!(st = calloc(1, sizeof *st)))
        return MHD_NO;
    /* Last-Event-ID (the browser's reconnect), else ?since= (a page signed in again) */
    if ((last && util_parse_long(last, 0, INT64_MAX, &v) == 0) ||
        (since && util_parse_long(since, 0, INT64_MAX, &v) == 0))
        st->since = (uint64_t)v;
    st->a = a;
    snprintf(st->sid, sizeof st->sid, "%s", sid ? sid : "");
    /* the stream's own reference (the caller drops the request's when this returns) */
    if (!(st->s = sess_peek(a->sessions, st->sid, util_mono_us() / 1000000))) {
        free(st);
        return s_error(c, MHD_HTTP_UNAUTHORIZED, "not signed in (or the session ended)");
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               s_stream_read, st, s_stream_free);
    if (!r) {
        s_stream_free(st);
        return MHD_NO;
    }
    s_headers(r, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass events at once */
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* --- acknowledging ------------------------------------------------------------------------ */

static enum MHD_Result s_ack(struct MHD_Connection *c, sess_t *s, struct req *rq)
{
    char ids[4096], decision[32], reason[64], override[8];
    struct wj b = {0};
    bool all_ok = true;
    enum MHD_Result rc;

    if (!(sess_roles(s) & SESS_DISPATCH))
        return s_error(c, MHD_HTTP_FORBIDDEN, "acknowledging is for dispatch (anpr_dispatch)");
    if (!s_form(rq->body.s, "hit_ids", ids, sizeof ids) ||
        !s_form(rq->body.s, "decision", decision, sizeof decision))
        return s_error(c, MHD_HTTP_BAD_REQUEST, "hit_ids and decision are required");
    if (!s_form(rq->body.s, "reason", reason, sizeof reason))
        reason[0] = '\0';
    if (!s_form(rq->body.s, "override", override, sizeof override))
        override[0] = '\0';
    PGconn *conn = sess_lock_conn(s);
    wj_raw(&b, "{\"results\":[");
    int n = 0;
    for (char *save = NULL, *id = strtok_r(ids, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        long long v;
        const char *params[3] = {id, decision, reason};
        const char *err = NULL;
        char msg[512] = "";
        PGresult *res = NULL;

        if (n++ >= 64)
            break;
        if (util_parse_long(id, 1, INT64_MAX, &v) != 0) {
            err = "not a HIT id";
        } else if (strcmp(override, "1") != 0) {
            /* a colleague's decision is not overridden unseen */
            res = PQexecParams(conn,
                               "SELECT ack_decision, ack_operator FROM anpr.dispatch_hits "
                               "WHERE hit_id = $1::bigint AND ack_decision IS NOT NULL",
                               1, NULL, params, NULL, NULL, 0);
            if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
                strcmp(PQgetvalue(res, 0, 1), sess_user(s)) != 0) {
                snprintf(msg, sizeof msg, "already %s by %s", PQgetvalue(res, 0, 0),
                         PQgetvalue(res, 0, 1));
                err = msg;
            }
            PQclear(res);
            res = NULL;
        }
        wj_raw(&b, n > 1 ? ",{\"hit_id\":" : "{\"hit_id\":");
        wj_str(&b, id);
        if (!err) {
            res = PQexecParams(conn, "SELECT anpr.acknowledge_hit($1::bigint, $2, $3)::text", 3,
                               NULL, params, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                snprintf(msg, sizeof msg, "%s", m ? m : PQerrorMessage(conn));
                err = msg;
            }
        }
        if (err) {
            all_ok = false;
            wj_raw(&b, ",\"error\":");
            wj_str(&b, err);
        } else {
            wj_raw(&b, ",\"ack_id\":");
            wj_str(&b, PQgetvalue(res, 0, 0));
            log_info(SUB, "ack: user '%s': HIT %s %s%s%s", cli_text(sess_user(s)), id,
                     cli_text(decision), *reason ? " reason " : "", cli_text(reason));
        }
        PQclear(res);
        wj_raw(&b, "}");
    }
    sess_unlock_conn(s);
    wj_raw(&b, "]}");
    rc = wj_failed(&b) ? MHD_NO
                       : s_json(c, all_ok ? MHD_HTTP_OK : MHD_HTTP_UNPROCESSABLE_CONTENT, b.s);
    wj_free(&b);
    return rc;
}

/* --- the desk ----------------------------------------------------------------------------- */

static bool s_kind(const char *k, enum hist_kind *out)
{
    if (strcmp(k, "reads") == 0)
        *out = HIST_READS;
    else if (strcmp(k, "hits") == 0)
        *out = HIST_HITS;
    else if (strcmp(k, "cotravel") == 0)
        *out = HIST_COTRAVEL;
    else
        return false;
    return true;
}

/* An outcome that is not HIST_OK as its answer. */
static enum MHD_Result s_hist_fail(struct MHD_Connection *c, const struct hist_outcome *h)
{
    struct wj b = {0};
    enum MHD_Result rc;
    unsigned status = h->status == HIST_REFUSED  ? MHD_HTTP_UNPROCESSABLE_CONTENT
                      : h->status == HIST_DENIED ? MHD_HTTP_FORBIDDEN
                                                 : MHD_HTTP_INTERNAL_SERVER_ERROR;

    wj_raw(&b, "{\"granted\":false,\"refused\":");
    wj_raw(&b, h->status == HIST_REFUSED ? "true" : "false");
    wj_raw(&b, ",\"rule\":");
    wj_str(&b, h->status == HIST_REFUSED ? h->rule : NULL);
    wj_raw(&b, ",\"error\":");
    wj_str(&b, h->message);
    wj_raw(&b, "}");
    rc = wj_failed(&b) ? MHD_NO : s_json(c, status, b.s);
    wj_free(&b);
    return rc;
}

static enum MHD_Result s_search(struct MHD_Connection *c, sess_t *s, struct req *rq)
{
    char kind[16], reason[512], case_ref[128], decision[128], plate[64], match[16], cams[2048],
        list[128], from[64], to[64], limit[16], max_subst[8], window[16], mincam[16];
    const char *cam[64];
    struct hist_query q = {0};
    struct hist_outcome h;
    PGresult *rows = NULL;
    const char *body = rq->body.s;

    if (!s_form(body, "kind", kind, sizeof kind) || !s_kind(kind, &q.kind))
        return s_error(c, MHD_HTTP_BAD_REQUEST, "kind: reads, hits or cotravel");
#define S_FIELD(name, var) (s_form(body, name, var, sizeof var) && *var ? var : NULL)
    q.reason = S_FIELD("reason", reason);
    q.case_ref = S_FIELD("case", case_ref);
    q.decision = S_FIELD("decision", decision);
    q.plate = S_FIELD("plate", plate);
    q.match = S_FIELD("match", match);
    q.list = S_FIELD("list", list);
    q.from = S_FIELD("from", from);
    q.to = S_FIELD("to", to);
    q.limit = S_FIELD("limit", limit);
    q.max_subst = S_FIELD("max_subst", max_subst);
    q.window = S_FIELD("window", window);
    q.min_cameras = S_FIELD("min_cameras", mincam);
#undef S_FIELD
    if (!q.limit)
        q.limit = "1000";
    if (s_form(body, "cameras", cams, sizeof cams))
        for (char *save = NULL, *t = strtok_r(cams, ", ", &save); t && q.ncameras < 64;
             t = strtok_r(NULL, ", ", &save))
            cam[q.ncameras++] = t;
    q.cameras = cam;

    PGconn *conn = sess_lock_conn(s);
    hist_search(conn, &q, &rows, &h);
    sess_unlock_conn(s);
    log_info(SUB, "search: user '%s': %s %s%s%s", cli_text(sess_user(s)), kind,
             h.status == HIST_OK        ? "granted, ticket "
             : h.status == HIST_REFUSED ? "refused, rule "
             : h.status == HIST_DENIED  ? "denied by the database"
                                        : "failed",
             h.status == HIST_OK        ? h.ticket
             : h.status == HIST_REFUSED ? cli_text(h.rule)
                                        : "",
             "");
    if (h.status != HIST_OK)
        return s_hist_fail(c, &h);
    struct wj b = {0};
    wj_raw(&b, "{\"granted\":true,\"ticket\":");
    wj_str(&b, h.ticket);
    wj_raw(&b, ",\"kind\":");
    wj_str(&b, kind);
    wj_fmt(&b, ",\"more\":%lld,\"note\":", h.more);
    wj_str(&b, h.message);
    wj_raw(&b, ",");
    s_table(&b, rows);
    wj_raw(&b, "}");
    PQclear(rows);
    enum MHD_Result rc = wj_failed(&b) ? MHD_NO : s_json(c, MHD_HTTP_OK, b.s);
    wj_free(&b);
    return rc;
}

/* The rows of a granted search again, as CSV (cells a spreadsheet would run neutralised). */
static enum MHD_Result s_search_csv(struct MHD_Connection *c, sess_t *s)
{
    const char *kind = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kind");
    const char *ticket = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ticket");
    enum hist_kind k;
    long long t;
    struct hist_outcome h;

    if (!kind || !s_kind(kind, &k) || !ticket || util_parse_long(ticket, 1, INT64_MAX, &t) != 0)
        return s_error(c, MHD_HTTP_BAD_REQUEST, "kind and ticket are required");
    PGconn *conn = sess_lock_conn(s);
    PGresult *res = hist_fetch(conn, k, ticket, &h);
    sess_unlock_conn(s);
    if (!res)
        return s_hist_fail(c, &h);
    struct wj b = {0};
    int rows = PQntuples(res), cols = PQnfields(res);
    for (int j = 0; j < cols; j++)
        wj_csv(&b, PQfname(res, j), j == cols - 1);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            wj_csv(&b, PQgetisnull(res, i, j) ? "" : PQgetvalue(res, i, j), j == cols - 1);
    PQclear(res);
    if (wj_failed(&b)) {
        wj_free(&b);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.s, MHD_RESPMEM_MUST_COPY);
    wj_free(&b);
    if (!r)
        return MHD_NO;
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"anpr-%s-%s.csv\"", kind, ticket);
    s_headers(r, "text/csv; charset=utf-8");
    MHD_add_response_header(r, "Content-Disposition", disp);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* --- routing ------------------------------------------------------------------------------ */

static enum MHD_Result s_page(struct app *a, struct MHD_Connection *c, const char *url)
{
    sess_t *s;
    enum MHD_Result rc;

    if (strcmp(url, "/login") == 0)
        return s_static(a, c, "login.html");
    s = s_session(a, c);
    if (!s)
        return s_redirect(c, "/login");
    if (strcmp(url, "/") == 0)
        rc = s_redirect(c, sess_roles(s) & SESS_DISPATCH ? "/board" : "/desk");
    else if (strcmp(url, "/board") == 0)
        rc = s_static(a, c, "board.html");
    else
        rc = s_static(a, c, "desk.html");
    sess_put(a->sessions, &s);
    return rc;
}

static enum MHD_Result s_api_get(struct app *a, struct MHD_Connection *c, const char *url,
                                 sess_t *s)
{
    if (strcmp(url, "/api/me") == 0)
        return s_me(c, s);
    if (strcmp(url, "/api/events") == 0)
        return s_events(a, c, s);
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
        return s_search_csv(c, s);
    return s_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    struct app *a = cls;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

    (void)version;
    if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET, HEAD and POST");
    if (post) {
        struct req *rq = *con_cls;
        if (!rq) {
            if (!(rq = calloc(1, sizeof *rq)))
                return MHD_NO;
            *con_cls = rq;
            return MHD_YES;
        }
        if (*upload_size) {
            if (rq->body.len + *upload_size > S_BODY_MAX)
                rq->too_big = true;
            else
                wj_rawn(&rq->body, upload, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
        if (rq->too_big)
            return s_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request too large");
        if (!rq->body.s)
            wj_raw(&rq->body, "");
        if (wj_failed(&rq->body))
            return MHD_NO;
        if (strcmp(url, "/api/login") == 0)
            return s_login(a, c, rq);
        sess_t *s = s_session(a, c);
        if (!s)
            return s_error(c, MHD_HTTP_UNAUTHORIZED, "not signed in (or the session ended)");
        enum MHD_Result rc;
        const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        char ftok[SESS_TOKEN_LEN + 1];
        if (!tok && s_form(rq->body.s, "csrf", ftok, sizeof ftok))
            tok = ftok;
        if (!sess_csrf_ok(s, tok))
            rc = s_error(c, MHD_HTTP_FORBIDDEN, "missing or wrong CSRF token");
        else if (strcmp(url, "/api/logout") == 0)
            rc = s_logout(a, c, s);
        else if (strcmp(url, "/api/ack") == 0)
            rc = s_ack(c, s, rq);
        else if (strcmp(url, "/api/search") == 0)
            rc = s_search(c, s, rq);
        else
            rc = s_error(c, MHD_HTTP_NOT_FOUND, "not found");
        sess_put(a->sessions, &s);
        return rc;
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/login") == 0 || strcmp(url, "/board") == 0 ||
        strcmp(url, "/desk") == 0)
        return s_page(a, c, url);
    if (strncmp(url, "/static/", 8) == 0)
        return s_static(a, c, url + 8);
    if (strcmp(url, "/api/login-token") == 0)
        return s_login_token(a, c);
    if (strncmp(url, "/api/", 5) == 0) {
        sess_t *s = s_session(a, c);
        if (!s)
            return s_error(c, MHD_HTTP_UNAUTHORIZED, "not signed in (or the session ended)");
        enum MHD_Result rc = s_api_get(a, c, url, s);
        sess_put(a->sessions, &s);
        return rc;
    }
    return s_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static void s_done(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;

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

static int s_start_http(struct app *a, char *err, size_t errlen)
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
        log_warn(SUB,
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
    a->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    /* A thread per connection: a board's stream waits for the feed in its own thread. */
    a->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
            (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        (uint16_t)a->port, NULL, NULL, s_handle, a, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, s_done, a, MHD_OPTION_CONNECTION_LIMIT, (unsigned)S_CONNS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)S_CONN_TIMEOUT, MHD_OPTION_END);
    if (!a->mhd) {
        snprintf(err, errlen, "the HTTP server (libmicrohttpd) did not start");
        close(fd);
        return -1;
    }
    return 0;
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--config FILE] [--check-config] [--version] [--help]\n"
               "\n"
               "The dispatch board and the investigator desk in the browser: serves the pages of\n"
               "web.static_dir and a small JSON API, signs people in with their own PostgreSQL\n"
               "login, and shows anprd's dispatch feed live on every dispatcher's board.\n"
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
    struct app a = {0};
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
            printf(PROG " %s\n", ANPR_VERSION);
            return 0;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            cli_getopt_fail(PROG, c, argc, argv);
            return 1;
        }
    }
    if (cli_no_operands(PROG, argc, argv) != 0)
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
    a.hub = hub_new();
    a.sessions = sess_table_new(a.conf->idle_timeout_s, (size_t)a.conf->max_sessions, s_close_conn);
    a.throttle = thr_new(a.conf->max_failures, a.conf->window_s, S_THR_KEYS);
    zctx = zmq_ctx_new();
    if (!a.hub || !a.sessions || !a.throttle || !zctx) {
        log_error(SUB, "out of memory");
        goto out;
    }
    feed = feed_new(zctx, a.conf->endpoint, a.conf->key_file, a.conf->server_key, a.hub, err,
                    sizeof err);
    if (!feed) {
        log_error(SUB, "%s", err);
        goto out;
    }
    if (s_start_http(&a, err, sizeof err) != 0) {
        log_error(SUB, "%s", err);
        goto out;
    }
    log_info(SUB, "listening on %s (port %d), pages from %s, dispatch feed %s%s", a.conf->listen,
             a.port, a.conf->static_dir, a.conf->endpoint,
             *a.conf->key_file ? " (CURVE)" : " (plain text)");
    rc = 0;
    int64_t next_sweep = util_mono_us() + 1000000;
    while (!cli_signal_take()) {
        zmq_pollitem_t items[2];
        feed_poll_items(feed, items);
        if (zmq_poll(items, 2, 500) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            log_error(SUB, "poll: %s", zmq_strerror(zmq_errno()));
            rc = 2;
            break;
        }
        feed_handle(feed, items);
        int64_t now = util_mono_us();
        if (now >= next_sweep) {
            size_t n = sess_expire(a.sessions, now / 1000000);
            if (n)
                log_info(SUB, "%zu idle session%s ended, connection%s closed", n, n == 1 ? "" : "s",
                         n == 1 ? "" : "s");
            next_sweep = now + 1000000;
        }
    }
    log_info(SUB, "stopping");
out:
    atomic_store(&a.stopping, true);
    if (a.hub)
        hub_close(a.hub);
    if (a.mhd)
        MHD_stop_daemon(a.mhd);
    feed_destroy(&feed);
    if (zctx)
        zmq_ctx_term(zctx);
    sess_table_destroy(&a.sessions);
    thr_destroy(&a.throttle);
    hub_destroy(&a.hub);
    webconf_destroy(&a.conf);
    return rc;
}
