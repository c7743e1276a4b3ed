#include "beat.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct beat_cam {
    int32_t id;      /* database id; 0 = a free slot (identity ids start at 1) */
    int64_t last_us; /* monotonic: its last frame, or when it joined the set */
    char code[PROTO_CAMERA_MAX + 1];
};

struct beat {
    struct beat_cam *slots; /* open addressing by id */
    size_t mask;            /* slot count - 1 (a power of two), or 0 with no table */
    size_t count;
};

beat_t *beat_new(void)
{
    return calloc(1, sizeof(beat_t));
}

void beat_destroy(beat_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static size_t s_home(int32_t id, size_t mask)
{
    return (size_t)(((uint64_t)(uint32_t)id * 0x9E3779B97F4A7C15ULL) >> 20) & mask;
}

static struct beat_cam *s_find(const beat_t *self, int32_t id)
{
    if (!self->slots || id <= 0)
        return NULL;
    for (size_t i = s_home(id, self->mask);; i = (i + 1) & self->mask) {
        if (self->slots[i].id == id)
            return &self->slots[i];
        if (self->slots[i].id == 0)
            return NULL;
    }
}

int beat_set_cameras(beat_t *self, const cam_table_t *cams, int64_t mono_us)
{
    size_t n = cam_table_count(cams), cap = 16;

    while (cap < n * 2)
        cap *= 2;
    struct beat_cam *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    size_t count = 0;
    for (size_t i = 0; i < cam_table_slots(cams); i++) {
        const char *code;
        int32_t id;
        bool mobile;
        if (!cam_table_slot(cams, i, &code, &id, &mobile) || id <= 0 ||
            strlen(code) > PROTO_CAMERA_MAX)
            continue;
        const struct beat_cam *old = s_find(self, id);
        size_t j = s_home(id, cap - 1);
        while (slots[j].id != 0 && slots[j].id != id)
            j = (j + 1) & (cap - 1);
        if (slots[j].id == id)
            continue;
        slots[j].id = id;
        slots[j].last_us = old ? old->last_us : mono_us;
        memcpy(slots[j].code, code, strlen(code) + 1);
        count++;
    }
    free(self->slots);
    self->slots = slots;
    self->mask = cap - 1;
    self->count = count;
    return 0;
}

void beat_seen(beat_t *self, int32_t camera_id, int64_t mono_us)
{
    struct beat_cam *c = s_find(self, camera_id);

    if (c && mono_us > c->last_us)
        c->last_us = mono_us;
}

size_t beat_frame(const beat_t *self, int64_t now_us, int64_t mono_us, uint16_t instance,
                  uint32_t interval_ms, uint32_t silent_after_s, uint8_t *buf, size_t cap)
{
    struct proto_heartbeat hb = {.time_us = now_us,
                                 .instance = instance,
                                 .interval_ms = interval_ms,
                                 .silent_after_s = silent_after_s,
                                 .cameras = (uint32_t)self->count};
    const struct beat_cam *named[PROTO_HB_SILENT_MAX];
    int64_t cut = mono_us - (int64_t)silent_after_s * 1000000;

    for (size_t i = 0; self->slots && i <= self->mask; i++) {
        const struct beat_cam *c = &self->slots[i];
        if (c->id == 0)
            continue;
        if (c->last_us > cut) {
            hb.reporting++;
            continue;
        }
        /* Keep the PROTO_HB_SILENT_MAX silent longest, in order: insertion into a short list. */
        size_t k = hb.nsilent;
        if (k == PROTO_HB_SILENT_MAX) {
            const struct beat_cam *y = named[k - 1];
            if (c->last_us > y->last_us || (c->last_us == y->last_us && c->id > y->id))
                continue;
            k--;
        } else {
            hb.nsilent++;
        }
        while (k > 0 && (named[k - 1]->last_us > c->last_us ||
                         (named[k - 1]->last_us == c->last_us && named[k - 1]->id > c->id))) {
            named[k] = named[k - 1];
            k--;
        }
        named[k] = c;
    }
    for (size_t i = 0; i < hb.nsilent; i++)
        memcpy(hb.silent[i], named[i]->code, strlen(named[i]->code) + 1);
    return proto_encode_heartbeat(&hb, buf, cap);
}
