/*
 * bbc: one TLS connection to the backbone, a window of unacknowledged ids, and the backoff.
 *
 * The window is a ring of (id, time sent) in send order. A cumulative ACK settles a prefix of
 * it; a NACK with an id marks that entry refused (the server counts it as settled, and its next
 * ACK covers it). Any failure drops the connection and empties the ring: the caller resends
 * everything after bbc_acked() from its queue, so nothing in flight is ever only here.
 */
#include "bbc.h"
#include "bb.h"
#include "tls.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WBUF 65536 /* frames are gathered into writes of up to this many bytes */

struct slot {
    uint64_t id;
    int64_t sent_us; /* monotonic time it was written, for the ACK timeout */
};

struct bbc {
    struct bbc_config cfg; /* strings point into the copies below */
    char *host, *port, *instance, *software;
    SSL_CTX *ctx;
    tls_conn_t *conn;    /* NULL when not connected */
    struct slot *ring;   /* cfg.window slots */
    size_t head, count;  /* oldest unsettled, and how many */
    uint64_t acked;      /* every id <= this is settled */
    uint64_t last_sent;  /* highest id written on this connection */
    uint64_t max_sent;   /* highest id ever written, to count resends */
    unsigned fails;      /* consecutive failures, for the backoff */
    int64_t next_try_us; /* monotonic time the next connect is due */
    uint64_t rng;        /* xorshift state for the jitter */
    uint8_t rbuf[BB_MAX_FRAME];
    uint8_t *wbuf;
    struct bbc_stats st;
};

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static uint64_t s_rand(bbc_t *self)
{
    uint64_t x = self->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    self->rng = x;
    return x;
}

/*
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so many
 * senders that lost the server at once do not come back in step, and none retries at once.
 */
static int64_t s_backoff_ms(bbc_t *self)
{
    int64_t d = self->cfg.backoff_min_ms;

    for (unsigned i = 1; i < self->fails && d < self->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > self->cfg.backoff_max_ms)
        d = self->cfg.backoff_max_ms;
    return d / 2 + (int64_t)(s_rand(self) % (uint64_t)(d / 2 + 1));
}

/* Drop the connection and everything in flight, note why, schedule the next attempt. -1. */
__attribute__((format(printf, 2, 3))) static int s_fail(bbc_t *self, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(self->st.last_failure, sizeof self->st.last_failure, fmt, ap);
    va_end(ap);
    tls_close(&self->conn);
    self->head = self->count = 0;
    self->last_sent = 0;
    self->fails++;
    self->st.failures++;
    self->next_try_us = util_mono_us() + s_backoff_ms(self) * 1000;
    return -1;
}

static int s_defaults(struct bbc_config *c, char *err, size_t errlen)
{
    if (c->host == NULL || c->port == NULL || c->ca_file == NULL || c->cert_file == NULL ||
        c->key_file == NULL || c->instance == NULL) {
        snprintf(err, errlen,
                 "backbone: host, port, CA, certificate, key and instance are "
                 "required");
        return -1;
    }
    if (c->window == 0)
        c->window = 256;
    if (c->window > BB_WINDOW_MAX) {
        snprintf(err, errlen, "backbone: window %u > %d", c->window, BB_WINDOW_MAX);
        return -1;
    }
    if (c->connect_timeout_ms <= 0)
        c->connect_timeout_ms = 10000;
    if (c->io_timeout_ms <= 0)
        c->io_timeout_ms = 10000;
    if (c->ack_timeout_ms <= 0)
        c->ack_timeout_ms = 30000;
    if (c->backoff_min_ms <= 0)
        c->backoff_min_ms = 500;
    if (c->backoff_max_ms <= 0)
        c->backoff_max_ms = 60000;
    if (c->backoff_max_ms < c->backoff_min_ms)
        c->backoff_max_ms = c->backoff_min_ms;
    return 0;
}

bbc_t *bbc_new(const struct bbc_config *cfg, char *err, size_t errlen)
{
    bbc_t *self = calloc(1, sizeof *self);
    struct bb_hello probe;

    if (self == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    if (s_defaults(&self->cfg, err, errlen) != 0)
        goto fail;
    self->host = s_dup(cfg->host);
    self->port = s_dup(cfg->port);
    self->instance = s_dup(cfg->instance);
    self->software = s_dup(cfg->software ? cfg->software : "");
    self->ring = calloc(self->cfg.window, sizeof *self->ring);
    self->wbuf = malloc(S_WBUF);
    if (!self->host || !self->port || !self->instance || !self->software || !self->ring ||
        !self->wbuf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    self->cfg.host = self->host;
    self->cfg.port = self->port;
    self->cfg.instance = self->instance;
    self->cfg.software = self->software;
    /* a HELLO that will not encode is a configuration error, found now rather than per try */
    memset(&probe, 0, sizeof probe);
    snprintf(probe.instance, sizeof probe.instance, "%s", self->instance);
    snprintf(probe.software, sizeof probe.software, "%s", self->software);
    if (strlen(self->instance) > BB_INSTANCE_MAX || strlen(self->software) > BB_SOFTWARE_MAX ||
        bb_encode_hello(&probe, self->rbuf, sizeof self->rbuf) == 0) {
        snprintf(err, errlen,
                 "backbone: instance name must be 1..%d of [A-Za-z0-9._:-], "
                 "software a line of at most %d bytes",
                 BB_INSTANCE_MAX, BB_SOFTWARE_MAX);
        goto fail;
    }
    self->ctx = tls_client_ctx_new(cfg->ca_file, cfg->cert_file, cfg->key_file, err, errlen);
    if (self->ctx == NULL)
        goto fail;
    if (cfg->crl_file != NULL && cfg->crl_file[0] != '\0' &&
        tls_ctx_set_crl(self->ctx, cfg->crl_file, err, errlen) != 0)
        goto fail;
    self->cfg.crl_file = NULL; /* loaded: the caller's string is not kept */
    self->rng = (uint64_t)util_mono_us() ^ (uint64_t)(uintptr_t)self ^ 0x9E3779B97F4A7C15ull;
    if (self->rng == 0)
        self->rng = 1;
    return self;
fail:
    bbc_destroy(&self);
    return NULL;
}

void bbc_destroy(bbc_t **self_p)
{
    bbc_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    tls_close(&self->conn);
    tls_ctx_destroy(&self->ctx);
    free(self->host);
    free(self->port);
    free(self->instance);
    free(self->software);
    free(self->ring);
    free(self->wbuf);
    free(self);
    *self_p = NULL;
}

/* Read one whole frame into rbuf: 0 (type, len set), or -1 with why filled. */
static int s_read_frame(bbc_t *self, int timeout_ms, uint8_t *type, size_t *len, char *why,
                        size_t wlen)
{
    struct bb_error e;
    int rc = tls_read_all(self->conn, self->rbuf, BB_HDR_LEN, timeout_ms, why, wlen);

    if (rc != 0)
        return -1;
    if (bb_header(self->rbuf, BB_HDR_LEN, type, len, &e) != 0) {
        snprintf(why, wlen, "bad frame from the server: %s", e.msg);
        return -1;
    }
    if (*len > BB_HDR_LEN && tls_read_all(self->conn, self->rbuf + BB_HDR_LEN, *len - BB_HDR_LEN,
                                          self->cfg.io_timeout_ms, why, wlen) != 0)
        return -1;
    return 0;
}

int bbc_connect(bbc_t *self)
{
    char why[512];
    struct bb_hello hello, theirs;
    struct bb_nack nack;
    struct bb_error e;
    uint8_t buf[BB_MAX_FRAME], type;
    size_t n, len;
    int64_t t0 = util_mono_us();
    int left;

    if (self->conn != NULL)
        return 0;
    self->conn = tls_connect(self->ctx, self->host, self->port, self->cfg.connect_timeout_ms, why,
                             sizeof why);
    if (self->conn == NULL)
        return s_fail(self, "%s", why);
    snprintf(self->st.tls_version, sizeof self->st.tls_version, "%s", tls_version_name(self->conn));
    snprintf(self->st.cipher, sizeof self->st.cipher, "%s", tls_cipher_name(self->conn));
    tls_peer_subject(self->conn, self->st.peer_subject, sizeof self->st.peer_subject);

    memset(&hello, 0, sizeof hello);
    hello.epoch = self->cfg.epoch;
    hello.window = self->cfg.window;
    snprintf(hello.instance, sizeof hello.instance, "%s", self->instance);
    snprintf(hello.software, sizeof hello.software, "%s", self->software);
    n = bb_encode_hello(&hello, buf, sizeof buf);
    left = self->cfg.connect_timeout_ms - (int)((util_mono_us() - t0) / 1000);
    if (left < 1)
        left = 1;
    if (tls_write_all(self->conn, buf, n, left, why, sizeof why) != 0)
        return s_fail(self, "sending HELLO: %s", why);
    left = self->cfg.connect_timeout_ms - (int)((util_mono_us() - t0) / 1000);
    if (left < 1)
        left = 1;
    if (s_read_frame(self, left, &type, &len, why, sizeof why) != 0)
        return s_fail(self, "waiting for the server's HELLO: %s", why);
    if (type == BB_NACK && bb_decode_nack(self->rbuf, len, &nack, &e) == 0)
        return s_fail(self, "server refused the connection: %s: %s",
                      bb_reason_name((enum bb_reason)nack.reason), nack.text);
    if (type != BB_HELLO)
        return s_fail(self, "server sent %s instead of HELLO", bb_type_name(type));
    if (bb_decode_hello(self->rbuf, len, &theirs, &e) != 0)
        return s_fail(self, "bad HELLO from the server: %s", e.msg);
    snprintf(self->st.server, sizeof self->st.server, "%s", theirs.instance);
    self->st.connects++;
    self->fails = 0;
    self->head = self->count = 0;
    self->last_sent = 0;
    return 0;
}

bool bbc_connected(const bbc_t *self)
{
    return self->conn != NULL;
}

int64_t bbc_retry_in_ms(const bbc_t *self)
{
    int64_t left = self->next_try_us - util_mono_us();

    return left <= 0 ? 0 : (left + 999) / 1000;
}

size_t bbc_window_free(const bbc_t *self)
{
    return self->conn == NULL ? 0 : self->cfg.window - self->count;
}

static int s_flush(bbc_t *self, size_t *fill)
{
    char why[512];

    if (*fill == 0)
        return 0;
    if (tls_write_all(self->conn, self->wbuf, *fill, self->cfg.io_timeout_ms, why, sizeof why) != 0)
        return s_fail(self, "%s", why);
    *fill = 0;
    return 0;
}

int bbc_send(bbc_t *self, const uint8_t *const *frames, const size_t *lens, size_t n)
{
    size_t take, fill = 0;
    int64_t now = util_mono_us();

    if (self->conn == NULL) {
        snprintf(self->st.last_failure, sizeof self->st.last_failure, "not connected");
        return -1;
    }
    take = n < bbc_window_free(self) ? n : bbc_window_free(self);
    for (size_t i = 0; i < take; i++) {
        uint64_t id = bb_frame_id(frames[i], lens[i]);
        struct slot *s;

        if (id == 0 || id <= self->last_sent || id <= self->acked)
            return s_fail(self, "frame %zu: id %llu is not a HIT/READ id above %llu", i,
                          (unsigned long long)id,
                          (unsigned long long)(self->last_sent > self->acked ? self->last_sent
                                                                             : self->acked));
        if (fill + lens[i] > S_WBUF && s_flush(self, &fill) != 0)
            return -1;
        memcpy(self->wbuf + fill, frames[i], lens[i]);
        fill += lens[i];
        s = &self->ring[(self->head + self->count) % self->cfg.window];
        s->id = id;
        s->sent_us = now;
        self->count++;
        self->last_sent = id;
        self->st.sent++;
        if (id <= self->max_sent)
            self->st.retried++;
        else
            self->max_sent = id;
    }
    if (s_flush(self, &fill) != 0)
        return -1;
    return (int)take;
}

/* Settle the ring entries up to `upto`. */
static void s_settle(bbc_t *self, uint64_t upto)
{
    while (self->count > 0 && self->ring[self->head].id <= upto) {
        self->head = (self->head + 1) % self->cfg.window;
        self->count--;
        self->st.acked++;
    }
    if (upto > self->acked)
        self->acked = upto;
}

static int s_handle(bbc_t *self, uint8_t type, size_t len)
{
    struct bb_error e;
    struct bb_nack nack;
    uint64_t upto;

    switch (type) {
    case BB_ACK:
        if (bb_decode_ack(self->rbuf, len, &upto, &e) != 0)
            return s_fail(self, "bad ACK from the server: %s", e.msg);
        if (upto > self->last_sent)
            return s_fail(self, "server acknowledged id %llu, above the last sent %llu",
                          (unsigned long long)upto, (unsigned long long)self->last_sent);
        s_settle(self, upto);
        return 0;
    case BB_NACK:
        if (bb_decode_nack(self->rbuf, len, &nack, &e) != 0)
            return s_fail(self, "bad NACK from the server: %s", e.msg);
        if (nack.id == 0)
            return s_fail(self, "server dropped the connection: %s: %s",
                          bb_reason_name((enum bb_reason)nack.reason), nack.text);
        self->st.refused++;
        if (self->cfg.on_refused)
            self->cfg.on_refused(nack.id, nack.reason, nack.text, self->cfg.arg);
        /* settled for good: when it is the oldest, it no longer holds the window */
        if (self->count > 0 && self->ring[self->head].id == nack.id)
            s_settle(self, nack.id);
        return 0;
    default:
        return s_fail(self, "server sent an unexpected %s", bb_type_name(type));
    }
}

int bbc_poll(bbc_t *self, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    char why[512];
    bool first = true;

    if (self->conn == NULL) {
        snprintf(self->st.last_failure, sizeof self->st.last_failure, "not connected");
        return -1;
    }
    for (;;) {
        int64_t now = util_mono_us(), until = first ? deadline : now;
        uint8_t type;
        size_t len;
        int rc;

        if (self->count > 0) {
            int64_t due = self->ring[self->head].sent_us + (int64_t)self->cfg.ack_timeout_ms * 1000;
            if (now >= due)
                return s_fail(self, "no acknowledgement within %d ms", self->cfg.ack_timeout_ms);
            if (due < until)
                until = due;
        }
        rc = tls_wait_readable(self->conn, until > now ? (int)((until - now + 999) / 1000) : 0, why,
                               sizeof why);
        if (rc < 0)
            return s_fail(self, "%s", why);
        if (rc == 0) {
            if (first && util_mono_us() < deadline)
                continue; /* woke for the ACK deadline: check it, then wait on */
            if (self->count > 0 && util_mono_us() >= self->ring[self->head].sent_us +
                                                         (int64_t)self->cfg.ack_timeout_ms * 1000)
                continue;
            return 0;
        }
        first = false;
        if (s_read_frame(self, self->cfg.io_timeout_ms, &type, &len, why, sizeof why) != 0)
            return s_fail(self, "%s", why);
        if (s_handle(self, type, len) != 0)
            return -1;
    }
}

uint64_t bbc_acked(const bbc_t *self)
{
    return self->acked;
}

size_t bbc_unacked(const bbc_t *self)
{
    return self->count;
}

const struct bbc_stats *bbc_stats(const bbc_t *self)
{
    return &self->st;
}
