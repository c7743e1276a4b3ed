/* thr: failed-login counting (thr.h). */
#include "thr.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THR_KEY_MAX 96

struct entry {
    char key[THR_KEY_MAX]; /* "" = free */
    int64_t first_s;       /* first failure of the window */
    int n;                 /* failures in it */
};

struct thr {
    pthread_mutex_t lock;
    struct entry *e;
    unsigned cap;
    int max, window_s;
};

thr_t *thr_new(int max, int window_s, unsigned capacity)
{
    thr_t *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->e = calloc(capacity ? capacity : 1, sizeof *t->e);
    if (!t->e) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->cap = capacity ? capacity : 1;
    t->max = max;
    t->window_s = window_s;
    return t;
}

void thr_destroy(thr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    free((*self_p)->e);
    free(*self_p);
    *self_p = NULL;
}

/* Under the lock: the entry of key, or NULL. Keys longer than the slot are cut: still one key
   per name, as names that long are refused by PostgreSQL anyway. */
static struct entry *s_find(thr_t *t, const char *key)
{
    for (unsigned i = 0; i < t->cap; i++)
        if (t->e[i].key[0] && strncmp(t->e[i].key, key, THR_KEY_MAX - 1) == 0)
            return &t->e[i];
    return NULL;
}

bool thr_allowed(thr_t *t, const char *key, int64_t now_s, int *retry_s)
{
    bool ok = true;

    pthread_mutex_lock(&t->lock);
    struct entry *e = s_find(t, key);
    if (e && now_s - e->first_s >= t->window_s) {
        e->key[0] = '\0'; /* the window has passed */
    } else if (e && e->n >= t->max) {
        ok = false;
        if (retry_s)
            *retry_s = (int)(e->first_s + t->window_s - now_s);
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void thr_fail(thr_t *t, const char *key, int64_t now_s)
{
    pthread_mutex_lock(&t->lock);
    struct entry *e = s_find(t, key);
    if (e && now_s - e->first_s >= t->window_s)
        e->key[0] = '\0';
    if (!e || !e->key[0]) {
        /* a free slot, else the oldest */
        unsigned best = 0;
        for (unsigned i = 0; i < t->cap; i++) {
            if (!t->e[i].key[0]) {
                best = i;
                break;
            }
            if (t->e[i].first_s < t->e[best].first_s)
                best = i;
        }
        e = &t->e[best];
        snprintf(e->key, sizeof e->key, "%s", key);
        e->first_s = now_s;
        e->n = 0;
    }
    e->n++;
    pthread_mutex_unlock(&t->lock);
}

void thr_clear(thr_t *t, const char *key)
{
    pthread_mutex_lock(&t->lock);
    struct entry *e = s_find(t, key);
    if (e)
        e->key[0] = '\0';
    pthread_mutex_unlock(&t->lock);
}
