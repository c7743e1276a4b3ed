/*
 * conf: the anprd configuration file (YAML, libyaml), documented in anprd.yaml.5.
 *
 * conf_load() parses into a fresh struct and validates everything; it reports every error, not
 * only the first, each as "file:line:column: key: message" (line and column count from 1), and
 * returns NULL when there was any. A caller reloading on SIGHUP keeps its old struct when the
 * new one fails. The module never logs and never exits.
 */
#ifndef ANPR_CONF_H
#define ANPR_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "log.h"

struct conf {
    char *path; /* file it was read from (owned) */

    struct {
        char *endpoint;  /* ZeroMQ endpoint the ROUTER binds, e.g. "tcp://0.0.0.0:5555" */
        int max_pending; /* reads accepted but not yet stored before ingest pauses (back-pressure)
                          */
        int max_future_skew_s; /* reads stamped further in the future are refused */
        int max_age_days;      /* reads older than this are refused (retention) */
        int peer_rate_per_s;   /* reads a second one connection may send on average (0: any) */
        int peer_burst;        /* ... and at once */
    } ingest;

    struct {
        char *endpoint;        /* ZeroMQ endpoint the HIT PUB socket binds */
        char *covert_endpoint; /* PUB for HITs of covert lists only; "" = covert HITs are stored,
                                  never published */
        int instance; /* 0..1023, part of every HIT id: instances sharing a database differ */
        int reannounce_priority; /* HITs of this priority or more urgent are announced again */
        int reannounce_s;        /* ... every this many seconds until acknowledged (0: never) */
        int heartbeat_s;         /* a HEARTBEAT on the feed every this many seconds (0: none) */
        int camera_silent_min;   /* a camera with no frame for this long is silent (heartbeat) */
    } dispatch;

    struct {
        char *conninfo;            /* libpq connection string; may hold a password: never log */
        int batch_size;            /* reads per COPY batch at most */
        int flush_interval_ms;     /* a partial batch is written after this long */
        int reconnect_max_ms;      /* upper bound of the reconnect backoff */
        int partitions_ahead_days; /* daily plate_read partitions created ahead of today */
    } database;

    struct {
        char *ocr_classes; /* OCR-equivalence classes, e.g. "0ODQ,1IL,2Z,5S,6G,8B" */
    } matcher;

    struct {
        char *dir;  /* write-ahead spool directory (absolute); "" = no spool: a read is
                       acknowledged once committed in PostgreSQL */
        int max_mb; /* MiB of spool files on disk before ingest stops acknowledging */
    } spool;

    struct {
        char *host;        /* national ANPR server (DNS name or address); "" = no forwarding */
        int port;          /* its TCP port */
        char *ca_file;     /* CA certificate(s) that sign the server's certificate (PEM) */
        char *cert_file;   /* our client certificate chain (PEM) */
        char *key_file;    /* its key (PEM, unencrypted: readable by anprd only) */
        char *crl_file;    /* CRL(s) of the server's CA (PEM), checked at load; "" = none */
        char *instance;    /* our name towards the server, [A-Za-z0-9._:-]{1,64} */
        char *spool_dir;   /* the outbound spool (absolute), not spool.dir */
        int max_mb;        /* MiB of outbound spool files on disk */
        int forward_reads; /* 1: every read is forwarded too, not only HITs */
    } backbone;

    struct {
        char *secret_file;      /* anprd's CURVE secret key (one line of Z85, anpr-keygen) */
        int insecure_plaintext; /* 1: no CURVE on any socket (anyone may connect; warned) */
    } curve;

    struct {
        char **peers;  /* the dispatch feeds of the other anprd instances on this database
                          (ZeroMQ endpoints to connect to); read at start only */
        size_t npeers; /* how many; 0 = none */
    } cluster;

    struct {
        char *listen; /* "address:port" of the Prometheus endpoint (an IP address, IPv6 in
                         brackets; port 0 = any free port); "" = off */
    } metrics;

    struct {
        enum log_level level;      /* least severe level written */
        int stats_interval_s;      /* counters are logged this often; 0 = never */
        int reject_log_interval_s; /* one log line per reject reason per interval */
    } log;
};

/*
 * Read and validate `path`. On success returns the config and sets *errors to NULL. On failure
 * returns NULL and sets *errors to a malloc'd text, one error per line (caller frees).
 */
struct conf *conf_load(const char *path, char **errors);

/* Same, from a buffer; `name` stands for the file name in messages. */
struct conf *conf_parse(const char *name, const char *text, size_t len, char **errors);

/*
 * Parse a metrics.listen value ("127.0.0.1:9105", "[::1]:9105"; an IP address, never a name,
 * so nothing is looked up at start) into *addr and *len, and say whether it is a loopback
 * address. NULL, or what is wrong with it (a static text).
 */
const char *conf_listen_parse(const char *text, struct sockaddr_storage *addr, socklen_t *len,
                              bool *loopback);

/* Free a config; safe on NULL and twice (sets *conf_p to NULL). */
void conf_destroy(struct conf **conf_p);

#endif
