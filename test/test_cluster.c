/*
 * cluster: a peer's feed, over a real ZeroMQ PUB on inproc, laid into a real suppression table,
 * watchlist and re-announcer. A peer's HIT is remembered by read and entry (a resend of its
 * read gets the peer's id) and noted in supp (the same car at another camera here is held back
 * and becomes a sighting of the peer's HIT); one of a camera this instance does not know is not
 * kept. Its urgent HIT is announced again here only once the peer's heartbeat has stopped, and
 * stays taken over when the peer beats again; the shadow's questions carry CLUSTER_SERIAL and
 * their answers find it: while the peer is alive, the shadow asks about its HIT, is answered "not
 * acknowledged" and sends nothing. A peer's sighting of its HIT (a "seen/" frame) is what the HIT
 * is announced again with once taken over; one of this instance's own HIT, what ingest's
 * re-announcer announces it with.
 */
#include <poll.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "cluster.h"
#include "hitid.h"
#include "proto.h"
#include "rid.h"
#include "util.h"

#define S_EP     "inproc://test-cluster"
#define S_SELF   3  /* this instance */
#define S_PEER   4  /* the peer */
#define S_ENTRY  42 /* the entry both instances know */
#define S_WINDOW 300

/* What the cluster asked of "ingest". */
struct s_host {
    int sends;                      /* HITs announced again */
    uint64_t sent_id;               /* the last one */
    int asks;                       /* questions put */
    uint64_t serial;                /* the last question's */
    int taken;                      /* HITs told as taken over */
    unsigned taken_ins;             /* the last one's instance */
    uint64_t watch_id;              /* the peer's HIT the test follows ... */
    int asked_watch;                /* ... questions that named it */
    int held;                       /* "not acknowledged" answers after which nothing was sent */
    uint8_t frame[PROTO_MAX_FRAME]; /* the last announcement's frame */
    size_t flen;
};

static void s_send(void *ctx, uint64_t hit_id, bool covert, const char *topic, size_t tlen,
                   const uint8_t *frame, size_t len)
{
    struct s_host *h = ctx;

    (void)topic, (void)tlen;
    CHECK(!covert); /* a peer's feed carries no covert HIT */
    h->sends++;
    h->sent_id = hit_id;
    h->flen = len <= sizeof h->frame ? len : 0;
    memcpy(h->frame, frame, h->flen);
}

static int s_ask(void *ctx, const uint64_t *ids, size_t n, uint64_t serial, int64_t deadline_us)
{
    struct s_host *h = ctx;

    (void)deadline_us;
    h->asks++;
    h->serial = serial;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == h->watch_id)
            h->asked_watch++;
    return 0;
}

static void s_taken(void *ctx, unsigned instance, uint64_t hit_id)
{
    struct s_host *h = ctx;

    (void)hit_id;
    h->taken++;
    h->taken_ins = instance;
}

/* Ingest's own re-announcer cannot ask: acknowledgements unknown, a due HIT is announced. */
static int s_own_ask(void *ctx, const uint64_t *ids, size_t n, uint64_t serial, int64_t deadline_us)
{
    (void)ctx, (void)ids, (void)n, (void)serial, (void)deadline_us;
    return -1;
}

static struct proto_hit s_hit(const char *camera, uint64_t seq, uint64_t entry, uint64_t id)
{
    struct proto_hit h;

    memset(&h, 0, sizeof h);
    h.entry_id = entry;
    h.list_id = 7;
    h.priority = 1;
    h.match = PROTO_MATCH_EXACT;
    snprintf(h.list, sizeof h.list, "Wanted");
    snprintf(h.category, sizeof h.category, "wanted");
    snprintf(h.entry_plate, sizeof h.entry_plate, "1ABC001");
    snprintf(h.read.camera, sizeof h.read.camera, "%s", camera);
    snprintf(h.read.plate, sizeof h.read.plate, "1ABC001");
    h.read.seq = seq;
    h.read.time_us = util_now_us();
    h.read.confidence = 900;
    h.read.lane = 1;
    h.read.direction = PROTO_DIR_TOWARDS;
    h.hit_id = id;
    return h;
}

static void s_pub(void *pub, const char *topic, const struct proto_hit *h)
{
    uint8_t buf[PROTO_MAX_FRAME];
    size_t n = proto_encode_hit(h, buf, sizeof buf);

    CHECK(n > 0);
    zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE);
    zmq_send(pub, buf, n, 0);
}

static void s_beat(void *pub)
{
    uint8_t buf[PROTO_MAX_FRAME];
    struct proto_heartbeat hb = {.time_us = util_now_us(),
                                 .instance = S_PEER,
                                 .interval_ms = 1000,
                                 .silent_after_s = 600,
                                 .cameras = 1,
                                 .reporting = 1};
    size_t n = proto_encode_heartbeat(&hb, buf, sizeof buf);

    CHECK(n > 0);
    zmq_send(pub, PROTO_TOPIC_HEARTBEAT, strlen(PROTO_TOPIC_HEARTBEAT), ZMQ_SNDMORE);
    zmq_send(pub, buf, n, 0);
}

static uint64_t s_peer_hits(const cluster_t *c)
{
    struct cluster_counts k;

    cluster_counts(c, &k);
    return k.peer_hits;
}

/* Take the feed until the cluster has taken `want` HITs, within ms; whether it did. */
static bool s_take_until(cluster_t *c, const wl_t *wl, const cam_table_t *cams, uint64_t want,
                         int ms)
{
    int64_t end = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        cluster_take(c, wl, cams);
        if (s_peer_hits(c) >= want)
            return true;
        int64_t left = end - util_mono_us();
        if (left <= 0)
            return false;
        zmq_pollitem_t it = {cluster_socket(c), 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, (long)(left / 1000) + 1);
    }
}

/*
 * Run the shadow as ingest does (a tick every round, each question answered at once: not
 * acknowledged) until `sends` announcements were made, or ms passed. *in_answer: whether the
 * last one was made by the answer (the answer found its question), not by a tick.
 */
static bool s_run_until(cluster_t *c, const wl_t *wl, const cam_table_t *cams, struct s_host *h,
                        int sends, int ms, bool *in_answer)
{
    int64_t end = util_mono_us() + (int64_t)ms * 1000;

    while (h->sends < sends && util_mono_us() < end) {
        int asks = h->asks;
        cluster_tick(c, util_mono_us());
        if (h->asks > asks) {
            CHECK(h->serial & CLUSTER_SERIAL);
            int before = h->sends;
            cluster_answer(c, h->serial, NULL, 0, NULL, 0, true, util_mono_us());
            *in_answer = h->sends > before;
            if (!*in_answer)
                h->held++;
        }
        cluster_take(c, wl, cams);
        zmq_pollitem_t it = {cluster_socket(c), 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 50); /* a round of ingest's loop: woken by the feed, or the timer */
    }
    return h->sends >= sends;
}

int main(void)
{
    void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_PUB);
    char err[256];
    char *eps[] = {S_EP};
    struct hitid ids;
    struct s_host host = {0};
    uint64_t seq = 1;

    hitid_init(&ids, S_PEER);
    CHECK_INT(zmq_bind(pub, S_EP), 0);

    /* This instance's watchlist and cameras, as the peer's. */
    wl_builder_t *wb = wl_builder_new();
    struct wl_list_opts opts = {.suppress_s = S_WINDOW};
    CHECK_INT(wl_builder_add_list(wb, 7, "Wanted", "wanted", 1, &opts, err, sizeof err), 0);
    struct wl_entry_in in = {.id = S_ENTRY,
                             .list_id = 7,
                             .plate = "1ABC001",
                             .valid_from_us = WL_UNBOUNDED_FROM,
                             .valid_until_us = WL_UNBOUNDED_UNTIL};
    CHECK_INT(wl_builder_add(wb, &in, err, sizeof err), 0);
    wl_t *wl = wl_builder_build(&wb);
    cam_table_t *cams = cam_table_new(16);
    CHECK_INT(cam_table_add(cams, "CAM-1", 1, false), 0);
    CHECK_INT(cam_table_add(cams, "CAM-2", 2, false), 0);

    /* Ingest's parts the cluster borrows. */
    supp_t *supp = supp_new();
    lograte_t *lograte = lograte_new(1000000);
    struct s_host mine = {0}; /* what ingest's own re-announcer sent */
    reann_t *own =
        reann_new(&(struct reann_io){.ctx = &mine, .send = s_send, .ask = s_own_ask}, lograte);
    CHECK(wl && supp && lograte && own);
    struct cluster_io io = {.ctx = &host,
                            .send = s_send,
                            .ask = s_ask,
                            .taken_over = s_taken,
                            .supp = supp,
                            .reann = own,
                            .lograte = lograte};
    struct cluster_opts co = {
        .peers = eps, .npeers = 1, .instance = S_SELF, .reannounce_s = 1, .reannounce_priority = 5};
    cluster_t *c = cluster_new(ctx, &co, &io, err, sizeof err);
    CHECK(c != NULL);
    if (!c || !wl)
        return check_done("cluster");

    /* The subscription takes a moment to reach the PUB: probes of an entry this instance does
     * not know (nothing kept) until one comes. */
    bool live = false;
    for (int i = 0; i < 200 && !live; i++) {
        struct proto_hit p = s_hit("CAM-1", seq++, 99, hitid_next(&ids, util_now_us()));
        s_pub(pub, "hit/wanted", &p);
        live = s_take_until(c, wl, cams, 1, 50);
    }
    CHECK(live);
    while (s_take_until(c, wl, cams, s_peer_hits(c) + 1, 100)) /* late probes */
        ;
    uint64_t taken = s_peer_hits(c);

    /* The peer's urgent HIT at CAM-1, and one of a camera unknown here. */
    struct proto_hit h = s_hit("CAM-1", seq++, S_ENTRY, hitid_next(&ids, util_now_us()));
    struct proto_hit unknown = s_hit("CAM-9", seq++, S_ENTRY, hitid_next(&ids, util_now_us()));
    s_pub(pub, "hit/wanted", &h);
    s_pub(pub, "hit/wanted", &unknown);
    CHECK(s_take_until(c, wl, cams, taken + 2, 10000));

    /* A resend of its read here gets the peer's id; another content, or entry, does not. */
    CHECK(cluster_hit_id(c, 1, h.read.seq, rid_digest(&h.read), S_ENTRY) == h.hit_id);
    struct proto_read other = h.read;
    other.confidence = 800;
    CHECK(cluster_hit_id(c, 1, h.read.seq, rid_digest(&other), S_ENTRY) == 0);
    CHECK(cluster_hit_id(c, 1, h.read.seq, rid_digest(&h.read), 99) == 0);
    CHECK(cluster_hit_id(c, 9, unknown.read.seq, rid_digest(&unknown.read), S_ENTRY) == 0);

    /* The same car at CAM-2 here, within the window: held back, a sighting of the peer's HIT. */
    int64_t later = h.read.time_us + 10 * 1000000LL;
    CHECK(supp_peek(supp, S_ENTRY, "1ABC001", 2, later, S_WINDOW, false));
    CHECK(supp_seen(supp, S_ENTRY, "1ABC001", 2, later, false) == h.hit_id);
    CHECK(supp_count(supp) == 1); /* the unknown camera's HIT is not noted */

    struct cluster_counts k;
    cluster_note_stored(c);
    cluster_counts(c, &k);
    CHECK(k.peer_stored == 1);
    CHECK(k.peer_bad == 0);
    CHECK(k.taken_over == 0);

    /* A peer never heard from is alive: its HIT, due and not acknowledged, is not announced
     * here. A question naming it was put (with CLUSTER_SERIAL) and answered "not acknowledged",
     * and nothing was sent after the answer: the shadow chose not to. */
    bool in_answer = false;
    host.watch_id = h.hit_id;
    CHECK(!s_run_until(c, wl, cams, &host, 1, 2500, &in_answer));
    CHECK(host.asks >= 1);
    CHECK(host.asked_watch >= 1);
    CHECK(host.held >= 1);
    CHECK_INT(host.sends, 0);
    CHECK_INT(host.taken, 0);

    /* The peer sees the car again at CAM-2: its sighting of the HIT (same id, "seen/"), which
     * the shadow follows: the HIT is announced with it from now on. */
    struct proto_hit sight = s_hit("CAM-2", seq++, S_ENTRY, h.hit_id);
    s_pub(pub, PROTO_TOPIC_SEEN "wanted", &sight);

    /* It beats (every second), then stops: silent 3 s after its beat, not before. Its HIT is
     * taken over then, told once, and announced again by the answer to the question. */
    s_beat(pub);
    struct proto_hit probe = s_hit("CAM-1", seq++, 99, hitid_next(&ids, util_now_us()));
    s_pub(pub, "hit/wanted", &probe);
    CHECK(s_take_until(c, wl, cams, taken + 3, 10000)); /* the sighting and beat came before */
    int64_t beat_at = util_mono_us();
    CHECK(s_run_until(c, wl, cams, &host, 1, 30000, &in_answer));
    CHECK(util_mono_us() - beat_at >= 2900000);
    CHECK(in_answer);
    CHECK_INT(host.taken, 1);
    CHECK_INT(host.taken_ins, S_PEER);
    CHECK(host.sent_id == h.hit_id);
    cluster_counts(c, &k);
    CHECK(k.taken_over == 1);
    /* Announced with the sighting's read (CAM-2), under the HIT's id. */
    struct proto_hit got;
    CHECK(host.flen > 0 && proto_decode_hit(host.frame, host.flen, &got, NULL) == 0);
    CHECK(got.hit_id == h.hit_id);
    CHECK_STR(got.read.camera, "CAM-2");
    CHECK(got.read.seq == sight.read.seq);

    /* The peer is back: the HIT stays taken over, announced here again, not told again. */
    s_beat(pub);
    probe = s_hit("CAM-1", seq++, 99, hitid_next(&ids, util_now_us()));
    s_pub(pub, "hit/wanted", &probe);
    CHECK(s_take_until(c, wl, cams, taken + 4, 10000));
    beat_at = util_mono_us();
    CHECK(s_run_until(c, wl, cams, &host, 2, 30000, &in_answer));
    CHECK(util_mono_us() - beat_at < 2900000); /* while it is alive */
    CHECK_INT(host.taken, 1);
    CHECK(host.sent_id == h.hit_id);
    cluster_counts(c, &k);
    CHECK(k.taken_over == 1);

    /* A HIT of this instance, watched by ingest's re-announcer; the peer sees the car at CAM-2
     * and publishes its sighting of that HIT: ingest announces the HIT with it. */
    struct hitid own_ids;
    hitid_init(&own_ids, S_SELF);
    struct proto_hit mh = s_hit("CAM-1", seq++, S_ENTRY, hitid_next(&own_ids, util_now_us()));
    uint8_t mbuf[PROTO_MAX_FRAME];
    size_t mlen = proto_encode_hit(&mh, mbuf, sizeof mbuf);
    CHECK(mlen > 0);
    reann_set(own, 1, 5, util_mono_us());
    reann_add(own, mh.hit_id, mh.priority, false, "hit/wanted", strlen("hit/wanted"), mbuf, mlen, 0,
              util_mono_us());
    struct proto_hit msight = s_hit("CAM-2", seq++, S_ENTRY, mh.hit_id);
    s_pub(pub, PROTO_TOPIC_SEEN "wanted", &msight);
    probe = s_hit("CAM-1", seq++, 99, hitid_next(&ids, util_now_us()));
    s_pub(pub, "hit/wanted", &probe);
    CHECK(s_take_until(c, wl, cams, taken + 5, 10000)); /* the sighting came before it */
    for (int64_t end = util_mono_us() + 10000000; mine.sends == 0 && util_mono_us() < end;) {
        reann_tick(own, util_mono_us());
        poll(NULL, 0, 50);
    }
    CHECK_INT(mine.sends, 1);
    CHECK(mine.sent_id == mh.hit_id);
    CHECK(mine.flen > 0 && proto_decode_hit(mine.frame, mine.flen, &got, NULL) == 0);
    CHECK(got.hit_id == mh.hit_id);
    CHECK_STR(got.read.camera, "CAM-2");
    CHECK(got.read.seq == msight.read.seq);

    cluster_destroy(&c);
    cluster_destroy(&c); /* twice: safe */
    CHECK(c == NULL);
    reann_destroy(&own);
    lograte_destroy(&lograte);
    supp_destroy(&supp);
    cam_table_destroy(&cams);
    wl_destroy(&wl);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return check_done("cluster");
}
