/* feed: the dispatch feed into the hub (feed.h). */
#include "feed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curve.h"
#include "hub.h"
#include "proto.h"
#include "util.h"
#include "wj.h"

/* hit_ids seen, to mark a HIT announced again. anprd announces an open HIT again for a day;
   the set is emptied when half full, which forgets only old ids (the board marks a card it
   already shows as announced again by itself too). */
#define FEED_SEEN 65536
/* The latest HITs, to drop one a second instance sends too: by read and entry, and by hit_id
   when it comes from another instance within FEED_DUP_US (later, the same id again is anprd
   announcing it again). */
#define FEED_RECENT 4096
#define FEED_DUP_US 10000000
#define FEED_ASK_US 2000000 /* the covert requests are repeated this often (covert.h) */

struct recent {
    uint64_t hit_id; /* 0: a free slot */
    uint64_t entry_id, seq;
    int64_t time_us, at_us; /* the read's time; when it came (monotonic) */
    uint32_t epoch;
    int src; /* which socket: general feeds 0.., covert feeds 100.. */
    char camera[PROTO_CAMERA_MAX + 1];
};

/* One anprd instance's general feed. */
struct source {
    void *sock, *mon;
    bool connected;
    bool has_beat;
    struct proto_heartbeat beat; /* its last heartbeat */
};

struct feed {
    struct source src[WEBCONF_ENDPOINTS_MAX];
    size_t nsrc;
    void *cov[WEBCONF_ENDPOINTS_MAX]; /* DEALERs on the covert feeds */
    size_t ncov;
    int64_t ask_at; /* when the covert requests are repeated (monotonic) */
    hub_t *hub;
    uint64_t *seen;
    size_t nseen;
    struct recent *recent;
    size_t recent_next;
    uint64_t bad, duplicates;
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

/* Whether another instance sent this HIT already (then it is dropped); else it is kept among
   the recent ones. A plain scan: a few thousand comparisons for each HIT a board shows. */
static bool s_duplicate(feed_t *f, const struct proto_hit *h, int src, int64_t now)
{
    const struct proto_read *r = &h->read;

    for (size_t i = 0; i < FEED_RECENT; i++) {
        const struct recent *e = &f->recent[i];
        if (e->hit_id == 0)
            continue;
        if (e->hit_id == h->hit_id) {
            if (e->src != src && now - e->at_us < FEED_DUP_US)
                return true;
            return false; /* announced again: marked, shown */
        }
        if (e->entry_id == h->entry_id && e->seq == r->seq && e->time_us == r->time_us &&
            e->epoch == r->epoch && strcmp(e->camera, r->camera) == 0)
            return true; /* the same read and entry under another id */
    }
    struct recent *e = &f->recent[f->recent_next];
    f->recent_next = (f->recent_next + 1) % FEED_RECENT;
    e->hit_id = h->hit_id;
    e->entry_id = h->entry_id;
    e->seq = r->seq;
    e->time_us = r->time_us;
    e->epoch = r->epoch;
    e->at_us = now;
    e->src = src;
    memcpy(e->camera, r->camera, sizeof e->camera);
    return false;
}

/* A SUB on one instance's general feed, with its monitor. */
static int s_source(feed_t *f, size_t i, void *zctx, const char *endpoint,
                    const struct webconf *conf, char *err, size_t errlen)
{
    struct source *s = &f->src[i];
    int ivl = 100, ivl_max = 2000;
    char mon_ep[64];
    static int n_feeds;

    s->sock = zmq_socket(zctx, ZMQ_SUB);
    if (!s->sock || zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "hit/", 4) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_SEEN, strlen(PROTO_TOPIC_SEEN)) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_HEARTBEAT,
                       strlen(PROTO_TOPIC_HEARTBEAT)) != 0) {
        snprintf(err, errlen, "zeromq: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (curve_client_opts(s->sock, *conf->key_file ? conf->key_file : NULL,
                          *conf->server_key ? conf->server_key : NULL, err, errlen) != 0)
        return -1;
    /* The monitor says when the feed is connected or lost: a board shows it at once. */
    snprintf(mon_ep, sizeof mon_ep, "inproc://anpr-web-feed-%d", n_feeds++);
    if (zmq_socket_monitor(s->sock, mon_ep,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0 ||
        !(s->mon = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(s->mon, mon_ep) != 0) {
        snprintf(err, errlen, "zeromq monitor: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (zmq_connect(s->sock, endpoint) != 0) {
        snprintf(err, errlen, "dispatch.endpoint: cannot connect to '%s': %s", endpoint,
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    hub_source_set(f->hub, i, endpoint);
    return 0;
}

/* A DEALER on one instance's covert feed (covert.h): it asks for "covert/" in feed_handle. */
static int s_covert(feed_t *f, size_t i, void *zctx, const char *endpoint,
                    const struct webconf *conf, char *err, size_t errlen)
{
    int ivl = 100, ivl_max = 2000, zero = 0;
    const char *key = *conf->covert_key_file ? conf->covert_key_file : conf->key_file;

    f->cov[i] = zmq_socket(zctx, ZMQ_DEALER);
    if (!f->cov[i] || zmq_setsockopt(f->cov[i], ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(f->cov[i], ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(f->cov[i], ZMQ_LINGER, &zero, sizeof zero) != 0) {
        snprintf(err, errlen, "zeromq: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (curve_client_opts(f->cov[i], *key ? key : NULL, *conf->server_key ? conf->server_key : NULL,
                          err, errlen) != 0)
        return -1;
    if (zmq_connect(f->cov[i], endpoint) != 0) {
        snprintf(err, errlen, "dispatch.covert_endpoint: cannot connect to '%s': %s", endpoint,
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

feed_t *feed_new(void *zctx, const struct webconf *conf, hub_t *hub, char *err, size_t errlen)
{
    feed_t *f = calloc(1, sizeof *f);

    if (!f || !(f->seen = calloc(FEED_SEEN, sizeof *f->seen)) ||
        !(f->recent = calloc(FEED_RECENT, sizeof *f->recent))) {
        snprintf(err, errlen, "out of memory");
        if (f)
            free(f->seen);
        free(f);
        return NULL;
    }
    f->hub = hub;
    for (size_t i = 0; i < conf->nendpoints && i < WEBCONF_ENDPOINTS_MAX; i++) {
        f->nsrc = i + 1;
        if (s_source(f, i, zctx, conf->endpoints[i], conf, err, errlen) != 0)
            goto fail;
    }
    for (size_t i = 0; i < conf->ncovert && i < WEBCONF_ENDPOINTS_MAX; i++) {
        f->ncov = i + 1;
        if (s_covert(f, i, zctx, conf->covert[i], conf, err, errlen) != 0)
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
    for (size_t i = 0; i < f->nsrc; i++) {
        struct source *s = &f->src[i];
        if (s->sock) {
            zmq_socket_monitor(s->sock, NULL, 0);
            zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
            zmq_close(s->sock);
        }
        if (s->mon) {
            zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof zero);
            zmq_close(s->mon);
        }
    }
    for (size_t i = 0; i < f->ncov; i++)
        if (f->cov[i]) {
            zmq_setsockopt(f->cov[i], ZMQ_LINGER, &zero, sizeof zero);
            zmq_close(f->cov[i]);
        }
    free(f->seen);
    free(f->recent);
    free(f);
    *self_p = NULL;
}

size_t feed_poll_items(feed_t *f, zmq_pollitem_t items[FEED_POLL_MAX])
{
    size_t n = 0;

    memset(items, 0, FEED_POLL_MAX * sizeof *items);
    for (size_t i = 0; i < f->nsrc; i++) {
        items[n].socket = f->src[i].sock;
        items[n++].events = ZMQ_POLLIN;
        items[n].socket = f->src[i].mon;
        items[n++].events = ZMQ_POLLIN;
    }
    for (size_t i = 0; i < f->ncov; i++) {
        items[n].socket = f->cov[i];
        items[n++].events = ZMQ_POLLIN;
    }
    return n;
}

uint64_t feed_bad(const feed_t *f)
{
    return f->bad;
}

uint64_t feed_duplicates(const feed_t *f)
{
    return f->duplicates;
}

/* The feed is up while any instance's is. */
static void s_connected(feed_t *f)
{
    bool any = false;

    for (size_t i = 0; i < f->nsrc; i++)
        any |= f->src[i].connected;
    hub_set_connected(f->hub, any);
}

/* Monitor events of source i: a 6-byte frame (event, value) and the endpoint. */
static void s_monitor(feed_t *f, size_t i)
{
    struct source *s = &f->src[i];

    for (;;) {
        zmq_msg_t m;
        uint16_t event;
        bool more;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        if (zmq_msg_size(&m) >= 2) {
            memcpy(&event, zmq_msg_data(&m), 2);
            /* with CURVE the feed is up once the handshake is through */
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                s->connected = true;
            else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                     event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
                s->connected = false;
            hub_source_connected(f->hub, i, s->connected);
            s_connected(f);
        }
        zmq_msg_close(&m);
        while (more) { /* the endpoint part */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s->mon, 0) < 0) {
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

/* The cameras' health of every instance's last heartbeat, merged: a camera reports when it
   reports to any instance (each instance counts the reads it received), so the reporting add
   up (to the cameras at most) and a camera is silent when every instance names it silent. */
static void s_cameras(feed_t *f)
{
    struct proto_heartbeat m = {0};
    bool first = true;
    struct wj b = {0};

    for (size_t i = 0; i < f->nsrc; i++) {
        const struct proto_heartbeat *hb = &f->src[i].beat;
        if (!f->src[i].has_beat)
            continue;
        if (first) {
            m = *hb;
            first = false;
            continue;
        }
        if (hb->cameras > m.cameras)
            m.cameras = hb->cameras;
        m.reporting += hb->reporting;
        if (hb->interval_ms > m.interval_ms)
            m.interval_ms = hb->interval_ms;
        uint8_t keep = 0;
        for (unsigned k = 0; k < m.nsilent; k++) {
            bool also = false;
            for (unsigned j = 0; j < hb->nsilent; j++)
                also |= strcmp(m.silent[k], hb->silent[j]) == 0;
            if (also)
                memmove(m.silent[keep++], m.silent[k], sizeof m.silent[k]);
        }
        m.nsilent = keep;
    }
    if (first)
        return;
    if (m.reporting > m.cameras)
        m.reporting = m.cameras;
    wj_heartbeat(&b, &m);
    if (!wj_failed(&b))
        hub_set_cameras(f->hub, b.s);
    wj_free(&b);
}

/* A heartbeat of source i: its instance, the cameras' health. 0, or -1 when it does not
   decode. */
static int s_heartbeat(feed_t *f, size_t i, zmq_msg_t *frame)
{
    struct proto_heartbeat hb;
    struct proto_error perr;

    if (proto_decode_heartbeat(zmq_msg_data(frame), zmq_msg_size(frame), &hb, &perr) != 0)
        return -1;
    f->src[i].beat = hb;
    f->src[i].has_beat = true;
    hub_source_beat(f->hub, i, hb.instance, hb.interval_ms);
    s_cameras(f);
    return 0;
}

/* One message of source src (general feeds 0.., covert feeds 100 + i) on sock: topic + HIT
 * frame (a HIT, or a sighting of one: the car seen again at another camera), or a heartbeat.
 * 1 when there was none. */
static int s_one(feed_t *f, void *sock, int src)
{
    zmq_msg_t topic, frame;
    int nparts = 0, rc = 0;
    struct proto_hit hit;
    struct proto_error perr;
    bool covert = src >= 100;

    zmq_msg_init(&topic);
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&topic, sock, ZMQ_DONTWAIT) < 0) {
        rc = 1;
        goto out;
    }
    nparts = 1;
    bool more = zmq_msg_more(&topic);
    if (more) {
        if (zmq_msg_recv(&frame, sock, 0) < 0)
            goto out;
        nparts = 2;
        more = zmq_msg_more(&frame);
    }
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, sock, 0) < 0) {
            zmq_msg_close(&extra);
            goto out;
        }
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
        nparts++;
    }
    /* Any message of a general feed shows it alive, the heartbeat too (the covert feed has
       no heartbeat: its silence says nothing). */
    if (!covert) {
        int64_t now = util_now_us();
        hub_note_message(f->hub, now);
        hub_source_message(f->hub, (size_t)src, now);
        if (nparts == 2 && s_topic(&topic, PROTO_TOPIC_HEARTBEAT)) {
            if (s_heartbeat(f, (size_t)src, &frame) != 0)
                f->bad++;
            goto out;
        }
    }
    if (nparts != 2 || (covert && !s_topic(&topic, "covert/")) ||
        proto_decode_hit(zmq_msg_data(&frame), zmq_msg_size(&frame), &hit, &perr) != 0 ||
        (covert && hit.list_id == 0)) {
        f->bad++;
        goto out;
    }
    bool sighting = !covert && s_topic(&topic, PROTO_TOPIC_SEEN);
    if (!sighting && s_duplicate(f, &hit, src, util_mono_us())) {
        f->duplicates++;
        goto out;
    }
    struct wj b = {0};
    wj_hit(&b, &hit, !sighting && s_seen(f, hit.hit_id), sighting);
    if (covert && !wj_failed(&b) && b.len > 0) {
        b.len--; /* the closing brace: the card is marked covert */
        wj_raw(&b, ",\"covert\":true}");
    }
    if (!wj_failed(&b)) {
        if (covert)
            hub_publish_covert(f->hub, hit.hit_id, hit.list_id, b.s);
        else
            hub_publish(f->hub, hit.hit_id, b.s);
    }
    wj_free(&b);
out:
    zmq_msg_close(&topic);
    zmq_msg_close(&frame);
    return rc;
}

void feed_handle(feed_t *f, const zmq_pollitem_t *items, size_t n)
{
    size_t k = 0;
    int64_t now = util_mono_us();

    for (size_t i = 0; i < f->nsrc && k + 1 < n; i++, k += 2) {
        if (items[k + 1].revents & ZMQ_POLLIN)
            s_monitor(f, i);
        if (items[k].revents & ZMQ_POLLIN)
            for (int j = 0; j < 1000 && s_one(f, f->src[i].sock, (int)i) == 0; j++)
                ;
    }
    for (size_t i = 0; i < f->ncov && k < n; i++, k++)
        if (items[k].revents & ZMQ_POLLIN)
            for (int j = 0; j < 1000 && s_one(f, f->cov[i], 100 + (int)i) == 0; j++)
                ;
    /* Every list anpr-web's key is cleared for, asked again now and then: a DEALER cannot tell
       when it reconnected to a restarted anprd (a repeat changes nothing there). */
    if (f->ncov > 0 && now >= f->ask_at) {
        for (size_t i = 0; i < f->ncov; i++)
            zmq_send(f->cov[i], "covert/", 7, ZMQ_DONTWAIT);
        f->ask_at = now + FEED_ASK_US;
    }
}
