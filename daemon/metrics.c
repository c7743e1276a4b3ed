#include "metrics.h"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "proto.h"

/* A snapshot this often at most, unless a scrape waits; a scrape waits this long for a fresh
 * one (ingest wakes every 200 ms at least), then renders the last. */
#define METRICS_EVERY_US     100000
#define METRICS_WAIT_MS      300
#define METRICS_CONNS        64    /* concurrent HTTP connections */
#define METRICS_CONNS_PER_IP 8     /* of one client address: one host cannot take them all */
#define METRICS_TIMEOUT_S    5     /* an idle or slow connection is closed after this */
#define METRICS_CONN_MEMORY  16384 /* per connection: a GET line and a few headers */
#define METRICS_PEER_ID      32    /* routing id bytes kept (BATCH_ID_MAX) */
#define METRICS_PEER_SLOTS   4096  /* open addressing, at most half full */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Latencies in µs, 50 µs .. 5 s; batch sizes in reads, 1 .. 100 000 (database.batch_size). */
static const uint64_t s_latency_bounds[METRICS_BOUNDS] = {
    50,    100,   250,    500,    1000,   2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
static const uint64_t s_size_bounds[METRICS_BOUNDS] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000};

/* --- histograms and HIT counts --------------------------------------------------------------- */

static void s_observe(struct metrics_hist *h, const uint64_t *bounds, uint64_t v)
{
    size_t i = 0;

    while (i < METRICS_BOUNDS && v > bounds[i])
        i++;
    h->buckets[i]++;
    h->sum += v;
    h->count++;
}

void metrics_hist_latency(struct metrics_hist *h, int64_t us)
{
    s_observe(h, s_latency_bounds, us > 0 ? (uint64_t)us : 0);
}

void metrics_hist_size(struct metrics_hist *h, uint64_t reads)
{
    s_observe(h, s_size_bounds, reads);
}

void metrics_count_hit(struct metrics_snap *s, uint32_t list_id, bool covert, unsigned kind)
{
    size_t lo = 0, hi = s->nlists;

    if (kind < 1 || kind > METRICS_KINDS)
        return;
    if (covert) {
        s->covert[kind - 1]++;
        return;
    }
    /* A few dozen lists: a binary search, and an insertion the first time a list has a HIT. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->lists[mid].list_id < list_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->nlists && s->lists[lo].list_id == list_id) {
        s->lists[lo].kind[kind - 1]++;
        return;
    }
    if (s->nlists == METRICS_LISTS_MAX) {
        s->other[kind - 1]++;
        return;
    }
    memmove(&s->lists[lo + 1], &s->lists[lo], (s->nlists - lo) * sizeof s->lists[0]);
    memset(&s->lists[lo], 0, sizeof s->lists[0]);
    s->lists[lo].list_id = list_id;
    s->lists[lo].kind[kind - 1] = 1;
    s->nlists++;
}

/* --- the renderer ---------------------------------------------------------------------------- */

struct s_buf {
    char *data;
    size_t len, cap;
    bool oom;
};

static void s_printf(struct s_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_printf(struct s_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 > b->len + (size_t)n + 1 ? b->cap * 2 : b->len + (size_t)n + 1;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void s_label(struct s_buf *b, const char *name, const char *value, bool first)
{
    s_printf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            s_printf(b, "\\\\");
        else if (*p == '"')
            s_printf(b, "\\\"");
        else if (*p == '\n')
            s_printf(b, "\\n");
        else
            s_printf(b, "%c", *p);
    }
    s_printf(b, "\"");
}

static void s_head(struct s_buf *b, const char *name, const char *type, const char *help)
{
    s_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_one(struct s_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    s_head(b, name, type, help);
    s_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* v millionths as a decimal number: 50 -> 0.00005, 2500000 -> 2.5 (exact, no exponent). */
static void s_micro(struct s_buf *b, uint64_t v)
{
    char frac[8];
    int n;

    snprintf(frac, sizeof frac, "%06" PRIu64, v % 1000000);
    for (n = 6; n > 0 && frac[n - 1] == '0'; n--)
        frac[n - 1] = '\0';
    s_printf(b, "%" PRIu64 "%s%s", v / 1000000, n > 0 ? "." : "", frac);
}

/* A histogram; `micro`: observed in µs, shown in seconds. */
static void s_hist(struct s_buf *b, const char *name, const char *help,
                   const struct metrics_hist *h, const uint64_t *bounds, bool micro)
{
    uint64_t cum = 0;

    s_head(b, name, "histogram", help);
    for (size_t i = 0; i < METRICS_BOUNDS; i++) {
        cum += h->buckets[i];
        s_printf(b, "%s_bucket{le=\"", name);
        if (micro)
            s_micro(b, bounds[i]);
        else
            s_printf(b, "%" PRIu64, bounds[i]);
        s_printf(b, "\"} %" PRIu64 "\n", cum);
    }
    cum += h->buckets[METRICS_BOUNDS];
    s_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum ", name, cum, name);
    if (micro)
        s_micro(b, h->sum);
    else
        s_printf(b, "%" PRIu64, h->sum);
    s_printf(b, "\n%s_count %" PRIu64 "\n", name, h->count);
}

static void s_list_hits(struct s_buf *b, const char *list, const uint64_t *kind)
{
    for (int k = 0; k < METRICS_KINDS; k++) {
        s_printf(b, "anprd_list_hits_total{");
        s_label(b, "list", list, true);
        s_label(b, "kind", proto_match_name((unsigned)k + 1), false);
        s_printf(b, "} %" PRIu64 "\n", kind[k]);
    }
}

static bool s_any(const uint64_t *kind)
{
    for (int k = 0; k < METRICS_KINDS; k++)
        if (kind[k])
            return true;
    return false;
}

char *metrics_render(const struct metrics_snap *s, size_t *len)
{
    const struct stats *st = &s->stats;
    struct s_buf b = {.cap = 16384};

    if (!(b.data = malloc(b.cap)))
        return NULL;
    b.data[0] = '\0';

    s_head(&b, "anprd_build_info", "gauge", "Always 1; the version of the running anprd.");
    s_printf(&b, "anprd_build_info{");
    s_label(&b, "version", ANPR_VERSION, true);
    s_printf(&b, "} 1\n");

    s_one(&b, "anprd_frames_received_total", "counter", "Frames received from camera readers.",
          st->frames);
    s_one(&b, "anprd_reads_accepted_total", "counter", "Reads that passed validation.",
          st->reads_accepted);
    s_one(&b, "anprd_reads_stored_total", "counter", "Reads inserted into anpr.plate_read.",
          st->reads_stored);
    s_one(&b, "anprd_reads_duplicate_total", "counter",
          "Resent reads found stored already (stored once).", st->reads_duplicate);
    s_one(&b, "anprd_reads_acked_total", "counter",
          "Reads acknowledged to their readers, resends included.", st->reads_acked);
    s_one(&b, "anprd_reads_refused_after_ack_total", "counter",
          "Spooled (acknowledged) reads the database refused for their data.", st->reads_refused);
    s_one(&b, "anprd_acks_unroutable_total", "counter",
          "ACK and REJECT frames whose reader had gone.", st->acks_unroutable);

    s_head(&b, "anprd_rejects_total", "counter", "Frames refused with a REJECT, by reason.");
    for (int i = 1; i < PROTO_REASON_COUNT; i++) {
        s_printf(&b, "anprd_rejects_total{");
        s_label(&b, "reason", proto_reason_name((enum proto_reason)i), true);
        s_printf(&b, "} %" PRIu64 "\n", st->rejects[i]);
    }

    s_one(&b, "anprd_hits_total", "counter",
          "HITs published (live and post-match, covert ones included).", st->hits);
    s_head(&b, "anprd_list_hits_total", "counter",
           "HITs published by list id and match kind; every covert list under list=\"covert\".");
    for (size_t i = 0; i < s->nlists; i++) {
        char id[16];
        snprintf(id, sizeof id, "%" PRIu32, s->lists[i].list_id);
        s_list_hits(&b, id, s->lists[i].kind);
    }
    if (s_any(s->covert))
        s_list_hits(&b, "covert", s->covert);
    if (s_any(s->other))
        s_list_hits(&b, "other", s->other);
    s_one(&b, "anprd_hits_post_match_total", "counter",
          "Post-match HITs published (retro-match of a newly listed entry).", st->hits_post);
    s_one(&b, "anprd_hits_suppressed_total", "counter",
          "Repeat HITs stored but not alerted (the list's window).", st->hits_suppressed);
    s_one(&b, "anprd_hits_reannounced_total", "counter",
          "Urgent unacknowledged HITs announced again.", st->hits_reannounced);
    s_one(&b, "anprd_hits_stored_total", "counter", "HIT rows inserted into anpr.hits.",
          st->hits_stored);

    s_one(&b, "anprd_batches_total", "counter", "Batches the writer committed.", st->batches);
    s_one(&b, "anprd_batches_slow_total", "counter",
          "Batches that took the de-duplicating path (a resend or a replay).", st->batches_slow);
    s_one(&b, "anprd_db_errors_total", "counter", "Failed database round trips of the writer.",
          st->db_errors);
    s_one(&b, "anprd_db_reconnects_total", "counter", "Reconnects of the writer after a failure.",
          st->db_reconnects);
    s_one(&b, "anprd_pending_reads", "gauge", "Reads accepted, not yet durable.", st->pending);

    s_one(&b, "anprd_spool_depth_records", "gauge",
          "Reads in the write-ahead spool not yet stored (0 without a spool).", st->spool_depth);
    s_one(&b, "anprd_spool_depth_bytes", "gauge", "Their bytes on disk.", st->spool_depth_bytes);
    s_one(&b, "anprd_spool_disk_bytes", "gauge",
          "Bytes of the spool's segment files, stored reads not yet freed included (bounded by "
          "spool.max_mb).",
          st->spool_disk_bytes);
    s_head(&b, "anprd_spool_oldest_read_age_seconds", "gauge",
           "How long the oldest read in the spool has waited to be stored.");
    s_printf(&b, "anprd_spool_oldest_read_age_seconds ");
    s_micro(&b, st->spool_oldest_ms > 0 ? (uint64_t)st->spool_oldest_ms * 1000 : 0);
    s_printf(&b, "\n");
    s_one(&b, "anprd_spool_full_total", "counter", "Reads refused because the spool was full.",
          st->spool_full);
    s_one(&b, "anprd_spool_errors_total", "counter", "Failed spool commits (retried).",
          st->spool_errors);
    s_one(&b, "anprd_spool_lost_reads_total", "counter",
          "Acknowledged reads lost to spool damage found at start (the log names them).",
          st->spool_lost);

    s_hist(&b, "anprd_writer_batch_reads", "Reads per batch the writer committed.", &s->batch_reads,
           s_size_bounds, false);
    s_hist(&b, "anprd_ack_latency_seconds",
           "From a read's arrival to its ACK (durable in the spool or the database).",
           &s->ack_latency, s_latency_bounds, true);
    s_hist(&b, "anprd_hit_latency_seconds",
           "From a read's arrival to its live HIT's publication (post-matches not included).",
           &s->hit_latency, s_latency_bounds, true);

    s_one(&b, "anprd_watchlist_entries", "gauge", "Entries in the watchlist snapshot in use.",
          st->watchlist_entries);
    s_head(&b, "anprd_watchlist_version", "gauge",
           "Newest watchlist change the snapshot in use includes.");
    s_printf(&b, "anprd_watchlist_version %" PRId64 "\n", st->watchlist_version);
    s_one(&b, "anprd_cameras_connected", "gauge",
          "Reader connections that sent a frame within the heartbeat timeout (15 s).", s->cameras);

    if (s->curve) {
        s_head(&b, "anprd_curve_handshakes_total", "counter",
               "CURVE peers the ZAP handler let in (allowed) or refused (denied).");
        s_printf(&b, "anprd_curve_handshakes_total{result=\"allowed\"} %" PRIu64 "\n",
                 s->curve_allowed);
        s_printf(&b, "anprd_curve_handshakes_total{result=\"denied\"} %" PRIu64 "\n",
                 s->curve_denied);
        s_head(&b, "anprd_curve_keys", "gauge", "Enabled CURVE keys in the set in force.");
        s_printf(&b, "anprd_curve_keys{kind=\"camera\"} %" PRIu64 "\n", s->curve_camera_keys);
        s_printf(&b, "anprd_curve_keys{kind=\"console\"} %" PRIu64 "\n", s->curve_console_keys);
        s_head(&b, "anprd_covert_subscriptions_total", "counter",
               "Subscriptions on the covert feed applied (cleared) or not (refused).");
        s_printf(&b, "anprd_covert_subscriptions_total{result=\"applied\"} %" PRIu64 "\n",
                 st->covert_subscribed);
        s_printf(&b, "anprd_covert_subscriptions_total{result=\"refused\"} %" PRIu64 "\n",
                 st->covert_refused);
    }

    if (s->backbone) {
        s_one(&b, "anprd_backbone_connected", "gauge",
              "1 while a connection to the national backbone is up.", s->backbone_connected);
        s_one(&b, "anprd_backbone_queued_messages", "gauge",
              "Messages in the outbound spool the server has not acknowledged.",
              s->backbone_queued);
        s_one(&b, "anprd_backbone_queued_bytes", "gauge", "Their bytes on disk.",
              s->backbone_queued_bytes);
        s_one(&b, "anprd_backbone_sent_total", "counter", "Frames written, resends included.",
              s->backbone_sent);
        s_one(&b, "anprd_backbone_delivered_total", "counter",
              "Messages the server acknowledged as stored.", s->backbone_delivered);
        s_one(&b, "anprd_backbone_retries_total", "counter",
              "Frames written again after a lost connection.", s->backbone_retries);
        s_one(&b, "anprd_backbone_failures_total", "counter",
              "Failed connects and lost connections.", s->backbone_failures);
        s_one(&b, "anprd_backbone_lost_total", "counter",
              "HITs (and forwarded reads) lost to outbound spool damage found at start.",
              s->backbone_lost);
    }

    if (b.oom) {
        free(b.data);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* --- reader connections ---------------------------------------------------------------------- */

struct s_peer {
    int64_t seen_us; /* 0: a free slot */
    uint8_t len;
    uint8_t id[METRICS_PEER_ID];
};

struct metrics_peers {
    int64_t window_us;
    size_t n;
    size_t last; /* the slot of the last frame's peer: bursts come from one reader */
    struct s_peer slot[METRICS_PEER_SLOTS];
};

metrics_peers_t *metrics_peers_new(int64_t window_us)
{
    metrics_peers_t *self = calloc(1, sizeof *self);

    if (self)
        self->window_us = window_us;
    return self;
}

void metrics_peers_destroy(metrics_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static size_t s_peer_hash(const uint8_t *id, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ id[i]) * 16777619u;
    return h % METRICS_PEER_SLOTS;
}

static bool s_peer_is(const struct s_peer *p, const uint8_t *id, size_t len)
{
    return p->seen_us != 0 && p->len == len && memcmp(p->id, id, len) == 0;
}

void metrics_peers_seen(metrics_peers_t *self, const void *id, size_t len, int64_t now_us)
{
    const uint8_t *b = id;
    size_t i;

    if (!self)
        return;
    if (len > METRICS_PEER_ID)
        len = METRICS_PEER_ID; /* ids that long are refused anyway; a prefix tells them apart */
    if (now_us == 0)
        now_us = 1;
    if (s_peer_is(&self->slot[self->last], b, len)) {
        self->slot[self->last].seen_us = now_us;
        return;
    }
    for (i = s_peer_hash(b, len); self->slot[i].seen_us != 0; i = (i + 1) % METRICS_PEER_SLOTS) {
        if (s_peer_is(&self->slot[i], b, len)) {
            self->slot[i].seen_us = now_us;
            self->last = i;
            return;
        }
    }
    /* Half full at most, so probes stay short; more peers than that are not counted. */
    if (self->n >= METRICS_PEER_SLOTS / 2)
        return;
    self->slot[i].seen_us = now_us;
    self->slot[i].len = (uint8_t)len;
    memcpy(self->slot[i].id, b, len);
    self->n++;
    self->last = i;
}

uint64_t metrics_peers_count(metrics_peers_t *self, int64_t now_us)
{
    size_t live = 0, k = 0;
    struct s_peer *keep;

    if (!self)
        return 0;
    for (size_t i = 0; i < METRICS_PEER_SLOTS; i++)
        live += self->slot[i].seen_us != 0 && now_us - self->slot[i].seen_us <= self->window_us;
    if (live == self->n)
        return live;
    /* Some went quiet: put the others back in a clean table (no tombstones to skip). */
    keep = malloc((live ? live : 1) * sizeof *keep);
    if (!keep)
        return live;
    for (size_t i = 0; i < METRICS_PEER_SLOTS; i++)
        if (self->slot[i].seen_us != 0 && now_us - self->slot[i].seen_us <= self->window_us)
            keep[k++] = self->slot[i];
    memset(self->slot, 0, sizeof self->slot);
    self->n = 0;
    self->last = 0;
    for (size_t j = 0; j < k; j++) {
        size_t i = s_peer_hash(keep[j].id, keep[j].len);
        while (self->slot[i].seen_us != 0)
            i = (i + 1) % METRICS_PEER_SLOTS;
        self->slot[i] = keep[j];
        self->n++;
    }
    free(keep);
    return live;
}

/* --- the HTTP side --------------------------------------------------------------------------- */

struct metrics {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* a snapshot was published */
    struct metrics_snap snap; /* the last one published (mu) */
    uint64_t gen;             /* snapshots published (mu) */
    atomic_bool wanted;       /* a scrape waits for a fresh one */
    int64_t last_us;          /* ingest thread: when it last published */
    struct metrics_snap copy; /* HTTP thread: the one being rendered (one thread serves all) */
};

static enum MHD_Result s_respond(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Copy the freshest snapshot into self->copy: wait a little for one newer than the last.
 * false when none was ever published. */
static bool s_fresh(metrics_t *self)
{
    struct timespec until;
    bool have;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)METRICS_WAIT_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&self->mu);
    uint64_t gen = self->gen;
    atomic_store(&self->wanted, true);
    while (self->gen == gen && pthread_cond_timedwait(&self->cond, &self->mu, &until) == 0)
        ;
    have = self->gen > 0;
    if (have)
        memcpy(&self->copy, &self->snap, sizeof self->copy);
    pthread_mutex_unlock(&self->mu);
    return have;
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_len, void **state)
{
    metrics_t *self = cls;
    struct MHD_Response *r;
    enum MHD_Result rc;
    char *text;
    size_t len;

    (void)version;
    (void)upload;
    (void)state;
    *upload_len = 0; /* a body is never read; the answer is queued at once */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/metrics") != 0)
        return s_respond(conn, MHD_HTTP_NOT_FOUND, "not found; the metrics are at /metrics\n");
    if (!s_fresh(self))
        return s_respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
    text = metrics_render(&self->copy, &len);
    if (!text)
        return s_respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
    rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* The listening socket, made here so a failure says why (libmicrohttpd only says it failed). */
static int s_listen(const struct sockaddr_storage *addr, socklen_t alen, int *port, char *err,
                    size_t errlen)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)addr, alen) != 0 || listen(fd, METRICS_CONNS) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        snprintf(err, errlen, "cannot bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

metrics_t *metrics_new(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    bool loopback;
    const char *problem = conf_listen_parse(listen, &addr, &alen, &loopback);
    metrics_t *self;
    pthread_condattr_t ca;
    int fd;

    if (problem) {
        snprintf(err, errlen, "%s: %s", listen, problem);
        return NULL;
    }
    if (!(self = calloc(1, sizeof *self))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&self->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&self->wanted, false);
    fd = s_listen(&addr, alen, &self->port, err, errlen);
    if (fd < 0)
        goto fail;
    /* One internal thread serves every connection, so s_handle never runs twice at once. */
    self->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
            (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        (uint16_t)self->port, NULL, NULL, s_handle, self, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)METRICS_CONNS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY, MHD_OPTION_END);
    if (!self->mhd) {
        snprintf(err, errlen, "the HTTP server (libmicrohttpd) did not start");
        close(fd);
        goto fail;
    }
    return self;
fail:
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mu);
    free(self);
    return NULL;
}

void metrics_destroy(metrics_t **self_p)
{
    metrics_t *self;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    MHD_stop_daemon(self->mhd); /* closes the listening socket too */
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

int metrics_port(const metrics_t *self)
{
    return self->port;
}

bool metrics_due(metrics_t *self, int64_t now_us)
{
    return now_us - self->last_us >= METRICS_EVERY_US ||
           atomic_load_explicit(&self->wanted, memory_order_relaxed);
}

void metrics_publish(metrics_t *self, const struct metrics_snap *s, int64_t now_us)
{
    pthread_mutex_lock(&self->mu);
    memcpy(&self->snap, s, sizeof self->snap);
    self->gen++;
    atomic_store(&self->wanted, false);
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mu);
    self->last_us = now_us;
}
