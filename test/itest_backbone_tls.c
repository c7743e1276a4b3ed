/*
 * Integration: what an operator sees when the backbone's TLS is wrong. A real anprd with
 * log.level warn and a CRL, the real anpr-backbone-sink with certificates made at test time:
 *   1. --check-config names a CRL file that does not exist at its key;
 *   2. the sink presents a revoked certificate: anprd refuses it and logs one warning with the
 *      reason, not one per attempt, while the sink sees it refuse several times;
 *   3. the sink comes back with a good certificate: anprd connects (quietly at warn);
 *   4. after a reload to log.level info, a new connection is logged with the certificate's
 *      subject, the TLS version and the cipher.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "testcert.h"
#include "tls.h"
#include "util.h"

static char dir[64], port[16];

/* The backbone section: port, the folder three times, the CRL file, the folder again. */
#define S_BACKBONE                                                                                 \
    "backbone:\n  host: \"127.0.0.1\"\n  port: %s\n  ca_file: \"%s/ca.pem\"\n"                     \
    "  cert_file: \"%s/client.pem\"\n  key_file: \"%s/client.key\"\n  crl_file: \"%s\"\n"          \
    "  instance: \"anprd-tls-test\"\n  spool_dir: \"%s/outbound\"\n"

static pid_t s_sink_start(const char *name, const char *log)
{
    char listen[64], cert[128], key[128], ca[128], out[128], base[64];
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
                    out,
                    NULL};

    snprintf(listen, sizeof listen, "127.0.0.1:%s", port);
    snprintf(base, sizeof base, "%s.pem", name);
    testcert_path(dir, base, cert, sizeof cert);
    snprintf(base, sizeof base, "%s.key", name);
    testcert_path(dir, base, key, sizeof key);
    testcert_path(dir, "ca.pem", ca, sizeof ca);
    snprintf(out, sizeof out, "%s/sink.tsv", dir);
    return h_spawn(argv, log, log);
}

static int s_count(const char *path, const char *needle)
{
    char *text = h_slurp(path);
    int n = 0;

    for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(text);
    return n;
}

/* Wait until the file holds needle at least n times; whether it did within timeout_ms. */
static bool s_wait_count(const char *path, const char *needle, int n, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;

    while (s_count(path, needle) < n) {
        if (util_mono_us() >= deadline)
            return false;
        poll(NULL, 0, 20);
    }
    return true;
}

/* 1. A CRL file that is not there: --check-config fails and names the key and the file. */
static void s_test_check_config(const char *conf_text)
{
    char path[128], out[128];
    char *argv[] = {getenv("ANPRD"), "--check-config", "--config", path, NULL};
    FILE *f;
    char *text;

    snprintf(path, sizeof path, "%s/bad-crl.yaml", dir);
    snprintf(out, sizeof out, "%s/check.out", dir);
    f = fopen(path, "w");
    if (f == NULL)
        h_fatal("%s: cannot write", path);
    fprintf(f, "database:\n  conninfo: \"dbname=x\"\n%s", conf_text);
    fclose(f);
    CHECK_INT(h_wait(h_spawn(argv, out, out), 10000), 1);
    text = h_slurp(out);
    CHECK_CONTAINS(text, "bad-crl.yaml:");
    CHECK_CONTAINS(text, ": backbone.crl_file: CRL file /nonexistent/crl.pem: No such file or "
                         "directory");
    free(text);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char err[256], extra[2000], bad[2000], sink_log[128], want[256], *conf;
    pid_t sink;
    FILE *f;

    h_require_env();
    if (!getenv("ANPR_BACKBONE_SINK"))
        h_fatal("ANPR_BACKBONE_SINK is not set");
    snprintf(dir, sizeof dir, "/tmp/anprd-bbtls.XXXXXX");
    if (!mkdtemp(dir) || testcert_make(dir, err, sizeof err) != 0)
        h_fatal("certificates: %s", err);
    int fd = tls_listen("127.0.0.1", "0", err, sizeof err);
    if (fd < 0)
        h_fatal("free port: %s", err);
    snprintf(port, sizeof port, "%d", tls_local_port(fd));
    close(fd);

    snprintf(bad, sizeof bad, S_BACKBONE, port, dir, dir, dir, "/nonexistent/crl.pem", dir);
    s_test_check_config(bad);

    /* 2. A revoked server certificate, and the CRL that says so. */
    snprintf(sink_log, sizeof sink_log, "%s/sink-revoked.log", dir);
    sink = s_sink_start("revoked", sink_log);
    h_db_create(&db, "itest_backbone_tls");
    char crl[128];
    testcert_path(dir, "crl.pem", crl, sizeof crl);
    snprintf(extra, sizeof extra, S_BACKBONE, port, dir, dir, dir, crl, dir);
    struct h_daemon_opts opts = {.extra = extra, .log_level = "warn"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        h_fatal("anprd did not start");
    snprintf(want, sizeof want,
             "warn  backbone: cannot connect: TLS handshake with 127.0.0.1:%s: certificate "
             "verification failed: certificate revoked",
             port);
    CHECK(h_daemon_wait_log(&d, want, 30000));
    /* three refusals at the sink (backoff 0.5, 1, 2 s), and still the one line */
    CHECK(s_wait_count(sink_log, "refused:", 3, 30000));
    CHECK_INT(h_daemon_log_count(&d, "certificate revoked"), 1);
    CHECK_INT(h_daemon_log_count(&d, " info "), 0);
    kill(sink, SIGTERM);
    CHECK_INT(h_wait(sink, 5000), 0);

    /* 3. A good certificate: connected, and nothing said about it at warn. */
    snprintf(sink_log, sizeof sink_log, "%s/sink-good.log", dir);
    sink = s_sink_start("server", sink_log);
    CHECK(s_wait_count(sink_log, "connected, TLSv1.3", 1, 60000));
    CHECK_INT(h_daemon_log_count(&d, "connected to"), 0);

    /* 4. Reload at info; the sink restarts: the new connection is named in the log. */
    conf = h_slurp(d.conf_path);
    char *lvl = conf ? strstr(conf, "level: warn") : NULL;
    CHECK(lvl != NULL);
    if (lvl != NULL) {
        memcpy(lvl, "level: info", strlen("level: info"));
        f = fopen(d.conf_path, "w");
        CHECK(f != NULL);
        if (f != NULL) {
            fputs(conf, f);
            fclose(f);
        }
    }
    free(conf);
    kill(d.pid, SIGHUP);
    CHECK(h_daemon_wait_log(&d, "reload: configuration applied", 15000));
    kill(sink, SIGTERM);
    CHECK_INT(h_wait(sink, 5000), 0);
    sink = s_sink_start("server", sink_log);
    snprintf(want, sizeof want, "info  backbone: connected to 127.0.0.1:%s (server ", port);
    CHECK(h_daemon_wait_log(&d, want, 60000));
    CHECK(h_daemon_wait_log(&d, ": TLSv1.3 TLS_", 1000));
    CHECK(h_daemon_wait_log(&d, ", certificate CN=localhost,O=anprd tests", 1000));

    CHECK_INT(h_daemon_finish(&d, check_failed), 0);
    kill(sink, SIGTERM);
    CHECK_INT(h_wait(sink, 5000), 0);
    if (!check_failed)
        h_rmtree(dir);
    h_db_close(&db);
    return check_done("itest_backbone_tls");
}
