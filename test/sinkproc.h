/*
 * sinkproc: the reference backbone sink (anpr-backbone-sink, $ANPR_BACKBONE_SINK) as the unit
 * tests of the backbone client and the forwarder run it: in a folder of throw-away
 * certificates (testcert), on a free port of loopback that stays the same across its restarts.
 */
#ifndef ANPR_SINKPROC_H
#define ANPR_SINKPROC_H

#include <stddef.h>
#include <sys/types.h>

struct sinkproc {
    const char *path; /* the sink program */
    char dir[64];     /* certificates, the sink's files, the test's own */
    char port[16];
};

/* Find the program, make the folder (named after prog) with its certificates, pick the port.
 * 0, or -1 with the reason printed. */
int sinkproc_init(struct sinkproc *self, const char *prog);

/* "dir/name", in one of 16 rotating buffers (so a few can be passed in one call). */
const char *sinkproc_file(const struct sinkproc *self, const char *name);

/* Start the sink with the server certificate `cert` (cert.pem, cert.key), storing what it
 * receives in `out` (its stdout in out.stdout, its stderr in out.stderr). Its pid, or -1. */
pid_t sinkproc_start(const struct sinkproc *self, const char *cert, const char *out,
                     int ack_delay_ms);

/*
 * The anprd.yaml sections of a daemon forwarding to this sink: spool.dir (reads, "dir/reads")
 * and backbone (the client certificate, instance "zone-test", outbound spool "dir/outbound"),
 * into buf. buf, or NULL when it does not fit.
 */
char *sinkproc_anprd_yaml(const struct sinkproc *self, char *buf, size_t cap);

/* Stop the sink with sig and reap it; its exit status, or -1 if it did not exit in time. */
int sinkproc_stop(pid_t pid, int sig);

/* Remove the folder when the test passed, else say where it is kept. */
void sinkproc_done(const struct sinkproc *self, const char *prog, int failed);

#endif
