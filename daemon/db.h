/*
 * db: what the daemon asks of PostgreSQL: connecting, loading cameras and watchlists, creating
 * plate_read partitions, and committing batches of reads and hits. Every statement is
 * parameterised or a fixed text; no input is ever pasted into SQL.
 */
#ifndef ANPR_DB_H
#define ANPR_DB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "batch.h"
#include "cam.h"
#include "idset.h"
#include "proto.h"
#include "rid.h"
#include "wl.h"

/*
 * A failure: the SQLSTATE ("" when there was no server answer) and a one-line message. The
 * message never holds row data (PostgreSQL's CONTEXT lines quote rows) nor the conninfo.
 */
struct db_error {
    char state[6];
    char msg[400];
};

/*
 * Connect as the daemon does: UTF-8, UTC, application_name `app` (how the session shows in
 * pg_stat_activity), a 5 s connect timeout, TCP
 * keepalives and a user timeout so a dead peer is noticed in seconds (the operator's conninfo
 * may override these). NULL with err filled.
 */
PGconn *db_connect(const char *conninfo, const char *app, struct db_error *err);

/*
 * A statement another thread may cancel (the writer's and the sync thread's, at shutdown): the
 * thread that owns the connection arms it for the connection (and disarms it, with NULL,
 * before closing that); another thread fires it, which cancels whatever runs there now.
 */
struct db_cancel {
    pthread_mutex_t lock;
    PGcancel *cancel;
};
void db_cancel_init(struct db_cancel *self);
void db_cancel_arm(struct db_cancel *self, PGconn *conn);
void db_cancel_fire(struct db_cancel *self);
void db_cancel_destroy(struct db_cancel *self);

/* Whether a failure is worth retrying as it is: the connection, resources, a timeout, a lock,
 * a serialisation conflict. Data errors (classes 22 and 23) are not. */
bool db_error_transient(PGconn *conn, const struct db_error *err);

/*
 * One anprd per dispatch.instance (its number is in every HIT id): a session-level advisory lock
 * on (DB_INSTANCE_LOCK, instance) for this connection's session, which lasts until the session
 * ends (a crashed anprd's goes with its connection). Advisory locks are per database. 0 taken
 * (or held by this session already); 1 another session holds it, and `who` says where that one
 * runs (its address and port, application name and since when, from pg_stat_activity; "an
 * unknown session" when hidden); -1 with err.
 */
#define DB_INSTANCE_LOCK 1095651410 /* 0x414e5052, "ANPR": sets anprd's locks apart */
int db_claim_instance(PGconn *conn, unsigned instance, char *who, size_t wholen,
                      struct db_error *err);
/* Give the lock back before closing a session that took it: a backend ends after its client
 * has gone, and the session anprd opens next (the sync thread's) would find it still held.
 * Best effort: the lock goes with the session anyway. */
void db_release_instance(PGconn *conn, unsigned instance);

/* The highest HIT id stored by anprd instance `instance` (0: none). 0, or -1 with err. */
int db_max_hit_id(PGconn *conn, unsigned instance, uint64_t *out, struct db_error *err);

/*
 * The identities of the newest reads stored (by read time), at most max, oldest first, with
 * their digests (those stored without one are left out): what ingest remembers at start.
 * *out (n of them, the caller frees it). 0, or -1 with err.
 */
int db_load_identities(PGconn *conn, size_t max, struct rid_entry **out, size_t *n,
                       struct db_error *err);
/* The law's retention of reads in days (anpr.law.retention_days, migration 016): a read older
 * is refused like one older than ingest.max_age_days. 0, or -1 with err. */
int db_load_retention(PGconn *conn, int *days, struct db_error *err);
/* Enabled cameras. 0, or -1 with err. */
int db_load_cameras(PGconn *conn, cam_table_t **out, struct db_error *err);

/*
 * Enabled lists and their entries not yet expired, in a new snapshot matching with the given
 * OCR classes (NULL = the default). A bad entry is skipped, logged and counted in *skipped; it
 * never stops the rest from loading. With `version`, also the sequence number of the newest
 * watchlist change the snapshot includes. 0, or -1 with err.
 */
int db_load_watchlist(PGconn *conn, const char *ocr_classes, wl_t **out, size_t *skipped,
                      int64_t *version, struct db_error *err);

/*
 * Patch snapshot prev (made at version `since`) with the watchlist changes committed after it:
 * the entries they name are fetched as they are now, in one database snapshot with the change
 * log, and laid over prev's base (wl_builder_patch). Returns 0 with *out and *version (the
 * newest change applied; `since` when there was none); 1 when only a full load will do: a list
 * changed, a table was truncated, a change names no entries, or the base would have more than
 * max_changed entries patched; -1 with err. `changed` gets the entries the changes named.
 */
/*
 * The entries the watchlist changes after `since` up to `upto` (included) name, into ids (the
 * entries changed beside list changes, for a full load that is to retro-match them). 0; 1 when
 * which entries changed is not known (a truncate, a change that names no entries) or they are
 * more than max_changed (ids empty); -1 with err.
 */
int db_watchlist_changed(PGconn *conn, int64_t since, int64_t upto, size_t max_changed,
                         idset_t *ids, struct db_error *err);

int db_patch_watchlist(PGconn *conn, wl_t *prev, int64_t since, size_t max_changed, wl_t **out,
                       int64_t *version, idset_t *changed, size_t *skipped, struct db_error *err);

/* The ids of set as the text of a bigint[] parameter ("{1,2,3}"); NULL on out of memory. */
char *db_ids_param(const idset_t *set);

/* A stored read, as the retro-match searches them. */
struct db_retro_read {
    struct proto_read read; /* plate as read, candidates, time, camera code... */
    int32_t camera_id;
};

/*
 * The retro-match's search (anpr.retro_search and anpr.retro_rows, migration 016, which check
 * every term and log the search before returning a read): the reads since since_us (the server
 * keeps it within the entries' windows and the first period) whose normalised plate is one of
 * plates (plates[i] a plate entry plate_entries[i] can match), newest first, at most max_rows,
 * for the entries in `entries`. Pattern entries are not searched. *out (n of them, the caller frees
 * it). 0, or -1 with err.
 */
int db_retro_reads(PGconn *conn, const idset_t *entries, const char *const *plates,
                   const uint64_t *plate_entries, size_t nplates, int64_t since_us, int max_rows,
                   struct db_retro_read **out, size_t *n, struct db_error *err);

/*
 * Store the post-match HIT m of read rr (normalised plate `plate`) under hit_id: 1 when stored;
 * 0 when the read already had a HIT of that entry, whose id and kind (an earlier post-match, or
 * a live HIT) are then in *had_id and *had_post; -1 with err.
 */
int db_store_post_match(PGconn *conn, const struct db_retro_read *rr, const char *plate,
                        const struct wl_match *m, uint64_t hit_id, uint64_t *had_id, bool *had_post,
                        struct db_error *err);

/* Create the daily plate_read partitions for days [first, last] (days since epoch). */
int db_ensure_partitions(PGconn *conn, int32_t first, int32_t last, struct db_error *err);

/*
 * Set up a session for db_write_batch: synchronous commit (an ACK must survive a PostgreSQL
 * crash), statement and lock timeouts, and temporary staging tables. Also a privilege check at
 * start: it fails when the role may not create temporary tables.
 */
int db_prepare_writer(PGconn *conn, struct db_error *err);

/*
 * Commit a batch: COPY its reads and hits in one transaction. When a row is there already (a
 * resent read), the batch is redone through staging tables with ON CONFLICT DO NOTHING, so a
 * resend is stored once. Sets batch->stored, ->hits_stored, ->slow and ->committed. 0, or -1
 * with err (the transaction is rolled back).
 */
int db_write_batch(PGconn *conn, struct batch *batch, struct db_error *err);

/* Commit the i-th read of a batch (and its hits) on its own, idempotently. Adds to
 * batch->stored and ->hits_stored. 0, or -1 with err. */
int db_write_one(PGconn *conn, struct batch *batch, size_t i, struct db_error *err);

#endif
