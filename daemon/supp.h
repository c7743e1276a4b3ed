/*
 * supp: repeat-hit suppression. A plate seen again on the same watchlist entry within the
 * list's window is still stored as a HIT but not alerted again, so an operator is not flooded
 * by one car stuck in traffic before a camera. Different plates never suppress each other. The
 * window runs from the last alert, not the last sighting, so a car that stays in view is
 * alerted again once per window.
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
 * A hit of normalised `plate` on entry `entry_id` at `camera_id`, read at `time_us`: true when
 * it repeats an alert within `window_s` (and, when `realert_camera`, at the same camera), and
 * should not be alerted; false when it alerts (and is remembered as the last alert). On out of
 * memory it alerts: a missed suppression is better than a missed alert.
 */
bool supp_check(supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
                int64_t time_us, uint32_t window_s, bool realert_camera);

/* Forget alerts older than max_window_s before now_us; call now and then. */
void supp_expire(supp_t *self, int64_t now_us, uint32_t max_window_s);

/* Alerts remembered. */
size_t supp_count(const supp_t *self);

#endif
