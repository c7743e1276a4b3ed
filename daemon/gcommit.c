#include "gcommit.h"

enum gcommit_go gcommit_decide(const struct gcommit_policy *p, const struct gcommit_group *g,
                               int64_t now_us)
{
    if (g->nreads == 0 || g->in_flight)
        return GCOMMIT_HOLD;
    if (g->nreads >= p->max_reads)
        return GCOMMIT_FULL;
    if (g->urgent)
        return GCOMMIT_URGENT;
    if (now_us - g->first_us >= p->max_wait_us)
        return GCOMMIT_TIMER;
    /* The disk is free: waiting would only add latency, unless reads are there to join. */
    return g->more_waiting ? GCOMMIT_HOLD : GCOMMIT_IDLE;
}

int64_t gcommit_wait_us(const struct gcommit_policy *p, const struct gcommit_group *g,
                        int64_t now_us)
{
    if (g->nreads == 0 || g->in_flight)
        return -1;
    int64_t left = g->first_us + p->max_wait_us - now_us;
    return left > 0 ? left : 0;
}

const char *gcommit_name(enum gcommit_go go)
{
    switch (go) {
    case GCOMMIT_HOLD:
        return "hold";
    case GCOMMIT_IDLE:
        return "idle";
    case GCOMMIT_FULL:
        return "full";
    case GCOMMIT_URGENT:
        return "urgent";
    case GCOMMIT_TIMER:
        return "timer";
    }
    return "?";
}
