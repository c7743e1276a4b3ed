/*
 * webenv: what the anpr-web tests share: a database with password logins (members of
 * anpr_password sign in with SCRAM, tools/anpr-pg), cameras with positions and lists, anprd,
 * and anpr-web's configuration for them.
 */
#ifndef ANPR_WEBENV_H
#define ANPR_WEBENV_H

#include "harness.h"

#define WEB_OP      "webt_op" /* a dispatcher */
#define WEB_OP_PW   "op-Pass-4711"
#define WEB_INV     "webt_inv" /* an investigator */
#define WEB_INV_PW  "inv-Pass-0815"
#define WEB_ADM     "webt_adm" /* a watchlist admin */
#define WEB_ADM_PW  "adm-Pass-2718"
#define WEB_TRUSTED "webt_trusted" /* a dispatcher the test server lets in without a password */
#define WEB_CAM     "BE-SMEERMAAS-N2"
#define WEB_PLATE   "1-ABC-123" /* on the P1 list "Stolen vehicles" */

/* The database, the logins, cameras and lists (dies on failure). */
void webenv_db(struct h_db *db, const char *dbname);
/* webenv_db, and anprd started with dispatch (lines inside its dispatch section, or NULL) (dies
   on failure). */
void webenv_setup(struct h_db *db, struct h_daemon *d, const char *dbname, const char *dispatch);
/* anpr-web's configuration in d's folder (listen on 127.0.0.1:port, following d's general and
   covert feeds); its path, static. */
const char *webenv_config(const struct h_db *db, const struct h_daemon *d, int port);

#endif
