/*
 * adm: what anpr-cameras and anpr-consoles share; see adm.h.
 */
#include "adm.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"

struct adm {
    const struct adm_tool *tool; /* borrowed */
    size_t cmd;                  /* index in tool->cmds */
    char **ops;                  /* the operands, in argv (borrowed) */
    const char *db;              /* --db, in argv; NULL: libpq's defaults */
    PGconn *conn;                /* owned; NULL until connected */
    char key[ADM_KEY_LEN + 1];   /* the last adm_key */
};

/* Z85's alphabet (ZeroMQ RFC 32), as the schema's anpr.curve_key domain spells it. */
static const char s_z85[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static bool s_z85_key(const char *s, size_t len)
{
    uint8_t raw[32];
    char copy[ADM_KEY_LEN + 1];

    if (len != ADM_KEY_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !strchr(s_z85, s[i]))
            return false;
    memcpy(copy, s, len);
    copy[len] = '\0';
    /* Every 5 characters must fit 32 bits: not every string of the alphabet is a key. */
    return zmq_z85_decode(raw, copy) != NULL;
}

/* The public key arg stands for (adm_key); -1 with why filled. */
static int s_key_arg(const char *arg, char out[ADM_KEY_LEN + 1], char *why, size_t whylen)
{
    char line[128];
    size_t n = strlen(arg);
    FILE *f;

    if (s_z85_key(arg, n)) {
        memcpy(out, arg, ADM_KEY_LEN + 1);
        return 0;
    }
    if (n > 4 && strcmp(arg + n - 4, ".key") == 0) {
        snprintf(why, whylen,
                 "'%s' is a secret key file; give the public one (.pub), the secret stays "
                 "with its owner",
                 arg);
        return -1;
    }
    f = fopen(arg, "r");
    if (!f) {
        if (errno == ENOENT && n == ADM_KEY_LEN)
            snprintf(why, whylen, "'%s' is neither a Z85 key nor a file", arg);
        else if (errno == ENOENT)
            snprintf(why, whylen, "no file '%s' (and not a 40-character Z85 key)", arg);
        else
            snprintf(why, whylen, "%s: %s", arg, strerror(errno));
        return -1;
    }
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    n = strcspn(line, "\r\n");
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (!s_z85_key(line, n)) {
        snprintf(why, whylen, "%s: the first line is not a CURVE public key (40 characters of Z85)",
                 arg);
        return -1;
    }
    memcpy(out, line, ADM_KEY_LEN);
    out[ADM_KEY_LEN] = '\0';
    return 0;
}

/* An identifier as the schema takes it: [A-Za-z0-9._:-]{1,32}. */
static bool s_ident_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 32)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == ':' || *s == '-'))
            return false;
    return true;
}

int adm_text_ok(const char *s, size_t max, bool empty_ok, char *why, size_t whylen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);

    if (!len && !empty_ok) {
        snprintf(why, whylen, "must not be empty");
        return -1;
    }
    if (len > max) {
        snprintf(why, whylen, "is longer than %zu bytes", max);
        return -1;
    }
    while (*p) {
        unsigned c = *p, cp;
        int k = c < 0x80             ? 0
                : (c & 0xE0) == 0xC0 ? 1
                : (c & 0xF0) == 0xE0 ? 2
                : (c & 0xF8) == 0xF0 ? 3
                                     : -1;

        if (k < 0 || (k == 1 && c < 0xC2) || (k == 3 && c > 0xF4))
            goto bad_utf8;
        cp = k == 0 ? c : c & (0x3Fu >> k);
        p++;
        for (int i = 0; i < k; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                goto bad_utf8;
            cp = (cp << 6) | (*p & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            goto bad_utf8;
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            snprintf(why, whylen, "holds a control character (U+%04X)", cp);
            return -1;
        }
    }
    return 0;

bad_utf8:
    snprintf(why, whylen, "is not valid UTF-8");
    return -1;
}

PGresult *adm_q(adm_t *self, const char *sql, int n, const char *const *params, const char *ctx,
                int *rc)
{
    PGresult *res = PQexecParams(self->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    const char *state, *msg, *constraint;
    size_t len;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    /* The unique key and the trigger (camera against console) say the same in two ways. */
    if (state && strcmp(state, "23505") == 0 &&
        ((constraint && strstr(constraint, "curve_key")) || (msg && strstr(msg, "CURVE key"))))
        msg = "this CURVE key is already another peer's (a camera's or a console's)";
    if (!msg)
        msg = res ? PQresultErrorMessage(res) : PQerrorMessage(self->conn);
    /* The database's text may quote what was given: cleaned before it reaches a terminal. */
    msg = cli_text_nl(msg);
    len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    fprintf(stderr, "%s: %s: %.*s\n", self->tool->prog, ctx, (int)len, msg);
    *rc = state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) ? ADM_USAGE
                                                                                  : ADM_DATABASE;
    PQclear(res);
    return NULL;
}

/* Characters (not bytes) of UTF-8 text. */
static size_t s_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void s_table(const PGresult *res, const char *const *headers)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    size_t width[32] = {0};

    if (cols > 32)
        cols = 32;
    for (int k = 0; k < cols; k++) {
        width[k] = s_width(headers[k]);
        for (int i = 0; i < rows; i++) {
            size_t w = PQgetisnull(res, i, k) ? 1 : s_width(PQgetvalue(res, i, k));

            if (w > width[k])
                width[k] = w;
        }
    }
    for (int i = -1; i < rows; i++) {
        for (int k = 0; k < cols; k++) {
            const char *v = i < 0                    ? headers[k]
                            : PQgetisnull(res, i, k) ? "-"
                                                     : PQgetvalue(res, i, k);

            /* The last column is not padded: no trailing blanks. */
            if (k + 1 < cols)
                printf("%s%*s  ", v, (int)(width[k] - s_width(v)), "");
            else
                printf("%s\n", v);
        }
    }
}

/* "expected a command: add, list, ...", the tool's commands in their order. */
static void s_no_command(const struct adm_tool *tool)
{
    char names[256];
    size_t len = 0;

    names[0] = '\0';
    for (size_t i = 0; i < tool->ncmds; i++)
        cli_cat(names, sizeof names, &len, "%s%s", i ? ", " : "", tool->cmds[i].name);
    cli_usage_error(tool->prog, "expected a command: %s", names);
}

/* The command line into self (adm_main): 0, or -1 when the program is done, with *rc its exit
   status. */
static int s_parse(adm_t *self, void *opts, int argc, char **argv, int *rc)
{
    const struct adm_tool *tool = self->tool;
    const struct adm_cmd *cmd;
    size_t ci;
    int c;

    *rc = ADM_OK;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(tool->help, stdout);
        return -1;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", tool->prog, ANPR_VERSION);
        return -1;
    }
    *rc = ADM_USAGE;
    for (ci = 0; argc >= 2 && ci < tool->ncmds; ci++)
        if (strcmp(argv[1], tool->cmds[ci].name) == 0)
            break;
    if (argc < 2 || ci == tool->ncmds) {
        s_no_command(tool);
        return -1;
    }
    cmd = &tool->cmds[ci];
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", tool->longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(tool->help, stdout);
            *rc = ADM_OK;
            return -1;
        }
        if (c == ':' || c == '?') {
            cli_getopt_fail(tool->prog, c, argc, argv);
            return -1;
        }
        if (c != 'd' && !cmd->edits) {
            cli_usage_error(tool->prog, "%s takes no option but --db", cmd->name);
            return -1;
        }
        if (c == 'd')
            self->db = optarg;
        else if (tool->option(opts, c, optarg) != 0)
            return -1;
    }
    if (argc - optind > cmd->operands) {
        cli_usage_error(tool->prog, "%s: unexpected '%s'", cmd->name, argv[optind + cmd->operands]);
        return -1;
    }
    if (argc - optind < cmd->operands) {
        cli_usage_error(tool->prog, "%s: expected %s", cmd->name, cmd->want);
        return -1;
    }
    /* The peer's name is checked before anything else about the command. */
    if (cmd->operands && !s_ident_ok(argv[optind])) {
        cli_bad_value(tool->prog, tool->ident, argv[optind], "[A-Za-z0-9._:-]{1,32}");
        return -1;
    }
    self->cmd = ci;
    self->ops = argv + optind;
    return 0;
}

static int s_connect(adm_t *self)
{
    struct db_error err;

    log_set_level(LOG_LEVEL_WARN);
    self->conn = db_connect(self->db ? self->db : "", self->tool->prog, &err);
    if (!self->conn) {
        fprintf(stderr, "%s: %s\n", self->tool->prog, err.msg);
        return ADM_DATABASE;
    }
    return ADM_OK;
}

int adm_main(const struct adm_tool *tool, void *opts, int argc, char **argv)
{
    /* Lives as long as the run: the tool sees it only in its callbacks. */
    adm_t self = {.tool = tool};
    int rc;

    if (s_parse(&self, opts, argc, argv, &rc) != 0)
        return rc;
    if (tool->check && tool->check(&self, opts) != 0)
        rc = ADM_USAGE;
    else
        rc = s_connect(&self);
    if (rc == ADM_OK)
        rc = tool->run(&self, opts);
    if (self.conn)
        PQfinish(self.conn);
    return rc;
}

size_t adm_cmd(const adm_t *self)
{
    return self->cmd;
}

const char *adm_operand(const adm_t *self, int i)
{
    return self->ops[i];
}

int adm_either(const char *prog, int *v, bool yes, const char *yes_opt, const char *no_opt)
{
    if (*v >= 0)
        return cli_usage_error(prog, "%s and %s exclude each other", yes_opt, no_opt);
    *v = yes;
    return 0;
}

const char *adm_key(adm_t *self, const char *arg)
{
    char why[256];

    if (s_key_arg(arg, self->key, why, sizeof why) != 0) {
        cli_usage_error(self->tool->prog, "--key: %s", why);
        return NULL;
    }
    return self->key;
}

int adm_not_found(const adm_t *self, const char *ctx, const char *name)
{
    fprintf(stderr, "%s: %s: no %s '%s'\n", self->tool->prog, ctx, self->tool->noun, name);
    return ADM_NOT_FOUND;
}

int adm_add(adm_t *self, const char *sql, int n, const char *const *params)
{
    int rc = ADM_OK;
    PGresult *res = adm_q(self, sql, n, params, "add", &rc);

    if (!res)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        fprintf(stderr, "%s: add: %s '%s' exists already (change it with set)\n", self->tool->prog,
                self->tool->noun, params[0]);
        rc = ADM_USAGE;
    }
    PQclear(res);
    return rc;
}

int adm_update(adm_t *self, const char *ctx, const char *sql, int n, const char *const *params)
{
    int rc = ADM_OK;
    PGresult *res = adm_q(self, sql, n, params, ctx, &rc);

    if (!res)
        return rc;
    if (strcmp(PQcmdTuples(res), "0") == 0)
        rc = adm_not_found(self, ctx, params[0]);
    PQclear(res);
    return rc;
}

int adm_enable(adm_t *self, const char *sql, bool enable)
{
    const char *params[2] = {self->ops[0], enable ? "true" : "false"};

    return adm_update(self, enable ? "enable" : "disable", sql, 2, params);
}

int adm_list(adm_t *self, const char *sql, const char *const *headers)
{
    int rc = ADM_OK;
    PGresult *res = adm_q(self, sql, 0, NULL, "list", &rc);

    if (!res)
        return rc;
    s_table(res, headers);
    PQclear(res);
    return ADM_OK;
}
