#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitid.h"
#include "hitmemo.h"
#include "idset.h"
#include "match.h"
#include "peer.h"
#include "plate.h"
#include "rid.h"
#include "util.h"

#define S_MAX_HITS 16 /* entries one peer's read is matched against at most, as ingest's */

struct cluster {
    struct cluster_io io; /* ingest's parts, borrowed */
    peer_t *peer;         /* the peers' feeds */
    hitmemo_t *memo;      /* the ids of the HITs the peers alerted, by read and entry */
    uint64_t stored;      /* HITs of reads a peer alerted, stored here under its ids */
    /* The peers' urgent HITs, watched like ingest's own but announced again only while their
     * instance is silent: a dead instance's urgent HITs are taken over. */
    reann_t *shadow;
    idset_t *taken_over; /* peers' HITs announced here: they stay here once taken over */
    /* Scratch for matching a peer's HIT here. */
    struct proto_read r;
    struct match_readings rd;
    struct wl_query q;
};

/*
 * The shadow re-announcer's send: a peer's urgent HIT is announced again here only once that
 * peer is silent (peer_alive), and from then on here, also after the peer is back (it forgot
 * the HITs it watched when it died). Told once per HIT taken over.
 */
static void s_shadow_send(void *ctx, uint64_t hit_id, bool covert, const char *topic, size_t tlen,
                          const uint8_t *frame, size_t len)
{
    cluster_t *self = ctx;
    unsigned instance = (unsigned)((hit_id >> 12) & HITID_INSTANCE_MAX);

    if (!idset_has(self->taken_over, hit_id)) {
        if (peer_alive(self->peer, instance, util_mono_us()))
            return;
        if (idset_add(self->taken_over, hit_id) == 0 && self->io.taken_over)
            self->io.taken_over(self->io.ctx, instance, hit_id);
    }
    self->io.send(self->io.ctx, hit_id, covert, topic, tlen, frame, len);
}

static int s_shadow_ask(void *ctx, const uint64_t *ids, size_t n, uint64_t serial,
                        int64_t deadline_us)
{
    cluster_t *self = ctx;

    return self->io.ask(self->io.ctx, ids, n, serial | CLUSTER_SERIAL, deadline_us);
}

/* A peer's HIT is stored by the peer, maybe not yet (its spool): never "past it", so one the
 * database has no row of is kept (until acknowledged, or a day). */
static uint64_t s_shadow_stored(void *ctx)
{
    (void)ctx;
    return 0;
}

cluster_t *cluster_new(void *zmq_ctx, const struct cluster_opts *opts, const struct cluster_io *io,
                       char *err, size_t errlen)
{
    cluster_t *self = calloc(1, sizeof *self);

    if (!self) {
        snprintf(err, errlen, "cluster.peers: out of memory");
        return NULL;
    }
    self->io = *io;
    self->peer =
        peer_new(zmq_ctx, opts->peers, opts->npeers, opts->instance, opts->secret_z85, err, errlen);
    self->memo = hitmemo_new(CLUSTER_MEMO_SLOTS);
    self->taken_over = idset_new();
    self->shadow = reann_new(
        &(struct reann_io){
            .ctx = self, .send = s_shadow_send, .ask = s_shadow_ask, .stored = s_shadow_stored},
        io->lograte);
    if (!self->peer || !self->memo || !self->taken_over || !self->shadow) {
        if (self->peer)
            snprintf(err, errlen, "cluster.peers: out of memory");
        cluster_destroy(&self);
        return NULL;
    }
    reann_set(self->shadow, opts->reannounce_s, opts->reannounce_priority, util_mono_us());
    return self;
}

void cluster_destroy(cluster_t **self_p)
{
    cluster_t *self;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    peer_destroy(&self->peer);
    hitmemo_destroy(&self->memo);
    reann_destroy(&self->shadow);
    idset_destroy(&self->taken_over);
    free(self);
    *self_p = NULL;
}

void *cluster_socket(const cluster_t *self)
{
    return peer_socket(self->peer);
}

/*
 * The entry of a HIT or sighting another instance published, found by matching its read here
 * too, and the suppression key exactly as ingest's s_read_finish makes it. NULL when this
 * instance does not know the camera or the entry: nothing is kept.
 */
static const struct wl_entry *s_match(cluster_t *self, const wl_t *wl, const cam_table_t *cams,
                                      const struct proto_hit *h, int32_t *cam, const char **key)
{
    struct wl_match hits[S_MAX_HITS];
    bool mobile;

    *cam = cam_table_find(cams, h->read.camera, &mobile);
    if (*cam < 0 || plate_normalise_cc(h->read.plate, h->read.country, self->rd.plate) != PLATE_OK)
        return NULL;
    self->r = h->read;
    match_query(wl, &self->r, self->rd.plate, self->r.time_us, &self->rd, &self->q);
    size_t n = wl_match(wl, &self->q, hits, S_MAX_HITS);
    for (size_t i = 0; i < n && i < S_MAX_HITS; i++) {
        const struct wl_entry *e = hits[i].entry;
        if (e->id != h->entry_id)
            continue;
        *key = e->pattern ? self->q.plate[hits[i].reading] : e->plate;
        if (!*key)
            *key = self->rd.plate;
        return e;
    }
    return NULL;
}

/*
 * A HIT another instance alerted: its id kept by read and entry, its alert noted in supp, and,
 * urgent, watched by the shadow re-announcer, which announces it again only once that peer's
 * heartbeat has stopped (s_shadow_send).
 */
static void s_hit(cluster_t *self, const wl_t *wl, const cam_table_t *cams,
                  const struct proto_hit *h)
{
    const char *key = NULL;
    int32_t cam;
    const struct wl_entry *e = s_match(self, wl, cams, h, &cam, &key);

    if (!e)
        return;
    const struct proto_read *r = &self->r;
    hitmemo_put(self->memo, cam, 0, r->seq, rid_digest(r), e->id, h->hit_id);
    supp_note(self->io.supp, e->id, key, cam, r->time_us, util_now_us(), e->list->opts.suppress_s,
              e->list->opts.realert_camera, h->hit_id);
    size_t len, tlen;
    const char *topic;
    const uint8_t *frame = peer_frame(self->peer, &len, &topic, &tlen);
    /* Stored by the peer, not necessarily in the database yet (its spool): a HIT with no row
     * is not let go (spool_pos 1, and s_shadow_stored says 0). */
    reann_add(self->shadow, h->hit_id, h->priority, false, topic, tlen, frame, len, 1,
              util_mono_us());
}

/* A sighting another instance published: where the car was last seen (supp), and the frame a
 * HIT of it is announced again with, by ingest or by the shadow. */
static void s_seen(cluster_t *self, const wl_t *wl, const cam_table_t *cams,
                   const struct proto_hit *h)
{
    const char *key = NULL;
    int32_t cam;
    const struct wl_entry *e = s_match(self, wl, cams, h, &cam, &key);

    if (e)
        (void)supp_seen(self->io.supp, e->id, key, cam, self->r.time_us,
                        e->list->opts.realert_camera);
    size_t len, tlen;
    const char *topic;
    const uint8_t *frame = peer_frame(self->peer, &len, &topic, &tlen);
    reann_follow(self->io.reann, h->hit_id, frame, len);
    reann_follow(self->shadow, h->hit_id, frame, len);
}

void cluster_take(cluster_t *self, const wl_t *wl, const cam_table_t *cams)
{
    struct proto_hit h;

    for (int i = 0; i < CLUSTER_TAKE_MAX; i++) {
        enum peer_kind k = peer_take(self->peer, &h, util_now_us(), util_mono_us());
        if (k == PEER_NONE)
            return;
        if (k == PEER_HIT)
            s_hit(self, wl, cams, &h);
        else
            s_seen(self, wl, cams, &h);
    }
}

uint64_t cluster_hit_id(const cluster_t *self, int32_t camera_id, uint64_t seq, uint64_t digest,
                        uint64_t entry_id)
{
    return hitmemo_get(self->memo, camera_id, 0, seq, digest, entry_id);
}

void cluster_note_stored(cluster_t *self)
{
    self->stored++;
}

void cluster_set_reannounce(cluster_t *self, int every_s, int priority, int64_t now)
{
    reann_set(self->shadow, every_s, priority, now);
}

void cluster_tick(cluster_t *self, int64_t now)
{
    reann_tick(self->shadow, now);
}

void cluster_answer(cluster_t *self, uint64_t serial, uint64_t *acked, size_t nacked,
                    uint64_t *missing, size_t nmissing, bool answered, int64_t now)
{
    reann_answer(self->shadow, serial & ~CLUSTER_SERIAL, acked, nacked, missing, nmissing, answered,
                 now);
}

void cluster_counts(const cluster_t *self, struct cluster_counts *c)
{
    c->peer_hits = peer_taken(self->peer);
    c->peer_stored = self->stored;
    c->taken_over = idset_count(self->taken_over);
    c->peer_bad = peer_bad(self->peer);
}
