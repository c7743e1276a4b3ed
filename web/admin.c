/* admin: the watchlist admin page's API (admin.h). */
#include "admin.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "log.h"
#include "util.h"
#include "wladm.h"

#define S_PAGE 50 /* entries a page */

/* A wladm_rc as the HTTP status of a refusal. */
static unsigned s_status(int rc)
{
    return rc == WLADM_NOTHING ? MHD_HTTP_NOT_FOUND
           : rc == WLADM_INPUT ? MHD_HTTP_UNPROCESSABLE_CONTENT
                               : MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* {"error", "field", "value"} of a refusal, with more members (raw JSON, "" none). */
static enum MHD_Result s_fail(struct MHD_Connection *c, int rc, const struct wladm_err *err,
                              const char *more)
{
    struct wj b = {0};
    enum MHD_Result r;

    wj_raw(&b, "{\"error\":");
    wj_str(&b, err->msg);
    wj_raw(&b, ",\"field\":");
    wj_str(&b, err->field);
    wj_raw(&b, ",\"value\":");
    wj_str(&b, err->value);
    wj_raw(&b, more);
    wj_raw(&b, "}");
    r = wj_failed(&b) ? MHD_NO : http_json(c, s_status(rc), b.s);
    wj_free(&b);
    return r;
}

static enum MHD_Result s_send(struct MHD_Connection *c, struct wj *b)
{
    enum MHD_Result r = wj_failed(b) ? MHD_NO : http_json(c, MHD_HTTP_OK, b->s);

    wj_free(b);
    return r;
}

static enum MHD_Result s_lists(struct MHD_Connection *c, sess_t *s)
{
    struct wladm_err err;
    int rc = WLADM_OK;
    PGresult *res = wladm_lists(sess_lock_conn(s), &rc, &err);
    struct wj b = {0};

    sess_unlock_conn(s);
    if (!res)
        return s_fail(c, rc, &err, "");
    wj_raw(&b, "{");
    wj_pg_table(&b, res);
    wj_raw(&b, "}");
    PQclear(res);
    return s_send(c, &b);
}

static enum MHD_Result s_entries(struct MHD_Connection *c, sess_t *s)
{
    const char *list = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "list");
    const char *filter = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "filter");
    const char *page = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "page");
    struct wladm_err err;
    long long pg = 0, total = 0;
    char id[24];
    int rc;

    if (!list || !*list)
        return http_error(c, MHD_HTTP_BAD_REQUEST, "list is required");
    if (page && *page && util_parse_long(page, 0, 1000000000, &pg) != 0)
        return http_error(c, MHD_HTTP_BAD_REQUEST, "page: a number from 0");
    PGconn *conn = sess_lock_conn(s);
    PGresult *res = NULL;
    rc = wladm_find_list(conn, list, false, id, NULL, &err);
    if (rc == WLADM_OK)
        rc = wladm_count_entries(conn, id, filter, &total, &err);
    if (rc == WLADM_OK)
        res = wladm_entries(conn, id, filter, pg * S_PAGE, S_PAGE, &rc, &err);
    sess_unlock_conn(s);
    if (!res)
        return s_fail(c, rc, &err, "");
    struct wj b = {0};
    wj_raw(&b, "{\"list\":");
    wj_str(&b, list);
    wj_fmt(&b, ",\"total\":%lld,\"page\":%lld,\"page_size\":%d,", total, pg, S_PAGE);
    wj_pg_table(&b, res);
    wj_raw(&b, "}");
    PQclear(res);
    return s_send(c, &b);
}

enum MHD_Result admin_get(struct MHD_Connection *c, sess_t *s, const char *url)
{
    if (!(sess_roles(s) & SESS_ADMIN))
        return http_error(c, MHD_HTTP_FORBIDDEN,
                          "watchlist administration is for admins (anpr_admin)");
    if (strcmp(url, "/api/admin/lists") == 0)
        return s_lists(c, s);
    if (strcmp(url, "/api/admin/entries") == 0)
        return s_entries(c, s);
    return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

/* A form field: its value into out, or NULL when absent or empty. */
#define S_FIELD(body, name, var) (http_form(body, name, var, sizeof var) && *var ? var : NULL)

static bool s_flag(const char *body, const char *name)
{
    char v[8];

    return http_form(body, name, v, sizeof v) &&
           (strcmp(v, "1") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0);
}

static enum MHD_Result s_add(struct MHD_Connection *c, sess_t *s, const char *body)
{
    char list[128], plate[64], country[8], from[64], until[64], instr[2048], ref[256], req[256];
    struct wladm_entry e = {0};
    struct wladm_added a;
    struct wladm_err err;
    const char *l = S_FIELD(body, "list", list);
    bool pattern = s_flag(body, "pattern"), force = s_flag(body, "force");

    e.plate = S_FIELD(body, "plate", plate);
    e.country = S_FIELD(body, "country", country);
    e.from = S_FIELD(body, "valid_from", from);
    e.until = S_FIELD(body, "valid_until", until);
    e.instruction = S_FIELD(body, "instruction", instr);
    e.ref = S_FIELD(body, "external_ref", ref);
    e.requested_by = S_FIELD(body, "requested_by", req);
    if (!l || !e.plate)
        return http_error(c, MHD_HTTP_BAD_REQUEST, "list and plate are required");
    /* The page says whether a plate is meant as a pattern: a stray '*' is not one by accident. */
    if (pattern != (strpbrk(e.plate, "?*") != NULL)) {
        snprintf(err.field, sizeof err.field, "plate");
        snprintf(err.value, sizeof err.value, "%s", e.plate);
        snprintf(err.msg, sizeof err.msg, "%s",
                 pattern ? "a pattern needs ? (one character) or * (any number)"
                         : "has ? or *: tick 'pattern' to add it as a pattern");
        return s_fail(c, WLADM_INPUT, &err, "");
    }
    int rc = wladm_add(sess_lock_conn(s), l, &e, force, &a, &err);
    sess_unlock_conn(s);
    if (rc != WLADM_OK) {
        log_info(WEB_SUB, "admin: user '%s': add to list '%s' refused: %s", cli_text(sess_user(s)),
                 cli_text(l), cli_text(err.msg));
        return s_fail(c, rc, &err, a.broad && !force ? ",\"broad\":true" : "");
    }
    log_info(WEB_SUB, "admin: user '%s': added entry %s (%s) to list '%s'%s",
             cli_text(sess_user(s)), a.id, a.norm, cli_text(l), a.broad ? " (forced pattern)" : "");
    char from_t[40], until_t[40];
    wladm_utc_text(a.from, from_t);
    wladm_utc_text(a.until, until_t);
    struct wj b = {0};
    wj_raw(&b, "{\"id\":");
    wj_str(&b, a.id);
    wj_raw(&b, ",\"plate\":");
    wj_str(&b, a.norm);
    wj_raw(&b, ",\"country\":");
    wj_str(&b, a.country);
    wj_raw(&b, ",\"also_as\":");
    wj_str(&b, *a.alt ? a.alt : NULL);
    wj_raw(&b, ",\"valid_from\":");
    wj_str(&b, a.from == WLADM_NO_FROM ? NULL : from_t);
    wj_raw(&b, ",\"valid_until\":");
    wj_str(&b, a.until == WLADM_NO_UNTIL ? NULL : until_t);
    wj_fmt(&b, ",\"forced\":%s,\"would_hit\":", a.broad ? "true" : "false");
    if (a.broad && a.would_hit >= 0)
        wj_fmt(&b, "%lld", a.would_hit);
    else
        wj_raw(&b, "null");
    wj_raw(&b, "}");
    return s_send(c, &b);
}

static enum MHD_Result s_expire(struct MHD_Connection *c, sess_t *s, const char *body)
{
    char id[32];
    struct wladm_err err;

    if (!http_form(body, "id", id, sizeof id))
        return http_error(c, MHD_HTTP_BAD_REQUEST, "id is required");
    int rc = wladm_expire(sess_lock_conn(s), id, &err);
    sess_unlock_conn(s);
    if (rc != WLADM_OK)
        return s_fail(c, rc, &err, "");
    log_info(WEB_SUB, "admin: user '%s': expired entry %s", cli_text(sess_user(s)), id);
    struct wj b = {0};
    wj_raw(&b, "{\"expired\":");
    wj_str(&b, id);
    wj_raw(&b, "}");
    return s_send(c, &b);
}

/* The import's outcome: counts, every defect with its line and column, forced patterns. */
static void s_import_json(struct wj *b, const struct wladm_import *r)
{
    char sep[2] = {r->sep ? r->sep : ',', '\0'};

    wj_fmt(b, "\"imported\":%s,\"rows\":%zu,\"good\":%zu,\"bad\":%zu,\"separator\":",
           r->imported ? "true" : "false", r->rows, r->good, r->bad);
    wj_str(b, sep);
    wj_raw(b, ",\"errors\":[");
    for (size_t i = 0; i < r->nerrs; i++) {
        const struct wladm_rowerr *e = &r->errs[i];
        wj_fmt(b, "%s{\"line\":%d,\"column\":%d,\"header\":%s,\"field\":", i ? "," : "", e->line,
               e->column, e->header ? "true" : "false");
        wj_str(b, e->field);
        wj_raw(b, ",\"error\":");
        wj_str(b, e->msg);
        wj_raw(b, "}");
    }
    wj_raw(b, "],\"forced\":[");
    for (size_t i = 0; i < r->nforced; i++) {
        wj_raw(b, i ? ",{\"pattern\":" : "{\"pattern\":");
        wj_str(b, r->forced[i].norm);
        if (r->forced[i].count >= 0)
            wj_fmt(b, ",\"would_hit\":%lld}", r->forced[i].count);
        else
            wj_raw(b, ",\"would_hit\":null}");
    }
    wj_raw(b, "]");
}

static enum MHD_Result s_import(struct MHD_Connection *c, sess_t *s, const char *body)
{
    char list[128], sep[8];
    size_t cap = strlen(body) + 1;
    char *csv = malloc(cap);
    struct wladm_import_opts o = {.skip_bad = s_flag(body, "skip_bad"),
                                  .force = s_flag(body, "force"),
                                  .dry_run = s_flag(body, "dry_run")};
    struct wladm_import r;
    struct wladm_err err;
    enum MHD_Result ret;

    if (!csv)
        return MHD_NO;
    if (!http_form(body, "list", list, sizeof list) || !*list ||
        !http_form(body, "csv", csv, cap)) {
        free(csv);
        return http_error(c, MHD_HTTP_BAD_REQUEST, "list and csv are required");
    }
    if (http_form(body, "separator", sep, sizeof sep) && *sep && strcmp(sep, "auto") != 0) {
        if (strcmp(sep, ",") != 0 && strcmp(sep, ";") != 0) {
            free(csv);
            return http_error(c, MHD_HTTP_BAD_REQUEST, "separator: ',', ';' or auto");
        }
        o.sep = sep[0];
    }
    int rc = wladm_import(sess_lock_conn(s), list, csv, strlen(csv), &o, &r, &err);
    sess_unlock_conn(s);
    log_info(WEB_SUB, "admin: user '%s': import into list '%s': %zu rows, %zu bad, %s",
             cli_text(sess_user(s)), cli_text(list), r.rows, r.bad,
             r.imported                    ? "imported"
             : o.dry_run && rc == WLADM_OK ? "dry run"
                                           : "nothing imported");
    struct wj b = {0};
    if (rc == WLADM_OK || (rc == WLADM_NOTHING && r.imported)) {
        wj_raw(&b, "{");
        s_import_json(&b, &r);
        wj_raw(&b, "}");
        ret = s_send(c, &b);
    } else {
        if (rc == WLADM_INPUT && !err.msg[0])
            snprintf(err.msg, sizeof err.msg,
                     "%zu bad row%s; nothing imported into '%.128s' (skip bad rows imports the "
                     "%zu good ones)",
                     r.bad, r.bad == 1 ? "" : "s", list, r.good);
        wj_raw(&b, ",");
        s_import_json(&b, &r);
        ret = wj_failed(&b) ? MHD_NO : s_fail(c, rc, &err, b.s);
        wj_free(&b);
    }
    wladm_import_free(&r);
    free(csv);
    return ret;
}

enum MHD_Result admin_post(struct MHD_Connection *c, sess_t *s, const char *url, struct web_req *rq)
{
    if (!(sess_roles(s) & SESS_ADMIN))
        return http_error(c, MHD_HTTP_FORBIDDEN,
                          "watchlist administration is for admins (anpr_admin)");
    if (strcmp(url, "/api/admin/add") == 0)
        return s_add(c, s, rq->body.s);
    if (strcmp(url, "/api/admin/expire") == 0)
        return s_expire(c, s, rq->body.s);
    if (strcmp(url, "/api/admin/import") == 0)
        return s_import(c, s, rq->body.s);
    return http_error(c, MHD_HTTP_NOT_FOUND, "not found");
}
