/*
 * damage: what a spool's recovery found (spool_open's report), said in the log: one line per
 * damaged stretch (where, why, how many acknowledged records it held were lost, told by the
 * sequence numbers around it, and where its bytes were set aside), the reads' (camera, seq)
 * read back from the bytes set aside where they can be, and a total. Every valid record before
 * and after a stretch is kept (docs/SPOOL.md).
 */
#ifndef ANPR_DAMAGE_H
#define ANPR_DAMAGE_H

#include <stdbool.h>

#include "spool.h"

/* Log rep of the spool in dir, named `what` ("spool", "backbone spool"), its records counted as
 * `unit` ("reads", "HITs"); with reads, the lost reads are named from the quarantine files. */
void damage_log(const char *what, const char *dir, const struct spool_report *rep, const char *unit,
                bool reads);

#endif
