/*
 * test_spool: the durable spool on real files. Crashes are real (a child killed with SIGKILL)
 * or made by cutting and flipping bytes of real segment files; a full disk is a real small
 * tmpfs (EFBIG from RLIMIT_FSIZE where mounting is not allowed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "spool.h"

#define S_MAXREC 4096

static char s_root[64]; /* this run's scratch directory */

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void s_rmrf(const char *path)
{
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void s_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", s_root, name);
}

/* Record i's payload: its index in the first 8 bytes, then a pattern of i. */
static size_t s_len(uint64_t i)
{
    return 20 + (size_t)(i * 37 % 280);
}

static void s_fill(uint64_t i, size_t len, uint8_t *buf)
{
    memcpy(buf, &i, sizeof i);
    for (size_t j = sizeof i; j < len; j++)
        buf[j] = (uint8_t)(i * 131 + j * 7);
}

static int s_append(spool_t *sp, uint64_t i, size_t len, uint64_t *pos)
{
    uint8_t buf[S_MAXREC];
    s_fill(i, len, buf);
    return spool_append(sp, buf, len, pos);
}

/*
 * Reads every record after `from`; stores indexes and positions (up to max). Counts records
 * whose bytes are not what s_fill made, or whose positions do not grow, into *bad.
 */
static size_t s_read_all(spool_t *sp, uint64_t from, uint64_t *idx, uint64_t *pos, size_t max,
                         int *bad)
{
    char err[512] = "";
    spool_cursor_t *c = spool_cursor_new(sp, from, err, sizeof err);
    size_t n = 0;
    uint64_t last = from;
    const void *data;
    size_t len;
    uint64_t p;
    uint8_t want[S_MAXREC];
    int rc;

    *bad = 0;
    if (!c)
        return 0;
    while ((rc = spool_read(c, &data, &len, &p, NULL, err, sizeof err)) == 1) {
        uint64_t i = UINT64_MAX;
        if (len >= 8)
            memcpy(&i, data, 8);
        if (len < 8 || len > S_MAXREC || p <= last) {
            (*bad)++;
        } else {
            s_fill(i, len, want);
            *bad += memcmp(want, data, len) != 0;
        }
        last = p;
        if (n < max) {
            if (idx)
                idx[n] = i;
            if (pos)
                pos[n] = p;
        }
        n++;
    }
    if (rc < 0) {
        fprintf(stderr, "read: %s\n", err);
        (*bad)++;
    }
    spool_cursor_destroy(&c);
    return n;
}

static int s_count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strlen(e->d_name) == 24 && strstr(e->d_name, ".seg") != NULL;
    closedir(d);
    return n;
}

/* The name of the first (lowest) segment file, or of the last one. */
static int s_segment_name(const char *dir, bool last, char *out, size_t len)
{
    DIR *d = opendir(dir);
    int found = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (strlen(e->d_name) != 24 || !strstr(e->d_name, ".seg"))
            continue;
        if (!found || (last ? strcmp(e->d_name, out) > 0 : strcmp(e->d_name, out) < 0))
            snprintf(out, len, "%s", e->d_name);
        found = 1;
    }
    closedir(d);
    return found ? 0 : -1;
}

static int s_copy_dir(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    char a[512], b[512], buf[65536];
    if (!d || mkdir(dst, 0700) < 0) {
        if (d)
            closedir(d);
        return -1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
        int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                break;
        if (in >= 0)
            close(in);
        if (out >= 0)
            close(out);
    }
    closedir(d);
    return 0;
}

static off_t s_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* 1. Append, commit, reopen, checkpoint, resume; segments consumed are removed. */
static void s_test_roundtrip(void)
{
    enum { N = 250 };
    char dir[256], err[512] = "";
    struct spool_opts o = {.segment_bytes = 4096, .max_bytes = UINT64_MAX};
    struct spool_report rep;
    static uint64_t pos[N], idx[N + 10], rpos[N + 10];
    int bad;

    s_path(dir, sizeof dir, "roundtrip");
    spool_t *sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_INT(rep.ndamage, 0);
    CHECK_INT(spool_durable(sp), 0);

    uint64_t durable = 0, prev = 0;
    int mono = 1;
    for (uint64_t i = 0; i < 200; i++) {
        CHECK_INT(s_append(sp, i, s_len(i), &pos[i]), SPOOL_OK);
        mono &= pos[i] > prev;
        prev = pos[i];
        if (i % 17 == 16) {
            CHECK_INT(spool_commit(sp, &durable, err, sizeof err), SPOOL_OK);
            CHECK_INT(durable, pos[i]);
        }
    }
    CHECK(mono);
    /* Not committed yet: not durable, and not visible. */
    CHECK(spool_durable(sp) < pos[199]);
    CHECK_INT(s_read_all(sp, 0, idx, rpos, N, &bad), 187);
    CHECK_INT(spool_commit(sp, &durable, err, sizeof err), SPOOL_OK);
    CHECK_INT(durable, pos[199]);

    size_t n = s_read_all(sp, 0, idx, rpos, N, &bad);
    CHECK_INT(n, 200);
    CHECK_INT(bad, 0);
    int same = 1;
    for (size_t i = 0; i < n && i < 200; i++)
        same &= idx[i] == i && rpos[i] == pos[i];
    CHECK(same);
    CHECK(s_count_segments(dir) > 3); /* records span several 4 KiB segments */

    /* Too big for a segment: refused, nothing taken. */
    static uint8_t big[8192];
    uint64_t p;
    errno = 0;
    CHECK_INT(spool_append(sp, big, sizeof big, &p), SPOOL_ERR);
    CHECK_INT(errno, EMSGSIZE);
    spool_destroy(&sp);
    spool_destroy(&sp);
    CHECK(sp == NULL);

    /* Reopen: same records; new ones get higher positions. */
    sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    CHECK_INT(rep.ndamage, 0);
    CHECK_INT(rep.records, 200);
    CHECK_INT(spool_durable(sp), pos[199]);
    n = s_read_all(sp, 0, idx, rpos, N, &bad);
    CHECK_INT(n, 200);
    CHECK_INT(bad, 0);
    mono = 1;
    for (uint64_t i = 200; i < N; i++) {
        CHECK_INT(s_append(sp, i, s_len(i), &pos[i]), SPOOL_OK);
        mono &= pos[i] > pos[i - 1];
    }
    CHECK(mono);
    CHECK_INT(spool_commit(sp, &durable, err, sizeof err), SPOOL_OK);
    n = s_read_all(sp, 0, idx, rpos, N + 10, &bad);
    CHECK_INT(n, N);
    CHECK_INT(bad, 0);
    same = 1;
    for (size_t i = 0; i < n && i < N; i++)
        same &= idx[i] == i && rpos[i] == pos[i];
    CHECK(same);

    /* Checkpoint after record 99, where the cursor last stopped (its fast path). */
    spool_cursor_t *c = spool_cursor_new(sp, 0, err, sizeof err);
    const void *data;
    size_t len;
    uint64_t seq = 0;
    for (int i = 0; i < 100; i++)
        CHECK_INT(spool_read(c, &data, &len, &p, &seq, err, sizeof err), 1);
    spool_cursor_destroy(&c);
    CHECK_INT(p, pos[99]);
    CHECK_INT(seq, 100); /* sequence numbers count from 1 */
    int segs_before = s_count_segments(dir);
    CHECK_INT(spool_checkpoint(sp, pos[99], err, sizeof err), SPOOL_OK);
    CHECK_INT(spool_checkpointed(sp), pos[99]);
    CHECK(s_count_segments(dir) < segs_before);
    /* No file left whose records are all consumed. */
    char first[64] = "", path[512];
    CHECK_INT(s_segment_name(dir, false, first, sizeof first), 0);
    snprintf(path, sizeof path, "%s/%s", dir, first);
    CHECK((uint64_t)strtoull(first, NULL, 10) + (uint64_t)s_file_size(path) > pos[99]);
    struct spool_stats st;
    spool_stats(sp, &st);
    CHECK_INT(st.depth_records, N - 100);
    CHECK_INT(st.checkpoint_seq, 100);
    /* A position that is no record's end is refused. */
    CHECK_INT(spool_checkpoint(sp, pos[120] - 1, err, sizeof err), SPOOL_ERR);
    CHECK_CONTAINS(err, "not a record position");
    CHECK_INT(spool_checkpoint(sp, pos[N - 1] + 1, err, sizeof err), SPOOL_ERR);
    spool_destroy(&sp);

    /* Reopen: resumes after the checkpoint. A checkpoint no cursor led to is looked up. */
    sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    CHECK_INT(spool_checkpointed(sp), pos[99]);
    n = s_read_all(sp, spool_checkpointed(sp), idx, rpos, N, &bad);
    CHECK_INT(n, N - 100);
    CHECK_INT(bad, 0);
    CHECK_INT(idx[0], 100);
    spool_stats(sp, &st);
    CHECK_INT(st.depth_records, N - 100);
    CHECK_INT(spool_checkpoint(sp, pos[199], err, sizeof err), SPOOL_OK);
    spool_stats(sp, &st);
    CHECK_INT(st.checkpoint_seq, 200);
    CHECK_INT(st.depth_records, N - 200);
    spool_destroy(&sp);
    sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    n = s_read_all(sp, spool_checkpointed(sp), idx, rpos, N, &bad);
    CHECK_INT(n, N - 200);
    CHECK_INT(idx[0], 200);
    spool_destroy(&sp);
}

/*
 * Opens a damaged copy, checks what recovery kept, reported (one damaged stretch at dmg_off of
 * dmg_bytes in segname, `lost` records counted) and set aside, then appends after it. A
 * read-only open of a copy first must report the same figures. At the reopen nothing is
 * damaged any more; `gaps` sequence gaps are known from the repair.
 */
static void s_check_recovery(const char *dir, const char *segname, uint64_t dmg_off,
                             uint64_t dmg_bytes, uint64_t lost, size_t keep,
                             const uint64_t *want_idx, uint64_t gaps)
{
    char err[512] = "", copy[300], qpath[512];
    struct spool_opts o = {.segment_bytes = 4096, .max_bytes = UINT64_MAX};
    struct spool_opts ro = o;
    struct spool_report rep, rorep;
    static uint64_t idx[512], rpos[512];
    int bad;

    ro.read_only = true;
    snprintf(copy, sizeof copy, "%s-ro", dir);
    s_rmrf(copy);
    CHECK_INT(s_copy_dir(dir, copy), 0);
    spool_t *sp = spool_open(copy, &ro, &rorep, err, sizeof err);
    CHECK(sp != NULL);
    spool_destroy(&sp);
    s_rmrf(copy);

    sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    CHECK_INT(rep.ndamage, 1);
    CHECK_INT(rep.seq_gaps, 0); /* the damage is the one report of what went missing */
    CHECK_INT(rep.damaged_records, lost);
    CHECK_INT(rep.uncounted, 0);
    CHECK_INT(rorep.ndamage, rep.ndamage);
    CHECK_INT(rorep.damaged_records, rep.damaged_records);
    CHECK_INT(rorep.dropped_bytes, rep.dropped_bytes);
    CHECK_INT(rorep.records, rep.records);
    CHECK(!rorep.repaired);
    if (rep.ndamage > 0) {
        const struct spool_damage *d = &rep.damage[0];
        CHECK_CONTAINS(d->file, segname);
        CHECK_INT(d->offset, dmg_off);
        CHECK_INT(d->bytes, dmg_bytes);
        CHECK(d->counted);
        CHECK_INT(d->records, lost);
        CHECK(rep.repaired);
        CHECK_INT(rorep.damage[0].records, lost);
        CHECK_INT(rorep.damage[0].first_seq, d->first_seq);
        CHECK_INT(rorep.damage[0].offset, dmg_off);
        if (lost > 0)
            CHECK_INT(d->last_seq - d->first_seq + 1, lost);
        /* The damaged bytes are set aside, whole. */
        if (dmg_bytes > 0) {
            snprintf(qpath, sizeof qpath, "%s/%s", dir, d->quarantine);
            CHECK(d->quarantine[0] != '\0');
            CHECK_INT(s_file_size(qpath), (off_t)dmg_bytes);
        } else {
            CHECK_INT(d->quarantine[0], '\0');
        }
    }
    size_t n = s_read_all(sp, 0, idx, rpos, 512, &bad);
    CHECK_INT(n, keep);
    CHECK_INT(bad, 0);
    int same = 1;
    for (size_t i = 0; i < n && i < keep; i++)
        same &= idx[i] == want_idx[i];
    CHECK(same);
    uint64_t p, d;
    CHECK_INT(s_append(sp, 1000, 50, &p), SPOOL_OK);
    CHECK(p > (n ? rpos[n - 1] : 0));
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    spool_destroy(&sp);

    sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    CHECK_INT(rep.ndamage, 0);
    CHECK_INT(rep.damaged_records, 0);
    CHECK_INT(rep.seq_gaps, gaps);
    n = s_read_all(sp, 0, idx, rpos, 512, &bad);
    CHECK_INT(n, keep + 1);
    CHECK_INT(bad, 0);
    CHECK_INT(idx[keep], 1000);
    CHECK_INT(rpos[keep], p);
    spool_destroy(&sp);
}

/* What spool_quarantine_walk gave: the last payload's sequence number, index and length. */
struct s_walked {
    uint64_t seq, idx;
    size_t len;
};

static void s_walk_one(void *arg, uint64_t seq, const void *payload, size_t len)
{
    struct s_walked *w = arg;
    w->seq = seq;
    w->len = len;
    if (len >= 8)
        memcpy(&w->idx, payload, 8);
}

static void s_flip(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    uint8_t b = 0;
    CHECK_INT(pread(fd, &b, 1, (off_t)off), 1);
    b ^= mask;
    CHECK_INT(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* 2. A crash mid-write: the last record cut at every offset; bytes flipped here and there. */
static void s_test_torn(void)
{
    enum { N = 30, LEN = 100, MID = 90 };
    char src[256], work[256], seg[64] = "", path[512], err[512] = "";
    struct spool_opts o = {.segment_bytes = 4096, .max_bytes = UINT64_MAX};
    static uint64_t want[MID], pos[MID];
    uint64_t d;

    for (int i = 0; i < MID; i++)
        want[i] = (uint64_t)i;
    /* One segment: 40 + 30 * (16 + 100) bytes < 4096. */
    s_path(src, sizeof src, "torn-src");
    spool_t *sp = spool_open(src, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    for (uint64_t i = 0; i < N; i++)
        s_append(sp, i, LEN, &pos[i]);
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    spool_destroy(&sp);
    CHECK_INT(s_segment_name(src, true, seg, sizeof seg), 0);
    snprintf(path, sizeof path, "%s/%s", src, seg);
    uint64_t size = (uint64_t)s_file_size(path);
    uint64_t last_start = size - (16 + LEN);
    CHECK_INT(size, 40 + N * (16 + LEN));

    /* Cut at every offset of the last record, its start included (a cut at a record boundary:
     * the durable mark knows the record was there). The mark says it was durable: 1 lost. */
    int before = check_failed;
    for (uint64_t t = last_start; t < size; t++) {
        s_path(work, sizeof work, "torn-work");
        s_rmrf(work);
        s_copy_dir(src, work);
        snprintf(path, sizeof path, "%s/%s", work, seg);
        CHECK_INT(truncate(path, (off_t)t), 0);
        s_check_recovery(work, seg, last_start, t - last_start, 1, N - 1, want, 0);
        if (check_failed > before + 5)
            break; /* one broken offset says enough */
    }

    /* A torn write that was never durable (the mark is older): reported, nothing lost. */
    s_path(work, sizeof work, "torn-work");
    s_rmrf(work);
    s_copy_dir(src, work);
    snprintf(path, sizeof path, "%s/%s", work, seg);
    {
        struct spool_report rep;
        sp = spool_open(work, &o, NULL, err, sizeof err);
        CHECK(sp != NULL);
        uint64_t p2;
        CHECK_INT(s_append(sp, 500, LEN, &p2), SPOOL_OK);
        CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
        spool_destroy(&sp);
        char last[64] = "", lp[512], mp[512];
        CHECK_INT(s_segment_name(work, true, last, sizeof last), 0);
        snprintf(lp, sizeof lp, "%s/%s", work, last);
        snprintf(mp, sizeof mp, "%s/durable", work);
        /* the mark as it was before that commit: the commit's record was never acknowledged */
        char msrc[512];
        snprintf(msrc, sizeof msrc, "%s/durable", src);
        int in = open(msrc, O_RDONLY), out = open(mp, O_WRONLY | O_TRUNC);
        uint8_t mb[64];
        ssize_t mn = read(in, mb, sizeof mb);
        CHECK_INT(mn, 36);
        CHECK_INT(write(out, mb, (size_t)mn), mn);
        close(in);
        close(out);
        CHECK_INT(truncate(lp, s_file_size(lp) - 7), 0);
        sp = spool_open(work, &o, &rep, err, sizeof err);
        CHECK(sp != NULL);
        CHECK_INT(rep.ndamage, 1);
        CHECK(rep.damage[0].counted);
        CHECK_INT(rep.damaged_records, 0);
        spool_destroy(&sp);
    }

    /* A bit flipped in record 10: in its length, sequence number, checksum and payload. Record
     * 10 is set aside, every record after it kept. */
    static uint64_t but10[N];
    for (int i = 0, k = 0; i < N; i++)
        if (i != 10)
            but10[k++] = (uint64_t)i;
    uint64_t rec10 = 40 + 10 * (16 + LEN);
    const int flips[] = {0, 3, 5, 13, 16, 60, 115};
    for (size_t f = 0; f < sizeof flips / sizeof flips[0]; f++) {
        s_path(work, sizeof work, "torn-work");
        s_rmrf(work);
        s_copy_dir(src, work);
        snprintf(path, sizeof path, "%s/%s", work, seg);
        s_flip(path, rec10 + (uint64_t)flips[f], 0x5A);
        s_check_recovery(work, seg, rec10, 16 + LEN, 1, N - 1, but10, 1);
        /* The bytes set aside read back as one record; past its header, as it was. */
        char qpath[600];
        struct s_walked w = {0};
        snprintf(qpath, sizeof qpath, "%s/quarantine-%.20s-%" PRIu64 ".bin", work, seg, rec10);
        CHECK_INT(spool_quarantine_walk(qpath, s_walk_one, &w, err, sizeof err), 1);
        CHECK_INT(w.len, LEN);
        if (flips[f] > 16) {
            CHECK_INT(w.seq, 11);
            CHECK_INT(w.idx, 10);
        }
    }
    /* The length's high byte: the record seems to run past the file's end. */
    s_path(work, sizeof work, "torn-work");
    s_rmrf(work);
    s_copy_dir(src, work);
    snprintf(path, sizeof path, "%s/%s", work, seg);
    s_flip(path, rec10 + 1, 0x80);
    s_check_recovery(work, seg, rec10, 16 + LEN, 1, N - 1, but10, 1);

    /* A flip in the middle of an older segment: record 5 set aside, everything else kept. */
    s_path(src, sizeof src, "torn-mid");
    sp = spool_open(src, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    for (uint64_t i = 0; i < MID; i++)
        s_append(sp, i, LEN, &pos[i]);
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    spool_destroy(&sp);
    CHECK_INT(s_segment_name(src, false, seg, sizeof seg), 0);
    CHECK(s_count_segments(src) >= 3);
    snprintf(path, sizeof path, "%s/%s", src, seg);
    uint64_t seg1 = (uint64_t)s_file_size(path); /* the next segment starts at this position */
    size_t in_seg1 = 0;
    while (in_seg1 < MID && pos[in_seg1] <= seg1)
        in_seg1++;
    static uint64_t keep[MID];
    size_t nkeep = 0;
    for (size_t i = 0; i < MID; i++)
        if (i != 5)
            keep[nkeep++] = i;
    uint64_t rec5 = 40 + 5 * (16 + LEN);
    s_path(work, sizeof work, "torn-mid-work");
    s_rmrf(work);
    s_copy_dir(src, work);
    snprintf(path, sizeof path, "%s/%s", work, seg);
    s_flip(path, rec5 + 30, 1);
    s_check_recovery(work, seg, rec5, 16 + LEN, 1, nkeep, keep, 1);

    /* A flip in that segment's header: the header is set aside and rebuilt, no record lost. */
    s_rmrf(work);
    s_copy_dir(src, work);
    s_flip(path, 20, 4);
    for (size_t i = 0; i < MID; i++)
        keep[i] = i;
    s_check_recovery(work, seg, 0, 40, 0, MID, keep, 0);
    /* ...and in its magic, with record 0 damaged too: records 1.. kept, record 0 lost. */
    s_rmrf(work);
    s_copy_dir(src, work);
    s_flip(path, 0, 0xFF);
    s_flip(path, 40 + 50, 1);
    {
        struct spool_report rep;
        sp = spool_open(work, &o, &rep, err, sizeof err);
        CHECK(sp != NULL);
        CHECK_INT(rep.ndamage, 2);
        CHECK_INT(rep.damaged_records, 1);
        CHECK_INT(rep.damage[1].offset, 40);
        CHECK_INT(rep.damage[1].bytes, 16 + LEN);
        static uint64_t idx[MID], rp[MID];
        int bad;
        CHECK_INT(s_read_all(sp, 0, idx, rp, MID, &bad), MID - 1);
        CHECK_INT(bad, 0);
        CHECK_INT(idx[0], 1);
        spool_destroy(&sp);
    }

    /* The first segment cut at a record boundary, two records short: the next segment's first
     * sequence number tells; a filler marks the gap so it is reported once. */
    s_rmrf(work);
    s_copy_dir(src, work);
    uint64_t seg1_len = (uint64_t)s_file_size(path);
    CHECK_INT(truncate(path, (off_t)(seg1_len - 2 * (16 + LEN))), 0);
    nkeep = 0;
    for (size_t i = 0; i < MID; i++)
        if (i + 2 != in_seg1 && i + 1 != in_seg1)
            keep[nkeep++] = i;
    s_check_recovery(work, seg, seg1_len - 2 * (16 + LEN), 0, 2, nkeep, keep, 1);
    snprintf(path, sizeof path, "%s/%s", src, seg);

    /* Read-only inspection reports damage and changes nothing. */
    int fd = open(path, O_RDWR);
    CHECK_INT(pwrite(fd, "X", 1, 40 + 2 * (16 + LEN) + 20), 1);
    close(fd);
    off_t sz = s_file_size(path);
    struct spool_opts ro = o;
    struct spool_report rep;
    ro.read_only = true;
    sp = spool_open(src, &ro, &rep, err, sizeof err);
    CHECK(sp != NULL);
    CHECK_INT(rep.ndamage, 1);
    CHECK(!rep.repaired);
    CHECK_INT(s_file_size(path), sz);
    uint64_t p;
    CHECK_INT(spool_append(sp, "x", 1, &p), SPOOL_ERR);
    spool_destroy(&sp);
}

/* 3. A child appending and committing in a loop is killed: what it was told is durable is. */
static void s_test_kill(void)
{
    char dir[256], err[512] = "";
    struct spool_opts o = {.segment_bytes = 64 << 10, .max_bytes = UINT64_MAX};
    int pfd[2];
    struct report {
        uint64_t durable, count;
    } r, last = {0, 0};
    size_t reports = 0;

    s_path(dir, sizeof dir, "kill");
    CHECK_INT(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        spool_t *sp = spool_open(dir, &o, NULL, err, sizeof err);
        if (!sp)
            _exit(2);
        uint64_t i = 0, p, d;
        for (;;) {
            uint64_t n = 1 + i % 23;
            for (uint64_t k = 0; k < n; k++, i++)
                s_append(sp, i, s_len(i), &p);
            if (spool_commit(sp, &d, err, sizeof err) != SPOOL_OK || d != p)
                _exit(3);
            struct report rr = {d, i};
            if (write(pfd[1], &rr, sizeof rr) != sizeof rr)
                _exit(4);
        }
    }
    close(pfd[1]);
    /* Let it commit for a while (at least 300 groups), then kill it mid-flight. */
    int64_t deadline = s_now_us() + 10 * 1000000;
    while (reports < 300 && s_now_us() < deadline) {
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        if (poll(&pf, 1, 1000) <= 0)
            break;
        if (read(pfd[0], &r, sizeof r) != sizeof r)
            break;
        last = r;
        reports++;
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    while (read(pfd[0], &r, sizeof r) == sizeof r) {
        last = r;
        reports++;
    }
    close(pfd[0]);
    CHECK(reports >= 300);

    struct spool_report rep;
    spool_t *sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    static uint64_t idx[200000], rpos[200000];
    int bad;
    size_t n = s_read_all(sp, 0, idx, rpos, 200000, &bad);
    CHECK_INT(bad, 0);
    CHECK(n >= last.count);
    CHECK(n > 0 && rpos[(n < 200000 ? n : 200000) - 1] >= last.durable);
    int inorder = 1;
    for (size_t i = 0; i < n && i < 200000; i++)
        inorder &= idx[i] == i;
    CHECK(inorder);
    /* The durable mark never claims more than a crash left: nothing counted as lost. */
    CHECK_INT(rep.damaged_records, 0);
    CHECK_INT(rep.uncounted, 0);
    printf("kill: %zu commits reported, %" PRIu64 " records durable, %zu found after SIGKILL, "
           "%zu damaged stretch(es) cut\n",
           reports, last.count, n, rep.ndamage);
    spool_destroy(&sp);
}

/* 4. Full: appends are refused past max_bytes, and accepted again after a checkpoint. */
static void s_test_full(void)
{
    char dir[256], err[512] = "";
    struct spool_opts o = {.segment_bytes = 4096, .max_bytes = 8192};
    uint64_t p, d, i = 0;
    int rc;

    s_path(dir, sizeof dir, "full");
    spool_t *sp = spool_open(dir, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    /* Buffered records count: refused before any commit. */
    while ((rc = s_append(sp, i, 200, &p)) == SPOOL_OK && i < 1000)
        i++;
    CHECK_INT(rc, SPOOL_FULL);
    CHECK(i > 20 && i <= 8192 / 216);
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    CHECK_INT(d, p);
    CHECK_INT(s_append(sp, i, 200, &p), SPOOL_FULL);
    struct spool_stats st;
    spool_stats(sp, &st);
    CHECK_INT(st.full, 2);
    CHECK_INT(st.depth_records, i);
    CHECK(st.depth_bytes <= 8192);

    /* The consumer stores them all and checkpoints: room again. */
    static uint64_t idx[100], rpos[100];
    int bad;
    size_t n = s_read_all(sp, 0, idx, rpos, 100, &bad);
    CHECK_INT(n, i);
    CHECK_INT(spool_checkpoint(sp, rpos[n - 1], err, sizeof err), SPOOL_OK);
    spool_stats(sp, &st);
    CHECK_INT(st.depth_records, 0);
    CHECK_INT(st.depth_bytes, 0);
    CHECK_INT(s_append(sp, i, 200, &p), SPOOL_OK);
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    n = s_read_all(sp, spool_checkpointed(sp), idx, rpos, 100, &bad);
    CHECK_INT(n, 1);
    CHECK_INT(idx[0], i);
    spool_destroy(&sp);
}

/* 5. Disk full on a real small filesystem (or EFBIG from RLIMIT_FSIZE if mounting is denied). */
static void s_test_disk_full(void)
{
    char mnt[256], dir[300], copy[256], err[512] = "";
    /* 100 KiB segments: the third one fills the disk in its middle, so a group is cut back. */
    struct spool_opts o = {.segment_bytes = 100 << 10, .max_bytes = UINT64_MAX};
    bool mounted = false, limited = false;
    int ckpt_failed = 0;
    struct rlimit old_lim;
    spool_t *sp = NULL;
    int want_errno;

    s_path(mnt, sizeof mnt, "fs");
    mkdir(mnt, 0700);
    /* ANPR_TEST_NO_MOUNT=1 takes the fallback, to test it where mounting works. */
    const char *no_mount = getenv("ANPR_TEST_NO_MOUNT");
    if ((!no_mount || strcmp(no_mount, "1") != 0) &&
        mount("tmpfs", mnt, "tmpfs", 0, "size=256k,mode=0700") == 0) {
        mounted = true;
        want_errno = ENOSPC;
        printf("disk full: a 256 KiB tmpfs at %s\n", mnt);
    } else {
        printf("disk full: mount: %s; using RLIMIT_FSIZE (EFBIG) instead\n",
               no_mount ? "skipped (ANPR_TEST_NO_MOUNT)" : strerror(errno));
        getrlimit(RLIMIT_FSIZE, &old_lim);
        struct rlimit lim = {.rlim_cur = 200 << 10, .rlim_max = old_lim.rlim_max};
        signal(SIGXFSZ, SIG_IGN);
        o.segment_bytes = 1 << 20; /* one file reaches the limit */
        CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
        limited = true;
        want_errno = EFBIG;
    }
    snprintf(dir, sizeof dir, "%s/spool", mnt);
    sp = spool_open(dir, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        goto out;

    uint64_t i = 0, p = 0, d = 0, good = 0, good_n = 0;
    int rc = SPOOL_OK;
    for (int group = 0; group < 1000 && rc == SPOOL_OK; group++) {
        for (int k = 0; k < 10; k++, i++)
            s_append(sp, i, 1000 + (size_t)k, &p);
        rc = spool_commit(sp, &d, err, sizeof err);
        if (rc == SPOOL_OK) {
            good = d;
            good_n = i;
        }
    }
    CHECK_INT(rc, SPOOL_ERR);
    CHECK_CONTAINS(err, strerror(want_errno));
    CHECK_CONTAINS(err, dir);
    CHECK(strstr(err, "at offset 0:") == NULL); /* in the middle of a segment */
    CHECK_INT(d, good);                         /* nothing of the failed group reported durable */
    CHECK(p > good);                            /* ...though positions were given to it */
    CHECK_INT(spool_durable(sp), good);
    printf("disk full: commit failed as expected: %s\n", err);

    /* The files hold whole records only: a copy opens without damage, with exactly the durable
     * records. (The copy lives outside the full filesystem.) */
    s_path(copy, sizeof copy, "fs-copy");
    CHECK_INT(s_copy_dir(dir, copy), 0);
    struct spool_report rep;
    struct spool_opts ro = o;
    ro.read_only = true;
    spool_t *cp = spool_open(copy, &ro, &rep, err, sizeof err);
    CHECK(cp != NULL);
    CHECK_INT(rep.ndamage, 0);
    CHECK_INT(rep.records, good_n);
    spool_destroy(&cp);

    /* A retry without room fails again; the records stay buffered. */
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_ERR);
    CHECK_INT(d, good);

    /* Free space: the consumer stores everything durable and checkpoints, which deletes the
     * consumed segments. The checkpoint itself needs a page: if even that is missing, grow the
     * filesystem (an operator would). */
    static uint64_t idx[2000], rpos[2000];
    int bad;
    size_t n = s_read_all(sp, 0, idx, rpos, 2000, &bad);
    CHECK_INT(n, good_n);
    CHECK_INT(bad, 0);
    if (mounted) {
        if (spool_checkpoint(sp, good, err, sizeof err) != SPOOL_OK) {
            ckpt_failed = 1;
            printf("disk full: checkpoint failed too (%s); growing the filesystem\n", err);
            CHECK_INT(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=320k,mode=0700"), 0);
            CHECK_INT(spool_checkpoint(sp, good, err, sizeof err), SPOOL_OK);
        }
    } else {
        CHECK_INT(spool_checkpoint(sp, good, err, sizeof err), SPOOL_OK);
        CHECK_INT(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
        limited = false;
    }
    /* The segment being written was wholly consumed: the group goes to a new one, after
     * every position given, and the old file is removed first (so the space is there). */
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    CHECK(d >= p);
    n = s_read_all(sp, good, idx, rpos, 2000, &bad);
    CHECK_INT(n, i - good_n);
    CHECK_INT(bad, 0);
    CHECK(n > 0 && idx[0] == good_n && rpos[n - 1] == d);
    struct spool_stats st;
    spool_stats(sp, &st);
    CHECK_INT(st.errors, 2 + ckpt_failed);
    spool_destroy(&sp);

    sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    CHECK_INT(rep.ndamage, 0);
    if (sp) {
        n = s_read_all(sp, spool_checkpointed(sp), idx, rpos, 2000, &bad);
        CHECK_INT(n, i - good_n);
    }
out:
    spool_destroy(&sp);
    if (limited)
        setrlimit(RLIMIT_FSIZE, &old_lim);
    if (mounted)
        CHECK_INT(umount(mnt), 0);
}

/* 6. One spool, one owner. */
static void s_test_lock(void)
{
    char dir[256], err[512] = "";
    struct spool_opts ro = {.read_only = true};

    s_path(dir, sizeof dir, "lock");
    spool_t *a = spool_open(dir, NULL, NULL, err, sizeof err);
    CHECK(a != NULL);
    err[0] = '\0';
    spool_t *b = spool_open(dir, NULL, NULL, err, sizeof err);
    CHECK(b == NULL);
    CHECK_CONTAINS(err, dir);
    CHECK_CONTAINS(err, "in use");
    err[0] = '\0';
    b = spool_open(dir, &ro, NULL, err, sizeof err);
    CHECK(b == NULL);
    CHECK_CONTAINS(err, "in use");
    spool_destroy(&a);
    b = spool_open(dir, NULL, NULL, err, sizeof err);
    CHECK(b != NULL);
    spool_destroy(&b);
    /* A read-only look at a missing spool does not create it. */
    s_path(dir, sizeof dir, "nothing-here");
    b = spool_open(dir, &ro, NULL, err, sizeof err);
    CHECK(b == NULL);
    CHECK_CONTAINS(err, dir);
    CHECK(s_file_size(dir) < 0);
}

/* 7. The consumer thread sees records once durable, and spool_wait wakes on a commit. */
struct s_shared {
    spool_t *sp;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stage;          /* 1: consumer checked the uncommitted records are invisible */
    int seen_before;    /* records the consumer read before the commit */
    uint64_t woke_with; /* what spool_wait returned */
    int64_t woke_us;    /* when it returned */
    size_t read_after;  /* records read after waking */
    int beyond_durable; /* records read past what spool_durable said right after */
    size_t total;       /* records read in the streaming phase */
    int bad;
};

static void s_stage(struct s_shared *s, int stage)
{
    pthread_mutex_lock(&s->mu);
    s->stage = stage;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* Waits for a stage with a deadline; 0 or -1 on timeout. */
static int s_wait_stage(struct s_shared *s, int stage, int ms)
{
    struct timespec dl;
    int rc = 0;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    pthread_mutex_lock(&s->mu);
    while (s->stage < stage && rc == 0)
        rc = pthread_cond_timedwait(&s->cond, &s->mu, &dl);
    pthread_mutex_unlock(&s->mu);
    return s->stage >= stage ? 0 : -1;
}

static void *s_consumer(void *arg)
{
    struct s_shared *s = arg;
    char err[512];
    const void *data;
    size_t len;
    uint64_t p = 0, last = 0;
    spool_cursor_t *c = spool_cursor_new(s->sp, 0, err, sizeof err);

    if (!c)
        return NULL;
    while (spool_read(c, &data, &len, &p, NULL, err, sizeof err) == 1)
        s->seen_before++;
    s_stage(s, 1);
    s->woke_with = spool_wait(s->sp, 0, 5000);
    s->woke_us = s_now_us();
    while (spool_read(c, &data, &len, &p, NULL, err, sizeof err) == 1) {
        s->read_after++;
        last = p;
    }
    s_stage(s, 2);

    /* Streaming: read while the producer commits; never past the durable position. */
    uint8_t want[S_MAXREC];
    while (s->total < 5000) {
        int rc = spool_read(c, &data, &len, &p, NULL, err, sizeof err);
        if (rc < 0) {
            s->bad++;
            break;
        }
        if (rc == 0) {
            /* Caught up: checkpoint, which lets a full producer go on. */
            if (last > spool_checkpointed(s->sp) &&
                spool_checkpoint(s->sp, last, err, sizeof err) != SPOOL_OK)
                s->bad++;
            if (spool_wait(s->sp, last, 5000) <= last)
                break; /* nothing for 5 s: the producer is stuck, the checks will say */
            continue;
        }
        s->beyond_durable += p > spool_durable(s->sp);
        uint64_t i;
        memcpy(&i, data, 8);
        s_fill(i, len, want);
        s->bad += i != s->total || memcmp(want, data, len) != 0;
        s->total++;
        last = p;
        if (s->total % 100 == 0 && spool_checkpoint(s->sp, p, err, sizeof err) != SPOOL_OK)
            s->bad++;
    }
    spool_cursor_destroy(&c);
    return NULL;
}

static void s_test_threads(void)
{
    char dir[256], err[512] = "";
    struct spool_opts o = {.segment_bytes = 16 << 10, .max_bytes = 16 << 10};
    struct s_shared s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    uint64_t p, d;

    s_path(dir, sizeof dir, "threads");
    s.sp = spool_open(dir, &o, NULL, err, sizeof err);
    CHECK(s.sp != NULL);
    if (!s.sp)
        return;
    /* A wait with nothing coming times out, after about its timeout. */
    int64_t t0 = s_now_us();
    CHECK_INT(spool_wait(s.sp, 0, 100), 0);
    int64_t waited = s_now_us() - t0;
    CHECK(waited >= 90000 && waited < 2000000);

    for (uint64_t i = 0; i < 10; i++)
        s_append(s.sp, 1000 + i, 100, &p);
    CHECK_INT(pthread_create(&th, NULL, s_consumer, &s), 0);
    CHECK_INT(s_wait_stage(&s, 1, 5000), 0);
    CHECK_INT(s.seen_before, 0); /* appended, not committed: invisible */
    int64_t committed_us = s_now_us();
    CHECK_INT(spool_commit(s.sp, &d, err, sizeof err), SPOOL_OK);
    CHECK_INT(s_wait_stage(&s, 2, 5000), 0);
    CHECK_INT(s.woke_with, d);
    CHECK(s.woke_us - committed_us < 1000000); /* woken by the commit, not the 5 s timeout */
    CHECK_INT(s.read_after, 10);

    /* Stream 5000 records in groups while the consumer reads and checkpoints behind. A full
     * spool (64 KiB) makes the producer wait for the consumer's checkpoints. */
    int full_waits = 0;
    for (uint64_t i = 0; i < 5000;) {
        int rc = s_append(s.sp, i, s_len(i), &p);
        if (rc == SPOOL_FULL) {
            CHECK_INT(spool_commit(s.sp, &d, err, sizeof err), SPOOL_OK);
            full_waits++;
            int64_t dl = s_now_us() + 5000000;
            while (s_append(s.sp, i, s_len(i), &p) == SPOOL_FULL && s_now_us() < dl) {
                struct timespec ts = {0, 1000000}; /* polled: the consumer has no signal back */
                nanosleep(&ts, NULL);
            }
        } else if (rc != SPOOL_OK) {
            break;
        }
        i++;
        if (i % 37 == 0)
            CHECK_INT(spool_commit(s.sp, &d, err, sizeof err), SPOOL_OK);
    }
    CHECK_INT(spool_commit(s.sp, &d, err, sizeof err), SPOOL_OK);
    pthread_join(th, NULL);
    CHECK_INT(s.total, 5000);
    CHECK_INT(s.bad, 0);
    CHECK_INT(s.beyond_durable, 0);
    CHECK(full_waits > 0);

    spool_destroy(&s.sp);
}

/* 8. A record damaged while the spool is open: set aside once, skipped by every cursor. */
static void s_test_live_damage(void)
{
    enum { N = 50, LEN = 100 };
    char dir[256], seg[64] = "", path[512], err[512] = "";
    struct spool_opts o = {.segment_bytes = 64 << 10, .max_bytes = UINT64_MAX};
    static uint64_t idx[N + 8], rpos[N + 8];
    struct spool_stats st;
    uint64_t p, d;
    int bad;

    s_path(dir, sizeof dir, "live");
    spool_t *sp = spool_open(dir, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    for (uint64_t i = 0; i < N; i++)
        s_append(sp, i, LEN, &p);
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    CHECK_INT(s_segment_name(dir, true, seg, sizeof seg), 0);
    snprintf(path, sizeof path, "%s/%s", dir, seg);
    s_flip(path, 40 + 20 * (16 + LEN) + 16 + 40, 1);
    for (int c = 0; c < 2; c++) {
        CHECK_INT(s_read_all(sp, 0, idx, rpos, N + 8, &bad), N - 1);
        CHECK_INT(bad, 0);
        CHECK_INT(idx[20], 21);
        spool_stats(sp, &st);
        CHECK_INT(st.live_damage, 1); /* once, whichever cursor met it */
        CHECK_INT(st.live_lost, 1);
    }
    char q[600];
    snprintf(q, sizeof q, "%s/quarantine-%.20s-%u.bin", dir, seg, 40 + 20 * (16 + LEN));
    CHECK_INT(s_file_size(q), 16 + LEN);

    /* The last durable record damaged: what follows is not written yet, so an error (the
     * consumer retries); once a record follows, it is skipped too. */
    s_flip(path, 40 + (N - 1) * (16 + LEN) + 16 + 40, 1);
    spool_cursor_t *c = spool_cursor_new(sp, rpos[N - 3], err, sizeof err);
    const void *data;
    size_t len;
    CHECK_INT(spool_read(c, &data, &len, &p, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "damaged record");
    spool_cursor_destroy(&c);
    CHECK_INT(s_append(sp, 777, LEN, &p), SPOOL_OK);
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    CHECK_INT(s_read_all(sp, 0, idx, rpos, N + 8, &bad), N - 1);
    CHECK_INT(bad, 0);
    CHECK_INT(idx[N - 2], 777);
    spool_stats(sp, &st);
    CHECK_INT(st.live_damage, 2);
    CHECK_INT(st.live_lost, 2);
    spool_destroy(&sp);
}

/* Bytes of the segment files in dir. */
static uint64_t s_seg_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    uint64_t sum = 0;
    char path[512];

    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strlen(e->d_name) == 24 && strstr(e->d_name, ".seg")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            sum += (uint64_t)s_file_size(path);
        }
    closedir(d);
    return sum;
}

/* Consumes every durable record after the cursor; checks they come in order. */
static size_t s_consume(spool_t *sp, spool_cursor_t *c, uint64_t *next_idx, uint64_t *last_pos,
                        int *bad)
{
    char err[512] = "";
    const void *data;
    size_t len, n = 0;
    uint64_t p, i;
    int rc;

    while ((rc = spool_read(c, &data, &len, &p, NULL, err, sizeof err)) == 1) {
        memcpy(&i, data, sizeof i);
        *bad += i != *next_idx || p <= *last_pos;
        (*next_idx)++;
        *last_pos = p;
        n++;
    }
    *bad += rc < 0;
    if (n > 0 && spool_checkpoint(sp, *last_pos, err, sizeof err) != SPOOL_OK) {
        fprintf(stderr, "checkpoint: %s\n", err);
        (*bad)++;
    }
    return n;
}

/*
 * 9. Space: the segment size follows max_bytes; max_bytes bounds the segment files on disk
 * (consumed records not yet freed included); the segment being written is freed once its
 * records are consumed; an open frees a consumed last segment.
 */
static void s_test_space(void)
{
    char dir[256], err[512] = "";
    /* Space is what is tested here, not durability: no fsync, so 5 700 commits take no time. */
    struct spool_opts o = {.max_bytes = 4 << 20, .unsafe_no_sync = true};
    struct spool_space sc;
    struct spool_stats st;
    struct spool_report rep;
    int bad = 0;

    s_path(dir, sizeof dir, "space");
    spool_t *sp = spool_open(dir, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    spool_space(sp, &sc);
    CHECK_INT(sc.segment_bytes, 512 << 10); /* an eighth of 4 MiB */
    CHECK_INT(sc.max_bytes, 4 << 20);
    CHECK_INT(sc.used_bytes, 0);
    CHECK(sc.room > 0 && sc.room <= 4 << 20);
    spool_destroy(&sp);

    /* 1 MiB: segments of SPOOL_SEGMENT_AUTO_MIN; 6 MiB go through it. */
    o.max_bytes = 1 << 20;
    sp = spool_open(dir, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    spool_space(sp, &sc);
    CHECK_INT(sc.segment_bytes, SPOOL_SEGMENT_AUTO_MIN);
    spool_cursor_t *c = spool_cursor_new(sp, 0, err, sizeof err);
    uint64_t next_idx = 0, last_pos = 0, p, d, over = 0, fulls = 0, mismatch = 0;
    uint64_t i = 0;
    for (int group = 0; i < 40000 && group < 100000; group++) {
        for (int k = 0; k < 7; k++) {
            int rc = s_append(sp, i, s_len(i), &p);
            if (rc == SPOOL_FULL) {
                /* The consumer catches up; then there is room again. */
                fulls++;
                CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
                s_consume(sp, c, &next_idx, &last_pos, &bad);
                rc = s_append(sp, i, s_len(i), &p);
            }
            if (rc != SPOOL_OK) {
                CHECK_INT(rc, SPOOL_OK);
                break;
            }
            i++;
        }
        CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
        uint64_t on_disk = s_seg_bytes(dir);
        spool_stats(sp, &st);
        over += on_disk > o.max_bytes;
        mismatch += st.disk_bytes != on_disk;
        /* The consumer keeps up, then stops for long enough to fill the spool. */
        if ((group / 1200) % 2 == 0)
            s_consume(sp, c, &next_idx, &last_pos, &bad);
    }
    CHECK_INT(spool_commit(sp, &d, err, sizeof err), SPOOL_OK);
    s_consume(sp, c, &next_idx, &last_pos, &bad);
    CHECK_INT(next_idx, i);
    CHECK_INT(bad, 0);
    CHECK_INT(over, 0);
    CHECK_INT(mismatch, 0);
    spool_stats(sp, &st);
    CHECK(st.rolls > 0); /* the segment being written was freed, not only the older ones */
    CHECK(fulls > 0);
    printf("space: %" PRIu64 " records through a 1 MiB spool, %" PRIu64 " refused as full, %" PRIu64
           " rolls, %" PRIu64 " commits\n",
           i, fulls, st.rolls, st.commits);
    spool_cursor_destroy(&c);
    spool_destroy(&sp);

    /* Everything consumed: the next open frees the last segment too. */
    CHECK(s_count_segments(dir) >= 1);
    sp = spool_open(dir, &o, &rep, err, sizeof err);
    CHECK(sp != NULL);
    CHECK_INT(s_count_segments(dir), 0);
    CHECK(rep.deleted_segments >= 1);
    CHECK_INT(rep.ndamage, 0);
    spool_destroy(&sp);
}

/* ---- spool_commit_quiet / spool_notify ---- */

/* A waiter thread: spool_wait(after, 2000) and when it returned. */
struct s_quiet_waiter {
    spool_t *sp;
    uint64_t after;
    _Atomic pid_t tid;     /* the thread's id, once it is about to wait */
    _Atomic bool returned; /* spool_wait has returned ... */
    int64_t returned_us;   /* ... at this time */
    uint64_t got;          /* what it returned */
};

static void *s_quiet_wait(void *arg)
{
    struct s_quiet_waiter *w = arg;

    atomic_store(&w->tid, gettid());
    w->got = spool_wait(w->sp, w->after, 2000);
    w->returned_us = s_now_us();
    atomic_store(&w->returned, true);
    return NULL;
}

/* The thread's state letter in /proc ('S': asleep), or '?'. */
static char s_thread_state(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after "pid (comm)" */
    return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

/* Start a waiter for positions after `after` and return once it sleeps in spool_wait (or 5 s
   passed: the checks after it then fail). */
static void s_quiet_start(struct s_quiet_waiter *w, pthread_t *th, spool_t *sp, uint64_t after)
{
    memset(w, 0, sizeof *w);
    w->sp = sp;
    w->after = after;
    CHECK(pthread_create(th, NULL, s_quiet_wait, w) == 0);
    int64_t until = s_now_us() + 5000000;
    while ((atomic_load(&w->tid) == 0 || s_thread_state(atomic_load(&w->tid)) != 'S') &&
           !atomic_load(&w->returned) && s_now_us() < until)
        poll(NULL, 0, 1);
}

/* The durable mark file's position, or UINT64_MAX when it is not there. */
static uint64_t s_mark_pos(const char *dir)
{
    char path[300];
    uint8_t b[64];
    uint64_t v = 0;

    snprintf(path, sizeof path, "%s/durable", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return UINT64_MAX;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    if (n < 24)
        return UINT64_MAX;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[16 + i];
    return v;
}

/*
 * A quiet commit makes the records durable (spool_durable says so at once) but wakes nobody and
 * leaves the durable mark as it was until spool_notify; a normal commit after a quiet one says
 * it all itself.
 */
static void s_test_quiet(void)
{
    char dir[256], err[512] = "";
    struct spool_opts o = {.segment_bytes = 1 << 20, .max_bytes = UINT64_MAX};
    struct s_quiet_waiter w;
    pthread_t th;
    uint64_t pos, d0 = 0, d1 = 0, d2 = 0, d3 = 0;

    s_path(dir, sizeof dir, "quiet");
    spool_t *sp = spool_open(dir, &o, NULL, err, sizeof err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    CHECK_INT(s_append(sp, 1, s_len(1), &pos), SPOOL_OK);
    CHECK_INT(spool_commit(sp, &d0, err, sizeof err), SPOOL_OK);
    CHECK_INT(s_mark_pos(dir), d0);

    /* Quiet: durable at once, the sleeper sleeps on, the mark stays. */
    CHECK_INT(s_append(sp, 2, s_len(2), &pos), SPOOL_OK);
    s_quiet_start(&w, &th, sp, d0);
    CHECK(!atomic_load(&w.returned));
    CHECK_INT(spool_commit_quiet(sp, &d1, err, sizeof err), SPOOL_OK);
    CHECK(d1 > d0);
    CHECK_INT(spool_durable(sp), d1);
    CHECK_INT(s_mark_pos(dir), d0);
    poll(NULL, 0, 100);
    CHECK(!atomic_load(&w.returned)); /* not woken by the quiet commit */
    CHECK_INT(s_mark_pos(dir), d0);

    /* spool_notify: the sleeper returns with the new position, well before its 2 s, and the
       mark is written. */
    int64_t t0 = s_now_us();
    spool_notify(sp);
    pthread_join(th, NULL);
    CHECK(atomic_load(&w.returned));
    CHECK_INT(w.got, d1);
    CHECK(w.returned_us - t0 < 1000000);
    CHECK_INT(s_mark_pos(dir), d1);

    /* A quiet commit, then a normal one: the normal one wakes the sleeper and writes the mark
       of both; a notify after it has nothing left to say. */
    CHECK_INT(s_append(sp, 3, s_len(3), &pos), SPOOL_OK);
    CHECK_INT(spool_commit_quiet(sp, &d2, err, sizeof err), SPOOL_OK);
    CHECK_INT(s_mark_pos(dir), d1);
    s_quiet_start(&w, &th, sp, d2);
    CHECK_INT(s_append(sp, 4, s_len(4), &pos), SPOOL_OK);
    t0 = s_now_us();
    CHECK_INT(spool_commit(sp, &d3, err, sizeof err), SPOOL_OK);
    CHECK(d3 > d2);
    pthread_join(th, NULL);
    CHECK_INT(w.got, d3);
    CHECK(w.returned_us - t0 < 1000000);
    CHECK_INT(s_mark_pos(dir), d3);
    spool_notify(sp);
    CHECK_INT(s_mark_pos(dir), d3);
    CHECK_INT(spool_durable(sp), d3);
    spool_destroy(&sp);
}

int main(void)
{
    snprintf(s_root, sizeof s_root, "/tmp/test_spool.XXXXXX");
    if (!mkdtemp(s_root)) {
        perror("mkdtemp");
        return 1;
    }
    s_test_roundtrip();
    s_test_torn();
    s_test_kill();
    s_test_full();
    s_test_disk_full();
    s_test_lock();
    s_test_threads();
    s_test_live_damage();
    s_test_space();
    s_test_quiet();
    s_rmrf(s_root);
    return check_done("spool");
}
