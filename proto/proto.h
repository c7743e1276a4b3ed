/*
 * proto: the anprd wire format, versions 1 and 2 (specified in proto/PROTOCOL.md).
 *
 * Version 2 adds the reader's boot epoch to READ, ACK and REJECT: a read is identified by
 * (camera, epoch, seq), and a version 1 read has epoch 0. The encoders pick the version from the
 * epoch (0: version 1, else 2), so a reader that never sends an epoch never sees a version 2
 * frame. HIT exists in version 1 only.
 *
 * One frame is one ZeroMQ message part: an 8-byte header (magic "AN", version, type, body length
 * as a big-endian u32) followed by the body. All integers are big-endian. Strings are a u8 (str8)
 * or big-endian u16 (str16) byte count followed by that many bytes, no terminator.
 *
 * The decoders check magic, version, type and exact length before they read a field, validate
 * every field against the limits below, and never read past `len`. Decoded strings are copied
 * into fixed buffers and NUL-terminated. The codec never logs and never allocates.
 */
#ifndef ANPR_PROTO_H
#define ANPR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION     1    /* the base version: HIT, and READ/ACK/REJECT of epoch 0 */
#define PROTO_VERSION_MAX 2    /* READ/ACK/REJECT with a boot epoch */
#define PROTO_MAGIC0      0x41 /* 'A' */
#define PROTO_MAGIC1      0x4E /* 'N' */
#define PROTO_HDR_LEN     8
#define PROTO_MAX_FRAME   4096 /* largest frame of any type, header included */

/* Field limits, in bytes (UTF-8 for plates and texts, ASCII elsewhere). */
#define PROTO_CAMERA_MAX      32   /* camera id: 1..32 of [A-Za-z0-9._:-] */
#define PROTO_PLATE_MAX       32   /* plate as read: 1..32 bytes of UTF-8, no control chars */
#define PROTO_COUNTRY_MAX     2    /* ISO 3166-1 alpha-2 upper case, or empty = unknown */
#define PROTO_CAND_MAX        8    /* alternative OCR candidates per read */
#define PROTO_IMAGE_REF_MAX   255  /* printable ASCII (a URI or a key), may be empty */
#define PROTO_CONFIDENCE_MAX  1000 /* confidences are per mille */
#define PROTO_LIST_MAX        64   /* watchlist name in a HIT */
#define PROTO_CATEGORY_MAX    32   /* watchlist category in a HIT */
#define PROTO_TEXT_MAX        1000 /* instruction text in a HIT */
#define PROTO_REF_MAX         64   /* external reference in a HIT */
#define PROTO_DETAIL_MAX      63   /* how a HIT matched, for the operator */
#define PROTO_REASON_TEXT_MAX 200  /* human-readable text in a REJECT */
#define PROTO_ACK_MAX_RANGES  64   /* ranges in one ACK frame */
#define PROTO_HB_SILENT_MAX   8    /* silent cameras named in one HEARTBEAT */
#define PROTO_INSTANCE_MAX    1023 /* dispatch.instance */

/* Topics of the dispatch feed besides "hit/<category>" (PROTOCOL.md 2.2). */
#define PROTO_TOPIC_HEARTBEAT "feed/heartbeat"
#define PROTO_TOPIC_SEEN      "seen/" /* + category: a sighting of an open HIT (HIT frame) */

enum proto_type {
    PROTO_READ = 1,      /* reader -> anprd: one plate read */
    PROTO_ACK = 2,       /* anprd -> reader: these reads are stored */
    PROTO_REJECT = 3,    /* anprd -> reader: this frame or read was refused, and why */
    PROTO_HIT = 4,       /* anprd -> dispatch subscribers: a read matched a watchlist entry */
    PROTO_HEARTBEAT = 5, /* anprd -> dispatch subscribers: the feed is alive, the cameras */
};

enum proto_direction {
    PROTO_DIR_UNKNOWN = 0,
    PROTO_DIR_TOWARDS = 1, /* vehicle approaches the camera */
    PROTO_DIR_AWAY = 2,    /* vehicle moves away from the camera */
};

/* How a HIT matched; version 1 senders use EXACT, later kinds are reserved in PROTOCOL.md. */
enum proto_match {
    PROTO_MATCH_EXACT = 1,
    PROTO_MATCH_OCR = 2,
    PROTO_MATCH_CANDIDATE = 3,
    PROTO_MATCH_PATTERN = 4,
};

/* On the wire, bit 7 of HIT.match marks a post-match (proto_hit.post_match); bits 0..6 are the
 * kind. */
#define PROTO_MATCH_POST 0x80

/*
 * Why a frame or read was refused. The numbers are on the wire (REJECT.reason) and never change
 * meaning; proto_reason_name() gives the stable token used in logs and metrics.
 */
enum proto_reason {
    PROTO_OK = 0,
    PROTO_E_TRUNCATED = 1,      /* frame shorter than its header or its fields */
    PROTO_E_OVERSIZED = 2,      /* frame longer than PROTO_MAX_FRAME */
    PROTO_E_MAGIC = 3,          /* first two bytes are not "AN" */
    PROTO_E_VERSION = 4,        /* version this receiver does not speak */
    PROTO_E_TYPE = 5,           /* unknown or unexpected message type */
    PROTO_E_LENGTH = 6,         /* header length disagrees with the frame, or bytes left over */
    PROTO_E_FIELD = 7,          /* a field out of its range or format (the text names it) */
    PROTO_E_PLATE_EMPTY = 8,    /* plate empty, or nothing left after normalisation */
    PROTO_E_PLATE_LONG = 9,     /* plate longer than allowed */
    PROTO_E_PLATE_INVALID = 10, /* plate not UTF-8, or has a control or unusable character */
    PROTO_E_CAMERA = 11,        /* camera id not known to anprd */
    PROTO_E_TIME = 12,          /* read time too far in the future or older than retention */
    PROTO_E_OVERLOAD = 13,      /* receiver cannot take the read now; resend later */
    PROTO_E_CONFLICT = 14,      /* (camera, epoch, seq) already stored with other content */
    PROTO_REASON_COUNT
};

/* A decoding or validation failure: the reason and a one-line text naming the field. */
struct proto_error {
    enum proto_reason reason;
    char msg[128];
};

struct proto_cand {
    char plate[PROTO_PLATE_MAX + 1]; /* alternative reading, same rules as the plate */
    uint16_t confidence;             /* per mille */
};

struct proto_read {
    uint64_t seq;                            /* per-camera sequence number, 1..INT64_MAX */
    uint32_t epoch;                          /* boot epoch; 0 = a version 1 READ */
    int64_t time_us;                         /* UTC microseconds since 1970-01-01, > 0 */
    uint16_t confidence;                     /* per mille, of the plate text */
    uint8_t lane;                            /* 0 = unknown, else lane number */
    uint8_t direction;                       /* enum proto_direction */
    uint8_t ncand;                           /* number of valid entries in cand[] */
    bool has_position;                       /* lat_e7/lon_e7 are set (mobile cameras) */
    int32_t lat_e7;                          /* WGS84 latitude, 1e-7 degrees */
    int32_t lon_e7;                          /* WGS84 longitude, 1e-7 degrees */
    char camera[PROTO_CAMERA_MAX + 1];       /* camera id */
    char plate[PROTO_PLATE_MAX + 1];         /* plate text as read */
    char country[PROTO_COUNTRY_MAX + 1];     /* "" when the camera could not tell */
    struct proto_cand cand[PROTO_CAND_MAX];  /* alternatives, best first */
    char image_ref[PROTO_IMAGE_REF_MAX + 1]; /* where the camera keeps the image, or "" */
};

/* A run of reads of one camera with consecutive sequence numbers. */
struct proto_ack_range {
    char camera[PROTO_CAMERA_MAX + 1];
    uint32_t epoch;     /* boot epoch of the reads; 0 = version 1 */
    uint64_t first_seq; /* first sequence number of the run, 1..INT64_MAX */
    uint32_t count;     /* >= 1 */
};

struct proto_reject {
    char camera[PROTO_CAMERA_MAX + 1]; /* "" when the frame could not be decoded that far */
    uint32_t epoch;                    /* the read's boot epoch; 0 = version 1 (or unknown) */
    uint64_t seq;                      /* 0 when unknown */
    uint16_t reason;                   /* enum proto_reason */
    char text[PROTO_REASON_TEXT_MAX + 1];
};

struct proto_hit {
    uint64_t entry_id;             /* watchlist entry that matched */
    uint32_t list_id;              /* its watchlist */
    uint8_t priority;              /* 1 (most urgent) .. 9 */
    uint8_t match;                 /* enum proto_match */
    uint8_t reading;               /* reading that matched: 0 primary, n = read.cand[n - 1] */
    uint8_t nsubst;                /* characters that differ within their OCR class */
    bool post_match;               /* found by the retro-match when the entry was added: the
                                      read came before the entry was listed */
    char list[PROTO_LIST_MAX + 1]; /* watchlist name */
    char category[PROTO_CATEGORY_MAX + 1];     /* e.g. "stolen", "wanted" */
    char entry_plate[PROTO_PLATE_MAX + 1];     /* as listed (normalised; a pattern has ? and *) */
    char entry_country[PROTO_COUNTRY_MAX + 1]; /* "" = any country */
    char instruction[PROTO_TEXT_MAX + 1];      /* what the operator should do */
    char external_ref[PROTO_REF_MAX + 1];      /* reference in the source system */
    char detail[PROTO_DETAIL_MAX + 1];         /* e.g. "O read as 0 at 3", "candidate 2 (640)" */
    struct proto_read read;                    /* the read that matched */
    uint64_t hit_id; /* the HIT's id, as in anpr.hits.hit_id (see PROTOCOL.md 5.4) */
};

/*
 * The dispatch feed's heartbeat (PROTOCOL.md 5.7): anprd is alive, what its clock says, and
 * which of its cameras send reads. Version 1 only.
 */
struct proto_heartbeat {
    int64_t time_us;         /* anprd's wall clock, UTC microseconds, > 0 */
    uint16_t instance;       /* dispatch.instance, 0..1023 */
    uint32_t interval_ms;    /* the next heartbeat is due within this (>= 1) */
    uint32_t silent_after_s; /* a camera with no read for this long is silent (>= 1) */
    uint32_t cameras;        /* cameras enabled */
    uint32_t reporting;      /* of those, the ones with a read within silent_after_s */
    uint8_t nsilent;         /* silent cameras named below, 0..8, <= cameras - reporting */
    char silent[PROTO_HB_SILENT_MAX][PROTO_CAMERA_MAX + 1]; /* silent longest first */
};

/* "exact", "ocr", "candidate", "pattern"; NULL for a value that is none of them. */
const char *proto_match_name(unsigned match);

/* Stable lower-case token for a reason ("truncated", "unknown_camera", ...). */
const char *proto_reason_name(enum proto_reason reason);

/* What proto_utf8_scan found. */
enum proto_utf8 {
    PROTO_UTF8_OK = 0,
    PROTO_UTF8_BAD,    /* not well-formed UTF-8 */
    PROTO_UTF8_CONTROL /* well-formed, but a code point the field does not allow */
};

/*
 * Strict UTF-8 (Unicode table 3-7): no overlong forms, no surrogates, nothing above U+10FFFF.
 * With plate rules (the rule of plates and of operator lines, here and in BACKBONE.md) C0
 * controls, DEL and C1 controls are refused; otherwise only NUL, which would cut a decoded C
 * string short. *at is the offset of the first bad sequence, *cp the refused code point.
 */
enum proto_utf8 proto_utf8_scan(const uint8_t *s, size_t n, bool plate_rules, size_t *at,
                                uint32_t *cp);

/*
 * Check the header of a frame of `len` bytes: magic, version (1 or 2), exact body length, size
 * limit.
 * On success stores the type and returns 0; on failure fills err and returns -1. The type is
 * not checked against a list here, so a receiver can say "unexpected type" itself.
 */
int proto_peek(const uint8_t *buf, size_t len, uint8_t *type, struct proto_error *err);

/*
 * Decoders: whole frame in, header included; 0 on success (err->reason PROTO_OK, msg ""), -1
 * with err filled. err may be NULL. The output struct is zeroed first; when proto_decode_read()
 * fails, r->seq and r->camera still hold the read's seq and camera id if the frame got that far
 * (the camera is checked before the other fixed fields), so the REJECT can name the read.
 * proto_decode_ack() fails with PROTO_E_FIELD when the frame has more than max_ranges ranges.
 */
int proto_decode_read(const uint8_t *buf, size_t len, struct proto_read *r,
                      struct proto_error *err);
int proto_decode_ack(const uint8_t *buf, size_t len, struct proto_ack_range *ranges,
                     size_t max_ranges, size_t *nranges, struct proto_error *err);
int proto_decode_reject(const uint8_t *buf, size_t len, struct proto_reject *rej,
                        struct proto_error *err);
int proto_decode_hit(const uint8_t *buf, size_t len, struct proto_hit *hit,
                     struct proto_error *err);
int proto_decode_heartbeat(const uint8_t *buf, size_t len, struct proto_heartbeat *hb,
                           struct proto_error *err);

/*
 * Encoders: write a whole frame into buf (cap bytes) and return its length, or 0 when a field
 * breaks a limit or the frame does not fit. Encoders validate like the decoders, so a frame
 * that encodes also decodes. READ, ACK and REJECT go out in version 2 when an epoch is not 0
 * (a REJECT with an epoch needs a camera); HIT always in version 1, its read without epoch.
 */
size_t proto_encode_read(const struct proto_read *r, uint8_t *buf, size_t cap);
size_t proto_encode_ack(const struct proto_ack_range *ranges, size_t nranges, uint8_t *buf,
                        size_t cap);
size_t proto_encode_reject(const struct proto_reject *rej, uint8_t *buf, size_t cap);
size_t proto_encode_hit(const struct proto_hit *hit, uint8_t *buf, size_t cap);
size_t proto_encode_heartbeat(const struct proto_heartbeat *hb, uint8_t *buf, size_t cap);

/* Field checks shared with tools and the daemon. */
bool proto_camera_valid(const char *camera);
bool proto_country_valid(const char *country);
/* 0 when ok, else PROTO_E_PLATE_EMPTY / _LONG / _INVALID. */
enum proto_reason proto_plate_check(const char *plate, size_t len);

#endif
