/*
 * anpr-migrate: bring the anprd database schema up to date from the versioned SQL files in a
 * directory (NNN_name.sql), documented in anpr-migrate(1).
 *
 * Each migration runs in its own transaction together with its row in
 * public.anpr_schema_version, so a migration is either applied and recorded, or not at all.
 * Every transaction takes the same advisory lock first and re-reads the bookkeeping table, so
 * two migrators started at once serialise and the second one skips what the first applied.
 *
 * Exit codes: 0 success, 1 migration/SQL/file error, 2 usage error, 3 database unreachable.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "cli.h"
#include "config.h"

#define S_PROG "anpr-migrate"

/* "anprmigr" as a big-endian int64: the advisory lock every migrator of any version takes. */
#define S_LOCK_SQL "SELECT pg_advisory_xact_lock(7020672505881388914)"

#define S_TABLE "public.anpr_schema_version"

enum {
    S_EXIT_OK = 0,
    S_EXIT_FAIL = 1,
    S_EXIT_USAGE = 2,
    S_EXIT_UNREACHABLE = 3,
};

struct s_migration {
    int version;
    char *file; /* e.g. "001_init.sql" */
    char *path; /* dir "/" file, for messages a user can open */
    char *name; /* e.g. "init" */
    char *text; /* the whole file, NUL-terminated */
    size_t len;
    char checksum[2 * 32 + 1]; /* SHA-256, lower-case hex */
    bool applied;              /* recorded in the bookkeeping table */
};

/* A row of the bookkeeping table. */
struct s_applied {
    int version;
    char *name;
    char *checksum;
    char *applied_at;
};

struct s_state {
    PGconn *conn;
    const char *current; /* file being applied, named in server notices */
    struct s_migration *migs;
    size_t nmigs;
    struct s_applied *applied;
    size_t napplied;
};

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: " S_PROG " [OPTION]...\n"
        "Apply the anprd schema migrations (NNN_name.sql) that the database lacks.\n"
        "\n"
        "  --db CONNINFO  libpq connection string or URI (default: PGHOST, PGPORT,\n"
        "                 PGDATABASE, PGUSER... from the environment)\n"
        "  --dir SQLDIR   folder of the migrations (default: $ANPR_SQLDIR, else\n"
        "                 " ANPR_DATADIR "/sql)\n"
        "  --status       list every migration as applied or pending; change nothing\n"
        "  --dry-run      say what would be applied; change nothing\n"
        "  --help         show this help\n"
        "  --version      show the version\n"
        "\n"
        "Exit status: 0 ok, 1 migration or SQL error, 2 usage error, 3 database unreachable.\n");
}

static void s_free_migrations(struct s_migration *migs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(migs[i].file);
        free(migs[i].path);
        free(migs[i].name);
        free(migs[i].text);
    }
    free(migs);
}

static void s_free_applied(struct s_applied *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].name);
        free(rows[i].checksum);
        free(rows[i].applied_at);
    }
    free(rows);
}

/* libpq messages end with a newline; ours add their own. */
static const char *s_chomp(char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    return msg;
}

static void s_pg_errmsg(PGconn *conn, char *buf, size_t len)
{
    snprintf(buf, len, "%s", PQerrorMessage(conn));
    s_chomp(buf);
}

/* Server notices (RAISE NOTICE in a migration, ...) are shown with the file they came from. */
static void s_notice(void *arg, const char *message)
{
    const struct s_state *st = arg;
    fprintf(stderr, S_PROG ": %s%s%s", st->current ? st->current : "", st->current ? ": " : "",
            message);
}

static double s_elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/*
 * Read a whole migration file. A NUL byte would silently cut the text PQexec sends, so it is
 * refused rather than half-applied.
 */
static int s_read_file(const char *path, char **text_out, size_t *len_out)
{
    int rc = -1;
    char *text = NULL;
    size_t len = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, S_PROG ": %s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 16384;
            char *grown = realloc(text, cap + 1);
            if (!grown) {
                fprintf(stderr, S_PROG ": %s: out of memory\n", path);
                goto cleanup;
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, S_PROG ": %s: %s\n", path, strerror(errno));
                goto cleanup;
            }
            break;
        }
    }
    text[len] = '\0';
    if (memchr(text, '\0', len)) {
        fprintf(stderr, S_PROG ": %s: contains a NUL byte; not an SQL text file\n", path);
        goto cleanup;
    }
    *text_out = text;
    *len_out = len;
    text = NULL;
    rc = 0;
cleanup:
    if (f)
        fclose(f);
    free(text);
    return rc;
}

static int s_sha256_hex(const char *data, size_t len, char out[2 * 32 + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/*
 * Classify a directory entry: 1 (version and name set) for a migration "NNN_name.sql", 0 for a
 * file to ignore (not .sql, or hidden such as an editor's lock file), -1 for a .sql file whose
 * name breaks the pattern: skipping that silently would leave a migration unapplied.
 */
static int s_parse_file_name(const char *file, int *version, char **name)
{
    size_t len = strlen(file);
    if (file[0] == '.' || len < 4 || strcmp(file + len - 4, ".sql") != 0)
        return 0;
    size_t digits = strspn(file, "0123456789");
    if (digits == 0 || digits > 9 || file[digits] != '_')
        return -1;
    const char *n = file + digits + 1;
    size_t nlen = len - 4 - (digits + 1);
    if (nlen == 0 ||
        strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") < nlen)
        return -1;
    long v = strtol(file, NULL, 10); /* at most 9 digits: cannot overflow */
    if (v < 1)
        return -1;
    *name = strndup(n, nlen);
    if (!*name)
        return -1;
    *version = (int)v;
    return 1;
}

static int s_cmp_migration(const void *a, const void *b)
{
    const struct s_migration *x = a, *y = b;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return strcmp(x->file, y->file);
}

/* Collect, order and load the migrations of `dir`; versions must run 1, 2, 3... */
static int s_scan_dir(const char *dir, struct s_migration **migs_out, size_t *n_out)
{
    int rc = -1;
    struct s_migration *migs = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, S_PROG ": migrations folder %s: %s\n", dir, strerror(errno));
        goto cleanup;
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        int version = 0;
        char *name = NULL;
        int kind = s_parse_file_name(de->d_name, &version, &name);
        if (kind == 0)
            continue;
        if (kind < 0) {
            fprintf(stderr,
                    S_PROG ": %s/%s: not a migration name (want NNN_name.sql: version digits, "
                           "'_', letters, digits, '_' or '-')\n",
                    dir, de->d_name);
            goto cleanup;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct s_migration *grown = realloc(migs, cap * sizeof(*migs));
            if (!grown) {
                free(name);
                fprintf(stderr, S_PROG ": out of memory\n");
                goto cleanup;
            }
            migs = grown;
        }
        struct s_migration *m = &migs[n++];
        memset(m, 0, sizeof(*m));
        m->version = version;
        m->name = name;
        m->file = strdup(de->d_name);
        if (!m->file || asprintf(&m->path, "%s/%s", dir, de->d_name) < 0) {
            m->path = NULL;
            fprintf(stderr, S_PROG ": out of memory\n");
            goto cleanup;
        }
    }
    if (errno != 0) {
        fprintf(stderr, S_PROG ": migrations folder %s: %s\n", dir, strerror(errno));
        goto cleanup;
    }
    if (n == 0) {
        fprintf(stderr, S_PROG ": no migrations (NNN_name.sql) in %s\n", dir);
        goto cleanup;
    }
    qsort(migs, n, sizeof(*migs), s_cmp_migration);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && migs[i].version == migs[i - 1].version) {
            fprintf(stderr, S_PROG ": %s: duplicate migration version %03d: %s and %s\n", dir,
                    migs[i].version, migs[i - 1].file, migs[i].file);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (migs[i].version == (int)i + 1)
            continue;
        if (i == 0)
            fprintf(stderr, S_PROG ": %s: migration 001 is missing (the first is %s)\n", dir,
                    migs[0].file);
        else
            fprintf(stderr, S_PROG ": %s: gap in versions: no migration %03zu between %s and %s\n",
                    dir, i + 1, migs[i - 1].file, migs[i].file);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (s_read_file(migs[i].path, &migs[i].text, &migs[i].len) < 0)
            goto cleanup;
        if (s_sha256_hex(migs[i].text, migs[i].len, migs[i].checksum) < 0) {
            fprintf(stderr, S_PROG ": %s: cannot compute SHA-256 (OpenSSL)\n", migs[i].path);
            goto cleanup;
        }
    }
    *migs_out = migs;
    *n_out = n;
    migs = NULL;
    n = 0;
    rc = 0;
cleanup:
    if (d)
        closedir(d);
    s_free_migrations(migs, n);
    return rc;
}

/*
 * Turn PostgreSQL's error position (1-based, in characters of the statement text) into a line
 * and column of the file. The connection uses UTF-8, so a character is a UTF-8 sequence: count
 * lead bytes only.
 */
static void s_position_to_line(const char *text, long pos, long *line, long *col)
{
    long chars = 0;
    *line = 1;
    *col = 1;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        if (++chars >= pos)
            return;
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/*
 * Print a failed result: "path:line:col: ERROR: message (SQLSTATE)" when the server gave a
 * position in `text`, then detail, hint, and context (where in a DO block or function).
 */
static void s_report_error(const PGresult *res, PGconn *conn, const char *where, const char *text)
{
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *position = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
    const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
    const char *iquery = PQresultErrorField(res, PG_DIAG_INTERNAL_QUERY);
    char buf[1024];

    if (!primary) {
        /* No server error: the connection broke, or libpq itself failed. */
        const char *msg = res ? PQresultErrorMessage(res) : "";
        snprintf(buf, sizeof(buf), "%s", msg && *msg ? msg : PQerrorMessage(conn));
        fprintf(stderr, S_PROG ": %s: %s\n", where, s_chomp(buf));
        return;
    }
    long pos = 0;
    if (position && text) {
        char *end = NULL;
        pos = strtol(position, &end, 10);
        if (!end || *end != '\0')
            pos = 0;
    }
    if (pos > 0) {
        long line, col;
        s_position_to_line(text, pos, &line, &col);
        fprintf(stderr, S_PROG ": %s:%ld:%ld: %s: %s", where, line, col,
                severity ? severity : "ERROR", primary);
    } else {
        fprintf(stderr, S_PROG ": %s: %s: %s", where, severity ? severity : "ERROR", primary);
    }
    fprintf(stderr, sqlstate ? " (SQLSTATE %s)\n" : "%s\n", sqlstate ? sqlstate : "");
    if (detail)
        fprintf(stderr, "  detail: %s\n", detail);
    if (hint)
        fprintf(stderr, "  hint: %s\n", hint);
    if (iquery)
        fprintf(stderr, "  in query: %s\n", iquery);
    if (context)
        fprintf(stderr, "  context: %s\n", context);
}

/* The database went away: later statements cannot tell anything more. */
static bool s_lost(PGconn *conn)
{
    return PQstatus(conn) == CONNECTION_BAD;
}

/* Run a statement without parameters that must succeed; reports and returns -1 otherwise. */
static int s_exec(PGconn *conn, const char *sql, const char *where)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc < 0)
        s_report_error(res, conn, where, NULL);
    PQclear(res);
    return rc;
}

/* Best effort after a failure: the transaction is dead anyway, and the error already said why. */
static void s_rollback(PGconn *conn)
{
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
}

static char *s_strdup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* Is the bookkeeping table there? 1 yes, 0 no, -1 error (reported). */
static int s_table_exists(PGconn *conn)
{
    PGresult *res = PQexec(conn, "SELECT to_regclass('" S_TABLE "') IS NOT NULL");
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        s_report_error(res, conn, S_TABLE, NULL);
        goto cleanup;
    }
    rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 : 0;
cleanup:
    PQclear(res);
    return rc;
}

/* Read every row of the bookkeeping table into st->applied (replacing what was there). */
static int s_load_applied(struct s_state *st)
{
    int rc = -1;
    PGresult *res =
        PQexec(st->conn, "SELECT version, coalesce(name, ''), coalesce(checksum, ''), "
                         "coalesce(to_char(applied_at AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD HH24:MI:SS \"UTC\"'), '') FROM " S_TABLE " ORDER BY version");
    struct s_applied *rows = NULL;
    size_t n = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_report_error(res, st->conn, S_TABLE, NULL);
        goto cleanup;
    }
    int ntuples = PQntuples(res);
    if (ntuples > 0) {
        rows = calloc((size_t)ntuples, sizeof(*rows));
        if (!rows) {
            fprintf(stderr, S_PROG ": out of memory\n");
            goto cleanup;
        }
    }
    for (int i = 0; i < ntuples; i++) {
        struct s_applied *r = &rows[n++];
        char *end = NULL;
        long v = strtol(PQgetvalue(res, i, 0), &end, 10);
        if (!end || *end != '\0' || v < INT_MIN || v > INT_MAX) {
            fprintf(stderr, S_PROG ": " S_TABLE ": bad version '%s'\n", PQgetvalue(res, i, 0));
            goto cleanup;
        }
        r->version = (int)v;
        r->name = s_strdup_or_empty(PQgetvalue(res, i, 1));
        r->checksum = s_strdup_or_empty(PQgetvalue(res, i, 2));
        r->applied_at = s_strdup_or_empty(PQgetvalue(res, i, 3));
        if (!r->name || !r->checksum || !r->applied_at) {
            fprintf(stderr, S_PROG ": out of memory\n");
            goto cleanup;
        }
    }
    s_free_applied(st->applied, st->napplied);
    st->applied = rows;
    st->napplied = n;
    rows = NULL;
    n = 0;
    rc = 0;
cleanup:
    s_free_applied(rows, n);
    PQclear(res);
    return rc;
}

static const struct s_applied *s_find_applied(const struct s_state *st, int version)
{
    for (size_t i = 0; i < st->napplied; i++)
        if (st->applied[i].version == version)
            return &st->applied[i];
    return NULL;
}

static int s_schema_version(const struct s_state *st)
{
    int v = 0;
    for (size_t i = 0; i < st->napplied; i++)
        if (st->applied[i].version > v)
            v = st->applied[i].version;
    return v;
}

static void s_report_changed(const struct s_migration *m, const char *db_checksum,
                             const char *applied_at)
{
    fprintf(stderr,
            S_PROG ": migration %03d changed since it was applied\n"
                   "  %s has sha256 %s\n"
                   "  the database recorded sha256 %s (applied %s)\n"
                   "  an applied migration must never be edited: add a new migration instead\n",
            m->version, m->path, m->checksum, db_checksum, applied_at);
}

/*
 * Compare the database's record with the files: an applied migration must be unchanged, every
 * applied version must still have its file, and nothing may be pending below an applied one
 * (it would run out of order). Marks migs[].applied. Reports every problem; -1 if any.
 */
static int s_verify(struct s_state *st, const char *dir)
{
    int rc = 0;
    int top = s_schema_version(st);
    for (size_t i = 0; i < st->nmigs; i++) {
        struct s_migration *m = &st->migs[i];
        const struct s_applied *a = s_find_applied(st, m->version);
        m->applied = a != NULL;
        if (a && strcmp(a->checksum, m->checksum) != 0) {
            s_report_changed(m, a->checksum, a->applied_at);
            rc = -1;
        } else if (!a && m->version < top) {
            fprintf(stderr,
                    S_PROG ": migration %03d (%s) is pending but %03d is already applied; "
                           "refusing to apply out of order\n",
                    m->version, m->file, top);
            rc = -1;
        }
    }
    for (size_t i = 0; i < st->napplied; i++) {
        const struct s_applied *a = &st->applied[i];
        if (a->version < 1 || (size_t)a->version > st->nmigs) {
            fprintf(stderr,
                    S_PROG ": the database has migration %03d (%s) but %s has no such file; "
                           "is this anpr-migrate or its SQL folder older than the database?\n",
                    a->version, a->name, dir);
            rc = -1;
        }
    }
    return rc;
}

/*
 * Create the bookkeeping table if missing and load it, under the lock so that two first runs
 * do not both try to create it.
 */
static int s_prepare(struct s_state *st)
{
    if (s_exec(st->conn, "BEGIN", "BEGIN") < 0 || s_exec(st->conn, S_LOCK_SQL, "advisory lock") < 0)
        goto fail;
    int exists = s_table_exists(st->conn);
    if (exists < 0)
        goto fail;
    if (!exists && s_exec(st->conn,
                          "CREATE TABLE " S_TABLE " ("
                          " version integer PRIMARY KEY,"
                          " name text,"
                          " applied_at timestamptz DEFAULT now(),"
                          " checksum text)",
                          "creating " S_TABLE) < 0)
        goto fail;
    if (s_load_applied(st) < 0 || s_exec(st->conn, "COMMIT", "COMMIT") < 0)
        goto fail;
    return 0;
fail:
    s_rollback(st->conn);
    return -1;
}

/*
 * Apply one migration: BEGIN, lock, make sure nobody applied it meanwhile, run the file (all its
 * statements in one simple query), record it, COMMIT. Returns 1 applied, 0 already applied by
 * someone else, -1 failed (reported, rolled back), -2 the file ended our transaction itself, so
 * part of it may be committed (reported).
 */
static int s_apply_one(struct s_state *st, struct s_migration *m)
{
    int rc = -1;
    PGresult *res = NULL;
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[3] = {version, m->name, m->checksum};

    if (s_exec(st->conn, "BEGIN", "BEGIN") < 0 || s_exec(st->conn, S_LOCK_SQL, "advisory lock") < 0)
        goto cleanup;

    res =
        PQexecParams(st->conn, "SELECT coalesce(checksum, '') FROM " S_TABLE " WHERE version = $1",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_report_error(res, st->conn, S_TABLE, NULL);
        goto cleanup;
    }
    if (PQntuples(res) > 0) {
        /* Another migrator got there first, between our check and our lock. */
        if (strcmp(PQgetvalue(res, 0, 0), m->checksum) != 0) {
            s_report_changed(m, PQgetvalue(res, 0, 0), "by another anpr-migrate just now");
            goto cleanup;
        }
        PQclear(res);
        res = NULL;
        if (s_exec(st->conn, "COMMIT", "COMMIT") < 0)
            goto cleanup;
        rc = 0;
        goto cleanup;
    }
    PQclear(res);

    st->current = m->file;
    res = PQexec(st->conn, m->text);
    st->current = NULL;
    ExecStatusType est = PQresultStatus(res);
    if (est != PGRES_COMMAND_OK && est != PGRES_TUPLES_OK && est != PGRES_EMPTY_QUERY) {
        s_report_error(res, st->conn, m->path, m->text);
        goto cleanup;
    }
    /* A COMMIT or ROLLBACK in the file would end our transaction and break all-or-nothing. */
    if (PQtransactionStatus(st->conn) != PQTRANS_INTRANS) {
        fprintf(stderr,
                S_PROG ": %s: the migration ended the transaction itself (COMMIT or ROLLBACK "
                       "in the file?); what it committed stays, but it is NOT recorded as "
                       "applied: remove the COMMIT, undo its effect by hand, and run again\n",
                m->path);
        rc = -2;
        goto cleanup;
    }
    PQclear(res);

    res = PQexecParams(st->conn,
                       "INSERT INTO " S_TABLE " (version, name, checksum) VALUES ($1, $2, $3)", 3,
                       NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        s_report_error(res, st->conn, S_TABLE, NULL);
        goto cleanup;
    }
    /* Deferred constraints fire at COMMIT, so a failure there belongs to the file too. */
    if (s_exec(st->conn, "COMMIT", m->path) < 0)
        goto cleanup;
    /* Settings a migration changed (search_path, role) must not leak into the next one. */
    if (s_exec(st->conn, "RESET ALL", "RESET ALL") < 0)
        goto cleanup;
    rc = 1;
cleanup:
    PQclear(res);
    if (rc == -1 && !s_lost(st->conn))
        s_rollback(st->conn);
    return rc;
}

static void s_print_status(const struct s_state *st)
{
    int top = s_schema_version(st);
    size_t pending = 0;
    printf("%-8s %-40s %s\n", "version", "file", "state");
    for (size_t i = 0; i < st->nmigs; i++) {
        const struct s_migration *m = &st->migs[i];
        const struct s_applied *a = s_find_applied(st, m->version);
        if (!a) {
            pending++;
            printf("%03d      %-40s pending\n", m->version, m->file);
        } else if (strcmp(a->checksum, m->checksum) != 0) {
            printf("%03d      %-40s CHANGED since applied %s\n", m->version, m->file,
                   a->applied_at);
        } else {
            printf("%03d      %-40s applied %s\n", m->version, m->file, a->applied_at);
        }
    }
    for (size_t i = 0; i < st->napplied; i++) {
        const struct s_applied *a = &st->applied[i];
        if (a->version < 1 || (size_t)a->version > st->nmigs)
            printf("%03d      %-40s applied %s, FILE MISSING\n", a->version, a->name,
                   a->applied_at);
    }
    printf(S_PROG ": schema at version %d, %zu migration(s) pending\n", top, pending);
}

/* Connect; on failure print libpq's reason (never the connection string) and return NULL. */
static PGconn *s_connect(const char *conninfo, struct s_state *st)
{
    /*
     * The string goes in as "dbname" with expand_dbname, so it may be a full conninfo, a URI or
     * just a database name. UTF-8 makes error positions countable in s_position_to_line().
     */
    const char *keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
    const char *values[] = {conninfo, S_PROG, "UTF8", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    char msg[1024];
    if (!conn) {
        fprintf(stderr, S_PROG ": cannot connect to the database: out of memory\n");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        s_pg_errmsg(conn, msg, sizeof(msg));
        fprintf(stderr, S_PROG ": cannot connect to the database: %s\n", msg);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, s_notice, st);
    return conn;
}

/*
 * A malformed connection string makes libpq quote the offending part in its message, which may
 * be a password: check it first and say only that it is malformed.
 */
static bool s_conninfo_ok(const char *conninfo)
{
    if (!strchr(conninfo, '=') && strncmp(conninfo, "postgres://", 11) != 0 &&
        strncmp(conninfo, "postgresql://", 13) != 0)
        return true; /* a plain database name */
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    if (!opts)
        return false;
    PQconninfoFree(opts);
    return true;
}

int main(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_DIR, OPT_STATUS, OPT_DRY_RUN, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"dir", required_argument, NULL, OPT_DIR},
        {"status", no_argument, NULL, OPT_STATUS},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    const char *conninfo = NULL;
    const char *dir = NULL;
    bool status = false, dry_run = false;
    int exit_code = S_EXIT_FAIL;
    struct s_state st = {0};

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_DB:
            conninfo = optarg;
            break;
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_STATUS:
            status = true;
            break;
        case OPT_DRY_RUN:
            dry_run = true;
            break;
        case OPT_HELP:
            s_usage(stdout);
            return S_EXIT_OK;
        case OPT_VERSION:
            printf(S_PROG " (anprd) %s\n", ANPR_VERSION);
            return S_EXIT_OK;
        default:
            /* Worded unlike cli_getopt_fail() (no quotes, "option ..."); kept as it was. */
            if (optopt >= OPT_DB)
                cli_usage_error(S_PROG, "option %s needs a value", argv[optind - 1]);
            else
                cli_usage_error(S_PROG, "unknown option %s", argv[optind - 1]);
            return S_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error(S_PROG, "unexpected argument %s", argv[optind]);
        return S_EXIT_USAGE;
    }
    if (status && dry_run) {
        fprintf(stderr, S_PROG ": --status and --dry-run do not go together\n");
        return S_EXIT_USAGE;
    }
    if (conninfo && !s_conninfo_ok(conninfo)) {
        fprintf(stderr, S_PROG ": --db: malformed connection string (not shown: it may hold a "
                               "password)\n");
        return S_EXIT_USAGE;
    }
    if (!dir) {
        const char *env = getenv("ANPR_SQLDIR");
        dir = env && *env ? env : ANPR_DATADIR "/sql";
    }

    /* Files first: a broken folder is reported without needing the database. */
    if (s_scan_dir(dir, &st.migs, &st.nmigs) < 0)
        goto cleanup;

    st.conn = s_connect(conninfo, &st);
    if (!st.conn) {
        exit_code = S_EXIT_UNREACHABLE;
        goto cleanup;
    }

    if (status || dry_run) {
        /* Read-only: do not even create the bookkeeping table. */
        int exists = s_table_exists(st.conn);
        if (exists < 0 || (exists && s_load_applied(&st) < 0))
            goto cleanup;
        if (status) {
            s_print_status(&st);
            exit_code = s_verify(&st, dir) < 0 ? S_EXIT_FAIL : S_EXIT_OK;
            goto cleanup;
        }
    } else if (s_prepare(&st) < 0) {
        goto cleanup;
    }
    if (s_verify(&st, dir) < 0)
        goto cleanup;

    int from = s_schema_version(&st);
    int applied = 0, version = from;
    for (size_t i = 0; i < st.nmigs; i++) {
        struct s_migration *m = &st.migs[i];
        if (m->applied)
            continue;
        if (dry_run) {
            printf(S_PROG ": would apply %s\n", m->file);
            applied++;
            version = m->version;
            continue;
        }
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = s_apply_one(&st, m);
        if (r < 0) {
            if (r == -1 && !s_lost(st.conn))
                fprintf(stderr,
                        S_PROG ": migration %03d failed and was rolled back; schema at version "
                               "%d\n",
                        m->version, version);
            else
                fprintf(stderr, S_PROG ": migration %03d failed; schema at version %d\n",
                        m->version, version);
            goto cleanup;
        }
        if (r > 0) {
            printf(S_PROG ": applied %s (%.0f ms)\n", m->file, s_elapsed_ms(&t0));
            applied++;
        } else {
            printf(S_PROG ": %s was applied meanwhile by another anpr-migrate\n", m->file);
        }
        m->applied = true;
        version = m->version;
    }
    if (applied == 0)
        printf(S_PROG ": already at version %d\n", version);
    else if (dry_run)
        printf(S_PROG ": dry run: would apply %d migration(s), schema would go from version %d to "
                      "%d\n",
               applied, from, version);
    else
        printf(S_PROG ": applied %d migration(s), schema at version %d\n", applied, version);
    exit_code = S_EXIT_OK;
cleanup:
    /* A connection lost halfway is "unreachable" too, whatever step noticed it. */
    if (st.conn && s_lost(st.conn) && exit_code != S_EXIT_OK)
        exit_code = S_EXIT_UNREACHABLE;
    if (st.conn)
        PQfinish(st.conn);
    s_free_applied(st.applied, st.napplied);
    s_free_migrations(st.migs, st.nmigs);
    return exit_code;
}
