/*
 * uplink: ingest's side of the national backbone (backbone.*, proto/BACKBONE.md). It owns the
 * forwarder (fwd.h) and decides what goes to it: a read's HITs, except those of lists kept in
 * the zone (anpr.watchlist.backbone), covert ones flagged so; every read too with
 * backbone.forward_reads; and the post-match HITs the sync thread stored (retro.h).
 *
 * A read's copies are durable (uplink_commit) before the read is acknowledged. When the
 * outbound spool is full, uplink_push says so and ingest refuses the read: its camera keeps it
 * and resends it, and its HITs are pushed again then (the backbone knows a HIT by camera, seq
 * and entry). A post-match HIT has no camera to keep it: it waits here, in order, and is pushed
 * again every round (uplink_retry) until the spool takes it; at most UPLINK_POSTS_WAITING_MAX
 * wait, those past that are left to the next start (sync.c s_retro_again).
 *
 * Lines that may repeat (a full spool, a failing disk, a HIT that does not encode) go through
 * ingest's lograte, under "ingest"; the start's and the stats line are ingest's to write. Ingest's
 * thread only (fwd's producer).
 */
#ifndef ANPR_UPLINK_H
#define ANPR_UPLINK_H

#include <stddef.h>

#include "conf.h"
#include "fwd.h"
#include "lograte.h"
#include "proto.h"
#include "retro.h"
#include "spool.h"
#include "wl.h"

#define UPLINK_POSTS_WAITING_MAX 100000 /* post-match HITs held for the backbone's full spool */

typedef struct uplink uplink_t;

/*
 * Start the forwarder of conf->backbone (conf and lograte borrowed: they outlive it; conf until
 * uplink_set_conf). *rep says what its spool's recovery found, for the caller to log. NULL with
 * err filled on failure.
 */
uplink_t *uplink_new(const struct conf *conf, lograte_t *lograte, struct spool_report *rep,
                     char *err, size_t errlen);
/* Stop the forwarder (what was not committed is dropped) and let go of the post-match HITs
 * still waiting. Safe on NULL and twice; sets *self_p to NULL. */
void uplink_destroy(uplink_t **self_p);

/* A reloaded config (borrowed): backbone.forward_reads and the max_mb its lines name. */
void uplink_set_conf(uplink_t *self, const struct conf *conf);

/*
 * Queue read r's HITs (and, forwarding every read, r itself; plate: normalised) for the
 * backbone, durable with the next uplink_commit. 0, or -1 when the outbound spool is full: the
 * read must then be refused, so its camera keeps it.
 */
int uplink_push(uplink_t *self, const struct proto_read *r, const char *plate,
                const struct wl_match *hits, size_t nhits);
/* Make what was queued durable: 0, or -1 (said through the lograte): acknowledge nothing yet. */
int uplink_commit(uplink_t *self);

/* The sync thread's post-match HITs (copied): queued in order behind those waiting. */
void uplink_posts(uplink_t *self, const struct retro_post *posts, size_t n);
/* Every round: push the post-match HITs waiting, while the spool takes them. */
void uplink_retry(uplink_t *self);
/* Post-match HITs waiting for room in the spool. */
size_t uplink_waiting(const uplink_t *self);

/* The forwarder's counters (fwd_stats). */
void uplink_stats(const uplink_t *self, struct fwd_stats *st);

#endif
