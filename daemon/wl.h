/*
 * wl: an immutable in-memory watchlist snapshot, indexed by normalised plate.
 *
 * A builder collects lists and entries (copying every string), then wl_builder_build() freezes
 * them into a snapshot: an open-addressing hash table of plate -> first entry, entries with the
 * same plate chained. A snapshot never changes, so any number of threads may look up in it
 * while a new one is being built; the owner replaces it by pointer swap.
 */
#ifndef ANPR_WL_H
#define ANPR_WL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plate.h"

#define WL_UNBOUNDED_FROM  INT64_MIN /* valid_from_us when the entry has no start */
#define WL_UNBOUNDED_UNTIL INT64_MAX /* valid_until_us when the entry has no end */

struct wl_list {
    uint32_t id;
    uint8_t priority;     /* 1 (most urgent) .. 9 */
    const char *name;     /* owned by the snapshot */
    const char *category; /* owned by the snapshot */
};

struct wl_entry {
    uint64_t id;
    const struct wl_list *list;
    char plate[PLATE_MAX + 1]; /* normalised */
    char country[3];           /* ISO alpha-2, or "" = any country */
    uint32_t next;             /* index of the next entry with the same plate, or UINT32_MAX */
    int64_t valid_from_us;     /* UTC µs, inclusive */
    int64_t valid_until_us;    /* UTC µs, exclusive */
    const char *instruction;   /* to the operator; owned by the snapshot, never NULL */
    const char *external_ref;  /* owned by the snapshot, never NULL */
};

/* What a caller hands in; strings are copied. */
struct wl_entry_in {
    uint64_t id;
    uint32_t list_id;         /* must have been added with wl_builder_add_list() */
    const char *plate;        /* as stored by admins; normalised here */
    const char *country;      /* NULL or "" = any */
    int64_t valid_from_us;    /* WL_UNBOUNDED_FROM for none */
    int64_t valid_until_us;   /* WL_UNBOUNDED_UNTIL for none */
    const char *instruction;  /* NULL = "" */
    const char *external_ref; /* NULL = "" */
};

typedef struct wl_builder wl_builder_t;
typedef struct wl wl_t;

/* NULL on out of memory. */
wl_builder_t *wl_builder_new(void);
void wl_builder_destroy(wl_builder_t **self_p);

/* 0 or -1 with a message in err (duplicate id, bad priority, out of memory). */
int wl_builder_add_list(wl_builder_t *self, uint32_t id, const char *name, const char *category,
                        uint8_t priority, char *err, size_t errlen);
/* 0 or -1 with a message in err (unknown list, plate that does not normalise, bad country). */
int wl_builder_add(wl_builder_t *self, const struct wl_entry_in *in, char *err, size_t errlen);

/* Freeze into a snapshot; consumes the builder (*self_p set to NULL). NULL on out of memory. */
wl_t *wl_builder_build(wl_builder_t **self_p);
void wl_destroy(wl_t **self_p);

size_t wl_entry_count(const wl_t *self);
size_t wl_list_count(const wl_t *self);
size_t wl_memory_bytes(const wl_t *self); /* heap held by the snapshot */

/*
 * Entries that a read of normalised `plate` in `country` ("" = unknown) at `time_us` hits: same
 * plate, valid at that time, and the entry's country empty, equal, or the read's unknown.
 * Stores up to `max` pointers in out (valid while the snapshot lives) and returns how many
 * matched in all (which may exceed max).
 */
size_t wl_lookup(const wl_t *self, const char *plate, const char *country, int64_t time_us,
                 const struct wl_entry **out, size_t max);

#endif
