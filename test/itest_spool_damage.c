/*
 * Integration: a damaged spool, record by record. 2000 reads are acknowledged from the spool
 * while the database is away, anprd is killed, and the segment file is damaged the ways a disk
 * does: a flipped bit in the segment header, one in a record's payload, one in another
 * record's length, and the file cut exactly at a record boundary, three records short. The
 * file is read here with the rules of docs/SPOOL.md alone. Then:
 *   - `anpr-spool verify` (read-only) reports the four stretches and 5 records lost, and
 *     changes nothing;
 *   - the restarted anprd logs the same 5 reads lost, sets the damaged bytes aside in
 *     quarantine files, names the camera and sequence numbers of the damaged reads read back
 *     from them, and stores every other acknowledged read: acknowledged == stored except
 *     exactly the 5 reads whose records were damaged or cut off;
 *   - the stats line counts them (lost=5), and `anpr-spool verify` afterwards finds no damage;
 *   - a bit flipped under the running anprd (3000 reads waiting for the database): that read
 *     is set aside and skipped, all others stored, lost=1 in this run; once all is stored, the
 *     segment is freed and `anpr-spool verify` finds nothing left to report.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "NL-A2-EIJSDEN"
#define N   2000

static struct h_db db;
static char s_tmp[64];
static char *s_out; /* the last anpr-spool run's output */

/* anpr-spool [--repair] verify DIR; its exit code, its output in s_out. */
static int s_verify(const char *dir)
{
    char out[128], err[128];
    char *argv[] = {getenv("ANPR_SPOOL"), "verify", (char *)dir, NULL};

    snprintf(out, sizeof out, "%s/verify.out", s_tmp);
    snprintf(err, sizeof err, "%s/verify.err", s_tmp);
    int rc = h_wait(h_spawn(argv, out, err), 60000);
    free(s_out);
    s_out = h_slurp(out);
    fprintf(stderr, "$ anpr-spool verify: rc %d\n%s", rc, s_out ? s_out : "");
    return rc;
}

/* The newest segment file in dir, into path. */
static bool s_newest_segment(const char *dir, char *path, size_t cap)
{
    DIR *d = opendir(dir);
    char best[256] = "";

    if (!d)
        return false;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0 &&
            strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    snprintf(path, cap, "%s/%s", dir, best);
    return best[0] != '\0';
}

static int s_count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;

    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static uint64_t s_get32(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

/* Record offsets of a segment file, from its 40-byte header on (docs/SPOOL.md). */
static size_t s_records(const char *path, uint64_t *off, size_t max, uint64_t *size)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    size_t n = 0;

    if (fd < 0 || fstat(fd, &st) < 0)
        return 0;
    *size = (uint64_t)st.st_size;
    for (uint64_t o = 40; o + 16 <= *size && n < max;) {
        uint8_t h[16];
        if (pread(fd, h, sizeof h, (off_t)o) != (ssize_t)sizeof h)
            break;
        off[n++] = o;
        o += 16 + s_get32(h);
    }
    close(fd);
    return n;
}

static void s_flip(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    uint8_t b = 0;

    CHECK(fd >= 0 && pread(fd, &b, 1, (off_t)off) == 1);
    b ^= mask;
    CHECK(fd >= 0 && pwrite(fd, &b, 1, (off_t)off) == 1);
    if (fd >= 0)
        close(fd);
}

/*
 * One read stored through the spool before the database is locked out: the daemon's sessions
 * are all up by then, so none is left half-connected for the lock-out to wait on. It is record 0
 * of the segment this run writes.
 */
static void s_warm_up(void *dealer, uint64_t seq, long long stored_after)
{
    struct h_acks acks;
    struct proto_read r = h_read(CAM, seq, "1-DMG-WARM", "BE");

    h_send_read(dealer, &r);
    h_acks_init(&acks, seq, 1, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 1);
    h_acks_free(&acks);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", stored_after, 20000) ==
          stored_after);
}

int main(void)
{
    struct h_daemon d;
    struct h_acks acks;
    char extra[512], spool[300], seg[600], sql[256];
    static uint64_t off[4000];
    uint64_t size = 0;

    h_require_env();
    h_db_create(&db, "itest_spool_damage");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'A2 Eijsden')");
    snprintf(s_tmp, sizeof s_tmp, "/tmp/anprd-dmg.XXXXXX");
    if (!mkdtemp(s_tmp))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(spool, sizeof spool, "%s/reads", s_tmp);
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s\"\n  max_mb: 64\n", spool);
    struct h_daemon_opts opts = {.extra = extra};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);

    /* 2000 reads acknowledged from the spool alone, then kill -9. */
    s_warm_up(dealer, 1, 1);
    CHECK(h_db_lock_out(&db));
    uint64_t first = 1001; /* camera sequence numbers apart from the spool's */
    for (uint64_t i = 0; i < N; i++) {
        char plate[16];
        snprintf(plate, sizeof plate, "1-DMG-%04u", (unsigned)i);
        struct proto_read r = h_read(CAM, first + i, plate, "BE");
        h_send_read(dealer, &r);
    }
    h_acks_init(&acks, first, N, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 20000), N);
    h_acks_free(&acks);
    CHECK_INT(h_daemon_stop(&d, SIGKILL, 5000), 128 + SIGKILL);

    /* The damage. Record k holds read first + k: one camera, sent in order on one socket. */
    CHECK(h_spool_segment(spool, seg, sizeof seg));
    size_t n = s_records(seg, off, N + 16, &size);
    CHECK_INT(n, N + 1); /* record 0: the warm-up read; read k is record k + 1 (spool seq k + 2) */
    if (n != N + 1)
        goto out;
    s_flip(seg, 20, 0x10);                            /* the header's base field */
    s_flip(seg, off[1 + 500] + 16 + 30, 1);           /* a payload byte of read 500 */
    s_flip(seg, off[1 + 1200] + 1, 0x40);             /* the length of read 1200 */
    CHECK(truncate(seg, (off_t)off[1 + N - 3]) == 0); /* the last 3, at their boundary */
    const uint64_t lost[] = {500, 1200, N - 3, N - 2, N - 1};

    /* anpr-spool verify reads it as anprd will, and changes nothing. */
    struct stat st0, st1;
    CHECK(stat(seg, &st0) == 0);
    CHECK_INT(s_verify(spool), 1);
    CHECK(s_out && strstr(s_out, "4 damaged stretches"));
    CHECK(s_out && strstr(s_out, ", 5 records lost"));
    CHECK(s_out && strstr(s_out, "1 records lost (sequence 502..502)"));
    CHECK(s_out && strstr(s_out, "1 records lost (sequence 1202..1202)"));
    CHECK(s_out && strstr(s_out, "3 records lost (sequence 1999..2001)"));
    CHECK(stat(seg, &st1) == 0 && st1.st_size == st0.st_size);
    CHECK_INT(s_count_prefix(spool, "quarantine-"), 0);

    /* anprd with the database back: the same figures, and every other read stored. */
    h_db_let_in(&db);
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK(h_daemon_log_has(&d, "spool: 5 acknowledged reads lost to damage"));
    CHECK(h_daemon_log_has(&d, "every valid record before and after the damage is kept"));
    CHECK(h_daemon_log_has(&d, "1 reads lost (spool sequence 502..502)"));
    CHECK(h_daemon_log_has(&d, "3 reads lost (spool sequence 1999..2001)"));
    CHECK(h_daemon_log_has(&d, "set aside in quarantine-"));
    /* Which reads: read back from the bytes set aside (the cut-off ones left none). */
    CHECK(h_daemon_log_has(&d, "lost reads, as far as the damaged bytes tell"));
    CHECK(h_daemon_log_has(&d, "seq 1501..1501"));
    CHECK(h_daemon_log_has(&d, "seq 2201..2201"));
    CHECK_INT(s_count_prefix(spool, "quarantine-"), 3); /* header, record 500, record 1200 */
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 1 + N - 5, 30000) ==
          1 + N - 5);
    for (size_t i = 0; i < sizeof lost / sizeof lost[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.plate_read WHERE seq = %llu",
                 (unsigned long long)(first + lost[i]));
        CHECK_INT(h_query_ll(db.admin, sql), 0);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT seq) FROM anpr.plate_read WHERE seq BETWEEN %llu AND %llu",
             (unsigned long long)first, (unsigned long long)(first + N - 1));
    CHECK_INT(h_query_ll(db.admin, sql), N - 5);
    CHECK(h_daemon_wait_log(&d, "lost=5", 10000));
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);

    /* Set aside once: no damage any more. (The repaired segment is wholly stored now, so no
     * open reads it again: its gaps were reported once, at the repair.) */
    CHECK_INT(s_verify(spool), 0);
    CHECK(s_out && strstr(s_out, "0 damaged stretches"));

    /* Damage while anprd runs: 3000 more reads wait in the spool (the database away), and a bit
     * of read 2500's record flips under it. The writer skips that one record, once, and stores
     * the rest; lost=1. */
    CHECK_INT(h_daemon_restart(&d), 0);
    s_warm_up(dealer, first + N + 10000, 1 + N - 5 + 1);
    CHECK(h_db_lock_out(&db));
    uint64_t first2 = first + N;
    for (uint64_t i = 0; i < 3000; i++) {
        struct proto_read r = h_read(CAM, first2 + i, "1-DMG-LIVE", "BE");
        h_send_read(dealer, &r);
    }
    h_acks_init(&acks, first2, 3000, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 20000), 3000);
    h_acks_free(&acks);
    CHECK(s_newest_segment(spool, seg, sizeof seg));
    n = s_records(seg, off, 4000, &size);
    CHECK(n > 2501);
    if (n > 2501)
        s_flip(seg, off[1 + 2500] + 16 + 30, 4); /* after the warm-up read */
    h_db_let_in(&db);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 1 + N - 5 + 1 + 2999,
                    30000) == 1 + N - 5 + 1 + 2999);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.plate_read WHERE seq = %llu",
             (unsigned long long)(first2 + 2500));
    CHECK_INT(h_query_ll(db.admin, sql), 0);
    CHECK(h_daemon_wait_log(&d, "damage found while running (1 stretches so far)", 10000));
    CHECK(h_daemon_wait_log(&d, "lost=1", 10000)); /* counters start at each start */
    h_close(dealer);
    dealer = NULL;
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    /* Set aside while running: its bytes are in a fourth quarantine file. The segment that
     * held it is wholly stored, so the next open frees it instead of reading it again. */
    CHECK_INT(s_count_prefix(spool, "quarantine-"), 4);
    CHECK_INT(s_verify(spool), 0);
    CHECK(s_out && strstr(s_out, "0 damaged stretches"));
out:
    if (dealer)
        h_close(dealer);
    free(s_out);
    h_rmtree(s_tmp);
    h_db_close(&db);
    return check_done("itest_spool_damage");
}
