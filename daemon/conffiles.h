/*
 * conffiles: the files and directories a valid configuration names, checked the way anprd will
 * use them, for --check-config. conf_load() checks what the file says; this checks that the
 * machine agrees, as the user running it (under systemd, ExecStartPre runs it as anprd's own
 * user): the backbone's CA, certificate, key and CRL files and the CURVE secret key file exist,
 * are regular files and can be read; spool.dir and backbone.spool_dir are writable directories,
 * or can be created (anprd makes the last component only). Files of a part that is off
 * (backbone without a host, CURVE with insecure_plaintext) are not looked at.
 *
 * It reads the YAML again for the positions of the values, so it knows no key table of its own
 * beyond the paths it checks, and keys added to conf.c need no change here. Each problem is one
 * line "file:line:column: section.key: message", sorted by position, like conf_load()'s. The
 * module never logs and never exits.
 */
#ifndef ANPR_CONFFILES_H
#define ANPR_CONFFILES_H

/*
 * Check the paths named by the configuration file `path`, which conf_load() accepted. Returns 0
 * when all is well (*errors NULL), -1 with *errors a malloc'd text of one line per problem
 * (caller frees; NULL on out of memory).
 */
int conffiles_check(const char *path, char **errors);

#endif
