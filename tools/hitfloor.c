#include "hitfloor.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "util.h"

#define S_TOPIC   "hit/floor"
#define S_MAX_LEN 4096

struct s_server {
    char router_ep[300], pub_ep[300], file[300];
    void *ctx, *router, *pub;
    int fd;
    pthread_t thread;
    atomic_bool stop;
    int64_t *fsync_us; /* one per read taken */
    size_t nfsync, cap;
};

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void s_pct(int64_t *v, size_t n, int64_t *p50, int64_t *p99, int64_t *max)
{
    *p50 = *p99 = *max = 0;
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, s_cmp);
    *p50 = v[n / 2];
    *p99 = v[n * 99 / 100];
    *max = v[n - 1];
}

/* Per read: take it, make it durable, publish it, acknowledge it. Nothing else. */
static void *s_serve(void *arg)
{
    struct s_server *s = arg;
    uint8_t id[256], buf[S_MAX_LEN];

    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t it = {s->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        int idl = zmq_recv(s->router, id, sizeof id, ZMQ_DONTWAIT);
        if (idl <= 0)
            continue;
        int n = zmq_recv(s->router, buf, sizeof buf, 0);
        if (n <= 0 || n > (int)sizeof buf) /* a longer frame was cut: not ours */
            continue;
        int64_t t0 = util_mono_us();
        if (write(s->fd, buf, (size_t)n) != n || fdatasync(s->fd) != 0)
            continue; /* never published: the client counts it missing */
        if (s->nfsync < s->cap)
            s->fsync_us[s->nfsync++] = util_mono_us() - t0;
        zmq_send(s->pub, S_TOPIC, sizeof S_TOPIC - 1, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(s->pub, buf, (size_t)n, ZMQ_DONTWAIT);
        zmq_send(s->router, id, (size_t)idl, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(s->router, "A", 1, ZMQ_DONTWAIT);
    }
    return NULL;
}

static void s_server_stop(struct s_server *s, bool started)
{
    if (started) {
        atomic_store(&s->stop, true);
        pthread_join(s->thread, NULL);
    }
    if (s->router)
        zmq_close(s->router);
    if (s->pub)
        zmq_close(s->pub);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    if (s->fd >= 0)
        close(s->fd);
    unlink(s->file);
}

static int s_server_start(struct s_server *s, const char *dir, size_t reads, char *err,
                          size_t errlen)
{
    int zero = 0;

    snprintf(s->router_ep, sizeof s->router_ep, "ipc://%s/floor-in", dir);
    snprintf(s->pub_ep, sizeof s->pub_ep, "ipc://%s/floor-hits", dir);
    snprintf(s->file, sizeof s->file, "%s/floor.records", dir);
    s->fd = open(s->file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    s->cap = reads;
    s->fsync_us = calloc(reads, sizeof *s->fsync_us);
    s->ctx = zmq_ctx_new();
    s->router = s->ctx ? zmq_socket(s->ctx, ZMQ_ROUTER) : NULL;
    s->pub = s->ctx ? zmq_socket(s->ctx, ZMQ_PUB) : NULL;
    if (s->fd < 0 || !s->fsync_us || !s->router || !s->pub) {
        util_errf(err, errlen, "floor: cannot start in %s: %s", dir, strerror(errno));
        return -1;
    }
    zmq_setsockopt(s->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s->pub, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s->router, s->router_ep) != 0 || zmq_bind(s->pub, s->pub_ep) != 0) {
        util_errf(err, errlen, "floor: bind in %s: %s", dir, zmq_strerror(zmq_errno()));
        return -1;
    }
    if (pthread_create(&s->thread, NULL, s_serve, s) != 0) {
        util_errf(err, errlen, "floor: no thread");
        return -1;
    }
    return 0;
}

/* A probe read (index UINT64_MAX, not counted) sent until it comes back on the feed: the
 * subscription is live before the first measured read. 0, or -1 after 10 s. */
static int s_live(void *dealer, void *sub, uint8_t *frame, size_t len)
{
    const uint64_t probe = UINT64_MAX;
    int64_t until = util_mono_us() + 10 * 1000000, next = 0;

    memset(frame, 'x', len);
    memcpy(frame, &probe, sizeof probe);
    while (util_mono_us() < until) {
        if (util_mono_us() >= next) {
            zmq_send(dealer, frame, len, ZMQ_DONTWAIT);
            next = util_mono_us() + 50000;
        }
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) <= 0)
            continue;
        uint8_t in[S_MAX_LEN];
        while (zmq_recv(sub, in, sizeof in, ZMQ_DONTWAIT) >= 0) { /* topic, then the read */
            int l = zmq_recv(sub, in, sizeof in, 0);
            uint64_t i;
            if (l >= (int)sizeof i && (memcpy(&i, in, sizeof i), i == probe))
                return 0;
        }
    }
    return -1;
}

int hitfloor_run(const char *dir, size_t reads, long long rate, size_t len,
                 struct hitfloor_result *out, char *err, size_t errlen)
{
    struct s_server srv = {.fd = -1};
    bool started = false;
    int64_t *sent = calloc(reads, sizeof *sent), *lat = calloc(reads, sizeof *lat);
    void *ctx = NULL, *dealer = NULL, *sub = NULL;
    uint8_t frame[S_MAX_LEN];
    int zero = 0, rc = -1;
    size_t next = 0, got = 0;

    memset(out, 0, sizeof *out);
    if (len < sizeof(uint64_t) || len > S_MAX_LEN || rate <= 0 || !sent || !lat) {
        util_errf(err, errlen, "floor: bad arguments or out of memory");
        goto out;
    }
    if (s_server_start(&srv, dir, reads, err, errlen) != 0)
        goto out;
    started = true;
    ctx = zmq_ctx_new();
    dealer = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    if (!dealer || !sub || zmq_connect(dealer, srv.router_ep) != 0 ||
        zmq_connect(sub, srv.pub_ep) != 0) {
        util_errf(err, errlen, "floor: cannot connect: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "hit/", 4);
    if (s_live(dealer, sub, frame, len) != 0) {
        util_errf(err, errlen, "floor: the feed did not come up within 10 s");
        goto out;
    }

    /* As anpr-bench hitlat: paced sends, a 1 ms poll on the feed and the ACKs. */
    memset(frame, 'x', len);
    int64_t t0 = util_mono_us(), last = 0;
    while (got < reads) {
        int64_t now = util_mono_us();
        if (next == reads && last == 0)
            last = now;
        if (last && now - last > 10 * 1000000)
            break;
        while (next < reads && now >= t0 + (int64_t)next * 1000000 / rate) {
            uint64_t i = next;
            memcpy(frame, &i, sizeof i);
            sent[next++] = util_mono_us();
            zmq_send(dealer, frame, len, 0);
        }
        zmq_pollitem_t items[2] = {{sub, 0, ZMQ_POLLIN, 0}, {dealer, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 1);
        uint8_t in[S_MAX_LEN];
        while (zmq_recv(dealer, in, sizeof in, ZMQ_DONTWAIT) > 0)
            ;                                                     /* ACKs */
        while (zmq_recv(sub, in, sizeof in, ZMQ_DONTWAIT) >= 0) { /* topic, then the read */
            int l = zmq_recv(sub, in, sizeof in, 0);
            uint64_t i;
            if (l < (int)sizeof i)
                continue;
            memcpy(&i, in, sizeof i);
            if (i < next && lat[i] == 0) {
                lat[i] = util_mono_us() - sent[i];
                got++;
            }
        }
    }
    out->sent = next;
    out->published = got;
    size_t k = 0;
    for (size_t i = 0; i < next; i++)
        if (lat[i] > 0)
            lat[k++] = lat[i];
    s_pct(lat, k, &out->lat_p50_us, &out->lat_p99_us, &out->lat_max_us);
    rc = 0;
out:
    if (dealer)
        zmq_close(dealer);
    if (sub)
        zmq_close(sub);
    if (ctx)
        zmq_ctx_term(ctx);
    s_server_stop(&srv, started);
    if (rc == 0)
        s_pct(srv.fsync_us, srv.nfsync, &out->fsync_p50_us, &out->fsync_p99_us, &out->fsync_max_us);
    free(srv.fsync_us);
    free(sent);
    free(lat);
    return rc;
}
