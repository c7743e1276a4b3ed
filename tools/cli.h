/*
 * cli: command-line conventions shared by the tools (anpr-camera, anpr-console, anpr-migrate):
 * usage errors in one format ("PROG: what is wrong" then "Try 'PROG --help'."), the getopt_long
 * failure cases, and SIGINT/SIGTERM turned into a flag that the main loop polls.
 *
 * The usage helpers print to stderr and return -1, so a parser can `return cli_...(...)`.
 *
 * Text from outside (plates, list names, references, instructions, camera names, database
 * error texts) reaches a terminal only through cli_clean (or cli_text): a terminal acts on
 * control characters, escape sequences and bidi controls, so a crafted list name could retitle
 * the window, hide lines or reorder what an operator reads.
 */
#ifndef ANPR_CLI_H
#define ANPR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* Length of the well-formed UTF-8 sequence at s (n bytes left, n > 0) and its code point; 0
 * when the bytes there are not one (Unicode table 3-7: no overlong form, surrogate or above
 * U+10FFFF). */
size_t cli_utf8(const unsigned char *s, size_t n, uint32_t *cp);

/* Open path for writing a file of personal data (an export, a picture): created 0600, never an
 * existing file made wider (it is truncated and keeps its own mode). NULL with errno. */
FILE *cli_open_private(const char *path);

/* Flags of cli_clean. */
#define CLI_NEWLINE 1u /* keep LF (a text meant to span lines); every other control is replaced */

/*
 * Copy the n bytes of s to out (cap bytes, NUL-terminated) with everything a terminal would act
 * on made visible: C0 controls (but LF with CLI_NEWLINE), DEL, C1 controls (U+0080..U+009F, as
 * UTF-8), the bidi controls U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069 become
 * "\u{1b}" (the code point in hex); an ESC is one of them, so an escape sequence is left as
 * inert text. A byte that is not part of well-formed UTF-8 (overlong, surrogate, above
 * U+10FFFF, cut short) becomes U+FFFD. Ordinary UTF-8 passes through. What does not fit is cut
 * at a character boundary. Returns the length written.
 */
size_t cli_clean(char *out, size_t cap, const char *s, size_t n, unsigned flags);

/*
 * cli_clean of a C string (NULL gives "") into one of 8 rotating per-thread buffers of
 * CLI_TEXT_MAX bytes: valid until the 8th call after it, so up to 8 may appear in one printf.
 */
#define CLI_TEXT_MAX 8192
const char *cli_text(const char *s);
/* The same keeping line feeds (database error texts with DETAIL and HINT lines). */
const char *cli_text_nl(const char *s);

/* True when s is well-formed UTF-8 and cli_clean would change nothing of it without flags: no
 * control character (line feed included), no bidi control. What names and texts stored in the
 * database must be (migration 014 checks the same). */
bool cli_plain(const char *s);

/* SIGINT and SIGTERM set a flag (no SA_RESTART, so a blocking call returns EINTR). */
void cli_catch_signals(void);
/* True once for each time a signal came since the last call. */
bool cli_signal_take(void);

#endif
