/* test_pend: the multiset of pending reads, against a plain model under random operations. */
#include <stdlib.h>

#include "check.h"
#include "pend.h"

#define KEYS 5000

int main(void)
{
    pend_t *p = pend_new();
    static int model[KEYS];
    unsigned seed = 12345;
    size_t distinct = 0;

    CHECK(p != NULL);
    /* Same seq and time on another camera, or another time, is another read. */
    CHECK_INT(pend_add(p, 1, 7, 100), 0);
    CHECK_INT(pend_add(p, 2, 7, 100), 0);
    CHECK_INT(pend_add(p, 1, 7, 101), 0);
    CHECK_INT(pend_add(p, 1, 7, 100), 1);
    CHECK_INT(pend_count(p), 3);
    pend_remove(p, 1, 7, 100);
    pend_remove(p, 1, 7, 100);
    pend_remove(p, 1, 7, 100); /* one too many: ignored */
    pend_remove(p, 9, 9, 9);   /* unknown: ignored */
    CHECK_INT(pend_count(p), 2);
    CHECK_INT(pend_add(p, 1, 7, 100), 0);
    pend_remove(p, 1, 7, 100);
    pend_remove(p, 2, 7, 100);
    pend_remove(p, 1, 7, 101);
    CHECK_INT(pend_count(p), 0);

    /* Random adds and removes (the table grows and deletes shift runs) agree with a model. */
    int mismatches = 0;
    for (int step = 0; step < 400000; step++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % KEYS);
        int32_t cam = k % 7;
        uint64_t seq = (uint64_t)k / 7;
        int64_t t = 1000 + k % 3;
        if ((seed >> 4) % 3 != 0) {
            int before = pend_add(p, cam, seq, t);
            mismatches += before != model[k];
            distinct += model[k] == 0;
            model[k]++;
        } else {
            pend_remove(p, cam, seq, t);
            if (model[k] > 0 && --model[k] == 0)
                distinct--;
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK_INT(pend_count(p), distinct);
    for (int k = 0; k < KEYS; k++)
        while (model[k]-- > 0)
            pend_remove(p, k % 7, (uint64_t)k / 7, 1000 + k % 3);
    CHECK_INT(pend_count(p), 0);
    pend_destroy(&p);
    pend_destroy(&p);
    CHECK(p == NULL);
    return check_done("pend");
}
