/*
 * idset: a set of 64-bit ids (watchlist entry ids), open addressing. Used for the entries a
 * patched watchlist snapshot hides in its base, and by the sync thread for the entries changed
 * since the last full load. Not thread-safe; a set that is shared is never changed again.
 */
#ifndef ANPR_IDSET_H
#define ANPR_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct idset idset_t;

/* NULL on out of memory. */
idset_t *idset_new(void);
void idset_destroy(idset_t **self_p);

/* Add id (any value); 0, or -1 on out of memory (the set is unchanged). */
int idset_add(idset_t *self, uint64_t id);
bool idset_has(const idset_t *self, uint64_t id);
size_t idset_count(const idset_t *self);
void idset_clear(idset_t *self);

/* A copy, or NULL on out of memory. */
idset_t *idset_dup(const idset_t *self);

/* Every id in no particular order: call with *pos = 0 until it returns false. */
bool idset_next(const idset_t *self, size_t *pos, uint64_t *id);

size_t idset_memory_bytes(const idset_t *self);

#endif
