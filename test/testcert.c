/*
 * testcert: a small CA and its certificates, built with the X509 API the way `openssl req` and
 * `openssl x509 -req` would, so the tests do not depend on the openssl command.
 */
#include "testcert.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_DAY (24L * 3600L)

const char *testcert_path(const char *dir, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

/* An RSA key, for a server whose TLS 1.2 suites may use RSA key exchange. */
static EVP_PKEY *s_rsa_key(void)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    EVP_PKEY *key = NULL;

    if (pc == NULL || EVP_PKEY_keygen_init(pc) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(pc, 2048) != 1 || EVP_PKEY_keygen(pc, &key) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(pc);
    return key;
}

static EVP_PKEY *s_key(void)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    EVP_PKEY *key = NULL;

    if (pc == NULL || EVP_PKEY_keygen_init(pc) != 1 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc, NID_X9_62_prime256v1) != 1 ||
        EVP_PKEY_keygen(pc, &key) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(pc);
    return key;
}

static int s_ext(X509 *x, X509V3_CTX *v, int nid, const char *value)
{
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, v, nid, value);
    int rc;

    if (ex == NULL)
        return -1;
    rc = X509_add_ext(x, ex, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(ex);
    return rc;
}

enum s_kind { S_CA, S_SERVER, S_CLIENT };

/*
 * A certificate for key, valid from `from` to `to` seconds relative to now, signed by
 * issuer/issuer_key (NULL: by itself).
 */
static X509 *s_cert(EVP_PKEY *key, const char *cn, enum s_kind kind, const char *san, long from,
                    long to, X509 *issuer, EVP_PKEY *issuer_key)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v;

    if (x == NULL)
        return NULL;
    name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL) % 100000 * 1000 + serial++) !=
            1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), from) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), to) == NULL || X509_set_pubkey(x, key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"anprd tests",
                                   -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1)
        goto fail;
    X509V3_set_ctx_nodb(&v);
    X509V3_set_ctx(&v, issuer ? issuer : x, x, NULL, NULL, 0);
    if (s_ext(x, &v, NID_subject_key_identifier, "hash") != 0 ||
        s_ext(x, &v, NID_authority_key_identifier, "keyid:always") != 0)
        goto fail;
    if (kind == S_CA) {
        if (s_ext(x, &v, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
            s_ext(x, &v, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
            goto fail;
    } else {
        if (s_ext(x, &v, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
            s_ext(x, &v, NID_key_usage, "critical,digitalSignature") != 0 ||
            s_ext(x, &v, NID_ext_key_usage, kind == S_SERVER ? "serverAuth" : "clientAuth") != 0)
            goto fail;
    }
    if (san != NULL && s_ext(x, &v, NID_subject_alt_name, san) != 0)
        goto fail;
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

static int s_write(const char *dir, const char *base, X509 *x, EVP_PKEY *key)
{
    char path[4096], name[64];
    FILE *f;
    int ok;

    snprintf(name, sizeof name, "%s.pem", base);
    f = fopen(testcert_path(dir, name, path, sizeof path), "w");
    if (f == NULL)
        return -1;
    ok = PEM_write_X509(f, x);
    if (fclose(f) != 0 || ok != 1)
        return -1;
    snprintf(name, sizeof name, "%s.key", base);
    f = fopen(testcert_path(dir, name, path, sizeof path), "w");
    if (f == NULL)
        return -1;
    ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || ok != 1)
        return -1;
    return 0;
}

/* The client key again, encrypted: for the test that such a key is refused, not prompted for. */
static int s_encrypted(const char *dir)
{
    char path[4096];
    FILE *f = fopen(testcert_path(dir, "client.key", path, sizeof path), "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    int ok = 0;

    if (f)
        fclose(f);
    f = key ? fopen(testcert_path(dir, "encrypted.key", path, sizeof path), "w") : NULL;
    if (f != NULL) {
        ok = PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), (unsigned char *)TESTCERT_PASSPHRASE,
                                  (int)strlen(TESTCERT_PASSPHRASE), NULL, NULL);
        if (fclose(f) != 0)
            ok = 0;
    }
    EVP_PKEY_free(key);
    return ok == 1 ? 0 : -1;
}

/* One leaf: key (RSA when rsa, else EC), certificate, files; *out (may be NULL) gets it. */
static int s_leaf_ex(const char *dir, const char *base, const char *cn, enum s_kind kind,
                     const char *san, long from, long to, X509 *ca, EVP_PKEY *ca_key, bool rsa,
                     X509 **out)
{
    EVP_PKEY *key = rsa ? s_rsa_key() : s_key();
    X509 *x = key ? s_cert(key, cn, kind, san, from, to, ca, ca_key) : NULL;
    int rc = x != NULL ? s_write(dir, base, x, key) : -1;

    if (out != NULL && rc == 0)
        *out = x;
    else
        X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

static int s_leaf(const char *dir, const char *base, const char *cn, enum s_kind kind,
                  const char *san, long from, long to, X509 *ca, EVP_PKEY *ca_key)
{
    return s_leaf_ex(dir, base, cn, kind, san, from, to, ca, ca_key, false, NULL);
}

/* crl.pem: the CA's CRL, current (from yesterday to in 30 days), revoking `revoked`. */
static int s_crl(const char *dir, X509 *ca, EVP_PKEY *ca_key, X509 *revoked)
{
    X509_CRL *crl = X509_CRL_new();
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_TIME *t = ASN1_TIME_new();
    char path[4096];
    FILE *f = NULL;
    int rc = -1;

    if (crl == NULL || r == NULL || t == NULL || X509_CRL_set_version(crl, 1) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
        X509_gmtime_adj(t, -S_DAY) == NULL || X509_CRL_set1_lastUpdate(crl, t) != 1 ||
        X509_gmtime_adj(t, 30 * S_DAY) == NULL || X509_CRL_set1_nextUpdate(crl, t) != 1 ||
        X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)) != 1 ||
        X509_gmtime_adj(t, -3600) == NULL || X509_REVOKED_set_revocationDate(r, t) != 1 ||
        X509_CRL_add0_revoked(crl, r) != 1)
        goto out;
    r = NULL; /* the CRL owns it now */
    if (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, ca_key, EVP_sha256()) <= 0)
        goto out;
    f = fopen(testcert_path(dir, "crl.pem", path, sizeof path), "w");
    if (f != NULL && PEM_write_X509_CRL(f, crl) == 1)
        rc = 0;
out:
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    ASN1_TIME_free(t);
    X509_REVOKED_free(r);
    X509_CRL_free(crl);
    return rc;
}

int testcert_make(const char *dir, char *err, size_t errlen)
{
    const char *san = "DNS:localhost,IP:127.0.0.1";
    EVP_PKEY *ca_key = s_key();
    X509 *ca =
        ca_key ? s_cert(ca_key, "anprd test CA", S_CA, NULL, -S_DAY, 30 * S_DAY, NULL, NULL) : NULL;
    const char *what = "CA";
    EVP_PKEY *other_key = NULL;
    X509 *other = NULL, *revoked = NULL;
    int rc = -1;

    if (ca == NULL || s_write(dir, "ca", ca, ca_key) != 0)
        goto out;
    what = "server";
    if (s_leaf(dir, "server", "localhost", S_SERVER, san, -S_DAY, 30 * S_DAY, ca, ca_key) != 0)
        goto out;
    what = "client";
    if (s_leaf(dir, "client", "anpr-test-client", S_CLIENT, NULL, -S_DAY, 30 * S_DAY, ca, ca_key) !=
        0)
        goto out;
    what = "encrypted";
    if (s_encrypted(dir) != 0)
        goto out;
    what = "expired";
    if (s_leaf(dir, "expired", "localhost", S_SERVER, san, -10 * S_DAY, -S_DAY, ca, ca_key) != 0)
        goto out;
    what = "selfsigned";
    if (s_leaf(dir, "selfsigned", "localhost", S_SERVER, san, -S_DAY, 30 * S_DAY, NULL, NULL) != 0)
        goto out;
    what = "cnonly";
    if (s_leaf(dir, "cnonly", "localhost", S_SERVER, NULL, -S_DAY, 30 * S_DAY, ca, ca_key) != 0)
        goto out;
    what = "rsa";
    if (s_leaf_ex(dir, "rsa", "localhost", S_SERVER, san, -S_DAY, 30 * S_DAY, ca, ca_key, true,
                  NULL) != 0)
        goto out;
    what = "other CA";
    other_key = s_key();
    other = other_key
                ? s_cert(other_key, "anprd other CA", S_CA, NULL, -S_DAY, 30 * S_DAY, NULL, NULL)
                : NULL;
    if (other == NULL || s_write(dir, "otherca", other, other_key) != 0 ||
        s_leaf(dir, "otherca-server", "localhost", S_SERVER, san, -S_DAY, 30 * S_DAY, other,
               other_key) != 0)
        goto out;
    what = "revoked";
    if (s_leaf_ex(dir, "revoked", "localhost", S_SERVER, san, -S_DAY, 30 * S_DAY, ca, ca_key, false,
                  &revoked) != 0 ||
        s_crl(dir, ca, ca_key, revoked) != 0)
        goto out;
    what = "wronghost";
    if (s_leaf(dir, "wronghost", "wrong.example.org", S_SERVER, "DNS:wrong.example.org", -S_DAY,
               30 * S_DAY, ca, ca_key) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        unsigned long e = ERR_get_error();
        snprintf(err, errlen, "making the %s certificate in %s: %s", what, dir,
                 e && ERR_reason_error_string(e) ? ERR_reason_error_string(e)
                                                 : "cannot write the file");
        ERR_clear_error();
    }
    X509_free(revoked);
    X509_free(other);
    EVP_PKEY_free(other_key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}
