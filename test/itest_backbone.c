/*
 * Integration: HITs reach the national backbone, and none is lost. A real anprd (with its read
 * spool and the backbone forwarder), the real anpr-backbone-sink over TLS with certificates made
 * at test time, real cameras (anpr-camera, which resends what is not acknowledged):
 *   1. HITs produced reach the sink, each id once, in order per camera;
 *   2. the sink is down for a while: HITs are spooled (the stats line says so), and after it
 *      returns each is delivered once per id;
 *   3. anprd is killed with kill -9 every 1-3 s while 4 cameras send 200 000 reads with resend
 *      (they keep what is not acknowledged and resend it): afterwards
 *      every read acknowledged is stored exactly once, and every HIT stored in the database is
 *      at the sink (deduplicated by camera, seq and entry; by id, each id once).
 * Between 2 and 3: lists whose HITs stay in the zone (backbone off, covert by default) send
 * nothing while another list's HITs arrive; a covert list that is on is marked covert; a list
 * name and a reference with control characters are mended, not held back; no plate is logged.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "idset.h"
#include "testcert.h"
#include "tls.h"
#include "util.h"

#define CAM "BE-E314-BOORSEM"

static struct h_db db;
static char dir[64], port[16], out_path[128];

static pid_t s_sink_start(void)
{
    char listen[64], cert[128], key[128], ca[128], log[128];
    char *argv[] = {getenv("ANPR_BACKBONE_SINK"),
                    "--listen",
                    listen,
                    "--cert",
                    cert,
                    "--key",
                    key,
                    "--ca",
                    ca,
                    "--out",
                    out_path,
                    NULL};

    snprintf(listen, sizeof listen, "127.0.0.1:%s", port);
    testcert_path(dir, "server.pem", cert, sizeof cert);
    testcert_path(dir, "server.key", key, sizeof key);
    testcert_path(dir, "ca.pem", ca, sizeof ca);
    snprintf(log, sizeof log, "%s/sink.log", dir);
    return h_spawn(argv, log, log);
}

/* The sink's out file: HIT lines (id first, then camera, seq and entry id in fields 5, 6, 11).
 * Counts lines, distinct ids, and whether seqs rise per camera; fills keys with
 * "camera/seq/entry" hashes. */
struct s_sink {
    size_t lines, hits;
    idset_t *ids, *keys;
    bool ordered;
};

static uint64_t s_key(const char *camera, uint64_t seq, uint64_t entry)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = camera; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ seq) * 1099511628211ULL;
    return (h ^ entry) * 1099511628211ULL;
}

static void s_sink_read(struct s_sink *s)
{
    char *text = h_slurp(out_path);
    char last_cam[8][40] = {{0}};
    uint64_t last_seq[8] = {0};
    size_t ncam = 0;

    memset(s, 0, sizeof *s);
    s->ids = idset_new();
    s->keys = idset_new();
    s->ordered = true;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *f[12];
        size_t n = 0;
        for (char *p = line; n < 12 && p; n++) {
            f[n] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = '\0';
        }
        s->lines++;
        if (n < 11 || strcmp(f[3], "HIT") != 0)
            continue;
        s->hits++;
        uint64_t id = strtoull(f[0], NULL, 10), seq = strtoull(f[5], NULL, 10);
        idset_add(s->ids, id);
        idset_add(s->keys, s_key(f[4], seq, strtoull(f[10], NULL, 10)));
        size_t c = 0;
        while (c < ncam && strcmp(last_cam[c], f[4]) != 0)
            c++;
        if (c == ncam && ncam < 8)
            snprintf(last_cam[ncam++], sizeof last_cam[0], "%s", f[4]);
        if (c < 8 && seq < last_seq[c])
            s->ordered = false;
        if (c < 8)
            last_seq[c] = seq;
    }
    free(text);
}

static void s_sink_free(struct s_sink *s)
{
    idset_destroy(&s->ids);
    idset_destroy(&s->keys);
}

/* Wait until the sink holds at least n HIT lines. */
static size_t s_sink_wait(size_t n, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    struct s_sink s;

    for (;;) {
        s_sink_read(&s);
        size_t got = s.hits;
        s_sink_free(&s);
        if (got >= n || util_mono_us() > deadline)
            return got;
        usleep(50000);
    }
}

/* Send n reads of listed plates (each a HIT), seqs from *seq. */
static void s_send_hits(void *dealer, uint64_t *seq, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct proto_read r = h_read(CAM, (*seq)++, "1-HIT-001", "BE");
        h_send_read(dealer, &r);
    }
}

int main(void)
{
    struct h_daemon d;
    struct h_acks acks;
    char err[256], extra[1600], ca[128], cert[128], key[128];
    uint64_t seq = 1;
    struct s_sink s;

    h_require_env();
    if (!getenv("ANPR_BACKBONE_SINK"))
        h_fatal("ANPR_BACKBONE_SINK is not set");
    snprintf(dir, sizeof dir, "/tmp/anprd-bb.XXXXXX");
    if (!mkdtemp(dir) || testcert_make(dir, err, sizeof err) != 0)
        h_fatal("certificates: %s", err);
    snprintf(out_path, sizeof out_path, "%s/sink.tsv", dir);
    int fd = tls_listen("127.0.0.1", "0", err, sizeof err);
    if (fd < 0)
        h_fatal("free port: %s", err);
    snprintf(port, sizeof port, "%d", tls_local_port(fd));
    close(fd);

    h_db_create(&db, "itest_backbone");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E314');"
                     "INSERT INTO anpr.camera (code, name) SELECT 'BB-' || i, 'cam ' || i "
                     "FROM generate_series(0, 3) i;"
                     "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
                     "('Stolen vehicles', 'stolen', 1, 0);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '1-HIT-001' "
                     "FROM anpr.watchlist");
    snprintf(extra, sizeof extra,
             "spool:\n  dir: \"%s/reads\"\n"
             "backbone:\n  host: \"127.0.0.1\"\n  port: %s\n  ca_file: \"%s\"\n"
             "  cert_file: \"%s\"\n  key_file: \"%s\"\n  instance: \"zone-test\"\n"
             "  spool_dir: \"%s/outbound\"\n",
             dir, port, testcert_path(dir, "ca.pem", ca, sizeof ca),
             testcert_path(dir, "client.pem", cert, sizeof cert),
             testcert_path(dir, "client.key", key, sizeof key), dir);
    struct h_daemon_opts opts = {.extra = extra};
    pid_t sink = s_sink_start();
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);

    /* 1. With the sink: every HIT delivered, each id once, in order. */
    uint64_t first = seq;
    s_send_hits(dealer, &seq, 200);
    h_acks_init(&acks, first, 200, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 200);
    h_acks_free(&acks);
    CHECK_INT(s_sink_wait(200, 10000), 200);

    /* 2. The sink goes away: HITs wait in the outbound spool, then all arrive once. */
    kill(sink, SIGKILL);
    h_wait(sink, 5000);
    first = seq;
    s_send_hits(dealer, &seq, 300);
    h_acks_init(&acks, first, 300, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 300); /* acknowledged all the same */
    h_acks_free(&acks);
    /* The stats line says it: not connected, HITs waiting (300, and those of the 200 above
     * whose ACK the sink's death cut off). */
    CHECK(h_daemon_wait_log(&d, "backbone: connected=0 depth=", 5000));
    sink = s_sink_start();
    CHECK_INT(s_sink_wait(500, 30000), 500);
    s_sink_read(&s);
    CHECK_INT(idset_count(s.ids), s.hits); /* no id twice */
    CHECK_INT(idset_count(s.keys), 500);
    CHECK(s.ordered);
    s_sink_free(&s);

    /* Post-matches too: three reads of a plate not yet listed, then the plate is listed on a
     * list with a retro-match window: its three past sightings reach the sink. */
    first = seq;
    for (int i = 0; i < 3; i++) {
        struct proto_read r = h_read(CAM, seq++, "9-RET-009", "BE");
        h_send_read(dealer, &r);
    }
    h_acks_init(&acks, first, 3, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 3);
    h_acks_free(&acks);
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE plate = '9RET009'", 3,
                    10000) == 3);
    /* The list first (a list change: a full load), then the entry (a patch: retro-matched). */
    h_exec(db.admin, "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, retro_s) "
                     "VALUES ('Recent thefts', 'stolen', 1, 0, 3600)");
    CHECK(h_daemon_wait_log(&d, "loaded in full", 5000));
    h_exec(db.admin, "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '9-RET-009' "
                     "FROM anpr.watchlist WHERE name = 'Recent thefts'");
    int64_t until = util_mono_us() + 15000000;
    size_t post = 0;
    while (post < 3 && util_mono_us() < until) {
        char *text = h_slurp(out_path);
        post = 0;
        for (const char *p = text; p && (p = strstr(p, "\t9-RET-009\t")) != NULL; p++)
            post++;
        free(text);
        if (post < 3)
            usleep(50000);
    }
    CHECK_INT(post, 3);

    /* Per list: a list with the backbone off sends nothing, nor does a covert list unless it is
     * on, and then its HITs are marked covert; a name and a reference with C1 controls (rows
     * stored before migration 014 refused them: the constraints are put back NOT VALID, as the
     * migration leaves them then) are mended to U+FFFD, never held back. */
    int loads = h_daemon_log_count(&d, "loaded in full");
    h_exec(db.admin,
           "ALTER TABLE anpr.watchlist DROP CONSTRAINT watchlist_name_plain;"
           "ALTER TABLE anpr.watchlist_entry DROP CONSTRAINT watchlist_entry_text_plain;"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, covert, backbone) "
           "VALUES ('Local only', 'stolen', 1, 0, false, false), "
           "('Quiet', 'surveillance', 2, 0, true, NULL), "
           "('Nightjar', 'surveillance', 2, 0, true, true), "
           "(E'Old\\u0085list', 'stolen', 1, 0, false, NULL);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, external_ref) "
           "SELECT id, p, r FROM anpr.watchlist JOIN (VALUES ('Local only', '1-LOC-001', ''), "
           "('Quiet', '1-QQQ-001', ''), ('Nightjar', '1-NJR-007', ''), "
           "(E'Old\\u0085list', '1-OLD-001', E'PV\\u009b1')) v(l, p, r) ON name = l;"
           "ALTER TABLE anpr.watchlist ADD CONSTRAINT watchlist_name_plain "
           "CHECK (anpr.text_plain(name)) NOT VALID;"
           "ALTER TABLE anpr.watchlist_entry ADD CONSTRAINT watchlist_entry_text_plain "
           "CHECK (anpr.text_plain(plate) AND anpr.text_plain(instruction) AND "
           "anpr.text_plain(external_ref) AND anpr.text_plain(requested_by)) NOT VALID");
    /* Wait for the load of this very change, not any load after `loads` was counted (a load
     * of the change before may still be on its way). */
    char loaded[96];
    snprintf(loaded, sizeof loaded, "watchlist version %lld: ",
             h_query_ll(db.admin, "SELECT coalesce(max(seq), 0) FROM anpr.watchlist_change"));
    CHECK(h_daemon_wait_log(&d, loaded, 20000));
    CHECK(h_daemon_log_count(&d, "loaded in full") > loads);
    static const char *const per_list[] = {"1-LOC-001", "1-QQQ-001", "1-NJR-007", "1-OLD-001",
                                           "1-HIT-001"};
    first = seq;
    for (size_t i = 0; i < sizeof per_list / sizeof per_list[0]; i++) {
        struct proto_read r = h_read(CAM, seq++, per_list[i], "BE");
        h_send_read(dealer, &r);
    }
    h_acks_init(&acks, first, 5, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), 5);
    h_acks_free(&acks);
    /* The last read's HIT (an ordinary list) at the sink: the spool is first in, first out, so
     * every HIT queued before it arrived before it. */
    char fence[96];
    snprintf(fence, sizeof fence, "\t" CAM "\t%llu\t", (unsigned long long)(seq - 1));
    char *text = NULL;
    for (int64_t end = util_mono_us() + 15000000; util_mono_us() < end; usleep(50000)) {
        free(text);
        text = h_slurp(out_path);
        if (text && strstr(text, fence))
            break;
    }
    CHECK(text && strstr(text, fence));
    CHECK(text && !strstr(text, "\t1-LOC-001\t"));
    CHECK(text && !strstr(text, "\t1-QQQ-001\t"));
    const char *nj = text ? strstr(text, "\t1-NJR-007\t") : NULL;
    CHECK(nj && strncmp(strchr(nj, '\n') - 7, "\tcovert", 7) == 0);
    const char *old = text ? strstr(text, "\t1-OLD-001\t") : NULL;
    CHECK(old && strstr(old, "\tOld\xEF\xBF\xBDlist\t") &&
          strstr(old, "\tPV\xEF\xBF\xBD"
                      "1\t-\n"));
    free(text);
    /* The HITs of every list are stored, whatever goes to the backbone. */
    CHECK_INT(
        h_wait_ll(db.admin,
                  "SELECT count(*) FROM anpr.hits h JOIN anpr.watchlist w ON w.id = h.list_id "
                  "WHERE w.name IN ('Local only', 'Quiet', 'Nightjar') OR w.name LIKE 'Old%'",
                  4, 10000),
        4);
    /* No plate in any log line, as read or normalised. */
    CHECK(!h_daemon_log_has(&d, "1-HIT-001") && !h_daemon_log_has(&d, "1HIT001"));
    CHECK(!h_daemon_log_has(&d, "1-LOC-001") && !h_daemon_log_has(&d, "1LOC001"));
    CHECK(!h_daemon_log_has(&d, "9-RET-009") && !h_daemon_log_has(&d, "9RET009"));

    /* 3. kill -9 every 1-3 s under load from 4 cameras that resend. */
    char acked_path[4][160], listed[160];
    pid_t cams[4];
    snprintf(listed, sizeof listed, "%s/listed.txt", dir);
    FILE *lf = fopen(listed, "w");
    if (!lf || fputs("1-HIT-001\n", lf) < 0 || fclose(lf) != 0)
        h_fatal("%s: %s", listed, strerror(errno));
    for (int i = 0; i < 4; i++) {
        char cam[16], endpoint[200], seed[16], log[160];
        snprintf(cam, sizeof cam, "BB-%d", i);
        snprintf(endpoint, sizeof endpoint, "%s", d.ingest_ep);
        snprintf(acked_path[i], sizeof acked_path[i], "%s/acked-%d.tsv", dir, i);
        snprintf(log, sizeof log, "%s/camera-%d.log", dir, i);
        snprintf(seed, sizeof seed, "%d", 11 + i);
        char *argv[] = {getenv("ANPR_CAMERA"),
                        "--endpoint",
                        endpoint,
                        "--camera",
                        cam,
                        "--count",
                        "50000",
                        "--rate",
                        "5000",
                        "--listed",
                        listed,
                        "--listed-ratio",
                        "0.05",
                        "--seed",
                        seed,
                        "--resend-ms",
                        "1000",
                        "--wait",
                        "60",
                        "--dump-acked",
                        acked_path[i],
                        NULL};
        cams[i] = h_spawn(argv, log, log);
    }
    unsigned rnd = 7;
    int kills = 0, st, cam_status[4] = {-1, -1, -1, -1};
    /* While the cameras send (about 10 s of reads), at most a minute. */
    for (int64_t end = util_mono_us() + 60000000; util_mono_us() < end;) {
        rnd = rnd * 1103515245u + 12345u;
        usleep(1000000 + (rnd >> 8) % 2000000); /* the load pattern: a kill every 1-3 s */
        int running = 0;
        for (int i = 0; i < 4; i++) {
            if (cam_status[i] < 0 && waitpid(cams[i], &st, WNOHANG) == cams[i])
                cam_status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            running += cam_status[i] < 0;
        }
        if (running < 4)
            break; /* a camera is done sending: let the rest finish without kills */
        CHECK_INT(h_daemon_stop(&d, SIGKILL, 5000), 128 + SIGKILL);
        kills++;
        if (h_daemon_restart(&d) != 0)
            break;
    }
    fprintf(stderr, "killed anprd %d times under load\n", kills);
    for (int i = 0; i < 4; i++) /* every read acknowledged in the end */
        CHECK_INT(cam_status[i] >= 0 ? cam_status[i] : h_wait(cams[i], 120000), 0);
    CHECK(kills >= 3);

    /* Every read acknowledged is stored, once. */
    long long acked = 0;
    for (int i = 0; i < 4; i++) {
        char *t = h_slurp(acked_path[i]);
        for (char *p = t; p && *p; p++)
            acked += *p == '\n';
        free(t);
    }
    CHECK_INT(acked, 200000);
    CHECK(h_wait_ll(db.admin,
                    "SELECT count(*) FROM anpr.plate_read WHERE camera_id IN "
                    "(SELECT id FROM anpr.camera WHERE code LIKE 'BB-%')",
                    200000, 60000) == 200000);
    /* Every HIT stored is at the sink (by camera, seq and entry); each id once. */
    long long stored_hits = h_query_ll(db.admin, "SELECT count(*) FROM anpr.hits");
    CHECK(stored_hits > 500);
    s_sink_wait((size_t)stored_hits, 30000);
    PGresult *res = PQexec(db.admin, "SELECT c.code, h.seq, h.entry_id FROM anpr.hits h "
                                     "JOIN anpr.camera c ON c.id = h.camera_id "
                                     "JOIN anpr.watchlist w ON w.id = h.list_id "
                                     "WHERE coalesce(w.backbone, NOT w.covert)");
    s_sink_read(&s);
    size_t missing = 0;
    for (int i = 0; i < PQntuples(res); i++)
        missing += !idset_has(s.keys, s_key(PQgetvalue(res, i, 0),
                                            strtoull(PQgetvalue(res, i, 1), NULL, 10),
                                            strtoull(PQgetvalue(res, i, 2), NULL, 10)));
    fprintf(stderr, "%lld HITs stored, %zu HIT messages at the sink (%zu distinct)\n", stored_hits,
            s.hits, idset_count(s.keys));
    CHECK_INT(missing, 0);
    CHECK_INT(idset_count(s.ids), s.hits);
    s_sink_free(&s);
    PQclear(res);

    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    kill(sink, SIGTERM);
    CHECK_INT(h_wait(sink, 5000), 0);
    if (!check_failed)
        h_rmtree(dir);
    h_db_close(&db);
    return check_done("itest_backbone");
}
