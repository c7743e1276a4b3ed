/*
 * reply: what ingest sends back to its readers on the ROUTER (PROTOCOL.md 6 and 7): the ACK of
 * every read of a durable batch, and the REJECT of a read refused, whether at once (a bad
 * frame, an unknown camera, an overload) or by the writer (a conflict, a refused row).
 *
 * ACKs are sorted by reader, camera, epoch and seq, so that a run of consecutive sequence
 * numbers becomes one range and many ranges share one frame; a frame carries epoch-0 ranges
 * (version 1) or the others (version 2), never both, so a version 1 reader never sees a
 * version 2 frame. Nothing here blocks: a frame whose reader has gone is counted, not queued.
 *
 * A misbehaving camera must not flood the log: reply tells io.rejected about one REJECT per
 * reason per interval, with how many of that reason it kept quiet about since; the caller
 * writes the line. It never logs itself.
 *
 * The counters it keeps (rejects per reason, reads_acked, acks_unroutable) are in ingest's
 * struct stats, borrowed. Ingest's thread only (the ROUTER is a ZeroMQ socket).
 */
#ifndef ANPR_REPLY_H
#define ANPR_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "metrics.h"
#include "proto.h"
#include "stats.h"

/* REJECT.text of a conflict (PROTOCOL.md 7, reason 14). */
#define REPLY_CONFLICT_TEXT "read (camera, epoch, seq) already stored with other content"

typedef struct reply reply_t;

/* How reply reaches the rest of the daemon. Everything here is borrowed and outlives it. */
struct reply_io {
    void *ctx;
    void *router;        /* the readers' ROUTER socket */
    struct stats *stats; /* the counters it adds to */
    /* A REJECT worth a log line (the first of its reason in an interval): rej as sent (camera
     * "" when it named none), msg its reason's text, quiet how many of that reason were not
     * told since the last one. May be NULL. */
    void (*rejected)(void *ctx, const struct proto_reject *rej, const char *msg, uint64_t quiet);
};

/* NULL on out of memory. io is copied; interval_us: see reply_set_interval. */
reply_t *reply_new(const struct reply_io *io, int64_t interval_us);
/* Safe on NULL and twice; sets *self_p to NULL. */
void reply_destroy(reply_t **self_p);

/* One REJECT per reason told to io.rejected per interval_us (log.reject_log_interval_s). */
void reply_set_interval(reply_t *self, int64_t interval_us);
/* Where the time from a read's arrival to its ACK goes (borrowed), or NULL: not measured. */
void reply_set_latency(reply_t *self, struct metrics_hist *ack_latency);

/*
 * REJECT to the reader with routing id `id`, naming the read (camera, epoch, seq) when camera
 * is a valid code (else none), for perr's reason and text: version 2 when the epoch is not 0.
 * Counted per reason.
 */
void reply_reject(reply_t *self, const uint8_t *id, size_t id_len, const char *camera,
                  uint32_t epoch, uint64_t seq, const struct proto_error *perr);
/* reply_reject of read r (its camera, epoch and seq), with a formatted text. */
void reply_reject_read(reply_t *self, const uint8_t *id, size_t id_len, const struct proto_read *r,
                       enum proto_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* reply_reject of camera and seq (epoch 0; camera may be NULL), with a formatted text. */
void reply_reject_reason(reply_t *self, const uint8_t *id, size_t id_len, const char *camera,
                         uint64_t seq, enum proto_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/*
 * Acknowledge every read of a durable batch (b->acks is sorted in place); a read the writer
 * found in conflict, or the database refused, is rejected instead.
 */
void reply_ack_batch(reply_t *self, struct batch *b);

#endif
