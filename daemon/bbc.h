/*
 * bbc: the backbone client connection. Owns one TLS connection to the national backbone server
 * (proto/BACKBONE.md), sends encoded HIT and READ frames in order within a window, reads the
 * server's cumulative ACKs, and reconnects with exponential backoff and jitter.
 *
 * It keeps no copy of a message: the caller's durable queue does. The contract:
 *
 *   - give frames in strictly increasing id order (bb_frame_id());
 *   - bbc_acked() is the id up to which everything is settled (stored by the server, or refused
 *     for good with a NACK, reported through on_refused): the queue may drop those;
 *   - when a call returns -1 the connection is gone and everything sent but not settled must
 *     be sent again, oldest first, once bbc_connect() succeeds (bbc_resend_from() says where).
 *
 * A forwarder thread drives it like this:
 *
 *   for (;;) {
 *       if (!bbc_connected(c)) {
 *           wait up to bbc_retry_in_ms(c) (or until told to stop);
 *           if (bbc_connect(c) != 0) continue;    // reason in bbc_stats(c)->last_failure
 *           pos = first queued id > bbc_acked(c);  // resend all that is unsettled
 *       }
 *       n = frames from the queue at pos, at most bbc_window_free(c);
 *       if (n > 0 && (k = bbc_send(c, frames, lens, n)) < 0) continue;
 *       pos += k;
 *       if (bbc_poll(c, n > 0 ? 0 : 100) < 0) continue;
 *       commit the queue up to bbc_acked(c);
 *   }
 *
 * No call blocks longer than the configured io_timeout_ms (connect: connect_timeout_ms); none
 * sleeps for the backoff: bbc_retry_in_ms() says how long the caller should wait. Not thread
 * safe: one thread drives one bbc. Library module: never logs; the program must ignore SIGPIPE.
 */
#ifndef ANPR_BBC_H
#define ANPR_BBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bbc bbc_t;

struct bbc_config {
    const char *host;       /* backbone server, DNS name (verified, sent as SNI) or IP address */
    const char *port;       /* service or port number */
    const char *ca_file;    /* CA that signs the server certificate (PEM) */
    const char *cert_file;  /* our client certificate chain (PEM) */
    const char *key_file;   /* its key, unencrypted PEM */
    const char *crl_file;   /* CRL(s) the server certificate is checked against; NULL/"": none */
    const char *instance;   /* our name in HELLO, 1..64 of [A-Za-z0-9._:-] */
    const char *software;   /* "anprd 0.1.0", may be NULL */
    uint64_t epoch;         /* our id space (BACKBONE.md 6.1) */
    unsigned window;        /* most unacknowledged messages, 1..65535 (0: 256) */
    int connect_timeout_ms; /* TCP + TLS + HELLO exchange (0: 10000) */
    int io_timeout_ms;      /* one write or one frame read (0: 10000) */
    int ack_timeout_ms; /* oldest unacknowledged message older than this: reconnect (0: 30000) */
    int backoff_min_ms; /* first retry delay (0: 500) */
    int backoff_max_ms; /* delay cap (0: 60000) */
    /* a message the server refused for good (NACK with its id); may be NULL */
    void (*on_refused)(uint64_t id, unsigned reason, const char *text, void *arg);
    void *arg;
};

struct bbc_stats {
    uint64_t connects;      /* connections established (HELLO exchanged) */
    uint64_t failures;      /* failed connects and lost connections */
    uint64_t sent;          /* frames written, resends included */
    uint64_t acked;         /* messages settled by an ACK */
    uint64_t retried;       /* frames written again after a failure (ids sent before) */
    uint64_t refused;       /* messages refused for good (NACK with an id) */
    char last_failure[512]; /* why the last connect or connection failed, "" if none yet */
    char server[65];        /* the server's name from its HELLO */
    char tls_version[16];   /* "TLSv1.3" of the current or last connection */
    char cipher[64];        /* its cipher suite ("TLS_AES_256_GCM_SHA384") */
    char peer_subject[256]; /* the subject of its server certificate ("CN=...,O=...") */
};

/*
 * NULL with err filled when the configuration or the TLS files (CRL included) are unusable.
 * Copies cfg.
 */
bbc_t *bbc_new(const struct bbc_config *cfg, char *err, size_t errlen);
/* Closes the connection, frees; safe on NULL and twice, sets *self_p to NULL. */
void bbc_destroy(bbc_t **self_p);

/*
 * Connect, handshake, exchange HELLOs. 0, or -1 with stats.last_failure set and the next
 * attempt scheduled (bbc_retry_in_ms). Does not check the backoff: the caller waits first.
 */
int bbc_connect(bbc_t *self);
bool bbc_connected(const bbc_t *self);
/* Milliseconds until the next connect attempt is due (0: now). */
int64_t bbc_retry_in_ms(const bbc_t *self);

/* How many more frames bbc_send() takes now. */
size_t bbc_window_free(const bbc_t *self);

/*
 * Send frames (whole HIT/READ frames, ids increasing and above everything sent on this
 * connection). Takes at most bbc_window_free() of them and returns how many it took, or -1:
 * connection lost (or a frame without a valid id: err in last_failure), resend everything
 * unsettled after reconnecting.
 */
int bbc_send(bbc_t *self, const uint8_t *const *frames, const size_t *lens, size_t n);

/*
 * Read what the server sent, waiting up to timeout_ms for the first frame (0: only what is
 * there). Updates bbc_acked(). 0, or -1: connection lost (ACK overdue, NACK of the
 * connection, a bad frame, an I/O error), everything unsettled is to be resent.
 */
int bbc_poll(bbc_t *self, int timeout_ms);

/* Every id <= this is settled (0: nothing yet). Never decreases. */
uint64_t bbc_acked(const bbc_t *self);
/* Messages sent on this connection and not settled yet. */
size_t bbc_unacked(const bbc_t *self);

const struct bbc_stats *bbc_stats(const bbc_t *self);

#endif
