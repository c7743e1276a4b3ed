#include "log.h"

#include <stdatomic.h>
#include <inttypes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Set on reload by the main thread, read by every thread that logs. */
static _Atomic int log_level = LOG_LEVEL_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};
/* syslog priorities of the levels (LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR), for journald. */
static const char *const log_prios[] = {"<7>", "<6>", "<4>", "<3>"};
/* Set by log_detect_journal() before threads start; read by every thread that logs. */
static _Atomic bool log_journal;

bool log_detect_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    int end = 0;

    /* systemd sets "DEV:INO" of the stream it connected stdout/stderr to; stderr may since
       have been redirected elsewhere, so it must be that very stream (sd_journal_stream_fd). */
    log_journal = env && sscanf(env, "%llu:%llu%n", &dev, &ino, &end) == 2 && env[end] == '\0' &&
                  fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                  (unsigned long long)st.st_ino == ino;
    return log_journal;
}

void log_set_level(enum log_level level)
{
    log_level = level;
}

enum log_level log_get_level(void)
{
    return (enum log_level)log_level;
}

int log_level_parse(const char *name, enum log_level *level)
{
    for (size_t i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < sizeof log_names / sizeof log_names[0] ? log_names[level] : "?";
}

void log_vmsg(enum log_level level, const char *subsys, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    int n;

    if ((int)level < log_level)
        return;
    if (log_journal) {
        /* The journal stamps each line itself and takes its priority from the prefix. */
        n = snprintf(line, sizeof line, "%s%s: ",
                     (unsigned)level < sizeof log_prios / sizeof log_prios[0] ? log_prios[level]
                                                                              : "<3>",
                     subsys);
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_level_name(level), subsys);
    }
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* One write per line so lines of several threads never interleave. */
    fprintf(stderr, "%s\n", line);
}

void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, subsys, fmt, ap);
    va_end(ap);
}

bool log_rated(lograte_t *rate, enum log_level level, const char *subsys, const char *fmt, ...)
{
    char line[512];
    uint64_t held = 0;
    va_list ap;

    if ((int)level < log_level)
        return false;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (rate != NULL && !lograte_pass_line(rate, fmt, line, (int)level, util_mono_us(), &held))
        return false;
    if (held > 0)
        log_msg(level, subsys, "%s (%" PRIu64 " more like this since the last such line)", line,
                held);
    else
        log_msg(level, subsys, "%s", line);
    return true;
}

void log_rated_flush(lograte_t *rate, const char *subsys, bool all)
{
    char line[512];
    size_t pos = 0;
    uint64_t n;
    int tag;

    if (rate == NULL)
        return;
    while (lograte_held(rate, util_mono_us(), all, &pos, line, sizeof line, &tag, &n))
        log_msg((enum log_level)tag, subsys,
                "%" PRIu64 " more like this since the last such line, the last: %s", n, line);
}
