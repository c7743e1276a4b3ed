/*
 * tls: OpenSSL contexts and connections over non-blocking sockets with deadlines.
 *
 * Every OpenSSL call is driven by one loop (s_drive): call, and on WANT_READ / WANT_WRITE poll
 * the socket for what OpenSSL asked, up to the deadline. The error queue is thread-local and
 * cleared before each call, so the reason reported is the one of this call.
 */
#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tls_conn {
    int fd;
    SSL *ssl;
    char peer[64]; /* "address:port" of the other side */
};

/* The first error of OpenSSL's queue as a reason text, and the queue emptied. */
static void s_queue_text(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    const char *reason;

    if (e == 0) {
        snprintf(buf, len, "unknown OpenSSL error");
        return;
    }
    reason = ERR_reason_error_string(e);
    if (reason != NULL)
        snprintf(buf, len, "%s", reason);
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

/* Never prompt for a passphrase (a daemon has no terminal): an encrypted key fails to load. */
static int s_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

static SSL_CTX *s_ctx_new(const SSL_METHOD *method, const char *ca_file, const char *cert_file,
                          const char *key_file, char *err, size_t errlen)
{
    SSL_CTX *ctx;
    char why[256];

    ERR_clear_error();
    ctx = SSL_CTX_new(method);
    if (ctx == NULL) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "TLS context: %s", why);
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "TLS context: minimum version: %s", why);
        goto fail;
    }
    /* TLS 1.2 only with forward secrecy and AEAD; the TLS 1.3 suites stay OpenSSL's default */
    if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_TLS12) != 1) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "TLS context: cipher list: %s", why);
        goto fail;
    }
    /* moving buffer: a retried write may come from a copy; partial: write_all loops itself */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_default_passwd_cb(ctx, s_no_passphrase);
    if (ca_file == NULL || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        if (ca_file == NULL)
            snprintf(why, sizeof why, "no CA file given");
        else
            s_queue_text(why, sizeof why);
        util_errf(err, errlen, "CA file %s: %s", ca_file ? ca_file : "-", why);
        goto fail;
    }
    if (cert_file != NULL && SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "certificate file %s: %s", cert_file, why);
        goto fail;
    }
    if (key_file != NULL && SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "key file %s: %s", key_file, why);
        goto fail;
    }
    if (cert_file != NULL && key_file != NULL && SSL_CTX_check_private_key(ctx) != 1) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "key file %s does not belong to certificate %s: %s", key_file,
                  cert_file, why);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
                            char *err, size_t errlen)
{
    SSL_CTX *ctx;

    if ((cert_file == NULL) != (key_file == NULL)) {
        util_errf(err, errlen, "a client certificate needs both a certificate and a key file");
        return NULL;
    }
    ctx = s_ctx_new(TLS_client_method(), ca_file, cert_file, key_file, err, errlen);
    if (ctx != NULL)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                            char *err, size_t errlen)
{
    SSL_CTX *ctx;
    STACK_OF(X509_NAME) * names;
    char why[256];

    if (cert_file == NULL || key_file == NULL) {
        util_errf(err, errlen, "a server needs a certificate and a key file");
        return NULL;
    }
    ctx = s_ctx_new(TLS_server_method(), ca_file, cert_file, key_file, err, errlen);
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    /* tell clients which CA we accept, so one with several certificates picks the right one */
    names = SSL_load_client_CA_file(ca_file);
    if (names == NULL) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "CA file %s: %s", ca_file, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    return ctx;
}

/* Whether e is the error that ends reading a PEM file: no further block in it. */
static bool s_pem_end(unsigned long e)
{
    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

/*
 * Read every CRL of a PEM file into store (NULL: only check that it parses). The number of
 * CRLs (at least 1), or -1 with err filled: a CRL file without a CRL is a mistake, not "none".
 */
static int s_crl_load(const char *crl_file, X509_STORE *store, char *err, size_t errlen)
{
    BIO *bio;
    X509_CRL *crl;
    int n = 0;
    char why[256];

    ERR_clear_error();
    errno = 0;
    bio = BIO_new_file(crl_file, "r");
    if (bio == NULL) {
        /* the errno of the failed fopen() is the useful part ("No such file or directory") */
        util_errf(err, errlen, "CRL file %s: %s", crl_file, strerror(errno ? errno : EIO));
        ERR_clear_error();
        return -1;
    }
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        int ok = store == NULL || X509_STORE_add_crl(store, crl) == 1;

        X509_CRL_free(crl);
        if (!ok) {
            s_queue_text(why, sizeof why);
            util_errf(err, errlen, "CRL file %s: %s", crl_file, why);
            BIO_free(bio);
            return -1;
        }
        n++;
    }
    /* the loop ends on "no start line" at the end of the file; anything else is damage */
    if (!s_pem_end(ERR_peek_last_error()) || n == 0) {
        if (!s_pem_end(ERR_peek_last_error()))
            s_queue_text(why, sizeof why);
        else
            snprintf(why, sizeof why, "no CRL in the file (PEM \"X509 CRL\" expected)");
        util_errf(err, errlen, "CRL file %s: %s", crl_file, why);
        BIO_free(bio);
        return -1;
    }
    ERR_clear_error();
    BIO_free(bio);
    return n;
}

int tls_crl_check(const char *crl_file, char *err, size_t errlen)
{
    return s_crl_load(crl_file, NULL, err, errlen) > 0 ? 0 : -1;
}

int tls_ctx_set_crl(SSL_CTX *ctx, const char *crl_file, char *err, size_t errlen)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);

    if (s_crl_load(crl_file, store, err, errlen) < 0)
        return -1;
    /* the leaf only: our CA hierarchy is one CA, whose own revocation a CRL cannot tell */
    if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1) {
        util_errf(err, errlen, "CRL file %s: cannot turn on CRL checking", crl_file);
        return -1;
    }
    return 0;
}

void tls_ctx_destroy(SSL_CTX **ctx_p)
{
    if (ctx_p == NULL || *ctx_p == NULL)
        return;
    SSL_CTX_free(*ctx_p);
    *ctx_p = NULL;
}

/* ---- sockets ---- */

static int s_remaining_ms(int64_t deadline)
{
    int64_t left;

    if (deadline == INT64_MAX)
        return -1;
    left = deadline - util_mono_us();
    if (left <= 0)
        return 0;
    return left / 1000 > 0x7fffffff ? 0x7fffffff : (int)((left + 999) / 1000);
}

static int64_t s_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : util_mono_us() + (int64_t)timeout_ms * 1000;
}

/* The calling thread's cancel fd (tls_set_cancel_fd), -1 when none. */
static _Thread_local int s_cancel_fd = -1;

void tls_set_cancel_fd(int fd)
{
    s_cancel_fd = fd;
}

/*
 * poll one fd until deadline; 1 ready, 0 timeout, -1 error (errno). EINTR is retried. The
 * thread's cancel fd, when readable, ends the wait with ECANCELED.
 */
static int s_poll(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = s_cancel_fd, .events = POLLIN}};
        int rc = poll(p, s_cancel_fd >= 0 ? 2 : 1, s_remaining_ms(deadline));

        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return rc;
        if (s_cancel_fd >= 0 && p[1].revents != 0) {
            errno = ECANCELED;
            return -1;
        }
        return 1;
    }
}

static void s_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(buf, len, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(buf, len, "[%s]:%u", host, port);
    } else {
        snprintf(buf, len, "?");
    }
}

/* TCP connect to one of host's addresses before the deadline; fd or -1 with err filled. */
static int s_tcp_connect(const char *host, const char *port, int64_t deadline, char *err,
                         size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc, fd = -1;

    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        util_errf(err, errlen, "resolve %s port %s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int soerr = 0, one = 1;
        socklen_t sl = sizeof soerr;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            util_errf(err, errlen, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                util_errf(err, errlen, "connect to %s:%s: %s", host, port, strerror(errno));
                goto next;
            }
            rc = s_poll(fd, POLLOUT, deadline);
            if (rc == 0) {
                util_errf(err, errlen, "connect to %s:%s: timeout", host, port);
                goto next;
            }
            if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
                util_errf(err, errlen, "connect to %s:%s: %s", host, port,
                          strerror(soerr ? soerr : errno));
                goto next;
            }
        }
        /* frames are small and an ACK should not wait for Nagle */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        break;
    next:
        close(fd);
        fd = -1;
    }
    if (res == NULL)
        util_errf(err, errlen, "connect to %s:%s: no address", host, port);
    freeaddrinfo(res);
    return fd;
}

int tls_listen(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc, fd = -1;

    if (host != NULL && (host[0] == '\0' || strcmp(host, "*") == 0))
        host = NULL;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        util_errf(err, errlen, "resolve %s port %s: %s", host ? host : "*", port, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        /* a restarted sink binds again at once, while old connections sit in TIME_WAIT */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0)
            break;
        util_errf(err, errlen, "listen on %s:%s: %s", host ? host : "*", port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int tls_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* ---- driving OpenSSL ---- */

enum s_op { S_CONNECT, S_ACCEPT, S_READ, S_WRITE };

#define S_NO_SHARED                                                                                \
    "no shared cipher or protocol version (ours: TLS 1.3, or TLS 1.2 with ECDHE and AES-GCM or "   \
    "ChaCha20-Poly1305)"

/*
 * Why an OpenSSL call failed, for a person: the certificate verdict when verification failed,
 * else the error queue, else errno.
 */
static void s_failure(SSL *ssl, int sslerr, int saved_errno, bool handshake, char *buf, size_t len)
{
    long verify = SSL_get_verify_result(ssl);
    char why[256];
    int reason;

    if (handshake && verify != X509_V_OK) {
        ERR_clear_error();
        snprintf(buf, len, "certificate verification failed: %s",
                 X509_verify_cert_error_string(verify));
        return;
    }
    switch (sslerr) {
    case SSL_ERROR_ZERO_RETURN:
        snprintf(buf, len, "connection closed by the peer");
        return;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() != 0) {
            s_queue_text(why, sizeof why);
            snprintf(buf, len, "%s", why);
        } else if (saved_errno != 0) {
            snprintf(buf, len, "%s", strerror(saved_errno));
        } else {
            snprintf(buf, len, "connection closed by the peer");
        }
        return;
    default:
        reason = ERR_GET_REASON(ERR_peek_error());
        s_queue_text(why, sizeof why);
        /* the server only says "handshake failure": say what it most likely lacks */
        if (handshake &&
            (reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE ||
             reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION || reason == SSL_R_UNSUPPORTED_PROTOCOL ||
             reason == SSL_R_WRONG_CIPHER_RETURNED))
            util_errf(buf, len, "%s: " S_NO_SHARED, why);
        else
            snprintf(buf, len, "%s", why);
        return;
    }
}

/*
 * Run one operation until it completes or the deadline passes. Returns what OpenSSL returned
 * (> 0 done), 0 on timeout, -1 on failure; *sslerr is the SSL_get_error() of a failure.
 */
static int s_drive(tls_conn_t *c, enum s_op op, void *buf, size_t len, int64_t deadline,
                   int *sslerr, int *saved_errno)
{
    for (;;) {
        int rc = 0, e;
        size_t done = 0;
        short ev;

        ERR_clear_error();
        errno = 0;
        switch (op) {
        case S_CONNECT:
            rc = SSL_connect(c->ssl);
            break;
        case S_ACCEPT:
            rc = SSL_accept(c->ssl);
            break;
        case S_READ:
            rc = SSL_read_ex(c->ssl, buf, len, &done);
            rc = rc == 1 ? (int)(done > 0x7fffffff ? 0x7fffffff : done) : rc;
            break;
        case S_WRITE:
            rc = SSL_write_ex(c->ssl, buf, len, &done);
            rc = rc == 1 ? (int)(done > 0x7fffffff ? 0x7fffffff : done) : rc;
            break;
        }
        if (rc > 0)
            return rc;
        *saved_errno = errno;
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ)
            ev = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
            ev = POLLOUT;
        else {
            *sslerr = e;
            return -1;
        }
        rc = s_poll(c->fd, ev, deadline);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            *sslerr = SSL_ERROR_SYSCALL;
            *saved_errno = errno;
            return -1;
        }
    }
}

static tls_conn_t *s_conn_new(SSL_CTX *ctx, int fd, char *err, size_t errlen)
{
    tls_conn_t *c = calloc(1, sizeof *c);
    char why[256];

    if (c == NULL) {
        util_errf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    c->fd = fd;
    ERR_clear_error();
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
        s_queue_text(why, sizeof why);
        util_errf(err, errlen, "TLS: %s", why);
        tls_close(&c);
        return NULL;
    }
    return c;
}

/* Host name check and SNI for a DNS name; IP address check (and no SNI) for an address. */
static int s_set_peer_name(SSL *ssl, const char *host, char *err, size_t errlen)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char why[256];

    ERR_clear_error();
    /*
     * The subjectAltName only: a certificate without one (a CN-only certificate) names nobody,
     * and a wildcard must be a whole label ("*.example.org", never "a*.example.org").
     */
    SSL_set_hostflags(ssl,
                      X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1)
            goto fail;
        return 0;
    }
    if (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1)
        goto fail;
    return 0;
fail:
    s_queue_text(why, sizeof why);
    util_errf(err, errlen, "TLS: host name %s: %s", host, why);
    return -1;
}

tls_conn_t *tls_connect(SSL_CTX *ctx, const char *host, const char *port, int timeout_ms, char *err,
                        size_t errlen)
{
    int64_t deadline = s_deadline(timeout_ms);
    int fd, rc, sslerr = 0, saved = 0;
    tls_conn_t *c;
    char why[256];

    fd = s_tcp_connect(host, port, deadline, err, errlen);
    if (fd < 0)
        return NULL;
    c = s_conn_new(ctx, fd, err, errlen);
    if (c == NULL)
        return NULL;
    snprintf(c->peer, sizeof c->peer, "%s:%s", host, port);
    if (s_set_peer_name(c->ssl, host, err, errlen) != 0)
        goto fail;
    rc = s_drive(c, S_CONNECT, NULL, 0, deadline, &sslerr, &saved);
    if (rc == 0) {
        util_errf(err, errlen, "TLS handshake with %s:%s: timeout", host, port);
        goto fail;
    }
    if (rc < 0) {
        s_failure(c->ssl, sslerr, saved, true, why, sizeof why);
        util_errf(err, errlen, "TLS handshake with %s:%s: %s", host, port, why);
        goto fail;
    }
    return c;
fail:
    tls_close(&c);
    return NULL;
}

tls_conn_t *tls_accept(SSL_CTX *ctx, int listen_fd, int timeout_ms, bool *timed_out, char *err,
                       size_t errlen)
{
    int64_t deadline = s_deadline(timeout_ms);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd, rc, sslerr = 0, saved = 0, one = 1;
    tls_conn_t *c;
    char why[256];

    if (timed_out)
        *timed_out = false;
    for (;;) {
        fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            break;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
            util_errf(err, errlen, "accept: %s", strerror(errno));
            return NULL;
        }
        rc = s_poll(listen_fd, POLLIN, deadline);
        if (rc == 0) {
            if (timed_out)
                *timed_out = true;
            util_errf(err, errlen, "timeout waiting for a connection");
            return NULL;
        }
        if (rc < 0) {
            util_errf(err, errlen, "poll: %s", strerror(errno));
            return NULL;
        }
        sl = sizeof ss;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c = s_conn_new(ctx, fd, err, errlen);
    if (c == NULL)
        return NULL;
    s_addr_text((struct sockaddr *)&ss, c->peer, sizeof c->peer);
    rc = s_drive(c, S_ACCEPT, NULL, 0, deadline, &sslerr, &saved);
    if (rc == 0) {
        util_errf(err, errlen, "TLS handshake with %s: timeout", c->peer);
        goto fail;
    }
    if (rc < 0) {
        s_failure(c->ssl, sslerr, saved, true, why, sizeof why);
        util_errf(err, errlen, "TLS handshake with %s: %s", c->peer, why);
        goto fail;
    }
    return c;
fail:
    tls_close(&c);
    return NULL;
}

/*
 * A peer that refuses us (TLS 1.3: our certificate) sends an alert and closes; our next write
 * may then meet a reset before we read the alert. The alert says why, the reset does not: look
 * for it in what was received, without waiting.
 */
static void s_pending_alert(tls_conn_t *c, char *why, size_t len)
{
    uint8_t scratch[256];
    int sslerr = 0, saved = 0;

    if (s_drive(c, S_READ, scratch, sizeof scratch, util_mono_us(), &sslerr, &saved) < 0 &&
        sslerr == SSL_ERROR_SSL)
        s_failure(c->ssl, sslerr, saved, false, why, len);
    ERR_clear_error();
}

int tls_write_all(tls_conn_t *c, const void *buf, size_t len, int timeout_ms, char *err,
                  size_t errlen)
{
    int64_t deadline = s_deadline(timeout_ms);
    const uint8_t *p = buf;
    char why[256];

    while (len > 0) {
        int sslerr = 0, saved = 0;
        int rc = s_drive(c, S_WRITE, (void *)p, len, deadline, &sslerr, &saved);

        if (rc == 0) {
            util_errf(err, errlen, "write to %s: timeout", c->peer);
            return -1;
        }
        if (rc < 0) {
            s_failure(c->ssl, sslerr, saved, false, why, sizeof why);
            if (sslerr == SSL_ERROR_SYSCALL)
                s_pending_alert(c, why, sizeof why);
            util_errf(err, errlen, "write to %s: %s", c->peer, why);
            return -1;
        }
        p += rc;
        len -= (size_t)rc;
    }
    return 0;
}

int tls_read_all(tls_conn_t *c, void *buf, size_t len, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = s_deadline(timeout_ms);
    uint8_t *p = buf;
    size_t got = 0;
    char why[256];

    while (got < len) {
        int sslerr = 0, saved = 0;
        int rc = s_drive(c, S_READ, p + got, len - got, deadline, &sslerr, &saved);

        if (rc == 0) {
            util_errf(err, errlen, "read from %s: timeout", c->peer);
            return -1;
        }
        if (rc < 0) {
            s_failure(c->ssl, sslerr, saved, false, why, sizeof why);
            util_errf(err, errlen, "read from %s: %s", c->peer, why);
            return got == 0 && sslerr == SSL_ERROR_ZERO_RETURN ? 1 : -1;
        }
        got += (size_t)rc;
    }
    return 0;
}

int tls_wait_readable(tls_conn_t *c, int timeout_ms, char *err, size_t errlen)
{
    int rc;

    /* OpenSSL may hold a whole record already read from the socket */
    if (SSL_has_pending(c->ssl))
        return 1;
    rc = s_poll(c->fd, POLLIN, s_deadline(timeout_ms));
    if (rc < 0)
        util_errf(err, errlen, "poll: %s", strerror(errno));
    return rc;
}

int tls_version(const tls_conn_t *c)
{
    return SSL_version(c->ssl);
}

const char *tls_version_name(const tls_conn_t *c)
{
    return SSL_get_version(c->ssl);
}

const char *tls_cipher_name(const tls_conn_t *c)
{
    const char *name = SSL_get_cipher_name(c->ssl);

    return name != NULL ? name : "";
}

void tls_peer_subject(const tls_conn_t *c, char *buf, size_t len)
{
    X509 *cert;
    BIO *bio;
    long n;
    char *data;

    if (len == 0)
        return;
    buf[0] = '\0';
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    cert = SSL_get1_peer_certificate(c->ssl);
#else
    cert = SSL_get_peer_certificate(c->ssl);
#endif
    if (cert == NULL)
        return;
    bio = BIO_new(BIO_s_mem());
    if (bio != NULL &&
        X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        n = BIO_get_mem_data(bio, &data);
        snprintf(buf, len, "%.*s", (int)(n < 0 ? 0 : n), data);
    }
    BIO_free(bio);
    X509_free(cert);
}

const char *tls_peer_addr(const tls_conn_t *c)
{
    return c->peer;
}

void tls_close(tls_conn_t **c_p)
{
    tls_conn_t *c;

    if (c_p == NULL || *c_p == NULL)
        return;
    c = *c_p;
    if (c->ssl != NULL) {
        /* one try at close_notify; a peer that is gone must not make us wait */
        if (SSL_is_init_finished(c->ssl))
            SSL_shutdown(c->ssl);
        ERR_clear_error();
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    *c_p = NULL;
}
