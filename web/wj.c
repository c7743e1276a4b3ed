/* wj: JSON and CSV text (wj.h). */
#include "wj.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "csv.h"

static bool s_grow(struct wj *b, size_t n)
{
    if (b->oom)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n + 1 > cap)
        cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->s = p;
    b->cap = cap;
    return true;
}

void wj_rawn(struct wj *b, const char *s, size_t n)
{
    if (!s_grow(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void wj_raw(struct wj *b, const char *s)
{
    wj_rawn(b, s, strlen(s));
}

void wj_fmt(struct wj *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        wj_rawn(b, tmp, (size_t)n);
        return;
    }
    if (!s_grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void wj_free(struct wj *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

bool wj_failed(const struct wj *b)
{
    return b->oom;
}

void wj_str(struct wj *b, const char *s)
{
    if (!s) {
        wj_raw(b, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    wj_raw(b, "\"");
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = cli_utf8(p + i, n - i, &cp);

        if (k == 0) {
            wj_raw(b, "\\ufffd");
            i++;
            continue;
        }
        if (cp == '"')
            wj_raw(b, "\\\"");
        else if (cp == '\\')
            wj_raw(b, "\\\\");
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == '<' || cp == '>' ||
                 cp == '&' || cp == 0x2028 || cp == 0x2029)
            wj_fmt(b, "\\u%04x", (unsigned)cp);
        else
            wj_rawn(b, (const char *)p + i, k);
        i += k;
    }
    wj_raw(b, "\"");
}

void wj_key(struct wj *b, const char *key, bool first)
{
    if (!first)
        wj_raw(b, ",");
    wj_str(b, key);
    wj_raw(b, ":");
}

void wj_csv(struct wj *b, const char *s, bool last)
{
    const char *guard = csv_risky(s) ? "'" : "";

    if (strpbrk(s, ",\"\r\n\t;")) {
        wj_raw(b, "\"");
        wj_raw(b, guard);
        for (; *s; s++) {
            if (*s == '"')
                wj_raw(b, "\"");
            wj_rawn(b, s, 1);
        }
        wj_raw(b, "\"");
    } else {
        wj_raw(b, guard);
        wj_raw(b, s);
    }
    wj_raw(b, last ? "\r\n" : ",");
}

void wj_hit(struct wj *b, const struct proto_hit *h, bool again, bool sighting)
{
    const struct proto_read *r = &h->read;
    const char *m = proto_match_name(h->match);

    wj_fmt(b, "{\"hit_id\":\"%" PRIu64 "\",\"time_us\":%" PRId64, h->hit_id, r->time_us);
    wj_key(b, "camera", false);
    wj_str(b, r->camera);
    wj_key(b, "read_plate", false); /* as the camera read it */
    wj_str(b, r->plate);
    wj_key(b, "matched_plate", false); /* the reading that matched: the read or a candidate */
    wj_str(b, h->reading > 0 && h->reading <= r->ncand ? r->cand[h->reading - 1].plate : r->plate);
    wj_key(b, "country", false);
    wj_str(b, r->country);
    wj_fmt(b, ",\"confidence\":%u,\"lane\":%u,\"direction\":%u", (unsigned)r->confidence,
           (unsigned)r->lane, (unsigned)r->direction);
    wj_fmt(b, ",\"entry_id\":\"%" PRIu64 "\",\"list_id\":%" PRIu32, h->entry_id, h->list_id);
    wj_key(b, "list", false);
    wj_str(b, h->list);
    wj_key(b, "category", false);
    wj_str(b, h->category);
    wj_fmt(b, ",\"priority\":%u", (unsigned)h->priority);
    wj_key(b, "match", false);
    wj_str(b, m ? m : "unknown");
    wj_key(b, "entry_plate", false);
    wj_str(b, h->entry_plate);
    wj_key(b, "entry_country", false);
    wj_str(b, h->entry_country);
    wj_key(b, "instruction", false);
    wj_str(b, h->instruction);
    wj_key(b, "external_ref", false);
    wj_str(b, h->external_ref);
    wj_key(b, "detail", false);
    wj_str(b, h->detail);
    wj_fmt(b, ",\"reading\":%u,\"nsubst\":%u,\"post_match\":%s,\"again\":%s,\"sighting\":%s}",
           (unsigned)h->reading, (unsigned)h->nsubst, h->post_match ? "true" : "false",
           again ? "true" : "false", sighting ? "true" : "false");
}

void wj_heartbeat(struct wj *b, const struct proto_heartbeat *hb)
{
    wj_fmt(b,
           "{\"cameras\":%" PRIu32 ",\"reporting\":%" PRIu32 ",\"silent_after_s\":%" PRIu32
           ",\"interval_ms\":%" PRIu32 ",\"silent\":[",
           hb->cameras, hb->reporting, hb->silent_after_s, hb->interval_ms);
    for (unsigned i = 0; i < hb->nsilent; i++) {
        if (i)
            wj_raw(b, ",");
        wj_str(b, hb->silent[i]);
    }
    wj_raw(b, "]}");
}

/* PostgreSQL type oids (pg_type.dat): fixed since the beginning. */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT8 = 701 };

/* One value of a result as JSON: numbers and booleans as such, NULL as null, the rest a
   string (bigint ids too: JavaScript numbers lose their last digits). */
void wj_pg_value(struct wj *b, const PGresult *res, int i, int k)
{
    const char *v = PQgetvalue(res, i, k);

    if (PQgetisnull(res, i, k)) {
        wj_raw(b, "null");
        return;
    }
    switch (PQftype(res, k)) {
    case OID_BOOL:
        wj_raw(b, *v == 't' ? "true" : "false");
        return;
    case OID_INT2:
    case OID_INT4:
        wj_raw(b, v);
        return;
    case OID_FLOAT8:
        if (strspn(v, "0123456789+-.eE") == strlen(v) && *v) {
            wj_raw(b, v);
            return;
        }
        break;
    default:
        break;
    }
    wj_str(b, v);
}

/* {"columns": [...], "rows": [[...], ...]} members of a result (without the braces). */
void wj_pg_table(struct wj *b, const PGresult *res)
{
    int rows = PQntuples(res), cols = PQnfields(res);

    wj_raw(b, "\"columns\":[");
    for (int k = 0; k < cols; k++) {
        if (k)
            wj_raw(b, ",");
        wj_str(b, PQfname(res, k));
    }
    wj_raw(b, "],\"rows\":[");
    for (int i = 0; i < rows; i++) {
        wj_raw(b, i ? ",[" : "[");
        for (int k = 0; k < cols; k++) {
            if (k)
                wj_raw(b, ",");
            wj_pg_value(b, res, i, k);
        }
        wj_raw(b, "]");
    }
    wj_raw(b, "]");
}
