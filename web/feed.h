/*
 * feed: anpr-web's one subscription to anprd's dispatch feed (proto/PROTOCOL.md, the HIT
 * frame; the same SUB socket anpr-console opens, with its CURVE keys when configured). Each HIT
 * is decoded, marked when it is announced again (its hit_id came before), turned into the
 * board's JSON and published on the hub. A socket monitor tells the hub when the feed is
 * connected, so every board can show a lost feed at once.
 *
 * Only the general feed: covert HITs never reach it (anprd sends them on its covert feed to
 * the consoles cleared for each list), so no board shows one.
 *
 * Runs in the main loop's thread: feed_poll_items fills zmq_poll items, feed_handle reads what
 * they said. Never logs: problems go into the error buffer, or are counted (feed_bad).
 */
#ifndef ANPR_FEED_H
#define ANPR_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "hub.h"

typedef struct feed feed_t;

/* Connects to endpoint (with CURVE when key_file and server_key are not ""). NULL with err. */
feed_t *feed_new(void *zctx, const char *endpoint, const char *key_file, const char *server_key,
                 hub_t *hub, char *err, size_t errlen);
void feed_destroy(feed_t **self_p);

/* The two sockets to poll (the feed, its monitor), into items[0..2). */
void feed_poll_items(feed_t *f, zmq_pollitem_t items[2]);
/* Reads what is waiting on them (after zmq_poll). */
void feed_handle(feed_t *f, const zmq_pollitem_t items[2]);
/* Messages that were not a well-formed HIT. */
uint64_t feed_bad(const feed_t *f);

#endif
