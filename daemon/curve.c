/*
 * curve: CURVE key files (see curve.h).
 */
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "util.h"

/* Whether s is exactly one Z85 key. */
static int s_is_key(const char *s)
{
    uint8_t raw[32];

    if (strlen(s) != CURVE_Z85 || !zmq_z85_decode(raw, s))
        return 0;
    explicit_bzero(raw, sizeof raw);
    return 1;
}

/* The one line of a key file, without its line end, into key. 0 or -1 (err). */
static int s_read_line(const char *path, char key[CURVE_Z85 + 1], const char *what, char *err,
                       size_t errlen)
{
    size_t len = 0;
    char *text = util_read_file(path, &len);
    int rc = -1;

    if (!text) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (len != CURVE_Z85 || strlen(text) != len || !s_is_key(text)) {
        util_errf(err, errlen, "%s: not a CURVE %s key (one line of 40 Z85 characters)", path,
                  what);
        goto out;
    }
    memcpy(key, text, CURVE_Z85 + 1);
    rc = 0;
out:
    explicit_bzero(text, len);
    free(text);
    return rc;
}

int curve_read_secret(const char *path, char secret[CURVE_Z85 + 1], char public_z85[CURVE_Z85 + 1],
                      char *err, size_t errlen)
{
    if (s_read_line(path, secret, "secret", err, errlen) != 0)
        return -1;
    if (zmq_curve_public(public_z85, secret) != 0) {
        explicit_bzero(secret, CURVE_Z85 + 1);
        util_errf(err, errlen, "%s: cannot derive the public key: %s", path,
                  zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int curve_read_public(const char *arg, char public_z85[CURVE_Z85 + 1], char *err, size_t errlen)
{
    if (s_is_key(arg)) {
        memcpy(public_z85, arg, CURVE_Z85 + 1);
        return 0;
    }
    return s_read_line(arg, public_z85, "public", err, errlen);
}

int curve_client(void *sock, const char *secret_file, const char *server_key, char *err,
                 size_t errlen)
{
    char secret[CURVE_Z85 + 1], pub[CURVE_Z85 + 1], server[CURVE_Z85 + 1];
    int rc = -1;

    if (curve_read_secret(secret_file, secret, pub, err, errlen) != 0 ||
        curve_read_public(server_key, server, err, errlen) != 0)
        goto out;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, CURVE_Z85 + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, CURVE_Z85 + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, CURVE_Z85 + 1) != 0) {
        util_errf(err, errlen, "CURVE: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(secret, sizeof secret);
    return rc;
}

int curve_client_opts(void *sock, const char *key_opt, const char *server_key_opt, char *err,
                      size_t errlen)
{
    if (!key_opt && !server_key_opt)
        return 0;
    if (!key_opt || !server_key_opt) {
        util_errf(err, errlen, "--key and --server-key go together");
        return -1;
    }
    return curve_client(sock, key_opt, server_key_opt, err, errlen);
}

/* Write text + "\n" to path created with mode (never over an existing file). 0 or -1. */
static int s_write_new(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    char line[CURVE_Z85 + 2];
    size_t len = (size_t)snprintf(line, sizeof line, "%s\n", text);

    if (fd < 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    explicit_bzero(line, sizeof line);
    return close(fd);
}

int curve_keygen(const char *dir, const char *name, char public_z85[CURVE_Z85 + 1], char *err,
                 size_t errlen)
{
    char secret[CURVE_Z85 + 1], key_path[4096], pub_path[4096];
    int rc = -1;

    if ((size_t)snprintf(key_path, sizeof key_path, "%s/%s.key", dir, name) >= sizeof key_path ||
        (size_t)snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name) >= sizeof pub_path) {
        util_errf(err, errlen, "%s/%s: path too long", dir, name);
        return -1;
    }
    if (zmq_curve_keypair(public_z85, secret) != 0) {
        util_errf(err, errlen, "zmq_curve_keypair: %s (libzmq built without CURVE?)",
                  zmq_strerror(zmq_errno()));
        return -1;
    }
    if (s_write_new(key_path, secret, 0600, err, errlen) != 0)
        goto out;
    if (s_write_new(pub_path, public_z85, 0644, err, errlen) != 0) {
        unlink(key_path);
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(secret, sizeof secret);
    return rc;
}
