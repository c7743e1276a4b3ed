/* test_supp: repeat-hit suppression windows. */
#include "check.h"
#include "supp.h"

#define S(x) ((int64_t)(x)*1000000)

/* What ingest does with one hit: held back, or alerted and remembered. Returns "alerted". */
static bool s_hit(supp_t *s, uint64_t entry, const char *plate, int32_t cam, int64_t t,
                  uint32_t window, bool realert)
{
    if (supp_peek(s, entry, plate, cam, t, window, realert))
        return false;
    supp_note(s, entry, plate, cam, t, t, window, realert, (uint64_t)t);
    return true;
}

int main(void)
{
    supp_t *s = supp_new();

    CHECK(s != NULL);
    /* The first hit alerts; a repeat within the window does not; after it, it alerts again. */
    CHECK(s_hit(s, 1, "1ABC123", 10, S(1000), 300, false));
    CHECK(!s_hit(s, 1, "1ABC123", 10, S(1100), 300, false));
    CHECK(!s_hit(s, 1, "1ABC123", 10, S(1299), 300, false));
    CHECK(s_hit(s, 1, "1ABC123", 10, S(1300), 300, false));
    /* The window runs from the last alert (1300), not from the last sighting. */
    CHECK(!s_hit(s, 1, "1ABC123", 10, S(1599), 300, false));
    CHECK(s_hit(s, 1, "1ABC123", 10, S(1600), 300, false));
    /* Other plates and other entries never suppress each other. */
    CHECK(s_hit(s, 1, "1ABC124", 10, S(1601), 300, false));
    CHECK(s_hit(s, 2, "1ABC123", 10, S(1601), 300, false));
    /* Another camera: held back, unless the list re-alerts per camera. */
    CHECK(!s_hit(s, 1, "1ABC123", 11, S(1602), 300, false));
    CHECK(s_hit(s, 1, "1ABC123", 11, S(1603), 300, true));
    CHECK(!s_hit(s, 1, "1ABC123", 11, S(1604), 300, true));
    /* A window of 0 alerts every time and remembers nothing. */
    size_t before = supp_count(s);
    CHECK(s_hit(s, 3, "9XYZ999", 10, S(2000), 0, false));
    CHECK(s_hit(s, 3, "9XYZ999", 10, S(2000), 0, false));
    CHECK_INT(supp_count(s), before);

    /* A late read (a backlog) before the last alert is a repeat, and does not move the window
     * back: camera A alerts at 5000; B's backlog read of 4900 is held back; A at 5250 still
     * is held back (within 300 s of 5000), and the window did not move to 4900. */
    CHECK(s_hit(s, 4, "2DEF456", 20, S(5000), 300, false));
    CHECK(!s_hit(s, 4, "2DEF456", 21, S(4900), 300, false));
    CHECK(!s_hit(s, 4, "2DEF456", 20, S(5250), 300, false));
    CHECK(s_hit(s, 4, "2DEF456", 20, S(5300), 300, false));
    /* A read from far back (outside the window) alerts, but the window stays at the newest. */
    CHECK(s_hit(s, 4, "2DEF456", 21, S(4000), 300, false));
    CHECK(!s_hit(s, 4, "2DEF456", 20, S(5550), 300, false));

    /* Per-camera windows: two lanes of one gantry alternating do not re-alert each read. */
    CHECK(s_hit(s, 5, "3GHI789", 30, S(7000), 300, true));
    CHECK(s_hit(s, 5, "3GHI789", 31, S(7010), 300, true));
    CHECK(!s_hit(s, 5, "3GHI789", 30, S(7020), 300, true));
    CHECK(!s_hit(s, 5, "3GHI789", 31, S(7030), 300, true));
    CHECK(!s_hit(s, 5, "3GHI789", 30, S(6990), 300, true)); /* a resend of an older read */

    /* Following the car: a repeat held back at another camera names the alert's HIT, once per
     * camera change; the same camera again is not news; a late read does not move it back. */
    CHECK_INT(supp_note(s, 6, "6FOL666", 40, S(8000), S(8000), 600, false, 111), 0);
    CHECK(supp_peek(s, 6, "6FOL666", 41, S(8010), 600, false));
    CHECK_INT(supp_seen(s, 6, "6FOL666", 41, S(8010), false), 111);
    CHECK_INT(supp_seen(s, 6, "6FOL666", 41, S(8020), false), 0);
    CHECK_INT(supp_seen(s, 6, "6FOL666", 40, S(8005), false), 0); /* older than at 41 */
    CHECK_INT(supp_seen(s, 6, "6FOL666", 42, S(8030), false), 111);
    CHECK_INT(supp_seen(s, 6, "6FOL666", 40, S(8040), false), 111);
    CHECK_INT(supp_seen(s, 6, "6FOL999", 41, S(8040), false), 0); /* another car */
    /* After the window, the next alert at another camera names the alert it replaces. */
    CHECK(!supp_peek(s, 6, "6FOL666", 43, S(8700), 600, false));
    CHECK_INT(supp_note(s, 6, "6FOL666", 43, S(8700), S(8700), 600, false, 222), 111);
    CHECK_INT(supp_seen(s, 6, "6FOL666", 44, S(8710), false), 222);
    CHECK(!supp_peek(s, 6, "6FOL666", 44, S(9400), 600, false));
    CHECK_INT(supp_note(s, 6, "6FOL666", 44, S(9400), S(9400), 600, false, 333), 0);

    /* Many plates: the table grows, and expiry forgets the old alerts. */
    char plate[17];
    size_t base = supp_count(s);
    for (int i = 0; i < 20000; i++) {
        snprintf(plate, sizeof plate, "P%07d", i);
        CHECK(s_hit(s, 7, plate, 1, S(10000 + i / 100), 600, false));
    }
    CHECK_INT(supp_count(s), base + 20000);
    /* Alerts at 10000..10199; forget those before 10150: 5000 of the 20000 remain. */
    supp_expire(s, S(10150 + 600), 600);
    CHECK_INT(supp_count(s), 5000);
    snprintf(plate, sizeof plate, "P%07d", 10);
    CHECK(!supp_peek(s, 7, plate, 1, S(10010), 600, false)); /* forgotten */
    CHECK(s_hit(s, 7, plate, 1, S(10020), 600, false));
    snprintf(plate, sizeof plate, "P%07d", 19999);
    CHECK(!s_hit(s, 7, plate, 1, S(10250), 600, false)); /* kept: held back */
    /* Expiry goes by when an alert was noted, not by the read's time: a backlog read from a
     * day ago, noted now, is kept. */
    CHECK(s_hit(s, 8, "4OLD444", 1, S(20000), 600, false));
    supp_note(s, 9, "5BKL555", 1, S(100), S(20000), 600, false, 1);
    supp_expire(s, S(20100), 600);
    CHECK(supp_peek(s, 9, "5BKL555", 1, S(101), 600, false));
    /* Expire everything: the table shrinks and still works. */
    supp_expire(s, S(99999), 600);
    CHECK_INT(supp_count(s), 0);
    CHECK(s_hit(s, 7, plate, 1, S(100000), 600, false));
    CHECK(!s_hit(s, 7, plate, 1, S(100001), 600, false));
    supp_destroy(&s);
    supp_destroy(&s);
    CHECK(s == NULL);
    return check_done("supp");
}
