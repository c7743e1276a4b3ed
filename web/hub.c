/* hub: feed events fanned out to the boards (hub.h). */
#include "hub.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ev {
    uint64_t seq; /* 0 = empty */
    uint64_t hit_id;
    uint32_t covert_list; /* 0: a HIT of the general feed */
    char *json;
};

struct src {
    char endpoint[128]; /* "" = not in use */
    bool connected;
    int64_t last_wall_us;
    int instance; /* -1 before the first heartbeat */
    unsigned interval_ms;
};

struct hub {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled on each event and on close */
    struct ev ring[HUB_RING];
    uint64_t head; /* seq of the latest event */
    bool closed;
    bool connected;
    int64_t last_wall_us;
    uint64_t messages;
    char cameras[HUB_CAMERAS_MAX]; /* the last heartbeat's camera health ("" none yet) */
    struct src src[HUB_SOURCES_MAX];
};

hub_t *hub_new(void)
{
    hub_t *h = calloc(1, sizeof *h);
    pthread_condattr_t ca;

    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    /* the waits are timed on the monotonic clock: a clock step must not stall a board */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

void hub_destroy(hub_t **self_p)
{
    hub_t *h;

    if (!self_p || !*self_p)
        return;
    h = *self_p;
    for (size_t i = 0; i < HUB_RING; i++)
        free(h->ring[i].json);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *self_p = NULL;
}

static int s_publish(hub_t *h, uint64_t hit_id, uint32_t covert_list, const char *json)
{
    char *copy = strdup(json);

    if (!copy)
        return -1;
    pthread_mutex_lock(&h->lock);
    struct ev *e = &h->ring[(h->head + 1) % HUB_RING];
    free(e->json);
    e->seq = ++h->head;
    e->hit_id = hit_id;
    e->covert_list = covert_list;
    e->json = copy;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

int hub_publish(hub_t *h, uint64_t hit_id, const char *json)
{
    return s_publish(h, hit_id, 0, json);
}

int hub_publish_covert(hub_t *h, uint64_t hit_id, uint32_t list_id, const char *json)
{
    return list_id == 0 ? -1 : s_publish(h, hit_id, list_id, json);
}

uint64_t hub_head(hub_t *h)
{
    uint64_t v;

    pthread_mutex_lock(&h->lock);
    v = h->head;
    pthread_mutex_unlock(&h->lock);
    return v;
}

int hub_next(hub_t *h, uint64_t seq, int timeout_ms, char **json, uint64_t *hit_id,
             uint32_t *covert_list)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (!h->closed && h->head <= seq) {
        if (pthread_cond_timedwait(&h->cond, &h->lock, &until) == ETIMEDOUT)
            break;
    }
    if (h->closed) {
        rc = -2;
    } else if (h->head > seq) {
        struct ev *e = &h->ring[(seq + 1) % HUB_RING];
        if (e->seq != seq + 1) {
            rc = -1;
        } else if ((*json = strdup(e->json)) == NULL) {
            rc = -1; /* out of memory: the stream ends and catches up later */
        } else {
            *hit_id = e->hit_id;
            *covert_list = e->covert_list;
            rc = 1;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void hub_close(hub_t *h)
{
    pthread_mutex_lock(&h->lock);
    h->closed = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

void hub_set_connected(hub_t *h, bool connected)
{
    pthread_mutex_lock(&h->lock);
    h->connected = connected;
    pthread_mutex_unlock(&h->lock);
}

void hub_note_message(hub_t *h, int64_t wall_us)
{
    pthread_mutex_lock(&h->lock);
    h->last_wall_us = wall_us;
    h->messages++;
    pthread_mutex_unlock(&h->lock);
}

void hub_set_cameras(hub_t *h, const char *json)
{
    if (strlen(json) >= HUB_CAMERAS_MAX)
        return;
    pthread_mutex_lock(&h->lock);
    memcpy(h->cameras, json, strlen(json) + 1);
    pthread_mutex_unlock(&h->lock);
}

void hub_cameras(hub_t *h, char *out, size_t cap)
{
    pthread_mutex_lock(&h->lock);
    snprintf(out, cap, "%s", h->cameras[0] ? h->cameras : "null");
    pthread_mutex_unlock(&h->lock);
}

void hub_health(hub_t *h, bool *connected, int64_t *last_wall_us, uint64_t *messages)
{
    pthread_mutex_lock(&h->lock);
    *connected = h->connected;
    *last_wall_us = h->last_wall_us;
    *messages = h->messages;
    pthread_mutex_unlock(&h->lock);
}

void hub_source_set(hub_t *h, size_t i, const char *endpoint)
{
    if (i >= HUB_SOURCES_MAX)
        return;
    pthread_mutex_lock(&h->lock);
    snprintf(h->src[i].endpoint, sizeof h->src[i].endpoint, "%s", endpoint);
    h->src[i].instance = -1;
    pthread_mutex_unlock(&h->lock);
}

void hub_source_connected(hub_t *h, size_t i, bool connected)
{
    if (i >= HUB_SOURCES_MAX)
        return;
    pthread_mutex_lock(&h->lock);
    h->src[i].connected = connected;
    pthread_mutex_unlock(&h->lock);
}

void hub_source_message(hub_t *h, size_t i, int64_t wall_us)
{
    if (i >= HUB_SOURCES_MAX)
        return;
    pthread_mutex_lock(&h->lock);
    h->src[i].last_wall_us = wall_us;
    pthread_mutex_unlock(&h->lock);
}

void hub_source_beat(hub_t *h, size_t i, unsigned instance, unsigned interval_ms)
{
    if (i >= HUB_SOURCES_MAX)
        return;
    pthread_mutex_lock(&h->lock);
    h->src[i].instance = (int)instance;
    h->src[i].interval_ms = interval_ms;
    pthread_mutex_unlock(&h->lock);
}

void hub_sources(hub_t *h, char *out, size_t cap)
{
    size_t n = 0;
    bool fits = cap > 2;

    pthread_mutex_lock(&h->lock);
    n += (size_t)snprintf(out, cap, "[");
    for (size_t i = 0; fits && i < HUB_SOURCES_MAX && h->src[i].endpoint[0]; i++) {
        const struct src *s = &h->src[i];
        char inst[16] = "null";
        int k;
        if (s->instance >= 0)
            snprintf(inst, sizeof inst, "%d", s->instance);
        /* endpoints are tcp:// or ipc:// paths checked by webconf; quotes and backslashes,
           which JSON would need escaped, are left out */
        char ep[128];
        size_t e = 0;
        for (const char *p = s->endpoint; *p && e + 1 < sizeof ep; p++)
            if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
                ep[e++] = *p;
        ep[e] = '\0';
        k = snprintf(out + n, cap - n,
                     "%s{\"endpoint\":\"%s\",\"connected\":%s,\"last_message_us\":%" PRId64
                     ",\"instance\":%s,\"interval_ms\":%u}",
                     i ? "," : "", ep, s->connected ? "true" : "false", s->last_wall_us, inst,
                     s->interval_ms);
        if (k < 0 || (size_t)k >= cap - n)
            fits = false;
        else
            n += (size_t)k;
    }
    if (fits && n + 2 <= cap)
        snprintf(out + n, cap - n, "]");
    else if (cap >= 3)
        snprintf(out, cap, "[]");
    pthread_mutex_unlock(&h->lock);
}
