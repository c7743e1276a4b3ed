/*
 * Integration: a bit flipped in the outbound (backbone) spool. anprd spools 100 HITs while the
 * national server (the reference sink) is away and is killed; one payload bit of the 51st
 * HIT's record is flipped. Then:
 *   - `anpr-spool verify` on the outbound spool reports 1 record lost (sequence 51);
 *   - the restarted anprd logs the HIT lost and where its bytes were set aside, counts it
 *     (`lost=1` on the backbone stats line), and delivers the 99 others, each once: the
 *     damage no longer drops every HIT after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include "check.h"
#include "harness.h"
#include "sinkproc.h"
#include "testcert.h"
#include "tls.h"
#include "util.h"

#define CAM "BE-E314-BOORSEM"
#define N   100

static struct h_db db;
static struct sinkproc sp; /* the sink, its certificates and this test's files */

/* Which camera seqs of CAM the sink holds HIT lines of (field 5 the camera, 6 the seq). */
static size_t s_sink_seqs(int *seen, size_t max)
{
    char *text = h_slurp(sinkproc_file(&sp, "sink.tsv"));
    size_t lines = 0;

    memset(seen, 0, max * sizeof *seen);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *f[8];
        size_t n = 0;
        for (char *p = line; n < 8 && p; n++) {
            f[n] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = '\0';
        }
        if (n < 7 || strcmp(f[3], "HIT") != 0 || strcmp(f[4], CAM) != 0)
            continue;
        lines++;
        unsigned long long seq = strtoull(f[5], NULL, 10);
        if (seq < max)
            seen[seq]++;
    }
    free(text);
    return lines;
}

int main(void)
{
    struct h_daemon d;
    struct h_acks acks;
    char extra[1600], outbound[128], seg[400];
    static int seen[N + 2];

    h_require_env();
    if (!getenv("ANPR_BACKBONE_SINK"))
        h_fatal("ANPR_BACKBONE_SINK is not set");
    if (sinkproc_init(&sp, "bbdmg") != 0)
        h_fatal("the sink's folder");
    snprintf(outbound, sizeof outbound, "%s/outbound", sp.dir);

    h_db_create(&db, "itest_backbone_damage");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('" CAM "', 'E314');"
                     "INSERT INTO anpr.watchlist (name, category, priority, suppress_s) VALUES "
                     "('Stolen vehicles', 'stolen', 1, 0);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '1-HIT-001' "
                     "FROM anpr.watchlist");
    if (!sinkproc_anprd_yaml(&sp, extra, sizeof extra))
        h_fatal("configuration too long");
    struct h_daemon_opts opts = {.extra = extra};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        return 1;
    void *dealer = h_dealer(d.ingest_ep);

    /* The server away: 100 HITs wait in the outbound spool. */
    for (uint64_t s = 1; s <= N; s++) {
        struct proto_read r = h_read(CAM, s, "1-HIT-001", "BE");
        h_send_read(dealer, &r);
    }
    h_acks_init(&acks, 1, N, 0);
    CHECK_INT(h_acks_wait(&acks, dealer, CAM, 10000), N);
    h_acks_free(&acks);
    CHECK(h_daemon_wait_log(&d, "backbone: connected=0 depth=100 ", 10000));
    CHECK_INT(h_daemon_stop(&d, SIGKILL, 5000), 128 + SIGKILL);

    /* One payload bit of record 50 (the 51st HIT), the records walked as docs/SPOOL.md says. */
    CHECK(h_spool_segment(outbound, seg, sizeof seg));
    int fd = open(seg, O_RDWR);
    CHECK(fd >= 0);
    if (fd < 0)
        goto out;
    uint64_t off = 40;
    for (int i = 0; i < 50; i++) {
        uint8_t h[4];
        CHECK_INT(pread(fd, h, 4, (off_t)off), 4);
        off += 16 +
               ((uint64_t)h[0] | (uint64_t)h[1] << 8 | (uint64_t)h[2] << 16 | (uint64_t)h[3] << 24);
    }
    uint8_t b = 0;
    CHECK_INT(pread(fd, &b, 1, (off_t)(off + 16 + 40)), 1);
    b ^= 2;
    CHECK_INT(pwrite(fd, &b, 1, (off_t)(off + 16 + 40)), 1);
    close(fd);

    /* anpr-spool verify says it first, read-only. */
    char vout[128], verr[128];
    char *argv[] = {getenv("ANPR_SPOOL"), "verify", outbound, NULL};
    snprintf(vout, sizeof vout, "%s/verify.out", sp.dir);
    snprintf(verr, sizeof verr, "%s/verify.err", sp.dir);
    CHECK_INT(h_wait(h_spawn(argv, vout, verr), 60000), 1);
    char *text = h_slurp(vout);
    fprintf(stderr, "$ anpr-spool verify\n%s", text ? text : "");
    CHECK(text && strstr(text, "1 records lost (sequence 51..51)"));
    CHECK(text && strstr(text, "1 damaged stretches"));
    free(text);

    /* The server back, anprd restarted: 99 delivered, 1 counted lost. */
    pid_t sink = sinkproc_start(&sp, "server", "sink.tsv", 0);
    CHECK_INT(h_daemon_restart(&d), 0);
    CHECK(h_daemon_log_has(&d, "backbone spool damaged"));
    CHECK(h_daemon_log_has(&d, "1 HITs lost (spool sequence 51..51)"));
    CHECK(h_daemon_log_has(&d, "backbone spool: 1 acknowledged HITs lost to damage"));
    CHECK(h_daemon_log_has(&d, "set aside in quarantine-"));
    CHECK(h_daemon_wait_log(&d, "backbone: connected=1 depth=0 ", 20000));
    CHECK(h_daemon_wait_log(&d, "lost=1", 10000));
    size_t lines = s_sink_seqs(seen, N + 2);
    CHECK_INT(lines, N - 1);
    size_t once = 0;
    for (int s = 1; s <= N; s++)
        once += seen[s] == 1;
    CHECK_INT(once, N - 1);
    CHECK_INT(seen[51], 0); /* HITs go to the spool in read order: the 51st is the damaged one */
    h_close(dealer);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    if (sink > 0) {
        kill(sink, SIGTERM);
        h_wait(sink, 10000);
    }
out:
    h_rmtree(sp.dir);
    h_db_close(&db);
    return check_done("itest_backbone_damage");
}
