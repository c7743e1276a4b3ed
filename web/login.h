/*
 * login: people sign in to anpr-web with their own PostgreSQL login and password (docs/WEB.md).
 * The database checks the password; a login it let in without one (trust, peer) is refused;
 * the connection becomes the session (sess.h), so the database's roles and audit apply to the
 * person as they are. Failed logins are throttled per user name and address (thr.h).
 */
#ifndef ANPR_LOGIN_H
#define ANPR_LOGIN_H

#include <microhttpd.h>
#include <stdbool.h>

#include "web.h"

/* The session of the request's cookie, referenced (sess_put it), or NULL. */
sess_t *login_session(struct web *a, struct MHD_Connection *c);
/* After a request of s: when its database connection is lost (the server restarted, the
   backend was ended), the session ends (the password is not kept to connect again) and the
   page is sent to sign in. Whether it ended. */
bool login_check_conn(struct web *a, sess_t *s);
/* Closes a session's connection (sess_table_new's close function). */
void login_close_conn(void *conn);
/* GET /api/login-token: a pre-login CSRF token, double-submitted (cookie and header). */
enum MHD_Result login_token(struct web *a, struct MHD_Connection *c);
/* POST /api/login (user, password). */
enum MHD_Result login_post(struct web *a, struct MHD_Connection *c, struct web_req *rq);
/* POST /api/logout: ends the session s, closing its connection once unreferenced. */
enum MHD_Result login_logout(struct web *a, struct MHD_Connection *c, sess_t *s);
/* GET /api/me: who is signed in, their roles and CSRF token. */
enum MHD_Result login_me(struct MHD_Connection *c, sess_t *s);

#endif
