/*
 * conffiles: check the paths a configuration names (see conffiles.h).
 *
 * The YAML is read as a stream of events and only "section: key: scalar" values are kept, with
 * their positions: conf_load() accepted the file already, so anything deeper is not there.
 */
#include "conffiles.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define S_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Levels tracked: the root mapping, a section, a value nested deeper (never valid). */
#define S_MAX_DEPTH 3

/* One "section.key: value" of the file, with where the value starts (from 1). */
struct s_value {
    char key[64];
    char *value;
    size_t line, col;
};

struct s_values {
    struct s_value *v;
    size_t n, cap;
};

enum s_want { S_READ_FILE, S_WRITE_DIR };

/* What is checked, and the key that turns its part on (and the value that turns it off). */
struct s_path {
    const char *key;
    enum s_want want;
    const char *on_key;  /* NULL: always; else checked when this key is set and not "" */
    const char *off_key; /* NULL, or a key that, when "true", turns the part off */
};

static const struct s_path s_paths[] = {
    {"spool.dir", S_WRITE_DIR, NULL, NULL},
    {"backbone.ca_file", S_READ_FILE, "backbone.host", NULL},
    {"backbone.cert_file", S_READ_FILE, "backbone.host", NULL},
    {"backbone.key_file", S_READ_FILE, "backbone.host", NULL},
    {"backbone.crl_file", S_READ_FILE, "backbone.host", NULL},
    {"backbone.spool_dir", S_WRITE_DIR, "backbone.host", NULL},
    {"curve.secret_file", S_READ_FILE, NULL, "curve.insecure_plaintext"},
};

/* One error line, kept with its position for sorting. */
struct s_error {
    size_t line, col;
    char *text;
};

struct s_errors {
    struct s_error *e;
    size_t n, cap;
    bool oom;
};

static void s_values_free(struct s_values *vals)
{
    for (size_t i = 0; i < vals->n; i++)
        free(vals->v[i].value);
    free(vals->v);
}

static int s_values_add(struct s_values *vals, const char *section, const char *key,
                        const yaml_event_t *ev)
{
    struct s_value *v;

    if (vals->n == vals->cap) {
        size_t cap = vals->cap ? vals->cap * 2 : 16;

        v = realloc(vals->v, cap * sizeof(*v));
        if (!v)
            return -1;
        vals->v = v;
        vals->cap = cap;
    }
    v = &vals->v[vals->n];
    snprintf(v->key, sizeof v->key, "%s.%s", section, key);
    v->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
    if (!v->value)
        return -1;
    v->line = ev->start_mark.line + 1;
    v->col = ev->start_mark.column + 1;
    vals->n++;
    return 0;
}

/* The "section: key: scalar" values of the file; -1 when it cannot be read or parsed. */
static int s_read(const char *path, struct s_values *vals)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    FILE *f = fopen(path, "rb");
    char section[32] = "", key[32] = "";
    bool key_next[S_MAX_DEPTH + 1] = {false}; /* per depth: the next scalar is a key */
    int depth = 0, rc = -1;
    bool done = false;

    if (!f)
        return -1;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev))
            goto out;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            /* A collection is a value: once it ends, its mapping's next scalar is a key. */
            if (depth <= S_MAX_DEPTH)
                key_next[depth] = true;
            depth++;
            if (depth <= S_MAX_DEPTH)
                key_next[depth] = ev.type == YAML_MAPPING_START_EVENT;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT: {
            const char *text = (const char *)ev.data.scalar.value;

            if (depth < 1 || depth > 2)
                break;
            if (key_next[depth]) {
                snprintf(depth == 1 ? section : key, depth == 1 ? sizeof section : sizeof key, "%s",
                         text);
            } else if (depth == 2 && s_values_add(vals, section, key, &ev) != 0) {
                yaml_event_delete(&ev);
                goto out;
            }
            key_next[depth] = !key_next[depth];
            break;
        }
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    rc = 0;
out:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* A YAML true, as conf.c reads booleans. */
static bool s_true(const char *s)
{
    return strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0 ||
           strcmp(s, "1") == 0;
}

static const struct s_value *s_find(const struct s_values *vals, const char *key)
{
    for (size_t i = 0; i < vals->n; i++) {
        if (strcmp(vals->v[i].key, key) == 0)
            return &vals->v[i];
    }
    return NULL;
}

static void s_err(struct s_errors *errs, const char *name, const struct s_value *v, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

static void s_err(struct s_errors *errs, const char *name, const struct s_value *v, const char *fmt,
                  ...)
{
    char *msg = NULL, *text = NULL;
    va_list ap;
    int n;

    if (errs->oom)
        return;
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0 || asprintf(&text, "%s:%zu:%zu: %s: %s\n", name, v->line, v->col, v->key, msg) < 0) {
        if (n >= 0)
            free(msg);
        errs->oom = true;
        return;
    }
    free(msg);
    if (errs->n == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        struct s_error *e = realloc(errs->e, cap * sizeof(*e));

        if (!e) {
            free(text);
            errs->oom = true;
            return;
        }
        errs->e = e;
        errs->cap = cap;
    }
    errs->e[errs->n++] = (struct s_error){v->line, v->col, text};
}

/* "user NAME (uid N)" of whom the checks are for. */
static void s_who(char *buf, size_t size)
{
    uid_t uid = geteuid();
    struct passwd *pw = getpwuid(uid);

    if (pw)
        snprintf(buf, size, "user %s (uid %u)", pw->pw_name, (unsigned)uid);
    else
        snprintf(buf, size, "uid %u", (unsigned)uid);
}

static void s_check_file(struct s_errors *errs, const char *name, const struct s_value *v,
                         const char *who)
{
    struct stat st;
    int fd = open(v->value, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            s_err(errs, name, v, "'%s' does not exist", v->value);
        else if (errno == EACCES)
            s_err(errs, name, v, "'%s' cannot be read by %s", v->value, who);
        else
            s_err(errs, name, v, "'%s': %s", v->value, strerror(errno));
        return;
    }
    if (fstat(fd, &st) != 0)
        s_err(errs, name, v, "'%s': %s", v->value, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s_err(errs, name, v, "'%s' is not a regular file", v->value);
    close(fd);
}

static void s_check_dir(struct s_errors *errs, const char *name, const struct s_value *v,
                        const char *who)
{
    char parent[PATH_MAX];
    struct stat st;
    char *slash;

    if (stat(v->value, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            s_err(errs, name, v, "'%s' is not a directory", v->value);
        else if (access(v->value, W_OK | X_OK) != 0)
            s_err(errs, name, v, "'%s' is not writable by %s", v->value, who);
        return;
    }
    if (errno != ENOENT) {
        s_err(errs, name, v, "'%s': %s", v->value, strerror(errno));
        return;
    }
    /* anprd creates the directory itself (mode 0750), but not its parents. */
    snprintf(parent, sizeof parent, "%s", v->value);
    while ((slash = strrchr(parent, '/')) && slash[1] == '\0' && slash != parent)
        *slash = '\0';
    slash = strrchr(parent, '/');
    if (!slash)
        return;
    if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
        s_err(errs, name, v, "'%s' does not exist, nor does its parent '%s'", v->value, parent);
    else if (access(parent, W_OK | X_OK) != 0)
        s_err(errs, name, v, "'%s' does not exist, and %s cannot create it in '%s'", v->value, who,
              parent);
}

static int s_error_cmp(const void *a, const void *b)
{
    const struct s_error *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

int conffiles_check(const char *path, char **errors)
{
    struct s_values vals = {0};
    struct s_errors errs = {0};
    char who[96];
    size_t total = 1, o = 0;
    int rc = -1;

    *errors = NULL;
    if (s_read(path, &vals) != 0) {
        if (asprintf(errors, "%s: cannot be read again to check the files it names\n", path) < 0)
            *errors = NULL;
        goto out;
    }
    s_who(who, sizeof who);
    for (size_t i = 0; i < S_LEN(s_paths); i++) {
        const struct s_path *p = &s_paths[i];
        const struct s_value *v = s_find(&vals, p->key), *on, *off;

        if (!v || !v->value[0])
            continue;
        on = p->on_key ? s_find(&vals, p->on_key) : NULL;
        if (p->on_key && (!on || !on->value[0]))
            continue;
        off = p->off_key ? s_find(&vals, p->off_key) : NULL;
        if (off && s_true(off->value))
            continue;
        if (p->want == S_READ_FILE)
            s_check_file(&errs, path, v, who);
        else
            s_check_dir(&errs, path, v, who);
    }
    if (errs.oom)
        goto out;
    if (errs.n == 0) {
        rc = 0;
        goto out;
    }
    qsort(errs.e, errs.n, sizeof(*errs.e), s_error_cmp);
    for (size_t i = 0; i < errs.n; i++)
        total += strlen(errs.e[i].text);
    *errors = malloc(total);
    if (!*errors)
        goto out;
    for (size_t i = 0; i < errs.n; i++) {
        size_t n = strlen(errs.e[i].text);

        memcpy(*errors + o, errs.e[i].text, n);
        o += n;
    }
    (*errors)[o] = '\0';
out:
    for (size_t i = 0; i < errs.n; i++)
        free(errs.e[i].text);
    free(errs.e);
    s_values_free(&vals);
    return rc;
}
