/*
 * wl: immutable watchlist snapshot and its matcher. See wl.h.
 *
 * Layout: entries live in one array (the builder's, shrunk to size at build time); strings and
 * lists live in an arena of large chunks. Three open-addressing tables with linear probing index
 * the entries; each 64-bit slot holds a 32-bit tag and a 32-bit entry index, so a miss - the
 * common case for a read - usually costs one cache line of a table and never touches an entry:
 *
 *   main   plate entries under their canonical key (every character replaced by its OCR class
 *          representative); slot = high 32 bits of the key's hash | index of the first entry
 *          with that key; entries with the same key are chained through wl_entry.next in the
 *          order they were added. Exact and OCR verification both start from this one probe.
 *   del    entries of OCR lists with indel, under each distinct single-character deletion of
 *          their canonical key. Many entries may share a deletion key, and an entry has several
 *          keys, so slots are not chained: every slot of the probe run with a matching tag is a
 *          candidate, which the matcher verifies anyway.
 *   tri    patterns, under the first run of three literal characters of their canonical form;
 *          slot = the trigram itself (24 bits, so the tag is exact) | first pattern, chained.
 *          Patterns without such a run are chained from `unanchored` and tried on every read.
 *
 * A reading costs one probe of main; with indel lists also one of del and one of main per
 * distinct deletion of the reading (at most 16, all prefetched at once); with patterns one of
 * the small tri table per trigram of the reading, and the unanchored patterns. Candidates cost
 * the same again, and only if some list takes them.
 *
 * Nothing in the snapshot changes after build, and the matcher keeps its state on the stack (or
 * in a heap block of its own for reads with very many hits), so reads need no locking.
 *
 * Patching: a change to a few entries of a 10 M-entry list must not rebuild the whole snapshot.
 * A patched snapshot is a small one of its own (the changed entries as they are now) over a
 * shared, reference-counted base, and the set of entry ids it hides in the base (every id
 * changed since the base was built: updated, removed or added). A read is matched against
 * both layers, skipping hidden base entries; the next patch starts again from the base with
 * the changes accumulated, so there are never more than two layers.
 */
#include "wl.h"

#include "idset.h"

#include "proto.h"
#include "util.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define WL_NONE         UINT32_MAX
#define WL_SLOT_EMPTY   UINT64_MAX
#define WL_MAX_ENTRIES  (UINT32_MAX - 1) /* WL_NONE must never be a real index */
#define WL_CHUNK        (1u << 20)       /* arena chunk size */
#define WL_NAME_MAX     64
#define WL_CATEGORY_MAX 32
#define WL_INTERN_SLOTS 256 /* recent-instruction cache size, a power of two */
#define WL_AHEAD        16  /* build: table slots prefetched ahead of insertion, a power of two */
#define WL_HITS_STACK   32  /* matcher: hits kept on the stack before it needs the heap */
#define WL_DETAIL_MAX   63  /* characters in wl_match.detail */

/* How an entry matched a reading, in order of preference. */
enum s_method {
    S_EXACT = 0,
    S_OCR = 1,
    S_PATTERN = 2,
};

/* wl_match: how the reading differs from the entry by one character more or less. */
enum s_indel {
    S_INDEL_NONE = 0,
    S_INDEL_MISSING = 1, /* the reading lacks the entry's character at indel_pos */
    S_INDEL_EXTRA = 2,   /* the reading has a character the entry lacks, at indel_pos */
};

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

/* An open-addressing table of 64-bit slots; see the top of the file for what they hold. */
struct s_table {
    uint64_t *slots; /* NULL when the snapshot needs no such table */
    size_t mask;     /* size - 1, size a power of two */
};

struct wl_builder {
    struct wl_entry *entries;
    size_t count, cap;
    size_t npatterns;
    size_t ntwins;          /* entries that are another entry's reading without euroband */
    struct wl_list **lists; /* open-addressing map of list id -> list (lists live in arena) */
    size_t nlists, lists_cap;
    const struct wl_list *last_list;     /* entries usually arrive grouped by list */
    const char *intern[WL_INTERN_SLOTS]; /* recent instructions, shared when repeated */
    unsigned char canon[256];            /* see s_classes_parse */
    struct s_arena arena;
    wl_t *base;      /* a patch: the snapshot it patches (a reference held), or NULL */
    idset_t *hidden; /* a patch: the base's entries it hides */
};

/* An unanchored pattern as the matcher scans it on every reading: what rules most readings out
 * without touching the entry. */
struct s_upat {
    uint32_t idx;           /* entry */
    uint8_t minlen, maxlen; /* readings of other lengths cannot match */
    uint8_t star;           /* position of its only '*', or UINT8_MAX (none, or several) */
    char plate[PLATE_MAX + 1];
};

struct wl {
    struct wl_entry *entries;
    size_t count;
    size_t npatterns;
    size_t ntwins; /* entries that are another entry's reading without euroband (wl_entry.twin) */
    size_t nlists;
    struct s_table main, del, tri;
    bool indel; /* some entry of its own takes one character more or missing (an entry of one
                   character has no deletion key, so del may be empty all the same) */
    uint32_t unanchored; /* first pattern without a literal trigram, chained by next */
    struct s_upat *upat; /* the same patterns, shortest first, or NULL (then the chain) */
    size_t nupat;
    uint64_t tribits[(36 * 36 * 36 + 63) / 64]; /* the anchor trigrams, by s_tribit */
    bool candidates;                            /* some list matches candidate readings */
    unsigned char canon[256];                   /* see s_classes_parse */
    uint64_t canon_id;                          /* hash of canon, never 0: see wl_prep */
    struct s_arena arena;
    struct wl_list **lists; /* map of list id -> list, as in the builder (for patches) */
    size_t lists_cap;
    wl_t *base;       /* patched: the base snapshot (a reference held), or NULL */
    idset_t *hidden;  /* patched: the base's entries this snapshot hides */
    atomic_uint refs; /* holders: wl_ref() adds one, wl_destroy() drops one */
};

/* One way an entry matched, kept by the matcher until the best per entry is known. */
struct s_hit {
    uint32_t idx;    /* entry, in its layer (a twin when it matched through one) */
    uint32_t entry;  /* the entry listed: idx, or the entry the twin idx reads */
    uint8_t layer;   /* 0: the base (or only) layer, 1: a patch's own entries */
    uint8_t reading; /* query reading */
    uint8_t form;    /* query form (struct wl_prep): the reading, or its alt */
    uint8_t method;  /* enum s_method */
    uint8_t indel;   /* enum s_indel */
    uint8_t indel_pos;
    uint8_t nsubst;
    uint8_t subst_pos[WL_MAX_SUBST]; /* positions in the entry's plate, 0-based */
    uint8_t priority;                /* of the entry's list, for sorting */
};

/* The matcher's state for one wl_match call. */
struct s_ctx {
    const wl_t *wl;        /* the layer being matched */
    uint8_t layer;         /* its s_hit.layer */
    const idset_t *hidden; /* entries of this layer that must not hit, or NULL */
    const struct wl_query *q;
    const char *country; /* q->country, an alias resolved (UK is GB) */
    size_t reading;      /* index into q->plate */
    size_t form;         /* reading, or WL_READINGS_MAX + reading for its alt */
    const char *read;    /* q->plate[reading] or q->alt[reading] */
    uint16_t conf;       /* q->confidence[reading] */
    struct s_hit *hits;  /* stack[] or a heap block */
    size_t nhits, cap;
    size_t lost; /* hits not stored for want of memory: counted, never deduplicated */
    struct s_hit stack[WL_HITS_STACK];
};

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

/* ---- OCR classes and canonical keys ---- */

static bool s_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * Parse "0ODQ,1IL,..." into a map of every byte to its canonical character: letters and digits
 * to the first character of their group (themselves when in none), everything else to 0, so
 * that canonicalising also rejects what is not a normalised plate. 0 or -1 with a message.
 */
static int s_classes_parse(const char *classes, unsigned char map[256], char *err, size_t errlen)
{
    const char *group_of[256] = {NULL}; /* where each character was first seen */
    size_t group_len[256] = {0};
    const char *p = classes;

    for (int c = 0; c < 256; c++)
        map[c] = s_alnum((unsigned char)c) ? (unsigned char)c : 0;
    if (!*p)
        return 0; /* no classes: OCR lists then match exactly (but still indel if allowed) */
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        /* Blanks around a group are allowed, so "0ODQ, 1IL" reads as intended. */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        size_t len = (size_t)(end - p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        int shown = len > 40 ? 40 : (int)len;
        if (len == 0) {
            util_errf(err, errlen, "OCR classes: empty group at offset %zu", (size_t)(p - classes));
            return -1;
        }
        if (len < 2) {
            util_errf(err, errlen, "OCR class \"%.*s\": a group needs at least two characters",
                      shown, p);
            return -1;
        }
        unsigned char rep = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c >= 'a' && c <= 'z')
                c = (unsigned char)(c - 'a' + 'A');
            if (!s_alnum(c)) {
                if (c >= 0x20 && c < 0x7f)
                    util_errf(err, errlen, "OCR class \"%.*s\": '%c' is not a letter or digit",
                              shown, p, c);
                else
                    util_errf(err, errlen,
                              "OCR class \"%.*s\": byte 0x%02X is not a letter or digit", shown, p,
                              c);
                return -1;
            }
            if (group_of[c]) {
                if (group_of[c] == p)
                    util_errf(err, errlen, "OCR class \"%.*s\": '%c' appears twice", shown, p, c);
                else
                    util_errf(err, errlen, "OCR classes: '%c' is in \"%.*s\" and in \"%.*s\"", c,
                              group_len[c] > 40 ? 40 : (int)group_len[c], group_of[c], shown, p);
                return -1;
            }
            group_of[c] = p;
            group_len[c] = len;
            if (i == 0)
                rep = c;
            map[c] = rep;
        }
        if (!*end)
            return 0;
        p = end + 1;
    }
}

/* The canonical key of a normalised plate: its length, or 0 if it is empty, too long or holds
 * anything but letters and digits (a reading that is not normalised never matches). */
static size_t s_canon(const unsigned char *map, const char *plate, char out[PLATE_MAX + 1])
{
    size_t n = 0;

    for (; plate[n]; n++) {
        unsigned char c = map[(unsigned char)plate[n]];
        if (!c || n == PLATE_MAX)
            return 0;
        out[n] = (char)c;
    }
    out[n] = '\0';
    return n;
}

/* Whether plate (a normalised entry plate) has canonical key `key` of length n. */
static bool s_canon_eq(const unsigned char *map, const char *plate, const char *key, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (map[(unsigned char)plate[i]] != (unsigned char)key[i])
            return false;
    return plate[n] == '\0';
}

static uint64_t s_hash(const char *key, size_t n)
{
    return (uint64_t)plate_hash(key, n);
}

static uint32_t s_trigram(const char *p)
{
    return (uint32_t)(unsigned char)p[0] << 16 | (uint32_t)(unsigned char)p[1] << 8 |
           (unsigned char)p[2];
}

/* 0..35 for a character of a canonical key (0-9, A-Z). */
static size_t s_code36(unsigned c)
{
    return c >= 'A' ? c - 'A' + 10 : c - '0';
}

/* The bit of a canonical trigram (three of A-Z, 0-9, see s_trigram) in wl.tribits. */
static size_t s_tribit(uint32_t t)
{
    return (s_code36(t >> 16 & 0xFF) * 36 + s_code36(t >> 8 & 0xFF)) * 36 + s_code36(t & 0xFF);
}

static size_t s_trigram_home(uint32_t t, size_t mask)
{
    return (size_t)(((uint64_t)t * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

/*
 * The anchor of a canonical pattern: of its trigrams of three literal characters, the one the
 * fewest patterns share (freq, sorted, counts them over all patterns), so a read's probe of the
 * trigram table finds short chains. WL_NONE when it has no such trigram. With freq NULL, the
 * first.
 */
static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static size_t s_trigram_freq(const uint32_t *freq, size_t nfreq, uint32_t t)
{
    const uint32_t *p = bsearch(&t, freq, nfreq, sizeof *freq, s_cmp_u32);
    size_t n = 0;

    if (!p)
        return 0;
    while (p > freq && p[-1] == t)
        p--;
    for (; p < freq + nfreq && *p == t; p++)
        n++;
    return n;
}

static uint32_t s_pattern_anchor(const char *canon, const uint32_t *freq, size_t nfreq)
{
    uint32_t best = WL_NONE;
    size_t best_n = SIZE_MAX, run = 0;

    for (size_t i = 0; canon[i]; i++) {
        run = (canon[i] == '?' || canon[i] == '*') ? 0 : run + 1;
        if (run < 3)
            continue;
        uint32_t t = s_trigram(canon + i - 2);
        if (!freq)
            return t;
        size_t n = s_trigram_freq(freq, nfreq, t);
        if (n < best_n) {
            best = t;
            best_n = n;
        }
    }
    return best;
}

/* Delete key[j] from key (length n) into out. Deleting any character of a run of equal ones
 * gives the same key, so callers delete only the first of a run (skip key[j] == key[j - 1]). */
static void s_delete(const char *key, size_t n, size_t j, char out[PLATE_MAX + 1])
{
    memcpy(out, key, j);
    memcpy(out + j, key + j + 1, n - j); /* with the NUL */
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
    wl_builder_t *self = calloc(1, sizeof(*self));

    if (self && s_classes_parse(WL_DEFAULT_CLASSES, self->canon, NULL, 0) != 0) {
        free(self); /* cannot happen: the default is valid */
        return NULL;
    }
    return self;
}

void wl_builder_destroy(wl_builder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wl_builder_t *self = *self_p;
    free(self->entries);
    free(self->lists);
    s_arena_free(&self->arena);
    idset_destroy(&self->hidden);
    wl_destroy(&self->base);
    free(self);
    *self_p = NULL;
}

/* Add a copy of entry e (of a snapshot whose lists this builder has); 0 or -1. */
static int s_builder_copy(wl_builder_t *self, const struct wl_entry *e, char *err, size_t errlen)
{
    struct wl_entry_in in = {.id = e->id,
                             .list_id = e->list->id,
                             .plate = e->plate,
                             .country = e->country,
                             .valid_from_us = e->valid_from_us,
                             .valid_until_us = e->valid_until_us,
                             .instruction = e->instruction,
                             .external_ref = e->external_ref};
    return wl_builder_add(self, &in, err, errlen);
}

wl_builder_t *wl_builder_patch(wl_t *prev, const idset_t *changed, char *err, size_t errlen)
{
    wl_t *base = prev && prev->base ? prev->base : prev;
    wl_builder_t *self = NULL;
    size_t pos = 0;
    uint64_t id;

    if (!base) {
        util_errf(err, errlen, "patch: no snapshot to patch");
        return NULL;
    }
    self = calloc(1, sizeof(*self));
    if (!self)
        goto oom;
    memcpy(self->canon, base->canon, sizeof(self->canon));
    self->base = wl_ref(base);
    /* Hidden: whatever the previous patch hid, and what changed since. */
    self->hidden = prev->hidden ? idset_dup(prev->hidden) : idset_new();
    if (!self->hidden)
        goto oom;
    while (changed && idset_next(changed, &pos, &id))
        if (idset_add(self->hidden, id) != 0)
            goto oom;
    /* The base's lists, shared: a change of lists needs a full build (see db.h). */
    if (base->lists_cap > 0) {
        self->lists = malloc(base->lists_cap * sizeof(*self->lists));
        if (!self->lists)
            goto oom;
        memcpy(self->lists, base->lists, base->lists_cap * sizeof(*self->lists));
        self->lists_cap = base->lists_cap;
        self->nlists = base->nlists;
    }
    /* The previous patch's entries that did not change again are carried over. */
    for (size_t i = 0; prev->base && i < prev->count; i++) {
        const struct wl_entry *e = &prev->entries[i];
        /* A twin comes again with the entry it reads. */
        if (!e->twin && !idset_has(changed, e->id) && s_builder_copy(self, e, err, errlen) != 0)
            goto fail;
    }
    return self;

oom:
    util_errf(err, errlen, "patch: out of memory");
fail:
    wl_builder_destroy(&self);
    return NULL;
}

int wl_builder_set_classes(wl_builder_t *self, const char *classes, char *err, size_t errlen)
{
    unsigned char map[256];

    if (!self) {
        util_errf(err, errlen, "OCR classes: no builder");
        return -1;
    }
    if (self->base) {
        util_errf(err, errlen, "OCR classes: a patch keeps those of the snapshot it patches");
        return -1;
    }
    /* Parsed into a copy: on error the builder keeps the classes it had. */
    if (s_classes_parse(classes ? classes : WL_DEFAULT_CLASSES, map, err, errlen) != 0)
        return -1;
    memcpy(self->canon, map, sizeof(map));
    return 0;
}

int wl_builder_add_list(wl_builder_t *self, uint32_t id, const char *name, const char *category,
                        uint8_t priority, const struct wl_list_opts *opts, char *err, size_t errlen)
{
    size_t name_len = name ? strlen(name) : 0;
    size_t cat_len = category ? strlen(category) : 0;
    const struct wl_list_opts none = {0};

    if (!opts)
        opts = &none; /* exact, primary reading only, any confidence */
    if (!self) {
        util_errf(err, errlen, "list %u: no builder", id);
        return -1;
    }
    if (priority < 1 || priority > 9) {
        util_errf(err, errlen, "list %u: priority %u not in 1..9", id, priority);
        return -1;
    }
    if (name_len < 1 || name_len > WL_NAME_MAX) {
        util_errf(err, errlen, "list %u: name must be 1..%d bytes", id, WL_NAME_MAX);
        return -1;
    }
    if (cat_len < 1 || cat_len > WL_CATEGORY_MAX) {
        util_errf(err, errlen, "list %u: category must be 1..%d bytes", id, WL_CATEGORY_MAX);
        return -1;
    }
    /* max_subst and indel are checked whatever the policy, but only an OCR list uses them:
     * the schema's defaults give exact lists a max_subst too. */
    if (opts->policy != WL_POLICY_EXACT && opts->policy != WL_POLICY_OCR) {
        util_errf(err, errlen, "list %u: match policy %u is neither exact (0) nor ocr (1)", id,
                  opts->policy);
        return -1;
    }
    if (opts->max_subst > WL_MAX_SUBST) {
        util_errf(err, errlen, "list %u: max_subst %u not in 0..%d", id, opts->max_subst,
                  WL_MAX_SUBST);
        return -1;
    }
    if (opts->min_confidence > 1000) {
        util_errf(err, errlen, "list %u: min_confidence %u not in 0..1000", id,
                  opts->min_confidence);
        return -1;
    }
    if (s_list_find(self, id)) {
        util_errf(err, errlen, "list %u: duplicate id", id);
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
    l->opts = *opts;
    if (!l->name || !l->category)
        goto oom; /* l stays in the arena unreferenced; freed with it */

    size_t i = s_list_slot(id, self->lists_cap - 1);
    while (self->lists[i])
        i = (i + 1) & (self->lists_cap - 1);
    self->lists[i] = l;
    self->nlists++;
    return 0;

oom:
    util_errf(err, errlen, "list %u: out of memory", id);
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

/*
 * Whether a pattern that did not normalise failed for want of a letter or digit rather than
 * for a bad character: without its wildcards it would normalise to nothing.
 */
static bool s_wildcards_only(const char *raw)
{
    char copy[256], out[PLATE_MAX + 1];
    size_t n = 0;

    for (; *raw; raw++) {
        if (*raw == '?' || *raw == '*')
            continue;
        if (n + 1 == sizeof(copy))
            return false; /* too long to tell; "invalid character" then */
        copy[n++] = *raw;
    }
    copy[n] = '\0';
    return plate_normalise(copy, out) == PLATE_EMPTY;
}

int wl_builder_add(wl_builder_t *self, const struct wl_entry_in *in, char *err, size_t errlen)
{
    if (!self || !in) {
        util_errf(err, errlen, "no builder or no entry");
        return -1;
    }
    unsigned long long id = (unsigned long long)in->id;
    char plate[PLATE_MAX + 1], alt[PLATE_MAX + 1];
    const char *country = plate_country(in->country ? in->country : "");
    const struct wl_list *list = self->last_list;
    if (!list || list->id != in->list_id) {
        list = s_list_find(self, in->list_id);
        if (!list) {
            util_errf(err, errlen, "entry %llu: unknown list %u", id, in->list_id);
            return -1;
        }
        self->last_list = list;
    }

    /* A '?' or '*' makes the entry a pattern; anything else must be a plate. */
    bool pattern = in->plate && strpbrk(in->plate, "?*");
    enum plate_status st = pattern ? plate_normalise_pattern(in->plate, plate)
                                   : plate_normalise_cc(in->plate, country, plate);
    if (st != PLATE_OK) {
        const char *why = s_plate_why(st);
        if (pattern && st == PLATE_INVALID && s_wildcards_only(in->plate))
            why = "no letters or digits, only wildcards";
        /* The id, never the plate: the message goes to logs (a plate is personal data). */
        util_errf(err, errlen, "entry %llu: %s: %s", id, pattern ? "pattern" : "plate", why);
        return -1;
    }
    pattern = plate_is_pattern(plate);

    if (country[0] && !(country[0] >= 'A' && country[0] <= 'Z' && country[1] >= 'A' &&
                        country[1] <= 'Z' && country[2] == '\0')) {
        char q[16];
        s_quote(country, q, sizeof(q));
        util_errf(err, errlen, "entry %llu: country \"%s\": not empty or 2 letters A-Z", id, q);
        return -1;
    }

    if (in->valid_from_us >= in->valid_until_us) {
        util_errf(err, errlen, "entry %llu: valid_from is not before valid_until", id);
        return -1;
    }

    /* An entry that may carry a euroband code is indexed under both readings, as a read is. */
    bool twin = !pattern && plate_euroband(country, plate, alt);
    if (self->count + twin >= self->cap) {
        if (self->cap >= WL_MAX_ENTRIES - 1) {
            util_errf(err, errlen, "entry %llu: more than %lu entries", id,
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
    e->pattern = pattern;
    e->twin = false;
    e->valid_from_us = in->valid_from_us;
    e->valid_until_us = in->valid_until_us;
    e->next = WL_NONE;
    e->primary = WL_NONE;
    if (twin) {
        struct wl_entry *t = &self->entries[self->count + 1];
        *t = *e;
        memset(t->plate, 0, sizeof(t->plate));
        memcpy(t->plate, alt, strlen(alt));
        t->twin = true;
        t->primary = (uint32_t)self->count;
        self->ntwins++;
    }
    self->count += 1 + twin;
    self->npatterns += pattern;
    return 0;

oom:
    util_errf(err, errlen, "entry %llu: out of memory", id);
    return -1;
}

/* ---- snapshot ---- */

/*
 * A block for a large table. A lookup is a random probe into tables of up to a few hundred MB:
 * with 4 KiB pages nearly every probe also misses the TLB, so tables of 2 MiB and more are
 * aligned for, and offered to, transparent huge pages (a hint: without them it works as before).
 */
static void *s_big_alloc(size_t bytes)
{
    enum { HUGE = 2u << 20 };
    void *p = NULL;

    if (bytes < HUGE)
        return malloc(bytes);
    bytes = (bytes + HUGE - 1) & ~(size_t)(HUGE - 1);
    if (posix_memalign(&p, HUGE, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

/* A table for n keys: a power of two, at most 70% full; 0 or -1. */
static int s_table_alloc(struct s_table *t, size_t n)
{
    size_t size = 16;

    while (size * 7 < n * 10) {
        if (size > SIZE_MAX / 2 / sizeof(*t->slots))
            return -1;
        size *= 2;
    }
    t->slots = s_big_alloc(size * sizeof(*t->slots));
    if (!t->slots)
        return -1;
    memset(t->slots, 0xff, size * sizeof(*t->slots));
    t->mask = size - 1;
    return 0;
}

static size_t s_table_bytes(const struct s_table *t)
{
    return t->slots ? (t->mask + 1) * sizeof(*t->slots) : 0;
}

static bool s_indel_entry(const struct wl_entry *e)
{
    return !e->pattern && e->list->opts.policy == WL_POLICY_OCR && e->list->opts.indel;
}

/*
 * Build-time insertions go through a ring: a slot is prefetched when its insertion is queued
 * and written WL_AHEAD insertions later, by which time it is in the cache (the tables are far
 * bigger than the caches). The ring is FIFO, so insertions keep their order.
 */
struct s_ring {
    uint64_t hash[WL_AHEAD];
    uint32_t idx[WL_AHEAD];
    size_t head, len;
};

static void s_prefetch(const struct s_table *t, uint64_t h)
{
#if defined(__GNUC__)
    __builtin_prefetch(&t->slots[(size_t)h & t->mask], 1);
#else
    (void)t;
    (void)h;
#endif
}

/* Main table: entry idx goes to the front of its key's chain (callers go backwards). */
static void s_insert_main(wl_t *self, uint64_t h, uint32_t idx)
{
    struct wl_entry *e = &self->entries[idx];
    uint64_t tag = h >> 32 << 32;
    char key[PLATE_MAX + 1];
    size_t n = 0; /* the key, computed on the first tag match only: most keys are unique */

    for (size_t pos = (size_t)h & self->main.mask;; pos = (pos + 1) & self->main.mask) {
        uint64_t slot = self->main.slots[pos];
        if (slot != WL_SLOT_EMPTY) {
            if ((slot & ~(uint64_t)UINT32_MAX) != tag)
                continue;
            if (n == 0)
                n = s_canon(self->canon, e->plate, key);
            if (!s_canon_eq(self->canon, self->entries[(uint32_t)slot].plate, key, n))
                continue;
        }
        e->next = slot == WL_SLOT_EMPTY ? WL_NONE : (uint32_t)slot;
        self->main.slots[pos] = tag | idx;
        return;
    }
}

/* Deletion table: one more slot, wherever the probe run has room. */
static void s_insert_del(wl_t *self, uint64_t h, uint32_t idx)
{
    size_t pos = (size_t)h & self->del.mask;

    while (self->del.slots[pos] != WL_SLOT_EMPTY)
        pos = (pos + 1) & self->del.mask;
    self->del.slots[pos] = (h >> 32 << 32) | idx;
}

typedef void (*s_insert_fn)(wl_t *self, uint64_t h, uint32_t idx);

static void s_ring_push(wl_t *self, struct s_ring *r, const struct s_table *t, s_insert_fn ins,
                        uint64_t h, uint32_t idx)
{
    if (r->len == WL_AHEAD) {
        ins(self, r->hash[r->head], r->idx[r->head]);
        r->head = (r->head + 1) & (WL_AHEAD - 1);
        r->len--;
    }
    size_t tail = (r->head + r->len) & (WL_AHEAD - 1);
    r->hash[tail] = h;
    r->idx[tail] = idx;
    r->len++;
    s_prefetch(t, h);
}

static void s_ring_flush(wl_t *self, struct s_ring *r, s_insert_fn ins)
{
    for (; r->len > 0; r->len--) {
        ins(self, r->hash[r->head], r->idx[r->head]);
        r->head = (r->head + 1) & (WL_AHEAD - 1);
    }
}

/* A pattern's plate in canonical form (wildcards kept) into canon. */
static void s_pattern_canon(const wl_t *self, const char *plate, char canon[PLATE_MAX + 1])
{
    size_t n = 0;

    for (; plate[n]; n++) {
        unsigned char c = (unsigned char)plate[n];
        canon[n] = (char)(c == '?' || c == '*' ? c : self->canon[c]);
    }
    canon[n] = '\0';
}

/* Index the patterns: by anchor trigram, else on the unanchored chain; both in added order. */
static int s_cmp_upat(const void *pa, const void *pb)
{
    const struct s_upat *a = pa, *b = pb;

    if (a->minlen != b->minlen)
        return a->minlen < b->minlen ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void s_index_patterns(wl_t *self)
{
    char canon[PLATE_MAX + 1];
    uint32_t *freq = NULL;
    size_t nfreq = 0;

    /* Every literal trigram of every pattern, sorted, to choose the rarest as each anchor.
     * Without memory for it, the first trigram serves (longer chains, same results). */
    if (self->npatterns > 0)
        freq = malloc(self->npatterns * PLATE_MAX * sizeof *freq);
    for (size_t i = 0; freq && i < self->count; i++) {
        if (!self->entries[i].pattern)
            continue;
        s_pattern_canon(self, self->entries[i].plate, canon);
        for (size_t j = 0, run = 0; canon[j]; j++) {
            run = (canon[j] == '?' || canon[j] == '*') ? 0 : run + 1;
            if (run >= 3)
                freq[nfreq++] = s_trigram(canon + j - 2);
        }
    }
    if (freq)
        qsort(freq, nfreq, sizeof *freq, s_cmp_u32);

    self->unanchored = WL_NONE;
    for (size_t i = self->count; i-- > 0;) {
        struct wl_entry *e = &self->entries[i];
        if (!e->pattern)
            continue;
        s_pattern_canon(self, e->plate, canon);
        uint32_t t = s_pattern_anchor(canon, freq, nfreq);
        if (t == WL_NONE) {
            e->next = self->unanchored;
            self->unanchored = (uint32_t)i;
            continue;
        }
        size_t bit = s_tribit(t);
        self->tribits[bit / 64] |= (uint64_t)1 << (bit % 64);
        for (size_t pos = s_trigram_home(t, self->tri.mask);; pos = (pos + 1) & self->tri.mask) {
            uint64_t slot = self->tri.slots[pos];
            if (slot == WL_SLOT_EMPTY || slot >> 32 == t) {
                e->next = slot == WL_SLOT_EMPTY ? WL_NONE : (uint32_t)slot;
                self->tri.slots[pos] = (uint64_t)t << 32 | i;
                break;
            }
        }
    }
    free(freq);

    /* The unanchored patterns, as the matcher scans them. */
    size_t nun = 0;
    for (uint32_t i = self->unanchored; i != WL_NONE; i = self->entries[i].next)
        nun++;
    if (nun > 0 && (self->upat = malloc(nun * sizeof(*self->upat))) != NULL) {
        for (uint32_t i = self->unanchored; i != WL_NONE; i = self->entries[i].next) {
            struct s_upat *u = &self->upat[self->nupat++];
            const char *p = self->entries[i].plate;
            size_t fixed = 0, stars = 0, star = 0, m = strlen(p);
            for (size_t j = 0; j < m; j++) {
                if (p[j] == '*') {
                    stars++;
                    star = j;
                } else {
                    fixed++;
                }
            }
            u->idx = i;
            u->minlen = (uint8_t)fixed;
            u->maxlen = stars ? PLATE_MAX : (uint8_t)fixed;
            u->star = stars == 1 ? (uint8_t)star : UINT8_MAX;
            memcpy(u->plate, p, m + 1);
        }
        /* Shortest first: a reading stops at the first pattern longer than itself. The order
         * of hits does not depend on it (wl_match sorts them). */
        qsort(self->upat, self->nupat, sizeof(*self->upat), s_cmp_upat);
    }
}

wl_t *wl_builder_build(wl_builder_t **self_p)
{
    wl_builder_t *b = self_p ? *self_p : NULL;
    wl_t *self = NULL;
    char key[PLATE_MAX + 1], del[PLATE_MAX + 1];

    if (!b)
        return NULL;
    *self_p = NULL;
    self = calloc(1, sizeof(*self));
    if (!self)
        goto fail;
    memcpy(self->canon, b->canon, sizeof(self->canon));
    self->canon_id = s_hash((const char *)self->canon, sizeof(self->canon)) | 1;
    for (size_t i = 0; i < b->lists_cap; i++)
        if (b->lists[i] && b->lists[i]->opts.candidates)
            self->candidates = true;

    /* Give back the growth slack; if the shrink fails the larger block is kept. */
    if (b->count > 0 && b->count < b->cap) {
        struct wl_entry *e = realloc(b->entries, b->count * sizeof(*e));
        if (e)
            b->entries = e;
    }
    atomic_init(&self->refs, 1);
    self->base = b->base;
    b->base = NULL;
    self->hidden = b->hidden;
    b->hidden = NULL;
    self->lists = b->lists;
    self->lists_cap = b->lists_cap;
    b->lists = NULL;
    self->entries = b->entries;
    self->count = b->count;
    self->npatterns = b->npatterns;
    self->ntwins = b->ntwins;
    self->nlists = b->nlists;

    /* Size the tables: deletion keys are counted without the repeats s_delete would make. */
    size_t ndel = 0, nanchored = 0;
    for (size_t i = 0; i < self->count; i++) {
        const struct wl_entry *e = &self->entries[i];
        if (e->pattern) {
            nanchored++;
        } else if (s_indel_entry(e)) {
            self->indel = true;
            size_t n = s_canon(self->canon, e->plate, key);
            for (size_t j = 0; n >= 2 && j < n; j++)
                ndel += j == 0 || key[j] != key[j - 1];
        }
    }
    if (s_table_alloc(&self->main, self->count - self->npatterns) != 0)
        goto fail;
    if (ndel > 0 && s_table_alloc(&self->del, ndel) != 0)
        goto fail;
    if (nanchored > 0 && s_table_alloc(&self->tri, nanchored) != 0)
        goto fail;

    /* Backwards, each entry goes to the front of its key's chain, so a chain lists entries in
     * the order they were added. */
    struct s_ring ring = {0};
    for (size_t i = self->count; i-- > 0;) {
        const struct wl_entry *e = &self->entries[i];
        if (e->pattern)
            continue;
        size_t n = s_canon(self->canon, e->plate, key);
        s_ring_push(self, &ring, &self->main, s_insert_main, s_hash(key, n), (uint32_t)i);
    }
    s_ring_flush(self, &ring, s_insert_main);

    if (ndel > 0) {
        for (size_t i = 0; i < self->count; i++) {
            const struct wl_entry *e = &self->entries[i];
            if (!s_indel_entry(e))
                continue;
            size_t n = s_canon(self->canon, e->plate, key);
            for (size_t j = 0; n >= 2 && j < n; j++) {
                if (j > 0 && key[j] == key[j - 1])
                    continue; /* same deletion as j - 1 */
                s_delete(key, n, j, del);
                s_ring_push(self, &ring, &self->del, s_insert_del, s_hash(del, n - 1), (uint32_t)i);
            }
        }
        s_ring_flush(self, &ring, s_insert_del);
    }
    s_index_patterns(self);

    self->arena = b->arena;
    b->entries = NULL;
    b->arena.head = NULL;
    wl_builder_destroy(&b);
    return self;

fail:
    if (self) {
        free(self->main.slots);
        free(self->del.slots);
        free(self->tri.slots);
    }
    free(self);
    wl_builder_destroy(&b); /* still owns the entries */
    return NULL;
}

wl_t *wl_ref(wl_t *self)
{
    if (self)
        atomic_fetch_add(&self->refs, 1);
    return self;
}

void wl_destroy(wl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wl_t *self = *self_p;
    *self_p = NULL;
    if (atomic_fetch_sub(&self->refs, 1) > 1)
        return; /* another holder still uses it */
    free(self->lists);
    idset_destroy(&self->hidden);
    wl_destroy(&self->base);
    free(self->entries);
    free(self->main.slots);
    free(self->del.slots);
    free(self->tri.slots);
    free(self->upat);
    s_arena_free(&self->arena);
    free(self);
    *self_p = NULL;
}

size_t wl_entry_count(const wl_t *self)
{
    if (!self)
        return 0;
    if (!self->base)
        return self->count - self->ntwins; /* patterns included */
    size_t base = self->base->count - self->base->ntwins, hidden = idset_count(self->hidden);
    return self->count - self->ntwins + (hidden < base ? base - hidden : 0);
}

size_t wl_patch_count(const wl_t *self)
{
    return self && self->base ? self->count : 0;
}

size_t wl_hidden_count(const wl_t *self)
{
    return self ? idset_count(self->hidden) : 0;
}

size_t wl_pattern_count(const wl_t *self)
{
    return self ? self->npatterns + (self->base ? self->base->npatterns : 0) : 0;
}

size_t wl_list_count(const wl_t *self)
{
    return self ? self->nlists : 0;
}

bool wl_takes_candidates(const wl_t *self)
{
    return self && self->candidates;
}

size_t wl_memory_bytes(const wl_t *self)
{
    if (!self)
        return 0;
    return sizeof(*self) + self->count * sizeof(struct wl_entry) + s_table_bytes(&self->main) +
           s_table_bytes(&self->del) + s_table_bytes(&self->tri) +
           self->nupat * sizeof(*self->upat) + self->arena.bytes +
           self->lists_cap * sizeof(*self->lists) + idset_memory_bytes(self->hidden) +
           wl_memory_bytes(self->base);
}

const struct wl_entry *wl_patch_entry(const wl_t *self, size_t i)
{
    return self && self->base && i < self->count && !self->entries[i].twin ? &self->entries[i]
                                                                           : NULL;
}

size_t wl_entry_slots(const wl_t *self)
{
    return self ? self->count + (self->base ? self->base->count : 0) : 0;
}

const struct wl_entry *wl_entry_slot(const wl_t *self, size_t i)
{
    if (!self)
        return NULL;
    if (self->base) {
        if (i < self->base->count) {
            const struct wl_entry *e = &self->base->entries[i];
            return e->twin || idset_has(self->hidden, e->id) ? NULL : e;
        }
        i -= self->base->count;
    }
    return i < self->count && !self->entries[i].twin ? &self->entries[i] : NULL;
}

/* Append the variants of key[at..] (key holds the plate, changed in place) with at most
 * `left` more substitutions within the classes; false once more than max were wanted. */
static bool s_variants(const unsigned char *map, char *key, size_t at, unsigned left,
                       char (*out)[PLATE_MAX + 1], size_t max, size_t *n)
{
    if (key[at] == '\0') {
        if (*n >= max)
            return false;
        memcpy(out[(*n)++], key, PLATE_MAX + 1);
        return true;
    }
    if (!s_variants(map, key, at + 1, left, out, max, n))
        return false;
    char orig = key[at];
    for (int c = 0; left > 0 && c < 256; c++) {
        if (c == (unsigned char)orig || !map[c] || map[c] != map[(unsigned char)orig])
            continue;
        key[at] = (char)c;
        bool ok = s_variants(map, key, at + 1, left - 1, out, max, n);
        key[at] = orig;
        if (!ok)
            return false;
    }
    return true;
}

int wl_entry_variants(const wl_t *self, const struct wl_entry *e, char (*out)[PLATE_MAX + 1],
                      size_t max)
{
    const struct wl_list_opts *o = &e->list->opts;
    char key[PLATE_MAX + 1];
    size_t n = 0, len = strlen(e->plate);

    if (e->pattern)
        return -1;
    memset(key, 0, sizeof key);
    memcpy(key, e->plate, len);
    unsigned subst = o->policy == WL_POLICY_OCR ? o->max_subst : 0;
    if (!s_variants(self->canon, key, 0, subst, out, max, &n))
        return -1;
    if (o->policy != WL_POLICY_OCR || !o->indel)
        return (int)n;
    /* One character missing from the reading, or one more (any letter or digit). */
    for (size_t j = 0; len >= 2 && j < len; j++) {
        if (n >= max)
            return -1;
        memset(out[n], 0, PLATE_MAX + 1);
        memcpy(out[n], e->plate, j);
        memcpy(out[n] + j, e->plate + j + 1, len - j - 1);
        n++;
    }
    for (size_t j = 0; len < PLATE_MAX && j <= len; j++) {
        for (int c = 0; c < 256; c++) {
            if (!s_alnum((unsigned char)c))
                continue;
            if (n >= max)
                return -1;
            memset(out[n], 0, PLATE_MAX + 1);
            memcpy(out[n], e->plate, j);
            out[n][j] = (char)c;
            memcpy(out[n] + j + 1, e->plate + j, len - j);
            n++;
        }
    }
    return (int)n;
}

/* ---- lookup ---- */

/* First entry whose canonical key is key (length n, hash h), or WL_NONE. */
static uint32_t s_find_main(const wl_t *self, const char *key, size_t n, uint64_t h)
{
    uint64_t tag = h >> 32 << 32;

    for (size_t pos = (size_t)h & self->main.mask;; pos = (pos + 1) & self->main.mask) {
        uint64_t slot = self->main.slots[pos];
        if (slot == WL_SLOT_EMPTY)
            return WL_NONE;
        if ((slot & ~(uint64_t)UINT32_MAX) == tag &&
            s_canon_eq(self->canon, self->entries[(uint32_t)slot].plate, key, n))
            return (uint32_t)slot;
    }
}

/* Valid at time_us and in a country compatible with the read's ("" or NULL = unknown). */
static bool s_applies(const struct wl_entry *e, const char *country, int64_t time_us)
{
    if (time_us < e->valid_from_us || time_us >= e->valid_until_us)
        return false;
    return !e->country[0] || !country || !country[0] || strcmp(e->country, country) == 0;
}

size_t wl_lookup(const wl_t *self, const char *plate, const char *country, int64_t time_us,
                 const struct wl_entry **out, size_t max)
{
    char key[PLATE_MAX + 1];
    size_t n;

    if (!self || !plate || (n = s_canon(self->canon, plate, key)) == 0)
        return 0;
    country = plate_country(country);
    const wl_t *layers[2] = {self->base ? self->base : self, self};
    size_t count = 0, nlayers = self->base ? 2 : 1;
    uint64_t h = s_hash(key, n);
    for (size_t l = 0; l < nlayers; l++) {
        const wl_t *w = layers[l];
        const idset_t *hidden = l == 0 && self->base ? self->hidden : NULL;
        for (uint32_t i = s_find_main(w, key, n, h); i != WL_NONE; i = w->entries[i].next) {
            const struct wl_entry *e = &w->entries[i];
            if (memcmp(e->plate, plate, n) != 0 || !s_applies(e, country, time_us) ||
                idset_has(hidden, e->id))
                continue;
            if (count < max)
                out[count] = e->twin ? &w->entries[e->primary] : e;
            count++;
        }
    }
    return count;
}

/* ---- matcher ---- */

/* Whether entry e may hit the current reading at all, before its plate is compared. */
static bool s_admits(const struct s_ctx *c, const struct wl_entry *e)
{
    const struct wl_list_opts *o = &e->list->opts;

    if (c->reading > 0 && !o->candidates)
        return false;
    if (c->hidden && idset_has(c->hidden, e->id))
        return false; /* changed since the base was built: the patch has it as it is now */
    if (c->conf < o->min_confidence)
        return false;
    return s_applies(e, c->country, c->q->time_us);
}

/* Keep a hit; on out of memory it is only counted. */
static void s_keep(struct s_ctx *c, const struct s_hit *h)
{
    if (c->nhits == c->cap) {
        size_t cap = c->cap * 4;
        struct s_hit *more = cap <= SIZE_MAX / sizeof(*more)
                                 ? (c->hits == c->stack ? malloc(cap * sizeof(*more))
                                                        : realloc(c->hits, cap * sizeof(*more)))
                                 : NULL;
        if (!more) {
            c->lost++;
            return;
        }
        if (c->hits == c->stack)
            memcpy(more, c->stack, sizeof(c->stack));
        c->hits = more;
        c->cap = cap;
    }
    const struct wl_entry *e = &c->wl->entries[h->idx];
    struct s_hit *k = &c->hits[c->nhits++];
    *k = *h;
    k->priority = e->list->priority;
    k->entry = e->twin ? e->primary : h->idx;
    k->form = (uint8_t)c->form;
}

/* Same length, same canonical key: by the list's policy, exactly or within max_subst. */
static void s_try_same(struct s_ctx *c, uint32_t idx)
{
    const struct wl_entry *e = &c->wl->entries[idx];
    const struct wl_list_opts *o = &e->list->opts;
    struct s_hit h = {.idx = idx, .layer = c->layer, .reading = (uint8_t)c->reading};

    if (e->pattern || !s_admits(c, e))
        return;
    for (size_t i = 0; e->plate[i]; i++) {
        if (e->plate[i] == c->read[i])
            continue;
        if (o->policy != WL_POLICY_OCR || h.nsubst >= o->max_subst)
            return;
        h.subst_pos[h.nsubst++] = (uint8_t)i;
    }
    h.method = h.nsubst ? S_OCR : S_EXACT;
    s_keep(c, &h);
}

/*
 * The reading is the entry with one character more (extra) or less (missing), the other
 * characters equal within their class. Tries every place for the odd character and keeps the
 * one needing the fewest substitutions (the first on a tie), which must be within max_subst.
 */
static void s_try_indel(struct s_ctx *c, uint32_t idx, enum s_indel kind)
{
    const struct wl_entry *e = &c->wl->entries[idx];
    const unsigned char *map = c->wl->canon;
    const char *p = e->plate, *r = c->read;
    size_t plen = strlen(p), rlen = strlen(r);
    /* long_ is the longer string; the odd character is at long_[j]. */
    const char *long_ = kind == S_INDEL_MISSING ? p : r;
    const char *short_ = kind == S_INDEL_MISSING ? r : p;
    size_t n = kind == S_INDEL_MISSING ? plen : rlen;
    struct s_hit best = {.nsubst = UINT8_MAX};

    if (e->pattern || !s_indel_entry(e) || n != (kind == S_INDEL_MISSING ? rlen : plen) + 1 ||
        !s_admits(c, e))
        return;
    for (size_t j = 0; j < n; j++) {
        struct s_hit h = {.idx = idx,
                          .layer = c->layer,
                          .reading = (uint8_t)c->reading,
                          .method = S_OCR,
                          .indel = (uint8_t)kind,
                          .indel_pos = (uint8_t)j};
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            if (i == j)
                continue;
            char a = long_[i], s = short_[i < j ? i : i - 1];
            if (a == s)
                continue;
            /* Positions are reported in the entry's plate, whichever string is longer. */
            size_t at = kind == S_INDEL_MISSING ? i : (i < j ? i : i - 1);
            ok = map[(unsigned char)a] == map[(unsigned char)s] &&
                 h.nsubst < e->list->opts.max_subst;
            if (ok)
                h.subst_pos[h.nsubst++] = (uint8_t)at;
        }
        if (ok && h.nsubst < best.nsubst)
            best = h;
    }
    if (best.nsubst != UINT8_MAX)
        s_keep(c, &best);
}

/* What a literal pattern character costs against a read character: 0, 1 (OCR substitution)
 * or -1 (no match). */
static int s_glob_cost(const unsigned char *map, char pc, char rc, bool ocr)
{
    if (pc == '?' || pc == rc)
        return 0;
    return ocr && map[(unsigned char)pc] == map[(unsigned char)rc] ? 1 : -1;
}

/*
 * Glob match of a pattern against the reading: '?' one character, '*' any run. Literal
 * characters must equal the reading's (exact policy) or be in the same class (OCR policy),
 * counting the differing ones. Returns the fewest over every way the '*'s can split the
 * reading, or -1. Unanchored patterns are tried on every reading, so the common misses are
 * cheap: a length check first, a straight comparison without '*', dynamic programming over
 * (pattern prefix, reading prefix) only with it.
 */
static int s_glob(const unsigned char *map, const char *pat, const char *read, size_t n, bool ocr)
{
    enum { INF = 0x7f };
    size_t m = 0, fixed = 0, nstar = 0, star = 0;

    for (; pat[m]; m++) {
        if (pat[m] == '*') {
            nstar++;
            star = m;
        } else {
            fixed++;
        }
    }
    if (nstar ? n < fixed : n != fixed)
        return -1;
    if (nstar <= 1) {
        /* No '*', or one: it can split the reading one way only, so the part before it is
         * compared with the reading's start and the part after it with the reading's end. */
        size_t a = nstar ? star : m, b = nstar ? m - star - 1 : 0;
        int subst = 0;
        for (size_t i = 0; i < a + b; i++) {
            int cost = i < a ? s_glob_cost(map, pat[i], read[i], ocr)
                             : s_glob_cost(map, pat[i + 1], read[n - (a + b) + i], ocr);
            if (cost < 0)
                return -1;
            subst += cost;
        }
        return subst;
    }
    /* row[j]: fewest substitutions matching the pattern so far against read[0..j). */
    unsigned char row[PLATE_MAX + 1];
    memset(row, INF, sizeof(row));
    row[0] = 0;
    for (size_t i = 0; i < m; i++) {
        if (pat[i] == '*') {
            /* '*' takes read[k..j) for any k <= j: the best of row[k], k <= j. */
            for (size_t j = 1; j <= n; j++)
                row[j] = row[j] < row[j - 1] ? row[j] : row[j - 1];
            continue;
        }
        for (size_t j = n; j > 0; j--) {
            int cost = row[j - 1] == INF ? -1 : s_glob_cost(map, pat[i], read[j - 1], ocr);
            row[j] = cost < 0 ? INF : (unsigned char)(row[j - 1] + cost);
        }
        row[0] = INF;
    }
    return row[n] == INF ? -1 : row[n];
}

static void s_try_pattern(struct s_ctx *c, uint32_t idx)
{
    const struct wl_entry *e = &c->wl->entries[idx];
    const struct wl_list_opts *o = &e->list->opts;

    if (!e->pattern || !s_admits(c, e))
        return;
    int nsubst =
        s_glob(c->wl->canon, e->plate, c->read, strlen(c->read), o->policy == WL_POLICY_OCR);
    if (nsubst < 0 || nsubst > o->max_subst)
        return;
    struct s_hit h = {.idx = idx,
                      .layer = c->layer,
                      .reading = (uint8_t)c->reading,
                      .method = S_PATTERN,
                      .nsubst = (uint8_t)nsubst};
    s_keep(c, &h);
}

/*
 * The glob of an unanchored pattern of the right length for the reading (length n) as OCR:
 * nsubst or -1. With one '*' a straight comparison of the part before it with the reading's
 * start and of the part after it with the reading's end, the only way it can split the
 * reading. Against a canonical key it says whether any reading with that key can match.
 */
static int s_upat_glob(const unsigned char *map, const struct s_upat *u, const char *read, size_t n)
{
    int nsubst = 0;

    if (u->star == UINT8_MAX)
        return s_glob(map, u->plate, read, n, true);
    size_t a = u->star, b = u->minlen - a;
    const char *suf = u->plate + a + 1, *rsuf = read + n - b;
    for (size_t i = 0; i < a && nsubst >= 0; i++) {
        int cost = s_glob_cost(map, u->plate[i], read[i], true);
        nsubst = cost < 0 ? -1 : nsubst + cost;
    }
    for (size_t i = 0; i < b && nsubst >= 0; i++) {
        int cost = s_glob_cost(map, suf[i], rsuf[i], true);
        nsubst = cost < 0 ? -1 : nsubst + cost;
    }
    return nsubst;
}

/* s_try_pattern for an unanchored pattern of the right length for the reading (length n): the
 * same result, the glob first as OCR (the list's policy is only known from the entry). */
static void s_try_upat(struct s_ctx *c, const struct s_upat *u, size_t n)
{
    int nsubst = s_upat_glob(c->wl->canon, u, c->read, n);

    if (nsubst < 0)
        return;
    /* Passes as OCR: now the entry's own policy and filters decide, as s_try_pattern does. */
    const struct wl_entry *e = &c->wl->entries[u->idx];
    const struct wl_list_opts *o = &e->list->opts;
    if (o->policy != WL_POLICY_OCR || nsubst > 0)
        s_try_pattern(c, u->idx);
    else if (s_admits(c, e) && nsubst <= o->max_subst) {
        struct s_hit h = {
            .idx = u->idx, .layer = c->layer, .reading = (uint8_t)c->reading, .method = S_PATTERN};
        s_keep(c, &h);
    }
}

/* The text of form f of query q (see struct wl_prep). */
static const char *s_form(const struct wl_query *q, size_t f)
{
    return f < WL_READINGS_MAX ? q->plate[f] : q->alt[f - WL_READINGS_MAX];
}

/* Make form f of the query (a reading, or its alt) the current one. */
static void s_reading(struct s_ctx *c, size_t f)
{
    c->form = f;
    c->reading = f < WL_READINGS_MAX ? f : f - WL_READINGS_MAX;
    c->read = s_form(c->q, f);
    c->conf = c->q->confidence[c->reading];
}

/*
 * All the ways the readings that share the canonical key `key` (length n) hit. Whatever is
 * found through the key (the entries under it, their deletion keys, the patterns anchored on
 * its trigrams or that fit it as OCR) is found once and tried on each of those readings:
 * a look-alike misreading, the usual candidate, costs no probe of its own.
 */
static void s_match_key(struct s_ctx *c, const char *key, size_t n, uint64_t h, const uint8_t *rd,
                        size_t nrd)
{
    const wl_t *w = c->wl;
    char del[PLATE_MAX][PLATE_MAX + 1]; /* the key's deletion keys */
    uint64_t dh[PLATE_MAX];
    size_t ndel = 0;

    s_prefetch(&w->main, h);
    if (w->indel) {
        /* Every probe of this key is a likely cache miss: start them all at once. */
        if (w->del.slots)
            s_prefetch(&w->del, h);
        for (size_t j = 0; n >= 2 && j < n; j++) {
            if (j > 0 && key[j] == key[j - 1])
                continue; /* same deletion as j - 1 */
            s_delete(key, n, j, del[ndel]);
            dh[ndel] = s_hash(del[ndel], n - 1);
            s_prefetch(&w->main, dh[ndel++]);
        }
    }

    for (uint32_t i = s_find_main(w, key, n, h); i != WL_NONE; i = w->entries[i].next)
        for (size_t r = 0; r < nrd; r++) {
            s_reading(c, rd[r]);
            s_try_same(c, i);
        }

    if (w->del.slots) {
        /* The reading misses a character: its key is one of an entry's deletion keys. */
        uint64_t tag = h >> 32 << 32;
        for (size_t pos = (size_t)h & w->del.mask;; pos = (pos + 1) & w->del.mask) {
            uint64_t slot = w->del.slots[pos];
            if (slot == WL_SLOT_EMPTY)
                break;
            if ((slot & ~(uint64_t)UINT32_MAX) != tag)
                continue;
            for (size_t r = 0; r < nrd; r++) {
                s_reading(c, rd[r]);
                s_try_indel(c, (uint32_t)slot, S_INDEL_MISSING);
            }
        }
    }
    /* The reading has an extra character: one of its deletion keys is an entry's key. */
    for (size_t d = 0; d < ndel; d++)
        for (uint32_t i = s_find_main(w, del[d], n - 1, dh[d]); i != WL_NONE;
             i = w->entries[i].next)
            for (size_t r = 0; r < nrd; r++) {
                s_reading(c, rd[r]);
                s_try_indel(c, i, S_INDEL_EXTRA);
            }

    if (w->npatterns == 0)
        return;
    size_t code[PLATE_MAX]; /* the key's characters as 0..35, for its trigrams' bits */
    for (size_t j = 0; w->tri.slots && j < n; j++)
        code[j] = s_code36((unsigned char)key[j]);
    for (size_t j = 0; w->tri.slots && j + 3 <= n; j++) {
        /* Most trigrams anchor no pattern: a bit says so without probing the table (the bit
         * is s_tribit's). */
        size_t bit = (code[j] * 36 + code[j + 1]) * 36 + code[j + 2];
        if (!(w->tribits[bit / 64] >> (bit % 64) & 1))
            continue;
        uint32_t t = s_trigram(key + j);
        bool seen = false;
        for (size_t k = 0; k < j && !seen; k++)
            seen = s_trigram(key + k) == t; /* a trigram twice in the key */
        if (seen)
            continue;
        for (size_t pos = s_trigram_home(t, w->tri.mask);; pos = (pos + 1) & w->tri.mask) {
            uint64_t slot = w->tri.slots[pos];
            if (slot == WL_SLOT_EMPTY)
                break;
            if (slot >> 32 != t)
                continue;
            for (uint32_t i = (uint32_t)slot; i != WL_NONE; i = w->entries[i].next) {
                /* What fails as OCR against the key fails for every reading with that key. */
                if (nrd > 1 && s_glob(w->canon, w->entries[i].plate, key, n, true) < 0)
                    continue;
                for (size_t r = 0; r < nrd; r++) {
                    s_reading(c, rd[r]);
                    s_try_pattern(c, i);
                }
            }
            break;
        }
    }
    if (w->upat) {
        for (size_t u = 0; u < w->nupat && w->upat[u].minlen <= n; u++) {
            const struct s_upat *up = &w->upat[u];
            if (n > up->maxlen || s_upat_glob(w->canon, up, key, n) < 0)
                continue;
            for (size_t r = 0; r < nrd; r++) {
                s_reading(c, rd[r]);
                s_try_upat(c, up, n);
            }
        }
    } else {
        for (uint32_t i = w->unanchored; i != WL_NONE; i = w->entries[i].next)
            for (size_t r = 0; r < nrd; r++) {
                s_reading(c, rd[r]);
                s_try_pattern(c, i);
            }
    }
}

/* The best way first: earlier reading, then exact, OCR, pattern, then no indel, fewer subst. */
static int s_cmp_quality(const struct s_hit *a, const struct s_hit *b)
{
    if (a->reading != b->reading)
        return a->reading < b->reading ? -1 : 1;
    if (a->method != b->method)
        return a->method < b->method ? -1 : 1;
    bool ea = a->form >= WL_READINGS_MAX || a->idx != a->entry;
    bool eb = b->form >= WL_READINGS_MAX || b->idx != b->entry;
    if (ea != eb)
        return ea ? 1 : -1; /* the plate as read and listed before either without a code */
    if (a->indel != b->indel)
        return a->indel < b->indel ? -1 : 1;
    if (a->nsubst != b->nsubst)
        return a->nsubst < b->nsubst ? -1 : 1;
    return 0;
}

static int s_cmp_entry(const void *pa, const void *pb)
{
    const struct s_hit *a = pa, *b = pb;

    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    if (a->entry != b->entry)
        return a->entry < b->entry ? -1 : 1;
    return s_cmp_quality(a, b);
}

static uint8_t s_kind(const struct s_hit *h)
{
    if (h->reading > 0)
        return PROTO_MATCH_CANDIDATE;
    if (h->method == S_PATTERN)
        return PROTO_MATCH_PATTERN;
    return h->method == S_OCR ? PROTO_MATCH_OCR : PROTO_MATCH_EXACT;
}

/* Output order: most urgent list first, then by kind, then the better way, then as added. */
static int s_cmp_output(const void *pa, const void *pb)
{
    const struct s_hit *a = pa, *b = pb;
    uint8_t ka = s_kind(a), kb = s_kind(b);

    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    if (ka != kb)
        return ka < kb ? -1 : 1;
    int q = s_cmp_quality(a, b);
    if (q != 0)
        return q;
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    return a->entry < b->entry ? -1 : a->entry > b->entry;
}

/*
 * Text building for wl_match.detail without printf: it runs for every hit, and formatting
 * was a visible share of a match. Writes stop at the buffer's end (s_text.len is kept exact).
 */
struct s_text {
    char buf[128];
    size_t len;
};

static void s_put(struct s_text *t, const char *s)
{
    for (; *s; s++)
        if (t->len + 1 < sizeof(t->buf))
            t->buf[t->len++] = *s;
    t->buf[t->len] = '\0';
}

static void s_put_char(struct s_text *t, char c)
{
    char s[2] = {c, '\0'};
    s_put(t, s);
}

static void s_put_uint(struct s_text *t, unsigned v)
{
    char s[12];
    size_t n = sizeof(s) - 1;
    s[n] = '\0';
    do {
        s[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    s_put(t, s + n);
}

/* The substitutions as "O/0 at 3, B/8 at 6" (entry character / read character, 1-based), or
 * only their number when `count_only`. */
static void s_put_substs(struct s_text *t, const struct s_hit *h, const char *plate,
                         const char *read, bool count_only)
{
    if (count_only) {
        s_put_uint(t, h->nsubst);
        s_put(t, " substitutions");
        return;
    }
    for (size_t k = 0; k < h->nsubst; k++) {
        size_t at = h->subst_pos[k];
        /* The reading's character at the entry's position, shifted past the odd one. */
        size_t ra = at;
        if (h->indel == S_INDEL_MISSING && at > h->indel_pos)
            ra = at - 1;
        else if (h->indel == S_INDEL_EXTRA && at >= h->indel_pos)
            ra = at + 1;
        if (k > 0)
            s_put(t, ", ");
        s_put_char(t, plate[at]);
        s_put_char(t, '/');
        s_put_char(t, read[ra]);
        s_put(t, " at ");
        s_put_uint(t, (unsigned)at + 1);
    }
}

/* The euroband code left out of a reading or an entry: what `full` has before `part`. */
static void s_put_code(struct s_text *t, const char *full, const char *part)
{
    size_t n = strlen(full) - strlen(part);
    s_put(t, "euroband ");
    for (size_t i = 0; i < n && i < 2; i++)
        s_put_char(t, full[i]);
    s_put(t, ", ");
}

/* wl_match.detail, e.g. "O read as 0 at 3", "candidate 2 (640), pattern 1AB?12*",
 * "euroband D, exact". e is the entry (or twin) as matched, listed the entry listed. */
static void s_detail(const struct s_hit *h, const struct wl_entry *e, const struct wl_entry *listed,
                     const struct wl_query *q, char out[WL_DETAIL_MAX + 1])
{
    const char *read = s_form(q, h->form);
    struct s_text t;

    /* Second pass only if the first does not fit: substitutions counted, not listed. */
    for (int pass = 0; pass < 2; pass++) {
        t.len = 0;
        t.buf[0] = '\0';
        if (h->reading > 0) {
            s_put(&t, "candidate ");
            s_put_uint(&t, h->reading);
            s_put(&t, " (");
            s_put_uint(&t, q->confidence[h->reading]);
            s_put(&t, "), ");
        }
        if (h->form >= WL_READINGS_MAX)
            s_put_code(&t, q->plate[h->reading], read);
        else if (e != listed)
            s_put_code(&t, listed->plate, e->plate);
        if (h->method == S_EXACT) {
            s_put(&t, "exact");
        } else if (h->method == S_PATTERN) {
            s_put(&t, "pattern ");
            s_put(&t, e->plate);
            if (h->nsubst > 0) {
                s_put(&t, ", ");
                s_put_uint(&t, h->nsubst);
                s_put(&t, " substituted");
            }
        } else if (h->indel != S_INDEL_NONE) {
            s_put(&t, h->indel == S_INDEL_MISSING ? "one character missing at "
                                                  : "one character extra at ");
            s_put_uint(&t, h->indel_pos + 1u);
            if (h->nsubst > 0) {
                s_put(&t, ", ");
                s_put_substs(&t, h, e->plate, read, pass == 1);
            }
        } else if (h->nsubst == 1 && pass == 0) {
            s_put_char(&t, e->plate[h->subst_pos[0]]);
            s_put(&t, " read as ");
            s_put_char(&t, read[h->subst_pos[0]]);
            s_put(&t, " at ");
            s_put_uint(&t, h->subst_pos[0] + 1u);
        } else {
            s_put_substs(&t, h, e->plate, read, pass == 1);
        }
        if (t.len <= WL_DETAIL_MAX)
            break;
    }
    /* Still too long (cannot happen with these texts): cut. */
    size_t n = t.len <= WL_DETAIL_MAX ? t.len : WL_DETAIL_MAX;
    memcpy(out, t.buf, n);
    out[n] = '\0';
}

/* Work out q's keys, groups and hashes for snapshot self (see struct wl_prep). */
static void s_prepare(const wl_t *self, const struct wl_query *q, struct wl_prep *p)
{
    size_t nreadings = q->nreadings < WL_READINGS_MAX ? q->nreadings : WL_READINGS_MAX;

    /* Candidates only matter if some list takes them. */
    if (!self->candidates && nreadings > 1)
        nreadings = 1;
    p->canon_id = self->canon_id;
    p->candidates = self->candidates;
    p->ngroups = 0;
    /* Each reading, then its alt right after it (forms r and WL_READINGS_MAX + r): the forms
     * there are, in that order. */
    uint8_t order[WL_FORMS_MAX];
    const char *text[WL_FORMS_MAX];
    size_t nforms = 0;
    for (size_t r = 0; r < nreadings; r++) {
        order[nforms] = (uint8_t)r;
        text[nforms++] = q->plate[r];
        if (q->alt[r]) {
            order[nforms] = (uint8_t)(WL_READINGS_MAX + r);
            text[nforms++] = q->alt[r];
        }
    }
    for (size_t i = 0; i < nforms; i++) {
        size_t f = order[i], r = f < WL_READINGS_MAX ? f : f - WL_READINGS_MAX;
        size_t n = text[i] ? s_canon(self->canon, text[i], p->keys[f]) : 0;
        p->klen[f] = (uint8_t)n;
        if (n == 0)
            continue;
        /* A form equal to an earlier one of a reading at least as confident finds nothing
         * more. */
        bool repeat = false;
        for (size_t k = 0; k < i && !repeat; k++) {
            size_t kr = order[k] < WL_READINGS_MAX ? order[k] : order[k] - WL_READINGS_MAX;
            repeat = p->klen[order[k]] > 0 && q->confidence[kr] >= q->confidence[r] &&
                     strcmp(text[k], text[i]) == 0;
        }
        if (repeat)
            continue;
        /* Forms that share a canonical key are matched together (see s_match_key). */
        size_t g = 0;
        while (g < p->ngroups &&
               !(p->klen[p->lead[g]] == n && memcmp(p->keys[p->lead[g]], p->keys[f], n) == 0))
            g++;
        if (g == p->ngroups) {
            p->lead[g] = (uint8_t)f;
            p->ngroup[g] = 0;
            p->hash[g] = s_hash(p->keys[f], n);
            p->ngroups++;
        }
        p->group[g][p->ngroup[g]++] = (uint8_t)f;
    }
}

/* Each group's first probe is a likely cache miss in a large table: start them all before
 * looking at any, so they overlap instead of queueing. */
static void s_prefetch_groups(const wl_t *self, const struct wl_prep *p)
{
    const wl_t *base = self->base ? self->base : self;

    for (size_t g = 0; g < p->ngroups; g++)
        s_prefetch(&base->main, p->hash[g]);
}

void wl_prefetch(const wl_t *self, struct wl_query *q)
{
    if (!self || !q)
        return;
    s_prepare(self, q, &q->prep);
    s_prefetch_groups(self, &q->prep);
}

size_t wl_match(const wl_t *self, const struct wl_query *q, struct wl_match *out, size_t max)
{
    struct s_ctx c;
    struct wl_prep local;
    const struct wl_prep *p = q ? &q->prep : NULL;

    if (!self || !q)
        return 0;
    /* Keys worked out by wl_prefetch hold for every snapshot with the same OCR classes. */
    if (p->canon_id != self->canon_id || p->candidates != self->candidates) {
        s_prepare(self, q, &local);
        s_prefetch_groups(self, &local);
        p = &local;
    }
    /* A patched snapshot: its base first, then its own entries (see the top of the file). */
    const wl_t *layers[2] = {self->base ? self->base : self, self};
    size_t nlayers = self->base ? 2 : 1;
    c.q = q;
    c.country = plate_country(q->country);
    c.hits = c.stack;
    c.nhits = 0;
    c.cap = WL_HITS_STACK;
    c.lost = 0;
    for (size_t l = 0; l < nlayers; l++) {
        c.wl = layers[l];
        c.layer = (uint8_t)l;
        c.hidden = l == 0 && self->base ? self->hidden : NULL;
        for (size_t g = 0; g < p->ngroups; g++) {
            size_t r = p->lead[g];
            s_match_key(&c, p->keys[r], p->klen[r], p->hash[g], p->group[g], p->ngroup[g]);
        }
    }

    /* One hit per entry, its best; then the most urgent first. */
    size_t n = c.nhits;
    if (n > 1) {
        qsort(c.hits, n, sizeof(*c.hits), s_cmp_entry);
        size_t k = 1;
        for (size_t i = 1; i < n; i++)
            if (c.hits[i].entry != c.hits[k - 1].entry || c.hits[i].layer != c.hits[k - 1].layer)
                c.hits[k++] = c.hits[i];
        n = k;
        qsort(c.hits, n, sizeof(*c.hits), s_cmp_output);
    }
    for (size_t i = 0; i < n && i < max; i++) {
        const struct s_hit *h = &c.hits[i];
        struct wl_match *m = &out[i];
        const struct wl_entry *entries = (h->layer == 0 && self->base ? self->base : self)->entries;
        m->entry = &entries[h->entry];
        m->kind = s_kind(h);
        m->reading = h->reading;
        m->confidence = q->confidence[h->reading];
        m->nsubst = h->nsubst;
        m->indel = h->indel != S_INDEL_NONE;
        m->euroband = h->form >= WL_READINGS_MAX || h->idx != h->entry;
        s_detail(h, &entries[h->idx], m->entry, q, m->detail);
    }
    if (c.hits != c.stack)
        free(c.hits);
    return n + c.lost;
}
