/*
 * desk: the investigator desk's searches, through the audited functions of migration 016 as
 * anpr-history makes them (hist.h), on the person's own connection: a refusal is answered 422
 * with the rule and its words, the database refusing the login (a dispatcher) 403. The CSV
 * of a granted search is its ticket's rows again, formula-safe (wj_csv).
 */
#ifndef ANPR_DESK_H
#define ANPR_DESK_H

#include <microhttpd.h>

#include "web.h"

/* POST /api/search. */
enum MHD_Result desk_search(struct MHD_Connection *c, sess_t *s, struct web_req *rq);
/* GET /api/search.csv?kind=K&ticket=T. */
enum MHD_Result desk_csv(struct MHD_Connection *c, sess_t *s);

#endif
