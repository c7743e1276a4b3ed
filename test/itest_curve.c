/*
 * Integration: only known cameras and consoles get in (CURVE on every socket, keys checked by
 * anprd's ZAP handler against the database).
 *
 * - A camera with a key the database does not know sends 10 000 reads while a good one sends
 *   10 000: none of the first is stored, all of the second are.
 * - A good camera key claiming another camera's code is refused (REJECT camera); a peer
 *   without CURVE gets nothing.
 * - Dispatch: a registered console gets HITs; an unknown key gets none. Covert feed: a console
 *   cleared for the list gets its HITs; a console cleared only for another list gets none of
 *   them, whatever it subscribes to.
 * - A key added while anprd runs is let in without a restart; a camera disabled is not.
 * - A fixed camera's reads do not bring their own position; a mobile camera's do.
 * - A peer stalled in the middle of its CURVE handshake is dropped; the others are served.
 * - With CURVE on and no key in the database, anprd does not start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define N_READS 10000

static void *s_client(int type, const char *endpoint, const struct h_keypair *k, const char *server)
{
    return h_curve_client(type, endpoint, k, server, NULL);
}

static void *s_sub(const char *endpoint, const struct h_keypair *k, const char *server,
                   const char *topic)
{
    return h_curve_client(ZMQ_SUB, endpoint, k, server, topic);
}

/* Send without waiting: a socket whose peer never let it in would block at its queue limit. */
static int s_send_nowait(void *s, const struct proto_read *r)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t len = proto_encode_read(r, frame, sizeof frame);

    return len > 0 && zmq_send(s, frame, len, ZMQ_DONTWAIT) == (int)len ? 0 : -1;
}

/* Send read seq of camera with plate (and a position in Paris) on s, and wait for its ACK;
 * whether it came. */
static bool s_served(void *s, const char *camera, uint64_t seq, const char *plate, int ms)
{
    struct proto_read r = h_read(camera, seq, plate, "BE");
    struct h_acks a;

    r.has_position = true;
    r.lat_e7 = 488566000;
    r.lon_e7 = 23522000;
    if (s_send_nowait(s, &r) != 0)
        return false;
    h_acks_init(&a, seq, 1, 4);
    bool ok = h_acks_wait(&a, s, camera, ms) == 1;
    h_acks_free(&a);
    return ok;
}

/* HITs of plate on sub within ms (other HITs skipped). */
static int s_hits_of(void *sub, const char *plate, int want, int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;
    int n = 0;

    while (n < want && util_mono_us() < deadline) {
        uint8_t buf[PROTO_MAX_FRAME];
        struct proto_hit h;
        struct proto_error err;
        int len = h_recv(sub, buf, sizeof buf, (int)((deadline - util_mono_us()) / 1000) + 1);
        if (len > 0 && proto_decode_hit(buf, (size_t)len, &h, &err) == 0 &&
            strcmp(h.read.plate, plate) == 0)
            n++;
    }
    return n;
}

/* An AF_UNIX connection to an ipc:// endpoint, outside ZeroMQ; -1 on failure. */
static int s_raw_connect(const char *endpoint)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = endpoint + strlen("ipc://");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd >= 0 && strncmp(endpoint, "ipc://", 6) == 0 && strlen(path) < sizeof sa.sun_path)
        memcpy(sa.sun_path, path, strlen(path) + 1);
    if (fd < 0 || !sa.sun_path[0] || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Whether the peer closes fd within ms (anything it sends first is read away). */
static bool s_closed_within(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    uint8_t buf[256];
    ssize_t n;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    do
        n = read(fd, buf, sizeof buf);
    while (n > 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Whether anprd reloaded its key set (a "keys loaded" log line more than `before`) within
 * 30 s: a key change applies from then on. */
static bool s_reloaded(const struct h_daemon *d, int before)
{
    for (int i = 0; i < 300; i++) {
        if (h_daemon_log_count(d, "keys loaded") > before)
            return true;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char sql[2048], key_path[256];
    struct h_keypair server = h_keypair(), cam_a = h_keypair(), cam_b = h_keypair(),
                     cam_c = h_keypair(), rogue = h_keypair(), con_1 = h_keypair(),
                     con_2 = h_keypair(), con_3 = h_keypair();

    h_require_env();
    h_db_create(&db, "itest_curve");

    /* With CURVE on and no key at all, anprd refuses to start. */
    char dir[] = "/tmp/anprd-curve.XXXXXX";
    if (!mkdtemp(dir))
        h_fatal("mkdtemp");
    snprintf(key_path, sizeof key_path, "%s/anprd.key", dir);
    h_write_key(key_path, server.sec);
    struct h_daemon_opts o = {.curve_secret_file = key_path};
    fprintf(stderr, "(a refused start follows: no CURVE key in the database)\n");
    CHECK(h_daemon_start_opts(&d, &db, &o) != 0);
    CHECK(h_daemon_log_has(&d, "no CURVE key of a camera or console"));
    h_daemon_cleanup(&d);

    snprintf(sql, sizeof sql,
             "INSERT INTO anpr.camera (code, name, curve_key) VALUES ('CAM-A', 'a', '%s'), "
             "('CAM-B', 'b', '%s');"
             "INSERT INTO anpr.camera (code, name, mobile) VALUES ('CAM-C', 'c', true);"
             "INSERT INTO anpr.console (name, curve_key) VALUES ('con-1', '%s');"
             "INSERT INTO anpr.console (name, curve_key, dispatch) VALUES ('con-2', '%s', false),"
             " ('con-3', '%s', false);"
             "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
             "('Stolen', 'stolen', 1, 0);"
             "INSERT INTO anpr.watchlist (name, category, priority, covert, suppress_s) VALUES "
             "('Nightjar', 'surveillance', 2, true, 0), ('Kestrel', 'surveillance', 2, true, 0);"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '1-HIT-001' "
             "FROM anpr.watchlist WHERE name = 'Stolen';"
             "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '1-NJR-007' "
             "FROM anpr.watchlist WHERE name = 'Nightjar';"
             "INSERT INTO anpr.console_covert SELECT c.id, w.id FROM anpr.console c, "
             "anpr.watchlist w WHERE (c.name, w.name) IN (('con-2', 'Nightjar'), "
             "('con-3', 'Kestrel'))",
             cam_a.pub, cam_b.pub, con_1.pub, con_2.pub, con_3.pub);
    h_exec(db.admin, sql);
    if (h_daemon_start_opts(&d, &db, &o) != 0)
        return 1;
    CHECK(h_daemon_log_has(&d, server.pub)); /* the public key is said, for the admin */

    /* A peer that stalls in its CURVE handshake (a ZMTP greeting naming CURVE, then nothing). */
    int stalled = s_raw_connect(d.ingest_ep);
    CHECK(stalled >= 0);
    uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E'};
    CHECK(stalled < 0 || write(stalled, greeting, sizeof greeting) == (ssize_t)sizeof greeting);

    /* Good camera and a rogue key claiming the same camera, 10 000 reads each. */
    void *good = s_client(ZMQ_DEALER, d.ingest_ep, &cam_a, server.pub);
    void *bad = s_client(ZMQ_DEALER, d.ingest_ep, &rogue, server.pub);
    void *plain = h_dealer(d.ingest_ep);
    CHECK(s_served(good, "CAM-A", 1, "1-ABC-001", 20000));
    struct h_acks a;
    h_acks_init(&a, 2, N_READS - 1, 16);
    int bad_sent = 0;
    for (uint64_t i = 0; i < N_READS; i++) {
        struct proto_read r = h_read("CAM-A", 100000 + i, "9-BAD-999", "BE");
        bad_sent += s_send_nowait(bad, &r) == 0;
        struct proto_read p = h_read("CAM-A", 200000 + i, "9-BAD-998", "BE");
        s_send_nowait(plain, &p);
        if (i + 2 <= N_READS) {
            struct proto_read g = h_read("CAM-A", i + 2, "1-ABC-002", "BE");
            h_send_read(good, &g);
        }
        if (i % 1000 == 999)
            h_acks_wait(&a, good, "CAM-A", 0); /* keep the ACKs moving */
    }
    CHECK_INT(h_acks_wait(&a, good, "CAM-A", 60000), N_READS - 1);
    /* (The rogue's socket may not even queue them: libzmq drops its pipe once the handshake is
     * refused. Either way anprd must store none, and count the refusals.) */
    fprintf(stderr, "rogue: %d of %d reads left its socket\n", bad_sent, N_READS);
    h_acks_free(&a);
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c ON "
                        "c.id = r.camera_id WHERE c.code = 'CAM-A' AND r.seq < 100000",
                        N_READS, 30000),
              N_READS);
    /* The good camera's fence: everything sent before it was read by anprd. */
    CHECK(s_served(good, "CAM-A", N_READS + 1, "1-ABC-003", 20000));
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE seq >= 100000"), 0);
    CHECK(h_daemon_wait_log(&d, "denied=", 10000));
    CHECK(h_daemon_stat(&d, " denied=") >= 1);

    /* A good key claiming another camera: refused as an unknown camera, nothing stored. */
    void *b = s_client(ZMQ_DEALER, d.ingest_ep, &cam_b, server.pub);
    CHECK(s_served(b, "CAM-B", 1, "1-ABC-004", 20000));
    struct proto_read claim = h_read("CAM-A", 300000, "1-ABC-005", "BE");
    struct proto_reject rej;
    h_acks_init(&a, 300000, 1, 4);
    CHECK_INT(h_send_read(b, &claim), 0);
    CHECK_INT(h_wait_reject(&a, b, "CAM-A", &rej, 20000), 0);
    CHECK_INT(rej.reason, PROTO_E_CAMERA);
    h_acks_free(&a);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read WHERE seq = 300000"), 0);

    /* Dispatch: a registered console receives HITs, an unknown key and a plain peer do not;
     * covert: only the console cleared for the list. */
    void *sub_ok = s_sub(d.dispatch_ep, &con_1, server.pub, "hit/");
    void *sub_rogue = s_sub(d.dispatch_ep, &rogue, server.pub, "hit/");
    void *sub_plain = h_sub(d.dispatch_ep, "hit/");
    /* The covert feed: a recipient sends the topics it asks for (covert.h). con-2 is cleared
     * for Nightjar, con-3 only for Kestrel: asking for Nightjar or everything, it gets none of
     * Nightjar's; asking for Kestrel by name of a list it is not cleared for is refused. */
    char topic[32], kestrel_topic[32];
    long long nightjar = h_query_ll(db.admin, "SELECT id FROM anpr.watchlist WHERE name = "
                                              "'Nightjar'");
    long long kestrel = h_query_ll(db.admin, "SELECT id FROM anpr.watchlist WHERE name = "
                                             "'Kestrel'");
    int tl = snprintf(topic, sizeof topic, "covert/%lld/", nightjar);
    int kl = snprintf(kestrel_topic, sizeof kestrel_topic, "covert/%lld/", kestrel);
    void *cov_ok = s_client(ZMQ_DEALER, d.covert_ep, &con_2, server.pub);
    void *cov_other = s_client(ZMQ_DEALER, d.covert_ep, &con_3, server.pub);
    zmq_send(cov_ok, kestrel_topic, (size_t)kl, 0); /* not cleared for it: refused */
    zmq_send(cov_ok, topic, (size_t)tl, 0);
    zmq_send(cov_other, "covert/", 7, 0);
    zmq_send(cov_other, topic, (size_t)tl, 0); /* not cleared: refused */
    void *cov_dispatch = s_client(ZMQ_DEALER, d.covert_ep, &con_1, server.pub); /* no clearance */
    zmq_send(cov_dispatch, "covert/", 7, ZMQ_DONTWAIT);
    /* Subscriptions take a moment: send listed reads until the good console has both. */
    uint64_t seq = N_READS + 2;
    int got = 0, got_cov = 0;
    for (int i = 0; i < 200 && (!got || !got_cov); i++) {
        struct proto_read r = h_read("CAM-A", seq++, "1-HIT-001", "BE");
        struct proto_read c = h_read("CAM-A", seq++, "1-NJR-007", "BE");
        h_send_read(good, &r);
        h_send_read(good, &c);
        got += s_hits_of(sub_ok, "1-HIT-001", 1, 100);
        got_cov += s_hits_of(cov_ok, "1-NJR-007", 1, 100);
    }
    CHECK(got > 0);
    CHECK(got_cov > 0);
    /* Five more of each, then none may have reached the others. */
    for (int i = 0; i < 5; i++) {
        struct proto_read r = h_read("CAM-A", seq++, "1-HIT-001", "BE");
        struct proto_read c = h_read("CAM-A", seq++, "1-NJR-007", "BE");
        h_send_read(good, &r);
        h_send_read(good, &c);
    }
    CHECK_INT(s_hits_of(sub_ok, "1-HIT-001", 5, 20000), 5);
    CHECK_INT(s_hits_of(cov_ok, "1-NJR-007", 5, 20000), 5);
    CHECK_INT(s_hits_of(sub_rogue, "1-HIT-001", 1, 500), 0);
    CHECK_INT(s_hits_of(sub_plain, "1-HIT-001", 1, 500), 0);
    CHECK_INT(s_hits_of(cov_other, "1-NJR-007", 1, 500), 0);
    CHECK_INT(s_hits_of(cov_dispatch, "1-NJR-007", 1, 500), 0);

    /* A clearance withdrawn stops the next HIT at once, on the connection already made. */
    int cleared_loads = h_daemon_log_count(&d, "keys loaded");
    h_exec(db.admin, "DELETE FROM anpr.console_covert WHERE console_id = "
                     "(SELECT id FROM anpr.console WHERE name = 'con-2')");
    CHECK(s_reloaded(&d, cleared_loads));
    for (int i = 0; i < 3; i++) {
        struct proto_read c = h_read("CAM-A", seq++, "1-NJR-007", "BE");
        h_send_read(good, &c);
    }
    /* The general feed's HIT of a read sent after them: the covert ones were sent by then. */
    struct proto_read fence_read = h_read("CAM-A", seq++, "1-HIT-001", "BE");
    h_send_read(good, &fence_read);
    CHECK_INT(s_hits_of(sub_ok, "1-HIT-001", 1, 20000), 1);
    CHECK_INT(s_hits_of(cov_ok, "1-NJR-007", 1, 1000), 0);
    h_exec(db.admin, "INSERT INTO anpr.console_covert SELECT c.id, w.id FROM anpr.console c, "
                     "anpr.watchlist w WHERE c.name = 'con-2' AND w.name = 'Nightjar'");
    /* anpr-console as a covert recipient: its key, anprd's public key, the list's id. */
    char con_key[256], out_path[256], list_arg[16];
    snprintf(con_key, sizeof con_key, "%s/con-2.key", dir);
    snprintf(out_path, sizeof out_path, "%s/console.out", dir);
    h_write_key(con_key, con_2.sec);
    snprintf(list_arg, sizeof list_arg, "%lld", nightjar);
    char *argv[] = {getenv("ANPR_CONSOLE"),
                    "--endpoint",
                    d.covert_ep,
                    "--covert",
                    list_arg,
                    "--key",
                    con_key,
                    "--server-key",
                    server.pub,
                    "--count",
                    "1",
                    "--format",
                    "tsv",
                    "--timeout",
                    "60",
                    NULL};
    pid_t console = h_spawn(argv, out_path, NULL);
    /* Until it has its one HIT and exits (it subscribes at its own pace). */
    int st = 0;
    pid_t done = 0;
    for (int i = 0; i < 300 && done == 0; i++) {
        struct proto_read c = h_read("CAM-A", seq++, "1-NJR-007", "BE");
        h_send_read(good, &c);
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
        done = waitpid(console, &st, WNOHANG);
    }
    CHECK(done == console);
    CHECK(done == console && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (done == 0)
        h_wait(console, 0);
    char *console_out = h_slurp(out_path);
    CHECK_CONTAINS(console_out, "1-NJR-007");
    free(console_out);
    CHECK(h_daemon_wait_log(&d, "covert_refused=", 10000));
    CHECK(h_daemon_stat(&d, " covert_refused=") >= 1);

    /* The stalled handshake has been dropped meanwhile (after 10 s), while others were served. */
    if (stalled >= 0) {
        CHECK(s_closed_within(stalled, 30000));
        close(stalled);
    }

    /* A key added while running: let in once the key set is reloaded (NOTIFY), no restart. */
    int loads = h_daemon_log_count(&d, "keys loaded");
    snprintf(sql, sizeof sql, "UPDATE anpr.camera SET curve_key = '%s' WHERE code = 'CAM-C'",
             cam_c.pub);
    h_exec(db.admin, sql);
    CHECK(s_reloaded(&d, loads));
    void *c = s_client(ZMQ_DEALER, d.ingest_ep, &cam_c, server.pub);
    CHECK(s_served(c, "CAM-C", 1, "1-ABC-006", 20000));
    /* A fixed camera's reads do not bring their own position; a mobile camera's do. */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c "
                                   "ON c.id = r.camera_id WHERE c.code = 'CAM-A' AND "
                                   "r.latitude IS NOT NULL"),
              0);
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT (count(*) > 0)::int FROM anpr.plate_read r JOIN anpr.camera c ON "
                        "c.id = r.camera_id WHERE c.code = 'CAM-C' AND r.latitude > 48",
                        1, 20000),
              1);
    /* And a camera disabled is not let in at its next connection. */
    loads = h_daemon_log_count(&d, "keys loaded");
    h_exec(db.admin, "UPDATE anpr.camera SET enabled = false WHERE code = 'CAM-B'");
    CHECK(s_reloaded(&d, loads));
    /* Refused at the handshake, not merely slow: a read on a fresh connection is neither
     * acknowledged nor stored, and the refusals are counted. */
    long long denied_before = h_daemon_stat(&d, " denied=");
    h_close(b);
    b = s_client(ZMQ_DEALER, d.ingest_ep, &cam_b, server.pub);
    CHECK(!s_served(b, "CAM-B", 1000, "1-ABC-008", 3000));
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c "
                                   "ON c.id = r.camera_id WHERE c.code = 'CAM-B' AND "
                                   "r.seq = 1000"),
              0);
    bool counted = false;
    for (int i = 0; i < 100 && !counted; i++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        counted = h_daemon_stat(&d, " denied=") > denied_before;
    }
    CHECK(counted);

    h_close(b);
    h_close(c);
    h_close(good);
    h_close(bad);
    h_close(plain);
    h_close(sub_ok);
    h_close(sub_rogue);
    h_close(sub_plain);
    h_close(cov_ok);
    h_close(cov_other);
    h_close(cov_dispatch);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    if (!check_failed)
        h_rmtree(dir);
    h_db_close(&db);
    return check_done("itest_curve");
}
