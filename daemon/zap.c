/*
 * zap: the ZAP handler thread and its key table (see zap.h).
 */
#include "zap.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "curve.h"
#include "db.h"
#include "log.h"
#include "snap.h"
#include "util.h"

#define S_ENDPOINT  "inproc://zeromq.zap.01"
#define S_RESYNC_US (60 * 1000000LL) /* a full reload now and then, notified or not */
#define S_NAME_MAX  32               /* camera codes and console names */

enum s_kind { S_CAMERA = 1, S_CONSOLE = 2 };

struct s_peer {
    uint8_t key[32];
    enum s_kind kind;
    bool dispatch;             /* console: may receive the general feed */
    char name[S_NAME_MAX + 1]; /* camera code or console name: the ZAP user id */
    uint32_t *covert;          /* console: covert list ids it is cleared for, sorted */
    size_t ncovert;
};

/* An immutable key set, sorted by key. */
struct s_table {
    struct s_peer *peers;
    size_t n, cameras, consoles;
};

struct zap {
    void *ctx;
    char *conninfo;
    int reconnect_max_ms;
    pthread_t answer, load; /* the handshakes; the key set from the database */
    int started;            /* threads running: 0, 1 (answer) or 2 */
    atomic_bool stop;
    void *rep;            /* owned by the thread once it runs */
    pthread_mutex_t lock; /* guards table and stats */
    struct s_table *table;
    struct zap_stats stats;
    PGconn *conn;   /* the loader thread's; LISTENs on anpr_keys */
    char *copy_dir; /* each key set loaded is copied there (snap.h); NULL = none */
};

/* --- the table --------------------------------------------------------------------------- */

static void s_table_free(struct s_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->peers[i].covert);
    free(t->peers);
    free(t);
}

static int s_peer_cmp(const void *a, const void *b)
{
    return memcmp(((const struct s_peer *)a)->key, ((const struct s_peer *)b)->key, 32);
}

static int s_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse "{1,2,3}" (a PostgreSQL integer[] as text) into a sorted array; 0 or -1. */
static int s_parse_lists(const char *text, uint32_t **out, size_t *n)
{
    size_t cap = 1;
    uint32_t *v;

    *out = NULL;
    *n = 0;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    if (strcmp(text, "{}") == 0 || !(v = calloc(cap, sizeof *v)))
        return strcmp(text, "{}") == 0 ? 0 : -1;
    const char *p = text + (text[0] == '{');
    while (*p && *p != '}') {
        char *end;
        errno = 0;
        unsigned long x = strtoul(p, &end, 10);
        if (end == p || errno || x > UINT32_MAX || *n >= cap) {
            free(v);
            return -1;
        }
        v[(*n)++] = (uint32_t)x;
        p = end + (*end == ',');
    }
    qsort(v, *n, sizeof *v, s_u32_cmp);
    *out = v;
    return 0;
}

/* Load every enabled key; NULL with a message in err. */
static struct s_table *s_load(PGconn *conn, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT 1, curve_key, code, false, '{}'::text FROM anpr.camera "
        "WHERE enabled AND curve_key IS NOT NULL "
        "UNION ALL "
        "SELECT 2, c.curve_key, c.name, c.dispatch, "
        "coalesce((SELECT array_agg(v.list_id ORDER BY v.list_id) FROM anpr.console_covert v "
        "WHERE v.console_id = c.id), '{}')::text FROM anpr.console c WHERE c.enabled";
    PGresult *res = PQexec(conn, sql);
    struct s_table *t = NULL;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        util_errf(err, errlen, "load CURVE keys: %s",
                  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                      ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                      : PQerrorMessage(conn));
        goto fail;
    }
    int rows = PQntuples(res);
    t = calloc(1, sizeof *t);
    if (!t || (rows > 0 && !(t->peers = calloc((size_t)rows, sizeof *t->peers)))) {
        util_errf(err, errlen, "load CURVE keys: out of memory");
        goto fail;
    }
    for (int i = 0; i < rows; i++) {
        struct s_peer *p = &t->peers[t->n];
        const char *key = PQgetvalue(res, i, 1), *name = PQgetvalue(res, i, 2);
        /* The domain's CHECK makes both true; a table edited around it is skipped, not
         * trusted. */
        if (strlen(key) != CURVE_Z85 || !zmq_z85_decode(p->key, key) || strlen(name) > S_NAME_MAX)
            continue;
        p->kind = PQgetvalue(res, i, 0)[0] == '1' ? S_CAMERA : S_CONSOLE;
        p->dispatch = PQgetvalue(res, i, 3)[0] == 't';
        memcpy(p->name, name, strlen(name) + 1);
        if (s_parse_lists(PQgetvalue(res, i, 4), &p->covert, &p->ncovert) != 0) {
            util_errf(err, errlen, "load CURVE keys: bad covert list ids");
            goto fail;
        }
        t->n++;
        if (p->kind == S_CAMERA)
            t->cameras++;
        else
            t->consoles++;
    }
    if (t->n > 0)
        qsort(t->peers, t->n, sizeof *t->peers, s_peer_cmp);
    PQclear(res);
    return t;
fail:
    s_table_free(t);
    PQclear(res);
    return NULL;
}

static const struct s_peer *s_find(const struct s_table *t, const uint8_t key[32])
{
    struct s_peer probe;

    memcpy(probe.key, key, 32);
    return t && t->n > 0 ? bsearch(&probe, t->peers, t->n, sizeof *t->peers, s_peer_cmp) : NULL;
}

/* Swap in a freshly loaded table. */
static void s_install(zap_t *self, struct s_table *t)
{
    pthread_mutex_lock(&self->lock);
    struct s_table *old = self->table;
    self->table = t;
    self->stats.reloads++;
    self->stats.cameras = t->cameras;
    self->stats.consoles = t->consoles;
    pthread_mutex_unlock(&self->lock);
    s_table_free(old);
}

/* Copy a key set just loaded from the database, for a start without it. */
static void s_copy(const zap_t *self, const struct s_table *t)
{
    struct snap_key *k;
    char err[512];

    if (!self->copy_dir)
        return;
    if (!(k = calloc(t->n ? t->n : 1, sizeof *k))) {
        log_warn("zap", "CURVE keys not copied: out of memory");
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct s_peer *p = &t->peers[i];
        memcpy(k[i].key, p->key, sizeof k[i].key);
        k[i].console = p->kind == S_CONSOLE;
        k[i].dispatch = p->dispatch;
        memcpy(k[i].name, p->name, sizeof k[i].name);
        k[i].covert = p->covert; /* borrowed */
        k[i].ncovert = p->ncovert;
    }
    if (snap_write_keys(self->copy_dir, k, t->n, err, sizeof err) != 0)
        log_warn("zap", "%s; a start without the database would use an older copy or none", err);
    free(k);
}

/* The key set of the local copy; NULL with the reason in err. */
static struct s_table *s_from_copy(const zap_t *self, char *err, size_t errlen)
{
    struct snap_key *k = NULL;
    size_t n = 0;
    struct s_table *t;

    if (snap_read_keys(self->copy_dir, &k, &n, err, errlen) != 0)
        return NULL;
    if (!(t = calloc(1, sizeof *t)) || (n > 0 && !(t->peers = calloc(n, sizeof *t->peers)))) {
        util_errf(err, errlen, "CURVE keys of the local copy: out of memory");
        free(t);
        for (size_t i = 0; i < n; i++)
            free(k[i].covert);
        free(k);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct s_peer *p = &t->peers[t->n++];
        memcpy(p->key, k[i].key, sizeof p->key);
        p->kind = k[i].console ? S_CONSOLE : S_CAMERA;
        p->dispatch = k[i].dispatch;
        memcpy(p->name, k[i].name, sizeof p->name);
        p->covert = k[i].covert; /* taken */
        p->ncovert = k[i].ncovert;
        if (p->ncovert > 0)
            qsort(p->covert, p->ncovert, sizeof *p->covert, s_u32_cmp);
        if (p->kind == S_CAMERA)
            t->cameras++;
        else
            t->consoles++;
    }
    free(k);
    if (t->n > 0)
        qsort(t->peers, t->n, sizeof *t->peers, s_peer_cmp);
    return t;
}

/* --- the database ------------------------------------------------------------------------ */

static int s_connect(zap_t *self, char *err, size_t errlen)
{
    struct db_error dberr;

    self->conn = db_connect(self->conninfo, "anprd-zap", &dberr);
    if (!self->conn) {
        util_errf(err, errlen, "%s", dberr.msg);
        return -1;
    }
    PGresult *res = PQexec(self->conn, "LISTEN anpr_keys");
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        util_errf(err, errlen, "LISTEN anpr_keys: %s", PQerrorMessage(self->conn));
        PQfinish(self->conn);
        self->conn = NULL;
        return -1;
    }
    return 0;
}

/* Reload after a notification or on the timer; the running table stays on failure. */
static void s_reload(zap_t *self)
{
    char err[256];
    struct s_table *t = s_load(self->conn, err, sizeof err);

    if (!t) {
        log_warn("zap", "%s; the keys loaded before stay in force", err);
        if (PQstatus(self->conn) != CONNECTION_OK) {
            PQfinish(self->conn);
            self->conn = NULL;
        }
        return;
    }
    if (t->n == 0)
        log_warn("zap", "no enabled CURVE key left: no camera or console can connect now");
    log_info("zap", "keys loaded: %zu cameras, %zu consoles", t->cameras, t->consoles);
    s_copy(self, t);
    s_install(self, t);
}

/* --- ZAP (RFC 27) ------------------------------------------------------------------------ */

/* Whether a peer of this kind may connect to the socket of this domain. */
static bool s_admit(const struct s_peer *p, const char *domain)
{
    if (!p)
        return false;
    if (strcmp(domain, "ingest") == 0)
        return p->kind == S_CAMERA;
    if (strcmp(domain, "dispatch") == 0)
        return p->kind == S_CONSOLE && p->dispatch;
    if (strcmp(domain, "covert") == 0)
        return p->kind == S_CONSOLE && p->ncovert > 0;
    return false;
}

/* Answer one request waiting on rep. */
static void s_answer(zap_t *self)
{
    zmq_msg_t part[7];
    int n = 0, more = 1;
    size_t more_len = sizeof more;

    while (more && n < 7) {
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], self->rep, 0) < 0) {
            zmq_msg_close(&part[n]);
            goto out;
        }
        n++;
        zmq_getsockopt(self->rep, ZMQ_RCVMORE, &more, &more_len);
    }
    bool extra = false;
    while (more) { /* more parts than RFC 27 has: read them away; refused below */
        zmq_msg_t part_x;
        zmq_msg_init(&part_x);
        zmq_msg_recv(&part_x, self->rep, 0);
        zmq_msg_close(&part_x);
        zmq_getsockopt(self->rep, ZMQ_RCVMORE, &more, &more_len);
        extra = true;
    }
    /* A REP that does not answer takes no further request: every request is answered, a
     * malformed one (libzmq never sends it) with 400 like any refusal. */
    bool wellformed = n >= 6 && !extra;
    char domain[32] = "";
    size_t dlen = wellformed ? zmq_msg_size(&part[2]) : sizeof domain;
    if (dlen < sizeof domain)
        memcpy(domain, zmq_msg_data(&part[2]), dlen), domain[dlen] = '\0';
    bool curve = wellformed && zmq_msg_size(&part[5]) == 5 &&
                 memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0;
    const char *user = "";
    bool ok = false;

    pthread_mutex_lock(&self->lock);
    if (curve && n == 7 && zmq_msg_size(&part[6]) == 32) {
        const struct s_peer *p = s_find(self->table, zmq_msg_data(&part[6]));
        ok = s_admit(p, domain);
        if (ok)
            user = p->name;
    }
    char user_copy[S_NAME_MAX + 1];
    snprintf(user_copy, sizeof user_copy, "%s", user);
    if (ok)
        self->stats.allowed++;
    else
        self->stats.denied++;
    pthread_mutex_unlock(&self->lock);

    /* Reply: version, request id, status code, status text, user id, metadata. */
    zmq_send(self->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(self->rep, n >= 2 ? zmq_msg_data(&part[1]) : "", n >= 2 ? zmq_msg_size(&part[1]) : 0,
             ZMQ_SNDMORE);
    zmq_send(self->rep, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send(self->rep, ok ? "OK" : "not allowed", ok ? 2 : 11, ZMQ_SNDMORE);
    zmq_send(self->rep, user_copy, strlen(user_copy), ZMQ_SNDMORE);
    zmq_send(self->rep, "", 0, 0);
out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
}

/* The handshakes: answered from the table in force, never waiting on the database. */
static void *s_run_answer(void *arg)
{
    zap_t *self = arg;

    while (!atomic_load(&self->stop)) {
        zmq_pollitem_t item = {self->rep, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 200) < 0 && zmq_errno() != EINTR)
            break;
        if (item.revents & ZMQ_POLLIN)
            s_answer(self);
    }
    return NULL;
}

/* The key set: LISTEN, reload on a change and now and then, reconnect with backoff. A thread of
 * its own, so a slow, locked or unreachable database never holds up a handshake. */
static void *s_run_load(void *arg)
{
    zap_t *self = arg;
    int64_t next_reload = util_mono_us() + S_RESYNC_US, retry_at = 0;
    int backoff_ms = 100;

    while (!atomic_load(&self->stop)) {
        zmq_pollitem_t item = {NULL, -1, ZMQ_POLLIN, 0};
        bool notified = false;
        if (self->conn) {
            item.fd = PQsocket(self->conn);
            if (zmq_poll(&item, 1, 200) < 0 && zmq_errno() != EINTR)
                break;
        } else {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
        if (self->conn && (item.revents & ZMQ_POLLIN)) {
            if (PQconsumeInput(self->conn) != 1) {
                log_warn("zap", "database connection lost; the keys loaded before stay in force");
                PQfinish(self->conn);
                self->conn = NULL;
            } else {
                PGnotify *note;
                while ((note = PQnotifies(self->conn)) != NULL) {
                    notified = true;
                    PQfreemem(note);
                }
            }
        }
        int64_t now = util_mono_us();
        if (!self->conn && now >= retry_at) {
            char err[256];
            if (s_connect(self, err, sizeof err) != 0) {
                retry_at = now + (int64_t)backoff_ms * 1000;
                backoff_ms = backoff_ms * 2 > self->reconnect_max_ms ? self->reconnect_max_ms
                                                                     : backoff_ms * 2;
                continue;
            }
            backoff_ms = 100;
            notified = true; /* changes made while away */
        }
        if (self->conn && (notified || now >= next_reload)) {
            s_reload(self);
            next_reload = now + S_RESYNC_US;
        }
    }
    return NULL;
}

/* --- public ------------------------------------------------------------------------------ */

zap_t *zap_new(void *zmq_ctx, const char *conninfo, int reconnect_max_ms, const char *copy_dir,
               char *err, size_t errlen)
{
    zap_t *self = calloc(1, sizeof *self);
    int zero = 0;
    struct s_table *t = NULL;

    if (!self || !(self->conninfo = strdup(conninfo)) ||
        (copy_dir && !(self->copy_dir = strdup(copy_dir)))) {
        util_errf(err, errlen, "out of memory");
        if (self)
            free(self->conninfo);
        free(self);
        return NULL;
    }
    self->ctx = zmq_ctx;
    self->reconnect_max_ms = reconnect_max_ms;
    pthread_mutex_init(&self->lock, NULL);
    if (s_connect(self, err, errlen) != 0) {
        char why[512];
        /* The loader thread connects later; until then the copy's keys are in force, as the
         * last keys loaded are through an outage. */
        if (!self->copy_dir || !(t = s_from_copy(self, why, sizeof why))) {
            if (self->copy_dir)
                util_errf(err + strlen(err), errlen - strlen(err), "; %s", why);
            goto fail;
        }
        log_warn("zap",
                 "database unreachable: CURVE keys from the local copy in %s: %zu cameras, %zu "
                 "consoles; reloaded from the database when it comes",
                 self->copy_dir, t->cameras, t->consoles);
    } else if (!(t = s_load(self->conn, err, errlen))) {
        goto fail;
    } else if (t->n > 0) {
        s_copy(self, t);
    }
    if (t->n == 0) {
        s_table_free(t);
        util_errf(err, errlen,
                  "no CURVE key of a camera or console in the database (anpr.camera.curve_key, "
                  "anpr.console): nobody could connect; add them (anpr-keygen, anpr-cameras), "
                  "or run with curve.insecure_plaintext: true");
        goto fail;
    }
    s_install(self, t);
    self->rep = zmq_socket(zmq_ctx, ZMQ_REP);
    if (!self->rep) {
        util_errf(err, errlen, "zap: zmq_socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    zmq_setsockopt(self->rep, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(self->rep, S_ENDPOINT) != 0) {
        util_errf(err, errlen, "zap: bind %s: %s", S_ENDPOINT, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (pthread_create(&self->answer, NULL, s_run_answer, self) != 0) {
        util_errf(err, errlen, "zap: cannot start the thread");
        goto fail;
    }
    self->started = 1;
    if (pthread_create(&self->load, NULL, s_run_load, self) != 0) {
        util_errf(err, errlen, "zap: cannot start the thread");
        goto fail;
    }
    self->started = 2;
    return self;
fail:
    zap_destroy(&self);
    return NULL;
}

void zap_destroy(zap_t **self_p)
{
    zap_t *self;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    atomic_store(&self->stop, true);
    if (self->started >= 1)
        pthread_join(self->answer, NULL);
    if (self->started >= 2)
        pthread_join(self->load, NULL);
    if (self->rep)
        zmq_close(self->rep);
    PQfinish(self->conn);
    s_table_free(self->table);
    pthread_mutex_destroy(&self->lock);
    free(self->conninfo);
    free(self->copy_dir);
    free(self);
    *self_p = NULL;
}

int zap_server(void *sock, const char *secret_z85, const char *domain, char *err, size_t errlen)
{
    int one = 1;

    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret_z85, strlen(secret_z85) + 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
        util_errf(err, errlen, "%s: CURVE: %s", domain, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

bool zap_cleared(zap_t *self, const char *console, uint32_t list_id)
{
    bool ok = false;

    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; self->table && i < self->table->n && !ok; i++) {
        const struct s_peer *p = &self->table->peers[i];
        if (p->kind == S_CONSOLE && strcmp(p->name, console) == 0)
            ok = p->ncovert > 0 &&
                 bsearch(&list_id, p->covert, p->ncovert, sizeof *p->covert, s_u32_cmp) != NULL;
    }
    pthread_mutex_unlock(&self->lock);
    return ok;
}

void zap_stats(zap_t *self, struct zap_stats *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->stats;
    pthread_mutex_unlock(&self->lock);
}
