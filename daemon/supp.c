#include "supp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plate.h"

struct supp_slot {
    uint64_t entry_id;
    int64_t alerted_us; /* read time of the last alert */
    int32_t camera_id;  /* where it was */
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

static size_t s_home(const supp_t *self, uint64_t entry_id, const char *plate)
{
    return (size_t)(plate_hash(plate, strlen(plate)) ^ (entry_id * 0x9E3779B97F4A7C15ULL)) &
           self->mask;
}

/* Rebuild into a table of n slots, keeping what passes keep(). */
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
        if (!old[i].used || old[i].alerted_us < oldest_us)
            continue;
        size_t j = s_home(self, old[i].entry_id, old[i].plate);
        while (slots[j].used)
            j = (j + 1) & self->mask;
        slots[j] = old[i];
        self->count++;
    }
    free(old);
    return 0;
}

bool supp_check(supp_t *self, uint64_t entry_id, const char *plate, int32_t camera_id,
                int64_t time_us, uint32_t window_s, bool realert_camera)
{
    struct supp_slot *s;
    size_t i;

    if (window_s == 0)
        return false;
    if ((self->count + 1) * 2 > self->mask + 1 &&
        s_rehash(self, (self->mask + 1) * 2, INT64_MIN) != 0)
        return false;
    i = s_home(self, entry_id, plate);
    while (self->slots[i].used &&
           (self->slots[i].entry_id != entry_id || strcmp(self->slots[i].plate, plate) != 0))
        i = (i + 1) & self->mask;
    s = &self->slots[i];
    /* Either side of the last alert: a late resend of an older read is a repeat too. */
    int64_t since = time_us - s->alerted_us;
    if (s->used && (since < 0 ? -since : since) < (int64_t)window_s * 1000000 &&
        (!realert_camera || s->camera_id == camera_id))
        return true;
    if (!s->used) {
        s->used = true;
        s->entry_id = entry_id;
        snprintf(s->plate, sizeof s->plate, "%s", plate);
        self->count++;
    }
    /* A read older than the last alert (a late resend) does not move the window back. */
    if (time_us > s->alerted_us || s->camera_id != camera_id) {
        s->alerted_us = time_us;
        s->camera_id = camera_id;
    }
    return false;
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
