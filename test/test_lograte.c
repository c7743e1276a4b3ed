/*
 * test_lograte: one line per reason per interval, with the count held back in between; other
 * reasons are not held back; a reason pushed out of the table starts again as new; the lines
 * held back are summed up (the last one and the count) once the interval has passed, or at exit.
 */
#include "check.h"
#include "lograte.h"

#include <stdio.h>
#include <string.h>

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

static void s_test_held(void)
{
    lograte_t *r = lograte_new(S_MIN);
    char line[64];
    size_t pos = 0;
    uint64_t n = 0, sup = 99;
    int tag = 0;

    if (r == NULL) {
        CHECK(0);
        return;
    }
    /* nothing held back: nothing to say */
    CHECK(!lograte_held(r, 0, true, &pos, line, sizeof line, &tag, &n));
    CHECK(lograte_pass_line(r, "checkpoint: %s", "checkpoint: gone", 3, 0, &sup));
    CHECK(lograte_pass_line(r, "refused %d", "refused 1", 4, 0, &sup));
    for (int i = 1; i <= 300; i++) {
        snprintf(line, sizeof line, "checkpoint: gone %d", i);
        CHECK(!lograte_pass_line(r, "checkpoint: %s", line, 3, i, &sup));
    }
    /* within the interval: not yet; after it: the last line held back and the count */
    pos = 0;
    CHECK(!lograte_held(r, S_MIN - 1, false, &pos, line, sizeof line, &tag, &n));
    pos = 0;
    CHECK(lograte_held(r, S_MIN + 300, false, &pos, line, sizeof line, &tag, &n));
    CHECK(strcmp(line, "checkpoint: gone 300") == 0);
    CHECK_INT(tag, 3);
    CHECK_INT(n, 300);
    CHECK(!lograte_held(r, S_MIN + 300, false, &pos, line, sizeof line, &tag, &n));
    /* said: the next line of that reason waits a whole interval from the summary */
    CHECK(!lograte_pass_line(r, "checkpoint: %s", "checkpoint: again", 3, S_MIN + 301, &sup));
    CHECK(lograte_pass_line(r, "refused %d", "refused 2", 4, S_MIN + 302, &sup));
    CHECK(!lograte_pass_line(r, "refused %d", "refused 3", 4, S_MIN + 303, &sup));
    /* at exit, every reason with lines held back, whatever the time */
    pos = 0;
    int found = 0;
    while (lograte_held(r, S_MIN + 304, true, &pos, line, sizeof line, &tag, &n)) {
        CHECK_INT(n, 1);
        found++;
    }
    CHECK_INT(found, 2);
    lograte_destroy(&r);
}

int main(void)
{
    s_test_one_reason();
    s_test_reasons();
    s_test_held();
    return check_done("lograte");
}
