/*
 * sess: the table of signed-in people. A session is one person's own PostgreSQL connection
 * (their login, so the database's roles and audit apply to them as they are), a random id the
 * browser holds in an HttpOnly cookie, and a random CSRF token every POST must carry. Ids and
 * tokens are 32 bytes from OpenSSL's RAND_bytes, in hex; they are compared in constant time.
 *
 * Threads: the HTTP server's connection threads and the main loop share the table; every call
 * locks it. A session handed out by sess_get is referenced: it stays valid until sess_put, even
 * if it is ended meanwhile (logout, idle timeout); its connection is closed (with the close
 * function given to sess_table_new) when the last reference goes. sess_lock_conn serialises the
 * use of one connection by several requests of one person.
 *
 * The module never logs; sess_table_new returns NULL only when out of memory.
 */
#ifndef ANPR_SESS_H
#define ANPR_SESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESS_TOKEN_LEN 64 /* hex characters of an id or a token */
#define SESS_USER_MAX  63

/* What the person's login may do, found at login from its role memberships. */
enum {
    SESS_DISPATCH = 1u,     /* anpr_dispatch: the board, acknowledgements */
    SESS_INVESTIGATOR = 2u, /* anpr_investigator: the desk */
    SESS_ADMIN = 4u,        /* anpr_admin */
};

typedef struct sess_table sess_table_t;
typedef struct sess sess_t;

/* idle_s: a session unused this long ends; max: sessions at most; close_conn(conn) closes a
   connection (called without the table's lock held). */
sess_table_t *sess_table_new(int idle_s, size_t max, void (*close_conn)(void *conn));
/* Ends every session (closing their connections once unreferenced) and frees the table. */
void sess_table_destroy(sess_table_t **self_p);

/*
 * A new session for user, owning conn (also on failure: then it is closed). Its id and CSRF
 * token into id_out and csrf_out (SESS_TOKEN_LEN + 1 bytes each). Returns the session,
 * referenced, or NULL: the table is full (*full set) or out of randomness or memory.
 */
sess_t *sess_create(sess_table_t *t, const char *user, unsigned roles, void *conn, int64_t now_s,
                    char *id_out, char *csrf_out, bool *full);
/* The session of this id, referenced and its idle clock restarted; NULL when unknown, ended or
   idle for too long (then it ends). */
sess_t *sess_get(sess_table_t *t, const char *id, int64_t now_s);
/* The same without restarting the idle clock (a stream that only listens). */
sess_t *sess_peek(sess_table_t *t, const char *id, int64_t now_s);
/* Drops a reference; the last one of an ended session closes its connection and frees it. */
void sess_put(sess_table_t *t, sess_t **s_p);
/* Ends the session (logout): gone from the table at once. true when it was there. */
bool sess_end(sess_table_t *t, const char *id);
/* Ends the session s (its connection was lost, say): gone from the table at once. */
void sess_end_this(sess_table_t *t, sess_t *s);
/* Ends the sessions idle for too long; how many. */
size_t sess_expire(sess_table_t *t, int64_t now_s);
/* Sessions in the table. */
size_t sess_count(sess_table_t *t);

/* Whether token is this session's CSRF token (constant time; NULL or "" is not). */
bool sess_csrf_ok(const sess_t *s, const char *token);
/* Whether the session has ended (logout, timeout) since it was handed out. */
bool sess_ended(sess_table_t *t, const sess_t *s);
const char *sess_user(const sess_t *s);
unsigned sess_roles(const sess_t *s);
const char *sess_csrf(const sess_t *s);

/* The session's connection, locked for this caller until sess_unlock_conn. */
void *sess_lock_conn(sess_t *s);
void sess_unlock_conn(sess_t *s);

/* n random bytes as 2n hex characters into out (2n + 1 bytes); -1 when RAND_bytes fails. */
int sess_random_hex(char *out, size_t n);
/* Constant-time equality of two NUL-terminated strings (the length is not hidden). */
bool sess_token_eq(const char *a, const char *b);

#endif
