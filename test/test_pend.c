/*
 * test_pend: the pending identities against a plain array kept beside them, through many random
 * adds and removals (growth, and removals inside runs of collisions); identities differing in
 * one part only are different; seq 0 is never added.
 */
#include "check.h"
#include "pend.h"

#include <stdlib.h>

#define S_N 20000

struct s_id {
    int32_t cam;
    uint32_t epoch;
    uint64_t seq;
    bool in;
};

static uint64_t s_rng = 88172645463325252ull;

static uint64_t s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static void s_test_random(void)
{
    pend_t *p = pend_new();
    struct s_id *ids = calloc(S_N, sizeof *ids);
    size_t count = 0;

    CHECK(p != NULL && ids != NULL);
    if (p == NULL || ids == NULL)
        goto out;
    /* few cameras and epochs, close seqs: many near neighbours */
    for (size_t i = 0; i < S_N; i++) {
        ids[i].cam = (int32_t)(i % 7) + 1;
        ids[i].epoch = (uint32_t)(i % 3);
        ids[i].seq = i / 21 + 1;
    }
    for (int round = 0; round < 200000; round++) {
        struct s_id *id = &ids[s_next() % S_N];
        if (s_next() % 3 != 0) {
            CHECK_INT(pend_add(p, id->cam, id->epoch, id->seq), 0);
            count += !id->in;
            id->in = true;
        } else {
            pend_del(p, id->cam, id->epoch, id->seq);
            count -= id->in;
            id->in = false;
        }
    }
    CHECK_INT(pend_count(p), count);
    size_t wrong = 0;
    for (size_t i = 0; i < S_N; i++)
        wrong += pend_has(p, ids[i].cam, ids[i].epoch, ids[i].seq) != ids[i].in;
    CHECK_INT(wrong, 0);
    /* everything out: empty */
    for (size_t i = 0; i < S_N; i++)
        pend_del(p, ids[i].cam, ids[i].epoch, ids[i].seq);
    CHECK_INT(pend_count(p), 0);
out:
    free(ids);
    pend_destroy(&p);
    pend_destroy(&p); /* safe twice */
    CHECK(p == NULL);
}

static void s_test_parts(void)
{
    pend_t *p = pend_new();

    if (p == NULL) {
        CHECK(0);
        return;
    }
    CHECK_INT(pend_add(p, 1, 0, 5), 0);
    CHECK_INT(pend_add(p, 1, 0, 5), 0); /* once */
    CHECK_INT(pend_count(p), 1);
    CHECK(pend_has(p, 1, 0, 5));
    CHECK(!pend_has(p, 2, 0, 5));
    CHECK(!pend_has(p, 1, 1, 5));
    CHECK(!pend_has(p, 1, 0, 6));
    CHECK_INT(pend_add(p, 1, 0, 0), -1);
    CHECK(!pend_has(p, 1, 0, 0));
    pend_del(p, 2, 0, 5); /* not there: nothing */
    CHECK_INT(pend_count(p), 1);
    pend_del(p, 1, 0, 5);
    CHECK(!pend_has(p, 1, 0, 5));
    CHECK_INT(pend_count(p), 0);
    pend_destroy(&p);
}

int main(void)
{
    s_test_parts();
    s_test_random();
    return check_done("pend");
}
