/*
 * test_bb: the backbone link codec. The hex test vectors below are the ones printed in
 * proto/BACKBONE.md (argv[1]); a mismatch prints the bytes the encoder produced, so the two can
 * be brought back in step. Malformed frames are written out as hex, so they can break rules
 * the encoders refuse to break.
 */
#include "bb.h"
#include "check.h"
#include "vectors.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- test vectors (same bytes as in BACKBONE.md, 16 per line) ---- */

static const char v_hello[] = "41 42 01 01 00 00 00 28 00 06 44 BD 47 8A 08 00\n"
                              "00 00 01 00 0F 61 6E 70 72 64 2D 6C 61 6E 61 6B\n"
                              "65 6E 2D 31 0B 61 6E 70 72 64 20 30 2E 31 2E 30\n";
static const char v_hit[] = "41 42 01 02 00 00 00 7F 00 00 00 00 00 00 03 E9\n"
                            "00 00 00 00 00 00 00 2A 00 06 44 BD 47 9B 2C 80\n"
                            "00 00 00 00 00 00 03 E9 00 00 00 03 02 01 0E 65\n"
                            "34 30 2E 67 65 6E 74 2D 6B 31 32 3A 61 09 31 2D\n"
                            "41 42 43 2D 31 32 33 07 31 41 42 43 31 32 33 02\n"
                            "42 45 13 47 65 73 74 6F 6C 65 6E 20 76 6F 65 72\n"
                            "74 75 69 67 65 6E 06 73 74 6F 6C 65 6E 07 31 41\n"
                            "42 43 31 32 33 11 50 56 2F 47 45 2F 32 30 32 35\n"
                            "2F 30 31 32 33 34 35\n";
static const char v_read[] = "41 42 01 03 00 00 00 54 00 00 00 00 00 00 03 EA\n"
                             "00 00 00 00 00 00 00 2B 00 06 44 BD 47 A1 47 00\n"
                             "03 6A 02 02 0E 65 34 30 2E 67 65 6E 74 2D 6B 31\n"
                             "32 3A 61 08 41 42 31 32 20 43 44 45 07 41 42 31\n"
                             "32 43 44 45 02 47 42 14 73 33 3A 2F 2F 61 6E 70\n"
                             "72 2F 65 34 30 2F 34 33 2E 6A 70 67\n";
static const char v_ack[] = "41 42 01 04 00 00 00 08 00 00 00 00 00 00 03 EA\n";
static const char v_nack[] = "41 42 01 05 00 00 00 26 00 00 00 00 00 00 03 EB\n"
                             "00 07 1B 48 49 54 2E 70 72 69 6F 72 69 74 79 3A\n"
                             "20 30 20 6E 6F 74 20 69 6E 20 31 2E 2E 39\n";
static const char v_nack_conn[] = "41 42 01 05 00 00 00 3F 00 00 00 00 00 00 00 00\n"
                                  "00 04 34 68 65 61 64 65 72 3A 20 76 65 72 73 69\n"
                                  "6F 6E 20 32 20 6E 6F 74 20 73 75 70 70 6F 72 74\n"
                                  "65 64 20 28 74 68 69 73 20 73 69 64 65 20 73 70\n"
                                  "65 61 6B 73 20 31 29\n";

static void s_vec_hello(struct bb_hello *h)
{
    memset(h, 0, sizeof *h);
    h->epoch = 1764429600000000; /* 2025-11-29T15:20:00Z: when the sender's queue was made */
    h->window = 256;
    strcpy(h->instance, "anprd-lanaken-1");
    strcpy(h->software, "anprd 0.1.0");
}

static void s_vec_hit(struct bb_hit *h)
{
    memset(h, 0, sizeof *h);
    h->id = 1001;
    h->seq = 42;
    h->time_us = 1764429601123456; /* 2025-11-29T15:20:01.123456Z */
    h->entry_id = 1001;
    h->list_id = 3;
    h->priority = 2;
    h->match = PROTO_MATCH_EXACT;
    strcpy(h->camera, "e40.gent-k12:a");
    strcpy(h->plate, "1-ABC-123");
    strcpy(h->plate_norm, "1ABC123");
    strcpy(h->country, "BE");
    strcpy(h->list, "Gestolen voertuigen");
    strcpy(h->category, "stolen");
    strcpy(h->entry_plate, "1ABC123");
    strcpy(h->external_ref, "PV/GE/2025/012345");
}

static void s_vec_read(struct bb_read *r)
{
    memset(r, 0, sizeof *r);
    r->id = 1002;
    r->seq = 43;
    r->time_us = 1764429601523456;
    r->confidence = 874;
    r->lane = 2;
    r->direction = PROTO_DIR_AWAY;
    strcpy(r->camera, "e40.gent-k12:a");
    strcpy(r->plate, "AB12 CDE");
    strcpy(r->plate_norm, "AB12CDE");
    strcpy(r->country, "GB");
    strcpy(r->image_ref, "s3://anpr/e40/43.jpg");
}

static void s_vec_nack(struct bb_nack *n)
{
    memset(n, 0, sizeof *n);
    n->id = 1003;
    n->reason = BB_E_FIELD;
    strcpy(n->text, "HIT.priority: 0 not in 1..9");
}

static void s_vec_nack_conn(struct bb_nack *n)
{
    memset(n, 0, sizeof *n);
    n->id = 0;
    n->reason = BB_E_VERSION;
    strcpy(n->text, "header: version 2 not supported (this side speaks 1)");
}

/* ---- malformed frames: hex, the decoder to use, the reason (same rows in BACKBONE.md) ---- */

enum s_dec { D_HELLO, D_HIT, D_READ, D_ACK, D_NACK };

static const struct {
    const char *id; /* row id in the document */
    enum s_dec dec;
    const char *hex;
    enum bb_reason want;
} s_malformed[] = {
    {"M01", D_ACK, "41 42 01 04 00 00", BB_E_TRUNCATED},
    {"M02", D_ACK, "41 4E 01 04 00 00 00 08 00 00 00 00 00 00 03 EA", BB_E_MAGIC},
    {"M03", D_ACK, "41 42 02 04 00 00 00 08 00 00 00 00 00 00 03 EA", BB_E_VERSION},
    {"M04", D_ACK, "41 42 01 04 00 00 08 00", BB_E_OVERSIZED},
    {"M05", D_ACK, "41 42 01 05 00 00 00 08 00 00 00 00 00 00 03 EA", BB_E_TYPE},
    {"M06", D_ACK, "41 42 01 04 00 00 00 09 00 00 00 00 00 00 03 EA 00", BB_E_LENGTH},
    {"M07", D_ACK, "41 42 01 04 00 00 00 08 00 00 00 00 00 00 03", BB_E_TRUNCATED},
    {"M08", D_ACK, "41 42 01 04 00 00 00 04 00 00 03 EA", BB_E_TRUNCATED},
    {"M09", D_NACK, "41 42 01 05 00 00 00 0D 00 00 00 00 00 00 00 00 00 04 05 41 42",
     BB_E_TRUNCATED},
    {"M10", D_HELLO, "41 42 01 01 00 00 00 0E 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
     BB_E_FIELD},
    {"M11", D_READ,
     "41 42 01 03 00 00 00 24 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 06 44 BD 47 "
     "9B 2C 80 00 00 00 00 01 41 01 31 01 31 00 00",
     BB_E_FIELD},
    {"M12", D_READ,
     "41 42 01 03 00 00 00 24 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 01 00 06 44 BD 47 "
     "9B 2C 80 00 00 00 00 01 41 01 31 01 61 00 00",
     BB_E_FIELD},
};

/* ---- helpers ---- */

static int s_decode(enum s_dec dec, const uint8_t *b, size_t n, struct bb_error *err)
{
    struct bb_hello hello;
    struct bb_hit hit;
    struct bb_read read;
    struct bb_nack nack;
    uint64_t upto;

    switch (dec) {
    case D_HELLO:
        return bb_decode_hello(b, n, &hello, err);
    case D_HIT:
        return bb_decode_hit(b, n, &hit, err);
    case D_READ:
        return bb_decode_read(b, n, &read, err);
    case D_ACK:
        return bb_decode_ack(b, n, &upto, err);
    default:
        return bb_decode_nack(b, n, &nack, err);
    }
}

/* ---- tests ---- */

static void s_test_vectors(void)
{
    uint8_t buf[BB_MAX_FRAME];
    size_t n;
    struct bb_hello hello, hello2;
    struct bb_hit hit, hit2;
    struct bb_read read, read2;
    struct bb_nack nack, nack2;
    struct bb_error err;
    uint64_t upto;

    s_vec_hello(&hello);
    n = bb_encode_hello(&hello, buf, sizeof buf);
    vec_check_hex("HELLO", buf, n, v_hello);
    CHECK_INT(bb_decode_hello(buf, n, &hello2, &err), 0);
    CHECK(memcmp(&hello, &hello2, sizeof hello) == 0);

    s_vec_hit(&hit);
    n = bb_encode_hit(&hit, buf, sizeof buf);
    vec_check_hex("HIT", buf, n, v_hit);
    CHECK_INT(bb_decode_hit(buf, n, &hit2, &err), 0);
    CHECK(memcmp(&hit, &hit2, sizeof hit) == 0);
    CHECK_INT(bb_frame_id(buf, n), 1001);
    CHECK_STR(hit2.list, "Gestolen voertuigen");

    s_vec_read(&read);
    n = bb_encode_read(&read, buf, sizeof buf);
    vec_check_hex("READ", buf, n, v_read);
    CHECK_INT(bb_decode_read(buf, n, &read2, &err), 0);
    CHECK(memcmp(&read, &read2, sizeof read) == 0);
    CHECK_INT(bb_frame_id(buf, n), 1002);

    n = bb_encode_ack(1002, buf, sizeof buf);
    vec_check_hex("ACK", buf, n, v_ack);
    CHECK_INT(bb_decode_ack(buf, n, &upto, &err), 0);
    CHECK_INT(upto, 1002);
    CHECK_INT(bb_frame_id(buf, n), 0); /* an ACK carries no message id */

    s_vec_nack(&nack);
    n = bb_encode_nack(&nack, buf, sizeof buf);
    vec_check_hex("NACK", buf, n, v_nack);
    CHECK_INT(bb_decode_nack(buf, n, &nack2, &err), 0);
    CHECK(memcmp(&nack, &nack2, sizeof nack) == 0);

    s_vec_nack_conn(&nack);
    n = bb_encode_nack(&nack, buf, sizeof buf);
    vec_check_hex("NACK connection", buf, n, v_nack_conn);
    CHECK_INT(bb_decode_nack(buf, n, &nack2, &err), 0);
    CHECK_INT(nack2.id, 0);
    CHECK_INT(nack2.reason, BB_E_VERSION);
}

/* Every cut of every vector is refused as truncated, never read past its end. */
static void s_test_truncation(void)
{
    const char *vecs[] = {v_hello, v_hit, v_read, v_ack, v_nack, v_nack_conn};
    const enum s_dec decs[] = {D_HELLO, D_HIT, D_READ, D_ACK, D_NACK, D_NACK};
    int wrong = 0;

    for (size_t v = 0; v < sizeof vecs / sizeof vecs[0]; v++) {
        uint8_t full[BB_MAX_FRAME];
        size_t n = vec_unhex(vecs[v], full, sizeof full);

        CHECK(n > BB_HDR_LEN);
        for (size_t cut = 0; cut < n; cut++) {
            /* a copy of exactly `cut` bytes, so ASan sees any read past the end */
            uint8_t *b = malloc(cut ? cut : 1);
            struct bb_error err;

            if (!b)
                abort();
            memcpy(b, full, cut);
            if (s_decode(decs[v], b, cut, &err) != -1 || err.reason != BB_E_TRUNCATED) {
                wrong++;
                fprintf(stderr, "  vector %zu cut %zu: %s\n", v, cut, err.msg);
            }
            /* with the header's length fixed up, the body's own fields are truncated */
            if (cut >= BB_HDR_LEN) {
                b[4] = 0, b[5] = 0, b[6] = (uint8_t)((cut - 8) >> 8), b[7] = (uint8_t)(cut - 8);
                if (s_decode(decs[v], b, cut, &err) != -1 || err.reason != BB_E_TRUNCATED) {
                    wrong++;
                    fprintf(stderr, "  vector %zu cut %zu fixed: %s\n", v, cut, err.msg);
                }
            }
            free(b);
        }
    }
    CHECK_INT(wrong, 0);
}

static void s_test_malformed(void)
{
    for (size_t i = 0; i < sizeof s_malformed / sizeof s_malformed[0]; i++) {
        uint8_t b[BB_MAX_FRAME];
        size_t n = vec_unhex(s_malformed[i].hex, b, sizeof b);
        struct bb_error err = {BB_OK, ""};
        int rc = s_decode(s_malformed[i].dec, b, n, &err);

        CHECK_INT(rc, -1);
        if (err.reason != s_malformed[i].want)
            fprintf(stderr, "%s: got %s (%s)\n", s_malformed[i].id, bb_reason_name(err.reason),
                    err.msg);
        CHECK_INT(err.reason, s_malformed[i].want);
        CHECK(err.msg[0] != '\0');
    }
}

static void s_test_header(void)
{
    uint8_t hdr[BB_HDR_LEN] = {0x41, 0x42, 0x01, 0x02, 0x00, 0x00, 0x07, 0xF8};
    uint8_t type = 0;
    size_t flen = 0;
    struct bb_error err;

    /* the largest body allowed, then one byte more */
    CHECK_INT(bb_header(hdr, sizeof hdr, &type, &flen, &err), 0);
    CHECK_INT(type, BB_HIT);
    CHECK_INT(flen, BB_MAX_FRAME);
    hdr[7] = 0xF9;
    CHECK_INT(bb_header(hdr, sizeof hdr, &type, &flen, &err), -1);
    CHECK_INT(err.reason, BB_E_OVERSIZED);
    hdr[7] = 0xF8;
    hdr[2] = 0;
    CHECK_INT(bb_header(hdr, sizeof hdr, &type, &flen, &err), -1);
    CHECK_INT(err.reason, BB_E_VERSION);
    CHECK_CONTAINS(err.msg, "version 0");
    CHECK_INT(bb_header(hdr, 7, &type, &flen, &err), -1);
    CHECK_INT(err.reason, BB_E_TRUNCATED);
}

static void s_test_fields(void)
{
    uint8_t buf[BB_MAX_FRAME];
    struct bb_hit hit, out;
    struct bb_read read;
    struct bb_hello hello;
    struct bb_nack nack;
    struct bb_error err;
    size_t n;

    /* each broken field: the encoder refuses it */
    s_vec_hit(&hit);
    hit.id = 0;
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    hit.id = (uint64_t)INT64_MAX + 1;
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    hit.priority = 10;
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    hit.match = 5;
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    strcpy(hit.plate_norm, "1abc123");
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    strcpy(hit.list, "tab\there");
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    strcpy(hit.country, "B");
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    strcpy(hit.camera, "cam 1");
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    strcpy(hit.plate, "\xC3\x28"); /* invalid UTF-8 */
    CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    s_vec_hit(&hit);
    CHECK_INT(bb_encode_hit(&hit, buf, 40), 0); /* does not fit */

    s_vec_read(&read);
    read.confidence = 1001;
    CHECK_INT(bb_encode_read(&read, buf, sizeof buf), 0);
    s_vec_read(&read);
    strcpy(read.image_ref, "has space");
    CHECK_INT(bb_encode_read(&read, buf, sizeof buf), 0);

    s_vec_hello(&hello);
    hello.instance[0] = '\0';
    CHECK_INT(bb_encode_hello(&hello, buf, sizeof buf), 0);

    memset(&nack, 0, sizeof nack);
    strcpy(nack.text, "line\nbreak");
    CHECK_INT(bb_encode_nack(&nack, buf, sizeof buf), 0);

    /* the decoder names the field, and keeps the id of a bad HIT for the NACK */
    s_vec_hit(&hit);
    n = bb_encode_hit(&hit, buf, sizeof buf);
    CHECK(n > 0);
    buf[8 + 8 + 8 + 8 + 8 + 4] = 0; /* priority */
    CHECK_INT(bb_decode_hit(buf, n, &out, &err), -1);
    CHECK_INT(err.reason, BB_E_FIELD);
    CHECK_CONTAINS(err.msg, "HIT.priority");
    CHECK_INT(out.id, 1001);

    /* non-ASCII UTF-8 is fine in a plate and a list name */
    s_vec_hit(&hit);
    strcpy(hit.plate, "\xC3\x96-123"); /* Ö-123 */
    strcpy(hit.list, "Gesuchte Fahrzeuge \xE2\x80\x94 Aachen");
    n = bb_encode_hit(&hit, buf, sizeof buf);
    CHECK(n > 0);
    CHECK_INT(bb_decode_hit(buf, n, &out, &err), 0);
    CHECK_STR(out.list, hit.list);

    /* the covert flag: one byte after external_ref, only when set; a HIT without it is the
     * vector byte for byte, so a receiver of the first version of the field set reads it */
    {
        uint8_t plain[BB_MAX_FRAME];
        size_t pn;

        s_vec_hit(&hit);
        pn = bb_encode_hit(&hit, plain, sizeof plain);
        hit.flags = BB_HIT_COVERT;
        n = bb_encode_hit(&hit, buf, sizeof buf);
        CHECK_INT(n, pn + 1);
        CHECK(memcmp(buf + 8, plain + 8, pn - 8) == 0);
        CHECK_INT(buf[n - 1], BB_HIT_COVERT);
        CHECK_INT(buf[7], plain[7] + 1); /* the body length counts it */
        CHECK_INT(bb_decode_hit(buf, n, &out, &err), 0);
        CHECK_INT(out.flags, BB_HIT_COVERT);
        CHECK_INT(bb_decode_hit(plain, pn, &out, &err), 0);
        CHECK_INT(out.flags, 0);
        /* a flags byte of 0, or with a flag not defined: refused, the field named */
        buf[n - 1] = 0;
        CHECK_INT(bb_decode_hit(buf, n, &out, &err), -1);
        CHECK_INT(err.reason, BB_E_FIELD);
        CHECK_CONTAINS(err.msg, "HIT.flags");
        buf[n - 1] = 0x03;
        CHECK_INT(bb_decode_hit(buf, n, &out, &err), -1);
        CHECK_CONTAINS(err.msg, "HIT.flags");
        hit.flags = 0x02;
        CHECK_INT(bb_encode_hit(&hit, buf, sizeof buf), 0);
    }

    /* a HIT from the dispatch feed: control characters in a list name become spaces */
    {
        struct proto_hit ph;

        memset(&ph, 0, sizeof ph);
        ph.entry_id = 7;
        ph.list_id = 2;
        ph.priority = 1;
        ph.match = PROTO_MATCH_OCR;
        strcpy(ph.list, "Stolen\tvehicles");
        strcpy(ph.category, "stolen");
        strcpy(ph.entry_plate, "1ABC123");
        ph.read.seq = 9;
        ph.read.time_us = 1764429601123456;
        strcpy(ph.read.camera, "cam-01");
        strcpy(ph.read.plate, "1-A8C-123");
        CHECK_INT(bb_hit_from_proto(&ph, 55, "1A8C123", &hit), 0);
        CHECK_STR(hit.list, "Stolen vehicles");
        CHECK_INT(hit.seq, 9);
        n = bb_encode_hit(&hit, buf, sizeof buf);
        CHECK(n > 0);
        CHECK_INT(bb_frame_id(buf, n), 55);
        CHECK_INT(bb_hit_from_proto(&ph, 55, NULL, &hit), -1);
    }
}

static void s_test_names(void)
{
    CHECK_STR(bb_reason_name(BB_E_ORDER), "order");
    CHECK_STR(bb_reason_name(BB_REASON_COUNT), "unknown");
    CHECK_STR(bb_type_name(BB_NACK), "NACK");
    CHECK_STR(bb_type_name(0), "unknown");
    for (int r = 0; r < BB_REASON_COUNT; r++)
        CHECK(bb_reason_name((enum bb_reason)r) != NULL &&
              strcmp(bb_reason_name((enum bb_reason)r), "unknown") != 0);
}

/* BACKBONE.md prints the same vectors and malformed frames, with the same reasons. */
static void s_test_doc(const char *path)
{
    const char *vecs[] = {v_hello, v_hit, v_read, v_ack, v_nack, v_nack_conn};
    char *doc = vec_read_doc(path);

    CHECK(doc != NULL);
    if (!doc)
        return;

    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        char block[4 * BB_MAX_FRAME];

        /* the vector as a fenced block of its own */
        snprintf(block, sizeof block, "```\n%s```\n", vecs[i]);
        CHECK(strstr(doc, block) != NULL);
    }
    for (size_t i = 0; i < sizeof s_malformed / sizeof s_malformed[0]; i++) {
        char row[5 * BB_MAX_FRAME], hex[4 * BB_MAX_FRAME];
        const char *line;

        snprintf(hex, sizeof hex, "%s", s_malformed[i].hex);
        vec_squeeze(hex);
        /* | M01 | `41 42 ...` | decoder | 1 truncated | */
        snprintf(row, sizeof row, "| %s | `%s` |", s_malformed[i].id, hex);
        line = strstr(doc, row);
        CHECK(line != NULL);
        if (!line) {
            fprintf(stderr, "missing row: %s\n", row);
            continue;
        }
        snprintf(row, sizeof row, "| %d %s |", (int)s_malformed[i].want,
                 bb_reason_name(s_malformed[i].want));
        CHECK(strstr(line, row) && strstr(line, row) < strchr(line, '\n'));
    }
    free(doc);
}

int main(int argc, char **argv)
{
    s_test_names();
    s_test_vectors();
    s_test_header();
    s_test_truncation();
    s_test_malformed();
    s_test_fields();
    if (argc > 1)
        s_test_doc(argv[1]);
    else
        fprintf(stderr, "test_bb: no BACKBONE.md given, document check skipped\n");
    return check_done("bb");
}
