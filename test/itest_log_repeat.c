/*
 * Integration: the spool directory removed under a running anprd (a careless cleanup job).
 * anprd stops acknowledging at once (writes into the removed files would succeed and be lost)
 * and says why; the group commit is retried every 100 ms and fails each time, and the log
 * holds at most one such line a second (log.reject_log_interval_s is 1 in the tests), the
 * lines saying how many like them were held back, so that no failure goes uncounted. After a
 * restart the camera's resends are acknowledged and stored.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM    "CAM-LOGR"
#define NREADS 300

/* In the log, the lines that contain needle, and the failures they stand for (each line one,
 * plus the "N more like this" it says). */
static void s_tally(const char *log, const char *needle, long long *lines, long long *failures)
{
    const char *p = log;

    *lines = 0;
    *failures = 0;
    while (p && *p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        if (strstr(line, needle)) {
            const char *more = strstr(line, " more like this");
            (*lines)++;
            if (more) {
                const char *q = more;
                while (q > line && q[-1] >= '0' && q[-1] <= '9')
                    q--;
                *failures += strtoll(q, NULL, 10);
            }
            /* a summary line stands for the held-back ones only */
            *failures += !(more && strstr(line, "since the last such line, the last:"));
        }
        p = end ? end + 1 : NULL;
    }
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct h_acks a;
    char dir[] = "/tmp/itest-logr.XXXXXX", spool[256], extra[512];

    h_require_env();
    if (!mkdtemp(dir))
        h_fatal("mkdtemp failed");
    snprintf(spool, sizeof spool, "%s/reads", dir);
    h_db_create(&db, "itest_log_repeat");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'log reader')");
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s\"\n", spool);
    struct h_daemon_opts opts = {.extra = extra};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);

    /* A first read acknowledged: the spool has its segment open. */
    struct proto_read first = h_read(CAM, 1, "1-LOG-000", "BE");
    CHECK_INT(h_send_read(dealer, &first), 0);
    h_acks_init(&a, 1, 1, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 10000), 1);
    h_acks_free(&a);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 1, 10000), 1);

    /* The directory goes. From then on nothing is acknowledged (writes into the removed files
     * would still succeed, and be lost): anprd says so, and keeps saying so, rate-limited. */
    int64_t t0 = util_mono_us();
    CHECK_INT(h_rmtree(spool), 0);
    for (uint64_t seq = 2; seq <= NREADS + 1; seq++) {
        char plate[32];
        snprintf(plate, sizeof plate, "1-LOG-%03d", (int)seq);
        struct proto_read r = h_read(CAM, seq, plate, "BE");
        CHECK_INT(h_send_read(dealer, &r), 0);
    }
    h_acks_init(&a, 2, NREADS, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 4000), 0);
    h_acks_free(&a);
    CHECK(h_daemon_wait_log(&d, "was removed or replaced while anprd had it open", 10000));
    /* Stopped, so the lines held back at the end are summed up too. */
    h_daemon_stop(&d, SIGTERM, 30000);
    double elapsed_s = (double)(util_mono_us() - t0) / 1e6;

    char *log = h_slurp(d.log_path);
    long long lines, failures;
    s_tally(log, "was removed or replaced", &lines, &failures);
    free(log);
    fprintf(stderr, "itest_log_repeat: %lld lines for %lld failed group commits in %.1f s\n", lines,
            failures, elapsed_s);
    /* Said, and counted: one line a second at most, the first and the summary at exit; the
     * group is retried every 100 ms. */
    CHECK(lines >= 1);
    CHECK(lines <= (long long)elapsed_s + 3);
    CHECK(failures >= 10);

    /* A restart opens the spool again; the camera's resends are acknowledged and stored: what
     * was acknowledged is stored, nothing else was acknowledged. */
    CHECK_INT(h_daemon_restart(&d), 0);
    h_close(dealer);
    dealer = h_dealer(d.ingest_ep);
    for (uint64_t seq = 2; seq <= NREADS + 1; seq++) {
        char plate[32];
        snprintf(plate, sizeof plate, "1-LOG-%03d", (int)seq);
        struct proto_read r = h_read(CAM, seq, plate, "BE");
        CHECK_INT(h_send_read(dealer, &r), 0);
    }
    h_acks_init(&a, 2, NREADS, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 20000), NREADS);
    h_acks_free(&a);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", NREADS + 1, 20000),
              NREADS + 1);

    h_close(dealer);
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    h_rmtree(dir);
    h_db_close(&db);
    return check_done("itest_log_repeat");
}
