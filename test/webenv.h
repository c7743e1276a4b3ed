/*
 * webenv: what the anpr-web tests share: a database with password logins (members of
 * anpr_password sign in with SCRAM, tools/anpr-pg), cameras with positions and lists, anprd,
 * anpr-web's configuration for them, anpr-web started and stopped, and the HTTP a browser sends
 * (requests with a session cookie and CSRF token, the sign-in, the board's event stream).
 *
 * webenv.c never CHECKs: check.h counts per source file, so a check made there would be missing
 * from the test's count. Its helpers return what they found and the test checks it; they die
 * (h_fatal) only where no test could go on (anpr-web does not answer). The one helper that
 * checks, webenv_login_check, is inline here so that its checks count in the test's file.
 */
#ifndef ANPR_WEBENV_H
#define ANPR_WEBENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "check.h"
#include "harness.h"
#include "httpc.h"

#define WEB_OP      "webt_op" /* a dispatcher */
#define WEB_OP_PW   "op-Pass-4711"
#define WEB_INV     "webt_inv" /* an investigator */
#define WEB_INV_PW  "inv-Pass-0815"
#define WEB_ADM     "webt_adm" /* a watchlist admin */
#define WEB_ADM_PW  "adm-Pass-2718"
#define WEB_TRUSTED "webt_trusted" /* a dispatcher the test server lets in without a password */
#define WEB_CAM     "BE-SMEERMAAS-N2"
#define WEB_PLATE   "1-ABC-123" /* on the P1 list "Stolen vehicles" */

/* The database, the logins, cameras and lists (dies on failure). */
void webenv_db(struct h_db *db, const char *dbname);
/* webenv_db, and anprd started with dispatch (lines inside its dispatch section, or NULL) (dies
   on failure). */
void webenv_setup(struct h_db *db, struct h_daemon *d, const char *dbname, const char *dispatch);
/* anpr-web's configuration in d's folder (listen on 127.0.0.1:port, following d's general and
   covert feeds, 3 failed logins a minute); its path, static. */
const char *webenv_config(const struct h_db *db, const struct h_daemon *d, int port);
/* anpr-web's configuration in the folder dir: listen on 127.0.0.1:port, the static files, db,
   then sections as given (its "dispatch:" and any other, YAML lines ending in newlines), log at
   info; its path, static (the same buffer as webenv_config's). */
const char *webenv_config_sections(const struct h_db *db, const char *dir, int port,
                                   const char *sections);

/* Start anpr-web (ANPR_WEB) with conf, its output into log; its pid once GET /login on port
   answers 200 (dies after 20 s, showing the log). */
pid_t webenv_start(int port, const char *conf, const char *log);
/* SIGTERM to anpr-web; its exit status as h_wait gives it (20 s at most). */
int webenv_stop(pid_t web);
/* anpr-web's log on stderr (for a test that failed). */
void webenv_print_log(const char *log);

/* One request on a fresh connection to 127.0.0.1:port, with a Cookie header (cookies, or NULL
   for none), an X-CSRF-Token header (csrf, or NULL) and a form body (or NULL); the reply into
   r (the caller frees it with httpc_reply_free). The HTTP status; dies with no answer. */
int webenv_req(int port, const char *method, const char *path, const char *cookies,
               const char *csrf, const char *body, struct httpc_reply *r);
/* The value of cookie name in r's Set-Cookie headers, into out; false if there is none. */
bool webenv_cookie(const struct httpc_reply *r, const char *name, char *out, size_t cap);
/* The value of JSON member name (a flat string without escapes, or a number) at or after json,
   into out; false if there is none. */
bool webenv_member(const char *json, const char *name, char *out, size_t cap);

/* A sign-in: what the login token and the login gave. */
struct webenv_login {
    char pre[80];      /* the pre-login cookie's value (also the form's CSRF token); "" if none */
    char session[80];  /* the anpr_session cookie's value; "" if none */
    char cookies[128]; /* "anpr_session=<session>", for webenv_req; "" if no session */
    char csrf[80];     /* the session's CSRF token from the reply's JSON; "" if none */
    bool http_only;    /* the reply's Set-Cookie had HttpOnly */
    bool same_site;    /* ... and SameSite=Strict */
};

/* Sign in as user with pw on port: GET /api/login-token, then POST /api/login with its cookie
   and token. The HTTP status of the login, or -1 when no pre-login cookie came (no login
   tried); l is filled with what came (on 200: the session). The reply's body into msg (cap
   bytes) unless msg is NULL. */
int webenv_login(int port, const char *user, const char *pw, struct webenv_login *l, char *msg,
                 size_t cap);

/* webenv_login, dying when no pre-login cookie came; signed in (200), checks that the session
   cookie and the CSRF token came, and with cookie_flags that the cookie is HttpOnly and
   SameSite=Strict. The HTTP status. */
static inline int webenv_login_check(int port, const char *user, const char *pw,
                                     struct webenv_login *l, char *msg, size_t cap,
                                     bool cookie_flags)
{
    int st = webenv_login(port, user, pw, l, msg, cap);

    if (st < 0)
        h_fatal("%s: no pre-login cookie", user);
    if (st == 200) {
        CHECK(l->session[0] != '\0');
        if (cookie_flags) {
            CHECK(l->http_only);
            CHECK(l->same_site);
        }
        CHECK(l->csrf[0] != '\0');
    }
    return st;
}

/* The board's Server-Sent Events stream (/api/events) read as it comes. Large: keep it static. */
struct webenv_stream {
    int fd;            /* the connection webenv_stream_open made; the caller closes it */
    char buf[4 << 20]; /* all that arrived, NUL-terminated */
    size_t len;        /* bytes in buf */
    size_t mark;       /* webenv_stream_until looks from here on */
};

/* Connect to 127.0.0.1:port (dies if it cannot) and ask for /api/events with cookies and extra
   header lines ("" for none, else each ending in CRLF); len and mark start at 0. 0, or -1 when
   the request could not be written (errno; webenv_stream_until then ends with 0 or -1). */
int webenv_stream_open(struct webenv_stream *st, int port, const char *cookies, const char *extra);
/* Read until needle is in the stream after the mark (1), the server closes (0), the buffer is
   full or ms pass (-1). */
int webenv_stream_until(struct webenv_stream *st, const char *needle, int ms);

#endif
