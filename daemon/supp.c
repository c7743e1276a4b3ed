#include "supp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plate.h"

struct supp_slot {
    uint64_t entry_id;
    int64_t alerted_us; /* read time of the last alert */
    int64_t noted_us;   /* wall clock when it was noted: what expiry goes by */
    int64_t seen_us;    /* read time of the latest sighting (the alert or a repeat) */
    uint64_t hit_id;    /* the alert's HIT, which later sightings name */
    int32_t camera_id;  /* the camera, for lists that re-alert per camera; else -1 */
    int32_t seen_cam;   /* the camera of the latest sighting */
    char plate[PLATE_MAX + 1];
    bool used;
};

struct supp {
    struct supp_slot *slots;
    size_t mask;  /* slot count - 1 (power of two) */
    size_t count; /* used slots */
};

supp_t *supp_new(void)
{
    supp_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->slots = calloc(256, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = 255;
    return self;
}

void supp_destroy(supp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static size_t s_home(const supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id)
{
    return (size_t)(plate_hash(plate, strlen(plate)) ^ (entry_id * 0x9E3779B97F4A7C15ULL) ^
                    ((uint64_t)(uint32_t)camera_id * 0xC2B2AE3D27D4EB4FULL)) &
           self->mask;
}

/* The slot of (entry, plate, camera), or the empty slot where it would go. */
static size_t s_find(const supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id)
{
    size_t i = s_home(self, entry_id, plate, camera_id);

    while (self->slots[i].used &&
           (self->slots[i].entry_id != entry_id || self->slots[i].camera_id != camera_id ||
            strcmp(self->slots[i].plate, plate) != 0))
        i = (i + 1) & self->mask;
    return i;
}

/* Rebuild into a table of n slots, keeping the alerts at or after oldest_us. */
static int s_rehash(supp_t *self, size_t n, int64_t oldest_us)
{
    struct supp_slot *old = self->slots;
    size_t old_n = self->mask + 1;
    struct supp_slot *slots = calloc(n, sizeof *slots);

    if (!slots)
        return -1;
    self->slots = slots;
    self->mask = n - 1;
    self->count = 0;
    for (size_t i = 0; i < old_n; i++) {
        if (!old[i].used || old[i].noted_us < oldest_us)
            continue;
        size_t j = s_home(self, old[i].entry_id, old[i].plate, old[i].camera_id);
        while (slots[j].used)
            j = (j + 1) & self->mask;
        slots[j] = old[i];
        self->count++;
    }
    free(old);
    return 0;
}

bool supp_peek(const supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
               int64_t time_us, uint32_t window_s, bool realert_camera)
{
    const struct supp_slot *s;

    if (window_s == 0)
        return false;
    s = &self->slots[s_find(self, entry_id, plate, realert_camera ? camera_id : -1)];
    if (!s->used)
        return false;
    int64_t since = time_us - s->alerted_us;
    return (since < 0 ? -since : since) < (int64_t)window_s * 1000000;
}

uint64_t supp_note(supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
                   int64_t time_us, int64_t now_us, uint32_t window_s, bool realert_camera,
                   uint64_t hit_id)
{
    struct supp_slot *s;
    uint64_t before = 0;

    if (window_s == 0)
        return 0;
    if ((self->count + 1) * 2 > self->mask + 1 &&
        s_rehash(self, (self->mask + 1) * 2, INT64_MIN) != 0)
        return 0;
    s = &self->slots[s_find(self, entry_id, plate, realert_camera ? camera_id : -1)];
    if (!s->used) {
        s->used = true;
        s->entry_id = entry_id;
        s->camera_id = realert_camera ? camera_id : -1;
        snprintf(s->plate, sizeof s->plate, "%s", plate);
        s->alerted_us = time_us;
        s->seen_us = INT64_MIN;
        self->count++;
    } else if (time_us > s->alerted_us) {
        s->alerted_us = time_us;
    }
    /* The latest sighting is the newest read: a late read of a backlog does not move it. */
    if (time_us >= s->seen_us) {
        if (s->seen_us != INT64_MIN && s->seen_cam != camera_id)
            before = s->hit_id;
        s->hit_id = hit_id;
        s->seen_cam = camera_id;
        s->seen_us = time_us;
    }
    s->noted_us = now_us;
    return before;
}

uint64_t supp_seen(supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
                   int64_t time_us, bool realert_camera)
{
    struct supp_slot *s =
        &self->slots[s_find(self, entry_id, plate, realert_camera ? camera_id : -1)];

    if (!s->used || time_us < s->seen_us || s->seen_cam == camera_id)
        return 0;
    s->seen_cam = camera_id;
    s->seen_us = time_us;
    return s->hit_id;
}

void supp_expire(supp_t *self, int64_t now_us, uint32_t max_window_s)
{
    size_t n = self->mask + 1;

    /* Shrink while the table is mostly empty, but never below its first size. */
    while (n > 256 && self->count * 8 < n)
        n /= 2;
    s_rehash(self, n, now_us - (int64_t)max_window_s * 1000000);
}

size_t supp_count(const supp_t *self)
{
    return self->count;
}
