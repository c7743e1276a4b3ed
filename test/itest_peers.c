/*
 * Integration: peers that misbehave at the ZeroMQ level cannot stop anprd serving others.
 *
 * - Two readers with one routing id: the second connects while the first is connected, the
 *   first sends a read and goes. With ROUTER handover and heartbeats on, libzmq 4.3.4 then
 *   aborted the daemon (stream_engine_base.cpp:331 !_io_error) some seconds later. anprd must
 *   still serve 30 s later, and a reader coming back with that routing id is served.
 * - A reader that sends and never reads its ACKs: its queue fills; the others are served.
 * - A reader over its connection's rate: the rest of its burst is refused as overload.
 * - A peer that opens the socket and stalls in the middle of the ZMTP greeting: the others are
 *   served meanwhile, and anprd drops it after its handshake timeout.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM "CAM-PEERS"

/* Send read seq of CAM on s and wait for its ACK; whether it came. */
static bool s_served(void *s, uint64_t seq, int timeout_ms)
{
    struct proto_read r = h_read(CAM, seq, "1-ABC-123", "BE");
    struct h_acks a;

    if (h_send_read(s, &r) != 0)
        return false;
    h_acks_init(&a, seq, 1, 4);
    bool ok = h_acks_wait(&a, s, CAM, timeout_ms) == 1;
    h_acks_free(&a);
    return ok;
}

static void *s_dealer_id(const char *endpoint, const char *id)
{
    void *s = zmq_socket(h_zmq_ctx(), ZMQ_DEALER);
    int zero = 0, ivl = 100;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    if (zmq_connect(s, endpoint) != 0)
        h_fatal("connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

/* A TCP connection to a tcp://127.0.0.1:PORT endpoint, outside ZeroMQ; -1 on failure. */
static int s_raw_connect(const char *endpoint)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const char *colon = strrchr(endpoint, ':');
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || !colon)
        goto fail;
    sa.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto fail;
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    uint64_t seq = 1;

    h_require_env();
    h_db_create(&db, "itest_peers");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'peers')");
    /* Over TCP, where the abort was seen (heartbeats run on the stream engine). */
    struct h_daemon_opts o = {.tcp = true, .ingest = "  peer_rate_per_s: 200\n  peer_burst: 200\n"};
    if (h_daemon_start_opts(&d, &db, &o) != 0)
        return 1;

    void *good = h_dealer(d.ingest_ep);
    CHECK(s_served(good, seq++, 20000));

    /* Two readers, one routing id: the second is not let in while the first is there (no
     * handover); the first sends a read and goes. */
    /* The connections are made in the background and a peer that is not let in sees nothing:
     * there is nothing to wait on but time here. */
    struct timespec half = {0, 500000000};
    void *first = s_dealer_id(d.ingest_ep, "reader-7");
    nanosleep(&half, NULL);
    void *second = s_dealer_id(d.ingest_ep, "reader-7");
    nanosleep(&half, NULL);
    struct proto_read r = h_read(CAM, seq++, "1-ABC-123", "BE");
    CHECK_INT(h_send_read(first, &r), 0);
    h_close(first);
    h_close(second);

    /* A flood from one connection: its burst is taken, the rest refused as overload (the
     * reader resends it later), every read answered; another reader is served meanwhile. */
    void *flood = h_dealer(d.ingest_ep);
    struct h_acks fa;
    h_acks_init(&fa, 500000, 1000, 1000);
    for (uint64_t i = 0; i < 1000; i++) {
        struct proto_read rf = h_read(CAM, 500000 + i, "3-GHI-789", "BE");
        h_send_read(flood, &rf);
    }
    CHECK(s_served(good, seq++, 20000));
    /* Every read is answered, one way or the other (an ACK never comes for a refused one, so
     * wait in short steps until the answers add up). */
    size_t acked = 0;
    for (int64_t until = util_mono_us() + 60000000LL;
         acked + fa.nrejects < 1000 && util_mono_us() < until;)
        acked = h_acks_wait(&fa, flood, CAM, 200);
    CHECK(acked >= 200);
    CHECK(fa.nrejects >= 500);
    CHECK_INT(acked + fa.nrejects, 1000);
    for (size_t i = 0; i < fa.nrejects; i++)
        CHECK_INT(fa.rejects[i].reason, PROTO_E_OVERLOAD);
    h_acks_free(&fa);
    h_close(flood);

    /* A reader that never reads its ACKs. */
    void *deaf = h_dealer(d.ingest_ep);
    int sent = 0;
    for (int i = 0; i < 20000; i++) {
        struct proto_read rd = h_read(CAM, 1000000 + (uint64_t)i, "2-DEF-456", "BE");
        if (h_send_read(deaf, &rd) == 0)
            sent++;
    }
    CHECK(sent > 0);

    /* A peer stalled in the middle of its greeting. */
    int raw = s_raw_connect(d.ingest_ep);
    CHECK(raw >= 0);
    static const uint8_t half_greeting[] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3};
    CHECK(raw < 0 || write(raw, half_greeting, sizeof half_greeting) == sizeof half_greeting);

    /* For 30 s the daemon keeps serving the good reader, once a second. */
    int64_t end = util_mono_us() + 30 * 1000000LL;
    int served = 0, tries = 0;
    while (util_mono_us() < end) {
        tries++;
        served += s_served(good, seq++, 20000);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    CHECK_INT(served, tries);
    CHECK_INT(kill(d.pid, 0), 0);
    /* A reader coming back with the routing id of one that has gone is served. */
    void *again = s_dealer_id(d.ingest_ep, "reader-7");
    CHECK(s_served(again, seq++, 20000));
    h_close(again);

    /* The stalled peer has been dropped: its end of the connection reads EOF (or a reset). */
    if (raw >= 0) {
        struct timeval tv = {30, 0};
        uint8_t buf[64];
        ssize_t n;
        setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        do
            n = read(raw, buf, sizeof buf);
        while (n > 0);
        CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
        close(raw);
    }

    h_close(deaf);
    h_close(good);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_peers");
}
