/*
 * Integration: the write-ahead spool. With spool.dir set, a read is acknowledged once it is
 * durable in the spool, also while the database is away, and stored when it is back:
 *   1. reads are acknowledged while the daemon's database role is locked out, and all stored
 *      once it may log in again;
 *   2. reads acknowledged from the spool survive kill -9: the restarted daemon stores them;
 *   3. a spool file damaged at its end (a torn write) is reported with file and offset, and
 *      the valid records before the damage are stored;
 *   4. a full disk (a 256 KiB tmpfs): what could not be written is not acknowledged, and what
 *      was acknowledged is stored, through a kill -9 in the middle of it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#define CAM "NL-A2-EIJSDEN"

static struct h_db db;
static uint64_t next_seq = 1;

/* Send n reads on dealer, seqs from next_seq; the first seq. */
static uint64_t s_send(void *dealer, size_t n)
{
    return h_send_reads(dealer, CAM, &next_seq, n, "1-SPL-");
}

static long long s_stored(void)
{
    return h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read");
}

/* The last oldest_age_ms the daemon's stats lines gave (0 when none). */
static long long s_last_age(const struct h_daemon *d)
{
    long long age = 0;
    char *log = h_slurp(d->log_path);

    for (const char *p = log; p && (p = strstr(p, "oldest_age_ms=")) != NULL; p++)
        age = strtoll(p + 14, NULL, 10);
    free(log);
    return age;
}

/* The newest segment file of the spool in dir, into path. */
static bool s_last_segment(const char *dir, char *path, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char best[256] = "";

    if (!d)
        return false;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".seg") && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    snprintf(path, cap, "%s/%s", dir, best);
    return best[0] != '\0';
}

int main(void)
{
    struct h_daemon d;
    struct h_acks acks;
    char extra[512], spool[256], seg[512];

    h_require_env();
    h_db_create(&db, "itest_spool");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'A2 Eijsden')");

    /* The spool in a folder of its own, kept across the daemon's restarts. */
    snprintf(spool, sizeof spool, "/tmp/anprd-spool.XXXXXX");
    if (!mkdtemp(spool))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/reads\"\n  max_mb: 64\n", spool);
    struct h_daemon_opts opts = {.extra = extra};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);

    /* 1. With the database: acknowledged and stored. */
    uint64_t first = s_send(dealer, 1000);
    h_acks_init(&acks, first, 1000, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 1000);
    h_acks_free(&acks);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 1000, 10000) == 1000);

    /* Without it: acknowledged from the spool all the same, stored once it is back. */
    CHECK(h_db_lock_out(&db));
    first = s_send(dealer, 1000);
    h_acks_init(&acks, first, 1000, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 1000);
    h_acks_free(&acks);
    CHECK_INT(s_stored(), 1000);
    CHECK(h_daemon_wait_log(&d, "depth=", 5000)); /* the stats line names the backlog */
    /* ... and how long its oldest read has waited. */
    long long age = 0;
    for (int64_t until = util_mono_us() + 5000000; age <= 0 && util_mono_us() < until;) {
        age = s_last_age(&d);
        if (age <= 0)
            usleep(100000);
    }
    CHECK(age > 0);
    /* A long outage leaves more groups waiting than the daemon keeps marks of (256): the age
     * is still that of the oldest read. 600 more groups of one read each (the next is sent
     * once the last is acknowledged); then a stats line must give at least the time since
     * the first of them. */
    int64_t t0 = util_mono_us();
    for (int g = 0; g < 600; g++) {
        uint64_t one = s_send(dealer, 1);
        h_acks_init(&acks, one, 1, 0);
        size_t got = h_acks_wait(&acks, dealer, CAM, 5000);
        h_acks_free(&acks);
        if (got != 1) {
            CHECK_INT(got, 1);
            break;
        }
    }
    long long span_ms = (util_mono_us() - t0) / 1000;
    int lines = h_daemon_log_count(&d, "oldest_age_ms=");
    for (int64_t until = util_mono_us() + 3000000;
         h_daemon_log_count(&d, "oldest_age_ms=") <= lines && util_mono_us() < until;)
        usleep(50000);
    fprintf(stderr, "600 groups over %lld ms; oldest age then %lld ms\n", span_ms, s_last_age(&d));
    CHECK(s_last_age(&d) >= span_ms);
    h_db_let_in(&db);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 2600, 20000) == 2600);

    /* 2. Acknowledged, not stored, kill -9: the next start stores them. */
    CHECK(h_db_lock_out(&db));
    first = s_send(dealer, 500);
    h_acks_init(&acks, first, 500, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 500);
    h_acks_free(&acks);
    CHECK_INT(h_daemon_stop(&d, SIGKILL, 5000), 128 + SIGKILL);
    h_db_let_in(&db);
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK(h_daemon_log_has(&d, "reads not yet stored"));
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 3100, 20000) == 3100);

    /* 3. A torn write at the end of the spool: the damage is reported, the rest is stored. */
    CHECK(h_db_lock_out(&db));
    first = s_send(dealer, 100);
    h_acks_init(&acks, first, 100, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 100);
    h_acks_free(&acks);
    CHECK_INT(h_daemon_stop(&d, SIGKILL, 5000), 128 + SIGKILL);
    char reads[300];
    snprintf(reads, sizeof reads, "%s/reads", spool);
    CHECK(s_last_segment(reads, seg, sizeof seg));
    struct stat st;
    CHECK(stat(seg, &st) == 0 && st.st_size > 100);
    /* The last record loses its last bytes, as if the machine had stopped mid-write. */
    CHECK(truncate(seg, st.st_size - 7) == 0);
    h_db_let_in(&db);
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK(h_daemon_log_has(&d, "spool damaged"));
    CHECK(h_daemon_log_has(&d, seg));
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 3199, 20000) == 3199);
    /* The one damaged read was the last one sent. */
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.plate_read WHERE seq = %llu",
             (unsigned long long)(next_seq - 1));
    CHECK_INT(h_query_ll(db.admin, sql), 0);
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);

    /* 4. A full disk: a spool on a 256 KiB file system, the database away. */
    char small[300];
    snprintf(small, sizeof small, "%s/small", spool);
    mkdir(small, 0755);
    if (mount("tmpfs", small, "tmpfs", 0, "size=256k") != 0) {
        fprintf(stderr, "itest_spool: part 4 needs root to mount a tmpfs (%s): not run\n",
                strerror(errno));
    } else {
        snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/reads\"\n  max_mb: 64\n", small);
        opts.extra = extra;
        long long before = s_stored();
        if (h_daemon_start_opts(&d, &db, &opts) != 0) {
            umount(small);
            return 1;
        }
        dealer = h_dealer(d.ingest_ep);
        CHECK(h_db_lock_out(&db));
        first = s_send(dealer, 3000);
        h_acks_init(&acks, first, 3000, 0);
        size_t acked = h_acks_wait(&acks, dealer, CAM, 3000);
        fprintf(stderr, "disk full: %zu of 3000 reads acknowledged\n", acked);
        CHECK(acked > 0 && acked < 3000);
        CHECK(h_daemon_wait_log(&d, "No space left on device", 5000));
        /* Killed while full; what was acknowledged is stored after the restart. */
        CHECK_INT(h_daemon_stop(&d, SIGKILL, 5000), 128 + SIGKILL);
        h_db_let_in(&db);
        CHECK_INT(h_daemon_restart(&d), 0);
        CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", before + (long long)acked,
                        20000) >= before + (long long)acked);
        size_t missing = 0;
        for (size_t i = 0; i < 3000; i++) {
            if (!acks.acked[i])
                continue;
            snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.plate_read WHERE seq = %llu",
                     (unsigned long long)(first + i));
            missing += h_query_ll(db.admin, sql) != 1;
        }
        CHECK_INT(missing, 0);
        h_acks_free(&acks);
        h_close(dealer);
        CHECK_INT(h_daemon_finish(&d, check_failed), 0);
        umount(small);
    }
    h_rmtree(spool);
    h_db_close(&db);
    return check_done("itest_spool");
}
