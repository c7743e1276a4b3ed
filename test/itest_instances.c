/*
 * Integration: two anprd instances on one database (docs/OPERATIONS.md, "Several anprd
 * instances"). A (dispatch.instance 1) and B (2), each with its write-ahead spool, each
 * following the other's dispatch feed (cluster.peers). A real anpr-camera knows both and sends
 * listed plates at a steady rate to A; A is killed outright (SIGKILL) under load; the camera
 * moves to B and resends there what A had not acknowledged. Then:
 *
 * - every read the camera had acknowledged is stored exactly once, by (camera, epoch, seq),
 *   once A is started again (its spool drains what it had acknowledged and not stored yet);
 * - no (read, entry) is published as a new alert twice over both feeds (the list has no
 *   suppression window and is not urgent, so every HIT on "hit/" is a new alert and none is
 *   re-announced), and none is stored twice (nor under a second id: no alias);
 * - B alerted what it took after the failover, and took HITs from A's feed (its stats line).
 *
 * Before the load, the peers' links are proven live: a read alerted by one and then resent to
 * the other is not alerted by the other, and the suppression window spans the instances (a car
 * A alerted is a sighting of A's HIT at B). An urgent HIT A alerted is announced again by A
 * (every 2 s) while A lives, never by B; once A is killed, B takes it over (A's heartbeat,
 * every second, stopped). After it all, a third anprd given B's instance number is refused
 * with a message naming the holder, exit status 7. And one started without the database (from
 * its spool's local copy) whose number another session holds stops, exit status 7, once the
 * database is back and its sync thread connects; A and B, whose sessions the outage ended,
 * take their own numbers again.
 *
 * Last, the links with CURVE on (another database): two instances sharing one key pair, its
 * public key registered as a console's, follow each other's feeds both ways.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM        "INST-1" /* the camera under load */
#define CAM_P      "INST-P" /* the probes' camera */
#define CAM_Q      "INST-Q" /* another camera, for the sighting */
#define S_READS    6000     /* at 300 a second: 20 s */
#define S_EPOCH    "11"     /* version 2 reads */
#define S_MAX_KEYS 100000   /* distinct (read, entry) alerts followed */

/* With CURVE (the last part): the camera's and the test console's key pairs, and anprd's
 * public key. NULL: plain text. */
static const struct h_keypair *s_cam_key, *s_con_key;
static const char *s_server_pub;

/* A socket of `type` connected to ep: a CURVE client with key k when CURVE is on. */
static void *s_client(int type, const char *ep, const struct h_keypair *k, const char *topic)
{
    return h_curve_client(type, ep, s_server_pub ? k : NULL, s_server_pub, topic);
}

static void *s_dealer(const char *ep)
{
    return s_client(ZMQ_DEALER, ep, s_cam_key, NULL);
}

static void *s_sub(const char *ep, const char *topic)
{
    return s_client(ZMQ_SUB, ep, s_con_key, topic);
}

/* One alert seen on a feed: its read and entry, and the id it came under. */
struct s_alert {
    char camera[PROTO_CAMERA_MAX + 1];
    uint64_t seq, entry, hit_id;
};

static struct s_alert *s_alerts;
static size_t s_nalerts;
static int s_doubled;     /* a (read, entry) under a second id */
static int s_per_feed[2]; /* alerts off A's feed, off B's */
static uint64_t s_urgent; /* the urgent HIT A alerted */
static bool s_a_dead;     /* A was killed */
static int s_urgent_b[2]; /* its announcements off B's feed while A lived, after */

/* Notes a HIT off feed `f`: a new (read, entry), or the same again (counted in s_doubled when
 * under another id). A linear scan: a few thousand alerts, checked as they come. */
static void s_note(int f, const struct proto_hit *h)
{
    if (f == 1 && s_urgent != 0 && h->hit_id == s_urgent)
        s_urgent_b[s_a_dead]++;
    for (size_t i = s_nalerts; i-- > 0;) {
        struct s_alert *a = &s_alerts[i];
        if (a->seq == h->read.seq && a->entry == h->entry_id &&
            strcmp(a->camera, h->read.camera) == 0) {
            if (a->hit_id != h->hit_id) {
                s_doubled++;
                fprintf(stderr, "alerted twice: %s/%llu entry %llu as %llu and %llu\n", a->camera,
                        (unsigned long long)a->seq, (unsigned long long)a->entry,
                        (unsigned long long)a->hit_id, (unsigned long long)h->hit_id);
            }
            return;
        }
    }
    if (s_nalerts == S_MAX_KEYS)
        h_fatal("more than %d alerts", S_MAX_KEYS);
    struct s_alert *a = &s_alerts[s_nalerts++];
    snprintf(a->camera, sizeof a->camera, "%s", h->read.camera);
    a->seq = h->read.seq;
    a->entry = h->entry_id;
    a->hit_id = h->hit_id;
    s_per_feed[f]++;
}

/* Takes what both feeds have, waiting up to ms for the first frame. */
static void s_drain(void *const subs[2], int ms)
{
    uint8_t buf[PROTO_MAX_FRAME];
    struct proto_hit h;

    for (int f = 0; f < 2; f++) {
        int n;
        while ((n = h_recv(subs[f], buf, sizeof buf, f == 0 ? ms : 0)) > 0)
            if (proto_decode_hit(buf, (size_t)n, &h, NULL) == 0)
                s_note(f, &h);
    }
}

/* The HIT of plate off sub within ms, into *h; false when none came. */
static bool s_hit_of(void *sub, const char *plate, struct proto_hit *h, int ms)
{
    uint8_t buf[PROTO_MAX_FRAME];
    int64_t end = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        int64_t left = (end - util_mono_us()) / 1000;
        int n = h_recv(sub, buf, sizeof buf, left > 0 ? (int)left : 0);
        if (n < 0)
            return false;
        if (proto_decode_hit(buf, (size_t)n, h, NULL) == 0 && strcmp(h->read.plate, plate) == 0)
            return true;
    }
}

/* Until d's stats line says it took at least n HITs from its peers (within ms). */
static bool s_peer_hits(const struct h_daemon *d, long long n, int ms)
{
    int64_t end = util_mono_us() + (int64_t)ms * 1000;

    while (h_daemon_stat(d, " peer_hits=") < n && util_mono_us() < end)
        usleep(50000);
    return h_daemon_stat(d, " peer_hits=") >= n;
}

/*
 * A without peers, B (ob, with b_extra) following A; then A again, following B, whose endpoint
 * is known now. The configs are written once: a restart later keeps them.
 */
static void s_start_pair(struct h_db *db, struct h_daemon *a, const struct h_daemon_opts *oa,
                         struct h_daemon *b, struct h_daemon_opts *ob, const char *b_extra)
{
    char extra[1024];

    if (h_daemon_start_opts(a, db, oa) != 0)
        h_fatal("A did not start");
    snprintf(extra, sizeof extra, "%scluster:\n  peers: [\"%s\"]\n", b_extra, a->dispatch_ep);
    ob->extra = extra;
    if (h_daemon_start_opts(b, db, ob) != 0)
        h_fatal("B did not start");
    ob->extra = NULL;
    CHECK_INT(h_daemon_stop(a, SIGTERM, 20000), 0);
    FILE *f = fopen(a->conf_path, "a");
    if (!f)
        h_fatal("%s", a->conf_path);
    fprintf(f, "cluster:\n  peers: [\"%s\"]\n", b->dispatch_ep);
    fclose(f);
    if (h_daemon_restart(a) != 0)
        h_fatal("A did not start again");
}

/*
 * The link from `from` to `to` is live: a probe read of `plate` sent to `from` is alerted there
 * and its HIT reaches `to` (its stats line counts it), then the same read (same identity, same
 * content) sent to `to` is stored there under from's id and not alerted: the failover case.
 * Probes go until the first is taken (the SUB connects in its own time).
 */
static void s_link(PGconn *admin, const struct h_daemon *from, void *from_sub,
                   const struct h_daemon *to, uint64_t *seq, const char *plate)
{
    void *df = s_dealer(from->ingest_ep), *dt = s_dealer(to->ingest_ep);
    long long had = h_daemon_stat(to, " peer_hits=");
    struct proto_hit h;
    struct proto_read r;
    bool live = false;

    for (int i = 0; i < 40 && !live; i++) {
        r = h_read(CAM_P, (*seq)++, plate, "BE");
        h_send_read(df, &r);
        CHECK(s_hit_of(from_sub, plate, &h, 20000));
        live = s_peer_hits(to, (had < 0 ? 0 : had) + 1, 1000);
    }
    CHECK(live);
    /* The link is up: one more probe, whose HIT is the next `to` takes (PUB keeps order). */
    had = h_daemon_stat(to, " peer_hits=");
    r = h_read(CAM_P, (*seq)++, plate, "BE");
    h_send_read(df, &r);
    CHECK(s_hit_of(from_sub, plate, &h, 20000));
    CHECK(s_peer_hits(to, had + 1, 20000));
    /* The resend at `to`: acknowledged, stored once under from's id, not alerted. */
    uint64_t id = h.hit_id;
    h_send_read(dt, &r);
    struct h_acks acks;
    h_acks_init(&acks, r.seq, 1, 4);
    CHECK_INT(h_acks_wait(&acks, dt, CAM_P, 20000), 1);
    h_acks_free(&acks);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits WHERE hit_id = %llu AND seq = %llu AND NOT "
             "suppressed",
             (unsigned long long)id, (unsigned long long)r.seq);
    CHECK_INT(h_wait_ll(admin, sql, 1, 30000), 1);
    /* Its stats line says it stored one under a peer's id (a positive sign, not a silence). */
    long long stored = -1;
    int64_t end = util_mono_us() + 20000000;
    while ((stored = h_daemon_stat(to, " peer_stored=")) < 1 && util_mono_us() < end)
        usleep(50000);
    CHECK(stored >= 1);
    h_close(df);
    h_close(dt);
}

/* Two instances with CURVE on, sharing one key pair registered as a console's: each follows
 * the other's feed (the links, both ways, as in part 1). */
static void s_curve(void)
{
    struct h_db db;
    struct h_daemon a, b;
    struct h_keypair server = h_keypair(), cam = h_keypair(), con = h_keypair();
    char dir[] = "/tmp/anpr-inst-c.XXXXXX", key[128], sql[1024];
    uint64_t seq = 1;

    fprintf(stderr, "--- with CURVE\n");
    if (!mkdtemp(dir))
        h_fatal("mkdtemp");
    snprintf(key, sizeof key, "%s/anprd.key", dir);
    h_write_key(key, server.sec);
    h_db_create(&db, "itest_instances_c");
    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.camera (code, name, curve_key) VALUES ('" CAM_P "', 'probes', '%s');"
             "INSERT INTO anpr.console (name, curve_key) VALUES ('test', '%s'), "
             "('anprd-cluster', '%s');"
             "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
             "('Wanted', 'wanted', 5, 0);"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p FROM anpr.watchlist, "
             "unnest(ARRAY['1PRB001', '1PRB002']) p",
             cam.pub, con.pub, server.pub);
    h_exec(db.admin, sql);
    s_cam_key = &cam;
    s_con_key = &con;
    s_server_pub = server.pub;

    struct h_daemon_opts oa = {.dispatch = "  instance: 1\n", .curve_secret_file = key};
    struct h_daemon_opts ob = {.dispatch = "  instance: 2\n", .curve_secret_file = key};
    s_start_pair(&db, &a, &oa, &b, &ob, "");

    void *subs[2] = {s_sub(a.dispatch_ep, "hit/"), s_sub(b.dispatch_ep, "hit/")};
    void *d0 = s_dealer(a.ingest_ep), *d1 = s_dealer(b.ingest_ep);
    CHECK(h_feed_live(d0, subs[0], CAM_P, &seq, "1PRB002"));
    CHECK(h_feed_live(d1, subs[1], CAM_P, &seq, "1PRB002"));
    h_close(d0);
    h_close(d1);
    s_link(db.admin, &a, subs[0], &b, &seq, "1PRB001");
    s_link(db.admin, &b, subs[1], &a, &seq, "1PRB001");
    h_close(subs[0]);
    h_close(subs[1]);
    CHECK_INT(h_daemon_finish(&a, check_failed), 0);
    CHECK_INT(h_daemon_finish(&b, check_failed), 0);
    if (!check_failed)
        h_rmtree(dir);
    h_db_close(&db);
}

int main(void)
{
    struct h_db db;
    struct h_daemon a, b, c;
    char extra[2][512], acked[160], sql[1024], listed[160], line[256];

    h_require_env();
    s_alerts = calloc(S_MAX_KEYS, sizeof *s_alerts);
    if (!s_alerts)
        h_fatal("out of memory");
    h_db_create(&db, "itest_instances");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E40 Aalst'), ('" CAM_P
           "', 'probes'), ('" CAM_Q "', 'E40 Erpe-Mere');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
           "('Wanted', 'wanted', 5, 0), ('Stolen', 'stolen', 5, 600), ('Urgent', 'urgent', 1, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '1URG001' FROM "
           "anpr.watchlist WHERE name = 'Urgent';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT w.id, p FROM "
           "anpr.watchlist w, unnest(ARRAY['1ABC001', '1ABC002', '1ABC003', '1ABC004', "
           "'1ABC005', '1PRB001', '1PRB002']) p WHERE w.name = 'Wanted';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '1CAR001' FROM "
           "anpr.watchlist WHERE name = 'Stolen'");

    char tmp[] = "/tmp/anpr-inst.XXXXXX";
    if (!mkdtemp(tmp))
        h_fatal("mkdtemp");
    snprintf(extra[0], sizeof extra[0], "spool:\n  dir: \"%s/spool-a\"\n", tmp);
    snprintf(extra[1], sizeof extra[1], "spool:\n  dir: \"%s/spool-b\"\n", tmp);
    struct h_daemon_opts oa = {.dispatch = "  instance: 1\n  reannounce_s: 2\n  heartbeat_s: 1\n",
                               .extra = extra[0]};
    struct h_daemon_opts ob = {.dispatch = "  instance: 2\n  reannounce_s: 2\n  heartbeat_s: 1\n"};
    s_start_pair(&db, &a, &oa, &b, &ob, extra[1]);

    void *subs[2] = {s_sub(a.dispatch_ep, "hit/"), s_sub(b.dispatch_ep, "hit/")};
    void *seen_b = s_sub(b.dispatch_ep, PROTO_TOPIC_SEEN);
    uint64_t seq = 1;
    {
        void *d0 = s_dealer(a.ingest_ep), *d1 = s_dealer(b.ingest_ep);
        CHECK(h_feed_live(d0, subs[0], CAM_P, &seq, "1PRB002"));
        CHECK(h_feed_live(d1, subs[1], CAM_P, &seq, "1PRB002"));
        h_close(d0);
        h_close(d1);
    }

    /* 1. The links, both ways: a read one alerted, resent to the other, is not alerted again. */
    s_link(db.admin, &a, subs[0], &b, &seq, "1PRB001");
    s_link(db.admin, &b, subs[1], &a, &seq, "1PRB001");
    /* None of the probes' resends was alerted: each probe's HIT came once, off one feed. */
    s_drain(subs, 500);
    CHECK_INT(s_doubled, 0);

    /* 2. The window spans the instances: the car A alerts, read at B by another camera, is a
     * sighting of A's HIT there, not an alert. */
    {
        void *d0 = s_dealer(a.ingest_ep), *d1 = s_dealer(b.ingest_ep);
        struct proto_hit alert, sight;
        long long had = h_daemon_stat(&b, " peer_hits=");
        struct proto_read r = h_read(CAM_P, seq++, "1CAR001", "BE");
        h_send_read(d0, &r);
        CHECK(s_hit_of(subs[0], "1CAR001", &alert, 20000));
        CHECK(s_peer_hits(&b, had + 1, 20000));
        r = h_read(CAM_Q, seq++, "1CAR001", "BE");
        h_send_read(d1, &r);
        CHECK(s_hit_of(seen_b, "1CAR001", &sight, 20000));
        CHECK(sight.hit_id == alert.hit_id);
        CHECK_STR(sight.read.camera, CAM_Q);
        h_close(d0);
        h_close(d1);
    }

    /* 3. An urgent HIT of A's, followed by B: announced again by A only, while A lives. */
    {
        void *d0 = s_dealer(a.ingest_ep);
        struct proto_hit u;
        long long had = h_daemon_stat(&b, " peer_hits=");
        struct proto_read r = h_read(CAM_P, seq++, "1URG001", "BE");
        h_send_read(d0, &r);
        CHECK(s_hit_of(subs[0], "1URG001", &u, 20000));
        CHECK(s_peer_hits(&b, had + 1, 20000));
        s_urgent = u.hit_id;
        /* Announced again on A's feed: the same id (noted as the same alert). */
        CHECK(s_hit_of(subs[0], "1URG001", &u, 20000));
        CHECK(u.hit_id == s_urgent);
        h_close(d0);
    }

    /* 4. Under load: the camera on A, then B. */
    snprintf(listed, sizeof listed, "%s/listed.txt", tmp);
    FILE *f = fopen(listed, "w");
    if (!f)
        h_fatal("%s", listed);
    fputs("1ABC001\n1ABC002\n1ABC003\n1ABC004\n1ABC005\n", f);
    fclose(f);
    snprintf(acked, sizeof acked, "%s/acked", tmp);
    char out[160], err_path[160], endpoints[400];
    snprintf(out, sizeof out, "%s/camera.out", tmp);
    snprintf(err_path, sizeof err_path, "%s/camera.err", tmp);
    snprintf(endpoints, sizeof endpoints, "%s,%s", a.ingest_ep, b.ingest_ep);
    char *argv[] = {getenv("ANPR_CAMERA"),
                    "--endpoint",
                    endpoints,
                    "--camera",
                    CAM,
                    "--epoch",
                    S_EPOCH,
                    "--count",
                    "6000",
                    "--rate",
                    "300",
                    "--listed",
                    listed,
                    "--listed-ratio",
                    "0.2",
                    "--resend-ms",
                    "2000",
                    "--failover-ms",
                    "5000",
                    "--wait",
                    "60",
                    "--dump-acked",
                    acked,
                    NULL};
    pid_t camera = h_spawn(argv, out, err_path);

    /* Some reads stored through A, then A dies. */
    snprintf(sql, sizeof sql,
             "SELECT (count(*) >= 1500)::int FROM anpr.plate_read r JOIN anpr.camera c ON "
             "c.id = r.camera_id WHERE c.code = '" CAM "'");
    int64_t end = util_mono_us() + 60000000;
    while (h_query_ll(db.admin, sql) != 1 && util_mono_us() < end)
        s_drain(subs, 50);
    CHECK(util_mono_us() < end);
    s_a_dead = true;
    CHECK_INT(h_daemon_stop(&a, SIGKILL, 20000), 128 + SIGKILL);

    /* The camera goes on with B, to the end; the feeds are followed meanwhile. */
    int st = -1;
    end = util_mono_us() + 120000000;
    while (util_mono_us() < end) {
        s_drain(subs, 50);
        int status;
        pid_t w = waitpid(camera, &status, WNOHANG);
        if (w == camera) {
            st = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
    }
    if (st < 0)
        st = h_wait(camera, 1000);
    CHECK_INT(st, 0);
    /* B took A's urgent HIT over: announced again on B's feed, only since A died. */
    end = util_mono_us() + 30000000;
    while (s_urgent_b[1] == 0 && util_mono_us() < end)
        s_drain(subs, 100);
    CHECK_INT(s_urgent_b[0], 0);
    CHECK(s_urgent_b[1] > 0);
    CHECK(h_daemon_log_has(&b, "is announced again here until acknowledged"));
    char *text = h_slurp(out);
    CHECK(strstr(text, "failovers=") != NULL);
    fprintf(stderr, "camera: %s", text);
    free(text);

    /* A again: its spool drains what it acknowledged and had not stored. Its old session's
     * lock went with the killed process. */
    CHECK_INT(h_daemon_restart(&a), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT (r.epoch, r.seq)) FROM anpr.plate_read r JOIN anpr.camera c "
             "ON c.id = r.camera_id WHERE c.code = '" CAM "'");
    CHECK_INT(h_wait_ll(db.admin, sql, S_READS, 60000), S_READS);
    s_drain(subs, 1000);

    /* Every acknowledged read stored, once. */
    text = h_slurp(acked);
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK_INT((long long)lines, S_READS);
    h_exec(db.admin, "CREATE TEMP TABLE acked (camera text, seq bigint)");
    h_copy_in(db.admin, "COPY acked FROM STDIN", text, strlen(text));
    free(text);
    CHECK_INT(h_query_ll(db.admin,
                         "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT FROM "
                         "anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id WHERE "
                         "c.code = a.camera AND r.epoch = " S_EPOCH " AND r.seq = a.seq)"),
              0);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM (SELECT camera_id, epoch, seq FROM "
                                   "anpr.plate_read GROUP BY 1, 2, 3 HAVING count(*) > 1) t"),
              0);
    /* No HIT stored twice, nor under a second id. */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM (SELECT camera_id, epoch, seq, entry_id "
                                   "FROM anpr.hits GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) t"),
              0);
    /* A second id of a stored HIT (an alias) comes from a HIT given an id by A and never
     * published (A died between its spool's commit and the publish), then alerted by B under
     * its own: allowed, as long as only one of the two ids was ever alerted. */
    PGresult *res = PQexec(db.admin, "SELECT hit_id, stored_hit_id FROM anpr.hit_alias");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(res); i++) {
        uint64_t ids[2] = {strtoull(PQgetvalue(res, i, 0), NULL, 10),
                           strtoull(PQgetvalue(res, i, 1), NULL, 10)};
        int alerted = 0;
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < s_nalerts; j++)
                alerted += s_alerts[j].hit_id == ids[k];
        fprintf(stderr, "alias %llu of %llu: %d of the two alerted\n", (unsigned long long)ids[0],
                (unsigned long long)ids[1], alerted);
        CHECK(alerted <= 1);
    }
    PQclear(res);
    /* No (read, entry) alerted twice over the two feeds; both alerted, each HIT stored. */
    fprintf(stderr, "alerts: %zu (A's feed %d, B's feed %d), doubled %d; B took %lld of A's\n",
            s_nalerts, s_per_feed[0], s_per_feed[1], s_doubled, h_daemon_stat(&b, " peer_hits="));
    CHECK_INT(s_doubled, 0);
    CHECK(s_per_feed[0] > 0 && s_per_feed[1] > 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits h JOIN anpr.camera c ON c.id = h.camera_id WHERE "
             "c.code = '" CAM "'");
    long long stored_hits = h_query_ll(db.admin, sql);
    CHECK(stored_hits >= (long long)s_nalerts - 20); /* the probes' few are another camera's */

    /* 5. A third anprd with B's number: refused, the holder named, exit status 7. */
    struct h_daemon_opts oc = {.dispatch = "  instance: 2\n"};
    CHECK(h_daemon_start_opts(&c, &db, &oc) != 0);
    snprintf(line, sizeof line, "dispatch.instance 2 is taken: another anprd holds it");
    CHECK(h_daemon_log_has(&c, line));
    CHECK(h_daemon_log_has(&c, "(anprd-sync, PostgreSQL pid "));
    char *cargv[] = {getenv("ANPRD"), "--config", c.conf_path, NULL};
    CHECK_INT(h_wait(h_spawn(cargv, "/dev/null", "/dev/null"), 30000), 7);
    if (!check_failed)
        h_daemon_cleanup(&c);

    /* 6. Without the database at start: number 3, held by a session of the test meanwhile. */
    struct h_daemon e;
    snprintf(extra[0], sizeof extra[0], "spool:\n  dir: \"%s/spool-e\"\n", tmp);
    struct h_daemon_opts oe = {.dispatch = "  instance: 3\n", .extra = extra[0]};
    if (h_daemon_start_opts(&e, &db, &oe) != 0) /* once with it: the local copy */
        h_fatal("E did not start");
    CHECK_INT(h_daemon_stop(&e, SIGTERM, 20000), 0);
    CHECK_INT(h_query_ll(db.admin, "SELECT pg_try_advisory_lock(1095651410, 3)::int"), 1);
    CHECK(h_db_lock_out(&db));
    CHECK_INT(h_daemon_restart(&e), 0);
    CHECK(h_daemon_log_has(&e, "starting from the local copy"));
    h_db_let_in(&db);
    CHECK_INT(h_wait(e.pid, 60000), 7);
    e.pid = 0;
    CHECK(h_daemon_log_has(&e, "dispatch.instance 3 is taken: another anprd holds it"));
    h_exec(db.admin, "SELECT pg_advisory_unlock(1095651410, 3)");
    /* A and B hold theirs again, on their new sessions. */
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.classid = 1095651410 AND l.objid IN "
                        "(1, 2) AND l.granted AND a.usename = 'anprd'",
                        2, 60000),
              2);
    CHECK(!h_daemon_log_has(&a, "is taken"));
    CHECK(!h_daemon_log_has(&b, "is taken"));
    if (!check_failed)
        h_daemon_cleanup(&e);

    h_close(subs[0]);
    h_close(subs[1]);
    h_close(seen_b);
    CHECK_INT(h_daemon_finish(&a, check_failed), 0);
    CHECK_INT(h_daemon_finish(&b, check_failed), 0);
    if (!check_failed)
        h_rmtree(tmp);
    h_db_close(&db);
    if (!check_failed)
        s_curve();
    free(s_alerts);
    return check_done("itest_instances");
}
