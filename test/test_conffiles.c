/*
 * test_conffiles: --check-config's look at the files and directories a configuration names,
 * on real files in a temporary directory: readable files pass, missing, unreadable and wrong
 * kinds of files are each reported at the value's position, parts that are off are not looked
 * at, and a spool directory anprd would create is fine when its parent is writable. The
 * unreadable cases run as "nobody" when the test runs as root (root reads everything).
 */
#include "conffiles.h"

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void s_write(const char *name, const char *text, mode_t mode)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f) {
        printf("test_conffiles: cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* fmt with each "%1$s" replaced by the test directory, into buf. */
static char *s_subst(const char *fmt, char *buf, size_t size)
{
    size_t o = 0, dl = strlen(dir);

    while (*fmt && o + dl + 1 < size) {
        if (strncmp(fmt, "%1$s", 4) == 0) {
            memcpy(buf + o, dir, dl);
            o += dl;
            fmt += 4;
        } else {
            buf[o++] = *fmt++;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* Write the config ("%1$s" stands for the test directory). */
static void s_config(const char *fmt)
{
    char text[2048];

    s_write("t.yaml", s_subst(fmt, text, sizeof text), 0644);
}

static int s_run(char **errors)
{
    char path[256];

    snprintf(path, sizeof path, "%s/t.yaml", dir);
    return conffiles_check(path, errors);
}

/* Write the config and check it. */
static int s_check(const char *fmt, char **errors)
{
    s_config(fmt);
    return s_run(errors);
}

/* The errors expected, with the config's path in front of each line (%1$s: test directory). */
static char *s_want(const char *fmt)
{
    static char buf[4096];

    return s_subst(fmt, buf, sizeof buf);
}

static const char *const s_full = "database:\n"
                                  "  conninfo: \"dbname=anpr\"\n"
                                  "spool:\n"
                                  "  dir: \"%1$s/spool\"\n"
                                  "backbone:\n"
                                  "  host: \"bb.example\"\n"
                                  "  ca_file: \"%1$s/ca.pem\"\n"
                                  "  cert_file: \"%1$s/client.pem\"\n"
                                  "  key_file: \"%1$s/client.key\"\n"
                                  "  spool_dir: \"%1$s/backbone\"\n"
                                  "curve:\n"
                                  "  secret_file: \"%1$s/curve.key\"\n"
                                  "  insecure_plaintext: false\n";

static void test_good(void)
{
    char *errors = (char *)"x", path[128];

    s_write("ca.pem", "ca\n", 0644);
    s_write("client.pem", "cert\n", 0644);
    s_write("client.key", "key\n", 0600);
    s_write("curve.key", "0123456789012345678901234567890123456789\n", 0600);
    snprintf(path, sizeof path, "%s/spool", dir);
    CHECK_INT(mkdir(path, 0750), 0);
    /* backbone/ is not there: anprd makes it, in a directory it may write to. */
    CHECK_INT(s_check(s_full, &errors), 0);
    CHECK(errors == NULL);
}

static void test_missing(void)
{
    char *errors = NULL;

    /* Each missing file at its value's position, in file order. */
    CHECK_INT(s_check("database:\n"
                      "  conninfo: \"dbname=anpr\"\n"
                      "spool:\n"
                      "  dir: \"%1$s/none/spool\"\n"
                      "backbone:\n"
                      "  host: \"bb.example\"\n"
                      "  ca_file: \"%1$s/missing-ca.pem\"\n"
                      "  cert_file: \"%1$s/ca.pem/x\"\n"
                      "  key_file: \"%1$s\"\n"
                      "  spool_dir: \"%1$s/ca.pem\"\n"
                      "curve:\n"
                      "  secret_file: \"%1$s/missing.key\"\n",
                      &errors),
              -1);
    CHECK_STR(errors,
              s_want("%1$s/t.yaml:4:8: spool.dir: '%1$s/none/spool' does not exist, nor does its "
                     "parent '%1$s/none'\n"
                     "%1$s/t.yaml:7:12: backbone.ca_file: '%1$s/missing-ca.pem' does not exist\n"
                     "%1$s/t.yaml:8:14: backbone.cert_file: '%1$s/ca.pem/x': Not a directory\n"
                     "%1$s/t.yaml:9:13: backbone.key_file: '%1$s' is not a regular file\n"
                     "%1$s/t.yaml:10:14: backbone.spool_dir: '%1$s/ca.pem' is not a directory\n"
                     "%1$s/t.yaml:12:16: curve.secret_file: '%1$s/missing.key' does not exist\n"));
    free(errors);
}

static void test_parts_off(void)
{
    char *errors = (char *)"x";

    /* No backbone host, no CURVE: their files are not looked at. */
    CHECK_INT(s_check("database:\n"
                      "  conninfo: \"dbname=anpr\"\n"
                      "backbone:\n"
                      "  host: \"\"\n"
                      "  ca_file: \"%1$s/missing-ca.pem\"\n"
                      "  spool_dir: \"/nonexistent/backbone\"\n"
                      "curve:\n"
                      "  secret_file: \"%1$s/missing.key\"\n"
                      "  insecure_plaintext: true\n"
                      "spool:\n"
                      "  dir: \"\"\n",
                      &errors),
              0);
    CHECK(errors == NULL);
}

/* Check t.yaml as an unprivileged user; the errors come back through a pipe. */
static char *s_check_unprivileged(void)
{
    static char buf[4096];
    int fds[2];
    pid_t pid;
    ssize_t n;
    size_t got = 0;
    int st;

    if (geteuid() != 0) {
        char *errors = NULL;

        if (s_run(&errors) == 0)
            return NULL;
        snprintf(buf, sizeof buf, "%s", errors ? errors : "");
        free(errors);
        return buf;
    }
    if (pipe(fds) != 0)
        return NULL;
    pid = fork();
    if (pid == 0) {
        char *errors = NULL;

        close(fds[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        if (s_run(&errors) != 0 && errors)
            (void)!write(fds[1], errors, strlen(errors));
        _exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    buf[got] = '\0';
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return got ? buf : NULL;
}

static void test_permissions(void)
{
    char path[128], *errors;

    /* The keys readable by their owner only, the directories writable by their owner only: as
       someone else, each is refused (the config itself and the CA are world-readable). A user
       that is not root is someone else once the owner's rights are taken away. */
    s_config(s_full);
    snprintf(path, sizeof path, "%s/spool", dir);
    chmod(path, 0755);
    if (geteuid() != 0) {
        s_write("client.key", "key\n", 0000);
        s_write("curve.key", "key\n", 0000);
        chmod(path, 0555);
        chmod(dir, 0555);
    }
    errors = s_check_unprivileged();
    chmod(dir, 0755);
    CHECK_CONTAINS(errors, s_want("%1$s/t.yaml:9:13: backbone.key_file: '%1$s/client.key' "
                                  "cannot be read by "));
    CHECK_CONTAINS(errors, s_want("%1$s/t.yaml:4:8: spool.dir: '%1$s/spool' is not writable by "));
    CHECK_CONTAINS(errors, s_want("%1$s/t.yaml:12:16: curve.secret_file: '%1$s/curve.key' cannot "
                                  "be read by "));
    /* The backbone spool would be made in the test directory, which nobody else may write. */
    CHECK_CONTAINS(errors, s_want("%1$s/t.yaml:10:14: backbone.spool_dir: '%1$s/backbone' does "
                                  "not exist, and "));
    CHECK(strstr(errors ? errors : "", "ca_file") == NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_conffiles.XXXXXX");
    if (!mkdtemp(dir)) {
        printf("test_conffiles: mkdtemp failed\n");
        return 1;
    }
    chmod(dir, 0755); /* the unprivileged check must reach the files inside */
    test_good();
    test_missing();
    test_parts_off();
    test_permissions();
    {
        char cmd[256];

        snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' && rm -rf '%s'", dir, dir);
        (void)!system(cmd);
    }
    return check_done("test_conffiles");
}
