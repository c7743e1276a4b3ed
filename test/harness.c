#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "util.h"

/* The daemon a test started, so that a test that dies does not leave it running. */
static pid_t h_running_daemon;

void h_fatal(const char *fmt, ...)
{
    va_list ap;

    if (h_running_daemon > 0)
        kill(h_running_daemon, SIGKILL);

    fprintf(stderr, "harness: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static const char *s_env(const char *name)
{
    const char *v = getenv(name);

    if (!v || !*v)
        h_fatal("%s is not set (run the tests with tools/anpr-test)", name);
    return v;
}

void h_require_env(void)
{
    if (!getenv("ANPR_TEST_PGHOST") || !getenv("ANPR_TEST_PGPORT") || !getenv("ANPR_TEST_PGUSER")) {
        printf("skipped: no test database (run the tests with tools/anpr-test)\n");
        exit(H_SKIP);
    }
}

static PGconn *s_connect(const char *ci)
{
    PGconn *conn = PQconnectdb(ci);

    if (PQstatus(conn) != CONNECTION_OK)
        h_fatal("connect: %s", PQerrorMessage(conn));
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    return conn;
}

void h_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        h_fatal("SQL failed: %s\n  %s", PQresultErrorMessage(res), sql);
    PQclear(res);
}

const char *h_conninfo_as(const struct h_db *db, const char *user)
{
    static char ci[600];

    snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=%s", getenv("ANPR_TEST_PGHOST"),
             getenv("ANPR_TEST_PGPORT"), db->name, user);
    return ci;
}

PGconn *h_connect_as(const struct h_db *db, const char *user)
{
    PGconn *conn = PQconnectdb(h_conninfo_as(db, user));

    if (PQstatus(conn) != CONNECTION_OK)
        h_fatal("connect as %s: %s", user, PQerrorMessage(conn));
    return conn;
}

const char *h_sqlstate(PGconn *conn, const char *sql)
{
    static char state[6];
    PGresult *res = PQexec(conn, sql);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    snprintf(state, sizeof state, "%s", st ? st : "");
    PQclear(res);
    return state;
}

const char *h_sqlstate_as(const struct h_db *db, const char *user, const char *sql)
{
    PGconn *conn = h_connect_as(db, user);
    const char *state = h_sqlstate(conn, sql);

    PQfinish(conn);
    return state;
}

void h_index_reads(PGconn *conn)
{
    h_exec(conn, "INSERT INTO anpr.read_identity (camera_id, epoch, seq, read_us, plate) "
                 "SELECT r.camera_id, r.epoch, r.seq, anpr.us_of(r.read_time), r.plate "
                 "FROM anpr.plate_read r ON CONFLICT DO NOTHING");
}

long long h_query_ll(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    long long v = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
        h_fatal("query failed: %s\n  %s", PQresultErrorMessage(res), sql);
    if (!PQgetisnull(res, 0, 0) &&
        util_parse_long(PQgetvalue(res, 0, 0), INT64_MIN, INT64_MAX, &v) != 0)
        h_fatal("query: not a number: %s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

long long h_wait_ll(PGconn *conn, const char *sql, long long want, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    long long v;

    for (;;) {
        v = h_query_ll(conn, sql);
        if (v == want || util_mono_us() >= deadline)
            return v;
        s_sleep_ms(20);
    }
}

void h_copy_in(PGconn *conn, const char *copy_sql, const char *data, size_t len)
{
    PGresult *res = PQexec(conn, copy_sql);

    if (PQresultStatus(res) != PGRES_COPY_IN)
        h_fatal("COPY: %s", PQresultErrorMessage(res));
    PQclear(res);
    if (PQputCopyData(conn, data, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1)
        h_fatal("COPY: %s", PQerrorMessage(conn));
    res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        h_fatal("COPY: %s", PQresultErrorMessage(res));
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
}

void h_db_create(struct h_db *db, const char *name)
{
    char ci[512], sql[256];
    const char *host = s_env("ANPR_TEST_PGHOST"), *port = s_env("ANPR_TEST_PGPORT"),
               *user = s_env("ANPR_TEST_PGUSER");
    PGconn *pg;

    memset(db, 0, sizeof *db);
    snprintf(db->name, sizeof db->name, "%s", name);
    snprintf(ci, sizeof ci, "host=%s port=%s user=%s dbname=postgres", host, port, user);
    pg = s_connect(ci);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    h_exec(pg, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    h_exec(pg, sql);
    PQfinish(pg);

    snprintf(db->admin_ci, sizeof db->admin_ci, "host=%s port=%s user=%s dbname=%s", host, port,
             user, name);
    snprintf(db->daemon_ci, sizeof db->daemon_ci, "host=%s port=%s user=anprd dbname=%s", host,
             port, name);

    /* The schema comes from the real migration tool, as in production. */
    char *argv[] = {(char *)s_env("ANPR_MIGRATE"), "--db", db->admin_ci, "--dir",
                    (char *)s_env("ANPR_SQLDIR"),  NULL};
    int st = h_wait(h_spawn(argv, NULL, NULL), 60000);
    if (st != 0)
        h_fatal("anpr-migrate failed (status %d)", st);

    db->admin = s_connect(db->admin_ci);
    /* Roles are cluster-wide: create the daemon's login once, grant it its group. */
    h_exec(db->admin, "DO $$ BEGIN "
                      "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anprd') THEN "
                      "CREATE ROLE anprd LOGIN; END IF; END $$");
    h_exec(db->admin, "GRANT anpr_daemon TO anprd");
}

void h_db_close(struct h_db *db)
{
    PQfinish(db->admin);
    db->admin = NULL;
}

/* --- processes ------------------------------------------------------------------------------ */

pid_t h_spawn(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();

    if (pid < 0)
        h_fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0)
                dup2(fd, 1);
        }
        if (err_path && out_path && strcmp(err_path, out_path) == 0) {
            dup2(1, 2); /* one file, one offset: the two streams must not overwrite each other */
        } else if (err_path) {
            int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0)
                dup2(fd, 2);
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

int h_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0)
            return -1;
        if (util_mono_us() >= deadline) {
            fprintf(stderr, "harness: pid %d still running after %d ms, killing it\n", (int)pid,
                    timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        s_sleep_ms(10);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

char *h_slurp(const char *path)
{
    char *s = util_read_file(path, NULL);

    return s ? s : strdup("");
}

/* --- the daemon ----------------------------------------------------------------------------- */

int h_daemon_start(struct h_daemon *d, const struct h_db *db, const char *extra)
{
    const struct h_daemon_opts opts = {.extra = extra};

    return h_daemon_start_opts(d, db, &opts);
}

int h_daemon_start_opts(struct h_daemon *d, const struct h_db *db, const struct h_daemon_opts *opts)
{
    FILE *f;

    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/anprd-test.XXXXXX");
    if (!mkdtemp(d->dir))
        h_fatal("mkdtemp: %s", strerror(errno));
    snprintf(d->conf_path, sizeof d->conf_path, "%s/anprd.yaml", d->dir);
    snprintf(d->log_path, sizeof d->log_path, "%s/anprd.log", d->dir);
    if (opts && opts->tcp)
        snprintf(d->ingest_ep, sizeof d->ingest_ep, "tcp://127.0.0.1:%d", h_free_port());
    else
        snprintf(d->ingest_ep, sizeof d->ingest_ep, "ipc://%s/ingest", d->dir);
    snprintf(d->dispatch_ep, sizeof d->dispatch_ep, "ipc://%s/dispatch", d->dir);
    snprintf(d->covert_ep, sizeof d->covert_ep, "ipc://%s/covert", d->dir);

    f = fopen(d->conf_path, "w");
    if (!f)
        h_fatal("%s: %s", d->conf_path, strerror(errno));
    fprintf(f,
            "ingest:\n  endpoint: \"%s\"\n%s"
            "dispatch:\n  endpoint: \"%s\"\n  covert_endpoint: \"%s\"\n%s"
            "database:\n  conninfo: \"%s\"\n  batch_size: 500\n  flush_interval_ms: %d\n"
            "  reconnect_max_ms: 1000\n%s"
            "log:\n  level: %s\n  stats_interval_s: 1\n  reject_log_interval_s: 1\n"
            "curve:\n%s%s\n"
            "metrics:\n  listen: \"%s\"\n"
            "%s",
            d->ingest_ep, opts && opts->ingest ? opts->ingest : "", d->dispatch_ep, d->covert_ep,
            opts && opts->dispatch ? opts->dispatch : "", db->daemon_ci,
            opts && opts->flush_interval_ms > 0 ? opts->flush_interval_ms : 2,
            opts && opts->database ? opts->database : "",
            opts && opts->log_level ? opts->log_level : "info",
            opts && opts->curve_secret_file ? "  secret_file: " : "  insecure_plaintext: true",
            opts && opts->curve_secret_file ? opts->curve_secret_file : "",
            opts && opts->metrics ? opts->metrics : "", opts && opts->extra ? opts->extra : "");
    fclose(f);
    return h_daemon_restart(d);
}

int h_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        h_fatal("free port: %s", strerror(errno));
    close(fd);
    return ntohs(sa.sin_port);
}

void h_daemon_launch(struct h_daemon *d)
{
    char sock_path[80];
    struct sockaddr_un sa;
    char log_old[200];

    /* A restart keeps the log of the runs before it, in anprd.log.N. */
    for (int n = 1; n < 1000; n++) {
        snprintf(log_old, sizeof log_old, "%s.%d", d->log_path, n);
        if (access(log_old, F_OK) != 0) {
            if (access(d->log_path, F_OK) == 0)
                rename(d->log_path, log_old);
            break;
        }
    }
    snprintf(sock_path, sizeof sock_path, "%s/notify", d->dir);
    unlink(sock_path);
    /* Our NOTIFY_SOCKET: the daemon says READY=1 on it, as it would to systemd. */
    d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    if (d->notify_fd < 0 || bind(d->notify_fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        h_fatal("notify socket: %s", strerror(errno));
    setenv("NOTIFY_SOCKET", sock_path, 1);

    char *argv[] = {(char *)s_env("ANPRD"), "--config", d->conf_path, NULL};
    d->pid = h_spawn(argv, d->log_path, d->log_path);
    h_running_daemon = d->pid;
    unsetenv("NOTIFY_SOCKET");
}

int h_daemon_restart(struct h_daemon *d)
{
    h_daemon_launch(d);
    return h_daemon_wait_ready(d, 15000);
}

int h_daemon_wait_ready(struct h_daemon *d, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    do {
        struct pollfd p = {d->notify_fd, POLLIN, 0};
        char buf[512];
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = recv(d->notify_fd, buf, sizeof buf - 1, 0);
            if (n > 0) {
                buf[n] = '\0';
                if (strstr(buf, "READY=1"))
                    return 0;
            }
        }
        int status;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            fprintf(stderr, "harness: anprd exited (status %d) before it was ready\n",
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            d->pid = 0;
            h_daemon_dump_log(d);
            return -1;
        }
    } while (util_mono_us() < deadline);
    if (timeout_ms == 0)
        return -1; /* a look: not ready yet */
    fprintf(stderr, "harness: anprd not ready within %d ms\n", timeout_ms);
    h_daemon_dump_log(d);
    return -1;
}

int h_daemon_stop(struct h_daemon *d, int sig, int timeout_ms)
{
    int st;

    if (d->pid <= 0)
        return -1;
    if (h_running_daemon == d->pid)
        h_running_daemon = 0;
    kill(d->pid, sig);
    st = h_wait(d->pid, timeout_ms);
    d->pid = 0;
    if (d->notify_fd > 0)
        close(d->notify_fd);
    d->notify_fd = -1;
    return st;
}

int h_daemon_finish(struct h_daemon *d, int failed_so_far)
{
    int st = h_daemon_stop(d, SIGTERM, 20000);

    if (failed_so_far || st != 0)
        h_daemon_dump_log(d);
    else
        h_daemon_cleanup(d);
    return st;
}

void h_daemon_dump_log(const struct h_daemon *d)
{
    char *log = h_slurp(d->log_path);

    fprintf(stderr, "----- %s -----\n%s----- end of log -----\n", d->log_path, log);
    free(log);
}

bool h_daemon_log_has(const struct h_daemon *d, const char *needle)
{
    char *log = h_slurp(d->log_path);
    bool has = strstr(log, needle) != NULL;

    free(log);
    return has;
}

bool h_daemon_wait_log(const struct h_daemon *d, const char *needle, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;

    for (;;) {
        if (h_daemon_log_has(d, needle))
            return true;
        if (util_mono_us() >= deadline)
            return false;
        s_sleep_ms(10);
    }
}

int h_daemon_log_count(const struct h_daemon *d, const char *needle)
{
    char *log = h_slurp(d->log_path);
    int n = 0;

    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(log);
    return n;
}

long long h_daemon_stat(const struct h_daemon *d, const char *key)
{
    char *log = h_slurp(d->log_path);
    long long v = -1;

    for (const char *p = log; (p = strstr(p, key)) != NULL; p += strlen(key))
        v = strtoll(p + strlen(key), NULL, 10);
    free(log);
    return v;
}

static int s_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
    return 0; /* remove what can be removed */
}

bool h_spool_segment(const char *dir, char *path, size_t cap)
{
    DIR *d = opendir(dir);
    int n = 0;

    if (!d)
        return false;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0) {
            snprintf(path, cap, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    return n == 1;
}

int h_rmtree(const char *dir)
{
    struct stat st;

    if (!dir || !*dir)
        return -1;
    if (getenv("ANPR_TEST_KEEP")) {
        fprintf(stderr, "harness: ANPR_TEST_KEEP is set: keeping %s\n", dir);
        return 0;
    }
    nftw(dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return lstat(dir, &st) == 0 ? -1 : 0;
}

void h_daemon_cleanup(struct h_daemon *d)
{
    if (d->pid > 0)
        h_daemon_stop(d, SIGKILL, 5000);
    if (d->dir[0] && h_rmtree(d->dir) == 0 && !getenv("ANPR_TEST_KEEP"))
        d->dir[0] = '\0';
}

/* --- ZeroMQ ---------------------------------------------------------------------------------- */

struct h_keypair h_keypair(void)
{
    struct h_keypair k;

    if (zmq_curve_keypair(k.pub, k.sec) != 0)
        h_fatal("zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
    return k;
}

void h_write_key(const char *path, const char *z85)
{
    FILE *f = fopen(path, "w");

    if (!f || fprintf(f, "%s\n", z85) < 0 || fclose(f) != 0)
        h_fatal("%s: cannot write", path);
}

void *h_curve_client(int type, const char *endpoint, const struct h_keypair *k,
                     const char *server_pub, const char *topic)
{
    void *s = zmq_socket(h_zmq_ctx(), type);
    int zero = 0, ivl = 100;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    if (topic)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (k) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub, 41);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, 41);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 41);
    }
    if (zmq_connect(s, endpoint) != 0)
        h_fatal("connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

void *h_zmq_ctx(void)
{
    static void *ctx;

    if (!ctx)
        ctx = zmq_ctx_new();
    return ctx;
}

void *h_dealer(const char *endpoint)
{
    void *s = zmq_socket(h_zmq_ctx(), ZMQ_DEALER);
    int zero = 0;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, endpoint) != 0)
        h_fatal("connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

void *h_sub(const char *endpoint, const char *topic)
{
    void *s = zmq_socket(h_zmq_ctx(), ZMQ_SUB);
    int zero = 0;

    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (zmq_connect(s, endpoint) != 0)
        h_fatal("connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

void *h_covert(const char *endpoint, const char *topic)
{
    void *s = h_dealer(endpoint);

    /* Queued until the connection is made: the first subscription cannot be lost. */
    if (zmq_send(s, topic, strlen(topic), 0) != (int)strlen(topic))
        h_fatal("covert subscription: %s", zmq_strerror(zmq_errno()));
    return s;
}

void h_close(void *sock)
{
    if (sock)
        zmq_close(sock);
}

int h_send_raw(void *sock, const void *buf, size_t len)
{
    return zmq_send(sock, buf, len, 0) == (int)len ? 0 : -1;
}

int h_send_read(void *sock, const struct proto_read *r)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t len = proto_encode_read(r, frame, sizeof frame);

    if (len == 0)
        h_fatal("read of %s seq %llu does not encode", r->camera, (unsigned long long)r->seq);
    return h_send_raw(sock, frame, len);
}

uint64_t h_send_reads(void *sock, const char *camera, uint64_t *seq, size_t n, const char *prefix)
{
    uint64_t first = *seq;

    for (size_t i = 0; i < n; i++, (*seq)++) {
        char plate[32];
        snprintf(plate, sizeof plate, "%s%03u", prefix, (unsigned)(*seq % 1000));
        struct proto_read r = h_read(camera, *seq, plate, "BE");
        h_send_read(sock, &r);
    }
    return first;
}

struct h_tally *h_tally_find(struct h_tally *t, size_t nt, const char *plate)
{
    for (size_t i = 0; i < nt; i++)
        if (strcmp(t[i].plate, plate) == 0)
            return &t[i];
    return NULL;
}

bool h_tally_until(struct h_tally *t, size_t nt, void *const *subs, int nsubs, const char *plate,
                   int n, int ms)
{
    int64_t deadline = util_mono_us() + (int64_t)ms * 1000;
    struct h_tally *want = h_tally_find(t, nt, plate);
    zmq_pollitem_t items[4];

    if (nsubs > 4)
        nsubs = 4;
    for (;;) {
        if (want && want->n >= n)
            return true;
        int64_t left = (deadline - util_mono_us()) / 1000;
        for (int i = 0; i < nsubs; i++)
            items[i] = (zmq_pollitem_t){subs[i], 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(items, nsubs, left) <= 0)
            return false;
        for (int i = 0; i < nsubs; i++) {
            uint8_t buf[PROTO_MAX_FRAME];
            struct proto_hit h;
            int len;
            if (!(items[i].revents & ZMQ_POLLIN) ||
                (len = h_recv(items[i].socket, buf, sizeof buf, 0)) < 0 ||
                proto_decode_hit(buf, (size_t)len, &h, NULL) != 0)
                continue;
            struct h_tally *c = h_tally_find(t, nt, h.read.plate);
            if (!c)
                continue;
            if (c->n++ == 0)
                c->id = h.hit_id;
            else if (c->two_ids && c->alias == 0 && h.hit_id != c->id)
                c->alias = h.hit_id;
            else if (h.hit_id != c->id && h.hit_id != c->alias)
                c->wrong++; /* announced again: the same id */
        }
    }
}

int h_recv(void *sock, uint8_t *buf, size_t cap, int timeout_ms)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    int more = 1, len = -1;
    size_t ml = sizeof more;

    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return -1;
    while (more) {
        len = zmq_recv(sock, buf, cap, 0);
        if (len < 0)
            return -1;
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    }
    return len > (int)cap ? -1 : len;
}

struct proto_read h_read(const char *camera, uint64_t seq, const char *plate, const char *country)
{
    struct proto_read r;

    memset(&r, 0, sizeof r);
    snprintf(r.camera, sizeof r.camera, "%s", camera);
    snprintf(r.plate, sizeof r.plate, "%s", plate);
    snprintf(r.country, sizeof r.country, "%s", country ? country : "");
    r.seq = seq;
    r.time_us = util_now_us();
    r.confidence = 900;
    r.lane = 1;
    r.direction = PROTO_DIR_TOWARDS;
    return r;
}

void h_acks_init(struct h_acks *a, uint64_t first, size_t n, size_t max_rejects)
{
    memset(a, 0, sizeof *a);
    a->first = first;
    a->n = n;
    a->acked = calloc(n ? n : 1, sizeof *a->acked);
    a->max_rejects = max_rejects;
    a->rejects = calloc(max_rejects ? max_rejects : 1, sizeof *a->rejects);
    if (!a->acked || !a->rejects)
        h_fatal("out of memory");
}

void h_acks_free(struct h_acks *a)
{
    free(a->acked);
    free(a->rejects);
    memset(a, 0, sizeof *a);
}

static size_t s_acked(const struct h_acks *a)
{
    size_t n = 0;

    for (size_t i = 0; i < a->n; i++)
        n += a->acked[i];
    return n;
}

/* Take one frame off the socket and record it; returns its type, or -1 on timeout. */
static int s_take(struct h_acks *a, void *sock, const char *camera, struct proto_reject *rej,
                  int timeout_ms)
{
    uint8_t buf[PROTO_MAX_FRAME];
    struct proto_ack_range ranges[PROTO_ACK_MAX_RANGES];
    struct proto_error err;
    size_t nr;
    uint8_t type;
    int len = h_recv(sock, buf, sizeof buf, timeout_ms);

    if (len < 0)
        return -1;
    if (proto_peek(buf, (size_t)len, &type, &err) != 0)
        h_fatal("undecodable frame from anprd: %s", err.msg);
    if (type == PROTO_ACK) {
        if (proto_decode_ack(buf, (size_t)len, ranges, PROTO_ACK_MAX_RANGES, &nr, &err) != 0)
            h_fatal("bad ACK from anprd: %s", err.msg);
        for (size_t i = 0; i < nr; i++) {
            if (strcmp(ranges[i].camera, camera) != 0 || ranges[i].epoch != a->epoch)
                continue;
            for (uint64_t s = ranges[i].first_seq; s < ranges[i].first_seq + ranges[i].count; s++)
                if (s >= a->first && s < a->first + a->n)
                    a->acked[s - a->first] = true;
        }
    } else if (type == PROTO_REJECT) {
        struct proto_reject r;
        if (proto_decode_reject(buf, (size_t)len, &r, &err) != 0)
            h_fatal("bad REJECT from anprd: %s", err.msg);
        if (a->nrejects < a->max_rejects)
            a->rejects[a->nrejects++] = r;
        if (rej)
            *rej = r;
    } else {
        h_fatal("unexpected frame type %u from anprd", type);
    }
    return type;
}

size_t h_acks_wait(struct h_acks *a, void *sock, const char *camera, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;

    while (s_acked(a) < a->n) {
        int64_t left = (deadline - util_mono_us()) / 1000;
        if (left <= 0 || s_take(a, sock, camera, NULL, (int)left) < 0)
            break;
    }
    return s_acked(a);
}

int h_wait_reject(struct h_acks *a, void *sock, const char *camera, struct proto_reject *out,
                  int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;

    for (;;) {
        int64_t left = (deadline - util_mono_us()) / 1000;
        if (left <= 0)
            return -1;
        int t = s_take(a, sock, camera, out, (int)left);
        if (t < 0)
            return -1;
        if (t == PROTO_REJECT)
            return 0;
    }
}

int h_collect_hits(void *sub, const char *camera, uint64_t fence_seq, const char *fence_plate,
                   struct proto_hit *hits, int max, int timeout_ms)
{
    int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
    int n = 0;

    for (;;) {
        uint8_t buf[PROTO_MAX_FRAME];
        struct proto_hit h;
        struct proto_error err;
        int64_t left = (deadline - util_mono_us()) / 1000;
        int len = left > 0 ? h_recv(sub, buf, sizeof buf, (int)left) : -1;

        if (len < 0)
            return -1;
        if (proto_decode_hit(buf, (size_t)len, &h, &err) != 0) {
            fprintf(stderr, "harness: undecodable HIT: %s\n", err.msg);
            return -1;
        }
        if (strcmp(h.read.camera, camera) == 0 && h.read.seq == fence_seq)
            return n;
        if (strcmp(h.read.plate, fence_plate) == 0 && h.read.seq < fence_seq)
            continue;
        if (n < max)
            hits[n] = h;
        n++;
    }
}

bool h_feed_live(void *dealer, void *sub, const char *camera, uint64_t *seq,
                 const char *fence_plate)
{
    for (int i = 0; i < 100; i++) {
        struct proto_read r = h_read(camera, (*seq)++, fence_plate, "");
        h_send_read(dealer, &r);
        if (h_collect_hits(sub, camera, r.seq, fence_plate, NULL, 0, 100) == 0)
            return true;
    }
    return false;
}

bool h_db_lock_out(const struct h_db *db)
{
    char sql[512];

    h_exec(db->admin, "ALTER ROLE anprd NOLOGIN");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE usename = 'anprd' AND datname = '%s') t",
             db->name);
    h_query_ll(db->admin, sql);
    /* A connection that passed its login check just before NOLOGIN may show up in
     * pg_stat_activity only after the first round: a second one, a moment later, ends it. */
    s_sleep_ms(300);
    h_query_ll(db->admin, sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE usename = 'anprd' AND datname = '%s'",
             db->name);
    /* Generous: on a busy machine the daemon's threads take their time to notice. */
    return h_wait_ll(db->admin, sql, 0, 60000) == 0;
}

void h_db_let_in(const struct h_db *db)
{
    h_exec(db->admin, "ALTER ROLE anprd LOGIN");
}
