/* Unit test of hitid: increasing, unique across threads, the instance kept, a clock that goes
 * back, a burst of more than the counter holds in one millisecond. */
#include "hitid.h"

#include "check.h"

#include <pthread.h>
#include <stdlib.h>

#define T0 1764429601123456LL /* 2025-11-29: before the epoch, ms 0 */
#define T1 1790000000000000LL /* 2026-09 */

static struct hitid s_gen;
static uint64_t s_ids[4][50000];

static void *s_take(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < 50000; i++)
        out[i] = hitid_next(&s_gen, T1 + i / 100);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    struct hitid g, other_seed_src;

    hitid_init(&g, 5);
    hitid_init(&other_seed_src, 7);
    uint64_t a = hitid_next(&g, T1), b = hitid_next(&g, T1), c = hitid_next(&g, T1 + 1000);
    CHECK(a < b && b < c);
    CHECK_INT(a >> 12 & 1023, 5);
    CHECK_INT(b >> 12 & 1023, 5);
    CHECK_INT(hitid_time_us(a), T1 / 1000 * 1000);
    CHECK_INT(hitid_time_us(c), (T1 + 1000) / 1000 * 1000);
    /* A clock gone back: still increasing. */
    uint64_t d = hitid_next(&g, T1 - 5000000);
    CHECK(d > c);
    /* 5 000 in one millisecond: more than the counter holds; all distinct, increasing, ours. */
    uint64_t prev = d;
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t id = hitid_next(&g, T1 + 2000);
        bad += id <= prev || (id >> 12 & 1023) != 5;
        prev = id;
    }
    CHECK_INT(bad, 0);
    /* Seeded at start with the highest stored id (another instance's, given later than this
     * clock says): the next ids are above it, and still this instance's. */
    struct hitid seeded;
    hitid_init(&seeded, 5);
    uint64_t stored = hitid_next(&other_seed_src, T1 + 60000000);
    hitid_seed(&seeded, stored);
    uint64_t s1 = hitid_next(&seeded, T1);
    CHECK(s1 > stored);
    CHECK_INT(s1 >> 12 & 1023, 5);
    hitid_seed(&seeded, 1); /* a lower seed changes nothing */
    CHECK(hitid_next(&seeded, T1) > s1);
    /* Before the epoch: ms 0, still valid ids. */
    struct hitid early;
    hitid_init(&early, 1023);
    CHECK(hitid_next(&early, T0) < hitid_next(&early, T0));
    /* Instances never collide. */
    struct hitid other;
    hitid_init(&other, 6);
    CHECK(hitid_next(&other, T1) != a);

    /* Four threads, one generator: 200 000 distinct ids. */
    hitid_init(&s_gen, 7);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, s_take, s_ids[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    uint64_t *all = malloc(sizeof s_ids);
    memcpy(all, s_ids, sizeof s_ids);
    qsort(all, 200000, sizeof *all, s_cmp);
    int dup = 0;
    for (int i = 1; i < 200000; i++)
        dup += all[i] == all[i - 1];
    CHECK_INT(dup, 0);
    free(all);
    return check_done("hitid");
}
