/*
 * cam: the cameras allowed to send reads, code -> database id, as an immutable table built once
 * and replaced whole on reload. Lookups are one hash probe or a few.
 */
#ifndef ANPR_CAM_H
#define ANPR_CAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cam_table cam_table_t;

/* A table for up to `capacity` cameras; NULL on out of memory. */
cam_table_t *cam_table_new(size_t capacity);
void cam_table_destroy(cam_table_t **self_p);

/* Add a camera (mobile: its reads carry their own position); 0, or -1 when full or the code
 * is there already. The code is copied. */
int cam_table_add(cam_table_t *self, const char *code, int32_t id, bool mobile);

/* Database id of the camera, or -1 when unknown; *mobile says whether it is a mobile one. */
int32_t cam_table_find(const cam_table_t *self, const char *code, bool *mobile);

size_t cam_table_count(const cam_table_t *self);

/* Every camera, by slot: i < cam_table_slots(); false for an empty slot, else the camera's
 * code (borrowed from the table), id and kind. */
size_t cam_table_slots(const cam_table_t *self);
bool cam_table_slot(const cam_table_t *self, size_t i, const char **code, int32_t *id,
                    bool *mobile);

#endif
