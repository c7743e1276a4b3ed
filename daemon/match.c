#include "match.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void match_query(const wl_t *wl, const struct proto_read *r, const char *plate, int64_t time_us,
                 struct match_readings *rd, struct wl_query *q)
{
    /* Field by field rather than a whole new struct: prep, the bulk of it, only needs to be
     * marked as not worked out, and this runs for every read. */
    q->country = plate_country(r->country);
    q->time_us = time_us;
    q->nreadings = 1;
    q->prep.canon_id = 0;
    q->plate[0] = plate;
    q->alt[0] = plate_euroband(r->country, plate, rd->alt[0]) ? rd->alt[0] : NULL;
    q->confidence[0] = r->confidence;
    if (!wl_takes_candidates(wl))
        return;
    for (unsigned i = 0; i < r->ncand && i + 1 < WL_READINGS_MAX; i++) {
        bool ok = plate_normalise_cc(r->cand[i].plate, r->country, rd->cand[i]) == PLATE_OK;
        q->plate[i + 1] = ok ? rd->cand[i] : NULL;
        q->alt[i + 1] =
            ok && plate_euroband(r->country, rd->cand[i], rd->alt[i + 1]) ? rd->alt[i + 1] : NULL;
        q->confidence[i + 1] = r->cand[i].confidence;
        q->nreadings = i + 2;
    }
}

size_t match_read(const wl_t *wl, const struct proto_read *r, const char *plate, int64_t time_us,
                  struct match_readings *rd, struct wl_match *hits, size_t max,
                  const char **readings)
{
    struct wl_query q;

    match_query(wl, r, plate, time_us, rd, &q);
    size_t n = wl_match(wl, &q, hits, max);
    for (size_t i = 0; readings && i < WL_READINGS_MAX; i++)
        readings[i] = i < q.nreadings ? q.plate[i] : NULL;
    return n;
}

void match_hit(const struct proto_read *r, const struct wl_match *m, bool post_match,
               struct proto_hit *hit)
{
    const struct wl_entry *e = m->entry;

    memset(hit, 0, sizeof *hit);
    hit->entry_id = e->id;
    hit->list_id = e->list->id;
    hit->priority = e->list->priority;
    hit->match = m->kind;
    hit->reading = m->reading;
    hit->nsubst = m->nsubst;
    hit->post_match = post_match;
    snprintf(hit->list, sizeof hit->list, "%s", e->list->name);
    snprintf(hit->category, sizeof hit->category, "%s", e->list->category);
    snprintf(hit->entry_plate, sizeof hit->entry_plate, "%s", e->plate);
    snprintf(hit->entry_country, sizeof hit->entry_country, "%s", e->country);
    snprintf(hit->instruction, sizeof hit->instruction, "%s", e->instruction);
    snprintf(hit->external_ref, sizeof hit->external_ref, "%s", e->external_ref);
    snprintf(hit->detail, sizeof hit->detail, "%s", m->detail);
    hit->read = *r;
}

int match_topic(const struct wl_entry *e, char *topic, size_t cap)
{
    int n = e->list->opts.covert ? snprintf(topic, cap, "covert/%" PRIu32 "/", e->list->id)
                                 : snprintf(topic, cap, "hit/%s", e->list->category);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
