/*
 * csv: a reader of RFC 4180 CSV records over a text held in memory, as anpr-watchlist import
 * reads a file of watchlist entries. Kept apart from the database work so that it can be tested
 * and fuzzed on its own (test/test_csv.c, test/fuzz/fuzz_csv.c).
 *
 * Fields are decoded in place (quotes removed, "" -> ") and each is NUL-terminated, so the
 * caller's buffer is changed and must hold len + 1 bytes: the last one takes the terminator of
 * a final field that has no line end. A quoted field may span lines; CRLF, LF and CR all end a
 * record; a blank line is no record. The reader never logs and never allocates past csv_new().
 */
#ifndef ANPR_CSV_H
#define ANPR_CSV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct csv csv_t;

/*
 * A reader over buf[0..len) (buf holds len + 1 bytes; borrowed, must outlive the reader). A
 * UTF-8 byte-order mark at the start is skipped. NULL on out of memory.
 */
csv_t *csv_new(char *buf, size_t len);

/* The field separator, ',' (RFC 4180, the default) or ';' (what spreadsheets write where the
 * decimal mark is a comma: Belgium, the Netherlands). */
void csv_set_sep(csv_t *self, char sep);

/* The separator a text's first line uses: ';' when it has more of them than ',' outside
 * quotes, else ','. */
char csv_guess_sep(const char *buf, size_t len);

/* Free a reader; safe on NULL and twice (sets *self_p to NULL). The buffer stays the caller's. */
void csv_destroy(csv_t **self_p);

/*
 * The next record: pointers to its fields, into buf, in fields[0..max); *nf counts all of them
 * (more than max when the record has more). *line: the line the record starts on (from 1).
 * Returns 1 for a record, 0 at the end, -1 for a quoted field that is not closed (it takes the
 * rest of the text; the next call returns 0). *why: NULL, or a defect of the record (the record
 * is still returned, its fields as far as they go).
 */
int csv_next(csv_t *self, char **fields, int max, int *nf, int *line, const char **why);

/*
 * A cell a spreadsheet would run as a formula (=, +, -, @) or whose leading TAB or CR it would
 * drop, also after any number of "'". Every CSV writer (anpr-watchlist export, anpr-history,
 * anpr-web) puts one more "'" before such a cell, so the sheet shows the text; import takes one
 * off again, so every text reads back as it was.
 */
bool csv_risky(const char *s);

#endif
