/* test_supp: repeat-hit suppression windows. */
#include "check.h"
#include "supp.h"

#define S(x) ((int64_t)(x)*1000000)

int main(void)
{
    supp_t *s = supp_new();

    CHECK(s != NULL);
    /* The first hit alerts; a repeat within the window does not; after it, it alerts again. */
    CHECK(!supp_check(s, 1, "1ABC123", 10, S(1000), 300, false));
    CHECK(supp_check(s, 1, "1ABC123", 10, S(1100), 300, false));
    CHECK(supp_check(s, 1, "1ABC123", 10, S(1299), 300, false));
    CHECK(!supp_check(s, 1, "1ABC123", 10, S(1300), 300, false));
    /* The window runs from the last alert (1300), not from the last sighting. */
    CHECK(supp_check(s, 1, "1ABC123", 10, S(1599), 300, false));
    CHECK(!supp_check(s, 1, "1ABC123", 10, S(1600), 300, false));
    /* Other plates and other entries never suppress each other. */
    CHECK(!supp_check(s, 1, "1ABC124", 10, S(1601), 300, false));
    CHECK(!supp_check(s, 2, "1ABC123", 10, S(1601), 300, false));
    /* Another camera: suppressed, unless the list re-alerts per camera. */
    CHECK(supp_check(s, 1, "1ABC123", 11, S(1602), 300, false));
    CHECK(!supp_check(s, 1, "1ABC123", 11, S(1603), 300, true));
    CHECK(supp_check(s, 1, "1ABC123", 11, S(1604), 300, true));
    /* A window of 0 alerts every time. */
    CHECK(!supp_check(s, 3, "9XYZ999", 10, S(2000), 0, false));
    CHECK(!supp_check(s, 3, "9XYZ999", 10, S(2000), 0, false));
    /* A late resend (older than the last alert) is suppressed and does not move the window. */
    CHECK(supp_check(s, 1, "1ABC123", 11, S(1500), 300, true));
    CHECK(!supp_check(s, 1, "1ABC123", 11, S(1903), 300, true));

    /* Many plates: the table grows, and expiry forgets the old alerts. */
    char plate[17];
    for (int i = 0; i < 20000; i++) {
        snprintf(plate, sizeof plate, "P%07d", i);
        CHECK_INT(supp_check(s, 7, plate, 1, S(5000 + i / 100), 600, false), 0);
    }
    CHECK(supp_count(s) >= 20000);
    snprintf(plate, sizeof plate, "P%07d", 12345);
    CHECK(supp_check(s, 7, plate, 1, S(5300), 600, false));
    supp_expire(s, S(5000 + 150 + 600), 600); /* forget alerts before t = 5150 */
    CHECK(supp_count(s) < 20000);
    snprintf(plate, sizeof plate, "P%07d", 10);
    CHECK(!supp_check(s, 7, plate, 1, S(5700), 600, false)); /* forgotten: alerts */
    snprintf(plate, sizeof plate, "P%07d", 19999);
    CHECK(supp_check(s, 7, plate, 1, S(5700), 600, false)); /* kept: suppressed */
    supp_destroy(&s);
    supp_destroy(&s);
    CHECK(s == NULL);
    return check_done("supp");
}
