/* feed: the dispatch feed into the hub (feed.h). */
#include "feed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curve.h"
#include "proto.h"
#include "util.h"
#include "wj.h"

/* hit_ids seen, to mark a HIT announced again. anprd announces an open HIT again for a day;
   the set is emptied when half full, which forgets only old ids (the board marks a card it
   already shows as announced again by itself too). */
#define FEED_SEEN 65536

struct feed {
    void *sock, *mon;
    hub_t *hub;
    uint64_t *seen;
    size_t nseen;
    uint64_t bad;
};

static bool s_seen(feed_t *f, uint64_t id)
{
    size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 48) % FEED_SEEN;

    if (id == 0)
        return false;
    for (;; i = (i + 1) % FEED_SEEN) {
        if (f->seen[i] == id)
            return true;
        if (f->seen[i] == 0)
            break;
    }
    if (f->nseen >= FEED_SEEN / 2) {
        memset(f->seen, 0, FEED_SEEN * sizeof *f->seen);
        f->nseen = 0;
        i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 48) % FEED_SEEN;
    }
    f->seen[i] = id;
    f->nseen++;
    return false;
}

feed_t *feed_new(void *zctx, const char *endpoint, const char *key_file, const char *server_key,
                 hub_t *hub, char *err, size_t errlen)
{
    feed_t *f = calloc(1, sizeof *f);
    char mon_ep[64];
    int ivl = 100, ivl_max = 2000;
    static int n_feeds;

    if (!f || !(f->seen = calloc(FEED_SEEN, sizeof *f->seen))) {
        snprintf(err, errlen, "out of memory");
        free(f);
        return NULL;
    }
    f->hub = hub;
    f->sock = zmq_socket(zctx, ZMQ_SUB);
    if (!f->sock || zmq_setsockopt(f->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(f->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(f->sock, ZMQ_SUBSCRIBE, "hit/", 4) != 0 ||
        zmq_setsockopt(f->sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_SEEN, strlen(PROTO_TOPIC_SEEN)) != 0 ||
        zmq_setsockopt(f->sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_HEARTBEAT,
                       strlen(PROTO_TOPIC_HEARTBEAT)) != 0) {
        snprintf(err, errlen, "zeromq: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (curve_client_opts(f->sock, *key_file ? key_file : NULL, *server_key ? server_key : NULL,
                          err, errlen) != 0)
        goto fail;
    /* The monitor says when the feed is connected or lost: a board shows it at once. */
    snprintf(mon_ep, sizeof mon_ep, "inproc://anpr-web-feed-%d", n_feeds++);
    if (zmq_socket_monitor(f->sock, mon_ep,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0 ||
        !(f->mon = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(f->mon, mon_ep) != 0) {
        snprintf(err, errlen, "zeromq monitor: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zmq_connect(f->sock, endpoint) != 0) {
        snprintf(err, errlen, "dispatch.endpoint: cannot connect to '%s': %s", endpoint,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    return f;
fail:
    feed_destroy(&f);
    return NULL;
}

void feed_destroy(feed_t **self_p)
{
    feed_t *f;
    int zero = 0;

    if (!self_p || !*self_p)
        return;
    f = *self_p;
    if (f->sock) {
        zmq_socket_monitor(f->sock, NULL, 0);
        zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(f->sock);
    }
    if (f->mon) {
        zmq_setsockopt(f->mon, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(f->mon);
    }
    free(f->seen);
    free(f);
    *self_p = NULL;
}

void feed_poll_items(feed_t *f, zmq_pollitem_t items[2])
{
    memset(items, 0, 2 * sizeof *items);
    items[0].socket = f->sock;
    items[0].events = ZMQ_POLLIN;
    items[1].socket = f->mon;
    items[1].events = ZMQ_POLLIN;
}

uint64_t feed_bad(const feed_t *f)
{
    return f->bad;
}

/* One monitor event: a 6-byte frame (event, value) and the endpoint. */
static void s_monitor(feed_t *f)
{
    for (;;) {
        zmq_msg_t m;
        uint16_t event;
        bool more;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        if (zmq_msg_size(&m) >= 2) {
            memcpy(&event, zmq_msg_data(&m), 2);
            /* with CURVE the feed is up once the handshake is through */
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                hub_set_connected(f->hub, true);
            else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                     event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
                hub_set_connected(f->hub, false);
        }
        zmq_msg_close(&m);
        while (more) { /* the endpoint part */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, f->mon, 0) < 0) {
                zmq_msg_close(&m);
                return;
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
    }
}

/* Whether the message's topic starts with prefix. */
static bool s_topic(zmq_msg_t *topic, const char *prefix)
{
    size_t n = strlen(prefix);

    return zmq_msg_size(topic) >= n && memcmp(zmq_msg_data(topic), prefix, n) == 0;
}

/* A heartbeat: the cameras' health for every board. 0, or -1 when it does not decode. */
static int s_heartbeat(feed_t *f, zmq_msg_t *frame)
{
    struct proto_heartbeat hb;
    struct proto_error perr;
    struct wj b = {0};

    if (proto_decode_heartbeat(zmq_msg_data(frame), zmq_msg_size(frame), &hb, &perr) != 0)
        return -1;
    wj_heartbeat(&b, &hb);
    if (!wj_failed(&b))
        hub_set_cameras(f->hub, b.s);
    wj_free(&b);
    return 0;
}

/* One message of the feed: topic + HIT frame (a HIT, or a sighting of one: the car seen again
 * at another camera), or a heartbeat. 1 when there was none. */
static int s_one(feed_t *f)
{
    zmq_msg_t topic, frame;
    int nparts = 0, rc = 0;
    struct proto_hit hit;
    struct proto_error perr;

    zmq_msg_init(&topic);
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&topic, f->sock, ZMQ_DONTWAIT) < 0) {
        rc = 1;
        goto out;
    }
    nparts = 1;
    bool more = zmq_msg_more(&topic);
    if (more) {
        if (zmq_msg_recv(&frame, f->sock, 0) < 0)
            goto out;
        nparts = 2;
        more = zmq_msg_more(&frame);
    }
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, f->sock, 0) < 0) {
            zmq_msg_close(&extra);
            goto out;
        }
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
        nparts++;
    }
    /* Any message shows the feed alive, the heartbeat too. */
    hub_note_message(f->hub, util_now_us());
    if (nparts == 2 && s_topic(&topic, PROTO_TOPIC_HEARTBEAT)) {
        if (s_heartbeat(f, &frame) != 0)
            f->bad++;
        goto out;
    }
    if (nparts != 2 ||
        proto_decode_hit(zmq_msg_data(&frame), zmq_msg_size(&frame), &hit, &perr) != 0) {
        f->bad++;
        goto out;
    }
    bool sighting = s_topic(&topic, PROTO_TOPIC_SEEN);
    struct wj b = {0};
    wj_hit(&b, &hit, !sighting && s_seen(f, hit.hit_id), sighting);
    if (!wj_failed(&b))
        hub_publish(f->hub, hit.hit_id, b.s);
    wj_free(&b);
out:
    zmq_msg_close(&topic);
    zmq_msg_close(&frame);
    return rc;
}

void feed_handle(feed_t *f, const zmq_pollitem_t items[2])
{
    if (items[1].revents & ZMQ_POLLIN)
        s_monitor(f);
    if (items[0].revents & ZMQ_POLLIN)
        for (int i = 0; i < 1000 && s_one(f) == 0; i++)
            ;
}
