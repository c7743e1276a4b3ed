/*
 * stats: the daemon's counters. They are owned by the ingest thread; the writer reports its
 * part through each finished batch (spool mode: through writer_counts() when they are logged),
 * so no counter is shared between threads.
 */
#ifndef ANPR_STATS_H
#define ANPR_STATS_H

#include <stdint.h>

#include "proto.h"

struct stats {
    uint64_t frames;                      /* frames received from readers */
    uint64_t reads_accepted;              /* reads that passed validation */
    uint64_t reads_stored;                /* rows committed to plate_read */
    uint64_t reads_duplicate;             /* resent reads that were stored already */
    uint64_t reads_acked;                 /* reads acknowledged to readers (resends included) */
    uint64_t acks_unroutable;             /* ACK frames whose reader had gone */
    uint64_t rejects[PROTO_REASON_COUNT]; /* refused frames, per reason */
    uint64_t hits;                        /* HITs produced and published */
    uint64_t hits_suppressed;             /* repeat HITs stored but not alerted */
    uint64_t hits_seen;         /* sightings published: a listed car seen at another camera */
    uint64_t hits_stored;       /* rows committed to hits */
    uint64_t batches;           /* transactions committed */
    uint64_t batches_slow;      /* batches that took the de-duplicating path */
    uint64_t db_errors;         /* failed database round trips */
    uint64_t db_reconnects;     /* successful reconnects after a failure */
    uint64_t pending;           /* accepted, not yet committed (gauge) */
    uint64_t watchlist_entries; /* entries in the snapshot in use (gauge) */
    uint64_t hits_post;         /* post-match HITs published (retro-match) */
    uint64_t hits_reannounced;  /* urgent unacknowledged HITs announced again */
    int64_t watchlist_version;  /* newest change that snapshot includes (gauge) */
    /* Spool mode. */
    uint64_t reads_spooled;     /* reads made durable in the spool (and acknowledged) */
    uint64_t reads_refused;     /* spooled reads the database refused for their data */
    uint64_t reads_conflict;    /* spooled reads found in conflict by the writer: not stored */
    uint64_t spool_full;        /* reads refused because the spool was full */
    uint64_t spool_errors;      /* failed spool commits (retried) */
    uint64_t spool_lost;        /* acknowledged reads lost to spool damage found at start */
    uint64_t spool_depth;       /* reads in the spool not yet stored (gauge) */
    uint64_t spool_depth_bytes; /* their bytes on disk (gauge) */
    uint64_t spool_disk_bytes;  /* the spool's segment files, what spool.max_mb bounds (gauge) */
    int64_t spool_oldest_ms;    /* how long the oldest of them has waited (gauge) */
    /* CURVE. */
    uint64_t covert_subscribed; /* covert-feed subscriptions taken (covert.h) */
    uint64_t covert_refused;    /* ... not taken: not cleared, malformed, too many */
};

/* Sum of rejects over all reasons. */
uint64_t stats_rejected(const struct stats *s);

/* One log line with every counter (subsystem "stats"). */
void stats_log(const struct stats *s);

#endif
