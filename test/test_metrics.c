/*
 * metrics: the renderer gives valid exposition text (checked line by line by promtext) with the
 * snapshot's values; HITs are counted by list and kind, covert lists together; reader
 * connections are counted within their window; the HTTP server on loopback answers GET and
 * HEAD of /metrics, 404 and 405 otherwise, 503 before the first snapshot.
 */
#include <math.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "httpc.h"
#include "metrics.h"
#include "promtext.h"

/* The value of one series in text, NAN when it is not there. */
static double s_val(const char *text, const char *series)
{
    double v;

    return promtext_value(text, series, &v) == 0 ? v : NAN;
}

static void s_fill(struct metrics_snap *s)
{
    memset(s, 0, sizeof *s);
    s->stats.frames = 120;
    s->stats.reads_accepted = 100;
    s->stats.reads_stored = 98;
    s->stats.reads_acked = 99;
    s->stats.rejects[PROTO_E_PLATE_EMPTY] = 7;
    s->stats.rejects[PROTO_E_TIME] = 13;
    s->stats.hits = 9;
    s->stats.pending = 2;
    s->stats.watchlist_entries = 12345;
    s->stats.watchlist_version = 77;
    s->stats.spool_depth = 5;
    s->stats.spool_oldest_ms = 1500;
    metrics_count_hit(s, 12, false, PROTO_MATCH_OCR);
    metrics_count_hit(s, 3, false, PROTO_MATCH_EXACT);
    metrics_count_hit(s, 3, false, PROTO_MATCH_EXACT);
    metrics_count_hit(s, 3, false, PROTO_MATCH_PATTERN);
    metrics_count_hit(s, 40, true, PROTO_MATCH_EXACT);
    metrics_count_hit(s, 41, true, PROTO_MATCH_CANDIDATE);
    metrics_count_hit(s, 5, false, 0);              /* not a kind: ignored */
    metrics_hist_latency(&s->ack_latency, 40);      /* <= 50 µs */
    metrics_hist_latency(&s->ack_latency, 50);      /* <= 50 µs: le is inclusive */
    metrics_hist_latency(&s->ack_latency, 3000);    /* <= 5 ms */
    metrics_hist_latency(&s->ack_latency, 9000000); /* beyond 5 s */
    metrics_hist_latency(&s->ack_latency, -5);      /* a clock step: 0 */
    metrics_hist_latency(&s->hit_latency, 700);
    metrics_hist_size(&s->batch_reads, 1);
    metrics_hist_size(&s->batch_reads, 500);
    metrics_hist_size(&s->batch_reads, 1000);
    s->cameras = 4;
    s->backbone = true;
    s->backbone_connected = true;
    s->backbone_queued = 3;
    s->backbone_sent = 10;
    s->backbone_retries = 1;
    s->curve = true;
    s->curve_allowed = 6;
    s->curve_denied = 2;
    s->curve_camera_keys = 4;
    s->curve_console_keys = 1;
    s->stats.covert_subscribed = 3;
    s->stats.covert_refused = 1;
}

static void test_render(void)
{
    static struct metrics_snap s;
    char err[256] = "";
    size_t len = 0;

    s_fill(&s);
    char *t = metrics_render(&s, &len);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_INT(len, strlen(t));
    CHECK_INT(promtext_check(t, err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    CHECK(s_val(t, "anprd_frames_received_total") == 120);
    CHECK(s_val(t, "anprd_reads_accepted_total") == 100);
    CHECK(s_val(t, "anprd_reads_stored_total") == 98);
    CHECK(s_val(t, "anprd_reads_acked_total") == 99);
    CHECK(s_val(t, "anprd_rejects_total{reason=\"plate_empty\"}") == 7);
    CHECK(s_val(t, "anprd_rejects_total{reason=\"time_out_of_range\"}") == 13);
    CHECK(s_val(t, "anprd_rejects_total{reason=\"unknown_camera\"}") == 0);
    CHECK(s_val(t, "anprd_hits_total") == 9);
    CHECK(s_val(t, "anprd_list_hits_total{list=\"3\",kind=\"exact\"}") == 2);
    CHECK(s_val(t, "anprd_list_hits_total{list=\"3\",kind=\"pattern\"}") == 1);
    CHECK(s_val(t, "anprd_list_hits_total{list=\"3\",kind=\"ocr\"}") == 0);
    CHECK(s_val(t, "anprd_list_hits_total{list=\"12\",kind=\"ocr\"}") == 1);
    CHECK(s_val(t, "anprd_list_hits_total{list=\"covert\",kind=\"exact\"}") == 1);
    CHECK(s_val(t, "anprd_list_hits_total{list=\"covert\",kind=\"candidate\"}") == 1);
    CHECK(strstr(t, "list=\"40\"") == NULL && strstr(t, "list=\"41\"") == NULL);
    CHECK(strstr(t, "list=\"5\"") == NULL);
    CHECK(strstr(t, "list=\"other\"") == NULL);
    CHECK(s_val(t, "anprd_pending_reads") == 2);
    CHECK(s_val(t, "anprd_watchlist_entries") == 12345);
    CHECK(s_val(t, "anprd_watchlist_version") == 77);
    CHECK(s_val(t, "anprd_spool_depth_records") == 5);
    CHECK(s_val(t, "anprd_spool_oldest_read_age_seconds") == 1.5);
    CHECK(s_val(t, "anprd_cameras_connected") == 4);
    CHECK(s_val(t, "anprd_curve_handshakes_total{result=\"allowed\"}") == 6);
    CHECK(s_val(t, "anprd_curve_handshakes_total{result=\"denied\"}") == 2);
    CHECK(s_val(t, "anprd_curve_keys{kind=\"camera\"}") == 4);
    CHECK(s_val(t, "anprd_curve_keys{kind=\"console\"}") == 1);
    CHECK(s_val(t, "anprd_covert_subscriptions_total{result=\"applied\"}") == 3);
    CHECK(s_val(t, "anprd_covert_subscriptions_total{result=\"refused\"}") == 1);
    /* Latencies in seconds; le inclusive; beyond the last bound only in +Inf. */
    CHECK(s_val(t, "anprd_ack_latency_seconds_bucket{le=\"0.00005\"}") == 3);
    CHECK(s_val(t, "anprd_ack_latency_seconds_bucket{le=\"0.0025\"}") == 3);
    CHECK(s_val(t, "anprd_ack_latency_seconds_bucket{le=\"0.005\"}") == 4);
    CHECK(s_val(t, "anprd_ack_latency_seconds_bucket{le=\"5\"}") == 4);
    CHECK(s_val(t, "anprd_ack_latency_seconds_bucket{le=\"+Inf\"}") == 5);
    CHECK(s_val(t, "anprd_ack_latency_seconds_count") == 5);
    CHECK(fabs(s_val(t, "anprd_ack_latency_seconds_sum") - 9.00309) < 1e-9);
    CHECK(s_val(t, "anprd_hit_latency_seconds_bucket{le=\"0.001\"}") == 1);
    CHECK(s_val(t, "anprd_hit_latency_seconds_bucket{le=\"0.0005\"}") == 0);
    CHECK(s_val(t, "anprd_writer_batch_reads_bucket{le=\"1\"}") == 1);
    CHECK(s_val(t, "anprd_writer_batch_reads_bucket{le=\"500\"}") == 2);
    CHECK(s_val(t, "anprd_writer_batch_reads_bucket{le=\"1000\"}") == 3);
    CHECK(s_val(t, "anprd_writer_batch_reads_sum") == 1501);
    CHECK(s_val(t, "anprd_backbone_connected") == 1);
    CHECK(s_val(t, "anprd_backbone_queued_messages") == 3);
    CHECK(s_val(t, "anprd_backbone_sent_total") == 10);
    CHECK(s_val(t, "anprd_backbone_retries_total") == 1);
    free(t);

    /* Without forwarding there is no backbone gauge to alarm on. */
    s.backbone = false;
    t = metrics_render(&s, &len);
    CHECK(t && promtext_check(t, err, sizeof err) == 0);
    CHECK(t && strstr(t, "anprd_backbone") == NULL);
    free(t);

    /* An empty snapshot is valid too (histograms all zero). */
    memset(&s, 0, sizeof s);
    t = metrics_render(&s, &len);
    CHECK(t && promtext_check(t, err, sizeof err) == 0);
    CHECK(t && s_val(t, "anprd_ack_latency_seconds_bucket{le=\"+Inf\"}") == 0);
    free(t);
}

/* The checker itself refuses what it must: a test that cannot fail proves nothing. */
static void test_checker(void)
{
    static const char *const bad[] = {
        "x_total 1\n",                                         /* no HELP/TYPE */
        "# HELP x_total a\n# TYPE x_total counter\nx_total 1", /* no final newline */
        "# HELP x a\n# TYPE x counter\nx 1\n",                 /* counter without _total */
        "# HELP 1x a\n# TYPE 1x gauge\n1x 1\n",                /* bad name */
        "# HELP x a\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",        /* bad escape */
        "# HELP x a\n# TYPE x gauge\nx one\n",                 /* not a number */
        "# HELP x a\n# TYPE x gauge\nx 1\nx 2\n",              /* series twice */
        "# HELP x a\n# TYPE x gauge\n# HELP y a\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 1\n",
        "# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
        "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n", /* not cumulative */
        "# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
        "h_sum 1\nh_count 3\n", /* +Inf != count */
        "# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
    };
    char err[256];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = promtext_check(bad[i], err, sizeof err);
        CHECK_INT(rc, -1);
        if (rc == 0)
            fprintf(stderr, "accepted bad text %zu\n", i);
    }
    CHECK_INT(promtext_check("# HELP h a\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                             "h_bucket{le=\"+Inf\"} 2\nh_sum 1.5\nh_count 2\n",
                             err, sizeof err),
              0);
}

static void test_lists(void)
{
    static struct metrics_snap s;

    memset(&s, 0, sizeof s);
    for (uint32_t id = METRICS_LISTS_MAX + 10; id > 0; id--)
        metrics_count_hit(&s, id, false, PROTO_MATCH_EXACT);
    CHECK_INT(s.nlists, METRICS_LISTS_MAX);
    CHECK_INT(s.other[0], 10);
    for (size_t i = 1; i < s.nlists; i++)
        CHECK(s.lists[i - 1].list_id < s.lists[i].list_id);
    size_t len;
    char err[256];
    char *t = metrics_render(&s, &len);
    CHECK(t && promtext_check(t, err, sizeof err) == 0);
    CHECK(t && s_val(t, "anprd_list_hits_total{list=\"other\",kind=\"exact\"}") == 10);
    free(t);
}

static void test_peers(void)
{
    metrics_peers_t *p = metrics_peers_new(1000);
    char id[40];

    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_INT(metrics_peers_count(p, 1), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "reader-%d", i);
        metrics_peers_seen(p, id, strlen(id), 100 + i);
        metrics_peers_seen(p, id, strlen(id), 100 + i); /* a burst: once */
    }
    CHECK_INT(metrics_peers_count(p, 200), 100);
    /* At 1150 the first 50 (seen at 100..149) are older than the window. */
    CHECK_INT(metrics_peers_count(p, 1150), 50);
    metrics_peers_seen(p, "reader-0", 8, 1150);
    CHECK_INT(metrics_peers_count(p, 1150), 51);
    CHECK_INT(metrics_peers_count(p, 5000), 0);
    /* More peers than the table takes: counted up to its limit, never past it. */
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "many-%d", i);
        metrics_peers_seen(p, id, strlen(id), 6000);
    }
    CHECK(metrics_peers_count(p, 6000) >= 1000);
    metrics_peers_destroy(&p);
    CHECK(p == NULL);
    metrics_peers_destroy(&p);
}

static void test_http(void)
{
    static struct metrics_snap s;
    struct httpc_reply r;
    char err[256] = "";
    metrics_t *m = metrics_new("127.0.0.1:0", err, sizeof err);

    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "metrics_new: %s\n", err);
        return;
    }
    int port = metrics_port(m);
    CHECK(port > 0);

    /* Nothing published yet: not ready. */
    CHECK_INT(httpc_request("127.0.0.1", port, "GET", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 503);
    httpc_reply_free(&r);

    s_fill(&s);
    metrics_publish(m, &s, 1);
    CHECK_INT(httpc_request("127.0.0.1", port, "GET", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_CONTAINS(r.head, "text/plain; version=0.0.4");
    CHECK(r.body && promtext_check(r.body, err, sizeof err) == 0);
    CHECK(r.body && s_val(r.body, "anprd_rejects_total{reason=\"time_out_of_range\"}") == 13);
    httpc_reply_free(&r);

    /* The scrape asked for a fresh snapshot; the next one published is what the next shows. */
    CHECK(metrics_due(m, 2));
    s.stats.frames = 121;
    metrics_publish(m, &s, 2);
    CHECK(!metrics_due(m, 3));
    CHECK(metrics_due(m, 2 + 100000));
    CHECK_INT(httpc_request("127.0.0.1", port, "GET", "/metrics?x=1", 10000, &r), 0);
    CHECK_INT(r.status, 200);
    CHECK(r.body && s_val(r.body, "anprd_frames_received_total") == 121);
    httpc_reply_free(&r);

    CHECK_INT(httpc_request("127.0.0.1", port, "HEAD", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.len, 0);
    httpc_reply_free(&r);

    CHECK_INT(httpc_request("127.0.0.1", port, "GET", "/", 10000, &r), 0);
    CHECK_INT(r.status, 404);
    httpc_reply_free(&r);
    CHECK_INT(httpc_request("127.0.0.1", port, "GET", "/metrics/../etc", 10000, &r), 0);
    CHECK_INT(r.status, 404);
    httpc_reply_free(&r);
    CHECK_INT(httpc_request("127.0.0.1", port, "POST", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 405);
    CHECK_CONTAINS(r.head, "GET, HEAD");
    httpc_reply_free(&r);
    CHECK_INT(httpc_request("127.0.0.1", port, "DELETE", "/nothing", 10000, &r), 0);
    CHECK_INT(r.status, 405);
    httpc_reply_free(&r);

    /* Garbage and an oversized request are answered with an error, and the server lives on. */
    CHECK_INT(httpc_raw("127.0.0.1", port, "\x01\x02 garbage\r\n\r\n", 10000, &r), 0);
    CHECK(r.status >= 400 && r.status < 500);
    httpc_reply_free(&r);
    size_t big = 64 * 1024;
    char *huge = malloc(big + 64);
    if (huge) {
        memcpy(huge, "GET /metrics HTTP/1.0\r\nX-Long: ", 31);
        memset(huge + 31, 'a', big);
        strcpy(huge + 31 + big, "\r\n\r\n");
        int rc = httpc_raw("127.0.0.1", port, huge, 10000, &r);
        /* Refused with a status, or the connection cut: either way no crash. */
        CHECK(rc != 0 || r.status >= 400);
        httpc_reply_free(&r);
        free(huge);
    }
    CHECK_INT(httpc_request("127.0.0.1", port, "GET", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 200);
    httpc_reply_free(&r);

    /* One address holding more connections than it may, each half-way through a request: the
     * others of that address are refused or cut, another address is served at once, and the
     * first is served again once they are gone. */
    int fds[40];
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 40; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&sa, sizeof sa) == 0)
            send(fds[i], "GET /met", 8, MSG_NOSIGNAL);
    }
    CHECK_INT(httpc_request_from("127.0.0.2", "127.0.0.1", port, "GET", "/metrics", 10000, &r), 0);
    CHECK_INT(r.status, 200);
    httpc_reply_free(&r);
    for (int i = 0; i < 40; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    /* Their closing reaches the server a moment later: until then this one may be refused. */
    int status = 0;
    time_t until = time(NULL) + 20;
    while (status != 200 && time(NULL) < until) {
        if (httpc_request("127.0.0.1", port, "GET", "/metrics", 10000, &r) == 0)
            status = r.status;
        httpc_reply_free(&r);
    }
    CHECK_INT(status, 200);

    /* The port is taken now: a second server says why it cannot start. */
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    metrics_t *m2 = metrics_new(listen, err, sizeof err);
    CHECK(m2 == NULL);
    CHECK_CONTAINS(err, "cannot bind");
    metrics_destroy(&m2);

    metrics_destroy(&m);
    CHECK(m == NULL);
    metrics_destroy(&m);
    CHECK(metrics_new("localhost:9105", err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "not an IPv4 address");
}

int main(void)
{
    test_render();
    test_checker();
    test_lists();
    test_peers();
    test_http();
    return check_done("metrics");
}
