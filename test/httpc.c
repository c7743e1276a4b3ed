#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long s_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for `events` until deadline (ms); whether it is. */
static int s_wait(int fd, short events, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    long long left = deadline - s_ms();

    if (left <= 0)
        return 0;
    return poll(&p, 1, (int)left) == 1;
}

/* httpc_raw from the local address `from` (NULL: any). */
static int s_raw(const char *from, const char *ip, int port, const char *request, int timeout_ms,
                 struct httpc_reply *out)
{
    long long deadline = s_ms() + timeout_ms;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    size_t cap = 65536, len = 0, sent = 0, rlen = strlen(request);
    char *buf = malloc(cap), *split;
    int fd = -1, rc = -1;

    memset(out, 0, sizeof *out);
    if (!buf || inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        goto out;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && from) {
        struct sockaddr_in local = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, from, &local.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
            fprintf(stderr, "httpc: bind %s: %s\n", from, strerror(errno));
            goto out;
        }
    }
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "httpc: connect %s:%d: %s\n", ip, port, strerror(errno));
        goto out;
    }
    while (sent < rlen) {
        if (!s_wait(fd, POLLOUT, deadline))
            goto timeout;
        ssize_t n = send(fd, request + sent, rlen - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            fprintf(stderr, "httpc: send: %s\n", strerror(errno));
            goto out;
        }
        sent += (size_t)n;
    }
    for (;;) {
        if (len + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                goto out;
            buf = b;
            cap *= 2;
        }
        if (!s_wait(fd, POLLIN, deadline))
            goto timeout;
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno != EINTR && errno != ECONNRESET) {
            fprintf(stderr, "httpc: recv: %s\n", strerror(errno));
            goto out;
        }
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        fprintf(stderr, "httpc: no status line in \"%.80s\"\n", buf);
        goto out;
    }
    split = strstr(buf, "\r\n\r\n");
    out->head = strndup(buf, split ? (size_t)(split - buf) : len);
    out->body = strdup(split ? split + 4 : "");
    out->len = split ? len - (size_t)(split + 4 - buf) : 0;
    rc = out->head && out->body ? 0 : -1;
    goto out;
timeout:
    fprintf(stderr, "httpc: %s:%d: no whole answer within %d ms\n", ip, port, timeout_ms);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    if (rc != 0)
        httpc_reply_free(out);
    return rc;
}

int httpc_raw(const char *ip, int port, const char *request, int timeout_ms,
              struct httpc_reply *out)
{
    return s_raw(NULL, ip, port, request, timeout_ms, out);
}

int httpc_request_from(const char *from, const char *ip, int port, const char *method,
                       const char *path, int timeout_ms, struct httpc_reply *out)
{
    char req[512];

    snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", method,
             path, ip);
    return s_raw(from, ip, port, req, timeout_ms, out);
}

int httpc_request(const char *ip, int port, const char *method, const char *path, int timeout_ms,
                  struct httpc_reply *out)
{
    return httpc_request_from(NULL, ip, port, method, path, timeout_ms, out);
}

void httpc_reply_free(struct httpc_reply *r)
{
    free(r->head);
    free(r->body);
    r->head = r->body = NULL;
    r->len = 0;
}
