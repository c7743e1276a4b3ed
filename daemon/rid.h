/*
 * rid: what identifies a read and what its content is, and the identities ingest has seen.
 *
 * A read is identified by (camera, boot epoch, seq) (PROTOCOL.md 8): a version 1 read has epoch
 * 0. Its content is every other field the reader sent; rid_digest() reduces it to 64 bits so a
 * resend (same identity, same content) is told from a conflict (same identity, other content)
 * by comparing two integers, here and in anpr.read_identity. The digest is FNV-1a 64 over the
 * canonical bytes of the content (DESIGN.md "One identity for a read"): it is stored, so it
 * never changes between builds or hosts.
 *
 * rid_t remembers the identities of the reads ingest accepted lately, with their digests, so a
 * resend is neither alerted nor stored again and a conflict is refused at once. It is bounded:
 * two generations of `generation` identities each; when the newer one is full, the older one is
 * dropped. An identity it has forgotten is still judged by the writer against the database.
 * Lookups are one hash probe or a few.
 */
#ifndef ANPR_RID_H
#define ANPR_RID_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* The digest of a read's content: every field but camera, epoch and seq. */
uint64_t rid_digest(const struct proto_read *r);

typedef struct rid rid_t;

/* One remembered identity and its digest (as loaded at start: from the database, the spool). */
struct rid_entry {
    int32_t camera_id;
    uint32_t epoch;
    uint64_t seq;
    uint64_t digest;
};

/* What rid_check found for an identity. */
enum rid_seen {
    RID_NEW = 0,   /* not seen (or forgotten) */
    RID_SAME = 1,  /* seen with this digest: a resend */
    RID_OTHER = 2, /* seen with another digest: a conflict */
};

/* Remember up to 2 x generation identities (at least 1024 a generation); NULL on out of
 * memory. */
rid_t *rid_new(size_t generation);
void rid_destroy(rid_t **self_p);

enum rid_seen rid_check(const rid_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq,
                        uint64_t digest);
/* Remember an identity rid_check called new (its digest replaces any older one); 0, or -1 for
 * seq 0, which no read has. The tables are allocated by rid_new: nothing here can fail for
 * memory. */
int rid_note(rid_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq, uint64_t digest);
/* Identities remembered. */
size_t rid_count(const rid_t *self);

#endif
