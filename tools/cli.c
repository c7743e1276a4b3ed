/*
 * cli: command-line conventions shared by the tools; see cli.h.
 */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
