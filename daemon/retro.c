#include "retro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

#define RETRO_VARIANTS_MAX 256 /* plates searched for one entry; beyond, its regex */
#define RETRO_REGEX_MAX    512

/* Growable array of search strings (plates or regular expressions). */
struct s_strs {
    char **v;
    size_t n, cap;
};

static int s_strs_add(struct s_strs *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str)))
        return -1;
    s->n++;
    return 0;
}

static void s_strs_free(struct s_strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* What to search for entry e: its plates, or its regular expression. 0 or -1. */
static int s_search_terms(const wl_t *wl, const struct wl_entry *e, char (*var)[PLATE_MAX + 1],
                          struct s_strs *plates, struct s_strs *patterns)
{
    int n = wl_entry_variants(wl, e, var, RETRO_VARIANTS_MAX);

    for (int i = 0; i < n; i++)
        if (s_strs_add(plates, var[i]) != 0)
            return -1;
    if (n >= 0)
        return 0;
    char re[RETRO_REGEX_MAX];
    return wl_entry_regex(wl, e, re, sizeof re) < 0 ? 0 : s_strs_add(patterns, re);
}

static int s_add_post(struct retro_result *out, const struct db_retro_read *rr,
                      const struct wl_match *m)
{
    struct retro_post *p = realloc(out->posts, (out->nposts + 1) * sizeof *p);

    if (!p)
        return -1;
    out->posts = p;
    p = &out->posts[out->nposts++];
    match_hit(&rr->read, m, true, &p->hit);
    p->topic_len = match_topic(m->entry, p->topic, sizeof p->topic);
    p->covert = m->entry->list->opts.covert;
    return 0;
}

int retro_run(PGconn *conn, const wl_t *wl, const idset_t *changed, int64_t now_us,
              struct retro_result *out, struct db_error *err)
{
    struct s_strs plates = {0}, patterns = {0};
    char(*var)[PLATE_MAX + 1] = malloc(RETRO_VARIANTS_MAX * sizeof *var);
    idset_t *searched = idset_new();
    struct db_retro_read *rows = NULL;
    size_t nrows = 0;
    uint32_t window_s = 0;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!var || !searched)
        goto oom;
    for (size_t i = 0; i < wl_patch_count(wl); i++) {
        const struct wl_entry *e = wl_patch_entry(wl, i);
        if (!idset_has(changed, e->id) || e->list->opts.retro_s == 0)
            continue;
        if (idset_add(searched, e->id) != 0 || s_search_terms(wl, e, var, &plates, &patterns) != 0)
            goto oom;
        if (e->list->opts.retro_s > window_s)
            window_s = e->list->opts.retro_s;
        out->entries++;
    }
    if (out->entries == 0) {
        rc = 0;
        goto done;
    }
    if (db_retro_reads(conn, searched, (const char *const *)plates.v, plates.n,
                       (const char *const *)patterns.v, patterns.n,
                       now_us - (int64_t)window_s * 1000000, RETRO_MAX_ROWS, &rows, &nrows,
                       err) != 0)
        goto done;
    out->reads = nrows;
    out->cut = nrows >= RETRO_MAX_ROWS;
    rc = 0;
    for (size_t i = 0; i < nrows && rc == 0; i++) {
        const struct db_retro_read *rr = &rows[i];
        struct match_readings rd;
        struct wl_match hits[16];
        if (plate_normalise_cc(rr->read.plate, rr->read.country, rd.plate) != PLATE_OK)
            continue;
        /* Validity as of now: the entry is listed now, the read is from before. */
        size_t n = match_read(wl, &rr->read, rd.plate, now_us, &rd, hits, 16, NULL);
        for (size_t k = 0; k < n && k < 16 && rc == 0; k++) {
            const struct wl_entry *e = hits[k].entry;
            if (!idset_has(searched, e->id) ||
                rr->read.time_us < now_us - (int64_t)e->list->opts.retro_s * 1000000)
                continue;
            int stored = db_store_post_match(conn, rr, rd.plate, &hits[k], err);
            if (stored < 0)
                rc = -1;
            else if (stored == 1 && s_add_post(out, rr, &hits[k]) != 0)
                goto oom;
        }
    }
    goto done;

oom:
    snprintf(err->msg, sizeof err->msg, "retro-match: out of memory");
    err->state[0] = '\0';
    rc = -1;
done:
    free(rows);
    free(var);
    idset_destroy(&searched);
    s_strs_free(&plates);
    s_strs_free(&patterns);
    return rc;
}
