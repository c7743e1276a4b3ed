/* webenv: the anpr-web tests' set-up (webenv.h). */
#include "webenv.h"

#include <stdio.h>
#include <stdlib.h>

void webenv_db(struct h_db *db, const char *dbname)
{
    h_db_create(db, dbname);
    /* Roles are the cluster's: made once, their passwords set every time. */
    h_exec(db->admin,
           "DO $$ BEGIN "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_password') THEN "
           "CREATE ROLE anpr_password NOLOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_OP "') THEN "
           "CREATE ROLE " WEB_OP " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_INV "') THEN "
           "CREATE ROLE " WEB_INV " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_ADM "') THEN "
           "CREATE ROLE " WEB_ADM " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" WEB_TRUSTED "') THEN "
           "CREATE ROLE " WEB_TRUSTED " LOGIN; END IF; END $$;"
           "SET password_encryption = 'scram-sha-256';"
           "ALTER ROLE " WEB_OP " PASSWORD '" WEB_OP_PW "';"
           "ALTER ROLE " WEB_INV " PASSWORD '" WEB_INV_PW "';"
           "ALTER ROLE " WEB_ADM " PASSWORD '" WEB_ADM_PW "';"
           "GRANT anpr_dispatch, anpr_password TO " WEB_OP ";"
           "GRANT anpr_investigator, anpr_password TO " WEB_INV ";"
           "GRANT anpr_admin, anpr_password TO " WEB_ADM ";"
           "GRANT anpr_dispatch TO " WEB_TRUSTED ";"
           "INSERT INTO anpr.camera (code, name, latitude, longitude, road) VALUES "
           "('" WEB_CAM "', 'Smeermaas N2', 50.9512, 5.7128, 'N2'),"
           "('BE-E314-BOORSEM-1', 'Boorsem E314', 50.9842, 5.6891, 'E314'),"
           "('BE-N78-VELDWEZELT', 'Veldwezelt N78', 50.8668, 5.6337, 'N78');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, colour) VALUES "
           "('Stolen vehicles', 'stolen', 1, 300, 'red'), ('Fence', 'surveillance', 9, 0, NULL);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, country, instruction, external_ref) "
           "SELECT id, p, 'BE', 'Stop and check the driver', 'PV-2026-0042' "
           "FROM anpr.watchlist, (VALUES ('" WEB_PLATE "'), ('1-ABC-124'), ('1-ABC-125')) v(p) "
           "WHERE name = 'Stolen vehicles';"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) "
           "SELECT id, 'FENCE-1' FROM anpr.watchlist WHERE name = 'Fence'");
}

void webenv_setup(struct h_db *db, struct h_daemon *d, const char *dbname, const char *dispatch)
{
    webenv_db(db, dbname);
    struct h_daemon_opts o = {.tcp = true, .log_level = "info", .dispatch = dispatch};
    if (h_daemon_start_opts(d, db, &o) != 0)
        h_fatal("anprd did not start");
}

const char *webenv_config(const struct h_db *db, const struct h_daemon *d, int port)
{
    static char path[256];
    const char *static_dir = getenv("ANPR_WEB_STATIC");
    FILE *f;

    if (!static_dir)
        h_fatal("ANPR_WEB_STATIC is not set");
    snprintf(path, sizeof path, "%s/anpr-web.yaml", d->dir);
    if (!(f = fopen(path, "w")))
        h_fatal("%s: cannot write", path);
    fprintf(f,
            "web:\n  listen: 127.0.0.1:%d\n  static_dir: %s\n  proxy: false\n"
            "database:\n  conninfo: \"host=%s port=%s dbname=%s\"\n"
            "dispatch:\n  endpoint: %s\n  covert_endpoint: %s\n"
            "login:\n  max_failures: 3\n  window_s: 60\n"
            "log:\n  level: info\n",
            port, static_dir, getenv("ANPR_TEST_PGHOST"), getenv("ANPR_TEST_PGPORT"), db->name,
            d->dispatch_ep, d->covert_ep);
    fclose(f);
    return path;
}
