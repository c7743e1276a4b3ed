/* test_webconf: anpr-web's configuration: defaults, every value, every mistake reported with
   file:line:col at once. */
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NAME "webconf"
#include "webconf.h"

static struct webconf *s_parse(const char *text, char **errs)
{
    return webconf_parse("w.yaml", text, strlen(text), errs);
}

int main(void)
{
    char *errs = NULL;
    struct webconf *c;

    /* An empty file: loopback, behind the TLS proxy, every default. */
    c = s_parse("", &errs);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(c->listen, "127.0.0.1:8443");
        CHECK(c->proxy);
        CHECK_INT(c->idle_timeout_s, 900);
        CHECK_STR(c->endpoint, "tcp://127.0.0.1:5556");
        CHECK_STR(c->conninfo, "");
        CHECK_INT(c->max_failures, 5);
    }
    webconf_destroy(&c);
    webconf_destroy(&c); /* twice is safe */

    /* Every key. */
    c = s_parse("web:\n  listen: \"[::1]:8080\"\n  static_dir: /srv/web\n  proxy: false\n"
                "  idle_timeout_s: 600\n  max_sessions: 20\n"
                "database:\n  conninfo: \"host=/run/postgresql dbname=anpr\"\n"
                "dispatch:\n  endpoint: ipc:///run/anprd/dispatch\n  key_file: /etc/k.key\n"
                "  server_key: /etc/s.pub\n"
                "board:\n  catch_up_hours: 24\n"
                "login:\n  max_failures: 3\n  window_s: 60\n"
                "log:\n  level: warn\n",
                &errs);
    CHECK(c != NULL);
    if (!c)
        fputs(errs, stderr);
    if (c) {
        CHECK_STR(c->listen, "[::1]:8080");
        CHECK_STR(c->static_dir, "/srv/web");
        CHECK(!c->proxy);
        CHECK_INT(c->idle_timeout_s, 600);
        CHECK_INT(c->max_sessions, 20);
        CHECK_STR(c->conninfo, "host=/run/postgresql dbname=anpr");
        CHECK_STR(c->endpoint, "ipc:///run/anprd/dispatch");
        CHECK_STR(c->key_file, "/etc/k.key");
        CHECK_INT(c->catch_up_hours, 24);
        CHECK_INT(c->max_failures, 3);
        CHECK_INT(c->window_s, 60);
        CHECK_INT(c->log_level, LOG_LEVEL_WARN);
    }
    webconf_destroy(&c);
    free(errs);
    errs = NULL;

    /* Every mistake at once, each with its place. */
    c = s_parse("web:\n"
                "  listen: somewhere\n"
                "  proxy: maybe\n"
                "  colour: red\n"
                "  idle_timeout_s: 5\n"
                "database:\n"
                "  conninfo: \"dbname=anpr user=alice password=secret\"\n"
                "dispatch:\n"
                "  endpoint: http://x\n"
                "  key_file: [a, b]\n"
                "board:\n"
                "  catch_up_hours: 12\n"
                "  catch_up_hours: 13\n"
                "extra:\n"
                "  a: 1\n"
                "log:\n"
                "  level: loud\n",
                &errs);
    CHECK(c == NULL);
    CHECK(errs != NULL);
    if (errs) {
        CHECK(strstr(errs, "w.yaml:2:11: web.listen: ") != NULL);
        CHECK(strstr(errs, "w.yaml:3:10: web.proxy: expected true or false, got 'maybe'") != NULL);
        CHECK(strstr(errs, "w.yaml:4:3: web.colour: unknown key (known: listen,") != NULL);
        CHECK(strstr(errs, "w.yaml:5:19: web.idle_timeout_s: expected an integer in 60..86400") !=
              NULL);
        CHECK(strstr(errs, "w.yaml:7:13: database.conninfo: must not name a user, a password") !=
              NULL);
        /* never the password itself in an error */
        CHECK(strstr(errs, "secret") == NULL);
        CHECK(strstr(errs, "w.yaml:9:13: dispatch.endpoint: expected a tcp:// or ipc://") != NULL);
        CHECK(strstr(errs, "w.yaml:10:13: dispatch.key_file: expected a value, not a list") !=
              NULL);
        CHECK(strstr(errs, "w.yaml:13:3: board.catch_up_hours: given twice") != NULL);
        CHECK(strstr(errs, "w.yaml:14:1: extra: unknown section") != NULL);
        CHECK(strstr(errs, "w.yaml:17:10: log.level: expected debug, info, warn or error") != NULL);
        /* one line each */
        int lines = 0;
        for (const char *p = errs; *p; p++)
            lines += *p == '\n';
        CHECK_INT(lines, 10);
    }
    free(errs);
    errs = NULL;

    /* Several anprd instances and their covert feeds: a list; each endpoint checked, with its
       place. */
    c = s_parse("dispatch:\n  endpoint: [tcp://a:5556, tcp://b:5556]\n"
                "  covert_endpoint:\n    - tcp://a:5557\n    - tcp://b:5557\n",
                &errs);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(c->nendpoints, 2);
        CHECK_STR(c->endpoint, "tcp://a:5556");
        CHECK_STR(c->endpoints[1], "tcp://b:5556");
        CHECK_INT(c->ncovert, 2);
        CHECK_STR(c->covert[1], "tcp://b:5557");
        CHECK_STR(c->covert_key_file, "");
    }
    webconf_destroy(&c);
    free(errs);
    errs = NULL;
    c = s_parse("dispatch:\n  endpoint: []\n  covert_endpoint:\n    - tcp://a:5557\n"
                "    - http://b\n    - [x]\n    - tcp://a:5557\n",
                &errs);
    CHECK(c == NULL);
    CHECK(errs && strstr(errs, "w.yaml:2:13: dispatch.endpoint: expected at least 1 endpoint\n"));
    CHECK(errs &&
          strstr(errs, "w.yaml:5:7: dispatch.covert_endpoint: expected a tcp:// or ipc://"));
    CHECK(errs && strstr(errs, "w.yaml:6:7: dispatch.covert_endpoint: expected an endpoint, not "
                               "a list\n"));
    CHECK(errs && strstr(errs, "w.yaml:7:7: dispatch.covert_endpoint: 'tcp://a:5557' given "
                               "twice\n"));
    free(errs);
    errs = NULL;
    c = s_parse("dispatch:\n  endpoint: tcp://a:1\n  covert_endpoint: tcp://a:1\n", &errs);
    CHECK(c == NULL);
    CHECK(errs && strstr(errs, "dispatch: 'tcp://a:1' is both an endpoint and a covert_endpoint"));
    free(errs);
    errs = NULL;

    /* A syntax error has a place too. */
    c = s_parse("web:\n  listen: [\n", &errs);
    CHECK(c == NULL);
    CHECK(errs && strncmp(errs, "w.yaml:", 7) == 0);
    free(errs);
    errs = NULL;

    /* A section name that is a list: reported and skipped whole, and reading goes on (it once
       went past the end of the stream for ever; fuzz corpus regress-sequence-key). */
    c = s_parse("? [a]\n: b\nweb: 2\n", &errs);
    CHECK(c == NULL);
    CHECK(errs && strstr(errs, "w.yaml:1:3: (top): a section name must be a plain name\n"));
    CHECK(errs && strstr(errs, "w.yaml:3:6: web: expected a mapping of keys, not a scalar\n"));
    free(errs);
    errs = NULL;
    c = s_parse("web:\n  ? [a]\n  : b\n  listen: 127.0.0.1:1\n", &errs);
    CHECK(c == NULL);
    CHECK(errs && strstr(errs, "w.yaml:2:5: web: a key must be a plain name, not a list"));
    free(errs);
    errs = NULL;

    /* CURVE needs both keys. */
    c = s_parse("dispatch:\n  key_file: /k\n", &errs);
    CHECK(c == NULL);
    CHECK(errs && strstr(errs, "key_file and server_key go together"));
    free(errs);
    errs = NULL;

    /* A file that is not there. */
    c = webconf_load("/nonexistent/anpr-web.yaml", &errs);
    CHECK(c == NULL);
    CHECK(errs && strstr(errs, "/nonexistent/anpr-web.yaml: No such file"));
    free(errs);

    /* The example configuration shipped in the tree is valid. */
    errs = NULL;
    c = webconf_load(ANPR_SOURCE_ROOT "/config/anpr-web.yaml", &errs);
    CHECK(c != NULL);
    if (!c && errs)
        fputs(errs, stderr);
    webconf_destroy(&c);
    free(errs);
    return check_done(NAME);
}
