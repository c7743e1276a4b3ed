/*
 * anpr-backbone-sink: the reference receiver of the backbone link (proto/BACKBONE.md), for
 * tests and the demo. Requires client certificates, serves one connection at a time, checks
 * every frame, appends each new message to --out as one TSV line and fsyncs before it
 * acknowledges, and recognises resends by (instance, epoch, id), also across its own restarts
 * (it reads --out back at start).
 */
#include "bb.h"
#include "cli.h"
#include "config.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "anpr-backbone-sink"

#define S_BATCH_MAX 256   /* frames stored with one fsync and acknowledged with one ACK */
#define S_IO_MS     10000 /* handshake, and the rest of a frame once its first byte came */
#define S_TICK_MS   200   /* how often a wait looks at the signal flag */
#define S_LINE_MAX  1024  /* one TSV line; every field is bounded well below this in total */
#define S_KEY_MAX   (BB_INSTANCE_MAX + 48)

struct app {
    const char *host, *port, *cert, *key, *ca, *out, *name;
    long long ack_delay_ms;
    bool count_only;

    SSL_CTX *ctx;
    int listen_fd, out_fd;
    bool stop;

    /* the ids stored so far: an open-addressing set of "instance epoch id" keys */
    char **keys;
    size_t nkeys, cap;

    uint64_t received, unique, duplicates, rejected, connections;
};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --listen HOST:PORT --cert F --key F --ca F --out FILE [options]\n"
               "\n"
               "Reference backbone server: receives HITs and READs from anprd over TLS,\n"
               "stores each once in FILE (fsync before the ACK) and acknowledges them.\n"
               "\n"
               "  --listen HOST:PORT   address to listen on (HOST * = all)\n"
               "  --cert F, --key F    server certificate chain and its unencrypted key (PEM)\n"
               "  --ca F               CA of the client certificates (required from clients)\n"
               "  --out FILE           messages, one TSV line each, id first (appended)\n"
               "  --ack-delay-ms N     wait N ms before each ACK (tests, default 0)\n"
               "  --count-only         do not write FILE (--out not needed); still dedupe\n"
               "  --name NAME          server name sent in HELLO (default " PROG ")\n"
               "  --help, --version\n"
               "\n"
               "On SIGTERM or SIGINT it prints: received N unique N duplicates N rejected N\n");
}

/* ---- the set of stored ids ---- */

static uint64_t s_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static size_t s_slot(const struct app *a, const char *key)
{
    size_t i = s_hash(key) & (a->cap - 1);

    while (a->keys[i] != NULL && strcmp(a->keys[i], key) != 0)
        i = (i + 1) & (a->cap - 1);
    return i;
}

static bool s_seen(const struct app *a, const char *key)
{
    return a->cap > 0 && a->keys[s_slot(a, key)] != NULL;
}

static int s_remember(struct app *a, const char *key)
{
    size_t i;

    if ((a->nkeys + 1) * 2 > a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 1024, old = a->cap;
        char **okeys = a->keys;

        a->keys = calloc(ncap, sizeof *a->keys);
        if (a->keys == NULL) {
            a->keys = okeys;
            return -1;
        }
        a->cap = ncap;
        for (size_t k = 0; k < old; k++)
            if (okeys[k] != NULL)
                a->keys[s_slot(a, okeys[k])] = okeys[k];
        free(okeys);
    }
    i = s_slot(a, key);
    if (a->keys[i] != NULL)
        return 0;
    a->keys[i] = strdup(key);
    if (a->keys[i] == NULL)
        return -1;
    a->nkeys++;
    return 0;
}

static void s_key(char *buf, size_t len, const char *instance, uint64_t epoch, uint64_t id)
{
    snprintf(buf, len, "%s %" PRIu64 " %" PRIu64, instance, epoch, id);
}

/*
 * Read back what earlier runs stored. A last line without its newline was being written when
 * the sink died; it was never acknowledged (the ACK follows the fsync), so it is cut off and
 * the sender will send it again.
 */
static int s_load(struct app *a)
{
    size_t len = 0, good;
    char *data = util_read_file(a->out, &len), *line, *save = NULL;

    if (data == NULL)
        return errno == ENOENT ? 0 : -1;
    good = len;
    while (good > 0 && data[good - 1] != '\n')
        good--;
    if (good < len) {
        fprintf(stderr, PROG ": %s: dropping an incomplete last line (%zu bytes)\n", a->out,
                len - good);
        if (truncate(a->out, (off_t)good) != 0) {
            free(data);
            return -1;
        }
    }
    data[good] = '\0';
    for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char key[S_KEY_MAX], inst[BB_INSTANCE_MAX + 1];
        unsigned long long id, epoch;

        if (sscanf(line, "%llu\t%64[^\t]\t%llu", &id, inst, &epoch) != 3)
            continue;
        s_key(key, sizeof key, inst, epoch, id);
        if (s_remember(a, key) != 0) {
            free(data);
            return -1;
        }
    }
    free(data);
    fprintf(stderr, PROG ": %s: %zu messages stored by earlier runs\n", a->out, a->nkeys);
    return 0;
}

/* ---- one connection ---- */

static int s_send_frame(struct app *a, tls_conn_t *c, const uint8_t *buf, size_t n)
{
    char err[512];

    (void)a;
    if (n == 0 || tls_write_all(c, buf, n, S_IO_MS, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", n == 0 ? "cannot encode an answer" : err);
        return -1;
    }
    return 0;
}

static void s_nack(struct app *a, tls_conn_t *c, uint64_t id, enum bb_reason reason,
                   const char *text)
{
    struct bb_nack n = {.id = id, .reason = (uint16_t)reason};
    uint8_t buf[BB_MAX_FRAME];

    snprintf(n.text, sizeof n.text, "%s", text);
    fprintf(stderr, PROG ": %s: NACK id %" PRIu64 " %s: %s\n", tls_peer_addr(c), id,
            bb_reason_name(reason), text);
    s_send_frame(a, c, buf, bb_encode_nack(&n, buf, sizeof buf));
}

/* Wait for the next frame, looking at the stop flag: 1 readable, 0 stop, -1 error. */
static int s_wait(struct app *a, tls_conn_t *c, int max_ms)
{
    int64_t end = util_mono_us() + (int64_t)max_ms * 1000;
    char err[512];

    while (!a->stop) {
        int rc = tls_wait_readable(c, S_TICK_MS, err, sizeof err);

        if (cli_signal_take())
            a->stop = true;
        if (rc != 0)
            return rc;
        if (max_ms >= 0 && util_mono_us() >= end)
            return -1;
    }
    return 0;
}

/* Read one frame into buf: 0, 1 peer closed, -1 error (answered with NACK 0 when it is ours). */
static int s_read(struct app *a, tls_conn_t *c, uint8_t *buf, uint8_t *type, size_t *len)
{
    char err[512];
    struct bb_error e;
    int rc = tls_read_all(c, buf, BB_HDR_LEN, S_IO_MS, err, sizeof err);

    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, PROG ": %s\n", err);
        return rc;
    }
    if (bb_header(buf, BB_HDR_LEN, type, len, &e) != 0) {
        a->rejected++;
        s_nack(a, c, 0, e.reason, e.msg);
        return -1;
    }
    if (*len > BB_HDR_LEN &&
        tls_read_all(c, buf + BB_HDR_LEN, *len - BB_HDR_LEN, S_IO_MS, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    return 0;
}

/* A message as one TSV line: id instance epoch type, then its fields. */
static size_t s_line(char *buf, size_t cap, const struct bb_hello *peer, uint8_t type,
                     const struct bb_hit *h, const struct bb_read *r)
{
    int n;

    if (type == BB_HIT)
        n = snprintf(buf, cap,
                     "%" PRIu64 "\t%s\t%" PRIu64 "\tHIT\t%s\t%" PRIu64 "\t%" PRId64
                     "\t%s\t%s\t%s\t%" PRIu64 "\t%" PRIu32 "\t%u\t%s\t%s\t%s\t%s\t%s\t%s\n",
                     h->id, peer->instance, peer->epoch, h->camera, h->seq, h->time_us, h->plate,
                     h->plate_norm, h->country, h->entry_id, h->list_id, (unsigned)h->priority,
                     proto_match_name(h->match), h->category, h->list, h->entry_plate,
                     h->external_ref, (h->flags & BB_HIT_COVERT) ? "covert" : "-");
    else
        n = snprintf(buf, cap,
                     "%" PRIu64 "\t%s\t%" PRIu64 "\tREAD\t%s\t%" PRIu64 "\t%" PRId64
                     "\t%s\t%s\t%s\t%u\t%u\t%u\t%s\n",
                     r->id, peer->instance, peer->epoch, r->camera, r->seq, r->time_us, r->plate,
                     r->plate_norm, r->country, (unsigned)r->confidence, (unsigned)r->lane,
                     (unsigned)r->direction, r->image_ref);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct batch {
    char *text; /* TSV lines of the new messages */
    size_t len;
    char keys[S_BATCH_MAX][S_KEY_MAX]; /* their keys, remembered once stored */
    size_t nkeys;
    uint64_t upto; /* highest id of the batch, new or duplicate */
    bool any;
};

/* Store the batch (write, fsync) and acknowledge it. -1: the connection is to be closed. */
static int s_commit(struct app *a, tls_conn_t *c, struct batch *b)
{
    uint8_t buf[BB_MAX_FRAME];

    if (!b->any)
        return 0;
    if (!a->count_only && b->len > 0 &&
        (s_write_all(a->out_fd, b->text, b->len) != 0 || fsync(a->out_fd) != 0)) {
        char why[300];
        snprintf(why, sizeof why, "cannot store: %s", strerror(errno));
        s_nack(a, c, 0, BB_E_STORAGE, why);
        return -1;
    }
    for (size_t i = 0; i < b->nkeys; i++) {
        if (s_remember(a, b->keys[i]) != 0) {
            s_nack(a, c, 0, BB_E_STORAGE, "out of memory");
            return -1;
        }
    }
    a->unique += b->nkeys;
    if (a->ack_delay_ms > 0)
        poll(NULL, 0, (int)a->ack_delay_ms);
    if (s_send_frame(a, c, buf, bb_encode_ack(b->upto, buf, sizeof buf)) != 0)
        return -1;
    b->len = b->nkeys = 0;
    b->any = false;
    return 0;
}

/* One message frame: decoded, checked, added to the batch. 0, or -1 to close. */
static int s_message(struct app *a, tls_conn_t *c, const struct bb_hello *peer, uint8_t *buf,
                     uint8_t type, size_t len, uint64_t *prev, struct batch *b)
{
    struct bb_hit h;
    struct bb_read r;
    struct bb_error e;
    char key[S_KEY_MAX];
    uint64_t id;
    int rc;

    if (type == BB_HIT) {
        rc = bb_decode_hit(buf, len, &h, &e);
        id = h.id;
    } else {
        rc = bb_decode_read(buf, len, &r, &e);
        id = r.id;
    }
    if (rc != 0 && id == 0) {
        a->rejected++;
        s_nack(a, c, 0, e.reason, e.msg);
        return -1;
    }
    if (id <= *prev) {
        char why[120];
        a->rejected++;
        snprintf(why, sizeof why, "id %" PRIu64 " after %" PRIu64, id, *prev);
        s_nack(a, c, 0, BB_E_ORDER, why);
        return -1;
    }
    *prev = id;
    b->upto = id;
    b->any = true;
    if (rc != 0) {
        /* refused for good; the cumulative ACK covers it too */
        a->rejected++;
        s_nack(a, c, id, e.reason, e.msg);
        return 0;
    }
    a->received++;
    s_key(key, sizeof key, peer->instance, peer->epoch, id);
    if (s_seen(a, key)) {
        a->duplicates++;
        return 0;
    }
    if (!a->count_only) {
        char line[S_LINE_MAX];
        size_t n = s_line(line, sizeof line, peer, type, &h, &r);
        memcpy(b->text + b->len, line, n);
        b->len += n;
    }
    snprintf(b->keys[b->nkeys++], S_KEY_MAX, "%s", key);
    return 0;
}

static void s_serve(struct app *a, tls_conn_t *c)
{
    uint8_t buf[BB_MAX_FRAME], type;
    size_t len;
    struct bb_hello peer, mine;
    struct bb_error e;
    struct batch *b = calloc(1, sizeof *b);
    uint64_t prev = 0;
    int rc;

    if (b == NULL || (b->text = malloc(S_BATCH_MAX * S_LINE_MAX)) == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    rc = s_wait(a, c, S_IO_MS);
    if (rc <= 0 || s_read(a, c, buf, &type, &len) != 0)
        goto out;
    if (type != BB_HELLO) {
        a->rejected++;
        s_nack(a, c, 0, BB_E_HELLO, "the first frame must be a HELLO");
        goto out;
    }
    if (bb_decode_hello(buf, len, &peer, &e) != 0) {
        a->rejected++;
        s_nack(a, c, 0, e.reason, e.msg);
        goto out;
    }
    memset(&mine, 0, sizeof mine);
    snprintf(mine.instance, sizeof mine.instance, "%s", a->name);
    snprintf(mine.software, sizeof mine.software, PROG " %s", ANPR_VERSION);
    if (s_send_frame(a, c, buf, bb_encode_hello(&mine, buf, sizeof buf)) != 0)
        goto out;
    fprintf(stderr,
            PROG ": %s: HELLO from instance %s, epoch %" PRIu64 ", window %" PRIu32 "%s%s\n",
            tls_peer_addr(c), peer.instance, peer.epoch, peer.window, peer.software[0] ? ", " : "",
            peer.software);

    for (;;) {
        /* wait for the first frame of a batch; then take what is already there */
        rc = b->any ? tls_wait_readable(c, 0, NULL, 0) : s_wait(a, c, -1);
        if (rc < 0 && !b->any)
            break;
        if (rc <= 0 || b->nkeys == S_BATCH_MAX) {
            if (s_commit(a, c, b) != 0 || a->stop)
                break;
            continue;
        }
        rc = s_read(a, c, buf, &type, &len);
        if (rc != 0) {
            s_commit(a, c, b); /* what came before the end is stored and acknowledged */
            if (rc > 0)
                fprintf(stderr, PROG ": %s: closed by the sender\n", tls_peer_addr(c));
            break;
        }
        if (type != BB_HIT && type != BB_READ) {
            char why[80];
            a->rejected++;
            s_commit(a, c, b);
            snprintf(why, sizeof why, "type %u (%s) not expected from a sender", (unsigned)type,
                     bb_type_name(type));
            s_nack(a, c, 0, BB_E_TYPE, why);
            break;
        }
        if (s_message(a, c, &peer, buf, type, len, &prev, b) != 0) {
            s_commit(a, c, b);
            break;
        }
    }
out:
    if (b)
        free(b->text);
    free(b);
}

/* ---- main ---- */

enum {
    OPT_LISTEN = 256,
    OPT_CERT,
    OPT_KEY,
    OPT_CA,
    OPT_OUT,
    OPT_DELAY,
    OPT_COUNT_ONLY,
    OPT_NAME,
    OPT_HELP,
    OPT_VERSION
};

static const struct option s_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"ca", required_argument, NULL, OPT_CA},
    {"out", required_argument, NULL, OPT_OUT},
    {"ack-delay-ms", required_argument, NULL, OPT_DELAY},
    {"count-only", no_argument, NULL, OPT_COUNT_ONLY},
    {"name", required_argument, NULL, OPT_NAME},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* HOST:PORT, [V6]:PORT or *:PORT; splits in place. */
static int s_split_listen(char *arg, const char **host, const char **port)
{
    char *colon = strrchr(arg, ':');

    if (colon == NULL || colon[1] == '\0' || colon == arg)
        return -1;
    *colon = '\0';
    *port = colon + 1;
    if (arg[0] == '[' && colon[-1] == ']') {
        colon[-1] = '\0';
        arg++;
    }
    *host = arg;
    return 0;
}

static int s_parse_args(struct app *a, int argc, char **argv)
{
    int opt;

    a->name = PROG;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", s_options, NULL)) != -1) {
        switch (opt) {
        case OPT_LISTEN:
            if (s_split_listen(optarg, &a->host, &a->port) != 0)
                return cli_bad_value(PROG, "--listen", optarg, "HOST:PORT");
            break;
        case OPT_CERT:
            a->cert = optarg;
            break;
        case OPT_KEY:
            a->key = optarg;
            break;
        case OPT_CA:
            a->ca = optarg;
            break;
        case OPT_OUT:
            a->out = optarg;
            break;
        case OPT_DELAY:
            if (util_parse_long(optarg, 0, 60000, &a->ack_delay_ms) != 0)
                return cli_bad_value(PROG, "--ack-delay-ms", optarg, "0..60000");
            break;
        case OPT_COUNT_ONLY:
            a->count_only = true;
            break;
        case OPT_NAME:
            a->name = optarg;
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
    if (a->host == NULL || a->cert == NULL || a->key == NULL || a->ca == NULL)
        return cli_usage_error(PROG, "--listen, --cert, --key and --ca are required");
    if (a->out == NULL && !a->count_only)
        return cli_usage_error(PROG, "--out is required (or --count-only)");
    {
        struct bb_hello h = {0};
        uint8_t buf[BB_MAX_FRAME];
        snprintf(h.instance, sizeof h.instance, "%s", a->name);
        if (strlen(a->name) > BB_INSTANCE_MAX || bb_encode_hello(&h, buf, sizeof buf) == 0)
            return cli_bad_value(PROG, "--name", a->name, "1..64 of [A-Za-z0-9._:-]");
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct app a = {.listen_fd = -1, .out_fd = -1};
    char err[512];
    int rc = s_parse_args(&a, argc, argv), status = 1;

    if (rc != 0)
        return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    cli_catch_signals();

    a.ctx = tls_server_ctx_new(a.cert, a.key, a.ca, err, sizeof err);
    if (a.ctx == NULL) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    if (!a.count_only) {
        if (s_load(&a) != 0) {
            fprintf(stderr, PROG ": %s: %s\n", a.out, strerror(errno));
            goto out;
        }
        a.out_fd = open(a.out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (a.out_fd < 0) {
            fprintf(stderr, PROG ": %s: %s\n", a.out, strerror(errno));
            goto out;
        }
    }
    a.listen_fd = tls_listen(a.host, a.port, err, sizeof err);
    if (a.listen_fd < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    fprintf(stderr, PROG ": listening on %s:%d\n", a.host, tls_local_port(a.listen_fd));

    while (!a.stop) {
        bool timed_out;
        tls_conn_t *c = tls_accept(a.ctx, a.listen_fd, S_TICK_MS, &timed_out, err, sizeof err);
        char subject[512];

        if (cli_signal_take())
            a.stop = true;
        if (c == NULL) {
            if (!timed_out)
                fprintf(stderr, PROG ": refused: %s\n", err);
            continue;
        }
        a.connections++;
        tls_peer_subject(c, subject, sizeof subject);
        fprintf(stderr, PROG ": %s: connected, %s, client certificate %s\n", tls_peer_addr(c),
                tls_version_name(c), subject);
        s_serve(&a, c);
        tls_close(&c);
    }
    status = 0;
    printf("received %" PRIu64 " unique %" PRIu64 " duplicates %" PRIu64 " rejected %" PRIu64 "\n",
           a.received, a.unique, a.duplicates, a.rejected);
    fflush(stdout);
out:
    if (a.listen_fd >= 0)
        close(a.listen_fd);
    if (a.out_fd >= 0)
        close(a.out_fd);
    tls_ctx_destroy(&a.ctx);
    for (size_t i = 0; i < a.cap; i++)
        free(a.keys[i]);
    free(a.keys);
    return status;
}
