/* desk: the investigator desk's searches (desk.h). */
#include "desk.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hist.h"
#include "http.h"
#include "log.h"
#include "util.h"

static bool s_kind(const char *k, enum hist_kind *out)
{
    if (strcmp(k, "reads") == 0)
        *out = HIST_READS;
    else if (strcmp(k, "hits") == 0)
        *out = HIST_HITS;
    else if (strcmp(k, "cotravel") == 0)
        *out = HIST_COTRAVEL;
    else
        return false;
    return true;
}

/* An outcome that is not HIST_OK as its answer. */
static enum MHD_Result s_hist_fail(struct MHD_Connection *c, const struct hist_outcome *h)
{
    struct wj b = {0};
    enum MHD_Result rc;
    unsigned status = h->status == HIST_REFUSED  ? MHD_HTTP_UNPROCESSABLE_CONTENT
                      : h->status == HIST_DENIED ? MHD_HTTP_FORBIDDEN
                                                 : MHD_HTTP_INTERNAL_SERVER_ERROR;

    wj_raw(&b, "{\"granted\":false,\"refused\":");
    wj_raw(&b, h->status == HIST_REFUSED ? "true" : "false");
    wj_raw(&b, ",\"rule\":");
    wj_str(&b, h->status == HIST_REFUSED ? h->rule : NULL);
    wj_raw(&b, ",\"error\":");
    wj_str(&b, h->message);
    wj_raw(&b, "}");
    rc = wj_failed(&b) ? MHD_NO : http_json(c, status, b.s);
    wj_free(&b);
    return rc;
}

enum MHD_Result desk_search(struct MHD_Connection *c, sess_t *s, struct web_req *rq)
{
    char kind[16], reason[512], case_ref[128], decision[128], plate[64], match[16], cams[2048],
        list[128], from[64], to[64], limit[16], max_subst[8], window[16], mincam[16];
    const char *cam[64];
    struct hist_query q = {0};
    struct hist_outcome h;
    PGresult *rows = NULL;
    const char *body = rq->body.s;

    if (!http_form(body, "kind", kind, sizeof kind) || !s_kind(kind, &q.kind))
        return http_error(c, MHD_HTTP_BAD_REQUEST, "kind: reads, hits or cotravel");
#define S_FIELD(name, var) (http_form(body, name, var, sizeof var) && *var ? var : NULL)
    q.reason = S_FIELD("reason", reason);
    q.case_ref = S_FIELD("case", case_ref);
    q.decision = S_FIELD("decision", decision);
    q.plate = S_FIELD("plate", plate);
    q.match = S_FIELD("match", match);
    q.list = S_FIELD("list", list);
    q.from = S_FIELD("from", from);
    q.to = S_FIELD("to", to);
    q.limit = S_FIELD("limit", limit);
    q.max_subst = S_FIELD("max_subst", max_subst);
    q.window = S_FIELD("window", window);
    q.min_cameras = S_FIELD("min_cameras", mincam);
#undef S_FIELD
    if (!q.limit)
        q.limit = "1000";
    if (http_form(body, "cameras", cams, sizeof cams))
        for (char *save = NULL, *t = strtok_r(cams, ", ", &save); t && q.ncameras < 64;
             t = strtok_r(NULL, ", ", &save))
            cam[q.ncameras++] = t;
    q.cameras = cam;

    PGconn *conn = sess_lock_conn(s);
    hist_search(conn, &q, &rows, &h);
    sess_unlock_conn(s);
    log_info(WEB_SUB, "search: user '%s': %s %s%s%s", cli_text(sess_user(s)), kind,
             h.status == HIST_OK        ? "granted, ticket "
             : h.status == HIST_REFUSED ? "refused, rule "
             : h.status == HIST_DENIED  ? "denied by the database"
                                        : "failed",
             h.status == HIST_OK        ? h.ticket
             : h.status == HIST_REFUSED ? cli_text(h.rule)
                                        : "",
             "");
    if (h.status != HIST_OK)
        return s_hist_fail(c, &h);
    struct wj b = {0};
    wj_raw(&b, "{\"granted\":true,\"ticket\":");
    wj_str(&b, h.ticket);
    wj_raw(&b, ",\"kind\":");
    wj_str(&b, kind);
    wj_fmt(&b, ",\"more\":%lld,\"note\":", h.more);
    wj_str(&b, h.message);
    wj_raw(&b, ",");
    wj_pg_table(&b, rows);
    wj_raw(&b, "}");
    PQclear(rows);
    enum MHD_Result rc = wj_failed(&b) ? MHD_NO : http_json(c, MHD_HTTP_OK, b.s);
    wj_free(&b);
    return rc;
}

/* The rows of a granted search again, as CSV (cells a spreadsheet would run neutralised). */
enum MHD_Result desk_csv(struct MHD_Connection *c, sess_t *s)
{
    const char *kind = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kind");
    const char *ticket = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ticket");
    enum hist_kind k;
    long long t;
    struct hist_outcome h;

    if (!kind || !s_kind(kind, &k) || !ticket || util_parse_long(ticket, 1, INT64_MAX, &t) != 0)
        return http_error(c, MHD_HTTP_BAD_REQUEST, "kind and ticket are required");
    PGconn *conn = sess_lock_conn(s);
    PGresult *res = hist_fetch(conn, k, ticket, &h);
    sess_unlock_conn(s);
    if (!res)
        return s_hist_fail(c, &h);
    struct wj b = {0};
    int rows = PQntuples(res), cols = PQnfields(res);
    for (int j = 0; j < cols; j++)
        wj_csv(&b, PQfname(res, j), j == cols - 1);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            wj_csv(&b, PQgetisnull(res, i, j) ? "" : PQgetvalue(res, i, j), j == cols - 1);
    PQclear(res);
    if (wj_failed(&b)) {
        wj_free(&b);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.s, MHD_RESPMEM_MUST_COPY);
    wj_free(&b);
    if (!r)
        return MHD_NO;
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"anpr-%s-%s.csv\"", kind, ticket);
    http_headers(r, "text/csv; charset=utf-8");
    MHD_add_response_header(r, "Content-Disposition", disp);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}
