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
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "cli.h"

#define PROG "anpr-cameras"

struct opts {
    const char *name, *place, *road, *heading;
    const char *lat, *lon;
    bool no_position;
    int mobile; /* -1 not given, 0 --no-mobile, 1 --mobile */
    const char *key;
    bool no_key;
};

enum cmd { C_ADD, C_LIST, C_SET, C_DISABLE, C_ENABLE };

static const char s_help[] =
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
    "Exit status: 0 done, 1 no such camera, 2 usage or input error, 3 database error.\n";

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

/* The options of add and set (adm_tool.option). */
static int s_option(void *opts, int opt, const char *arg)
{
    struct opts *o = opts;

    switch (opt) {
    case 'n':
        o->name = arg;
        break;
    case 'p':
        o->place = arg;
        break;
    case 'r':
        o->road = arg;
        break;
    case 'H':
        o->heading = arg;
        break;
    case 'y':
        o->lat = arg;
        break;
    case 'x':
        o->lon = arg;
        break;
    case 'P':
        o->no_position = true;
        break;
    case 'm':
    case 'M':
        return adm_either(PROG, &o->mobile, opt == 'm', "--mobile", "--no-mobile");
    case 'k':
        o->key = arg;
        break;
    case 'K':
        o->no_key = true;
        break;
    default:
        break;
    }
    return 0;
}

/* Check every option given to add or set, before any database work; -1 (reported) on the
   first bad one. The key file is read here: o->key becomes its 40 characters. */
static int s_check(adm_t *adm, void *opts)
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
    struct opts *o = opts;
    enum cmd cmd = (enum cmd)adm_cmd(adm);
    bool adding = cmd == C_ADD;
    char why[256];

    if (cmd != C_ADD && cmd != C_SET)
        return 0;
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
    if (o->key && !(o->key = adm_key(adm, o->key)))
        return -1;
    return 0;
}

static int s_add(adm_t *adm, const struct opts *o, const char *code)
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

    return adm_add(
        adm,
        "INSERT INTO anpr.camera (code, name, place, road, heading, latitude, longitude, "
        "mobile, curve_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (code) DO NOTHING",
        9, params);
}

static int s_set(adm_t *adm, const struct opts *o, const char *code)
{
    char sql[512];
    const char *params[10];
    size_t len = 0;
    int n = 0;

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
    return adm_update(adm, "set", sql, n, params);
}

static int s_list(adm_t *adm)
{
    static const char *const headers[] = {"CODE",    "NAME",     "PLACE", "ROAD",
                                          "HEADING", "POSITION", "STATE", "KEY"};

    return adm_list(adm,
                    "SELECT code, name, nullif(place, ''), nullif(road, ''), nullif(heading, ''), "
                    "CASE WHEN mobile THEN 'mobile' WHEN latitude IS NOT NULL THEN "
                    "round(latitude::numeric, 5) || ',' || round(longitude::numeric, 5) END, "
                    "CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END, "
                    "left(curve_key, 8) || '...' FROM anpr.camera ORDER BY code",
                    headers);
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
        rc =
            adm_enable(adm, "UPDATE anpr.camera SET enabled = $2 WHERE code = $1", cmd == C_ENABLE);
        break;
    }
    return rc;
}

static const struct option s_longopts[] = {
    {"db", required_argument, NULL, 'd'},      {"name", required_argument, NULL, 'n'},
    {"place", required_argument, NULL, 'p'},   {"road", required_argument, NULL, 'r'},
    {"heading", required_argument, NULL, 'H'}, {"lat", required_argument, NULL, 'y'},
    {"lon", required_argument, NULL, 'x'},     {"no-position", no_argument, NULL, 'P'},
    {"mobile", no_argument, NULL, 'm'},        {"no-mobile", no_argument, NULL, 'M'},
    {"key", required_argument, NULL, 'k'},     {"no-key", no_argument, NULL, 'K'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
};

static const struct adm_cmd s_cmds[] = {
    [C_ADD] = {"add", 1, true, "a camera code"},
    [C_LIST] = {"list", 0, false, ""},
    [C_SET] = {"set", 1, true, "a camera code"},
    [C_DISABLE] = {"disable", 1, false, "a camera code"},
    [C_ENABLE] = {"enable", 1, false, "a camera code"},
};

static const struct adm_tool s_tool = {
    .prog = PROG,
    .noun = "camera",
    .ident = "CODE",
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
    struct opts o = {.mobile = -1};

    return adm_main(&s_tool, &o, argc, argv);
}
