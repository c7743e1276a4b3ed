/*
 * lograte: a small table of recent reasons, each with the time of its last line and the count
 * held back since. A table this small is searched linearly: it is asked once per failure.
 */
#include "lograte.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_REASON_MAX 256 /* longer reasons are compared on their first 255 bytes */

struct s_slot {
    char reason[S_REASON_MAX];
    int64_t last_us;     /* when its last line was allowed */
    uint64_t suppressed; /* refused since */
    bool used;
};

struct lograte {
    int64_t interval_us;
    struct s_slot slots[LOGRATE_SLOTS];
};

lograte_t *lograte_new(int64_t interval_us)
{
    lograte_t *self;

    if (interval_us <= 0)
        return NULL;
    self = calloc(1, sizeof *self);
    if (self != NULL)
        self->interval_us = interval_us;
    return self;
}

void lograte_destroy(lograte_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free(*self_p);
    *self_p = NULL;
}

bool lograte_pass(lograte_t *self, const char *reason, int64_t now_us, uint64_t *suppressed)
{
    struct s_slot *s = NULL, *oldest = &self->slots[0];
    char key[S_REASON_MAX];

    snprintf(key, sizeof key, "%s", reason);
    for (size_t i = 0; i < LOGRATE_SLOTS; i++) {
        struct s_slot *t = &self->slots[i];

        if (t->used && strcmp(t->reason, key) == 0) {
            s = t;
            break;
        }
        /* an unused slot counts as the oldest of all */
        if (oldest->used && (!t->used || t->last_us < oldest->last_us))
            oldest = t;
    }
    if (s != NULL && now_us - s->last_us < self->interval_us) {
        s->suppressed++;
        return false;
    }
    if (s == NULL) {
        s = oldest;
        memcpy(s->reason, key, sizeof key);
        s->suppressed = 0;
        s->used = true;
    }
    if (suppressed != NULL)
        *suppressed = s->suppressed;
    s->suppressed = 0;
    s->last_us = now_us;
    return true;
}
