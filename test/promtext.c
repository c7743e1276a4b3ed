#include "promtext.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P_MAX_FAMILIES 256
#define P_MAX_SERIES   4096
#define P_NAME_MAX     200

struct p_family {
    char name[P_NAME_MAX];
    char type[16];
    bool help, typed, sampled, closed;
    /* Histograms: the buckets so far, _sum and _count. */
    double last_le, last_count;
    bool inf, has_sum, has_count;
    double inf_count, count;
};

struct p_state {
    struct p_family fam[P_MAX_FAMILIES];
    size_t nfam;
    struct p_family *cur; /* the family whose samples are being read */
    char *series[P_MAX_SERIES];
    size_t nseries;
    char *err;
    size_t errlen;
    int line;
};

static int s_fail(struct p_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(struct p_state *st, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(st->err, st->errlen, "line %d: ", st->line);

    va_start(ap, fmt);
    if (n > 0 && (size_t)n < st->errlen)
        vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Length of a metric name at p ([a-zA-Z_:][a-zA-Z0-9_:]*), 0 if none. */
static size_t s_name(const char *p, bool label)
{
    size_t n = 0;

    if (!(isalpha((unsigned char)p[0]) || p[0] == '_' || (!label && p[0] == ':')))
        return 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_' || (!label && p[n] == ':'))
        n++;
    return n;
}

static struct p_family *s_family(struct p_state *st, const char *name, size_t len)
{
    for (size_t i = 0; i < st->nfam; i++)
        if (strlen(st->fam[i].name) == len && strncmp(st->fam[i].name, name, len) == 0)
            return &st->fam[i];
    if (st->nfam == P_MAX_FAMILIES || len >= P_NAME_MAX)
        return NULL;
    struct p_family *f = &st->fam[st->nfam++];
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, len);
    f->last_le = -INFINITY;
    return f;
}

static bool s_number(const char *s, double *v)
{
    char *end;

    if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0) {
        *v = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        return true;
    }
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        return true;
    }
    if (!*s || isspace((unsigned char)*s))
        return false;
    *v = strtod(s, &end);
    return *end == '\0';
}

static int s_comment(struct p_state *st, const char *l)
{
    bool help = strncmp(l, "# HELP ", 7) == 0, type = strncmp(l, "# TYPE ", 7) == 0;
    const char *p = l + 7;
    size_t n;

    if (!help && !type)
        return s_fail(st, "a comment that is neither HELP nor TYPE: %s", l);
    if (!(n = s_name(p, false)) || p[n] != ' ')
        return s_fail(st, "bad metric name in %s", l);
    struct p_family *f = s_family(st, p, n);
    if (!f)
        return s_fail(st, "too many families");
    if (f->sampled)
        return s_fail(st, "%s after samples of %s", help ? "HELP" : "TYPE", f->name);
    if (help) {
        if (f->help)
            return s_fail(st, "a second HELP for %s", f->name);
        f->help = true;
        for (const char *h = p + n + 1; *h; h++)
            if (*h == '\\' && h[1] != '\\' && h[1] != 'n')
                return s_fail(st, "HELP text with an escape other than \\\\ and \\n");
            else if (*h == '\\')
                h++;
        return 0;
    }
    if (f->typed)
        return s_fail(st, "a second TYPE for %s", f->name);
    const char *t = p + n + 1;
    if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
        strcmp(t, "summary") && strcmp(t, "untyped"))
        return s_fail(st, "unknown type '%s'", t);
    if (strcmp(t, "counter") == 0 && (n < 6 || strncmp(p + n - 6, "_total", 6) != 0))
        return s_fail(st, "counter %s does not end in _total", f->name);
    snprintf(f->type, sizeof f->type, "%s", t);
    f->typed = true;
    return 0;
}

/* The family a sample name belongs to (a histogram's _bucket, _sum, _count), and which part. */
static struct p_family *s_owner(struct p_state *st, const char *name, size_t n, int *part)
{
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};

    for (int i = 0; i < 3; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && strncmp(name + n - k, sfx[i], k) == 0) {
            for (size_t j = 0; j < st->nfam; j++)
                if (strlen(st->fam[j].name) == n - k &&
                    strncmp(st->fam[j].name, name, n - k) == 0 &&
                    strcmp(st->fam[j].type, "histogram") == 0) {
                    *part = i + 1;
                    return &st->fam[j];
                }
        }
    }
    *part = 0;
    for (size_t j = 0; j < st->nfam; j++)
        if (strlen(st->fam[j].name) == n && strncmp(st->fam[j].name, name, n) == 0)
            return &st->fam[j];
    return NULL;
}

static int s_sample(struct p_state *st, const char *l)
{
    size_t n = s_name(l, false);
    const char *p = l + n;
    char le[64] = "";
    bool has_le = false;
    int part;
    double v;

    if (!n)
        return s_fail(st, "bad metric name: %s", l);
    struct p_family *f = s_owner(st, l, n, &part);
    if (!f || !f->typed || !f->help)
        return s_fail(st, "sample of %.*s without HELP and TYPE before it", (int)n, l);
    if (f->closed || (st->cur && st->cur != f && f->sampled))
        return s_fail(st, "samples of %s are not together", f->name);
    if (strcmp(f->type, "histogram") == 0 && part == 0)
        return s_fail(st, "histogram %s: sample without _bucket, _sum or _count", f->name);
    if (st->cur && st->cur != f)
        st->cur->closed = true;
    st->cur = f;
    f->sampled = true;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            size_t k = s_name(p, true);
            if (!k || p[k] != '=' || p[k + 1] != '"')
                return s_fail(st, "bad label in %s", l);
            bool is_le = k == 2 && strncmp(p, "le", 2) == 0;
            char val[64];
            size_t vl = 0;
            p += k + 2;
            while (*p != '"') {
                if (!*p || *p == '\n')
                    return s_fail(st, "label value not closed in %s", l);
                if (*p == '\\') {
                    if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                        return s_fail(st, "bad escape in a label value in %s", l);
                    p++;
                }
                if (vl + 1 < sizeof val)
                    val[vl++] = *p;
                p++;
            }
            val[vl] = '\0';
            if (is_le) {
                has_le = true;
                snprintf(le, sizeof le, "%s", val);
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return s_fail(st, "labels not separated by ',' in %s", l);
        }
        p++;
    }
    if (*p != ' ')
        return s_fail(st, "no space before the value in %s", l);
    char series[512];
    snprintf(series, sizeof series, "%.*s", (int)(p - l), l);
    for (size_t i = 0; i < st->nseries; i++)
        if (strcmp(st->series[i], series) == 0)
            return s_fail(st, "series %s twice", series);
    if (st->nseries < P_MAX_SERIES)
        st->series[st->nseries++] = strdup(series);
    char num[64];
    const char *sp = strchr(p + 1, ' ');
    snprintf(num, sizeof num, "%.*s", sp ? (int)(sp - p - 1) : (int)strlen(p + 1), p + 1);
    if (!s_number(num, &v))
        return s_fail(st, "value '%s' is not a number", num);
    if (sp) {
        char *end;
        strtoll(sp + 1, &end, 10);
        if (*end || end == sp + 1)
            return s_fail(st, "bad timestamp in %s", l);
    }
    if (strcmp(f->type, "counter") == 0 && !(v >= 0))
        return s_fail(st, "counter %s is negative or NaN", series);
    if (part == 1) {
        double bound;
        if (!has_le || !s_number(le, &bound))
            return s_fail(st, "bucket without a numeric le: %s", l);
        if (f->inf || bound <= f->last_le)
            return s_fail(st, "buckets of %s not in rising le order", f->name);
        if (v < f->last_count)
            return s_fail(st, "buckets of %s not cumulative", f->name);
        f->last_le = bound;
        f->last_count = v;
        if (isinf(bound)) {
            if (strcmp(le, "+Inf") != 0)
                return s_fail(st, "the last bucket's le must be \"+Inf\"");
            f->inf = true;
            f->inf_count = v;
        }
    } else if (part == 2) {
        f->has_sum = true;
    } else if (part == 3) {
        f->has_count = true;
        f->count = v;
    }
    return 0;
}

int promtext_check(const char *text, char *err, size_t errlen)
{
    struct p_state *st = calloc(1, sizeof *st);
    const char *p = text;
    int rc = 0;

    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->err = err;
    st->errlen = errlen;
    if (!*text || text[strlen(text) - 1] != '\n') {
        st->line = 0;
        rc = s_fail(st, "empty, or the last line does not end with a newline");
    }
    while (rc == 0 && *p) {
        const char *nl = strchr(p, '\n');
        char *l = strndup(p, (size_t)(nl - p));
        st->line++;
        if (!l)
            rc = s_fail(st, "out of memory");
        else if (!*l)
            rc = s_fail(st, "empty line");
        else
            rc = l[0] == '#' ? s_comment(st, l) : s_sample(st, l);
        free(l);
        p = nl + 1;
    }
    for (size_t i = 0; rc == 0 && i < st->nfam; i++) {
        struct p_family *f = &st->fam[i];
        if (!f->typed || !f->help)
            rc = s_fail(st, "%s: HELP or TYPE missing", f->name);
        else if (strcmp(f->type, "histogram") == 0 && f->sampled &&
                 (!f->inf || !f->has_sum || !f->has_count || f->inf_count != f->count))
            rc = s_fail(st, "histogram %s: no +Inf bucket, _sum or _count, or +Inf != _count",
                        f->name);
    }
    for (size_t i = 0; i < st->nseries; i++)
        free(st->series[i]);
    free(st);
    return rc;
}

int promtext_value(const char *text, const char *series, double *value)
{
    size_t n = strlen(series);

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            char num[64];
            size_t k = strcspn(p + n + 1, " \n");
            snprintf(num, sizeof num, "%.*s", (int)k, p + n + 1);
            return s_number(num, value) ? 0 : -1;
        }
    }
    return -1;
}
