/*
 * anpr-spool: inspect an anprd spool directory (docs/SPOOL.md), documented in anpr-spool(1).
 *
 * `verify` checks every record and reports damage as FILE:OFFSET with the records lost; `stat`
 * prints depth, segments and checkpoint. Both open the spool read-only (shared lock, nothing
 * written) unless --repair is given, which opens it as the daemon does and so sets damage
 * aside into quarantine files.
 *
 * Exit codes: 0 clean (or repaired), 1 damage found, 2 usage error, 3 cannot open the spool.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "spool.h"

#define S_PROG "anpr-spool"

enum { S_EXIT_OK = 0, S_EXIT_DAMAGED = 1, S_EXIT_USAGE = 2, S_EXIT_OPEN = 3 };

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " S_PROG " [--repair] verify DIR\n"
                 "       " S_PROG " stat DIR\n"
                 "Inspect an anprd spool directory.\n"
                 "\n"
                 "  verify DIR  check every record; print damage as FILE:OFFSET: REASON;\n"
                 "              exit 1 if any is found\n"
                 "  stat DIR    depth (records and bytes not yet consumed), segments,\n"
                 "              checkpoint and durable positions\n"
                 "  --repair    with verify: set damaged stretches aside as anprd does at\n"
                 "              start (copied to quarantine files, every valid record kept)\n"
                 "              (without it the spool is only read, never changed)\n"
                 "  --help      this help\n"
                 "  --version   the version\n"
                 "\n"
                 "Exit status: 0 clean or repaired, 1 damage found, 2 usage error,\n"
                 "3 the spool cannot be opened (missing, or in use by a running anprd).\n"
                 "See anpr-spool(1) and docs/SPOOL.md.\n");
}

static void s_print_damage(const struct spool_report *rep)
{
    size_t shown = rep->ndamage < SPOOL_DAMAGE_MAX ? rep->ndamage : SPOOL_DAMAGE_MAX;

    for (size_t i = 0; i < shown; i++) {
        const struct spool_damage *d = &rep->damage[i];
        char lost[96], aside[200];
        if (!d->counted)
            snprintf(lost, sizeof lost, "records lost: unknown");
        else if (d->records == 0)
            snprintf(lost, sizeof lost, "no record lost");
        else
            snprintf(lost, sizeof lost,
                     "%" PRIu64 " records lost (sequence %" PRIu64 "..%" PRIu64 ")", d->records,
                     d->first_seq, d->last_seq);
        if (d->quarantine[0])
            snprintf(aside, sizeof aside, "; bytes set aside in %s", cli_text(d->quarantine));
        else
            aside[0] = '\0';
        printf("%s:%" PRIu64 ": %s (%" PRIu64 " bytes); %s%s\n", cli_text(d->file), d->offset,
               cli_text(d->reason), d->bytes, lost, aside);
    }
    if (rep->ndamage > shown)
        printf("... and %zu more damaged stretches\n", rep->ndamage - shown);
}

int main(int argc, char **argv)
{
    enum { OPT_REPAIR = 256, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"repair", no_argument, NULL, OPT_REPAIR},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    bool repair = false;

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_REPAIR:
            repair = true;
            break;
        case OPT_HELP:
            s_usage(stdout);
            return S_EXIT_OK;
        case OPT_VERSION:
            printf(S_PROG " (anprd) %s\n", ANPR_VERSION);
            return S_EXIT_OK;
        default:
            cli_getopt_fail(S_PROG, c, argc, argv);
            return S_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        cli_usage_error(S_PROG,
                        argc - optind < 2 ? "expected a command and a directory"
                                          : "unexpected argument '%s'",
                        argv[argc - 1]);
        return S_EXIT_USAGE;
    }
    const char *cmd = argv[optind], *dir = argv[optind + 1];
    bool verify = strcmp(cmd, "verify") == 0;
    if (!verify && strcmp(cmd, "stat") != 0) {
        cli_usage_error(S_PROG, "unknown command '%s' (verify or stat)", cmd);
        return S_EXIT_USAGE;
    }
    if (repair && !verify) {
        cli_usage_error(S_PROG, "--repair goes with verify");
        return S_EXIT_USAGE;
    }

    struct spool_opts opts = {.read_only = !repair, .max_bytes = UINT64_MAX};
    struct spool_report rep;
    char err[512];
    spool_t *sp = spool_open(dir, &opts, &rep, err, sizeof err);
    if (!sp) {
        fprintf(stderr, S_PROG ": %s\n", cli_text(err));
        return S_EXIT_OPEN;
    }
    struct spool_stats st;
    spool_stats(sp, &st);
    spool_destroy(&sp);

    if (verify) {
        s_print_damage(&rep);
        printf("%s: %" PRIu64 " segments, %" PRIu64 " records, %zu damaged stretches (%" PRIu64
               " bytes), %" PRIu64 " records lost",
               cli_text(dir), rep.segments, rep.records, rep.ndamage, rep.dropped_bytes,
               rep.damaged_records);
        if (rep.uncounted)
            printf(" (and an unknown number in %" PRIu64 " stretches)", rep.uncounted);
        printf("%s\n", rep.ndamage == 0 ? ""
                       : rep.repaired   ? ", set aside (every valid record kept)"
                                        : ", not changed (--repair sets them aside)");
        if (rep.seq_gaps)
            printf("%s: %" PRIu64 " sequence gaps (%" PRIu64 " records missing), reported by an "
                   "earlier repair\n",
                   cli_text(dir), rep.seq_gaps, rep.lost_records);
        return rep.ndamage > 0 && !rep.repaired ? S_EXIT_DAMAGED : S_EXIT_OK;
    }

    printf("directory:        %s\n", cli_text(dir));
    printf("segments:         %" PRIu64 " (%" PRIu64 " bytes on disk)\n", st.segments,
           st.disk_bytes);
    printf("records:          %" PRIu64 " (valid, consumed or not)\n", rep.records);
    printf("depth:            %" PRIu64 " records, %" PRIu64 " bytes not consumed\n",
           st.depth_records, st.depth_bytes);
    printf("checkpoint:       position %" PRIu64 ", last consumed record %" PRIu64 "\n",
           st.checkpoint_pos, st.checkpoint_seq);
    printf("durable:          position %" PRIu64 ", next record %" PRIu64 "\n", st.durable_pos,
           st.next_seq);
    if (rep.seq_gaps)
        printf("sequence gaps:    %" PRIu64 " (%" PRIu64 " records missing)\n", rep.seq_gaps,
               rep.lost_records);
    if (rep.ndamage)
        printf("damage:           %zu stretches, %" PRIu64 " bytes, %" PRIu64
               " records lost (see '" S_PROG " verify %s')\n",
               rep.ndamage, rep.dropped_bytes, rep.damaged_records, cli_text(dir));
    return S_EXIT_OK;
}
