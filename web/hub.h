/*
 * hub: what anpr-web received from anprd's dispatch feed, fanned out to every open board. The
 * main loop (feed.c) publishes each HIT once, as the board's JSON; each Server-Sent Events
 * stream (a connection thread of the HTTP server) waits for the next one and copies it out. A
 * ring keeps the latest HUB_RING events: a stream that falls further behind is told so and
 * ends, and the browser reconnects with Last-Event-ID and catches up from the database.
 *
 * A covert HIT (from anprd's covert feed) is published with its list's id: a stream sends it
 * only to a person cleared for that list (board.c asks the database), so the hub keeps the id
 * with the event.
 *
 * The hub also holds the feed's health, shown on every board: whether the sockets are
 * connected and when the last message came, overall and per anprd instance followed (a
 * "source": one endpoint of dispatch.endpoint). Thread-safe; never logs; hub_new is NULL when
 * out of memory.
 */
#ifndef ANPR_HUB_H
#define ANPR_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_RING 4096

typedef struct hub hub_t;

hub_t *hub_new(void);
void hub_destroy(hub_t **self_p);

/* Publish one HIT (json is copied); wakes every waiting stream. -1 when out of memory. */
int hub_publish(hub_t *h, uint64_t hit_id, const char *json);
/* The same for a HIT of covert list list_id (> 0). */
int hub_publish_covert(hub_t *h, uint64_t hit_id, uint32_t list_id, const char *json);
/* The sequence number of the latest event (0: none yet); a stream starts after it. */
uint64_t hub_head(hub_t *h);
/*
 * Wait up to timeout_ms for an event after seq (or for hub_close). 1 with event seq + 1 copied
 * (malloc'd, the caller frees *json), its hit_id and its covert list (0: not covert); 0 on
 * timeout; -1 when that event has left the ring (the stream fell behind); -2 after hub_close.
 */
int hub_next(hub_t *h, uint64_t seq, int timeout_ms, char **json, uint64_t *hit_id,
             uint32_t *covert_list);
/* Wakes every waiting stream for good (shutdown). */
void hub_close(hub_t *h);

/* The feed's health. */
void hub_set_connected(hub_t *h, bool connected);
void hub_note_message(hub_t *h, int64_t wall_us);
void hub_health(hub_t *h, bool *connected, int64_t *last_wall_us, uint64_t *messages);
/* The cameras' health from the last heartbeat, as JSON (wj_heartbeat; copied, cut at
 * HUB_CAMERAS_MAX: then not set); hub_cameras copies it into out ("null" when none yet). */
#define HUB_CAMERAS_MAX 1024
void hub_set_cameras(hub_t *h, const char *json);
void hub_cameras(hub_t *h, char *out, size_t cap);

/* Each anprd instance's feed (source i of n, i < HUB_SOURCES_MAX; the endpoint is copied, cut
 * at 127 bytes): connected or not, its last message, its instance number and heartbeat interval
 * from its last heartbeat. */
#define HUB_SOURCES_MAX 8
void hub_source_set(hub_t *h, size_t i, const char *endpoint);
void hub_source_connected(hub_t *h, size_t i, bool connected);
void hub_source_message(hub_t *h, size_t i, int64_t wall_us);
void hub_source_beat(hub_t *h, size_t i, unsigned instance, unsigned interval_ms);
/* The sources as a JSON array into out: [{"endpoint", "connected", "last_message_us",
 * "instance" (null before a heartbeat), "interval_ms"}]; "[]" when it does not fit. */
void hub_sources(hub_t *h, char *out, size_t cap);

#endif
