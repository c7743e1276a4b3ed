/*
 * test_fwd: the backbone forwarder against the real anpr-backbone-sink ($ANPR_BACKBONE_SINK)
 * over TLS on loopback, with certificates made at test time and real spool directories: delivery
 * in order, an outage at start, a restart before the ACKs came, TLS refusals, a full spool, and
 * a prompt stop while connecting to a server that never answers, and list names and references
 * the backbone format cannot carry (mended, never held back) with the covert flag.
 */
#include "bb.h"
#include "check.h"
#include "sinkproc.h"
#include "fwd.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_CAMS     4
#define DEADLINE_S 60

static struct sinkproc s_sink;

static const char *s_file(const char *name)
{
    return sinkproc_file(&s_sink, name);
}

/* The sink with the server certificate `cert` (.pem/.key), storing into `out`. */
static pid_t s_sink_start(const char *cert, const char *out, int ack_delay_ms)
{
    pid_t pid = sinkproc_start(&s_sink, cert, out, ack_delay_ms);

    CHECK(pid > 0);
    return pid;
}

/* The sink's last "received N unique N duplicates N rejected N" line (from its stdout). */
static int s_sink_counts(const char *out, unsigned long long c[4])
{
    char name[80];
    size_t len = 0;
    char *data;
    int n;

    snprintf(name, sizeof name, "%s.stdout", out);
    data = util_read_file(s_file(name), &len);
    if (data == NULL)
        return -1;
    n = sscanf(data, "received %llu unique %llu duplicates %llu rejected %llu", &c[0], &c[1], &c[2],
               &c[3]);
    free(data);
    return n == 4 ? 0 : -1;
}

/* Paths are filled by s_new (s_file's buffers are reused). */
static void s_opts(struct fwd_opts *o, const char *spool)
{
    memset(o, 0, sizeof *o);
    o->spool_dir = spool;
    o->host = "localhost";
    o->port = s_sink.port;
    o->instance = "anprd-test-fwd";
    o->window = 64;
    o->connect_timeout_ms = 2000;
    o->io_timeout_ms = 2000;
    o->ack_timeout_ms = 10000;
    o->backoff_min_ms = 40;
    o->backoff_max_ms = 200;
}

static fwd_t *s_new(const struct fwd_opts *opts)
{
    struct fwd_opts o = *opts;
    char err[512];
    fwd_t *f;

    o.spool_dir = s_file(opts->spool_dir);
    o.ca_file = s_file("ca.pem");
    o.cert_file = s_file("client.pem");
    o.key_file = s_file("client.key");
    f = fwd_new(&o, NULL, err, sizeof err);

    if (f == NULL)
        fprintf(stderr, "fwd_new: %s\n", err);
    CHECK(f != NULL);
    return f;
}

/* HIT number i (0-based): camera i % N_CAMS, its seq i / N_CAMS + 1, so order is checkable. */
static void s_hit(int i, struct proto_hit *h, char *norm, size_t normlen)
{
    memset(h, 0, sizeof *h);
    h->entry_id = 1000 + (uint64_t)(i % 7);
    h->list_id = 3;
    h->priority = 2;
    h->match = PROTO_MATCH_EXACT;
    strcpy(h->list, "Gestolen voertuigen");
    strcpy(h->category, "stolen");
    snprintf(h->entry_plate, sizeof h->entry_plate, "1ABC%03d", i % 1000);
    strcpy(h->external_ref, "PV/GE/2025/012345");
    snprintf(h->read.camera, sizeof h->read.camera, "cam-%d", i % N_CAMS);
    h->read.seq = (uint64_t)(i / N_CAMS + 1);
    h->read.time_us = 1764429601000000 + (int64_t)i * 1000;
    snprintf(h->read.plate, sizeof h->read.plate, "1-ABC-%03d", i % 1000);
    strcpy(h->read.country, "BE");
    snprintf(norm, normlen, "1ABC%03d", i % 1000);
}

/* Push HITs [from, to) in batches of `batch`, committing each; how many were taken. */
static int s_push(fwd_t *f, int from, int to, int batch)
{
    char err[512], norm[40];
    struct proto_hit h;
    int i, rc = FWD_OK;

    for (i = from; i < to; i++) {
        s_hit(i, &h, norm, sizeof norm);
        rc = fwd_push_hit(f, &h, norm, 0, err, sizeof err);
        if (rc != FWD_OK) {
            fprintf(stderr, "fwd_push_hit %d: %d %s\n", i, rc, err);
            break;
        }
        if ((i + 1 - from) % batch == 0 && fwd_commit(f, err, sizeof err) != FWD_OK) {
            fprintf(stderr, "fwd_commit: %s\n", err);
            break;
        }
    }
    if (fwd_commit(f, err, sizeof err) != FWD_OK)
        fprintf(stderr, "fwd_commit: %s\n", err);
    return i - from;
}

/* Wait until `delivered` reached n and nothing is queued. */
static bool s_wait_delivered(fwd_t *f, uint64_t n, struct fwd_stats *st)
{
    int64_t end = util_mono_us() + (int64_t)DEADLINE_S * 1000000;

    for (;;) {
        fwd_stats(f, st);
        if (st->delivered >= n && st->queued_records == 0 && st->buffered == 0)
            return true;
        if (util_mono_us() >= end) {
            fprintf(stderr,
                    "timeout: delivered %llu of %llu, queued %llu, failures %llu, last: %s\n",
                    (unsigned long long)st->delivered, (unsigned long long)n,
                    (unsigned long long)st->queued_records, (unsigned long long)st->failures,
                    st->last_failure);
            return false;
        }
        poll(NULL, 0, 10);
    }
}

/* Wait until at least n failures whose last reason holds `needle`. */
static bool s_wait_failures(fwd_t *f, uint64_t n, const char *needle, struct fwd_stats *st)
{
    int64_t end = util_mono_us() + (int64_t)DEADLINE_S * 1000000;

    for (;;) {
        fwd_stats(f, st);
        if (st->failures >= n && strstr(st->last_failure, needle) != NULL)
            return true;
        if (util_mono_us() >= end) {
            fprintf(stderr, "timeout: %llu failures, last: %s\n", (unsigned long long)st->failures,
                    st->last_failure);
            return false;
        }
        poll(NULL, 0, 10);
    }
}

/* What the sink's out file holds, checked against HITs [0, n) pushed in order. */
struct outcheck {
    int lines, bad, id_order, cam_order, missing;
    unsigned long long epoch, min_id, max_id;
};

static void s_read_out(const char *out, int n, struct outcheck *r)
{
    size_t len = 0;
    char *data = util_read_file(s_file(out), &len), *line, *save = NULL;
    unsigned long long prev_id = 0, last_seq[N_CAMS] = {0};
    int *seen = calloc((size_t)n + 1, sizeof *seen);

    memset(r, 0, sizeof *r);
    for (line = data ? strtok_r(data, "\n", &save) : NULL; line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned long long id, epoch, seq;
        char inst[80], type[8], cam[40], plate[40];
        int c, i;

        r->lines++;
        if (sscanf(line, "%llu\t%79[^\t]\t%llu\t%7[^\t]\t%39[^\t]\t%llu\t%*d\t%39[^\t]", &id, inst,
                   &epoch, type, cam, &seq, plate) != 7 ||
            strcmp(inst, "anprd-test-fwd") != 0 || strcmp(type, "HIT") != 0 ||
            sscanf(cam, "cam-%d", &c) != 1 || c < 0 || c >= N_CAMS || seq == 0) {
            r->bad++;
            continue;
        }
        if (r->epoch == 0)
            r->epoch = epoch;
        if (epoch != r->epoch)
            r->bad++;
        /* the sink stores only new ids, so in the order they first came: increasing */
        if (id <= prev_id)
            r->id_order++;
        prev_id = id;
        if (r->min_id == 0 || id < r->min_id)
            r->min_id = id;
        if (id > r->max_id)
            r->max_id = id;
        /* per camera in push order: seq 1, 2, 3, ... */
        if (seq != last_seq[c] + 1)
            r->cam_order++;
        last_seq[c] = seq;
        i = (int)(seq - 1) * N_CAMS + c;
        if (i < n)
            seen[i]++;
        else
            r->bad++;
    }
    for (int i = 0; i < n; i++)
        r->missing += seen[i] != 1;
    free(seen);
    free(data);
}

/* The sink stored all n, each once, in order by id and per camera, none missing (r: the rest). */
static void s_expect_all(const char *out, int n, struct outcheck *r)
{
    s_read_out(out, n, r);
    CHECK_INT(r->lines, n);
    CHECK_INT(r->bad, 0);
    CHECK_INT(r->id_order, 0); /* no id twice, none reused */
    CHECK_INT(r->cam_order, 0);
    CHECK_INT(r->missing, 0);
}

static int s_count_segments(const char *spool)
{
    DIR *d = opendir(s_file(spool));
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strlen(e->d_name) > 4 && strcmp(e->d_name + strlen(e->d_name) - 4, ".seg") == 0;
    closedir(d);
    return n;
}

static int64_t s_destroy_ms(fwd_t **f)
{
    int64_t t0 = util_mono_us();

    fwd_destroy(f);
    return (util_mono_us() - t0) / 1000;
}

/* 1. 2000 HITs of 4 cameras while the sink runs: all arrive once, in order per camera. */
static void s_test_delivery(void)
{
    const int n = 2000;
    struct fwd_opts o;
    struct fwd_stats st;
    struct outcheck r;
    unsigned long long c[4];
    pid_t sink = s_sink_start("server", "out1.tsv", 0);
    fwd_t *f;

    s_opts(&o, "spool1");
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    CHECK_INT(s_push(f, 0, n, 50), n);
    CHECK(s_wait_delivered(f, n, &st));
    CHECK_INT(st.pushed, n);
    CHECK_INT(st.delivered, n);
    CHECK_INT(st.refused, 0);
    CHECK_INT(st.full, 0);
    CHECK(st.connected);
    CHECK_STR(st.server, "anpr-backbone-sink");
    CHECK_STR(st.tls_version, "TLSv1.3");
    CHECK_INT(st.queued_bytes, 0);
    CHECK_INT(st.oldest_age_us, 0);
    CHECK(st.epoch > 1764429600000000ull);
    CHECK(s_destroy_ms(&f) < 1500);
    fwd_destroy(&f); /* safe twice */
    CHECK(f == NULL);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);

    s_expect_all("out1.tsv", n, &r);
    CHECK_INT(r.epoch, st.epoch);
    CHECK_INT(r.max_id, st.acked_id);
    CHECK_INT(s_sink_counts("out1.tsv", c), 0);
    CHECK_INT(c[1], n); /* unique */
    CHECK_INT(c[3], 0); /* rejected */
}

/* 2. Nobody listens at first: pushes are spooled, the forwarder backs off; then the sink. */
static void s_test_outage(void)
{
    const int n = 1000;
    struct fwd_opts o;
    struct fwd_stats st;
    struct outcheck r;
    pid_t sink = 0;
    fwd_t *f;

    s_opts(&o, "spool2");
    o.segment_bytes = 16384; /* ~100 records a segment: the checkpoint must remove them */
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    CHECK_INT(s_push(f, 0, n, 100), n);
    CHECK(s_wait_failures(f, 3, "Connection refused", &st));
    CHECK(!st.connected);
    CHECK_INT(st.delivered, 0);
    CHECK_INT(st.queued_records, n);
    CHECK(st.queued_bytes > 0);
    CHECK(st.oldest_age_us > 0 && st.oldest_age_us < 60 * 1000000LL);
    CHECK(s_count_segments("spool2") > 5);

    sink = s_sink_start("server", "out2.tsv", 0);
    CHECK(s_wait_delivered(f, n, &st));
    CHECK_INT(st.delivered, n);
    CHECK_INT(st.queued_bytes, 0);
    CHECK_INT(st.oldest_age_us, 0);
    CHECK_INT(st.spool_errors, 0);
    CHECK_INT(s_count_segments("spool2"), 1); /* only the newest one, being written */
    fwd_destroy(&f);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);

    s_expect_all("out2.tsv", n, &r);
}

/*
 * 3. Destroyed before the sink acknowledged: the next forwarder on the same spool resends all,
 * under the same epoch and ids; the sink drops the resends by id. New pushes get new ids.
 */
static void s_test_restart(void)
{
    const int n = 500, more = 100;
    struct fwd_opts o;
    struct fwd_stats st;
    struct outcheck r;
    unsigned long long c[4], epoch, max_old = 0;
    int64_t end;
    pid_t sink = 0;
    fwd_t *f;
    int stored = 0;

    s_opts(&o, "spool3");
    sink = s_sink_start("server", "out3.tsv", 60000);
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    CHECK_INT(s_push(f, 0, n, 50), n);
    /* the sink stores (and fsyncs) before it would acknowledge: wait for what it stored */
    end = util_mono_us() + (int64_t)DEADLINE_S * 1000000;
    while (stored < 1 && util_mono_us() < end) {
        s_read_out("out3.tsv", n, &r);
        stored = r.lines;
        poll(NULL, 0, 10);
    }
    CHECK(stored >= 1);
    fwd_stats(f, &st);
    epoch = st.epoch;
    CHECK_INT(st.delivered, 0);
    CHECK_INT(st.queued_records, n);
    CHECK(s_destroy_ms(&f) < 1500);
    CHECK_INT(sinkproc_stop(sink, SIGKILL), 128 + SIGKILL);
    s_read_out("out3.tsv", n, &r);
    stored = r.lines;
    max_old = r.max_id;

    /* a new forwarder on the same spool, a sink that acknowledges at once */
    sink = s_sink_start("server", "out3.tsv", 0);
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    CHECK(s_wait_delivered(f, n, &st));
    CHECK_INT(st.epoch, epoch);
    CHECK_INT(st.delivered, n); /* all of them sent again and acknowledged */
    CHECK(st.acked_id >= max_old);
    /* new HITs: ids above every id of the first run */
    CHECK_INT(s_push(f, n, n + more, 10), more);
    CHECK(s_wait_delivered(f, n + more, &st));
    fwd_destroy(&f);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);

    s_expect_all("out3.tsv", n + more, &r);
    CHECK_INT(r.epoch, epoch);
    CHECK_INT(s_sink_counts("out3.tsv", c), 0);
    CHECK_INT(c[0], n + more);          /* received by the second sink run */
    CHECK_INT(c[2], stored);            /* duplicates: what the first run had stored */
    CHECK_INT(c[1], n + more - stored); /* unique */
    CHECK_INT(c[3], 0);

    /* An emptied spool directory (the epoch file kept) starts a new, later epoch. */
    {
        char path[4096];
        DIR *d = opendir(s_file("spool3"));
        struct dirent *e;

        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, FWD_EPOCH_FILE) == 0 || e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", s_file("spool3"), e->d_name);
            unlink(path);
        }
        if (d)
            closedir(d);
        o.port = "1"; /* nobody: only the epoch matters here */
        f = s_new(&o);
        if (f != NULL) {
            fwd_stats(f, &st);
            CHECK(st.epoch > epoch);
            fwd_destroy(&f);
        }
        /* and a spool with records keeps its epoch across restarts */
        f = s_new(&o);
        if (f != NULL) {
            unsigned long long e2;
            fwd_stats(f, &st);
            e2 = st.epoch;
            CHECK_INT(s_push(f, 0, 1, 1), 1);
            fwd_destroy(&f);
            f = s_new(&o);
            if (f != NULL) {
                fwd_stats(f, &st);
                CHECK_INT(st.epoch, e2);
                CHECK_INT(st.queued_records, 1);
                fwd_destroy(&f);
            }
        }
    }
}

/* 4. A server whose certificate is wrong: nothing delivered, the reason named, all kept. */
static void s_test_tls_refused(const char *cert, const char *reason)
{
    const int n = 100;
    struct fwd_opts o;
    struct fwd_stats st;
    struct outcheck r;
    char spool[32], out[32];
    pid_t sink = 0;
    fwd_t *f;

    snprintf(spool, sizeof spool, "spool4-%s", cert);
    snprintf(out, sizeof out, "out4-%s.tsv", cert);
    sink = s_sink_start(cert, out, 0);
    s_opts(&o, spool);
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    CHECK_INT(s_push(f, 0, n, 10), n);
    CHECK(s_wait_failures(f, 3, reason, &st));
    CHECK_CONTAINS(st.last_failure, "certificate verification failed");
    CHECK(!st.connected);
    CHECK_INT(st.delivered, 0);
    CHECK_INT(st.sent, 0);
    CHECK_INT(st.queued_records, n);
    CHECK(strstr(st.last_failure, "BEGIN") == NULL); /* no key material, ever */
    CHECK(s_destroy_ms(&f) < 1500);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);
    s_read_out(out, n, &r);
    CHECK_INT(r.lines, 0);

    /* still all there for the next start */
    o.port = "1";
    f = s_new(&o);
    if (f != NULL) {
        fwd_stats(f, &st);
        CHECK_INT(st.queued_records, n);
        fwd_destroy(&f);
    }
}

/*
 * 5. A small spool: push answers FULL, the caller keeps the HIT and pushes it again later;
 * once the server acknowledges, pushes succeed again; nothing is lost, order holds.
 */
static void s_test_full(void)
{
    const int n = 400;
    struct fwd_opts o;
    struct fwd_stats st;
    struct outcheck r;
    char err[512], norm[40];
    struct proto_hit h;
    int next = 0, fulls = 0, rc, first_full = -1;
    int64_t end;
    pid_t sink = 0;
    fwd_t *f;

    s_opts(&o, "spool5");
    o.segment_bytes = 4096;
    o.max_bytes = 8192;
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    end = util_mono_us() + (int64_t)DEADLINE_S * 1000000;
    while (next < n && util_mono_us() < end) {
        s_hit(next, &h, norm, sizeof norm);
        rc = fwd_push_hit(f, &h, norm, 0, err, sizeof err);
        if (rc == FWD_OK) {
            next++;
            if (next % 5 == 0)
                CHECK_INT(fwd_commit(f, err, sizeof err), FWD_OK);
            continue;
        }
        CHECK_INT(rc, FWD_FULL);
        if (rc != FWD_FULL)
            break;
        if (fulls++ == 0) {
            /* the first FULL: the spool holds what fits, nothing can go before a server */
            first_full = next;
            CHECK_CONTAINS(err, "full");
            CHECK_INT(fwd_commit(f, err, sizeof err), FWD_OK);
            fwd_stats(f, &st);
            CHECK_INT(st.queued_records, next);
            CHECK(st.queued_bytes <= 8192);
            CHECK_INT(st.delivered, 0);
            CHECK_INT(fwd_push_hit(f, &h, norm, 0, err, sizeof err), FWD_FULL);
            fulls++;
            sink = s_sink_start("server", "out5.tsv", 0);
        }
        /* as ingest would: keep it, commit what is there, try again a little later */
        CHECK_INT(fwd_commit(f, err, sizeof err), FWD_OK);
        poll(NULL, 0, 5);
    }
    CHECK_INT(fwd_commit(f, err, sizeof err), FWD_OK);
    CHECK_INT(next, n);
    CHECK(first_full > 10 && first_full < 100);
    CHECK(s_wait_delivered(f, n, &st));
    CHECK_INT(st.pushed, n);
    CHECK_INT(st.full, fulls);
    CHECK_INT(st.delivered, n);
    fwd_destroy(&f);
    if (sink > 0)
        CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);
    s_expect_all("out5.tsv", n, &r);
}

/* A server that takes the TCP connection and never says a word: destroy is still prompt. */
static void s_test_stop_while_connecting(void)
{
    struct fwd_opts o;
    struct fwd_stats st;
    char err[512];
    int fd = tls_listen("127.0.0.1", s_sink.port, err, sizeof err);
    fwd_t *f;
    int64_t ms;

    CHECK(fd >= 0);
    s_opts(&o, "spool6");
    o.connect_timeout_ms = 30000;
    f = s_new(&o);
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    CHECK_INT(s_push(f, 0, 10, 10), 10);
    poll(NULL, 0, 300); /* it is in the TLS handshake by now, waiting for the server */
    fwd_stats(f, &st);
    CHECK(!st.connected);
    CHECK_INT(st.failures, 0);
    ms = s_destroy_ms(&f);
    if (ms >= 1000)
        fprintf(stderr, "destroy took %lld ms\n", (long long)ms);
    CHECK(ms < 1000);
    if (fd >= 0)
        close(fd);
}

/* A record as fwd.h describes it: format 1, append time, the frame (id 1 as placeholder). */
static void s_append_record(spool_t *sp, const uint8_t *frame, size_t len)
{
    uint8_t rec[9 + BB_MAX_FRAME];
    uint64_t now = (uint64_t)util_now_us(), pos;

    rec[0] = 1;
    for (int i = 0; i < 8; i++)
        rec[1 + i] = (uint8_t)(now >> (56 - 8 * i));
    memcpy(rec + 9, frame, len);
    CHECK_INT(spool_append(sp, rec, 9 + len, &pos), SPOOL_OK);
}

/*
 * A message the server refuses for good (NACK with its id) is counted, named, never resent,
 * and does not hold the queue; a record that is not a message is skipped and reported.
 */
static void s_test_refused(void)
{
    const int n = 10;
    struct fwd_opts o;
    struct fwd_stats st;
    struct outcheck r;
    struct proto_hit ph;
    struct bb_hit h;
    char err[512], norm[40];
    uint8_t frame[BB_MAX_FRAME];
    unsigned long long c[4];
    size_t len;
    spool_t *sp;
    pid_t sink = 0;
    fwd_t *f;

    /* HIT 0 as it should be, HIT 1 with priority 0 (the sink refuses it), then garbage */
    sp = spool_open(s_file("spool7"), NULL, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (sp == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        s_hit(i, &ph, norm, sizeof norm);
        CHECK_INT(bb_hit_from_proto(&ph, 1, norm, &h), 0);
        len = bb_encode_hit(&h, frame, sizeof frame);
        CHECK(len > 0);
        if (i == 1)
            frame[44] = 0; /* priority */
        s_append_record(sp, frame, len);
    }
    CHECK_INT(spool_append(sp, "not a message", 13, NULL), SPOOL_OK);
    CHECK_INT(spool_commit(sp, NULL, err, sizeof err), SPOOL_OK);
    spool_destroy(&sp);

    sink = s_sink_start("server", "out7.tsv", 0);
    s_opts(&o, "spool7");
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    CHECK_INT(s_push(f, 2, n, 4), n - 2);
    CHECK(s_wait_delivered(f, n - 1, &st));
    CHECK_INT(st.delivered, n - 1);
    CHECK_INT(st.refused, 1);
    CHECK_CONTAINS(st.last_refused, "bad_field");
    CHECK_CONTAINS(st.last_refused, "priority");
    CHECK_INT(st.spool_errors, 1);
    CHECK_CONTAINS(st.last_spool_error, "not a backbone message");
    CHECK_INT(st.sent, n - 1 + 1); /* each sent once: the refused one was not resent */
    CHECK_INT(st.retried, 0);
    fwd_destroy(&f);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);
    s_read_out("out7.tsv", n, &r);
    CHECK_INT(r.lines, n - 1);
    CHECK_INT(r.bad, 0);
    CHECK_INT(r.id_order, 0);
    CHECK_INT(r.missing, 1); /* HIT 1, refused */
    CHECK_INT(s_sink_counts("out7.tsv", c), 0);
    CHECK_INT(c[3], 1); /* rejected */
}

/* 9. Texts the format refuses (C1 and C0 controls, bytes that are not UTF-8) in a list name or
 * reference never keep a HIT back: mended to U+FFFD (C0: a space), cut on a character
 * boundary; the covert flag travels. */
static void s_test_text(void)
{
    static const struct {
        const char *list, *ref, *want_list, *want_ref;
        unsigned flags;
    } cases[] = {
        {"Gestolen\xC2\x85voertuigen",
         "PV\xC2\x9B"
         "1",
         "Gestolen\xEF\xBF\xBDvoertuigen",
         "PV\xEF\xBF\xBD"
         "1",
         0},
        {"Nightjar\x1B]0;x\x07", "\xFF\xC0\xAF", "Nightjar ]0;x ",
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", BB_HIT_COVERT},
        /* 63 bytes then a C1: U+FFFD (3 bytes) does not fit in 64, the name ends before it */
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xC2\x80",
         "\xC3\xA9t\xC3\xA9", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
         "\xC3\xA9t\xC3\xA9", 0},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    char err[512], norm[40];
    struct fwd_opts o;
    struct fwd_stats st;
    struct proto_hit h;
    pid_t sink = s_sink_start("server", "out9.tsv", 0);
    fwd_t *f;

    s_opts(&o, "spool9");
    f = s_new(&o);
    if (f == NULL) {
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    for (int i = 0; i < n; i++) {
        s_hit(i, &h, norm, sizeof norm);
        snprintf(h.list, sizeof h.list, "%s", cases[i].list);
        snprintf(h.external_ref, sizeof h.external_ref, "%s", cases[i].ref);
        CHECK_INT(fwd_push_hit(f, &h, norm, cases[i].flags, err, sizeof err), FWD_OK);
    }
    CHECK_INT(fwd_commit(f, err, sizeof err), FWD_OK);
    CHECK(s_wait_delivered(f, (uint64_t)n, &st));
    CHECK_INT(st.refused, 0);
    fwd_destroy(&f);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);

    /* Fields 16 (list), 18 (external_ref) and 19 (flags) of each line, in push order. */
    size_t len = 0;
    char *data = util_read_file(s_file("out9.tsv"), &len), *save = NULL;
    int i = 0;
    for (char *line = data ? strtok_r(data, "\n", &save) : NULL; line != NULL && i < n;
         line = strtok_r(NULL, "\n", &save), i++) {
        char *fld[20];
        int nf = 0;
        for (char *p = line; p && nf < 20; nf++) {
            fld[nf] = p;
            if ((p = strchr(p, '\t')) != NULL)
                *p++ = '\0';
        }
        CHECK_INT(nf, 19);
        if (nf != 19)
            continue;
        CHECK_STR(fld[15], cases[i].want_list);
        CHECK_STR(fld[17], cases[i].want_ref);
        CHECK_STR(fld[18], cases[i].flags ? "covert" : "-");
    }
    CHECK_INT(i, n);
    free(data);
}

/*
 * 10. A bit flipped in the outbound spool while anprd is down: the damaged HIT is set aside and
 * counted (fwd_stats.lost, the report), every HIT after it is still delivered.
 */
static void s_test_damage(void)
{
    const int n = 200, victim = 100;
    struct fwd_opts o;
    struct fwd_stats st;
    struct spool_report rep;
    struct outcheck r;
    char err[512], seg[600] = "";
    pid_t sink = 0;
    fwd_t *f;

    /* Nobody listens: the HITs stay in the spool. */
    s_opts(&o, "spool10");
    f = s_new(&o);
    if (f == NULL)
        return;
    CHECK_INT(s_push(f, 0, n, 50), n);
    fwd_destroy(&f);

    /* Flip a payload bit of record `victim` (records from offset 40: length, seq, CRC, data). */
    DIR *d = opendir(s_file("spool10"));
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0)
            snprintf(seg, sizeof seg, "%s/%s", s_file("spool10"), e->d_name);
    if (d != NULL)
        closedir(d);
    int fd = open(seg, O_RDWR);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    uint64_t off = 40;
    for (int i = 0; i < victim; i++) {
        uint8_t h[4];
        CHECK_INT(pread(fd, h, 4, (off_t)off), 4);
        off += 16 +
               ((uint64_t)h[0] | (uint64_t)h[1] << 8 | (uint64_t)h[2] << 16 | (uint64_t)h[3] << 24);
    }
    uint8_t b = 0;
    CHECK_INT(pread(fd, &b, 1, (off_t)(off + 16 + 20)), 1);
    b ^= 8;
    CHECK_INT(pwrite(fd, &b, 1, (off_t)(off + 16 + 20)), 1);
    close(fd);

    sink = s_sink_start("server", "out10.tsv", 0);
    o.spool_dir = s_file("spool10");
    o.ca_file = s_file("ca.pem");
    o.cert_file = s_file("client.pem");
    o.key_file = s_file("client.key");
    f = fwd_new(&o, &rep, err, sizeof err);
    CHECK(f != NULL);
    if (f == NULL) {
        fprintf(stderr, "fwd_new: %s\n", err);
        if (sink > 0)
            sinkproc_stop(sink, SIGKILL);
        return;
    }
    CHECK_INT(rep.ndamage, 1);
    CHECK_INT(rep.damaged_records, 1);
    CHECK_INT(rep.damage[0].first_seq, victim + 1);
    CHECK(rep.damage[0].quarantine[0] != '\0');
    CHECK(s_wait_delivered(f, n - 1, &st));
    CHECK_INT(st.delivered, n - 1);
    CHECK_INT(st.lost, 1);
    CHECK_INT(st.spool_errors, 0);
    fwd_destroy(&f);
    CHECK_INT(sinkproc_stop(sink, SIGTERM), 0);
    s_read_out("out10.tsv", n, &r);
    CHECK_INT(r.lines, n - 1);
    CHECK_INT(r.bad, 0);
    CHECK_INT(r.id_order, 0);
    CHECK_INT(r.missing, 1); /* HIT `victim` */
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (sinkproc_init(&s_sink, "test_fwd") != 0)
        return 1;

    s_test_delivery();
    s_test_outage();
    s_test_restart();
    s_test_tls_refused("wronghost", "hostname mismatch");
    s_test_tls_refused("selfsigned", "self");
    s_test_full();
    s_test_refused();
    s_test_text();
    s_test_stop_while_connecting();
    s_test_damage();
    sinkproc_done(&s_sink, "test_fwd", check_failed);
    return check_done("fwd");
}
