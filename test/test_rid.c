/* test_rid: the digest of a read's content, and the table of recent identities. */
#include <string.h>

#include "check.h"
#include "rid.h"

static void s_read(struct proto_read *r)
{
    memset(r, 0, sizeof *r);
    r->seq = 1;
    r->time_us = 1764429601123456;
    r->confidence = 912;
    strcpy(r->camera, "cam-01");
    strcpy(r->plate, "1ABC123");
}

static void s_test_digest(void)
{
    struct proto_read a, b;
    uint64_t d;

    s_read(&a);
    d = rid_digest(&a);
    /* Fixed for all time: it is stored in anpr.read_identity. */
    CHECK_INT(d, rid_digest(&a));
    b = a;
    /* identity is not content */
    b.seq = 99;
    b.epoch = 7;
    strcpy(b.camera, "cam-02");
    CHECK(rid_digest(&b) == d);
    /* every field of the content counts */
    b = a;
    b.time_us += 1000000;
    CHECK(rid_digest(&b) != d);
    b = a;
    strcpy(b.plate, "1ABC124");
    CHECK(rid_digest(&b) != d);
    b = a;
    strcpy(b.country, "BE");
    CHECK(rid_digest(&b) != d);
    b = a;
    b.confidence = 913;
    CHECK(rid_digest(&b) != d);
    b = a;
    b.lane = 1;
    CHECK(rid_digest(&b) != d);
    b = a;
    b.direction = 1;
    CHECK(rid_digest(&b) != d);
    b = a;
    strcpy(b.image_ref, "x");
    CHECK(rid_digest(&b) != d);
    b = a;
    b.ncand = 1;
    strcpy(b.cand[0].plate, "1A8C123");
    CHECK(rid_digest(&b) != d);
    b = a;
    b.has_position = true;
    CHECK(rid_digest(&b) != d);
    /* string boundaries count: "AB"+"" differs from "A"+"B" */
    b = a;
    strcpy(b.plate, "1ABC12");
    strcpy(b.image_ref, "3");
    CHECK(rid_digest(&b) != d);
    /* bytes after a string's end do not */
    b = a;
    b.plate[10] = 'Z';
    CHECK(rid_digest(&b) == d);
    /* The value itself, so a change of the function is seen (the stored digests would no
     * longer match their resends). */
    CHECK(d == 0xB5FE57AA18DAF5D5ULL);
}

static void s_test_table(void)
{
    rid_t *t = rid_new(1024);

    CHECK(t != NULL);
    CHECK_INT(rid_check(t, 1, 0, 5, 42), RID_NEW);
    CHECK_INT(rid_note(t, 1, 0, 5, 42), 0);
    CHECK_INT(rid_check(t, 1, 0, 5, 42), RID_SAME);
    CHECK_INT(rid_check(t, 1, 0, 5, 43), RID_OTHER);
    /* another epoch, camera or seq is another read */
    CHECK_INT(rid_check(t, 1, 1, 5, 43), RID_NEW);
    CHECK_INT(rid_check(t, 2, 0, 5, 43), RID_NEW);
    CHECK_INT(rid_check(t, 1, 0, 6, 43), RID_NEW);
    CHECK_INT(rid_note(t, 1, 0, 0, 1), -1);

    /* Two generations: the last 1024 are always remembered, older ones go in time. */
    for (uint64_t s = 100; s < 100 + 5000; s++)
        CHECK_INT(rid_note(t, 3, 9, s, s * 7), 0);
    size_t kept = 0;
    for (uint64_t s = 100 + 5000 - 1024; s < 100 + 5000; s++)
        kept += rid_check(t, 3, 9, s, s * 7) == RID_SAME;
    CHECK_INT(kept, 1024);
    CHECK_INT(rid_check(t, 3, 9, 100, 700), RID_NEW);
    CHECK(rid_count(t) <= 2048);
    rid_destroy(&t);
    rid_destroy(&t);
    CHECK(t == NULL);
}

int main(void)
{
    s_test_digest();
    s_test_table();
    return check_done("rid");
}
