/*
 * test_reply: ACKs and REJECTs to readers over a real ROUTER and two DEALERs on inproc. A
 * batch's reads become one range per run of sequence numbers, each reader gets its own frames,
 * version 1 and version 2 ranges never share a frame, a resend in the batch is acknowledged
 * once, a conflict and a refused row are rejected instead; a reader that has gone is counted;
 * one REJECT per reason per interval is told, with how many were kept quiet.
 */
#include "reply.h"

#include "check.h"

#include <stdlib.h>
#include <zmq.h>

struct told {
    size_t n;
    uint16_t reason;
    uint64_t quiet;
    char camera[PROTO_CAMERA_MAX + 1];
    char msg[PROTO_REASON_TEXT_MAX + 1];
};

static void s_rejected(void *ctx, const struct proto_reject *rej, const char *msg, uint64_t quiet)
{
    struct told *t = ctx;

    t->n++;
    t->reason = rej->reason;
    t->quiet = quiet;
    snprintf(t->camera, sizeof t->camera, "%s", rej->camera);
    snprintf(t->msg, sizeof t->msg, "%s", msg);
}

/* A DEALER with routing id `name`, known to the ROUTER once its hello has been taken. */
static void *s_dealer(void *ctx, void *router, const char *name)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int wait_ms = 10000;
    uint8_t buf[64];

    zmq_setsockopt(d, ZMQ_ROUTING_ID, name, strlen(name));
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
    CHECK_INT(zmq_connect(d, "inproc://test-reply"), 0);
    CHECK_INT(zmq_send(d, "hello", 5, 0), 5);
    CHECK_INT(zmq_recv(router, buf, sizeof buf, 0), (int)strlen(name));
    CHECK_INT(zmq_recv(router, buf, sizeof buf, 0), 5);
    return d;
}

/* The next frame a DEALER gets (waiting up to its receive timeout); its length, -1 if none. */
static int s_next(void *d, uint8_t *frame, size_t cap)
{
    return zmq_recv(d, frame, cap, 0);
}

/* Nothing more waiting for d: a frame sent after every expected one arrives first, in order. */
static void s_nothing_more(void *router, void *d, const char *name)
{
    uint8_t frame[PROTO_MAX_FRAME];

    CHECK_INT(zmq_send(router, name, strlen(name), ZMQ_SNDMORE), (int)strlen(name));
    CHECK_INT(zmq_send(router, "end", 3, 0), 3);
    CHECK_INT(s_next(d, frame, sizeof frame), 3);
}

static void s_add(struct batch *b, const char *reader, const char *camera, uint32_t epoch,
                  uint64_t seq)
{
    struct proto_read r;

    memset(&r, 0, sizeof r);
    snprintf(r.camera, sizeof r.camera, "%s", camera);
    snprintf(r.plate, sizeof r.plate, "1ABC123");
    snprintf(r.country, sizeof r.country, "BE");
    r.seq = seq;
    r.epoch = epoch;
    r.time_us = 1764400000000000LL + (int64_t)seq;
    CHECK_INT(batch_add(b, &r, seq, 42, "1ABC123", r.time_us, (const uint8_t *)reader,
                        strlen(reader), NULL, NULL, NULL, 0),
              0);
}

static void s_check_ack(void *d, size_t nwant, const struct proto_ack_range *want)
{
    uint8_t frame[PROTO_MAX_FRAME];
    struct proto_ack_range got[PROTO_ACK_MAX_RANGES];
    struct proto_error perr;
    size_t n = 0;
    int len = s_next(d, frame, sizeof frame);

    CHECK(len > 0);
    if (len <= 0)
        return;
    CHECK_INT(proto_decode_ack(frame, (size_t)len, got, PROTO_ACK_MAX_RANGES, &n, &perr), 0);
    CHECK_INT(n, nwant);
    for (size_t i = 0; i < n && i < nwant; i++) {
        CHECK_STR(got[i].camera, want[i].camera);
        CHECK_INT(got[i].epoch, want[i].epoch);
        CHECK_INT(got[i].first_seq, want[i].first_seq);
        CHECK_INT(got[i].count, want[i].count);
    }
}

static void s_check_reject(void *d, const char *camera, uint32_t epoch, uint64_t seq,
                           enum proto_reason reason)
{
    uint8_t frame[PROTO_MAX_FRAME];
    struct proto_reject rej;
    struct proto_error perr;
    int len = s_next(d, frame, sizeof frame);

    CHECK(len > 0);
    if (len <= 0)
        return;
    CHECK_INT(proto_decode_reject(frame, (size_t)len, &rej, &perr), 0);
    CHECK_STR(rej.camera, camera);
    CHECK_INT(rej.epoch, epoch);
    CHECK_INT(rej.seq, seq);
    CHECK_INT(rej.reason, reason);
}

int main(void)
{
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, wait_ms = 10000;
    struct stats st;
    struct told told;
    struct metrics_hist lat;

    memset(&st, 0, sizeof st);
    memset(&told, 0, sizeof told);
    memset(&lat, 0, sizeof lat);
    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
    CHECK_INT(zmq_bind(router, "inproc://test-reply"), 0);
    void *a = s_dealer(ctx, router, "reader-a");
    void *b = s_dealer(ctx, router, "reader-b");

    reply_t *rp = reply_new(
        &(struct reply_io){.ctx = &told, .router = router, .stats = &st, .rejected = s_rejected},
        3600LL * 1000000);
    CHECK(rp != NULL);
    reply_set_latency(rp, &lat);

    /* Reader a: CAM-1 seqs 3, 1, 2 (one run), 2 again (a resend), 5; CAM-1 epoch 9 seq 1
     * (version 2: a frame of its own); seq 7 a conflict, seq 8 refused by the database.
     * Reader b: CAM-2 seq 10. */
    struct batch *bt = batch_new();
    s_add(bt, "reader-a", "CAM-1", 0, 3);
    s_add(bt, "reader-b", "CAM-2", 0, 10);
    s_add(bt, "reader-a", "CAM-1", 0, 1);
    s_add(bt, "reader-a", "CAM-1", 9, 1);
    s_add(bt, "reader-a", "CAM-1", 0, 2);
    s_add(bt, "reader-a", "CAM-1", 0, 2);
    s_add(bt, "reader-a", "CAM-1", 0, 5);
    s_add(bt, "reader-a", "CAM-1", 0, 7);
    s_add(bt, "reader-a", "CAM-1", 0, 8);
    bt->acks[7].fate = BATCH_CONFLICT;
    bt->conflicts = 1;
    snprintf(bt->acks[8].refused, sizeof bt->acks[8].refused, "22001");
    bt->refused = 1;
    reply_ack_batch(rp, bt);

    /* Sorted by epoch within a camera: the refused reads go at once, the version 1 ranges
     * when the version 2 one comes, which goes last. */
    s_check_reject(a, "CAM-1", 0, 7, PROTO_E_CONFLICT);
    s_check_reject(a, "CAM-1", 0, 8, PROTO_E_FIELD);
    s_check_ack(a, 2, (struct proto_ack_range[]){{"CAM-1", 0, 1, 3}, {"CAM-1", 0, 5, 1}});
    s_check_ack(a, 1, (struct proto_ack_range[]){{"CAM-1", 9, 1, 1}});
    s_nothing_more(router, a, "reader-a");
    s_check_ack(b, 1, (struct proto_ack_range[]){{"CAM-2", 0, 10, 1}});
    s_nothing_more(router, b, "reader-b");
    CHECK_INT(st.reads_acked, 7);
    CHECK_INT(st.rejects[PROTO_E_CONFLICT], 1);
    CHECK_INT(st.rejects[PROTO_E_FIELD], 1);
    CHECK_INT(st.acks_unroutable, 0);
    CHECK_INT(lat.count, 7);
    /* The first REJECT of each reason is told; none was kept quiet before it. */
    CHECK_INT(told.n, 2);
    CHECK_INT(told.reason, PROTO_E_FIELD);
    CHECK_INT(told.quiet, 0);
    CHECK_CONTAINS(told.msg, "SQLSTATE 22001");

    /* Within the interval, a REJECT of a reason told already is sent but not told. */
    struct proto_read r;
    memset(&r, 0, sizeof r);
    snprintf(r.camera, sizeof r.camera, "CAM-1");
    r.seq = 11;
    r.epoch = 4;
    reply_reject_read(rp, (const uint8_t *)"reader-b", 8, &r, PROTO_E_CONFLICT, "%s",
                      REPLY_CONFLICT_TEXT);
    s_check_reject(b, "CAM-1", 4, 11, PROTO_E_CONFLICT);
    CHECK_INT(told.n, 2);
    /* An invalid camera code is not echoed back, nor its seq. */
    reply_reject_reason(rp, (const uint8_t *)"reader-b", 8, "bad code!", 12, PROTO_E_CONFLICT,
                        "conflict %d", 12);
    s_check_reject(b, "", 0, 0, PROTO_E_CONFLICT);
    CHECK_INT(told.n, 2);
    CHECK_INT(st.rejects[PROTO_E_CONFLICT], 3);
    /* Past the interval: told, with the two kept quiet. */
    reply_set_interval(rp, 0);
    reply_reject_reason(rp, (const uint8_t *)"reader-b", 8, "CAM-2", 13, PROTO_E_CONFLICT,
                        "conflict %d", 13);
    s_check_reject(b, "CAM-2", 0, 13, PROTO_E_CONFLICT);
    CHECK_INT(told.n, 3);
    CHECK_INT(told.quiet, 2);
    CHECK_STR(told.camera, "CAM-2");
    CHECK_STR(told.msg, "conflict 13");

    /* A reader that is not there: counted, for the ACK and for the REJECT. */
    batch_reset(bt);
    s_add(bt, "reader-z", "CAM-3", 0, 1);
    reply_ack_batch(rp, bt);
    reply_reject_reason(rp, (const uint8_t *)"reader-z", 8, NULL, 0, PROTO_E_TYPE, "type");
    CHECK_INT(st.acks_unroutable, 2);
    CHECK_INT(st.reads_acked, 8);

    batch_destroy(&bt);
    reply_destroy(&rp);
    reply_destroy(&rp);
    CHECK(rp == NULL);
    zmq_close(a);
    zmq_close(b);
    zmq_close(router);
    zmq_ctx_term(ctx);
    return check_done("test_reply");
}
