/*
 * anpr-naive: the obvious reader daemon, as a baseline for the benchmarks (docs/BENCHMARKS.md).
 * Not installed, never run in production: it has no spool, no reconnect, no dispatch feed.
 *
 * One ROUTER; for each READ, in order: decode it, normalise the plate, one SELECT on the
 * watchlist (exact plate, enabled lists), one autocommit INSERT of the read and its identity
 * (anpr.plate_read and anpr.read_identity, the rows anprd writes, one statement), then the ACK.
 * Same protocol (PROTOCOL.md: READ in, ACK or REJECT out), same tables, so tools/anpr-bench e2e
 * drives it as it drives anprd and the figures stand side by side.
 *
 *   anpr-naive --endpoint EP --db CONNINFO
 *
 * Runs until SIGINT or SIGTERM, then prints one line: mode=naive reads=N acked=N rejected=N
 * matched=N. The SELECT wants an index on anpr.watchlist_entry (plate), which the schema does
 * not have (anprd never queries entries by plate): tools/anpr-benchmark makes one in its
 * throw-away database, as the naive design would.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <libpq-fe.h>

#include "cli.h"
#include "plate.h"
#include "proto.h"
#include "rid.h"

#define PROG       "anpr-naive"
#define MAX_CAMS   4096
#define NAIVE_NPAR 15

/* Every enabled entry of exactly this plate. */
static const char *const s_select =
    "SELECT e.id FROM anpr.watchlist_entry e JOIN anpr.watchlist w ON w.id = e.list_id "
    "WHERE e.plate = $1 AND w.enabled";

/* The read and its identity in one autocommit statement; a resend inserts nothing. */
static const char *const s_insert =
    "WITH i AS (INSERT INTO anpr.read_identity (camera_id, epoch, seq, read_us, digest, plate) "
    "VALUES ($2, $3, $4, $1, $15, $5) ON CONFLICT DO NOTHING RETURNING 1) "
    "INSERT INTO anpr.plate_read (read_time, camera_id, epoch, seq, plate, plate_raw, country, "
    "confidence, lane, direction, latitude, longitude, image_ref, candidates, cand_conf, "
    "received_at) SELECT to_timestamp($1::bigint / 1e6), $2, $3, $4, $5, $6, $7, $8, $9, $10, "
    "$11, $12, $13, $14, cast($16 AS smallint[]), now() FROM i";

struct cam {
    char code[PROTO_CAMERA_MAX + 1];
    int32_t id;
};

struct naive {
    PGconn *conn;
    void *router;
    struct cam cams[MAX_CAMS];
    size_t ncams;
    uint64_t reads, acked, rejected, matched;
};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --endpoint EP --db CONNINFO\n"
               "The naive baseline daemon of the benchmarks: per read one SELECT on the\n"
               "watchlist and one autocommit INSERT, then the ACK. Stops on SIGINT/SIGTERM.\n");
}

static int s_load_cams(struct naive *n)
{
    PGresult *res = PQexec(n->conn, "SELECT id, code FROM anpr.camera WHERE enabled");

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, PROG ": cameras: %s", PQerrorMessage(n->conn));
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && n->ncams < MAX_CAMS; i++) {
        struct cam *c = &n->cams[n->ncams++];
        c->id = (int32_t)strtol(PQgetvalue(res, i, 0), NULL, 10);
        snprintf(c->code, sizeof c->code, "%s", PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return 0;
}

static int32_t s_cam_id(const struct naive *n, const char *code)
{
    for (size_t i = 0; i < n->ncams; i++)
        if (strcmp(n->cams[i].code, code) == 0)
            return n->cams[i].id;
    return -1;
}

static void s_send(struct naive *n, const zmq_msg_t *id, const uint8_t *frame, size_t len)
{
    zmq_send(n->router, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size(id), ZMQ_SNDMORE);
    zmq_send(n->router, frame, len, 0);
}

static void s_reject(struct naive *n, const zmq_msg_t *id, const struct proto_read *r,
                     enum proto_reason reason, const char *text)
{
    struct proto_reject rej = {.epoch = r->epoch, .seq = r->seq, .reason = (uint16_t)reason};
    uint8_t frame[PROTO_MAX_FRAME];
    size_t len;

    snprintf(rej.camera, sizeof rej.camera, "%s", r->camera);
    snprintf(rej.text, sizeof rej.text, "%s", text);
    if ((len = proto_encode_reject(&rej, frame, sizeof frame)) == 0) {
        rej.camera[0] = '\0';
        rej.epoch = 0;
        len = proto_encode_reject(&rej, frame, sizeof frame);
    }
    if (len > 0)
        s_send(n, id, frame, len);
    n->rejected++;
}

/* An array literal of the candidates' plates or confidences ("{}" when none). */
static void s_cands(const struct proto_read *r, bool conf, char *out, size_t cap)
{
    size_t len = 0;

    len += (size_t)snprintf(out, cap, "{");
    for (uint8_t i = 0; i < r->ncand && len < cap; i++) {
        if (conf)
            len += (size_t)snprintf(out + len, cap - len, "%s%u", i ? "," : "",
                                    (unsigned)r->cand[i].confidence);
        else /* plates hold no quote or backslash (proto_plate_check) */
            len +=
                (size_t)snprintf(out + len, cap - len, "%s\"%s\"", i ? "," : "", r->cand[i].plate);
    }
    if (len < cap)
        snprintf(out + len, cap - len, "}");
}

static void s_read(struct naive *n, const zmq_msg_t *id, const uint8_t *buf, size_t len)
{
    struct proto_read r;
    struct proto_error perr;
    char norm[PLATE_MAX + 1];

    n->reads++;
    if (proto_decode_read(buf, len, &r, &perr) != 0) {
        s_reject(n, id, &r, perr.reason, perr.msg);
        return;
    }
    int32_t cam = s_cam_id(n, r.camera);
    if (cam < 0) {
        s_reject(n, id, &r, PROTO_E_CAMERA, "unknown camera");
        return;
    }
    if (plate_normalise(r.plate, norm) != PLATE_OK) {
        s_reject(n, id, &r, PROTO_E_FIELD, "plate does not normalise");
        return;
    }

    const char *sel[1] = {norm};
    PGresult *res = PQexecParams(n->conn, s_select, 1, NULL, sel, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, PROG ": select: %s", PQerrorMessage(n->conn));
        PQclear(res);
        s_reject(n, id, &r, PROTO_E_OVERLOAD, "database error; resend later");
        return;
    }
    n->matched += PQntuples(res) > 0;
    PQclear(res);

    char p[NAIVE_NPAR + 1][256];
    const char *par[NAIVE_NPAR + 1];
    snprintf(p[0], sizeof p[0], "%" PRId64, r.time_us);
    snprintf(p[1], sizeof p[1], "%" PRId32, cam);
    snprintf(p[2], sizeof p[2], "%" PRIu32, r.epoch);
    snprintf(p[3], sizeof p[3], "%" PRIu64, r.seq);
    snprintf(p[4], sizeof p[4], "%s", norm);
    snprintf(p[5], sizeof p[5], "%s", r.plate);
    snprintf(p[6], sizeof p[6], "%s", r.country);
    snprintf(p[7], sizeof p[7], "%u", (unsigned)r.confidence);
    snprintf(p[8], sizeof p[8], "%u", (unsigned)r.lane);
    snprintf(p[9], sizeof p[9], "%u", (unsigned)r.direction);
    snprintf(p[10], sizeof p[10], "%.7f", r.lat_e7 / 1e7);
    snprintf(p[11], sizeof p[11], "%.7f", r.lon_e7 / 1e7);
    snprintf(p[12], sizeof p[12], "%s", r.image_ref);
    s_cands(&r, false, p[13], sizeof p[13]);
    snprintf(p[14], sizeof p[14], "%" PRId64, (int64_t)rid_digest(&r));
    s_cands(&r, true, p[15], sizeof p[15]);
    for (int i = 0; i <= NAIVE_NPAR; i++)
        par[i] = p[i];
    if (!r.has_position)
        par[10] = par[11] = NULL;
    res = PQexecParams(n->conn, s_insert, NAIVE_NPAR + 1, NULL, par, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, PROG ": insert: %s", PQerrorMessage(n->conn));
        PQclear(res);
        s_reject(n, id, &r, PROTO_E_OVERLOAD, "database error; resend later");
        return;
    }
    PQclear(res);

    struct proto_ack_range ack = {.epoch = r.epoch, .first_seq = r.seq, .count = 1};
    uint8_t frame[PROTO_MAX_FRAME];
    snprintf(ack.camera, sizeof ack.camera, "%s", r.camera);
    size_t flen = proto_encode_ack(&ack, 1, frame, sizeof frame);
    if (flen > 0) {
        s_send(n, id, frame, flen);
        n->acked++;
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct naive n;
    const char *endpoint = NULL, *db = NULL;
    void *ctx = NULL;
    int opt, rc = 1;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            endpoint = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            cli_getopt_fail(PROG, opt, argc, argv);
            return 2;
        }
    }
    if (cli_no_operands(PROG, argc, argv) != 0)
        return 2;
    if (!endpoint || !db) {
        cli_usage_error(PROG, "--endpoint and --db are required");
        return 2;
    }

    n.conn = PQconnectdb(db);
    if (PQstatus(n.conn) != CONNECTION_OK) {
        fprintf(stderr, PROG ": %s", PQerrorMessage(n.conn));
        goto out;
    }
    if (s_load_cams(&n) != 0)
        goto out;
    ctx = zmq_ctx_new();
    n.router = ctx ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
    /* One ACK frame per read: a camera with thousands in flight would pass the default send
     * high-water mark, where a ROUTER drops frames (anprd sends ranges, far fewer). */
    int unlimited = 0;
    if (n.router)
        zmq_setsockopt(n.router, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    if (!n.router || zmq_bind(n.router, endpoint) != 0) {
        fprintf(stderr, PROG ": bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto out;
    }
    cli_catch_signals();
    printf(PROG ": ready: %zu cameras\n", n.ncams);
    fflush(stdout);
    while (!cli_signal_take()) {
        zmq_pollitem_t item = {n.router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 200) <= 0)
            continue;
        zmq_msg_t id, frame;
        zmq_msg_init(&id);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&id, n.router, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&id) &&
            zmq_msg_recv(&frame, n.router, 0) >= 0)
            s_read(&n, &id, zmq_msg_data(&frame), zmq_msg_size(&frame));
        /* Any further parts of a malformed message are dropped. */
        while (zmq_msg_more(&frame) && zmq_msg_recv(&frame, n.router, 0) >= 0)
            ;
        zmq_msg_close(&frame);
        zmq_msg_close(&id);
    }
    printf("mode=naive reads=%" PRIu64 " acked=%" PRIu64 " rejected=%" PRIu64 " matched=%" PRIu64
           "\n",
           n.reads, n.acked, n.rejected, n.matched);
    rc = 0;
out:
    if (n.router)
        zmq_close(n.router);
    if (ctx)
        zmq_ctx_term(ctx);
    PQfinish(n.conn);
    return rc;
}
