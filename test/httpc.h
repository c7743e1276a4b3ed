/*
 * httpc: the smallest HTTP/1.0 client, for the tests of the metrics endpoint: one request on a
 * fresh TCP connection to an IPv4 address, the whole answer read until the server closes, every
 * wait bounded by a deadline. A plain socket on purpose: what is tested is the daemon's server.
 */
#ifndef ANPR_HTTPC_H
#define ANPR_HTTPC_H

#include <stddef.h>

struct httpc_reply {
    int status; /* from the status line */
    char *head; /* status line and headers, NUL-terminated (owned) */
    char *body; /* NUL-terminated (owned); may be empty */
    size_t len; /* body bytes */
};

/* Send `request` verbatim to ip:port and read the reply. 0, or -1 (connect failed, timeout, no
 * status line) with errors printed. */
int httpc_raw(const char *ip, int port, const char *request, int timeout_ms,
              struct httpc_reply *out);

/* "METHOD path HTTP/1.0" with Connection: close. Same returns. */
int httpc_request(const char *ip, int port, const char *method, const char *path, int timeout_ms,
                  struct httpc_reply *out);

/* The same from local address `from` (e.g. "127.0.0.2": another client on loopback). */
int httpc_request_from(const char *from, const char *ip, int port, const char *method,
                       const char *path, int timeout_ms, struct httpc_reply *out);

void httpc_reply_free(struct httpc_reply *r);

#endif
