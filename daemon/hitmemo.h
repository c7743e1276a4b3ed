/*
 * hitmemo: the id each HIT of a recent read was given, so that a read matched again keeps its
 * HITs' ids. A read is matched again when its camera resends it and ingest does not know it as
 * taken: it was refused (the backbone's outbound spool full, the spool full) or forgotten. With
 * the read spool, the record of a read refused for the backbone is kept and stored all the
 * same; every resend used to get new ids, and each new id was stored as an alias of the stored
 * HIT (anpr.hit_alias, migration 012): a resend storm wrote hundreds of thousands of alias rows
 * for ids nobody ever saw. With the same id, a resend stores no alias at all; an alias is left
 * for an id announced after anprd forgot the first (a restart), as migration 012 meant.
 *
 * Keyed by the read's identity and content (camera, epoch, seq, digest) and the entry; direct
 * mapped: a key that collides pushes the older one out (its read, if matched again, gets a new
 * id, as before). Not thread-safe: ingest's. Library module: never logs.
 */
#ifndef ANPR_HITMEMO_H
#define ANPR_HITMEMO_H

#include <stddef.h>
#include <stdint.h>

typedef struct hitmemo hitmemo_t;

/* Room for about `slots` HITs (rounded up to a power of two, at least 1024); NULL when out of
 * memory. */
hitmemo_t *hitmemo_new(size_t slots);
/* Safe on NULL and twice; sets *self_p to NULL. */
void hitmemo_destroy(hitmemo_t **self_p);

/* The id the HIT of this read and entry was given, or 0 when it is not remembered. */
uint64_t hitmemo_get(const hitmemo_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq,
                     uint64_t digest, uint64_t entry_id);
/* Remember it (hit_id != 0). */
void hitmemo_put(hitmemo_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq, uint64_t digest,
                 uint64_t entry_id, uint64_t hit_id);

#endif
