/*
 * test_log: log lines in the plain form, and in the journal's form (sd-daemon priority prefix)
 * when $JOURNAL_STREAM names stderr, and only then. Stderr is a real file here, read back.
 */
#include "log.h"

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Point stderr at a fresh file; returns the saved stderr to put back with s_restore. */
static int s_capture(FILE **file)
{
    int saved;

    fflush(stderr);
    saved = dup(STDERR_FILENO);
    *file = tmpfile();
    if (saved < 0 || !*file || dup2(fileno(*file), STDERR_FILENO) < 0) {
        fprintf(stdout, "test_log: cannot redirect stderr\n");
        exit(1);
    }
    return saved;
}

/* Put stderr back and return what was written to the file (caller frees). */
static char *s_restore(int saved, FILE *file)
{
    static char buf[4096];
    size_t n;

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(file);
    n = fread(buf, 1, sizeof buf - 1, file);
    buf[n] = '\0';
    fclose(file);
    return strdup(buf);
}

static void s_set_stream(int fd, long long ino_delta)
{
    struct stat st;
    char env[64];

    if (fstat(fd, &st) != 0) {
        fprintf(stdout, "test_log: fstat failed\n");
        exit(1);
    }
    snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + (unsigned long long)ino_delta);
    setenv("JOURNAL_STREAM", env, 1);
}

static void s_test_journal(void)
{
    FILE *file;
    int saved = s_capture(&file);
    char *out;

    s_set_stream(STDERR_FILENO, 0);
    CHECK(log_detect_journal());
    log_set_level(LOG_LEVEL_DEBUG);
    log_error("db", "lost %d", 1);
    log_warn("spool", "full");
    log_info("ingest", "listening on %s", "tcp://*:5555");
    log_debug("sync", "patched");
    out = s_restore(saved, file);
    CHECK_STR(out, "<3>db: lost 1\n<4>spool: full\n<6>ingest: listening on tcp://*:5555\n"
                   "<7>sync: patched\n");
    free(out);
}

static void s_test_plain(void)
{
    FILE *file;
    int saved;
    char *out;

    /* No JOURNAL_STREAM: plain lines with time and level name. */
    unsetenv("JOURNAL_STREAM");
    saved = s_capture(&file);
    CHECK(!log_detect_journal());
    log_warn("spool", "full");
    out = s_restore(saved, file);
    CHECK(out[0] != '<');
    CHECK_CONTAINS(out, "Z warn  spool: full\n");
    free(out);

    /* A stream of another file (stderr redirected since systemd started us): plain. */
    saved = s_capture(&file);
    s_set_stream(STDERR_FILENO, 1);
    CHECK(!log_detect_journal());
    log_error("db", "lost");
    out = s_restore(saved, file);
    CHECK_CONTAINS(out, "Z error db: lost\n");
    free(out);

    /* Garbage in the variable: plain. */
    saved = s_capture(&file);
    setenv("JOURNAL_STREAM", "12:34x", 1);
    CHECK(!log_detect_journal());
    log_info("main", "x");
    out = s_restore(saved, file);
    CHECK_CONTAINS(out, "Z info  main: x\n");
    free(out);
}

int main(void)
{
    s_test_journal();
    s_test_plain();
    return check_done("test_log");
}
