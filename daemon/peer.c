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
};

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
        zmq_setsockopt(self->sock, ZMQ_SUBSCRIBE, S_TOPIC, strlen(S_TOPIC)) != 0) {
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
    if (hit->post_match || ((hit->hit_id >> 12) & HITID_INSTANCE_MAX) == self->instance ||
        idset_has(self->seen, hit->hit_id) || now_us - hitid_time_us(hit->hit_id) > PEER_NEW_US)
        return false;
    if (idset_count(self->seen) >= PEER_SEEN_MAX)
        idset_clear(self->seen);
    (void)idset_add(self->seen, hit->hit_id); /* out of memory: its re-announcement's age says */
    return true;
}

int peer_take(peer_t *self, struct proto_hit *hit, int64_t now_us)
{
    for (;;) {
        zmq_msg_t topic, frame;
        struct proto_error perr;
        bool ok;

        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return 0;
        }
        ok = zmq_msg_more(&topic);
        zmq_msg_close(&topic);
        if (!ok) { /* a one-part message is no HIT */
            self->bad++;
            continue;
        }
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            self->bad++;
            return 0;
        }
        /* A third part would be a frame of a protocol this build does not know. */
        ok = !zmq_msg_more(&frame) &&
             proto_decode_hit(zmq_msg_data(&frame), zmq_msg_size(&frame), hit, &perr) == 0;
        while (zmq_msg_more(&frame)) {
            zmq_msg_close(&frame);
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, self->sock, ZMQ_DONTWAIT) < 0)
                break;
        }
        zmq_msg_close(&frame);
        if (!ok) {
            self->bad++;
            continue;
        }
        if (s_new(self, hit, now_us)) {
            self->taken++;
            return 1;
        }
    }
}

uint64_t peer_taken(const peer_t *self)
{
    return self->taken;
}

uint64_t peer_bad(const peer_t *self)
{
    return self->bad;
}
