/*
 * admin: the watchlist admin page's API (/api/admin/...): the lists, a list's entries (paged,
 * filtered), add and expire an entry, CSV import, by the rules of anpr-watchlist (tools/wladm.h)
 * on the person's own connection, so every change is audited under their login by the
 * database's triggers. Only for members of anpr_admin: the others get 403 before the database is
 * asked (it would refuse the changes too). Answers are JSON; every text from the database or
 * the file is escaped by wj and shown by the page as text.
 */
#ifndef ANPR_ADMIN_H
#define ANPR_ADMIN_H

#include <microhttpd.h>

#include "web.h"

/* The largest CSV import body (the rest of the API keeps the general limit). */
#define ADMIN_IMPORT_MAX (8 * 1024 * 1024)

/* GET /api/admin/lists and /api/admin/entries?list=NAME[&filter=TEXT][&page=N]. */
enum MHD_Result admin_get(struct MHD_Connection *c, sess_t *s, const char *url);
/* POST /api/admin/add, /api/admin/expire, /api/admin/import (CSRF checked by the caller). */
enum MHD_Result admin_post(struct MHD_Connection *c, sess_t *s, const char *url,
                           struct web_req *rq);

#endif
