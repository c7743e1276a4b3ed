/*
 * spool: a durable first-in first-out queue of opaque records on disk (a write-ahead spool).
 *
 * Ingest appends each accepted read and acknowledges it once spool_commit() says it is durable;
 * the PostgreSQL writer (or the backbone forwarder) reads the records in order with a cursor
 * and checkpoints what it has stored, which lets fully consumed segment files go. The on-disk
 * format and the recovery rules are in docs/SPOOL.md.
 *
 * Positions: every record has a position, the 64-bit logical byte offset just after its end in
 * the spool's byte stream (segment files are named after the offset of their first byte). They
 * only grow, also across restarts, and are never reused (a damaged tail is not overwritten: the
 * next run starts a new segment after it). "Durable up to P" means every record whose position
 * is <= P is on disk; "checkpointed at P" means every record whose position is <= P is consumed.
 *
 * Threads: at most one producer thread (spool_append, spool_commit) and one consumer thread
 * (cursors, spool_checkpoint) at the same time; spool_wait, spool_durable and spool_stats may be
 * called from any thread. spool_open and spool_destroy are not concurrent with anything.
 *
 * Errors: functions that can fail for a reason worth telling fill `err` (naming the file and
 * offset where there is one) and never log; spool_append sets errno instead, its failures being
 * the caller's (record too big, read-only spool) or out of memory.
 */
#ifndef ANPR_SPOOL_H
#define ANPR_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_SEGMENT_DEFAULT (64u << 20) /* largest segment size chosen when none is given */
#define SPOOL_SEGMENT_AUTO_MIN                                                                     \
    (128u << 10)                       /* smallest one chosen (a read's record is < 64 KiB)        \
                                        */
#define SPOOL_SEGMENT_MIN 4096u        /* smallest segment size accepted */
#define SPOOL_MAX_DEFAULT (1ull << 30) /* opts.max_bytes when 0: 1 GiB unconsumed */
#define SPOOL_DAMAGE_MAX  16           /* damage entries kept in a report (all are counted) */

typedef struct spool spool_t;
typedef struct spool_cursor spool_cursor_t;

/* Results of spool_append (and of spool_checkpoint, spool_commit: SPOOL_OK or SPOOL_ERR). */
enum spool_rc {
    SPOOL_OK = 0,
    SPOOL_FULL = 1, /* max_bytes of unconsumed data reached: record not taken, do not ACK */
    SPOOL_ERR = -1,
};

struct spool_opts {
    uint64_t segment_bytes; /* segment file size limit; 0 = an eighth of max_bytes (or of what
                               the filesystem holds, when less), within
                               [SPOOL_SEGMENT_AUTO_MIN, SPOOL_SEGMENT_DEFAULT] */
    uint64_t max_bytes;     /* bytes of segment files on disk, plus those buffered, before
                               SPOOL_FULL; 0 = default, UINT64_MAX = no limit */
    bool read_only;         /* inspect only: no creation, no truncation, no producer (tools) */
    bool unsafe_no_sync;    /* skip fdatasync/fsync: benchmarks' baseline only, never in anprd */
};

/* One stretch of a file that recovery could not use. */
struct spool_damage {
    char file[256];       /* path of the damaged file */
    uint64_t offset;      /* byte offset in that file where the damage starts */
    uint64_t bytes;       /* bytes set aside from there (0: records cut off at a boundary) */
    char reason[160];     /* e.g. "checksum mismatch", "truncated record" */
    bool counted;         /* the sequence numbers around it tell how many records were lost */
    uint64_t records;     /* records lost there (when counted; 0: none durable, e.g. torn write) */
    uint64_t first_seq;   /* sequence numbers of the lost records, when records > 0 */
    uint64_t last_seq;    /*   (first_seq..last_seq) */
    char quarantine[128]; /* file in the spool directory now holding the bytes ("" none) */
};

/* What spool_open found, for the caller to log. */
struct spool_report {
    size_t ndamage;                               /* damaged stretches found (all counted) */
    struct spool_damage damage[SPOOL_DAMAGE_MAX]; /* the first SPOOL_DAMAGE_MAX of them */
    uint64_t dropped_bytes;                       /* sum of damage[].bytes over all of them */
    uint64_t segments;                            /* segment files kept */
    uint64_t records;                             /* valid records in them (consumed or not) */
    uint64_t deleted_segments;                    /* consumed segments removed at open */
    bool repaired;                                /* damage was set aside (false when read-only) */
    uint64_t damaged_records; /* records lost to the damage found now (sum of damage[].records) */
    uint64_t uncounted;       /* damaged stretches whose lost records cannot be counted */
    uint64_t seq_gaps;        /* gaps in sequence numbers left by an earlier repair (reported then:
                                 a filler record marks each) */
    uint64_t lost_records;    /* records missing in those gaps */
};

/* Counters and gauges, a consistent snapshot. */
struct spool_stats {
    uint64_t depth_records;  /* durable records not yet checkpointed */
    uint64_t depth_bytes;    /* unconsumed bytes on disk (record and segment headers included) */
    uint64_t buffered;       /* records appended but not yet committed */
    uint64_t durable_pos;    /* highest durable position */
    uint64_t checkpoint_pos; /* everything <= this is consumed; the oldest unconsumed record is
                                the first one after it */
    uint64_t checkpoint_seq; /* sequence number of the last consumed record (0: none) */
    uint64_t next_seq;       /* sequence number the next appended record gets */
    uint64_t segments;       /* segment files */
    uint64_t appended;       /* records taken by spool_append since open */
    uint64_t commits;        /* successful group commits that wrote something */
    uint64_t fsyncs;         /* fdatasync/fsync calls made */
    uint64_t errors;         /* failed commits and checkpoints */
    uint64_t full;           /* appends refused with SPOOL_FULL */
    uint64_t live_damage;    /* damaged stretches a cursor met since open (set aside, skipped) */
    uint64_t live_lost;      /* records lost in them, as their sequence numbers tell */
    uint64_t disk_bytes;     /* bytes of the segment files (consumed records not yet freed too) */
    uint64_t rolls;          /* segments freed while the producer was writing them (see commit) */
};

/* Room, for the start-up report: what the spool may still take. */
struct spool_space {
    uint64_t max_bytes;     /* the limit (UINT64_MAX: none) */
    uint64_t used_bytes;    /* segment files on disk now */
    uint64_t fs_avail;      /* free on the filesystem now (UINT64_MAX: unknown) */
    uint64_t segment_bytes; /* this run's segment size */
    uint64_t room;          /* what more it can take: the lesser of max_bytes - used_bytes and
                               fs_avail */
};

/*
 * Open (rw: create if missing) the spool in `dir`, lock it (a second opener, in this process or
 * another, fails with an error naming the directory), read the checkpoint and verify every
 * segment from it on. Damage is set aside record by record (copied to a quarantine file, then
 * covered by a filler record or cut off; every valid record after it kept, see docs/SPOOL.md)
 * and described in *report (may be NULL), with the records lost. A read-only open reports the
 * same and changes nothing. With opts NULL or zeroed, defaults apply. NULL on failure (also
 * when damaged bytes cannot be copied aside), with err filled.
 */
spool_t *spool_open(const char *dir, const struct spool_opts *opts, struct spool_report *report,
                    char *err, size_t errlen);
/* Close it. Records appended but not committed are dropped (they were never durable). */
void spool_destroy(spool_t **self_p);

/*
 * Producer: buffer one record (len bytes, may be 0) in memory; no system call. *pos gets its
 * position: the record is durable once a commit returns durable >= it. (A commit may move the
 * whole buffered group to a new segment, see spool_commit: it then ends at a later position,
 * never an earlier one.) SPOOL_FULL when taking it would pass max_bytes on disk (nothing
 * taken: stop acknowledging until the consumer checkpoints). SPOOL_ERR with errno: EMSGSIZE
 * (larger than a segment holds), EROFS, ENOMEM.
 */
int spool_append(spool_t *self, const void *data, size_t len, uint64_t *pos);

/*
 * Producer: write every buffered record and make it durable (one fdatasync per segment file
 * touched, one fsync of the directory when a segment was created): group commit. *durable gets
 * the highest durable position (unchanged when nothing was buffered).
 *
 * Space: when every record of the segment being written is consumed and that segment is a
 * quarter full (or space is short: the last append met the limit, or the last commit failed),
 * the group goes to a new segment and the old file is removed first. So the newest segment is
 * freed too, and a full disk frees itself once the consumer has caught up.
 *
 * On failure (ENOSPC, EIO, EFBIG...) SPOOL_ERR, err names the file, offset and errno text, and
 * nothing of the group is durable: what was written of it is cut back (ftruncate, a created
 * segment is removed), so the files hold only whole records, and *durable is the previous
 * value. The records STAY BUFFERED with the positions already given: a later spool_commit
 * writes them again (all of them, since after a failed fsync the kernel may have dropped the
 * dirty pages). Meanwhile appends go on buffering, bounded by max_bytes.
 */
int spool_commit(spool_t *self, uint64_t *durable, char *err, size_t errlen);
/*
 * The same, but the waiters (spool_wait) are woken and the durable mark written only at the
 * next spool_notify(): the producer first publishes what the commit made durable (a HIT waits
 * for it), then lets the consumer thread compete for the CPU. Call spool_notify before telling
 * anyone outside (an ACK) that the records are durable: the mark must name them by then.
 */
int spool_commit_quiet(spool_t *self, uint64_t *durable, char *err, size_t errlen);
void spool_notify(spool_t *self);

/* Highest durable position (any thread). */
uint64_t spool_durable(spool_t *self);

/*
 * Wait until the durable position passes after_pos, at most timeout_ms (any thread; <= 0 does
 * not wait). Returns the durable position: > after_pos when records arrived. spool_wake() makes
 * a waiter return early (at shutdown).
 */
uint64_t spool_wait(spool_t *self, uint64_t after_pos, int timeout_ms);
void spool_wake(spool_t *self);

/*
 * Consumer: a cursor reading records in order, starting after position from_pos (give
 * spool_checkpointed() to resume; 0 = the oldest record kept). NULL on failure with err.
 */
spool_cursor_t *spool_cursor_new(spool_t *sp, uint64_t from_pos, char *err, size_t errlen);
void spool_cursor_destroy(spool_cursor_t **self_p);

/*
 * Consumer: the next durable record. 1: *data and *len point at its payload (valid until the next
 * call on this cursor or its destruction), *pos its position, *seq (may be NULL) its sequence
 * number; 0: no durable record after the cursor yet (spool_wait for one); -1: error in err
 * (an I/O error, or damage that runs to the durable end of the newest segment). A record
 * damaged since the open is copied to a quarantine file (read-write spools) and skipped to
 * the next valid record, once for all cursors: counted in live_damage and live_lost.
 */
int spool_read(spool_cursor_t *self, const void **data, size_t *len, uint64_t *pos, uint64_t *seq,
               char *err, size_t errlen);

/*
 * Consumer: everything up to position pos (a record's position, at most spool_durable()) is
 * consumed. Writes the checkpoint file atomically (temporary file, fsync, rename, fsync of the
 * directory), then removes segment files holding only consumed records, which frees space and
 * clears SPOOL_FULL. A pos at or below the current checkpoint does nothing.
 */
int spool_checkpoint(spool_t *self, uint64_t pos, char *err, size_t errlen);
/* Position of the last checkpoint (0: none). */
uint64_t spool_checkpointed(spool_t *self);

void spool_stats(spool_t *self, struct spool_stats *out);
/* The limit, what is used and what the filesystem has free (one fstatvfs). */
void spool_space(spool_t *self, struct spool_space *out);

/*
 * The records in a quarantine file (damaged bytes spool_open set aside, struct spool_damage),
 * walked by their length fields: fn gets each payload with the sequence number its header
 * gives. Their checksums failed, so any field may be wrong: what fn reads from them is
 * unverified. When the lengths do not tile the file (one of them is damaged), the file from
 * its first record is one payload. How many payloads fn got, or -1 with err.
 */
int spool_quarantine_walk(const char *path,
                          void (*fn)(void *arg, uint64_t seq, const void *payload, size_t len),
                          void *arg, char *err, size_t errlen);

/* The spool's directory, as given to spool_open. */
const char *spool_dir(const spool_t *self);

#endif
