#include "retro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

#define RETRO_VARIANTS_MAX 1024 /* plates searched for one entry; beyond, only its own */
/* What one search may take (anpr.retro_search checks the same): more goes in several. */
#define RETRO_PLATES_MAX  4096 /* plates */
#define RETRO_ENTRIES_MAX 4096 /* entries */

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

/* The terms for plate entry e: every plate it can match (wl_entry_variants), or when there are
 * too many, its own plate only. How many terms, into var; -1 when it was narrowed to its own
 * plate. */
static int s_entry_terms(const wl_t *wl, const struct wl_entry *e, char (*var)[PLATE_MAX + 1])
{
    int n = wl_entry_variants(wl, e, var, RETRO_VARIANTS_MAX);
    if (n >= 0)
        return n;
    snprintf(var[0], sizeof var[0], "%s", e->plate);
    return -1;
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
    p->backbone_off = m->entry->list->opts.backbone_off;
    return 0;
}

/*
 * One search, of the entries in `searched` by `terms` over the last window_s seconds, and the
 * matching of what it returns. 0, 1 (out of memory) or -1 with err.
 */
static int s_search(PGconn *conn, const wl_t *wl, const idset_t *searched,
                    const struct s_terms *terms, uint32_t window_s, bool all_entries,
                    int64_t now_us, struct hitid *ids, struct retro_result *out,
                    struct db_error *err)
{
    struct db_retro_read *rows = NULL;
    size_t nrows = 0;
    int rc = 0;

    if (db_retro_reads(conn, searched, (const char *const *)terms->v, terms->entry, terms->n,
                       now_us - (int64_t)window_s * 1000000, RETRO_MAX_ROWS, &rows, &nrows,
                       err) != 0)
        return -1;
    out->reads += nrows;
    out->cut = out->cut || nrows >= RETRO_MAX_ROWS;
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
            uint64_t hit_id = hitid_next(ids, now_us), had_id = 0;
            bool had_post = false;
            int stored =
                db_store_post_match(conn, rr, rd.plate, &hits[k], hit_id, &had_id, &had_post, err);
            if (stored < 0) {
                rc = -1;
                break;
            }
            /*
             * New: a post-match for dispatch and the backbone. Stored before as a post-match:
             * for the backbone again at start only (it may have been lost with a crash before
             * it was sent). A live HIT of that read: nothing, it went out
             * as one.
             */
            out->before += stored == 0;
            bool post = stored == 1 || (all_entries && had_post);
            if (post &&
                s_add_post(out, rr, &hits[k], stored == 1 ? hit_id : had_id, stored == 1) != 0)
                rc = 1;
        }
    }
    free(rows);
    return rc;
}

int retro_run(PGconn *conn, const wl_t *wl, const idset_t *changed, bool all_entries,
              int64_t now_us, struct hitid *ids, struct retro_result *out, struct db_error *err)
{
    struct s_terms terms = {0};
    char(*var)[PLATE_MAX + 1] = malloc(RETRO_VARIANTS_MAX * sizeof *var);
    idset_t *searched = idset_new();
    /* The entries of a patch are its own; a full load's are looked up among all of them. */
    bool whole = all_entries || wl_patch_count(wl) == 0;
    size_t slots = whole ? wl_entry_slots(wl) : wl_patch_count(wl), i = 0;
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (!var || !searched)
        rc = 1;
    /* As many searches as the database's limits per search take (RETRO_*_MAX). */
    while (rc == 0 && i < slots) {
        size_t nentries = 0;
        uint32_t window_s = 0;
        idset_clear(searched);
        s_terms_free(&terms);
        for (; i < slots && rc == 0; i++) {
            const struct wl_entry *e = whole ? wl_entry_slot(wl, i) : wl_patch_entry(wl, i);
            if (!e || !idset_has(changed, e->id) || e->list->opts.retro_s == 0)
                continue;
            if (e->pattern) {
                out->patterns++; /* never retro-matched (retro.h) */
                continue;
            }
            int n = s_entry_terms(wl, e, var);
            size_t nterms = n < 0 ? 1 : (size_t)n;
            if (nentries > 0 &&
                (nentries == RETRO_ENTRIES_MAX || terms.n + nterms > RETRO_PLATES_MAX))
                break; /* this entry starts the next search */
            if (idset_add(searched, e->id) != 0)
                rc = 1;
            for (size_t t = 0; t < nterms && rc == 0; t++)
                if (s_terms_add(&terms, var[t], e->id) != 0)
                    rc = 1;
            if (e->list->opts.retro_s > window_s)
                window_s = e->list->opts.retro_s;
            out->narrowed += n < 0;
            nentries++;
            out->entries++;
        }
        if (rc == 0 && nentries > 0)
            rc = s_search(conn, wl, searched, &terms, window_s, all_entries, now_us, ids, out, err);
    }
    if (rc == 1) {
        snprintf(err->msg, sizeof err->msg, "retro-match: out of memory");
        err->state[0] = '\0';
    }
    free(var);
    idset_destroy(&searched);
    s_terms_free(&terms);
    return rc == 0 ? 0 : -1;
}
