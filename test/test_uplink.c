/*
 * test_uplink: ingest's side of the backbone on a real forwarder (fwd.h) with a real outbound
 * spool and throw-away certificates, towards a port where no server listens, so nothing is
 * acknowledged and the spool fills. A read's HITs go but a list kept in the zone's; every read
 * goes with backbone.forward_reads after a reload; a full spool refuses the read; post-match HITs
 * go at once while there is room, a bad one is dropped, and while the spool is full they wait,
 * in order, round after round.
 */
#include "uplink.h"

#include "check.h"
#include "testcert.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "match.h"

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static struct conf *s_conf(const char *dir, int port, bool forward_reads)
{
    char text[4096];
    char *errors = NULL;

    snprintf(text, sizeof text,
             "database:\n  conninfo: dbname=x\n"
             "backbone:\n  host: 127.0.0.1\n  port: %d\n  ca_file: %s/ca.pem\n"
             "  cert_file: %s/client.pem\n  key_file: %s/client.key\n  instance: zone-test\n"
             "  spool_dir: %s/out\n  max_mb: 1\n  forward_reads: %d\n",
             port, dir, dir, dir, dir, forward_reads ? 1 : 0);
    struct conf *c = conf_parse("t.yaml", text, strlen(text), &errors);
    CHECK(c != NULL);
    if (errors) {
        fprintf(stderr, "%s", errors);
        free(errors);
    }
    return c;
}

static struct proto_read s_read(uint64_t seq, const char *plate)
{
    struct proto_read r;

    memset(&r, 0, sizeof r);
    snprintf(r.camera, sizeof r.camera, "CAM-1");
    snprintf(r.plate, sizeof r.plate, "%s", plate);
    snprintf(r.country, sizeof r.country, "BE");
    r.seq = seq;
    r.time_us = 1764400000000000LL + (int64_t)seq;
    r.confidence = 900;
    return r;
}

static uint64_t s_pushed(const uplink_t *up)
{
    struct fwd_stats st;

    uplink_stats(up, &st);
    return st.pushed;
}

int main(void)
{
    char dir[64] = "/tmp/test_uplink.XXXXXX", err[512];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof sa;
    struct spool_report rep;
    struct fwd_stats st;

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK_INT(testcert_make(dir, err, sizeof err), 0);
    /* A port held but never listening: every connect is refused, nothing is acknowledged. */
    int hold = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_INT(bind(hold, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_INT(getsockname(hold, (struct sockaddr *)&sa, &salen), 0);
    int port = ntohs(sa.sin_port);
    struct conf *c = s_conf(dir, port, false), *c2 = s_conf(dir, port, true);
    lograte_t *lr = lograte_new(1000000);
    if (!c || !c2 || !lr)
        return check_done("test_uplink");

    uplink_t *up = uplink_new(c, lr, &rep, err, sizeof err);
    CHECK(up != NULL);
    if (!up) {
        fprintf(stderr, "uplink_new: %s\n", err);
        return check_done("test_uplink");
    }

    /* One plate on three lists: sent, kept in the zone, covert (sent, flagged). */
    wl_builder_t *wb = wl_builder_new();
    struct wl_list_opts off = {.backbone_off = true}, covert = {.covert = true};
    CHECK_INT(wl_builder_add_list(wb, 1, "Stolen", "stolen", 1, NULL, err, sizeof err), 0);
    CHECK_INT(wl_builder_add_list(wb, 2, "Local", "local", 2, &off, err, sizeof err), 0);
    CHECK_INT(wl_builder_add_list(wb, 3, "Quiet", "quiet", 2, &covert, err, sizeof err), 0);
    for (uint32_t l = 1; l <= 3; l++) {
        struct wl_entry_in in = {.id = 6 + l,
                                 .list_id = l,
                                 .plate = "1ABC123",
                                 .valid_from_us = WL_UNBOUNDED_FROM,
                                 .valid_until_us = WL_UNBOUNDED_UNTIL};
        CHECK_INT(wl_builder_add(wb, &in, err, sizeof err), 0);
    }
    wl_t *wl = wl_builder_build(&wb);
    const struct wl_entry *e[3];
    struct wl_match m[3];
    CHECK_INT(wl_lookup(wl, "1ABC123", "BE", 0, e, 3), 3);
    for (int i = 0; i < 3; i++)
        m[i] = (struct wl_match){.entry = e[i], .kind = PROTO_MATCH_EXACT};

    /* A read's HITs: the zone's list stays home. */
    struct proto_read r = s_read(1, "1-ABC-123");
    CHECK_INT(uplink_push(up, &r, "1ABC123", m, 3), 0);
    CHECK_INT(s_pushed(up), 2);
    CHECK_INT(uplink_commit(up), 0);
    uplink_stats(up, &st);
    CHECK_INT(st.queued_records, 2);
    /* Reloaded with forward_reads: the read goes too, also one without a HIT. */
    uplink_set_conf(up, c2);
    r = s_read(2, "2-XYZ-999");
    CHECK_INT(uplink_push(up, &r, "2XYZ999", NULL, 0), 0);
    CHECK_INT(s_pushed(up), 3);
    uplink_set_conf(up, c);

    /* Post-match HITs with room: at once, in order; the zone's list's and a bad one are not. */
    struct retro_post posts[4];
    memset(posts, 0, sizeof posts);
    r = s_read(3, "1-ABC-123");
    for (int i = 0; i < 4; i++) {
        match_hit(&r, &m[0], true, &posts[i].hit);
        posts[i].hit.hit_id = 900 + (uint64_t)i;
        posts[i].fresh = true;
    }
    posts[1].backbone_off = true;
    snprintf(posts[3].hit.read.plate, sizeof posts[3].hit.read.plate, "%s", "--");
    uplink_posts(up, posts, 4);
    CHECK_INT(uplink_waiting(up), 0);
    CHECK_INT(s_pushed(up), 5);

    /* Fill the outbound spool (max_mb 1): the read that does not fit is refused. */
    int rc = 0;
    for (uint64_t seq = 10; seq < 100000 && rc == 0; seq++) {
        r = s_read(seq, "1-ABC-123");
        rc = uplink_push(up, &r, "1ABC123", m, 1);
        if (seq % 200 == 0)
            CHECK_INT(uplink_commit(up), 0);
    }
    CHECK_INT(rc, -1);
    CHECK_INT(uplink_commit(up), 0);
    uplink_stats(up, &st);
    CHECK(st.full >= 1);
    uint64_t pushed = st.pushed;

    /* Full: post-match HITs wait, in order, round after round; none is lost or pushed. */
    uplink_posts(up, posts, 3);
    CHECK_INT(uplink_waiting(up), 3);
    uplink_retry(up);
    uplink_retry(up);
    CHECK_INT(uplink_waiting(up), 3);
    uplink_posts(up, posts, 2);
    CHECK_INT(uplink_waiting(up), 5);
    CHECK_INT(s_pushed(up), pushed);

    uplink_destroy(&up);
    uplink_destroy(&up);
    CHECK(up == NULL);
    wl_destroy(&wl);
    lograte_destroy(&lr);
    conf_destroy(&c);
    conf_destroy(&c2);
    close(hold);
    nftw(dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_done("test_uplink");
}
