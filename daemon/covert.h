/*
 * covert: the feed of covert lists' HITs (dispatch.covert_endpoint), sent to each recipient
 * one by one, so anprd decides per recipient and per HIT who gets it.
 *
 * Why not PUB/SUB like the general feed: a PUB sends what a subscriber asked for, and with
 * CURVE anprd must refuse a console the lists it is not cleared for. libzmq's XPUB_MANUAL could
 * filter subscriptions, but libzmq 4.3.4 (Debian 12) uses a freed connection when a console
 * goes while its subscriptions are still queued (fixed only in 4.3.5), which any cleared console
 * could trigger. So the feed is a ROUTER: a recipient connects a DEALER and sends one-part
 * messages "covert/<id>/" (one list) or "covert/" (every list it may have), and repeats them
 * now and then (it cannot tell when it reconnected; a repeat changes nothing); each covert HIT is
 * then sent to every recipient that asked for its list, as the same two parts as the general
 * feed ([topic "covert/<id>/"][HIT frame]). With CURVE (zap given), the clearance is checked
 * at every send (anpr.console_covert, live): a clearance withdrawn stops the next HIT. Without
 * CURVE, anyone who reaches the socket receives what it asks for (access by the endpoint's
 * permissions only).
 *
 * Best effort like PUB: a recipient too slow (its queue full) or gone loses the HIT (counted);
 * a gone one is forgotten. Single-threaded: the ingest thread owns it.
 */
#ifndef ANPR_COVERT_H
#define ANPR_COVERT_H

#include <stddef.h>
#include <stdint.h>

#include "zap.h"

#define COVERT_PEERS_MAX 256 /* recipients at once; more are refused (counted) */
#define COVERT_LISTS_MAX 32  /* lists one recipient may name; "covert/" names them all */

typedef struct covert covert_t;

struct covert_stats {
    uint64_t subscribed; /* subscriptions taken (cleared, well-formed; repeats not counted) */
    uint64_t refused;    /* ... not: not cleared, malformed, or too many */
    uint64_t sent;       /* HIT messages sent to recipients */
    uint64_t dropped;    /* ... not sent: recipient gone or its queue full */
    size_t recipients;   /* recipients known now */
};

/*
 * Bind a ROUTER on endpoint. With zap, the socket is a CURVE server (secret_z85, ZAP domain
 * "covert") and every subscription and send is checked against zap_cleared(). NULL with a
 * message in err.
 */
covert_t *covert_new(void *zmq_ctx, const char *endpoint, zap_t *zap, const char *secret_z85,
                     char *err, size_t errlen);
/* Close the socket and free everything; safe on NULL and twice. */
void covert_destroy(covert_t **self_p);

/* The socket, for zmq_poll (ZMQ_POLLIN: subscriptions waiting). */
void *covert_socket(covert_t *self);

/* Take the subscriptions waiting (at most a bounded number per call). */
void covert_take(covert_t *self);

/* Send a covert HIT of list_id under topic to every recipient that asked for it and may. */
void covert_send(covert_t *self, uint32_t list_id, const char *topic, size_t tlen,
                 const uint8_t *frame, size_t len);

void covert_stats(const covert_t *self, struct covert_stats *out);

#endif
