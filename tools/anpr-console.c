/*
 * anpr-console: the dispatch operator's live view of HITs. Subscribes to anprd's PUB socket and
 * shows one card per read (card.h: the HITs of one car on several lists together), most urgent
 * first, with the feed's health (health.h: the heartbeat), or one TSV line per HIT for scripts
 * and tests. With --db it names cameras, colours lists, and lets the operator acknowledge a card
 * from inside (ackui.h); with --since it first catches up on the HITs it missed, from
 * anpr.dispatch_hits by hit_id (docs/DISPATCH.md); `ack` and `reasons` acknowledge a HIT as the
 * operator's database login and list the reasons a rejection may give. On the covert feed
 * (--covert) the same, for a person cleared for the list: the database decides, on the person's
 * own connection, whether they may acknowledge a covert HIT (anpr.acknowledge_hit) and which
 * covert HITs they catch up on (anpr.covert_request, then anpr.covert_rows: migration 021).
 */
#include "ackui.h"
#include "card.h"
#include "cli.h"
#include "curve.h"
#include "config.h"
#include "db.h"
#include "health.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PROG "anpr-console"

#define S_CATEGORIES_MAX 32
#define S_TOPIC_MAX      (5 + PROTO_CATEGORY_MAX) /* "seen/" + a category */
#define S_CARDS          99 /* cards kept (and numbered 1..99 for the operator) */
#define S_CAMERAS_MAX    4096
#define S_LISTS_MAX      4096
#define S_STATUS_US      1000000 /* the status line is redrawn this often */
#define S_COVERT_ASK_US  2000000 /* covert subscriptions repeated this often */
#define S_BATCH_US       200000  /* hits this close together are shown most urgent first */
#define S_BATCH_MAX      1024    /* a burst larger than this is printed in several batches */
#define S_WARN_MAX       20
#define S_PAGE           1000    /* catch-up rows per query */
#define S_RECHECK_US     1000000 /* the second catch-up pass, after going live */
#define S_DUP_US         1000000 /* after the catch-up, a feed's copy of what it printed may come */
#define S_SEEN_KEEP_US   (25LL * 3600 * 1000000) /* anprd announces a HIT again for a day */
#define S_ENDPOINTS_MAX  8        /* anprd instances followed at once (--endpoint repeated) */
#define S_RECENT         4096     /* the latest HITs, to drop one a second instance sends too */
#define S_TWICE_US       10000000 /* the same hit_id from another instance this soon: a copy */

/* Exit codes (also of ack and reasons). */
#define S_EXIT_OK       0
#define S_EXIT_REFUSED  1 /* live: --timeout before --count; ack: refused by the database */
#define S_EXIT_USAGE    2 /* usage or socket error */
#define S_EXIT_DATABASE 3 /* connection, permission, a failed query */

#define S_RESET "\033[0m"

#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)

enum s_format { S_TEXT, S_TSV };

/* The latest acknowledgement of a HIT, as the catch-up or our own ack learnt it. */
struct ackinfo {
    bool set;
    char decision[16];
    char operator[64];
    char reason[40];
    char note[ACKUI_NOTE_MAX + 1];
    int64_t at_us;
};

struct held {
    struct proto_hit hit;
    uint64_t order; /* arrival, to keep the sort stable */
    bool again;     /* announced again by anprd: printed before, still not acknowledged */
    bool caught_up; /* from the catch-up: ack is what the table said */
    struct ackinfo ack;
};

/* A card on screen: the HITs of one read (card.h), what is known of it since. */
struct s_card {
    bool used;
    int number;     /* 1..S_CARDS, what the operator types */
    uint64_t order; /* when it was made: the oldest is reused */
    struct proto_hit hits[CARD_LISTS_MAX];
    size_t nhits;
    bool again, caught_up;
    bool has_seen;                       /* seen again since */
    struct proto_read seen;              /* the latest sighting */
    struct ackinfo acks[CARD_LISTS_MAX]; /* each HIT's latest acknowledgement known */
};

/* anpr.camera, fetched once (--db): the names and headings cards show. */
struct s_cam {
    char code[PROTO_CAMERA_MAX + 1];
    char *name, *heading;
};

/* anpr.watchlist colours, fetched once (--db). */
struct s_list {
    uint32_t id;
    char colour[8];
};

/* A hit_id printed: when (monotonic, the last time), and whether by the catch-up. */
struct seen {
    uint64_t id; /* 0: a free slot */
    int64_t at_us;
    bool caught_up;
};

/* What a HIT about to be printed is (s_seen_note). */
enum s_seen_kind {
    S_SEEN_NEW,       /* not printed before */
    S_SEEN_DUPLICATE, /* printed already: the catch-up's copy, or the feed's of a caught-up one */
    S_SEEN_AGAIN,     /* printed before, and announced again by anprd */
};

/* A HIT printed lately: its read and entry, which instance sent it and when (monotonic). */
struct recent {
    uint64_t hit_id; /* 0: a free slot */
    uint64_t entry_id, seq;
    int64_t time_us, at_us;
    uint32_t epoch;
    size_t src;
    char camera[PROTO_CAMERA_MAX + 1];
};

struct app {
    const char *endpoints[S_ENDPOINTS_MAX]; /* --endpoint: each anprd instance's feed */
    size_t nendpoints;
    const char *key_file;   /* --key: our CURVE secret key file */
    const char *server_key; /* --server-key: anprd's public key (Z85 or file) */
    const char *categories[S_CATEGORIES_MAX];
    size_t ncategories;
    uint32_t covert[S_CATEGORIES_MAX]; /* --covert: list ids on the covert feed */
    size_t ncovert;
    int min_priority;
    int64_t count;
    double timeout;
    enum s_format format;
    bool color, sort;

    void *ctx, *socks[S_ENDPOINTS_MAX]; /* one for each endpoint */
    uint64_t shown, filtered, bad;
    uint64_t twice;        /* HITs another instance had sent already (not shown) */
    struct recent *recent; /* S_RECENT, with more than one endpoint */
    size_t recent_next;
    unsigned warned;

    struct held *held; /* hits waiting for their batch to end (sorted text mode only) */
    size_t nheld;
    int64_t batch_end;

    const char *db;         /* conninfo for the catch-up (--db) */
    const char *state_path; /* --state: the highest hit_id printed is kept here */
    bool catch_up;          /* --since given: catch up before going live */
    uint64_t since;         /* catch up on HITs with a hit_id above this */
    uint64_t max_printed;   /* highest hit_id printed, what --state records */
    int64_t recheck_at;     /* when the second catch-up pass runs (INT64_MAX: done) */
    int64_t copies_until;   /* till then, a caught-up HIT from the feed is the feed's copy */
    uint64_t duplicates;    /* live HITs skipped because the catch-up printed them */
    uint64_t caught_up;     /* HITs printed by the catch-up */
    uint64_t again;         /* HITs printed again: anprd announced them again */
    bool told_uncleared;    /* said once that the login is cleared for no covert list */
    PGconn *conn;           /* the catch-up's session */

    struct seen *seen; /* hit_ids printed (open addressing) */
    size_t seen_cap, seen_n;

    /* Cards (text format). */
    struct s_card *cards; /* S_CARDS */
    uint64_t card_order;
    bool tty;          /* stdout is a terminal: a status line at the bottom, redrawn */
    bool status_shown; /* the status line is on screen (to clear before printing) */
    int64_t status_at; /* when it is next redrawn */
    struct health health[S_ENDPOINTS_MAX]; /* each instance's feed */
    uint64_t sightings;

    /* --db in text format: names, colours, the reasons, acknowledging from inside. */
    struct s_cam *cams;
    size_t ncams;
    struct s_list *lists;
    size_t nlists;
    char **reasons;
    size_t nreasons;
    bool keys; /* reading the operator's keys from stdin */
    bool raw;  /* stdin is a terminal we put in non-canonical mode */
    struct termios saved_tio;
    struct ackui ui;
    const char *login; /* the database login: who acks */
};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --endpoint ENDPOINT [options]\n"
               "       " PROG " ack HIT_ID accepted|rejected|not-enforced [--reason R]\n"
               "           [--note TEXT] --db CONNINFO\n"
               "       " PROG " reasons --db CONNINFO\n"
               "\n"
               "Live view of anprd watchlist hits, one card per car, with the feed's health;\n"
               "acknowledging them.\n"
               "\n"
               "  --endpoint E        anprd hit endpoint, e.g. tcp://127.0.0.1:5556; repeated\n"
               "                      for several anprd instances (8 at most): each followed,\n"
               "                      a HIT two instances send shown once\n"
               "  --key FILE          our CURVE secret key (anpr-keygen NAME makes NAME.key);\n"
               "                      its public key must be registered in the database\n"
               "  --server-key K      anprd's CURVE public key: 40 Z85 characters or a file\n"
               "                      (without --key and --server-key: plain text, for an\n"
               "                      anprd run with curve.insecure_plaintext)\n"
               "  --db CONNINFO       database, as a login in anpr_dispatch: camera names and\n"
               "                      list colours on the cards, and (text format) the keys to\n"
               "                      acknowledge a card from inside: a, the card's number and\n"
               "                      Enter, a|r|n for the decision, the reason's number, a\n"
               "                      note and Enter; also for --since, ack, reasons\n"
               "  --no-keys           with --db, do not read keys from stdin\n"
               "  --since ID|last     first print every HIT with a hit_id above ID from\n"
               "                      anpr.dispatch_hits (with --covert: the covert HITs the\n"
               "                      login is cleared for, audited in anpr.covert_read_audit),\n"
               "                      then go live without repeating them; 'last': the id kept\n"
               "                      in --state (nothing to catch up on when the file does not\n"
               "                      exist yet)\n"
               "  --state FILE        keep the highest hit_id printed in FILE\n"
               "  --reason R          ack: the reason (required for rejected; see 'reasons')\n"
               "  --note TEXT         ack: a note for the record (500 bytes at most)\n"
               "  --category C        only hits of this category (repeatable; default all)\n"
               "  --covert ID         on anprd's covert feed (--endpoint): the HITs of covert\n"
               "                      list ID (repeatable), which this console's key must be\n"
               "                      cleared for (anpr-consoles clear); cards marked COVERT,\n"
               "                      do not intervene; with --db, acknowledged and caught up\n"
               "                      on by a login cleared for the list (anpr.grant_covert)\n"
               "  --min-priority N    only hits of priority N or more urgent (1..9, default 9)\n"
               "  --count N           exit 0 after N hits\n"
               "  --timeout S         exit after S seconds: 1 if fewer than --count hits came,\n"
               "                      0 without --count\n"
               "  --format text|tsv   output format (default text)\n"
               "  --no-color          no ANSI colours (also when NO_COLOR is set)\n"
               "  --help, --version\n"
               "\n"
               "tsv columns: time_us camera seq plate country entry_id list_id list category\n"
               "priority match entry_plate reading nsubst detail post_match hit_id again\n"
               "(reading: 0 = the plate as read, n = the read's candidate n; again: 1 = announced\n"
               "again, not acknowledged yet; the text format shows AGAIN after the priority)\n"
               "\n"
               "The text format also shows sightings (SEEN AGAIN: the car of a card read at\n"
               "another camera) and the feed's health: FEED LOST when nothing came from anprd\n"
               "for three heartbeat intervals (6 s by default); with several endpoints, how\n"
               "many instances are heard from ('2 of 2 instances') and the one that is lost.\n"
               "\n"
               "exit: 0 done; 1 --timeout before --count, or ack refused (also when another\n"
               "operator acknowledged the HIT first); 2 usage or socket\n"
               "error; 3 database error\n");
}

static void s_warn(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_warn(struct app *a, const char *fmt, ...)
{
    va_list ap;

    if (a->warned > S_WARN_MAX)
        return;
    if (a->warned++ == S_WARN_MAX) {
        fprintf(stderr, PROG ": warning: more bad messages, not reporting them\n");
        return;
    }
    fprintf(stderr, PROG ": warning: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* New columns go at the end, so scripts that cut fields by number keep working. */
static void s_print_tsv(const struct proto_hit *h, bool again)
{
    const struct proto_read *r = &h->read;
    const char *m = proto_match_name(h->match);
    char mbuf[8];

    if (m == NULL) {
        snprintf(mbuf, sizeof(mbuf), "%u", (unsigned)h->match);
        m = mbuf;
    }
    printf("%" PRId64 "\t%s\t%" PRIu64 "\t%s\t%s\t%" PRIu64 "\t%" PRIu32
           "\t%s\t%s\t%u\t%s\t%s\t%u\t%u\t%s\t%d\t%" PRIu64 "\t%d\n",
           r->time_us, cli_text(r->camera), r->seq, cli_text(r->plate), cli_text(r->country),
           h->entry_id, h->list_id, cli_text(h->list), cli_text(h->category), (unsigned)h->priority,
           m, cli_text(h->entry_plate), (unsigned)h->reading, (unsigned)h->nsubst,
           cli_text(h->detail), h->post_match ? 1 : 0, h->hit_id, again ? 1 : 0);
    fflush(stdout);
}

/* ---- the screen ---- */

/* Columns to lay cards out in: the terminal's, $COLUMNS, else 80. */
static int s_width(const struct app *a)
{
    struct winsize ws;
    long long v;
    const char *cols = getenv("COLUMNS");

    if (a->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (cols && util_parse_long(cols, 1, 10000, &v) == 0)
        return (int)v;
    return 80;
}

/* Clear the status line before something else is printed (a terminal only). */
static void s_status_clear(struct app *a)
{
    if (a->status_shown) {
        fputs("\r\033[K", stdout);
        a->status_shown = false;
    }
}

/* A line of our own to stdout (or f), wrapped at the width; texts in it are cleaned there. */
static void s_say(struct app *a, FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_say(struct app *a, FILE *f, const char *fmt, ...)
{
    char line[2048], out[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    card_wrap(line, s_width(a), 4, out, sizeof out);
    s_status_clear(a);
    fputs(out, f);
    fflush(f);
}

/* The health line: the one feed's; with several instances, how many are heard from, then the
 * first lost one's line (else the first one's). */
static void s_health_text(struct app *a, int64_t now, char *line, size_t cap)
{
    size_t up = 0, show = 0;
    bool any_lost = false;

    for (size_t i = 0; i < a->nendpoints; i++) {
        if (!a->health[i].lost && a->health[i].connected)
            up++;
        else if (!any_lost) {
            any_lost = true;
            show = i;
        }
    }
    if (a->nendpoints == 1) {
        health_line(&a->health[0], now, util_now_us(), line, cap);
        return;
    }
    int n = snprintf(line, cap, "%zu of %zu instances · ", up, a->nendpoints);
    if (n > 0 && (size_t)n < cap)
        health_line(&a->health[show], now, util_now_us(), line + n, cap - (size_t)n);
}

/* The feed-health line at the bottom of a terminal, redrawn in place. */
static void s_status_draw(struct app *a, int64_t now)
{
    char line[1024];

    a->status_at = now + S_STATUS_US;
    if (!a->tty || ackui_busy(&a->ui))
        return;
    s_health_text(a, now, line, sizeof line);
    /* One row: what does not fit is cut (a wrapped status line could not be redrawn). */
    size_t w = (size_t)s_width(a), n = 0, cols = 0;
    while (line[n] && cols + 1 < w) {
        n++;
        while ((line[n] & 0xC0) == 0x80)
            n++;
        cols++;
    }
    line[n] = '\0';
    s_status_clear(a);
    bool lost = strstr(line, "FEED LOST") != NULL;
    if (a->color)
        printf("%s%s%s", lost ? "\033[1;37;41m" : "\033[2m", line, S_RESET);
    else
        fputs(line, stdout);
    a->status_shown = true;
    fflush(stdout);
}

/* Health transitions as lines of their own: loud when the feed is lost. On a terminal the
 * status line says the rest; in a file or a pipe these lines are all there is. */
static void s_health_event(struct app *a, size_t i, enum health_event e, int64_t now)
{
    char line[1024], one[1024];

    if (e == HEALTH_NONE)
        return;
    health_line(&a->health[i], now, util_now_us(), one, sizeof one);
    if (a->nendpoints > 1) {
        size_t up = 0;
        for (size_t k = 0; k < a->nendpoints; k++)
            up += !a->health[k].lost && a->health[k].connected;
        snprintf(line, sizeof line, "%zu of %zu instances · %.200s: %.700s", up, a->nendpoints,
                 a->endpoints[i], one);
    } else {
        snprintf(line, sizeof line, "%s", one);
    }
    FILE *f = a->format == S_TSV ? stderr : stdout;
    s_status_clear(a);
    if (e == HEALTH_LOST) {
        if (a->color)
            fputs("\033[1;37;41m", f);
        s_say(a, f, "!!! %s !!!", line);
        if (a->color)
            fputs(S_RESET, f);
    } else {
        s_say(a, f, "%s%s", e == HEALTH_BACK ? "feed back: " : "", line);
    }
    fflush(f);
    s_status_draw(a, now);
}

static const struct s_cam *s_cam_find(const struct app *a, const char *code)
{
    for (size_t i = 0; i < a->ncams; i++)
        if (strcmp(a->cams[i].code, code) == 0)
            return &a->cams[i];
    return NULL;
}

static struct card_place s_place(const struct app *a, const char *code)
{
    const struct s_cam *c = s_cam_find(a, code);

    return c ? (struct card_place){c->name, c->heading} : (struct card_place){NULL, NULL};
}

static const char *s_colour(const struct app *a, uint32_t list_id)
{
    for (size_t i = 0; i < a->nlists; i++)
        if (a->lists[i].id == list_id)
            return a->lists[i].colour;
    return NULL;
}

static bool s_same_read(const struct proto_read *x, const struct proto_read *y)
{
    return x->seq == y->seq && x->time_us == y->time_us && strcmp(x->camera, y->camera) == 0;
}

/* The card holding HIT id, or NULL. */
static struct s_card *s_card_of(struct app *a, uint64_t id)
{
    for (size_t i = 0; a->cards && i < S_CARDS; i++)
        for (size_t k = 0; a->cards[i].used && k < a->cards[i].nhits; k++)
            if (a->cards[i].hits[k].hit_id == id)
                return &a->cards[i];
    return NULL;
}

/* The card of number n (0: the newest), or NULL. */
static struct s_card *s_card_number(struct app *a, int n)
{
    struct s_card *best = NULL;

    for (size_t i = 0; a->cards && i < S_CARDS; i++) {
        struct s_card *c = &a->cards[i];
        if (c->used && (n == 0 ? (!best || c->order > best->order) : c->number == n))
            best = c;
    }
    return best;
}

static void s_card_print(struct app *a, const struct s_card *sc, bool seen_only)
{
    static char text[CARD_MAX];
    struct card c = {
        .number = sc->number, .nhits = sc->nhits, .again = sc->again, .caught_up = sc->caught_up};
    struct card_ack acks[CARD_LISTS_MAX];
    struct card_style st = {.width = s_width(a), .color = a->color};

    for (size_t i = 0; i < sc->nhits; i++) {
        c.hits[i] = &sc->hits[i];
        c.colours[i] = s_colour(a, sc->hits[i].list_id);
    }
    c.place = s_place(a, sc->hits[0].read.camera);
    if (sc->has_seen) {
        c.seen = &sc->seen;
        c.seen_place = s_place(a, sc->seen.camera);
    }
    for (size_t i = 0; i < sc->nhits; i++) {
        const struct ackinfo *k = &sc->acks[i];
        acks[i] = (struct card_ack){k->decision, k->operator, k->reason, k->note, k->at_us};
        c.acks[i] = k->set ? &acks[i] : NULL;
    }
    if (seen_only)
        card_render_seen(&c, util_now_us(), &st, text, sizeof text);
    else
        card_render(&c, util_now_us(), &st, text, sizeof text);
    s_status_clear(a);
    /* Only covert HITs come on the covert feed: each card says so above it, as the board's
     * does; it is watched, not stopped, and nothing sounds. */
    if (a->ncovert > 0 && !seen_only)
        printf("%s[%d] COVERT · do not intervene%s\n", a->color ? "\033[1;7m" : "", sc->number,
               a->color ? S_RESET : "");
    fputs(text, stdout);
    if (!seen_only)
        fputc('\n', stdout);
    fflush(stdout);
}

/*
 * A HIT for the screen: on the card of its read when there is one (another list of the same
 * car; or this HIT announced again, then marked, with the place it carries if the car has moved
 * on), else on a new card: a free one, or the one least lately shown, whose number (1..99) it
 * takes. Returns
 * the card, NULL when there are no cards (out of memory at start).
 */
static struct s_card *s_card_take(struct app *a, const struct held *hd)
{
    const struct proto_hit *h = &hd->hit;
    struct s_card *c = NULL, *oldest = NULL;

    if (!a->cards)
        return NULL;
    for (size_t i = 0; i < S_CARDS && !c; i++) {
        struct s_card *x = &a->cards[i];
        if (!x->used) {
            if (!oldest || oldest->used)
                oldest = x;
            continue;
        }
        if (!oldest || (oldest->used && x->order < oldest->order))
            oldest = x;
        for (size_t k = 0; k < x->nhits && !c; k++)
            if (x->hits[k].hit_id == h->hit_id && h->hit_id != 0)
                c = x;
        if (!c && s_same_read(&x->hits[0].read, &h->read) && x->nhits < CARD_LISTS_MAX)
            c = x;
    }
    if (c) {
        size_t k = 0;
        while (k < c->nhits && c->hits[k].hit_id != h->hit_id)
            k++;
        if (k == c->nhits) {
            c->hits[c->nhits++] = *h; /* another list of the same read */
            c->acks[k] = hd->ack;
        } else if (!s_same_read(&c->hits[k].read, &h->read) &&
                   (!c->has_seen || h->read.time_us >= c->seen.time_us)) {
            c->seen = h->read; /* announced again with its latest sighting */
            c->has_seen = true;
        }
        c->again = c->again || hd->again;
    } else {
        /* A card's number is its slot's: never two cards under one number. */
        c = oldest;
        memset(c, 0, sizeof *c);
        c->used = true;
        c->number = (int)(c - a->cards) + 1;
        c->hits[0] = *h;
        c->acks[0] = hd->ack;
        c->nhits = 1;
        c->again = hd->again;
        c->caught_up = hd->caught_up;
    }
    c->order = ++a->card_order;
    return c;
}

/* A sighting (PROTOCOL.md 5.8) of HIT hit->hit_id: the card moves on, and says so. */
static void s_sighting(struct app *a, const struct proto_hit *h)
{
    struct s_card *c = s_card_of(a, h->hit_id);

    a->sightings++;
    if (a->format != S_TEXT)
        return;
    if (!c) {
        /* Its HIT came before this console started: a card of its own, the HIT as the
         * sighting shows it. */
        struct held hd = {.hit = *h};
        c = s_card_take(a, &hd);
        if (!c)
            return;
        s_card_print(a, c, false);
        return;
    }
    /* Older than what it shows, or the same read again (one sighting per list of the card). */
    if (c->has_seen && (h->read.time_us < c->seen.time_us || s_same_read(&c->seen, &h->read)))
        return;
    c->seen = h->read;
    c->has_seen = true;
    s_card_print(a, c, true);
}

/*
 * --state: the highest hit_id printed, one decimal line, replaced whole (written to FILE.tmp,
 * then renamed over FILE) so a crash leaves the old id or the new one, never half of one.
 */
static void s_state_write(struct app *a)
{
    char tmp[4096];
    FILE *f;
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", a->state_path);

    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        s_warn(a, "--state: path too long");
        return;
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        s_warn(a, "--state: %s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f, "%" PRIu64 "\n", a->max_printed);
    if (fclose(f) != 0 || rename(tmp, a->state_path) != 0) {
        s_warn(a, "--state: %s: %s", a->state_path, strerror(errno));
        unlink(tmp);
    }
}

/* 0 with *id set (0 when the file does not exist yet), -1 when it cannot be read. */
static int s_state_read(const char *path, uint64_t *id)
{
    char buf[64];
    long long v;
    size_t n;
    FILE *f = fopen(path, "r");

    *id = 0;
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, PROG ": --state: %s: %s\n", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (util_parse_long(buf, 0, INT64_MAX, &v) != 0) {
        fprintf(stderr, PROG ": --state: %s: expected a hit id, got '%.20s'\n", path, buf);
        return -1;
    }
    *id = (uint64_t)v;
    return 0;
}

/* The highest hit_id printed, for --state. */
static void s_printed(struct app *a, uint64_t id)
{
    if (id > a->max_printed) {
        a->max_printed = id;
        if (a->state_path != NULL)
            s_state_write(a);
    }
}

/*
 * The hit_ids printed, so a HIT both caught up on and received live (or found again by the
 * second pass) is printed once, and a HIT anprd announces again (the same frame, the same id:
 * nobody acknowledged it) is told from such a copy and shown marked. HITs are few (dozens an
 * hour) and an id is kept a day after it was last printed, as long as anprd announces it.
 */
static size_t s_seen_slot(const struct seen *tab, size_t cap, uint64_t id)
{
    size_t i = (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 17) & (cap - 1);

    while (tab[i].id != 0 && tab[i].id != id)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Make room for one more id, dropping ids not printed for a day; false when out of memory. */
static bool s_seen_grow(struct app *a, int64_t now)
{
    size_t keep = 0;

    if (a->seen_cap > 0 && (a->seen_n + 1) * 2 < a->seen_cap)
        return true;
    for (size_t i = 0; i < a->seen_cap; i++)
        keep += a->seen[i].id != 0 && now - a->seen[i].at_us < S_SEEN_KEEP_US;
    size_t cap = a->seen_cap ? a->seen_cap : 1024;
    while ((keep + 1) * 4 >= cap)
        cap *= 2;
    struct seen *tab = calloc(cap, sizeof(*tab));
    if (tab == NULL)
        return false;
    for (size_t i = 0; i < a->seen_cap; i++)
        if (a->seen[i].id != 0 && now - a->seen[i].at_us < S_SEEN_KEEP_US)
            tab[s_seen_slot(tab, cap, a->seen[i].id)] = a->seen[i];
    free(a->seen);
    a->seen = tab;
    a->seen_cap = cap;
    a->seen_n = keep;
    return true;
}

/*
 * Record that id is about to be printed, by the catch-up (live false) or from the feed, and
 * say what it is. The catch-up never prints an id twice. From the feed, an id the catch-up
 * printed is the feed's copy of it while catching up (until just after the second pass: the
 * copy waits in the socket while a pass runs), an id printed live before is anprd announcing
 * it again. A set that cannot grow takes no more ids: a duplicate is better than a HIT not
 * shown.
 */
static enum s_seen_kind s_seen_note(struct app *a, uint64_t id, bool live, int64_t now)
{
    if (id == 0)
        return S_SEEN_NEW;
    if (!s_seen_grow(a, now)) {
        s_warn(a, "out of memory: duplicates may be shown");
        return S_SEEN_NEW;
    }
    struct seen *e = &a->seen[s_seen_slot(a->seen, a->seen_cap, id)];
    if (e->id == 0) {
        *e = (struct seen){.id = id, .at_us = now, .caught_up = !live};
        a->seen_n++;
        return S_SEEN_NEW;
    }
    if (!live || (e->caught_up && (a->recheck_at != INT64_MAX || now < a->copies_until)))
        return S_SEEN_DUPLICATE;
    e->at_us = now;
    e->caught_up = false;
    return S_SEEN_AGAIN;
}

/* Copies a column into a fixed field; "" for NULL; cut to fit (the view's data was checked
 * when it was stored). */
static void s_col(const PGresult *res, int row, int col, char *out, size_t cap)
{
    snprintf(out, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static long long s_col_ll(const PGresult *res, int row, int col)
{
    long long v = 0;

    if (!PQgetisnull(res, row, col) &&
        util_parse_long(PQgetvalue(res, row, col), INT64_MIN, INT64_MAX, &v) != 0)
        v = 0;
    return v;
}

/* A row of the catch-up query as the HIT frame would have carried it. */
static void s_row_hit(const PGresult *res, int i, struct proto_hit *h)
{
    struct proto_read *r = &h->read;
    char cands[PROTO_CAND_MAX * (PROTO_PLATE_MAX + 1) + 1];
    long long v;

    memset(h, 0, sizeof(*h));
    h->hit_id = (uint64_t)s_col_ll(res, i, 0);
    r->time_us = s_col_ll(res, i, 1);
    s_col(res, i, 2, r->camera, sizeof(r->camera));
    r->seq = (uint64_t)s_col_ll(res, i, 3);
    s_col(res, i, 4, r->plate, sizeof(r->plate));
    s_col(res, i, 5, r->country, sizeof(r->country));
    r->confidence = (uint16_t)s_col_ll(res, i, 6);
    r->lane = (uint8_t)s_col_ll(res, i, 7);
    r->direction = (uint8_t)s_col_ll(res, i, 8);
    s_col(res, i, 9, cands, sizeof(cands));
    for (char *p = cands, *next; *p != '\0' && r->ncand < PROTO_CAND_MAX; p = next) {
        next = strchr(p, '\x1f');
        if (next != NULL)
            *next++ = '\0';
        size_t len = strlen(p), cap = sizeof(r->cand[0].plate);
        len = len < cap ? len : cap - 1; /* cut to fit, as s_col does */
        memcpy(r->cand[r->ncand].plate, p, len);
        r->cand[r->ncand++].plate[len] = '\0';
        if (next == NULL)
            break;
    }
    h->entry_id = (uint64_t)s_col_ll(res, i, 10);
    h->list_id = (uint32_t)s_col_ll(res, i, 11);
    s_col(res, i, 12, h->list, sizeof(h->list));
    s_col(res, i, 13, h->category, sizeof(h->category));
    v = s_col_ll(res, i, 14);
    h->priority = (uint8_t)(v >= 1 && v <= 9 ? v : 9);
    h->match = (uint8_t)s_col_ll(res, i, 15);
    s_col(res, i, 16, h->entry_plate, sizeof(h->entry_plate));
    s_col(res, i, 17, h->entry_country, sizeof(h->entry_country));
    s_col(res, i, 18, h->instruction, sizeof(h->instruction));
    s_col(res, i, 19, h->external_ref, sizeof(h->external_ref));
    h->reading = (uint8_t)s_col_ll(res, i, 20);
    h->nsubst = (uint8_t)s_col_ll(res, i, 21);
    s_col(res, i, 22, h->detail, sizeof(h->detail));
    h->post_match = !PQgetisnull(res, i, 23) && strcmp(PQgetvalue(res, i, 23), "t") == 0;
}

static void s_flush_held(struct app *a);

/* The latest acknowledgement of a catch-up row (columns 24..28), if any. */
static void s_row_ack(const PGresult *res, int i, struct ackinfo *k)
{
    memset(k, 0, sizeof *k);
    if (PQgetisnull(res, i, 24))
        return;
    k->set = true;
    s_col(res, i, 24, k->decision, sizeof k->decision);
    s_col(res, i, 25, k->operator, sizeof k->operator);
    s_col(res, i, 26, k->reason, sizeof k->reason);
    s_col(res, i, 27, k->note, sizeof k->note);
    k->at_us = s_col_ll(res, i, 28);
}

/* Row i of a catch-up page (hit h) for the TSV or the screen, unless printed already. */
static void s_caught(struct app *a, const PGresult *res, int i, const struct proto_hit *h)
{
    if (s_seen_note(a, h->hit_id, false, util_mono_us()) != S_SEEN_NEW)
        return;
    a->shown++;
    a->caught_up++;
    if (a->format == S_TSV) {
        s_print_tsv(h, false);
        s_printed(a, h->hit_id);
        return;
    }
    struct held *hd = &a->held[a->nheld++];
    memset(hd, 0, sizeof *hd);
    hd->hit = *h;
    hd->order = a->shown;
    hd->caught_up = true;
    s_row_ack(res, i, &hd->ack);
    if (a->nheld == S_BATCH_MAX)
        s_flush_held(a);
}

static bool s_covert_followed(const struct app *a, uint32_t list_id)
{
    for (size_t i = 0; i < a->ncovert; i++)
        if (a->covert[i] == list_id)
            return true;
    return false;
}

/* A failed catch-up statement, reported; -1. */
static int s_catch_up_fail(struct app *a, PGresult *res, const char *what)
{
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    fprintf(stderr, PROG ": %s: %s\n", what, cli_text_nl(m ? m : PQerrorMessage(a->conn)));
    PQclear(res);
    return -1;
}

/*
 * The covert catch-up, in two statements of the person's own session (migration 021): the
 * request, which commits its audit row on its own (autocommit) and returns a ticket, then that
 * ticket's rows. Only then does a covert HIT reach the console, named by a committed row of
 * anpr.covert_read_audit. With --since 0 the request is by hours: the law's first period, which
 * bounds what it returns anyway. The rows of the lists not followed here (--covert) and below
 * --min-priority are left out on this side: the audit names what reached the console. The
 * rows leave out HITs dropped since the request (a clearance withdrawn): the catch-up goes on
 * while a ticket named a full page (anpr.covert_page), after the last HIT it named.
 * 0, or -1 on a database error (reported).
 */
static int s_catch_up_covert(struct app *a)
{
    static const char request_sql[] =
        "SELECT anpr.covert_request($1::bigint, CASE WHEN $1::bigint > 0 THEN 0 ELSE "
        "(SELECT l.first_period_days * 24 + 24 FROM anpr.law l) END, " S_STR(S_PAGE) ")";
    /* The columns of s_row_hit: covert_rows has no seq and no candidates. */
    static const char rows_sql[] =
        "SELECT hit_id, (extract(epoch FROM read_time) * 1000000)::bigint, camera, NULL, "
        "coalesce(read_plate, plate), read_country, confidence, lane, direction, NULL, "
        "entry_id, list_id, coalesce(list_name, '?'), category, priority, match_kind, "
        "coalesce(entry_plate, '?'), entry_country, instruction, external_ref, reading, "
        "nsubst, detail, post_match, ack_decision, ack_operator, ack_reason, ack_note, "
        "(extract(epoch FROM acked_at) * 1000000)::bigint "
        "FROM anpr.covert_rows($1::bigint) ORDER BY hit_id";
    static const char page_sql[] = "SELECT named, last_hit FROM anpr.covert_page($1::bigint)";
    char after[24], ticket[24];
    const char *p_after[1] = {after}, *p_ticket[1] = {ticket};
    uint64_t from = a->since;
    int n = 0;

    do {
        snprintf(after, sizeof after, "%" PRIu64, from);
        PGresult *res = PQexecParams(a->conn, request_sql, 1, NULL, p_after, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            return s_catch_up_fail(a, res, "covert catch-up");
        if (PQgetisnull(res, 0, 0)) {
            /* No ticket: cleared for no covert list. Said once, not at every pass. */
            PQclear(res);
            if (!a->told_uncleared) {
                FILE *f = a->format == S_TSV ? stderr : stdout;
                s_say(a, f,
                      "covert catch-up: %s is cleared for no covert list, no covert HIT "
                      "caught up",
                      cli_text(PQuser(a->conn)));
            }
            a->told_uncleared = true;
            break;
        }
        snprintf(ticket, sizeof ticket, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        res = PQexecParams(a->conn, rows_sql, 1, NULL, p_ticket, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            return s_catch_up_fail(a, res, "covert catch-up");
        n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            struct proto_hit h;
            s_row_hit(res, i, &h);
            from = h.hit_id;
            if (a->count > 0 && (int64_t)a->shown >= a->count)
                break;
            if (s_covert_followed(a, h.list_id) && h.priority <= a->min_priority)
                s_caught(a, res, i, &h);
        }
        PQclear(res);
        res = PQexecParams(a->conn, page_sql, 1, NULL, p_ticket, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            return s_catch_up_fail(a, res, "covert catch-up");
        n = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
        if (!PQgetisnull(res, 0, 1))
            from = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        PQclear(res);
    } while (n == S_PAGE && !(a->count > 0 && (int64_t)a->shown >= a->count));
    if (a->nheld > 0)
        s_flush_held(a);
    return 0;
}

/*
 * Catch-up: every HIT of anpr.dispatch_hits with a hit_id above a->since that the live feed
 * would have shown (not a suppressed repeat, the --category and --min-priority filters), in
 * hit_id order, a page at a time, skipping those already printed; on the covert feed, the
 * covert HITs (s_catch_up_covert). 0, or -1 on a database error (reported).
 */
static int s_catch_up(struct app *a)
{
    static const char sql[] =
        "SELECT hit_id, (extract(epoch FROM read_time) * 1000000)::bigint, camera, seq, "
        "coalesce(read_plate, plate), read_country, confidence, lane, direction, "
        "array_to_string(candidates, E'\\x1f'), entry_id, list_id, "
        "coalesce(list_name, '?'), category, priority, match_kind, "
        "coalesce(entry_plate, '?'), entry_country, instruction, external_ref, reading, "
        "nsubst, detail, post_match, ack_decision, ack_operator, ack_reason, ack_note, "
        "(extract(epoch FROM acked_at) * 1000000)::bigint "
        "FROM anpr.dispatch_hits "
        "WHERE hit_id > $1::bigint AND NOT suppressed AND priority <= $2::int "
        "AND ($3::text IS NULL OR category = ANY (string_to_array($3::text, E'\\x1f'))) "
        "ORDER BY hit_id LIMIT " S_STR(S_PAGE);
    char after[24], prio[8], cats[S_CATEGORIES_MAX * (PROTO_CATEGORY_MAX + 1) + 1];
    size_t clen = 0;
    const char *params[3] = {after, prio, NULL};
    uint64_t from = a->since;

    /* Categories have no byte <= ' ' (s_category_valid), so 0x1f separates them safely. */
    cats[0] = '\0';
    for (size_t i = 0; i < a->ncategories; i++)
        cli_cat(cats, sizeof(cats), &clen, "%s%s", i ? "\x1f" : "", a->categories[i]);
    if (a->ncategories > 0)
        params[2] = cats;
    if (a->ncovert > 0)
        return s_catch_up_covert(a);
    snprintf(prio, sizeof(prio), "%d", a->min_priority);
    for (;;) {
        PGresult *res;
        int n;

        snprintf(after, sizeof(after), "%" PRIu64, from);
        res = PQexecParams(a->conn, sql, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            return s_catch_up_fail(a, res, "catch-up");
        n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            struct proto_hit h;
            s_row_hit(res, i, &h);
            from = h.hit_id;
            if (a->count > 0 && (int64_t)a->shown >= a->count)
                break;
            s_caught(a, res, i, &h);
        }
        PQclear(res);
        if (n < S_PAGE || (a->count > 0 && (int64_t)a->shown >= a->count)) {
            if (a->nheld > 0)
                s_flush_held(a);
            return 0;
        }
    }
}

static int s_held_cmp(const void *x, const void *y)
{
    const struct held *p = x, *q = y;

    if (p->hit.priority != q->hit.priority)
        return p->hit.priority < q->hit.priority ? -1 : 1;
    if (p->hit.read.time_us != q->hit.read.time_us)
        return p->hit.read.time_us < q->hit.read.time_us ? -1 : 1;
    return p->order < q->order ? -1 : p->order > q->order;
}

/* Show what is held: most urgent first; in text, each card once, however many of its lists
 * came (one car on two lists is one card). */
static void s_flush_held(struct app *a)
{
    static struct s_card *touched[S_BATCH_MAX];
    size_t n = 0;

    qsort(a->held, a->nheld, sizeof(*a->held), s_held_cmp);
    for (size_t i = 0; i < a->nheld; i++) {
        if (a->format == S_TSV) {
            s_print_tsv(&a->held[i].hit, a->held[i].again);
        } else {
            struct s_card *c = s_card_take(a, &a->held[i]);
            size_t k = 0;
            while (k < n && touched[k] != c)
                k++;
            if (c && k == n)
                touched[n++] = c;
        }
        s_printed(a, a->held[i].hit.hit_id);
    }
    for (size_t i = 0; i < n; i++)
        s_card_print(a, touched[i], false);
    a->nheld = 0;
    a->batch_end = INT64_MAX;
}

/* skip: the topic's prefix ("hit/" 4, "seen/" 5). */
static bool s_category_wanted(const struct app *a, const char *topic, size_t len, size_t skip)
{
    if (a->ncategories == 0)
        return true;
    for (size_t i = 0; i < a->ncategories; i++) {
        size_t n = strlen(a->categories[i]);
        /* The subscription is a prefix match: "hit/stolen" also passes "hit/stolen_car". */
        if (len == skip + n && memcmp(topic + skip, a->categories[i], n) == 0)
            return true;
    }
    return false;
}

static bool s_topic_is(const char *topic, size_t len, const char *want)
{
    size_t n = strlen(want);

    return len >= n && memcmp(topic, want, n) == 0;
}

/* Whether another instance sent this HIT already (then it is not shown): the same hit_id from
 * another socket within S_TWICE_US (later, or from the same one, it is anprd announcing it
 * again), or the same read (camera, epoch, seq, time) and entry under another id (a camera
 * that moved to the other instance and resent the read). Else it is kept among the recent. */
static bool s_twice(struct app *a, const struct proto_hit *h, size_t src, int64_t now)
{
    const struct proto_read *r = &h->read;

    if (a->recent == NULL)
        return false;
    for (size_t i = 0; i < S_RECENT; i++) {
        const struct recent *e = &a->recent[i];
        if (e->hit_id == 0)
            continue;
        if (e->hit_id == h->hit_id)
            return e->src != src && now - e->at_us < S_TWICE_US;
        if (e->entry_id == h->entry_id && e->seq == r->seq && e->time_us == r->time_us &&
            e->epoch == r->epoch && strcmp(e->camera, r->camera) == 0)
            return true;
    }
    struct recent *e = &a->recent[a->recent_next];
    a->recent_next = (a->recent_next + 1) % S_RECENT;
    *e = (struct recent){.hit_id = h->hit_id,
                         .entry_id = h->entry_id,
                         .seq = r->seq,
                         .time_us = r->time_us,
                         .at_us = now,
                         .epoch = r->epoch,
                         .src = src};
    memcpy(e->camera, r->camera, sizeof e->camera);
    return false;
}

/* Handles one message of instance src; 1 when there was none, -1 only on a socket error. */
static int s_receive_one(struct app *a, size_t src, int64_t now)
{
    void *sock = a->socks[src];
    zmq_msg_t topic_msg, frame_msg;
    int nparts = 0, ret = 0;
    size_t tlen;
    struct proto_error err;
    struct proto_hit hit;
    char topic[S_TOPIC_MAX + 1];

    zmq_msg_init(&topic_msg);
    zmq_msg_init(&frame_msg);
    if (zmq_msg_recv(&topic_msg, sock, ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        if (e == EAGAIN || e == EINTR) {
            ret = 1;
            goto cleanup;
        }
        goto fail;
    }
    nparts = 1;
    /* The parts of a message arrive together, so the blocking receives below return at once. */
    if (zmq_msg_more(&topic_msg)) {
        if (zmq_msg_recv(&frame_msg, sock, 0) < 0)
            goto fail;
        nparts = 2;
        for (bool more = zmq_msg_more(&frame_msg); more; nparts++) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            if (zmq_msg_recv(&extra, sock, 0) < 0) {
                zmq_msg_close(&extra);
                goto fail;
            }
            more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
    }

    tlen = zmq_msg_size(&topic_msg);
    memcpy(topic, zmq_msg_data(&topic_msg), tlen < S_TOPIC_MAX ? tlen : S_TOPIC_MAX);
    topic[tlen < S_TOPIC_MAX ? tlen : S_TOPIC_MAX] = '\0';
    if (nparts != 2) {
        a->bad++;
        s_warn(a, "message on '%s' has %d parts, expected topic + HIT", cli_text(topic), nparts);
        goto cleanup;
    }
    /* The heartbeat (PROTOCOL.md 5.7): the feed is alive; any message says so too. */
    if (tlen == sizeof PROTO_TOPIC_HEARTBEAT - 1 &&
        s_topic_is(topic, tlen, PROTO_TOPIC_HEARTBEAT)) {
        struct proto_heartbeat hb;
        if (proto_decode_heartbeat(zmq_msg_data(&frame_msg), zmq_msg_size(&frame_msg), &hb, &err) !=
            0) {
            a->bad++;
            s_warn(a, "undecodable heartbeat: %s: %s", proto_reason_name(err.reason), err.msg);
            goto cleanup;
        }
        health_message(&a->health[src], &hb, now);
        goto cleanup;
    }
    health_message(&a->health[src], NULL, now);
    bool seen = s_topic_is(topic, tlen, PROTO_TOPIC_SEEN);
    if (tlen > S_TOPIC_MAX || !s_category_wanted(a, topic, tlen, seen ? 5 : 4))
        goto cleanup;
    if (proto_decode_hit(zmq_msg_data(&frame_msg), zmq_msg_size(&frame_msg), &hit, &err) != 0) {
        a->bad++;
        s_warn(a, "undecodable HIT on '%s': %s: %s", cli_text(topic), proto_reason_name(err.reason),
               err.msg);
        goto cleanup;
    }
    if (hit.priority > a->min_priority) {
        a->filtered++;
        goto cleanup;
    }
    if (seen) {
        /* Shown with what is held first, so it lands after the card it updates. */
        if (a->nheld > 0)
            s_flush_held(a);
        s_sighting(a, &hit);
        goto cleanup;
    }
    if (s_twice(a, &hit, src, now)) {
        a->twice++;
        goto cleanup;
    }
    enum s_seen_kind kind = s_seen_note(a, hit.hit_id, true, now);
    if (kind == S_SEEN_DUPLICATE) {
        a->duplicates++;
        goto cleanup;
    }
    a->again += kind == S_SEEN_AGAIN;
    a->shown++;
    if (!a->sort) {
        s_print_tsv(&hit, kind == S_SEEN_AGAIN);
        s_printed(a, hit.hit_id);
        goto cleanup;
    }
    if (a->nheld == 0)
        a->batch_end = now + S_BATCH_US;
    memset(&a->held[a->nheld], 0, sizeof a->held[a->nheld]);
    a->held[a->nheld].hit = hit;
    a->held[a->nheld].order = a->shown;
    a->held[a->nheld].again = kind == S_SEEN_AGAIN;
    if (++a->nheld == S_BATCH_MAX)
        s_flush_held(a);
    goto cleanup;

fail:
    fprintf(stderr, PROG ": receive: %s\n", zmq_strerror(zmq_errno()));
    ret = -1;
cleanup:
    zmq_msg_close(&topic_msg);
    zmq_msg_close(&frame_msg);
    return ret;
}

enum {
    OPT_KEY,
    OPT_SERVER_KEY,
    OPT_ENDPOINT = 256,
    OPT_CATEGORY,
    OPT_COVERT,
    OPT_MIN_PRIORITY,
    OPT_COUNT,
    OPT_TIMEOUT,
    OPT_FORMAT,
    OPT_NO_COLOR,
    OPT_DB,
    OPT_SINCE,
    OPT_STATE,
    OPT_REASON,
    OPT_NOTE,
    OPT_NO_KEYS,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option s_options[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"key", required_argument, NULL, OPT_KEY},
    {"server-key", required_argument, NULL, OPT_SERVER_KEY},
    {"category", required_argument, NULL, OPT_CATEGORY},
    {"covert", required_argument, NULL, OPT_COVERT},
    {"min-priority", required_argument, NULL, OPT_MIN_PRIORITY},
    {"count", required_argument, NULL, OPT_COUNT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"no-color", no_argument, NULL, OPT_NO_COLOR},
    {"db", required_argument, NULL, OPT_DB},
    {"since", required_argument, NULL, OPT_SINCE},
    {"state", required_argument, NULL, OPT_STATE},
    {"no-keys", no_argument, NULL, OPT_NO_KEYS},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static bool s_category_valid(const char *c)
{
    size_t n = strlen(c);

    if (n == 0 || n > PROTO_CATEGORY_MAX)
        return false;
    for (; *c != '\0'; c++) {
        if (*c <= ' ' || *c == 0x7f)
            return false;
    }
    return true;
}

/* 0 to run, 1 to exit 0 (--help, --version), -1 on a usage error. */
static int s_parse_args(struct app *a, int argc, char **argv)
{
    bool no_color = false, no_keys = false;
    const char *nc = getenv("NO_COLOR"), *since = NULL;
    int opt;
    long long v;

    a->min_priority = 9;
    a->format = S_TEXT;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", s_options, NULL)) != -1) {
        switch (opt) {
        case OPT_ENDPOINT:
            for (size_t i = 0; i < a->nendpoints; i++)
                if (strcmp(a->endpoints[i], optarg) == 0)
                    return cli_bad_value(PROG, "--endpoint", optarg, "an endpoint not given yet");
            if (a->nendpoints == S_ENDPOINTS_MAX) {
                fprintf(stderr, PROG ": --endpoint: at most %d\n", S_ENDPOINTS_MAX);
                return -1;
            }
            a->endpoints[a->nendpoints++] = optarg;
            break;
        case OPT_KEY:
            a->key_file = optarg;
            break;
        case OPT_SERVER_KEY:
            a->server_key = optarg;
            break;
        case OPT_CATEGORY:
            if (!s_category_valid(optarg))
                return cli_bad_value(PROG, "--category", optarg, "1..32 characters, no spaces");
            if (a->ncategories == S_CATEGORIES_MAX) {
                fprintf(stderr, PROG ": --category: at most %d\n", S_CATEGORIES_MAX);
                return -1;
            }
            a->categories[a->ncategories++] = optarg;
            break;
        case OPT_COVERT:
            if (util_parse_long(optarg, 1, UINT32_MAX, &v) != 0)
                return cli_bad_value(PROG, "--covert", optarg, "a watchlist id");
            if (a->ncovert == S_CATEGORIES_MAX) {
                fprintf(stderr, PROG ": --covert: at most %d\n", S_CATEGORIES_MAX);
                return -1;
            }
            a->covert[a->ncovert++] = (uint32_t)v;
            break;
        case OPT_MIN_PRIORITY:
            if (util_parse_long(optarg, 1, 9, &v) != 0)
                return cli_bad_value(PROG, "--min-priority", optarg, "a priority 1..9");
            a->min_priority = (int)v;
            break;
        case OPT_COUNT:
            if (util_parse_long(optarg, 0, INT64_MAX, &v) != 0)
                return cli_bad_value(PROG, "--count", optarg, "a whole number >= 0");
            a->count = v;
            break;
        case OPT_TIMEOUT:
            if (util_parse_double(optarg, 0.001, 1e9, &a->timeout) != 0)
                return cli_bad_value(PROG, "--timeout", optarg, "seconds > 0");
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") == 0)
                a->format = S_TEXT;
            else if (strcmp(optarg, "tsv") == 0)
                a->format = S_TSV;
            else
                return cli_bad_value(PROG, "--format", optarg, "text or tsv");
            break;
        case OPT_NO_COLOR:
            no_color = true;
            break;
        case OPT_DB:
            a->db = optarg;
            break;
        case OPT_SINCE:
            if (strcmp(optarg, "last") != 0 && util_parse_long(optarg, 0, INT64_MAX, &v) != 0)
                return cli_bad_value(PROG, "--since", optarg, "a hit id >= 0 or 'last'");
            since = optarg;
            break;
        case OPT_STATE:
            a->state_path = optarg;
            break;
        case OPT_NO_KEYS:
            no_keys = true;
            break;
        case OPT_HELP:
            s_usage(stdout);
            return 1;
        case OPT_VERSION:
            printf(PROG " %s\n", ANPR_VERSION);
            return 1;
        default:
            return cli_getopt_fail(PROG, opt, argc, argv);
        }
    }
    if (cli_no_operands(PROG, argc, argv) != 0)
        return -1;
    if (a->nendpoints == 0)
        return cli_usage_error(PROG, "--endpoint is required");
    /* The covert feed has its own topics (covert/ID/), not categories. */
    if (a->ncovert > 0 && a->ncategories > 0)
        return cli_usage_error(PROG, "--covert goes not with --category");
    if (since != NULL && a->db == NULL)
        return cli_usage_error(PROG, "--since needs --db");
    if (since != NULL && strcmp(since, "last") == 0) {
        if (a->state_path == NULL)
            return cli_usage_error(PROG, "--since last needs --state FILE");
        if (s_state_read(a->state_path, &a->since) != 0)
            return -1;
        /* No file yet: a first start has nothing to catch up on, it only records. */
        a->catch_up = a->since > 0;
        if (!a->catch_up)
            fprintf(stderr, PROG ": %s: no hit id recorded yet, not catching up\n", a->state_path);
    } else if (since != NULL) {
        a->since = (uint64_t)strtoull(since, NULL, 10);
        a->catch_up = true;
    }
    /* Colour and the status line are for a person watching a terminal, not for a pipe; cards
     * are held a moment in any case, so the lists of one read make one card. */
    bool tty = isatty(STDOUT_FILENO) == 1;
    a->color = a->format == S_TEXT && tty && !no_color && (nc == NULL || nc[0] == '\0');
    a->sort = a->format == S_TEXT;
    a->tty = a->format == S_TEXT && tty;
    a->keys = a->format == S_TEXT && a->db != NULL && !no_keys;
    return 0;
}

/* The socket on instance i's feed (a->ctx made). */
static int s_setup_one(struct app *a, size_t i)
{
    int ivl = 100;
    char topic[S_TOPIC_MAX + 1];
    void *sock;

    /* The covert feed is a ROUTER that sends each recipient what it asked for (anprd's
     * covert.h): a DEALER that sends its topics; the general feed is PUB/SUB. */
    sock = a->socks[i] = zmq_socket(a->ctx, a->ncovert > 0 ? ZMQ_DEALER : ZMQ_SUB);
    if (sock == NULL)
        goto fail;
    if (zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) != 0)
        goto fail;
    if (a->ncategories == 0 && a->ncovert == 0) {
        if (zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "hit/", 4) != 0)
            goto fail;
        if (a->format == S_TEXT &&
            zmq_setsockopt(sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_SEEN, strlen(PROTO_TOPIC_SEEN)) != 0)
            goto fail;
    }
    for (size_t k = 0; k < a->ncategories; k++) {
        int n = snprintf(topic, sizeof(topic), "hit/%s", a->categories[k]);
        if (zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, (size_t)n) != 0)
            goto fail;
        n = snprintf(topic, sizeof(topic), PROTO_TOPIC_SEEN "%s", a->categories[k]);
        if (a->format == S_TEXT && zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, (size_t)n) != 0)
            goto fail;
    }
    /* The heartbeat, to tell a quiet feed from a dead one (the covert feed has none). */
    if (a->ncovert == 0 && zmq_setsockopt(sock, ZMQ_SUBSCRIBE, PROTO_TOPIC_HEARTBEAT,
                                          strlen(PROTO_TOPIC_HEARTBEAT)) != 0)
        goto fail;
    char why[512];
    if (curve_client_opts(sock, a->key_file, a->server_key, why, sizeof why) != 0) {
        fprintf(stderr, PROG ": %s\n", why);
        return -1;
    }
    if (zmq_connect(sock, a->endpoints[i]) != 0) {
        fprintf(stderr, PROG ": --endpoint: cannot connect to '%s': %s\n", a->endpoints[i],
                zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
fail:
    fprintf(stderr, PROG ": zeromq: %s\n", zmq_strerror(zmq_errno()));
    return -1;
}

/* A socket on each instance's feed. */
static int s_setup_socket(struct app *a)
{
    a->ctx = zmq_ctx_new();
    if (a->ctx == NULL) {
        fprintf(stderr, PROG ": zeromq: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    for (size_t i = 0; i < a->nendpoints; i++)
        if (s_setup_one(a, i) != 0)
            return -1;
    return 0;
}

/* Exit status: 0 done, 1 --timeout before --count hits, 2 error, 3 database error. */
/*
 * The covert feed: ask for each list (anprd takes a list only when this console's key is
 * cleared for it). Repeated now and then, as a DEALER cannot tell when it has reconnected to
 * a restarted anprd; a repeat changes nothing there.
 */
static void s_covert_ask(struct app *a)
{
    char topic[S_TOPIC_MAX + 1];

    for (size_t i = 0; i < a->ncovert; i++) {
        int n = snprintf(topic, sizeof(topic), "covert/%" PRIu32 "/", a->covert[i]);
        for (size_t k = 0; k < a->nendpoints; k++)
            zmq_send(a->socks[k], topic, (size_t)n, ZMQ_DONTWAIT);
    }
}

/* ---- --db: names, colours, reasons; acknowledging from inside ---- */

static char *s_dup_col(const PGresult *res, int row, int col)
{
    return strdup(PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* A query for the screen; NULL (warned) when it fails: the console goes on without it. */
static PGresult *s_fetch_q(struct app *a, const char *sql, const char *what)
{
    PGresult *res = PQexec(a->conn, sql);

    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    fprintf(stderr, PROG ": %s not shown: %s\n", what, cli_text(m ? m : PQerrorMessage(a->conn)));
    PQclear(res);
    return NULL;
}

/* Cameras (names, headings), list colours, the reasons and our login: fetched once. */
static void s_fetch(struct app *a)
{
    PGresult *res =
        s_fetch_q(a, "SELECT code, name, heading FROM anpr.camera ORDER BY id", "camera names");
    int n = res ? PQntuples(res) : 0;

    if (n > S_CAMERAS_MAX)
        n = S_CAMERAS_MAX;
    a->cams = n > 0 ? calloc((size_t)n, sizeof *a->cams) : NULL;
    for (int i = 0; a->cams && i < n; i++) {
        struct s_cam *c = &a->cams[a->ncams];
        s_col(res, i, 0, c->code, sizeof c->code);
        c->name = s_dup_col(res, i, 1);
        c->heading = s_dup_col(res, i, 2);
        a->ncams++;
    }
    PQclear(res);
    res = s_fetch_q(a, "SELECT id, colour FROM anpr.watchlist WHERE colour IS NOT NULL",
                    "list colours");
    n = res ? PQntuples(res) : 0;
    if (n > S_LISTS_MAX)
        n = S_LISTS_MAX;
    a->lists = n > 0 ? calloc((size_t)n, sizeof *a->lists) : NULL;
    for (int i = 0; a->lists && i < n; i++) {
        a->lists[a->nlists].id = (uint32_t)s_col_ll(res, i, 0);
        s_col(res, i, 1, a->lists[a->nlists].colour, sizeof a->lists[a->nlists].colour);
        a->nlists++;
    }
    PQclear(res);
    res = s_fetch_q(a, "SELECT reason FROM anpr.ack_reason WHERE active ORDER BY reason",
                    "acknowledgement reasons");
    n = res ? PQntuples(res) : 0;
    if (n > ACKUI_REASONS_MAX)
        n = ACKUI_REASONS_MAX;
    a->reasons = n > 0 ? calloc((size_t)n, sizeof *a->reasons) : NULL;
    for (int i = 0; a->reasons && i < n; i++)
        a->reasons[a->nreasons++] = s_dup_col(res, i, 0);
    PQclear(res);
    ackui_init(&a->ui, (const char *const *)a->reasons, a->nreasons);
}

/* Operator keys from stdin: a terminal goes non-canonical without echo (the dialogue echoes
 * what it takes), and back as it was at exit. */
static void s_keys_start(struct app *a)
{
    struct termios t;

    if (!a->keys || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &a->saved_tio) != 0)
        return;
    t = a->saved_tio;
    t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    a->raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

static void s_keys_stop(struct app *a)
{
    if (a->raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &a->saved_tio);
    a->raw = false;
}

/* The dialogue chose: acknowledge every HIT of the card (one car, each of its lists) through
 * anpr.acknowledge_hit as this console's login, and say what the database answered. */
static void s_do_ack(struct app *a)
{
    struct s_card *c = s_card_number(a, a->ui.card);
    const char *reason = a->ui.reason, *note = a->ui.note[0] ? a->ui.note : NULL;

    if (!c) {
        s_say(a, stdout, "no card %d on screen, nothing acknowledged", a->ui.card);
        return;
    }
    for (size_t i = 0; i < c->nhits; i++) {
        char id[24];
        snprintf(id, sizeof id, "%" PRIu64, c->hits[i].hit_id);
        const char *params[4] = {id, a->ui.decision, reason, note};
        PGresult *res = PQexecParams(a->conn,
                                     "SELECT anpr.acknowledge_hit($1::bigint, $2, $3, $4), "
                                     "session_user, (extract(epoch FROM now()) * 1e6)::bigint",
                                     4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            s_say(a, stdout, "[%d] REFUSED, HIT %s: %s", c->number, id,
                  cli_text(m ? m : PQerrorMessage(a->conn)));
            PQclear(res);
            /* A lost session comes back for the next try. */
            if (PQstatus(a->conn) != CONNECTION_OK)
                PQreset(a->conn);
            continue;
        }
        struct ackinfo *k = &c->acks[i];
        k->set = true;
        snprintf(k->decision, sizeof k->decision, "%s", a->ui.decision);
        s_col(res, 0, 1, k->operator, sizeof k->operator);
        snprintf(k->reason, sizeof k->reason, "%s", reason ? reason : "");
        snprintf(k->note, sizeof k->note, "%s", note ? note : "");
        k->at_us = s_col_ll(res, 0, 2);
        s_say(a, stdout, "[%d] %s, HIT %s, by %s%s%s (ack %s)", c->number,
              strcmp(a->ui.decision, "not_enforced") == 0 ? "NOT ENFORCED"
              : strcmp(a->ui.decision, "rejected") == 0   ? "REJECTED"
                                                          : "ACCEPTED",
              id, cli_text(k->operator), reason ? ", reason " : "", reason ? reason : "",
              PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    fflush(stdout);
}

/* Keys waiting on stdin; false once it is closed (no more keys) or on a quit key. */
static bool s_keys_take(struct app *a, bool *quit)
{
    unsigned char buf[256];
    char text[1024];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

    if (n <= 0) {
        if (n < 0 && errno == EINTR)
            return true;
        a->keys = false; /* end of input: the feed goes on, the keys are done */
        return false;
    }
    for (ssize_t i = 0; i < n; i++) {
        enum ackui_do d = ackui_key(&a->ui, buf[i], text, sizeof text);
        if (d == ACKUI_NOTHING)
            continue;
        s_status_clear(a);
        if (d == ACKUI_QUIT) {
            *quit = true;
            return false;
        }
        /* A prompt is wrapped (the reasons make a long one) and stays on its last row; an
         * echoed key goes as it is. */
        size_t tl = strlen(text);
        if (tl > 3) {
            char wrapped[2048];
            size_t wl = card_wrap(text, s_width(a), 4, wrapped, sizeof wrapped);
            if (wl > 0 && text[tl - 1] != '\n' && wrapped[wl - 1] == '\n')
                wrapped[wl - 1] = '\0';
            fputs(wrapped, stdout);
        } else {
            fputs(text, stdout);
        }
        fflush(stdout);
        if (d == ACKUI_ACK)
            s_do_ack(a);
    }
    return true;
}

static int s_run(struct app *a)
{
    const int64_t t0 = util_mono_us();
    const int64_t end = a->timeout > 0 ? t0 + (int64_t)(a->timeout * 1e6) : INT64_MAX;
    /* The covert feed has no heartbeat (PROTOCOL.md 2.5): its silence says nothing. */
    const bool health = a->ncovert == 0;

    int64_t ask_at = 0;

    a->batch_end = INT64_MAX;
    for (;;) {
        int64_t now = util_mono_us(), until;
        if (a->ncovert > 0 && now >= ask_at) {
            s_covert_ask(a);
            ask_at = now + S_COVERT_ASK_US;
        }
        zmq_pollitem_t items[S_ENDPOINTS_MAX + 1];
        const size_t ns = a->nendpoints;
        memset(items, 0, sizeof items);
        for (size_t i = 0; i < ns; i++)
            items[i] = (zmq_pollitem_t){.socket = a->socks[i], .events = ZMQ_POLLIN};
        items[ns] = (zmq_pollitem_t){.fd = STDIN_FILENO, .events = ZMQ_POLLIN};
        long timeout_ms = -1;

        if (a->nheld > 0 && now >= a->batch_end)
            s_flush_held(a);
        if (cli_signal_take())
            return 0;
        if (a->count > 0 && (int64_t)a->shown >= a->count)
            return 0;
        if (now >= end)
            return a->count > 0 ? 1 : 0;
        if (health) {
            for (size_t i = 0; i < ns; i++)
                s_health_event(a, i, health_poll(&a->health[i], now), now);
            if (a->tty && now >= a->status_at)
                s_status_draw(a, now);
        }
        /* The second pass: a HIT published before the subscription took effect, but stored
         * only after the first pass read the table, is found now. */
        if (now >= a->recheck_at) {
            a->recheck_at = INT64_MAX;
            if (s_catch_up(a) != 0)
                return S_EXIT_DATABASE;
            a->copies_until = util_mono_us() + S_DUP_US;
            continue;
        }

        until = end < a->batch_end ? end : a->batch_end;
        if (a->ncovert > 0 && ask_at < until)
            until = ask_at;
        if (a->recheck_at < until)
            until = a->recheck_at;
        for (size_t i = 0; health && i < ns; i++)
            if (!a->health[i].lost && health_deadline(&a->health[i]) < until)
                until = health_deadline(&a->health[i]);
        if (health && a->tty && a->status_at < until)
            until = a->status_at;
        if (until != INT64_MAX)
            timeout_ms = until <= now ? 0 : (long)((until - now + 999) / 1000);
        if (zmq_poll(items, (int)(a->keys ? ns + 1 : ns), timeout_ms) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            fprintf(stderr, PROG ": poll: %s\n", zmq_strerror(zmq_errno()));
            return 2;
        }
        if (a->keys && (items[ns].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
            bool quit = false;
            s_keys_take(a, &quit);
            if (quit)
                return 0;
        }
        /* Drain what is there, but stop at --count so exactly that many are printed. */
        for (size_t i = 0; i < ns; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            for (;;) {
                int rc;
                if (a->count > 0 && (int64_t)a->shown >= a->count)
                    break;
                rc = s_receive_one(a, i, util_mono_us());
                if (rc < 0)
                    return 2;
                if (rc > 0)
                    break;
            }
        }
    }
}

/* A failed statement of ack or reasons: the server's own message; 1 when the database refused
 * the request as given (no such HIT, a bad decision or reason), else 3. */
static int s_db_fail(PGconn *conn, PGresult *res, const char *what)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    fprintf(stderr, PROG ": %s: %s\n", what, cli_text_nl(m ? m : PQerrorMessage(conn)));
    /* 55000: another operator acknowledged it first (migration 018). */
    if (st != NULL && (strcmp(st, "P0002") == 0 || strcmp(st, "55000") == 0 ||
                       strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0))
        return S_EXIT_REFUSED;
    return S_EXIT_DATABASE;
}

static PGconn *s_connect(const char *conninfo)
{
    struct db_error err;
    PGconn *conn = db_connect(conninfo, PROG, &err);

    if (conn == NULL)
        fprintf(stderr, PROG ": --db: %s\n", err.msg);
    return conn;
}

/*
 * anpr-console ack HIT_ID DECISION [--reason R] --db CONNINFO, and anpr-console reasons --db
 * CONNINFO. The operator is the database login of CONNINFO (anpr.acknowledge_hit records
 * session_user), so every operator logs in as themselves.
 */
static int s_command(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"reason", required_argument, NULL, OPT_REASON},
        {"note", required_argument, NULL, OPT_NOTE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0], *db = NULL, *reason = NULL, *decision = NULL, *note = NULL;
    bool ack = strcmp(cmd, "ack") == 0;
    char id[24];
    long long v;
    int opt, nops, ret = S_EXIT_DATABASE;
    PGconn *conn = NULL;
    PGresult *res = NULL;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_DB:
            db = optarg;
            break;
        case OPT_REASON:
            if (!ack)
                return cli_usage_error(PROG, "--reason is for ack"), S_EXIT_USAGE;
            reason = optarg;
            break;
        case OPT_NOTE:
            if (!ack)
                return cli_usage_error(PROG, "--note is for ack"), S_EXIT_USAGE;
            note = optarg;
            break;
        case OPT_HELP:
            s_usage(stdout);
            return S_EXIT_OK;
        default:
            return cli_getopt_fail(PROG, opt, argc, argv), S_EXIT_USAGE;
        }
    }
    nops = argc - optind;
    if (db == NULL)
        return cli_usage_error(PROG, "%s: --db is required", cmd), S_EXIT_USAGE;
    if (!ack) {
        if (nops != 0)
            return cli_usage_error(PROG, "reasons: unexpected '%s'", argv[optind]), S_EXIT_USAGE;
    } else {
        if (nops != 2)
            return cli_usage_error(PROG, "ack: expected HIT_ID and a decision"), S_EXIT_USAGE;
        if (util_parse_long(argv[optind], 1, INT64_MAX, &v) != 0)
            return cli_bad_value(PROG, "ack", argv[optind], "a hit id"), S_EXIT_USAGE;
        snprintf(id, sizeof(id), "%lld", v);
        const char *d = argv[optind + 1];
        if (strcmp(d, "accepted") == 0 || strcmp(d, "rejected") == 0)
            decision = d;
        else if (strcmp(d, "not-enforced") == 0 || strcmp(d, "not_enforced") == 0)
            decision = "not_enforced";
        else
            return cli_bad_value(PROG, "ack", d, "accepted, rejected or not-enforced"),
                   S_EXIT_USAGE;
        if (strcmp(decision, "rejected") == 0 && (reason == NULL || reason[0] == '\0'))
            return cli_usage_error(PROG,
                                   "ack: a rejection needs --reason (see '" PROG " reasons')"),
                   S_EXIT_USAGE;
    }

    conn = s_connect(db);
    if (conn == NULL)
        goto out;
    if (!ack) {
        res = PQexec(conn, "SELECT reason FROM anpr.ack_reason WHERE active ORDER BY reason");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            ret = s_db_fail(conn, res, "reasons");
            goto out;
        }
        for (int i = 0; i < PQntuples(res); i++)
            printf("%s\n", cli_text(PQgetvalue(res, i, 0)));
        ret = S_EXIT_OK;
        goto out;
    }
    const char *params[4] = {id, decision, reason, note};
    res = PQexecParams(conn, "SELECT anpr.acknowledge_hit($1::bigint, $2, $3, $4), session_user", 4,
                       NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ret = s_db_fail(conn, res, "ack");
        goto out;
    }
    printf("HIT %s %s%s%s%s by %s (ack %s)\n", id,
           strcmp(decision, "not_enforced") == 0 ? "not enforced" : decision, reason ? " (" : "",
           reason ? reason : "", reason ? ")" : "", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
    ret = S_EXIT_OK;
out:
    PQclear(res);
    PQfinish(conn);
    return ret;
}

int main(int argc, char **argv)
{
    struct app a;
    int ret = 2, rc;

    if (argc > 1 && (strcmp(argv[1], "ack") == 0 || strcmp(argv[1], "reasons") == 0))
        return s_command(argc - 1, argv + 1);

    memset(&a, 0, sizeof(a));
    a.recheck_at = INT64_MAX;
    rc = s_parse_args(&a, argc, argv);
    if (rc != 0) {
        ret = rc > 0 ? 0 : 2;
        goto cleanup;
    }
    if (a.sort) {
        a.held = calloc(S_BATCH_MAX, sizeof(*a.held));
        a.cards = calloc(S_CARDS, sizeof(*a.cards));
        if (a.held == NULL || a.cards == NULL) {
            fprintf(stderr, PROG ": out of memory\n");
            goto cleanup;
        }
    }
    for (size_t i = 0; i < a.nendpoints; i++)
        health_init(&a.health[i], a.endpoints[i], util_mono_us());
    if (a.nendpoints > 1 && (a.recent = calloc(S_RECENT, sizeof *a.recent)) == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto cleanup;
    }

    cli_catch_signals();

    /* Subscribe first, then read the table: a HIT is then either in the table or on the
     * feed (or both: printed once). */
    if (s_setup_socket(&a) != 0)
        goto cleanup;
    if (a.db) {
        a.conn = s_connect(a.db);
        if (a.conn == NULL) {
            ret = S_EXIT_DATABASE;
            goto cleanup;
        }
        if (a.format == S_TEXT)
            s_fetch(&a);
    }
    if (a.catch_up) {
        if (s_catch_up(&a) != 0) {
            ret = S_EXIT_DATABASE;
            goto cleanup;
        }
        a.recheck_at = util_mono_us() + S_RECHECK_US;
    }
    if (a.keys) {
        s_keys_start(&a);
        printf("keys: a acknowledge a card, ? help, q quit\n");
        fflush(stdout);
    }
    ret = s_run(&a);
    if (a.nheld > 0)
        s_flush_held(&a);
    s_status_clear(&a); /* the summary below gets a row of its own */
    fflush(stdout);
    fprintf(stderr,
            PROG ": hits=%" PRIu64 " filtered=%" PRIu64 " bad=%" PRIu64 " caught_up=%" PRIu64
                 " duplicates=%" PRIu64 " again=%" PRIu64 " sightings=%" PRIu64 " twice=%" PRIu64
                 "\n",
            a.shown, a.filtered, a.bad, a.caught_up, a.duplicates, a.again, a.sightings, a.twice);

cleanup:
    for (size_t i = 0; i < a.nendpoints; i++) {
        int zero = 0;
        if (a.socks[i] == NULL)
            continue;
        zmq_setsockopt(a.socks[i], ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(a.socks[i]);
    }
    if (a.ctx != NULL)
        zmq_ctx_term(a.ctx);
    s_keys_stop(&a);
    s_status_clear(&a);
    PQfinish(a.conn);
    free(a.held);
    free(a.recent);
    free(a.seen);
    free(a.cards);
    for (size_t i = 0; i < a.ncams; i++) {
        free(a.cams[i].name);
        free(a.cams[i].heading);
    }
    free(a.cams);
    free(a.lists);
    for (size_t i = 0; i < a.nreasons; i++)
        free(a.reasons[i]);
    free(a.reasons);
    return ret;
}
