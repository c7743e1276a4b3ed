/*
 * bb: encoder and decoder of the backbone link format, version 1 (see BACKBONE.md).
 *
 * Same shape as proto.c: decoders read through a cursor that never hands out a byte past the
 * frame and check each field as soon as it is read, so the first problem in wire order is the
 * one reported; encoders run the same checks on the struct before they write anything. Error
 * texts go back to the peer in NACK.text: they name fields and numbers and never echo input.
 */
#include "bb.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define S_ID_MAX ((uint64_t)INT64_MAX) /* ids fit a signed 64-bit column on either side */

static const char *const s_reason_names[BB_REASON_COUNT] = {
    [BB_OK] = "ok",
    [BB_E_TRUNCATED] = "truncated",
    [BB_E_OVERSIZED] = "oversized",
    [BB_E_MAGIC] = "bad_magic",
    [BB_E_VERSION] = "bad_version",
    [BB_E_TYPE] = "bad_type",
    [BB_E_LENGTH] = "bad_length",
    [BB_E_FIELD] = "bad_field",
    [BB_E_ORDER] = "order",
    [BB_E_HELLO] = "no_hello",
    [BB_E_STORAGE] = "storage",
};

const char *bb_reason_name(enum bb_reason reason)
{
    if ((unsigned)reason >= BB_REASON_COUNT)
        return "unknown";
    return s_reason_names[reason];
}

const char *bb_type_name(unsigned type)
{
    switch (type) {
    case BB_HELLO:
        return "HELLO";
    case BB_HIT:
        return "HIT";
    case BB_READ:
        return "READ";
    case BB_ACK:
        return "ACK";
    case BB_NACK:
        return "NACK";
    default:
        return "unknown";
    }
}

__attribute__((format(printf, 3, 4))) static int s_fail(struct bb_error *err, enum bb_reason reason,
                                                        const char *fmt, ...)
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

static void s_ok(struct bb_error *err)
{
    if (err) {
        err->reason = BB_OK;
        err->msg[0] = '\0';
    }
}

/* ---- field rules (BACKBONE.md section 3) ---- */

enum s_rule {
    S_NAME,    /* [A-Za-z0-9._:-] (camera, instance) */
    S_PLATE,   /* a line (below), plate limits */
    S_NORM,    /* [A-Z0-9] */
    S_LISTED,  /* [A-Z0-9?*] */
    S_COUNTRY, /* "" or two of [A-Z] */
    S_CATEGORY,
    S_IMAGE, /* 0x21..0x7E */
    S_LINE,  /* strict UTF-8 without control characters */
};

/* Strict UTF-8 without C0, DEL or C1 controls (PROTOCOL.md's rule for plates and lines); *at
 * is the offset of the first bad sequence. */
static bool s_line_ok(const uint8_t *s, size_t n, size_t *at)
{
    uint32_t cp;

    *at = 0;
    return proto_utf8_scan(s, n, true, at, &cp) == PROTO_UTF8_OK;
}

static bool s_char_ok(enum s_rule rule, uint8_t c)
{
    bool upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';

    switch (rule) {
    case S_NAME:
        return upper || digit || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == ':' ||
               c == '-';
    case S_NORM:
        return upper || digit;
    case S_LISTED:
        return upper || digit || c == '?' || c == '*';
    case S_COUNTRY:
        return upper;
    case S_CATEGORY:
        return (c >= 'a' && c <= 'z') || c == '_';
    case S_IMAGE:
        return c >= 0x21 && c <= 0x7E;
    default:
        return false;
    }
}

static int s_check(enum s_rule rule, const uint8_t *s, size_t n, size_t min, size_t max,
                   const char *pfx, const char *field, struct bb_error *err)
{
    size_t at = 0;

    if (n < min)
        return s_fail(err, BB_E_FIELD, "%s.%s: %s", pfx, field, n == 0 ? "empty" : "too short");
    if (n > max)
        return s_fail(err, BB_E_FIELD, "%s.%s: %zu bytes > %zu", pfx, field, n, max);
    if (rule == S_COUNTRY && n != 0 && n != 2)
        return s_fail(err, BB_E_FIELD, "%s.%s: not empty and not 2 letters A-Z", pfx, field);
    if (rule == S_PLATE || rule == S_LINE) {
        if (!s_line_ok(s, n, &at))
            return s_fail(err, BB_E_FIELD, "%s.%s: invalid UTF-8 or control character at byte %zu",
                          pfx, field, at);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s_char_ok(rule, s[i]))
            return s_fail(err, BB_E_FIELD, "%s.%s: byte 0x%02X at %zu not allowed", pfx, field,
                          (unsigned)s[i], i);
    }
    return 0;
}

static int s_check_str(enum s_rule rule, const char *s, size_t min, size_t max, const char *pfx,
                       const char *field, struct bb_error *err)
{
    return s_check(rule, (const uint8_t *)s, strlen(s), min, max, pfx, field, err);
}

static int s_check_id(uint64_t id, const char *pfx, struct bb_error *err)
{
    if (id == 0 || id > S_ID_MAX)
        return s_fail(err, BB_E_FIELD, "%s.id: %llu not in 1..2^63-1", pfx, (unsigned long long)id);
    return 0;
}

/* ---- decoding cursor ---- */

struct cur {
    const uint8_t *p;
    size_t left;
    const char *pfx; /* message name, for error texts */
    struct bb_error *err;
};

static int s_need(struct cur *c, size_t n, const char *field)
{
    if (c->left < n)
        return s_fail(c->err, BB_E_TRUNCATED, "%s.%s: frame ends inside the field", c->pfx, field);
    return 0;
}

static int s_u8(struct cur *c, uint8_t *v, const char *field)
{
    if (s_need(c, 1, field) != 0)
        return -1;
    *v = c->p[0];
    c->p++;
    c->left--;
    return 0;
}

static int s_u16(struct cur *c, uint16_t *v, const char *field)
{
    if (s_need(c, 2, field) != 0)
        return -1;
    *v = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2;
    c->left -= 2;
    return 0;
}

static int s_u32(struct cur *c, uint32_t *v, const char *field)
{
    if (s_need(c, 4, field) != 0)
        return -1;
    *v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
    c->p += 4;
    c->left -= 4;
    return 0;
}

static int s_u64(struct cur *c, uint64_t *v, const char *field)
{
    uint64_t x = 0;

    if (s_need(c, 8, field) != 0)
        return -1;
    for (int i = 0; i < 8; i++)
        x = x << 8 | c->p[i];
    *v = x;
    c->p += 8;
    c->left -= 8;
    return 0;
}

/* A str8 into out (cap includes the NUL), checked against its rule. */
static int s_str(struct cur *c, enum s_rule rule, size_t min, size_t max, char *out, size_t cap,
                 const char *field)
{
    uint8_t n;

    if (s_u8(c, &n, field) != 0 || s_need(c, n, field) != 0)
        return -1;
    if (s_check(rule, c->p, n, min, max, c->pfx, field, c->err) != 0)
        return -1;
    if (n >= cap) /* unreachable while every max < cap; kept so a wrong limit cannot overflow */
        return s_fail(c->err, BB_E_FIELD, "%s.%s: too long", c->pfx, field);
    memcpy(out, c->p, n);
    out[n] = '\0';
    c->p += n;
    c->left -= n;
    return 0;
}

static int s_end(struct cur *c)
{
    if (c->left != 0)
        return s_fail(c->err, BB_E_LENGTH, "%s: %zu bytes after the last field", c->pfx, c->left);
    s_ok(c->err);
    return 0;
}

int bb_header(const uint8_t *hdr, size_t len, uint8_t *type, size_t *frame_len,
              struct bb_error *err)
{
    uint32_t body;

    if (len < BB_HDR_LEN)
        return s_fail(err, BB_E_TRUNCATED, "header: %zu bytes < %d", len, BB_HDR_LEN);
    if (hdr[0] != BB_MAGIC0 || hdr[1] != BB_MAGIC1)
        return s_fail(err, BB_E_MAGIC, "header: magic is not \"AB\"");
    if (hdr[2] != BB_VERSION)
        return s_fail(err, BB_E_VERSION, "header: version %u not supported (this side speaks %d)",
                      (unsigned)hdr[2], BB_VERSION);
    body = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    if (body > BB_MAX_FRAME - BB_HDR_LEN)
        return s_fail(err, BB_E_OVERSIZED, "header: body of %lu bytes > %d", (unsigned long)body,
                      BB_MAX_FRAME - BB_HDR_LEN);
    *type = hdr[3];
    *frame_len = BB_HDR_LEN + (size_t)body;
    s_ok(err);
    return 0;
}

/* Header of a whole frame of exactly len bytes, of the wanted type; sets up the cursor. */
static int s_open(const uint8_t *buf, size_t len, uint8_t want, struct cur *c, struct bb_error *err)
{
    uint8_t type = 0; /* gcc 12 -O3 cannot see that bb_header sets both on success */
    size_t flen = 0;

    c->pfx = bb_type_name(want);
    c->err = err;
    if (bb_header(buf, len, &type, &flen, err) != 0)
        return -1;
    if (type != want)
        return s_fail(err, BB_E_TYPE, "header: type %u (%s), expected %u (%s)", (unsigned)type,
                      bb_type_name(type), (unsigned)want, bb_type_name(want));
    if (flen > len)
        return s_fail(err, BB_E_TRUNCATED, "header: frame of %zu bytes, %zu given", flen, len);
    if (flen < len)
        return s_fail(err, BB_E_LENGTH, "header: frame of %zu bytes, %zu given", flen, len);
    c->p = buf + BB_HDR_LEN;
    c->left = len - BB_HDR_LEN;
    return 0;
}

uint64_t bb_frame_id(const uint8_t *buf, size_t len)
{
    uint8_t type = 0;
    size_t flen = 0;
    uint64_t id = 0;

    if (bb_header(buf, len, &type, &flen, NULL) != 0 || (type != BB_HIT && type != BB_READ) ||
        len < BB_HDR_LEN + 8)
        return 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | buf[BB_HDR_LEN + i];
    return id;
}

int bb_decode_hello(const uint8_t *buf, size_t len, struct bb_hello *h, struct bb_error *err)
{
    struct cur c = {0};

    memset(h, 0, sizeof *h);
    if (s_open(buf, len, BB_HELLO, &c, err) != 0)
        return -1;
    if (s_u64(&c, &h->epoch, "epoch") != 0 || s_u32(&c, &h->window, "window") != 0)
        return -1;
    if (h->window > BB_WINDOW_MAX)
        return s_fail(err, BB_E_FIELD, "HELLO.window: %lu > %d", (unsigned long)h->window,
                      BB_WINDOW_MAX);
    if (s_str(&c, S_NAME, 1, BB_INSTANCE_MAX, h->instance, sizeof h->instance, "instance") != 0 ||
        s_str(&c, S_LINE, 0, BB_SOFTWARE_MAX, h->software, sizeof h->software, "software") != 0)
        return -1;
    return s_end(&c);
}

int bb_decode_hit(const uint8_t *buf, size_t len, struct bb_hit *h, struct bb_error *err)
{
    struct cur c = {0};
    uint64_t id;

    memset(h, 0, sizeof *h);
    if (s_open(buf, len, BB_HIT, &c, err) != 0 || s_u64(&c, &id, "id") != 0)
        return -1;
    h->id = id;
    if (s_check_id(id, "HIT", err) != 0)
        return -1;
    if (s_u64(&c, &h->seq, "seq") != 0 || s_u64(&c, (uint64_t *)&h->time_us, "time_us") != 0 ||
        s_u64(&c, &h->entry_id, "entry_id") != 0 || s_u32(&c, &h->list_id, "list_id") != 0 ||
        s_u8(&c, &h->priority, "priority") != 0 || s_u8(&c, &h->match, "match") != 0)
        return -1;
    if (h->seq == 0 || h->seq > S_ID_MAX)
        return s_fail(err, BB_E_FIELD, "HIT.seq: not in 1..2^63-1");
    if (h->time_us <= 0)
        return s_fail(err, BB_E_FIELD, "HIT.time_us: not > 0");
    if (h->priority < 1 || h->priority > 9)
        return s_fail(err, BB_E_FIELD, "HIT.priority: %u not in 1..9", (unsigned)h->priority);
    if (h->match < PROTO_MATCH_EXACT || h->match > PROTO_MATCH_PATTERN)
        return s_fail(err, BB_E_FIELD, "HIT.match: %u not in 1..4", (unsigned)h->match);
    if (s_str(&c, S_NAME, 1, PROTO_CAMERA_MAX, h->camera, sizeof h->camera, "camera") != 0 ||
        s_str(&c, S_PLATE, 1, PROTO_PLATE_MAX, h->plate, sizeof h->plate, "plate") != 0 ||
        s_str(&c, S_NORM, 1, PROTO_PLATE_MAX, h->plate_norm, sizeof h->plate_norm, "plate_norm") !=
            0 ||
        s_str(&c, S_COUNTRY, 0, 2, h->country, sizeof h->country, "country") != 0 ||
        s_str(&c, S_LINE, 1, PROTO_LIST_MAX, h->list, sizeof h->list, "list") != 0 ||
        s_str(&c, S_CATEGORY, 1, PROTO_CATEGORY_MAX, h->category, sizeof h->category, "category") !=
            0 ||
        s_str(&c, S_LISTED, 1, PROTO_PLATE_MAX, h->entry_plate, sizeof h->entry_plate,
              "entry_plate") != 0 ||
        s_str(&c, S_LINE, 0, PROTO_REF_MAX, h->external_ref, sizeof h->external_ref,
              "external_ref") != 0)
        return -1;
    /* flags: present only when not 0, and only flags this version defines */
    if (c.left > 0) {
        if (s_u8(&c, &h->flags, "flags") != 0)
            return -1;
        if (h->flags == 0 || (h->flags & ~BB_HIT_FLAGS) != 0)
            return s_fail(err, BB_E_FIELD, "HIT.flags: 0x%02X not a set of known flags",
                          (unsigned)h->flags);
    }
    return s_end(&c);
}

int bb_decode_read(const uint8_t *buf, size_t len, struct bb_read *r, struct bb_error *err)
{
    struct cur c = {0};
    uint64_t id;

    memset(r, 0, sizeof *r);
    if (s_open(buf, len, BB_READ, &c, err) != 0 || s_u64(&c, &id, "id") != 0)
        return -1;
    r->id = id;
    if (s_check_id(id, "READ", err) != 0)
        return -1;
    if (s_u64(&c, &r->seq, "seq") != 0 || s_u64(&c, (uint64_t *)&r->time_us, "time_us") != 0 ||
        s_u16(&c, &r->confidence, "confidence") != 0 || s_u8(&c, &r->lane, "lane") != 0 ||
        s_u8(&c, &r->direction, "direction") != 0)
        return -1;
    if (r->seq == 0 || r->seq > S_ID_MAX)
        return s_fail(err, BB_E_FIELD, "READ.seq: not in 1..2^63-1");
    if (r->time_us <= 0)
        return s_fail(err, BB_E_FIELD, "READ.time_us: not > 0");
    if (r->confidence > PROTO_CONFIDENCE_MAX)
        return s_fail(err, BB_E_FIELD, "READ.confidence: %u > %d", (unsigned)r->confidence,
                      PROTO_CONFIDENCE_MAX);
    if (r->direction > PROTO_DIR_AWAY)
        return s_fail(err, BB_E_FIELD, "READ.direction: %u not in 0..2", (unsigned)r->direction);
    if (s_str(&c, S_NAME, 1, PROTO_CAMERA_MAX, r->camera, sizeof r->camera, "camera") != 0 ||
        s_str(&c, S_PLATE, 1, PROTO_PLATE_MAX, r->plate, sizeof r->plate, "plate") != 0 ||
        s_str(&c, S_NORM, 1, PROTO_PLATE_MAX, r->plate_norm, sizeof r->plate_norm, "plate_norm") !=
            0 ||
        s_str(&c, S_COUNTRY, 0, 2, r->country, sizeof r->country, "country") != 0 ||
        s_str(&c, S_IMAGE, 0, PROTO_IMAGE_REF_MAX, r->image_ref, sizeof r->image_ref,
              "image_ref") != 0)
        return -1;
    return s_end(&c);
}

int bb_decode_ack(const uint8_t *buf, size_t len, uint64_t *upto, struct bb_error *err)
{
    struct cur c = {0};

    *upto = 0;
    if (s_open(buf, len, BB_ACK, &c, err) != 0 || s_u64(&c, upto, "upto") != 0)
        return -1;
    if (*upto > S_ID_MAX)
        return s_fail(err, BB_E_FIELD, "ACK.upto: > 2^63-1");
    return s_end(&c);
}

int bb_decode_nack(const uint8_t *buf, size_t len, struct bb_nack *n, struct bb_error *err)
{
    struct cur c = {0};

    memset(n, 0, sizeof *n);
    if (s_open(buf, len, BB_NACK, &c, err) != 0 || s_u64(&c, &n->id, "id") != 0 ||
        s_u16(&c, &n->reason, "reason") != 0)
        return -1;
    if (n->id > S_ID_MAX)
        return s_fail(err, BB_E_FIELD, "NACK.id: > 2^63-1");
    if (s_str(&c, S_LINE, 0, BB_TEXT_MAX, n->text, sizeof n->text, "text") != 0)
        return -1;
    return s_end(&c);
}

/* ---- encoding ---- */

struct out {
    uint8_t *buf;
    size_t cap, len;
    bool bad; /* did not fit */
};

static void s_put(struct out *o, const void *p, size_t n)
{
    if (o->bad || n > o->cap - o->len) {
        o->bad = true;
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void s_put_uint(struct out *o, uint64_t v, int bytes)
{
    uint8_t b[8];

    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    s_put(o, b, (size_t)bytes);
}

static void s_put_str(struct out *o, const char *s)
{
    size_t n = strlen(s);

    s_put_uint(o, n, 1); /* every field was checked to be at most 255 bytes */
    s_put(o, s, n);
}

static void s_begin(struct out *o, uint8_t *buf, size_t cap, uint8_t type)
{
    const uint8_t hdr[BB_HDR_LEN] = {BB_MAGIC0, BB_MAGIC1, BB_VERSION, type, 0, 0, 0, 0};

    o->buf = buf;
    o->cap = cap < BB_MAX_FRAME ? cap : BB_MAX_FRAME;
    o->len = 0;
    o->bad = false;
    s_put(o, hdr, sizeof hdr);
}

static size_t s_finish(struct out *o)
{
    size_t body;

    if (o->bad)
        return 0;
    body = o->len - BB_HDR_LEN;
    o->buf[4] = (uint8_t)(body >> 24);
    o->buf[5] = (uint8_t)(body >> 16);
    o->buf[6] = (uint8_t)(body >> 8);
    o->buf[7] = (uint8_t)body;
    return o->len;
}

size_t bb_encode_hello(const struct bb_hello *h, uint8_t *buf, size_t cap)
{
    struct out o;

    if (h->window > BB_WINDOW_MAX ||
        s_check_str(S_NAME, h->instance, 1, BB_INSTANCE_MAX, "HELLO", "instance", NULL) != 0 ||
        s_check_str(S_LINE, h->software, 0, BB_SOFTWARE_MAX, "HELLO", "software", NULL) != 0)
        return 0;
    s_begin(&o, buf, cap, BB_HELLO);
    s_put_uint(&o, h->epoch, 8);
    s_put_uint(&o, h->window, 4);
    s_put_str(&o, h->instance);
    s_put_str(&o, h->software);
    return s_finish(&o);
}

size_t bb_encode_hit(const struct bb_hit *h, uint8_t *buf, size_t cap)
{
    struct out o;

    if (s_check_id(h->id, "HIT", NULL) != 0 || h->seq == 0 || h->seq > S_ID_MAX ||
        h->time_us <= 0 || h->priority < 1 || h->priority > 9 || h->match < PROTO_MATCH_EXACT ||
        h->match > PROTO_MATCH_PATTERN ||
        s_check_str(S_NAME, h->camera, 1, PROTO_CAMERA_MAX, "", "", NULL) != 0 ||
        s_check_str(S_PLATE, h->plate, 1, PROTO_PLATE_MAX, "", "", NULL) != 0 ||
        s_check_str(S_NORM, h->plate_norm, 1, PROTO_PLATE_MAX, "", "", NULL) != 0 ||
        s_check_str(S_COUNTRY, h->country, 0, 2, "", "", NULL) != 0 ||
        s_check_str(S_LINE, h->list, 1, PROTO_LIST_MAX, "", "", NULL) != 0 ||
        s_check_str(S_CATEGORY, h->category, 1, PROTO_CATEGORY_MAX, "", "", NULL) != 0 ||
        s_check_str(S_LISTED, h->entry_plate, 1, PROTO_PLATE_MAX, "", "", NULL) != 0 ||
        s_check_str(S_LINE, h->external_ref, 0, PROTO_REF_MAX, "", "", NULL) != 0 ||
        (h->flags & ~BB_HIT_FLAGS) != 0)
        return 0;
    s_begin(&o, buf, cap, BB_HIT);
    s_put_uint(&o, h->id, 8);
    s_put_uint(&o, h->seq, 8);
    s_put_uint(&o, (uint64_t)h->time_us, 8);
    s_put_uint(&o, h->entry_id, 8);
    s_put_uint(&o, h->list_id, 4);
    s_put_uint(&o, h->priority, 1);
    s_put_uint(&o, h->match, 1);
    s_put_str(&o, h->camera);
    s_put_str(&o, h->plate);
    s_put_str(&o, h->plate_norm);
    s_put_str(&o, h->country);
    s_put_str(&o, h->list);
    s_put_str(&o, h->category);
    s_put_str(&o, h->entry_plate);
    s_put_str(&o, h->external_ref);
    if (h->flags != 0)
        s_put_uint(&o, h->flags, 1);
    return s_finish(&o);
}

size_t bb_encode_read(const struct bb_read *r, uint8_t *buf, size_t cap)
{
    struct out o;

    if (s_check_id(r->id, "READ", NULL) != 0 || r->seq == 0 || r->seq > S_ID_MAX ||
        r->time_us <= 0 || r->confidence > PROTO_CONFIDENCE_MAX || r->direction > PROTO_DIR_AWAY ||
        s_check_str(S_NAME, r->camera, 1, PROTO_CAMERA_MAX, "", "", NULL) != 0 ||
        s_check_str(S_PLATE, r->plate, 1, PROTO_PLATE_MAX, "", "", NULL) != 0 ||
        s_check_str(S_NORM, r->plate_norm, 1, PROTO_PLATE_MAX, "", "", NULL) != 0 ||
        s_check_str(S_COUNTRY, r->country, 0, 2, "", "", NULL) != 0 ||
        s_check_str(S_IMAGE, r->image_ref, 0, PROTO_IMAGE_REF_MAX, "", "", NULL) != 0)
        return 0;
    s_begin(&o, buf, cap, BB_READ);
    s_put_uint(&o, r->id, 8);
    s_put_uint(&o, r->seq, 8);
    s_put_uint(&o, (uint64_t)r->time_us, 8);
    s_put_uint(&o, r->confidence, 2);
    s_put_uint(&o, r->lane, 1);
    s_put_uint(&o, r->direction, 1);
    s_put_str(&o, r->camera);
    s_put_str(&o, r->plate);
    s_put_str(&o, r->plate_norm);
    s_put_str(&o, r->country);
    s_put_str(&o, r->image_ref);
    return s_finish(&o);
}

size_t bb_encode_ack(uint64_t upto, uint8_t *buf, size_t cap)
{
    struct out o;

    if (upto > S_ID_MAX)
        return 0;
    s_begin(&o, buf, cap, BB_ACK);
    s_put_uint(&o, upto, 8);
    return s_finish(&o);
}

size_t bb_encode_nack(const struct bb_nack *n, uint8_t *buf, size_t cap)
{
    struct out o;

    if (n->id > S_ID_MAX || s_check_str(S_LINE, n->text, 0, BB_TEXT_MAX, "", "", NULL) != 0)
        return 0;
    s_begin(&o, buf, cap, BB_NACK);
    s_put_uint(&o, n->id, 8);
    s_put_uint(&o, n->reason, 2);
    s_put_str(&o, n->text);
    return s_finish(&o);
}

/* Copy a text for a line field: control characters (tab, line breaks) become spaces. */
static void s_copy_line(char *dst, size_t cap, const char *src)
{
    size_t i = 0;

    for (; src[i] != '\0' && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
    }
    dst[i] = '\0';
}

int bb_hit_from_proto(const struct proto_hit *in, uint64_t id, const char *plate_norm,
                      struct bb_hit *out)
{
    memset(out, 0, sizeof *out);
    if (plate_norm == NULL)
        return -1;
    out->id = id;
    out->seq = in->read.seq;
    out->time_us = in->read.time_us;
    out->entry_id = in->entry_id;
    out->list_id = in->list_id;
    out->priority = in->priority;
    out->match = in->match;
    snprintf(out->camera, sizeof out->camera, "%s", in->read.camera);
    snprintf(out->plate, sizeof out->plate, "%s", in->read.plate);
    snprintf(out->plate_norm, sizeof out->plate_norm, "%s", plate_norm);
    snprintf(out->country, sizeof out->country, "%s", in->read.country);
    s_copy_line(out->list, sizeof out->list, in->list);
    snprintf(out->category, sizeof out->category, "%s", in->category);
    snprintf(out->entry_plate, sizeof out->entry_plate, "%s", in->entry_plate);
    s_copy_line(out->external_ref, sizeof out->external_ref, in->external_ref);
    return 0;
}
