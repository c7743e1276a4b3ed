/*
 * hitid: the ids of HITs. A HIT gets its id when it is produced, before it is stored or
 * published, so the dispatch feed, the hits table and the backbone all name it alike, and a
 * console can ask for "every HIT after the last id I saw".
 *
 * 64 bits: milliseconds since 2026-01-01 UTC (41 bits, 69 years), the anprd instance
 * (dispatch.instance, 10 bits: instances sharing one database must differ), and a counter
 * within the millisecond (12 bits; a 4 097th HIT in one millisecond takes the next one). Ids
 * increase with time, and strictly per instance: a clock that steps back continues from the
 * last id given. Thread-safe: ingest and the sync thread (post-matches) take ids from one
 * generator.
 */
#ifndef ANPR_HITID_H
#define ANPR_HITID_H

#include <stdatomic.h>
#include <stdint.h>

#define HITID_INSTANCE_MAX 1023
#define HITID_EPOCH_US     1767225600000000LL /* 2026-01-01T00:00:00Z */

struct hitid {
    _Atomic uint64_t last;
    unsigned instance;
};

void hitid_init(struct hitid *self, unsigned instance);

/* Ids given from now on are above `id` (the highest this instance stored, at start): a clock
 * set back while anprd was stopped does not give an id twice. Before any hitid_next. */
void hitid_seed(struct hitid *self, uint64_t id);

/* The next id at wall-clock time now_us (µs since 1970). */
uint64_t hitid_next(struct hitid *self, int64_t now_us);

/* The UTC time (µs since 1970) an id was given at, to the millisecond. */
int64_t hitid_time_us(uint64_t id);

#endif
