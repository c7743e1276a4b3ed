/*
 * board: the dispatch board's event stream and its acknowledgements (board.h). A stream runs
 * in its connection's own thread (libmicrohttpd calls s_stream_read there and it may wait):
 * first the catch-up from anpr.dispatch_hits on the person's own connection (with the covert
 * HITs of the lists the person is cleared for, when anpr-web follows the covert feed: asked with
 * anpr.covert_request, whose audit row commits on its own, then read with anpr.covert_rows),
 * then the hub's HITs as they come, and every 2 s the feed's health and the
 * acknowledgements made since. A covert HIT from the hub goes out only when the person is
 * cleared for its list: anpr.my_covert_lists() on their connection, asked again when the answer
 * is older than BOARD_CLEAR_US, so a clearance withdrawn stops the HITs within that time.
 */
#include "board.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "log.h"
#include "login.h"
#include "util.h"

#define BOARD_POLL_US   2000000 /* a stream's health and acknowledgement poll */
#define BOARD_PAGE      500     /* catch-up rows a query: sent before the next is asked */
#define BOARD_CLEAR_US  2000000 /* a person's covert clearances are asked again after this */
#define BOARD_CLEAR_MAX 256     /* covert lists one person may be cleared for (more: not shown) */
#define BOARD_STR_(x)   #x
#define BOARD_STR(x)    BOARD_STR_(x)

/* The catch-up: what anpr-console --since asks anpr.dispatch_hits, with the acknowledgement.
   The ids go out as text (JavaScript numbers lose digits) under other names: ORDER BY hit_id
   would otherwise sort the text. */
#define BOARD_COLS                                                                                 \
    "hit_id::text AS id_text, (extract(epoch FROM read_time) * 1000000)::bigint::text, "           \
    "camera, "                                                                                     \
    "coalesce(read_plate, plate), plate, read_country, confidence, lane, direction, "              \
    "entry_id::text, list_id, coalesce(list_name, '?'), category, priority, match_kind, "          \
    "coalesce(entry_plate, '?'), entry_country, instruction, external_ref, detail, reading, "      \
    "nsubst, post_match, ack_decision, ack_reason, ack_operator, "                                 \
    "(extract(epoch FROM acked_at) * 1000000)::bigint::text, ack_note, "
static const char s_catch_up_sql[] =
    "SELECT " BOARD_COLS "false, hit_id FROM anpr.dispatch_hits WHERE NOT suppressed AND "
    "CASE WHEN $1::bigint > 0 THEN hit_id > $1::bigint "
    "ELSE read_time > now() - make_interval(hours => $2::integer) END "
    "ORDER BY hit_id LIMIT " BOARD_STR(BOARD_PAGE);
/* The covert HITs of a page are asked first, in a statement of their own: its audit row must
   have committed before anpr.covert_rows returns them (migration 021). A person cleared for no
   covert list gets no ticket (NULL), and no row. */
static const char s_covert_request_sql[] =
    "SELECT anpr.covert_request($1::bigint, $2::integer, " BOARD_STR(BOARD_PAGE) ")";
/* How many HITs the ticket named and the last: anpr.covert_rows leaves out those dropped since
   the request (a clearance withdrawn), so its rows cannot tell whether more follow. */
static const char s_covert_page_sql[] = "SELECT named, last_hit FROM anpr.covert_page($1::bigint)";
/* The page with the covert HITs of the ticket $3; a ticket that named a full page bounds the
   page at its last HIT ($4): the covert HITs after it are the next ticket's. */
static const char s_catch_up_covert_sql[] =
    "SELECT * FROM (SELECT " BOARD_COLS "false, hit_id AS sort_id FROM anpr.dispatch_hits "
    "WHERE NOT suppressed AND "
    "CASE WHEN $1::bigint > 0 THEN hit_id > $1::bigint "
    "ELSE read_time > now() - make_interval(hours => $2::integer) END "
    "AND ($4::bigint IS NULL OR hit_id <= $4::bigint) "
    "UNION ALL SELECT " BOARD_COLS
    "true, hit_id FROM anpr.covert_rows($3::bigint)) u ORDER BY sort_id LIMIT " BOARD_STR(
        BOARD_PAGE);

struct stream {
    struct web *a;
    sess_t *s;
    char sid[SESS_TOKEN_LEN + 1];
    uint64_t seq;                      /* the hub's event last sent */
    uint64_t since;                    /* Last-Event-ID: catch up after this hit_id */
    uint64_t max_id;                   /* the highest hit_id sent: each event's id */
    char ack_after[24];                /* the last anpr.hit_ack id sent */
    bool started;                      /* the stream's first events are out */
    bool catching;                     /* catching up: the next page of the catch-up is due */
    uint32_t cleared[BOARD_CLEAR_MAX]; /* the covert lists the person is cleared for ... */
    size_t ncleared;
    int64_t cleared_at; /* ... as the database said then (monotonic; 0: not asked yet) */
    int64_t next_poll_us;
    struct wj out; /* text not yet sent */
    size_t off;
};

static void s_stream_free(void *cls)
{
    struct stream *st = cls;

    sess_put(st->a->sessions, &st->s);
    wj_free(&st->out);
    free(st);
}

static void s_event(struct stream *st, const char *type, uint64_t hit_id, const char *json)
{
    if (hit_id > st->max_id)
        st->max_id = hit_id;
    wj_fmt(&st->out, "event: %s\n", type);
    if (st->max_id)
        wj_fmt(&st->out, "id: %" PRIu64 "\n", st->max_id);
    wj_raw(&st->out, "data: ");
    wj_raw(&st->out, json);
    wj_raw(&st->out, "\n\n");
}

static const char *const s_match_names[] = {"?", "exact", "ocr", "candidate", "pattern"};

/* A failed catch-up query as a "problem" event; the catch-up is over. */
static void s_catch_up_failed(struct stream *st, const PGresult *res)
{
    struct wj e = {0};
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    wj_raw(&e, "{\"error\":");
    wj_str(&e, m ? m : "database error");
    wj_raw(&e, "}");
    if (!wj_failed(&e))
        s_event(st, "problem", 0, e.s);
    wj_free(&e);
    st->catching = false;
}

/* One page of the catch-up as "hit" events, each marked caught_up, with its acknowledgement;
   after it, the catch-up goes on from its last HIT (st->since), or is over (st->catching
   false). A page at a time: a long catch-up is sent as it is read, not held in memory. */
static void s_catch_up(struct stream *st, PGconn *conn)
{
    char since[24], hours[16], ticket[24] = "", bound[24] = "";
    const char *params[4] = {since, hours, ticket, NULL};
    uint64_t last = 0; /* a full ticket's last HIT: the page goes at least that far */
    PGresult *res;
    static const char *const names[] = {
        "hit_id",       "time_us",  "camera",    "read_plate",  "matched_plate", "country",
        "confidence",   "lane",     "direction", "entry_id",    "list_id",       "list",
        "category",     "priority", "match",     "entry_plate", "entry_country", "instruction",
        "external_ref", "detail",   "reading",   "nsubst",      "post_match"};

    snprintf(since, sizeof since, "%" PRIu64, st->since);
    snprintf(hours, sizeof hours, "%d", st->a->conf->catch_up_hours);
    if (st->a->conf->ncovert) {
        res = PQexecParams(conn, s_covert_request_sql, 2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            s_catch_up_failed(st, res);
            PQclear(res);
            return;
        }
        if (PQgetisnull(res, 0, 0))
            params[2] = NULL;
        else
            snprintf(ticket, sizeof ticket, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        if (params[2]) {
            res = PQexecParams(conn, s_covert_page_sql, 1, NULL, params + 2, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
                s_catch_up_failed(st, res);
                PQclear(res);
                return;
            }
            if (strtol(PQgetvalue(res, 0, 0), NULL, 10) == BOARD_PAGE && !PQgetisnull(res, 0, 1)) {
                snprintf(bound, sizeof bound, "%s", PQgetvalue(res, 0, 1));
                params[3] = bound;
                last = strtoull(bound, NULL, 10);
            }
            PQclear(res);
        }
        res = PQexecParams(conn, s_catch_up_covert_sql, 4, NULL, params, NULL, NULL, 0);
    } else {
        res = PQexecParams(conn, s_catch_up_sql, 2, NULL, params, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        s_catch_up_failed(st, res);
        PQclear(res);
        return;
    }
    st->catching = PQntuples(res) == BOARD_PAGE || last > 0;
    for (int i = 0; i < PQntuples(res); i++) {
        struct wj b = {0};
        wj_raw(&b, "{");
        for (int k = 0; k < 23; k++) {
            wj_key(&b, names[k], k == 0);
            if (k == 14) {
                long m = strtol(PQgetvalue(res, i, k), NULL, 10);
                wj_str(&b, m >= 1 && m <= 4 ? s_match_names[m] : "unknown");
            } else if (k == 0 || k == 9) {
                wj_str(&b, PQgetvalue(res, i, k));
            } else if (k == 1) {
                wj_raw(&b, PQgetvalue(res, i, k));
            } else {
                wj_pg_value(&b, res, i, k);
            }
        }
        wj_raw(&b, ",\"again\":false,\"caught_up\":true");
        if (*PQgetvalue(res, i, 28) == 't')
            wj_raw(&b, ",\"covert\":true");
        if (!PQgetisnull(res, i, 23)) {
            wj_raw(&b, ",\"ack\":{\"decision\":");
            wj_pg_value(&b, res, i, 23);
            wj_raw(&b, ",\"reason\":");
            wj_pg_value(&b, res, i, 24);
            wj_raw(&b, ",\"operator\":");
            wj_pg_value(&b, res, i, 25);
            wj_raw(&b, ",\"at_us\":");
            wj_raw(&b, PQgetisnull(res, i, 26) ? "null" : PQgetvalue(res, i, 26));
            wj_raw(&b, ",\"note\":");
            wj_pg_value(&b, res, i, 27);
            wj_raw(&b, "}");
        }
        wj_raw(&b, "}");
        st->since = strtoull(PQgetvalue(res, i, 0), NULL, 10);
        if (!wj_failed(&b))
            s_event(st, "hit", st->since, b.s);
        wj_free(&b);
    }
    /* A short page of a full ticket: every HIT up to its last was sent or dropped. */
    if (PQntuples(res) < BOARD_PAGE && last > st->since)
        st->since = last;
    PQclear(res);
}

/* Acknowledgements made since the last poll, by anyone, as "ack" events. */
static void s_poll_acks(struct stream *st, PGconn *conn)
{
    const char *params[1] = {st->ack_after};
    PGresult *res = PQexecParams(
        conn,
        "SELECT id::text AS id_text, hit_id::text AS hit_text, decision, reason, operator, "
        "(extract(epoch FROM acked_at) * 1000000)::bigint::text "
        "FROM anpr.hit_ack WHERE id > $1::bigint ORDER BY id LIMIT 500",
        1, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(res); i++) {
            struct wj b = {0};
            wj_raw(&b, "{\"hit_id\":");
            wj_str(&b, PQgetvalue(res, i, 1));
            wj_raw(&b, ",\"decision\":");
            wj_pg_value(&b, res, i, 2);
            wj_raw(&b, ",\"reason\":");
            wj_pg_value(&b, res, i, 3);
            wj_raw(&b, ",\"operator\":");
            wj_pg_value(&b, res, i, 4);
            wj_raw(&b, ",\"at_us\":");
            wj_raw(&b, PQgetvalue(res, i, 5));
            wj_raw(&b, "}");
            if (!wj_failed(&b))
                s_event(st, "ack", 0, b.s);
            wj_free(&b);
            snprintf(st->ack_after, sizeof st->ack_after, "%s", PQgetvalue(res, i, 0));
        }
    }
    PQclear(res);
}

/* Whether the person is cleared for covert list list_id now (as the database said at most
   BOARD_CLEAR_US ago). A failed question is a no: a covert HIT is never shown by mistake. */
static bool s_cleared(struct stream *st, uint32_t list_id, int64_t now)
{
    if (st->cleared_at == 0 || now - st->cleared_at > BOARD_CLEAR_US) {
        PGconn *conn = sess_lock_conn(st->s);
        PGresult *res = PQexec(conn, "SELECT anpr.my_covert_lists()");
        st->ncleared = 0;
        st->cleared_at = 0;
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            for (int i = 0; i < PQntuples(res) && st->ncleared < BOARD_CLEAR_MAX; i++)
                st->cleared[st->ncleared++] = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
            st->cleared_at = now;
        }
        PQclear(res);
        sess_unlock_conn(st->s);
    }
    for (size_t i = 0; i < st->ncleared; i++)
        if (st->cleared[i] == list_id)
            return true;
    return false;
}

static void s_health(struct stream *st)
{
    bool connected;
    int64_t last;
    uint64_t n;
    char cams[HUB_CAMERAS_MAX], srcs[HUB_SOURCES_MAX * 256];
    char json[HUB_CAMERAS_MAX + HUB_SOURCES_MAX * 256 + 256];

    hub_health(st->a->hub, &connected, &last, &n);
    hub_cameras(st->a->hub, cams, sizeof cams);
    hub_sources(st->a->hub, srcs, sizeof srcs);
    snprintf(json, sizeof json,
             "{\"feed_connected\":%s,\"last_message_us\":%" PRId64 ",\"messages\":%" PRIu64
             ",\"now_us\":%" PRId64 ",\"cameras\":%s,\"instances\":%s}",
             connected ? "true" : "false", last, n, util_now_us(), cams, srcs);
    s_event(st, "health", 0, json);
}

/* libmicrohttpd asks for more of the stream: waits (in this connection's thread) for events. */
static ssize_t s_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;

    (void)pos;
    for (;;) {
        if (st->out.len > st->off) {
            size_t n = st->out.len - st->off;
            if (n > max)
                n = max;
            memcpy(buf, st->out.s + st->off, n);
            st->off += n;
            if (st->off == st->out.len)
                st->off = st->out.len = 0;
            return (ssize_t)n;
        }
        if (wj_failed(&st->out) || atomic_load(&st->a->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->next_poll_us == INT64_MAX) /* "ended" is sent: the stream is over */
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (sess_ended(st->a->sessions, st->s)) {
            /* signed out (here or in another tab) or timed out: the page goes to sign-in */
            s_event(st, "ended", 0, "{}");
            st->next_poll_us = INT64_MAX;
            continue;
        }
        int64_t now = util_mono_us();
        if (!st->started) {
            PGconn *conn = sess_lock_conn(st->s);
            PGresult *res = PQexec(conn, "SELECT coalesce(max(id), 0)::text FROM anpr.hit_ack");
            snprintf(st->ack_after, sizeof st->ack_after, "%s",
                     PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                         ? PQgetvalue(res, 0, 0)
                         : "0");
            PQclear(res);
            sess_unlock_conn(st->s);
            /* the hub's position first: a HIT published during the catch-up is sent after it */
            st->seq = hub_head(st->a->hub);
            wj_raw(&st->out, "retry: 2000\n\n");
            st->started = st->catching = true;
            continue;
        }
        if (st->catching) {
            PGconn *conn = sess_lock_conn(st->s);
            s_catch_up(st, conn);
            sess_unlock_conn(st->s);
            if (!st->catching) {
                s_event(st, "live", 0, "{}");
                s_health(st);
                st->next_poll_us = now + BOARD_POLL_US;
            }
            continue;
        }
        if (now >= st->next_poll_us) {
            /* the stream keeps its session alive: an open board is in use */
            sess_t *again = sess_get(st->a->sessions, st->sid, now / 1000000);
            sess_put(st->a->sessions, &again);
            PGconn *conn = sess_lock_conn(st->s);
            s_poll_acks(st, conn);
            sess_unlock_conn(st->s);
            login_check_conn(st->a, st->s); /* lost: "ended" goes out next */
            s_health(st);
            st->next_poll_us = now + BOARD_POLL_US;
            continue;
        }
        char *json = NULL;
        uint64_t hit_id = 0;
        uint32_t covert_list = 0;
        int wait_ms = (int)((st->next_poll_us - now) / 1000) + 1;
        int r = hub_next(st->a->hub, st->seq, wait_ms, &json, &hit_id, &covert_list);
        if (r == 1) {
            st->seq++;
            /* A covert HIT only for a person cleared for its list now. Its id is not the
               stream's id when it is not sent: an uncleared board learns nothing of it. */
            if (covert_list == 0 || s_cleared(st, covert_list, util_mono_us()))
                s_event(st, "hit", hit_id, json);
            free(json);
        } else if (r < 0) {
            /* behind the ring, or shutting down: the browser reconnects and catches up */
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
    }
}

enum MHD_Result board_events(struct web *a, struct MHD_Connection *c, sess_t *s)
{
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, WEB_SESSION_COOKIE);
    long long v = 0;
    struct stream *st;

    if (!(sess_roles(s) & SESS_DISPATCH))
        return http_error(c, MHD_HTTP_FORBIDDEN, "the board is for dispatch (anpr_dispatch)");
    if (!(st = calloc(1, sizeof *st)))
        return MHD_NO;
    /* Last-Event-ID (the browser's reconnect), else ?since= (a page signed in again) */
    if ((last && util_parse_long(last, 0, INT64_MAX, &v) == 0) ||
        (since && util_parse_long(since, 0, INT64_MAX, &v) == 0))
        st->since = (uint64_t)v;
    st->a = a;
    snprintf(st->sid, sizeof st->sid, "%s", sid ? sid : "");
    /* the stream's own reference (the caller drops the request's when this returns) */
    if (!(st->s = sess_peek(a->sessions, st->sid, util_mono_us() / 1000000))) {
        free(st);
        return http_error(c, MHD_HTTP_UNAUTHORIZED, "not signed in (or the session ended)");
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               s_stream_read, st, s_stream_free);
    if (!r) {
        s_stream_free(st);
        return MHD_NO;
    }
    http_headers(r, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass events at once */
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* --- acknowledging ------------------------------------------------------------------------ */

enum MHD_Result board_ack(struct MHD_Connection *c, sess_t *s, struct web_req *rq)
{
    char ids[4096], decision[32], reason[64], note[512];
    struct wj b = {0};
    bool all_ok = true;
    enum MHD_Result rc;

    if (!(sess_roles(s) & SESS_DISPATCH))
        return http_error(c, MHD_HTTP_FORBIDDEN, "acknowledging is for dispatch (anpr_dispatch)");
    if (!http_form(rq->body.s, "hit_ids", ids, sizeof ids) ||
        !http_form(rq->body.s, "decision", decision, sizeof decision))
        return http_error(c, MHD_HTTP_BAD_REQUEST, "hit_ids and decision are required");
    if (!http_form(rq->body.s, "reason", reason, sizeof reason))
        reason[0] = '\0';
    if (!http_form(rq->body.s, "note", note, sizeof note))
        note[0] = '\0';
    PGconn *conn = sess_lock_conn(s);
    wj_raw(&b, "{\"results\":[");
    int n = 0;
    for (char *save = NULL, *id = strtok_r(ids, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        long long v;
        /* An empty reason or note is none (NULL), as anpr-console sends it. */
        const char *params[4] = {id, decision, reason[0] ? reason : NULL, note[0] ? note : NULL};
        const char *err = NULL;
        char msg[512] = "";
        PGresult *res = NULL;

        if (n++ >= 64)
            break;
        if (util_parse_long(id, 1, INT64_MAX, &v) != 0)
            err = "not a HIT id";
        wj_raw(&b, n > 1 ? ",{\"hit_id\":" : "{\"hit_id\":");
        wj_str(&b, id);
        if (!err) {
            /* A colleague's acknowledgement is final: the database refuses this one, naming
             * who and when (migration 018). */
            res = PQexecParams(conn, "SELECT anpr.acknowledge_hit($1::bigint, $2, $3, $4)::text", 4,
                               NULL, params, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                snprintf(msg, sizeof msg, "%s", m ? m : PQerrorMessage(conn));
                err = msg;
            }
        }
        if (err) {
            all_ok = false;
            wj_raw(&b, ",\"error\":");
            wj_str(&b, err);
        } else {
            wj_raw(&b, ",\"ack_id\":");
            wj_str(&b, PQgetvalue(res, 0, 0));
            log_info(WEB_SUB, "ack: user '%s': HIT %s %s%s%s", cli_text(sess_user(s)), id,
                     cli_text(decision), *reason ? " reason " : "", cli_text(reason));
        }
        PQclear(res);
        wj_raw(&b, "}");
    }
    sess_unlock_conn(s);
    wj_raw(&b, "]}");
    rc = wj_failed(&b) ? MHD_NO
                       : http_json(c, all_ok ? MHD_HTTP_OK : MHD_HTTP_UNPROCESSABLE_CONTENT, b.s);
    wj_free(&b);
    return rc;
}
