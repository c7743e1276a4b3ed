/*
 * Integration: the Prometheus endpoint of a running anprd, fetched over real HTTP, counts what
 * the test sent: reads accepted, stored and acknowledged, refusals by reason, HITs by list and
 * match kind (a covert list only as list="covert"), the latency histograms, the reader
 * connections; the text is valid exposition format; a bad path is 404, another method 405, and
 * garbage on the port harms nothing. A non-loopback address is served too, with a warning.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "httpc.h"
#include "promtext.h"
#include "util.h"

#define CAM     "NL-N78-LANAKEN-1"
#define NREADS  30 /* accepted reads, seq 1..30 */
#define NEMPTY  3  /* seq 31..33: no letter or digit */
#define NFUTURE 2  /* seq 34..35: a day ahead */
#define NSTRAY  2  /* from a camera that is not registered */

/* The port anprd says it serves metrics on ("... (port N)"), or -1. */
static int s_port(const struct h_daemon *d)
{
    char *log = h_slurp(d->log_path);
    const char *p = strstr(log, "metrics: serving GET /metrics on ");
    int port = -1;

    if (p && (p = strstr(p, "(port ")) != NULL)
        port = atoi(p + 6);
    free(log);
    return port;
}

/* One series' value in a fresh scrape; NAN when the scrape or the series failed. */
static double s_val(const char *body, const char *series)
{
    double v;

    return body && promtext_value(body, series, &v) == 0 ? v : NAN;
}

/* Scrape until `series` reads `want` (the counters trail ingest by one snapshot at most). The
 * last body is returned (caller frees), NULL when no scrape worked. */
static char *s_scrape_until(int port, const char *series, double want, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    char *body = NULL;

    do {
        struct httpc_reply r;
        if (httpc_request("127.0.0.1", port, "GET", "/metrics", 10000, &r) != 0)
            continue;
        free(body);
        body = r.status == 200 ? r.body : NULL;
        r.body = NULL;
        httpc_reply_free(&r);
        if (s_val(body, series) == want)
            break;
    } while (util_mono_us() < deadline);
    return body;
}

static void test_counts(struct h_db *db, struct h_daemon *d, int port)
{
    void *dealer = h_dealer(d->ingest_ep), *stray = h_dealer(d->ingest_ep);
    long long stolen = h_query_ll(db->admin, "SELECT id FROM anpr.watchlist WHERE name = 'Stolen'");
    long long wanted = h_query_ll(db->admin, "SELECT id FROM anpr.watchlist WHERE name = 'Wanted'");
    long long covert =
        h_query_ll(db->admin, "SELECT id FROM anpr.watchlist WHERE name = 'Operation Nightjar'");
    struct h_acks a;
    char series[160], err[256] = "";
    uint64_t seq = 1;

    for (int i = 1; i <= 5; i++) {
        char plate[16];
        snprintf(plate, sizeof plate, "1-STL-00%d", i);
        struct proto_read r = h_read(CAM, seq++, plate, "BE");
        h_send_read(dealer, &r);
    }
    struct proto_read r = h_read(CAM, seq++, "1-0CR-001", "BE"); /* O read as 0: an OCR HIT */
    h_send_read(dealer, &r);
    r = h_read(CAM, seq++, "1-CVT-001", "BE");
    h_send_read(dealer, &r);
    while (seq <= NREADS) {
        char plate[16];
        snprintf(plate, sizeof plate, "2-ABC-%03d", (int)seq);
        r = h_read(CAM, seq++, plate, "BE");
        h_send_read(dealer, &r);
    }
    for (int i = 0; i < NEMPTY; i++) {
        r = h_read(CAM, seq++, "--", "BE");
        h_send_read(dealer, &r);
    }
    for (int i = 0; i < NFUTURE; i++) {
        r = h_read(CAM, seq++, "3-FUT-001", "BE");
        r.time_us += 86400LL * 1000000;
        h_send_read(dealer, &r);
    }
    h_acks_init(&a, 1, NREADS, 16);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 20000), NREADS);
    while (a.nrejects < NEMPTY + NFUTURE && h_wait_reject(&a, dealer, CAM, NULL, 10000) == 0)
        ;
    CHECK_INT(a.nrejects, NEMPTY + NFUTURE);
    h_acks_free(&a);
    h_acks_init(&a, 1, 1, 4);
    for (int i = 0; i < NSTRAY; i++) {
        r = h_read("XX-NOWHERE-1", (uint64_t)i + 1, "1-STL-001", "BE");
        h_send_read(stray, &r);
        CHECK_INT(h_wait_reject(&a, stray, "XX-NOWHERE-1", NULL, 10000), 0);
    }
    h_acks_free(&a);

    char *m = s_scrape_until(port, "anprd_frames_received_total",
                             NREADS + NEMPTY + NFUTURE + NSTRAY, 20000);
    CHECK(m != NULL);
    CHECK_INT(promtext_check(m ? m : "", err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "exposition format: %s\n", err);
    CHECK(s_val(m, "anprd_frames_received_total") == NREADS + NEMPTY + NFUTURE + NSTRAY);
    CHECK(s_val(m, "anprd_reads_accepted_total") == NREADS);
    CHECK(s_val(m, "anprd_reads_stored_total") == NREADS);
    CHECK(s_val(m, "anprd_reads_acked_total") == NREADS);
    CHECK(s_val(m, "anprd_rejects_total{reason=\"plate_empty\"}") == NEMPTY);
    CHECK(s_val(m, "anprd_rejects_total{reason=\"time_out_of_range\"}") == NFUTURE);
    CHECK(s_val(m, "anprd_rejects_total{reason=\"unknown_camera\"}") == NSTRAY);
    CHECK(s_val(m, "anprd_rejects_total{reason=\"bad_magic\"}") == 0);
    CHECK(s_val(m, "anprd_hits_total") == 7);
    snprintf(series, sizeof series, "anprd_list_hits_total{list=\"%lld\",kind=\"exact\"}", stolen);
    CHECK(s_val(m, series) == 5);
    snprintf(series, sizeof series, "anprd_list_hits_total{list=\"%lld\",kind=\"ocr\"}", wanted);
    CHECK(s_val(m, series) == 1);
    CHECK(s_val(m, "anprd_list_hits_total{list=\"covert\",kind=\"exact\"}") == 1);
    /* Neither the covert list's id nor any list's name. */
    snprintf(series, sizeof series, "list=\"%lld\"", covert);
    CHECK(m && strstr(m, series) == NULL);
    CHECK(m && strstr(m, "Nightjar") == NULL && strstr(m, "Stolen") == NULL);
    CHECK(m && strstr(m, "1-STL") == NULL && strstr(m, "1STL") == NULL);
    CHECK(s_val(m, "anprd_ack_latency_seconds_count") == NREADS);
    CHECK(s_val(m, "anprd_ack_latency_seconds_bucket{le=\"+Inf\"}") == NREADS);
    CHECK(s_val(m, "anprd_hit_latency_seconds_count") == 7);
    CHECK(s_val(m, "anprd_writer_batch_reads_sum") == NREADS);
    CHECK(s_val(m, "anprd_watchlist_entries") == 7);
    CHECK(s_val(m, "anprd_cameras_connected") == 2);
    CHECK(s_val(m, "anprd_pending_reads") == 0);
    free(m);
    h_close(dealer);
    h_close(stray);
}

static void test_http(int port)
{
    struct httpc_reply r;

    CHECK_INT(httpc_request("127.0.0.1", port, "GET", "/nope", 10000, &r), 0);
    CHECK_INT(r.status, 404);
    httpc_reply_free(&r);
    CHECK_INT(httpc_request("127.0.0.1", port, "POST", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 405);
    httpc_reply_free(&r);
    CHECK_INT(httpc_raw("127.0.0.1", port, "GET /metrics\x01\xff HTTP/9.9\r\n\r\n", 10000, &r), 0);
    CHECK(r.status >= 400);
    httpc_reply_free(&r);
    CHECK_INT(httpc_request("127.0.0.1", port, "HEAD", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.len, 0);
    httpc_reply_free(&r);
}

/* Spool mode: the counters of reads made durable in the spool and stored by the writer. */
static void test_spool(struct h_daemon *d, int port)
{
    enum { N = 10 };
    void *dealer = h_dealer(d->ingest_ep);
    struct h_acks a;
    char err[256] = "";

    for (int i = 1; i <= N; i++) {
        char plate[16];
        snprintf(plate, sizeof plate, "4-SPL-%03d", i);
        struct proto_read r = h_read(CAM, (uint64_t)(1000 + i), plate, "BE");
        h_send_read(dealer, &r);
    }
    h_acks_init(&a, 1001, N, 4);
    CHECK_INT(h_acks_wait(&a, dealer, CAM, 20000), N);
    h_acks_free(&a);
    /* Acknowledged once in the spool; stored when the writer has drained it. */
    char *m = s_scrape_until(port, "anprd_reads_stored_total", N, 20000);
    CHECK(m != NULL);
    CHECK_INT(promtext_check(m ? m : "", err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "exposition format: %s\n", err);
    CHECK(s_val(m, "anprd_reads_stored_total") == N);
    CHECK(s_val(m, "anprd_reads_acked_total") == N);
    CHECK(s_val(m, "anprd_ack_latency_seconds_count") == N);
    CHECK(s_val(m, "anprd_writer_batch_reads_sum") == N);
    CHECK(s_val(m, "anprd_writer_batch_reads_count") >= 1);
    free(m);
    m = s_scrape_until(port, "anprd_spool_depth_records", 0, 20000);
    CHECK(s_val(m, "anprd_spool_depth_records") == 0);
    CHECK(s_val(m, "anprd_spool_oldest_read_age_seconds") == 0);
    free(m);
    h_close(dealer);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct h_daemon_opts opts = {.metrics = "127.0.0.1:0"};

    h_require_env();
    h_db_create(&db, "itest_metrics");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'N78 Lanaken');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, covert) VALUES "
           "('Stolen', 'stolen', 1, 0, false), ('Operation Nightjar', 'surveillance', 2, 0, true);"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, match_policy) "
           "VALUES ('Wanted', 'wanted', 1, 0, 'ocr');"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country) SELECT id, p, 'BE' "
           "FROM anpr.watchlist, (VALUES ('1-STL-001'), ('1-STL-002'), ('1-STL-003'), "
           "('1-STL-004'), ('1-STL-005')) v(p) WHERE name = 'Stolen';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country) "
           "SELECT id, '1-OCR-001', 'BE' FROM anpr.watchlist WHERE name = 'Wanted';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country) "
           "SELECT id, '1-CVT-001', 'BE' FROM anpr.watchlist WHERE name = 'Operation Nightjar';");
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    int port = s_port(&d);
    CHECK(port > 0);
    CHECK(!h_daemon_log_has(&d, "not a loopback address"));
    if (port > 0) {
        test_counts(&db, &d, port);
        test_http(port);
    }
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);

    /* Any address when configured, said in the log; loopback reaches it too. This one has
     * the write-ahead spool: reads are acknowledged once in it, and the writer's part of the
     * counters (stored, batch sizes) comes from its own thread. */
    char spool[64] = "/tmp/anprd-metrics-spool.XXXXXX", extra[128];
    if (!mkdtemp(spool))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s\"\n", spool);
    opts.metrics = "0.0.0.0:0";
    opts.extra = extra;
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    CHECK(h_daemon_log_has(&d, "is not a loopback address"));
    port = s_port(&d);
    CHECK(port > 0);
    if (port > 0)
        test_spool(&d, port);
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    if (!check_failed)
        h_rmtree(spool);
    h_db_close(&db);
    return check_done("itest_metrics");
}
