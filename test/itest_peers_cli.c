/*
 * Integration (database only): anpr-cameras and anpr-consoles, run as an admin's own login
 * (a member of anpr_admin, not a superuser). Cameras are added with their place, road,
 * heading, position and CURVE public key (from a .pub file or as Z85), listed in an aligned
 * table, changed, disabled and enabled; consoles are added, cleared for covert lists and
 * uncleared. Bad input (control characters, a secret key file, a key that is another peer's,
 * a coordinate out of range, a list that is not covert) is refused with a clear message and
 * changes nothing. Keys are made with zmq_curve_keypair, as anpr-keygen makes them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "harness.h"

static struct h_db s_db;
static char s_dir[64];
static char *s_out, *s_err;
static char s_ci[640]; /* the admin's login */

/* Run tool (an environment variable naming it) with the args, then --db. Exit status. */
static int s_run(const char *tool, ...)
{
    char *argv[32], out[128], err[128];
    int n = 0;
    va_list ap;

    argv[n++] = getenv(tool);
    va_start(ap, tool);
    for (char *a; n < 28 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "--db";
    argv[n++] = s_ci;
    argv[n] = NULL;
    snprintf(out, sizeof out, "%s/out", s_dir);
    snprintf(err, sizeof err, "%s/err", s_dir);
    int rc = h_wait(h_spawn(argv, out, err), 60000);
    free(s_out);
    free(s_err);
    s_out = h_slurp(out);
    s_err = h_slurp(err);
    if (getenv("ANPR_TEST_VERBOSE"))
        fprintf(stderr, "$ %s %s: rc %d\n%s%s", tool, argv[1], rc, s_out, s_err);
    return rc;
}

/* A fresh key pair: the public key's Z85 into pub, both halves written as NAME.pub, NAME.key. */
static void s_keypair(const char *name, char pub[41])
{
    char secret[41], path[128];
    FILE *f;

    if (zmq_curve_keypair(pub, secret) != 0)
        h_fatal("zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
    snprintf(path, sizeof path, "%s/%s.pub", s_dir, name);
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", pub) < 0 || fclose(f) != 0)
        h_fatal("write %s", path);
    snprintf(path, sizeof path, "%s/%s.key", s_dir, name);
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", secret) < 0 || fclose(f) != 0)
        h_fatal("write %s", path);
}

static char *s_path(const char *name)
{
    static char buf[4][128];
    static int i;
    char *p = buf[i++ % 4];

    snprintf(p, 128, "%s/%s", s_dir, name);
    return p;
}

static long long s_count(const char *where_sql)
{
    char sql[512];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", where_sql);
    return h_query_ll(s_db.admin, sql);
}

static void s_test_cameras(const char *k1, const char *k2)
{
    char sql[512], want[128];

    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-E314-1", "--name", "E314 Boorsem", "--place",
                    "Boorsem", "--road", "E314", "--heading", "to Germany", "--lat", "51.0006",
                    "--lon", "5.7362", "--key", s_path("cam1.pub"), NULL),
              0);
    snprintf(sql, sizeof sql,
             "anpr.camera WHERE code = 'BE-E314-1' AND name = 'E314 Boorsem' AND place = "
             "'Boorsem' AND road = 'E314' AND heading = 'to Germany' AND latitude = 51.0006 "
             "AND longitude = 5.7362 AND NOT mobile AND enabled AND curve_key = '%s'",
             k1);
    CHECK_INT(s_count(sql), 1);
    /* A Z85 key given as it is; a mobile camera. */
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-MOBILE-1", "--name", "Meeswijk veer", "--mobile",
                    "--key", k2, NULL),
              0);
    CHECK_INT(s_count("anpr.camera WHERE code = 'BE-MOBILE-1' AND mobile AND latitude IS NULL"), 1);

    /* Refused, each with its reason, and nothing written. */
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-E314-1", "--name", "again", NULL), 2);
    CHECK_CONTAINS(s_err, "camera 'BE-E314-1' exists already");
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "X", "--key", k1, NULL), 2);
    CHECK_CONTAINS(s_err, "anpr-cameras: add: this CURVE key is already another peer's");
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "bad\033[31mred", NULL), 2);
    CHECK_CONTAINS(s_err, "--name holds a control character (U+001B)");
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "X", "--place", "a\xc2\x85z", NULL),
              2);
    CHECK_CONTAINS(s_err, "--place holds a control character (U+0085)");
    CHECK_INT(
        s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "X", "--key", s_path("cam3.key"), NULL),
        2);
    CHECK_CONTAINS(s_err, "is a secret key file");
    CHECK_INT(
        s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "X", "--key", s_path("nope.pub"), NULL),
        2);
    CHECK_CONTAINS(s_err, "no file ");
    CHECK_INT(
        s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "X", "--lat", "91", "--lon", "5", NULL),
        2);
    CHECK_CONTAINS(s_err, "--lat: expected decimal degrees -90..90, got '91'");
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "X", "--lat", "51", NULL), 2);
    CHECK_INT(
        s_run("ANPR_CAMERAS", "add", "BE-X-1", "--name", "X", "--lon", "nan", "--lat", "1", NULL),
        2);
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "bad code", "--name", "X", NULL), 2);
    CHECK_INT(s_run("ANPR_CAMERAS", "add", "BE-X-1", NULL), 2);
    CHECK_CONTAINS(s_err, "--name is required");
    CHECK_INT(s_count("anpr.camera"), 2);

    /* The table: a header, columns aligned, keys abbreviated, "-" for what is not there. */
    CHECK_INT(s_run("ANPR_CAMERAS", "list", NULL), 0);
    CHECK_CONTAINS(s_out, "CODE         NAME           PLACE    ROAD  HEADING     POSITION        "
                          "  STATE    KEY\n");
    snprintf(want, sizeof want,
             "BE-E314-1    E314 Boorsem   Boorsem  E314  to Germany  51.00060,5.73620  enabled  "
             "%.8s...\n",
             k1);
    CHECK_CONTAINS(s_out, want);
    snprintf(want, sizeof want,
             "BE-MOBILE-1  Meeswijk veer  -        -     -           mobile            enabled  "
             "%.8s...\n",
             k2);
    CHECK_CONTAINS(s_out, want);
    CHECK(strstr(s_out, k1) == NULL); /* never the whole key */

    /* set: only what is given changes. */
    CHECK_INT(s_run("ANPR_CAMERAS", "set", "BE-E314-1", "--heading", "to Maastricht",
                    "--no-position", NULL),
              0);
    CHECK_INT(s_count("anpr.camera WHERE code = 'BE-E314-1' AND heading = 'to Maastricht' AND "
                      "latitude IS NULL AND longitude IS NULL AND name = 'E314 Boorsem'"),
              1);
    CHECK_INT(s_run("ANPR_CAMERAS", "set", "BE-E314-1", NULL), 2);
    CHECK_CONTAINS(s_err, "nothing to change");
    CHECK_INT(s_run("ANPR_CAMERAS", "set", "BE-NONE", "--name", "x", NULL), 1);
    CHECK_CONTAINS(s_err, "no camera 'BE-NONE'");
    CHECK_INT(s_run("ANPR_CAMERAS", "set", "BE-MOBILE-1", "--no-mobile", "--no-key", NULL), 0);
    CHECK_INT(s_count("anpr.camera WHERE code = 'BE-MOBILE-1' AND NOT mobile AND "
                      "curve_key IS NULL"),
              1);

    CHECK_INT(s_run("ANPR_CAMERAS", "disable", "BE-E314-1", NULL), 0);
    CHECK_INT(s_count("anpr.camera WHERE code = 'BE-E314-1' AND NOT enabled"), 1);
    CHECK_INT(s_run("ANPR_CAMERAS", "list", NULL), 0);
    CHECK_CONTAINS(s_out, "  disabled  ");
    CHECK_INT(s_run("ANPR_CAMERAS", "enable", "BE-E314-1", NULL), 0);
    CHECK_INT(s_count("anpr.camera WHERE code = 'BE-E314-1' AND enabled"), 1);
    CHECK_INT(s_run("ANPR_CAMERAS", "disable", "BE-NONE", NULL), 1);
    CHECK_INT(s_run("ANPR_CAMERAS", "disable", "BE-E314-1", "--name", "x", NULL), 2);
}

static void s_test_consoles(const char *k1)
{
    char d1[41], d3[41], want[128];

    s_keypair("d1", d1);
    s_keypair("d3", d3);
    h_exec(s_db.admin, "INSERT INTO anpr.watchlist (name, category, covert) VALUES "
                       "('Covert ops', 'surveillance', true), ('Stolen', 'stolen', false)");

    CHECK_INT(s_run("ANPR_CONSOLES", "add", "dispatch-1", "--key", s_path("d1.pub"), NULL), 0);
    CHECK_INT(s_count("anpr.console WHERE name = 'dispatch-1' AND dispatch AND enabled"), 1);
    CHECK_INT(s_run("ANPR_CONSOLES", "add", "covert-1", "--key", d3, "--no-dispatch", NULL), 0);
    CHECK_INT(s_count("anpr.console WHERE name = 'covert-1' AND NOT dispatch"), 1);
    /* A camera's key is not a console's too. */
    CHECK_INT(s_run("ANPR_CONSOLES", "add", "dispatch-2", "--key", k1, NULL), 2);
    CHECK_CONTAINS(s_err, "another peer");
    CHECK_INT(s_run("ANPR_CONSOLES", "add", "dispatch-2", NULL), 2);
    CHECK_CONTAINS(s_err, "--key is required");
    CHECK_INT(s_run("ANPR_CONSOLES", "add", "dis\npatch", "--key", d3, NULL), 2);
    CHECK_INT(s_run("ANPR_CONSOLES", "add", "dispatch-1", "--key", s_path("d1.pub"), NULL), 2);
    CHECK_CONTAINS(s_err, "exists already");
    CHECK_INT(s_count("anpr.console"), 2);

    /* Clearance for covert lists only. */
    CHECK_INT(s_run("ANPR_CONSOLES", "clear", "covert-1", "Covert ops", NULL), 0);
    CHECK_INT(s_run("ANPR_CONSOLES", "clear", "covert-1", "Covert ops", NULL), 0);
    CHECK_INT(s_count("anpr.console_covert cc JOIN anpr.console c ON c.id = cc.console_id "
                      "WHERE c.name = 'covert-1'"),
              1);
    CHECK_INT(s_run("ANPR_CONSOLES", "clear", "covert-1", "Stolen", NULL), 2);
    CHECK_CONTAINS(s_err, "list 'Stolen' is not covert");
    CHECK_INT(s_run("ANPR_CONSOLES", "clear", "covert-1", "Nonesuch", NULL), 1);
    CHECK_CONTAINS(s_err, "no list 'Nonesuch'");
    CHECK_INT(s_run("ANPR_CONSOLES", "clear", "nobody", "Covert ops", NULL), 1);
    CHECK_CONTAINS(s_err, "no console 'nobody'");
    CHECK_INT(s_run("ANPR_CONSOLES", "clear", "covert-1", "Covert\x7fops", NULL), 2);

    CHECK_INT(s_run("ANPR_CONSOLES", "list", NULL), 0);
    CHECK_CONTAINS(s_out, "NAME        DISPATCH  STATE    KEY          COVERT LISTS\n");
    snprintf(want, sizeof want, "covert-1    no        enabled  %.8s...  Covert ops\n", d3);
    CHECK_CONTAINS(s_out, want);
    snprintf(want, sizeof want, "dispatch-1  yes       enabled  %.8s...  -\n", d1);
    CHECK_CONTAINS(s_out, want);

    CHECK_INT(s_run("ANPR_CONSOLES", "unclear", "covert-1", "Covert ops", NULL), 0);
    CHECK_INT(s_count("anpr.console_covert"), 0);
    CHECK_INT(s_run("ANPR_CONSOLES", "unclear", "covert-1", "Covert ops", NULL), 1);
    CHECK_CONTAINS(s_err, "is not cleared for list 'Covert ops'");

    CHECK_INT(s_run("ANPR_CONSOLES", "disable", "dispatch-1", NULL), 0);
    CHECK_INT(s_count("anpr.console WHERE name = 'dispatch-1' AND NOT enabled"), 1);
    CHECK_INT(s_run("ANPR_CONSOLES", "enable", "dispatch-1", NULL), 0);
    CHECK_INT(s_count("anpr.console WHERE name = 'dispatch-1' AND enabled"), 1);
    CHECK_INT(s_run("ANPR_CONSOLES", "set", "covert-1", "--dispatch", NULL), 0);
    CHECK_INT(s_count("anpr.console WHERE name = 'covert-1' AND dispatch"), 1);
    CHECK_INT(s_run("ANPR_CONSOLES", "set", "covert-1", NULL), 2);
    CHECK_INT(s_run("ANPR_CONSOLES", "set", "nobody", "--no-dispatch", NULL), 1);
}

int main(void)
{
    char k1[41], k2[41], k3[41];

    h_require_env();
    h_db_create(&s_db, "itest_peers_cli");
    snprintf(s_dir, sizeof s_dir, "/tmp/itest_peers.XXXXXX");
    if (!mkdtemp(s_dir))
        h_fatal("mkdtemp");
    /* An admin's own login: what the tools are for, with only anpr_admin's rights. */
    h_exec(s_db.admin, "DO $$ BEGIN "
                       "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'itest_peers_admin') "
                       "THEN CREATE ROLE itest_peers_admin LOGIN IN ROLE anpr_admin; END IF; "
                       "END $$");
    snprintf(s_ci, sizeof s_ci, "%s user=itest_peers_admin", s_db.admin_ci);

    s_keypair("cam1", k1);
    s_keypair("cam2", k2);
    s_keypair("cam3", k3);
    s_test_cameras(k1, k2);
    s_test_consoles(k1);

    free(s_out);
    free(s_err);
    h_rmtree(s_dir);
    h_db_close(&s_db);
    return check_done("itest_peers_cli");
}
