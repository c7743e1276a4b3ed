/*
 * replay: feeds every file of the corpus directories (or files) named on the command line to
 * the target's LLVMFuzzerTestOneInput(), so the fuzz corpora run as regression tests in every
 * build, gcc and sanitizer builds too. Fails when a directory cannot be read or holds no input:
 * a test that replays nothing must not pass.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Read path whole into a buffer of exactly its size (so ASan sees any over-read); -1 on error. */
static int s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;
    int rc = -1;

    if (!f)
        goto out;
    errno = 0;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    /* malloc(0) may give NULL; the target gets a valid pointer either way. */
    buf = malloc(size ? (size_t)size : 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
        goto out;
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "replay: %s: %s\n", path, errno ? strerror(errno) : "cannot read");
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

/* Every regular file of dir, in no particular order; how many, or -1. */
static long s_run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    long n = 0;
    char path[4096];

    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (s_run_file(path) != 0) {
            n = -1;
            break;
        }
        n++;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? s_run_dir(argv[i]) : s_run_file(argv[i]) == 0 ? 1 : -1;
        if (n < 0)
            return 1;
        if (n == 0) {
            fprintf(stderr, "replay: %s: no input to replay\n", argv[i]);
            return 1;
        }
        printf("replay: %s: %ld inputs, no crash\n", argv[i], n);
    }
    return 0;
}
