/*
 * util: strict number parsing, clocks and time formatting shared by the daemon and the tools.
 */
#include "util.h"

#include <stdarg.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int util_parse_long(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    long long v;

    /* strtoll skips leading blanks and accepts "": refuse both so "" or " 5" is an error. */
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int util_parse_double(const char *s, double min, double max, double *out)
{
    char *end = NULL;
    double v;

    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    /* Also refuses NaN and infinities, which compare false or fall outside any finite range. */
    if (!isfinite(v) || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

int64_t util_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void util_format_time(int64_t time_us, char *buf, size_t len)
{
    /* Floor division so times before the epoch still get a 0..999999 fraction. */
    int64_t sec = time_us / 1000000;
    int64_t frac = time_us % 1000000;
    time_t t;
    struct tm tm;

    if (buf == NULL || len == 0)
        return;
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    t = (time_t)sec;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

char *util_read_file(const char *path, size_t *len)
{
    FILE *f = NULL;
    char *buf = NULL, *nbuf;
    size_t cap = 0, used = 0, n;
    int saved;

    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    for (;;) {
        if (cap - used < 4096 + 1) {
            size_t ncap = cap ? cap * 2 : 8192;
            nbuf = realloc(buf, ncap);
            if (nbuf == NULL)
                goto fail;
            buf = nbuf;
            cap = ncap;
        }
        n = fread(buf + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0) {
            if (ferror(f)) {
                errno = EIO;
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    buf[used] = '\0';
    if (len != NULL)
        *len = used;
    return buf;

fail:
    saved = errno;
    free(buf);
    fclose(f);
    errno = saved;
    return NULL;
}

void util_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
