/*
 * plategen: realistic plates for simulated cameras and benchmarks, with a seeded generator so a
 * run can be repeated. Formats (as printed on the plate, separators included):
 *   BE 1-ABC-123   NL side codes such as 12-ABC-3, AB-123-C, 1-AB-234, XX-99-XX
 *   DE district + letters + digits (e.g. "HS AB 123", "AC X 1234")
 *   FR AB-123-CD   LU AB 1234 / 123456 style   GB AB12 CDE
 * The mix follows a Belgian border zone: mostly BE, then NL, DE, FR, a few LU and GB.
 */
#ifndef ANPR_PLATEGEN_H
#define ANPR_PLATEGEN_H

#include <stddef.h>
#include <stdint.h>

struct plategen {
    uint64_t state; /* xoshiro/splitmix state; any seed works */
};

void plategen_seed(struct plategen *g, uint64_t seed);
/* Next pseudo-random 64-bit value (splitmix64). */
uint64_t plategen_next(struct plategen *g);
/* Uniform in [0, n). */
uint32_t plategen_below(struct plategen *g, uint32_t n);

/*
 * Write a plate of a random country into plate (with its separators, NUL-terminated, at most
 * 16 bytes + NUL) and the country's ISO alpha-2 code into country ("BE", "NL", ...).
 */
void plategen_plate(struct plategen *g, char plate[17], char country[3]);

/* Same for one given country ("BE", "NL", "DE", "FR", "LU", "GB"); unknown -> BE format. */
void plategen_plate_for(struct plategen *g, const char *country, char plate[17]);

/*
 * An OCR-style misreading of plate: with probability per character `p_permille`/1000 a
 * character is swapped for a look-alike (0/O, 1/I, 8/B, 5/S, 2/Z, 6/G). Writes into out.
 */
void plategen_misread(struct plategen *g, const char *plate, unsigned p_permille, char out[17]);

#endif
