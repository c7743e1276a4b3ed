/*
 * snap: the local copy of the watchlists and cameras, in a real temporary directory. What is
 * written reads back the same (a patch written flat, list options, validity, text with any
 * byte); the files are mode 0600; every flipped bit, a cut, an added byte, another kind, a
 * group-readable file are refused with a reason; a missing file says so apart. The CURVE keys
 * read back the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "idset.h"
#include "snap.h"

static char dir[64];

static wl_t *s_base(void)
{
    wl_builder_t *b = wl_builder_new();
    char err[256];
    struct wl_list_opts ocr = {.policy = WL_POLICY_OCR,
                               .max_subst = 2,
                               .indel = true,
                               .min_confidence = 400,
                               .candidates = true,
                               .suppress_s = 60,
                               .realert_camera = true,
                               .retro_s = 3600};
    struct wl_list_opts covert = {.covert = true, .backbone_off = true};

    CHECK_INT(wl_builder_add_list(b, 1, "Stolen vehicles", "stolen", 1, &ocr, err, sizeof err), 0);
    CHECK_INT(wl_builder_add_list(b, 9, "Observation", "surveillance", 5, &covert, err, sizeof err),
              0);
    struct wl_entry_in e1 = {.id = 10,
                             .list_id = 1,
                             .plate = "1-ABC-123",
                             .country = "BE",
                             .valid_from_us = WL_UNBOUNDED_FROM,
                             .valid_until_us = WL_UNBOUNDED_UNTIL,
                             .instruction = "Stop;\ncall 101\t(PV)",
                             .external_ref = "PV-2026-1"};
    struct wl_entry_in e2 = {.id = 11,
                             .list_id = 9,
                             .plate = "XY?12*",
                             .valid_from_us = 1000,
                             .valid_until_us = 2000000000000000LL};
    struct wl_entry_in e3 = {.id = 12,
                             .list_id = 1,
                             .plate = "GONE-1",
                             .valid_from_us = WL_UNBOUNDED_FROM,
                             .valid_until_us = WL_UNBOUNDED_UNTIL};
    CHECK_INT(wl_builder_add(b, &e1, err, sizeof err), 0);
    CHECK_INT(wl_builder_add(b, &e2, err, sizeof err), 0);
    CHECK_INT(wl_builder_add(b, &e3, err, sizeof err), 0);
    return wl_builder_build(&b);
}

/* A patch of base: entry 12 removed, 13 added. */
static wl_t *s_patch(wl_t *base)
{
    char err[256];
    idset_t *changed = idset_new();

    idset_add(changed, 12);
    idset_add(changed, 13);
    wl_builder_t *b = wl_builder_patch(base, changed, err, sizeof err);
    struct wl_entry_in e4 = {.id = 13,
                             .list_id = 1,
                             .plate = "NEW-77",
                             .valid_from_us = WL_UNBOUNDED_FROM,
                             .valid_until_us = WL_UNBOUNDED_UNTIL};
    CHECK(b != NULL);
    CHECK_INT(wl_builder_add(b, &e4, err, sizeof err), 0);
    idset_destroy(&changed);
    return wl_builder_build(&b);
}

static const struct wl_entry *s_find(const wl_t *wl, uint64_t id)
{
    for (size_t i = 0; i < wl_entry_slots(wl); i++) {
        const struct wl_entry *e = wl_entry_slot(wl, i);
        if (e && e->id == id)
            return e;
    }
    return NULL;
}

static int s_read_wl(wl_t **wl, int64_t *version, char *err, size_t errlen)
{
    return snap_read_watchlist(dir, WL_DEFAULT_CLASSES, wl, version, err, errlen);
}

static void s_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void test_round_trip(void)
{
    char err[512];
    wl_t *base = s_base(), *patch = s_patch(base), *got = NULL;
    int64_t version = 0;

    CHECK_INT(snap_write_watchlist(dir, patch, 42, err, sizeof err), 0);
    CHECK_INT(s_read_wl(&got, &version, err, sizeof err), 0);
    CHECK_INT(version, 42);
    CHECK_INT(wl_entry_count(got), 3);
    CHECK_INT(wl_patch_count(got), 0); /* flat */
    const struct wl_entry *e = s_find(got, 10);
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(e->plate, "1ABC123");
        CHECK_STR(e->country, "BE");
        CHECK_STR(e->instruction, "Stop;\ncall 101\t(PV)");
        CHECK_STR(e->external_ref, "PV-2026-1");
        CHECK_STR(e->list->name, "Stolen vehicles");
        CHECK_INT(e->list->priority, 1);
        CHECK_INT(e->list->opts.policy, WL_POLICY_OCR);
        CHECK_INT(e->list->opts.max_subst, 2);
        CHECK(e->list->opts.indel && e->list->opts.candidates && e->list->opts.realert_camera);
        CHECK_INT(e->list->opts.min_confidence, 400);
        CHECK_INT(e->list->opts.suppress_s, 60);
        CHECK_INT(e->list->opts.retro_s, 3600);
        CHECK_INT(e->valid_from_us, WL_UNBOUNDED_FROM);
        CHECK_INT(e->valid_until_us, WL_UNBOUNDED_UNTIL);
    }
    e = s_find(got, 11);
    CHECK(e != NULL);
    if (e) {
        CHECK(e->pattern);
        CHECK(e->list->opts.covert && e->list->opts.backbone_off);
        CHECK_INT(e->valid_from_us, 1000);
        CHECK_INT(e->valid_until_us, 2000000000000000LL);
    }
    CHECK(s_find(got, 12) == NULL);
    CHECK(s_find(got, 13) != NULL);
    /* It matches as the original: an OCR confusion of entry 10. */
    struct wl_query q = {.country = "BE", .time_us = 1700000000000000LL, .nreadings = 1};
    struct wl_match m[4];
    q.plate[0] = "1A8C123";
    q.confidence[0] = 900;
    CHECK_INT(wl_match(got, &q, m, 4), 1);

    char path[128];
    struct stat st;
    s_path(path, sizeof path, SNAP_WATCHLIST_FILE);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
    wl_destroy(&got);
    wl_destroy(&patch);
    wl_destroy(&base);
}

static void test_site(void)
{
    char err[512];
    cam_table_t *cams = cam_table_new(4), *got = NULL;
    struct snap_site site = {.retention_days = 30, .last_hit_id = 0x123456789abcULL}, back = {0};
    bool mobile = false;

    cam_table_add(cams, "BE-E314-1", 7, false);
    cam_table_add(cams, "BE-MOBILE-2", 8, true);
    CHECK_INT(snap_write_site(dir, cams, &site, err, sizeof err), 0);
    CHECK_INT(snap_read_site(dir, &got, &back, err, sizeof err), 0);
    CHECK(got != NULL);
    if (got) {
        CHECK_INT(cam_table_count(got), 2);
        CHECK_INT(cam_table_find(got, "BE-E314-1", &mobile), 7);
        CHECK(!mobile);
        CHECK_INT(cam_table_find(got, "BE-MOBILE-2", &mobile), 8);
        CHECK(mobile);
    }
    CHECK_INT(back.retention_days, 30);
    CHECK(back.last_hit_id == 0x123456789abcULL);
    cam_table_destroy(&got);
    cam_table_destroy(&cams);
}

static void test_keys(void)
{
    char err[512];
    uint32_t lists[] = {3, 9};
    struct snap_key in[2] = {
        {.console = false, .name = "BE-E314-1"},
        {.console = true, .dispatch = true, .name = "dispatch-1", .covert = lists, .ncovert = 2}};
    struct snap_key *out = NULL;
    size_t n = 0;

    memset(in[0].key, 0xa5, sizeof in[0].key);
    memset(in[1].key, 0x5a, sizeof in[1].key);
    CHECK_INT(snap_write_keys(dir, in, 2, err, sizeof err), 0);
    CHECK_INT(snap_read_keys(dir, &out, &n, err, sizeof err), 0);
    CHECK_INT(n, 2);
    if (out && n == 2) {
        CHECK(memcmp(out[0].key, in[0].key, 32) == 0 && !out[0].console);
        CHECK_STR(out[0].name, "BE-E314-1");
        CHECK_INT(out[0].ncovert, 0);
        CHECK(memcmp(out[1].key, in[1].key, 32) == 0 && out[1].console && out[1].dispatch);
        CHECK_STR(out[1].name, "dispatch-1");
        CHECK(out[1].ncovert == 2 && out[1].covert[0] == 3 && out[1].covert[1] == 9);
    }
    for (size_t i = 0; out && i < n; i++)
        free(out[i].covert);
    free(out);
    /* Another kind under its name is refused. */
    char from[128], to[128];
    snprintf(from, sizeof from, "%s/%s", dir, SNAP_SITE_FILE);
    snprintf(to, sizeof to, "%s/%s", dir, SNAP_KEYS_FILE);
    CHECK(link(from, to) == 0 || (unlink(to) == 0 && link(from, to) == 0));
    CHECK_INT(snap_read_keys(dir, &out, &n, err, sizeof err), -1);
    CHECK_CONTAINS(err, "not an anprd keys copy");
    unlink(to);
}

static unsigned char *s_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long len;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)len)) && fread(p, 1, (size_t)len, f) == (size_t)len)
        *n = (size_t)len;
    fclose(f);
    return p;
}

static void s_put(const char *path, const unsigned char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    CHECK(fd >= 0 && write(fd, p, n) == (ssize_t)n);
    if (fd >= 0)
        close(fd);
}

/* Every single flipped bit, a cut, an added byte: refused with a reason, never read. */
static void test_damage(void)
{
    char path[128], err[512];
    size_t n = 0;
    wl_t *base = s_base(), *got = NULL;
    int64_t v = 0;
    int refused = 0;

    CHECK_INT(snap_write_watchlist(dir, base, 7, err, sizeof err), 0);
    s_path(path, sizeof path, SNAP_WATCHLIST_FILE);
    unsigned char *good = s_slurp(path, &n), *bad = malloc(n + 1);
    CHECK(good && bad && n > 64);
    for (size_t i = 0; good && bad && i < n * 8; i++) {
        memcpy(bad, good, n);
        bad[i / 8] ^= (unsigned char)(1u << (i % 8));
        s_put(path, bad, n);
        if (s_read_wl(&got, &v, err, sizeof err) == -1 && strstr(err, "refused"))
            refused++;
        wl_destroy(&got);
    }
    CHECK_INT(refused, (long long)(n * 8));
    /* One in the body: the checksum says so. */
    memcpy(bad, good, n);
    bad[n / 2] ^= 4;
    s_put(path, bad, n);
    CHECK_INT(s_read_wl(&got, &v, err, sizeof err), -1);
    CHECK_CONTAINS(err, "checksum mismatch");
    /* Cut at every length, and one byte more. */
    int cuts = 0;
    for (size_t len = 0; good && len < n; len++) {
        s_put(path, good, len);
        if (s_read_wl(&got, &v, err, sizeof err) == -1)
            cuts++;
        wl_destroy(&got);
    }
    CHECK_INT(cuts, (long long)n);
    memcpy(bad, good, n);
    bad[n] = 0;
    s_put(path, bad, n + 1);
    CHECK_INT(s_read_wl(&got, &v, err, sizeof err), -1);
    CHECK_CONTAINS(err, "cut short or added to");
    /* A site file under the watchlist's name is another kind. */
    char site[128];
    size_t sn = 0;
    s_path(site, sizeof site, SNAP_SITE_FILE);
    unsigned char *sp = s_slurp(site, &sn);
    CHECK(sp != NULL);
    if (sp)
        s_put(path, sp, sn);
    CHECK_INT(s_read_wl(&got, &v, err, sizeof err), -1);
    CHECK_CONTAINS(err, "not an anprd watchlist copy");
    free(sp);
    /* Whole again, but readable by the group: refused. */
    s_put(path, good, n);
    CHECK_INT(s_read_wl(&got, &v, err, sizeof err), 0);
    wl_destroy(&got);
    CHECK(chmod(path, 0640) == 0);
    CHECK_INT(s_read_wl(&got, &v, err, sizeof err), -1);
    CHECK_CONTAINS(err, "mode 0640");
    /* Missing: 1, not -1. */
    CHECK(unlink(path) == 0);
    CHECK_INT(s_read_wl(&got, &v, err, sizeof err), 1);
    CHECK(got == NULL);
    /* A temporary file a crash left is replaced by the next write. */
    char tmp[128];
    s_path(tmp, sizeof tmp, "." SNAP_WATCHLIST_FILE ".tmp");
    s_put(tmp, (const unsigned char *)"junk", 4);
    CHECK_INT(snap_write_watchlist(dir, base, 8, err, sizeof err), 0);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_INT(s_read_wl(&got, &v, err, sizeof err), 0);
    CHECK_INT(v, 8);
    wl_destroy(&got);
    free(good);
    free(bad);
    wl_destroy(&base);
}

int main(void)
{
    char path[128];

    snprintf(dir, sizeof dir, "/tmp/test-snap.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_site();
    test_keys();
    test_damage();
    s_path(path, sizeof path, SNAP_WATCHLIST_FILE);
    unlink(path);
    s_path(path, sizeof path, SNAP_SITE_FILE);
    unlink(path);
    rmdir(dir);
    return check_done("test_snap");
}
