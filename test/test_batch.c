/*
 * test_batch: the COPY rows of a read and its hits, and the spool record of a read: a record
 * added back to another batch gives the same rows and what the writer needs; a malformed
 * record is refused; a record written before read identities (no epoch, no digest) is still
 * read; dropping the last read restores the batch.
 */
#include "batch.h"

#include "check.h"

#include <stdlib.h>

static struct proto_read s_read(uint64_t seq, const char *plate)
{
    struct proto_read r;

    memset(&r, 0, sizeof r);
    snprintf(r.camera, sizeof r.camera, "BE-N2-HASSELT");
    snprintf(r.plate, sizeof r.plate, "%s", plate);
    snprintf(r.country, sizeof r.country, "BE");
    snprintf(r.image_ref, sizeof r.image_ref, "img://n2/%llu", (unsigned long long)seq);
    r.seq = seq;
    r.time_us = 1764400000000000LL + (int64_t)seq;
    r.confidence = 900;
    r.ncand = 1;
    snprintf(r.cand[0].plate, sizeof r.cand[0].plate, "I-ABC-\t23"); /* a tab is escaped */
    r.cand[0].confidence = 400;
    return r;
}

int main(void)
{
    struct batch *a = batch_new(), *b = batch_new();
    wl_builder_t *wb = wl_builder_new();
    char err[128];
    uint8_t rec[8192];
    const uint8_t id[] = {0, 1, 2, 3, 4};

    /* A snapshot only to have entries to hit. */
    CHECK_INT(wl_builder_add_list(wb, 1, "Stolen", "stolen", 1, NULL, err, sizeof err), 0);
    struct wl_entry_in in = {.id = 7,
                             .list_id = 1,
                             .plate = "1ABC123",
                             .valid_from_us = WL_UNBOUNDED_FROM,
                             .valid_until_us = WL_UNBOUNDED_UNTIL};
    CHECK_INT(wl_builder_add(wb, &in, err, sizeof err), 0);
    wl_t *wl = wl_builder_build(&wb);
    const struct wl_entry *e[1];
    CHECK_INT(wl_lookup(wl, "1ABC123", "BE", 0, e, 1), 1);
    struct wl_match m = {.entry = e[0], .kind = PROTO_MATCH_EXACT};
    bool supp = false;
    uint64_t hit_id = 77001;

    /* Three reads, the second with a hit. */
    for (uint64_t s = 1; s <= 3; s++) {
        struct proto_read r = s_read(s, "1-ABC-123");
        CHECK_INT(batch_add(a, &r, 7, 42, "1ABC123", r.time_us, id, sizeof id, &m, &supp, &hit_id,
                            s == 2 ? 1 : 0),
                  0);
    }
    CHECK_INT(a->nreads, 3);
    CHECK_INT(a->nhits, 1);

    /* Each read as a record, added to another batch: the same rows, no reader. */
    for (size_t i = 0; i < a->nreads; i++) {
        size_t len = batch_rec_encode(a, i, rec, sizeof rec);
        CHECK(len > 0);
        CHECK_INT(batch_rec_add(b, rec, len), 0);
    }
    CHECK_INT(b->nreads, 3);
    CHECK_INT(b->nhits, 1);
    CHECK_INT(b->reads.len, a->reads.len);
    CHECK_INT(b->hits.len, a->hits.len);
    CHECK(memcmp(a->reads.data, b->reads.data, a->reads.len) == 0);
    CHECK(memcmp(a->hits.data, b->hits.data, a->hits.len) == 0);
    for (size_t i = 0; i < 3; i++) {
        CHECK_STR(b->acks[i].camera, "BE-N2-HASSELT");
        CHECK_INT(b->acks[i].seq, i + 1);
        CHECK_INT(b->acks[i].camera_id, 42);
        CHECK_INT(b->acks[i].time_us, a->acks[i].time_us);
        CHECK_INT(b->acks[i].day, a->acks[i].day);
        CHECK_INT(b->acks[i].id_len, 0);
    }
    CHECK_INT(b->min_day, a->min_day);
    CHECK_INT(b->max_day, a->max_day);

    /* The identity travels too: epoch and digest, and the identity rows. */
    {
        struct batch *c = batch_new();
        struct proto_read r2 = s_read(9, "1-ABC-123");
        int32_t cam;
        uint32_t ep;
        uint64_t sq, dg;

        r2.epoch = 1764288000u;
        CHECK_INT(batch_add(c, &r2, 0xFEDCBA9876543210ULL, 42, "1ABC123", r2.time_us, id, sizeof id,
                            NULL, NULL, NULL, 0),
                  0);
        size_t n = batch_rec_encode(c, 0, rec, sizeof rec);
        CHECK_INT(batch_rec_identity(rec, n, &cam, &ep, &sq, &dg), 1);
        CHECK(cam == 42 && ep == 1764288000u && sq == 9 && dg == 0xFEDCBA9876543210ULL);
        CHECK_INT(batch_rec_add(b, rec, n), 0);
        CHECK(b->acks[3].epoch == 1764288000u && b->acks[3].has_digest &&
              b->acks[3].digest == 0xFEDCBA9876543210ULL);
        /* Binary COPY: header, one row of six fields (4 + 4 bytes for camera_id, 4 + 8 for
         * each bigint, 4 + 7 for the plate), trailer. */
        static const uint8_t want[] = {
            'P',  'G', 'C', 'O', 'P',  'Y',  '\n', 0xFF, '\r', '\n', 0,    0,
            0,    0,   0,   0,   0,    0,    0,                                  /* */
            0,    6,                                                             /* fields */
            0,    0,   0,   4,   0,    0,    0,    42,                           /* camera */
            0,    0,   0,   8,   0,    0,    0,    0,    0x69, 0x28, 0xE6, 0x00, /* epoch */
            0,    0,   0,   8,   0,    0,    0,    0,    0,    0,    0,    9,    /* seq */
            0,    0,   0,   8,   0x00, 0x06, 0x44, 0xB6, 0x63, 0x3D, 0xE0, 0x09, /* time */
            0,    0,   0,   8,   0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10, /* digest */
            0,    0,   0,   7,   '1',  'A',  'B',  'C',  '1',  '2',  '3',        /* plate */
            0xFF, 0xFF};
        CHECK_INT(batch_id_rows(c, 0, 1, &c->ids), 0);
        CHECK_INT(c->ids.len, sizeof want);
        CHECK(c->ids.len == sizeof want && memcmp(c->ids.data, want, sizeof want) == 0);
        CHECK(memmem(c->reads.data, c->reads.len, "\t42\t1764288000\t9\t", 17) != NULL);
        batch_destroy(&c);
        b->nreads = 3; /* the rest below counts on three */
        b->reads.len = a->reads.len;
    }

    /* A record from before identities: its header without tag, epoch and digest, its rows
     * without the epoch column. Read back with epoch 0, no digest, and the column put in. */
    {
        struct {
            uint32_t read_len, hits_len, nhits;
            int32_t camera_id, day;
            uint64_t seq;
            int64_t time_us;
            char camera[PROTO_CAMERA_MAX + 1];
        } h1;
        char rows[4096], hrows[1024];
        const struct batch_ack *k = &a->acks[1];
        struct batch *c = batch_new();
        int32_t cam;
        uint32_t ep;
        uint64_t sq, dg;
        /* The new rows with the epoch column ("0\t" after the 2nd tab of a read row, the 1st of
         * a hit row) taken out. */
        const char *rp = a->reads.data + k->read_off, *hp = a->hits.data + k->hits_off;
        const char *t2 = memchr(rp, '\t', k->read_len);
        t2 = (const char *)memchr(t2 + 1, '\t', k->read_len) + 1;
        const char *t1 = (const char *)memchr(hp, '\t', k->hits_len) + 1;
        size_t rn = (size_t)(t2 - rp), hn = (size_t)(t1 - hp);

        CHECK(strncmp(t2, "0\t", 2) == 0 && strncmp(t1, "0\t", 2) == 0);
        memcpy(rows, rp, rn);
        memcpy(rows + rn, t2 + 2, k->read_len - rn - 2);
        memcpy(hrows, hp, hn);
        memcpy(hrows + hn, t1 + 2, k->hits_len - hn - 2);
        memset(&h1, 0, sizeof h1);
        h1.read_len = k->read_len - 2;
        h1.hits_len = k->hits_len - 2;
        h1.nhits = 1;
        h1.camera_id = 42;
        h1.day = k->day;
        h1.seq = k->seq;
        h1.time_us = k->time_us;
        snprintf(h1.camera, sizeof h1.camera, "%s", k->camera);
        memcpy(rec, &h1, sizeof h1);
        memcpy(rec + sizeof h1, rows, h1.read_len);
        memcpy(rec + sizeof h1 + h1.read_len, hrows, h1.hits_len);
        size_t n = sizeof h1 + h1.read_len + h1.hits_len;
        CHECK_INT(batch_rec_identity(rec, n, &cam, &ep, &sq, &dg), 0);
        CHECK(cam == 42 && ep == 0 && sq == k->seq);
        CHECK_INT(batch_rec_add(c, rec, n), 0);
        CHECK(c->acks[0].epoch == 0 && !c->acks[0].has_digest && c->acks[0].seq == k->seq);
        CHECK_INT(c->reads.len, k->read_len);
        CHECK_INT(c->hits.len, k->hits_len);
        CHECK(memcmp(c->reads.data, rp, k->read_len) == 0);
        CHECK(memcmp(c->hits.data, hp, k->hits_len) == 0);
        CHECK_INT(batch_id_rows(c, 0, 1, &c->ids), 0);
        /* its digest field is NULL (length -1), then the plate, then the trailer */
        CHECK(c->ids.len > 17 && memcmp(c->ids.data + c->ids.len - 17,
                                        "\xFF\xFF\xFF\xFF\0\0\0\x07"
                                        "1ABC123\xFF\xFF",
                                        17) == 0);
        batch_destroy(&c);
    }

    /* Malformed: too short, lengths that do not add up, a record that does not fit. */
    size_t len = batch_rec_encode(a, 1, rec, sizeof rec);
    CHECK_INT(batch_rec_add(b, rec, 10), -1);
    CHECK_INT(batch_rec_add(b, rec, len - 1), -1);
    CHECK_INT(batch_rec_add(b, rec, len + 1), -1);
    CHECK_INT(batch_rec_encode(a, 1, rec, len - 1), 0);
    CHECK_INT(batch_rec_encode(a, 3, rec, sizeof rec), 0);
    CHECK_INT(b->nreads, 3);

    /* Dropping the last read (with its hit) gives the batch as it was before it. */
    size_t reads_len = a->reads.len, hits_len = a->hits.len;
    struct proto_read r = s_read(4, "1-ABC-123");
    CHECK_INT(batch_add(a, &r, 7, 42, "1ABC123", r.time_us, id, sizeof id, &m, &supp, &hit_id, 1),
              0);
    CHECK_INT(a->nhits, 2);
    batch_drop_last(a);
    CHECK_INT(a->nreads, 3);
    CHECK_INT(a->nhits, 1);
    CHECK_INT(a->reads.len, reads_len);
    CHECK_INT(a->hits.len, hits_len);

    /* The HITs to publish once durable: kept in order, byte for byte; gone with a reset. */
    const uint8_t f1[] = {1, 2, 3}, f2[] = {9};
    struct batch_pub p1 = {.topic = "hit/stolen",
                           .tlen = 10,
                           .priority = 1,
                           .hit_id = 5,
                           .frame = f1,
                           .len = sizeof f1};
    struct batch_pub p2 = {.topic = "covert/7",
                           .tlen = 8,
                           .covert = true,
                           .priority = 3,
                           .hit_id = 6,
                           .frame = f2,
                           .len = sizeof f2};
    CHECK_INT(batch_pub_add(a, &p1), 0);
    CHECK_INT(batch_pub_add(a, &p2), 0);
    CHECK_INT(a->npubs, 2);
    size_t off = 0;
    struct batch_pub got;
    CHECK(batch_pub_next(a, &off, &got));
    CHECK(got.tlen == 10 && memcmp(got.topic, "hit/stolen", 10) == 0 && !got.covert &&
          got.len == 3 && memcmp(got.frame, f1, 3) == 0 && got.hit_id == 5 && got.priority == 1);
    CHECK(batch_pub_next(a, &off, &got));
    CHECK(got.tlen == 8 && got.covert && got.len == 1 && got.frame[0] == 9 && got.hit_id == 6);
    CHECK(!batch_pub_next(a, &off, &got));
    CHECK(memmem(a->hits.data, a->hits.len, "\t77001\n", 7) != NULL); /* the hit_id column */
    batch_reset(a);
    off = 0;
    CHECK_INT(a->npubs, 0);
    CHECK(!batch_pub_next(a, &off, &got));

    batch_destroy(&a);
    batch_destroy(&b);
    wl_destroy(&wl);
    return check_done("batch");
}
