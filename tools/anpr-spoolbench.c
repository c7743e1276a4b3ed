/*
 * anpr-spoolbench: how fast the spool makes reads durable. One producer thread appends N
 * records with a group commit every X ms or Y records, while a consumer thread reads them and
 * checkpoints, as the PostgreSQL writer will. The same run measures two baselines on the same
 * disk: the same writes without any fsync (the ceiling) and one fsync per record (what a
 * naive durable queue does). One line per variant.
 *
 * Latency is append -> durable (spool_commit returned), per record.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

#define S_PROG "anpr-spoolbench"

struct s_args {
    uint64_t records;    /* per variant (the fsync-per-record one: per_record) */
    uint64_t per_record; /* records of the one-fsync-per-record variant */
    size_t size;         /* payload bytes */
    int interval_ms;     /* group commit at most this long after the group's first record */
    uint64_t group;      /* ... or at this many records */
    double rate;         /* appends per second, 0 = as fast as possible */
    const char *dir;     /* parent of the scratch spools */
    const char *only;    /* run one variant */
};

struct s_consumer {
    spool_t *sp;
    uint64_t want; /* records to read */
    uint64_t got;
    uint64_t checkpoints;
    int failed;
};

static int64_t s_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *s_consume(void *arg)
{
    struct s_consumer *c = arg;
    char err[512];
    const void *data;
    size_t len;
    uint64_t pos = 0, last = 0;
    spool_cursor_t *cur = spool_cursor_new(c->sp, 0, err, sizeof err);

    if (!cur) {
        c->failed = 1;
        return NULL;
    }
    while (c->got < c->want) {
        int rc = spool_read(cur, &data, &len, &pos, NULL, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, S_PROG ": %s\n", err);
            c->failed = 1;
            break;
        }
        if (rc == 1) {
            c->got++;
            last = pos;
            if (c->got % 4096 != 0)
                continue; /* a checkpoint per batch, as the writer would after a COPY */
        }
        if (last > spool_checkpointed(c->sp)) {
            if (spool_checkpoint(c->sp, last, err, sizeof err) != SPOOL_OK) {
                fprintf(stderr, S_PROG ": %s\n", err);
                c->failed = 1;
                break;
            }
            c->checkpoints++;
        }
        if (rc == 0)
            spool_wait(c->sp, last, 100);
    }
    spool_cursor_destroy(&cur);
    return NULL;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Runs one variant; 0 or -1. */
static int s_run(const struct s_args *a, const char *name, bool sync, uint64_t n, uint64_t group,
                 int interval_ms)
{
    char dir[4096], err[512];
    struct spool_opts o = {.max_bytes = UINT64_MAX, .unsafe_no_sync = !sync};
    int64_t *appended = malloc(n * sizeof *appended);
    int64_t *lat = malloc(n * sizeof *lat);
    uint8_t *payload = calloc(1, a->size ? a->size : 1);
    spool_t *sp = NULL;
    pthread_t th;
    bool started = false;
    int rc = -1;

    snprintf(dir, sizeof dir, "%s/" S_PROG ".XXXXXX", a->dir);
    if (!appended || !lat || !payload || !mkdtemp(dir)) {
        fprintf(stderr, S_PROG ": %s: %s\n", a->dir, strerror(errno));
        goto out;
    }
    strncat(dir, "/spool", sizeof dir - strlen(dir) - 1);
    sp = spool_open(dir, &o, NULL, err, sizeof err);
    if (!sp) {
        fprintf(stderr, S_PROG ": %s\n", err);
        goto out;
    }
    struct s_consumer c = {.sp = sp, .want = n};
    if (pthread_create(&th, NULL, s_consume, &c) != 0)
        goto out;
    started = true;

    int64_t t0 = s_ns(), group_start = 0;
    uint64_t pending_from = 0; /* first record of the open group */
    uint64_t pos, durable;
    for (uint64_t i = 0; i <= n; i++) {
        int64_t now = s_ns();
        if (a->rate > 0 && i < n) {
            int64_t due = t0 + (int64_t)((double)i * 1e9 / a->rate);
            while ((now = s_ns()) < due) {
                if (i > pending_from && now - group_start >= (int64_t)interval_ms * 1000000)
                    break;
                struct timespec ts = {0, due - now > 200000 ? 200000 : due - now};
                nanosleep(&ts, NULL);
            }
        }
        bool due_commit =
            i == n || (i > pending_from && (i - pending_from >= group ||
                                            now - group_start >= (int64_t)interval_ms * 1000000));
        if (due_commit && i > pending_from) {
            if (spool_commit(sp, &durable, err, sizeof err) != SPOOL_OK) {
                fprintf(stderr, S_PROG ": %s\n", err);
                goto out;
            }
            int64_t done = s_ns();
            for (uint64_t k = pending_from; k < i; k++)
                lat[k] = done - appended[k];
            pending_from = i;
        }
        if (i == n)
            break;
        memcpy(payload, &i, a->size < sizeof i ? a->size : sizeof i);
        appended[i] = s_ns();
        if (i == pending_from)
            group_start = appended[i];
        if (spool_append(sp, payload, a->size, &pos) != SPOOL_OK) {
            fprintf(stderr, S_PROG ": append: %s\n", strerror(errno));
            goto out;
        }
    }
    int64_t t_durable = s_ns();
    pthread_join(th, NULL);
    started = false;
    int64_t t_consumed = s_ns();
    if (c.failed || c.got != n)
        goto out;

    struct spool_stats st;
    spool_stats(sp, &st);
    qsort(lat, n, sizeof *lat, s_cmp_i64);
    double secs = (double)(t_durable - t0) / 1e9;
    printf("%-10s records=%" PRIu64 " size=%zu commit=%" PRIu64 "rec/%dms records/s=%.0f "
           "p50_us=%.1f p99_us=%.1f fsyncs/s=%.0f commits=%" PRIu64 " consumed_in_s=%.3f "
           "checkpoints=%" PRIu64 "\n",
           name, n, a->size, group, interval_ms, (double)n / secs, (double)lat[n / 2] / 1e3,
           (double)lat[n * 99 / 100] / 1e3, (double)st.fsyncs / secs, st.commits,
           (double)(t_consumed - t0) / 1e9, c.checkpoints);
    fflush(stdout);
    rc = 0;
out:
    if (started) {
        c.want = 0; /* let it stop */
        spool_wake(sp);
        pthread_join(th, NULL);
    }
    spool_destroy(&sp);
    if (dir[0]) {
        char *slash = strrchr(dir, '/');
        if (slash && strcmp(slash, "/spool") == 0)
            *slash = '\0';
        nftw(dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(appended);
    free(lat);
    free(payload);
    return rc;
}

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " S_PROG " [OPTION]...\n"
                 "Measure the spool: group commit, against no fsync and one fsync per record.\n"
                 "\n"
                 "  --records N       records per variant (default 200000)\n"
                 "  --per-record N    records of the fsync-per-record variant (default 2000)\n"
                 "  --size BYTES      payload size (default 200)\n"
                 "  --interval-ms X   group commit at most X ms after a group's first record "
                 "(default 2)\n"
                 "  --group Y         ... or at Y records (default 1000)\n"
                 "  --rate R          appends per second (default 0: as fast as possible)\n"
                 "  --dir DIR         where the scratch spools go (default /var/tmp)\n"
                 "  --variant NAME    only group, nofsync or per-record\n"
                 "  --help            this help\n");
}

static int s_num(const char *opt, const char *v, long long min, long long max, long long *out)
{
    if (util_parse_long(v, min, max, out) < 0) {
        fprintf(stderr, S_PROG ": %s: expected a number in [%lld, %lld], got '%s'\n", opt, min, max,
                v);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"records", required_argument, NULL, 'n'}, {"per-record", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},    {"interval-ms", required_argument, NULL, 'x'},
        {"group", required_argument, NULL, 'y'},   {"rate", required_argument, NULL, 'r'},
        {"dir", required_argument, NULL, 'd'},     {"variant", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct s_args a = {.records = 200000,
                       .per_record = 2000,
                       .size = 200,
                       .interval_ms = 2,
                       .group = 1000,
                       .dir = "/var/tmp"};
    long long v;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
        case 'p':
        case 's':
        case 'x':
        case 'y':
        case 'r':
            if (s_num(argv[optind - 1], optarg, c == 'r' || c == 'x' ? 0 : 1,
                      c == 's' ? 65536 : 1000000000, &v) < 0)
                return 2;
            if (c == 'n')
                a.records = (uint64_t)v;
            else if (c == 'p')
                a.per_record = (uint64_t)v;
            else if (c == 's')
                a.size = (size_t)v;
            else if (c == 'x')
                a.interval_ms = (int)v;
            else if (c == 'y')
                a.group = (uint64_t)v;
            else
                a.rate = (double)v;
            break;
        case 'd':
            a.dir = optarg;
            break;
        case 'v':
            a.only = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "Try '" S_PROG " --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, S_PROG ": unexpected argument '%s'\nTry '" S_PROG " --help'.\n",
                argv[optind]);
        return 2;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("# %s: %ld CPUs, spools under %s, append -> durable latency\n", S_PROG, cpus, a.dir);
    int rc = 0;
    if (!a.only || strcmp(a.only, "group") == 0)
        rc |= s_run(&a, "group", true, a.records, a.group, a.interval_ms);
    if (!a.only || strcmp(a.only, "nofsync") == 0)
        rc |= s_run(&a, "nofsync", false, a.records, a.group, a.interval_ms);
    if (!a.only || strcmp(a.only, "per-record") == 0)
        rc |= s_run(&a, "per-record", true, a.per_record, 1, 0);
    return rc ? 1 : 0;
}
