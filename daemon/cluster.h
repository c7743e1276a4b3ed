/*
 * cluster: what this anprd keeps of the other instances on the same database (cluster.peers,
 * docs/DESIGN.md "Several instances"). It owns the peers' feed (peer.h) and lays what comes on
 * it into ingest's state, so a reader that fails over to this instance is not alerted twice:
 *
 * - a peer's HIT: its id, by read and entry, in the peer HIT memory (the epoch is not in a HIT
 *   frame: kept as 0, the content digest tells reads apart), so a resend of that read is stored
 *   here under the peer's id and not alerted again (cluster_hit_id); and its alert in ingest's
 *   suppression table, so a repeat of the car here within the window is held back and becomes a
 *   sighting of the peer's HIT;
 * - a peer's sighting: where the car was last seen (the suppression table), and the frame a HIT
 *   of it is announced again with, by ingest's re-announcer or the shadow's;
 * - a peer's urgent HIT: watched by a shadow re-announcer (reann.h), which announces it again
 *   only while its instance is silent (its heartbeat stopped, peer_alive). Taken over, a HIT
 *   stays taken over, also once the peer is back: it forgot the HITs it watched when it died.
 *
 * A peer's HIT is matched here too (the instances hold the same watchlists) to find its entry
 * and the suppression key exactly as ingest makes it; one whose camera or entry this instance
 * does not know (a watchlist change not here yet) is not kept, and its read, if it comes here,
 * is alerted as before.
 *
 * Ingest lends it the suppression table, its re-announcer and its lograte (struct cluster_io)
 * and calls it from its loop: cluster_socket is polled, cluster_take when it is readable,
 * cluster_tick every round, cluster_answer with the sync thread's answers to the shadow's
 * questions (those whose serial has CLUSTER_SERIAL). Ingest's thread only. It never logs
 * itself: a HIT taken over is told through io.taken_over, the counters through cluster_counts
 * (the shadow re-announcer logs as reann does, through the lograte).
 */
#ifndef ANPR_CLUSTER_H
#define ANPR_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cam.h"
#include "lograte.h"
#include "reann.h"
#include "supp.h"
#include "wl.h"

#define CLUSTER_SERIAL                                                                             \
    (1ULL << 63)                     /* in the serial of the shadow's questions to the sync thread \
                                      */
#define CLUSTER_TAKE_MAX   1024      /* peers' messages taken a round, so readers are served too */
#define CLUSTER_MEMO_SLOTS (1 << 16) /* peers' HIT ids remembered (hitmemo.h) */

typedef struct cluster cluster_t;

/* How the cluster reaches the rest of ingest. Everything here is borrowed and outlives it. */
struct cluster_io {
    void *ctx;
    /* Announce a taken-over HIT again on the dispatch feed, never blocking (as reann_io.send;
     * covert is false: a peer's feed carries no covert HIT). */
    void (*send)(void *ctx, uint64_t hit_id, bool covert, const char *topic, size_t tlen,
                 const uint8_t *frame, size_t len);
    /* Put the shadow's question to the sync thread (as reann_io.ask); serial carries
     * CLUSTER_SERIAL, and its answer goes to cluster_answer. */
    int (*ask)(void *ctx, const uint64_t *ids, size_t n, uint64_t serial, int64_t deadline_us);
    /* HIT hit_id of silent instance `instance` is taken over (once per HIT); may be NULL. */
    void (*taken_over)(void *ctx, unsigned instance, uint64_t hit_id);
    supp_t *supp;       /* ingest's suppression table: the peers' alerts and sightings go in */
    reann_t *reann;     /* ingest's re-announcer: a peer's sighting of a HIT it watches */
    lograte_t *lograte; /* for the shadow re-announcer's lines that may repeat */
};

/* The peers to follow and this instance's settings. */
struct cluster_opts {
    char *const *peers;      /* the peers' dispatch endpoints (cluster.peers), borrowed */
    size_t npeers;           /* at least 1 */
    unsigned instance;       /* this anprd's dispatch.instance */
    const char *secret_z85;  /* anprd's CURVE secret key (Z85), NULL for plain text */
    int reannounce_s;        /* dispatch.reannounce_s */
    int reannounce_priority; /* dispatch.reannounce_priority */
};

/* Connect to the peers. NULL with err filled on failure. io is copied. */
cluster_t *cluster_new(void *zmq_ctx, const struct cluster_opts *opts, const struct cluster_io *io,
                       char *err, size_t errlen);
/* Safe on NULL and twice; sets *self_p to NULL. */
void cluster_destroy(cluster_t **self_p);

/* The peers' socket, to poll for ZMQ_POLLIN (borrowed). */
void *cluster_socket(const cluster_t *self);

/* Take the peers' messages waiting (CLUSTER_TAKE_MAX at most), matched against wl and cams
 * (ingest's current ones, borrowed for the call). */
void cluster_take(cluster_t *self, const wl_t *wl, const cam_table_t *cams);

/* The id a peer gave the HIT of this read (camera, seq, content digest) and entry, or 0 when
 * no peer alerted it. */
uint64_t cluster_hit_id(const cluster_t *self, int32_t camera_id, uint64_t seq, uint64_t digest,
                        uint64_t entry_id);
/* A read a peer alerted is stored here under the peer's id (cluster_hit_id): counted. */
void cluster_note_stored(cluster_t *self);

/* The re-announcement settings, at start and on reload (reann_set). */
void cluster_set_reannounce(cluster_t *self, int every_s, int priority, int64_t now);
/* Every round of ingest's loop (reann_tick); now is the monotonic clock. */
void cluster_tick(cluster_t *self, int64_t now);
/* The sync thread's answer to a shadow's question (serial with CLUSTER_SERIAL): reann_answer. */
void cluster_answer(cluster_t *self, uint64_t serial, uint64_t *acked, size_t nacked,
                    uint64_t *missing, size_t nmissing, bool answered, int64_t now);

/* For the stats line. */
struct cluster_counts {
    uint64_t peer_hits;   /* HITs taken from the peers' feeds (peer_taken) */
    uint64_t peer_stored; /* reads a peer alerted, stored here under its ids */
    size_t taken_over;    /* urgent HITs of silent peers announced again here */
    uint64_t peer_bad;    /* frames that did not decode (peer_bad) */
};
void cluster_counts(const cluster_t *self, struct cluster_counts *c);

#endif
