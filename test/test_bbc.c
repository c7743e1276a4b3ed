/*
 * test_bbc: the backbone client against the real anpr-backbone-sink ($ANPR_BACKBONE_SINK) over
 * TLS on loopback, with certificates made at test time. A forwarder loop as in bbc.h drives
 * 1000 HITs from an in-memory queue; the sink is killed (SIGKILL) twice while messages are in
 * flight and started again; at the end every id must be in the sink's file exactly once.
 */
#include "bb.h"
#include "bbc.h"
#include "check.h"
#include "sinkproc.h"
#include "tls.h"
#include "util.h"

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_MSG      1000
#define DEADLINE_S 60

static struct sinkproc s_sink;

static const char *s_file(const char *name)
{
    return sinkproc_file(&s_sink, name);
}

/* The sink with the server certificate, storing into out.tsv (its stdout: out.tsv.stdout). */
static pid_t s_sink_start(int ack_delay_ms)
{
    pid_t pid = sinkproc_start(&s_sink, "server", "out.tsv", ack_delay_ms);

    CHECK(pid > 0);
    return pid;
}

static void s_config(struct bbc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "localhost";
    cfg->port = s_sink.port;
    cfg->ca_file = s_file("ca.pem");
    cfg->cert_file = s_file("client.pem");
    cfg->key_file = s_file("client.key");
    cfg->instance = "anprd-test-1";
    cfg->software = "test_bbc";
    cfg->epoch = 1764429600000000;
    cfg->window = 64;
    cfg->connect_timeout_ms = 2000;
    cfg->io_timeout_ms = 2000;
    cfg->ack_timeout_ms = 5000;
    cfg->backoff_min_ms = 20;
    cfg->backoff_max_ms = 200;
}

/* The queue: N_MSG HIT frames with ids 2, 4, 6, ... (gaps are allowed), 4 cameras. */
struct queue {
    uint8_t *frame[N_MSG];
    size_t len[N_MSG];
    uint64_t id[N_MSG];
};

static void s_queue_fill(struct queue *q)
{
    for (int i = 0; i < N_MSG; i++) {
        struct bb_hit h;
        uint8_t buf[BB_MAX_FRAME];

        memset(&h, 0, sizeof h);
        h.id = (uint64_t)(i + 1) * 2;
        h.seq = (uint64_t)(i / 4 + 1);
        h.time_us = 1764429601000000 + i * 1000;
        h.entry_id = 1000 + (uint64_t)(i % 7);
        h.list_id = 3;
        h.priority = 2;
        h.match = PROTO_MATCH_EXACT;
        snprintf(h.camera, sizeof h.camera, "cam-%02d", i % 4);
        snprintf(h.plate, sizeof h.plate, "1-ABC-%03d", i % 1000);
        snprintf(h.plate_norm, sizeof h.plate_norm, "1ABC%03d", i % 1000);
        strcpy(h.country, "BE");
        strcpy(h.list, "Gestolen voertuigen");
        strcpy(h.category, "stolen");
        snprintf(h.entry_plate, sizeof h.entry_plate, "1ABC%03d", i % 1000);
        q->len[i] = bb_encode_hit(&h, buf, sizeof buf);
        q->frame[i] = malloc(q->len[i]);
        if (q->len[i] == 0 || q->frame[i] == NULL)
            abort();
        memcpy(q->frame[i], buf, q->len[i]);
        q->id[i] = h.id;
    }
}

/* Index of the first queued message not settled. */
static size_t s_first_unsettled(const struct queue *q, uint64_t acked)
{
    size_t i = 0;

    while (i < N_MSG && q->id[i] <= acked)
        i++;
    return i;
}

static void s_test_delivery(void)
{
    struct bbc_config cfg;
    struct queue q;
    char err[512];
    bbc_t *c;
    pid_t sink;
    size_t pos = 0;
    int kills = 0, status;
    int64_t end = util_mono_us() + (int64_t)DEADLINE_S * 1000000;
    uint64_t kill_at[2] = {0, 0}, last_id;
    const struct bbc_stats *st;

    s_queue_fill(&q);
    last_id = q.id[N_MSG - 1];
    kill_at[0] = q.id[N_MSG * 2 / 5];
    kill_at[1] = q.id[N_MSG * 3 / 4];
    s_config(&cfg);
    c = bbc_new(&cfg, err, sizeof err);
    if (c == NULL)
        fprintf(stderr, "bbc_new: %s\n", err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    sink = s_sink_start(20);

    while (bbc_acked(c) < last_id && util_mono_us() < end) {
        size_t n, k;
        int rc;

        if (!bbc_connected(c)) {
            poll(NULL, 0, (int)bbc_retry_in_ms(c));
            if (bbc_connect(c) != 0)
                continue;
            pos = s_first_unsettled(&q, bbc_acked(c));
        }
        n = N_MSG - pos;
        if (n > bbc_window_free(c))
            n = bbc_window_free(c);
        if (n > 16)
            n = 16;
        if (n > 0) {
            rc = bbc_send(c, (const uint8_t *const *)&q.frame[pos], &q.len[pos], n);
            if (rc < 0)
                continue;
            k = (size_t)rc;
            pos += k;
        }
        if (bbc_poll(c, n > 0 ? 0 : 50) < 0)
            continue;
        /* kill the sink while messages are in flight, then start it again at once */
        if (kills < 2 && bbc_acked(c) >= kill_at[kills] && bbc_unacked(c) > 0) {
            CHECK_INT(sinkproc_stop(sink, SIGKILL), 128 + SIGKILL);
            kills++;
            sink = s_sink_start(kills == 1 ? 0 : 20);
        }
    }
    st = bbc_stats(c);
    fprintf(stderr,
            "test_bbc: acked %llu of %llu; sent %llu, retried %llu, acked %llu, connects %llu, "
            "failures %llu, last failure: %s; server %s over %s\n",
            (unsigned long long)bbc_acked(c), (unsigned long long)last_id,
            (unsigned long long)st->sent, (unsigned long long)st->retried,
            (unsigned long long)st->acked, (unsigned long long)st->connects,
            (unsigned long long)st->failures, st->last_failure, st->server, st->tls_version);
    CHECK_INT(bbc_acked(c), last_id);
    CHECK_INT(kills, 2);
    CHECK_INT(st->acked, N_MSG); /* each message settled exactly once */
    CHECK(st->retried > 0);      /* some were in flight at a kill, and sent again */
    CHECK_INT(st->sent, N_MSG + st->retried);
    CHECK(st->connects >= 3);
    CHECK(st->failures >= 2);
    CHECK(st->last_failure[0] != '\0');
    CHECK_STR(st->server, "anpr-backbone-sink");
    CHECK_STR(st->tls_version, "TLSv1.3");
    CHECK_INT(st->refused, 0);

    status = sinkproc_stop(sink, SIGTERM);
    CHECK_INT(status, 0);
    bbc_destroy(&c);
    bbc_destroy(&c); /* safe twice */
    CHECK(c == NULL);

    /* every id in the sink's file, exactly once, with its fields */
    {
        size_t len = 0;
        char *data = util_read_file(s_file("out.tsv"), &len), *line, *save = NULL;
        static int seen[2 * N_MSG + 2];
        int lines = 0, bad = 0, missing = 0, twice = 0;

        CHECK(data != NULL);
        for (line = data ? strtok_r(data, "\n", &save) : NULL; line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            unsigned long long id, epoch;
            char inst[80], type[8], cam[40];

            lines++;
            if (sscanf(line, "%llu\t%79[^\t]\t%llu\t%7[^\t]\t%39[^\t]", &id, inst, &epoch, type,
                       cam) != 5 ||
                id == 0 || id > 2 * N_MSG || id % 2 != 0 || strcmp(inst, "anprd-test-1") != 0 ||
                epoch != 1764429600000000ull || strcmp(type, "HIT") != 0 ||
                strncmp(cam, "cam-0", 5) != 0) {
                bad++;
                continue;
            }
            seen[id]++;
        }
        for (int i = 0; i < N_MSG; i++) {
            missing += seen[q.id[i]] == 0;
            twice += seen[q.id[i]] > 1;
        }
        CHECK_INT(lines, N_MSG);
        CHECK_INT(bad, 0);
        CHECK_INT(missing, 0);
        CHECK_INT(twice, 0);
        free(data);
    }
    /* the last run's counts: all it received, nothing refused */
    {
        size_t len = 0;
        char *data = util_read_file(s_file("out.tsv.stdout"), &len);
        unsigned long long rec = 0, uniq = 0, dup = 0, rej = 9;

        CHECK(data != NULL);
        CHECK(data && sscanf(data, "received %llu unique %llu duplicates %llu rejected %llu", &rec,
                             &uniq, &dup, &rej) == 4);
        CHECK(rec > 0);
        CHECK_INT(rec, uniq + dup);
        CHECK_INT(rej, 0);
        free(data);
    }
    for (int i = 0; i < N_MSG; i++)
        free(q.frame[i]);
}

/* Exponential backoff with jitter, against a port where nobody listens. */
static void s_test_backoff(void)
{
    struct bbc_config cfg;
    char err[512];
    bbc_t *c;
    const int64_t lo[] = {500, 1000, 2000, 2000}, hi[] = {1000, 2000, 4000, 4000};

    s_config(&cfg);
    cfg.backoff_min_ms = 1000;
    cfg.backoff_max_ms = 4000;
    c = bbc_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    CHECK_INT(bbc_retry_in_ms(c), 0);
    for (int i = 0; i < 4; i++) {
        int64_t r;

        CHECK_INT(bbc_connect(c), -1);
        r = bbc_retry_in_ms(c);
        if (r < lo[i] - 50 || r > hi[i])
            fprintf(stderr, "backoff %d: %lld ms\n", i, (long long)r);
        CHECK(r >= lo[i] - 50 && r <= hi[i]);
    }
    CHECK_CONTAINS(bbc_stats(c)->last_failure, "Connection refused");
    CHECK_INT(bbc_stats(c)->failures, 4);
    CHECK(!bbc_connected(c));
    CHECK_INT(bbc_window_free(c), 0);
    bbc_destroy(&c);

    /* a configuration that cannot work is refused at once */
    s_config(&cfg);
    cfg.instance = "has space";
    c = bbc_new(&cfg, err, sizeof err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err, "instance");
}

/* A server that stores but never acknowledges in time: the ACK timeout drops the connection. */
static void s_test_ack_timeout(void)
{
    struct bbc_config cfg;
    char err[512];
    bbc_t *c;
    pid_t sink;
    struct bb_hit h;
    uint8_t buf[BB_MAX_FRAME];
    const uint8_t *frames[1] = {buf};
    size_t len;
    int64_t end, t0;
    int rc = 0;

    s_config(&cfg);
    cfg.ack_timeout_ms = 300;
    c = bbc_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    sink = s_sink_start(2000);
    end = util_mono_us() + 10 * 1000000;
    while (bbc_connect(c) != 0 && util_mono_us() < end)
        poll(NULL, 0, (int)bbc_retry_in_ms(c));
    CHECK(bbc_connected(c));

    memset(&h, 0, sizeof h);
    h.id = 5000;
    h.seq = 1;
    h.time_us = 1764429601000000;
    h.priority = 1;
    h.match = PROTO_MATCH_EXACT;
    strcpy(h.camera, "cam-ack");
    strcpy(h.plate, "X");
    strcpy(h.plate_norm, "X");
    strcpy(h.list, "l");
    strcpy(h.category, "stolen");
    strcpy(h.entry_plate, "X");
    len = bb_encode_hit(&h, buf, sizeof buf);
    CHECK_INT(bbc_send(c, frames, &len, 1), 1);
    CHECK_INT(bbc_unacked(c), 1);
    t0 = util_mono_us();
    while (rc == 0 && util_mono_us() < end)
        rc = bbc_poll(c, 100);
    CHECK_INT(rc, -1);
    CHECK(util_mono_us() - t0 < 1500000);
    CHECK_CONTAINS(bbc_stats(c)->last_failure, "no acknowledgement within 300 ms");
    CHECK_INT(bbc_unacked(c), 0);
    CHECK(bbc_acked(c) < 5000);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);
    bbc_destroy(&c);
}

/*
 * With a CRL: a sink with a revoked certificate is refused (until the deadline, connects may
 * also find it not yet listening); the good one connects, and the stats name its certificate,
 * TLS version and cipher. A CRL file that does not load makes bbc_new fail.
 */
static void s_test_crl(void)
{
    struct bbc_config cfg;
    char err[512];
    bbc_t *c;
    pid_t sink;
    int64_t end;
    const struct bbc_stats *st;

    s_config(&cfg);
    cfg.crl_file = "/nonexistent/crl.pem";
    c = bbc_new(&cfg, err, sizeof err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err, "CRL file /nonexistent/crl.pem");

    s_config(&cfg);
    cfg.crl_file = s_file("crl.pem");
    c = bbc_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    st = bbc_stats(c);
    sink = sinkproc_start(&s_sink, "revoked", "revoked.tsv", 0);
    CHECK(sink > 0);
    end = util_mono_us() + 20 * 1000000;
    while (strstr(st->last_failure, "certificate revoked") == NULL && util_mono_us() < end) {
        CHECK_INT(bbc_connect(c), -1);
        poll(NULL, 0, (int)bbc_retry_in_ms(c));
    }
    CHECK_CONTAINS(st->last_failure, "TLS handshake with localhost:" /* port */);
    CHECK_CONTAINS(st->last_failure, "certificate verification failed: certificate revoked");
    CHECK(!bbc_connected(c));
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);

    sink = s_sink_start(0);
    while (bbc_connect(c) != 0 && util_mono_us() < end)
        poll(NULL, 0, (int)bbc_retry_in_ms(c));
    CHECK(bbc_connected(c));
    CHECK_STR(st->tls_version, "TLSv1.3");
    CHECK_CONTAINS(st->cipher, "TLS_");
    CHECK_CONTAINS(st->peer_subject, "CN=localhost");
    bbc_destroy(&c);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (sinkproc_init(&s_sink, "test_bbc") != 0)
        return 1;

    s_test_backoff();
    s_test_delivery();
    s_test_ack_timeout();
    s_test_crl();
    sinkproc_done(&s_sink, "test_bbc", check_failed);
    return check_done("bbc");
}
