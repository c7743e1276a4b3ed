/*
 * tls: OpenSSL helpers for the backbone link: client and server contexts with mutual
 * authentication, connect and accept with deadlines, read-all and write-all with timeouts.
 *
 * Sockets are non-blocking and every wait is a poll() bounded by the caller's timeout, so a
 * dead or silent peer never holds the caller longer than that (name resolution excepted: it
 * uses the system resolver, which has its own timeouts).
 *
 * Errors fill the caller's buffer with one precise line: the certificate verification result
 * ("certificate verification failed: certificate has expired"), else the OpenSSL error queue,
 * else the errno text. Never a key or a passphrase: keys must be unencrypted files (protect them
 * with file permissions or systemd credentials); an encrypted key is refused, never prompted for.
 *
 * Writing to a connection the peer closed raises SIGPIPE: the program must ignore SIGPIPE.
 * Like the other library modules this one never logs.
 */
#ifndef ANPR_TLS_H
#define ANPR_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tls_conn tls_conn_t;

/*
 * The TLS 1.2 cipher suites of both sides: ECDHE key exchange (forward secrecy) with an AEAD
 * cipher only. TLS 1.3 is preferred and keeps OpenSSL's default suites (all of them are so).
 */
#define TLS_CIPHERS_TLS12                                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/*
 * A client context: trusts only ca_file (PEM), presents cert_file (PEM chain, leaf first) and
 * key_file; TLS 1.2 minimum with TLS_CIPHERS_TLS12 only (1.3 is negotiated when both sides have
 * it); the server's certificate is verified. cert_file and key_file may both be NULL (no client
 * certificate; for tests of a server that must refuse it). NULL with err filled on failure.
 */
SSL_CTX *tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
                            char *err, size_t errlen);

/*
 * A server context: presents cert_file/key_file, requires a client certificate from ca_file;
 * the same protocol and cipher policy as the client.
 */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                            char *err, size_t errlen);

/*
 * Check the peer's certificate against the CRLs of crl_file (PEM, one or more "X509 CRL"
 * blocks) too: a revoked leaf is refused ("certificate revoked"); so is every leaf when no CRL
 * of its CA is loaded ("unable to get certificate CRL") or the CRL is past its next update
 * ("CRL has expired"): a stale list must not pass for a current one. 0, or -1 with err filled
 * (the file is missing, unreadable, holds no CRL or a damaged one).
 */
int tls_ctx_set_crl(SSL_CTX *ctx, const char *crl_file, char *err, size_t errlen);

/* Whether crl_file would load (for a configuration check): 0, or -1 with err filled. */
int tls_crl_check(const char *crl_file, char *err, size_t errlen);

/* Frees a context (either kind); safe on NULL and twice, sets *ctx_p to NULL. */
void tls_ctx_destroy(SSL_CTX **ctx_p);

/*
 * Connect to host:port, then do the TLS handshake, within timeout_ms in all. The server's
 * certificate must chain to the context's CA and name `host` in its subjectAltName (a DNS name,
 * sent as SNI; or an IP address literal, matched against the IP addresses there). The subject's
 * CN is never looked at, and a wildcard counts only as a whole left-most label. NULL with err
 * filled.
 *
 * With TLS 1.3 the server checks the client's certificate after the client has finished its
 * handshake: a server that refuses it makes the first tls_read_all() fail ("certificate
 * required"), not this call. A protocol that starts with an answer from the server (as the
 * backbone HELLO) sees it at once.
 */
tls_conn_t *tls_connect(SSL_CTX *ctx, const char *host, const char *port, int timeout_ms, char *err,
                        size_t errlen);

/*
 * Listening TCP socket on host:port (host NULL or "*" = any address), SO_REUSEADDR, non-blocking.
 * Returns the fd, or -1 with err filled. `port` "0" picks a free port (see tls_local_port()).
 */
int tls_listen(const char *host, const char *port, char *err, size_t errlen);
/* The port a socket is bound to, or -1. */
int tls_local_port(int fd);

/*
 * Accept one connection on listen_fd (waits up to timeout_ms for it, -1 = forever) and do the
 * server handshake within timeout_ms. NULL with err filled; on a timeout waiting for a client
 * err is "timeout waiting for a connection" and *timed_out is set (timed_out may be NULL).
 */
tls_conn_t *tls_accept(SSL_CTX *ctx, int listen_fd, int timeout_ms, bool *timed_out, char *err,
                       size_t errlen);

/* Write all len bytes within timeout_ms. 0, or -1 with err filled. */
int tls_write_all(tls_conn_t *c, const void *buf, size_t len, int timeout_ms, char *err,
                  size_t errlen);

/*
 * Read exactly len bytes within timeout_ms. 0 when all came; 1 when the peer closed the
 * connection cleanly before the first byte (err says so); -1 on anything else, err filled
 * (a timeout says "timeout").
 */
int tls_read_all(tls_conn_t *c, void *buf, size_t len, int timeout_ms, char *err, size_t errlen);

/*
 * Wait up to timeout_ms (0 = just look) until something can be read. 1 readable (data, or the
 * peer closed: the next read tells), 0 not within the timeout, -1 poll failed (err filled).
 */
int tls_wait_readable(tls_conn_t *c, int timeout_ms, char *err, size_t errlen);

/* The negotiated protocol: TLS1_3_VERSION, TLS1_2_VERSION, ... and its name ("TLSv1.3"). */
int tls_version(const tls_conn_t *c);
const char *tls_version_name(const tls_conn_t *c);

/* The negotiated cipher suite ("TLS_AES_256_GCM_SHA384"). */
const char *tls_cipher_name(const tls_conn_t *c);

/* The peer certificate's subject, one line ("CN=anprd-lanaken-1,O=..."); "" when none. */
void tls_peer_subject(const tls_conn_t *c, char *buf, size_t len);
/* The peer's address as "127.0.0.1:43512" ("" when unknown). */
const char *tls_peer_addr(const tls_conn_t *c);

/*
 * Make every wait of the calling thread (connect, handshake, read, write, wait_readable) also
 * watch fd: once fd is readable, the call fails at once with "Operation canceled" (ECANCELED).
 * For a thread that must stop promptly while connecting to a server that does not answer.
 * -1 (the default) turns it off. Thread-local: other threads are not affected.
 */
void tls_set_cancel_fd(int fd);

/* Sends close_notify (best effort, without waiting), closes the socket, frees; NULLs *c_p. */
void tls_close(tls_conn_t **c_p);

#endif
