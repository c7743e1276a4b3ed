#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idset.h"
#include "util.h"

#define S_MAGIC      "ANPRSNP1"
#define S_MAGIC_LEN  8
#define S_HEAD_LEN   (S_MAGIC_LEN + 4 + 8) /* magic, kind, body length */
#define S_HASH_LEN   32                    /* SHA-256 */
#define S_KIND_WL    1
#define S_KIND_SITE  2
#define S_KIND_KEYS  3
#define S_MAX_BYTES  (4ULL << 30) /* no copy of ours is this large: refuse before reading */
#define S_MAX_STRING (1U << 20)

/* A growing buffer for the body; ok turns false on out of memory and stays so. */
struct s_buf {
    unsigned char *p;
    size_t len, cap;
    bool ok;
};

static void s_put(struct s_buf *b, const void *v, size_t n)
{
    if (!b->ok)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->ok = false;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, v, n);
    b->len += n;
}

/* Little-endian, whatever the host. */
static void s_put_u64(struct s_buf *b, uint64_t v, size_t bytes)
{
    unsigned char x[8];

    for (size_t i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    s_put(b, x, bytes);
}

static void s_put_str(struct s_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    s_put_u64(b, n, 4);
    s_put(b, s ? s : "", n);
}

/* A cursor over a body read back; ok turns false at the first field that does not fit. */
struct s_cur {
    const unsigned char *p;
    size_t len, at;
    bool ok;
};

static uint64_t s_get_u64(struct s_cur *c, size_t bytes)
{
    uint64_t v = 0;

    if (!c->ok || c->len - c->at < bytes) {
        c->ok = false;
        return 0;
    }
    for (size_t i = 0; i < bytes; i++)
        v |= (uint64_t)c->p[c->at + i] << (8 * i);
    c->at += bytes;
    return v;
}

/* A string of the body, copied (NUL-terminated), or NULL when it does not fit or on OOM. */
static char *s_get_str(struct s_cur *c)
{
    uint64_t n = s_get_u64(c, 4);
    char *s;

    if (!c->ok || n > S_MAX_STRING || c->len - c->at < n || memchr(c->p + c->at, '\0', (size_t)n) ||
        !(s = malloc((size_t)n + 1))) {
        c->ok = false;
        return NULL;
    }
    memcpy(s, c->p + c->at, (size_t)n);
    s[n] = '\0';
    c->at += (size_t)n;
    return s;
}

static int s_hash(const unsigned char *p, size_t n, unsigned char out[S_HASH_LEN])
{
    unsigned int len = 0;

    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == S_HASH_LEN ? 0 : -1;
}

/* All of n bytes to fd; 0, or -1 with errno. */
static int s_write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            errno = w < 0 ? errno : EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Header, the body (the parts one after the other, not copied into one: a large watchlist
 * would be held twice) and the hash of both to dir/name, through a temporary file renamed over
 * it. 0 or -1.
 */
static int s_write(const char *dir, const char *name, uint32_t kind, const struct s_buf *parts,
                   size_t nparts, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    struct s_buf head = {.ok = true};
    unsigned char hash[S_HASH_LEN];
    unsigned int hlen = 0;
    EVP_MD_CTX *md = NULL;
    size_t len = 0;
    int fd = -1, dfd = -1, rc = -1;

    for (size_t i = 0; i < nparts; i++) {
        if (!parts[i].ok) {
            util_errf(err, errlen, "snapshot %s: out of memory", name);
            return -1;
        }
        len += parts[i].len;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= sizeof tmp) {
        util_errf(err, errlen, "snapshot %s: directory name too long", name);
        return -1;
    }
    s_put(&head, S_MAGIC, S_MAGIC_LEN);
    s_put_u64(&head, kind, 4);
    s_put_u64(&head, len, 8);
    if (!head.ok || !(md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        util_errf(err, errlen, "snapshot %s: out of memory", name);
        goto out;
    }
    /* At the first start the spool may not have made its directory yet: made as it would. */
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        util_errf(err, errlen, "snapshot %s: mkdir: %s", dir, strerror(errno));
        goto out;
    }
    /* A temporary file left by a crash is replaced: it was never renamed, so never read. */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        util_errf(err, errlen, "snapshot %s: create: %s", tmp, strerror(errno));
        goto out;
    }
    bool ok = EVP_DigestUpdate(md, head.p, head.len) == 1 && s_write_all(fd, head.p, head.len) == 0;
    for (size_t i = 0; ok && i < nparts; i++)
        ok = (parts[i].len == 0 || EVP_DigestUpdate(md, parts[i].p, parts[i].len) == 1) &&
             s_write_all(fd, parts[i].p, parts[i].len) == 0;
    ok = ok && EVP_DigestFinal_ex(md, hash, &hlen) == 1 && hlen == S_HASH_LEN &&
         s_write_all(fd, hash, S_HASH_LEN) == 0;
    if (!ok) {
        util_errf(err, errlen, "snapshot %s: write: %s", tmp, strerror(errno));
        goto out;
    }
    if (fsync(fd) != 0) {
        util_errf(err, errlen, "snapshot %s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        util_errf(err, errlen, "snapshot %s: close: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        util_errf(err, errlen, "snapshot %s: rename: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* The rename is durable once the directory is synced. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        util_errf(err, errlen, "snapshot %s: fsync directory: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (dfd >= 0)
        close(dfd);
    EVP_MD_CTX_free(md);
    free(head.p);
    return rc;
}

/*
 * dir/name checked whole (mode, size, magic, kind, length, hash): the body into *body (caller
 * frees) and its length. 0; 1 when the file does not exist; -1 refused or unreadable.
 */
static int s_read(const char *dir, const char *name, uint32_t kind, unsigned char **body,
                  size_t *blen, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;
    unsigned char *p = NULL, hash[S_HASH_LEN];
    size_t n = 0;
    int fd = -1, rc = -1;

    *body = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        util_errf(err, errlen, "snapshot %s: directory name too long", name);
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        util_errf(err, errlen, "snapshot %s: %s", path, strerror(errno));
        return errno == ENOENT ? 1 : -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        util_errf(err, errlen, "snapshot %s: not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        util_errf(err, errlen,
                  "snapshot %s: refused: mode %04o, owner %u; anprd writes it mode 0600 as its "
                  "own user, so another wrote or opened this one",
                  path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
        goto out;
    }
    if ((unsigned long long)st.st_size < S_HEAD_LEN + S_HASH_LEN ||
        (unsigned long long)st.st_size > S_MAX_BYTES) {
        util_errf(err, errlen, "snapshot %s: refused: %lld bytes is no snapshot of ours", path,
                  (long long)st.st_size);
        goto out;
    }
    n = (size_t)st.st_size;
    if (!(p = malloc(n))) {
        util_errf(err, errlen, "snapshot %s: out of memory", path);
        goto out;
    }
    for (size_t at = 0; at < n;) {
        ssize_t r = read(fd, p + at, n - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            util_errf(err, errlen, "snapshot %s: read: %s", path,
                      r < 0 ? strerror(errno) : "shorter than it was");
            goto out;
        }
        at += (size_t)r;
    }
    struct s_cur c = {.p = p + S_MAGIC_LEN, .len = S_HEAD_LEN - S_MAGIC_LEN, .ok = true};
    uint64_t k = s_get_u64(&c, 4), len = s_get_u64(&c, 8);
    if (memcmp(p, S_MAGIC, S_MAGIC_LEN) != 0 || k != kind) {
        util_errf(err, errlen, "snapshot %s: refused: not an anprd %s copy", path,
                  kind == S_KIND_WL     ? "watchlist"
                  : kind == S_KIND_SITE ? "site"
                                        : "keys");
        goto out;
    }
    if (len != n - S_HEAD_LEN - S_HASH_LEN) {
        util_errf(err, errlen,
                  "snapshot %s: refused: the header says %llu bytes of content, the file has "
                  "%zu (cut short or added to)",
                  path, (unsigned long long)len, n - S_HEAD_LEN - S_HASH_LEN);
        goto out;
    }
    if (s_hash(p, n - S_HASH_LEN, hash) != 0 || memcmp(hash, p + n - S_HASH_LEN, S_HASH_LEN) != 0) {
        util_errf(err, errlen, "snapshot %s: refused: checksum mismatch (the file is damaged)",
                  path);
        goto out;
    }
    memmove(p, p + S_HEAD_LEN, (size_t)len);
    *body = p;
    *blen = (size_t)len;
    p = NULL;
    rc = 0;
out:
    free(p);
    if (fd >= 0)
        close(fd);
    return rc;
}

int snap_write_watchlist(const char *dir, const wl_t *wl, int64_t version, char *err, size_t errlen)
{
    struct s_buf lists = {.ok = true}, entries = {.ok = true};
    idset_t *seen = idset_new();
    uint64_t nlists = 0, nentries = 0;
    int rc = -1;

    if (!seen) {
        util_errf(err, errlen, "snapshot: out of memory");
        return -1;
    }
    /* The lists are the ones entries point to: an empty list matches nothing anyway. */
    for (size_t i = 0; i < wl_entry_slots(wl) && lists.ok && entries.ok; i++) {
        const struct wl_entry *e = wl_entry_slot(wl, i);
        if (!e)
            continue;
        const struct wl_list *l = e->list;
        if (!idset_has(seen, l->id)) {
            if (idset_add(seen, l->id) != 0) {
                lists.ok = false;
                break;
            }
            s_put_u64(&lists, l->id, 4);
            s_put_u64(&lists, l->priority, 1);
            s_put_str(&lists, l->name);
            s_put_str(&lists, l->category);
            s_put_u64(&lists, l->opts.policy, 1);
            s_put_u64(&lists, l->opts.max_subst, 1);
            s_put_u64(&lists, l->opts.indel, 1);
            s_put_u64(&lists, l->opts.min_confidence, 2);
            s_put_u64(&lists, l->opts.candidates, 1);
            s_put_u64(&lists, l->opts.suppress_s, 4);
            s_put_u64(&lists, l->opts.realert_camera, 1);
            s_put_u64(&lists, l->opts.covert, 1);
            s_put_u64(&lists, l->opts.retro_s, 4);
            s_put_u64(&lists, l->opts.backbone_off, 1);
            nlists++;
        }
        s_put_u64(&entries, e->id, 8);
        s_put_u64(&entries, l->id, 4);
        s_put_str(&entries, e->plate);
        s_put_str(&entries, e->country);
        s_put_u64(&entries, (uint64_t)e->valid_from_us, 8);
        s_put_u64(&entries, (uint64_t)e->valid_until_us, 8);
        s_put_str(&entries, e->instruction);
        s_put_str(&entries, e->external_ref);
        nentries++;
    }
    struct s_buf head = {.ok = true}, mid = {.ok = true};
    s_put_u64(&head, (uint64_t)version, 8);
    s_put_u64(&head, nlists, 8);
    s_put_u64(&mid, nentries, 8);
    const struct s_buf parts[] = {head, lists, mid, entries};
    rc = s_write(dir, SNAP_WATCHLIST_FILE, S_KIND_WL, parts, 4, err, errlen);
    free(head.p);
    free(mid.p);
    free(lists.p);
    free(entries.p);
    idset_destroy(&seen);
    return rc;
}

int snap_read_watchlist(const char *dir, const char *ocr_classes, wl_t **wl, int64_t *version,
                        char *err, size_t errlen)
{
    unsigned char *body = NULL;
    size_t blen = 0;
    wl_builder_t *b = NULL;
    char msg[256];
    int rc = s_read(dir, SNAP_WATCHLIST_FILE, S_KIND_WL, &body, &blen, err, errlen);

    if (rc != 0)
        return rc;
    rc = -1;
    b = wl_builder_new();
    if (!b || wl_builder_set_classes(b, ocr_classes, msg, sizeof msg) != 0) {
        util_errf(err, errlen, "snapshot %s: %s", SNAP_WATCHLIST_FILE, b ? msg : "out of memory");
        goto out;
    }
    struct s_cur c = {.p = body, .len = blen, .ok = true};
    int64_t v = (int64_t)s_get_u64(&c, 8);
    uint64_t nlists = s_get_u64(&c, 8);
    for (uint64_t i = 0; c.ok && i < nlists; i++) {
        uint32_t id = (uint32_t)s_get_u64(&c, 4);
        uint8_t prio = (uint8_t)s_get_u64(&c, 1);
        char *name = s_get_str(&c), *cat = s_get_str(&c);
        struct wl_list_opts o = {0};
        o.policy = (uint8_t)s_get_u64(&c, 1);
        o.max_subst = (uint8_t)s_get_u64(&c, 1);
        o.indel = s_get_u64(&c, 1) != 0;
        o.min_confidence = (uint16_t)s_get_u64(&c, 2);
        o.candidates = s_get_u64(&c, 1) != 0;
        o.suppress_s = (uint32_t)s_get_u64(&c, 4);
        o.realert_camera = s_get_u64(&c, 1) != 0;
        o.covert = s_get_u64(&c, 1) != 0;
        o.retro_s = (uint32_t)s_get_u64(&c, 4);
        o.backbone_off = s_get_u64(&c, 1) != 0;
        int bad = c.ok ? wl_builder_add_list(b, id, name, cat, prio, &o, msg, sizeof msg) : 0;
        free(name);
        free(cat);
        if (bad != 0) {
            util_errf(err, errlen, "snapshot %s: list %u: %s", SNAP_WATCHLIST_FILE, id, msg);
            goto out;
        }
    }
    uint64_t nentries = s_get_u64(&c, 8);
    for (uint64_t i = 0; c.ok && i < nentries; i++) {
        struct wl_entry_in in = {0};
        char *plate, *country, *instr, *ref;
        in.id = s_get_u64(&c, 8);
        in.list_id = (uint32_t)s_get_u64(&c, 4);
        plate = s_get_str(&c);
        country = s_get_str(&c);
        in.valid_from_us = (int64_t)s_get_u64(&c, 8);
        in.valid_until_us = (int64_t)s_get_u64(&c, 8);
        instr = s_get_str(&c);
        ref = s_get_str(&c);
        in.plate = plate;
        in.country = country;
        in.instruction = instr;
        in.external_ref = ref;
        int bad = c.ok ? wl_builder_add(b, &in, msg, sizeof msg) : 0;
        free(plate);
        free(country);
        free(instr);
        free(ref);
        if (bad != 0) {
            util_errf(err, errlen, "snapshot %s: entry %llu: %s", SNAP_WATCHLIST_FILE,
                      (unsigned long long)in.id, msg);
            goto out;
        }
    }
    if (!c.ok || c.at != c.len) {
        util_errf(err, errlen, "snapshot %s: refused: its content does not parse",
                  SNAP_WATCHLIST_FILE);
        goto out;
    }
    if (!(*wl = wl_builder_build(&b))) {
        util_errf(err, errlen, "snapshot %s: out of memory", SNAP_WATCHLIST_FILE);
        goto out;
    }
    *version = v;
    rc = 0;
out:
    wl_builder_destroy(&b);
    free(body);
    return rc;
}

int snap_write_site(const char *dir, const cam_table_t *cams, const struct snap_site *site,
                    char *err, size_t errlen)
{
    struct s_buf body = {.ok = true};
    int rc;

    s_put_u64(&body, (uint64_t)(int64_t)site->retention_days, 4);
    s_put_u64(&body, site->last_hit_id, 8);
    s_put_u64(&body, cam_table_count(cams), 8);
    for (size_t i = 0; i < cam_table_slots(cams); i++) {
        const char *code;
        int32_t id;
        bool mobile;
        if (!cam_table_slot(cams, i, &code, &id, &mobile))
            continue;
        s_put_str(&body, code);
        s_put_u64(&body, (uint32_t)id, 4);
        s_put_u64(&body, mobile, 1);
    }
    rc = s_write(dir, SNAP_SITE_FILE, S_KIND_SITE, &body, 1, err, errlen);
    free(body.p);
    return rc;
}

int snap_read_site(const char *dir, cam_table_t **cams, struct snap_site *site, char *err,
                   size_t errlen)
{
    unsigned char *body = NULL;
    size_t blen = 0;
    cam_table_t *t = NULL;
    int rc = s_read(dir, SNAP_SITE_FILE, S_KIND_SITE, &body, &blen, err, errlen);

    if (rc != 0)
        return rc;
    rc = -1;
    struct s_cur c = {.p = body, .len = blen, .ok = true};
    int retention = (int32_t)(uint32_t)s_get_u64(&c, 4);
    uint64_t last = s_get_u64(&c, 8), n = s_get_u64(&c, 8);
    /* Every camera takes at least 9 bytes: a count above that is a lie, not an allocation. */
    if (!c.ok || n > (c.len - c.at) / 9 || !(t = cam_table_new((size_t)n))) {
        util_errf(err, errlen, "snapshot %s: refused: %s", SNAP_SITE_FILE,
                  c.ok && n <= (c.len - c.at) / 9 ? "out of memory" : "its content does not parse");
        goto out;
    }
    for (uint64_t i = 0; c.ok && i < n; i++) {
        char *code = s_get_str(&c);
        int32_t id = (int32_t)(uint32_t)s_get_u64(&c, 4);
        bool mobile = s_get_u64(&c, 1) != 0;
        if (c.ok && cam_table_add(t, code, id, mobile) != 0)
            c.ok = false;
        free(code);
    }
    if (!c.ok || c.at != c.len) {
        util_errf(err, errlen, "snapshot %s: refused: its content does not parse", SNAP_SITE_FILE);
        goto out;
    }
    site->retention_days = retention;
    site->last_hit_id = last;
    *cams = t;
    t = NULL;
    rc = 0;
out:
    cam_table_destroy(&t);
    free(body);
    return rc;
}

int snap_write_keys(const char *dir, const struct snap_key *keys, size_t n, char *err,
                    size_t errlen)
{
    struct s_buf body = {.ok = true};
    int rc;

    s_put_u64(&body, n, 8);
    for (size_t i = 0; i < n; i++) {
        s_put(&body, keys[i].key, sizeof keys[i].key);
        s_put_u64(&body, keys[i].console, 1);
        s_put_u64(&body, keys[i].dispatch, 1);
        s_put_str(&body, keys[i].name);
        s_put_u64(&body, keys[i].ncovert, 4);
        for (size_t j = 0; j < keys[i].ncovert; j++)
            s_put_u64(&body, keys[i].covert[j], 4);
    }
    rc = s_write(dir, SNAP_KEYS_FILE, S_KIND_KEYS, &body, 1, err, errlen);
    free(body.p);
    return rc;
}

static void s_keys_free(struct snap_key *k, size_t n)
{
    for (size_t i = 0; k && i < n; i++)
        free(k[i].covert);
    free(k);
}

int snap_read_keys(const char *dir, struct snap_key **keys, size_t *n, char *err, size_t errlen)
{
    unsigned char *body = NULL;
    size_t blen = 0, got = 0;
    struct snap_key *k = NULL;
    int rc = s_read(dir, SNAP_KEYS_FILE, S_KIND_KEYS, &body, &blen, err, errlen);

    if (rc != 0)
        return rc;
    rc = -1;
    struct s_cur c = {.p = body, .len = blen, .ok = true};
    uint64_t count = s_get_u64(&c, 8);

    /* Every key takes at least 42 bytes: a count above that is a lie, not an allocation. */
    if (!c.ok || count > (c.len - c.at) / 42 ||
        !(k = calloc(count ? (size_t)count : 1, sizeof *k))) {
        util_errf(err, errlen, "snapshot %s: refused: %s", SNAP_KEYS_FILE,
                  c.ok && count <= (c.len - c.at) / 42 ? "out of memory"
                                                       : "its content does not parse");
        goto out;
    }
    for (; c.ok && got < count; got++) {
        struct snap_key *e = &k[got];
        if (c.len - c.at < sizeof e->key) {
            c.ok = false;
            break;
        }
        memcpy(e->key, c.p + c.at, sizeof e->key);
        c.at += sizeof e->key;
        e->console = s_get_u64(&c, 1) != 0;
        e->dispatch = s_get_u64(&c, 1) != 0;
        char *name = s_get_str(&c);
        if (name && strlen(name) <= SNAP_KEY_NAME_MAX)
            memcpy(e->name, name, strlen(name) + 1);
        else
            c.ok = false;
        free(name);
        uint64_t nc = s_get_u64(&c, 4);
        if (!c.ok || nc > (c.len - c.at) / 4 ||
            (nc > 0 && !(e->covert = calloc((size_t)nc, sizeof *e->covert)))) {
            c.ok = false;
            break;
        }
        for (uint64_t j = 0; j < nc; j++)
            e->covert[j] = (uint32_t)s_get_u64(&c, 4);
        e->ncovert = (size_t)nc;
    }
    if (!c.ok || c.at != c.len) {
        util_errf(err, errlen, "snapshot %s: refused: its content does not parse", SNAP_KEYS_FILE);
        goto out;
    }
    *keys = k;
    *n = got;
    k = NULL;
    rc = 0;
out:
    s_keys_free(k, k ? (size_t)count : 0); /* zeroed by calloc: unset ones are NULL */
    free(body);
    return rc;
}
