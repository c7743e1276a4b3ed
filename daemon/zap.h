/*
 * zap: who may connect to anprd's ZeroMQ sockets. Every socket is a CURVE server; libzmq asks
 * a ZAP handler (ZeroMQ RFC 27) about each peer's public key, and this module is that handler:
 * a thread answering on inproc://zeromq.zap.01 from the keys in PostgreSQL (migration 013).
 *
 * - Domain "ingest": a camera's key, enabled; the user id is the camera's code, and ingest
 *   takes reads of that camera only from that connection.
 * - Domain "dispatch": a console's key, enabled and allowed the general feed.
 * - Domain "covert": a console's key, enabled and cleared for at least one covert list; which
 *   lists it may receive is asked per subscription (zap_cleared).
 * Anything else is refused with status 400. The keys are held as an immutable table replaced
 * whole on a change (NOTIFY anpr_keys) or every minute, so a key added, removed or disabled
 * applies to the next connection within a second, without a restart; connections already made
 * stay. While the database is away, the last table loaded stays in force; with a copy
 * directory, also across a restart while it is away.
 *
 * libzmq lets any client key in when no ZAP handler answers, so zap_new() fails (and anprd
 * does not start) when the key set cannot be loaded or holds no key at all: fail closed.
 */
#ifndef ANPR_ZAP_H
#define ANPR_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zap zap_t;

struct zap_stats {
    uint64_t allowed; /* ZAP requests answered 200 */
    uint64_t denied;  /* ... answered 400 (unknown or disabled key, wrong socket) */
    uint64_t reloads; /* key sets loaded */
    size_t cameras;   /* keys in the table in force */
    size_t consoles;
};

/*
 * Load the key set with `conninfo` and start the handler on `zmq_ctx` (before any CURVE
 * socket binds). With copy_dir, every key set loaded is copied there (snap.h), and when the
 * database cannot be reached at all, the copy's keys are in force until it can (as the last
 * keys loaded are through an outage). NULL with a message in err when neither can be read, the
 * set is empty, or the handler cannot start.
 */
zap_t *zap_new(void *zmq_ctx, const char *conninfo, int reconnect_max_ms, const char *copy_dir,
               char *err, size_t errlen);
/* Stop the thread and free everything; safe on NULL and twice. */
void zap_destroy(zap_t **self_p);

/*
 * Make sock a CURVE server with anprd's secret key (Z85) whose peers this handler checks in
 * `domain` ("ingest", "dispatch", "covert"). Before bind. 0, or -1 with a message in err.
 */
int zap_server(void *sock, const char *secret_z85, const char *domain, char *err, size_t errlen);

/* Whether the console with user id `console` may receive covert list `list_id` (any thread). */
bool zap_cleared(zap_t *self, const char *console, uint32_t list_id);

/* The counters (any thread). */
void zap_stats(zap_t *self, struct zap_stats *out);

#endif
