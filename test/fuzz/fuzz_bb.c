/*
 * fuzz_bb: the backbone link decoders (what the national server, or whoever sits on the path,
 * can send anprd, and what the reference sink takes), the stream header check and the id
 * peek. A refusal names a reason; a frame that decodes encodes back to the same bytes; the id
 * that bb_frame_id() reads is the one the decoder reads.
 */
#include "bb.h"
#include "fuzz.h"

#include <string.h>

static uint8_t s_out[BB_MAX_FRAME];

static void s_refused(const struct bb_error *err)
{
    FUZZ_REQUIRE(err->reason > BB_OK && err->reason < BB_REASON_COUNT);
    FUZZ_REQUIRE(FUZZ_CSTR(err->msg) && err->msg[0] && !strchr(err->msg, '\n'));
    FUZZ_REQUIRE(bb_reason_name(err->reason) != NULL);
}

static void s_same(size_t n, const uint8_t *data, size_t size)
{
    FUZZ_REQUIRE(n == size && memcmp(s_out, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bb_error err;
    struct bb_hello hello;
    struct bb_hit hit;
    struct bb_read rd;
    struct bb_nack nack;
    uint64_t upto, id = bb_frame_id(data, size);
    uint8_t type = 0;
    size_t flen = 0;

    if (size >= BB_HDR_LEN) {
        if (bb_header(data, size, &type, &flen, &err) == 0)
            FUZZ_REQUIRE(flen >= BB_HDR_LEN && flen <= BB_MAX_FRAME && bb_type_name(type));
        else
            s_refused(&err);
    }

    if (bb_decode_hello(data, size, &hello, &err) == 0) {
        FUZZ_REQUIRE(FUZZ_CSTR(hello.instance) && FUZZ_CSTR(hello.software));
        FUZZ_REQUIRE(hello.window <= BB_WINDOW_MAX);
        s_same(bb_encode_hello(&hello, s_out, sizeof s_out), data, size);
    } else {
        s_refused(&err);
    }
    if (bb_decode_hit(data, size, &hit, &err) == 0) {
        FUZZ_REQUIRE(hit.id == id && hit.id >= 1);
        FUZZ_REQUIRE(proto_camera_valid(hit.camera) && proto_country_valid(hit.country));
        FUZZ_REQUIRE(FUZZ_CSTR(hit.plate_norm) && FUZZ_CSTR(hit.entry_plate));
        s_same(bb_encode_hit(&hit, s_out, sizeof s_out), data, size);
    } else {
        s_refused(&err);
    }
    if (bb_decode_read(data, size, &rd, &err) == 0) {
        FUZZ_REQUIRE(rd.id == id && rd.id >= 1);
        FUZZ_REQUIRE(proto_camera_valid(rd.camera) && FUZZ_CSTR(rd.image_ref));
        s_same(bb_encode_read(&rd, s_out, sizeof s_out), data, size);
    } else {
        s_refused(&err);
    }
    if (bb_decode_ack(data, size, &upto, &err) == 0)
        s_same(bb_encode_ack(upto, s_out, sizeof s_out), data, size);
    else
        s_refused(&err);
    if (bb_decode_nack(data, size, &nack, &err) == 0) {
        FUZZ_REQUIRE(FUZZ_CSTR(nack.text));
        s_same(bb_encode_nack(&nack, s_out, sizeof s_out), data, size);
    } else {
        s_refused(&err);
    }
    return 0;
}
