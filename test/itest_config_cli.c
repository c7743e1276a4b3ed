/*
 * Integration: the command line and start-up as an operator meets them: --check-config on good
 * and broken files (every error as file:line:column: key; a conninfo libpq cannot parse is
 * refused without echoing it), --help and bad options, a database that cannot be reached at
 * start (a clear message, then anprd waits for it; SIGTERM stops it with 0), and SIGHUP with a
 * broken file (refused, the daemon keeps serving with the running configuration) or while the
 * database refuses the daemon's login (the cameras and lists in use are kept, the daemon keeps
 * serving).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"
#include "util.h"

static char tmpdir[64];

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        h_fatal("%s: cannot write", path);
    fputs(text, f);
    fclose(f);
}

/* Run anprd with args; returns the exit status, its stdout+stderr in *out (caller frees). */
static int s_anprd(char *out_path, char **out, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {getenv("ANPRD"), (char *)a1, (char *)a2, (char *)a3, NULL};
    int st = h_wait(h_spawn(argv, out_path, out_path), 30000);

    *out = h_slurp(out_path);
    return st;
}

static void test_check_config(void)
{
    char good[128], bad[128], outp[128];
    char *out;

    snprintf(good, sizeof good, "%s/good.yaml", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.yaml", tmpdir);
    snprintf(outp, sizeof outp, "%s/out.txt", tmpdir);
    s_write(good, "database:\n  conninfo: \"dbname=anpr\"\ncurve:\n  insecure_plaintext: true\n");
    CHECK_INT(s_anprd(outp, &out, "--config", good, "--check-config"), 0);
    CHECK_CONTAINS(out, "configuration OK");
    free(out);

    /* CURVE is not optional: without a key (or plain text asked for by name) anprd refuses. */
    s_write(bad, "database:\n  conninfo: \"dbname=anpr\"\n");
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "--check-config"), 1);
    CHECK_CONTAINS(out, "curve.secret_file: required");
    free(out);
    char key[160], text[1024];
    snprintf(key, sizeof key, "%s/anprd.key", tmpdir);
    snprintf(text, sizeof text,
             "database:\n  conninfo: \"dbname=anpr\"\ncurve:\n  secret_file: %s\n", key);
    s_write(bad, text);
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "--check-config"), 1);
    CHECK_CONTAINS(out, "curve.secret_file: ");
    CHECK_CONTAINS(out, "does not exist");
    free(out);
    s_write(key, "not a key\n");
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "--check-config"), 1);
    CHECK_CONTAINS(out, "not a CURVE secret key");
    free(out);
    char pub[41], sec[41];
    CHECK_INT(zmq_curve_keypair(pub, sec), 0);
    unlink(key);
    s_write(key, sec);
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "--check-config"), 0);
    CHECK_CONTAINS(out, "configuration OK");
    free(out);

    /* Three mistakes on three lines: all three are reported, each with its position. */
    s_write(bad, "ingest:\n"
                 "  endpoint: \"tcp://nowhere\"\n"
                 "  max_pending: 12abc\n"
                 "database:\n"
                 "  conninfo: \"dbname=anpr\"\n"
                 "  colour: blue\n");
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "-n"), 1);
    char want[192];
    snprintf(want, sizeof want, "%s:2:13: ingest.endpoint: ", bad);
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want, "%s:3:16: ingest.max_pending: ", bad);
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want, "%s:6:3: database.colour: unknown key", bad);
    CHECK_CONTAINS(out, want);
    CHECK(strstr(out, "configuration OK") == NULL);
    free(out);

    /* Broken YAML. */
    s_write(bad, "database: [\n");
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "-n"), 1);
    snprintf(want, sizeof want, "%s:", bad);
    CHECK_CONTAINS(out, want);
    CHECK_CONTAINS(out, "(syntax)");
    free(out);

    /* A file that is not there. */
    snprintf(bad, sizeof bad, "%s/missing.yaml", tmpdir);
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "-n"), 1);
    CHECK_CONTAINS(out, "cannot read");
    free(out);

    /* Valid values naming files that are not there: each at its position, nothing OK. */
    char wide[512];
    snprintf(bad, sizeof bad, "%s/files.yaml", tmpdir);
    snprintf(text, sizeof text,
             "database:\n  conninfo: \"dbname=anpr\"\n"
             "spool:\n  dir: \"%s/no/spool\"\n"
             "backbone:\n  host: \"bb.example\"\n  ca_file: \"%s/ca.pem\"\n"
             "  cert_file: \"%s\"\n  key_file: \"%s\"\n  instance: \"zone\"\n"
             "  spool_dir: \"%s/bb\"\n"
             "curve:\n  insecure_plaintext: true\n",
             tmpdir, tmpdir, good, good, tmpdir);
    s_write(bad, text);
    CHECK_INT(s_anprd(outp, &out, "--config", bad, "-n"), 1);
    snprintf(wide, sizeof wide, "%s:4:8: spool.dir: '%s/no/spool' does not exist, nor does its",
             bad, tmpdir);
    CHECK_CONTAINS(out, wide);
    snprintf(wide, sizeof wide, "%s:7:12: backbone.ca_file: '%s/ca.pem' does not exist\n", bad,
             tmpdir);
    CHECK_CONTAINS(out, wide);
    CHECK(strstr(out, "cert_file") == NULL);
    CHECK(strstr(out, "configuration OK") == NULL);
    free(out);
}

static void test_cli(void)
{
    char outp[128];
    char *out;

    snprintf(outp, sizeof outp, "%s/out.txt", tmpdir);
    CHECK_INT(s_anprd(outp, &out, "--help", NULL, NULL), 0);
    CHECK_CONTAINS(out, "usage: anprd");
    free(out);
    CHECK_INT(s_anprd(outp, &out, "--version", NULL, NULL), 0);
    CHECK_CONTAINS(out, "anprd ");
    free(out);
    CHECK_INT(s_anprd(outp, &out, "--frobnicate", NULL, NULL), 2);
    CHECK_CONTAINS(out, "usage: anprd");
    free(out);
}

static void test_database_unreachable(void)
{
    char conf[128], outp[128], text[512];
    char *out;

    snprintf(conf, sizeof conf, "%s/nodb.yaml", tmpdir);
    snprintf(outp, sizeof outp, "%s/out.txt", tmpdir);
    snprintf(text, sizeof text,
             "ingest:\n  endpoint: \"ipc://%s/nodb-in\"\n"
             "dispatch:\n  endpoint: \"ipc://%s/nodb-out\"\n"
             "database:\n  conninfo: \"host=/nonexistent dbname=anpr user=anprd\"\n"
             "curve:\n  insecure_plaintext: true\n",
             tmpdir, tmpdir);
    s_write(conf, text);
    /* Not an exit: it waits for the database (no spool), says so, and stops on SIGTERM. */
    char *argv[] = {getenv("ANPRD"), "--config", conf, NULL};
    pid_t pid = h_spawn(argv, outp, outp);
    out = NULL;
    for (int64_t until = util_mono_us() + 30000000; util_mono_us() < until;) {
        free(out);
        out = h_slurp(outp);
        if (strstr(out, "waiting for it before taking reads"))
            break;
        usleep(20000);
    }
    CHECK_CONTAINS(out, "database unreachable");
    CHECK_CONTAINS(out, "waiting for it before taking reads");
    free(out);
    kill(pid, SIGTERM);
    CHECK_INT(h_wait(pid, 30000), 0);

    /* A conninfo libpq cannot parse is a config error, and the message does not echo it: it
     * may hold a password. libpq's own message would quote the bad part ("ter2"). */
    static const char *const bad_ci[] = {
        "postgresql://anprd:hunter2%zz@localhost/anpr", /* bad percent-encoding */
        "host=/tmp password=hun ter2",                  /* a word without "=" */
    };
    for (size_t i = 0; i < sizeof bad_ci / sizeof bad_ci[0]; i++) {
        snprintf(conf, sizeof conf, "%s/badci.yaml", tmpdir);
        snprintf(text, sizeof text, "database:\n  conninfo: \"%s\"\n", bad_ci[i]);
        s_write(conf, text);
        int st = s_anprd(outp, &out, "--config", conf, "--check-config");
        if (st != 1 || !strstr(out, "database.conninfo:") || strstr(out, "ter2"))
            fprintf(stderr, "conninfo case %zu: status %d, output:\n%s", i, st, out);
        CHECK_INT(st, 1);
        CHECK_CONTAINS(out, "database.conninfo:");
        CHECK(strstr(out, "hunter2") == NULL);
        CHECK(strstr(out, "ter2") == NULL);
        CHECK(strstr(out, "configuration OK") == NULL);
        free(out);
    }
}

/* SIGHUP with a broken file keeps the running configuration; with a good one, reloads. */
static void test_reload(void)
{
    struct h_db db;
    struct h_daemon d;

    h_db_create(&db, "itest_config_cli");
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('CAM-1', 'one')");
    if (h_daemon_start(&d, &db, NULL) != 0) {
        CHECK(0);
        return;
    }
    void *s = h_dealer(d.ingest_ep);
    struct proto_read r = h_read("CAM-2", 1, "1-ABC-123", "BE");
    struct proto_reject rej;
    struct h_acks a;

    /* CAM-2 is unknown until the operator registers it and reloads. */
    h_acks_init(&a, 1, 1, 4);
    h_send_read(s, &r);
    CHECK_INT(h_wait_reject(&a, s, "CAM-2", &rej, 5000), 0);
    CHECK_INT(rej.reason, PROTO_E_CAMERA);

    char *good = h_slurp(d.conf_path);
    s_write(d.conf_path, "ingest: [broken\n");
    kill(d.pid, SIGHUP);
    CHECK(h_daemon_wait_log(&d, "keeping the running configuration", 5000));

    s_write(d.conf_path, good);
    free(good);
    h_exec(db.admin, "INSERT INTO anpr.camera (code, name) VALUES ('CAM-2', 'two')");
    kill(d.pid, SIGHUP);
    CHECK(h_daemon_wait_log(&d, "loaded 2 cameras", 5000));
    r.seq = 2;
    h_send_read(s, &r);
    h_acks_free(&a);
    h_acks_init(&a, 2, 1, 4);
    CHECK_INT(h_acks_wait(&a, s, "CAM-2", 10000), 1);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);

    /* A reload that cannot reach the database keeps the cameras and lists in use, and the
     * daemon keeps serving (under ASan a leak on that path fails the exit status below). The
     * role's LOGIN comes back at once: roles are cluster-wide. */
    h_exec(db.admin, "ALTER ROLE anprd NOLOGIN");
    kill(d.pid, SIGHUP);
    bool kept = h_daemon_wait_log(&d, "keeping the cameras and watchlists in use", 10000);
    h_exec(db.admin, "ALTER ROLE anprd LOGIN");
    CHECK(kept);
    r.seq = 3;
    h_send_read(s, &r);
    h_acks_init(&a, 3, 1, 4);
    CHECK_INT(h_acks_wait(&a, s, "CAM-2", 10000), 1);
    CHECK_INT(a.nrejects, 0);
    h_acks_free(&a);

    h_close(s);
    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    h_db_close(&db);
}

int main(void)
{
    h_require_env();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anprd-cli.XXXXXX");
    if (!mkdtemp(tmpdir))
        h_fatal("mkdtemp failed");
    test_cli();
    test_check_config();
    test_database_unreachable();
    test_reload();
    if (check_failed == 0)
        h_rmtree(tmpdir);
    return check_done("itest_config_cli");
}
