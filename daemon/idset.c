/*
 * idset: open addressing with linear probing over a power-of-two table at most half full. Any
 * 64-bit value is an id: the empty slot is told apart by a separate flag for the one id equal to
 * the empty marker, so callers need no reserved value.
 */
#include "idset.h"

#include <stdlib.h>
#include <string.h>

#define IDSET_EMPTY UINT64_MAX

struct idset {
    uint64_t *slots; /* NULL until the first add */
    size_t mask;     /* size - 1 */
    size_t count;    /* ids in slots, not counting has_empty */
    bool has_empty;  /* the id IDSET_EMPTY itself is in the set */
};

static size_t s_home(uint64_t id, size_t mask)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

idset_t *idset_new(void)
{
    return calloc(1, sizeof(idset_t));
}

void idset_destroy(idset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static void s_put(uint64_t *slots, size_t mask, uint64_t id)
{
    size_t pos = s_home(id, mask);

    while (slots[pos] != IDSET_EMPTY)
        pos = (pos + 1) & mask;
    slots[pos] = id;
}

/* Double the table (or make the first); 0 or -1. */
static int s_grow(idset_t *self)
{
    size_t size = self->slots ? (self->mask + 1) * 2 : 64;

    if (size > SIZE_MAX / sizeof(uint64_t))
        return -1;
    uint64_t *slots = malloc(size * sizeof(uint64_t));
    if (!slots)
        return -1;
    memset(slots, 0xff, size * sizeof(uint64_t));
    for (size_t i = 0; self->slots && i <= self->mask; i++)
        if (self->slots[i] != IDSET_EMPTY)
            s_put(slots, size - 1, self->slots[i]);
    free(self->slots);
    self->slots = slots;
    self->mask = size - 1;
    return 0;
}

int idset_add(idset_t *self, uint64_t id)
{
    if (id == IDSET_EMPTY) {
        self->has_empty = true;
        return 0;
    }
    if (idset_has(self, id))
        return 0;
    if ((!self->slots || (self->count + 1) * 2 > self->mask + 1) && s_grow(self) != 0)
        return -1;
    s_put(self->slots, self->mask, id);
    self->count++;
    return 0;
}

bool idset_has(const idset_t *self, uint64_t id)
{
    if (!self)
        return false;
    if (id == IDSET_EMPTY)
        return self->has_empty;
    if (!self->slots)
        return false;
    for (size_t pos = s_home(id, self->mask);; pos = (pos + 1) & self->mask) {
        if (self->slots[pos] == id)
            return true;
        if (self->slots[pos] == IDSET_EMPTY)
            return false;
    }
}

size_t idset_count(const idset_t *self)
{
    return self ? self->count + self->has_empty : 0;
}

void idset_clear(idset_t *self)
{
    if (self->slots)
        memset(self->slots, 0xff, (self->mask + 1) * sizeof(uint64_t));
    self->count = 0;
    self->has_empty = false;
}

idset_t *idset_dup(const idset_t *self)
{
    idset_t *copy = idset_new();

    if (!copy || !self->slots) {
        if (copy)
            copy->has_empty = self->has_empty;
        return copy;
    }
    copy->slots = malloc((self->mask + 1) * sizeof(uint64_t));
    if (!copy->slots) {
        free(copy);
        return NULL;
    }
    memcpy(copy->slots, self->slots, (self->mask + 1) * sizeof(uint64_t));
    copy->mask = self->mask;
    copy->count = self->count;
    copy->has_empty = self->has_empty;
    return copy;
}

bool idset_next(const idset_t *self, size_t *pos, uint64_t *id)
{
    /* Positions 0..size-1 are the slots; size is the IDSET_EMPTY id when it is in the set. */
    size_t size = self->slots ? self->mask + 1 : 0;

    for (; *pos < size; (*pos)++) {
        if (self->slots[*pos] != IDSET_EMPTY) {
            *id = self->slots[(*pos)++];
            return true;
        }
    }
    if (*pos == size && self->has_empty) {
        (*pos)++;
        *id = IDSET_EMPTY;
        return true;
    }
    return false;
}

size_t idset_memory_bytes(const idset_t *self)
{
    return self ? sizeof(*self) + (self->slots ? (self->mask + 1) * sizeof(uint64_t) : 0) : 0;
}
