/*
 * webconf: anpr-web's configuration file (YAML, libyaml), documented in anpr-web(8) and
 * config/anpr-web.yaml. Read as anprd reads its own (daemon/conf.h): parsed into a fresh struct,
 * every value checked, every mistake reported, each as "file:line:column: key: message" (line
 * and column count from 1), and NULL returned when there was any. The module never logs.
 *
 * The file has sections (web, database, dispatch, board, login, log) of scalar keys; the
 * endpoints of the dispatch feed may be one or a list (several anprd instances).
 * Ownership: webconf_load returns a struct the caller frees with webconf_destroy; the error
 * text (*errors) is the caller's to free.
 */
#ifndef ANPR_WEBCONF_H
#define ANPR_WEBCONF_H

#include <stdbool.h>

#include "log.h"

#define WEBCONF_ENDPOINTS_MAX 8 /* anprd instances followed at most */

struct webconf {
    char *path; /* the file it was read from */

    char *listen;       /* "address:port" the HTTP server binds (an IP address; IPv6 in []) */
    char *static_dir;   /* the pages (web/static in the tree; installed under the data dir) */
    bool proxy;         /* behind a TLS reverse proxy: cookies Secure, X-Real-IP of a loopback peer
                           trusted as the client's address */
    int idle_timeout_s; /* a session unused this long is ended and its connection closed */
    int max_sessions;   /* sessions (each a PostgreSQL connection) at most */

    char *conninfo; /* libpq parameters without user or password: each person logs in as
                       themselves (host, port, dbname, sslmode, ...) */

    char *endpoint; /* anprd's dispatch feed, e.g. tcp://127.0.0.1:5556 (the first of
                       endpoints) */
    char *endpoints[WEBCONF_ENDPOINTS_MAX]; /* dispatch.endpoint: each anprd instance's feed */
    size_t nendpoints;                      /* 1.. */
    char *covert[WEBCONF_ENDPOINTS_MAX];    /* dispatch.covert_endpoint: their covert feeds */
    size_t ncovert;                         /* 0: covert HITs are not shown */
    char *key_file;        /* our CURVE secret key (anpr-keygen); "" = plain text feed */
    char *server_key;      /* anprd's CURVE public key (Z85 or a file); "" with key_file "" */
    char *covert_key_file; /* the key on the covert feed; "" = key_file */

    int catch_up_hours; /* a board opened fresh shows the HITs of this many hours */

    int max_failures; /* failed logins of one user name or one address within window_s ... */
    int window_s;     /* ... after which further attempts are refused until the window passes */

    enum log_level log_level;
};

/* The file at path, checked. NULL with *errors (one line per mistake) when anything is wrong. */
struct webconf *webconf_load(const char *path, char **errors);
/* The same from text in memory; name is what errors call the file. */
struct webconf *webconf_parse(const char *name, const char *text, size_t len, char **errors);
void webconf_destroy(struct webconf **self_p);

#endif
