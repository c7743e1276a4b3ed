/* http: anpr-web's answers and request helpers (http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wj.h"

/* Every page and answer: no inline script or style, nothing from elsewhere, never in a frame. */
#define HTTP_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; media-src 'self'; form-action 'self'; frame-ancestors 'none'; "           \
    "base-uri 'none'"

void http_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Content-Security-Policy", HTTP_CSP);
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

enum MHD_Result http_send(struct MHD_Connection *c, unsigned status, const char *type,
                          const char *body, size_t len, const char *cookie)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    http_headers(r, type);
    if (cookie)
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result http_json(struct MHD_Connection *c, unsigned status, const char *json)
{
    return http_send(c, status, "application/json; charset=utf-8", json, strlen(json), NULL);
}

/* {"error": msg} with status. */
enum MHD_Result http_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct wj b = {0};
    enum MHD_Result rc;

    wj_raw(&b, "{\"error\":");
    wj_str(&b, msg);
    wj_raw(&b, "}");
    rc = wj_failed(&b) ? MHD_NO : http_json(c, status, b.s);
    wj_free(&b);
    return rc;
}

enum MHD_Result http_redirect(struct MHD_Connection *c, const char *to)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    http_headers(r, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, to);
    rc = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
    MHD_destroy_response(r);
    return rc;
}

/* A cookie as anpr-web sets them: HttpOnly, SameSite=Strict, Secure behind the TLS proxy. */
void http_cookie(bool secure, char *out, size_t cap, const char *name, const char *value,
                 bool clear)
{
    snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value,
             secure ? "; Secure" : "", clear ? "; Max-Age=0" : "");
}

static const char *s_type_of(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (!dot)
        return NULL;
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (strcmp(dot, ".png") == 0)
        return "image/png";
    return NULL;
}

/* A file of the static folder by its plain name ([a-z0-9-]+.ext: no path, no dot files). */
enum MHD_Result http_static(const char *dir, struct MHD_Connection *c, const char *name)
{
    const char *type = s_type_of(name);
    char path[4096];
    struct stat st;
    int fd;

    if (!type || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(name) ||
        name[0] == '.' || strstr(name, ".."))
        return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    http_headers(r, type);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* The value of key in an application/x-www-form-urlencoded body, decoded, into out; false
   when absent (or longer than cap). */
bool http_form(const char *body, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);

    for (const char *p = body ? body : ""; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vn = n - klen - 1;
            if (vn >= cap)
                return false;
            memcpy(out, p + klen + 1, vn);
            out[vn] = '\0';
            for (char *q = out; *q; q++)
                if (*q == '+')
                    *q = ' ';
            out[MHD_http_unescape(out)] = '\0';
            return true;
        }
        p += n + (amp ? 1 : 0);
    }
    return false;
}

/* The client's address: the peer's, or behind the proxy the X-Real-IP a loopback peer sends. */
void http_client(bool proxy, struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    bool loopback = false;

    snprintf(out, cap, "?");
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *in = (const void *)sa;
            inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap);
            loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const void *)sa;
            inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap);
            loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        }
    }
    const char *real = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Real-IP");
    unsigned char tmp[16];
    if (proxy && loopback && real &&
        (inet_pton(AF_INET, real, tmp) == 1 || inet_pton(AF_INET6, real, tmp) == 1))
        snprintf(out, cap, "%s", real);
}
