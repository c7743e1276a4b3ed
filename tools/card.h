/*
 * card: how anpr-console shows a HIT to a dispatch operator. One card per read: the HITs of one
 * read on several lists (one car on the stolen list and the wanted list) are one card, so the
 * operator sees one car once. A card starts with the listed plate, spaced out so it stands out,
 * then how the camera read it; then the date and the age (a HIT caught up after a weekend says
 * so), each list with how it matched, its instruction and reference, the camera by name and the
 * direction of travel, the latest sighting when the car was seen again since, and, once known,
 * who acknowledged it. Lines are wrapped at the terminal's width on word boundaries, each under
 * a bar in the list's colour.
 *
 * Every text from outside (the feed, the database) goes through cli_clean before it is laid out:
 * nothing a HIT carries can move the cursor or reorder a line. The module never allocates and
 * never prints: it writes into the caller's buffer.
 */
#ifndef ANPR_CARD_H
#define ANPR_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define CARD_LISTS_MAX 8     /* lists shown on one card (one read) */
#define CARD_WIDTH_MIN 40    /* narrower terminals are laid out as 40 columns */
#define CARD_WIDTH_MAX 200   /* wider ones as 200: lines stay readable */
#define CARD_MAX       16384 /* a card's text at most, escapes included */

/* A camera as anpr.camera names it; NULL fields when not known (no --db). */
struct card_place {
    const char *name;    /* "N2 Smeermaas, border crossing to Maastricht" */
    const char *heading; /* the traffic it reads, "to Maastricht" */
};

/* The latest acknowledgement of the card's HIT, as anpr.dispatch_hits has it. */
struct card_ack {
    const char *decision; /* "accepted", "rejected", "not_enforced"; NULL: none */
    const char *operator; /* the login that gave it */
    const char *reason;   /* NULL or "" when none */
    const char *note;     /* NULL or "" when none */
    int64_t at_us;        /* when, UTC microseconds; 0 unknown */
};

struct card {
    int number; /* what the operator types to pick it (1..99), 0 = none */
    /* The HITs of one read, most urgent first; hits[0] names the card. Borrowed. */
    const struct proto_hit *hits[CARD_LISTS_MAX];
    const char *colours[CARD_LISTS_MAX]; /* each list's colour (anpr.watchlist.colour) or NULL */
    size_t nhits;
    bool again;     /* announced again: still not acknowledged */
    bool caught_up; /* from the catch-up, not live: the ack state below is what the table said */
    struct card_place place;       /* the camera of hits[0].read */
    const struct proto_read *seen; /* the latest sighting, when the car was seen again; or NULL */
    struct card_place seen_place;  /* its camera */
    /* Each list's HIT's acknowledgement known (hits[i]), or NULL: none known. */
    const struct card_ack *acks[CARD_LISTS_MAX];
};

struct card_style {
    int width;  /* columns; clamped to CARD_WIDTH_MIN..CARD_WIDTH_MAX */
    bool color; /* ANSI colours and bold */
};

/* The card as lines (each ending in '\n') into out (cap bytes, NUL-terminated; cut at a line
 * end when it does not fit). now_us: the wall clock, for the ages. Returns the length. */
size_t card_render(const struct card *c, int64_t now_us, const struct card_style *st, char *out,
                   size_t cap);

/* The short block printed when a sighting of the card's HIT comes: the card's number, the
 * listed plate, where and when the car was seen again (c->seen must be set). */
size_t card_render_seen(const struct card *c, int64_t now_us, const struct card_style *st,
                        char *out, size_t cap);

/* "Sun 06 Dec 2026 08:31:02" in local time (cap >= 32). */
void card_date(int64_t time_us, char *out, size_t cap);
/* "just now", "42 s ago", "5 min ago", "3 h 10 min ago", "2 days ago", "in 12 s" (a clock
 * ahead). */
void card_age(int64_t time_us, int64_t now_us, char *out, size_t cap);

/* The ANSI SGR parameters of a list colour ("red", "#ff8800"...), or of a priority when colour
 * is NULL or unknown; "" for none. */
const char *card_sgr(const char *colour, int priority, char *buf, size_t cap);

/* Plain text (lines of our own: prompts, the feed's health) wrapped at width on spaces, rows
 * after a line's first indented by `indent`, each ending in '\n'; cleaned like a card. */
size_t card_wrap(const char *text, int width, int indent, char *out, size_t cap);

/* Display columns of UTF-8 text without escapes (one per code point). */
size_t card_columns(const char *s);

#endif
