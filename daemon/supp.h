/*
 * supp: repeat-hit suppression. A plate seen again on the same watchlist entry within the
 * list's window is still stored as a HIT but not alerted again, so an operator is not flooded
 * by one car stuck in traffic before a camera. Different plates never suppress each other. The
 * window runs from the last alert, not the last sighting, so a car that stays in view is
 * alerted again once per window.
 *
 * It also follows the car: each alert remembers its HIT id and the camera the car was last seen
 * at, so a repeat held back at another camera can be told to dispatch as a sighting of that HIT
 * (PROTOCOL.md 5.8) without a lookup of its own: supp_peek finds the slot anyway.
 */
#ifndef ANPR_SUPP_H
#define ANPR_SUPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct supp supp_t;

/* NULL on out of memory. */
supp_t *supp_new(void);
void supp_destroy(supp_t **self_p);

/*
 * Whether a hit of normalised `plate` on entry `entry_id` at `camera_id`, read at `time_us`,
 * repeats an alert within `window_s` (either side of it: a late read of a backlog is a repeat
 * too) and should be held back. With `realert_camera`, each camera has its own window.
 * Changes nothing.
 */
bool supp_peek(const supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
               int64_t time_us, uint32_t window_s, bool realert_camera);

/*
 * Remember an alert, HIT `hit_id` at `camera_id` (call it once the hit is alerted, not before: a
 * read refused after the check must not hold back its resend); `now_us` is the wall clock, which
 * expiry goes by, so a camera's backlog of old reads is remembered as long as recent ones. A read
 * older than the alert remembered does not move the window back. Out of memory: nothing is
 * remembered, so the next hit alerts again (a repeated alert is better than a missed one).
 * Returns the id of the alert it replaces when that car was last seen at another camera (the
 * earlier HIT, if still open, has a new sighting), else 0.
 */
uint64_t supp_note(supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
                   int64_t time_us, int64_t now_us, uint32_t window_s, bool realert_camera,
                   uint64_t hit_id);

/*
 * A repeat held back (supp_peek said true) of the car at `camera_id`: remembers the camera and
 * returns the alert's HIT id when the car was last seen at another one (a sighting for
 * dispatch), else 0 (the same camera: a car stuck in traffic is not news). A read older than the
 * last sighting changes nothing and returns 0.
 */
uint64_t supp_seen(supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
                   int64_t time_us, bool realert_camera);

/* Forget alerts noted more than max_window_s before now_us (wall clock); call now and then. */
void supp_expire(supp_t *self, int64_t now_us, uint32_t max_window_s);

/* Alerts remembered. */
size_t supp_count(const supp_t *self);

#endif
