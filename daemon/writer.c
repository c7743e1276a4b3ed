#include "writer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "db.h"
#include "log.h"
#include "lograte.h"
#include "spool.h"
#include "util.h"

/* How often the partitions ahead of today are checked while idle. */
#define WRITER_MAINT_US (3600LL * 1000000)
/*
 * Spool mode: a checkpoint comes at most this long after the one before, not after every stored
 * batch (at stop, at once). Each checkpoint is
 * two fsyncs (the file, its directory) on the disk where ingest's group commits wait for theirs,
 * and a HIT with them; a checkpoint a little behind only means a few more reads stored again
 * (as resends, once) after a crash.
 */
#define WRITER_CKPT_US (100LL * 1000)

struct writer {
    void *ctx;
    char *endpoint;
    char *conninfo;
    int reconnect_max_ms;
    int ahead_days;
    pthread_t thread;
    atomic_bool stopping; /* set by writer_destroy: give up retrying a batch */
    PGconn *conn;
    /* writer_destroy cancels a statement that hangs through this. */
    struct db_cancel cancel;
    /* Days whose partition is known to exist: [days_lo, days_hi]. */
    int32_t days_lo, days_hi;
    int64_t next_maint_us; /* monotonic time of the next check of the days ahead */
    spool_t *spool;        /* spool mode: the spool we drain, or NULL */
    int batch_size;
    pthread_mutex_t counts_lock; /* spool mode: counts, read by ingest for its stats */
    struct writer_counts counts;
    /* The writer thread's repeated lines (a failing checkpoint, reads refused one by one):
     * one per format per interval, with the count of those held back (log.h log_rated). */
    lograte_t *rate;
};

/* A line that may come once per batch, read or retry. */
#define S_LOG(self, level, ...) log_rated((self)->rate, level, "writer", __VA_ARGS__)

/* ensure_partitions takes at most this many days at once. */
#define WRITER_MAX_DAYS 400

int writer_send_batch(void *pair, struct batch *batch)
{
    return zmq_send(pair, &batch, sizeof batch, 0) == (int)sizeof batch ? 0 : -1;
}

struct batch *writer_recv_batch(void *pair)
{
    struct batch *batch = NULL;

    if (zmq_recv(pair, &batch, sizeof batch, 0) != (int)sizeof batch)
        return NULL;
    return batch;
}

/* Sleep in short slices so a stop request is not kept waiting by a long backoff. */
static void s_sleep_ms(writer_t *self, int ms)
{
    while (ms > 0 && !atomic_load(&self->stopping)) {
        int slice = ms > 100 ? 100 : ms;
        struct timespec ts = {0, (long)slice * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= slice;
    }
}

static void s_disconnect(writer_t *self)
{
    db_cancel_arm(&self->cancel, NULL);
    PQfinish(self->conn);
    self->conn = NULL;
    self->days_lo = 1;
    self->days_hi = 0; /* empty: look at the partitions again after a reconnect */
    self->next_maint_us = 0;
}

/* Connect and prepare the session; 0 or -1 (logged). */
static int s_connect(writer_t *self)
{
    struct db_error err;

    self->conn = db_connect(self->conninfo, "anprd", &err);
    if (!self->conn || db_prepare_writer(self->conn, &err) != 0) {
        S_LOG(self, LOG_LEVEL_WARN, "database: %s", err.msg);
        s_disconnect(self);
        return -1;
    }
    db_cancel_arm(&self->cancel, self->conn);
    return 0;
}

/* Make sure partitions exist for days [first, last], in chunks the function accepts. */
static int s_ensure(writer_t *self, int32_t first, int32_t last, struct db_error *err)
{
    for (int32_t d = first; d <= last; d += WRITER_MAX_DAYS) {
        int32_t to = last - d >= WRITER_MAX_DAYS ? d + WRITER_MAX_DAYS - 1 : last;
        if (db_ensure_partitions(self->conn, d, to, err) != 0)
            return -1;
    }
    /* Remember the run of known days when the new one touches it. */
    if (self->days_lo > self->days_hi ||
        (first <= self->days_hi + 1 && last >= self->days_lo - 1)) {
        bool empty = self->days_lo > self->days_hi;
        self->days_lo = empty || first < self->days_lo ? first : self->days_lo;
        self->days_hi = empty || last > self->days_hi ? last : self->days_hi;
    }
    return 0;
}

/* Yesterday to the days ahead, at (re)connect and hourly. 0 or -1 with err. */
static int s_maintain(writer_t *self, struct db_error *err)
{
    int32_t today = batch_day(util_now_us());

    if (util_mono_us() < self->next_maint_us && self->days_lo <= today - 1 &&
        self->days_hi >= today + self->ahead_days)
        return 0;
    if (s_ensure(self, today - 1, today + self->ahead_days, err) != 0)
        return -1;
    self->next_maint_us = util_mono_us() + WRITER_MAINT_US;
    return 0;
}

/* The partitions a batch needs. 0 or -1 with err. */
static int s_partitions(writer_t *self, const struct batch *batch, struct db_error *err)
{
    if (s_maintain(self, err) != 0)
        return -1;
    if (batch->nreads == 0 || (batch->min_day >= self->days_lo && batch->max_day <= self->days_hi))
        return 0;
    return s_ensure(self, batch->min_day, batch->max_day, err);
}

/* Back off before the next attempt: doubles up to the ceiling. */
static void s_backoff(writer_t *self, int *backoff_ms)
{
    log_rated_flush(self->rate, "writer", false);
    s_sleep_ms(self, *backoff_ms);
    *backoff_ms =
        *backoff_ms * 2 > self->reconnect_max_ms ? self->reconnect_max_ms : *backoff_ms * 2;
}

/* After a failure: drop a broken session; say whether the error is worth retrying. */
static bool s_failed(writer_t *self, struct batch *batch, const struct db_error *err)
{
    bool transient = db_error_transient(self->conn, err);

    batch->db_errors++;
    if (self->conn && PQstatus(self->conn) != CONNECTION_OK)
        s_disconnect(self);
    return transient;
}

/*
 * The database refused the batch for its data (a value it will never take): store the reads one
 * by one, so the good ones are kept and acknowledged and only the bad ones are refused.
 */
static void s_commit_rows(writer_t *self, struct batch *batch)
{
    int backoff_ms = 100;
    struct db_error err;

    batch->stored = 0;
    batch->hits_stored = 0;
    batch->conflicts = 0;
    for (size_t i = 0; i < batch->nreads && !atomic_load(&self->stopping);) {
        struct batch_ack *a = &batch->acks[i];
        if (!self->conn && s_connect(self) != 0) {
            batch->db_errors++;
            s_backoff(self, &backoff_ms);
            continue;
        }
        if (s_ensure(self, a->day, a->day, &err) == 0 &&
            db_write_one(self->conn, batch, i, &err) == 0) {
            i++;
            continue;
        }
        if (s_failed(self, batch, &err)) {
            s_backoff(self, &backoff_ms);
            continue;
        }
        /* No row data in the log: the camera, the seq and the reason are enough. */
        S_LOG(self, LOG_LEVEL_ERROR,
              "read %s seq %" PRIu64 " refused by the database (epoch %" PRIu32 "): %s", a->camera,
              a->seq, a->epoch, err.msg);
        snprintf(a->refused, sizeof a->refused, "%s", err.state);
        batch->refused++;
        i++;
    }
    batch->slow = true;
    batch->committed = !atomic_load(&self->stopping);
}

/* Commit one batch, retrying until it is stored or the writer is told to stop. */
static void s_commit(writer_t *self, struct batch *batch)
{
    int backoff_ms = 100;
    bool failed = false;
    struct db_error err;

    while (!atomic_load(&self->stopping)) {
        if (!self->conn && s_connect(self) != 0) {
            batch->db_errors++;
            failed = true;
            s_backoff(self, &backoff_ms);
            continue;
        }
        if (s_partitions(self, batch, &err) == 0 && db_write_batch(self->conn, batch, &err) == 0) {
            if (failed) {
                batch->reconnects++;
                log_info("writer", "database writes resumed");
            }
            return;
        }
        failed = true;
        if (!s_failed(self, batch, &err)) {
            S_LOG(self, LOG_LEVEL_WARN, "batch of %zu reads refused (%s); storing them one by one",
                  batch->nreads, err.msg);
            s_commit_rows(self, batch);
            return;
        }
        S_LOG(self, LOG_LEVEL_WARN, "batch of %zu reads not stored, will retry: %s", batch->nreads,
              err.msg);
        s_backoff(self, &backoff_ms);
    }
    batch->committed = false; /* stopping: not stored, so never acknowledged */
}

/*
 * Spool mode: the reads after the cursor, at most batch_size, into batch; *last gets the
 * position of the last one taken. 0 when none is durable yet or the batch is full; -1 when the
 * spool could not be read or memory ran out (err): the caller starts a new cursor at *last
 * later, so nothing is skipped. Only a record that is malformed (a bug, not the disk: the
 * checksum passed) is skipped, and logged.
 */
static int s_fill(writer_t *self, spool_cursor_t *cur, struct batch *batch, uint64_t *last,
                  char *err, size_t errlen)
{
    while (batch->nreads < (size_t)self->batch_size) {
        const void *data;
        size_t len;
        uint64_t pos, seq;
        int rc = spool_read(cur, &data, &len, &pos, &seq, err, errlen);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return -1;
        rc = batch_rec_add(batch, data, len);
        if (rc == BATCH_REC_NOMEM) {
            if (batch->nreads > 0)
                return -1; /* store what we have; this one comes again with a new cursor */
            snprintf(err, errlen, "out of memory for record %" PRIu64, seq);
            return -1;
        }
        if (rc == BATCH_REC_BAD)
            S_LOG(self, LOG_LEVEL_ERROR,
                  "spool: record %" PRIu64 " at %" PRIu64 " malformed; skipped", seq, pos);
        *last = pos;
    }
    return 0;
}

static void s_count(writer_t *self, const struct batch *b, uint64_t checkpointed)
{
    pthread_mutex_lock(&self->counts_lock);
    self->counts.batches++;
    self->counts.slow_batches += b->slow;
    self->counts.stored += b->stored;
    self->counts.duplicate += b->nreads - b->stored - b->refused - b->conflicts;
    self->counts.conflict += b->conflicts;
    self->counts.hits_stored += b->hits_stored;
    self->counts.refused += b->refused;
    self->counts.db_errors += b->db_errors;
    self->counts.reconnects += b->reconnects;
    self->counts.checkpointed = checkpointed;
    metrics_hist_size(&self->counts.batch_reads, b->nreads);
    pthread_mutex_unlock(&self->counts_lock);
}

void writer_counts(writer_t *self, struct writer_counts *out)
{
    pthread_mutex_lock(&self->counts_lock);
    *out = self->counts;
    pthread_mutex_unlock(&self->counts_lock);
}

/* Spool mode: checkpoint the spool at pos (stored) unless it is there already. */
static void s_checkpoint(writer_t *self, uint64_t pos, int64_t *ckpt_us)
{
    char err[512];

    if (pos == spool_checkpointed(self->spool))
        return;
    if (spool_checkpoint(self->spool, pos, err, sizeof err) != 0)
        S_LOG(self, LOG_LEVEL_ERROR, "spool checkpoint: %s", err);
    *ckpt_us = util_mono_us();
}

/* Spool mode: drain the spool into PostgreSQL until told to stop. */
/*
 * Spool mode: drain the spool into PostgreSQL until told to stop. Every read in the spool was
 * acknowledged, so none is skipped here: a read error (the disk) or a lack of memory is retried
 * with a new cursor after a pause, logged once a minute, until it works. (A record damaged on
 * disk is set aside and skipped by the spool's cursor itself, and counted: docs/SPOOL.md.)
 */
static void s_drain(writer_t *self)
{
    char err[512];
    uint64_t last = spool_checkpointed(self->spool);
    spool_cursor_t *cur = spool_cursor_new(self->spool, last, err, sizeof err);
    struct batch *batch = batch_new();
    int64_t logged_us = 0, ckpt_us = 0;
    uint64_t stored = last; /* the spool is stored in the database up to here */

    if (!cur || !batch) {
        log_error("writer", "spool: %s", cur ? "out of memory" : err);
        goto out;
    }
    while (!atomic_load(&self->stopping)) {
        uint64_t before = last;
        bool short_fill = s_fill(self, cur, batch, &last, err, sizeof err) != 0;
        if (short_fill && batch->nreads == 0) {
            if (util_mono_us() - logged_us >= 60000000) {
                log_error("writer",
                          "spool: cannot read on from position %" PRIu64 ": %s; retrying (the "
                          "reads after it wait; 'anpr-spool verify' checks the spool)",
                          last, err);
                logged_us = util_mono_us();
            }
            spool_cursor_destroy(&cur);
            s_sleep_ms(self, 1000);
            cur = spool_cursor_new(self->spool, last, err, sizeof err);
            if (!cur) {
                log_error("writer", "spool: %s", err);
                break;
            }
            continue;
        }
        if (batch->nreads == 0) {
            struct db_error derr;
            /* Drained: a checkpoint held back goes when its time comes, sooner if nothing new
             * comes first. Records that all turned out malformed move it too. */
            int64_t due = ckpt_us + WRITER_CKPT_US - util_mono_us();
            int wait_ms = 1000;
            stored = last;
            if (stored != spool_checkpointed(self->spool)) {
                if (due <= 0)
                    s_checkpoint(self, stored, &ckpt_us);
                else
                    wait_ms = (int)((due + 999) / 1000);
            }
            if (last == before)
                spool_wait(self->spool, last, wait_ms);
            log_rated_flush(self->rate, "writer", false);
            if (self->conn && s_maintain(self, &derr) != 0) {
                S_LOG(self, LOG_LEVEL_WARN, "partitions: %s", derr.msg);
                if (PQstatus(self->conn) != CONNECTION_OK)
                    s_disconnect(self);
            }
            continue;
        }
        s_commit(self, batch);
        if (!batch->committed)
            break; /* stopping: the spool keeps them for the next start */
        for (size_t i = 0; i < batch->nreads; i++)
            if (batch->acks[i].refused[0])
                S_LOG(self, LOG_LEVEL_ERROR,
                      "read %s seq %" PRIu64 " was acknowledged from the spool but the "
                      "database refused it (SQLSTATE %s); it is not stored",
                      batch->acks[i].camera, batch->acks[i].seq, batch->acks[i].refused);
            else if (batch->acks[i].fate == BATCH_CONFLICT)
                /* Acknowledged from the spool before anprd could know: anprd had forgotten
                 * the identity (or restarted). Counted and said, never stored. */
                S_LOG(self, LOG_LEVEL_ERROR,
                      "read %s seq %" PRIu64 " (epoch %" PRIu32 ") was acknowledged from "
                      "the spool but its identity is stored with other content; it is not "
                      "stored",
                      batch->acks[i].camera, batch->acks[i].seq, batch->acks[i].epoch);
        stored = last;
        if (util_mono_us() - ckpt_us >= WRITER_CKPT_US)
            s_checkpoint(self, stored, &ckpt_us);
        log_rated_flush(self->rate, "writer", false);
        s_count(self, batch, last);
        batch_reset(batch);
        if (!short_fill)
            continue;
        /* The fill stopped on an error after what it took: the cursor starts again there. */
        spool_cursor_destroy(&cur);
        cur = spool_cursor_new(self->spool, last, err, sizeof err);
        if (!cur) {
            log_error("writer", "spool: %s", err);
            break;
        }
    }
out:
    /* What was stored, checkpointed before the writer goes. */
    s_checkpoint(self, stored, &ckpt_us);
    batch_destroy(&batch);
    spool_cursor_destroy(&cur);
}

static void *s_run(void *arg)
{
    writer_t *self = arg;
    void *pair = zmq_socket(self->ctx, ZMQ_PAIR);
    struct db_error err;

    if (!pair || zmq_connect(pair, self->endpoint) != 0) {
        log_error("writer", "cannot connect %s: %s", self->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(pair);
        return NULL;
    }
    if (s_connect(self) == 0 && s_maintain(self, &err) != 0)
        log_warn("writer", "partitions: %s", err.msg);
    if (self->spool) {
        s_drain(self);
        goto out;
    }
    for (;;) {
        zmq_pollitem_t item = {pair, 0, ZMQ_POLLIN, 0};
        /* Idle: wake up now and then to keep the partitions ahead of the calendar, and to sum
         * up the lines held back. */
        if (zmq_poll(&item, 1, 1000) == 0) {
            log_rated_flush(self->rate, "writer", false);
            if (self->conn && s_maintain(self, &err) != 0) {
                S_LOG(self, LOG_LEVEL_WARN, "partitions: %s", err.msg);
                if (PQstatus(self->conn) != CONNECTION_OK)
                    s_disconnect(self);
            }
            continue;
        }
        struct batch *batch = writer_recv_batch(pair);
        if (!batch)
            break;
        s_commit(self, batch);
        if (writer_send_batch(pair, batch) != 0)
            break;
    }
out:
    log_rated_flush(self->rate, "writer", true);
    zmq_close(pair);
    s_disconnect(self);
    return NULL;
}

writer_t *writer_new(void *zmq_ctx, const char *endpoint, const struct writer_opts *opts)
{
    writer_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->ctx = zmq_ctx;
    self->endpoint = strdup(endpoint);
    self->conninfo = strdup(opts->conninfo);
    self->reconnect_max_ms = opts->reconnect_max_ms > 100 ? opts->reconnect_max_ms : 100;
    self->ahead_days = opts->partitions_ahead_days;
    self->spool = opts->spool;
    self->batch_size = opts->batch_size > 0 ? opts->batch_size : 1000;
    self->rate =
        lograte_new((int64_t)(opts->log_interval_s > 0 ? opts->log_interval_s : 10) * 1000000);
    pthread_mutex_init(&self->counts_lock, NULL);
    self->days_lo = 1;
    self->days_hi = 0;
    atomic_init(&self->stopping, false);
    db_cancel_init(&self->cancel);
    if (!self->endpoint || !self->conninfo || !self->rate ||
        pthread_create(&self->thread, NULL, s_run, self) != 0) {
        lograte_destroy(&self->rate);
        db_cancel_destroy(&self->cancel);
        pthread_mutex_destroy(&self->counts_lock);
        free(self->endpoint);
        free(self->conninfo);
        free(self);
        return NULL;
    }
    return self;
}

void writer_destroy(writer_t **self_p)
{
    writer_t *self;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    /* The caller has sent the NULL batch; a batch still retrying gives up, and a statement
     * that hangs (a server that stopped answering) is cancelled. */
    atomic_store(&self->stopping, true);
    if (self->spool)
        spool_wake(self->spool);
    db_cancel_fire(&self->cancel);
    pthread_join(self->thread, NULL);
    lograte_destroy(&self->rate);
    db_cancel_destroy(&self->cancel);
    pthread_mutex_destroy(&self->counts_lock);
    free(self->endpoint);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}
