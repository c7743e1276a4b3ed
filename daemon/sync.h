/*
 * sync: keeps the running daemon's watchlist snapshot in step with the database.
 *
 * A thread of its own with its own session LISTENs on channel 'anpr_watchlist' (migration 003
 * notifies it on every change). On a notification, after a reconnect, and every resync period
 * it compares the newest change's sequence number with the version it last delivered, and when
 * newer makes a new snapshot and hands it to the ingest thread, which swaps it in: a lookup
 * never waits for a load. The new snapshot is a patch of the last one (the entries the changes
 * name, fetched as they are now, over a shared base: milliseconds whatever the lists' size) or,
 * when a list changed, a table was truncated, many entries changed, after a reconnect, on
 * SIGHUP, and now and then to fold a patch in, a full load. A lost notification or a dropped
 * connection delays a change until the next look; it never loses it.
 *
 * After a patch that added entries to lists with a retro-match window, the thread searches the
 * stored reads for them (retro.h) and sends the post-match HITs it stored to ingest, after the
 * snapshot, to be published.
 *
 * With a snapshot directory, the snapshot it starts with and each full load are copied there at
 * once, a patch within 10 s, or 20 times as long as a copy takes (a patch a second would
 * otherwise write the whole lists a second), so anprd can start from it while the database is
 * down. A copy that cannot be written is a warning: the
 * daemon serves on, only a start without the database is affected.
 */
#ifndef ANPR_SYNC_H
#define ANPR_SYNC_H

#include <stdint.h>

#include "hitid.h"
#include "wl.h"

typedef struct sync sync_t;

struct retro_post;

/* For ingest, sent as a pointer over the PAIR; the receiver owns it and what it points to. */
struct sync_update {
    wl_t *wl;                 /* a new snapshot, or NULL */
    int64_t version;          /* newest watchlist change it includes */
    struct retro_post *posts; /* post-match HITs (stored already) to publish, or NULL */
    size_t nposts;
    /* The answer to sync_ask_acked: which of the HITs asked about are acknowledged. */
    uint64_t *acked; /* ids (a subset of those asked), or NULL */
    size_t nacked;
    /* Of those asked, the ids neither stored nor an alias of a stored HIT: refused with their
     * read, or (read spool on) not stored yet. NULL when none. */
    uint64_t *missing;
    size_t nmissing;
    uint64_t serial; /* the question's, as asked */
    bool answered;   /* an answer (acked may be empty); false when the database could not say */
    bool is_answer;
};

struct sync_opts {
    const char *conninfo;     /* copied */
    const char *ocr_classes;  /* copied */
    wl_t *wl;                 /* what ingest has now (the thread takes a hold, see wl_ref) */
    struct hitid *hitid;      /* ids for post-match HITs (shared with ingest; thread-safe) */
    int64_t version;          /* its version */
    int resync_s;             /* full look this often even without notifications */
    int reconnect_max_ms;     /* backoff ceiling */
    const char *snapshot_dir; /* copied; each snapshot loaded is copied there (snap.h) for a
                                 start without the database; NULL = none */
    unsigned instance;        /* dispatch.instance: held on the thread's session (db.h,
                                 db_claim_instance) from each connect on; refused, the thread
                                 logs it, stays away from the database and sync_refused says so */
};

/* Start the thread; it connects a PAIR to `endpoint` (bound by the caller). NULL on failure. */
sync_t *sync_new(void *zmq_ctx, const char *endpoint, const struct sync_opts *opts);
/*
 * From the ingest side of the PAIR: rebuild now, whatever the version, with these OCR classes
 * (copied; NULL keeps the current ones). 0, or -1 when it could not be queued.
 */
int sync_request(void *pair, const char *ocr_classes);

/*
 * From the ingest side of the PAIR: which of these n HITs (ids, copied) have been acknowledged
 * by an operator (anpr.hit_ack)? The answer comes back as a sync_update with is_answer set and
 * this serial, answered false when the thread has no database session or the query failed. A
 * question the thread takes after deadline_us (monotonic: the asker stopped waiting) is
 * answered false at once, without a query. 0, or -1 when it could not be queued.
 */
int sync_ask_acked(void *pair, const uint64_t *ids, size_t n, uint64_t serial, int64_t deadline_us);

/* Whether another anprd held dispatch.instance when the thread connected (ingest stops then:
 * started without the database, or after a reconnect, the number is found taken only now). */
bool sync_refused(const sync_t *self);

/* Stop the thread and free; an update not yet taken by ingest is freed by the caller's drain. */
void sync_destroy(sync_t **self_p);

#endif
