/*
 * adm: what the peer-administration tools (anpr-cameras, anpr-consoles) share: the command line
 * (a command, its options, its operands, the first naming the peer), the connection, the
 * statements every such tool runs (add, change, enable or disable a peer; list them all in an
 * aligned table), a CURVE public key given as Z85 text or as the .pub file anpr-keygen wrote,
 * and checks of the text an admin types (no control characters: a name shows up in consoles and
 * logs). A tool describes itself in a constant struct adm_tool and keeps only its own options,
 * checks and statements.
 *
 * adm_text_ok fills an error buffer and never prints; everything else reports what went wrong
 * itself ("PROG: what: message", the database's message for a statement) since the tools have
 * nothing else to say about it, and returns the tool's exit code or -1.
 */
#ifndef ANPR_ADM_H
#define ANPR_ADM_H

#include <getopt.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of both tools. */
enum { ADM_OK = 0, ADM_NOT_FOUND = 1, ADM_USAGE = 2, ADM_DATABASE = 3 };

/* Z85 text of a 32-byte CURVE key: 40 characters. */
#define ADM_KEY_LEN 40

/* One run of a tool: its command line, its key buffer, its connection. adm_main owns it; a tool
   sees it in its check and run callbacks only. */
typedef struct adm adm_t;

/* A command of a tool. */
struct adm_cmd {
    const char *name; /* as typed, e.g. "add" */
    int operands;     /* how many it takes; the first (if any) names the peer */
    bool edits;       /* takes the tool's own options; the others take only --db */
    const char *want; /* its operands, for "NAME: expected WANT", e.g. "a camera code" */
};

/* What a tool is, for adm_main. */
struct adm_tool {
    const char *prog;              /* the program's name, first word of every message */
    const char *noun;              /* a peer, in "no camera 'X'" and "camera 'X' exists already" */
    const char *ident;             /* what the first operand is called when refused, e.g. "CODE" */
    const char *help;              /* what --help prints */
    const struct adm_cmd *cmds;    /* the commands, in the order "expected a command" lists them */
    size_t ncmds;                  /* how many */
    const struct option *longopts; /* every option: --db with val 'd' and --help with 'h' too */
    /* Takes one of the tool's own options (its longopts val, its argument or NULL) into opts:
       0, or -1 when it is refused (reported). */
    int (*option)(void *opts, int opt, const char *arg);
    /* Checks the command's options and operands before any database work: 0, or -1 when they
       are refused (reported). NULL: nothing to check. */
    int (*check)(adm_t *adm, void *opts);
    /* Runs the command, connected: its exit code. */
    int (*run)(adm_t *adm, void *opts);
};

/*
 * A tool's main: reads the command line, checks it, connects and runs the command. The command
 * line is --help, -h or --version as the first word; else a command of tool->cmds, its options
 * (--db and --help for every command, the tool's own through tool->option into opts for commands
 * that edit), and exactly its operands, the first an identifier as the schema takes it,
 * [A-Za-z0-9._:-]{1,32}. Then tool->check, a connection to --db (else libpq's defaults: PGHOST,
 * PGDATABASE, ...), and tool->run. The exit status: ADM_OK after --help or --version; ADM_USAGE
 * for a usage error (reported with the "Try" line) or what check refused; ADM_DATABASE when the
 * connection fails (reported); else what run returns.
 */
int adm_main(const struct adm_tool *tool, void *opts, int argc, char **argv);

/* The command's index in tool->cmds. */
size_t adm_cmd(const adm_t *self);

/* Operand i (from 0) of the command; borrowed from argv. */
const char *adm_operand(const adm_t *self, int i);

/*
 * For a tool's option pair such as --mobile/--no-mobile kept in *v (-1 not given, 0 no, 1 yes):
 * sets *v to yes, or refuses a second one of the pair ("YES_OPT and NO_OPT exclude each other").
 * 0, or -1 (reported).
 */
int adm_either(const char *prog, int *v, bool yes, const char *yes_opt, const char *no_opt);

/*
 * The CURVE public key a --key value stands for: 40 characters of Z85 taken as they are, else
 * the first line of the file of that name (a .pub of anpr-keygen). Kept in self until
 * the run ends (one key: a second call overwrites it). NULL when refused (a file that cannot be
 * read, that is the secret half, or no key in it), reported as "PROG: --key: why".
 */
const char *adm_key(adm_t *self, const char *arg);

/* Free text of at most max bytes: valid UTF-8, no control character (C0, DEL, C1), and
   non-empty when !empty_ok. -1 with why filled. */
int adm_text_ok(const char *s, size_t max, bool empty_ok, char *why, size_t whylen);

/*
 * A parameterised statement on the connection; NULL on failure, reported as "PROG: ctx: message"
 * on stderr with *rc set: ADM_USAGE when the database refused the data (SQLSTATE classes 22,
 * 23), else ADM_DATABASE. The caller frees the result with PQclear.
 */
PGresult *adm_q(adm_t *self, const char *sql, int n, const char *const *params, const char *ctx,
                int *rc);

/* "PROG: ctx: no NOUN 'name'" on stderr; returns ADM_NOT_FOUND. */
int adm_not_found(const adm_t *self, const char *ctx, const char *name);

/* The "add" of a peer: sql an INSERT ... ON CONFLICT DO NOTHING of the peer params[0]. ADM_OK;
   ADM_USAGE when it exists already (reported); else adm_q's code. */
int adm_add(adm_t *self, const char *sql, int n, const char *const *params);

/* A change of the peer params[0] (sql an UPDATE ... WHERE ... = $1) in context ctx. ADM_OK;
   ADM_NOT_FOUND when no row changed (reported); else adm_q's code. */
int adm_update(adm_t *self, const char *ctx, const char *sql, int n, const char *const *params);

/* enable or disable the peer named by the first operand: sql an UPDATE that takes the peer as
   $1 and the new state as $2. As adm_update. */
int adm_enable(adm_t *self, const char *sql, bool enable);

/* Run sql (no parameters) in context "list" and print its rows as a table under headers, columns
   padded to their widest cell (in characters, UTF-8), NULL cells as "-". ADM_OK, or adm_q's
   code. */
int adm_list(adm_t *self, const char *sql, const char *const *headers);

#endif
