/*
 * log: leveled log lines to stderr, each tagged with the subsystem that wrote it:
 *   2026-11-29T15:20:01.123Z info  ingest: listening on tcp://0.0.0.0:5555
 * Under systemd, when stderr is the journal, a line is instead "<6>ingest: listening on ...":
 * the journal stamps the time itself and takes the priority from the sd-daemon prefix
 * (<3> error, <4> warn, <6> info, <7> debug).
 * Only the daemon and tools log; library modules (proto, conf, plate, wl) return errors instead.
 */
#ifndef ANPR_LOG_H
#define ANPR_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "lograte.h"

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*
 * Whether stderr is the journal: $JOURNAL_STREAM names stderr's device and inode. Lines are
 * written in the journal's form from then on when it is, in the plain form otherwise. Call it
 * at start, before any thread logs (and again after redirecting stderr).
 */
bool log_detect_journal(void);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "debug", "info", "warn", "error" -> level; returns -1 on an unknown name. */
int log_level_parse(const char *name, enum log_level *level);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *subsys, const char *fmt, ...) LOG_PRINTF(3, 4);
void log_vmsg(enum log_level level, const char *subsys, const char *fmt, va_list ap)
    LOG_PRINTF(3, 0);

/*
 * A line that may repeat (per read, per batch, per retry), through `rate` (one per thread):
 * the format is the reason, so at most one line of each format per interval, whatever the
 * values; the next line of that format says how many like it were held back. True when written.
 */
bool log_rated(lograte_t *rate, enum log_level level, const char *subsys, const char *fmt, ...)
    LOG_PRINTF(4, 5);
/*
 * From a timer: for each format whose lines were held back and whose interval has passed (every
 * one when `all`, at exit), the last of them, with how many there were.
 */
void log_rated_flush(lograte_t *rate, const char *subsys, bool all);

#define log_debug(sub, ...) log_msg(LOG_LEVEL_DEBUG, sub, __VA_ARGS__)
#define log_info(sub, ...)  log_msg(LOG_LEVEL_INFO, sub, __VA_ARGS__)
#define log_warn(sub, ...)  log_msg(LOG_LEVEL_WARN, sub, __VA_ARGS__)
#define log_error(sub, ...) log_msg(LOG_LEVEL_ERROR, sub, __VA_ARGS__)

#endif
