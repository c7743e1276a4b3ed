/* test_ackui: the console's acknowledgement dialogue, a key at a time. */
#include "ackui.h"
#include "check.h"

#include <string.h>

/* Feed keys; the last action. */
static enum ackui_do s_keys(struct ackui *u, const char *keys, char *text, size_t cap)
{
    enum ackui_do d = ACKUI_NOTHING;

    for (const char *k = keys; *k; k++)
        d = ackui_key(u, (unsigned char)*k, text, cap);
    return d;
}

int main(void)
{
    static const char *const reasons[] = {"duplicate", "misread", "no_unit_available"};
    struct ackui u;
    char text[1024];

    ackui_init(&u, reasons, 3);
    CHECK(!ackui_busy(&u));
    /* Keys that mean nothing while idle. */
    CHECK_INT(s_keys(&u, "x1\n", text, sizeof text), ACKUI_NOTHING);
    /* a, card 12, accept, reason 3, a note with a typo fixed. */
    CHECK_INT(ackui_key(&u, 'a', text, sizeof text), ACKUI_SHOW);
    CHECK_CONTAINS(text, "acknowledge card number");
    CHECK(ackui_busy(&u));
    CHECK_INT(s_keys(&u, "12", text, sizeof text), ACKUI_SHOW);
    CHECK_STR(text, "2");
    CHECK_INT(s_keys(&u, "\r", text, sizeof text), ACKUI_SHOW);
    CHECK_CONTAINS(text, "[a] accept  [r] reject  [n] not enforced");
    CHECK_INT(s_keys(&u, "za", text, sizeof text), ACKUI_SHOW);
    CHECK_CONTAINS(text, "[0] none  [1] duplicate  [2] misread  [3] no_unit_available");
    CHECK_INT(s_keys(&u, "73", text, sizeof text), ACKUI_SHOW);
    CHECK_CONTAINS(text, "note");
    CHECK_INT(s_keys(&u, "unit 12 sentx\x7f\x01", text, sizeof text), ACKUI_NOTHING);
    CHECK_INT(s_keys(&u, "\n", text, sizeof text), ACKUI_ACK);
    CHECK_INT(u.card, 12);
    CHECK_STR(u.decision, "accepted");
    CHECK_STR(u.reason, "no_unit_available");
    CHECK_STR(u.note, "unit 12 sent");
    CHECK(!ackui_busy(&u));
    /* A rejection needs a reason: 0 is not offered; Enter alone is the newest card; an
     * empty note is none; a UTF-8 character goes whole with one backspace. */
    CHECK_INT(s_keys(&u, "a\nr", text, sizeof text), ACKUI_SHOW);
    CHECK(strstr(text, "[0] none") == NULL);
    CHECK_INT(s_keys(&u, "0", text, sizeof text), ACKUI_NOTHING);
    CHECK_INT(s_keys(&u, "2", text, sizeof text), ACKUI_SHOW);
    CHECK_INT(s_keys(&u, "\xC3\xA9\x7f\n", text, sizeof text), ACKUI_ACK);
    CHECK_INT(u.card, 0);
    CHECK_STR(u.decision, "rejected");
    CHECK_STR(u.reason, "misread");
    CHECK_STR(u.note, "");
    /* Esc cancels at any step; q quits only while idle. */
    CHECK_INT(s_keys(&u, "a3\nn", text, sizeof text), ACKUI_SHOW);
    CHECK_INT(ackui_key(&u, 0x1b, text, sizeof text), ACKUI_CANCEL);
    CHECK_CONTAINS(text, "cancelled");
    CHECK(!ackui_busy(&u));
    CHECK_INT(s_keys(&u, "an", text, sizeof text), ACKUI_NOTHING); /* 'n' is no digit */
    CHECK_INT(s_keys(&u, "\nnq0", text, sizeof text), ACKUI_SHOW); /* q is no reason */
    CHECK_INT(s_keys(&u, "q\n", text, sizeof text), ACKUI_ACK);    /* q in a note */
    CHECK_STR(u.note, "q");
    CHECK_STR(u.decision, "not_enforced");
    CHECK(u.reason == NULL);
    CHECK_INT(ackui_key(&u, 'q', text, sizeof text), ACKUI_QUIT);
    /* A note stops at its limit. */
    ackui_init(&u, reasons, 3);
    s_keys(&u, "a\na0", text, sizeof text);
    for (int i = 0; i < ACKUI_NOTE_MAX + 50; i++)
        ackui_key(&u, 'x', text, sizeof text);
    CHECK_INT(s_keys(&u, "\n", text, sizeof text), ACKUI_ACK);
    CHECK_INT(strlen(u.note), ACKUI_NOTE_MAX);
    return check_done("ackui");
}
