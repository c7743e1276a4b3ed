/*
 * hitmemo: one table of keys and ids, indexed by a hash of the key; hit_id 0 marks a free slot.
 */
#include "hitmemo.h"

#include <stdlib.h>

struct s_slot {
    uint64_t seq, digest, entry_id, hit_id; /* hit_id 0: free */
    int32_t cam;
    uint32_t epoch;
};

struct hitmemo {
    struct s_slot *slots;
    size_t mask;
};

static size_t s_index(const hitmemo_t *self, int32_t cam, uint32_t epoch, uint64_t seq,
                      uint64_t digest, uint64_t entry_id)
{
    uint64_t h = (seq ^ digest) * 0x9E3779B97F4A7C15ull;

    h ^= ((uint64_t)(uint32_t)cam << 32 | epoch) * 0xC2B2AE3D27D4EB4Full;
    h ^= entry_id * 0x165667B19E3779F9ull;
    h ^= h >> 31;
    return (size_t)h & self->mask;
}

hitmemo_t *hitmemo_new(size_t slots)
{
    hitmemo_t *self = calloc(1, sizeof *self);
    size_t cap = 1024;

    if (self == NULL)
        return NULL;
    while (cap < slots && cap < ((size_t)1 << 30))
        cap *= 2;
    self->slots = calloc(cap, sizeof *self->slots);
    if (self->slots == NULL) {
        free(self);
        return NULL;
    }
    self->mask = cap - 1;
    return self;
}

void hitmemo_destroy(hitmemo_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

uint64_t hitmemo_get(const hitmemo_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq,
                     uint64_t digest, uint64_t entry_id)
{
    const struct s_slot *s = &self->slots[s_index(self, camera_id, epoch, seq, digest, entry_id)];

    if (s->hit_id != 0 && s->seq == seq && s->digest == digest && s->entry_id == entry_id &&
        s->cam == camera_id && s->epoch == epoch)
        return s->hit_id;
    return 0;
}

void hitmemo_put(hitmemo_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq, uint64_t digest,
                 uint64_t entry_id, uint64_t hit_id)
{
    struct s_slot *s = &self->slots[s_index(self, camera_id, epoch, seq, digest, entry_id)];

    *s = (struct s_slot){.seq = seq,
                         .digest = digest,
                         .entry_id = entry_id,
                         .hit_id = hit_id,
                         .cam = camera_id,
                         .epoch = epoch};
}
