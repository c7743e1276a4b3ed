/*
 * util: small helpers shared by the daemon and the tools: strict number parsing (never atoi),
 * clocks, and time formatting.
 */
#ifndef ANPR_UTIL_H
#define ANPR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse all of s as a base-10 integer within [min, max]; 0 or -1 (nothing changed on error). */
int util_parse_long(const char *s, long long min, long long max, long long *out);
/* Parse all of s as a floating number within [min, max]; 0 or -1. */
int util_parse_double(const char *s, double min, double max, double *out);

/* UTC wall clock, microseconds since the epoch. */
int64_t util_now_us(void);
/* Monotonic clock, microseconds (for intervals and deadlines). */
int64_t util_mono_us(void);

/* Format UTC µs as "2026-11-29T15:20:01.123456Z" into buf (at least 32 bytes). */
void util_format_time(int64_t time_us, char *buf, size_t len);

/* Read a whole file into a malloc'd NUL-terminated buffer; NULL with errno set on failure. */
char *util_read_file(const char *path, size_t *len);

/* printf into a caller's error buffer (err may be NULL or errlen 0: nothing written); the
 * library modules' way of saying what went wrong without logging. */
void util_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
