/*
 * anpr-bench: benchmark programs whose figures go into docs/BENCHMARKS.md. Each mode prints
 * one result line of key=value pairs; tools/anpr-benchmark runs them all in one go so every
 * figure stands next to its baseline measured in the same run.
 *
 *   match  decode + normalise + watchlist match of encoded READ frames, in this process, beside
 *          the exact-lookup baseline on the same frames
 *   falsehit  how often random plates hit an OCR-tolerant list of other random plates
 *   churn  match throughput while the watchlist is patched N times a second, beside the same
 *          reads matched without changes
 *   e2e    reads sent to a running anprd by K cameras, each acknowledged only once committed
 *   copy   the same rows as e2e, COPYed straight into plate_read (the raw COPY baseline);
 *          with --identity also their anpr.read_identity rows in the same transaction, as
 *          anprd writes every read since migration 015 (the baseline of the same rows)
 *   import anpr-watchlist import of N generated CSV rows, beside a COPY of the same rows
 *   fill   N generated entries COPYed into a fresh list (for the watchlist load benchmark)
 *   hitlat reads of a listed plate at a steady rate: read sent -> HIT on the dispatch feed ->
 *          HIT stored by anpr-backbone-sink (its --out file tailed, when given), p50/p99, each
 *          id once; optionally under a steady load of other reads (--load-rate)
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <zmq.h>

#include <libpq-fe.h>

#include "batch.h"
#include "idset.h"
#include "hitfloor.h"
#include "match.h"
#include "plate.h"
#include "plategen.h"
#include "proto.h"
#include "util.h"
#include "wl.h"

struct opts {
    const char *mode;
    const char *endpoint; /* e2e */
    const char *db;       /* copy, sync, import, fill */
    const char *hits;     /* sync: the dispatch feed */
    long long reads;      /* reads in all; import: rows (--rows) */
    long long cameras;    /* e2e/copy: cameras BENCH-0 .. BENCH-(K-1) */
    long long window;     /* e2e: unacknowledged reads in flight per camera */
    long long entries;    /* match, falsehit: watchlist size (-1 until set: per mode) */
    long long seed;
    const char *policy;      /* match, falsehit: "exact" or "ocr" (max_subst 1) */
    long long patterns;      /* match: pattern entries added to the list */
    bool candidates;         /* match: reads carry 2 candidates and the list matches them */
    bool indel;              /* match, falsehit: the OCR list also takes one character more/less */
    long long base_time;     /* read time of the first read (µs); 0 = now */
    long long changes;       /* churn: watchlist changes a second */
    const char *sink;        /* hitlat: the backbone sink's --out file */
    const char *plate;       /* hitlat: a listed plate */
    const char *camera;      /* hitlat: the camera that reads it */
    long long rate;          /* hitlat: reads a second */
    long long wait_s;        /* hitlat: seconds to wait after the last read for what is still due */
    long long load_rate;     /* hitlat: other reads a second, from load_camera (0: none) */
    const char *load_camera; /* hitlat: the camera of those */
    bool identity;           /* copy: the identity rows too */
    const char *dir;         /* floor: where its sockets and record file go */
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: anpr-bench match [--reads N] [--entries N] [--seed N] [--policy exact|ocr]\n"
            "                        [--patterns N] [--candidates] [--indel]\n"
            "       anpr-bench falsehit [--entries N] [--reads N] [--seed N] [--indel]\n"
            "       anpr-bench e2e --endpoint EP [--reads N] [--cameras K] [--window W]\n"
            "                      [--seed N] [--base-time US]\n"
            "       anpr-bench copy --db CONNINFO [--reads N] [--cameras K] [--seed N]\n"
            "                      [--base-time US] [--identity]\n"
            "       anpr-bench sync --endpoint EP --hits EP --db CONNINFO [--reads CHANGES]\n"
            "       anpr-bench churn [--reads N] [--entries N] [--changes PER_S] [--patterns N]\n"
            "                        [--candidates] [--seed N]\n"
            "       anpr-bench import --db CONNINFO [--rows N] [--seed N]\n"
            "       anpr-bench fill --db CONNINFO [--entries N] [--seed N]\n"
            "       anpr-bench hitlat --endpoint EP --hits EP [--sink-out FILE] --plate P\n"
            "                         --camera C [--reads N] [--rate PER_S] [--wait-s S]\n"
            "                         [--load-rate PER_S] [--load-camera C]\n"
            "       anpr-bench floor --dir DIR [--reads N] [--rate PER_S]\n"
            "Prints one line: mode=... key=value ... (rates in reads/s, latencies in us).\n"
            "e2e and copy with the same --reads, --cameras, --seed and --base-time make the\n"
            "same rows, so their rates compare.\n");
}

/* The i-th read of the run: same for every mode given the same options. */
static void s_make_read(const struct opts *o, struct plategen *g, long long i, struct proto_read *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->camera, sizeof r->camera, "BENCH-%lld", i % o->cameras);
    r->seq = (uint64_t)(i / o->cameras) + 1;
    r->time_us = o->base_time + i * 10;
    plategen_plate(g, r->plate, r->country);
    r->confidence = (uint16_t)(700 + plategen_below(g, 300));
    r->lane = (uint8_t)(1 + plategen_below(g, 3));
    r->direction = (uint8_t)(1 + plategen_below(g, 2));
    r->ncand = 1;
    plategen_misread(g, r->plate, 200, r->cand[0].plate);
    r->cand[0].confidence = 400;
    snprintf(r->image_ref, sizeof r->image_ref, "img://%s/%" PRIu64 ".jpg", r->camera, r->seq);
}

static long s_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* --- match ------------------------------------------------------------------------------------ */

/* A pattern for a partly known plate, from a normalised plate: one '?', or all but the last
 * (or first) one or two characters and '*' for the rest, as a witness would remember it. */
static void s_bench_pattern(struct plategen *g, const char *plate, char out[PLATE_MAX + 1])
{
    size_t n = strlen(plate);
    uint32_t how = plategen_below(g, 3);

    if (n < 5 || how == 0) {
        snprintf(out, PLATE_MAX + 1, "%s", plate);
        out[plategen_below(g, (uint32_t)n)] = '?';
    } else if (how == 1) {
        size_t keep = n - 1 - plategen_below(g, 2);
        snprintf(out, PLATE_MAX + 1, "%.*s*", (int)keep, plate);
    } else {
        size_t keep = n - 1 - plategen_below(g, 2);
        snprintf(out, PLATE_MAX + 1, "*%s", plate + n - keep);
    }
}

/* The list the match and falsehit modes build. */
static struct wl_list_opts s_bench_opts(const struct opts *o, uint8_t max_subst)
{
    bool ocr = strcmp(o->policy, "ocr") == 0;
    struct wl_list_opts lo = {.policy = ocr ? WL_POLICY_OCR : WL_POLICY_EXACT,
                              .max_subst = ocr ? max_subst : 0,
                              .indel = ocr && o->indel,
                              .candidates = o->candidates};
    return lo;
}

/* The list of the match and churn modes: o->entries generated plates and o->patterns patterns
 * on list 1, ids from 1. NULL on failure. */
static wl_t *s_bench_wl(const struct opts *o, struct plategen *g)
{
    wl_builder_t *b = wl_builder_new();
    struct wl_list_opts lo = s_bench_opts(o, 1);
    char err[256];

    if (!b || wl_builder_add_list(b, 1, "bench", "stolen", 1, &lo, err, sizeof err) != 0) {
        wl_builder_destroy(&b);
        return NULL;
    }
    for (long long i = 0; i < o->entries + o->patterns; i++) {
        char plate[17], country[3], norm[PLATE_MAX + 1], pattern[PLATE_MAX + 1];
        struct wl_entry_in in = {.id = (uint64_t)i + 1,
                                 .list_id = 1,
                                 .plate = plate,
                                 .country = "",
                                 .valid_from_us = WL_UNBOUNDED_FROM,
                                 .valid_until_us = WL_UNBOUNDED_UNTIL};
        plategen_plate(g, plate, country);
        if (i >= o->entries && plate_normalise(plate, norm) == PLATE_OK) {
            s_bench_pattern(g, norm, pattern);
            in.plate = pattern;
        }
        if (wl_builder_add(b, &in, err, sizeof err) != 0)
            fprintf(stderr, "entry %lld: %s\n", i, err);
    }
    return wl_builder_build(&b);
}

/* A ring of encoded READ frames, re-read many times: the decoder sees real bytes. */
struct s_frames {
    size_t n, *lens;
    uint8_t *data; /* frame i at data + i * 512 */
};

static int s_bench_frames(const struct opts *o, struct plategen *g, struct s_frames *f)
{
    f->n = 100000;
    f->data = malloc(f->n * 512);
    f->lens = malloc(f->n * sizeof *f->lens);
    if (!f->data || !f->lens)
        return -1;
    for (size_t i = 0; i < f->n; i++) {
        struct proto_read r;
        s_make_read(o, g, (long long)i, &r);
        if (o->candidates) {
            r.ncand = 2;
            plategen_misread(g, r.plate, 200, r.cand[1].plate);
            r.cand[1].confidence = 300;
        }
        f->lens[i] = proto_encode_read(&r, f->data + i * 512, 512);
    }
    return 0;
}

static void s_frames_free(struct s_frames *f)
{
    free(f->data);
    free(f->lens);
}

/* A read decoded, normalised and made a query: the first stage of the matcher's pipeline. */
struct s_prep {
    struct proto_read r;
    struct match_readings rd;
    struct wl_query q;
    bool ok;
};

static void s_prepare(const wl_t *wl, const struct s_frames *f, long long i, struct s_prep *p)
{
    struct proto_error perr;
    size_t k = (size_t)i % f->n;

    p->ok = proto_decode_read(f->data + k * 512, f->lens[k], &p->r, &perr) == 0 &&
            plate_normalise_cc(p->r.plate, p->r.country, p->rd.plate) == PLATE_OK;
    if (!p->ok)
        return;
    /* The daemon's own query (daemon/match.c): candidates, euroband readings, UK = GB. */
    match_query(wl, &p->r, p->rd.plate, p->r.time_us, &p->rd, &p->q);
    wl_prefetch(wl, &p->q);
}

/*
 * The matcher as the daemon calls it, reads `from`..`to` of the ring: every reading that
 * normalises. Two stages, as in ingest: read i + 1 is decoded, normalised and its table slots
 * prefetched before read i is matched, so the cache misses of the two overlap. With a mailbox
 * (churn), a newer snapshot left there is taken every 1024 reads, as ingest takes the sync
 * thread's. Counts hits by kind into kinds[]; returns the hits.
 */
static long long s_match_loop(wl_t **wl, _Atomic(wl_t *) *mailbox, const struct s_frames *f,
                              long long from, long long to, long long *kinds)
{
    static struct s_prep prep[2];
    long long hits = 0;

    if (from < to)
        s_prepare(*wl, f, from, &prep[from & 1]);
    for (long long i = from; i < to; i++) {
        struct wl_match out[8];
        struct s_prep *p = &prep[i & 1];
        if (mailbox && (i & 1023) == 0) {
            wl_t *next = atomic_exchange(mailbox, NULL);
            if (next) {
                wl_destroy(wl);
                *wl = next;
            }
        }
        if (i + 1 < to)
            s_prepare(*wl, f, i + 1, &prep[(i + 1) & 1]);
        if (!p->ok)
            continue;
        size_t n = wl_match(*wl, &p->q, out, 8);
        hits += (long long)n;
        for (size_t m = 0; kinds && m < n && m < 8; m++)
            if (out[m].kind <= PROTO_MATCH_PATTERN)
                kinds[out[m].kind]++;
    }
    return hits;
}

static int s_match(const struct opts *o)
{
    struct plategen g;
    struct s_frames f;
    struct wl_list_opts lo = s_bench_opts(o, 1);
    long long lookup_hits = 0, kinds[PROTO_MATCH_PATTERN + 1] = {0};

    plategen_seed(&g, (uint64_t)o->seed);
    int64_t t0 = util_mono_us();
    wl_t *wl = s_bench_wl(o, &g);
    int64_t t1 = util_mono_us();
    if (!wl || s_bench_frames(o, &g, &f) != 0)
        return 1;

    /* The baseline: the primary reading, exact lookup. Normalised as the daemon does. */
    int64_t t2 = util_mono_us();
    for (long long i = 0; i < o->reads; i++) {
        struct proto_read r;
        struct proto_error perr;
        const struct wl_entry *out[8];
        char plate[PLATE_MAX + 1];
        size_t k = (size_t)i % f.n;
        if (proto_decode_read(f.data + k * 512, f.lens[k], &r, &perr) != 0 ||
            plate_normalise_cc(r.plate, r.country, plate) != PLATE_OK)
            continue;
        lookup_hits += (long long)wl_lookup(wl, plate, r.country, r.time_us, out, 8);
    }
    int64_t t3 = util_mono_us();
    long long hits = s_match_loop(&wl, NULL, &f, 0, o->reads, kinds);
    int64_t t4 = util_mono_us();
    printf("mode=match entries=%lld policy=%s max_subst=%u indel=%d patterns=%lld candidates=%d "
           "build_s=%.2f wl_mb=%.0f rss_mb=%.0f reads=%lld rate=%.0f ns_per_read=%.0f hits=%lld "
           "exact=%lld ocr=%lld candidate=%lld pattern=%lld lookup_rate=%.0f "
           "lookup_ns_per_read=%.0f lookup_hits=%lld\n",
           o->entries, o->policy, lo.max_subst, lo.indel, o->patterns, o->candidates,
           (double)(t1 - t0) / 1e6, (double)wl_memory_bytes(wl) / 1048576.0,
           (double)s_rss_kb() / 1024.0, o->reads, (double)o->reads * 1e6 / (double)(t4 - t3),
           (double)(t4 - t3) * 1000.0 / (double)o->reads, hits, kinds[PROTO_MATCH_EXACT],
           kinds[PROTO_MATCH_OCR], kinds[PROTO_MATCH_CANDIDATE], kinds[PROTO_MATCH_PATTERN],
           (double)o->reads * 1e6 / (double)(t3 - t2),
           (double)(t3 - t2) * 1000.0 / (double)o->reads, lookup_hits);
    wl_destroy(&wl);
    s_frames_free(&f);
    return 0;
}

/* --- churn ------------------------------------------------------------------------------------ */

/*
 * Matching while the watchlist changes: the list and reads of match mode; --reads reads are
 * matched on this thread twice, alone (the baseline) and while a second thread patches the
 * snapshot as the sync thread does at --changes changes a second (a patch every 20 ms, each
 * over the base with every change so far: the ids changed are existing entries given new
 * plates), handing each new snapshot over through a mailbox that the matcher takes as ingest
 * does. Prints both rates, the drop, and how long the patches took to build.
 */
struct s_churn {
    const struct opts *o;
    wl_t *cur; /* the patcher's hold on the snapshot last handed over */
    _Atomic(wl_t *) mailbox;
    atomic_bool stop;
    int64_t *build_us; /* per patch */
    size_t npatches, cap;
    size_t patched; /* entries in the last patch */
};

static void *s_churn_run(void *arg)
{
    struct s_churn *c = arg;
    struct plategen g;
    idset_t *changed = idset_new();
    char err[256];
    int64_t next = util_mono_us();
    long long per_tick = c->o->changes / 50 > 0 ? c->o->changes / 50 : 1;

    plategen_seed(&g, (uint64_t)c->o->seed + 99);
    while (!atomic_load(&c->stop) && changed) {
        next += 20000;
        idset_clear(changed);
        struct wl_entry_in in[1000];
        char plates[1000][17];
        long long n = per_tick < 1000 ? per_tick : 1000;
        for (long long k = 0; k < n; k++) {
            char country[3];
            plategen_plate(&g, plates[k], country);
            in[k] = (struct wl_entry_in){.id = 1 + plategen_below(&g, (uint32_t)c->o->entries),
                                         .list_id = 1,
                                         .plate = plates[k],
                                         .valid_from_us = WL_UNBOUNDED_FROM,
                                         .valid_until_us = WL_UNBOUNDED_UNTIL};
            idset_add(changed, in[k].id);
        }
        int64_t t0 = util_mono_us();
        wl_builder_t *b = wl_builder_patch(c->cur, changed, err, sizeof err);
        for (long long k = 0; b && k < n; k++)
            if (wl_builder_add(b, &in[k], err, sizeof err) != 0)
                fprintf(stderr, "churn: %s\n", err);
        wl_t *w = wl_builder_build(&b);
        if (!w)
            break;
        if (c->npatches < c->cap)
            c->build_us[c->npatches++] = util_mono_us() - t0;
        c->patched = wl_patch_count(w);
        wl_destroy(&c->cur);
        c->cur = wl_ref(w);
        wl_t *old = atomic_exchange(&c->mailbox, w);
        wl_destroy(&old); /* one the matcher had not taken yet */
        int64_t left = next - util_mono_us();
        if (left > 0)
            usleep((useconds_t)left);
    }
    idset_destroy(&changed);
    return NULL;
}

static int s_churn_mode(const struct opts *o)
{
    struct plategen g;
    struct s_frames f;
    struct s_churn c = {.o = o, .cap = 1000000};
    pthread_t th;

    plategen_seed(&g, (uint64_t)o->seed);
    wl_t *wl = s_bench_wl(o, &g);
    if (!wl || s_bench_frames(o, &g, &f) != 0)
        return 1;
    c.build_us = malloc(c.cap * sizeof *c.build_us);
    if (!c.build_us)
        return 1;
    /* The baseline, then the same reads again while the list changes. */
    int64_t t0 = util_mono_us();
    long long hits = s_match_loop(&wl, NULL, &f, 0, o->reads, NULL);
    int64_t t1 = util_mono_us();
    c.cur = wl_ref(wl);
    atomic_init(&c.mailbox, NULL);
    atomic_init(&c.stop, false);
    if (pthread_create(&th, NULL, s_churn_run, &c) != 0)
        return 1;
    int64_t t2 = util_mono_us();
    long long churn_hits = s_match_loop(&wl, &c.mailbox, &f, 0, o->reads, NULL);
    int64_t t3 = util_mono_us();
    atomic_store(&c.stop, true);
    pthread_join(th, NULL);
    wl_t *left = atomic_exchange(&c.mailbox, NULL);
    wl_destroy(&left);

    qsort(c.build_us, c.npatches, sizeof *c.build_us, s_cmp_i64);
    double base = (double)o->reads * 1e6 / (double)(t1 - t0);
    double churn = (double)o->reads * 1e6 / (double)(t3 - t2);
    printf("mode=churn entries=%lld patterns=%lld candidates=%d changes_per_s=%lld reads=%lld "
           "base_rate=%.0f churn_rate=%.0f drop_pct=%.1f patches=%zu patch_entries_end=%zu "
           "patch_build_p50_us=%" PRId64 " patch_build_p99_us=%" PRId64 " hits=%lld/%lld\n",
           o->entries, o->patterns, o->candidates, o->changes, o->reads, base, churn,
           100.0 * (base - churn) / base, c.npatches, c.patched,
           c.npatches ? c.build_us[c.npatches / 2] : 0,
           c.npatches ? c.build_us[c.npatches * 99 / 100] : 0, hits, churn_hits);
    wl_destroy(&wl);
    wl_destroy(&c.cur);
    free(c.build_us);
    s_frames_free(&f);
    return 0;
}

/* --- falsehit --------------------------------------------------------------------------------- */

/*
 * How often a plate that is not on an OCR-tolerant list hits it anyway: N random plates listed
 * (any country), M other random plates read (another seed; exact copies of listed plates are
 * drawn again), each read's primary reading matched. One line per max_subst, 1 and 2.
 */
static int s_falsehit(const struct opts *o)
{
    for (uint8_t k = 1; k <= 2; k++) {
        struct plategen g;
        wl_builder_t *b = wl_builder_new();
        struct opts oo = *o;
        oo.policy = "ocr";
        oo.candidates = false;
        struct wl_list_opts lo = s_bench_opts(&oo, k);
        char err[256], plate[17], country[3], norm[PLATE_MAX + 1];
        long long false_hits = 0, reads = 0, redrawn = 0;

        if (!b || wl_builder_add_list(b, 1, "falsehit", "test", 1, &lo, err, sizeof err) != 0)
            return 1;
        plategen_seed(&g, (uint64_t)o->seed);
        for (long long i = 0; i < o->entries; i++) {
            struct wl_entry_in in = {.id = (uint64_t)i + 1,
                                     .list_id = 1,
                                     .plate = plate,
                                     .valid_from_us = WL_UNBOUNDED_FROM,
                                     .valid_until_us = WL_UNBOUNDED_UNTIL};
            plategen_plate(&g, plate, country);
            if (wl_builder_add(b, &in, err, sizeof err) != 0)
                fprintf(stderr, "entry %lld: %s\n", i, err);
        }
        wl_t *wl = wl_builder_build(&b);
        if (!wl)
            return 1;
        plategen_seed(&g, (uint64_t)o->seed ^ 0x5DEECE66DULL);
        while (reads < o->reads) {
            plategen_plate(&g, plate, country);
            if (plate_normalise(plate, norm) != PLATE_OK)
                continue;
            if (wl_lookup(wl, norm, country, 0, NULL, 0) > 0) {
                redrawn++;
                continue;
            }
            struct wl_query q = {.country = country, .time_us = 0, .nreadings = 1};
            q.plate[0] = norm;
            q.confidence[0] = 900;
            false_hits += wl_match(wl, &q, NULL, 0) > 0;
            reads++;
        }
        printf("mode=falsehit entries=%lld reads=%lld policy=ocr max_subst=%u%s false_hits=%lld "
               "rate=%.4f%% exact_duplicates_redrawn=%lld\n",
               o->entries, reads, k, lo.indel ? " indel=1" : "", false_hits,
               100.0 * (double)false_hits / (double)reads, redrawn);
        wl_destroy(&wl);
    }
    return 0;
}

/* --- e2e -------------------------------------------------------------------------------------- */

struct cam_state {
    void *sock;
    char code[PROTO_CAMERA_MAX + 1];
    long long next;   /* next read index of this camera (0-based within the camera) */
    long long total;  /* reads this camera sends */
    long long acked;  /* acknowledged so far (each once) */
    long long lowest; /* lowest index not yet acknowledged */
    int64_t *sent_us; /* send time per read, 0 once acknowledged */
};

static int s_e2e(const struct opts *o)
{
    void *ctx = zmq_ctx_new();
    struct cam_state *cams = calloc((size_t)o->cameras, sizeof *cams);
    int64_t *lat = malloc((size_t)o->reads * sizeof *lat);
    zmq_pollitem_t *items = calloc((size_t)o->cameras, sizeof *items);
    struct plategen g;
    long long nlat = 0, done = 0, rejected = 0;
    int zero = 0;

    if (!ctx || !cams || !lat || !items)
        return 1;
    plategen_seed(&g, (uint64_t)o->seed);
    for (long long c = 0; c < o->cameras; c++) {
        cams[c].sock = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(cams[c].sock, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(cams[c].sock, o->endpoint) != 0) {
            fprintf(stderr, "anpr-bench: connect %s: %s\n", o->endpoint, zmq_strerror(zmq_errno()));
            return 1;
        }
        snprintf(cams[c].code, sizeof cams[c].code, "BENCH-%lld", c);
        cams[c].total = o->reads / o->cameras + (c < o->reads % o->cameras);
        cams[c].sent_us = calloc((size_t)cams[c].total + 1, sizeof(int64_t));
        items[c] = (zmq_pollitem_t){cams[c].sock, 0, ZMQ_POLLIN, 0};
    }

    int64_t t0 = util_mono_us();
    long long sent = 0;
    while (done < o->reads) {
        /* Send in global read order, so the rows are the ones `copy` makes, as far as each
         * camera's window allows. */
        while (sent < o->reads) {
            struct cam_state *c = &cams[sent % o->cameras];
            if (c->next - c->lowest >= o->window)
                break;
            struct proto_read r;
            uint8_t frame[PROTO_MAX_FRAME];
            s_make_read(o, &g, sent, &r);
            size_t len = proto_encode_read(&r, frame, sizeof frame);
            c->sent_us[c->next++] = util_mono_us();
            if (zmq_send(c->sock, frame, len, 0) != (int)len)
                return 1;
            sent++;
        }
        if (zmq_poll(items, (int)o->cameras, 1000) <= 0) {
            if (util_mono_us() - t0 > 600LL * 1000000) {
                fprintf(stderr, "anpr-bench: no progress, %lld of %lld acknowledged\n", done,
                        o->reads);
                return 1;
            }
            continue;
        }
        for (long long ci = 0; ci < o->cameras; ci++) {
            struct cam_state *c = &cams[ci];
            uint8_t buf[PROTO_MAX_FRAME];
            struct proto_ack_range ranges[PROTO_ACK_MAX_RANGES];
            struct proto_error perr;
            size_t nr;
            uint8_t type;
            int len;
            while ((len = zmq_recv(c->sock, buf, sizeof buf, ZMQ_DONTWAIT)) > 0) {
                if (proto_peek(buf, (size_t)len, &type, &perr) != 0)
                    continue;
                if (type == PROTO_REJECT) {
                    rejected++;
                    continue;
                }
                if (proto_decode_ack(buf, (size_t)len, ranges, PROTO_ACK_MAX_RANGES, &nr, &perr) !=
                    0)
                    continue;
                int64_t now = util_mono_us();
                for (size_t k = 0; k < nr; k++) {
                    for (uint64_t s = ranges[k].first_seq;
                         s < ranges[k].first_seq + ranges[k].count; s++) {
                        long long idx = (long long)s - 1;
                        if (idx < 0 || idx >= c->next || c->sent_us[idx] == 0)
                            continue;
                        lat[nlat++] = now - c->sent_us[idx];
                        c->sent_us[idx] = 0;
                        c->acked++;
                        done++;
                    }
                }
                while (c->lowest < c->next && c->sent_us[c->lowest] == 0)
                    c->lowest++;
            }
        }
        if (rejected > 0) {
            fprintf(stderr, "anpr-bench: %lld reads rejected; are the BENCH cameras registered?\n",
                    rejected);
            return 1;
        }
    }
    int64_t t1 = util_mono_us();
    qsort(lat, (size_t)nlat, sizeof *lat, s_cmp_i64);
    printf("mode=e2e reads=%lld cameras=%lld window=%lld seconds=%.2f rate=%.0f "
           "ack_p50_us=%" PRId64 " ack_p99_us=%" PRId64 " ack_max_us=%" PRId64 "\n",
           o->reads, o->cameras, o->window, (double)(t1 - t0) / 1e6,
           (double)o->reads * 1e6 / (double)(t1 - t0), lat[nlat / 2], lat[nlat * 99 / 100],
           lat[nlat - 1]);
    for (long long c = 0; c < o->cameras; c++) {
        zmq_close(cams[c].sock);
        free(cams[c].sent_us);
    }
    free(cams);
    free(items);
    free(lat);
    zmq_ctx_term(ctx);
    return 0;
}

/* --- copy ------------------------------------------------------------------------------------- */

/* Send a COPY's data in 1 MiB pieces and end it; 0 once the server took it, else -1 (said). */
static int s_copy_put(PGconn *conn, const char *data, size_t len)
{
    for (size_t off = 0; off < len; off += 1 << 20) {
        size_t n = len - off < (1 << 20) ? len - off : (1 << 20);
        if (PQputCopyData(conn, data + off, (int)n) != 1)
            return -1;
    }
    PQputCopyEnd(conn, NULL);
    PGresult *res = PQgetResult(conn);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "anpr-bench: %s", PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

static int s_copy(const struct opts *o)
{
    PGconn *conn = PQconnectdb(o->db);
    struct plategen g;
    struct batch *b = batch_new();
    int32_t *ids = calloc((size_t)o->cameras, sizeof *ids);
    int rc = 1;

    if (PQstatus(conn) != CONNECTION_OK || !b || !ids) {
        fprintf(stderr, "anpr-bench: %s", PQerrorMessage(conn));
        goto out;
    }
    PQclear(PQexec(conn, "SET TIME ZONE 'UTC'"));
    for (long long c = 0; c < o->cameras; c++) {
        char code[32];
        const char *p[1] = {code};
        snprintf(code, sizeof code, "BENCH-%lld", c);
        PGresult *res = PQexecParams(conn, "SELECT id FROM anpr.camera WHERE code = $1", 1, NULL, p,
                                     NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            fprintf(stderr, "anpr-bench: camera %s is not registered\n", code);
            PQclear(res);
            goto out;
        }
        long long id = 0;
        util_parse_long(PQgetvalue(res, 0, 0), 1, INT32_MAX, &id);
        ids[c] = (int32_t)id;
        PQclear(res);
    }
    /* Format every row first (as ingest does), then time only the COPY. */
    plategen_seed(&g, (uint64_t)o->seed);
    int64_t now = util_now_us();
    for (long long i = 0; i < o->reads; i++) {
        struct proto_read r;
        char plate[PLATE_MAX + 1];
        s_make_read(o, &g, i, &r);
        plate_normalise(r.plate, plate);
        if (batch_add(b, &r, 0, ids[i % o->cameras], plate, now, (const uint8_t *)"x", 1, NULL,
                      NULL, NULL, 0) != 0)
            goto out;
    }
    if (o->identity && batch_id_rows(b, 0, b->nreads, &b->ids) != 0)
        goto out;
    int64_t t0 = util_mono_us();
    PGresult *res;
    if (o->identity) {
        /* One transaction, identities first, as anprd's writer does per batch. */
        PQclear(PQexec(conn, "BEGIN"));
        res = PQexec(conn,
                     "COPY anpr.read_identity (" BATCH_ID_COLUMNS ") FROM STDIN (FORMAT binary)");
        if (PQresultStatus(res) != PGRES_COPY_IN) {
            fprintf(stderr, "anpr-bench: %s", PQresultErrorMessage(res));
            PQclear(res);
            goto out;
        }
        PQclear(res);
        if (s_copy_put(conn, b->ids.data, b->ids.len) != 0)
            goto out;
    }
    res = PQexec(conn, "COPY anpr.plate_read (" BATCH_READ_COLUMNS ") FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        fprintf(stderr, "anpr-bench: %s", PQresultErrorMessage(res));
        PQclear(res);
        goto out;
    }
    PQclear(res);
    if (s_copy_put(conn, b->reads.data, b->reads.len) != 0)
        goto out;
    if (o->identity) {
        res = PQexec(conn, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "anpr-bench: %s", PQresultErrorMessage(res));
            PQclear(res);
            goto out;
        }
        PQclear(res);
    }
    int64_t t1 = util_mono_us();
    printf("mode=copy%s reads=%lld seconds=%.2f rate=%.0f\n", o->identity ? " identity=1" : "",
           o->reads, (double)(t1 - t0) / 1e6, (double)o->reads * 1e6 / (double)(t1 - t0));
    rc = 0;
out:
    batch_destroy(&b);
    free(ids);
    PQfinish(conn);
    return rc;
}

/* --- sync ------------------------------------------------------------------------------------- */

static long long s_query_ll(PGconn *conn, const char *sql);

/*
 * Change committed -> matched: add an entry (autocommit), then send a read of its plate every
 * millisecond until its HIT arrives on the dispatch feed; the time from the commit's return to
 * the HIT, per change. Needs camera BENCH-SYNC and a running anprd.
 */
static int s_sync(const struct opts *o)
{
    PGconn *conn = PQconnectdb(o->db);
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER), *sub = zmq_socket(ctx, ZMQ_SUB);
    int64_t *lat = calloc((size_t)o->reads + 1, sizeof *lat);
    long long n = 0, failed = 0;
    uint64_t seq = (uint64_t)util_now_us();
    int zero = 0, rc = 1;

    if (PQstatus(conn) != CONNECTION_OK || !lat || zmq_connect(dealer, o->endpoint) != 0 ||
        zmq_connect(sub, o->hits) != 0) {
        fprintf(stderr, "anpr-bench: sync: cannot connect: %s", PQerrorMessage(conn));
        goto out;
    }
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "hit/", 4);
    /* The list only when it is missing: any statement on anpr.watchlist, even one that changes
     * no row, is a list change, which has the daemon load every list again. */
    if (s_query_ll(conn, "SELECT count(*) FROM anpr.watchlist WHERE name = 'bench sync'") == 0)
        PQclear(PQexec(conn, "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) "
                             "VALUES ('bench sync', 'surveillance', 5, 0)"));
    for (long long i = 0; i <= o->reads; i++) {
        char plate[32], list[] = "bench sync";
        const char *p[2] = {list, plate};
        /* Change 0 warms up (the subscription must be live); it is not counted. */
        snprintf(plate, sizeof plate, "SY%07lld%03u", i, (unsigned)(seq % 1000));
        PGresult *res = PQexecParams(conn,
                                     "INSERT INTO anpr.watchlist_entry (list_id, plate) "
                                     "SELECT id, $2 FROM anpr.watchlist WHERE name = $1",
                                     2, NULL, p, NULL, NULL, 0);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            fprintf(stderr, "anpr-bench: sync: %s", PQerrorMessage(conn));
            goto out;
        }
        int64_t t0 = util_mono_us(), got = -1;
        while (got < 0 && util_mono_us() - t0 < 10000000) {
            struct proto_read r;
            uint8_t frame[PROTO_MAX_FRAME];
            memset(&r, 0, sizeof r);
            snprintf(r.camera, sizeof r.camera, "BENCH-SYNC");
            snprintf(r.plate, sizeof r.plate, "%s", plate);
            r.seq = ++seq;
            r.time_us = util_now_us();
            r.confidence = 900;
            size_t len = proto_encode_read(&r, frame, sizeof frame);
            zmq_send(dealer, frame, len, ZMQ_DONTWAIT);
            zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
            while (got < 0 && zmq_poll(&item, 1, 1) > 0) {
                struct proto_hit h;
                struct proto_error perr;
                int l;
                zmq_recv(sub, frame, sizeof frame, 0); /* topic */
                l = zmq_recv(sub, frame, sizeof frame, 0);
                if (l > 0 && proto_decode_hit(frame, (size_t)l, &h, &perr) == 0 &&
                    strcmp(h.read.plate, plate) == 0)
                    got = util_mono_us() - t0;
            }
            while (zmq_recv(dealer, frame, sizeof frame, ZMQ_DONTWAIT) > 0)
                ; /* ACKs: not needed here */
        }
        if (i == 0)
            continue;
        if (got < 0)
            failed++;
        else
            lat[n++] = got;
    }
    if (n == 0) {
        fprintf(stderr, "anpr-bench: sync: no change was matched\n");
        goto out;
    }
    qsort(lat, (size_t)n, sizeof *lat, s_cmp_i64);
    printf("mode=sync changes=%lld matched=%lld failed=%lld p50_us=%" PRId64 " p99_us=%" PRId64
           " max_us=%" PRId64 "\n",
           o->reads, n, failed, lat[n / 2], lat[n * 99 / 100], lat[n - 1]);
    rc = failed ? 1 : 0;
out:
    free(lat);
    zmq_close(dealer);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    PQfinish(conn);
    return rc;
}

/* --- import, fill ----------------------------------------------------------------------------- */

/*
 * A set of 64-bit keys (open addressing, 0 = empty), to draw distinct plates: an import refuses
 * a file that lists the same plate twice, and a load benchmark wants N distinct entries.
 */
struct keyset {
    uint64_t *slot;
    size_t mask;
};

static int s_keyset_init(struct keyset *s, long long n)
{
    size_t cap = 1024;

    while (cap < (size_t)n * 2)
        cap <<= 1;
    s->slot = calloc(cap, sizeof *s->slot);
    s->mask = cap - 1;
    return s->slot ? 0 : -1;
}

/* true when key was new (and is now in the set). */
static bool s_keyset_add(struct keyset *s, uint64_t key)
{
    key |= 1; /* never 0, the empty mark; halves nothing that matters */
    for (size_t i = (size_t)(key * 0x9E3779B97F4A7C15ULL >> 17) & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i] == key)
            return false;
        if (s->slot[i] == 0) {
            s->slot[i] = key;
            return true;
        }
    }
}

/* FNV-1a of the normalised plate and the country: the import's duplicate key. */
static uint64_t s_entry_key(const char *norm, const char *country)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (const char *p = norm; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
    h = (h ^ '/') * 0x100000001b3ULL;
    for (const char *p = country; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
    return h;
}

/*
 * The i-th entry of a generated watchlist, as an admin's CSV holds it: the plate as printed
 * (separators kept), its country, a validity window on some, an instruction on some (one with a
 * comma, so quoted), a case reference on most. Distinct (plate, country) across the run.
 */
struct bench_entry {
    char plate[17], country[3];
    char from[32], until[32];
    const char *instruction;
    char ref[32];
};

static void s_bench_entry(struct plategen *g, struct keyset *seen, long long i,
                          struct bench_entry *e)
{
    static const char *const instr[] = {"",
                                        "",
                                        "",
                                        "",
                                        "",
                                        "",
                                        "",
                                        "",
                                        "Stop and check the driver's identity",
                                        "Do not stop; report direction of travel, covertly",
                                        "Vehicle reported stolen: request a patrol",
                                        "Uninsured: inform the traffic unit"};
    char norm[PLATE_MAX + 1];

    do
        plategen_plate(g, e->plate, e->country);
    while (plate_normalise(e->plate, norm) != PLATE_OK ||
           !s_keyset_add(seen, s_entry_key(norm, e->country)));
    uint32_t r = plategen_below(g, 100);
    e->from[0] = e->until[0] = '\0';
    if (r < 10)
        snprintf(e->from, sizeof e->from, "2026-%02u-%02uT08:00:00Z", 1 + r, 1 + r * 2);
    if (r < 30)
        snprintf(e->until, sizeof e->until, "20%02u-%02u-%02u", 27 + r % 4, 1 + r % 12, 1 + r % 28);
    e->instruction = instr[plategen_below(g, sizeof instr / sizeof instr[0])];
    if (plategen_below(g, 10) < 9)
        snprintf(e->ref, sizeof e->ref, "PV/2026/%07lld", i + 1);
    else
        e->ref[0] = '\0';
}

/*
 * N generated entries as CSV into f: with the header that anpr-watchlist import reads when
 * prefix is NULL, else without one and each row led by prefix (a COPY's list_id). The same
 * seed gives the same entries either way. 0 or -1.
 */
static int s_csv_entries(FILE *f, long long n, uint64_t seed, const char *prefix)
{
    struct plategen g;
    struct keyset seen;

    if (s_keyset_init(&seen, n) != 0)
        return -1;
    plategen_seed(&g, seed);
    if (!prefix)
        fputs("plate,country,valid_from,valid_until,instruction,external_ref\r\n", f);
    for (long long i = 0; i < n; i++) {
        struct bench_entry e;
        s_bench_entry(&g, &seen, i, &e);
        bool quote = strchr(e.instruction, ',') != NULL;
        fprintf(f, "%s%s,%s,%s,%s,%s%s%s,%s\r\n", prefix ? prefix : "", e.plate, e.country, e.from,
                e.until, quote ? "\"" : "", e.instruction, quote ? "\"" : "", e.ref);
    }
    free(seen.slot);
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

/* Run a command; the seconds it took, or -1 when it could not run or failed. */
static double s_run_timed(char *const argv[])
{
    int64_t t0 = util_mono_us();
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Its summary line is not ours to print; its errors are. */
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return (double)(util_mono_us() - t0) / 1e6;
}

/* A one-value query; the value as a number, or -1. */
static long long s_query_ll(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    long long v = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        util_parse_long(PQgetvalue(res, 0, 0), INT64_MIN + 1, INT64_MAX, &v) != 0) {
        fprintf(stderr, "anpr-bench: %s: %s", sql, PQresultErrorMessage(res));
        v = -1;
    }
    PQclear(res);
    return v;
}

static bool s_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "anpr-bench: %s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* COPY len bytes of CSV into anpr.watchlist_entry (list_id first); seconds, or -1. */
static double s_copy_entries(PGconn *conn, const char *data, size_t len)
{
    int64_t t0 = util_mono_us();
    PGresult *res = PQexec(conn, "COPY anpr.watchlist_entry (list_id, plate, country, valid_from, "
                                 "valid_until, instruction, external_ref) FROM STDIN (FORMAT csv, "
                                 "FORCE_NOT_NULL (country, instruction, external_ref))");
    bool ok = PQresultStatus(res) == PGRES_COPY_IN;

    PQclear(res);
    for (size_t off = 0; ok && off < len; off += 1 << 20)
        ok = PQputCopyData(conn, data + off,
                           (int)(len - off < (1 << 20) ? len - off : (1 << 20))) == 1;
    if (PQputCopyEnd(conn, ok ? NULL : "send failed") != 1)
        ok = false;
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "anpr-bench: copy: %s", PQresultErrorMessage(res));
            ok = false;
        }
        PQclear(res);
    }
    return ok ? (double)(util_mono_us() - t0) / 1e6 : -1;
}

/* The COPY rows of N generated entries of list_id, in memory (caller frees); NULL on error. */
static char *s_copy_rows(long long list_id, long long n, uint64_t seed, size_t *len)
{
    char *data = NULL, prefix[24];
    FILE *f = open_memstream(&data, len);

    if (!f)
        return NULL;
    snprintf(prefix, sizeof prefix, "%lld,", list_id);
    int rc = s_csv_entries(f, n, seed, prefix);
    if (fclose(f) != 0 || rc != 0) {
        free(data);
        return NULL;
    }
    return data;
}

/* A fresh list for the run; its id, or -1. */
static long long s_bench_list(PGconn *conn, const char *name)
{
    const char *p[1] = {name};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO anpr.watchlist (name, category, priority) "
                                 "VALUES ($1, 'stolen', 3) RETURNING id",
                                 1, NULL, p, NULL, NULL, 0);
    long long id = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        util_parse_long(PQgetvalue(res, 0, 0), 1, INT32_MAX, &id) != 0) {
        fprintf(stderr, "anpr-bench: list %s: %s", name, PQresultErrorMessage(res));
        id = -1;
    }
    PQclear(res);
    return id;
}

/*
 * anpr-watchlist import of N generated rows (one transaction, validated, duplicates checked,
 * audited row by row), run as an admin's login, beside the baseline: the same rows COPYed into
 * the same table by the superuser, triggers firing. --db must be a superuser's key=value
 * conninfo; the admin login is that conninfo with user=anpr_bench_admin.
 */
static int s_import(const struct opts *o)
{
    PGconn *conn = PQconnectdb(o->db);
    char dir[] = "/tmp/anpr-bench-import.XXXXXX", csv[64] = "", tool[4096], list[64], ci[1024],
         sql[256], *rows = NULL;
    long long copy_list, import_list;
    size_t len = 0;
    FILE *f = NULL;
    struct stat st;
    int rc = 1;

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "anpr-bench: %s", PQerrorMessage(conn));
        goto out;
    }
    /* anpr-watchlist is built beside this program. */
    ssize_t n = readlink("/proc/self/exe", tool, sizeof tool - 32);
    if (n <= 0 || !mkdtemp(dir))
        goto out;
    tool[n] = '\0';
    snprintf(strrchr(tool, '/') + 1, 32, "anpr-watchlist");
    snprintf(csv, sizeof csv, "%s/entries.csv", dir);
    if (!(f = fopen(csv, "w")) || s_csv_entries(f, o->reads, (uint64_t)o->seed, NULL) != 0 ||
        fclose(f) != 0 || stat(csv, &st) != 0) {
        fprintf(stderr, "anpr-bench: %s: cannot write\n", csv);
        f = NULL;
        goto out;
    }
    f = NULL;
    if (!s_ok(conn, "SET client_min_messages = warning") ||
        !s_ok(conn, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                    "'anpr_bench_admin') THEN CREATE ROLE anpr_bench_admin LOGIN; END IF; END $$; "
                    "GRANT anpr_admin TO anpr_bench_admin"))
        goto out;

    /* Baseline first, then the import; a checkpoint before each so neither pays the other's. */
    snprintf(list, sizeof list, "bench copy %lld", (long long)util_now_us());
    if ((copy_list = s_bench_list(conn, list)) < 0 ||
        !(rows = s_copy_rows(copy_list, o->reads, (uint64_t)o->seed, &len)) ||
        !s_ok(conn, "CHECKPOINT"))
        goto out;
    double copy_s = s_copy_entries(conn, rows, len);
    if (copy_s < 0)
        goto out;
    snprintf(list, sizeof list, "bench import %lld", (long long)util_now_us());
    if ((import_list = s_bench_list(conn, list)) < 0 || !s_ok(conn, "CHECKPOINT"))
        goto out;
    snprintf(ci, sizeof ci, "%s user=anpr_bench_admin", o->db);
    char *argv[] = {tool, "import", list, csv, "--db", ci, NULL};
    double import_s = s_run_timed(argv);
    if (import_s < 0) {
        fprintf(stderr, "anpr-bench: %s import failed\n", tool);
        goto out;
    }

    /* Both stored every row, and the import's are audited one by one. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.watchlist_entry WHERE list_id = %lld",
             import_list);
    long long stored = s_query_ll(conn, sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_audit a JOIN anpr.watchlist_entry e "
             "ON e.id = a.row_id WHERE a.relation = 'watchlist_entry' AND e.list_id = %lld",
             import_list);
    long long audited = s_query_ll(conn, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.watchlist_entry WHERE list_id = %lld",
             copy_list);
    long long copied = s_query_ll(conn, sql);
    if (stored != o->reads || audited != o->reads || copied != o->reads) {
        fprintf(stderr, "anpr-bench: import stored %lld, audited %lld, copy stored %lld of %lld\n",
                stored, audited, copied, o->reads);
        goto out;
    }
    printf("mode=import rows=%lld csv_mb=%.0f seconds=%.2f rows_per_s=%.0f copy_seconds=%.2f "
           "copy_rows_per_s=%.0f import/copy=%.2f\n",
           o->reads, (double)st.st_size / 1048576.0, import_s, (double)o->reads / import_s, copy_s,
           (double)o->reads / copy_s, import_s / copy_s);
    rc = 0;
out:
    if (f)
        fclose(f);
    if (csv[0]) {
        unlink(csv);
        rmdir(dir);
    }
    free(rows);
    PQfinish(conn);
    return rc;
}

/*
 * Fill a fresh list with N generated entries (the import's rows) by one COPY, for the load
 * benchmark. Set-up data: the audit row triggers are skipped (session_replication_role =
 * replica, superuser only), which would otherwise write N audit rows nobody reads here.
 */
static int s_fill(const struct opts *o)
{
    PGconn *conn = PQconnectdb(o->db);
    char list[64], *rows = NULL;
    long long list_id;
    size_t len = 0;
    int rc = 1;

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "anpr-bench: %s", PQerrorMessage(conn));
        goto out;
    }
    snprintf(list, sizeof list, "bench load %lld", (long long)util_now_us());
    if ((list_id = s_bench_list(conn, list)) < 0 ||
        !(rows = s_copy_rows(list_id, o->entries, (uint64_t)o->seed, &len)) ||
        !s_ok(conn, "SET session_replication_role = replica"))
        goto out;
    double secs = s_copy_entries(conn, rows, len);
    if (secs < 0 || !s_ok(conn, "RESET session_replication_role") ||
        !s_ok(conn, "ANALYZE anpr.watchlist_entry"))
        goto out;
    printf("mode=fill entries=%lld list=%lld seconds=%.2f\n", o->entries, list_id, secs);
    rc = 0;
out:
    free(rows);
    PQfinish(conn);
    return rc;
}

/* --- hitlat ----------------------------------------------------------------------------------- */

/* p50, p99 and max of n values (sorted in place) as "name_p50_us=.. name_p99_us=.. ..". */
static void s_pct(const char *name, int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, s_cmp_i64);
    if (n == 0)
        printf(" %s_n=0", name);
    else
        printf(" %s_p50_us=%" PRId64 " %s_p99_us=%" PRId64 " %s_max_us=%" PRId64, name, v[n / 2],
               name, v[n * 99 / 100], name, v[n - 1]);
}

/*
 * Read sent -> HIT stored at the backbone sink. Sends --reads reads of a listed plate as camera
 * --camera at --rate a second (seqs from the current time in µs, so every run's are new), takes
 * the HITs from the dispatch feed and tails the sink's --out file (from its end at the start,
 * every millisecond); a line counts as stored when it is seen (the sink writes it, then fsyncs,
 * then acknowledges). Waits up to --wait-s after the last read for the HITs still due. Prints
 * latencies sent -> published and sent -> at the sink, the sink's lines, their distinct ids
 * (each id once) and the seqs that never arrived or arrived twice.
 */
static int s_hitlat(const struct opts *o)
{
    size_t n = (size_t)o->reads;
    int64_t *sent = calloc(n, sizeof *sent), *pub = calloc(n, sizeof *pub),
            *sink = calloc(n, sizeof *sink), *l1 = calloc(n, sizeof *l1),
            *l2 = calloc(n, sizeof *l2), *l3 = calloc(n, sizeof *l3);
    unsigned *times = calloc(n, sizeof *times);
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER), *sub = zmq_socket(ctx, ZMQ_SUB);
    void *loader = zmq_socket(ctx, ZMQ_DEALER);
    idset_t *ids = idset_new();
    char *buf = malloc(1 << 20);
    size_t have = 0, lines = 0, others = 0;
    uint64_t base = (uint64_t)util_now_us();
    int zero = 0, fd = o->sink ? open(o->sink, O_RDONLY | O_CREAT, 0644) : -1, rc = 1;
    struct plategen g;
    long long loads = 0, load_acks = 0;

    plategen_seed(&g, base);
    if (!sent || !pub || !sink || !l1 || !l2 || !l3 || !times || !ids || !buf ||
        (o->sink && fd < 0) || zmq_connect(dealer, o->endpoint) != 0 ||
        zmq_connect(loader, o->endpoint) != 0 || zmq_connect(sub, o->hits) != 0) {
        fprintf(stderr, "anpr-bench: hitlat: cannot start (%s)\n", o->sink ? o->sink : "");
        goto out;
    }
    if (fd >= 0)
        lseek(fd, 0, SEEK_END);
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(loader, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "hit/", 4);
    usleep(200000); /* the subscription goes live */

    int64_t t0 = util_mono_us(), last = 0;
    size_t next = 0, at_sink = 0, npub = 0;
    /* Done when every HIT is at the sink (or, without one, on the feed). */
    while ((fd >= 0 ? at_sink : npub) < n) {
        int64_t now = util_mono_us();
        if (next == n && last == 0)
            last = now;
        if (last && now - last > o->wait_s * 1000000)
            break;
        /* The load: other reads, paced, until the last listed read is sent. */
        while (o->load_rate > 0 && !last && now >= t0 + (int64_t)(loads * 1000000 / o->load_rate)) {
            struct proto_read r;
            uint8_t frame[PROTO_MAX_FRAME];
            memset(&r, 0, sizeof r);
            snprintf(r.camera, sizeof r.camera, "%s", o->load_camera);
            plategen_plate(&g, r.plate, r.country);
            r.seq = base + (uint64_t)loads++;
            r.time_us = util_now_us();
            r.confidence = 900;
            size_t len = proto_encode_read(&r, frame, sizeof frame);
            zmq_send(loader, frame, len, ZMQ_DONTWAIT);
        }
        while (next < n && now >= t0 + (int64_t)next * 1000000 / o->rate) {
            struct proto_read r;
            uint8_t frame[PROTO_MAX_FRAME];
            memset(&r, 0, sizeof r);
            snprintf(r.camera, sizeof r.camera, "%s", o->camera);
            snprintf(r.plate, sizeof r.plate, "%s", o->plate);
            r.seq = base + next;
            r.time_us = util_now_us();
            r.confidence = 900;
            size_t len = proto_encode_read(&r, frame, sizeof frame);
            sent[next++] = util_mono_us();
            zmq_send(dealer, frame, len, 0);
        }
        zmq_pollitem_t items[2] = {{sub, 0, ZMQ_POLLIN, 0}, {dealer, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 1);
        uint8_t frame[PROTO_MAX_FRAME];
        while (zmq_recv(dealer, frame, sizeof frame, ZMQ_DONTWAIT) > 0)
            ; /* ACKs: not needed here */
        while (zmq_recv(loader, frame, sizeof frame, ZMQ_DONTWAIT) > 0)
            load_acks++; /* ACK frames (each may cover many reads) */
        int l;
        while (zmq_recv(sub, frame, sizeof frame, ZMQ_DONTWAIT) >= 0) { /* topic, then HIT */
            struct proto_hit h;
            struct proto_error perr;
            l = zmq_recv(sub, frame, sizeof frame, 0);
            if (l > 0 && proto_decode_hit(frame, (size_t)l, &h, &perr) == 0 &&
                strcmp(h.read.camera, o->camera) == 0 && h.read.seq >= base &&
                h.read.seq - base < n && pub[h.read.seq - base] == 0) {
                pub[h.read.seq - base] = util_mono_us();
                npub++;
            }
        }
        /* New lines at the sink. */
        ssize_t got;
        while (fd >= 0 && (got = read(fd, buf + have, (1 << 20) - 1 - have)) > 0) {
            int64_t seen = util_mono_us();
            have += (size_t)got;
            buf[have] = '\0';
            char *line = buf, *nl;
            while ((nl = strchr(line, '\n')) != NULL) {
                *nl = '\0';
                char *f[7];
                size_t k = 0;
                for (char *p = line; k < 7 && p; k++) {
                    f[k] = p;
                    p = strchr(p, '\t');
                    if (p)
                        *p++ = '\0';
                }
                lines++;
                uint64_t seq = k == 7 ? strtoull(f[5], NULL, 10) : 0;
                if (k == 7 && strcmp(f[3], "HIT") == 0 && strcmp(f[4], o->camera) == 0 &&
                    seq >= base && seq - base < n) {
                    idset_add(ids, strtoull(f[0], NULL, 10));
                    if (times[seq - base]++ == 0) {
                        sink[seq - base] = seen;
                        at_sink++;
                    }
                } else {
                    others++;
                }
                line = nl + 1;
            }
            have = (size_t)(buf + have - line);
            memmove(buf, line, have);
        }
    }
    int64_t t1 = util_mono_us();

    size_t n1 = 0, n2 = 0, n3 = 0, twice = 0;
    for (size_t i = 0; i < next; i++) {
        twice += times[i] > 1;
        if (pub[i])
            l1[n1++] = pub[i] - sent[i];
        if (sink[i])
            l2[n2++] = sink[i] - sent[i];
        if (pub[i] && sink[i])
            l3[n3++] = sink[i] - pub[i];
    }
    printf("mode=hitlat reads=%zu rate=%lld seconds=%.2f published=%zu at_sink=%zu missing=%zu "
           "sink_lines=%zu distinct_ids=%zu seqs_twice=%zu",
           next, o->rate, (double)(t1 - t0) / 1e6, npub, at_sink, next - (fd >= 0 ? at_sink : npub),
           lines - others, idset_count(ids), twice);
    s_pct("sent_to_pub", l1, n1);
    if (fd >= 0) {
        s_pct("sent_to_sink", l2, n2);
        s_pct("pub_to_sink", l3, n3);
    }
    if (o->load_rate > 0)
        printf(" load_rate=%lld load_reads=%lld load_ack_frames=%lld", o->load_rate, loads,
               load_acks);
    printf("\n");
    if (fd >= 0)
        rc = at_sink == n && twice == 0 && idset_count(ids) == lines - others ? 0 : 1;
    else
        rc = npub == n ? 0 : 1;
out:
    if (fd >= 0)
        close(fd);
    zmq_close(loader);
    zmq_close(dealer);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    idset_destroy(&ids);
    free(buf);
    free(sent);
    free(pub);
    free(sink);
    free(l1);
    free(l2);
    free(l3);
    free(times);
    return rc;
}

/*
 * The machine's floor for hitlat (hitfloor.h): the same paced reads through a server that only
 * makes each durable (write + fdatasync in DIR) before it publishes it.
 */
static int s_floor(const struct opts *o)
{
    struct hitfloor_result r;
    char err[512];

    if (hitfloor_run(o->dir, (size_t)o->reads, o->rate, 200, &r, err, sizeof err) != 0) {
        fprintf(stderr, "anpr-bench: %s\n", err);
        return 1;
    }
    printf("mode=floor reads=%zu rate=%lld published=%zu missing=%zu sent_to_pub_p50_us=%" PRId64
           " sent_to_pub_p99_us=%" PRId64 " sent_to_pub_max_us=%" PRId64
           " fdatasync_p50_us=%" PRId64 " fdatasync_p99_us=%" PRId64 "\n",
           r.sent, o->rate, r.published, r.sent - r.published, r.lat_p50_us, r.lat_p99_us,
           r.lat_max_us, r.fsync_p50_us, r.fsync_p99_us);
    return r.published == r.sent ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"db", required_argument, NULL, 'd'},
        {"reads", required_argument, NULL, 'r'},
        {"rows", required_argument, NULL, 'r'},
        {"cameras", required_argument, NULL, 'c'},
        {"window", required_argument, NULL, 'w'},
        {"entries", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"base-time", required_argument, NULL, 't'},
        {"policy", required_argument, NULL, 'p'},
        {"patterns", required_argument, NULL, 'P'},
        {"candidates", no_argument, NULL, 'C'},
        {"indel", no_argument, NULL, 'I'},
        {"hits", required_argument, NULL, 'H'},
        {"changes", required_argument, NULL, 'G'},
        {"sink-out", required_argument, NULL, 'O'},
        {"plate", required_argument, NULL, 'L'},
        {"camera", required_argument, NULL, 'M'},
        {"rate", required_argument, NULL, 'R'},
        {"wait-s", required_argument, NULL, 'W'},
        {"load-rate", required_argument, NULL, 'D'},
        {"load-camera", required_argument, NULL, 'K'},
        {"identity", no_argument, NULL, 'Y'},
        {"dir", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.reads = 1000000,
                     .cameras = 4,
                     .window = 5000,
                     .entries = -1,
                     .seed = 1,
                     .policy = "exact",
                     .changes = 1000,
                     .rate = 200,
                     .wait_s = 60,
                     .load_camera = "BENCH-0"};
    long long *num = NULL;
    int ch;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    o.mode = argv[1];
    optind = 2;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            o.endpoint = optarg;
            continue;
        case 'd':
            o.db = optarg;
            continue;
        case 'H':
            o.hits = optarg;
            continue;
        case 'p':
            if (strcmp(optarg, "exact") != 0 && strcmp(optarg, "ocr") != 0) {
                fprintf(stderr, "anpr-bench: --policy: exact or ocr, not %s\n", optarg);
                return 2;
            }
            o.policy = optarg;
            continue;
        case 'C':
            o.candidates = true;
            continue;
        case 'Y':
            o.identity = true;
            continue;
        case 'F':
            o.dir = optarg;
            continue;
        case 'O':
            o.sink = optarg;
            continue;
        case 'L':
            o.plate = optarg;
            continue;
        case 'M':
            o.camera = optarg;
            continue;
        case 'R':
            num = &o.rate;
            break;
        case 'W':
            num = &o.wait_s;
            break;
        case 'D':
            num = &o.load_rate;
            break;
        case 'K':
            o.load_camera = optarg;
            continue;
        case 'I':
            o.indel = true;
            continue;
        case 'P':
            num = &o.patterns;
            break;
        case 'r':
            num = &o.reads;
            break;
        case 'c':
            num = &o.cameras;
            break;
        case 'w':
            num = &o.window;
            break;
        case 'n':
            num = &o.entries;
            break;
        case 's':
            num = &o.seed;
            break;
        case 't':
            num = &o.base_time;
            break;
        case 'G':
            num = &o.changes;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
        if (util_parse_long(optarg, 0, INT64_MAX / 2, num) != 0) {
            fprintf(stderr, "anpr-bench: %s: not a number in range: %s\n", argv[optind - 2],
                    optarg);
            return 2;
        }
    }
    if (o.reads < 1 || o.cameras < 1 || o.window < 1) {
        fprintf(stderr, "anpr-bench: --reads, --cameras and --window must be at least 1\n");
        return 2;
    }
    if (o.base_time == 0)
        o.base_time = util_now_us() - 3600LL * 1000000;
    if (o.entries < 0)
        o.entries = strcmp(o.mode, "falsehit") == 0 ? 100000 : 1000000;
    if (strcmp(o.mode, "match") == 0)
        return s_match(&o);
    if (strcmp(o.mode, "falsehit") == 0)
        return s_falsehit(&o);
    if (strcmp(o.mode, "churn") == 0) {
        o.policy = "ocr"; /* the realistic list: OCR-tolerant */
        return s_churn_mode(&o);
    }
    if (strcmp(o.mode, "e2e") == 0 && o.endpoint)
        return s_e2e(&o);
    if (strcmp(o.mode, "copy") == 0 && o.db)
        return s_copy(&o);
    if (strcmp(o.mode, "sync") == 0 && o.db && o.endpoint && o.hits)
        return s_sync(&o);
    if (strcmp(o.mode, "import") == 0 && o.db)
        return s_import(&o);
    if (strcmp(o.mode, "fill") == 0 && o.db)
        return s_fill(&o);
    if (strcmp(o.mode, "hitlat") == 0 && o.endpoint && o.hits && o.plate && o.camera && o.rate > 0)
        return s_hitlat(&o);
    if (strcmp(o.mode, "floor") == 0 && o.dir && o.rate > 0)
        return s_floor(&o);
    s_usage(stderr);
    return 2;
}
