#include "ingest.h"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "backlog.h"
#include "batch.h"
#include "beat.h"
#include "cluster.h"
#include "covert.h"
#include "damage.h"
#include "gcommit.h"
#include "hitid.h"
#include "hitmemo.h"
#include "log.h"
#include "lograte.h"
#include "match.h"
#include "metrics.h"
#include "notify.h"
#include "pend.h"
#include "supp.h"
#include "sync.h"
#include "plate.h"
#include "rate.h"
#include "reann.h"
#include "proto.h"
#include "reply.h"
#include "retro.h"
#include "rid.h"
#include "spool.h"
#include "uplink.h"
#include "util.h"
#include "writer.h"
#include "zap.h"

#define INGEST_PAIR_ENDPOINT  "inproc://anprd-writer"
#define INGEST_SYNC_ENDPOINT  "inproc://anprd-sync"
#define INGEST_BURST          1024        /* frames taken per poll round, so acks are not starved */
#define INGEST_MAX_HITS       16          /* hits published per read at most */
#define INGEST_REC_MAX        (64 * 1024) /* a read's spool record: its rows and hit rows */
#define INGEST_MAX_MSG        (1 << 20) /* larger messages make ZeroMQ drop the peer's connection */
#define INGEST_STUCK_US       (10LL * 1000000) /* a batch held this long by the writer is reported */
#define INGEST_RID_GENERATION (1 << 18) /* identities remembered: between 256 Ki and 512 Ki */
#define INGEST_HITMEMO_SLOTS  (1 << 16) /* HIT ids remembered for reads matched again (2.5 MiB) */

/*
 * A read through the first stage of ingest (decoded, checked, normalised, its query made and its
 * watchlist slots prefetched), waiting for the second (matched, batched, published). Ingest
 * prepares the next read of a burst before it finishes the current one, so the cache misses of
 * the two lookups overlap (a 10 M-entry snapshot is far bigger than the caches).
 */
struct s_read {
    uint8_t id[BATCH_ID_MAX]; /* the reader's routing id */
    size_t id_len;
    struct proto_read r;
    int32_t cam;
    int64_t now; /* wall clock when it was taken */
    struct match_readings rd;
    struct wl_query q;
};

struct ingest {
    void *router;     /* readers (DEALER) connect here */
    void *pub;        /* dispatch subscribers */
    covert_t *covert; /* recipients of covert lists (covert.h); NULL = covert HITs stay
                         unpublished */
    zap_t *zap;       /* borrowed: the key set (CURVE on), or NULL (plain text) */
    rate_t *rate;     /* reads a second per connection */
    void *pair;       /* to and from the writer thread */
    writer_t *writer;
    const struct conf *conf; /* borrowed; replaced on reload */
    int retention_days;      /* the law's retention of reads (anpr.law); 0 = not known */
    cam_table_t *cams;       /* owned */
    wl_t *wl;                /* owned */
    int64_t wl_version;      /* newest watchlist change the snapshot includes */
    void *sync_pair;         /* new snapshots from the sync thread */
    sync_t *sync;
    struct batch *cur;    /* filling */
    struct batch **ready; /* full batches waiting for the writer (FIFO) */
    size_t nready, ready_cap;
    struct batch *spare;     /* a committed batch kept for reuse */
    bool writer_busy;        /* a batch is in the writer */
    bool more_waiting;       /* the last round left reads in the ROUTER that the group could take */
    int64_t writer_since_us; /* when it got that batch (monotonic) */
    int64_t writer_reported_us; /* when we last said it is taking long */
    rid_t *rid;                 /* identities of the reads accepted lately, with their digests */
    hitmemo_t *hitmemo; /* the ids given to the HITs of recent reads: a read matched again keeps
                           them, so its HITs are stored once, with no alias (hitmemo.h) */
    /* The other instances (cluster.peers; NULL = none): their feeds, the HITs they alerted and
     * the urgent ones taken over from a silent one (cluster.h). */
    cluster_t *cluster;
    uint64_t merged; /* resends of a pending read, answered by its first copy's ACK */
    pend_t *pend;    /* identities of the reads taken and not yet durable: a resend of one takes
                        no second slot of max_pending (pend.h) */
    supp_t *supp;    /* recent alerts, for repeat-hit suppression, and where each car was
                        seen last (sightings, PROTOCOL.md 5.8) */
    beat_t *beat;    /* the cameras' last frames, for the feed's heartbeat */
    int64_t next_beat_us;   /* monotonic: when the next heartbeat is due */
    int64_t next_expire_us; /* when supp is next purged */
    struct stats stats;
    int64_t next_stats_us; /* monotonic deadlines */
    int64_t next_watchdog_us;
    int64_t watchdog_us; /* systemd watchdog interval, 0 = none */
    reply_t *reply;      /* ACKs and REJECTs to the readers */
    /* Spool mode (conf spool.dir): reads are acknowledged once durable in the spool; the
     * writer drains it. cur is then the group being committed, never handed to the writer. */
    spool_t *spool;
    int64_t spool_full_until; /* monotonic: the spool was full; readers wait till then */
    int64_t spool_retry_us;   /* monotonic: a failed commit is tried again then */
    backlog_t *backlog;       /* what of the spool the writer has not stored yet (backlog.h) */
    uint8_t rec[INGEST_REC_MAX];
    struct s_read prep[2]; /* the read being prepared and the one waiting to be finished */
    uplink_t *uplink;      /* the national backbone (uplink.h), or NULL */
    struct hitid hitid;    /* HIT ids, shared with the sync thread (post-matches) */
    /* Urgent HITs published and not known to be acknowledged, announced again until they are
     * (reann.h, dispatch.reannounce_*); the sync thread says which were acknowledged. */
    reann_t *reann;
    /* The Prometheus endpoint (borrowed; NULL = off), the counters only it shows, and the
     * reader connections seen lately. */
    metrics_t *metrics;
    struct metrics_snap msnap;
    metrics_peers_t *peers;
    /* Lines that may come per read, per HIT, per batch or per round (a full spool, a backbone
     * that takes nothing): one per format per log.reject_log_interval_s, with the count of
     * those held back (log.h log_rated). */
    lograte_t *lograte;
};

/* A line that may repeat, through the ingest thread's lograte. */
#define S_LOG(self, level, ...) log_rated((self)->lograte, level, "ingest", __VA_ARGS__)

/* --- sending to readers (reply.h) --------------------------------------------------------- */

/* One REJECT per reason per interval is told: a misbehaving camera must not flood the log. */
static void s_rejected(void *ctx, const struct proto_reject *rej, const char *msg, uint64_t quiet)
{
    (void)ctx;
    log_warn("ingest",
             "rejected %s from camera %s seq %" PRIu64 " (epoch %" PRIu32 "): %s (%" PRIu64
             " more since last report)",
             proto_reason_name((enum proto_reason)rej->reason), rej->camera[0] ? rej->camera : "?",
             rej->seq, rej->epoch, msg, quiet);
}

/* --- batches and the writer ---------------------------------------------------------------- */

static struct batch *s_batch_get(ingest_t *self)
{
    struct batch *b = self->spare;

    if (b) {
        self->spare = NULL;
        batch_reset(b);
        return b;
    }
    return batch_new();
}

static void s_batch_put(ingest_t *self, struct batch *b)
{
    if (!self->spare)
        self->spare = b;
    else
        batch_destroy(&b);
}

static void s_spool_flush(ingest_t *self, bool force);
static void s_publish_batch(ingest_t *self, const struct batch *b, uint64_t spool_pos);
static int s_fwd_commit(ingest_t *self);

/* The group commit policy of this configuration (gcommit.h). */
static struct gcommit_policy s_gc_policy(const ingest_t *self)
{
    return (struct gcommit_policy){
        .max_reads = (size_t)self->conf->database.batch_size,
        .max_wait_us = (int64_t)self->conf->database.flush_interval_ms * 1000,
    };
}

/* The current group as the policy sees it; in_flight: the commit before it has not finished. */
static struct gcommit_group s_gc_group(const ingest_t *self, bool in_flight)
{
    const struct batch *b = self->cur;

    return (struct gcommit_group){
        .nreads = b ? b->nreads : 0,
        .first_us = b ? b->first_mono_us : 0,
        .urgent = b && b->npubs > 0,
        .in_flight = in_flight,
        .more_waiting = self->more_waiting,
    };
}

/* Whether the current group goes now (force: at shutdown, whenever it is not empty). */
static bool s_gc_due(const ingest_t *self, bool in_flight, bool force)
{
    struct gcommit_policy p = s_gc_policy(self);
    struct gcommit_group g = s_gc_group(self, in_flight);

    if (force && !in_flight && g.nreads > 0)
        return true;
    return gcommit_decide(&p, &g, util_mono_us()) != GCOMMIT_HOLD;
}

/*
 * Hand the next batch to the writer as soon as it is idle (gcommit.h: the writer starts the next
 * COPY when the last one has committed); spool mode: commit the current group to the spool.
 */
static void s_dispatch(ingest_t *self, bool force)
{
    struct batch *b = NULL;
    bool queued = self->nready > 0;

    if (self->spool) {
        s_spool_flush(self, force);
        return;
    }
    if (self->writer_busy)
        return;
    if (queued)
        b = self->ready[0];
    else if (s_gc_due(self, false, force))
        b = self->cur;
    if (!b)
        return;
    if (s_fwd_commit(self) != 0)
        return; /* tried again on the next round */
    if (writer_send_batch(self->pair, b) != 0) {
        /* It stays where it is and goes on the next round. */
        S_LOG(self, LOG_LEVEL_ERROR, "cannot hand a batch to the writer: %s",
              zmq_strerror(zmq_errno()));
        return;
    }
    if (queued) {
        self->nready--;
        memmove(self->ready, self->ready + 1, self->nready * sizeof *self->ready);
    } else {
        self->cur = NULL;
    }
    self->writer_busy = true;
    self->writer_since_us = util_mono_us();
}

/* Move a full current batch to the queue; 0, or -1 when out of memory. */
static int s_queue_cur(ingest_t *self)
{
    if (self->nready == self->ready_cap) {
        size_t cap = self->ready_cap ? self->ready_cap * 2 : 16;
        struct batch **r = realloc(self->ready, cap * sizeof *r);
        if (!r)
            return -1;
        self->ready = r;
        self->ready_cap = cap;
    }
    self->ready[self->nready++] = self->cur;
    self->cur = NULL;
    return 0;
}

/* The reads of b are settled (durable, refused, or handed back at shutdown): a resend of one
 * is taken again (and judged as a resend). */
static void s_pend_settle(ingest_t *self, const struct batch *b)
{
    for (size_t i = 0; i < b->nreads; i++)
        pend_del(self->pend, b->acks[i].camera_id, b->acks[i].epoch, b->acks[i].seq);
}

static void s_batch_done(ingest_t *self, struct batch *b)
{
    self->writer_busy = false;
    self->stats.db_errors += b->db_errors;
    self->stats.db_reconnects += b->reconnects;
    self->stats.pending -= b->nreads;
    s_pend_settle(self, b);
    if (!b->committed) {
        /* The writer gave up (shutdown): nothing of it is acknowledged. */
        s_batch_put(self, b);
        return;
    }
    /* The next batch first: PostgreSQL stores it while this one's HITs and ACKs go out and the
     * next round of reads is taken, instead of waiting for all of that. */
    s_dispatch(self, false);
    self->stats.batches++;
    self->stats.batches_slow += b->slow;
    self->stats.reads_stored += b->stored;
    self->stats.reads_duplicate += b->nreads - b->stored - b->refused - b->conflicts;
    self->stats.hits_stored += b->hits_stored;
    metrics_hist_size(&self->msnap.batch_reads, b->nreads);
    s_publish_batch(self, b, 0);
    reply_ack_batch(self->reply, b);
    s_batch_put(self, b);
}

/* Take back the batch the writer has finished, if it is there. */
static void s_take_done(ingest_t *self)
{
    struct batch *b = NULL;

    if (zmq_recv(self->pair, &b, sizeof b, ZMQ_DONTWAIT) == (int)sizeof b && b)
        s_batch_done(self, b);
}

/* --- the backbone (uplink.h) ------------------------------------------------------------- */

/* Make what was queued for the backbone durable; 0, or -1 (said): acknowledge nothing yet. */
static int s_fwd_commit(ingest_t *self)
{
    return self->uplink ? uplink_commit(self->uplink) : 0;
}

/* --- the spool ------------------------------------------------------------------------------ */

/* The read just added to cur, into the spool's buffer; 0, or -1 (not taken: refuse it). */
static int s_spool_append(ingest_t *self)
{
    size_t len = batch_rec_encode(self->cur, self->cur->nreads - 1, self->rec, sizeof self->rec);
    uint64_t pos;
    int rc = len ? spool_append(self->spool, self->rec, len, &pos) : SPOOL_ERR;

    if (rc == SPOOL_OK)
        return 0;
    if (rc == SPOOL_FULL) {
        /* Stop taking reads for a while: they wait in the readers, nothing is dropped. */
        self->spool_full_until = util_mono_us() + 100000;
        self->stats.spool_full++;
        S_LOG(self, LOG_LEVEL_WARN,
              "spool %s is full (spool.max_mb %d); reads wait in the readers "
              "until the database takes the backlog",
              spool_dir(self->spool), self->conf->spool.max_mb);
    } else {
        S_LOG(self, LOG_LEVEL_ERROR, "spool: a read's record (%zu bytes) not taken: %s", len,
              len ? strerror(errno) : "too large");
    }
    return -1;
}

/*
 * Spool mode: make the current group durable and acknowledge it, as soon as the policy lets it
 * go (gcommit.h). The commit runs here, in ingest's thread, so none is ever in flight when this
 * is asked: the reads that come during one wait in the ROUTER and form the next group, which
 * shares the next fsync. On failure (a full disk, an I/O error) nothing of it is acknowledged;
 * the records stay buffered and the commit is tried again, while the readers keep their reads.
 */
static void s_spool_flush(ingest_t *self, bool force)
{
    struct batch *b = self->cur;
    char err[512];
    uint64_t durable;
    int64_t now = util_mono_us();

    if (!b || b->nreads == 0 || now < self->spool_retry_us)
        return;
    if (!s_gc_due(self, false, force))
        return;
    if (s_fwd_commit(self) != 0) {
        self->spool_retry_us = now + 100000;
        return;
    }
    if (spool_commit_quiet(self->spool, &durable, err, sizeof err) != SPOOL_OK) {
        self->stats.spool_errors++;
        /* The readers wait too (their frames stay queued): the group must not grow past
         * what a full disk may take once some room is back. */
        self->spool_retry_us = now + 100000;
        self->spool_full_until = self->spool_retry_us;
        S_LOG(self, LOG_LEVEL_ERROR, "spool: %s; %zu reads not acknowledged, retrying", err,
              b->nreads);
        return;
    }
    self->stats.pending -= b->nreads;
    s_pend_settle(self, b);
    self->stats.reads_spooled += b->nreads;
    backlog_note(self->backlog, durable, now);
    s_publish_batch(self, b, durable);
    /* The durable mark and the writer's wake-up after the HITs, but before the ACKs: a read
     * acknowledged is always named by the mark, so a spool cut after it is reported (SPOOL.md). */
    spool_notify(self->spool);
    reply_ack_batch(self->reply, b);
    batch_reset(b);
}

/* --- re-announcement (reann.h) ------------------------------------------------------------- */

/* Announce a watched HIT again, a covert one as the first time (s_send_hit): to its list's
 * cleared recipients, never on the general feed. Counted as a re-announcement, not as a HIT:
 * stats.hits counts HITs produced. */
static void s_reann_send(void *ctx, uint64_t hit_id, bool covert, const char *topic, size_t tlen,
                         const uint8_t *frame, size_t len)
{
    ingest_t *self = ctx;

    if (covert) {
        if (self->covert)
            covert_send(self->covert, (uint32_t)strtoul(topic + 7, NULL, 10), topic, tlen, frame,
                        len);
        self->stats.hits_reannounced++;
        return;
    }
    if (zmq_send(self->pub, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) != (int)tlen ||
        zmq_send(self->pub, frame, len, ZMQ_DONTWAIT) != (int)len)
        S_LOG(self, LOG_LEVEL_WARN, "HIT %" PRIu64 " not announced again: %s", hit_id,
              zmq_strerror(zmq_errno()));
    self->stats.hits_reannounced++;
}

/* A silent peer's urgent HIT announced here from now on (cluster.h): said once per HIT. */
static void s_taken_over(void *ctx, unsigned instance, uint64_t hit_id)
{
    ingest_t *self = ctx;

    S_LOG(self, LOG_LEVEL_WARN,
          "instance %u is silent (no heartbeat): its urgent HIT %" PRIu64
          " is announced again here until acknowledged",
          instance, hit_id);
}

static int s_reann_ask(void *ctx, const uint64_t *ids, size_t n, uint64_t serial,
                       int64_t deadline_us)
{
    ingest_t *self = ctx;

    return sync_ask_acked(self->sync_pair, ids, n, serial, deadline_us);
}

/* How far the writer has stored the read spool; without one, everything is as far as it goes. */
static uint64_t s_reann_stored(void *ctx)
{
    ingest_t *self = ctx;

    return self->spool ? spool_checkpointed(self->spool) : UINT64_MAX;
}

/* --- reads ---------------------------------------------------------------------------------- */

/* Send an encoded HIT under topic (match_topic): a covert list's goes to its own feed, topic
 * per list, or nowhere: never the general one. Counted as a HIT either way. */
static void s_send_hit(ingest_t *self, const char *topic, size_t tlen, bool covert,
                       const uint8_t *frame, size_t len)
{
    void *sock = self->pub;

    self->stats.hits++;
    if (covert) {
        /* Each recipient that asked for the list and may have it (topic "covert/<id>/"). */
        if (self->covert)
            covert_send(self->covert, (uint32_t)strtoul(topic + 7, NULL, 10), topic, tlen, frame,
                        len);
        return;
    }
    /* PUB never blocks: a subscriber too slow to keep up loses messages (it catches up from
     * the hits table), the daemon does not slow down. */
    if (zmq_send(sock, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) != (int)tlen ||
        zmq_send(sock, frame, len, ZMQ_DONTWAIT) != (int)len)
        S_LOG(self, LOG_LEVEL_WARN, "HIT publish failed: %s", zmq_strerror(zmq_errno()));
}

/* Encode a HIT for topic (match_topic); 0 (its frame in frame, *len) or -1 (logged). */
static int s_encode_hit(ingest_t *self, const struct proto_hit *hit, int tlen, uint8_t *frame,
                        size_t *len)
{
    *len = proto_encode_hit(hit, frame, PROTO_MAX_FRAME);
    if (*len > 0 && tlen >= 0)
        return 0;
    S_LOG(self, LOG_LEVEL_ERROR,
          "HIT of entry %" PRIu64 " does not encode; list %u has a bad field", hit->entry_id,
          hit->list_id);
    return -1;
}

/* A post-match HIT, stored by the sync thread already: published, and announced again while
 * unacknowledged if it is urgent, as a live one. */
static void s_publish(ingest_t *self, const struct proto_hit *hit, const char *topic, int tlen,
                      bool covert)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t len;

    if (s_encode_hit(self, hit, tlen, frame, &len) != 0)
        return;
    s_send_hit(self, topic, (size_t)tlen, covert, frame, len);
    metrics_count_hit(&self->msnap, hit->list_id, covert, hit->match);
    reann_add(self->reann, hit->hit_id, hit->priority, covert, topic, (size_t)tlen, frame, len, 0,
              util_mono_us());
}

/*
 * The HIT frame of read r matched by m, under hit_id and topic (tlen from match_topic or the
 * sighting's), queued in the current batch: published once the batch is durable. covert: the
 * list's (only a HIT can be; a sighting of a covert list is never made).
 */
static void s_queue_pub(ingest_t *self, const struct proto_read *r, const struct wl_match *m,
                        uint64_t hit_id, const char *topic, int tlen, bool covert, const char *what)
{
    struct proto_hit hit;
    uint8_t frame[PROTO_MAX_FRAME];
    size_t len;

    match_hit(r, m, false, &hit);
    hit.hit_id = hit_id;
    if (s_encode_hit(self, &hit, tlen, frame, &len) != 0)
        return;
    struct batch_pub pub = {.topic = topic,
                            .tlen = (size_t)tlen,
                            .covert = covert,
                            .priority = m->entry->list->priority,
                            .hit_id = hit_id,
                            .read = (uint32_t)(self->cur->nreads - 1),
                            .list_id = m->entry->list->id,
                            .kind = m->kind,
                            .frame = frame,
                            .len = len};
    if (batch_pub_add(self->cur, &pub) != 0)
        S_LOG(self, LOG_LEVEL_ERROR, "out of memory: %s %" PRIu64 " not published", what, hit_id);
}

/* A live HIT, published once its batch is durable (the spool, or the database): a HIT a
 * subscriber receives can always be found by its id. */
static void s_queue_hit(ingest_t *self, const struct proto_read *r, const struct wl_match *m,
                        uint64_t hit_id)
{
    char topic[16 + PROTO_CATEGORY_MAX];
    int tlen = match_topic(m->entry, topic, sizeof topic);

    s_queue_pub(self, r, m, hit_id, topic, tlen, m->entry->list->opts.covert,
                "HIT (stored all the same)");
}

/*
 * A sighting of HIT `of` (PROTOCOL.md 5.8): the car of its entry seen again, at another camera,
 * in read r. The HIT frame of r under the id of the HIT it follows, topic "seen/<category>",
 * published once r is durable like a HIT. Never for a covert list (no topic for it).
 */
static void s_queue_sighting(ingest_t *self, const struct proto_read *r, const struct wl_match *m,
                             uint64_t of)
{
    char topic[16 + PROTO_CATEGORY_MAX];
    int tlen = snprintf(topic, sizeof topic, PROTO_TOPIC_SEEN "%s", m->entry->list->category);

    if (m->entry->list->opts.covert || tlen < 0 || (size_t)tlen >= sizeof topic)
        return;
    s_queue_pub(self, r, m, of, topic, tlen, false, "a sighting of HIT");
}

/* Whether a queued publication is a sighting (s_queue_sighting), not a HIT. */
static bool s_is_sighting(const struct batch_pub *p)
{
    size_t n = sizeof PROTO_TOPIC_SEEN - 1;

    return p->tlen > n && memcmp(p->topic, PROTO_TOPIC_SEEN, n) == 0;
}

/* Publish a sighting that is durable now, and let a re-announcement of its HIT carry it. */
static void s_send_sighting(ingest_t *self, const struct batch_pub *p)
{
    self->stats.hits_seen++;
    if (zmq_send(self->pub, p->topic, p->tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) != (int)p->tlen ||
        zmq_send(self->pub, p->frame, p->len, ZMQ_DONTWAIT) != (int)p->len)
        S_LOG(self, LOG_LEVEL_WARN, "sighting of HIT %" PRIu64 " not published: %s", p->hit_id,
              zmq_strerror(zmq_errno()));
    reann_follow(self->reann, p->hit_id, p->frame, p->len);
}

/* Publish the HITs of a batch that is durable now (spool_pos: see reann_add). */
static void s_publish_batch(ingest_t *self, const struct batch *b, uint64_t spool_pos)
{
    size_t off = 0;
    struct batch_pub p;

    while (batch_pub_next(b, &off, &p)) {
        /* A read the database refused was not stored, nor were its HITs; a resend the writer
         * found stored (anprd had forgotten it) was alerted when it was stored. */
        if (p.read < b->nreads &&
            (b->acks[p.read].refused[0] || b->acks[p.read].fate != BATCH_STORED))
            continue;
        if (s_is_sighting(&p)) {
            s_send_sighting(self, &p);
            continue;
        }
        s_send_hit(self, p.topic, p.tlen, p.covert, p.frame, p.len);
        reann_add(self->reann, p.hit_id, p.priority, p.covert, p.topic, p.tlen, p.frame, p.len,
                  spool_pos, util_mono_us());
        metrics_count_hit(&self->msnap, p.list_id, p.covert, p.kind);
        if (self->metrics && p.read < b->nreads)
            metrics_hist_latency(&self->msnap.hit_latency,
                                 util_now_us() - b->acks[p.read].received_us);
    }
}

/* Take an update from the sync thread: a new snapshot (an older one than ours, as when a
 * reload raced it, goes), post-match HITs to publish, or both. */
static void s_take_update(ingest_t *self)
{
    struct sync_update *u = NULL;

    if (zmq_recv(self->sync_pair, &u, sizeof u, ZMQ_DONTWAIT) != (int)sizeof u || !u)
        return;
    if (u->is_answer) {
        if (u->serial & CLUSTER_SERIAL) {
            if (self->cluster)
                cluster_answer(self->cluster, u->serial, u->acked, u->nacked, u->missing,
                               u->nmissing, u->answered, util_mono_us());
        } else {
            reann_answer(self->reann, u->serial, u->acked, u->nacked, u->missing, u->nmissing,
                         u->answered, util_mono_us());
        }
        free(u->acked);
        free(u->missing);
        free(u);
        return;
    }
    if (u->wl && u->version >= self->wl_version)
        ingest_set_watchlist(self, &u->wl, u->version);
    wl_destroy(&u->wl);
    /* Post-match HITs: stored by the sync thread, published here with the live ones, and
     * queued for the backbone (kept here while its spool is full). */
    for (size_t i = 0; i < u->nposts; i++) {
        const struct retro_post *p = &u->posts[i];
        if (!p->fresh)
            continue; /* published when it was stored: only the backbone gets it again */
        s_publish(self, &p->hit, p->topic, p->topic_len, p->covert);
        self->stats.hits_post++;
    }
    if (self->uplink)
        uplink_posts(self->uplink, u->posts, u->nposts);
    free(u->posts);
    free(u);
}

/* The stats line of the peers' feeds (cluster.peers): HITs taken from them, reads they alerted
 * stored here under their ids, urgent HITs of silent peers announced again here, frames that
 * did not decode. */
static void s_cluster_log(const ingest_t *self)
{
    struct cluster_counts c;

    if (!self->cluster)
        return;
    cluster_counts(self->cluster, &c);
    log_info("stats",
             "cluster: peer_hits=%" PRIu64 " peer_stored=%" PRIu64 " taken_over=%zu "
             "peer_bad=%" PRIu64,
             c.peer_hits, c.peer_stored, c.taken_over, c.peer_bad);
}

/* Stage one of a read: false when it was refused (the REJECT is sent), true when sr is ready
 * for s_read_finish. */
static bool s_read_prepare(ingest_t *self, const uint8_t *id, size_t id_len, const char *bound,
                           const uint8_t *buf, size_t len, struct s_read *sr)
{
    struct proto_read *r = &sr->r;
    struct proto_error perr;
    int64_t now = util_now_us();

    memset(r, 0, sizeof *r);
    if (proto_decode_read(buf, len, r, &perr) != 0) {
        /* The decoder fills fields in wire order, so camera and seq are there when valid. */
        reply_reject(self->reply, id, id_len, r->camera, r->epoch, r->seq, &perr);
        return false;
    }
    bool mobile;
    sr->cam = cam_table_find(self->cams, r->camera, &mobile);
    /* With CURVE, a connection carries the reads of the one camera its key is bound to. Any
     * other code gets the same answer as an unknown one, so a key cannot probe for codes. */
    if (sr->cam < 0 || (bound && strcmp(bound, r->camera) != 0)) {
        reply_reject_read(self->reply, id, id_len, r, PROTO_E_CAMERA,
                          "camera %s is not registered or not enabled", r->camera);
        return false;
    }
    int64_t mono = util_mono_us();
    beat_seen(self->beat, sr->cam, mono);
    /* One connection gets its share, not the whole ingest: over its rate, a read waits in
     * its reader (resent later), like any overload. */
    if (!rate_take(self->rate, id, id_len, mono, (uint32_t)self->conf->ingest.peer_rate_per_s,
                   (uint32_t)self->conf->ingest.peer_burst)) {
        reply_reject_read(self->reply, id, id_len, r, PROTO_E_OVERLOAD,
                          "over this connection's rate (ingest.peer_rate_per_s %d, burst %d); "
                          "resend later",
                          self->conf->ingest.peer_rate_per_s, self->conf->ingest.peer_burst);
        return false;
    }
    /* A fixed camera's place is the one registered for it: a position in its reads (a
     * misconfigured or forged one) is not taken. */
    if (!mobile)
        r->has_position = false;
    switch (plate_normalise_cc(r->plate, r->country, sr->rd.plate)) {
    case PLATE_OK:
        break;
    case PLATE_EMPTY:
        reply_reject_read(self->reply, id, id_len, r, PROTO_E_PLATE_EMPTY,
                          "plate: no letter or digit");
        return false;
    case PLATE_LONG:
        reply_reject_read(self->reply, id, id_len, r, PROTO_E_PLATE_LONG,
                          "plate: more than %d letters and digits", PLATE_MAX);
        return false;
    default:
        reply_reject_read(self->reply, id, id_len, r, PROTO_E_PLATE_INVALID,
                          "plate: character that is not a letter, digit or separator");
        return false;
    }
    /* A read the law no longer lets us keep is refused as one past max_age_days: its day's
     * partition is dropped, or is about to be. */
    int max_age = self->conf->ingest.max_age_days;
    if (self->retention_days > 0 && self->retention_days < max_age)
        max_age = self->retention_days;
    if (r->time_us > now + (int64_t)self->conf->ingest.max_future_skew_s * 1000000 ||
        r->time_us < now - (int64_t)max_age * 86400 * 1000000) {
        reply_reject_read(self->reply, id, id_len, r, PROTO_E_TIME,
                          "time: %+.0f s from now is outside [-%d days, +%d s]",
                          (double)(r->time_us - now) / 1e6, max_age,
                          self->conf->ingest.max_future_skew_s);
        return false;
    }
    if (id_len > BATCH_ID_MAX) {
        reply_reject_read(self->reply, id, id_len, r, PROTO_E_FIELD,
                          "routing id longer than %d bytes", BATCH_ID_MAX);
        return false;
    }
    memcpy(sr->id, id, id_len);
    sr->id_len = id_len;
    sr->now = now;
    match_query(self->wl, r, sr->rd.plate, r->time_us, &sr->rd, &sr->q);
    wl_prefetch(self->wl, &sr->q);
    return true;
}

/* Stage two of a read: match, suppression, the batch (and the spool), the HITs. */
static void s_read_finish(ingest_t *self, struct s_read *sr)
{
    const struct proto_read *r = &sr->r;
    const char *plate = sr->rd.plate;
    struct wl_match hits[INGEST_MAX_HITS];
    bool suppressed[INGEST_MAX_HITS] = {false};
    bool by_peer[INGEST_MAX_HITS] = {false}; /* alerted by another instance already */
    const char *const *readings = sr->q.plate;
    int32_t cam = sr->cam;
    int64_t now = sr->now;
    uint64_t digest = rid_digest(r);
    enum rid_seen seen = rid_check(self->rid, cam, r->epoch, r->seq, digest);
    uint64_t hit_ids[INGEST_MAX_HITS];

    /* One identity, one content (PROTOCOL.md 8): another content is refused, never stored. */
    if (seen == RID_OTHER) {
        reply_reject_read(self->reply, sr->id, sr->id_len, r, PROTO_E_CONFLICT, "%s",
                          REPLY_CONFLICT_TEXT);
        return;
    }
    /* A resend of a read taken lately: acknowledged again with the group it joins (so not
     * before its first copy is durable), stored once by the writer, never alerted again. */
    bool resent = seen == RID_SAME;
    /* A resend of a read still pending takes no slot: the ACK of its first copy, once durable,
     * answers both (to the connection the first copy came on; a camera that reconnected since
     * resends once more, and that copy is acknowledged as a resend). */
    if (resent && pend_has(self->pend, cam, r->epoch, r->seq)) {
        /* Counted as before, when it took a slot: accepted, and a duplicate stored once. */
        self->stats.reads_accepted++;
        self->merged++;
        if (!self->spool)
            self->stats.reads_duplicate++;
        return;
    }
    size_t nhits = resent ? 0 : wl_match(self->wl, &sr->q, hits, INGEST_MAX_HITS);

    if (nhits > INGEST_MAX_HITS) {
        S_LOG(self, LOG_LEVEL_WARN,
              "read of camera %s seq %" PRIu64 " hits %zu entries; HITs for the %d most "
              "urgent only",
              r->camera, r->seq, nhits, INGEST_MAX_HITS);
        nhits = INGEST_MAX_HITS;
    }
    if (!self->cur && !(self->cur = s_batch_get(self)))
        goto overload;
    /*
     * Suppression: the vehicle is the listed plate, however it was misread; for a pattern, the
     * reading that matched (different plates must not suppress each other).
     */
    for (size_t i = 0; i < nhits; i++) {
        const struct wl_entry *e = hits[i].entry;
        const char *key = e->pattern ? readings[hits[i].reading] : e->plate;
        suppressed[i] = supp_peek(self->supp, e->id, key ? key : plate, cam, r->time_us,
                                  e->list->opts.suppress_s, e->list->opts.realert_camera);
    }
    for (size_t i = 0; i < nhits && i < INGEST_MAX_HITS; i++) {
        uint64_t entry = hits[i].entry->id;
        hit_ids[i] = hitmemo_get(self->hitmemo, cam, r->epoch, r->seq, digest, entry);
        if (hit_ids[i] == 0 && self->cluster &&
            (hit_ids[i] = cluster_hit_id(self->cluster, cam, r->seq, digest, entry)) != 0) {
            /* Stored as the peer stored it: alerted, not held back (its own alert is in supp). */
            by_peer[i] = true;
            suppressed[i] = false;
        }
        if (hit_ids[i] == 0) {
            hit_ids[i] = hitid_next(&self->hitid, now);
            hitmemo_put(self->hitmemo, cam, r->epoch, r->seq, digest, entry, hit_ids[i]);
        }
    }
    if (batch_add(self->cur, r, digest, cam, plate, now, sr->id, sr->id_len, hits, suppressed,
                  hit_ids, nhits) != 0)
        goto overload;
    if (self->spool && s_spool_append(self) != 0) {
        batch_drop_last(self->cur);
        reply_reject_read(self->reply, sr->id, sr->id_len, r, PROTO_E_OVERLOAD,
                          "the spool is full; resend later");
        return;
    }
    /*
     * The backbone's copies last, so a HIT is never queued for a read that was not taken. A full
     * outbound spool refuses the read: it is not acknowledged (in spool mode its record is kept
     * and stored all the same), and its resend is matched and queued again.
     */
    if (self->uplink && !resent && (nhits > 0 || self->conf->backbone.forward_reads) &&
        uplink_push(self->uplink, r, plate, hits, nhits) != 0) {
        batch_drop_last(self->cur);
        reply_reject_read(self->reply, sr->id, sr->id_len, r, PROTO_E_OVERLOAD,
                          "the backbone's spool is full; resend later");
        return;
    }
    /* Taken: remember it (the table is preallocated; this cannot fail for a valid seq). */
    if (!resent)
        rid_note(self->rid, cam, r->epoch, r->seq, digest);
    /* Out of memory: not noted, so a resend of it takes a slot of its own, as before. */
    pend_add(self->pend, cam, r->epoch, r->seq);
    if (self->cur->nreads == 1)
        self->cur->first_mono_us = util_mono_us();
    self->stats.reads_accepted++;
    self->stats.pending++;
    /* Alert at once (and only now that the read is accepted, remember the alert). */
    for (size_t i = 0; i < nhits; i++) {
        const struct wl_entry *e = hits[i].entry;
        const char *key = e->pattern ? readings[hits[i].reading] : e->plate;
        /* A peer alerted it (its reader failed over): stored under the peer's id, as the peer
         * stored it, and not alerted again; the peer's alert is in supp already. */
        if (by_peer[i]) {
            cluster_note_stored(self->cluster);
            continue;
        }
        /* Follow the car (PROTOCOL.md 5.8): a repeat held back, or an alert after the window,
         * at another camera than the last sighting tells dispatch where it went, as a sighting
         * of the HIT before it. */
        if (suppressed[i]) {
            self->stats.hits_suppressed++;
            uint64_t of = supp_seen(self->supp, e->id, key ? key : plate, cam, r->time_us,
                                    e->list->opts.realert_camera);
            if (of != 0)
                s_queue_sighting(self, r, &hits[i], of);
            continue;
        }
        uint64_t before =
            supp_note(self->supp, e->id, key ? key : plate, cam, r->time_us, now,
                      e->list->opts.suppress_s, e->list->opts.realert_camera, hit_ids[i]);
        s_queue_hit(self, r, &hits[i], hit_ids[i]);
        if (before != 0)
            s_queue_sighting(self, r, &hits[i], before);
    }
    /* A full batch waits in line, so batch_size bounds every COPY; in spool mode a full group
     * is committed at once, so batch_size bounds every group too. */
    if (self->spool) {
        if (self->cur->nreads >= (size_t)self->conf->database.batch_size)
            s_spool_flush(self, false);
        return;
    }
    if (self->cur->nreads >= (size_t)self->conf->database.batch_size && s_queue_cur(self) != 0)
        S_LOG(self, LOG_LEVEL_ERROR, "out of memory queueing a batch");
    return;
overload:
    reply_reject_read(self->reply, sr->id, sr->id_len, r, PROTO_E_OVERLOAD,
                      "out of memory; resend later");
}

/* Take one message off the ROUTER: [routing id][frame]. Returns -1 when none is waiting, 1
 * when it was a read now prepared in sr, 0 when it was refused. */
static int s_recv_one(ingest_t *self, struct s_read *sr)
{
    zmq_msg_t idm, msg;
    int more, parts = 1, rc = 0;
    size_t more_len = sizeof more;
    struct proto_error perr;
    uint8_t type;

    zmq_msg_init(&idm);
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&idm, self->router, ZMQ_DONTWAIT) < 0) {
        rc = -1;
        goto out;
    }
    if (zmq_msg_recv(&msg, self->router, ZMQ_DONTWAIT) < 0) {
        rc = -1;
        goto out;
    }
    self->stats.frames++;
    /* A reader sends one part per frame; swallow any further parts and refuse the message. */
    zmq_getsockopt(self->router, ZMQ_RCVMORE, &more, &more_len);
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        zmq_msg_recv(&extra, self->router, 0);
        zmq_msg_close(&extra);
        parts++;
        zmq_getsockopt(self->router, ZMQ_RCVMORE, &more, &more_len);
    }
    const uint8_t *id = zmq_msg_data(&idm);
    size_t id_len = zmq_msg_size(&idm);
    metrics_peers_seen(self->peers, id, id_len, util_mono_us());
    if (parts > 1) {
        reply_reject_reason(self->reply, id, id_len, NULL, 0, PROTO_E_LENGTH,
                            "message: %d parts, a frame is one part", parts);
        goto out;
    }
    const uint8_t *buf = zmq_msg_data(&msg);
    size_t len = zmq_msg_size(&msg);
    if (proto_peek(buf, len, &type, &perr) != 0) {
        reply_reject(self->reply, id, id_len, NULL, 0, 0, &perr);
        goto out;
    }
    if (type != PROTO_READ) {
        reply_reject_reason(self->reply, id, id_len, NULL, 0, PROTO_E_TYPE,
                            "header: type %u is not accepted from a reader (expected READ = 1)",
                            type);
        goto out;
    }
    /* The camera code ZAP bound to the connection's key (CURVE only). */
    const char *bound = self->zap ? zmq_msg_gets(&msg, "User-Id") : NULL;
    if (self->zap && !bound) {
        reply_reject_reason(self->reply, id, id_len, NULL, 0, PROTO_E_CAMERA,
                            "connection not bound to a camera");
        goto out;
    }
    rc = s_read_prepare(self, id, id_len, bound, buf, len, sr) ? 1 : 0;
out:
    zmq_msg_close(&idm);
    zmq_msg_close(&msg);
    return rc;
}

/* --- loop ----------------------------------------------------------------------------------- */

/* The backbone queue's counters, one line. */
static void s_fwd_log_stats(ingest_t *self)
{
    struct fwd_stats st;

    if (!self->uplink)
        return;
    uplink_stats(self->uplink, &st);
    log_info("stats",
             "backbone: connected=%d depth=%" PRIu64 " depth_bytes=%" PRIu64
             " oldest_age_ms=%" PRId64 " pushed=%" PRIu64 " delivered=%" PRIu64 " retried=%" PRIu64
             " refused=%" PRIu64 " failures=%" PRIu64 " full=%" PRIu64 " lost=%" PRIu64 "%s%s",
             st.connected, st.queued_records, st.queued_bytes, st.oldest_age_us / 1000, st.pushed,
             st.delivered, st.retried, st.refused, st.failures, st.full, st.lost,
             st.last_failure[0] ? " last_failure=" : "", st.last_failure);
}

/* The covert feed's counters into stats. */
static void s_covert_counts(ingest_t *self)
{
    struct covert_stats cs;

    if (!self->covert)
        return;
    covert_stats(self->covert, &cs);
    self->stats.covert_subscribed = cs.subscribed;
    self->stats.covert_refused = cs.refused;
}

/* CURVE: who was let in and who not, one line. */
static void s_zap_log_stats(ingest_t *self)
{
    struct zap_stats st;

    s_covert_counts(self);
    if (!self->zap)
        return;
    zap_stats(self->zap, &st);
    log_info("stats",
             "curve: allowed=%" PRIu64 " denied=%" PRIu64 " camera_keys=%zu console_keys=%zu"
             " key_loads=%" PRIu64 " covert_subscribed=%" PRIu64 " covert_refused=%" PRIu64,
             st.allowed, st.denied, st.cameras, st.consoles, st.reloads,
             self->stats.covert_subscribed, self->stats.covert_refused);
}

/* Spool mode: the writer's part of the counters, and the spool's depth (backlog.h). */
static void s_spool_counts(ingest_t *self)
{
    struct writer_counts wc;
    struct spool_stats ss;

    if (!self->spool || !self->writer)
        return; /* at shutdown the last counts were taken before the writer went */
    writer_counts(self->writer, &wc);
    if (backlog_counts(self->backlog, &wc, self->merged, &self->stats, &ss, util_mono_us()))
        log_error("ingest",
                  "spool %s: damage found while running (%" PRIu64
                  " stretches so far): set aside in quarantine files and skipped; %" PRIu64
                  " reads lost so far",
                  self->conf->spool.dir, ss.live_damage, ss.live_lost);
}

/* Hand the metrics endpoint a copy of every counter. */
static void s_metrics_publish(ingest_t *self, int64_t now)
{
    struct metrics_snap *m = &self->msnap;

    s_spool_counts(self);
    if (self->spool) {
        struct writer_counts wc;
        writer_counts(self->writer, &wc);
        m->batch_reads = wc.batch_reads; /* the writer's batches come from the spool */
    }
    s_covert_counts(self);
    m->stats = self->stats;
    m->spool = self->spool != NULL;
    m->cameras = metrics_peers_count(self->peers, now);
    m->backbone = self->uplink != NULL;
    if (self->uplink) {
        struct fwd_stats st;
        uplink_stats(self->uplink, &st);
        m->backbone_connected = st.connected;
        m->backbone_queued = st.queued_records;
        m->backbone_queued_bytes = st.queued_bytes;
        m->backbone_sent = st.sent;
        m->backbone_delivered = st.delivered;
        m->backbone_retries = st.retried;
        m->backbone_failures = st.failures;
        m->backbone_lost = st.lost;
    }
    m->curve = self->zap != NULL;
    if (self->zap) {
        struct zap_stats zs;
        zap_stats(self->zap, &zs);
        m->curve_allowed = zs.allowed;
        m->curve_denied = zs.denied;
        m->curve_camera_keys = zs.cameras;
        m->curve_console_keys = zs.consoles;
    }
    metrics_publish(self->metrics, m, now);
}

/* The feed's heartbeat, when due (PROTOCOL.md 5.7): on the PUB socket, never blocking. */
static void s_heartbeat(ingest_t *self, int64_t now)
{
    const struct conf *c = self->conf;
    uint8_t frame[PROTO_MAX_FRAME];
    static const char topic[] = PROTO_TOPIC_HEARTBEAT;

    if (c->dispatch.heartbeat_s <= 0 || now < self->next_beat_us)
        return;
    self->next_beat_us = now + (int64_t)c->dispatch.heartbeat_s * 1000000;
    size_t len = beat_frame(self->beat, util_now_us(), now, (uint16_t)c->dispatch.instance,
                            (uint32_t)c->dispatch.heartbeat_s * 1000,
                            (uint32_t)c->dispatch.camera_silent_min * 60, frame, sizeof frame);
    if (len == 0 ||
        zmq_send(self->pub, topic, sizeof topic - 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) !=
            (int)sizeof topic - 1 ||
        zmq_send(self->pub, frame, len, ZMQ_DONTWAIT) != (int)len)
        S_LOG(self, LOG_LEVEL_WARN, "heartbeat not published: %s",
              len ? zmq_strerror(zmq_errno()) : "does not encode");
}

static void s_periodic(ingest_t *self)
{
    int64_t now = util_mono_us();

    s_heartbeat(self, now);
    if (self->metrics && metrics_due(self->metrics, now))
        s_metrics_publish(self, now);

    if (self->conf->log.stats_interval_s > 0 && now >= self->next_stats_us) {
        self->stats.watchlist_entries = wl_entry_count(self->wl);
        s_spool_counts(self);
        stats_log(&self->stats);
        s_cluster_log(self);
        s_fwd_log_stats(self);
        s_zap_log_stats(self);
        self->next_stats_us = now + (int64_t)self->conf->log.stats_interval_s * 1000000;
    }
    reann_tick(self->reann, now);
    if (self->cluster)
        cluster_tick(self->cluster, now);
    log_rated_flush(self->lograte, "ingest", false);
    if (self->uplink)
        uplink_retry(self->uplink);
    if (now >= self->next_expire_us) {
        /* 86400 s is the longest window a list may have (schema). */
        supp_expire(self->supp, util_now_us(), 86400);
        self->next_expire_us = now + 60LL * 1000000;
    }
    if (self->writer_busy && now - self->writer_since_us >= INGEST_STUCK_US &&
        now - self->writer_reported_us >= INGEST_STUCK_US) {
        char status[128];
        log_warn("ingest",
                 "the writer has held a batch for %.0f s; %" PRIu64
                 " reads wait (database slow or away)",
                 (double)(now - self->writer_since_us) / 1e6, self->stats.pending);
        snprintf(status, sizeof status, "STATUS=database not taking writes for %.0f s",
                 (double)(now - self->writer_since_us) / 1e6);
        notify_send(status);
        self->writer_reported_us = now;
    }
    if (self->watchdog_us > 0 && now >= self->next_watchdog_us) {
        notify_send("WATCHDOG=1");
        self->next_watchdog_us = now + self->watchdog_us / 2;
    }
}

static long s_poll_timeout_ms(const ingest_t *self)
{
    long ms = 200; /* bounded, so flags and timers are looked at often enough */
    struct gcommit_policy p = s_gc_policy(self);
    /* The end of the writer's commit wakes the poll (its PAIR): no timer runs meanwhile. */
    struct gcommit_group g = s_gc_group(self, self->writer_busy && !self->spool);
    int64_t now = util_mono_us();
    int64_t due = gcommit_wait_us(&p, &g, now);

    /* The last round stopped at its burst's end: look again at once (none left: it goes). */
    if (due > 0 && self->more_waiting)
        due = 0;
    if (due >= 0) {
        /* A spool commit that failed is not tried again before its retry time: no spinning. */
        if (self->spool && self->spool_retry_us - now > due)
            due = self->spool_retry_us - now;
        long d = (long)((due + 999) / 1000);
        if (d < ms)
            ms = d;
    }
    return ms;
}

enum ingest_event ingest_run(ingest_t *self, volatile sig_atomic_t *stop,
                             volatile sig_atomic_t *reload)
{
    while (!*stop && !*reload) {
        bool full = self->stats.pending >= (uint64_t)self->conf->ingest.max_pending ||
                    util_mono_us() < self->spool_full_until;
        /* The covert feed first: it is polled always, the readers' ROUTER not when full. */
        bool xpub = self->covert != NULL;
        /* The peers' feeds before the readers: a HIT a peer alerted is known here before the
         * resend of its read that a failover brings (without peers: the writer's pair again,
         * polled for nothing). */
        zmq_pollitem_t all[5] = {
            {self->covert ? covert_socket(self->covert) : NULL, 0, ZMQ_POLLIN, 0},
            {self->pair, 0, ZMQ_POLLIN, 0},
            {self->sync_pair, 0, ZMQ_POLLIN, 0},
            {self->cluster ? cluster_socket(self->cluster) : self->pair, 0,
             self->cluster ? ZMQ_POLLIN : 0, 0},
            {self->router, 0, ZMQ_POLLIN, 0},
        };
        zmq_pollitem_t *items = all + 1;
        /* Back-pressure: while too much is pending, leave the readers' frames in ZeroMQ. */
        int n = zmq_poll(xpub ? all : items, (full ? 3 : 4) + xpub, s_poll_timeout_ms(self));
        if (n > 0 && xpub && (all[0].revents & ZMQ_POLLIN))
            covert_take(self->covert);

        if (n < 0 && zmq_errno() != EINTR) {
            log_error("ingest", "poll: %s", zmq_strerror(zmq_errno()));
            return INGEST_ERROR;
        }
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            s_take_done(self);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            s_take_update(self);
        if (n > 0 && self->cluster && (items[2].revents & ZMQ_POLLIN))
            cluster_take(self->cluster, self->wl, self->cams);
        /* Reads left waiting after this round (the burst's end, not the ROUTER's) hold the
         * group for the next round; when full, none can join it: it goes (gcommit.h). */
        self->more_waiting = false;
        if (n > 0 && !full && (items[3].revents & ZMQ_POLLIN)) {
            struct s_read *held = NULL;
            self->more_waiting = true;
            for (int i = 0; i < INGEST_BURST; i++) {
                /* Full (pending, or the spool since a read of this burst): the rest waits. */
                if (self->stats.pending >= (uint64_t)self->conf->ingest.max_pending ||
                    util_mono_us() < self->spool_full_until) {
                    self->more_waiting = false;
                    break;
                }
                /* Prepare the next read into the slot the held one does not use, then finish
                 * the held one: its lookup overlaps with the next one's prefetch. */
                struct s_read *next = &self->prep[held == &self->prep[0]];
                int rc = s_recv_one(self, next);
                if (rc < 0) {
                    self->more_waiting = false;
                    break;
                }
                if (rc == 1) {
                    if (held)
                        s_read_finish(self, held);
                    held = next;
                }
            }
            if (held)
                s_read_finish(self, held);
        }
        s_dispatch(self, false);
        s_periodic(self);
        if (sync_refused(self->sync))
            return INGEST_REFUSED; /* said by the sync thread */
    }
    return *stop ? INGEST_STOP : INGEST_RELOAD;
}

/* --- life cycle ----------------------------------------------------------------------------- */

static int s_bind(void *sock, const char *endpoint, const char *what, char *err, size_t errlen)
{
    if (zmq_bind(sock, endpoint) != 0) {
        snprintf(err, errlen, "%s: cannot bind %s: %s", what, endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/*
 * Open the spool of conf and say what it holds (and what a crash damaged), and how many reads
 * it can still take: loud when the filesystem is the limit, as the operator sized max_mb for a
 * disk that is not there. The identities of its backlog are remembered before the writer
 * starts. 0 or -1.
 */
static int s_spool_open(ingest_t *self, const struct conf *conf, char *err, size_t errlen)
{
    struct spool_opts opts = {.max_bytes = (uint64_t)conf->spool.max_mb << 20};
    struct spool_report rep;
    struct spool_stats st;
    struct backlog_room room;
    char why[400];
    long n;

    self->spool = spool_open(conf->spool.dir, &opts, &rep, why, sizeof why);
    if (!self->spool) {
        snprintf(err, errlen, "spool: %s", why);
        return -1;
    }
    damage_log("spool", conf->spool.dir, &rep, "reads", true);
    if (!(self->backlog = backlog_new(self->spool, &rep, util_mono_us()))) {
        snprintf(err, errlen, "spool: out of memory");
        return -1;
    }
    self->stats.spool_lost = rep.damaged_records;
    spool_stats(self->spool, &st);
    log_info("ingest",
             "spool %s: %" PRIu64 " reads not yet stored (%" PRIu64 " bytes) in %" PRIu64
             " segments; the writer stores them first",
             conf->spool.dir, st.depth_records, st.depth_bytes, rep.segments);
    backlog_room(self->backlog, &room);
    const struct spool_space *sc = &room.space;
    log_msg(room.disk_short ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "ingest",
            "spool %s: room for about %" PRIu64 " more reads (%" PRIu64
            " KiB; spool.max_mb %d, %" PRIu64 " KiB used, %" PRIu64
            " KiB free on its filesystem; segments of %" PRIu64 " KiB)%s",
            conf->spool.dir, room.reads, sc->room >> 10, conf->spool.max_mb, sc->used_bytes >> 10,
            sc->fs_avail == UINT64_MAX ? 0 : sc->fs_avail >> 10, sc->segment_bytes >> 10,
            room.disk_short ? ": the filesystem holds less than spool.max_mb, and when it is full "
                              "reads wait in the cameras"
                            : "");
    if ((n = backlog_remember(self->backlog, self->rid, why, sizeof why)) < 0)
        log_warn("ingest", "spool: identities of the backlog not read: %s", why);
    else if (n > 0)
        log_info("ingest", "spool: %ld read identities of the backlog remembered", n);
    return 0;
}

/* Start the backbone forwarder of conf and say what its spool holds. 0 or -1. */
static int s_fwd_open(ingest_t *self, const struct conf *conf, char *err, size_t errlen)
{
    struct spool_report rep;
    struct fwd_stats st;

    self->uplink = uplink_new(conf, self->lograte, &rep, err, errlen);
    if (!self->uplink)
        return -1;
    damage_log("backbone spool", conf->backbone.spool_dir, &rep, "HITs", false);
    uplink_stats(self->uplink, &st);
    log_info("ingest", "backbone: forwarding to %s:%d as %s; %" PRIu64 " messages queued",
             conf->backbone.host, conf->backbone.port, conf->backbone.instance, st.queued_records);
    return 0;
}

/* Make sock a CURVE server whose peers ZAP checks in `domain` (zap.h). 0 or -1. */
static int s_secure(void *sock, const struct ingest_curve *curve, const char *domain, char *err,
                    size_t errlen)
{
    if (!curve || !curve->zap)
        return 0;
    return zap_server(sock, curve->secret_z85, domain, err, errlen);
}

ingest_t *ingest_new(void *zmq_ctx, const struct conf *conf, cam_table_t **cams, wl_t **wl,
                     int64_t version, uint64_t last_hit_id, const struct ingest_curve *curve,
                     char *err, size_t errlen)
{
    ingest_t *self = calloc(1, sizeof *self);
    int one = 1, zero = 0, hb_ivl = 5000, hb_timeout = 15000, handshake_ms = 10000;
    int64_t maxmsg = INGEST_MAX_MSG;
    struct writer_opts wopts;

    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->conf = conf;
    self->zap = curve ? curve->zap : NULL;
    self->rid = rid_new(INGEST_RID_GENERATION);
    self->rate = rate_new(4096);
    self->supp = supp_new();
    self->beat = beat_new();
    self->pend = pend_new();
    self->hitmemo = hitmemo_new(INGEST_HITMEMO_SLOTS);
    self->lograte = lograte_new((int64_t)conf->log.reject_log_interval_s * 1000000);
    self->reann = reann_new(&(struct reann_io){.ctx = self,
                                               .send = s_reann_send,
                                               .ask = s_reann_ask,
                                               .stored = s_reann_stored,
                                               .covert = conf->dispatch.covert_endpoint[0] != '\0'},
                            self->lograte);
    self->router = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    self->pub = zmq_socket(zmq_ctx, ZMQ_PUB);
    self->pair = zmq_socket(zmq_ctx, ZMQ_PAIR);
    self->sync_pair = zmq_socket(zmq_ctx, ZMQ_PAIR);
    self->reply = reply_new(
        &(struct reply_io){
            .ctx = self, .router = self->router, .stats = &self->stats, .rejected = s_rejected},
        (int64_t)conf->log.reject_log_interval_s * 1000000);
    if (!self->reply || !self->sync_pair || !self->rid || !self->rate || !self->supp ||
        !self->beat || !self->reann || !self->pend || !self->hitmemo || !self->lograte ||
        !self->router || !self->pub || !self->pair) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (beat_set_cameras(self->beat, *cams, util_mono_us()) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    reann_set(self->reann, conf->dispatch.reannounce_s, conf->dispatch.reannounce_priority,
              util_mono_us());
    /* Fail a send to a reader that has gone instead of dropping it silently (it is counted);
     * refuse giant messages before they are read into memory. */
    zmq_setsockopt(self->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    /* No ROUTER handover: with heartbeats on, libzmq 4.3.4 aborts the process some seconds
     * after a connection was handed over to another peer with the same routing id and the
     * first then went (any peer could do it). A second connection with a routing id in use is
     * refused instead; a reader reconnecting with its own id is let in once heartbeats have
     * noticed that its old connection has gone (within the heartbeat timeout). A handshake
     * that stalls is dropped after handshake_ms. */
    zmq_setsockopt(self->router, ZMQ_HANDSHAKE_IVL, &handshake_ms, sizeof handshake_ms);
    zmq_setsockopt(self->router, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    zmq_setsockopt(self->router, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    zmq_setsockopt(self->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->pub, ZMQ_LINGER, &zero, sizeof zero);
    if (s_secure(self->router, curve, "ingest", err, errlen) != 0 ||
        s_secure(self->pub, curve, "dispatch", err, errlen) != 0)
        goto fail;
    if (s_bind(self->router, conf->ingest.endpoint, "ingest", err, errlen) != 0 ||
        s_bind(self->pub, conf->dispatch.endpoint, "dispatch", err, errlen) != 0 ||
        s_bind(self->pair, INGEST_PAIR_ENDPOINT, "writer", err, errlen) != 0 ||
        s_bind(self->sync_pair, INGEST_SYNC_ENDPOINT, "sync", err, errlen) != 0)
        goto fail;
    if (conf->dispatch.covert_endpoint[0]) {
        self->covert = covert_new(zmq_ctx, conf->dispatch.covert_endpoint, self->zap,
                                  curve ? curve->secret_z85 : NULL, err, errlen);
        if (!self->covert)
            goto fail;
    }
    if (conf->cluster.npeers > 0) {
        struct cluster_opts copts = {.peers = conf->cluster.peers,
                                     .npeers = conf->cluster.npeers,
                                     .instance = (unsigned)conf->dispatch.instance,
                                     .secret_z85 = curve ? curve->secret_z85 : NULL,
                                     .reannounce_s = conf->dispatch.reannounce_s,
                                     .reannounce_priority = conf->dispatch.reannounce_priority};
        struct cluster_io cio = {.ctx = self,
                                 .send = s_reann_send,
                                 .ask = s_reann_ask,
                                 .taken_over = s_taken_over,
                                 .supp = self->supp,
                                 .reann = self->reann,
                                 .lograte = self->lograte};
        if (!(self->cluster = cluster_new(zmq_ctx, &copts, &cio, err, errlen)))
            goto fail;
        log_info("ingest", "cluster: following the dispatch feeds of %zu other instances",
                 conf->cluster.npeers);
    }
    if (conf->spool.dir[0] && s_spool_open(self, conf, err, errlen) != 0)
        goto fail;
    if (conf->backbone.host[0] && s_fwd_open(self, conf, err, errlen) != 0)
        goto fail;
    wopts.conninfo = conf->database.conninfo;
    wopts.reconnect_max_ms = conf->database.reconnect_max_ms;
    wopts.partitions_ahead_days = conf->database.partitions_ahead_days;
    wopts.spool = self->spool;
    wopts.batch_size = conf->database.batch_size;
    wopts.log_interval_s = conf->log.reject_log_interval_s;
    self->writer = writer_new(zmq_ctx, INGEST_PAIR_ENDPOINT, &wopts);
    if (!self->writer) {
        snprintf(err, errlen, "cannot start the writer thread");
        goto fail;
    }
    hitid_init(&self->hitid, (unsigned)conf->dispatch.instance);
    hitid_seed(&self->hitid, last_hit_id);
    struct sync_opts sopts = {.conninfo = conf->database.conninfo,
                              .hitid = &self->hitid,
                              .ocr_classes = conf->matcher.ocr_classes,
                              .wl = *wl,
                              .version = version,
                              .resync_s = 300,
                              .reconnect_max_ms = conf->database.reconnect_max_ms,
                              .snapshot_dir = conf->spool.dir[0] ? conf->spool.dir : NULL,
                              .instance = (unsigned)conf->dispatch.instance};
    self->sync = sync_new(zmq_ctx, INGEST_SYNC_ENDPOINT, &sopts);
    if (!self->sync) {
        snprintf(err, errlen, "cannot start the watchlist sync thread");
        goto fail_writer;
    }
    self->cams = *cams;
    *cams = NULL;
    self->wl = *wl;
    *wl = NULL;
    self->wl_version = version;
    self->stats.watchlist_entries = wl_entry_count(self->wl);
    self->stats.watchlist_version = version;
    self->watchdog_us = notify_watchdog_us();
    self->next_stats_us = util_mono_us() + (int64_t)conf->log.stats_interval_s * 1000000;
    return self;
fail_writer:
    writer_send_batch(self->pair, NULL);
    writer_destroy(&self->writer);
fail:
    uplink_destroy(&self->uplink);
    backlog_destroy(&self->backlog);
    spool_destroy(&self->spool);
    covert_destroy(&self->covert);
    cluster_destroy(&self->cluster);
    zmq_close(self->sync_pair);
    zmq_close(self->router);
    zmq_close(self->pub);
    zmq_close(self->pair);
    reply_destroy(&self->reply);
    rid_destroy(&self->rid);
    rate_destroy(&self->rate);
    supp_destroy(&self->supp);
    beat_destroy(&self->beat);
    reann_destroy(&self->reann);
    pend_destroy(&self->pend);
    hitmemo_destroy(&self->hitmemo);
    lograte_destroy(&self->lograte);
    free(self);
    return NULL;
}

void ingest_destroy(ingest_t **self_p, int drain_ms)
{
    ingest_t *self;
    int64_t deadline;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    /* Commit what was accepted, so the readers get their acks before we go. */
    deadline = util_mono_us() + (int64_t)drain_ms * 1000;
    if (self->spool) {
        /* Acknowledge what the spool takes; let the writer store what it can meanwhile (the
         * rest is stored at the next start). */
        self->spool_retry_us = 0;
        s_spool_flush(self, true);
        while (spool_checkpointed(self->spool) < spool_durable(self->spool) &&
               util_mono_us() < deadline)
            spool_wait(self->spool, UINT64_MAX - 1, 50); /* a bounded nap: nothing wakes it */
        if (self->cur && self->cur->nreads > 0)
            log_warn("ingest", "%zu reads not in the spool at shutdown; readers will resend them",
                     self->cur->nreads);
    } else if (self->cur && self->cur->nreads > 0 && s_queue_cur(self) != 0)
        log_error("ingest", "out of memory at shutdown");
    while ((self->writer_busy || self->nready > 0) && util_mono_us() < deadline) {
        zmq_pollitem_t item = {self->pair, 0, ZMQ_POLLIN, 0};
        s_dispatch(self, true);
        if (zmq_poll(&item, 1, 100) > 0)
            s_take_done(self);
    }
    if (!self->spool && (self->writer_busy || self->nready > 0))
        log_warn("ingest", "%" PRIu64 " reads not stored at shutdown; readers will resend them",
                 self->stats.pending);
    /* The sync thread first: an update it sent and we never took is freed here. */
    sync_destroy(&self->sync);
    /* Every update left: a snapshot and the post-matches that follow it are two. */
    zmq_pollitem_t left = {self->sync_pair, 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&left, 1, 0) > 0 && (left.revents & ZMQ_POLLIN))
        s_take_update(self);
    s_fwd_commit(self);
    zmq_close(self->sync_pair);
    writer_send_batch(self->pair, NULL);
    s_spool_counts(self);
    writer_destroy(&self->writer);
    /* The batch the writer held comes back now: acknowledged if it made it after all. */
    if (self->writer_busy)
        s_take_done(self);
    s_spool_counts(self);
    stats_log(&self->stats);
    s_fwd_log_stats(self);
    s_zap_log_stats(self);
    size_t waiting = self->uplink ? uplink_waiting(self->uplink) : 0;
    uplink_destroy(&self->uplink);
    backlog_destroy(&self->backlog);
    spool_destroy(&self->spool);
    if (waiting > 0)
        log_warn("ingest", "%zu post-match HITs not forwarded to the backbone (its spool full)",
                 waiting);
    /* The writer is gone: any batch it held came back or is lost with it; free ours. */
    batch_destroy(&self->cur);
    for (size_t i = 0; i < self->nready; i++)
        batch_destroy(&self->ready[i]);
    free(self->ready);
    batch_destroy(&self->spare);
    zmq_close(self->router);
    reply_destroy(&self->reply);
    zmq_close(self->pub);
    covert_destroy(&self->covert);
    zmq_close(self->pair);
    cluster_destroy(&self->cluster); /* before the parts it borrows */
    cam_table_destroy(&self->cams);
    wl_destroy(&self->wl);
    rid_destroy(&self->rid);
    rate_destroy(&self->rate);
    supp_destroy(&self->supp);
    beat_destroy(&self->beat);
    reann_destroy(&self->reann);
    log_rated_flush(self->lograte, "ingest", true);
    lograte_destroy(&self->lograte);
    pend_destroy(&self->pend);
    hitmemo_destroy(&self->hitmemo);
    metrics_peers_destroy(&self->peers);
    free(self);
    *self_p = NULL;
}

void ingest_set_conf(ingest_t *self, const struct conf *conf)
{
    self->conf = conf;
    reply_set_interval(self->reply, (int64_t)conf->log.reject_log_interval_s * 1000000);
    reann_set(self->reann, conf->dispatch.reannounce_s, conf->dispatch.reannounce_priority,
              util_mono_us());
    if (self->uplink)
        uplink_set_conf(self->uplink, conf);
    if (self->cluster)
        cluster_set_reannounce(self->cluster, conf->dispatch.reannounce_s,
                               conf->dispatch.reannounce_priority, util_mono_us());
}

void ingest_set_retention(ingest_t *self, int days)
{
    self->retention_days = days;
}

void ingest_set_cameras(ingest_t *self, cam_table_t **cams)
{
    /* Out of memory: the heartbeat goes on counting the cameras as they were. */
    if (beat_set_cameras(self->beat, *cams, util_mono_us()) != 0)
        log_error("ingest", "out of memory: the heartbeat keeps the cameras as they were");
    cam_table_destroy(&self->cams);
    self->cams = *cams;
    *cams = NULL;
}

void ingest_set_watchlist(ingest_t *self, wl_t **wl, int64_t version)
{
    wl_destroy(&self->wl);
    self->wl = *wl;
    *wl = NULL;
    self->wl_version = version;
    self->stats.watchlist_entries = wl_entry_count(self->wl);
    self->stats.watchlist_version = version;
}

int ingest_resync(ingest_t *self, const char *ocr_classes)
{
    return sync_request(self->sync_pair, ocr_classes);
}

int ingest_set_metrics(ingest_t *self, metrics_t *metrics)
{
    /* A peer counts for the ROUTER's heartbeat timeout: one gone silently is dropped by then. */
    if (!(self->peers = metrics_peers_new(15LL * 1000000)))
        return -1;
    self->metrics = metrics;
    reply_set_latency(self->reply, &self->msnap.ack_latency);
    return 0;
}

void ingest_note_identities(ingest_t *self, const struct rid_entry *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rid_check(self->rid, ids[i].camera_id, ids[i].epoch, ids[i].seq, ids[i].digest) ==
            RID_NEW)
            rid_note(self->rid, ids[i].camera_id, ids[i].epoch, ids[i].seq, ids[i].digest);
    log_info("ingest", "remembering %zu read identities", rid_count(self->rid));
}

const struct stats *ingest_stats(const ingest_t *self)
{
    return &self->stats;
}
