/*
 * wl: immutable watchlist snapshot. See wl.h.
 *
 * Layout: entries live in one array (the builder's, shrunk to size at build time); strings and
 * lists live in an arena of large chunks. The index is an open-addressing table with linear
 * probing; each 64-bit slot holds the high 32 bits of the plate hash (a tag) and the index of
 * the first entry of that plate, so a miss - the common case for a read - usually costs one
 * cache line of the table and never touches an entry.
 */
#include "wl.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WL_NONE         UINT32_MAX
#define WL_SLOT_EMPTY   UINT64_MAX
#define WL_MAX_ENTRIES  (UINT32_MAX - 1) /* WL_NONE must never be a real index */
#define WL_CHUNK        (1u << 20)       /* arena chunk size */
#define WL_NAME_MAX     64
#define WL_CATEGORY_MAX 32
#define WL_INTERN_SLOTS 256 /* recent-instruction cache size, a power of two */
#define WL_AHEAD        16  /* build: entries hashed and prefetched ahead of insertion */

/* Shared by every empty string so "" costs no memory per entry. */
static const char s_empty[] = "";

struct s_chunk {
    struct s_chunk *next;
    size_t size; /* bytes usable in data */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct s_arena {
    struct s_chunk *head; /* chunk being filled; large allocations go to their own chunk */
    size_t bytes;         /* heap held, headers included */
};

struct wl_builder {
    struct wl_entry *entries;
    size_t count, cap;
    struct wl_list **lists; /* open-addressing map of list id -> list (lists live in arena) */
    size_t nlists, lists_cap;
    const struct wl_list *last_list;     /* entries usually arrive grouped by list */
    const char *intern[WL_INTERN_SLOTS]; /* recent instructions, shared when repeated */
    struct s_arena arena;
};

struct wl {
    struct wl_entry *entries;
    size_t count;
    uint64_t *table; /* (hash >> 32) << 32 | first entry index; WL_SLOT_EMPTY when free */
    size_t mask;     /* table size - 1 */
    size_t nlists;
    struct s_arena arena;
};

static void s_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- arena ---- */

static void *s_arena_alloc(struct s_arena *a, size_t size, size_t align)
{
    struct s_chunk *c = a->head;
    size_t off = 0;

    if (c) {
        off = (c->used + align - 1) & ~(align - 1);
        if (off <= c->size && size <= c->size - off) {
            c->used = off + size;
            return c->data + off;
        }
    }
    /* A large block gets a chunk of its own, behind head, so head keeps its free space. */
    size_t csize = size > WL_CHUNK / 8 ? size : WL_CHUNK;
    if (csize > SIZE_MAX - sizeof(*c))
        return NULL;
    struct s_chunk *n = malloc(sizeof(*n) + csize);
    if (!n)
        return NULL;
    n->size = csize;
    n->used = size;
    a->bytes += sizeof(*n) + csize;
    if (csize == WL_CHUNK || !c) {
        n->next = c;
        a->head = n;
    } else {
        n->next = c->next;
        c->next = n;
    }
    return n->data;
}

static const char *s_arena_strdup(struct s_arena *a, const char *s)
{
    if (!s || !*s)
        return s_empty;
    size_t len = strlen(s) + 1;
    char *copy = s_arena_alloc(a, len, 1);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

static void s_arena_free(struct s_arena *a)
{
    struct s_chunk *c = a->head;
    while (c) {
        struct s_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes = 0;
}

/* ---- builder ---- */

static size_t s_list_slot(uint32_t id, size_t mask)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

static struct wl_list *s_list_find(const wl_builder_t *self, uint32_t id)
{
    if (self->lists_cap == 0)
        return NULL;
    size_t mask = self->lists_cap - 1;
    for (size_t i = s_list_slot(id, mask);; i = (i + 1) & mask) {
        if (!self->lists[i])
            return NULL;
        if (self->lists[i]->id == id)
            return self->lists[i];
    }
}

/* Grow the list map so one more list keeps it at most half full; 0 or -1. */
static int s_list_reserve(wl_builder_t *self)
{
    if ((self->nlists + 1) * 2 <= self->lists_cap)
        return 0;
    size_t cap = self->lists_cap ? self->lists_cap * 2 : 16;
    struct wl_list **map = calloc(cap, sizeof(*map));
    if (!map)
        return -1;
    for (size_t i = 0; i < self->lists_cap; i++) {
        struct wl_list *l = self->lists[i];
        if (!l)
            continue;
        size_t j = s_list_slot(l->id, cap - 1);
        while (map[j])
            j = (j + 1) & (cap - 1);
        map[j] = l;
    }
    free(self->lists);
    self->lists = map;
    self->lists_cap = cap;
    return 0;
}

wl_builder_t *wl_builder_new(void)
{
    return calloc(1, sizeof(wl_builder_t));
}

void wl_builder_destroy(wl_builder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wl_builder_t *self = *self_p;
    free(self->entries);
    free(self->lists);
    s_arena_free(&self->arena);
    free(self);
    *self_p = NULL;
}

int wl_builder_add_list(wl_builder_t *self, uint32_t id, const char *name, const char *category,
                        uint8_t priority, char *err, size_t errlen)
{
    size_t name_len = name ? strlen(name) : 0;
    size_t cat_len = category ? strlen(category) : 0;

    if (!self) {
        s_err(err, errlen, "list %u: no builder", id);
        return -1;
    }
    if (priority < 1 || priority > 9) {
        s_err(err, errlen, "list %u: priority %u not in 1..9", id, priority);
        return -1;
    }
    if (name_len < 1 || name_len > WL_NAME_MAX) {
        s_err(err, errlen, "list %u: name must be 1..%d bytes", id, WL_NAME_MAX);
        return -1;
    }
    if (cat_len < 1 || cat_len > WL_CATEGORY_MAX) {
        s_err(err, errlen, "list %u: category must be 1..%d bytes", id, WL_CATEGORY_MAX);
        return -1;
    }
    if (s_list_find(self, id)) {
        s_err(err, errlen, "list %u: duplicate id", id);
        return -1;
    }
    if (s_list_reserve(self) < 0)
        goto oom;
    struct wl_list *l = s_arena_alloc(&self->arena, sizeof(*l), alignof(struct wl_list));
    if (!l)
        goto oom;
    l->id = id;
    l->priority = priority;
    l->name = s_arena_strdup(&self->arena, name);
    l->category = s_arena_strdup(&self->arena, category);
    if (!l->name || !l->category)
        goto oom; /* l stays in the arena unreferenced; freed with it */

    size_t i = s_list_slot(id, self->lists_cap - 1);
    while (self->lists[i])
        i = (i + 1) & (self->lists_cap - 1);
    self->lists[i] = l;
    self->nlists++;
    return 0;

oom:
    s_err(err, errlen, "list %u: out of memory", id);
    return -1;
}

/* Copy of an instruction, shared with an earlier entry's when the text repeats. */
static const char *s_intern(wl_builder_t *self, const char *s)
{
    if (!s || !*s)
        return s_empty;
    size_t len = strlen(s);
    size_t slot = (size_t)plate_hash(s, len) & (WL_INTERN_SLOTS - 1);
    if (self->intern[slot] && strcmp(self->intern[slot], s) == 0)
        return self->intern[slot];
    const char *copy = s_arena_strdup(&self->arena, s);
    if (copy)
        self->intern[slot] = copy;
    return copy;
}

/* Quote raw for an error message: bounded, control characters replaced. */
static void s_quote(const char *raw, char *buf, size_t len)
{
    size_t n = 0, i = 0;

    for (; raw[i] && n + 4 < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        buf[n++] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    if (raw[i]) {
        /* Cut on a UTF-8 boundary, then mark the truncation. */
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80)
            n--;
        if (n > 0 && ((unsigned char)buf[n - 1] & 0x80))
            n--;
        buf[n++] = '.';
        buf[n++] = '.';
        buf[n++] = '.';
    }
    buf[n] = '\0';
}

static const char *s_plate_why(enum plate_status st)
{
    switch (st) {
    case PLATE_EMPTY:
        return "no letters or digits";
    case PLATE_LONG:
        return "more than 16 characters";
    case PLATE_INVALID:
        return "invalid character";
    case PLATE_OK:
        break;
    }
    return "ok";
}

int wl_builder_add(wl_builder_t *self, const struct wl_entry_in *in, char *err, size_t errlen)
{
    if (!self || !in) {
        s_err(err, errlen, "no builder or no entry");
        return -1;
    }
    unsigned long long id = (unsigned long long)in->id;
    char plate[PLATE_MAX + 1];
    const char *country = in->country ? in->country : "";
    const struct wl_list *list = self->last_list;
    if (!list || list->id != in->list_id) {
        list = s_list_find(self, in->list_id);
        if (!list) {
            s_err(err, errlen, "entry %llu: unknown list %u", id, in->list_id);
            return -1;
        }
        self->last_list = list;
    }

    enum plate_status st = plate_normalise(in->plate, plate);
    if (st != PLATE_OK) {
        char q[48];
        s_quote(in->plate ? in->plate : "", q, sizeof(q));
        s_err(err, errlen, "entry %llu: plate \"%s\": %s", id, q, s_plate_why(st));
        return -1;
    }

    if (country[0] && !(country[0] >= 'A' && country[0] <= 'Z' && country[1] >= 'A' &&
                        country[1] <= 'Z' && country[2] == '\0')) {
        char q[16];
        s_quote(country, q, sizeof(q));
        s_err(err, errlen, "entry %llu: country \"%s\": not empty or 2 letters A-Z", id, q);
        return -1;
    }

    if (in->valid_from_us >= in->valid_until_us) {
        s_err(err, errlen, "entry %llu: valid_from is not before valid_until", id);
        return -1;
    }

    if (self->count == self->cap) {
        if (self->cap >= WL_MAX_ENTRIES) {
            s_err(err, errlen, "entry %llu: more than %lu entries", id,
                  (unsigned long)WL_MAX_ENTRIES);
            return -1;
        }
        size_t cap = self->cap ? self->cap * 2 : 1024;
        if (cap > WL_MAX_ENTRIES)
            cap = WL_MAX_ENTRIES;
        if (cap > SIZE_MAX / sizeof(struct wl_entry))
            goto oom;
        struct wl_entry *e = realloc(self->entries, cap * sizeof(*e));
        if (!e)
            goto oom;
        self->entries = e;
        self->cap = cap;
    }

    struct wl_entry *e = &self->entries[self->count];
    /* Zero-padded, so entries compare and dump byte for byte. */
    memset(e->plate, 0, sizeof(e->plate));
    memcpy(e->plate, plate, strlen(plate));
    e->instruction = s_intern(self, in->instruction);
    e->external_ref = s_arena_strdup(&self->arena, in->external_ref);
    if (!e->instruction || !e->external_ref)
        goto oom; /* copies already made stay in the arena; count is not advanced */
    e->id = in->id;
    e->list = list;
    memset(e->country, 0, sizeof(e->country));
    memcpy(e->country, country, strlen(country));
    e->valid_from_us = in->valid_from_us;
    e->valid_until_us = in->valid_until_us;
    e->next = WL_NONE;
    self->count++;
    return 0;

oom:
    s_err(err, errlen, "entry %llu: out of memory", id);
    return -1;
}

/* ---- snapshot ---- */

/* Hash e's plate and start fetching its home slot: the table is far bigger than the caches. */
static uint64_t s_hash_prefetch(const wl_t *self, const struct wl_entry *e)
{
    uint64_t h = plate_hash(e->plate, strlen(e->plate));
#if defined(__GNUC__)
    __builtin_prefetch(&self->table[(size_t)h & self->mask], 1);
#endif
    return h;
}

wl_t *wl_builder_build(wl_builder_t **self_p)
{
    wl_builder_t *b = self_p ? *self_p : NULL;
    wl_t *self = NULL;

    if (!b)
        return NULL;
    *self_p = NULL;
    self = calloc(1, sizeof(*self));
    if (!self)
        goto fail;

    /* Give back the growth slack; if the shrink fails the larger block is kept. */
    if (b->count > 0 && b->count < b->cap) {
        struct wl_entry *e = realloc(b->entries, b->count * sizeof(*e));
        if (e)
            b->entries = e;
    }

    /* Power of two, at most 70% full. */
    size_t size = 16;
    while (size * 7 < b->count * 10)
        size *= 2;
    self->table = malloc(size * sizeof(*self->table));
    if (!self->table)
        goto fail;
    memset(self->table, 0xff, size * sizeof(*self->table));
    self->mask = size - 1;

    /*
     * Backwards, each entry goes to the front of its plate's chain, so a chain lists entries
     * in the order they were added.
     */
    struct wl_entry *entries = b->entries;
    uint64_t ring[WL_AHEAD]; /* hashes of the next entries, whose slots are being prefetched */
    for (size_t k = 0; k < WL_AHEAD && k < b->count; k++) {
        size_t j = b->count - 1 - k;
        ring[j % WL_AHEAD] = s_hash_prefetch(self, &entries[j]);
    }
    for (size_t i = b->count; i-- > 0;) {
        struct wl_entry *e = &entries[i];
        uint64_t h = ring[i % WL_AHEAD];
        if (i >= WL_AHEAD)
            ring[i % WL_AHEAD] = s_hash_prefetch(self, &entries[i - WL_AHEAD]);
        uint64_t tag = h >> 32 << 32;
        for (size_t pos = (size_t)h & self->mask;; pos = (pos + 1) & self->mask) {
            uint64_t slot = self->table[pos];
            if (slot == WL_SLOT_EMPTY) {
                self->table[pos] = tag | i;
                break;
            }
            if ((slot & ~(uint64_t)UINT32_MAX) == tag &&
                strcmp(entries[(uint32_t)slot].plate, e->plate) == 0) {
                e->next = (uint32_t)slot;
                self->table[pos] = tag | i;
                break;
            }
        }
    }

    self->entries = b->entries;
    self->count = b->count;
    self->nlists = b->nlists;
    self->arena = b->arena;
    b->entries = NULL;
    b->arena.head = NULL;
    wl_builder_destroy(&b);
    return self;

fail:
    if (self)
        free(self->table);
    free(self);
    wl_builder_destroy(&b);
    return NULL;
}

void wl_destroy(wl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wl_t *self = *self_p;
    free(self->entries);
    free(self->table);
    s_arena_free(&self->arena);
    free(self);
    *self_p = NULL;
}

size_t wl_entry_count(const wl_t *self)
{
    return self ? self->count : 0;
}

size_t wl_list_count(const wl_t *self)
{
    return self ? self->nlists : 0;
}

size_t wl_memory_bytes(const wl_t *self)
{
    if (!self)
        return 0;
    return sizeof(*self) + self->count * sizeof(struct wl_entry) +
           (self->mask + 1) * sizeof(*self->table) + self->arena.bytes;
}

size_t wl_lookup(const wl_t *self, const char *plate, const char *country, int64_t time_us,
                 const struct wl_entry **out, size_t max)
{
    if (!self || !plate)
        return 0;
    size_t len = strnlen(plate, PLATE_MAX + 1);
    if (len == 0 || len > PLATE_MAX)
        return 0;
    if (!country)
        country = "";

    uint64_t h = plate_hash(plate, len);
    uint64_t tag = h >> 32 << 32;
    uint32_t first = WL_NONE;
    for (size_t pos = (size_t)h & self->mask;; pos = (pos + 1) & self->mask) {
        uint64_t slot = self->table[pos];
        if (slot == WL_SLOT_EMPTY)
            return 0;
        if ((slot & ~(uint64_t)UINT32_MAX) == tag &&
            memcmp(self->entries[(uint32_t)slot].plate, plate, len + 1) == 0) {
            first = (uint32_t)slot;
            break;
        }
    }

    size_t n = 0;
    for (uint32_t i = first; i != WL_NONE; i = self->entries[i].next) {
        const struct wl_entry *e = &self->entries[i];
        if (time_us < e->valid_from_us || time_us >= e->valid_until_us)
            continue;
        if (e->country[0] && country[0] && strcmp(e->country, country) != 0)
            continue;
        if (n < max)
            out[n] = e;
        n++;
    }
    return n;
}
