/*
 * anpr-consoles: the dispatch consoles (and control-room systems) that may subscribe to anprd's
 * feeds, managed by an admin through their own login (a member of anpr_admin): each console's
 * name and CURVE public key, whether it gets the general HIT feed, and the covert lists whose
 * HITs it is cleared to receive on the covert feed.
 *
 *   anpr-consoles add NAME --key PUBFILE|Z85 [--no-dispatch]
 *   anpr-consoles list
 *   anpr-consoles set NAME [--key PUBFILE|Z85] [--dispatch | --no-dispatch]
 *   anpr-consoles disable NAME | enable NAME
 *   anpr-consoles clear NAME LIST | unclear NAME LIST
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"

#define PROG "anpr-consoles"

struct opts {
    const char *db;
    const char *key;
    int dispatch; /* -1 not given, 0 --no-dispatch, 1 --dispatch */
    char keybuf[ADM_KEY_LEN + 1];
};

enum cmd { C_ADD, C_LIST, C_SET, C_DISABLE, C_ENABLE, C_CLEAR, C_UNCLEAR };

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " add NAME --key PUBFILE|Z85 [--no-dispatch]\n"
            "       " PROG " list\n"
            "       " PROG " set NAME [--key PUBFILE|Z85] [--dispatch | --no-dispatch]\n"
            "       " PROG " disable NAME\n"
            "       " PROG " enable NAME\n"
            "       " PROG " clear NAME LIST\n"
            "       " PROG " unclear NAME LIST\n"
            "Every command also takes --db CONNINFO (default: PGHOST, PGDATABASE, ...).\n"
            "\n"
            "The consoles that may subscribe to anprd's HIT feeds, as an admin's own login.\n"
            "NAME is [A-Za-z0-9._:-]{1,32}.\n"
            "\n"
            "  --key KEY        the console's CURVE public key: the .pub file anpr-keygen wrote,\n"
            "                   or its 40 characters of Z85\n"
            "  --no-dispatch    not on the general HIT feed (a console for covert lists only)\n"
            "  --dispatch       on the general HIT feed again (the default)\n"
            "  clear NAME LIST  the console receives the HITs of the covert list LIST on the\n"
            "                   covert feed; unclear takes that away\n"
            "\n"
            "A change applies to the console's next connection, without a reload.\n"
            "Exit status: 0 done, 1 no such console, list or clearance, 2 usage or input\n"
            "error, 3 database error.\n");
}

/* The console's id; NULL-free: 0 when there is none (reported), -1 on a database error. */
static long long s_console_id(PGconn *conn, const char *name, const char *ctx, int *rc)
{
    const char *params[1] = {name};
    PGresult *res =
        adm_q(conn, PROG, "SELECT id FROM anpr.console WHERE name = $1", 1, params, ctx, rc);
    long long id;

    if (!res)
        return -1;
    id = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (!id) {
        fprintf(stderr, PROG ": %s: no console '%s'\n", ctx, name);
        *rc = ADM_NOT_FOUND;
    }
    return id;
}

static int s_add(PGconn *conn, const struct opts *o, const char *name)
{
    const char *params[3] = {name, o->key, o->dispatch == 0 ? "false" : "true"};
    int rc = ADM_OK;
    PGresult *res = adm_q(conn, PROG,
                          "INSERT INTO anpr.console (name, curve_key, dispatch) "
                          "VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                          3, params, "add", &rc);

    if (!res)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        fprintf(stderr, PROG ": add: console '%s' exists already (change it with set)\n", name);
        rc = ADM_USAGE;
    }
    PQclear(res);
    return rc;
}

static int s_update(PGconn *conn, const char *sql, int n, const char *const *params,
                    const char *ctx)
{
    int rc = ADM_OK;
    PGresult *res = adm_q(conn, PROG, sql, n, params, ctx, &rc);

    if (!res)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        fprintf(stderr, PROG ": %s: no console '%s'\n", ctx, params[0]);
        rc = ADM_NOT_FOUND;
    }
    PQclear(res);
    return rc;
}

static int s_set(PGconn *conn, const struct opts *o, const char *name)
{
    const char *params[3] = {name, o->key, o->dispatch < 0 ? NULL : o->dispatch ? "true" : "false"};

    /* coalesce: what was not given stays as it is. */
    return s_update(conn,
                    "UPDATE anpr.console SET curve_key = coalesce($2, curve_key), "
                    "dispatch = coalesce($3::boolean, dispatch) WHERE name = $1",
                    3, params, "set");
}

static int s_clear(PGconn *conn, const char *name, const char *list, bool clear)
{
    const char *ctx = clear ? "clear" : "unclear";
    const char *params[2] = {list, NULL};
    char cid[24];
    long long id;
    int rc = ADM_OK;
    PGresult *res;

    id = s_console_id(conn, name, ctx, &rc);
    if (id <= 0)
        return rc;
    snprintf(cid, sizeof cid, "%lld", id);
    res = adm_q(conn, PROG, "SELECT id, covert FROM anpr.watchlist WHERE name = $1", 1, params, ctx,
                &rc);
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        fprintf(stderr, PROG ": %s: no list '%s'\n", ctx, list);
        PQclear(res);
        return ADM_NOT_FOUND;
    }
    if (clear && strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        fprintf(stderr,
                PROG ": clear: list '%s' is not covert: its HITs go to every dispatch console "
                     "already\n",
                list);
        PQclear(res);
        return ADM_USAGE;
    }
    const char *ids[2] = {cid, PQgetvalue(res, 0, 0)};
    PGresult *done = adm_q(conn, PROG,
                           clear ? "INSERT INTO anpr.console_covert (console_id, list_id) "
                                   "VALUES ($1, $2) ON CONFLICT DO NOTHING"
                                 : "DELETE FROM anpr.console_covert "
                                   "WHERE console_id = $1 AND list_id = $2",
                           2, ids, ctx, &rc);
    PQclear(res);
    if (!done)
        return rc;
    /* Clearing twice is no error; taking away what was never given is worth telling. */
    if (!clear && strcmp(PQcmdTuples(done), "0") == 0) {
        fprintf(stderr, PROG ": unclear: console '%s' is not cleared for list '%s'\n", name, list);
        rc = ADM_NOT_FOUND;
    }
    PQclear(done);
    return rc;
}

static int s_list(PGconn *conn)
{
    static const char *const headers[] = {"NAME", "DISPATCH", "STATE", "KEY", "COVERT LISTS"};
    int rc = ADM_OK;
    PGresult *res = adm_q(
        conn, PROG,
        "SELECT c.name, CASE WHEN c.dispatch THEN 'yes' ELSE 'no' END, "
        "CASE WHEN c.enabled THEN 'enabled' ELSE 'disabled' END, left(c.curve_key, 8) || '...', "
        "(SELECT string_agg(w.name, ',' ORDER BY w.name) FROM anpr.console_covert cc "
        "JOIN anpr.watchlist w ON w.id = cc.list_id WHERE cc.console_id = c.id) "
        "FROM anpr.console c ORDER BY c.name",
        0, NULL, "list", &rc);

    if (!res)
        return rc;
    adm_table(res, headers);
    PQclear(res);
    return ADM_OK;
}

/* Check the operands and options before any database work; -1 (reported) if bad. */
static int s_validate(enum cmd cmd, struct opts *o, char **ops)
{
    char why[256];

    if (cmd != C_LIST && !adm_ident_ok(ops[0]))
        return cli_bad_value(PROG, "NAME", ops[0], "[A-Za-z0-9._:-]{1,32}");
    if (cmd == C_CLEAR || cmd == C_UNCLEAR) {
        if (adm_text_ok(ops[1], 64, false, why, sizeof why) != 0)
            return cli_usage_error(PROG, "LIST %s", why);
    }
    if (cmd == C_ADD && !o->key)
        return cli_usage_error(PROG, "add: --key is required");
    if (cmd == C_ADD && o->dispatch == 1)
        return cli_usage_error(PROG, "add: --dispatch is the default; --no-dispatch turns it off");
    if (cmd == C_SET && !o->key && o->dispatch < 0)
        return cli_usage_error(PROG, "set: nothing to change");
    if (o->key) {
        if (adm_key_arg(o->key, o->keybuf, why, sizeof why) != 0)
            return cli_usage_error(PROG, "--key: %s", why);
        o->key = o->keybuf;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'}, {"key", required_argument, NULL, 'k'},
        {"dispatch", no_argument, NULL, 'D'}, {"no-dispatch", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
    };
    static const struct {
        const char *name;
        int operands;
        bool edits; /* takes --key, --dispatch, --no-dispatch */
        const char *want;
    } cmds[] = {
        [C_ADD] = {"add", 1, true, "a console name"},
        [C_LIST] = {"list", 0, false, ""},
        [C_SET] = {"set", 1, true, "a console name"},
        [C_DISABLE] = {"disable", 1, false, "a console name"},
        [C_ENABLE] = {"enable", 1, false, "a console name"},
        [C_CLEAR] = {"clear", 2, false, "a console name and a list name"},
        [C_UNCLEAR] = {"unclear", 2, false, "a console name and a list name"},
    };
    struct opts o = {.dispatch = -1};
    struct db_error err;
    PGconn *conn;
    size_t ci;
    int c, rc;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_usage(stdout);
        return ADM_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf(PROG " %s\n", ANPR_VERSION);
        return ADM_OK;
    }
    for (ci = 0; argc >= 2 && ci < sizeof cmds / sizeof cmds[0]; ci++)
        if (strcmp(argv[1], cmds[ci].name) == 0)
            break;
    if (argc < 2 || ci == sizeof cmds / sizeof cmds[0]) {
        cli_usage_error(PROG,
                        "expected a command: add, list, set, disable, enable, clear, unclear");
        return ADM_USAGE;
    }
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            s_usage(stdout);
            return ADM_OK;
        }
        if (c == ':' || c == '?') {
            cli_getopt_fail(PROG, c, argc, argv);
            return ADM_USAGE;
        }
        if (c != 'd' && !cmds[ci].edits) {
            cli_usage_error(PROG, "%s takes no option but --db", cmds[ci].name);
            return ADM_USAGE;
        }
        if (c == 'd') {
            o.db = optarg;
        } else if (c == 'k') {
            o.key = optarg;
        } else {
            if (o.dispatch >= 0) {
                cli_usage_error(PROG, "--dispatch and --no-dispatch exclude each other");
                return ADM_USAGE;
            }
            o.dispatch = c == 'D';
        }
    }
    if (argc - optind != cmds[ci].operands) {
        if (argc - optind > cmds[ci].operands)
            cli_usage_error(PROG, "%s: unexpected '%s'", cmds[ci].name,
                            argv[optind + cmds[ci].operands]);
        else
            cli_usage_error(PROG, "%s: expected %s", cmds[ci].name, cmds[ci].want);
        return ADM_USAGE;
    }
    if (s_validate((enum cmd)ci, &o, argv + optind) != 0)
        return ADM_USAGE;
    log_set_level(LOG_LEVEL_WARN);
    conn = db_connect(o.db ? o.db : "", PROG, &err);
    if (!conn) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return ADM_DATABASE;
    }
    switch ((enum cmd)ci) {
    case C_ADD:
        rc = s_add(conn, &o, argv[optind]);
        break;
    case C_LIST:
        rc = s_list(conn);
        break;
    case C_SET:
        rc = s_set(conn, &o, argv[optind]);
        break;
    case C_DISABLE:
    case C_ENABLE: {
        const char *params[2] = {argv[optind], ci == C_ENABLE ? "true" : "false"};

        rc = s_update(conn, "UPDATE anpr.console SET enabled = $2 WHERE name = $1", 2, params,
                      cmds[ci].name);
        break;
    }
    default:
        rc = s_clear(conn, argv[optind], argv[optind + 1], ci == C_CLEAR);
        break;
    }
    PQfinish(conn);
    return rc;
}
