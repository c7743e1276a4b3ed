#include "db.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define READ_COLUMNS                                                                               \
    "read_time, camera_id, seq, plate, plate_raw, country, confidence, lane, direction, "          \
    "latitude, longitude, image_ref, candidates, cand_conf, received_at"
#define HIT_COLUMNS                                                                                \
    "camera_id, seq, read_time, plate, entry_id, list_id, priority, category, match_kind"

/* Rows fetched per round trip when loading a large watchlist. */
#define DB_FETCH_ROWS "50000"

static void s_err(char *err, size_t errlen, const char *what, PGconn *conn, const PGresult *res)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t n;

    snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
    /* libpq's messages span lines; a log line must not. */
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    n = strlen(err);
    while (n > 0 && err[n - 1] == ' ')
        err[--n] = '\0';
}

/* Run a command that returns no rows; 0 or -1 with err. */
static int s_exec(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, errlen, what, conn, res);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

PGconn *db_connect(const char *conninfo, char *err, size_t errlen)
{
    /* Later keywords override earlier ones, so the operator's conninfo wins except for the
     * application name, which identifies our sessions in pg_stat_activity. */
    const char *keys[] = {"connect_timeout", "dbname", "application_name", NULL};
    const char *vals[] = {"5", conninfo, "anprd", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);

    if (!conn) {
        snprintf(err, errlen, "connect: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        s_err(err, errlen, "connect", conn, NULL);
        PQfinish(conn);
        return NULL;
    }
    /* Times in UTC whatever the server's default. */
    if (s_exec(conn, "SET TIME ZONE 'UTC'", "set time zone", err, errlen) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int db_load_cameras(PGconn *conn, cam_table_t **out, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT code, id FROM anpr.camera WHERE enabled");
    cam_table_t *cams = NULL;
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, errlen, "load cameras", conn, res);
        goto out;
    }
    cams = cam_table_new((size_t)PQntuples(res));
    if (!cams) {
        snprintf(err, errlen, "load cameras: out of memory");
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        long long id;
        if (util_parse_long(PQgetvalue(res, i, 1), 1, INT32_MAX, &id) != 0 ||
            cam_table_add(cams, PQgetvalue(res, i, 0), (int32_t)id) != 0)
            log_warn("db", "camera %s skipped: bad code or id", PQgetvalue(res, i, 0));
    }
    *out = cams;
    cams = NULL;
    rc = 0;
out:
    cam_table_destroy(&cams);
    PQclear(res);
    return rc;
}

static int s_load_lists(PGconn *conn, wl_builder_t *b, char *err, size_t errlen)
{
    PGresult *res =
        PQexec(conn, "SELECT id, name, category, priority FROM anpr.watchlist WHERE enabled");
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, errlen, "load watchlists", conn, res);
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        long long id, prio;
        char why[256];
        if (util_parse_long(PQgetvalue(res, i, 0), 1, UINT32_MAX, &id) != 0 ||
            util_parse_long(PQgetvalue(res, i, 3), 1, 9, &prio) != 0) {
            log_warn("db", "watchlist %s skipped: bad id or priority", PQgetvalue(res, i, 1));
            continue;
        }
        if (wl_builder_add_list(b, (uint32_t)id, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                                (uint8_t)prio, why, sizeof why) != 0)
            log_warn("db", "watchlist %lld skipped: %s", id, why);
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* µs since the epoch of a column holding extract(epoch ...) * 1e6, or dflt when NULL. */
static int64_t s_time_col(const PGresult *res, int row, int col, int64_t dflt)
{
    long long v;

    if (PQgetisnull(res, row, col) || util_parse_long(PQgetvalue(res, row, col), INT64_MIN + 1,
                                                      INT64_MAX - 1, &v) != 0)
        return dflt;
    return v;
}

static void s_add_entries(wl_builder_t *b, const PGresult *res, size_t *skipped)
{
    for (int i = 0; i < PQntuples(res); i++) {
        struct wl_entry_in in;
        long long id, list;
        char why[256];

        if (util_parse_long(PQgetvalue(res, i, 0), 1, INT64_MAX, &id) != 0 ||
            util_parse_long(PQgetvalue(res, i, 1), 1, UINT32_MAX, &list) != 0) {
            (*skipped)++;
            continue;
        }
        in.id = (uint64_t)id;
        in.list_id = (uint32_t)list;
        in.plate = PQgetvalue(res, i, 2);
        in.country = PQgetvalue(res, i, 3);
        in.valid_from_us = s_time_col(res, i, 4, WL_UNBOUNDED_FROM);
        in.valid_until_us = s_time_col(res, i, 5, WL_UNBOUNDED_UNTIL);
        in.instruction = PQgetvalue(res, i, 6);
        in.external_ref = PQgetvalue(res, i, 7);
        if (wl_builder_add(b, &in, why, sizeof why) != 0) {
            (*skipped)++;
            /* One line per bad entry: admins need each one to fix it. */
            log_warn("db", "watchlist entry %lld skipped: %s", id, why);
        }
    }
}

int db_load_watchlist(PGconn *conn, wl_t **out, size_t *skipped, char *err, size_t errlen)
{
    wl_builder_t *b = wl_builder_new();
    PGresult *res = NULL;
    bool in_tx = false;
    int rc = -1;

    *skipped = 0;
    if (!b) {
        snprintf(err, errlen, "load watchlist: out of memory");
        return -1;
    }
    /* One snapshot of lists and entries: both read in one repeatable-read transaction. */
    if (s_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "load watchlist", err,
               errlen) != 0)
        goto out;
    in_tx = true;
    if (s_load_lists(conn, b, err, errlen) != 0)
        goto out;
    /* A cursor keeps a 10 M-entry list from being held twice in memory (libpq and snapshot). */
    if (s_exec(conn,
               "DECLARE wl_cur NO SCROLL CURSOR FOR "
               "SELECT e.id, e.list_id, e.plate, e.country, "
               "(extract(epoch FROM e.valid_from) * 1000000)::bigint, "
               "(extract(epoch FROM e.valid_until) * 1000000)::bigint, "
               "e.instruction, e.external_ref "
               "FROM anpr.watchlist_entry e JOIN anpr.watchlist w ON w.id = e.list_id "
               "WHERE w.enabled AND (e.valid_until IS NULL OR e.valid_until > now())",
               "load watchlist entries", err, errlen) != 0)
        goto out;
    for (;;) {
        res = PQexec(conn, "FETCH " DB_FETCH_ROWS " FROM wl_cur");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            s_err(err, errlen, "load watchlist entries", conn, res);
            goto out;
        }
        if (PQntuples(res) == 0)
            break;
        s_add_entries(b, res, skipped);
        PQclear(res);
        res = NULL;
    }
    if (s_exec(conn, "COMMIT", "load watchlist", err, errlen) != 0)
        goto out;
    in_tx = false;
    *out = wl_builder_build(&b);
    if (!*out) {
        snprintf(err, errlen, "load watchlist: out of memory");
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    if (in_tx)
        PQclear(PQexec(conn, "ROLLBACK"));
    wl_builder_destroy(&b);
    return rc;
}

int db_ensure_partitions(PGconn *conn, int32_t first, int32_t last, char *err, size_t errlen)
{
    char a[16], b[16];
    const char *params[2] = {a, b};
    PGresult *res;
    int rc = 0;

    /* Day numbers go in as integers and PostgreSQL turns them into dates. */
    snprintf(a, sizeof a, "%" PRId32, first);
    snprintf(b, sizeof b, "%" PRId32, last);
    res = PQexecParams(conn,
                       "SELECT anpr.ensure_partitions(date '1970-01-01' + $1::integer, "
                       "date '1970-01-01' + $2::integer)",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, errlen, "ensure partitions", conn, res);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

int db_prepare_writer(PGconn *conn, char *err, size_t errlen)
{
    /* Staging tables for the de-duplicating path; temporary, so they cost nothing unused. */
    return s_exec(conn,
                  "CREATE TEMP TABLE stage_read ("
                  "read_time timestamptz, camera_id integer, seq bigint, plate text, "
                  "plate_raw text, country text, confidence smallint, lane smallint, "
                  "direction smallint, latitude double precision, longitude double precision, "
                  "image_ref text, candidates text[], cand_conf smallint[], "
                  "received_at timestamptz) ON COMMIT DELETE ROWS;"
                  "CREATE TEMP TABLE stage_hit ("
                  "camera_id integer, seq bigint, read_time timestamptz, plate text, "
                  "entry_id bigint, list_id integer, priority smallint, category text, "
                  "match_kind smallint) ON COMMIT DELETE ROWS",
                  "prepare writer", err, errlen);
}

/* COPY buf into table; 0, or -1 with err. *unique set when a row was there already. */
static int s_copy(PGconn *conn, const char *sql, const struct batch_buf *buf, bool *unique,
                  char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    int rc = -1;

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        s_err(err, errlen, "copy", conn, res);
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (PQputCopyData(conn, buf->data, (int)buf->len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
        s_err(err, errlen, "copy", conn, NULL);
        /* Drain the results so the connection is usable (or visibly dead). */
        while ((res = PQgetResult(conn)) != NULL)
            PQclear(res);
        goto out;
    }
    res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (unique && state && strcmp(state, "23505") == 0)
            *unique = true;
        s_err(err, errlen, "copy", conn, res);
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    /* A COPY ends with exactly one result; anything else is a protocol problem. */
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    return rc;
}

/* Run an INSERT ... SELECT and return the rows it inserted, or -1 with err. */
static long long s_insert(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    long long n = -1;

    if (PQresultStatus(res) != PGRES_COMMAND_OK ||
        util_parse_long(PQcmdTuples(res), 0, INT64_MAX, &n) != 0) {
        s_err(err, errlen, "insert", conn, res);
        n = -1;
    }
    PQclear(res);
    return n;
}

static void s_rollback(PGconn *conn)
{
    if (PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
}

/* The common case: nothing in the batch is stored yet, so COPY straight into the tables. */
static int s_write_fast(PGconn *conn, struct batch *batch, bool *unique, char *err, size_t errlen)
{
    if (s_exec(conn, "BEGIN", "begin", err, errlen) != 0)
        return -1;
    if (s_copy(conn, "COPY anpr.plate_read (" READ_COLUMNS ") FROM STDIN", &batch->reads, unique,
               err, errlen) != 0)
        goto fail;
    if (batch->nhits > 0 && s_copy(conn, "COPY anpr.hits (" HIT_COLUMNS ") FROM STDIN",
                                   &batch->hits, unique, err, errlen) != 0)
        goto fail;
    if (s_exec(conn, "COMMIT", "commit", err, errlen) != 0)
        return -1;
    batch->stored = batch->nreads;
    batch->hits_stored = batch->nhits;
    batch->committed = true;
    return 0;
fail:
    s_rollback(conn);
    return -1;
}

/* Some rows were stored before (resends): stage, then insert what is new. */
static int s_write_slow(PGconn *conn, struct batch *batch, char *err, size_t errlen)
{
    long long reads, hits = 0;

    if (s_exec(conn, "BEGIN", "begin", err, errlen) != 0)
        return -1;
    if (s_copy(conn, "COPY stage_read FROM STDIN", &batch->reads, NULL, err, errlen) != 0)
        goto fail;
    reads = s_insert(conn,
                     "INSERT INTO anpr.plate_read (" READ_COLUMNS ") SELECT * FROM stage_read "
                     "ON CONFLICT DO NOTHING",
                     err, errlen);
    if (reads < 0)
        goto fail;
    if (batch->nhits > 0) {
        if (s_copy(conn, "COPY stage_hit FROM STDIN", &batch->hits, NULL, err, errlen) != 0)
            goto fail;
        hits = s_insert(conn,
                        "INSERT INTO anpr.hits (" HIT_COLUMNS ") SELECT * FROM stage_hit "
                        "ON CONFLICT DO NOTHING",
                        err, errlen);
        if (hits < 0)
            goto fail;
    }
    if (s_exec(conn, "COMMIT", "commit", err, errlen) != 0)
        return -1;
    batch->stored = (uint64_t)reads;
    batch->hits_stored = (uint64_t)hits;
    batch->slow = true;
    batch->committed = true;
    return 0;
fail:
    s_rollback(conn);
    return -1;
}

int db_write_batch(PGconn *conn, struct batch *batch, char *err, size_t errlen)
{
    bool unique = false;

    if (s_write_fast(conn, batch, &unique, err, errlen) == 0)
        return 0;
    if (!unique)
        return -1;
    return s_write_slow(conn, batch, err, errlen);
}
