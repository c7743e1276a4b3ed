/*
 * test_conf: the configuration module. Error texts are asserted whole, "file:line:col: key:"
 * included, since tools and operators rely on that format.
 */
#include "check.h"
#include "conf.h"
#include "testcert.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ANPR_SOURCE_ROOT
#define ANPR_SOURCE_ROOT "."
#endif

#define DB "database:\n  conninfo: dbname=x\n" /* the one required key, lines 1-2 */

/* Parse text that must fail; returns the error text (caller frees), never NULL. */
static char *s_errors(const char *text)
{
    char *errors = (char *)"unset";
    struct conf *conf = conf_parse("t.yaml", text, strlen(text), &errors);

    CHECK(conf == NULL);
    CHECK(errors != NULL);
    conf_destroy(&conf);
    return errors ? errors : strdup("");
}

/* Parse text that must succeed. */
static struct conf *s_ok(const char *text)
{
    char *errors = (char *)"unset";
    struct conf *conf = conf_parse("t.yaml", text, strlen(text), &errors);

    CHECK(conf != NULL);
    CHECK(errors == NULL);
    if (errors) {
        fprintf(stderr, "unexpected errors for:\n%s---\n%s", text, errors);
        free(errors);
    }
    return conf;
}

#define EXPECT(text, want)                                                                         \
    do {                                                                                           \
        char *e_ = s_errors(text);                                                                 \
        CHECK_STR(e_, want);                                                                       \
        free(e_);                                                                                  \
    } while (0)

#define EXPECT_VALID(text)                                                                         \
    do {                                                                                           \
        struct conf *c_ = s_ok(text);                                                              \
        conf_destroy(&c_);                                                                         \
    } while (0)

static void s_test_full(void)
{
    struct conf *c = s_ok("ingest:\n"
                          "  endpoint: \"tcp://127.0.0.1:7000\"\n"
                          "  max_pending: 5000\n"
                          "  max_future_skew_s: 0\n"
                          "  max_age_days: 30\n"
                          "dispatch:\n"
                          "  endpoint: ipc:///run/anprd/hits.sock\n"
                          "database:\n"
                          "  conninfo: \"dbname=anpr password=secret\"\n"
                          "  batch_size: 100000\n"
                          "  flush_interval_ms: 10000\n"
                          "  reconnect_max_ms: 100\n"
                          "  partitions_ahead_days: 60\n"
                          "log:\n"
                          "  level: debug\n"
                          "  stats_interval_s: 0\n"
                          "  reject_log_interval_s: 3600\n");

    if (!c)
        return;
    CHECK_STR(c->path, "t.yaml");
    CHECK_STR(c->ingest.endpoint, "tcp://127.0.0.1:7000");
    CHECK_INT(c->ingest.max_pending, 5000);
    CHECK_INT(c->ingest.max_future_skew_s, 0);
    CHECK_INT(c->ingest.max_age_days, 30);
    CHECK_STR(c->dispatch.endpoint, "ipc:///run/anprd/hits.sock");
    CHECK_STR(c->database.conninfo, "dbname=anpr password=secret");
    CHECK_INT(c->database.batch_size, 100000);
    CHECK_INT(c->database.flush_interval_ms, 10000);
    CHECK_INT(c->database.reconnect_max_ms, 100);
    CHECK_INT(c->database.partitions_ahead_days, 60);
    CHECK_INT(c->log.level, LOG_LEVEL_DEBUG);
    CHECK_INT(c->log.stats_interval_s, 0);
    CHECK_INT(c->log.reject_log_interval_s, 3600);
    conf_destroy(&c);
    CHECK(c == NULL);
}

/* A standby setup's conninfo (docs/OPERATIONS.md): two hosts and ports, writes only, in either
 * form, reaches libpq as written. */
static void s_test_multi_host(void)
{
    static const char *const ci[] = {
        "host=pg-a.example,pg-b.example port=5432,5433 dbname=anpr user=anprd "
        "target_session_attrs=read-write",
        "postgresql://anprd@pg-a.example:5432,pg-b.example:5433/"
        "anpr?target_session_attrs=read-write",
    };

    for (size_t i = 0; i < sizeof ci / sizeof ci[0]; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, "database:\n  conninfo: \"%s\"\n", ci[i]);
        struct conf *c = s_ok(yaml);
        if (!c)
            continue;
        CHECK_STR(c->database.conninfo, ci[i]);
        conf_destroy(&c);
    }
}

static void s_check_defaults(const struct conf *c)
{
    CHECK_STR(c->ingest.endpoint, "tcp://127.0.0.1:5555");
    CHECK_INT(c->ingest.max_pending, 100000);
    CHECK_INT(c->ingest.max_future_skew_s, 300);
    CHECK_INT(c->ingest.max_age_days, 365);
    CHECK_INT(c->ingest.peer_rate_per_s, 5000);
    CHECK_INT(c->ingest.peer_burst, 50000);
    CHECK_STR(c->dispatch.endpoint, "tcp://127.0.0.1:5556");
    CHECK_STR(c->database.conninfo, "dbname=anpr");
    CHECK_INT(c->database.batch_size, 5000);
    CHECK_INT(c->database.flush_interval_ms, 5);
    CHECK_INT(c->database.reconnect_max_ms, 30000);
    CHECK_INT(c->database.partitions_ahead_days, 3);
    CHECK_INT(c->log.level, LOG_LEVEL_INFO);
    CHECK_INT(c->log.stats_interval_s, 60);
    CHECK_INT(c->log.reject_log_interval_s, 10);
    CHECK_INT(c->spool.max_mb, 1024);
    CHECK_STR(c->metrics.listen, "127.0.0.1:9105");
}

static void s_test_defaults(void)
{
    const char *texts[] = {
        "ingest: {}\ndispatch: {}\ndatabase: {conninfo: dbname=anpr}\nlog: {}\n",
        "database:\n  conninfo: dbname=anpr\n",
        /* sections with every key commented out are null, and mean "all defaults" */
        "ingest:\n  # max_pending: 5\ndispatch: ~\ndatabase:\n  conninfo: 'dbname=anpr'\nlog:\n",
        /* an explicit document with a trailing document end */
        "---\ndatabase:\n  conninfo: dbname=anpr\n...\n",
        /* integers may be quoted and signed; \r\n line ends */
        "database:\r\n  conninfo: dbname=anpr\r\n  batch_size: \"+5000\"\r\n",
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct conf *c = s_ok(texts[i]);

        if (c)
            s_check_defaults(c);
        conf_destroy(&c);
    }
}

static void s_test_syntax(void)
{
    EXPECT("a: [1, 2\n", "t.yaml:2:1: (syntax): did not find expected ',' or ']' "
                         "(while parsing a flow sequence at line 1, column 4)\n");
    EXPECT(DB "ingest:\n  endpoint: \"abc\n",
           "t.yaml:5:1: (syntax): found unexpected end of stream "
           "(while scanning a quoted scalar at line 4, column 13)\n");
    EXPECT(DB "  x: 1\n    y: 2\n",
           "t.yaml:4:6: (syntax): mapping values are not allowed in this context\n");
    EXPECT(DB "log:\n  level: \xff\n",
           "t.yaml:4:10: (syntax): invalid leading UTF-8 octet (byte 0xFF)\n");
}

static void s_test_structure(void)
{
    EXPECT("", "t.yaml:1:1: (top): the file is empty; expected a mapping of sections\n");
    EXPECT("# only a comment\n\n",
           "t.yaml:1:1: (top): the file is empty; expected a mapping of sections\n");
    EXPECT("---\n", "t.yaml:2:1: (top): the document is empty; expected a mapping of sections\n");
    EXPECT("- ingest\n- database\n",
           "t.yaml:1:1: (top): expected a mapping of sections, got a sequence\n");
    EXPECT("hello\n", "t.yaml:1:1: (top): expected a mapping of sections, got a scalar\n");
    EXPECT(DB "ingest: 5\n", "t.yaml:3:9: ingest: expected a mapping of keys, got a scalar\n");
    EXPECT(DB "log:\n  - level\n", "t.yaml:4:3: log: expected a mapping of keys, got a sequence\n");
    EXPECT(DB "\nloging:\n  level: info\n",
           "t.yaml:4:1: loging: unknown section; expected one of: ingest, dispatch, database, "
           "log, matcher, spool, backbone, curve, metrics, cluster\n");
    EXPECT(DB "ingest:\n  endpiont: tcp://*:1\n",
           "t.yaml:4:3: ingest.endpiont: unknown key; expected one of: endpoint, max_pending, "
           "max_future_skew_s, max_age_days, peer_rate_per_s, peer_burst\n");
    EXPECT(DB "log:\n  level: info\n  stats_interval_s: 5\n  level: warn\n",
           "t.yaml:6:3: log.level: duplicate key (first at line 4, column 3)\n");
    EXPECT(DB "log: {}\ndatabase:\n  conninfo: dbname=y\n",
           "t.yaml:4:1: database: duplicate section (first at line 1, column 1)\n");
    EXPECT(DB "[a]: 1\n", "t.yaml:3:1: (top): a section name must be a plain name, not a "
                          "sequence\n");
    EXPECT("database: {conninfo: dbname=x, {a: 1}: 2}\n",
           "t.yaml:1:32: database: a key must be a plain name, not a mapping\n");
    /* user text is shown on one line */
    EXPECT(DB "\"a\\nb\": 1\n", "t.yaml:3:1: a?b: unknown section; expected one of: ingest, "
                                "dispatch, database, log, matcher, spool, backbone, curve, "
                                "metrics, cluster\n");
    /* OCR classes are checked by the matcher's own parser. */
    {
        char *e = s_errors(DB "matcher:\n  ocr_classes: \"0OD,1IL,O8\"\n");
        CHECK_CONTAINS(e, "t.yaml:4:16: matcher.ocr_classes: ");
        free(e);
        struct conf *c = s_ok(DB "matcher:\n  ocr_classes: \"0O,8B\"\n");
        CHECK_STR(c ? c->matcher.ocr_classes : NULL, "0O,8B");
        conf_destroy(&c);
        c = s_ok(DB);
        CHECK_STR(c ? c->matcher.ocr_classes : NULL, "0ODQ,1IL,2Z,5S,6G,8B");
        conf_destroy(&c);
        /* The matcher's message quotes the value: a line end in it (a quoted YAML scalar)
         * stays inside the one error line. Found by fuzzing
         * (test/fuzz/corpus/conf/regress-multiline-message). */
        EXPECT(DB "matcher:\n  ocr_classes: \"0O,1\\r\\n2Z\"\n",
               "t.yaml:4:16: matcher.ocr_classes: OCR class \"1??2Z\": byte 0x0D is not a letter "
               "or digit\n");
    }
    EXPECT(DB "---\nlog: {}\n",
           "t.yaml:3:1: (top): a second YAML document; the file must hold exactly one\n");
}

static void s_test_types(void)
{
    EXPECT(DB "  batch_size: [1]\n",
           "t.yaml:3:15: database.batch_size: expected a single value, got a sequence\n");
    EXPECT(DB "  batch_size:\n    a: 1\n",
           "t.yaml:4:5: database.batch_size: expected a single value, got a mapping\n");
    EXPECT(DB "ingest:\n  endpoint: {a: [1, {b: 2}]}\n",
           "t.yaml:4:13: ingest.endpoint: expected a single value, got a mapping\n");
    EXPECT(DB "  batch_size: 12abc\n",
           "t.yaml:3:15: database.batch_size: expected an integer, got '12abc'\n");
    EXPECT(DB "  batch_size: 1.5\n",
           "t.yaml:3:15: database.batch_size: expected an integer, got '1.5'\n");
    EXPECT(DB "  batch_size: \"\"\n",
           "t.yaml:3:15: database.batch_size: expected an integer, got an empty value\n");
    EXPECT(DB "  batch_size:\n",
           "t.yaml:3:14: database.batch_size: expected an integer, got an empty value\n");
    EXPECT(DB "  batch_size: \" 5\"\n",
           "t.yaml:3:15: database.batch_size: expected an integer, got ' 5'\n");
    EXPECT(DB "  batch_size: 0x10\n",
           "t.yaml:3:15: database.batch_size: expected an integer, got '0x10'\n");
    EXPECT(DB "  batch_size: \"-\"\n",
           "t.yaml:3:15: database.batch_size: expected an integer, got '-'\n");
    EXPECT(DB "  batch_size: \"1\\x002\"\n",
           "t.yaml:3:15: database.batch_size: expected an integer, got '1?2'\n");
}

static void s_test_ranges(void)
{
    EXPECT(DB "  batch_size: 0\n",
           "t.yaml:3:15: database.batch_size: out of range: 0 (must be 1..100000)\n");
    EXPECT(DB "  batch_size: 100001\n",
           "t.yaml:3:15: database.batch_size: out of range: 100001 (must be 1..100000)\n");
    EXPECT(DB "  reconnect_max_ms: 99999999999999999999999\n",
           "t.yaml:3:21: database.reconnect_max_ms: out of range: 99999999999999999999999 "
           "(must be 100..600000)\n");
    EXPECT(DB "  partitions_ahead_days: -1\n",
           "t.yaml:3:26: database.partitions_ahead_days: out of range: -1 (must be 0..60)\n");
    EXPECT(DB "ingest: {max_pending: 10000001}\n",
           "t.yaml:3:23: ingest.max_pending: out of range: 10000001 (must be 1..10000000)\n");
    EXPECT(DB "ingest: {max_future_skew_s: 86401}\n",
           "t.yaml:3:29: ingest.max_future_skew_s: out of range: 86401 (must be 0..86400)\n");
    EXPECT(DB "ingest: {max_age_days: 366}\n",
           "t.yaml:3:24: ingest.max_age_days: out of range: 366 (must be 1..365)\n");
    EXPECT(DB "  flush_interval_ms: 0\n",
           "t.yaml:3:22: database.flush_interval_ms: out of range: 0 (must be 1..10000)\n");
    EXPECT(DB "log: {stats_interval_s: 86401}\n",
           "t.yaml:3:25: log.stats_interval_s: out of range: 86401 (must be 0..86400)\n");
    EXPECT(DB "log: {reject_log_interval_s: 0}\n",
           "t.yaml:3:30: log.reject_log_interval_s: out of range: 0 (must be 1..3600)\n");
}

static void s_test_endpoints(void)
{
    static const char *const good[] = {
        "tcp://*:1",
        "tcp://0.0.0.0:65535",
        "tcp://127.0.0.1:5555",
        "tcp://[::1]:5555",
        "tcp://[::]:5555",
        "tcp://localhost:5555",
        "tcp://anpr-1.example.org:5555",
        "tcp://eth0:5555",
        "ipc:///run/anprd/ingest.sock",
    };
    static const struct {
        const char *endpoint, *why;
    } bad[] = {
        {"udp://*:5555", "expected tcp://HOST:PORT or ipc:///absolute/path"},
        {"tcp://*", "missing :PORT"},
        {"tcp://:5555", "missing host (use * for all interfaces)"},
        {"tcp://*:0", "the port must be a number 1..65535"},
        {"tcp://*:65536", "the port must be a number 1..65535"},
        {"tcp://*:+80", "the port must be a number 1..65535"},
        {"tcp://*:80/", "the port must be a number 1..65535"},
        {"tcp://*:", "the port must be a number 1..65535"},
        {"tcp://::1:5555", "an IPv6 address must be in brackets, e.g. tcp://[::1]:5555"},
        {"tcp://[::1:5555", "unterminated [IPv6] address"},
        {"tcp://[::g]:5555", "invalid IPv6 address"},
        {"tcp://[]:5555", "invalid IPv6 address"},
        {"tcp://[::1]5555", "missing :PORT"},
        {"tcp://256.0.0.1:5555", "invalid IPv4 address"},
        {"tcp://1.2.3:5555", "invalid IPv4 address"},
        {"tcp://-host:5555", "invalid host name"},
        {"tcp://host-:5555", "invalid host name"},
        {"tcp://a..b:5555", "invalid host name"},
        {"tcp://a_b:5555", "invalid host name"},
        {"tcp:// *:5555", "invalid host name"},
        {"ipc://run/anprd.sock", "the ipc path must be absolute (ipc:///path)"},
        {"ipc:///", "the ipc path is empty"},
        {" tcp://*:5555", "expected tcp://HOST:PORT or ipc:///absolute/path"},
        {"", "expected tcp://HOST:PORT or ipc:///absolute/path"},
    };
    char text[512], want[512], longpath[200];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct conf *c;

        snprintf(text, sizeof(text), DB "ingest:\n  endpoint: \"%s\"\n", good[i]);
        c = s_ok(text);
        if (c)
            CHECK_STR(c->ingest.endpoint, good[i]);
        conf_destroy(&c);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), DB "dispatch:\n  endpoint: \"%s\"\n", bad[i].endpoint);
        snprintf(want, sizeof(want), "t.yaml:4:13: dispatch.endpoint: invalid endpoint '%s': %s\n",
                 bad[i].endpoint, bad[i].why);
        EXPECT(text, want);
    }

    /* a Unix socket path holds at most 107 bytes */
    memset(longpath, 'a', sizeof(longpath));
    snprintf(text, sizeof(text), DB "ingest: {endpoint: \"ipc:///%.106s\"}\n", longpath);
    EXPECT_VALID(text);
    snprintf(text, sizeof(text), DB "ingest: {endpoint: \"ipc:///%.107s\"}\n", longpath);
    /* long user text is cut to 64 characters in messages */
    snprintf(want, sizeof(want),
             "t.yaml:3:20: ingest.endpoint: invalid endpoint 'ipc:///%.57s...': the ipc path is "
             "too long for a Unix socket\n",
             longpath);
    EXPECT(text, want);

    /* both sockets bind, so they cannot share an endpoint */
    EXPECT(DB "dispatch:\n  endpoint: tcp://127.0.0.1:5555\n",
           "t.yaml:4:13: dispatch.endpoint: the same endpoint as ingest.endpoint\n");
    EXPECT(DB "ingest:\n  endpoint: tcp://127.0.0.1:5556\n",
           "t.yaml:4:13: ingest.endpoint: the same endpoint as dispatch.endpoint\n");
    EXPECT_VALID(DB
                 "ingest: {endpoint: \"tcp://*:5556\"}\ndispatch: {endpoint: \"tcp://*:5555\"}\n");
}

static void s_test_values(void)
{
    EXPECT("database:\n  conninfo: \"\"\n", "t.yaml:2:13: database.conninfo: must not be empty\n");
    /* libpq's own parse error would quote the password: ours names only the key. */
    EXPECT("database:\n  conninfo: \"host=/tmp password=hun ter2\"\n",
           "t.yaml:2:13: database.conninfo: not a valid libpq connection string (keyword=value "
           "pairs or a postgresql:// URI)\n");
    EXPECT("database:\n  conninfo: \"postgresql://anprd:hunter2%zz@localhost/anpr\"\n",
           "t.yaml:2:13: database.conninfo: not a valid libpq connection string (keyword=value "
           "pairs or a postgresql:// URI)\n");
    EXPECT("database:\n  conninfo:\n", "t.yaml:2:12: database.conninfo: must not be empty\n");
    EXPECT("database:\n  conninfo: \"  \"\n",
           "t.yaml:2:13: database.conninfo: must not be empty\n");
    EXPECT("database:\n  conninfo: \"a\\0b\"\n",
           "t.yaml:2:13: database.conninfo: the value contains a NUL character\n");
    EXPECT(DB "log:\n  level: verbose\n",
           "t.yaml:4:10: log.level: unknown log level 'verbose'; expected one of: debug, info, "
           "warn, error\n");
    EXPECT(DB "log:\n  level: INFO\n",
           "t.yaml:4:10: log.level: unknown log level 'INFO'; expected one of: debug, info, "
           "warn, error\n");

    const char *levels[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < 4; i++) {
        char text[128];
        struct conf *c;

        snprintf(text, sizeof(text), DB "log: {level: %s}\n", levels[i]);
        c = s_ok(text);
        if (c)
            CHECK_INT(c->log.level, (int)i);
        conf_destroy(&c);
    }
}

static void s_test_required(void)
{
    EXPECT("ingest:\n  max_pending: 5\n", "t.yaml:1:1: database.conninfo: missing required key\n");
    /* the document starts at its first token, after comments */
    EXPECT("# anprd\n\nlog: {}\n", "t.yaml:3:1: database.conninfo: missing required key\n");
    EXPECT("log: {}\n---\n", "t.yaml:1:1: database.conninfo: missing required key\n"
                             "t.yaml:2:1: (top): a second YAML document; the file must hold "
                             "exactly one\n");
    /* with a database section, at the section */
    EXPECT("log: {}\n\ndatabase:\n  batch_size: 5\n",
           "t.yaml:3:1: database.conninfo: missing required key\n");
    EXPECT("log: {}\ndatabase:\n", "t.yaml:2:1: database.conninfo: missing required key\n");
}

static void s_test_aliases(void)
{
    EXPECT(DB "  batch_size: &n 10\n  flush_interval_ms: *n\n",
           "t.yaml:3:15: database.batch_size: anchors are not supported\n"
           "t.yaml:4:22: database.flush_interval_ms: aliases are not supported\n");
    EXPECT(DB "log: *x\n", "t.yaml:3:6: log: aliases are not supported\n");
    EXPECT("*x\n", "t.yaml:1:1: (top): aliases are not supported\n");
    EXPECT(DB "ingest: &i {}\ndispatch: {<<: *i}\n",
           "t.yaml:3:9: ingest: anchors are not supported\n"
           "t.yaml:4:12: dispatch.<<: unknown key; expected one of: endpoint, "
           "covert_endpoint, instance, reannounce_priority, reannounce_s, heartbeat_s, "
           "camera_silent_min\n");
    /* The feed's heartbeat: 2 s and 10 minutes by default; 0 turns it off. */
    {
        struct conf *c = s_ok(DB);
        CHECK_INT(c ? c->dispatch.heartbeat_s : -1, 2);
        CHECK_INT(c ? c->dispatch.camera_silent_min : -1, 10);
        conf_destroy(&c);
        c = s_ok(DB "dispatch:\n  heartbeat_s: 0\n  camera_silent_min: 1440\n");
        CHECK_INT(c ? c->dispatch.heartbeat_s : -1, 0);
        CHECK_INT(c ? c->dispatch.camera_silent_min : -1, 1440);
        conf_destroy(&c);
    }
    EXPECT(DB "dispatch:\n  camera_silent_min: 0\n",
           "t.yaml:4:22: dispatch.camera_silent_min: out of range: 0 (must be 1..1440)\n");
    /* The covert feed: optional, validated like any endpoint, never one of the others. */
    EXPECT(DB "dispatch:\n  covert_endpoint: \"tcp://nowhere\"\n",
           "t.yaml:4:20: dispatch.covert_endpoint: invalid endpoint 'tcp://nowhere': missing "
           ":PORT\n");
    EXPECT(DB "dispatch:\n  covert_endpoint: \"tcp://127.0.0.1:5556\"\n",
           "t.yaml:4:20: dispatch.covert_endpoint: the same endpoint as another socket\n");
    {
        struct conf *c = s_ok(DB "dispatch:\n  covert_endpoint: \"ipc:///run/anprd/c\"\n");
        CHECK_STR(c ? c->dispatch.covert_endpoint : NULL, "ipc:///run/anprd/c");
        conf_destroy(&c);
        c = s_ok(DB);
        CHECK_STR(c ? c->dispatch.covert_endpoint : NULL, "");
        conf_destroy(&c);
    }
}

static void s_test_many(void)
{
    EXPECT("ingest:\n"
           "  max_pending: lots\n"
           "database:\n"
           "  conninfo: dbname=x\n"
           "  batch_size: 0\n"
           "log:\n"
           "  level: loud\n"
           "  colour: true\n",
           "t.yaml:2:16: ingest.max_pending: expected an integer, got 'lots'\n"
           "t.yaml:5:15: database.batch_size: out of range: 0 (must be 1..100000)\n"
           "t.yaml:7:10: log.level: unknown log level 'loud'; expected one of: debug, info, warn, "
           "error\n"
           "t.yaml:8:3: log.colour: unknown key; expected one of: level, stats_interval_s, "
           "reject_log_interval_s\n");
}

/* Errors found in the final pass (missing key, endpoint clash) still come in file order. */
static void s_test_order(void)
{
    EXPECT("log: {level: loud}\ningest: {endpoint: \"tcp://127.0.0.1:5556\"}\n",
           "t.yaml:1:1: database.conninfo: missing required key\n"
           "t.yaml:1:14: log.level: unknown log level 'loud'; expected one of: debug, info, warn, "
           "error\n"
           "t.yaml:2:20: ingest.endpoint: the same endpoint as dispatch.endpoint\n");
}

static void s_test_load(void)
{
    char path[] = "/tmp/test_conf.XXXXXX", want[256];
    const char *text = "database:\n  conninfo: dbname=anpr\nlog:\n  level: warn\n";
    struct conf *c;
    char *errors = NULL;
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);

    c = conf_load(path, &errors);
    CHECK(c != NULL);
    CHECK(errors == NULL);
    if (c) {
        CHECK_STR(c->path, path);
        CHECK_INT(c->log.level, LOG_LEVEL_WARN);
        CHECK_INT(c->database.batch_size, 5000);
    }
    conf_destroy(&c);
    free(errors);

    /* errors carry the real file name */
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_INT(write(fd, "log: {}\n", 8), 8);
        close(fd);
    }
    c = conf_load(path, &errors);
    CHECK(c == NULL);
    snprintf(want, sizeof(want), "%s:1:1: database.conninfo: missing required key\n", path);
    CHECK_STR(errors, want);
    free(errors);
    unlink(path);

    errors = NULL;
    c = conf_load("/nonexistent/anprd.yaml", &errors);
    CHECK(c == NULL);
    CHECK_STR(errors, "/nonexistent/anprd.yaml: cannot read: No such file or directory\n");
    free(errors);

    errors = NULL;
    c = conf_load("/tmp", &errors);
    CHECK(c == NULL);
    CHECK_STR(errors, "/tmp: cannot read: Is a directory\n");
    free(errors);
}

static void s_test_example(void)
{
    char *errors = NULL;
    struct conf *c = conf_load(ANPR_SOURCE_ROOT "/config/anprd.yaml", &errors);

    CHECK(c != NULL);
    CHECK(errors == NULL);
    if (errors)
        fprintf(stderr, "%s", errors);
    if (c) {
        CHECK_STR(c->database.conninfo, "host=/run/postgresql dbname=anpr user=anprd");
        /* the one key it sets to other than its default: the spool is on */
        CHECK_STR(c->spool.dir, "/var/lib/anprd/spool");
        /* the shipped example states the defaults */
        free(c->database.conninfo);
        c->database.conninfo = strdup("dbname=anpr");
        s_check_defaults(c);
    }
    conf_destroy(&c);
    free(errors);
}

/* dispatch.instance: part of every HIT id. */
static void s_test_instance(void)
{
    struct conf *c = s_ok(DB "dispatch:\n  instance: 1023\n");
    if (c)
        CHECK_INT(c->dispatch.instance, 1023);
    conf_destroy(&c);
    EXPECT(DB "dispatch:\n  instance: 1024\n",
           "t.yaml:4:13: dispatch.instance: out of range: 1024 (must be 0..1023)\n");
}

/* cluster.peers: the other instances' feeds, a sequence of endpoints to connect to. */
static void s_test_cluster(void)
{
    struct conf *c =
        s_ok(DB "cluster:\n  peers: [\"tcp://anpr-b:5556\", \"tcp://10.0.0.3:5556\"]\n");
    CHECK(c != NULL);
    if (c) {
        CHECK_INT((int)c->cluster.npeers, 2);
        CHECK_STR(c->cluster.peers[0], "tcp://anpr-b:5556");
        CHECK_STR(c->cluster.peers[1], "tcp://10.0.0.3:5556");
    }
    conf_destroy(&c);
    c = s_ok(DB "cluster:\n  peers: []\n");
    CHECK(c != NULL && c->cluster.npeers == 0);
    conf_destroy(&c);
    c = s_ok(DB);
    CHECK(c != NULL && c->cluster.npeers == 0 && c->cluster.peers == NULL);
    conf_destroy(&c);
    EXPECT(DB "cluster:\n  peers: \"tcp://b:5556\"\n",
           "t.yaml:4:10: cluster.peers: expected a sequence of endpoints, got a scalar\n");
    EXPECT(DB "cluster:\n  peers:\n    - \"tcp://*:5556\"\n    - \"udp://b\"\n",
           "t.yaml:5:7: cluster.peers[0]: invalid endpoint 'tcp://*:5556': a peer is connected "
           "to: name its host, not all interfaces\n"
           "t.yaml:6:7: cluster.peers[1]: invalid endpoint 'udp://b': expected tcp://HOST:PORT or "
           "ipc:///absolute/path\n");
    EXPECT(DB "cluster:\n  peers: [\"tcp://127.0.0.1:5556\"]\n",
           "t.yaml:1:1: cluster.peers: 'tcp://127.0.0.1:5556' is this anprd's own "
           "dispatch.endpoint\n");
}

/* The spool section: off by default, an absolute directory, a size in MiB. */
static void s_test_spool(void)
{
    struct conf *c = s_ok(DB);
    if (c)
        CHECK_STR(c->spool.dir, "");
    conf_destroy(&c);
    c = s_ok(DB "spool:\n  dir: /var/lib/anprd/spool\n  max_mb: 16\n");
    if (c) {
        CHECK_STR(c->spool.dir, "/var/lib/anprd/spool");
        CHECK_INT(c->spool.max_mb, 16);
    }
    conf_destroy(&c);
    EXPECT(DB "spool:\n  dir: spool\n",
           "t.yaml:4:8: spool.dir: must be an absolute path, got 'spool'\n");
    EXPECT(DB "spool:\n  max_mb: 0\n",
           "t.yaml:4:11: spool.max_mb: out of range: 0 (must be 1..1048576)\n");
    EXPECT(DB "spool:\n  size: 5\n",
           "t.yaml:4:3: spool.size: unknown key; expected one of: dir, max_mb\n");
}

/* The backbone section: off by default; forwarding needs its TLS files, a name and a spool. */
static void s_test_backbone(void)
{
    struct conf *c = s_ok(DB);
    if (c) {
        CHECK_STR(c->backbone.host, "");
        CHECK_INT(c->backbone.port, 7443);
        CHECK_INT(c->backbone.forward_reads, 0);
    }
    conf_destroy(&c);
    c = s_ok(DB "backbone:\n  host: anpr.police.example\n  port: 8443\n"
                "  ca_file: /etc/anprd/ca.pem\n  cert_file: /etc/anprd/client.pem\n"
                "  key_file: /etc/anprd/client.key\n  instance: zone-5378\n"
                "  spool_dir: /var/lib/anprd/backbone\n  forward_reads: 1\n");
    if (c) {
        CHECK_STR(c->backbone.host, "anpr.police.example");
        CHECK_INT(c->backbone.port, 8443);
        CHECK_STR(c->backbone.instance, "zone-5378");
        CHECK_INT(c->backbone.forward_reads, 1);
    }
    conf_destroy(&c);
    EXPECT(DB "backbone:\n  host: anpr.police.example\n  ca_file: /ca.pem\n",
           "t.yaml:4:9: backbone.host: forwarding needs backbone.cert_file too\n"
           "t.yaml:4:9: backbone.host: forwarding needs backbone.key_file too\n"
           "t.yaml:4:9: backbone.host: forwarding needs backbone.instance too\n"
           "t.yaml:4:9: backbone.host: forwarding needs backbone.spool_dir too\n");
    EXPECT(DB "backbone:\n  host: \"a b\"\n",
           "t.yaml:4:9: backbone.host: 'a b' is not a host name or address\n");
    EXPECT(DB "backbone:\n  instance: \"zone/1\"\n",
           "t.yaml:4:13: backbone.instance: 'zone/1' is not a name of 1..64 of A-Z a-z 0-9 . _ : "
           "-\n");
    EXPECT(DB "spool:\n  dir: /s\nbackbone:\n  host: h\n  ca_file: /a\n  cert_file: /b\n"
              "  key_file: /c\n  instance: i\n  spool_dir: /s\n",
           "t.yaml:6:9: backbone.spool_dir: the same directory as spool.dir; each spool needs its "
           "own\n");
}

/*
 * backbone.crl_file is loaded while the configuration is read: a missing, unreadable or broken
 * CRL is an error at its key, so --check-config and a start find it, not the first connect.
 */
static void s_test_crl(void)
{
    char dir[64] = "/tmp/anpr-test-conf-XXXXXX", err[512], text[8192], want[8192], path[4096];
    static const char *const files[] = {"ca.pem",
                                        "ca.key",
                                        "server.pem",
                                        "server.key",
                                        "client.pem",
                                        "client.key",
                                        "encrypted.key",
                                        "expired.pem",
                                        "expired.key",
                                        "selfsigned.pem",
                                        "selfsigned.key",
                                        "cnonly.pem",
                                        "cnonly.key",
                                        "rsa.pem",
                                        "rsa.key",
                                        "otherca.pem",
                                        "otherca.key",
                                        "otherca-server.pem",
                                        "otherca-server.key",
                                        "revoked.pem",
                                        "revoked.key",
                                        "crl.pem",
                                        "wronghost.pem",
                                        "wronghost.key",
                                        "empty.pem"};
    struct conf *c;
    FILE *f;

    if (mkdtemp(dir) == NULL || testcert_make(dir, err, sizeof err) != 0) {
        fprintf(stderr, "test_conf: certificates: %s\n", err);
        CHECK(0);
        return;
    }
    snprintf(text, sizeof text, DB "backbone:\n  crl_file: %s/crl.pem\n", dir);
    c = s_ok(text);
    if (c) {
        snprintf(want, sizeof want, "%s/crl.pem", dir);
        CHECK_STR(c->backbone.crl_file, want);
    }
    conf_destroy(&c);
    c = s_ok(DB);
    if (c)
        CHECK_STR(c->backbone.crl_file, "");
    conf_destroy(&c);
    EXPECT(DB "backbone:\n  crl_file: /nonexistent/crl.pem\n",
           "t.yaml:4:13: backbone.crl_file: CRL file /nonexistent/crl.pem: No such file or "
           "directory\n");
    EXPECT(DB "backbone:\n  crl_file: crl.pem\n",
           "t.yaml:4:13: backbone.crl_file: must be an absolute path, got 'crl.pem'\n");
    /* a certificate where the CRL should be, and an empty file */
    snprintf(text, sizeof text, DB "backbone:\n  crl_file: %s/ca.pem\n", dir);
    snprintf(want, sizeof want,
             "t.yaml:4:13: backbone.crl_file: CRL file %s/ca.pem: no CRL in the file (PEM \"X509 "
             "CRL\" expected)\n",
             dir);
    EXPECT(text, want);
    f = fopen(testcert_path(dir, "empty.pem", path, sizeof path), "w");
    CHECK(f != NULL && fclose(f) == 0);
    snprintf(text, sizeof text, DB "backbone:\n  crl_file: %s\n", path);
    snprintf(want, sizeof want,
             "t.yaml:4:13: backbone.crl_file: CRL file %s: no CRL in the file (PEM \"X509 CRL\" "
             "expected)\n",
             path);
    EXPECT(text, want);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(testcert_path(dir, files[i], path, sizeof path));
    CHECK_INT(rmdir(dir), 0);
}

/* The metrics section: loopback by default, off when empty, an IP address and a port. */
static void s_test_metrics(void)
{
    struct sockaddr_storage addr;
    socklen_t len;
    bool loopback;
    struct conf *c = s_ok(DB);

    if (c)
        CHECK_STR(c->metrics.listen, "127.0.0.1:9105");
    conf_destroy(&c);
    c = s_ok(DB "metrics:\n  listen: \"\"\n");
    if (c)
        CHECK_STR(c->metrics.listen, "");
    conf_destroy(&c);
    c = s_ok(DB "metrics:\n  listen: \"[::1]:0\"\n");
    if (c)
        CHECK_STR(c->metrics.listen, "[::1]:0");
    conf_destroy(&c);
    EXPECT(DB "metrics:\n  listen: localhost:9105\n",
           "t.yaml:4:11: metrics.listen: invalid listen address 'localhost:9105': not an IPv4 "
           "address (names are not looked up; IPv6 goes in brackets)\n");
    EXPECT(DB "metrics:\n  listen: 127.0.0.1\n",
           "t.yaml:4:11: metrics.listen: invalid listen address '127.0.0.1': expected "
           "address:port\n");
    EXPECT(DB "metrics:\n  listen: \"127.0.0.1:65536\"\n",
           "t.yaml:4:11: metrics.listen: invalid listen address '127.0.0.1:65536': expected a port "
           "number 0..65535 after the last ':'\n");
    EXPECT(DB "metrics:\n  listen: \"::1:9105\"\n",
           "t.yaml:4:11: metrics.listen: invalid listen address '::1:9105': an IPv6 address goes "
           "in brackets, e.g. [::1]:9105\n");
    EXPECT(DB "metrics:\n  port: 9105\n",
           "t.yaml:4:3: metrics.port: unknown key; expected one of: listen\n");

    CHECK(conf_listen_parse("127.0.0.1:9105", &addr, &len, &loopback) == NULL);
    CHECK(loopback && addr.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
    CHECK(conf_listen_parse("127.1.2.3:1", &addr, &len, &loopback) == NULL && loopback);
    CHECK(conf_listen_parse("0.0.0.0:9105", &addr, &len, &loopback) == NULL && !loopback);
    CHECK(conf_listen_parse("[::1]:9105", &addr, &len, &loopback) == NULL && loopback);
    CHECK(addr.ss_family == AF_INET6);
    CHECK(conf_listen_parse("[::]:9105", &addr, &len, &loopback) == NULL && !loopback);
    CHECK(conf_listen_parse("10.0.0.1:-1", &addr, &len, &loopback) != NULL);
    CHECK(conf_listen_parse("10.0.0.1:", &addr, &len, &loopback) != NULL);
    CHECK(conf_listen_parse(":9105", &addr, &len, &loopback) != NULL);
    CHECK(conf_listen_parse("[]:9105", &addr, &len, &loopback) != NULL);
}

static void s_test_destroy(void)
{
    struct conf *c = NULL;

    conf_destroy(NULL);
    conf_destroy(&c);
    c = s_ok(DB);
    conf_destroy(&c);
    CHECK(c == NULL);
    conf_destroy(&c);
}

/* curve: the secret key file or plain text by name (whether either is set is anprd's check). */
static void s_test_curve(void)
{
    struct conf *r = s_ok(DB "ingest:\n  peer_rate_per_s: 0\n  peer_burst: 7\n");
    CHECK_INT(r->ingest.peer_rate_per_s, 0);
    CHECK_INT(r->ingest.peer_burst, 7);
    conf_destroy(&r);
    EXPECT(DB "ingest:\n  peer_burst: 0\n",
           "t.yaml:4:15: ingest.peer_burst: out of range: 0 (must be 1..10000000)\n");
    struct conf *c = s_ok(DB "curve:\n  secret_file: /etc/anprd/anprd.key\n");
    CHECK_STR(c->curve.secret_file, "/etc/anprd/anprd.key");
    CHECK_INT(c->curve.insecure_plaintext, 0);
    conf_destroy(&c);
    c = s_ok(DB "curve:\n  insecure_plaintext: true\n");
    CHECK_STR(c->curve.secret_file, "");
    CHECK_INT(c->curve.insecure_plaintext, 1);
    conf_destroy(&c);
    c = s_ok(DB);
    CHECK_STR(c->curve.secret_file, "");
    CHECK_INT(c->curve.insecure_plaintext, 0);
    conf_destroy(&c);
    EXPECT(DB "curve:\n  insecure_plaintext: yes\n",
           "t.yaml:4:23: curve.insecure_plaintext: expected true or false, got 'yes'\n");
    EXPECT(DB "curve:\n  secret_file: anprd.key\n",
           "t.yaml:4:16: curve.secret_file: must be an absolute path, got 'anprd.key'\n");
    EXPECT(DB "curve:\n  secret_file: /k\n  insecure_plaintext: true\n",
           "t.yaml:1:1: curve.insecure_plaintext: true together with curve.secret_file: choose "
           "one\n");
}

int main(void)
{
    s_test_full();
    s_test_multi_host();
    s_test_defaults();
    s_test_syntax();
    s_test_structure();
    s_test_types();
    s_test_ranges();
    s_test_endpoints();
    s_test_values();
    s_test_required();
    s_test_aliases();
    s_test_many();
    s_test_order();
    s_test_load();
    s_test_example();
    s_test_instance();
    s_test_cluster();
    s_test_spool();
    s_test_backbone();
    s_test_curve();
    s_test_crl();
    s_test_metrics();
    s_test_destroy();
    return check_done("conf");
}
