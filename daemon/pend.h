/*
 * pend: the reads accepted but not yet committed, as a multiset keyed by (camera, seq, time).
 * Ingest uses it to recognise a resend of a read it still holds (a reader resends after a
 * timeout while the database is slow or away): the resend is acknowledged with the original,
 * but its HITs are not published a second time.
 */
#ifndef ANPR_PEND_H
#define ANPR_PEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct pend pend_t;

/* NULL on out of memory. */
pend_t *pend_new(void);
void pend_destroy(pend_t **self_p);

/* Count one more copy of the read; returns how many were there before (0 = first), or -1 on
 * out of memory (nothing changed). */
int pend_add(pend_t *self, int32_t camera_id, uint64_t seq, int64_t time_us);

/* Count one copy less; the key goes when its count reaches 0. Unknown keys are ignored. */
void pend_remove(pend_t *self, int32_t camera_id, uint64_t seq, int64_t time_us);

/* Distinct reads held. */
size_t pend_count(const pend_t *self);

#endif
