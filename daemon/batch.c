#include "batch.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct batch *batch_new(void)
{
    struct batch *self = calloc(1, sizeof *self);

    if (self)
        batch_reset(self);
    return self;
}

void batch_destroy(struct batch **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->reads.data);
    free((*self_p)->hits.data);
    free((*self_p)->pubs.data);
    free((*self_p)->ids.data);
    free((*self_p)->acks);
    free(*self_p);
    *self_p = NULL;
}

void batch_reset(struct batch *self)
{
    self->reads.len = 0;
    self->hits.len = 0;
    self->pubs.len = 0;
    self->npubs = 0;
    self->nreads = 0;
    self->nhits = 0;
    self->min_day = INT32_MAX;
    self->max_day = INT32_MIN;
    self->first_mono_us = 0;
    self->stored = 0;
    self->hits_stored = 0;
    self->refused = 0;
    self->conflicts = 0;
    self->slow = false;
    self->committed = false;
    self->db_errors = 0;
    self->reconnects = 0;
}

int32_t batch_day(int64_t time_us)
{
    int64_t secs = time_us / 1000000;

    if (time_us < 0 && time_us % 1000000)
        secs--;
    return (int32_t)(secs >= 0 ? secs / 86400 : (secs - 86399) / 86400);
}

static int s_reserve(struct batch_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap - b->len < more)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

/* The callers reserve enough room first, so the appenders below never fail. */
static void s_put(struct batch_buf *b, const char *s, size_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void s_putc(struct batch_buf *b, char c)
{
    b->data[b->len++] = c;
}

static void s_putf(struct batch_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_putf(struct batch_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

/* A text field in COPY text format: backslash, tab, newline and CR escaped. */
static void s_put_text(struct batch_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\':
            s_put(b, "\\\\", 2);
            break;
        case '\t':
            s_put(b, "\\t", 2);
            break;
        case '\n':
            s_put(b, "\\n", 2);
            break;
        case '\r':
            s_put(b, "\\r", 2);
            break;
        default:
            s_putc(b, *s);
        }
    }
}

/* A timestamptz in a form PostgreSQL parses fast and unambiguously. */
static void s_put_time(struct batch_buf *b, int64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    struct tm tm;

    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    gmtime_r(&secs, &tm);
    s_putf(b, "%04d-%02d-%02d %02d:%02d:%02d.%06ld+00", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* The candidates as a text[] literal: elements double-quoted, '"' and '\' escaped inside. */
static void s_put_cands(struct batch_buf *b, const struct proto_read *r)
{
    s_putc(b, '{');
    for (unsigned i = 0; i < r->ncand; i++) {
        if (i)
            s_putc(b, ',');
        s_putc(b, '"');
        for (const char *p = r->cand[i].plate; *p; p++) {
            /* Array-level escape, then the COPY-level escape of that backslash. */
            if (*p == '"')
                s_put(b, "\\\\\"", 3);
            else if (*p == '\\')
                s_put(b, "\\\\\\\\", 4);
            else
                s_putc(b, *p);
        }
        s_putc(b, '"');
    }
    s_put(b, "}\t{", 3);
    for (unsigned i = 0; i < r->ncand; i++)
        s_putf(b, "%s%u", i ? "," : "", r->cand[i].confidence);
    s_putc(b, '}');
}

/* Room for one more ack record; 0 or -1. */
static int s_acks_reserve(struct batch *self)
{
    if (self->nreads < self->acks_cap)
        return 0;
    size_t cap = self->acks_cap ? self->acks_cap * 2 : 1024;
    struct batch_ack *a = realloc(self->acks, cap * sizeof *a);
    if (!a)
        return -1;
    self->acks = a;
    self->acks_cap = cap;
    return 0;
}

int batch_add(struct batch *self, const struct proto_read *r, uint64_t digest, int32_t camera_id,
              const char *plate, int64_t received_us, const uint8_t *id, size_t id_len,
              const struct wl_match *hits, const bool *suppressed, const uint64_t *hit_ids,
              size_t nhits)
{
    /* Worst case: every text byte escaped twice over, plus numbers and separators. */
    size_t row_max = 512 + 2 * (strlen(r->plate) + strlen(r->image_ref)) +
                     PROTO_CAND_MAX * (4 * PROTO_PLATE_MAX + 16);
    struct batch_ack *ack;

    if (id_len > BATCH_ID_MAX)
        return -1;
    if (s_reserve(&self->reads, row_max) != 0 || s_reserve(&self->hits, nhits * 512 + 1) != 0)
        return -1;
    if (s_acks_reserve(self) != 0)
        return -1;

    /* A batch stays far below 4 GiB: batch_size is at most 100 000 rows of < 2 KiB. */
    if (self->reads.len + row_max > UINT32_MAX || self->hits.len + nhits * 512 > UINT32_MAX)
        return -1;
    ack = &self->acks[self->nreads];
    ack->read_off = (uint32_t)self->reads.len;
    ack->hits_off = (uint32_t)self->hits.len;

    /* Columns in the order of BATCH_READ_COLUMNS. */
    struct batch_buf *b = &self->reads;
    s_put_time(b, r->time_us);
    s_putf(b, "\t%" PRId32 "\t%" PRIu32 "\t%" PRIu64 "\t%s\t", camera_id, r->epoch, r->seq, plate);
    s_put_text(b, r->plate);
    s_putf(b, "\t%s\t%u\t%u\t%u\t", r->country, r->confidence, r->lane, r->direction);
    if (r->has_position)
        s_putf(b, "%.7f\t%.7f\t", r->lat_e7 / 1e7, r->lon_e7 / 1e7);
    else
        s_put(b, "\\N\t\\N\t", 6);
    s_put_text(b, r->image_ref);
    s_putc(b, '\t');
    s_put_cands(b, r);
    s_putc(b, '\t');
    s_put_time(b, received_us);
    s_putc(b, '\n');

    /* Columns in the order of BATCH_HIT_COLUMNS. */
    for (size_t i = 0; i < nhits; i++) {
        const struct wl_entry *e = hits[i].entry;
        struct batch_buf *h = &self->hits;
        s_putf(h, "%" PRId32 "\t%" PRIu32 "\t%" PRIu64 "\t", camera_id, r->epoch, r->seq);
        s_put_time(h, r->time_us);
        s_putf(h, "\t%s\t%" PRIu64 "\t%" PRIu32 "\t%u\t", plate, e->id, e->list->id,
               e->list->priority);
        s_put_text(h, e->list->category);
        s_putf(h, "\t%u\t%u\t%u\t", hits[i].kind, hits[i].reading, hits[i].nsubst);
        s_put_text(h, hits[i].detail);
        s_put(h, suppressed[i] ? "\tt" : "\tf", 2);
        s_put(h, e->list->opts.covert ? "\tt" : "\tf", 2);
        s_putf(h, "\t%" PRIu64 "\n", hit_ids[i]);
    }
    self->nhits += nhits;

    self->nreads++;
    ack->read_len = (uint32_t)self->reads.len - ack->read_off;
    ack->hits_len = (uint32_t)self->hits.len - ack->hits_off;
    ack->id_len = (uint8_t)id_len;
    memcpy(ack->id, id, id_len);
    strcpy(ack->camera, r->camera);
    ack->epoch = r->epoch;
    ack->seq = r->seq;
    ack->digest = digest;
    ack->has_digest = true;
    ack->fate = BATCH_STORED;
    ack->camera_id = camera_id;
    ack->time_us = r->time_us;
    ack->received_us = received_us;
    ack->day = batch_day(r->time_us);
    ack->refused[0] = '\0';
    if (ack->day < self->min_day)
        self->min_day = ack->day;
    if (ack->day > self->max_day)
        self->max_day = ack->day;
    return 0;
}

void batch_drop_last(struct batch *self)
{
    if (self->nreads == 0)
        return;
    struct batch_ack *a = &self->acks[--self->nreads];
    for (uint32_t k = 0; k < a->hits_len; k++)
        self->nhits -= self->hits.data[a->hits_off + k] == '\n';
    self->reads.len = a->read_off;
    self->hits.len = a->hits_off;
}

/* The fixed part of a spool record; the read's row and its hit rows follow. */
/*
 * A spool record written before read identities (no tag): epoch 0, digest unknown. Its COPY
 * rows lack the epoch column too; batch_rec_add puts a 0 in.
 */
struct s_rec1 {
    uint32_t read_len, hits_len, nhits;
    int32_t camera_id, day;
    uint64_t seq;
    int64_t time_us;
    char camera[PROTO_CAMERA_MAX + 1];
};

/* Records since: a tag no old record starts with (its read_len is < 64 KiB), then the fields. */
#define S_REC_TAG 0x52494432u /* "RID2" */
struct s_rec {
    uint32_t tag;
    uint32_t read_len, hits_len, nhits;
    int32_t camera_id, day;
    uint32_t epoch;
    uint64_t seq;
    uint64_t digest;
    int64_t time_us;
    char camera[PROTO_CAMERA_MAX + 1];
};

size_t batch_rec_encode(const struct batch *self, size_t i, uint8_t *out, size_t cap)
{
    if (i >= self->nreads)
        return 0;
    const struct batch_ack *a = &self->acks[i];
    struct s_rec h;
    size_t len = sizeof h + a->read_len + a->hits_len;

    if (len > cap)
        return 0;
    /* Zeroed first: padding and the camera's unused bytes go to disk too. */
    memset(&h, 0, sizeof h);
    h.tag = S_REC_TAG;
    h.epoch = a->epoch;
    h.digest = a->digest;
    h.read_len = a->read_len;
    h.hits_len = a->hits_len;
    h.camera_id = a->camera_id;
    h.day = a->day;
    h.seq = a->seq;
    h.time_us = a->time_us;
    for (uint32_t k = 0; k < a->hits_len; k++)
        h.nhits += self->hits.data[a->hits_off + k] == '\n';
    memcpy(h.camera, a->camera, strnlen(a->camera, sizeof h.camera - 1));
    memcpy(out, &h, sizeof h);
    memcpy(out + sizeof h, self->reads.data + a->read_off, a->read_len);
    memcpy(out + sizeof h + a->read_len, self->hits.data + a->hits_off, a->hits_len);
    return len;
}

/*
 * Append COPY rows of an old record, putting "0\t" (epoch 0) after the `col`-th tab of each line:
 * that is where the epoch column now is.
 */
static void s_put_rows_epoch0(struct batch_buf *b, const char *rows, size_t n, int col)
{
    size_t i = 0;

    while (i < n) {
        const char *nl = memchr(rows + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - rows) + 1 : n;
        int tabs = 0;
        size_t k = i;

        while (k < end && tabs < col)
            tabs += rows[k++] == '\t';
        s_put(b, rows + i, k - i);
        if (tabs == col)
            s_put(b, "0\t", 2);
        s_put(b, rows + k, end - k);
        i = end;
    }
}

int batch_rec_add(struct batch *self, const uint8_t *rec, size_t len)
{
    struct s_rec h;
    size_t hlen = sizeof h;
    uint32_t tag = 0;
    bool old = false;

    if (len >= sizeof tag)
        memcpy(&tag, rec, sizeof tag);
    if (tag == S_REC_TAG) {
        if (len < sizeof h)
            return BATCH_REC_BAD;
        memcpy(&h, rec, sizeof h);
    } else {
        struct s_rec1 h1;

        if (len < sizeof h1)
            return BATCH_REC_BAD;
        memcpy(&h1, rec, sizeof h1);
        memset(&h, 0, sizeof h);
        h.read_len = h1.read_len;
        h.hits_len = h1.hits_len;
        h.nhits = h1.nhits;
        h.camera_id = h1.camera_id;
        h.day = h1.day;
        h.seq = h1.seq;
        h.time_us = h1.time_us;
        memcpy(h.camera, h1.camera, sizeof h.camera);
        hlen = sizeof h1;
        old = true;
    }
    if ((uint64_t)h.read_len + h.hits_len != len - hlen ||
        memchr(h.camera, '\0', sizeof h.camera) == NULL || h.read_len == 0)
        return BATCH_REC_BAD;
    /* An old record grows by 2 bytes a row (its epoch column). */
    size_t grow = old ? 2 + 2 * (size_t)h.nhits : 0;
    if (self->reads.len + h.read_len + grow > UINT32_MAX ||
        self->hits.len + h.hits_len + grow > UINT32_MAX)
        return BATCH_REC_NOMEM; /* this batch is full: the next one takes it */
    if (s_reserve(&self->reads, h.read_len + grow) != 0 ||
        s_reserve(&self->hits, h.hits_len + grow + 1) != 0 || s_acks_reserve(self) != 0)
        return BATCH_REC_NOMEM;
    struct batch_ack *a = &self->acks[self->nreads++];
    memset(a, 0, sizeof *a);
    memcpy(a->camera, h.camera, sizeof a->camera);
    a->epoch = h.epoch;
    a->seq = h.seq;
    a->digest = h.digest;
    a->has_digest = !old;
    a->camera_id = h.camera_id;
    a->time_us = h.time_us;
    a->day = h.day;
    a->read_off = (uint32_t)self->reads.len;
    a->hits_off = (uint32_t)self->hits.len;
    if (old) {
        /* read rows: read_time, camera_id, epoch...; hit rows: camera_id, epoch... */
        s_put_rows_epoch0(&self->reads, (const char *)rec + hlen, h.read_len, 2);
        s_put_rows_epoch0(&self->hits, (const char *)rec + hlen + h.read_len, h.hits_len, 1);
    } else {
        s_put(&self->reads, (const char *)rec + hlen, h.read_len);
        s_put(&self->hits, (const char *)rec + hlen + h.read_len, h.hits_len);
    }
    a->read_len = (uint32_t)self->reads.len - a->read_off;
    a->hits_len = (uint32_t)self->hits.len - a->hits_off;
    self->nhits += h.nhits;
    if (h.day < self->min_day)
        self->min_day = h.day;
    if (h.day > self->max_day)
        self->max_day = h.day;
    return 0;
}

int batch_rec_identity(const uint8_t *rec, size_t len, int32_t *camera_id, uint32_t *epoch,
                       uint64_t *seq, uint64_t *digest)
{
    struct s_rec h;
    uint32_t tag = 0;

    if (len >= sizeof tag)
        memcpy(&tag, rec, sizeof tag);
    if (tag != S_REC_TAG) {
        struct s_rec1 h1;
        if (len < sizeof h1)
            return -1;
        memcpy(&h1, rec, sizeof h1);
        *camera_id = h1.camera_id;
        *epoch = 0;
        *seq = h1.seq;
        *digest = 0;
        return 0;
    }
    if (len < sizeof h)
        return -1;
    memcpy(&h, rec, sizeof h);
    *camera_id = h.camera_id;
    *epoch = h.epoch;
    *seq = h.seq;
    *digest = h.digest;
    return 1;
}

/* A field of a binary COPY row: its length (4 bytes, big-endian), then the value. */
static void s_put_be(struct batch_buf *b, uint64_t v, unsigned bytes)
{
    s_putc(b, 0);
    s_putc(b, 0);
    s_putc(b, 0);
    s_putc(b, (char)bytes);
    for (unsigned i = 0; i < bytes; i++)
        s_putc(b, (char)(uint8_t)(v >> (8 * (bytes - 1 - i))));
}

/* A text field of a binary COPY row: its length, then its bytes (at most 255 here). */
static void s_put_field(struct batch_buf *b, const char *text, size_t len)
{
    s_putc(b, 0);
    s_putc(b, 0);
    s_putc(b, 0);
    s_putc(b, (char)(uint8_t)len);
    s_put(b, text, len);
}

int batch_id_rows(const struct batch *self, size_t from, size_t to, struct batch_buf *out)
{
    /* Binary COPY: these rows are five integers, which PostgreSQL takes as they are instead of
     * parsing digits (a third of the COPY's cost), and the plate. Header: signature, flags,
     * extension. */
    static const char sig[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

    out->len = 0;
    if (to > self->nreads)
        to = self->nreads;
    if (s_reserve(out, sizeof sig + (to - from) * (58 + PROTO_PLATE_MAX) + 2) != 0)
        return -1;
    s_put(out, sig, sizeof sig);
    for (size_t i = from; i < to; i++) {
        const struct batch_ack *a = &self->acks[i];
        /* The normalised plate is the read row's fifth column (BATCH_READ_COLUMNS): letters
         * and digits, never escaped. */
        const char *row = self->reads.data + a->read_off, *end = row + a->read_len, *p = row;
        for (int tabs = 0; tabs < 4 && p < end; p++)
            tabs += *p == '\t';
        const char *q = memchr(p, '\t', (size_t)(end - p));
        size_t plen = q ? (size_t)(q - p) : 0;

        s_putc(out, 0);
        s_putc(out, 6); /* fields */
        s_put_be(out, (uint32_t)a->camera_id, 4);
        s_put_be(out, a->epoch, 8);
        s_put_be(out, a->seq, 8);
        s_put_be(out, (uint64_t)a->time_us, 8);
        /* The digest as a signed bigint; none: NULL (length -1), judged by the time. */
        if (a->has_digest) {
            s_put_be(out, a->digest, 8);
        } else {
            for (int k = 0; k < 4; k++)
                s_putc(out, (char)0xFF);
        }
        if (plen > PROTO_PLATE_MAX)
            plen = PROTO_PLATE_MAX;
        s_put_field(out, p, plen);
    }
    s_putc(out, (char)0xFF); /* trailer: -1 */
    s_putc(out, (char)0xFF);
    return 0;
}

/* A publication: its fixed part, the topic, the frame. */
struct s_pub {
    uint32_t len;
    uint8_t covert, tlen, priority, kind;
    uint32_t read;
    uint32_t list_id;
    uint64_t hit_id;
};

int batch_pub_add(struct batch *self, const struct batch_pub *pub)
{
    struct s_pub h;

    if (pub->tlen > UINT8_MAX || pub->len > UINT32_MAX ||
        s_reserve(&self->pubs, sizeof h + pub->tlen + pub->len) != 0)
        return -1;
    memset(&h, 0, sizeof h);
    h.len = (uint32_t)pub->len;
    h.covert = pub->covert;
    h.tlen = (uint8_t)pub->tlen;
    h.priority = pub->priority;
    h.hit_id = pub->hit_id;
    h.read = pub->read;
    h.list_id = pub->list_id;
    h.kind = pub->kind;
    s_put(&self->pubs, (const char *)&h, sizeof h);
    s_put(&self->pubs, pub->topic, pub->tlen);
    s_put(&self->pubs, (const char *)pub->frame, pub->len);
    self->npubs++;
    return 0;
}

bool batch_pub_next(const struct batch *self, size_t *off, struct batch_pub *pub)
{
    struct s_pub h;

    if (*off + sizeof h > self->pubs.len)
        return false;
    memcpy(&h, self->pubs.data + *off, sizeof h);
    pub->covert = h.covert;
    pub->tlen = h.tlen;
    pub->priority = h.priority;
    pub->hit_id = h.hit_id;
    pub->read = h.read;
    pub->list_id = h.list_id;
    pub->kind = h.kind;
    pub->topic = self->pubs.data + *off + sizeof h;
    pub->frame = (const uint8_t *)pub->topic + h.tlen;
    pub->len = h.len;
    *off += sizeof h + h.tlen + h.len;
    return true;
}
