/*
 * Integration: reads from several camera readers are all stored and acknowledged, exactly once,
 * and resent reads are stored once and acknowledged again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

#define READERS    4
#define PER_READER 2500

/* Four anpr-camera processes send 10 000 reads; every acknowledged read is in plate_read. */
static void test_many_readers(struct h_db *db, struct h_daemon *d)
{
    pid_t pids[READERS];
    char acked_path[READERS][256], out_path[READERS][256];
    const char *camera_bin = getenv("ANPR_CAMERA");

    for (int i = 0; i < READERS; i++) {
        char cam[32], seed[16], count[16];
        snprintf(cam, sizeof cam, "CAM-%d", i);
        snprintf(seed, sizeof seed, "%d", 100 + i);
        snprintf(count, sizeof count, "%d", PER_READER);
        snprintf(acked_path[i], sizeof acked_path[i], "%s/acked-%d.tsv", d->dir, i);
        snprintf(out_path[i], sizeof out_path[i], "%s/camera-%d.out", d->dir, i);
        char *argv[] = {(char *)camera_bin, "--endpoint", d->ingest_ep, "--camera", cam, "--count",
                        count, "--rate", "0", "--seed", seed, "--wait", "60",
                        /* No resend while waiting for a slow ACK: the daemon's duplicate
                         * count below is then only test_resend's. */
                        "--resend-ms", "60000", "--dump-acked", acked_path[i], "--quiet", NULL};
        pids[i] = h_spawn(argv, out_path[i], NULL);
    }
    for (int i = 0; i < READERS; i++) {
        int st = h_wait(pids[i], 120000);
        char *out = h_slurp(out_path[i]);
        char want[64];
        CHECK_INT(st, 0);
        snprintf(want, sizeof want, "acked=%d ", PER_READER);
        CHECK_CONTAINS(out, want);
        CHECK_CONTAINS(out, "unacked=0");
        free(out);
    }

    /* Every (camera, seq) a reader saw acknowledged is stored, and nothing else. */
    h_exec(db->admin, "CREATE TEMP TABLE acked (camera text, seq bigint)");
    for (int i = 0; i < READERS; i++) {
        char *data = h_slurp(acked_path[i]);
        h_copy_in(db->admin, "COPY acked FROM STDIN", data, strlen(data));
        free(data);
    }
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM acked"), READERS * PER_READER);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(DISTINCT (camera, seq)) FROM acked"),
              READERS * PER_READER);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.plate_read"), READERS * PER_READER);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM acked a WHERE NOT EXISTS ("
                                    "SELECT 1 FROM anpr.plate_read r JOIN anpr.camera c "
                                    "ON c.id = r.camera_id WHERE c.code = a.camera "
                                    "AND r.seq = a.seq)"),
              0);
    /* Stored rows carry the normalised plate and the plate as read. */
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.plate_read "
                                    "WHERE plate !~ '^[A-Z0-9]{1,16}$' OR plate_raw = ''"),
              0);
}

/* Reads sent twice (as after a lost ACK) are stored once and acknowledged both times. */
static void test_resend(struct h_db *db, struct h_daemon *d)
{
    enum { N = 300 };
    void *s = h_dealer(d->ingest_ep);
    struct proto_read reads[N];
    struct h_acks a;

    for (int i = 0; i < N; i++) {
        char plate[32];
        snprintf(plate, sizeof plate, "1-RSD-%03d", i);
        reads[i] = h_read("CAM-RESEND", (uint64_t)i + 1, plate, "BE");
        /* Alternating lanes and a candidate, so the rows are not all alike. */
        reads[i].lane = (uint8_t)(i % 3 + 1);
        reads[i].ncand = 1;
        snprintf(reads[i].cand[0].plate, sizeof reads[i].cand[0].plate, "1-R5D-%03d", i);
        reads[i].cand[0].confidence = 400;
        h_send_read(s, &reads[i]);
    }
    h_acks_init(&a, 1, N, 4);
    CHECK_INT(h_acks_wait(&a, s, "CAM-RESEND", 20000), N);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);

    /* The same frames again, and half of them a third time, in one burst. */
    for (int i = 0; i < N; i++)
        h_send_read(s, &reads[i]);
    for (int i = 0; i < N; i += 2)
        h_send_read(s, &reads[i]);
    h_acks_init(&a, 1, N, 4);
    CHECK_INT(h_acks_wait(&a, s, "CAM-RESEND", 20000), N);
    h_acks_free(&a);

    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c "
                                    "ON c.id = r.camera_id WHERE c.code = 'CAM-RESEND'"),
              N);
    CHECK_INT(h_query_ll(db->admin, "SELECT count(*) FROM anpr.plate_read r JOIN anpr.camera c "
                                    "ON c.id = r.camera_id WHERE c.code = 'CAM-RESEND' "
                                    "AND candidates[1] LIKE '1-R5D-%' AND cand_conf[1] = 400 "
                                    "AND plate LIKE '1RSD%' AND plate_raw LIKE '1-RSD-%'"),
              N);
    h_close(s);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;

    h_require_env();
    h_db_create(&db, "itest_ingest");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES "
                     "('CAM-0', 'reader 0'), ('CAM-1', 'reader 1'), ('CAM-2', 'reader 2'), "
                     "('CAM-3', 'reader 3'), ('CAM-RESEND', 'resending reader')");
    if (h_daemon_start(&d, &db, NULL) != 0)
        return 1;

    test_many_readers(&db, &d);
    test_resend(&db, &d);

    /* A clean stop exits 0 and says what it counted. */
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK(h_daemon_log_has(&d, "stored=10300 duplicate=450 "));
    if (check_failed)
        h_daemon_dump_log(&d);
    else
        h_daemon_cleanup(&d);
    h_db_close(&db);
    return check_done("itest_ingest");
}
