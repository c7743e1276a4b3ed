/*
 * Integration (database only): who may change watchlists, and the audit of every change.
 * An admin's changes are audited with old and new values under the admin's own login; the
 * audit cannot be altered, not even by its owner; a user without the admin role, and the
 * daemon's own role, cannot change lists, and the daemon cannot read history back. A login in
 * none of the anpr roles cannot connect, and only the daemon may make temporary tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

int main(void)
{
    struct h_db db;

    h_require_env();
    h_db_create(&db, "itest_audit");
    h_exec(db.admin, "DO $$ BEGIN "
                     "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alice') THEN "
                     "CREATE ROLE alice LOGIN; END IF; "
                     "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bob') THEN "
                     "CREATE ROLE bob LOGIN; END IF; END $$;"
                     "GRANT anpr_admin TO alice");

    /* An admin keeps lists; every row changed is audited under her login. */
    CHECK_STR(h_sqlstate_as(&db, "alice",
                            "INSERT INTO anpr.watchlist (name, category, priority) "
                            "VALUES ('Stolen vehicles', 'stolen', 1)"),
              "");
    CHECK_STR(h_sqlstate_as(&db, "alice",
                            "INSERT INTO anpr.watchlist_entry (list_id, plate, "
                            "instruction) SELECT id, '1-ABC-123', 'Stop' "
                            "FROM anpr.watchlist"),
              "");
    CHECK_STR(h_sqlstate_as(&db, "alice", "UPDATE anpr.watchlist_entry SET plate = '1-ABC-124'"),
              "");
    CHECK_STR(h_sqlstate_as(&db, "alice", "DELETE FROM anpr.watchlist_entry"), "");
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_audit "
                                   "WHERE changed_by = 'alice'"),
              4);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_audit "
                                   "WHERE operation = 'UPDATE' AND relation = 'watchlist_entry' "
                                   "AND old_row->>'plate' = '1-ABC-123' "
                                   "AND new_row->>'plate' = '1-ABC-124'"),
              1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_audit "
                                   "WHERE operation = 'DELETE' AND new_row IS NULL "
                                   "AND old_row->>'instruction' = 'Stop'"),
              1);
    /* The change log for the daemons names her too. */
    CHECK(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_change "
                               "WHERE changed_by = 'alice'") >= 4);

    /* Nobody alters the audit: the admin has no right, the owner is refused by the trigger. */
    CHECK_STR(h_sqlstate_as(&db, "alice", "UPDATE anpr.watchlist_audit SET changed_by = 'mallory'"),
              "42501");
    CHECK_STR(h_sqlstate_as(&db, "alice", "DELETE FROM anpr.watchlist_audit"), "42501");
    CHECK_STR(h_sqlstate_as(&db, "alice",
                            "INSERT INTO anpr.watchlist_audit (relation, operation, "
                            "row_id) VALUES ('x', 'x', 1)"),
              "42501");
    CHECK_STR(h_sqlstate_as(&db, "postgres", "DELETE FROM anpr.watchlist_audit"), "42501");
    CHECK_STR(h_sqlstate_as(&db, "postgres", "TRUNCATE anpr.watchlist_audit"), "42501");
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_audit"), 4);

    /* A login in none of the anpr roles cannot even connect (migration 014), and no role but
     * the daemon's may make temporary tables. */
    {
        char ci[600];
        snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=bob", getenv("ANPR_TEST_PGHOST"),
                 getenv("ANPR_TEST_PGPORT"), db.name);
        PGconn *conn = PQconnectdb(ci);
        CHECK(PQstatus(conn) != CONNECTION_OK);
        CHECK_CONTAINS(PQerrorMessage(conn), "permission denied for database");
        PQfinish(conn);
    }
    CHECK_STR(h_sqlstate_as(&db, "alice", "CREATE TEMP TABLE t (i int)"), "42501");
    CHECK_STR(h_sqlstate_as(&db, "anprd", "CREATE TEMP TABLE t (i int)"), "");
    /* Given CONNECT by hand, without the admin role: no change, and no look at the lists. */
    char grant[200];
    snprintf(grant, sizeof grant, "GRANT CONNECT ON DATABASE %s TO bob", db.name);
    h_exec(db.admin, grant);
    CHECK_STR(h_sqlstate_as(&db, "bob",
                            "INSERT INTO anpr.watchlist (name, category) "
                            "VALUES ('Mine', 'stolen')"),
              "42501");
    CHECK_STR(h_sqlstate_as(&db, "bob", "SELECT count(*) FROM anpr.watchlist_entry"), "42501");
    /* The daemon's role reads lists and appends reads, nothing more. */
    CHECK_STR(h_sqlstate_as(&db, "anprd", "SELECT count(*) FROM anpr.watchlist_entry"), "");
    CHECK_STR(h_sqlstate_as(&db, "anprd", "DELETE FROM anpr.watchlist_entry"), "42501");
    CHECK_STR(h_sqlstate_as(&db, "anprd", "SELECT count(*) FROM anpr.plate_read"), "42501");
    CHECK_STR(h_sqlstate_as(&db, "anprd", "SELECT count(*) FROM anpr.watchlist_audit"), "42501");
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_audit"), 4);

    snprintf(grant, sizeof grant, "REVOKE CONNECT ON DATABASE %s FROM bob", db.name);
    h_exec(db.admin, grant); /* bob is cluster-wide: leave no grant behind */
    h_db_close(&db);
    return check_done("itest_audit");
}
