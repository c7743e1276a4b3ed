/*
 * fuzz_proto_read: the READ decoder (proto_decode_read), what every camera on the network can
 * send to the ingest socket. Beyond "no crash, no over-read": a refusal names a reason and a
 * one-line text; a frame that decodes has fields within their limits, and encodes back to
 * exactly the same bytes (the encoding is canonical, so a decoder that accepts more than the
 * encoder writes is a bug in one of them).
 */
#include "fuzz.h"
#include "proto.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_read r;
    struct proto_error err;
    uint8_t type, out[PROTO_MAX_FRAME];

    if (proto_peek(data, size, &type, &err) != 0)
        FUZZ_REQUIRE(err.reason != PROTO_OK && proto_decode_read(data, size, &r, NULL) != 0);

    if (proto_decode_read(data, size, &r, &err) != 0) {
        FUZZ_REQUIRE(err.reason > PROTO_OK && err.reason < PROTO_REASON_COUNT);
        FUZZ_REQUIRE(FUZZ_CSTR(err.msg) && err.msg[0] && !strchr(err.msg, '\n'));
        FUZZ_REQUIRE(proto_reason_name(err.reason) != NULL);
        FUZZ_REQUIRE(FUZZ_CSTR(r.camera));
        return 0;
    }
    FUZZ_REQUIRE(err.reason == PROTO_OK && err.msg[0] == '\0');
    FUZZ_REQUIRE(type == PROTO_READ);
    FUZZ_REQUIRE(proto_decode_read(data, size, &r, NULL) == 0);
    FUZZ_REQUIRE(proto_camera_valid(r.camera) && proto_country_valid(r.country));
    FUZZ_REQUIRE(proto_plate_check(r.plate, strlen(r.plate)) == PROTO_OK);
    FUZZ_REQUIRE(r.confidence <= PROTO_CONFIDENCE_MAX && r.ncand <= PROTO_CAND_MAX);
    FUZZ_REQUIRE(r.seq >= 1 && r.seq <= INT64_MAX && r.time_us > 0);
    for (unsigned i = 0; i < r.ncand; i++) {
        FUZZ_REQUIRE(proto_plate_check(r.cand[i].plate, strlen(r.cand[i].plate)) == PROTO_OK);
        FUZZ_REQUIRE(r.cand[i].confidence <= PROTO_CONFIDENCE_MAX);
    }
    FUZZ_REQUIRE(FUZZ_CSTR(r.image_ref));

    size_t n = proto_encode_read(&r, out, sizeof out);
    FUZZ_REQUIRE(n == size && memcmp(out, data, size) == 0);
    return 0;
}
