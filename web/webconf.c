/*
 * webconf: anpr-web's YAML configuration (webconf.h). libyaml's events are read directly: the
 * file is two levels deep (sections of scalars), so no tree is built; a node of the wrong kind
 * is reported and skipped whole, and reading goes on, so every mistake is reported at once.
 */
#include "webconf.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "conf.h"
#include "config.h"

enum s_type {
    T_STR,
    T_BOOL,
    T_INT,
    T_LEVEL,
    T_LISTEN,
    T_ENDPOINT,
    T_CONNINFO,
    T_ABSPATH,
    T_ENDPOINTS, /* an endpoint or a list of them: into endpoints[] or covert[] */
};

struct s_key {
    const char *section, *name;
    enum s_type type;
    long min, max;
    size_t off; /* offset of the field in struct webconf */
};

#define F(field) offsetof(struct webconf, field)

static const struct s_key s_keys[] = {
    {"web", "listen", T_LISTEN, 0, 0, F(listen)},
    {"web", "static_dir", T_ABSPATH, 0, 0, F(static_dir)},
    {"web", "proxy", T_BOOL, 0, 0, F(proxy)},
    {"web", "idle_timeout_s", T_INT, 60, 86400, F(idle_timeout_s)},
    {"web", "max_sessions", T_INT, 1, 10000, F(max_sessions)},
    {"database", "conninfo", T_CONNINFO, 0, 0, F(conninfo)},
    {"dispatch", "endpoint", T_ENDPOINTS, 1, 0, F(endpoints)},
    {"dispatch", "covert_endpoint", T_ENDPOINTS, 0, 0, F(covert)},
    {"dispatch", "key_file", T_STR, 0, 0, F(key_file)},
    {"dispatch", "covert_key_file", T_STR, 0, 0, F(covert_key_file)},
    {"dispatch", "server_key", T_STR, 0, 0, F(server_key)},
    {"board", "catch_up_hours", T_INT, 1, 744, F(catch_up_hours)},
    {"login", "max_failures", T_INT, 1, 1000, F(max_failures)},
    {"login", "window_s", T_INT, 1, 86400, F(window_s)},
    {"log", "level", T_LEVEL, 0, 0, F(log_level)},
};
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

struct s_ctx {
    const char *name;
    char *errs;
    size_t len, cap;
    bool oom;
    bool seen[S_NKEYS];
};

static void s_err(struct s_ctx *ctx, const yaml_mark_t *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One "name:line:col: key: message" line; control characters of quoted text become '?'. */
static void s_err(struct s_ctx *ctx, const yaml_mark_t *m, const char *key, const char *fmt, ...)
{
    char msg[512], line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n = snprintf(line, sizeof line, "%s:%zu:%zu: %s: %s", ctx->name, m->line + 1, m->column + 1,
                 key, msg);
    if (n < 0)
        return;
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    size_t k = strlen(line);
    if (ctx->len + k + 2 > ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 1024;
        while (ctx->len + k + 2 > cap)
            cap *= 2;
        char *p = realloc(ctx->errs, cap);
        if (!p) {
            ctx->oom = true;
            return;
        }
        ctx->errs = p;
        ctx->cap = cap;
    }
    memcpy(ctx->errs + ctx->len, line, k);
    ctx->len += k;
    ctx->errs[ctx->len++] = '\n';
    ctx->errs[ctx->len] = '\0';
}

static bool s_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* libpq must read it, and it names no person: each one logs in as themselves. */
static const char *s_conninfo_problem(const char *s)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(s, &err);
    const char *why = NULL;

    if (!opts) {
        PQfreemem(err);
        return "libpq cannot read it";
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && *o->val &&
            (strcmp(o->keyword, "user") == 0 || strcmp(o->keyword, "password") == 0 ||
             strcmp(o->keyword, "passfile") == 0))
            why = "must not name a user, a password or a passfile: each person logs in as "
                  "themselves";
    PQconninfoFree(opts);
    return why;
}

/* One more endpoint of a T_ENDPOINTS key (checked already). */
static void s_add_endpoint(struct s_ctx *ctx, struct webconf *c, const struct s_key *k,
                           const char *v, const yaml_mark_t *m)
{
    char key[64];
    char **eps = (char **)(void *)((char *)c + k->off);
    size_t *n = k->off == F(endpoints) ? &c->nendpoints : &c->ncovert;

    snprintf(key, sizeof key, "%s.%s", k->section, k->name);
    for (size_t i = 0; i < *n; i++)
        if (strcmp(eps[i], v) == 0) {
            s_err(ctx, m, key, "'%.60s' given twice", v);
            return;
        }
    if (*n == WEBCONF_ENDPOINTS_MAX) {
        s_err(ctx, m, key, "at most %d endpoints", WEBCONF_ENDPOINTS_MAX);
        return;
    }
    if (!(eps[*n] = strdup(v))) {
        ctx->oom = true;
        return;
    }
    (*n)++;
}

static void s_set(struct s_ctx *ctx, struct webconf *c, const struct s_key *k, const char *v,
                  const yaml_mark_t *m)
{
    char key[64];
    char *p = (char *)c + k->off;
    long n;

    snprintf(key, sizeof key, "%s.%s", k->section, k->name);
    switch (k->type) {
    case T_INT:
        if (!s_int(v, k->min, k->max, &n)) {
            s_err(ctx, m, key, "expected an integer in %ld..%ld, got '%.60s'", k->min, k->max, v);
            return;
        }
        *(int *)(void *)p = (int)n;
        return;
    case T_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
            *(bool *)(void *)p = strcmp(v, "true") == 0;
        else
            s_err(ctx, m, key, "expected true or false, got '%.60s'", v);
        return;
    case T_LEVEL:
        if (log_level_parse(v, (enum log_level *)(void *)p) != 0)
            s_err(ctx, m, key, "expected debug, info, warn or error, got '%.60s'", v);
        return;
    case T_LISTEN: {
        struct sockaddr_storage addr;
        socklen_t alen;
        bool loopback;
        const char *why = conf_listen_parse(v, &addr, &alen, &loopback);
        if (why) {
            s_err(ctx, m, key, "%s: '%.60s'", why, v);
            return;
        }
        break;
    }
    case T_ENDPOINT:
    case T_ENDPOINTS:
        if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0) {
            s_err(ctx, m, key, "expected a tcp:// or ipc:// endpoint, got '%.60s'", v);
            return;
        }
        break;
    case T_CONNINFO: {
        const char *why = s_conninfo_problem(v);
        if (why) {
            s_err(ctx, m, key, "%s", why);
            return;
        }
        break;
    }
    case T_ABSPATH:
        if (*v != '/') {
            s_err(ctx, m, key, "expected an absolute path, got '%.60s'", v);
            return;
        }
        break;
    case T_STR:
        break;
    }
    if (k->type == T_ENDPOINTS) {
        s_add_endpoint(ctx, c, k, v, m);
        return;
    }
    char *dup = strdup(v);
    if (!dup) {
        ctx->oom = true;
        return;
    }
    free(*(char **)(void *)p);
    *(char **)(void *)p = dup;
}

static struct webconf *s_defaults(const char *name)
{
    struct webconf *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->path = strdup(name);
    c->listen = strdup("127.0.0.1:8443");
    c->static_dir = strdup(ANPR_DATADIR "/web");
    c->proxy = true;
    c->idle_timeout_s = 900;
    c->max_sessions = 200;
    c->conninfo = strdup("");
    c->key_file = strdup("");
    c->covert_key_file = strdup("");
    c->server_key = strdup("");
    c->catch_up_hours = 12;
    c->max_failures = 5;
    c->window_s = 300;
    c->log_level = LOG_LEVEL_INFO;
    if (!c->path || !c->listen || !c->static_dir || !c->conninfo || !c->key_file ||
        !c->server_key || !c->covert_key_file)
        webconf_destroy(&c);
    return c;
}

void webconf_destroy(struct webconf **self_p)
{
    struct webconf *c;

    if (!self_p || !*self_p)
        return;
    c = *self_p;
    free(c->path);
    free(c->listen);
    free(c->static_dir);
    free(c->conninfo);
    free(c->endpoint);
    for (size_t i = 0; i < c->nendpoints; i++)
        free(c->endpoints[i]);
    for (size_t i = 0; i < c->ncovert; i++)
        free(c->covert[i]);
    free(c->key_file);
    free(c->covert_key_file);
    free(c->server_key);
    free(c);
    *self_p = NULL;
}

/* Skip the rest of a node that has just started (start was its first event); false on a
   syntax error or the end of the stream. */
static bool s_skip(yaml_parser_t *p, const yaml_event_t *start)
{
    int depth = start->type == YAML_MAPPING_START_EVENT || start->type == YAML_SEQUENCE_START_EVENT;

    while (depth > 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return false;
        /* past the end: libyaml gives empty events for ever */
        if (ev.type == YAML_NO_EVENT || ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return false;
        }
        if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT)
            depth--;
        yaml_event_delete(&ev);
    }
    return true;
}

/* A key that is not a plain name (kev, taken): skipped whole, then its value. false when the
 * document ends or does not parse. */
static bool s_skip_pair(yaml_parser_t *p, yaml_event_t *kev)
{
    yaml_event_t vev;
    bool ok = s_skip(p, kev);

    yaml_event_delete(kev);
    if (!ok || !yaml_parser_parse(p, &vev))
        return false;
    ok = s_skip(p, &vev);
    yaml_event_delete(&vev);
    return ok;
}

static const char *s_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_ALIAS_EVENT:
        return "an alias";
    default:
        return "a scalar";
    }
}

/* A list of endpoints (its start event, start, already read), each checked. false on a
   syntax error. */
static bool s_list(struct s_ctx *ctx, yaml_parser_t *p, struct webconf *c, const struct s_key *k,
                   const yaml_event_t *start)
{
    char key[64];
    size_t items = 0;

    snprintf(key, sizeof key, "%s.%s", k->section, k->name);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return false;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_NO_EVENT || ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return false;
        }
        items++;
        if (ev.type != YAML_SCALAR_EVENT) {
            s_err(ctx, &ev.start_mark, key, "expected an endpoint, not %s", s_kind(&ev));
            bool ok = s_skip(p, &ev);
            yaml_event_delete(&ev);
            if (!ok)
                return false;
            continue;
        }
        s_set(ctx, c, k, (const char *)ev.data.scalar.value, &ev.start_mark);
        yaml_event_delete(&ev);
    }
    if (items < (size_t)k->min)
        s_err(ctx, &start->start_mark, key, "expected at least %ld endpoint", k->min);
    return true;
}

/* A section's mapping (its start event already read). false on a syntax error. */
static bool s_section(struct s_ctx *ctx, yaml_parser_t *p, struct webconf *c, const char *sec)
{
    for (;;) {
        yaml_event_t kev, vev;
        bool ok = true;

        if (!yaml_parser_parse(p, &kev))
            return false;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return true;
        }
        if (kev.type == YAML_NO_EVENT || kev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&kev);
            return false;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            s_err(ctx, &kev.start_mark, sec, "a key must be a plain name, not %s", s_kind(&kev));
            if (!s_skip_pair(p, &kev))
                return false;
            continue;
        }
        const char *name = (const char *)kev.data.scalar.value;
        const struct s_key *k = NULL;
        size_t ki = 0;
        for (; ki < S_NKEYS; ki++)
            if (strcmp(s_keys[ki].section, sec) == 0 && strcmp(s_keys[ki].name, name) == 0) {
                k = &s_keys[ki];
                break;
            }
        if (!yaml_parser_parse(p, &vev)) {
            yaml_event_delete(&kev);
            return false;
        }
        char key[160];
        snprintf(key, sizeof key, "%s.%.60s", sec, name);
        if (!k) {
            char known[256] = "";
            size_t n = 0;
            for (size_t i = 0; i < S_NKEYS; i++)
                if (strcmp(s_keys[i].section, sec) == 0)
                    n += (size_t)snprintf(known + n, n < sizeof known ? sizeof known - n : 0,
                                          "%s%s", n ? ", " : "", s_keys[i].name);
            s_err(ctx, &kev.start_mark, key, "unknown key (known: %s)", known);
        } else if (ctx->seen[ki]) {
            s_err(ctx, &kev.start_mark, key, "given twice");
        } else if (k->type == T_ENDPOINTS && vev.type == YAML_SEQUENCE_START_EVENT) {
            ctx->seen[ki] = true;
            ok = s_list(ctx, p, c, k, &vev);
            yaml_event_delete(&kev);
            yaml_event_delete(&vev);
            if (!ok)
                return false;
            continue;
        } else if (vev.type != YAML_SCALAR_EVENT) {
            s_err(ctx, &vev.start_mark, key, "expected a value, not %s", s_kind(&vev));
        } else {
            ctx->seen[ki] = true;
            s_set(ctx, c, k, (const char *)vev.data.scalar.value, &vev.start_mark);
        }
        ok = s_skip(p, &vev);
        yaml_event_delete(&kev);
        yaml_event_delete(&vev);
        if (!ok)
            return false;
    }
}

static bool s_known_section(const char *s)
{
    for (size_t i = 0; i < S_NKEYS; i++)
        if (strcmp(s_keys[i].section, s) == 0)
            return true;
    return false;
}

/* The root mapping. false on a syntax error. */
static bool s_root(struct s_ctx *ctx, yaml_parser_t *p, struct webconf *c)
{
    yaml_event_t ev;
    char seen[8][16];
    size_t nseen = 0;

    /* stream start, document start (or an empty stream), the root */
    for (;;) {
        if (!yaml_parser_parse(p, &ev))
            return false;
        if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        break;
    }
    if (ev.type == YAML_STREAM_END_EVENT) { /* an empty file: every default */
        yaml_event_delete(&ev);
        return true;
    }
    if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0) {
        yaml_event_delete(&ev);
        return true;
    }
    if (ev.type != YAML_MAPPING_START_EVENT) {
        s_err(ctx, &ev.start_mark, "(top)", "expected a mapping of sections, not %s", s_kind(&ev));
        yaml_event_delete(&ev);
        return true;
    }
    yaml_event_delete(&ev);
    for (;;) {
        yaml_event_t kev, vev;
        bool ok;

        if (!yaml_parser_parse(p, &kev))
            return false;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        if (kev.type == YAML_NO_EVENT || kev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&kev);
            return false;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            /* a key that is a list or a mapping: reported, skipped whole, then its value */
            s_err(ctx, &kev.start_mark, "(top)", "a section name must be a plain name");
            if (!s_skip_pair(p, &kev))
                return false;
            continue;
        }
        if (!yaml_parser_parse(p, &vev)) {
            yaml_event_delete(&kev);
            return false;
        }
        const char *sec = (const char *)kev.data.scalar.value;
        bool dup = false;
        for (size_t i = 0; i < nseen; i++)
            dup |= strcmp(seen[i], sec) == 0;
        if (!s_known_section(sec)) {
            s_err(ctx, &kev.start_mark, sec,
                  "unknown section (known: web, database, dispatch, board, login, log)");
            ok = s_skip(p, &vev);
        } else if (dup) {
            s_err(ctx, &kev.start_mark, sec, "section given twice");
            ok = s_skip(p, &vev);
        } else if (vev.type == YAML_SCALAR_EVENT && vev.data.scalar.length == 0 &&
                   vev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            ok = true; /* "web:" alone: an empty section */
        } else if (vev.type != YAML_MAPPING_START_EVENT) {
            s_err(ctx, &vev.start_mark, sec, "expected a mapping of keys, not %s", s_kind(&vev));
            ok = s_skip(p, &vev);
        } else {
            if (nseen < 8)
                snprintf(seen[nseen++], sizeof seen[0], "%s", sec);
            ok = s_section(ctx, p, c, sec);
        }
        yaml_event_delete(&kev);
        yaml_event_delete(&vev);
        if (!ok)
            return false;
    }
    /* one document only */
    if (!yaml_parser_parse(p, &ev))
        return false;
    yaml_event_delete(&ev);
    if (!yaml_parser_parse(p, &ev))
        return false;
    if (ev.type != YAML_STREAM_END_EVENT)
        s_err(ctx, &ev.start_mark, "(top)", "one document only");
    yaml_event_delete(&ev);
    return true;
}

/* What ties keys together. */
static void s_check(struct s_ctx *ctx, const struct webconf *c)
{
    yaml_mark_t top = {0, 0, 0};

    if ((*c->key_file == '\0') != (*c->server_key == '\0'))
        s_err(ctx, &top, "dispatch",
              "key_file and server_key go together (both for CURVE, neither for plain text)");
    if (*c->covert_key_file && !*c->server_key)
        s_err(ctx, &top, "dispatch", "covert_key_file needs server_key (and key_file)");
    for (size_t i = 0; i < c->ncovert; i++)
        for (size_t j = 0; j < c->nendpoints; j++)
            if (strcmp(c->covert[i], c->endpoints[j]) == 0)
                s_err(ctx, &top, "dispatch",
                      "'%.60s' is both an endpoint and a covert_endpoint (anprd's covert feed "
                      "is a socket of its own)",
                      c->covert[i]);
}

struct webconf *webconf_parse(const char *name, const char *text, size_t len, char **errors)
{
    struct s_ctx ctx = {.name = name};
    struct webconf *c = s_defaults(name);
    yaml_parser_t p;

    *errors = NULL;
    if (!c || !yaml_parser_initialize(&p)) {
        webconf_destroy(&c);
        *errors = strdup("out of memory\n");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!s_root(&ctx, &p, c)) {
        yaml_mark_t m = p.problem_mark;
        s_err(&ctx, &m, "(syntax)", "%s%s%s", p.problem ? p.problem : "not YAML",
              p.context ? " " : "", p.context ? p.context : "");
    } else if (ctx.len == 0) {
        s_check(&ctx, c);
    }
    yaml_parser_delete(&p);
    if (ctx.oom || ctx.len > 0) {
        webconf_destroy(&c);
        *errors = ctx.oom ? strdup("out of memory\n") : ctx.errs;
        if (ctx.oom)
            free(ctx.errs);
        return NULL;
    }
    free(ctx.errs);
    if (c->nendpoints == 0 && !(c->endpoints[c->nendpoints++] = strdup("tcp://127.0.0.1:5556")))
        webconf_destroy(&c);
    if (c && !(c->endpoint = strdup(c->endpoints[0])))
        webconf_destroy(&c);
    if (!c)
        *errors = strdup("out of memory\n");
    return c;
}

struct webconf *webconf_load(const char *path, char **errors)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0, cap = 0;
    struct webconf *c;

    if (!f) {
        if (asprintf(errors, "%s: %s\n", path, strerror(errno)) < 0)
            *errors = NULL;
        return NULL;
    }
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(text, cap);
            if (!t || cap > (1u << 20)) {
                free(t ? t : text);
                fclose(f);
                if (asprintf(errors, "%s: %s\n", path, t ? "larger than 1 MiB" : "out of memory") <
                    0)
                    *errors = NULL;
                return NULL;
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fclose(f);
        free(text);
        if (asprintf(errors, "%s: %s\n", path, strerror(errno)) < 0)
            *errors = NULL;
        return NULL;
    }
    fclose(f);
    c = webconf_parse(path, text, len, errors);
    free(text);
    return c;
}
