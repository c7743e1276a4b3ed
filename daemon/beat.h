/*
 * beat: the dispatch feed's heartbeat (PROTOCOL.md 5.7). Consoles cannot tell a quiet feed from
 * a dead one: a feed with no HIT for an hour is normal. So anprd says it is alive every
 * dispatch.heartbeat_s, with its clock, its instance and which cameras send reads, and a
 * console that hears nothing for a few intervals says so loudly.
 *
 * Ingest marks each camera seen when one of its frames is decoded (beat_seen: one hash probe,
 * no allocation) and asks for a frame when a heartbeat is due (beat_frame). The camera table is
 * the running one, replaced on reload (beat_set_cameras): cameras that stay keep their last
 * read, new ones count from the change. Not thread-safe: ingest's thread only.
 */
#ifndef ANPR_BEAT_H
#define ANPR_BEAT_H

#include <stddef.h>
#include <stdint.h>

#include "cam.h"

typedef struct beat beat_t;

/* NULL on out of memory. */
beat_t *beat_new(void);
void beat_destroy(beat_t **self_p);

/* The cameras are now those of cams (borrowed, read only here); mono_us: the monotonic clock,
 * from which a camera never seen yet counts. 0, or -1 on out of memory (the old set stays). */
int beat_set_cameras(beat_t *self, const cam_table_t *cams, int64_t mono_us);

/* A frame of camera `camera_id` (a database id from the table) came at mono_us. */
void beat_seen(beat_t *self, int32_t camera_id, int64_t mono_us);

/*
 * The HEARTBEAT frame for now (wall clock now_us, monotonic mono_us): the cameras with no
 * frame for silent_after_s are silent, the longest silent named first (8 at most). Written into
 * buf (cap bytes); its length, or 0 when a field is out of range or it does not fit.
 */
size_t beat_frame(const beat_t *self, int64_t now_us, int64_t mono_us, uint16_t instance,
                  uint32_t interval_ms, uint32_t silent_after_s, uint8_t *buf, size_t cap);

#endif
