/*
 * Integration: group commit goes at the disk's pace, not the timer's (gcommit.h). One camera
 * with one read in flight, flush_interval_ms at its largest (10 s): each read is acknowledged
 * as soon as its commit is done, far inside the timer, in database mode (a COPY and COMMIT)
 * and with the spool (one fdatasync). With the timer driving commits each ACK would take 10 s
 * and the waits below (5 s each) would run out. Then a burst: every read acknowledged and
 * stored once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM      "CAM-GC"
#define TIMER_MS 10000 /* database.flush_interval_ms: the largest the configuration takes */
#define WAIT_MS  5000  /* an ACK later than this waited for the timer */
#define LONE     20    /* reads sent one at a time */
#define BURST    300   /* reads sent at once */

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* One read at a time: its ACK within WAIT_MS. Returns the median µs of the LONE. */
static int64_t s_one_at_a_time(void *dealer, uint64_t *seq)
{
    int64_t lat[LONE];

    for (int i = 0; i < LONE; i++) {
        struct h_acks a;
        h_acks_init(&a, *seq, 1, 4);
        int64_t t0 = util_mono_us();
        h_send_reads(dealer, CAM, seq, 1, "1-GCL-");
        CHECK_INT(h_acks_wait(&a, dealer, CAM, WAIT_MS), 1);
        lat[i] = util_mono_us() - t0;
        CHECK_INT(a.nrejects, 0);
        h_acks_free(&a);
    }
    qsort(lat, LONE, sizeof *lat, s_cmp_i64);
    CHECK(lat[LONE - 1] < (int64_t)WAIT_MS * 1000);
    return lat[LONE / 2];
}

static void s_mode(const struct h_db *db, const char *name, const char *extra)
{
    struct h_daemon d;
    const struct h_daemon_opts opts = {.flush_interval_ms = TIMER_MS, .extra = extra};
    uint64_t seq = 1;
    char sql[256];

    h_exec(db->admin, "TRUNCATE anpr.plate_read, anpr.read_identity");
    if (h_daemon_start_opts(&d, db, &opts) != 0) {
        CHECK(!"anprd started");
        return;
    }
    void *dealer = h_dealer(d.ingest_ep);

    /* The first read also waits for the connection: it is not measured. */
    struct h_acks a;
    h_acks_init(&a, seq, 1, 4);
    h_send_reads(dealer, CAM, &seq, 1, "1-GCW-");
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 15000), 1);
    h_acks_free(&a);

    int64_t p50 = s_one_at_a_time(dealer, &seq);
    printf("%s: one read in flight, ACK p50 %" PRId64 " us (flush_interval_ms %d)\n", name, p50,
           TIMER_MS);
    fflush(stdout);

    /* A burst: all acknowledged (sharing commits), none refused, each stored once. */
    uint64_t first = seq;
    h_acks_init(&a, first, BURST, 4);
    h_send_reads(dealer, CAM, &seq, BURST, "2-GCB-");
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 30000), BURST);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id "
             "WHERE c.code = '%s'",
             CAM);
    CHECK_INT(h_wait_ll(db->admin, sql, (long long)(seq - 1), 30000), (long long)(seq - 1));
    snprintf(sql, sizeof sql,
             "SELECT count(*) - count(DISTINCT seq) FROM anpr.plate_read r JOIN anpr.camera c "
             "ON c.id = r.camera_id WHERE c.code = '%s'",
             CAM);
    CHECK_INT(h_query_ll(db->admin, sql), 0);
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
}

int main(void)
{
    struct h_db db;
    char spool[64], extra[192];

    h_require_env();
    h_db_create(&db, "itest_gcommit");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'one at a time')");

    s_mode(&db, "database", NULL);

    snprintf(spool, sizeof spool, "/tmp/anprd-gc.XXXXXX");
    if (!mkdtemp(spool))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s/reads\"\n", spool);
    s_mode(&db, "spool", extra);
    if (check_failed == 0)
        h_rmtree(spool);

    h_db_close(&db);
    return check_done("itest_gcommit");
}
