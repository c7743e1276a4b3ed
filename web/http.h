/*
 * http: anpr-web's answers and the small parts of a request it reads, on libmicrohttpd. Every
 * answer carries the same security headers (a strict Content-Security-Policy: no inline script
 * or style, nothing from elsewhere; never in a frame; no sniffing; no referrer; not cached).
 * The module never logs; the enum MHD_Result returns are libmicrohttpd's (MHD_NO: drop the
 * connection, out of memory).
 */
#ifndef ANPR_HTTP_H
#define ANPR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>

/* The security headers and the content type onto r. */
void http_headers(struct MHD_Response *r, const char *type);
/* An answer of len bytes of body (copied), with a Set-Cookie when cookie is not NULL. */
enum MHD_Result http_send(struct MHD_Connection *c, unsigned status, const char *type,
                          const char *body, size_t len, const char *cookie);
enum MHD_Result http_json(struct MHD_Connection *c, unsigned status, const char *json);
/* {"error": msg} with status. */
enum MHD_Result http_error(struct MHD_Connection *c, unsigned status, const char *msg);
/* 303 to another page. */
enum MHD_Result http_redirect(struct MHD_Connection *c, const char *to);
/* A Set-Cookie value as anpr-web sets them: HttpOnly, SameSite=Strict, Secure when secure,
   expired at once when clear. */
void http_cookie(bool secure, char *out, size_t cap, const char *name, const char *value,
                 bool clear);
/* A file of dir by its plain name (lower-case letters, digits, '-' and one extension: no path,
   no dot file, no link followed); 404 otherwise. */
enum MHD_Result http_static(const char *dir, struct MHD_Connection *c, const char *name);
/* The value of key in an application/x-www-form-urlencoded body, decoded, into out; false
   when absent (or longer than cap). */
bool http_form(const char *body, const char *key, char *out, size_t cap);
/* The client's address: the peer's, or with proxy the X-Real-IP a loopback peer sends. */
void http_client(bool proxy, struct MHD_Connection *c, char *out, size_t cap);

#endif
