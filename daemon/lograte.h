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
 * A caller that also hands over the line it would have written (lograte_pass_line) can ask,
 * from a timer, for the reasons whose interval has passed with lines still held back
 * (lograte_held): the last of them and their count, so a burst that stops is summed up too,
 * not only when the reason comes again. log_rated() (log.h) is the daemon's way to use it.
 *
 * Not thread safe: one per thread. Library module: never logs.
 */
#ifndef ANPR_LOGRATE_H
#define ANPR_LOGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGRATE_SLOTS 32

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

/*
 * lograte_pass, and when the answer is no, `line` (the text that would have been written; may
 * be NULL) and `tag` (the caller's, e.g. the log level) are kept with the reason, for
 * lograte_held.
 */
bool lograte_pass_line(lograte_t *self, const char *reason, const char *line, int tag,
                       int64_t now_us, uint64_t *suppressed);

/*
 * The next reason (from *pos, 0 at first) with lines held back whose interval has passed at
 * now_us (any held back at all when `all`, as at exit): its last held line into line (cut to
 * linelen, "" when none was given), its tag and how many were held back into *n. The reason
 * then counts as said at now_us. False when there is none left.
 */
bool lograte_held(lograte_t *self, int64_t now_us, bool all, size_t *pos, char *line,
                  size_t linelen, int *tag, uint64_t *n);

#endif
