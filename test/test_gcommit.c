/* test_gcommit: the group commit policy (gcommit.h): the disk sets the pace, the timer bounds. */
#include "check.h"
#include "gcommit.h"

#define MS 1000

static const struct gcommit_policy pol = {.max_reads = 1000, .max_wait_us = 5 * MS};

/*
 * A disk that takes `commit_us` a commit, driven as ingest drives it: reads arrive at the given
 * times (µs, ascending); at every event the gathering group is asked whether it goes. Counts the
 * commits and gives each read the time its commit finished (its ACK).
 */
struct sim {
    int64_t commit_us;
    size_t ncommits;
    int64_t ack[256];
};

static void s_run(struct sim *s, const int64_t *arrive, size_t n)
{
    struct gcommit_group g = {0};
    size_t next = 0, group_start = 0, flight_start = 0, flight_end = 0;
    int64_t now = 0, flight_done = -1;

    while (next < n || g.nreads > 0 || flight_done >= 0) {
        /* The next event: a read arrives, or the commit in flight finishes. */
        int64_t t_read = next < n ? arrive[next] : INT64_MAX;
        int64_t t_done = flight_done >= 0 ? flight_done : INT64_MAX;
        int64_t t_timer = INT64_MAX;
        int64_t w = gcommit_wait_us(&pol, &g, now);
        if (w >= 0)
            t_timer = now + w;
        now = t_read < t_done ? t_read : t_done;
        if (t_timer < now)
            now = t_timer;
        if (flight_done >= 0 && now >= flight_done) {
            for (size_t i = flight_start; i < flight_end; i++)
                s->ack[i] = flight_done;
            flight_done = -1;
            g.in_flight = false;
        }
        while (next < n && arrive[next] <= now) {
            if (g.nreads++ == 0)
                g.first_us = now;
            next++;
        }
        g.more_waiting = false; /* every read that has arrived was taken */
        if (gcommit_decide(&pol, &g, now) != GCOMMIT_HOLD) {
            flight_start = group_start;
            flight_end = group_start + g.nreads;
            group_start = flight_end;
            flight_done = now + s->commit_us;
            g.nreads = 0;
            g.in_flight = true;
            s->ncommits++;
        }
    }
}

int main(void)
{
    struct gcommit_group g = {.nreads = 1, .first_us = 100 * MS};

    /* An empty group never goes, and runs no timer. */
    struct gcommit_group empty = {0};
    CHECK_INT(gcommit_decide(&pol, &empty, 100 * MS), GCOMMIT_HOLD);
    CHECK_INT(gcommit_wait_us(&pol, &empty, 100 * MS), -1);

    /* A lone read with the disk free goes at once, long before the timer. */
    CHECK_INT(gcommit_decide(&pol, &g, 100 * MS), GCOMMIT_IDLE);
    CHECK_STR(gcommit_name(gcommit_decide(&pol, &g, 100 * MS)), "idle");

    /* While a commit is in flight the group gathers, whatever its size, age or HITs: one
     * commit in flight, and no timer of its own (the commit's end wakes ingest). */
    g.in_flight = true;
    g.nreads = 5000;
    g.urgent = true;
    CHECK_INT(gcommit_decide(&pol, &g, 900 * MS), GCOMMIT_HOLD);
    CHECK_INT(gcommit_wait_us(&pol, &g, 900 * MS), -1);
    /* Once it has finished, the gathered reads go together. */
    g.in_flight = false;
    CHECK_INT(gcommit_decide(&pol, &g, 900 * MS), GCOMMIT_FULL);
    g.nreads = 10;
    CHECK_INT(gcommit_decide(&pol, &g, 100 * MS), GCOMMIT_URGENT);
    g.urgent = false;
    CHECK_INT(gcommit_decide(&pol, &g, 100 * MS), GCOMMIT_IDLE);

    /* More reads waiting to be taken: the group takes them first... */
    g.more_waiting = true;
    CHECK_INT(gcommit_decide(&pol, &g, 100 * MS), GCOMMIT_HOLD);
    CHECK_INT(gcommit_wait_us(&pol, &g, 101 * MS), 4 * MS);
    CHECK_INT(gcommit_decide(&pol, &g, 105 * MS - 1), GCOMMIT_HOLD);
    /* ...but a stream that never drains does not hold it past the timer. */
    CHECK_INT(gcommit_wait_us(&pol, &g, 105 * MS), 0);
    CHECK_INT(gcommit_decide(&pol, &g, 105 * MS), GCOMMIT_TIMER);
    CHECK_INT(gcommit_decide(&pol, &g, 200 * MS), GCOMMIT_TIMER);
    CHECK_STR(gcommit_name(GCOMMIT_TIMER), "timer");
    /* ...or past max_reads. */
    g.nreads = 1000;
    CHECK_INT(gcommit_decide(&pol, &g, 100 * MS), GCOMMIT_FULL);

    /* A camera at a few reads a second, on a disk of 200 µs a commit: every read is acknowledged
     * one commit after it came (the old timer made each wait 5 ms). */
    struct sim s = {.commit_us = 200};
    const int64_t slow[] = {0, 300 * MS, 600 * MS, 900 * MS};
    s_run(&s, slow, 4);
    CHECK_INT(s.ncommits, 4);
    for (size_t i = 0; i < 4; i++)
        CHECK_INT(s.ack[i] - slow[i], 200);

    /* A burst: the first read goes alone; the 99 that come while its commit is in flight
     * gather and share the next one. */
    int64_t burst[100];
    for (size_t i = 0; i < 100; i++)
        burst[i] = (int64_t)i;
    struct sim b = {.commit_us = 200};
    s_run(&b, burst, 100);
    CHECK_INT(b.ncommits, 2);
    CHECK_INT(b.ack[0], 200);
    for (size_t i = 1; i < 100; i++)
        CHECK_INT(b.ack[i], 400);

    /* A steady stream faster than the disk: one commit in flight at a time, each carrying what
     * came during the one before (here 1 read every 10 µs, 200 µs commits: ~20 a commit). */
    int64_t steady[256];
    for (size_t i = 0; i < 256; i++)
        steady[i] = (int64_t)i * 10;
    struct sim t = {.commit_us = 200};
    s_run(&t, steady, 256);
    CHECK(t.ncommits >= 12 && t.ncommits <= 15);
    for (size_t i = 0; i < 256; i++)
        CHECK(t.ack[i] - steady[i] <= 2 * 200);
    return check_done("test_gcommit");
}
