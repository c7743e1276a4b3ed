#include "db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"
#include "log.h"
#include "util.h"

/* A number macro as a string literal, for a constant in a fixed SQL text. */
#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)

/*
 * Fill err from a failed result (res) or connection (res NULL). Only the primary message and
 * the SQLSTATE: the detail and context lines of a COPY error quote the row, which is personal
 * data, and a connection error never needs more than its first line.
 */
static void s_err(struct db_error *err, const char *what, PGconn *conn, const PGresult *res)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (!msg)
        msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    snprintf(err->state, sizeof err->state, "%s", state ? state : "");
    snprintf(err->msg, sizeof err->msg, "%s: %s%s%s%s", what, msg && *msg ? msg : "unknown error",
             state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
    /* libpq's messages span lines; a log line must not. */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    for (size_t n = strlen(err->msg); n > 0 && err->msg[n - 1] == ' '; n--)
        err->msg[n - 1] = '\0';
}

static void s_errf(struct db_error *err, const char *msg)
{
    err->state[0] = '\0';
    snprintf(err->msg, sizeof err->msg, "%s", msg);
}

/* Run a command that returns no rows; 0 or -1 with err. */
static int s_exec(PGconn *conn, const char *sql, const char *what, struct db_error *err)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, what, conn, res);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

PGconn *db_connect(const char *conninfo, const char *app, struct db_error *err)
{
    /* Keywords before "dbname" are defaults the operator's conninfo may override; those after
     * it are ours: the daemon's sessions are named, and speak UTF-8. */
    const char *keys[] = {"connect_timeout",  "keepalives",
                          "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout",
                          "dbname",           "application_name",
                          "client_encoding",  NULL};
    const char *vals[] = {"5", "1", "10", "5", "3", "30000", conninfo, app, "UTF8", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);

    if (!conn) {
        s_errf(err, "connect: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        s_err(err, "connect", conn, NULL);
        PQfinish(conn);
        return NULL;
    }
    /* Times in UTC whatever the server's default. */
    if (s_exec(conn, "SET TIME ZONE 'UTC'", "set time zone", err) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

bool db_error_transient(PGconn *conn, const struct db_error *err)
{
    static const char *const classes[] = {"08", "40", "53", "54", "55", "57", "58", NULL};

    if (!conn || PQstatus(conn) != CONNECTION_OK || err->state[0] == '\0')
        return true;
    for (int i = 0; classes[i]; i++)
        if (strncmp(err->state, classes[i], 2) == 0)
            return true;
    /* Anything else but data errors (a privilege revoked, a missing object) is an operator's
     * to fix: retry it too, rather than refuse reads that could be stored once it is fixed. */
    return strncmp(err->state, "22", 2) != 0 && strncmp(err->state, "23", 2) != 0;
}

void db_cancel_init(struct db_cancel *self)
{
    pthread_mutex_init(&self->lock, NULL);
    self->cancel = NULL;
}

void db_cancel_arm(struct db_cancel *self, PGconn *conn)
{
    pthread_mutex_lock(&self->lock);
    PQfreeCancel(self->cancel);
    self->cancel = conn ? PQgetCancel(conn) : NULL;
    pthread_mutex_unlock(&self->lock);
}

void db_cancel_fire(struct db_cancel *self)
{
    char buf[256];

    pthread_mutex_lock(&self->lock);
    if (self->cancel)
        PQcancel(self->cancel, buf, sizeof buf);
    pthread_mutex_unlock(&self->lock);
}

void db_cancel_destroy(struct db_cancel *self)
{
    PQfreeCancel(self->cancel);
    self->cancel = NULL;
    pthread_mutex_destroy(&self->lock);
}

/* Where the session holding instance $1's lock runs, from pg_stat_activity. */
static const char s_holder_sql[] =
    "SELECT CASE WHEN a.client_addr IS NULL THEN 'a local socket' ELSE host(a.client_addr) || "
    "' port ' || a.client_port END, coalesce(a.application_name, ''), "
    "coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '?'), l.pid "
    "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
    "AND l.classid = " S_STR(DB_INSTANCE_LOCK) "::oid AND l.objid = $1::oid AND l.objsubid = 2 "
                                               "AND l.granted AND l.database = (SELECT oid FROM "
                                               "pg_database WHERE datname = "
                                               "current_database()) LIMIT 1";

int db_claim_instance(PGconn *conn, unsigned instance, char *who, size_t wholen,
                      struct db_error *err)
{
    char inst[16];
    const char *params[1] = {inst};
    int rc = -1;

    snprintf(inst, sizeof inst, "%u", instance);
    PGresult *res =
        PQexecParams(conn, "SELECT pg_try_advisory_lock(" S_STR(DB_INSTANCE_LOCK) ", $1::integer)",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        s_err(err, "dispatch.instance lock", conn, res);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        rc = 0;
        goto out;
    }
    PQclear(res);
    /* Who holds it: the two-key form is objsubid 2. Only the same role sees another session's
     * address; anprd's instances log in alike. */
    res = PQexecParams(conn, s_holder_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(who, wholen, "the session from %s (%s, PostgreSQL pid %s), connected since %s UTC",
                 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3),
                 PQgetvalue(res, 0, 2));
    else
        snprintf(who, wholen, "an unknown session");
    rc = 1;
out:
    PQclear(res);
    return rc;
}

void db_release_instance(PGconn *conn, unsigned instance)
{
    char inst[16];
    const char *params[1] = {inst};

    snprintf(inst, sizeof inst, "%u", instance);
    PQclear(PQexecParams(conn,
                         "SELECT pg_advisory_unlock(" S_STR(DB_INSTANCE_LOCK) ", $1::integer)", 1,
                         NULL, params, NULL, NULL, 0));
}

int db_max_hit_id(PGconn *conn, unsigned instance, uint64_t *out, struct db_error *err)
{
    char inst[16];
    const char *params[1] = {inst};

    /* Down the unique index from the newest: this instance's last id is near the top. */
    snprintf(inst, sizeof inst, "%u", instance);
    PGresult *res = PQexecParams(conn,
                                 "SELECT coalesce((SELECT hit_id FROM anpr.hits WHERE hit_id IS "
                                 "NOT NULL AND (hit_id >> 12) & 1023 = $1::integer ORDER BY "
                                 "hit_id DESC LIMIT 1), 0)",
                                 1, NULL, params, NULL, NULL, 0);
    long long v = 0;
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        util_parse_long(PQgetvalue(res, 0, 0), 0, INT64_MAX, &v) != 0) {
        s_err(err, "highest HIT id", conn, res);
        goto out;
    }
    *out = (uint64_t)v;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int db_load_retention(PGconn *conn, int *days, struct db_error *err)
{
    PGresult *res = PQexec(conn, "SELECT retention_days FROM anpr.law");
    long long v = 0;
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "the law's retention", conn, res);
        goto out;
    }
    if (PQntuples(res) != 1 || util_parse_long(PQgetvalue(res, 0, 0), 1, 365, &v) != 0) {
        s_errf(err, "the law's retention: anpr.law must hold one row, retention_days 1..365");
        goto out;
    }
    *days = (int)v;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int db_load_identities(PGconn *conn, size_t max, struct rid_entry **out, size_t *n,
                       struct db_error *err)
{
    char lim[24];
    const char *params[1] = {lim};
    PGresult *res;
    int rc = -1;

    *out = NULL;
    *n = 0;
    snprintf(lim, sizeof lim, "%zu", max);
    res = PQexecParams(
        conn,
        "SELECT camera_id, epoch, seq, digest FROM (SELECT camera_id, epoch, seq, digest, "
        "read_us FROM anpr.read_identity "
        "WHERE digest IS NOT NULL ORDER BY read_us DESC LIMIT $1::bigint) i "
        "ORDER BY read_us",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "load identities", conn, res);
        goto out;
    }
    int rows = PQntuples(res);
    *out = calloc(rows > 0 ? (size_t)rows : 1, sizeof **out);
    if (!*out) {
        s_errf(err, "load identities: out of memory");
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        long long cam, epoch, seq, digest;
        if (util_parse_long(PQgetvalue(res, i, 0), 1, INT32_MAX, &cam) != 0 ||
            util_parse_long(PQgetvalue(res, i, 1), 0, UINT32_MAX, &epoch) != 0 ||
            util_parse_long(PQgetvalue(res, i, 2), 1, INT64_MAX, &seq) != 0 ||
            util_parse_long(PQgetvalue(res, i, 3), INT64_MIN, INT64_MAX, &digest) != 0)
            continue;
        (*out)[(*n)++] =
            (struct rid_entry){(int32_t)cam, (uint32_t)epoch, (uint64_t)seq, (uint64_t)digest};
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int db_load_cameras(PGconn *conn, cam_table_t **out, struct db_error *err)
{
    PGresult *res = PQexec(conn, "SELECT code, id, mobile FROM anpr.camera WHERE enabled");
    cam_table_t *cams = NULL;
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "load cameras", conn, res);
        goto out;
    }
    cams = cam_table_new((size_t)PQntuples(res));
    if (!cams) {
        s_errf(err, "load cameras: out of memory");
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        long long id;
        if (util_parse_long(PQgetvalue(res, i, 1), 1, INT32_MAX, &id) != 0 ||
            cam_table_add(cams, PQgetvalue(res, i, 0), (int32_t)id,
                          PQgetvalue(res, i, 2)[0] == 't') != 0)
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

/* A list's options from its row (columns 4..12 of the query in s_load_lists); 0 or -1. */
static int s_list_opts(const PGresult *res, int i, struct wl_list_opts *o)
{
    long long subst, conf, supp, retro;

    if (util_parse_long(PQgetvalue(res, i, 5), 0, WL_MAX_SUBST, &subst) != 0 ||
        util_parse_long(PQgetvalue(res, i, 7), 0, 1000, &conf) != 0 ||
        util_parse_long(PQgetvalue(res, i, 9), 0, 86400, &supp) != 0 ||
        util_parse_long(PQgetvalue(res, i, 12), 0, 31 * 86400, &retro) != 0)
        return -1;
    o->policy = strcmp(PQgetvalue(res, i, 4), "ocr") == 0 ? WL_POLICY_OCR : WL_POLICY_EXACT;
    o->max_subst = (uint8_t)subst;
    o->indel = PQgetvalue(res, i, 6)[0] == 't';
    o->min_confidence = (uint16_t)conf;
    o->candidates = PQgetvalue(res, i, 8)[0] == 't';
    o->suppress_s = (uint32_t)supp;
    o->realert_camera = PQgetvalue(res, i, 10)[0] == 't';
    o->covert = PQgetvalue(res, i, 11)[0] == 't';
    o->retro_s = (uint32_t)retro;
    o->backbone_off = PQgetvalue(res, i, 13)[0] == 'f';
    return 0;
}

static int s_load_lists(PGconn *conn, wl_builder_t *b, struct db_error *err)
{
    PGresult *res = PQexec(
        conn, "SELECT id, name, category, priority, match_policy, max_subst, "
              "indel, min_confidence, candidates, suppress_s, realert_camera, covert, retro_s, "
              /* NULL: the default, on for an ordinary list, off for a covert one */
              "coalesce(backbone, NOT covert) "
              "FROM anpr.watchlist WHERE enabled");
    int rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "load watchlists", conn, res);
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        long long id, prio;
        struct wl_list_opts opts;
        char why[256];
        if (util_parse_long(PQgetvalue(res, i, 0), 1, UINT32_MAX, &id) != 0 ||
            util_parse_long(PQgetvalue(res, i, 3), 1, 9, &prio) != 0 ||
            s_list_opts(res, i, &opts) != 0) {
            /* the id column as stored, not the name: a name is not checked for log lines */
            log_warn("db", "watchlist %s skipped: bad id, priority or match options",
                     PQgetvalue(res, i, 0));
            continue;
        }
        if (wl_builder_add_list(b, (uint32_t)id, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                                (uint8_t)prio, &opts, why, sizeof why) != 0)
            log_warn("db", "watchlist %lld skipped: %s", id, why);
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/*
 * The entries come as one binary COPY: the server streams rows while this side parses and
 * indexes them, so both cores work at once (a cursor's FETCH leaves one idle at a time), and
 * nothing is formatted as text only to be parsed back. Rows are handled one at a time: a
 * 10 M-entry list is never held twice in memory (libpq and snapshot).
 */
#define DB_ENTRY_COLUMNS 8
/* The entries a snapshot holds, in the order s_add_fields reads them; db_patch_watchlist adds
 * its own condition to the WHERE clause. */
#define DB_ENTRY_SELECT                                                                            \
    "SELECT e.id, e.list_id, e.plate, e.country, e.valid_from, e.valid_until, e.instruction, "     \
    "e.external_ref FROM anpr.watchlist_entry e JOIN anpr.watchlist w ON w.id = e.list_id "        \
    "WHERE w.enabled AND (e.valid_until IS NULL OR e.valid_until > now())"
#define DB_COPY_SIGNATURE "PGCOPY\n\377\r\n\0"
/* Binary timestamptz counts µs from 2000-01-01 UTC; the snapshot counts from 1970. */
#define DB_PG_EPOCH_US 946684800000000LL

static uint64_t s_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A binary timestamptz, or dflt when NULL; ±infinity are unbounded. */
static int64_t s_bin_time(const unsigned char *p, int32_t len, int64_t dflt)
{
    int64_t v;

    if (len != 8)
        return dflt;
    v = (int64_t)s_be(p, 8);
    if (v == INT64_MIN)
        return WL_UNBOUNDED_FROM;
    if (v == INT64_MAX)
        return WL_UNBOUNDED_UNTIL;
    return v + DB_PG_EPOCH_US;
}

/* A text field into buf (NUL-terminated); false when NULL or longer than the buffer. */
static bool s_bin_text(const unsigned char *p, int32_t len, char *buf, size_t size)
{
    if (len < 0 || (size_t)len >= size)
        return false;
    memcpy(buf, p, (size_t)len);
    buf[len] = '\0';
    return true;
}

/*
 * One entry's fields, binary (id, list_id, plate, country, valid_from, valid_until,
 * instruction, external_ref: DB_ENTRY_SELECT; length -1 = NULL), into the builder; a bad one is
 * skipped and counted in *skipped.
 */
static void s_add_fields(wl_builder_t *b, const unsigned char *const *col, const int32_t *len,
                         size_t *skipped)
{
    /* Sizes beyond the table's CHECKs (32, 2, 1000, 64 bytes): a longer value is skipped. */
    char plate[64], country[8], instruction[1024], ref[128], why[256];
    struct wl_entry_in in = {
        .id = len[0] == 8 ? s_be(col[0], 8) : 0,
        .list_id = len[1] == 4 ? (uint32_t)s_be(col[1], 4) : 0,
        .plate = plate,
        .country = country,
        .valid_from_us = s_bin_time(col[4], len[4], WL_UNBOUNDED_FROM),
        .valid_until_us = s_bin_time(col[5], len[5], WL_UNBOUNDED_UNTIL),
        .instruction = instruction,
        .external_ref = ref,
    };
    if (in.id < 1 || in.id > INT64_MAX || in.list_id < 1 || in.list_id > INT32_MAX ||
        !s_bin_text(col[2], len[2], plate, sizeof plate) ||
        !s_bin_text(col[3], len[3], country, sizeof country) ||
        !s_bin_text(col[6], len[6], instruction, sizeof instruction) ||
        !s_bin_text(col[7], len[7], ref, sizeof ref)) {
        (*skipped)++;
        log_warn("db", "watchlist entry %" PRIu64 " skipped: bad id, list or field length", in.id);
        return;
    }
    if (wl_builder_add(b, &in, why, sizeof why) != 0) {
        (*skipped)++;
        /* One line per bad entry: admins need each one to fix it. */
        log_warn("db", "watchlist entry skipped: %s", why);
    }
}

/*
 * One tuple of the COPY into the builder. 1 added or skipped (counted in *skipped), 0 the
 * trailer, -1 a malformed row (the stream is not what was asked for).
 */
static int s_add_copy_row(wl_builder_t *b, const unsigned char *p, size_t n, size_t *skipped)
{
    const unsigned char *col[DB_ENTRY_COLUMNS];
    int32_t len[DB_ENTRY_COLUMNS];
    size_t off = 2;

    if (n < 2)
        return -1;
    int16_t nf = (int16_t)s_be(p, 2);
    if (nf == -1)
        return 0;
    if (nf != DB_ENTRY_COLUMNS)
        return -1;
    for (int i = 0; i < DB_ENTRY_COLUMNS; i++) {
        if (n - off < 4)
            return -1;
        len[i] = (int32_t)s_be(p + off, 4);
        off += 4;
        col[i] = p + off;
        if (len[i] > 0) {
            if ((size_t)len[i] > n - off)
                return -1;
            off += (size_t)len[i];
        }
    }
    if (off != n)
        return -1;
    s_add_fields(b, col, len, skipped);
    return 1;
}

/* Stream the entries of the enabled lists, not yet expired, into b. 0, or -1 with err. */
static int s_load_entries(PGconn *conn, wl_builder_t *b, size_t *skipped, struct db_error *err)
{
    PGresult *res = PQexec(conn, "COPY (" DB_ENTRY_SELECT ") TO STDOUT (FORMAT binary)");
    bool header = true, ended = false, bad = false;
    char *row;
    int n, rc = -1;

    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        s_err(err, "load watchlist entries", conn, res);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    /* One CopyData message a row; the first also carries the file header. */
    while ((n = PQgetCopyData(conn, &row, 0)) > 0) {
        const unsigned char *p = (const unsigned char *)row;
        size_t len = (size_t)n;
        if (header) {
            /* Signature, flags (no OIDs), header extension (skipped). */
            size_t hl = sizeof DB_COPY_SIGNATURE - 1;
            if (len < hl + 8 || memcmp(p, DB_COPY_SIGNATURE, hl) != 0 ||
                len - hl - 8 < s_be(p + hl + 4, 4)) {
                bad = true;
            } else {
                size_t skip = hl + 8 + (size_t)s_be(p + hl + 4, 4);
                p += skip;
                len -= skip;
            }
            header = false;
        }
        if (!bad && !ended && len > 0) {
            int r = s_add_copy_row(b, p, len, skipped);
            if (r < 0)
                bad = true;
            else if (r == 0)
                ended = true;
        }
        PQfreemem(row);
    }
    /* The COPY's own result, which says whether the server finished it. */
    res = PQgetResult(conn);
    if (n == -2 || PQresultStatus(res) != PGRES_COMMAND_OK) {
        s_err(err, "load watchlist entries", conn, n == -2 ? NULL : res);
        goto out;
    }
    if (bad || !ended) {
        s_errf(err, "load watchlist entries: malformed COPY data from the server");
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    return rc;
}

int db_load_watchlist(PGconn *conn, const char *ocr_classes, wl_t **out, size_t *skipped,
                      int64_t *version, struct db_error *err)
{
    wl_builder_t *b = wl_builder_new();
    PGresult *res = NULL;
    bool in_tx = false;
    char why[256];
    int rc = -1;

    *skipped = 0;
    if (!b) {
        s_errf(err, "load watchlist: out of memory");
        return -1;
    }
    if (ocr_classes && wl_builder_set_classes(b, ocr_classes, why, sizeof why) != 0) {
        /* The configuration was checked with the same function: this cannot happen. */
        snprintf(err->msg, sizeof err->msg, "load watchlist: OCR classes: %s", why);
        err->state[0] = '\0';
        goto out;
    }
    /* One snapshot of lists and entries: both read in one repeatable-read transaction. */
    if (s_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "load watchlist", err) != 0)
        goto out;
    in_tx = true;
    /* The entries are one COPY whose length grows with the list: a statement_timeout set for
     * the role (meant for stuck queries) must not cut a large load short. This transaction only. */
    if (s_exec(conn, "SET LOCAL statement_timeout = 0", "load watchlist", err) != 0)
        goto out;
    if (version) {
        /* The newest change this snapshot includes: read in the same transaction. */
        long long v = 0;
        res = PQexec(conn, "SELECT coalesce(max(seq), 0) FROM anpr.watchlist_change");
        if (PQresultStatus(res) != PGRES_TUPLES_OK ||
            util_parse_long(PQgetvalue(res, 0, 0), 0, INT64_MAX, &v) != 0) {
            s_err(err, "watchlist version", conn, res);
            goto out;
        }
        PQclear(res);
        res = NULL;
        *version = v;
    }
    if (s_load_lists(conn, b, err) != 0)
        goto out;
    if (s_load_entries(conn, b, skipped, err) != 0)
        goto out;
    if (s_exec(conn, "COMMIT", "load watchlist", err) != 0)
        goto out;
    in_tx = false;
    *out = wl_builder_build(&b);
    if (!*out) {
        s_errf(err, "load watchlist: out of memory");
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

/* Add the ids of a bigint[] column's text ("{1,2,3}") to set; 0, or -1 if it is not one. */
static int s_add_ids(idset_t *set, const char *text)
{
    const char *p = text;

    if (*p++ != '{')
        return -1;
    while (*p && *p != '}') {
        char *end;
        errno = 0;
        unsigned long long id = strtoull(p, &end, 10);
        if (end == p || errno != 0 || idset_add(set, id) != 0)
            return -1;
        p = *end == ',' ? end + 1 : end;
    }
    return *p == '}' ? 0 : -1;
}

int db_watchlist_changed(PGconn *conn, int64_t since, int64_t upto, size_t max_changed,
                         idset_t *ids, struct db_error *err)
{
    char a[24], b[24];
    const char *params[2] = {a, b};
    int rc = 1;

    idset_clear(ids);
    snprintf(a, sizeof a, "%" PRId64, since);
    snprintf(b, sizeof b, "%" PRId64, upto);
    PGresult *res = PQexecParams(conn,
                                 "SELECT relation, entry_ids FROM anpr.watchlist_change "
                                 "WHERE seq > $1 AND seq <= $2 ORDER BY seq",
                                 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "watchlist changes", conn, res);
        rc = -1;
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 0), "watchlist") == 0)
            continue; /* a list: its entries are in the load as they are */
        if (strcmp(PQgetvalue(res, i, 0), "watchlist_entry") != 0 || PQgetisnull(res, i, 1) ||
            s_add_ids(ids, PQgetvalue(res, i, 1)) != 0)
            goto out; /* a truncate, or a change that names no entries */
    }
    if (idset_count(ids) <= max_changed)
        rc = 0;
out:
    if (rc != 0)
        idset_clear(ids);
    PQclear(res);
    return rc;
}

/* The ids of set as a bigint[] parameter ("{1,2,3}"); NULL on out of memory. */
char *db_ids_param(const idset_t *set)
{
    size_t cap = 3 + idset_count(set) * 21, len = 0, pos = 0;
    char *text = malloc(cap);
    uint64_t id;

    if (!text)
        return NULL;
    text[len++] = '{';
    while (idset_next(set, &pos, &id))
        len += (size_t)snprintf(text + len, cap - len, "%s%llu", len > 1 ? "," : "",
                                (unsigned long long)id);
    text[len++] = '}';
    text[len] = '\0';
    return text;
}

int db_patch_watchlist(PGconn *conn, wl_t *prev, int64_t since, size_t max_changed, wl_t **out,
                       int64_t *version, idset_t *ids, size_t *skipped, struct db_error *err)
{
    wl_builder_t *b = NULL;
    PGresult *res = NULL;
    char since_text[24], why[256], *param = NULL;
    const char *params[1] = {since_text};
    int64_t newest = since;
    bool in_tx = false;
    int rc = -1;

    *out = NULL;
    *skipped = 0;
    idset_clear(ids);
    /* The changes and the entries as they are now, from one snapshot of the database. */
    if (s_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "patch watchlist", err) !=
        0)
        goto out;
    in_tx = true;
    snprintf(since_text, sizeof since_text, "%" PRId64, since);
    res = PQexecParams(conn,
                       "SELECT seq, relation = 'watchlist_entry' AND entry_ids IS NOT NULL, "
                       "entry_ids FROM anpr.watchlist_change WHERE seq > $1 ORDER BY seq",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "watchlist changes", conn, res);
        goto out;
    }
    rc = 1; /* until shown otherwise, a full load is needed */
    for (int i = 0; i < PQntuples(res); i++) {
        long long seq;
        if (util_parse_long(PQgetvalue(res, i, 0), 1, INT64_MAX, &seq) != 0 ||
            PQgetvalue(res, i, 1)[0] != 't' || s_add_ids(ids, PQgetvalue(res, i, 2)) != 0)
            goto out; /* a list changed, a truncate, or a change that names no entries */
        newest = seq;
    }
    PQclear(res);
    res = NULL;
    if (wl_hidden_count(prev) + idset_count(ids) > max_changed)
        goto out; /* the patch would be as costly as a full load, and the matcher slower */

    b = wl_builder_patch(prev, ids, why, sizeof why);
    if (!b) {
        snprintf(err->msg, sizeof err->msg, "patch watchlist: %s", why);
        err->state[0] = '\0';
        rc = -1;
        goto out;
    }
    if (idset_count(ids) > 0) {
        param = db_ids_param(ids);
        params[0] = param;
        /* Binary results: the fields come as the full load's COPY has them. */
        res = param ? PQexecParams(conn, DB_ENTRY_SELECT " AND e.id = ANY($1::bigint[])", 1, NULL,
                                   params, NULL, NULL, 1)
                    : NULL;
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != DB_ENTRY_COLUMNS) {
            s_err(err, "patch watchlist entries", conn, res);
            rc = -1;
            goto out;
        }
        for (int i = 0; i < PQntuples(res); i++) {
            const unsigned char *col[DB_ENTRY_COLUMNS];
            int32_t len[DB_ENTRY_COLUMNS];
            for (int k = 0; k < DB_ENTRY_COLUMNS; k++) {
                col[k] = (const unsigned char *)PQgetvalue(res, i, k);
                len[k] = PQgetisnull(res, i, k) ? -1 : PQgetlength(res, i, k);
            }
            s_add_fields(b, col, len, skipped);
        }
    }
    if (s_exec(conn, "COMMIT", "patch watchlist", err) != 0) {
        rc = -1;
        goto out;
    }
    in_tx = false;
    *out = wl_builder_build(&b);
    if (!*out) {
        s_errf(err, "patch watchlist: out of memory");
        rc = -1;
        goto out;
    }
    *version = newest;
    rc = 0;
out:
    PQclear(res);
    if (in_tx)
        PQclear(PQexec(conn, "ROLLBACK"));
    free(param);
    wl_builder_destroy(&b);
    return rc;
}

/* A text[] parameter ("{"a","b"}") of n strings that hold no '"' nor '\\' (normalised plates
 * plates); NULL on out of memory. */
static char *s_text_array(const char *const *v, size_t n)
{
    size_t cap = 3, len = 0;

    for (size_t i = 0; i < n; i++)
        cap += strlen(v[i]) + 3;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    text[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\"%s\"", i ? "," : "", v[i]);
    text[len++] = '}';
    text[len] = '\0';
    return text;
}

/* A bigint[] parameter of n ids ("{1,2}"); NULL on out of memory. */
static char *s_u64_array(const uint64_t *v, size_t n)
{
    size_t cap = 3 + n * 21, len = 0;
    char *text = malloc(cap);

    if (!text)
        return NULL;
    text[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s%llu", i ? "," : "",
                                (unsigned long long)v[i]);
    text[len++] = '}';
    text[len] = '\0';
    return text;
}

/* A read as the retro-match gets it (anpr.retro_rows, migration 016). */
static void s_retro_row(const PGresult *res, int i, struct db_retro_read *out)
{
    struct proto_read *r = &out->read;
    long long v;

    memset(out, 0, sizeof *out);
    snprintf(r->camera, sizeof r->camera, "%s", PQgetvalue(res, i, 0));
    out->camera_id = util_parse_long(PQgetvalue(res, i, 1), 1, INT32_MAX, &v) == 0 ? (int32_t)v : 0;
    r->seq = util_parse_long(PQgetvalue(res, i, 2), 0, INT64_MAX, &v) == 0 ? (uint64_t)v : 0;
    r->time_us = util_parse_long(PQgetvalue(res, i, 3), INT64_MIN + 1, INT64_MAX, &v) == 0 ? v : 0;
    snprintf(r->plate, sizeof r->plate, "%s", PQgetvalue(res, i, 4));
    snprintf(r->country, sizeof r->country, "%s", PQgetvalue(res, i, 5));
    r->confidence = util_parse_long(PQgetvalue(res, i, 6), 0, 1000, &v) == 0 ? (uint16_t)v : 0;
    r->lane = util_parse_long(PQgetvalue(res, i, 7), 0, 255, &v) == 0 ? (uint8_t)v : 0;
    r->direction = util_parse_long(PQgetvalue(res, i, 8), 0, 255, &v) == 0 ? (uint8_t)v : 0;
    if (!PQgetisnull(res, i, 9) && !PQgetisnull(res, i, 10)) {
        r->has_position = true;
        r->lat_e7 = (int32_t)(strtod(PQgetvalue(res, i, 9), NULL) * 1e7);
        r->lon_e7 = (int32_t)(strtod(PQgetvalue(res, i, 10), NULL) * 1e7);
    }
    snprintf(r->image_ref, sizeof r->image_ref, "%s", PQgetvalue(res, i, 11));
    /* Candidates: "c1\x1fc2", confidences "n1,n2". */
    const char *c = PQgetvalue(res, i, 12), *k = PQgetvalue(res, i, 13);
    while (*c && r->ncand < PROTO_CAND_MAX) {
        const char *end = strchr(c, '\x1f');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        struct proto_cand *cand = &r->cand[r->ncand++];
        snprintf(cand->plate, sizeof cand->plate, "%.*s", (int)len, c);
        char *kend;
        unsigned long conf = strtoul(k, &kend, 10);
        cand->confidence = conf <= 1000 ? (uint16_t)conf : 0;
        k = *kend == ',' ? kend + 1 : kend;
        c = end ? end + 1 : c + len;
    }
    r->epoch = util_parse_long(PQgetvalue(res, i, 14), 0, UINT32_MAX, &v) == 0 ? (uint32_t)v : 0;
}

int db_retro_reads(PGconn *conn, const idset_t *entries, const char *const *plates,
                   const uint64_t *plate_entries, size_t nplates, int64_t since_us, int max_rows,
                   struct db_retro_read **out, size_t *n, struct db_error *err)
{
    char since[32], rows[16], log[24], *ids = db_ids_param(entries);
    char *pl = s_text_array(plates, nplates), *pe = s_u64_array(plate_entries, nplates);
    const char *params[5] = {ids, pl, pe, since, rows};
    PGresult *res = NULL;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (!ids || !pl || !pe) {
        s_errf(err, "retro-match: out of memory");
        goto out;
    }
    /* µs since the epoch, turned into a timestamp by PostgreSQL. */
    snprintf(since, sizeof since, "%.6f", (double)since_us / 1e6);
    snprintf(rows, sizeof rows, "%d", max_rows);
    /* Two statements, each its own transaction: the search commits its log row, and only then
     * are the reads it found returned (migration 016). */
    res = PQexecParams(conn,
                       "SELECT anpr.retro_search($1::bigint[], $2::text[], $3::bigint[], "
                       "to_timestamp($4::double precision), $5::integer)",
                       5, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        s_err(err, "retro-match", conn, res);
        goto out;
    }
    snprintf(log, sizeof log, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = PQexecParams(conn, "SELECT * FROM anpr.retro_rows($1::bigint)", 1, NULL,
                       (const char *const[]){log}, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "retro-match", conn, res);
        goto out;
    }
    if (PQntuples(res) > 0) {
        *out = calloc((size_t)PQntuples(res), sizeof **out);
        if (!*out) {
            s_errf(err, "retro-match: out of memory");
            goto out;
        }
        for (int i = 0; i < PQntuples(res); i++)
            s_retro_row(res, i, &(*out)[i]);
        *n = (size_t)PQntuples(res);
    }
    rc = 0;
out:
    PQclear(res);
    free(ids);
    free(pl);
    free(pe);
    return rc;
}

int db_store_post_match(PGconn *conn, const struct db_retro_read *rr, const char *plate,
                        const struct wl_match *m, uint64_t hit_id, uint64_t *had_id, bool *had_post,
                        struct db_error *err)
{
    const struct wl_entry *e = m->entry;
    char cam[16], seq[24], t[32], entry[24], list[16], prio[8], kind[8], reading[8], nsubst[8];
    char id[24], epoch[16];
    const char *params[15] = {cam,
                              seq,
                              t,
                              plate,
                              entry,
                              list,
                              prio,
                              e->list->category,
                              kind,
                              reading,
                              nsubst,
                              m->detail,
                              e->list->opts.covert ? "t" : "f",
                              id,
                              epoch};
    int rc = -1;

    snprintf(id, sizeof id, "%" PRIu64, hit_id);
    snprintf(cam, sizeof cam, "%" PRId32, rr->camera_id);
    snprintf(seq, sizeof seq, "%" PRIu64, rr->read.seq);
    snprintf(epoch, sizeof epoch, "%" PRIu32, rr->read.epoch);
    snprintf(t, sizeof t, "%.6f", (double)rr->read.time_us / 1e6);
    snprintf(entry, sizeof entry, "%" PRIu64, e->id);
    snprintf(list, sizeof list, "%" PRIu32, e->list->id);
    snprintf(prio, sizeof prio, "%u", e->list->priority);
    snprintf(kind, sizeof kind, "%u", m->kind);
    snprintf(reading, sizeof reading, "%u", m->reading);
    snprintf(nsubst, sizeof nsubst, "%u", m->nsubst);
    /* A read that already has a HIT of this entry (a live one, or an earlier retro-match of
     * the same entry) keeps it: the conflict says "not new", and which one it kept is read. */
    PGresult *res = PQexecParams(
        conn,
        "WITH ins AS (INSERT INTO anpr.hits (camera_id, epoch, seq, read_time, plate, entry_id, "
        "list_id, priority, category, match_kind, reading, nsubst, detail, suppressed, covert, "
        "post_match, hit_id) VALUES ($1, $15, $2, to_timestamp($3::double precision), $4, $5, $6, "
        "$7, $8, $9, $10, $11, $12, false, $13, true, $14) "
        "ON CONFLICT (camera_id, epoch, seq, read_time, entry_id) DO NOTHING RETURNING hit_id) "
        "SELECT true, hit_id, true FROM ins UNION ALL "
        "SELECT false, coalesce(h.hit_id, 0), h.post_match FROM anpr.hits h WHERE NOT EXISTS "
        "(SELECT FROM ins) AND h.camera_id = $1 AND h.epoch = $15 AND h.seq = $2 AND "
        "h.read_time = to_timestamp($3::double precision) AND h.entry_id = $5",
        15, NULL, params, NULL, NULL, 0);
    long long v = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) > 1 ||
        (PQntuples(res) == 1 && util_parse_long(PQgetvalue(res, 0, 1), 0, INT64_MAX, &v) != 0)) {
        s_err(err, "store post-match", conn, res);
        goto out;
    }
    /* No row: the HIT it conflicted with was not committed yet when this began (the writer's
     * live HIT of the same read), so it is a live one. */
    if (PQntuples(res) == 0) {
        *had_id = 0;
        *had_post = false;
        rc = 0;
        goto out;
    }
    rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 : 0;
    *had_id = rc == 0 ? (uint64_t)v : 0;
    *had_post = rc == 0 && strcmp(PQgetvalue(res, 0, 2), "t") == 0;
out:
    PQclear(res);
    return rc;
}

int db_ensure_partitions(PGconn *conn, int32_t first, int32_t last, struct db_error *err)
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
        s_err(err, "ensure partitions", conn, res);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

int db_prepare_writer(PGconn *conn, struct db_error *err)
{
    /* The COMMIT of a batch is what its ACKs stand on: it must be on disk, whatever the
     * server's default. The timeouts turn a stuck statement or lock into an error the writer
     * retries, instead of a silent stall. The staging tables serve the de-duplicating path;
     * temporary, so they cost nothing unused. `ord` numbers the rows in COPY order: the n-th
     * identity row is the n-th read row. */
    return s_exec(conn,
                  "SET synchronous_commit = on;"
                  "SET statement_timeout = '60s';"
                  "SET lock_timeout = '10s';"
                  "CREATE TEMP TABLE IF NOT EXISTS stage_id ("
                  "ord bigint GENERATED ALWAYS AS IDENTITY, camera_id integer, epoch bigint, "
                  "seq bigint, read_us bigint, digest bigint, plate text, fate smallint) "
                  "ON COMMIT DELETE ROWS;"
                  "CREATE TEMP TABLE IF NOT EXISTS stage_read ("
                  "ord bigint GENERATED ALWAYS AS IDENTITY, "
                  "read_time timestamptz, camera_id integer, epoch bigint, seq bigint, plate text, "
                  "plate_raw text, country text, confidence smallint, lane smallint, "
                  "direction smallint, latitude double precision, longitude double precision, "
                  "image_ref text, candidates text[], cand_conf smallint[], "
                  "received_at timestamptz) ON COMMIT DELETE ROWS;"
                  "CREATE TEMP TABLE IF NOT EXISTS stage_hit ("
                  "camera_id integer, epoch bigint, seq bigint, read_time timestamptz, plate text, "
                  "entry_id bigint, list_id integer, priority smallint, category text, "
                  "match_kind smallint, reading smallint, nsubst smallint, detail text, "
                  "suppressed boolean, covert boolean, hit_id bigint) ON COMMIT DELETE ROWS",
                  "prepare writer", err);
}

/* COPY len bytes of data into a table; 0, or -1 with err. */
static int s_copy(PGconn *conn, const char *sql, const char *data, size_t len, struct db_error *err)
{
    PGresult *res = PQexec(conn, sql);
    int rc = -1;

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        s_err(err, "copy", conn, res);
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (PQputCopyData(conn, data, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
        s_err(err, "copy", conn, NULL);
        goto out;
    }
    res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        s_err(err, "copy", conn, res);
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    /* Drain what is left so the connection is usable again (or visibly dead). */
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    return rc;
}

/* Run an INSERT ... SELECT and return the rows it inserted, or -1 with err. */
static long long s_insert(PGconn *conn, const char *sql, struct db_error *err)
{
    PGresult *res = PQexec(conn, sql);
    long long n = -1;

    if (PQresultStatus(res) != PGRES_COMMAND_OK ||
        util_parse_long(PQcmdTuples(res), 0, INT64_MAX, &n) != 0) {
        s_err(err, "insert", conn, res);
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

/* The common case: nothing in the batch is stored yet, so COPY straight into the tables. The
 * identities go first: a resend fails there, before the larger COPYs. */
static int s_write_fast(PGconn *conn, struct batch *batch, struct db_error *err)
{
    if (batch_id_rows(batch, 0, batch->nreads, &batch->ids) != 0) {
        snprintf(err->state, sizeof err->state, "53200"); /* out_of_memory: retried */
        snprintf(err->msg, sizeof err->msg, "identity rows: out of memory");
        return -1;
    }
    if (s_exec(conn, "BEGIN", "begin", err) != 0)
        return -1;
    if (s_copy(conn, "COPY anpr.read_identity (" BATCH_ID_COLUMNS ") FROM STDIN (FORMAT binary)",
               batch->ids.data, batch->ids.len, err) != 0)
        goto fail;
    if (s_copy(conn, "COPY anpr.plate_read (" BATCH_READ_COLUMNS ") FROM STDIN", batch->reads.data,
               batch->reads.len, err) != 0)
        goto fail;
    if (batch->nhits > 0 && s_copy(conn, "COPY anpr.hits (" BATCH_HIT_COLUMNS ") FROM STDIN",
                                   batch->hits.data, batch->hits.len, err) != 0)
        goto fail;
    if (s_exec(conn, "COMMIT", "commit", err) != 0)
        return -1;
    batch->stored = batch->nreads;
    batch->hits_stored = batch->nhits;
    return 0;
fail:
    s_rollback(conn);
    return -1;
}

/*
 * Each staged read's fate (enum batch_fate), in one statement. An identity already stored:
 * the same content is a resend (1), other content a conflict (2). A new identity: its first
 * row in the batch is stored (0); a later row with the same content is a resend, with other
 * content a conflict. Content is the digest; where one side has none (stored before digests
 * were kept), the read's time decides.
 */
#define S_SAME(a, b)                                                                               \
    "(CASE WHEN " a ".digest IS NOT NULL AND " b ".digest IS NOT NULL THEN " a ".digest = " b      \
    ".digest ELSE " a ".read_us = " b ".read_us END)"
static const char s_fate_sql[] =
    "UPDATE stage_id s SET fate = CASE "
    "WHEN i.camera_id IS NOT NULL THEN CASE WHEN " S_SAME(
        "i",
        "s") " THEN 1 ELSE 2 END "
             "WHEN s.ord = w.ord THEN 0 "
             "WHEN " S_SAME(
                 "w",
                 "s") " THEN 1 ELSE 2 END "
                      "FROM (SELECT DISTINCT ON (camera_id, epoch, seq) camera_id, epoch, seq, "
                      "ord, digest, "
                      "read_us FROM stage_id ORDER BY camera_id, epoch, seq, ord) w "
                      "LEFT JOIN anpr.read_identity i ON i.camera_id = w.camera_id AND i.epoch = "
                      "w.epoch "
                      "AND i.seq = w.seq "
                      "WHERE s.camera_id = w.camera_id AND s.epoch = w.epoch AND s.seq = w.seq";

/* The staged read rows with their identity row's fate (joined by position). */
#define S_READ_FATE                                                                                \
    "stage_read r JOIN stage_id s ON s.ord - (SELECT min(ord) FROM stage_id) = "                   \
    "r.ord - (SELECT min(ord) FROM stage_read)"

/*
 * Reads [from, to) of the batch, some of which may be stored already (resends), or conflict:
 * stage them, judge each (s_fate_sql), store the new ones and the HITs of the new and resent
 * ones, and set each read's fate. Adds the rows inserted to ->stored and ->hits_stored and the
 * conflicts to ->conflicts.
 */
static int s_write_slow(PGconn *conn, struct batch *batch, size_t from, size_t to,
                        struct db_error *err)
{
    const struct batch_ack *first = &batch->acks[from], *last = &batch->acks[to - 1];
    size_t reads_len = last->read_off + last->read_len - first->read_off;
    size_t hits_len = last->hits_off + last->hits_len - first->hits_off;
    long long nr, nh = 0, nc = 0;
    PGresult *res = NULL;

    if (batch_id_rows(batch, from, to, &batch->ids) != 0) {
        snprintf(err->state, sizeof err->state, "53200");
        snprintf(err->msg, sizeof err->msg, "identity rows: out of memory");
        return -1;
    }
    if (s_exec(conn, "BEGIN", "begin", err) != 0)
        return -1;
    if (s_copy(conn, "COPY stage_id (" BATCH_ID_COLUMNS ") FROM STDIN (FORMAT binary)",
               batch->ids.data, batch->ids.len, err) != 0 ||
        s_copy(conn, "COPY stage_read (" BATCH_READ_COLUMNS ") FROM STDIN",
               batch->reads.data + first->read_off, reads_len, err) != 0 ||
        s_insert(conn, s_fate_sql, err) < 0 ||
        s_insert(conn,
                 "INSERT INTO anpr.read_identity (" BATCH_ID_COLUMNS ") SELECT " BATCH_ID_COLUMNS
                 " FROM stage_id WHERE fate = 0",
                 err) < 0)
        goto fail;
    nr = s_insert(conn,
                  "INSERT INTO anpr.plate_read (" BATCH_READ_COLUMNS ") SELECT r.read_time, "
                  "r.camera_id, r.epoch, r.seq, r.plate, r.plate_raw, r.country, r.confidence, "
                  "r.lane, r.direction, r.latitude, r.longitude, r.image_ref, r.candidates, "
                  "r.cand_conf, r.received_at FROM " S_READ_FATE " WHERE s.fate = 0",
                  err);
    if (nr < 0)
        goto fail;
    if (hits_len > 0) {
        if (s_copy(conn, "COPY stage_hit (" BATCH_HIT_COLUMNS ") FROM STDIN",
                   batch->hits.data + first->hits_off, hits_len, err) != 0)
            goto fail;
        /* The HITs of a stored or resent read; a conflict's are its read's: not stored. */
        nh = s_insert(conn,
                      "INSERT INTO anpr.hits (" BATCH_HIT_COLUMNS ") SELECT " BATCH_HIT_COLUMNS
                      " FROM stage_hit h WHERE EXISTS (SELECT FROM " S_READ_FATE
                      " WHERE s.fate < 2 AND r.camera_id = h.camera_id AND r.epoch = h.epoch "
                      "AND r.seq = h.seq AND r.read_time = h.read_time AND r.plate = h.plate) "
                      "ON CONFLICT DO NOTHING",
                      err);
        if (nh < 0)
            goto fail;
        /* A HIT announced again under a new id (a resend of a stored read anprd no longer
         * remembered) keeps the stored one; its new id becomes an alias, so an operator may
         * acknowledge either. */
        if (s_insert(
                conn,
                "INSERT INTO anpr.hit_alias (hit_id, stored_hit_id) SELECT s.hit_id, "
                "h.hit_id FROM stage_hit s JOIN anpr.hits h ON h.camera_id = s.camera_id "
                "AND h.epoch = s.epoch AND h.seq = s.seq AND h.read_time = s.read_time "
                "AND h.entry_id = s.entry_id WHERE h.hit_id <> s.hit_id ON CONFLICT DO NOTHING",
                err) < 0)
            goto fail;
    }
    res = PQexec(conn, "SELECT ord - (SELECT min(ord) FROM stage_id), fate FROM stage_id "
                       "WHERE fate > 0");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_err(err, "fates", conn, res);
        goto fail;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        long long k, fate;
        if (util_parse_long(PQgetvalue(res, i, 0), 0, (long long)(to - from - 1), &k) != 0 ||
            util_parse_long(PQgetvalue(res, i, 1), 1, 2, &fate) != 0) {
            s_err(err, "fates: unexpected row", conn, NULL);
            goto fail;
        }
        batch->acks[from + (size_t)k].fate = (uint8_t)fate;
        nc += fate == BATCH_CONFLICT;
    }
    PQclear(res);
    res = NULL;
    if (s_exec(conn, "COMMIT", "commit", err) != 0)
        goto undo;
    batch->stored += (uint64_t)nr;
    batch->hits_stored += (uint64_t)nh;
    batch->conflicts += (uint64_t)nc;
    return 0;
fail:
    PQclear(res);
    s_rollback(conn);
undo:
    for (size_t i = from; i < to; i++)
        batch->acks[i].fate = BATCH_STORED;
    return -1;
}

int db_write_batch(PGconn *conn, struct batch *batch, struct db_error *err)
{
    if (s_write_fast(conn, batch, err) == 0) {
        batch->committed = true;
        return 0;
    }
    /* A row that is there already (unique_violation): a resend, or a conflict. */
    if (strcmp(err->state, "23505") != 0)
        return -1;
    batch->stored = 0;
    batch->hits_stored = 0;
    batch->conflicts = 0;
    if (s_write_slow(conn, batch, 0, batch->nreads, err) != 0)
        return -1;
    batch->slow = true;
    batch->committed = true;
    return 0;
}

int db_write_one(PGconn *conn, struct batch *batch, size_t i, struct db_error *err)
{
    return s_write_slow(conn, batch, i, i + 1, err);
}
