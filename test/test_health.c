/* test_health: the console's feed health: connected, lost after three intervals, back. */
#include "check.h"
#include "health.h"

#define S(x) ((int64_t)(x)*1000000)

int main(void)
{
    struct health h;
    struct proto_heartbeat hb = {.time_us = 1795000000000000LL,
                                 .instance = 2,
                                 .interval_ms = 1000,
                                 .silent_after_s = 600,
                                 .cameras = 5,
                                 .reporting = 3,
                                 .nsilent = 1,
                                 .silent = {"BE-N77-LANAKEN"}};
    char line[512];

    /* Nothing yet: waiting, then lost after three default intervals (6 s). */
    health_init(&h, "tcp://anprd:5556", S(100));
    CHECK_INT(health_poll(&h, S(100)), HEALTH_NONE);
    health_line(&h, S(101), S(5000), line, sizeof line);
    CHECK_CONTAINS(line, "waiting for anprd at tcp://anprd:5556");
    CHECK_INT(health_deadline(&h), S(106));
    CHECK_INT(health_poll(&h, S(105)), HEALTH_NONE);
    CHECK_INT(health_poll(&h, S(106)), HEALTH_LOST);
    CHECK_INT(health_poll(&h, S(107)), HEALTH_NONE); /* said once */
    health_line(&h, S(107), S(5000), line, sizeof line);
    CHECK_CONTAINS(line, "FEED LOST: nothing from anprd at tcp://anprd:5556 in 7 s");

    /* A heartbeat: back (not "connected": it was lost first), then its interval counts. */
    health_message(&h, &hb, S(110));
    CHECK_INT(health_poll(&h, S(110)), HEALTH_BACK);
    CHECK_INT(health_poll(&h, S(110)), HEALTH_NONE);
    health_line(&h, S(111), S(5000), line, sizeof line);
    CHECK_CONTAINS(line, "feed ok: last message 1 s ago");
    CHECK_CONTAINS(line, "instance 2; cameras 3/5 reporting, silent > 10 min: BE-N77-LANAKEN "
                         "and 1 more");
    CHECK_INT(health_deadline(&h), S(113));
    /* A HIT counts as a sign of life too. */
    health_message(&h, NULL, S(112));
    CHECK_INT(health_poll(&h, S(114)), HEALTH_NONE);
    CHECK_INT(health_poll(&h, S(115)), HEALTH_LOST);
    health_line(&h, S(116), S(5000), line, sizeof line);
    CHECK_CONTAINS(line, "FEED LOST: no message from anprd at tcp://anprd:5556 for 4 s");

    /* A first heartbeat on a fresh console: connected. A text from outside is cleaned. */
    health_init(&h, "tcp://x\033]0;evil\007:1", S(0));
    health_message(&h, &hb, S(1));
    CHECK_INT(health_poll(&h, S(1)), HEALTH_CONNECTED);
    health_init(&h, "tcp://x\033]0;evil\007:1", S(0));
    health_line(&h, S(1), S(1), line, sizeof line);
    CHECK(strchr(line, '\033') == NULL && strchr(line, '\007') == NULL);
    return check_done("health");
}
