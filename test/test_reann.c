/* test_reann: urgent HITs announced again until acknowledged, driven by a fake clock, a fake
 * feed and a fake sync thread; covert ones only with a covert feed, and told apart to it. */
#include "check.h"
#include "reann.h"

#include <string.h>

#define S(x) ((int64_t)(x)*1000000)

struct fake {
    uint64_t sent[64];
    uint8_t last_frame[64][8];
    bool sent_covert[64];
    size_t nsent;
    uint64_t asked[REANN_ASK_MAX];
    size_t nasked;
    uint64_t serial;
    int refuse; /* ask fails */
    uint64_t stored;
    bool spool;
};

static void s_send(void *ctx, uint64_t id, bool covert, const char *topic, size_t tlen,
                   const uint8_t *frame, size_t len)
{
    struct fake *f = ctx;

    /* The topic it came with: a covert HIT's names its list, and is told covert. */
    if (covert)
        CHECK(tlen == 9 && memcmp(topic, "covert/7/", 9) == 0);
    else
        CHECK(tlen == 10 && memcmp(topic, "hit/stolen", 10) == 0);
    if (f->nsent < 64) {
        memcpy(f->last_frame[f->nsent], frame, len < 8 ? len : 8);
        f->sent_covert[f->nsent] = covert;
        f->sent[f->nsent++] = id;
    }
}

static int s_ask(void *ctx, const uint64_t *ids, size_t n, uint64_t serial, int64_t deadline)
{
    struct fake *f = ctx;

    (void)deadline;
    if (f->refuse)
        return -1;
    memcpy(f->asked, ids, n * sizeof *ids);
    f->nasked = n;
    f->serial = serial;
    return 0;
}

static uint64_t s_stored(void *ctx)
{
    return ((struct fake *)ctx)->stored;
}

static size_t s_count(const struct fake *f, uint64_t id)
{
    size_t n = 0;

    for (size_t i = 0; i < f->nsent; i++)
        n += f->sent[i] == id;
    return n;
}

int main(void)
{
    struct fake f = {0};
    struct reann_io io = {.ctx = &f, .send = s_send, .ask = s_ask, .stored = s_stored};
    reann_t *r = reann_new(&io, NULL);
    const uint8_t frame[8] = "AAAAAAA", later[8] = "BBBBBBB";

    CHECK(r != NULL);
    reann_set(r, 10, 2, S(0));
    /* Kept: urgent, not covert. Not kept: too low, covert (no covert feed here). */
    reann_add(r, 1, 1, false, "hit/stolen", 10, frame, 8, 0, S(0));
    reann_add(r, 2, 2, false, "hit/stolen", 10, frame, 8, 0, S(0));
    reann_add(r, 3, 3, false, "hit/stolen", 10, frame, 8, 0, S(0));
    reann_add(r, 4, 1, true, "covert/7/", 9, frame, 8, 0, S(0));
    CHECK_INT(reann_count(r), 2);
    /* Not due yet: no question. */
    reann_tick(r, S(5));
    CHECK_INT(f.nasked, 0);
    /* Due: a question about both; 1 acknowledged: only 2 announced again, 1 let go. */
    reann_tick(r, S(10));
    CHECK_INT(f.nasked, 2);
    uint64_t acked[] = {1};
    reann_answer(r, f.serial, acked, 1, NULL, 0, true, S(10));
    CHECK_INT(s_count(&f, 2), 1);
    CHECK_INT(s_count(&f, 1), 0);
    CHECK_INT(reann_count(r), 1);
    /* A sighting: the next announcement carries its frame. */
    reann_follow(r, 2, later, 8);
    reann_follow(r, 99, later, 8); /* not kept: nothing */
    f.nasked = 0;
    reann_tick(r, S(20));
    CHECK_INT(f.nasked, 1);
    reann_answer(r, f.serial, NULL, 0, NULL, 0, true, S(20));
    CHECK_INT(s_count(&f, 2), 2);
    CHECK(memcmp(f.last_frame[f.nsent - 1], later, 8) == 0);
    /* The database cannot say (no answer in time): announced again all the same. */
    reann_tick(r, S(30));
    reann_tick(r, S(36)); /* past the deadline (half a period) */
    CHECK_INT(s_count(&f, 2), 3);
    /* A question that cannot be put: unknown, announced again. */
    f.refuse = 1;
    reann_tick(r, S(40));
    CHECK_INT(s_count(&f, 2), 4);
    f.refuse = 0;
    /* With the read spool: a HIT with no row is let go only once the writer is past it. */
    reann_add(r, 5, 1, false, "hit/stolen", 10, frame, 8, 500, S(41));
    uint64_t missing[] = {5};
    f.stored = 100;
    reann_answer(r, 12345, NULL, 0, missing, 1, true, S(42));
    CHECK_INT(reann_count(r), 2);
    f.stored = 600;
    reann_answer(r, 12345, NULL, 0, missing, 1, true, S(42));
    CHECK_INT(reann_count(r), 1);
    /* A late answer still tells which are done. */
    uint64_t late[] = {2};
    reann_answer(r, 1, late, 1, NULL, 0, true, S(43));
    CHECK_INT(reann_count(r), 0);
    /* A shorter period applies at once; priority raised lets go of the less urgent; 0 stops
     * everything. */
    reann_add(r, 6, 1, false, "hit/stolen", 10, frame, 8, 0, S(100));
    reann_add(r, 7, 2, false, "hit/stolen", 10, frame, 8, 0, S(100));
    reann_set(r, 2, 1, S(100));
    CHECK_INT(reann_count(r), 1);
    f.nasked = 0;
    reann_tick(r, S(102));
    CHECK_INT(f.nasked, 1);
    CHECK_INT(f.asked[0], 6);
    reann_set(r, 0, 1, S(103));
    CHECK_INT(reann_count(r), 0);
    reann_add(r, 8, 1, false, "hit/stolen", 10, frame, 8, 0, S(104)); /* off: not kept */
    CHECK_INT(reann_count(r), 0);
    /* A day at most. */
    reann_set(r, 10, 2, S(200));
    reann_add(r, 9, 1, false, "hit/stolen", 10, frame, 8, 0, S(200));
    reann_tick(r, S(200) + REANN_AGE_US + S(20));
    reann_answer(r, f.serial, NULL, 0, NULL, 0, true, S(200) + REANN_AGE_US + S(20));
    CHECK_INT(reann_count(r), 0);
    reann_destroy(&r);
    reann_destroy(&r);
    CHECK(r == NULL);

    /* With a covert feed: an urgent covert HIT is kept and announced again, told covert, under
     * its own topic, until acknowledged; a covert one not urgent enough is not kept. */
    struct fake g = {0};
    io.ctx = &g;
    io.covert = true;
    r = reann_new(&io, NULL);
    CHECK(r != NULL);
    reann_set(r, 10, 2, S(0));
    reann_add(r, 20, 1, true, "covert/7/", 9, frame, 8, 0, S(0));
    reann_add(r, 21, 3, true, "covert/7/", 9, frame, 8, 0, S(0));
    reann_add(r, 22, 1, false, "hit/stolen", 10, frame, 8, 0, S(0));
    CHECK_INT(reann_count(r), 2);
    reann_tick(r, S(10));
    CHECK_INT(g.nasked, 2);
    reann_answer(r, g.serial, NULL, 0, NULL, 0, true, S(10));
    CHECK_INT(s_count(&g, 20), 1);
    CHECK_INT(s_count(&g, 22), 1);
    CHECK_INT(g.nsent, 2);
    for (size_t i = 0; i < g.nsent; i++)
        CHECK(g.sent_covert[i] == (g.sent[i] == 20));
    /* Acknowledged (by a person cleared for its list): let go; the other goes on. */
    uint64_t cacked[] = {20};
    reann_tick(r, S(20));
    CHECK_INT(g.nasked, 2);
    reann_answer(r, g.serial, cacked, 1, NULL, 0, true, S(20));
    CHECK_INT(s_count(&g, 20), 1);
    CHECK_INT(s_count(&g, 22), 2);
    CHECK_INT(reann_count(r), 1);
    reann_tick(r, S(30));
    reann_answer(r, g.serial, NULL, 0, NULL, 0, true, S(30));
    CHECK_INT(s_count(&g, 20), 1);
    CHECK_INT(s_count(&g, 22), 3);
    reann_destroy(&r);
    return check_done("reann");
}
