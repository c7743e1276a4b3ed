/*
 * wladm: watchlist administration on an admin's own database connection, shared by the
 * command line (anpr-watchlist) and the admin page (anpr-web). The rules live here once: an
 * entry's plate normalised as anprd normalises it, its fields checked as the table and the
 * daemon want them, the pattern guard (a pattern with fewer than three letters or digits is
 * refused unless forced, and then the last day's reads it would have hit are counted, by an
 * audited function of migration 019), duplicates refused, and CSV import with every defect
 * reported by line and column and nothing imported while one row is bad (unless skip_bad).
 *
 * Every change is one transaction on the caller's connection, so the triggers of migrations 003
 * and 004 audit it under that login (session_user) and tell running daemons.
 *
 * The module never prints or logs: it returns a wladm_rc (the numbers are anpr-watchlist's exit
 * statuses) and fills a struct wladm_err or result structs with the raw texts (cells, database
 * messages), which the caller makes safe for its terminal or page. Not thread-safe where it
 * reads the time zone: choose it (wladm_zone_choose, wladm_zone) before threads start.
 */
#ifndef ANPR_WLADM_H
#define ANPR_WLADM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plate.h"

enum wladm_rc { WLADM_OK = 0, WLADM_NOTHING = 1, WLADM_INPUT = 2, WLADM_DB = 3 };

/* An open end of a validity. */
#define WLADM_NO_FROM  INT64_MIN
#define WLADM_NO_UNTIL INT64_MAX
/* The letters and digits a pattern needs not to be refused as too broad ("1*" hit 374 reads in
 * 10 s of the demo). */
#define WLADM_PATTERN_MIN_LITERALS 3

/* Why something was refused. */
struct wladm_err {
    char field[24];  /* the entry column it is about (plate, valid_from, ...), "file", or "" */
    char value[160]; /* the value given, quoted by messages; "" when not quoted */
    char msg[600];   /* why, without a program name */
};

/* The columns of an entry, as CSV files and the page name them. */
enum {
    WLADM_PLATE,
    WLADM_COUNTRY,
    WLADM_FROM,
    WLADM_UNTIL,
    WLADM_INSTR,
    WLADM_REF,
    WLADM_REQ,
    WLADM_NCOLS
};
extern const char *const wladm_columns[WLADM_NCOLS];

/* --- times ------------------------------------------------------------------------------- */

/* The zone of times given without an offset: name, else ANPR_TZ, else Europe/Brussels. */
void wladm_zone_choose(const char *name);
const char *wladm_zone_name(void);
/* Looks the zone up (once; sets TZ): NULL, or why it is not usable. */
const char *wladm_zone(void);
/* A strict ISO 8601 time (a date alone is the whole day: its start, or its end for until) into
 * *us (microseconds since the epoch): NULL, or why not. */
const char *wladm_parse_time(const char *s, bool until, int64_t *us);
/* A time as PostgreSQL reads it whatever the session's zone: UTC, ISO 8601, microseconds. */
void wladm_utc_text(int64_t us, char out[40]);
/* A time shown back in the zone and in UTC. */
void wladm_show_time(int64_t us, char out[96]);

/* --- checks ------------------------------------------------------------------------------ */

/* An entry's country as typed: empty (any) or two letters A-Z, of either case. */
bool wladm_country_ok(const char *s);
/* The country s (passing wladm_country_ok) as stored, into out: upper case, UK as GB, "" for
 * any. Returns out. */
const char *wladm_country(const char *s, char out[3]);
bool wladm_text_ok(const char *s, size_t max);
/* An entry's plate normalised as anprd does it (patterns with ? and * too) into out: NULL, or
 * why not. */
const char *wladm_entry_plate(const char *raw, const char *country, char out[PLATE_MAX + 1]);
/* A pattern with fewer than WLADM_PATTERN_MIN_LITERALS letters and digits. */
bool wladm_broad_pattern(const char *norm);
/* How many of the last day's reads the normalised pattern would have hit (audited): 0, or -1
 * with err. */
int wladm_pattern_count(PGconn *conn, const char *norm, long long *count, struct wladm_err *err);

/* An entry's fields as given; NULL: not given. */
struct wladm_entry {
    const char *plate, *country, *from, *until, *instruction, *ref, *requested_by;
};
/*
 * The fields given, each checked (the plate is not: wladm_entry_plate); given times into *from
 * and *until ("-" when open_ok: an open end, left as it is). WLADM_OK or WLADM_INPUT with err.
 */
int wladm_check_entry(const struct wladm_entry *e, bool open_ok, int64_t *from, int64_t *until,
                      struct wladm_err *err);

/* --- database ---------------------------------------------------------------------------- */

/* A parameterised statement; NULL on failure, with err ("ctx: message") and *rc (WLADM_INPUT
 * for the data classes 22 and 23, else WLADM_DB). */
PGresult *wladm_q(PGconn *conn, const char *sql, int n, const char *const *params, const char *ctx,
                  int *rc, struct wladm_err *err);

/* The lists: id, name, category, priority, state, policy, entries (count), covert, colour,
 * retention, backbone (texts: "enabled", "covert", "-" for none), by priority and name. */
PGresult *wladm_lists(PGconn *conn, int *rc, struct wladm_err *err);
/* A list's id (and whether it is enabled); `lock` locks its row (in a transaction).
 * WLADM_NOTHING with err when there is none. */
int wladm_find_list(PGconn *conn, const char *name, bool lock, char id[24], bool *enabled,
                    struct wladm_err *err);
/*
 * A list's entries by id: id, plate, country, valid_from, valid_until (UTC text, NULL open),
 * instruction, external_ref, requested_by, expired ("t"/"f"). filter: NULL or a text the plate
 * (normalised too), the reference or the instruction contains; limit < 0: all.
 */
PGresult *wladm_entries(PGconn *conn, const char *list_id, const char *filter, long long offset,
                        long long limit, int *rc, struct wladm_err *err);
/* The entries of a list not yet expired (of country, or all when NULL), for duplicate checks:
 * id, plate, country, valid_from, valid_until (microseconds, NULL open). */
PGresult *wladm_existing(PGconn *conn, const char *list_id, const char *country, int *rc,
                         struct wladm_err *err);
/* How many entries wladm_entries gives with that filter, into *n. */
int wladm_count_entries(PGconn *conn, const char *list_id, const char *filter, long long *n,
                        struct wladm_err *err);

/* What wladm_add did. */
struct wladm_added {
    char id[24];                /* the new entry's id */
    char norm[PLATE_MAX + 1];   /* its plate normalised */
    char alt[PLATE_MAX + 1];    /* also matched as this (euroband code cut), or "" */
    char country[3];            /* as stored (upper case, UK as GB), "" for any */
    int64_t from, until;        /* the validity stored */
    bool broad;                 /* the pattern guard refused it (WLADM_INPUT) or forced it */
    long long would_hit;        /* forced: the last day's reads it would have hit; -1 unknown */
    struct wladm_err count_err; /* forced and not counted: why */
};
/*
 * Add an entry to the list named `list`: checked, normalised, the pattern guard (force lets a
 * broad pattern in, counted), a duplicate (same plate and country, overlapping validity) and a
 * disabled list refused; one transaction. WLADM_OK, WLADM_NOTHING (no such list) or an error.
 */
int wladm_add(PGconn *conn, const char *list, const struct wladm_entry *e, bool force,
              struct wladm_added *out, struct wladm_err *err);
/* End an entry's validity now (one not yet begun never begins). WLADM_NOTHING with err when
 * there is none or it has expired already. */
int wladm_expire(PGconn *conn, const char *id, struct wladm_err *err);
/* Delete an entry; its plate into plate. WLADM_NOTHING when there is none. */
int wladm_remove(PGconn *conn, const char *id, char plate[64], struct wladm_err *err);

/* --- import ------------------------------------------------------------------------------ */

/* One "CSVNAME=COLUMN" of the command line: a header name read as a column (-1: ignored). */
struct wladm_map {
    char csv[128];   /* the header's name (case-insensitive) */
    int field;       /* WLADM_*, or -1: the column is ignored */
    const char *arg; /* as given, for messages */
};

struct wladm_import_opts {
    const struct wladm_map *map;
    int nmap;
    char sep;      /* ',' or ';'; 0: the one the header uses (csv_guess_sep) */
    bool dry_run;  /* check everything, change nothing */
    bool skip_bad; /* import the good rows when some are bad */
    bool force;    /* let broad patterns in (each counted) */
};

/* A defect of the file: of its header (header) or of one row. */
struct wladm_rowerr {
    int line;        /* the line the record starts on, from 1 */
    int column;      /* the file's column, from 1; 0: the whole row */
    bool header;     /* a defect of the header: nothing can be imported */
    char field[160]; /* the column's name, "row", "header" or "--map ARG" */
    char *msg;       /* why (owned) */
    size_t seq;      /* the order it was found in (a row's defects are listed so) */
};

/* A broad pattern let in by force, and its count. */
struct wladm_forced {
    char norm[PLATE_MAX + 1];
    long long count; /* -1: not known, see err */
    char err[256];
};

struct wladm_import {
    char sep;                  /* the separator read */
    size_t rows, good, bad;    /* records after the header */
    bool imported;             /* the good rows are in the list (committed) */
    struct wladm_rowerr *errs; /* every defect, header first, then rows in line order */
    size_t nerrs;
    struct wladm_forced *forced;
    size_t nforced;
};

/*
 * Import the CSV text buf[0..len) (len + 1 bytes; changed in place) into the list named `list`:
 * a header names the columns (wladm_columns, or through map); every row checked as wladm_add
 * checks an entry, duplicates within the file and with the list's current entries refused (the
 * first stays good). With a bad row nothing is imported (WLADM_INPUT, res->bad) unless
 * skip_bad; all good rows in one transaction. WLADM_NOTHING: nothing to import (or no list).
 * res is the caller's, freed with wladm_import_free also after an error.
 */
int wladm_import(PGconn *conn, const char *list, char *buf, size_t len,
                 const struct wladm_import_opts *o, struct wladm_import *res,
                 struct wladm_err *err);
void wladm_import_free(struct wladm_import *res);

#endif
