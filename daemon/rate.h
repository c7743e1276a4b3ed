/*
 * rate: a token bucket per peer, so one reader cannot take ingest's whole capacity (a flood, a
 * forged or broken camera) while the others wait.
 *
 * A peer is named by a short byte string (its ZeroMQ routing id: one connection). Each may
 * take `rate` reads a second on average and `burst` at once; what is over is refused by the
 * caller (REJECT overload: the reader keeps the read and resends it later, so nothing is
 * lost). The table has a fixed number of slots: a peer not seen for a while gives its slot
 * to a new one, and when every slot is busy a new peer shares the fullest-bucket slot's
 * allowance rather than being refused outright. Single-threaded (the ingest thread).
 */
#ifndef ANPR_RATE_H
#define ANPR_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_KEY_MAX 32 /* longest peer name kept; longer ones are cut (ZeroMQ ids are 5) */

typedef struct rate rate_t;

/* A table for `slots` peers at a time; NULL on out of memory. */
rate_t *rate_new(size_t slots);
void rate_destroy(rate_t **self_p);

/*
 * Take one token for peer key[0..len) at monotonic time now_us, with `per_s` tokens a second
 * and at most `burst` stored. True when it had one (go on), false when over its rate. per_s 0
 * means no limit (always true).
 */
bool rate_take(rate_t *self, const void *key, size_t len, int64_t now_us, uint32_t per_s,
               uint32_t burst);

#endif
