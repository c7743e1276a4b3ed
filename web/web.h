/*
 * web: what anpr-web's parts share: the program's state (the configuration, the sessions, the
 * login throttle, the feed's hub) and a request's state between the calls libmicrohttpd makes
 * for it. Set up by main (anpr-web.c) before the HTTP server starts; the handlers in login.c,
 * board.c and desk.c read it from every connection thread (each part it points to locks
 * itself).
 */
#ifndef ANPR_WEB_H
#define ANPR_WEB_H

#include <stdatomic.h>
#include <stdbool.h>

#include "hub.h"
#include "sess.h"
#include "thr.h"
#include "webconf.h"
#include "wj.h"

#define WEB_PROG           "anpr-web"
#define WEB_SUB            "web" /* the log lines' subsystem */
#define WEB_SESSION_COOKIE "anpr_session"
#define WEB_PRE_COOKIE     "anpr_pre"

struct web {
    struct webconf *conf;   /* the configuration (never changes while running) */
    sess_table_t *sessions; /* the people signed in */
    thr_t *throttle;        /* failed logins per user name and address */
    hub_t *hub;             /* the dispatch feed's HITs and health, for the boards */
    atomic_bool stopping;   /* set at shutdown: open streams end */
};

/* A request's state between the calls libmicrohttpd makes for it. */
struct web_req {
    struct wj body; /* a POST's body (wiped when freed: it may hold a password) */
    bool too_big;   /* larger than the limit: refused once it is read */
};

#endif
