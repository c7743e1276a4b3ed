/*
 * match: a stored or incoming read against a watchlist snapshot, and the HIT it makes. Shared
 * by ingest (live reads) and the retro-match (reads stored before an entry was added), so both
 * match the same way and send the same HIT.
 */
#ifndef ANPR_MATCH_H
#define ANPR_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plate.h"
#include "proto.h"
#include "wl.h"

/* The normalised readings of one read: the plate, and its candidates ("" when one does not
 * normalise, so the numbering stays the read's own); and each one's other reading without a
 * euroband code (plate_euroband), where it has one. */
struct match_readings {
    char plate[PLATE_MAX + 1];
    char cand[PROTO_CAND_MAX][PLATE_MAX + 1];
    char alt[WL_READINGS_MAX][PLATE_MAX + 1];
};

/*
 * The query of read r (whose plate normalises to `plate`, by plate_normalise_cc with the
 * read's country) against wl, validity judged at time_us: the candidates are readings 1..
 * when some list takes them; a reading that may carry a euroband code is matched without it
 * too (plate_euroband); the country UK is GB. q points into rd. Every program that matches a
 * read (anprd, the retro-match, anpr-watchlist test) builds its query here.
 */
void match_query(const wl_t *wl, const struct proto_read *r, const char *plate, int64_t time_us,
                 struct match_readings *rd, struct wl_query *q);

/*
 * Match read r (whose plate normalises to `plate`) against wl, validity judged at time_us.
 * The candidates are readings 1.. when some list takes them. Fills hits[0..max) and
 * readings[0..WL_READINGS_MAX) (the query's plates, NULL past the last; they point into rd);
 * returns how many entries hit, which may be more than max.
 */
size_t match_read(const wl_t *wl, const struct proto_read *r, const char *plate, int64_t time_us,
                  struct match_readings *rd, struct wl_match *hits, size_t max,
                  const char **readings);

/* The HIT of match m of read r. */
void match_hit(const struct proto_read *r, const struct wl_match *m, bool post_match,
               struct proto_hit *hit);

/* The topic of a HIT of entry e: "hit/<category>", or "covert/<list id>" for a covert list.
 * Its length, or -1 if it does not fit. */
int match_topic(const struct wl_entry *e, char *topic, size_t cap);

#endif
