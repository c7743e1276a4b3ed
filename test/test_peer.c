/*
 * peer: the other instances' feeds, over a real ZeroMQ PUB on inproc. A new live HIT is handed
 * out once; its re-announcement (the same id), a post-match, a HIT under this instance's own
 * number, one whose id is older than PEER_NEW_US, a frame that does not decode and a one-part
 * message are not (the last two counted as bad).
 */
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "hitid.h"
#include "peer.h"
#include "proto.h"
#include "util.h"

#define S_EP   "inproc://test-peer"
#define S_SELF 3 /* this instance */
#define S_PEER 4 /* the peer */

static struct hitid s_ids;

static struct proto_hit s_hit(uint64_t seq, uint64_t id, bool post)
{
    struct proto_hit h;

    memset(&h, 0, sizeof h);
    h.entry_id = 42;
    h.list_id = 7;
    h.priority = 5;
    h.match = PROTO_MATCH_EXACT;
    h.post_match = post;
    snprintf(h.list, sizeof h.list, "Wanted");
    snprintf(h.category, sizeof h.category, "wanted");
    snprintf(h.entry_plate, sizeof h.entry_plate, "1ABC001");
    snprintf(h.read.camera, sizeof h.read.camera, "CAM-1");
    snprintf(h.read.plate, sizeof h.read.plate, "1ABC001");
    h.read.seq = seq;
    h.read.time_us = util_now_us();
    h.read.confidence = 900;
    h.read.lane = 1;
    h.read.direction = PROTO_DIR_TOWARDS;
    h.hit_id = id;
    return h;
}

static void s_pub(void *pub, const struct proto_hit *h)
{
    uint8_t buf[PROTO_MAX_FRAME];
    size_t n = proto_encode_hit(h, buf, sizeof buf);

    CHECK(n > 0);
    zmq_send(pub, "hit/wanted", 10, ZMQ_SNDMORE);
    zmq_send(pub, buf, n, 0);
}

/* The next HIT or sighting handed out within ms (into *h), or PEER_NONE. */
static int s_take(peer_t *p, struct proto_hit *h, int ms)
{
    int64_t end = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        enum peer_kind k = peer_take(p, h, util_now_us(), util_mono_us());
        if (k != PEER_NONE)
            return k;
        int64_t left = end - util_mono_us();
        if (left <= 0)
            return 0;
        zmq_pollitem_t it = {peer_socket(p), 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, (long)(left / 1000) + 1);
    }
}

int main(void)
{
    void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_PUB);
    char err[256];
    char *eps[] = {S_EP};
    struct proto_hit h, got;
    uint64_t seq = 1;

    hitid_init(&s_ids, S_PEER);
    CHECK_INT(zmq_bind(pub, S_EP), 0);
    peer_t *p = peer_new(ctx, eps, 1, S_SELF, NULL, err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return check_done("peer");

    /* The subscription takes a moment to reach the PUB: probes until one comes. */
    bool live = false;
    for (int i = 0; i < 200 && !live; i++) {
        h = s_hit(seq++, hitid_next(&s_ids, util_now_us()), false);
        s_pub(pub, &h);
        live = s_take(p, &got, 50) == 1;
    }
    CHECK(live);
    while (s_take(p, &got, 100) == 1) /* late probes */
        ;
    uint64_t taken = peer_taken(p);

    /* A new HIT: handed out, whole. */
    h = s_hit(seq++, hitid_next(&s_ids, util_now_us()), false);
    s_pub(pub, &h);
    CHECK_INT(s_take(p, &got, 5000), 1);
    CHECK(got.hit_id == h.hit_id);
    CHECK(got.read.seq == h.read.seq);
    CHECK_STR(got.read.camera, "CAM-1");
    CHECK(got.entry_id == 42);

    /* Not handed out: its re-announcement, a post-match, one of this instance's own, an old
     * id; then a new one, which is: nothing came between. */
    s_pub(pub, &h);
    struct proto_hit post = s_hit(seq++, hitid_next(&s_ids, util_now_us()), true);
    s_pub(pub, &post);
    struct hitid own;
    hitid_init(&own, S_SELF);
    struct proto_hit mine = s_hit(seq++, hitid_next(&own, util_now_us()), false);
    s_pub(pub, &mine);
    struct hitid old_ids;
    hitid_init(&old_ids, S_PEER);
    struct proto_hit old =
        s_hit(seq++, hitid_next(&old_ids, util_now_us() - PEER_NEW_US - 5000000), false);
    s_pub(pub, &old);
    /* Bad: garbage after a topic, and a one-part message. */
    zmq_send(pub, "hit/wanted", 10, ZMQ_SNDMORE);
    zmq_send(pub, "garbage", 7, 0);
    zmq_send(pub, "hit/x", 5, 0);
    struct proto_hit last = s_hit(seq++, hitid_next(&s_ids, util_now_us()), false);
    s_pub(pub, &last);
    CHECK_INT(s_take(p, &got, 5000), 1);
    CHECK(got.hit_id == last.hit_id);
    CHECK(peer_taken(p) == taken + 2);
    CHECK(peer_bad(p) == 2);

    /* A sighting of a HIT handed out before: handed out, as a sighting, with its frame. */
    struct proto_hit sight = h;
    sight.read.seq = seq++;
    snprintf(sight.read.camera, sizeof sight.read.camera, "CAM-2");
    uint8_t buf[PROTO_MAX_FRAME];
    size_t n = proto_encode_hit(&sight, buf, sizeof buf);
    zmq_send(pub, "seen/wanted", 11, ZMQ_SNDMORE);
    zmq_send(pub, buf, n, 0);
    CHECK_INT(s_take(p, &got, 5000), PEER_SEEN);
    CHECK(got.hit_id == h.hit_id);
    CHECK_STR(got.read.camera, "CAM-2");
    size_t flen, tlen;
    const char *topic;
    const uint8_t *frame = peer_frame(p, &flen, &topic, &tlen);
    CHECK(flen == n && memcmp(frame, buf, n) == 0);
    CHECK(tlen == 11 && memcmp(topic, "seen/wanted", 11) == 0);

    /* Heartbeats: instance 9 never heard from is alive; instance 4 beats every second, is
     * alive for 3 s after its beat, not after. The beat is kept on the way to the next HIT. */
    CHECK(peer_alive(p, 9, util_mono_us()));
    struct proto_heartbeat hb = {.time_us = util_now_us(),
                                 .instance = S_PEER,
                                 .interval_ms = 1000,
                                 .silent_after_s = 600,
                                 .cameras = 1,
                                 .reporting = 1};
    n = proto_encode_heartbeat(&hb, buf, sizeof buf);
    CHECK(n > 0);
    zmq_send(pub, PROTO_TOPIC_HEARTBEAT, strlen(PROTO_TOPIC_HEARTBEAT), ZMQ_SNDMORE);
    zmq_send(pub, buf, n, 0);
    last = s_hit(seq++, hitid_next(&s_ids, util_now_us()), false);
    s_pub(pub, &last);
    int64_t beat_at = util_mono_us();
    CHECK_INT(s_take(p, &got, 5000), PEER_HIT);
    CHECK(got.hit_id == last.hit_id);
    CHECK(peer_alive(p, S_PEER, beat_at + 2900000));
    CHECK(!peer_alive(p, S_PEER, beat_at + 10000000));
    CHECK(peer_bad(p) == 2);

    peer_destroy(&p);
    peer_destroy(&p); /* twice: safe */
    CHECK(p == NULL);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return check_done("peer");
}
