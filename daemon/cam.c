#include "cam.h"

#include <stdlib.h>
#include <string.h>

#include "plate.h"
#include "proto.h"

struct cam_slot {
    char code[PROTO_CAMERA_MAX + 1]; /* "" = empty slot */
    int32_t id;
    bool mobile; /* its reads carry their own position; a fixed camera's are not taken */
};

struct cam_table {
    struct cam_slot *slots;
    size_t mask;  /* slot count - 1 (power of two) */
    size_t count; /* cameras added */
    size_t limit; /* at most this many, so the table stays at most half full */
};

cam_table_t *cam_table_new(size_t capacity)
{
    cam_table_t *self = calloc(1, sizeof *self);
    size_t n = 16;

    if (!self)
        return NULL;
    while (n < capacity * 2)
        n *= 2;
    self->slots = calloc(n, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = n - 1;
    self->limit = n / 2;
    return self;
}

void cam_table_destroy(cam_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static struct cam_slot *s_probe(const cam_table_t *self, const char *code)
{
    size_t i = (size_t)plate_hash(code, strlen(code)) & self->mask;

    while (self->slots[i].code[0] && strcmp(self->slots[i].code, code) != 0)
        i = (i + 1) & self->mask;
    return &self->slots[i];
}

int cam_table_add(cam_table_t *self, const char *code, int32_t id, bool mobile)
{
    struct cam_slot *slot;

    if (!proto_camera_valid(code) || self->count >= self->limit)
        return -1;
    slot = s_probe(self, code);
    if (slot->code[0])
        return -1;
    strcpy(slot->code, code);
    slot->id = id;
    slot->mobile = mobile;
    self->count++;
    return 0;
}

int32_t cam_table_find(const cam_table_t *self, const char *code, bool *mobile)
{
    const struct cam_slot *slot = s_probe(self, code);

    *mobile = slot->code[0] && slot->mobile;
    return slot->code[0] ? slot->id : -1;
}

size_t cam_table_count(const cam_table_t *self)
{
    return self->count;
}

size_t cam_table_slots(const cam_table_t *self)
{
    return self->mask + 1;
}

bool cam_table_slot(const cam_table_t *self, size_t i, const char **code, int32_t *id, bool *mobile)
{
    if (i > self->mask || !self->slots[i].code[0])
        return false;
    *code = self->slots[i].code;
    *id = self->slots[i].id;
    *mobile = self->slots[i].mobile;
    return true;
}
