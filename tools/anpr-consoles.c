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

#define PROG "anpr-consoles"

struct opts {
    const char *key;
    int dispatch; /* -1 not given, 0 --no-dispatch, 1 --dispatch */
};

enum cmd { C_ADD, C_LIST, C_SET, C_DISABLE, C_ENABLE, C_CLEAR, C_UNCLEAR };

static const char s_help[] =
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
    "error, 3 database error.\n";

/* The console's id; NULL-free: 0 when there is none (reported), -1 on a database error. */
static long long s_console_id(adm_t *adm, const char *name, const char *ctx, int *rc)
{
    const char *params[1] = {name};
    PGresult *res = adm_q(adm, "SELECT id FROM anpr.console WHERE name = $1", 1, params, ctx, rc);
    long long id;

    if (!res)
        return -1;
    id = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (!id)
        *rc = adm_not_found(adm, ctx, name);
    return id;
}

static int s_add(adm_t *adm, const struct opts *o, const char *name)
{
    const char *params[3] = {name, o->key, o->dispatch == 0 ? "false" : "true"};

    return adm_add(adm,
                   "INSERT INTO anpr.console (name, curve_key, dispatch) "
                   "VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                   3, params);
}

static int s_set(adm_t *adm, const struct opts *o, const char *name)
{
    const char *params[3] = {name, o->key, o->dispatch < 0 ? NULL : o->dispatch ? "true" : "false"};

    /* coalesce: what was not given stays as it is. */
    return adm_update(adm, "set",
                      "UPDATE anpr.console SET curve_key = coalesce($2, curve_key), "
                      "dispatch = coalesce($3::boolean, dispatch) WHERE name = $1",
                      3, params);
}

static int s_clear(adm_t *adm, const char *name, const char *list, bool clear)
{
    const char *ctx = clear ? "clear" : "unclear";
    const char *params[2] = {list, NULL};
    char cid[24];
    long long id;
    int rc = ADM_OK;
    PGresult *res;

    id = s_console_id(adm, name, ctx, &rc);
    if (id <= 0)
        return rc;
    snprintf(cid, sizeof cid, "%lld", id);
    res = adm_q(adm, "SELECT id, covert FROM anpr.watchlist WHERE name = $1", 1, params, ctx, &rc);
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
    PGresult *done = adm_q(adm,
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

static int s_list(adm_t *adm)
{
    static const char *const headers[] = {"NAME", "DISPATCH", "STATE", "KEY", "COVERT LISTS"};

    return adm_list(
        adm,
        "SELECT c.name, CASE WHEN c.dispatch THEN 'yes' ELSE 'no' END, "
        "CASE WHEN c.enabled THEN 'enabled' ELSE 'disabled' END, left(c.curve_key, 8) || '...', "
        "(SELECT string_agg(w.name, ',' ORDER BY w.name) FROM anpr.console_covert cc "
        "JOIN anpr.watchlist w ON w.id = cc.list_id WHERE cc.console_id = c.id) "
        "FROM anpr.console c ORDER BY c.name",
        headers);
}

/* --key, --dispatch, --no-dispatch (adm_tool.option). */
static int s_option(void *opts, int opt, const char *arg)
{
    struct opts *o = opts;

    if (opt == 'k') {
        o->key = arg;
        return 0;
    }
    return adm_either(PROG, &o->dispatch, opt == 'D', "--dispatch", "--no-dispatch");
}

/* Check the operands (but the console's name: adm_main's) and options before any database
   work; -1 (reported) if bad. The key file is read here: o->key becomes its 40 characters. */
static int s_check(adm_t *adm, void *opts)
{
    struct opts *o = opts;
    enum cmd cmd = (enum cmd)adm_cmd(adm);
    char why[256];

    if (cmd == C_CLEAR || cmd == C_UNCLEAR) {
        if (adm_text_ok(adm_operand(adm, 1), 64, false, why, sizeof why) != 0)
            return cli_usage_error(PROG, "LIST %s", why);
    }
    if (cmd == C_ADD && !o->key)
        return cli_usage_error(PROG, "add: --key is required");
    if (cmd == C_ADD && o->dispatch == 1)
        return cli_usage_error(PROG, "add: --dispatch is the default; --no-dispatch turns it off");
    if (cmd == C_SET && !o->key && o->dispatch < 0)
        return cli_usage_error(PROG, "set: nothing to change");
    if (o->key && !(o->key = adm_key(adm, o->key)))
        return -1;
    return 0;
}

static int s_run(adm_t *adm, void *opts)
{
    const struct opts *o = opts;
    enum cmd cmd = (enum cmd)adm_cmd(adm);
    int rc = ADM_OK;

    switch (cmd) {
    case C_ADD:
        rc = s_add(adm, o, adm_operand(adm, 0));
        break;
    case C_LIST:
        rc = s_list(adm);
        break;
    case C_SET:
        rc = s_set(adm, o, adm_operand(adm, 0));
        break;
    case C_DISABLE:
    case C_ENABLE:
        rc = adm_enable(adm, "UPDATE anpr.console SET enabled = $2 WHERE name = $1",
                        cmd == C_ENABLE);
        break;
    case C_CLEAR:
    case C_UNCLEAR:
        rc = s_clear(adm, adm_operand(adm, 0), adm_operand(adm, 1), cmd == C_CLEAR);
        break;
    }
    return rc;
}

static const struct option s_longopts[] = {
    {"db", required_argument, NULL, 'd'}, {"key", required_argument, NULL, 'k'},
    {"dispatch", no_argument, NULL, 'D'}, {"no-dispatch", no_argument, NULL, 'N'},
    {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
};

static const struct adm_cmd s_cmds[] = {
    [C_ADD] = {"add", 1, true, "a console name"},
    [C_LIST] = {"list", 0, false, ""},
    [C_SET] = {"set", 1, true, "a console name"},
    [C_DISABLE] = {"disable", 1, false, "a console name"},
    [C_ENABLE] = {"enable", 1, false, "a console name"},
    [C_CLEAR] = {"clear", 2, false, "a console name and a list name"},
    [C_UNCLEAR] = {"unclear", 2, false, "a console name and a list name"},
};

static const struct adm_tool s_tool = {
    .prog = PROG,
    .noun = "console",
    .ident = "NAME",
    .help = s_help,
    .cmds = s_cmds,
    .ncmds = sizeof s_cmds / sizeof s_cmds[0],
    .longopts = s_longopts,
    .option = s_option,
    .check = s_check,
    .run = s_run,
};

int main(int argc, char **argv)
{
    struct opts o = {.dispatch = -1};

    return adm_main(&s_tool, &o, argc, argv);
}
