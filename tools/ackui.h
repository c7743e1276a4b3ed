/*
 * ackui: acknowledging a HIT from inside anpr-console, a key at a time. The operator presses
 * `a`, types the card's number (Enter alone: the newest card), picks the decision with one key
 * (a accept, r reject, n not enforced), the reason from a numbered list (the active reasons of
 * anpr.ack_reason; a rejection needs one), and types a note ending with Enter (empty: none).
 * Esc cancels at any step; `?` shows the keys; `q` quits.
 *
 * This module is only the dialogue: bytes in, what to show and, at the end, what was chosen.
 * The console does the database call (anpr.acknowledge_hit, as `anpr-console ack` does) and
 * shows its answer. No allocation, no output of its own.
 */
#ifndef ANPR_ACKUI_H
#define ANPR_ACKUI_H

#include <stdbool.h>
#include <stddef.h>

#define ACKUI_REASONS_MAX 9   /* reasons offered (one key each, 1..9) */
#define ACKUI_NOTE_MAX    500 /* bytes, as anpr.hit_ack.note allows */

enum ackui_state {
    ACKUI_IDLE,     /* watching the feed */
    ACKUI_CARD,     /* typing the card's number */
    ACKUI_DECISION, /* one key: a, r, n */
    ACKUI_REASON,   /* one key: 0..9 */
    ACKUI_NOTE,     /* a line */
};

/* What the console should do after a key. */
enum ackui_do {
    ACKUI_NOTHING, /* nothing to show */
    ACKUI_SHOW,    /* show `text` (a prompt, or the character to echo) */
    ACKUI_ACK,     /* chosen: acknowledge (card, decision, reason, note); text says what */
    ACKUI_CANCEL,  /* cancelled: text says so */
    ACKUI_QUIT,    /* the operator asked to quit */
};

struct ackui {
    enum ackui_state state;
    const char *const *reasons; /* borrowed: the active reasons, in order */
    size_t nreasons;
    /* What was chosen (valid with ACKUI_ACK). */
    int card;             /* the number typed; 0 = the newest card */
    const char *decision; /* "accepted", "rejected", "not_enforced" */
    const char *reason;   /* one of reasons, or NULL */
    char note[ACKUI_NOTE_MAX + 1];
    size_t nnote;
    char digits[4];
    size_t ndigits;
};

/* Start idle with these reasons (borrowed; at most ACKUI_REASONS_MAX are offered). */
void ackui_init(struct ackui *u, const char *const *reasons, size_t nreasons);
/* One byte of input; what to show goes into text (cap bytes). */
enum ackui_do ackui_key(struct ackui *u, unsigned char c, char *text, size_t cap);
/* Whether a dialogue is under way (the console holds its status line meanwhile). */
bool ackui_busy(const struct ackui *u);

#endif
