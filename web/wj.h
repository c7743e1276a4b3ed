/*
 * wj: JSON and CSV text for anpr-web, built into a growable buffer. Strings are escaped so the
 * output is valid JSON whatever the database or the feed holds: quotes, backslashes, every
 * control character, the line and paragraph separators, and '<', '>', '&' (so no text can close
 * a tag if a page ever embeds it) as \uXXXX; bytes that are not UTF-8 become U+FFFD.
 *
 * Out of memory is sticky: the buffer remembers it (wj_failed) and further appends do nothing,
 * so a builder checks once at the end. Never logs.
 */
#ifndef ANPR_WJ_H
#define ANPR_WJ_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "proto.h"

struct wj {
    char *s; /* NUL-terminated text (owned; NULL until the first append) */
    size_t len, cap;
    bool oom;
};

void wj_free(struct wj *b);
/* Raw text (no escaping). */
void wj_raw(struct wj *b, const char *s);
void wj_rawn(struct wj *b, const char *s, size_t n);
void wj_fmt(struct wj *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal of s (NULL gives null). */
void wj_str(struct wj *b, const char *s);
/* "key": as the start of a member, with a comma before it unless first. */
void wj_key(struct wj *b, const char *key, bool first);
bool wj_failed(const struct wj *b);

/* One CSV field (RFC 4180, quoted when needed) and a ',' or the CRLF after it. A field a
   spreadsheet would run as a formula (=, +, -, @ first, or TAB or CR first, also after any
   number of "'": csv_risky) gets one more "'" before it, so the sheet shows it as text. */
void wj_csv(struct wj *b, const char *s, bool last);

/* A HIT off the feed as the board's JSON object (docs/WEB.md, "hit" events). */
void wj_hit(struct wj *b, const struct proto_hit *h, bool again, bool sighting);
/* A heartbeat of the feed as the board's camera health: {"cameras", "reporting",
 * "silent_after_s", "interval_ms", "silent": [codes]}. */
void wj_heartbeat(struct wj *b, const struct proto_heartbeat *hb);

/* One value of a result as JSON: numbers and booleans as such, NULL as null, the rest a string
   (bigint ids too: JavaScript numbers lose their last digits). */
void wj_pg_value(struct wj *b, const PGresult *res, int i, int k);
/* "columns": [...], "rows": [[...], ...] of a result (members, without the braces). */
void wj_pg_table(struct wj *b, const PGresult *res);

#endif
