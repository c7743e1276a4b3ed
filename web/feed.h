/*
 * feed: anpr-web's subscriptions to anprd's dispatch feeds (proto/PROTOCOL.md, the HIT frame).
 * One SUB socket for each anprd instance followed (dispatch.endpoint: one or several, with the
 * CURVE keys when configured), and, when dispatch.covert_endpoint is given, one DEALER on each
 * instance's covert feed asking for "covert/" (every covert list anpr-web's key is cleared for,
 * daemon/covert.h). Each HIT is decoded, marked when it is announced again (its hit_id came
 * before from the same instance), dropped when another instance already sent it (the same
 * hit_id, or the same read and entry: a camera that moved to the other instance and resent the
 * read), turned into the board's JSON and published on the hub; a covert HIT with its list's id,
 * so that only the people cleared for that list see it (board.c).
 *
 * A socket monitor on each SUB tells the hub when that instance's feed is connected, and each
 * heartbeat its instance number, so every board shows "2 of 2 instances" and a lost one at once.
 * The cameras' health on the boards is the instances' heartbeats merged (a camera reports when
 * it reports to any instance).
 *
 * Runs in the main loop's thread: feed_poll_items fills zmq_poll items, feed_handle reads what
 * they said (and repeats the covert requests every 2 s). Never logs: problems go into the error
 * buffer, or are counted (feed_bad, feed_duplicates).
 */
#ifndef ANPR_FEED_H
#define ANPR_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "hub.h"
#include "webconf.h"

typedef struct feed feed_t;

/* zmq_poll items the feed needs at most: a SUB and its monitor per instance, a DEALER per
   covert feed. */
#define FEED_POLL_MAX (3 * WEBCONF_ENDPOINTS_MAX)

/* Connects to conf's endpoints (with CURVE when key_file and server_key are not ""). NULL with
   err. The hub is borrowed. */
feed_t *feed_new(void *zctx, const struct webconf *conf, hub_t *hub, char *err, size_t errlen);
void feed_destroy(feed_t **self_p);

/* The sockets to poll, into items[0..n); returns n (<= FEED_POLL_MAX). */
size_t feed_poll_items(feed_t *f, zmq_pollitem_t items[FEED_POLL_MAX]);
/* Reads what is waiting on them (after zmq_poll on the n items feed_poll_items gave). */
void feed_handle(feed_t *f, const zmq_pollitem_t *items, size_t n);
/* Messages that were not a well-formed HIT or heartbeat. */
uint64_t feed_bad(const feed_t *f);
/* HITs dropped because another instance had sent them. */
uint64_t feed_duplicates(const feed_t *f);

#endif
