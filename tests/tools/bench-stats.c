/* bench-stats.c — see bench-stats.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/bench-stats.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

uint64_t bench_percentile_sorted(const uint64_t *sorted, size_t n, double p)
{
	if (n == 0 || !(p > 0.0) || p > 100.0)
		return 0;
	/* Nearest rank: ceil(p/100 * n), 1-based.  The epsilon keeps 99 % of
	 * 100 samples at rank 99 despite binary rounding of 0.99 * 100. */
	double rank = ceil(p / 100.0 * (double)n - 1e-9);
	size_t idx = rank < 1.0 ? 0 : (size_t)rank - 1;
	if (idx >= n)
		idx = n - 1;
	return sorted[idx];
}

int bench_stats_compute(uint64_t *samples, size_t n, struct bench_stats *out)
{
	memset(out, 0, sizeof *out);
	if (n == 0)
		return -1;
	qsort(samples, n, sizeof *samples, cmp_u64);
	double sum = 0.0;
	for (size_t i = 0; i < n; i++)
		sum += (double)samples[i];
	out->count = n;
	out->min_ns = samples[0];
	out->max_ns = samples[n - 1];
	out->median_ns = n % 2 ? samples[n / 2]
			       : samples[n / 2 - 1] / 2 + samples[n / 2] / 2 +
				 (samples[n / 2 - 1] % 2 + samples[n / 2] % 2) / 2;
	out->p99_ns = bench_percentile_sorted(samples, n, 99.0);
	out->mean_ns = sum / (double)n;
	return 0;
}

int bench_parse_counters(const char *reply, struct bench_counters *out)
{
	static const char *const keys[] = {
		"bulk_out", "bulk_in", "intr_in", "control", "apdus", "time_extensions",
	};
	uint64_t *fields[] = {
		&out->bulk_out, &out->bulk_in, &out->intr_in, &out->control, &out->apdus,
		&out->time_extensions,
	};
	unsigned seen = 0;
	memset(out, 0, sizeof *out);
	if (strncmp(reply, "ok", 2) != 0 || (reply[2] != '\0' && reply[2] != ' '))
		return -1;
	const char *p = reply + 2;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n' || *p == '\r')
			break;
		const char *eq = strchr(p, '=');
		const char *end = p + strcspn(p, " \r\n");
		if (!eq || eq > end) {
			p = end;
			continue;
		}
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			size_t klen = strlen(keys[i]);
			if ((size_t)(eq - p) != klen || strncmp(p, keys[i], klen) != 0)
				continue;
			if (seen & (1u << i) || eq[1] < '0' || eq[1] > '9')
				return -1;
			char *num_end;
			errno = 0;
			unsigned long long v = strtoull(eq + 1, &num_end, 10);
			if (errno || num_end != end)
				return -1;
			*fields[i] = v;
			seen |= 1u << i;
		}
		p = end;
	}
	return seen == (1u << (sizeof keys / sizeof keys[0])) - 1 ? 0 : -1;
}
