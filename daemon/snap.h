/*
 * snap: the local copy of what anprd loads from PostgreSQL at start, so it can start and serve
 * while the database is down (the read spool keeps the reads until it comes back).
 *
 * Two files in one directory (the read spool's, see OPERATIONS.md), each written whole to a
 * temporary file (mode 0600: they hold the watchlists, as sensitive as the database), synced
 * and renamed over the old one, so a crash leaves the old copy or the new one, never half:
 * - "watchlist.snap": the lists and entries of a snapshot and the newest change it includes;
 *   the sync thread writes it after each load.
 * - "site.snap": the cameras, the law's retention in days and the highest HIT id stored; main
 *   writes it at start and on reload.
 * - "keys.snap": the CURVE keys of the cameras and consoles let in; the ZAP handler (zap.h)
 *   writes it after each load.
 * Each is a header (magic, kind, body length), the body, and the SHA-256 of both: a file that
 * is short, long, of another kind or altered in one bit is refused, with the reason in err.
 * A file group- or other-accessible is refused too: someone other than anprd wrote it.
 *
 * The module never logs. Strings returned are the caller's; snapshots read are new ones.
 */
#ifndef ANPR_SNAP_H
#define ANPR_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cam.h"
#include "wl.h"

#define SNAP_WATCHLIST_FILE "watchlist.snap"
#define SNAP_SITE_FILE      "site.snap"
#define SNAP_KEYS_FILE      "keys.snap"
#define SNAP_KEY_NAME_MAX   32

/* What site.snap holds besides the cameras. */
struct snap_site {
    int retention_days;   /* anpr.law.retention_days */
    uint64_t last_hit_id; /* highest HIT id this instance had stored */
};

/* Write the entries wl matches (a patch is written flat) and version into dir. 0, or -1. */
int snap_write_watchlist(const char *dir, const wl_t *wl, int64_t version, char *err,
                         size_t errlen);
/*
 * Read dir's watchlist copy into a new snapshot built with these OCR classes. 0; 1 when there
 * is no file (err says so); -1 when it is refused or cannot be read (err says why).
 */
int snap_read_watchlist(const char *dir, const char *ocr_classes, wl_t **wl, int64_t *version,
                        char *err, size_t errlen);

int snap_write_site(const char *dir, const cam_table_t *cams, const struct snap_site *site,
                    char *err, size_t errlen);
/* As snap_read_watchlist, for the cameras and the rest. */
int snap_read_site(const char *dir, cam_table_t **cams, struct snap_site *site, char *err,
                   size_t errlen);

/* One CURVE key let in, as the ZAP handler holds it. */
struct snap_key {
    uint8_t key[32];                  /* the public key */
    bool console;                     /* a console's, else a camera's */
    bool dispatch;                    /* console: may receive the general feed */
    char name[SNAP_KEY_NAME_MAX + 1]; /* camera code or console name */
    uint32_t *covert;                 /* console: covert list ids it is cleared for */
    size_t ncovert;
};

int snap_write_keys(const char *dir, const struct snap_key *keys, size_t n, char *err,
                    size_t errlen);
/* As snap_read_watchlist: *keys is the caller's (each covert array, then the array). */
int snap_read_keys(const char *dir, struct snap_key **keys, size_t *n, char *err, size_t errlen);

#endif
