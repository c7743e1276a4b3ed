/*
 * ingest: the daemon's main loop, where the steps of a read are called in order. It owns the
 * reader-facing ROUTER, the dispatch PUB socket and the PAIR to the writer; it decodes and
 * validates each READ, matches it against the watchlist snapshot, adds the read to the current
 * group (with spool.dir, to the write-ahead spool too), commits the group (gcommit.h), then
 * publishes the group's HITs and acknowledges its reads.
 *
 * The jobs it calls on the way have their own modules: reply.h (ACKs and REJECTs to the
 * readers), uplink.h (the national backbone), backlog.h (the spool's reads not yet stored, as
 * counted), supp.h (repeats and sightings), reann.h (urgent HITs announced again), cluster.h (the
 * other instances) and covert.h (the covert feed).
 */
#ifndef ANPR_INGEST_H
#define ANPR_INGEST_H

#include <signal.h>

#include "cam.h"
#include "conf.h"
#include "metrics.h"
#include "rid.h"
#include "stats.h"
#include "wl.h"
#include "zap.h"

typedef struct ingest ingest_t;

/* Who may connect: with CURVE, the key set and anprd's own secret key (Z85); NULL = plain
 * text, anyone who reaches a socket gets in. */
struct ingest_curve {
    zap_t *zap;             /* borrowed; outlives the ingest */
    const char *secret_z85; /* borrowed; only read in ingest_new */
};

/* INGEST_REFUSED: another anprd holds dispatch.instance (found by the sync thread). */
enum ingest_event { INGEST_STOP = 0, INGEST_RELOAD = 1, INGEST_ERROR = -1, INGEST_REFUSED = -2 };

/*
 * Bind the sockets of `conf` and start the writer and the watchlist sync thread. Takes
 * ownership of *cams and *wl (sets the caller's pointers to NULL); `version` is the newest
 * watchlist change *wl includes; HIT ids given from now on are above `last_hit_id` (the highest
 * stored), even if the clock went back since it was given. NULL with a message in err on
 * failure.
 */
ingest_t *ingest_new(void *zmq_ctx, const struct conf *conf, cam_table_t **cams, wl_t **wl,
                     int64_t version, uint64_t last_hit_id, const struct ingest_curve *curve,
                     char *err, size_t errlen);

/*
 * Flush what is pending (waiting up to `drain_ms` for the database), stop the writer and close
 * everything. Reads not committed by then are not acknowledged: their readers resend them.
 */
void ingest_destroy(ingest_t **self_p, int drain_ms);

/* Serve until *stop or *reload becomes non-zero (signal handlers set them); says which. */
enum ingest_event ingest_run(ingest_t *self, volatile sig_atomic_t *stop,
                             volatile sig_atomic_t *reload);

/* Apply a reloaded config (settings that need no new socket); the caller keeps it alive. */
void ingest_set_conf(ingest_t *self, const struct conf *conf);
/* The law's retention of reads in days (anpr.law.retention_days), loaded at start and on
 * reload: reads older than it, or than ingest.max_age_days, whichever is shorter, are refused. */
void ingest_set_retention(ingest_t *self, int days);
/* Swap in new cameras / a new watchlist snapshot (ownership taken, old ones freed). */
void ingest_set_cameras(ingest_t *self, cam_table_t **cams);
void ingest_set_watchlist(ingest_t *self, wl_t **wl, int64_t version);

/* Have the sync thread rebuild the watchlist snapshot now, off this thread, with these OCR
 * classes; it arrives like any update. 0 or -1. */
int ingest_resync(ingest_t *self, const char *ocr_classes);

/* Publish the counters to `metrics` (borrowed: destroyed after ingest) from now on. 0, or -1
 * on out of memory. */
int ingest_set_metrics(ingest_t *self, metrics_t *metrics);

const struct stats *ingest_stats(const ingest_t *self);
/*
 * Remember the identities of reads stored before the start (ids, borrowed), oldest first, so
 * their resends are known as such; the reads still in the spool are remembered already.
 */
#define INGEST_IDS_AT_START (1 << 17)
void ingest_note_identities(ingest_t *self, const struct rid_entry *ids, size_t n);

#endif
