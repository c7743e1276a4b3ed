#include "uplink.h"

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "match.h"
#include "plate.h"

struct uplink {
    fwd_t *fwd;
    const struct conf *conf;          /* borrowed; replaced on reload */
    lograte_t *lograte;               /* borrowed: ingest's */
    struct retro_post *posts_waiting; /* post-match HITs the full spool refused, oldest first */
    size_t nposts_waiting;
};

/* A line that may repeat, through ingest's lograte. */
#define S_LOG(self, level, ...) log_rated((self)->lograte, level, "ingest", __VA_ARGS__)

uplink_t *uplink_new(const struct conf *conf, lograte_t *lograte, struct spool_report *rep,
                     char *err, size_t errlen)
{
    uplink_t *self = calloc(1, sizeof *self);
    char port[8], why[512];

    if (!self) {
        snprintf(err, errlen, "backbone: out of memory");
        return NULL;
    }
    self->conf = conf;
    self->lograte = lograte;
    snprintf(port, sizeof port, "%d", conf->backbone.port);
    struct fwd_opts opts = {.spool_dir = conf->backbone.spool_dir,
                            .max_bytes = (uint64_t)conf->backbone.max_mb << 20,
                            .host = conf->backbone.host,
                            .port = port,
                            .ca_file = conf->backbone.ca_file,
                            .cert_file = conf->backbone.cert_file,
                            .key_file = conf->backbone.key_file,
                            .crl_file = conf->backbone.crl_file,
                            .instance = conf->backbone.instance,
                            .software = "anprd " ANPR_VERSION};
    self->fwd = fwd_new(&opts, rep, why, sizeof why);
    if (!self->fwd) {
        snprintf(err, errlen, "backbone: %s", why);
        free(self);
        return NULL;
    }
    return self;
}

void uplink_destroy(uplink_t **self_p)
{
    uplink_t *self;

    if (!self_p || !*self_p)
        return;
    self = *self_p;
    fwd_destroy(&self->fwd);
    free(self->posts_waiting);
    free(self);
    *self_p = NULL;
}

void uplink_set_conf(uplink_t *self, const struct conf *conf)
{
    self->conf = conf;
}

int uplink_push(uplink_t *self, const struct proto_read *r, const char *plate,
                const struct wl_match *hits, size_t nhits)
{
    char err[256];
    int rc = FWD_OK;

    for (size_t i = 0; i < nhits && rc != FWD_FULL; i++) {
        const struct wl_list_opts *lo = &hits[i].entry->list->opts;
        struct proto_hit hit;
        if (lo->backbone_off)
            continue; /* the list's HITs stay in the zone (anpr.watchlist.backbone) */
        match_hit(r, &hits[i], false, &hit);
        rc = fwd_push_hit(self->fwd, &hit, plate, lo->covert ? BB_HIT_COVERT : 0, err, sizeof err);
        if (rc == FWD_ERR)
            S_LOG(self, LOG_LEVEL_ERROR, "backbone: HIT of entry %" PRIu64 " not queued: %s",
                  hits[i].entry->id, err);
    }
    if (rc != FWD_FULL && self->conf->backbone.forward_reads) {
        rc = fwd_push_read(self->fwd, r, plate, err, sizeof err);
        if (rc == FWD_ERR)
            S_LOG(self, LOG_LEVEL_ERROR, "backbone: read not queued: %s", err);
    }
    if (rc != FWD_FULL)
        return 0;
    S_LOG(self, LOG_LEVEL_WARN,
          "backbone: the outbound spool is full (backbone.max_mb %d); reads "
          "with HITs wait in the cameras until the server takes the backlog",
          self->conf->backbone.max_mb);
    return -1;
}

int uplink_commit(uplink_t *self)
{
    char err[512];

    if (fwd_commit(self->fwd, err, sizeof err) == FWD_OK)
        return 0;
    S_LOG(self, LOG_LEVEL_ERROR, "backbone: %s; reads not acknowledged until it can be written",
          err);
    return -1;
}

void uplink_retry(uplink_t *self)
{
    size_t done = 0;
    char err[256];

    while (done < self->nposts_waiting) {
        const struct retro_post *p = &self->posts_waiting[done];
        char plate[PLATE_MAX + 1];
        int rc;

        if (p->backbone_off) {
            rc = FWD_OK; /* the list's HITs stay in the zone */
        } else if (plate_normalise_cc(p->hit.read.plate, p->hit.read.country, plate) != PLATE_OK) {
            rc = FWD_ERR;
            snprintf(err, sizeof err, "its plate does not normalise");
        } else {
            rc = fwd_push_hit(self->fwd, &p->hit, plate, p->covert ? BB_HIT_COVERT : 0, err,
                              sizeof err);
        }
        if (rc == FWD_FULL)
            break; /* tried again at the next round */
        if (rc == FWD_ERR)
            S_LOG(self, LOG_LEVEL_ERROR, "backbone: post-match HIT %" PRIu64 " not queued: %s",
                  p->hit.hit_id, err);
        done++;
    }
    if (done == 0)
        return;
    memmove(self->posts_waiting, self->posts_waiting + done,
            (self->nposts_waiting - done) * sizeof *self->posts_waiting);
    self->nposts_waiting -= done;
    uplink_commit(self);
}

void uplink_posts(uplink_t *self, const struct retro_post *posts, size_t n)
{
    if (n == 0)
        return;
    if (self->nposts_waiting + n > UPLINK_POSTS_WAITING_MAX) {
        /* Stored all the same; a restart within the hour sends them (sync.c s_retro_again). */
        S_LOG(self, LOG_LEVEL_ERROR,
              "backbone: %zu post-match HITs not forwarded: %zu wait for its full spool", n,
              self->nposts_waiting);
        return;
    }
    struct retro_post *all = realloc(self->posts_waiting, (self->nposts_waiting + n) * sizeof *all);
    if (all) {
        memcpy(all + self->nposts_waiting, posts, n * sizeof *all);
        self->posts_waiting = all;
        self->nposts_waiting += n;
    } else {
        S_LOG(self, LOG_LEVEL_ERROR, "out of memory: %zu post-match HITs not forwarded", n);
    }
    uplink_retry(self);
}

size_t uplink_waiting(const uplink_t *self)
{
    return self->nposts_waiting;
}

void uplink_stats(const uplink_t *self, struct fwd_stats *st)
{
    fwd_stats(self->fwd, st);
}
