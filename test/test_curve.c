/*
 * Unit test of curve: key pairs written as anpr-keygen writes them (secret 0600, never over an
 * existing file), read back, the public half derived; broken files refused with the path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "curve.h"

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

int main(void)
{
    char dir[] = "/tmp/anpr-test-curve.XXXXXX", path[256], pub[CURVE_Z85 + 1], sec[CURVE_Z85 + 1],
         pub2[CURVE_Z85 + 1], err[512];
    struct stat st;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(curve_keygen(dir, "cam-1", pub, err, sizeof err), 0);
    CHECK_INT(strlen(pub), CURVE_Z85);
    snprintf(path, sizeof path, "%s/cam-1.key", dir);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    /* The secret key reads back, and its public half is the one written. */
    CHECK_INT(curve_read_secret(path, sec, pub2, err, sizeof err), 0);
    CHECK_STR(pub2, pub);
    snprintf(path, sizeof path, "%s/cam-1.pub", dir);
    CHECK_INT(curve_read_public(path, pub2, err, sizeof err), 0);
    CHECK_STR(pub2, pub);
    /* A public key may be given as the 40 characters themselves. */
    CHECK_INT(curve_read_public(pub, pub2, err, sizeof err), 0);
    CHECK_STR(pub2, pub);
    /* Never over an existing file. */
    CHECK_INT(curve_keygen(dir, "cam-1", pub2, err, sizeof err), -1);
    CHECK_CONTAINS(err, "File exists");
    /* Broken files: named, and said what they are not. */
    snprintf(path, sizeof path, "%s/bad.key", dir);
    s_write(path, "not a key\n");
    CHECK_INT(curve_read_secret(path, sec, pub2, err, sizeof err), -1);
    CHECK_CONTAINS(err, path);
    CHECK_CONTAINS(err, "not a CURVE secret key");
    s_write(path, "");
    CHECK_INT(curve_read_secret(path, sec, pub2, err, sizeof err), -1);
    /* 40 characters, but one outside Z85 ('~'). */
    s_write(path, "~@KnI2:eg[b@>?fbs7lop2?8SplC.^{=f.E=6-PV\n");
    CHECK_INT(curve_read_secret(path, sec, pub2, err, sizeof err), -1);
    CHECK_INT(curve_read_public("short", pub2, err, sizeof err), -1);
    CHECK_CONTAINS(err, "short");
    snprintf(path, sizeof path, "%s/none.key", dir);
    CHECK_INT(curve_read_secret(path, sec, pub2, err, sizeof err), -1);
    CHECK_CONTAINS(err, "No such file");
    /* A client socket takes the keys. */
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    snprintf(path, sizeof path, "%s/cam-1.key", dir);
    CHECK_INT(curve_client(s, path, pub, err, sizeof err), 0);
    int mech = 0;
    size_t len = sizeof mech;
    zmq_getsockopt(s, ZMQ_MECHANISM, &mech, &len);
    CHECK_INT(mech, ZMQ_CURVE);
    /* A program's options: none is plain text; one without the other is an error. */
    void *s2 = zmq_socket(ctx, ZMQ_DEALER);
    CHECK_INT(curve_client_opts(s2, NULL, NULL, err, sizeof err), 0);
    CHECK_INT(curve_client_opts(s2, path, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "go together");
    CHECK_INT(curve_client_opts(s2, path, pub, err, sizeof err), 0);
    zmq_close(s2);
    zmq_close(s);
    zmq_ctx_term(ctx);

    const char *files[] = {"cam-1.key", "cam-1.pub", "bad.key"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    CHECK_INT(rmdir(dir), 0);
    return check_done("curve");
}
