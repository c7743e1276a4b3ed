/*
 * peer: the dispatch feeds of the other anprd instances on the same database (cluster.peers).
 * Instances share the watchlists and the database but each remembers only what it took itself:
 * a reader that fails over resends to another instance the reads the first did not acknowledge,
 * and that one would alert them again. So each instance follows its peers' feeds, and keeps
 * what they alerted (cluster.h): the ids of their HITs by read and entry (a resend is stored
 * under the peer's id and not alerted again) and their alerts in its suppression table (a
 * repeat here within the window is held back and becomes a sighting of the peer's HIT).
 *
 * Sightings ("seen/") are handed out too, so the last camera a car was seen at stays true here
 * and a HIT announced again carries its latest sighting whichever instance saw it. Heartbeats
 * ("feed/heartbeat") are kept: a peer whose heartbeat stops (three intervals, 3 s at least) is
 * silent, and its urgent HITs are announced again by the instances that follow it (cluster.h).
 * A peer never heard from is taken as alive (one with dispatch.heartbeat_s 0 is never taken
 * over).
 *
 * One SUB socket connected to every peer, subscribed to those three topics. Peers are CURVE servers
 * like any anprd; the instances of one cluster share one key pair (a reader that fails over
 * knows one server key), so this socket is a client with that key pair, talking to that public
 * key, and the key must be registered as a console's for the feed to let it in.
 *
 * peer_take hands out each new live HIT once. Not handed out: a HIT announced again (its id was
 * handed out already, or was given more than PEER_NEW_US before now by the id's own clock: one
 * seen first as a re-announcement), a post-match (the database keeps the retro-matches of two
 * instances from being stored or published twice), a HIT of this instance's own number (a
 * peer list naming this instance's feed) and a frame that does not decode (counted). PUB/SUB
 * loses messages while a peer is unreachable or this socket is slow: a HIT lost so is alerted
 * again if its read comes here, as before instances knew each other.
 *
 * Not thread-safe: ingest's thread. Library module: never logs.
 */
#ifndef ANPR_PEER_H
#define ANPR_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define PEER_NEW_US   60000000LL /* a HIT id older than this when first seen is not new */
#define PEER_SEEN_MAX 1000000    /* ids remembered; then forgotten at once (the age rule stays) */

typedef struct peer peer_t;

/*
 * Connect to endpoints[0..n) (n >= 1). instance: this anprd's dispatch.instance. secret_z85:
 * anprd's CURVE secret key (Z85), NULL for plain text. NULL with err filled on failure.
 */
peer_t *peer_new(void *zmq_ctx, char *const *endpoints, size_t n, unsigned instance,
                 const char *secret_z85, char *err, size_t errlen);
/* Safe on NULL and twice; sets *self_p to NULL. */
void peer_destroy(peer_t **self_p);

/* The socket, to poll for ZMQ_POLLIN (borrowed). */
void *peer_socket(const peer_t *self);

/* What peer_take handed out. */
enum peer_kind { PEER_NONE = 0, PEER_HIT = 1, PEER_SEEN = 2 };

/*
 * The next new HIT or sighting waiting into *hit (heartbeats are kept on the way), now_us the
 * wall clock, mono_us the monotonic one: PEER_HIT, PEER_SEEN, or PEER_NONE when nothing is
 * waiting. peer_frame then gives its frame and topic as they came (borrowed, until the next
 * call).
 */
enum peer_kind peer_take(peer_t *self, struct proto_hit *hit, int64_t now_us, int64_t mono_us);
const uint8_t *peer_frame(const peer_t *self, size_t *len, const char **topic, size_t *tlen);

/* Whether the peer with dispatch.instance `instance` is alive at mono_us: its last heartbeat
 * came within three of its intervals (3 s at least), or none ever came. */
bool peer_alive(const peer_t *self, unsigned instance, int64_t mono_us);

/* HITs handed out, and frames dropped because they did not decode, since peer_new. */
uint64_t peer_taken(const peer_t *self);
uint64_t peer_bad(const peer_t *self);

#endif
