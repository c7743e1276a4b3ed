/*
 * cli: command-line conventions shared by the tools; see cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t s_signalled;

static void s_on_signal(int sig)
{
    (void)sig;
    s_signalled = 1;
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return -1;
}

int cli_bad_value(const char *prog, const char *opt, const char *val, const char *expect)
{
    return cli_usage_error(prog, "%s: expected %s, got '%s'", opt, expect, val);
}

int cli_getopt_fail(const char *prog, int opt, int argc, char **argv)
{
    const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

    if (opt == ':')
        return cli_usage_error(prog, "%s needs a value", name);
    return cli_usage_error(prog, "unknown option '%s'", name);
}

int cli_no_operands(const char *prog, int argc, char **argv)
{
    if (optind < argc)
        return cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
    return 0;
}

void cli_catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool cli_signal_take(void)
{
    if (!s_signalled)
        return false;
    s_signalled = 0;
    return true;
}

void cli_cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len + 1 >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = (size_t)n < cap - *len ? *len + (size_t)n : cap - 1;
}

size_t cli_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        *cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        *cp = c & 0x0Fu;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        *cp = c & 0x07u;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        /* only the second byte has the narrowed range */
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (s[i] < l || s[i] > h)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3Fu);
    }
    return len;
}

static bool s_visible(uint32_t cp, unsigned flags)
{
    if (cp == '\n')
        return (flags & CLI_NEWLINE) != 0;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return false;
    return !(cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
             (cp >= 0x2066 && cp <= 0x2069));
}

size_t cli_clean(char *out, size_t cap, const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0;

    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = cli_utf8(p + i, n - i, &cp);
        char rep[16];
        const char *add = rep;
        size_t alen;

        if (k == 0) {
            add = "\xEF\xBF\xBD"; /* U+FFFD for the one byte; the scan goes on after it */
            alen = 3;
            k = 1;
        } else if (!s_visible(cp, flags)) {
            alen = (size_t)snprintf(rep, sizeof rep, "\\u{%" PRIx32 "}", cp);
        } else {
            add = (const char *)p + i;
            alen = k;
        }
        if (len + alen + 1 > cap)
            break;
        memcpy(out + len, add, alen);
        len += alen;
        i += k;
    }
    out[len] = '\0';
    return len;
}

static const char *s_text(const char *s, unsigned flags)
{
    static _Thread_local char bufs[8][CLI_TEXT_MAX];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % 8];

    cli_clean(b, CLI_TEXT_MAX, s ? s : "", s ? strlen(s) : 0, flags);
    return b;
}

const char *cli_text(const char *s)
{
    return s_text(s, 0);
}

const char *cli_text_nl(const char *s)
{
    return s_text(s, CLI_NEWLINE);
}

bool cli_plain(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = cli_utf8(p + i, n - i, &cp);
        if (k == 0 || !s_visible(cp, 0))
            return false;
        i += k;
    }
    return true;
}

FILE *cli_open_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f;

    if (fd < 0)
        return NULL;
    if (!(f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}
