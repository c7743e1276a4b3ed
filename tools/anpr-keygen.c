/*
 * anpr-keygen: make CURVE key pairs for anprd, its cameras and its consoles (anpr-keygen(1)).
 *
 * For each NAME it writes NAME.key (the secret key, mode 0600, never over an existing file)
 * and NAME.pub (the public key), each one line of Z85, and prints "NAME PUBLIC-KEY". The
 * secret key stays where it is made; only the public key is given to others (registered with
 * anpr-cameras / anpr-consoles, or given to cameras and consoles as --server-key).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "curve.h"

#define PROG "anpr-keygen"

static void s_usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--dir DIR] NAME...\n"
               "\n"
               "Make a CURVE key pair per NAME: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub\n"
               "(public), one line of Z85 each; print NAME and its public key.\n"
               "\n"
               "  --dir DIR   where to write the files (default: the current directory)\n"
               "  --help      this text\n"
               "  --version   the version\n"
               "\n"
               "NAME: 1 to 64 of [A-Za-z0-9._-], e.g. a camera code. An existing NAME.key is\n"
               "never overwritten.\n");
}

static int s_name_ok(const char *name)
{
    size_t n = strlen(name);

    return n >= 1 && n <= 64 && name[0] != '.' &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".";
    int opt, rc = 0;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            dir = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        case 'V':
            printf(PROG " %s\n", ANPR_VERSION);
            return 0;
        default:
            return cli_getopt_fail(PROG, opt, argc, argv);
        }
    }
    if (optind == argc)
        return cli_usage_error(PROG, "name at least one key pair");
    for (int i = optind; i < argc; i++)
        if (!s_name_ok(argv[i]))
            return cli_bad_value(PROG, "NAME", argv[i], "1 to 64 of [A-Za-z0-9._-]");

    for (int i = optind; i < argc; i++) {
        char pub[CURVE_Z85 + 1], err[512];
        if (curve_keygen(dir, argv[i], pub, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": %s\n", err);
            rc = 1;
            continue;
        }
        printf("%s %s\n", argv[i], pub);
    }
    return rc;
}
