/*
 * Integration: the spool's space. The spool must work on a disk smaller than one default
 * segment, give space back as the writer stores reads (the segment being written too), keep
 * spool.max_mb as a bound on its files, and come back by itself when space returns:
 *   1. an 8 MiB tmpfs, the database up: 30 000 reads (more than the disk holds) acknowledged
 *      and stored; the start says the filesystem is smaller than spool.max_mb;
 *   2. the same disk, the database away: acknowledgements stop when the disk is full (never
 *      before a read is durable); with the database back, every read sent is acknowledged and
 *      stored, without a restart and without the camera sending anything again;
 *   3. a restart with everything stored leaves no segment behind (the last one is freed);
 *   4. spool.max_mb: 4 on a large disk, the database away: the segment files never pass
 *      4 MiB, and everything is stored once the database is back.
 * Each part ends with acknowledged == stored, read by read.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM   "NL-A2-EIJSDEN"
#define CHUNK 1000
/* The test's one connection sends far faster than a camera: no per-connection rate limit. */
#define S_UNLIMITED "  peer_rate_per_s: 0\n"

static struct h_db db;
static uint64_t next_seq = 1;

/* Send n reads, seqs from next_seq on; the first seq. */
static uint64_t s_send(void *dealer, size_t n)
{
    return h_send_reads(dealer, CAM, &next_seq, n, "1-SPC-");
}

/* Start anprd with its spool in dir (max_mb 0: the default); 0, or -1 (counted as failed). */
static int s_start(struct h_daemon *d, const char *dir, int max_mb)
{
    char extra[512];

    if (max_mb > 0)
        snprintf(extra, sizeof extra, "spool:\n  dir: \"%s\"\n  max_mb: %d\n", dir, max_mb);
    else
        snprintf(extra, sizeof extra, "spool:\n  dir: \"%s\"\n", dir);
    struct h_daemon_opts opts = {.extra = extra, .ingest = S_UNLIMITED};
    if (h_daemon_start_opts(d, &db, &opts) == 0)
        return 0;
    CHECK(!"daemon started");
    return -1;
}

/* Bytes of the segment files in dir. */
static long long s_seg_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    long long sum = 0;
    char path[512];
    struct stat st;

    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".seg") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (stat(path, &st) == 0)
                sum += st.st_size;
        }
    }
    closedir(d);
    return sum;
}

/* Reads of seqs [first, first + n) stored exactly once: how many are not. */
static long long s_not_stored_once(uint64_t first, uint64_t n)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT %llu - count(*) FILTER (WHERE c = 1) FROM (SELECT seq, count(*) c FROM "
             "anpr.plate_read WHERE seq BETWEEN %llu AND %llu GROUP BY seq) s",
             (unsigned long long)n, (unsigned long long)first, (unsigned long long)(first + n - 1));
    return h_query_ll(db.admin, sql);
}

/* Send `total` reads in chunks, each acknowledged before the next; how many were. */
static size_t s_send_acked(void *dealer, size_t total, uint64_t *first)
{
    size_t acked = 0;

    *first = next_seq;
    for (size_t done = 0; done < total; done += CHUNK) {
        struct h_acks a;
        uint64_t f = s_send(dealer, CHUNK);
        h_acks_init(&a, f, CHUNK, 0);
        acked += h_acks_wait(&a, dealer, CAM, 30000);
        h_acks_free(&a);
    }
    return acked;
}

/*
 * The database locked out, send chunks until one is not wholly acknowledged because the spool
 * or its disk is full (d's log says `full`), sampling the segment files after each. Some
 * reads must be acknowledged and some not. Returns the reads sent; *acks keeps their
 * acknowledgements for later; *peak the largest sample.
 */
static size_t s_fill(const struct h_daemon *d, void *dealer, const char *reads, struct h_acks *acks,
                     long long *peak, const char *what, const char *full)
{
    uint64_t first = next_seq;
    size_t sent = 0;

    CHECK(h_db_lock_out(&db));
    h_acks_init(acks, first, 200 * CHUNK, 0);
    *peak = 0;
    for (int c = 0; c < 200; c++) {
        s_send(dealer, CHUNK);
        sent += CHUNK;
        acks->n = sent;
        size_t got = h_acks_wait(acks, dealer, CAM, 4000);
        /* Not all within 4 s: full, or only slow (a busy machine), then wait on. */
        if (got < sent && !h_daemon_wait_log(d, full, 2000))
            got = h_acks_wait(acks, dealer, CAM, 60000);
        long long on_disk = s_seg_bytes(reads);
        if (on_disk > *peak)
            *peak = on_disk;
        if (got < sent)
            break;
    }
    size_t got = h_acks_wait(acks, dealer, CAM, 1000);
    fprintf(stderr, "%s, database away: %zu of %zu reads acknowledged, segments up to %lld bytes\n",
            what, got, sent, *peak);
    CHECK(got > 0 && got < sent);
    return sent;
}

/*
 * What a camera does with reads refused as overload ("resend later"): send them again, same
 * seq, until each is acknowledged or ms pass; how many of a's reads are acknowledged.
 */
static size_t s_resend_until_acked(void *dealer, struct h_acks *a, int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;
    size_t got;

    while ((got = h_acks_wait(a, dealer, CAM, 3000)) < a->n && util_mono_us() < deadline)
        for (size_t i = 0; i < a->n; i++)
            if (!a->acked[i]) {
                uint64_t seq = a->first + i;
                h_send_reads(dealer, CAM, &seq, 1, "1-SPC-");
            }
    return got;
}

static void s_part_full_disk(const char *mnt)
{
    struct h_daemon d;
    struct h_acks acks;
    char reads[400];
    long long peak;
    uint64_t first;

    snprintf(reads, sizeof reads, "%s/reads", mnt);
    /* spool.max_mb stays at its default, 1 GiB: the disk is the limit. */
    if (s_start(&d, reads, 0) != 0)
        return;
    CHECK(h_daemon_log_has(&d, "room for about"));
    CHECK(h_daemon_log_has(&d, "the filesystem holds less than spool.max_mb"));
    /* Segments of an eighth of the 8 MiB, not the 64 MiB of a large disk. */
    char *log = h_slurp(d.log_path);
    const char *seg = strstr(log, "segments of ");
    long kib = seg ? strtol(seg + 12, NULL, 10) : 0;
    CHECK(kib >= 900 && kib <= 1024);
    free(log);
    void *dealer = h_dealer(d.ingest_ep);

    /* 1. More reads than the disk holds, the database storing them as they come. */
    long long before = h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read");
    size_t acked = s_send_acked(dealer, 30 * CHUNK, &first);
    CHECK_INT(acked, 30 * CHUNK);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", before + 30 * CHUNK, 60000) ==
          before + 30 * CHUNK);
    CHECK_INT(s_not_stored_once(first, 30 * CHUNK), 0);
    CHECK(!h_daemon_log_has(&d, "No space left on device"));
    fprintf(stderr, "8 MiB disk: 30000 reads acknowledged and stored; segments now %lld bytes\n",
            s_seg_bytes(reads));

    /* 2. The database away: the disk fills, acknowledgements stop; back: all of them. */
    first = next_seq;
    size_t sent = s_fill(&d, dealer, reads, &acks, &peak, "8 MiB disk", "No space left on device");
    CHECK(h_daemon_wait_log(&d, "No space left on device", 10000));
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), before + 30 * CHUNK);
    h_db_let_in(&db);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 90000), sent);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read",
                    before + 30 * CHUNK + (long long)sent,
                    60000) == before + 30 * CHUNK + (long long)sent);
    CHECK_INT(s_not_stored_once(first, sent), 0);
    h_acks_free(&acks);

    /* 3. Everything stored: a restart frees the last segment as well. The full disk left no
     * damage: `anpr-spool verify` agrees. */
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    char vout[512];
    snprintf(vout, sizeof vout, "%s.verify", mnt);
    char *argv[] = {getenv("ANPR_SPOOL"), "verify", reads, NULL};
    CHECK_INT(h_wait(h_spawn(argv, vout, "/dev/null"), 60000), 0);
    char *out = h_slurp(vout);
    CHECK(out && strstr(out, "0 damaged stretches"));
    free(out);
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK_INT(s_seg_bytes(reads), 0);
    CHECK(h_daemon_log_has(&d, "0 reads not yet stored"));
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
}

static void s_part_max_mb(const char *dir)
{
    struct h_daemon d;
    struct h_acks acks;
    char reads[400];
    long long peak;

    snprintf(reads, sizeof reads, "%s/reads", dir);
    if (s_start(&d, reads, 4) != 0)
        return;
    CHECK(h_daemon_log_has(&d, "segments of 512 KiB"));
    void *dealer = h_dealer(d.ingest_ep);
    long long before = h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read");
    uint64_t first = next_seq;
    size_t sent =
        s_fill(&d, dealer, reads, &acks, &peak, "spool.max_mb 4", "is full (spool.max_mb 4)");
    CHECK(peak > 3 << 20 && peak <= 4 << 20);
    CHECK(h_daemon_wait_log(&d, "is full (spool.max_mb 4)", 10000));
    /* A full spool refuses reads ("resend later"): the camera sends them again. */
    h_db_let_in(&db);
    CHECK_INT(s_resend_until_acked(dealer, &acks, 90000), sent);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", before + (long long)sent,
                    60000) == before + (long long)sent);
    CHECK_INT(s_not_stored_once(first, sent), 0);
    CHECK(s_seg_bytes(reads) <= 4 << 20);
    h_acks_free(&acks);
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
}

int main(void)
{
    char root[64], mnt[128];

    h_require_env();
    snprintf(root, sizeof root, "/tmp/anprd-space.XXXXXX");
    if (!mkdtemp(root))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(mnt, sizeof mnt, "%s/small", root);
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=8m") != 0) {
        fprintf(stderr, "itest_spool_space: mounting a tmpfs needs root (%s): skipped\n",
                strerror(errno));
        h_rmtree(root);
        return 77;
    }
    h_db_create(&db, "itest_spool_space");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'A2 Eijsden')");

    s_part_full_disk(mnt);
    umount(mnt);
    s_part_max_mb(root);

    h_rmtree(root);
    h_db_close(&db);
    return check_done("itest_spool_space");
}
