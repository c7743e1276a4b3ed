/*
 * board: the dispatch board's Server-Sent Events (GET /api/events) and acknowledgements (POST
 * /api/ack), for members of anpr_dispatch; the events are in docs/WEB.md. A stream holds its
 * own reference to the session: it ends when the session ends (logout, timeout), telling the
 * page ("ended"), and keeps the session in use while open.
 */
#ifndef ANPR_BOARD_H
#define ANPR_BOARD_H

#include <microhttpd.h>

#include "web.h"

/* GET /api/events for the session s (the request's reference; the stream takes its own). */
enum MHD_Result board_events(struct web *a, struct MHD_Connection *c, sess_t *s);
/* POST /api/ack (hit_ids, decision, reason, override) through anpr.acknowledge_hit. */
enum MHD_Result board_ack(struct MHD_Connection *c, sess_t *s, struct web_req *rq);

#endif
