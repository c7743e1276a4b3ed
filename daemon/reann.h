/*
 * reann: urgent HITs announced again until an operator acknowledges them (docs/DISPATCH.md 4).
 * A HIT of dispatch.reannounce_priority or more urgent is kept, with its frame, and published
 * again every dispatch.reannounce_s, for a day at most, until anpr.hit_ack has it. Once its car
 * was seen again (a sighting, PROTOCOL.md 5.8) it is announced with the latest sighting's frame.
 *
 * Ingest hands it each urgent HIT it publishes (reann_add), and each sighting (reann_follow);
 * reann_tick, now and then, puts the question "which of these were acknowledged?" to the sync
 * thread through io.ask, and reann_answer takes the answer: the acknowledged are let go, the
 * others announced again through io.send. Ingest never waits on the database: an answer not
 * back within half a period (5 s at most) counts as unknown, and the HITs due are announced
 * again all the same (the safe side for a dispatch room), said once in the log. A HIT the
 * database has no row of (its read was refused), once the writer is past it, is let go.
 *
 * A covert HIT is kept as any other when covert HITs have a feed (io.covert: anprd has a
 * dispatch.covert_endpoint), and io.send is told it is covert, so it goes again to its list's
 * cleared recipients only, never to the general feed; the people cleared for its list
 * acknowledge it (anpr.acknowledge_hit, migration 020) and the question sees every row. At
 * most REANN_MAX HITs wait; past that the oldest goes (logged). Ingest's thread only; the clock
 * is the monotonic one, passed in. Frames are copied (malloc); out of memory, a HIT is not kept.
 */
#ifndef ANPR_REANN_H
#define ANPR_REANN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lograte.h"

#define REANN_MAX       10000                   /* HITs watched at most */
#define REANN_AGE_US    (24LL * 3600 * 1000000) /* announced again for a day at most */
#define REANN_ASK_MAX   1000                    /* HITs in one question */
#define REANN_ASK_EVERY 1000000                 /* a question a second at most */
#define REANN_ASK_WAIT  5000000  /* an answer is waited for this long at most: then unknown */
#define REANN_ASK_LOST  60000000 /* an answer this late is taken as lost: ask again */

typedef struct reann reann_t;

/* How reann reaches the rest of the daemon. */
struct reann_io {
    void *ctx;
    /* Publish a HIT again (the same id, the topic it came with), never blocking: a failure is
     * the callee's to say. covert: a covert list's HIT (topic "covert/<list id>/"), for the
     * covert feed only. */
    void (*send)(void *ctx, uint64_t hit_id, bool covert, const char *topic, size_t tlen,
                 const uint8_t *frame, size_t len);
    /* Ask which of ids[0..n) (sorted) are acknowledged, answer by deadline_us; 0, or -1 when the
     * question could not be put. */
    int (*ask)(void *ctx, const uint64_t *ids, size_t n, uint64_t serial, int64_t deadline_us);
    /* With the read spool: how far the writer has stored it (spool_checkpointed); NULL without. */
    uint64_t (*stored)(void *ctx);
    /* Covert HITs have a feed to go to (dispatch.covert_endpoint): kept too; else not. */
    bool covert;
};

/* NULL on out of memory. io is copied; lograte is borrowed (lines that may repeat). */
reann_t *reann_new(const struct reann_io *io, lograte_t *lograte);
void reann_destroy(reann_t **self_p);

/* The settings (dispatch.reannounce_s, reannounce_priority), at start and on reload: 0 lets go
 * of every HIT at once; a HIT no longer urgent enough goes; none waits longer than a new,
 * shorter period. */
void reann_set(reann_t *self, int every_s, int priority, int64_t now);

/* A HIT just published: kept when it is urgent enough (a covert one only with io.covert).
 * spool_pos: read spool on, where its read's group ends in the spool (0 without, or when it is
 * stored already). */
void reann_add(reann_t *self, uint64_t hit_id, uint8_t priority, bool covert, const char *topic,
               size_t tlen, const uint8_t *frame, size_t len, uint64_t spool_pos, int64_t now);

/* A sighting of HIT hit_id (a HIT frame under its id with the latest read): announced with it
 * from now on, if the HIT is kept. */
void reann_follow(reann_t *self, uint64_t hit_id, const uint8_t *frame, size_t len);

/* Now and then (every round of ingest's loop): a question when one is due, an answer given up
 * on when it is late. */
void reann_tick(reann_t *self, int64_t now);

/* The sync thread's answer to question `serial`: acked (ids acknowledged), missing (ids with no
 * row), answered (false: the database could not say). The arrays are sorted here. */
void reann_answer(reann_t *self, uint64_t serial, uint64_t *acked, size_t nacked, uint64_t *missing,
                  size_t nmissing, bool answered, int64_t now);

/* HITs kept. */
size_t reann_count(const reann_t *self);

#endif
