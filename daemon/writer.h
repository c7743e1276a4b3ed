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

typedef struct writer writer_t;

struct writer_opts {
    const char *conninfo;      /* copied */
    int reconnect_max_ms;      /* backoff ceiling */
    int partitions_ahead_days; /* partitions kept ready ahead of today */
};

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
