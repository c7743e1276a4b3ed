#include "card.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define S_LINE_MAX 4096           /* one logical line before wrapping */
#define S_BAR      "\xE2\x96\x8C" /* U+258C LEFT HALF BLOCK: the card's bar, one column */

/* The output being built: what does not fit is cut at a line end. */
struct s_out {
    char *p;
    size_t cap, len;
    bool full;
    const struct card_style *st;
    int width;
    char sgr[32]; /* the bar's colour, "" for none */
    bool nobar;   /* plain lines (card_wrap) */
};

static void s_put(struct s_out *o, const char *s, size_t n)
{
    if (o->full || o->len + n + 1 > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void s_puts(struct s_out *o, const char *s)
{
    s_put(o, s, strlen(s));
}

size_t card_columns(const char *s)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

/* Bytes of the first `cols` code points of s (or all of it). */
static size_t s_bytes_for(const char *s, size_t cols)
{
    size_t i = 0, n = 0;

    while (s[i] && n < cols) {
        i++;
        while ((s[i] & 0xC0) == 0x80)
            i++;
        n++;
    }
    return i;
}

/* The bar that starts every line of the card, in the list's colour. */
static void s_bar(struct s_out *o)
{
    if (o->sgr[0]) {
        s_puts(o, "\033[");
        s_puts(o, o->sgr);
        s_puts(o, "m" S_BAR "\033[0m ");
    } else {
        s_puts(o, S_BAR " ");
    }
}

/*
 * One logical line (clean text: no control character), wrapped at the width on spaces (a word
 * longer than a line is cut), every row under the bar, continuation rows indented by `indent`
 * columns. bold: the first row in bold (the plate line).
 */
static void s_line(struct s_out *o, const char *text, int indent, bool bold)
{
    size_t room = (size_t)(o->width - (o->nobar ? 0 : 2)); /* the bar and its space */
    const char *p = text;
    bool first = true;

    do {
        size_t lead = first ? 0 : (size_t)indent;
        size_t cols = room > lead + 10 ? room - lead : 10;
        size_t take = s_bytes_for(p, cols);
        if (p[take] != '\0') {
            /* Break at the last space within the row, if there is one. */
            size_t sp = take;
            while (sp > 0 && p[sp] != ' ')
                sp--;
            if (sp > 0)
                take = sp;
        }
        if (!o->nobar)
            s_bar(o);
        for (size_t i = 0; i < lead; i++)
            s_put(o, " ", 1);
        if (bold && first && o->st->color)
            s_puts(o, "\033[1m");
        s_put(o, p, take);
        if (bold && first && o->st->color)
            s_puts(o, "\033[0m");
        s_put(o, "\n", 1);
        p += take;
        while (*p == ' ')
            p++;
        first = false;
    } while (*p);
}

/* printf into a logical line, then cleaned and wrapped. Arguments are raw texts: each is
 * cleaned here, by cli_text, by the caller (the format itself is ours). */
__attribute__((format(printf, 4, 5))) static void s_linef(struct s_out *o, int indent, bool bold,
                                                          const char *fmt, ...)
{
    char line[S_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s_line(o, line, indent, bold);
}

/* A text for one line: line breaks (allowed in instructions) become spaces, then cli_text. */
static const char *s_flat(const char *s)
{
    char tmp[PROTO_TEXT_MAX + 1];
    size_t i = 0;

    for (; s && s[i] && i < sizeof tmp - 1; i++)
        tmp[i] = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
    tmp[i] = '\0';
    return cli_text(tmp);
}

void card_date(int64_t time_us, char *out, size_t cap)
{
    time_t sec = (time_t)(time_us / 1000000);
    struct tm tm;

    if (localtime_r(&sec, &tm) == NULL || strftime(out, cap, "%a %d %b %Y %H:%M:%S", &tm) == 0)
        snprintf(out, cap, "?");
}

void card_age(int64_t time_us, int64_t now_us, char *out, size_t cap)
{
    int64_t d = (now_us - time_us) / 1000000;
    bool ahead = d < 0;

    if (ahead)
        d = -d;
    if (!ahead && d < 2)
        snprintf(out, cap, "just now");
    else if (d < 120)
        snprintf(out, cap, "%s%" PRId64 " s%s", ahead ? "in " : "", d, ahead ? "" : " ago");
    else if (d < 3600)
        snprintf(out, cap, "%s%" PRId64 " min%s", ahead ? "in " : "", d / 60, ahead ? "" : " ago");
    else if (d < 2 * 86400)
        snprintf(out, cap, "%s%" PRId64 " h %" PRId64 " min%s", ahead ? "in " : "", d / 3600,
                 d % 3600 / 60, ahead ? "" : " ago");
    else
        snprintf(out, cap, "%s%" PRId64 " days%s", ahead ? "in " : "", d / 86400,
                 ahead ? "" : " ago");
}

const char *card_sgr(const char *colour, int priority, char *buf, size_t cap)
{
    static const struct {
        const char *name, *sgr;
    } named[] = {{"red", "1;31"},  {"orange", "1;38;5;208"}, {"yellow", "1;33"}, {"green", "1;32"},
                 {"blue", "1;34"}, {"purple", "1;35"},       {"grey", "1;90"}};
    unsigned r, g, b;

    for (size_t i = 0; colour && i < sizeof named / sizeof named[0]; i++)
        if (strcmp(colour, named[i].name) == 0)
            return named[i].sgr;
    /* #rrggbb to the nearest of the 6x6x6 cube of 256-colour terminals. */
    if (colour && strlen(colour) == 7 && colour[0] == '#' &&
        sscanf(colour + 1, "%2x%2x%2x", &r, &g, &b) == 3) {
        snprintf(buf, cap, "1;38;5;%u",
                 16 + 36 * ((r * 5 + 127) / 255) + 6 * ((g * 5 + 127) / 255) + (b * 5 + 127) / 255);
        return buf;
    }
    return priority <= 2 ? "1;31" : priority <= 4 ? "33" : "";
}

/* The listed plate spaced out, "1 A B C 1 2 3": readable from across the room. */
static void s_spaced(const char *plate, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *p = plate; *p && n + 3 < cap; p++) {
        if (n > 0)
            out[n++] = ' ';
        out[n++] = *p;
    }
    out[n] = '\0';
}

/* How the camera read it and how that matched, for one list: "exact", "ocr: 8 read as B at
 * 3", "candidate 2: 1-A8C-123 (640)", "pattern 1AB?12*". The head from the HIT's fields, the
 * detail (anprd's words, never parsed) after it unless it says the same. */
static void s_how(const struct proto_hit *h, char *out, size_t cap)
{
    const struct proto_read *r = &h->read;
    const char *m = proto_match_name(h->match);
    size_t len = 0;
    char head[160];

    out[0] = '\0';
    if (m == NULL)
        snprintf(head, sizeof head, "match %u", (unsigned)h->match);
    else if (h->match == PROTO_MATCH_PATTERN)
        snprintf(head, sizeof head, "pattern %s", cli_text(h->entry_plate));
    else
        snprintf(head, sizeof head, "%s", m);
    cli_cat(out, cap, &len, "%s", head);
    if (h->reading > 0 && h->reading <= r->ncand)
        cli_cat(out, cap, &len, ", candidate %u: %s", (unsigned)h->reading,
                cli_text(r->cand[h->reading - 1].plate));
    const char *detail = cli_text(h->detail);
    if (detail[0] != '\0' && strcmp(detail, head) != 0)
        cli_cat(out, cap, &len, " (%s)", detail);
}

/* "N2 Smeermaas (BE-SMEERMAAS-N2), lane 2, coming towards it, traffic to Maastricht" */
static void s_where(const struct proto_read *r, const struct card_place *pl, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    if (pl->name && pl->name[0])
        cli_cat(out, cap, &len, "%s (%s)", cli_text(pl->name), cli_text(r->camera));
    else
        cli_cat(out, cap, &len, "camera %s", cli_text(r->camera));
    if (r->lane != 0)
        cli_cat(out, cap, &len, ", lane %u", (unsigned)r->lane);
    if (r->direction == PROTO_DIR_TOWARDS)
        cli_cat(out, cap, &len, ", coming towards the camera");
    else if (r->direction == PROTO_DIR_AWAY)
        cli_cat(out, cap, &len, ", moving away from the camera");
    if (pl->heading && pl->heading[0])
        cli_cat(out, cap, &len, ", reads traffic %s", cli_text(pl->heading));
}

static void s_begin(struct s_out *o, const struct card *c, const struct card_style *st, char *out,
                    size_t cap)
{
    char buf[32];

    memset(o, 0, sizeof *o);
    o->p = out;
    o->cap = cap;
    o->st = st;
    o->width = st->width < CARD_WIDTH_MIN   ? CARD_WIDTH_MIN
               : st->width > CARD_WIDTH_MAX ? CARD_WIDTH_MAX
                                            : st->width;
    if (cap > 0)
        out[0] = '\0';
    if (st->color && c->nhits > 0)
        snprintf(o->sgr, sizeof o->sgr, "%s",
                 card_sgr(c->colours[0], c->hits[0]->priority, buf, sizeof buf));
}

/* Cut back to the last whole line when the buffer filled up. */
static size_t s_end(struct s_out *o)
{
    if (o->full) {
        while (o->len > 0 && o->p[o->len - 1] != '\n')
            o->len--;
        if (o->cap > 0)
            o->p[o->len] = '\0';
    }
    return o->len;
}

static const char *s_decision(const char *d)
{
    return strcmp(d, "not_enforced") == 0 ? "NOT ENFORCED"
           : strcmp(d, "rejected") == 0   ? "REJECTED"
           : strcmp(d, "accepted") == 0   ? "ACCEPTED"
                                          : cli_text(d);
}

static bool s_eq(const char *x, const char *y)
{
    return strcmp(x ? x : "", y ? y : "") == 0;
}

static bool s_ack_same(const struct card_ack *x, const struct card_ack *y)
{
    if (!x || !y)
        return x == y;
    return s_eq(x->decision, y->decision) && s_eq(x->operator, y->operator) &&
           s_eq(x->reason, y->reason) && s_eq(x->note, y->note);
}

/* "ACCEPTED by jdoe at 06 Dec 2026 08:32:10, reason misread: "note"" (list: whose, when the
 * lists of the card were answered differently). */
static void s_ack_line(struct s_out *o, const struct card_ack *a, const char *list)
{
    char when[48] = "", who[PROTO_LIST_MAX * 4 + 8] = "";

    if (a->at_us > 0)
        card_date(a->at_us, when, sizeof when);
    if (list)
        snprintf(who, sizeof who, "%s: ", cli_text(list));
    s_linef(o, 2, false, "%s%s by %s%s%s%s%s%s%s%s", who, s_decision(a->decision),
            cli_text(a->operator), when[0] ? " at " : "", when[0] ? when + 4 : "",
            a->reason && a->reason[0] ? ", reason " : "", cli_text(a->reason),
            a->note && a->note[0] ? ": \"" : "", a->note && a->note[0] ? s_flat(a->note) : "",
            a->note && a->note[0] ? "\"" : "");
}

size_t card_render(const struct card *c, int64_t now_us, const struct card_style *st, char *out,
                   size_t cap)
{
    struct s_out o;
    char date[48], age[48], plate[2 * PROTO_PLATE_MAX + 2], how[512], where[1024], cat[40];

    s_begin(&o, c, st, out, cap);
    if (c->nhits == 0)
        return 0;
    const struct proto_hit *h0 = c->hits[0];
    const struct proto_read *r = &h0->read;

    /* 1. The listed plate first, spaced out and bold; then how the camera read it. */
    snprintf(cat, sizeof cat, "%s", cli_text(h0->category));
    for (char *p = cat; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    s_spaced(cli_text(h0->entry_plate), plate, sizeof plate);
    char num[16] = "";
    if (c->number > 0)
        snprintf(num, sizeof num, "[%d] ", c->number);
    s_linef(&o, 4, true, "%sP%u %s%s%s  %s   read %s%s%s%s", num, (unsigned)h0->priority,
            c->again ? "AGAIN " : "", h0->post_match ? "POST-MATCH " : "", cat, plate,
            cli_text(r->plate), r->country[0] ? " (" : "", cli_text(r->country),
            r->country[0] ? ")" : "");
    /* 2. Date and age: a HIT caught up after a weekend must not look like one of now. */
    card_date(r->time_us, date, sizeof date);
    card_age(r->time_us, now_us, age, sizeof age);
    s_linef(&o, 2, false, "%s, %s%s, HIT %" PRIu64, date, age,
            h0->post_match ? " (read before it was listed)" : "", h0->hit_id);
    /* 3. Each list: how it matched, what to do, the reference. */
    for (size_t i = 0; i < c->nhits; i++) {
        const struct proto_hit *h = c->hits[i];
        s_how(h, how, sizeof how);
        if (i > 0)
            s_linef(&o, 2, false, "also P%u %s", (unsigned)h->priority, cli_text(h->category));
        s_linef(&o, 2, false, "%s: %s", cli_text(h->list), how);
        if (h->instruction[0])
            s_linef(&o, 2, false, "  do: %s", s_flat(h->instruction));
        if (h->external_ref[0])
            s_linef(&o, 2, false, "  ref %s", cli_text(h->external_ref));
    }
    /* 4. Where: the camera by name, the lane, the direction of travel. */
    s_where(r, &c->place, where, sizeof where);
    s_linef(&o, 2, false, "at %s", where);
    /* 5. Where it went since. */
    if (c->seen) {
        s_where(c->seen, &c->seen_place, where, sizeof where);
        card_date(c->seen->time_us, date, sizeof date);
        card_age(c->seen->time_us, now_us, age, sizeof age);
        s_linef(&o, 2, false, "LATEST: seen again at %s, %s (%s)", where, date + 4, age);
    }
    /* 6. Who took it: once when every list's HIT has the same answer, else per list. */
    bool same = true, any = false;
    for (size_t i = 0; i < c->nhits; i++) {
        any = any || c->acks[i];
        same = same && s_ack_same(c->acks[i], c->acks[0]);
    }
    for (size_t i = 0; any && i < (same ? 1 : c->nhits); i++)
        if (c->acks[i])
            s_ack_line(&o, c->acks[i], same ? NULL : c->hits[i]->list);
    if (!any && c->caught_up)
        s_line(&o, "not acknowledged yet", 2, false);
    return s_end(&o);
}

size_t card_render_seen(const struct card *c, int64_t now_us, const struct card_style *st,
                        char *out, size_t cap)
{
    struct s_out o;
    char date[48], age[48], where[1024];

    s_begin(&o, c, st, out, cap);
    if (c->nhits == 0 || !c->seen)
        return 0;
    s_where(c->seen, &c->seen_place, where, sizeof where);
    card_date(c->seen->time_us, date, sizeof date);
    card_age(c->seen->time_us, now_us, age, sizeof age);
    char num[16] = "";
    if (c->number > 0)
        snprintf(num, sizeof num, "[%d] ", c->number);
    s_linef(&o, 4, true, "%sSEEN AGAIN %s (read %s) at %s, %s (%s), HIT %" PRIu64, num,
            cli_text(c->hits[0]->entry_plate), cli_text(c->seen->plate), where, date + 4, age,
            c->hits[0]->hit_id);
    return s_end(&o);
}

size_t card_wrap(const char *text, int width, int indent, char *out, size_t cap)
{
    struct card_style st = {.width = width};
    struct card c = {0};
    struct s_out o;
    char line[S_LINE_MAX];

    s_begin(&o, &c, &st, out, cap);
    o.nobar = true;
    /* Each line of text on its own; an empty one stays. */
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        cli_clean(line, sizeof line, p, n, 0);
        if (line[0])
            s_line(&o, line, indent, false);
        else
            s_put(&o, "\n", 1);
        p += n + (nl != NULL);
    }
    return s_end(&o);
}
