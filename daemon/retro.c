#include "retro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

#define RETRO_VARIANTS_MAX 1024 /* plates searched for one entry; beyond, only its own */
#define RETRO_PLATES_MAX   4096 /* plates one search takes (the database's limit) */

/* The plates searched for, each with its entry (the database checks that they belong). */
struct s_terms {
    char **v;
    uint64_t *entry;
    size_t n, cap;
};

static int s_terms_add(struct s_terms *t, const char *plate, uint64_t entry)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **v = realloc(t->v, cap * sizeof *v);
        if (v)
            t->v = v;
        uint64_t *e = realloc(t->entry, cap * sizeof *e);
        if (e)
            t->entry = e;
        if (!v || !e)
            return -1;
        t->cap = cap;
    }
    if (!(t->v[t->n] = strdup(plate)))
        return -1;
    t->entry[t->n++] = entry;
    return 0;
}

static void s_terms_free(struct s_terms *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    free(t->entry);
    memset(t, 0, sizeof *t);
}

/*
 * What to search for plate entry e: every plate it can match (wl_entry_variants), or when there
 * are too many, its own plate only (counted in out->narrowed). A pattern entry is searched by
 * the database from the entry itself. 0 or -1 (out of memory).
 */
static int s_search_terms(const wl_t *wl, const struct wl_entry *e, char (*var)[PLATE_MAX + 1],
                          struct s_terms *terms, struct retro_result *out)
{
    if (e->pattern)
        return 0;
    int n = wl_entry_variants(wl, e, var, RETRO_VARIANTS_MAX);
    if (n < 0 || terms->n + (size_t)n > RETRO_PLATES_MAX) {
        out->narrowed++;
        return terms->n < RETRO_PLATES_MAX ? s_terms_add(terms, e->plate, e->id) : 0;
    }
    for (int i = 0; i < n; i++)
        if (s_terms_add(terms, var[i], e->id) != 0)
            return -1;
    return 0;
}

static int s_add_post(struct retro_result *out, const struct db_retro_read *rr,
                      const struct wl_match *m, uint64_t hit_id, bool fresh)
{
    struct retro_post *p = realloc(out->posts, (out->nposts + 1) * sizeof *p);

    if (!p)
        return -1;
    out->posts = p;
    p = &out->posts[out->nposts++];
    match_hit(&rr->read, m, true, &p->hit);
    p->hit.hit_id = hit_id;
    p->fresh = fresh;
    p->topic_len = match_topic(m->entry, p->topic, sizeof p->topic);
    p->covert = m->entry->list->opts.covert;
    return 0;
}

int retro_run(PGconn *conn, const wl_t *wl, const idset_t *changed, bool all_entries,
              int64_t now_us, struct hitid *ids, struct retro_result *out, struct db_error *err)
{
    struct s_terms terms = {0};
    char(*var)[PLATE_MAX + 1] = malloc(RETRO_VARIANTS_MAX * sizeof *var);
    idset_t *searched = idset_new();
    struct db_retro_read *rows = NULL;
    size_t nrows = 0;
    uint32_t window_s = 0;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!var || !searched)
        goto oom;
    size_t slots = all_entries ? wl_entry_slots(wl) : wl_patch_count(wl);
    for (size_t i = 0; i < slots; i++) {
        const struct wl_entry *e = all_entries ? wl_entry_slot(wl, i) : wl_patch_entry(wl, i);
        if (!e || !idset_has(changed, e->id) || e->list->opts.retro_s == 0)
            continue;
        if (idset_add(searched, e->id) != 0 || s_search_terms(wl, e, var, &terms, out) != 0)
            goto oom;
        if (e->list->opts.retro_s > window_s)
            window_s = e->list->opts.retro_s;
        out->entries++;
    }
    if (out->entries == 0) {
        rc = 0;
        goto done;
    }
    if (db_retro_reads(conn, searched, (const char *const *)terms.v, terms.entry, terms.n,
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
            uint64_t hit_id = hitid_next(ids, now_us);
            int stored = db_store_post_match(conn, rr, rd.plate, &hits[k], hit_id, err);
            if (stored < 0)
                rc = -1;
            else if (s_add_post(out, rr, &hits[k], stored == 1 ? hit_id : 0, stored == 1) != 0)
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
    s_terms_free(&terms);
    return rc;
}
