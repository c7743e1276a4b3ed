#include "pend.h"

#include <stdbool.h>
#include <stdlib.h>

struct pend_slot {
    uint64_t seq;
    int64_t time_us;
    int32_t camera_id;
    uint32_t count; /* 0 = empty slot */
};

struct pend {
    struct pend_slot *slots;
    size_t mask;  /* slot count - 1 (power of two) */
    size_t count; /* used slots */
};

static size_t s_hash(int32_t camera_id, uint64_t seq, int64_t time_us)
{
    uint64_t h = seq * 0x9E3779B97F4A7C15ULL ^ (uint64_t)time_us * 0xC2B2AE3D27D4EB4FULL ^
                 (uint64_t)(uint32_t)camera_id * 0x165667B19E3779F9ULL;

    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ULL;
    return (size_t)(h ^ (h >> 32));
}

static bool s_same(const struct pend_slot *s, int32_t camera_id, uint64_t seq, int64_t time_us)
{
    return s->count && s->seq == seq && s->time_us == time_us && s->camera_id == camera_id;
}

pend_t *pend_new(void)
{
    pend_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->slots = calloc(1024, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = 1023;
    return self;
}

void pend_destroy(pend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* Double the table, keeping it at most half full so probes stay short. */
static int s_grow(pend_t *self)
{
    size_t n = (self->mask + 1) * 2;
    struct pend_slot *slots = calloc(n, sizeof *slots);

    if (!slots)
        return -1;
    for (size_t i = 0; i <= self->mask; i++) {
        const struct pend_slot *o = &self->slots[i];
        if (!o->count)
            continue;
        size_t j = s_hash(o->camera_id, o->seq, o->time_us) & (n - 1);
        while (slots[j].count)
            j = (j + 1) & (n - 1);
        slots[j] = *o;
    }
    free(self->slots);
    self->slots = slots;
    self->mask = n - 1;
    return 0;
}

int pend_add(pend_t *self, int32_t camera_id, uint64_t seq, int64_t time_us)
{
    size_t i;

    if ((self->count + 1) * 2 > self->mask + 1 && s_grow(self) != 0)
        return -1;
    i = s_hash(camera_id, seq, time_us) & self->mask;
    while (self->slots[i].count && !s_same(&self->slots[i], camera_id, seq, time_us))
        i = (i + 1) & self->mask;
    if (self->slots[i].count) {
        uint32_t before = self->slots[i].count;
        if (before < UINT32_MAX)
            self->slots[i].count++;
        return before > INT32_MAX ? INT32_MAX : (int)before;
    }
    self->slots[i] = (struct pend_slot){seq, time_us, camera_id, 1};
    self->count++;
    return 0;
}

void pend_remove(pend_t *self, int32_t camera_id, uint64_t seq, int64_t time_us)
{
    size_t i = s_hash(camera_id, seq, time_us) & self->mask;

    while (self->slots[i].count && !s_same(&self->slots[i], camera_id, seq, time_us))
        i = (i + 1) & self->mask;
    if (!self->slots[i].count || --self->slots[i].count > 0)
        return;
    self->count--;
    /* Backward-shift deletion: move later members of the probe run into the hole, so lookups
     * never need tombstones. */
    for (size_t j = (i + 1) & self->mask; self->slots[j].count; j = (j + 1) & self->mask) {
        size_t home = s_hash(self->slots[j].camera_id, self->slots[j].seq, self->slots[j].time_us) &
                      self->mask;
        /* Move j into i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            self->slots[i] = self->slots[j];
            self->slots[j].count = 0;
            i = j;
        }
    }
}

size_t pend_count(const pend_t *self)
{
    return self->count;
}
