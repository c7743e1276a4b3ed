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
    int64_t last_us;             /* when its last line was allowed */
    uint64_t suppressed;         /* refused since */
    char line[S_REASON_MAX * 2]; /* the last line refused, for lograte_held */
    int tag;                     /* its caller's tag */
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

/* The slot of reason, made when it is new (pushing out the oldest). */
static struct s_slot *s_slot(lograte_t *self, const char *reason, bool *fresh)
{
    struct s_slot *oldest = &self->slots[0];
    char key[S_REASON_MAX];

    snprintf(key, sizeof key, "%s", reason);
    for (size_t i = 0; i < LOGRATE_SLOTS; i++) {
        struct s_slot *t = &self->slots[i];

        if (t->used && strcmp(t->reason, key) == 0) {
            *fresh = false;
            return t;
        }
        /* an unused slot counts as the oldest of all */
        if (oldest->used && (!t->used || t->last_us < oldest->last_us))
            oldest = t;
    }
    memcpy(oldest->reason, key, sizeof key);
    oldest->suppressed = 0;
    oldest->line[0] = '\0';
    oldest->used = true;
    *fresh = true;
    return oldest;
}

bool lograte_pass_line(lograte_t *self, const char *reason, const char *line, int tag,
                       int64_t now_us, uint64_t *suppressed)
{
    bool fresh;
    struct s_slot *s = s_slot(self, reason, &fresh);

    if (!fresh && now_us - s->last_us < self->interval_us) {
        s->suppressed++;
        if (line != NULL)
            snprintf(s->line, sizeof s->line, "%s", line);
        s->tag = tag;
        return false;
    }
    if (suppressed != NULL)
        *suppressed = s->suppressed;
    s->suppressed = 0;
    s->line[0] = '\0';
    s->last_us = now_us;
    return true;
}

bool lograte_held(lograte_t *self, int64_t now_us, bool all, size_t *pos, char *line,
                  size_t linelen, int *tag, uint64_t *n)
{
    for (; *pos < LOGRATE_SLOTS; (*pos)++) {
        struct s_slot *s = &self->slots[*pos];

        if (!s->used || s->suppressed == 0 || (!all && now_us - s->last_us < self->interval_us))
            continue;
        if (linelen > 0)
            snprintf(line, linelen, "%s", s->line);
        *tag = s->tag;
        *n = s->suppressed;
        s->suppressed = 0;
        s->line[0] = '\0';
        s->last_us = now_us;
        (*pos)++;
        return true;
    }
    return false;
}

bool lograte_pass(lograte_t *self, const char *reason, int64_t now_us, uint64_t *suppressed)
{
    return lograte_pass_line(self, reason, NULL, 0, now_us, suppressed);
}
