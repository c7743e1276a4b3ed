/*
 * cli: command-line conventions shared by the tools (anpr-camera, anpr-console, anpr-migrate):
 * usage errors in one format ("PROG: what is wrong" then "Try 'PROG --help'."), the getopt_long
 * failure cases, and SIGINT/SIGTERM turned into a flag that the main loop polls.
 *
 * The usage helpers print to stderr and return -1, so a parser can `return cli_...(...)`.
 */
#ifndef ANPR_CLI_H
#define ANPR_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Prints "PROG: <fmt ...>\nTry 'PROG --help'.\n" to stderr; returns -1. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An option value that does not parse: "PROG: OPT: expected EXPECT, got 'VAL'" + try line. */
int cli_bad_value(const char *prog, const char *opt, const char *val, const char *expect);

/*
 * For getopt_long(argc, argv, ":", ...) with opterr = 0: reports what getopt_long returned
 * instead of an option (':' a missing value, anything else an unknown option), naming the word
 * it stopped at. Returns -1.
 */
int cli_getopt_fail(const char *prog, int opt, int argc, char **argv);

/* After the options: 0 when none of argv is left over, else reports the first one and -1. */
int cli_no_operands(const char *prog, int argc, char **argv);

/* Append printf-style text to buf (cap bytes, *len used so far); what does not fit is cut, never
 * overflows, and buf stays NUL-terminated. */
void cli_cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* SIGINT and SIGTERM set a flag (no SA_RESTART, so a blocking call returns EINTR). */
void cli_catch_signals(void);
/* True once for each time a signal came since the last call. */
bool cli_signal_take(void);

#endif
