#include "reply.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "util.h"

struct reply {
    struct reply_io io;
    int64_t interval_us;                 /* one REJECT per reason told per interval */
    struct metrics_hist *ack_latency;    /* borrowed; NULL = not measured */
    int64_t told_us[PROTO_REASON_COUNT]; /* when io.rejected last heard of each reason */
    uint64_t quiet[PROTO_REASON_COUNT];  /* REJECTs of each reason not told since */
};

reply_t *reply_new(const struct reply_io *io, int64_t interval_us)
{
    reply_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->io = *io;
    self->interval_us = interval_us;
    return self;
}

void reply_destroy(reply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void reply_set_interval(reply_t *self, int64_t interval_us)
{
    self->interval_us = interval_us;
}

void reply_set_latency(reply_t *self, struct metrics_hist *ack_latency)
{
    self->ack_latency = ack_latency;
}

/* Send one frame to the reader with routing id `id`; never blocks. 0 or -1. */
static int s_send_to(reply_t *self, const uint8_t *id, size_t id_len, const uint8_t *frame,
                     size_t len)
{
    if (zmq_send(self->io.router, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) != (int)id_len)
        return -1;
    return zmq_send(self->io.router, frame, len, ZMQ_DONTWAIT) == (int)len ? 0 : -1;
}

void reply_reject(reply_t *self, const uint8_t *id, size_t id_len, const char *camera,
                  uint32_t epoch, uint64_t seq, const struct proto_error *perr)
{
    struct proto_reject rej;
    uint8_t frame[PROTO_MAX_FRAME];
    int64_t now = util_mono_us();
    enum proto_reason reason = perr->reason;
    size_t len;

    self->io.stats->rejects[reason]++;
    memset(&rej, 0, sizeof rej);
    if (camera && proto_camera_valid(camera))
        snprintf(rej.camera, sizeof rej.camera, "%s", camera);
    rej.seq = rej.camera[0] ? seq : 0;
    rej.epoch = rej.camera[0] ? epoch : 0;
    rej.reason = (uint16_t)reason;
    snprintf(rej.text, sizeof rej.text, "%s", perr->msg);
    len = proto_encode_reject(&rej, frame, sizeof frame);
    if (len == 0) {
        /* The text broke a limit (it never should): say the reason alone. */
        rej.text[0] = '\0';
        len = proto_encode_reject(&rej, frame, sizeof frame);
    }
    if (len == 0 || s_send_to(self, id, id_len, frame, len) != 0)
        self->io.stats->acks_unroutable++;

    if (now - self->told_us[reason] >= self->interval_us) {
        if (self->io.rejected)
            self->io.rejected(self->io.ctx, &rej, perr->msg, self->quiet[reason]);
        self->told_us[reason] = now;
        self->quiet[reason] = 0;
    } else {
        self->quiet[reason]++;
    }
}

void reply_reject_read(reply_t *self, const uint8_t *id, size_t id_len, const struct proto_read *r,
                       enum proto_reason reason, const char *fmt, ...)
{
    struct proto_error perr;
    va_list ap;

    perr.reason = reason;
    va_start(ap, fmt);
    vsnprintf(perr.msg, sizeof perr.msg, fmt, ap);
    va_end(ap);
    reply_reject(self, id, id_len, r->camera, r->epoch, r->seq, &perr);
}

void reply_reject_reason(reply_t *self, const uint8_t *id, size_t id_len, const char *camera,
                         uint64_t seq, enum proto_reason reason, const char *fmt, ...)
{
    struct proto_error perr;
    va_list ap;

    perr.reason = reason;
    va_start(ap, fmt);
    vsnprintf(perr.msg, sizeof perr.msg, fmt, ap);
    va_end(ap);
    reply_reject(self, id, id_len, camera, 0, seq, &perr);
}

static int s_ack_cmp(const void *a, const void *b)
{
    const struct batch_ack *x = a, *y = b;
    int c;

    if (x->id_len != y->id_len)
        return x->id_len < y->id_len ? -1 : 1;
    if ((c = memcmp(x->id, y->id, x->id_len)) != 0)
        return c;
    if ((c = strcmp(x->camera, y->camera)) != 0)
        return c;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void s_flush_acks(reply_t *self, const struct batch_ack *who,
                         const struct proto_ack_range *ranges, size_t n)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t len = proto_encode_ack(ranges, n, frame, sizeof frame);

    if (len == 0 || s_send_to(self, who->id, who->id_len, frame, len) != 0)
        self->io.stats->acks_unroutable++;
}

void reply_ack_batch(reply_t *self, struct batch *b)
{
    struct proto_ack_range ranges[PROTO_ACK_MAX_RANGES];
    size_t n = 0;
    const struct batch_ack *who = NULL;

    qsort(b->acks, b->nreads, sizeof *b->acks, s_ack_cmp);
    for (size_t i = 0; i < b->nreads; i++) {
        const struct batch_ack *a = &b->acks[i];
        if (a->refused[0] || a->fate == BATCH_CONFLICT) {
            struct proto_error perr;

            perr.reason = a->refused[0] ? PROTO_E_FIELD : PROTO_E_CONFLICT;
            if (a->refused[0])
                snprintf(perr.msg, sizeof perr.msg, "the database refused the read (SQLSTATE %s)",
                         a->refused);
            else
                snprintf(perr.msg, sizeof perr.msg, "%s", REPLY_CONFLICT_TEXT);
            reply_reject(self, a->id, a->id_len, a->camera, a->epoch, a->seq, &perr);
            continue;
        }
        bool same_reader = who && who->id_len == a->id_len && !memcmp(who->id, a->id, a->id_len);

        if (same_reader && n > 0 && strcmp(ranges[n - 1].camera, a->camera) == 0 &&
            ranges[n - 1].epoch == a->epoch) {
            struct proto_ack_range *r = &ranges[n - 1];
            if (a->seq == r->first_seq + r->count - 1)
                continue; /* the same read twice in one batch (a resend) */
            if (a->seq == r->first_seq + r->count) {
                r->count++;
                continue;
            }
        }
        if (n > 0 && (!same_reader || n == PROTO_ACK_MAX_RANGES ||
                      (ranges[0].epoch != 0) != (a->epoch != 0))) {
            s_flush_acks(self, who, ranges, n);
            n = 0;
        }
        who = a;
        snprintf(ranges[n].camera, sizeof ranges[n].camera, "%s", a->camera);
        ranges[n].epoch = a->epoch;
        ranges[n].first_seq = a->seq;
        ranges[n].count = 1;
        n++;
    }
    if (n > 0)
        s_flush_acks(self, who, ranges, n);
    self->io.stats->reads_acked += b->nreads - b->refused - b->conflicts;
    if (self->ack_latency) {
        int64_t now = util_now_us();
        for (size_t i = 0; i < b->nreads; i++)
            if (!b->acks[i].refused[0] && b->acks[i].fate != BATCH_CONFLICT)
                metrics_hist_latency(self->ack_latency, now - b->acks[i].received_us);
    }
}
