/*
 * covert: the covert lists' feed, a ROUTER that sends each HIT to each recipient (covert.h).
 */
#include "covert.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"

#define S_ID_MAX   256 /* a routing id kept (ZeroMQ's own are 5 bytes; a peer's at most 255) */
#define S_USER_MAX 32  /* console name from ZAP */
#define S_TAKE_MAX 64  /* subscriptions taken per call: the loop has other work too */

struct s_peer {
    uint8_t id[S_ID_MAX];
    size_t id_len;
    char user[S_USER_MAX + 1]; /* ZAP user id (console name); "" without CURVE */
    bool all;                  /* asked for "covert/": every list it may have */
    uint32_t lists[COVERT_LISTS_MAX];
    size_t nlists;
};

struct covert {
    void *sock;
    zap_t *zap; /* borrowed; NULL = no CURVE */
    struct s_peer *peers;
    size_t npeers;
    struct covert_stats stats;
    int64_t refused_logged; /* refusals counted when the last line was written */
};

covert_t *covert_new(void *zmq_ctx, const char *endpoint, zap_t *zap, const char *secret_z85,
                     char *err, size_t errlen)
{
    covert_t *self = calloc(1, sizeof *self);
    int one = 1, zero = 0, hb_ivl = 5000, hb_timeout = 15000, handshake_ms = 10000;

    if (!self || !(self->peers = calloc(COVERT_PEERS_MAX, sizeof *self->peers))) {
        snprintf(err, errlen, "covert dispatch: out of memory");
        goto fail;
    }
    self->zap = zap;
    self->sock = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    if (!self->sock) {
        snprintf(err, errlen, "covert dispatch: zmq_socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* A send to a recipient that has gone fails (and it is forgotten) instead of vanishing;
     * one that has silently gone is noticed by heartbeats; a stalled handshake is dropped. */
    zmq_setsockopt(self->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    zmq_setsockopt(self->sock, ZMQ_HANDSHAKE_IVL, &handshake_ms, sizeof handshake_ms);
    zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zap && zap_server(self->sock, secret_z85, "covert", err, errlen) != 0)
        goto fail;
    if (zmq_bind(self->sock, endpoint) != 0) {
        snprintf(err, errlen, "covert dispatch: cannot bind %s: %s", endpoint,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    return self;
fail:
    covert_destroy(&self);
    return NULL;
}

void covert_destroy(covert_t **self_p)
{
    covert_t *self;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    free(self->peers);
    free(self);
    *self_p = NULL;
}

void *covert_socket(covert_t *self)
{
    return self->sock;
}

void covert_stats(const covert_t *self, struct covert_stats *out)
{
    *out = self->stats;
    out->recipients = self->npeers;
}

static struct s_peer *s_find(covert_t *self, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i].id_len == len && memcmp(self->peers[i].id, id, len) == 0)
            return &self->peers[i];
    return NULL;
}

static void s_forget(covert_t *self, struct s_peer *p)
{
    *p = self->peers[--self->npeers];
}

/* "covert/" (0, *all) or "covert/<id>/" / "covert/<id>" (the id): 0, or -1 when malformed. */
static int s_parse(const char *data, size_t len, bool *all, uint32_t *list)
{
    char digits[11];

    *all = false;
    if (len < 7 || memcmp(data, "covert/", 7) != 0)
        return -1;
    if (len == 7) {
        *all = true;
        return 0;
    }
    size_t nd = len - 7 - (data[len - 1] == '/');
    if (nd < 1 || nd >= sizeof digits || data[7] == '0')
        return -1;
    for (size_t i = 0; i < nd; i++)
        if (data[7 + i] < '0' || data[7 + i] > '9')
            return -1;
    memcpy(digits, data + 7, nd);
    digits[nd] = '\0';
    unsigned long v = strtoul(digits, NULL, 10);
    if (v > UINT32_MAX)
        return -1;
    *list = (uint32_t)v;
    return 0;
}

/* Take one subscription of peer id (user: ZAP user id or NULL): 1 new, 0 had it already (a
 * recipient repeats its subscriptions, as it cannot tell when it reconnected), -1 refused. */
static int s_subscribe(covert_t *self, const uint8_t *id, size_t id_len, const char *user,
                       const char *data, size_t len)
{
    bool all;
    uint32_t list = 0;

    if (id_len > S_ID_MAX || s_parse(data, len, &all, &list) != 0)
        return -1;
    if (self->zap && (!user || strlen(user) > S_USER_MAX))
        return -1;
    /* With CURVE a single list must be one the console is cleared for now (checked again at
     * every send); "covert/" means whichever it is cleared for at the time. */
    if (self->zap && !all && !zap_cleared(self->zap, user, list))
        return -1;
    struct s_peer *p = s_find(self, id, id_len);
    if (!p) {
        if (self->npeers == COVERT_PEERS_MAX)
            return -1;
        p = &self->peers[self->npeers++];
        memset(p, 0, sizeof *p);
        memcpy(p->id, id, id_len);
        p->id_len = id_len;
        snprintf(p->user, sizeof p->user, "%s", user ? user : "");
    }
    if (all) {
        int fresh = !p->all;
        p->all = true;
        return fresh;
    }
    for (size_t i = 0; i < p->nlists; i++)
        if (p->lists[i] == list)
            return 0;
    if (p->nlists == COVERT_LISTS_MAX)
        return -1;
    p->lists[p->nlists++] = list;
    return 1;
}

void covert_take(covert_t *self)
{
    for (int n = 0; n < S_TAKE_MAX; n++) {
        zmq_msg_t idm, msg;
        int more = 0;
        size_t more_len = sizeof more;

        zmq_msg_init(&idm);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&idm, self->sock, ZMQ_DONTWAIT) < 0 ||
            zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&idm);
            zmq_msg_close(&msg);
            return;
        }
        int rc = 0;
        /* A subscription is one part: swallow any more and refuse the message. */
        zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &more_len);
        while (more) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, self->sock, 0);
            zmq_msg_close(&extra);
            rc = -1;
            zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &more_len);
        }
        const char *user = self->zap ? zmq_msg_gets(&msg, "User-Id") : NULL;
        if (rc == 0)
            rc = s_subscribe(self, zmq_msg_data(&idm), zmq_msg_size(&idm), user, zmq_msg_data(&msg),
                             zmq_msg_size(&msg));
        if (rc == 1) {
            self->stats.subscribed++;
        } else if (rc < 0) {
            self->stats.refused++;
            /* Counted always; said at most once per power of two, so a console that insists
             * cannot flood the log. */
            if ((self->stats.refused & (self->stats.refused - 1)) == 0)
                log_warn("covert",
                         "a subscription of %s was not taken (not cleared for that list, "
                         "or not covert/<list id>/); %llu so far",
                         user && user[0] ? user : "a peer",
                         (unsigned long long)self->stats.refused);
        }
        zmq_msg_close(&idm);
        zmq_msg_close(&msg);
    }
}

static bool s_wants(const covert_t *self, const struct s_peer *p, uint32_t list)
{
    bool asked = p->all;

    for (size_t i = 0; i < p->nlists && !asked; i++)
        asked = p->lists[i] == list;
    return asked && (!self->zap || zap_cleared(self->zap, p->user, list));
}

void covert_send(covert_t *self, uint32_t list_id, const char *topic, size_t tlen,
                 const uint8_t *frame, size_t len)
{
    for (size_t i = 0; i < self->npeers;) {
        struct s_peer *p = &self->peers[i];
        if (!s_wants(self, p, list_id)) {
            i++;
            continue;
        }
        if (zmq_send(self->sock, p->id, p->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == (int)p->id_len &&
            zmq_send(self->sock, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) == (int)tlen &&
            zmq_send(self->sock, frame, len, ZMQ_DONTWAIT) == (int)len) {
            self->stats.sent++;
            i++;
            continue;
        }
        self->stats.dropped++;
        /* Gone (EHOSTUNREACH: ROUTER_MANDATORY): forgotten; slow (EAGAIN): this HIT lost. */
        if (zmq_errno() == EHOSTUNREACH)
            s_forget(self, p);
        else
            i++;
    }
}
