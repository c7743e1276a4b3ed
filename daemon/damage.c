/*
 * damage: the log lines of what spool recovery found (damage.h).
 */
#include "damage.h"

#include <inttypes.h>
#include <stdio.h>

#include "batch.h"
#include "log.h"

/* Runs of lost reads of one camera, read back from damaged bytes (unverified). */
struct s_lost_run {
    int32_t camera_id;
    uint32_t epoch;
    uint64_t first, last; /* the camera's sequence numbers; first 0: no run open */
    size_t lines;         /* lines logged so far */
};

static void s_lost_flush(struct s_lost_run *r)
{
    if (r->first == 0)
        return;
    if (r->lines++ < 32)
        log_error("ingest",
                  "spool: lost reads, as far as the damaged bytes tell (unverified): camera_id "
                  "%" PRId32 " epoch %" PRIu32 " seq %" PRIu64 "..%" PRIu64,
                  r->camera_id, r->epoch, r->first, r->last);
    r->first = 0;
}

static void s_lost_read(void *arg, uint64_t spool_seq, const void *payload, size_t len)
{
    struct s_lost_run *r = arg;
    int32_t cam;
    uint32_t epoch;
    uint64_t seq, digest;

    (void)spool_seq;
    if (batch_rec_identity(payload, len, &cam, &epoch, &seq, &digest) < 0 || seq == 0)
        return;
    if (r->first != 0 && cam == r->camera_id && epoch == r->epoch && seq == r->last + 1) {
        r->last = seq;
        return;
    }
    s_lost_flush(r);
    *r = (struct s_lost_run){
        .camera_id = cam, .epoch = epoch, .first = seq, .last = seq, .lines = r->lines};
}

void damage_log(const char *what, const char *dir, const struct spool_report *rep, const char *unit,
                bool reads)
{
    struct s_lost_run run = {0};

    for (size_t i = 0; i < rep->ndamage && i < SPOOL_DAMAGE_MAX; i++) {
        const struct spool_damage *d = &rep->damage[i];
        char lost[128];
        if (!d->counted)
            snprintf(lost, sizeof lost, "%s lost: unknown", unit);
        else if (d->records == 0)
            snprintf(lost, sizeof lost, "no acknowledged %s lost", unit);
        else
            snprintf(lost, sizeof lost,
                     "%" PRIu64 " %s lost (spool sequence %" PRIu64 "..%" PRIu64 ")", d->records,
                     unit, d->first_seq, d->last_seq);
        log_error("ingest", "%s damaged: %s at offset %" PRIu64 ": %s; %" PRIu64 " bytes%s%s; %s",
                  what, d->file, d->offset, d->reason, d->bytes,
                  d->quarantine[0] ? " set aside in " : "", d->quarantine, lost);
        if (reads && d->quarantine[0] && d->counted && d->records > 0) {
            char path[1024], why[1200];
            snprintf(path, sizeof path, "%s/%s", dir, d->quarantine);
            if (spool_quarantine_walk(path, s_lost_read, &run, why, sizeof why) < 0)
                log_warn("ingest", "%s", why);
        }
    }
    s_lost_flush(&run);
    if (run.lines > 32)
        log_error("ingest", "spool: %zu more runs of lost reads (see the quarantine files)",
                  run.lines - 32);
    if (rep->ndamage > SPOOL_DAMAGE_MAX)
        log_error("ingest", "%s damaged in %zu more places", what, rep->ndamage - SPOOL_DAMAGE_MAX);
    if (rep->ndamage > 0)
        log_error("ingest",
                  "%s: %" PRIu64 " acknowledged %s lost to damage%s%s; every valid record before "
                  "and after the damage is kept",
                  what, rep->damaged_records, unit,
                  rep->uncounted ? " (and an unknown number where nothing after the damage "
                                   "tells)"
                                 : "",
                  rep->repaired ? "" : " (not repaired)");
}
