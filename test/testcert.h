/*
 * testcert: throw-away certificates for the TLS tests, made with the OpenSSL API (no openssl
 * command needed). testcert_make() writes into dir (PEM, keys unencrypted):
 *
 *   ca.pem ca.key                   test CA
 *   server.pem server.key           CN=localhost, SAN DNS:localhost IP:127.0.0.1, by the CA
 *   client.pem client.key           CN=anpr-test-client, clientAuth, by the CA
 *   expired.pem expired.key         like server, valid from 10 days ago until yesterday
 *   selfsigned.pem selfsigned.key   like server, but signed by itself
 *   wronghost.pem wronghost.key     CN=wrong.example.org, SAN DNS:wrong.example.org, by the CA
 *   cnonly.pem cnonly.key           CN=localhost and no subjectAltName, by the CA
 *   rsa.pem rsa.key                 like server, with an RSA 2048 key (TLS 1.2 RSA key exchange)
 *   otherca.pem otherca.key         another CA, trusted by nobody
 *   otherca-server.pem .key         like server, signed by the other CA
 *   revoked.pem revoked.key         like server, by the CA, and revoked in crl.pem
 *   crl.pem                         the CA's CRL (valid from yesterday for 30 days): revoked.pem
 *   encrypted.key                   the client key, encrypted with TESTCERT_PASSPHRASE
 *
 * Keys are EC P-256 (fast to make) but rsa.key. 0, or -1 with err filled.
 */
#ifndef ANPR_TESTCERT_H
#define ANPR_TESTCERT_H

#include <stddef.h>

#define TESTCERT_PASSPHRASE "not-to-be-logged-7f3a"

int testcert_make(const char *dir, char *err, size_t errlen);

/* Path of a file in dir into buf: "dir/name". Returns buf. */
const char *testcert_path(const char *dir, const char *name, char *buf, size_t len);

#endif
