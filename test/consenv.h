/*
 * consenv: what the anpr-console tests share: the console started as an operator runs it (keys
 * on a pipe to its stdin, stdout and stderr to files, UTC and 80 columns), its output waited
 * for with a deadline (as written, or with the rows it continued joined), and the checks of
 * its screen (no line wider than 80 columns, no bell).
 *
 * consenv.c never CHECKs: check.h counts per source file, so a check made there would be
 * missing from the test's count. Its helpers return what they found and the test checks it;
 * they die (h_fatal) only where no test could go on (no pipe, no fork).
 */
#ifndef ANPR_CONSENV_H
#define ANPR_CONSENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Start anpr-console (argv[0] its path) with a pipe on its stdin (*in: our end, the caller
 * closes it), stdout and stderr to the files out and err, TZ=UTC and COLUMNS=80; its pid. */
pid_t consenv_start(char *const argv[], const char *out, const char *err, int *in);

/* Write keys to the console's stdin; whether all of them were written. */
bool consenv_send_keys(int fd, const char *keys);

/* The console's lines unwrapped in place: a row it continued ("\n    ") joined to the one
 * before by a space. */
void consenv_unwrap(char *s);

/* Poll the file until it holds needle after its first `from` bytes, or ms pass; whether it
 * does. consenv_wait_out reads the file as written, consenv_wait_unwrapped with the console's
 * lines unwrapped (consenv_unwrap). */
bool consenv_wait_out(const char *path, size_t from, const char *needle, int ms);
bool consenv_wait_unwrapped(const char *path, size_t from, const char *needle, int ms);

/* The file's size so far (where the next wait starts reading). */
size_t consenv_size(const char *path);

/* Every line of the file at most 80 columns (UTF-8 code points). */
bool consenv_fits(const char *path);
/* No bell in the file. */
bool consenv_quiet(const char *path);

#endif
