/*
 * conf: parse and validate the YAML configuration (see conf.h and anprd.yaml.5).
 *
 * The libyaml event stream is first built into a small tree (root mapping, section mappings,
 * key values; anything deeper is always an error, so it is not kept), then the tree is checked
 * against the key tables below. Every error found is kept, and all are given sorted by position.
 */
#include "conf.h"

#include <libpq-fe.h>

#include "tls.h"
#include "wl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <yaml.h>

/* A config file is a few hundred bytes; refuse anything absurd rather than parse it. */
#define S_MAX_FILE (1024 * 1024)

/* Tree levels kept: root, section, key value, and a sequence's items (cluster.peers). */
#define S_MAX_LEVELS 4

/* Longest user text (key, value) echoed into a message. */
#define S_SHOW_MAX 64

#define S_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum s_kind { S_SCALAR, S_MAPPING, S_SEQUENCE, S_ALIAS };

struct s_node {
    enum s_kind kind;
    bool anchored;
    bool plain;  /* unquoted scalar: only these can mean null */
    char *value; /* scalar text, NUL-terminated (may also hold NULs: see len) */
    size_t len;
    size_t line, col;      /* from 1 */
    struct s_node **items; /* mapping: key, value, key, value, ... */
    size_t n, cap;
};

/* One error line; kept apart so the lines can be given in file order. */
struct s_error {
    size_t line, col, seq;
    char *text;
};

struct s_ctx {
    const char *name;
    struct s_error *errs;
    size_t nerrs, cap;
    bool oom;
    /* For the ingest/dispatch collision check: where each endpoint was set, if valid. */
    const struct s_node *ep_node[2];
    bool ep_bad;
    const struct s_node *covert_node;   /* where dispatch.covert_endpoint was set, if valid */
    const struct s_node *backbone_node; /* where backbone.host was set, if valid and not "" */
};

enum s_type {
    S_INT,
    S_ENDPOINT,
    S_ENDPOINT_OPT,
    S_STRING,
    S_LEVEL,
    S_CLASSES,
    S_PATH_OPT,
    S_CRL_OPT,    /* an absolute path to a CRL file that loads, or "" */
    S_HOST_OPT,   /* a DNS name or an address, or "" */
    S_NAME_OPT,   /* [A-Za-z0-9._:-]{1,64}, or "" */
    S_BOOL,       /* true or false, into an int 1 or 0 */
    S_LISTEN_OPT, /* "address:port" (conf_listen_parse), or "" */
    S_PEERS,      /* a sequence of endpoints to connect to (cluster.peers), or empty */
};

struct s_key {
    const char *name;
    enum s_type type;
    size_t off; /* into struct conf */
    long min, max;
    bool required;
};

struct s_section {
    const char *name;
    const struct s_key *keys;
    size_t nkeys;
};

#define S_INT_KEY(sec, key, lo, hi)                                                                \
    {                                                                                              \
#key, S_INT, offsetof(struct conf, sec.key), lo, hi, false                                 \
    }

static const struct s_key s_ingest_keys[] = {
    {"endpoint", S_ENDPOINT, offsetof(struct conf, ingest.endpoint), 0, 0, false},
    S_INT_KEY(ingest, max_pending, 1, 10000000),
    S_INT_KEY(ingest, max_future_skew_s, 0, 86400),
    S_INT_KEY(ingest, max_age_days, 1, 365),
    S_INT_KEY(ingest, peer_rate_per_s, 0, 1000000),
    S_INT_KEY(ingest, peer_burst, 1, 10000000),
};

static const struct s_key s_dispatch_keys[] = {
    {"endpoint", S_ENDPOINT, offsetof(struct conf, dispatch.endpoint), 0, 0, false},
    {"covert_endpoint", S_ENDPOINT_OPT, offsetof(struct conf, dispatch.covert_endpoint), 0, 0,
     false},
    S_INT_KEY(dispatch, instance, 0, 1023),
    S_INT_KEY(dispatch, reannounce_priority, 1, 9),
    S_INT_KEY(dispatch, reannounce_s, 0, 86400),
    S_INT_KEY(dispatch, heartbeat_s, 0, 3600),
    S_INT_KEY(dispatch, camera_silent_min, 1, 1440),
};

static const struct s_key s_database_keys[] = {
    {"conninfo", S_STRING, offsetof(struct conf, database.conninfo), 0, 0, true},
    S_INT_KEY(database, batch_size, 1, 100000),
    S_INT_KEY(database, flush_interval_ms, 1, 10000),
    S_INT_KEY(database, reconnect_max_ms, 100, 600000),
    S_INT_KEY(database, partitions_ahead_days, 0, 60),
};

static const struct s_key s_log_keys[] = {
    {"level", S_LEVEL, offsetof(struct conf, log.level), 0, 0, false},
    S_INT_KEY(log, stats_interval_s, 0, 86400),
    S_INT_KEY(log, reject_log_interval_s, 1, 3600),
};

static const struct s_key s_matcher_keys[] = {
    {"ocr_classes", S_CLASSES, offsetof(struct conf, matcher.ocr_classes), 0, 0, false},
};

static const struct s_key s_spool_keys[] = {
    {"dir", S_PATH_OPT, offsetof(struct conf, spool.dir), 0, 0, false},
    S_INT_KEY(spool, max_mb, 1, 1048576),
};

static const struct s_key s_backbone_keys[] = {
    {"host", S_HOST_OPT, offsetof(struct conf, backbone.host), 0, 0, false},
    S_INT_KEY(backbone, port, 1, 65535),
    {"ca_file", S_PATH_OPT, offsetof(struct conf, backbone.ca_file), 0, 0, false},
    {"cert_file", S_PATH_OPT, offsetof(struct conf, backbone.cert_file), 0, 0, false},
    {"key_file", S_PATH_OPT, offsetof(struct conf, backbone.key_file), 0, 0, false},
    {"crl_file", S_CRL_OPT, offsetof(struct conf, backbone.crl_file), 0, 0, false},
    {"instance", S_NAME_OPT, offsetof(struct conf, backbone.instance), 0, 0, false},
    {"spool_dir", S_PATH_OPT, offsetof(struct conf, backbone.spool_dir), 0, 0, false},
    S_INT_KEY(backbone, max_mb, 1, 1048576),
    S_INT_KEY(backbone, forward_reads, 0, 1),
};

static const struct s_key s_curve_keys[] = {
    {"secret_file", S_PATH_OPT, offsetof(struct conf, curve.secret_file), 0, 0, false},
    {"insecure_plaintext", S_BOOL, offsetof(struct conf, curve.insecure_plaintext), 0, 0, false},
};

static const struct s_key s_metrics_keys[] = {
    {"listen", S_LISTEN_OPT, offsetof(struct conf, metrics.listen), 0, 0, false},
};

static const struct s_key s_cluster_keys[] = {
    {"peers", S_PEERS, offsetof(struct conf, cluster.peers), 0, 0, false},
};

static const struct s_section s_sections[] = {
    {"ingest", s_ingest_keys, S_LEN(s_ingest_keys)},
    {"dispatch", s_dispatch_keys, S_LEN(s_dispatch_keys)},
    {"database", s_database_keys, S_LEN(s_database_keys)},
    {"log", s_log_keys, S_LEN(s_log_keys)},
    {"matcher", s_matcher_keys, S_LEN(s_matcher_keys)},
    {"spool", s_spool_keys, S_LEN(s_spool_keys)},
    {"backbone", s_backbone_keys, S_LEN(s_backbone_keys)},
    {"curve", s_curve_keys, S_LEN(s_curve_keys)},
    {"metrics", s_metrics_keys, S_LEN(s_metrics_keys)},
    {"cluster", s_cluster_keys, S_LEN(s_cluster_keys)},
};

/* Most keys in a section; s_check_section() tracks them in an array this long. */
#define S_MAX_KEYS 12
_Static_assert(S_LEN(s_ingest_keys) <= S_MAX_KEYS && S_LEN(s_dispatch_keys) <= S_MAX_KEYS &&
                   S_LEN(s_database_keys) <= S_MAX_KEYS && S_LEN(s_log_keys) <= S_MAX_KEYS &&
                   S_LEN(s_spool_keys) <= S_MAX_KEYS && S_LEN(s_backbone_keys) <= S_MAX_KEYS,
               "raise S_MAX_KEYS");

/* Index of the database section, which holds the one required key. */
#define S_DATABASE 2

/* Loopback unless configured: a socket reachable from the network is a decision. */
#define S_DEFAULT_INGEST_ENDPOINT   "tcp://127.0.0.1:5555"
#define S_DEFAULT_DISPATCH_ENDPOINT "tcp://127.0.0.1:5556"
#define S_DEFAULT_METRICS_LISTEN    "127.0.0.1:9105"

/* ---- error text ---- */

/* One "name:line:col: key: message" line. */
static void s_err(struct s_ctx *ctx, size_t line, size_t col, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void s_err(struct s_ctx *ctx, size_t line, size_t col, const char *key, const char *fmt, ...)
{
    struct s_error *e;
    char *msg = NULL, *text = NULL;
    va_list ap;
    int n;

    if (ctx->oom)
        return;
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        msg = NULL;
        goto fail;
    }
    if (asprintf(&text, "%s:%zu:%zu: %s: %s\n", ctx->name, line, col, key, msg) < 0) {
        text = NULL;
        goto fail;
    }
    /* One error, one line, whatever a message quotes (the matcher's text on OCR classes quotes
     * the value as it is, and a quoted YAML scalar may hold line ends). */
    for (char *p = text; p[1] != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (ctx->nerrs == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 8;

        e = realloc(ctx->errs, cap * sizeof(*e));
        if (!e)
            goto fail;
        ctx->errs = e;
        ctx->cap = cap;
    }
    e = &ctx->errs[ctx->nerrs];
    e->line = line;
    e->col = col;
    e->seq = ctx->nerrs++;
    e->text = text;
    free(msg);
    return;

fail:
    free(msg);
    free(text);
    ctx->oom = true;
}

static int s_error_cmp(const void *a, const void *b)
{
    const struct s_error *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* All errors, in file order, as one text; NULL on allocation failure. */
static char *s_errors_join(struct s_ctx *ctx)
{
    size_t total = 1, o = 0;
    char *out;

    qsort(ctx->errs, ctx->nerrs, sizeof(*ctx->errs), s_error_cmp);
    for (size_t i = 0; i < ctx->nerrs; i++)
        total += strlen(ctx->errs[i].text);
    out = malloc(total);
    if (!out)
        return NULL;
    for (size_t i = 0; i < ctx->nerrs; i++) {
        size_t n = strlen(ctx->errs[i].text);

        memcpy(out + o, ctx->errs[i].text, n);
        o += n;
    }
    out[o] = '\0';
    return out;
}

static void s_errors_free(struct s_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nerrs; i++)
        free(ctx->errs[i].text);
    free(ctx->errs);
    ctx->errs = NULL;
    ctx->nerrs = ctx->cap = 0;
}

/*
 * Copy user text for a message: control characters become '?' (an error stays one line) and
 * long text is cut, at a UTF-8 character boundary, with "...".
 */
static const char *s_show(const char *s, size_t len, char *buf, size_t size)
{
    size_t i, o = 0;

    for (i = 0; i < len && o + 4 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (i < len) {
        while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
            o--;
        if (o > 0 && (unsigned char)buf[o - 1] >= 0xc0)
            o--;
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- tree ---- */

static void s_node_free(struct s_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++)
        s_node_free(node->items[i]);
    free(node->items);
    free(node->value);
    free(node);
}

static int s_node_add(struct s_node *parent, struct s_node *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct s_node **items = realloc(parent->items, cap * sizeof(*items));

        if (!items)
            return -1;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

struct s_builder {
    struct s_node *root;
    struct s_node *stack[S_MAX_LEVELS - 1]; /* open collections that keep their children */
    size_t depth;
    size_t skip; /* nesting inside a collection whose children are not kept */
};

/* Add one node event to the tree; -1 on allocation failure. */
static int s_build(struct s_builder *b, const yaml_event_t *ev)
{
    struct s_node *node = NULL;
    enum s_kind kind;
    const yaml_char_t *anchor = NULL;
    bool open = false;

    switch (ev->type) {
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->skip > 0)
            b->skip--;
        else if (b->depth > 0)
            b->depth--;
        return 0;
    case YAML_SCALAR_EVENT:
        kind = S_SCALAR;
        anchor = ev->data.scalar.anchor;
        break;
    case YAML_ALIAS_EVENT:
        kind = S_ALIAS;
        break;
    case YAML_SEQUENCE_START_EVENT:
        kind = S_SEQUENCE;
        anchor = ev->data.sequence_start.anchor;
        open = true;
        break;
    case YAML_MAPPING_START_EVENT:
        kind = S_MAPPING;
        anchor = ev->data.mapping_start.anchor;
        open = true;
        break;
    default:
        return 0;
    }
    if (b->skip > 0) {
        if (open)
            b->skip++;
        return 0;
    }

    node = calloc(1, sizeof(*node));
    if (!node)
        goto fail;
    node->kind = kind;
    node->anchored = anchor != NULL;
    node->line = ev->start_mark.line + 1;
    node->col = ev->start_mark.column + 1;
    if (kind == S_SCALAR) {
        node->len = ev->data.scalar.length;
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        node->value = malloc(node->len + 1);
        if (!node->value)
            goto fail;
        memcpy(node->value, ev->data.scalar.value, node->len);
        node->value[node->len] = '\0';
    }

    if (b->depth == 0) {
        if (b->root) { /* cannot happen within one document; keep the first */
            s_node_free(node);
            return 0;
        }
        b->root = node;
    } else if (s_node_add(b->stack[b->depth - 1], node) < 0) {
        goto fail;
    }
    if (open) {
        if (b->depth < S_LEN(b->stack))
            b->stack[b->depth++] = node;
        else
            b->skip = 1;
    }
    return 0;

fail:
    s_node_free(node);
    return -1;
}

/* Line and column (from 1) of a byte offset, for reader errors that carry no mark. */
static void s_offset_pos(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    size_t start = 0;

    *line = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            start = i + 1;
        }
    }
    *col = off - start + 1;
}

static void s_syntax_error(struct s_ctx *ctx, const yaml_parser_t *parser, const char *text,
                           size_t len)
{
    const char *problem = parser->problem ? parser->problem : "invalid YAML";
    size_t line, col;

    if (parser->error == YAML_MEMORY_ERROR) {
        ctx->oom = true;
        return;
    }
    if (parser->error == YAML_READER_ERROR) {
        s_offset_pos(text, len, parser->problem_offset, &line, &col);
        if (parser->problem_value != -1)
            s_err(ctx, line, col, "(syntax)", "%s (byte 0x%02X)", problem,
                  (unsigned)parser->problem_value & 0xffu);
        else
            s_err(ctx, line, col, "(syntax)", "%s", problem);
        return;
    }
    line = parser->problem_mark.line + 1;
    col = parser->problem_mark.column + 1;
    if (parser->context)
        s_err(ctx, line, col, "(syntax)", "%s (%s at line %zu, column %zu)", problem,
              parser->context, parser->context_mark.line + 1, parser->context_mark.column + 1);
    else
        s_err(ctx, line, col, "(syntax)", "%s", problem);
}

struct s_doc {
    struct s_node *root;
    size_t ndocs;
    size_t line, col; /* start of the (first) document */
};

/* Build the tree of the first document. -1 when the YAML itself is broken (error recorded). */
static int s_load_tree(struct s_ctx *ctx, const char *text, size_t len, struct s_doc *doc)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct s_builder b = {0};
    bool done = false;
    int rc = -1;

    if (!yaml_parser_initialize(&parser)) {
        ctx->oom = true;
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            s_syntax_error(ctx, &parser, text, len);
            goto cleanup;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++doc->ndocs > 1) {
                s_err(ctx, ev.start_mark.line + 1, ev.start_mark.column + 1, "(top)",
                      "a second YAML document; the file must hold exactly one");
                done = true;
            } else {
                doc->line = ev.start_mark.line + 1;
                doc->col = ev.start_mark.column + 1;
            }
            break;
        default:
            if (s_build(&b, &ev) < 0) {
                yaml_event_delete(&ev);
                ctx->oom = true;
                goto cleanup;
            }
            break;
        }
        yaml_event_delete(&ev);
    }
    rc = 0;

cleanup:
    yaml_parser_delete(&parser);
    if (rc == 0) {
        doc->root = b.root;
    } else {
        s_node_free(b.root);
    }
    return rc;
}

/* ---- values ---- */

static bool s_is(const struct s_node *node, const char *s)
{
    size_t n = strlen(s);

    return node->kind == S_SCALAR && node->len == n && memcmp(node->value, s, n) == 0;
}

/* An unquoted empty, "~" or "null" scalar: YAML's null. */
static bool s_is_null(const struct s_node *node)
{
    return node->kind == S_SCALAR && node->plain &&
           (node->len == 0 || s_is(node, "~") || s_is(node, "null") || s_is(node, "Null") ||
            s_is(node, "NULL"));
}

static const char *s_kind_name(enum s_kind kind)
{
    switch (kind) {
    case S_SCALAR:
        return "a scalar";
    case S_MAPPING:
        return "a mapping";
    case S_SEQUENCE:
        return "a sequence";
    case S_ALIAS:
        return "an alias";
    }
    return "?";
}

enum s_int_result { S_INT_OK, S_INT_SYNTAX, S_INT_RANGE };

/* All of s[0..len) as a decimal integer ([-+]?[0-9]+, YAML's core schema) within [min, max]. */
static enum s_int_result s_parse_int(const char *s, size_t len, long min, long max, long *out)
{
    size_t i = 0;
    char *end;
    long v;

    if (len == 0 || strlen(s) != len)
        return S_INT_SYNTAX;
    if (s[0] == '-' || s[0] == '+')
        i = 1;
    if (i == len)
        return S_INT_SYNTAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return S_INT_SYNTAX;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (end != s + len)
        return S_INT_SYNTAX;
    if (errno == ERANGE || v < min || v > max)
        return S_INT_RANGE;
    *out = v;
    return S_INT_OK;
}

/* A host name or interface name: dot-separated labels of letters, digits and inner '-'. */
static bool s_hostname_ok(const char *h, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];

        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
        if (c == '-' && label == 0)
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 && h[len - 1] != '-';
}

/* NULL when `s` is an endpoint anprd can bind, else what is wrong with it. */
static const char *s_endpoint_problem(const char *s)
{
    const char *host, *colon, *port;
    size_t hlen;
    char addr[INET6_ADDRSTRLEN];
    struct in6_addr a6;
    struct in_addr a4;
    long v;

    if (strncmp(s, "ipc://", 6) == 0) {
        const char *path = s + 6;

        if (path[0] != '/')
            return "the ipc path must be absolute (ipc:///path)";
        if (path[1] == '\0')
            return "the ipc path is empty";
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return "the ipc path is too long for a Unix socket";
        return NULL;
    }
    if (strncmp(s, "tcp://", 6) != 0)
        return "expected tcp://HOST:PORT or ipc:///absolute/path";

    host = s + 6;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');

        if (!close)
            return "unterminated [IPv6] address";
        hlen = (size_t)(close - host - 1);
        if (hlen == 0 || hlen >= sizeof(addr))
            return "invalid IPv6 address";
        memcpy(addr, host + 1, hlen);
        addr[hlen] = '\0';
        if (inet_pton(AF_INET6, addr, &a6) != 1)
            return "invalid IPv6 address";
        if (close[1] != ':')
            return "missing :PORT";
        colon = close + 1;
    } else {
        bool numeric = true;

        colon = strrchr(host, ':');
        if (!colon)
            return "missing :PORT";
        hlen = (size_t)(colon - host);
        if (hlen == 0)
            return "missing host (use * for all interfaces)";
        if (memchr(host, ':', hlen))
            return "an IPv6 address must be in brackets, e.g. tcp://[::1]:5555";
        if (!(hlen == 1 && host[0] == '*')) {
            for (size_t i = 0; i < hlen; i++) {
                if (host[i] != '.' && (host[i] < '0' || host[i] > '9'))
                    numeric = false;
            }
            if (numeric) {
                if (hlen >= sizeof(addr))
                    return "invalid IPv4 address";
                memcpy(addr, host, hlen);
                addr[hlen] = '\0';
                if (inet_pton(AF_INET, addr, &a4) != 1)
                    return "invalid IPv4 address";
            } else if (!s_hostname_ok(host, hlen)) {
                return "invalid host name";
            }
        }
    }
    port = colon + 1;
    if (port[0] < '0' || port[0] > '9' || s_parse_int(port, strlen(port), 1, 65535, &v) != S_INT_OK)
        return "the port must be a number 1..65535";
    return NULL;
}

/* ---- validation ---- */

/* Reject anchors and aliases on a node; true when it is usable. */
static bool s_plain_node(struct s_ctx *ctx, const struct s_node *node, const char *key)
{
    if (node->kind == S_ALIAS) {
        s_err(ctx, node->line, node->col, key, "aliases are not supported");
        return false;
    }
    if (node->anchored)
        s_err(ctx, node->line, node->col, key, "anchors are not supported");
    return true;
}

static void s_key_list(const struct s_section *sec, char *buf, size_t size)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sec->nkeys && o < size; i++) {
        int n = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", sec->keys[i].name);

        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static int s_set_string(struct s_ctx *ctx, char **dst, const struct s_node *val)
{
    char *s = strdup(val->value);

    if (!s) {
        ctx->oom = true;
        return -1;
    }
    free(*dst);
    *dst = s;
    return 0;
}

/* A peer's endpoint: one anprd could bind (s_endpoint_problem), but connected to, so a
 * wildcard means nothing. NULL, or what is wrong. */
static const char *s_peer_problem(const char *s)
{
    const char *problem = s_endpoint_problem(s);

    if (problem)
        return problem;
    if (strncmp(s, "tcp://*:", 8) == 0 || strncmp(s, "tcp://0.0.0.0:", 14) == 0 ||
        strncmp(s, "tcp://[::]:", 11) == 0)
        return "a peer is connected to: name its host, not all interfaces";
    return NULL;
}

/* cluster.peers: a sequence of endpoints (empty or null: none). */
static void s_check_peers(struct s_ctx *ctx, struct conf *conf, const struct s_node *val,
                          const char *path)
{
    char show[S_SHOW_MAX + 4], item[S_SHOW_MAX + 96];
    const char *problem;

    if (!s_plain_node(ctx, val, path) || (val->kind == S_SCALAR && s_is_null(val)))
        return;
    if (val->kind != S_SEQUENCE) {
        s_err(ctx, val->line, val->col, path, "expected a sequence of endpoints, got %s",
              s_kind_name(val->kind));
        return;
    }
    char **peers = calloc(val->n ? val->n : 1, sizeof *peers);
    if (!peers) {
        ctx->oom = true;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < val->n; i++) {
        const struct s_node *v = val->items[i];
        snprintf(item, sizeof item, "%s[%zu]", path, i);
        if (!s_plain_node(ctx, v, item))
            continue;
        if (v->kind != S_SCALAR || strlen(v->value) != v->len) {
            s_err(ctx, v->line, v->col, item, "expected an endpoint, got %s",
                  v->kind != S_SCALAR ? s_kind_name(v->kind) : "a NUL character");
            continue;
        }
        if ((problem = s_peer_problem(v->value)) != NULL) {
            s_err(ctx, v->line, v->col, item, "invalid endpoint '%s': %s",
                  s_show(v->value, v->len, show, sizeof(show)), problem);
            continue;
        }
        if (!(peers[n] = strdup(v->value))) {
            ctx->oom = true;
            break;
        }
        n++;
    }
    for (size_t i = 0; i < conf->cluster.npeers; i++)
        free(conf->cluster.peers[i]);
    free(conf->cluster.peers);
    conf->cluster.peers = peers;
    conf->cluster.npeers = n;
}

static void s_check_value(struct s_ctx *ctx, struct conf *conf, const struct s_key *key,
                          const struct s_node *val, const char *path)
{
    char show[S_SHOW_MAX + 4];
    void *dst = (char *)conf + key->off;
    const char *problem;
    long v;

    if (key->type == S_PEERS) {
        s_check_peers(ctx, conf, val, path);
        return;
    }
    if (!s_plain_node(ctx, val, path))
        goto bad;
    if (val->kind != S_SCALAR) {
        s_err(ctx, val->line, val->col, path, "expected a single value, got %s",
              s_kind_name(val->kind));
        goto bad;
    }
    if (key->type != S_INT && strlen(val->value) != val->len) {
        s_err(ctx, val->line, val->col, path, "the value contains a NUL character");
        goto bad;
    }

    switch (key->type) {
    case S_BOOL:
        if (val->len == 4 && memcmp(val->value, "true", 4) == 0)
            *(int *)dst = 1;
        else if (val->len == 5 && memcmp(val->value, "false", 5) == 0)
            *(int *)dst = 0;
        else
            s_err(ctx, val->line, val->col, path, "expected true or false, got '%s'",
                  s_show(val->value, val->len, show, sizeof(show)));
        return;
    case S_INT:
        if (val->len == 0) {
            s_err(ctx, val->line, val->col, path, "expected an integer, got an empty value");
            break;
        }
        switch (s_parse_int(val->value, val->len, key->min, key->max, &v)) {
        case S_INT_OK:
            *(int *)dst = (int)v;
            break;
        case S_INT_SYNTAX:
            s_err(ctx, val->line, val->col, path, "expected an integer, got '%s'",
                  s_show(val->value, val->len, show, sizeof(show)));
            break;
        case S_INT_RANGE:
            s_err(ctx, val->line, val->col, path, "out of range: %s (must be %ld..%ld)",
                  s_show(val->value, val->len, show, sizeof(show)), key->min, key->max);
            break;
        }
        return;
    case S_ENDPOINT:
        problem = s_endpoint_problem(val->value);
        if (problem) {
            s_err(ctx, val->line, val->col, path, "invalid endpoint '%s': %s",
                  s_show(val->value, val->len, show, sizeof(show)), problem);
            goto bad;
        }
        if (s_set_string(ctx, (char **)dst, val) < 0)
            return;
        ctx->ep_node[key->off == offsetof(struct conf, dispatch.endpoint)] = val;
        return;
    case S_ENDPOINT_OPT:
        /* Empty: the feature is off. */
        if (val->len > 0 && (problem = s_endpoint_problem(val->value)) != NULL) {
            s_err(ctx, val->line, val->col, path, "invalid endpoint '%s': %s",
                  s_show(val->value, val->len, show, sizeof(show)), problem);
            return;
        }
        if (s_set_string(ctx, (char **)dst, val) == 0 && val->len > 0)
            ctx->covert_node = val;
        return;
    case S_STRING:
        /* conninfo may hold a password: never echo it, nor libpq's parse error (it quotes the
         * offending part, which may be the password). */
        if (strspn(val->value, " \t\r\n") == val->len) {
            s_err(ctx, val->line, val->col, path, "must not be empty");
            return;
        }
        PQconninfoOption *opts = PQconninfoParse(val->value, NULL);
        if (!opts) {
            s_err(ctx, val->line, val->col, path,
                  "not a valid libpq connection string (keyword=value pairs or a "
                  "postgresql:// URI)");
            return;
        }
        PQconninfoFree(opts);
        s_set_string(ctx, (char **)dst, val);
        return;
    case S_CLASSES: {
        /* Checked by the matcher's own parser, so the two can never disagree. */
        wl_builder_t *b = wl_builder_new();
        char why[160];
        if (!b) {
            ctx->oom = true;
            return;
        }
        if (wl_builder_set_classes(b, val->value, why, sizeof why) != 0)
            s_err(ctx, val->line, val->col, path, "%s", why);
        else
            s_set_string(ctx, (char **)dst, val);
        wl_builder_destroy(&b);
        return;
    }
    case S_PATH_OPT:
    case S_CRL_OPT: {
        char why[512];

        /* Empty: the feature is off. The daemon may run with / as its working directory. */
        if (val->len > 0 && val->value[0] != '/') {
            s_err(ctx, val->line, val->col, path, "must be an absolute path, got '%s'",
                  s_show(val->value, val->len, show, sizeof(show)));
            return;
        }
        /* A CRL that will not load must stop the start, not quietly turn revocation off. */
        if (key->type == S_CRL_OPT && val->len > 0 &&
            tls_crl_check(val->value, why, sizeof(why)) != 0) {
            s_err(ctx, val->line, val->col, path, "%s", why);
            return;
        }
        s_set_string(ctx, (char **)dst, val);
        return;
    }
    case S_HOST_OPT:
    case S_NAME_OPT: {
        /* Names that go into TLS checks and the backbone's HELLO: no room for surprises. */
        const char *ok = key->type == S_HOST_OPT
                             ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:"
                             : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";
        if (val->len > (key->type == S_HOST_OPT ? 253u : 64u) ||
            strspn(val->value, ok) != val->len) {
            s_err(ctx, val->line, val->col, path, "'%s' is not a %s",
                  s_show(val->value, val->len, show, sizeof(show)),
                  key->type == S_HOST_OPT ? "host name or address"
                                          : "name of 1..64 of A-Z a-z 0-9 . _ : -");
            return;
        }
        if (s_set_string(ctx, (char **)dst, val) == 0 && key->type == S_HOST_OPT && val->len > 0)
            ctx->backbone_node = val;
        return;
    }
    case S_LISTEN_OPT: {
        struct sockaddr_storage addr;
        socklen_t alen;
        bool loopback;
        /* Empty: the endpoint is off. */
        if (val->len > 0 && (problem = conf_listen_parse(val->value, &addr, &alen, &loopback))) {
            s_err(ctx, val->line, val->col, path, "invalid listen address '%s': %s",
                  s_show(val->value, val->len, show, sizeof(show)), problem);
            return;
        }
        s_set_string(ctx, (char **)dst, val);
        return;
    }
    case S_PEERS:
        return; /* above */
    case S_LEVEL:
        if (log_level_parse(val->value, (enum log_level *)dst) != 0)
            s_err(ctx, val->line, val->col, path,
                  "unknown log level '%s'; expected one of: debug, info, warn, error",
                  s_show(val->value, val->len, show, sizeof(show)));
        return;
    }
    return;

bad:
    if (key->type == S_ENDPOINT)
        ctx->ep_bad = true;
}

/* A section's mapping: `key` is the section's key node (for the missing-key position). */
static void s_check_section(struct s_ctx *ctx, struct conf *conf, const struct s_section *sec,
                            const struct s_node *key, const struct s_node *map)
{
    const struct s_node *seen[S_MAX_KEYS] = {0};
    char path[S_SHOW_MAX + 64], show[S_SHOW_MAX + 4], keys[256];

    if (!s_plain_node(ctx, map, sec->name))
        return;
    if (map->kind == S_SCALAR && s_is_null(map))
        goto required; /* "ingest:" with every key commented out */
    if (map->kind != S_MAPPING) {
        s_err(ctx, map->line, map->col, sec->name, "expected a mapping of keys, got %s",
              s_kind_name(map->kind));
        return;
    }

    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct s_node *k = map->items[i], *v = map->items[i + 1];
        size_t j;

        if (!s_plain_node(ctx, k, sec->name))
            continue;
        if (k->kind != S_SCALAR) {
            s_err(ctx, k->line, k->col, sec->name, "a key must be a plain name, not %s",
                  s_kind_name(k->kind));
            continue;
        }
        for (j = 0; j < sec->nkeys && !s_is(k, sec->keys[j].name); j++)
            ;
        snprintf(path, sizeof(path), "%s.%s", sec->name,
                 s_show(k->value, k->len, show, sizeof(show)));
        if (j == sec->nkeys) {
            s_key_list(sec, keys, sizeof(keys));
            s_err(ctx, k->line, k->col, path, "unknown key; expected one of: %s", keys);
            continue;
        }
        if (seen[j]) {
            s_err(ctx, k->line, k->col, path, "duplicate key (first at line %zu, column %zu)",
                  seen[j]->line, seen[j]->col);
            continue;
        }
        seen[j] = k;
        s_check_value(ctx, conf, &sec->keys[j], v, path);
    }

required:
    for (size_t j = 0; j < sec->nkeys; j++) {
        if (sec->keys[j].required && !seen[j]) {
            snprintf(path, sizeof(path), "%s.%s", sec->name, sec->keys[j].name);
            s_err(ctx, key->line, key->col, path, "missing required key");
        }
    }
}

static void s_check_root(struct s_ctx *ctx, struct conf *conf, const struct s_doc *doc)
{
    const struct s_node *root = doc->root, *seen[S_LEN(s_sections)] = {0};
    char show[S_SHOW_MAX + 4], path[64];

    if (!root) {
        s_err(ctx, 1, 1, "(top)", "the file is empty; expected a mapping of sections");
        return;
    }
    if (!s_plain_node(ctx, root, "(top)"))
        return;
    if (s_is_null(root)) {
        s_err(ctx, root->line, root->col, "(top)",
              "the document is empty; expected a mapping of sections");
        return;
    }
    if (root->kind != S_MAPPING) {
        s_err(ctx, root->line, root->col, "(top)", "expected a mapping of sections, got %s",
              s_kind_name(root->kind));
        return;
    }

    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const struct s_node *k = root->items[i], *v = root->items[i + 1];
        size_t j;

        if (!s_plain_node(ctx, k, "(top)"))
            continue;
        if (k->kind != S_SCALAR) {
            s_err(ctx, k->line, k->col, "(top)", "a section name must be a plain name, not %s",
                  s_kind_name(k->kind));
            continue;
        }
        for (j = 0; j < S_LEN(s_sections) && !s_is(k, s_sections[j].name); j++)
            ;
        if (j == S_LEN(s_sections)) {
            s_err(ctx, k->line, k->col, s_show(k->value, k->len, show, sizeof(show)),
                  "unknown section; expected one of: ingest, dispatch, database, log, matcher, "
                  "spool, backbone, curve, metrics, cluster");
            continue;
        }
        if (seen[j]) {
            s_err(ctx, k->line, k->col, s_sections[j].name,
                  "duplicate section (first at line %zu, column %zu)", seen[j]->line, seen[j]->col);
            continue;
        }
        seen[j] = k;
        s_check_section(ctx, conf, &s_sections[j], k, v);
    }

    if (!seen[S_DATABASE]) {
        snprintf(path, sizeof(path), "%s.conninfo", s_sections[S_DATABASE].name);
        s_err(ctx, doc->line, doc->col, path, "missing required key");
    }

    /* Forwarding needs all of its TLS material and an outbound spool. */
    if (ctx->backbone_node) {
        const char *need[] = {conf->backbone.ca_file, conf->backbone.cert_file,
                              conf->backbone.key_file, conf->backbone.instance,
                              conf->backbone.spool_dir};
        const char *names[] = {"ca_file", "cert_file", "key_file", "instance", "spool_dir"};
        for (size_t i = 0; i < S_LEN(need); i++)
            if (!need[i][0])
                s_err(ctx, ctx->backbone_node->line, ctx->backbone_node->col, "backbone.host",
                      "forwarding needs backbone.%s too", names[i]);
        if (conf->backbone.spool_dir[0] && strcmp(conf->backbone.spool_dir, conf->spool.dir) == 0)
            s_err(ctx, ctx->backbone_node->line, ctx->backbone_node->col, "backbone.spool_dir",
                  "the same directory as spool.dir; each spool needs its own");
    }

    /* Whether either is set at all is the daemon's check (anprd refuses to start without). */
    if (conf->curve.insecure_plaintext && conf->curve.secret_file[0])
        s_err(ctx, doc->line, doc->col, "curve.insecure_plaintext",
              "true together with curve.secret_file: choose one");

    /* The covert feed is a socket of its own, with its own access. */
    if (ctx->covert_node && (strcmp(conf->dispatch.covert_endpoint, conf->ingest.endpoint) == 0 ||
                             strcmp(conf->dispatch.covert_endpoint, conf->dispatch.endpoint) == 0))
        s_err(ctx, ctx->covert_node->line, ctx->covert_node->col, "dispatch.covert_endpoint",
              "the same endpoint as another socket");

    /* Its own feed among its peers: it would take its own HITs for a peer's. */
    for (size_t i = 0; i < conf->cluster.npeers; i++)
        if (strcmp(conf->cluster.peers[i], conf->dispatch.endpoint) == 0)
            s_err(ctx, doc->line, doc->col, "cluster.peers",
                  "'%s' is this anprd's own dispatch.endpoint", conf->cluster.peers[i]);

    /* Both sockets bind: the same endpoint twice can never work. */
    if (!ctx->ep_bad && strcmp(conf->ingest.endpoint, conf->dispatch.endpoint) == 0) {
        const struct s_node *at = ctx->ep_node[1] ? ctx->ep_node[1] : ctx->ep_node[0];

        if (at)
            s_err(ctx, at->line, at->col,
                  at == ctx->ep_node[1] ? "dispatch.endpoint" : "ingest.endpoint",
                  "the same endpoint as %s",
                  at == ctx->ep_node[1] ? "ingest.endpoint" : "dispatch.endpoint");
    }
}

static struct conf *s_defaults(const char *name)
{
    struct conf *conf = calloc(1, sizeof(*conf));

    if (!conf)
        return NULL;
    conf->path = strdup(name);
    conf->ingest.endpoint = strdup(S_DEFAULT_INGEST_ENDPOINT);
    conf->dispatch.endpoint = strdup(S_DEFAULT_DISPATCH_ENDPOINT);
    conf->matcher.ocr_classes = strdup(WL_DEFAULT_CLASSES);
    conf->dispatch.covert_endpoint = strdup("");
    conf->spool.dir = strdup("");
    conf->backbone.host = strdup("");
    conf->backbone.ca_file = strdup("");
    conf->backbone.cert_file = strdup("");
    conf->backbone.key_file = strdup("");
    conf->backbone.crl_file = strdup("");
    conf->backbone.instance = strdup("");
    conf->backbone.spool_dir = strdup("");
    conf->curve.secret_file = strdup("");
    conf->metrics.listen = strdup(S_DEFAULT_METRICS_LISTEN);
    if (!conf->curve.secret_file || !conf->metrics.listen || !conf->path ||
        !conf->ingest.endpoint || !conf->dispatch.endpoint || !conf->matcher.ocr_classes ||
        !conf->dispatch.covert_endpoint || !conf->spool.dir || !conf->backbone.host ||
        !conf->backbone.ca_file || !conf->backbone.cert_file || !conf->backbone.key_file ||
        !conf->backbone.crl_file || !conf->backbone.instance || !conf->backbone.spool_dir) {
        conf_destroy(&conf);
        return NULL;
    }
    conf->ingest.max_pending = 100000;
    conf->ingest.max_future_skew_s = 300;
    conf->ingest.max_age_days = 365;
    conf->ingest.peer_rate_per_s = 5000;
    conf->ingest.peer_burst = 50000;
    conf->database.batch_size = 5000;
    conf->database.flush_interval_ms = 5;
    conf->database.reconnect_max_ms = 30000;
    conf->database.partitions_ahead_days = 3;
    conf->log.level = LOG_LEVEL_INFO;
    conf->log.stats_interval_s = 60;
    conf->log.reject_log_interval_s = 10;
    conf->spool.max_mb = 1024;
    conf->dispatch.reannounce_priority = 2;
    conf->dispatch.reannounce_s = 120;
    conf->dispatch.heartbeat_s = 2;
    conf->dispatch.camera_silent_min = 10;
    conf->backbone.port = 7443;
    conf->backbone.max_mb = 1024;
    return conf;
}

/* ---- public ---- */

const char *conf_listen_parse(const char *text, struct sockaddr_storage *addr, socklen_t *len,
                              bool *loopback)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon = strrchr(text, ':'), *host_start = text;
    size_t host_len;
    long port;
    char *end;

    if (!colon)
        return "expected address:port";
    host_len = (size_t)(colon - text);
    if (host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']') {
        host_start = text + 1;
        host_len -= 2;
    } else if (memchr(text, ':', host_len)) {
        return "an IPv6 address goes in brackets, e.g. [::1]:9105";
    }
    if (host_len == 0 || host_len >= sizeof host)
        return "expected an IP address before the port";
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    if (colon[1] < '0' || colon[1] > '9')
        return "expected a port number 0..65535 after the last ':'";
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || port > 65535)
        return "expected a port number 0..65535 after the last ':'";

    memset(addr, 0, sizeof *addr);
    if (host_start == text) {
        struct sockaddr_in *in = (struct sockaddr_in *)addr;
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            return "not an IPv4 address (names are not looked up; IPv6 goes in brackets)";
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            return "not an IPv6 address";
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return NULL;
}

struct conf *conf_parse(const char *name, const char *text, size_t len, char **errors)
{
    struct s_ctx ctx = {0};
    struct s_doc doc = {0};
    struct conf *conf = NULL;

    *errors = NULL;
    ctx.name = name ? name : "(config)";
    if (!text)
        len = 0;

    conf = s_defaults(ctx.name);
    if (!conf) {
        ctx.oom = true;
        goto cleanup;
    }
    if (s_load_tree(&ctx, text ? text : "", len, &doc) == 0)
        s_check_root(&ctx, conf, &doc);

cleanup:
    s_node_free(doc.root);
    if (!ctx.oom && ctx.nerrs == 0) {
        s_errors_free(&ctx);
        return conf;
    }
    conf_destroy(&conf);
    if (!ctx.oom)
        *errors = s_errors_join(&ctx);
    /* partial error text would mislead; the out-of-memory note itself is best effort */
    if (!*errors && asprintf(errors, "%s: out of memory\n", ctx.name) < 0)
        *errors = NULL;
    s_errors_free(&ctx);
    return NULL;
}

/* Whole file into a malloc'd buffer; NULL with errno set. */
static char *s_read_file(const char *path, size_t *len)
{
    FILE *f = NULL;
    char *buf = NULL, *p;
    size_t cap = 0, n = 0;
    int err = 0;

    f = fopen(path, "re");
    if (!f)
        return NULL;
    for (;;) {
        size_t got;

        if (n == cap) {
            if (cap >= S_MAX_FILE) {
                err = EFBIG;
                goto cleanup;
            }
            cap = cap ? cap * 2 : 4096;
            p = realloc(buf, cap + 1);
            if (!p) {
                err = ENOMEM;
                goto cleanup;
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                err = errno ? errno : EIO;
                goto cleanup;
            }
            break;
        }
    }
    buf[n] = '\0';
    *len = n;

cleanup:
    fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    return buf;
}

struct conf *conf_load(const char *path, char **errors)
{
    struct conf *conf;
    size_t len = 0;
    char *text;

    *errors = NULL;
    if (!path) {
        errno = EINVAL;
        text = NULL;
    } else {
        errno = 0;
        text = s_read_file(path, &len);
    }
    if (!text) {
        if (asprintf(errors, "%s: cannot read: %s\n", path ? path : "(null)", strerror(errno)) < 0)
            *errors = NULL;
        return NULL;
    }
    conf = conf_parse(path, text, len, errors);
    free(text);
    return conf;
}

void conf_destroy(struct conf **conf_p)
{
    struct conf *conf;

    if (!conf_p || !*conf_p)
        return;
    conf = *conf_p;
    free(conf->path);
    free(conf->ingest.endpoint);
    free(conf->dispatch.endpoint);
    free(conf->matcher.ocr_classes);
    free(conf->dispatch.covert_endpoint);
    free(conf->database.conninfo);
    free(conf->spool.dir);
    free(conf->backbone.host);
    free(conf->backbone.ca_file);
    free(conf->backbone.cert_file);
    free(conf->backbone.key_file);
    free(conf->backbone.crl_file);
    free(conf->backbone.instance);
    free(conf->backbone.spool_dir);
    free(conf->curve.secret_file);
    free(conf->metrics.listen);
    for (size_t i = 0; i < conf->cluster.npeers; i++)
        free(conf->cluster.peers[i]);
    free(conf->cluster.peers);
    free(conf);
    *conf_p = NULL;
}
