/*
 * fuzz_proto: the other decoders of the reader protocol (ACK, REJECT, HIT, HEARTBEAT: what a
 * camera reader and a dispatch subscriber take from anprd) and the header check, all on every
 * input. As for READ: a refusal names a reason, and a frame that decodes encodes back to the same
 * bytes.
 */
#include "fuzz.h"
#include "proto.h"

#include <string.h>

static uint8_t s_out[PROTO_MAX_FRAME];

static void s_refused(const struct proto_error *err)
{
    FUZZ_REQUIRE(err->reason > PROTO_OK && err->reason < PROTO_REASON_COUNT);
    FUZZ_REQUIRE(FUZZ_CSTR(err->msg) && err->msg[0] && !strchr(err->msg, '\n'));
}

static void s_same(size_t n, const uint8_t *data, size_t size)
{
    FUZZ_REQUIRE(n == size && memcmp(s_out, data, size) == 0);
}

static void s_ack(const uint8_t *data, size_t size, size_t max)
{
    struct proto_ack_range ranges[PROTO_ACK_MAX_RANGES];
    struct proto_error err;
    size_t nranges = 0;

    if (proto_decode_ack(data, size, ranges, max, &nranges, &err) != 0) {
        s_refused(&err);
        return;
    }
    FUZZ_REQUIRE(nranges >= 1 && nranges <= max);
    for (size_t i = 0; i < nranges; i++) {
        FUZZ_REQUIRE(proto_camera_valid(ranges[i].camera));
        FUZZ_REQUIRE(ranges[i].count >= 1 && ranges[i].first_seq >= 1);
    }
    s_same(proto_encode_ack(ranges, nranges, s_out, sizeof s_out), data, size);
}

static void s_reject(const uint8_t *data, size_t size)
{
    struct proto_reject rej;
    struct proto_error err;

    if (proto_decode_reject(data, size, &rej, &err) != 0) {
        s_refused(&err);
        return;
    }
    FUZZ_REQUIRE(FUZZ_CSTR(rej.camera) && FUZZ_CSTR(rej.text));
    s_same(proto_encode_reject(&rej, s_out, sizeof s_out), data, size);
}

static void s_hit(const uint8_t *data, size_t size)
{
    struct proto_hit hit;
    struct proto_error err;

    if (proto_decode_hit(data, size, &hit, &err) != 0) {
        s_refused(&err);
        return;
    }
    FUZZ_REQUIRE(proto_match_name(hit.match) != NULL);
    FUZZ_REQUIRE(hit.reading <= hit.read.ncand);
    FUZZ_REQUIRE(FUZZ_CSTR(hit.list) && FUZZ_CSTR(hit.category) && FUZZ_CSTR(hit.entry_plate));
    FUZZ_REQUIRE(FUZZ_CSTR(hit.instruction) && FUZZ_CSTR(hit.external_ref));
    FUZZ_REQUIRE(FUZZ_CSTR(hit.detail) && proto_camera_valid(hit.read.camera));
    s_same(proto_encode_hit(&hit, s_out, sizeof s_out), data, size);
}

static void s_heartbeat(const uint8_t *data, size_t size)
{
    struct proto_heartbeat hb;
    struct proto_error err;

    if (proto_decode_heartbeat(data, size, &hb, &err) != 0) {
        s_refused(&err);
        return;
    }
    FUZZ_REQUIRE(hb.time_us > 0 && hb.reporting <= hb.cameras);
    FUZZ_REQUIRE(hb.nsilent <= PROTO_HB_SILENT_MAX && hb.nsilent <= hb.cameras - hb.reporting);
    for (unsigned i = 0; i < hb.nsilent; i++)
        FUZZ_REQUIRE(proto_camera_valid(hb.silent[i]));
    s_same(proto_encode_heartbeat(&hb, s_out, sizeof s_out), data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_error err;
    uint8_t type = 0;

    if (proto_peek(data, size, &type, &err) != 0)
        s_refused(&err);
    s_ack(data, size, PROTO_ACK_MAX_RANGES);
    s_ack(data, size, 1);
    s_reject(data, size);
    s_hit(data, size);
    s_heartbeat(data, size);
    return 0;
}
