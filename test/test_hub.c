/* test_hub: the feed's events fanned out to the boards: in order, a wait that times out, a
   stream that fell behind the ring is told so, close wakes everyone, the feed's health. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hub.h"

#define NAME "hub"

static hub_t *s_hub;

/* A stream waiting in another thread: what it received first. */
static void *s_waiter(void *arg)
{
    char *json = NULL;
    uint64_t id = 0;
    uint32_t cov = 0;
    int *rc = arg;

    *rc = hub_next(s_hub, hub_head(s_hub), 20000, &json, &id, &cov);
    free(json);
    return NULL;
}

int main(void)
{
    char *json = NULL;
    uint64_t id = 0;
    uint32_t cov = 99;

    s_hub = hub_new();
    CHECK(s_hub != NULL);
    CHECK_INT(hub_head(s_hub), 0);
    /* nothing yet: the wait times out */
    CHECK_INT(hub_next(s_hub, 0, 50, &json, &id, &cov), 0);

    CHECK_INT(hub_publish(s_hub, 11, "{\"a\":1}"), 0);
    CHECK_INT(hub_publish(s_hub, 12, "{\"a\":2}"), 0);
    CHECK_INT(hub_head(s_hub), 2);
    CHECK_INT(hub_next(s_hub, 0, 50, &json, &id, &cov), 1);
    CHECK_STR(json, "{\"a\":1}");
    CHECK_INT(id, 11);
    free(json);
    CHECK_INT(hub_next(s_hub, 1, 50, &json, &id, &cov), 1);
    CHECK_STR(json, "{\"a\":2}");
    free(json);
    CHECK_INT(cov, 0);
    CHECK_INT(hub_next(s_hub, 2, 50, &json, &id, &cov), 0);
    /* a covert HIT keeps its list: a stream shows it only to the people cleared for it */
    CHECK_INT(hub_publish_covert(s_hub, 13, 0, "{}"), -1);
    CHECK_INT(hub_publish_covert(s_hub, 13, 7, "{\"c\":1}"), 0);
    CHECK_INT(hub_next(s_hub, 2, 50, &json, &id, &cov), 1);
    CHECK_INT(cov, 7);
    CHECK_INT(id, 13);
    free(json);

    /* a stream at 2 falls behind when the ring has gone round */
    for (int i = 0; i <= HUB_RING; i++)
        hub_publish(s_hub, 100 + (uint64_t)i, "{}");
    CHECK_INT(hub_next(s_hub, 2, 50, &json, &id, &cov), -1);
    CHECK_INT(hub_next(s_hub, hub_head(s_hub) - 1, 50, &json, &id, &cov), 1);
    free(json);

    /* a waiting stream is woken by a HIT */
    int rc = 99;
    pthread_t t;
    pthread_create(&t, NULL, s_waiter, &rc);
    /* publish until the waiter has taken one (it may start waiting after a first publish) */
    for (int i = 0; i < 1000 && rc == 99; i++) {
        hub_publish(s_hub, 5000, "{\"late\":true}");
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(t, NULL);
    CHECK_INT(rc, 1);

    /* close wakes every waiter for good */
    rc = 99;
    pthread_create(&t, NULL, s_waiter, &rc);
    hub_close(s_hub);
    pthread_join(t, NULL);
    CHECK_INT(rc, -2);
    CHECK_INT(hub_next(s_hub, 0, 50, &json, &id, &cov), -2);

    /* health */
    bool connected = true;
    int64_t last = -1;
    uint64_t n = 99;
    hub_health(s_hub, &connected, &last, &n);
    CHECK(!connected);
    CHECK_INT(last, 0);
    CHECK_INT(n, 0);
    hub_set_connected(s_hub, true);
    hub_note_message(s_hub, 1234);
    hub_health(s_hub, &connected, &last, &n);
    CHECK(connected);
    CHECK_INT(last, 1234);
    CHECK_INT(n, 1);

    /* each anprd instance's health */
    char src[512];
    hub_sources(s_hub, src, sizeof src);
    CHECK_STR(src, "[]");
    hub_source_set(s_hub, 0, "tcp://a:5556");
    hub_source_set(s_hub, 1, "ipc:///x\"y");
    hub_source_connected(s_hub, 1, true);
    hub_source_message(s_hub, 1, 77);
    hub_source_beat(s_hub, 1, 3, 2000);
    hub_sources(s_hub, src, sizeof src);
    CHECK_STR(src, "[{\"endpoint\":\"tcp://a:5556\",\"connected\":false,\"last_message_us\":0,"
                   "\"instance\":null,\"interval_ms\":0},{\"endpoint\":\"ipc:///xy\","
                   "\"connected\":true,\"last_message_us\":77,\"instance\":3,"
                   "\"interval_ms\":2000}]");
    hub_sources(s_hub, src, 40); /* too small: none rather than a cut one */
    CHECK_STR(src, "[]");

    hub_destroy(&s_hub);
    CHECK(s_hub == NULL);
    return check_done(NAME);
}
