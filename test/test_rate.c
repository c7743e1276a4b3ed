/*
 * Unit test of rate: a peer gets its burst at once, then its rate; peers do not share a
 * bucket; idle peers give up their slots; a full table still serves new peers.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rate.h"

/* How many of n takes at time t succeed. */
static int s_takes(rate_t *r, const char *key, int n, int64_t t, uint32_t per_s, uint32_t burst)
{
    int ok = 0;

    for (int i = 0; i < n; i++)
        ok += rate_take(r, key, strlen(key), t, per_s, burst);
    return ok;
}

int main(void)
{
    rate_t *r = rate_new(64);
    int64_t t = 1000000;

    CHECK(r != NULL);
    /* The burst at once, then nothing until time passes. */
    CHECK_INT(s_takes(r, "peer-a", 150, t, 100, 100), 100);
    /* Another peer has its own bucket. */
    CHECK_INT(s_takes(r, "peer-b", 50, t, 100, 100), 50);
    /* 0.5 s later: 50 more tokens for peer-a, not more. */
    t += 500000;
    CHECK_INT(s_takes(r, "peer-a", 80, t, 100, 100), 50);
    /* Ten seconds later: never more than the burst. */
    t += 10000000;
    CHECK_INT(s_takes(r, "peer-a", 300, t, 100, 100), 100);
    /* A steady 100/s is served whole: one take every 10 ms for 5 s. */
    int ok = 0;
    for (int i = 0; i < 500; i++) {
        t += 10000;
        ok += rate_take(r, "peer-a", 6, t, 100, 100);
    }
    CHECK_INT(ok, 500);
    /* Rate 0: no limit. */
    CHECK_INT(s_takes(r, "peer-c", 100000, t, 0, 0), 100000);
    /* An empty and an over-long key are peers like any other. */
    CHECK_INT(s_takes(r, "", 20, t, 10, 10), 10);
    char longkey[100];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CHECK_INT(s_takes(r, longkey, 20, t, 10, 10), 10);

    /* Many more peers than slots: each new peer still gets tokens (slots taken over, or
     * shared), and a returning idle peer starts with a full bucket. */
    int first = 0, rest = 0;
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof key, "p%d", i);
        bool ok1 = rate_take(r, key, strlen(key), t, 10, 10);
        if (i < 40)
            first += ok1;
        else
            rest += ok1;
    }
    CHECK_INT(first, 40); /* free slots: each its own bucket */
    CHECK(rest > 0);      /* a full table: shared buckets, still served */
    CHECK(rest < 960);    /* ... but not each its own burst: a flood of new peers shares */
    t += 120 * 1000000LL;
    CHECK_INT(s_takes(r, "peer-b", 120, t, 100, 100), 100);

    rate_destroy(&r);
    CHECK(r == NULL);
    rate_destroy(&r);
    return check_done("rate");
}
