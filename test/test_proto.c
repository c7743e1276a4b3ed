/*
 * test_proto: the wire codec. The hex test vectors below are the ones printed in
 * proto/PROTOCOL.md; keep both in step (a mismatch prints the bytes the encoder produced).
 * Malformed frames are built by a small independent frame builder (s_t*), so they can break
 * any rule the encoders refuse to break.
 */
#include "check.h"
#include "vectors.h"
#include "proto.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define MUTATIONS 200000

/* ---- test vectors (same bytes as in PROTOCOL.md, 16 per line) ---- */

static const char v_read_min[] = "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
                                 "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
                                 "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n";
static const char v_read_full[] = "41 4E 01 01 00 00 00 67 00 00 00 00 00 00 00 2A\n"
                                  "00 06 44 BD 47 9B 2C 80 03 6A 02 02 01 02 0E 65\n"
                                  "34 30 2E 67 65 6E 74 2D 6B 31 32 3A 61 09 31 2D\n"
                                  "41 42 43 2D 31 32 33 02 42 45 09 31 2D 41 38 43\n"
                                  "2D 31 32 33 02 00 09 49 2D 41 42 43 2D 31 32 33\n"
                                  "01 2D 1E 6E 46 3E 02 37 3B E3 14 73 33 3A 2F 2F\n"
                                  "61 6E 70 72 2F 65 34 30 2F 34 32 2E 6A 70 67\n";
static const char v_read_pos[] = "41 4E 01 01 00 00 00 32 00 00 00 02 18 71 1A 01\n"
                                 "00 06 44 BD 47 99 4A 40 03 E8 01 01 01 00 06 6D\n"
                                 "6F 62 2D 30 37 08 41 42 31 32 20 43 44 45 02 47\n"
                                 "42 1E B2 63 3C FF EC FB D2 00\n";
static const char v_ack[] = "41 4E 01 02 00 00 00 30 00 02 06 63 61 6D 2D 30\n"
                            "31 00 00 00 00 00 00 00 01 00 00 00 01 0E 65 34\n"
                            "30 2E 67 65 6E 74 2D 6B 31 32 3A 61 00 00 00 00\n"
                            "00 00 00 28 00 00 00 03\n";
static const char v_reject[] = "41 4E 01 03 00 00 00 35 06 63 61 6D 2D 30 31 00\n"
                               "00 00 00 00 00 00 07 00 0A 23 52 45 41 44 2E 70\n"
                               "6C 61 74 65 3A 20 69 6E 76 61 6C 69 64 20 55 54\n"
                               "46 2D 38 20 61 74 20 62 79 74 65 20 33\n";
static const char v_reject_version[] = "41 4E 01 03 00 00 00 4A 00 00 00 00 00 00 00 00\n"
                                       "00 00 04 3E 68 65 61 64 65 72 3A 20 76 65 72 73\n"
                                       "69 6F 6E 20 33 20 6E 6F 74 20 73 75 70 70 6F 72\n"
                                       "74 65 64 20 28 74 68 69 73 20 72 65 63 65 69 76\n"
                                       "65 72 20 73 70 65 61 6B 73 20 31 20 61 6E 64 20\n"
                                       "32 29\n";
/* Version 2: the minimal READ of 10.1 with boot epoch 1764288000, its ACK, a conflict. */
static const char v_read_v2[] = "41 4E 02 01 00 00 00 2B 00 00 00 00 00 00 00 01\n"
                                "69 28 E6 00 00 06 44 BD 47 9B 2C 80 03 90 00 00\n"
                                "00 00 06 63 61 6D 2D 30 31 07 31 41 42 43 31 32\n"
                                "33 00 00\n";
static const char v_ack_v2[] = "41 4E 02 02 00 00 00 19 00 01 06 63 61 6D 2D 30\n"
                               "31 69 28 E6 00 00 00 00 00 00 00 00 01 00 00 00\n"
                               "03\n";
static const char v_reject_v2[] = "41 4E 02 03 00 00 00 51 06 63 61 6D 2D 30 31 69\n"
                                  "28 E6 00 00 00 00 00 00 00 00 01 00 0E 3B 72 65\n"
                                  "61 64 20 28 63 61 6D 65 72 61 2C 20 65 70 6F 63\n"
                                  "68 2C 20 73 65 71 29 20 61 6C 72 65 61 64 79 20\n"
                                  "73 74 6F 72 65 64 20 77 69 74 68 20 6F 74 68 65\n"
                                  "72 20 63 6F 6E 74 65 6E 74\n";
static const char v_hit[] = "41 4E 01 04 00 00 00 E9 00 00 00 00 00 00 03 E9\n"
                            "00 00 00 03 02 01 00 00 13 47 65 73 74 6F 6C 65\n"
                            "6E 20 76 6F 65 72 74 75 69 67 65 6E 06 73 74 6F\n"
                            "6C 65 6E 07 31 41 42 43 31 32 33 02 42 45 00 2F\n"
                            "4E 69 65 74 20 69 6E 67 72 69 6A 70 65 6E 20 E2\n"
                            "80 94 20 70 6F 73 69 74 69 65 20 6D 65 6C 64 65\n"
                            "6E 20 61 61 6E 20 64 69 73 70 61 74 63 68 2E 11\n"
                            "50 56 2F 47 45 2F 32 30 32 35 2F 30 31 32 33 34\n"
                            "35 00 00 00 00 00 00 00 00 2A 00 06 44 BD 47 9B\n"
                            "2C 80 03 6A 02 02 01 02 0E 65 34 30 2E 67 65 6E\n"
                            "74 2D 6B 31 32 3A 61 09 31 2D 41 42 43 2D 31 32\n"
                            "33 02 42 45 09 31 2D 41 38 43 2D 31 32 33 02 00\n"
                            "09 49 2D 41 42 43 2D 31 32 33 01 2D 1E 6E 46 3E\n"
                            "02 37 3B E3 14 73 33 3A 2F 2F 61 6E 70 72 2F 65\n"
                            "34 30 2F 34 32 2E 6A 70 67 00 00 00 00 00 0F 46\n"
                            "29\n";
/* through an alternative reading of the full READ */
static const char v_hit_cand[] = "41 4E 01 04 00 00 00 C1 00 00 00 00 00 00 03 EA\n"
                                 "00 00 00 03 02 03 02 00 13 47 65 73 74 6F 6C 65\n"
                                 "6E 20 76 6F 65 72 74 75 69 67 65 6E 06 73 74 6F\n"
                                 "6C 65 6E 07 49 41 42 43 31 32 33 02 42 45 00 00\n"
                                 "00 18 63 61 6E 64 69 64 61 74 65 20 32 20 28 33\n"
                                 "30 31 29 2C 20 65 78 61 63 74 00 00 00 00 00 00\n"
                                 "00 2A 00 06 44 BD 47 9B 2C 80 03 6A 02 02 01 02\n"
                                 "0E 65 34 30 2E 67 65 6E 74 2D 6B 31 32 3A 61 09\n"
                                 "31 2D 41 42 43 2D 31 32 33 02 42 45 09 31 2D 41\n"
                                 "38 43 2D 31 32 33 02 00 09 49 2D 41 42 43 2D 31\n"
                                 "32 33 01 2D 1E 6E 46 3E 02 37 3B E3 14 73 33 3A\n"
                                 "2F 2F 61 6E 70 72 2F 65 34 30 2F 34 32 2E 6A 70\n"
                                 "67 00 00 00 00 00 0F 46 2A\n";
/* OCR look-alike, on the minimal READ */
static const char v_hit_ocr[] = "41 4E 01 04 00 00 00 8C 00 00 00 00 00 00 07 F8\n"
                                "00 00 00 07 04 02 00 01 13 47 65 7A 6F 63 68 74\n"
                                "65 20 76 6F 65 72 74 75 69 67 65 6E 06 77 61 6E\n"
                                "74 65 64 07 31 41 38 43 31 32 33 00 00 15 56 6F\n"
                                "6C 67 65 6E 2C 20 6E 69 65 74 20 73 74 6F 70 70\n"
                                "65 6E 2E 00 10 38 20 72 65 61 64 20 61 73 20 42\n"
                                "20 61 74 20 33 00 00 00 00 00 00 00 01 00 06 44\n"
                                "BD 47 9B 2C 80 03 90 00 00 00 00 06 63 61 6D 2D\n"
                                "30 31 07 31 41 42 43 31 32 33 00 00 00 00 00 00\n"
                                "00 0F 46 2B\n";
/* a pattern entry, on the minimal READ */
static const char v_hit_pattern[] = "41 4E 01 04 00 00 00 79 00 00 00 00 00 00 0B BF\n"
                                    "00 00 00 09 05 04 00 00 09 4F 6E 64 65 72 7A 6F\n"
                                    "65 6B 0D 69 6E 76 65 73 74 69 67 61 74 69 6F 6E\n"
                                    "07 31 41 42 3F 31 32 2A 00 00 00 06 4F 50 53 2D\n"
                                    "37 37 0F 70 61 74 74 65 72 6E 20 31 41 42 3F 31\n"
                                    "32 2A 00 00 00 00 00 00 00 01 00 06 44 BD 47 9B\n"
                                    "2C 80 03 90 00 00 00 00 06 63 61 6D 2D 30 31 07\n"
                                    "31 41 42 43 31 32 33 00 00 00 00 00 00 00 0F 46\n"
                                    "2C\n";
static const char v_heartbeat[] = "41 4E 01 05 00 00 00 31 00 06 44 BD 47 9B 2C 80\n"
                                  "00 03 00 00 07 D0 00 00 02 58 00 00 00 07 00 00\n"
                                  "00 05 02 06 63 61 6D 2D 30 33 0E 65 34 30 2E 67\n"
                                  "65 6E 74 2D 6B 31 32 3A 61\n";

static void s_vec_read_min(struct proto_read *r)
{
    memset(r, 0, sizeof *r);
    r->seq = 1;
    r->time_us = 1764429601123456; /* 2025-11-29T15:20:01.123456Z */
    r->confidence = 912;
    strcpy(r->camera, "cam-01");
    strcpy(r->plate, "1ABC123");
}

static void s_vec_read_full(struct proto_read *r)
{
    memset(r, 0, sizeof *r);
    r->seq = 42;
    r->time_us = 1764429601123456;
    r->confidence = 874;
    r->lane = 2;
    r->direction = PROTO_DIR_AWAY;
    r->ncand = 2;
    r->has_position = true;
    r->lat_e7 = 510543422; /* 51.0543422 N */
    r->lon_e7 = 37174243;  /* 3.7174243 E */
    strcpy(r->camera, "e40.gent-k12:a");
    strcpy(r->plate, "1-ABC-123");
    strcpy(r->country, "BE");
    strcpy(r->cand[0].plate, "1-A8C-123");
    r->cand[0].confidence = 512;
    strcpy(r->cand[1].plate, "I-ABC-123");
    r->cand[1].confidence = 301;
    strcpy(r->image_ref, "s3://anpr/e40/42.jpg");
}

/* A mobile camera west of Greenwich: negative longitude, a plate with a space. */
static void s_vec_read_pos(struct proto_read *r)
{
    memset(r, 0, sizeof *r);
    r->seq = 9000000001;
    r->time_us = 1764429601000000;
    r->confidence = 1000;
    r->lane = 1;
    r->direction = PROTO_DIR_TOWARDS;
    r->has_position = true;
    r->lat_e7 = 515007292; /* 51.5007292 N */
    r->lon_e7 = -1246254;  /* 0.1246254 W */
    strcpy(r->camera, "mob-07");
    strcpy(r->plate, "AB12 CDE");
    strcpy(r->country, "GB");
}

static size_t s_vec_ack(struct proto_ack_range *a)
{
    memset(a, 0, 2 * sizeof *a);
    strcpy(a[0].camera, "cam-01");
    a[0].first_seq = 1;
    a[0].count = 1;
    strcpy(a[1].camera, "e40.gent-k12:a");
    a[1].first_seq = 40;
    a[1].count = 3;
    return 2;
}

static void s_vec_reject(struct proto_reject *rej)
{
    memset(rej, 0, sizeof *rej);
    strcpy(rej->camera, "cam-01");
    rej->seq = 7;
    rej->reason = PROTO_E_PLATE_INVALID;
    strcpy(rej->text, "READ.plate: invalid UTF-8 at byte 3");
}

static void s_vec_reject_version(struct proto_reject *rej)
{
    memset(rej, 0, sizeof *rej);
    rej->reason = PROTO_E_VERSION;
    strcpy(rej->text, "header: version 3 not supported (this receiver speaks 1 and 2)");
}

static void s_vec_hit(struct proto_hit *h)
{
    memset(h, 0, sizeof *h);
    h->hit_id = 1001001;
    h->entry_id = 1001;
    h->list_id = 3;
    h->priority = 2;
    h->match = PROTO_MATCH_EXACT;
    strcpy(h->list, "Gestolen voertuigen");
    strcpy(h->category, "stolen");
    strcpy(h->entry_plate, "1ABC123");
    strcpy(h->entry_country, "BE");
    strcpy(h->instruction, "Niet ingrijpen \xE2\x80\x94 positie melden aan dispatch.");
    strcpy(h->external_ref, "PV/GE/2025/012345");
    s_vec_read_full(&h->read);
}

/* An exact-only list that also matches alternative readings: read.cand[1] is the listed plate. */
static void s_vec_hit_cand(struct proto_hit *h)
{
    memset(h, 0, sizeof *h);
    h->hit_id = 1001002;
    h->entry_id = 1002;
    h->list_id = 3;
    h->priority = 2;
    h->match = PROTO_MATCH_CANDIDATE;
    h->reading = 2;
    strcpy(h->list, "Gestolen voertuigen");
    strcpy(h->category, "stolen");
    strcpy(h->entry_plate, "IABC123");
    strcpy(h->entry_country, "BE");
    strcpy(h->detail, "candidate 2 (301), exact");
    s_vec_read_full(&h->read);
}

/* An OCR-tolerant list: listed 1A8C123, read 1ABC123 (8 and B are one OCR class). */
static void s_vec_hit_ocr(struct proto_hit *h)
{
    memset(h, 0, sizeof *h);
    h->hit_id = 1001003;
    h->entry_id = 2040;
    h->list_id = 7;
    h->priority = 4;
    h->match = PROTO_MATCH_OCR;
    h->nsubst = 1;
    strcpy(h->list, "Gezochte voertuigen");
    strcpy(h->category, "wanted");
    strcpy(h->entry_plate, "1A8C123");
    strcpy(h->instruction, "Volgen, niet stoppen.");
    strcpy(h->detail, "8 read as B at 3");
    s_vec_read_min(&h->read);
}

static void s_vec_hit_pattern(struct proto_hit *h)
{
    memset(h, 0, sizeof *h);
    h->hit_id = 1001004;
    h->entry_id = 3007;
    h->list_id = 9;
    h->priority = 5;
    h->match = PROTO_MATCH_PATTERN;
    strcpy(h->list, "Onderzoek");
    strcpy(h->category, "investigation");
    strcpy(h->entry_plate, "1AB?12*");
    strcpy(h->external_ref, "OPS-77");
    strcpy(h->detail, "pattern 1AB?12*");
    s_vec_read_min(&h->read);
}

/* ---- helpers ---- */

static uint64_t s_rng_state;

static uint64_t s_rand(void)
{
    /* splitmix64 */
    uint64_t z = (s_rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t s_below(uint32_t n)
{
    return (uint32_t)(s_rand() % n);
}

static bool s_read_eq(const struct proto_read *a, const struct proto_read *b)
{
    if (a->seq != b->seq || a->time_us != b->time_us || a->confidence != b->confidence ||
        a->lane != b->lane || a->direction != b->direction || a->ncand != b->ncand ||
        a->has_position != b->has_position || strcmp(a->camera, b->camera) != 0 ||
        strcmp(a->plate, b->plate) != 0 || strcmp(a->country, b->country) != 0 ||
        strcmp(a->image_ref, b->image_ref) != 0)
        return false;
    if (a->has_position && (a->lat_e7 != b->lat_e7 || a->lon_e7 != b->lon_e7))
        return false;
    for (unsigned i = 0; i < a->ncand; i++) {
        if (strcmp(a->cand[i].plate, b->cand[i].plate) != 0 ||
            a->cand[i].confidence != b->cand[i].confidence)
            return false;
    }
    return true;
}

static bool s_hit_eq(const struct proto_hit *a, const struct proto_hit *b)
{
    return a->entry_id == b->entry_id && a->list_id == b->list_id && a->priority == b->priority &&
           a->match == b->match && a->reading == b->reading && a->nsubst == b->nsubst &&
           strcmp(a->detail, b->detail) == 0 && strcmp(a->list, b->list) == 0 &&
           strcmp(a->category, b->category) == 0 && strcmp(a->entry_plate, b->entry_plate) == 0 &&
           strcmp(a->entry_country, b->entry_country) == 0 &&
           strcmp(a->instruction, b->instruction) == 0 &&
           strcmp(a->external_ref, b->external_ref) == 0 && s_read_eq(&a->read, &b->read) &&
           a->hit_id == b->hit_id && a->post_match == b->post_match;
}

/* ---- an independent frame builder, able to break every rule ---- */

struct s_str {
    const char *p;
    size_t n;
};

#define STR(lit) ((struct s_str){lit, sizeof(lit) - 1})

struct s_tread {
    uint64_t seq, time_us;
    uint16_t confidence;
    uint8_t lane, direction, flags, ncand;
    struct s_str camera, plate, country;
    struct s_str cand_plate[16];
    uint16_t cand_conf[16];
    uint32_t lat, lon;
    struct s_str image_ref;
};

struct s_buf {
    uint8_t b[8192];
    size_t n;
};

static void s_b_bytes(struct s_buf *b, const void *p, size_t n)
{
    if (n > 0)
        memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void s_b_u(struct s_buf *b, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        b->b[b->n++] = (uint8_t)(v >> (8 * (size - 1 - i)));
}

static void s_b_str8(struct s_buf *b, struct s_str s)
{
    s_b_u(b, s.n, 1);
    s_b_bytes(b, s.p, s.n);
}

static void s_b_header(struct s_buf *b, uint8_t type)
{
    b->n = 0;
    s_b_bytes(b, "AN\x01", 3);
    s_b_u(b, type, 1);
    s_b_u(b, 0, 4);
}

static void s_b_fix_len(struct s_buf *b)
{
    uint32_t body = (uint32_t)(b->n - PROTO_HDR_LEN);

    b->b[4] = (uint8_t)(body >> 24);
    b->b[5] = (uint8_t)(body >> 16);
    b->b[6] = (uint8_t)(body >> 8);
    b->b[7] = (uint8_t)body;
}

static void s_b_read_body(struct s_buf *b, const struct s_tread *t)
{
    s_b_u(b, t->seq, 8);
    s_b_u(b, t->time_us, 8);
    s_b_u(b, t->confidence, 2);
    s_b_u(b, t->lane, 1);
    s_b_u(b, t->direction, 1);
    s_b_u(b, t->flags, 1);
    s_b_u(b, t->ncand, 1);
    s_b_str8(b, t->camera);
    s_b_str8(b, t->plate);
    s_b_str8(b, t->country);
    for (unsigned i = 0; i < t->ncand && i < 16; i++) {
        s_b_str8(b, t->cand_plate[i]);
        s_b_u(b, t->cand_conf[i], 2);
    }
    if (t->flags & 1) {
        s_b_u(b, t->lat, 4);
        s_b_u(b, t->lon, 4);
    }
    s_b_str8(b, t->image_ref);
}

static void s_t_read_frame(struct s_buf *b, const struct s_tread *t)
{
    s_b_header(b, PROTO_READ);
    s_b_read_body(b, t);
    s_b_fix_len(b);
}

/* The minimal READ vector, as builder input. */
static struct s_tread s_t_read_min(void)
{
    struct s_tread t = {0};

    t.seq = 1;
    t.time_us = 1764429601123456;
    t.confidence = 912;
    t.camera = STR("cam-01");
    t.plate = STR("1ABC123");
    t.country = STR("");
    t.image_ref = STR("");
    return t;
}

/* Decode a READ built from t; check the reason and, if given, a piece of the message. */
static void s_expect_read(const struct s_tread *t, enum proto_reason want, const char *msg,
                          int line)
{
    struct s_buf b;
    struct proto_read r;
    struct proto_error err = {0};
    int rc;

    s_t_read_frame(&b, t);
    rc = proto_decode_read(b.b, b.n, &r, &err);
    CHECK_INT(rc, want == PROTO_OK ? 0 : -1);
    CHECK_INT(err.reason, want);
    if (msg)
        CHECK_CONTAINS(err.msg, msg);
    if ((int)err.reason != (int)want || (msg && !strstr(err.msg, msg)))
        fprintf(stderr, "  (from line %d: %s \"%s\")\n", line, proto_reason_name(err.reason),
                err.msg);
}

#define EXPECT_READ(t, want, msg) s_expect_read(&(t), want, msg, __LINE__)

/* ---- tests ---- */

static void s_test_reason_names(void)
{
    static const char *const names[] = {
        "ok",
        "truncated",
        "oversized",
        "bad_magic",
        "bad_version",
        "bad_type",
        "bad_length",
        "bad_field",
        "plate_empty",
        "plate_too_long",
        "plate_invalid",
        "unknown_camera",
        "time_out_of_range",
        "overload",
        "conflict",
    };

    CHECK_INT(sizeof names / sizeof names[0], PROTO_REASON_COUNT);
    for (int i = 0; i < PROTO_REASON_COUNT; i++)
        CHECK_STR(proto_reason_name((enum proto_reason)i), names[i]);
    CHECK_STR(proto_reason_name(PROTO_REASON_COUNT), "unknown");
    CHECK_STR(proto_reason_name((enum proto_reason)99), "unknown");
    CHECK_INT(PROTO_E_VERSION, 4);
    CHECK_INT(PROTO_E_OVERLOAD, 13);
    CHECK_INT(PROTO_E_CONFLICT, 14);
}

/* Version 2 (PROTOCOL.md 10.11 to 10.13): the epoch goes with READ, ACK and REJECT. */
static void s_test_v2_vectors(void)
{
    struct proto_read r, out;
    struct proto_ack_range a[2], ao[PROTO_ACK_MAX_RANGES];
    struct proto_reject rej, rej_out;
    struct proto_error err;
    uint8_t buf[PROTO_MAX_FRAME], v1[PROTO_MAX_FRAME];
    size_t n, n1, na = 0;

    s_vec_read_min(&r);
    r.epoch = 1764288000u;
    n = proto_encode_read(&r, buf, sizeof buf);
    vec_check_hex("read_v2", buf, n, v_read_v2);
    CHECK_INT(proto_decode_read(buf, n, &out, &err), 0);
    CHECK(s_read_eq(&r, &out));
    CHECK_INT(out.epoch, 1764288000u);
    /* The same read in version 1: 4 bytes less, epoch 0, the rest the same. */
    n1 = vec_unhex(v_read_min, v1, sizeof v1);
    CHECK(n == n1 + 4 && memcmp(buf + 8, v1 + 8, 8) == 0 &&
          memcmp(buf + 20, v1 + 16, n1 - 16) == 0);
    CHECK_INT(proto_decode_read(v1, n1, &out, &err), 0);
    CHECK_INT(out.epoch, 0);

    memset(a, 0, sizeof a);
    strcpy(a[0].camera, "cam-01");
    a[0].epoch = 1764288000u;
    a[0].first_seq = 1;
    a[0].count = 3;
    n = proto_encode_ack(a, 1, buf, sizeof buf);
    vec_check_hex("ack_v2", buf, n, v_ack_v2);
    CHECK_INT(proto_decode_ack(buf, n, ao, PROTO_ACK_MAX_RANGES, &na, &err), 0);
    CHECK_INT(na, 1);
    CHECK_INT(ao[0].epoch, 1764288000u);
    CHECK_INT(ao[0].first_seq, 1);
    CHECK_INT(ao[0].count, 3);
    /* One layout per frame: epoch 0 cannot share a version 2 ACK. */
    a[1] = a[0];
    a[1].epoch = 0;
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);

    memset(&rej, 0, sizeof rej);
    strcpy(rej.camera, "cam-01");
    rej.epoch = 1764288000u;
    rej.seq = 1;
    rej.reason = PROTO_E_CONFLICT;
    strcpy(rej.text, "read (camera, epoch, seq) already stored with other content");
    n = proto_encode_reject(&rej, buf, sizeof buf);
    vec_check_hex("reject_v2", buf, n, v_reject_v2);
    CHECK_INT(proto_decode_reject(buf, n, &rej_out, &err), 0);
    CHECK_INT(rej_out.epoch, 1764288000u);
    CHECK_INT(rej_out.seq, 1);
    CHECK_INT(rej_out.reason, PROTO_E_CONFLICT);
    /* epoch 0: the same REJECT in version 1 */
    rej.epoch = 0;
    n = proto_encode_reject(&rej, buf, sizeof buf);
    CHECK(n > 0 && buf[2] == 1);
    CHECK_INT(proto_decode_reject(buf, n, &rej_out, &err), 0);
    CHECK_INT(rej_out.reason, PROTO_E_CONFLICT);
    /* an epoch needs a camera to name */
    rej.epoch = 5;
    rej.camera[0] = '\0';
    CHECK_INT(proto_encode_reject(&rej, buf, sizeof buf), 0);

    /* A HIT stays version 1: the read inside carries no epoch. */
    {
        struct proto_hit h, ho;

        s_vec_hit(&h);
        h.read.epoch = 77;
        n = proto_encode_hit(&h, buf, sizeof buf);
        CHECK(n > 0 && buf[2] == 1);
        CHECK_INT(proto_decode_hit(buf, n, &ho, &err), 0);
        CHECK_INT(ho.read.epoch, 0);
    }
}

static void s_test_read_vectors(void)
{
    struct {
        const char *name;
        void (*build)(struct proto_read *);
        const char *hex;
    } vec[] = {
        {"read_min", s_vec_read_min, v_read_min},
        {"read_full", s_vec_read_full, v_read_full},
        {"read_pos", s_vec_read_pos, v_read_pos},
    };

    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        struct proto_read in, out;
        struct proto_error err;
        uint8_t buf[PROTO_MAX_FRAME], again[PROTO_MAX_FRAME];
        uint8_t type = 0;
        size_t n, n2;

        vec[i].build(&in);
        n = proto_encode_read(&in, buf, sizeof buf);
        vec_check_hex(vec[i].name, buf, n, vec[i].hex);
        CHECK_INT(proto_peek(buf, n, &type, &err), 0);
        CHECK_INT(type, PROTO_READ);
        CHECK_INT(proto_decode_read(buf, n, &out, &err), 0);
        CHECK_INT(err.reason, PROTO_OK);
        CHECK_STR(err.msg, "");
        CHECK(s_read_eq(&in, &out));
        n2 = proto_encode_read(&out, again, sizeof again);
        CHECK(n2 == n && memcmp(buf, again, n) == 0);
        /* the encoded bytes also decode from the documented hex */
        n2 = vec_unhex(vec[i].hex, again, sizeof again);
        CHECK_INT(proto_decode_read(again, n2, &out, &err), 0);
        CHECK(s_read_eq(&in, &out));
    }

    /* field by field, for the full vector */
    {
        struct proto_read r;
        struct proto_error err;
        uint8_t buf[PROTO_MAX_FRAME];
        size_t n = vec_unhex(v_read_full, buf, sizeof buf);

        CHECK_INT(proto_decode_read(buf, n, &r, &err), 0);
        CHECK_INT(r.seq, 42);
        CHECK_INT(r.time_us, 1764429601123456);
        CHECK_INT(r.confidence, 874);
        CHECK_INT(r.lane, 2);
        CHECK_INT(r.direction, PROTO_DIR_AWAY);
        CHECK_INT(r.ncand, 2);
        CHECK(r.has_position);
        CHECK_INT(r.lat_e7, 510543422);
        CHECK_INT(r.lon_e7, 37174243);
        CHECK_STR(r.camera, "e40.gent-k12:a");
        CHECK_STR(r.plate, "1-ABC-123");
        CHECK_STR(r.country, "BE");
        CHECK_STR(r.cand[0].plate, "1-A8C-123");
        CHECK_INT(r.cand[0].confidence, 512);
        CHECK_STR(r.cand[1].plate, "I-ABC-123");
        CHECK_INT(r.cand[1].confidence, 301);
        CHECK_STR(r.cand[2].plate, "");
        CHECK_STR(r.image_ref, "s3://anpr/e40/42.jpg");

        n = vec_unhex(v_read_pos, buf, sizeof buf);
        CHECK_INT(proto_decode_read(buf, n, &r, &err), 0);
        CHECK_INT(r.seq, 9000000001);
        CHECK_INT(r.lon_e7, -1246254);
        CHECK_STR(r.plate, "AB12 CDE");
        CHECK_STR(r.image_ref, "");

        n = vec_unhex(v_read_min, buf, sizeof buf);
        CHECK_INT(proto_decode_read(buf, n, &r, &err), 0);
        CHECK(!r.has_position);
        CHECK_INT(r.lat_e7, 0);
        CHECK_INT(r.ncand, 0);
        CHECK_STR(r.country, "");
    }
}

static void s_test_other_vectors(void)
{
    struct proto_ack_range ack[2], ack_out[PROTO_ACK_MAX_RANGES];
    struct proto_reject rej, rej_out;
    struct proto_hit hit, hit_out;
    struct proto_error err;
    uint8_t buf[PROTO_MAX_FRAME], again[PROTO_MAX_FRAME];
    size_t n, n2, nack = s_vec_ack(ack), nout = 99;

    n = proto_encode_ack(ack, nack, buf, sizeof buf);
    vec_check_hex("ack", buf, n, v_ack);
    CHECK_INT(proto_decode_ack(buf, n, ack_out, PROTO_ACK_MAX_RANGES, &nout, &err), 0);
    CHECK_INT(nout, 2);
    CHECK_STR(ack_out[0].camera, "cam-01");
    CHECK_INT(ack_out[0].first_seq, 1);
    CHECK_INT(ack_out[0].count, 1);
    CHECK_STR(ack_out[1].camera, "e40.gent-k12:a");
    CHECK_INT(ack_out[1].first_seq, 40);
    CHECK_INT(ack_out[1].count, 3);
    n2 = proto_encode_ack(ack_out, nout, again, sizeof again);
    CHECK(n2 == n && memcmp(buf, again, n) == 0);

    s_vec_reject(&rej);
    n = proto_encode_reject(&rej, buf, sizeof buf);
    vec_check_hex("reject", buf, n, v_reject);
    CHECK_INT(proto_decode_reject(buf, n, &rej_out, &err), 0);
    CHECK_STR(rej_out.camera, "cam-01");
    CHECK_INT(rej_out.seq, 7);
    CHECK_INT(rej_out.reason, PROTO_E_PLATE_INVALID);
    CHECK_STR(rej_out.text, "READ.plate: invalid UTF-8 at byte 3");
    n2 = proto_encode_reject(&rej_out, again, sizeof again);
    CHECK(n2 == n && memcmp(buf, again, n) == 0);

    s_vec_reject_version(&rej);
    n = proto_encode_reject(&rej, buf, sizeof buf);
    vec_check_hex("reject_version", buf, n, v_reject_version);
    CHECK_INT(proto_decode_reject(buf, n, &rej_out, &err), 0);
    CHECK_STR(rej_out.camera, "");
    CHECK_INT(rej_out.seq, 0);
    CHECK_INT(rej_out.reason, PROTO_E_VERSION);
    CHECK_INT(buf[2], 1); /* a REJECT is always sent in version 1 */

    s_vec_hit(&hit);
    n = proto_encode_hit(&hit, buf, sizeof buf);
    vec_check_hex("hit", buf, n, v_hit);
    CHECK_INT(proto_decode_hit(buf, n, &hit_out, &err), 0);
    CHECK(s_hit_eq(&hit, &hit_out));
    CHECK_INT(hit_out.entry_id, 1001);
    CHECK_INT(hit_out.list_id, 3);
    CHECK_INT(hit_out.priority, 2);
    CHECK_INT(hit_out.match, PROTO_MATCH_EXACT);
    CHECK_INT(hit_out.reading, 0);
    CHECK_INT(hit_out.nsubst, 0);
    CHECK_STR(hit_out.detail, "");
    CHECK_STR(hit_out.category, "stolen");
    CHECK_STR(hit_out.instruction, "Niet ingrijpen \xE2\x80\x94 positie melden aan dispatch.");
    CHECK_STR(hit_out.read.plate, "1-ABC-123");
    CHECK_INT(hit_out.read.seq, 42);
    CHECK(!hit_out.post_match);

    /* A post-match: the same HIT with bit 7 of match set, and nothing else changed. */
    hit.post_match = true;
    n2 = proto_encode_hit(&hit, again, sizeof again);
    CHECK(n2 == n && again[21] == (PROTO_MATCH_POST | PROTO_MATCH_EXACT));
    CHECK(memcmp(buf, again, 21) == 0 && memcmp(buf + 22, again + 22, n - 22) == 0);
    CHECK_INT(proto_decode_hit(again, n2, &hit_out, &err), 0);
    CHECK(hit_out.post_match);
    CHECK_INT(hit_out.match, PROTO_MATCH_EXACT);
    hit.post_match = false;

    n = vec_unhex(v_hit_cand, buf, sizeof buf);
    CHECK_INT(proto_decode_hit(buf, n, &hit_out, &err), 0);
    CHECK_INT(hit_out.match, PROTO_MATCH_CANDIDATE);
    CHECK_INT(hit_out.reading, 2);
    CHECK_STR(hit_out.read.cand[hit_out.reading - 1].plate, "I-ABC-123");
    CHECK_STR(hit_out.detail, "candidate 2 (301), exact");
    n = vec_unhex(v_hit_ocr, buf, sizeof buf);
    CHECK_INT(proto_decode_hit(buf, n, &hit_out, &err), 0);
    CHECK_INT(hit_out.match, PROTO_MATCH_OCR);
    CHECK_INT(hit_out.nsubst, 1);
    CHECK_STR(hit_out.entry_country, "");
    CHECK_STR(hit_out.detail, "8 read as B at 3");
    n = vec_unhex(v_hit_pattern, buf, sizeof buf);
    CHECK_INT(proto_decode_hit(buf, n, &hit_out, &err), 0);
    CHECK_INT(hit_out.match, PROTO_MATCH_PATTERN);
    CHECK_STR(hit_out.entry_plate, "1AB?12*");
    CHECK_STR(hit_out.instruction, "");

    /*
     * Every HIT vector: encodes to the documented bytes, decodes to the same struct, re-encodes
     * to the same bytes, and ends with the body of the READ it embeds, unchanged.
     */
    {
        const struct {
            const char *name;
            void (*build)(struct proto_hit *);
            const char *hex, *read_hex;
        } hv[] = {
            {"hit", s_vec_hit, v_hit, v_read_full},
            {"hit_cand", s_vec_hit_cand, v_hit_cand, v_read_full},
            {"hit_ocr", s_vec_hit_ocr, v_hit_ocr, v_read_min},
            {"hit_pattern", s_vec_hit_pattern, v_hit_pattern, v_read_min},
        };

        for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++) {
            uint8_t rb[PROTO_MAX_FRAME];
            size_t rn = vec_unhex(hv[i].read_hex, rb, sizeof rb);

            hv[i].build(&hit);
            n = proto_encode_hit(&hit, buf, sizeof buf);
            vec_check_hex(hv[i].name, buf, n, hv[i].hex);
            CHECK_INT(proto_decode_hit(buf, n, &hit_out, &err), 0);
            CHECK_INT(err.reason, PROTO_OK);
            CHECK(s_hit_eq(&hit, &hit_out));
            n2 = proto_encode_hit(&hit_out, again, sizeof again);
            CHECK(n2 == n && memcmp(buf, again, n) == 0);
            /* The read's body, then the 8-byte hit_id, end the HIT. */
            CHECK(n > rn + 8 && memcmp(buf + n - 8 - (rn - PROTO_HDR_LEN), rb + PROTO_HDR_LEN,
                                       rn - PROTO_HDR_LEN) == 0);
        }
    }
}

static void s_test_header(void)
{
    uint8_t buf[PROTO_MAX_FRAME + 16];
    struct proto_error err;
    uint8_t type = 0;
    size_t n = vec_unhex(v_read_min, buf, sizeof buf);

    CHECK_INT(proto_peek(buf, 0, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_TRUNCATED);
    CHECK_INT(proto_peek(NULL, 0, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_TRUNCATED);
    CHECK_INT(proto_peek(NULL, 100, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_TRUNCATED);
    for (size_t len = 0; len < PROTO_HDR_LEN; len++) {
        CHECK_INT(proto_peek(buf, len, &type, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TRUNCATED);
    }
    CHECK_CONTAINS(err.msg, "header: frame of 7 bytes < 8");

    /* size is checked before magic: 4097 bytes of anything is oversized */
    memset(buf, 0xFF, sizeof buf);
    CHECK_INT(proto_peek(buf, PROTO_MAX_FRAME + 1, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_OVERSIZED);
    CHECK_CONTAINS(err.msg, "4097 bytes > 4096");
    {
        struct proto_read r;

        CHECK_INT(proto_decode_read(buf, sizeof buf, &r, &err), -1);
        CHECK_INT(err.reason, PROTO_E_OVERSIZED);
    }
    /* exactly PROTO_MAX_FRAME bytes with a matching header passes the header check */
    memset(buf, 0, sizeof buf);
    memcpy(buf, "AN\x01\x01\x00\x00\x0F\xF8", 8);
    CHECK_INT(proto_peek(buf, PROTO_MAX_FRAME, &type, &err), 0);
    CHECK_INT(type, PROTO_READ);

    n = vec_unhex(v_read_min, buf, sizeof buf);
    buf[0] = 'X';
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_MAGIC);
    buf[0] = 'A';
    buf[1] = 'M';
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_MAGIC);
    buf[1] = 'N';

    /* magic is checked before version, version before length */
    buf[2] = 3;
    buf[0] = 'a';
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_MAGIC);
    buf[0] = 'A';
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_VERSION);
    CHECK_STR(err.msg, "header: version 3 not supported (this receiver speaks 1 and 2)");
    buf[2] = 0;
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_VERSION);
    buf[2] = 255;
    buf[7] = 0xFF;
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_VERSION);
    buf[2] = 1;

    /* body length larger than the frame: truncated; smaller: bad length */
    buf[7] = (uint8_t)(n - PROTO_HDR_LEN + 1);
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_TRUNCATED);
    buf[4] = 0x80;
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_TRUNCATED);
    buf[4] = 0;
    buf[7] = (uint8_t)(n - PROTO_HDR_LEN - 1);
    CHECK_INT(proto_peek(buf, n, &type, &err), -1);
    CHECK_INT(err.reason, PROTO_E_LENGTH);
    buf[7] = (uint8_t)(n - PROTO_HDR_LEN);
    CHECK_INT(proto_peek(buf, n, &type, &err), 0);

    /* peek does not judge the type; typed decoders do */
    buf[3] = 9;
    type = 0;
    CHECK_INT(proto_peek(buf, n, &type, &err), 0);
    CHECK_INT(type, 9);
    CHECK_INT(proto_peek(buf, n, NULL, NULL), 0);
    {
        struct proto_read r;
        struct proto_hit h;
        struct proto_reject rej;
        struct proto_ack_range a[4];
        size_t na = 7;

        CHECK_INT(proto_decode_read(buf, n, &r, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TYPE);
        CHECK_CONTAINS(err.msg, "type 9");
        buf[3] = PROTO_READ;
        CHECK_INT(proto_decode_hit(buf, n, &h, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TYPE);
        CHECK_INT(proto_decode_reject(buf, n, &rej, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TYPE);
        CHECK_INT(proto_decode_ack(buf, n, a, 4, &na, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TYPE);
        CHECK_INT(na, 0);
        CHECK_CONTAINS(err.msg, "type 1 (READ) where ACK was expected");

        /* ACK bytes to the READ decoder */
        n = vec_unhex(v_ack, buf, sizeof buf);
        CHECK_INT(proto_decode_read(buf, n, &r, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TYPE);
        CHECK_INT(proto_decode_read(buf, n, &r, NULL), -1); /* err is optional */

        /* a frame of type 0 is a bad type too */
        n = vec_unhex(v_read_min, buf, sizeof buf);
        buf[3] = 0;
        CHECK_INT(proto_decode_read(buf, n, &r, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TYPE);
    }
}

/* Every cut of every vector: truncated, with the header left alone or fixed up to match. */
static void s_test_truncation(void)
{
    const char *hex[] = {v_read_min,       v_read_full, v_read_pos, v_ack,     v_reject,
                         v_reject_version, v_hit,       v_hit_cand, v_hit_ocr, v_hit_pattern};

    for (size_t v = 0; v < sizeof hex / sizeof hex[0]; v++) {
        uint8_t full[PROTO_MAX_FRAME];
        size_t n = vec_unhex(hex[v], full, sizeof full);

        for (size_t cut = 0; cut < n; cut++) {
            for (int fix = 0; fix < 2; fix++) {
                /* heap copy of exactly `cut` bytes, so ASan sees any read past the end */
                uint8_t *b = malloc(cut ? cut : 1);
                struct proto_error err;
                struct proto_read r;
                struct proto_ack_range a[PROTO_ACK_MAX_RANGES];
                struct proto_reject rej;
                struct proto_hit h;
                size_t na;
                int rc = 0;

                if (!b)
                    abort();
                memcpy(b, full, cut);
                if (fix && cut >= PROTO_HDR_LEN) {
                    size_t body = cut - PROTO_HDR_LEN;
                    b[4] = 0;
                    b[5] = 0;
                    b[6] = (uint8_t)(body >> 8);
                    b[7] = (uint8_t)body;
                }
                switch (full[3]) {
                case PROTO_READ:
                    rc = proto_decode_read(b, cut, &r, &err);
                    break;
                case PROTO_ACK:
                    rc = proto_decode_ack(b, cut, a, PROTO_ACK_MAX_RANGES, &na, &err);
                    break;
                case PROTO_REJECT:
                    rc = proto_decode_reject(b, cut, &rej, &err);
                    break;
                default:
                    rc = proto_decode_hit(b, cut, &h, &err);
                    break;
                }
                CHECK_INT(rc, -1);
                CHECK_INT(err.reason, PROTO_E_TRUNCATED);
                if (err.reason != PROTO_E_TRUNCATED)
                    fprintf(stderr, "  vector %zu cut %zu fix %d: %s\n", v, cut, fix, err.msg);
                free(b);
            }
        }
    }

    /* a cut inside the body names the field it hit */
    {
        struct s_tread t = s_t_read_min();
        struct s_buf b;
        struct proto_read r;
        struct proto_error err;

        s_t_read_frame(&b, &t);
        b.n -= 1 + 1 + 0 + 2; /* drop image_ref, country and the last 2 bytes of the plate */
        s_b_fix_len(&b);
        CHECK_INT(proto_decode_read(b.b, b.n, &r, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TRUNCATED);
        CHECK_STR(err.msg, "READ.plate: truncated (needs 7 bytes, 5 left)");
    }
}

static void s_test_length(void)
{
    struct proto_read r;
    struct proto_error err;
    struct proto_ack_range a[PROTO_ACK_MAX_RANGES];
    struct proto_reject rej;
    struct proto_hit h;
    size_t na;
    const char *hex[] = {v_read_min, v_read_full, v_ack,        v_reject,
                         v_hit,      v_hit_cand,  v_hit_pattern};

    for (size_t v = 0; v < sizeof hex / sizeof hex[0]; v++) {
        struct s_buf b;
        int rc;

        b.n = vec_unhex(hex[v], b.b, sizeof b.b);
        /* one extra byte, header not updated: the header disagrees with the frame */
        b.b[b.n++] = 0;
        rc = b.b[3] == PROTO_READ     ? proto_decode_read(b.b, b.n, &r, &err)
             : b.b[3] == PROTO_ACK    ? proto_decode_ack(b.b, b.n, a, 64, &na, &err)
             : b.b[3] == PROTO_REJECT ? proto_decode_reject(b.b, b.n, &rej, &err)
                                      : proto_decode_hit(b.b, b.n, &h, &err);
        CHECK_INT(rc, -1);
        CHECK_INT(err.reason, PROTO_E_LENGTH);
        CHECK_CONTAINS(err.msg, "header: body length");
        /* header updated: a byte after the last field */
        s_b_fix_len(&b);
        rc = b.b[3] == PROTO_READ     ? proto_decode_read(b.b, b.n, &r, &err)
             : b.b[3] == PROTO_ACK    ? proto_decode_ack(b.b, b.n, a, 64, &na, &err)
             : b.b[3] == PROTO_REJECT ? proto_decode_reject(b.b, b.n, &rej, &err)
                                      : proto_decode_hit(b.b, b.n, &h, &err);
        CHECK_INT(rc, -1);
        CHECK_INT(err.reason, PROTO_E_LENGTH);
        CHECK_CONTAINS(err.msg, "1 byte(s) after the last field");
    }
}

static void s_test_plate_check(void)
{
    static const struct {
        const char *s;
        size_t n;
        enum proto_reason want;
    } cases[] = {
#define P(lit, want) {lit, sizeof(lit) - 1, want}
        P("1ABC123", PROTO_OK),
        P("1-ABC-123", PROTO_OK),
        P("AB12 CDE", PROTO_OK),
        P("HS\xC2\xB7\x41\x42 123", PROTO_OK), /* U+00B7 middle dot */
        P("M \xC3\x84\x42 123", PROTO_OK),     /* U+00C4 */
        P("\xC2\xA0\x31", PROTO_OK),           /* U+00A0, first after C1 */
        P("\xE2\x82\xAC", PROTO_OK),           /* U+20AC */
        P("\xEF\xBF\xBF", PROTO_OK),           /* U+FFFF */
        P("\xF0\x9F\x9A\x97", PROTO_OK),       /* U+1F697 */
        P("\xF4\x8F\xBF\xBF", PROTO_OK),       /* U+10FFFF */
        P("\xED\x9F\xBF", PROTO_OK),           /* U+D7FF, last before surrogates */
        P("~", PROTO_OK),
        P("12345678901234567890123456789012", PROTO_OK),
        P("", PROTO_E_PLATE_EMPTY),
        P("123456789012345678901234567890123", PROTO_E_PLATE_LONG),
        P("\37723456789012345678901234567890123", PROTO_E_PLATE_LONG), /* length first */
        P("AB\xC0\xAF", PROTO_E_PLATE_INVALID),                        /* overlong '/' */
        P("\xC1\xBF", PROTO_E_PLATE_INVALID),                          /* overlong */
        P("\xE0\x80\xAF", PROTO_E_PLATE_INVALID),                      /* overlong 3-byte */
        P("\xE0\x9F\xBF", PROTO_E_PLATE_INVALID),                      /* overlong 3-byte, top */
        P("\xF0\x80\x80\xAF", PROTO_E_PLATE_INVALID),                  /* overlong 4-byte */
        P("\xF0\x8F\xBF\xBF", PROTO_E_PLATE_INVALID),                  /* overlong 4-byte, top */
        P("A\x80", PROTO_E_PLATE_INVALID),                             /* lone continuation */
        P("\xBF", PROTO_E_PLATE_INVALID),                              /* lone continuation */
        P("\xED\xA0\x80", PROTO_E_PLATE_INVALID),                      /* U+D800 surrogate */
        P("\xED\xBF\xBF", PROTO_E_PLATE_INVALID),                      /* U+DFFF surrogate */
        P("\xED\xA0\xBD\xED\xB8\x80", PROTO_E_PLATE_INVALID),          /* CESU-8 pair */
        P("\xF4\x90\x80\x80", PROTO_E_PLATE_INVALID),                  /* U+110000 */
        P("\xF5\x80\x80\x80", PROTO_E_PLATE_INVALID),
        P("\xFE", PROTO_E_PLATE_INVALID),
        P("\xFF", PROTO_E_PLATE_INVALID),
        P("AB\xC3", PROTO_E_PLATE_INVALID), /* sequence cut short */
        P("AB\xE2\x82", PROTO_E_PLATE_INVALID),
        P("AB\xF0\x9F\x9A", PROTO_E_PLATE_INVALID),
        P("\xE2\x28\xA1", PROTO_E_PLATE_INVALID), /* bad second byte */
        P("\xE2\x82\x28", PROTO_E_PLATE_INVALID), /* bad third byte */
        P("A\0B", PROTO_E_PLATE_INVALID),         /* NUL */
        P("AB\x01", PROTO_E_PLATE_INVALID),
        P("AB\t1", PROTO_E_PLATE_INVALID),
        P("AB\n", PROTO_E_PLATE_INVALID),
        P("\x1F", PROTO_E_PLATE_INVALID),
        P("AB\x7F", PROTO_E_PLATE_INVALID),   /* DEL */
        P("\xC2\x80", PROTO_E_PLATE_INVALID), /* U+0080, C1 */
        P("\xC2\x85", PROTO_E_PLATE_INVALID), /* U+0085 NEL */
        P("\xC2\x9F", PROTO_E_PLATE_INVALID), /* U+009F, C1 */
#undef P
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum proto_reason got = proto_plate_check(cases[i].s, cases[i].n);

        CHECK_INT(got, cases[i].want);
        if (got != cases[i].want)
            fprintf(stderr, "  plate case %zu\n", i);
    }
    CHECK_INT(proto_plate_check(NULL, 0), PROTO_E_PLATE_EMPTY);
    CHECK_INT(proto_plate_check(NULL, 3), PROTO_E_PLATE_INVALID);
    /* the length is what counts, not a terminator */
    CHECK_INT(proto_plate_check("ABC", 2), PROTO_OK);
}

static void s_test_read_fields(void)
{
    struct s_tread t;
    char big[300];

    memset(big, 'A', sizeof big);

    t = s_t_read_min();
    EXPECT_READ(t, PROTO_OK, NULL);

    /* seq */
    t = s_t_read_min();
    t.seq = 0;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.seq: 0");
    t.seq = (uint64_t)INT64_MAX;
    EXPECT_READ(t, PROTO_OK, NULL);
    t.seq = (uint64_t)INT64_MAX + 1;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.seq: 9223372036854775808 > 9223372036854775807");
    t.seq = UINT64_MAX;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.seq");

    /* time */
    t = s_t_read_min();
    t.time_us = 0;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.time_us: 0 <= 0");
    t.time_us = UINT64_MAX; /* -1 */
    EXPECT_READ(t, PROTO_E_FIELD, "READ.time_us: -1 <= 0");
    t.time_us = (uint64_t)1 << 63; /* INT64_MIN */
    EXPECT_READ(t, PROTO_E_FIELD, "READ.time_us: -9223372036854775808");
    t.time_us = 1;
    EXPECT_READ(t, PROTO_OK, NULL);
    t.time_us = (uint64_t)INT64_MAX;
    EXPECT_READ(t, PROTO_OK, NULL);

    /* confidence, direction, lane */
    t = s_t_read_min();
    t.confidence = 1000;
    EXPECT_READ(t, PROTO_OK, NULL);
    t.confidence = 1001;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.confidence: 1001 > 1000");
    t.confidence = 1200;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.confidence: 1200 > 1000");
    t.confidence = 65535;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.confidence");
    t = s_t_read_min();
    t.direction = 2;
    EXPECT_READ(t, PROTO_OK, NULL);
    t.direction = 3;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.direction: 3 > 2");
    t.direction = 255;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.direction");
    t = s_t_read_min();
    t.lane = 255;
    EXPECT_READ(t, PROTO_OK, NULL);

    /* flags */
    t = s_t_read_min();
    t.flags = 0x02;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.flags: unknown bits 0x02");
    t.flags = 0x80;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.flags: unknown bits 0x80");
    t.flags = 0xFF;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.flags: unknown bits 0xFE");

    /* ncand */
    t = s_t_read_min();
    t.ncand = 8;
    for (int i = 0; i < 8; i++) {
        t.cand_plate[i] = STR("1ABC128");
        t.cand_conf[i] = (uint16_t)(100 * i);
    }
    EXPECT_READ(t, PROTO_OK, NULL);
    t.ncand = 9;
    t.cand_plate[8] = STR("1ABC129");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.ncand: 9 > 8");
    t.ncand = 255;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.ncand: 255 > 8");

    /* camera */
    t = s_t_read_min();
    t.camera = STR("");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.camera: empty");
    t.camera = STR("cam 1");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.camera: byte 0x20 at 3");
    t.camera = STR("cam/1");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.camera");
    t.camera = STR("cam\xC3\xA9");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.camera");
    t.camera = STR("cam\0");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.camera: byte 0x00 at 3");
    t.camera = STR("Az09._:-");
    EXPECT_READ(t, PROTO_OK, NULL);
    t.camera = (struct s_str){big, 32};
    EXPECT_READ(t, PROTO_OK, NULL);
    t.camera = (struct s_str){big, 33};
    EXPECT_READ(t, PROTO_E_FIELD, "READ.camera: 33 bytes > 32");

    /* plate: the read's own plate has its own reasons */
    t = s_t_read_min();
    t.plate = STR("");
    EXPECT_READ(t, PROTO_E_PLATE_EMPTY, "READ.plate: empty");
    t.plate = (struct s_str){big, 33};
    EXPECT_READ(t, PROTO_E_PLATE_LONG, "READ.plate: 33 bytes > 32");
    t.plate = (struct s_str){big, 255};
    EXPECT_READ(t, PROTO_E_PLATE_LONG, NULL);
    t.plate = (struct s_str){big, 32};
    EXPECT_READ(t, PROTO_OK, NULL);
    t.plate = STR("1AB\xC0\xAF\x43");
    EXPECT_READ(t, PROTO_E_PLATE_INVALID, "plate: invalid UTF-8 at byte 3");
    t.plate = STR("\x80\x41\x42\x43");
    EXPECT_READ(t, PROTO_E_PLATE_INVALID, "READ.plate: invalid UTF-8 at byte 0");
    t.plate = STR("AB\xED\xA0\x80");
    EXPECT_READ(t, PROTO_E_PLATE_INVALID, "READ.plate: invalid UTF-8 at byte 2");
    t.plate = STR("AB\x07\x43");
    EXPECT_READ(t, PROTO_E_PLATE_INVALID, "READ.plate: control character U+0007 at byte 2");
    t.plate = STR("AB\x7F");
    EXPECT_READ(t, PROTO_E_PLATE_INVALID, "U+007F at byte 2");
    t.plate = STR("A\xC2\x9B");
    EXPECT_READ(t, PROTO_E_PLATE_INVALID, "U+009B at byte 1");
    t.plate = STR("AB\0C");
    EXPECT_READ(t, PROTO_E_PLATE_INVALID, "U+0000 at byte 2");
    t.plate = STR("\xC3\x84\x42 123");
    EXPECT_READ(t, PROTO_OK, NULL);

    /* country */
    t = s_t_read_min();
    t.country = STR("BE");
    EXPECT_READ(t, PROTO_OK, NULL);
    t.country = STR("be");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.country");
    t.country = STR("B");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.country");
    t.country = STR("BEL");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.country");
    t.country = STR("B1");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.country");
    t.country = STR("B\0");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.country");

    /* candidates: any violation is a bad field naming the candidate */
    t = s_t_read_min();
    t.ncand = 2;
    t.cand_plate[0] = STR("1ABC128");
    t.cand_conf[0] = 500;
    t.cand_plate[1] = STR("");
    t.cand_conf[1] = 400;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.cand[1].plate: empty");
    t.cand_plate[1] = (struct s_str){big, 33};
    EXPECT_READ(t, PROTO_E_FIELD, "READ.cand[1].plate: 33 bytes > 32");
    t.cand_plate[1] = STR("AB\xE0\x80\xAF");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.cand[1].plate: invalid UTF-8 at byte 2");
    t.cand_plate[1] = STR("AB\x1B");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.cand[1].plate: control character U+001B");
    t.cand_plate[1] = STR("1ABC129");
    t.cand_conf[1] = 1001;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.cand[1].confidence: 1001 > 1000");
    t.cand_conf[0] = 2000;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.cand[0].confidence: 2000 > 1000");

    /* position */
    t = s_t_read_min();
    t.flags = 1;
    t.lat = 900000000;
    t.lon = 1800000000;
    EXPECT_READ(t, PROTO_OK, NULL);
    t.lat = (uint32_t)-900000000;
    t.lon = (uint32_t)-1800000000;
    EXPECT_READ(t, PROTO_OK, NULL);
    t.lat = 900000001;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.lat_e7: 900000001 not in -900000000..900000000");
    t.lat = (uint32_t)-900000001;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.lat_e7: -900000001");
    t.lat = 0x80000000u; /* INT32_MIN */
    EXPECT_READ(t, PROTO_E_FIELD, "READ.lat_e7: -2147483648");
    t.lat = 0;
    t.lon = 1800000001;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.lon_e7: 1800000001 not in -1800000000..1800000000");
    t.lon = (uint32_t)-1800000001;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.lon_e7");
    t.lon = 0x7FFFFFFFu;
    EXPECT_READ(t, PROTO_E_FIELD, "READ.lon_e7");

    /* image_ref */
    t = s_t_read_min();
    t.image_ref = (struct s_str){big, 255};
    EXPECT_READ(t, PROTO_OK, NULL);
    t.image_ref = STR("!~");
    EXPECT_READ(t, PROTO_OK, NULL);
    t.image_ref = STR("img 1.jpg");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.image_ref: byte 0x20 at 3 is not printable ASCII");
    t.image_ref = STR("img\t");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.image_ref");
    t.image_ref = STR("img\x7F");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.image_ref");
    t.image_ref = STR("\xC3\xA9");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.image_ref: byte 0xC3 at 0");
    t.image_ref = STR("a\0");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.image_ref: byte 0x00 at 1");

    /* the first problem in wire order wins, except that the camera is checked first */
    t = s_t_read_min();
    t.confidence = 1200;
    t.plate = STR("");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.confidence");
    t.camera = STR("bad camera");
    EXPECT_READ(t, PROTO_E_FIELD, "READ.camera");
    t = s_t_read_min();
    t.plate = STR("");
    t.country = STR("be");
    EXPECT_READ(t, PROTO_E_PLATE_EMPTY, NULL);
}

/* A failed READ still tells which read it was, when it could be read that far. */
static void s_test_read_partial(void)
{
    struct s_tread t = s_t_read_min();
    struct s_buf b;
    struct proto_read r;
    struct proto_error err;

    t.seq = 77;
    t.confidence = 1200;
    s_t_read_frame(&b, &t);
    CHECK_INT(proto_decode_read(b.b, b.n, &r, &err), -1);
    CHECK_INT(r.seq, 77);
    CHECK_STR(r.camera, "cam-01");

    t.confidence = 0;
    t.plate = STR("\xFF");
    s_t_read_frame(&b, &t);
    CHECK_INT(proto_decode_read(b.b, b.n, &r, &err), -1);
    CHECK_INT(err.reason, PROTO_E_PLATE_INVALID);
    CHECK_INT(r.seq, 77);
    CHECK_STR(r.camera, "cam-01");
    CHECK_STR(r.plate, "");

    t.camera = STR("bad camera");
    s_t_read_frame(&b, &t);
    CHECK_INT(proto_decode_read(b.b, b.n, &r, &err), -1);
    CHECK_INT(r.seq, 77);
    CHECK_STR(r.camera, "");

    /* header failures leave the whole struct zeroed */
    b.b[2] = 3;
    CHECK_INT(proto_decode_read(b.b, b.n, &r, &err), -1);
    CHECK_INT(err.reason, PROTO_E_VERSION);
    CHECK_INT(r.seq, 0);
    CHECK_STR(r.camera, "");
}

static void s_ack_frame(struct s_buf *b, unsigned nranges, const struct s_str *cams,
                        const uint64_t *first, const uint32_t *count)
{
    s_b_header(b, PROTO_ACK);
    s_b_u(b, nranges, 2);
    for (unsigned i = 0; i < nranges; i++) {
        s_b_str8(b, cams[i]);
        s_b_u(b, first[i], 8);
        s_b_u(b, count[i], 4);
    }
    s_b_fix_len(b);
}

static void s_test_ack(void)
{
    struct s_buf b;
    struct proto_ack_range a[PROTO_ACK_MAX_RANGES + 1], out[PROTO_ACK_MAX_RANGES];
    struct proto_error err;
    struct s_str cams[70];
    uint64_t first[70];
    uint32_t count[70];
    uint8_t buf[PROTO_MAX_FRAME];
    size_t n, na;

    for (int i = 0; i < 70; i++) {
        cams[i] = STR("cam-01");
        first[i] = (uint64_t)i * 10 + 1;
        count[i] = 5;
    }
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), 0);
    CHECK_INT(na, 2);

    s_ack_frame(&b, 0, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "ACK.nranges: 0 not in 1..64");

    s_ack_frame(&b, 64, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), 0);
    CHECK_INT(na, 64);
    CHECK_INT(out[63].first_seq, 631);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 10, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "64 > 10 (receiver capacity)");
    CHECK_INT(na, 0);
    CHECK_INT(proto_decode_ack(b.b, b.n, NULL, 64, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);

    s_ack_frame(&b, 65, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "ACK.nranges: 65 not in 1..64");

    cams[1] = STR("");
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "ACK.range[1].camera: empty");
    cams[1] = STR("cam#1");
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_CONTAINS(err.msg, "ACK.range[1].camera");
    cams[1] = STR("cam-02");

    first[0] = 0;
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "ACK.range[0].first_seq: 0");
    first[0] = 1;
    count[0] = 0;
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "ACK.range[0].count: 0");
    /* the last seq of a range must still be a valid seq */
    first[0] = (uint64_t)INT64_MAX;
    count[0] = 1;
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), 0);
    count[0] = 2;
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_CONTAINS(err.msg, "ACK.range[0]: last seq beyond 9223372036854775807");
    first[0] = (uint64_t)INT64_MAX - UINT32_MAX + 1;
    count[0] = UINT32_MAX;
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), 0);
    first[0] = UINT64_MAX;
    s_ack_frame(&b, 2, cams, first, count);
    CHECK_INT(proto_decode_ack(b.b, b.n, out, 64, &na, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);

    /* encoder limits */
    memset(a, 0, sizeof a);
    for (int i = 0; i <= PROTO_ACK_MAX_RANGES; i++) {
        snprintf(a[i].camera, sizeof a[i].camera, "cam-%02d", i);
        a[i].first_seq = 1;
        a[i].count = 1;
    }
    n = proto_encode_ack(a, PROTO_ACK_MAX_RANGES, buf, sizeof buf);
    CHECK(n > 0);
    CHECK_INT(proto_decode_ack(buf, n, out, 64, &na, &err), 0);
    CHECK_INT(na, 64);
    CHECK_STR(out[63].camera, "cam-63");
    CHECK_INT(proto_encode_ack(a, PROTO_ACK_MAX_RANGES + 1, buf, sizeof buf), 0);
    CHECK_INT(proto_encode_ack(a, 0, buf, sizeof buf), 0);
    CHECK_INT(proto_encode_ack(NULL, 1, buf, sizeof buf), 0);
    a[1].first_seq = 0;
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);
    a[1].first_seq = (uint64_t)INT64_MAX + 1;
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);
    a[1].first_seq = (uint64_t)INT64_MAX;
    a[1].count = 2;
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);
    a[1].count = 0;
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);
    a[1].first_seq = 5;
    a[1].count = 1;
    strcpy(a[1].camera, "");
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);
    strcpy(a[1].camera, "a b");
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);
    memset(a[1].camera, 'A', sizeof a[1].camera); /* not terminated */
    CHECK_INT(proto_encode_ack(a, 2, buf, sizeof buf), 0);
}

static void s_reject_frame(struct s_buf *b, struct s_str camera, uint64_t seq, uint16_t reason,
                           struct s_str text)
{
    s_b_header(b, PROTO_REJECT);
    s_b_str8(b, camera);
    s_b_u(b, seq, 8);
    s_b_u(b, reason, 2);
    s_b_str8(b, text);
    s_b_fix_len(b);
}

static void s_test_reject(void)
{
    struct s_buf b;
    struct proto_reject rej, out;
    struct proto_error err;
    uint8_t buf[PROTO_MAX_FRAME];
    char big[256];

    memset(big, 'x', sizeof big);
    s_reject_frame(&b, STR(""), 0, PROTO_E_OVERLOAD, STR(""));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), 0);
    CHECK_INT(out.reason, PROTO_E_OVERLOAD);
    s_reject_frame(&b, STR("cam-01"), UINT64_MAX, 1, STR("x"));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), 0);
    CHECK_INT(out.seq == UINT64_MAX, 1); /* the seq of a read refused for its seq */
    for (unsigned reason = 1; reason < PROTO_REASON_COUNT; reason++) {
        s_reject_frame(&b, STR("cam-01"), 3, (uint16_t)reason, STR("t"));
        CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), 0);
    }
    s_reject_frame(&b, STR("cam-01"), 3, 0, STR(""));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "REJECT.reason: 0 not in 1..14");
    s_reject_frame(&b, STR("cam-01"), 3, PROTO_REASON_COUNT, STR(""));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    s_reject_frame(&b, STR("cam 01"), 3, 1, STR(""));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "REJECT.camera");
    s_reject_frame(&b, STR("cam-01"), 3, 1, ((struct s_str){big, 200}));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), 0);
    CHECK_INT(strlen(out.text), 200);
    s_reject_frame(&b, STR("cam-01"), 3, 1, ((struct s_str){big, 201}));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "REJECT.text: 201 bytes > 200");
    s_reject_frame(&b, STR("cam-01"), 3, 1, STR("bad \xC0\x80"));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "REJECT.text: invalid UTF-8 at byte 4");
    s_reject_frame(&b, STR("cam-01"), 3, 1, STR("a\0b"));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), -1);
    CHECK_CONTAINS(err.msg, "REJECT.text: NUL at byte 1");
    /* texts may hold any other character, line breaks included */
    s_reject_frame(&b, STR("cam-01"), 3, 1, STR("line\nline\t\x7F\xC2\x85"));
    CHECK_INT(proto_decode_reject(b.b, b.n, &out, &err), 0);

    /* encoder */
    s_vec_reject(&rej);
    rej.reason = 0;
    CHECK_INT(proto_encode_reject(&rej, buf, sizeof buf), 0);
    rej.reason = PROTO_REASON_COUNT;
    CHECK_INT(proto_encode_reject(&rej, buf, sizeof buf), 0);
    rej.reason = PROTO_E_OVERLOAD;
    CHECK(proto_encode_reject(&rej, buf, sizeof buf) > 0);
    strcpy(rej.camera, "no camera");
    CHECK_INT(proto_encode_reject(&rej, buf, sizeof buf), 0);
    strcpy(rej.camera, "");
    CHECK(proto_encode_reject(&rej, buf, sizeof buf) > 0);
    strcpy(rej.text, "\xFF");
    CHECK_INT(proto_encode_reject(&rej, buf, sizeof buf), 0);
    memset(rej.text, 'x', sizeof rej.text);
    CHECK_INT(proto_encode_reject(&rej, buf, sizeof buf), 0);
    rej.text[PROTO_REASON_TEXT_MAX] = '\0';
    CHECK(proto_encode_reject(&rej, buf, sizeof buf) > 0);
    CHECK_INT(proto_encode_reject(NULL, buf, sizeof buf), 0);
}

/* The fixed-size fields come from h, the strings from the arguments (they may break rules). */
static void s_hit_frame(struct s_buf *b, const struct proto_hit *h, struct s_str list,
                        struct s_str category, struct s_str entry_plate, struct s_str instruction,
                        struct s_str external_ref, struct s_str detail, const struct s_tread *t)
{
    s_b_header(b, PROTO_HIT);
    s_b_u(b, h->entry_id, 8);
    s_b_u(b, h->list_id, 4);
    s_b_u(b, h->priority, 1);
    s_b_u(b, h->match, 1);
    s_b_u(b, h->reading, 1);
    s_b_u(b, h->nsubst, 1);
    s_b_str8(b, list);
    s_b_str8(b, category);
    s_b_str8(b, entry_plate);
    s_b_str8(b, STR("BE"));
    s_b_u(b, instruction.n, 2);
    s_b_bytes(b, instruction.p, instruction.n);
    s_b_str8(b, external_ref);
    s_b_str8(b, detail);
    s_b_read_body(b, t);
    s_b_u(b, h->hit_id, 8);
    s_b_fix_len(b);
}

/* Fill a read's candidates up to PROTO_CAND_MAX, repeating its first one. */
static void s_all_cands(struct proto_read *r)
{
    for (unsigned i = r->ncand; i < PROTO_CAND_MAX; i++)
        r->cand[i] = r->cand[0];
    r->ncand = PROTO_CAND_MAX;
}

static void s_test_hit(void)
{
    struct proto_hit h, out;
    struct proto_error err;
    struct s_buf b;
    struct s_tread t = s_t_read_min();
    struct s_str detail = STR("");
    uint8_t buf[PROTO_MAX_FRAME];
    static char big[1100];
    size_t n;

    memset(big, 'i', sizeof big);
    s_vec_hit(&h);
#define HIT(list, cat, plate, instr, ref)                                                          \
    (s_hit_frame(&b, &h, list, cat, plate, instr, ref, detail, &t),                                \
     proto_decode_hit(b.b, b.n, &out, &err))
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), 0);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), ((struct s_str){big, 1000}), STR("")),
              0);
    CHECK_INT(strlen(out.instruction), 1000);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), ((struct s_str){big, 1001}), STR("")),
              -1);
    CHECK_CONTAINS(err.msg, "HIT.instruction: 1001 bytes > 1000");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR("bad \xED\xA0\x80"), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.instruction: invalid UTF-8 at byte 4");
    CHECK_INT(HIT(STR(""), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.list: empty");
    CHECK_INT(HIT(((struct s_str){big, 64}), STR("stolen"), STR("1ABC123"), STR(""), STR("")), 0);
    CHECK_INT(HIT(((struct s_str){big, 65}), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.list: 65 bytes > 64");
    CHECK_INT(HIT(STR("l"), STR(""), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.category: empty");
    CHECK_INT(HIT(STR("l"), STR("Stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.category: byte 0x53 at 0");
    CHECK_INT(HIT(STR("l"), STR("stolen/x"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_INT(HIT(STR("l"), STR("wanted_person"), STR("1ABC123"), STR(""), STR("")), 0);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR(""), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_CONTAINS(err.msg, "HIT.entry_plate: empty");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("\xC2\x80"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), ((struct s_str){big, 65})), -1);
    CHECK_CONTAINS(err.msg, "HIT.external_ref: 65 bytes > 64");
    h.priority = 0;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.priority: 0 not in 1..9");
    h.priority = 10;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    h.priority = 9;
    h.match = 0;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.match: kind 0 not in 1..4");
    h.match = 5;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    h.match = PROTO_MATCH_POST; /* the post-match bit alone is no kind */
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.match: kind 0 not in 1..4");
    h.match = PROTO_MATCH_PATTERN;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), 0);
    /* the embedded READ follows the READ rules */
    t.confidence = 1200;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.read.confidence: 1200 > 1000");
    t.confidence = 0;
    t.plate = STR("");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_PLATE_EMPTY);
    t = s_t_read_min();

    /* entry_plate: normalised, so A-Z 0-9, and a pattern's ? and * */
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1AB?12*"), STR(""), STR("")), 0);
    CHECK_STR(out.entry_plate, "1AB?12*");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("*"), STR(""), STR("")), 0);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("?"), STR(""), STR("")), 0);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("AZ09"), STR(""), STR("")), 0);
    CHECK_INT(HIT(STR("l"), STR("stolen"), ((struct s_str){"PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP", 32}),
                  STR(""), STR("")),
              0);
    CHECK_INT(HIT(STR("l"), STR("stolen"),
                  ((struct s_str){"PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP", 33}), STR(""), STR("")),
              -1);
    CHECK_STR(err.msg, "HIT.entry_plate: 33 bytes > 32");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1AB#123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_STR(err.msg, "HIT.entry_plate: byte 0x23 at 3 not in [A-Z0-9?*]");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1AB?#23"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.entry_plate: byte 0x23 at 4 not in [A-Z0-9?*]");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1abc123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.entry_plate: byte 0x61 at 1 not in [A-Z0-9?*]");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1-ABC-123"), STR(""), STR("")), -1);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC 123"), STR(""), STR("")), -1);
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("M\xC3\x84\x42"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.entry_plate: byte 0xC3 at 1 not in [A-Z0-9?*]");

    /* reading: 0..8 on its own, then at most the read's ncand */
    s_vec_hit(&h);
    t.ncand = 2;
    t.cand_plate[0] = STR("1A8C123");
    t.cand_conf[0] = 512;
    t.cand_plate[1] = STR("IABC123");
    t.cand_conf[1] = 301;
    for (unsigned k = 0; k <= 2; k++) {
        h.reading = (uint8_t)k;
        CHECK_INT(HIT(STR("l"), STR("stolen"), STR("IABC123"), STR(""), STR("")), 0);
        CHECK_INT(out.reading, k);
    }
    h.reading = 3;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("IABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_STR(err.msg, "HIT.reading: 3 > HIT.read.ncand 2");
    h.reading = 9;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("IABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.reading: 9 > 8");
    h.reading = 255;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("IABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.reading: 255 > 8");
    /* reading is judged before the fields after it, the ncand comparison after the read */
    h.reading = 9;
    CHECK_INT(HIT(STR(""), STR("stolen"), STR("IABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.reading: 9 > 8");
    h.reading = 3;
    CHECK_INT(HIT(STR(""), STR("stolen"), STR("IABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.list: empty");
    t.image_ref = STR("a b");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("IABC123"), STR(""), STR("")), -1);
    CHECK_CONTAINS(err.msg, "HIT.read.image_ref");
    t.image_ref = STR("");
    t.ncand = 8;
    for (int i = 2; i < 8; i++) {
        t.cand_plate[i] = STR("1ABC12?");
        t.cand_conf[i] = 100;
    }
    h.reading = 8;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("IABC123"), STR(""), STR("")), 0);
    CHECK_STR(out.read.cand[out.reading - 1].plate, "1ABC12?");
    t = s_t_read_min();
    h.reading = 0;

    /* nsubst: 0..16, any match kind (combinations are not the codec's business) */
    for (unsigned m = PROTO_MATCH_EXACT; m <= PROTO_MATCH_PATTERN; m++) {
        h.match = (uint8_t)m;
        h.nsubst = 16;
        CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), 0);
        CHECK_INT(out.nsubst, 16);
    }
    h.nsubst = 17;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_STR(err.msg, "HIT.nsubst: 17 > 16");
    h.nsubst = 255;
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.nsubst: 255 > 16");
    s_vec_hit(&h);

    /* detail: 0..63 bytes of UTF-8 without control characters */
    detail = STR("O read as 0 at 3");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), 0);
    CHECK_STR(out.detail, "O read as 0 at 3");
    detail = STR("\xC3\x96 read as O at 2 \xE2\x80\x94 \xF0\x9F\x9A\x97");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), 0);
    detail = (struct s_str){big, 63};
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), 0);
    CHECK_INT(strlen(out.detail), 63);
    detail = (struct s_str){big, 64};
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_STR(err.msg, "HIT.detail: 64 bytes > 63");
    detail = STR("O read as 0\tat 3");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_INT(err.reason, PROTO_E_FIELD);
    CHECK_STR(err.msg, "HIT.detail: control character U+0009 at byte 11");
    detail = STR("line\n");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.detail: control character U+000A at byte 4");
    detail = STR("esc \x1B[2J");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.detail: control character U+001B at byte 4");
    detail = STR("del \x7F");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.detail: control character U+007F at byte 4");
    detail = STR("csi \xC2\x9B");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.detail: control character U+009B at byte 4");
    detail = STR("a\0b");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.detail: control character U+0000 at byte 1");
    detail = STR("bad \xC0\xAF");
    CHECK_INT(HIT(STR("l"), STR("stolen"), STR("1ABC123"), STR(""), STR("")), -1);
    CHECK_STR(err.msg, "HIT.detail: invalid UTF-8 at byte 4");
    detail = STR("");
#undef HIT

    /* encoder limits */
    s_vec_hit(&h);
    CHECK(proto_encode_hit(&h, buf, sizeof buf) > 0);
    h.priority = 0;
    CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);
    s_vec_hit(&h);
    h.match = 5;
    CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);
    s_vec_hit(&h);
    strcpy(h.category, "Stolen");
    CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);
    s_vec_hit(&h);
    strcpy(h.list, "");
    CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);
    s_vec_hit(&h);
    strcpy(h.entry_country, "be");
    CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);
    s_vec_hit(&h);
    h.read.direction = 3;
    CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);
    s_vec_hit(&h);
    memset(h.instruction, 'i', sizeof h.instruction); /* not terminated */
    CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);
    h.instruction[PROTO_TEXT_MAX] = '\0';
    n = proto_encode_hit(&h, buf, sizeof buf);
    CHECK(n > 0);
    CHECK_INT(proto_decode_hit(buf, n, &out, &err), 0);
    CHECK(s_hit_eq(&h, &out));

    /* the new fields: the encoder refuses what the decoder refuses */
#define REFUSED(stmt)                                                                              \
    do {                                                                                           \
        s_vec_hit_cand(&h);                                                                        \
        stmt;                                                                                      \
        CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 0);                                       \
    } while (0)
#define ACCEPTED(stmt)                                                                             \
    do {                                                                                           \
        s_vec_hit_cand(&h);                                                                        \
        stmt;                                                                                      \
        n = proto_encode_hit(&h, buf, sizeof buf);                                                 \
        CHECK(n > 0 && proto_decode_hit(buf, n, &out, &err) == 0 && s_hit_eq(&h, &out));           \
    } while (0)
    ACCEPTED((void)0);
    ACCEPTED(h.reading = 0);
    ACCEPTED(h.reading = 1);
    REFUSED(h.reading = 3);
    REFUSED(h.reading = 9);
    REFUSED(h.read.ncand = 0);
    ACCEPTED((s_all_cands(&h.read), h.reading = 8));
    REFUSED((h.read.ncand = 9, h.reading = 9));
    ACCEPTED(h.nsubst = 16);
    REFUSED(h.nsubst = 17);
    ACCEPTED(strcpy(h.detail, ""));
    ACCEPTED(memset(h.detail, 'd', PROTO_DETAIL_MAX));
    REFUSED(memset(h.detail, 'd', sizeof h.detail)); /* not terminated */
    REFUSED(strcpy(h.detail, "a\tb"));
    REFUSED(strcpy(h.detail, "a\xC2\x85"));
    REFUSED(strcpy(h.detail, "a\xFF"));
    ACCEPTED(strcpy(h.entry_plate, "1AB?12*"));
    ACCEPTED(strcpy(h.entry_plate, "*"));
    REFUSED(strcpy(h.entry_plate, "1AB#123"));
    REFUSED(strcpy(h.entry_plate, "1abc123"));
    REFUSED(strcpy(h.entry_plate, "1-ABC-123"));
    REFUSED(strcpy(h.entry_plate, ""));
    REFUSED(memset(h.entry_plate, 'P', sizeof h.entry_plate)); /* not terminated */
#undef REFUSED
#undef ACCEPTED
}

/* Every limit the decoder applies to a READ, the encoder applies to the struct. */
static void s_test_encode_read_limits(void)
{
    struct proto_read r;
    uint8_t buf[PROTO_MAX_FRAME];

#define REFUSED(stmt)                                                                              \
    do {                                                                                           \
        s_vec_read_full(&r);                                                                       \
        stmt;                                                                                      \
        CHECK_INT(proto_encode_read(&r, buf, sizeof buf), 0);                                      \
    } while (0)
    s_vec_read_full(&r);
    CHECK(proto_encode_read(&r, buf, sizeof buf) > 0);
    REFUSED(r.seq = 0);
    REFUSED(r.seq = (uint64_t)INT64_MAX + 1);
    REFUSED(r.time_us = 0);
    REFUSED(r.time_us = -5);
    REFUSED(r.confidence = 1001);
    REFUSED(r.direction = 3);
    REFUSED(r.ncand = 9);
    REFUSED(strcpy(r.camera, ""));
    REFUSED(strcpy(r.camera, "cam 1"));
    REFUSED(memset(r.camera, 'c', sizeof r.camera));
    REFUSED(strcpy(r.plate, ""));
    REFUSED(strcpy(r.plate, "AB\x01"));
    REFUSED(strcpy(r.plate, "AB\xC0\xAF"));
    REFUSED(memset(r.plate, 'P', sizeof r.plate));
    REFUSED(strcpy(r.country, "be"));
    REFUSED(strcpy(r.country, "B"));
    REFUSED(strcpy(r.cand[1].plate, ""));
    REFUSED(strcpy(r.cand[1].plate, "\xED\xA0\x80"));
    REFUSED(r.cand[1].confidence = 1001);
    REFUSED(r.lat_e7 = 900000001);
    REFUSED(r.lon_e7 = -1800000001);
    REFUSED(strcpy(r.image_ref, "a b"));
    REFUSED(memset(r.image_ref, 'i', sizeof r.image_ref));
#undef REFUSED
    /* fields that are not sent are not judged */
    s_vec_read_full(&r);
    r.has_position = false;
    r.lat_e7 = INT32_MIN;
    CHECK(proto_encode_read(&r, buf, sizeof buf) > 0);
    r.ncand = 1;
    strcpy(r.cand[1].plate, "");
    CHECK(proto_encode_read(&r, buf, sizeof buf) > 0);
    CHECK_INT(proto_encode_read(NULL, buf, sizeof buf), 0);
    CHECK_INT(proto_encode_read(&r, NULL, 4096), 0);
}

/* Encoders never write past cap and give 0 for every cap short of the frame. */
static void s_test_encode_small_buffers(void)
{
    struct proto_read r;
    struct proto_ack_range a[2];
    struct proto_reject rej;
    struct proto_hit h, hc;
    size_t na = s_vec_ack(a);

    s_vec_read_full(&r);
    s_vec_reject(&rej);
    s_vec_hit(&h);
    s_vec_hit_cand(&hc); /* detail set, and a different length */
    for (int kind = 0; kind < 5; kind++) {
        uint8_t buf[PROTO_MAX_FRAME + 64];
        size_t full = kind == 0   ? proto_encode_read(&r, buf, sizeof buf)
                      : kind == 1 ? proto_encode_ack(a, na, buf, sizeof buf)
                      : kind == 2 ? proto_encode_reject(&rej, buf, sizeof buf)
                      : kind == 3 ? proto_encode_hit(&h, buf, sizeof buf)
                                  : proto_encode_hit(&hc, buf, sizeof buf);

        CHECK(full > 0);
        for (size_t cap = 0; cap <= full; cap++) {
            size_t got;
            bool clean = true;

            memset(buf, 0xA5, sizeof buf);
            got = kind == 0   ? proto_encode_read(&r, buf, cap)
                  : kind == 1 ? proto_encode_ack(a, na, buf, cap)
                  : kind == 2 ? proto_encode_reject(&rej, buf, cap)
                  : kind == 3 ? proto_encode_hit(&h, buf, cap)
                              : proto_encode_hit(&hc, buf, cap);
            CHECK_INT(got, cap == full ? full : 0);
            for (size_t i = cap; i < sizeof buf; i++)
                clean = clean && buf[i] == 0xA5;
            CHECK(clean);
        }
    }
}

/* Random valid reads survive encode -> decode -> encode unchanged. */
static void s_random_read(struct proto_read *r)
{
    static const char cam_chars[] = "ABCXYZabcxyz0189._:-";
    static const char *const plates[] = {"1ABC123",
                                         "AB-123-CD",
                                         "HS AB 123",
                                         "M \xC3\x84\x42 1",
                                         "\xF0\x9F\x9A\x97\x31",
                                         "12345678901234567890123456789012"};
    size_t n;

    memset(r, 0, sizeof *r);
    r->seq = 1 + (s_rand() >> 1) % (uint64_t)INT64_MAX;
    r->time_us = (int64_t)(1 + (s_rand() >> 1) % (uint64_t)INT64_MAX);
    r->confidence = (uint16_t)s_below(1001);
    r->lane = (uint8_t)s_rand();
    r->direction = (uint8_t)s_below(3);
    n = 1 + s_below(PROTO_CAMERA_MAX);
    for (size_t i = 0; i < n; i++)
        r->camera[i] = cam_chars[s_below(sizeof cam_chars - 1)];
    strcpy(r->plate, plates[s_below(6)]);
    if (s_below(2))
        snprintf(r->country, sizeof r->country, "%c%c", 'A' + s_below(26), 'A' + s_below(26));
    r->ncand = (uint8_t)s_below(PROTO_CAND_MAX + 1);
    for (unsigned i = 0; i < r->ncand; i++) {
        strcpy(r->cand[i].plate, plates[s_below(6)]);
        r->cand[i].confidence = (uint16_t)s_below(1001);
    }
    r->has_position = s_below(2);
    if (r->has_position) {
        r->lat_e7 = (int32_t)s_below(1800000001) - 900000000;
        r->lon_e7 = (int32_t)((int64_t)s_below(3600000001u) - 1800000000);
    }
    n = s_below(PROTO_IMAGE_REF_MAX + 1);
    for (size_t i = 0; i < n; i++)
        r->image_ref[i] = (char)(0x21 + s_below(0x7E - 0x21 + 1));
}

static void s_test_round_trips(void)
{
    static const char *const entry_plates[] = {"1ABC123", "1AB?12*", "*7", "ZZ99ZZ"};
    static const char *const details[] = {"", "O read as 0 at 3", "candidate 2 (640), exact",
                                          "\xC3\x96 read as O at 1 \xE2\x80\x94 +1"};

    s_rng_state = 12345;
    for (int i = 0; i < 2000; i++) {
        struct proto_read r, out;
        struct proto_hit h, hout;
        struct proto_error err;
        uint8_t buf[PROTO_MAX_FRAME], again[PROTO_MAX_FRAME];
        size_t n, n2;
        bool ok;

        s_random_read(&r);
        n = proto_encode_read(&r, buf, sizeof buf);
        CHECK(n > 0 && n <= 643);
        ok = proto_decode_read(buf, n, &out, &err) == 0 && s_read_eq(&r, &out);
        n2 = proto_encode_read(&out, again, sizeof again);
        ok = ok && n2 == n && memcmp(buf, again, n) == 0;
        if (i % 10 == 0 || !ok)
            CHECK(ok);

        s_vec_hit(&h);
        h.read = r;
        h.entry_id = s_rand();
        h.list_id = (uint32_t)s_rand();
        h.priority = (uint8_t)(1 + s_below(9));
        h.match = (uint8_t)(1 + s_below(4));
        h.reading = (uint8_t)s_below(r.ncand + 1u);
        h.nsubst = (uint8_t)s_below(17);
        strcpy(h.entry_plate, entry_plates[s_below(4)]);
        strcpy(h.detail, details[s_below(4)]);
        n = proto_encode_hit(&h, buf, sizeof buf);
        ok = n > 0 && proto_decode_hit(buf, n, &hout, &err) == 0 && s_hit_eq(&h, &hout);
        if (i % 10 == 0 || !ok)
            CHECK(ok);
    }

    /* the largest frames of each type fit PROTO_MAX_FRAME with room to spare */
    {
        struct proto_hit h;
        struct proto_ack_range a[PROTO_ACK_MAX_RANGES];
        uint8_t buf[PROTO_MAX_FRAME];

        memset(&h, 0, sizeof h);
        h.priority = 1;
        h.match = 1;
        memset(h.list, 'l', PROTO_LIST_MAX);
        memset(h.category, 'c', PROTO_CATEGORY_MAX);
        memset(h.entry_plate, 'P', PROTO_PLATE_MAX);
        strcpy(h.entry_country, "NL");
        memset(h.instruction, 'i', PROTO_TEXT_MAX);
        memset(h.external_ref, 'r', PROTO_REF_MAX);
        memset(h.detail, 'd', PROTO_DETAIL_MAX);
        h.reading = PROTO_CAND_MAX;
        h.nsubst = 16;
        h.read.seq = 1;
        h.read.time_us = 1;
        h.read.ncand = PROTO_CAND_MAX;
        h.read.has_position = true;
        memset(h.read.camera, 'C', PROTO_CAMERA_MAX);
        memset(h.read.plate, 'P', PROTO_PLATE_MAX);
        strcpy(h.read.country, "NL");
        for (int i = 0; i < PROTO_CAND_MAX; i++)
            memset(h.read.cand[i].plate, 'Q', PROTO_PLATE_MAX);
        memset(h.read.image_ref, 'I', PROTO_IMAGE_REF_MAX);
        CHECK_INT(proto_encode_read(&h.read, buf, sizeof buf), 643);
        CHECK_INT(proto_encode_hit(&h, buf, sizeof buf), 1932);

        memset(a, 0, sizeof a);
        for (int i = 0; i < PROTO_ACK_MAX_RANGES; i++) {
            memset(a[i].camera, 'C', PROTO_CAMERA_MAX);
            a[i].first_seq = 1;
            a[i].count = 1;
        }
        CHECK_INT(proto_encode_ack(a, PROTO_ACK_MAX_RANGES, buf, sizeof buf), 2890);
    }
}

static void s_test_field_checks(void)
{
    char cam[40];

    CHECK(proto_camera_valid("cam-01"));
    CHECK(proto_camera_valid("Az09._:-"));
    CHECK(!proto_camera_valid(""));
    CHECK(!proto_camera_valid(NULL));
    CHECK(!proto_camera_valid("cam 01"));
    CHECK(!proto_camera_valid("cam/01"));
    CHECK(!proto_camera_valid("cam\xC3\xA9"));
    memset(cam, 'c', sizeof cam);
    cam[32] = '\0';
    CHECK(proto_camera_valid(cam));
    cam[32] = 'c';
    cam[33] = '\0';
    CHECK(!proto_camera_valid(cam));

    CHECK(proto_country_valid(""));
    CHECK(proto_country_valid("BE"));
    CHECK(!proto_country_valid("be"));
    CHECK(!proto_country_valid("B"));
    CHECK(!proto_country_valid("BEL"));
    CHECK(!proto_country_valid("B1"));
    CHECK(!proto_country_valid(NULL));
}

/*
 * The malformed-frame table of PROTOCOL.md: each frame, its decoder and the reason. The READ
 * cases but the header ones are the minimal READ with one thing changed, the HIT cases the OCR
 * HIT (v_hit_ocr) with one thing changed.
 */
static const struct {
    const char *what;
    uint8_t decoder; /* message type whose decoder gets it */
    const char *hex;
    enum proto_reason want;
    const char *msg;
} s_malformed[] = {
    {"M01 empty frame (0 bytes)", PROTO_READ, "", PROTO_E_TRUNCATED,
     "header: frame of 0 bytes < 8"},
    {"M02 7 bytes: header cut short", PROTO_READ, "41 4E 01 01 00 00 00\n", PROTO_E_TRUNCATED,
     "header: frame of 7 bytes < 8"},
    {"M03 magic \"AM\"", PROTO_READ,
     "41 4D 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_MAGIC, "header: magic 0x414D is not \"AN\" (0x414E)"},
    {"M04 version 3", PROTO_READ,
     "41 4E 03 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_VERSION, "header: version 3 not supported (this receiver speaks 1 and 2)"},
    {"M05 version 0", PROTO_READ,
     "41 4E 00 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_VERSION, "header: version 0 not supported (this receiver speaks 1 and 2)"},
    {"M06 body length 39, 38 bytes present", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00\n",
     PROTO_E_TRUNCATED, "header: body length 39 > 38 bytes present"},
    {"M07 body length 39, 40 bytes present", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00 00\n",
     PROTO_E_LENGTH, "header: body length 39 < 40 bytes present"},
    {"M08 header only, body length 0", PROTO_READ, "41 4E 01 01 00 00 00 00\n", PROTO_E_TRUNCATED,
     "READ.seq: truncated (needs 8 bytes, 0 left)"},
    {"M09 a byte after image_ref", PROTO_READ,
     "41 4E 01 01 00 00 00 28 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00 00\n",
     PROTO_E_LENGTH, "READ: 1 byte(s) after the last field"},
    {"M10 type 2 (ACK) to the READ decoder", PROTO_READ,
     "41 4E 01 02 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_TYPE, "header: type 2 (ACK) where READ was expected"},
    {"M11 type 9", PROTO_READ,
     "41 4E 01 09 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_TYPE, "header: type 9 (unknown) where READ was expected"},
    {"M12 seq 0", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 00\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.seq: 0, sequence numbers start at 1"},
    {"M13 seq 2^63", PROTO_READ,
     "41 4E 01 01 00 00 00 27 80 00 00 00 00 00 00 00\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.seq: 9223372036854775808 > 9223372036854775807"},
    {"M14 time_us 0", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 00 00 00 00 00 00 00 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.time_us: 0 <= 0"},
    {"M15 time_us -1", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "FF FF FF FF FF FF FF FF 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.time_us: -1 <= 0"},
    {"M16 confidence 1001", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 E9 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.confidence: 1001 > 1000"},
    {"M17 direction 3", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 03 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.direction: 3 > 2"},
    {"M18 flags 0x02", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 02 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.flags: unknown bits 0x02"},
    {"M19 ncand 9", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 09 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.ncand: 9 > 8"},
    {"M20 camera \"cam 01\"", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 20 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.camera: byte 0x20 at 3 not in [A-Za-z0-9._:-]"},
    {"M21 camera empty", PROTO_READ,
     "41 4E 01 01 00 00 00 21 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 00 07\n"
     "31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "READ.camera: empty"},
    {"M22 plate empty", PROTO_READ,
     "41 4E 01 01 00 00 00 20 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 00 00 00\n",
     PROTO_E_PLATE_EMPTY, "READ.plate: empty"},
    {"M23 plate of 33 bytes", PROTO_READ,
     "41 4E 01 01 00 00 00 41 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 21 41 41 41 41 41 41 41 41 41 41\n"
     "41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41\n"
     "41 41 41 41 41 41 41 00 00\n",
     PROTO_E_PLATE_LONG, "READ.plate: 33 bytes > 32"},
    {"M24 plate with overlong C0 AF", PROTO_READ,
     "41 4E 01 01 00 00 00 26 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 06 31 41 42 C0 AF 43 00 00\n",
     PROTO_E_PLATE_INVALID, "READ.plate: invalid UTF-8 at byte 3"},
    {"M25 plate with lone continuation 80", PROTO_READ,
     "41 4E 01 01 00 00 00 25 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 05 31 41 42 80 43 00 00\n",
     PROTO_E_PLATE_INVALID, "READ.plate: invalid UTF-8 at byte 3"},
    {"M26 plate with surrogate ED A0 80", PROTO_READ,
     "41 4E 01 01 00 00 00 26 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 06 31 41 42 ED A0 80 00 00\n",
     PROTO_E_PLATE_INVALID, "READ.plate: invalid UTF-8 at byte 3"},
    {"M27 plate with TAB", PROTO_READ,
     "41 4E 01 01 00 00 00 25 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 05 31 41 42 09 43 00 00\n",
     PROTO_E_PLATE_INVALID, "READ.plate: control character U+0009 at byte 3"},
    {"M28 plate with U+0085 (C2 85)", PROTO_READ,
     "41 4E 01 01 00 00 00 25 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 05 31 41 42 C2 85 00 00\n",
     PROTO_E_PLATE_INVALID, "READ.plate: control character U+0085 at byte 3"},
    {"M29 country \"be\"", PROTO_READ,
     "41 4E 01 01 00 00 00 29 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 02 62 65\n"
     "00\n",
     PROTO_E_FIELD, "READ.country: not empty and not 2 letters A-Z"},
    {"M30 country \"BEL\"", PROTO_READ,
     "41 4E 01 01 00 00 00 2A 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 03 42 45\n"
     "4C 00\n",
     PROTO_E_FIELD, "READ.country: not empty and not 2 letters A-Z"},
    {"M31 candidate plate empty", PROTO_READ,
     "41 4E 01 01 00 00 00 2A 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 01 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00 01\n"
     "F4 00\n",
     PROTO_E_FIELD, "READ.cand[0].plate: empty"},
    {"M32 candidate confidence 1001", PROTO_READ,
     "41 4E 01 01 00 00 00 31 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 01 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 07 31\n"
     "41 38 43 31 32 33 03 E9 00\n",
     PROTO_E_FIELD, "READ.cand[0].confidence: 1001 > 1000"},
    {"M33 flags 0x01 and lat 90.0000001", PROTO_READ,
     "41 4E 01 01 00 00 00 2F 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 01 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 35 A4\n"
     "E9 01 00 00 00 00 00\n",
     PROTO_E_FIELD, "READ.lat_e7: 900000001 not in -900000000..900000000"},
    {"M34 flags 0x01 and no position", PROTO_READ,
     "41 4E 01 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 01 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_TRUNCATED, "READ.lat_e7: truncated (needs 4 bytes, 1 left)"},
    {"M35 image_ref \"a b\"", PROTO_READ,
     "41 4E 01 01 00 00 00 2A 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 03 61\n"
     "20 62\n",
     PROTO_E_FIELD, "READ.image_ref: byte 0x20 at 1 is not printable ASCII"},
    {"M36 ACK with nranges 0", PROTO_ACK, "41 4E 01 02 00 00 00 02 00 00\n", PROTO_E_FIELD,
     "ACK.nranges: 0 not in 1..64"},
    {"M37 ACK range with count 0", PROTO_ACK,
     "41 4E 01 02 00 00 00 15 00 01 06 63 61 6D 2D 30\n"
     "31 00 00 00 00 00 00 00 01 00 00 00 00\n",
     PROTO_E_FIELD, "ACK.range[0].count: 0, must be >= 1"},
    {"M38 HIT reading 1, read.ncand 0", PROTO_HIT,
     "41 4E 01 04 00 00 00 84 00 00 00 00 00 00 07 F8\n"
     "00 00 00 07 04 02 01 01 13 47 65 7A 6F 63 68 74\n"
     "65 20 76 6F 65 72 74 75 69 67 65 6E 06 77 61 6E\n"
     "74 65 64 07 31 41 38 43 31 32 33 00 00 15 56 6F\n"
     "6C 67 65 6E 2C 20 6E 69 65 74 20 73 74 6F 70 70\n"
     "65 6E 2E 00 10 38 20 72 65 61 64 20 61 73 20 42\n"
     "20 61 74 20 33 00 00 00 00 00 00 00 01 00 06 44\n"
     "BD 47 9B 2C 80 03 90 00 00 00 00 06 63 61 6D 2D\n"
     "30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "HIT.reading: 1 > HIT.read.ncand 0"},
    {"M39 HIT reading 9", PROTO_HIT,
     "41 4E 01 04 00 00 00 84 00 00 00 00 00 00 07 F8\n"
     "00 00 00 07 04 02 09 01 13 47 65 7A 6F 63 68 74\n"
     "65 20 76 6F 65 72 74 75 69 67 65 6E 06 77 61 6E\n"
     "74 65 64 07 31 41 38 43 31 32 33 00 00 15 56 6F\n"
     "6C 67 65 6E 2C 20 6E 69 65 74 20 73 74 6F 70 70\n"
     "65 6E 2E 00 10 38 20 72 65 61 64 20 61 73 20 42\n"
     "20 61 74 20 33 00 00 00 00 00 00 00 01 00 06 44\n"
     "BD 47 9B 2C 80 03 90 00 00 00 00 06 63 61 6D 2D\n"
     "30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "HIT.reading: 9 > 8"},
    {"M40 HIT nsubst 17", PROTO_HIT,
     "41 4E 01 04 00 00 00 84 00 00 00 00 00 00 07 F8\n"
     "00 00 00 07 04 02 00 11 13 47 65 7A 6F 63 68 74\n"
     "65 20 76 6F 65 72 74 75 69 67 65 6E 06 77 61 6E\n"
     "74 65 64 07 31 41 38 43 31 32 33 00 00 15 56 6F\n"
     "6C 67 65 6E 2C 20 6E 69 65 74 20 73 74 6F 70 70\n"
     "65 6E 2E 00 10 38 20 72 65 61 64 20 61 73 20 42\n"
     "20 61 74 20 33 00 00 00 00 00 00 00 01 00 06 44\n"
     "BD 47 9B 2C 80 03 90 00 00 00 00 06 63 61 6D 2D\n"
     "30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "HIT.nsubst: 17 > 16"},
    {"M41 HIT detail with TAB", PROTO_HIT,
     "41 4E 01 04 00 00 00 84 00 00 00 00 00 00 07 F8\n"
     "00 00 00 07 04 02 00 01 13 47 65 7A 6F 63 68 74\n"
     "65 20 76 6F 65 72 74 75 69 67 65 6E 06 77 61 6E\n"
     "74 65 64 07 31 41 38 43 31 32 33 00 00 15 56 6F\n"
     "6C 67 65 6E 2C 20 6E 69 65 74 20 73 74 6F 70 70\n"
     "65 6E 2E 00 10 38 09 72 65 61 64 20 61 73 20 42\n"
     "20 61 74 20 33 00 00 00 00 00 00 00 01 00 06 44\n"
     "BD 47 9B 2C 80 03 90 00 00 00 00 06 63 61 6D 2D\n"
     "30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "HIT.detail: control character U+0009 at byte 1"},
    {"M42 HIT entry_plate \"1A#C123\"", PROTO_HIT,
     "41 4E 01 04 00 00 00 84 00 00 00 00 00 00 07 F8\n"
     "00 00 00 07 04 02 00 01 13 47 65 7A 6F 63 68 74\n"
     "65 20 76 6F 65 72 74 75 69 67 65 6E 06 77 61 6E\n"
     "74 65 64 07 31 41 23 43 31 32 33 00 00 15 56 6F\n"
     "6C 67 65 6E 2C 20 6E 69 65 74 20 73 74 6F 70 70\n"
     "65 6E 2E 00 10 38 20 72 65 61 64 20 61 73 20 42\n"
     "20 61 74 20 33 00 00 00 00 00 00 00 01 00 06 44\n"
     "BD 47 9B 2C 80 03 90 00 00 00 00 06 63 61 6D 2D\n"
     "30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_FIELD, "HIT.entry_plate: byte 0x23 at 2 not in [A-Z0-9?*]"},
    {"M43 version 2 READ with epoch 0", PROTO_READ,
     "41 4E 02 01 00 00 00 2B 00 00 00 00 00 00 00 01\n"
     "00 00 00 00 00 06 44 BD 47 9B 2C 80 03 90 00 00\n"
     "00 00 06 63 61 6D 2D 30 31 07 31 41 42 43 31 32\n"
     "33 00 00\n",
     PROTO_E_FIELD, "READ.epoch: 0 in version 2 (epoch 0 is version 1)"},
    {"M44 a version 1 READ body under version 2", PROTO_READ,
     "41 4E 02 01 00 00 00 27 00 00 00 00 00 00 00 01\n"
     "00 06 44 BD 47 9B 2C 80 03 90 00 00 00 00 06 63\n"
     "61 6D 2D 30 31 07 31 41 42 43 31 32 33 00 00\n",
     PROTO_E_TRUNCATED, "READ.camera: truncated (needs 45 bytes, 12 left)"},
    {"M45 version 2 ACK range with epoch 0", PROTO_ACK,
     "41 4E 02 02 00 00 00 19 00 01 06 63 61 6D 2D 30\n"
     "31 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00\n"
     "03\n",
     PROTO_E_FIELD, "ACK.range[0].epoch: 0 in version 2"},
    {"M46 HIT in version 2", PROTO_HIT,
     "41 4E 02 04 00 00 00 8C 00 00 00 00 00 00 07 F8\n"
     "00 00 00 07 04 02 00 01 13 47 65 7A 6F 63 68 74\n"
     "65 20 76 6F 65 72 74 75 69 67 65 6E 06 77 61 6E\n"
     "74 65 64 07 31 41 38 43 31 32 33 00 00 15 56 6F\n"
     "6C 67 65 6E 2C 20 6E 69 65 74 20 73 74 6F 70 70\n"
     "65 6E 2E 00 10 38 20 72 65 61 64 20 61 73 20 42\n"
     "20 61 74 20 33 00 00 00 00 00 00 00 01 00 06 44\n"
     "BD 47 9B 2C 80 03 90 00 00 00 00 06 63 61 6D 2D\n"
     "30 31 07 31 41 42 43 31 32 33 00 00 00 00 00 00\n"
     "00 0F 46 2B\n",
     PROTO_E_VERSION, "header: HIT in version 2 (HIT is version 1 only)"},
};

static void s_test_malformed_table(void)
{
    for (size_t i = 0; i < sizeof s_malformed / sizeof s_malformed[0]; i++) {
        uint8_t buf[PROTO_MAX_FRAME];
        size_t n = vec_unhex(s_malformed[i].hex, buf, sizeof buf);
        struct proto_error err = {0};
        struct proto_read r;
        struct proto_hit h;
        struct proto_ack_range a[PROTO_ACK_MAX_RANGES];
        size_t na;
        int rc;

        rc = s_malformed[i].decoder == PROTO_ACK
                 ? proto_decode_ack(buf, n, a, PROTO_ACK_MAX_RANGES, &na, &err)
             : s_malformed[i].decoder == PROTO_HIT ? proto_decode_hit(buf, n, &h, &err)
                                                   : proto_decode_read(buf, n, &r, &err);
        CHECK_INT(rc, -1);
        CHECK_INT(err.reason, s_malformed[i].want);
        CHECK_STR(err.msg, s_malformed[i].msg);
        if (err.reason != s_malformed[i].want)
            fprintf(stderr, "  malformed \"%s\": %s\n", s_malformed[i].what, err.msg);
    }
}

/* A failed decode's text must fit a REJECT as is. */
static void s_check_error(int rc, const struct proto_error *err, size_t *bad)
{
    struct proto_reject rej;
    uint8_t buf[PROTO_MAX_FRAME];
    size_t len;

    if (rc == 0)
        return;
    len = memchr(err->msg, 0, sizeof err->msg) ? strlen(err->msg) : sizeof err->msg;
    memset(&rej, 0, sizeof rej);
    rej.reason = (uint16_t)err->reason;
    memcpy(rej.text, err->msg, len);
    if (rc != -1 || err->reason < PROTO_E_TRUNCATED || err->reason > PROTO_E_PLATE_INVALID ||
        len == 0 || len >= sizeof err->msg || proto_encode_reject(&rej, buf, sizeof buf) == 0)
        (*bad)++;
}

/*
 * Mutated frames: never a crash, never a read past the end (each frame sits in a heap block of
 * exactly its size), errors always well-formed, and whatever decodes re-encodes to the same
 * bytes: the encoding is canonical.
 */
static void s_test_mutations(void)
{
    enum { NHEX = 9, NSEEDS = NHEX + 2 };
    uint8_t seeds[NSEEDS][PROTO_MAX_FRAME];
    size_t seed_len[NSEEDS];
    const char *hex[NHEX] = {v_read_min, v_read_full, v_read_pos, v_ack,        v_reject,
                             v_hit,      v_hit_cand,  v_hit_ocr,  v_hit_pattern};
    size_t bad = 0, decoded = 0, not_canonical = 0, multi = 0;

    for (size_t i = 0; i < NHEX; i++)
        seed_len[i] = vec_unhex(hex[i], seeds[i], PROTO_MAX_FRAME);
    s_rng_state = 20251129;
    {
        struct proto_read r;
        struct proto_hit h;

        s_random_read(&r);
        r.ncand = 8;
        for (int i = 0; i < 8; i++)
            strcpy(r.cand[i].plate, "\xC3\x84\x42\x43");
        r.has_position = true;
        seed_len[NHEX] = proto_encode_read(&r, seeds[NHEX], PROTO_MAX_FRAME);
        s_vec_hit_cand(&h);
        h.read = r;
        h.reading = 8;
        h.nsubst = 16;
        strcpy(h.detail, "\xC3\x84 read as A at 1, candidate 8");
        strcpy(h.entry_plate, "*A?C");
        seed_len[NHEX + 1] = proto_encode_hit(&h, seeds[NHEX + 1], PROTO_MAX_FRAME);
    }
    for (size_t i = 0; i < NSEEDS; i++)
        CHECK(seed_len[i] > 0);

    for (long iter = 0; iter < MUTATIONS; iter++) {
        unsigned s = s_below(NSEEDS);
        uint8_t work[PROTO_MAX_FRAME + 64];
        size_t n = seed_len[s];
        unsigned nmut = 1 + s_below(4);
        uint8_t *frame;
        struct proto_error err;
        struct proto_read r;
        struct proto_ack_range a[PROTO_ACK_MAX_RANGES];
        struct proto_reject rej;
        struct proto_hit h;
        uint8_t again[PROTO_MAX_FRAME];
        size_t na, n2 = 0;
        int rc, ok = 0;

        memcpy(work, seeds[s], n);
        for (unsigned m = 0; m < nmut; m++) {
            size_t pos = n ? s_below((uint32_t)n) : 0;
            static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x08, 0x09, 0x1F, 0x20, 0x7F,
                                                  0x80, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF4, 0xFF};

            switch (s_below(7)) {
            case 0: /* flip a bit */
                if (n)
                    work[pos] ^= (uint8_t)(1u << s_below(8));
                break;
            case 1: /* a random byte */
                if (n)
                    work[pos] = (uint8_t)s_rand();
                break;
            case 2: /* an interesting byte */
                if (n)
                    work[pos] = interesting[s_below(sizeof interesting)];
                break;
            case 3: /* cut */
                n = s_below((uint32_t)n + 1);
                break;
            case 4: /* append */
                for (unsigned k = 1 + s_below(8); k > 0 && n < sizeof work; k--)
                    work[n++] = (uint8_t)s_rand();
                break;
            case 5: /* delete a byte */
                if (n) {
                    memmove(work + pos, work + pos + 1, n - pos - 1);
                    n--;
                }
                break;
            default: /* insert a byte */
                if (n < sizeof work) {
                    memmove(work + pos + 1, work + pos, n - pos);
                    work[pos] = interesting[s_below(sizeof interesting)];
                    n++;
                }
                break;
            }
        }
        /* mostly keep the header consistent, so the body parsers get exercised */
        if (n >= PROTO_HDR_LEN && s_below(4) != 0) {
            size_t body = n - PROTO_HDR_LEN;
            work[4] = 0;
            work[5] = 0;
            work[6] = (uint8_t)(body >> 8);
            work[7] = (uint8_t)body;
        }

        frame = malloc(n ? n : 1);
        if (!frame)
            abort();
        memcpy(frame, work, n);

        {
            uint8_t type = 0;
            rc = proto_peek(frame, n, &type, &err);
            s_check_error(rc, &err, &bad);
        }
        rc = proto_decode_read(frame, n, &r, &err);
        s_check_error(rc, &err, &bad);
        if (rc == 0) {
            ok++;
            n2 = proto_encode_read(&r, again, sizeof again);
            if (n2 != n || memcmp(again, frame, n) != 0)
                not_canonical++;
        }
        rc = proto_decode_ack(frame, n, a, PROTO_ACK_MAX_RANGES, &na, &err);
        s_check_error(rc, &err, &bad);
        if (rc == 0) {
            ok++;
            n2 = proto_encode_ack(a, na, again, sizeof again);
            if (n2 != n || memcmp(again, frame, n) != 0)
                not_canonical++;
        }
        rc = proto_decode_reject(frame, n, &rej, &err);
        s_check_error(rc, &err, &bad);
        if (rc == 0) {
            ok++;
            n2 = proto_encode_reject(&rej, again, sizeof again);
            if (n2 != n || memcmp(again, frame, n) != 0)
                not_canonical++;
        }
        rc = proto_decode_hit(frame, n, &h, &err);
        s_check_error(rc, &err, &bad);
        if (rc == 0) {
            ok++;
            n2 = proto_encode_hit(&h, again, sizeof again);
            if (n2 != n || memcmp(again, frame, n) != 0)
                not_canonical++;
        }
        /* err may be NULL */
        (void)proto_decode_read(frame, n, &r, NULL);
        (void)proto_decode_hit(frame, n, &h, NULL);

        if (ok > 1)
            multi++;
        decoded += (size_t)ok;
        free(frame);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(not_canonical, 0);
    CHECK_INT(multi, 0);
    /* the mutations must also produce valid frames, or the canonical check proves nothing */
    CHECK(decoded > MUTATIONS / 100);
}

/*
 * PROTOCOL.md prints the same vectors and malformed frames: check that it still does. The path
 * is argv[1] (must exist), else proto/PROTOCOL.md when run from the source root (skipped when
 * absent, as under meson without the argument).
 */
static void s_test_doc(const char *path, bool required)
{
    const char *vecs[] = {v_read_min,       v_read_full, v_read_pos,  v_ack,      v_reject,
                          v_reject_version, v_hit,       v_hit_cand,  v_hit_ocr,  v_hit_pattern,
                          v_read_v2,        v_ack_v2,    v_reject_v2, v_heartbeat};
    char *doc = vec_read_doc(path);

    if (!doc) {
        if (required)
            CHECK(doc != NULL);
        else
            fprintf(stderr, "test_proto: %s not found, document check skipped\n", path);
        return;
    }

    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        CHECK(strstr(doc, vecs[i]) != NULL);
    for (size_t i = 0; i < sizeof s_malformed / sizeof s_malformed[0]; i++) {
        char id[8], want[4200], row[200];
        const char *line;
        int k;

        snprintf(id, sizeof id, "%.3s", s_malformed[i].what);
        k = snprintf(want, sizeof want, "%s  %s", id,
                     s_malformed[i].hex[0] ? s_malformed[i].hex : "(no bytes)");
        CHECK(k > 0 && (size_t)k < sizeof want);
        vec_squeeze(want + strlen(id) + 2);
        CHECK(strstr(doc, want) != NULL);
        /* its table row gives the same reason */
        snprintf(row, sizeof row, "| %s |", id);
        line = strstr(doc, row);
        snprintf(row, sizeof row, "| %d %s |", (int)s_malformed[i].want,
                 proto_reason_name(s_malformed[i].want));
        CHECK(line && strstr(line, row) && strstr(line, row) < strchr(line, '\n'));
    }
    free(doc);
}

/*
 * Every byte value at every position of a 16-byte plate, a 40-byte image_ref and a 20-byte
 * camera id, the rest valid: the decoder checks these fields eight bytes at a time, so a bad
 * byte must be found wherever it sits in a word.
 */
static void s_test_each_byte(void)
{
    char plate[16], image[40], camera[20];
    int wrong = 0;

    for (size_t pos = 0; pos < 40; pos++) {
        for (unsigned v = 0; v < 256; v++) {
            struct s_tread t = s_t_read_min();
            struct s_buf b;
            struct proto_read r;
            bool plate_ok = v >= 0x20 && v <= 0x7E, image_ok = v >= 0x21 && v <= 0x7E;
            bool camera_ok = (v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z') ||
                             (v >= '0' && v <= '9') || (v && strchr("._:-", (int)v));

            memset(plate, 'A', sizeof plate);
            memset(image, 'x', sizeof image);
            memset(camera, 'c', sizeof camera);
            t.plate = (struct s_str){plate, sizeof plate};
            t.image_ref = (struct s_str){image, sizeof image};
            t.camera = (struct s_str){camera, sizeof camera};
            if (pos < sizeof plate) {
                plate[pos] = (char)v;
                s_t_read_frame(&b, &t);
                wrong += (proto_decode_read(b.b, b.n, &r, NULL) == 0) != plate_ok;
                plate[pos] = 'A';
            }
            if (pos < sizeof camera) {
                camera[pos] = (char)v;
                s_t_read_frame(&b, &t);
                wrong += (proto_decode_read(b.b, b.n, &r, NULL) == 0) != camera_ok;
                camera[pos] = 'c';
            }
            image[pos] = (char)v;
            s_t_read_frame(&b, &t);
            wrong += (proto_decode_read(b.b, b.n, &r, NULL) == 0) != image_ok;
        }
    }
    CHECK_INT(wrong, 0);
}

/* HEARTBEAT (PROTOCOL.md 5.7, 10.14): the vector, each field's check, version 1 only. */
static void s_vec_heartbeat(struct proto_heartbeat *hb)
{
    memset(hb, 0, sizeof *hb);
    hb->time_us = 1764429601123456LL;
    hb->instance = 3;
    hb->interval_ms = 2000;
    hb->silent_after_s = 600;
    hb->cameras = 7;
    hb->reporting = 5;
    hb->nsilent = 2;
    strcpy(hb->silent[0], "cam-03");
    strcpy(hb->silent[1], "e40.gent-k12:a");
}

static void s_test_heartbeat(void)
{
    struct proto_heartbeat hb, out;
    struct proto_error err;
    uint8_t buf[PROTO_MAX_FRAME], again[PROTO_MAX_FRAME];
    size_t n, n2;

    s_vec_heartbeat(&hb);
    n = proto_encode_heartbeat(&hb, buf, sizeof buf);
    vec_check_hex("heartbeat", buf, n, v_heartbeat);
    CHECK_INT(proto_decode_heartbeat(buf, n, &out, &err), 0);
    CHECK_INT(out.time_us, hb.time_us);
    CHECK_INT(out.instance, 3);
    CHECK_INT(out.interval_ms, 2000);
    CHECK_INT(out.silent_after_s, 600);
    CHECK_INT(out.cameras, 7);
    CHECK_INT(out.reporting, 5);
    CHECK_INT(out.nsilent, 2);
    CHECK_STR(out.silent[1], "e40.gent-k12:a");
    n2 = proto_encode_heartbeat(&out, again, sizeof again);
    CHECK(n2 == n && memcmp(buf, again, n) == 0);
    /* Every cut short is truncated; a byte more is a length error. */
    for (size_t cut = PROTO_HDR_LEN; cut < n; cut++) {
        memcpy(again, buf, n);
        again[4] = again[5] = again[6] = 0;
        again[7] = (uint8_t)(cut - PROTO_HDR_LEN);
        CHECK_INT(proto_decode_heartbeat(again, cut, &out, &err), -1);
        CHECK_INT(err.reason, PROTO_E_TRUNCATED);
    }
    memcpy(again, buf, n);
    again[n] = 0;
    again[7] = (uint8_t)(n + 1 - PROTO_HDR_LEN);
    CHECK_INT(proto_decode_heartbeat(again, n + 1, &out, &err), -1);
    CHECK_INT(err.reason, PROTO_E_LENGTH);
    /* Field checks, in wire order. */
    const struct {
        size_t at;
        uint8_t byte;
        const char *msg;
    } bad[] = {
        {8, 0x80, "HEARTBEAT.time_us: -"},                /* negative */
        {16, 0x04, "HEARTBEAT.instance: 1027 > 1023"},    /* 0x0403 */
        {21, 0x00, NULL},                                 /* interval 0x0700: fine */
        {33, 0x08, "HEARTBEAT.reporting: 8 > cameras 7"}, /* reporting 8 */
        {34, 0x03, "HEARTBEAT.nsilent: 3 > min(8, cameras - reporting)"},
        {36, 0x20, "HEARTBEAT.silent[0]: byte 0x20 at 0 not in [A-Za-z0-9._:-]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(again, buf, n);
        again[bad[i].at] = bad[i].byte;
        int rc = proto_decode_heartbeat(again, n, &out, &err);
        if (!bad[i].msg) {
            CHECK_INT(rc, 0);
            continue;
        }
        CHECK_INT(rc, -1);
        CHECK_INT(err.reason, PROTO_E_FIELD);
        CHECK(strncmp(err.msg, bad[i].msg, strlen(bad[i].msg)) == 0);
    }
    memcpy(again, buf, n);
    memset(again + 18, 0, 4); /* interval_ms 0 */
    CHECK_INT(proto_decode_heartbeat(again, n, &out, &err), -1);
    CHECK_STR(err.msg, "HEARTBEAT.interval_ms: 0");
    memcpy(again, buf, n);
    memset(again + 22, 0, 4); /* silent_after_s 0 */
    CHECK_INT(proto_decode_heartbeat(again, n, &out, &err), -1);
    CHECK_STR(err.msg, "HEARTBEAT.silent_after_s: 0");
    /* Version 2, and a HIT decoder given a heartbeat, are refused. */
    memcpy(again, buf, n);
    again[2] = 2;
    CHECK_INT(proto_decode_heartbeat(again, n, &out, &err), -1);
    CHECK_INT(err.reason, PROTO_E_VERSION);
    CHECK_STR(err.msg, "header: HEARTBEAT in version 2 (HEARTBEAT is version 1 only)");
    struct proto_hit hit;
    CHECK_INT(proto_decode_hit(buf, n, &hit, &err), -1);
    CHECK_INT(err.reason, PROTO_E_TYPE);
    CHECK_STR(err.msg, "header: type 5 (HEARTBEAT) where HIT was expected");
    /* The encoder refuses what the decoder would. */
    out = hb;
    out.nsilent = 3;
    CHECK_INT(proto_encode_heartbeat(&out, buf, sizeof buf), 0);
    out = hb;
    out.time_us = 0;
    CHECK_INT(proto_encode_heartbeat(&out, buf, sizeof buf), 0);
    out = hb;
    strcpy(out.silent[1], "bad cam");
    CHECK_INT(proto_encode_heartbeat(&out, buf, sizeof buf), 0);
    CHECK_INT(proto_encode_heartbeat(&hb, buf, 20), 0);
    CHECK_INT(proto_encode_heartbeat(NULL, buf, sizeof buf), 0);
}

int main(int argc, char **argv)
{
    s_test_reason_names();
    s_test_read_vectors();
    s_test_v2_vectors();
    s_test_other_vectors();
    s_test_header();
    s_test_truncation();
    s_test_length();
    s_test_plate_check();
    s_test_read_fields();
    s_test_read_partial();
    s_test_ack();
    s_test_reject();
    s_test_hit();
    s_test_heartbeat();
    s_test_encode_read_limits();
    s_test_encode_small_buffers();
    s_test_round_trips();
    s_test_field_checks();
    s_test_malformed_table();
    s_test_mutations();
    s_test_each_byte();
    if (argc > 1)
        s_test_doc(argv[1], true);
    else
        s_test_doc("proto/PROTOCOL.md", false);
    return check_done("proto");
}
