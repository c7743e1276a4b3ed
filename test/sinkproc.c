#include "sinkproc.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testcert.h"
#include "tls.h"
#include "util.h"

int sinkproc_init(struct sinkproc *self, const char *prog)
{
    char err[512] = "";
    int fd;

    self->path = getenv("ANPR_BACKBONE_SINK");
    if (self->path == NULL) {
        fprintf(stderr, "%s: ANPR_BACKBONE_SINK is not set (run it with meson test)\n", prog);
        return -1;
    }
    snprintf(self->dir, sizeof self->dir, "/tmp/anpr-%s-XXXXXX", prog);
    if (mkdtemp(self->dir) == NULL || testcert_make(self->dir, err, sizeof err) != 0) {
        fprintf(stderr, "%s: certificates: %s\n", prog, err);
        return -1;
    }
    fd = tls_listen("127.0.0.1", "0", err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "%s: no free port: %s\n", prog, err);
        return -1;
    }
    snprintf(self->port, sizeof self->port, "%d", tls_local_port(fd));
    close(fd);
    return 0;
}

const char *sinkproc_file(const struct sinkproc *self, const char *name)
{
    static char bufs[16][4096];
    static int next;
    char *b = bufs[next++ % 16];

    return testcert_path(self->dir, name, b, sizeof bufs[0]);
}

pid_t sinkproc_start(const struct sinkproc *self, const char *cert, const char *out,
                     int ack_delay_ms)
{
    char delay[16], pem[64], key[64];
    pid_t pid;

    snprintf(delay, sizeof delay, "%d", ack_delay_ms);
    snprintf(pem, sizeof pem, "%s.pem", cert);
    snprintf(key, sizeof key, "%s.key", cert);
    pid = fork();
    if (pid == 0) {
        char listen[64], so[80], se[80];
        int o, e;

        snprintf(so, sizeof so, "%s.stdout", out);
        snprintf(se, sizeof se, "%s.stderr", out);
        o = open(sinkproc_file(self, so), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        e = open(sinkproc_file(self, se), O_WRONLY | O_CREAT | O_APPEND, 0644);
        snprintf(listen, sizeof listen, "127.0.0.1:%s", self->port);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execl(self->path, self->path, "--listen", listen, "--cert", sinkproc_file(self, pem),
              "--key", sinkproc_file(self, key), "--ca", sinkproc_file(self, "ca.pem"), "--out",
              sinkproc_file(self, out), "--ack-delay-ms", delay, (char *)NULL);
        _exit(127);
    }
    return pid;
}

char *sinkproc_anprd_yaml(const struct sinkproc *self, char *buf, size_t cap)
{
    int n =
        snprintf(buf, cap,
                 "spool:\n  dir: \"%s/reads\"\n"
                 "backbone:\n  host: \"127.0.0.1\"\n  port: %s\n  ca_file: \"%s\"\n"
                 "  cert_file: \"%s\"\n  key_file: \"%s\"\n  instance: \"zone-test\"\n"
                 "  spool_dir: \"%s/outbound\"\n",
                 self->dir, self->port, sinkproc_file(self, "ca.pem"),
                 sinkproc_file(self, "client.pem"), sinkproc_file(self, "client.key"), self->dir);
    return n > 0 && (size_t)n < cap ? buf : NULL;
}

int sinkproc_stop(pid_t pid, int sig)
{
    int64_t end = util_mono_us() + 10 * 1000000;
    int status;

    kill(pid, sig);
    while (util_mono_us() < end) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        poll(NULL, 0, 10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void sinkproc_done(const struct sinkproc *self, const char *prog, int failed)
{
    if (failed == 0)
        nftw(self->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    else
        fprintf(stderr, "%s: files kept in %s\n", prog, self->dir);
}
