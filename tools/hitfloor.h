/*
 * hitfloor: the least any daemon can take on this machine between a camera's read and its HIT
 * on the dispatch feed, under the rule anprd keeps (a HIT is published only once its read is
 * durable, docs/SPOOL.md): a ZeroMQ ROUTER takes the read, appends it to a file and
 * fdatasyncs it, publishes it on a PUB and acknowledges it. No matching, no batch, no database.
 * anpr-bench floor sends reads to it and times read sent -> HIT received with the transport
 * and pacing of anpr-bench hitlat, so anprd's figure reads against the machine's.
 */
#ifndef ANPR_HITFLOOR_H
#define ANPR_HITFLOOR_H

#include <stddef.h>
#include <stdint.h>

struct hitfloor_result {
    size_t sent, published;
    int64_t lat_p50_us, lat_p99_us, lat_max_us;       /* read sent -> HIT received */
    int64_t fsync_p50_us, fsync_p99_us, fsync_max_us; /* the server's write + fdatasync */
};

/*
 * Runs the server on ipc endpoints in dir (it must exist, on the disk to measure; the record
 * file goes there too) and sends reads frames of len bytes at rate a second, one at a time
 * as a camera does. 0, or -1 with err.
 */
int hitfloor_run(const char *dir, size_t reads, long long rate, size_t len,
                 struct hitfloor_result *out, char *err, size_t errlen);

#endif
