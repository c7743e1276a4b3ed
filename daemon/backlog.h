/*
 * backlog: the reads ingest acknowledged from its write-ahead spool (spool.dir) that the writer
 * has not stored yet, as ingest sees them (docs/SPOOL.md, docs/DESIGN.md "Acknowledged once
 * durable"). In spool mode the writer, not ingest, counts what reaches the database, and the
 * spool, not a batch, says what waits: backlog puts the two together in ingest's counters.
 *
 * - How old the oldest read not stored is: ingest notes where each group it committed ends
 *   (backlog_note) and when; the writer's checkpoint lets go of the groups it has passed. The
 *   ring keeps BACKLOG_GROUPS marks; a full one (a long database outage) moves its newest mark
 *   on instead of dropping its oldest, so the oldest age stays right and only the reads after it
 *   look older than they are.
 * - At start, the identities of the backlog (backlog_remember): those reads were acknowledged,
 *   so a resend or a conflict after a restart is judged at once, as before it.
 * - At start, the room left (backlog_room): the lesser of spool.max_mb and the free space of the
 *   filesystem, over the size of the reads in it (of a typical read when it is empty).
 *
 * The spool is borrowed (ingest owns it and outlives this). Ingest's thread only. It never
 * logs: ingest writes the lines from what it returns.
 */
#ifndef ANPR_BACKLOG_H
#define ANPR_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rid.h"
#include "spool.h"
#include "stats.h"
#include "writer.h"

#define BACKLOG_GROUPS      256 /* group marks kept for the oldest read's age */
#define BACKLOG_REC_TYPICAL 300 /* bytes of a read's spool record, when the spool is empty */

typedef struct backlog backlog_t;

/* spool just opened (borrowed), rep what its opening found: the reads lost to damage then are
 * counted as lost from now on, and a backlog from before the start is taken as at least as old
 * as now_us (monotonic). NULL on out of memory. */
backlog_t *backlog_new(spool_t *spool, const struct spool_report *rep, int64_t now_us);
/* Safe on NULL and twice; sets *self_p to NULL. */
void backlog_destroy(backlog_t **self_p);

/* The spool is durable up to pos since now_us (monotonic): a group was committed. */
void backlog_note(backlog_t *self, uint64_t pos, int64_t now_us);

/* Remember in rid the identities of the reads in the spool not yet stored (those written before
 * digests were kept are left to the writer). How many were new, or -1 with why filled. */
long backlog_remember(backlog_t *self, rid_t *rid, char *why, size_t whylen);

/* What the spool can still take, at start. */
struct backlog_room {
    uint64_t reads;           /* about this many more reads */
    struct spool_space space; /* from spool_space */
    bool disk_short;          /* its filesystem holds less than spool.max_mb */
};
void backlog_room(backlog_t *self, struct backlog_room *room);

/*
 * Spool mode's counters into stats: the writer's (wc), the resends ingest answered with their
 * first copy's ACK (merged, counted as duplicates), and the spool's depth, disk use, reads lost
 * and the oldest read's age at now_us. True when the spool met damage while running since the
 * last call: *ss (filled always) says how much so far, for the caller to say.
 */
bool backlog_counts(backlog_t *self, const struct writer_counts *wc, uint64_t merged,
                    struct stats *stats, struct spool_stats *ss, int64_t now_us);

#endif
