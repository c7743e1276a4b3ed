#include "reann.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* An urgent HIT waiting for an operator's acknowledgement. */
struct s_watch {
    uint64_t hit_id;
    uint64_t spool_pos;       /* read spool on: where its read's group ends in the spool, else 0 */
    int64_t first_us, due_us; /* monotonic: published, next announcement */
    uint8_t priority;
    bool covert; /* a covert list's: announced again on the covert feed only */
    uint8_t tlen;
    char topic[48];
    uint8_t *frame;
    size_t len;
};

struct reann {
    struct reann_io io;
    lograte_t *lograte; /* borrowed */
    int64_t every_us;   /* dispatch.reannounce_s; 0 = off */
    int priority;       /* dispatch.reannounce_priority */
    struct s_watch *watch;
    size_t nwatch, watch_cap;
    uint64_t asked[REANN_ASK_MAX]; /* the question out to the sync thread (sorted); none if 0 */
    size_t nasked;
    uint64_t ask_serial;     /* the last question's number: a late answer is told apart */
    int64_t ask_deadline_us; /* not answered by then: unknown */
    int64_t ask_sent_us;     /* when the last question went; 0 once it is answered */
    int64_t next_watch_us;
    bool ack_unknown; /* the last outcome was unknown (said once in the log) */
};

/* A line that may repeat, through ingest's lograte. */
#define S_LOG(self, level, ...) log_rated((self)->lograte, level, "ingest", __VA_ARGS__)

reann_t *reann_new(const struct reann_io *io, lograte_t *lograte)
{
    reann_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->io = *io;
    self->lograte = lograte;
    return self;
}

void reann_destroy(reann_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->nwatch; i++)
        free((*self_p)->watch[i].frame);
    free((*self_p)->watch);
    free(*self_p);
    *self_p = NULL;
}

size_t reann_count(const reann_t *self)
{
    return self->nwatch;
}

static int s_id_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Whether id is in ids[0..n) (sorted). */
static bool s_id_in(const uint64_t *ids, size_t n, uint64_t id)
{
    return n > 0 && bsearch(&id, ids, n, sizeof id, s_id_cmp) != NULL;
}

/* Forget every watched HIT (re-announcement turned off); an answer on its way finds none. */
static void s_clear(reann_t *self)
{
    if (self->nwatch > 0)
        log_info("ingest", "re-announcement off: %zu unacknowledged urgent HITs no longer watched",
                 self->nwatch);
    for (size_t i = 0; i < self->nwatch; i++)
        free(self->watch[i].frame);
    self->nwatch = 0;
    self->nasked = 0;
}

void reann_set(reann_t *self, int every_s, int priority, int64_t now)
{
    int64_t latest = now + (int64_t)every_s * 1000000;
    size_t k = 0;

    self->every_us = every_s > 0 ? (int64_t)every_s * 1000000 : 0;
    self->priority = priority;
    /* Re-announcement turned off: nothing is announced again, not even once more. */
    if (every_s <= 0) {
        s_clear(self);
        return;
    }
    /* A HIT no longer urgent enough is let go; none waits longer than the new period. */
    for (size_t i = 0; i < self->nwatch; i++) {
        struct s_watch *w = &self->watch[i];
        if (w->priority > priority) {
            free(w->frame);
            continue;
        }
        if (w->due_us > latest)
            w->due_us = latest;
        self->watch[k++] = *w;
    }
    self->nwatch = k;
}

/*
 * Keep an urgent HIT to announce again until it is acknowledged; the oldest goes when full. A
 * covert HIT is kept only when there is a covert feed: without a covert_endpoint it went
 * nowhere the first time, and would go nowhere again. The people cleared for its list
 * acknowledge it (migration 020). Every other HIT went to the dispatch feed, always there.
 */
void reann_add(reann_t *self, uint64_t hit_id, uint8_t priority, bool covert, const char *topic,
               size_t tlen, const uint8_t *frame, size_t len, uint64_t spool_pos, int64_t now)
{
    if ((covert && !self->io.covert) || self->every_us <= 0 || priority > self->priority)
        return;
    if (self->nwatch == REANN_MAX) {
        S_LOG(self, LOG_LEVEL_WARN,
              "more than %d urgent HITs unacknowledged; HIT %" PRIu64
              " is no longer announced again",
              REANN_MAX, self->watch[0].hit_id);
        free(self->watch[0].frame);
        memmove(self->watch, self->watch + 1, --self->nwatch * sizeof *self->watch);
    }
    if (self->nwatch == self->watch_cap) {
        size_t cap = self->watch_cap ? self->watch_cap * 2 : 64;
        struct s_watch *w = realloc(self->watch, cap * sizeof *w);
        if (!w)
            return;
        self->watch = w;
        self->watch_cap = cap;
    }
    struct s_watch *w = &self->watch[self->nwatch];
    if (tlen >= sizeof w->topic || !(w->frame = malloc(len)))
        return;
    memcpy(w->frame, frame, len);
    memcpy(w->topic, topic, tlen);
    w->tlen = (uint8_t)tlen;
    w->len = len;
    w->priority = priority;
    w->covert = covert;
    w->hit_id = hit_id;
    w->spool_pos = spool_pos;
    w->first_us = now;
    w->due_us = now + self->every_us;
    self->nwatch++;
}

/* A linear search, per sighting only: they are few, and 10000 HITs are kept at most. */
void reann_follow(reann_t *self, uint64_t hit_id, const uint8_t *frame, size_t len)
{
    for (size_t i = 0; i < self->nwatch; i++) {
        struct s_watch *w = &self->watch[i];
        if (w->hit_id != hit_id)
            continue;
        uint8_t *f = len == w->len ? w->frame : malloc(len);
        if (!f)
            return; /* out of memory: it goes on with the place it has */
        memcpy(f, frame, len);
        if (f != w->frame)
            free(w->frame);
        w->frame = f;
        w->len = len;
        return;
    }
}

/* Say in the log when acknowledgements stop being known, and when they are again. */
static void s_note(reann_t *self, bool known)
{
    if (!known && !self->ack_unknown)
        log_warn("ingest", "acknowledgements cannot be read (database away or slow); urgent HITs "
                           "are announced again until they can");
    else if (known && self->ack_unknown)
        log_info("ingest", "acknowledgements can be read again");
    self->ack_unknown = !known;
}

/*
 * The outcome of the question out: an acknowledged HIT is done; one not acknowledged, or whose
 * acknowledgement could not be learnt (known false), is announced again (the same id: a
 * subscriber knows it by its id), the safe side for a dispatch room. HITs not in the question
 * wait for their own. acked is sorted.
 */
static void s_settle(reann_t *self, const uint64_t *acked, size_t nacked, bool known, int64_t now)
{
    size_t k = 0;

    s_note(self, known);
    for (size_t i = 0; i < self->nwatch; i++) {
        struct s_watch *w = &self->watch[i];
        bool asked = s_id_in(self->asked, self->nasked, w->hit_id);
        if ((asked && known && s_id_in(acked, nacked, w->hit_id)) ||
            now - w->first_us > REANN_AGE_US) {
            free(w->frame);
            continue;
        }
        if (asked && w->due_us <= now) {
            self->io.send(self->io.ctx, w->hit_id, w->covert, w->topic, w->tlen, w->frame, w->len);
            /* On the beat, unless the answer came later than a whole period. */
            w->due_us = w->due_us + self->every_us > now ? w->due_us + self->every_us
                                                         : now + self->every_us;
        }
        self->watch[k++] = *w;
    }
    self->nwatch = k;
    self->nasked = 0;
}

static int s_due_cmp(const void *a, const void *b)
{
    const struct s_watch *x = *(const struct s_watch *const *)a;
    const struct s_watch *y = *(const struct s_watch *const *)b;

    return x->due_us < y->due_us ? -1 : x->due_us > y->due_us;
}

/* The question: the HITs that are due, the longest due first, REANN_ASK_MAX at most (the
 * others come first next time: each one asked about is announced again or done, so its next
 * due time is later), into self->asked, sorted by id. */
static void s_pick(reann_t *self, int64_t now)
{
    size_t ndue = 0;

    self->nasked = 0;
    for (size_t i = 0; i < self->nwatch; i++)
        ndue += self->watch[i].due_us <= now;
    const struct s_watch **due = ndue > REANN_ASK_MAX ? malloc(ndue * sizeof *due) : NULL;
    if (due) {
        size_t n = 0;
        for (size_t i = 0; i < self->nwatch; i++)
            if (self->watch[i].due_us <= now)
                due[n++] = &self->watch[i];
        qsort(due, n, sizeof *due, s_due_cmp);
        for (size_t i = 0; i < REANN_ASK_MAX; i++)
            self->asked[self->nasked++] = due[i]->hit_id;
        free(due);
    } else {
        /* All of them, or (out of memory) the first ones. */
        for (size_t i = 0; i < self->nwatch && self->nasked < REANN_ASK_MAX; i++)
            if (self->watch[i].due_us <= now)
                self->asked[self->nasked++] = self->watch[i].hit_id;
    }
    qsort(self->asked, self->nasked, sizeof *self->asked, s_id_cmp);
}

/*
 * Ask which of the urgent HITs that are due were acknowledged. An answer not back within a
 * few seconds (the sync thread reconnecting, or busy with a long load) counts as unknown, so
 * ingest never waits on the database to announce.
 */
void reann_tick(reann_t *self, int64_t now)
{
    if (self->nasked > 0 && now >= self->ask_deadline_us)
        s_settle(self, NULL, 0, false, now);
    if (self->nasked > 0 || now < self->next_watch_us || self->nwatch == 0)
        return;
    if (self->every_us <= 0) {
        s_clear(self);
        return;
    }
    self->next_watch_us = now + REANN_ASK_EVERY;
    s_pick(self, now);
    if (self->nasked == 0)
        return;
    /* The sync thread still holds the last question (stuck in a query): unknown, without
     * queueing more questions behind it, unless its answer must have been lost. */
    if (self->ask_sent_us != 0 && now - self->ask_sent_us < REANN_ASK_LOST) {
        s_settle(self, NULL, 0, false, now);
        return;
    }
    /* Half a period at most: a later answer would make the announcement miss its beat. */
    int64_t wait = self->every_us / 2;
    self->ask_deadline_us = now + (wait < REANN_ASK_WAIT ? wait : REANN_ASK_WAIT);
    if (self->io.ask(self->io.ctx, self->asked, self->nasked, ++self->ask_serial,
                     self->ask_deadline_us) != 0) {
        s_settle(self, NULL, 0, false, now); /* not asked: unknown */
        return;
    }
    self->ask_sent_us = now;
}

/*
 * HITs the database has no row of (nor an alias): their read was refused for its data, or the
 * HIT's id clashed. No operator can acknowledge them, so they are let go, once the writer is
 * known to be past them (with the read spool, a HIT may simply not be stored yet).
 */
static void s_missing(reann_t *self, uint64_t *missing, size_t nmissing)
{
    uint64_t stored = self->io.stored ? self->io.stored(self->io.ctx) : 0;
    size_t k = 0;

    if (nmissing == 0)
        return;
    qsort(missing, nmissing, sizeof *missing, s_id_cmp);
    for (size_t i = 0; i < self->nwatch; i++) {
        struct s_watch *w = &self->watch[i];
        bool gone =
            s_id_in(missing, nmissing, w->hit_id) && (!self->io.stored || w->spool_pos <= stored);
        if (!gone) {
            self->watch[k++] = *w;
            continue;
        }
        S_LOG(self, LOG_LEVEL_WARN,
              "HIT %" PRIu64 " was not stored (its read was refused); it is no "
              "longer announced again",
              w->hit_id);
        free(w->frame);
    }
    self->nwatch = k;
}

/* An answer from the sync thread. One to a question given up on (announced again meanwhile)
 * still tells which HITs are done. */
void reann_answer(reann_t *self, uint64_t serial, uint64_t *acked, size_t nacked, uint64_t *missing,
                  size_t nmissing, bool answered, int64_t now)
{
    if (serial == self->ask_serial)
        self->ask_sent_us = 0; /* the thread has no question of ours left */
    s_missing(self, missing, nmissing);
    if (nacked > 0)
        qsort(acked, nacked, sizeof *acked, s_id_cmp);
    if (self->nasked > 0 && serial == self->ask_serial) {
        s_settle(self, acked, nacked, answered, now);
        return;
    }
    if (!answered || nacked == 0)
        return;
    size_t k = 0;
    for (size_t i = 0; i < self->nwatch; i++) {
        if (s_id_in(acked, nacked, self->watch[i].hit_id))
            free(self->watch[i].frame);
        else
            self->watch[k++] = self->watch[i];
    }
    self->nwatch = k;
}
