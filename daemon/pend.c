/*
 * pend: linear probing over a power-of-two table, at most half full. seq 0 marks a free slot
 * (no read has seq 0: PROTOCOL.md); an identity with seq 0 is never added.
 */
#include "pend.h"

#include <stdlib.h>

#define S_MIN_CAP 1024u

struct s_key {
    uint64_t seq; /* 0: free */
    int32_t cam;
    uint32_t epoch;
};

struct pend {
    struct s_key *slots;
    size_t cap; /* a power of two */
    size_t count;
};

static size_t s_hash(int32_t cam, uint32_t epoch, uint64_t seq)
{
    uint64_t h = seq * 0x9E3779B97F4A7C15ull;

    h ^= ((uint64_t)(uint32_t)cam << 32 | epoch) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (size_t)h;
}

static bool s_is(const struct s_key *k, int32_t cam, uint32_t epoch, uint64_t seq)
{
    return k->seq == seq && k->cam == cam && k->epoch == epoch;
}

pend_t *pend_new(void)
{
    pend_t *self = calloc(1, sizeof *self);

    if (self == NULL)
        return NULL;
    self->slots = calloc(S_MIN_CAP, sizeof *self->slots);
    if (self->slots == NULL) {
        free(self);
        return NULL;
    }
    self->cap = S_MIN_CAP;
    return self;
}

void pend_destroy(pend_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* The slot of the identity, or the free slot where it would go. */
static size_t s_find(const pend_t *self, int32_t cam, uint32_t epoch, uint64_t seq)
{
    size_t mask = self->cap - 1, i = s_hash(cam, epoch, seq) & mask;

    while (self->slots[i].seq != 0 && !s_is(&self->slots[i], cam, epoch, seq))
        i = (i + 1) & mask;
    return i;
}

static int s_grow(pend_t *self)
{
    struct s_key *old = self->slots;
    size_t oldcap = self->cap;
    struct s_key *slots = calloc(oldcap * 2, sizeof *slots);

    if (slots == NULL)
        return -1;
    self->slots = slots;
    self->cap = oldcap * 2;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].seq != 0)
            self->slots[s_find(self, old[i].cam, old[i].epoch, old[i].seq)] = old[i];
    free(old);
    return 0;
}

int pend_add(pend_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq)
{
    if (seq == 0)
        return -1;
    if ((self->count + 1) * 2 > self->cap && s_grow(self) != 0)
        return -1;
    size_t i = s_find(self, camera_id, epoch, seq);
    if (self->slots[i].seq == 0) {
        self->slots[i] = (struct s_key){.seq = seq, .cam = camera_id, .epoch = epoch};
        self->count++;
    }
    return 0;
}

bool pend_has(const pend_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq)
{
    return seq != 0 && self->slots[s_find(self, camera_id, epoch, seq)].seq != 0;
}

void pend_del(pend_t *self, int32_t camera_id, uint32_t epoch, uint64_t seq)
{
    size_t mask = self->cap - 1;
    size_t i = seq ? s_find(self, camera_id, epoch, seq) : 0;

    if (seq == 0 || self->slots[i].seq == 0)
        return;
    self->slots[i].seq = 0;
    self->count--;
    /* Shift back every entry of the run after it that may move into the hole. */
    for (size_t j = (i + 1) & mask; self->slots[j].seq != 0; j = (j + 1) & mask) {
        struct s_key k = self->slots[j];
        size_t home = s_hash(k.cam, k.epoch, k.seq) & mask;
        /* k stays when its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        self->slots[i] = k;
        self->slots[j].seq = 0;
        i = j;
    }
}

size_t pend_count(const pend_t *self)
{
    return self->count;
}
