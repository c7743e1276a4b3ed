/* consenv: what the anpr-console tests share (consenv.h). */
#include "consenv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

pid_t consenv_start(char *const argv[], const char *out, const char *err, int *in)
{
    int p[2];

    if (pipe(p) != 0)
        h_fatal("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        h_fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(p[0], 0);
        dup2(o, 1);
        dup2(e, 2);
        close(p[1]);
        setenv("TZ", "UTC", 1);
        setenv("COLUMNS", "80", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[0]);
    *in = p[1];
    return pid;
}

bool consenv_send_keys(int fd, const char *keys)
{
    size_t n = strlen(keys);

    return write(fd, keys, n) == (ssize_t)n;
}

void consenv_unwrap(char *s)
{
    char *w = s;

    for (const char *r = s; *r;) {
        if (strncmp(r, "\n    ", 5) == 0) {
            *w++ = ' ';
            r += 5;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static bool s_wait(const char *path, size_t from, const char *needle, int ms, bool unwrap)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;

    for (;;) {
        char *out = h_slurp(path);
        bool found = false;
        if (strlen(out) > from) {
            if (unwrap)
                consenv_unwrap(out + from);
            found = strstr(out + from, needle) != NULL;
        }
        free(out);
        if (found)
            return true;
        if (util_mono_us() >= deadline)
            return false;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
}

bool consenv_wait_out(const char *path, size_t from, const char *needle, int ms)
{
    return s_wait(path, from, needle, ms, false);
}

bool consenv_wait_unwrapped(const char *path, size_t from, const char *needle, int ms)
{
    return s_wait(path, from, needle, ms, true);
}

size_t consenv_size(const char *path)
{
    char *out = h_slurp(path);
    size_t n = strlen(out);

    free(out);
    return n;
}

bool consenv_fits(const char *path)
{
    char *out = h_slurp(path);
    bool ok = true;
    size_t cols = 0;

    for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
        if (*p == '\n') {
            cols = 0;
            continue;
        }
        cols += (*p & 0xC0) != 0x80;
        ok = ok && cols <= 80;
    }
    free(out);
    return ok;
}

bool consenv_quiet(const char *path)
{
    char *out = h_slurp(path);
    bool ok = strchr(out, '\a') == NULL;

    free(out);
    return ok;
}
