/*
 * gcommit: when a group of reads is committed (group commit), for both of ingest's paths: the
 * spool's (one pwrite and fdatasync of the group, then its ACKs) and the database's (the
 * writer's COPY and COMMIT of a batch).
 *
 * The disk sets the pace, not a timer. A group goes as soon as the commit before it has
 * finished: one commit in flight at a time, the next group gathering meanwhile (PostgreSQL's WAL
 * writer and group commit are the model). A lone read therefore waits for one commit, not for a
 * timer, and the reads of a burst that come while a commit is in flight share the next one.
 *
 * A group that is not empty goes when no commit is in flight and
 *   - nothing more is waiting to join it (the readers' input is drained: GCOMMIT_IDLE), or
 *   - it holds max_reads (GCOMMIT_FULL), or
 *   - a HIT waits for it to be durable before it is published (GCOMMIT_URGENT), or
 *   - its first read has waited max_wait_us (GCOMMIT_TIMER: only an upper bound, for a steady
 *     stream that never drains).
 * Otherwise it gathers (GCOMMIT_HOLD).
 *
 * Pure functions over plain values, no state of its own (the group is ingest's batch, "in
 * flight" is the writer's or the spool's), so ingest and the unit test ask the same question.
 */
#ifndef ANPR_GCOMMIT_H
#define ANPR_GCOMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What decides (database.batch_size, database.flush_interval_ms). */
struct gcommit_policy {
    size_t max_reads;    /* a group holds this many at most: it goes once it has them */
    int64_t max_wait_us; /* a group's first read waits this long at most, in flight aside */
};

/* The group gathering, and what is around it. */
struct gcommit_group {
    size_t nreads;     /* reads in it (0: nothing to commit) */
    int64_t first_us;  /* monotonic: when its first read joined */
    bool urgent;       /* a HIT waits for it */
    bool in_flight;    /* the commit before it has not finished */
    bool more_waiting; /* reads are waiting to be taken and could join it now */
};

enum gcommit_go {
    GCOMMIT_HOLD = 0, /* keep gathering */
    GCOMMIT_IDLE,     /* nothing more to take: go */
    GCOMMIT_FULL,     /* max_reads reached */
    GCOMMIT_URGENT,   /* a HIT waits */
    GCOMMIT_TIMER,    /* max_wait_us passed */
};

/* Whether group g goes now (at monotonic now_us), and why. */
enum gcommit_go gcommit_decide(const struct gcommit_policy *p, const struct gcommit_group *g,
                               int64_t now_us);

/*
 * How long ingest may sleep before the timer makes g go: µs from now_us (0: due), or -1 when no
 * timer runs (g empty, or a commit in flight: its end wakes ingest and the group is asked
 * again then).
 */
int64_t gcommit_wait_us(const struct gcommit_policy *p, const struct gcommit_group *g,
                        int64_t now_us);

/* The name of a decision, for logs and tests ("hold", "idle", "full", "urgent", "timer"). */
const char *gcommit_name(enum gcommit_go go);

#endif
