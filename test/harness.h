/*
 * harness: what the integration tests share. Each test gets a database of its own in the
 * throw-away PostgreSQL that tools/anpr-test starts (ANPR_TEST_PGHOST/PGPORT/PGUSER), starts
 * the real anprd as a process on ipc:// endpoints in a temporary folder, learns it is ready
 * through the systemd notification protocol, and talks to it over real ZeroMQ sockets.
 * Every wait has a deadline; nothing sleeps and hopes.
 */
#ifndef ANPR_HARNESS_H
#define ANPR_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/* Exit code that tells meson a test was skipped. */
#define H_SKIP 77

struct h_db {
    char name[64];
    char admin_ci[512];  /* superuser connection string */
    char daemon_ci[512]; /* as the daemon's least-privileged role */
    PGconn *admin;       /* open superuser connection to the test database */
};

struct h_daemon {
    pid_t pid;
    char dir[64]; /* temporary folder: config, log, sockets */
    char conf_path[192];
    char log_path[192];
    char ingest_ep[192];
    char dispatch_ep[192];
    char covert_ep[192]; /* the covert lists' feed */
    int notify_fd;       /* our end of NOTIFY_SOCKET */
};

/* Fail the whole test with a message (setup problems, not assertions). */
void h_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Exit with H_SKIP unless the test database is configured. */
void h_require_env(void);

/* Fresh database `name`, migrated, with the daemon's login role. Dies on failure. */
void h_db_create(struct h_db *db, const char *name);
void h_db_close(struct h_db *db);

/* Run SQL as superuser; dies on error. */
void h_exec(PGconn *conn, const char *sql);
/*
 * To the daemon, the database goes down: its login role may no longer log in and its sessions
 * in db are ended (waits until they are gone; false if they are not within 60 s).
 * h_db_let_in undoes it. The role is the cluster's: tests that do this run one at a time.
 */
bool h_db_lock_out(const struct h_db *db);
void h_db_let_in(const struct h_db *db);

/* The conninfo of db for the login `user` (the test server trusts local logins), in a static
 * buffer; a connection as that login (dies on failure); the SQLSTATE of running sql on conn (""
 * when it worked; a static buffer); the same on a connection of its own as `user`. */
const char *h_conninfo_as(const struct h_db *db, const char *user);
PGconn *h_connect_as(const struct h_db *db, const char *user);
const char *h_sqlstate(PGconn *conn, const char *sql);
const char *h_sqlstate_as(const struct h_db *db, const char *user, const char *sql);

/* First column of the first row as a number; dies on error. */
long long h_query_ll(PGconn *conn, const char *sql);
/* Poll `sql` until it returns `want` or timeout_ms passes; returns the last value. */
long long h_wait_ll(PGconn *conn, const char *sql, long long want, int timeout_ms);
/* Reads a test put straight into anpr.plate_read get the identity rows anprd writes with every
 * read (anpr.read_identity, with the plate index of history); dies on error. */
void h_index_reads(PGconn *conn);
/* COPY text rows into a table (e.g. a temp table); dies on error. */
void h_copy_in(PGconn *conn, const char *copy_sql, const char *data, size_t len);

/*
 * Write a config (ipc endpoints in a fresh folder, the database of db, `extra` YAML appended
 * verbatim: it may hold whole sections the defaults do not have), start anprd, and wait up to
 * 15 s for READY=1. Returns 0, or -1 (the log is printed) when it exits or never gets ready.
 */
int h_daemon_start(struct h_daemon *d, const struct h_db *db, const char *extra);

/*
 * The same with more settings. The harness writes the sections ingest, dispatch, database,
 * log and metrics itself, and a key or section given twice is a config error, so keys of those
 * sections go in as lines inside them (indented by two spaces, each ending in a newline, e.g.
 * "  max_age_days: 30\n"); `extra` is appended verbatim as above. NULL fields add nothing.
 */
struct h_daemon_opts {
    const char *ingest;            /* lines added inside the ingest section */
    const char *database;          /* lines added inside the database section */
    const char *dispatch;          /* lines added inside the dispatch section */
    const char *extra;             /* YAML appended verbatim */
    bool tcp;                      /* readers connect over TCP on loopback, not ipc:// */
    const char *curve_secret_file; /* CURVE on with this key; NULL: insecure_plaintext */
    const char *log_level;         /* log.level ("warn": what an operator sees); NULL: info */
    const char *metrics;           /* metrics.listen; NULL = off (tests side by side would all
                                      want the default port) */
    int flush_interval_ms;         /* database.flush_interval_ms; 0: 2 */
};
int h_daemon_start_opts(struct h_daemon *d, const struct h_db *db,
                        const struct h_daemon_opts *opts);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int h_free_port(void);
/* Start it again with the same folder, configuration and endpoints (after a stop or a kill);
 * the previous run's log moves to anprd.log.N. 0, or -1 when it did not get ready. */
int h_daemon_restart(struct h_daemon *d);
/* The same in two steps: start it (no wait), then wait up to timeout_ms for READY=1 (0: look
 * once, silently). 0, or -1 (the log is printed unless it only was not ready at a look). */
void h_daemon_launch(struct h_daemon *d);
int h_daemon_wait_ready(struct h_daemon *d, int timeout_ms);
/* Send sig and wait up to timeout_ms; returns the exit status, 128+signal, or -1 on timeout
 * (then it is killed). */
int h_daemon_stop(struct h_daemon *d, int sig, int timeout_ms);
/*
 * The end of a test: stop the daemon with SIGTERM (20 s), then print its log when the test
 * failed so far or the stop did not exit 0, else remove its folder. Returns the exit status.
 */
int h_daemon_finish(struct h_daemon *d, int failed_so_far);

/* Print the daemon's log to stderr (after a failure). */
void h_daemon_dump_log(const struct h_daemon *d);
/* Whether the daemon's log contains `needle`. */
bool h_daemon_log_has(const struct h_daemon *d, const char *needle);
/* Poll the log until it contains `needle` or timeout_ms passes; whether it does. */
bool h_daemon_wait_log(const struct h_daemon *d, const char *needle, int timeout_ms);
/* How many times the log contains `needle` (e.g. "stats: frames=": stats lines so far). */
int h_daemon_log_count(const struct h_daemon *d, const char *needle);
/* The value of counter `key` (e.g. " hits=", with its '=') in the newest log line that has
 * it, or -1 when none has. */
long long h_daemon_stat(const struct h_daemon *d, const char *key);
/*
 * Remove the daemon's temporary folder (config, log, sockets, files a test put there); a test
 * calls it at the end when everything passed, so a failed run leaves the folder to look at.
 * With ANPR_TEST_KEEP set in the environment the folder is always kept. Stops the daemon first
 * if it still runs.
 */
void h_daemon_cleanup(struct h_daemon *d);
/* The one segment file (NNNNNNNNNNNNNNNNNNNN.seg) of the spool in dir, into path; false when
 * there is none or more than one. */
bool h_spool_segment(const char *dir, char *path, size_t cap);
/* Remove a folder and everything in it (unless ANPR_TEST_KEEP is set); 0 or -1. */
int h_rmtree(const char *dir);

/* Start a program with stdout (and stderr) to files (NULL = inherit); returns the pid. */
pid_t h_spawn(char *const argv[], const char *out_path, const char *err_path);
/* Wait for a child up to timeout_ms; exit status, 128+signal, or -1 on timeout (killed). */
int h_wait(pid_t pid, int timeout_ms);
/* Whole file into a static-lifetime malloc'd string ("" when missing). */
char *h_slurp(const char *path);

/* A valid read of `camera` with defaults (now, confidence 900, lane 1, towards). */
struct proto_read h_read(const char *camera, uint64_t seq, const char *plate, const char *country);

/* ZeroMQ helpers on one shared context. */
void *h_zmq_ctx(void);
void *h_dealer(const char *endpoint);
void *h_sub(const char *endpoint, const char *topic);
/* A recipient of the covert feed (a DEALER, covert.h) that asked for topic ("covert/" = every
 * list, "covert/<id>/" one). h_recv takes its HITs like a SUB's. */
void *h_covert(const char *endpoint, const char *topic);
void h_close(void *sock);

/* CURVE: a new key pair (Z85, NUL-terminated); a key written to a file as anprd and the tools
 * read it; a socket of `type` that is a CURVE client with key k towards server_pub (plain text
 * without k), subscribed to topic when not NULL, connected to endpoint. */
struct h_keypair {
    char pub[41], sec[41];
};
struct h_keypair h_keypair(void);
void h_write_key(const char *path, const char *z85);
void *h_curve_client(int type, const char *endpoint, const struct h_keypair *k,
                     const char *server_pub, const char *topic);

int h_send_read(void *sock, const struct proto_read *r);
/* Send n reads of camera (h_read, country BE) numbered from *seq on (advanced past them), each
 * plate `prefix` and the seq's last three digits; returns the first seq. */
uint64_t h_send_reads(void *sock, const char *camera, uint64_t *seq, size_t n, const char *prefix);
int h_send_raw(void *sock, const void *buf, size_t len);
/* Receive one frame (the last part of a message) within timeout_ms; length or -1. For a SUB
 * socket the topic part is skipped. */
int h_recv(void *sock, uint8_t *buf, size_t cap, int timeout_ms);

/*
 * HITs counted per plate off one or more feeds, as the re-announcement tests count them: how
 * many times a plate's HIT came and under which id. A HIT announced again must carry the id it
 * came with first; with two_ids, one other id is taken too (a resent read's alias). A HIT
 * under yet another id is counted in `wrong`.
 */
struct h_tally {
    const char *plate;
    bool two_ids;
    int n;
    uint64_t id, alias; /* the first id; with two_ids, the other */
    int wrong;
};

/* The tally of plate in t[0..nt), or NULL. */
struct h_tally *h_tally_find(struct h_tally *t, size_t nt, const char *plate);

/* Receive from subs[0..nsubs) (at most 4) until plate's tally reaches n or ms pass; whether it
 * did (a plate not in the tally: receive for ms, then false). */
bool h_tally_until(struct h_tally *t, size_t nt, void *const *subs, int nsubs, const char *plate,
                   int n, int ms);

/*
 * Receive HITs until the HIT of the fence read (`camera`, `fence_seq`) arrives; returns how
 * many other HITs came before it (the first `max` stored in hits[]), or -1 when it does not
 * come within timeout_ms. PUB keeps order, so the fence closes the set of HITs of the reads
 * sent before it. HITs of earlier fence reads (plate `fence_plate`: a probe whose HIT came
 * late) are skipped, neither taken for this fence nor counted.
 */
int h_collect_hits(void *sub, const char *camera, uint64_t fence_seq, const char *fence_plate,
                   struct proto_hit *hits, int max, int timeout_ms);

/*
 * A subscription takes a moment to reach the publisher: send reads of `fence_plate` (a listed
 * plate whose list alerts every time) from `camera`, numbered from *seq on, until one's HIT
 * comes back, at most 100 tries of 100 ms. True when the feed is live; *seq is advanced past
 * the reads sent.
 */
bool h_feed_live(void *dealer, void *sub, const char *camera, uint64_t *seq,
                 const char *fence_plate);

/*
 * Acknowledgement bookkeeping for reads of one camera and epoch (0 after h_acks_init; set it
 * for version 2 reads) sent by a test: wait until every seq in [first, first + n) is
 * acknowledged; REJECTs are stored in rejects[] (up to max_rejects). Returns how many of the n
 * were acknowledged.
 */
struct h_acks {
    uint32_t epoch;
    uint64_t first;
    size_t n;
    bool *acked;
    struct proto_reject *rejects;
    size_t nrejects, max_rejects;
};
void h_acks_init(struct h_acks *a, uint64_t first, size_t n, size_t max_rejects);
void h_acks_free(struct h_acks *a);
size_t h_acks_wait(struct h_acks *a, void *sock, const char *camera, int timeout_ms);
/* Wait for the next REJECT (ACKs in between are recorded); 0, or -1 on timeout. */
int h_wait_reject(struct h_acks *a, void *sock, const char *camera, struct proto_reject *out,
                  int timeout_ms);

#endif
