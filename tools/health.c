#include "health.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void health_init(struct health *h, const char *endpoint, int64_t mono_us)
{
    memset(h, 0, sizeof *h);
    h->start_us = mono_us;
    h->endpoint = endpoint;
}

static int64_t s_interval_us(const struct health *h)
{
    return (int64_t)(h->beat_us ? h->beat.interval_ms : HEALTH_INTERVAL_MS) * 1000;
}

int64_t health_deadline(const struct health *h)
{
    return (h->last_us ? h->last_us : h->start_us) + HEALTH_MISSED * s_interval_us(h);
}

void health_message(struct health *h, const struct proto_heartbeat *hb, int64_t mono_us)
{
    h->last_us = mono_us;
    if (hb) {
        h->beat = *hb;
        h->beat_us = mono_us;
        if (!h->connected && !h->lost)
            h->pending = HEALTH_CONNECTED;
        h->connected = true;
    }
    if (h->lost) {
        h->lost = false;
        h->pending = HEALTH_BACK;
    }
}

enum health_event health_poll(struct health *h, int64_t mono_us)
{
    enum health_event e = h->pending;

    if (!h->lost && mono_us >= health_deadline(h)) {
        h->lost = true;
        e = HEALTH_LOST;
    }
    h->pending = HEALTH_NONE;
    return e;
}

static void s_clock(int64_t wall_us, char *out, size_t cap)
{
    time_t sec = (time_t)(wall_us / 1000000);
    struct tm tm;

    if (localtime_r(&sec, &tm) == NULL || strftime(out, cap, "%H:%M:%S", &tm) == 0)
        snprintf(out, cap, "?");
}

size_t health_line(const struct health *h, int64_t mono_us, int64_t wall_us, char *out, size_t cap)
{
    size_t len = 0;
    char clock[16];
    int64_t since = mono_us - (h->last_us ? h->last_us : h->start_us);

    if (cap == 0)
        return 0;
    out[0] = '\0';
    if (h->lost || mono_us >= health_deadline(h)) {
        if (h->last_us) {
            s_clock(wall_us - since, clock, sizeof clock);
            cli_cat(out, cap, &len,
                    "FEED LOST: no message from anprd at %s for %" PRId64
                    " s (last at %s); HITs are not reaching this console",
                    cli_text(h->endpoint), since / 1000000, clock);
        } else {
            cli_cat(out, cap, &len,
                    "FEED LOST: nothing from anprd at %s in %" PRId64
                    " s; is it running, is this the right endpoint and key?",
                    cli_text(h->endpoint), since / 1000000);
        }
        return len;
    }
    if (!h->last_us) {
        cli_cat(out, cap, &len, "feed: waiting for anprd at %s", cli_text(h->endpoint));
        return len;
    }
    cli_cat(out, cap, &len, "feed ok: last message %" PRId64 " s ago", since / 1000000);
    if (!h->beat_us)
        return len;
    s_clock(h->beat.time_us, clock, sizeof clock);
    cli_cat(out, cap, &len, "; anprd %s, instance %u; cameras %" PRIu32 "/%" PRIu32 " reporting",
            clock, (unsigned)h->beat.instance, h->beat.reporting, h->beat.cameras);
    if (h->beat.cameras > h->beat.reporting) {
        cli_cat(out, cap, &len, ", silent > %" PRIu32 " min:", h->beat.silent_after_s / 60);
        for (unsigned i = 0; i < h->beat.nsilent; i++)
            cli_cat(out, cap, &len, "%s %s", i ? "," : "", cli_text(h->beat.silent[i]));
        uint32_t more = h->beat.cameras - h->beat.reporting - h->beat.nsilent;
        if (more > 0)
            cli_cat(out, cap, &len, " and %" PRIu32 " more", more);
    }
    return len;
}
