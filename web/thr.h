/*
 * thr: failed logins counted per key (a user name, a client address) in a fixed window. After
 * max failures within window_s of the first, the key is refused until that window has passed:
 * a password cannot be guessed faster than max per window, per name and per address, and a
 * refused attempt never reaches PostgreSQL. A success clears the key.
 *
 * Thread-safe (one lock). The table holds a bounded number of keys; when full, the oldest entry
 * makes room (a flood of new addresses cannot grow memory). Never logs; NULL when out of memory.
 */
#ifndef ANPR_THR_H
#define ANPR_THR_H

#include <stdbool.h>
#include <stdint.h>

typedef struct thr thr_t;

thr_t *thr_new(int max, int window_s, unsigned capacity);
void thr_destroy(thr_t **self_p);

/* Whether an attempt for key may go ahead now; when not, *retry_s: seconds until it may. */
bool thr_allowed(thr_t *t, const char *key, int64_t now_s, int *retry_s);
/* A failed attempt for key. */
void thr_fail(thr_t *t, const char *key, int64_t now_s);
/* A successful one: the key's failures are forgotten. */
void thr_clear(thr_t *t, const char *key);

#endif
