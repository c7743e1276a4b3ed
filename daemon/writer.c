#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "db.h"
#include "log.h"
#include "util.h"

/* How often the partitions ahead of today are checked while idle. */
#define WRITER_MAINT_US (3600LL * 1000000)

struct writer {
    void *ctx;
    char *endpoint;
    char *conninfo;
    int reconnect_max_ms;
    int ahead_days;
    pthread_t thread;
    atomic_bool stopping; /* set by writer_destroy: give up retrying a batch */
    PGconn *conn;
    /* Days whose partition exists: the newest run [lo, hi] we ensured. */
    int32_t days_lo, days_hi;
    int64_t next_maint_us;
};

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
    PQfinish(self->conn);
    self->conn = NULL;
    self->days_lo = 1;
    self->days_hi = 0; /* empty: re-check partitions after a reconnect */
}

/* Connect and prepare the session; 0 or -1 (logged). */
static int s_connect(writer_t *self)
{
    char err[512];

    self->conn = db_connect(self->conninfo, err, sizeof err);
    if (!self->conn || db_prepare_writer(self->conn, err, sizeof err) != 0) {
        log_warn("writer", "database: %s", err);
        s_disconnect(self);
        return -1;
    }
    return 0;
}

/* Make sure the partitions of the batch's days exist. 0 or -1 with err. */
static int s_partitions(writer_t *self, const struct batch *batch, char *err, size_t errlen)
{
    int32_t today = batch_day(util_now_us());

    if (self->days_lo > self->days_hi || util_mono_us() >= self->next_maint_us) {
        if (db_ensure_partitions(self->conn, today - 1, today + self->ahead_days, err, errlen))
            return -1;
        self->days_lo = today - 1;
        self->days_hi = today + self->ahead_days;
        self->next_maint_us = util_mono_us() + WRITER_MAINT_US;
    }
    if (batch->days_overflow) {
        /* Reads of many old days at once (a camera's backlog): ensure what each row needs. */
        return db_ensure_partitions(self->conn, today - 400, today, err, errlen);
    }
    for (size_t i = 0; i < batch->ndays; i++) {
        int32_t d = batch->days[i];
        if (d >= self->days_lo && d <= self->days_hi)
            continue;
        if (db_ensure_partitions(self->conn, d, d, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Commit one batch, retrying until it is stored or the writer is told to stop. */
static void s_commit(writer_t *self, struct batch *batch)
{
    int backoff_ms = 100;
    bool failed = false;
    char err[512];

    while (!atomic_load(&self->stopping)) {
        if (!self->conn && s_connect(self) != 0) {
            batch->db_errors++;
            failed = true;
            goto retry;
        }
        if (s_partitions(self, batch, err, sizeof err) == 0 &&
            db_write_batch(self->conn, batch, err, sizeof err) == 0) {
            if (failed) {
                batch->reconnects++;
                log_info("writer", "database writes resumed");
            }
            return;
        }
        batch->db_errors++;
        failed = true;
        log_warn("writer", "batch of %zu reads not stored, will retry: %s", batch->nreads, err);
        if (PQstatus(self->conn) != CONNECTION_OK)
            s_disconnect(self);
    retry:
        s_sleep_ms(self, backoff_ms);
        backoff_ms = backoff_ms * 2 > self->reconnect_max_ms ? self->reconnect_max_ms
                                                              : backoff_ms * 2;
    }
    batch->committed = false; /* stopping: not stored, so never acknowledged */
}

static void *s_run(void *arg)
{
    writer_t *self = arg;
    void *pair = zmq_socket(self->ctx, ZMQ_PAIR);

    if (!pair || zmq_connect(pair, self->endpoint) != 0) {
        log_error("writer", "cannot connect %s: %s", self->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(pair);
        return NULL;
    }
    s_connect(self);
    for (;;) {
        struct batch *batch = writer_recv_batch(pair);
        if (!batch)
            break;
        s_commit(self, batch);
        if (writer_send_batch(pair, batch) != 0)
            break;
    }
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
    self->days_lo = 1;
    self->days_hi = 0;
    atomic_init(&self->stopping, false);
    if (!self->endpoint || !self->conninfo ||
        pthread_create(&self->thread, NULL, s_run, self) != 0) {
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
    /* The caller has sent the NULL batch; a batch still retrying gives up. */
    atomic_store(&self->stopping, true);
    pthread_join(self->thread, NULL);
    free(self->endpoint);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}
