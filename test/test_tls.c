/*
 * test_tls: real TLS on loopback with certificates made at test time. A server thread accepts
 * one connection per case with tls_accept() and counts the application bytes it receives; the
 * client side is tls_connect(). Each refused case checks the reason the client was given and
 * that the server received nothing.
 */
#include "check.h"
#include "testcert.h"
#include "tls.h"
#include "util.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct server {
    SSL_CTX *ctx;
    int fd;
    pthread_t thread;
    /* results, read after join */
    bool accepted;
    size_t app_bytes;
    char err[512];
    char subject[256];
    int version;
};

static char s_dir[64];

static const char *s_file(const char *name)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];

    return testcert_path(s_dir, name, b, sizeof bufs[0]);
}

/* Accept one connection, read what comes (up to EOF or 2 s), answer "world" after "hello". */
static void *s_serve(void *arg)
{
    struct server *s = arg;
    tls_conn_t *c = tls_accept(s->ctx, s->fd, 5000, NULL, s->err, sizeof s->err);
    char buf[64], rerr[256];

    if (c == NULL)
        return NULL;
    s->accepted = true;
    s->version = tls_version(c);
    tls_peer_subject(c, s->subject, sizeof s->subject);
    while (s->app_bytes < 5) {
        if (tls_read_all(c, buf + s->app_bytes, 1, 2000, rerr, sizeof rerr) != 0)
            break;
        s->app_bytes++;
    }
    if (s->app_bytes == 5 && memcmp(buf, "hello", 5) == 0)
        tls_write_all(c, "world", 5, 2000, rerr, sizeof rerr);
    /* wait for the client to close, so our close_notify does not race its read */
    tls_read_all(c, buf, 1, 2000, rerr, sizeof rerr);
    tls_close(&c);
    return NULL;
}

/*
 * A server with cert/key; ciphers non-NULL makes it a TLS 1.2-only server offering just those
 * (a server from before our policy, or a hostile one).
 */
static void s_server_start_tls12(struct server *s, const char *cert, const char *key,
                                 const char *ciphers)
{
    char err[512];

    memset(s, 0, sizeof *s);
    s->ctx = tls_server_ctx_new(s_file(cert), s_file(key), s_file("ca.pem"), err, sizeof err);
    if (s->ctx == NULL)
        fprintf(stderr, "server context: %s\n", err);
    CHECK(s->ctx != NULL);
    if (s->ctx != NULL && ciphers != NULL) {
        /* level 0: OpenSSL's own floor would refuse some of these before our client does */
        SSL_CTX_set_security_level(s->ctx, 0);
        CHECK_INT(SSL_CTX_set_max_proto_version(s->ctx, TLS1_2_VERSION), 1);
        CHECK_INT(SSL_CTX_set_cipher_list(s->ctx, ciphers), 1);
    }
    s->fd = tls_listen("127.0.0.1", "0", err, sizeof err);
    CHECK(s->fd >= 0);
    if (s->ctx == NULL || s->fd < 0)
        abort();
    CHECK_INT(pthread_create(&s->thread, NULL, s_serve, s), 0);
}

static void s_server_start(struct server *s, const char *cert, const char *key)
{
    s_server_start_tls12(s, cert, key, NULL);
}

static void s_server_join(struct server *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
    tls_ctx_destroy(&s->ctx);
    tls_ctx_destroy(&s->ctx); /* safe twice */
}

static const char *s_port(const struct server *s)
{
    static char buf[16];

    snprintf(buf, sizeof buf, "%d", tls_local_port(s->fd));
    return buf;
}

/*
 * Connect with the given client context to a server with the given certificate, send "hello";
 * on success expect "world" back. Returns whether the exchange worked; why it did not in err.
 */
static char s_cipher[64]; /* the cipher of the last connection s_exchange made */

static bool s_exchange(SSL_CTX *cctx, const char *host, struct server *s, char *err, size_t len,
                       int *version)
{
    tls_conn_t *c = tls_connect(cctx, host, s_port(s), 5000, err, len);
    char buf[8];
    bool ok = false;

    s_cipher[0] = '\0';
    if (c == NULL)
        return false;
    if (version)
        *version = tls_version(c);
    snprintf(s_cipher, sizeof s_cipher, "%s", tls_cipher_name(c));
    /* with TLS 1.3 a refused client certificate shows at the first read */
    if (tls_write_all(c, "hello", 5, 2000, err, len) == 0 &&
        tls_read_all(c, buf, 5, 2000, err, len) == 0)
        ok = memcmp(buf, "world", 5) == 0;
    tls_close(&c);
    tls_close(&c); /* safe twice */
    return ok;
}

static void s_test_good(SSL_CTX *cctx)
{
    struct server s;
    char err[512] = "";
    int version = 0;

    s_server_start(&s, "server.pem", "server.key");
    CHECK(s_exchange(cctx, "localhost", &s, err, sizeof err, &version));
    s_server_join(&s);
    if (version == 0)
        fprintf(stderr, "good case: %s\n", err);
    CHECK_INT(version, TLS1_3_VERSION);
    CHECK(version >= TLS1_2_VERSION);
    CHECK_INT(s.version, TLS1_3_VERSION);
    CHECK(s.accepted);
    CHECK_INT(s.app_bytes, 5);
    CHECK_CONTAINS(s.subject, "CN=anpr-test-client");
    CHECK_CONTAINS(s_cipher, "TLS_");

    /* by address: the certificate's IP address SAN is checked instead of a name */
    s_server_start(&s, "server.pem", "server.key");
    CHECK(s_exchange(cctx, "127.0.0.1", &s, err, sizeof err, NULL));
    s_server_join(&s);
    CHECK_INT(s.app_bytes, 5);
}

/* A server certificate the client must refuse: the reason, and nothing reached the server. */
static void s_test_refused(SSL_CTX *cctx, const char *host, const char *cert, const char *key,
                           const char *want)
{
    struct server s;
    char err[512] = "";

    s_server_start(&s, cert, key);
    CHECK(!s_exchange(cctx, host, &s, err, sizeof err, NULL));
    s_server_join(&s);
    fprintf(stderr, "test_tls: %s: %s\n", cert, err);
    CHECK_CONTAINS(err, want);
    CHECK_CONTAINS(err, "TLS handshake with");
    CHECK(!s.accepted);
    CHECK_INT(s.app_bytes, 0);
}

/*
 * TLS 1.2: with ECDHE and an AEAD cipher it connects (EC and RSA server keys); a server that
 * offers only RSA key exchange (no forward secrecy) or CBC is refused, whatever its certificate.
 */
static void s_test_tls12(SSL_CTX *cctx)
{
    static const struct {
        const char *cert, *key, *ciphers;
    } good[] = {
        {"server.pem", "server.key", "ECDHE-ECDSA-AES128-GCM-SHA256"},
        {"server.pem", "server.key", "ECDHE-ECDSA-CHACHA20-POLY1305"},
        {"rsa.pem", "rsa.key", "ECDHE-RSA-AES256-GCM-SHA384"},
    };
    static const char *const bad[] = {"AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA",
                                      "DHE-RSA-AES128-GCM-SHA256"};
    struct server s;
    char err[512];
    int version;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        version = 0;
        err[0] = '\0';
        s_server_start_tls12(&s, good[i].cert, good[i].key, good[i].ciphers);
        CHECK(s_exchange(cctx, "localhost", &s, err, sizeof err, &version));
        s_server_join(&s);
        if (version == 0)
            fprintf(stderr, "test_tls: TLS 1.2 %s: %s\n", good[i].ciphers, err);
        CHECK_INT(version, TLS1_2_VERSION);
        CHECK_STR(s_cipher, good[i].ciphers);
        CHECK_INT(s.app_bytes, 5);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        s_server_start_tls12(&s, "rsa.pem", "rsa.key", bad[i]);
        CHECK(!s_exchange(cctx, "localhost", &s, err, sizeof err, NULL));
        s_server_join(&s);
        fprintf(stderr, "test_tls: TLS 1.2 server with only %s: client: %s; server: %s\n", bad[i],
                err, s.err);
        CHECK_CONTAINS(err, "TLS handshake with");
        CHECK_CONTAINS(err, "handshake failure: no shared cipher or protocol version");
        CHECK_CONTAINS(s.err, "no shared cipher");
        CHECK(!s.accepted);
        CHECK_INT(s.app_bytes, 0);
    }
}

/* Our server (the sink's policy) refuses a TLS 1.2 client offering only RSA key exchange. */
static void s_test_server_policy(void)
{
    struct server s;
    char err[512] = "";
    SSL_CTX *old = tls_client_ctx_new(s_file("ca.pem"), s_file("client.pem"), s_file("client.key"),
                                      err, sizeof err);

    CHECK(old != NULL);
    if (old == NULL)
        return;
    SSL_CTX_set_security_level(old, 0);
    CHECK_INT(SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION), 1);
    CHECK_INT(SSL_CTX_set_cipher_list(old, "AES128-SHA:AES256-GCM-SHA384"), 1);
    s_server_start(&s, "rsa.pem", "rsa.key");
    CHECK(!s_exchange(old, "localhost", &s, err, sizeof err, NULL));
    s_server_join(&s);
    fprintf(stderr, "test_tls: client with only RSA key exchange: server: %s\n", s.err);
    CHECK_CONTAINS(s.err, "no shared cipher");
    CHECK(!s.accepted);
    tls_ctx_destroy(&old);
}

/*
 * With a CRL: the revoked certificate is refused, a good one still connects. Without, the
 * revoked one connects: the CRL is what refuses it.
 */
static void s_test_crl(SSL_CTX *cctx)
{
    struct server s;
    char err[512] = "";
    SSL_CTX *crl = tls_client_ctx_new(s_file("ca.pem"), s_file("client.pem"), s_file("client.key"),
                                      err, sizeof err);

    CHECK(crl != NULL);
    if (crl == NULL)
        return;
    CHECK_INT(tls_ctx_set_crl(crl, s_file("crl.pem"), err, sizeof err), 0);
    s_test_refused(crl, "localhost", "revoked.pem", "revoked.key", "certificate revoked");
    s_server_start(&s, "server.pem", "server.key");
    CHECK(s_exchange(crl, "localhost", &s, err, sizeof err, NULL));
    s_server_join(&s);
    CHECK_INT(s.app_bytes, 5);
    s_server_start(&s, "revoked.pem", "revoked.key");
    CHECK(s_exchange(cctx, "localhost", &s, err, sizeof err, NULL));
    s_server_join(&s);
    tls_ctx_destroy(&crl);
}

/* CRL files that must not be taken: named in the error, and the reason. */
static void s_test_bad_crl(void)
{
    char err[512] = "", path[4096];
    SSL_CTX *ctx = tls_client_ctx_new(s_file("ca.pem"), NULL, NULL, err, sizeof err);
    char *pem;
    size_t len = 0;
    FILE *f;

    CHECK(ctx != NULL);
    if (ctx == NULL)
        return;
    CHECK_INT(tls_crl_check(s_file("crl.pem"), err, sizeof err), 0);
    CHECK_INT(tls_crl_check("/nonexistent/crl.pem", err, sizeof err), -1);
    CHECK_CONTAINS(err, "CRL file /nonexistent/crl.pem: No such file or directory");
    CHECK_INT(tls_ctx_set_crl(ctx, "/nonexistent/crl.pem", err, sizeof err), -1);
    CHECK_CONTAINS(err, "No such file or directory");
    /* a certificate is not a CRL */
    CHECK_INT(tls_crl_check(s_file("ca.pem"), err, sizeof err), -1);
    CHECK_CONTAINS(err, "no CRL in the file");
    /* a CRL damaged in the middle of its base64 */
    pem = util_read_file(s_file("crl.pem"), &len);
    CHECK(pem != NULL && len > 100);
    if (pem != NULL && len > 100) {
        memcpy(pem + len / 2, "!!!!", 4);
        testcert_path(s_dir, "damaged-crl.pem", path, sizeof path);
        f = fopen(path, "w");
        CHECK(f != NULL);
        if (f != NULL) {
            fwrite(pem, 1, len, f);
            fclose(f);
        }
        CHECK_INT(tls_crl_check(path, err, sizeof err), -1);
        fprintf(stderr, "test_tls: damaged CRL: %s\n", err);
        CHECK_CONTAINS(err, "damaged-crl.pem: ");
        CHECK(strstr(err, "no CRL in the file") == NULL);
        CHECK_INT(tls_ctx_set_crl(ctx, path, err, sizeof err), -1);
    }
    free(pem);
    tls_ctx_destroy(&ctx);
}

static void s_test_no_client_cert(void)
{
    struct server s;
    char err[512] = "";
    SSL_CTX *anon = tls_client_ctx_new(s_file("ca.pem"), NULL, NULL, err, sizeof err);

    CHECK(anon != NULL);
    if (anon == NULL)
        return;
    s_server_start(&s, "server.pem", "server.key");
    CHECK(!s_exchange(anon, "localhost", &s, err, sizeof err, NULL));
    s_server_join(&s);
    fprintf(stderr, "test_tls: no client certificate: client: %s; server: %s\n", err, s.err);
    CHECK_CONTAINS(err, "certificate required");
    CHECK_CONTAINS(s.err, "peer did not return a certificate");
    CHECK(!s.accepted);
    CHECK_INT(s.app_bytes, 0);
    tls_ctx_destroy(&anon);
}

/* A client certificate from another CA (self-signed) is refused by the server. */
static void s_test_foreign_client_cert(void)
{
    struct server s;
    char err[512] = "";
    SSL_CTX *foreign = tls_client_ctx_new(s_file("ca.pem"), s_file("selfsigned.pem"),
                                          s_file("selfsigned.key"), err, sizeof err);

    CHECK(foreign != NULL);
    if (foreign == NULL)
        return;
    s_server_start(&s, "server.pem", "server.key");
    CHECK(!s_exchange(foreign, "localhost", &s, err, sizeof err, NULL));
    s_server_join(&s);
    fprintf(stderr, "test_tls: foreign client certificate: server: %s\n", s.err);
    CHECK_CONTAINS(s.err, "certificate verification failed: self-signed certificate");
    CHECK_INT(s.app_bytes, 0);
    tls_ctx_destroy(&foreign);
}

/* A server that accepts TCP but never speaks TLS: the connect gives up at its deadline. */
static void s_test_timeout(SSL_CTX *cctx)
{
    char err[512] = "", port[16];
    int fd = tls_listen("127.0.0.1", "0", err, sizeof err);
    int64_t t0 = util_mono_us(), took;
    tls_conn_t *c;

    CHECK(fd >= 0);
    snprintf(port, sizeof port, "%d", tls_local_port(fd));
    c = tls_connect(cctx, "127.0.0.1", port, 300, err, sizeof err);
    took = util_mono_us() - t0;
    CHECK(c == NULL);
    CHECK_CONTAINS(err, "timeout");
    CHECK(took >= 250000 && took < 3000000);
    tls_close(&c);
    close(fd);

    /* nobody listening at all */
    fd = tls_listen("127.0.0.1", "0", err, sizeof err);
    snprintf(port, sizeof port, "%d", tls_local_port(fd));
    close(fd);
    c = tls_connect(cctx, "127.0.0.1", port, 1000, err, sizeof err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err, "Connection refused");
}

static void s_test_bad_files(void)
{
    char err[512] = "";
    SSL_CTX *ctx;

    ctx = tls_client_ctx_new("/nonexistent/ca.pem", s_file("client.pem"), s_file("client.key"), err,
                             sizeof err);
    CHECK(ctx == NULL);
    CHECK_CONTAINS(err, "CA file /nonexistent/ca.pem");
    /* a key that is not the certificate's: named, and no key material in the message */
    ctx = tls_client_ctx_new(s_file("ca.pem"), s_file("client.pem"), s_file("server.key"), err,
                             sizeof err);
    CHECK(ctx == NULL);
    CHECK_CONTAINS(err, "key file");
    CHECK_CONTAINS(err, "key values mismatch");
    CHECK(strstr(err, "PRIVATE") == NULL);
    /* an encrypted key is refused, not prompted for, and its passphrase is nowhere */
    ctx = tls_client_ctx_new(s_file("ca.pem"), s_file("client.pem"), s_file("encrypted.key"), err,
                             sizeof err);
    CHECK(ctx == NULL);
    CHECK_CONTAINS(err, "encrypted.key");
    CHECK(strstr(err, TESTCERT_PASSPHRASE) == NULL);
    ctx = tls_client_ctx_new(s_file("ca.pem"), s_file("client.pem"), NULL, err, sizeof err);
    CHECK(ctx == NULL);
}

static void s_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    char err[512];
    SSL_CTX *cctx;

    signal(SIGPIPE, SIG_IGN);
    snprintf(s_dir, sizeof s_dir, "/tmp/anpr-test-tls-XXXXXX");
    if (mkdtemp(s_dir) == NULL || testcert_make(s_dir, err, sizeof err) != 0) {
        fprintf(stderr, "test_tls: certificates: %s\n", err);
        return 1;
    }
    cctx = tls_client_ctx_new(s_file("ca.pem"), s_file("client.pem"), s_file("client.key"), err,
                              sizeof err);
    if (cctx == NULL)
        fprintf(stderr, "client context: %s\n", err);
    CHECK(cctx != NULL);
    if (cctx != NULL) {
        s_test_good(cctx);
        s_test_refused(cctx, "localhost", "wronghost.pem", "wronghost.key", "hostname mismatch");
        s_test_refused(cctx, "127.0.0.1", "wronghost.pem", "wronghost.key", "IP address mismatch");
        s_test_refused(cctx, "localhost", "selfsigned.pem", "selfsigned.key",
                       "self-signed certificate");
        s_test_refused(cctx, "localhost", "expired.pem", "expired.key", "certificate has expired");
        /* BACKBONE.md: the subjectAltName is checked, never the CN */
        s_test_refused(cctx, "localhost", "cnonly.pem", "cnonly.key", "hostname mismatch");
        s_test_refused(cctx, "localhost", "otherca-server.pem", "otherca-server.key",
                       "unable to get local issuer certificate");
        s_test_tls12(cctx);
        s_test_server_policy();
        s_test_crl(cctx);
        s_test_bad_crl();
        s_test_no_client_cert();
        s_test_foreign_client_cert();
        s_test_timeout(cctx);
        s_test_bad_files();
    }
    tls_ctx_destroy(&cctx);
    s_rmdir(s_dir);
    return check_done("tls");
}
