/*
 * Browser tests of anpr-web (web_browser.py, headless Chromium driven by Selenium): this
 * program makes the database, the logins, cameras and lists, starts anprd, runs the script,
 * and then checks what the person did is in the database under their own name. The dispatcher
 * is cleared for the covert list "Observation" (whose HIT the board shows marked covert). Skipped
 * (77) only when Chromium or its driver is not installed (the script decides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "webenv.h"

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char port[16], log[256], out[256];

    h_require_env();
    if (!getenv("ANPR_WEB") || !getenv("ANPR_WEB_SCRIPT") || !getenv("ANPR_WEB_SHOTS"))
        h_fatal("ANPR_WEB, ANPR_WEB_SCRIPT and ANPR_WEB_SHOTS must be set");
    webenv_db(&db, "itest_web_browser");
    h_exec(db.admin, "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, covert) "
                     "VALUES ('Observation', 'surveillance', 1, 0, true);"
                     "INSERT INTO anpr.watchlist_entry (list_id, plate, country, instruction) "
                     "SELECT id, 'COV-777', 'BE', 'Observe only, report to PZ Lanaken' "
                     "FROM anpr.watchlist WHERE name = 'Observation';"
                     "SELECT anpr.grant_covert('" WEB_OP "', id) FROM anpr.watchlist "
                     "WHERE name = 'Observation'");
    struct h_daemon_opts o = {.tcp = true, .log_level = "info"};
    if (h_daemon_start_opts(&d, &db, &o) != 0)
        h_fatal("anprd did not start");
    int p = h_free_port();
    const char *conf = webenv_config(&db, &d, p);
    snprintf(port, sizeof port, "%d", p);
    snprintf(log, sizeof log, "%s/anpr-web.log", d.dir);
    snprintf(out, sizeof out, "%s/browser.out", d.dir);
    setenv("ANPR_WEB_CONF", conf, 1);
    setenv("ANPR_WEB_PORT", port, 1);
    setenv("ANPR_WEB_LOG", log, 1);
    setenv("ANPR_INGEST", d.ingest_ep, 1);
    setenv("ANPR_WEB_CAM", WEB_CAM, 1);
    setenv("ANPR_WEB_OP", WEB_OP, 1);
    setenv("ANPR_WEB_OP_PW", WEB_OP_PW, 1);
    setenv("ANPR_WEB_INV", WEB_INV, 1);
    setenv("ANPR_WEB_INV_PW", WEB_INV_PW, 1);
    setenv("ANPR_WEB_ADM", WEB_ADM, 1);
    setenv("ANPR_WEB_ADM_PW", WEB_ADM_PW, 1);

    /* The system's Python with Debian's python3-selenium, not whatever python3 is first. */
    char *argv[] = {"/usr/bin/python3", getenv("ANPR_WEB_SCRIPT"), NULL};
    int rc = h_wait(h_spawn(argv, out, out), 170000);
    char *text = h_slurp(out);
    fputs(text, stderr);
    free(text);
    if (rc == H_SKIP) {
        h_daemon_finish(&d, 0);
        h_db_close(&db);
        return H_SKIP;
    }
    CHECK_INT(rc, 0);

    /* The acknowledgement made in the browser, under the dispatcher's own login. */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack k JOIN anpr.hits h "
                                   "ON h.hit_id = k.hit_id WHERE k.operator = '" WEB_OP "' "
                                   "AND k.decision = 'rejected' AND k.reason = 'misread' "
                                   "AND k.note = 'plate 1ABC128, checked on the image' "
                                   "AND h.plate = '1ABC123'"),
              1);
    /* The covert HIT acknowledged in the browser by the dispatcher cleared for its list. */
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack k JOIN anpr.hits h "
                                   "ON h.hit_id = k.hit_id WHERE k.operator = '" WEB_OP "' "
                                   "AND k.decision = 'accepted' AND h.covert "
                                   "AND k.note = 'observed, reported to PZ Lanaken'"),
              1);
    /* The desk's two searches, audited under the investigator's login, one refused. */
    CHECK_INT(h_query_ll(db.admin,
                         "SELECT count(*) FROM anpr.search_audit WHERE by_user = '" WEB_INV
                         "' AND NOT granted AND rule = 'reason'"),
              1);
    CHECK_INT(h_query_ll(db.admin,
                         "SELECT count(*) FROM anpr.search_audit WHERE by_user = '" WEB_INV
                         "' AND granted"),
              1);
    /* The admin page: the entry added in the browser, audited under the admin's login, and a
       read of its plate a HIT; the ';' file with a bad row imported nothing. */
    CHECK_INT(h_query_ll(db.admin,
                         "SELECT count(*) FROM anpr.watchlist_entry e JOIN anpr.watchlist_audit a "
                         "ON a.row_id = e.id AND a.relation = 'watchlist_entry' AND "
                         "a.operation = 'INSERT' WHERE e.plate = '7-ADM-777' AND e.country = 'BE' "
                         "AND e.external_ref = 'PV-2026-0777' AND a.changed_by = '" WEB_ADM "'"),
              1);
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT least(count(*), 1) FROM anpr.hits h JOIN anpr.watchlist_entry e "
                        "ON e.id = h.entry_id WHERE e.plate = '7-ADM-777' AND h.plate = '7ADM777'",
                        1, 20000),
              1);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate LIKE "
                                   "'8-IMP-%'"),
              0);
    if (check_failed)
        webenv_print_log(log);
    int drc = h_daemon_finish(&d, check_failed);
    h_db_close(&db);
    return check_failed || drc ? 1 : check_done("itest_web_browser");
}
