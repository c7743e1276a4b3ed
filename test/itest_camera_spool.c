/*
 * Integration: anpr-camera --spool. A camera killed with unacknowledged reads resends them from
 * its spool when it starts again, and every read it made is stored exactly once:
 *   1. the real anpr-camera sends to anprd (which has a spool of its own) while anprd stores;
 *      then anprd's database role is locked out and anprd is killed, so the camera's later reads
 *      stay unacknowledged while it goes on making reads into its spool; the camera is killed
 *      with SIGKILL mid-way;
 *   2. anprd starts again; the camera starts again on the same spool with the same --start-seq:
 *      it reports how many reads it recovered, resends them, numbers its new reads after them,
 *      and leaves an empty backlog once all are acknowledged.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "spool.h"
#include "util.h"

#define CAM       "BE-N78-LANAKEN-1"
#define START_SEQ 1000ULL
#define COUNT1    3000
#define COUNT2    200

static struct h_db db;

static long long s_count(const char *where)
{
    char sql[256];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.plate_read WHERE %s", where);
    return h_query_ll(db.admin, sql);
}

/* Poll until `sql` returns at least `want` or timeout_ms passes; the last value. */
static long long s_wait_ge(const char *sql, long long want, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    struct timespec ts = {0, 20 * 1000000L};
    long long v;

    while ((v = h_query_ll(db.admin, sql)) < want && util_mono_us() < deadline)
        nanosleep(&ts, NULL);
    return v;
}

/* Bytes in the segment files of the spool in dir. */
static long long s_spool_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long long sum = 0;
    char path[512];
    struct stat st;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".seg"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0)
            sum += st.st_size;
    }
    closedir(d);
    return sum;
}

static long long s_wait_spool_bytes(const char *dir, long long want, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    struct timespec ts = {0, 20 * 1000000L};
    long long v;

    while ((v = s_spool_bytes(dir)) < want && util_mono_us() < deadline)
        nanosleep(&ts, NULL);
    return v;
}

/* What a camera's spool holds after its checkpoint, read as the camera would (read-only). */
struct backlog {
    long long n;         /* records after the checkpoint */
    uint64_t lo, hi;     /* lowest and highest seq among them */
    char last_plate[64]; /* plate of the read with seq hi */
    bool ok;             /* opened, every record a READ of CAM */
};

static struct backlog s_backlog(const char *dir)
{
    struct spool_opts o = {.read_only = true};
    struct backlog b = {.lo = UINT64_MAX};
    char err[512];
    spool_t *sp = spool_open(dir, &o, NULL, err, sizeof err);
    spool_cursor_t *cur = NULL;

    if (!sp) {
        fprintf(stderr, "spool_open %s: %s\n", dir, err);
        return b;
    }
    cur = spool_cursor_new(sp, spool_checkpointed(sp), err, sizeof err);
    b.ok = cur != NULL;
    for (;;) {
        const void *data;
        size_t len;
        uint64_t pos;
        struct proto_read r;
        struct proto_error perr;
        int rc = cur ? spool_read(cur, &data, &len, &pos, NULL, err, sizeof err) : 0;

        if (rc <= 0) {
            b.ok = b.ok && rc == 0;
            break;
        }
        /* The camera's record: one kind byte (1), then the READ frame as sent. */
        const uint8_t *d = data;
        if (len < 1 || d[0] != 1 || proto_decode_read(d + 1, len - 1, &r, &perr) != 0 ||
            strcmp(r.camera, CAM) != 0) {
            b.ok = false;
            continue;
        }
        b.n++;
        if (r.seq < b.lo)
            b.lo = r.seq;
        if (r.seq >= b.hi) {
            b.hi = r.seq;
            snprintf(b.last_plate, sizeof b.last_plate, "%s", r.plate);
        }
    }
    spool_cursor_destroy(&cur);
    spool_destroy(&sp);
    return b;
}

int main(void)
{
    struct h_daemon d;
    char base[64], extra[512], camdir[128], path[5][192], sql[256], want[128];
    const char *camera_bin = getenv("ANPR_CAMERA");

    h_require_env();
    if (!camera_bin)
        h_fatal("ANPR_CAMERA is not set");
    h_db_create(&db, "itest_camera_spool");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'N78 Lanaken')");

    /* anprd's spool and the camera's in a folder of their own, kept across restarts. */
    snprintf(base, sizeof base, "/tmp/anpr-camspool.XXXXXX");
    if (!mkdtemp(base))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/daemon\"\n  max_mb: 64\n", base);
    snprintf(camdir, sizeof camdir, "%s/camera", base);
    snprintf(path[0], sizeof path[0], "%s/cam1.out", base);
    snprintf(path[1], sizeof path[1], "%s/cam1.err", base);
    snprintf(path[2], sizeof path[2], "%s/cam2.out", base);
    snprintf(path[3], sizeof path[3], "%s/cam2.err", base);
    snprintf(path[4], sizeof path[4], "%s/acked2.tsv", base);
    struct h_daemon_opts opts = {.extra = extra};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;

    /* 1. A camera making 500 reads a second, 3000 in all: six seconds if nothing stops it. */
    char start[24], count1[16], count2[16];
    snprintf(start, sizeof start, "%llu", START_SEQ);
    snprintf(count1, sizeof count1, "%d", COUNT1);
    snprintf(count2, sizeof count2, "%d", COUNT2);
    char *argv1[] = {(char *)camera_bin,
                     "--endpoint",
                     d.ingest_ep,
                     "--camera",
                     CAM,
                     "--spool",
                     camdir,
                     "--count",
                     count1,
                     "--rate",
                     "500",
                     "--start-seq",
                     start,
                     "--seed",
                     "7",
                     "--resend-ms",
                     "500",
                     "--wait",
                     "60",
                     NULL};
    pid_t cam1 = h_spawn(argv1, path[0], path[1]);

    /* Some of its reads are stored and acknowledged... */
    CHECK(s_wait_ge("SELECT count(*) FROM anpr.plate_read", 300, 20000) >= 300);
    /* ...then anprd is away: the camera's reads from now on stay unacknowledged. */
    CHECK(h_db_lock_out(&db));
    CHECK_INT(h_daemon_stop(&d, SIGKILL, 5000), 128 + SIGKILL);
    long long before = s_spool_bytes(camdir);
    /* It goes on reading plates into its spool (some 80 bytes a read): wait for 250 or so. */
    CHECK(s_wait_spool_bytes(camdir, before + 20000, 10000) >= before + 20000);
    CHECK(kill(cam1, SIGKILL) == 0);
    CHECK_INT(h_wait(cam1, 5000), 128 + SIGKILL);

    /* What it left: the reads after its checkpoint, the newest made being the last of them. */
    struct backlog b = s_backlog(camdir);
    CHECK(b.ok);
    CHECK(b.n > 0);
    CHECK(b.hi < START_SEQ + COUNT1 - 1); /* killed mid-way */
    CHECK_INT(b.hi - b.lo + 1, b.n);      /* one camera: its backlog is a run of seqs */
    fprintf(stderr, "camera killed: made reads %llu..%llu, %lld unacknowledged in its spool\n",
            START_SEQ, (unsigned long long)b.hi, b.n);

    /* 2. anprd back, with its database; then the camera again, same spool, same --start-seq. */
    h_db_let_in(&db);
    CHECK_INT(h_daemon_restart(&d), 0);
    char *argv2[] = {(char *)camera_bin,
                     "--endpoint",
                     d.ingest_ep,
                     "--camera",
                     CAM,
                     "--spool",
                     camdir,
                     "--count",
                     count2,
                     "--rate",
                     "0",
                     "--start-seq",
                     start,
                     "--seed",
                     "8",
                     "--resend-ms",
                     "1000",
                     "--wait",
                     "30",
                     "--dump-acked",
                     path[4],
                     NULL};
    pid_t cam2 = h_spawn(argv2, path[2], path[3]);
    CHECK_INT(h_wait(cam2, 120000), 0);
    char *out2 = h_slurp(path[2]), *err2 = h_slurp(path[3]);
    snprintf(want, sizeof want, "recovered %lld unacknowledged reads", b.n);
    CHECK_CONTAINS(err2, want);
    snprintf(want, sizeof want, "acked=%lld ", b.n + COUNT2);
    CHECK_CONTAINS(out2, want);
    CHECK_CONTAINS(out2, "unacked=0");
    snprintf(want, sizeof want, "recovered=%lld", b.n);
    CHECK_CONTAINS(out2, want);

    /* Every read the first run made is stored exactly once (anprd may still be draining its
     * own spool into the database: wait for it). */
    long long made1 = (long long)(b.hi - START_SEQ + 1);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT seq) FROM anpr.plate_read WHERE seq BETWEEN %llu AND %llu",
             START_SEQ, (unsigned long long)b.hi);
    CHECK_INT(h_wait_ll(db.admin, sql, made1, 20000), made1);
    snprintf(sql, sizeof sql, "seq BETWEEN %llu AND %llu", START_SEQ, (unsigned long long)b.hi);
    CHECK_INT(s_count(sql), made1);
    /* The resent bytes are the read's own: the newest recovered read has its plate. */
    snprintf(sql, sizeof sql, "seq = %llu AND plate_raw = '%s'", (unsigned long long)b.hi,
             b.last_plate);
    CHECK_INT(s_count(sql), 1);
    /* The second run's new reads come after the recovered ones: no seq names two reads. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.plate_read WHERE seq BETWEEN %llu AND %llu",
             (unsigned long long)b.hi + 1, (unsigned long long)b.hi + COUNT2);
    CHECK_INT(h_wait_ll(db.admin, sql, COUNT2, 20000), COUNT2);
    CHECK_INT(s_count("true"), made1 + COUNT2);
    CHECK_INT(s_count("seq < 1000"), 0);
    /* Both runs sent under the one epoch kept in the spool folder (version 2 READs). */
    char epoch_path[600];
    snprintf(epoch_path, sizeof epoch_path, "%s/epoch", camdir);
    char *epoch = h_slurp(epoch_path);
    CHECK(epoch && atoll(epoch) > 1700000000LL);
    if (epoch) {
        epoch[strcspn(epoch, "\n")] = '\0';
        snprintf(sql, sizeof sql, "epoch = %s", epoch);
        CHECK_INT(s_count(sql), made1 + COUNT2);
        free(epoch);
    }

    /* Acknowledged, so out of the camera's backlog at its exit. */
    struct backlog after = s_backlog(camdir);
    CHECK(after.ok);
    CHECK_INT(after.n, 0);
    char *dump = h_slurp(path[4]);
    long long lines = 0;
    for (const char *p = dump; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, b.n + COUNT2);

    if (check_failed) {
        fprintf(stderr, "--- first camera run:\n%s%s--- second:\n%s%s", h_slurp(path[0]),
                h_slurp(path[1]), out2, err2);
    }
    free(out2);
    free(err2);
    free(dump);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    if (!check_failed)
        h_rmtree(base);
    h_db_close(&db);
    return check_done("itest_camera_spool");
}
