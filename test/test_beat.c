/* test_beat: the dispatch feed's heartbeat: cameras reporting and silent, the frame. */
#include "beat.h"
#include "cam.h"
#include "check.h"
#include "proto.h"

#include <stdio.h>

#define S(x) ((int64_t)(x)*1000000)

static struct proto_heartbeat s_frame(const beat_t *b, int64_t mono, uint32_t silent_s)
{
    uint8_t buf[PROTO_MAX_FRAME];
    struct proto_heartbeat hb;
    struct proto_error err;
    size_t n = beat_frame(b, 1795000000000000LL, mono, 7, 2000, silent_s, buf, sizeof buf);

    CHECK(n > 0);
    CHECK_INT(proto_decode_heartbeat(buf, n, &hb, &err), 0);
    return hb;
}

int main(void)
{
    beat_t *b = beat_new();
    cam_table_t *cams = cam_table_new(64);
    char code[16];

    CHECK(b != NULL && cams != NULL);
    /* No cameras: a heartbeat all the same. */
    struct proto_heartbeat hb = s_frame(b, S(100), 600);
    CHECK_INT(hb.cameras, 0);
    CHECK_INT(hb.instance, 7);
    CHECK_INT(hb.interval_ms, 2000);

    for (int i = 1; i <= 12; i++) {
        snprintf(code, sizeof code, "cam-%02d", i);
        CHECK_INT(cam_table_add(cams, code, i * 3, false), 0);
    }
    CHECK_INT(beat_set_cameras(b, cams, S(1000)), 0);
    /* Just joined: none is silent before silent_after_s has passed. */
    hb = s_frame(b, S(1300), 600);
    CHECK_INT(hb.cameras, 12);
    CHECK_INT(hb.reporting, 12);
    CHECK_INT(hb.nsilent, 0);
    /* cam-01..cam-03 send reads; the others are silent; the 8 silent longest are named, by
     * the time of their last frame, then by id. */
    for (int i = 1; i <= 3; i++)
        beat_seen(b, i * 3, S(1500));
    beat_seen(b, 4 * 3, S(1100)); /* cam-04 then stops: silent, but for less long */
    beat_seen(b, 999, S(1500));   /* an id not in the table: nothing */
    hb = s_frame(b, S(1800), 600);
    CHECK_INT(hb.cameras, 12);
    CHECK_INT(hb.reporting, 3);
    CHECK_INT(hb.nsilent, 8);
    CHECK_STR(hb.silent[0], "cam-05");
    CHECK_STR(hb.silent[7], "cam-12");
    /* cam-04 (last at 1100) is silent for less long than cam-05..12 (since 1000): not named
     * among 8; with 5..12 reporting it is the only one named. */
    for (int i = 5; i <= 12; i++)
        beat_seen(b, i * 3, S(1790));
    hb = s_frame(b, S(1800), 600);
    CHECK_INT(hb.reporting, 11);
    CHECK_INT(hb.nsilent, 1);
    CHECK_STR(hb.silent[0], "cam-04");
    /* A reload keeps the last frame of the cameras that stay; a new one counts from then. */
    cam_table_t *cams2 = cam_table_new(64);
    CHECK_INT(cam_table_add(cams2, "cam-04", 12, false), 0);
    CHECK_INT(cam_table_add(cams2, "cam-new", 100, false), 0);
    CHECK_INT(beat_set_cameras(b, cams2, S(1800)), 0);
    hb = s_frame(b, S(1800), 600);
    CHECK_INT(hb.cameras, 2);
    CHECK_INT(hb.reporting, 1);
    CHECK_INT(hb.nsilent, 1);
    CHECK_STR(hb.silent[0], "cam-04");
    /* Out of range: no frame. */
    uint8_t buf[PROTO_MAX_FRAME];
    CHECK_INT(beat_frame(b, 1, S(1800), 7, 0, 600, buf, sizeof buf), 0);
    CHECK_INT(beat_frame(b, 1, S(1800), 1024, 2000, 600, buf, sizeof buf), 0);
    CHECK_INT(beat_frame(b, 1, S(1800), 7, 2000, 600, buf, 20), 0);

    cam_table_destroy(&cams);
    cam_table_destroy(&cams2);
    beat_destroy(&b);
    beat_destroy(&b);
    CHECK(b == NULL);
    return check_done("beat");
}
