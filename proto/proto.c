/*
 * proto: encoder and decoder of the anprd wire format, versions 1 and 2 (see PROTOCOL.md).
 *
 * Decoders read through a cursor that never hands out a byte past the frame, and check each
 * field as soon as it is read, so the first problem in wire order is the one reported. Two
 * exceptions: the READ camera id is read and checked right after the fixed-size fields and
 * before their range checks, so a REJECT can name the camera of almost any bad read; and
 * HIT.reading is checked against the read's ncand only once the read is decoded.
 * Encoders run the same field checks on the struct before they write anything.
 *
 * Error texts go back to cameras in REJECT.text: they name fields and numbers, are pure ASCII,
 * and never echo bytes of the input.
 */
#include "proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define S_FLAG_POSITION 0x01u
#define S_LAT_MAX       900000000             /* 90 degrees in 1e-7 */
#define S_LON_MAX       1800000000            /* 180 degrees in 1e-7 */
#define S_SEQ_MAX       ((uint64_t)INT64_MAX) /* seq is stored as a PostgreSQL bigint */
#define S_PRIORITY_MAX  9
#define S_NSUBST_MAX    16 /* a normalised plate has at most 16 characters (PLATE_MAX) */
#define S_NAME_LEN      32 /* room for an ACK field name, e.g. "range[63].first_seq" */

static const char *const s_reason_names[PROTO_REASON_COUNT] = {
    [PROTO_OK] = "ok",
    [PROTO_E_TRUNCATED] = "truncated",
    [PROTO_E_OVERSIZED] = "oversized",
    [PROTO_E_MAGIC] = "bad_magic",
    [PROTO_E_VERSION] = "bad_version",
    [PROTO_E_TYPE] = "bad_type",
    [PROTO_E_LENGTH] = "bad_length",
    [PROTO_E_FIELD] = "bad_field",
    [PROTO_E_PLATE_EMPTY] = "plate_empty",
    [PROTO_E_PLATE_LONG] = "plate_too_long",
    [PROTO_E_PLATE_INVALID] = "plate_invalid",
    [PROTO_E_CAMERA] = "unknown_camera",
    [PROTO_E_TIME] = "time_out_of_range",
    [PROTO_E_OVERLOAD] = "overload",
    [PROTO_E_CONFLICT] = "conflict",
};

const char *proto_match_name(unsigned match)
{
    switch (match) {
    case PROTO_MATCH_EXACT:
        return "exact";
    case PROTO_MATCH_OCR:
        return "ocr";
    case PROTO_MATCH_CANDIDATE:
        return "candidate";
    case PROTO_MATCH_PATTERN:
        return "pattern";
    default:
        return NULL;
    }
}

const char *proto_reason_name(enum proto_reason reason)
{
    /* via unsigned so a negative value cast into the enum is out of range too */
    if ((unsigned)reason >= PROTO_REASON_COUNT)
        return "unknown";
    return s_reason_names[reason];
}

static const char *s_type_name(uint8_t type)
{
    switch (type) {
    case PROTO_READ:
        return "READ";
    case PROTO_ACK:
        return "ACK";
    case PROTO_REJECT:
        return "REJECT";
    case PROTO_HIT:
        return "HIT";
    case PROTO_HEARTBEAT:
        return "HEARTBEAT";
    default:
        return "unknown";
    }
}

__attribute__((format(printf, 3, 4))) static int
s_fail(struct proto_error *err, enum proto_reason reason, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    err->reason = reason;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static void s_ok(struct proto_error *err)
{
    if (err) {
        err->reason = PROTO_OK;
        err->msg[0] = '\0';
    }
}

/* ---- byte-level field checks, shared by decoders (wire bytes) and encoders (C strings) ---- */

/*
 * How many bytes at the start of s (length n), in whole words of 8, are all within lo..hi
 * (1 <= lo <= hi <= 0x7F): the fields a decoder checks are nearly all ASCII, and eight bytes
 * are checked at once (a byte below lo borrows into its top bit, one above hi carries into it).
 */
static size_t s_ascii_run(const uint8_t *s, size_t n, uint8_t lo, uint8_t hi)
{
    const uint64_t ones = 0x0101010101010101ULL, tops = 0x8080808080808080ULL;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t below = (w - ones * lo) & ~w, above = (w + ones * (0x7Fu - hi)) | w;
        if ((below | above) & tops)
            break;
    }
    return i;
}

enum proto_utf8 proto_utf8_scan(const uint8_t *s, size_t n, bool plate_rules, size_t *at,
                                uint32_t *cp_out)
{
    size_t i = s_ascii_run(s, n, 0x20, 0x7E);

    while (i < n) {
        uint8_t b = s[i];
        uint32_t cp;
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

        if (b >= 0x20 && b < 0x7F) {
            i++; /* printable ASCII, nearly every byte of a plate: valid under both rules */
            continue;
        }
        if (b < 0x80) {
            cp = b;
            len = 1;
        } else if (b >= 0xC2 && b <= 0xDF) {
            cp = b & 0x1Fu;
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            cp = b & 0x0Fu;
            len = 3;
            if (b == 0xE0)
                lo = 0xA0; /* below is overlong */
            else if (b == 0xED)
                hi = 0x9F; /* above are surrogates */
        } else if (b >= 0xF0 && b <= 0xF4) {
            cp = b & 0x07u;
            len = 4;
            if (b == 0xF0)
                lo = 0x90; /* below is overlong */
            else if (b == 0xF4)
                hi = 0x8F; /* above is beyond U+10FFFF */
        } else {
            *at = i; /* lone continuation byte, C0/C1 overlong lead, or F5..FF */
            return PROTO_UTF8_BAD;
        }
        if (len > n - i) {
            *at = i;
            return PROTO_UTF8_BAD;
        }
        for (size_t k = 1; k < len; k++) {
            uint8_t c = s[i + k];
            if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) {
                *at = i;
                return PROTO_UTF8_BAD;
            }
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if (cp == 0 || (plate_rules && (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)))) {
            *at = i;
            *cp_out = cp;
            return PROTO_UTF8_CONTROL;
        }
        i += len;
    }
    return PROTO_UTF8_OK;
}

static enum proto_reason s_plate_scan(const uint8_t *s, size_t n, size_t *at, uint32_t *cp,
                                      enum proto_utf8 *kind)
{
    *kind = PROTO_UTF8_OK;
    if (n == 0)
        return PROTO_E_PLATE_EMPTY;
    if (n > PROTO_PLATE_MAX)
        return PROTO_E_PLATE_LONG;
    *kind = proto_utf8_scan(s, n, true, at, cp);
    return *kind == PROTO_UTF8_OK ? PROTO_OK : PROTO_E_PLATE_INVALID;
}

/* A plate: the read's own plate fails with the PLATE_* reasons, any other plate with FIELD. */
static int s_check_plate(const uint8_t *s, size_t n, bool own, const char *pfx, const char *field,
                         struct proto_error *err)
{
    size_t at = 0;
    uint32_t cp = 0;
    enum proto_utf8 kind;
    enum proto_reason why = s_plate_scan(s, n, &at, &cp, &kind);
    enum proto_reason reason = own ? why : PROTO_E_FIELD;

    switch (why) {
    case PROTO_OK:
        return 0;
    case PROTO_E_PLATE_EMPTY:
        return s_fail(err, reason, "%s.%s: empty", pfx, field);
    case PROTO_E_PLATE_LONG:
        return s_fail(err, reason, "%s.%s: %zu bytes > %d", pfx, field, n, PROTO_PLATE_MAX);
    default:
        if (kind == PROTO_UTF8_BAD)
            return s_fail(err, reason, "%s.%s: invalid UTF-8 at byte %zu", pfx, field, at);
        return s_fail(err, reason, "%s.%s: control character U+%04X at byte %zu", pfx, field,
                      (unsigned)cp, at);
    }
}

/* Free text (names, instructions, REJECT text): min..max bytes of UTF-8 without NUL. */
static int s_check_text(const uint8_t *s, size_t n, size_t min, size_t max, const char *pfx,
                        const char *field, struct proto_error *err)
{
    size_t at = 0;
    uint32_t cp = 0;

    if (n < min)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: empty", pfx, field);
    if (n > max)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: %zu bytes > %zu", pfx, field, n, max);
    switch (proto_utf8_scan(s, n, false, &at, &cp)) {
    case PROTO_UTF8_OK:
        return 0;
    case PROTO_UTF8_BAD:
        return s_fail(err, PROTO_E_FIELD, "%s.%s: invalid UTF-8 at byte %zu", pfx, field, at);
    default:
        return s_fail(err, PROTO_E_FIELD, "%s.%s: NUL at byte %zu", pfx, field, at);
    }
}

/*
 * One line for the operator (HIT.detail): 0..max bytes of UTF-8 without control characters, so
 * a console can print it as it comes without it moving the cursor or breaking a TSV line.
 */
static int s_check_line(const uint8_t *s, size_t n, size_t max, const char *pfx, const char *field,
                        struct proto_error *err)
{
    size_t at = 0;
    uint32_t cp = 0;

    if (n > max)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: %zu bytes > %zu", pfx, field, n, max);
    switch (proto_utf8_scan(s, n, true, &at, &cp)) {
    case PROTO_UTF8_OK:
        return 0;
    case PROTO_UTF8_BAD:
        return s_fail(err, PROTO_E_FIELD, "%s.%s: invalid UTF-8 at byte %zu", pfx, field, at);
    default:
        return s_fail(err, PROTO_E_FIELD, "%s.%s: control character U+%04X at byte %zu", pfx, field,
                      (unsigned)cp, at);
    }
}

/*
 * The listed plate of a HIT: anprd sends it normalised (A-Z, 0-9), and a pattern entry keeps
 * its wildcards '?' (one character) and '*' (any run). Nothing else, so a subscriber can show
 * it as is and tell a pattern by its '?' or '*'.
 */
static int s_check_entry_plate(const uint8_t *s, size_t n, const char *pfx, struct proto_error *err)
{
    if (n == 0)
        return s_fail(err, PROTO_E_FIELD, "%s.entry_plate: empty", pfx);
    if (n > PROTO_PLATE_MAX)
        return s_fail(err, PROTO_E_FIELD, "%s.entry_plate: %zu bytes > %d", pfx, n,
                      PROTO_PLATE_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '?' ||
              s[i] == '*'))
            return s_fail(err, PROTO_E_FIELD,
                          "%s.entry_plate: byte 0x%02X at %zu not in [A-Z0-9?*]", pfx,
                          (unsigned)s[i], i);
    }
    return 0;
}

/* The bytes of a camera id, [A-Za-z0-9._:-], as a table: every frame names its camera. */
#define S_RANGE10(c)                                                                               \
    [c] = 1, [c + 1] = 1, [c + 2] = 1, [c + 3] = 1, [c + 4] = 1, [c + 5] = 1, [c + 6] = 1,         \
    [c + 7] = 1, [c + 8] = 1, [c + 9] = 1
#define S_RANGE26(c)                                                                               \
    S_RANGE10(c), S_RANGE10(c + 10), [c + 20] = 1, [c + 21] = 1, [c + 22] = 1, [c + 23] = 1,       \
                                          [c + 24] = 1, [c + 25] = 1
static const bool s_camera_ok[256] = {
    S_RANGE26('A'), S_RANGE26('a'), S_RANGE10('0'), ['.'] = 1, ['_'] = 1, [':'] = 1, ['-'] = 1,
};
#undef S_RANGE26
#undef S_RANGE10

static bool s_camera_char(uint8_t c)
{
    return s_camera_ok[c];
}

static int s_check_camera(const uint8_t *s, size_t n, bool allow_empty, const char *pfx,
                          const char *field, struct proto_error *err)
{
    if (n == 0 && allow_empty)
        return 0;
    if (n == 0)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: empty", pfx, field);
    if (n > PROTO_CAMERA_MAX)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: %zu bytes > %d", pfx, field, n, PROTO_CAMERA_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!s_camera_char(s[i]))
            return s_fail(err, PROTO_E_FIELD, "%s.%s: byte 0x%02X at %zu not in [A-Za-z0-9._:-]",
                          pfx, field, (unsigned)s[i], i);
    }
    return 0;
}

static int s_check_country(const uint8_t *s, size_t n, const char *pfx, const char *field,
                           struct proto_error *err)
{
    if (n == 0 || (n == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'))
        return 0;
    return s_fail(err, PROTO_E_FIELD, "%s.%s: not empty and not 2 letters A-Z", pfx, field);
}

static int s_check_category(const uint8_t *s, size_t n, const char *pfx, struct proto_error *err)
{
    if (n == 0)
        return s_fail(err, PROTO_E_FIELD, "%s.category: empty", pfx);
    if (n > PROTO_CATEGORY_MAX)
        return s_fail(err, PROTO_E_FIELD, "%s.category: %zu bytes > %d", pfx, n,
                      PROTO_CATEGORY_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return s_fail(err, PROTO_E_FIELD, "%s.category: byte 0x%02X at %zu not in [a-z_]", pfx,
                          (unsigned)s[i], i);
    }
    return 0;
}

static int s_check_image_ref(const uint8_t *s, size_t n, const char *pfx, struct proto_error *err)
{
    if (n > PROTO_IMAGE_REF_MAX)
        return s_fail(err, PROTO_E_FIELD, "%s.image_ref: %zu bytes > %d", pfx, n,
                      PROTO_IMAGE_REF_MAX);
    for (size_t i = s_ascii_run(s, n, 0x21, 0x7E); i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7E)
            return s_fail(err, PROTO_E_FIELD,
                          "%s.image_ref: byte 0x%02X at %zu is not printable ASCII", pfx,
                          (unsigned)s[i], i);
    }
    return 0;
}

static int s_check_seq(uint64_t seq, const char *pfx, const char *field, struct proto_error *err)
{
    if (seq == 0)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: 0, sequence numbers start at 1", pfx, field);
    if (seq > S_SEQ_MAX)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: %llu > %llu", pfx, field, (unsigned long long)seq,
                      (unsigned long long)S_SEQ_MAX);
    return 0;
}

static int s_check_confidence(uint16_t conf, const char *pfx, const char *field,
                              struct proto_error *err)
{
    if (conf > PROTO_CONFIDENCE_MAX)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: %u > %d", pfx, field, (unsigned)conf,
                      PROTO_CONFIDENCE_MAX);
    return 0;
}

static int s_check_latlon(int32_t v, int32_t max, const char *pfx, const char *field,
                          struct proto_error *err)
{
    if (v < -max || v > max)
        return s_fail(err, PROTO_E_FIELD, "%s.%s: %ld not in -%ld..%ld", pfx, field, (long)v,
                      (long)max, (long)max);
    return 0;
}

/* The fixed-size READ fields except lane (any value) and flags (the decoder's concern). */
static int s_check_read_fixed(const struct proto_read *r, const char *pfx, struct proto_error *err)
{
    if (s_check_seq(r->seq, pfx, "seq", err) < 0)
        return -1;
    if (r->time_us <= 0)
        return s_fail(err, PROTO_E_FIELD, "%s.time_us: %lld <= 0", pfx, (long long)r->time_us);
    if (s_check_confidence(r->confidence, pfx, "confidence", err) < 0)
        return -1;
    if (r->direction > PROTO_DIR_AWAY)
        return s_fail(err, PROTO_E_FIELD, "%s.direction: %u > %d", pfx, (unsigned)r->direction,
                      PROTO_DIR_AWAY);
    return 0;
}

/* ---- decoding ---- */

/* A cursor over the body; s_need() never hands out bytes past the end. */
struct s_rd {
    const uint8_t *p;
    size_t left;
    uint8_t version; /* of the frame: its body layout */
};

static const uint8_t *s_need(struct s_rd *rd, size_t n, const char *pfx, const char *field,
                             struct proto_error *err)
{
    const uint8_t *p = rd->p;

    if (n > rd->left) {
        s_fail(err, PROTO_E_TRUNCATED, "%s.%s: truncated (needs %zu bytes, %zu left)", pfx, field,
               n, rd->left);
        return NULL;
    }
    rd->p += n;
    rd->left -= n;
    return p;
}

static uint16_t s_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t s_be64(const uint8_t *p)
{
    return (uint64_t)s_be32(p) << 32 | s_be32(p + 4);
}

/* Two's complement without implementation-defined conversions. */
static int64_t s_to_i64(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static int32_t s_to_i32(uint32_t v)
{
    return v <= (uint32_t)INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1;
}

static int s_get_u8(struct s_rd *rd, uint8_t *v, const char *pfx, const char *field,
                    struct proto_error *err)
{
    const uint8_t *p = s_need(rd, 1, pfx, field, err);

    if (!p)
        return -1;
    *v = p[0];
    return 0;
}

static int s_get_u16(struct s_rd *rd, uint16_t *v, const char *pfx, const char *field,
                     struct proto_error *err)
{
    const uint8_t *p = s_need(rd, 2, pfx, field, err);

    if (!p)
        return -1;
    *v = s_be16(p);
    return 0;
}

static int s_get_u32(struct s_rd *rd, uint32_t *v, const char *pfx, const char *field,
                     struct proto_error *err)
{
    const uint8_t *p = s_need(rd, 4, pfx, field, err);

    if (!p)
        return -1;
    *v = s_be32(p);
    return 0;
}

static int s_get_u64(struct s_rd *rd, uint64_t *v, const char *pfx, const char *field,
                     struct proto_error *err)
{
    const uint8_t *p = s_need(rd, 8, pfx, field, err);

    if (!p)
        return -1;
    *v = s_be64(p);
    return 0;
}

static int s_get_str8(struct s_rd *rd, const uint8_t **s, size_t *n, const char *pfx,
                      const char *field, struct proto_error *err)
{
    uint8_t len;

    if (s_get_u8(rd, &len, pfx, field, err) < 0)
        return -1;
    *n = len;
    *s = s_need(rd, len, pfx, field, err);
    return *s ? 0 : -1;
}

static int s_get_str16(struct s_rd *rd, const uint8_t **s, size_t *n, const char *pfx,
                       const char *field, struct proto_error *err)
{
    uint16_t len;

    if (s_get_u16(rd, &len, pfx, field, err) < 0)
        return -1;
    *n = len;
    *s = s_need(rd, len, pfx, field, err);
    return *s ? 0 : -1;
}

/* Callers have checked n against the size of dst. */
/*
 * Not inlined on purpose: inlined, the compiler knows a field's size is small and copies it with
 * an inline "rep movs", whose start-up costs more than the copy (it was the decoder's largest
 * cost); out of line, memcpy is the C library's, fast for short strings.
 */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
s_copy(char *dst, const uint8_t *s, size_t n)
{
    if (n > 0)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

int proto_peek(const uint8_t *buf, size_t len, uint8_t *type, struct proto_error *err)
{
    uint32_t body;

    if (!buf)
        len = 0;
    if (len < PROTO_HDR_LEN)
        return s_fail(err, PROTO_E_TRUNCATED, "header: frame of %zu bytes < %d", len,
                      PROTO_HDR_LEN);
    if (len > PROTO_MAX_FRAME)
        return s_fail(err, PROTO_E_OVERSIZED, "header: frame of %zu bytes > %d", len,
                      PROTO_MAX_FRAME);
    if (buf[0] != PROTO_MAGIC0 || buf[1] != PROTO_MAGIC1)
        return s_fail(err, PROTO_E_MAGIC, "header: magic 0x%02X%02X is not \"AN\" (0x414E)",
                      (unsigned)buf[0], (unsigned)buf[1]);
    if (buf[2] < PROTO_VERSION || buf[2] > PROTO_VERSION_MAX)
        return s_fail(err, PROTO_E_VERSION,
                      "header: version %u not supported (this receiver speaks %d and %d)",
                      (unsigned)buf[2], PROTO_VERSION, PROTO_VERSION_MAX);
    body = s_be32(buf + 4);
    if (body > len - PROTO_HDR_LEN)
        return s_fail(err, PROTO_E_TRUNCATED, "header: body length %lu > %zu bytes present",
                      (unsigned long)body, len - PROTO_HDR_LEN);
    if (body < len - PROTO_HDR_LEN)
        return s_fail(err, PROTO_E_LENGTH, "header: body length %lu < %zu bytes present",
                      (unsigned long)body, len - PROTO_HDR_LEN);
    if (type)
        *type = buf[3];
    s_ok(err);
    return 0;
}

/* Header and type; on success rd covers the body. */
static int s_open(const uint8_t *buf, size_t len, uint8_t want, struct s_rd *rd,
                  struct proto_error *err)
{
    uint8_t type = 0;

    if (proto_peek(buf, len, &type, err) < 0)
        return -1;
    if (type != want)
        return s_fail(err, PROTO_E_TYPE, "header: type %u (%s) where %s was expected",
                      (unsigned)type, s_type_name(type), s_type_name(want));
    /* Version 2 changed READ, ACK and REJECT; HIT and HEARTBEAT are version 1 only. */
    if ((type == PROTO_HIT || type == PROTO_HEARTBEAT) && buf[2] != PROTO_VERSION)
        return s_fail(err, PROTO_E_VERSION, "header: %s in version %u (%s is version %d only)",
                      s_type_name(type), (unsigned)buf[2], s_type_name(type), PROTO_VERSION);
    rd->version = buf[2];
    rd->p = buf + PROTO_HDR_LEN;
    rd->left = len - PROTO_HDR_LEN;
    return 0;
}

static int s_close(const struct s_rd *rd, const char *pfx, struct proto_error *err)
{
    if (rd->left > 0)
        return s_fail(err, PROTO_E_LENGTH, "%s: %zu byte(s) after the last field", pfx, rd->left);
    s_ok(err);
    return 0;
}

/* Candidate field names as constants: no formatting on the hot path. */
_Static_assert(PROTO_CAND_MAX == 8, "extend s_cand_plate and s_cand_conf");
static const char *const s_cand_plate[PROTO_CAND_MAX] = {
    "cand[0].plate", "cand[1].plate", "cand[2].plate", "cand[3].plate",
    "cand[4].plate", "cand[5].plate", "cand[6].plate", "cand[7].plate",
};
static const char *const s_cand_conf[PROTO_CAND_MAX] = {
    "cand[0].confidence", "cand[1].confidence", "cand[2].confidence", "cand[3].confidence",
    "cand[4].confidence", "cand[5].confidence", "cand[6].confidence", "cand[7].confidence",
};

static int s_read_body(struct s_rd *rd, const char *pfx, struct proto_read *r,
                       struct proto_error *err)
{
    uint64_t time_raw;
    uint8_t flags;
    const uint8_t *s;
    size_t n;
    /* Version 2 has the epoch (u32) right after seq: the identity first. */
    bool v2 = rd->version == 2;
    size_t fixed = v2 ? 26 : 22;

    /* The fixed fields in one go when they are all there; field by field otherwise, so a short
     * frame is reported at the field it ends in. */
    if (rd->left >= fixed) {
        const uint8_t *p = rd->p;
        r->seq = s_be64(p);
        if (v2) {
            r->epoch = s_be32(p + 8);
            p += 4;
        }
        time_raw = s_be64(p + 8);
        r->confidence = s_be16(p + 16);
        r->lane = p[18];
        r->direction = p[19];
        flags = p[20];
        r->ncand = p[21];
        rd->p += fixed;
        rd->left -= fixed;
    } else if (s_get_u64(rd, &r->seq, pfx, "seq", err) < 0 ||
               (v2 && s_get_u32(rd, &r->epoch, pfx, "epoch", err) < 0) ||
               s_get_u64(rd, &time_raw, pfx, "time_us", err) < 0 ||
               s_get_u16(rd, &r->confidence, pfx, "confidence", err) < 0 ||
               s_get_u8(rd, &r->lane, pfx, "lane", err) < 0 ||
               s_get_u8(rd, &r->direction, pfx, "direction", err) < 0 ||
               s_get_u8(rd, &flags, pfx, "flags", err) < 0 ||
               s_get_u8(rd, &r->ncand, pfx, "ncand", err) < 0) {
        return -1;
    }
    r->time_us = s_to_i64(time_raw);

    /* camera before the range checks above, so a failed decode still names the camera */
    if (s_get_str8(rd, &s, &n, pfx, "camera", err) < 0 ||
        s_check_camera(s, n, false, pfx, "camera", err) < 0)
        return -1;
    s_copy(r->camera, s, n);

    if (s_check_read_fixed(r, pfx, err) < 0)
        return -1;
    if (v2 && r->epoch == 0)
        return s_fail(err, PROTO_E_FIELD, "%s.epoch: 0 in version 2 (epoch 0 is version 1)", pfx);
    if (flags & ~S_FLAG_POSITION)
        return s_fail(err, PROTO_E_FIELD, "%s.flags: unknown bits 0x%02X", pfx,
                      (unsigned)(flags & ~S_FLAG_POSITION));
    r->has_position = flags & S_FLAG_POSITION;
    if (r->ncand > PROTO_CAND_MAX)
        return s_fail(err, PROTO_E_FIELD, "%s.ncand: %u > %d", pfx, (unsigned)r->ncand,
                      PROTO_CAND_MAX);

    if (s_get_str8(rd, &s, &n, pfx, "plate", err) < 0 ||
        s_check_plate(s, n, true, pfx, "plate", err) < 0)
        return -1;
    s_copy(r->plate, s, n);

    if (s_get_str8(rd, &s, &n, pfx, "country", err) < 0 ||
        s_check_country(s, n, pfx, "country", err) < 0)
        return -1;
    s_copy(r->country, s, n);

    for (unsigned i = 0; i < r->ncand; i++) {
        struct proto_cand *c = &r->cand[i];

        if (s_get_str8(rd, &s, &n, pfx, s_cand_plate[i], err) < 0 ||
            s_check_plate(s, n, false, pfx, s_cand_plate[i], err) < 0)
            return -1;
        s_copy(c->plate, s, n);
        if (s_get_u16(rd, &c->confidence, pfx, s_cand_conf[i], err) < 0 ||
            s_check_confidence(c->confidence, pfx, s_cand_conf[i], err) < 0)
            return -1;
    }

    if (r->has_position) {
        uint32_t v;

        if (s_get_u32(rd, &v, pfx, "lat_e7", err) < 0)
            return -1;
        r->lat_e7 = s_to_i32(v);
        if (s_check_latlon(r->lat_e7, S_LAT_MAX, pfx, "lat_e7", err) < 0)
            return -1;
        if (s_get_u32(rd, &v, pfx, "lon_e7", err) < 0)
            return -1;
        r->lon_e7 = s_to_i32(v);
        if (s_check_latlon(r->lon_e7, S_LON_MAX, pfx, "lon_e7", err) < 0)
            return -1;
    }

    if (s_get_str8(rd, &s, &n, pfx, "image_ref", err) < 0 || s_check_image_ref(s, n, pfx, err) < 0)
        return -1;
    s_copy(r->image_ref, s, n);
    return 0;
}

/*
 * Every field of r empty or zero, without clearing the whole struct: it is mostly string
 * buffers, and a read is decoded for every frame. The bytes after a string's NUL are left as
 * they were.
 */
static void s_read_clear(struct proto_read *r)
{
    memset(r, 0, offsetof(struct proto_read, camera));
    r->camera[0] = r->plate[0] = r->country[0] = r->image_ref[0] = '\0';
    for (size_t i = 0; i < PROTO_CAND_MAX; i++) {
        r->cand[i].plate[0] = '\0';
        r->cand[i].confidence = 0;
    }
}

int proto_decode_read(const uint8_t *buf, size_t len, struct proto_read *r, struct proto_error *err)
{
    struct s_rd rd = {0};

    s_read_clear(r);
    if (s_open(buf, len, PROTO_READ, &rd, err) < 0 || s_read_body(&rd, "READ", r, err) < 0)
        return -1;
    return s_close(&rd, "READ", err);
}

int proto_decode_ack(const uint8_t *buf, size_t len, struct proto_ack_range *ranges,
                     size_t max_ranges, size_t *nranges, struct proto_error *err)
{
    struct s_rd rd = {0};
    uint16_t count;
    char name[S_NAME_LEN];

    if (nranges)
        *nranges = 0;
    if (!ranges)
        max_ranges = 0;
    if (s_open(buf, len, PROTO_ACK, &rd, err) < 0 ||
        s_get_u16(&rd, &count, "ACK", "nranges", err) < 0)
        return -1;
    if (count == 0 || count > PROTO_ACK_MAX_RANGES)
        return s_fail(err, PROTO_E_FIELD, "ACK.nranges: %u not in 1..%d", (unsigned)count,
                      PROTO_ACK_MAX_RANGES);
    if (count > max_ranges)
        return s_fail(err, PROTO_E_FIELD, "ACK.nranges: %u > %zu (receiver capacity)",
                      (unsigned)count, max_ranges);

    for (unsigned i = 0; i < count; i++) {
        struct proto_ack_range *a = &ranges[i];
        const uint8_t *s;
        size_t n;

        snprintf(name, sizeof name, "range[%u].camera", i);
        if (s_get_str8(&rd, &s, &n, "ACK", name, err) < 0 ||
            s_check_camera(s, n, false, "ACK", name, err) < 0)
            return -1;
        s_copy(a->camera, s, n);
        a->epoch = 0;
        if (rd.version == 2) {
            snprintf(name, sizeof name, "range[%u].epoch", i);
            if (s_get_u32(&rd, &a->epoch, "ACK", name, err) < 0)
                return -1;
            if (a->epoch == 0)
                return s_fail(err, PROTO_E_FIELD, "ACK.%s: 0 in version 2", name);
        }
        snprintf(name, sizeof name, "range[%u].first_seq", i);
        if (s_get_u64(&rd, &a->first_seq, "ACK", name, err) < 0 ||
            s_check_seq(a->first_seq, "ACK", name, err) < 0)
            return -1;
        snprintf(name, sizeof name, "range[%u].count", i);
        if (s_get_u32(&rd, &a->count, "ACK", name, err) < 0)
            return -1;
        if (a->count == 0)
            return s_fail(err, PROTO_E_FIELD, "ACK.%s: 0, must be >= 1", name);
        if (a->count - 1 > S_SEQ_MAX - a->first_seq)
            return s_fail(err, PROTO_E_FIELD, "ACK.range[%u]: last seq beyond %llu", i,
                          (unsigned long long)S_SEQ_MAX);
    }
    if (s_close(&rd, "ACK", err) < 0)
        return -1;
    if (nranges)
        *nranges = count;
    return 0;
}

int proto_decode_reject(const uint8_t *buf, size_t len, struct proto_reject *rej,
                        struct proto_error *err)
{
    struct s_rd rd = {0};
    const uint8_t *s;
    size_t n;

    memset(rej, 0, sizeof *rej);
    if (s_open(buf, len, PROTO_REJECT, &rd, err) < 0)
        return -1;
    if (s_get_str8(&rd, &s, &n, "REJECT", "camera", err) < 0 ||
        s_check_camera(s, n, true, "REJECT", "camera", err) < 0)
        return -1;
    s_copy(rej->camera, s, n);
    if (rd.version == 2) {
        if (s_get_u32(&rd, &rej->epoch, "REJECT", "epoch", err) < 0)
            return -1;
        if (rej->epoch == 0 || n == 0)
            return s_fail(err, PROTO_E_FIELD, "REJECT.epoch: %lu in version 2 (%s)",
                          (unsigned long)rej->epoch,
                          n == 0 ? "no camera to name" : "epoch 0 is version 1");
    }
    if (s_get_u64(&rd, &rej->seq, "REJECT", "seq", err) < 0 ||
        s_get_u16(&rd, &rej->reason, "REJECT", "reason", err) < 0)
        return -1;
    if (rej->reason == PROTO_OK || rej->reason >= PROTO_REASON_COUNT)
        return s_fail(err, PROTO_E_FIELD, "REJECT.reason: %u not in 1..%d", (unsigned)rej->reason,
                      PROTO_REASON_COUNT - 1);
    if (s_get_str8(&rd, &s, &n, "REJECT", "text", err) < 0 ||
        s_check_text(s, n, 0, PROTO_REASON_TEXT_MAX, "REJECT", "text", err) < 0)
        return -1;
    s_copy(rej->text, s, n);
    return s_close(&rd, "REJECT", err);
}

int proto_decode_hit(const uint8_t *buf, size_t len, struct proto_hit *hit, struct proto_error *err)
{
    struct s_rd rd = {0};
    const uint8_t *s;
    size_t n;

    memset(hit, 0, sizeof *hit);
    if (s_open(buf, len, PROTO_HIT, &rd, err) < 0)
        return -1;
    if (s_get_u64(&rd, &hit->entry_id, "HIT", "entry_id", err) < 0 ||
        s_get_u32(&rd, &hit->list_id, "HIT", "list_id", err) < 0 ||
        s_get_u8(&rd, &hit->priority, "HIT", "priority", err) < 0)
        return -1;
    if (hit->priority < 1 || hit->priority > S_PRIORITY_MAX)
        return s_fail(err, PROTO_E_FIELD, "HIT.priority: %u not in 1..%d", (unsigned)hit->priority,
                      S_PRIORITY_MAX);
    if (s_get_u8(&rd, &hit->match, "HIT", "match", err) < 0)
        return -1;
    hit->post_match = hit->match & PROTO_MATCH_POST;
    hit->match &= (uint8_t)~PROTO_MATCH_POST;
    if (hit->match < PROTO_MATCH_EXACT || hit->match > PROTO_MATCH_PATTERN)
        return s_fail(err, PROTO_E_FIELD, "HIT.match: kind %u not in %d..%d", (unsigned)hit->match,
                      PROTO_MATCH_EXACT, PROTO_MATCH_PATTERN);
    if (s_get_u8(&rd, &hit->reading, "HIT", "reading", err) < 0)
        return -1;
    if (hit->reading > PROTO_CAND_MAX)
        return s_fail(err, PROTO_E_FIELD, "HIT.reading: %u > %d", (unsigned)hit->reading,
                      PROTO_CAND_MAX);
    if (s_get_u8(&rd, &hit->nsubst, "HIT", "nsubst", err) < 0)
        return -1;
    if (hit->nsubst > S_NSUBST_MAX)
        return s_fail(err, PROTO_E_FIELD, "HIT.nsubst: %u > %d", (unsigned)hit->nsubst,
                      S_NSUBST_MAX);

    if (s_get_str8(&rd, &s, &n, "HIT", "list", err) < 0 ||
        s_check_text(s, n, 1, PROTO_LIST_MAX, "HIT", "list", err) < 0)
        return -1;
    s_copy(hit->list, s, n);
    if (s_get_str8(&rd, &s, &n, "HIT", "category", err) < 0 ||
        s_check_category(s, n, "HIT", err) < 0)
        return -1;
    s_copy(hit->category, s, n);
    if (s_get_str8(&rd, &s, &n, "HIT", "entry_plate", err) < 0 ||
        s_check_entry_plate(s, n, "HIT", err) < 0)
        return -1;
    s_copy(hit->entry_plate, s, n);
    if (s_get_str8(&rd, &s, &n, "HIT", "entry_country", err) < 0 ||
        s_check_country(s, n, "HIT", "entry_country", err) < 0)
        return -1;
    s_copy(hit->entry_country, s, n);
    if (s_get_str16(&rd, &s, &n, "HIT", "instruction", err) < 0 ||
        s_check_text(s, n, 0, PROTO_TEXT_MAX, "HIT", "instruction", err) < 0)
        return -1;
    s_copy(hit->instruction, s, n);
    if (s_get_str8(&rd, &s, &n, "HIT", "external_ref", err) < 0 ||
        s_check_text(s, n, 0, PROTO_REF_MAX, "HIT", "external_ref", err) < 0)
        return -1;
    s_copy(hit->external_ref, s, n);
    if (s_get_str8(&rd, &s, &n, "HIT", "detail", err) < 0 ||
        s_check_line(s, n, PROTO_DETAIL_MAX, "HIT", "detail", err) < 0)
        return -1;
    s_copy(hit->detail, s, n);

    if (s_read_body(&rd, "HIT.read", &hit->read, err) < 0)
        return -1;
    /* the one check across fields: it needs ncand, which comes later on the wire */
    if (hit->reading > hit->read.ncand)
        return s_fail(err, PROTO_E_FIELD, "HIT.reading: %u > HIT.read.ncand %u",
                      (unsigned)hit->reading, (unsigned)hit->read.ncand);
    if (s_get_u64(&rd, &hit->hit_id, "HIT", "hit_id", err) < 0)
        return -1;
    return s_close(&rd, "HIT", err);
}

/* The checks of a HEARTBEAT's fixed fields, shared by the decoder and the encoder. */
static int s_check_heartbeat(const struct proto_heartbeat *hb, struct proto_error *err)
{
    if (hb->time_us <= 0)
        return s_fail(err, PROTO_E_FIELD, "HEARTBEAT.time_us: %lld <= 0", (long long)hb->time_us);
    if (hb->instance > PROTO_INSTANCE_MAX)
        return s_fail(err, PROTO_E_FIELD, "HEARTBEAT.instance: %u > %d", (unsigned)hb->instance,
                      PROTO_INSTANCE_MAX);
    if (hb->interval_ms == 0)
        return s_fail(err, PROTO_E_FIELD, "HEARTBEAT.interval_ms: 0");
    if (hb->silent_after_s == 0)
        return s_fail(err, PROTO_E_FIELD, "HEARTBEAT.silent_after_s: 0");
    if (hb->reporting > hb->cameras)
        return s_fail(err, PROTO_E_FIELD, "HEARTBEAT.reporting: %lu > cameras %lu",
                      (unsigned long)hb->reporting, (unsigned long)hb->cameras);
    if (hb->nsilent > PROTO_HB_SILENT_MAX || hb->nsilent > hb->cameras - hb->reporting)
        return s_fail(err, PROTO_E_FIELD, "HEARTBEAT.nsilent: %u > min(%d, cameras - reporting)",
                      (unsigned)hb->nsilent, PROTO_HB_SILENT_MAX);
    return 0;
}

static const char *const s_silent_name[PROTO_HB_SILENT_MAX] = {
    "silent[0]", "silent[1]", "silent[2]", "silent[3]",
    "silent[4]", "silent[5]", "silent[6]", "silent[7]"};

int proto_decode_heartbeat(const uint8_t *buf, size_t len, struct proto_heartbeat *hb,
                           struct proto_error *err)
{
    struct s_rd rd = {0};
    const uint8_t *s;
    size_t n;
    uint64_t t;

    memset(hb, 0, sizeof *hb);
    if (s_open(buf, len, PROTO_HEARTBEAT, &rd, err) < 0)
        return -1;
    if (s_get_u64(&rd, &t, "HEARTBEAT", "time_us", err) < 0 ||
        s_get_u16(&rd, &hb->instance, "HEARTBEAT", "instance", err) < 0 ||
        s_get_u32(&rd, &hb->interval_ms, "HEARTBEAT", "interval_ms", err) < 0 ||
        s_get_u32(&rd, &hb->silent_after_s, "HEARTBEAT", "silent_after_s", err) < 0 ||
        s_get_u32(&rd, &hb->cameras, "HEARTBEAT", "cameras", err) < 0 ||
        s_get_u32(&rd, &hb->reporting, "HEARTBEAT", "reporting", err) < 0 ||
        s_get_u8(&rd, &hb->nsilent, "HEARTBEAT", "nsilent", err) < 0)
        return -1;
    hb->time_us = s_to_i64(t);
    if (s_check_heartbeat(hb, err) < 0)
        return -1;
    for (unsigned i = 0; i < hb->nsilent; i++) {
        if (s_get_str8(&rd, &s, &n, "HEARTBEAT", s_silent_name[i], err) < 0 ||
            s_check_camera(s, n, false, "HEARTBEAT", s_silent_name[i], err) < 0)
            return -1;
        s_copy(hb->silent[i], s, n);
    }
    return s_close(&rd, "HEARTBEAT", err);
}

/* ---- encoding ---- */

/* A writer that stops writing, and remembers, once the buffer is full. */
struct s_wr {
    uint8_t *p;
    size_t cap;
    size_t pos;
    bool full;
};

static void s_put(struct s_wr *w, const void *src, size_t n)
{
    if (w->full || n > w->cap - w->pos) {
        w->full = true;
        return;
    }
    if (n > 0)
        memcpy(w->p + w->pos, src, n);
    w->pos += n;
}

static void s_put_u8(struct s_wr *w, uint8_t v)
{
    s_put(w, &v, 1);
}

static void s_put_u16(struct s_wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    s_put(w, b, sizeof b);
}

static void s_put_u32(struct s_wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    s_put(w, b, sizeof b);
}

static void s_put_u64(struct s_wr *w, uint64_t v)
{
    s_put_u32(w, (uint32_t)(v >> 32));
    s_put_u32(w, (uint32_t)v);
}

/* Lengths were checked by the caller: n <= 255 for str8, n <= 65535 for str16. */
static void s_put_str8(struct s_wr *w, const char *s, size_t n)
{
    s_put_u8(w, (uint8_t)n);
    s_put(w, s, n);
}

static void s_put_str16(struct s_wr *w, const char *s, size_t n)
{
    s_put_u16(w, (uint16_t)n);
    s_put(w, s, n);
}

static void s_begin(struct s_wr *w, uint8_t *buf, size_t cap, uint8_t version, uint8_t type)
{
    w->p = buf;
    w->cap = buf ? cap : 0;
    w->pos = 0;
    w->full = false;
    s_put_u8(w, PROTO_MAGIC0);
    s_put_u8(w, PROTO_MAGIC1);
    s_put_u8(w, version);
    s_put_u8(w, type);
    s_put_u32(w, 0); /* body length, set by s_finish() */
}

static size_t s_finish(struct s_wr *w)
{
    size_t body;

    if (w->full || w->pos > PROTO_MAX_FRAME)
        return 0;
    body = w->pos - PROTO_HDR_LEN;
    w->p[4] = (uint8_t)(body >> 24);
    w->p[5] = (uint8_t)(body >> 16);
    w->p[6] = (uint8_t)(body >> 8);
    w->p[7] = (uint8_t)body;
    return w->pos;
}

/*
 * Length of a C string held in an array of `size` bytes; false when it is not terminated. A
 * loop rather than memchr(), which may look at all `size` bytes of a shorter string.
 */
static bool s_len(const char *s, size_t size, size_t *n)
{
    size_t i = 0;

    while (i < size && s[i] != '\0')
        i++;
    *n = i;
    return i < size;
}

#define S_BYTES(s) ((const uint8_t *)(s))

static int s_read_valid(const struct proto_read *r)
{
    size_t n;

    if (s_check_read_fixed(r, "READ", NULL) < 0 || r->ncand > PROTO_CAND_MAX)
        return -1;
    if (!s_len(r->camera, sizeof r->camera, &n) ||
        s_check_camera(S_BYTES(r->camera), n, false, "READ", "camera", NULL) < 0)
        return -1;
    if (!s_len(r->plate, sizeof r->plate, &n) ||
        s_check_plate(S_BYTES(r->plate), n, true, "READ", "plate", NULL) < 0)
        return -1;
    if (!s_len(r->country, sizeof r->country, &n) ||
        s_check_country(S_BYTES(r->country), n, "READ", "country", NULL) < 0)
        return -1;
    for (unsigned i = 0; i < r->ncand; i++) {
        const struct proto_cand *c = &r->cand[i];

        if (!s_len(c->plate, sizeof c->plate, &n) ||
            s_check_plate(S_BYTES(c->plate), n, false, "READ", "cand", NULL) < 0 ||
            s_check_confidence(c->confidence, "READ", "cand", NULL) < 0)
            return -1;
    }
    if (r->has_position && (s_check_latlon(r->lat_e7, S_LAT_MAX, "READ", "lat_e7", NULL) < 0 ||
                            s_check_latlon(r->lon_e7, S_LON_MAX, "READ", "lon_e7", NULL) < 0))
        return -1;
    if (!s_len(r->image_ref, sizeof r->image_ref, &n) ||
        s_check_image_ref(S_BYTES(r->image_ref), n, "READ", NULL) < 0)
        return -1;
    return 0;
}

/* A READ body, with the epoch in version 2; r has passed s_read_valid(). */
static void s_put_read(struct s_wr *w, const struct proto_read *r, bool v2)
{
    s_put_u64(w, r->seq);
    if (v2)
        s_put_u32(w, r->epoch);
    s_put_u64(w, (uint64_t)r->time_us);
    s_put_u16(w, r->confidence);
    s_put_u8(w, r->lane);
    s_put_u8(w, r->direction);
    s_put_u8(w, r->has_position ? S_FLAG_POSITION : 0);
    s_put_u8(w, r->ncand);
    s_put_str8(w, r->camera, strlen(r->camera));
    s_put_str8(w, r->plate, strlen(r->plate));
    s_put_str8(w, r->country, strlen(r->country));
    for (unsigned i = 0; i < r->ncand; i++) {
        s_put_str8(w, r->cand[i].plate, strlen(r->cand[i].plate));
        s_put_u16(w, r->cand[i].confidence);
    }
    if (r->has_position) {
        s_put_u32(w, (uint32_t)r->lat_e7);
        s_put_u32(w, (uint32_t)r->lon_e7);
    }
    s_put_str8(w, r->image_ref, strlen(r->image_ref));
}

size_t proto_encode_read(const struct proto_read *r, uint8_t *buf, size_t cap)
{
    struct s_wr w;

    if (!r || s_read_valid(r) < 0)
        return 0;
    s_begin(&w, buf, cap, r->epoch ? 2 : PROTO_VERSION, PROTO_READ);
    s_put_read(&w, r, r->epoch != 0);
    return s_finish(&w);
}

size_t proto_encode_ack(const struct proto_ack_range *ranges, size_t nranges, uint8_t *buf,
                        size_t cap)
{
    struct s_wr w;
    size_t n;
    bool v2 = false;

    if (!ranges || nranges == 0 || nranges > PROTO_ACK_MAX_RANGES)
        return 0;
    for (size_t i = 0; i < nranges; i++)
        v2 |= ranges[i].epoch != 0;
    for (size_t i = 0; i < nranges; i++) {
        const struct proto_ack_range *a = &ranges[i];

        /* One frame, one layout: epoch-0 ranges cannot share a version 2 ACK. */
        if (v2 && a->epoch == 0)
            return 0;
        if (!s_len(a->camera, sizeof a->camera, &n) ||
            s_check_camera(S_BYTES(a->camera), n, false, "ACK", "camera", NULL) < 0 ||
            s_check_seq(a->first_seq, "ACK", "first_seq", NULL) < 0 || a->count == 0 ||
            a->count - 1 > S_SEQ_MAX - a->first_seq)
            return 0;
    }
    s_begin(&w, buf, cap, v2 ? 2 : PROTO_VERSION, PROTO_ACK);
    s_put_u16(&w, (uint16_t)nranges);
    for (size_t i = 0; i < nranges; i++) {
        s_put_str8(&w, ranges[i].camera, strlen(ranges[i].camera));
        if (v2)
            s_put_u32(&w, ranges[i].epoch);
        s_put_u64(&w, ranges[i].first_seq);
        s_put_u32(&w, ranges[i].count);
    }
    return s_finish(&w);
}

size_t proto_encode_reject(const struct proto_reject *rej, uint8_t *buf, size_t cap)
{
    struct s_wr w;
    size_t ncam, ntext;

    if (!rej || !s_len(rej->camera, sizeof rej->camera, &ncam) ||
        s_check_camera(S_BYTES(rej->camera), ncam, true, "REJECT", "camera", NULL) < 0 ||
        rej->reason == PROTO_OK || rej->reason >= PROTO_REASON_COUNT ||
        !s_len(rej->text, sizeof rej->text, &ntext) ||
        s_check_text(S_BYTES(rej->text), ntext, 0, PROTO_REASON_TEXT_MAX, "REJECT", "text", NULL) <
            0 ||
        (rej->epoch != 0 && ncam == 0))
        return 0;
    s_begin(&w, buf, cap, rej->epoch ? 2 : PROTO_VERSION, PROTO_REJECT);
    s_put_str8(&w, rej->camera, ncam);
    if (rej->epoch)
        s_put_u32(&w, rej->epoch);
    s_put_u64(&w, rej->seq);
    s_put_u16(&w, rej->reason);
    s_put_str8(&w, rej->text, ntext);
    return s_finish(&w);
}

size_t proto_encode_hit(const struct proto_hit *hit, uint8_t *buf, size_t cap)
{
    struct s_wr w;
    size_t nlist, ncat, nplate, ncountry, ntext, nref, ndetail;

    if (!hit || hit->priority < 1 || hit->priority > S_PRIORITY_MAX ||
        hit->match < PROTO_MATCH_EXACT || hit->match > PROTO_MATCH_PATTERN ||
        hit->reading > hit->read.ncand || hit->reading > PROTO_CAND_MAX ||
        hit->nsubst > S_NSUBST_MAX)
        return 0;
    if (!s_len(hit->list, sizeof hit->list, &nlist) ||
        s_check_text(S_BYTES(hit->list), nlist, 1, PROTO_LIST_MAX, "HIT", "list", NULL) < 0 ||
        !s_len(hit->category, sizeof hit->category, &ncat) ||
        s_check_category(S_BYTES(hit->category), ncat, "HIT", NULL) < 0 ||
        !s_len(hit->entry_plate, sizeof hit->entry_plate, &nplate) ||
        s_check_entry_plate(S_BYTES(hit->entry_plate), nplate, "HIT", NULL) < 0 ||
        !s_len(hit->entry_country, sizeof hit->entry_country, &ncountry) ||
        s_check_country(S_BYTES(hit->entry_country), ncountry, "HIT", "entry_country", NULL) < 0 ||
        !s_len(hit->instruction, sizeof hit->instruction, &ntext) ||
        s_check_text(S_BYTES(hit->instruction), ntext, 0, PROTO_TEXT_MAX, "HIT", "instruction",
                     NULL) < 0 ||
        !s_len(hit->external_ref, sizeof hit->external_ref, &nref) ||
        s_check_text(S_BYTES(hit->external_ref), nref, 0, PROTO_REF_MAX, "HIT", "external_ref",
                     NULL) < 0 ||
        !s_len(hit->detail, sizeof hit->detail, &ndetail) ||
        s_check_line(S_BYTES(hit->detail), ndetail, PROTO_DETAIL_MAX, "HIT", "detail", NULL) < 0 ||
        s_read_valid(&hit->read) < 0)
        return 0;
    s_begin(&w, buf, cap, PROTO_VERSION, PROTO_HIT);
    s_put_u64(&w, hit->entry_id);
    s_put_u32(&w, hit->list_id);
    s_put_u8(&w, hit->priority);
    s_put_u8(&w, (uint8_t)(hit->match | (hit->post_match ? PROTO_MATCH_POST : 0)));
    s_put_u8(&w, hit->reading);
    s_put_u8(&w, hit->nsubst);
    s_put_str8(&w, hit->list, nlist);
    s_put_str8(&w, hit->category, ncat);
    s_put_str8(&w, hit->entry_plate, nplate);
    s_put_str8(&w, hit->entry_country, ncountry);
    s_put_str16(&w, hit->instruction, ntext);
    s_put_str8(&w, hit->external_ref, nref);
    s_put_str8(&w, hit->detail, ndetail);
    s_put_read(&w, &hit->read, false);
    s_put_u64(&w, hit->hit_id);
    return s_finish(&w);
}

size_t proto_encode_heartbeat(const struct proto_heartbeat *hb, uint8_t *buf, size_t cap)
{
    struct s_wr w;
    size_t ncam[PROTO_HB_SILENT_MAX];

    if (!hb || s_check_heartbeat(hb, NULL) < 0)
        return 0;
    for (unsigned i = 0; i < hb->nsilent; i++)
        if (!s_len(hb->silent[i], sizeof hb->silent[i], &ncam[i]) ||
            s_check_camera(S_BYTES(hb->silent[i]), ncam[i], false, "HEARTBEAT", "silent", NULL) < 0)
            return 0;
    s_begin(&w, buf, cap, PROTO_VERSION, PROTO_HEARTBEAT);
    s_put_u64(&w, (uint64_t)hb->time_us);
    s_put_u16(&w, hb->instance);
    s_put_u32(&w, hb->interval_ms);
    s_put_u32(&w, hb->silent_after_s);
    s_put_u32(&w, hb->cameras);
    s_put_u32(&w, hb->reporting);
    s_put_u8(&w, hb->nsilent);
    for (unsigned i = 0; i < hb->nsilent; i++)
        s_put_str8(&w, hb->silent[i], ncam[i]);
    return s_finish(&w);
}

/* ---- public field checks ---- */

bool proto_camera_valid(const char *camera)
{
    size_t n;

    if (!camera)
        return false;
    s_len(camera, PROTO_CAMERA_MAX + 1, &n); /* too long when not terminated by then */
    return s_check_camera(S_BYTES(camera), n, false, "", "camera", NULL) == 0;
}

bool proto_country_valid(const char *country)
{
    size_t n;

    if (!country)
        return false;
    s_len(country, PROTO_COUNTRY_MAX + 1, &n);
    return s_check_country(S_BYTES(country), n, "", "country", NULL) == 0;
}

enum proto_reason proto_plate_check(const char *plate, size_t len)
{
    size_t at;
    uint32_t cp;
    enum proto_utf8 kind;

    if (!plate)
        return len == 0 ? PROTO_E_PLATE_EMPTY : PROTO_E_PLATE_INVALID;
    return s_plate_scan(S_BYTES(plate), len, &at, &cp, &kind);
}
