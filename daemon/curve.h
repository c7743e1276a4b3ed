/*
 * curve: CURVE key files, shared by anprd and every program that connects to it.
 *
 * A key file holds one key as one line of Z85 text (40 characters, zmq_z85_encode of the 32
 * bytes), as anpr-keygen writes them: NAME.key the secret key (mode 0600), NAME.pub the public
 * one. A public key may also be given as the 40 characters themselves. The module never logs:
 * errors go into err.
 */
#ifndef ANPR_CURVE_H
#define ANPR_CURVE_H

#include <stddef.h>

#define CURVE_Z85 40 /* a key as Z85 text, without its NUL */

/* Read a secret key file into secret and its public half into public_z85 (both Z85,
 * NUL-terminated). 0, or -1 with a message in err. */
int curve_read_secret(const char *path, char secret[CURVE_Z85 + 1], char public_z85[CURVE_Z85 + 1],
                      char *err, size_t errlen);

/* A public key: `arg` is 40 Z85 characters, or a file holding them. 0 or -1 (err). */
int curve_read_public(const char *arg, char public_z85[CURVE_Z85 + 1], char *err, size_t errlen);

/* Make sock a CURVE client with its own key pair from secret_file, talking to the server with
 * public key server_key (as for curve_read_public). Before connect. 0 or -1 (err). */
int curve_client(void *sock, const char *secret_file, const char *server_key, char *err,
                 size_t errlen);

/* The same for a program's --key FILE and --server-key K: both NULL is plain text (0, nothing
 * set); one without the other is an error. 0 or -1 (err). */
int curve_client_opts(void *sock, const char *key_opt, const char *server_key_opt, char *err,
                      size_t errlen);

/* Make a new key pair and write it as dir/name.key (0600, never over an existing file) and
 * dir/name.pub. The public key is put in public_z85. 0 or -1 (err). */
int curve_keygen(const char *dir, const char *name, char public_z85[CURVE_Z85 + 1], char *err,
                 size_t errlen);

#endif
