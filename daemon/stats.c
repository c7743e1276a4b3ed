#include "stats.h"

#include <inttypes.h>
#include <stdio.h>

#include "log.h"

uint64_t stats_rejected(const struct stats *s)
{
    uint64_t n = 0;

    for (int i = 1; i < PROTO_REASON_COUNT; i++)
        n += s->rejects[i];
    return n;
}

void stats_log(const struct stats *s)
{
    char rej[512];
    size_t off = 0;

    rej[0] = '\0';
    for (int i = 1; i < PROTO_REASON_COUNT && off < sizeof rej; i++) {
        if (s->rejects[i] == 0)
            continue;
        int n = snprintf(rej + off, sizeof rej - off, " %s=%" PRIu64,
                         proto_reason_name((enum proto_reason)i), s->rejects[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    log_info("stats",
             "frames=%" PRIu64 " accepted=%" PRIu64 " stored=%" PRIu64 " duplicate=%" PRIu64
             " acked=%" PRIu64 " pending=%" PRIu64 " hits=%" PRIu64 " post_match=%" PRIu64
             " reannounced=%" PRIu64 " suppressed=%" PRIu64 " seen=%" PRIu64 " hits_stored=%" PRIu64
             " batches=%" PRIu64 " slow_batches=%" PRIu64 " db_errors=%" PRIu64
             " reconnects=%" PRIu64 " watchlist=%" PRIu64 " watchlist_version=%" PRId64
             " rejected=%" PRIu64 "%s",
             s->frames, s->reads_accepted, s->reads_stored, s->reads_duplicate, s->reads_acked,
             s->pending, s->hits, s->hits_post, s->hits_reannounced, s->hits_suppressed,
             s->hits_seen, s->hits_stored, s->batches, s->batches_slow, s->db_errors,
             s->db_reconnects, s->watchlist_entries, s->watchlist_version, stats_rejected(s), rej);
    if (s->reads_spooled || s->spool_depth || s->spool_full || s->spool_errors || s->spool_lost)
        log_info("stats",
                 "spool: spooled=%" PRIu64 " depth=%" PRIu64 " depth_bytes=%" PRIu64
                 " oldest_age_ms=%" PRId64 " full=%" PRIu64 " errors=%" PRIu64
                 " refused_after_ack=%" PRIu64 " conflict_after_ack=%" PRIu64 " lost=%" PRIu64,
                 s->reads_spooled, s->spool_depth, s->spool_depth_bytes, s->spool_oldest_ms,
                 s->spool_full, s->spool_errors, s->reads_refused, s->reads_conflict,
                 s->spool_lost);
}
