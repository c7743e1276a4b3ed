/*
 * bb: the backbone link format, version 1 (specified in proto/BACKBONE.md): what anprd sends to
 * the national ANPR backbone server over TLS, and what that server answers.
 *
 * The link is a byte stream, so every frame carries its length: an 8-byte header (magic "AB",
 * version, type, body length as a big-endian u32) and the body. Integers are big-endian;
 * strings are a u8 byte count and that many bytes. The layout of the header is the one of
 * proto.h with another magic, so a frame of one protocol is never taken for the other.
 *
 * Delivery: the sender numbers every HIT and READ with an id that strictly increases within
 * its (instance, epoch), keeps what is not acknowledged, and resends it on the next connection;
 * the server stores, then answers ACK(upto): every message up to that id is settled. The server
 * deduplicates by (instance, epoch, id).
 *
 * Like proto, the codec checks every field, never reads past `len`, never logs, never allocates.
 */
#ifndef ANPR_BB_H
#define ANPR_BB_H

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BB_VERSION   1
#define BB_MAGIC0    0x41 /* 'A' */
#define BB_MAGIC1    0x42 /* 'B' */
#define BB_HDR_LEN   8
#define BB_MAX_FRAME 2048 /* largest frame of any type, header included */

#define BB_INSTANCE_MAX 64  /* sender or server name: 1..64 of [A-Za-z0-9._:-] */
#define BB_SOFTWARE_MAX 64  /* "anprd 0.1.0": a line, may be empty */
#define BB_TEXT_MAX     200 /* NACK text: a line */
#define BB_WINDOW_MAX   65535

enum bb_type {
    BB_HELLO = 1, /* both ways, first frame of a connection: who is talking, which epoch */
    BB_HIT = 2,   /* sender -> server: a read matched a watchlist entry */
    BB_READ = 3,  /* sender -> server: a plate read (optional forwarding of all reads) */
    BB_ACK = 4,   /* server -> sender: every message up to this id is settled */
    BB_NACK = 5,  /* server -> sender: one message refused for good, or the connection */
};

/* Why a frame was refused; on the wire in NACK.reason, numbers never change meaning. */
enum bb_reason {
    BB_OK = 0,
    BB_E_TRUNCATED = 1, /* frame shorter than its header or its fields */
    BB_E_OVERSIZED = 2, /* header announces more than BB_MAX_FRAME */
    BB_E_MAGIC = 3,     /* first two bytes are not "AB" */
    BB_E_VERSION = 4,   /* version this receiver does not speak */
    BB_E_TYPE = 5,      /* unknown type, or a type not expected from this side / now */
    BB_E_LENGTH = 6,    /* bytes left over after the last field */
    BB_E_FIELD = 7,     /* a field out of its range or format (the text names it) */
    BB_E_ORDER = 8,     /* id not greater than the previous one on this connection */
    BB_E_HELLO = 9,     /* first frame of the connection is not a HELLO */
    BB_E_STORAGE = 10,  /* server could not store; the sender resends later */
    BB_REASON_COUNT
};

struct bb_error {
    enum bb_reason reason;
    char msg[128];
};

struct bb_hello {
    uint64_t epoch;                     /* sender: its id space (see BACKBONE.md); server 0 */
    uint32_t window;                    /* sender: most messages it leaves unacknowledged */
    char instance[BB_INSTANCE_MAX + 1]; /* sender instance or server name */
    char software[BB_SOFTWARE_MAX + 1]; /* product and version, informative */
};

struct bb_hit {
    uint64_t id;                           /* idempotency id, 1..2^63-1 */
    uint64_t seq;                          /* the read's per-camera sequence number */
    int64_t time_us;                       /* read time, UTC µs since 1970 */
    uint64_t entry_id;                     /* watchlist entry that matched */
    uint32_t list_id;                      /* its watchlist */
    uint8_t priority;                      /* 1 (most urgent) .. 9 */
    uint8_t match;                         /* enum proto_match */
    char camera[PROTO_CAMERA_MAX + 1];     /* camera id */
    char plate[PROTO_PLATE_MAX + 1];       /* plate as read */
    char plate_norm[PROTO_PLATE_MAX + 1];  /* as anprd normalised it: [A-Z0-9]+ */
    char country[PROTO_COUNTRY_MAX + 1];   /* "" = unknown */
    char list[PROTO_LIST_MAX + 1];         /* watchlist name */
    char category[PROTO_CATEGORY_MAX + 1]; /* e.g. "stolen" */
    char entry_plate[PROTO_PLATE_MAX + 1]; /* as listed; a pattern has ? and * */
    char external_ref[PROTO_REF_MAX + 1];  /* reference in the source system, or "" */
    uint8_t flags;                         /* BB_HIT_*; 0: the frame ends after external_ref */
};

/* HIT.flags (BACKBONE.md 5.2): an optional last byte, sent only when not 0, so a HIT without
 * flags is byte for byte what it was before the field existed. */
#define BB_HIT_COVERT 0x01          /* the list is covert: its HITs are not for general display */
#define BB_HIT_FLAGS  BB_HIT_COVERT /* every flag defined */

struct bb_read {
    uint64_t id;                             /* idempotency id, 1..2^63-1 */
    uint64_t seq;                            /* per-camera sequence number */
    int64_t time_us;                         /* UTC µs since 1970 */
    uint16_t confidence;                     /* per mille */
    uint8_t lane;                            /* 0 = unknown */
    uint8_t direction;                       /* enum proto_direction */
    char camera[PROTO_CAMERA_MAX + 1];       /* camera id */
    char plate[PROTO_PLATE_MAX + 1];         /* plate as read */
    char plate_norm[PROTO_PLATE_MAX + 1];    /* normalised: [A-Z0-9]+ */
    char country[PROTO_COUNTRY_MAX + 1];     /* "" = unknown */
    char image_ref[PROTO_IMAGE_REF_MAX + 1]; /* where the camera keeps the image, or "" */
};

struct bb_nack {
    uint64_t id;     /* the refused message, or 0: the connection (the server closes it) */
    uint16_t reason; /* enum bb_reason */
    char text[BB_TEXT_MAX + 1];
};

/* Stable lower-case token of a reason ("truncated", "order", ...); "unknown" out of range. */
const char *bb_reason_name(enum bb_reason reason);
/* "HELLO", "HIT", ...; "unknown" for any other value. */
const char *bb_type_name(unsigned type);

/*
 * Check a frame header (the first BB_HDR_LEN bytes of hdr, at least that many must be given):
 * magic, version, body length within BB_MAX_FRAME. Stores the type and the length of the whole
 * frame (header included), so a stream reader knows how much more to read. 0 or -1 with err.
 */
int bb_header(const uint8_t *hdr, size_t len, uint8_t *type, size_t *frame_len,
              struct bb_error *err);

/* The id of a whole HIT or READ frame (header checked); 0 when it is neither or too short. */
uint64_t bb_frame_id(const uint8_t *buf, size_t len);

/*
 * Decoders: a whole frame in, header included, the exact length. 0 on success, -1 with err
 * filled (err may be NULL). The output is zeroed first; a HIT or READ that fails after its id
 * was read keeps that id in ->id, so the NACK can name it.
 */
int bb_decode_hello(const uint8_t *buf, size_t len, struct bb_hello *h, struct bb_error *err);
int bb_decode_hit(const uint8_t *buf, size_t len, struct bb_hit *h, struct bb_error *err);
int bb_decode_read(const uint8_t *buf, size_t len, struct bb_read *r, struct bb_error *err);
int bb_decode_ack(const uint8_t *buf, size_t len, uint64_t *upto, struct bb_error *err);
int bb_decode_nack(const uint8_t *buf, size_t len, struct bb_nack *n, struct bb_error *err);

/*
 * Encoders: write a whole frame into buf (cap bytes), return its length, or 0 when a field
 * breaks a rule or the frame does not fit. A frame that encodes also decodes.
 */
size_t bb_encode_hello(const struct bb_hello *h, uint8_t *buf, size_t cap);
size_t bb_encode_hit(const struct bb_hit *h, uint8_t *buf, size_t cap);
size_t bb_encode_read(const struct bb_read *r, uint8_t *buf, size_t cap);
size_t bb_encode_ack(uint64_t upto, uint8_t *buf, size_t cap);
size_t bb_encode_nack(const struct bb_nack *n, uint8_t *buf, size_t cap);

/*
 * Fill a backbone HIT from a dispatch HIT (proto.h): the forwarder gives the id and the plate
 * as anprd normalised it (the dispatch HIT does not carry it). Strings that do not fit are
 * cut, so the result may then fail to encode; 0, or -1 when plate_norm is NULL.
 */
int bb_hit_from_proto(const struct proto_hit *in, uint64_t id, const char *plate_norm,
                      struct bb_hit *out);

#endif
