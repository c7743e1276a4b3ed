/*
 * Integration: anpr-console as an operator uses it, a real process against the real anprd.
 *
 * - One car on two lists is one card: the listed plate first, spaced out, then how the camera
 *   read it; date and age; both lists; the camera by its name in anpr.camera; no line wider
 *   than 80 columns.
 * - The car read again at another camera within the window: the card says SEEN AGAIN there.
 * - Acknowledged from inside: keys on the console's stdin (a, the card's number, accept, a
 *   reason, a note): anpr.hit_ack has a row per list, under the console's PostgreSQL login,
 *   with the reason and the note.
 * - A second operator's ack of it is refused, naming the first (anpr-console ack, exit 1).
 * - A console catching up shows the card acknowledged, by whom.
 * - The feed's health: "feed ok" once the heartbeat comes; FEED LOST within a few seconds of
 *   anprd stopping; "feed back" once it is started again.
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
#include "util.h"

#define CAM_A  "BE-E314-BOORSEM-1"
#define CAM_B  "BE-SMEERMAAS-N2"
#define CAR    "1-CON-001"
#define FENCE  "FENCE-1"
#define ANNA   "op_anna"
#define BERT   "op_bert"
#define NOTE   "unit 12 sent"
#define REASON "no_unit_available" /* the 4th active reason, in order */

int main(void)
{
    struct h_db db;
    struct h_daemon d;
    char anna_ci[600], bert_ci[600], out[256], err[256], out2[256], err2[256], keys[64];
    char sql[512];

    h_require_env();
    h_db_create(&db, "itest_console");
    h_exec(db.admin,
           "INSERT INTO anpr.camera (code, name, heading) VALUES "
           "('" CAM_A "', 'E314 Boorsem', 'to the Netherlands'),"
           "('" CAM_B "', 'N2 Smeermaas', 'to Maastricht');"
           "INSERT INTO anpr.watchlist (name, category, priority, suppress_s, colour) VALUES "
           "('Stolen vehicles', 'stolen', 1, 600, 'red'), ('Wanted persons', 'wanted', 2, 600, "
           "NULL), ('Fence', 'surveillance', 9, 0, NULL);"
           "UPDATE anpr.watchlist SET match_policy = 'ocr', max_subst = 1;"
           "INSERT INTO anpr.watchlist_entry (list_id, plate, instruction, external_ref) "
           "SELECT id, '" CAR "', 'Stop and check the driver', 'PV-77' FROM anpr.watchlist "
           "WHERE name IN ('Stolen vehicles', 'Wanted persons');"
           "INSERT INTO anpr.watchlist_entry (list_id, plate) SELECT id, '" FENCE "' "
           "FROM anpr.watchlist WHERE name = 'Fence';"
           "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" ANNA "') THEN "
           "CREATE ROLE " ANNA " LOGIN; END IF; "
           "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" BERT "') THEN "
           "CREATE ROLE " BERT " LOGIN; END IF; END $$;"
           "GRANT anpr_dispatch TO " ANNA ", " BERT);
    snprintf(anna_ci, sizeof anna_ci, "%s", h_conninfo_as(&db, ANNA));
    snprintf(bert_ci, sizeof bert_ci, "%s", h_conninfo_as(&db, BERT));
    struct h_daemon_opts opts = {.dispatch = "  heartbeat_s: 1\n  reannounce_s: 0\n"};
    if (h_daemon_start_opts(&d, &db, &opts) != 0)
        h_fatal("anprd did not start");
    snprintf(out, sizeof out, "%s/console.out", d.dir);
    snprintf(err, sizeof err, "%s/console.err", d.dir);
    snprintf(out2, sizeof out2, "%s/console2.out", d.dir);
    snprintf(err2, sizeof err2, "%s/console2.err", d.dir);

    int in = -1;
    char *argv[] = {getenv("ANPR_CONSOLE"),
                    "--endpoint",
                    d.dispatch_ep,
                    "--db",
                    anna_ci,
                    "--timeout",
                    "240",
                    NULL};
    pid_t con = consenv_start(argv, out, err, &in);

    /* 1. The feed's health: connected at the first heartbeat. */
    CHECK(consenv_wait_out(out, 0, "feed ok", 20000));
    CHECK(consenv_wait_out(out, 0, "cameras 2/2 reporting", 1000));

    /* The console subscribes at its own pace: fence reads until one's card shows. */
    void *dealer = h_dealer(d.ingest_ep);
    uint64_t seq = 1;
    bool live = false;
    for (int i = 0; i < 100 && !live; i++) {
        struct proto_read r = h_read(CAM_B, seq++, FENCE, "BE");
        h_send_read(dealer, &r);
        live = consenv_wait_out(out, 0, "F E N C E 1", 200);
    }
    CHECK(live);

    /* 2. One car on two lists: one card, plate first, both lists, the camera's name. */
    size_t mark = consenv_size(out);
    struct proto_read r = h_read(CAM_A, seq++, CAR, "BE");
    snprintf(r.plate, sizeof r.plate, "1-C0N-001"); /* misread: an O as 0 */
    h_send_read(dealer, &r);
    CHECK(consenv_wait_out(out, mark, "P1 STOLEN  1 C O N 0 0 1   read 1-C0N-001 (BE)", 20000));
    CHECK(consenv_wait_out(out, mark, "Wanted persons: ", 5000));
    CHECK(consenv_wait_out(out, mark, "Stolen vehicles: ", 1000));
    CHECK(consenv_wait_out(out, mark,
                           "at E314 Boorsem (" CAM_A "), lane 1, coming towards the camera", 1000));
    /* The date with the year, and the age. */
    char year[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(year, sizeof year, " %Y ", gmtime_r(&now, &tm));
    CHECK(consenv_wait_out(out, mark, year, 1000));
    CHECK(consenv_wait_out(out, mark, "ago, HIT ", 1000) ||
          consenv_wait_out(out, mark, "just now, HIT ", 1));
    CHECK(consenv_wait_out(out, mark, "ref PV-77", 1000));
    /* The card's number, "[N] P1 STOLEN". */
    char *text = h_slurp(out);
    const char *head = strstr(text + mark, "P1 STOLEN  1 C O N");
    int number = 0;
    const char *br = head;
    while (br && br > text && *br != '[')
        br--;
    if (br && *br == '[')
        number = atoi(br + 1);
    CHECK(number > 0);
    /* One card: the plate line once. */
    CHECK(head && strstr(head + strlen("P1 STOLEN  1 C O N 0 0 1"), "1 C O N 0 0 1") == NULL);
    free(text);

    /* 3. Seen again at another camera within the window: the card says where. */
    mark = consenv_size(out);
    r = h_read(CAM_B, seq++, CAR, "BE");
    r.direction = PROTO_DIR_AWAY;
    h_send_read(dealer, &r);
    CHECK(
        consenv_wait_out(out, mark, "SEEN AGAIN 1CON001 (read 1-CON-001) at N2 Smeermaas", 20000));
    CHECK(consenv_wait_out(out, mark, "moving away from the camera", 1000));

    /* 4. Acknowledged from inside: a, the number, accept, the 4th reason, a note. */
    mark = consenv_size(out);
    snprintf(keys, sizeof keys, "a%d\na4" NOTE "\n", number);
    CHECK(consenv_send_keys(in, keys));
    CHECK(consenv_wait_out(out, mark, "ACCEPTED, HIT", 20000));
    CHECK(consenv_wait_out(out, mark, "by " ANNA ", reason " REASON, 1000));
    CHECK_INT(h_wait_ll(db.admin,
                        "SELECT count(*) FROM anpr.hit_ack k JOIN anpr.hits h ON h.hit_id = "
                        "k.hit_id WHERE h.plate = '1C0N001' AND NOT h.suppressed AND k.operator "
                        "= '" ANNA "' AND k.decision = 'accepted' AND k.reason = '" REASON "' "
                        "AND k.note = '" NOTE "'",
                        2, 10000),
              2);

    /* 5. Another operator: refused, naming the first. */
    long long hit_id = h_query_ll(db.admin, "SELECT min(hit_id) FROM anpr.hits WHERE plate = "
                                            "'1C0N001' AND NOT suppressed");
    char id[32];
    snprintf(id, sizeof id, "%lld", hit_id);
    char *ack_argv[] = {getenv("ANPR_CONSOLE"),
                        "ack",
                        id,
                        "rejected",
                        "--reason",
                        "misread",
                        "--db",
                        bert_ci,
                        NULL};
    CHECK_INT(h_wait(h_spawn(ack_argv, out2, out2), 20000), 1);
    text = h_slurp(out2);
    snprintf(sql, sizeof sql, "HIT %s was already accepted by " ANNA " at ", id);
    CHECK_CONTAINS(text, sql);
    free(text);
    CHECK_INT(h_query_ll(db.admin, "SELECT count(*) FROM anpr.hit_ack WHERE operator = '" BERT "'"),
              0);
    /* The first operator may still change their own decision. */
    char *own_argv[] = {getenv("ANPR_CONSOLE"),
                        "ack",
                        id,
                        "not-enforced",
                        "--note",
                        "called away",
                        "--db",
                        anna_ci,
                        NULL};
    CHECK_INT(h_wait(h_spawn(own_argv, err2, err2), 20000), 0);
    text = h_slurp(err2);
    CHECK_CONTAINS(text, "not enforced by " ANNA);
    free(text);

    /* 6. A console catching up shows who acknowledged it. */
    char *catch_argv[] = {getenv("ANPR_CONSOLE"),
                          "--endpoint",
                          d.dispatch_ep,
                          "--db",
                          bert_ci,
                          "--since",
                          "0",
                          "--no-keys",
                          "--timeout",
                          "3",
                          NULL};
    int in2 = -1;
    pid_t con2 = consenv_start(catch_argv, out2, err2, &in2);
    CHECK_INT(h_wait(con2, 30000), 0);
    close(in2);
    text = h_slurp(out2);
    CHECK_CONTAINS(text, "NOT ENFORCED by " ANNA " at ");
    CHECK_CONTAINS(text, "by " ANNA " at "); /* and its note, "called away", wrapped */
    CHECK_CONTAINS(text, ": \"called");
    CHECK_CONTAINS(text, "not acknowledged yet"); /* the fence's cards */
    free(text);
    CHECK(consenv_fits(out2));

    /* 7. anprd stops: FEED LOST within a few intervals (3 s; generous for a busy machine);
     * started again: back. */
    mark = consenv_size(out);
    int64_t t0 = util_mono_us();
    CHECK_INT(h_daemon_stop(&d, SIGTERM, 20000), 0);
    CHECK(consenv_wait_out(out, mark, "FEED LOST: no message from anprd at", 20000));
    int64_t took = util_mono_us() - t0;
    CHECK(took >= 2LL * 1000000); /* not before the heartbeats could have come */
    CHECK(h_daemon_restart(&d) == 0);
    CHECK(consenv_wait_out(out, mark, "feed back: feed ok", 30000));

    CHECK(consenv_fits(out));
    close(in); /* no more keys: the console goes on with the feed */
    kill(con, SIGTERM);
    CHECK_INT(h_wait(con, 10000), 0);
    if (check_failed) {
        char *o = h_slurp(out), *e = h_slurp(err);
        fprintf(stderr, "----- console -----\n%s----- stderr -----\n%s-----\n", o, e);
        free(o);
        free(e);
    }
    h_close(dealer);
    h_daemon_finish(&d, check_failed);
    h_db_close(&db);
    return check_done("itest_console");
}
