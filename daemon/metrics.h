/*
 * metrics: the Prometheus endpoint (GET /metrics, text exposition format 0.0.4), served by
 * libmicrohttpd from a thread of its own, so a slow or hostile client never holds up ingest.
 *
 * Ingest owns every counter. It fills a struct metrics_snap as it goes (the parts that are not
 * in struct stats: HITs by list and kind, the histograms) and hands a copy to metrics_publish()
 * when metrics_due() says so: at most every 100 ms, or sooner when a scrape is waiting. The
 * copy is taken under a mutex held for a memcpy only; the HTTP thread renders the last copy it
 * was given. A scrape waits a little for a fresh copy (ingest wakes at least every 200 ms) and
 * otherwise renders the one it has: ingest never waits for HTTP.
 *
 * No plate, no list name and no camera code ever appears: lists are labelled by id, and every
 * covert list is counted under list="covert", so the endpoint does not even tell which covert
 * list had a HIT. The renderer (metrics_render) is pure and tested on its own.
 */
#ifndef ANPR_METRICS_H
#define ANPR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

typedef struct metrics metrics_t;
typedef struct metrics_peers metrics_peers_t;

#define METRICS_KINDS     4   /* match kinds: enum proto_match 1..4 */
#define METRICS_LISTS_MAX 512 /* lists counted one by one; HITs of more go under list="other" */
#define METRICS_BOUNDS    16  /* bucket bounds of every histogram (+Inf is one more bucket) */

/* A histogram: per bucket (not cumulative; the last is above every bound), sum and count. */
struct metrics_hist {
    uint64_t buckets[METRICS_BOUNDS + 1];
    uint64_t sum; /* in the unit observed: µs for latencies, reads for batch sizes */
    uint64_t count;
};

/* HITs of one list by match kind (kind[k - 1] for enum proto_match k). */
struct metrics_list_hits {
    uint32_t list_id;
    uint64_t kind[METRICS_KINDS];
};

/* Everything /metrics shows: a plain struct, copied whole. */
struct metrics_snap {
    struct stats stats;
    struct metrics_list_hits lists[METRICS_LISTS_MAX]; /* sorted by list_id */
    size_t nlists;
    uint64_t covert[METRICS_KINDS];  /* HITs of every covert list together */
    uint64_t other[METRICS_KINDS];   /* HITs of lists beyond METRICS_LISTS_MAX */
    struct metrics_hist ack_latency; /* read received -> its ACK sent, µs */
    struct metrics_hist hit_latency; /* read received -> its live HIT published, µs */
    struct metrics_hist batch_reads; /* reads per batch the writer committed */
    uint64_t cameras;                /* reader connections that sent a frame lately */
    bool spool;                      /* spool mode: the spool gauges mean something */
    bool backbone;                   /* forwarding: the backbone gauges mean something */
    bool backbone_connected;
    uint64_t backbone_queued;       /* messages not yet acknowledged by the server */
    uint64_t backbone_queued_bytes; /* their bytes in the outbound spool */
    uint64_t backbone_sent;         /* frames written, resends included */
    uint64_t backbone_delivered;    /* messages the server acknowledged */
    uint64_t backbone_retries;      /* frames written again after a lost connection */
    uint64_t backbone_failures;     /* failed connects and lost connections */
    uint64_t backbone_lost;         /* messages lost to outbound spool damage found at start */
    bool curve;                     /* CURVE on: the curve counters mean something */
    uint64_t curve_allowed;         /* peers the ZAP handler let in */
    uint64_t curve_denied;          /* ... and refused */
    uint64_t curve_camera_keys;     /* camera keys in the set in force */
    uint64_t curve_console_keys;    /* console keys in it */
};

/* Observe a latency in µs (negative: a clock step; counted as 0). */
void metrics_hist_latency(struct metrics_hist *h, int64_t us);
/* Observe a batch size in reads. */
void metrics_hist_size(struct metrics_hist *h, uint64_t reads);

/* Count a HIT of list `list_id` matched as `kind` (enum proto_match; others are ignored). */
void metrics_count_hit(struct metrics_snap *s, uint32_t list_id, bool covert, unsigned kind);

/*
 * The exposition text of s (NUL-terminated, *len bytes without the NUL; caller frees), or NULL
 * on out of memory.
 */
char *metrics_render(const struct metrics_snap *s, size_t *len);

/*
 * Reader connections seen lately: a routing id counts from its last frame for `window_us` (the
 * ROUTER's heartbeat timeout: a peer that went silently is gone by then). An idle camera that
 * is still connected but sent nothing for that long is not counted. NULL on out of memory.
 */
metrics_peers_t *metrics_peers_new(int64_t window_us);
void metrics_peers_destroy(metrics_peers_t **self_p);
/* A frame from routing id id[0..len) at now_us (monotonic). */
void metrics_peers_seen(metrics_peers_t *self, const void *id, size_t len, int64_t now_us);
/* How many were seen within the window before now_us; forgets the others. */
uint64_t metrics_peers_count(metrics_peers_t *self, int64_t now_us);

/*
 * Serve /metrics on `listen` (conf_listen_parse syntax); NULL with a message in err on failure
 * (a bad address, a port in use). Nothing is served until the first metrics_publish().
 */
metrics_t *metrics_new(const char *listen, char *err, size_t errlen);
/* Stop the HTTP thread (a scrape in progress is finished) and free; safe on NULL and twice. */
void metrics_destroy(metrics_t **self_p);
/* The port bound (the configured one, or the one given for port 0). */
int metrics_port(const metrics_t *self);
/* Whether a snapshot should be published now (now_us monotonic): 100 ms since the last one,
 * or a scrape is waiting. Cheap: one atomic load and a compare. */
bool metrics_due(metrics_t *self, int64_t now_us);
/* Hand over a copy of s (taken under the lock) for the next scrapes. */
void metrics_publish(metrics_t *self, const struct metrics_snap *s, int64_t now_us);

#endif
