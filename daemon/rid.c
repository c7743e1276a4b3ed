#include "rid.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_FNV_OFFSET 0xCBF29CE484222325ULL
#define S_FNV_PRIME  0x100000001B3ULL

static uint64_t s_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= S_FNV_PRIME;
    }
    return h;
}

/* Big-endian, as on the wire, so the digest is the same on every host. */
static uint64_t s_fnv_be(uint64_t h, uint64_t v, unsigned bytes)
{
    uint8_t b[8];

    for (unsigned i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return s_fnv(h, b, bytes);
}

static uint64_t s_fnv_str8(uint64_t h, const char *s)
{
    size_t n = strlen(s);

    h = s_fnv_be(h, n, 1);
    return s_fnv(h, s, n);
}

uint64_t rid_digest(const struct proto_read *r)
{
    /* The READ body of version 1 without seq and camera, field by field in wire order. */
    uint64_t h = S_FNV_OFFSET;

    h = s_fnv_be(h, (uint64_t)r->time_us, 8);
    h = s_fnv_be(h, r->confidence, 2);
    h = s_fnv_be(h, r->lane, 1);
    h = s_fnv_be(h, r->direction, 1);
    h = s_fnv_be(h, r->has_position ? 1 : 0, 1);
    h = s_fnv_be(h, r->ncand, 1);
    h = s_fnv_str8(h, r->plate);
    h = s_fnv_str8(h, r->country);
    for (unsigned i = 0; i < r->ncand && i < PROTO_CAND_MAX; i++) {
        h = s_fnv_str8(h, r->cand[i].plate);
        h = s_fnv_be(h, r->cand[i].confidence, 2);
    }
    if (r->has_position) {
        h = s_fnv_be(h, (uint32_t)r->lat_e7, 4);
        h = s_fnv_be(h, (uint32_t)r->lon_e7, 4);
    }
    return s_fnv_str8(h, r->image_ref);
}

struct rid_slot {
    uint64_t seq; /* 0 = empty (a seq is >= 1) */
    uint64_t digest;
    int32_t camera_id;
    uint32_t epoch;
};

struct rid_gen {
    struct rid_slot *slots;
    size_t mask;  /* slot count - 1 */
    size_t count; /* used slots */
};

struct rid {
    struct rid_gen gen[2]; /* gen[cur] takes new identities; the other is the older one */
    int cur;
    size_t generation; /* identities a generation takes before it becomes the older one */
};

static size_t s_hash(int32_t camera_id, uint32_t epoch, uint64_t seq)
{
    uint64_t h = seq * 0x9E3779B97F4A7C15ULL ^ (uint64_t)epoch * 0xC2B2AE3D27D4EB4FULL ^
                 (uint64_t)(uint32_t)camera_id * 0x165667B19E3779F9ULL;

    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ULL;
    return (size_t)(h ^ (h >> 32));
}

static const struct rid_slot *s_find(const struct rid_gen *g, int32_t camera_id, uint32_t epoch,
                                     uint64_t seq)
{
    size_t i = s_hash(camera_id, epoch, seq) & g->mask;

    for (; g->slots[i].seq; i = (i + 1) & g->mask) {
        const struct rid_slot *s = &g->slots[i];
        if (s->seq == seq && s->camera_id == camera_id && s->epoch == epoch)
            return s;
    }
    return NULL;
}

rid_t *rid_new(size_t generation)
{
    rid_t *self = calloc(1, sizeof *self);
    size_t slots = 2048;

    if (!self)
        return NULL;
    if (generation < 1024)
        generation = 1024;
    /* At most half full: probes stay short. */
    while (slots < 2 * generation)
        slots *= 2;
    self->generation = generation;
    for (int i = 0; i < 2; i++) {
        self->gen[i].slots = calloc(slots, sizeof *self->gen[i].slots);
        if (!self->gen[i].slots) {
            rid_destroy(&self);
            return NULL;
        }
        self->gen[i].mask = slots - 1;
    }
    return self;
}

void rid_destroy(rid_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->gen[0].slots);
    free((*self_p)->gen[1].slots);
    free(*self_p);
    *self_p = NULL;
}

enum rid_seen rid_check(const rid_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq,
                        uint64_t digest)
{
    for (int k = 0; k < 2; k++) {
        const struct rid_slot *s = s_find(&self->gen[(self->cur + k) % 2], camera_id, epoch, seq);
        if (s)
            return s->digest == digest ? RID_SAME : RID_OTHER;
    }
    return RID_NEW;
}

int rid_note(rid_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq, uint64_t digest)
{
    struct rid_gen *g = &self->gen[self->cur];

    if (seq == 0)
        return -1;
    if (g->count >= self->generation) {
        /* The older generation goes; the full one becomes the older. */
        self->cur ^= 1;
        g = &self->gen[self->cur];
        memset(g->slots, 0, (g->mask + 1) * sizeof *g->slots);
        g->count = 0;
    }
    size_t i = s_hash(camera_id, epoch, seq) & g->mask;
    while (g->slots[i].seq) {
        if (g->slots[i].seq == seq && g->slots[i].camera_id == camera_id &&
            g->slots[i].epoch == epoch) {
            g->slots[i].digest = digest;
            return 0;
        }
        i = (i + 1) & g->mask;
    }
    g->slots[i] = (struct rid_slot){seq, digest, camera_id, epoch};
    g->count++;
    return 0;
}

size_t rid_count(const rid_t *self)
{
    return self->gen[0].count + self->gen[1].count;
}
