/*
 * test_lograte: one line per reason per interval, with the count held back in between; other
 * reasons are not held back; a reason pushed out of the table starts again as new.
 */
#include "check.h"
#include "lograte.h"

#include <stdio.h>

#define S_MIN 60000000LL /* one minute in µs */

static void s_test_one_reason(void)
{
    lograte_t *r = lograte_new(S_MIN);
    uint64_t sup = 99;

    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK(lograte_pass(r, "handshake: certificate has expired", 1000, &sup));
    CHECK_INT(sup, 0);
    /* 5 more within the minute: held back */
    for (int i = 1; i <= 5; i++)
        CHECK(!lograte_pass(r, "handshake: certificate has expired", 1000 + i * 1000000LL, &sup));
    CHECK(!lograte_pass(r, "handshake: certificate has expired", 1000 + S_MIN - 1, &sup));
    /* a minute after the line: a line again, saying how many were not logged */
    CHECK(lograte_pass(r, "handshake: certificate has expired", 1000 + S_MIN, &sup));
    CHECK_INT(sup, 6);
    CHECK(!lograte_pass(r, "handshake: certificate has expired", 1000 + S_MIN + 1, NULL));
    CHECK(lograte_pass(r, "handshake: certificate has expired", 1000 + 3 * S_MIN, &sup));
    CHECK_INT(sup, 1);
    lograte_destroy(&r);
    lograte_destroy(&r); /* safe twice */
    CHECK(r == NULL);
    CHECK(lograte_new(0) == NULL);
}

static void s_test_reasons(void)
{
    lograte_t *r = lograte_new(S_MIN);
    char reason[64];
    uint64_t sup = 99;

    if (r == NULL) {
        CHECK(0);
        return;
    }
    CHECK(lograte_pass(r, "connect: Connection refused", 0, &sup));
    CHECK(lograte_pass(r, "handshake: hostname mismatch", 1, &sup));
    CHECK_INT(sup, 0);
    CHECK(!lograte_pass(r, "connect: Connection refused", 2, &sup));
    CHECK(!lograte_pass(r, "handshake: hostname mismatch", 3, &sup));
    /* as many new reasons as the table holds push the first two out: they start again */
    for (int i = 0; i < LOGRATE_SLOTS; i++) {
        snprintf(reason, sizeof reason, "reason %d", i);
        CHECK(lograte_pass(r, reason, 10 + i, NULL));
    }
    CHECK(lograte_pass(r, "connect: Connection refused", 100, &sup));
    CHECK_INT(sup, 0);
    /* the newest of those is still held back */
    snprintf(reason, sizeof reason, "reason %d", LOGRATE_SLOTS - 1);
    CHECK(!lograte_pass(r, reason, 101, NULL));
    lograte_destroy(&r);
}

int main(void)
{
    s_test_one_reason();
    s_test_reasons();
    return check_done("lograte");
}
