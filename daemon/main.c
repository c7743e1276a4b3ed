/*
 * anprd: takes plate reads from camera readers over ZeroMQ, matches each against the watchlists
 * held in memory, publishes HITs for the dispatch room at once, and stores every read in
 * PostgreSQL before acknowledging it. See anprd(8).
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "config.h"
#include "conf.h"
#include "curve.h"
#include "conffiles.h"
#include "db.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "snap.h"
#include "util.h"
#include "zap.h"

/* Exit codes, documented in anprd(8). */
enum {
    EXIT_CONFIG = 1,   /* configuration invalid */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_DATABASE = 3, /* the database answered at start but refused what anprd needs (schema,
                          privileges, no CURVE key); unreachable is waited for, not an exit */
    EXIT_SOCKET = 4,   /* an endpoint could not be bound */
    EXIT_INTERNAL = 5, /* out of memory or a thread could not start */
    EXIT_SPOOL = 6,    /* a spool (reads or backbone) cannot be opened, or the backbone's TLS
                          files are unusable */
    EXIT_INSTANCE = 7, /* another anprd holds this dispatch.instance on the database */
};

/* A refused instance lock is tried again this long at start: a killed anprd's session ends
 * once PostgreSQL sees its connection closed, which may take a moment. */
#define MAIN_CLAIM_GRACE_MS 3000

/* How long a stopping daemon waits for the database to take what it has accepted. */
#define MAIN_DRAIN_MS 10000

/* While waiting for the database at start: the same line at most this often. */
#define MAIN_WAIT_LOG_US (60 * 1000000LL)

static volatile sig_atomic_t main_stop;
static volatile sig_atomic_t main_reload;

static void s_on_stop(int sig)
{
    (void)sig;
    main_stop = 1;
}

static void s_on_hup(int sig)
{
    (void)sig;
    main_reload = 1;
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: anprd [--config FILE] [--check-config] [--version] [--help]\n"
            "\n"
            "ANPR hit-matching daemon: camera reads in over ZeroMQ, matched against the\n"
            "PostgreSQL watchlists in memory, HITs published to dispatch, every read stored.\n"
            "\n"
            "  -c, --config FILE   configuration file (default %s/anprd.yaml)\n"
            "  -n, --check-config  validate the configuration and the files and directories it\n"
            "                      names (readable; spools writable) as this user, print\n"
            "                      every error, and exit\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          this text\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop after storing what was accepted; SIGHUP reloads the\n"
            "configuration, the cameras and the watchlists (a bad configuration is refused and\n"
            "the running one kept).\n"
            "Exit codes: 0 ok, 1 configuration, 2 usage, 3 database refused (schema,\n"
            "privileges, keys; an unreachable one is waited for), 4 socket, 5 internal, 6 spool.\n"
            "With the spool on and the database down, anprd starts from its local copy of\n"
            "the watchlists, cameras and keys in spool.dir.\n",
            ANPR_SYSCONFDIR);
}

static struct conf *s_load_conf(const char *path)
{
    char *errors = NULL;
    struct conf *conf = conf_load(path, &errors);

    if (!conf) {
        /* Every error on its own line, as file:line:column: key: message. */
        fprintf(stderr, "%s", errors ? errors : "out of memory\n");
        if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
        free(errors);
    }
    return conf;
}

/*
 * At start: load cameras and watchlist, and check what the writer will need, so a missing
 * privilege stops the daemon with a clear message instead of a stall: creating the partitions
 * and the writer's temporary tables. 0; 1 when the database cannot be reached (or is lost on
 * the way; the reason in why, not logged: the caller waits and says it at its pace); -1 when
 * it answered with an error (logged); -2 when another anprd holds dispatch.instance (logged).
 * Nothing is returned unless 0. The instance is checked here, before anything is bound; the
 * sync thread holds it from then on (sync.h).
 */
static int s_load_data(const struct conf *conf, cam_table_t **cams, wl_t **wl, int64_t *version,
                       struct rid_entry **ids, size_t *nids, uint64_t *last_hit_id,
                       int *retention_days, char *why, size_t whylen)
{
    struct db_error err;
    size_t skipped = 0;
    int32_t today = batch_day(util_now_us());
    int64_t t0 = util_mono_us();
    PGconn *conn = db_connect(conf->database.conninfo, "anprd", &err);
    int rc = -1, claim = -1; /* claim 0: this session holds dispatch.instance's lock */

    if (!conn) {
        snprintf(why, whylen, "%s", err.msg);
        return 1;
    }
    if (db_ensure_partitions(conn, today - 1, today + conf->database.partitions_ahead_days, &err) !=
            0 ||
        db_prepare_writer(conn, &err) != 0) {
        log_error("db", "%s", err.msg);
        goto out;
    }
    char who[512];
    for (int64_t until = util_mono_us() + MAIN_CLAIM_GRACE_MS * 1000LL;;) {
        claim = db_claim_instance(conn, (unsigned)conf->dispatch.instance, who, sizeof who, &err);
        if (claim != 1 || util_mono_us() >= until)
            break;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (claim < 0) {
        log_error("db", "%s", err.msg);
        goto out;
    }
    if (claim > 0) {
        log_error("main",
                  "dispatch.instance %d is taken: another anprd holds it on this database (%s). "
                  "Instances sharing a database need different numbers (they are part of every "
                  "HIT id); not starting",
                  conf->dispatch.instance, who);
        rc = -2;
        goto out;
    }
    /* The newest reads' identities, so a resend that comes after a restart is still known. */
    if (db_max_hit_id(conn, (unsigned)conf->dispatch.instance, last_hit_id, &err) != 0 ||
        db_load_identities(conn, INGEST_IDS_AT_START, ids, nids, &err) != 0 ||
        db_load_retention(conn, retention_days, &err) != 0 ||
        db_load_cameras(conn, cams, &err) != 0) {
        log_error("db", "%s", err.msg);
        goto out;
    }
    if (db_load_watchlist(conn, conf->matcher.ocr_classes, wl, &skipped, version, &err) != 0) {
        log_error("db", "%s", err.msg);
        cam_table_destroy(cams);
        goto out;
    }
    log_info("db",
             "loaded %zu cameras, %zu watchlists with %zu entries (%zu skipped), version %" PRId64
             ", reads kept %d days, in %.0f ms",
             cam_table_count(*cams), wl_list_count(*wl), wl_entry_count(*wl), skipped, *version,
             *retention_days, (double)(util_mono_us() - t0) / 1000.0);
    rc = 0;
out:
    if (rc == -1 && PQstatus(conn) != CONNECTION_OK) {
        snprintf(why, whylen, "connection lost while loading");
        free(*ids);
        *ids = NULL;
        *nids = 0;
        rc = 1;
    }
    if (claim == 0 && PQstatus(conn) == CONNECTION_OK)
        db_release_instance(conn, (unsigned)conf->dispatch.instance);
    PQfinish(conn);
    return rc;
}

/*
 * The local copy of the start data (snap.h), for a start without the database: 0, or -1 (said
 * in the log: a copy refused names its reason, so an operator knows it is not used).
 */
static int s_load_copy(const struct conf *conf, cam_table_t **cams, wl_t **wl, int64_t *version,
                       uint64_t *last_hit_id, int *retention_days)
{
    char err[512];
    struct snap_site site = {0};
    int64_t t0 = util_mono_us();
    int r = snap_read_site(conf->spool.dir, cams, &site, err, sizeof err);

    if (r == 0 && (r = snap_read_watchlist(conf->spool.dir, conf->matcher.ocr_classes, wl, version,
                                           err, sizeof err)) != 0)
        cam_table_destroy(cams);
    if (r != 0) {
        if (r > 0)
            log_warn("main", "no local copy of the watchlists to start from (%s)", err);
        else
            log_error("main", "%s; not used", err);
        return -1;
    }
    *last_hit_id = site.last_hit_id;
    *retention_days = site.retention_days;
    log_warn("main",
             "database unreachable: starting from the local copy in %s: %zu cameras, %zu "
             "watchlists with %zu entries, version %" PRId64 ", loaded in %.0f ms; reads are "
             "spooled until the database comes",
             conf->spool.dir, cam_table_count(*cams), wl_list_count(*wl), wl_entry_count(*wl),
             *version, (double)(util_mono_us() - t0) / 1000.0);
    return 0;
}

/*
 * After a load from the database: the copy of the cameras a start without it would use (the
 * sync thread copies the watchlist, off the start's path: it may be millions of entries).
 * Failing is a warning.
 */
static void s_save_copy(const struct conf *conf, const cam_table_t *cams, uint64_t last_hit_id,
                        int retention_days)
{
    char err[512];
    struct snap_site site = {.retention_days = retention_days, .last_hit_id = last_hit_id};

    if (!conf->spool.dir[0])
        return;
    if (snap_write_site(conf->spool.dir, cams, &site, err, sizeof err) != 0)
        log_warn("main", "%s; a start without the database would use an older copy or none", err);
}

/* Sleep up to ms, or less once *stop is set; the watchdog (if any) is fed every second. */
static void s_nap(int ms, volatile sig_atomic_t *stop)
{
    bool watchdog = notify_watchdog_us() > 0;

    for (int left = ms, n = 0; left > 0 && !*stop; left -= 100, n++) {
        struct timespec ts = {0, (left > 100 ? 100 : left) * 1000000L};
        nanosleep(&ts, NULL);
        if (watchdog && n % 10 == 0)
            notify_send("WATCHDOG=1");
    }
}

/*
 * What start needs: from the database; when it cannot be reached and the spool is on, from the
 * local copy; else wait for it (the writer and sync reconnect by themselves once serving, so
 * only this first load waits). 0, 1 stopped by a signal meanwhile, -1 the database refused
 * (logged), -2 another anprd holds dispatch.instance (logged). *from_copy says where the data came
 * from.
 */
static int s_start_data(const struct conf *conf, cam_table_t **cams, wl_t **wl, int64_t *version,
                        struct rid_entry **ids, size_t *nids, uint64_t *last_hit_id,
                        int *retention_days, bool *from_copy)
{
    char why[512];
    bool copy_tried = false;
    int backoff_ms = 500, waits = 0;
    int64_t next_log = 0;

    *from_copy = false;
    for (;;) {
        int r = s_load_data(conf, cams, wl, version, ids, nids, last_hit_id, retention_days, why,
                            sizeof why);
        if (r <= 0) {
            if (r == 0)
                s_save_copy(conf, *cams, *last_hit_id, *retention_days);
            if (r == 0 && waits > 0)
                log_info("main", "database reachable after %d tries; starting", waits + 1);
            return r;
        }
        if (conf->spool.dir[0] && !copy_tried) {
            copy_tried = true;
            log_warn("db", "database unreachable: %s", why);
            if (s_load_copy(conf, cams, wl, version, last_hit_id, retention_days) == 0) {
                *from_copy = true;
                return 0;
            }
        }
        waits++;
        if (util_mono_us() >= next_log) {
            log_error("main",
                      "database unreachable (%s); waiting for it before taking reads (%s); "
                      "tried %d times, retrying with backoff up to %d ms",
                      why,
                      conf->spool.dir[0] ? "no usable local copy of the watchlists"
                                         : "no spool: a read is acknowledged once stored",
                      waits, conf->database.reconnect_max_ms);
            next_log = util_mono_us() + MAIN_WAIT_LOG_US;
            notify_send("STATUS=waiting for the database");
        }
        s_nap(backoff_ms, &main_stop);
        if (main_stop)
            return 1;
        backoff_ms = backoff_ms * 2 > conf->database.reconnect_max_ms
                         ? conf->database.reconnect_max_ms
                         : backoff_ms * 2;
    }
}

/*
 * Every socket authenticates its peers by CURVE unless the config says plain text by name:
 * read anprd's secret key now, so a missing or broken key is a config error (also with
 * --check-config). 0 or -1 (said on stderr).
 */
static int s_check_curve(const struct conf *conf, char secret[CURVE_Z85 + 1],
                         char public_z85[CURVE_Z85 + 1])
{
    char err[512];

    if (conf->curve.insecure_plaintext)
        return 0;
    if (!conf->curve.secret_file[0]) {
        fprintf(stderr,
                "%s: curve.secret_file: required (anprd's CURVE secret key, made by "
                "anpr-keygen), unless curve.insecure_plaintext is true\n",
                conf->path);
        return -1;
    }
    if (curve_read_secret(conf->curve.secret_file, secret, public_z85, err, sizeof err) != 0) {
        fprintf(stderr, "%s: curve.secret_file: %s\n", conf->path, err);
        return -1;
    }
    return 0;
}

static void s_swap(char **a, char **b)
{
    char *t = *a;

    *a = *b;
    *b = t;
}

/* SIGHUP: a new config if it is valid, then fresh cameras and lists if the database answers. */
static void s_reload(ingest_t *ingest, struct conf **conf, const char *path)
{
    struct conf *fresh = s_load_conf(path);
    cam_table_t *cams = NULL;

    if (!fresh) {
        log_error("main", "reload: %s has errors (above); keeping the running configuration", path);
    } else {
        if (strcmp(fresh->ingest.endpoint, (*conf)->ingest.endpoint) != 0 ||
            strcmp(fresh->dispatch.endpoint, (*conf)->dispatch.endpoint) != 0 ||
            strcmp(fresh->dispatch.covert_endpoint, (*conf)->dispatch.covert_endpoint) != 0 ||
            strcmp(fresh->database.conninfo, (*conf)->database.conninfo) != 0 ||
            strcmp(fresh->spool.dir, (*conf)->spool.dir) != 0 ||
            fresh->spool.max_mb != (*conf)->spool.max_mb ||
            strcmp(fresh->backbone.host, (*conf)->backbone.host) != 0 ||
            fresh->backbone.port != (*conf)->backbone.port ||
            strcmp(fresh->backbone.ca_file, (*conf)->backbone.ca_file) != 0 ||
            strcmp(fresh->backbone.cert_file, (*conf)->backbone.cert_file) != 0 ||
            strcmp(fresh->backbone.key_file, (*conf)->backbone.key_file) != 0 ||
            strcmp(fresh->backbone.crl_file, (*conf)->backbone.crl_file) != 0 ||
            strcmp(fresh->backbone.instance, (*conf)->backbone.instance) != 0 ||
            strcmp(fresh->backbone.spool_dir, (*conf)->backbone.spool_dir) != 0 ||
            fresh->backbone.max_mb != (*conf)->backbone.max_mb ||
            fresh->backbone.forward_reads != (*conf)->backbone.forward_reads ||
            strcmp(fresh->curve.secret_file, (*conf)->curve.secret_file) != 0 ||
            fresh->curve.insecure_plaintext != (*conf)->curve.insecure_plaintext ||
            strcmp(fresh->metrics.listen, (*conf)->metrics.listen) != 0)
            log_warn("main", "reload: endpoint, database, spool, backbone, curve and metrics "
                             "changes take effect at restart");
        /* The peers' feeds are connected at start (peer.h). */
        bool peers_differ = fresh->cluster.npeers != (*conf)->cluster.npeers;
        for (size_t i = 0; !peers_differ && i < fresh->cluster.npeers; i++)
            peers_differ = strcmp(fresh->cluster.peers[i], (*conf)->cluster.peers[i]) != 0;
        if (peers_differ)
            log_warn("main", "reload: cluster.peers changes take effect at restart");
        char **peers = fresh->cluster.peers;
        size_t npeers = fresh->cluster.npeers;
        fresh->cluster.peers = (*conf)->cluster.peers;
        fresh->cluster.npeers = (*conf)->cluster.npeers;
        (*conf)->cluster.peers = peers;
        (*conf)->cluster.npeers = npeers;
        /* The instance is in every HIT id; the id generator keeps the one it started with. */
        if (fresh->dispatch.instance != (*conf)->dispatch.instance)
            log_warn("main",
                     "reload: dispatch.instance %d takes effect at restart; HIT ids keep "
                     "instance %d until then",
                     fresh->dispatch.instance, (*conf)->dispatch.instance);
        /* Keep the settings that need a restart as they are running. */
        s_swap(&fresh->ingest.endpoint, &(*conf)->ingest.endpoint);
        s_swap(&fresh->dispatch.endpoint, &(*conf)->dispatch.endpoint);
        s_swap(&fresh->dispatch.covert_endpoint, &(*conf)->dispatch.covert_endpoint);
        s_swap(&fresh->database.conninfo, &(*conf)->database.conninfo);
        s_swap(&fresh->spool.dir, &(*conf)->spool.dir);
        fresh->spool.max_mb = (*conf)->spool.max_mb;
        fresh->dispatch.instance = (*conf)->dispatch.instance;
        /* The forwarder runs with the backbone settings it started with (forward_reads too). */
        s_swap(&fresh->backbone.host, &(*conf)->backbone.host);
        s_swap(&fresh->backbone.ca_file, &(*conf)->backbone.ca_file);
        s_swap(&fresh->backbone.cert_file, &(*conf)->backbone.cert_file);
        s_swap(&fresh->backbone.key_file, &(*conf)->backbone.key_file);
        s_swap(&fresh->backbone.crl_file, &(*conf)->backbone.crl_file);
        s_swap(&fresh->backbone.instance, &(*conf)->backbone.instance);
        s_swap(&fresh->backbone.spool_dir, &(*conf)->backbone.spool_dir);
        s_swap(&fresh->metrics.listen, &(*conf)->metrics.listen);
        fresh->backbone.port = (*conf)->backbone.port;
        fresh->backbone.max_mb = (*conf)->backbone.max_mb;
        fresh->backbone.forward_reads = (*conf)->backbone.forward_reads;
        /* The sockets keep the CURVE setting and key they were made with. */
        s_swap(&fresh->curve.secret_file, &(*conf)->curve.secret_file);
        fresh->curve.insecure_plaintext = (*conf)->curve.insecure_plaintext;
        ingest_set_conf(ingest, fresh);
        conf_destroy(conf);
        *conf = fresh;
        log_set_level(fresh->log.level);
        log_info("main", "reload: configuration applied");
    }
    /* Cameras here (a few rows); the watchlist, which may be millions of entries, is rebuilt
     * by the sync thread, so taking reads never pauses for it. */
    struct db_error err;
    PGconn *conn = db_connect((*conf)->database.conninfo, "anprd", &err);
    int retention_days = 0;
    if (conn && db_load_retention(conn, &retention_days, &err) != 0)
        log_error("main", "reload: %s; keeping the retention in use", err.msg);
    else if (conn)
        ingest_set_retention(ingest, retention_days);
    if (!conn || db_load_cameras(conn, &cams, &err) != 0) {
        log_error("main", "reload: %s; keeping the cameras and watchlists in use", err.msg);
    } else {
        log_info("main", "reload: loaded %zu cameras; the watchlist is being rebuilt",
                 cam_table_count(cams));
        uint64_t last_hit_id = 0;
        /* The cameras' copy for a start without the database (the sync thread copies the
         * watchlist it rebuilds). */
        if (retention_days > 0 &&
            db_max_hit_id(conn, (unsigned)(*conf)->dispatch.instance, &last_hit_id, &err) == 0)
            s_save_copy(*conf, cams, last_hit_id, retention_days);
        ingest_set_cameras(ingest, &cams);
        if (ingest_resync(ingest, (*conf)->matcher.ocr_classes) != 0)
            log_error("main", "reload: the watchlist rebuild could not be requested");
    }
    PQfinish(conn);
}

/* Serve the Prometheus endpoint of conf, fed by ingest. 0, or -1 (logged; *rc says why). */
static int s_metrics_start(const struct conf *conf, ingest_t *ingest, metrics_t **metrics, int *rc)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    bool loopback = false;
    char err[512];

    conf_listen_parse(conf->metrics.listen, &addr, &alen, &loopback);
    *metrics = metrics_new(conf->metrics.listen, err, sizeof err);
    if (!*metrics) {
        log_error("main", "metrics: %s", err);
        *rc = strstr(err, "cannot bind") ? EXIT_SOCKET : EXIT_INTERNAL;
        return -1;
    }
    if (ingest_set_metrics(ingest, *metrics) != 0) {
        log_error("main", "metrics: out of memory");
        *rc = EXIT_INTERNAL;
        return -1;
    }
    /* The port is said on its own too: with port 0 it is the one the system gave. */
    log_info("main", "metrics: serving GET /metrics on %s (port %d)", conf->metrics.listen,
             metrics_port(*metrics));
    if (!loopback)
        log_warn("main",
                 "metrics: %s is not a loopback address: anyone who can reach port %d can read "
                 "the counters; restrict it with a firewall",
                 conf->metrics.listen, metrics_port(*metrics));
    return 0;
}

/*
 * The ZAP handler, with the CURVE key set from the database or, when it cannot be reached and
 * the spool is on, from the local copy; without either, wait for the database. 0; -1 when it
 * refused (logged) or a signal stopped the wait (main_stop set).
 */
static int s_zap_start(const struct conf *conf, void *ctx, zap_t **zap)
{
    char err[512];
    int backoff_ms = 500, waits = 0;
    int64_t next_log = 0;

    for (;;) {
        struct db_error dberr;
        *zap = zap_new(ctx, conf->database.conninfo, conf->database.reconnect_max_ms,
                       conf->spool.dir[0] ? conf->spool.dir : NULL, err, sizeof err);
        if (*zap)
            return 0;
        PGconn *probe = db_connect(conf->database.conninfo, "anprd", &dberr);
        if (probe) {
            /* It answers: the keys themselves are the problem. */
            PQfinish(probe);
            log_error("main", "curve: %s", err);
            return -1;
        }
        waits++;
        if (util_mono_us() >= next_log) {
            log_error("main",
                      "curve: %s; waiting for the database before taking reads; tried %d "
                      "times",
                      err, waits);
            next_log = util_mono_us() + MAIN_WAIT_LOG_US;
            notify_send("STATUS=waiting for the database (CURVE keys)");
        }
        s_nap(backoff_ms, &main_stop);
        if (main_stop)
            return -1;
        backoff_ms = backoff_ms * 2 > conf->database.reconnect_max_ms
                         ? conf->database.reconnect_max_ms
                         : backoff_ms * 2;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'n'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = ANPR_SYSCONFDIR "/anprd.yaml";
    int check = 0, c, rc = EXIT_INTERNAL;
    struct conf *conf = NULL;
    struct rid_entry *ids = NULL; /* identities of the newest reads stored, for ingest */
    size_t nids = 0;
    cam_table_t *cams = NULL;
    wl_t *wl = NULL;
    int64_t version = 0;
    uint64_t last_hit_id = 0;
    int retention_days = 0;
    bool from_copy = false; /* started from the local copy: the database was unreachable */
    void *ctx = NULL;
    ingest_t *ingest = NULL;
    metrics_t *metrics = NULL;
    char err[512];
    struct sigaction sa;
    zap_t *zap = NULL;
    char curve_secret[CURVE_Z85 + 1] = "", curve_public[CURVE_Z85 + 1] = "";

    while ((c = getopt_long(argc, argv, "c:nVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check = 1;
            break;
        case 'V':
            printf("anprd %s\n", ANPR_VERSION);
            return 0;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "anprd: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return EXIT_USAGE;
    }

    log_detect_journal();
    conf = s_load_conf(path);
    if (!conf)
        return EXIT_CONFIG;
    if (check) {
        char *errors = NULL;

        /* The files it names, as this user: under systemd ExecStartPre runs as anprd's; then
         * the CURVE key itself. */
        if (conffiles_check(path, &errors) != 0) {
            fputs(errors ? errors : "anprd: out of memory\n", stderr);
            free(errors);
            conf_destroy(&conf);
            return EXIT_CONFIG;
        }
        int bad = s_check_curve(conf, curve_secret, curve_public);
        explicit_bzero(curve_secret, sizeof curve_secret);
        conf_destroy(&conf);
        if (bad != 0)
            return EXIT_CONFIG;
        printf("%s: configuration OK\n", path);
        return 0;
    }
    if (s_check_curve(conf, curve_secret, curve_public) != 0) {
        conf_destroy(&conf);
        return EXIT_CONFIG;
    }
    log_set_level(conf->log.level);
    log_info("main", "anprd %s starting with %s", ANPR_VERSION, path);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    notify_send("STATUS=loading");
    int started = s_start_data(conf, &cams, &wl, &version, &ids, &nids, &last_hit_id,
                               &retention_days, &from_copy);
    if (started != 0) {
        rc = started > 0 ? 0 : started == -2 ? EXIT_INSTANCE : EXIT_DATABASE;
        goto out;
    }
    ctx = zmq_ctx_new();
    if (!ctx) {
        log_error("main", "zmq_ctx_new: %s", zmq_strerror(errno));
        goto out;
    }
    /* The ZAP handler answers before any CURVE socket binds: without it libzmq would let
     * every key in. */
    if (conf->curve.insecure_plaintext) {
        log_warn("main", "curve.insecure_plaintext is true: no authentication and no encryption "
                         "on any ZeroMQ socket; anyone who reaches them can send reads and "
                         "receive every HIT");
    } else {
        if (s_zap_start(conf, ctx, &zap) != 0) {
            rc = main_stop ? 0 : EXIT_DATABASE;
            goto out;
        }
        log_info("main", "curve: on; anprd's public key is %s", curve_public);
    }
    struct ingest_curve curve = {.zap = zap, .secret_z85 = curve_secret};
    ingest = ingest_new(ctx, conf, &cams, &wl, version, last_hit_id, zap ? &curve : NULL, err,
                        sizeof err);
    if (!ingest) {
        log_error("main", "%s", err);
        rc = strstr(err, "cannot bind") ? EXIT_SOCKET
             : strncmp(err, "spool: ", 7) == 0 || strncmp(err, "backbone: ", 10) == 0
                 ? EXIT_SPOOL
                 : EXIT_INTERNAL;
        goto out;
    }
    ingest_set_retention(ingest, retention_days);
    ingest_note_identities(ingest, ids, nids);
    free(ids);
    ids = NULL;
    if (conf->metrics.listen[0] && s_metrics_start(conf, ingest, &metrics, &rc) != 0)
        goto out;
    log_info("main", "ready: readers on %s, dispatch feed on %s%s", conf->ingest.endpoint,
             conf->dispatch.endpoint,
             from_copy ? "; without the database (reads are spooled until it comes)" : "");
    notify_send(from_copy ? "READY=1\nSTATUS=serving without the database"
                          : "READY=1\nSTATUS=serving");

    for (;;) {
        enum ingest_event ev = ingest_run(ingest, &main_stop, &main_reload);
        if (ev == INGEST_RELOAD) {
            main_reload = 0;
            notify_send("RELOADING=1");
            s_reload(ingest, &conf, path);
            notify_send("READY=1");
            continue;
        }
        rc = ev == INGEST_STOP ? 0 : ev == INGEST_REFUSED ? EXIT_INSTANCE : EXIT_INTERNAL;
        break;
    }
    notify_send("STOPPING=1");
    log_info("main", "stopping");
out:
    free(ids);
    ingest_destroy(&ingest, MAIN_DRAIN_MS);
    zap_destroy(&zap);
    explicit_bzero(curve_secret, sizeof curve_secret);
    metrics_destroy(&metrics);
    cam_table_destroy(&cams);
    wl_destroy(&wl);
    if (ctx)
        zmq_ctx_term(ctx);
    conf_destroy(&conf);
    return rc;
}
