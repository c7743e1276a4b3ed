/*
 * retro: the retro-match. An entry added to a list with a retro-match window (wl_list_opts.
 * retro_s) is searched for in the reads stored in that window, by the same matching rules as a
 * live read, so a car that passed before it was listed is reported as a post-match HIT.
 *
 * The search goes through the database's own audited functions (anpr.retro_search, then
 * anpr.retro_rows once the search's log row is committed), which check every term: by every
 * plate the entry can match (wl_entry_variants) on the plate index. Pattern entries are never
 * searched: a pattern would search history wholesale (an entry "9*" is every plate starting
 * with 9), which is an investigator's search, with its reason and audit, not an admin's. Each
 * read found is then
 * matched against the current snapshot as a live one would be; a HIT is kept when it is of a
 * new entry, within that entry's window, and not already stored for that read (a live HIT of a
 * read that came in while the entry was being added, or an earlier retro-match of it).
 *
 * Not searched: a past read whose only matching reading was one of its alternative candidates
 * (the search looks at the plate as read); for an entry with more than RETRO_VARIANTS_MAX OCR
 * variants (several substitutions and indel), other plates than its own; a misread with one
 * character more or missing and a substitution; a read that matches only with a euroband code
 * left out of it or of the entry (plate_euroband); pattern entries; reads older than the first
 * period (anpr.law);
 * reads still in the spool, not yet in the database (a backlog during an outage); entries
 * changed beyond the patch limit (a whole list imported) or by a change that names none (a
 * truncate). A full load (a list changed, a periodic one) retro-matches the entries the change
 * log names since the last snapshot, like a patch.
 */
#ifndef ANPR_RETRO_H
#define ANPR_RETRO_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "hitid.h"
#include "idset.h"
#include "proto.h"
#include "wl.h"

#define RETRO_MAX_ROWS 10000 /* reads one retro-match looks at, oldest first */

/* A post-match HIT ready to publish. */
struct retro_post {
    bool fresh; /* stored by this run: published to dispatch; else a post-match stored by an
                   earlier run, sent to the backbone again at start (BACKBONE.md 6.5: the HIT
                   is named by camera, seq and entry, so the backbone may recognise it) */
    struct proto_hit hit;
    char topic[16 + PROTO_CATEGORY_MAX]; /* as match_topic */
    int topic_len;
    bool covert;
    bool backbone_off; /* the list's HITs are not sent to the national backbone */
};

struct retro_result {
    struct retro_post *posts; /* new post-match HITs, stored; the caller frees the array */
    size_t nposts;
    size_t entries;  /* entries searched for */
    size_t reads;    /* reads the search returned */
    size_t before;   /* sightings that had a HIT of their entry stored before */
    bool cut;        /* the search returned RETRO_MAX_ROWS: older sightings may be missing */
    size_t narrowed; /* entries with too many OCR variants: searched by their own plate only */
    size_t patterns; /* pattern entries: never retro-matched */
};

/*
 * Retro-match the entries of wl's patch whose ids are in `changed` (added or changed by the
 * change just applied; when wl is a full load, not a patch, its entries in `changed`), as of
 * now_us (wall clock, µs); each post-match HIT gets an id from ids.
 * With all_entries, every entry of wl is looked at, not only a patch's (at start: the changes
 * of the last hour again, so a post-match stored just before a crash still reaches the
 * backbone). The sightings stored now are in out->posts as fresh; with all_entries also the
 * post-matches an earlier run stored, not fresh. Sightings that already had a live HIT are
 * not there. 0
 * (nothing to do is 0 with no entries), or -1 with err; posts stored before the error are in out
 * all the same.
 */
int retro_run(PGconn *conn, const wl_t *wl, const idset_t *changed, bool all_entries,
              int64_t now_us, struct hitid *ids, struct retro_result *out, struct db_error *err);

#endif
