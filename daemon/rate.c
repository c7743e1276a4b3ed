/*
 * rate: token buckets per peer (see rate.h). Open addressing on a small table; a lookup is a
 * hash and a few compares. Tokens are kept in millionths so a slow rate still refills
 * smoothly.
 */
#include "rate.h"

#include <stdlib.h>
#include <string.h>

#include "plate.h"

#define S_PROBE   8                /* slots looked at for a key before one is taken over */
#define S_IDLE_US (60 * 1000000LL) /* a peer unseen this long gives up its slot */

struct s_slot {
    uint8_t key[RATE_KEY_MAX];
    uint8_t len;     /* 0 = free */
    int64_t tokens;  /* millionths of a token */
    int64_t last_us; /* when it was last refilled */
};

struct rate {
    struct s_slot *slots;
    size_t mask;
};

rate_t *rate_new(size_t slots)
{
    rate_t *self = calloc(1, sizeof *self);
    size_t n = 16;

    if (!self)
        return NULL;
    while (n < slots)
        n *= 2;
    self->slots = calloc(n, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = n - 1;
    return self;
}

void rate_destroy(rate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* The slot of key: its own, a free or idle one it takes over, or (all busy) the one of the
 * probed slots with the most tokens, shared. */
static struct s_slot *s_find(rate_t *self, const uint8_t *key, size_t len, int64_t now_us,
                             int64_t full)
{
    size_t h = (size_t)plate_hash((const char *)key, len);
    struct s_slot *spare = NULL, *richest = NULL;

    for (size_t i = 0; i < S_PROBE; i++) {
        struct s_slot *s = &self->slots[(h + i) & self->mask];
        if (s->len == len && memcmp(s->key, key, len) == 0)
            return s;
        if (!spare && (s->len == 0 || now_us - s->last_us > S_IDLE_US))
            spare = s;
        if (!richest || s->tokens > richest->tokens)
            richest = s;
    }
    if (!spare)
        return richest;
    memcpy(spare->key, key, len);
    spare->len = (uint8_t)len;
    spare->tokens = full;
    spare->last_us = now_us;
    return spare;
}

bool rate_take(rate_t *self, const void *key, size_t len, int64_t now_us, uint32_t per_s,
               uint32_t burst)
{
    const int64_t unit = 1000000, full = (int64_t)(burst ? burst : 1) * unit;

    if (per_s == 0)
        return true;
    if (len == 0)
        key = "", len = 1;
    if (len > RATE_KEY_MAX)
        len = RATE_KEY_MAX;
    struct s_slot *s = s_find(self, key, len, now_us, full);
    int64_t dt = now_us - s->last_us;
    if (dt > 0) {
        /* per_s tokens a second = per_s millionths a microsecond; capped at the burst, and
         * dt capped first so the product cannot overflow. */
        if (dt > 100 * unit)
            dt = 100 * unit;
        s->tokens += dt * (int64_t)per_s;
        if (s->tokens > full)
            s->tokens = full;
        s->last_us = now_us;
    }
    if (s->tokens < unit)
        return false;
    s->tokens -= unit;
    return true;
}
