/*
 * plate: plate normalisation and hashing. See plate.h.
 */
#include "plate.h"

#include <stdint.h>

enum plate_status plate_normalise(const char *raw, char out[PLATE_MAX + 1])
{
    const unsigned char *p = (const unsigned char *)raw;
    size_t n = 0;
    int long_plate = 0;

    out[0] = '\0';
    if (!raw)
        return PLATE_EMPTY;
    while (*p) {
        unsigned char c = *p;
        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            /* Keep scanning past the limit: an invalid character wins over "too long". */
            if (n < PLATE_MAX)
                out[n] = (char)c;
            else
                long_plate = 1;
            n++;
            p++;
        } else if (c == ' ' || c == '\t' || c == '-' || c == '.' || c == '_' || c == '/') {
            p++;
        } else if (c == 0xC2 && p[1] == 0xB7) {
            p += 2; /* U+00B7 middle dot */
        } else if (c == 0xE2 && p[1] == 0x80 && p[2] == 0x93) {
            p += 3; /* U+2013 en dash */
        } else {
            out[0] = '\0';
            return PLATE_INVALID;
        }
    }
    if (n == 0)
        return PLATE_EMPTY;
    if (long_plate) {
        out[0] = '\0';
        return PLATE_LONG;
    }
    out[n] = '\0';
    return PLATE_OK;
}

/* Little-endian load of up to 8 bytes, so the hash is the same on every host. */
static uint64_t s_load(const unsigned char *p, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

unsigned long long plate_hash(const char *plate, size_t len)
{
    const unsigned char *p = (const unsigned char *)plate;
    /* FNV-1a over 64-bit words instead of bytes: plates are short, so 1-3 rounds in all. */
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)len;

    while (len >= 8) {
        h = (h ^ s_load(p, 8)) * 0x100000001b3ULL;
        h ^= h >> 32; /* the multiply only carries upwards; fold high bits back down */
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        h = (h ^ s_load(p, len)) * 0x100000001b3ULL;
        h ^= h >> 32;
    }
    /* murmur3 fmix64: full avalanche, so any bit range of the result may index a table. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
