/*
 * notify: the systemd notification protocol (sd_notify) without libsystemd: one datagram to
 * the unix socket named by $NOTIFY_SOCKET ("@" = abstract namespace). Without the variable
 * every call is a no-op, so the daemon runs the same outside systemd. Tests use it too: they
 * listen on a socket of their own to learn when the daemon is ready.
 */
#ifndef ANPR_NOTIFY_H
#define ANPR_NOTIFY_H

#include <stdint.h>

/* Send a state string such as "READY=1" or "STATUS=...". 0, or -1 (errors are not fatal). */
int notify_send(const char *state);

/* Watchdog interval from $WATCHDOG_USEC (only when $WATCHDOG_PID is unset or ours), else 0. */
int64_t notify_watchdog_us(void);

#endif
