/*
 * Integration: the watchlist admin API of anpr-web over real HTTP, with real PostgreSQL logins
 * (SCRAM) and the real anprd. An admin sees the lists and a list's entries, adds an entry (the
 * audit row names the admin: the change went through their own connection), expires it,
 * imports ',' and ';' files; a bad row is reported with its line and column and nothing of
 * the file is imported (the command line's rule), unless bad rows are skipped. The pattern
 * guard refuses '1*' and, forced, says how many of the last day's reads it would have hit. A
 * dispatcher and an investigator get 403; a POST without the CSRF token gets 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"
#include "httpc.h"
#include "webenv.h"

#define ADM    WEB_ADM
#define ADM_PW WEB_ADM_PW

/* application/x-www-form-urlencoded of s, appended to out. */
static void s_enc(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-_.~", ch))
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", ch);
    }
    out[n] = '\0';
}

/* POST an import of csv into list with extra fields ("" none); the status, the body in r. */
static int s_import(int port, const struct webenv_login *l, const char *list, const char *csv,
                    const char *extra, struct httpc_reply *r)
{
    static char body[32768];
    snprintf(body, sizeof body, "list=");
    s_enc(body, sizeof body, list);
    strncat(body, "&csv=", sizeof body - strlen(body) - 1);
    s_enc(body, sizeof body, csv);
    strncat(body, extra, sizeof body - strlen(body) - 1);
    return webenv_req(port, "POST", "/api/admin/import", l->cookies, l->csrf, body, r);
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    struct httpc_reply r;
    struct webenv_login adm, op, inv;
    char msg[2048], log[256], sql[512], id[32] = "";

    h_require_env();
    if (!getenv("ANPR_WEB"))
        h_fatal("ANPR_WEB is not set");
    webenv_setup(&db, &d, "itest_web_admin", NULL);
    int port = h_free_port();
    const char *conf = webenv_config(&db, &d, port);
    snprintf(log, sizeof log, "%s/anpr-web.log", d.dir);
    pid_t web = webenv_start(port, conf, log);

    /* An admin signs in and is sent to the admin page. */
    CHECK_INT(webenv_login_check(port, ADM, ADM_PW, &adm, msg, sizeof msg, false), 200);
    CHECK(strstr(msg, "\"home\":\"/admin\"") != NULL);
    CHECK_INT(webenv_req(port, "GET", "/admin", adm.cookies, NULL, NULL, &r), 200);
    CHECK(strstr(r.body, "admin.js") != NULL);
    httpc_reply_free(&r);

    /* The lists, with their entry counts, colour and covert flag. */
    CHECK_INT(webenv_req(port, "GET", "/api/admin/lists", adm.cookies, NULL, NULL, &r), 200);
    CHECK(strstr(r.body, "\"columns\":[\"id\",\"name\",\"category\",\"priority\",\"state\","
                         "\"policy\",\"entries\",\"covert\",\"colour\"") != NULL);
    CHECK(strstr(r.body, "\"Stolen vehicles\",\"stolen\",1,\"enabled\",\"exact\",\"3\",\"overt\","
                         "\"red\"") != NULL);
    httpc_reply_free(&r);

    /* A dispatcher and an investigator: 403 from every admin call (with their CSRF token). */
    CHECK_INT(webenv_login_check(port, WEB_OP, WEB_OP_PW, &op, msg, sizeof msg, false), 200);
    CHECK_INT(webenv_login_check(port, WEB_INV, WEB_INV_PW, &inv, msg, sizeof msg, false), 200);
    const struct webenv_login *others[] = {&op, &inv};
    for (int i = 0; i < 2; i++) {
        CHECK_INT(webenv_req(port, "GET", "/api/admin/lists", others[i]->cookies, NULL, NULL, &r),
                  403);
        CHECK(strstr(r.body, "for admins") != NULL);
        httpc_reply_free(&r);
        CHECK_INT(webenv_req(port, "GET", "/api/admin/entries?list=Fence", others[i]->cookies, NULL,
                             NULL, &r),
                  403);
        httpc_reply_free(&r);
        CHECK_INT(webenv_req(port, "POST", "/api/admin/add", others[i]->cookies, others[i]->csrf,
                             "list=Fence&plate=NOPE-1", &r),
                  403);
        httpc_reply_free(&r);
        CHECK_INT(s_import(port, others[i], "Fence", "plate\nNOPE-2\n", "", &r), 403);
        httpc_reply_free(&r);
    }
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_entry "
                                   "WHERE plate LIKE 'NOPE%'"),
              0);

    /* A POST without the CSRF token: 403, nothing added. */
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, NULL,
                         "list=Stolen+vehicles&plate=2-XYZ-987&country=BE", &r),
              403);
    CHECK(strstr(r.body, "CSRF") != NULL);
    httpc_reply_free(&r);

    /* Add an entry: normalised (the country be as BE), stored, audited under the admin's own
       name. */
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, adm.csrf,
                         "list=Stolen+vehicles&plate=2-XYZ-987&country=be&external_ref=PV-2026-0099"
                         "&instruction=Stop+and+check&valid_until=2030-01-01T00%3A00%3A00Z",
                         &r),
              200);
    CHECK(strstr(r.body, "\"plate\":\"2XYZ987\",\"country\":\"BE\"") != NULL);
    CHECK(strstr(r.body, "\"valid_until\":\"2030-01-01T00:00:00.000000Z\"") != NULL);
    CHECK(webenv_member(r.body, "id", id, sizeof id));
    httpc_reply_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_audit WHERE relation = 'watchlist_entry' AND "
             "operation = 'INSERT' AND row_id = %s AND changed_by = '" ADM "'",
             id);
    CHECK_INT(h_query_ll(db.admin, sql), 1);
    /* the same plate again: a duplicate, refused with the field */
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, adm.csrf,
                         "list=Stolen+vehicles&plate=2XYZ987&country=BE", &r),
              422);
    CHECK(strstr(r.body, "duplicates entry") != NULL);
    CHECK(strstr(r.body, "\"field\":\"plate\"") != NULL);
    httpc_reply_free(&r);
    /* a bad time: the field and the value given */
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, adm.csrf,
                         "list=Stolen+vehicles&plate=3-XYZ-987&valid_until=soon", &r),
              422);
    CHECK(strstr(r.body, "\"field\":\"valid_until\",\"value\":\"soon\"") != NULL);
    httpc_reply_free(&r);
    /* no such list */
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, adm.csrf,
                         "list=Nope&plate=3-XYZ-987", &r),
              404);
    httpc_reply_free(&r);

    /* A list's entries, filtered (as typed, or normalised) and paged. */
    CHECK_INT(webenv_req(port, "GET", "/api/admin/entries?list=Stolen%20vehicles&filter=xyz-9",
                         adm.cookies, NULL, NULL, &r),
              200);
    CHECK(strstr(r.body, "\"total\":1,") != NULL);
    CHECK(strstr(r.body, "\"2-XYZ-987\"") != NULL);
    CHECK(strstr(r.body, "1-ABC-123") == NULL);
    httpc_reply_free(&r);
    CHECK_INT(webenv_req(port, "GET", "/api/admin/entries?list=Stolen%20vehicles&page=0",
                         adm.cookies, NULL, NULL, &r),
              200);
    CHECK(strstr(r.body, "\"total\":4,\"page\":0,\"page_size\":50,") != NULL);
    httpc_reply_free(&r);

    /* The pattern guard: '1*' refused; forced, it says how many of the last day's reads it
       would have hit (the same count as the database's function). */
    void *cam = h_dealer(d.ingest_ep);
    struct proto_read rd = h_read(WEB_CAM, 1, "1-QQQ-111", "BE");
    h_send_read(cam, &rd);
    CHECK_INT(h_wait_ll(db.admin, "SELECT count(*) FROM anpr.read_identity", 1, 20000), 1);
    h_close(cam);
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, adm.csrf,
                         "list=Fence&plate=1*&pattern=1", &r),
              422);
    CHECK(strstr(r.body, "pattern 1* has fewer than 3 letters or digits") != NULL);
    CHECK(strstr(r.body, "\"broad\":true") != NULL);
    httpc_reply_free(&r);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate = '1*'"),
              0);
    /* a pattern not ticked as one is refused too */
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, adm.csrf,
                         "list=Fence&plate=1*", &r),
              422);
    CHECK(strstr(r.body, "tick 'pattern'") != NULL);
    httpc_reply_free(&r);
    long long expect = h_query_ll(db.admin, "SELECT anpr.pattern_reads_last_day('1*')");
    CHECK(expect >= 1);
    CHECK_INT(webenv_req(port, "POST", "/api/admin/add", adm.cookies, adm.csrf,
                         "list=Fence&plate=1*&pattern=1&force=1", &r),
              200);
    char would[32] = "";
    CHECK(strstr(r.body, "\"forced\":true") != NULL);
    CHECK(webenv_member(r.body, "would_hit", would, sizeof would));
    CHECK_INT(strtoll(would, NULL, 10), expect);
    httpc_reply_free(&r);

    /* Expire the entry: its validity ends now, audited; a second time it has expired already. */
    snprintf(msg, sizeof msg, "id=%s", id);
    CHECK_INT(webenv_req(port, "POST", "/api/admin/expire", adm.cookies, adm.csrf, msg, &r), 200);
    httpc_reply_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_entry WHERE id = %s AND valid_until <= now()",
             id);
    CHECK_INT(h_query_ll(db.admin, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.watchlist_audit WHERE relation = 'watchlist_entry' AND "
             "operation = 'UPDATE' AND row_id = %s AND changed_by = '" ADM "'",
             id);
    CHECK_INT(h_query_ll(db.admin, sql), 1);
    CHECK_INT(webenv_req(port, "POST", "/api/admin/expire", adm.cookies, adm.csrf, msg, &r), 404);
    CHECK(strstr(r.body, "has expired already") != NULL);
    httpc_reply_free(&r);

    /* Import a ','-separated file. */
    CHECK_INT(s_import(port, &adm, "Fence", "plate,country,external_ref\nIM-1,BE,R1\nIM-2,BE,R2\n",
                       "", &r),
              200);
    CHECK(strstr(r.body, "\"imported\":true,\"rows\":2,\"good\":2,\"bad\":0,\"separator\":\",\"") !=
          NULL);
    httpc_reply_free(&r);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate LIKE "
                                   "'IM-%' AND country = 'BE'"),
              2);

    /* A ';'-separated file with a bad row: its line and column named, nothing imported. */
    const char *semi = "plate;country;instruction\n"
                       "SC-1;NL;Stop, check the papers\n"
                       "SC-2;n1;x\n"
                       "SC-3;nl;y\n";
    CHECK_INT(s_import(port, &adm, "Fence", semi, "", &r), 422);
    CHECK(strstr(r.body,
                 "\"imported\":false,\"rows\":3,\"good\":2,\"bad\":1,\"separator\":\";\"") != NULL);
    CHECK(strstr(r.body, "{\"line\":3,\"column\":2,\"header\":false,\"field\":\"country\","
                         "\"error\":\"'n1': empty or two letters A-Z (either case)\"}") != NULL);
    CHECK(strstr(r.body, "nothing imported") != NULL);
    httpc_reply_free(&r);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate LIKE "
                                   "'SC-%'"),
              0);
    /* with the bad rows skipped (as --skip-bad), the good ones in one go (nl as NL), audited */
    CHECK_INT(s_import(port, &adm, "Fence", semi, "&skip_bad=1", &r), 200);
    CHECK(strstr(r.body, "\"imported\":true,\"rows\":3,\"good\":2,\"bad\":1") != NULL);
    CHECK(strstr(r.body, "\"line\":3,\"column\":2") != NULL);
    httpc_reply_free(&r);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_entry WHERE plate IN "
                                   "('SC-1', 'SC-3') AND country = 'NL' AND instruction IN "
                                   "('Stop, check the papers', 'y')"),
              2);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.watchlist_audit a JOIN "
                                   "anpr.watchlist_entry e ON e.id = a.row_id WHERE "
                                   "a.relation = 'watchlist_entry' AND a.operation = 'INSERT' "
                                   "AND e.plate IN ('SC-1', 'SC-3', 'IM-1', 'IM-2', '1*') AND "
                                   "a.changed_by = '" ADM "'"),
              5);
    /* a header that names no plate column: nothing, and the header's defect */
    CHECK_INT(s_import(port, &adm, "Fence", "kenteken;land\nX-1;NL\n", "", &r), 422);
    CHECK(strstr(r.body, "\"header\":true,\"field\":\"header\",\"error\":\"unknown column "
                         "'kenteken'") != NULL);
    httpc_reply_free(&r);
    /* The log names who changed what. */
    char *logged = h_slurp(log);
    CHECK(strstr(logged, "admin: user 'webt_adm': added entry") != NULL);
    free(logged);

    CHECK_INT(webenv_stop(web), 0);
    if (check_failed)
        webenv_print_log(log);
    int rc = h_daemon_finish(&d, check_failed);
    h_db_close(&db);
    return check_failed || rc ? 1 : check_done("itest_web_admin");
}
