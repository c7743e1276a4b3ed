/*
 * lograte: at most one log line per reason per interval. A caller about to log a recurring
 * problem (a backbone that refuses every connect) asks lograte_pass() with the reason text; the
 * first time, and again once the interval has passed since the last line of that reason, it
 * says yes and how many of that reason it said no to in between, for the line to mention.
 * Different reasons never hold each other back.
 *
 * It keeps the last LOGRATE_SLOTS reasons; a reason pushed out by newer ones (only when that
 * many different reasons come within one interval) starts again as new, and its held-back
 * count is lost. Reasons are compared as text: give one without counters or times in it.
 *
 * Not thread safe: one per thread. Library module: never logs.
 */
#ifndef ANPR_LOGRATE_H
#define ANPR_LOGRATE_H

#include <stdbool.h>
#include <stdint.h>

#define LOGRATE_SLOTS 16

typedef struct lograte lograte_t;

/* interval_us > 0. NULL when out of memory. */
lograte_t *lograte_new(int64_t interval_us);
/* Safe on NULL and twice; sets *self_p to NULL. */
void lograte_destroy(lograte_t **self_p);

/*
 * Whether to log `reason` now (now_us: a monotonic clock). When true, *suppressed (may be NULL)
 * is how many times this reason was refused since its last line; the count starts again.
 */
bool lograte_pass(lograte_t *self, const char *reason, int64_t now_us, uint64_t *suppressed);

#endif
