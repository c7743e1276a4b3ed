/* test_sess: the session table (ids, CSRF tokens, idle timeout, references, the table's
   limit) and the failed-login throttle. */
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NAME "sess"
#include "sess.h"
#include "thr.h"

static int closed;

static void s_close(void *conn)
{
    closed++;
    free(conn);
}

static void *s_conn(void)
{
    return malloc(1);
}

int main(void)
{
    char id[SESS_TOKEN_LEN + 1], csrf[SESS_TOKEN_LEN + 1], id2[SESS_TOKEN_LEN + 1],
        csrf2[SESS_TOKEN_LEN + 1];
    bool full;
    sess_table_t *t = sess_table_new(900, 2, s_close);

    CHECK(t != NULL);
    sess_t *s = sess_create(t, "alice", SESS_DISPATCH, s_conn(), 1000, id, csrf, &full);
    CHECK(s != NULL);
    CHECK_INT(strlen(id), SESS_TOKEN_LEN);
    CHECK_INT(strspn(id, "0123456789abcdef"), SESS_TOKEN_LEN);
    CHECK(strcmp(id, csrf) != 0);
    CHECK_STR(sess_user(s), "alice");
    CHECK_INT(sess_roles(s), SESS_DISPATCH);
    /* CSRF: only the session's own token */
    CHECK(sess_csrf_ok(s, csrf));
    CHECK(!sess_csrf_ok(s, NULL));
    CHECK(!sess_csrf_ok(s, ""));
    CHECK(!sess_csrf_ok(s, id));
    char wrong[SESS_TOKEN_LEN + 1];
    memcpy(wrong, csrf, sizeof wrong);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    CHECK(!sess_csrf_ok(s, wrong));
    sess_put(t, &s);
    CHECK(s == NULL);

    /* Found by its id; not by another, a prefix or garbage. */
    s = sess_get(t, id, 1100);
    CHECK(s != NULL);
    sess_put(t, &s);
    CHECK(sess_get(t, wrong, 1100) == NULL);
    id2[0] = '\0';
    CHECK(sess_get(t, "abc", 1100) == NULL);
    CHECK(sess_get(t, NULL, 1100) == NULL);

    /* Two ids never alike; the table holds 2: a third is refused as full. */
    sess_t *s2 = sess_create(t, "bob", SESS_INVESTIGATOR, s_conn(), 1100, id2, csrf2, &full);
    CHECK(s2 != NULL);
    CHECK(strcmp(id, id2) != 0);
    sess_put(t, &s2);
    char id3[SESS_TOKEN_LEN + 1], csrf3[SESS_TOKEN_LEN + 1];
    closed = 0;
    CHECK(sess_create(t, "carol", SESS_ADMIN, s_conn(), 1100, id3, csrf3, &full) == NULL);
    CHECK(full);
    CHECK_INT(closed, 1); /* its connection closed, not leaked */
    CHECK_INT(sess_count(t), 2);

    /* Idle timeout: used at 1100, gone at 1100 + 900; its connection is closed. */
    closed = 0;
    s = sess_get(t, id, 1999);
    CHECK(s != NULL);
    sess_put(t, &s);
    CHECK_INT(sess_expire(t, 2000), 1); /* bob, last used at 1100 */
    CHECK_INT(closed, 1);
    CHECK(sess_get(t, id2, 2001) == NULL);
    /* a peek does not restart the clock */
    s = sess_peek(t, id, 2500);
    CHECK(s != NULL);
    sess_put(t, &s);
    CHECK(sess_get(t, id, 2899) == NULL);
    CHECK_INT(closed, 2);
    CHECK_INT(sess_count(t), 0);

    /* Logout while a stream still holds the session: gone from the table at once, the
       connection closed when the stream lets go. */
    closed = 0;
    s = sess_create(t, "alice", SESS_DISPATCH, s_conn(), 3000, id, csrf, &full);
    CHECK(s != NULL);
    CHECK(!sess_ended(t, s));
    CHECK(sess_end(t, id));
    CHECK(!sess_end(t, id));
    CHECK(sess_ended(t, s));
    CHECK(sess_get(t, id, 3001) == NULL);
    CHECK_INT(closed, 0);
    CHECK(sess_lock_conn(s) != NULL);
    sess_unlock_conn(s);
    sess_put(t, &s);
    CHECK_INT(closed, 1);

    /* Ended by the pointer (its connection was lost) while a request holds it. */
    closed = 0;
    s = sess_create(t, "erin", SESS_DISPATCH, s_conn(), 3500, id, csrf, &full);
    CHECK(s != NULL);
    sess_end_this(t, s);
    CHECK(sess_ended(t, s));
    CHECK(sess_get(t, id, 3501) == NULL);
    CHECK_INT(closed, 0);
    sess_put(t, &s);
    CHECK_INT(closed, 1);

    /* The table's end closes what is left. */
    closed = 0;
    s = sess_create(t, "dave", SESS_DISPATCH, s_conn(), 4000, id, csrf, &full);
    sess_put(t, &s);
    sess_table_destroy(&t);
    CHECK(t == NULL);
    CHECK_INT(closed, 1);

    CHECK(sess_token_eq("abc", "abc"));
    CHECK(!sess_token_eq("abc", "abd"));
    CHECK(!sess_token_eq("abc", "abcd"));

    /* The throttle: 3 failures in 60 s, then refused until the window has passed. */
    thr_t *th = thr_new(3, 60, 4);
    int retry = 0;
    CHECK(th != NULL);
    CHECK(thr_allowed(th, "u:alice", 100, &retry));
    thr_fail(th, "u:alice", 100);
    thr_fail(th, "u:alice", 110);
    CHECK(thr_allowed(th, "u:alice", 111, &retry));
    thr_fail(th, "u:alice", 120);
    CHECK(!thr_allowed(th, "u:alice", 121, &retry));
    CHECK_INT(retry, 39);
    CHECK(thr_allowed(th, "u:bob", 121, &retry)); /* others are not held up */
    CHECK(thr_allowed(th, "u:alice", 160, &retry));
    /* a success forgets the failures */
    thr_fail(th, "a:127.0.0.1", 200);
    thr_fail(th, "a:127.0.0.1", 200);
    thr_clear(th, "a:127.0.0.1");
    thr_fail(th, "a:127.0.0.1", 201);
    CHECK(thr_allowed(th, "a:127.0.0.1", 202, &retry));
    /* a flood of keys does not grow the table: the oldest make room */
    for (int i = 0; i < 100; i++) {
        char k[32];
        snprintf(k, sizeof k, "a:10.0.0.%d", i);
        thr_fail(th, k, 300 + i);
    }
    thr_destroy(&th);
    CHECK(th == NULL);
    return check_done(NAME);
}
