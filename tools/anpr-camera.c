/*
 * anpr-camera: a simulated camera reader. Sends READ frames to anprd over a DEALER socket, keeps
 * every read until anprd acknowledges it, and resends reads that stay unacknowledged, the way a
 * real reader with a local buffer does. Used by the tests, the benchmarks and the demo.
 *
 * Single thread: zmq_poll on the socket with a timeout that is the nearest of the next send (rate
 * limit), the oldest resend, the next stats line and the end of the run.
 *
 * With --spool DIR the unacknowledged reads are also kept on disk (daemon/spool.h), so a camera
 * killed or restarted loses nothing: each read is appended to the spool and made durable (one
 * group commit per loop turn) before it is sent, and the checkpoint is moved over the settled
 * (acknowledged or refused for good) prefix every S_CKPT_MS. At start the records after the
 * checkpoint come back as outstanding and are sent first. In this mode reads are generated
 * whether or not anprd is reachable, as a real camera keeps reading plates; --window bounds
 * how many wait.
 *
 * Several anprd instances (--endpoint repeated, or a comma list): one is used at a time. When it
 * stops answering (nothing received for --failover-ms while reads wait for an answer or the
 * socket will not take them) or its connection drops (the socket monitor says so; ZeroMQ
 * heartbeats find a peer that went silent), the camera moves to the next and resends every
 * unacknowledged read there at once: a read the first one stored is acknowledged again
 * (PROTOCOL.md 8), so nothing is lost and nothing is stored twice.
 */
#include "cli.h"
#include "curve.h"
#include "config.h"
#include "plategen.h"
#include "proto.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define PROG "anpr-camera"

#define S_NONE          UINT32_MAX
#define S_WINDOW_MAX    10000000 /* keeps the pool and hash index within 32-bit indices */
#define S_SEND_BATCH    1000     /* sends per loop turn, so acks are drained in between */
#define S_WARN_MAX      10       /* warnings of one kind printed before going quiet */
#define S_CAND_PERMILLE 200      /* per-character misread chance for OCR candidates */
#define S_CKPT_MS       200      /* spool checkpoint interval */
#define S_RETRY_MS      100      /* retry of a failed spool commit, or of a full spool */
#define S_REC_READ      1        /* spool record kind: one byte, then the encoded READ frame */
#define S_ENDPOINTS_MAX 16       /* --endpoint given at most this many times */
#define S_HB_IVL_MS     1000     /* ZeroMQ heartbeat: a ping this often ... */
#define S_HB_TIMEOUT_MS 3000     /* ... and a connection silent this long is dropped */

struct camera {
    char code[PROTO_CAMERA_MAX + 1];
    uint64_t next_seq;    /* seq of the next new read */
    uint64_t outstanding; /* reads of this camera waiting for an ack */
};

struct listed {
    char plate[PROTO_PLATE_MAX + 1];
    char country[PROTO_COUNTRY_MAX + 1];
};

struct csv_row {
    uint32_t cam;   /* S_NONE = round-robin over --camera */
    int confidence; /* -1 = random */
    char plate[PROTO_PLATE_MAX + 1];
    char country[PROTO_COUNTRY_MAX + 1];
};

/* One unacknowledged read: its exact bytes, kept for resends. */
struct pending {
    uint64_t seq;
    int64_t sent_us; /* monotonic time of the last send */
    uint8_t *frame;
    uint32_t len;
    uint32_t cam;
    uint32_t prev, next; /* send-order or unsent list, or the free list (next only) */
    uint64_t pos;        /* --spool: position of its record */
    uint64_t ck;         /* --spool: its entry in app.ck (absolute index) */
    bool unsent;         /* --spool: durable or waiting for durability, not sent yet this run */
    bool recovered;      /* --spool: loaded from the spool at start */
};

/*
 * Outstanding reads: a fixed pool of `window` entries, an open-addressing (linear probing) index
 * on (camera, seq) pointing into the pool, and a list in order of last send so the resend scan
 * only looks at the reads that are due. Deletion shifts entries back instead of leaving
 * tombstones, so lookups stay short after millions of acks.
 */
struct outq {
    struct pending *pool;
    uint32_t cap, used, free_head;
    uint32_t *slots; /* pool index + 1; 0 = empty */
    uint32_t mask;
    uint32_t head, tail;   /* oldest and newest send */
    uint32_t uhead, utail; /* --spool: reads not sent yet, in spool order */
};

/* --spool: one record since the checkpoint, in spool (= first send) order. */
struct ckent {
    uint64_t pos; /* its position */
    bool settled; /* acknowledged, or refused for good: the checkpoint may pass it */
};

/* The records since the checkpoint; v[first..n) are live, v[i] has absolute index base + i. */
struct ckq {
    struct ckent *v;
    size_t first, n, cap;
    uint64_t base;
};

struct acked {
    uint64_t seq;
    uint32_t cam;
};

struct app {
    /* options */
    char *endpoints[S_ENDPOINTS_MAX]; /* --endpoint, in order (owned); one is used at a time */
    size_t nendpoints;
    size_t cur_ep;          /* the one in use */
    int64_t failover_us;    /* --failover-ms: silence that moves to the next endpoint */
    const char *key_file;   /* --key: our CURVE secret key file */
    const char *server_key; /* --server-key: anprd's public key (Z85 or file) */
    int64_t count, start_seq;
    double duration, rate, wait, stats_interval, listed_ratio, misread;
    int64_t resend_us;
    uint32_t window;
    bool candidates, quiet;
    const char *csv_path, *listed_path, *dump_path;
    uint64_t seed;
    bool have_seed, have_start_seq;
    const char *spool_dir;
    uint32_t epoch;  /* boot epoch of every read (0: version 1 frames) */
    bool have_epoch; /* --epoch given */
    bool new_epoch;  /* --new-epoch: the counter starts over */

    struct camera *cams;
    size_t ncams, cams_cap, nrr, rr_next; /* the first nrr cameras came from --camera */
    struct listed *listed;
    size_t nlisted;
    struct csv_row *rows;
    size_t nrows, row_next;
    struct plategen gen;
    struct outq q;
    struct acked *acks;
    size_t nacks, acks_cap;

    /* --spool */
    spool_t *spool;
    struct ckq ck;
    uint64_t last_pos;     /* position of the last record appended */
    uint64_t durable;      /* highest durable position */
    uint64_t made;         /* new reads taken into the spool (what --count counts) */
    uint64_t recovered;    /* reads loaded back at start */
    int64_t retry_at;      /* no append or commit before this (monotonic µs) after a failure */
    unsigned warned_spool; /* spool warnings printed */

    void *ctx, *sock;
    void *mon;           /* PAIR receiving sock's monitor events (several endpoints only) */
    unsigned mon_serial; /* the monitor endpoint's number, new for each socket */
    int64_t heard_us;    /* monotonic: last sign of life of the endpoint in use (a frame, or
                            nothing to wait for) */
    bool was_connected;  /* the socket in use completed a handshake */
    uint64_t failovers;  /* moves to another endpoint */

    /* a read generated but refused by the socket (EAGAIN), sent before any new one */
    uint8_t staged[PROTO_MAX_FRAME];
    size_t staged_len;
    uint32_t staged_cam;
    uint64_t staged_seq;
    bool have_staged;

    uint64_t sent, acked, rejected, resent, skipped;
    uint64_t reasons[PROTO_REASON_COUNT + 1]; /* last = reasons this build does not know */
    unsigned warned_frames, warned_rejects;
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --endpoint ENDPOINT --camera CODE [--camera CODE ...] [options]\n"
            "\n"
            "Simulated ANPR camera: sends plate reads to anprd and resends them until acked.\n"
            "\n"
            "  --endpoint E         anprd reader endpoint, e.g. tcp://127.0.0.1:5555; repeat\n"
            "                       it (or give a comma list) for several anprd instances:\n"
            "                       one is used, and when it stops answering the camera moves\n"
            "                       to the next and resends its unacknowledged reads there\n"
            "  --failover-ms MS     with several endpoints: move on when no answer came for\n"
            "                       MS while reads wait for one (default 10000), or at once\n"
            "                       when the connection drops\n"
            "  --key FILE           our CURVE secret key (anpr-keygen NAME makes NAME.key);\n"
            "                       its public key must be registered in the database\n"
            "  --server-key K       anprd's CURVE public key: 40 Z85 characters or a file\n"
            "                       (without --key and --server-key: plain text, for an\n"
            "                       anprd run with curve.insecure_plaintext)\n"
            "  --camera CODE        camera id (repeat for several; reads go round-robin)\n"
            "  --count N            reads to send in all (default 0 = until signal/--duration)\n"
            "  --duration S         stop sending after S seconds\n"
            "  --rate R             reads per second over all cameras (default 10; 0 = no limit)\n"
            "  --csv FILE           send the reads of FILE (camera,plate,country,confidence)\n"
            "  --listed FILE        watchlist plates, one per line, optional ;CC suffix\n"
            "  --listed-ratio P     fraction 0..1 of generated reads with a listed plate "
            "(0.01)\n"
            "  --candidates         add 1-3 alternative OCR candidates to generated reads\n"
            "  --misread P          fraction 0..1 of generated reads whose plate is misread\n"
            "                       (a look-alike character); the true plate becomes candidate 1\n"
            "  --seed N             generator seed (default: time-based)\n"
            "  --start-seq N        first sequence number (default: now in UTC microseconds)\n"
            "  --resend-ms MS       resend a read not acknowledged after MS (default 3000)\n"
            "  --window N           at most N unacknowledged reads (default 20000)\n"
            "  --wait S             after the last send, wait up to S s for acks (default 10)\n"
            "  --stats-interval S   print counters to stderr every S seconds (default 0 = off)\n"
            "  --dump-acked FILE    at exit, write \"camera<TAB>seq\" per acknowledged read\n"
            "  --spool DIR          keep unacknowledged reads on disk in DIR; at start, resend\n"
            "                       the reads a previous run left there first. DIR also keeps\n"
            "                       the boot epoch: version 2 READs, epoch = first start (s)\n"
            "  --epoch N            send version 2 READs of epoch N (1..4294967295); with\n"
            "                       --spool, kept in DIR as its epoch from now on\n"
            "  --new-epoch          with --spool: the counter starts over (e.g. --start-seq 1\n"
            "                       again): take a new epoch (now in s, above the old one)\n"
            "  --quiet              no progress or warning lines on stderr, only errors\n"
            "  --help, --version\n"
            "\n"
            "Prints one summary line on stdout (with failovers=N when it moved between\n"
            "endpoints). Exit status: 0 all reads acknowledged, 1 some remain unacknowledged,\n"
            "2 usage or I/O error.\n");
}

static void s_warn_frame(struct app *a, const char *what, const char *detail)
{
    if (a->quiet || a->warned_frames > S_WARN_MAX)
        return;
    if (a->warned_frames++ == S_WARN_MAX)
        fprintf(stderr, PROG ": warning: more bad frames, not reporting them\n");
    else
        fprintf(stderr, PROG ": warning: %s: %s\n", what, detail);
}

/* Copies untrusted text for a message through the tools' one cleaner (cli_clean: controls,
 * bidi controls and bytes that are not UTF-8 made visible), so a bad input cannot drive the
 * terminal. Returns out. */
static const char *s_esc(const char *in, char *out, size_t cap)
{
    cli_clean(out, cap, in, strlen(in), 0);
    return out;
}

static int64_t s_min(int64_t x, int64_t y)
{
    return x < y ? x : y;
}

/* --- cameras ---------------------------------------------------------------------------- */

static int s_camera_find(const struct app *a, const char *code)
{
    for (size_t i = 0; i < a->ncams; i++) {
        if (strcmp(a->cams[i].code, code) == 0)
            return (int)i;
    }
    return -1;
}

/* Adds a camera (already validated); returns its index or -1 when out of memory. */
static int s_camera_add(struct app *a, const char *code)
{
    if (a->ncams == a->cams_cap) {
        size_t ncap = a->cams_cap ? a->cams_cap * 2 : 8;
        struct camera *n = realloc(a->cams, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        a->cams = n;
        a->cams_cap = ncap;
    }
    struct camera *c = &a->cams[a->ncams];
    memset(c, 0, sizeof(*c));
    snprintf(c->code, sizeof(c->code), "%s", code);
    return (int)a->ncams++;
}

/* --- outstanding reads -------------------------------------------------------------------- */

static uint32_t s_hash(uint32_t cam, uint64_t seq)
{
    uint64_t z = seq ^ ((uint64_t)cam << 40) ^ ((uint64_t)cam * 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (uint32_t)(z ^ (z >> 31));
}

static int s_outq_init(struct outq *q, uint32_t cap)
{
    uint64_t nslots = 16;

    while (nslots < (uint64_t)cap * 2)
        nslots *= 2;
    memset(q, 0, sizeof(*q));
    q->pool = calloc(cap, sizeof(*q->pool));
    q->slots = calloc(nslots, sizeof(*q->slots));
    if (q->pool == NULL || q->slots == NULL)
        return -1;
    q->cap = cap;
    q->mask = (uint32_t)(nslots - 1);
    for (uint32_t i = 0; i < cap; i++)
        q->pool[i].next = i + 1 < cap ? i + 1 : S_NONE;
    q->free_head = 0;
    q->head = q->tail = S_NONE;
    q->uhead = q->utail = S_NONE;
    return 0;
}

static void s_outq_free(struct outq *q)
{
    if (q->pool != NULL) {
        for (uint32_t i = q->head; i != S_NONE; i = q->pool[i].next)
            free(q->pool[i].frame);
        for (uint32_t i = q->uhead; i != S_NONE; i = q->pool[i].next)
            free(q->pool[i].frame);
    }
    free(q->pool);
    free(q->slots);
    memset(q, 0, sizeof(*q));
}

/* Slot holding (cam, seq), or S_NONE. */
static uint32_t s_outq_find(const struct outq *q, uint32_t cam, uint64_t seq)
{
    uint32_t i = s_hash(cam, seq) & q->mask;

    while (q->slots[i] != 0) {
        const struct pending *p = &q->pool[q->slots[i] - 1];
        if (p->seq == seq && p->cam == cam)
            return i;
        i = (i + 1) & q->mask;
    }
    return S_NONE;
}

/* A read is on the unsent list (--spool) or on the send-order list, as p->unsent says. */
static void s_list_unlink(struct outq *q, uint32_t idx)
{
    struct pending *p = &q->pool[idx];
    uint32_t *head = p->unsent ? &q->uhead : &q->head, *tail = p->unsent ? &q->utail : &q->tail;

    if (p->prev != S_NONE)
        q->pool[p->prev].next = p->next;
    else
        *head = p->next;
    if (p->next != S_NONE)
        q->pool[p->next].prev = p->prev;
    else
        *tail = p->prev;
}

static void s_list_append(struct outq *q, uint32_t idx)
{
    struct pending *p = &q->pool[idx];
    uint32_t *head = p->unsent ? &q->uhead : &q->head, *tail = p->unsent ? &q->utail : &q->tail;

    p->prev = *tail;
    p->next = S_NONE;
    if (*tail != S_NONE)
        q->pool[*tail].next = idx;
    else
        *head = idx;
    *tail = idx;
}

/* Takes ownership of frame. The caller checked that the pool has room. Returns its index. */
static uint32_t s_outq_add(struct outq *q, uint32_t cam, uint64_t seq, uint8_t *frame, size_t len,
                           int64_t now, bool unsent)
{
    uint32_t idx = q->free_head;
    struct pending *p = &q->pool[idx];
    uint32_t i = s_hash(cam, seq) & q->mask;

    q->free_head = p->next;
    p->seq = seq;
    p->cam = cam;
    p->frame = frame;
    p->len = (uint32_t)len;
    p->sent_us = now;
    p->pos = p->ck = 0;
    p->unsent = unsent;
    p->recovered = false;
    s_list_append(q, idx);
    while (q->slots[i] != 0)
        i = (i + 1) & q->mask;
    q->slots[i] = idx + 1;
    q->used++;
    return idx;
}

static void s_outq_remove_slot(struct outq *q, uint32_t slot)
{
    uint32_t idx = q->slots[slot] - 1;
    uint32_t i = slot, j = slot;

    s_list_unlink(q, idx);
    free(q->pool[idx].frame);
    q->pool[idx].frame = NULL;
    q->pool[idx].next = q->free_head;
    q->free_head = idx;
    q->used--;

    /* Backward-shift: move up any later entry of the probe run whose home is not in (i, j]. */
    for (;;) {
        j = (j + 1) & q->mask;
        if (q->slots[j] == 0)
            break;
        const struct pending *p = &q->pool[q->slots[j] - 1];
        uint32_t home = s_hash(p->cam, p->seq) & q->mask;
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            q->slots[i] = q->slots[j];
            i = j;
        }
    }
    q->slots[i] = 0;
}

/* --- spool checkpoint ------------------------------------------------------------------ */

/* Notes a record appended at pos; *id gets its absolute index. -1 when out of memory. */
static int s_ck_push(struct ckq *c, uint64_t pos, uint64_t *id)
{
    if (c->n == c->cap) {
        /* Drop the passed prefix before growing, so the array stays as long as the backlog. */
        if (c->first > 0 && c->first >= c->n / 2) {
            memmove(c->v, c->v + c->first, (c->n - c->first) * sizeof(*c->v));
            c->base += c->first;
            c->n -= c->first;
            c->first = 0;
        } else {
            size_t ncap = c->cap ? c->cap * 2 : 4096;
            struct ckent *nv = realloc(c->v, ncap * sizeof(*nv));
            if (nv == NULL)
                return -1;
            c->v = nv;
            c->cap = ncap;
        }
    }
    c->v[c->n].pos = pos;
    c->v[c->n].settled = false;
    *id = c->base + c->n++;
    return 0;
}

/*
 * Moves the spool's checkpoint over the settled prefix. A failure is only a warning: the
 * records stay in the spool and a later run resends them once more, which anprd allows.
 */
static void s_ck_advance(struct app *a)
{
    struct ckq *c = &a->ck;
    size_t i = c->first;
    char err[512];

    while (i < c->n && c->v[i].settled)
        i++;
    if (i == c->first)
        return;
    if (spool_checkpoint(a->spool, c->v[i - 1].pos, err, sizeof(err)) != SPOOL_OK) {
        if (a->warned_spool++ < S_WARN_MAX)
            fprintf(stderr, PROG ": warning: %s\n", err);
        return;
    }
    c->first = i;
}

/* --- acks and rejects ------------------------------------------------------------------- */

/* Forgets an outstanding read (acknowledged, or refused for good); with --spool its record is
 * settled, so the checkpoint may pass it. */
static void s_drop(struct app *a, uint32_t slot)
{
    const struct pending *p = &a->q.pool[a->q.slots[slot] - 1];

    if (a->spool != NULL)
        a->ck.v[p->ck - a->ck.base].settled = true;
    a->cams[p->cam].outstanding--;
    s_outq_remove_slot(&a->q, slot);
}

static int s_note_acked(struct app *a, uint32_t cam, uint64_t seq)
{
    a->acked++;
    if (a->dump_path == NULL)
        return 0;
    if (a->nacks == a->acks_cap) {
        size_t ncap = a->acks_cap ? a->acks_cap * 2 : 4096;
        struct acked *n = realloc(a->acks, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        a->acks = n;
        a->acks_cap = ncap;
    }
    a->acks[a->nacks].cam = cam;
    a->acks[a->nacks].seq = seq;
    a->nacks++;
    return 0;
}

static int s_ack_one(struct app *a, uint32_t cam, uint64_t seq)
{
    uint32_t slot = s_outq_find(&a->q, cam, seq);

    /* Not outstanding: acked before (a resend raced the ack) or never sent. */
    if (slot == S_NONE)
        return 0;
    s_drop(a, slot);
    return s_note_acked(a, cam, seq);
}

static int s_ack_range(struct app *a, const struct proto_ack_range *r)
{
    int ci = s_camera_find(a, r->camera);
    struct camera *c;
    uint64_t lo, hi, n;

    if (ci < 0 || r->count == 0 || r->epoch != a->epoch)
        return 0;
    c = &a->cams[ci];
    if (c->outstanding == 0)
        return 0;
    /* Only seqs this run sent can be outstanding: clip the range to them. */
    lo = r->first_seq;
    hi = r->first_seq + (r->count - 1);
    if (hi < lo) /* wrapped */
        hi = UINT64_MAX;
    if (hi >= c->next_seq)
        hi = c->next_seq - 1;
    if (lo > hi)
        return 0;
    n = hi - lo + 1;

    if (n <= 4 * c->outstanding + 64) {
        for (uint64_t s = lo;; s++) {
            if (s_ack_one(a, (uint32_t)ci, s) != 0)
                return -1;
            if (s == hi || c->outstanding == 0)
                break;
        }
        return 0;
    }
    /* A wide range over few outstanding reads: cheaper to walk the outstanding ones. */
    for (int list = 0; list < 2; list++) {
        for (uint32_t i = list == 0 ? a->q.head : a->q.uhead; i != S_NONE && c->outstanding > 0;) {
            const struct pending *p = &a->q.pool[i];
            uint32_t next = p->next;
            if (p->cam == (uint32_t)ci && p->seq >= lo && p->seq <= hi) {
                if (s_ack_one(a, p->cam, p->seq) != 0)
                    return -1;
            }
            i = next;
        }
    }
    return 0;
}

static void s_on_reject(struct app *a, const struct proto_reject *rej)
{
    unsigned bucket = rej->reason < PROTO_REASON_COUNT ? rej->reason : PROTO_REASON_COUNT;
    const char *name =
        rej->reason < PROTO_REASON_COUNT ? proto_reason_name(rej->reason) : "unknown_reason";
    int ci;
    uint32_t slot;
    bool report = !a->quiet && a->warned_rejects <= S_WARN_MAX;
    char t[4 * PROTO_REASON_TEXT_MAX + 8], c[4 * PROTO_CAMERA_MAX + 8];

    a->reasons[bucket]++;
    if (report && a->warned_rejects++ == S_WARN_MAX) {
        fprintf(stderr, PROG ": more rejects, not reporting them one by one\n");
        report = false;
    }
    if (rej->seq == 0 || rej->camera[0] == '\0') {
        /* Frame-level: anprd could not tell which read; the read stays and is resent. */
        a->rejected++;
        if (report)
            fprintf(stderr, PROG ": frame rejected: %s: %s\n", name,
                    s_esc(rej->text, t, sizeof(t)));
        return;
    }
    if (report)
        fprintf(stderr, PROG ": read %s/%" PRIu64 " rejected: %s: %s\n",
                s_esc(rej->camera, c, sizeof(c)), rej->seq, name, s_esc(rej->text, t, sizeof(t)));
    if (rej->reason == PROTO_E_OVERLOAD)
        return; /* keep it: resent after --resend-ms */
    if (rej->epoch != a->epoch)
        return; /* not one of ours */
    ci = s_camera_find(a, rej->camera);
    if (ci < 0)
        return;
    slot = s_outq_find(&a->q, (uint32_t)ci, rej->seq);
    if (slot == S_NONE)
        return;
    s_drop(a, slot);
    a->rejected++;
}

static int s_on_frame(struct app *a, const uint8_t *buf, size_t len)
{
    struct proto_error err;
    uint8_t type;

    if (proto_peek(buf, len, &type, &err) != 0) {
        s_warn_frame(a, "bad frame from anprd", err.msg);
        return 0;
    }
    if (type == PROTO_ACK) {
        struct proto_ack_range ranges[PROTO_ACK_MAX_RANGES];
        size_t n = 0;
        if (proto_decode_ack(buf, len, ranges, PROTO_ACK_MAX_RANGES, &n, &err) != 0) {
            s_warn_frame(a, "bad ACK from anprd", err.msg);
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (s_ack_range(a, &ranges[i]) != 0)
                return -1;
        }
    } else if (type == PROTO_REJECT) {
        struct proto_reject rej;
        if (proto_decode_reject(buf, len, &rej, &err) != 0) {
            s_warn_frame(a, "bad REJECT from anprd", err.msg);
            return 0;
        }
        s_on_reject(a, &rej);
    } else {
        char msg[48];
        snprintf(msg, sizeof(msg), "type %u", (unsigned)type);
        s_warn_frame(a, "unexpected frame from anprd", msg);
    }
    return 0;
}

/* Drains everything the socket has; -1 on a fatal error (out of memory, socket broken). */
static int s_receive(struct app *a)
{
    for (;;) {
        zmq_msg_t msg;
        int rc;

        zmq_msg_init(&msg);
        rc = zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT);
        if (rc < 0) {
            int e = zmq_errno();
            zmq_msg_close(&msg);
            if (e == EAGAIN || e == EINTR)
                return 0;
            fprintf(stderr, PROG ": receive: %s\n", zmq_strerror(e));
            return -1;
        }
        a->heard_us = util_mono_us();
        /* Replies are single-part; tolerate an empty delimiter part from a REQ-style peer. */
        if (zmq_msg_size(&msg) > 0)
            rc = s_on_frame(a, zmq_msg_data(&msg), zmq_msg_size(&msg));
        else
            rc = 0;
        zmq_msg_close(&msg);
        if (rc != 0) {
            fprintf(stderr, PROG ": out of memory\n");
            return -1;
        }
    }
}

/* --- generating reads ------------------------------------------------------------------- */

static uint32_t s_rr_camera(struct app *a)
{
    uint32_t ci = (uint32_t)a->rr_next;
    a->rr_next = (a->rr_next + 1) % a->nrr;
    return ci;
}

static void s_add_candidates(struct app *a, struct proto_read *r)
{
    unsigned want = 1 + plategen_below(&a->gen, 3);

    if (strlen(r->plate) > 16)
        return; /* plategen_misread works on plates of up to 16 bytes */
    /* A few extra tries since a misreading can equal the plate or an earlier candidate. */
    for (unsigned tries = 0; r->ncand < want && tries < want * 4; tries++) {
        char alt[17];
        bool dup = false;
        plategen_misread(&a->gen, r->plate, S_CAND_PERMILLE, alt);
        if (strcmp(alt, r->plate) == 0 || proto_plate_check(alt, strlen(alt)) != PROTO_OK)
            continue;
        for (unsigned k = 0; k < r->ncand; k++)
            dup = dup || strcmp(r->cand[k].plate, alt) == 0;
        if (dup)
            continue;
        struct proto_cand *c = &r->cand[r->ncand++];
        snprintf(c->plate, sizeof(c->plate), "%s", alt);
        unsigned drop = 20 + plategen_below(&a->gen, 200);
        c->confidence = (uint16_t)(r->confidence > drop ? r->confidence - drop : 1);
    }
    /* The protocol lists candidates best first. */
    for (unsigned i = 1; i < r->ncand; i++) {
        for (unsigned k = i; k > 0 && r->cand[k].confidence > r->cand[k - 1].confidence; k--) {
            struct proto_cand tmp = r->cand[k];
            r->cand[k] = r->cand[k - 1];
            r->cand[k - 1] = tmp;
        }
    }
}

/*
 * The camera got one character wrong (a look-alike): the misreading becomes the plate, and the
 * true plate its best alternative, as a real OCR engine ranks them.
 */
static void s_misread(struct app *a, struct proto_read *r)
{
    char alt[17];

    if (strlen(r->plate) > 16)
        return;
    for (int tries = 0; tries < 8; tries++) {
        plategen_misread(&a->gen, r->plate, 250, alt);
        if (strcmp(alt, r->plate) != 0)
            break;
    }
    if (strcmp(alt, r->plate) == 0)
        return;
    if (r->ncand == PROTO_CAND_MAX)
        r->ncand--;
    memmove(&r->cand[1], &r->cand[0], r->ncand * sizeof r->cand[0]);
    r->ncand++;
    snprintf(r->cand[0].plate, sizeof r->cand[0].plate, "%s", r->plate);
    r->cand[0].confidence = (uint16_t)(r->confidence > 60 ? r->confidence - 60 : 1);
    snprintf(r->plate, sizeof r->plate, "%s", alt);
}

/* Builds the next read into r; 1 when the CSV is used up. */
static int s_next_read(struct app *a, struct proto_read *r, uint32_t *cam)
{
    memset(r, 0, sizeof(*r));
    r->confidence = (uint16_t)(700 + plategen_below(&a->gen, 300));
    r->lane = (uint8_t)(1 + plategen_below(&a->gen, 3));
    r->direction = (uint8_t)(1 + plategen_below(&a->gen, 2));

    if (a->rows != NULL) {
        const struct csv_row *row;
        if (a->row_next >= a->nrows)
            return 1;
        row = &a->rows[a->row_next++];
        *cam = row->cam != S_NONE ? row->cam : s_rr_camera(a);
        snprintf(r->plate, sizeof(r->plate), "%s", row->plate);
        snprintf(r->country, sizeof(r->country), "%s", row->country);
        if (row->confidence >= 0)
            r->confidence = (uint16_t)row->confidence;
    } else {
        *cam = s_rr_camera(a);
        if (a->nlisted > 0 &&
            plategen_below(&a->gen, 1000000) < (uint32_t)(a->listed_ratio * 1000000.0)) {
            const struct listed *l = &a->listed[plategen_below(&a->gen, (uint32_t)a->nlisted)];
            snprintf(r->plate, sizeof(r->plate), "%s", l->plate);
            snprintf(r->country, sizeof(r->country), "%s", l->country);
        } else {
            char plate[17], country[3];
            plategen_plate(&a->gen, plate, country);
            snprintf(r->plate, sizeof(r->plate), "%s", plate);
            snprintf(r->country, sizeof(r->country), "%s", country);
        }
        if (a->candidates)
            s_add_candidates(a, r);
        if (a->misread > 0 && plategen_below(&a->gen, 1000000) < (uint32_t)(a->misread * 1000000.0))
            s_misread(a, r);
    }

    struct camera *c = &a->cams[*cam];
    r->seq = c->next_seq++;
    r->epoch = a->epoch;
    r->time_us = util_now_us();
    snprintf(r->camera, sizeof(r->camera), "%s", c->code);
    snprintf(r->image_ref, sizeof(r->image_ref), "img://%s/%" PRIu64 ".jpg", c->code, r->seq);
    return 0;
}

/* --- sending ---------------------------------------------------------------------------- */

/* 1 sent, 0 the socket cannot take it now, -1 fatal. */
static int s_send_bytes(struct app *a, const uint8_t *buf, size_t len)
{
    if (zmq_send(a->sock, buf, len, ZMQ_DONTWAIT) >= 0)
        return 1;
    if (zmq_errno() == EAGAIN || zmq_errno() == EINTR)
        return 0;
    fprintf(stderr, PROG ": send: %s\n", zmq_strerror(zmq_errno()));
    return -1;
}

/* Builds the next read into the staging buffer: 1 staged, 0 the CSV is used up (*exhausted
 * set), 2 it does not encode (reported and skipped). */
static int s_stage(struct app *a, bool *exhausted)
{
    struct proto_read r;
    uint32_t cam;

    if (s_next_read(a, &r, &cam) != 0) {
        *exhausted = true;
        return 0;
    }
    a->staged_len = proto_encode_read(&r, a->staged, sizeof(a->staged));
    if (a->staged_len == 0) {
        /* Inputs are validated up front, so this is a generator bug: say so, go on. */
        fprintf(stderr, PROG ": warning: read %s/%" PRIu64 " (%s) does not encode, skipped\n",
                r.camera, r.seq, r.plate);
        a->skipped++;
        return 2;
    }
    a->staged_cam = cam;
    a->staged_seq = r.seq;
    a->have_staged = true;
    return 1;
}

/* Sends one new read (the staged one first); 1 sent, 0 blocked or nothing left, -1 fatal. */
static int s_send_new(struct app *a, int64_t now, bool *exhausted)
{
    uint8_t *copy;
    int rc;

    if (!a->have_staged) {
        rc = s_stage(a, exhausted);
        if (rc != 1)
            return rc == 2 ? 1 : 0;
    }
    rc = s_send_bytes(a, a->staged, a->staged_len);
    if (rc <= 0)
        return rc;
    copy = malloc(a->staged_len);
    if (copy == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return -1;
    }
    memcpy(copy, a->staged, a->staged_len);
    (void)s_outq_add(&a->q, a->staged_cam, a->staged_seq, copy, a->staged_len, now, false);
    a->cams[a->staged_cam].outstanding++;
    a->have_staged = false;
    a->sent++;
    return 1;
}

/* Resends every read outstanding for --resend-ms; false when the socket stopped taking them. */
static int s_resend_due(struct app *a, int64_t now)
{
    struct outq *q = &a->q;

    while (q->head != S_NONE && q->pool[q->head].sent_us + a->resend_us <= now) {
        uint32_t idx = q->head;
        int rc = s_send_bytes(a, q->pool[idx].frame, q->pool[idx].len);
        if (rc <= 0)
            return rc;
        q->pool[idx].sent_us = now;
        s_list_unlink(q, idx);
        s_list_append(q, idx);
        a->resent++;
    }
    return 1;
}

/* --- sending with --spool --------------------------------------------------------------- */

/*
 * Takes one new read into the spool (buffered until the turn's commit) and queues it as unsent.
 * The spool record is S_REC_READ then the READ frame: the frame carries the camera id and seq,
 * so a later run resends the very same bytes whatever its --camera list.
 * 1 taken (or skipped), 0 nothing left or the spool is full, -1 fatal.
 */
static int s_spool_make(struct app *a, int64_t now, bool *exhausted)
{
    uint8_t rec[1 + PROTO_MAX_FRAME], *copy;
    uint64_t pos, id;
    uint32_t idx;
    int rc;

    if (!a->have_staged) {
        rc = s_stage(a, exhausted);
        if (rc != 1)
            return rc == 2 ? 1 : 0;
    }
    rec[0] = S_REC_READ;
    memcpy(rec + 1, a->staged, a->staged_len);
    rc = spool_append(a->spool, rec, 1 + a->staged_len, &pos);
    if (rc == SPOOL_FULL) {
        /* Kept staged; the checkpoint frees room as acknowledgements come. */
        if (!a->quiet && a->warned_spool++ < S_WARN_MAX)
            fprintf(stderr, PROG ": warning: spool %s is full; new reads wait\n", a->spool_dir);
        a->retry_at = now + S_RETRY_MS * 1000;
        return 0;
    }
    if (rc != SPOOL_OK) {
        fprintf(stderr, PROG ": spool %s: %s\n", a->spool_dir, strerror(errno));
        return -1;
    }
    copy = malloc(a->staged_len);
    if (copy == NULL || s_ck_push(&a->ck, pos, &id) != 0) {
        free(copy);
        fprintf(stderr, PROG ": out of memory\n");
        return -1;
    }
    memcpy(copy, a->staged, a->staged_len);
    idx = s_outq_add(&a->q, a->staged_cam, a->staged_seq, copy, a->staged_len, now, true);
    a->q.pool[idx].pos = pos;
    a->q.pool[idx].ck = id;
    a->cams[a->staged_cam].outstanding++;
    a->have_staged = false;
    a->last_pos = pos;
    a->made++;
    return 1;
}

/* Makes what was appended durable (group commit): 0, or -1 when it failed (retried later; the
 * records stay buffered in the spool and are not sent meanwhile). */
static int s_spool_commit(struct app *a, int64_t now)
{
    char err[512];

    if (a->last_pos <= a->durable)
        return 0;
    if (spool_commit(a->spool, &a->durable, err, sizeof(err)) == SPOOL_OK)
        return 0;
    if (a->warned_spool++ < S_WARN_MAX)
        fprintf(stderr, PROG ": warning: %s; retrying\n", err);
    a->retry_at = now + S_RETRY_MS * 1000;
    return -1;
}

/* Sends the durable reads not sent yet in this run, oldest first (the recovered ones come
 * first); 1 all sent, 0 the socket stopped taking them, -1 fatal. */
static int s_send_unsent(struct app *a, int64_t now)
{
    struct outq *q = &a->q;

    while (q->uhead != S_NONE && q->pool[q->uhead].pos <= a->durable) {
        uint32_t idx = q->uhead;
        struct pending *p = &q->pool[idx];
        int rc = s_send_bytes(a, p->frame, p->len);
        if (rc <= 0)
            return rc;
        s_list_unlink(q, idx);
        p->unsent = false;
        p->sent_us = now;
        s_list_append(q, idx);
        if (p->recovered)
            a->resent++;
        else
            a->sent++;
    }
    return 1;
}

/* Rate limiting: the n-th read since t0 is due at t0 + n / rate. */
struct rate {
    int64_t t0;
    uint64_t n;
};

/* Whether a new read is due now; if not, *timeout_us is lowered to when it is. */
static bool s_rate_due(struct rate *rt, double rate, int64_t now, int64_t *timeout_us)
{
    if (rate <= 0)
        return true;
    int64_t due = rt->t0 + (int64_t)((double)rt->n * 1e6 / rate);
    if (due > now) {
        *timeout_us = s_min(*timeout_us, due - now);
        return false;
    }
    /* Behind by more than a second (daemon away, window full): no catch-up burst. */
    if (now - due > 1000000) {
        rt->t0 = now;
        rt->n = 0;
    }
    return true;
}

/*
 * One loop turn with --spool: the due new reads go into the spool, one commit makes them durable
 * (group commit), and only then are they sent. Reads are made whether or not anprd takes them
 * (a camera goes on reading plates); *blocked when the socket stopped taking them.
 */
static int s_spool_turn(struct app *a, int64_t now, bool sending, struct rate *rt,
                        int64_t *timeout_us, bool *exhausted, bool *blocked)
{
    int rc;

    if (now < a->retry_at) {
        *timeout_us = s_min(*timeout_us, a->retry_at - now);
    } else if (s_spool_commit(a, now) == 0) { /* first what a failed commit left buffered */
        int n;
        for (n = 0; sending && n < S_SEND_BATCH; n++) {
            if (a->q.used >= a->window || (a->count > 0 && (int64_t)a->made >= a->count))
                break;
            if (!s_rate_due(rt, a->rate, now, timeout_us))
                break;
            rc = s_spool_make(a, now, exhausted);
            if (rc < 0)
                return -1;
            if (rc == 0)
                break;
            rt->n++;
        }
        if (n == S_SEND_BATCH)
            *timeout_us = 0; /* batch limit hit: poll for acks, then go on */
        if (s_spool_commit(a, now) != 0)
            *timeout_us = s_min(*timeout_us, S_RETRY_MS * 1000);
    }
    rc = s_send_unsent(a, now);
    if (rc < 0)
        return -1;
    *blocked = *blocked || rc == 0;
    return 0;
}

/* A read found in the spool at start. */
struct found {
    uint8_t *frame;
    uint32_t len, cam;
    uint64_t seq, pos, ck;
};

/*
 * Opens --spool, reports its damage as anpr-spool verify does, and loads every record after the
 * checkpoint back as an outstanding read (unsent, so it goes out first). Each camera's next seq
 * goes past the highest one recovered. Also sets up the outstanding reads' pool. 0 or -1.
 */
/*
 * --spool: the boot epoch kept in DIR/epoch (decimal). Made at the first start (now in
 * seconds), replaced by --epoch, or by a new one with --new-epoch (now in seconds, above the
 * old one). *save says whether the file must be written (s_epoch_save, once the spool is
 * known to hold no reads of another epoch). 0, or -1 (said).
 */
static int s_epoch_load(struct app *a, bool *save)
{
    char path[4096], buf[32];
    long long v = 0;
    FILE *f;

    if (mkdir(a->spool_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": --spool %s: %s\n", a->spool_dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/epoch", a->spool_dir);
    if ((f = fopen(path, "r")) != NULL) {
        bool ok = fgets(buf, sizeof(buf), f) != NULL;
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
        if (!ok || util_parse_long(buf, 1, UINT32_MAX, &v) != 0) {
            fprintf(stderr, PROG ": %s: not an epoch (1..4294967295)\n", path);
            return -1;
        }
        if (!a->have_epoch && !a->new_epoch) {
            a->epoch = (uint32_t)v;
            *save = false;
            return 0;
        }
    } else if (errno != ENOENT) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!a->have_epoch) {
        long long now = util_now_us() / 1000000;
        a->epoch = (uint32_t)(now > v && now <= (long long)UINT32_MAX ? now : v + 1);
        if (a->epoch == 0) {
            fprintf(stderr, PROG ": %s: no epoch left after %lld\n", path, v);
            return -1;
        }
    }
    *save = true;
    return 0;
}

/* Write DIR/epoch: a temporary file, flushed and renamed, so a crash keeps one or the other. */
static int s_epoch_save(const struct app *a)
{
    char path[4096], tmp[4200], buf[32];

    snprintf(path, sizeof(path), "%s/epoch", a->spool_dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int n = snprintf(buf, sizeof(buf), "%" PRIu32 "\n", a->epoch);
    bool ok = fd >= 0 && write(fd, buf, (size_t)n) == n && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int s_spool_open(struct app *a)
{
    struct spool_report rep;
    spool_cursor_t *cur = NULL;
    struct found *f = NULL;
    size_t nf = 0, fcap = 0, bad = 0;
    char err[512];
    int ret = -1;

    a->spool = spool_open(a->spool_dir, NULL, &rep, err, sizeof(err));
    if (a->spool == NULL) {
        fprintf(stderr, PROG ": --spool: %s\n", err);
        return -1;
    }
    /* Damage was set aside by the open; every valid record before and after it is kept. */
    for (size_t i = 0; i < rep.ndamage && i < SPOOL_DAMAGE_MAX; i++)
        fprintf(stderr,
                PROG ": spool damaged: %s:%" PRIu64 ": %s (%" PRIu64
                     " bytes set aside in %s); %" PRIu64 " records lost\n",
                rep.damage[i].file, rep.damage[i].offset, rep.damage[i].reason, rep.damage[i].bytes,
                rep.damage[i].quarantine[0] ? rep.damage[i].quarantine : "-",
                rep.damage[i].records);
    if (rep.ndamage > SPOOL_DAMAGE_MAX)
        fprintf(stderr, PROG ": spool damaged in %zu more places\n",
                rep.ndamage - SPOOL_DAMAGE_MAX);
    if (rep.lost_records > 0)
        fprintf(stderr,
                PROG ": spool %s: %" PRIu64 " records missing in %" PRIu64
                     " gaps reported by an earlier repair\n",
                a->spool_dir, rep.lost_records, rep.seq_gaps);
    a->durable = a->last_pos = spool_durable(a->spool);

    cur = spool_cursor_new(a->spool, spool_checkpointed(a->spool), err, sizeof(err));
    if (cur == NULL) {
        fprintf(stderr, PROG ": --spool: %s\n", err);
        goto out;
    }
    for (;;) {
        const void *data;
        const uint8_t *d;
        size_t len;
        uint64_t pos, id;
        struct proto_read r;
        struct proto_error perr;
        int rc = spool_read(cur, &data, &len, &pos, NULL, err, sizeof(err));

        if (rc < 0) {
            fprintf(stderr, PROG ": --spool: %s\n", err);
            goto out;
        }
        if (rc == 0)
            break;
        if (s_ck_push(&a->ck, pos, &id) != 0)
            goto oom;
        d = data;
        if (len < 1 || d[0] != S_REC_READ || proto_decode_read(d + 1, len - 1, &r, &perr) != 0) {
            /* Nothing to resend; settled, so the checkpoint passes it. */
            a->ck.v[id - a->ck.base].settled = true;
            bad++;
            continue;
        }
        if (r.epoch != a->epoch) {
            /* Answers name the epoch: one run serves one. */
            fprintf(stderr,
                    PROG ": --spool %s holds unsettled reads of epoch %" PRIu32 ", not %" PRIu32
                         "; run with that epoch until they are settled\n",
                    a->spool_dir, r.epoch, a->epoch);
            goto out;
        }
        if (nf == fcap) {
            size_t ncap = fcap ? fcap * 2 : 1024;
            struct found *nv = realloc(f, ncap * sizeof(*nv));
            if (nv == NULL)
                goto oom;
            f = nv;
            fcap = ncap;
        }
        int ci = s_camera_find(a, r.camera);
        if (ci < 0 && (ci = s_camera_add(a, r.camera)) < 0)
            goto oom;
        if ((f[nf].frame = malloc(len - 1)) == NULL)
            goto oom;
        memcpy(f[nf].frame, d + 1, len - 1);
        f[nf].len = (uint32_t)(len - 1);
        f[nf].cam = (uint32_t)ci;
        f[nf].seq = r.seq;
        f[nf].pos = pos;
        f[nf].ck = id;
        nf++;
        if (a->cams[ci].next_seq <= r.seq)
            a->cams[ci].next_seq = r.seq + 1;
    }
    if (bad > 0)
        fprintf(stderr, PROG ": spool %s: %zu records are not reads of this program, skipped\n",
                a->spool_dir, bad);

    /* Room for all of them, whatever --window this run has; new reads wait below --window. */
    if (s_outq_init(&a->q, a->window + (uint32_t)nf) != 0) {
        fprintf(stderr, PROG ": out of memory for --window %" PRIu32 "\n", a->window);
        goto out;
    }
    for (size_t i = 0; i < nf; i++) {
        uint32_t idx;
        if (s_outq_find(&a->q, f[i].cam, f[i].seq) != S_NONE) {
            /* The same read twice: one copy is enough. */
            a->ck.v[f[i].ck - a->ck.base].settled = true;
            free(f[i].frame);
            f[i].frame = NULL;
            continue;
        }
        idx = s_outq_add(&a->q, f[i].cam, f[i].seq, f[i].frame, f[i].len, 0, true);
        f[i].frame = NULL;
        a->q.pool[idx].pos = f[i].pos;
        a->q.pool[idx].ck = f[i].ck;
        a->q.pool[idx].recovered = true;
        a->cams[f[i].cam].outstanding++;
        a->recovered++;
    }
    if (!a->quiet)
        fprintf(stderr, PROG ": spool %s: recovered %" PRIu64 " unacknowledged reads\n",
                a->spool_dir, a->recovered);
    ret = 0;
    goto out;
oom:
    fprintf(stderr, PROG ": out of memory\n");
out:
    for (size_t i = 0; i < nf; i++)
        free(f[i].frame);
    free(f);
    spool_cursor_destroy(&cur);
    return ret;
}

/* --- input files ------------------------------------------------------------------------ */

static char *s_trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Next line of the buffer at *pos (NUL-terminated in place, CR stripped), or NULL at the end. */
static char *s_next_line(char *buf, size_t len, size_t *pos)
{
    char *line, *nl;

    if (*pos >= len)
        return NULL;
    line = buf + *pos;
    nl = memchr(line, '\n', len - *pos);
    if (nl != NULL) {
        *nl = '\0';
        *pos = (size_t)(nl - buf) + 1;
    } else {
        *pos = len;
    }
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\r')
        line[n - 1] = '\0';
    return line;
}

static int s_load_listed(struct app *a)
{
    size_t len = 0, pos = 0, cap = 0, lineno = 0;
    char *buf = util_read_file(a->listed_path, &len), *line;
    char e[160];
    int ret = -1;

    if (buf == NULL) {
        fprintf(stderr, PROG ": %s: %s\n", a->listed_path, strerror(errno));
        return -1;
    }
    while ((line = s_next_line(buf, len, &pos)) != NULL) {
        char *hash = strchr(line, '#'), *semi, *plate, *cc = "";
        lineno++;
        if (hash != NULL)
            *hash = '\0';
        semi = strrchr(line, ';');
        if (semi != NULL) {
            *semi = '\0';
            cc = s_trim(semi + 1);
        }
        plate = s_trim(line);
        if (*plate == '\0' && *cc == '\0')
            continue;
        enum proto_reason why = proto_plate_check(plate, strlen(plate));
        if (why != PROTO_OK) {
            fprintf(stderr, PROG ": %s:%zu: bad plate '%s': %s\n", a->listed_path, lineno,
                    s_esc(plate, e, sizeof(e)), proto_reason_name(why));
            goto cleanup;
        }
        if (*cc != '\0' && !proto_country_valid(cc)) {
            fprintf(stderr, PROG ": %s:%zu: bad country '%s' (want two upper-case letters)\n",
                    a->listed_path, lineno, s_esc(cc, e, sizeof(e)));
            goto cleanup;
        }
        if (a->nlisted == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct listed *n = realloc(a->listed, ncap * sizeof(*n));
            if (n == NULL) {
                fprintf(stderr, PROG ": out of memory\n");
                goto cleanup;
            }
            a->listed = n;
            cap = ncap;
        }
        snprintf(a->listed[a->nlisted].plate, sizeof(a->listed[0].plate), "%s", plate);
        snprintf(a->listed[a->nlisted].country, sizeof(a->listed[0].country), "%s", cc);
        a->nlisted++;
    }
    if (a->nlisted == 0) {
        fprintf(stderr, PROG ": %s: no plates in file\n", a->listed_path);
        goto cleanup;
    }
    ret = 0;
cleanup:
    free(buf);
    return ret;
}

enum { S_COL_CAMERA, S_COL_PLATE, S_COL_COUNTRY, S_COL_CONFIDENCE, S_NCOLS };
static const char *const s_col_names[S_NCOLS] = {"camera", "plate", "country", "confidence"};

/*
 * Splits a CSV line in place into at most max fields; double quotes may wrap a field ("" is a
 * quote inside one). Returns the field count, or -1 with *err set.
 */
static int s_csv_split(char *line, char **fields, int max, const char **err)
{
    int n = 0;
    char *r = line;

    for (;;) {
        if (n == max) {
            *err = "too many fields";
            return -1;
        }
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r == '"') {
            /* Unquote in place: the write position never passes the read position. */
            char *start = r, *w = r, sep;
            r++;
            for (;;) {
                if (*r == '\0') {
                    *err = "unterminated quote";
                    return -1;
                }
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
            while (*r == ' ' || *r == '\t' || *r == '\r')
                r++;
            if (*r != ',' && *r != '\0') {
                *err = "text after a closing quote";
                return -1;
            }
            sep = *r;
            *w = '\0';
            fields[n++] = start;
            if (sep == '\0')
                return n;
            r++;
        } else {
            char *comma = strchr(r, ',');
            if (comma != NULL)
                *comma = '\0';
            fields[n++] = s_trim(r);
            if (comma == NULL)
                return n;
            r = comma + 1;
        }
    }
}

static int s_load_csv(struct app *a)
{
    size_t len = 0, pos = 0, cap = 0, lineno = 0;
    char *buf = util_read_file(a->csv_path, &len), *line;
    int col[S_NCOLS] = {-1, -1, -1, -1}, ncols = 0, ret = -1;
    const char *err = NULL;
    char *f[16], e[160];

    if (buf == NULL) {
        fprintf(stderr, PROG ": %s: %s\n", a->csv_path, strerror(errno));
        return -1;
    }
    /* Header: the column names, any order; plate is the only one required. */
    while ((line = s_next_line(buf, len, &pos)) != NULL) {
        lineno++;
        if (*s_trim(line) != '\0')
            break;
    }
    if (line == NULL) {
        fprintf(stderr, PROG ": %s: empty file, expected a header line\n", a->csv_path);
        goto cleanup;
    }
    ncols = s_csv_split(line, f, 16, &err);
    if (ncols < 0) {
        fprintf(stderr, PROG ": %s:%zu: %s\n", a->csv_path, lineno, err);
        goto cleanup;
    }
    for (int i = 0; i < ncols; i++) {
        int k = 0;
        while (k < S_NCOLS && strcasecmp(f[i], s_col_names[k]) != 0)
            k++;
        if (k == S_NCOLS || col[k] >= 0) {
            fprintf(stderr,
                    PROG ": %s:%zu: %s column '%s' (expected camera,plate,country,"
                         "confidence)\n",
                    a->csv_path, lineno, k == S_NCOLS ? "unknown" : "duplicate",
                    s_esc(f[i], e, sizeof(e)));
            goto cleanup;
        }
        col[k] = i;
    }
    if (col[S_COL_PLATE] < 0) {
        fprintf(stderr, PROG ": %s:%zu: no 'plate' column in the header\n", a->csv_path, lineno);
        goto cleanup;
    }

    while ((line = s_next_line(buf, len, &pos)) != NULL) {
        struct csv_row row = {.cam = S_NONE, .confidence = -1};
        const char *cam, *plate, *country, *conf;
        int n;
        lineno++;
        if (*s_trim(line) == '\0')
            continue;
        n = s_csv_split(line, f, 16, &err);
        if (n < 0) {
            fprintf(stderr, PROG ": %s:%zu: %s\n", a->csv_path, lineno, err);
            goto cleanup;
        }
        if (n != ncols) {
            fprintf(stderr, PROG ": %s:%zu: %d fields, the header has %d\n", a->csv_path, lineno, n,
                    ncols);
            goto cleanup;
        }
        cam = col[S_COL_CAMERA] >= 0 ? f[col[S_COL_CAMERA]] : "";
        plate = f[col[S_COL_PLATE]];
        country = col[S_COL_COUNTRY] >= 0 ? f[col[S_COL_COUNTRY]] : "";
        conf = col[S_COL_CONFIDENCE] >= 0 ? f[col[S_COL_CONFIDENCE]] : "";

        if (*cam == '\0') {
            if (a->nrr == 0) {
                fprintf(stderr, PROG ": %s:%zu: no camera in the row and no --camera given\n",
                        a->csv_path, lineno);
                goto cleanup;
            }
        } else if (!proto_camera_valid(cam)) {
            fprintf(stderr, PROG ": %s:%zu: bad camera id '%s'\n", a->csv_path, lineno,
                    s_esc(cam, e, sizeof(e)));
            goto cleanup;
        } else {
            int ci = s_camera_find(a, cam);
            if (ci < 0 && (ci = s_camera_add(a, cam)) < 0) {
                fprintf(stderr, PROG ": out of memory\n");
                goto cleanup;
            }
            row.cam = (uint32_t)ci;
        }
        if (*country != '\0' && !proto_country_valid(country)) {
            fprintf(stderr, PROG ": %s:%zu: bad country '%s' (want two upper-case letters)\n",
                    a->csv_path, lineno, s_esc(country, e, sizeof(e)));
            goto cleanup;
        }
        if (*conf != '\0') {
            long long v;
            if (util_parse_long(conf, 0, PROTO_CONFIDENCE_MAX, &v) != 0) {
                fprintf(stderr, PROG ": %s:%zu: bad confidence '%s' (want 0..%d)\n", a->csv_path,
                        lineno, s_esc(conf, e, sizeof(e)), PROTO_CONFIDENCE_MAX);
                goto cleanup;
            }
            row.confidence = (int)v;
        }
        /* A bad plate is data the daemon would reject anyway: report it and keep going. */
        enum proto_reason why = proto_plate_check(plate, strlen(plate));
        if (why != PROTO_OK) {
            fprintf(stderr, PROG ": %s:%zu: bad plate '%s' (%s), row skipped\n", a->csv_path,
                    lineno, s_esc(plate, e, sizeof(e)), proto_reason_name(why));
            a->skipped++;
            continue;
        }
        snprintf(row.plate, sizeof(row.plate), "%s", plate);
        snprintf(row.country, sizeof(row.country), "%s", country);
        if (a->nrows == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            struct csv_row *nr = realloc(a->rows, ncap * sizeof(*nr));
            if (nr == NULL) {
                fprintf(stderr, PROG ": out of memory\n");
                goto cleanup;
            }
            a->rows = nr;
            cap = ncap;
        }
        a->rows[a->nrows++] = row;
    }
    if (a->rows == NULL) {
        /* An empty CSV is a valid run that sends nothing; keep rows non-NULL to mark CSV mode. */
        a->rows = malloc(sizeof(*a->rows));
        if (a->rows == NULL) {
            fprintf(stderr, PROG ": out of memory\n");
            goto cleanup;
        }
    }
    ret = 0;
cleanup:
    free(buf);
    return ret;
}

static int s_write_dump(const struct app *a)
{
    FILE *f = fopen(a->dump_path, "w");

    if (f == NULL) {
        fprintf(stderr, PROG ": %s: %s\n", a->dump_path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < a->nacks; i++)
        fprintf(f, "%s\t%" PRIu64 "\n", a->cams[a->acks[i].cam].code, a->acks[i].seq);
    if (ferror(f) | (fclose(f) != 0)) {
        fprintf(stderr, PROG ": %s: write failed: %s\n", a->dump_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* --- options ---------------------------------------------------------------------------- */

enum {
    OPT_KEY,
    OPT_SERVER_KEY,
    OPT_ENDPOINT = 256,
    OPT_CAMERA,
    OPT_COUNT,
    OPT_DURATION,
    OPT_RATE,
    OPT_CSV,
    OPT_LISTED,
    OPT_LISTED_RATIO,
    OPT_CANDIDATES,
    OPT_MISREAD,
    OPT_SEED,
    OPT_START_SEQ,
    OPT_RESEND_MS,
    OPT_FAILOVER_MS,
    OPT_WINDOW,
    OPT_WAIT,
    OPT_STATS_INTERVAL,
    OPT_DUMP_ACKED,
    OPT_SPOOL,
    OPT_EPOCH,
    OPT_NEW_EPOCH,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option s_options[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"key", required_argument, NULL, OPT_KEY},
    {"server-key", required_argument, NULL, OPT_SERVER_KEY},
    {"camera", required_argument, NULL, OPT_CAMERA},
    {"count", required_argument, NULL, OPT_COUNT},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"rate", required_argument, NULL, OPT_RATE},
    {"csv", required_argument, NULL, OPT_CSV},
    {"listed", required_argument, NULL, OPT_LISTED},
    {"listed-ratio", required_argument, NULL, OPT_LISTED_RATIO},
    {"candidates", no_argument, NULL, OPT_CANDIDATES},
    {"misread", required_argument, NULL, OPT_MISREAD},
    {"seed", required_argument, NULL, OPT_SEED},
    {"start-seq", required_argument, NULL, OPT_START_SEQ},
    {"resend-ms", required_argument, NULL, OPT_RESEND_MS},
    {"failover-ms", required_argument, NULL, OPT_FAILOVER_MS},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"stats-interval", required_argument, NULL, OPT_STATS_INTERVAL},
    {"dump-acked", required_argument, NULL, OPT_DUMP_ACKED},
    {"spool", required_argument, NULL, OPT_SPOOL},
    {"epoch", required_argument, NULL, OPT_EPOCH},
    {"new-epoch", no_argument, NULL, OPT_NEW_EPOCH},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Adds the endpoints of one --endpoint (a comma list); -1 (said) when there are too many or one
 * is empty. */
static int s_endpoints_add(struct app *a, const char *arg)
{
    for (const char *p = arg;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || a->nendpoints == S_ENDPOINTS_MAX) {
            fprintf(stderr, PROG ": --endpoint: %s\n",
                    len == 0 ? "an empty endpoint in the list" : "more than 16 endpoints");
            return -1;
        }
        if ((a->endpoints[a->nendpoints] = strndup(p, len)) == NULL) {
            fprintf(stderr, PROG ": out of memory\n");
            return -1;
        }
        a->nendpoints++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* 0 to run, 1 to exit 0 (--help, --version), -1 on a usage error. */
static int s_parse_args(struct app *a, int argc, char **argv)
{
    int opt;
    long long v;

    a->rate = 10;
    a->wait = 10;
    a->listed_ratio = 0.01;
    a->resend_us = 3000 * 1000LL;
    a->failover_us = 10000 * 1000LL;
    a->window = 20000;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", s_options, NULL)) != -1) {
        switch (opt) {
        case OPT_ENDPOINT:
            if (s_endpoints_add(a, optarg) != 0)
                return -1;
            break;
        case OPT_KEY:
            a->key_file = optarg;
            break;
        case OPT_SERVER_KEY:
            a->server_key = optarg;
            break;
        case OPT_CAMERA:
            if (!proto_camera_valid(optarg))
                return cli_bad_value(PROG, "--camera", optarg, "1..32 characters of A-Za-z0-9._:-");
            if (s_camera_find(a, optarg) >= 0) {
                fprintf(stderr, PROG ": --camera: '%s' given twice\n", optarg);
                return -1;
            }
            if (s_camera_add(a, optarg) < 0) {
                fprintf(stderr, PROG ": out of memory\n");
                return -1;
            }
            a->nrr = a->ncams;
            break;
        case OPT_COUNT:
            if (util_parse_long(optarg, 0, INT64_MAX, &v) != 0)
                return cli_bad_value(PROG, "--count", optarg, "a whole number >= 0");
            a->count = v;
            break;
        case OPT_DURATION:
            if (util_parse_double(optarg, 0, 1e9, &a->duration) != 0)
                return cli_bad_value(PROG, "--duration", optarg, "seconds >= 0");
            break;
        case OPT_RATE:
            if (util_parse_double(optarg, 0, 1e8, &a->rate) != 0)
                return cli_bad_value(PROG, "--rate", optarg, "reads per second >= 0");
            break;
        case OPT_CSV:
            a->csv_path = optarg;
            break;
        case OPT_LISTED:
            a->listed_path = optarg;
            break;
        case OPT_LISTED_RATIO:
            if (util_parse_double(optarg, 0, 1, &a->listed_ratio) != 0)
                return cli_bad_value(PROG, "--listed-ratio", optarg, "a fraction 0..1");
            break;
        case OPT_MISREAD:
            if (util_parse_double(optarg, 0, 1, &a->misread) != 0)
                return cli_bad_value(PROG, "--misread", optarg, "a fraction 0..1");
            break;
        case OPT_CANDIDATES:
            a->candidates = true;
            break;
        case OPT_SEED:
            if (util_parse_long(optarg, 0, INT64_MAX, &v) != 0)
                return cli_bad_value(PROG, "--seed", optarg, "a whole number >= 0");
            a->seed = (uint64_t)v;
            a->have_seed = true;
            break;
        case OPT_START_SEQ:
            if (util_parse_long(optarg, 1, INT64_MAX, &v) != 0)
                return cli_bad_value(PROG, "--start-seq", optarg, "a whole number >= 1");
            a->start_seq = v;
            a->have_start_seq = true;
            break;
        case OPT_RESEND_MS:
            if (util_parse_long(optarg, 1, 86400000, &v) != 0)
                return cli_bad_value(PROG, "--resend-ms", optarg, "milliseconds 1..86400000");
            a->resend_us = v * 1000;
            break;
        case OPT_FAILOVER_MS:
            if (util_parse_long(optarg, 1, 86400000, &v) != 0)
                return cli_bad_value(PROG, "--failover-ms", optarg, "milliseconds 1..86400000");
            a->failover_us = v * 1000;
            break;
        case OPT_WINDOW:
            if (util_parse_long(optarg, 1, S_WINDOW_MAX, &v) != 0)
                return cli_bad_value(PROG, "--window", optarg, "a whole number 1..10000000");
            a->window = (uint32_t)v;
            break;
        case OPT_WAIT:
            if (util_parse_double(optarg, 0, 1e9, &a->wait) != 0)
                return cli_bad_value(PROG, "--wait", optarg, "seconds >= 0");
            break;
        case OPT_STATS_INTERVAL:
            if (util_parse_double(optarg, 0, 1e9, &a->stats_interval) != 0)
                return cli_bad_value(PROG, "--stats-interval", optarg, "seconds >= 0");
            break;
        case OPT_DUMP_ACKED:
            a->dump_path = optarg;
            break;
        case OPT_SPOOL:
            if (*optarg == '\0')
                return cli_bad_value(PROG, "--spool", optarg, "a directory");
            a->spool_dir = optarg;
            break;
        case OPT_EPOCH:
            if (util_parse_long(optarg, 1, UINT32_MAX, &v) != 0)
                return cli_bad_value(PROG, "--epoch", optarg, "a whole number 1..4294967295");
            a->epoch = (uint32_t)v;
            a->have_epoch = true;
            break;
        case OPT_NEW_EPOCH:
            a->new_epoch = true;
            break;
        case OPT_QUIET:
            a->quiet = true;
            break;
        case OPT_HELP:
            s_usage(stdout);
            return 1;
        case OPT_VERSION:
            printf(PROG " %s\n", ANPR_VERSION);
            return 1;
        default:
            return cli_getopt_fail(PROG, opt, argc, argv);
        }
    }
    if (cli_no_operands(PROG, argc, argv) != 0)
        return -1;
    if (a->nendpoints == 0)
        return cli_usage_error(PROG, "--endpoint is required");
    if (a->nrr == 0 && a->csv_path == NULL)
        return cli_usage_error(PROG, "at least one --camera is required");
    return 0;
}

/* --- main loop -------------------------------------------------------------------------- */

/* The rate is over the last interval, so a stall shows up at once. */
static void s_print_stats(const struct app *a, double elapsed, double interval,
                          uint64_t sent_before)
{
    fprintf(stderr,
            PROG ": t=%.1fs sent=%" PRIu64 " acked=%" PRIu64 " rejected=%" PRIu64 " resent=%" PRIu64
                 " unacked=%" PRIu32 " rate=%.1f/s\n",
            elapsed, a->sent, a->acked, a->rejected, a->resent, a->q.used,
            interval > 0 ? (double)(a->sent - sent_before) / interval : 0.0);
}

static void s_print_reasons(const struct app *a)
{
    bool any = false;

    for (unsigned i = 0; i <= PROTO_REASON_COUNT; i++) {
        if (a->reasons[i] == 0)
            continue;
        fprintf(stderr, "%s%s=%" PRIu64, any ? " " : PROG ": rejects by reason: ",
                i < PROTO_REASON_COUNT ? proto_reason_name((enum proto_reason)i) : "unknown_reason",
                a->reasons[i]);
        any = true;
    }
    if (any)
        fputc('\n', stderr);
}

/* Closes the socket in use and its monitor; what they still queue is dropped (resent). */
static void s_close_socket(struct app *a)
{
    int zero = 0;

    if (a->sock != NULL) {
        zmq_setsockopt(a->sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(a->sock);
        a->sock = NULL;
    }
    if (a->mon != NULL) {
        zmq_setsockopt(a->mon, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(a->mon);
        a->mon = NULL;
    }
}

/* A DEALER connected to the endpoint in use (and, with several, its monitor); 0 or -1 (said). */
static int s_open_socket(struct app *a)
{
    int one = 1, ivl = 100, zero = 0, hb_ivl = S_HB_IVL_MS, hb_timeout = S_HB_TIMEOUT_MS;
    const char *ep = a->endpoints[a->cur_ep];
    char why[512], mon_ep[64];

    a->sock = zmq_socket(a->ctx, ZMQ_DEALER);
    if (a->sock == NULL)
        goto fail;
    /* IMMEDIATE: no queueing towards a daemon that is not there; resends cover the gap.
     * Heartbeats: a daemon whose host went away (no RST) is found within seconds. */
    if (zmq_setsockopt(a->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof(hb_ivl)) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout)) != 0 ||
        /* Acks are small and bounded by the window; never let the daemon drop them. */
        zmq_setsockopt(a->sock, ZMQ_RCVHWM, &zero, sizeof(zero)) != 0)
        goto fail;
    if (curve_client_opts(a->sock, a->key_file, a->server_key, why, sizeof why) != 0) {
        fprintf(stderr, PROG ": %s\n", why);
        return -1;
    }
    if (a->nendpoints > 1) {
        snprintf(mon_ep, sizeof mon_ep, "inproc://anpr-camera-mon-%u", a->mon_serial++);
        if (zmq_socket_monitor(a->sock, mon_ep,
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0 ||
            (a->mon = zmq_socket(a->ctx, ZMQ_PAIR)) == NULL || zmq_connect(a->mon, mon_ep) != 0)
            goto fail;
    }
    if (zmq_connect(a->sock, ep) != 0) {
        fprintf(stderr, PROG ": --endpoint: cannot connect to '%s': %s\n", ep,
                zmq_strerror(zmq_errno()));
        return -1;
    }
    a->was_connected = false;
    return 0;
fail:
    fprintf(stderr, PROG ": zeromq: %s\n", zmq_strerror(zmq_errno()));
    return -1;
}

static int s_setup_socket(struct app *a)
{
    a->ctx = zmq_ctx_new();
    if (a->ctx == NULL) {
        fprintf(stderr, PROG ": zeromq: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    return s_open_socket(a);
}

/*
 * Moves to the next endpoint: a new socket there, and every read sent and not acknowledged is
 * due for a resend at once (the list keeps its order: all get the same time). -1 when the new
 * socket could not be made.
 */
static int s_failover(struct app *a, int64_t now, const char *why)
{
    size_t from = a->cur_ep;
    struct outq *q = &a->q;

    s_close_socket(a);
    a->cur_ep = (a->cur_ep + 1) % a->nendpoints;
    a->failovers++;
    if (!a->quiet)
        fprintf(stderr, PROG ": %s: %s with %" PRIu32 " reads unacknowledged; moving to %s\n",
                a->endpoints[from], why, q->used, a->endpoints[a->cur_ep]);
    for (uint32_t i = q->head; i != S_NONE; i = q->pool[i].next)
        q->pool[i].sent_us = now - a->resend_us;
    a->heard_us = now;
    return s_open_socket(a);
}

/* Takes the monitor's events; *dropped when the connection that was up went down. */
static void s_monitor(struct app *a, bool *dropped)
{
    for (;;) {
        zmq_msg_t ev, addr;
        uint16_t event = 0;

        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, a->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&event, zmq_msg_data(&ev), 2);
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        if (more) { /* the second part: the address */
            zmq_msg_init(&addr);
            (void)zmq_msg_recv(&addr, a->mon, 0);
            zmq_msg_close(&addr);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            a->was_connected = true;
        else if (event == ZMQ_EVENT_DISCONNECTED && a->was_connected)
            *dropped = true;
    }
}

/* Sends and receives until the run is over; -1 on a fatal error. */
static int s_run(struct app *a)
{
    const int64_t t0 = util_mono_us();
    const int64_t send_end = a->duration > 0 ? t0 + (int64_t)(a->duration * 1e6) : INT64_MAX;
    const int64_t stats_us = (int64_t)(a->stats_interval * 1e6);
    int64_t next_stats = stats_us > 0 ? t0 + stats_us : INT64_MAX, last_stats = t0;
    uint64_t last_sent = 0;
    int64_t wait_end = INT64_MAX, next_ckpt = t0 + S_CKPT_MS * 1000;
    struct rate rt = {.t0 = t0, .n = 0};
    bool sending = true, blocked = false, exhausted = false;

    for (;;) {
        int64_t now = util_mono_us(), timeout_us = INT64_MAX;
        zmq_pollitem_t items[2] = {{.socket = a->sock, .events = ZMQ_POLLIN},
                                   {.socket = a->mon, .events = ZMQ_POLLIN}};
        zmq_pollitem_t *item = &items[0];

        if (cli_signal_take()) {
            if (!sending)
                break; /* second signal: stop waiting for acks */
            sending = false;
            if (!a->quiet && a->q.used > 0 && a->wait > 0)
                fprintf(stderr,
                        PROG ": stopping; waiting up to %gs for %" PRIu32
                             " acks (signal again to quit)\n",
                        a->wait, a->q.used);
        }
        uint64_t made = a->spool != NULL ? a->made : a->sent;
        if (sending &&
            (now >= send_end || (a->count > 0 && (int64_t)made >= a->count) || exhausted))
            sending = false;
        if (!sending && wait_end == INT64_MAX)
            wait_end = now + (int64_t)(a->wait * 1e6);
        if (!sending && (a->q.used == 0 || now >= wait_end))
            break;

        blocked = false;
        int rc = s_resend_due(a, now);
        if (rc < 0)
            return -1;
        blocked = rc == 0;

        if (a->spool != NULL) {
            if (s_spool_turn(a, now, sending, &rt, &timeout_us, &exhausted, &blocked) != 0)
                return -1;
        }
        for (int n = 0; a->spool == NULL && sending && !blocked && n < S_SEND_BATCH; n++) {
            if (a->q.used >= a->q.cap || (a->count > 0 && (int64_t)a->sent >= a->count))
                break;
            if (!s_rate_due(&rt, a->rate, now, &timeout_us))
                break;
            rc = s_send_new(a, now, &exhausted);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                blocked = !exhausted;
                break;
            }
            rt.n++;
        }
        if (sending && exhausted)
            continue; /* re-evaluate the end of the send phase right away */

        /* Several endpoints: silence while reads wait for an answer (or the socket will not
         * take them) moves to the next one. */
        if (a->nendpoints > 1) {
            if (a->q.head == S_NONE && !blocked && !a->have_staged)
                a->heard_us = now;
            else if (now - a->heard_us >= a->failover_us) {
                char why[64];
                snprintf(why, sizeof why, "no answer for %" PRId64 " ms", a->failover_us / 1000);
                if (s_failover(a, now, why) != 0)
                    return -1;
                continue;
            } else
                timeout_us = s_min(timeout_us, a->heard_us + a->failover_us - now);
        }
        if (blocked)
            item->events |= ZMQ_POLLOUT;
        else if (a->spool == NULL && sending && a->q.used < a->q.cap && timeout_us == INT64_MAX &&
                 !(a->count > 0 && (int64_t)a->sent >= a->count))
            timeout_us = 0; /* batch limit hit: poll for acks, then go on sending */
        if (a->q.head != S_NONE && !blocked)
            timeout_us = s_min(timeout_us, a->q.pool[a->q.head].sent_us + a->resend_us - now);
        if (sending && send_end != INT64_MAX)
            timeout_us = s_min(timeout_us, send_end - now);
        if (!sending)
            timeout_us = s_min(timeout_us, wait_end - now);
        timeout_us = s_min(timeout_us, next_stats - now);
        if (a->spool != NULL)
            timeout_us = s_min(timeout_us, next_ckpt - now);

        long timeout_ms = -1;
        if (timeout_us != INT64_MAX)
            timeout_ms = timeout_us <= 0 ? 0 : (long)((timeout_us + 999) / 1000);
        if (zmq_poll(items, a->mon != NULL ? 2 : 1, timeout_ms) < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, PROG ": poll: %s\n", zmq_strerror(zmq_errno()));
            return -1;
        }
        if ((item->revents & ZMQ_POLLIN) && s_receive(a) != 0)
            return -1;
        if (a->mon != NULL && (items[1].revents & ZMQ_POLLIN)) {
            bool dropped = false;
            s_monitor(a, &dropped);
            if (dropped && s_failover(a, util_mono_us(), "connection lost") != 0)
                return -1;
        }

        now = util_mono_us();
        if (a->spool != NULL && now >= next_ckpt) {
            s_ck_advance(a);
            next_ckpt = now + S_CKPT_MS * 1000;
        }
        if (now >= next_stats) {
            s_print_stats(a, (double)(now - t0) / 1e6, (double)(now - last_stats) / 1e6, last_sent);
            last_stats = now;
            last_sent = a->sent;
            next_stats += stats_us;
            if (next_stats <= now)
                next_stats = now + stats_us;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct app a;
    int ret = 2, rc;

    memset(&a, 0, sizeof(a));
    rc = s_parse_args(&a, argc, argv);
    if (rc != 0) {
        ret = rc > 0 ? 0 : 2;
        goto cleanup;
    }
    if (a.listed_path != NULL && s_load_listed(&a) != 0)
        goto cleanup;
    if (a.csv_path != NULL && s_load_csv(&a) != 0)
        goto cleanup;

    if (a.new_epoch && (a.spool_dir == NULL || a.have_epoch)) {
        fprintf(stderr, PROG ": --new-epoch needs --spool (and no --epoch)\n");
        ret = 2;
        goto cleanup;
    }
    if (a.spool_dir != NULL) {
        bool save = false;
        if (s_epoch_load(&a, &save) != 0 || s_spool_open(&a) != 0 ||
            (save && s_epoch_save(&a) != 0))
            goto cleanup;
    } else if (s_outq_init(&a.q, a.window) != 0) {
        fprintf(stderr, PROG ": out of memory for --window %" PRIu32 "\n", a.window);
        goto cleanup;
    }
    /* Each camera's seqs start at --start-seq; the default (now in µs) is new on every run. Past
     * the reads recovered from the spool in any case, so a seq never names two reads. */
    if (!a.have_start_seq)
        a.start_seq = util_now_us();
    for (size_t i = 0; i < a.ncams; i++) {
        if (a.cams[i].next_seq < (uint64_t)a.start_seq)
            a.cams[i].next_seq = (uint64_t)a.start_seq;
    }
    plategen_seed(&a.gen, a.have_seed ? a.seed : (uint64_t)util_now_us() ^ (uint64_t)getpid());

    cli_catch_signals();

    if (s_setup_socket(&a) != 0)
        goto cleanup;
    a.heard_us = util_mono_us();
    if (s_run(&a) != 0)
        goto cleanup;

    printf(PROG ": sent=%" PRIu64 " acked=%" PRIu64 " rejected=%" PRIu64 " resent=%" PRIu64
                " unacked=%" PRIu32,
           a.sent, a.acked, a.rejected, a.resent, a.q.used);
    if (a.skipped > 0)
        printf(" skipped=%" PRIu64, a.skipped);
    if (a.failovers > 0)
        printf(" failovers=%" PRIu64, a.failovers);
    if (a.spool != NULL)
        printf(" recovered=%" PRIu64, a.recovered);
    printf("\n");
    fflush(stdout);
    if (!a.quiet)
        s_print_reasons(&a);
    if (a.dump_path != NULL && s_write_dump(&a) != 0)
        goto cleanup;
    ret = a.q.used == 0 ? 0 : 1;

cleanup:
    s_close_socket(&a);
    if (a.ctx != NULL)
        zmq_ctx_term(a.ctx);
    if (a.spool != NULL) {
        /* What was acknowledged last leaves the backlog; the rest waits for the next run. */
        s_ck_advance(&a);
        spool_destroy(&a.spool);
    }
    free(a.ck.v);
    s_outq_free(&a.q);
    free(a.cams);
    free(a.listed);
    free(a.rows);
    free(a.acks);
    for (size_t i = 0; i < a.nendpoints; i++)
        free(a.endpoints[i]);
    return ret;
}
