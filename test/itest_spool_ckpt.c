/*
 * Integration: the writer checkpoints the read spool at most every 100 ms while reads keep
 * coming, not after every batch it stores (each checkpoint is two fsyncs on the disk the group
 * commits wait on), and catches up once the spool is drained:
 *   1. once the writer drains, 300 groups of one read each (the next sent once the last is
 * acknowledged), each stored by the writer: the checkpoint file is replaced (checkpoint.tmp renamed
 * over it, seen with inotify) at most once per 100 ms of the run, plus the last;
 *   2. once every read is stored, the checkpoint reaches the spool's durable mark;
 *   3. after a stop the daemon starts again with nothing to store again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "util.h"

#define CAM    "BE-E40-JABBEKE"
#define GROUPS 300

static struct h_db db;

/* The position in a checkpoint or durable-mark file (docs/SPOOL.md: bytes 16..23, little
 * endian); -1 when it cannot be read. */
static long long s_pos(const char *dir, const char *name)
{
    char path[512];
    unsigned char b[36];
    long long pos = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    if (n != (ssize_t)sizeof b)
        return -1;
    for (int i = 7; i >= 0; i--)
        pos = pos << 8 | b[16 + i];
    return pos;
}

/* Checkpoint files put in place since the last call (renames onto "checkpoint"). The watch
 * takes the MOVED_FROM events too: inotify merges an event into an identical one queued just
 * before it, so renames seen alone would count as one. */
static int s_renames(int ifd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int n = 0;
    ssize_t len;

    while ((len = read(ifd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if ((e->mask & IN_MOVED_TO) && e->len > 0 && strcmp(e->name, "checkpoint") == 0)
                n++;
            p += sizeof *e + e->len;
        }
    return n;
}

int main(void)
{
    struct h_daemon d;
    struct h_acks acks;
    char extra[512], spool[256], reads[300];
    uint64_t seq = 1;

    h_require_env();
    h_db_create(&db, "itest_spool_ckpt");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E40 Jabbeke')");
    snprintf(spool, sizeof spool, "/tmp/anprd-spool.XXXXXX");
    if (!mkdtemp(spool))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(reads, sizeof reads, "%s/reads", spool);
    snprintf(extra, sizeof extra, "spool:\n  dir: \"%s\"\n  max_mb: 64\n", reads);
    struct h_daemon_opts opts = {.extra = extra};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0 || inotify_add_watch(ifd, reads, IN_MOVED_FROM | IN_MOVED_TO) < 0)
        h_fatal("inotify on %s: %s", reads, strerror(errno));

    /* The writer is draining (its partitions made) before the count starts. */
    h_send_reads(dealer, CAM, &seq, 1, "1-CKP-");
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", 1, 30000) == 1);
    for (int64_t until = util_mono_us() + 10000000;
         s_pos(reads, "checkpoint") != s_pos(reads, "durable") && util_mono_us() < until;)
        usleep(10000);
    s_renames(ifd);

    /* 1. One read per group, each acknowledged before the next is sent. */
    int64_t t0 = util_mono_us();
    for (int g = 0; g < GROUPS; g++) {
        uint64_t one = h_send_reads(dealer, CAM, &seq, 1, "1-CKP-");
        h_acks_init(&acks, one, 1, 0);
        size_t got = h_acks_wait(&acks, dealer, CAM, 10000);
        h_acks_free(&acks);
        if (got != 1) {
            CHECK_INT(got, 1);
            break;
        }
    }
    CHECK(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.plate_read", GROUPS + 1, 30000) ==
          GROUPS + 1);

    /* 2. Drained: the checkpoint catches up with what is durable. */
    long long durable = s_pos(reads, "durable"), ckpt = -1;
    for (int64_t until = util_mono_us() + 10000000; util_mono_us() < until;) {
        if ((ckpt = s_pos(reads, "checkpoint")) == durable)
            break;
        usleep(10000);
    }
    CHECK(durable > 0);
    CHECK_INT(ckpt, durable);
    long long span_ms = (util_mono_us() - t0) / 1000;
    int renames = s_renames(ifd);
    fprintf(stderr, "%d groups in %lld ms: %d checkpoints\n", GROUPS, span_ms, renames);
    CHECK(renames >= 1);
    /* One per 100 ms at most, one at the end, and one for a timer's rounding. */
    CHECK(renames <= span_ms / 100 + 2);

    /* 3. Stopped and started again: nothing left to store. */
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK_INT(s_pos(reads, "checkpoint"), s_pos(reads, "durable"));
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK(h_daemon_log_has(&d, ": 0 reads not yet stored"));
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.plate_read"), GROUPS + 1);

    close(ifd);
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_rmtree(spool);
    h_db_close(&db);
    return check_done("itest_spool_ckpt");
}
