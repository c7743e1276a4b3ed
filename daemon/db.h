/*
 * db: what the daemon asks of PostgreSQL: connecting, loading cameras and watchlists, creating
 * plate_read partitions ahead, and committing batches of reads and hits. Every statement is
 * parameterised or a fixed text; no input is ever pasted into SQL.
 */
#ifndef ANPR_DB_H
#define ANPR_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "batch.h"
#include "cam.h"
#include "wl.h"

/* Connect (application_name "anprd", connect timeout 5 s); NULL with the reason in err. */
PGconn *db_connect(const char *conninfo, char *err, size_t errlen);

/* Enabled cameras. 0, or -1 with err. */
int db_load_cameras(PGconn *conn, cam_table_t **out, char *err, size_t errlen);

/*
 * Enabled lists and their entries not yet expired, in a new snapshot. A bad entry is skipped,
 * logged and counted in *skipped; it never stops the rest from loading. 0, or -1 with err.
 */
int db_load_watchlist(PGconn *conn, wl_t **out, size_t *skipped, char *err, size_t errlen);

/* Create the daily plate_read partitions for days [first, last] (days since epoch). */
int db_ensure_partitions(PGconn *conn, int32_t first, int32_t last, char *err, size_t errlen);

/* Per-connection set-up for db_write_batch (temporary staging tables). */
int db_prepare_writer(PGconn *conn, char *err, size_t errlen);

/*
 * Commit a batch: COPY its reads and hits in one transaction. When a row is there already (a
 * resent read), the batch is redone through staging tables with ON CONFLICT DO NOTHING, so a
 * resend is stored once. Sets batch->stored, ->hits_stored and ->slow. 0, or -1 with err
 * (the transaction is rolled back; the caller checks PQstatus to tell a lost connection).
 */
int db_write_batch(PGconn *conn, struct batch *batch, char *err, size_t errlen);

#endif
