#include "sync.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "db.h"
#include "idset.h"
#include "log.h"
#include "retro.h"
#include "snap.h"
#include "util.h"

/* Notifications that come within this of each other are taken as one change (a burst of
 * statements from one admin action), so the snapshot is rebuilt once. */
#define SYNC_SETTLE_MS 20

/* More entries changed since the last full load than this, and a full load is cheaper than the
 * patch (an import of a whole list is one change naming every entry). */
#define SYNC_PATCH_MAX 50000

/* A patched snapshot is folded into a full load after this many resync periods: the patch and
 * its hidden set only grow until then. */
#define SYNC_FOLD_PERIODS 12

/* A patch's snapshot is copied to the snapshot directory this long after the last copy at the
 * soonest, or SYNC_COPY_SHARE times as long as the last copy took if longer: each copy writes
 * every entry (a second or more for millions), and patches may come every second, so copying
 * takes at most a twentieth of the thread's time and of the disk's. */
#define SYNC_COPY_MS    10000
#define SYNC_COPY_SHARE 20
/* How long a session's claim of dispatch.instance waits for a holder that is going away. */
#define SYNC_CLAIM_GRACE_MS 3000

struct sync {
    void *ctx;
    char *endpoint;
    char *conninfo;
    char *classes;
    int64_t version;
    int resync_s;
    int reconnect_max_ms;
    pthread_t thread;
    atomic_bool stopping;
    PGconn *conn;
    void *pair;
    wl_t *cur;        /* a hold on the snapshot last delivered: the next patch starts from it */
    bool full_next;   /* the next delivery is a full load whatever the change log says */
    idset_t *changed; /* entries the last patch's changes named */
    struct hitid *hitid;
    char *snapshot_dir;   /* where the copy of the snapshot goes; NULL = none */
    bool copy_due;        /* the snapshot delivered last is not copied yet */
    int64_t copy_next_us; /* a patch is copied at this time at the soonest (monotonic) */
    /* sync_destroy cancels a statement that runs long (a full load, a retro-match search). */
    struct db_cancel cancel;
    unsigned instance;   /* dispatch.instance, claimed on every session */
    atomic_bool refused; /* another anprd held it: the thread keeps away from the database */
};

static void s_disconnect(sync_t *self)
{
    db_cancel_arm(&self->cancel, NULL);
    PQfinish(self->conn);
    self->conn = NULL;
}

/* Connect and LISTEN; 0 or -1 (logged). */
static int s_connect(sync_t *self)
{
    struct db_error err;
    PGresult *res;

    self->conn = db_connect(self->conninfo, "anprd-sync", &err);
    if (!self->conn) {
        log_warn("sync", "database: %s", err.msg);
        return -1;
    }
    db_cancel_arm(&self->cancel, self->conn);
    res = PQexec(self->conn, "LISTEN anpr_watchlist");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_warn("sync", "LISTEN: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(res);
        s_disconnect(self);
        return -1;
    }
    PQclear(res);
    /* Claimed on each session: a reconnect may find that another anprd took the number while
     * this one was away (or, started without the database, that one had it all along). */
    char who[512];
    int claim;
    /* A few seconds' grace, as at start: the session of an anprd that just stopped (or of
     * this one's start) may hold it until its backend has ended. */
    for (int64_t until = util_mono_us() + SYNC_CLAIM_GRACE_MS * 1000LL;;) {
        claim = db_claim_instance(self->conn, self->instance, who, sizeof who, &err);
        if (claim != 1 || util_mono_us() >= until)
            break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (claim != 0) {
        if (claim > 0) {
            log_error("sync",
                      "dispatch.instance %u is taken: another anprd holds it on this database "
                      "(%s). Instances sharing a database need different numbers (they are "
                      "part of every HIT id); stopping",
                      self->instance, who);
            atomic_store(&self->refused, true);
        } else {
            log_warn("sync", "%s", err.msg);
        }
        s_disconnect(self);
        return -1;
    }
    return 0;
}

bool sync_refused(const sync_t *self)
{
    return atomic_load(&self->refused);
}

/* The newest change's sequence number, or -1 (the connection is then checked by the caller). */
static int64_t s_newest(sync_t *self)
{
    PGresult *res = PQexec(self->conn, "SELECT coalesce(max(seq), 0) FROM anpr.watchlist_change");
    long long v = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        util_parse_long(PQgetvalue(res, 0, 0), 0, INT64_MAX, &v) != 0)
        v = -1;
    PQclear(res);
    return v;
}

/* Send one update to ingest; 0, or -1 (then it is freed here). */
static int s_send(sync_t *self, struct sync_update *u)
{
    if (zmq_send(self->pair, &u, sizeof u, 0) == (int)sizeof u)
        return 0;
    wl_destroy(&u->wl);
    free(u->posts);
    free(u->acked);
    free(u->missing);
    free(u);
    return -1;
}

/*
 * Retro-match the entries in self->changed (what the last patch added; with all_entries, any
 * entry of the snapshot) and hand the post-matches to ingest: the ones stored now to publish
 * and forward, the ones stored before to forward again.
 */
static void s_retro(sync_t *self, bool all_entries)
{
    struct retro_result res;
    struct db_error err;
    int64_t t0 = util_mono_us();

    if (idset_count(self->changed) == 0)
        return;
    int rc = retro_run(self->conn, self->cur, self->changed, all_entries, util_now_us(),
                       self->hitid, &res, &err);
    if (rc != 0)
        log_warn("sync", "retro-match: %s", err.msg);
    size_t fresh = 0, again = 0;
    for (size_t i = 0; i < res.nposts; i++) {
        fresh += res.posts[i].fresh;
        again += !res.posts[i].fresh;
    }
    if (res.patterns > 0)
        log_info("sync", "retro-match: %zu pattern entries not searched (patterns never are)",
                 res.patterns);
    if (res.entries > 0)
        log_info("sync",
                 "retro-match of %zu %s entries: %zu reads looked at, %zu post-match HITs "
                 "(%zu found before, %zu of them post-matches to forward again), %.0f ms%s%s",
                 res.entries, all_entries ? "recently changed" : "new", res.reads, fresh,
                 res.before, again, (double)(util_mono_us() - t0) / 1000.0,
                 res.cut ? " (cut at its row limit: the oldest sightings may be missing)" : "",
                 res.narrowed ? " (entries with too many OCR variants searched by their own "
                                "plate)"
                              : "");
    if (res.nposts == 0) {
        free(res.posts);
        return;
    }
    struct sync_update *u = calloc(1, sizeof *u);
    if (!u) {
        free(res.posts);
        return;
    }
    u->version = self->version;
    u->posts = res.posts;
    u->nposts = res.nposts;
    if (s_send(self, u) != 0)
        log_warn("sync", "post-match HITs stored but not published: ingest did not take them");
}

/*
 * At start: the entries changed in the last hour (less a margin) are retro-matched again, so a
 * post-match that was stored just before anprd stopped, and had not reached the backbone's
 * spool, is sent to it now (once more, perhaps: BACKBONE.md 6.5 names a
 * HIT by camera, seq and entry).
 */
static void s_retro_again(sync_t *self)
{
    /* Not the whole hour anpr.retro_search allows: an entry must still be in it when the
     * search of its turn reaches the database. */
    PGresult *res = PQexec(self->conn, "SELECT DISTINCT unnest(entry_ids) FROM "
                                       "anpr.watchlist_change WHERE changed_at > "
                                       "now() - interval '55 minutes' AND entry_ids IS NOT NULL");

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("sync", "retro-match at start: %s",
                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                     ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                     : "no answer");
        PQclear(res);
        return;
    }
    idset_clear(self->changed);
    for (int i = 0; i < PQntuples(res); i++)
        idset_add(self->changed, strtoull(PQgetvalue(res, i, 0), NULL, 10));
    PQclear(res);
    s_retro(self, true);
    idset_clear(self->changed);
}

/* Copy the snapshot delivered last to the snapshot directory, when due. */
static void s_copy(sync_t *self, bool now)
{
    char err[512];
    int64_t t0 = util_mono_us();

    if (!self->snapshot_dir || !self->copy_due || !self->cur || (!now && t0 < self->copy_next_us))
        return;
    self->copy_due = false;
    int rc = snap_write_watchlist(self->snapshot_dir, self->cur, self->version, err, sizeof err);
    int64_t took = util_mono_us() - t0;
    self->copy_next_us =
        t0 + took +
        (took * SYNC_COPY_SHARE > (int64_t)SYNC_COPY_MS * 1000 ? took * SYNC_COPY_SHARE
                                                               : (int64_t)SYNC_COPY_MS * 1000);
    if (rc != 0) {
        log_warn("sync", "%s; a start without the database would use an older copy or none", err);
        return;
    }
    log_debug("sync", "watchlist version %" PRId64 " copied to %s/%s in %.0f ms", self->version,
              self->snapshot_dir, SNAP_WATCHLIST_FILE, (double)(util_mono_us() - t0) / 1000.0);
}

/*
 * A snapshot of the changes after self->version and hand it over: a patch of the current one
 * when the change log names the entries changed, else a full load. 0, or -1 when the load
 * failed.
 */
static int s_deliver(sync_t *self)
{
    struct sync_update *u = calloc(1, sizeof *u);
    struct db_error err;
    size_t skipped = 0, changed = 0;
    int64_t t0 = util_mono_us();
    int rc = 1;

    if (!u)
        return -1;
    idset_clear(self->changed);
    if (self->cur && !self->full_next) {
        rc = db_patch_watchlist(self->conn, self->cur, self->version, SYNC_PATCH_MAX, &u->wl,
                                &u->version, self->changed, &skipped, &err);
        changed = idset_count(self->changed);
        if (rc < 0) {
            log_warn("sync", "watchlist not patched: %s", err.msg);
            free(u);
            return -1;
        }
        if (rc == 0)
            log_debug("sync",
                      "watchlist version %" PRId64 ": %zu entries changed, %zu patched over the "
                      "base (%zu hidden, %zu skipped), in %.1f ms",
                      u->version, changed, wl_patch_count(u->wl), wl_hidden_count(u->wl), skipped,
                      (double)(util_mono_us() - t0) / 1000.0);
    }
    if (rc == 1) {
        if (db_load_watchlist(self->conn, self->classes, &u->wl, &skipped, &u->version, &err) !=
            0) {
            log_warn("sync", "watchlist not reloaded: %s", err.msg);
            free(u);
            return -1;
        }
        /* The entries changed since the last snapshot are retro-matched all the same (a list
         * given a window and an entry added to it at once, or a periodic full load, must not
         * lose an entry's post-matches), unless which ones is not known (see retro.h). */
        if (!self->cur || db_watchlist_changed(self->conn, self->version, u->version,
                                               SYNC_PATCH_MAX, self->changed, &err) < 0)
            idset_clear(self->changed);
        log_info("sync",
                 "watchlist version %" PRId64 ": %zu entries (%zu skipped), loaded in full in "
                 "%.0f ms",
                 u->version, wl_entry_count(u->wl), skipped,
                 (double)(util_mono_us() - t0) / 1000.0);
        self->full_next = false;
    }
    self->version = u->version;
    wl_destroy(&self->cur);
    self->cur = wl_ref(u->wl);
    self->copy_due = true;
    s_copy(self, rc == 1); /* a full load at once; a patch when SYNC_COPY_MS has passed */
    if (s_send(self, u) != 0) {
        self->full_next = true; /* ingest did not get it: start again from a full load */
        return -1;
    }
    /* After the snapshot: a read that comes in meanwhile is matched live. */
    s_retro(self, false);
    return 0;
}

/* A request from ingest (SIGHUP): new OCR classes, and a rebuild whatever the version. */
/* A request from ingest, as a pointer over the PAIR: a rebuild (SIGHUP), or a question. */
struct s_request {
    bool rebuild;
    char *classes; /* rebuild: new OCR classes, or NULL */
    uint64_t *ids; /* question: which of these HITs are acknowledged? */
    size_t nids;
    uint64_t serial;     /* question: echoed in the answer */
    int64_t deadline_us; /* question: ingest waits for the answer until then (monotonic) */
};

/* Notifications libpq has read already: a query on this session (an answer, a load) reads the
 * ones that arrive meanwhile into its queue, and the socket will not poll readable for them. */
static bool s_drain_notifies(sync_t *self)
{
    PGnotify *n;
    bool any = false;

    if (!self->conn)
        return false;
    while ((n = PQnotifies(self->conn)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

/*
 * Answer which of the HITs asked about are acknowledged (one query) and send it to ingest;
 * "unknown" at once without a session, or when ingest no longer waits for the answer.
 */
static void s_answer_acked(sync_t *self, const struct s_request *q)
{
    struct sync_update *u = calloc(1, sizeof *u);

    if (!u)
        return;
    u->is_answer = true;
    u->serial = q->serial;
    u->version = self->version;
    char *param = NULL;
    idset_t *set = idset_new();
    for (size_t i = 0; set && i < q->nids; i++)
        idset_add(set, q->ids[i]);
    if (set && self->conn && util_mono_us() <= q->deadline_us &&
        (param = db_ids_param(set)) != NULL) {
        const char *params[1] = {param};
        /* An id announced again for a resent read is an alias (migration 012): its
         * acknowledgement is recorded under the stored HIT's id. An id with no HIT stored
         * under it nor an alias comes back as missing. */
        PGresult *res = PQexecParams(
            self->conn,
            "SELECT id, acked FROM (SELECT q.id, "
            "EXISTS (SELECT FROM anpr.hit_ack k WHERE k.hit_id = q.id) OR "
            "EXISTS (SELECT FROM anpr.hit_alias a JOIN anpr.hit_ack k "
            "ON k.hit_id = a.stored_hit_id WHERE a.hit_id = q.id) AS acked, "
            "NOT EXISTS (SELECT FROM anpr.hits h WHERE h.hit_id = q.id) AND "
            "NOT EXISTS (SELECT FROM anpr.hit_alias a WHERE a.hit_id = q.id) AS missing "
            "FROM unnest($1::bigint[]) AS q(id)) s WHERE acked OR missing",
            1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            size_t n = (size_t)PQntuples(res);
            u->acked = n > 0 ? calloc(n, sizeof *u->acked) : NULL;
            u->missing = n > 0 ? calloc(n, sizeof *u->missing) : NULL;
            /* Out of memory: unknown, so they are announced again rather than dropped. */
            u->answered = n == 0 || (u->acked && u->missing);
            for (int i = 0; u->answered && i < (int)n; i++) {
                uint64_t id = strtoull(PQgetvalue(res, i, 0), NULL, 10);
                if (strcmp(PQgetvalue(res, i, 1), "t") == 0)
                    u->acked[u->nacked++] = id;
                else
                    u->missing[u->nmissing++] = id;
            }
        } else {
            log_warn("sync", "acknowledgements: %s",
                     PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                         ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                         : "no answer");
        }
        PQclear(res);
    }
    free(param);
    idset_destroy(&set);
    s_send(self, u);
}

/* Take one request: -1 none was waiting, 1 a rebuild (the change look must run), 0 else. */
static int s_take_request(sync_t *self)
{
    struct s_request *q = NULL;

    if (zmq_recv(self->pair, &q, sizeof q, ZMQ_DONTWAIT) != (int)sizeof q || !q)
        return -1;
    if (q->rebuild) {
        if (q->classes) {
            free(self->classes);
            self->classes = q->classes;
            q->classes = NULL;
        }
        self->version = -1; /* anything is newer: rebuild */
        self->full_next = true;
    } else if (!atomic_load(&self->stopping)) {
        s_answer_acked(self, q);
    }
    /* Only a rebuild wakes the change look; a question is answered here and done. */
    int rebuild = q->rebuild ? 1 : 0;
    free(q->classes);
    free(q->ids);
    free(q);
    return rebuild;
}

/*
 * Wait up to ms for notifications on the database connection or a request from ingest; true
 * when a notification or a rebuild came (a question is answered here and wakes nothing).
 */
static bool s_wait(sync_t *self, int ms)
{
    zmq_pollitem_t items[2] = {{self->pair, 0, ZMQ_POLLIN, 0},
                               {NULL, PQsocket(self->conn), ZMQ_POLLIN, 0}};
    bool woken = s_drain_notifies(self);

    if (zmq_poll(items, 2, woken ? 0 : ms) <= 0)
        return woken;
    if ((items[0].revents & ZMQ_POLLIN) && s_take_request(self) == 1)
        woken = true;
    if ((items[1].revents & ZMQ_POLLIN) && PQconsumeInput(self->conn) == 1 &&
        s_drain_notifies(self))
        woken = true;
    /* An answer's query may have read some. */
    return s_drain_notifies(self) || woken;
}

/* Without a session (backing off before a reconnect): sleep ms, answering ingest's questions
 * meanwhile (as unknown), so it never waits for the database to come back. */
static void s_idle(sync_t *self, int ms)
{
    int64_t until = util_mono_us() + (int64_t)ms * 1000;
    int64_t left;

    while (!atomic_load(&self->stopping) && (left = until - util_mono_us()) > 0) {
        zmq_pollitem_t item = {self->pair, 0, ZMQ_POLLIN, 0};
        /* Short naps: sync_destroy only sets a flag. */
        int nap = left > 100000 ? 100 : (int)((left + 999) / 1000);
        if (zmq_poll(&item, 1, nap) > 0 && (item.revents & ZMQ_POLLIN))
            s_take_request(self);
    }
}

static int s_ask(void *pair, struct s_request *q)
{
    if (zmq_send(pair, &q, sizeof q, ZMQ_DONTWAIT) == (int)sizeof q)
        return 0;
    free(q->classes);
    free(q->ids);
    free(q);
    return -1;
}

int sync_request(void *pair, const char *ocr_classes)
{
    struct s_request *q = calloc(1, sizeof *q);

    if (!q)
        return -1;
    q->rebuild = true;
    q->classes = ocr_classes ? strdup(ocr_classes) : NULL;
    return s_ask(pair, q);
}

int sync_ask_acked(void *pair, const uint64_t *ids, size_t n, uint64_t serial, int64_t deadline_us)
{
    struct s_request *q = calloc(1, sizeof *q);

    if (!q || !(q->ids = malloc((n ? n : 1) * sizeof *ids))) {
        free(q);
        return -1;
    }
    memcpy(q->ids, ids, n * sizeof *ids);
    q->nids = n;
    q->serial = serial;
    q->deadline_us = deadline_us;
    return s_ask(pair, q);
}

static void *s_run(void *arg)
{
    sync_t *self = arg;
    int backoff_ms = 100;
    int64_t next_full = util_mono_us() + (int64_t)self->resync_s * 1000000;
    bool look = false, connected = false;
    int periods = 0;

    self->pair = zmq_socket(self->ctx, ZMQ_PAIR);
    if (!self->pair || zmq_connect(self->pair, self->endpoint) != 0) {
        log_error("sync", "cannot connect %s", self->endpoint);
        return NULL;
    }
    /* The snapshot ingest started with, here rather than on the start's path (started from
     * the copy, it is written again the same). */
    self->copy_due = true;
    s_copy(self, true);
    while (!atomic_load(&self->stopping)) {
        if (!self->conn) {
            if (atomic_load(&self->refused)) {
                s_idle(self, 250);
                continue;
            }
            if (s_connect(self) != 0) {
                s_idle(self, backoff_ms);
                backoff_ms = backoff_ms * 2 > self->reconnect_max_ms ? self->reconnect_max_ms
                                                                     : backoff_ms * 2;
                continue;
            }
            backoff_ms = 100;
            look = true; /* changes made while we were away */
            /* After a reconnect, a full load: whatever happened meanwhile, it is caught. */
            self->full_next = self->full_next || connected;
            if (!connected)
                s_retro_again(self);
            connected = true;
        }
        if (s_wait(self, look ? 0 : 250)) {
            /* Let a burst of statements settle into one rebuild. */
            while (s_wait(self, SYNC_SETTLE_MS))
                ;
            look = true;
        }
        if (util_mono_us() >= next_full) {
            look = true;
            next_full = util_mono_us() + (int64_t)self->resync_s * 1000000;
            if (++periods >= SYNC_FOLD_PERIODS) {
                periods = 0;
                self->full_next = self->full_next || wl_hidden_count(self->cur) > 0;
            }
        }
        if (look) {
            int64_t newest = s_newest(self);
            /* Look again (after the short wait above) until it worked. */
            look =
                newest < 0 || ((newest > self->version || self->full_next) && s_deliver(self) != 0);
            if (look && PQstatus(self->conn) == CONNECTION_OK)
                s_wait(self, 1000); /* a load that failed is retried, but not in a tight loop */
        }
        s_copy(self, false);
        if (PQstatus(self->conn) != CONNECTION_OK) {
            log_warn("sync", "database connection lost; reconnecting");
            s_disconnect(self);
        }
    }
    s_disconnect(self);
    s_copy(self, true); /* the last patch, so a start without the database begins from it */
    wl_destroy(&self->cur);
    /* A request still queued: its classes string is ours to free. */
    while (s_take_request(self) >= 0)
        ;
    zmq_close(self->pair);
    return NULL;
}

sync_t *sync_new(void *zmq_ctx, const char *endpoint, const struct sync_opts *opts)
{
    sync_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->ctx = zmq_ctx;
    self->endpoint = strdup(endpoint);
    self->conninfo = strdup(opts->conninfo);
    self->classes = strdup(opts->ocr_classes);
    self->version = opts->version;
    self->cur = wl_ref(opts->wl);
    self->changed = idset_new();
    self->hitid = opts->hitid;
    self->snapshot_dir = opts->snapshot_dir ? strdup(opts->snapshot_dir) : NULL;
    db_cancel_init(&self->cancel);
    self->resync_s = opts->resync_s > 0 ? opts->resync_s : 300;
    self->reconnect_max_ms = opts->reconnect_max_ms > 100 ? opts->reconnect_max_ms : 100;
    self->instance = opts->instance;
    atomic_init(&self->stopping, false);
    atomic_init(&self->refused, false);
    if (!self->endpoint || !self->conninfo || !self->classes || !self->changed ||
        (opts->snapshot_dir && !self->snapshot_dir) ||
        pthread_create(&self->thread, NULL, s_run, self) != 0) {
        wl_destroy(&self->cur);
        idset_destroy(&self->changed);
        db_cancel_destroy(&self->cancel);
        free(self->endpoint);
        free(self->conninfo);
        free(self->classes);
        free(self->snapshot_dir);
        free(self);
        return NULL;
    }
    return self;
}

void sync_destroy(sync_t **self_p)
{
    sync_t *self;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    atomic_store(&self->stopping, true);
    db_cancel_fire(&self->cancel);
    pthread_join(self->thread, NULL);
    db_cancel_destroy(&self->cancel);
    idset_destroy(&self->changed);
    free(self->endpoint);
    free(self->conninfo);
    free(self->classes);
    free(self->snapshot_dir);
    free(self);
    *self_p = NULL;
}
