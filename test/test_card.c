/* test_card: a HIT card as an operator reads it: plate first, date and age, lists merged,
 * wrapped at the width, colours, nothing from outside reaching the terminal raw. */
#include "card.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795000000000000LL /* 2026-11-18T11:06:40Z */

static void s_hit(struct proto_hit *h, const char *list, const char *cat, int prio, uint64_t id)
{
    memset(h, 0, sizeof *h);
    snprintf(h->list, sizeof h->list, "%s", list);
    snprintf(h->category, sizeof h->category, "%s", cat);
    snprintf(h->entry_plate, sizeof h->entry_plate, "1ABC123");
    h->priority = (uint8_t)prio;
    h->match = PROTO_MATCH_OCR;
    h->nsubst = 1;
    snprintf(h->detail, sizeof h->detail, "B read as 8 at 3");
    snprintf(h->instruction, sizeof h->instruction,
             "Stop and check the driver; do not pursue on the motorway, call the federal "
             "highway police and keep the vehicle in sight until they arrive");
    snprintf(h->external_ref, sizeof h->external_ref, "PV-2026-0012");
    snprintf(h->read.camera, sizeof h->read.camera, "BE-SMEERMAAS-N2");
    snprintf(h->read.plate, sizeof h->read.plate, "1-A8C-123");
    snprintf(h->read.country, sizeof h->read.country, "BE");
    h->read.seq = 7;
    h->read.time_us = NOW - 3LL * 86400 * 1000000; /* caught up after a weekend */
    h->read.direction = PROTO_DIR_AWAY;
    h->read.lane = 2;
    h->hit_id = id;
}

/* Every line of text is at most `width` columns (escapes not counted). */
static bool s_fits(const char *text, int width)
{
    char line[4096];

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n >= sizeof line)
            return false;
        memcpy(line, p, n);
        line[n] = '\0';
        /* drop escapes: ESC [ ... m */
        char plain[4096];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (line[i] == '\033') {
                while (i < n && line[i] != 'm')
                    i++;
                continue;
            }
            plain[k++] = line[i];
        }
        plain[k] = '\0';
        if (card_columns(plain) > (size_t)width) {
            fprintf(stderr, "too wide (%zu): %s\n", card_columns(plain), plain);
            return false;
        }
        p += n + (nl != NULL);
    }
    return true;
}

int main(void)
{
    static char text[CARD_MAX];
    struct proto_hit a, b, seen;
    struct card_style st = {.width = 80, .color = false};

    setenv("TZ", "UTC", 1);
    s_hit(&a, "Stolen vehicles", "stolen", 1, 1001);
    s_hit(&b, "Wanted persons", "wanted", 2, 1002);
    b.match = PROTO_MATCH_EXACT;
    b.detail[0] = '\0';
    b.instruction[0] = '\0';
    struct card c = {.number = 3,
                     .hits = {&a, &b},
                     .nhits = 2,
                     .caught_up = true,
                     .place = {"N2 Smeermaas, border crossing to Maastricht", "to Maastricht"}};
    size_t n = card_render(&c, NOW, &st, text, sizeof text);
    CHECK(n > 0 && n == strlen(text));
    /* The listed plate first, spaced out; then how the camera read it. */
    CHECK(strncmp(text, "\xE2\x96\x8C [3] P1 STOLEN  1 A B C 1 2 3   read 1-A8C-123 (BE)\n",
                  strlen("\xE2\x96\x8C [3] P1 STOLEN  1 A B C 1 2 3   read 1-A8C-123 (BE)\n")) ==
          0);
    /* Date and age on the card. */
    CHECK_CONTAINS(text, "Sun 15 Nov 2026 11:06:40, 3 days ago, HIT 1001");
    /* Both lists on the one card, each with how it matched. */
    CHECK_CONTAINS(text, "Stolen vehicles: ocr (B read as 8 at 3)");
    CHECK_CONTAINS(text, "also P2 wanted");
    CHECK_CONTAINS(text, "Wanted persons: exact");
    CHECK_CONTAINS(text, "ref PV-2026-0012");
    /* The camera by name, lane, direction. */
    CHECK_CONTAINS(text,
                   "at N2 Smeermaas, border crossing to Maastricht (BE-SMEERMAAS-N2), lane 2,");
    CHECK_CONTAINS(text, "moving away from the camera");
    CHECK_CONTAINS(text, "not acknowledged yet");
    CHECK(s_fits(text, 80));
    /* Long words are cut, narrow terminals laid out at 40 columns. */
    st.width = 20;
    card_render(&c, NOW, &st, text, sizeof text);
    CHECK(s_fits(text, 40));
    st.width = 80;

    /* Acknowledged by a colleague, seen again since, announced again. */
    struct card_ack ack = {"accepted", "jdoe", "", "unit 12 sent", NOW - 60LL * 1000000};
    seen = a;
    snprintf(seen.read.camera, sizeof seen.read.camera, "BE-N78-VELDWEZELT");
    seen.read.time_us = NOW - 30LL * 1000000;
    seen.read.direction = PROTO_DIR_TOWARDS;
    c.acks[0] = &ack;
    c.acks[1] = &ack;
    c.again = true;
    c.caught_up = false;
    c.seen = &seen.read;
    c.seen_place = (struct card_place){"N78 Veldwezelt", NULL};
    card_render(&c, NOW, &st, text, sizeof text);
    CHECK_CONTAINS(text, "[3] P1 AGAIN STOLEN");
    CHECK_CONTAINS(text, "ACCEPTED by jdoe at 18 Nov 2026 11:05:40: \"unit 12 sent\"");
    CHECK_CONTAINS(text, "LATEST: seen again at N78 Veldwezelt (BE-N78-VELDWEZELT)");
    CHECK_CONTAINS(text, "18 Nov 2026 11:06:10 (30 s ago)");
    CHECK(s_fits(text, 80));
    /* The lists answered differently: each says its own. */
    struct card_ack other = {"not_enforced", "kim", "no_unit_available", NULL, 0};
    c.acks[1] = &other;
    card_render(&c, NOW, &st, text, sizeof text);
    CHECK_CONTAINS(text, "Stolen vehicles: ACCEPTED by jdoe");
    CHECK_CONTAINS(text, "Wanted persons: NOT ENFORCED by kim, reason no_unit_available");
    c.acks[1] = &ack;
    n = card_render_seen(&c, NOW, &st, text, sizeof text);
    CHECK(n > 0);
    CHECK_CONTAINS(text, "[3] SEEN AGAIN 1ABC123 (read 1-A8C-123) at N78 Veldwezelt");
    CHECK(s_fits(text, 80));

    /* Text from outside cannot drive the terminal; colours come from the list. */
    snprintf(a.list, sizeof a.list, "Evil\033]0;owned\007 list\xE2\x80\xAE");
    snprintf(a.instruction, sizeof a.instruction, "line one\nline two\033[2J");
    st.color = true;
    const char *colours[2] = {"#ff8800", NULL};
    c.colours[0] = colours[0];
    card_render(&c, NOW, &st, text, sizeof text);
    CHECK(strstr(text, "\033]") == NULL && strstr(text, "\007") == NULL &&
          strstr(text, "\033[2J") == NULL && strstr(text, "\xE2\x80\xAE") == NULL);
    CHECK_CONTAINS(text, "Evil\\u{1b}]0;owned\\u{7} list\\u{202e}");
    CHECK_CONTAINS(text, "do: line one line two\\u{1b}[2J");
    CHECK_CONTAINS(text, "\033[1;38;5;214m\xE2\x96\x8C\033[0m ");
    CHECK(s_fits(text, 80));

    /* Colours: named, #rrggbb, by priority. */
    char buf[32];
    CHECK_STR(card_sgr("red", 9, buf, sizeof buf), "1;31");
    CHECK_STR(card_sgr("#0000ff", 9, buf, sizeof buf), "1;38;5;21");
    CHECK_STR(card_sgr(NULL, 1, buf, sizeof buf), "1;31");
    CHECK_STR(card_sgr(NULL, 4, buf, sizeof buf), "33");
    CHECK_STR(card_sgr("bogus", 7, buf, sizeof buf), "");
    /* Ages. */
    card_age(NOW, NOW, buf, sizeof buf);
    CHECK_STR(buf, "just now");
    card_age(NOW - 45LL * 1000000, NOW, buf, sizeof buf);
    CHECK_STR(buf, "45 s ago");
    card_age(NOW - 7380LL * 1000000, NOW, buf, sizeof buf);
    CHECK_STR(buf, "2 h 3 min ago");
    card_age(NOW + 5LL * 1000000, NOW, buf, sizeof buf);
    CHECK_STR(buf, "in 5 s");
    /* A buffer too small: whole lines only. */
    n = card_render(&c, NOW, &st, text, 100);
    CHECK(n < 100 && (n == 0 || text[n - 1] == '\n'));
    return check_done("card");
}
