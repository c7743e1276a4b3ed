#include "peer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "hitid.h"
#include "idset.h"

#define S_TOPIC     "hit/"
#define S_RCVHWM    100000 /* HITs queued here at most: a burst of a busy peer fits */
#define S_RECONNECT 100    /* ms: a restarted peer is followed again at once */

struct peer {
    void *sock;
    idset_t *seen; /* ids handed out (re-announcements come under the same id) */
    unsigned instance;
    uint64_t taken, bad;
    char topic[64]; /* the last message: its topic and frame */
    size_t tlen, len;
    uint8_t frame[PROTO_MAX_FRAME];
    int64_t beat_us[HITID_INSTANCE_MAX + 1];      /* monotonic: each peer's last heartbeat */
    uint32_t beat_ivl_ms[HITID_INSTANCE_MAX + 1]; /* and its interval */
};

/* Whether id was given under this instance's own number. */
static bool s_own(const peer_t *self, uint64_t id)
{
    return ((id >> 12) & HITID_INSTANCE_MAX) == self->instance;
}

peer_t *peer_new(void *zmq_ctx, char *const *endpoints, size_t n, unsigned instance,
                 const char *secret_z85, char *err, size_t errlen)
{
    peer_t *self = calloc(1, sizeof *self);
    int hwm = S_RCVHWM, ivl = S_RECONNECT, hb_ivl = 2000, hb_timeout = 6000;
    char public_z85[41];

    if (!self || !(self->seen = idset_new())) {
        snprintf(err, errlen, "cluster.peers: out of memory");
        goto fail;
    }
    self->instance = instance;
    self->sock = zmq_socket(zmq_ctx, ZMQ_SUB);
    if (!self->sock || zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, S_TOPIC, strlen(S_TOPIC)) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_SEEN, strlen(PROTO_TOPIC_SEEN)) !=
            0 ||
        zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_HEARTBEAT,
                       strlen(PROTO_TOPIC_HEARTBEAT)) != 0) {
        snprintf(err, errlen, "cluster.peers: socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* The cluster's one key pair, on both sides (see the header). */
    if (secret_z85 && (zmq_curve_public(public_z85, secret_z85) != 0 ||
                       zmq_setsockopt(self->sock, ZMQ_CURVE_SERVERKEY, public_z85, 40) != 0 ||
                       zmq_setsockopt(self->sock, ZMQ_CURVE_PUBLICKEY, public_z85, 40) != 0 ||
                       zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY, secret_z85, 40) != 0)) {
        snprintf(err, errlen, "cluster.peers: CURVE: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (zmq_connect(self->sock, endpoints[i]) != 0) {
            snprintf(err, errlen, "cluster.peers: cannot connect to %s: %s", endpoints[i],
                     zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    explicit_bzero(public_z85, sizeof public_z85);
    return self;
fail:
    peer_destroy(&self);
    return NULL;
}

void peer_destroy(peer_t **self_p)
{
    peer_t *self;
    int zero = 0;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    if (self->sock) {
        zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(self->sock);
    }
    idset_destroy(&self->seen);
    free(self);
    *self_p = NULL;
}

void *peer_socket(const peer_t *self)
{
    return self->sock;
}

/* Whether hit is one to hand out (and remember it as handed out). */
static bool s_new(peer_t *self, const struct proto_hit *hit, int64_t now_us)
{
    if (hit->post_match || s_own(self, hit->hit_id) || idset_has(self->seen, hit->hit_id) ||
        now_us - hitid_time_us(hit->hit_id) > PEER_NEW_US)
        return false;
    if (idset_count(self->seen) >= PEER_SEEN_MAX)
        idset_clear(self->seen);
    (void)idset_add(self->seen, hit->hit_id); /* out of memory: its re-announcement's age says */
    return true;
}

/* A heartbeat: when its instance was last heard, and how often it beats. */
static void s_beat(peer_t *self, int64_t mono_us)
{
    struct proto_heartbeat hb;

    if (proto_decode_heartbeat(self->frame, self->len, &hb, NULL) != 0) {
        self->bad++;
        return;
    }
    self->beat_us[hb.instance & HITID_INSTANCE_MAX] = mono_us;
    self->beat_ivl_ms[hb.instance & HITID_INSTANCE_MAX] = hb.interval_ms;
}

/* One message into self->topic and self->frame: 1, 0 none waiting, -1 not two parts that fit
 * (counted, skipped). */
static int s_recv(peer_t *self)
{
    int n = zmq_recv(self->sock, self->topic, sizeof self->topic - 1, ZMQ_DONTWAIT);
    int more = 0;
    size_t ml = sizeof more;
    bool ok;

    if (n < 0)
        return 0;
    self->tlen = (size_t)n < sizeof self->topic - 1 ? (size_t)n : sizeof self->topic - 1;
    self->topic[self->tlen] = '\0';
    ok = (size_t)n < sizeof self->topic - 1 &&
         zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &ml) == 0 && more;
    if (!more) {
        self->bad++;
        return -1;
    }
    n = zmq_recv(self->sock, self->frame, sizeof self->frame, ZMQ_DONTWAIT);
    ok = ok && n >= 0 && (size_t)n <= sizeof self->frame;
    self->len = n > 0 ? (size_t)n : 0;
    /* Whatever follows (a part this build does not know) goes with it. */
    while (zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
        ok = false;
        if (zmq_recv(self->sock, NULL, 0, ZMQ_DONTWAIT) < 0)
            break;
    }
    if (!ok) {
        self->bad++;
        return -1;
    }
    return 1;
}

enum peer_kind peer_take(peer_t *self, struct proto_hit *hit, int64_t now_us, int64_t mono_us)
{
    for (;;) {
        int rc = s_recv(self);

        if (rc == 0)
            return PEER_NONE;
        if (rc < 0)
            continue;
        if (strcmp(self->topic, PROTO_TOPIC_HEARTBEAT) == 0) {
            s_beat(self, mono_us);
            continue;
        }
        bool seen = strncmp(self->topic, PROTO_TOPIC_SEEN, strlen(PROTO_TOPIC_SEEN)) == 0;
        if (proto_decode_hit(self->frame, self->len, hit, NULL) != 0) {
            self->bad++;
            continue;
        }
        if (seen)
            return PEER_SEEN; /* of a peer's HIT or of one of ours: ingest tells */
        if (s_new(self, hit, now_us)) {
            self->taken++;
            return PEER_HIT;
        }
    }
}

const uint8_t *peer_frame(const peer_t *self, size_t *len, const char **topic, size_t *tlen)
{
    *len = self->len;
    *topic = self->topic;
    *tlen = self->tlen;
    return self->frame;
}

bool peer_alive(const peer_t *self, unsigned instance, int64_t mono_us)
{
    int64_t last = self->beat_us[instance & HITID_INSTANCE_MAX];
    int64_t ivl = 3LL * self->beat_ivl_ms[instance & HITID_INSTANCE_MAX] * 1000;

    return last == 0 || mono_us - last <= (ivl > 3000000 ? ivl : 3000000);
}

uint64_t peer_taken(const peer_t *self)
{
    return self->taken;
}

uint64_t peer_bad(const peer_t *self)
{
    return self->bad;
}
