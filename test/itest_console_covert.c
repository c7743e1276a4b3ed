/*
 * Integration: anpr-console on anprd's covert feed with --db, for a person cleared for the
 * covert list (anpr.grant_covert) and one who is not; real PostgreSQL logins, the real anprd,
 * the real covert feed.
 *
 * - A covert card is marked COVERT · do not intervene, and nothing on the console sounds.
 * - The cleared person acknowledges a covert card from inside (keys on stdin): anpr.hit_ack has
 *   the row under their login.
 * - The person not cleared sees the card (the feed is the console's key's), but their attempt
 *   is refused by the database, on the card's line, and leaves no row.
 * - --since: the cleared person catches up on the covert HITs, shown as caught-up cards with who
 *   acknowledged them, and a committed anpr.covert_read_audit row names them; the person not
 *   cleared gets none, is told so in one line, and leaves no audit row.
 * - --covert still goes not with --category.
 * - Paging (in SQL): a ticket whose HITs are all dropped before they are read (the clearance
 *   for their list withdrawn in between) returns no row, and anpr.covert_page still says it
 *   named a full page and its last HIT: the catch-up goes on to the later HIT of the other
 *   list the person is still cleared for.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "consenv.h"
#include "harness.h"

#define CAM    "BE-E314-BOORSEM-1"
#define FENCE  "FENCE-C"   /* on the covert list: to know when a console is live */
#define CAR_A  "1-COV-001" /* acknowledged by the cleared person */
#define CAR_B  "1-COV-002" /* that the person not cleared tries */
#define STAKE  "1-STK-001" /* on the second covert list, "Stakeout" */
#define CLEO   "op_cleo"   /* cleared for the covert list */
#define DIRK   "op_dirk"   /* not cleared */
#define NOTE   "watched, not stopped"
#define REASON "no_unit_available" /* the 4th active reason, in order */
#define MARK   "COVERT · do not intervene"

/* The number of the card whose plate line (spaced) comes after `from`, checking that the line
 * above it is the covert mark under the same number; 0 when there is none. */
static int s_covert_card(const char *path, size_t from, const char *spaced)
{
    char *out = h_slurp(path);
    int number = 0;
    const char *plate = strlen(out) > from ? strstr(out + from, spaced) : NULL;

    if (plate) {
        const char *line = plate;
        while (line > out && line[-1] != '\n')
            line--;
        const char *br = strchr(line, '['); /* after the list's colour bar */
        if (br && br < plate)
            number = atoi(br + 1);
        char mark[64];
        snprintf(mark, sizeof mark, "[%d] " MARK "\n", number);
        size_t ml = strlen(mark);
        if ((size_t)(line - out) < ml || memcmp(line - ml, mark, ml) != 0)
            number = 0;
    }
    free(out);
    return number;
}

/* Fence reads until a card of the fence shows on the console writing to out (each console
 * asks for its list at its own pace). */
static bool s_live(void *dealer, uint64_t *seq, const char *out)
{
    size_t mark = consenv_size(out);

    for (int i = 0; i < 150; i++) {
        struct proto_read r = h_read(CAM, (*seq)++, FENCE, "BE");
        h_send_read(dealer, &r);
        if (consenv_wait_unwrapped(out, mark, "F E N C E C", 200))
            return true;
    }
    return false;
}

static void s_dump(const char *what, const char *out, const char *err)
{
    char *o = h_slurp(out), *e = h_slurp(err);
    fprintf(stderr, "----- %s -----\n%s----- stderr -----\n%s-----\n", what, o, e);
    free(o);
    free(e);
}

/* A ticket naming only Observation's covert HITs, the clearance for it withdrawn before the
   rows are read: no row, yet anpr.covert_page says the page was full, and the next ticket after
   its last HIT has Stakeout's later HIT. */
static void s_page_past_dropped(const struct h_db *db, void *dealer, uint64_t *seq, const char *ci,
                                const char *obs)
{
    char sql[512], ticket[32];

    struct proto_read r = h_read(CAM, (*seq)++, STAKE, "BE");
    h_send_read(dealer, &r);
    long long stake = h_wait_ll(db->admin,
                                "SELECT count(*) FROM anpr.hits h JOIN anpr.watchlist w "
                                "ON w.id = h.list_id WHERE w.name = 'Stakeout' "
                                "AND h.hit_id IS NOT NULL",
                                1, 20000);
    CHECK_INT(stake, 1);
    long long stake_id = h_query_ll(db->admin, "SELECT h.hit_id FROM anpr.hits h JOIN "
                                               "anpr.watchlist w ON w.id = h.list_id "
                                               "WHERE w.name = 'Stakeout'");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits WHERE list_id = %s AND covert AND NOT suppressed "
             "AND hit_id IS NOT NULL",
             obs);
    long long k = h_query_ll(db->admin, sql);
    CHECK(k >= 2);
    snprintf(sql, sizeof sql, "SELECT max(hit_id) FROM anpr.hits WHERE list_id = %s", obs);
    long long obs_last = h_query_ll(db->admin, sql);
    CHECK(obs_last < stake_id); /* Stakeout's HIT is after all of Observation's */

    PGconn *c = PQconnectdb(ci);
    CHECK(PQstatus(c) == CONNECTION_OK);
    /* A page of k: exactly Observation's HITs. */
    snprintf(sql, sizeof sql, "SELECT anpr.covert_request(0, 24, %lld)", k);
    snprintf(ticket, sizeof ticket, "%lld", h_query_ll(c, sql));
    snprintf(sql, sizeof sql, "SELECT anpr.revoke_covert('" CLEO "', %s)::int", obs);
    CHECK_INT(h_query_ll(db->admin, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.covert_rows(%s)", ticket);
    CHECK_INT(h_query_ll(c, sql), 0); /* all dropped: a short page */
    snprintf(sql, sizeof sql, "SELECT named FROM anpr.covert_page(%s)", ticket);
    CHECK_INT(h_query_ll(c, sql), k);
    snprintf(sql, sizeof sql, "SELECT last_hit FROM anpr.covert_page(%s)", ticket);
    CHECK_INT(h_query_ll(c, sql), obs_last);
    /* The next page, after that last HIT: Stakeout's, and the catch-up is over. */
    snprintf(sql, sizeof sql, "SELECT anpr.covert_request(%lld, 0, %lld)", obs_last, k);
    snprintf(ticket, sizeof ticket, "%lld", h_query_ll(c, sql));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.covert_rows(%s)", ticket);
    CHECK_INT(h_query_ll(c, sql), 1);
    snprintf(sql, sizeof sql, "SELECT min(hit_id) FROM anpr.covert_rows(%s)", ticket);
    CHECK_INT(h_query_ll(c, sql), stake_id);
    snprintf(sql, sizeof sql, "SELECT named FROM anpr.covert_page(%s)", ticket);
    CHECK_INT(h_query_ll(c, sql), 1);
    /* No ticket, no page. */
    CHECK_INT(h_query_ll(c, "SELECT named FROM anpr.covert_page(NULL)"), 0);
    PQfinish(c);
}

/* The hit_id of the covert HIT of plate, once stored (checked: one, with an id). */
static long long s_stored_hit(PGconn *admin, const char *plate)
{
    char sql[256];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hits WHERE covert AND plate = '%s' AND NOT suppressed "
             "AND hit_id IS NOT NULL",
             plate);
    CHECK_INT(h_wait_ll(admin, sql, 1, 10000), 1);
    snprintf(sql, sizeof sql,
             "SELECT coalesce(min(hit_id), 0) FROM anpr.hits WHERE plate = '%s' AND NOT "
             "suppressed",
             plate);
    long long id = h_query_ll(admin, sql);
    CHECK(id > 0);
    return id;
}

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char cleo_ci[600], dirk_ci[600], list[16], keys[64], sql[512];
    char out_c[256], err_c[256], out_d[256], err_d[256], out_u[256], err_u[256];

    h_require_env();
    h_db_create(&db, "itest_console_covert");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name, heading) VALUES "
           "('" CAM "', 'E314 Boorsem', 'to the Netherlands');"
           "INSERT INTO anpr.watchlist (name, category, priority, covert, suppress_s) VALUES "
           "('Observation', 'surveillance', 2, true, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction) "
           "SELECT id, p, 'Observe only, do not stop' FROM anpr.watchlist, "
           "unnest(ARRAY['" FENCE "', '" CAR_A "', '" CAR_B "']) p WHERE name = 'Observation';"
           "INSERT INTO anpr.watchlist (name, category, priority, covert, suppress_s) VALUES "
           "('Stakeout', 'surveillance', 2, true, 0);"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction) "
           "SELECT id, '" STAKE "', 'Observe only' FROM anpr.watchlist WHERE name = 'Stakeout';"
           "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" CLEO "') THEN "
           "CREATE ROLE " CLEO " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" DIRK "') THEN "
           "CREATE ROLE " DIRK " LOGIN; END IF; END $$;"
           "GRANT anpr_dispatch TO " CLEO ", " DIRK ";"
           "SELECT anpr.grant_covert('" CLEO "', id) FROM anpr.watchlist "
           "WHERE name IN ('Observation', 'Stakeout')");
    snprintf(list, sizeof list, "%lld",
             h_query_ll(db.admin, "SELECT id FROM anpr.watchlist WHERE name = 'Observation'"));
    snprintf(cleo_ci, sizeof cleo_ci, "%s", h_conninfo_as(&db, CLEO));
    snprintf(dirk_ci, sizeof dirk_ci, "%s", h_conninfo_as(&db, DIRK));
    struct h_daemon_opts opts = {.dispatch = "  heartbeat_s: 1\n  reannounce_s: 0\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        h_fatal("anprd did not start");
    snprintf(out_c, sizeof out_c, "%s/cleo.out", d.dir);
    snprintf(err_c, sizeof err_c, "%s/cleo.err", d.dir);
    snprintf(out_d, sizeof out_d, "%s/dirk.out", d.dir);
    snprintf(err_d, sizeof err_d, "%s/dirk.err", d.dir);
    snprintf(out_u, sizeof out_u, "%s/catchup.out", d.dir);
    snprintf(err_u, sizeof err_u, "%s/catchup.err", d.dir);

    /* 0. Usage: the covert feed has no categories. */
    char *bad_argv[] = {getenv("ANPR_CONSOLE"), "--endpoint", d.covert_ep, "--covert", list,
                        "--category",           "stolen",     NULL};
    CHECK_INT(h_wait(h_spawn(bad_argv, out_u, err_u), 20000), 2);
    char *text = h_slurp(err_u);
    CHECK_CONTAINS(text, "--covert goes not with --category");
    free(text);

    /* 1. Both consoles on the covert feed, each on its person's own login; Dirk's first catches
     * up, and is cleared for nothing: one line says so, no audit row. */
    int in_c = -1, in_d = -1;
    char *cleo_argv[] = {getenv("ANPR_CONSOLE"),
                         "--endpoint",
                         d.covert_ep,
                         "--covert",
                         list,
                         "--db",
                         cleo_ci,
                         "--timeout",
                         "240",
                         NULL};
    char *dirk_argv[] = {getenv("ANPR_CONSOLE"),
                         "--endpoint",
                         d.covert_ep,
                         "--covert",
                         list,
                         "--db",
                         dirk_ci,
                         "--since",
                         "0",
                         "--timeout",
                         "240",
                         NULL};
    pid_t con_c = consenv_start(cleo_argv, out_c, err_c, &in_c);
    pid_t con_d = consenv_start(dirk_argv, out_d, err_d, &in_d);
    CHECK(consenv_wait_unwrapped(
        out_d, 0, "covert catch-up: " DIRK " is cleared for no covert list, no covert", 20000));
    CHECK(consenv_wait_unwrapped(out_c, 0, "keys: a acknowledge a card", 20000));

    void *dealer = h_dealer(d.ingest_ep);
    uint64_t seq = 1;
    CHECK(s_live(dealer, &seq, out_c));
    CHECK(s_live(dealer, &seq, out_d));

    /* 2. A covert HIT: on both, marked covert, with the list's instruction. */
    size_t mark_c = consenv_size(out_c), mark_d = consenv_size(out_d);
    struct proto_read r = h_read(CAM, seq++, CAR_A, "BE");
    h_send_read(dealer, &r);
    CHECK(consenv_wait_unwrapped(out_c, mark_c, "1 C O V 0 0 1", 20000));
    CHECK(consenv_wait_unwrapped(out_d, mark_d, "1 C O V 0 0 1", 20000));
    CHECK(consenv_wait_unwrapped(out_c, mark_c, "do: Observe only, do not stop", 1000));
    int num_a = s_covert_card(out_c, mark_c, "1 C O V 0 0 1");
    CHECK(num_a > 0);
    CHECK(s_covert_card(out_d, mark_d, "1 C O V 0 0 1") > 0);
    long long hit_a = s_stored_hit(db.admin, "1COV001");

    /* 3. Cleo, cleared, acknowledges it from inside: her row in anpr.hit_ack. */
    mark_c = consenv_size(out_c);
    snprintf(keys, sizeof keys, "a%d\na4" NOTE "\n", num_a);
    CHECK(consenv_send_keys(in_c, keys));
    CHECK(consenv_wait_unwrapped(out_c, mark_c, "ACCEPTED, HIT", 20000));
    CHECK(consenv_wait_unwrapped(out_c, mark_c, "by " CLEO ", reason " REASON, 1000));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.hit_ack WHERE hit_id = %lld AND operator = '" CLEO
             "' AND decision = 'accepted' AND reason = '" REASON "' AND note = '" NOTE "'",
             hit_a);
    CHECK_INT(h_wait_ll(db.admin, sql, 1, 10000), 1);

    /* 4. Dirk, not cleared, tries another covert HIT: the database's refusal on the card's
     * line, the console goes on, nothing acknowledged. */
    mark_d = consenv_size(out_d);
    r = h_read(CAM, seq++, CAR_B, "BE");
    h_send_read(dealer, &r);
    CHECK(consenv_wait_unwrapped(out_d, mark_d, "1 C O V 0 0 2", 20000));
    int num_b = s_covert_card(out_d, mark_d, "1 C O V 0 0 2");
    CHECK(num_b > 0);
    long long hit_b = s_stored_hit(db.admin, "1COV002");
    mark_d = consenv_size(out_d);
    snprintf(keys, sizeof keys, "a%d\nn0\n", num_b);
    CHECK(consenv_send_keys(in_d, keys));
    char refused[160];
    snprintf(refused, sizeof refused, "[%d] REFUSED, HIT %lld: HIT %lld does not exist or is not",
             num_b, hit_b, hit_b);
    CHECK(consenv_wait_unwrapped(out_d, mark_d, refused, 20000));
    /* Dirk's attempt at Cleo's HIT too: refused alike (not "already accepted by"). */
    mark_d = consenv_size(out_d);
    int num_a_d = s_covert_card(out_d, 0, "1 C O V 0 0 1");
    snprintf(keys, sizeof keys, "a%d\nn0\n", num_a_d);
    CHECK(consenv_send_keys(in_d, keys));
    snprintf(refused, sizeof refused, "REFUSED, HIT %lld: HIT %lld does not exist or is not", hit_a,
             hit_a);
    CHECK(consenv_wait_unwrapped(out_d, mark_d, refused, 20000));
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack WHERE operator = '" DIRK "'"),
              0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM anpr.hit_ack WHERE hit_id = %lld", hit_b);
    CHECK_INT(h_query_ll(db.admin, sql), 0);
    CHECK(kill(con_d, 0) == 0); /* still running */

    /* 5. Cleo catches up: both covert HITs, caught up, hers acknowledged by her; a committed
     * audit row of hers names them. */
    long long audits0 = h_query_ll(
        db.admin, "SELECT count(*) FROM anpr.covert_read_audit WHERE by_user = '" CLEO "'");
    int in_u = -1;
    char *catch_argv[] = {getenv("ANPR_CONSOLE"),
                          "--endpoint",
                          d.covert_ep,
                          "--covert",
                          list,
                          "--db",
                          cleo_ci,
                          "--since",
                          "0",
                          "--no-keys",
                          "--timeout",
                          "3",
                          NULL};
    pid_t con_u = consenv_start(catch_argv, out_u, err_u, &in_u);
    CHECK_INT(h_wait(con_u, 30000), 0);
    close(in_u);
    text = h_slurp(out_u);
    CHECK_CONTAINS(text, "1 C O V 0 0 1");
    CHECK_CONTAINS(text, "1 C O V 0 0 2");
    CHECK_CONTAINS(text, "ACCEPTED by " CLEO " at ");
    CHECK_CONTAINS(text, "not acknowledged yet");
    CHECK(strstr(text, "cleared for no covert list") == NULL);
    free(text);
    CHECK(s_covert_card(out_u, 0, "1 C O V 0 0 1") > 0);
    CHECK(s_covert_card(out_u, 0, "1 C O V 0 0 2") > 0);
    text = h_slurp(err_u);
    CHECK_CONTAINS(text, "caught_up=");
    CHECK(strstr(text, "caught_up=0 ") == NULL);
    free(text);
    CHECK(h_query_ll(db.admin, "SELECT count(*) FROM anpr.covert_read_audit WHERE by_user = '" CLEO
                               "'") > audits0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM anpr.covert_read_audit WHERE by_user = '" CLEO
             "' AND %lld = ANY (hit_ids) AND %lld = ANY (hit_ids) AND "
             "pg_xact_status(xact) = 'committed'",
             hit_a, hit_b);
    CHECK(h_query_ll(db.admin, sql) >= 1);
    CHECK(consenv_fits(out_u) && consenv_quiet(out_u));

    /* 6. Dirk catches up again, now that there are covert HITs: none, and no audit row. */
    char *dirk_catch[] = {getenv("ANPR_CONSOLE"),
                          "--endpoint",
                          d.covert_ep,
                          "--covert",
                          list,
                          "--db",
                          dirk_ci,
                          "--since",
                          "0",
                          "--no-keys",
                          "--format",
                          "tsv",
                          "--timeout",
                          "3",
                          NULL};
    con_u = consenv_start(dirk_catch, out_u, err_u, &in_u);
    CHECK_INT(h_wait(con_u, 30000), 0);
    close(in_u);
    text = h_slurp(out_u);
    CHECK_STR(text, ""); /* no HIT came live either: none was sent */
    free(text);
    text = h_slurp(err_u);
    CHECK_CONTAINS(text, "covert catch-up: " DIRK " is cleared for no covert list");
    CHECK_CONTAINS(text, "caught_up=0 ");
    free(text);
    CHECK_INT(h_query_ll(db.admin,
                         "SELECT count(*) FROM anpr.covert_read_audit WHERE by_user = '" DIRK "'"),
              0);

    CHECK(consenv_fits(out_c) && consenv_quiet(out_c));
    CHECK(consenv_fits(out_d) && consenv_quiet(out_d));
    close(in_c);
    close(in_d);
    kill(con_c, SIGTERM);
    kill(con_d, SIGTERM);
    CHECK_INT(h_wait(con_c, 10000), 0);
    CHECK_INT(h_wait(con_d, 10000), 0);

    /* 7. Paging past HITs dropped between request and rows. */
    s_page_past_dropped(&db, dealer, &seq, cleo_ci, list);
    if (check_failed) {
        s_dump("cleo", out_c, err_c);
        s_dump("dirk", out_d, err_d);
        s_dump("catch-up", out_u, err_u);
    }
    h_close(dealer);
    h_daemon_finish(&d, check_failed);
    h_db_close(&db);
    return check_done("itest_console_covert");
}
