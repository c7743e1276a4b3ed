/*
 * health: is the dispatch feed alive? anprd publishes a HEARTBEAT every few seconds
 * (PROTOCOL.md 5.7); a console that has had no message (heartbeat, HIT or sighting) for three
 * heartbeat intervals says the feed is lost, loudly, rather than sitting silent while anprd is
 * down, the network is cut or the endpoint is wrong. Before the first heartbeat the interval is
 * the default one (2 s), so a console pointed at the wrong place says so within seconds.
 *
 * The console feeds it messages and the clock and asks for the line to show; transitions
 * (connected, lost, back) come out of health_poll once each, for a console writing to a file
 * or a pipe, where a status line redrawn every second would be noise. Monotonic microseconds
 * throughout; the wall clock only to show anprd's time.
 */
#ifndef ANPR_HEALTH_H
#define ANPR_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define HEALTH_INTERVAL_MS 2000 /* assumed before the first heartbeat (anprd's default) */
#define HEALTH_MISSED      3    /* intervals without a message before the feed is lost */

enum health_event {
    HEALTH_NONE = 0,
    HEALTH_CONNECTED, /* the first heartbeat */
    HEALTH_LOST,      /* nothing for HEALTH_MISSED intervals (or since the start) */
    HEALTH_BACK,      /* a message after it was lost */
};

struct health {
    int64_t start_us;            /* when the console started listening */
    int64_t last_us;             /* the last message of any kind; 0: none yet */
    int64_t beat_us;             /* the last heartbeat; 0: none yet */
    struct proto_heartbeat beat; /* what it said */
    bool lost;                   /* said lost, not back yet */
    bool connected;              /* a heartbeat came once */
    enum health_event pending;   /* the transition health_poll returns next */
    const char *endpoint;        /* borrowed, for the lost line */
};

void health_init(struct health *h, const char *endpoint, int64_t mono_us);
/* A message came: a heartbeat (hb set) or anything else (hb NULL). */
void health_message(struct health *h, const struct proto_heartbeat *hb, int64_t mono_us);
/* The transition since the last call, if any (each one once). */
enum health_event health_poll(struct health *h, int64_t mono_us);
/* When the feed turns lost if nothing comes (monotonic), for the caller's poll timeout. */
int64_t health_deadline(const struct health *h);
/*
 * The feed-health line: "feed ok: last message 1 s ago; anprd 08:31:02, instance 0; cameras
 * 6/7 reporting, silent: BE-N77-LANAKEN", or "FEED LOST: no message from tcp://... for 7 s
 * (last 08:30:55); HITs are not reaching this console" (wall_us: now, for the last time).
 */
size_t health_line(const struct health *h, int64_t mono_us, int64_t wall_us, char *out, size_t cap);

#endif
