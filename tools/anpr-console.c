/*
 * anpr-console: the dispatch operator's live view of HITs. Subscribes to anprd's PUB socket and
 * prints one line per hit, as text for people (coloured by priority on a terminal) or as TSV for
 * scripts and tests. With --db and --since it first catches up on the HITs it missed, from
 * anpr.dispatch_hits by hit_id (docs/DISPATCH.md); `ack` and `reasons` acknowledge a HIT as the
 * operator's database login and list the reasons a rejection may give.
 */
#include "cli.h"
#include "curve.h"
#include "config.h"
#include "db.h"
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
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PROG "anpr-console"

#define S_CATEGORIES_MAX 32
#define S_TOPIC_MAX      (4 + PROTO_CATEGORY_MAX)
#define S_COVERT_ASK_US  2000000 /* covert subscriptions repeated this often */
#define S_BATCH_US       200000  /* hits this close together are shown most urgent first */
#define S_BATCH_MAX      1024    /* a burst larger than this is printed in several batches */
#define S_WARN_MAX       20
#define S_PAGE           1000    /* catch-up rows per query */
#define S_RECHECK_US     1000000 /* the second catch-up pass, after going live */
#define S_DUP_US         1000000 /* after the catch-up, a feed's copy of what it printed may come */
#define S_SEEN_KEEP_US   (25LL * 3600 * 1000000) /* anprd announces a HIT again for a day */

/* Exit codes (also of ack and reasons). */
#define S_EXIT_OK       0
#define S_EXIT_REFUSED  1 /* live: --timeout before --count; ack: refused by the database */
#define S_EXIT_USAGE    2 /* usage or socket error */
#define S_EXIT_DATABASE 3 /* connection, permission, a failed query */

#define S_RED_BOLD "\033[1;31m"
#define S_YELLOW   "\033[33m"
#define S_RESET    "\033[0m"

#define S_STR_(x) #x
#define S_STR(x)  S_STR_(x)

enum s_format { S_TEXT, S_TSV };

struct held {
    struct proto_hit hit;
    uint64_t order; /* arrival, to keep the sort stable */
    bool again;     /* announced again by anprd: printed before, still not acknowledged */
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

struct app {
    const char *endpoint;
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

    void *ctx, *sock;
    uint64_t shown, filtered, bad;
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
    PGconn *conn;           /* the catch-up's session */

    struct seen *seen; /* hit_ids printed (open addressing) */
    size_t seen_cap, seen_n;
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --endpoint ENDPOINT [options]\n"
            "       " PROG " ack HIT_ID accepted|rejected|not-enforced [--reason R] --db CONNINFO\n"
            "       " PROG " reasons --db CONNINFO\n"
            "\n"
            "Live view of anprd watchlist hits; acknowledging them.\n"
            "\n"
            "  --endpoint E        anprd hit endpoint, e.g. tcp://127.0.0.1:5556\n"
            "  --key FILE          our CURVE secret key (anpr-keygen NAME makes NAME.key);\n"
            "                      its public key must be registered in the database\n"
            "  --server-key K      anprd's CURVE public key: 40 Z85 characters or a file\n"
            "                      (without --key and --server-key: plain text, for an\n"
            "                      anprd run with curve.insecure_plaintext)\n"
            "  --db CONNINFO       database, as a login in anpr_dispatch (for --since, ack,\n"
            "                      reasons)\n"
            "  --since ID|last     first print every HIT with a hit_id above ID from\n"
            "                      anpr.dispatch_hits, then go live without repeating them;\n"
            "                      'last': the id kept in --state (nothing to catch up on\n"
            "                      when the file does not exist yet)\n"
            "  --state FILE        keep the highest hit_id printed in FILE\n"
            "  --reason R          ack: the reason (required for rejected; see 'reasons')\n"
            "  --category C        only hits of this category (repeatable; default all)\n"
            "  --covert ID         on anprd's covert feed (--endpoint): the HITs of covert list\n"
            "                      ID (repeatable), which this console's key must be cleared\n"
            "                      for (anpr-consoles clear)\n"
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
            "exit: 0 done; 1 --timeout before --count, or ack refused; 2 usage or socket\n"
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

/*
 * How the hit matched, for the text line: nothing for the usual exact match of the plate as
 * read, else one bracket, e.g. "[ocr: O read as 0 at 3]", "[candidate 2: I-ABC-123; ...]",
 * "[pattern 1AB?12*]". The head comes from the HIT's fields, so the operator sees which reading
 * matched even when the detail is empty; the detail is anprd's text for people, shown as it is
 * and never parsed (only left out when it says exactly what the head already says).
 */
static void s_cat_how(char *line, size_t cap, size_t *len, const struct proto_hit *h)
{
    const struct proto_read *r = &h->read;
    char head[160];
    size_t hlen = 0;
    bool colon = false;
    const char *m = proto_match_name(h->match);

    if (h->match == PROTO_MATCH_EXACT && h->reading == 0)
        return;
    if (m == NULL)
        cli_cat(head, sizeof(head), &hlen, "match %u", (unsigned)h->match);
    else if (h->match == PROTO_MATCH_PATTERN)
        cli_cat(head, sizeof(head), &hlen, "pattern %s", cli_text(h->entry_plate));
    else
        cli_cat(head, sizeof(head), &hlen, "%s", m);
    /* The decoder guarantees reading <= ncand; the check keeps this safe on its own. */
    if (h->reading > 0 && h->reading <= r->ncand) {
        cli_cat(head, sizeof(head), &hlen,
                h->match == PROTO_MATCH_CANDIDATE ? " %u: %s" : ", candidate %u: %s",
                (unsigned)h->reading, cli_text(r->cand[h->reading - 1].plate));
        colon = true;
    }
    const char *detail = cli_text(h->detail);
    if (detail[0] == '\0' || strcmp(detail, head) == 0)
        cli_cat(line, cap, len, " [%s]", head);
    else
        cli_cat(line, cap, len, " [%s%s%s]", head, colon ? "; " : ": ", detail);
}

static void s_print_text(const struct app *a, const struct proto_hit *h, bool again)
{
    const struct proto_read *r = &h->read;
    char line[4096], cat[PROTO_CATEGORY_MAX + 1], clock[16];
    size_t len = 0;
    time_t sec = (time_t)(r->time_us / 1000000);
    struct tm tm;
    const char *color = NULL;

    if (localtime_r(&sec, &tm) != NULL)
        strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    else
        snprintf(clock, sizeof(clock), "??:??:??");
    if (a->color)
        color = h->priority <= 2 ? S_RED_BOLD : h->priority <= 4 ? S_YELLOW : NULL;

    cli_cat(line, sizeof(line), &len, "%s.%03d  #%" PRIu64 "  P%u ", clock,
            (int)(r->time_us / 1000 % 1000), h->hit_id, (unsigned)h->priority);
    /* Announced again: shown before, and still nobody has acknowledged it. */
    if (again)
        cli_cat(line, sizeof(line), &len, "AGAIN ");
    /* A post-match is a past sighting: the vehicle is no longer at that camera. */
    if (h->post_match)
        cli_cat(line, sizeof(line), &len, "POST-MATCH ");
    /* Every text from the feed through cli_text (cli.h): a HIT cannot move the cursor, retitle
     * the terminal, reorder the line (bidi controls) or break a TSV line. */
    snprintf(cat, sizeof(cat), "%s", cli_text(h->category));
    for (char *p = cat; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    }
    cli_cat(line, sizeof(line), &len, "%-8s %s", cat, cli_text(r->plate));
    if (r->country[0] != '\0')
        cli_cat(line, sizeof(line), &len, " (%s)", cli_text(r->country));
    cli_cat(line, sizeof(line), &len, "  listed %s", cli_text(h->entry_plate));
    s_cat_how(line, sizeof(line), &len, h);
    cli_cat(line, sizeof(line), &len, "  cam %s", cli_text(r->camera));
    if (r->lane != 0)
        cli_cat(line, sizeof(line), &len, " lane %u", (unsigned)r->lane);
    /* → the vehicle comes towards the camera, ← it drives away. */
    if (r->direction == PROTO_DIR_TOWARDS)
        cli_cat(line, sizeof(line), &len, " →");
    else if (r->direction == PROTO_DIR_AWAY)
        cli_cat(line, sizeof(line), &len, " ←");
    cli_cat(line, sizeof(line), &len, "  list \"%s\"", cli_text(h->list));
    if (h->instruction[0] != '\0')
        cli_cat(line, sizeof(line), &len, " — %s", cli_text(h->instruction));
    if (h->external_ref[0] != '\0')
        cli_cat(line, sizeof(line), &len, "  ref %s", cli_text(h->external_ref));

    if (color != NULL)
        printf("%s%s%s\n", color, line, S_RESET);
    else
        printf("%s\n", line);
    fflush(stdout);
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

static void s_print(struct app *a, const struct proto_hit *h, bool again)
{
    if (a->format == S_TSV)
        s_print_tsv(h, again);
    else
        s_print_text(a, h, again);
    if (h->hit_id > a->max_printed) {
        a->max_printed = h->hit_id;
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

/*
 * Catch-up: every HIT of anpr.dispatch_hits with a hit_id above a->since that the live feed
 * would have shown (not a suppressed repeat, the --category and --min-priority filters), in
 * hit_id order, a page at a time, skipping those already printed. 0, or -1 on a database
 * error (reported).
 */
static int s_catch_up(struct app *a)
{
    static const char sql[] =
        "SELECT hit_id, (extract(epoch FROM read_time) * 1000000)::bigint, camera, seq, "
        "coalesce(read_plate, plate), read_country, confidence, lane, direction, "
        "array_to_string(candidates, E'\\x1f'), entry_id, list_id, "
        "coalesce(list_name, '?'), category, priority, match_kind, "
        "coalesce(entry_plate, '?'), entry_country, instruction, external_ref, reading, "
        "nsubst, detail, post_match "
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
    snprintf(prio, sizeof(prio), "%d", a->min_priority);
    for (;;) {
        PGresult *res;
        int n;

        snprintf(after, sizeof(after), "%" PRIu64, from);
        res = PQexecParams(a->conn, sql, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            fprintf(stderr, PROG ": catch-up: %s\n", cli_text_nl(m ? m : PQerrorMessage(a->conn)));
            PQclear(res);
            return -1;
        }
        n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            struct proto_hit h;
            s_row_hit(res, i, &h);
            from = h.hit_id;
            if (a->count > 0 && (int64_t)a->shown >= a->count)
                break;
            if (s_seen_note(a, h.hit_id, false, util_mono_us()) != S_SEEN_NEW)
                continue;
            a->shown++;
            a->caught_up++;
            s_print(a, &h, false);
        }
        PQclear(res);
        if (n < S_PAGE || (a->count > 0 && (int64_t)a->shown >= a->count))
            return 0;
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

static void s_flush_held(struct app *a)
{
    qsort(a->held, a->nheld, sizeof(*a->held), s_held_cmp);
    for (size_t i = 0; i < a->nheld; i++)
        s_print(a, &a->held[i].hit, a->held[i].again);
    a->nheld = 0;
    a->batch_end = INT64_MAX;
}

static bool s_category_wanted(const struct app *a, const char *topic, size_t len)
{
    if (a->ncategories == 0)
        return true;
    for (size_t i = 0; i < a->ncategories; i++) {
        size_t n = strlen(a->categories[i]);
        /* The subscription is a prefix match: "hit/stolen" also passes "hit/stolen_car". */
        if (len == 4 + n && memcmp(topic + 4, a->categories[i], n) == 0)
            return true;
    }
    return false;
}

/* Handles one message; 1 when there was none, -1 only on a socket error. */
static int s_receive_one(struct app *a, int64_t now)
{
    zmq_msg_t topic_msg, frame_msg;
    int nparts = 0, ret = 0;
    size_t tlen;
    struct proto_error err;
    struct proto_hit hit;
    char topic[S_TOPIC_MAX + 1];

    zmq_msg_init(&topic_msg);
    zmq_msg_init(&frame_msg);
    if (zmq_msg_recv(&topic_msg, a->sock, ZMQ_DONTWAIT) < 0) {
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
        if (zmq_msg_recv(&frame_msg, a->sock, 0) < 0)
            goto fail;
        nparts = 2;
        for (bool more = zmq_msg_more(&frame_msg); more; nparts++) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            if (zmq_msg_recv(&extra, a->sock, 0) < 0) {
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
    if (tlen > S_TOPIC_MAX || !s_category_wanted(a, topic, tlen))
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
    enum s_seen_kind kind = s_seen_note(a, hit.hit_id, true, now);
    if (kind == S_SEEN_DUPLICATE) {
        a->duplicates++;
        goto cleanup;
    }
    a->again += kind == S_SEEN_AGAIN;
    a->shown++;
    if (!a->sort) {
        s_print(a, &hit, kind == S_SEEN_AGAIN);
        goto cleanup;
    }
    if (a->nheld == 0)
        a->batch_end = now + S_BATCH_US;
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
    bool no_color = false;
    const char *nc = getenv("NO_COLOR"), *since = NULL;
    int opt;
    long long v;

    a->min_priority = 9;
    a->format = S_TEXT;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", s_options, NULL)) != -1) {
        switch (opt) {
        case OPT_ENDPOINT:
            a->endpoint = optarg;
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
    if (a->endpoint == NULL)
        return cli_usage_error(PROG, "--endpoint is required");
    /* The covert feed has its own topics, and no catch-up: dispatch_hits has no covert HIT. */
    if (a->ncovert > 0 && (a->ncategories > 0 || since != NULL))
        return cli_usage_error(PROG, "--covert goes with neither --category nor --since");
    if (since != NULL && a->db == NULL)
        return cli_usage_error(PROG, "--since needs --db");
    if (a->db != NULL && since == NULL)
        return cli_usage_error(PROG, "--db is for --since here (or the ack and reasons commands)");
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
    /* Colour and urgency sorting are for a person watching a terminal, not for a pipe. */
    bool tty = isatty(STDOUT_FILENO) == 1;
    a->color = a->format == S_TEXT && tty && !no_color && (nc == NULL || nc[0] == '\0');
    a->sort = a->format == S_TEXT && tty;
    return 0;
}

static int s_setup_socket(struct app *a)
{
    int ivl = 100;
    char topic[S_TOPIC_MAX + 1];

    a->ctx = zmq_ctx_new();
    if (a->ctx == NULL)
        goto fail;
    /* The covert feed is a ROUTER that sends each recipient what it asked for (anprd's
     * covert.h): a DEALER that sends its topics; the general feed is PUB/SUB. */
    a->sock = zmq_socket(a->ctx, a->ncovert > 0 ? ZMQ_DEALER : ZMQ_SUB);
    if (a->sock == NULL)
        goto fail;
    if (zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) != 0)
        goto fail;
    if (a->ncategories == 0 && a->ncovert == 0) {
        if (zmq_setsockopt(a->sock, ZMQ_SUBSCRIBE, "hit/", 4) != 0)
            goto fail;
    }
    for (size_t i = 0; i < a->ncategories; i++) {
        int n = snprintf(topic, sizeof(topic), "hit/%s", a->categories[i]);
        if (zmq_setsockopt(a->sock, ZMQ_SUBSCRIBE, topic, (size_t)n) != 0)
            goto fail;
    }
    char why[512];
    if (curve_client_opts(a->sock, a->key_file, a->server_key, why, sizeof why) != 0) {
        fprintf(stderr, PROG ": %s\n", why);
        return -1;
    }
    if (zmq_connect(a->sock, a->endpoint) != 0) {
        fprintf(stderr, PROG ": --endpoint: cannot connect to '%s': %s\n", a->endpoint,
                zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
fail:
    fprintf(stderr, PROG ": zeromq: %s\n", zmq_strerror(zmq_errno()));
    return -1;
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
        zmq_send(a->sock, topic, (size_t)n, ZMQ_DONTWAIT);
    }
}

static int s_run(struct app *a)
{
    const int64_t t0 = util_mono_us();
    const int64_t end = a->timeout > 0 ? t0 + (int64_t)(a->timeout * 1e6) : INT64_MAX;

    int64_t ask_at = 0;

    a->batch_end = INT64_MAX;
    for (;;) {
        int64_t now = util_mono_us(), until;
        if (a->ncovert > 0 && now >= ask_at) {
            s_covert_ask(a);
            ask_at = now + S_COVERT_ASK_US;
        }
        zmq_pollitem_t item = {.socket = a->sock, .events = ZMQ_POLLIN};
        long timeout_ms = -1;

        if (a->nheld > 0 && now >= a->batch_end)
            s_flush_held(a);
        if (cli_signal_take())
            return 0;
        if (a->count > 0 && (int64_t)a->shown >= a->count)
            return 0;
        if (now >= end)
            return a->count > 0 ? 1 : 0;
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
        if (until != INT64_MAX)
            timeout_ms = until <= now ? 0 : (long)((until - now + 999) / 1000);
        if (zmq_poll(&item, 1, timeout_ms) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            fprintf(stderr, PROG ": poll: %s\n", zmq_strerror(zmq_errno()));
            return 2;
        }
        if (!(item.revents & ZMQ_POLLIN))
            continue;
        /* Drain what is there, but stop at --count so exactly that many are printed. */
        for (;;) {
            int rc;
            if (a->count > 0 && (int64_t)a->shown >= a->count)
                break;
            rc = s_receive_one(a, util_mono_us());
            if (rc < 0)
                return 2;
            if (rc > 0)
                break;
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
    if (st != NULL &&
        (strcmp(st, "P0002") == 0 || strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0))
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
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0], *db = NULL, *reason = NULL, *decision = NULL;
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
    const char *params[3] = {id, decision, reason};
    res = PQexecParams(conn, "SELECT anpr.acknowledge_hit($1::bigint, $2, $3), session_user", 3,
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
        if (a.held == NULL) {
            fprintf(stderr, PROG ": out of memory\n");
            goto cleanup;
        }
    }

    cli_catch_signals();

    /* Subscribe first, then read the table: a HIT is then either in the table or on the
     * feed (or both: printed once). */
    if (s_setup_socket(&a) != 0)
        goto cleanup;
    if (a.catch_up) {
        a.conn = s_connect(a.db);
        if (a.conn == NULL || s_catch_up(&a) != 0) {
            ret = S_EXIT_DATABASE;
            goto cleanup;
        }
        a.recheck_at = util_mono_us() + S_RECHECK_US;
    }
    ret = s_run(&a);
    if (a.nheld > 0)
        s_flush_held(&a);
    fprintf(stderr,
            PROG ": hits=%" PRIu64 " filtered=%" PRIu64 " bad=%" PRIu64 " caught_up=%" PRIu64
                 " duplicates=%" PRIu64 " again=%" PRIu64 "\n",
            a.shown, a.filtered, a.bad, a.caught_up, a.duplicates, a.again);

cleanup:
    if (a.sock != NULL) {
        int zero = 0;
        zmq_setsockopt(a.sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(a.sock);
    }
    if (a.ctx != NULL)
        zmq_ctx_term(a.ctx);
    PQfinish(a.conn);
    free(a.held);
    free(a.seen);
    return ret;
}
