/*
 * fwd: the outbound spool, the epoch file and the forwarder thread; see fwd.h.
 *
 * The thread drives bbc as bbc.h describes. Besides the send cursor it keeps a ring of the
 * records it has read and not yet seen settled (position, append time, refused), in send order:
 * a cumulative ACK pops a prefix of it, and the last position popped is where the spool may be
 * checkpointed. A second, trailing cursor reads up to that position just before each checkpoint,
 * because spool_checkpoint() is cheap for the position a cursor returned last and otherwise has
 * to walk the segment's record headers to find the sequence number.
 */
#include "fwd.h"
#include "bb.h"
#include "bbc.h"
#include "config.h"
#include "log.h"
#include "lograte.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_FORMAT       1
#define S_REC_HDR      9    /* format byte and append time */
#define S_BATCH        64   /* frames handed to bbc_send at once */
#define S_CKPT_MS      100  /* at most one checkpoint (two fsyncs) per this while busy */
#define S_IDLE_MS      250  /* idle wait for new records; also how often a quiet link is polled */
#define S_BUSY_POLL_MS 10   /* wait for ACKs while messages are in flight */
#define S_RETRY_MS     1000 /* after a spool read error */
#define S_EPOCH_TMP    "epoch.tmp"
#define S_LOG_EVERY_S  60 /* one warning per failure reason per this long */

struct s_entry {
    uint64_t pos;      /* spool position = message id */
    int64_t append_us; /* when it was pushed (UTC µs) */
    bool settled;      /* refused for good or not a message: needs no ACK */
};

struct fwd {
    spool_t *sp;
    bbc_t *bbc;
    uint64_t epoch;
    char peer[300];  /* "host:port", for the log */
    lograte_t *rate; /* forwarder thread: failure warnings, per reason */
    uint64_t failed; /* forwarder thread: failed connects since the last connection */
    pthread_t thread;
    bool started;
    int wake[2]; /* written once by fwd_destroy: ends every wait of the thread */
    atomic_bool stop;

    /* Producer (ingest thread). */
    uint8_t pbuf[S_REC_HDR + BB_MAX_FRAME];
    _Atomic uint64_t pushed, full;

    /* Forwarder thread. */
    spool_cursor_t *rd;   /* send cursor; NULL: to be made from rd_from */
    spool_cursor_t *tr;   /* trailing cursor for checkpoints */
    uint64_t rd_from;     /* where a new send cursor starts */
    int64_t rd_retry_us;  /* not before this (monotonic) after a spool read error */
    struct s_entry *ring; /* read, not yet settled, in position order */
    size_t rcap, rhead, rcount;
    uint64_t acked_pos; /* every record <= this is settled */
    uint64_t ckpt_pos;  /* the spool is checkpointed here */
    int64_t ckpt_us;    /* monotonic time of the last checkpoint */
    int64_t oldest_us;  /* append time of the oldest unsettled record while disconnected */
    uint64_t peek_dur;  /* durable position the last look for it saw */
    uint64_t *refused;  /* refused ids above acked_pos: never sent again */
    size_t nrefused, refused_cap;
    uint64_t delivered, spool_errors;
    uint8_t *batch; /* S_BATCH frames of BB_MAX_FRAME bytes */
    const uint8_t *frames[S_BATCH];
    size_t lens[S_BATCH];
    char last_refused[256], last_spool_error[256];

    /* What fwd_stats() shows of the thread's state. */
    pthread_mutex_t mu;
    struct fwd_stats pub;
    int64_t pub_oldest_us;
};

static void s_put64be(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t s_get64be(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- the epoch file ---- */

static int s_write_epoch(int dirfd, const char *dir, uint64_t epoch, char *err, size_t errlen)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", epoch);
    int fd = openat(dirfd, S_EPOCH_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

    if (fd < 0)
        goto fail;
    if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        int saved = errno ? errno : EIO;
        close(fd);
        errno = saved;
        goto fail;
    }
    close(fd);
    /* the rename and its directory entry must be durable before any id of the epoch is used */
    if (renameat(dirfd, S_EPOCH_TMP, dirfd, FWD_EPOCH_FILE) != 0 || fsync(dirfd) != 0)
        goto fail;
    return 0;
fail:
    util_errf(err, errlen, "backbone spool: write %s/%s: %s", dir, FWD_EPOCH_FILE, strerror(errno));
    return -1;
}

/*
 * Keep the epoch of the file while the spool holds something; otherwise (positions start again
 * from 0) or without a readable file, make a new one, later than the old one.
 */
static int s_epoch(fwd_t *self, const char *dir, char *err, size_t errlen)
{
    struct spool_stats st;
    char path[4096], line[32];
    size_t len = 0;
    char *data;
    long long old = 0;
    uint64_t epoch;
    int dirfd, rc;

    snprintf(path, sizeof path, "%s/%s", dir, FWD_EPOCH_FILE);
    data = util_read_file(path, &len);
    if (data != NULL) {
        size_t n = strcspn(data, "\n");
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), data);
        if (util_parse_long(line, 1, INT64_MAX, &old) != 0)
            old = 0;
        free(data);
    }
    spool_stats(self->sp, &st);
    if (old > 0 && (st.durable_pos > 0 || st.checkpoint_pos > 0)) {
        self->epoch = (uint64_t)old;
        return 0;
    }
    epoch = (uint64_t)util_now_us();
    if (old > 0 && epoch <= (uint64_t)old)
        epoch = (uint64_t)old + 1; /* a clock set back must not give an old epoch again */
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        util_errf(err, errlen, "backbone spool: open %s: %s", dir, strerror(errno));
        return -1;
    }
    rc = s_write_epoch(dirfd, dir, epoch, err, errlen);
    close(dirfd);
    if (rc == 0)
        self->epoch = epoch;
    return rc;
}

/* ---- producer ---- */

static int s_append(fwd_t *self, size_t flen, char *err, size_t errlen)
{
    int rc;

    self->pbuf[0] = S_FORMAT;
    s_put64be(self->pbuf + 1, (uint64_t)util_now_us());
    rc = spool_append(self->sp, self->pbuf, S_REC_HDR + flen, NULL);
    if (rc == SPOOL_OK) {
        atomic_fetch_add_explicit(&self->pushed, 1, memory_order_relaxed);
        return FWD_OK;
    }
    if (rc == SPOOL_FULL) {
        atomic_fetch_add_explicit(&self->full, 1, memory_order_relaxed);
        util_errf(err, errlen, "backbone spool %s is full: the server has not acknowledged enough",
                  spool_dir(self->sp));
        return FWD_FULL;
    }
    util_errf(err, errlen, "backbone spool %s: %s", spool_dir(self->sp), strerror(errno));
    return FWD_ERR;
}

/*
 * Make a line field (list name, external reference) one the backbone format carries: each
 * control character (C0, DEL, C1) and each byte that is not well-formed UTF-8 becomes U+FFFD,
 * and the result is cut at a character boundary to max bytes. These texts come from admins,
 * and rows stored before the database refused control characters may hold them; a HIT the
 * encoder refused would keep its list's HITs from the backbone for good, so the text is
 * mended here and the format (and the server's decoder) stays strict.
 */
static void s_line_clean(char *s, size_t max)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    char out[256];
    size_t n = strlen(s), len = 0;

    if (max >= sizeof out)
        max = sizeof out - 1;
    for (size_t i = 0; i < n && len < max;) {
        size_t at = 0, k;
        uint32_t cp = 0;
        enum proto_utf8 r = proto_utf8_scan((const uint8_t *)s + i, n - i, true, &at, &cp);
        size_t good = r == PROTO_UTF8_OK ? n - i : at;

        k = good < max - len ? good : max - len;
        while (k < good && k > 0 && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k--; /* not into the middle of a character */
        memcpy(out + len, s + i, k);
        len += k;
        if (r == PROTO_UTF8_OK || k < good || len + 3 > max)
            break;
        memcpy(out + len, fffd, 3);
        len += 3;
        i += at + (r == PROTO_UTF8_CONTROL && cp >= 0x80 ? 2 : 1); /* a C1 control: 2 bytes */
    }
    memcpy(s, out, len);
    s[len] = '\0';
}

int fwd_push_hit(fwd_t *self, const struct proto_hit *hit, const char *plate_norm, unsigned flags,
                 char *err, size_t errlen)
{
    struct bb_hit h;
    size_t n;

    /* id 1 is a placeholder: the thread writes the record's position in when it sends */
    if (bb_hit_from_proto(hit, 1, plate_norm, &h) != 0) {
        util_errf(err, errlen, "backbone: HIT without a normalised plate");
        return FWD_ERR;
    }
    s_line_clean(h.list, PROTO_LIST_MAX);
    s_line_clean(h.external_ref, PROTO_REF_MAX);
    h.flags = (uint8_t)flags;
    n = bb_encode_hit(&h, self->pbuf + S_REC_HDR, BB_MAX_FRAME);
    if (n == 0) {
        util_errf(err, errlen,
                  "backbone: the HIT of camera %s seq %" PRIu64 " (entry %" PRIu64
                  ") breaks a rule of the backbone format",
                  h.camera, h.seq, h.entry_id);
        return FWD_ERR;
    }
    return s_append(self, n, err, errlen);
}

int fwd_push_read(fwd_t *self, const struct proto_read *read, const char *plate_norm, char *err,
                  size_t errlen)
{
    struct bb_read r;
    size_t n;

    memset(&r, 0, sizeof r);
    r.id = 1;
    r.seq = read->seq;
    r.time_us = read->time_us;
    r.confidence = read->confidence;
    r.lane = read->lane;
    r.direction = read->direction;
    snprintf(r.camera, sizeof r.camera, "%s", read->camera);
    snprintf(r.plate, sizeof r.plate, "%s", read->plate);
    snprintf(r.plate_norm, sizeof r.plate_norm, "%s", plate_norm ? plate_norm : "");
    snprintf(r.country, sizeof r.country, "%s", read->country);
    snprintf(r.image_ref, sizeof r.image_ref, "%s", read->image_ref);
    n = bb_encode_read(&r, self->pbuf + S_REC_HDR, BB_MAX_FRAME);
    if (n == 0) {
        util_errf(err, errlen,
                  "backbone: the read of camera %s seq %" PRIu64 " breaks a rule of the backbone "
                  "format",
                  r.camera, r.seq);
        return FWD_ERR;
    }
    return s_append(self, n, err, errlen);
}

int fwd_commit(fwd_t *self, char *err, size_t errlen)
{
    return spool_commit(self->sp, NULL, err, errlen) == SPOOL_OK ? FWD_OK : FWD_ERR;
}

/* ---- forwarder thread ---- */

__attribute__((format(printf, 2, 3))) static void s_spool_error(fwd_t *self, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(self->last_spool_error, sizeof self->last_spool_error, fmt, ap);
    va_end(ap);
    self->spool_errors++;
}

static bool s_stopping(fwd_t *self)
{
    return atomic_load_explicit(&self->stop, memory_order_acquire);
}

/* Wait ms, or less when told to stop; true when stopping. */
static bool s_sleep(fwd_t *self, int64_t ms)
{
    struct pollfd p = {.fd = self->wake[0], .events = POLLIN};

    if (ms > 0)
        poll(&p, 1, ms > 60000 ? 60000 : (int)ms);
    return s_stopping(self);
}

static void s_publish(fwd_t *self)
{
    const struct bbc_stats *b = bbc_stats(self->bbc);
    int64_t oldest = self->rcount > 0           ? self->ring[self->rhead].append_us
                     : bbc_connected(self->bbc) ? 0
                                                : self->oldest_us;

    pthread_mutex_lock(&self->mu);
    self->pub.delivered = self->delivered;
    self->pub.sent = b->sent;
    self->pub.retried = b->retried;
    self->pub.refused = b->refused;
    self->pub.connects = b->connects;
    self->pub.failures = b->failures;
    self->pub.spool_errors = self->spool_errors;
    self->pub.acked_id = self->acked_pos;
    self->pub.connected = bbc_connected(self->bbc);
    memcpy(self->pub.last_failure, b->last_failure, sizeof self->pub.last_failure);
    memcpy(self->pub.last_refused, self->last_refused, sizeof self->pub.last_refused);
    memcpy(self->pub.last_spool_error, self->last_spool_error, sizeof self->pub.last_spool_error);
    memcpy(self->pub.server, b->server, sizeof self->pub.server);
    memcpy(self->pub.tls_version, b->tls_version, sizeof self->pub.tls_version);
    self->pub_oldest_us = oldest;
    pthread_mutex_unlock(&self->mu);
}

/*
 * A failed connect or a lost connection, with bbc's reason: a warning, at most one per reason
 * per S_LOG_EVERY_S, so a server that refuses every attempt shows at log.level warn without
 * flooding it. Not while stopping: then the failure is ours (the wait was cancelled).
 */
static void s_log_failure(fwd_t *self, const char *what)
{
    const char *why = bbc_stats(self->bbc)->last_failure;
    uint64_t held = 0;

    if (s_stopping(self) || !lograte_pass(self->rate, why, util_mono_us(), &held))
        return;
    if (held > 0)
        log_warn("backbone", "%s: %s (%" PRIu64 " more of these since the last such line)", what,
                 why, held);
    else
        log_warn("backbone", "%s: %s", what, why);
}

/* Connected: whom to (the certificate's subject), how (TLS version, cipher). */
static void s_log_connected(fwd_t *self)
{
    const struct bbc_stats *b = bbc_stats(self->bbc);

    if (self->failed > 0)
        log_info("backbone",
                 "connected to %s (server %s) after %" PRIu64
                 " failed attempts: %s %s, certificate %s",
                 self->peer, b->server, self->failed, b->tls_version, b->cipher, b->peer_subject);
    else
        log_info("backbone", "connected to %s (server %s): %s %s, certificate %s", self->peer,
                 b->server, b->tls_version, b->cipher, b->peer_subject);
    self->failed = 0;
}

static bool s_is_refused(const fwd_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->nrefused; i++)
        if (self->refused[i] == id)
            return true;
    return false;
}

/* bbc: the server refused one message for good (we are inside bbc_poll, on the thread). */
static void s_on_refused(uint64_t id, unsigned reason, const char *text, void *arg)
{
    fwd_t *self = arg;

    snprintf(self->last_refused, sizeof self->last_refused, "id %" PRIu64 ": %s: %s", id,
             bb_reason_name((enum bb_reason)reason), text);
    for (size_t i = 0; i < self->rcount; i++) {
        struct s_entry *e = &self->ring[(self->rhead + i) % self->rcap];
        if (e->pos == id)
            e->settled = true;
    }
    if (s_is_refused(self, id))
        return;
    if (self->nrefused == self->refused_cap) {
        size_t cap = self->refused_cap ? self->refused_cap * 2 : 16;
        uint64_t *n = realloc(self->refused, cap * sizeof *n);
        if (n == NULL)
            return; /* then it may be sent again after a reconnect, and refused again */
        self->refused = n;
        self->refused_cap = cap;
    }
    self->refused[self->nrefused++] = id;
}

/*
 * Checkpoint the spool at pos, a record position. The trailing cursor is brought to exactly
 * that record first, which makes spool_checkpoint() cheap; if it cannot be, the slow path is
 * taken (still correct) and the cursor starts again there.
 */
static void s_checkpoint(fwd_t *self, uint64_t pos)
{
    char err[512];
    const void *data;
    size_t len;
    uint64_t at = 0;
    int rc = 0;

    if (self->tr == NULL)
        self->tr = spool_cursor_new(self->sp, self->ckpt_pos, NULL, 0);
    while (self->tr != NULL && (rc = spool_read(self->tr, &data, &len, &at, NULL, NULL, 0)) == 1 &&
           at < pos)
        ;
    if (self->tr == NULL || rc != 1 || at != pos) {
        spool_cursor_destroy(&self->tr);
        self->tr = spool_cursor_new(self->sp, pos, NULL, 0);
    }
    if (spool_checkpoint(self->sp, pos, err, sizeof err) != SPOOL_OK) {
        s_spool_error(self, "%s", err);
        spool_cursor_destroy(&self->tr); /* the next attempt starts over */
        return;
    }
    self->ckpt_pos = pos;
    self->ckpt_us = util_mono_us();
}

static void s_maybe_checkpoint(fwd_t *self, bool now)
{
    if (self->acked_pos <= self->ckpt_pos)
        return;
    if (!now && util_mono_us() - self->ckpt_us < S_CKPT_MS * 1000)
        return;
    s_checkpoint(self, self->acked_pos);
}

/* Pop what the server settled: acknowledged, or refused for good. */
static void s_settle(fwd_t *self)
{
    uint64_t acked = bbc_acked(self->bbc);
    size_t keep = 0;

    while (self->rcount > 0) {
        struct s_entry *e = &self->ring[self->rhead];
        if (e->pos > acked && !e->settled)
            break;
        if (!e->settled)
            self->delivered++;
        if (e->pos > self->acked_pos)
            self->acked_pos = e->pos;
        self->rhead = (self->rhead + 1) % self->rcap;
        self->rcount--;
    }
    for (size_t i = 0; i < self->nrefused; i++)
        if (self->refused[i] > self->acked_pos)
            self->refused[keep++] = self->refused[i];
    self->nrefused = keep;
    if (self->rcount == 0) {
        self->oldest_us = 0;
        self->peek_dur = 0;
    }
}

static void s_ring_push(fwd_t *self, uint64_t pos, int64_t append_us, bool settled)
{
    struct s_entry *e = &self->ring[(self->rhead + self->rcount) % self->rcap];

    e->pos = pos;
    e->append_us = append_us;
    e->settled = settled;
    self->rcount++;
}

/* The connection is gone: what was in flight is to be sent again from acked_pos. */
static void s_lost(fwd_t *self)
{
    /* the call that failed may have read an ACK first: bbc_acked() outlives the connection */
    s_settle(self);
    if (self->rcount > 0)
        self->oldest_us = self->ring[self->rhead].append_us;
    self->rhead = self->rcount = 0;
    spool_cursor_destroy(&self->rd);
}

/* While disconnected: the append time of the oldest unsettled record, for the age metric. */
static void s_peek_oldest(fwd_t *self)
{
    uint64_t dur = spool_durable(self->sp), pos;
    spool_cursor_t *c;
    const void *data;
    size_t len;

    if (self->oldest_us != 0 || dur <= self->acked_pos || dur == self->peek_dur)
        return;
    self->peek_dur = dur;
    c = spool_cursor_new(self->sp, self->acked_pos, NULL, 0);
    if (c != NULL && spool_read(c, &data, &len, &pos, NULL, NULL, 0) == 1 && len >= S_REC_HDR)
        self->oldest_us = (int64_t)s_get64be((const uint8_t *)data + 1);
    spool_cursor_destroy(&c);
}

/*
 * Read up to max records into the batch (ids written in). Records that need no sending
 * (refused before, or not a message) go into the ring as settled. The number of frames, with
 * *drained set when the cursor reached the end of what is durable.
 */
static size_t s_fill(fwd_t *self, size_t max, bool *drained)
{
    size_t n = 0;

    *drained = false;
    if (self->rd == NULL) {
        char err[512];
        if (util_mono_us() < self->rd_retry_us)
            return 0;
        self->rd = spool_cursor_new(self->sp, self->rd_from, err, sizeof err);
        if (self->rd == NULL) {
            s_spool_error(self, "%s", err);
            self->rd_retry_us = util_mono_us() + S_RETRY_MS * 1000;
            return 0;
        }
    }
    while (n < max && self->rcount < self->rcap) {
        const uint8_t *rec;
        const void *data;
        size_t len, flen, whole;
        uint64_t pos;
        uint8_t type;
        char err[512];
        int rc = spool_read(self->rd, &data, &len, &pos, NULL, err, sizeof err);

        if (rc == 0) {
            *drained = true;
            break;
        }
        if (rc < 0) {
            /* a record damaged since it was verified, or an I/O error: try again later */
            s_spool_error(self, "%s", err);
            spool_cursor_destroy(&self->rd);
            self->rd_retry_us = util_mono_us() + S_RETRY_MS * 1000;
            break;
        }
        self->rd_from = pos;
        rec = data;
        flen = len >= S_REC_HDR ? len - S_REC_HDR : 0;
        if (len < S_REC_HDR || rec[0] != S_FORMAT ||
            bb_header(rec + S_REC_HDR, flen, &type, &whole, NULL) != 0 || whole != flen ||
            (type != BB_HIT && type != BB_READ) || flen < BB_HDR_LEN + 8 || pos > INT64_MAX) {
            s_spool_error(self,
                          "backbone spool: record at position %" PRIu64
                          " is not a backbone message: skipped",
                          pos);
            s_ring_push(self, pos, 0, true);
            continue;
        }
        if (pos <= bbc_acked(self->bbc)) {
            /* settled already (bbc refuses to send it again): s_settle pops it */
            s_ring_push(self, pos, (int64_t)s_get64be(rec + 1), false);
            continue;
        }
        if (s_is_refused(self, pos)) {
            s_ring_push(self, pos, (int64_t)s_get64be(rec + 1), true);
            continue;
        }
        uint8_t *f = self->batch + n * BB_MAX_FRAME;
        memcpy(f, rec + S_REC_HDR, flen);
        s_put64be(f + BB_HDR_LEN, pos); /* the id: HIT and READ carry it right after the header */
        self->lens[n] = flen;
        s_ring_push(self, pos, (int64_t)s_get64be(rec + 1), false);
        n++;
    }
    return n;
}

static void *s_run(void *arg)
{
    fwd_t *self = arg;

    tls_set_cancel_fd(self->wake[0]);
    self->acked_pos = self->ckpt_pos = self->rd_from = spool_checkpointed(self->sp);
    self->ckpt_us = util_mono_us();
    while (!s_stopping(self)) {
        uint64_t dur;
        size_t n = 0, max;
        bool drained = false;
        int rc;

        if (!bbc_connected(self->bbc)) {
            s_lost(self);
            s_peek_oldest(self);
            s_publish(self);
            if (s_sleep(self, bbc_retry_in_ms(self->bbc)))
                break;
            if (bbc_connect(self->bbc) != 0) {
                self->failed++;
                s_log_failure(self, "cannot connect");
                continue;
            }
            s_log_connected(self);
            /* resend everything after what is settled, oldest first */
            self->rd_from = self->acked_pos;
            self->rd_retry_us = 0;
        }
        dur = spool_durable(self->sp); /* before reading: nothing up to it is missed by a wait */
        max = bbc_window_free(self->bbc);
        if (max > S_BATCH)
            max = S_BATCH;
        n = s_fill(self, max, &drained);
        /* n <= bbc_window_free(): bbc_send takes all of them or fails */
        if (n > 0 && bbc_send(self->bbc, self->frames, self->lens, n) < 0) {
            s_log_failure(self, "connection lost");
            continue;
        }
        if (n == 0 && self->rcount == 0 && drained) {
            /* idle: wait for a commit (spool_wait wakes at once), then look at the link */
            s_maybe_checkpoint(self, true);
            s_publish(self);
            if (s_stopping(self))
                break;
            spool_wait(self->sp, dur, S_IDLE_MS);
            rc = bbc_poll(self->bbc, 0);
        } else {
            rc = bbc_poll(self->bbc, n > 0 ? 0 : S_BUSY_POLL_MS);
        }
        if (rc < 0) {
            s_log_failure(self, "connection lost");
            continue;
        }
        s_settle(self);
        s_maybe_checkpoint(self, self->rcount == 0);
        s_publish(self);
    }
    /* what the server acknowledged need not be sent again by the next run */
    s_maybe_checkpoint(self, true);
    if (bbc_connected(self->bbc))
        s_lost(self);
    s_publish(self);
    spool_cursor_destroy(&self->rd);
    spool_cursor_destroy(&self->tr);
    return NULL;
}

/* ---- life cycle ---- */

fwd_t *fwd_new(const struct fwd_opts *opts, struct spool_report *report, char *err, size_t errlen)
{
    struct spool_opts so = {.segment_bytes = opts->segment_bytes, .max_bytes = opts->max_bytes};
    struct bbc_config bc;
    fwd_t *self = calloc(1, sizeof *self);
    bool mu_ok = false;
    unsigned window = opts->window ? opts->window : 256;

    if (self == NULL) {
        util_errf(err, errlen, "out of memory");
        return NULL;
    }
    self->wake[0] = self->wake[1] = -1;
    atomic_init(&self->stop, false);
    atomic_init(&self->pushed, 0);
    atomic_init(&self->full, 0);
    if (opts->spool_dir == NULL || opts->spool_dir[0] == '\0') {
        util_errf(err, errlen, "backbone: a spool directory is required");
        goto fail;
    }
    if (pthread_mutex_init(&self->mu, NULL) != 0) {
        util_errf(err, errlen, "backbone: cannot initialise a lock");
        goto fail;
    }
    mu_ok = true;
    if (pipe2(self->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        util_errf(err, errlen, "backbone: pipe: %s", strerror(errno));
        goto fail;
    }
    self->rcap = 2 * (size_t)window + S_BATCH;
    self->ring = calloc(self->rcap, sizeof *self->ring);
    self->batch = malloc((size_t)S_BATCH * BB_MAX_FRAME);
    if (self->ring == NULL || self->batch == NULL) {
        util_errf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < S_BATCH; i++)
        self->frames[i] = self->batch + i * BB_MAX_FRAME;

    struct spool_report scratch;
    if (report == NULL)
        report = &scratch;
    self->sp = spool_open(opts->spool_dir, &so, report, err, errlen);
    if (self->sp == NULL)
        goto fail;
    self->pub.lost = report->damaged_records;
    if (s_epoch(self, opts->spool_dir, err, errlen) != 0)
        goto fail;

    memset(&bc, 0, sizeof bc);
    bc.host = opts->host;
    bc.port = opts->port;
    bc.ca_file = opts->ca_file;
    bc.cert_file = opts->cert_file;
    bc.key_file = opts->key_file;
    bc.crl_file = opts->crl_file;
    bc.instance = opts->instance;
    bc.software = opts->software ? opts->software : "anprd " ANPR_VERSION;
    bc.epoch = self->epoch;
    bc.window = window;
    bc.connect_timeout_ms = opts->connect_timeout_ms;
    bc.io_timeout_ms = opts->io_timeout_ms;
    bc.ack_timeout_ms = opts->ack_timeout_ms;
    bc.backoff_min_ms = opts->backoff_min_ms;
    bc.backoff_max_ms = opts->backoff_max_ms;
    bc.on_refused = s_on_refused;
    bc.arg = self;
    self->bbc = bbc_new(&bc, err, errlen);
    if (self->bbc == NULL)
        goto fail;
    self->rate = lograte_new((int64_t)S_LOG_EVERY_S * 1000000);
    if (self->rate == NULL) {
        util_errf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(self->peer, sizeof self->peer, "%s:%s", opts->host ? opts->host : "",
             opts->port ? opts->port : "");

    self->pub.epoch = self->epoch;
    self->pub.acked_id = spool_checkpointed(self->sp);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        util_errf(err, errlen, "backbone: cannot start the forwarder thread");
        goto fail;
    }
    self->started = true;
    return self;
fail:
    if (!mu_ok) {
        free(self);
        return NULL;
    }
    fwd_destroy(&self);
    return NULL;
}

void fwd_destroy(fwd_t **self_p)
{
    fwd_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    if (self->started) {
        atomic_store_explicit(&self->stop, true, memory_order_release);
        /* ends the backoff sleep and every TLS wait of the thread (tls_set_cancel_fd) */
        if (write(self->wake[1], "x", 1) < 0) {
            /* the pipe is empty and non-blocking: cannot fail; the flag is set anyway */
        }
        spool_wake(self->sp);
        pthread_join(self->thread, NULL);
    }
    bbc_destroy(&self->bbc);
    lograte_destroy(&self->rate);
    spool_destroy(&self->sp);
    for (int i = 0; i < 2; i++)
        if (self->wake[i] >= 0)
            close(self->wake[i]);
    pthread_mutex_destroy(&self->mu);
    free(self->ring);
    free(self->batch);
    free(self->refused);
    free(self);
    *self_p = NULL;
}

void fwd_stats(fwd_t *self, struct fwd_stats *out)
{
    struct spool_stats ss;
    int64_t oldest;

    spool_stats(self->sp, &ss);
    pthread_mutex_lock(&self->mu);
    *out = self->pub;
    oldest = self->pub_oldest_us;
    pthread_mutex_unlock(&self->mu);
    out->queued_records = ss.depth_records;
    out->queued_bytes = ss.depth_bytes;
    out->buffered = ss.buffered;
    out->pushed = atomic_load_explicit(&self->pushed, memory_order_relaxed);
    out->full = atomic_load_explicit(&self->full, memory_order_relaxed);
    out->lost += ss.live_lost; /* damage met while running, set aside and skipped */
    out->oldest_age_us = 0;
    if (oldest > 0 && ss.depth_records > 0) {
        int64_t age = util_now_us() - oldest;
        out->oldest_age_us = age > 0 ? age : 1;
    }
}
