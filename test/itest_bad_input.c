/*
 * Integration: every kind of malformed frame or invalid read is refused with the right reason,
 * sent back to the reader, counted, and the daemon keeps acknowledging valid reads in between.
 *
 * Frames are built here byte by byte from proto/PROTOCOL.md, not with the codec, so the test
 * also checks that the daemon speaks the documented format.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "CAM-BAD"

struct frame {
    uint8_t b[8192];
    size_t len;
};

static void s_u8(struct frame *f, unsigned v)
{
    f->b[f->len++] = (uint8_t)v;
}

static void s_be(struct frame *f, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        f->b[f->len++] = (uint8_t)(v >> (8 * i));
}

static void s_str8(struct frame *f, const void *s, size_t n)
{
    s_u8(f, (unsigned)n);
    memcpy(f->b + f->len, s, n);
    f->len += n;
}

/* A READ frame per PROTOCOL.md, with the plate given as raw bytes. */
static struct frame s_read_frame(const char *camera, uint64_t seq, int64_t time_us,
                                 const void *plate, size_t plate_len, const char *country,
                                 unsigned confidence)
{
    struct frame f = {.len = 0};

    s_u8(&f, 'A');
    s_u8(&f, 'N');
    s_u8(&f, 1);
    s_u8(&f, 1);
    s_be(&f, 0, 4); /* body length, set below */
    s_be(&f, seq, 8);
    s_be(&f, (uint64_t)time_us, 8);
    s_be(&f, confidence, 2);
    s_u8(&f, 1); /* lane */
    s_u8(&f, 1); /* direction */
    s_u8(&f, 0); /* flags */
    s_u8(&f, 0); /* ncand */
    s_str8(&f, camera, strlen(camera));
    s_str8(&f, plate, plate_len);
    s_str8(&f, country, strlen(country));
    s_str8(&f, "", 0); /* image_ref */
    uint32_t body = (uint32_t)(f.len - 8);
    for (int i = 0; i < 4; i++)
        f.b[4 + i] = (uint8_t)(body >> (8 * (3 - i)));
    return f;
}

static struct frame s_valid(uint64_t seq)
{
    return s_read_frame(CAM, seq, util_now_us(), "1-ABC-123", 9, "BE", 900);
}

struct bad_case {
    const char *what;
    struct frame f;
    enum proto_reason want;
    bool knows_seq; /* the REJECT names camera and seq */
};

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    static struct bad_case cases[32];
    int n = 0;
    int64_t now = util_now_us();
    uint64_t seq = 1000; /* seqs of the bad reads; the valid ones count from 1 */

    h_require_env();
    h_db_create(&db, "itest_bad_input");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'bad reader')");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;

    struct frame v = s_valid(seq);
    cases[n++] = (struct bad_case){"header cut short", {.len = 3}, PROTO_E_TRUNCATED, false};
    memcpy(cases[n - 1].f.b, v.b, 3);
    cases[n] = (struct bad_case){"body cut short", v, PROTO_E_TRUNCATED, false};
    cases[n++].f.len = v.len - 5;
    cases[n] = (struct bad_case){"oversized", {.len = 5000}, PROTO_E_OVERSIZED, false};
    memcpy(cases[n].f.b, v.b, 8);
    cases[n].f.b[4] = 0, cases[n].f.b[5] = 0, cases[n].f.b[6] = 0x13, cases[n].f.b[7] = 0x80;
    n++;
    cases[n] = (struct bad_case){"bad magic", v, PROTO_E_MAGIC, false};
    cases[n++].f.b[0] = 'X';
    cases[n] = (struct bad_case){"version 3", v, PROTO_E_VERSION, false};
    cases[n++].f.b[2] = 3;
    cases[n] = (struct bad_case){"unknown type", v, PROTO_E_TYPE, false};
    cases[n++].f.b[3] = 9;
    cases[n] = (struct bad_case){"ACK from a reader", v, PROTO_E_TYPE, false};
    cases[n++].f.b[3] = PROTO_ACK;
    cases[n] = (struct bad_case){"trailing byte", v, PROTO_E_LENGTH, false};
    cases[n].f.b[cases[n].f.len++] = 0;
    n++;
    cases[n++] = (struct bad_case){"confidence 2000",
                                   s_read_frame(CAM, seq++, now, "1ABC123", 7, "BE", 2000),
                                   PROTO_E_FIELD, true};
    cases[n++] = (struct bad_case){
        "country be", s_read_frame(CAM, seq++, now, "1ABC123", 7, "be", 900), PROTO_E_FIELD, true};
    cases[n++] = (struct bad_case){"empty plate", s_read_frame(CAM, seq++, now, "", 0, "BE", 900),
                                   PROTO_E_PLATE_EMPTY, true};
    cases[n++] =
        (struct bad_case){"only separators", s_read_frame(CAM, seq++, now, "- -", 3, "BE", 900),
                          PROTO_E_PLATE_EMPTY, true};
    cases[n++] = (struct bad_case){
        "33-byte plate",
        s_read_frame(CAM, seq++, now, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", 33, "BE", 900),
        PROTO_E_PLATE_LONG, true};
    cases[n++] = (struct bad_case){
        "17 letters", s_read_frame(CAM, seq++, now, "ABCDEFGHIJKLMNOPQ", 17, "BE", 900),
        PROTO_E_PLATE_LONG, true};
    cases[n++] = (struct bad_case){"plate not UTF-8",
                                   s_read_frame(CAM, seq++, now,
                                                "AB\xC3\x28"
                                                "12",
                                                6, "BE", 900),
                                   PROTO_E_PLATE_INVALID, true};
    cases[n++] =
        (struct bad_case){"plate with '#'", s_read_frame(CAM, seq++, now, "AB#123", 6, "BE", 900),
                          PROTO_E_PLATE_INVALID, true};
    cases[n++] = (struct bad_case){"unknown camera",
                                   s_read_frame("CAM-NOBODY", seq++, now, "1ABC123", 7, "BE", 900),
                                   PROTO_E_CAMERA, true};
    cases[n++] = (struct bad_case){
        "a day ahead", s_read_frame(CAM, seq++, now + 86400LL * 1000000, "1ABC123", 7, "BE", 900),
        PROTO_E_TIME, true};
    cases[n++] = (struct bad_case){
        "older than retention",
        s_read_frame(CAM, seq++, now - 400LL * 86400 * 1000000, "1ABC123", 7, "BE", 900),
        PROTO_E_TIME, true};

    void *s = h_dealer(d.ingest_ep);
    struct h_acks a;
    uint64_t valid = 0;

    /* A valid read first, so the connection is known to work. */
    struct frame good = s_valid(++valid);
    h_send_raw(s, good.b, good.len);
    h_acks_init(&a, 1, 1, 1);
    CHECK_INT(h_acks_wait(&a, s, CAM, 10000), 1);
    h_acks_free(&a);
    /* Valid reads: the first, one after each bad case, one after the 70000-byte frame. */
    h_acks_init(&a, 1, (size_t)n + 2, 64);
    a.acked[0] = true;

    for (int i = 0; i < n; i++) {
        struct proto_reject rej;
        h_send_raw(s, cases[i].f.b, cases[i].f.len);
        int got = h_wait_reject(&a, s, CAM, &rej, 5000);
        if (got != 0 || rej.reason != cases[i].want)
            fprintf(stderr, "case '%s': got %s (%s), want %s\n", cases[i].what,
                    got ? "nothing" : proto_reason_name(rej.reason), got ? "" : rej.text,
                    proto_reason_name(cases[i].want));
        CHECK_INT(got, 0);
        CHECK_INT(rej.reason, cases[i].want);
        CHECK(rej.text[0] != '\0');
        if (cases[i].knows_seq && strcmp(cases[i].what, "unknown camera") != 0) {
            CHECK_STR(rej.camera, CAM);
            CHECK(rej.seq >= 1000);
        }
        /* The daemon keeps serving: a valid read right after is stored and acknowledged. */
        good = s_valid(++valid);
        h_send_raw(s, good.b, good.len);
    }

    /* A two-part message is not a frame. */
    struct proto_reject rej;
    good = s_valid(9999);
    zmq_send(s, good.b, good.len, ZMQ_SNDMORE);
    zmq_send(s, good.b, good.len, 0);
    CHECK_INT(h_wait_reject(&a, s, CAM, &rej, 5000), 0);
    CHECK_INT(rej.reason, PROTO_E_LENGTH);

    /* A frame far over the frame limit but within the daemon's ZeroMQ message limit (1 MiB):
     * read and refused as oversized, not dropped with the connection. A valid header whose
     * body length matches, then any bytes. */
    {
        const size_t big_len = 70000;
        uint8_t *big = malloc(big_len);
        if (!big)
            h_fatal("out of memory");
        memset(big, 'Z', big_len);
        memcpy(big, good.b, 4); /* "AN", version 1, READ */
        uint32_t body = (uint32_t)(big_len - 8);
        for (int i = 0; i < 4; i++)
            big[4 + i] = (uint8_t)(body >> (8 * (3 - i)));
        CHECK_INT(h_send_raw(s, big, big_len), 0);
        free(big);
        int got = h_wait_reject(&a, s, CAM, &rej, 5000);
        if (got != 0 || rej.reason != PROTO_E_OVERSIZED)
            fprintf(stderr, "case '70000-byte frame': got %s (%s), want oversized\n",
                    got ? "nothing" : proto_reason_name(rej.reason), got ? "" : rej.text);
        CHECK_INT(got, 0);
        CHECK_INT(rej.reason, PROTO_E_OVERSIZED);
        good = s_valid(++valid);
        h_send_raw(s, good.b, good.len);
    }

    /* A reader whose routing id is longer than the daemon keeps (40 bytes): its valid read is
     * refused, and the REJECT says why. */
    {
        void *longid = zmq_socket(h_zmq_ctx(), ZMQ_DEALER);
        char id[40];
        int zero = 0;
        struct h_acks la;
        memset(id, 'R', sizeof id);
        zmq_setsockopt(longid, ZMQ_LINGER, &zero, sizeof zero);
        CHECK_INT(zmq_setsockopt(longid, ZMQ_ROUTING_ID, id, sizeof id), 0);
        if (zmq_connect(longid, d.ingest_ep) != 0)
            h_fatal("connect %s: %s", d.ingest_ep, zmq_strerror(zmq_errno()));
        struct frame lf = s_valid(seq++);
        h_send_raw(longid, lf.b, lf.len);
        h_acks_init(&la, 1, 0, 1);
        int got = h_wait_reject(&la, longid, CAM, &rej, 5000);
        h_acks_free(&la);
        if (got != 0 || rej.reason != PROTO_E_FIELD)
            fprintf(stderr, "case '40-byte routing id': got %s (%s), want bad_field\n",
                    got ? "nothing" : proto_reason_name(rej.reason), got ? "" : rej.text);
        CHECK_INT(got, 0);
        CHECK_INT(rej.reason, PROTO_E_FIELD);
        CHECK_CONTAINS(rej.text, "routing id");
        CHECK_STR(rej.camera, CAM);
        CHECK_INT(rej.seq, seq - 1);
        h_close(longid);
    }

    CHECK_INT(a.n, valid);
    CHECK_INT(h_acks_wait(&a, s, CAM, 10000), valid);
    h_acks_free(&a);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), (long long)valid);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE seq >= 1000"), 0);

    /* A reader that sends garbage without end does not flood the log: one line per reason per
     * interval, the rest counted. */
    h_acks_init(&a, 1, 0, 1);
    int refused = 0;
    for (int round = 0; round < 4; round++) {
        /* In rounds of 500: within ZeroMQ's default queue of 1000 messages per peer, so every
         * REJECT reaches us (beyond it they would be dropped, and only counted). */
        for (int i = 0; i < 500; i++)
            h_send_raw(s, "XXXXXXXXXXXX", 12);
        for (int i = 0; i < 500 && h_wait_reject(&a, s, CAM, &rej, 5000) == 0; i++)
            refused += rej.reason == PROTO_E_MAGIC;
    }
    CHECK_INT(refused, 2000);
    h_acks_free(&a);

    h_close(s);
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    char *log = h_slurp(d.log_path);
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "rejected bad_magic")) != NULL; p++)
        lines++;
    CHECK(lines >= 1 && lines <= 12);
    char want[64];
    /* The cases, the two-part message, the 70000-byte frame, the long routing id, and the
     * 2000 frames of garbage. */
    snprintf(want, sizeof want, "rejected=%d ", n + 1 + 1 + 1 + 2000);
    CHECK_CONTAINS(log, want);
    free(log);
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    h_db_close(&db);
    return check_done("itest_bad_input");
}
