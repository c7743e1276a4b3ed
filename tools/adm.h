/*
 * adm: what the peer-administration tools (anpr-cameras, anpr-consoles) share: a CURVE public
 * key given as Z85 text or as the .pub file anpr-keygen wrote, checks of the text an admin
 * types (no control characters: a name shows up in consoles and logs), parameterised
 * statements with errors worded for the admin, and aligned tables.
 *
 * The checks fill an error buffer and never print; the statement helpers print the database's
 * message ("PROG: what: message") since the tools have nothing else to say about it.
 */
#ifndef ANPR_ADM_H
#define ANPR_ADM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of both tools. */
enum { ADM_OK = 0, ADM_NOT_FOUND = 1, ADM_USAGE = 2, ADM_DATABASE = 3 };

/* Z85 text of a 32-byte CURVE key: 40 characters. */
#define ADM_KEY_LEN 40

/*
 * The public key `arg` stands for: 40 characters of Z85 taken as they are, else the first line
 * of the file of that name (a .pub of anpr-keygen). out gets the 40 characters and a NUL.
 * -1 with why filled (a file that cannot be read, that is the secret half, or no key in it).
 */
int adm_key_arg(const char *arg, char out[ADM_KEY_LEN + 1], char *why, size_t whylen);

/* An identifier as the schema takes it: [A-Za-z0-9._:-]{1,32}. */
bool adm_ident_ok(const char *s);

/* Free text of at most max bytes: valid UTF-8, no control character (C0, DEL, C1), and
   non-empty when !empty_ok. -1 with why filled. */
int adm_text_ok(const char *s, size_t max, bool empty_ok, char *why, size_t whylen);

/*
 * A parameterised statement; NULL on failure, reported as "prog: ctx: message" on stderr with
 * *rc set: ADM_USAGE when the database refused the data (SQLSTATE classes 22, 23), else
 * ADM_DATABASE.
 */
PGresult *adm_q(PGconn *conn, const char *prog, const char *sql, int n, const char *const *params,
                const char *ctx, int *rc);

/* Print a result as a table with a header, columns padded to their widest cell (in characters,
   UTF-8); NULL cells print as "-". */
void adm_table(const PGresult *res, const char *const *headers);

#endif
