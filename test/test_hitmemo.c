/*
 * test_hitmemo: an id put is got back for the same read and entry, and for nothing that differs
 * in one part (camera, epoch, seq, content, entry); a newer key in the same slot pushes the older
 * one out, never giving it the newer one's id.
 */
#include "check.h"
#include "hitmemo.h"

static void s_test_parts(void)
{
    hitmemo_t *m = hitmemo_new(0);

    if (m == NULL) {
        CHECK(0);
        return;
    }
    CHECK_INT(hitmemo_get(m, 1, 2, 3, 4, 5), 0);
    hitmemo_put(m, 1, 2, 3, 4, 5, 777);
    CHECK_INT(hitmemo_get(m, 1, 2, 3, 4, 5), 777);
    CHECK_INT(hitmemo_get(m, 9, 2, 3, 4, 5), 0);
    CHECK_INT(hitmemo_get(m, 1, 9, 3, 4, 5), 0);
    CHECK_INT(hitmemo_get(m, 1, 2, 9, 4, 5), 0);
    CHECK_INT(hitmemo_get(m, 1, 2, 3, 9, 5), 0);
    CHECK_INT(hitmemo_get(m, 1, 2, 3, 4, 9), 0);
    hitmemo_put(m, 1, 2, 3, 4, 5, 778); /* given again: the newer id */
    CHECK_INT(hitmemo_get(m, 1, 2, 3, 4, 5), 778);
    hitmemo_destroy(&m);
    hitmemo_destroy(&m);
    CHECK(m == NULL);
}

static void s_test_many(void)
{
    hitmemo_t *m = hitmemo_new(1024);
    size_t kept = 0, wrong = 0;

    if (m == NULL) {
        CHECK(0);
        return;
    }
    /* four times more HITs than slots: the newest are mostly kept, none answers wrongly */
    for (uint64_t i = 1; i <= 4096; i++)
        hitmemo_put(m, 7, 0, i, i * 31, 42, 1000 + i);
    for (uint64_t i = 1; i <= 4096; i++) {
        uint64_t id = hitmemo_get(m, 7, 0, i, i * 31, 42);
        kept += id != 0;
        wrong += id != 0 && id != 1000 + i;
    }
    CHECK_INT(wrong, 0);
    CHECK(kept > 0 && kept <= 1024);
    hitmemo_destroy(&m);
}

int main(void)
{
    s_test_parts();
    s_test_many();
    return check_done("hitmemo");
}
