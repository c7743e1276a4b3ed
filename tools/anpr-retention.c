/*
 * anpr-retention: remove what the law no longer lets anprd keep, documented in anpr-retention(1)
 * and docs/OPERATIONS.md ("Retention"). Run daily by systemd/anpr-retention.timer.
 *
 * The database does the work in one call, anpr.apply_retention (migration 017): it drops the
 * plate_read day partitions past the law's retention, deletes the HITs past their list's
 * retention with their aliases and acknowledgements and the audit rows past the audit's, logs
 * the run in anpr.retention_log and returns that row, which this tool prints. Then, for each
 * --spool directory, it deletes the segment files last written (mtime) before the same
 * cut-off: a segment holds reads (or HITs) at least as old as its last write, so every record
 * in it is past the retention too. The newest segment of a spool is what a running anprd
 * writes into: it is deleted only when the spool's lock can be taken, i.e. no anprd has the
 * spool open.
 *
 * A --spool directory that does not exist is said and skipped (the unit names both of anprd's
 * default spools; the backbone's is made only when the backbone is on).
 *
 * Exit codes: 0 done, 1 usage error, 2 database error (the spools are left alone), 3 a spool
 * could not be read or a segment not deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "util.h"

#define S_PROG "anpr-retention"

enum { S_EXIT_OK = 0, S_EXIT_USAGE = 1, S_EXIT_DATABASE = 2, S_EXIT_SPOOL = 3 };

/* A spool segment's name: 20 decimal digits and ".seg" (docs/SPOOL.md). */
#define S_SEG_DIGITS 20
#define S_MAX_SPOOLS 16

struct s_opts {
    const char *db; /* conninfo; NULL = libpq's environment (PGHOST, ...) */
    bool dry_run;
    const char *spools[S_MAX_SPOOLS];
    int nspools;
};

/* The columns of the run's row, in the order of S_QUERY. */
enum {
    C_ID,
    C_RAN_AT,
    C_RAN_BY,
    C_DAYS,
    C_AUDIT_DAYS,
    C_READS_BEFORE,
    C_HITS_BEFORE,
    C_AUDIT_BEFORE,
    C_CUT_S,
    C_NPARTS,
    C_PARTS,
    C_IDS,
    C_HITS,
    C_ALIASES,
    C_ACKS,
    C_CHANGES,
    C_RETRO_READS,
    C_RESULTS,
    C_SEARCH,
    C_RETRO,
    C_WL_AUDIT,
    C_LOG,
    C_COVERT_LOG,
    C_COVERT_READS,
    C_MS,
    C_COUNT
};

/* Times as UTC text; the cut-off of the spools in epoch seconds. */
static const char S_QUERY[] =
    "SELECT id, to_char(ran_at, 'YYYY-MM-DD HH24:MI:SS\"Z\"'), ran_by, retention_days, "
    "audit_retention_days, to_char(reads_before, 'YYYY-MM-DD'), "
    "to_char(hits_before, 'YYYY-MM-DD HH24:MI:SS\"Z\"'), "
    "to_char(audit_before, 'YYYY-MM-DD HH24:MI:SS\"Z\"'), "
    "floor(extract(epoch FROM hits_before))::bigint, cardinality(partitions_dropped), "
    "array_to_string(partitions_dropped, ' '), read_identities_deleted, hits_deleted, "
    "hit_aliases_deleted, hit_acks_deleted, watchlist_changes_deleted, retro_match_reads_deleted, "
    "search_results_deleted, search_audit_deleted, "
    "retro_match_log_deleted, watchlist_audit_deleted, retention_log_deleted, "
    "person_covert_log_deleted, covert_read_audit_deleted, "
    "round(duration_ms::numeric, 1) FROM anpr.apply_retention($1::boolean)";

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " S_PROG " [--dry-run] [--db CONNINFO] [--spool DIR]...\n"
            "Remove what the law no longer lets anprd keep, and say what went: the plate_read\n"
            "day partitions past the retention (anpr.law.retention_days), HITs past their\n"
            "list's retention with their aliases and acknowledgements, audit rows past\n"
            "anpr.law.audit_retention_days, and spool segments last written before the\n"
            "retention. Each run is logged in anpr.retention_log.\n"
            "\n"
            "  --dry-run       count what would go; remove nothing (the run is logged)\n"
            "  --db CONNINFO   libpq connection string (default: PGHOST, PGDATABASE, ...);\n"
            "                  the login must be in the role anpr_retention\n"
            "  --spool DIR     a spool directory of anprd (spool.dir, backbone.spool_dir);\n"
            "                  may be given up to %d times\n"
            "  --help          this help\n"
            "  --version       the version\n"
            "\n"
            "Exit status: 0 done, 1 usage error, 2 database error (no spool is touched),\n"
            "3 a spool could not be read or a segment not deleted.\n"
            "See anpr-retention(1) and docs/OPERATIONS.md.\n",
            S_MAX_SPOOLS);
}

static int s_parse(int argc, char **argv, struct s_opts *o)
{
    enum { OPT_DRY = 256, OPT_DB, OPT_SPOOL, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, OPT_DRY},       {"db", required_argument, NULL, OPT_DB},
        {"spool", required_argument, NULL, OPT_SPOOL}, {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},   {NULL, 0, NULL, 0},
    };

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_DRY:
            o->dry_run = true;
            break;
        case OPT_DB:
            o->db = optarg;
            break;
        case OPT_SPOOL:
            if (!optarg[0])
                return cli_bad_value(S_PROG, "--spool", optarg, "a directory");
            if (o->nspools == S_MAX_SPOOLS)
                return cli_usage_error(S_PROG, "--spool: at most %d directories", S_MAX_SPOOLS);
            o->spools[o->nspools++] = optarg;
            break;
        case OPT_HELP:
            s_usage(stdout);
            exit(S_EXIT_OK);
        case OPT_VERSION:
            printf(S_PROG " (anprd) %s\n", ANPR_VERSION);
            exit(S_EXIT_OK);
        default:
            return cli_getopt_fail(S_PROG, c, argc, argv);
        }
    }
    return cli_no_operands(S_PROG, argc, argv);
}

/* One line of the report: what, how many, and an optional detail. */
static void s_line(const char *what, const char *n, const char *detail)
{
    if (!*n) {
        printf("  %s\n", what);
        return;
    }
    printf("  %-26s %8s%s%s\n", what, n, detail && *detail ? "  " : "", detail ? detail : "");
}

/* The run's row, printed. */
static void s_report(const PGresult *res, bool dry_run)
{
    char detail[160];
    const char *v[C_COUNT];

    for (int i = 0; i < C_COUNT; i++)
        v[i] = PQgetvalue(res, 0, i);
    printf("retention run %s at %s by %s%s\n", v[C_ID], v[C_RAN_AT], cli_text(v[C_RAN_BY]),
           dry_run ? " (dry run: nothing removed)" : "");
    s_line("kept", "days", "cut-off");
    snprintf(detail, sizeof detail, "the days before %s (UTC)", v[C_READS_BEFORE]);
    s_line("reads", v[C_DAYS], detail);
    snprintf(detail, sizeof detail, "read before %s, or their list's shorter retention",
             v[C_HITS_BEFORE]);
    s_line("HITs", v[C_DAYS], detail);
    snprintf(detail, sizeof detail, "before %s", v[C_AUDIT_BEFORE]);
    s_line("audit", v[C_AUDIT_DAYS], detail);
    s_line(dry_run ? "would remove" : "removed", "", NULL);
    s_line("plate_read partitions", v[C_NPARTS], cli_text(v[C_PARTS]));
    s_line("read identities", v[C_IDS], NULL);
    s_line("HITs", v[C_HITS], NULL);
    s_line("HIT aliases", v[C_ALIASES], NULL);
    s_line("HIT acknowledgements", v[C_ACKS], NULL);
    s_line("watchlist changes", v[C_CHANGES], NULL);
    s_line("retro-match reads", v[C_RETRO_READS], NULL);
    s_line("search results", v[C_RESULTS], NULL);
    s_line("search audit rows", v[C_SEARCH], NULL);
    s_line("retro-match log rows", v[C_RETRO], NULL);
    s_line("watchlist audit rows", v[C_WL_AUDIT], NULL);
    s_line("retention log rows", v[C_LOG], NULL);
    s_line("covert clearance log rows", v[C_COVERT_LOG], NULL);
    s_line("covert catch-up audit rows", v[C_COVERT_READS], NULL);
    printf("  (in the database: %s ms)\n", v[C_MS]);
}

/* Call anpr.apply_retention and print its row; *cut_s gets the spools' cut-off (epoch
 * seconds). An exit code. */
static int s_database(const struct s_opts *o, int64_t *cut_s)
{
    struct db_error err;
    const char *params[1] = {o->dry_run ? "true" : "false"};
    PGresult *res = NULL;
    long long cut = 0;
    int rc = S_EXIT_DATABASE;
    PGconn *conn = db_connect(o->db ? o->db : "", S_PROG, &err);

    if (!conn) {
        fprintf(stderr, S_PROG ": database: %s\n", cli_text(err.msg));
        return S_EXIT_DATABASE;
    }
    res = PQexecParams(conn, S_QUERY, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, S_PROG ": anpr.apply_retention: %s",
                cli_text_nl(PQresultErrorMessage(res)));
        goto out;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != C_COUNT ||
        util_parse_long(PQgetvalue(res, 0, C_CUT_S), 0, INT64_MAX, &cut) != 0) {
        fprintf(stderr, S_PROG ": anpr.apply_retention: unexpected answer\n");
        goto out;
    }
    s_report(res, o->dry_run);
    *cut_s = cut;
    rc = S_EXIT_OK;
out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* A segment file found in a spool. */
struct s_seg {
    char name[S_SEG_DIGITS + 5];
    time_t mtime;
    off_t size;
};

static int s_seg_cmp(const void *a, const void *b)
{
    return strcmp(((const struct s_seg *)a)->name, ((const struct s_seg *)b)->name);
}

static bool s_is_segment(const char *name)
{
    return strlen(name) == S_SEG_DIGITS + 4 && strcmp(name + S_SEG_DIGITS, ".seg") == 0 &&
           strspn(name, "0123456789") == S_SEG_DIGITS;
}

/* The segments of dir into *out (n of them, by name: by position), with their mtime. 0, or -1
 * (reported). */
static int s_list(const char *dir, struct s_seg **out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (!d) {
        fprintf(stderr, S_PROG ": %s: %s\n", cli_text(dir), strerror(errno));
        return -1;
    }
    while ((errno = 0, e = readdir(d)) != NULL) {
        struct stat st;
        if (!s_is_segment(e->d_name))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue; /* the daemon removed it, consumed */
            fprintf(stderr, S_PROG ": %s/%s: %s\n", cli_text(dir), e->d_name, strerror(errno));
            goto fail;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct s_seg *p = realloc(*out, ncap * sizeof *p);
            if (!p) {
                fprintf(stderr, S_PROG ": out of memory\n");
                goto fail;
            }
            *out = p;
            cap = ncap;
        }
        /* s_is_segment checked the length: it fits with its NUL. */
        memcpy((*out)[*n].name, e->d_name, sizeof(*out)[*n].name);
        (*out)[*n].mtime = st.st_mtime;
        (*out)[*n].size = st.st_size;
        (*n)++;
    }
    if (errno != 0) {
        fprintf(stderr, S_PROG ": %s: %s\n", cli_text(dir), strerror(errno));
        goto fail;
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, s_seg_cmp);
    return 0;
fail:
    closedir(d);
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}

/*
 * Delete (or, dry, list) the segments of dir last written before cut_s: every such segment but
 * the newest of a spool an anprd has open, which the daemon may be writing into. An exit code.
 */
static int s_spool(const char *dir, bool dry_run, int64_t cut_s, uint64_t *nseg, uint64_t *bytes,
                   bool *missing)
{
    char path[4096];
    struct s_seg *segs = NULL;
    size_t n = 0;
    int rc = S_EXIT_OK, lock = -1;
    bool in_use = false;
    struct stat st;

    /* A spool anprd never made (the backbone's, with the backbone off) holds nothing. */
    *missing = stat(dir, &st) != 0 && errno == ENOENT;
    if (*missing)
        return S_EXIT_OK;
    if (s_list(dir, &segs, &n) != 0) {
        rc = S_EXIT_SPOOL;
        goto out;
    }
    /*
     * Only the newest segment may be in a running anprd's hands (it writes into it; the older
     * ones it only deletes once consumed). When that one is past the cut-off too, take the
     * spool's lock to know no anprd has it open, and look again under it. The lock is held
     * for as short a time as possible: an anprd starting meanwhile finds it taken and fails
     * (systemd starts it again).
     */
    if (n > 0 && (int64_t)segs[n - 1].mtime < cut_s) {
        snprintf(path, sizeof path, "%s/lock", dir);
        lock = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK) {
                fprintf(stderr, S_PROG ": %s: %s\n", cli_text(path), strerror(errno));
                rc = S_EXIT_SPOOL;
                goto out;
            }
            in_use = true;
        } else if (lock < 0 && errno != ENOENT) {
            fprintf(stderr, S_PROG ": %s: %s\n", cli_text(path), strerror(errno));
            rc = S_EXIT_SPOOL;
            goto out;
        } else {
            free(segs);
            if (s_list(dir, &segs, &n) != 0) {
                rc = S_EXIT_SPOOL;
                goto out;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct s_seg *s = &segs[i];
        char when[32];
        struct tm tm;
        if ((int64_t)s->mtime >= cut_s)
            continue;
        gmtime_r(&s->mtime, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
        if (in_use && i == n - 1) {
            printf("  kept %s/%s (last written %s): anprd has the spool open and may still "
                   "write to its newest segment; stop it, or run again later\n",
                   cli_text(dir), s->name, when);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, s->name);
        if (!dry_run && unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, S_PROG ": %s: cannot delete: %s\n", cli_text(path), strerror(errno));
            rc = S_EXIT_SPOOL;
            continue;
        }
        printf("  %s %s (last written %s, %lld bytes)\n", dry_run ? "would delete" : "deleted",
               cli_text(path), when, (long long)s->size);
        (*nseg)++;
        *bytes += (uint64_t)s->size;
    }
    /* The damaged bytes the spool set aside (quarantine-*.bin, docs/SPOOL.md) are reads too:
     * past the retention they go like the segments (anprd never writes to one again). */
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        char when[32];
        struct tm tm;
        if (len < 16 || len > 64 || strncmp(e->d_name, "quarantine-", 11) != 0 ||
            strcmp(e->d_name + len - 4, ".bin") != 0 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            (int64_t)st.st_mtime >= cut_s)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!dry_run && unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, S_PROG ": %s: cannot delete: %s\n", cli_text(path), strerror(errno));
            rc = S_EXIT_SPOOL;
            continue;
        }
        gmtime_r(&st.st_mtime, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
        printf("  %s %s (set aside %s, %lld bytes)\n", dry_run ? "would delete" : "deleted",
               cli_text(path), when, (long long)st.st_size);
        (*nseg)++;
        *bytes += (uint64_t)st.st_size;
    }
    if (d)
        closedir(d);
    /* The deletions are directory entries: make them durable before saying they happened. */
    if (!dry_run && *nseg > 0) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
out:
    free(segs);
    if (lock >= 0)
        close(lock); /* releases the lock */
    return rc;
}

int main(int argc, char **argv)
{
    struct s_opts o = {0};
    int64_t cut_s = 0;
    int rc;

    if (s_parse(argc, argv, &o) != 0)
        return S_EXIT_USAGE;
    rc = s_database(&o, &cut_s);
    if (rc != S_EXIT_OK)
        return rc;
    for (int i = 0; i < o.nspools; i++) {
        uint64_t nseg = 0, bytes = 0;
        char n[24], detail[4200];
        bool missing = false;
        int r = s_spool(o.spools[i], o.dry_run, cut_s, &nseg, &bytes, &missing);
        if (r != S_EXIT_OK)
            rc = r;
        snprintf(n, sizeof n, "%" PRIu64, nseg);
        if (missing)
            snprintf(detail, sizeof detail, "%s: no such directory, nothing to delete",
                     cli_text(o.spools[i]));
        else
            snprintf(detail, sizeof detail, "%s (%" PRIu64 " bytes)%s", cli_text(o.spools[i]),
                     bytes, r != S_EXIT_OK ? ", with errors (above)" : "");
        s_line("spool segments", n, detail);
    }
    return rc;
}
