/*
 * promtext: a strict reader of the Prometheus text exposition format 0.0.4, for the tests of
 * the metrics endpoint. It checks every line: metric and label names, HELP and TYPE given once
 * and before a family's samples, a family's samples together, counters named *_total, label
 * values with only the three escapes, numbers that parse, no series twice, and histograms whose
 * buckets rise in le and in count and end with +Inf equal to _count, with _sum and _count.
 */
#ifndef ANPR_PROMTEXT_H
#define ANPR_PROMTEXT_H

#include <stddef.h>

/* 0 when text is valid; else -1 with "line N: problem" in err. */
int promtext_check(const char *text, char *err, size_t errlen);

/* The value of the sample whose name and labels are exactly `series` (e.g.
 * "anprd_rejects_total{reason=\"time\"}"); 0, or -1 when there is none. */
int promtext_value(const char *text, const char *series, double *value);

#endif
