/*
 * Integration (database only): the law, as the database holds it (migration 016). Nobody but
 * the owner reads history tables; an investigator searches through the audited functions only,
 * with a reason and a case, and with the prosecutor's decision for reads past the first period;
 * every search and every refusal leaves exactly one audit row, which the caller cannot roll
 * back: a search's rows are shown only once its audit row is committed. Auditors read the audit
 * and cannot change it; dispatch sees the HITs of the first period only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

#define CAM  "BE-N78-NEERHAREN"
#define CAM2 "BE-E314-LANAKEN"

static const struct h_db *g_db;

static PGconn *s_connect(const char *user)
{
    PGconn *conn = h_connect_as(g_db, user);

    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    return conn;
}

struct s_outcome {
    long long ticket;
    bool granted;
    char rule[32];
    char message[256];
    long long rows, more;
};

/*
 * One search call (a SELECT of anpr.search_*) on conn; false when the call itself failed. The
 * outcome carries no count (it would tell what was found before the audit row commits): out of
 * a transaction block the counts are then asked of anpr.search_counts; in one, rows and more
 * are -1.
 */
static bool s_search(PGconn *conn, const char *sql, struct s_outcome *o)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

    memset(o, 0, sizeof *o);
    o->rows = o->more = -1;
    if (ok) {
        o->ticket = atoll(PQgetvalue(res, 0, 0));
        o->granted = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
        snprintf(o->rule, sizeof o->rule, "%s", PQgetvalue(res, 0, 2));
        snprintf(o->message, sizeof o->message, "%s", PQgetvalue(res, 0, 3));
        ok = PQgetisnull(res, 0, 4) && PQgetisnull(res, 0, 5);
        if (!ok)
            fprintf(stderr, "search: the outcome carries counts\n");
    } else {
        fprintf(stderr, "search failed: %s", PQerrorMessage(conn));
    }
    PQclear(res);
    if (ok && o->granted && PQtransactionStatus(conn) == PQTRANS_IDLE) {
        char q[96];
        snprintf(q, sizeof q, "SELECT * FROM anpr.search_counts(%lld)", o->ticket);
        res = PQexec(conn, q);
        ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        if (ok) {
            o->rows = atoll(PQgetvalue(res, 0, 0));
            o->more = atoll(PQgetvalue(res, 0, 1));
        } else {
            fprintf(stderr, "search_counts failed: %s", PQerrorMessage(conn));
        }
        PQclear(res);
    }
    return ok;
}

/* A reads search of plate (exact) over the last `days` days as the investigator. */
#define READS(reason, kase, decision, plate, match, cams, days, max)                               \
    "SELECT * FROM anpr.search_reads(" reason ", " kase ", " decision ", " plate ", " match        \
    ", " cams ", now() - interval '" days " days', now(), " max ")"

static long long s_audit_rows(void)
{
    return h_query_ll(g_db->admin, "SELECT count(*) FROM anpr.search_audit");
}

/* Fetch ticket's rows with `fn` on conn: how many, or -1 with the SQLSTATE in state. */
static long long s_fetch(PGconn *conn, const char *fn, long long ticket, char state[6])
{
    char sql[128];

    snprintf(sql, sizeof sql, "SELECT * FROM anpr.%s(%lld)", fn, ticket);
    PGresult *res = PQexec(conn, sql);
    long long n = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(state, 6, "%s", st ? st : "");
    PQclear(res);
    return n;
}

int main(void)
{
    struct h_db db;
    struct s_outcome o;
    char st[6];

    h_require_env();
    h_db_create(&db, "itest_law");
    g_db = &db;
    h_exec(db.admin,
           "DO $$ BEGIN "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'law_ivy') THEN "
           "CREATE ROLE law_ivy LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'law_ian') THEN "
           "CREATE ROLE law_ian LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'law_dora') THEN "
           "CREATE ROLE law_dora LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'law_adam') THEN "
           "CREATE ROLE law_adam LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'law_aude') THEN "
           "CREATE ROLE law_aude LOGIN; END IF; END $$;"
           "GRANT anpr_investigator TO law_ivy, law_ian; GRANT anpr_dispatch TO law_dora;"
           "GRANT anpr_admin TO law_adam; GRANT anpr_auditor TO law_aude;"
           "INSERT INTO anpr.camera (code, name, latitude, longitude) VALUES "
           "('" CAM "', 'N78 Neerharen', 50.95, 5.70), ('" CAM2 "', 'E314 Lanaken', 50.89, 5.65);"
           "SELECT anpr.ensure_partitions(current_date - 60, current_date + 1);"
           /* 1ABC123 yesterday and the day before at two cameras, 45 days ago once; its OCR
            * look-alike IABC123 (1 read as I) 2 days ago; plates around it for patterns. */
           "INSERT INTO anpr.plate_read (read_time, camera_id, seq, plate, plate_raw, country, "
           "confidence, lane, direction, image_ref, candidates, cand_conf, received_at) "
           "SELECT now() - d * interval '1 day', c.id, s, p, p, 'BE', 900, 1, 1, '', '{}', '{}', "
           "now() FROM (VALUES (1, 1, '1ABC123'), (2, 2, '1ABC123'), (45, 3, '1ABC123'), "
           "(2, 4, 'IABC123'), (3, 5, '1ABD999'), (3, 6, '2XYZ777')) v(d, s, p) "
           "JOIN anpr.camera c ON c.code = CASE WHEN s = 2 THEN '" CAM2 "' ELSE '" CAM "' END;"
           "INSERT INTO anpr.watchlist (name, category, priority) VALUES ('Stolen', 'stolen', 1);"
           "INSERT INTO anpr.hits (camera_id, seq, read_time, plate, entry_id, list_id, priority, "
           "category, match_kind, hit_id) SELECT r.camera_id, r.seq, r.read_time, r.plate, 1, "
           "w.id, 1, 'stolen', 0, 9000 + r.seq FROM anpr.plate_read r, anpr.watchlist w "
           "WHERE r.plate = '1ABC123';"
           /* a HIT stored before migration 009 gave HITs ids */
           "INSERT INTO anpr.hits (camera_id, seq, read_time, plate, entry_id, list_id, priority, "
           "category, match_kind) SELECT r.camera_id, r.seq, r.read_time, r.plate, 2, w.id, 1, "
           "'stolen', 0 FROM anpr.plate_read r, anpr.watchlist w WHERE r.seq = 3;"
           /* co-travel: TGT0001 read twice (two lanes) at each camera, XXX0001 once near it */
           "INSERT INTO anpr.plate_read (read_time, camera_id, seq, plate, plate_raw, country, "
           "confidence, lane, direction, image_ref, candidates, cand_conf, received_at) "
           "SELECT now() - interval '3 hours' + (c.id * 600 + o) * interval '1 second', c.id, "
           "100 + c.id * 10 + o, p, p, 'BE', 900, 1, 1, '', '{}', '{}', now() "
           "FROM anpr.camera c, (VALUES (0, 'TGT0001'), (5, 'TGT0001'), (2, 'XXX0001')) v(o, p)");
    h_index_reads(db.admin);

    /* No role but the owner reads the history tables. */
    static const char *const roles[] = {"law_ivy", "law_dora", "law_adam", "law_aude"};
    static const char *const tables[] = {"plate_read",         "hits",
                                         "hit_alias",          "read_identity",
                                         "search_read_result", "search_cotravel_result"};
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
        for (size_t k = 0; k < sizeof tables / sizeof *tables; k++) {
            char sql[96];
            snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.%s", tables[k]);
            CHECK_STR(h_sqlstate_as(g_db, roles[i], sql), "42501");
        }
    /* The daemon writes the plate index of history but reads back identities only. */
    PGconn *daemon = PQconnectdb(db.daemon_ci);
    CHECK_STR(h_sqlstate(daemon, "SELECT plate FROM anpr.read_identity"), "42501");
    CHECK_STR(h_sqlstate(daemon, "SELECT count(*) FROM anpr.plate_read"), "42501");
    CHECK_STR(h_sqlstate(daemon, "SELECT camera_id, epoch, seq, read_us, digest "
                                 "FROM anpr.read_identity"),
              "");
    PQfinish(daemon);
    /* Nor calls the searches but an investigator. */
    CHECK_STR(h_sqlstate_as(g_db, "law_dora",
                            READS("'stolen car seen'", "'PV/2026/1'", "NULL", "'1ABC123'",
                                  "'exact'", "NULL", "7", "100")),
              "42501");
    CHECK_STR(h_sqlstate_as(g_db, "law_adam",
                            READS("'stolen car seen'", "'PV/2026/1'", "NULL", "'1ABC123'",
                                  "'exact'", "NULL", "7", "100")),
              "42501");

    PGconn *ivy = s_connect("law_ivy");
    long long audit = s_audit_rows();

    /* A search within the first period: its rows, and one audit row naming her. */
    CHECK(s_search(ivy,
                   READS("'vehicle stolen in Maasmechelen'", "'LI.55.L1.012345/26'", "NULL",
                         "'1-abc-123'", "'exact'", "NULL", "7", "100"),
                   &o));
    CHECK(o.granted);
    CHECK_INT(o.rows, 2);
    CHECK_INT(s_fetch(ivy, "search_read_rows", o.ticket, st), 2);
    CHECK_INT(s_audit_rows(), ++audit);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.search_audit WHERE by_user = "
                                   "'law_ivy' AND granted AND rows_returned = 2 AND kind = 'reads' "
                                   "AND case_ref = 'LI.55.L1.012345/26' "
                                   "AND params->>'plate' = '1-abc-123'"),
              1);
    long long first = o.ticket;

    /* Reading them again, and rolling that back, takes nothing from the audit. */
    PQclear(PQexec(ivy, "BEGIN"));
    CHECK_INT(s_fetch(ivy, "search_read_rows", first, st), 2);
    PQclear(PQexec(ivy, "ROLLBACK"));
    CHECK_INT(s_audit_rows(), audit);

    /* A search inside the caller's transaction shows nothing until it commits: a rollback
     * takes back a search that showed no row. */
    PQclear(PQexec(ivy, "BEGIN"));
    CHECK(s_search(ivy,
                   READS("'vehicle stolen in Maasmechelen'", "'LI.55.L1.012345/26'", "NULL",
                         "'1ABC123'", "'exact'", "NULL", "7", "100"),
                   &o));
    CHECK(o.granted);
    CHECK_INT(o.rows, -1); /* no count before the commit: it would say what is there */
    CHECK_INT(s_fetch(ivy, "search_counts", o.ticket, st), -1);
    CHECK_STR(st, "25000");
    PQclear(PQexec(ivy, "ROLLBACK"));
    PQclear(PQexec(ivy, "BEGIN"));
    CHECK(s_search(ivy,
                   READS("'vehicle stolen in Maasmechelen'", "'LI.55.L1.012345/26'", "NULL",
                         "'1ABC123'", "'exact'", "NULL", "7", "100"),
                   &o));
    CHECK_INT(s_fetch(ivy, "search_read_rows", o.ticket, st), -1);
    CHECK_STR(st, "25000");
    PQclear(PQexec(ivy, "ROLLBACK"));
    CHECK_INT(s_audit_rows(), audit);

    /* Another investigator cannot read her result. */
    PGconn *ian = s_connect("law_ian");
    CHECK_INT(s_fetch(ian, "search_read_rows", first, st), -1);
    CHECK_STR(st, "P0002");
    PQfinish(ian);

    /* Committed is not durable with synchronous_commit off: a search's transaction commits
     * synchronously all the same (the WAL is on disk past where it stood before COMMIT as soon
     * as COMMIT returns); its rows come, and its audit row is there. */
    PQclear(PQexec(ivy, "SET synchronous_commit = off"));
    PQclear(PQexec(ivy, "BEGIN"));
    long long t_async =
        h_query_ll(ivy, "SELECT ticket FROM (" READS("'vehicle stolen in Maasmechelen'",
                                                     "'LI.55.L1.012345/26'", "NULL", "'1ABC123'",
                                                     "'exact'", "NULL", "7", "100") ") s");
    {
        char sql[256], lsn[32] = "";
        PGresult *res = PQexec(ivy, "SELECT pg_current_wal_insert_lsn()");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            snprintf(lsn, sizeof lsn, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        CHECK(lsn[0] != '\0');
        PQclear(PQexec(ivy, "COMMIT"));
        snprintf(sql, sizeof sql, "SELECT (pg_current_wal_flush_lsn() >= '%s')::int", lsn);
        CHECK_INT(h_query_ll(ivy, sql), 1);
        CHECK_INT(s_audit_rows(), ++audit);
        CHECK_INT(s_fetch(ivy, "search_read_rows", t_async, st), 2);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM anpr.search_audit WHERE id = %lld AND by_user = 'law_ivy' "
                 "AND pg_xact_status(xact) = 'committed'",
                 t_async);
        CHECK_INT(h_query_ll(db.admin, sql), 1);
    }
    PQclear(PQexec(ivy, "RESET synchronous_commit"));

    /* Each refusal names its rule, shows nothing and leaves exactly one audit row, which a
     * rollback of a later fetch does not touch. */
    static const struct {
        const char *sql, *rule;
    } refused[] = {
        {READS("NULL", "'PV/2026/1'", "NULL", "'1ABC123'", "'exact'", "NULL", "7", "100"),
         "reason"},
        {READS("'vehicle stolen'", "''", "NULL", "'1ABC123'", "'exact'", "NULL", "7", "100"),
         "case"},
        {"SELECT * FROM anpr.search_reads('vehicle stolen', 'PV/2026/1', NULL, '1ABC123', "
         "'exact', NULL, now(), now() - interval '1 day', 100)",
         "range"},
        {"SELECT * FROM anpr.search_reads('vehicle stolen', 'PV/2026/1', NULL, '1ABC123', "
         "'exact', NULL, now() - interval '1 day', 'infinity', 100)",
         "range"},
        {READS("'vehicle stolen'", "'PV/2026/1'", "NULL", "'1A*'", "'pattern'", "NULL", "7", "100"),
         "pattern"},
        {READS("'vehicle stolen'", "'PV/2026/1'", "NULL", "'1ABC123'", "'exact'", "'{BE-NOWHERE}'",
               "7", "100"),
         "camera"},
        {READS("'vehicle stolen'", "'PV/2026/1'", "NULL", "'1ABC123'", "'exact'", "NULL", "60",
               "100"),
         "decision"},
        {READS("'vehicle stolen'", "'PV/2026/1'", "'x'", "'1ABC123'", "'exact'", "NULL", "60",
               "100"),
         "decision"},
        {READS("'every car at the crossing'", "'PV/2026/1'", "NULL", "''", "'exact'", "NULL", "1",
               "100"),
         "broad"},
        {READS("'vehicle stolen'", "'PV/2026/1'", "NULL", "'1ABC123'", "'exact'", "NULL", "7", "0"),
         "limit"},
        {"SELECT * FROM anpr.search_cotravel('vehicle stolen', 'PV/2026/1', NULL, '1ABC123', "
         "now() - interval '7 days', now(), 3600, 2, 100)",
         "window"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        CHECK(s_search(ivy, refused[i].sql, &o));
        CHECK(!o.granted);
        CHECK_STR(o.rule, refused[i].rule);
        CHECK_INT(o.rows, -1); /* refused: no count at all */
        CHECK_INT(s_audit_rows(), ++audit);
        PQclear(PQexec(ivy, "BEGIN"));
        CHECK_INT(s_fetch(ivy,
                          strcmp(refused[i].rule, "window") == 0 ? "search_cotravel_rows"
                                                                 : "search_read_rows",
                          o.ticket, st),
                  -1);
        CHECK_STR(st, "42501");
        PQclear(PQexec(ivy, "ROLLBACK"));
        CHECK_INT(s_audit_rows(), audit);
    }
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.search_audit WHERE NOT granted "
                                   "AND rule = 'decision' AND rows_returned = 0"),
              2);

    /* Past the first period with the prosecutor's decision: the old read too. */
    CHECK(s_search(ivy,
                   READS("'vehicle stolen in Maasmechelen'", "'PV/2026/1'", "'PK LI 2026/000123'",
                         "'1ABC123'", "'exact'", "NULL", "60", "100"),
                   &o));
    CHECK(o.granted);
    CHECK_INT(o.rows, 3);
    CHECK_INT(s_audit_rows(), ++audit);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.search_audit "
                                   "WHERE decision_ref = 'PK LI 2026/000123'"),
              1);

    /* OCR-tolerant: the look-alike read too; by camera; a pattern; a limit with more rows. */
    CHECK(s_search(ivy,
                   READS("'vehicle stolen, misreads'", "'PV/2026/1'", "NULL", "'1ABC123'", "'ocr'",
                         "NULL", "7", "100"),
                   &o));
    CHECK_INT(o.rows, 3);
    CHECK(s_search(ivy,
                   READS("'vehicle stolen, one camera'", "'PV/2026/1'", "NULL", "'1ABC123'",
                         "'exact'", "'{" CAM2 "}'", "7", "100"),
                   &o));
    CHECK_INT(o.rows, 1);
    CHECK(s_search(ivy,
                   READS("'partial plate from a witness'", "'PV/2026/1'", "NULL", "'1AB*'",
                         "'pattern'", "NULL", "7", "100"),
                   &o));
    CHECK_INT(o.rows, 3);
    CHECK(s_search(ivy,
                   READS("'partial plate from a witness'", "'PV/2026/1'", "NULL", "'1AB*'",
                         "'pattern'", "NULL", "7", "1"),
                   &o));
    CHECK_INT(o.rows, 1);
    CHECK_INT(o.more, 2);
    CHECK_INT(s_fetch(ivy, "search_read_rows", o.ticket, st), 1);
    audit += 4;
    CHECK_INT(s_audit_rows(), audit);

    /* Nobody changes the audit: investigators do not even read it, auditors read it only, and
     * its owner is refused by the trigger. */
    CHECK_STR(h_sqlstate(ivy, "SELECT count(*) FROM anpr.search_audit"), "42501");
    CHECK_STR(h_sqlstate_as(g_db, "law_aude", "SELECT count(*) FROM anpr.search_audit"), "");
    CHECK_STR(h_sqlstate_as(g_db, "law_aude", "DELETE FROM anpr.search_audit"), "42501");
    CHECK_STR(h_sqlstate_as(g_db, "law_aude", "UPDATE anpr.search_audit SET reason = 'x'"),
              "42501");
    CHECK_STR(h_sqlstate_as(g_db, "law_adam", "SELECT count(*) FROM anpr.search_audit"), "42501");
    CHECK_STR(h_sqlstate(db.admin, "DELETE FROM anpr.search_audit"), "42501");
    CHECK_STR(h_sqlstate(db.admin, "TRUNCATE anpr.search_audit"), "42501");
    /* ... also with the setting the retention run uses: only rows past their time go. */
    CHECK_STR(h_sqlstate(db.admin, "BEGIN; SET LOCAL anpr.retention = 'on'; "
                                   "DELETE FROM anpr.search_audit; COMMIT"),
              "42501");
    PQclear(PQexec(db.admin, "ROLLBACK"));
    CHECK_INT(s_audit_rows(), audit);
    /* What the retro-match searched and found is the auditors' only. */
    CHECK_STR(h_sqlstate_as(g_db, "law_adam", "SELECT count(*) FROM anpr.retro_match_read"),
              "42501");
    CHECK_STR(h_sqlstate_as(g_db, "law_adam", "SELECT terms FROM anpr.retro_match_log"), "42501");
    CHECK_STR(h_sqlstate_as(g_db, "law_aude", "SELECT count(*) FROM anpr.retro_match_read"), "");

    /* HITs: dispatch sees those of the first period only; older ones are history. */
    PGconn *dora = s_connect("law_dora");
    CHECK_INT(h_query_ll(dora, "SELECT count(*) FROM anpr.dispatch_hits"), 2);
    CHECK_STR(h_sqlstate(dora, "SELECT anpr.acknowledge_hit(9001, 'accepted', NULL)"), "");
    CHECK_STR(h_sqlstate(dora, "SELECT anpr.acknowledge_hit(9003, 'accepted', NULL)"), "P0002");
    PQfinish(dora);
    CHECK(s_search(ivy,
                   "SELECT * FROM anpr.search_hits('old HITs of the stolen car', 'PV/2026/1', "
                   "NULL, '1ABC123', '', now() - interval '60 days', now(), 100)",
                   &o));
    CHECK(!o.granted);
    CHECK_STR(o.rule, "decision");
    CHECK(s_search(ivy,
                   "SELECT * FROM anpr.search_hits('old HITs of the stolen car', 'PV/2026/1', "
                   "'PK LI 2026/000123', '1ABC123', 'Stolen', now() - interval '60 days', now(), "
                   "100)",
                   &o));
    CHECK(o.granted);
    CHECK_INT(o.rows, 4);
    CHECK_INT(s_fetch(ivy, "search_hit_rows", o.ticket, st), 4);

    /* Co-travel counts each read of a neighbour once, however many reads of the target it
     * is near. */
    CHECK(s_search(ivy,
                   "SELECT * FROM anpr.search_cotravel('who travels with the stolen car', "
                   "'PV/2026/1', NULL, 'TGT0001', now() - interval '1 day', now(), 30, 2, 10)",
                   &o));
    CHECK(o.granted);
    CHECK_INT(o.rows, 1);
    {
        char q[128];
        snprintf(q, sizeof q,
                 "SELECT plate || ' ' || cameras || ' ' || sightings "
                 "FROM anpr.search_cotravel_rows(%lld)",
                 o.ticket);
        PGresult *res = PQexec(ivy, q);
        CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
        if (PQntuples(res) == 1)
            CHECK_STR(PQgetvalue(res, 0, 0), "XXX0001 2 2");
        PQclear(res);
    }

    /* The retention caps every range: nothing older than it is searched. */
    h_exec(db.admin, "UPDATE anpr.law SET retention_days = 40, first_period_days = 30");
    CHECK(s_search(ivy,
                   READS("'vehicle stolen in Maasmechelen'", "'PV/2026/1'", "'PK LI 2026/000123'",
                         "'1ABC123'", "'exact'", "NULL", "60", "100"),
                   &o));
    CHECK_INT(o.rows, 2);
    CHECK_CONTAINS(o.message, "retention");
    CHECK_STR(h_sqlstate(db.admin, "UPDATE anpr.law SET retention_days = 400"), "23514");

    PQfinish(ivy);
    h_db_close(&db);
    return check_done("itest_law");
}
