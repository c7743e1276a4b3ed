/*
 * login: signing in with the person's own PostgreSQL login, signing out (login.h). The log
 * lines name the user and the address, and PostgreSQL's reason for a refusal; never the
 * password, which is wiped once the connection is made.
 */
#include "login.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "log.h"
#include "util.h"

/* The session of the request's cookie, referenced (sess_put it), or NULL. */
sess_t *login_session(struct web *a, struct MHD_Connection *c)
{
    const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, WEB_SESSION_COOKIE);

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

bool login_check_conn(struct web *a, sess_t *s)
{
    PGconn *conn = sess_lock_conn(s);
    bool lost = PQstatus(conn) == CONNECTION_BAD;

    sess_unlock_conn(s);
    if (lost && !sess_ended(a->sessions, s)) {
        log_warn(WEB_SUB, "user '%s': the database connection was lost; session ended",
                 cli_text(sess_user(s)));
        sess_end_this(a->sessions, s);
    }
    return lost;
}

void login_close_conn(void *conn)
{
    PQfinish(conn);
}

/* A new pre-login token: the login form's CSRF token, double-submitted (cookie and header). */
enum MHD_Result login_token(struct web *a, struct MHD_Connection *c)
{
    char tok[SESS_TOKEN_LEN + 1], cookie[256], json[128];

    if (sess_random_hex(tok, 32) != 0)
        return http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no randomness");
    http_cookie(a->conf->proxy, cookie, sizeof cookie, WEB_PRE_COOKIE, tok, false);
    snprintf(json, sizeof json, "{\"token\":\"%s\"}", tok);
    return http_send(c, MHD_HTTP_OK, "application/json; charset=utf-8", json, strlen(json), cookie);
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

enum MHD_Result login_post(struct web *a, struct MHD_Connection *c, struct web_req *rq)
{
    char user[SESS_USER_MAX + 1], password[1024], addr[64], akey[80], ukey[96];
    char id[SESS_TOKEN_LEN + 1], csrf[SESS_TOKEN_LEN + 1], why[512], cookie[256];
    const char *pre = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, WEB_PRE_COOKIE);
    const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    int64_t now = util_mono_us() / 1000000;
    int retry = 0;
    PGconn *conn = NULL;
    enum MHD_Result rc;

    if (!pre || !tok || strlen(pre) != SESS_TOKEN_LEN || !sess_token_eq(pre, tok))
        return http_error(c, MHD_HTTP_FORBIDDEN, "missing or wrong CSRF token: reload the page");
    http_client(a->conf->proxy, c, addr, sizeof addr);
    if (!http_form(rq->body.s, "user", user, sizeof user) || !*user)
        return http_error(c, MHD_HTTP_BAD_REQUEST, "enter your database user name");
    if (!http_form(rq->body.s, "password", password, sizeof password))
        password[0] = '\0';
    snprintf(akey, sizeof akey, "a:%s", addr);
    snprintf(ukey, sizeof ukey, "u:%s", user);
    if (!thr_allowed(a->throttle, akey, now, &retry) ||
        !thr_allowed(a->throttle, ukey, now, &retry)) {
        OPENSSL_cleanse(password, sizeof password);
        log_warn(WEB_SUB, "login: user '%s' from %s: refused: too many failed logins, %d s to wait",
                 cli_text(user), addr, retry);
        snprintf(why, sizeof why, "too many failed logins: try again in %d s", retry);
        return http_error(c, MHD_HTTP_TOO_MANY_REQUESTS, why);
    }

    const char *keys[] = {"dbname",          "user", "password", "application_name",
                          "connect_timeout", NULL};
    const char *vals[] = {a->conf->conninfo, user, password, WEB_PROG, "10", NULL};
    /* dbname is expanded: the configured conninfo gives host, port, database, sslmode. */
    conn = PQconnectdbParams(keys, vals, 1);
    OPENSSL_cleanse(password, sizeof password);
    OPENSSL_cleanse(rq->body.s, rq->body.len);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        s_pg_reason(conn, why, sizeof why);
        PQfinish(conn);
        thr_fail(a->throttle, akey, now);
        thr_fail(a->throttle, ukey, now);
        log_warn(WEB_SUB, "login: user '%s' from %s: refused by the database: %s", cli_text(user),
                 addr, why);
        if (strstr(why, "password authentication failed") || strstr(why, "does not exist") ||
            strstr(why, "no password supplied"))
            return http_error(c, MHD_HTTP_UNAUTHORIZED, "wrong user name or password");
        char answer[600];
        snprintf(answer, sizeof answer, "the database refused the login: %.500s", why);
        return http_error(c, MHD_HTTP_UNAUTHORIZED, answer);
    }
    /* Trust or peer authentication would let anyone be anyone through this page. */
    if (!PQconnectionUsedPassword(conn)) {
        PQfinish(conn);
        log_error(WEB_SUB,
                  "login: user '%s' from %s: refused: the database let this login in without "
                  "checking a password (pg_hba.conf trust or peer); anpr-web needs scram-sha-256",
                  cli_text(user), addr);
        return http_error(c, MHD_HTTP_FORBIDDEN,
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
        log_warn(WEB_SUB,
                 "login: user '%s' from %s: refused: in none of anpr_dispatch, "
                 "anpr_investigator, anpr_admin",
                 cli_text(user), addr);
        return http_error(c, MHD_HTTP_FORBIDDEN,
                          "this login is not a dispatcher, an investigator or an admin");
    }
    bool full;
    sess_t *s = sess_create(a->sessions, user, roles, conn, now, id, csrf, &full);
    if (!s) {
        log_warn(WEB_SUB, "login: user '%s' from %s: refused: %s", cli_text(user), addr,
                 full ? "too many sessions" : "out of memory");
        return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                          full ? "too many people are signed in" : "out of memory");
    }
    thr_clear(a->throttle, ukey);
    thr_clear(a->throttle, akey);
    log_info(WEB_SUB, "login: user '%s' from %s: signed in (%s%s%s)", cli_text(user), addr,
             roles & SESS_DISPATCH ? "dispatch " : "",
             roles & SESS_INVESTIGATOR ? "investigator " : "", roles & SESS_ADMIN ? "admin" : "");
    struct wj b = {0};
    wj_raw(&b, "{\"user\":");
    wj_str(&b, user);
    wj_raw(&b, ",\"roles\":");
    s_roles_json(&b, roles);
    wj_fmt(&b, ",\"csrf\":\"%s\",\"home\":\"%s\"}", csrf,
           roles & SESS_DISPATCH                                ? "/board"
           : !(roles & SESS_INVESTIGATOR) && roles & SESS_ADMIN ? "/admin"
                                                                : "/desk");
    http_cookie(a->conf->proxy, cookie, sizeof cookie, WEB_SESSION_COOKIE, id, false);
    rc = wj_failed(&b)
             ? MHD_NO
             : http_send(c, MHD_HTTP_OK, "application/json; charset=utf-8", b.s, b.len, cookie);
    wj_free(&b);
    OPENSSL_cleanse(id, sizeof id);
    sess_put(a->sessions, &s);
    return rc;
}

enum MHD_Result login_logout(struct web *a, struct MHD_Connection *c, sess_t *s)
{
    const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, WEB_SESSION_COOKIE);
    char cookie[256];

    log_info(WEB_SUB, "logout: user '%s': signed out, connection closed", cli_text(sess_user(s)));
    sess_end(a->sessions, id);
    http_cookie(a->conf->proxy, cookie, sizeof cookie, WEB_SESSION_COOKIE, "", true);
    return http_send(c, MHD_HTTP_OK, "application/json; charset=utf-8", "{\"ok\":true}", 11,
                     cookie);
}

enum MHD_Result login_me(struct MHD_Connection *c, sess_t *s)
{
    struct wj b = {0};
    enum MHD_Result rc;

    wj_raw(&b, "{\"user\":");
    wj_str(&b, sess_user(s));
    wj_raw(&b, ",\"roles\":");
    s_roles_json(&b, sess_roles(s));
    wj_fmt(&b, ",\"csrf\":\"%s\"}", sess_csrf(s));
    rc = wj_failed(&b) ? MHD_NO : http_json(c, MHD_HTTP_OK, b.s);
    wj_free(&b);
    return rc;
}
