/*
 * hist: the investigators' audited search, as anpr-history and anpr-web both make it. Only the
 * functions of migration 016 are called: anpr.search_reads / search_hits / search_cotravel
 * (audited and committed on return, a refused search too), then search_counts and the
 * search_*_rows of the ticket they gave. Every statement runs in autocommit on the person's own
 * connection, so the audit names them and their role's rights apply (a login without
 * anpr_investigator is refused by the database: SQLSTATE 42501, HIST_DENIED).
 *
 * What the database must judge (reason, case, decision, range, plate, pattern, camera, window,
 * limit) is sent as given, never checked here first: a search it refuses is audited too.
 * The module never logs: the outcome says what happened, with the database's own words.
 */
#ifndef ANPR_HIST_H
#define ANPR_HIST_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "plate.h"

enum hist_kind { HIST_READS, HIST_HITS, HIST_COTRAVEL };

enum hist_status {
    HIST_OK = 0,
    HIST_REFUSED, /* the search function refused it (a rule: reason, decision, range, ...) */
    HIST_DENIED,  /* the database refused the login this (42501: not an investigator) */
    HIST_ERROR,   /* any other failure of a statement or the connection */
};

struct hist_query {
    enum hist_kind kind;
    const char *reason, *case_ref, *decision;
    const char *plate; /* as typed (normalised as the matcher does before sending); NULL: none */
    const char *match; /* reads: "exact", "ocr" or "pattern" */
    const char *const *cameras; /* reads: camera codes as typed */
    int ncameras;
    const char *list;                 /* hits: one list's HITs; NULL: all */
    const char *from, *to;            /* timestamptz text (ISO 8601 UTC), or NULL */
    const char *limit;                /* rows at most, as text */
    const char *max_subst;            /* reads with ocr: NULL = 1 */
    const char *window, *min_cameras; /* cotravel */
};

struct hist_outcome {
    enum hist_status status;
    char ticket[32];    /* the granted search's ticket */
    long long more;     /* rows past the limit */
    char rule[64];      /* HIST_REFUSED: the rule's name */
    char message[1024]; /* HIST_REFUSED: the rule's words; HIST_OK: a note (range clipped), or
                           ""; otherwise the database's error message */
    char context[16];   /* the step that failed: "search", "counts", "fetch", "cameras" */
};

/*
 * One search and its rows: *rows the rows of the ticket (ord order; the caller clears them),
 * or NULL when not HIST_OK. Returns out->status.
 */
enum hist_status hist_search(PGconn *conn, const struct hist_query *q, PGresult **rows,
                             struct hist_outcome *out);
/* The rows of a granted search again (its ticket, within the 15 minutes the database keeps it):
   an export of what was shown, not a new search. */
PGresult *hist_fetch(PGconn *conn, enum hist_kind kind, const char *ticket,
                     struct hist_outcome *out);
/* The cameras with a position (code, name, latitude, longitude), for the sightings picture. */
PGresult *hist_cameras(PGconn *conn, struct hist_outcome *out);

/* The plate as sent: normalised as the matcher does (a pattern keeping '?' and '*'); one that
   does not normalise is sent as typed, for the database to refuse and audit under its rule. */
const char *hist_norm_plate(const char *raw, bool pattern, char out[PLATE_MAX + 1]);

#endif
