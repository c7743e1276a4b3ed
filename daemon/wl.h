/*
 * wl: an immutable in-memory watchlist snapshot, and the matcher that reads it.
 *
 * A builder collects lists and entries (copying every string), then wl_builder_build() freezes
 * them into a snapshot. A snapshot never changes, so any number of threads may match against it
 * while a new one is being built; the owner replaces it by pointer swap.
 *
 * Matching tolerates OCR errors without scanning the lists: every plate entry is indexed under
 * its OCR-canonical key (each character replaced by the first member of its equivalence class,
 * e.g. O, D and Q by 0), so the exact and the OCR-tolerant candidates of a read are found by one
 * probe and then verified against their list's policy. Lists that allow one character more or
 * less are also indexed under each single-character deletion of the key (symmetric deletion),
 * so that too stays a handful of probes. Patterns with '?' and '*' are indexed by a literal
 * trigram of their canonical form. Per read: the primary reading and every candidate.
 */
#ifndef ANPR_WL_H
#define ANPR_WL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plate.h"

#define WL_UNBOUNDED_FROM  INT64_MIN             /* valid_from_us when the entry has no start */
#define WL_UNBOUNDED_UNTIL INT64_MAX             /* valid_until_us when the entry has no end */
#define WL_MAX_SUBST       4                     /* most characters an OCR policy lets differ */
#define WL_READINGS_MAX    9                     /* primary reading + 8 candidates */
#define WL_FORMS_MAX       (2 * WL_READINGS_MAX) /* each reading, and without a euroband code */

/* The default OCR-equivalence classes: characters a camera confuses. */
#define WL_DEFAULT_CLASSES "0ODQ,1IL,2Z,5S,6G,8B"

enum wl_policy {
    WL_POLICY_EXACT = 0, /* the normalised plate as listed */
    WL_POLICY_OCR = 1,   /* up to max_subst characters may differ within their class */
};

/* How a list matches, as stored with it. */
struct wl_list_opts {
    uint8_t policy;          /* enum wl_policy */
    uint8_t max_subst;       /* OCR: 0..WL_MAX_SUBST characters may differ (within a class) */
    bool indel;              /* OCR: one character more or missing also matches */
    uint16_t min_confidence; /* per mille: readings below it do not hit this list */
    bool candidates;         /* the reader's alternative readings are matched too */
    /* Not used by the matcher; carried for the daemon's repeat-hit suppression. */
    uint32_t suppress_s; /* a repeat hit of one plate on one entry within this is not
                            re-alerted (0 = every hit alerts) */
    bool realert_camera; /* a repeat at another camera alerts again */
    bool covert;         /* HITs go to the covert feed only, never the general one */
    uint32_t retro_s;    /* a new entry is searched for in the reads of this long before it
                            was added (0: not at all) */
    bool backbone_off;   /* HITs are not sent to the national backbone (anpr.watchlist.backbone;
                            off by default for a covert list); zero: sent, as before the column */
};

struct wl_list {
    uint32_t id;
    uint8_t priority;     /* 1 (most urgent) .. 9 */
    const char *name;     /* owned by the snapshot */
    const char *category; /* owned by the snapshot */
    struct wl_list_opts opts;
};

struct wl_entry {
    uint64_t id;
    const struct wl_list *list;
    char plate[PLATE_MAX + 1]; /* normalised plate, or pattern ('?' one char, '*' any run) */
    char country[3];           /* ISO alpha-2 ("UK" stored as "GB"), or "" = any country */
    bool pattern;              /* plate holds '?' or '*' */
    bool twin;                 /* internal: the other reading of entry `primary`, its plate
                                  without a euroband code (plate_euroband); never listed */
    uint32_t next;             /* next entry under the same key, or UINT32_MAX (internal) */
    uint32_t primary;          /* internal, twins only: index of the entry it reads */
    int64_t valid_from_us;     /* UTC µs, inclusive */
    int64_t valid_until_us;    /* UTC µs, exclusive */
    const char *instruction;   /* to the operator; owned by the snapshot, never NULL */
    const char *external_ref;  /* owned by the snapshot, never NULL */
};

/* What a caller hands in; strings are copied. */
struct wl_entry_in {
    uint64_t id;
    uint32_t list_id;         /* must have been added with wl_builder_add_list() */
    const char *plate;        /* as stored by admins; normalised here ('?' and '*' kept),
                                 with plate_normalise_cc and the entry's country */
    const char *country;      /* NULL or "" = any; "UK" is taken as "GB" */
    int64_t valid_from_us;    /* WL_UNBOUNDED_FROM for none */
    int64_t valid_until_us;   /* WL_UNBOUNDED_UNTIL for none */
    const char *instruction;  /* NULL = "" */
    const char *external_ref; /* NULL = "" */
};

/*
 * What wl_prefetch works out for wl_match, so that it is done once per read: the canonical
 * keys of the readings' forms (form r < WL_READINGS_MAX is reading r, form WL_READINGS_MAX + r
 * its alt), the forms grouped by key, and each group's hash. Private to wl.c; all zero (as a
 * query is initialised) means not worked out.
 */
struct wl_prep {
    uint64_t canon_id; /* the OCR classes of the snapshot it was worked out for; 0 = none */
    bool candidates;   /* whether that snapshot took candidate readings */
    uint8_t ngroups;
    uint8_t lead[WL_FORMS_MAX];   /* a group's first form, whose key it probes */
    uint8_t ngroup[WL_FORMS_MAX]; /* forms in the group */
    uint8_t group[WL_FORMS_MAX][WL_FORMS_MAX];
    uint8_t klen[WL_FORMS_MAX];  /* key length of each form, 0 = never matches */
    uint64_t hash[WL_FORMS_MAX]; /* of each group's key */
    char keys[WL_FORMS_MAX][PLATE_MAX + 1];
};

/*
 * A read to match: its normalised readings, best first (the primary reading is [0]). Initialise
 * it whole (e.g. `(struct wl_query){...}`), or at least prep.canon_id to 0; whoever changes the
 * readings of a query after wl_prefetch sets prep.canon_id to 0 again.
 */
struct wl_query {
    const char *country;                  /* "" = unknown; "UK" is taken as "GB" */
    int64_t time_us;                      /* validity windows are checked at this time */
    size_t nreadings;                     /* 1 + candidates, at most WL_READINGS_MAX */
    const char *plate[WL_READINGS_MAX];   /* normalised */
    const char *alt[WL_READINGS_MAX];     /* plate[r] without a euroband code where it may carry
                                             one (plate_euroband), else NULL: matched as the
                                             same reading */
    uint16_t confidence[WL_READINGS_MAX]; /* per mille */
    struct wl_prep prep;                  /* filled by wl_prefetch, used by wl_match */
};

/* One entry a read hits, and how: the best way it matched if there were several. */
struct wl_match {
    const struct wl_entry *entry;
    uint8_t kind;        /* enum proto_match: EXACT, OCR, CANDIDATE or PATTERN */
    uint8_t reading;     /* which reading matched: 0 = primary, 1.. = candidate rank */
    uint16_t confidence; /* of that reading, per mille */
    uint8_t nsubst;      /* characters that differ within their class (OCR) */
    bool indel;          /* one character more or missing (OCR) */
    bool euroband;       /* matched with a euroband code left out (of the reading or the entry) */
    char detail[64];     /* for the operator, e.g. "O read as 0 at 3", "candidate 2 (640)" */
};

typedef struct wl_builder wl_builder_t;
typedef struct wl wl_t;

/* NULL on out of memory. The OCR classes are WL_DEFAULT_CLASSES until set. */
wl_builder_t *wl_builder_new(void);
void wl_builder_destroy(wl_builder_t **self_p);

/*
 * Set the OCR-equivalence classes: comma-separated groups of letters and digits, e.g.
 * "0ODQ,1IL,8B"; a character in at most one group, each group at least two. 0, or -1 with a
 * message naming the problem.
 */
int wl_builder_set_classes(wl_builder_t *self, const char *classes, char *err, size_t errlen);

/* 0 or -1 with a message in err (duplicate id, bad priority or options, out of memory). */
int wl_builder_add_list(wl_builder_t *self, uint32_t id, const char *name, const char *category,
                        uint8_t priority, const struct wl_list_opts *opts, char *err,
                        size_t errlen);
/* 0 or -1 with a message in err (unknown list, plate or pattern that does not normalise, bad
 * country, empty validity window). */
int wl_builder_add(wl_builder_t *self, const struct wl_entry_in *in, char *err, size_t errlen);

/* Freeze into a snapshot; consumes the builder (*self_p set to NULL). NULL on out of memory. */
wl_t *wl_builder_build(wl_builder_t **self_p);

/*
 * A builder for a patch of snapshot prev (a full snapshot, or a patch of one): the result is
 * matched as prev's base with every entry whose id is in `changed` (or was hidden by prev)
 * hidden, plus its own entries: prev's own entries that are not in `changed`, and what the
 * caller adds (the changed entries as they are now; an entry not added again is removed).
 * Classes and lists are the base's (a list changed or added needs a full build). Takes a
 * reference to the base, so prev may be destroyed meanwhile. NULL with a message on error.
 */
typedef struct idset idset_t;
wl_builder_t *wl_builder_patch(wl_t *prev, const idset_t *changed, char *err, size_t errlen);

/* Snapshots are reference-counted (atomically: holders may be on different threads).
 * wl_ref adds a holder and returns self; wl_destroy drops the caller's hold and frees the
 * snapshot with the last one. */
wl_t *wl_ref(wl_t *self);
void wl_destroy(wl_t **self_p);

/* Entries matched (patterns included). For a patch: the base's less its hidden ids (which may
 * count ids the base never had, so it can be a little low) plus the patch's own. */
size_t wl_entry_count(const wl_t *self);
size_t wl_patch_count(const wl_t *self);  /* a patch's own entry slots; 0 for a full snapshot */
size_t wl_hidden_count(const wl_t *self); /* ids a patch hides in its base */
size_t wl_pattern_count(const wl_t *self);

/* Entry i of a patch's own entries (i < wl_patch_count), or NULL (also for a twin). */
const struct wl_entry *wl_patch_entry(const wl_t *self, size_t i);

/* Every entry the snapshot matches, by slot: i < wl_entry_slots(); NULL for a slot of the
 * base that a patch hides, and for a twin (the entry it reads is listed in its own slot). */
size_t wl_entry_slots(const wl_t *self);
const struct wl_entry *wl_entry_slot(const wl_t *self, size_t i);

/*
 * For searching stored reads (the retro-match): every normalised plate that plate entry e
 * would match as the plate read, by its list's policy (the plate itself; with OCR, every
 * variant with up to max_subst characters swapped within their class; with indel, also one
 * character missing or one more), into out[0..max). How many, or -1 for a pattern or when
 * there are more than max.
 */
int wl_entry_variants(const wl_t *self, const struct wl_entry *e, char (*out)[PLATE_MAX + 1],
                      size_t max);

size_t wl_list_count(const wl_t *self);
size_t wl_memory_bytes(const wl_t *self); /* heap held by the snapshot */
/* Whether any list matches candidate readings (else a caller need not prepare them). */
bool wl_takes_candidates(const wl_t *self);

/*
 * Every entry the read hits: valid at q->time_us, country compatible (entry "" matches all; an
 * entry's country matches the same country or an unknown one; UK is GB), a reading (or its alt,
 * or an entry's reading without a euroband code: see plate_euroband) at or above the list's
 * min_confidence, and matching by the list's policy (candidates only where the list allows).
 * One wl_match per entry, the best way it matched (primary before candidate, exact before OCR).
 * Stores up to `max` in out, most urgent list first, and returns how many entries matched in
 * all (which may exceed max).
 */
size_t wl_match(const wl_t *self, const struct wl_query *q, struct wl_match *out, size_t max);

/*
 * Start loading what wl_match(self, q) will look at first (the table slots of its readings'
 * keys), without waiting: a caller with several reads at hand prefetches the next while it
 * matches the current, so their cache misses overlap instead of queueing. Keeps the keys it
 * works out in q->prep, for wl_match of this snapshot or of any with the same OCR classes.
 */
void wl_prefetch(const wl_t *self, struct wl_query *q);

/* Exact lookup of one normalised plate (no OCR, no patterns, no candidates): the baseline the
 * benchmark compares wl_match with, and what tests of the index use. Same filters. */
size_t wl_lookup(const wl_t *self, const char *plate, const char *country, int64_t time_us,
                 const struct wl_entry **out, size_t max);

#endif
