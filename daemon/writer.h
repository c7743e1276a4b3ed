/*
 * writer: the thread that commits batches to PostgreSQL.
 *
 * Ingest hands over a batch by sending its pointer on an inproc PAIR socket; the writer commits
 * it (retrying through reconnects with exponential backoff, for as long as it takes) and sends
 * the same pointer back, which is when its reads may be acknowledged. One batch is in the
 * writer at a time; what arrives meanwhile grows the next batch (group commit).
 */
#ifndef ANPR_WRITER_H
#define ANPR_WRITER_H

#include <stdint.h>

#include "batch.h"
#include "metrics.h"

typedef struct writer writer_t;

struct spool;

struct writer_opts {
    const char *conninfo;      /* copied */
    int reconnect_max_ms;      /* backoff ceiling */
    int partitions_ahead_days; /* partitions kept ready ahead of today */
    struct spool *spool;       /* NULL, or the write-ahead spool to drain (see below) */
    int batch_size;            /* spool mode: reads per COPY batch at most */
    int log_interval_s;        /* a repeated error line at most once per this long (0: 10) */
};

/*
 * Spool mode (opts.spool set): ingest acknowledges reads once they are durable in the spool and
 * never hands batches over; the writer reads the spool from its checkpoint, commits the reads
 * in batches (the same COPY, the same retries) and checkpoints the spool after each commit, so
 * a restart replays only what may not be stored (idempotently: a read stored twice is kept
 * once). It is the spool's consumer thread. Its counts are read with writer_counts().
 */
struct writer_counts {
    uint64_t batches, slow_batches;
    uint64_t stored;      /* reads inserted */
    uint64_t duplicate;   /* reads found stored already (resends) */
    uint64_t conflict;    /* reads whose identity is stored with other content: not stored */
    uint64_t hits_stored; /* hit rows inserted */
    uint64_t refused;     /* reads the database refused for their data, after their ACK */
    uint64_t db_errors, reconnects;
    uint64_t checkpointed;           /* spool position stored up to */
    struct metrics_hist batch_reads; /* reads per committed batch */
};
void writer_counts(writer_t *self, struct writer_counts *out);

/*
 * Start the writer thread; it connects its PAIR socket to `endpoint` (which the caller has
 * bound) and its own database session. NULL on failure (thread or memory).
 */
writer_t *writer_new(void *zmq_ctx, const char *endpoint, const struct writer_opts *opts);

/* Stop the thread (after the batch it holds, if the database lets it) and free. */
void writer_destroy(writer_t **self_p);

/* Messages on the PAIR socket are one pointer each: a batch to commit, or NULL to stop. */
int writer_send_batch(void *pair, struct batch *batch);
struct batch *writer_recv_batch(void *pair);

#endif
