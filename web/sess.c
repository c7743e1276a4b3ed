/*
 * sess: the session table (sess.h). A small array searched linearly: a few hundred sessions at
 * most (each is a PostgreSQL connection), and a lookup compares ids in constant time anyway.
 */
#include "sess.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sess {
    char id[SESS_TOKEN_LEN + 1];
    char csrf[SESS_TOKEN_LEN + 1];
    char user[SESS_USER_MAX + 1];
    unsigned roles;
    void *conn;                /* the person's connection (owned) */
    pthread_mutex_t conn_lock; /* one request at a time on conn */
    int64_t last_s;            /* last use, for the idle timeout */
    int refs;                  /* the table's own (while not ended) and each holder's */
    bool ended;
};

struct sess_table {
    pthread_mutex_t lock;
    sess_t **slots; /* max of them, NULL = free */
    size_t max, n;
    int idle_s;
    void (*close_conn)(void *conn);
};

int sess_random_hex(char *out, size_t n)
{
    unsigned char b[64];
    static const char hex[] = "0123456789abcdef";

    if (n > sizeof b || RAND_bytes(b, (int)n) != 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
    OPENSSL_cleanse(b, sizeof b);
    return 0;
}

bool sess_token_eq(const char *a, const char *b)
{
    size_t n = strlen(a);

    if (n != strlen(b))
        return false;
    return CRYPTO_memcmp(a, b, n) == 0;
}

sess_table_t *sess_table_new(int idle_s, size_t max, void (*close_conn)(void *conn))
{
    sess_table_t *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->slots = calloc(max, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->max = max;
    t->idle_s = idle_s;
    t->close_conn = close_conn;
    return t;
}

static void s_free(sess_table_t *t, sess_t *s)
{
    if (s->conn && t->close_conn)
        t->close_conn(s->conn);
    pthread_mutex_destroy(&s->conn_lock);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* Under the lock: take s out of the table; true when that dropped the last reference. */
static bool s_unlink(sess_table_t *t, size_t i)
{
    sess_t *s = t->slots[i];

    t->slots[i] = NULL;
    t->n--;
    s->ended = true;
    return --s->refs == 0;
}

void sess_table_destroy(sess_table_t **self_p)
{
    sess_table_t *t;

    if (!self_p || !*self_p)
        return;
    t = *self_p;
    for (size_t i = 0; i < t->max; i++) {
        sess_t *s = t->slots[i];
        if (s && s_unlink(t, i))
            s_free(t, s);
    }
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
    *self_p = NULL;
}

sess_t *sess_create(sess_table_t *t, const char *user, unsigned roles, void *conn, int64_t now_s,
                    char *id_out, char *csrf_out, bool *full)
{
    sess_t *s = calloc(1, sizeof *s);

    *full = false;
    if (!s) {
        if (t->close_conn)
            t->close_conn(conn);
        return NULL;
    }
    pthread_mutex_init(&s->conn_lock, NULL);
    s->conn = conn;
    if (sess_random_hex(s->id, 32) != 0 || sess_random_hex(s->csrf, 32) != 0) {
        s_free(t, s);
        return NULL;
    }
    snprintf(s->user, sizeof s->user, "%s", user);
    s->roles = roles;
    s->last_s = now_s;
    s->refs = 2; /* the table's and the caller's */
    pthread_mutex_lock(&t->lock);
    size_t i = 0;
    while (i < t->max && t->slots[i])
        i++;
    if (i == t->max) {
        pthread_mutex_unlock(&t->lock);
        *full = true;
        s_free(t, s);
        return NULL;
    }
    t->slots[i] = s;
    t->n++;
    pthread_mutex_unlock(&t->lock);
    memcpy(id_out, s->id, sizeof s->id);
    memcpy(csrf_out, s->csrf, sizeof s->csrf);
    return s;
}

static sess_t *s_find(sess_table_t *t, const char *id, int64_t now_s, bool touch)
{
    sess_t *found = NULL, *gone = NULL;

    if (!id || strlen(id) != SESS_TOKEN_LEN)
        return NULL;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max; i++) {
        sess_t *s = t->slots[i];
        if (!s || !sess_token_eq(s->id, id))
            continue;
        if (now_s - s->last_s >= t->idle_s) {
            if (s_unlink(t, i))
                gone = s;
            break;
        }
        if (touch)
            s->last_s = now_s;
        s->refs++;
        found = s;
        break;
    }
    pthread_mutex_unlock(&t->lock);
    if (gone)
        s_free(t, gone);
    return found;
}

sess_t *sess_get(sess_table_t *t, const char *id, int64_t now_s)
{
    return s_find(t, id, now_s, true);
}

sess_t *sess_peek(sess_table_t *t, const char *id, int64_t now_s)
{
    return s_find(t, id, now_s, false);
}

void sess_put(sess_table_t *t, sess_t **s_p)
{
    sess_t *s;
    bool last;

    if (!s_p || !*s_p)
        return;
    s = *s_p;
    *s_p = NULL;
    pthread_mutex_lock(&t->lock);
    last = --s->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last)
        s_free(t, s);
}

bool sess_end(sess_table_t *t, const char *id)
{
    sess_t *gone = NULL;
    bool was = false;

    if (!id || strlen(id) != SESS_TOKEN_LEN)
        return false;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max; i++)
        if (t->slots[i] && sess_token_eq(t->slots[i]->id, id)) {
            sess_t *s = t->slots[i];
            was = true;
            if (s_unlink(t, i))
                gone = s;
            break;
        }
    pthread_mutex_unlock(&t->lock);
    if (gone)
        s_free(t, gone);
    return was;
}

void sess_end_this(sess_table_t *t, sess_t *s)
{
    bool last = false;

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max; i++)
        if (t->slots[i] == s) {
            last = s_unlink(t, i);
            break;
        }
    pthread_mutex_unlock(&t->lock);
    if (last) /* never: the caller holds a reference */
        s_free(t, s);
}

size_t sess_expire(sess_table_t *t, int64_t now_s)
{
    sess_t *gone[64];
    size_t ngone = 0, n = 0;

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->max && ngone < 64; i++) {
        sess_t *s = t->slots[i];
        if (s && now_s - s->last_s >= t->idle_s) {
            n++;
            if (s_unlink(t, i))
                gone[ngone++] = s;
        }
    }
    pthread_mutex_unlock(&t->lock);
    /* connections are closed outside the lock: a close may wait on the network */
    for (size_t i = 0; i < ngone; i++)
        s_free(t, gone[i]);
    return n;
}

size_t sess_count(sess_table_t *t)
{
    size_t n;

    pthread_mutex_lock(&t->lock);
    n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

bool sess_csrf_ok(const sess_t *s, const char *token)
{
    return token && *token && sess_token_eq(s->csrf, token);
}

bool sess_ended(sess_table_t *t, const sess_t *s)
{
    bool e;

    pthread_mutex_lock(&t->lock);
    e = s->ended;
    pthread_mutex_unlock(&t->lock);
    return e;
}

const char *sess_user(const sess_t *s)
{
    return s->user;
}

unsigned sess_roles(const sess_t *s)
{
    return s->roles;
}

const char *sess_csrf(const sess_t *s)
{
    return s->csrf;
}

void *sess_lock_conn(sess_t *s)
{
    pthread_mutex_lock(&s->conn_lock);
    return s->conn;
}

void sess_unlock_conn(sess_t *s)
{
    pthread_mutex_unlock(&s->conn_lock);
}
