/*
 * pend: the identities (camera, epoch, seq) of the reads ingest has taken and not yet settled:
 * in a batch waiting for the writer or in it (without the spool), or in the group not yet
 * committed to the spool. A resend of one of them takes no second slot of ingest.max_pending:
 * its first copy's acknowledgement answers it. Without this, a camera resending what it has
 * not seen acknowledged filled max_pending with copies of a few reads while the database was
 * slow, and the distinct reads behind them waited.
 *
 * An open-addressing table that grows (doubling) with what is pending; a removal shifts back
 * the entries after it, so lookups never wade through tombstones. Not thread-safe: ingest's.
 * Library module: never logs.
 */
#ifndef ANPR_PEND_H
#define ANPR_PEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pend pend_t;

/* NULL on out of memory. */
pend_t *pend_new(void);
/* Safe on NULL and twice; sets *self_p to NULL. */
void pend_destroy(pend_t **self_p);

/* Add an identity (one already there stays once); 0, or -1 on out of memory (not added). */
int pend_add(pend_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq);
bool pend_has(const pend_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq);
/* Remove it; nothing when it is not there. */
void pend_del(pend_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq);
size_t pend_count(const pend_t *self);

#endif
