/*
 * batch: reads accepted by ingest on their way to PostgreSQL. Ingest formats each read (and its
 * hits) as COPY text rows, so the writer only streams bytes; each read also leaves an ack record
 * saying which reader to acknowledge once the batch is committed.
 */
#ifndef ANPR_BATCH_H
#define ANPR_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plate.h"
#include "proto.h"
#include "wl.h"

#define BATCH_ID_MAX 32 /* longest ZeroMQ routing id we keep; longer peers are refused */

/* The columns of the COPY rows batch_add() writes, in their order. */
#define BATCH_READ_COLUMNS                                                                         \
    "read_time, camera_id, epoch, seq, plate, plate_raw, country, confidence, lane, direction, "   \
    "latitude, longitude, image_ref, candidates, cand_conf, received_at"
#define BATCH_HIT_COLUMNS                                                                          \
    "camera_id, epoch, seq, read_time, plate, entry_id, list_id, priority, category, "             \
    "match_kind, reading, nsubst, detail, suppressed, covert, hit_id"
/* The columns of the identity rows (anpr.read_identity) batch_id_rows() writes: the identity,
 * its time and digest, and the normalised plate (the plate index of history, migration 016). */
#define BATCH_ID_COLUMNS "camera_id, epoch, seq, read_us, digest, plate"

/* What the writer found for a read (batch_ack.fate). */
enum batch_fate {
    BATCH_STORED = 0,   /* stored now */
    BATCH_RESENT = 1,   /* stored already with the same content: acknowledged, not alerted */
    BATCH_CONFLICT = 2, /* its identity is stored with other content: refused, not stored */
};

/* Growable byte buffer. */
struct batch_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Who to acknowledge for one read, and where its rows are (to store it alone if needed). */
struct batch_ack {
    uint8_t id_len; /* routing id of the reader's connection */
    uint8_t id[BATCH_ID_MAX];
    char camera[PROTO_CAMERA_MAX + 1];
    uint32_t epoch; /* with camera and seq, the read's identity */
    uint64_t seq;
    uint64_t digest; /* of its content (rid_digest) */
    bool has_digest; /* false for a spool record written before digests were kept */
    uint8_t fate;    /* enum batch_fate, set by the writer */
    int32_t camera_id;
    int64_t time_us;
    int64_t received_us;         /* wall clock when ingest took it (0: from the spool) */
    int32_t day;                 /* UTC day of the read */
    uint32_t read_off, read_len; /* its row in reads */
    uint32_t hits_off, hits_len; /* its rows in hits */
    char refused[6];             /* SQLSTATE when the database refused it, else "" */
};

struct batch {
    struct batch_buf reads; /* COPY text rows for anpr.plate_read */
    struct batch_buf hits;  /* COPY text rows for anpr.hits */
    struct batch_buf pubs;  /* HITs to publish once the batch is durable (batch_pub_add) */
    struct batch_buf ids;   /* the writer's anpr.read_identity rows (batch_id_rows) */
    size_t npubs;
    struct batch_ack *acks; /* one per read, in arrival order */
    size_t nreads;
    size_t nhits;
    size_t acks_cap;
    int32_t min_day, max_day; /* UTC days (since epoch) of the oldest and newest read */
    int64_t first_mono_us;    /* when the first read was added (flush timing) */

    /* Filled by the writer. */
    bool committed;       /* stored (or found stored already): its reads may be acknowledged */
    uint64_t conflicts;   /* reads refused as conflicts (acks[i].fate BATCH_CONFLICT) */
    uint64_t stored;      /* rows inserted into plate_read */
    uint64_t hits_stored; /* rows inserted into hits */
    uint64_t refused;     /* reads the database refused (acks[i].refused set) */
    bool slow;            /* took the de-duplicating path */
    uint64_t db_errors;   /* failed attempts before it committed */
    uint64_t reconnects;  /* reconnects before it committed */
};

struct batch *batch_new(void);
void batch_destroy(struct batch **self_p);
/* Empty it for reuse, keeping the allocations. */
void batch_reset(struct batch *self);

/*
 * Append one read: its plate_read row, its ack record and a hit row for each of hits[0..nhits)
 * (suppressed[i] says whether that HIT was held back as a repeat, hit_ids[i] is its id).
 * `camera_id` is the database id; `plate` the normalised plate; `digest` its content's
 * (rid_digest). 0, or -1 on out of memory (the batch is unchanged then).
 */
int batch_add(struct batch *self, const struct proto_read *r, uint64_t digest, int32_t camera_id,
              const char *plate, int64_t received_us, const uint8_t *id, size_t id_len,
              const struct wl_match *hits, const bool *suppressed, const uint64_t *hit_ids,
              size_t nhits);

/*
 * A HIT to publish once the batch is durable (a HIT is stored before it is published): its
 * topic and its encoded frame, copied. 0, or -1 on out of memory (then it is not published).
 */
struct batch_pub {
    const char *topic; /* not NUL-terminated */
    size_t tlen;
    bool covert;
    uint8_t priority;
    uint64_t hit_id;
    uint32_t read;    /* the read of the batch (acks[read]) it is a HIT of */
    uint32_t list_id; /* its watchlist, and how it matched (enum proto_match): counted */
    uint8_t kind;
    const uint8_t *frame;
    size_t len;
};
int batch_pub_add(struct batch *self, const struct batch_pub *pub);
/* The next HIT to publish, from *off (start at 0): false at the end. Pointers into the batch. */
bool batch_pub_next(const struct batch *self, size_t *off, struct batch_pub *pub);

/* Drop the last read added (its rows and its ack record): the spool refused it. */
void batch_drop_last(struct batch *self);

/*
 * Read i of the batch as one write-ahead spool record: its COPY rows and what the writer needs
 * to store it again (camera, seq, time, day). Written into out[0..cap); the record's length, or
 * 0 when it does not fit. The layout is the daemon's own (host byte order, never sent): a spool
 * is read back by the same build on the same host.
 */
size_t batch_rec_encode(const struct batch *self, size_t i, uint8_t *out, size_t cap);

/* Append the read of a spool record; it has no reader to acknowledge (id_len 0). 0, or
 * BATCH_REC_BAD when the record is malformed (its lengths do not add up: skip it), or
 * BATCH_REC_NOMEM (try it again later: it must not be skipped). */
enum { BATCH_REC_BAD = -1, BATCH_REC_NOMEM = -2 };
int batch_rec_add(struct batch *self, const uint8_t *rec, size_t len);

/*
 * The anpr.read_identity COPY data (BATCH_ID_COLUMNS, in COPY's binary format: header, one row
 * per read, trailer) of reads [from, to) of the batch, into out (emptied first); 0, or -1 on
 * out of memory.
 */
int batch_id_rows(const struct batch *self, size_t from, size_t to, struct batch_buf *out);
/*
 * The identity of a spool record's read and its digest: 1; 0 for a record written before
 * digests were kept (no digest, epoch 0); -1 when it is malformed.
 */
int batch_rec_identity(const uint8_t *rec, size_t len, int32_t *camera_id, uint32_t *epoch,
                       uint64_t *seq, uint64_t *digest);
/* UTC day number (days since 1970-01-01) of a time in µs. */
int32_t batch_day(int64_t time_us);

#endif
