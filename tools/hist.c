/* hist: the audited search (hist.h). */
#include "hist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hist_norm_plate(const char *raw, bool pattern, char out[PLATE_MAX + 1])
{
    enum plate_status st = pattern ? plate_normalise_pattern(raw, out) : plate_normalise(raw, out);

    return st == PLATE_OK ? out : raw;
}

/* A failed statement into out; its status. */
static enum hist_status s_fail(PGconn *conn, PGresult *res, const char *ctx,
                               struct hist_outcome *out)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    size_t len;

    snprintf(out->message, sizeof out->message, "%s", msg ? msg : PQerrorMessage(conn));
    len = strlen(out->message);
    while (len && (out->message[len - 1] == '\n' || out->message[len - 1] == ' '))
        out->message[--len] = '\0';
    snprintf(out->context, sizeof out->context, "%s", ctx);
    /* The database refusing the login this (no right to the function) is a refusal. */
    out->status = state && strcmp(state, "42501") == 0 ? HIST_DENIED : HIST_ERROR;
    PQclear(res);
    return out->status;
}

static PGresult *s_q(PGconn *conn, const char *sql, int n, const char *const *params,
                     const char *ctx, struct hist_outcome *out)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    s_fail(conn, res, ctx, out);
    return NULL;
}

/* The cameras as a text[] literal ({"A","B"}), every code quoted as typed; NULL: none (or out
   of memory, which the database then sees as no camera filter: never, as calloc checks). */
static char *s_camera_array(const struct hist_query *q, bool *oom)
{
    size_t cap = 3;
    char *s, *p;

    *oom = false;
    if (q->ncameras == 0)
        return NULL;
    for (int i = 0; i < q->ncameras; i++)
        cap += 2 * strlen(q->cameras[i]) + 3;
    if (!(s = malloc(cap))) {
        *oom = true;
        return NULL;
    }
    p = s;
    *p++ = '{';
    for (int i = 0; i < q->ncameras; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = q->cameras[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

static const char *s_fetch_sql(enum hist_kind kind)
{
    switch (kind) {
    case HIST_READS:
        return "SELECT * FROM anpr.search_read_rows($1::bigint) ORDER BY ord";
    case HIST_HITS:
        return "SELECT * FROM anpr.search_hit_rows($1::bigint) ORDER BY ord";
    default:
        return "SELECT * FROM anpr.search_cotravel_rows($1::bigint) ORDER BY ord";
    }
}

enum hist_status hist_search(PGconn *conn, const struct hist_query *q, PGresult **rows,
                             struct hist_outcome *out)
{
    char norm[PLATE_MAX + 1];
    const char *params[10];
    const char *plate =
        q->plate ? hist_norm_plate(q->plate, q->match && strcmp(q->match, "pattern") == 0, norm)
                 : NULL;
    char *cams = NULL;
    PGresult *res;
    int n = 0;
    bool oom;

    memset(out, 0, sizeof *out);
    *rows = NULL;
    params[n++] = q->reason;
    params[n++] = q->case_ref;
    params[n++] = q->decision;
    switch (q->kind) {
    case HIST_READS:
        cams = s_camera_array(q, &oom);
        if (oom) {
            snprintf(out->message, sizeof out->message, "out of memory");
            return out->status = HIST_ERROR;
        }
        params[n++] = plate ? plate : "";
        params[n++] = q->match ? q->match : "exact";
        params[n++] = cams;
        params[n++] = q->from;
        params[n++] = q->to;
        params[n++] = q->limit;
        params[n++] = q->max_subst ? q->max_subst : "1";
        res = PQexecParams(conn,
                           "SELECT * FROM anpr.search_reads($1::text, $2::text, $3::text, "
                           "$4::text, $5::text, $6::text[], $7::timestamptz, $8::timestamptz, "
                           "$9::integer, $10::integer)",
                           n, NULL, params, NULL, NULL, 0);
        break;
    case HIST_HITS:
        params[n++] = plate ? plate : "";
        params[n++] = q->list ? q->list : "";
        params[n++] = q->from;
        params[n++] = q->to;
        params[n++] = q->limit;
        res = PQexecParams(conn,
                           "SELECT * FROM anpr.search_hits($1::text, $2::text, $3::text, "
                           "$4::text, $5::text, $6::timestamptz, $7::timestamptz, $8::integer)",
                           n, NULL, params, NULL, NULL, 0);
        break;
    default:
        params[n++] = plate;
        params[n++] = q->from;
        params[n++] = q->to;
        params[n++] = q->window;
        params[n++] = q->min_cameras;
        params[n++] = q->limit;
        res = PQexecParams(conn,
                           "SELECT * FROM anpr.search_cotravel($1::text, $2::text, $3::text, "
                           "$4::text, $5::timestamptz, $6::timestamptz, $7::integer, "
                           "$8::integer, $9::integer)",
                           n, NULL, params, NULL, NULL, 0);
        break;
    }
    free(cams);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return s_fail(conn, res, "search", out);
    if (PQntuples(res) != 1 || PQnfields(res) < 6) {
        PQclear(res);
        snprintf(out->context, sizeof out->context, "search");
        snprintf(out->message, sizeof out->message,
                 "the search function did not return one outcome");
        return out->status = HIST_ERROR;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        snprintf(out->rule, sizeof out->rule, "%s", PQgetvalue(res, 0, 2));
        snprintf(out->message, sizeof out->message, "%s", PQgetvalue(res, 0, 3));
        PQclear(res);
        return out->status = HIST_REFUSED;
    }
    snprintf(out->ticket, sizeof out->ticket, "%s", PQgetvalue(res, 0, 0));
    /* a granted search may still say something: that its range was clipped, say */
    if (!PQgetisnull(res, 0, 3))
        snprintf(out->message, sizeof out->message, "%s", PQgetvalue(res, 0, 3));
    PQclear(res);

    const char *tp[1] = {out->ticket};
    /* The counts too come only from the committed search (migration 016). */
    PGresult *counts =
        s_q(conn, "SELECT rows_more FROM anpr.search_counts($1::bigint)", 1, tp, "counts", out);
    if (!counts)
        return out->status;
    out->more = PQntuples(counts) == 1 ? strtoll(PQgetvalue(counts, 0, 0), NULL, 10) : 0;
    PQclear(counts);
    *rows = s_q(conn, s_fetch_sql(q->kind), 1, tp, "fetch", out);
    return *rows ? HIST_OK : out->status;
}

PGresult *hist_fetch(PGconn *conn, enum hist_kind kind, const char *ticket,
                     struct hist_outcome *out)
{
    const char *tp[1] = {ticket};

    memset(out, 0, sizeof *out);
    return s_q(conn, s_fetch_sql(kind), 1, tp, "fetch", out);
}

PGresult *hist_cameras(PGconn *conn, struct hist_outcome *out)
{
    memset(out, 0, sizeof *out);
    return s_q(conn,
               "SELECT code, name, latitude, longitude FROM anpr.camera "
               "WHERE latitude IS NOT NULL AND longitude IS NOT NULL ORDER BY code",
               0, NULL, "cameras", out);
}
