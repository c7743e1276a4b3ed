#include "backlog.h"

#include <stdlib.h>

#include "batch.h"

struct backlog {
    spool_t *spool;     /* borrowed */
    uint64_t lost_open; /* reads lost to damage found at start */
    uint64_t live_seen; /* damaged stretches met while running, already told */
    struct {            /* where a group ends in the spool, and when it became durable */
        uint64_t pos;
        int64_t mono_us;
    } groups[BACKLOG_GROUPS]; /* a ring, oldest first */
    size_t ngroups, head;
};

backlog_t *backlog_new(spool_t *spool, const struct spool_report *rep, int64_t now_us)
{
    backlog_t *self = calloc(1, sizeof *self);
    struct spool_stats st;

    if (!self)
        return NULL;
    self->spool = spool;
    self->lost_open = rep->damaged_records;
    spool_stats(spool, &st);
    if (st.depth_records > 0)
        backlog_note(self, st.durable_pos, now_us);
    return self;
}

void backlog_destroy(backlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void backlog_note(backlog_t *self, uint64_t pos, int64_t now_us)
{
    if (self->ngroups == BACKLOG_GROUPS) {
        self->groups[(self->head + BACKLOG_GROUPS - 1) % BACKLOG_GROUPS].pos = pos;
        return;
    }
    size_t slot = (self->head + self->ngroups) % BACKLOG_GROUPS;
    self->groups[slot].pos = pos;
    self->groups[slot].mono_us = now_us;
    self->ngroups++;
}

long backlog_remember(backlog_t *self, rid_t *rid, char *why, size_t whylen)
{
    spool_cursor_t *cur =
        spool_cursor_new(self->spool, spool_checkpointed(self->spool), why, whylen);
    const void *data;
    size_t len;
    long n = 0;
    uint64_t pos;

    if (!cur)
        return -1;
    while (spool_read(cur, &data, &len, &pos, NULL, why, whylen) == 1) {
        int32_t cam;
        uint32_t epoch;
        uint64_t seq, digest;
        if (batch_rec_identity(data, len, &cam, &epoch, &seq, &digest) == 1 &&
            rid_check(rid, cam, epoch, seq, digest) == RID_NEW &&
            rid_note(rid, cam, epoch, seq, digest) == 0)
            n++;
    }
    spool_cursor_destroy(&cur);
    return n;
}

void backlog_room(backlog_t *self, struct backlog_room *room)
{
    struct spool_stats st;
    const struct spool_space *sc = &room->space;

    spool_stats(self->spool, &st);
    spool_space(self->spool, &room->space);
    uint64_t per_read =
        st.depth_records > 0 ? st.depth_bytes / st.depth_records : BACKLOG_REC_TYPICAL;
    room->reads = sc->room / (per_read ? per_read : 1);
    room->disk_short = sc->fs_avail != UINT64_MAX && sc->used_bytes + sc->fs_avail < sc->max_bytes;
}

bool backlog_counts(backlog_t *self, const struct writer_counts *wc, uint64_t merged,
                    struct stats *stats, struct spool_stats *ss, int64_t now_us)
{
    bool damage = false;

    spool_stats(self->spool, ss);
    stats->batches = wc->batches;
    stats->batches_slow = wc->slow_batches;
    stats->reads_stored = wc->stored;
    stats->reads_duplicate = wc->duplicate + merged;
    stats->hits_stored = wc->hits_stored;
    stats->reads_refused = wc->refused;
    stats->reads_conflict = wc->conflict;
    stats->db_errors = wc->db_errors;
    stats->db_reconnects = wc->reconnects;
    stats->spool_depth = ss->depth_records;
    stats->spool_depth_bytes = ss->depth_bytes;
    stats->spool_disk_bytes = ss->disk_bytes;
    stats->spool_lost = self->lost_open + ss->live_lost;
    if (ss->live_damage > self->live_seen) {
        self->live_seen = ss->live_damage;
        damage = true;
    }
    uint64_t stored = spool_checkpointed(self->spool);
    while (self->ngroups > 0 && self->groups[self->head].pos <= stored) {
        self->head = (self->head + 1) % BACKLOG_GROUPS;
        self->ngroups--;
    }
    stats->spool_oldest_ms = self->ngroups > 0 && ss->depth_records > 0
                                 ? (now_us - self->groups[self->head].mono_us) / 1000
                                 : 0;
    return damage;
}
