/*
 * fwd: the national-backbone forwarder. Ingest pushes each HIT (and, in "forward all reads"
 * mode, each read) into an outbound durable spool of its own; one forwarder thread sends the
 * spool's records over the backbone link (bbc, proto/BACKBONE.md) and checkpoints the spool up
 * to what the server acknowledged. An outage of the link or of the server loses nothing: the
 * records wait on disk (also across restarts) and are resent, oldest first, on every reconnect.
 *
 * Ids (BACKBONE.md 6.1). The id of a message is the spool position of its record (spool.h):
 * positions strictly increase in append order and are never given again to another durable
 * record, also across restarts and after a damaged tail was cut off. The record stores the frame
 * with a placeholder id; the thread writes the position in when it sends, so a message keeps its
 * id and its bytes across every resend. The epoch is kept in the file `epoch` of the spool
 * directory (decimal UTC microseconds and a newline, written atomically). fwd_new() makes a new
 * epoch, max(now, old epoch + 1), whenever the spool holds nothing (no segment, no checkpoint:
 * positions start again from 0) or the file is missing or unreadable, so a rebuilt or emptied
 * spool directory never reuses an id under an old epoch. A lost epoch file with records still
 * queued makes them go out again under a new epoch: the server may then store them twice
 * (BACKBONE.md 6.5), it never drops one.
 *
 * Order: the spool is first in, first out and the link sends in id order, so messages reach the
 * server in push order; ingest pushes in processing order, which is per-camera order.
 *
 * Threads: fwd_push_hit, fwd_push_read and fwd_commit belong to one producer thread (ingest);
 * they never touch the network nor wait for it. fwd_stats may be called from any thread.
 * fwd_new and fwd_destroy are not concurrent with anything. The program must ignore SIGPIPE.
 *
 * Logging: the producer calls never log (they return errors). The forwarder thread is the
 * daemon's, and says what happens to the link (subsystem "backbone"): every failed connect
 * and lost connection is a warning with bbc's reason (DNS, refused, timeout, the certificate
 * verdict, no shared cipher, a refused HELLO), at most one line per reason per minute with the
 * count of those held back; a connect is an info line with the server's certificate subject,
 * the TLS version and the cipher.
 *
 * Record format in the spool (little else to know to read a spool by hand): u8 format (1),
 * i64 big-endian append time (UTC µs), then the whole backbone HIT or READ frame with id 1 as a
 * placeholder.
 */
#ifndef ANPR_FWD_H
#define ANPR_FWD_H

#include "bb.h"
#include "proto.h"
#include "spool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FWD_EPOCH_FILE "epoch"

typedef struct fwd fwd_t;

/* Results of fwd_push_hit, fwd_push_read, fwd_commit. */
enum fwd_rc {
    FWD_OK = 0,
    /*
     * The outbound spool holds max_bytes not yet acknowledged by the server: the message was NOT
     * queued. Nothing is dropped silently: the caller must not acknowledge the read it came
     * from, so the camera keeps it and resends it; ingest matches the resent read again and
     * pushes its HIT again (the backbone sees the same (camera, seq, entry_id), BACKBONE.md 6.5).
     * Pushing again later is fine: FULL clears as soon as the server acknowledges and the
     * forwarder checkpoints.
     */
    FWD_FULL = 1,
    FWD_ERR = -1, /* err says why; what was pushed and not committed stays buffered */
};

struct fwd_opts {
    const char *spool_dir;  /* outbound spool, created if missing; not ingest's spool */
    uint64_t max_bytes;     /* unacknowledged bytes on disk before FWD_FULL (0: 1 GiB) */
    uint64_t segment_bytes; /* spool segment file size (0: spool default, 64 MiB) */
    const char *host;       /* backbone server: DNS name (verified, SNI) or IP address */
    const char *port;       /* service or port number */
    const char *ca_file;    /* CA that signs the server certificate (PEM) */
    const char *cert_file;  /* our client certificate chain (PEM) */
    const char *key_file;   /* its unencrypted key (PEM) */
    const char *crl_file;   /* CRL(s) for the server certificate (PEM); NULL or "": none */
    const char *instance;   /* our name in HELLO, 1..64 of [A-Za-z0-9._:-] */
    const char *software;   /* "anprd 0.1.0" when NULL */
    unsigned window;        /* most unacknowledged messages (0: 256) */
    int connect_timeout_ms; /* TCP + TLS + HELLO (0: 10000) */
    int io_timeout_ms;      /* one write or frame read (0: 10000) */
    int ack_timeout_ms;     /* oldest unacknowledged message waits longer: reconnect (0: 30000) */
    int backoff_min_ms;     /* first retry delay (0: 500) */
    int backoff_max_ms;     /* retry delay cap (0: 60000) */
};

/* A consistent-enough snapshot for metrics (each part is consistent in itself). */
struct fwd_stats {
    uint64_t epoch;          /* the id space in use (BACKBONE.md 6.1) */
    uint64_t queued_records; /* durable records not yet acknowledged and checkpointed */
    uint64_t queued_bytes;   /* their bytes on disk, headers included */
    uint64_t buffered;       /* pushed but not yet committed (fwd_commit) */
    int64_t oldest_age_us;   /* age of the oldest unacknowledged record (0: none, or unknown) */
    uint64_t pushed;         /* messages taken by fwd_push_* since start */
    uint64_t full;           /* pushes refused with FWD_FULL */
    uint64_t delivered;      /* messages the server acknowledged as stored (since start) */
    uint64_t sent;           /* frames written, resends included */
    uint64_t retried;        /* frames written again after a lost connection (this run; the
                                resends after a restart are not told apart) */
    uint64_t refused;        /* refused for good by the server (NACK with the id): never resent */
    uint64_t connects;       /* connections established */
    uint64_t failures;       /* failed connects and lost connections */
    uint64_t spool_errors;   /* failed spool reads, commits and checkpoints */
    uint64_t lost;           /* messages lost to damage of the spool, found at start (the start
                                report names them) or while running, as their sequence numbers
                                tell */
    uint64_t acked_id;       /* every id <= this is settled */
    bool connected;          /* a connection is up (HELLO exchanged) */
    char last_failure[512];  /* why the last connect or connection failed ("" none); never a
                                key or a passphrase */
    char last_refused[256];  /* id, reason and text of the last message refused ("" none) */
    char last_spool_error[256]; /* the last spool error ("" none) */
    char server[65];            /* the server's name from its HELLO */
    char tls_version[16];       /* "TLSv1.3" of the current or last connection */
};

/*
 * Open (create) the outbound spool in opts->spool_dir, choose the epoch (see above), create the
 * backbone client and start the forwarder thread. *report (may be NULL) says what the spool
 * recovery found, for the caller to log. NULL with err filled when the spool, the TLS files or
 * the options are unusable. Strings in opts are copied.
 */
fwd_t *fwd_new(const struct fwd_opts *opts, struct spool_report *report, char *err, size_t errlen);

/*
 * Stop the thread (promptly: within about a second, also while it connects or backs off),
 * close the link and the spool. Pushes not committed are dropped (never durable, never
 * acknowledged to a camera); everything committed and not acknowledged stays in the spool for
 * the next fwd_new. Safe on NULL and twice; sets *self_p to NULL.
 */
void fwd_destroy(fwd_t **self_p);

/*
 * Producer: queue one HIT (plate_norm: the plate as anprd normalised it; flags: BB_HIT_*, e.g.
 * BB_HIT_COVERT for a covert list's HIT) in memory; durable after the next fwd_commit. The list
 * name and the external reference are mended to what the backbone format carries (a control
 * character or a byte that is not UTF-8 becomes U+FFFD): such a text never keeps a HIT back.
 * Whether a list's HITs go at all is the caller's to decide (wl_list_opts.backbone_off).
 * FWD_OK; FWD_FULL (see enum fwd_rc); FWD_ERR with err: the HIT does not fit the backbone
 * format otherwise (a bug upstream: retrying will not help, log and go on) or out of memory.
 */
int fwd_push_hit(fwd_t *self, const struct proto_hit *hit, const char *plate_norm, unsigned flags,
                 char *err, size_t errlen);

/* Producer: the same for a plate read, in "forward all reads" mode. */
int fwd_push_read(fwd_t *self, const struct proto_read *read, const char *plate_norm, char *err,
                  size_t errlen);

/*
 * Producer: make everything pushed so far durable (group commit: one fdatasync for the batch);
 * call it once per ingest batch, before acknowledging the reads whose HITs were pushed. The
 * forwarder thread only ever sees committed records. FWD_OK, or FWD_ERR with err (a full or
 * failing disk): nothing of the batch is durable, the records stay buffered and the next
 * fwd_commit writes them again; until then the reads they came from must not be acknowledged.
 */
int fwd_commit(fwd_t *self, char *err, size_t errlen);

/* Any thread. */
void fwd_stats(fwd_t *self, struct fwd_stats *out);

#endif
