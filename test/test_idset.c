/* Unit test of idset: membership against a plain array, growth, iteration, the marker id. */
#include "idset.h"

#include "check.h"

#include <stdlib.h>

static void test_basic(void)
{
    idset_t *s = idset_new();

    CHECK(s != NULL);
    CHECK(!idset_has(s, 1));
    CHECK_INT(idset_count(s), 0);
    CHECK_INT(idset_add(s, 1), 0);
    CHECK_INT(idset_add(s, 1), 0); /* twice is once */
    CHECK_INT(idset_add(s, UINT64_MAX), 0);
    CHECK_INT(idset_add(s, 0), 0);
    CHECK(idset_has(s, 1) && idset_has(s, 0) && idset_has(s, UINT64_MAX));
    CHECK(!idset_has(s, 2));
    CHECK_INT(idset_count(s), 3);

    size_t pos = 0, seen = 0;
    uint64_t id, sum = 0;
    while (idset_next(s, &pos, &id)) {
        seen++;
        sum += id == UINT64_MAX ? 100 : id;
    }
    CHECK_INT(seen, 3);
    CHECK_INT(sum, 101);

    idset_t *copy = idset_dup(s);
    idset_clear(s);
    CHECK_INT(idset_count(s), 0);
    CHECK(!idset_has(s, 1) && !idset_has(s, UINT64_MAX));
    CHECK(copy && idset_has(copy, 1) && idset_has(copy, UINT64_MAX) && idset_count(copy) == 3);
    idset_destroy(&copy);
    idset_destroy(&s);
    idset_destroy(&s); /* twice is safe */
    CHECK(s == NULL);
}

/* 100 000 pseudo-random ids, half of them in the set: the set agrees with a plain bitmap. */
static void test_random(void)
{
    enum { N = 200000 };
    idset_t *s = idset_new();
    unsigned char *in = calloc(N, 1);
    uint64_t x = 88172645463325252ULL;

    for (size_t i = 0; i < N / 2; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t k = (size_t)(x % N);
        in[k] = 1;
        CHECK_INT(idset_add(s, (uint64_t)k * 7919), 0);
    }
    size_t members = 0, wrong = 0;
    for (size_t k = 0; k < N; k++) {
        members += in[k];
        wrong += idset_has(s, (uint64_t)k * 7919) != (bool)in[k];
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(idset_count(s), members);
    CHECK(idset_memory_bytes(s) > members * sizeof(uint64_t));
    free(in);
    idset_destroy(&s);
}

int main(void)
{
    test_basic();
    test_random();
    return check_done("idset");
}
