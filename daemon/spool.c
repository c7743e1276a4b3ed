/*
 * spool: a durable FIFO of opaque records in segment files; see spool.h and docs/SPOOL.md.
 *
 * The producer owns the append buffer and the file it writes (p_* fields, no lock); the
 * consumer owns its cursors and the checkpoint writing (c_* fields). What both see (the segment
 * list, the durable and checkpoint positions, the depth) is under `mu`; counters are atomics.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define S_SEG_MAGIC  "ANPRSPL1"
#define S_CKPT_MAGIC "ANPRCKP1"
#define S_VERSION    1u
#define S_SEG_HDR    40u /* segment header bytes */
#define S_REC_HDR    16u /* record header bytes */
#define S_CKPT_LEN   36u /* checkpoint file bytes */
#define S_CKPT_NAME  "checkpoint"
#define S_CKPT_TMP   "checkpoint.tmp"
#define S_LOCK_NAME  "lock"
#define S_MARK_NAME  "durable"
#define S_MARK_MAGIC "ANPRDUR1"
#define S_MARK_LEN   36u /* durable mark file bytes (the checkpoint's layout) */
#define S_SEG_DIGITS 20  /* "%020" PRIu64 ".seg": name order is position order */
#define S_READ_CHUNK (256u << 10)

/* ---- CRC-32C (Castagnoli), slicing by 8; the same checksum as iSCSI, ext4 and btrfs ---- */

static uint32_t s_crc_table[8][256];
static pthread_once_t s_crc_once = PTHREAD_ONCE_INIT;

static void s_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        s_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            s_crc_table[t][i] =
                (s_crc_table[t - 1][i] >> 8) ^ s_crc_table[0][s_crc_table[t - 1][i] & 0xFF];
}

static uint32_t s_crc_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = s_crc_table[7][lo & 0xFF] ^ s_crc_table[6][(lo >> 8) & 0xFF] ^
              s_crc_table[5][(lo >> 16) & 0xFF] ^ s_crc_table[4][lo >> 24] ^ s_crc_table[3][p[4]] ^
              s_crc_table[2][p[5]] ^ s_crc_table[1][p[6]] ^ s_crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ s_crc_table[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

/* ---- little-endian fields ---- */

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_get64(const uint8_t *p)
{
    return (uint64_t)s_get32(p) | (uint64_t)s_get32(p + 4) << 32;
}

/* ---- structures ---- */

/* A segment file, as both threads see it (under mu). */
struct s_seg {
    uint64_t base;      /* position of the file's byte 0 */
    uint64_t len;       /* durable, verified bytes (header included) */
    uint64_t first_seq; /* sequence number of its first record */
};

/* Buffered records that go to one segment file (the current one, or one to create). */
struct s_part {
    uint64_t base;     /* the segment's base */
    uint64_t file_off; /* where in the file the first buffered record goes */
    size_t buf_off;    /* its bytes in p_buf: [buf_off, buf_end) */
    size_t buf_end;
    uint64_t first_seq; /* for a new segment's header */
    size_t nrec;
    bool fresh; /* the segment file is to be created */
    int fd;     /* during a commit */
};

/* A sequential reader over one file with a growing buffer. */
struct s_reader {
    int fd;
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* file offset of buf[0] */
    size_t len;     /* valid bytes in buf */
};

struct spool {
    char *dir;
    struct spool_opts opts;
    uint64_t max_payload; /* largest record payload recovery and cursors accept */
    uint64_t append_max;  /* largest payload spool_append takes (fits this run's segments) */
    int dirfd;
    int lockfd;
    int markfd;    /* the durable mark, written after each commit (-1: none) */
    bool p_unsaid; /* a commit_quiet moved the durable position: waiters and the mark wait for
                    * spool_notify */
    uint64_t mark_pos, mark_seq; /* the mark found at open (0: none) */

    pthread_mutex_t mu;
    pthread_cond_t cond; /* durable position moved, or spool_wake */
    struct s_seg *segs;  /* in position order; the producer writes only into the last one */
    size_t nsegs, segs_cap;
    uint64_t durable_pos;
    uint64_t ckpt_pos, ckpt_seq;
    uint64_t depth_records, depth_bytes;
    uint64_t disk_bytes; /* bytes of the segment files in segs (what max_bytes bounds) */
    uint64_t wake_gen;

    _Atomic uint64_t appended, commits, fsyncs, errors, full, buffered, next_seq, rolls;

    /* Stretches damaged since the open that a cursor set aside: skipped by every cursor. */
    struct s_live {
        uint64_t base, off, next;
    } live[SPOOL_DAMAGE_MAX];
    size_t nlive;
    uint64_t live_damage, live_lost;

    /* Producer. */
    uint8_t *p_buf;
    size_t p_len, p_cap;
    struct s_part *p_parts;
    size_t p_nparts, p_parts_cap;
    size_t p_nrec;       /* records buffered */
    uint64_t p_pending;  /* bytes the buffered records add on disk (new headers included) */
    uint64_t p_used;     /* the producer's view of disk_bytes (only the consumer lowers it) */
    bool p_roll;         /* p_used left out the current segment: the next commit frees it */
    bool p_failed;       /* the last commit failed (a full disk): free what can be freed */
    int p_fd;            /* current segment file, -1 before the first commit of this run */
    uint64_t p_base;     /* its base */
    uint64_t p_len_file; /* its durable length */
    uint64_t p_start;    /* where this run's first segment begins */
    uint64_t p_seq;      /* next sequence number */
    uint64_t p_durable;
    uint64_t p_durable_seq; /* sequence number of the last durable record */

    /* Consumer: the position and sequence number of the last record a cursor returned, so a
     * checkpoint there need not look its sequence number up in the file. */
    uint64_t c_last_pos, c_last_seq;
};

struct spool_cursor {
    spool_t *sp;
    struct s_reader rd;
    uint64_t base;  /* current segment, UINT64_MAX before the first */
    uint64_t off;   /* file offset of the next record */
    uint64_t limit; /* durable bytes of the current segment as last seen */
    uint64_t from;  /* start after this position */
    uint64_t seq;   /* sequence number of the last record read (0: none yet) */
};

static void s_seg_name(char *buf, size_t len, uint64_t base)
{
    snprintf(buf, len, "%020" PRIu64 ".seg", base);
}

static int s_pwrite_all(int fd, const void *data, size_t len, uint64_t off)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Reads up to len bytes; returns how many (short only at end of file), or -1. */
static ssize_t s_pread_full(int fd, void *data, size_t len, uint64_t off)
{
    uint8_t *p = data;
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int s_sync(spool_t *self, int fd, bool data_only)
{
    if (self->opts.unsafe_no_sync)
        return 0;
    atomic_fetch_add_explicit(&self->fsyncs, 1, memory_order_relaxed);
    return data_only ? fdatasync(fd) : fsync(fd);
}

/*
 * Makes [off, off + n) of the file available in rd->buf, reading no further than `end`.
 * 1 and *p set; 0 when the file (or end) stops before; -1 on a read error.
 */
static int s_reader_get(struct s_reader *rd, uint64_t off, size_t n, uint64_t end,
                        const uint8_t **p)
{
    if (off + n > end)
        return 0;
    if (off >= rd->start && off + n <= rd->start + rd->len) {
        *p = rd->buf + (off - rd->start);
        return 1;
    }
    size_t want = n > S_READ_CHUNK ? n : S_READ_CHUNK;
    if (want > end - off)
        want = (size_t)(end - off);
    if (want > rd->cap) {
        uint8_t *nb = realloc(rd->buf, want);
        if (!nb)
            return -1;
        rd->buf = nb;
        rd->cap = want;
    }
    ssize_t got = s_pread_full(rd->fd, rd->buf, want, off);
    if (got < 0) {
        rd->len = 0;
        return -1;
    }
    rd->start = off;
    rd->len = (size_t)got;
    if ((size_t)got < n)
        return 0;
    *p = rd->buf;
    return 1;
}

/* ---- record checks, shared by recovery and the cursor ---- */

static uint32_t s_rec_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
    return s_crc_update(s_crc_update(0, hdr, 12), payload, len);
}

/*
 * Checks the record at file offset off (length and checksum; the caller judges the sequence
 * number, 0 being a filler). 1 with *len, *seq; 0 with *why when damaged or cut short; -1 on a
 * read error.
 */
static int s_check_record(spool_t *self, struct s_reader *rd, uint64_t off, uint64_t end,
                          uint32_t *len, uint64_t *seq, const uint8_t **payload, char *why,
                          size_t whylen)
{
    const uint8_t *h;
    int rc = s_reader_get(rd, off, S_REC_HDR, end, &h);

    if (rc <= 0) {
        if (rc == 0)
            snprintf(why, whylen, "truncated record header");
        return rc;
    }
    uint32_t l = s_get32(h);
    uint64_t q = s_get64(h + 4);
    uint32_t crc = s_get32(h + 12);
    if (l > self->max_payload) {
        snprintf(why, whylen, "bad record length %" PRIu32, l);
        return 0;
    }
    const uint8_t *r;
    rc = s_reader_get(rd, off, S_REC_HDR + (size_t)l, end, &r);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(why, whylen, "truncated record (%" PRIu32 " bytes announced)", l);
        return rc;
    }
    if (s_rec_crc(r, r + S_REC_HDR, l) != crc) {
        snprintf(why, whylen, "checksum mismatch");
        return 0;
    }
    *len = l;
    *seq = q;
    *payload = r + S_REC_HDR;
    return 1;
}

static void s_encode_seg_header(uint8_t *h, uint64_t base, uint64_t first_seq)
{
    memset(h, 0, S_SEG_HDR);
    memcpy(h, S_SEG_MAGIC, 8);
    s_put32(h + 8, S_VERSION);
    s_put32(h + 12, S_SEG_HDR);
    s_put64(h + 16, base);
    s_put64(h + 24, first_seq);
    s_put32(h + 36, s_crc_update(0, h, 36));
}

/* NULL when the header is valid for a segment at `base`, else why not. */
static const char *s_check_seg_header(const uint8_t *h, uint64_t base, uint64_t *first_seq)
{
    if (memcmp(h, S_SEG_MAGIC, 8) != 0)
        return "bad segment magic";
    if (s_get32(h + 36) != s_crc_update(0, h, 36))
        return "segment header checksum mismatch";
    if (s_get32(h + 8) != S_VERSION || s_get32(h + 12) != S_SEG_HDR)
        return "unknown segment version";
    if (s_get64(h + 16) != base)
        return "segment header does not match its file name";
    *first_seq = s_get64(h + 24);
    return NULL;
}

/* ---- open and recovery ---- */

/* What recovery carries from one segment file to the next. */
struct s_recov {
    struct spool_report *rep;
    bool have_last;    /* a valid record was seen */
    uint64_t last_seq; /* the sequence number of the last one */
    bool filler;       /* a filler after it: a jump in sequence numbers was reported before */
    bool pending;      /* the newest damage waits for the next record to count its losses */
    bool ckpt_ok;      /* the checkpoint was read (or there is none): losses count from it */
    uint64_t end;      /* position after the last byte seen, damaged or not */
    uint64_t prev_base, prev_size; /* the previous segment file kept (prev_size 0: none) */
};

/* The file in the spool directory that keeps the bytes set aside from segment `base`. */
static void s_quarantine_name(char *buf, size_t len, uint64_t base, uint64_t off)
{
    snprintf(buf, len, "quarantine-%020" PRIu64 "-%" PRIu64 ".bin", base, off);
}

/* Adds a damage entry; returns it, or NULL past SPOOL_DAMAGE_MAX (then only counted). */
static struct spool_damage *s_damage(struct spool_report *rep, const char *dir, const char *file,
                                     uint64_t off, uint64_t bytes, const char *why)
{
    struct spool_damage *d = NULL;

    if (rep->ndamage < SPOOL_DAMAGE_MAX) {
        d = &rep->damage[rep->ndamage];
        memset(d, 0, sizeof *d);
        snprintf(d->file, sizeof d->file, "%s/%s", dir, file);
        d->offset = off;
        d->bytes = bytes;
        snprintf(d->reason, sizeof d->reason, "%s", why);
    }
    rep->ndamage++;
    rep->dropped_bytes += bytes;
    return d;
}

/* The newest damage entry, when it is kept. */
static struct spool_damage *s_damage_last(struct spool_report *rep)
{
    return rep->ndamage > 0 && rep->ndamage <= SPOOL_DAMAGE_MAX ? &rep->damage[rep->ndamage - 1]
                                                                : NULL;
}

static int s_segs_push(spool_t *self, const struct s_seg *s)
{
    if (self->nsegs == self->segs_cap) {
        size_t cap = self->segs_cap ? self->segs_cap * 2 : 16;
        struct s_seg *n = realloc(self->segs, cap * sizeof *n);
        if (!n)
            return -1;
        self->segs = n;
        self->segs_cap = cap;
    }
    self->segs[self->nsegs++] = *s;
    self->disk_bytes += s->len;
    return 0;
}

/* -1 on error; 0 absent; 1 read; 2 damaged (reported). */
static int s_read_checkpoint(spool_t *self, struct spool_report *rep, char *err, size_t errlen)
{
    uint8_t b[S_CKPT_LEN + 1];
    int fd = openat(self->dirfd, S_CKPT_NAME, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        util_errf(err, errlen, "spool: open %s/%s: %s", self->dir, S_CKPT_NAME, strerror(errno));
        return -1;
    }
    ssize_t n = s_pread_full(fd, b, sizeof b, 0);
    int saved = errno;
    close(fd);
    if (n < 0) {
        util_errf(err, errlen, "spool: read %s/%s: %s", self->dir, S_CKPT_NAME, strerror(saved));
        return -1;
    }
    if (n != S_CKPT_LEN || memcmp(b, S_CKPT_MAGIC, 8) != 0 || s_get32(b + 8) != S_VERSION ||
        s_get32(b + 32) != s_crc_update(0, b, 32)) {
        s_damage(rep, self->dir, S_CKPT_NAME, 0, 0,
                 "damaged checkpoint: replaying from the oldest segment");
        return 2;
    }
    self->ckpt_pos = s_get64(b + 16);
    self->ckpt_seq = s_get64(b + 24);
    return 1;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The bases of the segment files in the directory, sorted. */
static int s_list_segments(spool_t *self, uint64_t **out, size_t *count, char *err, size_t errlen)
{
    int fd = dup(self->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;

    if (!d) {
        util_errf(err, errlen, "spool: read directory %s: %s", self->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewinddir(d);
    for (struct dirent *e; (e = readdir(d));) {
        const char *name = e->d_name;
        if (strlen(name) != S_SEG_DIGITS + 4 || strcmp(name + S_SEG_DIGITS, ".seg") != 0 ||
            strspn(name, "0123456789") != S_SEG_DIGITS)
            continue;
        errno = 0;
        unsigned long long base = strtoull(name, NULL, 10);
        if (errno)
            continue; /* 20 digits above UINT64_MAX: not one of ours */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                util_errf(err, errlen, "spool: out of memory");
                free(v);
                closedir(d);
                return -1;
            }
            v = nv;
        }
        v[n++] = base;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof *v, s_cmp_u64);
    *out = v;
    *count = n;
    return 0;
}

/*
 * The newest damage lost the unconsumed records between the last valid one (or the checkpoint)
 * and `next` (exclusive).
 */
static void s_count_lost(spool_t *self, struct s_recov *r, uint64_t next)
{
    struct spool_damage *d = s_damage_last(r->rep);

    r->pending = false;
    if (!r->have_last && !r->ckpt_ok) {
        r->rep->uncounted++; /* records before it may have been consumed and removed */
        return;
    }
    uint64_t lo = r->have_last ? r->last_seq + 1 : 1;
    if (lo <= self->ckpt_seq)
        lo = self->ckpt_seq + 1;
    uint64_t n = next > lo ? next - lo : 0;
    r->rep->damaged_records += n;
    if (d) {
        d->counted = true;
        d->records = n;
        d->first_seq = n ? lo : 0;
        d->last_seq = n ? next - 1 : 0;
    }
}

/*
 * Copies [off, off + len) of fd to a new quarantine file and makes it durable (file and
 * directory) before the caller changes anything: damaged bytes are set aside, never destroyed.
 */
static int s_quarantine(spool_t *self, int fd, uint64_t base, uint64_t off, uint64_t len,
                        char *qname, size_t qlen, char *err, size_t errlen)
{
    uint8_t buf[64 << 10];
    int qfd;

    s_quarantine_name(qname, qlen, base, off);
    qfd = openat(self->dirfd, qname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (qfd < 0)
        goto fail;
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof buf ? (size_t)(len - done) : sizeof buf;
        ssize_t got = s_pread_full(fd, buf, n, off + done);
        if (got < 0)
            goto fail_fd;
        if (got == 0)
            break;
        if (s_pwrite_all(qfd, buf, (size_t)got, done) < 0)
            goto fail_fd;
        done += (uint64_t)got;
    }
    if (s_sync(self, qfd, false) < 0)
        goto fail_fd;
    close(qfd);
    if (s_sync(self, self->dirfd, false) < 0)
        goto fail;
    return 0;
fail_fd:;
    int saved = errno;
    close(qfd);
    errno = saved;
fail:
    util_errf(err, errlen, "spool: set damaged bytes aside in %s/%s: %s", self->dir, qname,
              strerror(errno));
    return -1;
}

/*
 * Writes a filler record header at off covering [off, off + total): sequence number 0, its
 * checksum over the bytes it covers, so that readers skip the stretch and later opens know the
 * loss was reported. The bytes themselves stay (they are in the quarantine file too).
 */
static int s_write_filler(spool_t *self, int fd, uint64_t off, uint64_t total, char *err,
                          size_t errlen)
{
    uint8_t h[S_REC_HDR], buf[64 << 10];
    uint32_t len = (uint32_t)(total - S_REC_HDR);
    uint32_t crc;

    s_put32(h, len);
    s_put64(h + 4, 0);
    crc = s_crc_update(0, h, 12);
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof buf ? (size_t)(len - done) : sizeof buf;
        ssize_t got = s_pread_full(fd, buf, n, off + S_REC_HDR + done);
        if (got <= 0) {
            if (got == 0)
                errno = EIO;
            goto fail;
        }
        crc = s_crc_update(crc, buf, (size_t)got);
        done += (uint64_t)got;
    }
    s_put32(h + 12, crc);
    if (s_pwrite_all(fd, h, sizeof h, off) < 0 || s_sync(self, fd, true) < 0)
        goto fail;
    return 0;
fail:
    util_errf(err, errlen, "spool: write a filler in %s at offset %" PRIu64 ": %s", self->dir, off,
              strerror(errno));
    return -1;
}

/*
 * After damage at off: the offset of the next record that checks (length, checksum, and a
 * sequence number after the last valid one, or a filler), searched byte by byte; size when
 * none. A later record is found even after a bad length, which hides where it starts; garbage
 * would have to match a plausible sequence number and a CRC-32C to be taken.
 */
static int s_resync(spool_t *self, struct s_reader *rd, uint64_t off, uint64_t size,
                    const struct s_recov *r, uint64_t *found)
{
    for (uint64_t o = off + S_REC_HDR; o + S_REC_HDR <= size; o++) {
        const uint8_t *h;
        int got = s_reader_get(rd, o, S_REC_HDR, size, &h);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        uint32_t l = s_get32(h);
        uint64_t q = s_get64(h + 4);
        if (l > self->max_payload || o + S_REC_HDR + l > size)
            continue;
        /* At most one record per 16 bytes: a sequence number further on is garbage. */
        if (q != 0 && r->have_last && (q <= r->last_seq || q - r->last_seq > size / S_REC_HDR + 1))
            continue;
        got = s_reader_get(rd, o, S_REC_HDR + (size_t)l, size, &h);
        if (got < 0)
            return -1;
        if (got == 1 && s_rec_crc(h, h + S_REC_HDR, l) == s_get32(h + 12)) {
            *found = o;
            return 0;
        }
    }
    *found = size;
    return 0;
}

/*
 * Verifies one segment file, sets damage aside (read-write) and adds what is valid to the list.
 * Damage anywhere: the stretch up to the next valid record is copied to a quarantine file and
 * covered by a filler record; everything valid after it is kept. A damaged tail of the newest
 * segment is copied and cut off (the producer never writes into an old file again, but a
 * filler there would take positions already past the end). A header that fails is rebuilt
 * from the name and the records, when any can be read.
 */
static int s_recover_segment(spool_t *self, uint64_t base, bool last, struct s_recov *r, char *err,
                             size_t errlen)
{
    struct spool_report *rep = r->rep;
    bool rw = !self->opts.read_only;
    char name[64], qname[128] = "";
    struct s_reader rd = {.fd = -1};
    int rc = -1;
    struct stat st;

    s_seg_name(name, sizeof name, base);
    rd.fd = openat(self->dirfd, name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (rd.fd < 0 || fstat(rd.fd, &st) < 0) {
        util_errf(err, errlen, "spool: open %s/%s: %s", self->dir, name, strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (base + size > r->end)
        r->end = base + size;

    /* A segment of consumed records only: left by a crash between checkpoint and removal, or
     * the one the last run was writing when it stopped (this run writes a new one). */
    if (self->ckpt_pos > 0 && base + size <= self->ckpt_pos) {
        if (rw) {
            unlinkat(self->dirfd, name, 0);
            rep->deleted_segments++;
        }
        rc = 0;
        goto out;
    }

    const uint8_t *h;
    uint64_t first_seq = 0;
    const char *hdr_why = "truncated segment header";
    int got = s_reader_get(&rd, 0, S_SEG_HDR, size, &h);
    if (got < 0) {
        util_errf(err, errlen, "spool: read %s/%s: %s", self->dir, name, strerror(errno));
        goto out;
    }
    if (got == 1)
        hdr_why = s_check_seg_header(h, base, &first_seq);
    if (hdr_why && size <= S_SEG_HDR) {
        /* No record in it (a crash while creating it): nothing to keep but the bytes. */
        struct spool_damage *d = s_damage(rep, self->dir, name, 0, size, hdr_why);
        if (d)
            d->counted = true; /* never held a record */
        if (rw) {
            if (size > 0) {
                s_quarantine_name(qname, sizeof qname, base, 0);
                if (renameat(self->dirfd, name, self->dirfd, qname) < 0 ||
                    s_sync(self, self->dirfd, false) < 0) {
                    util_errf(err, errlen, "spool: move %s/%s aside: %s", self->dir, name,
                              strerror(errno));
                    goto out;
                }
                if (d)
                    snprintf(d->quarantine, sizeof d->quarantine, "%s", qname);
            } else {
                unlinkat(self->dirfd, name, 0);
            }
            rep->repaired = true;
        }
        rc = 0;
        goto out;
    }

    uint64_t off = S_SEG_HDR, nrec = 0, seg_first = 0;
    char whybuf[96] = "";
    bool damaged_at_start = hdr_why != NULL;
    for (;;) {
        uint32_t len = 0;
        uint64_t q = 0;
        const uint8_t *payload;
        if (off == size)
            break;
        got = damaged_at_start
                  ? 0
                  : s_check_record(self, &rd, off, size, &len, &q, &payload, whybuf, sizeof whybuf);
        if (got < 0) {
            util_errf(err, errlen, "spool: read %s/%s at offset %" PRIu64 ": %s", self->dir, name,
                      off, strerror(errno));
            goto out;
        }
        if (got == 1 && q == 0) { /* a filler: a stretch set aside by an earlier repair */
            r->filler = true;
            off += S_REC_HDR + len;
            continue;
        }
        if (got == 1 && r->have_last && q != r->last_seq + 1) {
            if (q > r->last_seq + 1 && (r->filler || r->pending)) {
                /* the jump was reported, or is the damage just found */
            } else if (q > r->last_seq + 1 && off == S_SEG_HDR && r->prev_size > 0) {
                /* The previous file lost records at its end, cut at a record boundary (or a
                 * whole file went): report it, and mark it with a filler where there is room. */
                char prev[64];
                s_seg_name(prev, sizeof prev, r->prev_base);
                s_damage(rep, self->dir, prev, r->prev_size, 0,
                         "records missing after the end of this file (cut at a record boundary, "
                         "or a segment file removed)");
                r->pending = true;
                if (rw && r->prev_base + r->prev_size + S_REC_HDR <= base && self->nsegs > 0 &&
                    self->segs[self->nsegs - 1].base == r->prev_base) {
                    char pn[64];
                    s_seg_name(pn, sizeof pn, r->prev_base);
                    int pfd = openat(self->dirfd, pn, O_RDWR | O_CLOEXEC);
                    uint8_t f[S_REC_HDR];
                    s_put32(f, 0);
                    s_put64(f + 4, 0);
                    s_put32(f + 12, s_crc_update(0, f, 12));
                    if (pfd < 0 || s_pwrite_all(pfd, f, sizeof f, r->prev_size) < 0 ||
                        s_sync(self, pfd, true) < 0) {
                        util_errf(err, errlen, "spool: write a filler in %s/%s: %s", self->dir, pn,
                                  strerror(errno));
                        if (pfd >= 0)
                            close(pfd);
                        goto out;
                    }
                    close(pfd);
                    self->segs[self->nsegs - 1].len += S_REC_HDR;
                    rep->repaired = true;
                }
            } else {
                snprintf(whybuf, sizeof whybuf,
                         "sequence break (expected %" PRIu64 ", found %" PRIu64 ")",
                         r->last_seq + 1, q);
                got = 0;
            }
        }
        if (got == 1) {
            if (r->pending)
                s_count_lost(self, r, q);
            else if (r->filler && r->have_last && q > r->last_seq + 1) {
                rep->seq_gaps++;
                rep->lost_records += q - r->last_seq - 1;
            }
            r->filler = false;
            r->have_last = true;
            r->last_seq = q;
            if (nrec == 0)
                seg_first = q;
            off += S_REC_HDR + len;
            nrec++;
            if (base + off > self->ckpt_pos) {
                self->depth_records++;
                self->depth_bytes += S_REC_HDR + len;
            }
            continue;
        }

        /* Damaged from off: find where valid records start again. */
        uint64_t next;
        if (damaged_at_start) {
            damaged_at_start = false;
            next = off;
            /* the first record may well be intact: only the header was hit */
            got = s_check_record(self, &rd, off, size, &len, &q, &payload, whybuf, sizeof whybuf);
            if (got == 1 && q != 0 && r->have_last && q <= r->last_seq) {
                snprintf(whybuf, sizeof whybuf, "stale record after a damaged segment header");
                got = 0;
            }
            if (got < 0 || (got == 0 && s_resync(self, &rd, off - S_REC_HDR, size, r, &next) < 0))
                goto read_fail;
            /* The header is set aside and rebuilt: its own stretch. */
            struct spool_damage *d = s_damage(rep, self->dir, name, 0, S_SEG_HDR, hdr_why);
            if (d)
                d->counted = true; /* the header holds no record */
            if (rw) {
                uint8_t nh[S_SEG_HDR];
                uint64_t fs = r->have_last ? r->last_seq + 1 : 1;
                if (next < size && s_reader_get(&rd, next, S_REC_HDR, size, &payload) == 1 &&
                    s_get64(payload + 4) != 0 && next == S_SEG_HDR)
                    fs = s_get64(payload + 4);
                if (s_quarantine(self, rd.fd, base, 0, S_SEG_HDR, qname, sizeof qname, err,
                                 errlen) < 0)
                    goto out;
                s_encode_seg_header(nh, base, fs);
                if (s_pwrite_all(rd.fd, nh, sizeof nh, 0) < 0 || s_sync(self, rd.fd, true) < 0) {
                    util_errf(err, errlen, "spool: rewrite the header of %s/%s: %s", self->dir,
                              name, strerror(errno));
                    goto out;
                }
                rd.len = 0; /* the buffer held the old header */
                if (d)
                    snprintf(d->quarantine, sizeof d->quarantine, "%s", qname);
                rep->repaired = true;
            }
            if (next == off)
                continue; /* the records are intact */
        } else if (s_resync(self, &rd, off, size, r, &next) < 0) {
            goto read_fail;
        }
        r->pending = false; /* two stretches in a row: their losses are counted with this one */
        struct spool_damage *d = s_damage(rep, self->dir, name, off, next - off, whybuf);
        r->pending = true;
        if (rw) {
            bool cut = next == size && last;
            if (s_quarantine(self, rd.fd, base, off, next - off, qname, sizeof qname, err, errlen) <
                0)
                goto out;
            if (next - off < S_REC_HDR || cut) {
                /* no room for a filler, or the newest file's tail: cut (the bytes are kept) */
                if (ftruncate(rd.fd, (off_t)off) < 0 || s_sync(self, rd.fd, true) < 0) {
                    util_errf(err, errlen, "spool: truncate %s/%s to %" PRIu64 ": %s", self->dir,
                              name, off, strerror(errno));
                    goto out;
                }
                size = off;
                if (d)
                    snprintf(d->quarantine, sizeof d->quarantine, "%s", qname);
                rep->repaired = true;
                break;
            }
            if (s_write_filler(self, rd.fd, off, next - off, err, errlen) < 0)
                goto out;
            rd.len = 0;
            if (d)
                snprintf(d->quarantine, sizeof d->quarantine, "%s", qname);
            rep->repaired = true;
            r->filler = true;
        }
        if (base + next > self->ckpt_pos)
            self->depth_bytes += next - off;
        off = next;
    }
    if (base >= self->ckpt_pos)
        self->depth_bytes += S_SEG_HDR;
    struct s_seg s = {.base = base, .len = off, .first_seq = seg_first};
    if (s_segs_push(self, &s) < 0) {
        util_errf(err, errlen, "spool: out of memory");
        goto out;
    }
    r->prev_base = base;
    r->prev_size = off;
    rep->segments++;
    rep->records += nrec;
    if (base + off > self->durable_pos)
        self->durable_pos = base + off;
    rc = 0;
    goto out;
read_fail:
    util_errf(err, errlen, "spool: read %s/%s: %s", self->dir, name, strerror(errno));
out:
    if (rd.fd >= 0)
        close(rd.fd);
    free(rd.buf);
    return rc;
}

/*
 * The durable mark: the position and sequence number of the last durable record, rewritten in
 * place after each commit without a sync of its own (the records it names were synced before;
 * a mark lost to a power cut is only older, and a torn one fails its CRC and is ignored). It
 * is what tells a spool cut at a record boundary from one that ends there.
 */
static int s_write_mark(spool_t *self, uint64_t pos, uint64_t seq, bool sync, char *err,
                        size_t errlen)
{
    uint8_t b[S_MARK_LEN];

    if (self->markfd < 0) {
        self->markfd = openat(self->dirfd, S_MARK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        if (self->markfd < 0)
            goto fail;
    }
    memset(b, 0, sizeof b);
    memcpy(b, S_MARK_MAGIC, 8);
    s_put32(b + 8, S_VERSION);
    s_put64(b + 16, pos);
    s_put64(b + 24, seq);
    s_put32(b + 32, s_crc_update(0, b, 32));
    if (s_pwrite_all(self->markfd, b, sizeof b, 0) < 0 ||
        (sync && (s_sync(self, self->markfd, true) < 0 || s_sync(self, self->dirfd, false) < 0)))
        goto fail;
    return 0;
fail:
    util_errf(err, errlen, "spool: write %s/%s: %s", self->dir, S_MARK_NAME, strerror(errno));
    return -1;
}

/* Reads the mark (absent or torn: none). -1 only on a read error. */
static int s_read_mark(spool_t *self, char *err, size_t errlen)
{
    uint8_t b[S_MARK_LEN + 1];
    int fd = openat(self->dirfd, S_MARK_NAME, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        util_errf(err, errlen, "spool: open %s/%s: %s", self->dir, S_MARK_NAME, strerror(errno));
        return -1;
    }
    ssize_t n = s_pread_full(fd, b, sizeof b, 0);
    int saved = errno;
    close(fd);
    if (n < 0) {
        util_errf(err, errlen, "spool: read %s/%s: %s", self->dir, S_MARK_NAME, strerror(saved));
        return -1;
    }
    if (n == S_MARK_LEN && memcmp(b, S_MARK_MAGIC, 8) == 0 && s_get32(b + 8) == S_VERSION &&
        s_get32(b + 32) == s_crc_update(0, b, 32)) {
        self->mark_pos = s_get64(b + 16);
        self->mark_seq = s_get64(b + 24);
    }
    return 0;
}

/*
 * After the last segment: a damaged tail is counted against the mark (records it says were
 * durable; none when a crash tore a write that was never acknowledged), and records the mark
 * knows of past the last one found mean the spool was cut at a record boundary.
 */
static int s_check_end(spool_t *self, struct s_recov *r)
{
    struct spool_report *rep = r->rep;
    uint64_t found = r->have_last && r->last_seq > self->ckpt_seq ? r->last_seq : self->ckpt_seq;

    if (r->pending) {
        if (self->mark_seq == 0) {
            r->rep->uncounted++; /* no mark (an older spool): how many is unknown */
            r->pending = false;
        } else
            s_count_lost(self, r, (self->mark_seq > found ? self->mark_seq : found) + 1);
        return 0;
    }
    if (self->mark_seq <= found)
        return 0;
    if (r->filler) {
        rep->seq_gaps++;
        rep->lost_records += self->mark_seq - found;
        return 0;
    }
    char name[64];
    if (r->prev_size > 0)
        s_seg_name(name, sizeof name, r->prev_base);
    else
        snprintf(name, sizeof name, "%s", S_MARK_NAME);
    s_damage(rep, self->dir, name, r->prev_size, 0,
             "records missing at the end (cut at a record boundary, or the newest segment file "
             "removed)");
    s_count_lost(self, r, self->mark_seq + 1);
    if (!self->opts.read_only)
        rep->repaired = true; /* reported; the mark is rewritten */
    return 0;
}

static int s_lock(spool_t *self, char *err, size_t errlen)
{
    bool rw = !self->opts.read_only;

    self->lockfd =
        openat(self->dirfd, S_LOCK_NAME, (rw ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0640);
    if (self->lockfd < 0) {
        if (!rw && errno == ENOENT)
            return 0; /* never opened by a daemon: nobody to exclude */
        util_errf(err, errlen, "spool: open %s/%s: %s", self->dir, S_LOCK_NAME, strerror(errno));
        return -1;
    }
    if (flock(self->lockfd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            util_errf(err, errlen,
                      "spool: %s is in use by another process (lock %s/%s is held): "
                      "two daemons must not share a spool",
                      self->dir, self->dir, S_LOCK_NAME);
        else
            util_errf(err, errlen, "spool: lock %s/%s: %s", self->dir, S_LOCK_NAME,
                      strerror(errno));
        return -1;
    }
    return 0;
}

static int s_write_checkpoint(spool_t *self, uint64_t pos, uint64_t seq, char *err, size_t errlen);

/* Free bytes on the spool's filesystem for an unprivileged writer (UINT64_MAX: unknown). */
static uint64_t s_fs_avail(spool_t *self)
{
    struct statvfs vfs;

    if (fstatvfs(self->dirfd, &vfs) != 0)
        return UINT64_MAX;
    return (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
}

/*
 * The segment size when none is given: an eighth of what the spool may hold (max_bytes, or
 * what the filesystem holds when that is less), between SPOOL_SEGMENT_AUTO_MIN and
 * SPOOL_SEGMENT_DEFAULT. Small segments on a small budget: space comes back one segment at
 * a time, so a segment as large as the disk would free nothing until the disk is full.
 */
static uint64_t s_auto_segment(spool_t *self)
{
    uint64_t budget = self->opts.max_bytes, avail = s_fs_avail(self);

    if (avail != UINT64_MAX && self->disk_bytes + avail < budget)
        budget = self->disk_bytes + avail;
    uint64_t seg = budget / 8 / 4096 * 4096;
    if (seg < SPOOL_SEGMENT_AUTO_MIN)
        seg = SPOOL_SEGMENT_AUTO_MIN;
    if (seg > SPOOL_SEGMENT_DEFAULT)
        seg = SPOOL_SEGMENT_DEFAULT;
    return seg;
}

spool_t *spool_open(const char *dir, const struct spool_opts *opts, struct spool_report *report,
                    char *err, size_t errlen)
{
    struct spool_report scratch;
    struct spool_report *rep = report ? report : &scratch;
    spool_t *self = NULL;
    uint64_t *bases = NULL;
    size_t nbases = 0;
    pthread_condattr_t ca;
    bool mu_ok = false, cond_ok = false;

    pthread_once(&s_crc_once, s_crc_init);
    memset(rep, 0, sizeof *rep);
    self = calloc(1, sizeof *self);
    if (!self || !(self->dir = strdup(dir))) {
        util_errf(err, errlen, "spool: out of memory");
        goto fail;
    }
    self->dirfd = self->lockfd = self->p_fd = self->markfd = -1;
    if (opts)
        self->opts = *opts;
    if (self->opts.max_bytes == 0)
        self->opts.max_bytes = SPOOL_MAX_DEFAULT;
    if (self->opts.segment_bytes != 0 &&
        (self->opts.segment_bytes < SPOOL_SEGMENT_MIN || self->opts.segment_bytes > (1ull << 40))) {
        util_errf(err, errlen, "spool: segment size %" PRIu64 " outside [%u, 2^40]",
                  self->opts.segment_bytes, SPOOL_SEGMENT_MIN);
        goto fail;
    }
    /* Recovery accepts records as long as the largest segments an earlier run may have used:
     * the segment size may change from run to run (it follows max_bytes and free space). */
    self->max_payload = (self->opts.segment_bytes > SPOOL_SEGMENT_DEFAULT ? self->opts.segment_bytes
                                                                          : SPOOL_SEGMENT_DEFAULT) -
                        S_SEG_HDR - S_REC_HDR;
    if (self->max_payload > UINT32_MAX)
        self->max_payload = UINT32_MAX;

    if (pthread_mutex_init(&self->mu, NULL) != 0)
        goto fail_sys;
    mu_ok = true;
    if (pthread_condattr_init(&ca) != 0)
        goto fail_sys;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cond_ok = pthread_cond_init(&self->cond, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cond_ok)
        goto fail_sys;

    if (!self->opts.read_only && mkdir(dir, 0750) < 0 && errno != EEXIST) {
        util_errf(err, errlen, "spool: create directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    self->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dirfd < 0) {
        util_errf(err, errlen, "spool: open directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (s_lock(self, err, errlen) < 0)
        goto fail;
    if (!self->opts.read_only)
        unlinkat(self->dirfd, S_CKPT_TMP, 0); /* a checkpoint a crash left unfinished */
    int ckrc = s_read_checkpoint(self, rep, err, errlen);
    if (ckrc < 0)
        goto fail;
    if (s_read_mark(self, err, errlen) < 0)
        goto fail;
    if (s_list_segments(self, &bases, &nbases, err, errlen) < 0)
        goto fail;

    struct s_recov r = {.rep = rep, .ckpt_ok = ckrc != 2};
    for (size_t i = 0; i < nbases; i++)
        if (s_recover_segment(self, bases[i], i + 1 == nbases, &r, err, errlen) < 0)
            goto fail;
    free(bases);
    bases = NULL;
    if (s_check_end(self, &r) < 0)
        goto fail;

    uint64_t last_seq = r.have_last ? r.last_seq : 0;
    if (self->durable_pos < self->ckpt_pos)
        self->durable_pos = self->ckpt_pos;
    self->p_durable = self->durable_pos;
    /* This run writes into a new segment after everything seen: no position is reused. */
    self->p_start = r.end > self->ckpt_pos ? r.end : self->ckpt_pos;
    if (self->p_start < self->mark_pos)
        self->p_start = self->mark_pos;
    self->p_seq = (last_seq > self->ckpt_seq ? last_seq : self->ckpt_seq) + 1;
    self->p_durable_seq = self->p_seq - 1;
    /* What was lost is reported now: the mark starts again from what is there. */
    if (!self->opts.read_only &&
        s_write_mark(self, self->p_start, self->p_durable_seq, true, err, errlen) < 0)
        goto fail;
    /* A checkpoint file from the start: on a full disk it is rewritten in place (see
     * s_write_checkpoint), where a first one could not be created. Best effort. */
    char ckerr[256];
    if (!self->opts.read_only && ckrc == 0)
        s_write_checkpoint(self, 0, 0, ckerr, sizeof ckerr);
    self->p_used = self->disk_bytes;
    if (self->opts.segment_bytes == 0)
        self->opts.segment_bytes = s_auto_segment(self);
    self->append_max = self->opts.segment_bytes - S_SEG_HDR - S_REC_HDR;
    if (self->append_max > UINT32_MAX)
        self->append_max = UINT32_MAX;
    atomic_store(&self->next_seq, self->p_seq);
    return self;

fail_sys:
    util_errf(err, errlen, "spool: %s: cannot initialise a lock", dir);
fail:
    free(bases);
    if (self) {
        if (!mu_ok || !cond_ok) {
            /* destroy expects both initialised */
            if (mu_ok)
                pthread_mutex_destroy(&self->mu);
            if (self->lockfd >= 0)
                close(self->lockfd);
            if (self->dirfd >= 0)
                close(self->dirfd);
            free(self->dir);
            free(self);
        } else {
            spool_destroy(&self);
        }
    }
    return NULL;
}

void spool_destroy(spool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    spool_t *self = *self_p;
    if (self->p_fd >= 0)
        close(self->p_fd);
    if (self->markfd >= 0)
        close(self->markfd);
    if (self->lockfd >= 0)
        close(self->lockfd); /* releases the flock */
    if (self->dirfd >= 0)
        close(self->dirfd);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mu);
    free(self->segs);
    free(self->p_buf);
    free(self->p_parts);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

const char *spool_dir(const spool_t *self)
{
    return self->dir;
}

/* ---- producer ---- */

/* Whether every durable record of the segment the producer writes is consumed (under mu). */
static bool s_current_consumed(const spool_t *self)
{
    if (self->p_fd < 0 || self->nsegs == 0)
        return false;
    const struct s_seg *s = &self->segs[self->nsegs - 1];
    return s->base == self->p_base && self->ckpt_pos >= s->base + s->len;
}

/*
 * The space the consumer has freed since the producer last looked. A current segment wholly
 * consumed counts as free: the next commit removes it (p_roll).
 */
static void s_refresh_used(spool_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->p_used = self->disk_bytes;
    if (s_current_consumed(self)) {
        self->p_used -= self->segs[self->nsegs - 1].len;
        self->p_roll = true;
    }
    pthread_mutex_unlock(&self->mu);
}

/* A new part of the buffered group, its records from p_buf[buf_off] on; NULL (ENOMEM). */
static struct s_part *s_part_new(spool_t *self, size_t buf_off, uint64_t first_seq)
{
    if (self->p_nparts == self->p_parts_cap) {
        size_t cap = self->p_parts_cap ? self->p_parts_cap * 2 : 4;
        struct s_part *np = realloc(self->p_parts, cap * sizeof *np);
        if (!np) {
            errno = ENOMEM;
            return NULL;
        }
        self->p_parts = np;
        self->p_parts_cap = cap;
    }
    struct s_part *p = &self->p_parts[self->p_nparts++];
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->buf_off = p->buf_end = buf_off;
    p->first_seq = first_seq;
    return p;
}

int spool_append(spool_t *self, const void *data, size_t len, uint64_t *pos)
{
    if (self->opts.read_only) {
        errno = EROFS;
        return SPOOL_ERR;
    }
    if (len > self->append_max) {
        errno = EMSGSIZE;
        return SPOOL_ERR;
    }
    uint64_t rec = S_REC_HDR + (uint64_t)len;
    struct s_part *last = self->p_nparts ? &self->p_parts[self->p_nparts - 1] : NULL;
    uint64_t seg_base, seg_end; /* the segment the record would go to, and its end offset */
    bool have_seg = true;
    if (last) {
        seg_base = last->base;
        seg_end = last->file_off + (last->buf_end - last->buf_off);
    } else if (self->p_fd >= 0) {
        seg_base = self->p_base;
        seg_end = self->p_len_file;
    } else {
        seg_base = self->p_start;
        seg_end = 0;
        have_seg = false;
    }
    bool fits = have_seg && seg_end + rec <= self->opts.segment_bytes;
    uint64_t need = rec + (fits ? 0 : S_SEG_HDR);

    if (self->opts.max_bytes != UINT64_MAX &&
        self->p_used + self->p_pending + need > self->opts.max_bytes) {
        s_refresh_used(self);
        if (self->p_used + self->p_pending + need > self->opts.max_bytes) {
            atomic_fetch_add_explicit(&self->full, 1, memory_order_relaxed);
            return SPOOL_FULL;
        }
    }
    if (self->p_len + rec > self->p_cap) {
        size_t cap = self->p_cap ? self->p_cap : 64 << 10;
        while (cap < self->p_len + rec)
            cap *= 2;
        uint8_t *nb = realloc(self->p_buf, cap);
        if (!nb) {
            errno = ENOMEM;
            return SPOOL_ERR;
        }
        self->p_buf = nb;
        self->p_cap = cap;
    }
    if (!last || !fits) {
        struct s_part *p = s_part_new(self, self->p_len, self->p_seq);
        if (!p)
            return SPOOL_ERR;
        if (fits) { /* first buffered record, into the current segment */
            p->base = seg_base;
            p->file_off = seg_end;
        } else { /* a new segment starts where the previous one ends */
            p->base = have_seg ? seg_base + seg_end : seg_base;
            p->file_off = S_SEG_HDR;
            p->fresh = true;
        }
        last = p;
    }
    uint8_t *h = self->p_buf + self->p_len;
    s_put32(h, (uint32_t)len);
    s_put64(h + 4, self->p_seq);
    if (len)
        memcpy(h + S_REC_HDR, data, len);
    s_put32(h + 12, s_rec_crc(h, h + S_REC_HDR, (uint32_t)len));
    self->p_len += rec;
    last->buf_end = self->p_len;
    last->nrec++;
    self->p_nrec++;
    self->p_pending += need;
    self->p_seq++;
    atomic_store_explicit(&self->next_seq, self->p_seq, memory_order_relaxed);
    atomic_fetch_add_explicit(&self->appended, 1, memory_order_relaxed);
    atomic_store_explicit(&self->buffered, self->p_nrec, memory_order_relaxed);
    if (pos)
        *pos = last->base + last->file_off + (last->buf_end - last->buf_off);
    return SPOOL_OK;
}

/* Undoes parts [0, upto] of a failed commit, so the files hold only whole durable records. */
static void s_rollback(spool_t *self, size_t upto)
{
    for (size_t i = 0; i <= upto && i < self->p_nparts; i++) {
        struct s_part *p = &self->p_parts[i];
        if (p->fresh) {
            char name[64];
            if (p->fd >= 0)
                close(p->fd);
            p->fd = -1;
            s_seg_name(name, sizeof name, p->base);
            unlinkat(self->dirfd, name, 0);
        } else if (ftruncate(self->p_fd, (off_t)p->file_off) == 0) {
            s_sync(self, self->p_fd, true);
        }
    }
}

/*
 * Whether the directory the spool opened is still the one at its path. Removed (a careless
 * `rm -rf`) or replaced (removed and made again), its files are ones nobody will read again:
 * writes into them still succeed, so without this a group would be acknowledged and then lost.
 */
static bool s_dir_same(spool_t *self)
{
    struct stat a, b;

    return fstat(self->dirfd, &a) == 0 && stat(self->dir, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino && a.st_nlink > 0;
}

/*
 * Lays the buffered group out again into new segments from base on (a roll): the records'
 * bytes do not change (their checksums do not cover positions), only where they go.
 */
static int s_relayout(spool_t *self, uint64_t base)
{
    uint64_t seg_end = 0, pending = 0;
    struct s_part *p = NULL;

    self->p_nparts = 0;
    for (size_t off = 0; off < self->p_len;) {
        uint64_t rec = S_REC_HDR + (uint64_t)s_get32(self->p_buf + off);
        if (!p || seg_end + rec > self->opts.segment_bytes) {
            uint64_t b = p ? p->base + seg_end : base;
            if (!(p = s_part_new(self, off, s_get64(self->p_buf + off + 4))))
                return -1;
            p->base = b;
            p->file_off = seg_end = S_SEG_HDR;
            p->fresh = true;
            pending += S_SEG_HDR;
        }
        p->buf_end = off + rec;
        p->nrec++;
        seg_end += rec;
        pending += rec;
        off += rec;
    }
    self->p_pending = pending;
    return 0;
}

/*
 * Space: once every record of the segment being written is consumed, the group goes to a new
 * segment and the old file is removed before anything is written, so its space is there for
 * the group even on a full disk. Done when the segment is a quarter full, or when space is
 * short (p_roll, p_failed), or when the group starts a new segment anyway. Removing it first is
 * safe: the checkpoint that consumed it is on disk, and positions go on from after the group.
 */
static void s_roll(spool_t *self)
{
    struct s_part *first = &self->p_parts[0], *lp = &self->p_parts[self->p_nparts - 1];
    char name[64];

    pthread_mutex_lock(&self->mu);
    bool want = s_current_consumed(self) && (self->p_roll || self->p_failed || first->fresh ||
                                             self->p_len_file >= self->opts.segment_bytes / 4);
    pthread_mutex_unlock(&self->mu);
    if (!want)
        return;
    /* Every position given so far is at most the group's end: the new segment starts there. */
    if (!first->fresh &&
        s_relayout(self, lp->base + lp->file_off + (lp->buf_end - lp->buf_off)) < 0)
        return; /* out of memory: the group stays where it was laid out */
    pthread_mutex_lock(&self->mu);
    self->disk_bytes -= self->segs[self->nsegs - 1].len;
    self->nsegs--;
    pthread_mutex_unlock(&self->mu);
    close(self->p_fd);
    self->p_fd = -1;
    s_seg_name(name, sizeof name, self->p_base);
    unlinkat(self->dirfd, name, 0); /* a leftover is consumed: removed at the next open */
    self->p_roll = false;
    atomic_fetch_add_explicit(&self->rolls, 1, memory_order_relaxed);
}

static int s_commit(spool_t *self, bool quiet, uint64_t *durable, char *err, size_t errlen)
{
    bool created = false;
    size_t i = 0, nfresh = 0;
    uint64_t fail_off = 0;
    int saved = 0;
    char name[64];

    if (self->p_nparts == 0) {
        if (durable)
            *durable = self->p_durable;
        return SPOOL_OK;
    }
    /* Checked before each group is made durable: one stat, beside an fsync. */
    if (!s_dir_same(self)) {
        util_errf(err, errlen,
                  "spool: %s was removed or replaced while anprd had it open: nothing more is "
                  "acknowledged (restart anprd to open the spool again)",
                  self->dir);
        atomic_fetch_add_explicit(&self->errors, 1, memory_order_relaxed);
        if (durable)
            *durable = self->p_durable;
        errno = ENOENT;
        return SPOOL_ERR;
    }
    s_roll(self);
    /* Room in the segment list first, so publishing cannot fail after the data is durable. */
    for (i = 0; i < self->p_nparts; i++)
        nfresh += self->p_parts[i].fresh;
    pthread_mutex_lock(&self->mu);
    if (self->nsegs + nfresh > self->segs_cap) {
        size_t cap = self->nsegs + nfresh + 16;
        struct s_seg *n = realloc(self->segs, cap * sizeof *n);
        if (n) {
            self->segs = n;
            self->segs_cap = cap;
        }
    }
    bool room = self->nsegs + nfresh <= self->segs_cap;
    pthread_mutex_unlock(&self->mu);
    if (!room) {
        util_errf(err, errlen, "spool: %s: out of memory", self->dir);
        atomic_fetch_add_explicit(&self->errors, 1, memory_order_relaxed);
        if (durable)
            *durable = self->p_durable;
        errno = ENOMEM;
        return SPOOL_ERR;
    }

    for (i = 0; i < self->p_nparts; i++) {
        struct s_part *p = &self->p_parts[i];
        int fd = self->p_fd;
        s_seg_name(name, sizeof name, p->base);
        if (p->fresh) {
            uint8_t h[S_SEG_HDR];
            s_encode_seg_header(h, p->base, p->first_seq);
            fail_off = 0;
            p->fd = openat(self->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
            if (p->fd < 0)
                goto fail;
            fd = p->fd;
            created = true;
            if (s_pwrite_all(fd, h, sizeof h, 0) < 0)
                goto fail;
        }
        fail_off = p->file_off;
        if (s_pwrite_all(fd, self->p_buf + p->buf_off, p->buf_end - p->buf_off, p->file_off) < 0)
            goto fail;
        if (s_sync(self, fd, true) < 0)
            goto fail;
    }
    /* A new file is durable once its directory entry is. */
    if (created && s_sync(self, self->dirfd, false) < 0) {
        saved = errno;
        i = self->p_nparts - 1;
        util_errf(err, errlen, "spool: sync directory %s: %s", self->dir, strerror(saved));
        goto rollback;
    }

    /* Durable: publish. The last created segment becomes the producer's file. */
    const struct s_part *lp = &self->p_parts[self->p_nparts - 1];
    uint64_t new_durable = lp->base + lp->file_off + (lp->buf_end - lp->buf_off);
    pthread_mutex_lock(&self->mu);
    for (i = 0; i < self->p_nparts; i++) {
        struct s_part *p = &self->p_parts[i];
        uint64_t end = p->file_off + (p->buf_end - p->buf_off);
        if (p->fresh)
            self->segs[self->nsegs++] =
                (struct s_seg){.base = p->base, .len = end, .first_seq = p->first_seq};
        else
            self->segs[self->nsegs - 1].len = end;
    }
    self->durable_pos = new_durable;
    self->depth_records += self->p_nrec;
    self->depth_bytes += self->p_pending;
    self->disk_bytes += self->p_pending;
    self->p_used = self->disk_bytes;
    if (!quiet)
        pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mu);

    for (i = 0; i < self->p_nparts; i++) {
        struct s_part *p = &self->p_parts[i];
        if (p->fresh) {
            if (self->p_fd >= 0)
                close(self->p_fd);
            self->p_fd = p->fd;
            self->p_base = p->base;
            p->fd = -1;
        }
    }
    self->p_len_file = lp->file_off + (lp->buf_end - lp->buf_off);
    self->p_durable = new_durable;
    self->p_durable_seq = self->p_seq - 1;
    self->p_unsaid = quiet;
    /* Best effort: a mark not written only weakens the detection of a cut spool. */
    if (!quiet)
        s_write_mark(self, new_durable, self->p_durable_seq, false, NULL, 0);
    self->p_len = 0;
    self->p_nparts = 0;
    self->p_nrec = 0;
    self->p_pending = 0;
    self->p_failed = false;
    atomic_store_explicit(&self->buffered, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&self->commits, 1, memory_order_relaxed);
    if (durable)
        *durable = new_durable;
    return SPOOL_OK;

fail:
    saved = errno;
    util_errf(err, errlen, "spool: write %s/%s at offset %" PRIu64 ": %s", self->dir, name,
              fail_off, strerror(saved));
rollback:
    s_rollback(self, i);
    self->p_failed = true;
    atomic_fetch_add_explicit(&self->errors, 1, memory_order_relaxed);
    if (durable)
        *durable = self->p_durable;
    errno = saved;
    return SPOOL_ERR;
}

int spool_commit(spool_t *self, uint64_t *durable, char *err, size_t errlen)
{
    return s_commit(self, false, durable, err, errlen);
}

int spool_commit_quiet(spool_t *self, uint64_t *durable, char *err, size_t errlen)
{
    return s_commit(self, true, durable, err, errlen);
}

void spool_notify(spool_t *self)
{
    if (!self->p_unsaid)
        return;
    self->p_unsaid = false;
    s_write_mark(self, self->p_durable, self->p_durable_seq, false, NULL, 0);
    pthread_mutex_lock(&self->mu);
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mu);
}

uint64_t spool_durable(spool_t *self)
{
    pthread_mutex_lock(&self->mu);
    uint64_t d = self->durable_pos;
    pthread_mutex_unlock(&self->mu);
    return d;
}

uint64_t spool_wait(spool_t *self, uint64_t after_pos, int timeout_ms)
{
    struct timespec dl;

    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&self->mu);
    uint64_t gen = self->wake_gen;
    while (timeout_ms > 0 && self->durable_pos <= after_pos && self->wake_gen == gen)
        if (pthread_cond_timedwait(&self->cond, &self->mu, &dl) == ETIMEDOUT)
            break;
    uint64_t d = self->durable_pos;
    pthread_mutex_unlock(&self->mu);
    return d;
}

void spool_wake(spool_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->wake_gen++;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mu);
}

/* ---- consumer ---- */

spool_cursor_t *spool_cursor_new(spool_t *sp, uint64_t from_pos, char *err, size_t errlen)
{
    spool_cursor_t *self = calloc(1, sizeof *self);

    if (!self) {
        util_errf(err, errlen, "spool: out of memory");
        return NULL;
    }
    self->sp = sp;
    self->rd.fd = -1;
    self->base = UINT64_MAX;
    self->from = from_pos;
    return self;
}

void spool_cursor_destroy(spool_cursor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->rd.fd >= 0)
        close((*self_p)->rd.fd);
    free((*self_p)->rd.buf);
    free(*self_p);
    *self_p = NULL;
}

/*
 * Refreshes the cursor's view of its segment: the durable length of the current one, or moves
 * to the next segment with something after the cursor's position. 1 moved or grew, 0 nothing
 * new, -1 error.
 */
static int s_cursor_advance(spool_cursor_t *self, char *err, size_t errlen)
{
    spool_t *sp = self->sp;
    struct s_seg next = {.base = UINT64_MAX};
    int rc = 0;

    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->nsegs; i++) {
        const struct s_seg *s = &sp->segs[i];
        if (self->base != UINT64_MAX && s->base == self->base) {
            if (s->len > self->limit) {
                self->limit = s->len;
                rc = 1;
            }
        } else if ((self->base == UINT64_MAX || s->base > self->base) &&
                   s->base + s->len > self->from && s->len > S_SEG_HDR && next.base == UINT64_MAX) {
            next = *s;
        }
    }
    pthread_mutex_unlock(&sp->mu);
    if (rc == 1 || next.base == UINT64_MAX)
        return rc;
    if (self->base != UINT64_MAX && self->off < self->limit)
        return 0; /* still records in the current one */

    char name[64];
    s_seg_name(name, sizeof name, next.base);
    int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_errf(err, errlen, "spool: open %s/%s: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    if (self->rd.fd >= 0)
        close(self->rd.fd);
    self->rd.fd = fd;
    self->rd.start = self->rd.len = 0;
    self->base = next.base;
    self->limit = next.len;
    self->off = S_SEG_HDR;
    return 1;
}

/*
 * The cursor met a record damaged since the open at self->off: find the next valid record (as
 * recovery does), copy the stretch to a quarantine file and skip it. The stretch is noted under
 * the lock, so the other cursors skip it too and it is counted once. 0, or -1 with err when the
 * damage runs to the durable end of the newest segment (what follows is not written yet: the
 * caller retries) or the copy fails.
 */
static int s_cursor_skip(spool_cursor_t *self, char *err, size_t errlen)
{
    spool_t *sp = self->sp;
    uint64_t next = 0;
    bool known = false, newest = false;
    char qname[128];

    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->nlive && !known; i++)
        if (sp->live[i].base == self->base && sp->live[i].off == self->off) {
            next = sp->live[i].next;
            known = true;
        }
    newest = sp->nsegs > 0 && sp->segs[sp->nsegs - 1].base == self->base;
    pthread_mutex_unlock(&sp->mu);
    if (!known) {
        struct s_recov r = {.have_last = self->seq > 0, .last_seq = self->seq};
        if (s_resync(sp, &self->rd, self->off, self->limit, &r, &next) < 0) {
            util_errf(err, errlen, "spool: read %s/%020" PRIu64 ".seg: %s", sp->dir, self->base,
                      strerror(errno));
            return -1;
        }
        if (next == self->limit && newest) {
            util_errf(err, errlen,
                      "spool: damaged record in %s/%020" PRIu64 ".seg at offset %" PRIu64
                      " (to the end of what is durable)",
                      sp->dir, self->base, self->off);
            return -1;
        }
        if (!sp->opts.read_only &&
            s_quarantine(sp, self->rd.fd, self->base, self->off, next - self->off, qname,
                         sizeof qname, err, errlen) < 0)
            return -1;
        uint64_t lost = 0;
        const uint8_t *h;
        if (self->seq > 0 && next < self->limit &&
            s_reader_get(&self->rd, next, S_REC_HDR, self->limit, &h) == 1 &&
            s_get64(h + 4) > self->seq + 1)
            lost = s_get64(h + 4) - self->seq - 1;
        pthread_mutex_lock(&sp->mu);
        bool again = false;
        for (size_t i = 0; i < sp->nlive; i++)
            again |= sp->live[i].base == self->base && sp->live[i].off == self->off;
        if (!again) {
            if (sp->nlive < SPOOL_DAMAGE_MAX)
                sp->live[sp->nlive++] = (struct s_live){self->base, self->off, next};
            sp->live_damage++;
            sp->live_lost += lost;
        }
        pthread_mutex_unlock(&sp->mu);
    }
    self->off = next;
    return 0;
}

int spool_read(spool_cursor_t *self, const void **data, size_t *len, uint64_t *pos, uint64_t *seq,
               char *err, size_t errlen)
{
    spool_t *sp = self->sp;

    for (;;) {
        if (self->base == UINT64_MAX || self->off >= self->limit) {
            int rc = s_cursor_advance(self, err, errlen);
            if (rc <= 0)
                return rc;
            continue;
        }
        const uint8_t *h, *payload;
        int got = s_reader_get(&self->rd, self->off, S_REC_HDR, self->limit, &h);
        if (got != 1)
            goto bad;
        uint32_t l = s_get32(h);
        uint64_t q = s_get64(h + 4);
        if (l > sp->max_payload || self->off + S_REC_HDR + l > self->limit)
            goto bad;
        got = s_reader_get(&self->rd, self->off, S_REC_HDR + (size_t)l, self->limit, &h);
        if (got != 1)
            goto bad;
        payload = h + S_REC_HDR;
        if (s_rec_crc(h, payload, l) != s_get32(h + 12))
            goto bad;
        self->off += S_REC_HDR + l;
        if (q == 0)
            continue; /* a filler over bytes set aside at open */
        self->seq = q;
        uint64_t p = self->base + self->off;
        if (p <= self->from)
            continue; /* before the start position */
        *data = payload;
        *len = l;
        *pos = p;
        if (seq)
            *seq = q;
        sp->c_last_pos = p;
        sp->c_last_seq = q;
        return 1;
    bad:
        if (got < 0) {
            util_errf(err, errlen, "spool: read %s/%020" PRIu64 ".seg at offset %" PRIu64 ": %s",
                      sp->dir, self->base, self->off, strerror(errno));
            return -1;
        }
        if (s_cursor_skip(self, err, errlen) < 0)
            return -1;
    }
}

/* The sequence number of the record ending at pos in segment s, read from the file. */
static int s_seq_at(spool_t *self, const struct s_seg *s, uint64_t pos, uint64_t *seq, char *err,
                    size_t errlen)
{
    char name[64];
    uint8_t h[S_REC_HDR];
    uint64_t off = S_SEG_HDR;
    int rc = -1;

    s_seg_name(name, sizeof name, s->base);
    int fd = openat(self->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_errf(err, errlen, "spool: open %s/%s: %s", self->dir, name, strerror(errno));
        return -1;
    }
    while (s->base + off < pos) {
        if (s_pread_full(fd, h, sizeof h, off) != (ssize_t)sizeof h) {
            util_errf(err, errlen, "spool: read %s/%s at offset %" PRIu64 ": short read", self->dir,
                      name, off);
            goto out;
        }
        off += S_REC_HDR + s_get32(h);
    }
    if (s->base + off != pos) {
        util_errf(err, errlen, "spool: checkpoint %" PRIu64 " is not a record position", pos);
        goto out;
    }
    *seq = s_get64(h + 4);
    rc = 0;
out:
    close(fd);
    return rc;
}

static int s_write_checkpoint_in_place(spool_t *self, const uint8_t *b)
{
    int saved = errno;
    int fd = openat(self->dirfd, S_CKPT_NAME, O_WRONLY | O_CLOEXEC);
    int rc =
        fd >= 0 && s_pwrite_all(fd, b, S_CKPT_LEN, 0) == 0 && s_sync(self, fd, true) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    errno = saved;
    return rc;
}

static int s_write_checkpoint(spool_t *self, uint64_t pos, uint64_t seq, char *err, size_t errlen)
{
    uint8_t b[S_CKPT_LEN];
    const char *step = "create";

    memset(b, 0, sizeof b);
    memcpy(b, S_CKPT_MAGIC, 8);
    s_put32(b + 8, S_VERSION);
    s_put64(b + 16, pos);
    s_put64(b + 24, seq);
    s_put32(b + 32, s_crc_update(0, b, 32));
    int fd = openat(self->dirfd, S_CKPT_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        goto fail;
    step = "write";
    if (s_pwrite_all(fd, b, sizeof b, 0) < 0)
        goto fail_fd;
    step = "sync";
    if (s_sync(self, fd, false) < 0)
        goto fail_fd;
    close(fd);
    step = "rename";
    if (renameat(self->dirfd, S_CKPT_TMP, self->dirfd, S_CKPT_NAME) < 0)
        goto fail;
    step = "sync directory of";
    if (s_sync(self, self->dirfd, false) < 0)
        goto fail;
    return 0;
fail_fd:;
    int saved = errno;
    close(fd);
    unlinkat(self->dirfd, S_CKPT_TMP, 0);
    errno = saved;
fail:
    /* A full disk has no block for a new file, and the checkpoint is what frees space: then
     * it is written over the old one in place (36 bytes, one sector: a torn one fails its CRC
     * and the next open replays from the oldest segment, which the consumers take twice
     * without harm). */
    if ((errno == ENOSPC || errno == EDQUOT) && s_write_checkpoint_in_place(self, b) == 0)
        return 0;
    util_errf(err, errlen, "spool: %s %s/%s: %s", step, self->dir, S_CKPT_TMP, strerror(errno));
    return -1;
}

int spool_checkpoint(spool_t *self, uint64_t pos, char *err, size_t errlen)
{
    struct s_seg seg = {0};
    bool found = false;
    uint64_t seq = 0;

    if (self->opts.read_only) {
        util_errf(err, errlen, "spool: %s is open read-only", self->dir);
        return SPOOL_ERR;
    }
    pthread_mutex_lock(&self->mu);
    uint64_t old = self->ckpt_pos, durable = self->durable_pos;
    for (size_t i = 0; i < self->nsegs && !found; i++)
        if (self->segs[i].base < pos && pos <= self->segs[i].base + self->segs[i].len) {
            seg = self->segs[i];
            found = true;
        }
    pthread_mutex_unlock(&self->mu);
    if (pos <= old)
        return SPOOL_OK;
    if (pos > durable || !found) {
        util_errf(err, errlen, "spool: checkpoint %" PRIu64 " is not a durable record position",
                  pos);
        goto fail;
    }
    if (pos == self->c_last_pos)
        seq = self->c_last_seq;
    else if (s_seq_at(self, &seg, pos, &seq, err, errlen) < 0)
        goto fail;
    if (s_write_checkpoint(self, pos, seq, err, errlen) < 0)
        goto fail;

    /* Publish, and take out of the list the segments now wholly consumed, except the last one:
     * the producer may still write into it. */
    uint64_t *gone = NULL;
    size_t ngone = 0;
    pthread_mutex_lock(&self->mu);
    uint64_t old_seq = self->ckpt_seq;
    self->ckpt_pos = pos;
    self->ckpt_seq = seq;
    self->depth_records -=
        seq - old_seq < self->depth_records ? seq - old_seq : self->depth_records;
    while (ngone + 1 < self->nsegs && self->segs[ngone].base + self->segs[ngone].len <= pos)
        ngone++;
    if (ngone > 0 && (gone = malloc(ngone * sizeof *gone)) != NULL) {
        for (size_t i = 0; i < ngone; i++) {
            gone[i] = self->segs[i].base;
            self->disk_bytes -= self->segs[i].len;
        }
        memmove(self->segs, self->segs + ngone, (self->nsegs - ngone) * sizeof *self->segs);
        self->nsegs -= ngone;
    } else {
        ngone = 0; /* out of memory: they go at the next checkpoint or open */
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < self->nsegs; i++) {
        const struct s_seg *s = &self->segs[i];
        if (s->base + s->len <= pos)
            continue;
        bytes += s->base >= pos ? s->len : s->base + s->len - pos;
    }
    self->depth_bytes = bytes;
    pthread_mutex_unlock(&self->mu);

    for (size_t i = 0; i < ngone; i++) {
        char name[64];
        s_seg_name(name, sizeof name, gone[i]);
        unlinkat(self->dirfd, name, 0); /* a leftover is removed at the next open */
    }
    free(gone);
    return SPOOL_OK;
fail:
    atomic_fetch_add_explicit(&self->errors, 1, memory_order_relaxed);
    return SPOOL_ERR;
}

uint64_t spool_checkpointed(spool_t *self)
{
    pthread_mutex_lock(&self->mu);
    uint64_t p = self->ckpt_pos;
    pthread_mutex_unlock(&self->mu);
    return p;
}

void spool_stats(spool_t *self, struct spool_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&self->mu);
    out->depth_records = self->depth_records;
    out->depth_bytes = self->depth_bytes;
    out->durable_pos = self->durable_pos;
    out->checkpoint_pos = self->ckpt_pos;
    out->checkpoint_seq = self->ckpt_seq;
    out->segments = self->nsegs;
    out->disk_bytes = self->disk_bytes;
    pthread_mutex_unlock(&self->mu);
    out->rolls = atomic_load_explicit(&self->rolls, memory_order_relaxed);
    out->buffered = atomic_load_explicit(&self->buffered, memory_order_relaxed);
    out->next_seq = atomic_load_explicit(&self->next_seq, memory_order_relaxed);
    out->appended = atomic_load_explicit(&self->appended, memory_order_relaxed);
    out->commits = atomic_load_explicit(&self->commits, memory_order_relaxed);
    out->fsyncs = atomic_load_explicit(&self->fsyncs, memory_order_relaxed);
    out->errors = atomic_load_explicit(&self->errors, memory_order_relaxed);
    out->full = atomic_load_explicit(&self->full, memory_order_relaxed);
    pthread_mutex_lock(&self->mu);
    out->live_damage = self->live_damage;
    out->live_lost = self->live_lost;
    pthread_mutex_unlock(&self->mu);
}

void spool_space(spool_t *self, struct spool_space *out)
{
    memset(out, 0, sizeof *out);
    out->max_bytes = self->opts.max_bytes;
    out->segment_bytes = self->opts.segment_bytes;
    pthread_mutex_lock(&self->mu);
    out->used_bytes = self->disk_bytes;
    pthread_mutex_unlock(&self->mu);
    out->fs_avail = s_fs_avail(self);
    out->room = out->max_bytes > out->used_bytes ? out->max_bytes - out->used_bytes : 0;
    if (out->fs_avail < out->room)
        out->room = out->fs_avail;
}

int spool_quarantine_walk(const char *path,
                          void (*fn)(void *arg, uint64_t seq, const void *payload, size_t len),
                          void *arg, char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *data = (uint8_t *)util_read_file(path, &len);
    int n = 0;

    if (!data) {
        util_errf(err, errlen, "spool: read %s: %s", path, strerror(errno));
        return -1;
    }
    size_t start = len >= S_SEG_HDR && memcmp(data, S_SEG_MAGIC, 8) == 0 ? S_SEG_HDR : 0;
    size_t off = start;
    /* Do the lengths tile the file? If not, one of them is damaged: one payload, the rest. */
    while (off + S_REC_HDR <= len && s_get32(data + off) <= len - off - S_REC_HDR)
        off += S_REC_HDR + s_get32(data + off);
    bool tiled = off == len;
    off = start;
    while (off + S_REC_HDR <= len) {
        uint64_t l = s_get32(data + off), q = s_get64(data + off + 4);
        if (!tiled || l > len - off - S_REC_HDR)
            l = len - off - S_REC_HDR;
        if (q != 0) { /* not a filler */
            fn(arg, q, data + off + S_REC_HDR, (size_t)l);
            n++;
        }
        off += S_REC_HDR + (size_t)l;
    }
    free(data);
    return n;
}
