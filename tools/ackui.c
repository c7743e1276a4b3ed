#include "ackui.h"

#include <stdio.h>
#include <string.h>

#define S_ESC 0x1b

void ackui_init(struct ackui *u, const char *const *reasons, size_t nreasons)
{
    memset(u, 0, sizeof *u);
    u->reasons = reasons;
    u->nreasons = nreasons > ACKUI_REASONS_MAX ? ACKUI_REASONS_MAX : nreasons;
}

bool ackui_busy(const struct ackui *u)
{
    return u->state != ACKUI_IDLE;
}

static enum ackui_do s_show(char *text, size_t cap, const char *what)
{
    snprintf(text, cap, "%s", what);
    return ACKUI_SHOW;
}

static enum ackui_do s_reason_prompt(struct ackui *u, char *text, size_t cap)
{
    size_t len = 0;
    bool need = strcmp(u->decision, "rejected") == 0;

    u->state = ACKUI_REASON;
    len += (size_t)snprintf(text, cap, "\nreason:%s", need ? "" : " [0] none");
    for (size_t i = 0; i < u->nreasons && len < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "  [%zu] %s", i + 1, u->reasons[i]);
    if (len < cap)
        snprintf(text + len, cap - len, "%s",
                 need && u->nreasons == 0 ? "  (none to choose: Esc, and ask an admin)" : "  ? ");
    return ACKUI_SHOW;
}

enum ackui_do ackui_key(struct ackui *u, unsigned char c, char *text, size_t cap)
{
    bool enter = c == '\r' || c == '\n';

    text[0] = '\0';
    if (c == S_ESC && u->state != ACKUI_IDLE) {
        u->state = ACKUI_IDLE;
        snprintf(text, cap, "\ncancelled, nothing acknowledged\n");
        return ACKUI_CANCEL;
    }
    switch (u->state) {
    case ACKUI_IDLE:
        if (c == 'a') {
            u->state = ACKUI_CARD;
            u->ndigits = 0;
            u->nnote = 0;
            u->note[0] = '\0';
            u->reason = NULL;
            return s_show(text, cap,
                          "acknowledge card number (Enter alone: the newest; Esc cancels): ");
        }
        if (c == '?' || c == 'h')
            return s_show(text, cap,
                          "keys: a acknowledge a card (then its number, the decision, the "
                          "reason, a note); Esc cancel; q quit\n");
        if (c == 'q')
            return ACKUI_QUIT;
        return ACKUI_NOTHING;
    case ACKUI_CARD:
        if (c >= '0' && c <= '9' && u->ndigits < 2) {
            u->digits[u->ndigits++] = (char)c;
            snprintf(text, cap, "%c", c);
            return ACKUI_SHOW;
        }
        if ((c == 0x7f || c == 0x08) && u->ndigits > 0) {
            u->ndigits--;
            return s_show(text, cap, "\b \b");
        }
        if (!enter)
            return ACKUI_NOTHING;
        u->card = 0;
        for (size_t i = 0; i < u->ndigits; i++)
            u->card = u->card * 10 + (u->digits[i] - '0');
        u->state = ACKUI_DECISION;
        return s_show(text, cap, "\n[a] accept  [r] reject  [n] not enforced ? ");
    case ACKUI_DECISION:
        if (c == 'a')
            u->decision = "accepted";
        else if (c == 'r')
            u->decision = "rejected";
        else if (c == 'n')
            u->decision = "not_enforced";
        else
            return ACKUI_NOTHING;
        return s_reason_prompt(u, text, cap);
    case ACKUI_REASON:
        if (c == '0' && strcmp(u->decision, "rejected") != 0)
            u->reason = NULL;
        else if (c >= '1' && c <= '9' && (size_t)(c - '0') <= u->nreasons)
            u->reason = u->reasons[c - '1'];
        else
            return ACKUI_NOTHING;
        u->state = ACKUI_NOTE;
        return s_show(text, cap, "\nnote (Enter to finish; empty: none): ");
    case ACKUI_NOTE:
        if (enter) {
            u->state = ACKUI_IDLE;
            snprintf(text, cap, "\n");
            return ACKUI_ACK;
        }
        if (c == 0x7f || c == 0x08) {
            if (u->nnote == 0)
                return ACKUI_NOTHING;
            /* Back over one whole UTF-8 character. */
            do
                u->nnote--;
            while (u->nnote > 0 && ((unsigned char)u->note[u->nnote] & 0xC0) == 0x80);
            u->note[u->nnote] = '\0';
            return s_show(text, cap, "\b \b");
        }
        /* Other control bytes are not text (the database would refuse them anyway). */
        if (c < 0x20 || u->nnote >= ACKUI_NOTE_MAX)
            return ACKUI_NOTHING;
        u->note[u->nnote++] = (char)c;
        u->note[u->nnote] = '\0';
        snprintf(text, cap, "%c", c);
        return ACKUI_SHOW;
    }
    return ACKUI_NOTHING;
}
