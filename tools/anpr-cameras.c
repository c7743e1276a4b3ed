/*
 * anpr-cameras: the cameras that may send reads, managed by an admin through their own login
 * (a member of anpr_admin), never with raw SQL: each camera's code, name, where it stands, and
 * the CURVE public key it must connect with (anprd admits a reader only with its camera's key,
 * and only for that camera's reads).
 *
 *   anpr-cameras add CODE --name NAME [--place P] [--road R] [--heading H] [--lat X --lon Y]
 *                         [--mobile] [--key PUBFILE|Z85]
 *   anpr-cameras list
 *   anpr-cameras set CODE [the options of add] [--no-position] [--no-mobile] [--no-key]
 *   anpr-cameras disable CODE | enable CODE
 */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"

#define PROG "anpr-cameras"

struct opts {
    const char *db;
    const char *name, *place, *road, *heading;
    const char *lat, *lon;
    bool no_position;
    int mobile; /* -1 not given, 0 --no-mobile, 1 --mobile */
    const char *key;
    bool no_key;
    char keybuf[ADM_KEY_LEN + 1];
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " add CODE --name NAME [--place P] [--road R] [--heading H]\n"
            "                        [--lat X --lon Y] [--mobile] [--key PUBFILE|Z85]\n"
            "       " PROG " list\n"
            "       " PROG " set CODE [--name NAME] [--place P] [--road R] [--heading H]\n"
            "                        [--lat X --lon Y | --no-position] [--mobile | --no-mobile]\n"
            "                        [--key PUBFILE|Z85 | --no-key]\n"
            "       " PROG " disable CODE\n"
            "       " PROG " enable CODE\n"
            "Every command also takes --db CONNINFO (default: PGHOST, PGDATABASE, ...).\n"
            "\n"
            "The cameras that may send reads to anprd, as an admin's own login. CODE is what\n"
            "the camera sends, [A-Za-z0-9._:-]{1,32}.\n"
            "\n"
            "  --name NAME      what operators see (up to 128 bytes)\n"
            "  --place P        where it stands, e.g. \"Boorsem\" (up to 128 bytes)\n"
            "  --road R         the road, e.g. \"E314\" (up to 64 bytes)\n"
            "  --heading H      the direction it reads, e.g. \"to Germany\" (up to 64 bytes)\n"
            "  --lat X --lon Y  its position in decimal degrees (WGS84)\n"
            "  --mobile         a mobile camera: its reads carry their own position\n"
            "  --key KEY        the camera's CURVE public key: the .pub file anpr-keygen wrote,\n"
            "                   or its 40 characters of Z85; a camera without one cannot connect\n"
            "\n"
            "A key change applies to the camera's next connection at once; a new, changed or\n"
            "disabled camera otherwise at anprd's next reload (systemctl reload anprd).\n"
            "Exit status: 0 done, 1 no such camera, 2 usage or input error, 3 database error.\n");
}

/* A decimal coordinate within [-limit, limit]: digits, sign, point, exponent; no inf or nan. */
static bool s_coord_ok(const char *s, double limit)
{
    char *end;
    double v;

    if (!*s || strspn(s, "0123456789.+-eE") != strlen(s))
        return false;
    v = strtod(s, &end);
    return *end == '\0' && isfinite(v) && v >= -limit && v <= limit;
}

/* Check the code and every option given, before any database work; -1 (reported) on the
   first bad one. The key file is read here: o->key becomes its 40 characters. */
static int s_validate(struct opts *o, const char *code, bool adding)
{
    static const struct {
        const char *opt;
        size_t off, max;
        bool empty_ok;
    } texts[] = {
        {"--name", offsetof(struct opts, name), 128, false},
        {"--place", offsetof(struct opts, place), 128, true},
        {"--road", offsetof(struct opts, road), 64, true},
        {"--heading", offsetof(struct opts, heading), 64, true},
    };
    char why[256];

    if (!adm_ident_ok(code))
        return cli_bad_value(PROG, "CODE", code, "[A-Za-z0-9._:-]{1,32}");
    if (adding && !o->name)
        return cli_usage_error(PROG, "add: --name is required");
    if (adding && (o->no_position || o->no_key || o->mobile == 0))
        return cli_usage_error(PROG, "add: --no-position, --no-mobile, --no-key are for set");
    if (!adding && !o->name && !o->place && !o->road && !o->heading && !o->lat && !o->no_position &&
        o->mobile < 0 && !o->key && !o->no_key)
        return cli_usage_error(PROG, "set: nothing to change");
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *v = *(const char *const *)((const char *)o + texts[i].off);

        if (v && adm_text_ok(v, texts[i].max, texts[i].empty_ok, why, sizeof why) != 0)
            return cli_usage_error(PROG, "%s %s", texts[i].opt, why);
    }
    if (!o->lat != !o->lon)
        return cli_usage_error(PROG, "--lat and --lon go together");
    if (o->lat && !s_coord_ok(o->lat, 90))
        return cli_bad_value(PROG, "--lat", o->lat, "decimal degrees -90..90");
    if (o->lon && !s_coord_ok(o->lon, 180))
        return cli_bad_value(PROG, "--lon", o->lon, "decimal degrees -180..180");
    if (o->lat && o->no_position)
        return cli_usage_error(PROG, "--lat/--lon and --no-position exclude each other");
    if (o->key && o->no_key)
        return cli_usage_error(PROG, "--key and --no-key exclude each other");
    if (o->key) {
        if (adm_key_arg(o->key, o->keybuf, why, sizeof why) != 0)
            return cli_usage_error(PROG, "--key: %s", why);
        o->key = o->keybuf;
    }
    return 0;
}

static int s_add(PGconn *conn, struct opts *o, const char *code)
{
    const char *params[9] = {code,
                             o->name,
                             o->place ? o->place : "",
                             o->road ? o->road : "",
                             o->heading ? o->heading : "",
                             o->lat,
                             o->lon,
                             o->mobile == 1 ? "true" : "false",
                             o->key};
    int rc = ADM_OK;
    PGresult *res;

    res = adm_q(conn, PROG,
                "INSERT INTO anpr.camera (code, name, place, road, heading, latitude, longitude, "
                "mobile, curve_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "ON CONFLICT (code) DO NOTHING",
                9, params, "add", &rc);
    if (!res)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        fprintf(stderr, PROG ": add: camera '%s' exists already (change it with set)\n", code);
        rc = ADM_USAGE;
    }
    PQclear(res);
    return rc;
}

static int s_set(PGconn *conn, struct opts *o, const char *code)
{
    char sql[512];
    const char *params[10];
    size_t len = 0;
    int n = 0, rc = ADM_OK;
    PGresult *res;

    params[n++] = code;
    cli_cat(sql, sizeof sql, &len, "UPDATE anpr.camera SET ");
#define S_SET(col, val)                                                                            \
    do {                                                                                           \
        params[n++] = (val);                                                                       \
        cli_cat(sql, sizeof sql, &len, "%s%s = $%d", n > 2 ? ", " : "", col, n);                   \
    } while (0)
    if (o->name)
        S_SET("name", o->name);
    if (o->place)
        S_SET("place", o->place);
    if (o->road)
        S_SET("road", o->road);
    if (o->heading)
        S_SET("heading", o->heading);
    if (o->lat || o->no_position) {
        S_SET("latitude", o->lat);
        S_SET("longitude", o->lon);
    }
    if (o->mobile >= 0)
        S_SET("mobile", o->mobile ? "true" : "false");
    if (o->key || o->no_key)
        S_SET("curve_key", o->key);
#undef S_SET
    cli_cat(sql, sizeof sql, &len, " WHERE code = $1");
    res = adm_q(conn, PROG, sql, n, params, "set", &rc);
    if (!res)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        fprintf(stderr, PROG ": set: no camera '%s'\n", code);
        rc = ADM_NOT_FOUND;
    }
    PQclear(res);
    return rc;
}

static int s_enable(PGconn *conn, const char *code, bool enable)
{
    const char *params[2] = {code, enable ? "true" : "false"};
    int rc = ADM_OK;
    PGresult *res = adm_q(conn, PROG, "UPDATE anpr.camera SET enabled = $2 WHERE code = $1", 2,
                          params, enable ? "enable" : "disable", &rc);

    if (!res)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        fprintf(stderr, PROG ": %s: no camera '%s'\n", enable ? "enable" : "disable", code);
        rc = ADM_NOT_FOUND;
    }
    PQclear(res);
    return rc;
}

static int s_list(PGconn *conn)
{
    static const char *const headers[] = {"CODE",    "NAME",     "PLACE", "ROAD",
                                          "HEADING", "POSITION", "STATE", "KEY"};
    int rc = ADM_OK;
    PGresult *res =
        adm_q(conn, PROG,
              "SELECT code, name, nullif(place, ''), nullif(road, ''), nullif(heading, ''), "
              "CASE WHEN mobile THEN 'mobile' WHEN latitude IS NOT NULL THEN "
              "round(latitude::numeric, 5) || ',' || round(longitude::numeric, 5) END, "
              "CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END, left(curve_key, 8) || '...' "
              "FROM anpr.camera ORDER BY code",
              0, NULL, "list", &rc);

    if (!res)
        return rc;
    adm_table(res, headers);
    PQclear(res);
    return ADM_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},      {"name", required_argument, NULL, 'n'},
        {"place", required_argument, NULL, 'p'},   {"road", required_argument, NULL, 'r'},
        {"heading", required_argument, NULL, 'H'}, {"lat", required_argument, NULL, 'y'},
        {"lon", required_argument, NULL, 'x'},     {"no-position", no_argument, NULL, 'P'},
        {"mobile", no_argument, NULL, 'm'},        {"no-mobile", no_argument, NULL, 'M'},
        {"key", required_argument, NULL, 'k'},     {"no-key", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    static const struct {
        const char *name;
        int operands;
        bool edits; /* takes the options of add */
    } cmds[] = {{"add", 1, true},
                {"list", 0, false},
                {"set", 1, true},
                {"disable", 1, false},
                {"enable", 1, false}};
    struct opts o = {.mobile = -1};
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
        cli_usage_error(PROG, "expected a command: add, list, set, disable, enable");
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
        switch (c) {
        case 'd':
            o.db = optarg;
            break;
        case 'n':
            o.name = optarg;
            break;
        case 'p':
            o.place = optarg;
            break;
        case 'r':
            o.road = optarg;
            break;
        case 'H':
            o.heading = optarg;
            break;
        case 'y':
            o.lat = optarg;
            break;
        case 'x':
            o.lon = optarg;
            break;
        case 'P':
            o.no_position = true;
            break;
        case 'm':
        case 'M':
            if (o.mobile >= 0) {
                cli_usage_error(PROG, "--mobile and --no-mobile exclude each other");
                return ADM_USAGE;
            }
            o.mobile = c == 'm';
            break;
        case 'k':
            o.key = optarg;
            break;
        case 'K':
            o.no_key = true;
            break;
        default:
            break;
        }
    }
    if (argc - optind != cmds[ci].operands) {
        if (argc - optind > cmds[ci].operands)
            cli_usage_error(PROG, "%s: unexpected '%s'", cmds[ci].name,
                            argv[optind + cmds[ci].operands]);
        else
            cli_usage_error(PROG, "%s: expected a camera code", cmds[ci].name);
        return ADM_USAGE;
    }
    if (cmds[ci].edits && s_validate(&o, argv[optind], ci == 0) != 0)
        return ADM_USAGE;
    if (!cmds[ci].edits && cmds[ci].operands && !adm_ident_ok(argv[optind])) {
        cli_bad_value(PROG, "CODE", argv[optind], "[A-Za-z0-9._:-]{1,32}");
        return ADM_USAGE;
    }
    log_set_level(LOG_LEVEL_WARN);
    conn = db_connect(o.db ? o.db : "", PROG, &err);
    if (!conn) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return ADM_DATABASE;
    }
    switch (ci) {
    case 0:
        rc = s_add(conn, &o, argv[optind]);
        break;
    case 1:
        rc = s_list(conn);
        break;
    case 2:
        rc = s_set(conn, &o, argv[optind]);
        break;
    default:
        rc = s_enable(conn, argv[optind], ci == 4);
        break;
    }
    PQfinish(conn);
    return rc;
}
