/*
 * test_backlog: ingest's view of its write-ahead spool, on a real spool in a scratch folder.
 * The identities of the reads not yet stored are remembered once, a resend's not twice; the
 * counters take the writer's and the spool's; the oldest read's age runs from the first group
 * not checkpointed and stops once the writer is past it; a full ring keeps its oldest mark; a
 * backlog found at start is as old as the start; the room is the room over a read's size.
 */
#include "backlog.h"

#include "check.h"

#include <ftw.h>
#include <stdlib.h>

#include "batch.h"

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Read seq of camera 42 into the spool as ingest writes it (batch_rec_encode); its position. */
static uint64_t s_append(spool_t *sp, uint32_t epoch, uint64_t seq)
{
    struct batch *b = batch_new();
    struct proto_read r;
    uint8_t rec[8192];
    uint64_t pos = 0;

    memset(&r, 0, sizeof r);
    snprintf(r.camera, sizeof r.camera, "CAM-1");
    snprintf(r.plate, sizeof r.plate, "1ABC123");
    snprintf(r.country, sizeof r.country, "BE");
    r.seq = seq;
    r.epoch = epoch;
    r.time_us = 1764400000000000LL + (int64_t)seq;
    CHECK_INT(batch_add(b, &r, 1000 + seq, 42, "1ABC123", r.time_us, (const uint8_t *)"rd", 2, NULL,
                        NULL, NULL, 0),
              0);
    size_t len = batch_rec_encode(b, 0, rec, sizeof rec);
    CHECK(len > 0);
    CHECK_INT(spool_append(sp, rec, len, &pos), SPOOL_OK);
    batch_destroy(&b);
    return pos;
}

/* Commit what was appended; the durable position. */
static uint64_t s_commit(spool_t *sp)
{
    char err[256];
    uint64_t durable = 0;

    CHECK_INT(spool_commit(sp, &durable, err, sizeof err), SPOOL_OK);
    return durable;
}

int main(void)
{
    char dir[64], err[256];
    struct spool_opts opts = {.max_bytes = 4 << 20, .unsafe_no_sync = true};
    struct spool_report rep;
    struct spool_stats ss;
    struct stats st;
    struct writer_counts wc;
    struct backlog_room room;

    snprintf(dir, sizeof dir, "/tmp/test_backlog.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    memset(&st, 0, sizeof st);
    memset(&wc, 0, sizeof wc);
    spool_t *sp = spool_open(dir, &opts, &rep, err, sizeof err);
    CHECK(sp != NULL);
    backlog_t *bl = backlog_new(sp, &rep, 1000000);
    CHECK(bl != NULL);

    /* Empty: nothing waits, no age; room for a typical read's size. */
    CHECK(!backlog_counts(bl, &wc, 0, &st, &ss, 2000000));
    CHECK_INT(st.spool_depth, 0);
    CHECK_INT(st.spool_oldest_ms, 0);
    backlog_room(bl, &room);
    CHECK(room.space.room > 0);
    CHECK_INT(room.reads, room.space.room / BACKLOG_REC_TYPICAL);

    /* Two groups: reads 1-2 at 10 s, read 3 (epoch 5) at 11 s. */
    s_append(sp, 0, 1);
    s_append(sp, 0, 2);
    uint64_t g1 = s_commit(sp);
    backlog_note(bl, g1, 10000000);
    s_append(sp, 5, 3);
    uint64_t g2 = s_commit(sp);
    backlog_note(bl, g2, 11000000);
    CHECK(g2 > g1);

    /* The writer's counters, the resends answered with their first copy (duplicates). */
    wc.batches = 4;
    wc.stored = 7;
    wc.duplicate = 2;
    wc.refused = 1;
    wc.conflict = 1;
    CHECK(!backlog_counts(bl, &wc, 3, &st, &ss, 12500000));
    CHECK_INT(st.batches, 4);
    CHECK_INT(st.reads_stored, 7);
    CHECK_INT(st.reads_duplicate, 5);
    CHECK_INT(st.reads_refused, 1);
    CHECK_INT(st.reads_conflict, 1);
    CHECK_INT(st.spool_depth, 3);
    CHECK_INT(ss.depth_records, 3);
    CHECK(st.spool_depth_bytes > 0 && st.spool_disk_bytes > 0);
    CHECK_INT(st.spool_oldest_ms, 2500);
    CHECK_INT(st.spool_lost, 0);

    /* Room: what is left over the size of the reads in it. */
    backlog_room(bl, &room);
    CHECK_INT(room.reads, room.space.room / (ss.depth_bytes / ss.depth_records));

    /* Their identities, once; a read the table knows already is not counted again. */
    rid_t *rid = rid_new(1024);
    CHECK_INT(rid_note(rid, 42, 0, 2, 1002), 0);
    CHECK_INT(backlog_remember(bl, rid, err, sizeof err), 2);
    CHECK_INT(rid_check(rid, 42, 0, 1, 1001), RID_SAME);
    CHECK_INT(rid_check(rid, 42, 5, 3, 1003), RID_SAME);
    CHECK_INT(rid_check(rid, 42, 5, 3, 9), RID_OTHER);
    CHECK_INT(backlog_remember(bl, rid, err, sizeof err), 0);

    /* The writer past the first group: the age runs from the second. */
    CHECK_INT(spool_checkpoint(sp, g1, err, sizeof err), SPOOL_OK);
    backlog_counts(bl, &wc, 0, &st, &ss, 12500000);
    CHECK_INT(st.spool_depth, 1);
    CHECK_INT(st.spool_oldest_ms, 1500);
    /* Stored remembers only what is left. */
    rid_destroy(&rid);
    rid = rid_new(1024);
    CHECK_INT(backlog_remember(bl, rid, err, sizeof err), 1);
    CHECK_INT(rid_check(rid, 42, 0, 1, 1001), RID_NEW);

    /* Past both: no age. */
    CHECK_INT(spool_checkpoint(sp, g2, err, sizeof err), SPOOL_OK);
    backlog_counts(bl, &wc, 0, &st, &ss, 13000000);
    CHECK_INT(st.spool_depth, 0);
    CHECK_INT(st.spool_oldest_ms, 0);

    /* More groups than the ring holds: the oldest mark stays, the newest moves on; the age
     * stays right until the writer is past the last mark's end. */
    uint64_t first = 0, last = 0;
    for (int i = 0; i < BACKLOG_GROUPS + 10; i++) {
        s_append(sp, 0, 100 + (uint64_t)i);
        last = s_commit(sp);
        if (i == 0)
            first = last;
        backlog_note(bl, last, 20000000 + (int64_t)i * 1000);
    }
    backlog_counts(bl, &wc, 0, &st, &ss, 30000000);
    CHECK_INT(st.spool_depth, BACKLOG_GROUPS + 10);
    CHECK_INT(st.spool_oldest_ms, 10000);
    CHECK_INT(spool_checkpoint(sp, first, err, sizeof err), SPOOL_OK);
    backlog_counts(bl, &wc, 0, &st, &ss, 30000000);
    CHECK_INT(st.spool_oldest_ms, 9999);
    backlog_destroy(&bl);
    backlog_destroy(&bl);
    CHECK(bl == NULL);
    spool_destroy(&sp);

    /* A restart with a backlog: it is as old as the start, and its reads are remembered. */
    sp = spool_open(dir, &opts, &rep, err, sizeof err);
    CHECK(sp != NULL);
    bl = backlog_new(sp, &rep, 50000000);
    backlog_counts(bl, &wc, 0, &st, &ss, 51000000);
    CHECK_INT(st.spool_depth, BACKLOG_GROUPS + 9);
    CHECK_INT(st.spool_oldest_ms, 1000);
    rid_destroy(&rid);
    rid = rid_new(1024);
    CHECK_INT(backlog_remember(bl, rid, err, sizeof err), BACKLOG_GROUPS + 9);

    rid_destroy(&rid);
    backlog_destroy(&bl);
    spool_destroy(&sp);
    nftw(dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_done("test_backlog");
}
