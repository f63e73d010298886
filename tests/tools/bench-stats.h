/* bench-stats.h — summary statistics of timing samples for the benchmark
 * client (onshi-pcsc-bench).
 *
 * Contract: pure functions, no I/O, no allocation.  bench_stats_compute()
 * sorts the caller's array in place.  Percentiles use the nearest-rank
 * definition (the smallest sample with at least p % of the samples at or
 * below it), so p99 of 20 samples is the largest one: benchmark tables must
 * say how many samples a p99 rests on.  The median of an even count is the
 * mean of the two middle samples.
 */
#ifndef ONSHI_BENCH_STATS_H
#define ONSHI_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

struct bench_stats {
	size_t count;
	uint64_t min_ns, max_ns, median_ns, p99_ns;
	double mean_ns;
};

/* Sample at nearest-rank percentile p (0 < p <= 100) of a sorted array of
 * n > 0 samples; 0 for n == 0 or p outside (0, 100]. */
uint64_t bench_percentile_sorted(const uint64_t *sorted, size_t n, double p);

/* Sorts samples[0..n) and fills *out.  Returns 0, or -1 (and a zeroed *out)
 * when n == 0. */
int bench_stats_compute(uint64_t *samples, size_t n, struct bench_stats *out);

/* The emulator's USB/firmware counters (control reply to `stats`). */
struct bench_counters {
	uint64_t bulk_out, bulk_in, intr_in, control, apdus, time_extensions;
};

/* Parses "ok bulk_out=N bulk_in=N intr_in=N control=N apdus=N
 * time_extensions=N" (keys in any order, unknown keys ignored).  Returns 0
 * when the reply starts with "ok" and every one of the six counters is
 * present exactly once as a decimal number, else -1. */
int bench_parse_counters(const char *reply, struct bench_counters *out);

#endif
