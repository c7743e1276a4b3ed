/*
 * Integration: more urgent HITs fall due at once than one question to the sync thread holds
 * (1000). HITs acknowledged before they were first due are never announced again, also those
 * beyond the first question; of as many unacknowledged ones, every one is announced again
 * within two questions (the longest due are asked first), none waits behind the others.
 *
 * The first 1100 HITs are acknowledged as they are stored (a trigger on anpr.hits), so before
 * anprd publishes them: any announcement of them after the first is wrong, whatever the timing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM     "BE-A2-MAASMECHELEN"
#define ACKED   "BULK-ACK"  /* acknowledged as stored */
#define OPEN    "BULK-OPEN" /* never acknowledged */
#define CONTROL "1-CTL-001" /* never acknowledged */
#define MANY    1100

/* Every HIT id seen of one plate, sorted, with how often it came. */
struct seen {
    uint64_t id[MANY];
    int times[MANY];
    int n;     /* distinct ids */
    int total; /* announcements */
};

static struct seen s_acked, s_open;
static int s_control;
static void *s_sub;

static void s_note(struct seen *s, uint64_t id)
{
    int lo = 0, hi = s->n;

    s->total++;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->id[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->id[lo] == id) {
        s->times[lo]++;
        return;
    }
    if (s->n == MANY) {
        CHECK(!"more HIT ids than reads sent");
        return;
    }
    memmove(&s->id[lo + 1], &s->id[lo], (size_t)(s->n - lo) * sizeof s->id[0]);
    memmove(&s->times[lo + 1], &s->times[lo], (size_t)(s->n - lo) * sizeof s->times[0]);
    s->id[lo] = id;
    s->times[lo] = 1;
    s->n++;
}

/* How many of the ids of s came at least `times` times. */
static int s_at_least(const struct seen *s, int times)
{
    int k = 0;

    for (int i = 0; i < s->n; i++)
        k += s->times[i] >= times;
    return k;
}

/* Receive until done() or ms pass; whether done. */
static bool s_until(bool (*done)(void), int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        uint8_t buf[PROTO_MAX_FRAME];
        struct proto_hit h;
        if (done())
            return true;
        int64_t left = (deadline - util_mono_us()) / 1000;
        int len = left > 0 ? h_recv(s_sub, buf, sizeof buf, (int)left) : -1;
        if (len < 0)
            return false;
        if (proto_decode_hit(buf, (size_t)len, &h, NULL) != 0)
            continue;
        if (strcmp(h.read.plate, ACKED) == 0)
            s_note(&s_acked, h.hit_id);
        else if (strcmp(h.read.plate, OPEN) == 0)
            s_note(&s_open, h.hit_id);
        else if (strcmp(h.read.plate, CONTROL) == 0)
            s_control++;
    }
}

static int s_control_want;

static bool s_acked_all(void)
{
    return s_acked.n == MANY;
}

static bool s_control_reached(void)
{
    return s_control >= s_control_want;
}

static bool s_open_all(void)
{
    return s_open.n == MANY;
}

static bool s_open_all_again(void)
{
    return s_at_least(&s_open, 2) == MANY;
}

static void s_send_many(void *dealer, uint64_t *seq, const char *plate)
{
    for (int i = 0; i < MANY; i++) {
        struct proto_read r = h_read(CAM, (*seq)++, plate, "");
        h_send_read(dealer, &r);
    }
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;

    h_require_env();
    h_db_create(&db, "itest_reannounce_many");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'A2');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
           "('Wanted persons', 'wanted', 1, 0), ('Fence', 'surveillance', 9, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, 'FENCE-1' "
           "FROM anpr.watchlist WHERE name = 'Fence';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, p "
           "FROM anpr.watchlist, (VALUES ('" ACKED "'), ('" OPEN "'), ('" CONTROL "')) v(p) "
           "WHERE name = 'Wanted persons';"
           "CREATE FUNCTION anpr.test_ack_as_stored() RETURNS trigger LANGUAGE plpgsql "
           "SECURITY DEFINER AS $$ BEGIN "
           "INSERT INTO anpr.hit_ack (hit_id, decision) VALUES (NEW.hit_id, 'accepted'); "
           "RETURN NULL; END $$;"
           "CREATE TRIGGER test_ack_as_stored AFTER INSERT ON anpr.hits FOR EACH ROW "
           "WHEN (NEW.plate = 'BULKACK') EXECUTE FUNCTION anpr.test_ack_as_stored()");
    struct h_daemon_opts opts = {.dispatch = "  reannounce_s: 1\n  reannounce_priority: 2\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);
    /* Room for the bursts: a thousand announcements go out at once. */
    int hwm = 100000, zero = 0;
    s_sub = zmq_socket(h_zmq_ctx(), ZMQ_SUB);
    zmq_setsockopt(s_sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s_sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s_sub, ZMQ_SUBSCRIBE, "hit/", 4);
    CHECK(zmq_connect(s_sub, d.dispatch_ep) == 0);
    uint64_t seq = 1;
    CHECK(h_feed_live(dealer, s_sub, CAM, &seq, "FENCE-1"));

    /* 1. Acknowledged as stored: each one announced once, never again, while the control
     * is announced again three times (three questions since). */
    struct proto_read c = h_read(CAM, seq++, CONTROL, "BE");
    h_send_read(dealer, &c);
    s_send_many(dealer, &seq, ACKED);
    CHECK(s_until(s_acked_all, 10000));
    CHECK_INT(h_query_ll(db.admin, "SELECT count(DISTINCT hit_id) FROM anpr.hit_ack"), MANY);
    s_control_want = s_control + 3;
    CHECK(s_until(s_control_reached, 8000));
    CHECK_INT(s_acked.n, MANY);
    CHECK_INT(s_acked.total, MANY);

    /* 2. Not acknowledged: every one of them again, within two questions and a bit. */
    s_send_many(dealer, &seq, OPEN);
    CHECK(s_until(s_open_all, 10000));
    CHECK(s_until(s_open_all_again, 6000));
    fprintf(stderr, "unacknowledged: %d of %d announced again\n", s_at_least(&s_open, 2), MANY);
    CHECK_INT(s_acked.total, MANY);

    h_close(dealer);
    zmq_close(s_sub);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
    return check_done("itest_reannounce_many");
}
